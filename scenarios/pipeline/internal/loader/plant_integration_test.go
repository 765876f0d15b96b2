package loader_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/pgtest"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/verify"
)

// TestIntegrationSplitCheckpointReplaysAfterKill: a loader SIGKILLed while
// loading, then restarted. The healthy build commits rows and checkpoint
// together, so every event is delivered once; the planted
// plant.SplitCheckpoint commits the checkpoint later, so the restarted
// loader delivers the rows loaded since again, and the delivery count
// (what Landed reads) shows it.
func TestIntegrationSplitCheckpointReplaysAfterKill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     []string
		wantDup bool
	}{
		{"healthy", nil, false},
		{"planted", []string{plant.Env + "=" + string(plant.SplitCheckpoint)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := killAndRestart(t, tc.env)
			if tc.wantDup {
				assert.NotEmpty(t, d.Duplicated, "the replayed batches must show as delivered twice: %s", d)
			} else {
				assert.True(t, d.Empty(), "exactly once: %s", d)
			}
		})
	}
}

// killAndRestart loads a seeded lake with a child loader (env added),
// SIGKILLs it part-way, lets a second one catch up and returns the diff.
func killAndRestart(t *testing.T, env []string) verify.Diff {
	t.Helper()
	dbs := pgtest.DBs(t, "lake", "wh")
	ctx := t.Context()
	lake, wh := pgtest.Pool(t, dbs[0]), pgtest.Pool(t, dbs[1])
	require.NoError(t, pgtest.Seed(ctx, lake, "s", 0, 3000, 0))
	require.NoError(t, store.MigrateWarehouse(ctx, wh))
	cmd := startChild(t, dbs[0], dbs[1], env...)
	require.Eventually(t, func() bool {
		var n int64
		return wh.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n) == nil && n >= 300
	}, 20*time.Second, time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_, _ = cmd.Process.Wait()

	cmd = startChild(t, dbs[0], dbs[1], env...)
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
	landed, err := verify.Landed(ctx, wh)
	require.NoError(t, err)
	assert.Len(t, landed, d.Events+len(d.Duplicated)*1, "Landed returns an id once per delivery (each duplicate here delivered twice)")
	t.Logf("%s", d)
	return d
}
