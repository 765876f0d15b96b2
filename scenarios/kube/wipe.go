package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations the faults leave on what they change, so that Wipe can put
// back what a killed test process (kill -9: nothing of it runs) left.
const (
	// AnnotationCordoned is on a node firedrill cordoned; its value is the
	// run id.
	AnnotationCordoned = "firedrill.cordoned"
	// AnnotationReplicasBefore is on a workload firedrill scaled: the
	// replicas it had.
	AnnotationReplicasBefore = "firedrill.replicas-before"
	// AnnotationResourcesBefore is on a workload whose container resources
	// firedrill changed: {"container": ..., "resources": ...} as JSON.
	AnnotationResourcesBefore = "firedrill.resources-before"
)

// Annotate sets (value != "") or removes (value == "") an annotation of
// the workload, after the scope check.
func (w *Workload) Annotate(ctx context.Context, key, value string) error {
	st, err := w.status(ctx)
	if err != nil {
		return err
	}
	if err := w.c.check(w.Kind, w.Namespace, w.Name, st.labels); err != nil {
		return err
	}
	return w.annotate(ctx, key, value)
}

func (w *Workload) annotate(ctx context.Context, key, value string) error {
	var v any = value
	if value == "" {
		v = nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: v}}})
	if err != nil {
		return err
	}
	switch w.Kind {
	case "Deployment":
		_, err = w.c.Client.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "firedrill"})
	case "StatefulSet":
		_, err = w.c.Client.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "firedrill"})
	default:
		err = fmt.Errorf("workload kind %q", w.Kind)
	}
	if err != nil {
		return fmt.Errorf("annotate %s: %w", w, err)
	}
	return nil
}

// Wiped is what Wipe removed or put back.
type Wiped struct {
	Namespaces []string // deleted (firedrill's own, labelled firedrill=true)
	Objects    []string // deleted from listed namespaces ("Kind ns/name")
	Restored   []string // put back: "uncordoned node-1", "scaled ns/api to 3", ...
}

// Wipe puts the cluster back after a test process that could not clean
// up (kill -9): within the scope, it deletes the namespaces firedrill
// created (labelled firedrill=true, named fd-...) and the objects it
// created in the listed namespaces (labelled firedrill=true), uncordons
// the nodes it cordoned, scales back the workloads it scaled and puts back
// the resources it changed (its annotations say what they were); on
// firedrill's own cluster it also removes every partition rule from the
// nodes and starts node containers that are stopped. What it cannot do is
// returned as an error naming it; the rest is still done.
func Wipe(ctx context.Context, c *Cluster) (Wiped, error) {
	var out Wiped
	var errs []error
	sel := LabelFiredrill + "=true"
	nss, err := c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return out, fmt.Errorf("kube wipe: list namespaces: %w", err)
	}
	for _, ns := range nss.Items {
		if !strings.HasPrefix(ns.Name, "fd-") || (c.own == nil && !c.scope.CreateNamespaces) {
			continue
		}
		if err := c.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", ns.Name, err))
			continue
		}
		out.Namespaces = append(out.Namespaces, ns.Name)
	}
	for _, ns := range c.scope.Namespaces {
		out.Objects = append(out.Objects, c.wipeObjects(ctx, ns, &errs)...)
		out.Restored = append(out.Restored, c.wipeWorkloads(ctx, ns, &errs)...)
	}
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		errs = append(errs, fmt.Errorf("list nodes: %w", err))
	} else {
		for _, n := range nodes.Items {
			if _, ok := n.Annotations[AnnotationCordoned]; !ok || c.checkNode(n.Name) != nil {
				continue
			}
			if err := c.Node(n.Name).SetUnschedulable(ctx, false); err != nil {
				errs = append(errs, err)
				continue
			}
			out.Restored = append(out.Restored, "uncordoned "+n.Name)
		}
	}
	if c.own != nil {
		out.Restored = append(out.Restored, c.wipeNodes(ctx, &errs)...)
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("kube wipe: %w", err)
	}
	return out, nil
}

// wiped are the kinds of object Wipe deletes from a listed namespace.
var wiped = []struct {
	kind string
	res  schema.GroupVersionResource
}{
	{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	{"StatefulSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}},
	{"DaemonSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}},
	{"Pod", schema.GroupVersionResource{Version: "v1", Resource: "pods"}},
	{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
	{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}},
}

// wipeObjects deletes the objects labelled firedrill=true in a listed
// namespace (what Start created in a user's namespace). Pods a controller
// owns go with it.
func (c *Cluster) wipeObjects(ctx context.Context, ns string, errs *[]error) []string {
	var out []string
	fg := metav1.DeletePropagationForeground
	for _, k := range wiped {
		l, err := c.Dynamic.Resource(k.res).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelFiredrill + "=true"})
		if err != nil {
			*errs = append(*errs, fmt.Errorf("list %s in %s: %w", k.res.Resource, ns, err))
			continue
		}
		for _, o := range l.Items {
			if k.kind == "Pod" && len(o.GetOwnerReferences()) > 0 {
				continue
			}
			err := c.Dynamic.Resource(k.res).Namespace(ns).Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &fg})
			if err != nil && !isGone(err) {
				*errs = append(*errs, fmt.Errorf("delete %s %s/%s: %w", k.kind, ns, o.GetName(), err))
				continue
			}
			out = append(out, k.kind+" "+ns+"/"+o.GetName())
		}
	}
	return out
}

// wipeWorkloads scales back and restores the resources of the workloads
// in ns whose annotations say firedrill changed them.
func (c *Cluster) wipeWorkloads(ctx context.Context, ns string, errs *[]error) []string {
	var out []string
	var ws []*Workload
	var anns []map[string]string
	ds, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		*errs = append(*errs, fmt.Errorf("list Deployments in %s: %w", ns, err))
		return nil
	}
	for _, d := range ds.Items {
		ws, anns = append(ws, c.Workload("Deployment", ns, d.Name)), append(anns, d.Annotations)
	}
	sts, err := c.Client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, s := range sts.Items {
			ws, anns = append(ws, c.Workload("StatefulSet", ns, s.Name)), append(anns, s.Annotations)
		}
	}
	for i, w := range ws {
		if v, ok := anns[i][AnnotationResourcesBefore]; ok {
			var rb struct {
				Container string                      `json:"container"`
				Resources corev1.ResourceRequirements `json:"resources"`
			}
			if err := json.Unmarshal([]byte(v), &rb); err != nil {
				*errs = append(*errs, fmt.Errorf("%s: annotation %s: %w", w, AnnotationResourcesBefore, err))
			} else if err := w.SetResources(ctx, rb.Container, rb.Resources); err != nil {
				*errs = append(*errs, err)
			} else if err := w.annotate(ctx, AnnotationResourcesBefore, ""); err != nil {
				*errs = append(*errs, err)
			} else {
				out = append(out, "put back the resources of "+w.String())
			}
		}
		if v, ok := anns[i][AnnotationReplicasBefore]; ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				*errs = append(*errs, fmt.Errorf("%s: annotation %s=%q: %w", w, AnnotationReplicasBefore, v, err))
			} else if err := w.Scale(ctx, int32(n)); err != nil {
				*errs = append(*errs, err)
			} else if err := w.annotate(ctx, AnnotationReplicasBefore, ""); err != nil {
				*errs = append(*errs, err)
			} else {
				out = append(out, fmt.Sprintf("scaled %s back to %d", w, n))
			}
		}
	}
	return out
}

// wipeNodes removes partition rules from the nodes of firedrill's own
// cluster and starts node containers that are stopped.
func (c *Cluster) wipeNodes(ctx context.Context, errs *[]error) []string {
	var out []string
	for _, name := range c.NodeNames() {
		id := c.own.nodes[name]
		ins, err := c.own.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			*errs = append(*errs, fmt.Errorf("inspect node %s: %w", name, err))
			continue
		}
		if !ins.Container.State.Running {
			if _, err := c.own.docker.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
				*errs = append(*errs, fmt.Errorf("start node %s: %w", name, err))
				continue
			}
			out = append(out, "started node "+name)
			continue // a new start has no rules
		}
		code, rules, err := c.nodeExec(ctx, name, "iptables", "-w", "5", "-S")
		if err == nil && code != 0 {
			err = fmt.Errorf("exit code %d", code)
		}
		if err != nil {
			*errs = append(*errs, fmt.Errorf("read the iptables rules of node %s: %w", name, err))
			continue
		}
		n := 0
		for _, r := range strings.Split(rules, "\n") {
			if !strings.Contains(r, "firedrill-partition") || !strings.HasPrefix(r, "-A ") {
				continue
			}
			args := []string{"iptables", "-w", "5", "-D"}
			for _, f := range strings.Fields(strings.TrimPrefix(r, "-A ")) {
				args = append(args, strings.Trim(f, `"`))
			}
			if code, o, err := c.nodeExec(ctx, name, args...); err != nil || code != 0 {
				*errs = append(*errs, fmt.Errorf("node %s: %s: %w %s", name, strings.Join(args, " "), errors.Join(err, fmt.Errorf("exit code %d", code)), o))
				continue
			}
			n++
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("removed %d partition rules from node %s", n, name))
		}
	}
	return out
}
