package drills

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/reports"
)

// revertTimeout bounds the final revert of every fault.
const revertTimeout = 30 * time.Second

// Run executes the drill from a test. Faults are reverted when the test
// ends however it ends: pass, failure, panic, and (through the process-wide
// handler it shares with container teardown) SIGINT, SIGTERM and shortly
// before go test's -timeout. A drill that cannot be evaluated, or misses a
// budget limit, fails t with the timeline in the message. The result is
// added to the process-wide report when FIREDRILL_REPORT_DIR is set (see
// Main) when the test ends, with the test's own verdict: a test that fails
// after Run returned is reported as failed too.
func Run(tb testing.TB, d Drill) *Result {
	tb.Helper()
	inj := faults.NewInjector()
	inj.Guard(tb)
	if d.Logf == nil {
		d.Logf = tb.Logf
	}
	if d.Progress == nil {
		d.Progress = reports.NewProgress(os.Stderr, progressWanted())
	}
	ctx := context.Background()
	if dl, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := dl.Deadline(); ok {
			// Leave time for teardown before go test's -timeout panics.
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-5*time.Second))
			defer cancel()
		}
	}
	res, err := execute(ctx, d, inj)
	tb.Cleanup(func() { collect(res, tb.Failed()) })
	switch {
	case errors.Is(err, ErrRevert):
		tb.Errorf("drill %s: a fault could not be reverted and may still be in effect (details below)\n%s", d.Name, res.FormatTimeline())
	case err != nil:
		tb.Errorf("drill %s could not be evaluated: %v\n%s", d.Name, err, res.FormatTimeline())
	case !res.Passed():
		var sb []byte
		for _, v := range res.Missed() {
			sb = fmt.Appendf(sb, "  %s: %s\n", v.Name, v.Message)
		}
		tb.Errorf("drill %s missed its budget:\n%s\n%s", d.Name, sb, res.FormatTimeline())
	}
	return res
}

// Execute runs the drill. err is non-nil when the drill could not be
// evaluated: an invalid declaration (ErrInvalidDrill), steady state never
// verified (ErrSteadyState), a detector firing before the fault
// (ErrDetectorNotQuiet), a fault that failed (ErrFault) or could not be
// reverted (ErrRevert), or ctx done. A drill that ran but missed a limit
// returns a nil error and a Result whose Passed is false. The Result is
// never nil. Every injected fault is reverted before Execute returns, also
// when it panics.
func Execute(ctx context.Context, d Drill) (*Result, error) {
	return execute(ctx, d, faults.NewInjector())
}

// ackLog keeps the acknowledged ids, each once, in order.
type ackLog struct {
	mu   sync.Mutex
	ids  []string
	seen map[string]struct{}
}

func (a *ackLog) add(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string]struct{}{}
	}
	if _, ok := a.seen[id]; ok {
		return
	}
	a.seen[id] = struct{}{}
	a.ids = append(a.ids, id)
}

func (a *ackLog) snapshot() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ids[:len(a.ids):len(a.ids)]
}

type engine struct {
	d    Drill
	res  *Result
	inj  *faults.Injector
	rec  *slo.Recorder
	acks ackLog

	reqMu sync.Mutex
	reqs  []request

	limit, grace, tick time.Duration

	// Owned by the loop goroutine.
	bs         []slo.Bucket
	hs         []slo.Judgement
	injects    []inject
	spans      []span
	phase      phase
	faultAt    time.Time // schedule offsets count from here
	lastAction time.Time
	gaveUp     bool
	quietFrom  time.Time // steady state verified and alerts quiet: detectors must stay quiet from here
	reads      []read    // integrity reads while catching up
	// lateCandidates were missing when the catch-up phase's deadline passed.
	lateCandidates []string

	play   player
	rb     runner
	det    *detector
	alerts *alertWatcher

	stopLoad  context.CancelFunc
	loadDone  chan loadResult
	stopPolls context.CancelFunc
	polls     sync.WaitGroup
}

type loadResult struct {
	stats load.Stats
	err   error
}

func (e *engine) logf(format string, args ...any) {
	if e.d.Logf != nil {
		e.d.Logf("drill %s: "+format, append([]any{e.d.Name}, args...)...)
	}
}

func execute(ctx context.Context, d Drill, inj *faults.Injector) (res *Result, err error) {
	userDetector := d.Detect != nil // not the one Alerts provides: its alert has verdicts of its own
	d = d.withDefaults()
	res = &Result{Name: d.Name, Bucket: d.Bucket, HealthyRun: d.HealthyRun, Limits: d.Limits, Budget: d.Budget,
		ExpectNoImpact: d.ExpectNoImpact, Detector: userDetector, detectionStarted: d.RecoverOnDetect}
	if d.Steady != nil {
		res.Steady = d.Steady.Name()
	}
	if err := d.Validate(); err != nil {
		res.Err = err
		return res, err
	}
	e := &engine{d: d, res: res, inj: inj, rb: runner{rb: d.Recovery}}
	e.grace = d.Bucket
	e.tick = max(d.Bucket/4, 5*time.Millisecond)
	e.limit = d.Workload.EffectiveTimeout()
	probes := slo.ProbesOf(d.Steady)
	for _, p := range probes {
		e.limit = max(e.limit, p.ReadTimeout(d.Bucket))
		res.Probes = append(res.Probes, ProbeInfo{Name: p.Name, Unit: p.Unit})
	}
	if s, ok := d.Faults.(faults.Seeded); ok {
		res.Seed = s.Seed()
		e.logf("nemesis seed %d (the same seed replays the same schedule)", res.Seed)
	}

	// Teardown, in reverse order of registration: faults are reverted
	// first, then load and probes are stopped. Both run on panic too.
	defer e.stopAll()
	defer e.revertAll()

	e.startLoad(ctx, probes)
	err = e.run(ctx)
	if err != nil {
		res.Err = err
	}
	e.revertAll()
	e.stopAll()
	e.finalIntegrity(ctx)
	e.complete()
	if res.Err != nil {
		err = res.Err
	}
	e.d.Progress.Done()
	return res, err
}

// startLoad starts the workload, the probes and the detector.
func (e *engine) startLoad(ctx context.Context, probes []slo.Probe) {
	origin := time.Now()
	e.res.Timeline.LoadStarted = origin
	e.rec = slo.NewRecorder(origin, e.d.Bucket, slo.QuantilesOf(e.d.Steady)...)
	sink := load.SinkFuncs{
		OnScheduled: func(_ uint64, intended time.Time) { e.rec.Scheduled(intended) },
		OnDone: func(o load.Outcome) {
			e.rec.Observe(o.Intended, o.Latency, o.Err)
			e.reqMu.Lock()
			e.reqs = append(e.reqs, request{intended: o.Intended, end: o.End, latency: o.Latency, failed: o.Err != nil})
			e.reqMu.Unlock()
			if o.AckID != "" {
				e.acks.add(o.AckID)
			}
		},
	}
	var loadCtx, pollCtx context.Context
	loadCtx, e.stopLoad = context.WithCancel(context.WithoutCancel(ctx))
	pollCtx, e.stopPolls = context.WithCancel(context.WithoutCancel(ctx))
	e.loadDone = make(chan loadResult, 1)
	go func() {
		st, err := e.d.Workload.Run(loadCtx, origin, sink)
		e.loadDone <- loadResult{st, err}
	}()
	for _, p := range probes {
		e.polls.Add(1)
		go func() {
			defer e.polls.Done()
			slo.Poll(pollCtx, p, e.rec)
		}()
	}
	if e.d.Detect != nil {
		e.det = &detector{detect: e.d.Detect, every: e.d.DetectEvery}
		e.det.start(pollCtx)
	}
	if e.d.Alerts != nil {
		e.alerts = &alertWatcher{cfg: *e.d.Alerts}
		e.alerts.start(pollCtx)
	}
	e.logf("load started (%s)", describePacer(e.d.Workload))
}

func describePacer(w load.Workload) string {
	if s, ok := w.Pacer.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", w.Pacer)
}

// refresh seals the buckets that have settled, judges the new ones and
// applies the restoration rule to what is known so far.
func (e *engine) refresh(now time.Time) {
	e.bs = e.rec.Seal(now, e.limit, e.grace)
	e.hs = judge(e.hs, e.bs, e.d.Steady, e.d.Rule)
	if e.play.started {
		e.injects = e.play.snapshot()
		e.spans = episodesOf(e.bs, e.hs, e.injects, e.d.HealthyRun)
	}
	e.showProgress(now)
}

// progressWanted is Run's rule for live progress: FIREDRILL_PROGRESS=0 or 1
// decides; otherwise on with go test -v or when stderr is a terminal.
func progressWanted() bool {
	switch os.Getenv("FIREDRILL_PROGRESS") {
	case "0":
		return false
	case "1":
		return true
	}
	return reports.ProgressEnabled(testing.Verbose())
}

// showProgress reports the phase and the SLIs of the newest sealed bucket.
func (e *engine) showProgress(now time.Time) {
	if !e.d.Progress.Enabled() || len(e.bs) == 0 {
		return
	}
	b := e.bs[len(e.bs)-1]
	slis := map[string]float64{}
	if r, ok := b.SuccessRatio(); ok {
		slis["success"] = r
	}
	if p99, ok := b.Quantile(0.99); ok {
		slis["p99_ms"] = float64(p99) / float64(time.Millisecond)
	}
	for name, st := range b.Probes {
		if st.N > st.Errs {
			slis[name] = st.Last
		}
	}
	e.d.Progress.Update(e.d.Name+" "+e.phase.String(), now.Sub(e.res.Timeline.LoadStarted), slis)
}

// loadFailed reports a workload that stopped on its own with an error.
func (e *engine) loadFailed() error {
	select {
	case lr := <-e.loadDone:
		e.loadDone <- lr // keep it for stopAll
		if lr.err != nil {
			return fmt.Errorf("workload: %w", lr.err)
		}
	default:
	}
	return nil
}

// revertAll reverts every fault still in effect; it is idempotent, and a
// fault whose revert failed is reported once, not retried.
func (e *engine) revertAll() {
	ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
	defer cancel()
	if err := e.inj.RevertAll(ctx); err != nil {
		e.logf("%v", err)
	}
}

// stopAll stops the load (draining requests in flight), the probes and the
// detector; it is idempotent.
func (e *engine) stopAll() {
	if e.stopLoad == nil {
		return
	}
	e.stopLoad()
	if lr, ok := <-e.loadDone; ok {
		e.res.Load = lr.stats
		close(e.loadDone)
		if lr.err != nil && e.res.Err == nil {
			e.res.Err = fmt.Errorf("workload: %w", lr.err)
		}
	}
	e.stopPolls()
	e.polls.Wait()
	if e.det != nil {
		e.det.wait()
	}
	if e.alerts != nil {
		e.alerts.wait()
	}
}

// complete seals every bucket and computes the episodes, measures and
// verdicts.
func (e *engine) complete() {
	r := e.res
	r.Timeline.End = time.Now()
	if e.rec == nil {
		return
	}
	e.bs = e.rec.SealAll(r.Timeline.End)
	e.hs = judge(e.hs, e.bs, e.d.Steady, e.d.Rule)
	r.Buckets, r.Health = e.bs, e.hs
	r.Faults = e.inj.Records()
	r.Steps = e.rb.results()
	a := analysis{obs: e.observations(), reads: e.reads}
	for _, rec := range r.Faults {
		switch {
		case rec.Err != nil:
		case !rec.Action.Revert:
			a.injects = append(a.injects, injectOf(rec))
		case r.Timeline.FaultReverted.IsZero():
			r.Timeline.FaultReverted = rec.Bracket.Acked
		}
	}
	if len(a.injects) > 0 {
		first := r.Faults[slices.IndexFunc(r.Faults, func(x faults.Record) bool { return !x.Action.Revert && x.Err == nil })]
		r.Timeline.FaultSent, r.Timeline.FaultAcked = first.Bracket.Sent, first.Bracket.Acked
		r.Timeline.Onset = a.injects[0].mid()
	}
	r.Timeline.LastAction = e.lastAction
	if e.det != nil {
		a.polls = e.det.snapshot()
		if err := e.checkQuiet(a.polls, a.injects); err != nil && r.Err == nil {
			r.Err = err
		}
	}
	analyze(r, a)
	e.completeAlerts(a.injects)
	if !r.Measures.TTD.Valid {
		r.Timeline.Detected = time.Time{}
	} else {
		r.Timeline.Detected = r.Timeline.Onset.Add(r.Measures.TTD.Value)
	}
	e.revertFailures()
	if r.Err == nil || errors.Is(r.Err, ErrRevert) {
		r.Verdicts = e.d.Budget.Evaluate(r)
	}
	if e.d.Logf != nil {
		e.d.Logf("%s", r.Summary())
	}
}

// checkQuiet fails a drill whose detector fired between steady state and
// the first onset.
func (e *engine) checkQuiet(polls []poll, injects []inject) error {
	from := e.quietFrom
	if from.IsZero() {
		return nil
	}
	until := time.Time{}
	if len(injects) > 0 {
		until = injects[0].onset.Sent
	}
	for _, p := range polls {
		if p.fired && !p.start.Before(from) && (until.IsZero() || p.end.Before(until)) {
			return fmt.Errorf("%w: it fired at %s, before any fault: TTD would time nothing. Fix the alert or probe so it is quiet while the system is healthy",
				ErrDetectorNotQuiet, rel(p.start.Sub(e.res.Timeline.LoadStarted))+" after load start")
		}
	}
	return nil
}

// revertFailures records the faults that could not be reverted, once each,
// and makes them the drill's error.
func (e *engine) revertFailures() {
	failed := e.inj.Failed()
	if len(failed) == 0 {
		return
	}
	r := e.res
	var errs []error
	for _, f := range failed {
		r.RevertFailed = append(r.RevertFailed, f)
		errs = append(errs, f)
	}
	err := fmt.Errorf("%w: %w", ErrRevert, errors.Join(errs...))
	if r.Err == nil || !errors.Is(r.Err, ErrRevert) {
		r.Err = err
	}
}

// observations gathers every request, sorted by intended time, and every
// probe sample, for locating instants.
func (e *engine) observations() *observations {
	e.reqMu.Lock()
	reqs := slices.Clone(e.reqs)
	e.reqMu.Unlock()
	slices.SortFunc(reqs, func(a, b request) int { return a.intended.Compare(b.intended) })
	return &observations{reqs: reqs, samples: e.rec.Samples(), steady: e.d.Steady, qs: slo.QuantilesOf(e.d.Steady)}
}
