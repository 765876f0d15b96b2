package scenarios

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
)

var forceRemove = client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}

func instanceFilter(instance string) client.Filters {
	return client.Filters{}.Add("label", LabelInstance+"="+instance)
}

func TestTeardownRemovesContainersThenNetwork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newMockDockerAPI(t)

	var mu sync.Mutex
	var order []string
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	for _, id := range []string{"c1", "c2", "toxi"} {
		d.EXPECT().ContainerRemove(ctx, id, forceRemove).
			Run(func(context.Context, string, client.ContainerRemoveOptions) { record("rm " + id) }).
			Return(client.ContainerRemoveResult{}, nil).Once()
	}
	// A straggler (created, id never reported) is found by its label.
	d.EXPECT().ContainerList(ctx, client.ContainerListOptions{All: true, Filters: instanceFilter("i1")}).
		Return(client.ContainerListResult{Items: []container.Summary{{ID: "stray"}}}, nil).Once()
	d.EXPECT().ContainerRemove(ctx, "stray", forceRemove).
		Run(func(context.Context, string, client.ContainerRemoveOptions) { record("rm stray") }).
		Return(client.ContainerRemoveResult{}, nil).Once()
	d.EXPECT().NetworkList(ctx, client.NetworkListOptions{Filters: instanceFilter("i1")}).
		Return(client.NetworkListResult{Items: []network.Summary{{Network: network.Network{ID: "net1"}}}}, nil).Once()
	d.EXPECT().NetworkRemove(ctx, "net1", client.NetworkRemoveOptions{}).
		Run(func(context.Context, string, client.NetworkRemoveOptions) { record("rm net1") }).
		Return(client.NetworkRemoveResult{}, nil).Once()
	// The instance's named volumes go last: no container uses them any more.
	d.EXPECT().VolumeList(ctx, client.VolumeListOptions{Filters: instanceFilter("i1")}).
		Return(client.VolumeListResult{Items: []volume.Volume{{Name: "fd-i1-sys-data"}}}, nil).Once()
	d.EXPECT().VolumeRemove(ctx, "fd-i1-sys-data", client.VolumeRemoveOptions{Force: true}).
		Run(func(context.Context, string, client.VolumeRemoveOptions) { record("rm volume") }).
		Return(client.VolumeRemoveResult{}, nil).Once()

	require.NoError(t, teardown(ctx, d, []string{"c1", "c2", "toxi"}, "net1", "i1"))
	require.Len(t, order, 6)
	assert.ElementsMatch(t, []string{"rm c1", "rm c2", "rm toxi"}, order[:3], "known containers first, in parallel")
	assert.Equal(t, []string{"rm stray", "rm net1", "rm volume"}, order[3:], "then stragglers, then the network, then the volumes")
}

func TestTeardownIgnoresGoneAndJoinsErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newMockDockerAPI(t)
	boom := errors.New("boom")
	d.EXPECT().ContainerRemove(ctx, "gone", forceRemove).Return(client.ContainerRemoveResult{}, cerrdefs.ErrNotFound).Once()
	d.EXPECT().ContainerRemove(ctx, "stuck", forceRemove).Return(client.ContainerRemoveResult{}, boom).Once()
	d.EXPECT().ContainerList(ctx, mock.Anything).Return(client.ContainerListResult{}, nil).Once()
	d.EXPECT().NetworkList(ctx, mock.Anything).Return(client.NetworkListResult{}, nil).Once()
	d.EXPECT().VolumeList(ctx, mock.Anything).Return(client.VolumeListResult{}, nil).Once()
	netErr := errors.New("network has active endpoints")
	d.EXPECT().NetworkRemove(ctx, "net1", client.NetworkRemoveOptions{}).Return(client.NetworkRemoveResult{}, netErr).Once()

	err := teardown(ctx, d, []string{"gone", "stuck"}, "net1", "i1")
	require.Error(t, err)
	require.ErrorIs(t, err, boom, "a failed removal is reported")
	require.ErrorIs(t, err, netErr, "and the network removal is still attempted")
	assert.NotContains(t, err.Error(), "gone", "a container already gone is not an error")
	assert.Contains(t, err.Error(), "remove container stuck")
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newMockDockerAPI(t)
	r, err := newRunning(validSystem())
	require.NoError(t, err)
	r.docker, r.ids, r.NetworkID = d, []string{"c1"}, "net1"
	d.EXPECT().ContainerRemove(ctx, "c1", forceRemove).Return(client.ContainerRemoveResult{}, nil).Once()
	d.EXPECT().ContainerList(ctx, mock.Anything).Return(client.ContainerListResult{}, nil).Once()
	d.EXPECT().NetworkList(ctx, mock.Anything).Return(client.NetworkListResult{}, nil).Once()
	d.EXPECT().VolumeList(ctx, mock.Anything).Return(client.VolumeListResult{}, nil).Once()
	d.EXPECT().NetworkRemove(ctx, "net1", mock.Anything).Return(client.NetworkRemoveResult{}, nil).Once()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.NoError(t, r.Close(ctx)) })
	}
	wg.Wait()
	assert.NoError(t, r.Close(ctx))
}

// A tracked system is torn down by the ending handler before the deadline.
func TestWatchdogClosesBeforeDeadline(t *testing.T) {
	t.Parallel()
	e, _ := testEnding(t)
	r, err := newRunning(validSystem())
	require.NoError(t, err)
	r.track(e.add)
	deadline := time.Now().Add(400 * time.Millisecond)
	e.arm(deadline)
	require.Eventually(t, r.isClosed, time.Second, 5*time.Millisecond)
	assert.True(t, time.Now().Before(deadline), "closed before the deadline")
	assert.Empty(t, e.take(), "Close unregistered the hook")
}

// Close waits for a Close already under way: an end hook that races the
// test's own cleanup returns only when the system is gone.
func TestCloseWaitsForTheFirstClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newMockDockerAPI(t)
	r, err := newRunning(validSystem())
	require.NoError(t, err)
	r.docker, r.ids = d, []string{"c1"}
	release := make(chan struct{})
	d.EXPECT().ContainerRemove(ctx, "c1", forceRemove).
		Run(func(context.Context, string, client.ContainerRemoveOptions) { <-release }).
		Return(client.ContainerRemoveResult{}, nil).Once()
	d.EXPECT().ContainerList(ctx, mock.Anything).Return(client.ContainerListResult{}, nil).Once()
	d.EXPECT().NetworkList(ctx, mock.Anything).Return(client.NetworkListResult{}, nil).Once()
	d.EXPECT().VolumeList(ctx, mock.Anything).Return(client.VolumeListResult{}, nil).Once()
	first := make(chan error, 1)
	go func() { first <- r.Close(ctx) }()
	require.Eventually(t, r.isClosed, time.Second, time.Millisecond)
	second := make(chan error, 1)
	go func() { second <- r.Close(ctx) }()
	select {
	case err := <-second:
		t.Fatalf("the second Close returned (%v) while the first was still tearing down", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-first)
	require.NoError(t, <-second)

	short, cancel := context.WithCancel(ctx)
	cancel()
	assert.NoError(t, r.Close(short), "done: no wait")
}

func TestWipeRemovesOnlyLabelled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newMockDockerAPI(t)
	want := client.Filters{}.Add("label", "firedrill=true")
	d.EXPECT().ContainerList(ctx, client.ContainerListOptions{All: true, Filters: want}).Return(client.ContainerListResult{Items: []container.Summary{
		{ID: "aaaaaaaaaaaaaaaa", Names: []string{"/fd-1-app"}, Labels: map[string]string{"firedrill": "true"}},
		{ID: "bbbbbbbbbbbbbbbb", Names: []string{"/someone-elses"}, Labels: map[string]string{"firedrill": "false"}},
	}}, nil).Once()
	d.EXPECT().ContainerRemove(ctx, "aaaaaaaaaaaaaaaa", forceRemove).Return(client.ContainerRemoveResult{}, nil).Once()
	d.EXPECT().NetworkList(ctx, client.NetworkListOptions{Filters: want}).Return(client.NetworkListResult{Items: []network.Summary{
		{Network: network.Network{ID: "n1", Name: "fd-net", Labels: map[string]string{"firedrill": "true"}}},
		{Network: network.Network{ID: "n2", Name: "bridge"}},
	}}, nil).Once()
	d.EXPECT().NetworkRemove(ctx, "n1", client.NetworkRemoveOptions{}).Return(client.NetworkRemoveResult{}, nil).Once()
	d.EXPECT().VolumeList(ctx, client.VolumeListOptions{Filters: want}).Return(client.VolumeListResult{Items: []volume.Volume{
		{Name: "fd-1-sys-data", Labels: map[string]string{"firedrill": "true"}},
		{Name: "someone-elses", Labels: map[string]string{}},
	}}, nil).Once()
	d.EXPECT().VolumeRemove(ctx, "fd-1-sys-data", client.VolumeRemoveOptions{Force: true}).Return(client.VolumeRemoveResult{}, nil).Once()

	removed, err := wipe(ctx, d, "firedrill=true")
	require.NoError(t, err)
	assert.Equal(t, []string{"aaaaaaaaaaaa /fd-1-app"}, removed.Containers)
	assert.Equal(t, []string{"n1 fd-net"}, removed.Networks)
	assert.Equal(t, []string{"fd-1-sys-data"}, removed.Volumes)
	// The mock fails the test on any call not expected above: nothing
	// unlabelled was removed.
}

func TestWipeRefusesNoFilter(t *testing.T) {
	t.Parallel()
	d := newMockDockerAPI(t)
	_, err := wipe(context.Background(), d)
	require.ErrorContains(t, err, "refusing")
}
