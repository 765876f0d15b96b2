package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/pgtest"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

func TestMain(m *testing.M) {
	if os.Getenv("PIPELINE_LOADER_CHILD") == "1" {
		os.Exit(child())
	}
	os.Exit(pgtest.Main(m, "loader"))
}

// child runs a loader as a separate process (the test binary re-executed),
// so the test can SIGKILL it.
func child() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	lake, err := store.Open(ctx, os.Getenv("LAKE_DSN"), 4)
	if err != nil {
		return 2
	}
	wh, err := store.Open(ctx, os.Getenv("WAREHOUSE_DSN"), 4)
	if err != nil {
		return 2
	}
	planted, err := plant.Parse(os.Getenv(plant.Env))
	if err != nil {
		return 2
	}
	l, err := loader.New(lake, wh, loader.Config{Batch: 37, BatchMax: 37, Poll: 5 * time.Millisecond, Plant: planted})
	if err != nil {
		return 2
	}
	_ = l.Run(ctx)
	return 0
}

func startChild(t *testing.T, lake, wh string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(context.WithoutCancel(t.Context()), os.Args[0], "-test.run=^$") // killed by the test itself
	cmd.Env = append(append(os.Environ(), "PIPELINE_LOADER_CHILD=1", "LAKE_DSN="+lake, "WAREHOUSE_DSN="+wh), env...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

// checkAtomic asserts the invariant a crash must never break: the warehouse
// holds exactly the lake rows up to the checkpoint (each once, in events or
// quarantine) and nothing past it.
func checkAtomic(t *testing.T, ctx context.Context, lakeDSN, whDSN string) int64 {
	t.Helper()
	lake, wh := pgtest.Pool(t, lakeDSN), pgtest.Pool(t, whDSN)
	// one snapshot: the killed loader's last transaction may still commit
	// on the server after the process is gone
	d, cp, err := pgtest.CompareAtCheckpoint(ctx, lake, wh, 1)
	require.NoError(t, err)
	require.True(t, d.Empty(), "after a kill at checkpoint %d: %s", cp, d)
	return cp
}

func TestIntegrationExactlyOnceUnderSIGKILL(t *testing.T) {
	t.Parallel()
	dbs := pgtest.DBs(t, "lake", "wh")
	lakeDSN, whDSN := dbs[0], dbs[1]
	ctx := t.Context()
	lake := pgtest.Pool(t, lakeDSN)
	require.NoError(t, pgtest.Seed(ctx, lake, "k", 0, 3000, 10))
	require.NoError(t, store.MigrateWarehouse(ctx, pgtest.Pool(t, whDSN))) // a kill may come before the child migrates

	// keep writing while the loader is killed
	wctx, wcancel := context.WithCancel(ctx)
	writerDone := make(chan error, 1)
	go func() {
		n := 3000
		for wctx.Err() == nil {
			if err := pgtest.Seed(wctx, lake, "k", n, n+50, 10); err != nil && wctx.Err() == nil {
				writerDone <- err
				return
			}
			n += 50
			time.Sleep(20 * time.Millisecond)
		}
		writerDone <- nil
	}()

	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	const reps = 12
	var checkpoints []int64
	for i := range reps {
		cmd := startChild(t, lakeDSN, whDSN)
		time.Sleep(time.Duration(30+r.IntN(400)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_, _ = cmd.Process.Wait()
		cp := checkAtomic(t, ctx, lakeDSN, whDSN)
		checkpoints = append(checkpoints, cp)
		t.Logf("rep %d: killed, checkpoint %d", i, cp)
	}
	wcancel()
	require.NoError(t, <-writerDone)
	assert.Greater(t, checkpoints[len(checkpoints)-1], checkpoints[0], "progress across kills")

	// a last loader catches up; then warehouse == schema(lake), exactly once
	cmd := startChild(t, lakeDSN, whDSN)
	wh := pgtest.Pool(t, whDSN)
	var head int64
	require.NoError(t, lake.QueryRow(ctx, `SELECT max(seq) FROM raw_events`).Scan(&head))
	require.Eventually(t, func() bool {
		c, err := store.ReadControl(ctx, wh)
		return err == nil && c.Checkpoint == head
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_, _ = cmd.Process.Wait()
	d, err := pgtest.Compare(ctx, lake, wh, 1, -1)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
	assert.Equal(t, d.LakeRows/10+boolInt(d.LakeRows%10 != 0), d.Quarantined, "quarantine holds exactly the bad events (every 10th)")
	t.Logf("final: %s", d)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func metrics(t *testing.T, url string) loader.Metrics {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m loader.Metrics
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return m
}

// TestIntegrationBackoffNoCrash cuts the warehouse off: the loader keeps
// running, reports backoff and the error, records it once the warehouse is
// back, and catches up.
func TestIntegrationBackoffNoCrash(t *testing.T) {
	t.Parallel()
	dbs := pgtest.DBs(t, "lake", "wh")
	ctx := t.Context()
	lake := pgtest.Pool(t, dbs[0])
	proxy := pgtest.NewProxy(t, pgtest.HostPort(t, dbs[1]))
	wh := pgtest.Pool(t, pgtest.Via(t, dbs[1], proxy.Addr))
	l, err := loader.New(lake, wh, loader.Config{Poll: 10 * time.Millisecond, Heartbeat: 100 * time.Millisecond})
	require.NoError(t, err)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(lctx) }()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(l.Metrics()) })}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := fmt.Sprintf("http://%s/metrics", ln.Addr())

	require.NoError(t, pgtest.Seed(ctx, lake, "b", 0, 500, 0))
	require.Eventually(t, func() bool { m := l.Metrics(); return m.Checkpoint == 500 && m.LagEvents == 0 }, 10*time.Second, 10*time.Millisecond)

	proxy.Cut()
	require.NoError(t, pgtest.Seed(ctx, lake, "b", 500, 1000, 0))
	require.Eventually(t, func() bool { return l.Metrics().State == loader.StateBackoff }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return l.Metrics().LagSeconds > 1 }, 10*time.Second, 20*time.Millisecond,
		"lag keeps growing while the warehouse is away")
	m := metrics(t, url)
	assert.Equal(t, loader.StateBackoff, m.State)
	assert.Contains(t, m.LastError, "warehouse")
	assert.Positive(t, m.ErrorsTotal)
	assert.Positive(t, m.BackoffSeconds)
	assert.Equal(t, int64(500), m.Checkpoint)
	assert.Greater(t, m.LagSeconds, 1.0, "lag keeps growing while stuck")
	select {
	case err := <-done:
		t.Fatalf("the loader exited during an outage: %v", err)
	default:
	}

	proxy.Restore()
	require.Eventually(t, func() bool { m := l.Metrics(); return m.Checkpoint == 1000 && m.State == loader.StateRunning }, 15*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		s, err := store.ReadStatus(ctx, wh)
		return err == nil && s.LastError != "" && s.LastErrorAt != nil
	}, 5*time.Second, 20*time.Millisecond, "the outage's error is recorded in pipeline_status")
	d, err := pgtest.Compare(ctx, lake, wh, 1, -1)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
}

// TestIntegrationLagWhileWarehouseHangs blackholes the warehouse: the loader
// is stuck inside a write, yet its lag keeps growing (the lag monitor reads
// the lake), the hang becomes an error after OpTimeout, and it recovers.
func TestIntegrationLagWhileWarehouseHangs(t *testing.T) {
	t.Parallel()
	dbs := pgtest.DBs(t, "lake", "wh")
	ctx := t.Context()
	lake := pgtest.Pool(t, dbs[0])
	proxy := pgtest.NewProxy(t, pgtest.HostPort(t, dbs[1]))
	wh := pgtest.Pool(t, pgtest.Via(t, dbs[1], proxy.Addr))
	l, err := loader.New(lake, wh, loader.Config{Poll: 10 * time.Millisecond, OpTimeout: 3 * time.Second, LagEvery: 50 * time.Millisecond})
	require.NoError(t, err)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(lctx) }()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })

	require.NoError(t, pgtest.Seed(ctx, lake, "h", 0, 200, 0))
	require.Eventually(t, func() bool { m := l.Metrics(); return m.Checkpoint == 200 && m.LagEvents == 0 }, 10*time.Second, 10*time.Millisecond)

	proxy.Hang()
	require.NoError(t, pgtest.Seed(ctx, lake, "h", 200, 300, 0))
	require.Eventually(t, func() bool { m := l.Metrics(); return m.LagEvents == 100 && m.LagSeconds > 1 }, 5*time.Second, 20*time.Millisecond,
		"lag grows while the loader is stuck: %+v", l.Metrics())
	require.Eventually(t, func() bool { return l.Metrics().State == loader.StateBackoff }, 10*time.Second, 20*time.Millisecond,
		"the hang becomes an error after OpTimeout")
	proxy.Restore()
	require.Eventually(t, func() bool { m := l.Metrics(); return m.Checkpoint == 300 && m.LagEvents == 0 && m.LagSeconds == 0 }, 20*time.Second, 20*time.Millisecond)
	d, err := pgtest.Compare(ctx, lake, pgtest.Pool(t, dbs[1]), 1, -1)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
}

// TestIntegrationWarehouseReplaced drops the warehouse's tables under a
// running loader (a warehouse lost and recreated empty): the loader migrates
// again and replays the lake from seq 0, without a restart.
func TestIntegrationWarehouseReplaced(t *testing.T) {
	t.Parallel()
	dbs := pgtest.DBs(t, "lake", "wh")
	ctx := t.Context()
	lake, wh := pgtest.Pool(t, dbs[0]), pgtest.Pool(t, dbs[1])
	l, err := loader.New(lake, wh, loader.Config{Poll: 10 * time.Millisecond})
	require.NoError(t, err)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(lctx) }()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })

	require.NoError(t, pgtest.Seed(ctx, lake, "r", 0, 1000, 9))
	require.Eventually(t, func() bool { return l.Metrics().Checkpoint == 1000 }, 10*time.Second, 10*time.Millisecond)
	_, err = wh.Exec(ctx, `DROP TABLE events, quarantine, pipeline_checkpoint, pipeline_control, pipeline_status; DROP FUNCTION pipeline_advance`)
	require.NoError(t, err)
	require.NoError(t, pgtest.Seed(ctx, lake, "r", 1000, 1100, 9))
	require.Eventually(t, func() bool {
		c, err := store.ReadControl(ctx, wh)
		return err == nil && c.Checkpoint == 1100
	}, 20*time.Second, 20*time.Millisecond)
	d, err := pgtest.Compare(ctx, lake, wh, 1, -1)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
	assert.Equal(t, 1100, d.Events+d.Quarantined)
}

// TestIntegrationTwoLoaders runs two loaders on the same databases (e.g. a
// bad-deploy loader overlapping the good one): the checkpoint guard makes
// one of them retry, and the result is still exactly once.
func TestIntegrationTwoLoaders(t *testing.T) {
	t.Parallel()
	dbs := pgtest.DBs(t, "lake", "wh")
	ctx := t.Context()
	lake, wh := pgtest.Pool(t, dbs[0]), pgtest.Pool(t, dbs[1])
	require.NoError(t, pgtest.Seed(ctx, lake, "two", 0, 3000, 13))
	var ls []*loader.Loader
	for range 2 {
		l, err := loader.New(lake, wh, loader.Config{Poll: 5 * time.Millisecond, Batch: 20, BatchMax: 20})
		require.NoError(t, err)
		ls = append(ls, l)
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- l.Run(lctx) }()
		t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })
	}
	require.Eventually(t, func() bool {
		c, err := store.ReadControl(ctx, wh)
		return err == nil && c.Checkpoint == 3000
	}, 30*time.Second, 20*time.Millisecond)
	d, err := pgtest.Compare(ctx, lake, wh, 1, -1)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
	assert.Positive(t, ls[0].Metrics().BatchesTotal)
	t.Logf("batches: %d + %d", ls[0].Metrics().BatchesTotal, ls[1].Metrics().BatchesTotal)
}
