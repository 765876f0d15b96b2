package scenarios_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/firedrill/firedrill/scenarios"
)

// A system is validated before anything starts; every problem is reported
// with its fix.
func ExampleSystem_Validate() {
	sys := scenarios.System{
		Name: "shop",
		Containers: []scenarios.ContainerSpec{
			{Name: "api", Image: "shop/api:dev", Ports: []string{"8080/tcp"},
				Env: map[string]string{"DB": "${link:api->db}"}},
		},
		Links: []scenarios.LinkSpec{{From: "api", To: "db", Port: "5432/tcp"}},
	}
	fmt.Println(sys.Validate())
	// Output:
	// invalid system "shop": link "api->db": To "db" is not a container of this system (known: api)
}

// Start a stub behind a link from the test process, cut the link, restore it.
func ExampleStart() {
	t := &testing.T{} // in a real test, the test's own *testing.T
	run := scenarios.Start(t, scenarios.System{
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
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+link.HostAddr+"/", nil)
	if err == nil {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}
	_ = link.Disable(context.Background()) // the app is unreachable through the link
	_ = link.Enable(context.Background())
	// Teardown happens in t.Cleanup; run.Close(ctx) also works and is idempotent.
}
