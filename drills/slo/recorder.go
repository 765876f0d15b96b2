package slo

import (
	"math"
	"slices"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// DefaultBucket is the default bucket width.
const DefaultBucket = 100 * time.Millisecond

// DefaultQuantiles are the latency quantiles every sealed bucket keeps.
// Objectives that need others declare them (see QuantileUser).
var defaultQuantiles = []float64{0.5, 0.9, 0.99, 0.999}

// Latencies are recorded in microseconds from 1 µs to one hour with two
// significant digits (1% error): about 25 KiB per open bucket.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 2
)

// Recorder aggregates outcomes and probe samples into buckets keyed by
// intended time. It is safe for concurrent use. Open buckets hold an HDR
// histogram; Seal turns settled buckets into Bucket summaries and recycles
// their histograms, so memory is bounded by the number of open buckets.
type Recorder struct {
	mu        sync.Mutex
	origin    time.Time
	width     time.Duration
	qs        []float64
	sealed    []Bucket
	open      []*acc // open[j] is bucket len(sealed)+j
	watermark time.Time
	samples   map[string][]Sample // every probe sample, in the order reported
	late      int64
	free      []*hdrhistogram.Histogram
}

// Sample is one probe read: the value holds at some instant in [Start −
// Staleness, End] (Start and End bracket the read; Staleness is how old
// the probe declares its source may be).
type Sample struct {
	Start, End time.Time
	Staleness  time.Duration
	Value      float64
	Err        error
}

// maxErrSample bounds the error sample kept per bucket.
const maxErrSample = 200

type acc struct {
	firstErr              string
	scheduled, ok, failed int64
	pending               int // probe polls in flight
	hist                  *hdrhistogram.Histogram
	probes                map[string]*ProbeStat
}

// NewRecorder returns a Recorder whose bucket 0 starts at origin. width ≤ 0
// means DefaultBucket. quantiles (in (0, 1)) are kept in each sealed bucket
// in addition to p50, p90, p99 and p99.9.
func NewRecorder(origin time.Time, width time.Duration, quantiles ...float64) *Recorder {
	if width <= 0 {
		width = DefaultBucket
	}
	qs := append(slices.Clone(defaultQuantiles), quantiles...)
	slices.Sort(qs)
	qs = slices.CompactFunc(qs, func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })
	qs = slices.DeleteFunc(qs, func(q float64) bool { return q <= 0 || q >= 1 })
	return &Recorder{
		origin:  origin,
		width:   width,
		qs:      qs,
		samples: map[string][]Sample{},
	}
}

// Origin is the start of bucket 0.
func (r *Recorder) Origin() time.Time { return r.origin }

// Width is the bucket width.
func (r *Recorder) Width() time.Duration { return r.width }

// Index returns the bucket index of t (negative before the origin).
func (r *Recorder) Index(t time.Time) int {
	d := t.Sub(r.origin)
	i := int(d / r.width)
	if d < 0 && d%r.width != 0 {
		i--
	}
	return i
}

// accAt returns the open bucket of t, or nil when t's bucket is sealed or
// before the origin. Callers hold r.mu.
func (r *Recorder) accAt(t time.Time) *acc {
	i := r.Index(t) - len(r.sealed)
	if i < 0 {
		return nil
	}
	for len(r.open) <= i {
		r.open = append(r.open, &acc{})
	}
	return r.open[i]
}

// Scheduled records that a request was scheduled at intended.
func (r *Recorder) Scheduled(intended time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if intended.After(r.watermark) {
		r.watermark = intended
	}
	if a := r.accAt(intended); a != nil {
		a.scheduled++
	} else {
		r.late++
	}
}

// Observe records the outcome of a request scheduled at intended, with its
// latency measured from intended; err is nil on success. The bucket keeps
// the first error as a sample for messages.
func (r *Recorder) Observe(intended time.Time, latency time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.accAt(intended)
	if a == nil {
		r.late++
		return
	}
	if err == nil {
		a.ok++
	} else {
		a.failed++
		if a.firstErr == "" {
			a.firstErr = err.Error()
			if len(a.firstErr) > maxErrSample {
				a.firstErr = a.firstErr[:maxErrSample] + "…"
			}
		}
	}
	if a.hist == nil {
		if n := len(r.free); n > 0 {
			a.hist, r.free = r.free[n-1], r.free[:n-1]
		} else {
			a.hist = hdrhistogram.New(histLowest, histHighest, histDigits)
		}
	}
	us := int64(latency / time.Microsecond)
	us = min(max(us, histLowest), histHighest)
	_ = a.hist.RecordValue(us) // in range by construction
}

// ProbeStarted records that a poll of a probe started at `at`; the bucket
// of `at` is not sealed before ObserveProbe reports it (or its hard limit
// passes).
func (r *Recorder) ProbeStarted(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.accAt(at); a != nil {
		a.pending++
	}
}

// ObserveProbe records a probe sample in the bucket of its read's start.
// started tells whether ProbeStarted was called for it. Every sample is
// also kept whole (see Samples), so that a measure can be located to the
// read that saw it.
func (r *Recorder) ObserveProbe(name string, smp Sample, started bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples[name] = append(r.samples[name], smp)
	at, v, err := smp.Start, smp.Value, smp.Err
	a := r.accAt(at)
	if a == nil {
		r.late++
		return
	}
	if started && a.pending > 0 {
		a.pending--
	}
	if a.probes == nil {
		a.probes = map[string]*ProbeStat{}
	}
	s := a.probes[name]
	if s == nil {
		s = &ProbeStat{}
		a.probes[name] = s
	}
	s.add(v, err)
}

// Samples returns every sample of every probe so far, by probe name, each
// list in order of read start.
func (r *Recorder) Samples() map[string][]Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]Sample, len(r.samples))
	for name, ss := range r.samples {
		ss = slices.Clone(ss)
		slices.SortStableFunc(ss, func(a, b Sample) int { return a.Start.Compare(b.Start) })
		out[name] = ss
	}
	return out
}

// Late is the number of observations that arrived after their bucket was
// sealed and were dropped.
func (r *Recorder) Late() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.late
}

// Seal seals every bucket that has settled by now and returns all sealed
// buckets so far. A bucket settles once now is past its end plus grace, the
// scheduler has moved past it and every request and probe poll in it has
// reported; or, at the latest, once now is past its end plus limit plus
// grace (limit being the longest a request or probe poll may take).
// Requests that never reported by then count as failed.
func (r *Recorder) Seal(now time.Time, limit, grace time.Duration) []Bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		idx := len(r.sealed)
		end := r.origin.Add(time.Duration(idx+1) * r.width)
		if now.Before(end.Add(grace)) {
			break
		}
		var a *acc
		if len(r.open) > 0 {
			a = r.open[0]
		}
		if now.Before(end.Add(limit + grace)) {
			settled := !r.watermark.Before(end) &&
				(a == nil || (a.ok+a.failed >= a.scheduled && a.pending == 0))
			if !settled {
				break
			}
		}
		r.sealOne()
	}
	return r.sealed[:len(r.sealed):len(r.sealed)]
}

// SealAll seals every open bucket up to and including the bucket of until,
// settled or not, and returns all sealed buckets. Call it once the workload
// has drained and probes have stopped.
func (r *Recorder) SealAll(until time.Time) []Bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.Index(until)
	for len(r.sealed) <= last {
		r.sealOne()
	}
	return r.sealed[:len(r.sealed):len(r.sealed)]
}

// Sealed returns the buckets sealed so far.
func (r *Recorder) Sealed() []Bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sealed[:len(r.sealed):len(r.sealed)]
}

// sealOne seals the first open bucket (an empty one if none is open).
// Callers hold r.mu.
func (r *Recorder) sealOne() {
	idx := len(r.sealed)
	var a *acc
	if len(r.open) > 0 {
		a = r.open[0]
		r.open[0] = nil
		r.open = r.open[1:]
	} else {
		a = &acc{}
	}
	b := Bucket{
		Index:     idx,
		Start:     r.origin.Add(time.Duration(idx) * r.width),
		Width:     r.width,
		Scheduled: a.scheduled,
		OK:        a.ok,
		Failed:    a.failed,
		FirstErr:  a.firstErr,
	}
	if missing := a.scheduled - a.ok - a.failed; missing > 0 {
		b.Failed += missing
	}
	if a.hist != nil {
		pcts := make([]float64, len(r.qs))
		for i, q := range r.qs {
			pcts[i] = q * 100
		}
		vals := a.hist.ValueAtPercentilesSlice(pcts)
		b.Quantiles = make([]Quantile, len(r.qs))
		for i, q := range r.qs {
			b.Quantiles[i] = Quantile{Q: q, Value: time.Duration(vals[i]) * time.Microsecond}
		}
		b.Max = time.Duration(a.hist.Max()) * time.Microsecond
		a.hist.Reset()
		r.free = append(r.free, a.hist)
		a.hist = nil
	}
	// A bucket holds only the samples whose read started in it: a bucket
	// with no fresh sample has no data for that probe, never a copy of an
	// older one.
	if len(a.probes) > 0 {
		b.Probes = make(map[string]ProbeStat, len(a.probes))
		for name, s := range a.probes {
			b.Probes[name] = *s
		}
	}
	r.sealed = append(r.sealed, b)
}
