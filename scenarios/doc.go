// Package scenarios is firedrill's container runtime: it starts a declared
// [System] (containers, the links between them, one toxiproxy container that
// every link goes through) on a private Docker network, hands back typed
// handles ([Running], [Container], [Link]) and guarantees that nothing is left
// behind however the test ends.
//
// A system is declared as plain data and validated before anything starts:
//
//	sys := scenarios.System{
//		Name: "shop",
//		Containers: []scenarios.ContainerSpec{
//			{Name: "db", Image: scenarios.Image(scenarios.ImagePostgres), Ports: []string{"5432/tcp"},
//				Ready: scenarios.ReadyTCP("5432/tcp")},
//			{Name: "api", Image: "shop/api:dev", Ports: []string{"8080/tcp"},
//				Env:   map[string]string{"DB_ADDR": "${link:api->db}"},
//				Ready: scenarios.ReadyHTTP("8080/tcp", "/healthz")},
//		},
//		Links: []scenarios.LinkSpec{
//			{From: "api", To: "db", Port: "5432/tcp"},
//			{From: scenarios.Host, To: "api", Port: "8080/tcp"},
//		},
//	}
//	run := scenarios.Start(t, sys)
//	addr := run.MustLink("host->api").HostAddr // "127.0.0.1:49153", through toxiproxy
//
// A Compose project becomes a System with [FromCompose]: services become
// containers, and the service-to-service addresses its environment names
// ("db:5432") become links (see FromCompose for the rule and what is
// refused).
//
// Every link A→B is a toxiproxy proxy listening on port 20000+i of the
// toxiproxy container (network alias "toxiproxy"). A container reaches its
// links through ${link:NAME} in its Env or Cmd, expanded to "toxiproxy:<port>".
// A link from [Host] (the test process) has its proxy port published on
// 127.0.0.1 and reported in [Link.HostAddr].
//
// A ContainerSpec also sets an entrypoint and user, bind mounts and named
// volumes (one per system, shared by the containers that name it), a
// Docker healthcheck ([ReadyHealthy] waits for it), extra /etc/hosts
// entries, DependsOn, and a Build: the image is built from a Dockerfile
// context through the Docker API and cached by the content of the context.
// An image that is not present is pulled with the user's Docker
// credentials unless [WithPull](false) or FIREDRILL_PULL=never. A daemon
// named by DOCKER_HOST must answer ([CheckDockerHost]).
//
// Independent containers start in parallel; a container with links to other
// containers (or DependsOn) starts once their readiness holds. Readiness polls a condition and
// fails at once, with the container's last log lines, when the container exits.
//
// Every Docker resource carries the labels firedrill=true, firedrill.run,
// firedrill.test, firedrill.system and firedrill.instance. Teardown removes
// containers (with their proxies), the network and the named volumes: on pass, failure and panic
// through t.Cleanup (registered before anything can fail), and on
// SIGINT/SIGTERM or shortly before the test binary's -timeout through the
// process's one ending handler, [AtEnd]: one signal handler and one
// deadline watchdog, shared with the faults package, running hooks by
// [Stage] (faults reverted before systems are torn down). A process killed
// with SIGKILL leaves labelled resources that [Wipe] (make wipe, firedrill
// wipe) removes.
//
// [Attach] is the other way in: it describes an environment firedrill did
// not start (a staging host) by what a drill may touch, the containers on a
// Docker host named explicitly, the proxies of a toxiproxy the user runs and
// loopback endpoints, and hands back the same handles. They act only on what
// was listed; [Attached.Close] puts back what faults left and never stops or
// removes anything.
package scenarios
