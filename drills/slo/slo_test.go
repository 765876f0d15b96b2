package slo_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/slo"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const w = 100 * time.Millisecond

var errTimeout = errors.New("timed out")

func TestBucketsAreKeyedByIntendedTime(t *testing.T) {
	r := slo.NewRecorder(t0, w)
	// A request scheduled in bucket 0 that times out 2 s later still
	// counts in bucket 0.
	r.Scheduled(t0.Add(50 * time.Millisecond))
	r.Observe(t0.Add(50*time.Millisecond), 2*time.Second, errTimeout)
	r.Scheduled(t0.Add(150 * time.Millisecond))
	r.Observe(t0.Add(150*time.Millisecond), 3*time.Millisecond, nil)
	bs := r.SealAll(t0.Add(250 * time.Millisecond))
	require.Len(t, bs, 3)
	assert.Equal(t, int64(1), bs[0].Failed)
	assert.Equal(t, "timed out", bs[0].FirstErr)
	assert.Equal(t, int64(0), bs[0].OK)
	assert.Equal(t, int64(1), bs[1].OK)
	assert.Equal(t, int64(0), bs[2].Requests())
	p99, ok := bs[0].Quantile(0.99)
	require.True(t, ok)
	assert.InDelta(t, 2*time.Second, p99, float64(25*time.Millisecond))
	assert.Equal(t, t0.Add(100*time.Millisecond), bs[1].Start)
}

func TestSealWaitsForRequestsInFlightThenCountsThemFailed(t *testing.T) {
	r := slo.NewRecorder(t0, w)
	r.Scheduled(t0.Add(10 * time.Millisecond))
	r.Scheduled(t0.Add(20 * time.Millisecond))
	r.Observe(t0.Add(10*time.Millisecond), time.Millisecond, nil)
	r.Scheduled(t0.Add(210 * time.Millisecond)) // watermark past bucket 0
	// One request still in flight: not sealed before the limit.
	assert.Empty(t, r.Seal(t0.Add(300*time.Millisecond), time.Second, w))
	// Past end + limit + grace: sealed, the missing request failed.
	bs := r.Seal(t0.Add(1300*time.Millisecond), time.Second, w)
	require.NotEmpty(t, bs)
	assert.Equal(t, int64(1), bs[0].OK)
	assert.Equal(t, int64(1), bs[0].Failed)
	ratio, _ := bs[0].SuccessRatio()
	assert.InDelta(t, 0.5, ratio, 1e-9)
}

func TestSealIsPromptWhenEverythingReported(t *testing.T) {
	r := slo.NewRecorder(t0, w)
	r.Scheduled(t0.Add(10 * time.Millisecond))
	r.Observe(t0.Add(10*time.Millisecond), time.Millisecond, nil)
	r.Scheduled(t0.Add(110 * time.Millisecond))
	bs := r.Seal(t0.Add(200*time.Millisecond), time.Second, w)
	require.Len(t, bs, 1)
	assert.Equal(t, int64(1), bs[0].OK)
	// Late observations for a sealed bucket are dropped and counted.
	r.Observe(t0.Add(20*time.Millisecond), time.Millisecond, nil)
	assert.Equal(t, int64(1), r.Late())
}

func TestObjectives(t *testing.T) {
	b := slo.Bucket{Scheduled: 100, OK: 99, Failed: 1,
		Quantiles: []slo.Quantile{{Q: 0.99, Value: 120 * time.Millisecond}}, Max: 300 * time.Millisecond}
	assert.Equal(t, slo.Healthy, slo.SuccessRatio(0.99).Judge(b).Health)
	j := slo.SuccessRatio(0.999).Judge(b)
	assert.Equal(t, slo.Unhealthy, j.Health)
	assert.Contains(t, j.Reason, "success ratio 0.990 < 0.999")

	j = slo.LatencyQuantile(0.99, 100*time.Millisecond).Judge(b)
	assert.Equal(t, slo.Unhealthy, j.Health)
	assert.Contains(t, j.Reason, "p99 latency 120ms > 100ms")
	assert.Equal(t, slo.Healthy, slo.LatencyQuantile(0.99, 200*time.Millisecond).Judge(b).Health)

	// Scheduled but nothing completed: unhealthy, not unknown.
	stuck := slo.Bucket{Scheduled: 10}
	assert.Equal(t, slo.Unhealthy, slo.LatencyQuantile(0.99, time.Second).Judge(stuck).Health)
	assert.Equal(t, slo.Unhealthy, slo.SuccessRatio(0.5).Judge(slo.Bucket{Scheduled: 10, Failed: 10}).Health)
	// No data: unknown.
	assert.Equal(t, slo.Unknown, slo.SuccessRatio(0.5).Judge(slo.Bucket{}).Health)
	assert.Equal(t, slo.Unknown, slo.RequireData(slo.Bucket{}, slo.SuccessRatio(0.5)).Health)
}

func TestProbeObjectivesAndAll(t *testing.T) {
	lag := slo.NewProbe("lag_s", "s", func(context.Context) (float64, error) { return 0, nil })
	steady := slo.All(slo.SuccessRatio(0.9), slo.Freshness(lag, 2*time.Second))
	ok := slo.Bucket{Scheduled: 10, OK: 10, Probes: map[string]slo.ProbeStat{"lag_s": {N: 1, Min: 1, Max: 1.5, Last: 1.5}}}
	assert.Equal(t, slo.Healthy, steady.Judge(ok).Health)

	stale := ok
	stale.Probes = map[string]slo.ProbeStat{"lag_s": {N: 2, Min: 1, Max: 3, Last: 1}}
	j := steady.Judge(stale)
	assert.Equal(t, slo.Unhealthy, j.Health)
	assert.Contains(t, j.Reason, "lag_s 3 s not <= 2s")

	failed := ok
	failed.Probes = map[string]slo.ProbeStat{"lag_s": {N: 1, Errs: 1, LastErr: "connection refused"}}
	j = steady.Judge(failed)
	assert.Equal(t, slo.Unhealthy, j.Health)
	assert.Contains(t, j.Reason, "connection refused")

	none := ok
	none.Probes = nil
	assert.Equal(t, slo.Unknown, steady.Judge(none).Health)

	assert.Len(t, slo.ProbesOf(slo.All(steady, slo.Lag(lag, 5))), 1)
	assert.Contains(t, slo.QuantilesOf(slo.All(slo.LatencyQuantile(0.95, time.Second))), 0.95)
}

// Before: a sample was copied into the buckets after it that had none,
// so a probe slower than the bucket looked fresh when it was not.
func TestProbeSamplesAreNotCarriedForward(t *testing.T) {
	r := slo.NewRecorder(t0, w)
	r.ObserveProbe("lag", slo.Sample{Start: t0.Add(10 * time.Millisecond), End: t0.Add(30 * time.Millisecond), Value: 4}, false)
	r.ObserveProbe("lag", slo.Sample{Start: t0.Add(310 * time.Millisecond), End: t0.Add(320 * time.Millisecond), Err: errors.New("down")}, false)
	bs := r.SealAll(t0.Add(900 * time.Millisecond))
	require.Len(t, bs, 10)
	assert.InDelta(t, 4.0, bs[0].Probes["lag"].Last, 1e-9)
	_, ok := bs[1].Probes["lag"]
	assert.False(t, ok, "a bucket with no fresh sample has no data")
	assert.Equal(t, 1, bs[3].Probes["lag"].Errs)
	ss := r.Samples()["lag"]
	require.Len(t, ss, 2)
	assert.Equal(t, t0.Add(30*time.Millisecond), ss[0].End, "a sample keeps its read's bracket")
}

func TestJudgeEvidence(t *testing.T) {
	lag := slo.NewProbe("lag", "s", func(context.Context) (float64, error) { return 0, nil })
	steady := slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 100*time.Millisecond), slo.AtMost(lag, 1))
	assert.True(t, slo.CountsFailures(steady))
	assert.False(t, slo.CountsFailures(slo.All(slo.LatencyQuantile(0.99, time.Second), slo.AtMost(lag, 1))))
	ok := slo.RequestBucket(t0, 5*time.Millisecond, nil, nil)
	slow := slo.RequestBucket(t0, 500*time.Millisecond, nil, nil)
	failed := slo.RequestBucket(t0, time.Millisecond, errors.New("refused"), nil)
	assert.Equal(t, slo.Healthy, slo.JudgeEvidence(steady, ok), "the probe term has no data and does not make it unknown")
	assert.Equal(t, slo.Unhealthy, slo.JudgeEvidence(steady, slow))
	assert.Equal(t, slo.Unhealthy, slo.JudgeEvidence(steady, failed))
	assert.Equal(t, slo.Unhealthy, slo.JudgeEvidence(steady, slo.SampleBucket("lag", slo.Sample{Value: 3})))
	assert.Equal(t, slo.Healthy, slo.JudgeEvidence(steady, slo.SampleBucket("lag", slo.Sample{Value: 0})))
	assert.Equal(t, slo.Unknown, slo.JudgeEvidence(steady, slo.SampleBucket("other", slo.Sample{Value: 0})))
}

func TestPollRecordsSamplesAndErrors(t *testing.T) {
	r := slo.NewRecorder(time.Now(), 10*time.Millisecond)
	var n atomic.Int64
	p := slo.NewProbe("depth", "", func(context.Context) (float64, error) {
		i := n.Add(1)
		if i%2 == 0 {
			return 0, errors.New("boom")
		}
		return float64(i), nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	slo.Poll(ctx, p, r)
	var samples, errs int
	for _, b := range r.SealAll(time.Now()) {
		if s, ok := b.Probes["depth"]; ok {
			samples += s.N
			errs += s.Errs
		}
	}
	assert.GreaterOrEqual(t, samples, 5)
	assert.Positive(t, errs)
}
