package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/moby/moby/api/types/container"
	dnetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"golang.org/x/sync/errgroup"
)

// DefaultReadyTimeout bounds each container's readiness wait unless
// [WithReadyTimeout] or ContainerSpec.ReadyTimeout says otherwise.
const DefaultReadyTimeout = 30 * time.Second

// The first start also sets TESTCONTAINERS_RYUK_DISABLED=true unless it is
// set: firedrill reaps by itself, and Ryuk's image cannot be pulled offline.
// Mapped ports are always dialled on 127.0.0.1, so
// TESTCONTAINERS_HOST_OVERRIDE does not matter to the runtime.
//
// EnvTestcontainersLog, when set, keeps testcontainers-go's own default
// logger; otherwise the runtime silences it on the first start (it prints a
// banner once per process) so that drill output stays readable.
const EnvTestcontainersLog = "FIREDRILL_TESTCONTAINERS_LOG"

// quiet silences testcontainers-go's default logger unless
// EnvTestcontainersLog is set, and disables Ryuk unless
// TESTCONTAINERS_RYUK_DISABLED is set, once per process.
var quiet = sync.OnceFunc(func() {
	if os.Getenv(EnvTestcontainersLog) == "" {
		tclog.SetDefault(tclog.NewNoopLogger())
	}
	// firedrill reaps by itself (labels, cleanup, watchdog, wipe); the
	// reaper image (Ryuk) cannot be pulled without a registry.
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
})

// Option configures [Start] and [StartContext].
type Option func(*config) error

type config struct {
	readyTimeout time.Duration
	runID        string
	test         string
	logf         func(format string, args ...any)
	tcLogger     tclog.Logger
	watchdog     time.Duration
	parallel     bool
}

// WithReadyTimeout sets the default readiness timeout of every container.
func WithReadyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("ready timeout %v: must be positive", d)
		}
		c.readyTimeout = d
		return nil
	}
}

// WithRunID sets the run id label ([LabelRun]) instead of [RunID].
func WithRunID(id string) Option {
	return func(c *config) error {
		if id == "" {
			return errors.New("run id: must not be empty")
		}
		c.runID = id
		return nil
	}
}

// WithTestName sets the test name label ([LabelTest]); [Start] sets it to
// t.Name().
func WithTestName(name string) Option {
	return func(c *config) error { c.test = name; return nil }
}

// WithLogf sends the runtime's own messages (teardown, watchdog) to logf;
// [Start] uses t.Logf, [StartContext] is silent by default.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *config) error { c.logf = logf; return nil }
}

// WithTestcontainersLogger sets the logger given to testcontainers-go; by
// default its output is discarded so that drill output stays readable.
func WithTestcontainersLogger(l tclog.Logger) Option {
	return func(c *config) error { c.tcLogger = l; return nil }
}

// WithWatchdogMargin asks the process's ending handler ([AtEnd]) to tear
// systems down at least d before the test's deadline (go test -timeout);
// default [EndMargin], 5 s (a quarter of the time left when that is
// shorter). The watchdog is shared by every test of the binary: the largest
// margin asked for wins.
func WithWatchdogMargin(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("watchdog margin %v: must be positive", d)
		}
		c.watchdog = d
		return nil
	}
}

// WithParallelStart starts every container at once instead of starting a
// link's From container after its To container is ready. Containers that
// use links still start after toxiproxy's proxies exist, so a client that
// dials before its server listens gets a refused (proxied) connection and
// must retry. Faster when the system's parts tolerate that.
func WithParallelStart() Option {
	return func(c *config) error { c.parallel = true; return nil }
}

// Running is a started system. Close it (Start does so by itself) to remove
// every container, proxy and the network.
type Running struct {
	// System is the declaration.
	System System
	// RunID, Test and Instance are the label values of this system's
	// resources ([LabelRun], [LabelTest], [LabelInstance]).
	RunID, Test, Instance string
	// Network is the Docker network name; NetworkID its id.
	Network, NetworkID string
	// Toxiproxy is the toxiproxy container.
	Toxiproxy *Container
	// ToxiproxyClient talks to the toxiproxy API through its published port.
	ToxiproxyClient *toxiproxy.Client
	// ReadyIn is the time from the start call until every container was ready.
	ReadyIn time.Duration

	cfg      config
	docker   DockerAPI
	provider *testcontainers.DockerProvider

	containers []*Container
	byName     map[string]*Container
	links      []*Link
	linkByName map[string]*Link

	mu         sync.Mutex
	ids        []string // every container created, in creation order
	closed     bool
	closeDone  chan struct{} // closed when the first Close has finished
	closeErr   error
	teardownIn time.Duration
	unregister func() // the end hook's (see track)
}

// Start starts sys for a test and tears it down when the test ends (pass,
// failure, panic), on SIGINT/SIGTERM, and shortly before the test binary's
// -timeout (both through [AtEnd], at [StageSystems]: after the faults are
// reverted). The cleanup is registered before anything is created. Any
// error fails the test with t.Fatal. Under -short it skips the test, and a
// missing Docker daemon fails it with the fix ([RequireDocker]).
func Start(t testing.TB, sys System, opts ...Option) *Running {
	t.Helper()
	RequireDocker(t)
	opts = append([]Option{WithTestName(t.Name()), WithLogf(t.Logf)}, opts...)
	r, err := newRunning(sys, opts...)
	if r != nil {
		r.track(procEnding, t)
		if r.cfg.watchdog > EndMargin {
			procEnding.wantMargin(r.cfg.watchdog)
		}
		t.Cleanup(func() {
			if t.Failed() {
				r.logTails()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := r.Close(ctx); err != nil {
				t.Errorf("tear down %s: %v", r.System.name(), err)
			}
		})
	}
	if err != nil {
		t.Fatalf("start %s: %v", sys.name(), err)
	}
	if err := r.start(context.Background()); err != nil {
		t.Fatalf("start %s: %v", sys.name(), err)
	}
	return r
}

// StartContext starts sys and returns when every container is ready. On
// error it also returns the partly started system, which the caller must
// Close (a nil *Running is returned only for invalid options). Teardown on
// SIGINT/SIGTERM is registered with [AtEnd]; there is no t.Cleanup, and it
// learns no deadline (it is still torn down before -timeout if another test
// of the binary armed the watchdog).
func StartContext(ctx context.Context, sys System, opts ...Option) (*Running, error) {
	r, err := newRunning(sys, opts...)
	if err != nil {
		return r, err
	}
	r.track(procEnding, nil)
	return r, r.start(ctx)
}

func newRunning(sys System, opts ...Option) (*Running, error) {
	cfg := config{readyTimeout: DefaultReadyTimeout, logf: func(string, ...any) {}, tcLogger: tclog.NewNoopLogger(), watchdog: 5 * time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("option: %w", err)
		}
	}
	if cfg.runID == "" {
		cfg.runID = RunID()
	}
	return &Running{
		System:     sys,
		RunID:      cfg.runID,
		Test:       cfg.test,
		Instance:   newID(),
		cfg:        cfg,
		byName:     map[string]*Container{},
		linkByName: map[string]*Link{},
	}, nil
}

// labels of one resource of this system.
func (r *Running) labels(containerName string) map[string]string {
	l := labels(r.RunID, labelValue(r.Test), r.System.name(), r.Instance)
	if containerName != "" {
		l[LabelContainer] = containerName
	}
	return l
}

// labelValue keeps a label value printable and short.
func labelValue(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

var proxyNameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func (r *Running) start(ctx context.Context) error {
	began := time.Now()
	sys := r.System
	if err := sys.Validate(); err != nil {
		return err
	}
	quiet()

	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(r.cfg.tcLogger))
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

	// Images: present locally, and toxiproxy's entrypoint.
	toxiImage := Image(ImageToxiproxy)
	toxiCmd, err := r.checkImages(ctx, toxiImage)
	if err != nil {
		return err
	}

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

	// Links: addresses known before anything starts.
	linkAddr := map[string]string{}
	var hostPorts []string
	var proxies []toxiproxy.Proxy
	usedProxy := map[string]bool{}
	for i, ls := range sys.Links {
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
		proxies = append(proxies, toxiproxy.Proxy{Name: pname, Listen: fmt.Sprintf("0.0.0.0:%d", listenPort), Upstream: l.Upstream, Enabled: true})
		linkAddr[l.Name] = l.Listen
		if ls.From == Host {
			hostPorts = append(hostPorts, fmt.Sprintf("%d/tcp", listenPort))
		}
		r.links = append(r.links, l)
		r.linkByName[l.Name] = l
	}

	g, gctx := errgroup.WithContext(ctx)
	proxiesReady := make(chan struct{})
	ready := map[string]chan struct{}{}
	for _, c := range sys.Containers {
		ready[c.Name] = make(chan struct{})
	}

	// toxiproxy
	g.Go(func() error {
		spec := ContainerSpec{
			Name:  ToxiproxyAlias,
			Image: toxiImage,
			Cmd:   toxiCmd,
			// Per-connection trace logs cost CPU under load; keep warnings.
			Env:   map[string]string{"LOG_LEVEL": "warn"},
			Ports: append([]string{ToxiproxyAPIPort}, hostPorts...),
			Ready: ReadyHTTP(ToxiproxyAPIPort, "/version"),
		}
		c, startC, err := r.create(gctx, spec)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.Toxiproxy = c
		r.mu.Unlock()
		if err := startC(gctx); err != nil {
			return err
		}
		if err := c.WaitReady(gctx); err != nil {
			return err
		}
		api, err := c.Endpoint(gctx, ToxiproxyAPIPort)
		if err != nil {
			return err
		}
		tc := toxiproxy.NewClient(api)
		r.ToxiproxyClient = tc
		if len(proxies) > 0 {
			var byName map[string]*toxiproxy.Proxy
			err := callCtx(gctx, func() error {
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
					addr, err := c.Endpoint(gctx, fmt.Sprintf("%d/tcp", LinkPortBase+i))
					if err != nil {
						return err
					}
					l.HostAddr = addr
				}
			}
		}
		close(proxiesReady)
		return nil
	})

	deps := sys.deps()
	if r.cfg.parallel {
		deps = nil
	}
	for _, spec := range sys.Containers {
		needsProxies := usesLinks(spec) || slices.ContainsFunc(sys.Links, func(l LinkSpec) bool { return l.From == spec.Name })
		g.Go(func() error {
			// Create at once (the addresses are known), start when due.
			spec.Env = expandEnv(spec.Env, linkAddr)
			spec.Cmd = expandAll(spec.Cmd, linkAddr)
			c, startC, err := r.create(gctx, spec)
			if err != nil {
				return err
			}
			for _, d := range deps[spec.Name] {
				select {
				case <-ready[d]:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			if needsProxies {
				select {
				case <-proxiesReady:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			if err := startC(gctx); err != nil {
				return err
			}
			if err := c.WaitReady(gctx); err != nil {
				return err
			}
			close(ready[spec.Name])
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if r.isClosed() {
			return fmt.Errorf("%w while starting (%w)", ErrClosed, err)
		}
		return firstCause(err, ctx)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, spec := range sys.Containers {
		r.containers = append(r.containers, r.byName[spec.Name])
	}
	r.ReadyIn = time.Since(began)
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
	return slices.ContainsFunc(spec.Cmd, linkRefRE.MatchString)
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

// checkImages makes sure every image exists locally and returns the
// toxiproxy command line.
func (r *Running) checkImages(ctx context.Context, toxiImage string) ([]string, error) {
	users := map[string][]string{toxiImage: {ToxiproxyAlias}}
	for _, c := range r.System.Containers {
		users[c.Image] = append(users[c.Image], c.Name)
	}
	var (
		mu       sync.Mutex
		errs     []error
		toxiCmd  []string
		wg       sync.WaitGroup
		toxiArgs = []string{"-host", "0.0.0.0", "-port", strings.Split(ToxiproxyAPIPort, "/")[0]}
	)
	for img, names := range users {
		wg.Go(func() {
			res, err := r.docker.ImageInspect(ctx, img)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, missingImage(img, names, err))
				return
			}
			if img == toxiImage {
				toxiCmd = toxiArgs
				if cfg := res.Config; cfg != nil && len(cfg.Entrypoint) == 0 && len(cfg.Cmd) > 0 {
					toxiCmd = append([]string{cfg.Cmd[0]}, toxiArgs...)
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return toxiCmd, errors.Join(errs...)
}

func missingImage(img string, users []string, err error) error {
	slices.Sort(users)
	hint := "build it with `make images`"
	if v := imageEnvVar(img); v != "" {
		hint += fmt.Sprintf(", or set %s to an image you have", v)
	}
	if isNotFound(err) {
		return fmt.Errorf("%w: %s (used by %s) is not present locally and nothing is pulled: %s", ErrImageMissing, img, strings.Join(users, ", "), hint)
	}
	return fmt.Errorf("inspect image %s: %w", img, err)
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
	var exposed []string
	for _, p := range spec.Ports {
		n, _ := normalizePort(p)
		exposed = append(exposed, n)
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	req := testcontainers.ContainerRequest{
		Image:          spec.Image,
		Name:           fmt.Sprintf("fd-%s-%s-%s", r.Instance[:6], r.System.name(), spec.Name),
		Cmd:            spec.Cmd,
		Env:            spec.Env,
		ExposedPorts:   exposed,
		Labels:         r.labels(spec.Name),
		Tmpfs:          spec.Tmpfs,
		Networks:       []string{r.Network},
		NetworkAliases: map[string][]string{r.Network: {spec.Name}},
		HostConfigModifier: func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = dnetwork.PortMap{}
			}
			for _, p := range exposed {
				hc.PortBindings[dnetwork.MustParsePort(p)] = []dnetwork.PortBinding{{HostIP: loopback, HostPort: "0"}}
			}
			hc.Memory = spec.Memory
			hc.NanoCPUs = spec.NanoCPUs
		},
	}
	tc, err := r.provider.CreateContainer(ctx, req)
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
		readyTimeout: r.cfg.readyTimeout,
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

// Container returns the container named name, or nil.
func (r *Running) Container(name string) *Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == ToxiproxyAlias {
		return r.Toxiproxy
	}
	return r.byName[name]
}

// MustContainer is like Container but panics when there is no such
// container.
func (r *Running) MustContainer(name string) *Container {
	c := r.Container(name)
	if c == nil {
		panic(fmt.Sprintf("scenarios: system %s has no container %q", r.System.name(), name))
	}
	return c
}

// Containers returns the system's containers in declaration order
// (toxiproxy excluded).
func (r *Running) Containers() []*Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.containers)
}

// Link returns the link named name (LinkSpec.Name or From->To), or nil.
func (r *Running) Link(name string) *Link { return r.linkByName[name] }

// MustLink is like Link but panics when there is no such link.
func (r *Running) MustLink(name string) *Link {
	l := r.Link(name)
	if l == nil {
		panic(fmt.Sprintf("scenarios: system %s has no link %q", r.System.name(), name))
	}
	return l
}

// Links returns the links in declaration order.
func (r *Running) Links() []*Link { return slices.Clone(r.links) }

// Docker returns the Docker API client the system uses (nil before start).
func (r *Running) Docker() DockerAPI {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.docker
}

// TeardownIn is how long Close took to remove everything (zero before).
func (r *Running) TeardownIn() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.teardownIn
}

func (r *Running) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Close removes every container (toxiproxy and its proxies included) with
// force, in parallel, then the network, and any straggler carrying this
// system's instance label. It is idempotent and safe for concurrent use:
// later calls wait for the first one (or for ctx) and return its result.
func (r *Running) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		done := r.closeDone
		r.mu.Unlock()
		select {
		case <-done:
		default:
			select {
			case <-done:
			case <-ctx.Done():
				return fmt.Errorf("wait for teardown of %s: %w", r.System.name(), ctx.Err())
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.closeErr
	}
	r.closed = true
	r.closeDone = make(chan struct{})
	defer close(r.closeDone)
	docker, ids, nw, provider := r.docker, slices.Clone(r.ids), r.NetworkID, r.provider
	r.mu.Unlock()
	defer untrack(r)

	began := time.Now()
	var err error
	if docker != nil {
		err = teardown(ctx, docker, ids, nw, r.Instance)
	}
	took := time.Since(began)
	if provider != nil {
		_ = provider.Close()
	}
	r.mu.Lock()
	r.closeErr, r.teardownIn = err, took
	r.mu.Unlock()
	if docker != nil {
		r.cfg.logf("firedrill: tore down %s (%d containers) in %v", r.System.name(), len(ids), took.Round(time.Millisecond))
	}
	return err
}

// logTails logs the last lines of every container, for a failed test.
func (r *Running) logTails() {
	r.mu.Lock()
	cs := slices.Clone(r.containers)
	if len(cs) == 0 {
		for _, c := range r.byName {
			cs = append(cs, c)
		}
	}
	if r.Toxiproxy != nil {
		cs = append(cs, r.Toxiproxy)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range cs {
		logs, err := c.Logs(ctx, 20)
		if err != nil {
			continue
		}
		r.cfg.logf("firedrill: last log lines of %s:\n%s", c.Name, indent(logs))
	}
}
