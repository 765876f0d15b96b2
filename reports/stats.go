package reports

import (
	"math"
	"slices"
	"sort"

	"golang.org/x/perf/benchmath"
)

// The statistics of Compare are benchstat's (golang.org/x/perf/benchmath,
// assuming nothing about the distribution): the Mann-Whitney U test for
// the p-value, with its "~" rule (no significant difference when p > α),
// and order-statistic confidence intervals of each side's median.

// medianTest is the benchstat comparison of head against base.
type medianTest struct {
	base, head benchmath.Summary    // medians with their intervals
	cmp        benchmath.Comparison // Mann-Whitney U p-value, α and warnings
}

// testMedians compares the sorted samples base and head. Each median's
// interval is taken at level √confidence, so that both hold together (the
// sides are independent) with probability at least confidence.
func testMedians(base, head []float64, alpha, confidence float64) medianTest {
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	b := benchmath.NewSample(slices.Clone(base), th)
	h := benchmath.NewSample(slices.Clone(head), th)
	level := math.Sqrt(confidence)
	return medianTest{
		base: benchmath.AssumeNothing.Summary(b, level),
		head: benchmath.AssumeNothing.Summary(h, level),
		cmp:  benchmath.AssumeNothing.Compare(b, h),
	}
}

// differs is benchstat's verdict on the p-value alone: false where
// benchstat prints "~".
func (t medianTest) differs() bool { return t.cmp.P <= t.cmp.Alpha }

// changeInterval bounds the relative change of the median, head/base − 1,
// by the ends of the two medians' intervals. An interval that runs outside
// a sample (too few values for the level) is unbounded; TTRs are never
// negative, so the change is then at least −100%. It is NaN when the base
// interval is all zero: no relative change is defined.
func (t medianTest) changeInterval() (lo, hi float64) {
	bLo, bHi := math.Max(0, t.base.Lo), t.base.Hi
	hLo, hHi := math.Max(0, t.head.Lo), t.head.Hi
	if bHi <= 0 {
		return math.NaN(), math.NaN()
	}
	lo = hLo/bHi - 1
	hi = math.Inf(1)
	if bLo > 0 {
		hi = hHi/bLo - 1
	}
	return lo, hi
}

// bounded tells whether both medians' intervals lie inside their samples.
func (t medianTest) bounded() bool {
	return !math.IsInf(t.base.Lo, 0) && !math.IsInf(t.base.Hi, 0) &&
		!math.IsInf(t.head.Lo, 0) && !math.IsInf(t.head.Hi, 0)
}

// uStatistic is the Mann-Whitney U statistic of a against b: the number
// of pairs in which a's value is greater, ties counted as one half. b is
// sorted.
func uStatistic(a, b []float64) float64 {
	var u float64
	for _, v := range a {
		below := sort.SearchFloat64s(b, v)
		upTo := sort.Search(len(b), func(i int) bool { return b[i] > v })
		u += float64(below) + float64(upTo-below)/2
	}
	return u
}

// Median returns the median of xs (the mean of the middle two for an even
// count), or NaN for no values. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedMedian(s)
}

func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// quantile of sorted s by linear interpolation, q in [0, 1].
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
