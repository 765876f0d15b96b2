package drills

import (
	"slices"
	"sort"
	"time"

	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
)

// This file is the drill's one restoration rule and the location of each
// instant inside the buckets. The live loop (phases.go) and the final
// analysis (analysis.go) both call episodesOf and restoredAfter; only the
// final analysis, with every observation in hand, refines the instants.
//
// The rule. After the first inject's onset, a bucket the steady state
// rejects opens an episode (unless one is open). The episode ends at the
// first bucket of a run of K healthy buckets (unknown buckets neither
// count nor break the run; an unhealthy one resets it). An unhealthy
// bucket after that opens the next episode. The drill is restored when no
// episode is open and the steady state held for K healthy buckets that all
// start after the schedule's last action. Each episode follows the last
// inject whose onset precedes its first unhealthy bucket's end.
//
// Location. A bucket says the steady state failed somewhere inside it;
// the observations say where. Each request (at its intended time, its
// outcome known by its end) and each probe read (between the start of the
// read, less the probe's staleness, and its end) is judged alone by the
// steady state (slo.JudgeEvidence). An episode's restoration lies after
// the last rejected observation before its healthy run and before the end
// of the first accepted one after it, of every kind (requests, each probe)
// that was rejected: that interval is its bound, and its best estimate is
// the midpoint between the two observations' instants. Impact is the
// first rejected observation after onset. When no observation explains a
// bucket's verdict (an objective over aggregates only), the bucket edges
// are the bounds.

// inject is one inject action as the episodes see it.
type inject struct {
	fault  string
	onset  faults.Bracket // known to contain the instant it took effect
	source string
}

func (i inject) mid() time.Time { return i.onset.Sent.Add(i.onset.Width() / 2) }

// span is an episode in bucket indices.
type span struct {
	inject   int // index into the injects
	impact   int // first unhealthy bucket
	restored int // first bucket of the healthy run that ended it; -1 while open
}

// episodesOf applies the restoration rule to the judged buckets.
func episodesOf(bs []slo.Bucket, hs []slo.Judgement, injects []inject, k int) []span {
	if len(injects) == 0 {
		return nil
	}
	var out []span
	open := false
	run, runFirst := 0, 0
	for i := range hs {
		if !bs[i].End().After(injects[0].onset.Sent) {
			continue
		}
		switch hs[i].Health {
		case slo.Unhealthy:
			if !open {
				out = append(out, span{inject: injectBefore(injects, bs[i].End()), impact: i, restored: -1})
				open = true
			}
			run = 0
		case slo.Healthy:
			if !open {
				continue
			}
			if run == 0 {
				runFirst = i
			}
			run++
			if run >= k {
				out[len(out)-1].restored = runFirst
				open, run = false, 0
			}
		}
	}
	return out
}

// injectBefore is the last inject whose onset began before t.
func injectBefore(injects []inject, t time.Time) int {
	j := 0
	for i, in := range injects {
		if in.onset.Sent.Before(t) {
			j = i
		}
	}
	return j
}

// restoredAfter reports whether no episode is open and the steady state
// held for k healthy buckets that all start at or after last.
func restoredAfter(spans []span, bs []slo.Bucket, hs []slo.Judgement, last time.Time, k int) bool {
	if n := len(spans); n > 0 && spans[n-1].restored < 0 {
		return false
	}
	from := 0
	for from < len(bs) && bs[from].Start.Before(last) {
		from++
	}
	_, _, ok := healthyRun(hs, from, k)
	return ok
}

// unimpacted returns the injects after which the steady state never broke:
// no episode follows them and none was open when they were injected.
func unimpacted(spans []span, bs []slo.Bucket, injects []inject) []int {
	var out []int
	for j, in := range injects {
		hit := false
		for _, s := range spans {
			start := bs[s.impact].Start
			end := time.Time{}
			if s.restored >= 0 {
				end = bs[s.restored].Start
			}
			if s.inject == j || (!in.onset.Sent.Before(start) && (end.IsZero() || in.onset.Sent.Before(end))) {
				hit = true
				break
			}
		}
		if !hit {
			out = append(out, j)
		}
	}
	return out
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

// observation is one request or probe read, judged alone.
type observation struct {
	at       time.Time // the instant it stands for: intended time, read start
	from, to time.Time // it saw the system at some instant in [from, to]
	bad      bool
	kind     string // "requests" or "probe NAME"
}

// request is one request as the engine logs it.
type request struct {
	intended, end time.Time
	latency       time.Duration
	failed        bool
}

// errFailed stands for a request's error when it is judged alone.
var errFailed = errorString("request failed")

type errorString string

func (e errorString) Error() string { return string(e) }

// observations are every request and probe read, judged alone, in order.
type observations struct {
	reqs    []request // sorted by intended time
	samples map[string][]slo.Sample
	steady  slo.Objective
	qs      []float64
}

// in returns the observations whose instant lies in [from, to), sorted.
func (o *observations) in(from, to time.Time) []observation {
	var out []observation
	lo := sort.Search(len(o.reqs), func(i int) bool { return !o.reqs[i].intended.Before(from) })
	for i := lo; i < len(o.reqs) && o.reqs[i].intended.Before(to); i++ {
		r := o.reqs[i]
		var err error
		if r.failed {
			err = errFailed
		}
		h := slo.JudgeEvidence(o.steady, slo.RequestBucket(r.intended, r.latency, err, o.qs))
		if h == slo.Unknown {
			continue
		}
		out = append(out, observation{at: r.intended, from: r.intended, to: r.end, bad: h == slo.Unhealthy, kind: "requests"})
	}
	for name, ss := range o.samples {
		for _, s := range ss {
			if s.Start.Before(from) || !s.Start.Before(to) {
				continue
			}
			h := slo.JudgeEvidence(o.steady, slo.SampleBucket(name, s))
			if h == slo.Unknown {
				continue
			}
			out = append(out, observation{at: s.Start, from: s.Start.Add(-s.Staleness), to: s.End, bad: h == slo.Unhealthy, kind: "probe " + name})
		}
	}
	slices.SortStableFunc(out, func(a, b observation) int { return a.at.Compare(b.at) })
	return out
}

// located is an instant known to lie in [lo, hi], best estimate at.
type located struct {
	at, lo, hi time.Time
	source     string
}

// locateRestored locates an episode's restoration inside its boundary:
// from the last unhealthy bucket before the healthy run to the end of the
// run's first bucket.
func (o *observations) locateRestored(bs []slo.Bucket, hs []slo.Judgement, s span) located {
	r := s.restored
	u := r - 1
	for u > s.impact && hs[u].Health != slo.Unhealthy {
		u--
	}
	obs := o.in(bs[u].Start, bs[r].End())
	lastBad := map[string]int{}
	for i, ob := range obs {
		if ob.bad {
			lastBad[ob.kind] = i
		}
	}
	if len(lastBad) == 0 {
		return located{at: bs[r].Start, lo: bs[u].Start, hi: bs[r].End(), source: "buckets"}
	}
	var loc located
	var badAt, goodAt time.Time
	for kind, i := range lastBad {
		b := obs[i]
		loc.lo = later(loc.lo, b.from)
		badAt = later(badAt, b.at)
		g, ok := firstGood(obs[i+1:], kind)
		if !ok {
			// Nothing of this kind was accepted before the run's first
			// bucket ended: the bucket's end bounds it.
			g = observation{at: bs[r].End(), to: bs[r].End()}
		}
		loc.hi = later(loc.hi, g.to)
		goodAt = later(goodAt, g.at)
		loc.source = kindsOf(loc.source, kind)
	}
	loc.at = clampTime(badAt.Add(goodAt.Sub(badAt)/2), loc.lo, loc.hi)
	return loc
}

// locateImpact locates an episode's impact: the first rejected observation
// from the impact bucket's start that can follow the onset, never before
// the onset's estimate.
func (o *observations) locateImpact(bs []slo.Bucket, s span, in inject) time.Time {
	b := bs[s.impact]
	for _, ob := range o.in(b.Start.Add(-b.Width), b.End()) {
		if ob.bad && !ob.to.Before(in.onset.Sent) {
			return later(ob.at, in.mid())
		}
	}
	return later(b.Start, in.mid())
}

func firstGood(obs []observation, kind string) (observation, bool) {
	for _, ob := range obs {
		if ob.kind == kind && !ob.bad {
			return ob, true
		}
	}
	return observation{}, false
}

func kindsOf(have, kind string) string {
	if have == "" {
		return kind
	}
	if have < kind {
		return have + ", " + kind
	}
	return kind + ", " + have
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func clampTime(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}
