package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// DefaultTimeout bounds a step that sets no timeout of its own.
const DefaultTimeout = 2 * time.Minute

// maxOutput is how much of a step's output is kept (its tail).
const maxOutput = 64 << 10

// Action is a runbook step built by Command, Exec, HTTP or Func. It
// satisfies Step; WithTimeout and WithName return adjusted copies.
type Action struct {
	name    string
	timeout time.Duration
	run     func(ctx context.Context) (string, error)
}

var _ Step = (*Action)(nil)

// Name implements Step.
func (a *Action) Name() string { return a.name }

// Timeout is the step's bound (DefaultTimeout unless set).
func (a *Action) Timeout() time.Duration {
	if a.timeout > 0 {
		return a.timeout
	}
	return DefaultTimeout
}

// Run implements Step: it runs the action within its timeout.
func (a *Action) Run(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.Timeout())
	defer cancel()
	out, err := a.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", a.Timeout(), err)
	}
	return out, err
}

// WithTimeout returns a copy of the step bounded by d.
func (a *Action) WithTimeout(d time.Duration) *Action {
	c := *a
	c.timeout = d
	return &c
}

// WithName returns a copy of the step under another name.
func (a *Action) WithName(name string) *Action {
	c := *a
	c.name = name
	return &c
}

// Command runs a program on the host (no shell) and fails on a non-zero
// exit; its combined output is kept.
func Command(name string, args ...string) *Action {
	return &Action{
		name: strings.Join(append([]string{name}, args...), " "),
		run: func(ctx context.Context) (string, error) {
			cmd := exec.CommandContext(ctx, name, args...)
			cmd.WaitDelay = time.Second
			var buf tailBuffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			err := cmd.Run()
			if err != nil {
				return buf.String(), fmt.Errorf("run %s: %w", name, err)
			}
			return buf.String(), nil
		},
	}
}

// Execer runs a command inside a container; *scenarios.Container satisfies
// it.
type Execer interface {
	Exec(ctx context.Context, cmd []string) (exitCode int, output string, err error)
}

// Exec runs cmd inside a container and fails on a non-zero exit code.
func Exec(c Execer, cmd ...string) *Action {
	return &Action{
		name: "exec " + strings.Join(cmd, " "),
		run: func(ctx context.Context) (string, error) {
			if c == nil {
				return "", errors.New("exec: no container")
			}
			code, out, err := c.Exec(ctx, cmd)
			out = tail(out)
			if err != nil {
				return out, fmt.Errorf("exec %s: %w", strings.Join(cmd, " "), err)
			}
			if code != 0 {
				return out, fmt.Errorf("exec %s: exit code %d", strings.Join(cmd, " "), code)
			}
			return out, nil
		},
	}
}

// HTTP makes an HTTP call and fails unless the status is 2xx. body may be
// empty. The output is the status line and the response body.
func HTTP(method, url, body string) *Action {
	return &Action{
		name: method + " " + url,
		run: func(ctx context.Context) (string, error) {
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, err := http.NewRequestWithContext(ctx, method, url, rd)
			if err != nil {
				return "", fmt.Errorf("build request %s %s: %w", method, url, err)
			}
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return "", fmt.Errorf("%s %s: %w", method, url, err)
			}
			defer resp.Body.Close()
			var buf tailBuffer
			_, rerr := io.Copy(&buf, resp.Body)
			out := resp.Status + "\n" + buf.String()
			if resp.StatusCode/100 != 2 {
				return out, fmt.Errorf("%s %s: status %s", method, url, resp.Status)
			}
			if rerr != nil {
				return out, fmt.Errorf("%s %s: read body: %w", method, url, rerr)
			}
			return out, nil
		},
	}
}

// Func runs a Go function as a step.
func Func(name string, fn func(ctx context.Context) (string, error)) *Action {
	return &Action{
		name: name,
		run: func(ctx context.Context) (out string, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("step panicked: %v", r)
				}
			}()
			out, err = fn(ctx)
			return tail(out), err
		},
	}
}

// Runbook is an ordered list of steps.
type Runbook struct {
	steps []Step
}

// Steps returns a runbook of the given steps, run in order.
func Steps(steps ...Step) Runbook { return Runbook{steps: steps} }

// Len is the number of steps.
func (r Runbook) Len() int { return len(r.steps) }

// Empty reports whether the runbook has no step (a self-healing system).
func (r Runbook) Empty() bool { return len(r.steps) == 0 }

// Names lists the step names.
func (r Runbook) Names() []string {
	names := make([]string, len(r.steps))
	for i, s := range r.steps {
		names[i] = s.Name()
	}
	return names
}

// Validate checks the runbook before a drill starts.
func (r Runbook) Validate() error {
	for i, s := range r.steps {
		if s == nil {
			return fmt.Errorf("runbook step %d is nil", i+1)
		}
	}
	return nil
}

// Run runs the steps in order, timing each. onStep (may be nil) is called
// with each result as soon as it is known, skipped steps included. Run
// stops at the first failure (or when ctx is done) and marks the remaining
// steps skipped with the reason; the error names the failing step and
// carries the end of its output.
func (r Runbook) Run(ctx context.Context, onStep func(Result)) ([]Result, error) {
	results := make([]Result, 0, len(r.steps))
	emit := func(res Result) {
		results = append(results, res)
		if onStep != nil {
			onStep(res)
		}
	}
	var failure error
	for i, s := range r.steps {
		if failure != nil {
			now := time.Now()
			emit(Result{Name: s.Name(), Start: now, End: now, Skipped: true,
				SkipReason: fmt.Sprintf("skipped: %v", skipCause(failure))})
			continue
		}
		if err := ctx.Err(); err != nil {
			failure = fmt.Errorf("runbook stopped before step %d (%s): %w", i+1, s.Name(), err)
			now := time.Now()
			emit(Result{Name: s.Name(), Start: now, End: now, Skipped: true,
				SkipReason: fmt.Sprintf("skipped: runbook cancelled: %v", err)})
			continue
		}
		start := time.Now()
		out, err := s.Run(ctx)
		end := time.Now()
		res := Result{Name: s.Name(), Start: start, End: end, Duration: end.Sub(start), Output: tail(out)}
		if err != nil {
			res.Err = err.Error()
			failure = &StepError{Step: s.Name(), Index: i, Output: res.Output, Err: err}
		}
		emit(res)
	}
	return results, failure
}

func skipCause(err error) string {
	var se *StepError
	if errors.As(err, &se) {
		return fmt.Sprintf("step %d (%s) failed", se.Index+1, se.Step)
	}
	return err.Error()
}

// StepError is the error of a failed step.
type StepError struct {
	Step   string
	Index  int // 0-based
	Output string
	Err    error
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("recovery step %d (%s): %v", e.Index+1, e.Step, e.Err)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += "\noutput:\n" + indent(lastLines(out, 20), "  ")
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// Duration is the time from the first step's start to the last run step's
// end (zero when nothing ran).
func Duration(results []Result) time.Duration {
	var first, last time.Time
	for _, r := range results {
		if r.Skipped {
			continue
		}
		if first.IsZero() {
			first = r.Start
		}
		last = r.End
	}
	return last.Sub(first)
}

// tailBuffer keeps the last maxOutput bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2*maxOutput {
		t.b = append(t.b[:0], t.b[len(t.b)-maxOutput:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return tail(string(t.b)) }

func tail(s string) string {
	if len(s) <= maxOutput {
		return s
	}
	return "…" + s[len(s)-maxOutput:]
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}
