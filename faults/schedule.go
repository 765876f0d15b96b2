package faults

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Action is one step of a fault plan: inject (or, with Revert, revert)
// Fault at offset At from the start of the fault phase.
type Action struct {
	At     time.Duration
	Fault  Fault
	Revert bool
}

// String is e.g. "+1.5s inject latency(a->b, downstream, 300ms)".
func (a Action) String() string {
	verb := "inject"
	if a.Revert {
		verb = "revert"
	}
	name := "<nil>"
	if !isNil(a.Fault) {
		name = a.Fault.Name()
	}
	return fmt.Sprintf("+%v %s %s", a.At, verb, name)
}

// Schedule is when faults are injected and reverted. Plan returns the
// actions sorted by offset (at equal offsets, reverts first). A fault that
// is injected and never reverted in the plan stays in effect until the
// drill ends (Injector.RevertAll).
type Schedule interface {
	Plan() []Action
}

// Seeded is implemented by schedules that are drawn at random from a seed:
// NemesisSchedule, and After, Sequence and Parallel of one (the first
// nemesis found). The same seed replays the same plan; an engine prints it.
type Seeded interface {
	Seed() uint64
}

// Lasting is implemented by faults whose effect goes on after Inject
// returns (CrashLoopFault keeps killing), for about Lasts after the inject
// unless reverted sooner.
type Lasting interface {
	Lasts() time.Duration
}

// LastActionAt is the offset of s's last action: its last inject or
// revert, or, for a Lasting fault, the end of its effect if that is later
// (and the fault is not reverted before). Zero for a nil or empty schedule.
func LastActionAt(s Schedule) time.Duration {
	if s == nil {
		return 0
	}
	plan := s.Plan()
	var last time.Duration
	for i, a := range plan {
		last = max(last, a.At)
		l, ok := a.Fault.(Lasting)
		if a.Revert || !ok || isNil(a.Fault) {
			continue
		}
		end := a.At + l.Lasts()
		for _, b := range plan[i+1:] {
			if b.Revert && sameFault(a.Fault, b.Fault) {
				end = min(end, b.At)
				break
			}
		}
		last = max(last, end)
	}
	return last
}

// seedOf is the seed of the first Seeded schedule among ss.
func seedOf(ss ...Schedule) (uint64, bool) {
	for _, s := range ss {
		if sd, ok := s.(Seeded); ok && !isNil(s) {
			return sd.Seed(), true
		}
	}
	return 0, false
}

// withSeed returns s, exposing seed as Seeded when ss hold a seeded one.
func withSeed(s *schedule, ss ...Schedule) Schedule {
	if seed, ok := seedOf(ss...); ok {
		return &seededSchedule{schedule: s, seed: seed}
	}
	return s
}

// seededSchedule is a composite holding a seeded schedule.
type seededSchedule struct {
	*schedule
	seed uint64
}

// Seed is the seed of the first seeded schedule it holds.
func (s *seededSchedule) Seed() uint64 { return s.seed }

// schedule is the Schedule the constructors return: a fixed plan, or the
// first error found while building it (reported by Validate).
type schedule struct {
	desc    string
	actions []Action
	err     error
}

func (s *schedule) Plan() []Action { return sortPlan(s.actions) }
func (s *schedule) String() string { return s.desc }

// Validate reports a bad duration or offset given to the constructor.
func (s *schedule) Validate() error { return s.err }

func sortPlan(actions []Action) []Action {
	out := slices.Clone(actions)
	slices.SortStableFunc(out, func(a, b Action) int {
		if a.At != b.At {
			if a.At < b.At {
				return -1
			}
			return 1
		}
		switch {
		case a.Revert && !b.Revert:
			return -1
		case !a.Revert && b.Revert:
			return 1
		}
		return 0
	})
	return out
}

func faultName(f Fault) string {
	if isNil(f) {
		return "<nil>"
	}
	return f.Name()
}

// At injects f at offset d; it stays in effect until the drill ends.
func At(d time.Duration, f Fault) Schedule {
	s := &schedule{desc: fmt.Sprintf("at(%v, %s)", d, faultName(f)), actions: []Action{{At: d, Fault: f}}}
	if d < 0 {
		s.err = fmt.Errorf("%s: %w: negative offset %v", s.desc, ErrDuration, d)
	}
	return s
}

// For injects f at offset at and reverts it at at+dur.
func For(at, dur time.Duration, f Fault) Schedule {
	s := &schedule{
		desc:    fmt.Sprintf("for(%v, %v, %s)", at, dur, faultName(f)),
		actions: []Action{{At: at, Fault: f}, {At: at + dur, Fault: f, Revert: true}},
	}
	switch {
	case at < 0:
		s.err = fmt.Errorf("%s: %w: negative offset %v", s.desc, ErrDuration, at)
	case dur <= 0:
		s.err = fmt.Errorf("%s: %w: duration %v", s.desc, ErrDuration, dur)
	}
	return s
}

// Every injects f n times, at 0, interval, 2·interval..., each time for dur
// (dur ≤ interval). Shift it with After.
func Every(interval, dur time.Duration, n int, f Fault) Schedule {
	s := &schedule{desc: fmt.Sprintf("every(%v, %v, %d, %s)", interval, dur, n, faultName(f))}
	switch {
	case interval <= 0:
		s.err = fmt.Errorf("%s: %w: interval %v", s.desc, ErrDuration, interval)
	case dur <= 0:
		s.err = fmt.Errorf("%s: %w: duration %v", s.desc, ErrDuration, dur)
	case dur > interval:
		s.err = fmt.Errorf("%s: %w: duration %v longer than the interval %v", s.desc, ErrInvalid, dur, interval)
	case n < 1:
		s.err = fmt.Errorf("%s: %w: %d repetitions (want ≥ 1)", s.desc, ErrInvalid, n)
	}
	for i := range max(n, 0) {
		at := time.Duration(i) * interval
		s.actions = append(s.actions, Action{At: at, Fault: f}, Action{At: at + dur, Fault: f, Revert: true})
	}
	return s
}

// After shifts a schedule by d.
func After(d time.Duration, s Schedule) Schedule {
	out := &schedule{desc: fmt.Sprintf("after(%v, %s)", d, describe(s)), err: validateOf(s)}
	if d < 0 && out.err == nil {
		out.err = fmt.Errorf("%s: %w: negative offset %v", out.desc, ErrDuration, d)
	}
	if s != nil {
		for _, a := range s.Plan() {
			a.At += d
			out.actions = append(out.actions, a)
		}
	}
	return withSeed(out, s)
}

// Sequence runs schedules one after the other: each starts where the
// previous one's last action is.
func Sequence(ss ...Schedule) Schedule {
	out := &schedule{desc: "sequence(" + describeAll(ss) + ")"}
	var off time.Duration
	var errs []error
	for _, s := range ss {
		if s == nil {
			errs = append(errs, fmt.Errorf("sequence: %w: nil schedule", ErrInvalid))
			continue
		}
		errs = append(errs, validateOf(s))
		plan := s.Plan()
		for _, a := range plan {
			a.At += off
			out.actions = append(out.actions, a)
		}
		if len(plan) > 0 {
			off = out.actions[len(out.actions)-1].At
		}
	}
	out.err = errors.Join(errs...)
	return withSeed(out, ss...)
}

// Parallel runs schedules at the same time, all from offset 0.
func Parallel(ss ...Schedule) Schedule {
	out := &schedule{desc: "parallel(" + describeAll(ss) + ")"}
	var errs []error
	for _, s := range ss {
		if s == nil {
			errs = append(errs, fmt.Errorf("parallel: %w: nil schedule", ErrInvalid))
			continue
		}
		errs = append(errs, validateOf(s))
		out.actions = append(out.actions, s.Plan()...)
	}
	out.err = errors.Join(errs...)
	return withSeed(out, ss...)
}

func describe(s Schedule) string {
	if s == nil {
		return "<nil>"
	}
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}

func describeAll(ss []Schedule) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = describe(s)
	}
	return strings.Join(parts, ", ")
}

func validateOf(s Schedule) error {
	if v, ok := s.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// Validate checks a schedule before anything is injected: the schedule's
// own parameters, every fault (nil, or its Validate), offsets, and that no
// fault is injected again while in effect or reverted when not injected.
func Validate(s Schedule) error {
	if s == nil {
		return fmt.Errorf("validate schedule: %w: nil schedule", ErrInvalid)
	}
	if err := validateOf(s); err != nil {
		return fmt.Errorf("validate schedule: %w", err)
	}
	var errs []error
	active := map[Fault]bool{}
	checked := map[Fault]bool{}
	for _, a := range s.Plan() {
		if isNil(a.Fault) {
			errs = append(errs, fmt.Errorf("%v: %w", a, ErrNilFault))
			continue
		}
		if a.At < 0 {
			errs = append(errs, fmt.Errorf("%v: %w: negative offset", a, ErrDuration))
		}
		comparable := reflect.TypeOf(a.Fault).Comparable()
		if !comparable || !checked[a.Fault] {
			if comparable {
				checked[a.Fault] = true
			}
			if v, ok := a.Fault.(Validator); ok {
				if err := v.Validate(); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if !comparable {
			continue
		}
		switch {
		case !a.Revert && active[a.Fault]:
			errs = append(errs, fmt.Errorf("%v: %w: %s is already in effect (overlapping schedules use one fault value twice)", a, ErrInvalid, a.Fault.Name()))
		case a.Revert && !active[a.Fault]:
			errs = append(errs, fmt.Errorf("%v: %w: %s is not in effect", a, ErrInvalid, a.Fault.Name()))
		}
		active[a.Fault] = !a.Revert
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate schedule: %w", err)
	}
	return nil
}
