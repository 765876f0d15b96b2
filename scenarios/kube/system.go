package kube

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/firedrill/firedrill/scenarios"
)

// System is a system declared as Kubernetes objects.
type System struct {
	// Name names the system (lower-case letters, digits, '-'); the
	// namespace Start creates is "fd-<name>-<random>".
	Name string
	// Manifests are YAML (or JSON) documents of namespaced objects:
	// Deployments, StatefulSets, Services, ConfigMaps, ... without a
	// namespace. ${link:NAME} expands to the address (ClusterIP:port) of
	// link NAME's proxy, which pods dial instead of the Service so that
	// toxics apply; ${service:NAME} to the ClusterIP of Service NAME.
	Manifests []string
	// Images are local Docker images the pods use, copied into the nodes
	// of firedrill's own cluster before anything starts (pods name them
	// with imagePullPolicy: Never or IfNotPresent). On a user's cluster
	// the images come from its registry, as its manifests say.
	Images []string
	// Links are the connections faults act on, each through toxiproxy.
	Links []Link
	// Namespace, when set, is an existing namespace (in the scope) the
	// objects are created in and deleted from at the end; empty, Start
	// creates a namespace of its own and deletes it at the end.
	Namespace string
	// ReadyTimeout bounds the wait for the workloads (default 2m).
	ReadyTimeout time.Duration
	// ToxiproxyImage is the toxiproxy server's image (default
	// firedrill/toxiproxy:local, which make images builds).
	ToxiproxyImage string
}

// Link is a connection to a Service's port through the system's toxiproxy
// pod. Pods reach it at ${link:NAME}; with Host, the test reaches it too,
// at Running.Link(NAME).HostAddr on 127.0.0.1.
type Link struct {
	// Name is the link's name, e.g. "api" or "loader->warehouse".
	Name string
	// Service and Port are where the link leads: a Service of the
	// manifests and one of its ports.
	Service string
	Port    int
	// Host makes the link reachable from the test process on 127.0.0.1
	// (through a port-forward to the toxiproxy pod).
	Host bool
}

// Ports of the toxiproxy pod: its API, and one per link from linkPortBase.
const (
	toxiproxyAPIPort = 8474
	linkPortBase     = 20000
	toxiproxyName    = "firedrill-toxiproxy"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate checks the declaration before the cluster is contacted.
func (s System) Validate() error {
	var errs []error
	if !nameRE.MatchString(s.Name) || len(s.Name) > 40 {
		errs = append(errs, fmt.Errorf("System.Name %q: use lower-case letters, digits and '-', at most 40 (it names the namespace)", s.Name))
	}
	if len(s.Manifests) == 0 {
		errs = append(errs, errors.New("System.Manifests is empty: give the system's objects as YAML documents"))
	}
	seen := map[string]bool{}
	for i, l := range s.Links {
		switch {
		case l.Name == "":
			errs = append(errs, fmt.Errorf("System.Links[%d] has no Name", i))
		case seen[l.Name]:
			errs = append(errs, fmt.Errorf("System.Links[%d]: link %q declared twice", i, l.Name))
		}
		seen[l.Name] = true
		if l.Service == "" || l.Port <= 0 || l.Port > 65535 {
			errs = append(errs, fmt.Errorf("System.Links[%d] (%s): Service %q, Port %d: name a Service of the manifests and one of its ports", i, l.Name, l.Service, l.Port))
		}
	}
	if s.ReadyTimeout < 0 {
		errs = append(errs, errors.New("System.ReadyTimeout is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kube: system %q: %w", s.Name, err)
	}
	return nil
}

// Running is a system started on a cluster.
type Running struct {
	Cluster   *Cluster
	System    System
	Namespace string
	// Instance is the value of LabelInstance on every object of this system.
	Instance string

	links      map[string]*scenarios.Link
	attached   *scenarios.Attached
	fwd        *forwarder
	nodePorts  map[int]int // toxiproxy port -> NodePort (firedrill's own cluster)
	ownNS      bool
	objects    []*unstructured.Unstructured
	unregister func()
	closeOnce  sync.Once
	closeErr   error
}

// Start starts sys on c for a test and tears it down when the test ends,
// however it ends (through the process's ending handler on SIGINT, SIGTERM
// or a near -timeout). It fails the test when the system cannot start.
func Start(tb testing.TB, c *Cluster, sys System) *Running {
	tb.Helper()
	r, err := StartContext(tb.Context(), c, sys)
	if r != nil {
		tb.Cleanup(func() {
			if err := r.Close(context.WithoutCancel(tb.Context())); err != nil {
				tb.Errorf("kube: tear down %s: %v", sys.Name, err)
			}
		})
		r.unregister = scenarios.AtEnd(tb, scenarios.StageSystems, "deleting Kubernetes namespace "+r.Namespace, r.Close)
	}
	if err != nil {
		tb.Fatalf("kube: start %s: %v", sys.Name, err)
	}
	return r
}

// StartContext starts sys on c. On error it also returns what was started,
// for the caller to Close (Close on nil is a no-op).
func StartContext(ctx context.Context, c *Cluster, sys System) (*Running, error) {
	if err := sys.Validate(); err != nil {
		return nil, err
	}
	if sys.ReadyTimeout == 0 {
		sys.ReadyTimeout = 2 * time.Minute
	}
	if sys.ToxiproxyImage == "" {
		sys.ToxiproxyImage = scenarios.Image(scenarios.ImageToxiproxy)
	}
	r := &Running{Cluster: c, System: sys, Instance: scenarios.RunID() + "-" + randHex(4), links: map[string]*scenarios.Link{}}
	lbls := map[string]string{LabelFiredrill: "true", LabelRun: scenarios.RunID(), LabelSystem: sys.Name, LabelInstance: r.Instance}

	// The namespace, first: whatever follows is deleted with it.
	if sys.Namespace != "" {
		if err := c.checkNamespace(sys.Namespace); err != nil {
			return nil, fmt.Errorf("System.Namespace: %w", err)
		}
		r.Namespace = sys.Namespace
	} else {
		if c.own == nil && !c.scope.CreateNamespaces {
			return nil, fmt.Errorf("%w: System.Namespace is empty and Scope.CreateNamespaces is not set: name a namespace of Scope.Namespaces to start the system in", ErrOutOfScope)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fd-" + sys.Name + "-", Labels: lbls}}
		got, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create a namespace for %s: %w", sys.Name, err)
		}
		r.Namespace, r.ownNS = got.Name, true
		c.mu.Lock()
		c.created[got.Name] = true
		c.mu.Unlock()
	}
	if err := r.start(ctx, lbls); err != nil {
		return r, err
	}
	return r, nil
}

func (r *Running) start(ctx context.Context, lbls map[string]string) error {
	c, sys := r.Cluster, r.System
	if err := r.loadImages(ctx); err != nil {
		return err
	}
	// Parse everything once, placeholders left alone, to find the Services.
	plain, err := decode(sys.Manifests, func(kind, name string) (string, error) { return "${" + kind + ":" + name + "}", nil })
	if err != nil {
		return err
	}
	services, err := r.services(plain)
	if err != nil {
		return err
	}
	// toxiproxy and the Services come first: their addresses are what the
	// placeholders expand to.
	var toxiIP string
	linkPort := linkPorts(sys.Links)
	if len(sys.Links) > 0 {
		if toxiIP, err = r.startToxiproxy(ctx, lbls, linkPort); err != nil {
			return err
		}
	}
	ips, err := r.applyServices(ctx, lbls, plain, services)
	if err != nil {
		return err
	}
	full, err := decode(sys.Manifests, expander(toxiIP, linkPort, ips))
	if err != nil {
		return err
	}
	var rest []object
	var ws []workload
	for _, o := range full {
		if o.u.GetKind() == "Service" && services[o.u.GetName()] {
			continue
		}
		rest = append(rest, o)
		switch o.u.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Pod":
			ws = append(ws, workload{o.u.GetKind(), o.u.GetName()})
		}
	}
	// The links first: the workloads dial them as they start (and may be
	// ready only once they can).
	if len(sys.Links) > 0 {
		if err := c.waitReady(ctx, r.Namespace, []workload{{"Deployment", toxiproxyName}}, sys.ReadyTimeout); err != nil {
			return err
		}
		if err := r.links_(ctx, linkPort, ips); err != nil {
			return err
		}
	}
	created, err := c.apply(ctx, r.Namespace, lbls, rest)
	r.objects = append(r.objects, created...)
	if err != nil {
		return err
	}
	return c.waitReady(ctx, r.Namespace, ws, sys.ReadyTimeout)
}

// linkPorts numbers the links' ports on the toxiproxy pod.
func linkPorts(links []Link) map[string]int {
	out := map[string]int{}
	for i, l := range links {
		out[l.Name] = linkPortBase + i
	}
	return out
}

// loadImages copies the system's images (and toxiproxy's) into the nodes.
func (r *Running) loadImages(ctx context.Context) error {
	imgs := slices.Clone(r.System.Images)
	if len(r.System.Links) > 0 {
		imgs = append(imgs, r.System.ToxiproxyImage)
	}
	if len(imgs) == 0 {
		return nil
	}
	return r.Cluster.Load(ctx, imgs...)
}

// services are the names of the Services the manifests declare; every
// link must lead to one.
func (r *Running) services(plain []object) (map[string]bool, error) {
	services := map[string]bool{}
	for _, o := range plain {
		if o.u.GetKind() == "Service" && o.u.GetAPIVersion() == "v1" {
			services[o.u.GetName()] = true
		}
	}
	for _, l := range r.System.Links {
		if !services[l.Service] {
			return nil, fmt.Errorf("%w: link %s leads to Service %q, which the manifests do not declare (they declare %v)", ErrManifest, l.Name, l.Service, sortedKeys(services))
		}
	}
	return services, nil
}

// applyServices creates the Services and returns their ClusterIPs.
func (r *Running) applyServices(ctx context.Context, lbls map[string]string, plain []object, services map[string]bool) (map[string]string, error) {
	var svcObjs []object
	for _, o := range plain {
		if services[o.u.GetName()] && o.u.GetKind() == "Service" {
			if placeholder.MatchString(fmt.Sprint(o.u.Object)) {
				return nil, fmt.Errorf("%w: %s: a Service cannot use ${link:...} or ${service:...}", ErrManifest, o.src)
			}
			svcObjs = append(svcObjs, o)
		}
	}
	created, err := r.Cluster.apply(ctx, r.Namespace, lbls, svcObjs)
	r.objects = append(r.objects, created...)
	if err != nil {
		return nil, err
	}
	ips := map[string]string{}
	for _, u := range created {
		ip, _, _ := unstructured.NestedString(u.Object, "spec", "clusterIP")
		ips[u.GetName()] = ip
	}
	return ips, nil
}

// expander expands ${link:NAME} to the link's proxy address and
// ${service:NAME} to the Service's ClusterIP.
func expander(toxiIP string, linkPort map[string]int, ips map[string]string) func(kind, name string) (string, error) {
	return func(kind, name string) (string, error) {
		if kind == "link" {
			p, ok := linkPort[name]
			if !ok {
				return "", fmt.Errorf("no link %q in System.Links (links: %v)", name, sortedKeys(linkPort))
			}
			return toxiIP + ":" + strconv.Itoa(p), nil
		}
		ip, ok := ips[name]
		if !ok {
			return "", fmt.Errorf("no Service %q in the manifests", name)
		}
		return ip, nil
	}
}

// startToxiproxy creates the toxiproxy Deployment and Service and
// returns the Service's ClusterIP. On firedrill's own cluster the API and
// the host links' ports are NodePorts the control plane's node publishes
// on 127.0.0.1 (r.nodePorts: remote port -> NodePort); elsewhere they are
// reached through a port-forward once the pod is ready.
func (r *Running) startToxiproxy(ctx context.Context, lbls map[string]string, linkPort map[string]int) (string, error) {
	c, sys := r.Cluster, r.System
	remote := []int{toxiproxyAPIPort}
	for _, l := range sys.Links {
		if l.Host {
			remote = append(remote, linkPort[l.Name])
		}
	}
	for attempt := 0; ; attempt++ {
		np, err := c.allocNodePorts(ctx, remote)
		if err != nil {
			return "", err
		}
		objs, err := decode([]string{toxiproxyManifest(sys, c.ControlPlane(), np)}, noPlaceholders)
		if err != nil {
			return "", fmt.Errorf("the toxiproxy manifest: %w", err)
		}
		created, err := c.apply(ctx, r.Namespace, merge(lbls, map[string]string{LabelComponent: "toxiproxy"}), objs)
		r.objects = append(r.objects, created...)
		if err != nil {
			if len(np) > 0 && len(created) == 1 && attempt < 5 && strings.Contains(err.Error(), "already allocated") {
				// Another system took a NodePort meanwhile: try others.
				continue
			}
			return "", err
		}
		r.nodePorts = np
		break
	}
	svc, err := c.Client.CoreV1().Services(r.Namespace).Get(ctx, toxiproxyName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read the toxiproxy Service: %w", err)
	}
	return svc.Spec.ClusterIP, nil
}

// hostAddr is where the test reaches a remote port of the toxiproxy pod.
func (r *Running) hostAddr(remote int) string {
	if np, ok := r.nodePorts[remote]; ok {
		return "127.0.0.1:" + strconv.Itoa(r.Cluster.own.nodePorts[np])
	}
	return r.fwd.Addr(remote)
}

// links_ creates a proxy per link through the toxiproxy API on 127.0.0.1
// and attaches them.
func (r *Running) links_(ctx context.Context, linkPort map[string]int, ips map[string]string) error {
	sys := r.System
	if len(r.nodePorts) == 0 {
		if err := r.forwardToxiproxy(ctx, linkPort); err != nil {
			return err
		}
	}
	api := "http://" + r.hostAddr(toxiproxyAPIPort)
	tc := toxiproxy.NewClient(api)
	if err := waitToxiproxy(ctx, tc, api); err != nil {
		return err
	}
	names := make([]string, 0, len(sys.Links))
	for _, l := range sys.Links {
		up := ips[l.Service] + ":" + strconv.Itoa(l.Port)
		if _, err := tc.CreateProxy(l.Name, "0.0.0.0:"+strconv.Itoa(linkPort[l.Name]), up); err != nil {
			return fmt.Errorf("create proxy %s -> %s: %w", l.Name, up, err)
		}
		names = append(names, l.Name)
	}
	var err error
	r.attached, err = scenarios.Attach(ctx, scenarios.Environment{Toxiproxy: api, Proxies: names})
	if err != nil {
		return fmt.Errorf("attach the links: %w", err)
	}
	for _, l := range sys.Links {
		link, err := r.attached.Link(l.Name)
		if err != nil {
			return err
		}
		link.To = l.Service
		link.Listen = "${link:" + l.Name + "}"
		if l.Host {
			link.HostAddr = r.hostAddr(linkPort[l.Name])
		}
		r.links[l.Name] = link
	}
	return nil
}

// waitToxiproxy waits until the system's toxiproxy answers on 127.0.0.1
// with no proxy yet: a NodePort answers only once kube-proxy has
// programmed it (about a second after the Service is created), and a
// NodePort freed by a system just deleted may still lead to that system's
// toxiproxy, which has proxies.
func waitToxiproxy(ctx context.Context, tc *toxiproxy.Client, api string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, err := tc.Proxies()
		if err == nil && len(all) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("it holds proxies %v of another system", sortedKeys(all))
			}
			return fmt.Errorf("%w: the toxiproxy pod's API at %s: %w", ErrNotReady, api, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// forwardToxiproxy opens the port-forward to the toxiproxy pod: its API
// and the host links' ports.
func (r *Running) forwardToxiproxy(ctx context.Context, linkPort map[string]int) error {
	c, sys := r.Cluster, r.System
	pods, err := c.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelComponent + "=toxiproxy"})
	if err != nil {
		return fmt.Errorf("find the toxiproxy pod: %w", err)
	}
	var pod string
	for i := range pods.Items {
		if podReady(&pods.Items[i]) {
			pod = pods.Items[i].Name
		}
	}
	if pod == "" {
		return fmt.Errorf("%w: no ready toxiproxy pod", ErrNotReady)
	}
	remote := []int{toxiproxyAPIPort}
	for _, l := range sys.Links {
		if l.Host {
			remote = append(remote, linkPort[l.Name])
		}
	}
	r.fwd, err = c.forward(ctx, r.Namespace, pod, remote)
	return err
}

// Link returns the named link: faults.Latency(r.Link("api"), ...) and every
// other toxic act on it as on Docker.
func (r *Running) Link(name string) (*scenarios.Link, error) {
	if l, ok := r.links[name]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("kube: system %s has no link %q (links: %v)", r.System.Name, name, sortedKeys(r.links))
}

// MustLink is Link that panics on an unknown name.
func (r *Running) MustLink(name string) *scenarios.Link {
	l, err := r.Link(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Close tears the system down: the port-forward, the links' toxics, and
// the namespace Start created (or, in a user's namespace, the objects it
// created), waiting until they are gone (up to a minute). Idempotent.
func (r *Running) Close(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.closeOnce.Do(func() {
		if r.unregister != nil {
			r.unregister()
		}
		var errs []error
		if r.attached != nil {
			if err := r.attached.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if r.fwd != nil {
			r.fwd.Close()
		}
		errs = append(errs, r.deleteAll(ctx))
		releaseNodePorts(r.nodePorts)
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

func (r *Running) deleteAll(ctx context.Context) error {
	c := r.Cluster
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	fg := metav1.DeletePropagationForeground
	zero := int64(0)
	if r.ownNS {
		err := c.Client.CoreV1().Namespaces().Delete(ctx, r.Namespace, metav1.DeleteOptions{PropagationPolicy: &fg, GracePeriodSeconds: &zero})
		if err != nil && !isGone(err) {
			return fmt.Errorf("delete namespace %s: %w (kubectl delete namespace %s)", r.Namespace, err, r.Namespace)
		}
		for {
			_, err := c.Client.CoreV1().Namespaces().Get(ctx, r.Namespace, metav1.GetOptions{})
			if isGone(err) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("namespace %s still there after a minute (kubectl get all -n %s)", r.Namespace, r.Namespace)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	var errs []error
	for _, u := range slices.Backward(r.objects) {
		res, err := c.resourceOf(u.GroupVersionKind())
		if err == nil {
			err = c.Dynamic.Resource(res).Namespace(r.Namespace).Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &fg})
		}
		if err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("delete %s %s/%s: %w", u.GetKind(), r.Namespace, u.GetName(), err))
		}
	}
	// Wait until they are gone (foreground deletion: their pods first).
	for _, u := range r.objects {
		res, err := c.resourceOf(u.GroupVersionKind())
		if err != nil {
			continue
		}
		for {
			_, err := c.Dynamic.Resource(res).Namespace(r.Namespace).Get(ctx, u.GetName(), metav1.GetOptions{})
			if isGone(err) {
				break
			}
			select {
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("%s %s/%s still there after a minute (kubectl get -n %s %s %s)", u.GetKind(), r.Namespace, u.GetName(), r.Namespace, res.Resource, u.GetName()))
			case <-time.After(200 * time.Millisecond):
				continue
			}
			break
		}
	}
	return errors.Join(errs...)
}

func noPlaceholders(kind, name string) (string, error) {
	return "", fmt.Errorf("not expected here")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// toxiproxyManifest is the toxiproxy Deployment and Service of a system:
// one pod, on the control plane's node of firedrill's own cluster (node
// faults never touch it), its API and one port per link.
func toxiproxyManifest(sys System, node string, nodePorts map[int]int) string {
	var ports strings.Builder
	port := func(name string, p int) {
		if np, ok := nodePorts[p]; ok {
			fmt.Fprintf(&ports, "  - {name: %s, port: %d, nodePort: %d}\n", name, p, np)
		} else {
			fmt.Fprintf(&ports, "  - {name: %s, port: %d}\n", name, p)
		}
	}
	port("api", toxiproxyAPIPort)
	for i := range sys.Links {
		port(fmt.Sprintf("link-%d", i), linkPortBase+i)
	}
	svcType := "ClusterIP"
	if len(nodePorts) > 0 {
		svcType = "NodePort"
	}
	pin := ""
	if node != "" {
		pin = fmt.Sprintf("      nodeSelector: {kubernetes.io/hostname: %s}\n", node) +
			"      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]\n"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {%[2]s: toxiproxy}}
  template:
    metadata: {labels: {%[2]s: toxiproxy}}
    spec:
%[3]s      terminationGracePeriodSeconds: 0
      containers:
      - name: toxiproxy
        image: %[4]s
        imagePullPolicy: IfNotPresent
        ports: [{containerPort: %[5]d}]
        readinessProbe: {tcpSocket: {port: %[5]d}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  type: %[7]s
  selector: {%[2]s: toxiproxy}
  ports:
%[6]s`, toxiproxyName, LabelComponent, pin, sys.ToxiproxyImage, toxiproxyAPIPort, ports.String(), svcType)
}
