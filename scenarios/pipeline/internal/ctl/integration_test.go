package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/ctl"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/pgtest"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/verify"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "ctl")) }

type sys struct {
	t              *testing.T
	lakeDSN, whDSN string
	lake, wh       *pgxpool.Pool
	stopLoader     func()
	running        *loader.Loader
}

func newSys(t *testing.T) *sys {
	t.Helper()
	dbs := pgtest.DBs(t, "lake", "wh")
	s := &sys{t: t, lakeDSN: dbs[0], whDSN: dbs[1], lake: pgtest.Pool(t, dbs[0]), wh: pgtest.Pool(t, dbs[1])}
	require.NoError(t, store.MigrateLake(t.Context(), s.lake))
	return s
}

// startLoader runs an in-process loader until stopLoader or the test ends.
func (s *sys) startLoader(corrupt string) {
	s.t.Helper()
	l, err := loader.New(s.lake, s.wh, loader.Config{Poll: 10 * time.Millisecond, Heartbeat: 50 * time.Millisecond, Corrupt: corrupt})
	require.NoError(s.t, err)
	s.running = l
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.Run(ctx); close(done) }()
	s.stopLoader = func() { cancel(); <-done }
	s.t.Cleanup(s.stopLoader)
}

func (s *sys) ctl(args ...string) (int, map[string]any, string) {
	s.t.Helper()
	var out, errb bytes.Buffer
	env := func(k string) string {
		return map[string]string{"LAKE_DSN": s.lakeDSN, "WAREHOUSE_DSN": s.whDSN}[k]
	}
	code := ctl.Main(s.t.Context(), append([]string{"--json"}, args...), &out, &errb, env)
	var doc map[string]any
	if out.Len() > 0 {
		require.NoError(s.t, json.Unmarshal(out.Bytes(), &doc), "stdout is one JSON object: %s", out.String())
	}
	return code, doc, errb.String()
}

func (s *sys) head() int64 {
	var h int64
	require.NoError(s.t, s.lake.QueryRow(s.t.Context(), `SELECT coalesce(max(seq), 0) FROM raw_events`).Scan(&h))
	return h
}

func (s *sys) caughtUp() {
	s.t.Helper()
	h := s.head()
	require.Eventually(s.t, func() bool {
		c, err := store.ReadControl(s.t.Context(), s.wh)
		return err == nil && c.Checkpoint == h
	}, 20*time.Second, 10*time.Millisecond, "loader catches up to %d", h)
}

func (s *sys) diff(v int) verify.Diff {
	s.t.Helper()
	d, err := pgtest.Compare(s.t.Context(), s.lake, s.wh, v, -1)
	require.NoError(s.t, err)
	return d
}

func (s *sys) seed(from, to, badEvery int) {
	s.t.Helper()
	require.NoError(s.t, pgtest.Seed(s.t.Context(), s.lake, "e", from, to, badEvery))
}

func TestIntegrationStatusPauseResume(t *testing.T) {
	t.Parallel()
	s := newSys(t)
	// before any loader ran: degraded (never reported), exit 3
	code, doc, _ := s.ctl("status")
	assert.Equal(t, ctl.ExitDegraded, code)
	assert.Contains(t, doc["degraded"], "loader has never reported (is it running?)")

	s.startLoader("")
	s.seed(0, 300, 0)
	s.caughtUp()
	require.Eventually(t, func() bool { c, _, _ := s.ctl("status"); return c == ctl.ExitOK }, 5*time.Second, 20*time.Millisecond)
	_, doc, _ = s.ctl("status")
	assert.Equal(t, true, doc["ok"])
	assert.EqualValues(t, 300, doc["lake_head"])
	assert.EqualValues(t, 300, doc["checkpoint"])
	assert.EqualValues(t, 300, doc["warehouse_events"])
	assert.EqualValues(t, 0, doc["lag_events"])

	code, doc, _ = s.ctl("pause", "--reason", "drill")
	require.Equal(t, ctl.ExitOK, code)
	assert.Equal(t, true, doc["paused"])
	code, _, _ = s.ctl("pause", "--reason", "drill") // idempotent
	require.Equal(t, ctl.ExitOK, code)
	// steps are sequential: once a step has seen the flag, no batch is in flight
	require.Eventually(t, func() bool { return s.running.Metrics().State == loader.StatePaused }, 5*time.Second, 5*time.Millisecond)
	h := s.head()
	s.seed(300, 400, 0)
	time.Sleep(200 * time.Millisecond)
	c, err := store.ReadControl(t.Context(), s.wh)
	require.NoError(t, err)
	assert.Equal(t, h, c.Checkpoint, "paused: nothing loaded")
	code, doc, _ = s.ctl("status")
	assert.Equal(t, ctl.ExitDegraded, code)
	assert.EqualValues(t, 100, doc["lag_events"])
	assert.Contains(t, doc["degraded"], "loader paused: drill (pipelinectl resume)")

	for range 2 { // idempotent
		code, doc, _ = s.ctl("resume")
		require.Equal(t, ctl.ExitOK, code)
		assert.Equal(t, false, doc["paused"])
	}
	s.caughtUp()
	assert.True(t, s.diff(1).Empty())

	// loader gone: status notices the stale heartbeat
	s.stopLoader()
	code, doc, _ = s.ctl("status", "--max-heartbeat-age", "1ms")
	assert.Equal(t, ctl.ExitOK, code, "a loader that stopped cleanly with nothing waiting is fine: %v", doc)
	s.seed(400, 401, 0)
	code, doc, _ = s.ctl("status")
	assert.Equal(t, ctl.ExitDegraded, code)
	assert.Contains(t, doc["degraded"], "loader stopped with events waiting")
}

func TestIntegrationPoisonSchemaFixRequeue(t *testing.T) {
	t.Parallel()
	s := newSys(t)
	s.startLoader("")
	s.seed(0, 1000, 7) // every 7th has a string amount
	s.caughtUp()
	d := s.diff(1)
	require.True(t, d.Empty(), d.String())
	require.Equal(t, 143, d.Quarantined)

	code, doc, _ := s.ctl("status")
	assert.Equal(t, ctl.ExitDegraded, code)
	assert.EqualValues(t, 143, doc["quarantine"])

	// requeue before the fix: nothing moves, reasons stay
	code, doc, _ = s.ctl("requeue-quarantine")
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, 143, doc["rows"])
	assert.EqualValues(t, 0, doc["loaded"])
	assert.EqualValues(t, 143, doc["quarantined"])

	code, doc, _ = s.ctl("schema")
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, 1, doc["schema_version"])
	code, doc, _ = s.ctl("schema", "--set", "2")
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, 2, doc["schema_version"])

	for i, want := range []float64{143, 0} { // second run: nothing left, idempotent
		code, doc, _ = s.ctl("requeue-quarantine", "--batch", "50")
		require.Equal(t, ctl.ExitOK, code)
		assert.InDelta(t, want, doc["loaded"], 0, "run %d", i)
	}
	d = s.diff(2)
	assert.True(t, d.Empty(), d.String())
	assert.Equal(t, 0, d.Quarantined)
	assert.Equal(t, 1000, d.Events)

	// new poison-shaped events now pass: the loader reads the version per batch
	s.seed(1000, 1100, 7)
	s.caughtUp()
	d = s.diff(2)
	assert.True(t, d.Empty(), d.String())
	require.Eventually(t, func() bool { c, _, _ := s.ctl("status"); return c == ctl.ExitOK }, 5*time.Second, 20*time.Millisecond)
}

func TestIntegrationBadDeployBackfill(t *testing.T) {
	t.Parallel()
	s := newSys(t)
	s.startLoader("")
	s.seed(0, 500, 0)
	s.caughtUp()
	s.stopLoader()

	// the bad deploy: a loader that multiplies amounts by 100
	s.startLoader("amount")
	from := s.head() + 1
	s.seed(500, 800, 0)
	s.caughtUp()
	to := s.head()
	s.stopLoader()
	s.startLoader("")
	s.seed(800, 1000, 0)
	s.caughtUp()

	d := s.diff(1)
	require.Len(t, d.Wrong, 300, "the bad window is corrupt: %s", d)
	assert.Empty(t, d.Missing)

	// a backfill outside the window changes nothing; of another source only its rows
	code, doc, _ := s.ctl("backfill", "--from", "1", "--to", strconv.FormatInt(from-1, 10))
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, from-1, doc["rows"])
	assert.Len(t, s.diff(1).Wrong, 300)
	code, doc, _ = s.ctl("backfill", "--from", strconv.FormatInt(from, 10), "--to", strconv.FormatInt(to, 10), "--source", "src0")
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, 100, doc["rows"])
	assert.Len(t, s.diff(1).Wrong, 200)

	for range 2 { // the repair, twice: idempotent
		code, doc, _ = s.ctl("backfill", "--from", strconv.FormatInt(from, 10), "--to", strconv.FormatInt(to, 10), "--batch", "64")
		require.Equal(t, ctl.ExitOK, code)
		assert.EqualValues(t, 300, doc["rows"])
		assert.EqualValues(t, 300, doc["loaded"])
		assert.Positive(t, doc["rows_per_second"])
		assert.EqualValues(t, from, doc["first_seq"])
		assert.EqualValues(t, to, doc["last_seq"])
	}
	d = s.diff(1)
	assert.True(t, d.Empty(), d.String())

	// time windows (received_at) work too
	var t0, t1 time.Time
	require.NoError(t, s.lake.QueryRow(t.Context(), `SELECT min(received_at), max(received_at) FROM raw_events`).Scan(&t0, &t1))
	code, doc, _ = s.ctl("backfill", "--from", t0.Format(time.RFC3339Nano), "--to", t1.Format(time.RFC3339Nano))
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, 1000, doc["rows"])
	code, doc, _ = s.ctl("backfill", "--from", "999999", "--to", "1000000")
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, 0, doc["rows"])
}

func TestIntegrationWipeAndReplay(t *testing.T) {
	t.Parallel()
	s := newSys(t)
	s.startLoader("")
	s.seed(0, 2000, 11)
	s.caughtUp()
	require.True(t, s.diff(1).Empty())

	code, _, stderr := s.ctl("wipe")
	assert.Equal(t, ctl.ExitUsage, code)
	assert.Contains(t, stderr, "--yes")
	assert.True(t, s.diff(1).Empty(), "refused wipe changed nothing")

	code, doc, _ := s.ctl("wipe", "--yes")
	require.Equal(t, ctl.ExitOK, code)
	assert.EqualValues(t, 2000, doc["rows"])
	s.caughtUp() // the running loader replays from 0
	d := s.diff(1)
	assert.True(t, d.Empty(), d.String())
	assert.Equal(t, 2000-182, d.Events)

	s.stopLoader()
	for range 2 { // idempotent, also with no loader running
		code, _, _ = s.ctl("wipe", "--yes")
		require.Equal(t, ctl.ExitOK, code)
	}
	code, doc, _ = s.ctl("status")
	assert.Equal(t, ctl.ExitDegraded, code)
	assert.EqualValues(t, 0, doc["checkpoint"])
	assert.EqualValues(t, 2000, doc["lag_events"])
}

func TestIntegrationUnreachableIsExit1(t *testing.T) {
	t.Parallel()
	s := newSys(t)
	proxy := pgtest.NewProxy(t, pgtest.HostPort(t, s.lakeDSN))
	proxy.Cut()
	var out, errb bytes.Buffer
	env := func(k string) string {
		return map[string]string{"LAKE_DSN": pgtest.Via(t, s.lakeDSN, proxy.Addr), "WAREHOUSE_DSN": s.whDSN}[k]
	}
	code := ctl.Main(t.Context(), []string{"status", "--json", "--timeout", "5s"}, &out, &errb, env)
	assert.Equal(t, ctl.ExitFailure, code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.NotEmpty(t, doc["lake_error"], "status still reports what it could read")
	assert.Empty(t, doc["warehouse_error"])
	out.Reset()
	code = ctl.Main(t.Context(), []string{"backfill", "--from", "1", "--to", "2"}, &out, &errb, env)
	assert.Equal(t, ctl.ExitFailure, code)
}
