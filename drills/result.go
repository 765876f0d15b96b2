package drills

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
)

// Timeline holds the instants of a drill. A zero time means the event did
// not happen (no impact, no detector, nothing to catch up).
type Timeline struct {
	LoadStarted    time.Time
	SteadyVerified time.Time
	FaultPhase     time.Time // offsets of the fault schedule count from here
	FaultSent      time.Time // first inject bracket
	FaultAcked     time.Time
	// Onset is the midpoint of the first inject bracket.
	Onset         time.Time
	Impact        time.Time // start of the first unhealthy bucket ending after onset
	Detected      time.Time // first detector poll that fired after onset
	RecoveryStart time.Time
	RecoveryDone  time.Time
	FaultReverted time.Time // first revert acknowledged (by the schedule or at the end)
	Restored      time.Time // start of the first bucket of the first run of K healthy buckets after impact
	CaughtUp      time.Time
	End           time.Time
}

// Measure is a duration with its resolution (the ± of the measurement).
// Valid is false when the measure does not apply or the event never came.
type Measure struct {
	Valid      bool
	Value      time.Duration
	Resolution time.Duration
}

// String is "3.05s ± 0.101s", or "n/a".
func (m Measure) String() string {
	if !m.Valid {
		return "n/a"
	}
	if m.Resolution == 0 {
		return fmtDur(m.Value)
	}
	return fmtDur(m.Value) + " ± " + fmtDur(m.Resolution)
}

// Measures are the figures derived from the timeline and the buckets.
type Measures struct {
	TTR            Measure
	TTD            Measure
	Impact         Measure
	Runbook        Measure
	CatchUp        Measure
	Requests       int64
	FailedRequests int64
	LateStarts     int64
}

// IntegrityResult is the accounting of acknowledged writes.
type IntegrityResult struct {
	Checked      bool
	Acknowledged int64
	Landed       int64 // distinct acknowledged ids seen downstream
	Lost         int64
	Duplicated   int64 // ids seen more than once (each extra copy counts)
	LostSample   []string
	Err          string // last error of the reader, if it never succeeded
}

// Result is everything a drill measured.
type Result struct {
	Name       string
	Bucket     time.Duration
	HealthyRun int
	Limits     Limits
	Steady     string // the steady-state objective's name
	Timeline   Timeline
	Measures   Measures
	Integrity  IntegrityResult
	Faults     []faults.Record
	Steps      []recovery.Result
	// Buckets are the sealed buckets from load start, Health their
	// judgement by the steady state.
	Buckets []slo.Bucket
	Health  []slo.Judgement
	Probes  []ProbeInfo
	Load    load.Stats
	Budget  Budget
	// Verdicts are the checked limits; Err is why the drill could not be
	// evaluated (steady state never reached, a fault failed...).
	Verdicts []Verdict
	Err      error
}

// ProbeInfo names a probe series.
type ProbeInfo struct{ Name, Unit string }

// Passed reports whether the drill ran and met every limit.
func (r *Result) Passed() bool {
	if r == nil || r.Err != nil {
		return false
	}
	for _, v := range r.Verdicts {
		if !v.Passed {
			return false
		}
	}
	return true
}

// Missed returns the verdicts that failed.
func (r *Result) Missed() []Verdict {
	var out []Verdict
	for _, v := range r.Verdicts {
		if !v.Passed {
			out = append(out, v)
		}
	}
	return out
}

// Summary is one line: "drill x: TTR 3.05s ± 0.101s, TTD n/a, lost 0, ... passed".
func (r *Result) Summary() string {
	verdict := "passed"
	switch {
	case r.Err != nil:
		verdict = "error: " + r.Err.Error()
	case !r.Passed():
		verdict = "FAILED"
	}
	s := fmt.Sprintf("drill %s: TTR %s, TTD %s, impact %s, failed requests %d/%d",
		r.Name, r.Measures.TTR, r.Measures.TTD, r.Measures.Impact, r.Measures.FailedRequests, r.Measures.Requests)
	if r.Integrity.Checked {
		s += fmt.Sprintf(", lost %d, duplicated %d, catch-up %s", r.Integrity.Lost, r.Integrity.Duplicated, r.Measures.CatchUp)
	}
	return s + ": " + verdict
}

// FormatTimeline renders the timeline, the measures and the verdicts as
// indented lines, with times relative to fault onset (or to load start
// when no fault was injected).
func (r *Result) FormatTimeline() string {
	tl := r.Timeline
	zero, zeroName := tl.Onset, "fault onset"
	if zero.IsZero() {
		zero, zeroName = tl.LoadStarted, "load start"
	}
	type ev struct {
		at   time.Time
		what string
	}
	var evs []ev
	add := func(t time.Time, what string) {
		if !t.IsZero() {
			evs = append(evs, ev{t, what})
		}
	}
	add(tl.LoadStarted, "load started")
	add(tl.SteadyVerified, fmt.Sprintf("steady state verified (%d healthy buckets of %s: %s)", r.HealthyRun, fmtDur(r.Bucket), r.Steady))
	add(tl.FaultPhase, "fault phase started")
	for _, rec := range r.Faults {
		verb := "inject"
		if rec.Action.Revert {
			verb = "revert"
		}
		if rec.Cleanup {
			verb = "revert (cleanup)"
		}
		what := fmt.Sprintf("%s %s: sent", verb, rec.Fault)
		add(rec.Bracket.Sent, what)
		ack := fmt.Sprintf("%s %s: acknowledged (bracket %s)", verb, rec.Fault, fmtDur(rec.Bracket.Width()))
		if rec.Err != nil {
			ack = fmt.Sprintf("%s %s: FAILED: %v", verb, rec.Fault, rec.Err)
		}
		add(rec.Bracket.Acked, ack)
	}
	if !tl.Impact.IsZero() {
		reason := ""
		if i := r.bucketAt(tl.Impact); i >= 0 && i < len(r.Health) {
			reason = ": " + r.Health[i].Reason
		}
		add(tl.Impact, "impact (first unhealthy bucket"+reason+")")
	}
	// Flaps: buckets that turned unhealthy again before restoration.
	if !tl.Impact.IsZero() {
		from, to := r.bucketAt(tl.Impact), len(r.Health)
		if !tl.Restored.IsZero() {
			to = min(to, r.bucketAt(tl.Restored))
		}
		flaps, healthySeen := 0, false
		for i := max(from, 0); i < to && i < len(r.Buckets); i++ {
			switch r.Health[i].Health {
			case slo.Healthy:
				healthySeen = true
			case slo.Unhealthy:
				if healthySeen && flaps < 5 {
					flaps++
					add(r.Buckets[i].Start, "unhealthy again: "+r.Health[i].Reason)
				}
				healthySeen = false
			}
		}
	}
	add(tl.Detected, "detected")
	for _, s := range r.Steps {
		switch {
		case s.Skipped:
			add(s.Start, fmt.Sprintf("recovery step %q %s", s.Name, s.SkipReason))
		case s.Err != "":
			add(s.Start, fmt.Sprintf("recovery step %q started", s.Name))
			add(s.End, fmt.Sprintf("recovery step %q FAILED after %s: %s", s.Name, fmtDur(s.Duration), s.Err))
		default:
			add(s.Start, fmt.Sprintf("recovery step %q started", s.Name))
			add(s.End, fmt.Sprintf("recovery step %q done in %s", s.Name, fmtDur(s.Duration)))
		}
	}
	add(tl.Restored, fmt.Sprintf("restored (first of %d healthy buckets)", r.HealthyRun))
	add(tl.CaughtUp, "caught up (every acknowledged write visible)")
	add(tl.End, "end")
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })

	var sb strings.Builder
	fmt.Fprintf(&sb, "timeline of drill %q (t=0 at %s, %s):\n", r.Name, zeroName, zero.Format("15:04:05.000"))
	for _, e := range evs {
		fmt.Fprintf(&sb, "  %10s  %s\n", rel(e.at.Sub(zero)), e.what)
	}
	if strip := r.healthStrip(zero); strip != "" {
		sb.WriteString(strip)
	}
	m := r.Measures
	fmt.Fprintf(&sb, "measures: TTR %s, TTD %s, impact %s, runbook %s, catch-up %s\n", m.TTR, m.TTD, m.Impact, m.Runbook, m.CatchUp)
	fmt.Fprintf(&sb, "requests: %d, failed %d, late starts %d", m.Requests, m.FailedRequests, m.LateStarts)
	if m.LateStarts > 0 {
		fmt.Fprintf(&sb, " (worst %s late)", fmtDur(r.Load.MaxLate))
	}
	sb.WriteByte('\n')
	if r.Integrity.Checked {
		fmt.Fprintf(&sb, "integrity: acknowledged %d, landed %d, lost %d, duplicated %d\n",
			r.Integrity.Acknowledged, r.Integrity.Landed, r.Integrity.Lost, r.Integrity.Duplicated)
	}
	if r.Err != nil {
		fmt.Fprintf(&sb, "error: %v\n", r.Err)
	}
	if len(r.Verdicts) > 0 {
		sb.WriteString("budget:\n")
		for _, v := range r.Verdicts {
			fmt.Fprintf(&sb, "  %s\n", v)
		}
	}
	return sb.String()
}

// healthStrip draws the bucket health around the fault as one character per
// bucket: '+' healthy, 'x' unhealthy, '.' unknown, '|' at onset.
func (r *Result) healthStrip(zero time.Time) string {
	if len(r.Health) == 0 || r.Timeline.Onset.IsZero() {
		return ""
	}
	on := r.bucketAt(r.Timeline.Onset)
	from := max(on-r.HealthyRun, 0)
	to := len(r.Health)
	if !r.Timeline.Restored.IsZero() {
		to = min(to, r.bucketAt(r.Timeline.Restored)+r.HealthyRun+1)
	}
	if to-from > 400 {
		to = from + 400
	}
	var sb strings.Builder
	for i := from; i < to; i++ {
		if i == on {
			sb.WriteByte('|')
		}
		sb.WriteByte(healthMark(r.Health[i].Health))
	}
	return fmt.Sprintf("buckets from %s ('+' healthy, 'x' unhealthy, '.' no data, '|' onset):\n  %s\n",
		rel(r.Buckets[from].Start.Sub(zero)), sb.String())
}

// bucketAt returns the index of the bucket containing t.
func (r *Result) bucketAt(t time.Time) int {
	if r.Bucket <= 0 || r.Timeline.LoadStarted.IsZero() {
		return -1
	}
	d := t.Sub(r.Timeline.LoadStarted)
	if d < 0 {
		return -1
	}
	return int(d / r.Bucket)
}

func rel(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%.3fs", sign, d.Seconds())
}
