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

// synth builds a Result from a synthetic outcome stream: rate requests per
// second from t0 for dur, each succeeding when ok(intended) says so, fed
// through a Recorder exactly as the engine does, then judged by a success
// ratio objective and analysed. The fault's inject bracket is
// [onset−bw/2, onset+bw/2].
func synth(t *testing.T, dur time.Duration, rate int, onset time.Time, bw time.Duration, k int, ok func(at time.Time) bool) *Result {
	t.Helper()
	rec := slo.NewRecorder(t0, w)
	step := time.Second / time.Duration(rate)
	for at := t0; at.Before(t0.Add(dur)); at = at.Add(step) {
		rec.Scheduled(at)
		lat, err := 2*time.Millisecond, error(nil)
		if !ok(at) {
			// A timeout, reported late but keyed by intended time.
			lat, err = time.Second, errors.New("request timed out after 1s")
		}
		rec.Observe(at, lat, err)
	}
	steady := slo.SuccessRatio(0.99)
	bs := rec.SealAll(t0.Add(dur - time.Nanosecond))
	r := &Result{
		Name: "synthetic", Bucket: w, HealthyRun: k, Steady: steady.Name(),
		Limits:  Drill{}.withDefaults().Limits,
		Buckets: bs, Health: judge(nil, bs, steady, slo.RequireData),
	}
	r.Timeline.LoadStarted = t0
	r.Timeline.End = t0.Add(dur)
	if !onset.IsZero() {
		r.Timeline.FaultSent = onset.Add(-bw / 2)
		r.Timeline.FaultAcked = onset.Add(bw / 2)
		r.Timeline.Onset = onset
		r.Faults = []faults.Record{{Action: faults.Action{}, Fault: "down(host->stub)",
			Bracket: faults.Bracket{Sent: r.Timeline.FaultSent, Acked: r.Timeline.FaultAcked}}}
	}
	analyze(r, analysis{detectEvery: w, integrityEvery: 250 * time.Millisecond})
	return r
}

func outage(from, to time.Time) func(time.Time) bool {
	return func(at time.Time) bool { return at.Before(from) || !at.Before(to) }
}

func TestNoImpactMeansTTRZero(t *testing.T) {
	onset := t0.Add(3 * time.Second)
	r := synth(t, 6*time.Second, 1000, onset, 2*time.Millisecond, 10, func(time.Time) bool { return true })
	assert.True(t, r.Measures.TTR.Valid)
	assert.Equal(t, time.Duration(0), r.Measures.TTR.Value)
	assert.True(t, r.Timeline.Impact.IsZero())
	assert.True(t, r.Timeline.Restored.IsZero())
	assert.Equal(t, w+2*time.Millisecond, r.Measures.TTR.Resolution)
	r.Verdicts = Budget{TTR: time.Second}.Evaluate(r)
	assert.True(t, r.Passed(), r.FormatTimeline())
}

func TestOutageOfExactlyDMeasuresDWithinResolution(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 1234 * time.Millisecond} {
		for _, off := range []time.Duration{0, 17 * time.Millisecond, 50 * time.Millisecond, 99 * time.Millisecond} {
			onset := t0.Add(2*time.Second + off)
			r := synth(t, 2*time.Second+d+3*time.Second, 1000, onset, 3*time.Millisecond, 10, outage(onset, onset.Add(d)))
			require.True(t, r.Measures.TTR.Valid, r.FormatTimeline())
			ttr := r.Measures.TTR
			assert.LessOrEqual(t, (ttr.Value - d).Abs(), ttr.Resolution, "D=%s offset=%s TTR=%s", d, off, ttr)
			assert.GreaterOrEqual(t, ttr.Value, d, "restored is a bucket start after the outage")
			assert.Equal(t, r.Timeline.Restored.Sub(r.Timeline.Impact), r.Measures.Impact.Value)
		}
	}
}

func TestFlappingRestoresOnlyAfterKHealthyInARow(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	// Down 1 s, then up 300 ms, down 200 ms, up 500 ms, down 100 ms, up for good.
	down := [][2]time.Duration{{0, time.Second}, {1300 * time.Millisecond, 1500 * time.Millisecond}, {2000 * time.Millisecond, 2100 * time.Millisecond}}
	ok := func(at time.Time) bool {
		for _, iv := range down {
			if !at.Before(onset.Add(iv[0])) && at.Before(onset.Add(iv[1])) {
				return false
			}
		}
		return true
	}
	r := synth(t, 6*time.Second, 1000, onset, 0, 10, ok)
	require.True(t, r.Measures.TTR.Valid)
	assert.Equal(t, onset.Add(2100*time.Millisecond), r.Timeline.Restored, healthString(r.Health))
	assert.Equal(t, 2100*time.Millisecond, r.Measures.TTR.Value)

	out := r.FormatTimeline()
	assert.Contains(t, out, "+1.300s  unhealthy again: success ratio 0.000 < 0.99 (100 of 100 failed, e.g. request timed out after 1s)")
	assert.Contains(t, out, "+2.000s  unhealthy again")

	// With K=3 the first healthy stretch (300 ms) is enough.
	r = synth(t, 6*time.Second, 1000, onset, 0, 3, ok)
	assert.Equal(t, onset.Add(time.Second), r.Timeline.Restored)
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
	// Nothing scheduled: unknown.
	assert.Equal(t, slo.Unknown, slo.RequireData(slo.Bucket{}, slo.SuccessRatio(0.99)).Health)
}

func TestNotRestoredBeforeDeadlineFailsClearly(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	r := synth(t, 5*time.Second, 1000, onset, time.Millisecond, 10, outage(onset, t0.Add(time.Hour)))
	assert.False(t, r.Measures.TTR.Valid)
	assert.False(t, r.Timeline.Impact.IsZero())
	r.Verdicts = Budget{TTR: 10 * time.Second}.Evaluate(r)
	require.False(t, r.Passed())
	msgs := verdictMessages(r)
	assert.Contains(t, msgs, "restored: not restored within 1m0s of onset")
	assert.Contains(t, msgs, "ttr: not restored")
	assert.Contains(t, r.FormatTimeline(), "impact (first unhealthy bucket: success ratio 0.000 < 0.99")
}

func TestRestoredLaterThanTheRecoveryLimitFails(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	r := synth(t, 8*time.Second, 500, onset, 0, 10, outage(onset, onset.Add(3*time.Second)))
	r.Limits.RecoverWithin = 2 * time.Second
	r.Verdicts = Budget{}.Evaluate(r)
	assert.False(t, r.Passed())
	assert.Contains(t, verdictMessages(r), "later than the limit of 2s")
}

func TestOverlappingFaultsOnsetIsFirstInject(t *testing.T) {
	e := &engine{res: &Result{}, onsetSet: make(chan struct{})}
	b1 := faults.Bracket{Sent: t0.Add(2 * time.Second), Acked: t0.Add(2*time.Second + 4*time.Millisecond)}
	b2 := faults.Bracket{Sent: t0.Add(2500 * time.Millisecond), Acked: t0.Add(2501 * time.Millisecond)}
	e.onRecord(faults.Record{Action: faults.Action{At: time.Second}, Fault: "down(a)", Bracket: b1})
	e.onRecord(faults.Record{Action: faults.Action{At: 1500 * time.Millisecond}, Fault: "latency(b)", Bracket: b2})
	e.onRecord(faults.Record{Action: faults.Action{At: 3 * time.Second, Revert: true}, Fault: "down(a)",
		Bracket: faults.Bracket{Sent: t0.Add(3 * time.Second), Acked: t0.Add(3*time.Second + time.Millisecond)}})
	assert.Equal(t, t0.Add(2*time.Second+2*time.Millisecond), e.onset, "onset is the midpoint of the first inject bracket")
	assert.Equal(t, b1.Sent, e.res.Timeline.FaultSent)
	assert.Equal(t, t0.Add(3*time.Second+time.Millisecond), e.reverted)

	// The outage spans both faults: TTR counts from the first onset to the end of the second.
	onset := e.onset
	r := synth(t, 8*time.Second, 1000, onset, 4*time.Millisecond, 10, outage(onset, t0.Add(4*time.Second)))
	require.True(t, r.Measures.TTR.Valid)
	assert.InDelta(t, 2*time.Second, r.Measures.TTR.Value, float64(r.Measures.TTR.Resolution))
	assert.Equal(t, w+4*time.Millisecond, r.Measures.TTR.Resolution)
}

func TestBudgetKindsFailWhenSlowerOrLossy(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	base := func() *Result {
		r := synth(t, 8*time.Second, 1000, onset, 2*time.Millisecond, 10, outage(onset, onset.Add(2*time.Second)))
		r.Timeline.Detected = onset.Add(800 * time.Millisecond)
		r.Timeline.CaughtUp = onset.Add(5 * time.Second)
		r.Steps = []recovery.Result{{Name: "exec pipelinectl resume", Start: onset.Add(time.Second), End: onset.Add(1500 * time.Millisecond), Duration: 500 * time.Millisecond}}
		r.Integrity = integrityOf([]string{"a", "b", "c", "d"}, []string{"a", "b", "b", "c"}, 5)
		analyze(r, analysis{detectEvery: w, integrityEvery: 250 * time.Millisecond})
		return r
	}
	r := base()
	require.True(t, r.Measures.TTR.Valid)
	require.Equal(t, int64(1), r.Integrity.Lost)
	require.Equal(t, int64(1), r.Integrity.Duplicated)
	cases := []struct {
		name   string
		pass   Budget
		fail   Budget
		reason string
	}{
		{"ttr", Budget{TTR: 3 * time.Second}, Budget{TTR: time.Second}, "ttr 2s ± 102ms exceeds the budget of 1s"},
		{"ttd", Budget{TTD: time.Second}, Budget{TTD: 500 * time.Millisecond}, "ttd 800ms ± 102ms exceeds the budget of 500ms"},
		{"impact", Budget{Impact: 3 * time.Second}, Budget{Impact: time.Second}, "exceeds the budget of 1s"},
		{"runbook", Budget{Runbook: time.Second}, Budget{Runbook: 100 * time.Millisecond}, "runbook 500ms exceeds the budget of 100ms"},
		{"catch_up", Budget{CatchUp: 10 * time.Second}, Budget{CatchUp: 3 * time.Second}, "catch_up 5s ± 252ms exceeds"},
		{"failed_requests", Budget{FailedRequests: 5000}, Budget{FailedRequests: 10}, "2000 failed requests, budget 10"},
		{"failed_requests", Budget{FailedRequests: 5000}, Budget{NoFailedRequests: true}, "2000 failed requests, budget 0"},
		{"lost", Budget{Lost: 1, Duplicated: Unchecked}, Budget{Lost: 0, Duplicated: Unchecked}, "1 acknowledged writes lost, budget 0 (e.g. [d])"},
		{"duplicated", Budget{Lost: Unchecked, Duplicated: 1}, Budget{Lost: Unchecked}, "1 acknowledged writes duplicated, budget 0"},
	}
	for _, c := range cases {
		if c.name != "lost" && c.name != "duplicated" {
			c.pass.Lost, c.pass.Duplicated = 1, 1
			c.fail.Lost, c.fail.Duplicated = 1, 1
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
	r := synth(t, 6*time.Second, 1000, onset, 2*time.Millisecond, 10, outage(onset, onset.Add(time.Second)))
	r.Timeline.SteadyVerified = t0.Add(time.Second)
	r.Steps = []recovery.Result{{Name: "restart stub", Start: onset.Add(300 * time.Millisecond), End: onset.Add(400 * time.Millisecond), Duration: 100 * time.Millisecond}}
	analyze(r, analysis{detectEvery: w})
	r.Verdicts = Budget{TTR: 500 * time.Millisecond}.Evaluate(r)
	out := r.FormatTimeline()
	t.Log("\n" + out)
	for _, want := range []string{
		`timeline of drill "synthetic" (t=0 at fault onset`,
		"    -2.030s  load started",
		"    -1.030s  steady state verified (10 healthy buckets of 100ms: success_ratio >= 0.99)",
		"-0.001s  inject down(host->stub): sent",
		"+0.001s  inject down(host->stub): acknowledged (bracket 2ms)",
		"+0.000s  impact (first unhealthy bucket: success ratio",
		`+0.300s  recovery step "restart stub" started`,
		`+0.400s  recovery step "restart stub" done in 100ms`,
		"+1.070s  restored (first of 10 healthy buckets)",
		"measures: TTR 1.07s ± 102ms",
		"ttr              limit 500ms ",
		"MISSED: ttr 1.07s ± 102ms exceeds the budget of 500ms",
		"|xxxxxxxxxxx++++++++++",
	} {
		assert.Contains(t, out, want)
	}
	// Events are in time order.
	assert.Less(t, strings.Index(out, "impact"), strings.Index(out, "restored (first"))
}

func TestIntegrityAccounting(t *testing.T) {
	res := integrityOf([]string{"1", "2", "3"}, []string{"1", "1", "1", "3", "9", "9"}, 5)
	assert.Equal(t, int64(3), res.Acknowledged)
	assert.Equal(t, int64(2), res.Landed)
	assert.Equal(t, int64(1), res.Lost)
	assert.Equal(t, []string{"2"}, res.LostSample)
	assert.Equal(t, int64(3), res.Duplicated)
	assert.True(t, allLanded([]string{"1", "3"}, []string{"3", "1"}))
	assert.False(t, allLanded([]string{"1", "2"}, []string{"1"}))
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
