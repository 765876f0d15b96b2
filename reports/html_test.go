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

// sevenDrillRun is a 7-drill run with long, fine-grained series (50 ms
// buckets, a minute of tail), the size case for the HTML target.
func sevenDrillRun() reports.Run {
	return reportstest.Run(reportstest.Config{
		Seed: 3, Bucket: 50 * time.Millisecond, Tail: time.Minute, Drills: reportstest.PipelineDrills(),
	})
}

func TestHTMLSevenDrillsUnder1MB(t *testing.T) {
	run := sevenDrillRun()
	var buf bytes.Buffer
	require.NoError(t, reports.HTML(&buf, run))
	t.Logf("7-drill HTML report: %d bytes", buf.Len())
	assert.Less(t, buf.Len(), 1<<20)
	html := buf.String()
	assert.Equal(t, 7, strings.Count(html, `<svg class="timeline"`))
	assert.NotContains(t, html, "<script")
	assert.NotRegexp(t, `(src|href)="(https?:)?//`, html, "no external assets")
	// Six drills with impact have impact, detected, restored and caught-up markers.
	assert.Equal(t, 6*4, strings.Count(html, `class="marker"`))
	assert.Equal(t, 6, strings.Count(html, `class="ttr-span"`))
	assert.Equal(t, 6, strings.Count(html, `<g class="episode"`))
	// Five drills watch alerts: a lane per alert that fired, and the TTR
	// parts of the three whose runbook starts on detection.
	assert.Equal(t, 7, strings.Count(html, `<g class="alert"`))
	assert.Equal(t, 3, strings.Count(html, `<g class="ttr-parts"`))
}

func TestHTMLEscapes(t *testing.T) {
	run := goldenRun()
	var buf bytes.Buffer
	require.NoError(t, reports.HTML(&buf, run))
	html := buf.String()
	assert.NotContains(t, html, "<drill>")
	assert.Contains(t, html, "stuck | &lt;drill&gt;")
	assert.NotContains(t, html, "<ok>", "step output is escaped")
}

func TestTimelineSVGDownsamples(t *testing.T) {
	run := sevenDrillRun()
	d := run.Drills[0]
	require.Greater(t, len(d.Series[0].Points), 1000)
	svg := timelineSVG(t, d, reports.WithMaxPoints(200))
	path := regexp.MustCompile(`<g class="series" data-series="success_ratio">.*?<path [^>]* d="([^"]*)"`).FindStringSubmatch(svg)
	require.Len(t, path, 2)
	n := strings.Count(path[1], "L") + strings.Count(path[1], "M")
	assert.LessOrEqual(t, n, 200)
	assert.Greater(t, n, 100)
}

func TestTimelineSVGWithoutEvents(t *testing.T) {
	// A drill that errored before anything happened still renders.
	svg := timelineSVG(t, reports.Drill{Name: "empty", Error: "no docker"})
	assert.True(t, strings.HasPrefix(svg, `<svg class="timeline"`))
	assert.True(t, strings.HasSuffix(svg, `</svg>`))
	assert.NotContains(t, svg, "NaN")
}

// timelineSVG is the timeline of d as a string.
func timelineSVG(t *testing.T, d reports.Drill, opts ...reports.TimelineOption) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, reports.TimelineSVG(&b, d, opts...))
	return b.String()
}

func TestTimelineSVGOptions(t *testing.T) {
	d := sevenDrillRun().Drills[0]
	svg := timelineSVG(t, d, reports.WithWidth(480))
	assert.True(t, strings.HasPrefix(svg, `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 `), svg[:120])
	var b strings.Builder
	require.ErrorContains(t, reports.TimelineSVG(&b, d, reports.WithWidth(100)), "width 100: need at least 240 pixels")
	require.ErrorContains(t, reports.TimelineSVG(&b, d, reports.WithMaxPoints(1)), "max points 1: need at least 2")
	assert.Empty(t, b.String(), "nothing written on a bad option")
}

func BenchmarkHTMLSevenDrills(b *testing.B) {
	run := sevenDrillRun()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		_ = reports.HTML(&buf, run)
	}
}
