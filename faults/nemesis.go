package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// NemesisSchedule is a seeded random schedule, like Jepsen's nemesis: over a
// window it picks faults (kinds and targets) at random from a pool, holds
// each for a random time and waits a random gap before the next. One fault
// is in effect at a time. The same seed and the same settings give the same
// plan: print Seed (or String) and pass it back to replay a run.
type NemesisSchedule struct {
	seed             uint64
	pool             []Fault
	window           time.Duration
	minHold, maxHold time.Duration
	minGap, maxGap   time.Duration
}

var _ Schedule = (*NemesisSchedule)(nil)
var _ Validator = (*NemesisSchedule)(nil)
var _ Seeded = (*NemesisSchedule)(nil)

// Nemesis builds a random schedule over pool. A seed of 0 picks one at
// random (Seed tells which). Defaults: a 30 s window, each fault held
// 1–5 s, gaps of 1–3 s.
func Nemesis(seed uint64, pool ...Fault) *NemesisSchedule {
	if seed == 0 {
		seed = rand.Uint64() | 1
	}
	return &NemesisSchedule{
		seed: seed, pool: pool,
		window:  30 * time.Second,
		minHold: time.Second, maxHold: 5 * time.Second,
		minGap: time.Second, maxGap: 3 * time.Second,
	}
}

// Window is n acting for d; no fault is in effect after it. Like Hold and
// Gap it returns a new schedule and leaves n as it was.
func (n *NemesisSchedule) Window(d time.Duration) *NemesisSchedule {
	c := *n
	c.window = d
	return &c
}

// Hold is n with each fault staying in effect between min and max.
func (n *NemesisSchedule) Hold(min, max time.Duration) *NemesisSchedule {
	c := *n
	c.minHold, c.maxHold = min, max
	return &c
}

// Gap is n with a pause between min and max before each fault.
func (n *NemesisSchedule) Gap(min, max time.Duration) *NemesisSchedule {
	c := *n
	c.minGap, c.maxGap = min, max
	return &c
}

// Seed is the seed that replays this plan.
func (n *NemesisSchedule) Seed() uint64 { return n.seed }

// String is e.g. "nemesis(seed=42, 3 faults, window 30s, hold 1s-5s, gap 1s-3s)".
func (n *NemesisSchedule) String() string {
	return fmt.Sprintf("nemesis(seed=%d, %d faults, window %v, hold %v-%v, gap %v-%v)",
		n.seed, len(n.pool), n.window, n.minHold, n.maxHold, n.minGap, n.maxGap)
}

// Validate checks the pool and the timings.
func (n *NemesisSchedule) Validate() error {
	var errs []error
	if len(n.pool) == 0 {
		errs = append(errs, fmt.Errorf("%w: empty fault pool", ErrInvalid))
	}
	for i, f := range n.pool {
		if isNil(f) {
			errs = append(errs, fmt.Errorf("pool[%d]: %w", i, ErrNilFault))
		}
	}
	if n.window <= 0 {
		errs = append(errs, fmt.Errorf("%w: window %v", ErrDuration, n.window))
	}
	if n.minHold <= 0 || n.maxHold < n.minHold {
		errs = append(errs, fmt.Errorf("%w: hold %v-%v (want 0 < min ≤ max)", ErrDuration, n.minHold, n.maxHold))
	}
	if n.minGap < 0 || n.maxGap < n.minGap {
		errs = append(errs, fmt.Errorf("%w: gap %v-%v (want 0 ≤ min ≤ max)", ErrDuration, n.minGap, n.maxGap))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	return nil
}

// Plan draws the plan from the seed. It is empty when the settings are
// invalid (see Validate).
func (n *NemesisSchedule) Plan() []Action {
	if n.Validate() != nil {
		return nil
	}
	rng := rand.New(rand.NewPCG(n.seed, 0x6e656d65736973)) // "nemesis"
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	var plan []Action
	t := between(n.minGap, n.maxGap)
	for t+n.minHold <= n.window {
		f := n.pool[rng.IntN(len(n.pool))]
		hold := min(between(n.minHold, n.maxHold), n.window-t)
		plan = append(plan, Action{At: t, Fault: f}, Action{At: t + hold, Fault: f, Revert: true})
		t += hold + between(n.minGap, n.maxGap)
	}
	return sortPlan(plan)
}

// Each builds every kind of fault on every target: the cross product, as a
// Nemesis pool. For example
//
//	pool := faults.Each([]faults.ContainerTarget{loader, collector},
//		func(c faults.ContainerTarget) faults.Fault { return faults.Kill(c, "SIGKILL") },
//		func(c faults.ContainerTarget) faults.Fault { return faults.Pause(c) })
func Each[T any](targets []T, kinds ...func(T) Fault) []Fault {
	out := make([]Fault, 0, len(targets)*len(kinds))
	for _, k := range kinds {
		for _, t := range targets {
			out = append(out, k(t))
		}
	}
	return out
}
