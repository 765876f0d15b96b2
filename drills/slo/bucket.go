package slo

import (
	"fmt"
	"math"
	"time"
)

// Health is the verdict on one bucket.
type Health int8

const (
	// Unknown means the bucket holds no data to judge (no request was
	// scheduled in it, no probe sample covers it). It neither extends nor
	// breaks a run of healthy buckets.
	Unknown Health = iota
	// Healthy means every objective held in the bucket.
	Healthy
	// Unhealthy means at least one objective was missed in the bucket.
	Unhealthy
)

// String returns "unknown", "healthy" or "unhealthy".
func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	default:
		return "unknown"
	}
}

// Judgement is an objective's verdict on a bucket, with the reason for it
// ("success ratio 0.42 < 0.999").
type Judgement struct {
	Health Health
	Reason string
}

// Quantile is one latency quantile of a bucket.
type Quantile struct {
	Q     float64       // in (0, 1], e.g. 0.99
	Value time.Duration // latency measured from the intended send time
}

// ProbeStat summarises the samples of one probe that fall in a bucket.
type ProbeStat struct {
	N       int     // samples taken in this bucket
	Errs    int     // samples that failed
	Min     float64 // over successful samples
	Max     float64
	Last    float64
	LastErr string
}

func (s *ProbeStat) add(v float64, err error) {
	s.N++
	if err != nil {
		s.Errs++
		s.LastErr = err.Error()
		return
	}
	if s.N-s.Errs == 1 {
		s.Min, s.Max = v, v
	} else {
		s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
	}
	s.Last = v
}

// Bucket is the sealed summary of one time bucket: every request whose
// intended send time falls in [Start, Start+Width), and the probe samples
// taken in it.
type Bucket struct {
	Index     int
	Start     time.Time
	Width     time.Duration
	Scheduled int64 // requests the pacer scheduled in the bucket
	OK        int64 // requests that succeeded
	Failed    int64 // requests that failed or timed out, plus scheduled requests that never reported
	// FirstErr is the first error seen in the bucket, as a sample.
	FirstErr string
	// Quantiles of the latency of completed requests (successes and
	// failures alike; a timeout counts at its timeout), in ascending Q.
	Quantiles []Quantile
	Max       time.Duration
	Probes    map[string]ProbeStat
}

// End is the end of the bucket.
func (b Bucket) End() time.Time { return b.Start.Add(b.Width) }

// Completed is the number of requests that reported.
func (b Bucket) Completed() int64 { return b.OK + b.Failed }

// Requests is the number of requests attributed to the bucket: the larger
// of those scheduled and those that reported.
func (b Bucket) Requests() int64 { return max(b.Scheduled, b.Completed()) }

// SuccessRatio is OK / Requests; ok is false when the bucket has no requests.
func (b Bucket) SuccessRatio() (ratio float64, ok bool) {
	n := b.Requests()
	if n == 0 {
		return 0, false
	}
	return float64(b.OK) / float64(n), true
}

// Quantile returns the latency at quantile q (0 < q ≤ 1). ok is false when
// no request completed in the bucket or q was not recorded (see Quantiles).
func (b Bucket) Quantile(q float64) (d time.Duration, ok bool) {
	if b.Completed() == 0 {
		return 0, false
	}
	if q >= 1 {
		return b.Max, true
	}
	for _, x := range b.Quantiles {
		if math.Abs(x.Q-q) < 1e-9 {
			return x.Value, true
		}
	}
	return 0, false
}

// HasData reports whether the bucket holds any request or probe sample.
func (b Bucket) HasData() bool {
	if b.Requests() > 0 {
		return true
	}
	for _, s := range b.Probes {
		if s.N > 0 {
			return true
		}
	}
	return false
}

// String is a compact description for timelines.
func (b Bucket) String() string {
	r, _ := b.SuccessRatio()
	return fmt.Sprintf("bucket %d: %d req, ok %.3f", b.Index, b.Requests(), r)
}

// Rule turns the steady-state objective into a bucket's health. It is a
// policy: replace it to judge buckets differently (e.g. to treat a bucket
// without data as unhealthy).
type Rule func(b Bucket, steady Objective) Judgement

// RequireData is the default Rule (used when a drill sets none): a bucket with no request and no probe
// sample is Unknown; otherwise the steady-state objective decides. A bucket
// in which requests were scheduled but none succeeded (they failed, timed
// out, or never reported) has data and is judged, so an outage never hides
// as an empty bucket.
func RequireData(b Bucket, steady Objective) Judgement {
	if !b.HasData() {
		return Judgement{Health: Unknown, Reason: "no data"}
	}
	return steady.Judge(b)
}
