package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/firedrill/firedrill/scenarios"
)

// Errors, matched with errors.Is.
var (
	// ErrOutOfScope: an object the cluster's Scope does not let firedrill
	// act on (another namespace, a label selector it does not match, an
	// unlisted node). Nothing was changed.
	ErrOutOfScope = errors.New("outside the drill's scope")
	// ErrNotOwnNode: a node fault that acts on the node's container (kill,
	// restart, partition) on a cluster firedrill did not start, whose nodes
	// are not containers on this machine.
	ErrNotOwnNode = errors.New("node is not a container of firedrill's own cluster")
	// ErrNoCluster: no kubeconfig names a cluster that answers.
	ErrNoCluster = errors.New("no Kubernetes cluster")
	// ErrNotReady: the system's workloads did not become ready in time.
	ErrNotReady = errors.New("workloads not ready")
)

// Labels firedrill sets on every object it creates in a cluster, as on its
// Docker resources.
const (
	LabelFiredrill = "firedrill"
	LabelRun       = "firedrill.run"
	LabelSystem    = "firedrill.system"
	LabelInstance  = "firedrill.instance"
	// LabelComponent names the declared part (a translated ContainerSpec,
	// "toxiproxy").
	LabelComponent = "firedrill.component"
	// LabelClusterNode is the Docker label of a node container of
	// firedrill's own cluster (scripts/cluster.sh); its value is the node's
	// name.
	LabelClusterNode = "firedrill.k8s.node"
	// LabelCluster is the Docker label naming the cluster of a node container.
	LabelCluster = "firedrill.k8s.cluster"
)

// Environment variables of firedrill's own cluster (scripts/cluster.sh).
const (
	EnvKubeconfig = "FIREDRILL_KUBECONFIG"
	EnvCache      = "FIREDRILL_K8S_CACHE"
	EnvName       = "FIREDRILL_K8S_NAME"
)

// Scope is what a drill may act on in a cluster. Every call that changes
// something (creating objects, deleting or evicting pods, scaling, patching
// limits, cordoning, node faults) checks it first and is refused with
// ErrOutOfScope otherwise. Reads are not limited.
type Scope struct {
	// Namespaces lists the namespaces firedrill may act in. On firedrill's
	// own cluster the namespaces [Start] creates are always in scope.
	Namespaces []string
	// Selector, when set, is a label selector ("app in (api, worker)") that
	// every pod and workload acted on must match.
	Selector string
	// Nodes lists the nodes node faults may act on (cordon, drain; kill,
	// restart, partition only on firedrill's own cluster). Empty: none on
	// a user's cluster, every worker on firedrill's own.
	Nodes []string
	// CreateNamespaces lets [Start] create a namespace of its own for each
	// system (labelled firedrill=true, deleted at the end) on a user's
	// cluster. On firedrill's own cluster it always may.
	CreateNamespaces bool
}

// Cluster is a connection to a Kubernetes cluster, limited by a Scope.
type Cluster struct {
	// Config and Client are client-go's, for reads a drill needs beyond
	// firedrill's handles. Changes through them bypass the Scope.
	Config  *rest.Config
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// Server is the API server's URL.
	Server string

	scope    Scope
	selector labels.Selector
	own      *ownCluster // nil on a user's cluster
	mapper   *restmapper.DeferredDiscoveryRESTMapper

	mu       sync.Mutex
	created  map[string]bool     // namespaces Start created, always in scope
	attached *scenarios.Attached // the node containers, once a node fault asked
}

// Connect connects to the cluster of a kubeconfig file (the user's own
// cluster, e.g. staging), acting only within scope. Scope.Namespaces must
// list at least one namespace unless Scope.CreateNamespaces is set.
func Connect(ctx context.Context, kubeconfig string, scope Scope) (*Cluster, error) {
	if len(scope.Namespaces) == 0 && !scope.CreateNamespaces {
		return nil, fmt.Errorf("kube: Scope.Namespaces is empty: list the namespaces the drill may act in (or set Scope.CreateNamespaces to let it create its own)")
	}
	for _, ns := range scope.Namespaces {
		if strings.TrimSpace(ns) == "" || ns == metav1.NamespaceAll {
			return nil, fmt.Errorf("kube: Scope.Namespaces holds an empty name: list namespaces by name (there is no \"all\")")
		}
	}
	return connect(ctx, kubeconfig, scope, nil)
}

func connect(ctx context.Context, kubeconfig string, scope Scope, own *ownCluster) (*Cluster, error) {
	sel := labels.Everything()
	if scope.Selector != "" {
		s, err := labels.Parse(scope.Selector)
		if err != nil {
			return nil, fmt.Errorf("kube: Scope.Selector %q: %w (want e.g. app=api or app in (api, worker))", scope.Selector, err)
		}
		sel = s
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		return nil, fmt.Errorf("%w: kubeconfig %s: %w", ErrNoCluster, kubeconfig, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kube: kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: client for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: dynamic client for %s: %w", cfg.Host, err)
	}
	c := &Cluster{
		Config: cfg, Client: cs, Dynamic: dyn, Server: cfg.Host,
		scope: scope, selector: sel, own: own, created: map[string]bool{},
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery())),
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Do(vctx).Raw(); err != nil {
		return nil, fmt.Errorf("%w: the API server %s (kubeconfig %s) does not answer: %w", ErrNoCluster, cfg.Host, kubeconfig, err)
	}
	return c, nil
}

// Own reports whether this is firedrill's own cluster (scripts/cluster.sh),
// whose nodes are containers on this machine.
func (c *Cluster) Own() bool { return c.own != nil }

// Scope returns the cluster's scope.
func (c *Cluster) Scope() Scope { return c.scope }

// LocalKubeconfig is the kubeconfig of firedrill's own cluster: the value
// of FIREDRILL_KUBECONFIG, else $FIREDRILL_K8S_CACHE/run/$FIREDRILL_K8S_NAME/kubeconfig
// (defaults /var/cache/firedrill/k8s, firedrill-k8s), as `scripts/cluster.sh
// kubeconfig` prints it.
func LocalKubeconfig() string {
	if p := os.Getenv(EnvKubeconfig); p != "" {
		return p
	}
	return filepath.Join(runDir(), "kubeconfig")
}

func clusterName() string {
	if n := os.Getenv(EnvName); n != "" {
		return n
	}
	return "firedrill-k8s"
}

func runDir() string {
	cache := os.Getenv(EnvCache)
	if cache == "" {
		cache = "/var/cache/firedrill/k8s"
	}
	return filepath.Join(cache, "run", clusterName())
}

// checkNamespace refuses a namespace outside the scope.
func (c *Cluster) checkNamespace(ns string) error {
	c.mu.Lock()
	created := c.created[ns]
	c.mu.Unlock()
	if created || slices.Contains(c.scope.Namespaces, ns) {
		return nil
	}
	return fmt.Errorf("%w: namespace %q is not in Scope.Namespaces %v (nor a namespace this drill created)", ErrOutOfScope, ns, c.scope.Namespaces)
}

// check refuses an object outside the scope: its namespace, and its labels
// against Scope.Selector. kind and name are for the message.
func (c *Cluster) check(kind, ns, name string, lbls map[string]string) error {
	if err := c.checkNamespace(ns); err != nil {
		return fmt.Errorf("%s %s/%s: %w", kind, ns, name, err)
	}
	if !c.selector.Matches(labels.Set(lbls)) {
		return fmt.Errorf("%s %s/%s: %w: its labels %v do not match Scope.Selector %q", kind, ns, name, ErrOutOfScope, lbls, c.scope.Selector)
	}
	return nil
}

// checkNode refuses a node outside the scope. On firedrill's own cluster
// with no Scope.Nodes every node but the control plane's is in scope (the
// control plane's node runs the API server the drill needs, and the
// toxiproxy pod).
func (c *Cluster) checkNode(name string) error {
	if len(c.scope.Nodes) > 0 {
		if slices.Contains(c.scope.Nodes, name) {
			return nil
		}
		return fmt.Errorf("node %s: %w: not in Scope.Nodes %v", name, ErrOutOfScope, c.scope.Nodes)
	}
	if c.own != nil {
		if name == c.own.controlPlane {
			return fmt.Errorf("node %s: %w: it is the control plane's node (the API server and the drill's toxiproxy run there); list it in Scope.Nodes to allow it", name, ErrOutOfScope)
		}
		return nil
	}
	return fmt.Errorf("node %s: %w: Scope.Nodes is empty, so no node may be acted on in this cluster", name, ErrOutOfScope)
}
