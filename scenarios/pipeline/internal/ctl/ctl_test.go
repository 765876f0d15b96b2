package ctl

import (
	"bytes"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

func env(m map[string]string) Env { return func(k string) string { return m[k] } }

var dsns = env(map[string]string{"LAKE_DSN": "postgres://l@127.0.0.1:1/lake", "WAREHOUSE_DSN": "postgres://w@127.0.0.1:1/wh"})

func TestParseUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  Env
		want string
	}{
		{"no command", nil, dsns, "missing command"},
		{"unknown command", []string{"frobnicate"}, dsns, "unknown command"},
		{"unknown flag", []string{"status", "--nope"}, dsns, "flag provided but not defined"},
		{"extra arg", []string{"status", "now"}, dsns, "unexpected argument"},
		{"wipe without yes", []string{"wipe"}, dsns, "without --yes"},
		{"wipe yes=false", []string{"wipe", "--yes=false"}, dsns, "without --yes"},
		{"resume takes no yes", []string{"resume", "--yes"}, dsns, "not defined"},
		{"backfill no bounds", []string{"backfill"}, dsns, "--from and --to are required"},
		{"backfill no to", []string{"backfill", "--from", "1"}, dsns, "--from and --to are required"},
		{"backfill bad from", []string{"backfill", "--from", "yesterday", "--to", "3"}, dsns, "RFC 3339"},
		{"backfill negative", []string{"backfill", "--from", "-1", "--to", "3"}, dsns, ">= 0"},
		{"backfill reversed seq", []string{"backfill", "--from", "9", "--to", "3"}, dsns, "after --to"},
		{"backfill reversed time", []string{"backfill", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"}, dsns, "after --to"},
		{"backfill batch", []string{"backfill", "--from", "1", "--to", "3", "--batch", "0"}, dsns, "--batch"},
		{"schema bad version", []string{"schema", "--set", "9"}, dsns, "unknown version"},
		{"status no lake", []string{"status"}, env(map[string]string{"WAREHOUSE_DSN": "x"}), "lake DSN is required"},
		{"resume no warehouse", []string{"resume"}, env(nil), "warehouse DSN is required"},
		{"bad timeout", []string{"--timeout", "0s", "status"}, dsns, "--timeout"},
		{"bad threshold", []string{"status", "--max-lag-seconds", "-1"}, dsns, ">= 0"},
		{"bad dsn", []string{"status", "--warehouse", "postgres://x@h:notaport/db"}, dsns, "bad warehouse DSN"},
		{"bad lake dsn", []string{"backfill", "--from", "1", "--to", "2", "--lake", "nonsense"}, dsns, "bad lake DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.args, tt.env)
			require.Error(t, err)
			require.ErrorIs(t, err, errUsage)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	c, err := Parse([]string{"--json", "backfill", "--from", "5", "--to", "2026-01-01T00:00:00Z", "--source", "web"}, dsns)
	require.NoError(t, err)
	assert.True(t, c.c.json)
	assert.Equal(t, int64(5), c.from.seq)
	assert.False(t, c.to.t.IsZero())
	assert.Equal(t, "web", c.source)

	c, err = Parse([]string{"status", "--json", "--lake", "postgres://x@h/l"}, dsns)
	require.NoError(t, err)
	assert.True(t, c.c.json)
	assert.Equal(t, "postgres://x@h/l", c.c.lake, "flag after the command overrides the env")

	c, err = Parse([]string{"wipe", "--yes"}, env(map[string]string{"WAREHOUSE_DSN": "host=w dbname=wh"}))
	require.NoError(t, err, "wipe needs no lake")
	assert.True(t, c.yes)
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestMainExitCodes(t *testing.T) {
	t.Parallel()
	down := "postgres://postgres@" + closedAddr(t) + "/x?connect_timeout=1"
	downEnv := env(map[string]string{"LAKE_DSN": down, "WAREHOUSE_DSN": down})
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"usage", []string{"nope"}, ExitUsage},
		{"wipe refuses", []string{"wipe"}, ExitUsage},
		{"status unreachable", []string{"status", "--json"}, ExitFailure},
		{"resume unreachable", []string{"resume", "--json"}, ExitFailure},
		{"backfill unreachable", []string{"backfill", "--from", "1", "--to", "2", "--json"}, ExitFailure},
		{"requeue unreachable", []string{"requeue-quarantine", "--json"}, ExitFailure},
		{"wipe unreachable", []string{"wipe", "--yes", "--json"}, ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := Main(t.Context(), tt.args, &out, &errb, downEnv)
			assert.Equal(t, tt.code, code, "stderr: %s", errb.String())
			assert.NotEmpty(t, errb.String(), "a reason on stderr")
			if tt.code == ExitUsage {
				assert.Contains(t, errb.String(), "usage: pipelinectl")
				assert.Empty(t, out.String())
				return
			}
			var doc map[string]any
			require.NoError(t, json.Unmarshal(out.Bytes(), &doc), "--json output is one JSON object: %s", out.String())
			assert.Equal(t, false, doc["ok"])
		})
	}
}

func TestDegradedReasons(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { x := now.Add(-d); return &x }
	cmd := &command{maxLagSeconds: 5, maxLagEvents: 100, maxHeartbeatAge: 10 * time.Second}
	healthy := StatusReport{LakeHead: 10, Checkpoint: 10, Loader: store.Status{State: "running", HeartbeatAt: ago(time.Second), LastBatchAt: ago(time.Second)}}
	assert.Empty(t, cmd.degraded(healthy, now))

	tests := []struct {
		name string
		mod  func(*StatusReport)
		want string
	}{
		{"paused", func(r *StatusReport) { r.Paused, r.PauseReason = true, "ops" }, "paused: ops"},
		{"quarantine", func(r *StatusReport) { r.Quarantine = 3 }, "3 events in quarantine"},
		{"lag seconds", func(r *StatusReport) { r.LagSeconds = 6 }, "lag 6.0s"},
		{"lag events", func(r *StatusReport) { r.LagEvents = 101 }, "lag 101 events"},
		{"ahead", func(r *StatusReport) { r.LakeHead = 5 }, "ahead of lake head"},
		{"current error", func(r *StatusReport) { r.Loader.LastError, r.Loader.LastErrorAt = "boom", ago(0) }, "loader error: boom"},
		{"stale heartbeat", func(r *StatusReport) { r.Loader.HeartbeatAt = ago(11 * time.Second) }, "heartbeat 11.0s old"},
		{"never reported", func(r *StatusReport) { r.Loader.HeartbeatAt = nil }, "never reported"},
		{"stopped with lag", func(r *StatusReport) { r.Loader.State, r.LagEvents = "stopped", 1 }, "stopped with events waiting"},
	}
	for _, tt := range tests {
		r := healthy
		tt.mod(&r)
		got := cmd.degraded(r, now)
		require.Len(t, got, 1, tt.name)
		assert.Contains(t, got[0], tt.want, tt.name)
	}
	r := healthy
	r.Loader.LastError, r.Loader.LastErrorAt = "old", ago(5*time.Second)
	assert.Empty(t, cmd.degraded(r, now), "an error older than the last batch is history, not degradation")
}
