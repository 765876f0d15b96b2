package scenarios

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"time"
)

// Labels set on every Docker resource the runtime creates.
const (
	// LabelFiredrill marks every firedrill resource; [Wipe] removes exactly
	// the resources with LabelFiredrill=true.
	LabelFiredrill = "firedrill"
	// LabelRun holds the run id of the process that created the resource.
	LabelRun = "firedrill.run"
	// LabelTest holds the name of the test that started the system.
	LabelTest = "firedrill.test"
	// LabelSystem holds the System name.
	LabelSystem = "firedrill.system"
	// LabelInstance identifies one started system (one [Running]).
	LabelInstance = "firedrill.instance"
	// LabelContainer holds the ContainerSpec name (or "toxiproxy").
	LabelContainer = "firedrill.container"
	// LabelVolume holds a named volume's name within its system
	// (Mount.Source).
	LabelVolume = "firedrill.volume"
	// LabelImageBuild is "true" on images built from a ContainerSpec.Build.
	// They are a cache, kept between runs; [Wipe] leaves them.
	LabelImageBuild = "firedrill.image-build"
	// LabelBuildHash holds the content hash of a built image's context.
	LabelBuildHash = "firedrill.build-hash"
)

// EnvRunID is the environment variable that sets the run id of this process
// ([RunID]).
const EnvRunID = "FIREDRILL_RUN_ID"

// Errors returned by the runtime, matched with errors.Is.
var (
	// ErrDockerUnreachable: the Docker daemon did not answer.
	ErrDockerUnreachable = errors.New("docker daemon unreachable (start it: sudo dockerd &, or run .ci/run)")
	// ErrImageMissing: an image is not present locally and could not be
	// pulled (or pulling is off, or it is one of the project's images,
	// which are built here and never pulled).
	ErrImageMissing = errors.New("image missing")
	// ErrContainerExited: a container exited before it was ready.
	ErrContainerExited = errors.New("container exited")
	// ErrUnhealthy: Docker reported a container "unhealthy" while
	// [ReadyHealthy] waited for it.
	ErrUnhealthy = errors.New("container unhealthy")
	// ErrNotReady: readiness did not hold within the ready timeout.
	ErrNotReady = errors.New("container not ready")
	// ErrClosed: the system has been torn down.
	ErrClosed = errors.New("system closed")
)

var runID = sync.OnceValue(func() string {
	if id := os.Getenv(EnvRunID); id != "" {
		return id
	}
	return time.Now().UTC().Format("20060102T150405Z") + "-" + newID()
})

// RunID returns this process's run id: $FIREDRILL_RUN_ID when it is set and
// not empty, otherwise an id chosen once per process from the time and
// random bits ("20060102T150405Z-0123456789ab"). It is the value of
// [LabelRun] on every resource the process creates and the run id of its
// drill reports.
func RunID() string { return runID() }

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// labels returns the labels of one resource.
func labels(run, test, system, instance string) map[string]string {
	return map[string]string{
		LabelFiredrill: "true",
		LabelRun:       run,
		LabelTest:      test,
		LabelSystem:    system,
		LabelInstance:  instance,
	}
}
