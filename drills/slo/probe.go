package slo

import (
	"context"
	"fmt"
	"time"
)

// Probe is a measurement polled on a cadence: lag, freshness, queue depth,
// a correctness check. A failed read makes the buckets it covers unhealthy
// for every objective that reads the probe.
type Probe struct {
	Name string // series name in reports, e.g. "lag_s"
	Unit string // e.g. "s", "events"
	// Read takes one sample. It must honour ctx.
	Read func(ctx context.Context) (float64, error)
	// Every is the polling cadence; zero means the bucket width.
	Every time.Duration
	// Timeout bounds one read; zero means max(Every, 1s).
	Timeout time.Duration
	// Staleness is how old the value may already be when it is read: a
	// metric the system refreshes once a second has a staleness of 1s. It
	// widens the bounds of every measure located by this probe.
	Staleness time.Duration
}

// NewProbe returns a Probe polled once per bucket.
func NewProbe(name, unit string, read func(ctx context.Context) (float64, error)) Probe {
	return Probe{Name: name, Unit: unit, Read: read}
}

// WithEvery returns p polled every d.
func (p Probe) WithEvery(d time.Duration) Probe { p.Every = d; return p }

// WithTimeout returns p with each read bounded by d.
func (p Probe) WithTimeout(d time.Duration) Probe { p.Timeout = d; return p }

// WithStaleness returns p whose values may be up to d old when read (the
// system refreshes its source every d).
func (p Probe) WithStaleness(d time.Duration) Probe { p.Staleness = d; return p }

// Validate checks the probe's declaration.
func (p Probe) Validate() error {
	switch {
	case p.Name == "":
		return fmt.Errorf("probe has no name")
	case p.Read == nil:
		return fmt.Errorf("probe %q has no Read function", p.Name)
	case p.Every < 0 || p.Timeout < 0 || p.Staleness < 0:
		return fmt.Errorf("probe %q: negative cadence, timeout or staleness", p.Name)
	}
	return nil
}

// Cadence returns the polling interval given the bucket width.
func (p Probe) Cadence(width time.Duration) time.Duration {
	if p.Every > 0 {
		return p.Every
	}
	return width
}

// ReadTimeout returns the bound on one read given the bucket width.
func (p Probe) ReadTimeout(width time.Duration) time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return max(p.Cadence(width), time.Second)
}

// Poll reads p every cadence until ctx is done, recording each sample in
// rec with the bracket of its read (start, end). Polls run concurrently when one takes
// longer than the cadence, so a hanging probe shows up as errors in the
// buckets it covers instead of leaving them without data. Poll returns once
// every poll it started has finished.
func Poll(ctx context.Context, p Probe, rec *Recorder) {
	width := rec.Width()
	every, timeout := p.Cadence(width), p.ReadTimeout(width)
	tick := time.NewTicker(every)
	defer tick.Stop()
	done := make(chan struct{}, 1024)
	running := 0
	poll := func() {
		at := time.Now()
		rec.ProbeStarted(at)
		running++
		go func() {
			defer func() { done <- struct{}{} }()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			defer cancel()
			v, err := safeRead(rctx, p.Read)
			if err == nil && rctx.Err() != nil {
				err = fmt.Errorf("probe %s: %w", p.Name, rctx.Err())
			}
			rec.ObserveProbe(p.Name, Sample{Start: at, End: time.Now(), Staleness: p.Staleness, Value: v, Err: err}, true)
		}()
	}
	poll()
	for {
		select {
		case <-ctx.Done():
			for ; running > 0; running-- {
				<-done
			}
			return
		case <-done:
			running--
		case <-tick.C:
			poll()
		}
	}
}

func safeRead(ctx context.Context, read func(context.Context) (float64, error)) (v float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("probe panicked: %v", r)
		}
	}()
	return read(ctx)
}
