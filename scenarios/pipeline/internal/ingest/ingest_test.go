package ingest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/ingest"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
)

func TestNewEventPassesCollectorAndSchema(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, tt := range []struct {
		cents  int64
		poison bool
		amount string
	}{{1250, false, "12.50"}, {-5, false, "-0.05"}, {-1234, false, "-12.34"}, {700, true, "7.00"}} {
		ev := ingest.NewEvent("id1", "web", ts, "u1", tt.cents, tt.poison)
		body, err := json.Marshal([]ingest.Event{ev})
		require.NoError(t, err)
		items, bad, err := collector.Validate(body)
		require.NoError(t, err)
		require.Empty(t, bad)
		row := schema.Row{EventID: ev.ID, Body: items[0].Raw}
		_, err = schema.Apply(1, row)
		assert.Equal(t, tt.poison, err != nil, "poison fails v1: %v", err)
		got, err := schema.Apply(2, row)
		require.NoError(t, err)
		assert.Equal(t, tt.amount, got.Amount)
		assert.True(t, got.TS.Equal(ts))
	}
}

func TestSendRetriesSameIDsUntilAcknowledged(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			_ = c.Close() // a broken connection
		default:
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"accepted":["a","b"],"new":2,"duplicates":0}`))
		}
	}))
	t.Cleanup(srv.Close)
	c := &ingest.Client{URL: srv.URL, Backoff: func(int) time.Duration { return time.Millisecond }}
	batch := []ingest.Event{ingest.NewEvent("a", "s", time.Now(), "u", 1, false), ingest.NewEvent("b", "s", time.Now(), "u", 2, false)}
	ids, attempts, err := c.Send(t.Context(), batch)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ids)
	assert.Equal(t, 3, attempts)
	require.Len(t, bodies, 3)
	assert.Equal(t, bodies[0], bodies[2], "a retry carries the same ids and bodies")
}

func TestSendStopsOnRejection(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid batch"}`))
	}))
	t.Cleanup(srv.Close)
	c := &ingest.Client{URL: srv.URL}
	_, attempts, err := c.Send(t.Context(), []ingest.Event{{ID: "x"}})
	require.ErrorIs(t, err, ingest.ErrRejected)
	assert.Equal(t, 1, attempts)
}
