package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// Integration tests: each fault kind injected into a running system, its
// effect measured from outside, then reverted and the system checked again.
// They need Docker and skip under -short.

const fast = 2 * time.Second // request timeout when the system is healthy

func requireHealthy(t *testing.T, tg *target) {
	t.Helper()
	code, body, err := tg.through("GET", "/", fast)
	require.NoError(t, err, "request through the link")
	require.Equal(t, 200, code, body)
}

// withFault injects f through an Injector whose RevertAll is registered as
// cleanup first, as an engine does.
func withFault(t *testing.T, f faults.Fault) *faults.Injector {
	t.Helper()
	inj := faults.NewInjector()
	t.Cleanup(func() { assert.NoError(t, inj.RevertAll(context.Background())) })
	_, err := inj.Inject(context.Background(), f)
	require.NoError(t, err, "inject %s", f.Name())
	return inj
}

func revert(t *testing.T, inj *faults.Injector, f faults.Fault) {
	t.Helper()
	_, err := inj.Revert(context.Background(), f)
	require.NoError(t, err)
	_, err = inj.Revert(context.Background(), f)
	require.NoError(t, err, "reverting twice is harmless")
}

func TestIntegrationLatency(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	base := timed(func() { requireHealthy(t, tg) })

	for _, dir := range []faults.Direction{faults.Downstream, faults.Upstream} {
		t.Run(string(dir), func(t *testing.T) {
			const d = 300 * time.Millisecond
			f := faults.Latency(tg.link, d).Direction(dir)
			inj := withFault(t, f)
			took := timed(func() { requireHealthy(t, tg) })
			assert.GreaterOrEqual(t, took, d, "latency through the link")
			revert(t, inj, f)
			took = timed(func() { requireHealthy(t, tg) })
			assert.Less(t, took, base+d/2, "latency gone after revert (base %v)", base)
		})
	}
}

func TestIntegrationDown(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)

	// No link from app to the host: refused with the links that exist.
	_, err := faults.LinkBetween(tg.r, "app", "collector")
	require.ErrorIs(t, err, faults.ErrNoLink)
	assert.Contains(t, err.Error(), "host->app")

	f := faults.Down(tg.link)
	inj := withFault(t, f)
	_, _, err = tg.through("GET", "/", fast)
	require.Error(t, err, "peer unreachable while the link is down")
	revert(t, inj, f)
	requireHealthy(t, tg)
}

func TestIntegrationResetPeer(t *testing.T) {
	p := startPair(t)
	code, body := p.fetch(t)
	require.Equal(t, 200, code, body)
	f := faults.ResetPeer(p.link, 0)
	inj := withFault(t, f)
	code, body = p.fetch(t)
	assert.Equal(t, 502, code)
	assert.Contains(t, body, "connection reset by peer")
	revert(t, inj, f)
	code, body = p.fetch(t)
	require.Equal(t, 200, code, body)
}

// Timeout, one-way partition (upstream and downstream) and limit_data all
// make a request fail; after revert it succeeds.
func TestIntegrationBlockingToxics(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	for _, f := range []faults.Fault{
		faults.Timeout(tg.link, 200*time.Millisecond),
		faults.OneWay(tg.link, faults.Upstream),
		faults.OneWay(tg.link, faults.Downstream),
		faults.LimitData(tg.link, 10),
		faults.Bandwidth(tg.link, 0),
	} {
		t.Run(f.Name(), func(t *testing.T) {
			inj := withFault(t, f)
			_, _, err := tg.through("GET", "/", 500*time.Millisecond)
			require.Error(t, err, "request must fail under %s", f.Name())
			revert(t, inj, f)
			requireHealthy(t, tg)
		})
	}
}

// Toxics that slow but do not break: the request still succeeds; the toxic
// is listed on the proxy while injected and gone after revert, and exactly
// our toxics are removed.
func TestIntegrationToxicsAreListedAndRemoved(t *testing.T) {
	tg := startTarget(t)
	proxy, err := tg.r.ToxiproxyClient.Proxy(tg.link.Proxy.Name)
	require.NoError(t, err)
	// Someone else's toxic on the same proxy must survive our reverts.
	_, err = proxy.AddToxic("not_ours", "latency", "downstream", 1, map[string]any{"latency": 1})
	require.NoError(t, err)

	for _, tc := range []struct {
		f    faults.Fault
		kind string
		n    int
	}{
		{faults.Slicer(tg.link, 2).Delay(time.Millisecond), "slicer", 1},
		{faults.SlowClose(tg.link, 10*time.Millisecond), "slow_close", 1},
		{faults.Bandwidth(tg.link, 1000).Both(), "bandwidth", 2},
		{faults.Latency(tg.link, 5*time.Millisecond).Jitter(time.Millisecond).Toxicity(0.5), "latency", 1},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			inj := withFault(t, tc.f)
			requireHealthy(t, tg)
			toxics, err := proxy.Toxics()
			require.NoError(t, err)
			var ours int
			for _, x := range toxics {
				if x.Name != "not_ours" {
					ours++
					assert.Equal(t, tc.kind, x.Type)
				}
			}
			assert.Equal(t, tc.n, ours)
			revert(t, inj, tc.f)
			toxics, err = proxy.Toxics()
			require.NoError(t, err)
			require.Len(t, toxics, 1)
			assert.Equal(t, "not_ours", toxics[0].Name)
		})
	}
}

func TestIntegrationPause(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	f := faults.Pause(tg.app)
	inj := withFault(t, f)
	st, err := tg.app.State(context.Background())
	require.NoError(t, err)
	assert.True(t, st.Paused)
	_, _, err = tg.direct(t, "GET", "/", 500*time.Millisecond)
	require.Error(t, err, "a paused container answers nothing (direct)")
	_, _, err = tg.through("GET", "/", 500*time.Millisecond)
	require.Error(t, err, "a paused container answers nothing (through the link)")
	revert(t, inj, f)
	requireHealthy(t, tg)
}

func TestIntegrationKill(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	// The app keeps /data on tmpfs, which the revert's start would empty:
	// the default is refused before any signal, and the container runs on.
	refused := faults.NewInjector()
	r := refused.Do(context.Background(), faults.Action{Fault: faults.Kill(tg.app, "SIGKILL")})
	require.ErrorIs(t, r.Err, faults.ErrTmpfsRestart)
	require.ErrorContains(t, r.Err, "tmpfs /data")
	requireHealthy(t, tg)

	f := faults.Kill(tg.app, "SIGKILL").AllowEmptyTmpfs() // /data is scratch space here
	inj := withFault(t, f)
	require.Eventually(t, func() bool {
		st, err := tg.app.State(context.Background())
		return err == nil && !st.Running
	}, 5*time.Second, 10*time.Millisecond)
	_, _, err := tg.through("GET", "/", 500*time.Millisecond)
	require.Error(t, err)
	revert(t, inj, f) // starts it and waits until ready
	requireHealthy(t, tg)
}

func TestIntegrationStopAndRestart(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	stop := faults.Stop(tg.app, time.Second).AllowEmptyTmpfs()
	inj := withFault(t, stop)
	st, err := tg.app.State(context.Background())
	require.NoError(t, err)
	assert.False(t, st.Running)
	revert(t, inj, stop)
	requireHealthy(t, tg)

	restart := faults.Restart(tg.app, time.Second)
	inj = withFault(t, restart)
	revert(t, inj, restart)
	requireHealthy(t, tg)
}

func TestIntegrationCrashLoop(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	f := faults.CrashLoop(tg.app, 3, 300*time.Millisecond)
	inj := withFault(t, f)
	select {
	case <-f.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("crash loop did not finish")
	}
	assert.Equal(t, 3, f.Kills())
	revert(t, inj, f)
	requireHealthy(t, tg)
}

func TestIntegrationPartition(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	f := faults.Partition(tg.app)
	inj := withFault(t, f)
	_, _, err := tg.through("GET", "/", time.Second)
	require.Error(t, err, "toxiproxy cannot reach a partitioned container")
	revert(t, inj, f)
	require.Eventually(t, func() bool {
		code, _, err := tg.through("GET", "/", time.Second)
		return err == nil && code == 200
	}, 10*time.Second, 50*time.Millisecond, "healed")
}

func TestIntegrationCPUAndMemoryLimits(t *testing.T) {
	tg := startTarget(t)
	mem0, cpu0 := tg.limits(t)

	cpu := faults.CPU(tg.app, 0.1)
	inj := withFault(t, cpu)
	_, nano := tg.limits(t)
	assert.Equal(t, int64(100_000_000), nano)
	revert(t, inj, cpu)
	_, nano = tg.limits(t)
	assert.True(t, nano == cpu0 || nano >= 1e9, "CPU quota lifted: %d", nano)

	mem := faults.Memory(tg.app, 32<<20)
	inj = withFault(t, mem)
	m, _ := tg.limits(t)
	assert.EqualValues(t, 32<<20, m)
	revert(t, inj, mem)
	m, _ = tg.limits(t)
	assert.True(t, m == mem0 || m >= 1<<30, "memory limit lifted: %d", m)
	requireHealthy(t, tg)
}

func TestIntegrationOOM(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	f := faults.OOM(tg.app, 16<<20)
	inj := withFault(t, f)
	_, _, err := tg.direct(t, "POST", "/alloc?mb=64", 5*time.Second)
	require.Error(t, err, "the allocation kills the process")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, f.Wait(ctx))
	st, err := tg.app.State(ctx)
	require.NoError(t, err)
	assert.True(t, st.OOMKilled)
	assert.False(t, st.Running)
	revert(t, inj, f) // limit lifted, started, ready
	requireHealthy(t, tg)
	code, body, err := tg.direct(t, "POST", "/alloc?mb=64", 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, code, body)
}

func TestIntegrationDiskFull(t *testing.T) {
	tg := startTarget(t)
	requireHealthy(t, tg)
	code, body, err := tg.direct(t, "POST", "/write?path=/data/probe&kb=64", fast)
	require.NoError(t, err)
	require.Equal(t, 200, code, body)
	_, _, err = tg.direct(t, "POST", "/rm?path=/data/probe", fast)
	require.NoError(t, err)

	file := "/data/.firedrill-fill"
	f := faults.DiskFull(tg.app, "/data").Using([]string{"/faultee", "fill", file}, []string{"/faultee", "rm", file})
	inj := withFault(t, f)
	code, body, err = tg.direct(t, "POST", "/write?path=/data/probe&kb=64", fast)
	require.NoError(t, err)
	assert.Equal(t, 507, code)
	assert.Contains(t, body, "no space left on device")
	revert(t, inj, f)
	code, body, err = tg.direct(t, "POST", "/write?path=/data/probe&kb=64", fast)
	require.NoError(t, err)
	assert.Equal(t, 200, code, "writes work again once freed: %s", body)
}

// A whole schedule played against the system: a short nemesis over
// latency, pause and down; afterwards nothing is in effect.
func TestIntegrationNemesis(t *testing.T) {
	tg := startTarget(t)
	n := faults.Nemesis(7, faults.Latency(tg.link, 100*time.Millisecond), faults.Pause(tg.app), faults.Down(tg.link)).
		Window(2*time.Second).Hold(100*time.Millisecond, 300*time.Millisecond).Gap(50*time.Millisecond, 100*time.Millisecond)
	t.Logf("%s: %d actions", n, len(n.Plan()))
	inj := faults.NewInjector()
	t.Cleanup(func() { assert.NoError(t, inj.RevertAll(context.Background())) })
	require.NoError(t, inj.Play(context.Background(), n, time.Now(), func(r faults.Record) {
		t.Logf("%v (bracket %v)", r.Action, r.Bracket.Width())
	}))
	assert.Empty(t, inj.Active())
	requireHealthy(t, tg)
}
