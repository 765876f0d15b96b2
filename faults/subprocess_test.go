package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/moby/moby/client"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// A drill that dies mid-fault leaves nothing injected behind. The parent
// starts the system; a child test process injects a toxic, a pause and CPU
// and memory limits through a guarded Injector, then panics (or hangs into
// its -timeout); the parent checks the system afterwards.
//
// The child acts on the parent's containers through the docker command line
// (cliContainer) and on the proxy through the toxiproxy client: a second
// implementation of the target interfaces.

const childEnv = "FAULTS_CHILD"

func TestIntegrationPanicMidFaultLeavesNothing(t *testing.T) {
	testChildLeavesNothing(t, "panic", "boom mid-fault")
}

func TestIntegrationTimeoutMidFaultLeavesNothing(t *testing.T) {
	testChildLeavesNothing(t, "timeout", "reverting 5 faults")
}

func TestIntegrationSignalMidFaultLeavesNothing(t *testing.T) {
	testChildLeavesNothing(t, "signal", "interrupt: ending early: reverting the faults of TestFaultsChild")
}

func testChildLeavesNothing(t *testing.T, mode, want string) {
	t.Helper()
	tg := startTarget(t)
	requireHealthy(t, tg)
	mem0, cpu0 := tg.limits(t)
	api, err := tg.r.Toxiproxy.Endpoint(context.Background(), "8474/tcp")
	require.NoError(t, err)

	args := []string{"-test.run=^TestFaultsChild$", "-test.v"}
	if mode == "timeout" {
		args = append(args, "-test.timeout=8s")
	}
	cmd := exec.CommandContext(context.Background(), os.Args[0], args...)
	cmd.Env = append(os.Environ(),
		childEnv+"="+mode,
		"FAULTS_CHILD_CONTAINER="+tg.app.ID,
		"FAULTS_CHILD_API="+api,
		"FAULTS_CHILD_PROXY="+tg.link.Proxy.Name,
	)
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	require.NoError(t, cmd.Start())
	if mode == "signal" {
		require.Eventually(t, func() bool { return strings.Contains(buf.String(), "child: all injected") },
			20*time.Second, 10*time.Millisecond, "child output:\n%s", &buf)
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
	}
	err = cmd.Wait()
	out := buf.String()
	require.Error(t, err, "the child must fail:\n%s", out)
	require.Contains(t, string(out), want, "child output:\n%s", out)
	if mode != "panic" { // a panic runs the cleanups: no end hook
		require.Contains(t, string(out), "faults: reverting 5 faults", "child output:\n%s", out)
	}
	require.Contains(t, string(out), "child: all injected", "child output:\n%s", out)

	st, err := tg.app.State(context.Background())
	require.NoError(t, err)
	assert.False(t, st.Paused, "container left paused")
	proxy, err := tg.r.ToxiproxyClient.Proxy(tg.link.Proxy.Name)
	require.NoError(t, err)
	toxics, err := proxy.Toxics()
	require.NoError(t, err)
	assert.Empty(t, toxics, "toxics left on the proxy")
	mem, cpu := tg.limits(t)
	assert.True(t, mem == mem0 || mem >= 1<<30, "memory limit left: %d", mem)
	assert.True(t, cpu == cpu0 || cpu >= 1e9, "CPU limit left: %d", cpu)
	requireHealthy(t, tg)
}

// TestFaultsChild is the child process of the tests above; it does nothing
// unless started by them.
func TestFaultsChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("child process of TestIntegration*MidFaultLeavesNothing")
	}
	proxy, err := toxiproxy.NewClient(os.Getenv("FAULTS_CHILD_API")).Proxy(os.Getenv("FAULTS_CHILD_PROXY"))
	require.NoError(t, err)
	c := cliContainer(os.Getenv("FAULTS_CHILD_CONTAINER"))
	link := faults.ProxyLink(proxy)

	inj := faults.NewInjector()
	inj.Guard(t)
	for _, f := range []faults.Fault{
		faults.Latency(link, time.Second).Both(),
		faults.ResetPeer(link, time.Second),
		faults.CPU(c, 0.2),
		faults.Memory(c, 32<<20),
		faults.Pause(c),
	} {
		_, err := inj.Inject(context.Background(), f)
		require.NoError(t, err)
	}
	fmt.Println("child: all injected")
	switch mode {
	case "panic":
		panic("boom mid-fault")
	case "timeout", "signal":
		select {} // until -timeout or the parent's SIGINT
	}
}

// A fault and a system registered by the same test process are both undone
// when it ends early, the fault first: on SIGINT and before -timeout. The
// child starts its own system, pauses its container through a guarded
// Injector, and hangs; the fault's revert notes whether the container still
// existed (it must: systems are torn down after faults are reverted).
func TestIntegrationEndingRevertsFaultsBeforeSystems(t *testing.T) {
	scenarios.RequireDocker(t)
	_, err := faulteeImage() // built here, not against the child's -timeout
	require.NoError(t, err)
	for _, mode := range []string{"signal", "timeout"} {
		t.Run(mode, func(t *testing.T) {
			runID := fmt.Sprintf("ending-%s-%d", mode, time.Now().UnixNano())
			t.Cleanup(func() { _, _ = scenarios.WipeRun(context.Background(), runID) })
			args := []string{"-test.run=^TestFaultsSystemChild$", "-test.v"}
			if mode == "timeout" {
				args = append(args, "-test.timeout=14s")
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
			cmd.Env = append(os.Environ(), systemChildEnv+"="+mode, scenarios.EnvRunID+"="+runID)
			var buf syncBuffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			require.NoError(t, cmd.Start())
			if mode == "signal" {
				require.Eventually(t, func() bool { return strings.Contains(buf.String(), "child: paused") },
					30*time.Second, 10*time.Millisecond, "child output:\n%s", &buf)
				require.NoError(t, cmd.Process.Signal(os.Interrupt))
			}
			err := cmd.Wait()
			out := buf.String()
			require.Error(t, err, "the child must fail:\n%s", out)
			require.Contains(t, out, "child: paused", out)
			assert.Contains(t, out, "ending early: reverting the faults of TestFaultsSystemChild, then tearing down running system", out)
			assert.Contains(t, out, "child: reverted, container present=true", "the fault was reverted before the system was torn down:\n%s", out)
			assert.NotContains(t, out, "container present=false", out)
			if mode == "timeout" {
				assert.Contains(t, out, "test timed out", out)
			}

			dc, err := scenarios.NewDockerClient(context.Background())
			require.NoError(t, err)
			defer dc.Close()
			list, err := dc.ContainerList(context.Background(), client.ContainerListOptions{All: true,
				Filters: client.Filters{}.Add("label", scenarios.LabelRun+"="+runID)})
			require.NoError(t, err)
			assert.Empty(t, list.Items, "the child's containers are gone")
		})
	}
}

const systemChildEnv = "FAULTS_SYSTEM_CHILD"

// TestFaultsSystemChild is the child process of the test above.
func TestFaultsSystemChild(t *testing.T) {
	if os.Getenv(systemChildEnv) == "" {
		t.Skip("child process of TestIntegrationEndingRevertsFaultsBeforeSystems")
	}
	tg := startTarget(t)
	inj := faults.NewInjector()
	inj.Guard(t)
	_, err := inj.Inject(context.Background(), &noting{Fault: faults.Pause(tg.app), c: tg.app})
	require.NoError(t, err)
	fmt.Println("child: paused")
	select {} // until -timeout or the parent's SIGINT
}

// noting is a container fault that prints, when reverted, whether its
// container still existed.
type noting struct {
	faults.Fault
	c faults.ContainerTarget
}

func (n *noting) Revert(ctx context.Context) error {
	_, err := n.c.State(ctx)
	fmt.Printf("child: reverted, container present=%v\n", err == nil)
	return n.Fault.Revert(ctx)
}

// cliContainer drives a container with the docker command line.
type cliContainer string

func (c cliContainer) docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func (c cliContainer) run(ctx context.Context, args ...string) error {
	_, err := c.docker(ctx, append(args, string(c))...)
	return err
}

func (c cliContainer) Kill(ctx context.Context, s string) error { return c.run(ctx, "kill", "-s", s) }
func (c cliContainer) Stop(ctx context.Context, d time.Duration) error {
	return c.run(ctx, "stop", "-t", strconv.Itoa(int(d.Seconds())))
}
func (c cliContainer) Start(ctx context.Context) error { return c.run(ctx, "start") }
func (c cliContainer) Restart(ctx context.Context, d time.Duration) error {
	return c.run(ctx, "restart", "-t", strconv.Itoa(int(d.Seconds())))
}
func (c cliContainer) Pause(ctx context.Context) error     { return c.run(ctx, "pause") }
func (c cliContainer) Unpause(ctx context.Context) error   { return c.run(ctx, "unpause") }
func (c cliContainer) WaitReady(ctx context.Context) error { return nil }
func (c cliContainer) Update(ctx context.Context, r faults.Resources) error {
	args := []string{"update"}
	if r.NanoCPUs != 0 {
		args = append(args, "--cpus", strconv.FormatFloat(float64(r.NanoCPUs)/1e9, 'f', -1, 64))
	}
	if r.Memory != 0 {
		args = append(args, "--memory", strconv.FormatInt(r.Memory, 10))
	}
	if r.MemorySwap != 0 {
		args = append(args, "--memory-swap", strconv.FormatInt(r.MemorySwap, 10))
	}
	return c.run(ctx, args...)
}
func (c cliContainer) State(ctx context.Context) (faults.State, error) {
	out, err := c.docker(ctx, "inspect", "-f", "{{.State.Running}} {{.State.Paused}} {{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}", string(c))
	if err != nil {
		return faults.State{}, err
	}
	var st faults.State
	_, err = fmt.Sscan(out, &st.Running, &st.Paused, &st.OOMKilled, &st.ExitCode, &st.Status)
	return st, err
}

var (
	_ faults.ContainerTarget = cliContainer("")
	_ faults.ResourceTarget  = cliContainer("")
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
