package reports

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// MannWhitney returns the Mann-Whitney U statistic of a (U_a: the number
// of pairs in which a's value is greater, ties counted as one half) and
// the two-sided p-value of the hypothesis that a and b come from the same
// distribution. Without ties and with both samples of at most 30 values
// the p-value is exact; otherwise it uses the normal approximation with
// tie and continuity corrections. Empty samples give p = 1.
func MannWhitney(a, b []float64) (u, p float64) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	type obs struct {
		v float64
		a bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	n := float64(n1 + n2)
	var ra, tieSum float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // average of ranks i+1 .. j
		for k := i; k < j; k++ {
			if all[k].a {
				ra += rank
			}
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieSum += t*t*t - t
		}
		i = j
	}
	f1, f2 := float64(n1), float64(n2)
	u = ra - f1*(f1+1)/2
	if !ties && n1 <= 30 && n2 <= 30 {
		return u, exactMannWhitneyP(n1, n2, u)
	}
	mean := f1 * f2 / 2
	variance := f1 * f2 / 12 * ((n + 1) - tieSum/(n*(n-1)))
	if variance <= 0 {
		return u, 1
	}
	z := (math.Abs(u-mean) - 0.5) / math.Sqrt(variance)
	if z < 0 {
		z = 0
	}
	return u, math.Min(1, math.Erfc(z/math.Sqrt2))
}

// exactMannWhitneyP is the two-sided exact p-value of U = u for samples of
// sizes m and n without ties: twice the smaller tail, at most 1. It counts
// arrangements with the recurrence f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u).
func exactMannWhitneyP(m, n int, u float64) float64 {
	// layer[i] is the distribution of U for sizes (i, j) as j grows.
	layer := make([][]float64, m+1)
	for i := range layer {
		layer[i] = []float64{1} // j = 0: U is always 0
	}
	for j := 1; j <= n; j++ {
		next := make([][]float64, m+1)
		next[0] = []float64{1}
		for i := 1; i <= m; i++ {
			d := make([]float64, i*j+1)
			// f(i, j-1, u): U unchanged (the new b value is the largest).
			copy(d, layer[i])
			// f(i-1, j, u-j): the largest value is an a, above all j b values.
			for k, c := range next[i-1] {
				d[k+j] += c
			}
			next[i] = d
		}
		layer = next
	}
	dist := layer[m]
	var total float64
	for _, c := range dist {
		total += c
	}
	k := int(math.Round(u))
	var lo, hi float64
	for i, c := range dist {
		if i <= k {
			lo += c
		}
		if i >= k {
			hi += c
		}
	}
	return math.Min(1, 2*math.Min(lo, hi)/total)
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

// BootstrapChange estimates a confidence interval for the relative change
// of the median, median(head)/median(base) − 1, by resampling both sides
// with replacement (percentile method). The same seed gives the same
// interval. Resamples whose base median is zero are skipped; if all are,
// the interval is NaN.
func BootstrapChange(base, head []float64, confidence float64, resamples int, seed uint64) (lo, hi float64) {
	if len(base) == 0 || len(head) == 0 || resamples <= 0 {
		return math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, 0xb007))
	bs, hs := slices.Clone(base), slices.Clone(head)
	slices.Sort(bs)
	slices.Sort(hs)
	bc := make([]int, len(bs))
	hc := make([]int, len(hs))
	changes := make([]float64, 0, resamples)
	for range resamples {
		bm := resampleMedian(rng, bs, bc)
		hm := resampleMedian(rng, hs, hc)
		if bm == 0 {
			continue
		}
		changes = append(changes, hm/bm-1)
	}
	if len(changes) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(changes)
	tail := (1 - confidence) / 2
	return quantile(changes, tail), quantile(changes, 1-tail)
}

// resampleMedian draws len(sorted) values of sorted with replacement and
// returns their median. It counts how often each index is drawn instead of
// sorting the resample: O(n) per resample. counts is scratch space.
func resampleMedian(rng *rand.Rand, sorted []float64, counts []int) float64 {
	n := len(sorted)
	clear(counts)
	for range n {
		counts[rng.IntN(n)]++
	}
	lo, hi := (n-1)/2, n/2 // ranks of the middle value(s)
	var vlo float64
	seen := 0
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if seen <= lo && lo < seen+c {
			vlo = sorted[i]
		}
		if seen <= hi && hi < seen+c {
			return (vlo + sorted[i]) / 2
		}
		seen += c
	}
	return vlo // not reached
}
