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
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
)

// switchFault is a fake fault: while injected, the fake service refuses
// every request.
type switchFault struct {
	down             atomic.Bool
	broken           atomic.Bool // once set, Revert leaves the service down
	injects, reverts atomic.Int32
}

func (f *switchFault) Name() string { return "switch" }
func (f *switchFault) Inject(context.Context) error {
	f.injects.Add(1)
	f.down.Store(true)
	return nil
}
func (f *switchFault) Revert(context.Context) error {
	f.reverts.Add(1)
	if !f.broken.Load() {
		f.down.Store(false)
	}
	return nil
}

// fakeService is a write service whose store can lose writes on purpose.
type fakeService struct {
	f    *switchFault
	mu   sync.Mutex
	ids  []string
	lose func(seq uint64) bool
}

func (s *fakeService) op(_ context.Context, seq uint64) (string, error) {
	if s.f.down.Load() {
		return "", errors.New("connection refused")
	}
	id := fmt.Sprint("ev-", seq)
	if s.lose == nil || !s.lose(seq) {
		s.mu.Lock()
		s.ids = append(s.ids, id)
		s.mu.Unlock()
	}
	return id, nil
}

func (s *fakeService) landed(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...), nil
}

// fastDrill is a drill on 10 ms buckets that runs in well under a second.
func fastDrill(name string, svc *fakeService, sched faults.Schedule) Drill {
	return Drill{
		Name:       name,
		Workload:   load.New(load.Constant(1000), svc.op, load.WithTimeout(200*time.Millisecond)),
		Steady:     slo.SuccessRatio(0.99),
		Faults:     sched,
		Integrity:  LandedFunc(svc.landed),
		Bucket:     10 * time.Millisecond,
		HealthyRun: 5,
		Limits: Limits{
			SteadyWithin:  2 * time.Second,
			ImpactWithin:  200 * time.Millisecond,
			RecoverWithin: 2 * time.Second,
			CatchUpWithin: time.Second,
		},
		IntegrityEvery: 10 * time.Millisecond,
	}
}

func TestExecuteMeasuresAnOutage(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f}
	d := fastDrill("outage", svc, faults.For(30*time.Millisecond, 150*time.Millisecond, f))
	d.Detect = func(context.Context) (bool, error) { return f.down.Load(), nil }
	d.Budget = Budget{TTR: time.Second, TTD: 200 * time.Millisecond}
	res, err := Execute(t.Context(), d)
	require.NoError(t, err, res.FormatTimeline())
	assert.True(t, res.Passed(), res.FormatTimeline())

	// The real outage is from onset to the revert's midpoint.
	var revert faults.Record
	for _, r := range res.Faults {
		if r.Action.Revert && !r.Cleanup {
			revert = r
		}
	}
	require.False(t, revert.Bracket.Sent.IsZero())
	outage := revert.Bracket.Sent.Add(revert.Bracket.Width() / 2).Sub(res.Timeline.Onset)
	ttr := res.Measures.TTR
	require.True(t, ttr.Valid)
	// A request that starts late sees the system as it is when it starts:
	// on a loaded machine the error grows by the worst late start.
	tol := ttr.Resolution() + res.Load.MaxLate + 2*time.Millisecond
	assert.LessOrEqual(t, (ttr.Value - outage).Abs(), tol, "TTR %s, outage %s\n%s", ttr, outage, res.FormatTimeline())
	assert.True(t, res.Measures.TTD.Valid)
	assert.LessOrEqual(t, res.Measures.TTD.Value, 50*time.Millisecond)
	assert.Greater(t, res.Measures.FailedRequests, int64(50))
	assert.Equal(t, int64(0), res.Integrity.Lost)
	assert.False(t, res.Timeline.CaughtUp.IsZero())
	assert.False(t, f.down.Load())
}

func TestExecuteSteadyStateNeverReached(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	f.down.Store(true) // the service never works
	svc := &fakeService{f: f}
	d := fastDrill("never-steady", svc, faults.At(0, &switchFault{}))
	d.Limits.SteadyWithin = 300 * time.Millisecond
	res, err := Execute(t.Context(), d)
	require.ErrorIs(t, err, ErrSteadyState)
	assert.Contains(t, err.Error(), "steady state not verified within 300ms (success_ratio >= 0.99): needed 5 healthy buckets in a row, longest run was 0")
	assert.Contains(t, err.Error(), "connection refused"[:0]+"success ratio 0.000 < 0.99")
	assert.True(t, res.Timeline.FaultSent.IsZero(), "nothing injected")
	assert.False(t, res.Passed())
}

func TestExecuteNotRestoredBeforeDeadline(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f}
	d := fastDrill("held", svc, faults.At(20*time.Millisecond, f)) // held, no runbook
	d.Limits.RecoverWithin = 300 * time.Millisecond
	d.Integrity = nil
	res, err := Execute(t.Context(), d)
	require.NoError(t, err)
	require.False(t, res.Passed())
	assert.Contains(t, verdictMessages(res), "restored: not restored: episode 1 (after switch) never ended")
	assert.False(t, f.down.Load(), "the held fault is reverted at the end")
	assert.Equal(t, int32(1), f.reverts.Load())
	assert.Contains(t, res.FormatTimeline(), "revert (cleanup) switch: acknowledged")
}

func TestExecuteRunsRecoveryOnImpact(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f}
	d := fastDrill("runbook", svc, faults.At(20*time.Millisecond, f))
	d.Recovery = recovery.Steps(
		recovery.Func("diagnose", func(context.Context) (string, error) { return "link down", nil }),
		recovery.Func("heal", func(ctx context.Context) (string, error) { return "healed", f.Revert(ctx) }),
	)
	d.Budget = Budget{Runbook: time.Second}
	res, err := Execute(t.Context(), d)
	require.NoError(t, err)
	assert.True(t, res.Passed(), res.FormatTimeline())
	require.Len(t, res.Steps, 2)
	assert.Equal(t, "healed", res.Steps[1].Output)
	assert.True(t, res.Measures.Runbook.Valid)
	assert.False(t, res.Timeline.RecoveryStart.Before(res.Timeline.Impact), "runbook starts on impact\n%s", res.FormatTimeline())
	assert.True(t, res.Timeline.Restored.After(res.Timeline.RecoveryStart.Add(-d.Bucket)), res.FormatTimeline())
}

func TestExecuteFailingRunbookFailsTheDrill(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f}
	d := fastDrill("broken-runbook", svc, faults.At(20*time.Millisecond, f))
	d.Recovery = recovery.Steps(
		recovery.Func("resume", func(context.Context) (string, error) {
			return "error: checkpoint table missing", errors.New("exit status 3")
		}),
		recovery.Func("verify", func(context.Context) (string, error) { return "", nil }),
	)
	res, err := Execute(t.Context(), d)
	require.NoError(t, err)
	require.False(t, res.Passed())
	msgs := verdictMessages(res)
	assert.Contains(t, msgs, `recovery: step "resume" failed: exit status 3`)
	assert.Contains(t, msgs, "checkpoint table missing")
	require.Len(t, res.Steps, 2)
	assert.True(t, res.Steps[1].Skipped)
	assert.False(t, f.down.Load())
}

func TestExecuteNoImpact(t *testing.T) {
	t.Parallel()
	svc := &fakeService{f: &switchFault{}}
	harmless := &switchFault{} // affects nothing
	d := fastDrill("harmless", svc, faults.For(10*time.Millisecond, 50*time.Millisecond, harmless))
	d.ExpectNoImpact = true
	d.Budget = Budget{NoFailedRequests: true}
	res, err := Execute(t.Context(), d)
	require.NoError(t, err)
	assert.True(t, res.Passed(), res.FormatTimeline())
	assert.False(t, res.Measures.TTR.Valid, "no episode, no TTR")
	assert.Empty(t, res.Episodes)
	assert.True(t, res.Timeline.Impact.IsZero())
}

func TestExecuteDetectsLostWrites(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f, lose: func(seq uint64) bool { return seq%97 == 3 }}
	d := fastDrill("lossy", svc, faults.For(20*time.Millisecond, 50*time.Millisecond, f))
	d.Limits.CatchUpWithin = 100 * time.Millisecond
	res, err := Execute(t.Context(), d)
	require.NoError(t, err)
	require.False(t, res.Passed())
	assert.Positive(t, res.Integrity.Lost)
	assert.Contains(t, verdictMessages(res), "acknowledged writes lost, budget 0 (e.g. [ev-3")
	assert.True(t, res.Timeline.CaughtUp.IsZero())
}

func TestExecuteRevertsFaultsOnPanic(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f}
	d := fastDrill("panic", svc, faults.At(10*time.Millisecond, f)) // held: only the engine reverts it
	// A steady-state objective with a bug: it panics once the fault is in effect.
	d.Steady = slo.All(slo.SuccessRatio(0.99), slo.Func("buggy", func(b slo.Bucket) slo.Judgement {
		if f.down.Load() {
			panic("objective bug")
		}
		return slo.Judgement{Health: slo.Healthy}
	}))
	require.PanicsWithValue(t, "objective bug", func() { _, _ = Execute(t.Context(), d) })
	assert.False(t, f.down.Load(), "fault reverted while panicking")
	assert.Equal(t, int32(1), f.reverts.Load())
}

// fakeTB captures what Run reports.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()             {}
func (f *fakeTB) Log(args ...any)     {}
func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func TestRunFailsTheTestWithTheTimeline(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f}
	d := fastDrill("too-slow", svc, faults.For(20*time.Millisecond, 200*time.Millisecond, f))
	d.Budget = Budget{TTR: 100 * time.Millisecond}
	tb := &fakeTB{TB: t}
	res := Run(tb, d)
	require.NotEmpty(t, tb.cleanups, "revert cleanup registered")
	for _, c := range slices.Backward(tb.cleanups) {
		c()
	}
	require.Len(t, tb.errs, 1)
	msg := tb.errs[0]
	t.Log(msg)
	assert.Contains(t, msg, "drill too-slow missed its budget:\n  ttr: exceeds the budget of 100ms: episode 1 ttr ")
	assert.Contains(t, msg, `timeline of drill "too-slow" (t=0 at fault onset`)
	assert.Contains(t, msg, "restored, episode 1 (then 5 healthy buckets)")
	assert.True(t, strings.Contains(msg, "inject switch: sent") && strings.Contains(msg, "revert switch: acknowledged"))
	assert.False(t, res.Passed())
}

func TestExecuteIntegrityReaderFailing(t *testing.T) {
	t.Parallel()
	f := &switchFault{}
	svc := &fakeService{f: f}
	reader := newMockIntegrity(t)
	reader.EXPECT().Landed(mock.Anything).Return(nil, errors.New("warehouse unreachable"))
	d := fastDrill("unreadable", svc, faults.For(20*time.Millisecond, 50*time.Millisecond, f))
	d.Integrity = reader
	d.Limits.CatchUpWithin = 50 * time.Millisecond
	res, err := Execute(t.Context(), d)
	require.NoError(t, err)
	assert.False(t, res.Passed())
	assert.Contains(t, res.Integrity.Err, "warehouse unreachable")
	assert.Equal(t, res.Integrity.Acknowledged, res.Integrity.Lost, "nothing could be confirmed")
	assert.True(t, res.Timeline.CaughtUp.IsZero())
}
