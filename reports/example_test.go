package reports_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
)

// Compare TTR samples of a base and a head release: loader-crash recovers
// about 30% slower in head, lake-outage is unchanged.
func ExampleCompare() {
	names := []string{"loader-crash", "lake-outage"}
	base := reportstest.WithTTRs(reportstest.Epoch, map[string][]float64{
		"loader-crash": {3.1, 3.0, 3.2, 2.9, 3.0, 3.1, 3.3, 3.0, 2.9, 3.1},
		"lake-outage":  {5.0, 5.2, 4.9, 5.1, 5.0, 5.3, 4.8, 5.0, 5.1, 5.2},
	}, names)
	head := reportstest.WithTTRs(reportstest.Epoch, map[string][]float64{
		"loader-crash": {4.0, 3.9, 4.2, 4.1, 3.8, 4.0, 4.3, 3.9, 4.1, 4.0},
		"lake-outage":  {5.1, 4.9, 5.0, 5.2, 5.0, 4.9, 5.1, 5.3, 5.0, 4.8},
	}, names)
	if err := reports.MatchDrills(base, head); err != nil {
		fmt.Println(err)
		return
	}
	opts := reports.CompareOptions{Threshold: 0.10, Alpha: 0.05}
	cs := reports.Compare(base, head, opts)
	_ = reports.WriteComparisons(os.Stdout, cs, opts)
	for _, c := range reports.Regressions(cs) {
		fmt.Printf("regression: %s %+.0f%%\n", c.Drill, c.Change*100)
	}
	// Output:
	// drill         base TTR    head TTR    change  95% CI            p      n      verdict
	// loader-crash  3.05s ± 2%  4.00s ± 2%  +31.1%  [+21.9%, +44.8%]  0.000  10+10  regression
	// lake-outage   5.05s ± 2%  5.00s ± 2%  -1.0%   [-5.8%, +6.1%]    0.656  10+10  ~
	//
	// significant: p ≤ 0.05 (Mann-Whitney U, two-sided) and |change| > 10%; CI: from the medians' order-statistic intervals, 97.5% each side (as benchstat)
	// 1 drill(s) recover significantly slower
	// regression: loader-crash +31%
}

// Write a run as a Markdown step summary: a drill that recovered from its
// one episode but missed its TTR budget.
func ExampleMarkdown() {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := time.Millisecond
	ttr := reports.Measure{Valid: true, Value: reports.Duration(3200 * ms), Resolution: reports.Duration(3 * ms),
		Lower: reports.Duration(3198 * ms), Upper: reports.Duration(3203 * ms), Source: "requests"}
	onset, impact, restored := t0.Add(5*time.Second), t0.Add(5100*ms), t0.Add(8200*ms)
	run := reports.Run{
		Schema: reports.SchemaVersion,
		Meta:   reports.Meta{RunID: "ci-42", Started: t0, Finished: t0.Add(time.Minute)},
		Drills: []reports.Drill{{
			Name: "loader-crash", Passed: false, Restored: true, HealthyRun: 10,
			Timeline:  reports.Timeline{LoadStarted: t0, Impact: &impact, Restored: &restored},
			Measures:  reports.Measures{TTR: ttr},
			Integrity: reports.Integrity{Checked: true, Acknowledged: 100, Landed: 100, Late: 2},
			Episodes: []reports.Episode{{Fault: "kill(loader)", Onset: onset, OnsetSource: "docker events kill..die",
				Impact: impact, Restored: &restored, TTR: ttr}},
			Budgets: []reports.Verdict{{Name: "ttr", Limit: "2s", Actual: "3.20s ± 3ms", Message: "TTR over budget"}},
		}},
	}
	_ = reports.Markdown(os.Stdout, run)
	// Output:
	// ## firedrill report ci-42
	//
	// started 2026-01-02 03:04:05Z · took 1m0s
	//
	// **1 drill samples: 0 passed, 1 failed, 0 errors**
	//
	// | drill | TTR ± res | TTD | pages | alerts | lost | dup | episodes | verdict |
	// |---|---:|---:|---:|---:|---:|---:|---:|---|
	// | loader-crash | 3.20s ± 3ms | – | – | – | 0 | 0 | 1 | ❌ budget missed |
	//
	// ### Failures
	//
	// **loader-crash**
	//
	// - ttr: 3.20s ± 3ms (limit 2s): TTR over budget
	//
	// ### Episodes
	//
	// **loader-crash** · worst TTR 3.20s ± 3ms \[3.198s, 3.203s\] (requests)
	//
	// - episode 1: kill(loader), onset t+5.000s (docker events kill..die), impact t+5.100s, restored t+8.200s: TTR 3.20s ± 3ms \[3.198s, 3.203s\] (requests)
	// - integrity: acknowledged 100, landed 100, lost 0, dup 0, late 2
}

// Write every format of a run, each file atomically.
func ExampleWriteFile() {
	dir, _ := os.MkdirTemp("", "firedrill-example")
	defer os.RemoveAll(dir)
	run := reportstest.Run(reportstest.Config{Drills: reportstest.PipelineDrills()[:2]})
	for _, name := range []string{"report.json", "report.md", "report.junit.xml", "report.html"} {
		format := map[string]string{".json": "json", ".md": "md", ".xml": "junit", ".html": "html"}[filepath.Ext(name)]
		if err := reports.WriteFile(filepath.Join(dir, name), reports.Writers[format], run); err != nil {
			fmt.Println(err)
		}
	}
	back, err := reports.Read(filepath.Join(dir, "report.json"))
	fmt.Println(len(back.Drills), back.Schema, err)
	// Output: 2 firedrill.report/v1 <nil>
}

// Print live progress; on a terminal the line is rewritten in place.
func ExampleNewProgress() {
	p := reports.NewProgress(os.Stdout, true)
	p.Update("steady", 2*time.Second, map[string]float64{"success_ratio": 1})
	p.Update("fault", 5*time.Second, map[string]float64{"success_ratio": 0.21}) // within 250ms: held back
	p.Done()                                                                    // prints the held-back update
	// Output:
	// firedrill steady           2.0s  success_ratio=1
	// firedrill fault            5.0s  success_ratio=0.21
}
