// Package nats is the catalogue's NATS JetStream cluster: three
// nats-server members (nats1..nats3, built from the Go module into the
// image firedrill/nats) routed to each other in one cluster, with a
// replicated stream created at start, started in one call.
//
// The handles are the members (*scenarios.Container), client URLs on
// 127.0.0.1, the stream leader and followers as NATS itself reports them
// (the stream info's cluster.leader), the JetStream meta leader (the
// monitoring endpoint /jsz), a Publish workload whose acknowledgements are
// JetStream publish acks, and an Integrity reader (Landed) that reads the
// stream back.
package nats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firedrill/firedrill/scenarios"
)

// Cluster is a running three-member cluster and its handles.
type Cluster struct {
	Running *scenarios.Running
	// Members are nats1, nats2, nats3, in order.
	Members []*scenarios.Container
	// Routes are the route links (see [System]): nats1→nats2, nats1→nats3,
	// nats2→nats3.
	Routes []*scenarios.Link
	// Stream and Subject are the replicated stream created at start and the
	// subject it captures; Replicas its replica count.
	Stream, Subject string
	Replicas        int

	cfg config

	mu    sync.Mutex
	conns []*natsgo.Conn // closed by close
	admin jetstream.JetStream
}

// Start starts the cluster for a test and creates the stream; everything
// is torn down when the test ends, however it ends. It fails the test when
// the cluster cannot start (or an option is invalid) and, like
// scenarios.Start, skips it under -short.
func Start(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	r := scenarios.Start(tb, System(), cfg.scenario...)
	c, err := handles(tb.Context(), r, cfg)
	if c != nil {
		tb.Cleanup(c.close)
	}
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	return c
}

// StartContext starts the cluster outside a test. Close it with Close, also
// when an error is returned with a non-nil Cluster.
func StartContext(ctx context.Context, opts ...Option) (*Cluster, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return &Cluster{}, fmt.Errorf("start nats: %w", err)
	}
	r, err := scenarios.StartContext(ctx, System(), cfg.scenario...)
	if err != nil {
		return &Cluster{Running: r}, fmt.Errorf("start nats: %w", err)
	}
	c, err := handles(ctx, r, cfg)
	if err != nil {
		return c, fmt.Errorf("start nats: %w", err)
	}
	return c, nil
}

// Close closes the cluster's client connections and tears it down.
func (c *Cluster) Close(ctx context.Context) error {
	c.close()
	if c.Running == nil {
		return nil
	}
	return c.Running.Close(ctx)
}

func (c *Cluster) close() {
	c.mu.Lock()
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for _, nc := range conns {
		nc.Close()
	}
}

// streamReadyWithin bounds the wait for the stream at start: created, with
// a leader and every replica current.
const streamReadyWithin = 60 * time.Second

func handles(ctx context.Context, r *scenarios.Running, cfg config) (*Cluster, error) {
	c := &Cluster{Running: r, Stream: cfg.stream, Subject: cfg.subject, Replicas: cfg.replicas, cfg: cfg}
	for _, m := range Members() {
		mc := r.Container(m)
		if mc == nil {
			return c, fmt.Errorf("member %s missing from the running system", m)
		}
		c.Members = append(c.Members, mc)
		for _, to := range dials(m) {
			l := r.Link(RouteLink(m, to))
			if l == nil {
				return c, fmt.Errorf("route link %s missing from the running system", RouteLink(m, to))
			}
			c.Routes = append(c.Routes, l)
		}
	}
	nc, err := c.Connect(natsgo.Name("firedrill-admin"))
	if err != nil {
		return c, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return c, fmt.Errorf("jetstream: %w", err)
	}
	c.admin = js
	sctx, cancel := context.WithTimeout(ctx, streamReadyWithin)
	defer cancel()
	if err := c.waitHealthy(sctx); err != nil {
		return c, err
	}
	if err := c.createStream(sctx); err != nil {
		return c, err
	}
	return c, nil
}

// waitHealthy waits until every member's /healthz answers 200: routed to
// the others and current with the JetStream meta leader.
func (c *Cluster) waitHealthy(ctx context.Context) error {
	hc := http.Client{Timeout: time.Second}
	for _, m := range c.Members {
		var last error
		for {
			last = c.healthz(ctx, &hc, m.Name)
			if last == nil {
				break
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return fmt.Errorf("wait for %s to join the cluster: %w (last: %w)", m.Name, err, last)
			}
		}
	}
	return nil
}

func (c *Cluster) healthz(ctx context.Context, hc *http.Client, member string) error {
	base, err := c.MonitorURL(ctx, member)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s /healthz: %s %s", member, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// RoutesOf returns the route links of member name (those it dials and
// those it is dialed through): a toxic on each acts on all of its
// replication traffic.
func (c *Cluster) RoutesOf(name string) []*scenarios.Link {
	var out []*scenarios.Link
	for _, l := range c.Routes {
		if l.From == name || l.To == name {
			out = append(out, l)
		}
	}
	return out
}

// createStream creates the stream (retrying while JetStream elects its
// meta leader) and waits until it has a leader and every replica is
// current.
func (c *Cluster) createStream(ctx context.Context) error {
	sc := jetstream.StreamConfig{
		Name: c.Stream, Subjects: []string{c.Subject},
		Replicas: c.Replicas, Storage: jetstream.FileStorage, Duplicates: c.cfg.dedupe,
	}
	var last error
	for {
		_, err := c.admin.CreateOrUpdateStream(ctx, sc)
		if err == nil {
			break
		}
		last = err
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("create stream %s (R%d): %w (last error: %w)", c.Stream, c.Replicas, err, last)
		}
	}
	for {
		info, err := c.StreamInfo(ctx)
		if err == nil && streamCurrent(info, c.Replicas) {
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("stream %s not current yet: %s", c.Stream, describeCluster(info.Cluster))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("wait for stream %s: %w (last: %w)", c.Stream, err, last)
		}
	}
}

// streamCurrent reports whether the stream has a leader and every one of
// its other replicas is current.
func streamCurrent(info *jetstream.StreamInfo, replicas int) bool {
	ci := info.Cluster
	if ci == nil || ci.Leader == "" || len(ci.Replicas) != replicas-1 {
		return false
	}
	for _, p := range ci.Replicas {
		if !p.Current || p.Offline {
			return false
		}
	}
	return true
}

func describeCluster(ci *jetstream.ClusterInfo) string {
	if ci == nil {
		return "no cluster info"
	}
	var parts []string
	for _, p := range ci.Replicas {
		parts = append(parts, fmt.Sprintf("%s(current=%t offline=%t)", p.Name, p.Current, p.Offline))
	}
	return fmt.Sprintf("leader %q, replicas [%s]", ci.Leader, strings.Join(parts, " "))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Member returns the member named name (nats1..nats3), or nil.
func (c *Cluster) Member(name string) *scenarios.Container {
	i := slices.IndexFunc(c.Members, func(m *scenarios.Container) bool { return m.Name == name })
	if i < 0 {
		return nil
	}
	return c.Members[i]
}

// ClientURLs returns each member's client URL on 127.0.0.1
// ("nats://127.0.0.1:49153"), looked up now: a member started again may
// have been given another host port. [Cluster.Connect] follows such moves
// by itself.
func (c *Cluster) ClientURLs(ctx context.Context) ([]string, error) {
	var urls []string
	for _, m := range c.Members {
		addr, err := m.Endpoint(ctx, ClientPort)
		if err != nil {
			return nil, err
		}
		urls = append(urls, "nats://"+addr)
	}
	return urls, nil
}

// MonitorURL returns member name's HTTP monitoring URL on 127.0.0.1
// ("http://127.0.0.1:49154"), looked up now.
func (c *Cluster) MonitorURL(ctx context.Context, name string) (string, error) {
	m := c.Member(name)
	if m == nil {
		return "", fmt.Errorf("no member %q: use one of %v", name, Members())
	}
	addr, err := m.Endpoint(ctx, MonitorPort)
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

// Connect opens a client connection to the cluster, closed with the
// cluster (or earlier by the caller). Its server list names the members
// ("nats://nats1:4222", ...) and its dialer sends each name to that
// member's current port on 127.0.0.1, so it reconnects to a member that
// was started again on another port. It pings every 500 ms and gives up a
// silent server after 2 missed pings (a partitioned member is left in about
// a second), and reconnects forever. opts come after these defaults.
func (c *Cluster) Connect(opts ...natsgo.Option) (*natsgo.Conn, error) {
	return c.connect(Members(), opts...)
}

// connect is Connect to the named members only.
func (c *Cluster) connect(members []string, opts ...natsgo.Option) (*natsgo.Conn, error) {
	var servers []string
	for _, m := range members {
		servers = append(servers, "nats://"+m+":4222")
	}
	base := []natsgo.Option{
		natsgo.SetCustomDialer(&memberDialer{c: c}),
		natsgo.PingInterval(500 * time.Millisecond),
		natsgo.MaxPingsOutstanding(2),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(100 * time.Millisecond),
		natsgo.ReconnectJitter(50*time.Millisecond, 50*time.Millisecond),
		natsgo.Timeout(time.Second),
		natsgo.RetryOnFailedConnect(false),
	}
	nc, err := natsgo.Connect(strings.Join(servers, ","), append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to the nats cluster: %w", err)
	}
	c.mu.Lock()
	c.conns = append(c.conns, nc)
	c.mu.Unlock()
	return nc, nil
}

// memberDialer dials a member by name at its current published client port
// on 127.0.0.1; nothing else is dialed.
type memberDialer struct{ c *Cluster }

func (d *memberDialer) Dial(network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	m := d.c.Member(host)
	if m == nil {
		return nil, fmt.Errorf("dial %s: not a member of the cluster (%v)", address, Members())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addr, err := m.Endpoint(ctx, ClientPort)
	if err != nil {
		return nil, err
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// errNoLeader is returned while the stream has no leader (an election).
var errNoLeader = errors.New("the stream has no leader now")
