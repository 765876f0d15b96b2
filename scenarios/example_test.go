package scenarios_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

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

// Outside a test: StartContext returns the partly started system with the
// error, so Close is deferred before the error check.
func ExampleStartContext() {
	sys := scenarios.System{
		Name: "demo",
		Containers: []scenarios.ContainerSpec{{
			Name:  "app",
			Image: scenarios.Image(scenarios.ImageStub),
			Ports: []string{"8080/tcp"},
			Ready: scenarios.ReadyHTTP("8080/tcp", "/healthz"),
		}},
		Links: []scenarios.LinkSpec{{From: scenarios.Host, To: "app", Port: "8080/tcp"}},
	}
	ctx := context.Background()
	run, err := scenarios.StartContext(ctx, sys, scenarios.WithReadyTimeout(time.Minute))
	if run != nil {
		defer func() { _ = run.Close(ctx) }()
	}
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+run.MustLink("host->app").HostAddr+"/", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
}

// An option of your own sets fields of the Config the runtime validates
// after every option has run.
func ExampleOption() {
	withPatience := func(d time.Duration) scenarios.Option {
		return func(c *scenarios.Config) error {
			c.ReadyTimeout, c.WatchdogMargin = d, d/2
			return nil
		}
	}
	sys := scenarios.System{Containers: []scenarios.ContainerSpec{{Name: "app", Image: scenarios.Image(scenarios.ImageStub)}}}
	_, err := scenarios.StartContext(context.Background(), sys, withPatience(0))
	fmt.Println(err)
	// Output:
	// option: ready timeout 0s: must be positive
	// watchdog margin 0s: must be positive
}

// The code of ExampleStart runs as a test (it needs Docker; skipped under
// -short).
func TestExampleStartCutLink(t *testing.T) { cutLink(t) }
