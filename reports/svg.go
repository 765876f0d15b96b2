package reports

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// SVGOptions tune TimelineSVG. Zero values take the defaults.
type SVGOptions struct {
	Width     int // pixels; default 960
	MaxPoints int // most points drawn per series; default 600 (min/max kept per group)
}

// Colours of the timeline, shared with the HTML legend.
const (
	colFault    = "#d1242f"
	colFaultBg  = "#fbd5d5"
	colStep     = "#0969da"
	colStepBg   = "#cfe2f7"
	colUnhealth = "#fde2c4"
	colImpact   = "#e8590c"
	colDetected = "#8250df"
	colRestored = "#1a7f37"
	colCaughtUp = "#0a7e8c"
	colTTR      = "#24292f"
	colEpisode  = "#6e7781"
)

var seriesColours = []string{"#0969da", "#bf3989", "#9a6700", "#1a7f37", "#8250df", "#57606a"}

// TimelineSVG draws one drill sample as an inline SVG element (class
// "timeline"): a lane per fault (inject → revert, with its bracket) and per
// recovery step, the TTR span from fault onset to restored, markers
// (class "marker", data-kind impact, detected, restored, caught_up) across
// every panel, and one panel per SLI series with its unhealthy buckets
// shaded. Time runs from load start to end. The output needs no script and
// no external asset.
func TimelineSVG(d Drill, o SVGOptions) string {
	if o.Width <= 0 {
		o.Width = 960
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 600
	}
	tl := d.Timeline
	t0, t1 := tl.LoadStarted, tl.End
	for _, e := range Events(d) {
		if t0.IsZero() || e.At.Before(t0) {
			t0 = e.At
		}
		if e.At.After(t1) {
			t1 = e.At
		}
	}
	for _, s := range d.Series {
		if !s.Start.IsZero() && (t0.IsZero() || s.Start.Before(t0)) {
			t0 = s.Start
		}
		if e := s.Start.Add(time.Duration(len(s.Points)) * d.Bucket.D()); e.After(t1) {
			t1 = e
		}
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Second)
	}
	const (
		left, right = 120.0, 16.0
		laneH       = 16.0
		panelH      = 86.0
		panelGap    = 12.0
		markerRow   = 16.0
	)
	W := float64(o.Width)
	plotW := W - left - right
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 { return left + plotW*t.Sub(t0).Seconds()/span }

	var b strings.Builder
	// Layout: marker labels (3 staggered rows), TTR row, fault lanes, step lanes, panels, axis.
	y := 6.0
	labelTop := y
	y += 3*markerRow + 6
	ttrY := y
	y += 22
	episodeY := y
	if len(d.Episodes) > 0 {
		y += laneH + 2
	}
	faultY := y
	y += laneH * float64(max(1, len(d.Faults)))
	stepY := y + 4
	if len(d.Steps) > 0 {
		y = stepY + laneH*float64(len(d.Steps))
	}
	y += 10
	panelsTop := y
	panels := len(d.Series)
	y += float64(panels) * (panelH + panelGap)
	panelsBottom := y - panelGap
	if panels == 0 {
		panelsBottom = y
	}
	axisY := panelsBottom + 2
	H := axisY + 24

	fmt.Fprintf(&b, `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %.0f" width="%d" height="%.0f" role="img" aria-label="timeline of %s" data-drill="%s">`,
		o.Width, H, o.Width, H, esc(d.Name), esc(d.Name))
	fmt.Fprintf(&b, `<title>%s: timeline</title>`, esc(d.Name))

	// Bands behind everything, across lanes and panels.
	bandTop, bandBottom := faultY-2, panelsBottom
	for _, f := range d.Faults {
		start := f.Inject.Sent
		stop := t1
		if f.Revert != nil {
			stop = f.Revert.Acked
		}
		fmt.Fprintf(&b, `<rect class="band fault-band" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" opacity="0.45"/>`,
			x(start), bandTop, math.Max(1, x(stop)-x(start)), bandBottom-bandTop, colFaultBg)
	}
	for _, s := range d.Steps {
		if s.Skipped || s.Start.IsZero() {
			continue
		}
		fmt.Fprintf(&b, `<rect class="band step-band" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" opacity="0.45"/>`,
			x(s.Start), stepY-2, math.Max(1, x(s.End)-x(s.Start)), bandBottom-stepY+2, colStepBg)
	}

	// Episodes: onset → restored, or onset → end when never restored.
	for i, e := range d.Episodes {
		writeEpisode(&b, d, e, i, episodeY, laneH, t1, x)
	}

	// Fault lanes.
	lbl := func(yy float64, text string) {
		fmt.Fprintf(&b, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-6, yy+laneH/2+4, esc(clipText(text, 18)))
	}
	if len(d.Faults) == 0 {
		lbl(faultY, "no fault")
	}
	if len(d.Episodes) > 0 {
		lbl(episodeY, "episodes")
	}
	for i, f := range d.Faults {
		ly := faultY + float64(i)*laneH
		lbl(ly, "fault")
		stop := t1
		reverted := "held to end"
		if f.Revert != nil {
			stop = f.Revert.Acked
			reverted = fmt.Sprintf("reverted t+%.3fs", f.Revert.Sent.Sub(t0).Seconds())
		}
		fmt.Fprintf(&b, `<g class="fault"><title>%s: injected t+%.3fs (bracket %s), %s%s</title>`,
			esc(f.Name), f.Inject.Sent.Sub(t0).Seconds(), FormatDuration(f.Inject.Acked.Sub(f.Inject.Sent)), reverted, errSuffix(f.Error))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"/>`,
			x(f.Inject.Sent), ly+2, math.Max(2, x(stop)-x(f.Inject.Sent)), laneH-4, colFault)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" style="fill:#fff;font-size:10px">%s</text></g>`,
			x(f.Inject.Sent)+4, ly+laneH/2+3.5, esc(clipText(f.Name, int(math.Max(0, (x(stop)-x(f.Inject.Sent)-8)/5.6)))))
	}
	// Step lanes.
	for i, s := range d.Steps {
		ly := stepY + float64(i)*laneH
		lbl(ly, s.Name)
		col, state := colStep, "done in "+FormatDuration(s.End.Sub(s.Start))
		switch {
		case s.Skipped:
			col, state = "#8c959f", "skipped: "+s.SkipReason
		case s.Error != "":
			col, state = colFault, "failed: "+oneLine(s.Error)
		}
		fmt.Fprintf(&b, `<g class="step"><title>%s: start t+%.3fs, %s</title>`, esc(s.Name), s.Start.Sub(t0).Seconds(), esc(state))
		if s.Skipped || s.Start.IsZero() {
			at := s.Start
			if at.IsZero() {
				at = t1
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="lbl">skipped</text></g>`, x(at), ly+laneH/2+4)
			continue
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"/></g>`,
			x(s.Start), ly+2, math.Max(2, x(s.End)-x(s.Start)), laneH-4, col)
	}

	// SLI panels.
	for i, s := range d.Series {
		top := panelsTop + float64(i)*(panelH+panelGap)
		writePanel(&b, d, s, i, top, panelH, left, plotW, x, o.MaxPoints)
	}

	// Axis.
	fmt.Fprintf(&b, `<g class="axis"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#8c959f"/>`, left, axisY, left+plotW, axisY)
	step := niceStep(span / 10)
	for v := 0.0; v <= span+1e-9; v += step {
		xx := left + plotW*v/span
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#8c959f"/><text x="%.1f" y="%.1f" text-anchor="middle">%ss</text>`,
			xx, axisY, xx, axisY+4, xx, axisY+15, trimFloat(v))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">since load start</text></g>`, left-16, axisY+15)

	// TTR span.
	if end, ok := ttrEnd(d); ok {
		start := end.Add(-d.Measures.TTR.Value.D())
		x0, x1 := x(start), x(end)
		fmt.Fprintf(&b, `<g class="ttr-span"><title>TTR %s (fault onset → restored)</title>`, esc(FormatMeasure(d.Measures.TTR, true)))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`, x0, ttrY+8, x1, ttrY+8, colTTR)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`,
			x0, ttrY+3, x0, ttrY+13, colTTR, x1, ttrY+3, x1, ttrY+13, colTTR)
		anchor, tx := "middle", (x0+x1)/2
		if x1-x0 < 150 {
			anchor, tx = "start", x1+6
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s" style="font-weight:600">TTR %s</text></g>`, tx, ttrY+4, anchor, esc(FormatMeasure(d.Measures.TTR, true)))
	}
	fmt.Fprintf(&b, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end">TTR</text>`, left-6, ttrY+12)

	// Markers on top, labels staggered over three rows.
	type mk struct {
		kind, text, col string
		at              *time.Time
	}
	marks := []mk{
		{"impact", "impact", colImpact, tl.Impact},
		{"detected", "detected", colDetected, tl.Detected},
		{"restored", "restored", colRestored, tl.Restored},
		{"caught_up", "caught up", colCaughtUp, tl.CaughtUp},
	}
	var lastX [3]float64
	for i := range lastX {
		lastX[i] = -1e9
	}
	for _, m := range marks {
		if m.at == nil {
			continue
		}
		xx := x(*m.at)
		row := -1
		for r := range lastX {
			if xx-lastX[r] > 70 {
				row = r
				break
			}
		}
		if row < 0 {
			row = 0
			for r := range lastX {
				if lastX[r] < lastX[row] {
					row = r
				}
			}
		}
		lastX[row] = xx
		ly := labelTop + float64(row)*markerRow + 11
		fmt.Fprintf(&b, `<g class="marker" data-kind="%s"><title>%s at t+%.3fs</title>`, m.kind, m.text, m.at.Sub(t0).Seconds())
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`, xx, ly+3, xx, panelsBottom, m.col)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" style="fill:%s;font-weight:600">%s</text></g>`, xx, ly, m.col, m.text)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// ttrEnd is where the TTR span ends: the restored instant of the worst
// episode (the one whose TTR is Measures.TTR), else the drill's restored.
func ttrEnd(d Drill) (time.Time, bool) {
	if !d.Measures.TTR.Valid {
		return time.Time{}, false
	}
	var worst *Episode
	for i, e := range d.Episodes {
		if e.Restored != nil && e.TTR.Valid && (worst == nil || e.TTR.Value > worst.TTR.Value) {
			worst = &d.Episodes[i]
		}
	}
	switch {
	case worst != nil:
		return *worst.Restored, true
	case d.Timeline.Restored != nil:
		return *d.Timeline.Restored, true
	default:
		return time.Time{}, false
	}
}

// writeEpisode draws one episode in the episode lane (class "episode",
// data-restored true or false): a bar from onset to restored with the TTR
// bounds as a whisker at its end, or from onset to the end of the drill
// labelled "not restored".
func writeEpisode(b *strings.Builder, d Drill, e Episode, idx int, top, h float64, t1 time.Time, x func(time.Time) float64) {
	start := e.Onset
	if start.IsZero() {
		start = e.Impact
	}
	if start.IsZero() {
		return
	}
	t0 := d.Timeline.LoadStarted
	stop, col, restored := t1, colFault, e.Restored != nil
	title := fmt.Sprintf("episode %d: %s, onset t+%.3fs%s, not restored", idx+1, e.Fault, start.Sub(t0).Seconds(), parens(e.OnsetSource))
	label := "not restored"
	if restored {
		stop, col = *e.Restored, colEpisode
		title = fmt.Sprintf("episode %d: %s, onset t+%.3fs%s, restored t+%.3fs, TTR %s %s",
			idx+1, e.Fault, start.Sub(t0).Seconds(), parens(e.OnsetSource), stop.Sub(t0).Seconds(), FormatMeasure(e.TTR, true), FormatBounds(e.TTR))
		label = "TTR " + FormatMeasure(e.TTR, false)
	}
	x0, x1 := x(start), x(stop)
	fmt.Fprintf(b, `<g class="episode" data-episode="%d" data-restored="%t"><title>%s</title>`, idx+1, restored, esc(title))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s" opacity="0.85"/>`, x0, top+2, math.Max(2, x1-x0), h-4, col)
	if restored && e.TTR.Valid {
		lo, hi := e.TTR.Bounds()
		bx0, bx1 := x(start.Add(lo.D())), x(start.Add(hi.D()))
		fmt.Fprintf(b, `<line class="bounds" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`, bx0, top+h/2, math.Max(bx1, bx0+1), top+h/2, colTTR)
	}
	// The label goes inside the bar when it fits, else after it (a
	// restored episode) or before it (one that runs to the end).
	style, anchor, tx := "fill:#fff;font-size:10px", "start", x0+4
	if x1-x0 < float64(len(label))*5.6+8 {
		style, tx = "fill:"+col+";font-size:10px;font-weight:600", x1+4
		if !restored {
			anchor, tx = "end", x0-4
		}
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" style="%s">%s</text></g>`, tx, top+h/2+3.5, anchor, style, esc(label))
}

// writePanel draws one SLI series in a panel.
func writePanel(b *strings.Builder, d Drill, s Series, idx int, top, h, left, plotW float64, x func(time.Time) float64, maxPts int) {
	col := seriesColours[idx%len(seriesColours)]
	bucket := d.Bucket.D()
	if bucket <= 0 {
		bucket = 100 * time.Millisecond
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range s.Points {
		if p.Present {
			lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	lo = math.Min(lo, 0)
	if s.Unit == "ratio" {
		lo, hi = math.Min(lo, 0), math.Max(hi, 1)
	}
	if hi <= lo {
		hi = lo + 1
	}
	hi += (hi - lo) * 0.05
	y := func(v float64) float64 { return top + h - (v-lo)/(hi-lo)*h }
	at := func(i int) time.Time { return s.Start.Add(time.Duration(i) * bucket) }

	fmt.Fprintf(b, `<g class="series" data-series="%s">`, esc(s.Name))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#d0d7de"/>`, left, top, plotW, h)
	// Unhealthy buckets, merged into runs.
	for i := 0; i < len(s.Healthy); {
		if s.Healthy[i] {
			i++
			continue
		}
		j := i
		for j < len(s.Healthy) && !s.Healthy[j] {
			j++
		}
		fmt.Fprintf(b, `<rect class="unhealthy" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" opacity="0.8"/>`,
			x(at(i)), top+1, math.Max(1, x(at(j))-x(at(i))), h-2, colUnhealth)
		i = j
	}
	// Gridlines at lo, mid, hi with values.
	for _, v := range []float64{lo, (lo + hi) / 2, hi} {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eaeef2"/>`, left, y(v), left+plotW, y(v))
	}
	fmt.Fprintf(b, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-6, top+12, esc(clipText(s.Name, 18)))
	fmt.Fprintf(b, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end" style="font-size:10px">%s %s</text>`, left-6, top+25, trimFloat(hi), esc(s.Unit))
	fmt.Fprintf(b, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end" style="font-size:10px">%s</text>`, left-6, top+h-2, trimFloat(lo))
	// The line, broken where buckets have no data, downsampled to min/max per group.
	pts := downsample(s.Points, maxPts)
	b.WriteString(`<path fill="none" stroke="` + col + `" stroke-width="1.3" stroke-linejoin="round" d="`)
	pen := false
	for _, p := range pts {
		if !p.present {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(b, "%s%.1f %.1f", cmd, x(at(0))+(x(at(1))-x(at(0)))*(p.idx+0.5), y(p.v))
		pen = true
	}
	b.WriteString(`"/></g>`)
}

type dsPoint struct {
	idx     float64 // bucket index (fractional centre allowed)
	v       float64
	present bool
}

// downsample keeps at most maxPts points: when there are more, buckets are
// grouped and each group contributes its minimum and maximum (in order), so
// spikes and dips stay visible. A group with no data breaks the line.
func downsample(ps []Point, maxPts int) []dsPoint {
	if len(ps) <= maxPts {
		out := make([]dsPoint, len(ps))
		for i, p := range ps {
			out[i] = dsPoint{float64(i), p.Value, p.Present}
		}
		return out
	}
	groups := maxPts / 2
	size := int(math.Ceil(float64(len(ps)) / float64(groups)))
	out := make([]dsPoint, 0, 2*groups)
	for g := 0; g < len(ps); g += size {
		end := min(g+size, len(ps))
		mi, ma := -1, -1
		for i := g; i < end; i++ {
			if !ps[i].Present {
				continue
			}
			if mi < 0 || ps[i].Value < ps[mi].Value {
				mi = i
			}
			if ma < 0 || ps[i].Value > ps[ma].Value {
				ma = i
			}
		}
		if mi < 0 {
			out = append(out, dsPoint{float64(g), 0, false})
			continue
		}
		first, second := min(mi, ma), max(mi, ma)
		out = append(out, dsPoint{float64(first), ps[first].Value, true})
		if second != first {
			out = append(out, dsPoint{float64(second), ps[second].Value, true})
		}
	}
	return out
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3g", v)
	if math.Abs(v) >= 1000 {
		s = fmt.Sprintf("%.0f", v)
	}
	return s
}

func clipText(s string, n int) string {
	r := []rune(s)
	if n <= 1 {
		return ""
	}
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return "; error: " + oneLine(e)
}

func esc(s string) string { return html.EscapeString(s) }
