package faults

import (
	"context"
	"fmt"
)

// validContainer checks a container target.
func validContainer(kind string, c any) error {
	if isNil(c) {
		return fmt.Errorf("%s: %w: container is nil", kind, ErrNoTarget)
	}
	return nil
}

// ensureRunning starts c again and waits until it is ready, unless it is
// running already or has been removed (nothing to revert then).
func ensureRunning(ctx context.Context, c ContainerTarget) error {
	st, err := c.State(ctx)
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("read state: %w", err)
	}
	if st.Paused {
		if err := c.Unpause(ctx); err != nil && !IsNotFound(err) {
			return fmt.Errorf("unpause: %w", err)
		}
	}
	if !st.Running {
		if err := c.Start(ctx); err != nil {
			if IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("start: %w", err)
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		return fmt.Errorf("wait ready: %w", err)
	}
	return nil
}
