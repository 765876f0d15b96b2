package slo

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Objective is a steady-state predicate over one bucket.
type Objective interface {
	// Name describes the objective, e.g. "success_ratio >= 0.999".
	Name() string
	// Judge returns the objective's verdict on a sealed bucket.
	Judge(b Bucket) Judgement
}

// QuantileUser is implemented by objectives that need a latency quantile
// kept in sealed buckets.
type QuantileUser interface {
	Quantiles() []float64
}

// ProbeUser is implemented by objectives that read probes; the engine polls
// every probe they return.
type ProbeUser interface {
	Probes() []Probe
}

// QuantilesOf returns the latency quantiles o needs, walking All.
func QuantilesOf(o Objective) []float64 {
	if u, ok := o.(QuantileUser); ok {
		return u.Quantiles()
	}
	return nil
}

// ProbesOf returns the probes o reads, walking All, each probe once (by name).
func ProbesOf(o Objective) []Probe {
	u, ok := o.(ProbeUser)
	if !ok {
		return nil
	}
	var out []Probe
	seen := map[string]bool{}
	for _, p := range u.Probes() {
		if !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, p)
		}
	}
	return out
}

// successRatio is SuccessRatio.
type successRatio struct{ min float64 }

// SuccessRatio holds when at least min of the requests scheduled in the
// bucket succeeded. Requests that failed, timed out or never reported
// count against it. A bucket with no request is Unknown.
func SuccessRatio(min float64) Objective { return successRatio{min: min} }

func (o successRatio) Name() string { return fmt.Sprintf("success_ratio >= %g", o.min) }

func (o successRatio) Judge(b Bucket) Judgement {
	r, ok := b.SuccessRatio()
	if !ok {
		return Judgement{Unknown, "no requests"}
	}
	if r < o.min {
		reason := fmt.Sprintf("success ratio %.3f < %g (%d of %d failed", r, o.min, b.Requests()-b.OK, b.Requests())
		if b.FirstErr != "" {
			reason += ", e.g. " + b.FirstErr
		}
		return Judgement{Unhealthy, reason + ")"}
	}
	return Judgement{Healthy, ""}
}

// latencyQuantile is LatencyQuantile.
type latencyQuantile struct {
	q   float64
	max time.Duration
}

// LatencyQuantile holds when the q-quantile (e.g. 0.99) of request latency,
// measured from the intended send time, is at most max. Failed requests
// count at their latency, timeouts at the timeout. A bucket in which
// requests were scheduled but none completed is Unhealthy; one with no
// request is Unknown.
func LatencyQuantile(q float64, max time.Duration) Objective {
	return latencyQuantile{q: q, max: max}
}

func (o latencyQuantile) Name() string {
	return fmt.Sprintf("%s_latency <= %s", quantileName(o.q), o.max)
}

func (o latencyQuantile) Quantiles() []float64 { return []float64{o.q} }

func (o latencyQuantile) Judge(b Bucket) Judgement {
	if b.Completed() == 0 {
		if b.Scheduled > 0 {
			return Judgement{Unhealthy, "no request completed"}
		}
		return Judgement{Unknown, "no requests"}
	}
	v, ok := b.Quantile(o.q)
	if !ok {
		return Judgement{Unknown, fmt.Sprintf("quantile %g not recorded", o.q)}
	}
	if v > o.max {
		return Judgement{Unhealthy, fmt.Sprintf("%s latency %s > %s", quantileName(o.q), v.Round(time.Microsecond), o.max)}
	}
	return Judgement{Healthy, ""}
}

// quantileName turns 0.99 into "p99" and 0.999 into "p99.9".
func quantileName(q float64) string {
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", q*100), "0"), ".")
	return "p" + s
}

// probeObjective judges one probe's samples in a bucket with a predicate.
type probeObjective struct {
	probe Probe
	desc  string
	ok    func(v float64) bool
}

// Threshold holds when pred is true for the probe's samples in the bucket
// (its minimum, maximum and latest value, so a monotone predicate such as
// "≤ limit" sees the worst sample). A failed poll makes the bucket
// Unhealthy; no sample (nor a recent one carried forward) makes it Unknown.
// desc describes the predicate in messages, e.g. "< 5".
func Threshold(p Probe, desc string, pred func(v float64) bool) Objective {
	return probeObjective{probe: p, desc: desc, ok: pred}
}

// AtMost holds when the probe's value is at most max (in the probe's unit).
func AtMost(p Probe, max float64) Objective {
	return Threshold(p, fmt.Sprintf("<= %g", max), func(v float64) bool { return v <= max })
}

// AtLeast holds when the probe's value is at least min.
func AtLeast(p Probe, min float64) Objective {
	return Threshold(p, fmt.Sprintf(">= %g", min), func(v float64) bool { return v >= min })
}

// Freshness holds when the probe, read as an age in seconds (how old the
// newest visible data is), is at most max.
func Freshness(p Probe, max time.Duration) Objective {
	return Threshold(p, fmt.Sprintf("<= %s", max), func(v float64) bool { return v <= max.Seconds() })
}

// Lag holds when the probe, read as a backlog (events, seconds, bytes: the
// probe's unit), is at most max. It is AtMost under a name that reads well.
func Lag(p Probe, max float64) Objective { return AtMost(p, max) }

func (o probeObjective) Name() string    { return o.probe.Name + " " + o.desc }
func (o probeObjective) Probes() []Probe { return []Probe{o.probe} }

func (o probeObjective) Judge(b Bucket) Judgement {
	s, ok := b.Probes[o.probe.Name]
	if !ok || s.N == 0 {
		return Judgement{Unknown, "no " + o.probe.Name + " sample"}
	}
	if s.Errs > 0 {
		return Judgement{Unhealthy, fmt.Sprintf("%s probe failed: %s", o.probe.Name, s.LastErr)}
	}
	for _, v := range []float64{s.Min, s.Max, s.Last} {
		if !o.ok(v) {
			return Judgement{Unhealthy, fmt.Sprintf("%s %g%s not %s", o.probe.Name, v, unitSuffix(o.probe.Unit), o.desc)}
		}
	}
	return Judgement{Healthy, ""}
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// all is All.
type all []Objective

// All holds when every objective holds. It is Unhealthy when any is, with
// every reason; otherwise Unknown when any is Unknown.
func All(objs ...Objective) Objective { return all(objs) }

func (a all) Name() string {
	names := make([]string, len(a))
	for i, o := range a {
		names[i] = o.Name()
	}
	return strings.Join(names, " && ")
}

func (a all) Judge(b Bucket) Judgement {
	var bad, unknown []string
	for _, o := range a {
		j := o.Judge(b)
		switch j.Health {
		case Unhealthy:
			bad = append(bad, j.Reason)
		case Unknown:
			unknown = append(unknown, j.Reason)
		}
	}
	switch {
	case len(bad) > 0:
		return Judgement{Unhealthy, strings.Join(bad, "; ")}
	case len(unknown) > 0:
		return Judgement{Unknown, strings.Join(unknown, "; ")}
	}
	return Judgement{Healthy, ""}
}

func (a all) Quantiles() []float64 {
	var qs []float64
	for _, o := range a {
		qs = append(qs, QuantilesOf(o)...)
	}
	return qs
}

func (a all) Probes() []Probe {
	var ps []Probe
	for _, o := range a {
		ps = append(ps, ProbesOf(o)...)
	}
	return ps
}

// Func adapts a function into an Objective, for predicates the catalog
// lacks.
func Func(name string, judge func(b Bucket) Judgement) Objective {
	return funcObjective{name: name, judge: judge}
}

type funcObjective struct {
	name  string
	judge func(Bucket) Judgement
}

func (o funcObjective) Name() string             { return o.name }
func (o funcObjective) Judge(b Bucket) Judgement { return o.judge(b) }

// Composite is implemented by objectives made of others (All): Terms
// returns them.
type Composite interface {
	Terms() []Objective
}

func (a all) Terms() []Objective { return a }

// FailureCounter is implemented by objectives under which a failed request
// makes a bucket unhealthy whatever its latency (SuccessRatio). A steady
// state without one would count fast failures as healthy.
type FailureCounter interface {
	CountsFailures() bool
}

func (o successRatio) CountsFailures() bool { return true }

// CountsFailures reports whether o, or any term of it, counts failed
// requests against the steady state.
func CountsFailures(o Objective) bool {
	if fc, ok := o.(FailureCounter); ok && fc.CountsFailures() {
		return true
	}
	if c, ok := o.(Composite); ok {
		for _, t := range c.Terms() {
			if CountsFailures(t) {
				return true
			}
		}
	}
	return false
}

// JudgeEvidence judges a bucket that holds a single observation (one
// request, or one probe sample): Unhealthy when any term of o that can
// judge it fails, Healthy when at least one term holds and none fails,
// Unknown when no term has data. Unlike Judge on an All, terms without
// data (a probe in a request's bucket) do not make the verdict Unknown.
func JudgeEvidence(o Objective, b Bucket) Health {
	if c, ok := o.(Composite); ok {
		h := Unknown
		for _, t := range c.Terms() {
			switch JudgeEvidence(t, b) {
			case Unhealthy:
				return Unhealthy
			case Healthy:
				h = Healthy
			}
		}
		return h
	}
	return o.Judge(b).Health
}

// RequestBucket is the bucket of a single request scheduled at intended
// (with latency from intended, and err nil on success), for JudgeEvidence.
// Every quantile of it is that latency.
func RequestBucket(intended time.Time, latency time.Duration, err error, quantiles []float64) Bucket {
	b := Bucket{Start: intended, Width: 1, Scheduled: 1, Max: latency}
	if err == nil {
		b.OK = 1
	} else {
		b.Failed = 1
		b.FirstErr = err.Error()
	}
	qs := append(slices.Clone(defaultQuantiles), quantiles...)
	for _, q := range qs {
		b.Quantiles = append(b.Quantiles, Quantile{Q: q, Value: latency})
	}
	return b
}

// SampleBucket is the bucket of a single probe sample, for JudgeEvidence.
func SampleBucket(name string, s Sample) Bucket {
	st := ProbeStat{}
	st.add(s.Value, s.Err)
	return Bucket{Start: s.Start, Width: 1, Probes: map[string]ProbeStat{name: st}}
}
