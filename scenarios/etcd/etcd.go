// Package etcd is the catalogue's etcd: a 3-member etcd cluster (etcd
// v3.6.8, built here from go.etcd.io/etcd/server/v3 through its etcdmain
// package into the image firedrill/etcd), started in one call, with the
// handles a drill needs: the members as containers, the client endpoints
// on 127.0.0.1 through toxiproxy links, the peer links, the leader and the
// followers as etcd itself reports them at that moment, a put workload
// whose acknowledged keys are read back for integrity, and probes.
//
// The members bootstrap statically (--initial-cluster). Each member's peer
// URL is its peer link's proxy (toxiproxy:PORT), so every byte a member
// sends to its peers, and every connection they open to it, goes through
// that link: a latency toxic on it makes that member a slow follower.
// Members keep their data on the container's own filesystem, which
// survives a kill and a start: Kill's revert (start the same container
// again) brings a member back with its data.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/scenarios"
)

// Ports of a member.
const (
	ClientPort = "2379/tcp"
	PeerPort   = "2380/tcp"
)

// Size is the number of members.
const Size = 3

// dataDir is where a member keeps its data: below the image's /etcd
// (writable by the member's user); with DataOnTmpfs a tmpfs is mounted on
// /etcd (etcd preallocates 64 MB of WAL: the tmpfs holds two segments).
const (
	dataDir   = "/etcd/data"
	tmpfsSize = "size=160m"
)

// MemberName is the name of member i (1-based): "etcd1", "etcd2", "etcd3".
func MemberName(i int) string { return fmt.Sprintf("etcd%d", i) }

// ClientLink and PeerLink name a member's links: the test process's client
// connections to it, and every connection its peers make to it.
func ClientLink(member string) string { return member + "-client" }

// PeerLink names the link in front of a member's peer port.
func PeerLink(member string) string { return member + "-peer" }

// System declares the cluster with the default configuration.
func System() scenarios.System {
	c, _ := newConfig(nil)
	return c.system()
}

func (c config) system() scenarios.System {
	sys := scenarios.System{Name: "etcd"}
	var initial []string
	for i := 1; i <= Size; i++ {
		initial = append(initial, MemberName(i)+"=http://${link:"+PeerLink(MemberName(i))+"}")
	}
	for i := 1; i <= Size; i++ {
		name := MemberName(i)
		spec := scenarios.ContainerSpec{
			Name:  name,
			Image: scenarios.Image(scenarios.ImageEtcd),
			Cmd:   c.cmd(name, strings.Join(initial, ",")),
			Ports: []string{ClientPort, PeerPort},
			Ready: scenarios.ReadyHTTP(ClientPort, "/health"),
		}
		switch c.data {
		case DataOnVolume:
			// A new volume starts as a copy of the image's /etcd (owner
			// 65534, mode 1777), so the member can write it.
			spec.Mounts = []scenarios.Mount{{Type: scenarios.MountVolume, Source: name + "-data", Target: "/etcd"}}
		case DataOnTmpfs:
			spec.Tmpfs = map[string]string{"/etcd": tmpfsSize}
		}
		sys.Containers = append(sys.Containers, spec)
		// The client link's client is the test process. The peer link's
		// clients are the other members (all of them: a member has one
		// peer URL); it is declared From Host because it has no single
		// client container, which also keeps the members free to start
		// together (each one's readiness needs a quorum).
		sys.Links = append(sys.Links,
			scenarios.LinkSpec{Name: ClientLink(name), From: scenarios.Host, To: name, Port: ClientPort},
			scenarios.LinkSpec{Name: PeerLink(name), From: scenarios.Host, To: name, Port: PeerPort},
		)
	}
	return sys
}

// cmd is member name's command line.
func (c config) cmd(name, initialCluster string) []string {
	return []string{
		"--name=" + name,
		"--data-dir=" + dataDir,
		"--listen-client-urls=http://0.0.0.0:2379",
		"--advertise-client-urls=http://" + name + ":2379",
		"--listen-peer-urls=http://0.0.0.0:2380",
		"--initial-advertise-peer-urls=http://${link:" + PeerLink(name) + "}",
		"--initial-cluster=" + initialCluster,
		"--initial-cluster-state=new",
		"--initial-cluster-token=firedrill-etcd",
		fmt.Sprintf("--heartbeat-interval=%d", c.heartbeat.Milliseconds()),
		fmt.Sprintf("--election-timeout=%d", c.election.Milliseconds()),
		"--log-level=warn",
	}
}

// Cluster is a running etcd cluster and its handles.
type Cluster struct {
	Running *scenarios.Running
	// Members are etcd1, etcd2, etcd3, in that order.
	Members []*scenarios.Container
	// ClientLinks[i] is the link from the test process to Members[i]'s
	// client port; its HostAddr is the endpoint the workload uses.
	ClientLinks []*scenarios.Link
	// PeerLinks[i] carries every connection Members[i]'s peers open to it
	// (their raft streams from it, their messages to it).
	PeerLinks []*scenarios.Link
	// Endpoints are the client endpoints on 127.0.0.1, through
	// ClientLinks, in member order ("127.0.0.1:49153").
	Endpoints []string

	http    *http.Client
	life    context.Context // cancelled by Close (or the test's end): stops background probes
	stop    context.CancelFunc
	mu      sync.Mutex
	ids     map[uint64]string // member id -> name
	workers atomic.Int64      // numbers the Puts workloads
}

// Start starts the cluster for a test; everything is torn down when the
// test ends, however it ends. It fails the test when the cluster cannot
// start (or an option is invalid) and, like scenarios.Start, skips it
// under -short.
func Start(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		tb.Fatalf("start etcd: %v", err)
	}
	r := scenarios.Start(tb, cfg.system(), cfg.scenario...)
	c, err := handles(tb.Context(), r)
	tb.Cleanup(c.stop)
	if err != nil {
		tb.Fatalf("start etcd: %v", err)
	}
	return c
}

// StartContext starts the cluster outside a test. Close it with Close,
// also when an error is returned with a non-nil Cluster.
func StartContext(ctx context.Context, opts ...Option) (*Cluster, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return &Cluster{}, fmt.Errorf("start etcd: %w", err)
	}
	r, err := scenarios.StartContext(ctx, cfg.system(), cfg.scenario...)
	if err != nil {
		return &Cluster{Running: r}, fmt.Errorf("start etcd: %w", err)
	}
	c, err := handles(ctx, r)
	if err != nil {
		return c, fmt.Errorf("start etcd: %w", err)
	}
	return c, nil
}

// Close tears the cluster down.
func (c *Cluster) Close(ctx context.Context) error {
	if c.stop != nil {
		c.stop()
	}
	if c.Running == nil {
		return nil
	}
	return c.Running.Close(ctx)
}

func handles(ctx context.Context, r *scenarios.Running) (*Cluster, error) {
	c := &Cluster{Running: r, http: &http.Client{Timeout: 2 * time.Second}, ids: map[uint64]string{}}
	c.life, c.stop = context.WithCancel(context.Background())
	for i := 1; i <= Size; i++ {
		name := MemberName(i)
		m, cl, pl := r.Container(name), r.Link(ClientLink(name)), r.Link(PeerLink(name))
		if m == nil || cl == nil || pl == nil {
			return c, fmt.Errorf("member %s or its links missing from the running system", name)
		}
		c.Members = append(c.Members, m)
		c.ClientLinks = append(c.ClientLinks, cl)
		c.PeerLinks = append(c.PeerLinks, pl)
		c.Endpoints = append(c.Endpoints, cl.HostAddr)
	}
	// Learn each member's id from the member itself (ids never change:
	// a member started again keeps its data, and so its id).
	for _, m := range c.Members {
		if _, err := c.Status(ctx, m); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Member returns the member named name (etcd1..etcd3), or nil.
func (c *Cluster) Member(name string) *scenarios.Container {
	for _, m := range c.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// ErrNoLeader is returned by Leader and Followers when no member that
// answered knows a leader (an election in progress, or no quorum).
var ErrNoLeader = errors.New("no etcd leader")
