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
)

// EnvRunID is the environment variable that sets the run id of this process
// ([RunID]).
const EnvRunID = "FIREDRILL_RUN_ID"

// Errors returned by the runtime, matched with errors.Is.
var (
	// ErrDockerUnreachable: the Docker daemon did not answer.
	ErrDockerUnreachable = errors.New("docker daemon unreachable (start it: sudo dockerd &, or run .ci/run)")
	// ErrImageMissing: an image is not present locally (nothing is pulled).
	ErrImageMissing = errors.New("image missing")
	// ErrContainerExited: a container exited before it was ready.
	ErrContainerExited = errors.New("container exited")
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
