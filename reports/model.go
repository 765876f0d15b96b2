// Package reports holds firedrill's report model (a versioned JSON schema),
// its writers (JSON, Markdown, JUnit XML, HTML with SVG timelines), and the
// statistics that compare TTR samples across releases.
package reports

import "time"

// SchemaVersion is the version of the JSON report schema. Bump it on any
// incompatible change and document the change in reports/SCHEMA.md.
const SchemaVersion = "firedrill.report/v1"

// Run is one report file: every drill executed by one test run.
type Run struct {
	Schema string  `json:"schema"`
	Meta   Meta    `json:"meta"`
	Drills []Drill `json:"drills"`
}

// Meta describes where and when the run happened.
type Meta struct {
	RunID     string    `json:"run_id"`
	Commit    string    `json:"commit,omitempty"`
	Release   string    `json:"release,omitempty"`
	Machine   string    `json:"machine,omitempty"`
	GoVersion string    `json:"go_version,omitempty"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Seed      int64     `json:"seed,omitempty"`
}

// Drill is one execution (one sample) of one drill.
type Drill struct {
	Name       string    `json:"name"`
	Sample     int       `json:"sample"` // 0-based repetition index
	Passed     bool      `json:"passed"`
	Error      string    `json:"error,omitempty"` // why the drill could not be evaluated
	Bucket     Duration  `json:"bucket"`
	HealthyRun int       `json:"healthy_run"` // K
	Timeline   Timeline  `json:"timeline"`
	Measures   Measures  `json:"measures"`
	Integrity  Integrity `json:"integrity"`
	Faults     []Fault   `json:"faults"`
	Steps      []Step    `json:"steps"`
	Series     []Series  `json:"series"`
	Budgets    []Verdict `json:"budgets"`
	// Episodes are the periods of unhealthiness, one per inject that had
	// an impact, in time order. Measures.TTR is the worst episode's.
	Episodes []Episode `json:"episodes"`
	// Restored is true when the steady state held for K healthy buckets
	// after the schedule's last action. A drill that is not restored fails.
	// Files written before the field existed imply it (see Decode).
	Restored bool `json:"restored"`
	// Seed is the nemesis seed that replays the drill's fault schedule.
	Seed uint64 `json:"seed,omitempty"`
	// TestFailed is true when the go test failed after the drill was
	// judged (Passed is then false); TestFailure says why.
	TestFailed  bool   `json:"test_failed,omitempty"`
	TestFailure string `json:"test_failure,omitempty"`
	// RevertFailed lists the faults that could not be reverted, each as
	// "fault: cause — fix".
	RevertFailed []string `json:"revert_failed,omitempty"`
	// Alerts are the alerts seen firing in Alertmanager during the drill;
	// nil when the drill watched no alerting system.
	Alerts *Alerts `json:"alerts,omitempty"`
	// BudgetTTR is the drill's TTR budget (0: none), drawn by history as
	// the budget line.
	BudgetTTR Duration `json:"budget_ttr,omitempty"`
}

// Alerts is what the drill saw of the alerting system: counts of the
// alerts that fired, the intervals that bound every TTD, and each alert.
type Alerts struct {
	Pages          int      `json:"pages"`        // alerts of the page severity that fired
	NonCritical    int      `json:"non_critical"` // other alerts that fired
	ScrapeInterval Duration `json:"scrape_interval"`
	EvalInterval   Duration `json:"eval_interval"`
	PollEvery      Duration `json:"poll_every"`
	Alerts         []Alert  `json:"alerts"`
}

// Alert is one alert rule the drill watched or saw firing.
type Alert struct {
	Name     string  `json:"name"`
	Severity string  `json:"severity,omitempty"`
	Expected bool    `json:"expected,omitempty"` // the drill requires it to fire
	Quiet    bool    `json:"quiet,omitempty"`    // the drill requires it to stay quiet
	Page     bool    `json:"page,omitempty"`     // of the page severity
	Resolved bool    `json:"resolved"`           // not firing at the end
	TTD      Measure `json:"ttd"`                // onset → first poll that saw it firing
	Spans    []Span  `json:"spans"`              // periods seen firing
}

// Fired tells whether the alert was seen firing at all.
func (a Alert) Fired() bool { return len(a.Spans) > 0 }

// Span is one period an alert was seen firing, from the first poll that
// saw it to the last (or the end of the drill).
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Episode is one period of unhealthiness after an inject: from the
// fault's onset through impact (first unhealthy bucket) to restored.
type Episode struct {
	Fault       string     `json:"fault"`              // the inject the episode follows
	Onset       time.Time  `json:"onset"`              // the fault took effect
	OnsetSource string     `json:"onset_source"`       // "inject call", "docker events kill..die", ...
	Impact      time.Time  `json:"impact"`             // first unhealthy bucket
	Restored    *time.Time `json:"restored,omitempty"` // absent: never restored
	TTR         Measure    `json:"ttr"`                // restored − onset; invalid when not restored
	Duration    Measure    `json:"duration"`           // restored − impact
}

// Timeline holds the instants of a drill. Zero times are omitted: an event
// that did not happen (no impact, no alert) is absent.
type Timeline struct {
	LoadStarted    time.Time  `json:"load_started"`
	SteadyVerified time.Time  `json:"steady_verified"`
	FaultSent      time.Time  `json:"fault_sent"`
	FaultAcked     time.Time  `json:"fault_acked"`
	Onset          *time.Time `json:"onset,omitempty"` // first fault's onset, best estimate
	Impact         *time.Time `json:"impact,omitempty"`
	Detected       *time.Time `json:"detected,omitempty"`
	RecoveryStart  *time.Time `json:"recovery_start,omitempty"`
	RecoveryDone   *time.Time `json:"recovery_done,omitempty"`
	FaultReverted  *time.Time `json:"fault_reverted,omitempty"`
	Restored       *time.Time `json:"restored,omitempty"`
	CaughtUp       *time.Time `json:"caught_up,omitempty"`
	End            time.Time  `json:"end"`
}

// Measure is a duration with the interval known to contain the true value,
// [Lower, Upper] (asymmetric where it is), and Resolution, its ± short
// form: max(Value−Lower, Upper−Value). Valid is false when the measure does
// not apply (e.g. TTD with no detector). Files written before Lower and
// Upper existed hold both as 0: use Bounds, which falls back to
// Value ∓ Resolution.
type Measure struct {
	Valid      bool     `json:"valid"`
	Value      Duration `json:"value"`
	Resolution Duration `json:"resolution"`
	Lower      Duration `json:"lower"`
	Upper      Duration `json:"upper"`
	// Source is what located the measure: "requests", "probe lag_s",
	// "buckets", "detector polls".
	Source string `json:"source,omitempty"`
}

// Bounds returns the interval known to contain the true value. A measure
// without bounds (Lower and Upper both 0, as in files written before they
// existed) gives Value ∓ Resolution, clipped at 0.
func (m Measure) Bounds() (lo, hi Duration) {
	if !m.hasBounds() {
		return max(0, m.Value-m.Resolution), m.Value + m.Resolution
	}
	return m.Lower, m.Upper
}

// hasBounds tells whether Lower and Upper were recorded.
func (m Measure) hasBounds() bool { return m.Lower != 0 || m.Upper != 0 }

// Plusminus returns the ± short form of the bounds: Resolution when set,
// else max(Value−Lower, Upper−Value).
func (m Measure) Plusminus() Duration {
	if m.Resolution > 0 || !m.hasBounds() {
		return m.Resolution
	}
	return max(m.Value-m.Lower, m.Upper-m.Value)
}

// Measures are the derived figures of a drill.
type Measures struct {
	TTR     Measure `json:"ttr"`
	TTD     Measure `json:"ttd"`
	Impact  Measure `json:"impact"`
	Runbook Measure `json:"runbook"`
	CatchUp Measure `json:"catch_up"`
	// Reaction is detection → runbook start and Convergence runbook end →
	// restored, valid only when the runbook was started by detection:
	// TTR = TTD + Reaction + Runbook + Convergence.
	Reaction       Measure `json:"reaction"`
	Convergence    Measure `json:"convergence"`
	Requests       int64   `json:"requests"`
	FailedRequests int64   `json:"failed_requests"`
	LateStarts     int64   `json:"late_starts"`
}

// Integrity is the accounting of acknowledged writes.
type Integrity struct {
	Checked      bool     `json:"checked"`
	Acknowledged int64    `json:"acknowledged"`
	Landed       int64    `json:"landed"`
	Lost         int64    `json:"lost"`
	Duplicated   int64    `json:"duplicated"`
	LostSample   []string `json:"lost_sample,omitempty"` // first few lost ids
	// Late counts acknowledged writes visible downstream only after the
	// catch-up deadline (they are not lost); LateSample holds the first few.
	Late       int64    `json:"late"`
	LateSample []string `json:"late_sample,omitempty"`
	// Err is why the integrity check could not finish (the counts are then
	// partial).
	Err string `json:"error,omitempty"`
}

// Fault is one injected fault with its brackets.
type Fault struct {
	Name   string   `json:"name"`
	Inject Bracket  `json:"inject"`
	Revert *Bracket `json:"revert,omitempty"`
	Error  string   `json:"error,omitempty"`
	// Onset brackets when the fault took effect, where something better
	// than the inject call locates it (e.g. Docker events); OnsetSource
	// names that source.
	Onset       *Bracket `json:"onset,omitempty"`
	OnsetSource string   `json:"onset_source,omitempty"`
}

// Bracket is when a call was sent and acknowledged.
type Bracket struct {
	Sent  time.Time `json:"sent"`
	Acked time.Time `json:"acked"`
}

// Step is one recovery step as run.
type Step struct {
	Name       string    `json:"name"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Output     string    `json:"output,omitempty"`
	Error      string    `json:"error,omitempty"`
	Skipped    bool      `json:"skipped,omitempty"`
	SkipReason string    `json:"skip_reason,omitempty"`
}

// Series is one SLI sampled per bucket. Points are aligned with bucket
// starts: Start + i*Bucket. NaN-free: a bucket with no data has Present=false.
type Series struct {
	Name    string    `json:"name"` // e.g. "success_ratio", "p99_latency_ms", "lag_s"
	Unit    string    `json:"unit"` // "ratio", "ms", "s", ...
	Start   time.Time `json:"start"`
	Points  []Point   `json:"points"`
	Healthy []bool    `json:"healthy,omitempty"` // only on the steady-state series
}

// Point is one bucket's value.
type Point struct {
	Value   float64 `json:"v"`
	Present bool    `json:"p"`
}

// Verdict is one budget limit and whether it held.
type Verdict struct {
	Name    string `json:"name"`   // "ttr", "lost", ...
	Limit   string `json:"limit"`  // human form: "20s", "0"
	Actual  string `json:"actual"` // human form: "3.2s ± 0.15s"
	Passed  bool   `json:"passed"`
	Message string `json:"message,omitempty"`
}
