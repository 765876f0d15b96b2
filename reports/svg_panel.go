package reports

import (
	"fmt"
	"io"
	"math"
	"time"
)

// panel draws one SLI series: frame, unhealthy buckets, gridlines with
// their values, and the line.
type panel struct {
	tl     *timeline
	s      Series
	col    string
	top    float64
	lo, hi float64 // value range, bottom to top
	bucket time.Duration
}

func (tl *timeline) panel(idx int, s Series) panel {
	bucket := tl.d.Bucket.D()
	if bucket <= 0 {
		bucket = 100 * time.Millisecond
	}
	lo, hi := valueRange(s)
	return panel{
		tl: tl, s: s, col: tl.p.Series[idx%len(tl.p.Series)],
		top: tl.lay.panelsTop + float64(idx)*(panelH+panelGap),
		lo:  lo, hi: hi, bucket: bucket,
	}
}

// valueRange spans the series' values and zero (a ratio spans 0 to 1 at
// least), with 5% headroom.
func valueRange(s Series) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range s.Points {
		if p.Present {
			lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	lo = math.Min(lo, 0)
	if s.Unit == "ratio" {
		lo, hi = math.Min(lo, 0), math.Max(hi, 1)
	}
	if hi <= lo {
		hi = lo + 1
	}
	hi += (hi - lo) * 0.05
	return lo, hi
}

func (p panel) y(v float64) float64 { return p.top + panelH - (v-p.lo)/(p.hi-p.lo)*panelH }

// at is the start of bucket i.
func (p panel) at(i int) time.Time { return p.s.Start.Add(time.Duration(i) * p.bucket) }

func (p panel) writeTo(w io.Writer) {
	fmt.Fprintf(w, `<g class="series" data-series="%s">`, esc(p.s.Name))
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s"/>`, tlLeft, p.top, p.tl.plotW, panelH, p.tl.p.Frame)
	p.unhealthy(w)
	p.grid(w)
	p.line(w)
	_, _ = io.WriteString(w, `</g>`) // a write error is sticky: Flush reports it
}

// unhealthy shades the unhealthy buckets, merged into runs.
func (p panel) unhealthy(w io.Writer) {
	x, healthy := p.tl.x, p.s.Healthy
	for i := 0; i < len(healthy); {
		if healthy[i] {
			i++
			continue
		}
		j := i
		for j < len(healthy) && !healthy[j] {
			j++
		}
		fmt.Fprintf(w, `<rect class="unhealthy" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" opacity="0.8"/>`,
			x(p.at(i)), p.top+1, math.Max(1, x(p.at(j))-x(p.at(i))), panelH-2, p.tl.p.Unhealthy)
		i = j
	}
}

// grid draws gridlines at lo, mid and hi, and labels the panel with the
// series name, the top value with the unit, and the bottom value.
func (p panel) grid(w io.Writer) {
	for _, v := range []float64{p.lo, (p.lo + p.hi) / 2, p.hi} {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`, tlLeft, p.y(v), tlLeft+p.tl.plotW, p.y(v), p.tl.p.Grid)
	}
	lx := tlLeft - 6
	fmt.Fprintf(w, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, lx, p.top+12, esc(clipText(p.s.Name, 18)))
	fmt.Fprintf(w, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end" style="font-size:10px">%s %s</text>`, lx, p.top+25, trimFloat(p.hi), esc(p.s.Unit))
	fmt.Fprintf(w, `<text class="lbl" x="%.1f" y="%.1f" text-anchor="end" style="font-size:10px">%s</text>`, lx, p.top+panelH-2, trimFloat(p.lo))
}

// line draws the series, broken where buckets have no data, downsampled
// to the minimum and maximum per group of buckets.
func (p panel) line(w io.Writer) {
	x := p.tl.x
	fmt.Fprintf(w, `<path fill="none" stroke="%s" stroke-width="1.3" stroke-linejoin="round" d="`, p.col)
	pen := false
	for _, pt := range downsample(p.s.Points, p.tl.cfg.maxPoints) {
		if !pt.present {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(w, "%s%.1f %.1f", cmd, x(p.at(0))+(x(p.at(1))-x(p.at(0)))*(pt.idx+0.5), p.y(pt.v))
		pen = true
	}
	_, _ = io.WriteString(w, `"/>`) // a write error is sticky: Flush reports it
}

type dsPoint struct {
	idx     float64 // bucket index (fractional centre allowed)
	v       float64
	present bool
}

// downsample keeps at most maxPts points: when there are more, buckets are
// grouped and each group contributes its minimum and maximum (in order), so
// spikes and dips stay visible. A group with no data breaks the line.
func downsample(ps []Point, maxPts int) []dsPoint {
	if len(ps) <= maxPts {
		out := make([]dsPoint, len(ps))
		for i, p := range ps {
			out[i] = dsPoint{float64(i), p.Value, p.Present}
		}
		return out
	}
	groups := maxPts / 2
	size := int(math.Ceil(float64(len(ps)) / float64(groups)))
	out := make([]dsPoint, 0, 2*groups)
	for g := 0; g < len(ps); g += size {
		out = appendExtremes(out, ps, g, min(g+size, len(ps)))
	}
	return out
}

// appendExtremes appends the minimum and maximum of ps[from:to] in bucket
// order (one point when they coincide), or a break when none is present.
func appendExtremes(out []dsPoint, ps []Point, from, to int) []dsPoint {
	mi, ma := -1, -1
	for i := from; i < to; i++ {
		if !ps[i].Present {
			continue
		}
		if mi < 0 || ps[i].Value < ps[mi].Value {
			mi = i
		}
		if ma < 0 || ps[i].Value > ps[ma].Value {
			ma = i
		}
	}
	if mi < 0 {
		return append(out, dsPoint{float64(from), 0, false})
	}
	first, second := min(mi, ma), max(mi, ma)
	out = append(out, dsPoint{float64(first), ps[first].Value, true})
	if second != first {
		out = append(out, dsPoint{float64(second), ps[second].Value, true})
	}
	return out
}
