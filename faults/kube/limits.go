package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/firedrill/firedrill/faults"
	kube "github.com/firedrill/firedrill/scenarios/kube"
)

// LimitsFault sets a workload container's resources; see Limits.
type LimitsFault struct {
	w         *kube.Workload
	container string
	res       corev1.ResourceRequirements

	mu     sync.Mutex
	before corev1.ResourceRequirements
	active bool
}

var (
	_ faults.Fault     = (*LimitsFault)(nil)
	_ faults.Validator = (*LimitsFault)(nil)
)

// Limits sets the CPU and memory limits (requests capped to them) of
// container ("" = the first) in w's pod template: the workload rolls out
// pods with the new limits, as a bad resource change in a release would
// (a memory limit below what the process needs makes it OOM-killed, a low
// CPU limit throttles it). cpu is in cores ("" = unchanged, e.g. "100m"),
// memory in bytes ("" = unchanged, e.g. "64Mi"). Revert puts the previous
// resources back (another rollout).
//
// Onset: the call's bracket; the effect follows with the rollout.
func Limits(w *kube.Workload, container, cpu, memory string) *LimitsFault {
	f := &LimitsFault{w: w, container: container}
	f.res.Limits = corev1.ResourceList{}
	f.res.Requests = corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory} {
		if v == "" {
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			continue // Validate reports it
		}
		f.res.Limits[name], f.res.Requests[name] = q, q
	}
	return f
}

// Name is "limits(<workload>, cpu=..., memory=...)".
func (f *LimitsFault) Name() string {
	s := "limits(" + fmt.Sprint(f.w)
	if q, ok := f.res.Limits[corev1.ResourceCPU]; ok {
		s += ", cpu=" + q.String()
	}
	if q, ok := f.res.Limits[corev1.ResourceMemory]; ok {
		s += ", memory=" + q.String()
	}
	return s + ")"
}

// Validate checks the target and that a limit is given.
func (f *LimitsFault) Validate() error {
	if f.w == nil {
		return fmt.Errorf("limits: %w", faults.ErrNoTarget)
	}
	if len(f.res.Limits) == 0 {
		return fmt.Errorf("limits %s: %w: give a CPU (\"100m\") or memory (\"64Mi\") limit, in Kubernetes quantities", f.w, faults.ErrInvalid)
	}
	return nil
}

// Inject records the container's resources and sets the new ones.
func (f *LimitsFault) Inject(ctx context.Context) error {
	before, err := f.w.Resources(ctx, f.container)
	if err != nil {
		return err
	}
	res := *before.DeepCopy()
	if res.Limits == nil {
		res.Limits = corev1.ResourceList{}
	}
	if res.Requests == nil {
		res.Requests = corev1.ResourceList{}
	}
	for k, v := range f.res.Limits {
		res.Limits[k] = v
		if old, ok := res.Requests[k]; !ok || old.Cmp(v) > 0 {
			res.Requests[k] = v
		}
	}
	// Recorded on the workload first, for kube.Wipe after a kill -9.
	mark, err := json.Marshal(map[string]any{"container": f.container, "resources": before})
	if err != nil {
		return err
	}
	if err := f.w.Annotate(ctx, kube.AnnotationResourcesBefore, string(mark)); err != nil {
		return err
	}
	if err := f.w.SetResources(ctx, f.container, res); err != nil {
		_ = f.w.Annotate(ctx, kube.AnnotationResourcesBefore, "")
		return err
	}
	f.mu.Lock()
	f.before, f.active = before, true
	f.mu.Unlock()
	return nil
}

// Revert puts the previous resources back.
func (f *LimitsFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	before, active := f.before, f.active
	f.mu.Unlock()
	if !active {
		return nil
	}
	if err := f.w.SetResources(ctx, f.container, before); err != nil {
		return fmt.Errorf("put back the resources of %s: %w", f.w, err)
	}
	if err := f.w.Annotate(ctx, kube.AnnotationResourcesBefore, ""); err != nil {
		return err
	}
	f.mu.Lock()
	f.active = false
	f.mu.Unlock()
	return nil
}
