package reports

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Event is one instant of a drill's timeline.
type Event struct {
	Kind string // "load_started", "steady_verified", "fault_sent", "impact", ...
	Text string // human label
	At   time.Time
}

// Events returns the drill's timeline instants (those that happened),
// including fault brackets and recovery steps, ordered by time.
func Events(d Drill) []Event {
	tl := d.Timeline
	var ev []Event
	add := func(kind, text string, t time.Time) {
		if !t.IsZero() {
			ev = append(ev, Event{Kind: kind, Text: text, At: t})
		}
	}
	addp := func(kind, text string, t *time.Time) {
		if t != nil {
			add(kind, text, *t)
		}
	}
	add("load_started", "load started", tl.LoadStarted)
	add("steady_verified", "steady state verified", tl.SteadyVerified)
	add("fault_sent", "fault sent", tl.FaultSent)
	add("fault_acked", "fault acknowledged", tl.FaultAcked)
	if tl.Onset != nil && len(d.Episodes) <= 1 {
		add("onset", "fault onset"+parens(onsetSource(d)), *tl.Onset)
	}
	if len(d.Episodes) > 1 {
		for j, e := range d.Episodes {
			add("episode_onset", fmt.Sprintf("episode %d: onset of %s%s", j+1, e.Fault, parens(e.OnsetSource)), e.Onset)
			if e.Restored != nil {
				add("episode_restored", fmt.Sprintf("episode %d: restored, TTR %s", j+1, FormatMeasure(e.TTR, true)), *e.Restored)
			}
		}
	}
	addp("impact", "impact (first unhealthy bucket)", tl.Impact)
	addp("detected", "detected", tl.Detected)
	addp("recovery_start", "recovery started", tl.RecoveryStart)
	for _, s := range d.Steps {
		switch {
		case s.Skipped:
			add("step_skipped", "step "+s.Name+" skipped: "+s.SkipReason, s.Start)
		case s.Error != "":
			add("step_failed", fmt.Sprintf("step %s failed after %s: %s", s.Name, FormatDuration(s.End.Sub(s.Start)), oneLine(s.Error)), s.End)
		default:
			add("step_done", fmt.Sprintf("step %s done in %s", s.Name, FormatDuration(s.End.Sub(s.Start))), s.End)
		}
	}
	addp("recovery_done", "recovery done", tl.RecoveryDone)
	for _, f := range d.Faults {
		if f.Revert != nil {
			add("fault_reverted", "reverted "+f.Name, f.Revert.Acked)
		}
	}
	addp("fault_reverted", "fault reverted", tl.FaultReverted)
	addp("restored", "restored", tl.Restored)
	addp("caught_up", "caught up", tl.CaughtUp)
	add("end", "end", tl.End)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.Before(ev[j].At) })
	return ev
}

// onsetSource is what located the first fault's onset.
func onsetSource(d Drill) string {
	if len(d.Episodes) > 0 && d.Episodes[0].OnsetSource != "" {
		return d.Episodes[0].OnsetSource
	}
	if len(d.Faults) > 0 {
		return d.Faults[0].OnsetSource
	}
	return ""
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// TimelineText renders Events as lines with offsets from the start of load,
// the form a failing test prints.
func TimelineText(d Drill) string {
	ev := Events(d)
	if len(ev) == 0 {
		return ""
	}
	t0 := d.Timeline.LoadStarted
	if t0.IsZero() {
		t0 = ev[0].At
	}
	var b strings.Builder
	b.WriteString("timeline:\n")
	for _, e := range ev {
		fmt.Fprintf(&b, "  %+9.3fs  %s\n", e.At.Sub(t0).Seconds(), e.Text)
	}
	return b.String()
}
