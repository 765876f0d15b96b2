package faults

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RestartFault restarts a container (stop with a timeout, then start). It
// is a one-shot fault: Revert only makes sure the container runs again if
// the restart left it stopped.
type RestartFault struct {
	c       ContainerTarget
	timeout time.Duration

	mu   sync.Mutex
	done bool
}

var _ Fault = (*RestartFault)(nil)
var _ Validator = (*RestartFault)(nil)

// Restart restarts c, giving it timeout to exit after SIGTERM.
func Restart(c ContainerTarget, timeout time.Duration) *RestartFault {
	return &RestartFault{c: c, timeout: timeout}
}

// Name is "restart(<container>, <timeout>)".
func (f *RestartFault) Name() string {
	return "restart(" + nameOf(f.c) + ", " + f.timeout.String() + ")"
}

// Validate checks the target and timeout.
func (f *RestartFault) Validate() error {
	if err := validContainer("restart", f.c); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return fmt.Errorf("restart %s: %w: timeout %v", nameOf(f.c), ErrDuration, f.timeout)
	}
	return nil
}

// Inject restarts the container.
func (f *RestartFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = true
	if err := f.c.Restart(ctx, f.timeout); err != nil {
		err = fmt.Errorf("inject %s: %w", f.Name(), err)
		if rerr := ensureRunning(context.WithoutCancel(ctx), f.c); rerr == nil {
			f.done = false
		}
		return err
	}
	return nil
}

// Revert starts the container if the restart left it stopped.
func (f *RestartFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		return nil
	}
	if err := ensureRunning(ctx, f.c); err != nil {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.done = false
	return nil
}
