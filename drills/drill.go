package drills

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
	"github.com/firedrill/firedrill/reports"
)

// Defaults of a Drill.
const (
	DefaultHealthyRun    = 10
	DefaultBucket        = slo.DefaultBucket
	DefaultSteadyWithin  = 30 * time.Second
	DefaultImpactWithin  = 5 * time.Second
	DefaultRecoverWithin = time.Minute
	DefaultCatchUpWithin = time.Minute
	DefaultLostAfter     = 10 * time.Second
)

// Errors of Execute. Each is wrapped with the details.
var (
	// ErrInvalidDrill: the drill declaration is incomplete or inconsistent;
	// nothing was started.
	ErrInvalidDrill = errors.New("invalid drill")
	// ErrSteadyState: the steady state was not verified within
	// Limits.SteadyWithin; no fault was injected.
	ErrSteadyState = errors.New("steady state not verified")
	// ErrFault: a fault could not be injected or reverted as scheduled.
	ErrFault = errors.New("fault schedule failed")
	// ErrRevert: a fault could not be reverted when the drill ended; it may
	// still be in effect (the error names it and how to fix it).
	ErrRevert = errors.New("fault revert failed")
	// ErrDetectorNotQuiet: the detector fired before any fault was
	// injected, so it cannot time a detection.
	ErrDetectorNotQuiet = errors.New("detector not quiet in steady state")
)

// Integrity reads what landed downstream, for the data-integrity check:
// every id the system has made visible, repeated as often as it appears
// (a duplicate appears twice).
type Integrity interface {
	Landed(ctx context.Context) (ids []string, err error)
}

// LandedFunc adapts a function into an Integrity reader.
type LandedFunc func(ctx context.Context) ([]string, error)

// Landed implements Integrity.
func (f LandedFunc) Landed(ctx context.Context) ([]string, error) { return f(ctx) }

// Drill declares one recovery drill.
type Drill struct {
	Name     string
	Workload load.Workload
	// Steady is the steady-state objective; a bucket is healthy when it
	// holds (as judged by Rule).
	Steady slo.Objective
	// Rule turns Steady into a bucket's health; nil means slo.RequireData.
	Rule slo.Rule
	// Faults is the fault schedule; offsets count from the start of the
	// fault phase (right after steady state is verified).
	Faults faults.Schedule
	// Recovery is the runbook; empty for a self-healing system.
	Recovery recovery.Runbook
	// RecoverAt runs the runbook at this offset from the start of the fault
	// phase. When zero (or with RecoverOnImpact) the runbook runs as soon as
	// impact is seen.
	RecoverAt       time.Duration
	RecoverOnImpact bool
	// Alerts, when set, reads Alertmanager throughout the drill: the alerts
	// that must fire after onset (with TTD budgets), those that must stay
	// quiet, and the pages. Without Detect, the first of Alerts.Fire is the
	// detector.
	Alerts *Alerting
	// RecoverOnDetect starts the runbook when the detector fires, after
	// ReactionTime (an operator's, stated as such): TTR then decomposes into
	// TTD + reaction + runbook + convergence, each measured.
	RecoverOnDetect bool
	ReactionTime    time.Duration
	// Detect is the detector for TTD (e.g. "is a critical alert firing?"),
	// polled every DetectEvery (default: the bucket width) from load start.
	// It must be quiet from steady state to onset (else ErrDetectorNotQuiet)
	// and must fire after onset (else the "detected" verdict fails).
	// Without it TTD is not measured.
	Detect      func(ctx context.Context) (bool, error)
	DetectEvery time.Duration
	// Integrity, when set, is checked after the faults are reverted:
	// lost, late and duplicated acknowledged writes, and time until caught
	// up. The workload must acknowledge writes (load.Outcome.AckID): a
	// drill that acknowledged none fails the "acknowledged" verdict.
	Integrity Integrity
	// IntegrityEvery is how often Integrity is polled (default 250ms).
	IntegrityEvery time.Duration
	Budget         Budget
	// ExpectNoImpact declares that the faults should not break the steady
	// state (a degradation the system absorbs, such as a slow dependency
	// it buffers for). Without it, an inject after which the steady state
	// never broke fails the "impact" verdict: the fault missed its target.
	ExpectNoImpact bool
	// HealthyRun is K, the run of healthy buckets that verifies steady
	// state and restoration (default 10).
	HealthyRun int
	// Bucket is the bucket width (default 100ms).
	Bucket time.Duration
	Limits Limits
	// Logf, when set, receives progress lines (Run sets it to t.Logf).
	Logf func(format string, args ...any)
	// Progress, when set, shows the live phase, elapsed time and current
	// SLIs. Run sets it to stderr when stderr is a terminal or go test -v
	// was given (FIREDRILL_PROGRESS=0 turns it off, =1 on).
	Progress *reports.Progress
}

// Limits bound each phase of a drill.
type Limits struct {
	// SteadyWithin bounds the warm-up (default 30s).
	SteadyWithin time.Duration
	// ImpactWithin is how long after the last scheduled fault action the
	// engine waits for an impact before concluding there is none (default 5s).
	ImpactWithin time.Duration
	// RecoverWithin bounds restoration, from onset (default 1m). A drill not
	// restored by then fails.
	RecoverWithin time.Duration
	// CatchUpWithin bounds the wait for acknowledged data to be visible,
	// from the end of the load (default 1m). A write visible only after it
	// is late.
	CatchUpWithin time.Duration
	// LostAfter is how much longer the integrity reader is read after the
	// catch-up deadline before a write still missing counts as lost
	// (default 10s).
	LostAfter time.Duration
}

func (d Drill) withDefaults() Drill {
	if d.HealthyRun == 0 {
		d.HealthyRun = DefaultHealthyRun
	}
	if d.Bucket == 0 {
		d.Bucket = DefaultBucket
	}
	if d.Rule == nil {
		d.Rule = slo.RequireData
	}
	if d.Alerts != nil {
		a := *d.Alerts
		a.withDefaults()
		d.Alerts = &a
		if d.Detect == nil && len(a.Fire) > 0 {
			d.Detect = AlertFiring(a.Alertmanager, a.Fire[0].Name)
			if d.DetectEvery == 0 {
				d.DetectEvery = a.PollEvery
			}
		}
	}
	if d.DetectEvery == 0 {
		d.DetectEvery = d.Bucket
	}
	if d.IntegrityEvery == 0 {
		d.IntegrityEvery = 250 * time.Millisecond
	}
	if d.Limits.SteadyWithin == 0 {
		d.Limits.SteadyWithin = DefaultSteadyWithin
	}
	if d.Limits.ImpactWithin == 0 {
		d.Limits.ImpactWithin = DefaultImpactWithin
	}
	if d.Limits.RecoverWithin == 0 {
		d.Limits.RecoverWithin = DefaultRecoverWithin
	}
	if d.Limits.CatchUpWithin == 0 {
		d.Limits.CatchUpWithin = DefaultCatchUpWithin
	}
	if d.Limits.LostAfter == 0 {
		d.Limits.LostAfter = DefaultLostAfter
	}
	if !d.Recovery.Empty() && d.RecoverAt == 0 && !d.RecoverOnDetect {
		d.RecoverOnImpact = true
	}
	return d
}

// Validate checks the declaration before anything starts: every problem
// is reported, each saying what to fix.
func (d Drill) Validate() error {
	var errs []error
	for _, check := range []func() []error{d.validateParts, d.validateSteady, d.validateNumbers, d.validateBudget} {
		errs = append(errs, check()...)
	}
	if err := errors.Join(errs...); err != nil {
		name := d.Name
		if name == "" {
			name = "(unnamed)"
		}
		return fmt.Errorf("%w %s: %w", ErrInvalidDrill, name, err)
	}
	return nil
}

// validateParts checks the name, workload, schedule and runbook.
func (d Drill) validateParts() []error {
	var errs []error
	if d.Name == "" {
		errs = append(errs, errors.New("drill has no name"))
	}
	if err := d.Workload.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("workload: %w", err))
	}
	if d.Faults == nil {
		errs = append(errs, errors.New("drill has no fault schedule"))
	} else if err := faults.Validate(d.Faults); err != nil {
		errs = append(errs, err)
	}
	if err := d.Recovery.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// validateSteady checks the steady state and its probes.
func (d Drill) validateSteady() []error {
	if d.Steady == nil {
		return []error{errors.New("drill has no steady-state objective")}
	}
	var errs []error
	if !slo.CountsFailures(d.Steady) {
		errs = append(errs, fmt.Errorf("steady state %q has no success-ratio term: failed requests would count as healthy; add slo.SuccessRatio(...) to it", d.Steady.Name()))
	}
	for _, p := range slo.ProbesOf(d.Steady) {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateNumbers checks that no width, cadence, offset or limit is negative.
func (d Drill) validateNumbers() []error {
	var errs []error
	if d.HealthyRun < 0 || d.Bucket < 0 || d.RecoverAt < 0 || d.DetectEvery < 0 || d.IntegrityEvery < 0 {
		errs = append(errs, errors.New("negative healthy run, bucket width, recovery offset or cadence"))
	}
	l := d.Limits
	if l.SteadyWithin < 0 || l.ImpactWithin < 0 || l.RecoverWithin < 0 || l.CatchUpWithin < 0 || l.LostAfter < 0 {
		errs = append(errs, errors.New("negative limit"))
	}
	return errs
}

// validateBudget checks the budget and that what it limits is measured.
func (d Drill) validateBudget() []error {
	var errs []error
	if err := d.Budget.validate(); err != nil {
		errs = append(errs, err)
	}
	if d.Budget.TTD > 0 && d.Detect == nil {
		errs = append(errs, errors.New("budget has a TTD limit but the drill has no detector (Detect)"))
	}
	if d.ExpectNoImpact && (d.Budget.TTR > 0 || d.Budget.Impact > 0) {
		errs = append(errs, errors.New("drill expects no impact but has a TTR or impact budget: keep one of them"))
	}
	if d.Budget.CatchUp > 0 && d.Integrity == nil {
		errs = append(errs, errors.New("budget has a catch-up limit but the drill has no integrity reader"))
	}
	return append(errs, d.validateDetection()...)
}

// validateDetection checks the alerts and detection-triggered recovery.
func (d Drill) validateDetection() []error {
	errs := d.Alerts.validate()
	if d.RecoverOnDetect {
		hasFire := d.Alerts != nil && len(d.Alerts.Fire) > 0
		switch {
		case d.Detect == nil && !hasFire:
			errs = append(errs, errors.New("RecoverOnDetect needs a detector: set Detect, or Alerts with an alert to fire"))
		case d.RecoverAt > 0 || d.RecoverOnImpact:
			errs = append(errs, errors.New("RecoverOnDetect with RecoverAt or RecoverOnImpact: choose one trigger for the runbook"))
		case d.Recovery.Empty():
			errs = append(errs, errors.New("RecoverOnDetect without a runbook (Recovery)"))
		}
	}
	if d.ReactionTime < 0 {
		errs = append(errs, errors.New("negative reaction time"))
	}
	if d.ReactionTime > 0 && !d.RecoverOnDetect {
		errs = append(errs, errors.New("ReactionTime is the delay between detection and the runbook: it needs RecoverOnDetect"))
	}
	return errs
}

// DetectWhen builds a Drill.Detect from a probe: the detector fires when
// fired(value) is true, e.g. an alert gauge read from the system's metrics:
//
//	Detect: drills.DetectWhen(alerts, func(v float64) bool { return v > 0 })
func DetectWhen(p slo.Probe, fired func(v float64) bool) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		v, err := p.Read(ctx)
		if err != nil {
			return false, fmt.Errorf("read detector probe %s: %w", p.Name, err)
		}
		return fired(v), nil
	}
}
