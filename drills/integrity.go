package drills

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The accounting of acknowledged writes. While the system recovers, the
// catch-up phase waits until every write acknowledged so far is visible
// (CaughtUp). When the load has stopped, every acknowledged write must be
// visible by the catch-up deadline, Limits.CatchUpWithin after the load
// ended (at once for a drill that was not restored). A write missing at a
// deadline is read for Limits.LostAfter more: visible by then, it is late;
// still missing, it is lost.

// waitCaughtUp waits until every write acknowledged so far is visible.
func (e *engine) waitCaughtUp(ctx context.Context) {
	acked := e.acks.snapshot()
	deadline := time.Now().Add(e.d.Limits.CatchUpWithin)
	at, landed, err := e.waitLanded(ctx, acked, deadline, &e.reads)
	if err != nil {
		e.lateCandidates = missing(acked, landed)
		e.logf("not caught up: %v", err)
		return
	}
	e.res.Timeline.CaughtUp = at
	e.logf("caught up (%d acknowledged writes visible)", len(acked))
}

// waitLanded polls the integrity reader until every id in acked has landed
// or deadline passes. It returns when the read that saw them all was made
// (the middle of its bracket), and the last successful read. Each read's
// bracket is appended to reads when reads is not nil.
func (e *engine) waitLanded(ctx context.Context, acked []string, deadline time.Time, reads *[]read) (time.Time, []string, error) {
	tick := time.NewTicker(e.d.IntegrityEvery)
	defer tick.Stop()
	var lastErr error
	var landed []string
	for {
		start := time.Now()
		rctx, cancel := context.WithDeadline(ctx, later(deadline, start.Add(e.d.IntegrityEvery)))
		ids, err := e.d.Integrity.Landed(rctx)
		cancel()
		end := time.Now()
		if reads != nil {
			*reads = append(*reads, read{start: start, end: end})
		}
		if err == nil {
			landed, lastErr = ids, nil
			if len(missing(acked, ids)) == 0 {
				return start.Add(end.Sub(start) / 2), landed, nil
			}
		} else {
			lastErr = fmt.Errorf("read landed ids: %w", err)
		}
		if !time.Now().Before(deadline) {
			if lastErr == nil {
				lastErr = errors.New("acknowledged writes still missing")
			}
			return time.Time{}, landed, lastErr
		}
		select {
		case <-ctx.Done():
			return time.Time{}, landed, ctx.Err()
		case <-tick.C:
		}
	}
}

// finalIntegrity counts lost, late and duplicated acknowledged writes once
// the load has stopped.
func (e *engine) finalIntegrity(ctx context.Context) {
	if e.d.Integrity == nil || e.rec == nil {
		return
	}
	acked := e.acks.snapshot()
	deadline := time.Now()
	if e.res.Err == nil && !e.gaveUp {
		deadline = deadline.Add(e.d.Limits.CatchUpWithin)
	}
	_, landed, err := e.waitLanded(ctx, acked, deadline, nil)
	late := slices.Clone(e.lateCandidates)
	if miss := missing(acked, landed); len(miss) > 0 {
		late = append(late, miss...)
		e.logf("%d acknowledged writes not visible by the catch-up deadline: reading for %s more before counting them lost",
			len(miss), e.d.Limits.LostAfter)
		_, l2, err2 := e.waitLanded(ctx, acked, time.Now().Add(e.d.Limits.LostAfter), nil)
		if err2 == nil || l2 != nil {
			landed, err = l2, err2
		}
	}
	in := integrityOf(acked, landed, 5)
	stillMissing := map[string]bool{}
	for _, id := range missing(acked, landed) {
		stillMissing[id] = true
	}
	seen := map[string]bool{}
	for _, id := range late {
		if stillMissing[id] || seen[id] {
			continue
		}
		seen[id] = true
		in.Late++
		if len(in.LateSample) < 5 {
			in.LateSample = append(in.LateSample, id)
		}
	}
	if err != nil && landed == nil {
		in.Err = err.Error()
	}
	e.res.Integrity = in
}
