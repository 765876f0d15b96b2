package load

import (
	"fmt"
	"math"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Pacer schedules requests: vegeta's Pacer, so vegeta's ConstantPacer,
// LinearPacer and SinePacer work as they are. Pace is asked with the
// *scheduled* time of the previous request, never the wall clock, so the
// schedule is the same however late the generator runs.
type Pacer = vegeta.Pacer

// Constant paces rate requests per second; zero or less schedules nothing.
func Constant(rate int) Pacer {
	if rate <= 0 {
		return idle{}
	}
	return vegeta.ConstantPacer{Freq: rate, Per: time.Second}
}

// Ramp paces from `from` requests per second, rising (or falling) linearly
// to `to` over the given duration, and holding `to` afterwards.
func Ramp(from, to int, over time.Duration) Pacer {
	if over <= 0 {
		return Constant(to)
	}
	return Steps(
		Step{Pacer: vegeta.LinearPacer{
			StartAt: vegeta.ConstantPacer{Freq: from, Per: time.Second},
			Slope:   float64(to-from) / over.Seconds(),
		}, For: over},
		Step{Pacer: Constant(to)},
	)
}

// Sine paces a sine wave around mean requests per second with the given
// amplitude (less than mean) and period, starting at the mean and rising.
func Sine(mean, amp int, period time.Duration) Pacer {
	return vegeta.SinePacer{
		Period: period,
		Mean:   vegeta.ConstantPacer{Freq: mean, Per: time.Second},
		Amp:    vegeta.ConstantPacer{Freq: amp, Per: time.Second},
	}
}

// Step is one stage of a Steps pacer: Pacer for For (zero For: forever, only
// for the last step).
type Step struct {
	Pacer Pacer
	For   time.Duration
}

// Rate is a Step at a constant rate, for Steps(load.Rate(100, 10*time.Second), ...).
// A rate of zero is a pause.
func Rate(rate int, d time.Duration) Step {
	return Step{Pacer: Constant(rate), For: d}
}

// idle schedules nothing.
type idle struct{}

func (idle) Pace(time.Duration, uint64) (time.Duration, bool) {
	return time.Duration(math.MaxInt64 / 2), false
}
func (idle) Rate(time.Duration) float64 { return 0 }
func (idle) String() string             { return "Idle" }

// StepsPacer runs a sequence of pacers one after the other; each sees time
// and hits counted from the start of its own step. After the last bounded
// step it stops.
type StepsPacer struct {
	steps   []Step
	starts  []time.Duration // start offset of each step
	base    []uint64        // hits scheduled before each step
	entered []bool
}

var _ Pacer = (*StepsPacer)(nil)

// Steps returns a pacer that runs each step in turn. Typical use:
//
//	load.Steps(load.Rate(100, 10*time.Second), load.Rate(500, 10*time.Second))
func Steps(steps ...Step) *StepsPacer {
	p := &StepsPacer{
		steps:   steps,
		starts:  make([]time.Duration, len(steps)),
		base:    make([]uint64, len(steps)),
		entered: make([]bool, len(steps)),
	}
	var at time.Duration
	for i, s := range steps {
		p.starts[i] = at
		at += s.For
	}
	return p
}

// stepAt returns the step in effect at elapsed, or -1 after the last.
func (p *StepsPacer) stepAt(elapsed time.Duration) int {
	for i, s := range p.steps {
		if s.For <= 0 || elapsed < p.starts[i]+s.For {
			return i
		}
	}
	return -1
}

// Pace implements Pacer. It must be called with non-decreasing elapsed
// values, as the load generator does.
func (p *StepsPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	i := p.stepAt(elapsed)
	if i < 0 {
		return 0, true
	}
	for ; i < len(p.steps); i++ {
		s := p.steps[i]
		if !p.entered[i] {
			p.entered[i], p.base[i] = true, hits
		}
		local := max(elapsed-p.starts[i], 0)
		wait, stop := s.Pacer.Pace(local, hits-p.base[i])
		next := p.starts[i] + local + max(wait, 0)
		if !stop && (s.For <= 0 || next < p.starts[i]+s.For) {
			return next - elapsed, false
		}
		if s.For <= 0 {
			return 0, true
		}
		// The next hit falls after this step: ask the next step.
	}
	return 0, true
}

// Rate implements Pacer.
func (p *StepsPacer) Rate(elapsed time.Duration) float64 {
	i := p.stepAt(elapsed)
	if i < 0 {
		return 0
	}
	return p.steps[i].Pacer.Rate(elapsed - p.starts[i])
}

// String describes the steps.
func (p *StepsPacer) String() string {
	parts := make([]string, len(p.steps))
	for i, s := range p.steps {
		parts[i] = fmt.Sprintf("%v for %s", s.Pacer, s.For)
	}
	return "Steps{" + strings.Join(parts, ", ") + "}"
}

// Reset lets a StepsPacer be reused by another run.
func (p *StepsPacer) Reset() {
	clear(p.base)
	clear(p.entered)
}

// resetter is implemented by pacers with state.
type resetter interface{ Reset() }
