// Package plant names the pipeline's planted defects: realistic bugs, each
// off by default, that a process turns on when its -plant flag (or the
// PIPELINE_PLANT environment variable) names it. A drill that cannot fail
// against a planted defect proves nothing; these are how the reference
// drills show they can.
package plant

import (
	"fmt"
	"slices"
	"strings"
)

// Env is the environment variable every pipeline process reads its planted
// defects from (comma-separated names); the -plant flag overrides it.
const Env = "PIPELINE_PLANT"

// Defect names one planted defect.
type Defect string

// The defects, by the component they live in.
const (
	// AckBeforeCommit (collector): a batch is acknowledged (202) before its
	// lake commit, which then runs anyway; when the commit fails the ack was
	// a lie. Breaks "every acknowledged event is in the lake".
	AckBeforeCommit Defect = "ack-before-commit"
	// SplitCheckpoint (loader): the batch's warehouse rows and the
	// checkpoint are committed in two transactions, rows first; a crash
	// between them replays the batch, which the events' delivery count
	// shows. Breaks "exactly once".
	SplitCheckpoint Defect = "split-checkpoint"
	// BackfillWholeLake (pipelinectl): backfill ignores its window and
	// re-applies the whole lake. Breaks the backfill's cost (rows, time).
	BackfillWholeLake Defect = "backfill-whole-lake"
	// WipeKeepsCheckpoint (pipelinectl): wipe empties the warehouse but
	// forgets to reset the checkpoint, so the loader never replays the lake.
	WipeKeepsCheckpoint Defect = "wipe-keeps-checkpoint"
	// RequeueDropsQuarantine (pipelinectl): requeue-quarantine deletes the
	// quarantined rows instead of re-applying the schema to them.
	RequeueDropsQuarantine Defect = "requeue-drops-quarantine"
)

// All lists every defect.
var All = []Defect{AckBeforeCommit, SplitCheckpoint, BackfillWholeLake, WipeKeepsCheckpoint, RequeueDropsQuarantine}

// Set is a set of planted defects; the zero value plants none.
type Set struct{ names []Defect }

// Parse reads a comma-separated list of defect names ("" = none).
func Parse(s string) (Set, error) {
	var set Set
	for _, f := range strings.Split(s, ",") {
		d := Defect(strings.TrimSpace(f))
		if d == "" {
			continue
		}
		if !slices.Contains(All, d) {
			return Set{}, fmt.Errorf("unknown planted defect %q (want one of %s)", d, strings.Join(Names(), ", "))
		}
		if !slices.Contains(set.names, d) {
			set.names = append(set.names, d)
		}
	}
	return set, nil
}

// Of returns the set of ds (duplicates once); it does not validate.
func Of(ds ...Defect) Set {
	var set Set
	for _, d := range ds {
		if !slices.Contains(set.names, d) {
			set.names = append(set.names, d)
		}
	}
	return set
}

// Has reports whether d is planted.
func (s Set) Has(d Defect) bool { return slices.Contains(s.names, d) }

// List returns the planted defects in the order given.
func (s Set) List() []Defect { return slices.Clone(s.names) }

// String is the comma-separated list (the -plant value).
func (s Set) String() string {
	parts := make([]string, len(s.names))
	for i, d := range s.names {
		parts[i] = string(d)
	}
	return strings.Join(parts, ",")
}

// Names lists every defect's name.
func Names() []string {
	out := make([]string, len(All))
	for i, d := range All {
		out[i] = string(d)
	}
	return out
}
