package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Record is what the Injector did for one action.
type Record struct {
	Action  Action
	Fault   string  // the fault's Name at the time
	Bracket Bracket // when the call was sent and when it returned
	Err     error   // nil on success
	// Cleanup marks reverts made by RevertAll rather than by the plan.
	Cleanup bool
}

// Injector executes fault actions, records a Bracket for each and tracks
// which faults are in effect, so that RevertAll can undo whatever is left
// however a drill ends. It is safe for concurrent use.
//
// Typical use in an engine:
//
//	inj := faults.NewInjector()
//	t.Cleanup(func() { _ = inj.RevertAll(context.Background()) }) // before anything is injected
//	if err := faults.Validate(schedule); err != nil { ... }
//	err := inj.Play(ctx, schedule, time.Now(), onRecord)
type Injector struct {
	now func() time.Time

	mu      sync.Mutex
	active  []Fault
	records []Record
}

// NewInjector returns an Injector with nothing in effect.
func NewInjector() *Injector { return &Injector{now: time.Now} }

// Do executes one action. An inject is refused, before anything is sent,
// if the fault fails its Validate. If Inject fails, the fault is reverted
// at once to roll back a partial injection; if that fails too, the fault
// stays tracked so RevertAll tries again. A fault that is reverted leaves
// the set in effect; one whose revert fails stays in it.
func (in *Injector) Do(ctx context.Context, a Action) Record {
	r := Record{Action: a, Fault: faultName(a.Fault)}
	if isNil(a.Fault) {
		r.Err = fmt.Errorf("%v: %w", a, ErrNilFault)
		return in.log(r)
	}
	if a.Revert {
		r.Bracket.Sent = in.now()
		r.Err = a.Fault.Revert(ctx)
		r.Bracket.Acked = in.now()
		if r.Err == nil {
			in.forget(a.Fault)
		}
		return in.log(r)
	}
	if v, ok := a.Fault.(Validator); ok {
		if err := v.Validate(); err != nil {
			r.Err = err
			return in.log(r)
		}
	}
	in.track(a.Fault) // tracked before the call: a panic mid-inject is still reverted
	r.Bracket.Sent = in.now()
	r.Err = a.Fault.Inject(ctx)
	r.Bracket.Acked = in.now()
	if r.Err != nil {
		if rerr := a.Fault.Revert(context.WithoutCancel(ctx)); rerr != nil {
			r.Err = errors.Join(r.Err, fmt.Errorf("roll back %s: %w", r.Fault, rerr))
		} else {
			in.forget(a.Fault)
		}
	}
	return in.log(r)
}

// Inject is Do for an inject action at offset 0.
func (in *Injector) Inject(ctx context.Context, f Fault) (Bracket, error) {
	r := in.Do(ctx, Action{Fault: f})
	return r.Bracket, r.Err
}

// Revert is Do for a revert action at offset 0.
func (in *Injector) Revert(ctx context.Context, f Fault) (Bracket, error) {
	r := in.Do(ctx, Action{Fault: f, Revert: true})
	return r.Bracket, r.Err
}

// Active returns the faults in effect, in the order they were injected.
func (in *Injector) Active() []Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.active)
}

// Records returns every record so far, in order.
func (in *Injector) Records() []Record {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.records)
}

// RevertAll reverts every fault in effect, the last injected first, and
// returns the errors joined. It is idempotent: faults reverted are
// forgotten, faults that failed to revert are kept for the next call. A
// target that has died is not an error (each fault's Revert ensures that).
func (in *Injector) RevertAll(ctx context.Context) error {
	active := in.Active()
	var errs []error
	for i := len(active) - 1; i >= 0; i-- {
		f := active[i]
		r := Record{Action: Action{Fault: f, Revert: true}, Fault: f.Name(), Cleanup: true}
		r.Bracket.Sent = in.now()
		r.Err = f.Revert(ctx)
		r.Bracket.Acked = in.now()
		if r.Err == nil {
			in.forget(f)
		} else {
			errs = append(errs, r.Err)
		}
		in.log(r)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("revert all faults: %w", err)
	}
	return nil
}

// Play executes s in real time: each action at start+At. It validates the
// whole schedule first (nothing is injected if it is invalid), calls
// onRecord (may be nil) after each action, and stops at the first failed
// action or when ctx is done, returning the error. Faults still in effect
// when it returns (held ones, or after an error) are left to RevertAll.
func (in *Injector) Play(ctx context.Context, s Schedule, start time.Time, onRecord func(Record)) error {
	if err := Validate(s); err != nil {
		return err
	}
	for _, a := range s.Plan() {
		if wait := time.Until(start.Add(a.At)); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
		}
		r := in.Do(ctx, a)
		if onRecord != nil {
			onRecord(r)
		}
		if r.Err != nil {
			return fmt.Errorf("%v: %w", a, r.Err)
		}
	}
	return nil
}

func (in *Injector) log(r Record) Record {
	in.mu.Lock()
	in.records = append(in.records, r)
	in.mu.Unlock()
	return r
}

func (in *Injector) track(f Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !slices.ContainsFunc(in.active, func(g Fault) bool { return sameFault(f, g) }) {
		in.active = append(in.active, f)
	}
}

func (in *Injector) forget(f Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.active = slices.DeleteFunc(in.active, func(g Fault) bool { return sameFault(f, g) })
}

// sameFault compares fault values without panicking on uncomparable types.
func sameFault(a, b Fault) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
