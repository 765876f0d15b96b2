package faults_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

var (
	running   = faults.State{Running: true, Status: "running"}
	paused    = faults.State{Running: true, Paused: true, Status: "paused"}
	exited    = faults.State{ExitCode: 137, Status: "exited"}
	errNoSuch = fmt.Errorf("inspect x: %w", cerrdefs.ErrNotFound.WithMessage("No such container: x"))
)

func TestPauseRevert(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Pause(mock.Anything).Return(nil).Once()
	c.EXPECT().Unpause(mock.Anything).Return(nil).Once()
	f := faults.Pause(c)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx)) // twice: harmless, no call
}

func TestPauseRevertOnDeadContainer(t *testing.T) {
	t.Run("removed", func(t *testing.T) {
		c := newMockContainerTarget(t)
		c.EXPECT().Pause(mock.Anything).Return(nil).Once()
		c.EXPECT().Unpause(mock.Anything).Return(errNoSuch).Once()
		f := faults.Pause(c)
		require.NoError(t, f.Inject(ctx))
		assert.NoError(t, f.Revert(ctx))
	})
	t.Run("killed", func(t *testing.T) {
		c := newMockContainerTarget(t)
		c.EXPECT().Pause(mock.Anything).Return(nil).Once()
		c.EXPECT().Unpause(mock.Anything).Return(errors.New("Container x is not paused")).Once()
		c.EXPECT().State(mock.Anything).Return(exited, nil).Once()
		f := faults.Pause(c)
		require.NoError(t, f.Inject(ctx))
		assert.NoError(t, f.Revert(ctx))
	})
	t.Run("still paused is an error", func(t *testing.T) {
		c := newMockContainerTarget(t)
		c.EXPECT().Pause(mock.Anything).Return(nil).Once()
		c.EXPECT().Unpause(mock.Anything).Return(errors.New("daemon busy")).Once()
		c.EXPECT().State(mock.Anything).Return(paused, nil).Once()
		f := faults.Pause(c)
		require.NoError(t, f.Inject(ctx))
		assert.ErrorContains(t, f.Revert(ctx), "daemon busy")
	})
}

func TestKillRevertStartsAndWaitsReady(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Kill(mock.Anything, "SIGKILL").Return(nil).Once()
	c.EXPECT().State(mock.Anything).Return(exited, nil).Once()
	c.EXPECT().Start(mock.Anything).Return(nil).Once()
	c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	f := faults.Kill(c, "")
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
}

func TestKillRevertWhenRecoveryRestartedIt(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Kill(mock.Anything, "SIGTERM").Return(nil).Once()
	c.EXPECT().State(mock.Anything).Return(running, nil).Once()
	c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	f := faults.Kill(c, "SIGTERM")
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx)) // no Start
}

func TestKillRevertOnRemovedContainer(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Kill(mock.Anything, "SIGKILL").Return(nil).Once()
	c.EXPECT().State(mock.Anything).Return(faults.State{}, errNoSuch).Once()
	f := faults.Kill(c, "SIGKILL")
	require.NoError(t, f.Inject(ctx))
	assert.NoError(t, f.Revert(ctx))
}

func TestKillKeepDown(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Kill(mock.Anything, "SIGKILL").Return(nil).Once()
	f := faults.Kill(c, "SIGKILL").KeepDown()
	require.NoError(t, f.Inject(ctx))
	assert.NoError(t, f.Revert(ctx))
}

func TestStopRevert(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Stop(mock.Anything, 2*time.Second).Return(nil).Once()
	c.EXPECT().State(mock.Anything).Return(exited, nil).Once()
	c.EXPECT().Start(mock.Anything).Return(nil).Once()
	c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	f := faults.Stop(c, 2*time.Second)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
}

func TestStopFailureIsRolledBack(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Stop(mock.Anything, time.Second).Return(context.DeadlineExceeded).Once()
	c.EXPECT().State(mock.Anything).Return(exited, nil).Once()
	c.EXPECT().Start(mock.Anything).Return(nil).Once()
	c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	f := faults.Stop(c, time.Second)
	require.ErrorIs(t, f.Inject(ctx), context.DeadlineExceeded)
	require.NoError(t, f.Revert(ctx)) // rolled back already: no call
}

func TestRestart(t *testing.T) {
	c := newMockContainerTarget(t)
	c.EXPECT().Restart(mock.Anything, time.Second).Return(nil).Once()
	c.EXPECT().State(mock.Anything).Return(running, nil).Once()
	c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	f := faults.Restart(c, time.Second)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
}

// fakeContainer counts kills and starts; State reports exited after a kill
// until the next start.
type fakeContainer struct {
	*mockContainerTarget
	kills, starts atomic.Int32
	up            atomic.Bool
}

func newFakeContainer(t *testing.T) *fakeContainer {
	t.Helper()
	f := &fakeContainer{mockContainerTarget: newMockContainerTarget(t)}
	f.up.Store(true)
	f.EXPECT().Kill(mock.Anything, mock.Anything).RunAndReturn(func(context.Context, string) error {
		f.kills.Add(1)
		f.up.Store(false)
		return nil
	}).Maybe()
	f.EXPECT().Start(mock.Anything).RunAndReturn(func(context.Context) error {
		f.starts.Add(1)
		f.up.Store(true)
		return nil
	}).Maybe()
	f.EXPECT().State(mock.Anything).RunAndReturn(func(context.Context) (faults.State, error) {
		if f.up.Load() {
			return running, nil
		}
		return exited, nil
	}).Maybe()
	f.EXPECT().WaitReady(mock.Anything).Return(nil).Maybe()
	return f
}

func TestCrashLoopRunsToTheEnd(t *testing.T) {
	c := newFakeContainer(t)
	f := faults.CrashLoop(c, 3, 20*time.Millisecond)
	require.NoError(t, f.Inject(ctx))
	assert.EqualValues(t, 1, c.kills.Load(), "first kill is synchronous")
	select {
	case <-f.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("crash loop did not finish")
	}
	assert.EqualValues(t, 3, c.kills.Load())
	assert.EqualValues(t, 3, c.starts.Load())
	assert.Equal(t, 3, f.Kills())
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
	assert.True(t, c.up.Load())
}

func TestCrashLoopRevertStopsIt(t *testing.T) {
	c := newFakeContainer(t)
	f := faults.CrashLoop(c, 1000, 10*time.Millisecond)
	require.NoError(t, f.Inject(ctx))
	require.Eventually(t, func() bool { return c.kills.Load() >= 2 }, 5*time.Second, time.Millisecond)
	require.NoError(t, f.Revert(ctx))
	n := c.kills.Load()
	time.Sleep(50 * time.Millisecond) // the loop must be gone: no more kills
	assert.Equal(t, n, c.kills.Load())
	assert.Less(t, n, int32(1000))
	assert.True(t, c.up.Load(), "left running")
}

func TestPartition(t *testing.T) {
	c := newMockNetworkTarget(t)
	c.EXPECT().Disconnect(mock.Anything).Return(nil).Once()
	c.EXPECT().Connect(mock.Anything).Return(nil).Once()
	f := faults.Partition(c)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))

	gone := newMockNetworkTarget(t)
	gone.EXPECT().Disconnect(mock.Anything).Return(nil).Once()
	gone.EXPECT().Connect(mock.Anything).Return(errors.New("network connect failed")).Once()
	gone.EXPECT().State(mock.Anything).Return(faults.State{}, errNoSuch).Once()
	f = faults.Partition(gone)
	require.NoError(t, f.Inject(ctx))
	assert.NoError(t, f.Revert(ctx))
}

type readable struct {
	*mockResourceTarget
	*mockResourceReader
}

func TestMemoryRestoresPreviousLimits(t *testing.T) {
	rt, rr := newMockResourceTarget(t), newMockResourceReader(t)
	rr.EXPECT().Resources(mock.Anything).Return(faults.Resources{Memory: 256 << 20, MemorySwap: 512 << 20}, nil).Once()
	rt.EXPECT().Update(mock.Anything, faults.Resources{Memory: 32 << 20, MemorySwap: 32 << 20}).Return(nil).Once()
	rt.EXPECT().Update(mock.Anything, faults.Resources{Memory: 256 << 20, MemorySwap: 512 << 20}).Return(nil).Once()
	f := faults.Memory(readable{rt, rr}, 32<<20)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
}

func TestMemoryWithoutReaderRevertsToHostMemory(t *testing.T) {
	rt := newMockResourceTarget(t)
	rt.EXPECT().Update(mock.Anything, faults.Resources{Memory: 32 << 20, MemorySwap: 32 << 20}).Return(nil).Once()
	rt.EXPECT().Update(mock.Anything, mock.MatchedBy(func(r faults.Resources) bool {
		return r.Memory >= 1<<30 && r.MemorySwap == r.Memory && r.NanoCPUs == 0
	})).Return(nil).Once()
	f := faults.Memory(rt, 32<<20)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
}

func TestCPURestores(t *testing.T) {
	rt, rr := newMockResourceTarget(t), newMockResourceReader(t)
	rr.EXPECT().Resources(mock.Anything).Return(faults.Resources{NanoCPUs: 1.5e9}, nil).Once()
	rt.EXPECT().Update(mock.Anything, faults.Resources{NanoCPUs: 1e8}).Return(nil).Once()
	rt.EXPECT().Update(mock.Anything, faults.Resources{NanoCPUs: 1.5e9}).Return(nil).Once()
	f := faults.CPU(readable{rt, rr}, 0.1)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
}

func TestResourceRevertOnRemovedContainer(t *testing.T) {
	rt := newMockResourceTarget(t)
	rt.EXPECT().Update(mock.Anything, mock.Anything).Return(nil).Once()
	rt.EXPECT().Update(mock.Anything, mock.Anything).Return(errNoSuch).Once()
	f := faults.CPU(rt, 0.5)
	require.NoError(t, f.Inject(ctx))
	assert.NoError(t, f.Revert(ctx))
}

func TestOOMRevertRestoresLimitAndRestarts(t *testing.T) {
	c := newMockOOMTarget(t)
	c.EXPECT().Update(mock.Anything, faults.Resources{Memory: 8 << 20, MemorySwap: 8 << 20}).Return(nil).Once()
	c.EXPECT().State(mock.Anything).Return(faults.State{OOMKilled: true, ExitCode: 137, Status: "exited"}, nil).Twice()
	c.EXPECT().Update(mock.Anything, mock.Anything).Return(nil).Once()
	c.EXPECT().Start(mock.Anything).Return(nil).Once()
	c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	f := faults.OOM(c, 8<<20)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Wait(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
}

func TestDiskFull(t *testing.T) {
	c := newMockDiskTarget(t)
	c.EXPECT().Exec(mock.Anything, []string{"sh", "-c", "cat /dev/zero > '/data/.firedrill-fill'"}).
		Return(1, "cat: write error: No space left on device", nil).Once()
	c.EXPECT().Exec(mock.Anything, []string{"rm", "-f", "/data/.firedrill-fill"}).Return(0, "", nil).Once()
	f := faults.DiskFull(c, "/data")
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx))
}

func TestDiskFullThatDoesNotFillIsRolledBack(t *testing.T) {
	c := newMockDiskTarget(t)
	c.EXPECT().Exec(mock.Anything, []string{"fill"}).Return(127, "exec: not found", nil).Once()
	c.EXPECT().Exec(mock.Anything, []string{"free"}).Return(0, "", nil).Once()
	f := faults.DiskFull(c, "/data").Using([]string{"fill"}, []string{"free"})
	err := f.Inject(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without filling the disk")
	require.NoError(t, f.Revert(ctx)) // nothing in effect
}

func TestDiskFullRevertOnStoppedContainer(t *testing.T) {
	c := newMockDiskTarget(t)
	c.EXPECT().Exec(mock.Anything, []string{"fill"}).Return(0, "", nil).Once()
	c.EXPECT().Exec(mock.Anything, []string{"free"}).Return(-1, "", errors.New("container is not running")).Once()
	c.EXPECT().State(mock.Anything).Return(exited, nil).Once()
	f := faults.DiskFull(c, "/data").Using([]string{"fill"}, []string{"free"})
	require.NoError(t, f.Inject(ctx))
	assert.NoError(t, f.Revert(ctx))
}
