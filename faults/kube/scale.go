package kube

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/firedrill/firedrill/faults"
	kube "github.com/firedrill/firedrill/scenarios/kube"
)

// ScaleFault scales a workload to zero; see ScaleToZero.
type ScaleFault struct {
	receipt
	w *kube.Workload

	mu     sync.Mutex
	before int32
	active bool
}

var (
	_ faults.Fault     = (*ScaleFault)(nil)
	_ faults.Onsetter  = (*ScaleFault)(nil)
	_ faults.Validator = (*ScaleFault)(nil)
)

// ScaleToZero scales w to 0 replicas: every pod terminates, as when an
// operator's mistake or a bad autoscaler does it. Revert scales it back
// to the replicas it had.
//
// Onset: from the call being sent to the receipt of the watch event in
// which the first of its pods is terminating.
func ScaleToZero(w *kube.Workload) *ScaleFault {
	return &ScaleFault{w: w, receipt: receipt{what: "first pod terminating"}}
}

// Name is "scale-to-zero(<workload>)".
func (f *ScaleFault) Name() string { return "scale-to-zero(" + fmt.Sprint(f.w) + ")" }

// Validate checks the target.
func (f *ScaleFault) Validate() error {
	if f.w == nil {
		return fmt.Errorf("scale-to-zero: %w", faults.ErrNoTarget)
	}
	return nil
}

// Inject records the replicas and scales to zero.
func (f *ScaleFault) Inject(ctx context.Context) error {
	n, err := f.w.Replicas(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("scale-to-zero %s: it has 0 replicas already: the fault would hit nothing", f.w)
	}
	sel, err := f.w.Selector(ctx)
	if err != nil {
		return err
	}
	pw, err := openPodWatch(ctx, f.w.Cluster(), f.w.Namespace, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return err
	}
	// Recorded on the workload first: a test killed with kill -9 leaves it
	// for kube.Wipe, which scales it back.
	if err := f.w.Annotate(ctx, kube.AnnotationReplicasBefore, strconv.Itoa(int(n))); err != nil {
		pw.w.Stop()
		return err
	}
	if err := f.w.Scale(ctx, 0); err != nil {
		pw.w.Stop()
		_ = f.w.Annotate(ctx, kube.AnnotationReplicasBefore, "")
		return err
	}
	f.mu.Lock()
	f.before, f.active = n, true
	f.mu.Unlock()
	at, err := pw.until(ctx, func(t watch.EventType, p *corev1.Pod) bool {
		return t == watch.Deleted || p.DeletionTimestamp != nil
	})
	if err != nil {
		return fmt.Errorf("scale-to-zero %s: scaled, but no pod was seen terminating: %w", f.w, err)
	}
	f.set(at)
	return nil
}

// Revert scales the workload back to the replicas it had.
func (f *ScaleFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	n, active := f.before, f.active
	f.mu.Unlock()
	if !active {
		return nil
	}
	if err := f.w.Scale(ctx, n); err != nil {
		if errors.Is(err, kube.ErrOutOfScope) {
			return err
		}
		return fmt.Errorf("scale %s back to %d: %w (kubectl scale -n %s %s --replicas=%d)", f.w, n, err, f.w.Namespace, f.w.Name, n)
	}
	if err := f.w.Annotate(ctx, kube.AnnotationReplicasBefore, ""); err != nil && !kerrors.IsNotFound(err) {
		return err
	}
	f.mu.Lock()
	f.active = false
	f.mu.Unlock()
	return nil
}
