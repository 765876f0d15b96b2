package reports

import (
	"bufio"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"time"
)

// TimelineOption configures TimelineSVG. Options are applied over the
// defaults (960 pixels wide, at most 600 points per series), then the
// result is validated.
type TimelineOption func(*timelineConfig) error

type timelineConfig struct {
	width     int // pixels
	maxPoints int // most points drawn per series
}

// Margins and rows of the timeline, in pixels.
const (
	tlLeft, tlRight = 120.0, 16.0
	laneH           = 16.0
	panelH          = 86.0
	panelGap        = 12.0
	markerRow       = 16.0
	minTimelineW    = 240 // room for the lane labels and some plot
)

// WithWidth sets the width of the timeline in pixels (default 960; at
// least 240).
func WithWidth(px int) TimelineOption {
	return func(c *timelineConfig) error {
		if px < minTimelineW {
			return fmt.Errorf("width %d: need at least %d pixels", px, minTimelineW)
		}
		c.width = px
		return nil
	}
}

// WithMaxPoints caps the points drawn per SLI series (default 600; at
// least 2). Longer series are downsampled to the minimum and maximum of
// each group of buckets, so spikes and dips stay visible.
func WithMaxPoints(n int) TimelineOption {
	return func(c *timelineConfig) error {
		if n < 2 {
			return fmt.Errorf("max points %d: need at least 2", n)
		}
		c.maxPoints = n
		return nil
	}
}

func (c timelineConfig) validate() error {
	if c.width < minTimelineW || c.maxPoints < 2 {
		return errors.New("invalid timeline configuration")
	}
	return nil
}

// TimelineSVG writes one drill sample as an inline SVG element (class
// "timeline"): a lane per fault (inject → revert, with its bracket), per
// recovery step and per alert that fired (class "alert", its firing spans
// coloured page or non-critical), the TTR span from fault onset to
// restored and, when the runbook started on detection, its parts (class
// "ttr-parts": TTD, reaction, runbook, convergence), markers
// (class "marker", data-kind impact, detected, restored, caught_up) across
// every panel, and one panel per SLI series with its unhealthy buckets
// shaded. Time runs from load start to end. The output needs no script and
// no external asset.
func TimelineSVG(w io.Writer, d Drill, opts ...TimelineOption) error {
	cfg := timelineConfig{width: 960, maxPoints: 600}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return fmt.Errorf("timeline svg of %s: %w", d.Name, err)
		}
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("timeline svg of %s: %w", d.Name, err)
	}
	bw := bufio.NewWriter(w)
	newTimeline(d, cfg).writeTo(bw)
	if err := bw.Flush(); err != nil { // write errors are sticky: Flush reports the first
		return fmt.Errorf("write timeline svg of %s: %w", d.Name, err)
	}
	return nil
}

// timeline draws one drill: its time range, horizontal scale and layout.
type timeline struct {
	d      Drill
	cfg    timelineConfig
	p      palette
	t0, t1 time.Time
	span   float64 // seconds from t0 to t1
	plotW  float64
	lay    timelineLayout
}

func newTimeline(d Drill, cfg timelineConfig) *timeline {
	t0, t1 := timeRange(d)
	return &timeline{
		d: d, cfg: cfg, p: colours, t0: t0, t1: t1,
		span:  t1.Sub(t0).Seconds(),
		plotW: float64(cfg.width) - tlLeft - tlRight,
		lay:   layoutOf(d),
	}
}

// timeRange runs from load start (or the first event or series bucket) to
// the end (or the last of them), at least one second.
func timeRange(d Drill) (t0, t1 time.Time) {
	t0, t1 = d.Timeline.LoadStarted, d.Timeline.End
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
	return t0, t1
}

// x is the horizontal position of t.
func (tl *timeline) x(t time.Time) float64 {
	return tlLeft + tl.plotW*t.Sub(tl.t0).Seconds()/tl.span
}

// since is t in seconds after the start of the chart.
func (tl *timeline) since(t time.Time) float64 { return t.Sub(tl.t0).Seconds() }

// timelineLayout is where each part goes, top to bottom: marker labels
// (three staggered rows), the TTR row, the TTR parts row (when the runbook
// started on detection), the episode lane, fault lanes, step lanes, alert
// lanes (one per alert that fired), SLI panels, the axis.
type timelineLayout struct {
	labelTop, ttrY, partsY, episodeY, faultY, stepY, alertY float64
	panelsTop, panelsBottom, axisY, height                  float64
}

func layoutOf(d Drill) timelineLayout {
	var l timelineLayout
	y := 6.0
	l.labelTop = y
	y += 3*markerRow + 6
	l.ttrY = y
	y += 22
	l.partsY = y
	if d.Measures.Reaction.Valid {
		y += laneH + 4
	}
	l.episodeY = y
	if len(d.Episodes) > 0 {
		y += laneH + 2
	}
	l.faultY = y
	y += laneH * float64(max(1, len(d.Faults)))
	l.stepY = y + 4
	if len(d.Steps) > 0 {
		y = l.stepY + laneH*float64(len(d.Steps))
	}
	if n := len(firedAlerts(d)); n > 0 {
		l.alertY = y + 4
		y = l.alertY + laneH*float64(n)
	}
	y += 10
	l.panelsTop = y
	panels := len(d.Series)
	y += float64(panels) * (panelH + panelGap)
	l.panelsBottom = y - panelGap
	if panels == 0 {
		l.panelsBottom = y
	}
	l.axisY = l.panelsBottom + 2
	l.height = l.axisY + 24
	return l
}

// writeTo draws the parts back to front: bands behind everything, markers
// on top.
func (tl *timeline) writeTo(w io.Writer) {
	tl.header(w)
	tl.bands(w)
	for i, e := range tl.d.Episodes {
		tl.episode(w, i, e)
	}
	tl.lanes(w)
	tl.alertLanes(w)
	for i, s := range tl.d.Series {
		tl.panel(i, s).writeTo(w)
	}
	tl.axis(w)
	tl.ttrSpan(w)
	tl.ttrParts(w)
	tl.markers(w)
	_, _ = io.WriteString(w, `</svg>`) // a write error is sticky: Flush reports it
}

func (tl *timeline) header(w io.Writer) {
	name := esc(tl.d.Name)
	fmt.Fprintf(w, `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %.0f" width="%d" height="%.0f" role="img" aria-label="timeline of %s" data-drill="%s">`,
		tl.cfg.width, tl.lay.height, tl.cfg.width, tl.lay.height, name, name)
	fmt.Fprintf(w, `<title>%s: timeline</title>`, name)
}

// axis is the time axis under the panels, in seconds since load start.
func (tl *timeline) axis(w io.Writer) {
	left, plotW, axisY := tlLeft, tl.plotW, tl.lay.axisY
	fmt.Fprintf(w, `<g class="axis"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`, left, axisY, left+plotW, axisY, tl.p.Skipped)
	step := niceStep(tl.span / 10)
	for v := 0.0; v <= tl.span+1e-9; v += step {
		xx := left + plotW*v/tl.span
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/><text x="%.1f" y="%.1f" text-anchor="middle">%ss</text>`,
			xx, axisY, xx, axisY+4, tl.p.Skipped, xx, axisY+15, trimFloat(v))
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="end">since load start</text></g>`, left-16, axisY+15)
}

// ttrSpan draws the TTR from fault onset to restored, and its row label.
func (tl *timeline) ttrSpan(w io.Writer) {
	ttrY, col := tl.lay.ttrY, tl.p.TTR
	if end, ok := ttrEnd(tl.d); ok {
		ttr := esc(FormatMeasure(tl.d.Measures.TTR, true))
		x0, x1 := tl.x(end.Add(-tl.d.Measures.TTR.Value.D())), tl.x(end)
		fmt.Fprintf(w, `<g class="ttr-span"><title>TTR %s (fault onset → restored)</title>`, ttr)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`, x0, ttrY+8, x1, ttrY+8, col)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`,
			x0, ttrY+3, x0, ttrY+13, col, x1, ttrY+3, x1, ttrY+13, col)
		anchor, tx := "middle", (x0+x1)/2
		if x1-x0 < 150 {
			anchor, tx = "start", x1+6
		}
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="%s" style="font-weight:600">TTR %s</text></g>`, tx, ttrY+4, anchor, ttr)
	}
	fmt.Fprintf(w, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end">TTR</text>`, tlLeft-6, ttrY+12)
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

// marker is one instant drawn across every panel.
type marker struct {
	kind, text, col string
	at              *time.Time
}

// markers draws impact, detected, restored and caught up on top of
// everything, their labels staggered over three rows.
func (tl *timeline) markers(w io.Writer) {
	t := tl.d.Timeline
	rows := newStagger()
	for _, m := range []marker{
		{"impact", "impact", tl.p.Impact, t.Impact},
		{"detected", "detected", tl.p.Detected, t.Detected},
		{"restored", "restored", tl.p.Restored, t.Restored},
		{"caught_up", "caught up", tl.p.CaughtUp, t.CaughtUp},
	} {
		if m.at == nil {
			continue
		}
		xx := tl.x(*m.at)
		ly := tl.lay.labelTop + float64(rows.place(xx))*markerRow + 11
		fmt.Fprintf(w, `<g class="marker" data-kind="%s"><title>%s at t+%.3fs</title>`, m.kind, m.text, tl.since(*m.at))
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`, xx, ly+3, xx, tl.lay.panelsBottom, m.col)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle" style="fill:%s;font-weight:600">%s</text></g>`, xx, ly, m.col, m.text)
	}
}

// stagger spreads marker labels over three rows: the first row whose last
// label is more than 70 pixels to the left, else the row whose last label
// is furthest left.
type stagger [3]float64

func newStagger() *stagger { return &stagger{-1e9, -1e9, -1e9} }

func (s *stagger) place(x float64) int {
	row := -1
	for r := range s {
		if x-s[r] > 70 {
			row = r
			break
		}
	}
	if row < 0 {
		row = 0
		for r := range s {
			if s[r] < s[row] {
				row = r
			}
		}
	}
	s[row] = x
	return row
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
