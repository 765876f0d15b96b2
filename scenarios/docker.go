package scenarios

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// The runtime's boundary with the Docker Engine API, each interface only as
// large as its users need. *client.Client (github.com/moby/moby/client) and
// the client of a testcontainers provider satisfy them all; unit tests use
// the mockery mock of dockerAPI (docker_api_mock_test.go).

// containerAPI is what a [Container] handle does to its container:
// lifecycle, inspection, events, exec, logs and its network attachment.
type containerAPI interface {
	ContainerInspect(ctx context.Context, containerID string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
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
	// Events streams the daemon's events ([Container.Events] reads a
	// container's, over a window).
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
}

// reaperAPI is what teardown and [WipeWith] need: find and remove
// containers, networks and volumes.
type reaperAPI interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, networkID string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, volumeID string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
}

// imageAPI is what getting the images ready needs: inspect, build, tag,
// pull.
type imageAPI interface {
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	ImagePull(ctx context.Context, refStr string, options client.ImagePullOptions) (client.ImagePullResponse, error)
}

// dockerAPI is what a [Running] system needs: its containers' handles, its
// teardown, its images and its named volumes.
type dockerAPI interface {
	containerAPI
	reaperAPI
	imageAPI
	VolumeCreate(ctx context.Context, options client.VolumeCreateOptions) (client.VolumeCreateResult, error)
}

var (
	_ dockerAPI = (*client.Client)(nil)
	_ dockerAPI = (client.APIClient)(nil)
)

// NewDockerClient connects to the Docker daemon the way testcontainers-go
// finds it (DOCKER_HOST, ~/.testcontainers.properties, the default socket)
// and checks that it answers. A daemon named by DOCKER_HOST or the
// properties that does not answer is an error ([CheckDockerHost]), never a
// silent fallback to another daemon. Close it when done.
func NewDockerClient(ctx context.Context) (*client.Client, error) {
	SetTestcontainersEnv()
	if err := CheckDockerHost(ctx); err != nil {
		return nil, err
	}
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

// EnvTestcontainersLog, when set, keeps testcontainers-go's default logger,
// which [SetTestcontainersEnv] otherwise silences.
const EnvTestcontainersLog = "FIREDRILL_TESTCONTAINERS_LOG"

// testcontainersEnv is the environment testcontainers-go needs here, each
// variable set only when it is empty.
var testcontainersEnv = []struct{ name, value string }{
	// firedrill reaps by itself (labels, cleanup, watchdog, wipe); the
	// reaper image (Ryuk) cannot be pulled without a registry.
	{"TESTCONTAINERS_RYUK_DISABLED", "true"},
	// Published ports are bound to 127.0.0.1: that is where the daemon's
	// containers are reached (testcontainers-go's Host, Endpoint).
	{"TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1"},
}

// SetTestcontainersEnv sets, once, TESTCONTAINERS_RYUK_DISABLED=true and
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 where they are empty, and silences
// testcontainers-go's logger. The runtime calls it before it uses Docker;
// code that uses testcontainers-go directly calls it first.
func SetTestcontainersEnv() { setTestcontainersEnv() }

var setTestcontainersEnv = sync.OnceFunc(func() {
	if os.Getenv(EnvTestcontainersLog) == "" {
		tclog.SetDefault(tclog.NewNoopLogger())
	}
	for _, kv := range testcontainersEnv {
		if os.Getenv(kv.name) == "" {
			_ = os.Setenv(kv.name, kv.value)
		}
	}
})
