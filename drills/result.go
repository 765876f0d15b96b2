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
	FaultSent      time.Time // first inject's call bracket
	FaultAcked     time.Time
	// Onset is the first inject's onset: the midpoint of the interval known
	// to contain the instant it took effect (Episodes[0].OnsetBounds).
	Onset         time.Time
	Impact        time.Time // the first episode's impact
	Detected      time.Time // first detector poll that fired after onset
	RecoveryStart time.Time
	RecoveryDone  time.Time
	FaultReverted time.Time // first revert acknowledged (by the schedule or at the end)
	// LastAction is when the schedule's last action (inject or revert, or
	// the end of a lasting fault such as a crash loop) was due.
	LastAction time.Time
	// Restored is the last episode's restoration, when the drill was
	// restored (the steady state held for K buckets after the last action).
	Restored time.Time
	CaughtUp time.Time
	End      time.Time
}

// Measure is a duration known to lie in [Lower, Upper], with Value its
// best estimate inside. Valid is false when the measure does not apply or
// the event never came. Source says what located it: "requests" (the
// spacing of requests), "probe NAME" (a probe's reads), "buckets",
// "detector polls", "integrity reads", "steps".
type Measure struct {
	Valid        bool
	Value        time.Duration
	Lower, Upper time.Duration
	Source       string
}

// Resolution is the ± short form of the bounds: the larger distance from
// Value to a bound.
func (m Measure) Resolution() time.Duration {
	return max(m.Value-m.Lower, m.Upper-m.Value, 0)
}

// Contains reports whether d lies within the measure's bounds.
func (m Measure) Contains(d time.Duration) bool {
	return m.Valid && d >= m.Lower && d <= m.Upper
}

// String is "3.05s ± 4ms", or "n/a".
func (m Measure) String() string {
	if !m.Valid {
		return "n/a"
	}
	if m.Resolution() == 0 {
		return fmtDur(m.Value)
	}
	return fmtDur(m.Value) + " ± " + fmtDur(m.Resolution())
}

// Interval is "[3.049s, 3.053s]".
func (m Measure) Interval() string {
	if !m.Valid {
		return "n/a"
	}
	return "[" + fmtDur(m.Lower) + ", " + fmtDur(m.Upper) + "]"
}

// exact is a measure known exactly (the runbook's own timing).
func exact(d time.Duration, source string) Measure {
	return Measure{Valid: true, Value: d, Lower: d, Upper: d, Source: source}
}

// between is the measure of end − start where start lies in [sLo, sHi]
// with best estimate s, and end in [eLo, eHi] with best estimate e.
// Negative lower bounds are clipped to 0 (nothing here precedes its cause).
func between(s, sLo, sHi, e, eLo, eHi time.Time, source string) Measure {
	m := Measure{Valid: true, Value: e.Sub(s), Lower: max(eLo.Sub(sHi), 0), Upper: eHi.Sub(sLo), Source: source}
	m.Value = min(max(m.Value, m.Lower), m.Upper)
	return m
}

// Measures are the figures derived from the timeline and the buckets.
type Measures struct {
	// TTR is the worst episode's time to recover (Budget.TTR holds for
	// each episode, so the worst decides).
	TTR Measure
	TTD Measure
	// Impact is the worst episode's duration (restored − impact).
	Impact  Measure
	Runbook Measure
	// Reaction is detection → runbook start, and Convergence runbook end →
	// restored: with TTD and Runbook, the parts of a TTR whose runbook was
	// started by detection (Drill.RecoverOnDetect).
	Reaction       Measure
	Convergence    Measure
	CatchUp        Measure
	Requests       int64
	FailedRequests int64
	LateStarts     int64
}

// Episode is one period of unhealthiness after an inject: its own onset
// (of the inject it follows), impact, restoration and TTR.
type Episode struct {
	Fault string // the inject the episode follows
	// Onset is the inject's onset, known to lie in OnsetBounds (from
	// OnsetSource: the inject call's bracket, or the target's own record).
	Onset       time.Time
	OnsetBounds faults.Bracket
	OnsetSource string
	// Impact is the first observation after onset that the steady state
	// rejects (a failed or slow request, a probe read out of bounds).
	Impact time.Time
	// Restored is when the steady state held again, followed by K healthy
	// buckets; zero when the episode never ended.
	Restored time.Time
	TTR      Measure // restored − onset
	Duration Measure // restored − impact
	// first and last bucket index (last: the first bucket of the healthy
	// run that ended it, -1 when open).
	impactBucket, restoredBucket int
	// restoredLo and restoredHi bound Restored (as located).
	restoredLo, restoredHi time.Time
}

// IntegrityResult is the accounting of acknowledged writes.
type IntegrityResult struct {
	Checked      bool
	Acknowledged int64
	Landed       int64 // distinct acknowledged ids seen downstream
	// Lost are acknowledged writes still not visible at the final read,
	// Limits.LostAfter past the catch-up deadline.
	Lost int64
	// Late are acknowledged writes not visible by the catch-up deadline
	// that became visible before the final read.
	Late       int64
	Duplicated int64 // ids seen more than once (each extra copy counts)
	LostSample []string
	LateSample []string
	Err        string // last error of the reader, if it never succeeded
}

// Result is everything a drill measured.
type Result struct {
	Name       string
	Bucket     time.Duration
	HealthyRun int
	Limits     Limits
	Steady     string // the steady-state objective's name
	// ExpectNoImpact is the drill's declaration that its faults should not
	// disturb the steady state.
	ExpectNoImpact bool
	// Detector is true when the drill had a detector (Drill.Detect).
	Detector bool
	// detectionStarted: the runbook was started by detection.
	detectionStarted bool
	// Alerting is the drill's declaration of its alerts; Alerts what they
	// did (nil without Drill.Alerts).
	Alerting *Alerting
	Alerts   *Alerts
	// Seed replays a random (nemesis) schedule; 0 when there is none.
	Seed     uint64
	Timeline Timeline
	Measures Measures
	// Episodes are the periods of unhealthiness after an inject.
	Episodes []Episode
	// Restored is true when no episode was left open and the steady state
	// held for K healthy buckets after the schedule's last action.
	Restored bool
	// Unimpacted names the injects after which the steady state never
	// broke (a fault that missed its target).
	Unimpacted []string
	Integrity  IntegrityResult
	Faults     []faults.Record
	// RevertFailed are the faults that could not be reverted.
	RevertFailed []error
	Steps        []recovery.Result
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

// Summary is one line: "drill x: TTR 3.05s ± 4ms, TTD n/a, lost 0, ... passed".
func (r *Result) Summary() string {
	verdict := "passed"
	switch {
	case r.Err != nil:
		verdict = "error: " + r.Err.Error()
	case !r.Passed():
		verdict = "FAILED"
	}
	s := fmt.Sprintf("drill %s: TTR %s, TTD %s, impact %s, episodes %d, failed requests %d/%d",
		r.Name, r.Measures.TTR, r.Measures.TTD, r.Measures.Impact, len(r.Episodes), r.Measures.FailedRequests, r.Measures.Requests)
	if r.Integrity.Checked {
		s += fmt.Sprintf(", lost %d, late %d, duplicated %d, catch-up %s", r.Integrity.Lost, r.Integrity.Late, r.Integrity.Duplicated, r.Measures.CatchUp)
	}
	if r.Seed != 0 {
		s += fmt.Sprintf(", seed %d", r.Seed)
	}
	return s + ": " + verdict
}

type event struct {
	at   time.Time
	what string
}

// events collects timeline events; zero instants are left out.
type events []event

func (evs *events) add(t time.Time, what string) {
	if !t.IsZero() {
		*evs = append(*evs, event{t, what})
	}
}

// FormatTimeline renders the timeline, the episodes, the measures and the
// verdicts as indented lines, with times relative to fault onset (or to
// load start when no fault was injected).
func (r *Result) FormatTimeline() string {
	tl := r.Timeline
	zero, zeroName := tl.Onset, "fault onset"
	if zero.IsZero() {
		zero, zeroName = tl.LoadStarted, "load start"
	}
	evs := r.events()
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })

	var sb strings.Builder
	fmt.Fprintf(&sb, "timeline of drill %q (t=0 at %s, %s):\n", r.Name, zeroName, zero.Format("15:04:05.000"))
	for _, e := range evs {
		fmt.Fprintf(&sb, "  %10s  %s\n", rel(e.at.Sub(zero)), e.what)
	}
	sb.WriteString(r.healthStrip(zero))
	r.writeEpisodes(&sb)
	m := r.Measures
	fmt.Fprintf(&sb, "measures: TTR %s, TTD %s, impact %s, runbook %s, catch-up %s\n", m.TTR, m.TTD, m.Impact, m.Runbook, m.CatchUp)
	if m.Reaction.Valid {
		fmt.Fprintf(&sb, "TTR = TTD %s + reaction %s + runbook %s + convergence %s\n", m.TTD, m.Reaction, m.Runbook, m.Convergence)
	}
	r.writeAlerts(&sb)
	fmt.Fprintf(&sb, "requests: %d, failed %d, late starts %d", m.Requests, m.FailedRequests, m.LateStarts)
	if m.LateStarts > 0 {
		fmt.Fprintf(&sb, " (worst %s late)", fmtDur(r.Load.MaxLate))
	}
	sb.WriteByte('\n')
	if r.Integrity.Checked {
		fmt.Fprintf(&sb, "integrity: acknowledged %d, landed %d, lost %d, late %d, duplicated %d\n",
			r.Integrity.Acknowledged, r.Integrity.Landed, r.Integrity.Lost, r.Integrity.Late, r.Integrity.Duplicated)
	}
	if r.Seed != 0 {
		fmt.Fprintf(&sb, "nemesis seed: %d (the same seed replays the same schedule)\n", r.Seed)
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

// events lists the timeline's events, unsorted.
func (r *Result) events() []event {
	tl := r.Timeline
	var evs events
	evs.add(tl.LoadStarted, "load started")
	evs.add(tl.SteadyVerified, fmt.Sprintf("steady state verified (%d healthy buckets of %s: %s)", r.HealthyRun, fmtDur(r.Bucket), r.Steady))
	evs.add(tl.FaultPhase, "fault phase started")
	r.faultEvents(&evs)
	r.episodeEvents(&evs)
	evs.add(tl.LastAction, "last scheduled fault action")
	evs.add(tl.Detected, "detected")
	r.stepEvents(&evs)
	evs.add(tl.CaughtUp, "caught up (every acknowledged write visible)")
	evs.add(tl.End, "end")
	return evs
}

// faultEvents are every inject and revert, sent and acknowledged.
func (r *Result) faultEvents(evs *events) {
	for _, rec := range r.Faults {
		verb := "inject"
		if rec.Action.Revert {
			verb = "revert"
		}
		if rec.Cleanup {
			verb = "revert (cleanup)"
		}
		evs.add(rec.Bracket.Sent, fmt.Sprintf("%s %s: sent", verb, rec.Fault))
		ack := fmt.Sprintf("%s %s: acknowledged (bracket %s)", verb, rec.Fault, fmtDur(rec.Bracket.Width()))
		switch {
		case rec.Err != nil && rec.Action.Revert:
			ack = fmt.Sprintf("%s %s: FAILED (the error below says why and how to fix it)", verb, rec.Fault)
		case rec.Err != nil:
			ack = fmt.Sprintf("%s %s: FAILED: %s", verb, rec.Fault, firstLine(rec.Err.Error()))
		}
		evs.add(rec.Bracket.Acked, ack)
	}
}

// episodeEvents are each episode's impact, flaps and restoration.
func (r *Result) episodeEvents(evs *events) {
	for i, ep := range r.Episodes {
		reason := ""
		if j := ep.impactBucket; j >= 0 && j < len(r.Health) {
			reason = ": " + r.Health[j].Reason
		}
		evs.add(ep.Impact, fmt.Sprintf("impact, episode %d (%s%s)", i+1, ep.Fault, reason))
		if !ep.Restored.IsZero() {
			evs.add(ep.Restored, fmt.Sprintf("restored, episode %d (then %d healthy buckets)", i+1, r.HealthyRun))
		}
		*evs = append(*evs, r.flaps(ep)...)
	}
}

// stepEvents are each runbook step's start and end.
func (r *Result) stepEvents(evs *events) {
	for _, s := range r.Steps {
		switch {
		case s.Skipped:
			evs.add(s.Start, fmt.Sprintf("recovery step %q %s", s.Name, s.SkipReason))
		case s.Err != "":
			evs.add(s.Start, fmt.Sprintf("recovery step %q started", s.Name))
			evs.add(s.End, fmt.Sprintf("recovery step %q FAILED after %s: %s", s.Name, fmtDur(s.Duration), s.Err))
		default:
			evs.add(s.Start, fmt.Sprintf("recovery step %q started", s.Name))
			evs.add(s.End, fmt.Sprintf("recovery step %q done in %s", s.Name, fmtDur(s.Duration)))
		}
	}
}

// flaps are the buckets of an episode that turned unhealthy again after a
// healthy one (at most 5).
func (r *Result) flaps(ep Episode) []event {
	var evs []event
	to := len(r.Health)
	if ep.restoredBucket >= 0 {
		to = min(to, ep.restoredBucket)
	}
	healthySeen := false
	for i := max(ep.impactBucket, 0); i < to && i < len(r.Buckets) && len(evs) < 5; i++ {
		switch r.Health[i].Health {
		case slo.Healthy:
			healthySeen = true
		case slo.Unhealthy:
			if healthySeen {
				evs = append(evs, event{r.Buckets[i].Start, "unhealthy again: " + r.Health[i].Reason})
			}
			healthySeen = false
		}
	}
	return evs
}

// writeAlerts lists what each alert did.
func (r *Result) writeAlerts(sb *strings.Builder) {
	if r.Alerts == nil {
		return
	}
	a := r.Alerts
	fmt.Fprintf(sb, "alerts: %d pages, %d non-critical (scrape %s, evaluation %s, read every %s; %d reads, %d failed)\n",
		a.Pages, a.NonCritical, fmtDur(a.ScrapeInterval), fmtDur(a.EvalInterval), fmtDur(a.PollEvery), a.Polls, a.Errs)
	for _, x := range a.Alerts {
		state := "quiet"
		if len(x.Spans) > 0 {
			state = fmt.Sprintf("fired %d times, TTD %s", len(x.Spans), x.TTD)
			if !x.Resolved {
				state += ", still firing"
			}
		}
		fmt.Fprintf(sb, "  %s (%s): %s\n", x.Name, orDash(x.Severity), state)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeEpisodes lists every episode with its bounds.
func (r *Result) writeEpisodes(sb *strings.Builder) {
	if len(r.Episodes) == 0 {
		return
	}
	sb.WriteString("episodes:\n")
	for i, ep := range r.Episodes {
		restored := "NOT RESTORED"
		if !ep.Restored.IsZero() {
			restored = "TTR " + ep.TTR.String() + " in " + ep.TTR.Interval() + " (" + ep.TTR.Source + ")"
		}
		fmt.Fprintf(sb, "  %d. %s: onset ± %s (%s), %s\n", i+1, ep.Fault,
			fmtDur(ep.OnsetBounds.Width()/2), ep.OnsetSource, restored)
	}
}

// healthStrip draws the bucket health around the faults as one character
// per bucket: '+' healthy, 'x' unhealthy, '.' unknown, '|' at onset.
func (r *Result) healthStrip(zero time.Time) string {
	if len(r.Health) == 0 || r.Timeline.Onset.IsZero() {
		return ""
	}
	on := r.bucketAt(r.Timeline.Onset)
	from := max(on-r.HealthyRun, 0)
	to := len(r.Health)
	if r.Restored && !r.Timeline.Restored.IsZero() {
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

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
