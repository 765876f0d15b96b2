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
// at 1000 req/s from the test process. They need Docker and the images
// (make images) and skip under -short.
//
// Environment:
//
//	FIREDRILL_CALIBRATION_REPS    repetitions per outage length (default 1)
//	FIREDRILL_CALIBRATION_BUCKET  bucket width (default 100ms)
//	FIREDRILL_CALIBRATION_DS      outage lengths, comma-separated (default 1s,3s,5s)

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

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func outageLengths(t *testing.T) []time.Duration {
	v := os.Getenv("FIREDRILL_CALIBRATION_DS")
	if v == "" {
		return []time.Duration{time.Second, 3 * time.Second, 5 * time.Second}
	}
	var ds []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		require.NoError(t, err, "FIREDRILL_CALIBRATION_DS")
		require.Positive(t, d, "FIREDRILL_CALIBRATION_DS")
		ds = append(ds, d)
	}
	return ds
}

// outageDrill takes the link down at +1s for exactly d; it comes back by
// itself (no runbook).
func outageDrill(link *scenarios.Link, d, bucket time.Duration, budget time.Duration) drills.Drill {
	return drills.Drill{
		Name: fmt.Sprintf("calibration-down-%s", d),
		Workload: load.HTTP(load.Constant(1000), load.Target{URL: "http://" + link.HostAddr + "/"},
			load.WithTimeout(500*time.Millisecond)),
		Steady: slo.SuccessRatio(0.99),
		Faults: faults.For(time.Second, d, faults.Down(link)),
		Bucket: bucket,
		Budget: drills.Budget{TTR: budget},
		Limits: drills.Limits{SteadyWithin: 20 * time.Second, RecoverWithin: d + 20*time.Second},
	}
}

func TestCalibrationOutage(t *testing.T) {
	link := stub(t)
	reps := envInt("FIREDRILL_CALIBRATION_REPS", 1)
	bucket := envDuration("FIREDRILL_CALIBRATION_BUCKET", 100*time.Millisecond)
	for _, d := range outageLengths(t) {
		t.Run(d.String(), func(t *testing.T) {
			var sum, worst time.Duration
			for i := range reps {
				res := drills.Run(t, outageDrill(link, d, bucket, d+time.Second))
				ttr := res.Measures.TTR
				require.True(t, ttr.Valid, res.FormatTimeline())
				err := (ttr.Value - d).Abs()
				sum += err
				worst = max(worst, err)
				// The link was down for D as scheduled plus however late
				// the revert was sent and took: the outage that really
				// happened runs from onset to the revert's midpoint.
				revert := planRevert(t, res)
				ran := revert.Bracket.Sent.Add(revert.Bracket.Width() / 2).Sub(res.Timeline.Onset)
				t.Logf("rep %d: D=%s TTR=%s error=%s (outage as run %s, error %s)", i+1, d, ttr, err.Round(time.Millisecond),
					ran.Round(time.Millisecond), (ttr.Value - ran).Abs().Round(time.Millisecond))
				assert.LessOrEqual(t, (ttr.Value - ran).Abs(), ttr.Resolution, "|TTR − outage| within the resolution\n%s", res.FormatTimeline())
				assert.LessOrEqual(t, err, ttr.Resolution+(ran-d).Abs(), "|TTR − D| within the resolution plus the revert's delay\n%s", res.FormatTimeline())
			}
			t.Logf("calibration D=%s bucket=%s reps=%d: mean |error| %s, max %s", d, bucket, reps,
				(sum / time.Duration(reps)).Round(time.Millisecond), worst.Round(time.Millisecond))
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
			res, err := drills.Execute(t.Context(), outageDrill(link, d, 100*time.Millisecond, d/2))
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
	// Impact is the start of the first unhealthy bucket (clamped to onset):
	// within two buckets of onset means the first or second bucket after it.
	assert.LessOrEqual(t, res.Timeline.Impact.Sub(res.Timeline.Onset), 2*bucket, res.FormatTimeline())
	i := int(res.Timeline.Impact.Sub(res.Timeline.LoadStarted) / bucket)
	assert.Contains(t, res.Health[i].Reason, "p99 latency")
	p99, ok := res.Buckets[i+1].Quantile(0.99)
	require.True(t, ok)
	assert.GreaterOrEqual(t, p99, 300*time.Millisecond)
}
