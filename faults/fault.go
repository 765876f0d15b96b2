// Package faults is firedrill's fault catalog: network toxics on links,
// container lifecycle faults, partitions, resource pressure and disk full.
//
// Every fault is an inject/revert pair. Revert is idempotent and tolerates a
// target that has died. Each injection records a Bracket (when the request
// was sent, when it was acknowledged) so the timeline can state its error.
package faults

import (
	"context"
	"time"
)

// Fault is one injectable condition on one target.
type Fault interface {
	// Name describes the fault and its target, e.g. "latency(collector->lake, downstream, 300ms)".
	Name() string
	// Inject puts the fault in effect. On error nothing of it stays in effect
	// (a partial injection is rolled back).
	Inject(ctx context.Context) error
	// Revert removes the fault. Reverting a fault that is not in effect, or
	// whose target has gone away, returns nil.
	Revert(ctx context.Context) error
}

// Validator is implemented by faults that can check their parameters and
// target before anything is injected.
type Validator interface {
	Validate() error
}

// Bracket is when an inject or revert call was sent and when it was acknowledged.
type Bracket struct {
	Sent  time.Time `json:"sent"`
	Acked time.Time `json:"acked"`
}

// Width is the uncertainty of the bracket.
func (b Bracket) Width() time.Duration { return b.Acked.Sub(b.Sent) }
