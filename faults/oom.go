package faults

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// OOMTarget is a container whose memory can be limited and that can be
// started again after the kernel killed it.
type OOMTarget interface {
	ContainerTarget
	Update(ctx context.Context, r Resources) error
}

// OOMFault sets a memory limit low enough that the container's process is
// killed by the kernel's OOM killer as soon as it allocates past it. Revert
// restores the limit and, if the container was killed, starts it again
// and waits until it is ready.
type OOMFault struct {
	mem *MemoryFault
	c   OOMTarget

	mu sync.Mutex
	in bool
}

var _ Fault = (*OOMFault)(nil)
var _ Validator = (*OOMFault)(nil)

// OOM limits c to limit bytes (at least MinMemory) with no swap.
func OOM(c OOMTarget, limit int64) *OOMFault {
	return &OOMFault{mem: Memory(c, limit), c: c}
}

// Name is "oom(<container>, <limit>)".
func (f *OOMFault) Name() string { return fmt.Sprintf("oom(%s, %s)", nameOf(f.c), mib(f.mem.bytes)) }

// Validate checks the target and the limit.
func (f *OOMFault) Validate() error { return f.mem.Validate() }

// Inject sets the limit.
func (f *OOMFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.mem.Inject(ctx); err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.in = true
	return nil
}

// Wait polls until the container has been OOM-killed, or ctx is done.
func (f *OOMFault) Wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := f.c.State(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", f.Name(), err)
		}
		if st.OOMKilled {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: not OOM-killed (status %s): %w", f.Name(), st.Status, ctx.Err())
		case <-t.C:
		}
	}
}

// Revert restores the limit, then starts the container again if it died.
func (f *OOMFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.in {
		return nil
	}
	if err := f.mem.Revert(ctx); err != nil {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	if err := ensureRunning(ctx, f.c); err != nil {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.in = false
	return nil
}
