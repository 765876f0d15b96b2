package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressThrottle(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	p := NewProgress(&buf, true)
	p.now = clk.now
	slis := map[string]float64{"success_ratio": 0.999, "p99_ms": 42}
	// 40 updates over one second: at most 4 lines (plus the final one from Done).
	for i := range 40 {
		p.Update("fault", time.Duration(i)*25*time.Millisecond, slis)
		clk.t = clk.t.Add(25 * time.Millisecond)
	}
	p.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.LessOrEqual(t, len(lines), 5)
	assert.GreaterOrEqual(t, len(lines), 4)
	assert.Equal(t, "firedrill fault            0.0s  p99_ms=42  success_ratio=0.999", lines[0])
	assert.Contains(t, lines[len(lines)-1], "1.0s", "Done prints the last held-back update")
}

func TestProgressQuiet(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false)
	p.Update("steady", time.Second, nil)
	p.Done()
	assert.Empty(t, buf.String())
	var nilP *Progress
	nilP.Update("x", 0, nil) // must not panic
	nilP.Done()
}

func TestProgressInPlace(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	p := &Progress{w: &buf, enabled: true, inPlace: true, now: clk.now}
	p.Update("warmup-long-phase", time.Second, nil)
	clk.t = clk.t.Add(time.Second)
	p.Update("fault", 2*time.Second, nil)
	p.Done()
	out := buf.String()
	assert.True(t, strings.HasPrefix(out, "\rfiredrill warmup-long-phase"))
	assert.Contains(t, out, "\rfiredrill fault")
	assert.True(t, strings.HasSuffix(out, "\n"))
	// The shorter second line blanks what is left of the first.
	second := out[strings.LastIndex(out, "\r"):]
	assert.Len(t, strings.TrimSuffix(second, "\n"), len("\rfiredrill warmup-long-phase     1.0s"))
}
