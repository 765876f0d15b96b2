package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Integration tests: they need Docker and the images firedrill/stub and
// firedrill/toxiproxy (make images), and are skipped under -short.

func stubSpec(name string) ContainerSpec {
	return ContainerSpec{
		Name:  name,
		Image: Image(ImageStub),
		Ports: []string{"8080/tcp"},
		Ready: ReadyHTTP("8080/tcp", "/healthz"),
	}
}

func twoContainerSystem() System {
	return System{
		Name:       "two",
		Containers: []ContainerSpec{stubSpec("app")},
		Links:      []LinkSpec{{From: Host, To: "app", Port: "8080/tcp"}},
	}
}

func threeContainerSystem() System {
	app1 := stubSpec("app1")
	app1.Env = map[string]string{"UPSTREAM": "${link:app1->app2}"}
	return System{
		Name:       "three",
		Containers: []ContainerSpec{app1, stubSpec("app2")},
		Links:      []LinkSpec{{From: "app1", To: "app2", Port: "8080/tcp"}},
	}
}

var httpc = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(addr, path string) (string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), nil
}

func dockerClient(tb testing.TB) *client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := NewDockerClient(ctx)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

// leftovers lists the containers and networks carrying every label.
func leftovers(tb testing.TB, labels ...string) (containers, networks []string) {
	tb.Helper()
	d := dockerClient(tb)
	ctx := context.Background()
	f := client.Filters{}.Add("label", labels...)
	cs, err := d.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	require.NoError(tb, err)
	for _, c := range cs.Items {
		containers = append(containers, c.ID[:12]+" "+strings.Join(c.Names, ","))
	}
	ns, err := d.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	require.NoError(tb, err)
	for _, n := range ns.Items {
		networks = append(networks, n.Name)
	}
	return containers, networks
}

func assertNothingLeft(tb testing.TB, labels ...string) {
	tb.Helper()
	cs, ns := leftovers(tb, labels...)
	assert.Empty(tb, cs, "containers left with %v", labels)
	assert.Empty(tb, ns, "networks left with %v", labels)
	vs, err := dockerClient(tb).VolumeList(context.Background(), client.VolumeListOptions{Filters: client.Filters{}.Add("label", labels...)})
	require.NoError(tb, err)
	assert.Empty(tb, vs.Items, "volumes left with %v", labels)
}

func TestTwoContainerSystemTrafficThroughProxy(t *testing.T) {
	RequireDocker(t)
	ctx := context.Background()
	r := Start(t, twoContainerSystem())
	t.Logf("ready in %v", r.ReadyIn)

	link := r.MustLink("host->app")
	require.NotEmpty(t, link.HostAddr)
	assert.Equal(t, "toxiproxy:20000", link.Listen)
	assert.Equal(t, "app:8080", link.Upstream)

	body, err := get(link.HostAddr, "/")
	require.NoError(t, err, "traffic through the proxy")
	assert.Equal(t, "ok", strings.TrimSpace(body))

	// The proxy really is in the path: its stats see the upstream.
	proxies, err := link.Client().Proxies()
	require.NoError(t, err)
	require.Contains(t, proxies, link.Proxy.Name)
	assert.Equal(t, "app:8080", proxies[link.Proxy.Name].Upstream)

	require.NoError(t, link.Disable(ctx))
	_, err = get(link.HostAddr, "/")
	require.Error(t, err, "a disabled link cuts traffic")

	require.NoError(t, link.Enable(ctx))
	body, err = get(link.HostAddr, "/")
	require.NoError(t, err, "an enabled link restores traffic")
	assert.Equal(t, "ok", strings.TrimSpace(body))

	// Toxics through the link handle.
	require.NoError(t, link.AddToxic(ctx, toxiproxy.Toxic{Name: "slow", Type: "latency", Attributes: toxiproxy.Attributes{"latency": 200}}))
	began := time.Now()
	_, err = get(link.HostAddr, "/")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(began), 200*time.Millisecond, "latency toxic in effect")
	require.NoError(t, link.RemoveToxic(ctx, "slow"))
	var api *toxiproxy.ApiError
	require.ErrorAs(t, link.RemoveToxic(ctx, "slow"), &api)
	assert.Equal(t, 404, api.Status)

	// Labels on every resource.
	cs, ns := leftovers(t, LabelInstance+"="+r.Instance, LabelFiredrill+"=true", LabelRun+"="+r.RunID, LabelTest+"="+t.Name(), LabelSystem+"=two")
	assert.Len(t, cs, 2, "app and toxiproxy carry every label")
	assert.Len(t, ns, 1, "the network carries every label")

	require.NoError(t, r.Close(ctx))
	require.NoError(t, r.Close(ctx), "Close is idempotent")
	assertNothingLeft(t, LabelInstance+"="+r.Instance)
	t.Logf("teardown in %v", r.TeardownIn())
}

func TestExitDuringReadinessCarriesLogs(t *testing.T) {
	RequireDocker(t)
	bad := stubSpec("app")
	bad.Cmd = []string{"-addr", "no-such-host.invalid:80"}
	sys := System{Name: "exits", Containers: []ContainerSpec{bad}}

	began := time.Now()
	r, err := StartContext(context.Background(), sys, WithTestName(t.Name()))
	took := time.Since(began)
	require.NotNil(t, r)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.Error(t, err)
	require.ErrorIs(t, err, ErrContainerExited)
	assert.Contains(t, err.Error(), "listen on no-such-host.invalid:80", "the error carries the container's log")
	assert.Contains(t, err.Error(), "app ("+Image(ImageStub)+")")
	assert.Less(t, took, 10*time.Second, "fails at once, not after the 30 s ready timeout")
	t.Logf("error after %v:\n%v", took, err)

	require.NoError(t, r.Close(context.Background()))
	assertNothingLeft(t, LabelInstance+"="+r.Instance)
}

func TestMissingImage(t *testing.T) {
	RequireDocker(t)
	spec := stubSpec("app")
	spec.Image = "firedrill/does-not-exist:local"
	// Pulling off: a test never asks a registry outside the machine.
	r, err := StartContext(context.Background(), System{Name: "noimage", Containers: []ContainerSpec{spec}}, WithTestName(t.Name()), WithPull(false))
	require.NotNil(t, r)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.ErrorIs(t, err, ErrImageMissing)
	assert.Contains(t, err.Error(), "firedrill/does-not-exist:local")
	assert.Contains(t, err.Error(), "build it (ContainerSpec.Build", "not one of the project's images: no `make images` hint")
	assert.NotContains(t, err.Error(), "make images")
	assert.Contains(t, err.Error(), "app")
	require.NoError(t, r.Close(context.Background()))
	assertNothingLeft(t, LabelInstance+"="+r.Instance)
}

func TestMissingProjectImageNamesOverride(t *testing.T) {
	RequireDocker(t)
	t.Setenv("FIREDRILL_STUB_IMAGE", "firedrill/stub:not-built")
	r, err := StartContext(context.Background(), System{Name: "override", Containers: []ContainerSpec{stubSpec("app")}}, WithTestName(t.Name()), WithPull(false))
	require.NotNil(t, r)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.ErrorIs(t, err, ErrImageMissing)
	assert.Contains(t, err.Error(), "firedrill/stub:not-built", "the override is honoured")
	assert.Contains(t, err.Error(), "FIREDRILL_STUB_IMAGE")
	assert.Contains(t, err.Error(), "make images")
}

func TestContainerHandles(t *testing.T) {
	RequireDocker(t)
	ctx := context.Background()
	r := Start(t, twoContainerSystem())
	app := r.MustContainer("app")
	link := r.MustLink("host->app")

	logs, err := app.Logs(ctx, 10)
	require.NoError(t, err)
	assert.Contains(t, logs, "listening on")

	addr, err := app.Endpoint(ctx, "8080/tcp")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	_, err = app.Endpoint(ctx, "9999/tcp")
	require.Error(t, err)

	// Exec: the stub image is FROM scratch, so there is nothing to run.
	code, _, err := app.Exec(ctx, []string{"/no-such-binary"})
	assert.True(t, err != nil || code != 0, "exec of a missing binary fails")

	// Disconnect cuts the link's upstream; Connect restores it with the alias.
	require.NoError(t, app.Disconnect(ctx))
	_, err = get(link.HostAddr, "/")
	require.Error(t, err, "the app is off the network")
	require.NoError(t, app.Connect(ctx))
	require.Eventually(t, func() bool { _, err := get(link.HostAddr, "/"); return err == nil }, 5*time.Second, 20*time.Millisecond, "reconnected with its alias")
	require.Eventually(t, func() bool {
		addr, err := app.Endpoint(ctx, "8080/tcp")
		if err != nil {
			return false
		}
		_, err = get(addr, "/")
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "its published port answers again")

	// Pause / unpause.
	require.NoError(t, app.Pause(ctx))
	st, err := app.State(ctx)
	require.NoError(t, err)
	assert.True(t, st.Paused)
	require.NoError(t, app.Unpause(ctx))

	// Update resources.
	require.NoError(t, app.Update(ctx, Resources{NanoCPUs: 500_000_000, Memory: 64 << 20, MemorySwap: 64 << 20}))
	in, err := r.Docker().ContainerInspect(ctx, app.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 500_000_000, in.Container.HostConfig.NanoCPUs)
	assert.EqualValues(t, 64<<20, in.Container.HostConfig.Memory)

	// Kill, then a fast failing WaitReady, then Start and WaitReady.
	require.NoError(t, app.Kill(ctx, "SIGKILL"))
	st, err = app.State(ctx)
	require.NoError(t, err)
	assert.False(t, st.Running)
	assert.Equal(t, 137, st.ExitCode)
	began := time.Now()
	err = app.WaitReady(ctx)
	require.ErrorIs(t, err, ErrContainerExited)
	assert.Less(t, time.Since(began), 3*time.Second)

	require.NoError(t, app.Start(ctx))
	require.NoError(t, app.WaitReady(ctx))
	require.Eventually(t, func() bool { _, err := get(link.HostAddr, "/"); return err == nil }, 5*time.Second, 20*time.Millisecond)

	require.NoError(t, app.Restart(ctx, time.Second))
	require.NoError(t, app.WaitReady(ctx))
	require.NoError(t, app.Stop(ctx, time.Second))
	st, err = app.State(ctx)
	require.NoError(t, err)
	assert.False(t, st.Running)
}

func TestThreeContainerSystemTimings(t *testing.T) {
	RequireDocker(t)
	ctx := context.Background()
	r, err := StartContext(ctx, threeContainerSystem(), WithTestName(t.Name()))
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.NoError(t, err)

	app1 := r.MustContainer("app1")
	in, err := r.Docker().ContainerInspect(ctx, app1.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Contains(t, in.Container.Config.Env, "UPSTREAM=toxiproxy:20000", "${link:NAME} expands to the proxy's in-network address")
	assert.Empty(t, r.MustLink("app1->app2").HostAddr)

	require.NoError(t, r.Close(ctx))
	t.Logf("three-container system (2 stubs + toxiproxy): ready in %v, teardown in %v", r.ReadyIn.Round(time.Millisecond), r.TeardownIn().Round(time.Millisecond))
	assert.Less(t, r.ReadyIn, 5*time.Second, "start to ready")
	assert.Less(t, r.TeardownIn(), 3*time.Second, "teardown")
	assertNothingLeft(t, LabelInstance+"="+r.Instance)
}

// TestFigures prints start-to-ready and teardown times of the
// three-container system over FIREDRILL_FIGURES_N runs (default 5), with
// the default start order (app1 after app2 is ready) and with
// WithParallelStart.
func TestFigures(t *testing.T) {
	RequireDocker(t)
	n := 5
	if v := os.Getenv("FIREDRILL_FIGURES_N"); v != "" {
		_, _ = fmt.Sscan(v, &n)
	}
	stats := func(ds []time.Duration) string {
		slices.Sort(ds)
		return fmt.Sprintf("min %4d ms  median %4d ms  max %4d ms", ds[0].Milliseconds(), ds[len(ds)/2].Milliseconds(), ds[len(ds)-1].Milliseconds())
	}
	fmt.Printf("figures: three-container system (2 stubs + toxiproxy, link app1->app2), %d runs each, images cached\n", n)
	for _, mode := range []struct {
		name string
		opts []Option
	}{
		{"ordered (default)", nil},
		{"WithParallelStart", []Option{WithParallelStart()}},
	} {
		var ready, down []time.Duration
		for range n {
			r, err := StartContext(context.Background(), threeContainerSystem(), append(mode.opts, WithTestName(t.Name()))...)
			if r != nil {
				_ = r.Close(context.Background())
			}
			require.NoError(t, err)
			ready = append(ready, r.ReadyIn)
			down = append(down, r.TeardownIn())
		}
		fmt.Printf("figures: %-18s start to ready  %s   (target <= 2000 ms)\n", mode.name, stats(ready))
		fmt.Printf("figures: %-18s teardown        %s   (target <= 1000 ms)\n", mode.name, stats(down))
	}
	assertNothingLeft(t, LabelTest+"="+t.Name(), LabelRun+"="+RunID())
}

func BenchmarkStartTeardown(b *testing.B) {
	RequireDocker(b)
	var ready, down time.Duration
	for b.Loop() {
		r, err := StartContext(context.Background(), threeContainerSystem(), WithTestName(b.Name()))
		if r != nil {
			_ = r.Close(context.Background())
		}
		require.NoError(b, err)
		ready += r.ReadyIn
		down += r.TeardownIn()
	}
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ready-ms/op")
	b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "teardown-ms/op")
}

// Subprocess tests: a test that fails, panics, hits -timeout or gets SIGINT
// leaves nothing behind.

const helperEnv = "FIREDRILL_SCENARIOS_HELPER"

// TestHelperSubprocess is run by the tests below in a child process; it does
// nothing unless FIREDRILL_SCENARIOS_HELPER is set.
func TestHelperSubprocess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper for the subprocess tests")
	}
	if mode == "require" {
		// The parent named a daemon that does not answer (DOCKER_HOST).
		RequireDocker(t)
		return
	}
	r := Start(t, twoContainerSystem())
	fmt.Println("HELPER-READY", r.Instance)
	switch mode {
	case "fail":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	case "hang":
		select {} // until -timeout or a signal
	}
}

func runHelper(t *testing.T, mode string, args ...string) (runID string, cmd *exec.Cmd, out *strings.Builder) {
	t.Helper()
	runID = "helper-" + newID()
	cmd = exec.CommandContext(t.Context(), os.Args[0], append([]string{"-test.run=^TestHelperSubprocess$", "-test.v"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, EnvRunID+"="+runID)
	out = &strings.Builder{}
	cmd.Stderr = out
	t.Cleanup(func() {
		// Only this run's resources, whatever happened.
		_, _ = WipeRun(context.Background(), runID)
	})
	return runID, cmd, out
}

func TestFailingTestLeavesNothing(t *testing.T) {
	RequireDocker(t)
	for _, mode := range []string{"fail", "panic"} {
		t.Run(mode, func(t *testing.T) {
			runID, cmd, stderr := runHelper(t, mode)
			stdout, err := cmd.Output()
			stdout = append(stdout, stderr.String()...)
			require.Error(t, err, "the helper test must fail")
			require.Contains(t, string(stdout), "HELPER-READY", "the system was started:\n%s", stdout)
			if mode == "panic" {
				assert.Contains(t, string(stdout), "panicking on purpose")
			}
			assertNothingLeft(t, LabelRun+"="+runID)
		})
	}
}

func TestTimeoutLeavesNothing(t *testing.T) {
	RequireDocker(t)
	runID, cmd, stderr := runHelper(t, "hang", "-test.timeout=10s")
	stdout, err := cmd.Output()
	stdout = append(stdout, stderr.String()...)
	require.Error(t, err)
	require.Contains(t, string(stdout), "HELPER-READY", "%s", stdout)
	assert.Contains(t, string(stdout), "test timed out", "the process died by -timeout")
	assert.Contains(t, string(stdout), "tearing down", "the watchdog tore the system down first")
	assertNothingLeft(t, LabelRun+"="+runID)
}

func TestSignalLeavesNothing(t *testing.T) {
	RequireDocker(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			runID, cmd, stderr := runHelper(t, "hang")
			pipe, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			sc := bufio.NewScanner(pipe)
			ready := false
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "HELPER-READY") {
					ready = true
					break
				}
			}
			require.True(t, ready, "helper never became ready: %s", stderr)
			require.NoError(t, cmd.Process.Signal(sig))
			go func() { _, _ = io.Copy(io.Discard, pipe) }()
			err = cmd.Wait()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "helper exits on %v: %v", sig, err)
			assert.Contains(t, stderr.String(), "ending early: tearing down running system")
			assertNothingLeft(t, LabelRun+"="+runID)
		})
	}
}

func TestWipeRunRemovesLeftovers(t *testing.T) {
	RequireDocker(t)
	runID := "wipe-" + newID()
	t.Cleanup(func() { _, _ = WipeRun(context.Background(), runID) })
	r, err := StartContext(context.Background(), twoContainerSystem(), WithRunID(runID), WithTestName(t.Name()))
	require.NoError(t, err)
	untrack(r) // as if the process had been killed: nobody closes it

	cs, ns := leftovers(t, LabelRun+"="+runID)
	require.Len(t, cs, 2)
	require.Len(t, ns, 1)

	removed, err := WipeRun(context.Background(), runID)
	require.NoError(t, err)
	assert.Len(t, removed.Containers, 2)
	assert.Len(t, removed.Networks, 1)
	assertNothingLeft(t, LabelRun+"="+runID)
}

func requireImage(t *testing.T, name string) string {
	t.Helper()
	img := Image(name)
	if _, err := dockerClient(t).ImageInspect(context.Background(), img); err != nil {
		t.Fatalf("image %s is missing: build it with `make images` (or set %s): %v", img, ImageEnvVar(name), err)
	}
	return img
}

// The postgres image runs any non-option command as is, so it serves as a
// container with a shell.
func TestExecTmpfsAndLimits(t *testing.T) {
	RequireDocker(t)
	ctx := context.Background()
	img := requireImage(t, ImagePostgres)
	r := Start(t, System{Name: "shell", Containers: []ContainerSpec{{
		Name:     "sh",
		Image:    img,
		Cmd:      []string{"sh", "-c", "echo booted; exec sleep 1000"},
		Tmpfs:    map[string]string{"/scratch": "size=1m"},
		Memory:   64 << 20,
		NanoCPUs: 1_000_000_000,
		Ready:    ReadyAll(ReadyLog("booted"), ReadyExec("true")),
	}}})
	sh := r.MustContainer("sh")

	code, out, err := sh.Exec(ctx, []string{"sh", "-c", "echo out; echo err >&2; exit 3"})
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	assert.Contains(t, out, "out")
	assert.Contains(t, out, "err")

	code, out, err = sh.Exec(ctx, []string{"dd", "if=/dev/zero", "of=/scratch/f", "bs=1k", "count=2048"})
	require.NoError(t, err)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "No space left on device", "the tmpfs is size-limited")

	res, err := sh.Resources(ctx)
	require.NoError(t, err)
	assert.Equal(t, Resources{NanoCPUs: 1_000_000_000, Memory: 64 << 20, MemorySwap: 128 << 20}, res)
}

func TestReadyTCPWaitsForTheProcess(t *testing.T) {
	RequireDocker(t)
	spec := stubSpec("app")
	spec.Ready = ReadyTCP("8080/tcp")
	r := Start(t, System{Name: "tcp", Containers: []ContainerSpec{spec}})
	addr, err := r.MustContainer("app").Endpoint(context.Background(), "8080/tcp")
	require.NoError(t, err)
	_, err = get(addr, "/healthz")
	assert.NoError(t, err, "ready means the process listens, not only docker-proxy")
}

func TestParallelStart(t *testing.T) {
	RequireDocker(t)
	r := Start(t, threeContainerSystem(), WithParallelStart())
	assert.Len(t, r.Containers(), 2)
	assert.NotNil(t, r.Container(ToxiproxyAlias))
	assert.Nil(t, r.Container("nope"))
	assert.Panics(t, func() { r.MustContainer("nope") })
	assert.Panics(t, func() { r.MustLink("nope") })
}

// TestDockerUnreachable runs RequireDocker in a child process whose
// DOCKER_HOST names a daemon that does not answer: it fails with the fix
// (never falling back to the local daemon), or skips under -short. It
// needs no Docker.
func TestDockerUnreachable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		short string
		want  []string
	}{
		{"false", []string{"--- FAIL", "the daemon does not answer", "DOCKER_HOST names the daemon tcp://127.0.0.1:1", "unset DOCKER_HOST", "sudo dockerd &", ".ci/run"}},
		{"true", []string{"--- SKIP", "needs Docker: skipped under -short"}},
	} {
		t.Run("short="+tt.short, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperSubprocess$", "-test.v", "-test.short="+tt.short)
			cmd.Env = append(os.Environ(), helperEnv+"=require", "DOCKER_HOST=tcp://127.0.0.1:1")
			out, _ := cmd.CombinedOutput()
			for _, w := range tt.want {
				assert.Contains(t, string(out), w)
			}
		})
	}
}

// TestCloseDuringStart closes the system (as the watchdog or a signal
// would) while it is starting: whatever was created is removed.
func TestCloseDuringStart(t *testing.T) {
	RequireDocker(t)
	for _, after := range []time.Duration{50 * time.Millisecond, 250 * time.Millisecond, 600 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			r, err := newRunning(threeContainerSystem(), WithTestName(t.Name()))
			require.NoError(t, err)
			closed := make(chan error, 1)
			timer := time.AfterFunc(after, func() { closed <- r.Close(context.Background()) })
			defer timer.Stop()
			startErr := r.start(context.Background())
			require.NoError(t, <-closed)
			t.Logf("closed after %v; start returned %v", after, startErr)
			assertNothingLeft(t, LabelInstance+"="+r.Instance)
		})
	}
}
