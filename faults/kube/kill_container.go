package kube

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/firedrill/firedrill/faults"
	kube "github.com/firedrill/firedrill/scenarios/kube"
)

// KillContainerFault kills a pod's container through the node's runtime;
// see KillContainer.
type KillContainerFault struct {
	receipt
	target    any
	container string
	signal    string

	mu     sync.Mutex
	pod    corev1.Pod
	chosen bool
}

var (
	_ faults.Fault     = (*KillContainerFault)(nil)
	_ faults.Resolver  = (*KillContainerFault)(nil)
	_ faults.Onsetter  = (*KillContainerFault)(nil)
	_ faults.Validator = (*KillContainerFault)(nil)
)

// KillContainer sends SIGKILL to container ("" = the pod's first) of a
// pod of target (a *kube.Workload or *kube.Pods), chosen when the fault
// fires (the oldest ready one), through containerd on the pod's node: the
// pod stays, the kubelet sees the exit and restarts the container (with
// restartPolicy Always or OnFailure). Firedrill's own cluster only.
//
// Onset: from the call being sent to the receipt of the watch event in
// which the kubelet reports the container's exit (its restart count
// grown, or its state no longer running).
func KillContainer(target any, container string) *KillContainerFault {
	return &KillContainerFault{target: target, container: container, signal: "SIGKILL", receipt: receipt{what: "container exit reported"}}
}

// Signal is f with another signal ("SIGTERM").
func (f *KillContainerFault) Signal(sig string) *KillContainerFault {
	return &KillContainerFault{target: f.target, container: f.container, signal: sig, receipt: receipt{what: "container exit reported"}}
}

// Name is "kill-container(<ns>/<pod>/<container> of <target>, SIGKILL)".
func (f *KillContainerFault) Name() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	what := fmt.Sprint(f.target)
	if src, err := source(f.target); err == nil {
		what = src.String()
	}
	if f.chosen {
		what = f.pod.Namespace + "/" + f.pod.Name + "/" + f.container + " of " + what
	} else if f.container != "" {
		what += " container " + f.container
	}
	return fmt.Sprintf("kill-container(%s, %s)", what, f.signal)
}

// Validate checks the target.
func (f *KillContainerFault) Validate() error {
	src, err := source(f.target)
	if err != nil {
		return fmt.Errorf("kill-container: %w: %w", faults.ErrNoTarget, err)
	}
	if !src.Cluster().Own() {
		return fmt.Errorf("kill-container %s: %w", src, kube.ErrNotOwnNode)
	}
	return nil
}

// Resolve chooses the pod and its container.
func (f *KillContainerFault) Resolve(ctx context.Context) error {
	src, err := source(f.target)
	if err != nil {
		return err
	}
	p, err := pick(ctx, src)
	if err != nil {
		return err
	}
	name := f.container
	if name == "" && len(p.Spec.Containers) > 0 {
		name = p.Spec.Containers[0].Name
	}
	if _, ok := containerStatus(&p, name); !ok {
		return fmt.Errorf("kill-container: pod %s/%s has no container %q", p.Namespace, p.Name, name)
	}
	f.mu.Lock()
	f.pod, f.container, f.chosen = p, name, true
	f.mu.Unlock()
	return nil
}

func containerStatus(p *corev1.Pod, name string) (corev1.ContainerStatus, bool) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name {
			return cs, true
		}
	}
	return corev1.ContainerStatus{}, false
}

// Inject kills the container and waits for the kubelet's report of it.
func (f *KillContainerFault) Inject(ctx context.Context) error {
	f.mu.Lock()
	chosen := f.chosen
	f.mu.Unlock()
	if !chosen {
		if err := f.Resolve(ctx); err != nil {
			return err
		}
	}
	f.mu.Lock()
	p, name, sig := f.pod, f.container, f.signal
	f.mu.Unlock()
	src, _ := source(f.target)
	c := src.Cluster()
	before, _ := containerStatus(&p, name)
	w, err := openPodWatch(ctx, c, p.Namespace, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", p.Name).String(), ResourceVersion: p.ResourceVersion})
	if err != nil {
		return err
	}
	if err := c.Pods(p.Namespace, "").KillContainer(ctx, p, name, sig); err != nil {
		w.w.Stop()
		return err
	}
	at, err := w.until(ctx, func(t watch.EventType, got *corev1.Pod) bool {
		if t == watch.Deleted {
			return true
		}
		cs, ok := containerStatus(got, name)
		return ok && (cs.RestartCount > before.RestartCount || cs.State.Running == nil || cs.ContainerID != before.ContainerID)
	})
	if err != nil {
		return fmt.Errorf("kill-container %s/%s/%s: killed, but the kubelet's report of it was not seen: %w", p.Namespace, p.Name, name, err)
	}
	f.set(at)
	return nil
}

// Revert does nothing: the kubelet restarts the container.
func (f *KillContainerFault) Revert(context.Context) error { return nil }
