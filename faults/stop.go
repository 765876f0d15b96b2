package faults

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// StopFault stops a container gracefully: SIGTERM, then SIGKILL after a
// timeout. Revert starts it again and waits until it is ready. As with
// Kill, the inject is refused for a container with tmpfs mounts (emptied
// by that start) unless AllowEmptyTmpfs was asked for.
type StopFault struct {
	c          ContainerTarget
	timeout    time.Duration
	emptyTmpfs bool

	mu      sync.Mutex
	stopped bool
}

var _ Fault = (*StopFault)(nil)
var _ Validator = (*StopFault)(nil)

// Stop stops c, giving it timeout to exit after SIGTERM.
func Stop(c ContainerTarget, timeout time.Duration) *StopFault {
	return &StopFault{c: c, timeout: timeout}
}

// AllowEmptyTmpfs is f with a Revert that starts the container again even
// though its tmpfs mounts come back empty (a new fault: f is unchanged).
func (f *StopFault) AllowEmptyTmpfs() *StopFault {
	return &StopFault{c: f.c, timeout: f.timeout, emptyTmpfs: true}
}

// prepare refuses the revert's start on a container with tmpfs mounts.
func (f *StopFault) prepare(ctx context.Context) error {
	if f.emptyTmpfs {
		return nil
	}
	return checkRestartKeepsData(ctx, f.c, ".AllowEmptyTmpfs()")
}

// Name is "stop(<container>, <timeout>)".
func (f *StopFault) Name() string { return "stop(" + nameOf(f.c) + ", " + f.timeout.String() + ")" }

// Validate checks the target and timeout (whole seconds for Docker, > 0).
func (f *StopFault) Validate() error {
	if err := validContainer("stop", f.c); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return fmt.Errorf("stop %s: %w: timeout %v", nameOf(f.c), ErrDuration, f.timeout)
	}
	return nil
}

// Inject stops the container.
func (f *StopFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true // a failed stop may still have stopped it: revert checks
	if err := f.c.Stop(ctx, f.timeout); err != nil {
		err = fmt.Errorf("inject %s: %w", f.Name(), err)
		if rerr := ensureRunning(context.WithoutCancel(ctx), f.c); rerr == nil {
			f.stopped = false
		}
		return err
	}
	return nil
}

// Revert starts the container and waits until it is ready.
func (f *StopFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		return nil
	}
	if err := ensureRunning(ctx, f.c); err != nil {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.stopped = false
	return nil
}
