package drills

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/scenarios"
)

// EnvReportDir names the directory Run's results are reported to (see Main).
const EnvReportDir = "FIREDRILL_REPORT_DIR"

// Report converts the result to the report model.
func (r *Result) Report() reports.Drill {
	d := reports.Drill{
		Name:       r.Name,
		Passed:     r.Passed(),
		Bucket:     reports.Duration(r.Bucket),
		HealthyRun: r.HealthyRun,
		Restored:   r.Restored,
		Seed:       r.Seed,
		Faults:     []reports.Fault{},
		Steps:      []reports.Step{},
		Series:     []reports.Series{},
		Budgets:    []reports.Verdict{},
		Episodes:   []reports.Episode{},
	}
	if r.Err != nil {
		d.Error = r.Err.Error()
	}
	for _, err := range r.RevertFailed {
		d.RevertFailed = append(d.RevertFailed, err.Error())
	}
	d.Timeline = r.Timeline.report()
	d.Measures = reports.Measures{
		TTR:            r.Measures.TTR.report(),
		TTD:            r.Measures.TTD.report(),
		Impact:         r.Measures.Impact.report(),
		Runbook:        r.Measures.Runbook.report(),
		Reaction:       r.Measures.Reaction.report(),
		Convergence:    r.Measures.Convergence.report(),
		CatchUp:        r.Measures.CatchUp.report(),
		Requests:       r.Measures.Requests,
		FailedRequests: r.Measures.FailedRequests,
		LateStarts:     r.Measures.LateStarts,
	}
	for _, ep := range r.Episodes {
		d.Episodes = append(d.Episodes, reports.Episode{
			Fault: ep.Fault, Onset: ep.Onset, OnsetSource: ep.OnsetSource, Impact: ep.Impact,
			Restored: optTime(ep.Restored), TTR: ep.TTR.report(), Duration: ep.Duration.report(),
		})
	}
	in := r.Integrity
	d.Integrity = reports.Integrity{
		Checked: in.Checked, Acknowledged: in.Acknowledged, Landed: in.Landed,
		Lost: in.Lost, Duplicated: in.Duplicated, LostSample: in.LostSample,
		Late: in.Late, LateSample: in.LateSample, Err: in.Err,
	}
	d.Faults = r.reportFaults()
	d.Alerts = r.reportAlerts()
	d.BudgetTTR = reports.Duration(r.Budget.TTR)
	for _, s := range r.Steps {
		d.Steps = append(d.Steps, reports.Step{
			Name: s.Name, Start: s.Start, End: s.End, Output: s.Output,
			Error: s.Err, Skipped: s.Skipped, SkipReason: s.SkipReason,
		})
	}
	d.Series = r.series()
	for _, v := range r.Verdicts {
		d.Budgets = append(d.Budgets, reports.Verdict{
			Name: v.Name, Limit: v.Limit, Actual: v.Actual, Passed: v.Passed, Message: v.Message,
		})
	}
	return d
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (tl Timeline) report() reports.Timeline {
	return reports.Timeline{
		LoadStarted:    tl.LoadStarted,
		SteadyVerified: tl.SteadyVerified,
		FaultSent:      tl.FaultSent,
		FaultAcked:     tl.FaultAcked,
		Onset:          optTime(tl.Onset),
		Impact:         optTime(tl.Impact),
		Detected:       optTime(tl.Detected),
		RecoveryStart:  optTime(tl.RecoveryStart),
		RecoveryDone:   optTime(tl.RecoveryDone),
		FaultReverted:  optTime(tl.FaultReverted),
		Restored:       optTime(tl.Restored),
		CaughtUp:       optTime(tl.CaughtUp),
		End:            tl.End,
	}
}

func (m Measure) report() reports.Measure {
	return reports.Measure{
		Valid: m.Valid, Value: reports.Duration(m.Value), Resolution: reports.Duration(m.Resolution()),
		Lower: reports.Duration(m.Lower), Upper: reports.Duration(m.Upper), Source: m.Source,
	}
}

// reportAlerts is what the drill's alerts did, or nil without Alerts.
func (r *Result) reportAlerts() *reports.Alerts {
	if r.Alerts == nil {
		return nil
	}
	a := r.Alerts
	out := &reports.Alerts{
		Pages: a.Pages, NonCritical: a.NonCritical, Alerts: []reports.Alert{},
		ScrapeInterval: reports.Duration(a.ScrapeInterval), EvalInterval: reports.Duration(a.EvalInterval), PollEvery: reports.Duration(a.PollEvery),
	}
	for _, x := range a.Alerts {
		ra := reports.Alert{Name: x.Name, Severity: x.Severity, Expected: x.Expected, Quiet: x.Quiet, Page: x.Page,
			Resolved: x.Resolved, TTD: x.TTD.report(), Spans: []reports.Span{}}
		for _, s := range x.Spans {
			ra.Spans = append(ra.Spans, reports.Span{From: s.From, To: s.To})
		}
		out.Alerts = append(out.Alerts, ra)
	}
	return out
}

// reportFaults lists one entry per fault: its inject bracket, its onset
// and, if any, its revert.
func (r *Result) reportFaults() []reports.Fault {
	out := []reports.Fault{}
	for _, rec := range r.Faults {
		b := reports.Bracket{Sent: rec.Bracket.Sent, Acked: rec.Bracket.Acked}
		if !rec.Action.Revert {
			f := reports.Fault{Name: rec.Fault, Inject: b}
			if rec.Err != nil {
				f.Error = rec.Err.Error()
			} else {
				in := injectOf(rec)
				f.Onset = &reports.Bracket{Sent: in.onset.Sent, Acked: in.onset.Acked}
				f.OnsetSource = in.source
			}
			out = append(out, f)
			continue
		}
		for i := len(out) - 1; i >= 0; i-- {
			if out[i].Name == rec.Fault && out[i].Revert == nil {
				out[i].Revert = &b
				if rec.Err != nil {
					out[i].Error = rec.Err.Error()
				}
				break
			}
		}
	}
	return out
}

// series builds the per-bucket SLI series: success ratio (carrying the
// steady state's health), p99 latency and every probe.
func (r *Result) series() []reports.Series {
	if len(r.Buckets) == 0 {
		return []reports.Series{}
	}
	start := r.Buckets[0].Start
	n := len(r.Buckets)
	ratio := reports.Series{Name: "success_ratio", Unit: "ratio", Start: start,
		Points: make([]reports.Point, n), Healthy: make([]bool, n)}
	p99 := reports.Series{Name: "p99_latency_ms", Unit: "ms", Start: start, Points: make([]reports.Point, n)}
	probes := make([]reports.Series, len(r.Probes))
	for j, p := range r.Probes {
		probes[j] = reports.Series{Name: p.Name, Unit: p.Unit, Start: start, Points: make([]reports.Point, n)}
	}
	for i, b := range r.Buckets {
		if v, ok := b.SuccessRatio(); ok {
			ratio.Points[i] = reports.Point{Value: v, Present: true}
		}
		if i < len(r.Health) {
			ratio.Healthy[i] = r.Health[i].Health != slo.Unhealthy
		}
		if v, ok := b.Quantile(0.99); ok {
			p99.Points[i] = reports.Point{Value: float64(v) / float64(time.Millisecond), Present: true}
		}
		for j, p := range r.Probes {
			if s, ok := b.Probes[p.Name]; ok && s.N > s.Errs {
				probes[j].Points[i] = reports.Point{Value: s.Last, Present: true}
			}
		}
	}
	return append([]reports.Series{ratio, p99}, probes...)
}

// collector gathers the reports of every Run in this process when
// FIREDRILL_REPORT_DIR is set. It is the one piece of process-wide state
// in the engine, because a test binary's drills run in separate tests.
var collector struct {
	mu      sync.Mutex
	started time.Time
	drills  []reports.Drill
	samples map[string]int
}

// Collect adds a result to the process-wide report, if FIREDRILL_REPORT_DIR
// is set. Run calls it when its test ends; call it yourself for results of
// Execute.
func Collect(r *Result) { collect(r, false) }

// collect adds r; testFailed says the go test that ran it failed, which
// makes the reported verdict a failure even if the drill itself passed.
func collect(r *Result, testFailed bool) {
	if r == nil || os.Getenv(EnvReportDir) == "" {
		return
	}
	d := r.Report()
	if testFailed && d.Passed {
		d.Passed = false
		d.TestFailed = true
		d.TestFailure = "the test failed after the drill passed its budget (see the test's own assertions in its log)"
	} else if testFailed {
		d.TestFailed = true
	}
	collector.mu.Lock()
	defer collector.mu.Unlock()
	if collector.samples == nil {
		collector.samples = map[string]int{}
	}
	if collector.started.IsZero() || (!d.Timeline.LoadStarted.IsZero() && d.Timeline.LoadStarted.Before(collector.started)) {
		collector.started = d.Timeline.LoadStarted
	}
	d.Sample = collector.samples[d.Name]
	collector.samples[d.Name]++
	collector.drills = append(collector.drills, d)
}

// Collected returns the run collected so far.
func Collected() reports.Run {
	collector.mu.Lock()
	defer collector.mu.Unlock()
	run := reports.Run{
		Schema: reports.SchemaVersion,
		Meta: reports.Meta{
			RunID:     scenarios.RunID(), // the firedrill.run label of the run's Docker resources too
			Commit:    firstEnv("FIREDRILL_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA"),
			Release:   release(),
			GoVersion: runtime.Version(),
			Started:   collector.started,
			Finished:  time.Now(),
		},
		Drills: append([]reports.Drill{}, collector.drills...),
	}
	if host, err := os.Hostname(); err == nil {
		run.Meta.Machine = fmt.Sprintf("%s (%s/%s, %d CPUs)", host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	}
	if run.Meta.Started.IsZero() {
		run.Meta.Started = run.Meta.Finished
	}
	return run
}

// release is the release the run tested: FIREDRILL_RELEASE, else what
// `git describe --tags --always --dirty` says of the working tree (empty
// outside a repository).
func release() string {
	if r := os.Getenv("FIREDRILL_RELEASE"); r != "" {
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// WriteReport merges the collected run into dir's report.json (the
// versioned schema; drills already there are kept) and rewrites report.md
// from it, each atomically, and returns the JSON file's path. It writes nothing and returns "" when no drill was
// collected.
func WriteReport(dir string) (string, error) {
	run := Collected()
	if len(run.Drills) == 0 {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	path := filepath.Join(dir, "report.json")
	// Several test binaries (one per package) may write the same
	// directory, at once: each merges its drills into the file under a lock.
	merged, err := reports.MergeFile(path, run)
	if err != nil {
		return "", err
	}
	if err := reports.WriteFile(filepath.Join(dir, "report.md"), reports.Markdown, merged); err != nil {
		return path, err
	}
	return path, nil
}

// Flush writes the collected report to FIREDRILL_REPORT_DIR, if set.
func Flush() (string, error) {
	dir := os.Getenv(EnvReportDir)
	if dir == "" {
		return "", errors.New("flush report: " + EnvReportDir + " is not set")
	}
	return WriteReport(dir)
}

// Main runs the tests and then, when FIREDRILL_REPORT_DIR is set, writes
// the report of every drill and prints its path. Use it in TestMain:
//
//	func TestMain(m *testing.M) { drills.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if os.Getenv(EnvReportDir) != "" {
		path, err := Flush()
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "firedrill: %v\n", err)
			if code == 0 {
				code = 1
			}
		case path != "":
			fmt.Fprintf(os.Stderr, "firedrill: report written to %s\n", path)
		}
	}
	os.Exit(code)
}
