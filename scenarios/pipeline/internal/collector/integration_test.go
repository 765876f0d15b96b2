package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/pgtest"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "collector")) }

func lakeIDs(t *testing.T, dsn string) map[string]int {
	t.Helper()
	pool := pgtest.Pool(t, dsn)
	rows, err := pool.Query(t.Context(), `SELECT event_id FROM raw_events`)
	require.NoError(t, err)
	ids := map[string]int{}
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids[id]++
	}
	require.NoError(t, rows.Err())
	return ids
}

func batch(ids ...string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = item(id)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestIntegrationIdempotentByID(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DBs(t, "lake")[0]
	pool := pgtest.Pool(t, dsn)
	s := collector.New(pool, collector.Config{})

	rec := post(t, s, batch("a", "b", "c"))
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	var acc collector.Accepted
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &acc))
	assert.Equal(t, []string{"a", "b", "c"}, acc.Accepted)
	assert.Equal(t, 3, acc.New)

	// a retry of the same batch, and an overlapping one: acknowledged, stored once
	rec = post(t, s, batch("a", "b", "c"))
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &acc))
	assert.Equal(t, 0, acc.New)
	assert.Equal(t, 3, acc.Duplicates)
	rec = post(t, s, batch("c", "d", "d"))
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &acc))
	assert.Equal(t, []string{"c", "d"}, acc.Accepted)
	assert.Equal(t, 1, acc.New)

	// an invalid batch stores nothing, not even its valid items
	rec = post(t, s, "["+item("e")+`,{"id":"f","source":"s","ts":"t","payload":"no"}]`)
	require.Equal(t, http.StatusBadRequest, rec.Code)

	assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}, lakeIDs(t, dsn))
	m := s.Metrics()
	assert.Equal(t, int64(4), m.NewEvents)
	assert.Equal(t, int64(4), m.DuplicateEvents)
	assert.Equal(t, int64(1), m.RejectedBatches)

	var body, source string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT body::text, source FROM raw_events WHERE event_id = 'a'`).Scan(&body, &source))
	assert.JSONEq(t, item("a"), body, "the lake keeps the item as sent")
	assert.Equal(t, "web", source)

	rr := httptest.NewRecorder()
	s.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusOK, rr.Code)
}

// TestIntegrationNeverAcksUncommitted cuts the lake off at random moments
// while clients write; every acknowledged id must be in the lake, and an
// at-least-once client (retry with the same id on 503) loses nothing.
func TestIntegrationNeverAcksUncommitted(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DBs(t, "lake")[0]
	proxy := pgtest.NewProxy(t, pgtest.HostPort(t, dsn))
	pool := pgtest.Pool(t, pgtest.Via(t, dsn, proxy.Addr))
	srv := httptest.NewServer(collector.New(pool, collector.Config{LakeTimeout: 500 * time.Millisecond}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	var (
		mu          sync.Mutex
		acked       = map[string]bool{}
		sent        = map[string]bool{}
		unavailable int
		retryAfter  = true
	)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 2 * time.Second}
			for n := 0; ctx.Err() == nil; n++ {
				ids := []string{fmt.Sprintf("w%d-%d-a", w, n), fmt.Sprintf("w%d-%d-b", w, n)}
				mu.Lock()
				for _, id := range ids {
					sent[id] = true
				}
				mu.Unlock()
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/events", bytes.NewBufferString(batch(ids...)))
				if err != nil {
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				var acc collector.Accepted
				_ = json.NewDecoder(resp.Body).Decode(&acc)
				resp.Body.Close()
				mu.Lock()
				switch resp.StatusCode {
				case http.StatusAccepted:
					for _, id := range acc.Accepted {
						acked[id] = true
					}
				case http.StatusServiceUnavailable:
					unavailable++
					retryAfter = retryAfter && resp.Header.Get("Retry-After") != ""
				default:
					t.Errorf("unexpected status %d", resp.StatusCode)
				}
				mu.Unlock()
			}
		}()
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for ctx.Err() == nil {
		time.Sleep(time.Duration(100+r.IntN(300)) * time.Millisecond)
		proxy.Cut()
		time.Sleep(time.Duration(100+r.IntN(300)) * time.Millisecond)
		proxy.Restore()
	}
	wg.Wait()
	proxy.Restore()

	stored := lakeIDs(t, dsn)
	var lost []string
	for id := range acked {
		if stored[id] != 1 {
			lost = append(lost, id)
		}
	}
	assert.Empty(t, lost, "acknowledged but not in the lake exactly once")
	assert.NotEmpty(t, acked)
	assert.Positive(t, unavailable, "the cuts produced 503s")
	assert.True(t, retryAfter, "every 503 has Retry-After")
	t.Logf("acked %d ids, %d 503s, lake has %d rows (unacked writes may have landed: at-least-once)", len(acked), unavailable, len(stored))

	// the at-least-once client: retry everything not acknowledged, with the same ids
	var retry []string
	for id := range sent {
		if !acked[id] {
			retry = append(retry, id)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(retry) > 0 {
		n := min(len(retry), 100)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/events", bytes.NewBufferString(batch(retry[:n]...)))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // a connection broken by the last cut: retry, as the client must
			continue
		}
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		retry = retry[n:]
	}
	stored = lakeIDs(t, dsn)
	assert.Len(t, stored, len(sent), "after retries every sent id is in the lake")
	for id, n := range stored {
		assert.Equal(t, 1, n, id)
	}
	var gaps int64
	require.NoError(t, pgtest.Pool(t, dsn).QueryRow(t.Context(), `SELECT max(seq) - count(*) FROM raw_events`).Scan(&gaps))
	t.Logf("seq gaps (harmless): %d", gaps)
	_ = store.LakeWriteLock
}

// TestIntegrationHungLakeIs503 blackholes the lake: the collector answers
// 503 within its lake timeout instead of hanging, and recovers.
func TestIntegrationHungLakeIs503(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DBs(t, "lake")[0]
	proxy := pgtest.NewProxy(t, pgtest.HostPort(t, dsn))
	pool := pgtest.Pool(t, pgtest.Via(t, dsn, proxy.Addr))
	s := collector.New(pool, collector.Config{LakeTimeout: 300 * time.Millisecond})
	require.Equal(t, http.StatusAccepted, post(t, s, batch("a")).Code)

	proxy.Hang()
	start := time.Now()
	rec := post(t, s, batch("b"))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Less(t, time.Since(start), 2*time.Second)

	proxy.Restore()
	require.Eventually(t, func() bool { return post(t, s, batch("b", "c")).Code == http.StatusAccepted }, 10*time.Second, 50*time.Millisecond)
	ids := lakeIDs(t, dsn)
	assert.Equal(t, 1, ids["a"])
	assert.Equal(t, 1, ids["b"])
	assert.Equal(t, 1, ids["c"])
}

// TestIntegrationLakeReplaced drops raw_events (a lake recreated empty): the
// collector answers 503 (nothing acknowledged), migrates again and accepts.
func TestIntegrationLakeReplaced(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DBs(t, "lake")[0]
	pool := pgtest.Pool(t, dsn)
	s := collector.New(pool, collector.Config{})
	require.Equal(t, http.StatusAccepted, post(t, s, batch("a")).Code)
	_, err := pool.Exec(t.Context(), `DROP TABLE raw_events`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, post(t, s, batch("b")).Code)
	assert.Equal(t, http.StatusAccepted, post(t, s, batch("b")).Code)
	assert.Equal(t, map[string]int{"b": 1}, lakeIDs(t, dsn))
}
