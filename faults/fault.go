// Package faults is firedrill's fault catalog: network toxics on links,
// container lifecycle faults, partitions, resource pressure and disk full.
//
// Every fault is an inject/revert pair. Revert is idempotent and tolerates a
// target that has died. Each injection records a Bracket (when the request
// was sent, when it was acknowledged) so the timeline can state its error.
//
// The catalog, one file per kind; targets are small interfaces that the
// scenario runtime's *scenarios.Link and *scenarios.Container satisfy:
//
//   - toxics on a link (ToxicTarget), per direction (Upstream, Downstream,
//     Both) and with a Toxicity: Latency (+Jitter), Bandwidth, SlowClose,
//     Timeout, ResetPeer, Slicer, LimitData; OneWay, a one-way partition;
//     Down disables the link's proxy (LinkTarget);
//   - container lifecycle (ContainerTarget): Kill with a signal, Stop with a
//     timeout, Restart, Pause (freeze), CrashLoop (kill N times, Interval
//     apart);
//   - network: Partition cuts a container off its system's network, Revert
//     heals it;
//   - resources: CPU quota, Memory limit, OOM (a limit the process will
//     exceed);
//   - disk: DiskFull fills a size-limited mount until writes fail with
//     ENOSPC; Revert frees it;
//   - All groups faults into one, rolled back as a whole.
//
// A target may be chosen when the fault fires: Choose("leader", lookup)
// (and ChooseLink for links) runs the lookup right before the inject's
// bracket opens, on every inject, and the fault's name says what was chosen:
// "kill(etcd2 = leader, SIGKILL)". Kill's and Stop's revert start the same
// container again, which keeps its filesystem, volumes and bind mounts but
// empties its tmpfs mounts; on a container with tmpfs mounts they are
// refused unless KeepDown or AllowEmptyTmpfs says which is meant.
//
// Builder methods (Jitter, Upstream, Toxicity, KeepDown, Signal, Using,
// Window, ...) return a new fault or schedule and leave the one they are
// called on as it was.
//
// Schedules say when: At, For, Every, After, Sequence, Parallel and a
// seeded random Nemesis (its seed exposed as Seeded, through composites
// too; LastActionAt counts a Lasting fault's extra time). Validate checks a
// schedule and every fault in it before anything is injected. An Injector
// plays a schedule, records a Bracket per action and an Onset per inject
// (narrowed by an Onsetter from the Docker daemon's own record: a kill's
// onset is the call's start to the process's reaping), tracks what is in
// effect and reverts it all (RevertAll), and with Guard does so however the
// test ends (through the process's one ending handler, scenarios.AtEnd). A
// revert that fails is tried once and reported once, as a RevertError with
// the fix by hand (Injector.Failed).
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
