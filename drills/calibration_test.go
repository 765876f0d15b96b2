package drills_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// Calibration drills: a stub HTTP service behind a toxiproxy link, driven
// from the test process. They need Docker and the images (make images) and
// skip under -short. The true outage is the revert bracket's midpoint less
// the onset's; the drill's TTR must hold it within its stated bounds.
//
// Environment (make calibrate sets the full matrix):
//
//	FIREDRILL_CALIBRATION_REPS    repetitions per case (default 1)
//	FIREDRILL_CALIBRATION_FULL=1  every outage length × bucket width × rate
//	FIREDRILL_CALIBRATION_DS      outage lengths (default 0.35s,1.1s,2.7s,4.3s)
//	FIREDRILL_CALIBRATION_BUCKETS bucket widths (default 50ms,100ms,250ms)
//	FIREDRILL_CALIBRATION_RATES   request rates (default 300,1000,2000)

// stub starts the stub behind a link from the host and returns the link.
func stub(t *testing.T) *scenarios.Link {
	t.Helper()
	scenarios.RequireDocker(t)
	run := scenarios.Start(t, scenarios.System{
		Name: "calibration",
		Containers: []scenarios.ContainerSpec{{
			Name:  "stub",
			Image: scenarios.Image(scenarios.ImageStub),
			Ports: []string{"8080/tcp"},
			Ready: scenarios.ReadyHTTP("8080/tcp", "/healthz"),
		}},
		Links: []scenarios.LinkSpec{{From: scenarios.Host, To: "stub", Port: "8080/tcp"}},
	})
	return run.MustLink("host->stub")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func durationsEnv(t *testing.T, name string, def []time.Duration) []time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var ds []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		require.NoError(t, err, name)
		require.Positive(t, d, name)
		ds = append(ds, d)
	}
	return ds
}

func intsEnv(t *testing.T, name string, def []int) []int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(t, err, name)
		require.Positive(t, n, name)
		out = append(out, n)
	}
	return out
}

// calCase is one calibration setting.
type calCase struct {
	d, bucket time.Duration
	rate      int
}

func (c calCase) String() string { return fmt.Sprintf("D=%s/bucket=%s/rate=%d", c.d, c.bucket, c.rate) }

// calibrationCases is the full matrix with FIREDRILL_CALIBRATION_FULL=1,
// else a design that covers every length, width and rate at least once
// (with the 1000 req/s target at every width).
func calibrationCases(t *testing.T) []calCase {
	t.Helper()
	ms := time.Millisecond
	ds := durationsEnv(t, "FIREDRILL_CALIBRATION_DS", []time.Duration{350 * ms, 1100 * ms, 2700 * ms, 4300 * ms})
	ws := durationsEnv(t, "FIREDRILL_CALIBRATION_BUCKETS", []time.Duration{50 * ms, 100 * ms, 250 * ms})
	rs := intsEnv(t, "FIREDRILL_CALIBRATION_RATES", []int{300, 1000, 2000})
	var cs []calCase
	if os.Getenv("FIREDRILL_CALIBRATION_FULL") == "1" {
		for _, d := range ds {
			for _, w := range ws {
				for _, r := range rs {
					cs = append(cs, calCase{d, w, r})
				}
			}
		}
		return cs
	}
	for i, d := range ds {
		cs = append(cs, calCase{d, ws[i%len(ws)], rs[i%len(rs)]})
	}
	for _, w := range ws {
		cs = append(cs, calCase{ds[len(ds)/2], w, 1000})
	}
	return cs
}

// outageDrill takes the link down at +1s for exactly d; it comes back by
// itself (no runbook).
func outageDrill(link *scenarios.Link, c calCase, budget time.Duration) drills.Drill {
	return drills.Drill{
		Name: fmt.Sprintf("calibration-down-%s", c.d),
		Workload: load.HTTP(load.Constant(c.rate), load.Target{URL: "http://" + link.HostAddr + "/"},
			load.WithTimeout(500*time.Millisecond)),
		Steady: slo.SuccessRatio(0.99),
		Faults: faults.For(time.Second, c.d, faults.Down(link)),
		Bucket: c.bucket,
		Budget: drills.Budget{TTR: budget},
		Limits: drills.Limits{SteadyWithin: 20 * time.Second, RecoverWithin: c.d + 20*time.Second},
	}
}

// truth is the outage as it ran, with its own bounds: from the onset to
// the revert (each known to its bracket).
func truth(t *testing.T, res *drills.Result) (mid, lo, hi time.Duration) {
	t.Helper()
	revert := planRevert(t, res)
	ep := res.Episodes[0]
	on := ep.OnsetBounds
	mid = revert.Bracket.Sent.Add(revert.Bracket.Width() / 2).Sub(ep.Onset)
	return mid, revert.Bracket.Sent.Sub(on.Acked), revert.Bracket.Acked.Sub(on.Sent)
}

// TestCalibrationOutage: at every case the true outage lies inside the
// stated bounds, and the TTR is within 5 ms of it at 1000 req/s (within
// two request intervals plus the brackets at other rates). The last line
// of each case is a row of the table `make calibrate` prints.
func TestCalibrationOutage(t *testing.T) {
	link := stub(t)
	reps := envInt("FIREDRILL_CALIBRATION_REPS", 1)
	for _, c := range calibrationCases(t) {
		t.Run(c.String(), func(t *testing.T) {
			var sum, worst, widest time.Duration
			inside := 0
			for i := range reps {
				res := drills.Run(t, outageDrill(link, c, c.d+5*time.Second))
				ttr := res.Measures.TTR
				require.True(t, ttr.Valid, res.FormatTimeline())
				require.Len(t, res.Episodes, 1, res.FormatTimeline())
				mid, lo, hi := truth(t, res)
				err := (ttr.Value - mid).Abs()
				sum += err
				worst, widest = max(worst, err), max(widest, ttr.Resolution())
				// The truth is itself an interval (the brackets): it must
				// meet the stated bounds.
				in := lo <= ttr.Upper && hi >= ttr.Lower
				if in {
					inside++
				}
				t.Logf("rep %d: truth %s [%s, %s], TTR %s in %s (%s), error %s", i+1, mid.Round(10*time.Microsecond),
					lo.Round(10*time.Microsecond), hi.Round(10*time.Microsecond), ttr, ttr.Interval(), ttr.Source, err.Round(10*time.Microsecond))
				assert.True(t, in, "the true outage [%s, %s] lies outside the stated bounds %s\n%s", lo, hi, ttr.Interval(), res.FormatTimeline())
				spacing := time.Second / time.Duration(c.rate)
				tol := 2*spacing + (hi - lo) + res.Load.MaxLate
				if c.rate == 1000 {
					tol = max(5*time.Millisecond, res.Load.MaxLate)
				}
				assert.LessOrEqual(t, err, tol, "|TTR − truth| %s over %s\n%s", err, tol, res.FormatTimeline())
			}
			t.Logf("calibration | %6s | %6s | %5d | %d/%d inside | %s | %s | ± %s |", c.d, c.bucket, c.rate,
				inside, reps, (sum / time.Duration(reps)).Round(10*time.Microsecond), worst.Round(10*time.Microsecond), widest.Round(10*time.Microsecond))
		})
	}
}

// planRevert returns the record of the schedule's revert.
func planRevert(t *testing.T, res *drills.Result) faults.Record {
	t.Helper()
	for _, r := range res.Faults {
		if r.Action.Revert && !r.Cleanup && r.Err == nil {
			return r
		}
	}
	t.Fatalf("no revert recorded\n%s", res.FormatTimeline())
	return faults.Record{}
}

// TestCalibrationNegativeTwin: the same outage with a TTR budget of D/2
// must fail the drill. It runs through Execute, so the test itself passes
// exactly when the drill's verdict fails. Its result is not added to the
// report: it is an assertion about the engine, not a drill sample.
func TestCalibrationNegativeTwin(t *testing.T) {
	link := stub(t)
	for _, d := range []time.Duration{time.Second, 3 * time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			res, err := drills.Execute(t.Context(), outageDrill(link, calCase{d, 100 * time.Millisecond, 1000}, d/2))
			require.NoError(t, err)
			require.True(t, res.Measures.TTR.Valid, res.FormatTimeline())
			assert.False(t, res.Passed(), "a TTR budget of D/2 must be missed\n%s", res.FormatTimeline())
			missed := res.Missed()
			require.Len(t, missed, 1)
			assert.Equal(t, "ttr", missed[0].Name)
			assert.Contains(t, missed[0].Message, "exceeds the budget of "+(d/2).String())
		})
	}
}

// TestCalibrationLatency: 300 ms added on the link breaches a p99 ≤ 100 ms
// steady state within two buckets of onset.
func TestCalibrationLatency(t *testing.T) {
	link := stub(t)
	bucket := 100 * time.Millisecond
	res := drills.Run(t, drills.Drill{
		Name: "calibration-latency-300ms",
		Workload: load.HTTP(load.Constant(1000), load.Target{URL: "http://" + link.HostAddr + "/"},
			load.WithTimeout(2*time.Second)),
		Steady: slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 100*time.Millisecond)),
		Faults: faults.For(time.Second, 2*time.Second, faults.Latency(link, 300*time.Millisecond)),
		Bucket: bucket,
		Limits: drills.Limits{SteadyWithin: 20 * time.Second},
	})
	require.False(t, res.Timeline.Impact.IsZero(), res.FormatTimeline())
	// Impact is the first slow request after onset: well within two
	// buckets, and the first unhealthy bucket is at most two after onset's.
	assert.LessOrEqual(t, res.Timeline.Impact.Sub(res.Timeline.Onset), 2*bucket, res.FormatTimeline())
	on := int(res.Timeline.Onset.Sub(res.Timeline.LoadStarted) / bucket)
	i := on
	for i < len(res.Health) && res.Health[i].Health != slo.Unhealthy {
		i++
	}
	require.LessOrEqual(t, i-on, 2, res.FormatTimeline())
	assert.Contains(t, res.Health[i].Reason, "p99 latency")
	p99, ok := res.Buckets[i+1].Quantile(0.99)
	require.True(t, ok)
	assert.GreaterOrEqual(t, p99, 300*time.Millisecond)
}
