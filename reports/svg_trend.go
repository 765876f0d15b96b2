package reports

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
)

// TrendSVG writes the trend as a standalone SVG chart: x is the run (in
// start order, labelled by release, else run id; a label too long for the
// chart is shortened and the whole of it is in its <title>), y the TTR in
// seconds. Per drill: its median line, its interquartile band (class
// "spread"), its TTR budget as a dashed line (class "budget"), and a
// marker (class "regression") on the runs where Compare flags it against
// the previous run, which also mark the run (class "regressed-run"). A
// drill missing from a run breaks its line. The legend names the drills
// and the marks.
func TrendSVG(w io.Writer, t Trend) error {
	c := newTrendChart(t)
	bw := bufio.NewWriter(w)
	c.header(bw)
	c.yAxis(bw)
	c.regressedRuns(bw)
	for di, name := range t.Drills {
		c.drill(bw, di, name)
	}
	c.xLabels(bw)
	c.legend(bw)
	_, _ = bw.WriteString("</svg>\n") // a write error is sticky: Flush reports it
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write trend svg: %w", err)
	}
	return nil
}

// Size and margins of the trend chart, in pixels. The height grows with
// the run labels (trendChart.height).
const (
	trendW, trendPlotH                = 960.0, 354.0
	trendLeft, trendRight, trendTop   = 64.0, 200.0, 36.0
	trendPlotW                        = trendW - trendLeft - trendRight
	trendLabelChars                   = 30           // run labels are shortened beyond this
	trendCharW                        = 6.2          // width of a character at 11 px, generous
	trendLabelSin, trendLabelCos      = 0.574, 0.819 // labels run down-right at 35°
	trendLabelGap                     = 20.0         // least horizontal room between labels
	trendLegendRow, trendLegendMarkW  = 18.0, 20.0
	trendMarkerSize, trendBandMinHalf = 6.0, 4.0
)

// trendChart draws a Trend: its y scale (0 to hi seconds, ticks every
// step), the runs along x, and the height its labels need.
type trendChart struct {
	t        Trend
	p        palette
	hi, step float64
	height   float64
}

func newTrendChart(t Trend) trendChart {
	hi := trendMax(t)
	step := niceStep(hi / 5)
	longest := 0
	for _, r := range t.Runs {
		longest = max(longest, len([]rune(clipText(r.Label, trendLabelChars))))
	}
	height := trendTop + trendPlotH + 14 + float64(longest)*trendCharW*trendLabelSin + 16
	return trendChart{t: t, p: colours, hi: math.Ceil(hi/step) * step, step: step, height: math.Max(height, trendTop+trendPlotH+40)}
}

// x is the position of run i.
func (c trendChart) x(i int) float64 {
	n := len(c.t.Runs)
	if n <= 1 {
		return trendLeft + trendPlotW/2
	}
	return trendLeft + trendPlotW*float64(i)/float64(n-1)
}

// half is half the room between two runs, for bands and budget steps.
func (c trendChart) half() float64 {
	if n := len(c.t.Runs); n > 1 {
		return trendPlotW / float64(n-1) / 2
	}
	return trendPlotW / 4
}

// y is the position of v seconds.
func (c trendChart) y(v float64) float64 { return trendTop + trendPlotH - v/c.hi*trendPlotH }

func (c trendChart) header(w io.Writer) {
	fmt.Fprintf(w, `<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="Helvetica,Arial,sans-serif" font-size="11">`+"\n", trendW, c.height, trendW, c.height)
	fmt.Fprintf(w, `<title>TTR trend: median and interquartile range per drill over %d runs, budgets, regressions flagged by compare</title>`+"\n", len(c.t.Runs))
	fmt.Fprintf(w, `<rect width="%.0f" height="%.0f" fill="#fff"/>`+"\n", trendW, c.height)
	fmt.Fprintf(w, `<text x="%.0f" y="20" font-size="14" font-weight="600">TTR per run (median, interquartile band, budget; seconds)</text>`+"\n", trendLeft)
}

// yAxis draws the gridlines with their values in seconds, and the frame.
func (c trendChart) yAxis(w io.Writer) {
	for v := 0.0; v <= c.hi+1e-9; v += c.step {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/><text x="%.1f" y="%.1f" text-anchor="end" fill="%s">%ss</text>`+"\n",
			trendLeft, c.y(v), trendLeft+trendPlotW, c.y(v), c.p.Grid, trendLeft-6, c.y(v)+4, c.p.Label, trimFloat(v))
	}
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s"/>`+"\n", trendLeft, trendTop, trendPlotW, trendPlotH, c.p.Frame)
}

// xLabels labels the runs, as many as fit (always the last), each running
// down-right at 35° from its run so that none leaves the chart: the first
// starts inside the plot, the last ends in the right margin. A label
// longer than trendLabelChars is shortened; its <title> holds the whole
// label, the run id and the start time. A run Compare flags is labelled
// in the regression colour.
func (c trendChart) xLabels(w io.Writer) {
	n := len(c.t.Runs)
	every := max(1, int(math.Ceil(float64(n)*trendLabelGap/trendPlotW)))
	ly := trendTop + trendPlotH + 12
	for i, r := range c.t.Runs {
		if i%every != 0 && i != n-1 {
			continue
		}
		title := r.Label
		if r.RunID != "" && r.RunID != r.Label {
			title += " · run " + r.RunID
		}
		if !r.Started.IsZero() {
			title += " · started " + r.Started.UTC().Format("2006-01-02 15:04:05Z")
		}
		col, weight := c.p.Label, "normal"
		if len(r.Flagged) > 0 {
			col, weight = c.p.Fault, "600"
		}
		fmt.Fprintf(w, `<g class="run-label" data-run="%s"><title>%s</title><text x="%.1f" y="%.1f" fill="%s" font-weight="%s" transform="rotate(35 %.1f %.1f)">%s</text></g>`+"\n",
			esc(r.RunID), esc(title), c.x(i)-3, ly, col, weight, c.x(i)-3, ly, esc(clipText(r.Label, trendLabelChars)))
	}
}

// regressedRuns marks each run in which Compare flags a drill: a dashed
// line across the plot and a triangle above it, titled with the drills.
func (c trendChart) regressedRuns(w io.Writer) {
	for i, r := range c.t.Runs {
		if len(r.Flagged) == 0 {
			continue
		}
		var why []string
		for _, f := range r.Flagged {
			why = append(why, f.Drill+": "+f.Why)
		}
		prev := c.t.Runs[i-1].Label
		x := c.x(i)
		fmt.Fprintf(w, `<g class="regressed-run" data-run="%s"><title>%s: regression against %s (compare): %s</title>`, esc(r.RunID), esc(r.Label), esc(prev), esc(strings.Join(why, "; ")))
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="3 3"/>`, x, trendTop, x, trendTop+trendPlotH, c.p.Fault)
		fmt.Fprintf(w, `<path d="%s" fill="%s"/></g>`+"\n", triangle(x, trendTop-3, trendMarkerSize), c.p.Fault)
	}
}

// triangle is the path of an upward triangle of size s whose bottom
// centre is (x, y).
func triangle(x, y, s float64) string {
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fL%.1f %.1fZ", x-s/2-1, y, x+s/2+1, y, x, y-s)
}

// drill draws one drill: its interquartile band, budget line, median line,
// a point per run with its figures, a marker where Compare flags it, and
// its legend entry.
func (c trendChart) drill(w io.Writer, di int, name string) {
	col := c.p.Trend[di%len(c.p.Trend)]
	fmt.Fprintf(w, `<g class="drill" data-drill="%s"><title>%s</title>`, esc(name), esc(name))
	c.spread(w, name, col)
	c.budget(w, name, col)
	c.median(w, name, col)
	for i, r := range c.t.Runs {
		v, ok := r.Median[name]
		if !ok {
			continue
		}
		fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s: median %ss, IQR [%ss, %ss] (n=%d)</title></circle>`,
			c.x(i), c.y(v), col, esc(name), esc(r.Label), sig3(v), sig3(r.Q1[name]), sig3(r.Q3[name]), r.N[name])
		if f, ok := r.flagged(name); ok {
			fmt.Fprintf(w, `<g class="regression" data-drill="%s" data-run="%s"><title>%s %s: regression against %s (compare): %s</title><path d="%s" fill="%s" stroke="%s"/></g>`,
				esc(name), esc(r.RunID), esc(name), esc(r.Label), esc(c.t.Runs[i-1].Label), esc(f.Why), triangle(c.x(i), c.y(v)-5, trendMarkerSize+2), c.p.Fault, c.p.TTR)
		}
	}
	lx, ly := trendLeft+trendPlotW, trendTop+10+float64(di)*trendLegendRow
	fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/><text x="%.1f" y="%.1f">%s</text></g>`+"\n",
		lx+16, ly, lx+16+trendLegendMarkW, ly, col, lx+42, ly+4, esc(clipText(name, 24)))
}

// segments are the runs of consecutive run indices at which present holds.
func (c trendChart) segments(present func(TrendRun) bool) [][2]int {
	var out [][2]int
	start := -1
	for i, r := range c.t.Runs {
		switch {
		case present(r) && start < 0:
			start = i
		case !present(r) && start >= 0:
			out = append(out, [2]int{start, i - 1})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(c.t.Runs) - 1})
	}
	return out
}

// spread shades the drill's interquartile range: a band through
// consecutive runs, a bar at a lone run.
func (c trendChart) spread(w io.Writer, name, col string) {
	for _, s := range c.segments(func(r TrendRun) bool { _, ok := r.Median[name]; return ok }) {
		var d strings.Builder
		if s[0] == s[1] {
			r, x := c.t.Runs[s[0]], c.x(s[0])
			fmt.Fprintf(&d, "M%.1f %.1fH%.1fV%.1fH%.1fZ", x-trendBandMinHalf, c.y(r.Q3[name]), x+trendBandMinHalf, c.y(r.Q1[name]), x-trendBandMinHalf)
		} else {
			for i := s[0]; i <= s[1]; i++ {
				fmt.Fprintf(&d, "%s%.1f %.1f", moveOrLine(i == s[0]), c.x(i), c.y(c.t.Runs[i].Q3[name]))
			}
			for i := s[1]; i >= s[0]; i-- {
				fmt.Fprintf(&d, "L%.1f %.1f", c.x(i), c.y(c.t.Runs[i].Q1[name]))
			}
			d.WriteString("Z")
		}
		fmt.Fprintf(w, `<path class="spread" d="%s" fill="%s" fill-opacity="0.15" stroke="none"/>`, d.String(), col)
	}
}

// budget draws the drill's TTR budget as a dashed step line: level over
// each run that has one, stepping between runs where it changes.
func (c trendChart) budget(w io.Writer, name, col string) {
	h := c.half()
	for _, s := range c.segments(func(r TrendRun) bool { return r.Budget[name] > 0 }) {
		var d strings.Builder
		for i := s[0]; i <= s[1]; i++ {
			y := c.y(c.t.Runs[i].Budget[name])
			x0, x1 := math.Max(trendLeft, c.x(i)-h), math.Min(trendLeft+trendPlotW, c.x(i)+h)
			fmt.Fprintf(&d, "%s%.1f %.1fL%.1f %.1f", moveOrLine(i == s[0]), x0, y, x1, y)
		}
		b := c.t.Runs[s[1]].Budget[name]
		fmt.Fprintf(w, `<path class="budget" d="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"><title>%s TTR budget %ss</title></path>`, d.String(), col, esc(name), sig3(b))
	}
}

// median draws the drill's median line, broken where the drill is missing.
func (c trendChart) median(w io.Writer, name, col string) {
	fmt.Fprintf(w, `<path class="median" fill="none" stroke="%s" stroke-width="2" d="`, col)
	for _, s := range c.segments(func(r TrendRun) bool { _, ok := r.Median[name]; return ok }) {
		for i := s[0]; i <= s[1]; i++ {
			fmt.Fprintf(w, "%s%.1f %.1f", moveOrLine(i == s[0]), c.x(i), c.y(c.t.Runs[i].Median[name]))
		}
	}
	_, _ = io.WriteString(w, `"/>`) // a write error is sticky: Flush reports it
}

func moveOrLine(first bool) string {
	if first {
		return "M"
	}
	return "L"
}

// legend explains the marks under the drills' entries.
func (c trendChart) legend(w io.Writer) {
	lx := trendLeft + trendPlotW + 16
	ly := trendTop + 10 + float64(len(c.t.Drills))*trendLegendRow + 8
	fmt.Fprintf(w, `<g class="legend">`)
	fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/><text x="%.1f" y="%.1f">median TTR</text>`,
		lx, ly, lx+trendLegendMarkW, ly, c.p.Label, lx+26, ly+4)
	ly += trendLegendRow
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="10" fill="%s" fill-opacity="0.25"/><text x="%.1f" y="%.1f">interquartile range</text>`,
		lx, ly-5, trendLegendMarkW, c.p.Label, lx+26, ly+4)
	ly += trendLegendRow
	fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/><text x="%.1f" y="%.1f">TTR budget</text>`,
		lx, ly, lx+trendLegendMarkW, ly, c.p.Label, lx+26, ly+4)
	ly += trendLegendRow
	fmt.Fprintf(w, `<path d="%s" fill="%s" stroke="%s"/><text x="%.1f" y="%.1f">regression vs previous run</text>`,
		triangle(lx+trendLegendMarkW/2, ly+4, trendMarkerSize+2), c.p.Fault, c.p.TTR, lx+26, ly+4)
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" fill="%s" font-size="10">(flagged by compare)</text></g>`+"\n", lx+26, ly+16, c.p.Label)
}
