package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Writer renders a run in one format.
type Writer func(io.Writer, Run) error

// Writers by format name, as the CLI's --format flag spells them.
var Writers = map[string]Writer{
	"json":  JSON,
	"md":    Markdown,
	"junit": JUnit,
	"html":  HTML,
}

// JSON writes the run as indented JSON in the versioned schema. A run with
// an empty Schema gets the current SchemaVersion.
func JSON(w io.Writer, run Run) error {
	if run.Schema == "" {
		run.Schema = SchemaVersion
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(run); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// WriteFile renders run with w into path atomically (see WriteAtomic).
func WriteFile(path string, w Writer, run Run) error {
	return WriteAtomic(path, func(out io.Writer) error { return w(out, run) })
}

// WriteAtomic writes path atomically: write fills a temporary file in the
// same directory, which is synced and then renamed over path, so a killed
// process leaves either the old file or the new one, never half of one.
// On error the temporary file is removed and path is untouched.
func WriteAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err = write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Make the rename durable too; not every platform can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Merge combines runs into one, for reports over several files (e.g. one
// file per `go test -count` repetition). Meta comes from the earliest run,
// with Started the earliest start and Finished the latest finish. Drills
// keep their order; Sample is renumbered 0, 1, 2 ... per drill name in that
// order, so repeated samples from different files stay distinct.
func Merge(runs ...Run) Run {
	out := Run{Schema: SchemaVersion}
	if len(runs) == 0 {
		return out
	}
	sorted := append([]Run(nil), runs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Meta.Started.Before(sorted[j].Meta.Started) })
	out.Meta = sorted[0].Meta
	next := map[string]int{}
	for _, r := range sorted {
		if !r.Meta.Started.IsZero() && (out.Meta.Started.IsZero() || r.Meta.Started.Before(out.Meta.Started)) {
			out.Meta.Started = r.Meta.Started
		}
		if r.Meta.Finished.After(out.Meta.Finished) {
			out.Meta.Finished = r.Meta.Finished
		}
		for _, d := range r.Drills {
			d.Sample = next[d.Name]
			next[d.Name]++
			out.Drills = append(out.Drills, d)
		}
	}
	return out
}

// DrillNames returns the distinct drill names of runs in first-seen order.
func DrillNames(runs ...Run) []string {
	seen := map[string]bool{}
	var names []string
	for _, r := range runs {
		for _, d := range r.Drills {
			if !seen[d.Name] {
				seen[d.Name] = true
				names = append(names, d.Name)
			}
		}
	}
	return names
}

// Label is how a drill sample is named in tables: the name, with "#n"
// (1-based) when the drill has more than one sample in the run.
func (r Run) Label(i int) string {
	d := r.Drills[i]
	n := 0
	for _, o := range r.Drills {
		if o.Name == d.Name {
			n++
		}
	}
	if n > 1 {
		return fmt.Sprintf("%s #%d", d.Name, d.Sample+1)
	}
	return d.Name
}

// Duration returns how long the drill ran, from load start to end.
func (d Drill) Duration() time.Duration {
	if d.Timeline.LoadStarted.IsZero() || d.Timeline.End.IsZero() {
		return 0
	}
	return d.Timeline.End.Sub(d.Timeline.LoadStarted)
}

// Failed returns the budget verdicts that did not hold.
func (d Drill) Failed() []Verdict {
	var out []Verdict
	for _, v := range d.Budgets {
		if !v.Passed {
			out = append(out, v)
		}
	}
	return out
}

// Outcome is the one-word outcome of a drill sample: "pass", "fail" (a
// budget missed, the system not restored, a fault not reverted, or the go
// test failed after the drill was judged) or "error" (the drill could not
// be evaluated).
func (d Drill) Outcome() string {
	switch {
	case d.Error != "":
		return "error"
	case d.FailReason() != "":
		return "fail"
	default:
		return "pass"
	}
}

// Reasons a drill sample that could be evaluated failed, as FailReason
// returns them.
const (
	ReasonTestFailed   = "test failed"   // the go test failed after the drill was judged
	ReasonRevertFailed = "revert failed" // a fault could not be reverted
	ReasonNotRestored  = "not restored"  // the steady state did not return after the last action
	ReasonBudget       = "budget missed" // a budget was missed
	ReasonFailed       = "did not pass"  // Passed is false for no recorded reason
)

// FailReason says why a drill sample failed, the first that applies of
// ReasonTestFailed, ReasonRevertFailed, ReasonNotRestored, ReasonBudget
// and ReasonFailed; "" when it passed or could not be evaluated (Error).
func (d Drill) FailReason() string {
	switch {
	case d.Error != "":
		return ""
	case d.TestFailed:
		return ReasonTestFailed
	case len(d.RevertFailed) > 0:
		return ReasonRevertFailed
	case !d.Restored:
		return ReasonNotRestored
	case len(d.Failed()) > 0:
		return ReasonBudget
	case !d.Passed:
		return ReasonFailed
	default:
		return ""
	}
}

// verdictWord is the outcome as tables print it: "pass", "error", or the
// reason of a failure.
func (d Drill) verdictWord() string {
	if r := d.FailReason(); r != "" {
		return r
	}
	return d.Outcome()
}

// FormatMeasure renders a measure as "3.2s ± 150ms", or "–" when not valid.
// The ± is Measure.Plusminus.
func FormatMeasure(m Measure, withRes bool) string {
	if !m.Valid {
		return "–"
	}
	s := FormatDuration(m.Value.D())
	if pm := m.Plusminus(); withRes && pm > 0 {
		s += " ± " + FormatDuration(pm.D())
	}
	return s
}

// FormatBounds renders the interval of a measure (Measure.Bounds) as
// "[2.047s, 2.053s]", to the millisecond, or "–" when not valid.
func FormatBounds(m Measure) string {
	if !m.Valid {
		return "–"
	}
	lo, hi := m.Bounds()
	return "[" + formatPrecise(lo.D()) + ", " + formatPrecise(hi.D()) + "]"
}

// formatPrecise is FormatDuration to the millisecond (microsecond below 1 ms).
func formatPrecise(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond && d > -time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second && d > -time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	case d < time.Minute && d > -time.Minute:
		return fmt.Sprintf("%.3fs", d.Seconds())
	default:
		return d.Round(time.Millisecond).String()
	}
}

// FormatDuration rounds d for humans: ms below 1 s, two decimals of seconds
// below a minute, then whole seconds.
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second && d > -time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	case d < time.Minute && d > -time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}
