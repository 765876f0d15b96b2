package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// AllFault injects several faults as one: in order, and if one fails, the
// ones already injected are reverted (in reverse order) before the error is
// returned. Revert reverts them all in reverse order.
type AllFault struct {
	faults []Fault

	mu sync.Mutex
	in int // how many are in effect (a prefix of faults)
}

var _ Fault = (*AllFault)(nil)
var _ Validator = (*AllFault)(nil)
var _ Lasting = (*AllFault)(nil)

// All groups faults into one fault.
func All(faults ...Fault) *AllFault { return &AllFault{faults: faults} }

// Lasts is the longest Lasts of its members (zero if none is Lasting).
func (f *AllFault) Lasts() time.Duration {
	var d time.Duration
	for _, x := range f.faults {
		if l, ok := x.(Lasting); ok && !isNil(x) {
			d = max(d, l.Lasts())
		}
	}
	return d
}

// Name is "all(<name>, <name>...)".
func (f *AllFault) Name() string {
	names := make([]string, len(f.faults))
	for i, x := range f.faults {
		if isNil(x) {
			names[i] = "<nil>"
			continue
		}
		names[i] = x.Name()
	}
	return "all(" + strings.Join(names, ", ") + ")"
}

// Validate validates every member.
func (f *AllFault) Validate() error {
	if len(f.faults) == 0 {
		return fmt.Errorf("all: %w: no faults", ErrInvalid)
	}
	var errs []error
	for i, x := range f.faults {
		if isNil(x) {
			errs = append(errs, fmt.Errorf("all: fault %d: %w", i, ErrNilFault))
			continue
		}
		if v, ok := x.(Validator); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Inject injects each member in order, rolling back on failure.
func (f *AllFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.in < len(f.faults) {
		x := f.faults[f.in]
		if err := x.Inject(ctx); err != nil {
			err = fmt.Errorf("inject %s: %w", f.Name(), err)
			// The member may have left part of itself in effect.
			rctx := context.WithoutCancel(ctx)
			rerr := x.Revert(rctx)
			if rerr == nil {
				rerr = f.revertLocked(rctx)
			}
			if rerr != nil {
				return errors.Join(err, fmt.Errorf("roll back: %w", rerr))
			}
			return err
		}
		f.in++
	}
	return nil
}

// Revert reverts every member in effect, in reverse order.
func (f *AllFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.revertLocked(ctx); err != nil {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	return nil
}

// revertLocked reverts members [0, in) last first; those that fail stay
// counted as in effect, so a second Revert retries them.
func (f *AllFault) revertLocked(ctx context.Context) error {
	var errs []error
	failed := -1
	for i := f.in - 1; i >= 0; i-- {
		if err := f.faults[i].Revert(ctx); err != nil {
			errs = append(errs, err)
			if failed < 0 {
				failed = i
			}
		}
	}
	f.in = failed + 1
	return errors.Join(errs...)
}
