package faults

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// CPUFault caps a container's CPU (a CFS quota, through Docker's update
// API). Revert restores the quota in place before (read through
// ResourceReader when the target offers it; otherwise taken as unlimited,
// which Docker can only express as all the host's CPUs).
type CPUFault struct {
	c    ResourceTarget
	cpus float64

	mu   sync.Mutex
	prev *Resources
}

var _ Fault = (*CPUFault)(nil)
var _ Validator = (*CPUFault)(nil)

// CPU limits c to cpus CPUs (e.g. 0.1 for a tenth of one core).
func CPU(c ResourceTarget, cpus float64) *CPUFault { return &CPUFault{c: c, cpus: cpus} }

// Name is "cpu(<container>, <cpus>)".
func (f *CPUFault) Name() string { return fmt.Sprintf("cpu(%s, %g)", nameOf(f.c), f.cpus) }

// Validate checks the target and the quota (Docker accepts 0.01 and up).
func (f *CPUFault) Validate() error {
	if err := validContainer("cpu", f.c); err != nil {
		return err
	}
	if f.cpus < 0.01 {
		return fmt.Errorf("cpu %s: %w: %g CPUs (Docker's minimum is 0.01)", nameOf(f.c), ErrInvalid, f.cpus)
	}
	return nil
}

// Inject records the current limits and sets the quota.
func (f *CPUFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.prev != nil {
		return nil
	}
	prev, err := currentResources(ctx, f.c)
	if err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	if err := f.c.Update(ctx, Resources{NanoCPUs: int64(f.cpus * 1e9)}); err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.prev = &prev
	return nil
}

// Revert restores the previous quota.
func (f *CPUFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.prev == nil {
		return nil
	}
	nano := f.prev.NanoCPUs
	if nano <= 0 {
		nano = unlimitedNanoCPUs()
	}
	if err := f.c.Update(ctx, Resources{NanoCPUs: nano}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.prev = nil
	return nil
}

// unlimitedNanoCPUs is the largest quota Docker accepts: every CPU of the
// host (the daemon is local).
var unlimitedNanoCPUs = func() int64 { return int64(runtime.NumCPU()) * 1e9 }

// currentResources reads the target's limits if it can tell them; zero
// values mean unlimited.
func currentResources(ctx context.Context, c any) (Resources, error) {
	if r, ok := c.(ResourceReader); ok {
		res, err := r.Resources(ctx)
		if err != nil {
			return Resources{}, fmt.Errorf("read limits: %w", err)
		}
		return res, nil
	}
	return Resources{}, nil
}
