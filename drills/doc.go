// Package drills is firedrill's engine: it runs a drill (load, steady state,
// fault schedule, recovery runbook, integrity check) and measures it.
//
// A drill's live loop moves through typed phases, one method each
// (phases.go): warm-up (the steady state must hold for K healthy buckets
// within Limits.SteadyWithin, or ErrSteadyState), steady (a detector must
// be quiet, then the schedule starts), fault (the schedule plays; every
// inject records the interval known to contain its onset), recovery (the
// runbook, at its offset or on impact, each step timed), restoring, and
// catch-up (faults reverted, acknowledged writes awaited).
//
// One restoration rule serves the live loop and the final analysis
// (episodes.go): after an inject, an unhealthy bucket opens an episode,
// which ends at the first bucket of a run of K healthy buckets (unknown
// buckets neither count nor break it). The drill is restored when no
// episode is open and the steady state held for K buckets that all start
// after the schedule's last action (a lasting fault such as a crash loop
// counts until its end). Budget.TTR holds for every episode.
//
// Instants are located inside the buckets by the observations: each
// request (from its intended time to its end) and each probe read (from its
// start, less the probe's staleness, to its end) is judged alone by the
// steady state. An episode's restoration lies after the last rejected
// observation before its healthy run and before the end of the first
// accepted one after it, of every kind that was rejected; impact is the
// first rejected observation after onset. So the TTR's error is bounded by
// the spacing of requests (or a probe's cadence, read time and staleness)
// plus the onset's interval, whatever the bucket width. Where no
// observation explains a bucket's verdict, the bucket edges bound it.
//
// Measures: TTR = restored − onset (per episode; the worst is
// Measures.TTR); TTD = first firing detector poll − onset, bounded by the
// last quiet poll; impact = restored − impact; runbook time; catch-up =
// caught up − onset; failed requests; lost, late and duplicated
// acknowledged writes. Each Measure carries Lower and Upper bounds and the
// Source that located it.
//
// Nothing passes on nothing: a fault with no impact (unless
// Drill.ExpectNoImpact), a detector that fires before the fault
// (ErrDetectorNotQuiet) or never, integrity with no acknowledged write, a
// steady state without a success-ratio term (ErrInvalidDrill) and a fault
// that could not be reverted (ErrRevert) all fail, each with its cause.
//
// Run fails a test with the timeline when a budget limit is missed;
// Execute returns the Result for other callers. Set FIREDRILL_REPORT_DIR
// and use Main in TestMain to get a JSON and Markdown report of every drill.
package drills
