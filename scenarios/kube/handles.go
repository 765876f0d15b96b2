package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/firedrill/firedrill/scenarios"
)

// Workload is a typed handle on a Deployment or StatefulSet.
type Workload struct {
	c               *Cluster
	Kind            string // "Deployment" or "StatefulSet"
	Namespace, Name string
}

// Deployment is the handle of a Deployment of the system.
func (r *Running) Deployment(name string) *Workload {
	return &Workload{c: r.Cluster, Kind: "Deployment", Namespace: r.Namespace, Name: name}
}

// StatefulSet is the handle of a StatefulSet of the system.
func (r *Running) StatefulSet(name string) *Workload {
	return &Workload{c: r.Cluster, Kind: "StatefulSet", Namespace: r.Namespace, Name: name}
}

// Workload is the handle of a workload in any namespace of the cluster
// (acting on it is checked against the scope).
func (c *Cluster) Workload(kind, ns, name string) *Workload {
	return &Workload{c: c, Kind: kind, Namespace: ns, Name: name}
}

// String is "Deployment ns/name".
func (w *Workload) String() string { return w.Kind + " " + w.Namespace + "/" + w.Name }

// Cluster is the cluster the workload is on.
func (w *Workload) Cluster() *Cluster { return w.c }

// status is the workload's selector, labels, desired and available
// replicas.
type status struct {
	selector        *metav1.LabelSelector
	labels          map[string]string
	want, available int32
	ready, updated  int32
	generation      int64
	observed        int64
	template        corev1.PodTemplateSpec
}

func (w *Workload) status(ctx context.Context) (status, error) {
	switch w.Kind {
	case "Deployment":
		d, err := w.c.Client.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return status{}, fmt.Errorf("read %s: %w", w, err)
		}
		return status{d.Spec.Selector, d.Labels, replicas(d.Spec.Replicas), d.Status.AvailableReplicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Generation, d.Status.ObservedGeneration, d.Spec.Template}, nil
	case "StatefulSet":
		s, err := w.c.Client.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return status{}, fmt.Errorf("read %s: %w", w, err)
		}
		return status{s.Spec.Selector, s.Labels, replicas(s.Spec.Replicas), s.Status.AvailableReplicas, s.Status.ReadyReplicas, s.Status.UpdatedReplicas, s.Generation, s.Status.ObservedGeneration, s.Spec.Template}, nil
	}
	return status{}, fmt.Errorf("workload kind %q: firedrill handles Deployment and StatefulSet", w.Kind)
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// Selector is the workload's pod selector, as a string.
func (w *Workload) Selector(ctx context.Context) (string, error) {
	st, err := w.status(ctx)
	if err != nil {
		return "", err
	}
	sel, err := metav1.LabelSelectorAsSelector(st.selector)
	if err != nil {
		return "", fmt.Errorf("%s: selector: %w", w, err)
	}
	return sel.String(), nil
}

// Pods lists the workload's pods, oldest first.
func (w *Workload) Pods(ctx context.Context) ([]corev1.Pod, error) {
	sel, err := w.Selector(ctx)
	if err != nil {
		return nil, err
	}
	return w.c.Pods(w.Namespace, sel).List(ctx)
}

// Replicas is the workload's desired replica count.
func (w *Workload) Replicas(ctx context.Context) (int32, error) {
	st, err := w.status(ctx)
	return st.want, err
}

// Available is the workload's available replicas (ready for
// minReadySeconds), as its controller last recorded it.
func (w *Workload) Available(ctx context.Context) (int32, error) {
	st, err := w.status(ctx)
	return st.available, err
}

// Scale sets the desired replica count (through the scale subresource),
// after the scope check.
func (w *Workload) Scale(ctx context.Context, n int32) error {
	st, err := w.status(ctx)
	if err != nil {
		return err
	}
	if err := w.c.check(w.Kind, w.Namespace, w.Name, st.labels); err != nil {
		return err
	}
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
	switch w.Kind {
	case "Deployment":
		_, err = w.c.Client.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "firedrill"}, "scale")
	default:
		_, err = w.c.Client.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "firedrill"}, "scale")
	}
	if err != nil {
		return fmt.Errorf("scale %s to %d: %w", w, n, err)
	}
	return nil
}

// Resources returns the resources of the pod template's container
// (the first one when container is empty).
func (w *Workload) Resources(ctx context.Context, container string) (corev1.ResourceRequirements, error) {
	st, err := w.status(ctx)
	if err != nil {
		return corev1.ResourceRequirements{}, err
	}
	for _, ct := range st.template.Spec.Containers {
		if container == "" || ct.Name == container {
			return ct.Resources, nil
		}
	}
	return corev1.ResourceRequirements{}, fmt.Errorf("%s has no container %q", w, container)
}

// SetResources replaces the resources of the pod template's container (a
// rollout follows), after the scope check.
func (w *Workload) SetResources(ctx context.Context, container string, res corev1.ResourceRequirements) error {
	st, err := w.status(ctx)
	if err != nil {
		return err
	}
	if err := w.c.check(w.Kind, w.Namespace, w.Name, st.labels); err != nil {
		return err
	}
	name := container
	if name == "" && len(st.template.Spec.Containers) > 0 {
		name = st.template.Spec.Containers[0].Name
	}
	// A strategic merge patch keyed by the container's name; null clears.
	body := map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []any{map[string]any{"name": name, "resources": map[string]any{"limits": nilIfEmpty(res.Limits), "requests": nilIfEmpty(res.Requests)}}},
	}}}}
	patch, err := json.Marshal(body)
	if err != nil {
		return err
	}
	switch w.Kind {
	case "Deployment":
		_, err = w.c.Client.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "firedrill"})
	default:
		_, err = w.c.Client.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "firedrill"})
	}
	if err != nil {
		return fmt.Errorf("set the resources of %s container %s: %w", w, name, err)
	}
	return nil
}

func nilIfEmpty(l corev1.ResourceList) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

// WaitAvailable waits until the workload has all its replicas updated and
// available (watching it), up to timeout.
func (w *Workload) WaitAvailable(ctx context.Context, timeout time.Duration) error {
	return w.c.waitReady(ctx, w.Namespace, []workload{{w.Kind, w.Name}}, timeout)
}

// Pods is a typed handle on the pods of a namespace matching a selector.
type Pods struct {
	c                   *Cluster
	Namespace, Selector string
}

// Pods is the handle of the pods of ns matching selector ("" = all).
func (c *Cluster) Pods(ns, selector string) *Pods {
	return &Pods{c: c, Namespace: ns, Selector: selector}
}

// Pods is the handle of the system's pods matching selector.
func (r *Running) Pods(selector string) *Pods { return r.Cluster.Pods(r.Namespace, selector) }

// String is "pods ns/selector".
func (p *Pods) String() string { return "pods " + p.Namespace + "/" + p.Selector }

// Cluster is the cluster the pods are on.
func (p *Pods) Cluster() *Cluster { return p.c }

// List lists the pods, oldest first, pods being deleted included.
func (p *Pods) List(ctx context.Context) ([]corev1.Pod, error) {
	l, err := p.c.Client.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: p.Selector})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	pods := l.Items
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp) })
	return pods, nil
}

// Ready counts the ready pods (Ready condition true, not being deleted).
func (p *Pods) Ready(ctx context.Context) (int, error) {
	pods, err := p.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range pods {
		if podReady(&pods[i]) {
			n++
		}
	}
	return n, nil
}

// Delete deletes a pod with the given grace period (0: at once), after the
// scope check.
func (p *Pods) Delete(ctx context.Context, pod corev1.Pod, grace int64) error {
	if err := p.c.check("Pod", pod.Namespace, pod.Name, pod.Labels); err != nil {
		return err
	}
	err := p.c.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !isGone(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// Service is a typed handle on a Service.
type Service struct {
	c               *Cluster
	Namespace, Name string
}

// Service is the handle of a Service of the system.
func (r *Running) Service(name string) *Service {
	return &Service{c: r.Cluster, Namespace: r.Namespace, Name: name}
}

// String is "Service ns/name".
func (s *Service) String() string { return "Service " + s.Namespace + "/" + s.Name }

// ReadyEndpoints counts the Service's ready endpoints (addresses of its
// EndpointSlices whose ready condition is true), as the EndpointSlice
// controller last recorded them.
func (s *Service) ReadyEndpoints(ctx context.Context) (int, error) {
	l, err := s.c.Client.DiscoveryV1().EndpointSlices(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + s.Name})
	if err != nil {
		return 0, fmt.Errorf("read the endpoints of %s: %w", s, err)
	}
	n := 0
	for _, sl := range l.Items {
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				n += len(e.Addresses)
			}
		}
	}
	return n, nil
}

// Node is a typed handle on a node.
type Node struct {
	c    *Cluster
	Name string
}

// Node is the handle of a node.
func (c *Cluster) Node(name string) *Node { return &Node{c: c, Name: name} }

// String is "node NAME".
func (n *Node) String() string { return "node " + n.Name }

// Cluster is the cluster the node belongs to.
func (n *Node) Cluster() *Cluster { return n.c }

// Ready reports the node's Ready condition.
func (n *Node) Ready(ctx context.Context) (bool, error) {
	node, err := n.c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("read node %s: %w", n.Name, err)
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue, nil
		}
	}
	return false, nil
}

// WaitReady waits until the node is Ready, up to timeout.
func (n *Node) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := n.Ready(ctx)
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("its Ready condition is not True")
			}
			return fmt.Errorf("%w: node %s not Ready after %s: %w", ErrNotReady, n.Name, timeout, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Unschedulable reports whether the node is cordoned.
func (n *Node) Unschedulable(ctx context.Context) (bool, error) {
	node, err := n.c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("read node %s: %w", n.Name, err)
	}
	return node.Spec.Unschedulable, nil
}

// SetUnschedulable cordons (true) or uncordons (false) the node, after the
// scope check.
func (n *Node) SetUnschedulable(ctx context.Context, on bool) error {
	if err := n.c.checkNode(n.Name); err != nil {
		return err
	}
	// The annotation marks a cordon as firedrill's, for Wipe.
	mark := "null"
	if on {
		mark = strconv.Quote(scenarios.RunID())
	}
	patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t},"metadata":{"annotations":{%q:%s}}}`, on, AnnotationCordoned, mark)
	if _, err := n.c.Client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "firedrill"}); err != nil {
		return fmt.Errorf("cordon node %s (%t): %w", n.Name, on, err)
	}
	return nil
}

// Evict evicts (policy/v1 Eviction, which honours PodDisruptionBudgets)
// the node's pods in the scope's namespaces that match its selector, and
// returns the pods it evicted. Pods of other namespaces stay: a drill acts
// only within its scope.
func (n *Node) Evict(ctx context.Context) ([]string, error) {
	if err := n.c.checkNode(n.Name); err != nil {
		return nil, err
	}
	l, err := n.c.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
	if err != nil {
		return nil, fmt.Errorf("list the pods of node %s: %w", n.Name, err)
	}
	var evicted []string
	for _, p := range l.Items {
		if p.DeletionTimestamp != nil || n.c.check("Pod", p.Namespace, p.Name, p.Labels) != nil {
			continue
		}
		if p.Labels[LabelComponent] == "toxiproxy" {
			continue
		}
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
		if err := n.c.Client.CoreV1().Pods(p.Namespace).EvictV1(ctx, ev); err != nil && !isGone(err) {
			return evicted, fmt.Errorf("evict pod %s/%s from node %s: %w", p.Namespace, p.Name, n.Name, err)
		}
		evicted = append(evicted, p.Namespace+"/"+p.Name)
	}
	slices.Sort(evicted)
	return evicted, nil
}

// KillContainer sends signal (e.g. "SIGKILL") to a container of pod
// through the runtime of its node (`ctr tasks kill` in the node), after
// the scope check: the process dies as in a crash or an OOM kill, and the
// kubelet restarts it per the pod's restartPolicy. Only on firedrill's own
// cluster, whose nodes are containers here.
func (p *Pods) KillContainer(ctx context.Context, pod corev1.Pod, container, signal string) error {
	if err := p.c.check("Pod", pod.Namespace, pod.Name, pod.Labels); err != nil {
		return err
	}
	if p.c.own == nil {
		return fmt.Errorf("kill container of pod %s/%s: %w: use DeletePod on a user's cluster", pod.Namespace, pod.Name, ErrNotOwnNode)
	}
	id := ""
	for _, cs := range pod.Status.ContainerStatuses {
		if container == "" || cs.Name == container {
			id = cs.ContainerID
			container = cs.Name
			break
		}
	}
	const prefix = "containerd://"
	if len(id) <= len(prefix) || id[:len(prefix)] != prefix {
		return fmt.Errorf("kill container %q of pod %s/%s: no running containerd container (status %q)", container, pod.Namespace, pod.Name, id)
	}
	code, out, err := p.c.nodeExec(ctx, pod.Spec.NodeName, "ctr", "-n", "k8s.io", "tasks", "kill", "-s", signal, id[len(prefix):])
	if err != nil || code != 0 {
		if err == nil {
			err = fmt.Errorf("exit code %d", code)
		}
		return fmt.Errorf("kill container %s of pod %s/%s on node %s: %w: %s", container, pod.Namespace, pod.Name, pod.Spec.NodeName, err, out)
	}
	return nil
}
