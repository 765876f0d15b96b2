package nats

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/scenarios"
)

// Names of the members (containers and NATS server names) and of the
// cluster.
const (
	Nats1       = "nats1"
	Nats2       = "nats2"
	Nats3       = "nats3"
	ClusterName = "firedrill"
)

// Ports of every member: clients, cluster routes, HTTP monitoring.
const (
	ClientPort  = "4222/tcp"
	RoutePort   = "6222/tcp"
	MonitorPort = "8222/tcp"
)

// Defaults of the stream created at start.
const (
	DefaultStream   = "FIREDRILL"
	DefaultSubject  = "firedrill.events"
	DefaultReplicas = 3
	// DefaultDedupeWindow is the stream's duplicate window (JetStream's
	// Duplicates): publishes with the same Nats-Msg-Id inside it are stored
	// once. It outlasts every retry the Publish workload makes.
	DefaultDedupeWindow = 2 * time.Minute
	// ConfigPath is where each member's configuration file is written.
	ConfigPath = "/etc/nats/cluster.conf"
	// StoreDir is the JetStream store directory, on the container's own
	// filesystem: it survives a kill and a start of the same container.
	StoreDir = "/data"
)

// Members are the names of the three members, in order.
func Members() []string { return []string{Nats1, Nats2, Nats3} }

// Option configures Start and StartContext: applied in order over the
// defaults (an R3 file-backed stream FIREDRILL on firedrill.events with a
// 2-minute dedupe window), then validated; an invalid option stops the
// start with an error naming it.
type Option func(*config) error

type config struct {
	stream, subject string
	replicas        int
	dedupe          time.Duration
	scenario        []scenarios.Option
}

var streamNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// WithStream names the stream created at start and its one subject.
func WithStream(name, subject string) Option {
	return func(c *config) error {
		if !streamNameRE.MatchString(name) {
			return fmt.Errorf("stream name %q: use letters, digits, '_' or '-' (no spaces, '.', '*' or '>')", name)
		}
		if subject == "" || strings.ContainsAny(subject, " \t*>") || strings.HasPrefix(subject, ".") || strings.HasSuffix(subject, ".") {
			return fmt.Errorf("stream subject %q: give one literal subject such as \"orders.created\" (no wildcards, spaces or empty tokens)", subject)
		}
		c.stream, c.subject = name, subject
		return nil
	}
}

// WithReplicas sets the stream's replica count (1 to 3; default 3). Fewer
// than 3 is the misconfiguration the broken twins of the drills use: an R1
// stream has no copy to fail over to, an R2 stream needs both copies for
// every write.
func WithReplicas(n int) Option {
	return func(c *config) error {
		if n < 1 || n > len(Members()) {
			return fmt.Errorf("replicas %d: the cluster has %d members, use 1 to %d", n, len(Members()), len(Members()))
		}
		c.replicas = n
		return nil
	}
}

// WithDedupeWindow sets the stream's duplicate window (default 2 min);
// 0 keeps the server's own default (2 min).
func WithDedupeWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || (d > 0 && d < 100*time.Millisecond) {
			return fmt.Errorf("dedupe window %v: use 0 (the server's default) or at least 100ms", d)
		}
		c.dedupe = d
		return nil
	}
}

// WithScenarioOptions passes options to the container runtime
// (scenarios.Start), after any given before.
func WithScenarioOptions(opts ...scenarios.Option) Option {
	return func(c *config) error {
		c.scenario = append(c.scenario, opts...)
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	c := config{stream: DefaultStream, subject: DefaultSubject, replicas: DefaultReplicas, dedupe: DefaultDedupeWindow}
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		errs = append(errs, o(&c))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("option: %w", err)
	}
	return c, nil
}

// RouteLink names the link through which member from dials member to's
// cluster port: "route-nats1-nats2". Each pair of members has one route
// link, dialed by the lower-numbered member (see [System]).
func RouteLink(from, to string) string { return "route-" + from + "-" + to }

// routeEnv is the environment variable holding from's route to to.
func routeEnv(to string) string { return "ROUTE_" + strings.ToUpper(to) }

// dials returns the members that member dials: those after it in
// [Members].
func dials(member string) []string {
	ms := Members()
	i := slices.Index(ms, member)
	if i < 0 {
		return nil
	}
	return ms[i+1:]
}

// MemberConfig is the configuration file of member name: its server name,
// client and monitoring listeners, JetStream in [StoreDir], and the cluster
// block. Its routes are itself (ignored) and the members after it in [Members], each through its
// route link (the address comes from the environment, ROUTE_<MEMBER>, set
// to ${link:route-...}). The member advertises no reachable route address
// (127.0.0.1:1 refuses at once), so no member dials another around the
// links when routes are gossiped; and clients are not told the members'
// in-network addresses (no_advertise): from the host they reach members
// only on 127.0.0.1. Pings every second, 2 unanswered closing a connection
// (default: 2 minutes): a route cut off by a partition stalls without an
// error (toxiproxy keeps the other side open), and must be noticed and
// dialed anew, or after the heal it waits for TCP's retransmission backoff
// (measured: about 11 s after a 16 s partition).
func MemberConfig(name string) []byte {
	// Itself first: the server drops a route to itself, and JetStream's
	// cluster mode refuses to start without a configured route (nats3
	// dials nobody).
	routes := []string{"    nats-route://127.0.0.1:6222"}
	for _, m := range dials(name) {
		routes = append(routes, "    $"+routeEnv(m))
	}
	return fmt.Appendf(nil, `server_name: %s
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
ping_interval: "1s"
ping_max: 2
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 1GB
}
cluster {
  name: %s
  listen: 0.0.0.0:6222
  advertise: "127.0.0.1:1"
  no_advertise: true
  routes: [
%s
  ]
}
`, name, StoreDir, ClusterName, strings.Join(routes, "\n"))
}

// System declares the cluster: three members on the system network, each
// with its configuration file (ContainerSpec.Files) and its JetStream store
// on the container's own filesystem (never a tmpfs: a member killed and
// started again must find its store to rejoin).
//
// Every route goes through toxiproxy: one link per pair of members, dialed
// by the lower-numbered one (nats1→nats2, nats1→nats3, nats2→nats3), so
// the pair's route connections all pass that link and a toxic on the links
// of a member acts on all of its replication traffic. One direction per
// pair keeps the links acyclic (a link's From starts after its To is
// ready): nats3 starts first, nats1 last. A member is ready when JetStream
// is enabled (/healthz?js-enabled-only=true); Start then waits for the
// cluster and the stream.
func System() scenarios.System {
	sys := scenarios.System{Name: "nats"}
	for _, m := range Members() {
		env := map[string]string{}
		for _, to := range dials(m) {
			env[routeEnv(to)] = "nats-route://${link:" + RouteLink(m, to) + "}"
			sys.Links = append(sys.Links, scenarios.LinkSpec{Name: RouteLink(m, to), From: m, To: to, Port: RoutePort})
		}
		sys.Containers = append(sys.Containers, scenarios.ContainerSpec{
			Name:  m,
			Image: scenarios.Image(scenarios.ImageNATS),
			Cmd:   []string{"-c", ConfigPath},
			Env:   env,
			Files: map[string][]byte{ConfigPath: MemberConfig(m)},
			Ports: []string{ClientPort, RoutePort, MonitorPort},
			Ready: scenarios.ReadyHTTP(MonitorPort, "/healthz?js-enabled-only=true"),
		})
	}
	return sys
}
