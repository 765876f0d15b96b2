package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/firedrill/firedrill/faults"
)

// ErrNoController: a pod no controller owns; deleting it could not be
// reverted (nothing would replace it).
var ErrNoController = errors.New("pod has no controller")

// DeletePodFault deletes one pod of a workload; see DeletePod.
type DeletePodFault struct {
	receipt
	target any
	grace  int64

	mu     sync.Mutex
	pod    corev1.Pod
	chosen bool
}

var (
	_ faults.Fault     = (*DeletePodFault)(nil)
	_ faults.Resolver  = (*DeletePodFault)(nil)
	_ faults.Onsetter  = (*DeletePodFault)(nil)
	_ faults.Validator = (*DeletePodFault)(nil)
)

// DeletePod deletes a pod of target (a *kube.Workload or *kube.Pods)
// with no grace period: the kubelet kills its containers at once, as when
// a node's runtime loses it. The pod is chosen when the fault fires: the
// oldest ready one. Its controller (ReplicaSet, StatefulSet, ...) replaces
// it; Revert has nothing to put back. A pod no controller owns is refused
// (ErrNoController): nothing would bring it back.
//
// Onset: from the call being sent to the receipt of the watch event that
// shows the pod deleted.
func DeletePod(target any) *DeletePodFault {
	return &DeletePodFault{target: target, receipt: receipt{what: "pod deleted"}}
}

// Grace is f with a grace period (SIGTERM first, SIGKILL after it).
func (f *DeletePodFault) Grace(seconds int64) *DeletePodFault {
	return &DeletePodFault{target: f.target, grace: seconds, receipt: receipt{what: "pod deleted"}}
}

// Name is "delete-pod(<ns>/<pod> of <target>, grace 0s)".
func (f *DeletePodFault) Name() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	src, err := source(f.target)
	what := fmt.Sprint(f.target)
	if err == nil {
		what = src.String()
	}
	if f.chosen {
		what = f.pod.Namespace + "/" + f.pod.Name + " of " + what
	}
	return fmt.Sprintf("delete-pod(%s, grace %ds)", what, f.grace)
}

// Validate checks the target.
func (f *DeletePodFault) Validate() error {
	if _, err := source(f.target); err != nil {
		return fmt.Errorf("delete-pod: %w: %w", faults.ErrNoTarget, err)
	}
	if f.grace < 0 {
		return fmt.Errorf("delete-pod: %w: negative grace period", faults.ErrInvalid)
	}
	return nil
}

// Resolve chooses the pod, before the inject's bracket opens.
func (f *DeletePodFault) Resolve(ctx context.Context) error {
	src, err := source(f.target)
	if err != nil {
		return err
	}
	p, err := pick(ctx, src)
	if err != nil {
		return err
	}
	if metav1.GetControllerOf(&p) == nil {
		return fmt.Errorf("delete-pod %s/%s: %w: deleting it cannot be reverted; delete a pod of a Deployment or StatefulSet", p.Namespace, p.Name, ErrNoController)
	}
	f.mu.Lock()
	f.pod, f.chosen = p, true
	f.mu.Unlock()
	return nil
}

// Inject deletes the chosen pod and waits for the watch event of its
// deletion.
func (f *DeletePodFault) Inject(ctx context.Context) error {
	f.mu.Lock()
	p, chosen := f.pod, f.chosen
	f.mu.Unlock()
	if !chosen {
		if err := f.Resolve(ctx); err != nil {
			return err
		}
		f.mu.Lock()
		p = f.pod
		f.mu.Unlock()
	}
	src, _ := source(f.target)
	c := src.Cluster()
	w, err := openPodWatch(ctx, c, p.Namespace, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", p.Name).String(), ResourceVersion: p.ResourceVersion})
	if err != nil {
		return err
	}
	if err := c.Pods(p.Namespace, "").Delete(ctx, p, f.grace); err != nil {
		w.w.Stop()
		return err
	}
	at, err := w.until(ctx, func(t watch.EventType, got *corev1.Pod) bool {
		return got.UID == p.UID && (t == watch.Deleted || got.DeletionTimestamp != nil)
	})
	if err != nil {
		return fmt.Errorf("delete-pod %s/%s: deleted, but its deletion was not seen: %w", p.Namespace, p.Name, err)
	}
	f.set(at)
	return nil
}

// Revert does nothing: the pod's controller replaces it.
func (f *DeletePodFault) Revert(context.Context) error { return nil }
