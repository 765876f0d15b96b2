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
	// Onset is the interval known to contain the instant the fault took effect.
	// It is the call's Bracket unless the fault narrowed it from the target's own record.
	Onset Bracket
	// OnsetSource says where Onset came from, e.g. "inject call", "docker events kill..die".
	OnsetSource string
	Err         error // nil on success
	// Cleanup marks reverts made by RevertAll rather than by the plan.
	Cleanup bool
}

// Onset sources of a Record that the Injector itself sets.
const (
	OnsetInjectCall = "inject call"
	OnsetRevertCall = "revert call"
)

// OnsetTimeout bounds an Onsetter's read of the target's record.
const OnsetTimeout = 2 * time.Second

// Injector executes fault actions, records a Bracket for each (and, for an
// inject, the Onset: narrowed by an Onsetter from the target's own record)
// and tracks which faults are in effect, so that RevertAll can undo whatever
// is left however a drill ends. A fault whose revert fails is not retried
// blindly: it is reported once and listed by Failed. It is safe for
// concurrent use.
//
// Typical use in an engine:
//
//	inj := faults.NewInjector()
//	t.Cleanup(func() { _ = inj.RevertAll(context.Background()) }) // before anything is injected
//	if err := faults.Validate(schedule); err != nil { ... }
//	err := inj.Play(ctx, schedule, time.Now(), onRecord)
type Injector struct {
	now func() time.Time

	revertMu sync.Mutex // one RevertAll at a time

	mu      sync.Mutex
	active  []Fault
	failed  []failedFault
	records []Record
}

type failedFault struct {
	fault Fault
	err   RevertError
}

// NewInjector returns an Injector with nothing in effect.
func NewInjector() *Injector { return &Injector{now: time.Now} }

// Do executes one action. An inject is refused, before anything is sent,
// if the fault fails its Validate. If Inject fails, the fault is reverted
// at once to roll back a partial injection. A fault that is reverted leaves
// the set in effect; one whose revert (or roll back) fails moves to the
// failed set (see Failed), unless its context was done first: then it
// stays in effect for RevertAll. A revert action is always attempted, even
// for a failed fault (a deliberate retry); success takes it off the list.
//
// A successful inject's Onset is its Bracket, or, for an Onsetter, the
// Onsetter's answer intersected with the Bracket.
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
		r.Onset, r.OnsetSource = r.Bracket, OnsetRevertCall
		_, _ = in.settle(ctx, a.Fault, r.Err) // r.Err is the record's; Failed lists a failure
		return in.log(r)
	}
	if v, ok := a.Fault.(Validator); ok {
		if err := v.Validate(); err != nil {
			r.Err = err
			return in.log(r)
		}
	}
	if err := in.prepare(ctx, a.Fault); err != nil {
		r.Fault = faultName(a.Fault)
		r.Err = fmt.Errorf("inject %s: %w", r.Fault, err)
		return in.log(r)
	}
	r.Fault = faultName(a.Fault) // with its chosen target
	in.track(a.Fault)            // tracked before the call: a panic mid-inject is still reverted
	r.Bracket.Sent = in.now()
	r.Err = a.Fault.Inject(ctx)
	r.Bracket.Acked = in.now()
	r.Onset, r.OnsetSource = r.Bracket, OnsetInjectCall
	if r.Err != nil {
		rctx := context.WithoutCancel(ctx)
		rerr := a.Fault.Revert(rctx)
		if rerr != nil {
			r.Err = errors.Join(r.Err, fmt.Errorf("roll back %s: %w", r.Fault, rerr))
		}
		_, _ = in.settle(rctx, a.Fault, rerr) // rerr is in r.Err; Failed lists a failure
		return in.log(r)
	}
	if o, ok := a.Fault.(Onsetter); ok {
		r.Onset, r.OnsetSource = narrowOnset(ctx, o, r.Bracket)
	}
	return in.log(r)
}

// narrowOnset asks o when it took effect and keeps the answer within call.
func narrowOnset(ctx context.Context, o Onsetter, call Bracket) (Bracket, string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), OnsetTimeout)
	defer cancel()
	b, src, err := o.Onset(ctx, call)
	if err != nil {
		return call, fmt.Sprintf("%s (onset from the target: %v)", OnsetInjectCall, err)
	}
	out := Bracket{Sent: latest(call.Sent, b.Sent), Acked: earliest(call.Acked, b.Acked)}
	if b.Sent.IsZero() {
		out.Sent = call.Sent
	}
	if b.Acked.IsZero() {
		out.Acked = call.Acked
	}
	if out.Acked.Before(out.Sent) {
		return call, fmt.Sprintf("%s (%s is outside the call: %v..%v)", OnsetInjectCall, src,
			b.Sent.Sub(call.Sent), b.Acked.Sub(call.Sent))
	}
	return out, src
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
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
// returns the errors of this call joined (each a RevertError). A fault is
// reverted until it fails: reverted ones are forgotten, and one whose
// revert fails moves to the failed set, which later calls neither retry nor
// report again (Failed lists them). A revert cut short by ctx stays in
// effect for the next call. Calls are serialized. A target that has died is
// not an error (each fault's Revert ensures that).
func (in *Injector) RevertAll(ctx context.Context) error {
	in.revertMu.Lock()
	defer in.revertMu.Unlock()
	active := in.Active()
	var errs []error
	for i := len(active) - 1; i >= 0; i-- {
		f := active[i]
		r := Record{Action: Action{Fault: f, Revert: true}, Fault: f.Name(), Cleanup: true}
		r.Bracket.Sent = in.now()
		r.Err = f.Revert(ctx)
		r.Bracket.Acked = in.now()
		r.Onset, r.OnsetSource = r.Bracket, OnsetRevertCall
		if re, failed := in.settle(ctx, f, r.Err); failed {
			errs = append(errs, re)
		} else if r.Err != nil {
			errs = append(errs, fmt.Errorf("revert %s: %w", r.Fault, r.Err))
		}
		in.log(r)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("revert all faults: %w", err)
	}
	return nil
}

// Failed returns each fault whose revert failed and that has not been
// reverted since, once, in the order they failed.
func (in *Injector) Failed() []RevertError {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]RevertError, len(in.failed))
	for i, f := range in.failed {
		out[i] = f.err
	}
	return out
}

// settle files f after a revert that returned err: reverted (forgotten),
// cut short by ctx (kept in effect), or failed (moved to the failed set,
// returned as a RevertError with failed true).
func (in *Injector) settle(ctx context.Context, f Fault, err error) (re RevertError, failed bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	same := func(g Fault) bool { return sameFault(f, g) }
	if err == nil {
		in.active = slices.DeleteFunc(in.active, same)
		in.failed = slices.DeleteFunc(in.failed, func(x failedFault) bool { return sameFault(f, x.fault) })
		return RevertError{}, false
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return RevertError{}, false // not a verdict on the fault: try again
	}
	re = newRevertError(f, err)
	in.active = slices.DeleteFunc(in.active, same)
	in.failed = slices.DeleteFunc(in.failed, func(x failedFault) bool { return sameFault(f, x.fault) })
	in.failed = append(in.failed, failedFault{fault: f, err: re})
	return re, true
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

// prepare runs before an inject's bracket opens: it chooses the targets of
// a fault not in effect already (a fault in effect keeps the target its
// revert must act on), then runs the fault's own pre-inject checks.
// Nothing is injected when it fails.
func (in *Injector) prepare(ctx context.Context, f Fault) error {
	in.mu.Lock()
	active := slices.ContainsFunc(in.active, func(g Fault) bool { return sameFault(f, g) })
	in.mu.Unlock()
	if !active {
		if err := resolve(ctx, f); err != nil {
			return err
		}
	}
	if p, ok := f.(preparer); ok {
		return p.prepare(ctx)
	}
	return nil
}

func (in *Injector) track(f Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !slices.ContainsFunc(in.active, func(g Fault) bool { return sameFault(f, g) }) {
		in.active = append(in.active, f)
	}
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
