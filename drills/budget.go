package drills

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Unchecked, as Budget.Lost or Budget.Duplicated, turns that check off.
const Unchecked = -1

// Budget holds the limits asserted when a drill ends. A zero duration is not
// checked. Lost, Late and Duplicated are checked whenever the drill has an
// Integrity reader, with a default limit of 0 (set Unchecked to skip).
type Budget struct {
	TTR     time.Duration // restored − onset, for every episode
	TTD     time.Duration // detected − onset (needs Drill.Detect)
	Impact  time.Duration // restored − impact
	Runbook time.Duration // first step start to last step end
	CatchUp time.Duration // caught up − onset (needs Drill.Integrity)
	// FailedRequests is the most failed requests allowed (0: unchecked;
	// set NoFailedRequests to require none).
	FailedRequests   int64
	NoFailedRequests bool
	Lost             int64
	Late             int64
	Duplicated       int64
}

func (b Budget) validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"ttr": b.TTR, "ttd": b.TTD, "impact": b.Impact, "runbook": b.Runbook, "catch-up": b.CatchUp} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("budget: negative %s limit %s", name, d))
		}
	}
	if b.FailedRequests < 0 {
		errs = append(errs, errors.New("budget: negative failed-requests limit (use NoFailedRequests to require none)"))
	}
	if b.Lost < Unchecked || b.Late < Unchecked || b.Duplicated < Unchecked {
		errs = append(errs, errors.New("budget: lost, late and duplicated limits must be ≥ 0 or Unchecked"))
	}
	return errors.Join(errs...)
}

// Verdict is one checked limit.
type Verdict struct {
	Name    string // "ttr", "lost", "restored", ...
	Limit   string // human form: "20s", "0"
	Actual  string // human form: "3.2s ± 0.15s"
	Passed  bool
	Message string // why it failed, when it failed
}

// String is e.g. "ttr: 3.2s ± 0.15s ≤ 5s ok".
func (v Verdict) String() string {
	mark := "ok"
	if !v.Passed {
		mark = "MISSED"
	}
	s := fmt.Sprintf("%-16s limit %-18s actual %-18s %s", v.Name, v.Limit, v.Actual, mark)
	if v.Message != "" && !v.Passed {
		s += ": " + v.Message
	}
	return s
}

// Evaluate checks r against the budget and the engine's own requirements:
// restored after the last fault action within Limits.RecoverWithin, every
// inject had an impact (unless Drill.ExpectNoImpact), the detector fired,
// runbook steps succeeded, integrity had acknowledged writes to check. It
// is a pure function of r.
func (b Budget) Evaluate(r *Result) []Verdict {
	var vs []Verdict
	vs = append(vs, restoredVerdict(r))
	if v, ok := impactVerdict(r); ok {
		vs = append(vs, v)
	}
	if v, ok := recoveryVerdict(r); ok {
		vs = append(vs, v)
	}
	m := r.Measures
	vs = append(vs, ttrVerdicts(b.TTR, r)...)
	vs = appendDuration(vs, "ttd", b.TTD, m.TTD, "not detected")
	vs = appendDuration(vs, "impact", b.Impact, m.Impact, "not restored")
	vs = appendDuration(vs, "runbook", b.Runbook, m.Runbook, "runbook did not run")
	vs = appendDuration(vs, "catch_up", b.CatchUp, m.CatchUp, "not caught up")
	if r.Detector && b.TTD == 0 && !m.TTD.Valid {
		vs = append(vs, Verdict{Name: "detected", Limit: "after onset", Actual: "no",
			Message: "the detector never fired after onset: the alert the drill relies on did not go off"})
	}
	switch {
	case b.NoFailedRequests:
		vs = append(vs, countVerdict("failed_requests", 0, m.FailedRequests, "failed requests"))
	case b.FailedRequests > 0:
		vs = append(vs, countVerdict("failed_requests", b.FailedRequests, m.FailedRequests, "failed requests"))
	}
	vs = append(vs, alertVerdicts(r)...)
	return append(vs, integrityVerdicts(b, r.Integrity)...)
}

func restoredVerdict(r *Result) Verdict {
	v := Verdict{Name: "restored", Limit: "within " + fmtDur(r.Limits.RecoverWithin) + " of the last action", Actual: "yes", Passed: true}
	tl := r.Timeline
	if late := tl.Restored.Sub(tl.LastAction); r.Restored && r.Limits.RecoverWithin > 0 && late > r.Limits.RecoverWithin {
		v.Passed, v.Actual = false, "late"
		v.Message = fmt.Sprintf("restored %s after the last fault action, later than the limit of %s", fmtDur(late), fmtDur(r.Limits.RecoverWithin))
		return v
	}
	if r.Restored {
		return v
	}
	v.Passed, v.Actual = false, "no"
	open := 0
	for _, ep := range r.Episodes {
		if ep.Restored.IsZero() {
			open++
		}
	}
	switch {
	case open > 0:
		ep := r.Episodes[len(r.Episodes)-1]
		v.Message = fmt.Sprintf("not restored: episode %d (after %s) never ended: no run of %d healthy buckets followed it within %s",
			len(r.Episodes), ep.Fault, r.HealthyRun, fmtDur(r.Limits.RecoverWithin))
	default:
		v.Message = fmt.Sprintf("not restored: the steady state did not hold for %d healthy buckets after the schedule's last action", r.HealthyRun)
	}
	return v
}

func impactVerdict(r *Result) (Verdict, bool) {
	if r.ExpectNoImpact {
		v := Verdict{Name: "no_impact", Limit: "steady state holds", Actual: fmt.Sprintf("%d episodes", len(r.Episodes)), Passed: len(r.Episodes) == 0}
		if !v.Passed {
			v.Message = fmt.Sprintf("the drill expects no impact, but the steady state broke %d times (first at the episode after %s)", len(r.Episodes), r.Episodes[0].Fault)
		}
		return v, true
	}
	if r.Timeline.FaultSent.IsZero() {
		return Verdict{}, false
	}
	v := Verdict{Name: "impact", Limit: "every fault has one", Actual: "yes", Passed: len(r.Unimpacted) == 0}
	if !v.Passed {
		v.Actual = fmt.Sprintf("%d without", len(r.Unimpacted))
		v.Message = fmt.Sprintf("no impact after %s: the steady state never broke, so the fault missed its target or the steady state cannot see it; point the fault at the system's path, tighten the steady state, or set Drill.ExpectNoImpact if the system should absorb it",
			strings.Join(r.Unimpacted, ", "))
	}
	return v, true
}

func recoveryVerdict(r *Result) (Verdict, bool) {
	if len(r.Steps) == 0 {
		return Verdict{}, false
	}
	v := Verdict{Name: "recovery", Limit: "all steps succeed", Actual: "ok", Passed: true}
	for _, s := range r.Steps {
		if s.Err != "" {
			v.Passed, v.Actual = false, "step failed"
			v.Message = fmt.Sprintf("step %q failed: %s", s.Name, s.Err)
			if s.Output != "" {
				v.Message += "\n    output: " + lastLine(s.Output)
			}
			break
		}
	}
	return v, true
}

// ttrVerdicts checks the TTR limit against every episode: the worst decides.
func ttrVerdicts(limit time.Duration, r *Result) []Verdict {
	if limit <= 0 {
		return nil
	}
	v := Verdict{Name: "ttr", Limit: fmtDur(limit), Actual: r.Measures.TTR.String(), Passed: true}
	var over []string
	for i, ep := range r.Episodes {
		switch {
		case !ep.TTR.Valid:
			over = append(over, fmt.Sprintf("episode %d not restored", i+1))
		case ep.TTR.Value > limit:
			over = append(over, fmt.Sprintf("episode %d ttr %s", i+1, ep.TTR))
		}
	}
	if !r.Restored && len(over) == 0 {
		over = append(over, "not restored after the last action")
	}
	if len(over) > 0 {
		v.Passed = false
		if !r.Measures.TTR.Valid {
			v.Actual = "not restored"
		}
		v.Message = fmt.Sprintf("exceeds the budget of %s: %s", fmtDur(limit), strings.Join(over, "; "))
	}
	return []Verdict{v}
}

func appendDuration(vs []Verdict, name string, limit time.Duration, x Measure, missing string) []Verdict {
	if limit <= 0 {
		return vs
	}
	v := Verdict{Name: name, Limit: fmtDur(limit), Actual: x.String()}
	switch {
	case !x.Valid:
		v.Actual, v.Message = missing, missing
	case x.Value > limit:
		v.Message = fmt.Sprintf("%s %s exceeds the budget of %s", name, x, fmtDur(limit))
	default:
		v.Passed = true
	}
	return append(vs, v)
}

func countVerdict(name string, limit, actual int64, what string) Verdict {
	v := Verdict{Name: name, Limit: fmt.Sprint(limit), Actual: fmt.Sprint(actual), Passed: actual <= limit}
	if !v.Passed {
		v.Message = fmt.Sprintf("%d %s, budget %d", actual, what, limit)
	}
	return v
}

func integrityVerdicts(b Budget, in IntegrityResult) []Verdict {
	if !in.Checked {
		return nil
	}
	var vs []Verdict
	ack := Verdict{Name: "acknowledged", Limit: "> 0", Actual: fmt.Sprint(in.Acknowledged), Passed: in.Acknowledged > 0}
	if !ack.Passed {
		ack.Message = "the workload acknowledged no write, so integrity checked nothing: make the workload's operation return the id it wrote (load.Outcome.AckID), or drop Drill.Integrity"
		if in.Err != "" {
			ack.Message += " (the reader also failed: " + in.Err + ")"
		}
	}
	vs = append(vs, ack)
	if b.Lost != Unchecked {
		v := countVerdict("lost", b.Lost, in.Lost, "acknowledged writes lost")
		if len(in.LostSample) > 0 && !v.Passed {
			v.Message += fmt.Sprintf(" (e.g. %v)", in.LostSample)
		}
		if in.Err != "" && !v.Passed {
			v.Message += "; the integrity reader failed: " + in.Err
		}
		vs = append(vs, v)
	}
	if b.Late != Unchecked {
		v := countVerdict("late", b.Late, in.Late, "acknowledged writes visible only after the catch-up deadline")
		if len(in.LateSample) > 0 && !v.Passed {
			v.Message += fmt.Sprintf(" (e.g. %v)", in.LateSample)
		}
		vs = append(vs, v)
	}
	if b.Duplicated != Unchecked {
		vs = append(vs, countVerdict("duplicated", b.Duplicated, in.Duplicated, "acknowledged writes duplicated"))
	}
	return vs
}

// fmtDur rounds a duration for humans: ms precision under a minute.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond && d > -time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Minute && d > -time.Minute:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func lastLine(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
