package scenarios

import (
	"context"
	"sync"
	"testing"
	"time"
)

var dockerErr = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := NewDockerClient(ctx)
	if err != nil {
		return err
	}
	return c.Close()
})

// RequireDocker guards a test that needs Docker. Under -short it skips the
// test (Docker tests are integration tests); otherwise, when the daemon does
// not answer, it fails the test with the fix: start the daemon (sudo dockerd
// &) or run .ci/run, which starts it.
func RequireDocker(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs Docker: skipped under -short")
	}
	if err := dockerErr(); err != nil {
		tb.Fatalf("this test needs Docker and the daemon does not answer: %v\nfix: start the Docker daemon (sudo dockerd &), or run .ci/run, which starts it", err)
	}
}
