package reports

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Trend is the TTR of each drill per run, across runs (releases): the
// median and interquartile range of each drill's samples in a run, its TTR
// budget, and the drills that Compare flags against the previous run.
type Trend struct {
	Drills []string   `json:"drills"` // in first-seen order
	Runs   []TrendRun `json:"runs"`   // ordered by start time
}

// TrendRun is one run's point of the trend.
type TrendRun struct {
	RunID   string    `json:"run_id"`
	Release string    `json:"release,omitempty"`
	Label   string    `json:"label"` // release, else run id, else short commit, else start time
	Started time.Time `json:"started"`
	// Median, Q1 and Q3 are the median and quartiles of each drill's TTR
	// samples in seconds, drills with a valid TTR only; N the samples
	// behind them.
	Median map[string]float64 `json:"median"`
	Q1     map[string]float64 `json:"q1"`
	Q3     map[string]float64 `json:"q3"`
	N      map[string]int     `json:"n"`
	// Budget is each drill's TTR budget in seconds (Drill.BudgetTTR, the
	// largest among its samples), drills that have one only.
	Budget map[string]float64 `json:"budget,omitempty"`
	// Flagged are the drills whose TTR Compare flags against the previous
	// run (a regression, or not restored in some sample), in drill order.
	Flagged []TrendFlag `json:"flagged,omitempty"`
}

// TrendFlag is one drill that Compare flags in a run against the previous one.
type TrendFlag struct {
	Drill string `json:"drill"`
	Why   string `json:"why"` // "+30.0% (p=0.001)", "not restored in 2 of 10 samples"
}

// History builds the TTR trend of runs with Compare's default options. Runs
// that share a non-empty RunID (one file per repetition) are merged into
// one point; points are ordered by start time.
func History(runs []Run) Trend { return HistoryWith(runs, CompareOptions{}) }

// HistoryWith is History, flagging regressions with Compare and opts.
func HistoryWith(runs []Run, opts CompareOptions) Trend {
	merged := mergeByRunID(runs)
	sort.SliceStable(merged, func(i, j int) bool { return merged[i].Meta.Started.Before(merged[j].Meta.Started) })
	t := Trend{Drills: DrillNames(runs...)}
	for i, m := range merged {
		tr := trendRun(m)
		if i > 0 {
			tr.Flagged = flags(Compare([]Run{merged[i-1]}, []Run{m}, opts))
		}
		t.Runs = append(t.Runs, tr)
	}
	return t
}

// mergeByRunID merges the runs that share a non-empty RunID, in first-seen
// order.
func mergeByRunID(runs []Run) []Run {
	byID := map[string]int{}
	var groups [][]Run
	for _, r := range runs {
		if r.Meta.RunID != "" {
			if i, ok := byID[r.Meta.RunID]; ok {
				groups[i] = append(groups[i], r)
				continue
			}
			byID[r.Meta.RunID] = len(groups)
		}
		groups = append(groups, []Run{r})
	}
	out := make([]Run, 0, len(groups))
	for _, g := range groups {
		out = append(out, Merge(g...))
	}
	return out
}

// trendRun is the point of one merged run.
func trendRun(m Run) TrendRun {
	tr := TrendRun{
		RunID: m.Meta.RunID, Release: m.Meta.Release, Label: runLabel(m.Meta), Started: m.Meta.Started,
		Median: map[string]float64{}, Q1: map[string]float64{}, Q3: map[string]float64{}, N: map[string]int{},
		Budget: map[string]float64{},
	}
	for name, s := range ttrSamples([]Run{m}) {
		if len(s.ttrs) == 0 {
			continue
		}
		sorted := slices.Sorted(slices.Values(s.ttrs))
		tr.Median[name] = sortedMedian(sorted)
		tr.Q1[name], tr.Q3[name] = quantile(sorted, 0.25), quantile(sorted, 0.75)
		tr.N[name] = len(sorted)
	}
	for _, d := range m.Drills {
		if b := d.BudgetTTR.Seconds(); b > tr.Budget[d.Name] {
			tr.Budget[d.Name] = b
		}
	}
	return tr
}

// runLabel names a run on the chart: its release, else its run id, else
// its short commit, else its start time.
func runLabel(m Meta) string {
	switch {
	case m.Release != "":
		return m.Release
	case m.RunID != "":
		return m.RunID
	case m.Commit != "":
		return shortCommit(m.Commit)
	default:
		return m.Started.UTC().Format("2006-01-02 15:04")
	}
}

// flags are the comparisons Compare counts as regressions.
func flags(cs []Comparison) []TrendFlag {
	var out []TrendFlag
	for _, c := range Regressions(cs) {
		why := fmt.Sprintf("%s → %s median, %s (p=%.3f)", sig3(c.BaseMedian)+"s", sig3(c.HeadMedian)+"s", pct(c.Change), c.P)
		if c.Verdict == NotRestored {
			why = fmt.Sprintf("not restored in %d of %d samples", c.HeadNotRestored, len(c.Head)+c.HeadMissing)
		}
		out = append(out, TrendFlag{Drill: c.Drill, Why: why})
	}
	return out
}

// flagged tells whether drill is flagged in r.
func (r TrendRun) flagged(drill string) (TrendFlag, bool) {
	for _, f := range r.Flagged {
		if f.Drill == drill {
			return f, true
		}
	}
	return TrendFlag{}, false
}

// WriteTrendTable prints the trend as an aligned text table: a row per run
// (label, start time), a column per drill with its median TTR and
// interquartile range, and the drills Compare flags against the previous
// run.
func WriteTrendTable(w io.Writer, t Trend) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "run\tstarted")
	for _, d := range t.Drills {
		fmt.Fprint(tw, "\t"+d)
	}
	fmt.Fprintln(tw, "\tflagged")
	for _, r := range t.Runs {
		fmt.Fprintf(tw, "%s\t%s", r.Label, r.Started.UTC().Format("2006-01-02T15:04:05Z"))
		for _, d := range t.Drills {
			if v, ok := r.Median[d]; ok {
				fmt.Fprintf(tw, "\t%ss [%s, %s]", sig3(v), sig3(r.Q1[d]), sig3(r.Q3[d]))
			} else {
				fmt.Fprint(tw, "\t–")
			}
		}
		var names []string
		for _, f := range r.Flagged {
			names = append(names, f.Drill+" ("+f.Why+")")
		}
		if len(names) == 0 {
			names = []string{"–"}
		}
		fmt.Fprintf(tw, "\t%s\n", strings.Join(names, "; "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write trend table: %w", err)
	}
	return nil
}

// trendMax is the largest value the chart must show: medians, upper
// quartiles and budgets; 1 when there is none.
func trendMax(t Trend) float64 {
	hi := 0.0
	for _, r := range t.Runs {
		for _, m := range []map[string]float64{r.Median, r.Q3, r.Budget} {
			for _, v := range m {
				hi = math.Max(hi, v)
			}
		}
	}
	if hi <= 0 || math.IsNaN(hi) {
		return 1
	}
	return hi
}
