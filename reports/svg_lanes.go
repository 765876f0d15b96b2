package reports

import (
	"fmt"
	"io"
	"math"
	"time"
)

// bands shades each fault (inject → revert, or to the end) and each
// recovery step behind the lanes and panels.
func (tl *timeline) bands(w io.Writer) {
	top, bottom := tl.lay.faultY-2, tl.lay.panelsBottom
	for _, f := range tl.d.Faults {
		start, stop := f.Inject.Sent, tl.faultStop(f)
		fmt.Fprintf(w, `<rect class="band fault-band" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" opacity="0.45"/>`,
			tl.x(start), top, math.Max(1, tl.x(stop)-tl.x(start)), bottom-top, tl.p.FaultBand)
	}
	stepY := tl.lay.stepY
	for _, s := range tl.d.Steps {
		if s.Skipped || s.Start.IsZero() {
			continue
		}
		fmt.Fprintf(w, `<rect class="band step-band" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" opacity="0.45"/>`,
			tl.x(s.Start), stepY-2, math.Max(1, tl.x(s.End)-tl.x(s.Start)), bottom-stepY+2, tl.p.StepBand)
	}
}

// faultStop is when the fault was reverted, else the end of the chart.
func (tl *timeline) faultStop(f Fault) time.Time {
	if f.Revert != nil {
		return f.Revert.Acked
	}
	return tl.t1
}

// episode draws one episode in the episode lane (class "episode",
// data-restored true or false): a bar from onset to restored with the TTR
// bounds as a whisker at its end, or from onset to the end of the drill
// labelled "not restored".
func (tl *timeline) episode(w io.Writer, idx int, e Episode) {
	start := e.Onset
	if start.IsZero() {
		start = e.Impact
	}
	if start.IsZero() {
		return
	}
	top, h := tl.lay.episodeY, laneH
	t0 := tl.d.Timeline.LoadStarted
	stop, col, restored := tl.t1, tl.p.Fault, e.Restored != nil
	title := fmt.Sprintf("episode %d: %s, onset t+%.3fs%s, not restored", idx+1, e.Fault, start.Sub(t0).Seconds(), parens(e.OnsetSource))
	label := "not restored"
	if restored {
		stop, col = *e.Restored, tl.p.Episode
		title = fmt.Sprintf("episode %d: %s, onset t+%.3fs%s, restored t+%.3fs, TTR %s %s",
			idx+1, e.Fault, start.Sub(t0).Seconds(), parens(e.OnsetSource), stop.Sub(t0).Seconds(), FormatMeasure(e.TTR, true), FormatBounds(e.TTR))
		label = "TTR " + FormatMeasure(e.TTR, false)
	}
	x0, x1 := tl.x(start), tl.x(stop)
	fmt.Fprintf(w, `<g class="episode" data-episode="%d" data-restored="%t"><title>%s</title>`, idx+1, restored, esc(title))
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s" opacity="0.85"/>`, x0, top+2, math.Max(2, x1-x0), h-4, col)
	if restored && e.TTR.Valid {
		lo, hi := e.TTR.Bounds()
		bx0, bx1 := tl.x(start.Add(lo.D())), tl.x(start.Add(hi.D()))
		fmt.Fprintf(w, `<line class="bounds" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`, bx0, top+h/2, math.Max(bx1, bx0+1), top+h/2, tl.p.TTR)
	}
	// The label goes inside the bar when it fits, else after it (a
	// restored episode) or before it (one that runs to the end).
	style, anchor, tx := "fill:"+tl.p.BarText+";font-size:10px", "start", x0+4
	if x1-x0 < float64(len(label))*5.6+8 {
		style, tx = "fill:"+col+";font-size:10px;font-weight:600", x1+4
		if !restored {
			anchor, tx = "end", x0-4
		}
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="%s" style="%s">%s</text></g>`, tx, top+h/2+3.5, anchor, style, esc(label))
}

// laneLabel names the lane at y, left of the plot.
func (tl *timeline) laneLabel(w io.Writer, y float64, text string) {
	fmt.Fprintf(w, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, tlLeft-6, y+laneH/2+4, esc(clipText(text, 18)))
}

// lanes draws the lane labels, a bar per fault and one per recovery step.
func (tl *timeline) lanes(w io.Writer) {
	if len(tl.d.Faults) == 0 {
		tl.laneLabel(w, tl.lay.faultY, "no fault")
	}
	if len(tl.d.Episodes) > 0 {
		tl.laneLabel(w, tl.lay.episodeY, "episodes")
	}
	for i, f := range tl.d.Faults {
		tl.faultLane(w, tl.lay.faultY+float64(i)*laneH, f)
	}
	for i, s := range tl.d.Steps {
		tl.stepLane(w, tl.lay.stepY+float64(i)*laneH, s)
	}
}

// faultLane is one fault's bar (inject → revert, or to the end) with its
// bracket and outcome in the tooltip.
func (tl *timeline) faultLane(w io.Writer, ly float64, f Fault) {
	tl.laneLabel(w, ly, "fault")
	stop, reverted := tl.faultStop(f), "held to end"
	if f.Revert != nil {
		reverted = fmt.Sprintf("reverted t+%.3fs", tl.since(f.Revert.Sent))
	}
	x0, x1 := tl.x(f.Inject.Sent), tl.x(stop)
	fmt.Fprintf(w, `<g class="fault"><title>%s: injected t+%.3fs (bracket %s), %s%s</title>`,
		esc(f.Name), tl.since(f.Inject.Sent), FormatDuration(f.Inject.Acked.Sub(f.Inject.Sent)), reverted, errSuffix(f.Error))
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"/>`,
		x0, ly+2, math.Max(2, x1-x0), laneH-4, tl.p.Fault)
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" style="fill:%s;font-size:10px">%s</text></g>`,
		x0+4, ly+laneH/2+3.5, tl.p.BarText, esc(clipText(f.Name, int(math.Max(0, (x1-x0-8)/5.6)))))
}

// stepLane is one recovery step's bar, coloured by its outcome, or the
// word "skipped".
func (tl *timeline) stepLane(w io.Writer, ly float64, s Step) {
	tl.laneLabel(w, ly, s.Name)
	col, state := tl.p.Step, "done in "+FormatDuration(s.End.Sub(s.Start))
	switch {
	case s.Skipped:
		col, state = tl.p.Skipped, "skipped: "+s.SkipReason
	case s.Error != "":
		col, state = tl.p.Fault, "failed: "+oneLine(s.Error)
	}
	fmt.Fprintf(w, `<g class="step"><title>%s: start t+%.3fs, %s</title>`, esc(s.Name), tl.since(s.Start), esc(state))
	if s.Skipped || s.Start.IsZero() {
		at := s.Start
		if at.IsZero() {
			at = tl.t1
		}
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" class="lbl">skipped</text></g>`, tl.x(at), ly+laneH/2+4)
		return
	}
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"/></g>`,
		tl.x(s.Start), ly+2, math.Max(2, tl.x(s.End)-tl.x(s.Start)), laneH-4, col)
}
