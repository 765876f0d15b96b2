package reports

import (
	"fmt"
	"io"
	"math"
)

// firedAlerts are the drill's alerts that were seen firing, in the
// drill's order: one alert lane each.
func firedAlerts(d Drill) []Alert {
	if d.Alerts == nil {
		return nil
	}
	var out []Alert
	for _, a := range d.Alerts.Alerts {
		if a.Fired() {
			out = append(out, a)
		}
	}
	return out
}

// alertLanes draws a lane per alert that fired (class "alert", data-page
// true or false), labelled with its name, a bar per firing span in the
// page or non-critical colour.
func (tl *timeline) alertLanes(w io.Writer) {
	for i, a := range firedAlerts(tl.d) {
		ly := tl.lay.alertY + float64(i)*laneH
		tl.laneLabel(w, ly, a.Name)
		col := tl.p.NonCritical
		if a.Page {
			col = tl.p.Page
		}
		fmt.Fprintf(w, `<g class="alert" data-alert="%s" data-page="%t"><title>%s</title>`, esc(a.Name), a.Page, esc(alertText(a)))
		for _, s := range a.Spans {
			to := s.To
			if to.After(tl.t1) {
				to = tl.t1
			}
			fmt.Fprintf(w, `<rect class="alert-span" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"><title>%s firing t+%.3fs → t+%.3fs</title></rect>`,
				tl.x(s.From), ly+3, math.Max(2, tl.x(to)-tl.x(s.From)), laneH-6, col, esc(a.Name), tl.since(s.From), tl.since(s.To))
		}
		_, _ = io.WriteString(w, `</g>`) // a write error is sticky: Flush reports it
	}
}

// ttrPart is one part of the TTR decomposition.
type ttrPart struct {
	kind, text, col string
	m               Measure
}

// ttrParts draws, when the runbook started on detection, the TTR as four
// consecutive bars from the fault onset (class "ttr-parts", each part a
// rect with data-part ttd, reaction, runbook, convergence).
func (tl *timeline) ttrParts(w io.Writer) {
	m := tl.d.Measures
	end, ok := ttrEnd(tl.d)
	if !m.Reaction.Valid || !ok {
		return
	}
	parts := []ttrPart{
		{"ttd", "TTD", tl.p.Detected, m.TTD},
		{"reaction", "reaction", tl.p.Reaction, m.Reaction},
		{"runbook", "runbook", tl.p.Step, m.Runbook},
		{"convergence", "convergence", tl.p.Convergence, m.Convergence},
	}
	y := tl.lay.partsY
	at := end.Add(-m.TTR.Value.D())
	fmt.Fprintf(w, `<g class="ttr-parts"><title>%s</title>`, esc(decompositionText(m)))
	for _, p := range parts {
		if !p.m.Valid {
			continue
		}
		next := at.Add(p.m.Value.D())
		x0, x1 := tl.x(at), tl.x(next)
		fmt.Fprintf(w, `<rect data-part="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s</title></rect>`,
			p.kind, x0, y+2, math.Max(1, x1-x0), laneH-4, p.col, p.text, esc(FormatMeasure(p.m, true)))
		// The part's name goes inside its bar when it fits; the tooltip
		// and the report's text hold every figure.
		if label := p.text + " " + FormatMeasure(p.m, false); x1-x0 >= float64(len(label))*5.6+8 {
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" style="fill:%s;font-size:10px">%s</text>`, x0+4, y+laneH/2+3.5, tl.p.BarText, esc(label))
		} else if x1-x0 >= float64(len(p.text))*5.6+8 {
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" style="fill:%s;font-size:10px">%s</text>`, x0+4, y+laneH/2+3.5, tl.p.BarText, esc(p.text))
		}
		at = next
	}
	_, _ = io.WriteString(w, `</g>`) // a write error is sticky: Flush reports it
	tl.laneLabel(w, y, "TTR parts")
}
