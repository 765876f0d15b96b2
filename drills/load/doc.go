// Package load is firedrill's open-model load generator.
//
// A Pacer (vegeta's, or Steps) schedules each request at an intended time.
// The generator dispatches every request at its intended time whatever the
// system under test does: when all workers are busy (a stalled system) it
// starts another, so the schedule never slows down and latency, measured
// from the intended time, includes any queueing the system caused (no
// coordinated omission). A request that exceeds its timeout is a failure
// whose latency is the timeout.
//
// Outcomes stream to a Sink as they happen; the generator keeps no
// per-request records, so memory is bounded by the requests in flight.
// The operation is protocol-agnostic (Op); HTTP builds one for HTTP targets.
package load
