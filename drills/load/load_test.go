package load_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/load"
)

// schedule returns the intended offsets a pacer produces over d, as the
// generator computes them (virtual time, never the wall clock).
func schedule(p load.Pacer, d time.Duration) []time.Duration {
	var out []time.Duration
	var virt time.Duration
	for seq := uint64(0); ; seq++ {
		wait, stop := p.Pace(virt, seq)
		if stop {
			return out
		}
		virt += max(wait, 0)
		if virt >= d {
			return out
		}
		out = append(out, virt)
	}
}

func TestConstantPacer(t *testing.T) {
	s := schedule(load.Constant(100), time.Second)
	assert.Len(t, s, 99) // the first hit is at 10 ms, the 100th at 1 s
	assert.Equal(t, 10*time.Millisecond, s[0])
	assert.Equal(t, 20*time.Millisecond, s[1])
	assert.Empty(t, schedule(load.Constant(0), time.Second))
}

func TestStepsPacer(t *testing.T) {
	p := load.Steps(load.Rate(100, time.Second), load.Rate(0, 500*time.Millisecond), load.Rate(1000, time.Second))
	s := schedule(p, 3*time.Second)
	var first, pause, third int
	for _, at := range s {
		switch {
		case at < time.Second:
			first++
		case at < 1500*time.Millisecond:
			pause++
		case at < 2500*time.Millisecond:
			third++
		default:
			t.Fatalf("hit at %s after the last step", at)
		}
	}
	assert.InDelta(t, 100, first, 1)
	assert.Equal(t, 0, pause)
	assert.InDelta(t, 1000, third, 1)
	// Reset makes the pacer reusable.
	p.Reset()
	assert.Len(t, schedule(p, 3*time.Second), len(s))
}

func TestRampAndSine(t *testing.T) {
	s := schedule(load.Ramp(100, 300, time.Second), 2*time.Second)
	// 200 on average during the ramp, then 300.
	assert.InDelta(t, 200+300, len(s), 5)
	s = schedule(load.Sine(200, 100, time.Second), 2*time.Second)
	assert.InDelta(t, 400, len(s), 5)
}

type collect struct {
	mu        sync.Mutex
	scheduled int
	outcomes  []load.Outcome
}

func (c *collect) Scheduled(uint64, time.Time) { c.mu.Lock(); c.scheduled++; c.mu.Unlock() }
func (c *collect) Done(o load.Outcome) {
	c.mu.Lock()
	c.outcomes = append(c.outcomes, o)
	c.mu.Unlock()
}

func TestStalledSystemDoesNotSlowTheSchedule(t *testing.T) {
	// Every request blocks for 100 ms: a closed-model generator with a few
	// workers would fall behind; the open model starts more workers.
	op := func(ctx context.Context, seq uint64) (string, error) {
		select {
		case <-time.After(100 * time.Millisecond):
			return "id", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	w := load.New(load.Constant(1000), op, load.WithTimeout(time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	c := &collect{}
	st, err := w.Run(ctx, time.Time{}, c)
	require.NoError(t, err)
	assert.InDelta(t, 300, st.Requests, 30)
	assert.Equal(t, int(st.Requests), c.scheduled)
	assert.Len(t, c.outcomes, int(st.Requests), "every scheduled request reports once")
	assert.GreaterOrEqual(t, st.PeakWorkers, int64(80), "pool grew to cover ~100 requests in flight")
	// Late starts depend on the CPU the machine leaves us; the schedule
	// itself must not slip: intended times stay 1 ms apart.
	t.Logf("late starts: %.1f%%", 100*st.LateRatio())
	seen := map[uint64]time.Time{}
	for _, o := range c.outcomes {
		seen[o.Seq] = o.Intended
	}
	for seq := uint64(1); seq < uint64(len(seen)); seq++ {
		assert.Equal(t, time.Millisecond, seen[seq].Sub(seen[seq-1]))
	}
	for _, o := range c.outcomes {
		assert.GreaterOrEqual(t, o.Latency, 100*time.Millisecond)
		assert.Equal(t, o.End.Sub(o.Intended), o.Latency, "latency from intended time")
	}
}

func TestTimeoutIsAFailureAtTheTimeout(t *testing.T) {
	op := func(ctx context.Context, seq uint64) (string, error) {
		if seq%2 == 0 {
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "ack", nil
	}
	w := load.New(load.Constant(200), op, load.WithTimeout(50*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	c := &collect{}
	st, err := w.Run(ctx, time.Time{}, c)
	require.NoError(t, err)
	assert.Positive(t, st.TimedOut)
	assert.Equal(t, st.Failed, st.TimedOut)
	for _, o := range c.outcomes {
		if o.Seq%2 == 0 {
			assert.True(t, o.TimedOut)
			require.ErrorIs(t, o.Err, load.ErrTimeout)
			assert.Equal(t, o.Start.Add(50*time.Millisecond), o.End)
			assert.Empty(t, o.AckID)
		} else {
			assert.True(t, o.OK())
			assert.Equal(t, "ack", o.AckID)
		}
	}
}

func TestSaturationFailsInsteadOfWaiting(t *testing.T) {
	release := make(chan struct{})
	op := func(ctx context.Context, seq uint64) (string, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return "", nil
	}
	w := load.New(load.Constant(1000), op, load.WithMaxWorkers(10), load.WithTimeout(time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	var saturated atomic.Int64
	st, err := w.Run(ctx, time.Time{}, load.SinkFuncs{OnDone: func(o load.Outcome) {
		if errors.Is(o.Err, load.ErrSaturated) {
			saturated.Add(1)
		}
	}})
	close(release)
	require.NoError(t, err)
	assert.Equal(t, st.Saturated, saturated.Load())
	assert.Greater(t, st.Saturated, int64(50))
	assert.LessOrEqual(t, st.PeakWorkers, int64(10))
}

func TestBadOptionsAreReported(t *testing.T) {
	w := load.New(load.Constant(1), func(context.Context, uint64) (string, error) { return "", nil }, load.WithTimeout(-time.Second))
	require.ErrorContains(t, w.Validate(), "timeout must be positive")
	_, err := w.Run(t.Context(), time.Time{}, nil)
	require.Error(t, err)
	require.ErrorContains(t, load.Workload{}.Validate(), "no pacer")
}

func TestHTTPWorkload(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Id", r.URL.Query().Get("q"))
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	w := load.HTTP(load.Constant(500), load.Target{
		Method: http.MethodPost,
		URL:    srv.URL + "/v1?q=7",
		Body:   func(seq uint64) []byte { return []byte(`{}`) },
		Ack: func(seq uint64, resp *http.Response, body []byte) (string, error) {
			return resp.Header.Get("X-Id") + ":" + string(body), nil
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	c := &collect{}
	st, err := w.Run(ctx, time.Time{}, c)
	require.NoError(t, err)
	assert.Positive(t, st.OK)
	assert.Positive(t, st.Failed)
	for _, o := range c.outcomes {
		if o.OK() {
			assert.Equal(t, "7:ok", o.AckID)
		} else {
			assert.Contains(t, o.Err.Error(), "status 503: busy")
		}
	}
}
