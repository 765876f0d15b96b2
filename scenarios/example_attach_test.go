package scenarios_test

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// Attach to a staging environment firedrill did not start: the Docker
// host, the containers and the toxiproxy proxies faults may act on, and
// the loopback addresses load goes to. Nothing else is touched. In a test,
// pass the faults to drills.Run (see TestAttachRehearseOnStaging).
func ExampleAttach() {
	ctx := context.Background()
	env, err := scenarios.Attach(ctx, scenarios.Environment{
		DockerHost: "unix:///var/run/docker.sock",
		Containers: []string{"staging-api"},
		Toxiproxy:  "http://127.0.0.1:8474",
		Proxies:    []string{"api"},
		Endpoints:  map[string]string{"api": "127.0.0.1:8080"},
	})
	// Close restores what faults left; it stops and removes nothing. It is
	// safe on a partly attached (or nil) environment.
	defer func() { _ = env.Close(ctx) }()
	if err != nil {
		fmt.Println(err)
		return
	}
	kill := faults.Kill(env.MustContainer("staging-api"), "")
	slow := faults.Latency(env.MustLink("api"), 300*time.Millisecond)
	fmt.Println(kill.Name(), slow.Name(), env.MustEndpoint("api"))
}
