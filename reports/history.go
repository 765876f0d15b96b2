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
	const (
		W, H                   = 960.0, 460.0
		left, right, top, bott = 64.0, 200.0, 36.0, 70.0
	)
	plotW, plotH := W-left-right, H-top-bott
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
	hi = math.Ceil(hi/step) * step
	n := len(t.Runs)
	x := func(i int) float64 {
		if n <= 1 {
			return left + plotW/2
		}
		return left + plotW*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return top + plotH - v/hi*plotH }

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="Helvetica,Arial,sans-serif" font-size="11">`+"\n", W, H, W, H)
	fmt.Fprintf(bw, `<title>TTR trend: median per drill over %d runs</title>`+"\n", n)
	fmt.Fprintf(bw, `<rect width="%.0f" height="%.0f" fill="#fff"/>`+"\n", W, H)
	fmt.Fprintf(bw, `<text x="%.0f" y="20" font-size="14" font-weight="600">TTR trend (median per drill, seconds)</text>`+"\n", left)
	for v := 0.0; v <= hi+1e-9; v += step {
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eaeef2"/><text x="%.1f" y="%.1f" text-anchor="end" fill="#57606a">%ss</text>`+"\n",
			left, y(v), left+plotW, y(v), left-6, y(v)+4, trimFloat(v))
	}
	fmt.Fprintf(bw, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#d0d7de"/>`+"\n", left, top, plotW, plotH)
	every := max(1, n/12)
	for i, r := range t.Runs {
		if i%every != 0 && i != n-1 {
			continue
		}
		fmt.Fprintf(bw, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#57606a" transform="rotate(-35 %.1f %.1f)">%s</text>`+"\n",
			x(i), top+plotH+14, x(i), top+plotH+14, esc(clipText(r.Label, 22)))
	}
	for di, name := range t.Drills {
		col := trendColour(di)
		fmt.Fprintf(bw, `<g class="drill" data-drill="%s"><title>%s</title><path fill="none" stroke="%s" stroke-width="2" d="`, esc(name), esc(name), col)
		pen := false
		for i, r := range t.Runs {
			v, ok := r.Median[name]
			if !ok {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(bw, "%s%.1f %.1f", cmd, x(i), y(v))
			pen = true
		}
		_, _ = bw.WriteString(`"/>`) // a write error is sticky: Flush reports it
		for i, r := range t.Runs {
			if v, ok := r.Median[name]; ok {
				fmt.Fprintf(bw, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s: %.3gs (n=%d)</title></circle>`, x(i), y(v), col, esc(name), esc(r.Label), v, r.N[name])
			}
		}
		ly := top + 10 + float64(di)*18
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/><text x="%.1f" y="%.1f">%s</text></g>`+"\n",
			left+plotW+16, ly, left+plotW+36, ly, col, left+plotW+42, ly+4, esc(clipText(name, 24)))
	}
	_, _ = bw.WriteString("</svg>\n") // a write error is sticky: Flush reports it
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write trend svg: %w", err)
	}
	return nil
}

func trendColour(i int) string {
	cols := []string{"#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#0a7e8c", "#bf3989", "#57606a", "#9a6700", "#116329"}
	return cols[i%len(cols)]
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
