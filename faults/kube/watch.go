package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/firedrill/firedrill/faults"
	kube "github.com/firedrill/firedrill/scenarios/kube"
)

// OnsetWatch is the onset source of the faults timed by a watch event.
const OnsetWatch = "call sent..watch event received"

// eventWait bounds the wait for the watch event that shows a fault in
// effect.
const eventWait = 20 * time.Second

// podWatch is a watch on pods opened before a fault's call, which records
// when the first event satisfying a condition was received.
type podWatch struct {
	w watch.Interface
}

func openPodWatch(ctx context.Context, c *kube.Cluster, ns string, opts metav1.ListOptions) (*podWatch, error) {
	w, err := c.Client.CoreV1().Pods(ns).Watch(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("watch pods in %s: %w", ns, err)
	}
	return &podWatch{w: w}, nil
}

// until waits for an event for which ok holds and returns when it was
// received.
func (p *podWatch) until(ctx context.Context, ok func(watch.EventType, *corev1.Pod) bool) (time.Time, error) {
	defer p.w.Stop()
	timer := time.NewTimer(eventWait)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-p.w.ResultChan():
			at := time.Now()
			if !open {
				return time.Time{}, fmt.Errorf("the watch ended before the event")
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if isPod && ok(ev.Type, pod) {
				return at, nil
			}
		case <-timer.C:
			return time.Time{}, fmt.Errorf("no such event within %s", eventWait)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// receipt is when the watch event that showed a fault in effect was
// received: the upper bound of its onset. Embedded in the faults timed by
// a watch, it makes them Onsetters.
type receipt struct {
	mu   sync.Mutex
	at   time.Time
	what string // what the event showed, for the onset's source
}

func (r *receipt) set(at time.Time) {
	r.mu.Lock()
	r.at = at
	r.mu.Unlock()
}

// Onset is the call's start to the receipt of the event.
func (r *receipt) Onset(_ context.Context, call faults.Bracket) (faults.Bracket, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at.IsZero() {
		return call, "", fmt.Errorf("no event showing %s received", r.what)
	}
	return faults.Bracket{Sent: call.Sent, Acked: r.at}, OnsetWatch + " (" + r.what + ")", nil
}

// podSource is what the pod faults take: a workload or a set of pods.
type podSource interface {
	Pods(ctx context.Context) ([]corev1.Pod, error)
	String() string
	Cluster() *kube.Cluster
}

// podsOf adapts *kube.Pods (whose List is the lister) to podSource.
type podsOf struct{ p *kube.Pods }

func (p podsOf) Pods(ctx context.Context) ([]corev1.Pod, error) { return p.p.List(ctx) }
func (p podsOf) String() string                                 { return p.p.String() }
func (p podsOf) Cluster() *kube.Cluster                         { return p.p.Cluster() }

// Source is the pod source of a workload or a *kube.Pods.
func source(v any) (podSource, error) {
	switch t := v.(type) {
	case *kube.Workload:
		if t == nil {
			return nil, fmt.Errorf("nil workload")
		}
		return t, nil
	case *kube.Pods:
		if t == nil {
			return nil, fmt.Errorf("nil pods")
		}
		return podsOf{t}, nil
	}
	return nil, fmt.Errorf("target %T: give a *kube.Workload (r.Deployment(name)) or *kube.Pods (r.Pods(selector))", v)
}

// pick is the pod a fault acts on: the oldest ready pod not being deleted,
// else the oldest pod not being deleted.
func pick(ctx context.Context, src podSource) (corev1.Pod, error) {
	pods, err := src.Pods(ctx)
	if err != nil {
		return corev1.Pod{}, err
	}
	var fallback *corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		if ready(p) {
			return *p, nil
		}
		if fallback == nil {
			fallback = p
		}
	}
	if fallback != nil {
		return *fallback, nil
	}
	return corev1.Pod{}, fmt.Errorf("%s has no pod to act on", src)
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
