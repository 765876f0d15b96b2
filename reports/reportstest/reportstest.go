// Package reportstest builds deterministic synthetic runs for tests,
// golden files, benchmarks and examples of the reports package and the
// firedrill CLI. The same Config always yields the same Run.
package reportstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/firedrill/firedrill/reports"
)

// Epoch is the default start of a synthetic run.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// DrillSpec describes one synthetic drill.
type DrillSpec struct {
	Name      string
	TTR       time.Duration // mean TTR; default 3s
	TTRBudget time.Duration // 0 = no TTR budget
	Lost      int64         // acknowledged writes lost
	NoImpact  bool          // the fault has no visible impact (TTR 0)
	Error     string        // the drill could not be evaluated
	// Episodes is how many faults the schedule injects, each followed by
	// an episode of unhealthiness (default 1; ignored with NoImpact).
	Episodes int
	// NotRestored: the last episode never ends; the drill fails with no
	// valid TTR.
	NotRestored bool
	Late        int64  // acknowledged writes visible only after the deadline
	TestFailure string // the go test failed after the drill was judged
	RevertFail  string // a fault could not be reverted ("fault: cause — fix")
	Seed        uint64 // nemesis seed of the schedule
	// Alerts are the alert rules the drill watches in Alertmanager; nil:
	// the drill watched no alerting system (Drill.Alerts stays nil).
	Alerts []AlertSpec
	// OnDetect: the runbook starts on detection, so TTR decomposes into
	// TTD + reaction + runbook + convergence (single-episode drills).
	OnDetect bool
}

// AlertSpec describes one synthetic alert rule.
type AlertSpec struct {
	Name     string
	Severity string // "critical" pages; anything else is non-critical
	Expected bool   // the drill requires it to fire
	Quiet    bool   // the drill requires it to stay quiet
	// Fires is how many times it is seen firing (0: never): its firing
	// runs from detection to a second after restored, split in Fires spans.
	Fires int
	// Delay is how much later than the drill's detection it fires.
	Delay      time.Duration
	Unresolved bool // still firing at the end
}

// Config describes a synthetic run.
type Config struct {
	Seed    uint64        // drives the noise; default 1
	Samples int           // samples per drill; default 1
	Noise   float64       // relative standard deviation of TTR; default 0.05
	Bucket  time.Duration // default 100ms
	Tail    time.Duration // time after restored until the drill ends; default 3s
	Start   time.Time     // default Epoch
	RunID   string        // default "synthetic-<seed>"
	Drills  []DrillSpec
}

// PipelineDrills are seven drills named like the reference suite.
func PipelineDrills() []DrillSpec {
	return []DrillSpec{
		{Name: "loader-crash", TTR: 3200 * time.Millisecond, TTRBudget: 20 * time.Second, OnDetect: true, Alerts: []AlertSpec{
			{Name: "FreshnessObjectiveBreached", Severity: "critical", Expected: true, Fires: 1},
			{Name: "LoaderRetrying", Severity: "warning", Fires: 2, Delay: 300 * time.Millisecond},
		}},
		{Name: "warehouse-outage", TTR: 10400 * time.Millisecond, TTRBudget: 20 * time.Second, OnDetect: true, Alerts: []AlertSpec{
			{Name: "FreshnessObjectiveBreached", Severity: "critical", Expected: true, Fires: 1},
			{Name: "LoaderRetrying", Severity: "warning", Fires: 1, Delay: 200 * time.Millisecond},
		}},
		{Name: "lake-outage", TTR: 5300 * time.Millisecond, TTRBudget: 4 * time.Second, OnDetect: true, Alerts: []AlertSpec{
			{Name: "CollectorCannotCommit", Severity: "critical", Expected: true, Fires: 1},
		}},
		{Name: "poison-batch", TTR: 2100 * time.Millisecond, TTRBudget: 10 * time.Second, Alerts: []AlertSpec{
			{Name: "QuarantineGrowing", Severity: "warning", Expected: true, Fires: 1},
			{Name: "FreshnessObjectiveBreached", Severity: "critical", Quiet: true},
		}},
		{Name: "bad-deploy", TTR: 7800 * time.Millisecond, TTRBudget: 15 * time.Second, Lost: 3},
		{Name: "wipe-and-rebuild", TTR: 12500 * time.Millisecond, TTRBudget: 30 * time.Second},
		{Name: "slow-warehouse", NoImpact: true, TTRBudget: 5 * time.Second, Alerts: []AlertSpec{
			{Name: "WarehouseSlow", Severity: "warning", Expected: true, Fires: 1},
			{Name: "FreshnessObjectiveBreached", Severity: "critical", Quiet: true},
		}},
	}
}

// Run builds the synthetic run described by c. Drills run one after the
// other; each sample has a timeline, three SLI series, a fault with its
// brackets, two recovery steps and budget verdicts.
func Run(c Config) reports.Run {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Samples <= 0 {
		c.Samples = 1
	}
	if c.Noise == 0 {
		c.Noise = 0.05
	}
	if c.Bucket <= 0 {
		c.Bucket = 100 * time.Millisecond
	}
	if c.Tail <= 0 {
		c.Tail = 3 * time.Second
	}
	if c.Start.IsZero() {
		c.Start = Epoch
	}
	if c.RunID == "" {
		c.RunID = fmt.Sprintf("synthetic-%d", c.Seed)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	run := reports.Run{
		Schema: reports.SchemaVersion,
		Meta: reports.Meta{
			RunID: c.RunID, Commit: "0123456789abcdef0123456789abcdef01234567", Release: "v0.0.0-test",
			Machine: "test-machine", GoVersion: "go1.26", Started: c.Start, Seed: int64(c.Seed),
		},
	}
	t := c.Start
	for s := 0; s < c.Samples; s++ {
		for _, spec := range c.Drills {
			d := drill(rng, c, spec, s, t)
			run.Drills = append(run.Drills, d)
			t = d.Timeline.End.Add(500 * time.Millisecond)
		}
	}
	run.Meta.Finished = t
	return run
}

// Samples draws n TTR samples (seconds) around mean with relative noise sd.
func Samples(seed uint64, n int, mean time.Duration, sd float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x5a3))
	out := make([]float64, n)
	for i := range out {
		out[i] = mean.Seconds() * math.Max(0.05, 1+sd*rng.NormFloat64())
	}
	return out
}

// WithTTRs returns runs (one per sample) holding one drill per name with
// the given TTR samples in seconds; samples[name][i] goes into run i.
func WithTTRs(start time.Time, samples map[string][]float64, names []string) []reports.Run {
	n := 0
	for _, s := range samples {
		n = max(n, len(s))
	}
	runs := make([]reports.Run, n)
	for i := range runs {
		runs[i] = reports.Run{Schema: reports.SchemaVersion, Meta: reports.Meta{
			RunID: fmt.Sprintf("run-%d", i), Started: start.Add(time.Duration(i) * time.Hour),
		}}
		for _, name := range names {
			if i >= len(samples[name]) {
				continue
			}
			ttr := reports.Duration(samples[name][i] * float64(time.Second))
			runs[i].Drills = append(runs[i].Drills, reports.Drill{
				Name: name, Passed: true, Restored: true, Bucket: reports.Duration(100 * time.Millisecond), HealthyRun: 10,
				Measures: reports.Measures{TTR: reports.Measure{Valid: true, Value: ttr, Resolution: reports.Duration(110 * time.Millisecond),
					Lower: max(0, ttr-reports.Duration(110*time.Millisecond)), Upper: ttr + reports.Duration(110*time.Millisecond), Source: "buckets"}},
			})
		}
		runs[i].Meta.Finished = runs[i].Meta.Started.Add(time.Minute)
	}
	return runs
}

// drill builds one sample of spec starting at t0: its timeline, episodes
// and faults, recovery steps, measures, integrity, series and budgets.
func drill(rng *rand.Rand, c Config, spec DrillSpec, sample int, t0 time.Time) reports.Drill {
	b := c.Bucket
	mean := spec.TTR
	if mean == 0 {
		mean = 3 * time.Second
	}
	ttr := time.Duration(float64(mean) * math.Max(0.2, 1+c.Noise*rng.NormFloat64())).Round(b)
	if spec.NoImpact {
		ttr = 0
	}
	tl := reports.Timeline{
		LoadStarted:    t0,
		SteadyVerified: t0.Add(2 * time.Second),
		FaultSent:      t0.Add(5 * time.Second),
		FaultAcked:     t0.Add(5*time.Second + 3*time.Millisecond),
	}
	tl.Onset = ptr(tl.FaultSent)
	eps, faults := episodes(rng, c, spec, tl.FaultSent, ttr)
	restored := timelineEnd(&tl, c, spec, eps, ttr)
	tl.FaultReverted = ptr(faults[len(faults)-1].Revert.Acked)
	if spec.NoImpact {
		eps = nil
	}
	var steps []reports.Step
	if !spec.NoImpact {
		steps = recovery(&tl, spec, ttr, b, restored)
	}
	m := measures(rng, tl, spec, eps, ttr, b)
	acked := m.Requests - m.FailedRequests
	d := reports.Drill{
		Name: spec.Name, Sample: sample, Bucket: reports.Duration(b), HealthyRun: 10,
		Timeline: tl, Measures: m,
		Integrity: reports.Integrity{Checked: true, Acknowledged: acked, Landed: acked - spec.Lost, Lost: spec.Lost, Late: spec.Late},
		Faults:    faults,
		Steps:     steps,
		Episodes:  eps,
		Error:     spec.Error,
		Restored:  !spec.NotRestored && spec.Error == "",
		Seed:      spec.Seed,
	}
	mishaps(&d, spec)
	d.BudgetTTR = reports.Duration(spec.TTRBudget)
	d.Alerts = alerts(d, spec)
	decompose(&d, spec)
	d.Series = series(rng, d, b)
	budgets(&d, spec)
	d.Passed = spec.Error == "" && len(d.Failed()) == 0 && d.Restored && len(d.RevertFailed) == 0
	if spec.TestFailure != "" {
		d.TestFailed, d.TestFailure, d.Passed = true, spec.TestFailure, false
	}
	return d
}

// timelineEnd sets the end of tl: 10 buckets and the tail after the last
// episode was restored (or would have been), 8 s after onset without
// impact. It returns when the last episode was restored (or would have been).
func timelineEnd(tl *reports.Timeline, c Config, spec DrillSpec, eps []reports.Episode, ttr time.Duration) time.Time {
	onset, last := tl.FaultSent, eps[len(eps)-1]
	restored := onset.Add(ttr)
	if last.Restored != nil {
		restored = *last.Restored
	}
	tl.End = last.Onset.Add(ttr + 10*c.Bucket + c.Tail)
	if last.Restored != nil {
		tl.End = restored.Add(10*c.Bucket + c.Tail)
	}
	if spec.NoImpact {
		tl.End = onset.Add(8 * time.Second)
	}
	return restored
}

// recovery marks impact, detection and the runbook in tl (and restored
// and caught up unless spec is never restored) and returns the runbook's
// two steps.
func recovery(tl *reports.Timeline, spec DrillSpec, ttr, bucket time.Duration, restored time.Time) []reports.Step {
	ms := time.Millisecond
	onset := tl.FaultSent
	impact := onset.Add(bucket)
	detected := onset.Add(ttr / 5)
	tl.Impact = &impact
	tl.Detected = &detected
	rs := detected.Add(200 * ms)
	s1 := reports.Step{Name: "pipelinectl status", Start: rs, End: rs.Add(300 * ms), Output: `{"lag_s": 4.2, "checkpoint": 1812, "last_error": "dial lake: connection refused"}`}
	s2 := reports.Step{Name: "pipelinectl resume", Start: s1.End, End: s1.End.Add(ttr / 4), Output: "resumed from checkpoint 1812\n<ok> & done"}
	tl.RecoveryStart = &rs
	tl.RecoveryDone = &s2.End
	if !spec.NotRestored {
		tl.Restored = &restored
		cu := restored.Add(1500 * ms)
		tl.CaughtUp = &cu
	}
	return []reports.Step{s1, s2}
}

// measures are the drill's measures from its timeline and episodes.
func measures(rng *rand.Rand, tl reports.Timeline, spec DrillSpec, eps []reports.Episode, ttr, bucket time.Duration) reports.Measures {
	ms := time.Millisecond
	m := reports.Measures{
		TTR:      worstTTR(eps),
		Requests: int64(tl.End.Sub(tl.LoadStarted) / ms), LateStarts: int64(rng.IntN(5)),
	}
	if spec.NoImpact {
		m.TTR = reports.Measure{Valid: true, Source: "buckets"}
		return m
	}
	onset := tl.FaultSent
	m.TTD = bounded(tl.Detected.Sub(onset), 3*ms, 50*ms, "detector polls")
	if tl.Restored != nil {
		m.Impact = bounded(tl.Restored.Sub(*tl.Impact), 2*ms, bucket, "buckets")
		m.CatchUp = bounded(tl.CaughtUp.Sub(onset), 3*ms, bucket, "probe lag_s")
	}
	m.Runbook = bounded(tl.RecoveryDone.Sub(*tl.RecoveryStart), 0, 0, "")
	m.FailedRequests = int64(ttr/ms) * 8 / 10 * int64(len(eps))
	return m
}

// mishaps adds what spec says went wrong besides recovery: samples of
// lost and late writes, a fault that could not be reverted.
func mishaps(d *reports.Drill, spec DrillSpec) {
	if spec.Lost > 0 {
		d.Integrity.LostSample = []string{"evt-000101", "evt-000102", "evt-000103"}[:min(3, int(spec.Lost))]
	}
	if spec.Late > 0 {
		d.Integrity.LateSample = []string{"evt-000201", "evt-000202", "evt-000203"}[:min(3, int(spec.Late))]
	}
	if spec.RevertFail != "" {
		d.RevertFailed = []string{spec.RevertFail}
		d.Faults[len(d.Faults)-1].Error = "revert: " + spec.RevertFail
	}
}

// episodes builds the schedule's faults and the episode each one causes:
// the first at onset with TTR ttr, each further one 2 s after the previous
// episode ended (or would have), located by Docker events.
func episodes(rng *rand.Rand, c Config, spec DrillSpec, onset time.Time, ttr time.Duration) ([]reports.Episode, []reports.Fault) {
	b, ms := c.Bucket, time.Millisecond
	n := max(1, spec.Episodes)
	var eps []reports.Episode
	var faults []reports.Fault
	at := onset
	for k := range n {
		f := reports.Fault{Name: "down(" + spec.Name + "-link)", Inject: reports.Bracket{Sent: at, Acked: at.Add(3 * ms)}}
		e := reports.Episode{Fault: f.Name, Onset: at, OnsetSource: "inject call"}
		d := ttr
		if k > 0 {
			d = time.Duration(float64(ttr) * (0.6 + 0.8*rng.Float64())).Round(b)
			f.Name = fmt.Sprintf("kill(%s-%d, SIGKILL)", spec.Name, k+1)
			e.Fault = f.Name
			e.Onset = at.Add(ms)
			f.Onset = &reports.Bracket{Sent: e.Onset, Acked: e.Onset}
			f.OnsetSource, e.OnsetSource = "docker events kill..die", "docker events kill..die"
		}
		revertAt := e.Onset.Add(d * 6 / 10)
		if spec.NoImpact {
			revertAt = onset.Add(5 * time.Second)
		}
		f.Revert = &reports.Bracket{Sent: revertAt, Acked: revertAt.Add(2 * ms)}
		e.Impact = e.Onset.Add(b)
		restored := e.Onset.Add(d)
		if never := spec.NotRestored && k == n-1; !never {
			e.Restored = &restored
			e.TTR = bounded(d, 3*ms+2*ms, 2*ms, "requests")
			e.Duration = bounded(restored.Sub(e.Impact), 2*ms, b, "buckets")
		}
		eps = append(eps, e)
		faults = append(faults, f)
		at = restored.Add(2 * time.Second)
	}
	return eps, faults
}

// Intervals of the synthetic alerting system.
const (
	scrapeEvery = time.Second
	evalEvery   = time.Second
	pollEvery   = 250 * time.Millisecond
)

// alerts are what the drill saw of spec's alert rules: each that fires is
// seen from the drill's detection (a second after onset without one) plus
// its delay, to a second after restored (or after the last revert, or to
// the end when unresolved). The first expected alert without delay is the
// drill's detector: the drill's TTD is its TTD.
func alerts(d reports.Drill, spec DrillSpec) *reports.Alerts {
	if spec.Alerts == nil {
		return nil
	}
	tl := d.Timeline
	onset, seen, gone, resolves := tl.FaultSent, tl.FaultSent.Add(time.Second), tl.End, true
	if tl.Detected != nil {
		seen = *tl.Detected
	}
	switch {
	case tl.Restored != nil:
		gone = tl.Restored.Add(time.Second)
	case !spec.NotRestored && tl.FaultReverted != nil:
		gone = tl.FaultReverted.Add(time.Second)
	default:
		resolves = false
	}
	out := &reports.Alerts{
		ScrapeInterval: reports.Duration(scrapeEvery), EvalInterval: reports.Duration(evalEvery), PollEvery: reports.Duration(pollEvery),
		Alerts: []reports.Alert{},
	}
	for _, a := range spec.Alerts {
		al := reports.Alert{Name: a.Name, Severity: a.Severity, Expected: a.Expected, Quiet: a.Quiet, Page: a.Severity == "critical", Resolved: true, Spans: []reports.Span{}}
		if a.Fires > 0 {
			from := seen.Add(a.Delay)
			al.TTD = bounded(from.Sub(onset), scrapeEvery+evalEvery+pollEvery, 0, "alertmanager polls")
			al.Spans = spans(from, gone, a.Fires)
			al.Resolved = resolves && !a.Unresolved
			if !al.Resolved {
				al.Spans[len(al.Spans)-1].To = tl.End
			}
			if al.Page {
				out.Pages++
			} else {
				out.NonCritical++
			}
		}
		out.Alerts = append(out.Alerts, al)
	}
	return out
}

// spans splits [from, to) into n firing spans with half-second gaps.
func spans(from, to time.Time, n int) []reports.Span {
	gap := 500 * time.Millisecond
	each := max(pollEvery, (to.Sub(from)-time.Duration(n-1)*gap)/time.Duration(n))
	out := make([]reports.Span, 0, n)
	for k := range n {
		s := from.Add(time.Duration(k) * (each + gap))
		out = append(out, reports.Span{From: s, To: s.Add(each)})
	}
	return out
}

// decompose takes the drill's TTD from its detector alert, and when the
// runbook started on detection splits the TTR into TTD + reaction +
// runbook + convergence.
func decompose(d *reports.Drill, spec DrillSpec) {
	if d.Alerts != nil {
		for i, a := range d.Alerts.Alerts {
			if a.Expected && a.Fired() && spec.Alerts[i].Delay == 0 && d.Timeline.Detected != nil {
				d.Measures.TTD = a.TTD
				break
			}
		}
	}
	tl := d.Timeline
	if !spec.OnDetect || len(d.Episodes) != 1 || tl.Restored == nil || tl.Detected == nil || !d.Measures.TTD.Valid {
		return
	}
	conv := tl.Restored.Sub(*tl.RecoveryDone)
	if conv < 0 {
		return
	}
	d.Measures.Reaction = bounded(tl.RecoveryStart.Sub(*tl.Detected), 0, 0, "steps")
	d.Measures.Convergence = bounded(conv, 2*time.Millisecond, 2*time.Millisecond, "requests")
}

// bounded is a valid measure of v known to lie in [v−below, v+above].
func bounded(v, below, above time.Duration, source string) reports.Measure {
	lo := max(0, v-below)
	return reports.Measure{
		Valid: true, Value: reports.Duration(v), Resolution: reports.Duration(max(v-lo, above)),
		Lower: reports.Duration(lo), Upper: reports.Duration(v + above), Source: source,
	}
}

// worstTTR is the largest episode TTR; invalid when an episode never ended.
func worstTTR(eps []reports.Episode) reports.Measure {
	var worst reports.Measure
	for _, e := range eps {
		if !e.TTR.Valid {
			return reports.Measure{}
		}
		if !worst.Valid || e.TTR.Value > worst.Value {
			worst = e.TTR
		}
	}
	return worst
}

// budgets appends the drill's budget verdicts.
func budgets(d *reports.Drill, spec DrillSpec) {
	m := d.Measures
	if spec.TTRBudget > 0 {
		v := reports.Verdict{Name: "ttr", Limit: reports.FormatDuration(spec.TTRBudget), Actual: reports.FormatMeasure(m.TTR, true), Passed: m.TTR.Valid && m.TTR.Value.D() <= spec.TTRBudget}
		if !m.TTR.Valid {
			v.Actual = "not restored"
		}
		switch {
		case !m.TTR.Valid:
			v.Message = fmt.Sprintf("no TTR: the system was not restored before the drill ended\n%s", reports.TimelineText(*d))
		case !v.Passed:
			v.Message = fmt.Sprintf("TTR %s exceeds budget %s\n%s", v.Actual, v.Limit, reports.TimelineText(*d))
		}
		d.Budgets = append(d.Budgets, v)
	}
	lost := reports.Verdict{Name: "lost", Limit: "0", Actual: fmt.Sprint(spec.Lost), Passed: spec.Lost == 0}
	if !lost.Passed {
		lost.Message = fmt.Sprintf("%d acknowledged writes lost (first: %v)", spec.Lost, d.Integrity.LostSample)
	}
	d.Budgets = append(d.Budgets, lost, reports.Verdict{Name: "duplicated", Limit: "0", Actual: "0", Passed: true})
}

// series builds success ratio, p99 latency and lag per bucket.
func series(rng *rand.Rand, d reports.Drill, b time.Duration) []reports.Series {
	tl := d.Timeline
	n := int(tl.End.Sub(tl.LoadStarted) / b)
	in := func(t time.Time) bool {
		for _, e := range d.Episodes {
			if !t.Before(e.Impact) && (e.Restored == nil || t.Before(*e.Restored)) {
				return true
			}
		}
		return false
	}
	ok := reports.Series{Name: "success_ratio", Unit: "ratio", Start: tl.LoadStarted}
	p99 := reports.Series{Name: "p99_latency_ms", Unit: "ms", Start: tl.LoadStarted}
	lag := reports.Series{Name: "lag_s", Unit: "s", Start: tl.LoadStarted}
	lagV := 0.2
	for i := range n {
		t := tl.LoadStarted.Add(time.Duration(i) * b)
		bad := in(t)
		r := 1 - 0.0005*rng.Float64()
		l := 18 + 6*rng.Float64()
		if bad {
			r = 0.15 + 0.1*rng.Float64()
			l = 900 + 200*rng.Float64()
			lagV += b.Seconds()
		} else {
			lagV = math.Max(0.2, lagV-3*b.Seconds())
		}
		present := i%97 != 13 // a bucket now and then without data
		ok.Points = append(ok.Points, reports.Point{Value: round(r, 4), Present: present})
		ok.Healthy = append(ok.Healthy, !bad)
		p99.Points = append(p99.Points, reports.Point{Value: round(l, 1), Present: present})
		lag.Points = append(lag.Points, reports.Point{Value: round(lagV+0.05*rng.Float64(), 2), Present: true})
	}
	return []reports.Series{ok, p99, lag}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func ptr[T any](v T) *T { return &v }
