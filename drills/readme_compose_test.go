package drills_test

// TestReadmeComposeProject is the README's "your own compose project", with
// the path of the repository's example project and the build of its binary
// (which a project with a registry does in its Dockerfile) in front.

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

func TestReadmeComposeProject(t *testing.T) {
	scenarios.RequireDocker(t)
	buildOrders(t)
	composeFile := composeExample + "/compose.yaml"

	sys, err := scenarios.FromCompose(composeFile)
	require.NoError(t, err)
	run := scenarios.Start(t, sys) // builds app's image, waits for the healthchecks
	drills.Run(t, drills.Drill{
		Name: "db-outage",
		Workload: load.HTTP(load.Constant(50), load.Target{Method: "POST",
			URL:  "http://" + run.MustLink("app:8080").HostAddr + "/orders",
			Body: func(seq uint64) []byte { return fmt.Appendf(nil, `{"item":"%d"}`, seq) }}),
		Steady: slo.SuccessRatio(0.99),
		Faults: faults.For(time.Second, 2*time.Second, faults.Down(run.MustLink("app->db"))),
		Budget: drills.Budget{TTR: 5 * time.Second},
	})
}
