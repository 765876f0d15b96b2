package collector_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

// unreachable returns a collector whose lake refuses connections.
func unreachable(t *testing.T) *collector.Server {
	t.Helper()
	ln, err := closedAddr()
	require.NoError(t, err)
	pool, err := store.Open(t.Context(), "postgres://postgres@"+ln+"/lake?connect_timeout=1", 2)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return collector.New(pool, collector.Config{LakeTimeout: time.Second})
}

func post(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body)))
	return rec
}

func TestLakeUnreachableGets503NeverAck(t *testing.T) {
	t.Parallel()
	s := unreachable(t)
	rec := post(t, s, "["+item("a")+"]")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	var p collector.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Contains(t, p.Error, "nothing acknowledged")
	assert.NotContains(t, rec.Body.String(), "accepted")
	m := s.Metrics()
	assert.Equal(t, int64(1), m.UnavailableBatches)
	assert.Zero(t, m.AcceptedEvents)

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestInvalidBatchIs400WithReasons(t *testing.T) {
	t.Parallel()
	s := unreachable(t) // validation happens before any lake access
	rec := post(t, s, "["+item("a")+`,{"id":"b","source":"s","ts":"t","payload":5}]`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	var p collector.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Len(t, p.Items, 1)
	assert.Equal(t, 1, p.Items[0].Index)
	assert.Equal(t, "b", p.Items[0].ID)
	assert.Contains(t, p.Items[0].Reason, "payload")
	assert.Contains(t, p.Error, "nothing stored")

	rec = post(t, s, strings.Repeat(" ", collector.MaxBodyBytes+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/events", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
