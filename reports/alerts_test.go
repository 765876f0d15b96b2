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

// alertRun holds a drill that pages and warns and starts its runbook on
// detection (loader-crash), one that watched no alerting system
// (bad-deploy), and one whose quiet alert stayed quiet (poison-batch).
func alertRun() reports.Run {
	all := reportstest.PipelineDrills()
	return reportstest.Run(reportstest.Config{Seed: 5, Drills: []reportstest.DrillSpec{all[0], all[4], all[3]}})
}

func TestTimelineDrawsAlertLanesAndTTRParts(t *testing.T) {
	run := alertRun()
	svg := timelineSVG(t, run.Drills[0])
	assert.Equal(t, 2, strings.Count(svg, `<g class="alert"`), "a lane per alert that fired")
	page := regexp.MustCompile(`<g class="alert" data-alert="FreshnessObjectiveBreached" data-page="true">.*?</g>`).FindString(svg)
	require.NotEmpty(t, page, svg)
	assert.Equal(t, 1, strings.Count(page, `class="alert-span"`))
	warn := regexp.MustCompile(`<g class="alert" data-alert="LoaderRetrying" data-page="false">.*?</g>`).FindString(svg)
	require.NotEmpty(t, warn)
	assert.Equal(t, 2, strings.Count(warn, `class="alert-span"`), "fired twice: two spans")
	assert.Contains(t, svg, ">FreshnessObjectiv…</text>", "the lane is labelled (clipped; the tooltip has the name)")

	parts := regexp.MustCompile(`<g class="ttr-parts">.*?</g>`).FindString(svg)
	require.NotEmpty(t, parts, "the runbook started on detection: TTR parts drawn")
	for _, p := range []string{"ttd", "reaction", "runbook", "convergence"} {
		assert.Contains(t, parts, `data-part="`+p+`"`)
	}
	assert.Contains(t, parts, "<title>TTR = TTD ")

	plain := timelineSVG(t, run.Drills[1])
	assert.NotContains(t, plain, `class="alert"`, "no alerting system, no alert lane")
	assert.NotContains(t, plain, `ttr-parts`)
	quiet := timelineSVG(t, run.Drills[2])
	assert.Equal(t, 1, strings.Count(quiet, `<g class="alert"`), "the quiet alert that stayed quiet has no lane")
	assert.NotContains(t, quiet, `ttr-parts`, "runbook not started by detection")
}

// The colours of the alert lanes are the palette's, which the HTML legend
// explains.
func TestHTMLLegendExplainsAlertColours(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, reports.HTML(&buf, alertRun()))
	html := buf.String()
	fill := func(page string) string {
		m := regexp.MustCompile(`data-page="` + page + `"><title>[^<]*</title><rect class="alert-span" [^>]*fill="(#[0-9a-f]{6})"`).FindStringSubmatch(html)
		require.Len(t, m, 2, "an alert lane with data-page=%s", page)
		return m[1]
	}
	pageCol, otherCol := fill("true"), fill("false")
	assert.NotEqual(t, pageCol, otherCol)
	assert.Contains(t, html, `<i style="background:`+pageCol+`"></i>page firing (critical alert)`)
	assert.Contains(t, html, `<i style="background:`+otherCol+`"></i>non-critical alert firing`)
	assert.Contains(t, html, `<table class="alerts">`)
	assert.Contains(t, html, `<p class="parts">TTR = TTD `)
}

func TestMarkdownAlertsAndDecomposition(t *testing.T) {
	run := alertRun()
	var buf bytes.Buffer
	require.NoError(t, reports.Markdown(&buf, run))
	md := buf.String()
	assert.Contains(t, md, "| drill | TTR ± res | TTD | pages | alerts | lost | dup | episodes | verdict |")
	assert.Regexp(t, `\| loader-crash \| [^|]+ \| [^|]+ \| 1 \| 1 \| 0 \| 0 \| 1 \| ✅ pass \|`, md)
	assert.Regexp(t, `\| bad-deploy \| [^|]+ \| [^|]+ \| – \| – \| 3 \| 0 \| 1 \| ❌ budget missed \|`, md, "a dash without an alerting system")
	assert.Regexp(t, `\| poison-batch \| [^|]+ \| [^|]+ \| 0 \| 1 \|`, md)

	m := run.Drills[0].Measures
	require.True(t, m.Reaction.Valid)
	assert.Equal(t, m.TTR.Value, m.TTD.Value+m.Reaction.Value+m.Runbook.Value+m.Convergence.Value, "the synthetic parts add up")
	assert.Contains(t, md, "- TTR = TTD "+reports.FormatMeasure(m.TTD, true)+" + reaction "+reports.FormatMeasure(m.Reaction, true)+
		" + runbook "+reports.FormatMeasure(m.Runbook, true)+" + convergence "+reports.FormatMeasure(m.Convergence, true)+"\n")
	assert.Contains(t, md, "- alerts: 1 page, 1 non-critical (scrape 1.00s, eval 1.00s, poll 250ms)\n")
	assert.Regexp(t, `  - FreshnessObjectiveBreached \(critical, page, expected\): TTD [^ ]+ ± [^ ]+ \\\[[^]]+\\\] \(alertmanager polls\), fired 1 time, resolved\n`, md)
	assert.Regexp(t, `  - LoaderRetrying \(warning\): TTD .*, fired 2 times, resolved\n`, md)
	assert.Contains(t, md, "  - FreshnessObjectiveBreached (critical, page, must stay quiet): stayed quiet\n")
	assert.Equal(t, 1, strings.Count(md, "- TTR = TTD"), "only the drill whose runbook started on detection")
}

// The engine writes alert verdicts as ordinary budgets: a failed "pages"
// verdict is a JUnit failure with its message, like any budget miss.
func TestJUnitShowsAPageOnANonCriticalFault(t *testing.T) {
	run := alertRun()
	d := &run.Drills[2]
	d.Passed = false
	d.Budgets = append(d.Budgets, reports.Verdict{
		Name: "pages", Limit: "0", Actual: "1", Passed: false,
		Message: "paged on a non-critical fault: FreshnessObjectiveBreached (critical) fired at t+6.200s\n" + reports.TimelineText(*d),
	})
	var buf bytes.Buffer
	require.NoError(t, reports.JUnit(&buf, run))
	x := buf.String()
	assert.Contains(t, x, `<failure type="budget" message="budget pages missed: 1, limit 0: paged on a non-critical fault: FreshnessObjectiveBreached (critical) fired at t+6.200s">`)
	assert.Contains(t, x, "load started", "the failure body holds the timeline")
	assert.Contains(t, x, `failures="2"`, "bad-deploy lost writes; poison-batch paged")

	buf.Reset()
	require.NoError(t, reports.Markdown(&buf, run))
	assert.Contains(t, buf.String(), "- pages: 1 (limit 0): paged on a non-critical fault")
}

func TestAlertsRoundTripAndOldFilesRead(t *testing.T) {
	run := alertRun()
	var buf bytes.Buffer
	require.NoError(t, reports.JSON(&buf, run))
	back, err := reports.Decode(buf.Bytes())
	require.NoError(t, err)
	require.NotNil(t, back.Drills[0].Alerts)
	assert.Equal(t, *run.Drills[0].Alerts, *back.Drills[0].Alerts)
	assert.Equal(t, run.Drills[0].Measures.Reaction, back.Drills[0].Measures.Reaction)
	assert.Equal(t, reports.Duration(20*time.Second), back.Drills[0].BudgetTTR)
	assert.Nil(t, back.Drills[1].Alerts)

	old := []byte(`{"schema": "firedrill.report/v1", "meta": {"run_id": "old", "started": "2026-01-02T03:04:05Z", "finished": "2026-01-02T03:05:05Z"},
	  "drills": [{"name": "loader-crash", "sample": 0, "passed": true, "bucket": 0.1, "healthy_run": 10,
	    "measures": {"ttr": {"valid": true, "value": 3.2, "resolution": 0.1}, "ttd": {"valid": false, "value": 0, "resolution": 0}}}]}`)
	r, err := reports.Decode(old)
	require.NoError(t, err, "a file written before alerts, reaction, convergence and budget_ttr existed")
	d := r.Drills[0]
	assert.Nil(t, d.Alerts)
	assert.False(t, d.Measures.Reaction.Valid)
	assert.False(t, d.Measures.Convergence.Valid)
	assert.Zero(t, d.BudgetTTR)
	buf.Reset()
	require.NoError(t, reports.Markdown(&buf, r))
	assert.Contains(t, buf.String(), "| loader-crash | 3.20s ± 100ms | – | – | – |")
}

func TestReadRefusesBadAlerts(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		change     func(*reports.Alerts)
	}{
		{"span backwards", "alerts: alerts[0] (FreshnessObjectiveBreached): spans[0]: to before from", func(a *reports.Alerts) {
			s := &a.Alerts[0].Spans[0]
			s.From, s.To = s.To, s.From
		}},
		{"expected and quiet", "both expected and quiet", func(a *reports.Alerts) { a.Alerts[0].Quiet = true }},
		{"no name", "alerts[1]: empty name", func(a *reports.Alerts) { a.Alerts[1].Name = " " }},
		{"negative count", "alerts: negative count", func(a *reports.Alerts) { a.Pages = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := alertRun()
			tc.change(run.Drills[0].Alerts)
			var buf bytes.Buffer
			require.NoError(t, reports.JSON(&buf, run))
			_, err := reports.Decode(buf.Bytes())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
