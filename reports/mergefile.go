package reports

import (
	"errors"
	"fmt"
	"io/fs"
)

// MergeFile adds run's drills to the run file at path and returns the
// merged run, so that several test processes (one per package under
// `go test ./...`) writing one report directory keep all their runs.
//
// It holds an exclusive lock on path + ".lock" (created if need be, and
// left in place: removing it would let two writers lock different files)
// while it reads the existing file, if any, with Read's rules, appends
// run's drills after its own, and writes the result atomically (see
// WriteFile). Sample is renumbered so that each drill name counts 0..N-1
// across both. The merged Meta is the existing file's (its RunID is kept
// even when run's differs) with the earliest Started and the latest
// Finished; a new file takes run's Meta.
//
// An existing file that cannot be read (malformed, unknown schema) is an
// error naming it, and is left as it is: never silently overwritten.
func MergeFile(path string, run Run) (Run, error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return Run{}, fmt.Errorf("merge report into %s: %w", path, err)
	}
	defer unlock()
	old, err := Read(path)
	fresh := errors.Is(err, fs.ErrNotExist)
	if err != nil && !fresh {
		return Run{}, fmt.Errorf("merge report: the existing file is left as it is: %w", err)
	}
	merged := mergeInto(old, run, fresh)
	if err := merged.Validate(); err != nil {
		return Run{}, fmt.Errorf("merge report into %s: the run to add: %w", path, err)
	}
	if err := WriteFile(path, JSON, merged); err != nil {
		return Run{}, fmt.Errorf("merge report: %w", err)
	}
	return merged, nil
}

// mergeInto appends add's drills to base's, renumbering samples per drill
// name in that order. A fresh base (no file yet) takes add's Meta.
func mergeInto(base, add Run, fresh bool) Run {
	out := Run{Schema: SchemaVersion, Meta: base.Meta}
	if fresh {
		out.Meta = add.Meta
	}
	if s := add.Meta.Started; !s.IsZero() && (out.Meta.Started.IsZero() || s.Before(out.Meta.Started)) {
		out.Meta.Started = s
	}
	if add.Meta.Finished.After(out.Meta.Finished) {
		out.Meta.Finished = add.Meta.Finished
	}
	next := map[string]int{}
	out.Drills = make([]Drill, 0, len(base.Drills)+len(add.Drills))
	for _, ds := range [][]Drill{base.Drills, add.Drills} {
		for _, d := range ds {
			d.Sample = next[d.Name]
			next[d.Name]++
			out.Drills = append(out.Drills, d)
		}
	}
	return out
}
