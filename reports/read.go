package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// Errors that Read and ReadPaths wrap, for errors.Is.
var (
	// ErrMalformed means the file is not valid JSON or does not match the schema.
	ErrMalformed = errors.New("malformed report")
	// ErrSchema means the file declares no schema version, or one this build cannot read.
	ErrSchema = errors.New("unsupported schema version")
	// ErrNoRuns means a directory holds no run files.
	ErrNoRuns = errors.New("no run files")
)

// FileError is an error about one report file. Its message names the file.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// errNotExist is a missing file; errors.Is(err, fs.ErrNotExist) holds.
type errNotExist struct{}

func (errNotExist) Error() string        { return "no such file or directory" }
func (errNotExist) Is(target error) bool { return target == fs.ErrNotExist }

// Read reads and validates one run file. Errors name the file and the
// problem: a missing file (wraps fs.ErrNotExist), malformed JSON with its
// line and column (wraps ErrMalformed), a missing or unknown schema version
// (wraps ErrSchema), or a field that breaks the schema's rules.
func Read(path string) (Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Run{}, &FileError{Path: path, Err: errNotExist{}}
		}
		return Run{}, &FileError{Path: path, Err: err}
	}
	run, err := Decode(b)
	if err != nil {
		return Run{}, &FileError{Path: path, Err: err}
	}
	return run, nil
}

// Decode parses and validates a run from JSON. Fields added within v1
// are optional: a drill without "restored" (a file written before it
// existed) is read as restored when its timeline has a restored instant,
// or when it had no impact and no error; a measure without "lower" and
// "upper" reads them as 0, which Measure.Bounds takes as Value ∓ Resolution.
func Decode(b []byte) (Run, error) {
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Run{}, jsonError(b, err)
	}
	switch {
	case head.Schema == nil:
		return Run{}, fmt.Errorf("%w: no \"schema\" field (is this a firedrill run file?); want %q", ErrSchema, SchemaVersion)
	case *head.Schema != SchemaVersion:
		return Run{}, fmt.Errorf("%w %q: this firedrill reads %q", ErrSchema, *head.Schema, SchemaVersion)
	}
	var run Run
	if err := json.Unmarshal(b, &run); err != nil {
		return Run{}, jsonError(b, err)
	}
	if err := fillLegacy(b, &run); err != nil {
		return Run{}, err
	}
	if err := run.Validate(); err != nil {
		return Run{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return run, nil
}

// fillLegacy sets what files written before a field existed imply: a
// drill without "restored" was restored when its timeline says so, or when
// the fault had no impact and the drill could be evaluated.
func fillLegacy(b []byte, run *Run) error {
	var presence struct {
		Drills []struct {
			Restored *json.RawMessage `json:"restored"`
		} `json:"drills"`
	}
	if err := json.Unmarshal(b, &presence); err != nil {
		return jsonError(b, err)
	}
	for i := range run.Drills {
		if i < len(presence.Drills) && presence.Drills[i].Restored == nil {
			d := &run.Drills[i]
			d.Restored = d.Timeline.Restored != nil || (d.Timeline.Impact == nil && d.Error == "")
		}
	}
	return nil
}

// Validate checks the rules of the schema that JSON types cannot express.
func (r Run) Validate() error {
	if r.Schema != SchemaVersion {
		return fmt.Errorf("schema %q, want %q", r.Schema, SchemaVersion)
	}
	for i, d := range r.Drills {
		if err := d.validate(); err != nil {
			if strings.TrimSpace(d.Name) == "" {
				return fmt.Errorf("drills[%d]: %w", i, err)
			}
			return fmt.Errorf("drills[%d] (%s): %w", i, d.Name, err)
		}
	}
	return nil
}

func (d Drill) validate() error {
	switch {
	case strings.TrimSpace(d.Name) == "":
		return errors.New("empty name")
	case d.Sample < 0:
		return fmt.Errorf("negative sample %d", d.Sample)
	case d.Bucket < 0:
		return errors.New("negative bucket")
	case d.Passed && d.TestFailed:
		return errors.New("passed is true but test_failed is set: a failed test never passes")
	case d.Integrity.Late < 0:
		return errors.New("integrity.late: negative count")
	}
	for _, m := range []struct {
		name string
		m    Measure
	}{{"ttr", d.Measures.TTR}, {"ttd", d.Measures.TTD}, {"impact", d.Measures.Impact}, {"runbook", d.Measures.Runbook}, {"catch_up", d.Measures.CatchUp},
		{"reaction", d.Measures.Reaction}, {"convergence", d.Measures.Convergence}} {
		if err := m.m.validate(); err != nil {
			return fmt.Errorf("measures.%s: %w", m.name, err)
		}
	}
	for j, e := range d.Episodes {
		if err := e.validate(); err != nil {
			return fmt.Errorf("episodes[%d] (%s): %w", j, e.Fault, err)
		}
	}
	for j, s := range d.Series {
		if len(s.Healthy) != 0 && len(s.Healthy) != len(s.Points) {
			return fmt.Errorf("series[%d] (%s): %d healthy flags for %d points", j, s.Name, len(s.Healthy), len(s.Points))
		}
	}
	if d.BudgetTTR < 0 {
		return errors.New("budget_ttr: negative duration")
	}
	if d.Alerts != nil {
		if err := d.Alerts.validate(); err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
	}
	return nil
}

func (a Alerts) validate() error {
	switch {
	case a.Pages < 0 || a.NonCritical < 0:
		return errors.New("negative count")
	case a.ScrapeInterval < 0 || a.EvalInterval < 0 || a.PollEvery < 0:
		return errors.New("negative interval")
	}
	for j, al := range a.Alerts {
		if err := al.validate(); err != nil {
			if strings.TrimSpace(al.Name) == "" {
				return fmt.Errorf("alerts[%d]: %w", j, err)
			}
			return fmt.Errorf("alerts[%d] (%s): %w", j, al.Name, err)
		}
	}
	return nil
}

func (a Alert) validate() error {
	switch {
	case strings.TrimSpace(a.Name) == "":
		return errors.New("empty name")
	case a.Expected && a.Quiet:
		return errors.New("both expected and quiet")
	}
	for k, s := range a.Spans {
		if s.To.Before(s.From) {
			return fmt.Errorf("spans[%d]: to before from", k)
		}
	}
	if err := a.TTD.validate(); err != nil {
		return fmt.Errorf("ttd: %w", err)
	}
	return nil
}

func (m Measure) validate() error {
	if m.Value < 0 || m.Resolution < 0 || m.Lower < 0 || m.Upper < 0 {
		return errors.New("negative duration")
	}
	if m.Valid && m.hasBounds() && (m.Lower > m.Value || m.Value > m.Upper) {
		return fmt.Errorf("value %s outside its bounds [%s, %s]", m.Value, m.Lower, m.Upper)
	}
	return nil
}

func (e Episode) validate() error {
	switch {
	case e.Restored == nil && e.TTR.Valid:
		return errors.New("ttr is valid but the episode has no restored instant")
	case e.Restored != nil && !e.Impact.IsZero() && e.Restored.Before(e.Impact):
		return errors.New("restored before impact")
	}
	if err := e.TTR.validate(); err != nil {
		return fmt.Errorf("ttr: %w", err)
	}
	if err := e.Duration.validate(); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	return nil
}

// jsonError turns a json error into one that says where in the file it is.
func jsonError(b []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset is just past the offending byte.
		pos := max(syn.Offset-1, 0)
		line, col := lineCol(b, pos)
		return fmt.Errorf("%w: invalid JSON at line %d, column %d (offset %d): %w", ErrMalformed, line, col, pos, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		want := typ.Type.String()
		if typ.Type == reflect.TypeFor[Duration]() {
			want = "a number of seconds"
		}
		if typ.Offset == 0 {
			return fmt.Errorf("%w: field %s: cannot use JSON %s as %s", ErrMalformed, field, typ.Value, want)
		}
		// Offset is just past the offending value.
		line, col := lineCol(b, typ.Offset)
		return fmt.Errorf("%w: field %s, value ending at line %d, column %d (offset %d): cannot use JSON %s as %s", ErrMalformed, field, line, col, typ.Offset, typ.Value, want)
	default:
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
}

// lineCol converts a byte offset to a 1-based line and column.
func lineCol(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	if off < 0 {
		off = 0
	}
	pre := b[:off]
	line = bytes.Count(pre, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(pre, '\n') + 1) + 1
	return line, col
}

// ReadPaths reads run files. Each path is a file or a directory; a
// directory contributes every *.json file directly inside it, in name
// order, and must hold at least one. The first error stops the read.
func ReadPaths(paths ...string) ([]Run, error) {
	var runs []Run
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			r, err := Read(f)
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// expand lists the run files a path stands for.
func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &FileError{Path: p, Err: errNotExist{}}
		}
		return nil, &FileError{Path: p, Err: err}
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, &FileError{Path: p, Err: err}
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, &FileError{Path: p, Err: fmt.Errorf("%w (*.json) in directory", ErrNoRuns)}
	}
	return files, nil
}
