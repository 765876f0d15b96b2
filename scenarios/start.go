package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/moby/moby/api/types/container"
	dnetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"golang.org/x/sync/errgroup"
)

// Starting a system, stage by stage: validate the declaration, connect to
// Docker, get the images ready (build, inspect, pull), create the network
// and the named volumes, plan the links (their
// addresses are known before anything starts), then start toxiproxy and
// every container at once, each container waiting for what it depends on.

// start runs the stages; on error what was created is recorded in r for
// Close to remove.
func (r *Running) start(ctx context.Context) error {
	began := time.Now()
	if err := r.System.Validate(); err != nil {
		return err
	}
	if err := r.connect(ctx); err != nil {
		return err
	}
	toxi := ContainerSpec{
		Name:  ToxiproxyAlias,
		Image: Image(ImageToxiproxy),
		// Per-connection trace logs cost CPU under load; keep warnings.
		Env:   map[string]string{"LOG_LEVEL": "warn"},
		Ready: ReadyHTTP(ToxiproxyAPIPort, "/version"),
	}
	cmd, err := r.checkImages(ctx, toxi.Image)
	if err != nil {
		return err
	}
	toxi.Cmd = cmd
	if err := r.createNetwork(ctx); err != nil {
		return err
	}
	if err := r.createVolumes(ctx); err != nil {
		return err
	}
	plan := r.planLinks()
	toxi.Ports = append([]string{ToxiproxyAPIPort}, plan.hostPorts...)
	if err := r.startAll(ctx, toxi, plan); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, spec := range r.System.Containers {
		r.containers = append(r.containers, r.byName[spec.Name])
	}
	r.ReadyIn = time.Since(began)
	return nil
}

// connect checks the daemon the user named, if any, then creates the
// testcontainers provider and the Docker client.
func (r *Running) connect(ctx context.Context) error {
	SetTestcontainersEnv()
	if err := CheckDockerHost(ctx); err != nil {
		return err
	}
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(r.cfg.TestcontainersLogger))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDockerUnreachable, err)
	}
	r.mu.Lock()
	r.provider, r.docker = provider, provider.Client()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return nil
}

// createNetwork creates the system's network.
func (r *Running) createNetwork(ctx context.Context) error {
	nw, err := network.New(ctx, network.WithLabels(r.labels("")))
	if nw != nil {
		r.mu.Lock()
		r.Network, r.NetworkID = nw.Name, nw.ID
		closed := r.closed
		r.mu.Unlock()
		if closed { // Close ran meanwhile and did not see the network
			_, _ = r.docker.NetworkRemove(context.WithoutCancel(ctx), nw.ID, client.NetworkRemoveOptions{})
			return ErrClosed
		}
	}
	if err != nil {
		return fmt.Errorf("create network: %w", err)
	}
	return nil
}

// linkPlan is what the links need before anything starts.
type linkPlan struct {
	addrs     map[string]string // link name -> in-network address, for ${link:NAME}
	hostPorts []string          // toxiproxy ports to publish, for links from Host
	proxies   []toxiproxy.Proxy // one per link, in declaration order
}

var proxyNameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// planLinks creates the link handles (r.links) and plans their proxies.
func (r *Running) planLinks() linkPlan {
	plan := linkPlan{addrs: map[string]string{}}
	usedProxy := map[string]bool{}
	for i, ls := range r.System.Links {
		port, _ := normalizePort(ls.Port)
		listenPort := LinkPortBase + i
		l := &Link{
			Name:     ls.linkName(),
			From:     ls.From,
			To:       ls.To,
			Port:     port,
			Listen:   fmt.Sprintf("%s:%d", ToxiproxyAlias, listenPort),
			Upstream: fmt.Sprintf("%s:%s", ls.To, strings.Split(port, "/")[0]),
		}
		pname := proxyNameRE.ReplaceAllString(l.Name, "_")
		for usedProxy[pname] {
			pname += "_"
		}
		usedProxy[pname] = true
		plan.proxies = append(plan.proxies, toxiproxy.Proxy{Name: pname, Listen: fmt.Sprintf("0.0.0.0:%d", listenPort), Upstream: l.Upstream, Enabled: true})
		plan.addrs[l.Name] = l.Listen
		if ls.From == Host {
			plan.hostPorts = append(plan.hostPorts, fmt.Sprintf("%d/tcp", listenPort))
		}
		r.links = append(r.links, l)
		r.linkByName[l.Name] = l
	}
	return plan
}

// startAll starts toxiproxy and every container in parallel. A container
// starts once the containers it links to are ready (unless
// [Config.ParallelStart]) and, if it uses links, once the proxies exist.
func (r *Running) startAll(ctx context.Context, toxi ContainerSpec, plan linkPlan) error {
	g, gctx := errgroup.WithContext(ctx)
	proxiesReady := make(chan struct{})
	ready := map[string]chan struct{}{}
	for _, c := range r.System.Containers {
		ready[c.Name] = make(chan struct{})
	}
	g.Go(func() error { return r.startToxiproxy(gctx, toxi, plan.proxies, proxiesReady) })

	deps := r.System.deps()
	if r.cfg.ParallelStart {
		deps = nil
	}
	for _, spec := range r.System.Containers {
		var await []<-chan struct{}
		for _, d := range deps[spec.Name] {
			await = append(await, ready[d])
		}
		if usesLinks(spec) || slices.ContainsFunc(r.System.Links, func(l LinkSpec) bool { return l.From == spec.Name }) {
			await = append(await, proxiesReady)
		}
		g.Go(func() error { return r.startContainer(gctx, spec, plan.addrs, await, ready[spec.Name]) })
	}
	if err := g.Wait(); err != nil {
		if r.isClosed() {
			return fmt.Errorf("%w while starting (%w)", ErrClosed, err)
		}
		return firstCause(err, ctx)
	}
	return nil
}

// startToxiproxy starts toxiproxy, creates the proxies and closes
// proxiesReady.
func (r *Running) startToxiproxy(ctx context.Context, spec ContainerSpec, proxies []toxiproxy.Proxy, proxiesReady chan<- struct{}) error {
	c, startC, err := r.create(ctx, spec)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.Toxiproxy = c
	r.mu.Unlock()
	if err := startC(ctx); err != nil {
		return err
	}
	if err := c.WaitReady(ctx); err != nil {
		return err
	}
	api, err := c.Endpoint(ctx, ToxiproxyAPIPort)
	if err != nil {
		return err
	}
	tc := toxiproxy.NewClient(api)
	r.ToxiproxyClient = tc
	if len(proxies) > 0 {
		if err := r.configureProxies(ctx, c, tc, proxies); err != nil {
			return err
		}
	}
	close(proxiesReady)
	return nil
}

// configureProxies creates the links' proxies in toxiproxy (c, through tc)
// and completes the link handles.
func (r *Running) configureProxies(ctx context.Context, c *Container, tc *toxiproxy.Client, proxies []toxiproxy.Proxy) error {
	var byName map[string]*toxiproxy.Proxy
	err := callCtx(ctx, func() error {
		if _, err := tc.Populate(proxies); err != nil {
			return err
		}
		var err error
		byName, err = tc.Proxies() // these handles know they exist: Enable/Disable work
		return err
	})
	if err != nil {
		return fmt.Errorf("configure toxiproxy: %w", err)
	}
	for i, l := range r.links {
		l.client = tc
		l.Proxy = byName[proxies[i].Name]
		if l.Proxy == nil {
			return fmt.Errorf("configure toxiproxy: proxy %s for link %s missing", proxies[i].Name, l.Name)
		}
		if l.From == Host {
			addr, err := c.Endpoint(ctx, fmt.Sprintf("%d/tcp", LinkPortBase+i))
			if err != nil {
				return err
			}
			l.HostAddr = addr
		}
	}
	return nil
}

// startContainer creates the container at once (the link addresses are
// known), starts it when every channel of await is closed, and closes ready
// when it is ready.
func (r *Running) startContainer(ctx context.Context, spec ContainerSpec, addrs map[string]string, await []<-chan struct{}, ready chan<- struct{}) error {
	spec.Env = expandEnv(spec.Env, addrs)
	spec.Cmd = expandAll(spec.Cmd, addrs)
	spec.Entrypoint = expandAll(spec.Entrypoint, addrs)
	if img, ok := r.images[spec.Name]; ok {
		spec.Image = img // built from spec.Build
	}
	c, startC, err := r.create(ctx, spec)
	if err != nil {
		return err
	}
	for _, ch := range await {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := startC(ctx); err != nil {
		return err
	}
	if err := c.WaitReady(ctx); err != nil {
		return err
	}
	close(ready)
	return nil
}

// firstCause prefers the error that cancelled the group over the
// cancellations it caused.
func firstCause(err error, ctx context.Context) error {
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return fmt.Errorf("start cancelled: %w", err)
	}
	return err
}

func usesLinks(spec ContainerSpec) bool {
	for _, v := range spec.Env {
		if linkRefRE.MatchString(v) {
			return true
		}
	}
	return slices.ContainsFunc(spec.Cmd, linkRefRE.MatchString) || slices.ContainsFunc(spec.Entrypoint, linkRefRE.MatchString)
}

func expandEnv(env map[string]string, addrs map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = expandLinks(v, addrs)
	}
	return out
}

func expandAll(vs []string, addrs map[string]string) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = expandLinks(v, addrs)
	}
	return out
}

// imageEnvVar names the environment variable that overrides img, if img is
// one of the project's images.
func imageEnvVar(img string) string {
	for _, name := range Images() {
		if Image(name) == img {
			return ImageEnvVar(name)
		}
	}
	return ""
}

// create creates one container on the system network and returns the
// function that starts it.
func (r *Running) create(ctx context.Context, spec ContainerSpec) (*Container, func(context.Context) error, error) {
	tc, err := r.provider.CreateContainer(ctx, r.request(spec))
	if tc != nil && tc.GetContainerID() != "" {
		r.mu.Lock()
		r.ids = append(r.ids, tc.GetContainerID())
		closed := r.closed
		r.mu.Unlock()
		if closed { // Close ran meanwhile and did not see this container
			_, _ = r.docker.ContainerRemove(context.WithoutCancel(ctx), tc.GetContainerID(), client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			return nil, nil, ErrClosed
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("create %s (%s): %w", spec.Name, spec.Image, err)
	}
	c := &Container{
		Name:         spec.Name,
		ID:           tc.GetContainerID(),
		Spec:         spec,
		docker:       r.docker,
		networkID:    r.NetworkID,
		readyTimeout: r.cfg.ReadyTimeout,
	}
	r.mu.Lock()
	if spec.Name != ToxiproxyAlias {
		r.byName[spec.Name] = c
	}
	r.mu.Unlock()
	start := func(ctx context.Context) error {
		if err := tc.Start(ctx); err != nil {
			return fmt.Errorf("start %s (%s): %w", spec.Name, spec.Image, err)
		}
		return nil
	}
	return c, start, nil
}

// containerFiles lists files for the request, in path order.
func containerFiles(files map[string][]byte) []testcontainers.ContainerFile {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := make([]testcontainers.ContainerFile, 0, len(paths))
	for _, p := range paths {
		out = append(out, testcontainers.ContainerFile{Reader: bytes.NewReader(files[p]), ContainerFilePath: p, FileMode: 0o644})
	}
	return out
}

// request is the testcontainers request that creates spec's container: on
// the system network with its name as alias, labelled, its ports published
// on 127.0.0.1 on ports chosen by Docker, with its entrypoint, user,
// mounts, healthcheck and extra hosts.
func (r *Running) request(spec ContainerSpec) testcontainers.ContainerRequest {
	var exposed []string
	for _, p := range spec.Ports {
		n, _ := normalizePort(p)
		exposed = append(exposed, n)
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	return testcontainers.ContainerRequest{
		Image:          spec.Image,
		Name:           fmt.Sprintf("fd-%s-%s-%s", r.Instance[:6], r.System.name(), spec.Name),
		Cmd:            spec.Cmd,
		Entrypoint:     spec.Entrypoint,
		Env:            spec.Env,
		ExposedPorts:   exposed,
		Labels:         r.labels(spec.Name),
		Tmpfs:          spec.Tmpfs,
		Files:          containerFiles(spec.Files),
		Networks:       []string{r.Network},
		NetworkAliases: map[string][]string{r.Network: {spec.Name}},
		ConfigModifier: func(cfg *container.Config) {
			cfg.User = spec.User
			if h := spec.Healthcheck; h != nil {
				cfg.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
			}
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = dnetwork.PortMap{}
			}
			for _, p := range exposed {
				hc.PortBindings[dnetwork.MustParsePort(p)] = []dnetwork.PortBinding{{HostIP: loopback, HostPort: "0"}}
			}
			hc.Memory = spec.Memory
			hc.NanoCPUs = spec.NanoCPUs
			hc.Mounts = append(hc.Mounts, r.mounts(spec)...)
			hc.ExtraHosts = append(hc.ExtraHosts, spec.ExtraHosts...)
		},
	}
}
