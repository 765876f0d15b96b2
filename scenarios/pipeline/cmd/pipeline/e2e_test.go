package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "cmd")) }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestIntegrationBinaryEndToEnd builds the binary and drives it as the
// containers will: env DSNs, HTTP, pipelinectl exit codes, SIGTERM.
func TestIntegrationBinaryEndToEnd(t *testing.T) {
	dbs := pgtest.DBs(t, "lake", "wh")
	bin := filepath.Join(t.TempDir(), "pipeline")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	env := append(os.Environ(), "LAKE_DSN="+dbs[0], "WAREHOUSE_DSN="+dbs[1])

	start := func(args ...string) (*exec.Cmd, *bytes.Buffer) {
		var logs bytes.Buffer
		c := exec.CommandContext(context.WithoutCancel(t.Context()), bin, args...) // stopped by the test (SIGTERM) or cleanup
		c.Env, c.Stderr = env, &logs
		require.NoError(t, c.Start())
		t.Cleanup(func() { _ = c.Process.Kill(); _, _ = c.Process.Wait() })
		return c, &logs
	}
	colAddr, loadAddr := freeAddr(t), freeAddr(t)
	col, colLogs := start("collector", "-addr", colAddr)
	load, loadLogs := start("loader", "-addr", loadAddr, "-poll", "10ms")
	get := func(url string) (int, []byte) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			return 0, nil
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	require.Eventually(t, func() bool { c, _ := get("http://" + colAddr + "/readyz"); return c == 200 }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { c, _ := get("http://" + loadAddr + "/readyz"); return c == 200 }, 20*time.Second, 20*time.Millisecond)

	var items []string
	for n := range 200 {
		items = append(items, pgtest.Item("x", n, 20))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+colAddr+"/v1/events", strings.NewReader("["+strings.Join(items, ",")+"]"))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var acc collector.Accepted
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&acc))
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Len(t, acc.Accepted, 200)

	var m loader.Metrics
	require.Eventually(t, func() bool {
		_, b := get("http://" + loadAddr + "/metrics.json")
		return json.Unmarshal(b, &m) == nil && m.Checkpoint == 200 && m.LagEvents == 0 && m.Quarantine == 10
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, loader.StateRunning, m.State)

	ctl := func(args ...string) (int, string) {
		c := exec.CommandContext(t.Context(), bin, append([]string{"pipelinectl"}, args...)...)
		c.Env = env
		var so bytes.Buffer
		c.Stdout = &so
		err := c.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return code, so.String()
	}
	code, so := ctl("status", "--json")
	assert.Equal(t, 3, code, "quarantine makes status degraded: %s", so)
	assert.Contains(t, so, `"quarantine": 10`)
	code, _ = ctl("schema", "--set", "2")
	assert.Equal(t, 0, code)
	code, so = ctl("requeue-quarantine", "--json")
	assert.Equal(t, 0, code, so)
	code, so = ctl("status")
	assert.Equal(t, 0, code, so)
	assert.Contains(t, so, "pipeline: OK")
	code, _ = ctl("wipe")
	assert.Equal(t, 2, code)
	code, _ = ctl("bogus")
	assert.Equal(t, 2, code)

	put := func(body string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+loadAddr+"/config/corrupt", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, put("amount"))
	_, b := get("http://" + loadAddr + "/metrics.json")
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "amount", m.CorruptField)
	assert.Equal(t, http.StatusBadRequest, put("seq"))
	assert.Equal(t, http.StatusOK, put(""))
	_, b = get("http://" + loadAddr + "/metrics.json")
	m = loader.Metrics{}
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Empty(t, m.CorruptField)

	for _, c := range []*exec.Cmd{col, load} {
		require.NoError(t, c.Process.Signal(syscall.SIGTERM))
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "exit 0 after SIGTERM")
		case <-time.After(10 * time.Second):
			t.Fatal("no exit after SIGTERM")
		}
	}
	assert.Contains(t, colLogs.String(), "collector listening")
	assert.Contains(t, loadLogs.String(), "loader listening")
}
