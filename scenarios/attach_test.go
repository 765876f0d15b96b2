package scenarios_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
	"github.com/firedrill/firedrill/scenarios"
)

// Integration tests of Attach, against containers started with plain
// Docker calls (startStaging), not through scenarios.Start. They need
// Docker and the images firedrill/stub and firedrill/toxiproxy (make
// images), and are skipped under -short.

// rehearse is the README's "Rehearse on staging", verbatim but for the
// addresses, which come from the staging environment the test started.
func rehearse(t *testing.T, stg *staging) *drills.Result {
	t.Helper()
	// 1. Describe what the drill may touch; nothing else will be.
	env, err := scenarios.Attach(context.Background(), scenarios.Environment{
		DockerHost: stg.DockerHost,                         // e.g. "unix:///var/run/docker.sock"
		Containers: []string{stg.API},                      // e.g. "staging-api"
		Toxiproxy:  stg.Toxiproxy,                          // e.g. "http://127.0.0.1:8474"
		Proxies:    []string{"api"},                        // the proxy in front of the service
		Endpoints:  map[string]string{"api": stg.Endpoint}, // e.g. "127.0.0.1:8080", that proxy's listen port
		Ready: map[string]scenarios.Readiness{
			// After a restart the service is ready when it answers through the proxy.
			stg.API: scenarios.ReadyFunc(func(ctx context.Context, _ *scenarios.Container) error {
				return httpGet(ctx, "http://"+stg.Endpoint+"/healthz")
			}),
		},
		Logf: t.Logf,
	})
	t.Cleanup(func() { assert.NoError(t, env.Close(context.Background())) }) // before the error check
	require.NoError(t, err)
	api := env.MustContainer(stg.API)
	link := env.MustLink("api")

	// 2. The same drill as on a system firedrill started.
	return drills.Run(t, drills.Drill{
		Name:     "staging-api",
		Workload: load.HTTP(load.Constant(100), load.Target{URL: "http://" + env.MustEndpoint("api") + "/"}),
		Steady:   slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 100*time.Millisecond)),
		Faults: faults.Sequence(
			faults.For(time.Second, 2*time.Second, faults.Latency(link, 300*time.Millisecond)),
			faults.For(2*time.Second, time.Second, faults.Kill(api, "")), // revert: start it again
		),
		Budget: drills.Budget{TTR: 10 * time.Second},
	})
}

func TestAttachRehearseOnStaging(t *testing.T) {
	stg := startStaging(t)
	before := stg.snapshot(t, stg.Bystander)
	apiStarted := stg.inspect(t, stg.API).State.StartedAt

	res := rehearse(t, stg)

	require.True(t, res.Passed(), "the drill passes:\n%s", res.FormatTimeline())
	require.Len(t, res.Episodes, 2, "one episode per fault")
	for i, ep := range res.Episodes {
		t.Logf("episode %d: TTR %s", i+1, ep.TTR)
	}
	toxics, enabled := stg.toxics(t)
	assert.Empty(t, toxics, "the latency toxic is gone")
	assert.True(t, enabled)
	api := stg.inspect(t, stg.API)
	assert.True(t, api.State.Running, "the killed service runs again")
	assert.NotEqual(t, apiStarted, api.State.StartedAt, "it was killed and started")
	assert.Equal(t, before, stg.snapshot(t, stg.Bystander), "the unlisted container is untouched")
}

// fakeTB lets a drill fail without failing the test, which checks what
// the failed drill left behind.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()             {}
func (f *fakeTB) Log(...any)          {}
func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// A drill whose faults stay in effect (faults.At: no scheduled revert) and
// whose runbook panics fails, and still ends with the toxic removed and
// the killed container running: drills.Run reverts every fault when the
// drill ends, on an attached environment as on a started one.
func TestAttachDrillThatFailsStillReverts(t *testing.T) {
	stg := startStaging(t)
	before := stg.snapshot(t, stg.Bystander)
	env, err := scenarios.Attach(t.Context(), scenarios.Environment{
		DockerHost: stg.DockerHost, Containers: []string{stg.API},
		Toxiproxy: stg.Toxiproxy, Proxies: []string{"api"},
		Endpoints: map[string]string{"api": stg.Endpoint},
	})
	t.Cleanup(func() { assert.NoError(t, env.Close(context.Background())) })
	require.NoError(t, err)
	link, api := env.MustLink("api"), env.MustContainer(stg.API)

	tb := &fakeTB{TB: t}
	res := drills.Run(tb, drills.Drill{
		Name:     "broken-runbook",
		Workload: load.HTTP(load.Constant(100), load.Target{URL: "http://" + env.MustEndpoint("api") + "/"}),
		Steady:   slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 100*time.Millisecond)),
		Faults:   faults.At(time.Second, faults.All(faults.Latency(link, 300*time.Millisecond), faults.Kill(api, ""))),
		Recovery: recovery.Steps(recovery.Func("runbook", func(context.Context) (string, error) { panic("runbook bug") })),
		Limits:   drills.Limits{RecoverWithin: 3 * time.Second},
		Budget:   drills.Budget{TTR: 10 * time.Second},
	})
	// Checked before any cleanup runs: Run itself reverted.
	assert.False(t, res.Passed())
	require.Len(t, tb.errs, 1, "the drill failed")
	t.Log(tb.errs[0])
	assert.Contains(t, tb.errs[0], "step panicked: runbook bug")
	toxics, enabled := stg.toxics(t)
	assert.Empty(t, toxics, "the toxic left in place was removed")
	assert.True(t, enabled)
	assert.True(t, stg.inspect(t, stg.API).State.Running, "the killed container runs again")
	assert.Equal(t, before, stg.snapshot(t, stg.Bystander), "the unlisted container is untouched")
	for _, c := range slices.Backward(tb.cleanups) {
		c()
	}
}

// Faults injected outside a drill and never reverted are put back by
// Close (the safety net that also runs at SIGINT and before -timeout):
// the proxy enabled, its toxic removed, the container running again and
// on its network with its alias. Close stops and removes nothing.
func TestAttachCloseRestoresWhatFaultsLeft(t *testing.T) {
	stg := startStaging(t)
	before := stg.snapshot(t, stg.Bystander)
	var logs []string
	env, err := scenarios.Attach(t.Context(), scenarios.Environment{
		DockerHost: stg.DockerHost, Containers: []string{stg.API},
		Toxiproxy: stg.Toxiproxy, Proxies: []string{"api"},
		Endpoints: map[string]string{"api": stg.Endpoint},
		Logf:      func(f string, args ...any) { logs = append(logs, fmt.Sprintf(f, args...)) },
	})
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	require.NoError(t, err)
	link, api := env.MustLink("api"), env.MustContainer(stg.API)

	inj := faults.NewInjector() // no Guard, no RevertAll: everything is left in place
	for _, f := range []faults.Fault{faults.Latency(link, time.Second), faults.Down(link), faults.Partition(api), faults.Kill(api, "")} {
		_, err := inj.Inject(t.Context(), f)
		require.NoError(t, err, f.Name())
	}
	toxics, enabled := stg.toxics(t)
	require.Len(t, toxics, 1)
	require.False(t, enabled)
	require.False(t, stg.inspect(t, stg.API).State.Running)

	require.NoError(t, env.Close(context.Background()))
	t.Log(strings.Join(logs, "; "))
	toxics, enabled = stg.toxics(t)
	assert.Empty(t, toxics)
	assert.True(t, enabled)
	c := stg.inspect(t, stg.API)
	assert.True(t, c.State.Running)
	require.Contains(t, c.NetworkSettings.Networks, stg.Network, "connected again")
	assert.Contains(t, c.NetworkSettings.Networks[stg.Network].Aliases, "api", "with its alias")
	eventually(t, 10*time.Second, func() error { return httpGet(t.Context(), "http://"+stg.Endpoint+"/healthz") })
	assert.Equal(t, before, stg.snapshot(t, stg.Bystander), "the unlisted container is untouched")
	require.NoError(t, env.Close(context.Background()), "Close is idempotent")
	assert.True(t, stg.inspect(t, stg.API).State.Running, "Close stopped nothing")
}

// Asking for an unlisted container fails, and a handle whose ID is changed
// to the unlisted container's still cannot act on it: the handles act only
// on the IDs resolved when attaching.
func TestAttachRefusesUnlistedContainer(t *testing.T) {
	stg := startStaging(t)
	before := stg.snapshot(t, stg.Bystander)
	env, err := scenarios.Attach(t.Context(), scenarios.Environment{DockerHost: stg.DockerHost, Containers: []string{stg.API}})
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	require.NoError(t, err)

	_, err = env.Container(stg.Bystander)
	require.ErrorIs(t, err, scenarios.ErrNotListed)
	assert.Contains(t, err.Error(), `container "`+stg.Bystander+`": not listed in the attached environment`)
	assert.Contains(t, err.Error(), `to drill it, add "`+stg.Bystander+`" there`)

	api := env.MustContainer(stg.API)
	assert.Equal(t, stg.APIID, api.ID, "resolved to the full ID")
	listed := api.ID
	api.ID = stg.inspect(t, stg.Bystander).ID
	t.Cleanup(func() { api.ID = listed })
	for _, f := range []faults.Fault{faults.Kill(api, ""), faults.Stop(api, time.Second), faults.Pause(api), faults.Partition(api), faults.Memory(api, 64<<20)} {
		_, err := faults.NewInjector().Inject(t.Context(), f)
		require.ErrorIs(t, err, scenarios.ErrNotListed, f.Name())
	}
	assert.Equal(t, before, stg.snapshot(t, stg.Bystander), "the unlisted container is untouched")
}

func TestAttachRefusesWhatDoesNotExist(t *testing.T) {
	stg := startStaging(t)
	_, err := scenarios.Attach(t.Context(), scenarios.Environment{DockerHost: stg.DockerHost, Containers: []string{stg.API, "fd-no-such-container"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `container "fd-no-such-container" (Environment.Containers) does not exist on unix:///var/run/docker.sock: list it by a name or ID that `+"`docker ps -a`"+` shows there`)

	_, err = scenarios.Attach(t.Context(), scenarios.Environment{Toxiproxy: stg.Toxiproxy, Proxies: []string{"api", "db"}})
	require.ErrorIs(t, err, scenarios.ErrNotListed)
	assert.Contains(t, err.Error(), `proxies "db" (Environment.Proxies) do not exist on toxiproxy at `+stg.Toxiproxy+"; its proxies: api")

	_, err = scenarios.Attach(t.Context(), scenarios.Environment{DockerHost: stg.DockerHost, Containers: []string{stg.API}, Networks: map[string]string{stg.API: "bridge"}})
	assert.ErrorContains(t, err, `Environment.Networks names "bridge" for container `+stg.API+", which is not on it (its networks: "+stg.Network+")")
}

// Every container fault of package faults acts on an attached container
// through its handle, and its revert puts it back.
func TestAttachEveryContainerFault(t *testing.T) {
	stg := startStaging(t)
	before := stg.snapshot(t, stg.Bystander)
	env, err := scenarios.Attach(t.Context(), scenarios.Environment{DockerHost: stg.DockerHost, Containers: []string{stg.API}})
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	require.NoError(t, err)
	api := env.MustContainer(stg.API)
	started := func() string { return stg.inspect(t, stg.API).State.StartedAt }
	for _, tc := range []struct {
		fault    faults.Fault
		inEffect func(c container.InspectResponse, startedAt string) bool
	}{
		{faults.Kill(api, ""), func(c container.InspectResponse, _ string) bool { return !c.State.Running }},
		{faults.Stop(api, time.Second), func(c container.InspectResponse, _ string) bool { return !c.State.Running }},
		{faults.Pause(api), func(c container.InspectResponse, _ string) bool { return c.State.Paused }},
		{faults.Restart(api, time.Second), func(c container.InspectResponse, s string) bool { return c.State.StartedAt != s }},
		{faults.Partition(api), func(c container.InspectResponse, _ string) bool { return len(c.NetworkSettings.Networks) == 0 }},
		{faults.CPU(api, 0.5), func(c container.InspectResponse, _ string) bool { return c.HostConfig.NanoCPUs == 5e8 }},
		{faults.Memory(api, 64<<20), func(c container.InspectResponse, _ string) bool { return c.HostConfig.Memory == 64<<20 }},
	} {
		s := started()
		inj := faults.NewInjector()
		_, err := inj.Inject(t.Context(), tc.fault)
		require.NoError(t, err, tc.fault.Name())
		assert.True(t, tc.inEffect(stg.inspect(t, stg.API), s), "%s in effect", tc.fault.Name())
		require.NoError(t, inj.RevertAll(t.Context()), tc.fault.Name())
		c := stg.inspect(t, stg.API)
		assert.True(t, c.State.Running && !c.State.Paused, "%s reverted: running", tc.fault.Name())
		assert.Contains(t, c.NetworkSettings.Networks, stg.Network, "%s reverted: on its network", tc.fault.Name())
		assert.NotEqual(t, int64(5e8), c.HostConfig.NanoCPUs, "%s reverted: no CPU limit", tc.fault.Name())
		eventually(t, 10*time.Second, func() error { return httpGet(t.Context(), "http://"+stg.Endpoint+"/healthz") })
	}
	assert.Equal(t, before, stg.snapshot(t, stg.Bystander), "the unlisted container is untouched")
}
