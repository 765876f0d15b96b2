package scenarios

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// DockerAPI is the part of the Docker Engine API the runtime uses after a
// container is created: lifecycle, inspection, events, exec, logs, networks
// and removal. *client.Client (github.com/moby/moby/client) and the client of a
// testcontainers provider satisfy it; unit tests use the mockery mock in
// scenarios/mocks.
type DockerAPI interface {
	ContainerInspect(ctx context.Context, containerID string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerKill(ctx context.Context, containerID string, options client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerStop(ctx context.Context, containerID string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerStart(ctx context.Context, containerID string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerRestart(ctx context.Context, containerID string, options client.ContainerRestartOptions) (client.ContainerRestartResult, error)
	ContainerPause(ctx context.Context, containerID string, options client.ContainerPauseOptions) (client.ContainerPauseResult, error)
	ContainerUnpause(ctx context.Context, containerID string, options client.ContainerUnpauseOptions) (client.ContainerUnpauseResult, error)
	ContainerUpdate(ctx context.Context, containerID string, options client.ContainerUpdateOptions) (client.ContainerUpdateResult, error)
	ContainerLogs(ctx context.Context, containerID string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ExecCreate(ctx context.Context, containerID string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)
	NetworkConnect(ctx context.Context, networkID string, options client.NetworkConnectOptions) (client.NetworkConnectResult, error)
	NetworkDisconnect(ctx context.Context, networkID string, options client.NetworkDisconnectOptions) (client.NetworkDisconnectResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, networkID string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	// Events streams the daemon's events ([Container.Events] reads a
	// container's, over a window).
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
}

var _ DockerAPI = (*client.Client)(nil)
var _ DockerAPI = (client.APIClient)(nil)

// NewDockerClient connects to the Docker daemon the way testcontainers-go
// finds it (DOCKER_HOST, docker context, ~/.testcontainers.properties, the
// default socket) and checks that it answers. Close it when done.
func NewDockerClient(ctx context.Context) (*client.Client, error) {
	quiet()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDockerUnreachable, err)
	}
	if _, err := dc.Ping(ctx, client.PingOptions{}); err != nil {
		_ = dc.Close()
		return nil, fmt.Errorf("%w: %w", ErrDockerUnreachable, err)
	}
	return dc.Client, nil
}
