package systest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/pipeline"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/ingest"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/verify"
)

func pool(t *testing.T, r *scenarios.Running, name, db string) *pgxpool.Pool {
	t.Helper()
	ep, err := r.MustContainer(name).Endpoint(t.Context(), "5432/tcp")
	require.NoError(t, err)
	p, err := store.Open(t.Context(), "postgres://postgres@"+ep+"/"+db+"?sslmode=disable", 4)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func metrics(t *testing.T, base string) (loader.Metrics, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/metrics.json", nil)
	if err != nil {
		return loader.Metrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return loader.Metrics{}, err
	}
	defer resp.Body.Close()
	var m loader.Metrics
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

func ctl(t *testing.T, r *scenarios.Running, args ...string) (int, string) {
	t.Helper()
	code, out, err := r.MustContainer("loader").Exec(t.Context(), append([]string{"/pipeline", "pipelinectl"}, args...))
	require.NoError(t, err)
	return code, out
}

func TestSystemInContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the pipeline in containers (not under -short)")
	}
	scenarios.RequireDocker(t)
	r := scenarios.Start(t, pipeline.System())
	ctx := t.Context()
	colEP, err := r.MustContainer("collector").Endpoint(ctx, "8080/tcp")
	require.NoError(t, err)
	loadEP, err := r.MustContainer("loader").Endpoint(ctx, "8081/tcp")
	require.NoError(t, err)
	client := &ingest.Client{URL: "http://" + colEP}
	lake, wh := pool(t, r, "lake", "lake"), pool(t, r, "warehouse", "warehouse")

	send := func(from, to int) {
		t.Helper()
		var batch []ingest.Event
		for n := from; n < to; n++ {
			batch = append(batch, ingest.NewEvent(fmt.Sprintf("s-%d", n), "web", time.Now(), fmt.Sprintf("u%d", n%7), int64(n), n%25 == 0))
			if len(batch) == 50 || n == to-1 {
				ids, _, err := client.Send(ctx, batch)
				require.NoError(t, err)
				require.Len(t, ids, len(batch))
				batch = nil
			}
		}
	}
	caughtUp := func(want int64) {
		t.Helper()
		require.Eventually(t, func() bool {
			m, err := metrics(t, "http://"+loadEP)
			return err == nil && m.Checkpoint >= want && m.LagEvents == 0
		}, 30*time.Second, 50*time.Millisecond)
	}
	send(0, 1000)
	caughtUp(1000)

	// the collector's lake link down: 503 + Retry-After, nothing acknowledged
	link := r.MustLink("collector-lake")
	require.NoError(t, link.Disable(ctx))
	res, err := client.Post(ctx, []ingest.Event{ingest.NewEvent("down-1", "web", time.Now(), "u", 1, false)})
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Equal(t, time.Second, res.RetryAfter)
	require.NoError(t, link.Enable(ctx))
	send(1000, 1100) // the at-least-once client rides over the pool's broken connections

	// the loader SIGKILLed and started again: resumes from its checkpoint
	ld := r.MustContainer("loader")
	require.NoError(t, ld.Kill(ctx, "SIGKILL"))
	send(1100, 1500)
	require.NoError(t, ld.Start(ctx))
	require.NoError(t, ld.WaitReady(ctx))
	loadEP, err = ld.Endpoint(ctx, "8081/tcp")
	require.NoError(t, err)
	var head int64
	require.NoError(t, lake.QueryRow(ctx, `SELECT max(seq) FROM raw_events`).Scan(&head))
	caughtUp(head)

	d, cp, err := verify.CompareAtCheckpoint(ctx, lake, wh, 1)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
	assert.Equal(t, head, cp)
	assert.Equal(t, 60, d.Quarantined, "every 25th event is poison")

	// the tooling, exec'd in the loader container
	code, out := ctl(t, r, "status", "--json")
	assert.Equal(t, 3, code, out)
	assert.Contains(t, out, `"quarantine": 60`)
	code, _ = ctl(t, r, "schema", "--set", "2")
	assert.Equal(t, 0, code)
	code, out = ctl(t, r, "requeue-quarantine", "--json")
	assert.Equal(t, 0, code, out)
	code, out = ctl(t, r, "status")
	assert.Equal(t, 0, code, out)
	assert.True(t, strings.HasPrefix(out, "pipeline: OK"), out)
	code, _ = ctl(t, r, "wipe")
	assert.Equal(t, 2, code)
	d, _, err = verify.CompareAtCheckpoint(ctx, lake, wh, 2)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
	assert.Zero(t, d.Quarantined)
}
