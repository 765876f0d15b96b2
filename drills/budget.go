package drills

import (
	"errors"
	"fmt"
	"time"
)

// Unchecked, as Budget.Lost or Budget.Duplicated, turns that check off.
const Unchecked = -1

// Budget holds the limits asserted when a drill ends. A zero duration is not
// checked. Lost and Duplicated are checked whenever the drill has an
// Integrity reader, with a default limit of 0 (set Unchecked to skip).
type Budget struct {
	TTR     time.Duration // restored − onset
	TTD     time.Duration // detected − onset (needs Drill.Detect)
	Impact  time.Duration // restored − impact
	Runbook time.Duration // first step start to last step end
	CatchUp time.Duration // caught up − onset (needs Drill.Integrity)
	// FailedRequests is the most failed requests allowed (0: unchecked;
	// set NoFailedRequests to require none).
	FailedRequests   int64
	NoFailedRequests bool
	Lost             int64
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
	if b.Lost < Unchecked || b.Duplicated < Unchecked {
		errs = append(errs, errors.New("budget: lost and duplicated limits must be ≥ 0 or Unchecked"))
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

// Evaluate checks r against the budget and the engine's own requirements
// (restored within Limits.RecoverWithin, runbook steps succeeded). It is a
// pure function of r.
func (b Budget) Evaluate(r *Result) []Verdict {
	var vs []Verdict
	m := r.Measures
	// Restoration is always required once there was an impact.
	if !r.Timeline.Impact.IsZero() {
		v := Verdict{Name: "restored", Limit: "within " + fmtDur(r.Limits.RecoverWithin), Passed: m.TTR.Valid}
		switch {
		case m.TTR.Valid && r.Limits.RecoverWithin > 0 && m.TTR.Value > r.Limits.RecoverWithin:
			v.Passed, v.Actual = false, "late"
			v.Message = fmt.Sprintf("restored %s after onset, later than the limit of %s", m.TTR, fmtDur(r.Limits.RecoverWithin))
		case m.TTR.Valid:
			v.Actual = "yes"
		default:
			v.Actual = "no"
			v.Message = fmt.Sprintf("not restored within %s of onset (no run of %d healthy buckets after impact)", fmtDur(r.Limits.RecoverWithin), r.HealthyRun)
		}
		vs = append(vs, v)
	}
	if len(r.Steps) > 0 {
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
		vs = append(vs, v)
	}
	dur := func(name string, limit time.Duration, x Measure, missing string) {
		if limit <= 0 {
			return
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
		vs = append(vs, v)
	}
	dur("ttr", b.TTR, m.TTR, "not restored")
	dur("ttd", b.TTD, m.TTD, "not detected")
	dur("impact", b.Impact, m.Impact, "not restored")
	dur("runbook", b.Runbook, m.Runbook, "runbook did not run")
	dur("catch_up", b.CatchUp, m.CatchUp, "not caught up")
	count := func(name string, limit, actual int64, what string) {
		v := Verdict{Name: name, Limit: fmt.Sprint(limit), Actual: fmt.Sprint(actual), Passed: actual <= limit}
		if !v.Passed {
			v.Message = fmt.Sprintf("%d %s, budget %d", actual, what, limit)
		}
		vs = append(vs, v)
	}
	switch {
	case b.NoFailedRequests:
		count("failed_requests", 0, m.FailedRequests, "failed requests")
	case b.FailedRequests > 0:
		count("failed_requests", b.FailedRequests, m.FailedRequests, "failed requests")
	}
	if r.Integrity.Checked {
		if b.Lost != Unchecked {
			count("lost", b.Lost, r.Integrity.Lost, "acknowledged writes lost")
			if n := len(r.Integrity.LostSample); n > 0 && r.Integrity.Lost > b.Lost {
				vs[len(vs)-1].Message += fmt.Sprintf(" (e.g. %v)", r.Integrity.LostSample)
			}
		}
		if b.Duplicated != Unchecked {
			count("duplicated", b.Duplicated, r.Integrity.Duplicated, "acknowledged writes duplicated")
		}
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
