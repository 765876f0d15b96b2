package reports_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
)

// verdictDrill is a drill that passed and recovered; cases break it.
func verdictDrill() reports.Drill {
	run := reportstest.Run(reportstest.Config{Drills: []reportstest.DrillSpec{{Name: "d", TTRBudget: 20 * time.Second}}})
	return run.Drills[0]
}

// Before this change the writers judged a drill by Passed and its budgets
// only: a go test that failed after the drill (Passed true in the drill's
// own eyes), a system that never came back without a TTR budget, or a
// fault left behind all showed "✅ pass" in Markdown and no <failure> in
// JUnit, so CI and the report disagreed.
func TestWritersSayWhyADrillFailed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		change   func(*reports.Drill)
		reason   string // FailReason
		md       string // verdict cell
		junit    string // failure type and start of message
		htmlText string
	}{
		{name: "pass", change: func(*reports.Drill) {}, md: "✅ pass", htmlText: ">pass<"},
		{name: "test failed", change: func(d *reports.Drill) {
			d.Passed, d.TestFailed, d.TestFailure = false, true, "drill_test.go:12: leaked container"
		}, reason: reports.ReasonTestFailed, md: "❌ test failed", junit: `<failure type="test" message="test failed: drill_test.go:12: leaked container"`, htmlText: "test failed: drill_test.go:12: leaked container"},
		{name: "test failed beats a budget miss", change: func(d *reports.Drill) {
			d.Passed, d.TestFailed = false, true
			d.Budgets[0].Passed = false
		}, reason: reports.ReasonTestFailed, md: "❌ test failed", junit: `<failure type="test" message="test failed: the go test failed after the drill was judged"`, htmlText: ">test failed<"},
		{name: "not restored", change: func(d *reports.Drill) {
			d.Passed, d.Restored = false, false
			d.Episodes[0].Restored, d.Episodes[0].TTR = nil, reports.Measure{}
		}, reason: reports.ReasonNotRestored, md: "❌ not restored", junit: `<failure type="restore" message="not restored: the steady state did not hold for 10 healthy buckets`, htmlText: "never restored: episode 1 (down(d-link)"},
		{name: "not restored though Passed says true", change: func(d *reports.Drill) {
			d.Restored = false
		}, reason: reports.ReasonNotRestored, md: "❌ not restored", junit: `<failure type="restore"`, htmlText: ">not restored<"},
		{name: "revert failed", change: func(d *reports.Drill) {
			d.Passed, d.RevertFailed = false, []string{"down(d-link): toxiproxy unreachable — run make wipe"}
		}, reason: reports.ReasonRevertFailed, md: "❌ revert failed", junit: `<failure type="revert" message="revert failed: down(d-link): toxiproxy unreachable — run make wipe"`, htmlText: "revert failed: down(d-link)"},
		{name: "budget missed", change: func(d *reports.Drill) {
			d.Passed, d.Budgets[0].Passed = false, false
		}, reason: reports.ReasonBudget, md: "❌ budget missed", junit: `<failure type="budget" message="budget ttr missed`, htmlText: ">budget missed<"},
		{name: "error wins", change: func(d *reports.Drill) {
			d.Passed, d.Restored, d.TestFailed, d.Error = false, false, true, "no docker"
		}, md: "⚠️ error", junit: `<error type="drill" message="no docker"`, htmlText: "error: no docker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := verdictDrill()
			require.True(t, d.Passed && d.Restored)
			tc.change(&d)
			assert.Equal(t, tc.reason, d.FailReason())
			run := reports.Run{Schema: reports.SchemaVersion, Drills: []reports.Drill{d}}

			var md bytes.Buffer
			require.NoError(t, reports.Markdown(&md, run))
			row := regexp.MustCompile(`(?m)^\| d \|.*$`).FindString(md.String())
			assert.True(t, strings.HasSuffix(row, "| 1 | "+tc.md+" |"), "markdown row %q ends with the episode count and %q", row, tc.md)
			if tc.reason != "" {
				assert.NotContains(t, md.String(), "✅")
			}

			var junit bytes.Buffer
			require.NoError(t, reports.JUnit(&junit, run))
			switch {
			case tc.junit == "":
				assert.NotContains(t, junit.String(), "<failure")
			case tc.reason != "":
				assert.Contains(t, junit.String(), tc.junit)
				assert.Contains(t, junit.String(), `failures="1"`)
			default:
				assert.Contains(t, junit.String(), tc.junit)
				assert.Contains(t, junit.String(), `errors="1"`)
			}

			var html bytes.Buffer
			require.NoError(t, reports.HTML(&html, run))
			assert.Contains(t, html.String(), tc.htmlText)
		})
	}
}

// Before, the Markdown report showed one TTR and no episode: a drill with
// several faults hid all but one recovery, and no bound, onset source or
// late write was visible.
func TestMarkdownListsEpisodes(t *testing.T) {
	run := reportstest.Run(reportstest.Config{Noise: 1e-9, Drills: []reportstest.DrillSpec{
		{Name: "nemesis", TTR: 2 * time.Second, Episodes: 3, Late: 4, Seed: 99},
		{Name: "never-back", NotRestored: true, Episodes: 2},
	}})
	var buf bytes.Buffer
	require.NoError(t, reports.Markdown(&buf, run))
	md := buf.String()
	assert.Contains(t, md, "| nemesis | 2.00s ± 5ms | 400ms | – | – | 0 | 0 | 3 | ✅ pass |")
	assert.Contains(t, md, "**nemesis** · worst TTR 2.00s ± 5ms \\[1.995s, 2.002s\\] (requests) · seed 99")
	for _, s := range []string{"- episode 1: down(nemesis-link), onset t+5.000s (inject call)", "- episode 2: kill(nemesis-2, SIGKILL)", "(docker events kill..die)", "- episode 3: ", "late 4; late ids evt-000201"} {
		assert.Contains(t, md, s)
	}
	assert.Regexp(t, `- episode 2: kill\(never-back-2, SIGKILL\), onset t\+\S+ \(docker events kill..die\), impact t\+\S+, not restored`, md)
	assert.Contains(t, md, "| never-back | – |")
	assert.Contains(t, md, "never restored: episode 2 (kill(never-back-2, SIGKILL)")
}

// Before, the timeline chart drew one TTR span and nothing per episode; a
// drill that never recovered looked like one still in progress.
func TestTimelineSVGMarksEpisodes(t *testing.T) {
	run := reportstest.Run(reportstest.Config{Drills: []reportstest.DrillSpec{
		{Name: "nemesis", TTR: 2 * time.Second, Episodes: 2},
		{Name: "never-back", NotRestored: true, Episodes: 2},
	}})
	svg := timelineSVG(t, run.Drills[0])
	assert.Equal(t, 2, strings.Count(svg, `<g class="episode"`))
	assert.Equal(t, 2, strings.Count(svg, `data-restored="true"`))
	assert.Equal(t, 2, strings.Count(svg, `class="bounds"`), "each restored episode shows its TTR interval")
	assert.NotContains(t, svg, "not restored")

	svg = timelineSVG(t, run.Drills[1])
	assert.Equal(t, 1, strings.Count(svg, `data-restored="true"`))
	assert.Equal(t, 1, strings.Count(svg, `data-restored="false"`))
	assert.Contains(t, svg, `>not restored</text>`)
	assert.NotContains(t, svg, "NaN")

	var buf bytes.Buffer
	require.NoError(t, reports.HTML(&buf, run))
	assert.Equal(t, 2, strings.Count(buf.String(), `<table class="episodes">`), "each drill lists its episodes")
	assert.Contains(t, buf.String(), "<td>not restored</td>")
}
