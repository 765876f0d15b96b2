package reports

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"
)

// Trend is the median TTR of each drill per run, across runs.
type Trend struct {
	Drills []string   `json:"drills"` // in first-seen order
	Runs   []TrendRun `json:"runs"`   // ordered by start time
}

// TrendRun is one run's point of the trend.
type TrendRun struct {
	RunID   string             `json:"run_id"`
	Label   string             `json:"label"` // release, else short commit, else run id
	Started time.Time          `json:"started"`
	Median  map[string]float64 `json:"median"` // seconds, drills with a valid TTR only
	N       map[string]int     `json:"n"`      // samples behind each median
}

// History builds the TTR trend of runs. Runs that share a non-empty RunID
// (one file per repetition) are merged into one point; points are ordered
// by start time.
func History(runs []Run) Trend {
	byID := map[string]int{}
	var merged [][]Run
	for _, r := range runs {
		if r.Meta.RunID != "" {
			if i, ok := byID[r.Meta.RunID]; ok {
				merged[i] = append(merged[i], r)
				continue
			}
			byID[r.Meta.RunID] = len(merged)
		}
		merged = append(merged, []Run{r})
	}
	t := Trend{Drills: DrillNames(runs...)}
	for _, group := range merged {
		m := Merge(group...)
		tr := TrendRun{RunID: m.Meta.RunID, Started: m.Meta.Started, Median: map[string]float64{}, N: map[string]int{}}
		switch {
		case m.Meta.Release != "":
			tr.Label = m.Meta.Release
		case m.Meta.Commit != "":
			tr.Label = shortCommit(m.Meta.Commit)
		case m.Meta.RunID != "":
			tr.Label = m.Meta.RunID
		default:
			tr.Label = m.Meta.Started.UTC().Format("2006-01-02 15:04")
		}
		for name, s := range ttrSamples([]Run{m}) {
			if len(s.ttrs) == 0 {
				continue
			}
			tr.Median[name] = Median(s.ttrs)
			tr.N[name] = len(s.ttrs)
		}
		t.Runs = append(t.Runs, tr)
	}
	sort.SliceStable(t.Runs, func(i, j int) bool { return t.Runs[i].Started.Before(t.Runs[j].Started) })
	return t
}

// TrendSVG writes the trend as a standalone SVG line chart: x is the run
// (in start order, labelled), y the median TTR in seconds, one line per
// drill with a legend. A drill missing from a run breaks its line.
func TrendSVG(w io.Writer, t Trend) error {
	c := newTrendChart(t)
	bw := bufio.NewWriter(w)
	c.header(bw)
	c.yAxis(bw)
	c.xLabels(bw)
	for di, name := range t.Drills {
		c.drill(bw, di, name)
	}
	_, _ = bw.WriteString("</svg>\n") // a write error is sticky: Flush reports it
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write trend svg: %w", err)
	}
	return nil
}

// Size and margins of the trend chart, in pixels.
const (
	trendW, trendH                               = 960.0, 460.0
	trendLeft, trendRight, trendTop, trendBottom = 64.0, 200.0, 36.0, 70.0
	trendPlotW, trendPlotH                       = trendW - trendLeft - trendRight, trendH - trendTop - trendBottom
)

// trendChart draws a Trend: its y scale (0 to hi seconds, ticks every
// step) and the runs along x.
type trendChart struct {
	t        Trend
	p        palette
	hi, step float64
}

func newTrendChart(t Trend) trendChart {
	hi := 0.0
	for _, r := range t.Runs {
		for _, v := range r.Median {
			hi = math.Max(hi, v)
		}
	}
	if hi <= 0 {
		hi = 1
	}
	step := niceStep(hi / 5)
	return trendChart{t: t, p: colours, hi: math.Ceil(hi/step) * step, step: step}
}

// x is the position of run i.
func (c trendChart) x(i int) float64 {
	n := len(c.t.Runs)
	if n <= 1 {
		return trendLeft + trendPlotW/2
	}
	return trendLeft + trendPlotW*float64(i)/float64(n-1)
}

// y is the position of v seconds.
func (c trendChart) y(v float64) float64 { return trendTop + trendPlotH - v/c.hi*trendPlotH }

func (c trendChart) header(w io.Writer) {
	fmt.Fprintf(w, `<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="Helvetica,Arial,sans-serif" font-size="11">`+"\n", trendW, trendH, trendW, trendH)
	fmt.Fprintf(w, `<title>TTR trend: median per drill over %d runs</title>`+"\n", len(c.t.Runs))
	fmt.Fprintf(w, `<rect width="%.0f" height="%.0f" fill="#fff"/>`+"\n", trendW, trendH)
	fmt.Fprintf(w, `<text x="%.0f" y="20" font-size="14" font-weight="600">TTR trend (median per drill, seconds)</text>`+"\n", trendLeft)
}

// yAxis draws the gridlines with their values in seconds, and the frame.
func (c trendChart) yAxis(w io.Writer) {
	for v := 0.0; v <= c.hi+1e-9; v += c.step {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/><text x="%.1f" y="%.1f" text-anchor="end" fill="%s">%ss</text>`+"\n",
			trendLeft, c.y(v), trendLeft+trendPlotW, c.y(v), c.p.Grid, trendLeft-6, c.y(v)+4, c.p.Label, trimFloat(v))
	}
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s"/>`+"\n", trendLeft, trendTop, trendPlotW, trendPlotH, c.p.Frame)
}

// xLabels labels at most about a dozen runs, always the last.
func (c trendChart) xLabels(w io.Writer) {
	n := len(c.t.Runs)
	every := max(1, n/12)
	ly := trendTop + trendPlotH + 14
	for i, r := range c.t.Runs {
		if i%every != 0 && i != n-1 {
			continue
		}
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="end" fill="%s" transform="rotate(-35 %.1f %.1f)">%s</text>`+"\n",
			c.x(i), ly, c.p.Label, c.x(i), ly, esc(clipText(r.Label, 22)))
	}
}

// drill draws one drill's line, a point per run with its median, and its
// legend entry.
func (c trendChart) drill(w io.Writer, di int, name string) {
	col := c.p.Trend[di%len(c.p.Trend)]
	fmt.Fprintf(w, `<g class="drill" data-drill="%s"><title>%s</title><path fill="none" stroke="%s" stroke-width="2" d="`, esc(name), esc(name), col)
	pen := false
	for i, r := range c.t.Runs {
		v, ok := r.Median[name]
		if !ok {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(w, "%s%.1f %.1f", cmd, c.x(i), c.y(v))
		pen = true
	}
	_, _ = io.WriteString(w, `"/>`) // a write error is sticky: Flush reports it
	for i, r := range c.t.Runs {
		if v, ok := r.Median[name]; ok {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s: %.3gs (n=%d)</title></circle>`, c.x(i), c.y(v), col, esc(name), esc(r.Label), v, r.N[name])
		}
	}
	lx, ly := trendLeft+trendPlotW, trendTop+10+float64(di)*18
	fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/><text x="%.1f" y="%.1f">%s</text></g>`+"\n",
		lx+16, ly, lx+36, ly, col, lx+42, ly+4, esc(clipText(name, 24)))
}

// WriteTrendTable prints the trend as an aligned text table: a row per run
// (label, start time), a column per drill with its median TTR.
func WriteTrendTable(w io.Writer, t Trend) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "run\tstarted")
	for _, d := range t.Drills {
		fmt.Fprint(tw, "\t"+d)
	}
	fmt.Fprintln(tw)
	for _, r := range t.Runs {
		fmt.Fprintf(tw, "%s\t%s", r.Label, r.Started.UTC().Format("2006-01-02T15:04:05Z"))
		for _, d := range t.Drills {
			if v, ok := r.Median[d]; ok {
				fmt.Fprintf(tw, "\t%ss", sig3(v))
			} else {
				fmt.Fprint(tw, "\t–")
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write trend table: %w", err)
	}
	return nil
}
