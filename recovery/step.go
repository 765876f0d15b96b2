// Package recovery models a system's own recovery tooling as runbook steps:
// a command on the host, a command executed in a container, an HTTP call or
// a Go function. Each step has a timeout and is timed; its output is kept.
package recovery

import (
	"context"
	"time"
)

// Step is one runbook step.
type Step interface {
	// Name is how the step appears in timelines and reports.
	Name() string
	// Run executes the step and returns its combined output.
	Run(ctx context.Context) (output string, err error)
}

// Result is what one step did.
type Result struct {
	Name       string        `json:"name"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	Duration   time.Duration `json:"duration"`
	Output     string        `json:"output,omitempty"`
	Err        string        `json:"error,omitempty"`
	Skipped    bool          `json:"skipped,omitempty"`
	SkipReason string        `json:"skip_reason,omitempty"`
}
