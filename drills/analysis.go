package drills

import (
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/recovery"
)

// This file is the engine's arithmetic: pure functions from sealed,
// judged buckets and the observations to the episodes and the measures.

// judge appends the judgements of bs[len(hs):] to hs.
func judge(hs []slo.Judgement, bs []slo.Bucket, steady slo.Objective, rule slo.Rule) []slo.Judgement {
	for i := len(hs); i < len(bs); i++ {
		hs = append(hs, rule(bs[i], steady))
	}
	return hs
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
	obs     *observations
	injects []inject
	polls   []poll // detector polls, in order
	reads   []read // integrity reads until caught up, in order
}

// poll is one detector poll.
type poll struct {
	start, end time.Time
	fired      bool
}

// read is one integrity read.
type read struct{ start, end time.Time }

// analyze derives the episodes, the timeline's derived instants and the
// measures from r's buckets, judgements, faults, detector polls, steps and
// integrity reads.
func analyze(r *Result, a analysis) {
	tl := &r.Timeline
	m := &r.Measures
	*m = Measures{LateStarts: r.Load.LateStarts}
	for _, b := range r.Buckets {
		m.Requests += b.Requests()
		m.FailedRequests += b.Failed
	}
	r.Episodes, r.Unimpacted, r.Restored = nil, nil, false
	tl.Impact, tl.Restored = time.Time{}, time.Time{}
	if len(a.injects) > 0 {
		analyzeEpisodes(r, a)
		first := a.injects[0]
		m.TTD = ttdOf(a.polls, first)
		if !tl.CaughtUp.IsZero() {
			m.CatchUp = catchUpOf(a.reads, tl.CaughtUp, first)
		}
	}
	tl.RecoveryStart, tl.RecoveryDone = time.Time{}, time.Time{}
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
		m.Runbook = exact(recovery.Duration(r.Steps), "steps")
		decompose(r)
	}
}

// decompose measures the parts of a TTR whose runbook detection started:
// reaction (detected → runbook start) and convergence (runbook end →
// restored, bounded as restored is).
func decompose(r *Result) {
	tl, m := &r.Timeline, &r.Measures
	if !r.detectionStarted || !m.TTD.Valid {
		return
	}
	detected := tl.Onset.Add(m.TTD.Value)
	m.Reaction = exact(tl.RecoveryStart.Sub(detected), "steps")
	if n := len(r.Episodes); n > 0 && r.Restored {
		ep := r.Episodes[n-1]
		lo := later(tl.RecoveryDone, ep.restoredLo)
		m.Convergence = between(tl.RecoveryDone, tl.RecoveryDone, tl.RecoveryDone, ep.Restored, lo, later(ep.restoredHi, lo), ep.TTR.Source)
	}
}

// analyzeEpisodes fills r.Episodes, r.Restored, r.Unimpacted and the
// worst TTR and impact.
func analyzeEpisodes(r *Result, a analysis) {
	tl := &r.Timeline
	spans := episodesOf(r.Buckets, r.Health, a.injects, r.HealthyRun)
	r.Restored = restoredAfter(spans, r.Buckets, r.Health, tl.LastAction, r.HealthyRun)
	for _, j := range unimpacted(spans, r.Buckets, a.injects) {
		r.Unimpacted = append(r.Unimpacted, a.injects[j].fault)
	}
	for _, s := range spans {
		in := a.injects[s.inject]
		ep := Episode{
			Fault: in.fault, Onset: in.mid(), OnsetBounds: in.onset, OnsetSource: in.source,
			impactBucket: s.impact, restoredBucket: s.restored,
		}
		ep.Impact = a.obs.locateImpact(r.Buckets, s, in)
		if s.restored >= 0 {
			loc := a.obs.locateRestored(r.Buckets, r.Health, s)
			ep.Restored, ep.restoredLo, ep.restoredHi = loc.at, loc.lo, loc.hi
			ep.TTR = between(in.mid(), in.onset.Sent, in.onset.Acked, loc.at, loc.lo, loc.hi, loc.source)
			ep.Duration = between(ep.Impact, ep.Impact, ep.Impact, loc.at, loc.lo, loc.hi, loc.source)
		}
		r.Episodes = append(r.Episodes, ep)
	}
	if len(r.Episodes) == 0 {
		return
	}
	tl.Impact = r.Episodes[0].Impact
	if last := r.Episodes[len(r.Episodes)-1]; r.Restored {
		tl.Restored = last.Restored
	}
	m := &r.Measures
	for _, ep := range r.Episodes {
		if ep.TTR.Valid && (!m.TTR.Valid || ep.TTR.Value > m.TTR.Value) {
			m.TTR, m.Impact = ep.TTR, ep.Duration
		}
	}
	if !r.Restored {
		m.TTR, m.Impact = Measure{}, Measure{}
	}
}

// ttdOf is detected − onset: from the last quiet poll before the first
// firing one (the alert began after that poll started) to the end of the
// firing poll.
func ttdOf(polls []poll, first inject) Measure {
	var prev *poll
	for i := range polls {
		p := &polls[i]
		if p.end.Before(first.onset.Sent) {
			prev = p
			continue
		}
		if !p.fired {
			prev = p
			continue
		}
		lo := first.onset.Sent
		if prev != nil {
			lo = later(lo, prev.start)
		}
		return between(first.mid(), first.onset.Sent, first.onset.Acked, p.end, lo, p.end, "detector polls")
	}
	return Measure{}
}

// catchUpOf is caught up − onset: between the last read that still missed
// writes and the end of the read that found them all.
func catchUpOf(reads []read, caught time.Time, first inject) Measure {
	lo, hi := first.onset.Sent, caught
	for _, rd := range reads {
		if rd.start.Before(caught) {
			lo = later(lo, rd.start)
		}
		if !rd.start.Before(caught) {
			hi = rd.end
			break
		}
	}
	return between(first.mid(), first.onset.Sent, first.onset.Acked, caught, lo, hi, "integrity reads")
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

// missing returns the ids of acked that do not appear in landed.
func missing(acked []string, landed []string) []string {
	set := make(map[string]struct{}, len(landed))
	for _, id := range landed {
		set[id] = struct{}{}
	}
	var out []string
	for _, id := range acked {
		if _, ok := set[id]; !ok {
			out = append(out, id)
		}
	}
	return out
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
