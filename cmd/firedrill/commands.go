package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/kube"
)

type reportCmd struct {
	Format string   `short:"f" enum:"html,md,junit,json," default:"" help:"Output format: html, md, junit or json (default: from the -o extension, else html)."`
	Output string   `short:"o" placeholder:"FILE" help:"Write the report to FILE atomically (default: stdout)."`
	Runs   []string `arg:"" name:"RUN" help:"Run files (JSON), or directories of them."`
}

// formatFor picks the format from the output file's extension.
func formatFor(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".md", ".markdown":
		return "md"
	case ".xml":
		return "junit"
	case ".json":
		return "json"
	default:
		return "html"
	}
}

func (c *reportCmd) Run(e *env) error {
	format := c.Format
	if format == "" {
		format = formatFor(c.Output)
	}
	w := reports.Writers[format]
	runs, err := reports.ReadPaths(c.Runs...)
	if err != nil {
		return badInput(fmt.Errorf("report: %w", err))
	}
	run := reports.Merge(runs...)
	if c.Output == "" || c.Output == "-" {
		return w(e.stdout, run)
	}
	if err := reports.WriteFile(c.Output, w, run); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(e.stderr, "firedrill: wrote %s report of %d drill samples from %d run file(s) to %s\n", format, len(run.Drills), len(runs), c.Output)
	return nil
}

type compareCmd struct {
	Threshold  float64 `default:"0.1" help:"Smallest relative change of the median TTR that counts (0.1 = 10%)."`
	Alpha      float64 `default:"0.05" help:"Significance level of the Mann-Whitney U test."`
	Confidence float64 `default:"0.95" help:"Level of the confidence interval of the change."`
	Base       string  `arg:"" help:"Base runs: a run file or a directory of run files."`
	Head       string  `arg:"" help:"Head runs: a run file or a directory of run files."`
}

func (c *compareCmd) Run(e *env) error {
	switch {
	case c.Threshold < 0:
		return badInput(fmt.Errorf("compare: --threshold %g: must be at least 0", c.Threshold))
	case c.Alpha <= 0 || c.Alpha >= 1:
		return badInput(fmt.Errorf("compare: --alpha %g: must be between 0 and 1", c.Alpha))
	case c.Confidence <= 0 || c.Confidence >= 1:
		return badInput(fmt.Errorf("compare: --confidence %g: must be between 0 and 1", c.Confidence))
	}
	base, err := reports.ReadPaths(c.Base)
	if err != nil {
		return badInput(fmt.Errorf("compare: base: %w", err))
	}
	head, err := reports.ReadPaths(c.Head)
	if err != nil {
		return badInput(fmt.Errorf("compare: head: %w", err))
	}
	if err := reports.MatchDrills(base, head); err != nil {
		return badInput(fmt.Errorf("compare %s (base) with %s (head): %w", c.Base, c.Head, err))
	}
	opts := reports.CompareOptions{Threshold: c.Threshold, Alpha: c.Alpha, Confidence: c.Confidence}
	if c.Threshold == 0 {
		opts.Threshold = 1e-12 // 0 means "any change"; the zero value would mean the default
	}
	cs := reports.Compare(base, head, opts)
	if err := reports.WriteComparisons(e.stdout, cs, opts); err != nil {
		return err
	}
	if regs := reports.Regressions(cs); len(regs) > 0 {
		var names []string
		for _, r := range regs {
			if r.Verdict == reports.NotRestored {
				names = append(names, fmt.Sprintf("%s (not restored in %d of %d head samples)", r.Drill, r.HeadNotRestored, len(r.Head)+r.HeadMissing))
				continue
			}
			names = append(names, fmt.Sprintf("%s (%+.1f%%, p=%.3f)", r.Drill, r.Change*100, r.P))
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("compare: TTR regression in %d drill(s): %s", len(regs), strings.Join(names, ", "))}
	}
	return nil
}

type historyCmd struct {
	Output    string   `short:"o" default:"trend.svg" placeholder:"FILE" help:"Where to write the SVG chart (default trend.svg; '-' for stdout, without the text table)."`
	Threshold float64  `default:"0.1" help:"Smallest relative change of the median TTR that compare flags (0.1 = 10%)."`
	Alpha     float64  `default:"0.05" help:"Significance level of compare's Mann-Whitney U test."`
	Dirs      []string `arg:"" name:"DIR" help:"Directories of run files (or run files), any order: runs are ordered by start time."`
}

func (c *historyCmd) Run(e *env) error {
	switch {
	case c.Threshold < 0:
		return badInput(fmt.Errorf("history: --threshold %g: must be at least 0", c.Threshold))
	case c.Alpha <= 0 || c.Alpha >= 1:
		return badInput(fmt.Errorf("history: --alpha %g: must be between 0 and 1", c.Alpha))
	}
	runs, err := reports.ReadPaths(c.Dirs...)
	if err != nil {
		return badInput(fmt.Errorf("history: %w", err))
	}
	opts := reports.CompareOptions{Threshold: c.Threshold, Alpha: c.Alpha}
	if c.Threshold == 0 {
		opts.Threshold = 1e-12 // 0 means "any change"; the zero value would mean the default
	}
	trend := reports.HistoryWith(runs, opts)
	if len(trend.Drills) == 0 {
		return badInput(fmt.Errorf("history: the run files in %s hold no drills", strings.Join(c.Dirs, ", ")))
	}
	if c.Output == "-" {
		return reports.TrendSVG(e.stdout, trend)
	}
	if err := reports.WriteAtomic(c.Output, func(w io.Writer) error { return reports.TrendSVG(w, trend) }); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := reports.WriteTrendTable(e.stdout, trend); err != nil {
		return err
	}
	flagged := 0
	for _, r := range trend.Runs {
		if len(r.Flagged) > 0 {
			flagged++
		}
	}
	fmt.Fprintf(e.stderr, "firedrill: wrote TTR trend of %d drills over %d runs to %s; compare flags a regression in %d run(s)\n", len(trend.Drills), len(trend.Runs), c.Output, flagged)
	return nil
}

type wipeCmd struct {
	Timeout    time.Duration `default:"2m" help:"Give up after this long."`
	Kubeconfig string        `help:"Put back, on this Kubernetes cluster instead, what a killed drill left: firedrill's namespaces (fd-...), its objects in the --namespace ones, its cordons, scaled workloads and changed limits." placeholder:"FILE"`
	Namespace  []string      `help:"With --kubeconfig: a namespace the drill acted in (repeat for more)." placeholder:"NS"`
}

// wipe removes firedrill-labelled Docker resources; tests replace it.
var wipe = func(ctx context.Context) (containers, networks []string, err error) {
	r, err := scenarios.Wipe(ctx)
	return r.Containers, r.Networks, err
}

// kubeWipe puts a Kubernetes cluster back; tests replace it.
var kubeWipe = func(ctx context.Context, kubeconfig string, namespaces []string) (kube.Wiped, error) {
	c, err := kube.Connect(ctx, kubeconfig, kube.Scope{Namespaces: namespaces, CreateNamespaces: true})
	if err != nil {
		return kube.Wiped{}, err
	}
	defer c.Close(ctx)
	return kube.Wipe(ctx, c)
}

func (c *wipeCmd) Run(e *env) error {
	ctx, cancel := context.WithTimeout(e.ctx, c.Timeout)
	defer cancel()
	if c.Kubeconfig != "" {
		w, err := kubeWipe(ctx, c.Kubeconfig, c.Namespace)
		for _, ns := range w.Namespaces {
			fmt.Fprintf(e.stdout, "deleted namespace %s\n", ns)
		}
		for _, o := range w.Objects {
			fmt.Fprintf(e.stdout, "deleted %s\n", o)
		}
		for _, r := range w.Restored {
			fmt.Fprintf(e.stdout, "%s\n", r)
		}
		if err != nil {
			return fmt.Errorf("wipe: %w", err)
		}
		fmt.Fprintf(e.stderr, "firedrill: wiped %d namespace(s) and %d object(s), put back %d change(s) on %s\n", len(w.Namespaces), len(w.Objects), len(w.Restored), c.Kubeconfig)
		return nil
	}
	containers, networks, err := wipe(ctx)
	for _, id := range containers {
		fmt.Fprintf(e.stdout, "removed container %s\n", id)
	}
	for _, id := range networks {
		fmt.Fprintf(e.stdout, "removed network %s\n", id)
	}
	if err != nil {
		return fmt.Errorf("wipe: %w", err)
	}
	fmt.Fprintf(e.stderr, "firedrill: wiped %d container(s) and %d network(s) labelled firedrill=true\n", len(containers), len(networks))
	return nil
}
