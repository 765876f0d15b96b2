package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Op performs request number seq. It returns the id the system acknowledged
// (for writes whose arrival downstream is checked; "" otherwise). It must
// honour ctx, which carries the request timeout.
type Op func(ctx context.Context, seq uint64) (ackID string, err error)

// Defaults of a Workload.
const (
	DefaultTimeout    = time.Second
	DefaultLateAfter  = 10 * time.Millisecond
	DefaultMaxWorkers = 10_000
)

// Errors recorded as request outcomes.
var (
	// ErrTimeout is the outcome of a request that exceeded its timeout.
	ErrTimeout = errors.New("request timed out")
	// ErrSaturated is the outcome of a request that could not be started
	// because MaxWorkers requests were already in flight.
	ErrSaturated = errors.New("load generator saturated: too many requests in flight")
)

// Workload is an open-model load: a pacer and an operation.
type Workload struct {
	Name  string
	Pacer Pacer
	Op    Op
	// Timeout bounds each request (default DefaultTimeout).
	Timeout time.Duration
	// LateAfter is how far behind its intended time a request may start
	// before it counts as a late start (default DefaultLateAfter).
	LateAfter time.Duration
	// MaxWorkers caps the requests in flight (default DefaultMaxWorkers,
	// enough for 10,000 req/s against a system stalled for a 1 s timeout);
	// a request beyond it fails at once with ErrSaturated. Each request in
	// flight costs a goroutine (about 10-30 KiB with an HTTP client), so the
	// cap also bounds memory.
	MaxWorkers int

	err     error  // from a failed Option
	release func() // run when Run returns (HTTP: close the idle connections it owns)
}

// Option configures a Workload.
type Option func(*Workload) error

// WithTimeout sets the per-request timeout.
func WithTimeout(d time.Duration) Option {
	return func(w *Workload) error {
		if d <= 0 {
			return fmt.Errorf("timeout must be positive, got %s", d)
		}
		w.Timeout = d
		return nil
	}
}

// WithLateAfter sets the late-start threshold.
func WithLateAfter(d time.Duration) Option {
	return func(w *Workload) error {
		if d <= 0 {
			return fmt.Errorf("late-start threshold must be positive, got %s", d)
		}
		w.LateAfter = d
		return nil
	}
}

// WithMaxWorkers caps the requests in flight.
func WithMaxWorkers(n int) Option {
	return func(w *Workload) error {
		if n <= 0 {
			return fmt.Errorf("max workers must be positive, got %d", n)
		}
		w.MaxWorkers = n
		return nil
	}
}

// WithName names the workload in reports.
func WithName(name string) Option {
	return func(w *Workload) error { w.Name = name; return nil }
}

// New returns a workload running op at the pace of p. An option that fails
// is reported by Validate (and so by Run and the drill engine), which keeps
// New usable inside a struct literal.
func New(p Pacer, op Op, opts ...Option) Workload {
	w := Workload{Pacer: p, Op: op}
	var errs []error
	for _, o := range opts {
		errs = append(errs, o(&w))
	}
	if err := errors.Join(errs...); err != nil {
		w.err = fmt.Errorf("configure workload: %w", err)
	}
	return w
}

// Validate checks that the workload can run.
func (w Workload) Validate() error {
	switch {
	case w.err != nil:
		return w.err
	case w.Pacer == nil:
		return errors.New("workload has no pacer")
	case w.Op == nil:
		return errors.New("workload has no operation")
	case w.Timeout < 0, w.LateAfter < 0, w.MaxWorkers < 0:
		return errors.New("workload has a negative timeout, late-start threshold or worker cap")
	}
	return nil
}

func (w Workload) withDefaults() Workload {
	if w.Timeout == 0 {
		w.Timeout = DefaultTimeout
	}
	if w.LateAfter == 0 {
		w.LateAfter = DefaultLateAfter
	}
	if w.MaxWorkers == 0 {
		w.MaxWorkers = DefaultMaxWorkers
	}
	return w
}

// EffectiveTimeout is the per-request timeout, defaults applied.
func (w Workload) EffectiveTimeout() time.Duration { return w.withDefaults().Timeout }

// Outcome is what happened to one request.
type Outcome struct {
	Seq      uint64
	Intended time.Time // when the pacer scheduled it
	Start    time.Time // when the operation was called
	End      time.Time // when it returned, or start+timeout
	// Latency is End − Intended: it includes any delay in starting.
	Latency  time.Duration
	Err      error // nil on success; ErrTimeout, ErrSaturated or the op's error
	AckID    string
	TimedOut bool
}

// OK reports whether the request succeeded.
func (o Outcome) OK() bool { return o.Err == nil }

// Sink receives the stream of a run. Both methods are called concurrently
// from many goroutines and must be safe for that. Scheduled is called in
// order of intended time, before the request starts; Done once per
// scheduled request.
type Sink interface {
	Scheduled(seq uint64, intended time.Time)
	Done(o Outcome)
}

// SinkFuncs adapts two functions into a Sink; either may be nil.
type SinkFuncs struct {
	OnScheduled func(seq uint64, intended time.Time)
	OnDone      func(Outcome)
}

// Scheduled implements Sink.
func (s SinkFuncs) Scheduled(seq uint64, intended time.Time) {
	if s.OnScheduled != nil {
		s.OnScheduled(seq, intended)
	}
}

// Done implements Sink.
func (s SinkFuncs) Done(o Outcome) {
	if s.OnDone != nil {
		s.OnDone(o)
	}
}

// Stats summarise a run.
type Stats struct {
	Began       time.Time // origin of the schedule
	Ended       time.Time // when the last request finished
	Requests    int64
	OK          int64
	Failed      int64
	TimedOut    int64
	Saturated   int64
	LateStarts  int64         // started more than LateAfter after intended
	MaxLate     time.Duration // worst start − intended
	PeakWorkers int64
}

// LateRatio is LateStarts / Requests.
func (s Stats) LateRatio() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.LateStarts) / float64(s.Requests)
}

// Run generates load from now until ctx is done (or the pacer stops), then
// stops scheduling and waits for the requests in flight to finish (each
// bounded by the timeout). Requests keep their own deadline: cancelling ctx
// does not cancel them. began, when non-zero, is the schedule's origin (it
// may be slightly in the past); zero means now.
func (w Workload) Run(ctx context.Context, began time.Time, sink Sink) (Stats, error) {
	if err := w.Validate(); err != nil {
		return Stats{}, err
	}
	w = w.withDefaults()
	if r, ok := w.Pacer.(resetter); ok {
		r.Reset()
	}
	if began.IsZero() {
		began = time.Now()
	}
	g := &generator{w: w, sink: sink, jobs: make(chan job), reqCtx: context.WithoutCancel(ctx)}
	g.run(ctx, began)
	g.wg.Wait()
	if w.release != nil {
		w.release()
	}
	st := Stats{
		Began:       began,
		Ended:       time.Now(),
		Requests:    g.requests.Load(),
		OK:          g.ok.Load(),
		Failed:      g.failed.Load(),
		TimedOut:    g.timedOut.Load(),
		Saturated:   g.saturated.Load(),
		LateStarts:  g.late.Load(),
		MaxLate:     time.Duration(g.maxLate.Load()),
		PeakWorkers: g.peak.Load(),
	}
	return st, nil
}

type job struct {
	seq      uint64
	intended time.Time
}

type generator struct {
	w      Workload
	sink   Sink
	jobs   chan job
	reqCtx context.Context
	wg     sync.WaitGroup

	workers, peak                                            atomic.Int64
	requests, ok, failed, timedOut, saturated, late, maxLate atomic.Int64
}

func (g *generator) run(ctx context.Context, began time.Time) {
	defer close(g.jobs)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var virt time.Duration
	for seq := uint64(0); ; seq++ {
		wait, stop := g.w.Pacer.Pace(virt, seq)
		if stop {
			return
		}
		virt += max(wait, 0)
		intended := began.Add(virt)
		if d := time.Until(intended); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-ctx.Done():
				return
			default:
			}
		}
		g.requests.Add(1)
		if g.sink != nil {
			g.sink.Scheduled(seq, intended)
		}
		j := job{seq: seq, intended: intended}
		select {
		case g.jobs <- j:
			continue
		default:
		}
		// Every worker is busy: start one more rather than wait.
		if n := g.workers.Load(); n >= int64(g.w.MaxWorkers) {
			now := time.Now()
			g.saturated.Add(1)
			g.finish(Outcome{Seq: seq, Intended: intended, Start: now, End: now, Latency: now.Sub(intended), Err: ErrSaturated})
			continue
		}
		n := g.workers.Add(1)
		if n > g.peak.Load() {
			g.peak.Store(n)
		}
		g.wg.Add(1)
		go g.worker(j)
	}
}

func (g *generator) worker(first job) {
	defer g.wg.Done()
	defer g.workers.Add(-1)
	g.do(first)
	for j := range g.jobs {
		g.do(j)
	}
}

func (g *generator) do(j job) {
	start := time.Now()
	if lag := start.Sub(j.intended); lag > g.w.LateAfter {
		g.late.Add(1)
		for {
			cur := g.maxLate.Load()
			if int64(lag) <= cur || g.maxLate.CompareAndSwap(cur, int64(lag)) {
				break
			}
		}
	}
	ctx, cancel := context.WithTimeout(g.reqCtx, g.w.Timeout)
	ack, err := g.call(ctx, j.seq)
	end := time.Now()
	cancel()
	o := Outcome{Seq: j.seq, Intended: j.intended, Start: start, End: end, Err: err}
	if err == nil {
		// Kept even when the reply came too late: the system acknowledged
		// the write, so it must not be lost.
		o.AckID = ack
	}
	if end.Sub(start) >= g.w.Timeout || (err != nil && errors.Is(err, context.DeadlineExceeded)) {
		o.TimedOut = true
		o.End = start.Add(g.w.Timeout)
		o.Err = fmt.Errorf("%w after %s: %w", ErrTimeout, g.w.Timeout, err)
		if err == nil {
			o.Err = fmt.Errorf("%w after %s", ErrTimeout, g.w.Timeout)
		}
	}
	o.Latency = o.End.Sub(o.Intended)
	g.finish(o)
}

// call runs the op, turning a panic into an error.
func (g *generator) call(ctx context.Context, seq uint64) (ack string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("operation panicked: %v", r)
		}
	}()
	return g.w.Op(ctx, seq)
}

func (g *generator) finish(o Outcome) {
	switch o.Err {
	case nil:
		g.ok.Add(1)
	default:
		g.failed.Add(1)
		if o.TimedOut {
			g.timedOut.Add(1)
		}
	}
	if g.sink != nil {
		g.sink.Done(o)
	}
}
