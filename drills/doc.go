// Package drills is firedrill's engine: it runs a drill (load, steady state,
// fault schedule, recovery runbook, integrity check) and measures it.
//
// A drill goes through these phases, each recorded in the Timeline:
//
//  1. load starts (open model, drills/load) and buckets fill (drills/slo);
//  2. warm-up: the steady state must hold for K healthy buckets in a row
//     within Limits.SteadyWithin, or the drill fails with ErrSteadyState;
//  3. the fault schedule plays; every inject and revert records a bracket
//     (sent, acknowledged). Fault onset is the midpoint of the first inject
//     bracket; faults are reverted however the drill ends;
//  4. impact is the first unhealthy bucket that ends after onset; the
//     runbook runs at its offset or on impact, each step timed;
//  5. restored is the first bucket of the first run of K healthy buckets
//     after impact (Unknown buckets neither count nor break the run);
//  6. every fault still in effect is reverted; the integrity reader is
//     polled until every acknowledged id is visible (caught up);
//  7. load stops and drains; measures and the budget are computed.
//
// Measures: TTR = restored − onset; TTD = detected − onset; impact duration =
// restored − impact; runbook time; catch-up = caught up − onset; failed
// requests; lost and duplicated acknowledged writes. TTR, TTD and impact are
// stated with a resolution: bucket width (or detector cadence) plus the
// width of the onset bracket. A drill without impact has TTR 0.
//
// Run fails a test with the timeline when a budget limit is missed;
// Execute returns the Result for other callers. Set FIREDRILL_REPORT_DIR
// and use Main in TestMain to get a JSON and Markdown report of every drill.
package drills
