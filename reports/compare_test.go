package reports_test

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
)

func runsWith(start time.Time, name string, samples []float64) []reports.Run {
	return reportstest.WithTTRs(start, map[string][]float64{name: samples}, []string{name})
}

func TestCompareFindsPlantedRegression(t *testing.T) {
	// Ten samples each side, 30% slower recovery in head, 5% noise; several
	// seeds so the result is not one lucky draw.
	for seed := uint64(1); seed <= 10; seed++ {
		base := runsWith(reportstest.Epoch, "loader-crash", reportstest.Samples(seed, 10, 4*time.Second, 0.05))
		head := runsWith(reportstest.Epoch, "loader-crash", reportstest.Samples(seed+1000, 10, 5200*time.Millisecond, 0.05))
		cs := reports.Compare(base, head, reports.CompareOptions{})
		require.Len(t, cs, 1)
		c := cs[0]
		assert.Equal(t, reports.Regression, c.Verdict, "seed %d: %+v", seed, c)
		assert.InDelta(t, 0.30, c.Change, 0.10, "seed %d", seed)
		assert.Less(t, c.P, 0.01)
		assert.Less(t, c.CILow, c.Change)
		assert.Greater(t, c.CIHigh, c.Change)
		assert.Greater(t, c.CILow, 0.0, "CI excludes zero")
	}
}

func TestCompareSameDistributionRarelyFlagged(t *testing.T) {
	flagged := 0
	for pair := uint64(0); pair < 20; pair++ {
		base := runsWith(reportstest.Epoch, "lake-outage", reportstest.Samples(100+pair, 10, 5*time.Second, 0.10))
		head := runsWith(reportstest.Epoch, "lake-outage", reportstest.Samples(200+pair, 10, 5*time.Second, 0.10))
		c := reports.Compare(base, head, reports.CompareOptions{})[0]
		if c.Significant {
			flagged++
		}
	}
	assert.LessOrEqual(t, flagged, 2, "pairs from one distribution flagged as changed")

	// The p-value alone (threshold 0) keeps near its nominal false-positive rate too.
	pFlag := 0
	for pair := uint64(0); pair < 20; pair++ {
		base := runsWith(reportstest.Epoch, "x", reportstest.Samples(300+pair, 10, 5*time.Second, 0.10))
		head := runsWith(reportstest.Epoch, "x", reportstest.Samples(400+pair, 10, 5*time.Second, 0.10))
		if reports.Compare(base, head, reports.CompareOptions{})[0].P < 0.05 {
			pFlag++
		}
	}
	assert.LessOrEqual(t, pFlag, 3)
}

func TestCompareDeterministic(t *testing.T) {
	base := runsWith(reportstest.Epoch, "d", reportstest.Samples(1, 12, 3*time.Second, 0.1))
	head := runsWith(reportstest.Epoch, "d", reportstest.Samples(2, 12, 3300*time.Millisecond, 0.1))
	a := reports.Compare(base, head, reports.CompareOptions{})
	b := reports.Compare(base, head, reports.CompareOptions{})
	assert.Equal(t, a, b)
}

func TestCompareEdgeCases(t *testing.T) {
	t.Run("only one side", func(t *testing.T) {
		base := runsWith(reportstest.Epoch, "a", []float64{1, 2})
		head := runsWith(reportstest.Epoch, "b", []float64{1, 2})
		cs := reports.Compare(base, head, reports.CompareOptions{})
		require.Len(t, cs, 2)
		assert.Equal(t, reports.Incomplete, cs[0].Verdict)
		assert.Equal(t, "drill only in base", cs[0].Note)
		assert.Equal(t, "drill only in head", cs[1].Note)
		err := reports.MatchDrills(base, head)
		require.ErrorIs(t, err, reports.ErrMismatch)
		assert.EqualError(t, err, "base and head hold different drills: only in base: a; only in head: b")
	})
	t.Run("single samples never significant", func(t *testing.T) {
		c := reports.Compare(runsWith(reportstest.Epoch, "a", []float64{1}), runsWith(reportstest.Epoch, "a", []float64{10}), reports.CompareOptions{})[0]
		assert.Equal(t, reports.NoChange, c.Verdict)
		assert.InDelta(t, 9.0, c.Change, 1e-9)
		assert.Contains(t, c.Note, "only 1 sample")
	})
	t.Run("zero ttr both sides", func(t *testing.T) {
		c := reports.Compare(runsWith(reportstest.Epoch, "a", []float64{0, 0, 0}), runsWith(reportstest.Epoch, "a", []float64{0, 0, 0}), reports.CompareOptions{})[0]
		assert.InDelta(t, 0.0, c.Change, 1e-12)
		assert.InDelta(t, 1.0, c.P, 1e-12)
	})
	t.Run("invalid samples are left out and counted", func(t *testing.T) {
		base := runsWith(reportstest.Epoch, "a", []float64{1, 1.1, 0.9, 1, 1.05})
		head := runsWith(reportstest.Epoch, "a", []float64{1, 1.1, 0.9, 1, 1.05})
		head[0].Drills[0].Measures.TTR.Valid = false // no impact recorded: no TTR, but recovered
		head[1].Drills[0].Error = "never restored"
		c := reports.Compare(base, head, reports.CompareOptions{})[0]
		assert.Len(t, c.Head, 3)
		assert.Equal(t, 2, c.HeadMissing)
		assert.Equal(t, 1, c.HeadNotRestored, "only the errored sample counts as not restored")
		assert.Contains(t, c.Note, "left out: 0 in base, 1 in head", "the note counts the sample without a TTR; the errored one has its own verdict")
		assert.Equal(t, reports.NotRestored, c.Verdict)
	})
	t.Run("empty side", func(t *testing.T) {
		assert.EqualError(t, reports.MatchDrills(nil, runsWith(reportstest.Epoch, "a", []float64{1})), "base holds no drills")
	})
}

// notRestored marks sample i of the single-drill runs as not recovered in
// one of the three ways a drill can fail to come back.
func notRestored(runs []reports.Run, i int, how string) {
	d := &runs[i].Drills[0]
	switch how {
	case "restored false":
		d.Restored = false
	case "no ttr after impact":
		impact := reportstest.Epoch
		d.Timeline.Impact = &impact
		d.Measures.TTR = reports.Measure{}
	case "error":
		d.Error = "steady state never returned"
	}
}

// Before, a head sample that never recovered had no TTR and was dropped:
// with every head sample down the verdict was "incomplete" and
// `firedrill compare` exited 0, so a release that never recovers passed.
func TestCompareNotRestoredHeadIsRegression(t *testing.T) {
	for _, tc := range []struct {
		name      string
		how       string
		down      int  // head samples (of 6) not restored
		wantMedNa bool // no head sample recovered: no head median
	}{
		{name: "0 of 6 restored", how: "restored false", down: 6, wantMedNa: true},
		{name: "1 of 6 not restored", how: "restored false", down: 1},
		{name: "ttr invalid after impact", how: "no ttr after impact", down: 2},
		{name: "drill errored", how: "error", down: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := runsWith(reportstest.Epoch, "loader-crash", reportstest.Samples(1, 6, 3*time.Second, 0.05))
			// Head recovers as fast as base when it recovers at all.
			head := runsWith(reportstest.Epoch, "loader-crash", reportstest.Samples(2, 6, 3*time.Second, 0.05))
			for i := range tc.down {
				notRestored(head, i, tc.how)
			}
			cs := reports.Compare(base, head, reports.CompareOptions{})
			require.Len(t, cs, 1)
			c := cs[0]
			assert.Equal(t, reports.NotRestored, c.Verdict)
			assert.Equal(t, tc.down, c.HeadNotRestored)
			assert.Len(t, c.Head, 6-tc.down, "samples that never recovered give no TTR")
			regs := reports.Regressions(cs)
			require.Len(t, regs, 1, "counted as a regression")
			assert.Equal(t, "loader-crash", regs[0].Drill)
			assert.Equal(t, tc.wantMedNa, math.IsNaN(c.HeadMedian))

			var buf bytes.Buffer
			require.NoError(t, reports.WriteComparisons(&buf, cs, reports.CompareOptions{}))
			assert.Contains(t, buf.String(), fmt.Sprintf("regression: not restored in %d of 6 head samples", tc.down))
			assert.Contains(t, buf.String(), "1 drill(s) not restored in some head sample")
		})
	}
}

// A base that never recovered while head does is progress, not a
// regression; the comparison says so in a note.
func TestCompareNotRestoredBaseIsNote(t *testing.T) {
	base := runsWith(reportstest.Epoch, "loader-crash", reportstest.Samples(1, 6, 3*time.Second, 0.05))
	head := runsWith(reportstest.Epoch, "loader-crash", reportstest.Samples(2, 6, 3*time.Second, 0.05))
	for i := range 6 {
		notRestored(base, i, "restored false")
	}
	c := reports.Compare(base, head, reports.CompareOptions{})[0]
	assert.Equal(t, reports.Incomplete, c.Verdict, "no base TTR to compare with")
	assert.Equal(t, 6, c.BaseNotRestored)
	assert.Contains(t, c.Note, "base not restored in 6 of 6 samples")
	assert.Empty(t, reports.Regressions([]reports.Comparison{c}))

	base = runsWith(reportstest.Epoch, "loader-crash", reportstest.Samples(1, 6, 3*time.Second, 0.05))
	notRestored(base, 0, "error")
	c = reports.Compare(base, head, reports.CompareOptions{})[0]
	assert.Equal(t, reports.NoChange, c.Verdict)
	assert.Contains(t, c.Note, "base not restored in 1 of 6 samples")
	assert.Empty(t, reports.Regressions([]reports.Comparison{c}))
}

// compareSamples compares head against base, one drill of those TTRs.
func compareSamples(t *testing.T, base, head []float64) reports.Comparison {
	t.Helper()
	cs := reports.Compare(runsWith(reportstest.Epoch, "d", base), runsWith(reportstest.Epoch, "d", head), reports.CompareOptions{})
	require.Len(t, cs, 1)
	return cs[0]
}

// The Mann-Whitney U test is benchstat's (golang.org/x/perf/benchmath);
// these pin the statistic and p-value Compare reports.
func TestCompareMannWhitney(t *testing.T) {
	// Exact: complete separation of 5 and 5 gives p = 2/C(10,5) = 2/252.
	c := compareSamples(t, []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5})
	assert.InDelta(t, 0.0, c.U, 1e-12)
	assert.InDelta(t, 2.0/252, c.P, 1e-12)
	// Symmetric.
	c2 := compareSamples(t, []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10})
	assert.InDelta(t, 25.0, c2.U, 1e-12)
	assert.InDelta(t, c.P, c2.P, 1e-12)
	// R: wilcox.test(c(1.83,0.50,1.62,2.48,1.68,1.88,1.55,3.06,1.30), c(0.878,0.647,0.598,2.05,1.06,1.29,1.06,3.14,1.29)) -> W = 58, p-value = 0.1329
	// R uses the normal approximation there (ties in y); benchmath uses the
	// exact distribution with ties, p = 0.1299.
	x := []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	y := []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
	c = compareSamples(t, y, x)
	assert.InDelta(t, 58.0, c.U, 1e-12)
	assert.InDelta(t, 0.1329, c.P, 0.005)
	// All equal: no evidence at all.
	c = compareSamples(t, []float64{1, 1, 1}, []float64{1, 1, 1})
	assert.InDelta(t, 1.0, c.P, 1e-12)
	c = compareSamples(t, nil, []float64{1})
	assert.InDelta(t, 1.0, c.P, 1e-12)
}

func TestCompareMannWhitneyExactMatchesNormalForLargeSamples(t *testing.T) {
	// Without ties, n = 30 per side uses the exact distribution; with one
	// tie (over benchmath's exact limit for ties) the normal approximation.
	// They must be close at that size.
	a := reportstest.Samples(1, 30, time.Second, 0.1)
	b := reportstest.Samples(2, 30, 1050*time.Millisecond, 0.1)
	exact := compareSamples(t, b, a).P
	approx := compareSamples(t, append(b, 5), append(a, 5)).P // one tie forces the approximation
	assert.InDelta(t, exact, approx, 0.05)
}

func TestCompareInterval(t *testing.T) {
	base := []float64{1, 1, 1, 1, 1, 1, 1, 1}
	head := []float64{2, 2, 2, 2, 2, 2, 2, 2}
	c := compareSamples(t, base, head)
	assert.InDelta(t, 1.0, c.CILow, 1e-12)
	assert.InDelta(t, 1.0, c.CIHigh, 1e-12)
	c = compareSamples(t, []float64{0, 0, 0, 0, 0, 0, 0, 0}, head)
	assert.True(t, math.IsNaN(c.CILow), "no relative change from a zero base")
	// Too few samples for the order-statistic interval: unbounded, not made up.
	c = compareSamples(t, []float64{1, 1.1, 0.9}, []float64{2, 2.1, 1.9})
	assert.InDelta(t, -1.0, c.CILow, 1e-12)
	assert.True(t, math.IsInf(c.CIHigh, 1))
	assert.Contains(t, c.Note, "too few samples for a bounded CI")
	assert.InDelta(t, 2.5, reports.Median([]float64{4, 1, 3, 2}), 1e-12)
	assert.True(t, math.IsNaN(reports.Median(nil)))
}

// compareLoad is 50 drills with 20 samples each side.
func compareLoad() (base, head []reports.Run) {
	samples := map[string][]float64{}
	heads := map[string][]float64{}
	var names []string
	for i := range 50 {
		name := fmt.Sprintf("drill-%02d", i)
		names = append(names, name)
		samples[name] = reportstest.Samples(uint64(i), 20, time.Duration(1+i%7)*time.Second, 0.1)
		heads[name] = reportstest.Samples(uint64(i+100), 20, time.Duration(1+i%7)*time.Second, 0.1)
	}
	return reportstest.WithTTRs(reportstest.Epoch, samples, names), reportstest.WithTTRs(reportstest.Epoch, heads, names)
}

func TestCompareFast(t *testing.T) {
	base, head := compareLoad()
	start := time.Now()
	cs := reports.Compare(base, head, reports.CompareOptions{})
	took := time.Since(start)
	require.Len(t, cs, 50)
	t.Logf("compare 50 drills x 20 samples: %v", took)
	// Target is 1 s; generous tolerance for a loaded CI machine or -race.
	assert.Less(t, took, 5*time.Second)
}

func BenchmarkCompare50x20(b *testing.B) {
	base, head := compareLoad()
	b.ResetTimer()
	for b.Loop() {
		reports.Compare(base, head, reports.CompareOptions{})
	}
}
