package loader_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

func TestPrometheusExposition(t *testing.T) {
	t.Parallel()
	pool, err := store.Open(t.Context(), "postgres://postgres@127.0.0.1:1/x?connect_timeout=1", 1)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	l, err := loader.New(pool, pool, loader.Config{Plant: plant.Of(plant.SplitCheckpoint)})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	l.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	text := string(b)
	for _, want := range []string{
		"# HELP pipeline_loader_lag_seconds ",
		"# TYPE pipeline_loader_lag_seconds gauge",
		"pipeline_loader_lag_seconds 0",
		"pipeline_loader_checkpoint 0",
		"pipeline_loader_quarantine_events 0",
		`pipeline_loader_state{state="starting"} 1`,
		`pipeline_loader_state{state="backoff"} 0`,
		"# TYPE pipeline_loader_retries_total counter",
		"pipeline_loader_retries_total 0",
		"# TYPE pipeline_loader_warehouse_write_duration_seconds histogram",
		`pipeline_planted_defect{defect="split-checkpoint"} 1`,
	} {
		assert.Contains(t, text, want)
	}
}
