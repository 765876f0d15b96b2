package scenarios_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios"
)

// startShop starts a service built from the Dockerfile in apiDir: the
// README's "Your own images" example.
func startShop(tb testing.TB, apiDir string) *scenarios.Running {
	tb.Helper()
	return scenarios.Start(tb, scenarios.System{
		Name: "shop",
		Containers: []scenarios.ContainerSpec{{
			Name:       "api",
			Image:      "example/api:dev",                 // also tagged; the container runs example/api:<hash>
			Build:      &scenarios.Build{Context: apiDir}, // apiDir/Dockerfile, .dockerignore honoured
			Entrypoint: []string{"/api", "-addr", ":8080"},
			Ports:      []string{"8080/tcp"},
			Mounts:     []scenarios.Mount{{Type: scenarios.MountVolume, Source: "data", Target: "/data"}},
			ExtraHosts: []string{"payments.internal:10.0.0.7"},
			Healthcheck: &scenarios.Healthcheck{
				Test:     []string{"CMD", "/api", "health", "http://127.0.0.1:8080/healthz"},
				Interval: 200 * time.Millisecond,
				Retries:  3,
			},
			Ready: scenarios.ReadyHealthy(),
		}},
		Links: []scenarios.LinkSpec{{From: scenarios.Host, To: "api", Port: "8080/tcp"}},
	})
}

// TestExampleBuildFromDockerfile runs the README example on a context made
// here: testdata/probe (an HTTP service with a "health" subcommand) built
// static and copied into FROM scratch.
func TestExampleBuildFromDockerfile(t *testing.T) {
	scenarios.RequireDocker(t)
	dir := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", filepath.Join(dir, "api"), "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	dockerfile := "FROM scratch\nCOPY api /api\nENTRYPOINT [\"/api\"]\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644))

	run := startShop(t, dir)
	require.Len(t, run.Builds, 1)
	t.Logf("image %s (cached %v) in %v; ready in %v", run.Builds[0].Image, run.Builds[0].Cached, run.Builds[0].Took, run.ReadyIn)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+run.MustLink("host->api").HostAddr+"/healthz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "ok", string(body), "the built service answers through its link")

	ctx := context.Background()
	require.NoError(t, run.Close(ctx))
	d, err := scenarios.NewDockerClient(ctx)
	require.NoError(t, err)
	defer d.Close()
	for _, ref := range []string{run.Builds[0].Image, "example/api:dev"} {
		_, err := d.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		assert.NoError(t, err, "remove %s", ref)
	}
}
