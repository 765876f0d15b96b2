package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// PauseFault freezes every process of a container (cgroup freezer): the
// container holds its connections but answers nothing. Revert unpauses it.
type PauseFault struct {
	c ContainerTarget

	mu     sync.Mutex
	paused bool
}

var _ Fault = (*PauseFault)(nil)
var _ Validator = (*PauseFault)(nil)

// Pause freezes c.
func Pause(c ContainerTarget) *PauseFault { return &PauseFault{c: c} }

// Name is "pause(<container>)".
func (f *PauseFault) Name() string { return "pause(" + nameOf(f.c) + ")" }

// Validate checks the target.
func (f *PauseFault) Validate() error { return validContainer("pause", f.c) }

// Inject pauses the container.
func (f *PauseFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused {
		return nil
	}
	if err := f.c.Pause(ctx); err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.paused = true
	return nil
}

// Revert unpauses the container. A container that is not paused any more,
// or is gone, is not an error.
func (f *PauseFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.paused {
		return nil
	}
	if err := f.c.Unpause(ctx); err != nil && !IsNotFound(err) {
		st, serr := f.c.State(ctx)
		switch {
		case IsNotFound(serr), serr == nil && !st.Paused:
			// Gone, or not paused any more: nothing to revert.
		case serr != nil:
			return fmt.Errorf("revert %s: %w", f.Name(), errors.Join(err, serr))
		default:
			return fmt.Errorf("revert %s: %w (state %s, paused %v)", f.Name(), err, st.Status, st.Paused)
		}
	}
	f.paused = false
	return nil
}
