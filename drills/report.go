package drills

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/reports"
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
		Faults:     []reports.Fault{},
		Steps:      []reports.Step{},
		Series:     []reports.Series{},
		Budgets:    []reports.Verdict{},
	}
	if r.Err != nil {
		d.Error = r.Err.Error()
	}
	tl := r.Timeline
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	d.Timeline = reports.Timeline{
		LoadStarted:    tl.LoadStarted,
		SteadyVerified: tl.SteadyVerified,
		FaultSent:      tl.FaultSent,
		FaultAcked:     tl.FaultAcked,
		Impact:         opt(tl.Impact),
		Detected:       opt(tl.Detected),
		RecoveryStart:  opt(tl.RecoveryStart),
		RecoveryDone:   opt(tl.RecoveryDone),
		FaultReverted:  opt(tl.FaultReverted),
		Restored:       opt(tl.Restored),
		CaughtUp:       opt(tl.CaughtUp),
		End:            tl.End,
	}
	m := func(x Measure) reports.Measure {
		return reports.Measure{Valid: x.Valid, Value: reports.Duration(x.Value), Resolution: reports.Duration(x.Resolution)}
	}
	d.Measures = reports.Measures{
		TTR:            m(r.Measures.TTR),
		TTD:            m(r.Measures.TTD),
		Impact:         m(r.Measures.Impact),
		Runbook:        m(r.Measures.Runbook),
		CatchUp:        m(r.Measures.CatchUp),
		Requests:       r.Measures.Requests,
		FailedRequests: r.Measures.FailedRequests,
		LateStarts:     r.Measures.LateStarts,
	}
	in := r.Integrity
	d.Integrity = reports.Integrity{
		Checked: in.Checked, Acknowledged: in.Acknowledged, Landed: in.Landed,
		Lost: in.Lost, Duplicated: in.Duplicated, LostSample: in.LostSample,
	}
	// One entry per fault: its inject bracket and, if any, its revert.
	for _, rec := range r.Faults {
		b := reports.Bracket{Sent: rec.Bracket.Sent, Acked: rec.Bracket.Acked}
		if !rec.Action.Revert {
			f := reports.Fault{Name: rec.Fault, Inject: b}
			if rec.Err != nil {
				f.Error = rec.Err.Error()
			}
			d.Faults = append(d.Faults, f)
			continue
		}
		for i := len(d.Faults) - 1; i >= 0; i-- {
			if d.Faults[i].Name == rec.Fault && d.Faults[i].Revert == nil {
				d.Faults[i].Revert = &b
				if rec.Err != nil {
					d.Faults[i].Error = rec.Err.Error()
				}
				break
			}
		}
	}
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
// is set. Run calls it; call it yourself for results of Execute.
func Collect(r *Result) {
	if r == nil || os.Getenv(EnvReportDir) == "" {
		return
	}
	d := r.Report()
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
			RunID:     runID(),
			Commit:    firstEnv("FIREDRILL_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA"),
			Release:   os.Getenv("FIREDRILL_RELEASE"),
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

var runIDOnce = sync.OnceValue(func() string {
	if id := os.Getenv("FIREDRILL_RUN_ID"); id != "" {
		return id
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
})

func runID() string { return runIDOnce() }

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// WriteReport writes the collected run into dir as report.json (the
// versioned schema) and report.md, each atomically, and returns the JSON
// file's path. It writes nothing and returns "" when no drill was
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
	if err := reports.WriteFile(path, reports.JSON, run); err != nil {
		return "", err
	}
	if err := reports.WriteFile(filepath.Join(dir, "report.md"), reports.Markdown, run); err != nil {
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
