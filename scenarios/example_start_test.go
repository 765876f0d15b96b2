package scenarios_test

import (
	"context"
	"testing"

	"github.com/firedrill/firedrill/scenarios"
)

// cutLink starts a stub behind a link from the test process, cuts the link
// and restores it. Start takes the test's own testing.TB: it skips the test
// under -short, fails it on error, and tears the system down when the test
// ends. A test calls it as
//
//	func TestCutLink(t *testing.T) { cutLink(t) }
func cutLink(tb testing.TB) {
	tb.Helper()
	run := scenarios.Start(tb, scenarios.System{
		Name: "demo",
		Containers: []scenarios.ContainerSpec{{
			Name:  "app",
			Image: scenarios.Image(scenarios.ImageStub),
			Ports: []string{"8080/tcp"},
			Ready: scenarios.ReadyHTTP("8080/tcp", "/healthz"),
		}},
		Links: []scenarios.LinkSpec{{From: scenarios.Host, To: "app", Port: "8080/tcp"}},
	})
	link := run.MustLink("host->app")
	ctx := context.Background()
	if err := link.Disable(ctx); err != nil { // the app is unreachable through the link
		tb.Fatal(err)
	}
	if err := link.Enable(ctx); err != nil {
		tb.Fatal(err)
	}
	// Teardown happens in tb.Cleanup; run.Close(ctx) also works and is idempotent.
}

// Start runs inside a test, with the test's own testing.TB: see cutLink.
func ExampleStart() {
	_ = cutLink // called from a test: cutLink(t)
}
