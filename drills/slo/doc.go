// Package slo holds firedrill's service-level indicators and objectives.
//
// Outcomes of the workload and samples of probes are aggregated into fixed
// buckets (default 100 ms) keyed by the request's intended send time, so a
// request that times out during an outage lands in the bucket in which it
// was scheduled, not the one in which it gave up. A Recorder keeps the open
// buckets (with an HDR latency histogram each) and seals them into compact
// Bucket summaries once every request scheduled in them has reported, so
// memory stays bounded however long a drill runs.
//
// An Objective judges one sealed bucket: Healthy, Unhealthy, or Unknown when
// the bucket holds no data for it. The steady state of a drill is an
// Objective, usually All(SuccessRatio(...), LatencyQuantile(...), ...), and
// a Rule (DefaultRule unless set) turns it into the bucket's health.
package slo
