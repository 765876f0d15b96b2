package kube

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/scenarios"
)

// EnvRun is the variable `make test-kube` sets: with "1", a test that needs
// firedrill's own cluster fails when no cluster is up, instead of being
// skipped.
const EnvRun = "FIREDRILL_KUBE"

// ownCluster is what firedrill knows of its own cluster
// (scripts/cluster.sh): its node containers on the local Docker daemon.
type ownCluster struct {
	name         string
	controlPlane string
	runDir       string
	docker       *client.Client
	dockerHost   string
	nodes        map[string]string // node name -> container ID
	// nodePorts are the NodePorts the control plane's node publishes:
	// NodePort -> port on 127.0.0.1.
	nodePorts map[int]int
}

// Local connects a test to firedrill's own cluster (`make cluster`,
// `scripts/cluster.sh up`), closing it when the test ends. Under -short
// the test is skipped. When no cluster is up it is skipped too, saying how
// to start one, unless FIREDRILL_KUBE=1 (`make test-kube` sets it), which
// makes a missing cluster a failure.
func Local(tb testing.TB) *Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("kube: a Kubernetes drill: skipped under -short")
	}
	if _, err := os.Stat(LocalKubeconfig()); err != nil && os.Getenv(EnvRun) != "1" {
		tb.Skipf("kube: a drill on firedrill's own Kubernetes cluster, which is not up (no %s): start it with make cluster, or run make test-kube (%s=1 makes this a failure)", LocalKubeconfig(), EnvRun)
	}
	c, err := LocalContext(tb.Context(), Scope{})
	if err != nil {
		tb.Fatalf("%v", err)
	}
	if err := c.WaitNodesReady(tb.Context(), nodeReadyTimeout); err != nil {
		_ = c.Close(tb.Context())
		tb.Fatalf("%v (scripts/cluster.sh status)", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(context.WithoutCancel(tb.Context())); err != nil {
			tb.Errorf("kube: close the cluster connection: %v", err)
		}
	})
	return c
}

// LocalContext connects to firedrill's own cluster outside a test. scope
// may narrow what the drill acts on (namespaces besides the ones Start
// creates, a selector, nodes).
func LocalContext(ctx context.Context, scope Scope) (*Cluster, error) {
	kc := LocalKubeconfig()
	if _, err := os.Stat(kc); err != nil {
		return nil, fmt.Errorf("%w: firedrill's cluster %s is not up (no %s): start it with make cluster (or scripts/cluster.sh up)", ErrNoCluster, clusterName(), kc)
	}
	scenarios.SetTestcontainersEnv()
	dc, err := scenarios.NewDockerClient(ctx)
	if err != nil {
		return nil, err
	}
	own := &ownCluster{name: clusterName(), runDir: runDir(), docker: dc, dockerHost: dc.DaemonHost(), nodes: map[string]string{}}
	list, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelCluster+"="+own.name)})
	if err != nil {
		return nil, fmt.Errorf("kube: list the node containers of %s: %w", own.name, err)
	}
	for _, ctr := range list.Items {
		if n := ctr.Labels[LabelClusterNode]; n != "" {
			own.nodes[n] = ctr.ID
		}
	}
	if len(own.nodes) == 0 {
		return nil, fmt.Errorf("%w: no node containers labelled %s=%s: the cluster is gone; scripts/cluster.sh down, then make cluster", ErrNoCluster, LabelCluster, own.name)
	}
	own.controlPlane = own.name + "-0"
	if id, ok := own.nodes[own.controlPlane]; ok {
		ins, err := dc.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("kube: inspect node %s: %w", own.controlPlane, err)
		}
		own.nodePorts = map[int]int{}
		for port, binds := range ins.Container.NetworkSettings.Ports {
			for _, b := range binds {
				if b.HostIP.String() != "127.0.0.1" {
					continue
				}
				hp, err := strconv.Atoi(b.HostPort)
				if err == nil && port.Num() >= 30000 && port.Num() <= 32767 {
					own.nodePorts[int(port.Num())] = hp
				}
			}
		}
	}
	c, err := connect(ctx, kc, scope, own)
	if err != nil {
		return nil, fmt.Errorf("%w (firedrill's cluster %s: scripts/cluster.sh status tells more)", err, own.name)
	}
	return c, nil
}

// nodeReadyTimeout bounds the wait for a node to be Ready again.
const nodeReadyTimeout = 90 * time.Second

// WaitNodesReady waits until every node is Ready (up to timeout): a test
// that starts while an earlier one's node is still rejoining would
// otherwise drill a smaller cluster, and the controller manager stops
// evicting pods when too many nodes are NotReady at once.
func (c *Cluster) WaitNodesReady(ctx context.Context, timeout time.Duration) error {
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("kube: list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		if err := c.Node(n.Name).WaitReady(ctx, timeout); err != nil {
			return err
		}
	}
	return nil
}

// NodeNames lists the node containers of firedrill's own cluster by name
// (nil on a user's cluster).
func (c *Cluster) NodeNames() []string {
	if c.own == nil {
		return nil
	}
	names := make([]string, 0, len(c.own.nodes))
	for n := range c.own.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Workers lists the nodes of firedrill's own cluster other than the control
// plane's.
func (c *Cluster) Workers() []string {
	var out []string
	for _, n := range c.NodeNames() {
		if n != c.own.controlPlane {
			out = append(out, n)
		}
	}
	return out
}

// ControlPlane is the node that runs firedrill's own cluster's control
// plane ("" on a user's cluster).
func (c *Cluster) ControlPlane() string {
	if c.own == nil {
		return ""
	}
	return c.own.controlPlane
}

// nodeContainer is the Docker container of a node of firedrill's own
// cluster, after the scope check.
func (c *Cluster) nodeContainer(name string) (string, error) {
	if err := c.checkNode(name); err != nil {
		return "", err
	}
	if c.own == nil {
		return "", fmt.Errorf("node %s: %w: on a user's cluster firedrill acts on nodes only through the API (cordon, drain)", name, ErrNotOwnNode)
	}
	id, ok := c.own.nodes[name]
	if !ok {
		return "", fmt.Errorf("node %s: %w: the cluster's nodes are %v", name, ErrNotOwnNode, c.NodeNames())
	}
	return id, nil
}

// NodeContainer returns a handle on the Docker container of node name (of
// firedrill's own cluster), for the container faults: faults.Kill on it
// kills the node, its revert starts it again. The handle is attached
// (scenarios.Attach), so a node a drill left stopped or cut off is put back
// when the process ends early.
func (c *Cluster) NodeContainer(ctx context.Context, name string) (*scenarios.Container, error) {
	id, err := c.nodeContainer(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attached == nil {
		ids := make([]string, 0, len(c.own.nodes))
		ready := map[string]scenarios.Readiness{}
		for _, n := range c.NodeNames() {
			if c.checkNode(n) == nil {
				id := c.own.nodes[n]
				ids = append(ids, id)
				// A node started again (a fault's revert) is back once the
				// API says it is Ready: the next drill finds the cluster whole.
				ready[id] = scenarios.ReadyFunc(func(ctx context.Context, _ *scenarios.Container) error {
					return c.Node(n).WaitReady(ctx, nodeReadyTimeout)
				})
			}
		}
		a, err := scenarios.Attach(ctx, scenarios.Environment{DockerHost: c.own.dockerHost, Containers: ids, Ready: ready})
		if err != nil {
			_ = a.Close(ctx)
			return nil, fmt.Errorf("kube: attach the node containers: %w", err)
		}
		c.attached = a
	}
	if !slices.Contains(c.attached.Env.Containers, id) {
		return nil, fmt.Errorf("node %s: %w", name, ErrOutOfScope)
	}
	return c.attached.Container(id)
}

// Close puts back node containers that faults left stopped or cut off and
// closes the Docker client. Systems started on the cluster are torn down
// by their own Close.
func (c *Cluster) Close(ctx context.Context) error {
	c.mu.Lock()
	a := c.attached
	c.attached = nil
	c.mu.Unlock()
	var err error
	if a != nil {
		err = a.Close(ctx)
	}
	if c.own != nil && c.own.docker != nil {
		_ = c.own.docker.Close()
	}
	return err
}

// allocNodePorts picks, for each remote port, a NodePort that the control
// plane's node publishes on 127.0.0.1 and no Service uses yet (nil on a
// user's cluster, or when the node publishes none: a port-forward is used
// then). Too few free ones is an error naming the way out.
func (c *Cluster) allocNodePorts(ctx context.Context, remote []int) (map[int]int, error) {
	if c.own == nil || len(c.own.nodePorts) == 0 {
		return nil, nil
	}
	svcs, err := c.Client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("kube: list Services (for free NodePorts): %w", err)
	}
	used := map[int]bool{}
	for _, s := range svcs.Items {
		for _, p := range s.Spec.Ports {
			used[int(p.NodePort)] = true
		}
	}
	var free []int
	releasedMu.Lock()
	for np := range c.own.nodePorts {
		if !used[np] && time.Since(released[np]) > 15*time.Second {
			free = append(free, np)
		}
	}
	releasedMu.Unlock()
	// Docker's proxy of a published port can be gone (seen once: one of the
	// node's 25 was not listening, though Docker still listed it): use
	// only ports that accept a connection on 127.0.0.1.
	free = slices.DeleteFunc(free, func(np int) bool {
		conn, err := (&net.Dialer{Timeout: 500 * time.Millisecond}).DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(c.own.nodePorts[np]))
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	sort.Ints(free)
	if len(free) < len(remote) {
		return nil, fmt.Errorf("kube: %d NodePorts needed, %d of the %d published by %s are free: close other systems (or scripts/cluster.sh down, then up)", len(remote), len(free), len(c.own.nodePorts), c.own.controlPlane)
	}
	// Start at a random free port: two systems starting at once rarely collide.
	off := int(randUint() % uint64(len(free)))
	out := map[int]int{}
	for i, p := range remote {
		out[p] = free[(off+i)%len(free)]
	}
	return out, nil
}

// released records when this process's systems gave their NodePorts back:
// kube-proxy may lead a freed NodePort to the deleted pods for a moment,
// so a port is not handed out again for 15 s.
var (
	releasedMu sync.Mutex
	released   = map[int]time.Time{}
)

func releaseNodePorts(nps map[int]int) {
	releasedMu.Lock()
	defer releasedMu.Unlock()
	for _, np := range nps {
		released[np] = time.Now()
	}
}

// NodeLog is the path, on this machine, of a log of a node of firedrill's
// own cluster (kubelet.log, kube-proxy.log, containerd.log, node.log; the
// control plane's node also kube-apiserver.log, ...): the nodes write
// them to host directories. "" on a user's cluster.
func (c *Cluster) NodeLog(node, name string) string {
	if c.own == nil {
		return ""
	}
	i := strings.LastIndex(node, "-")
	if i < 0 {
		return ""
	}
	return filepath.Join(c.own.runDir, "node-"+node[i+1:], "log", name)
}
