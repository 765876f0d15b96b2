package scenarios_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// A test process interrupted (SIGINT) mid-fault on an attached
// environment leaves nothing behind. The parent starts the staging
// environment; a child test process attaches to it and injects a latency
// toxic and a kill, either in a drill (drills.Run reverts them at
// scenarios.StageFaults) or through a bare Injector that nothing guards
// (only the attached environment's restore, at scenarios.StageAttached,
// puts things back). The parent interrupts it once the faults are in
// effect and checks toxiproxy and Docker afterwards.

const attachChildEnv = "FIREDRILL_ATTACH_CHILD"

func TestAttachInterruptedDrillLeavesNothing(t *testing.T) {
	testAttachInterrupted(t, "drill", "ending early: reverting the faults of TestAttachChild, then restoring the attached environment")
}

func TestAttachInterruptedBareFaultsLeaveNothing(t *testing.T) {
	testAttachInterrupted(t, "bare", "ending early: restoring the attached environment")
}

func testAttachInterrupted(t *testing.T, mode, want string) {
	t.Helper()
	stg := startStaging(t)
	before := stg.snapshot(t, stg.Bystander)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestAttachChild$", "-test.v")
	cmd.Env = append(os.Environ(), attachChildEnv+"="+mode, "FIREDRILL_PROGRESS=0",
		"ATTACH_CHILD_DOCKER="+stg.DockerHost, "ATTACH_CHILD_API="+stg.API,
		"ATTACH_CHILD_TOXIPROXY="+stg.Toxiproxy, "ATTACH_CHILD_ENDPOINT="+stg.Endpoint)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		toxics, _ := stg.toxics(t)
		return len(toxics) == 1 && !stg.inspect(t, stg.API).State.Running
	}, 30*time.Second, 20*time.Millisecond, "the child's faults take effect:\n%s", &out)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	require.Error(t, err, "the interrupted child fails:\n%s", &out)
	t.Logf("child output:\n%s", &out)
	assert.Contains(t, out.String(), want)

	toxics, enabled := stg.toxics(t)
	assert.Empty(t, toxics, "no toxic left:\n%s", &out)
	assert.True(t, enabled)
	assert.True(t, stg.inspect(t, stg.API).State.Running, "the killed container runs again:\n%s", &out)
	assert.Equal(t, before, stg.snapshot(t, stg.Bystander), "the unlisted container is untouched")
}

// TestAttachChild is the child process of the tests above; it does nothing
// unless started by them.
func TestAttachChild(t *testing.T) {
	mode := os.Getenv(attachChildEnv)
	if mode == "" {
		t.Skip("child process of TestAttachInterrupted*")
	}
	env, err := scenarios.Attach(context.Background(), scenarios.Environment{
		DockerHost: os.Getenv("ATTACH_CHILD_DOCKER"), Containers: []string{os.Getenv("ATTACH_CHILD_API")},
		Toxiproxy: os.Getenv("ATTACH_CHILD_TOXIPROXY"), Proxies: []string{"api"},
		Endpoints: map[string]string{"api": os.Getenv("ATTACH_CHILD_ENDPOINT")},
	})
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	require.NoError(t, err)
	link, api := env.MustLink("api"), env.MustContainer(os.Getenv("ATTACH_CHILD_API"))
	if mode == "bare" {
		inj := faults.NewInjector() // not guarded: only the environment's restore undoes these
		for _, f := range []faults.Fault{faults.Latency(link, time.Second), faults.Kill(api, "")} {
			_, err := inj.Inject(context.Background(), f)
			require.NoError(t, err)
		}
		fmt.Println("child: injected")
		select {} // until the parent's SIGINT
	}
	drills.Run(t, drills.Drill{
		Name:     "interrupted",
		Workload: load.HTTP(load.Constant(50), load.Target{URL: "http://" + env.MustEndpoint("api") + "/"}),
		Steady:   slo.SuccessRatio(0.99),
		Faults:   faults.At(500*time.Millisecond, faults.All(faults.Latency(link, time.Second), faults.Kill(api, ""))),
		Limits:   drills.Limits{RecoverWithin: time.Minute},
	})
}

// syncBuffer is a bytes.Buffer safe for the child's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
