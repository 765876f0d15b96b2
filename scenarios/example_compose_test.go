package scenarios_test

import (
	"errors"
	"fmt"

	"github.com/firedrill/firedrill/scenarios"
)

// A Compose project becomes a System: DATABASE_URL names db:5432, a port
// db exposes, so app reaches db through toxiproxy; the published port 8080
// gets a link from the test process.
func ExampleFromCompose() {
	sys, err := scenarios.FromCompose("examples/compose/compose.yaml",
		scenarios.ComposeEnv("FIREDRILL_POSTGRES_IMAGE", "firedrill/postgres:local"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range sys.Links {
		fmt.Printf("link %s: %s -> %s:%s\n", l.Name, l.From, l.To, l.Port)
	}
	fmt.Println("app DATABASE_URL:", sys.Containers[0].Env["DATABASE_URL"])
	// Output:
	// link app->db: app -> db:5432/tcp
	// link app:8080: host -> app:8080/tcp
	// app DATABASE_URL: postgres://postgres@${link:app->db}/postgres?sslmode=disable
}

// A key firedrill cannot honour is refused with the service, the key and
// what to do.
func ExampleFromCompose_refused() {
	_, err := scenarios.FromCompose("testdata/compose-refused.yaml")
	var ce *scenarios.ComposeError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// service "app": "network_mode" is not supported: every service runs on the system's own network (links go through toxiproxy on it): remove it (or pass scenarios.ComposeIgnore("network_mode") to run without it)
	// service "app": "privileged" is not supported: firedrill does not run privileged containers: remove it (or pass scenarios.ComposeIgnore("privileged") to run without it)
	// service "app": "restart" is not supported: a restart policy would restart a killed container behind the drill's back (faults.Kill's revert or your runbook restarts it): remove it (or pass scenarios.ComposeIgnore("restart") to run without it)
}
