package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// fatalWaiting are container states that do not resolve by waiting: the
// wait fails at once with the pod's events and log.
var fatalWaiting = []string{
	"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff", "RunContainerError",
}

// workload names a workload whose readiness a system waits for.
type workload struct{ kind, name string }

// waitReady waits until every workload in ns is ready: Deployments and
// StatefulSets with all replicas updated and available (ready, for a
// StatefulSet), DaemonSets with every scheduled pod available, bare pods
// Ready. It is driven by a watch on the namespace's pods and workloads
// (each change re-reads them) and fails fast when a container cannot
// start, with the pod's events and the last lines of its log.
func (c *Cluster) waitReady(ctx context.Context, ns string, ws []workload, timeout time.Duration) error {
	if len(ws) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	changes := make(chan struct{}, 1)
	kick := func() {
		select {
		case changes <- struct{}{}:
		default:
		}
	}
	for _, open := range []func() (watch.Interface, error){
		func() (watch.Interface, error) { return c.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{}) },
		func() (watch.Interface, error) {
			return c.Client.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
		},
		func() (watch.Interface, error) {
			return c.Client.AppsV1().StatefulSets(ns).Watch(ctx, metav1.ListOptions{})
		},
	} {
		w, err := open()
		if err != nil {
			return fmt.Errorf("watch namespace %s: %w", ns, err)
		}
		defer w.Stop()
		go func() {
			for range w.ResultChan() {
				kick()
			}
		}()
	}
	kick()
	tick := time.NewTicker(time.Second) // a watch may end early; re-read anyway
	defer tick.Stop()
	var pending []string
	for {
		select {
		case <-changes:
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("%w after %s in namespace %s: %s\n%s", ErrNotReady, timeout, ns, strings.Join(pending, "; "), c.diagnose(context.WithoutCancel(ctx), ns, ""))
		}
		var err error
		pending, err = c.pending(ctx, ns, ws)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		if pod, reason := c.stuckPod(ctx, ns); pod != "" {
			return fmt.Errorf("%w: pod %s/%s cannot start: %s\n%s", ErrNotReady, ns, pod, reason, c.diagnose(context.WithoutCancel(ctx), ns, pod))
		}
	}
}

// pending lists the workloads not ready yet, each with what it lacks.
func (c *Cluster) pending(ctx context.Context, ns string, ws []workload) ([]string, error) {
	var out []string
	for _, w := range ws {
		var why string
		switch w.kind {
		case "Deployment":
			d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("read Deployment %s/%s: %w", ns, w.name, err)
			}
			why = deploymentPending(d)
		case "StatefulSet":
			s, err := c.Client.AppsV1().StatefulSets(ns).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("read StatefulSet %s/%s: %w", ns, w.name, err)
			}
			want := int32(1)
			if s.Spec.Replicas != nil {
				want = *s.Spec.Replicas
			}
			if s.Status.ObservedGeneration < s.Generation || s.Status.ReadyReplicas < want || s.Status.UpdatedReplicas < want {
				why = fmt.Sprintf("%d/%d ready", s.Status.ReadyReplicas, want)
			}
		case "DaemonSet":
			d, err := c.Client.AppsV1().DaemonSets(ns).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("read DaemonSet %s/%s: %w", ns, w.name, err)
			}
			if d.Status.ObservedGeneration < d.Generation || d.Status.DesiredNumberScheduled == 0 || d.Status.NumberAvailable < d.Status.DesiredNumberScheduled {
				why = fmt.Sprintf("%d/%d available", d.Status.NumberAvailable, d.Status.DesiredNumberScheduled)
			}
		case "Pod":
			p, err := c.Client.CoreV1().Pods(ns).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("read Pod %s/%s: %w", ns, w.name, err)
			}
			if !podReady(p) {
				why = "not Ready (" + string(p.Status.Phase) + ")"
			}
		}
		if why != "" {
			out = append(out, w.kind+" "+w.name+": "+why)
		}
	}
	return out, nil
}

func deploymentPending(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	if st.ObservedGeneration < d.Generation || st.UpdatedReplicas < want || st.AvailableReplicas < want || st.Replicas > want {
		return fmt.Sprintf("%d/%d available, %d updated", st.AvailableReplicas, want, st.UpdatedReplicas)
	}
	return ""
}

// podReady reports the pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// stuckPod finds a pod of ns whose container waits for a reason that does
// not resolve by waiting.
func (c *Cluster) stuckPod(ctx context.Context, ns string) (pod, reason string) {
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", ""
	}
	for _, p := range pods.Items {
		for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			if w := cs.State.Waiting; w != nil && slices.Contains(fatalWaiting, w.Reason) {
				msg := w.Reason
				if w.Message != "" {
					msg += ": " + w.Message
				}
				if w.Reason == "ErrImageNeverPull" {
					msg += " (the image is not in the nodes: list it in System.Images, which loads it from the local Docker store; make images builds firedrill's)"
				}
				return p.Name, "container " + cs.Name + ": " + msg
			}
		}
	}
	return "", ""
}

// diagnose is the namespace's pods (or one pod), their recent events and
// the last lines of each container's log.
func (c *Cluster) diagnose(ctx context.Context, ns, only string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var b strings.Builder
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "(pods not readable: " + err.Error() + ")"
	}
	for _, p := range pods.Items {
		if only != "" && p.Name != only {
			continue
		}
		fmt.Fprintf(&b, "pod %s on %s: %s\n", p.Name, orDash(p.Spec.NodeName), p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			fmt.Fprintf(&b, "  container %s: %s, restarts %d\n", cs.Name, stateOf(cs.State), cs.RestartCount)
			tail := int64(10)
			raw, err := c.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: cs.Name, TailLines: &tail}).DoRaw(ctx)
			if err == nil && len(raw) > 0 {
				b.WriteString(indent(string(raw), "    log: "))
			}
		}
	}
	evs, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		items := evs.Items
		sort.Slice(items, func(i, j int) bool { return items[i].LastTimestamp.Before(&items[j].LastTimestamp) })
		if len(items) > 20 {
			items = items[len(items)-20:]
		}
		for _, e := range items {
			if only != "" && e.InvolvedObject.Name != only {
				continue
			}
			fmt.Fprintf(&b, "event %s %s/%s: %s: %s\n", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func stateOf(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Waiting != nil:
		return "waiting: " + s.Waiting.Reason
	case s.Terminated != nil:
		return fmt.Sprintf("terminated: %s (exit %d)", s.Terminated.Reason, s.Terminated.ExitCode)
	}
	return "unknown"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
