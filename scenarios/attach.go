package scenarios

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Attaching to an environment firedrill did not start (a staging host):
// the user lists what a drill may touch, Attach resolves each item once,
// and the handles it returns act on nothing else. It never creates, stops
// or removes anything of its own; Close only puts back what faults left.

// ErrNotListed: a container, network, proxy or endpoint that the attached
// [Environment] does not list. Attach acts only on what the user listed.
var ErrNotListed = errors.New("not listed in the attached environment")

// ErrNotLoopback: an address of an attached environment that is not on
// loopback (127.0.0.1, ::1, localhost). Load and the toxiproxy API are
// reached only there.
var ErrNotLoopback = errors.New("address is not on loopback")

// StageAttached restores attached environments ([Attached.Restore]) when
// the process ends early: after the faults are reverted, before started
// systems are torn down.
const StageAttached Stage = 15

// attachTimeout bounds each call Attach makes to Docker and toxiproxy.
const attachTimeout = 10 * time.Second

// Environment describes what a drill may act on in an environment that
// firedrill did not start. Nothing else is touched: a container, proxy or
// endpoint that is not listed here is refused with [ErrNotListed].
type Environment struct {
	// DockerHost is the Docker daemon the containers run on, e.g.
	// "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375" (no TLS).
	// Required when Containers is not empty: firedrill never falls back
	// to DOCKER_HOST, a docker context or the default socket.
	DockerHost string
	// Containers lists, by name or ID, the containers faults may act on.
	// Each is resolved to its full ID when attaching; the handles act on
	// those IDs only.
	Containers []string
	// Networks names, for a listed container (key: as listed), the
	// network Partition cuts it from. A container on exactly one network
	// needs no entry.
	Networks map[string]string
	// Ready is, for a listed container (key: as listed), its readiness
	// condition, which faults re-check after they start it again. Without
	// one a container is ready once it runs.
	Ready map[string]Readiness
	// Toxiproxy is the API URL of a toxiproxy the user runs, on loopback
	// ("http://127.0.0.1:8474"). Required when Proxies is not empty.
	Toxiproxy string
	// Proxies lists the toxiproxy proxies faults may act on; each is a
	// [Link] of the same name.
	Proxies []string
	// Endpoints names the addresses a drill sends load to, as host:port on
	// loopback ("127.0.0.1:8080").
	Endpoints map[string]string
	// Logf, when set, receives what Restore had to put back.
	Logf func(format string, args ...any)
}

// Validate checks the declaration before anything is contacted: every
// problem is reported, each saying what to fix.
func (e Environment) Validate() error {
	var errs []error
	if len(e.Containers) > 0 && e.DockerHost == "" {
		errs = append(errs, errors.New("Environment.DockerHost is empty: name the Docker daemon the containers run on, e.g. unix:///var/run/docker.sock (firedrill never guesses it from DOCKER_HOST)"))
	}
	if e.DockerHost != "" {
		if _, err := client.ParseHostURL(e.DockerHost); err != nil {
			errs = append(errs, fmt.Errorf("Environment.DockerHost %q: %w (want e.g. unix:///var/run/docker.sock or tcp://127.0.0.1:2375)", e.DockerHost, err))
		}
	}
	errs = append(errs, e.validateContainers()...)
	if len(e.Proxies) > 0 && e.Toxiproxy == "" {
		errs = append(errs, errors.New("Environment.Toxiproxy is empty: give the toxiproxy API URL, e.g. http://127.0.0.1:8474"))
	}
	if e.Toxiproxy != "" {
		if _, err := toxiproxyURL(e.Toxiproxy); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.Endpoints)) {
		if err := checkLoopback(e.Endpoints[name]); err != nil {
			errs = append(errs, fmt.Errorf("Environment.Endpoints[%q]: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return nil
}

// validateContainers checks the container list and the maps keyed by it.
func (e Environment) validateContainers() []error {
	var errs []error
	listed := map[string]bool{}
	for _, ref := range e.Containers {
		if strings.TrimSpace(ref) == "" {
			errs = append(errs, errors.New("Environment.Containers holds an empty name"))
		}
		listed[ref] = true
	}
	for _, field := range []struct {
		name string
		keys []string
	}{{"Networks", slices.Sorted(maps.Keys(e.Networks))}, {"Ready", slices.Sorted(maps.Keys(e.Ready))}} {
		for _, k := range field.keys {
			if !listed[k] {
				errs = append(errs, fmt.Errorf("%s names %q, which is not in Environment.Containers: list it there, spelt the same way", "Environment."+field.name, k))
			}
		}
	}
	return errs
}

// checkLoopback accepts host:port with host 127.0.0.1, ::1 or localhost.
func checkLoopback(addr string) error {
	if strings.Contains(addr, "://") {
		return fmt.Errorf("%q: write host:port, e.g. 127.0.0.1:8080, without a scheme", addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:8080): %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", addr, port)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("%q: %w: load and faults reach only 127.0.0.1, ::1 or localhost (tunnel or publish the port to loopback)", addr, ErrNotLoopback)
	}
	return nil
}

func isLoopbackHost(h string) bool { return h == "127.0.0.1" || h == "::1" || h == "localhost" }

// toxiproxyURL checks a toxiproxy API URL ("http://127.0.0.1:8474", the
// scheme optional) and returns it with its scheme.
func toxiproxyURL(s string) (string, error) {
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("Environment.Toxiproxy %q: want the API's http://host:port, e.g. http://127.0.0.1:8474", s)
	}
	if !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("Environment.Toxiproxy %q: %w: firedrill reaches a toxiproxy API only on 127.0.0.1, ::1 or localhost", s, ErrNotLoopback)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Attached is an environment firedrill did not start, as [Attach] resolved
// it: handles on the listed containers, proxies and endpoints, and nothing
// else. Close it when done: it restores what faults left (see Restore),
// never stops or removes anything.
type Attached struct {
	// Env is the declaration.
	Env Environment

	docker     *client.Client
	api        *scopedAPI
	containers []*Container
	byKey      map[string]*Container // as listed, Docker name, full ID
	toxi       *toxiproxy.Client
	links      []*Link
	linkByName map[string]*Link
	snap       snapshot
	unregister func()

	restoreMu sync.Mutex
	mu        sync.Mutex
	closed    bool
	err       error
}

// snapshot is the state of the environment when it was attached, which
// Restore puts back.
type snapshot struct {
	containers map[string]containerSnap // by container ID
	proxies    map[string]proxySnap     // by proxy name
}

type containerSnap struct {
	running, connected bool
}

type proxySnap struct {
	enabled bool
	toxics  map[string]bool
}

// Attach resolves env: it connects to env.DockerHost (and only there),
// inspects each listed container, checks that each listed proxy exists on
// env.Toxiproxy and that every endpoint is on loopback, and records the
// state it found, which Close restores. On error it also returns what was
// attached so far, which the caller closes (Close on a nil *Attached is a
// no-op).
//
// Faults take the handles like those of a started system:
// faults.Kill(env.MustContainer("api"), "") or faults.Latency(link, ...).
// drills.Run reverts them when the drill ends. When the process ends
// early (SIGINT, SIGTERM, or shortly before the test binary's -timeout
// once a test has armed the watchdog, as drills.Run does) the faults are
// reverted and then Restore runs, through the ending handler of [AtEnd]
// at [StageAttached].
func Attach(ctx context.Context, env Environment) (*Attached, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	a := &Attached{
		Env:        env,
		byKey:      map[string]*Container{},
		linkByName: map[string]*Link{},
		snap:       snapshot{containers: map[string]containerSnap{}, proxies: map[string]proxySnap{}},
	}
	if env.DockerHost != "" {
		if err := a.attachDocker(ctx); err != nil {
			return a, err
		}
	}
	if env.Toxiproxy != "" {
		if err := a.attachProxies(ctx); err != nil {
			return a, err
		}
	}
	a.unregister = procEnding.add(StageAttached, "restoring the attached environment", a.Restore)
	return a, nil
}

// attachDocker connects to the named daemon and resolves the containers.
func (a *Attached) attachDocker(ctx context.Context) error {
	host := a.Env.DockerHost
	dc, err := client.New(client.WithHost(host))
	if err != nil {
		return fmt.Errorf("attach: Environment.DockerHost %s: %w", host, err)
	}
	a.docker = dc
	pctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	if _, err := dc.Ping(pctx, client.PingOptions{}); err != nil {
		return unreachableHost{fmt.Errorf("attach: the Docker host %s (Environment.DockerHost) does not answer: %w; check the address and that its daemon runs", host, err)}
	}
	a.api = newScopedAPI(dc, host)
	var errs []error
	for _, ref := range a.Env.Containers {
		if err := a.attachContainer(ctx, ref); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return nil
}

// unreachableHost is a named Docker host that does not answer. It matches
// ErrDockerUnreachable without that error's hint, which is about the local
// daemon.
type unreachableHost struct{ error }

func (e unreachableHost) Unwrap() error        { return e.error }
func (e unreachableHost) Is(target error) bool { return target == ErrDockerUnreachable }

// attachContainer inspects one listed container and makes its handle.
func (a *Attached) attachContainer(ctx context.Context, ref string) error {
	ictx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	res, err := a.docker.ContainerInspect(ictx, ref, client.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("container %q (Environment.Containers) does not exist on %s: list it by a name or ID that `docker ps -a` shows there", ref, a.Env.DockerHost)
	case err != nil:
		return fmt.Errorf("inspect container %q on %s: %w", ref, a.Env.DockerHost, err)
	}
	ic := res.Container
	if c := a.byKey[ic.ID]; c != nil { // listed twice (name and ID)
		a.byKey[ref] = c
		return nil
	}
	name := strings.TrimPrefix(ic.Name, "/")
	nw, err := chooseNetwork(ic, name, a.Env.Networks[ref])
	if err != nil {
		return err
	}
	c := &Container{
		Name:         name,
		ID:           ic.ID,
		Spec:         attachedSpec(ic, name, a.Env.Ready[ref]),
		docker:       a.api,
		networkID:    nw.id,
		readyTimeout: DefaultReadyTimeout,
		networkName:  nw.name,
		netSettings:  nw.settings,
		netErr:       nw.err,
	}
	a.api.allow(ic.ID, name, nw.id)
	a.containers = append(a.containers, c)
	for _, k := range []string{ref, name, ic.ID} {
		a.byKey[k] = c
	}
	running := ic.State != nil && ic.State.Running && !ic.State.Paused
	a.snap.containers[ic.ID] = containerSnap{running: running, connected: nw.id != ""}
	return nil
}

// attachedSpec describes an existing container as far as the handle needs:
// its image and published ports (for messages and Endpoint) and readiness.
func attachedSpec(ic container.InspectResponse, name string, ready Readiness) ContainerSpec {
	spec := ContainerSpec{Name: name, Ready: ready}
	if ic.Config != nil {
		spec.Image = ic.Config.Image
	}
	if ic.HostConfig != nil {
		for p := range ic.HostConfig.PortBindings {
			spec.Ports = append(spec.Ports, p.String())
		}
		slices.Sort(spec.Ports)
	}
	return spec
}

// attachedNetwork is the network Partition acts on for one container.
type attachedNetwork struct {
	id, name string
	settings *network.EndpointSettings
	err      error // why Partition cannot act (the container is still attached)
}

// chooseNetwork picks the network named for the container (it must be on
// it), or its only network. A container on several networks and none named
// can be attached but not partitioned.
func chooseNetwork(ic container.InspectResponse, name, want string) (attachedNetwork, error) {
	var nets map[string]*network.EndpointSettings
	if ic.NetworkSettings != nil {
		nets = ic.NetworkSettings.Networks
	}
	names := slices.Sorted(maps.Keys(nets))
	if want != "" {
		for n, ep := range nets {
			if ep != nil && (n == want || ep.NetworkID == want) {
				return networkOf(n, ep), nil
			}
		}
		return attachedNetwork{}, fmt.Errorf("Environment.Networks names %q for container %s, which is not on it (its networks: %s)", want, name, listOrNone(names))
	}
	switch {
	case len(nets) == 1 && (names[0] == "host" || names[0] == "none"):
		return attachedNetwork{err: fmt.Errorf("container %s uses network mode %s: it has no network of its own that Partition could cut", name, names[0])}, nil
	case len(nets) == 1:
		return networkOf(names[0], nets[names[0]]), nil
	case len(nets) == 0:
		return attachedNetwork{err: fmt.Errorf("container %s is on no network: Partition has nothing to cut", name)}, nil
	}
	return attachedNetwork{err: fmt.Errorf("container %s is on networks %s: name the one Partition cuts in Environment.Networks", name, strings.Join(names, ", "))}, nil
}

// networkOf keeps what Connect needs to attach the container as it was:
// its aliases, static address, links and driver options.
func networkOf(name string, ep *network.EndpointSettings) attachedNetwork {
	if ep == nil {
		return attachedNetwork{err: fmt.Errorf("network %s: no endpoint settings", name)}
	}
	keep := &network.EndpointSettings{
		IPAMConfig: ep.IPAMConfig.Copy(),
		Links:      slices.Clone(ep.Links),
		Aliases:    slices.Clone(ep.Aliases),
		DriverOpts: maps.Clone(ep.DriverOpts),
		GwPriority: ep.GwPriority,
	}
	return attachedNetwork{id: ep.NetworkID, name: name, settings: keep}
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// attachProxies checks the toxiproxy API and resolves the listed proxies.
func (a *Attached) attachProxies(ctx context.Context) error {
	api, err := toxiproxyURL(a.Env.Toxiproxy)
	if err != nil {
		return err
	}
	a.toxi = toxiproxy.NewClient(api)
	pctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	var all map[string]*toxiproxy.Proxy
	err = callCtx(pctx, func() error {
		var err error
		all, err = a.toxi.Proxies()
		return err
	})
	if err != nil {
		return fmt.Errorf("attach: toxiproxy at %s (Environment.Toxiproxy) does not answer: %w", api, err)
	}
	existing := slices.Sorted(maps.Keys(all))
	var missing []string
	for _, name := range a.Env.Proxies {
		p, ok := all[name]
		if !ok {
			missing = append(missing, strconv.Quote(name))
			continue
		}
		if a.linkByName[name] != nil {
			continue
		}
		a.addLink(p)
	}
	if len(missing) > 0 {
		return fmt.Errorf("attach: %w: proxies %s (Environment.Proxies) do not exist on toxiproxy at %s; its proxies: %s",
			ErrNotListed, strings.Join(missing, ", "), api, listOrNone(existing))
	}
	return nil
}

// addLink makes the Link of one existing proxy and records its state.
func (a *Attached) addLink(p *toxiproxy.Proxy) {
	l := &Link{Name: p.Name, Proxy: p, Listen: p.Listen, Upstream: p.Upstream, client: a.toxi}
	if host, _, err := net.SplitHostPort(p.Listen); err == nil && isLoopbackHost(host) {
		l.HostAddr = p.Listen
	}
	a.links = append(a.links, l)
	a.linkByName[p.Name] = l
	ps := proxySnap{enabled: p.Enabled, toxics: map[string]bool{}}
	for _, t := range p.ActiveToxics {
		ps.toxics[t.Name] = true
	}
	a.snap.proxies[p.Name] = ps
}

// Container returns the handle of a listed container, looked up as it was
// listed, by its Docker name or by its ID. Any other container is refused
// with ErrNotListed.
func (a *Attached) Container(name string) (*Container, error) {
	if c := a.byKey[name]; c != nil {
		return c, nil
	}
	if len(name) >= 12 {
		for _, c := range a.containers {
			if strings.HasPrefix(c.ID, name) {
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("container %q: %w: firedrill acts only on the containers listed in Environment.Containers (%s); to drill it, add %q there",
		name, ErrNotListed, listOrNone(a.Env.Containers), name)
}

// MustContainer is like Container but panics when the container is not
// listed.
func (a *Attached) MustContainer(name string) *Container {
	c, err := a.Container(name)
	if err != nil {
		panic("scenarios: " + err.Error())
	}
	return c
}

// Containers returns the handles of the listed containers, in the order
// listed (each once).
func (a *Attached) Containers() []*Container { return slices.Clone(a.containers) }

// Link returns the link of a listed toxiproxy proxy. Any other proxy is
// refused with ErrNotListed.
func (a *Attached) Link(name string) (*Link, error) {
	if l := a.linkByName[name]; l != nil {
		return l, nil
	}
	return nil, fmt.Errorf("link %q: %w: firedrill acts only on the proxies listed in Environment.Proxies (%s); to drill it, add %q there",
		name, ErrNotListed, listOrNone(a.Env.Proxies), name)
}

// MustLink is like Link but panics when the proxy is not listed.
func (a *Attached) MustLink(name string) *Link {
	l, err := a.Link(name)
	if err != nil {
		panic("scenarios: " + err.Error())
	}
	return l
}

// Links returns the links of the listed proxies, in the order listed.
func (a *Attached) Links() []*Link { return slices.Clone(a.links) }

// Endpoint returns the address of a named endpoint (host:port, on
// loopback).
func (a *Attached) Endpoint(name string) (string, error) {
	if addr, ok := a.Env.Endpoints[name]; ok {
		return addr, nil
	}
	return "", fmt.Errorf("endpoint %q: %w: the endpoints are %s (Environment.Endpoints)",
		name, ErrNotListed, listOrNone(slices.Sorted(maps.Keys(a.Env.Endpoints))))
}

// MustEndpoint is like Endpoint but panics when the endpoint is not named.
func (a *Attached) MustEndpoint(name string) string {
	addr, err := a.Endpoint(name)
	if err != nil {
		panic("scenarios: " + err.Error())
	}
	return addr
}
