package drills

import (
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/recovery"
)

// This file is the engine's arithmetic: pure functions from sealed,
// judged buckets to the timeline and the measures. The real-time loop in
// engine.go calls the same functions on the buckets sealed so far.

// judge appends the judgements of bs[len(hs):] to hs.
func judge(hs []slo.Judgement, bs []slo.Bucket, steady slo.Objective, rule slo.Rule) []slo.Judgement {
	for i := len(hs); i < len(bs); i++ {
		hs = append(hs, rule(bs[i], steady))
	}
	return hs
}

// healthyRun finds the first run of k healthy buckets in hs[from:]. Unknown
// buckets neither count nor break the run; an unhealthy one resets it. It
// returns the index of the run's first and k-th healthy bucket.
func healthyRun(hs []slo.Judgement, from, k int) (first, last int, ok bool) {
	n := 0
	for i := max(from, 0); i < len(hs); i++ {
		switch hs[i].Health {
		case slo.Healthy:
			if n == 0 {
				first = i
			}
			n++
			if n >= k {
				return first, i, true
			}
		case slo.Unhealthy:
			n = 0
		}
	}
	return 0, 0, false
}

// longestRun is the longest run of healthy buckets (for messages).
func longestRun(hs []slo.Judgement) int {
	best, n := 0, 0
	for _, h := range hs {
		switch h.Health {
		case slo.Healthy:
			n++
			best = max(best, n)
		case slo.Unhealthy:
			n = 0
		}
	}
	return best
}

// firstUnhealthyAfter returns the first unhealthy bucket that ends after t.
func firstUnhealthyAfter(bs []slo.Bucket, hs []slo.Judgement, t time.Time) (int, bool) {
	for i := range hs {
		if hs[i].Health == slo.Unhealthy && bs[i].End().After(t) {
			return i, true
		}
	}
	return -1, false
}

// firstStartingAt returns the index of the first bucket that starts at or
// after t (it may not be sealed yet).
func firstStartingAt(origin time.Time, width time.Duration, t time.Time) int {
	d := t.Sub(origin)
	if d <= 0 {
		return 0
	}
	i := int(d / width)
	if d%width != 0 {
		i++
	}
	return i
}

// describeWarmup explains why steady state was not verified.
func describeWarmup(bs []slo.Bucket, hs []slo.Judgement, k int) string {
	unhealthy, unknown := 0, 0
	last := ""
	for i, h := range hs {
		switch h.Health {
		case slo.Unhealthy:
			unhealthy++
			last = fmt.Sprintf("bucket at +%.1fs: %s", bs[i].Start.Sub(bs[0].Start).Seconds(), h.Reason)
		case slo.Unknown:
			unknown++
		}
	}
	s := fmt.Sprintf("needed %d healthy buckets in a row, longest run was %d; %d of %d buckets unhealthy, %d without data",
		k, longestRun(hs), unhealthy, len(hs), unknown)
	if last != "" {
		s += "; last unhealthy " + last
	}
	return s
}

// analysis holds the inputs of analyze that are not in the Result.
type analysis struct {
	detectEvery    time.Duration // resolution of the detector
	integrityEvery time.Duration // resolution of caught-up
}

// analyze derives Impact, Restored and the measures from r's buckets,
// judgements, onset bracket, detector time, steps and caught-up time.
func analyze(r *Result, a analysis) {
	tl := &r.Timeline
	m := &r.Measures
	m.Requests, m.FailedRequests = 0, 0
	for _, b := range r.Buckets {
		m.Requests += b.Requests()
		m.FailedRequests += b.Failed
	}
	m.LateStarts = r.Load.LateStarts

	onsetWidth := tl.FaultAcked.Sub(tl.FaultSent)
	res := r.Bucket + onsetWidth

	tl.Impact, tl.Restored = time.Time{}, time.Time{}
	m.TTR, m.Impact, m.TTD, m.CatchUp = Measure{}, Measure{}, Measure{}, Measure{}
	if !tl.Onset.IsZero() {
		if i, ok := firstUnhealthyAfter(r.Buckets, r.Health, tl.Onset); ok {
			// The impact bucket may start before onset; impact cannot.
			tl.Impact = r.Buckets[i].Start
			if tl.Impact.Before(tl.Onset) {
				tl.Impact = tl.Onset
			}
			if first, _, ok := healthyRun(r.Health, i+1, r.HealthyRun); ok {
				tl.Restored = r.Buckets[first].Start
				m.TTR = Measure{Valid: true, Value: tl.Restored.Sub(tl.Onset), Resolution: res}
				m.Impact = Measure{Valid: true, Value: tl.Restored.Sub(tl.Impact), Resolution: r.Bucket}
			}
		} else if r.Err == nil {
			// No bucket was unhealthy after onset: nothing to recover from.
			m.TTR = Measure{Valid: true, Value: 0, Resolution: res}
			m.Impact = Measure{Valid: true, Value: 0, Resolution: r.Bucket}
		}
		if !tl.Detected.IsZero() {
			m.TTD = Measure{Valid: true, Value: tl.Detected.Sub(tl.Onset), Resolution: a.detectEvery + onsetWidth}
		}
		if !tl.CaughtUp.IsZero() {
			m.CatchUp = Measure{Valid: true, Value: tl.CaughtUp.Sub(tl.Onset), Resolution: a.integrityEvery + onsetWidth}
		}
	}

	tl.RecoveryStart, tl.RecoveryDone = time.Time{}, time.Time{}
	m.Runbook = Measure{}
	for _, s := range r.Steps {
		if s.Skipped {
			continue
		}
		if tl.RecoveryStart.IsZero() {
			tl.RecoveryStart = s.Start
		}
		tl.RecoveryDone = s.End
	}
	if !tl.RecoveryStart.IsZero() {
		m.Runbook = Measure{Valid: true, Value: recovery.Duration(r.Steps)}
	}
}

// integrityOf compares acknowledged ids with what landed downstream.
func integrityOf(acked []string, landed []string, sample int) IntegrityResult {
	counts := make(map[string]int, len(landed))
	for _, id := range landed {
		counts[id]++
	}
	res := IntegrityResult{Checked: true, Acknowledged: int64(len(acked))}
	for _, id := range acked {
		if counts[id] == 0 {
			res.Lost++
			if len(res.LostSample) < sample {
				res.LostSample = append(res.LostSample, id)
			}
		} else {
			res.Landed++
		}
	}
	for _, n := range counts {
		if n > 1 {
			res.Duplicated += int64(n - 1)
		}
	}
	return res
}

// allLanded reports whether every id in acked appears in landed.
func allLanded(acked []string, landed []string) bool {
	set := make(map[string]struct{}, len(landed))
	for _, id := range landed {
		set[id] = struct{}{}
	}
	for _, id := range acked {
		if _, ok := set[id]; !ok {
			return false
		}
	}
	return true
}

// healthString renders judgements as '+', 'x' and '.' (for tests and logs).
func healthString(hs []slo.Judgement) string {
	var sb strings.Builder
	for _, h := range hs {
		sb.WriteByte(healthMark(h.Health))
	}
	return sb.String()
}

// healthMark is a bucket's health as one character: '+' healthy, 'x'
// unhealthy, '.' no data.
func healthMark(h slo.Health) byte {
	switch h {
	case slo.Healthy:
		return '+'
	case slo.Unhealthy:
		return 'x'
	default:
		return '.'
	}
}
