package drills_test

// TestReadmeFirstDrill is the "first drill" of the README, verbatim, so the
// README never teaches code that does not run.

import (
	"testing"
	"time"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

func TestReadmeFirstDrill(t *testing.T) {
	// 1. The system: one HTTP service, reached from the test through toxiproxy.
	sys := scenarios.Start(t, scenarios.System{
		Name: "first",
		Containers: []scenarios.ContainerSpec{{
			Name:  "api",
			Image: scenarios.Image(scenarios.ImageStub),
			Ports: []string{"8080/tcp"},
			Ready: scenarios.ReadyHTTP("8080/tcp", "/healthz"),
		}},
		Links: []scenarios.LinkSpec{{From: scenarios.Host, To: "api", Port: "8080/tcp"}},
	})
	link := sys.MustLink("host->api")

	// 2. The drill: open-model load, steady state, a fault, a budget.
	res := drills.Run(t, drills.Drill{
		Name:     "api-outage",
		Workload: load.HTTP(load.Constant(200), load.Target{URL: "http://" + link.HostAddr + "/"}),
		Steady:   slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 100*time.Millisecond)),
		Faults:   faults.For(time.Second, 2*time.Second, faults.Down(link)),
		Budget:   drills.Budget{TTR: 5 * time.Second},
	})
	t.Logf("TTR %s", res.Measures.TTR) // e.g. "TTR 2.001s ± 6ms"
}
