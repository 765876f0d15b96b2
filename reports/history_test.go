package reports_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
)

// releaseHistory is four releases of ten samples per drill, a day apart;
// loader-crash recovers 60% slower in the third (v1.2.0) and as before in
// the fourth. Run ids are long, like a CI job's.
func releaseHistory(withRelease bool) []reports.Run {
	var runs []reports.Run
	for i, rel := range []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"} {
		drills := reportstest.PipelineDrills()[:3]
		if i == 2 {
			drills[0].TTR = drills[0].TTR * 16 / 10
		}
		r := reportstest.Run(reportstest.Config{
			Seed: uint64(100 + i), Samples: 10, Noise: 0.08, Start: reportstest.Epoch.Add(time.Duration(i) * 24 * time.Hour), Drills: drills,
			RunID: fmt.Sprintf("github-actions-firedrill-nightly-%d-attempt-1-of-the-release-pipeline", 9000+i),
		})
		r.Meta.Release = ""
		if withRelease {
			r.Meta.Release = rel
		}
		runs = append(runs, r)
	}
	return runs
}

func TestHistoryMarksTheReleaseCompareFlags(t *testing.T) {
	trend := reports.History(releaseHistory(true))
	require.Len(t, trend.Runs, 4)
	var labels []string
	for _, r := range trend.Runs {
		labels = append(labels, r.Label)
	}
	assert.Equal(t, []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"}, labels, "runs labelled by release")
	assert.Empty(t, trend.Runs[1].Flagged)
	require.Len(t, trend.Runs[2].Flagged, 1, "the planted regression, and nothing else")
	assert.Equal(t, "loader-crash", trend.Runs[2].Flagged[0].Drill)
	assert.Empty(t, trend.Runs[3].Flagged, "v1.3.0 is faster than v1.2.0: an improvement is not flagged")
	lc := trend.Runs[0]
	assert.LessOrEqual(t, lc.Q1["loader-crash"], lc.Median["loader-crash"])
	assert.LessOrEqual(t, lc.Median["loader-crash"], lc.Q3["loader-crash"])
	assert.Less(t, lc.Q1["loader-crash"], lc.Q3["loader-crash"], "ten noisy samples have a spread")
	assert.InDelta(t, 20.0, lc.Budget["loader-crash"], 1e-9)

	var buf bytes.Buffer
	require.NoError(t, reports.TrendSVG(&buf, trend))
	svg := buf.String()
	assert.Equal(t, 1, strings.Count(svg, `<g class="regressed-run"`), "one release marked")
	assert.Contains(t, svg, `<g class="regressed-run" data-run="github-actions-firedrill-nightly-9002-attempt-1-of-the-release-pipeline"><title>v1.2.0: regression against v1.1.0 (compare): loader-crash: `)
	assert.Equal(t, 1, strings.Count(svg, `<g class="regression" data-drill="loader-crash" data-run="github-actions-firedrill-nightly-9002-`), "the drill's point marked")
	assert.Contains(t, svg, ">regression vs previous run</text>", "a legend entry for the marker")
	assert.Equal(t, 3, strings.Count(svg, `<path class="budget"`), "a budget line per drill")
	assert.Contains(t, svg, "<title>loader-crash TTR budget 20.0s</title>")
	assert.Equal(t, 3, strings.Count(svg, `<path class="spread"`), "an interquartile band per drill")
	assert.Equal(t, 3, strings.Count(svg, `<path class="median"`))
	assert.NotContains(t, svg, "NaN")

	buf.Reset()
	require.NoError(t, reports.WriteTrendTable(&buf, trend))
	rows := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, rows, 5)
	assert.Contains(t, rows[3], "loader-crash (")
	assert.True(t, strings.HasSuffix(rows[4], "–"), rows[4])
}

// Without releases, runs are labelled by run id: a long one is shortened on
// the chart, never clipped off it, and its <title> holds all of it.
func TestHistoryLabelsKeepLongRunIDs(t *testing.T) {
	runs := releaseHistory(false)
	trend := reports.History(runs)
	var buf bytes.Buffer
	require.NoError(t, reports.TrendSVG(&buf, trend))
	svg := buf.String()
	height, err := parseFloat(regexp.MustCompile(`<svg class="trend"[^>]* height="([0-9.]+)"`).FindStringSubmatch(svg))
	require.NoError(t, err)
	labels := regexp.MustCompile(`<g class="run-label" data-run="([^"]*)"><title>([^<]*)</title><text x="([0-9.]+)" y="([0-9.]+)"[^>]*>([^<]*)</text>`).FindAllStringSubmatch(svg, -1)
	require.Len(t, labels, 4)
	for i, l := range labels {
		id := runs[i].Meta.RunID
		assert.Equal(t, id, l[1])
		assert.True(t, strings.HasPrefix(l[2], id), "the title holds the whole run id: %s", l[2])
		assert.Less(t, len([]rune(l[5])), len(id), "the label is shortened")
		assert.True(t, strings.HasSuffix(l[5], "…"))
		// The text runs down-right at 35° from (x, y): its far end must be
		// inside the chart (6.2 px a character is generous at 11 px).
		x, _ := parseFloat([]string{"", l[3]})
		y, _ := parseFloat([]string{"", l[4]})
		n := float64(len([]rune(l[5])))
		assert.GreaterOrEqual(t, x, 0.0)
		assert.LessOrEqual(t, x+n*6.2*0.819, 960.0, "label %d ends inside the chart's width", i)
		assert.LessOrEqual(t, y+n*6.2*0.574, height, "label %d ends above the chart's bottom", i)
	}
}

func parseFloat(m []string) (float64, error) {
	if len(m) < 2 {
		return 0, fmt.Errorf("no match")
	}
	var v float64
	_, err := fmt.Sscanf(m[1], "%g", &v)
	return v, err
}

// A run file written before budgets and quartiles existed still draws.
func TestHistoryOfOldFiles(t *testing.T) {
	runs := reportstest.WithTTRs(reportstest.Epoch, map[string][]float64{"loader-crash": {3, 3.1, 2.9}}, []string{"loader-crash"})
	trend := reports.History(runs)
	require.Len(t, trend.Runs, 3)
	assert.Equal(t, "run-0", trend.Runs[0].Label, "no release: the run id")
	assert.Empty(t, trend.Runs[0].Budget)
	var buf bytes.Buffer
	require.NoError(t, reports.TrendSVG(&buf, trend))
	assert.NotContains(t, buf.String(), `class="budget"`)
	assert.NotContains(t, buf.String(), "NaN")
}
