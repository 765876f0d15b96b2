package scenarios

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

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

	// Builds lists the images built (or found cached) for containers
	// with a Build, in container order.
	Builds []BuiltImage

	cfg      Config
	docker   dockerAPI
	images   map[string]string // container name -> image built for it
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
func Start(tb testing.TB, sys System, opts ...Option) *Running {
	tb.Helper()
	RequireDocker(tb)
	opts = append([]Option{WithTestName(tb.Name()), WithLogf(tb.Logf)}, opts...)
	r, err := newRunning(sys, opts...)
	if r != nil {
		r.track(func(stage Stage, name string, fn func(context.Context) error) func() {
			return AtEnd(tb, stage, name, fn) // learns the test's deadline
		})
		if r.cfg.WatchdogMargin > EndMargin {
			procEnding.wantMargin(r.cfg.WatchdogMargin)
		}
		tb.Cleanup(func() {
			if tb.Failed() {
				r.logTails()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := r.Close(ctx); err != nil {
				tb.Errorf("tear down %s: %v", r.System.name(), err)
			}
		})
	}
	if err != nil {
		tb.Fatalf("start %s: %v", sys.name(), err)
	}
	if err := r.start(context.Background()); err != nil {
		tb.Fatalf("start %s: %v", sys.name(), err)
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
	r.track(procEnding.add)
	return r, r.start(ctx)
}

func newRunning(sys System, opts ...Option) (*Running, error) {
	cfg, err := newConfig(opts...)
	if err != nil {
		return nil, err
	}
	return &Running{
		System:     sys,
		RunID:      cfg.RunID,
		Test:       cfg.TestName,
		Instance:   newID(),
		cfg:        cfg,
		byName:     map[string]*Container{},
		images:     map[string]string{},
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
func (r *Running) Docker() client.APIClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	api, _ := r.docker.(client.APIClient)
	return api
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
		r.cfg.Logf("firedrill: tore down %s (%d containers) in %v", r.System.name(), len(ids), took.Round(time.Millisecond))
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
		r.cfg.Logf("firedrill: last log lines of %s:\n%s", c.Name, indent(logs))
	}
}
