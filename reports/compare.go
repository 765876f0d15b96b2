package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// CompareOptions tune Compare. Zero values take the defaults.
type CompareOptions struct {
	// Threshold is the smallest relative change of the median TTR that
	// counts (default 0.10: 10%).
	Threshold float64
	// Alpha is the significance level of the Mann-Whitney U test (default 0.05).
	Alpha float64
	// Confidence is the level of the interval of the change (default 0.95).
	Confidence float64
}

func (o CompareOptions) withDefaults() CompareOptions {
	if o.Threshold <= 0 {
		o.Threshold = 0.10
	}
	if o.Alpha <= 0 {
		o.Alpha = 0.05
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = 0.95
	}
	return o
}

// Change verdicts of a Comparison.
const (
	Regression  = "regression"  // significantly slower recovery
	Improvement = "improvement" // significantly faster recovery
	NoChange    = "~"           // no significant change
	Incomplete  = "incomplete"  // the drill lacks TTR samples on a side
	// NotRestored: some head sample never recovered (not restored, no
	// valid TTR after an impact, or the drill errored). It is a
	// regression whatever the statistics of the other samples say.
	NotRestored = "not restored"
)

// Comparison is the TTR comparison of one drill between a base and a head.
type Comparison struct {
	Drill string `json:"drill"`
	// Base and Head are the TTR samples in seconds, sorted. Samples whose
	// TTR is not valid (the drill errored or never recovered) are left out
	// and counted in BaseMissing and HeadMissing.
	Base        []float64 `json:"base"`
	Head        []float64 `json:"head"`
	BaseMissing int       `json:"base_missing,omitempty"`
	HeadMissing int       `json:"head_missing,omitempty"`
	// BaseNotRestored and HeadNotRestored count the samples that never
	// recovered (see NotRestored); they are among the missing ones.
	BaseNotRestored int `json:"base_not_restored,omitempty"`
	HeadNotRestored int `json:"head_not_restored,omitempty"`
	// BaseMedian and HeadMedian are in seconds (NaN without samples).
	BaseMedian float64 `json:"base_median"`
	HeadMedian float64 `json:"head_median"`
	// Change is HeadMedian/BaseMedian − 1; CILow and CIHigh bound it at
	// level CompareOptions.Confidence: the ends of the order-statistic
	// intervals of the two medians, each at √Confidence (benchstat's
	// intervals). A side with too few samples leaves the interval
	// unbounded (−100% or +∞); a base of zeros leaves it NaN.
	Change float64 `json:"change"`
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
	// U is the Mann-Whitney statistic of head against base (the pairs in
	// which head is slower, ties counted as one half) and P the two-sided
	// p-value of benchstat's Mann-Whitney U test.
	U float64 `json:"u"`
	P float64 `json:"p"`
	// Verdict is NotRestored, Regression, Improvement, NoChange or
	// Incomplete. Significant is the statistics alone: P ≤ Alpha (where
	// benchstat would not print "~") and |Change| > Threshold (true for
	// Regression and Improvement).
	Verdict     string `json:"verdict"`
	Significant bool   `json:"significant"`
	// Note explains an Incomplete verdict or a caveat.
	Note string `json:"note,omitempty"`
}

// Compare compares the TTR samples of each drill between base and head
// runs (all samples of a drill name across the runs of a side are pooled),
// in the order drills first appear in base, then those only in head. A
// drill with any head sample that never recovered is NotRestored (a
// regression); a base sample that never recovered only adds a note. A
// drill present on one side only is Incomplete; use MatchDrills to reject
// such inputs first.
func Compare(base, head []Run, opts CompareOptions) []Comparison {
	o := opts.withDefaults()
	bs := ttrSamples(base)
	hs := ttrSamples(head)
	names := DrillNames(append(slices.Clone(base), head...)...)
	out := make([]Comparison, 0, len(names))
	for _, name := range names {
		b, h := bs[name], hs[name]
		c := Comparison{
			Drill: name, Base: b.ttrs, Head: h.ttrs,
			BaseMissing: b.missing, HeadMissing: h.missing,
			BaseNotRestored: b.notRestored, HeadNotRestored: h.notRestored,
			BaseMedian: math.NaN(), HeadMedian: math.NaN(),
			Change: math.NaN(), CILow: math.NaN(), CIHigh: math.NaN(), P: 1,
		}
		c = compareOne(c, o)
		if c.BaseNotRestored > 0 {
			c.Note = joinNotes(c.Note, fmt.Sprintf("base not restored in %d of %d samples", c.BaseNotRestored, len(c.Base)+c.BaseMissing))
		}
		if c.HeadNotRestored > 0 {
			c.Verdict = NotRestored
		}
		out = append(out, c)
	}
	return out
}

// compareOne fills the statistics and the verdict of c from its samples.
func compareOne(c Comparison, o CompareOptions) Comparison {
	slices.Sort(c.Base)
	slices.Sort(c.Head)
	if len(c.Base) > 0 {
		c.BaseMedian = sortedMedian(c.Base)
	}
	if len(c.Head) > 0 {
		c.HeadMedian = sortedMedian(c.Head)
	}
	switch {
	case len(c.Base) == 0 || len(c.Head) == 0:
		c.Verdict = Incomplete
		c.Note = incompleteNote(c)
		return c
	case c.BaseMedian == 0 && c.HeadMedian == 0:
		c.Change = 0
	case c.BaseMedian == 0:
		c.Change = math.Inf(1)
	default:
		c.Change = c.HeadMedian/c.BaseMedian - 1
	}
	t := testMedians(c.Base, c.Head, o.Alpha, o.Confidence)
	c.CILow, c.CIHigh = t.changeInterval()
	c.U, c.P = uStatistic(c.Head, c.Base), t.cmp.P
	c.Verdict = NoChange
	if t.differs() && math.Abs(c.Change) > o.Threshold {
		c.Significant = true
		c.Verdict = Improvement
		if c.Change > 0 {
			c.Verdict = Regression
		}
	}
	if n := min(len(c.Base), len(c.Head)); n < 5 && !c.Significant {
		c.Note = fmt.Sprintf("only %d sample(s) on a side: a change this small cannot be told from noise", n)
	}
	if !t.bounded() {
		c.Note = joinNotes(c.Note, "too few samples for a bounded CI")
	}
	c.Note = joinNotes(c.Note, missingNote(c))
	return c
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	default:
		return a + "; " + b
	}
}

func incompleteNote(c Comparison) string {
	switch {
	case c.BaseMissing+len(c.Base) == 0:
		return "drill only in head"
	case c.HeadMissing+len(c.Head) == 0:
		return "drill only in base"
	default:
		return missingNote(c)
	}
}

// missingNote counts the samples left out for want of a valid TTR, apart
// from those not restored (which get their own verdict or note); "" when
// there are none.
func missingNote(c Comparison) string {
	b, h := c.BaseMissing-c.BaseNotRestored, c.HeadMissing-c.HeadNotRestored
	if b+h == 0 {
		return ""
	}
	return fmt.Sprintf("samples without a valid TTR left out: %d in base, %d in head", b, h)
}

// sideSamples are one side's samples of one drill.
type sideSamples struct {
	ttrs        []float64 // valid TTRs of restored samples, seconds
	missing     int       // samples without a valid TTR, or not restored
	notRestored int       // samples that never recovered (among missing)
}

// ttrSamples pools TTR samples (seconds) per drill name. A sample that
// never recovered gives no TTR and is counted as not restored.
func ttrSamples(runs []Run) map[string]sideSamples {
	out := map[string]sideSamples{}
	for _, r := range runs {
		for _, d := range r.Drills {
			s := out[d.Name]
			switch {
			case !d.Recovered():
				s.missing++
				s.notRestored++
			case !d.Measures.TTR.Valid:
				s.missing++
			default:
				s.ttrs = append(s.ttrs, d.Measures.TTR.Value.Seconds())
			}
			out[d.Name] = s
		}
	}
	return out
}

// Recovered tells whether the drill sample came back: it could be
// evaluated (no Error), it was restored after the schedule's last action,
// and its TTR is valid if the fault had an impact (an impact recorded in
// the timeline or an episode). A sample that did not recover gives no TTR
// sample, and makes Compare's verdict NotRestored on the head side.
func (d Drill) Recovered() bool {
	impact := d.Timeline.Impact != nil || len(d.Episodes) > 0
	return d.Error == "" && d.Restored && (d.Measures.TTR.Valid || !impact)
}

// Regressions returns the comparisons whose verdict is Regression or
// NotRestored: the ones that fail `firedrill compare`.
func Regressions(cs []Comparison) []Comparison {
	var out []Comparison
	for _, c := range cs {
		if c.Verdict == Regression || c.Verdict == NotRestored {
			out = append(out, c)
		}
	}
	return out
}

// ErrMismatch is wrapped by MatchDrills when base and head hold different drills.
var ErrMismatch = errors.New("base and head hold different drills")

// MismatchError lists the drills present on one side only.
type MismatchError struct {
	OnlyBase, OnlyHead []string
}

func (e *MismatchError) Error() string {
	var parts []string
	if len(e.OnlyBase) > 0 {
		parts = append(parts, "only in base: "+strings.Join(e.OnlyBase, ", "))
	}
	if len(e.OnlyHead) > 0 {
		parts = append(parts, "only in head: "+strings.Join(e.OnlyHead, ", "))
	}
	return ErrMismatch.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrMismatch) hold.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// MatchDrills returns a *MismatchError when base and head do not hold the
// same set of drill names, and an error when either side holds no drill.
func MatchDrills(base, head []Run) error {
	bn, hn := DrillNames(base...), DrillNames(head...)
	if len(bn) == 0 {
		return errors.New("base holds no drills")
	}
	if len(hn) == 0 {
		return errors.New("head holds no drills")
	}
	e := &MismatchError{OnlyBase: minus(bn, hn), OnlyHead: minus(hn, bn)}
	if len(e.OnlyBase)+len(e.OnlyHead) > 0 {
		return e
	}
	return nil
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// WriteComparisons prints comparisons as a benchstat-like table: per drill
// the median TTR of each side with its spread (± half the interquartile
// range, as a percentage of the median), the change with its confidence
// interval, the Mann-Whitney p-value, the sample counts and the
// verdict; then a line stating the rule.
func WriteComparisons(w io.Writer, cs []Comparison, opts CompareOptions) error {
	o := opts.withDefaults()
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	ci := fmt.Sprintf("%g%% CI", o.Confidence*100)
	fmt.Fprintf(tw, "drill\tbase TTR\thead TTR\tchange\t%s\tp\tn\tverdict\n", ci)
	for _, c := range cs {
		verdict := c.Verdict
		if c.Verdict == NotRestored {
			verdict = fmt.Sprintf("regression: not restored in %d of %d head samples", c.HeadNotRestored, len(c.Head)+c.HeadMissing)
		}
		if c.Note != "" {
			verdict += " (" + c.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d+%d\t%s\n", c.Drill,
			medianCell(c.Base, c.BaseMedian), medianCell(c.Head, c.HeadMedian),
			pct(c.Change), ciCell(c.CILow, c.CIHigh), pCell(c), len(c.Base), len(c.Head), verdict)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	fmt.Fprintf(bw, "\nsignificant: p ≤ %g (Mann-Whitney U, two-sided) and |change| > %g%%; CI: from the medians' order-statistic intervals, %.3g%% each side (as benchstat)\n",
		o.Alpha, o.Threshold*100, math.Sqrt(o.Confidence)*100)
	slower, never := 0, 0
	for _, c := range cs {
		switch c.Verdict {
		case Regression:
			slower++
		case NotRestored:
			never++
		}
	}
	if slower > 0 {
		fmt.Fprintf(bw, "%d drill(s) recover significantly slower\n", slower)
	}
	if never > 0 {
		fmt.Fprintf(bw, "%d drill(s) not restored in some head sample: a head that does not recover is a regression\n", never)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

func medianCell(s []float64, med float64) string {
	if len(s) == 0 || math.IsNaN(med) {
		return "–"
	}
	cell := sig3(med) + "s"
	if len(s) > 1 && med != 0 {
		spread := (quantile(s, 0.75) - quantile(s, 0.25)) / 2 / med
		cell += fmt.Sprintf(" ± %.0f%%", spread*100)
	}
	return cell
}

func pct(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.IsInf(v, 1):
		return "+∞"
	default:
		return fmt.Sprintf("%+.1f%%", v*100)
	}
}

func ciCell(lo, hi float64) string {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return "–"
	}
	return fmt.Sprintf("[%s, %s]", pct(lo), pct(hi))
}

func pCell(c Comparison) string {
	if len(c.Base) == 0 || len(c.Head) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", c.P)
}

// sig3 formats v with three significant digits, keeping trailing zeros
// (4 → "4.00", 12.5 → "12.5", 0.35 → "0.350").
func sig3(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	dec := max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	return strconv.FormatFloat(v, 'f', dec, 64)
}
