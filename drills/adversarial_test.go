package drills

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
	"github.com/firedrill/firedrill/reports"
)

// The adversarial suite: broken systems and mis-declared drills, each with
// the exact verdict it must get. They run in-process (no Docker) on 10 ms
// buckets. Each case's comment says what a user was told before the trust
// work (issue 9) made the verdict honest.

// verdict is the drill's outcome in one line: "error: <cause>", "passed",
// or "missed: <names of the missed verdicts>".
func verdict(res *Result, err error) string {
	switch {
	case err != nil:
		return "error: " + err.Error()
	case res.Passed():
		return "passed"
	}
	var names []string
	for _, v := range res.Missed() {
		names = append(names, v.Name)
	}
	return "missed: " + strings.Join(names, ",")
}

// stickyFault breaks the service for good on its n-th inject (a system
// that does not recover from that fault); before that it is a switch.
type stickyFault struct {
	switchFault
	n, count atomic.Int32
	name     string
}

func (f *stickyFault) Name() string { return f.name }
func (f *stickyFault) Inject(ctx context.Context) error {
	if f.count.Add(1) >= f.n.Load() {
		f.broken.Store(true)
	}
	return f.switchFault.Inject(ctx)
}

func sticky(name string, n int32) *stickyFault {
	f := &stickyFault{name: name}
	f.n.Store(n)
	return f
}

// brokenService is the fake service of a sticky fault.
func brokenService(f *switchFault) *fakeService { return &fakeService{f: f} }

func quickLimits(d Drill) Drill {
	d.Limits.RecoverWithin = 600 * time.Millisecond
	d.Limits.ImpactWithin = 150 * time.Millisecond
	d.Limits.CatchUpWithin = 200 * time.Millisecond
	d.Limits.LostAfter = 200 * time.Millisecond
	return d
}

func TestAdversarialNeverRecovers(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	cases := []struct {
		name  string
		sched func(f *stickyFault) faults.Schedule
		n     int32
	}{
		// Before: passed with TTR≈100ms, the first episode's.
		{"sequence-2nd", func(f *stickyFault) faults.Schedule {
			return faults.Sequence(faults.For(20*ms, 60*ms, f), faults.After(150*ms, faults.At(0, f)))
		}, 2},
		// Before: passed with the first episode's TTR.
		{"sequence-3rd", func(f *stickyFault) faults.Schedule {
			return faults.Sequence(faults.For(20*ms, 60*ms, f), faults.After(150*ms, faults.For(0, 60*ms, f)), faults.After(150*ms, faults.For(0, 60*ms, f)))
		}, 3},
		// Before: passed; the last of three repetitions never recovered.
		{"every-last", func(f *stickyFault) faults.Schedule {
			return faults.After(20*ms, faults.Every(200*ms, 60*ms, 3, f))
		}, 3},
		// Before: passed on the first episode; the nemesis's later fault stuck.
		{"nemesis-later", func(f *stickyFault) faults.Schedule {
			return faults.Nemesis(7, f).Window(600*ms).Hold(40*ms, 60*ms).Gap(150*ms, 200*ms)
		}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := sticky("sticky", c.n)
			svc := brokenService(&f.switchFault)
			d := quickLimits(fastDrill(c.name, svc, c.sched(f)))
			d.Integrity = nil
			res, err := Execute(t.Context(), d)
			assert.Equal(t, "missed: restored", verdict(res, err), res.FormatTimeline())
			assert.GreaterOrEqual(t, len(res.Episodes), 2, res.FormatTimeline())
			assert.True(t, res.Episodes[len(res.Episodes)-1].Restored.IsZero())
		})
	}
}

// fakeContainer is a container target whose process a crash loop kills;
// after the breakAt-th kill it never serves again.
type fakeContainer struct {
	mu      sync.Mutex
	running bool
	kills   int
	breakAt int
	up      atomic.Bool
}

func (c *fakeContainer) Kill(context.Context, string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = false
	c.kills++
	c.up.Store(false)
	return nil
}
func (c *fakeContainer) Stop(ctx context.Context, _ time.Duration) error { return c.Kill(ctx, "") }
func (c *fakeContainer) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = true
	c.up.Store(c.kills < c.breakAt)
	return nil
}
func (c *fakeContainer) Restart(ctx context.Context, _ time.Duration) error { return c.Start(ctx) }
func (c *fakeContainer) Pause(context.Context) error                        { return nil }
func (c *fakeContainer) Unpause(context.Context) error                      { return nil }
func (c *fakeContainer) WaitReady(context.Context) error                    { return nil }
func (c *fakeContainer) State(context.Context) (faults.State, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return faults.State{Running: c.running, Status: map[bool]string{true: "running", false: "exited"}[c.running]}, nil
}

// Before: the crash loop's later kills happened after the drill had
// already declared the system restored.
func TestAdversarialCrashLoopNeverRecoversAfterLastKill(t *testing.T) {
	t.Parallel()
	c := &fakeContainer{running: true, breakAt: 3}
	c.up.Store(true)
	op := func(_ context.Context, seq uint64) (string, error) {
		if !c.up.Load() {
			return "", errors.New("connection refused")
		}
		return fmt.Sprint("ev-", seq), nil
	}
	d := quickLimits(fastDrill("crashloop", nil, faults.At(20*time.Millisecond, faults.CrashLoop(c, 3, 150*time.Millisecond))))
	d.Workload = load.New(load.Constant(1000), op, load.WithTimeout(200*time.Millisecond))
	d.Integrity = nil
	res, err := Execute(t.Context(), d)
	assert.Equal(t, "missed: restored", verdict(res, err), res.FormatTimeline())
	assert.False(t, res.Restored)
}

// flaky is a service that fails in a pattern decided by the time since
// the fault was injected (the fault only marks the onset).
type flaky struct {
	since atomic.Int64
	bad   func(d time.Duration) bool
}

func (f *flaky) op(_ context.Context, seq uint64) (string, error) {
	if s := f.since.Load(); s != 0 && f.bad(time.Since(time.Unix(0, s))) {
		return "", errors.New("503")
	}
	return fmt.Sprint("ev-", seq), nil
}

type markFault struct{ f *flaky }

func (m markFault) Name() string { return "mark" }
func (m markFault) Inject(context.Context) error {
	m.f.since.CompareAndSwap(0, time.Now().UnixNano())
	return nil
}
func (m markFault) Revert(context.Context) error { return nil }

func flakyDrill(name string, bad func(time.Duration) bool) Drill {
	f := &flaky{bad: bad}
	d := quickLimits(fastDrill(name, nil, faults.For(20*time.Millisecond, 50*time.Millisecond, markFault{f})))
	d.Workload = load.New(load.Constant(1000), f.op, load.WithTimeout(200*time.Millisecond))
	d.Integrity = nil
	return d
}

func TestAdversarialFlappingAndDegrading(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	// Before: a flapping system was reported restored at its first
	// healthy stretch of K buckets if one fell inside the flaps... now it
	// must hold K in a row after the last action.
	t.Run("flaps-forever", func(t *testing.T) {
		d := flakyDrill("flaps", func(x time.Duration) bool { return (x/(30*ms))%2 == 0 })
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: restored", verdict(res, err), res.FormatTimeline())
	})
	// Before: passed, the first episode's TTR.
	t.Run("recovers-then-degrades", func(t *testing.T) {
		// It degrades for good while the drill still watches (catching up).
		d := flakyDrill("degrades", func(x time.Duration) bool { return x < 60*ms || x > 180*ms })
		d.HealthyRun = 3
		start := time.Now()
		d.Workload = load.New(load.Constant(1000), d.Workload.Op, load.WithTimeout(200*time.Millisecond))
		d.Integrity = LandedFunc(func(context.Context) ([]string, error) {
			if time.Since(start) < 2*time.Second {
				return nil, nil
			}
			return nil, errors.New("never")
		})
		d.Limits.CatchUpWithin = 300 * time.Millisecond
		d.Budget = Budget{Lost: Unchecked, Late: Unchecked}
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: restored", verdict(res, err), res.FormatTimeline())
		assert.GreaterOrEqual(t, len(res.Episodes), 2, res.FormatTimeline())
	})
	// The positive control: a flap that settles is restored, one episode.
	t.Run("settles", func(t *testing.T) {
		d := flakyDrill("settles", func(x time.Duration) bool { return x < 150*ms && (x/(30*ms))%2 == 0 })
		d.Budget = Budget{TTR: time.Second}
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "passed", verdict(res, err), res.FormatTimeline())
		assert.Len(t, res.Episodes, 1)
	})
}

// writer is a write service whose store can drop, duplicate or delay writes.
type writer struct {
	f      *switchFault
	mu     sync.Mutex
	ids    []string
	delay  map[string]time.Time // id -> visible from
	lose   string
	dup    string
	noAcks bool
}

func (s *writer) op(_ context.Context, seq uint64) (string, error) {
	if s.f.down.Load() {
		return "", errors.New("connection refused")
	}
	if s.noAcks {
		return "", nil
	}
	id := fmt.Sprint("ev-", seq)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != s.lose {
		s.ids = append(s.ids, id)
	}
	if id == s.dup {
		s.ids = append(s.ids, id)
	}
	return id, nil
}

func (s *writer) landed(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.ids {
		if at, ok := s.delay[id]; ok && time.Now().Before(at) {
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

func writeDrill(name string, s *writer) Drill {
	d := quickLimits(fastDrill(name, nil, faults.For(20*time.Millisecond, 50*time.Millisecond, s.f)))
	d.Workload = load.New(load.Constant(500), s.op, load.WithTimeout(200*time.Millisecond))
	d.Integrity = LandedFunc(s.landed)
	return d
}

func TestAdversarialIntegrity(t *testing.T) {
	t.Parallel()
	// Before: caught by the count, but now the one id is named.
	t.Run("loses-exactly-one", func(t *testing.T) {
		s := &writer{f: &switchFault{}, lose: "ev-7"}
		res, err := Execute(t.Context(), writeDrill("lose-one", s))
		assert.Equal(t, "missed: lost", verdict(res, err), res.FormatTimeline())
		assert.Equal(t, int64(1), res.Integrity.Lost)
		assert.Equal(t, []string{"ev-7"}, res.Integrity.LostSample)
	})
	t.Run("duplicates-exactly-one", func(t *testing.T) {
		s := &writer{f: &switchFault{}, dup: "ev-9"}
		res, err := Execute(t.Context(), writeDrill("dup-one", s))
		assert.Equal(t, "missed: duplicated", verdict(res, err), res.FormatTimeline())
		assert.Equal(t, int64(1), res.Integrity.Duplicated)
	})
	// Before: "lost 0 ok, duplicated 0 ok": integrity passed on nothing.
	t.Run("acknowledges-nothing", func(t *testing.T) {
		s := &writer{f: &switchFault{}, noAcks: true}
		res, err := Execute(t.Context(), writeDrill("no-acks", s))
		assert.Equal(t, "missed: acknowledged", verdict(res, err), res.FormatTimeline())
	})
	// Before: a write that was merely late was counted lost after a single
	// read at the catch-up deadline.
	t.Run("lands-after-the-deadline", func(t *testing.T) {
		s := &writer{f: &switchFault{}, delay: map[string]time.Time{}}
		d := writeDrill("late-one", s)
		d.Limits.CatchUpWithin = 100 * time.Millisecond
		d.Limits.LostAfter = 2 * time.Second
		// ev-3 becomes visible 1.5 s from now: after every deadline but
		// the final read's.
		s.delay["ev-3"] = time.Now().Add(1500 * time.Millisecond)
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: late", verdict(res, err), res.FormatTimeline())
		assert.Equal(t, int64(0), res.Integrity.Lost)
		assert.Equal(t, int64(1), res.Integrity.Late)
		assert.Equal(t, []string{"ev-3"}, res.Integrity.LateSample)
	})
	// The positive control.
	t.Run("accounts-for-every-write", func(t *testing.T) {
		s := &writer{f: &switchFault{}}
		res, err := Execute(t.Context(), writeDrill("clean", s))
		assert.Equal(t, "passed", verdict(res, err), res.FormatTimeline())
		assert.Positive(t, res.Integrity.Acknowledged)
	})
}

func TestAdversarialDetector(t *testing.T) {
	t.Parallel()
	// Before: TTD=10µs, passing a 5 ms budget.
	t.Run("always-on", func(t *testing.T) {
		f := &switchFault{}
		d := quickLimits(fastDrill("always-on", &fakeService{f: f}, faults.For(20*time.Millisecond, 50*time.Millisecond, f)))
		d.Detect = func(context.Context) (bool, error) { return true, nil }
		d.Budget = Budget{TTD: 5 * time.Millisecond}
		res, err := Execute(t.Context(), d)
		require.ErrorIs(t, err, ErrDetectorNotQuiet)
		assert.Contains(t, verdict(res, err), "fired after steady state was verified, before any fault")
		assert.True(t, res.Timeline.FaultSent.IsZero(), "no fault injected")
	})
	// Before: TTD n/a and a pass when no TTD budget was set.
	t.Run("never-fires", func(t *testing.T) {
		f := &switchFault{}
		d := quickLimits(fastDrill("never-fires", &fakeService{f: f}, faults.For(20*time.Millisecond, 50*time.Millisecond, f)))
		d.Detect = func(context.Context) (bool, error) { return false, nil }
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: detected", verdict(res, err), res.FormatTimeline())
		d.Budget = Budget{TTD: time.Second}
		fresh := &fakeService{f: f} // a new store: the first run's writes are not this run's
		d.Workload.Op, d.Integrity = fresh.op, LandedFunc(fresh.landed)
		res, err = Execute(t.Context(), d)
		assert.Equal(t, "missed: ttd", verdict(res, err), res.FormatTimeline())
	})
	t.Run("fires-on-the-fault", func(t *testing.T) {
		f := &switchFault{}
		d := quickLimits(fastDrill("fires", &fakeService{f: f}, faults.For(20*time.Millisecond, 80*time.Millisecond, f)))
		d.Detect = func(context.Context) (bool, error) { return f.down.Load(), nil }
		d.Budget = Budget{TTD: 100 * time.Millisecond}
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "passed", verdict(res, err), res.FormatTimeline())
		assert.Equal(t, "detector polls", res.Measures.TTD.Source)
		assert.LessOrEqual(t, res.Measures.TTD.Lower, res.Measures.TTD.Value)
	})
}

func TestAdversarialMisdeclared(t *testing.T) {
	t.Parallel()
	// Before: TTR 0, passing any TTR budget.
	t.Run("fault-with-no-impact", func(t *testing.T) {
		svc := &fakeService{f: &switchFault{}}
		d := quickLimits(fastDrill("misses", svc, faults.For(20*time.Millisecond, 50*time.Millisecond, &switchFault{})))
		d.Budget = Budget{TTR: time.Second}
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: impact", verdict(res, err), res.FormatTimeline())
		assert.Contains(t, verdictMessages(res), "set Drill.ExpectNoImpact")
	})
	// Before: passed: the second fault of the sequence hit nothing.
	t.Run("second-fault-misses", func(t *testing.T) {
		f := &switchFault{}
		miss := &stickyFault{name: "miss"}
		miss.n.Store(1000)
		d := quickLimits(fastDrill("second-misses", &fakeService{f: f},
			faults.Sequence(faults.For(20*time.Millisecond, 50*time.Millisecond, f), faults.After(150*time.Millisecond, faults.For(0, 50*time.Millisecond, miss)))))
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: impact", verdict(res, err), res.FormatTimeline())
		assert.Contains(t, verdictMessages(res), "no impact after miss")
	})
	t.Run("declared-no-impact", func(t *testing.T) {
		svc := &fakeService{f: &switchFault{}}
		d := quickLimits(fastDrill("absorbed", svc, faults.For(20*time.Millisecond, 50*time.Millisecond, &switchFault{})))
		d.ExpectNoImpact = true
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "passed", verdict(res, err), res.FormatTimeline())
		f := &switchFault{}
		d = quickLimits(fastDrill("not-absorbed", &fakeService{f: f}, faults.For(20*time.Millisecond, 50*time.Millisecond, f)))
		d.ExpectNoImpact = true
		res, err = Execute(t.Context(), d)
		assert.Equal(t, "missed: no_impact", verdict(res, err), res.FormatTimeline())
	})
	// Before: passed with 300 of 590 requests failed: fast failures had
	// low latency and the steady state only looked at latency.
	t.Run("latency-only-steady-state", func(t *testing.T) {
		f := &switchFault{}
		d := fastDrill("latency-only", &fakeService{f: f}, faults.For(20*time.Millisecond, 50*time.Millisecond, f))
		d.Steady = slo.LatencyQuantile(0.99, 100*time.Millisecond)
		res, err := Execute(t.Context(), d)
		require.ErrorIs(t, err, ErrInvalidDrill)
		assert.Contains(t, verdict(res, err), "no success-ratio term")
	})
}

func probeDrill(name string, p slo.Probe) Drill {
	f := &switchFault{}
	d := quickLimits(fastDrill(name, &fakeService{f: f}, faults.For(20*time.Millisecond, 50*time.Millisecond, f)))
	d.Steady = slo.All(slo.SuccessRatio(0.99), slo.AtMost(p, 1))
	d.Limits.SteadyWithin = 500 * time.Millisecond
	d.Integrity = nil
	return d
}

func TestAdversarialProbes(t *testing.T) {
	t.Parallel()
	// Before: ErrSteadyState too, but this pins the message naming the probe.
	t.Run("probe-errors", func(t *testing.T) {
		p := slo.NewProbe("lag", "s", func(context.Context) (float64, error) { return 0, errors.New("metrics endpoint 500") })
		res, err := Execute(t.Context(), probeDrill("probe-errors", p))
		require.ErrorIs(t, err, ErrSteadyState)
		assert.Contains(t, verdict(res, err), "lag probe failed: metrics endpoint 500")
	})
	// Before: a hanging probe's buckets were carried over from the last
	// good sample and looked healthy for a while.
	t.Run("probe-hangs-after-fault", func(t *testing.T) {
		var hang atomic.Bool
		p := slo.NewProbe("lag", "s", func(ctx context.Context) (float64, error) {
			if hang.Load() {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return 0, nil
		}).WithTimeout(40 * time.Millisecond)
		d := probeDrill("probe-hangs", p)
		d.Faults = faults.At(20*time.Millisecond, hangFault{&hang})
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: restored", verdict(res, err), res.FormatTimeline())
	})
	// Before: a probe polled every 200 ms on 10 ms buckets claimed ± 10 ms.
	t.Run("probe-slower-than-the-bucket", func(t *testing.T) {
		var bad atomic.Bool
		p := slo.NewProbe("lag", "s", func(context.Context) (float64, error) {
			if bad.Load() {
				return 5, nil
			}
			return 0, nil
		}).WithEvery(60 * time.Millisecond)
		d := probeDrill("probe-slow", p)
		d.HealthyRun = 3
		d.Faults = faults.For(20*time.Millisecond, 150*time.Millisecond, hangFault{&bad})
		d.Limits.RecoverWithin = time.Second
		res, err := Execute(t.Context(), d)
		require.Equal(t, "passed", verdict(res, err), res.FormatTimeline())
		ttr := res.Measures.TTR
		assert.Equal(t, "probe lag", ttr.Source)
		assert.GreaterOrEqual(t, ttr.Resolution(), 25*time.Millisecond, "the cadence is in the bound: %s", ttr.Interval())
		assert.True(t, ttr.Contains(150*time.Millisecond) || ttr.Lower <= 150*time.Millisecond+res.Load.MaxLate, "the truth is in %s", ttr.Interval())
	})
}

// hangFault switches a flag.
type hangFault struct{ on *atomic.Bool }

func (h hangFault) Name() string                 { return "flag" }
func (h hangFault) Inject(context.Context) error { h.on.Store(true); return nil }
func (h hangFault) Revert(context.Context) error { h.on.Store(false); return nil }

func TestAdversarialRunbooks(t *testing.T) {
	t.Parallel()
	// Before: the drill waited for the hung step to return, however long.
	t.Run("step-hangs-past-its-timeout", func(t *testing.T) {
		f := &switchFault{}
		d := quickLimits(fastDrill("hung-step", &fakeService{f: f}, faults.At(20*time.Millisecond, f)))
		d.Recovery = recovery.Steps(recovery.Func("resume", func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}).WithTimeout(50 * time.Millisecond))
		d.Integrity = nil
		start := time.Now()
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: restored,recovery", verdict(res, err), res.FormatTimeline())
		assert.Less(t, time.Since(start), 3*time.Second)
		assert.Contains(t, verdictMessages(res), `step "resume" failed`)
	})
	t.Run("step-fails", func(t *testing.T) {
		f := &switchFault{}
		d := quickLimits(fastDrill("failing-step", &fakeService{f: f}, faults.At(20*time.Millisecond, f)))
		d.Recovery = recovery.Steps(recovery.Func("resume", func(context.Context) (string, error) {
			return "checkpoint table missing", errors.New("exit status 3")
		}))
		d.Integrity = nil
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: restored,recovery", verdict(res, err), res.FormatTimeline())
	})
}

// badRevert is a fault whose revert always fails.
type badRevert struct {
	switchFault
	reverts atomic.Int32
}

func (b *badRevert) Name() string { return "stuck" }
func (b *badRevert) Revert(context.Context) error {
	b.reverts.Add(1)
	return errors.New("container exited (code 1) and does not start")
}

type panicFault struct{}

func (panicFault) Name() string                 { return "panics" }
func (panicFault) Inject(context.Context) error { panic("fault bug") }
func (panicFault) Revert(context.Context) error { return nil }

func TestAdversarialEndings(t *testing.T) {
	t.Parallel()
	// Before: "missed its budget", the error printed six times, the
	// revert retried three times.
	t.Run("revert-fails", func(t *testing.T) {
		f := &badRevert{}
		svc := &fakeService{f: &f.switchFault}
		d := quickLimits(fastDrill("revert-fails", svc, faults.For(20*time.Millisecond, 50*time.Millisecond, f)))
		d.Integrity = nil
		tb := &fakeTB{TB: t}
		res := Run(tb, d)
		for _, c := range slices.Backward(tb.cleanups) {
			c()
		}
		require.ErrorIs(t, res.Err, ErrRevert)
		assert.Equal(t, int32(1), f.reverts.Load(), "the revert is not retried blindly\n%s", res.FormatTimeline())
		require.Len(t, res.RevertFailed, 1)
		require.Len(t, tb.errs, 1, "reported once")
		assert.Contains(t, tb.errs[0], "fault revert failed")
		assert.NotContains(t, tb.errs[0], "missed its budget")
		assert.Equal(t, 1, strings.Count(tb.errs[0], "does not start"))
	})
	// Before: the panic escaped the schedule's goroutine and killed the test binary.
	t.Run("panic-in-a-fault", func(t *testing.T) {
		svc := &fakeService{f: &switchFault{}}
		d := quickLimits(fastDrill("panics", svc, faults.At(20*time.Millisecond, panicFault{})))
		res, err := Execute(t.Context(), d)
		require.ErrorIs(t, err, ErrFault)
		assert.Contains(t, verdict(res, err), "fault schedule panicked: fault bug")
	})
	// Before: the same, but pinned: a cancelled drill reverts and says why.
	t.Run("context-cancelled-mid-drill", func(t *testing.T) {
		f := &switchFault{}
		d := quickLimits(fastDrill("cancelled", &fakeService{f: f}, faults.At(20*time.Millisecond, f)))
		d.Limits.RecoverWithin = 10 * time.Second
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(400*time.Millisecond, cancel)
		res, err := Execute(ctx, d)
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, res.Passed())
		assert.False(t, f.down.Load(), "reverted")
	})
}

// Before: compare exited 0 when every head sample never recovered.
func TestAdversarialCompareWithNeverRecoveredHead(t *testing.T) {
	t.Parallel()
	run := func(name string, broken bool) reports.Run {
		var ds []reports.Drill
		for i := range 6 {
			f := sticky("sticky", 1)
			if !broken {
				f.n.Store(1000)
			}
			d := quickLimits(fastDrill(name, brokenService(&f.switchFault), faults.For(20*time.Millisecond, 50*time.Millisecond, f)))
			d.Integrity = nil
			res, _ := Execute(t.Context(), d)
			rd := res.Report()
			rd.Sample = i
			ds = append(ds, rd)
		}
		return reports.Run{Schema: reports.SchemaVersion, Meta: reports.Meta{RunID: name}, Drills: ds}
	}
	base, head := run("svc", false), run("svc", true)
	cs := reports.Compare([]reports.Run{base}, []reports.Run{head}, reports.CompareOptions{})
	require.Len(t, reports.Regressions(cs), 1, "a head that never recovered is a regression")
}

// Before: report.json showed ✅ for a drill whose test then failed.
func TestAdversarialReportOfATestThatFailedAfterRun(t *testing.T) {
	t.Setenv(EnvReportDir, t.TempDir())
	f := &switchFault{}
	d := quickLimits(fastDrill("asserts-after", &fakeService{f: f}, faults.For(20*time.Millisecond, 50*time.Millisecond, f)))
	res, err := Execute(t.Context(), d)
	require.NoError(t, err)
	require.True(t, res.Passed(), res.FormatTimeline())
	before := len(Collected().Drills)
	collect(res, true)
	got := Collected().Drills[before]
	assert.False(t, got.Passed)
	assert.True(t, got.TestFailed)
}
