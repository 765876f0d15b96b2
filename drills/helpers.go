package drills

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
)

// The live loop's helpers: each owns one goroutine, its start and its
// wait, and hands its observations to the loop through a channel or a
// guarded snapshot.

// player plays the fault schedule and keeps the injects it made.
type player struct {
	done chan error // receives the schedule's end, once

	mu      sync.Mutex
	injects []inject
	started bool
	joined  bool // done was read
}

// start plays s from at in the background.
func (p *player) start(ctx context.Context, inj *faults.Injector, s faults.Schedule, at time.Time) {
	p.done = make(chan error, 1)
	p.started = true
	go func() {
		defer func() {
			if r := recover(); r != nil {
				p.done <- fmt.Errorf("fault schedule panicked: %v", r)
			}
		}()
		p.done <- inj.Play(ctx, s, at, p.record)
	}()
}

func (p *player) record(r faults.Record) {
	if r.Err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Action.Revert {
		return
	}
	p.injects = append(p.injects, injectOf(r))
}

// injectOf is the record's onset: the interval the fault's target recorded
// it took effect in, or the inject call's bracket.
func injectOf(r faults.Record) inject {
	in := inject{fault: r.Fault, onset: r.Onset, source: r.OnsetSource}
	if in.onset.Sent.IsZero() {
		in.onset, in.source = r.Bracket, "inject call"
	}
	return in
}

// snapshot returns the injects so far.
func (p *player) snapshot() []inject {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.injects)
}

// wait joins the player after ctx was cancelled.
func (p *player) wait() {
	if p.started && !p.joined {
		p.joined = true
		<-p.done //nolint:errcheck // a join: the phase ended and returned its own error
	}
}

// runner runs the runbook once and keeps its step results.
type runner struct {
	rb      recovery.Runbook
	done    chan error
	started bool
	ended   bool

	mu    sync.Mutex
	steps []recovery.Result
}

func (r *runner) start(ctx context.Context, logf func(string, ...any)) {
	r.started = true
	r.done = make(chan error, 1)
	go func() {
		_, err := r.rb.Run(ctx, func(res recovery.Result) {
			r.mu.Lock()
			r.steps = append(r.steps, res)
			r.mu.Unlock()
			logf("recovery step %q: %s", res.Name, stepStatus(res))
		})
		r.done <- err
	}()
}

// pending reports whether the runbook has started and not ended.
func (r *runner) pending() bool { return r.started && !r.ended }

func (r *runner) results() []recovery.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.steps)
}

// wait joins a runbook cancelled with its context.
func (r *runner) wait() {
	if r.pending() {
		<-r.done //nolint:errcheck // a join: the runbook was cancelled with the drill
		r.ended = true
	}
}

// detector polls Drill.Detect on its cadence from load start and keeps
// every poll, until it fires after onset or is stopped.
type detector struct {
	detect func(ctx context.Context) (bool, error)
	every  time.Duration
	stop   context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	polls   []poll
	onset   time.Time // zero until the first inject
	firedAt time.Time // end of the first poll that fired after onset
	errs    int
	last    error
}

func (d *detector) start(ctx context.Context) {
	ctx, d.stop = context.WithCancel(ctx)
	d.done = make(chan struct{})
	go func() {
		defer close(d.done)
		tick := time.NewTicker(d.every)
		defer tick.Stop()
		for {
			if d.pollOnce(ctx) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// pollOnce polls and reports whether the detector fired after onset.
func (d *detector) pollOnce(ctx context.Context) bool {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, max(d.every, time.Second))
	fired, err := d.detect(pctx)
	cancel()
	end := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.errs++
		d.last = err
		return false
	}
	d.polls = append(d.polls, poll{start: start, end: end, fired: fired})
	if fired && !d.onset.IsZero() && !end.Before(d.onset) {
		d.firedAt = end
		return true
	}
	return false
}

// fired returns when the detector fired after onset (zero: not yet).
func (d *detector) fired() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.firedAt
}

// markOnset tells the detector that the fault is in: a firing poll that
// starts after it ends the polling.
func (d *detector) markOnset(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.onset.IsZero() {
		d.onset = t
	}
}

func (d *detector) snapshot() []poll {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.polls)
}

// quietSince returns whether a poll that started after t completed and
// did not fire (quiet), and whether one fired (noisy).
func (d *detector) quietSince(t time.Time) (quiet, noisy bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.polls {
		if p.start.Before(t) {
			continue
		}
		if p.fired {
			return false, true
		}
		quiet = true
	}
	return quiet, false
}

func (d *detector) wait() {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
}

func stepStatus(r recovery.Result) string {
	switch {
	case r.Skipped:
		return r.SkipReason
	case r.Err != "":
		return "failed after " + fmtDur(r.Duration) + ": " + r.Err
	}
	return "done in " + fmtDur(r.Duration)
}
