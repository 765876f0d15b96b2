package drills

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const w = 100 * time.Millisecond

// world is a synthetic drill: requests at rate from t0 for dur, each
// succeeding when ok(intended) says so, fed through a Recorder exactly as
// the engine feeds it, then judged and analysed.
type world struct {
	dur     time.Duration
	rate    int
	width   time.Duration
	k       int
	ok      func(at time.Time) bool
	injects []time.Time // onsets; each bracket is [onset−bw/2, onset+bw/2]
	bw      time.Duration
	last    time.Time // the schedule's last action; default: the last onset
	steady  slo.Objective
	samples map[string][]slo.Sample
}

func (wd world) run(t *testing.T) *Result {
	t.Helper()
	if wd.width == 0 {
		wd.width = w
	}
	if wd.k == 0 {
		wd.k = 10
	}
	if wd.steady == nil {
		wd.steady = slo.SuccessRatio(0.99)
	}
	rec := slo.NewRecorder(t0, wd.width)
	obs := &observations{steady: wd.steady, samples: wd.samples}
	step := time.Second / time.Duration(wd.rate)
	for at := t0; at.Before(t0.Add(wd.dur)); at = at.Add(step) {
		rec.Scheduled(at)
		lat, err := 2*time.Millisecond, error(nil)
		if !wd.ok(at) {
			lat, err = time.Second, errors.New("request timed out after 1s")
		}
		rec.Observe(at, lat, err)
		obs.reqs = append(obs.reqs, request{intended: at, end: at.Add(lat), latency: lat, failed: err != nil})
	}
	for name, ss := range wd.samples {
		for _, s := range ss {
			rec.ObserveProbe(name, s, false)
		}
	}
	bs := rec.SealAll(t0.Add(wd.dur - time.Nanosecond))
	r := &Result{
		Name: "synthetic", Bucket: wd.width, HealthyRun: wd.k, Steady: wd.steady.Name(),
		Limits:  Drill{}.withDefaults().Limits,
		Buckets: bs, Health: judge(nil, bs, wd.steady, slo.RequireData),
	}
	r.Timeline.LoadStarted = t0
	r.Timeline.End = t0.Add(wd.dur)
	a := analysis{obs: obs}
	for i, on := range wd.injects {
		b := faults.Bracket{Sent: on.Add(-wd.bw / 2), Acked: on.Add(wd.bw / 2)}
		a.injects = append(a.injects, inject{fault: "down(host->stub)#" + string(rune('1'+i)), onset: b, source: "inject call"})
		r.Faults = append(r.Faults, faults.Record{Fault: "down(host->stub)", Bracket: b})
	}
	if len(wd.injects) > 0 {
		r.Timeline.FaultSent, r.Timeline.FaultAcked = a.injects[0].onset.Sent, a.injects[0].onset.Acked
		r.Timeline.Onset = wd.injects[0]
		r.Timeline.LastAction = wd.last
		if wd.last.IsZero() {
			r.Timeline.LastAction = wd.injects[len(wd.injects)-1]
		}
	}
	analyze(r, a)
	return r
}

func outage(from, to time.Time) func(time.Time) bool {
	return func(at time.Time) bool { return at.Before(from) || !at.Before(to) }
}

func outages(ivs ...[2]time.Time) func(time.Time) bool {
	return func(at time.Time) bool {
		for _, iv := range ivs {
			if !at.Before(iv[0]) && at.Before(iv[1]) {
				return false
			}
		}
		return true
	}
}

// Before: the TTR was a whole bucket start, +49 ms at 100 ms buckets and
// +173 ms at 250 ms; now it is located to the request.
func TestTTRIsLocatedToTheRequest(t *testing.T) {
	for _, width := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond} {
		for _, d := range []time.Duration{350 * time.Millisecond, 1100 * time.Millisecond, 1700 * time.Millisecond, 4300 * time.Millisecond} {
			for _, off := range []time.Duration{0, 17 * time.Millisecond, 49*time.Millisecond + 300*time.Microsecond} {
				onset := t0.Add(2*time.Second + off)
				r := world{dur: 2*time.Second + d + 4*time.Second, rate: 1000, width: width, ok: outage(onset, onset.Add(d)),
					injects: []time.Time{onset}, bw: time.Millisecond, last: onset.Add(d)}.run(t)
				require.True(t, r.Restored, "width %s D %s: %s", width, d, r.FormatTimeline())
				ttr := r.Measures.TTR
				assert.LessOrEqual(t, (ttr.Value - d).Abs(), 2*time.Millisecond, "width %s D %s off %s: TTR %s", width, d, off, ttr)
				assert.True(t, ttr.Contains(d), "width %s D %s: truth outside %s", width, d, ttr.Interval())
				assert.Equal(t, "requests", ttr.Source)
				assert.LessOrEqual(t, ttr.Resolution(), 4*time.Millisecond)
			}
		}
	}
}

// Before: a system that never recovered from its second fault passed with
// the first episode's TTR.
func TestNeverRecoversAfterTheSecondFault(t *testing.T) {
	on1, on2 := t0.Add(2*time.Second), t0.Add(4*time.Second)
	r := world{dur: 8 * time.Second, rate: 500, ok: outages([2]time.Time{on1, on1.Add(300 * time.Millisecond)}, [2]time.Time{on2, t0.Add(time.Hour)}),
		injects: []time.Time{on1, on2}}.run(t)
	require.Len(t, r.Episodes, 2, healthString(r.Health))
	assert.True(t, r.Episodes[0].TTR.Valid)
	assert.False(t, r.Episodes[1].TTR.Valid)
	assert.False(t, r.Restored)
	assert.False(t, r.Measures.TTR.Valid)
	r.Verdicts = Budget{TTR: 10 * time.Second}.Evaluate(r)
	assert.False(t, r.Passed())
	assert.Contains(t, verdictMessages(r), "restored: not restored: episode 2")
	assert.Contains(t, verdictMessages(r), "episode 2 not restored")
}

// Before: the TTR budget looked at the first episode only.
func TestTTRBudgetHoldsForEveryEpisode(t *testing.T) {
	on1, on2 := t0.Add(2*time.Second), t0.Add(4*time.Second)
	r := world{dur: 9 * time.Second, rate: 500, ok: outages([2]time.Time{on1, on1.Add(300 * time.Millisecond)}, [2]time.Time{on2, on2.Add(1500 * time.Millisecond)}),
		injects: []time.Time{on1, on2}}.run(t)
	require.Len(t, r.Episodes, 2)
	require.True(t, r.Restored)
	assert.InDelta(t, float64(1500*time.Millisecond), float64(r.Measures.TTR.Value), float64(4*time.Millisecond), "the worst episode decides")
	r.Verdicts = Budget{TTR: time.Second}.Evaluate(r)
	assert.Contains(t, verdictMessages(r), "episode 2 ttr 1.49")
	r.Verdicts = Budget{TTR: 2 * time.Second}.Evaluate(r)
	assert.True(t, r.Passed(), r.FormatTimeline())
}

func TestFlappingRestoresOnlyAfterKHealthyInARow(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	at := func(d time.Duration) time.Time { return onset.Add(d) }
	ms := time.Millisecond
	ok := outages([2]time.Time{at(0), at(1000 * ms)}, [2]time.Time{at(1300 * ms), at(1500 * ms)}, [2]time.Time{at(2000 * ms), at(2100 * ms)})
	r := world{dur: 6 * time.Second, rate: 1000, ok: ok, injects: []time.Time{onset}}.run(t)
	require.True(t, r.Measures.TTR.Valid)
	require.Len(t, r.Episodes, 1)
	assert.InDelta(t, float64(2100*ms), float64(r.Measures.TTR.Value), float64(2*ms), healthString(r.Health))
	out := r.FormatTimeline()
	assert.Contains(t, out, "+1.300s  unhealthy again: success ratio 0.000 < 0.99 (100 of 100 failed, e.g. request timed out after 1s)")
	assert.Contains(t, out, "+2.000s  unhealthy again")

	// With K=3 the first healthy stretch (300 ms) ends an episode: three episodes.
	r = world{dur: 6 * time.Second, rate: 1000, k: 3, ok: ok, injects: []time.Time{onset}}.run(t)
	assert.Len(t, r.Episodes, 3)
	assert.InDelta(t, float64(time.Second), float64(r.Episodes[0].TTR.Value), float64(2*ms))
}

// Before: a system that recovered and then degraded for good passed.
func TestRecoversThenDegrades(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	r := world{dur: 8 * time.Second, rate: 500, ok: outages([2]time.Time{onset, onset.Add(500 * time.Millisecond)}, [2]time.Time{onset.Add(3 * time.Second), t0.Add(time.Hour)}),
		injects: []time.Time{onset}}.run(t)
	assert.False(t, r.Restored)
	require.Len(t, r.Episodes, 2)
	assert.False(t, r.Episodes[1].TTR.Valid)
}

func TestUnknownBucketsNeitherCountNorBreakTheRun(t *testing.T) {
	hs := make([]slo.Judgement, 0, 20)
	for _, c := range "x++.+..+x++.+++" {
		switch c {
		case '+':
			hs = append(hs, slo.Judgement{Health: slo.Healthy})
		case 'x':
			hs = append(hs, slo.Judgement{Health: slo.Unhealthy})
		default:
			hs = append(hs, slo.Judgement{Health: slo.Unknown})
		}
	}
	first, last, ok := healthyRun(hs, 0, 4)
	require.True(t, ok)
	assert.Equal(t, 1, first)
	assert.Equal(t, 7, last)
	first, _, ok = healthyRun(hs, 8, 5)
	require.True(t, ok)
	assert.Equal(t, 9, first)
	_, _, ok = healthyRun(hs, 8, 6)
	assert.False(t, ok)
	assert.Equal(t, 5, longestRun(hs))
}

func TestEmptyBucketDuringOutageIsUnhealthy(t *testing.T) {
	// Requests were scheduled in the bucket but none ever reported.
	rec := slo.NewRecorder(t0, w)
	for i := range 10 {
		rec.Scheduled(t0.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	bs := rec.SealAll(t0)
	j := slo.RequireData(bs[0], slo.SuccessRatio(0.99))
	assert.Equal(t, slo.Unhealthy, j.Health)
	assert.Equal(t, slo.Unknown, slo.RequireData(slo.Bucket{}, slo.SuccessRatio(0.99)).Health)
}

// Before: a restoration later than Limits.RecoverWithin still passed when
// the final analysis found it.
func TestRestoredLaterThanTheRecoveryLimitFails(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	r := world{dur: 8 * time.Second, rate: 500, ok: outage(onset, onset.Add(3*time.Second)), injects: []time.Time{onset}}.run(t)
	r.Limits.RecoverWithin = 2 * time.Second
	r.Verdicts = Budget{}.Evaluate(r)
	assert.False(t, r.Passed())
	assert.Contains(t, verdictMessages(r), "later than the limit of 2s")
}

// Before: a fault that hit nothing gave TTR 0 and passed any TTR budget.
func TestFaultWithNoImpactFails(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	r := world{dur: 5 * time.Second, rate: 500, ok: func(time.Time) bool { return true }, injects: []time.Time{onset}}.run(t)
	assert.True(t, r.Restored)
	assert.False(t, r.Measures.TTR.Valid)
	r.Verdicts = Budget{TTR: time.Second}.Evaluate(r)
	assert.False(t, r.Passed())
	assert.Contains(t, verdictMessages(r), "impact: no impact after down(host->stub)#1")
	r.ExpectNoImpact = true
	r.Verdicts = Budget{}.Evaluate(r)
	assert.True(t, r.Passed(), r.FormatTimeline())
}

// Before: a probe sample was stamped at poll start and copied into
// buckets without one: a probe read every 400 ms on 10 ms buckets was
// off by up to 304 ms and claimed ± 10 ms.
func TestProbeBoundsIncludeCadenceAndReadTime(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	for _, d := range []time.Duration{430 * time.Millisecond, 1210 * time.Millisecond, 2050 * time.Millisecond} {
		truth := onset.Add(d)
		var ss []slo.Sample
		for at := t0; at.Before(t0.Add(6 * time.Second)); at = at.Add(400 * time.Millisecond) {
			end := at.Add(30 * time.Millisecond)
			v := 0.0
			if !at.Before(onset) && at.Before(truth) {
				v = 5
			}
			ss = append(ss, slo.Sample{Start: at, End: end, Value: v})
		}
		lag := slo.NewProbe("lag", "s", func(context.Context) (float64, error) { return 0, nil })
		r := world{dur: 6 * time.Second, rate: 200, width: 10 * time.Millisecond, k: 3, ok: func(time.Time) bool { return true },
			injects: []time.Time{onset}, steady: slo.All(slo.SuccessRatio(0.99), slo.AtMost(lag, 1)),
			samples: map[string][]slo.Sample{"lag": ss}}.run(t)
		require.True(t, r.Restored, r.FormatTimeline())
		ttr := r.Measures.TTR
		assert.True(t, ttr.Contains(d), "D %s: truth outside %s", d, ttr.Interval())
		assert.Equal(t, "probe lag", ttr.Source)
		assert.GreaterOrEqual(t, ttr.Resolution(), 200*time.Millisecond, "the cadence is in the bound")
	}
}

func TestBudgetKindsFailWhenSlowerOrLossy(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	base := func() *Result {
		r := world{dur: 8 * time.Second, rate: 1000, ok: outage(onset, onset.Add(2*time.Second)), injects: []time.Time{onset}, bw: 2 * time.Millisecond}.run(t)
		r.Measures.TTD = exact(800*time.Millisecond, "detector polls")
		r.Measures.CatchUp = exact(5*time.Second, "integrity reads")
		r.Measures.Runbook = exact(500*time.Millisecond, "steps")
		r.Steps = []recovery.Result{{Name: "exec pipelinectl resume", Start: onset.Add(time.Second), End: onset.Add(1500 * time.Millisecond), Duration: 500 * time.Millisecond}}
		r.Integrity = integrityOf([]string{"a", "b", "c", "d", "e"}, []string{"a", "b", "b", "c", "e"}, 5)
		r.Integrity.Late, r.Integrity.LateSample = 1, []string{"e"}
		return r
	}
	r := base()
	require.True(t, r.Measures.TTR.Valid)
	cases := []struct {
		name   string
		pass   Budget
		fail   Budget
		reason string
	}{
		{"ttr", Budget{TTR: 3 * time.Second}, Budget{TTR: time.Second}, "exceeds the budget of 1s: episode 1 ttr 2"},
		{"ttd", Budget{TTD: time.Second}, Budget{TTD: 500 * time.Millisecond}, "ttd 800ms exceeds the budget of 500ms"},
		{"impact", Budget{Impact: 3 * time.Second}, Budget{Impact: time.Second}, "exceeds the budget of 1s"},
		{"runbook", Budget{Runbook: time.Second}, Budget{Runbook: 100 * time.Millisecond}, "runbook 500ms exceeds the budget of 100ms"},
		{"catch_up", Budget{CatchUp: 10 * time.Second}, Budget{CatchUp: 3 * time.Second}, "catch_up 5s exceeds"},
		{"failed_requests", Budget{FailedRequests: 5000}, Budget{FailedRequests: 10}, "2000 failed requests, budget 10"},
		{"failed_requests", Budget{FailedRequests: 5000}, Budget{NoFailedRequests: true}, "2000 failed requests, budget 0"},
		{"lost", Budget{Lost: 1, Late: 1, Duplicated: Unchecked}, Budget{Lost: 0, Late: 1, Duplicated: Unchecked}, "1 acknowledged writes lost, budget 0 (e.g. [d])"},
		{"late", Budget{Lost: 1, Late: 1, Duplicated: Unchecked}, Budget{Lost: 1, Late: 0, Duplicated: Unchecked}, "visible only after the catch-up deadline, budget 0 (e.g. [e])"},
		{"duplicated", Budget{Lost: Unchecked, Late: Unchecked, Duplicated: 1}, Budget{Lost: Unchecked, Late: Unchecked}, "1 acknowledged writes duplicated, budget 0"},
	}
	for _, c := range cases {
		if c.name != "lost" && c.name != "duplicated" && c.name != "late" {
			c.pass.Lost, c.pass.Duplicated, c.pass.Late = 1, 1, 1
			c.fail.Lost, c.fail.Duplicated, c.fail.Late = 1, 1, 1
		}
		t.Run(c.name, func(t *testing.T) {
			r := base()
			r.Verdicts = c.pass.Evaluate(r)
			assert.True(t, r.Passed(), r.FormatTimeline())
			r.Verdicts = c.fail.Evaluate(r)
			require.False(t, r.Passed())
			missed := r.Missed()
			require.Len(t, missed, 1)
			assert.Equal(t, c.name, missed[0].Name)
			assert.Contains(t, missed[0].Message, c.reason)
		})
	}
}

func TestTimelineIsReadable(t *testing.T) {
	onset := t0.Add(2*time.Second + 30*time.Millisecond)
	r := world{dur: 6 * time.Second, rate: 1000, ok: outage(onset, onset.Add(time.Second)), injects: []time.Time{onset}, bw: 2 * time.Millisecond}.run(t)
	r.Timeline.SteadyVerified = t0.Add(time.Second)
	r.Steps = []recovery.Result{{Name: "restart stub", Start: onset.Add(300 * time.Millisecond), End: onset.Add(400 * time.Millisecond), Duration: 100 * time.Millisecond}}
	r.Verdicts = Budget{TTR: 500 * time.Millisecond}.Evaluate(r)
	out := r.FormatTimeline()
	t.Log("\n" + out)
	for _, want := range []string{
		`timeline of drill "synthetic" (t=0 at fault onset`,
		"    -2.030s  load started",
		"    -1.030s  steady state verified (10 healthy buckets of 100ms: success_ratio >= 0.99)",
		"-0.001s  inject down(host->stub): sent",
		"+0.001s  inject down(host->stub): acknowledged (bracket 2ms)",
		"+0.000s  impact, episode 1 (down(host->stub)#1: success ratio",
		`+0.300s  recovery step "restart stub" started`,
		`+0.400s  recovery step "restart stub" done in 100ms`,
		"+1.000s  restored, episode 1 (then 10 healthy buckets)",
		"episodes:\n  1. down(host->stub)#1: onset ± 1ms (inject call), TTR 1s ± 4ms in [998ms, 1.003s] (requests)",
		"measures: TTR 1s ± 4ms",
		"MISSED: exceeds the budget of 500ms: episode 1 ttr 1s ± 4ms",
		"|xxxxxxxxxxx++++++++++",
	} {
		assert.Contains(t, out, want)
	}
	assert.Less(t, strings.Index(out, "impact"), strings.Index(out, "restored, episode"))
}

func TestIntegrityAccounting(t *testing.T) {
	res := integrityOf([]string{"1", "2", "3"}, []string{"1", "1", "1", "3", "9", "9"}, 5)
	assert.Equal(t, int64(3), res.Acknowledged)
	assert.Equal(t, int64(2), res.Landed)
	assert.Equal(t, int64(1), res.Lost)
	assert.Equal(t, []string{"2"}, res.LostSample)
	assert.Equal(t, int64(3), res.Duplicated)
	assert.Empty(t, missing([]string{"1", "3"}, []string{"3", "1"}))
	assert.Equal(t, []string{"2"}, missing([]string{"1", "2"}, []string{"1"}))
}

func TestValidateRejectsBadDrills(t *testing.T) {
	err := Drill{}.Validate()
	require.ErrorIs(t, err, ErrInvalidDrill)
	for _, want := range []string{"no name", "workload has no pacer", "no steady-state objective", "no fault schedule"} {
		assert.Contains(t, err.Error(), want)
	}
	err = Drill{Name: "x", Budget: Budget{TTD: time.Second, CatchUp: time.Second, TTR: -1}}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no detector")
	assert.Contains(t, err.Error(), "no integrity reader")
	assert.Contains(t, err.Error(), "negative ttr limit")
	// Before: a latency-only steady state let fast failures count as healthy.
	err = Drill{Name: "x", Steady: slo.LatencyQuantile(0.99, time.Second)}.Validate()
	require.ErrorContains(t, err, "no success-ratio term: failed requests would count as healthy")
	err = Drill{Name: "x", ExpectNoImpact: true, Budget: Budget{TTR: time.Second}}.Validate()
	require.ErrorContains(t, err, "expects no impact but has a TTR")
}

func verdictMessages(r *Result) string {
	var sb strings.Builder
	for _, v := range r.Missed() {
		sb.WriteString(v.Name + ": " + v.Message + "\n")
	}
	return sb.String()
}

func TestDetectWhen(t *testing.T) {
	v := 0.0
	p := slo.NewProbe("alerts_firing", "", func(context.Context) (float64, error) { return v, nil })
	det := DetectWhen(p, func(x float64) bool { return x > 0 })
	fired, err := det(t.Context())
	require.NoError(t, err)
	assert.False(t, fired)
	v = 1
	fired, err = det(t.Context())
	require.NoError(t, err)
	assert.True(t, fired)
	bad := DetectWhen(slo.NewProbe("x", "", func(context.Context) (float64, error) { return 0, errors.New("scrape failed") }), nil)
	_, err = bad(t.Context())
	require.ErrorContains(t, err, "read detector probe x: scrape failed")
}
