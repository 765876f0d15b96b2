package drills

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/faults"
)

// phase is where the live loop stands. Each phase is one method that
// returns the next; the loop in run is the only place that moves between
// them.
type phase int

const (
	// phaseWarmUp: load runs until the steady state holds for K buckets.
	phaseWarmUp phase = iota
	// phaseSteady: verified; the detector must be quiet, then the
	// schedule starts.
	phaseSteady
	// phaseFault: the schedule plays (the runbook may start meanwhile).
	phaseFault
	// phaseRecovery: the schedule has played; the runbook runs.
	phaseRecovery
	// phaseRestoring: waiting for the steady state to hold for K buckets
	// after the last action (or for the impact window to pass).
	phaseRestoring
	// phaseCatchUp: faults reverted; waiting for acknowledged writes.
	phaseCatchUp
	phaseDone
)

func (p phase) String() string {
	return [...]string{"warm-up", "steady", "fault", "recovery", "restoring", "catch-up", "done"}[p]
}

// run moves through the phases until done, on one ticker.
func (e *engine) run(ctx context.Context) error {
	tick := time.NewTicker(e.tick)
	defer tick.Stop()
	defer e.rb.wait()
	defer e.play.wait()
	phaseCtx, endPhase := context.WithCancel(ctx)
	defer endPhase()
	steps := map[phase]func(context.Context, <-chan time.Time) (phase, error){
		phaseWarmUp:    e.warmUp,
		phaseSteady:    e.steady,
		phaseFault:     e.fault,
		phaseRecovery:  e.recovering,
		phaseRestoring: e.restoring,
		phaseCatchUp:   e.catchUp,
	}
	for e.phase = phaseWarmUp; e.phase != phaseDone; {
		next, err := steps[e.phase](phaseCtx, tick.C)
		if err != nil {
			return err
		}
		e.phase = next
	}
	return nil
}

// next waits for the next tick and refreshes the buckets.
func (e *engine) next(ctx context.Context, tick <-chan time.Time) (time.Time, error) {
	select {
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("%s: %w", e.phase, ctx.Err())
	case now := <-tick:
		e.refresh(now)
		return now, e.loadFailed()
	}
}

func (e *engine) warmUp(ctx context.Context, tick <-chan time.Time) (phase, error) {
	deadline := e.res.Timeline.LoadStarted.Add(e.d.Limits.SteadyWithin)
	for {
		now, err := e.next(ctx, tick)
		if err != nil {
			return phaseDone, err
		}
		if _, _, ok := healthyRun(e.hs, 0, e.d.HealthyRun); ok {
			e.res.Timeline.SteadyVerified = now
			e.logf("steady state verified after %s", fmtDur(now.Sub(e.res.Timeline.LoadStarted)))
			return phaseSteady, nil
		}
		if now.After(deadline) {
			return phaseDone, fmt.Errorf("%w within %s (%s): %s", ErrSteadyState, e.d.Limits.SteadyWithin,
				e.d.Steady.Name(), describeWarmup(e.bs, e.hs, e.d.HealthyRun))
		}
	}
}

// steady checks that the alerts and the detector are quiet, then starts
// the schedule half a bucket into a bucket, so that an onset at a
// whole-bucket offset does not straddle a bucket boundary.
func (e *engine) steady(ctx context.Context, tick <-chan time.Time) (phase, error) {
	verified, err := e.waitAlertsQuiet(ctx, tick, e.res.Timeline.SteadyVerified)
	if err != nil {
		return phaseDone, err
	}
	e.quietFrom = verified
	for e.det != nil {
		quiet, noisy := e.det.quietSince(verified)
		if noisy {
			return phaseDone, fmt.Errorf("%w: it fired after steady state was verified, before any fault: TTD would time nothing. Fix the alert or probe so it is quiet while the system is healthy", ErrDetectorNotQuiet)
		}
		if quiet {
			break
		}
		now, err := e.next(ctx, tick)
		if err != nil {
			return phaseDone, err
		}
		if now.After(verified.Add(e.d.Limits.SteadyWithin)) {
			last := e.det.last
			if last == nil {
				last = errors.New("none returned")
			}
			return phaseDone, fmt.Errorf("%w: no detector poll completed within %s of steady state (%d failed, last: %w)",
				ErrDetectorNotQuiet, e.d.Limits.SteadyWithin, e.det.errs, last)
		}
	}
	origin := e.rec.Origin()
	at := time.Now()
	if into := at.Sub(origin) % e.d.Bucket; into != e.d.Bucket/2 {
		at = at.Add((e.d.Bucket/2 - into + e.d.Bucket) % e.d.Bucket)
		timer := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			timer.Stop()
			return phaseDone, fmt.Errorf("steady: %w", ctx.Err())
		case <-timer.C:
		}
	}
	e.faultAt = at
	e.res.Timeline.FaultPhase = at
	e.lastAction = at.Add(faults.LastActionAt(e.d.Faults))
	e.play.start(ctx, e.inj, e.d.Faults, at)
	return phaseFault, nil
}

// fault runs until the schedule has played.
func (e *engine) fault(ctx context.Context, tick <-chan time.Time) (phase, error) {
	for {
		select {
		case <-ctx.Done():
			return phaseDone, fmt.Errorf("fault: %w", ctx.Err())
		case err := <-e.play.done:
			e.play.joined = true
			if err != nil {
				return phaseDone, fmt.Errorf("%w: %w", ErrFault, err)
			}
			e.logf("fault schedule played")
			if e.rb.pending() {
				return phaseRecovery, nil
			}
			return phaseRestoring, nil
		case now := <-tick:
			e.refresh(now)
			if err := e.loadFailed(); err != nil {
				return phaseDone, err
			}
			e.markOnset()
			e.maybeStartRunbook(ctx, now)
		}
	}
}

// recovering runs until the runbook has ended.
func (e *engine) recovering(ctx context.Context, tick <-chan time.Time) (phase, error) {
	for {
		select {
		case <-ctx.Done():
			return phaseDone, fmt.Errorf("recovery: %w", ctx.Err())
		case err := <-e.rb.done:
			e.rb.ended = true
			if err != nil {
				e.logf("recovery failed: %v", err)
				return phaseDone, nil // the recovery verdict fails the drill
			}
			return phaseRestoring, nil
		case now := <-tick:
			e.refresh(now)
			if err := e.loadFailed(); err != nil {
				return phaseDone, err
			}
			if e.givenUp(now) {
				return phaseDone, nil
			}
		}
	}
}

// restoring runs until the restoration rule holds after the last action,
// the runbook starts (on impact), or the recovery limit passes.
func (e *engine) restoring(ctx context.Context, tick <-chan time.Time) (phase, error) {
	for {
		now, err := e.next(ctx, tick)
		if err != nil {
			return phaseDone, err
		}
		e.markOnset()
		if e.maybeStartRunbook(ctx, now) {
			return phaseRecovery, nil
		}
		if restoredAfter(e.spans, e.bs, e.hs, e.lastAction, e.d.HealthyRun) {
			left := unimpacted(e.spans, e.bs, e.injects)
			switch {
			case len(left) == 0:
				e.logf("restored")
				return phaseCatchUp, nil
			case !now.Before(e.lastAction.Add(e.d.Limits.ImpactWithin)):
				e.logf("no impact within %s of the last fault action after %d of %d injects", e.d.Limits.ImpactWithin, len(left), len(e.injects))
				return phaseCatchUp, nil
			}
		}
		if e.givenUp(now) {
			return phaseDone, nil
		}
	}
}

// catchUp reverts what is left and waits for acknowledged writes.
func (e *engine) catchUp(ctx context.Context, _ <-chan time.Time) (phase, error) {
	e.revertAll()
	if e.d.Integrity != nil {
		e.waitCaughtUp(ctx)
	}
	e.waitResolved(ctx)
	return phaseDone, nil
}

// markOnset tells the detector the first inject is in.
func (e *engine) markOnset() {
	if e.det != nil && len(e.injects) > 0 {
		e.det.markOnset(e.injects[0].onset.Sent)
	}
}

// maybeStartRunbook starts the runbook when it is due: on impact, or at
// its offset. It reports whether it started it now.
func (e *engine) maybeStartRunbook(ctx context.Context, now time.Time) bool {
	if e.rb.started || e.d.Recovery.Empty() {
		return false
	}
	var due bool
	switch {
	case e.d.RecoverOnDetect:
		at := e.det.fired()
		due = !at.IsZero() && !now.Before(at.Add(e.d.ReactionTime))
	case e.d.RecoverOnImpact:
		due = len(e.spans) > 0
	default:
		due = !now.Before(e.faultAt.Add(e.d.RecoverAt))
	}
	if !due {
		return false
	}
	if e.d.RecoverOnDetect {
		e.logf("detected; the operator reacts after %s", fmtDur(e.d.ReactionTime))
	}
	e.logf("running recovery runbook (%d steps)", e.d.Recovery.Len())
	e.rb.start(ctx, e.logf)
	return true
}

// givenUp reports whether the recovery limit has passed since the last
// action (or the last onset, if later).
func (e *engine) givenUp(now time.Time) bool {
	base := e.lastAction
	if n := len(e.injects); n > 0 && e.injects[n-1].onset.Acked.After(base) {
		base = e.injects[n-1].onset.Acked
	}
	if !now.After(base.Add(e.d.Limits.RecoverWithin)) {
		return false
	}
	e.gaveUp = true
	e.logf("not restored within %s of the last fault action", e.d.Limits.RecoverWithin)
	return true
}
