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
	"github.com/firedrill/firedrill/recovery"
	"github.com/firedrill/firedrill/reports"
)

// revertTimeout bounds the final revert of every fault.
const revertTimeout = 30 * time.Second

// Run executes the drill from a test. Faults are reverted when the test
// ends however it ends (t.Cleanup is registered before anything is
// injected). A drill that cannot be evaluated, or misses a budget limit,
// fails t with the timeline in the message. The result is also added to
// the process-wide report when FIREDRILL_REPORT_DIR is set (see Main).
func Run(t testing.TB, d Drill) *Result {
	t.Helper()
	inj := faults.NewInjector()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
		defer cancel()
		if err := inj.RevertAll(ctx); err != nil {
			t.Errorf("drill %s: %v", d.Name, err)
		}
	})
	if d.Logf == nil {
		d.Logf = t.Logf
	}
	if d.Progress == nil {
		d.Progress = reports.NewProgress(os.Stderr, progressWanted())
	}
	ctx := context.Background()
	if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := dl.Deadline(); ok {
			// Leave time for teardown before go test's -timeout panics.
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-5*time.Second))
			defer cancel()
		}
	}
	res, err := execute(ctx, d, inj)
	Collect(res)
	switch {
	case err != nil:
		t.Errorf("drill %s could not be evaluated: %v\n%s", d.Name, err, res.FormatTimeline())
	case !res.Passed():
		var sb []byte
		for _, v := range res.Missed() {
			sb = fmt.Appendf(sb, "  %s: %s\n", v.Name, v.Message)
		}
		t.Errorf("drill %s missed its budget:\n%s\n%s", d.Name, sb, res.FormatTimeline())
	default:
		t.Log(res.Summary())
	}
	return res
}

// Execute runs the drill. err is non-nil when the drill could not be
// evaluated: an invalid declaration (ErrInvalidDrill), steady state never
// verified (ErrSteadyState), a fault that failed (ErrFault), or ctx done.
// A drill that ran but missed a limit returns a nil error and a Result
// whose Passed is false. The Result is never nil. Every injected fault is
// reverted before Execute returns, also when it panics.
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

	limit, grace, tick time.Duration

	bs []slo.Bucket
	hs []slo.Judgement

	mu       sync.Mutex // guards the fields below
	onset    time.Time
	onsetSet chan struct{}
	detected time.Time
	steps    []recovery.Result
	phase    string // for live progress: "recovery", "restoring", "catch-up"
	reverted time.Time

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
	d = d.withDefaults()
	res = &Result{Name: d.Name, Bucket: d.Bucket, HealthyRun: d.HealthyRun, Limits: d.Limits, Budget: d.Budget}
	if d.Steady != nil {
		res.Steady = d.Steady.Name()
	}
	if err := d.Validate(); err != nil {
		res.Err = err
		return res, err
	}
	e := &engine{d: d, res: res, inj: inj, onsetSet: make(chan struct{})}
	e.grace = d.Bucket
	e.tick = max(d.Bucket/4, 5*time.Millisecond)
	e.limit = d.Workload.EffectiveTimeout()
	probes := slo.ProbesOf(d.Steady)
	for _, p := range probes {
		e.limit = max(e.limit, p.ReadTimeout(d.Bucket))
		res.Probes = append(res.Probes, ProbeInfo{Name: p.Name, Unit: p.Unit})
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
	if err == nil && d.Integrity != nil {
		e.catchUp(ctx)
	}
	e.stopAll()
	e.finalIntegrity(ctx)
	e.complete()
	e.d.Progress.Done()
	return res, err
}

// startLoad starts the workload and the probes.
func (e *engine) startLoad(ctx context.Context, probes []slo.Probe) {
	origin := time.Now()
	e.res.Timeline.LoadStarted = origin
	e.rec = slo.NewRecorder(origin, e.d.Bucket, slo.QuantilesOf(e.d.Steady)...)
	sink := load.SinkFuncs{
		OnScheduled: func(_ uint64, intended time.Time) { e.rec.Scheduled(intended) },
		OnDone: func(o load.Outcome) {
			e.rec.Observe(o.Intended, o.Latency, o.Err)
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
	e.logf("load started (%s)", describePacer(e.d.Workload))
}

func describePacer(w load.Workload) string {
	if s, ok := w.Pacer.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", w.Pacer)
}

// refresh seals the buckets that have settled and judges the new ones.
func (e *engine) refresh(now time.Time) {
	e.bs = e.rec.Seal(now, e.limit, e.grace)
	e.hs = judge(e.hs, e.bs, e.d.Steady, e.d.Rule)
	e.showProgress(now)
}

func (e *engine) setPhase(p string) {
	e.mu.Lock()
	e.phase = p
	e.mu.Unlock()
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
	tl := e.res.Timeline
	e.mu.Lock()
	onset, phase := e.onset, e.phase
	e.mu.Unlock()
	switch {
	case phase != "":
	case tl.SteadyVerified.IsZero():
		phase = "warm-up"
	case onset.IsZero():
		phase = "steady"
	default:
		phase = "fault"
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
		if st.N > 0 {
			slis[name] = st.Last
		}
	}
	e.d.Progress.Update(e.d.Name+" "+phase, now.Sub(tl.LoadStarted), slis)
}

// run is the warm-up and the fault phase.
func (e *engine) run(ctx context.Context) error {
	tick := time.NewTicker(e.tick)
	defer tick.Stop()
	if err := e.warmUp(ctx, tick.C); err != nil {
		return err
	}
	return e.faultPhase(ctx, tick.C)
}

func (e *engine) warmUp(ctx context.Context, tick <-chan time.Time) error {
	deadline := e.res.Timeline.LoadStarted.Add(e.d.Limits.SteadyWithin)
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("warm up: %w", ctx.Err())
		case now := <-tick:
			e.refresh(now)
			if _, _, ok := healthyRun(e.hs, 0, e.d.HealthyRun); ok {
				e.res.Timeline.SteadyVerified = now
				e.logf("steady state verified after %s", fmtDur(now.Sub(e.res.Timeline.LoadStarted)))
				return nil
			}
			if err := e.loadFailed(); err != nil {
				return err
			}
			if now.After(deadline) {
				return fmt.Errorf("%w within %s (%s): %s", ErrSteadyState, e.d.Limits.SteadyWithin,
					e.d.Steady.Name(), describeWarmup(e.bs, e.hs, e.d.HealthyRun))
			}
		}
	}
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

func (e *engine) onRecord(r faults.Record) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.Err != nil {
		return
	}
	if !r.Action.Revert && e.onset.IsZero() {
		tl := &e.res.Timeline
		tl.FaultSent, tl.FaultAcked = r.Bracket.Sent, r.Bracket.Acked
		e.onset = r.Bracket.Sent.Add(r.Bracket.Width() / 2)
		tl.Onset = e.onset
		close(e.onsetSet)
	}
	if r.Action.Revert && e.reverted.IsZero() {
		e.reverted = r.Bracket.Acked
	}
}

func (e *engine) getOnset() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.onset
}

func (e *engine) faultPhase(ctx context.Context, tick <-chan time.Time) error {
	d := e.d
	// Start the fault phase half a bucket into a bucket, so that an onset
	// at a whole-bucket offset falls mid-bucket: its bracket does not
	// straddle a bucket boundary, and the quantisation of restored (a
	// bucket start) is centred rather than biased by where warm-up ended.
	origin := e.rec.Origin()
	phase := time.Now()
	if into := phase.Sub(origin) % d.Bucket; into != d.Bucket/2 {
		phase = phase.Add((d.Bucket/2 - into + d.Bucket) % d.Bucket)
		timer := time.NewTimer(time.Until(phase))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("fault phase: %w", ctx.Err())
		case <-timer.C:
		}
	}
	e.res.Timeline.FaultPhase = phase
	plan := d.Faults.Plan()
	var lastOffset time.Duration
	if n := len(plan); n > 0 {
		lastOffset = plan[n-1].At
	}

	phaseCtx, endPhase := context.WithCancel(ctx)
	defer endPhase()
	playDone := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				playDone <- fmt.Errorf("fault schedule panicked: %v", r)
			}
		}()
		playDone <- e.inj.Play(phaseCtx, d.Faults, phase, e.onRecord)
	}()
	playing := true
	defer func() {
		if playing {
			endPhase()
			<-playDone //nolint:errcheck // a join, not a discarded error: the phase was cut short and its own error is returned; `_ =` is rejected by staticcheck S1005
		}
	}()

	var detectWG sync.WaitGroup
	defer detectWG.Wait()
	defer endPhase()
	if d.Detect != nil {
		detectWG.Add(1)
		go func() {
			defer detectWG.Done()
			e.detect(phaseCtx)
		}()
	}

	var (
		lastAction      time.Time
		rbStarted       bool
		rbDone          = make(chan error, 1)
		rbFinished      = d.Recovery.Empty()
		impact          = -1
		rbCtx, rbCancel = context.WithCancel(phaseCtx)
	)
	defer func() {
		rbCancel()
		if rbStarted && !rbFinished {
			<-rbDone //nolint:errcheck // a join, not a discarded error: the runbook was cancelled with the phase; `_ =` is rejected by staticcheck S1005
		}
	}()
	startRunbook := func() {
		rbStarted = true
		e.setPhase("recovery")
		e.logf("running recovery runbook (%d steps)", d.Recovery.Len())
		go func() {
			_, err := d.Recovery.Run(rbCtx, func(r recovery.Result) {
				e.mu.Lock()
				e.steps = append(e.steps, r)
				e.mu.Unlock()
				e.logf("recovery step %q: %s", r.Name, stepStatus(r))
			})
			rbDone <- err
		}()
	}

	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return fmt.Errorf("fault phase: %w", ctx.Err())
		case err := <-playDone:
			playing = false
			if err != nil {
				return fmt.Errorf("%w: %w", ErrFault, err)
			}
			lastAction = time.Now()
			e.logf("fault schedule played")
			continue
		case err := <-rbDone:
			rbFinished = true
			e.setPhase("restoring")
			if err != nil {
				e.logf("recovery failed: %v", err)
				return nil // the recovery verdict fails the drill
			}
			continue
		case now = <-tick:
		}
		e.refresh(now)
		if err := e.loadFailed(); err != nil {
			return err
		}
		onset := e.getOnset()
		if !onset.IsZero() && impact < 0 {
			if i, ok := firstUnhealthyAfter(e.bs, e.hs, onset); ok {
				impact = i
				e.logf("impact at %s after onset: %s", fmtDur(e.bs[i].Start.Sub(onset)), e.hs[i].Reason)
			}
		}
		if !rbStarted && !d.Recovery.Empty() {
			if (d.RecoverOnImpact && impact >= 0) || (!d.RecoverOnImpact && !now.Before(phase.Add(d.RecoverAt))) {
				startRunbook()
			}
		}
		rbWaiting := !rbFinished && (rbStarted || !d.RecoverOnImpact)
		if !playing && !rbWaiting {
			after := firstStartingAt(e.rec.Origin(), d.Bucket, lastAction)
			_, _, settled := healthyRun(e.hs, after, d.HealthyRun)
			if impact >= 0 {
				if _, _, restored := healthyRun(e.hs, impact+1, d.HealthyRun); restored && settled {
					e.logf("restored")
					return nil
				}
			} else if settled && !now.Before(lastAction.Add(d.Limits.ImpactWithin)) {
				e.logf("no impact within %s of the last fault action", d.Limits.ImpactWithin)
				return nil
			}
		}
		base := phase.Add(lastOffset)
		if onset.After(base) {
			base = onset
		}
		if now.After(base.Add(d.Limits.RecoverWithin)) {
			e.logf("not restored within %s", d.Limits.RecoverWithin)
			return nil // the restored verdict fails the drill
		}
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

// detect polls the detector from onset until it fires.
func (e *engine) detect(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-e.onsetSet:
	}
	tick := time.NewTicker(e.d.DetectEvery)
	defer tick.Stop()
	for {
		at := time.Now()
		pctx, cancel := context.WithTimeout(ctx, max(e.d.DetectEvery, time.Second))
		fired, err := e.d.Detect(pctx)
		cancel()
		if err == nil && fired {
			e.mu.Lock()
			e.detected = at
			e.mu.Unlock()
			e.logf("detected %s after onset", fmtDur(at.Sub(e.getOnset())))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// revertAll reverts every fault still in effect; it is idempotent.
func (e *engine) revertAll() {
	ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
	defer cancel()
	if err := e.inj.RevertAll(ctx); err != nil {
		e.logf("%v", err)
		if e.res.Err == nil {
			e.res.Err = fmt.Errorf("%w: %w", ErrFault, err)
		}
	}
}

// catchUp waits until every write acknowledged so far is visible.
func (e *engine) catchUp(ctx context.Context) {
	acked := e.acks.snapshot()
	deadline := time.Now().Add(e.d.Limits.CatchUpWithin)
	at, _, err := e.waitLanded(ctx, acked, deadline)
	if err != nil {
		e.logf("not caught up: %v", err)
		return
	}
	e.res.Timeline.CaughtUp = at
	e.logf("caught up (%d acknowledged writes visible)", len(acked))
}

// waitLanded polls the integrity reader until every id in acked has landed
// or deadline passes. It returns when that happened and the last read.
func (e *engine) waitLanded(ctx context.Context, acked []string, deadline time.Time) (time.Time, []string, error) {
	tick := time.NewTicker(e.d.IntegrityEvery)
	defer tick.Stop()
	var lastErr error
	var landed []string
	for {
		at := time.Now()
		rdl := deadline
		if min := at.Add(e.d.IntegrityEvery); rdl.Before(min) {
			rdl = min
		}
		rctx, cancel := context.WithDeadline(ctx, rdl)
		ids, err := e.d.Integrity.Landed(rctx)
		cancel()
		if err == nil {
			landed, lastErr = ids, nil
			if allLanded(acked, ids) {
				return at, landed, nil
			}
		} else {
			lastErr = fmt.Errorf("read landed ids: %w", err)
		}
		if !time.Now().Before(deadline) {
			if lastErr == nil {
				lastErr = errors.New("acknowledged writes still missing")
			}
			return time.Time{}, landed, fmt.Errorf("after %s: %w", e.d.Limits.CatchUpWithin, lastErr)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, landed, ctx.Err()
		case <-tick.C:
		}
	}
}

// stopAll stops the load (draining requests in flight) and the probes; it
// is idempotent.
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
}

// finalIntegrity counts lost and duplicated acknowledged writes.
func (e *engine) finalIntegrity(ctx context.Context) {
	if e.d.Integrity == nil || e.rec == nil {
		return
	}
	acked := e.acks.snapshot()
	deadline := time.Now()
	if !e.res.Timeline.CaughtUp.IsZero() {
		// Writes acknowledged after the catch-up snapshot get the same time.
		deadline = deadline.Add(e.d.Limits.CatchUpWithin)
	}
	_, landed, err := e.waitLanded(ctx, acked, deadline)
	e.res.Integrity = integrityOf(acked, landed, 5)
	if err != nil && landed == nil {
		e.res.Integrity.Err = err.Error()
	}
}

// complete seals every bucket and computes the timeline, measures and
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
	e.mu.Lock()
	r.Steps = slices.Clone(e.steps)
	r.Timeline.Detected = e.detected
	r.Timeline.FaultReverted = e.reverted
	e.mu.Unlock()
	if r.Timeline.FaultReverted.IsZero() {
		for _, rec := range r.Faults {
			if rec.Action.Revert && rec.Err == nil {
				r.Timeline.FaultReverted = rec.Bracket.Acked
				break
			}
		}
	}
	analyze(r, analysis{detectEvery: e.d.DetectEvery, integrityEvery: e.d.IntegrityEvery})
	if r.Err == nil {
		r.Verdicts = e.d.Budget.Evaluate(r)
	}
	e.logf("%s", r.Summary())
}
