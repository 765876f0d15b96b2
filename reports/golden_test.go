package reports_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenRun is the deterministic run behind the golden files, two samples
// of each: a passing drill, one that misses its TTR budget, one that loses
// data, one that errored, one with two episodes and late writes, one never
// restored, one whose go test failed after the drill, and one whose fault
// could not be reverted. Some watch alerts: loader-crash pages and starts
// its runbook on detection, lake-outage pages and warns twice, the
// nemesis drill warns but must not page, and never-back's page never
// resolves.
func goldenRun() reports.Run {
	return reportstest.Run(reportstest.Config{
		Seed: 7, Samples: 2, Bucket: 250 * time.Millisecond, Tail: time.Second,
		Drills: []reportstest.DrillSpec{
			{Name: "loader-crash", TTR: 3 * time.Second, TTRBudget: 20 * time.Second, OnDetect: true, Alerts: []reportstest.AlertSpec{
				{Name: "FreshnessObjectiveBreached", Severity: "critical", Expected: true, Fires: 1},
			}},
			{Name: "lake-outage", TTR: 5 * time.Second, TTRBudget: 4 * time.Second, Alerts: []reportstest.AlertSpec{
				{Name: "CollectorCannotCommit", Severity: "critical", Expected: true, Fires: 1},
				{Name: "CollectorRetrying_<lake>", Severity: "warning", Fires: 2, Delay: 400 * time.Millisecond},
			}},
			{Name: "bad-deploy", TTR: 2 * time.Second, Lost: 2},
			{Name: "stuck | <drill>", TTR: time.Second, Error: "steady state never reached within 30s:\nsuccess_ratio 0.42 < 0.999"},
			{Name: "nemesis", TTR: 2 * time.Second, TTRBudget: 20 * time.Second, Episodes: 2, Late: 2, Seed: 42, Alerts: []reportstest.AlertSpec{
				{Name: "LoaderRetrying", Severity: "warning", Expected: true, Fires: 1},
				{Name: "FreshnessObjectiveBreached", Severity: "critical", Quiet: true},
			}},
			{Name: "never-back", TTR: 4 * time.Second, TTRBudget: 20 * time.Second, NotRestored: true, Alerts: []reportstest.AlertSpec{
				{Name: "FreshnessObjectiveBreached", Severity: "critical", Expected: true, Fires: 1},
			}},
			{Name: "flaky-teardown", TTR: time.Second, TestFailure: "drill_test.go:41: container loader still running after cleanup\nlabels: firedrill.run=synthetic-7"},
			{Name: "stuck-fault", TTR: time.Second, RevertFail: "latency(collector->lake): toxiproxy API unreachable — run make wipe"},
		},
	})
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./reports -run Golden -update")
	if !bytes.Equal(want, got) {
		// Keep the new output next to the golden file for a diff.
		_ = os.WriteFile(path+".got", got, 0o644)
		assert.Fail(t, "output differs from golden file", "%s differs; see %s.got, or rerun with -update if the change is intended", path, path)
	}
}

func TestGoldenWriters(t *testing.T) {
	run := goldenRun()
	for _, tc := range []struct {
		name string
		w    reports.Writer
	}{
		{"report.json.golden", reports.JSON},
		{"report.md.golden", reports.Markdown},
		{"report.junit.xml.golden", reports.JUnit},
		{"report.html.golden", reports.HTML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tc.w(&buf, run))
			golden(t, tc.name, buf.Bytes())
		})
	}
}

func TestGoldenCompare(t *testing.T) {
	names := []string{"loader-crash", "lake-outage", "poison-batch"}
	base := reportstest.WithTTRs(reportstest.Epoch, map[string][]float64{
		"loader-crash": reportstest.Samples(1, 10, 3*time.Second, 0.05),
		"lake-outage":  reportstest.Samples(2, 10, 5*time.Second, 0.05),
		"poison-batch": reportstest.Samples(3, 10, 2*time.Second, 0.05),
	}, names)
	head := reportstest.WithTTRs(reportstest.Epoch.Add(24*time.Hour), map[string][]float64{
		"loader-crash": reportstest.Samples(4, 10, 3900*time.Millisecond, 0.05),
		"lake-outage":  reportstest.Samples(5, 10, 5*time.Second, 0.05),
		"poison-batch": reportstest.Samples(6, 10, 1400*time.Millisecond, 0.05),
	}, names)
	var buf bytes.Buffer
	require.NoError(t, reports.WriteComparisons(&buf, reports.Compare(base, head, reports.CompareOptions{}), reports.CompareOptions{}))
	golden(t, "compare.txt.golden", buf.Bytes())
}

func TestGoldenTrend(t *testing.T) {
	var runs []reports.Run
	for i := range 5 {
		r := reportstest.Run(reportstest.Config{
			Seed: uint64(i + 1), Samples: 3, Start: reportstest.Epoch.Add(time.Duration(4-i) * 24 * time.Hour),
			RunID: "run-" + string(rune('a'+i)), Drills: reportstest.PipelineDrills()[:4],
		})
		r.Meta.Release = "v1." + string(rune('0'+4-i)) + ".0"
		runs = append(runs, r)
	}
	var buf bytes.Buffer
	require.NoError(t, reports.TrendSVG(&buf, reports.History(runs)))
	golden(t, "trend.svg.golden", buf.Bytes())
}
