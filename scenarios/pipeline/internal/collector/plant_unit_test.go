package collector_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

func unreachableWith(t *testing.T, set plant.Set) *collector.Server {
	t.Helper()
	ln, err := closedAddr()
	require.NoError(t, err)
	pool, err := store.Open(t.Context(), "postgres://postgres@"+ln+"/lake?connect_timeout=1", 2)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return collector.New(pool, collector.Config{LakeTimeout: time.Second, Plant: set})
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	return rec.Body.String()
}

// The planted defect acknowledges a batch the lake never got; the healthy
// build answers the same request with 503. Both count the failed commit.
func TestAckBeforeCommitAcknowledgesWhatTheLakeRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  plant.Set
		want int
	}{
		{"healthy", plant.Set{}, http.StatusServiceUnavailable},
		{"planted", plant.Of(plant.AckBeforeCommit), http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := unreachableWith(t, tc.set)
			rec := post(t, s, "["+item("a")+"]")
			assert.Equal(t, tc.want, rec.Code)
			if tc.want == http.StatusAccepted {
				var a collector.Accepted
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
				assert.Equal(t, []string{"a"}, a.Accepted, "a false acknowledgement: the lake is unreachable")
			}
			text := scrape(t, s)
			assert.Contains(t, text, "pipeline_collector_lake_commit_failures_total 1\n")
			assert.Contains(t, text, "pipeline_collector_lake_commits_total 1\n")
			if tc.set.Has(plant.AckBeforeCommit) {
				assert.Contains(t, text, `pipeline_planted_defect{defect="ack-before-commit"} 1`)
				assert.Contains(t, text, `pipeline_collector_requests_total{outcome="acknowledged"} 1`)
			} else {
				assert.NotContains(t, text, "pipeline_planted_defect{")
				assert.Contains(t, text, `pipeline_collector_requests_total{outcome="unavailable"} 1`)
			}
		})
	}
}

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	s := unreachable(t)
	post(t, s, `[{"id":"b","source":"s","ts":"t","payload":5}]`) // rejected
	text := scrape(t, s)
	for _, want := range []string{
		"# HELP pipeline_collector_requests_total ",
		"# TYPE pipeline_collector_requests_total counter",
		`pipeline_collector_requests_total{outcome="rejected"} 1`,
		`pipeline_collector_requests_total{outcome="acknowledged"} 0`,
		`pipeline_collector_requests_total{outcome="unavailable"} 0`,
		`pipeline_collector_events_total{outcome="rejected"} 1`,
		"# TYPE pipeline_collector_lake_commit_duration_seconds histogram",
		"pipeline_collector_lake_commit_failures_total 0",
		"pipeline_collector_lake_ready 0",
	} {
		assert.Contains(t, text, want)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics.json", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var m collector.Metrics
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
	assert.Equal(t, int64(1), m.RejectedBatches)
}
