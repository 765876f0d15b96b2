package kube

import (
	"context"
	"time"

	"github.com/firedrill/firedrill/drills/slo"
)

// Probes from the API server, usable as SLIs (slo.AtLeast(p, 3)) and as
// detectors (drills.DetectWhen(p, func(v float64) bool { return v < 3 })).
//
// Each read is one GET from the API server, which serves it from its watch
// cache. What it reports is what a controller last recorded, so each probe
// states its staleness (slo.Probe.Staleness), which widens the bounds of
// every measure it locates:
//
//   - ready pods: the kubelet reports a container's readiness after its
//     readiness probe runs (periodSeconds, 1 s in firedrill's manifests)
//     and a status sync; stated as ReadyStaleness;
//   - available replicas: the workload controller updates status after
//     the pods' change reaches it; ReadyStaleness too;
//   - ready endpoints: the EndpointSlice controller batches updates
//     (up to 1 s by default) after the pods' readiness; ReadyStaleness
//     plus that second.

// ReadyStaleness is how old a readiness the API reports may be: the
// readiness probe's period (1 s) plus the kubelet's status sync.
const ReadyStaleness = 2 * time.Second

// ReadyPods is a probe of the number of ready pods matching p.
func ReadyPods(p *Pods) slo.Probe {
	return apiProbe("ready_pods", "pods", ReadyStaleness, p.Ready)
}

// AvailableReplicas is a probe of a workload's available replicas.
func AvailableReplicas(w *Workload) slo.Probe {
	return apiProbe("available_replicas", "replicas", ReadyStaleness, func(ctx context.Context) (int, error) {
		n, err := w.Available(ctx)
		return int(n), err
	})
}

// ReadyEndpoints is a probe of a Service's ready endpoints.
func ReadyEndpoints(s *Service) slo.Probe {
	return apiProbe("ready_endpoints", "endpoints", ReadyStaleness+time.Second, s.ReadyEndpoints)
}

// apiProbe reads a count from the API server four times a second.
func apiProbe(name, unit string, staleness time.Duration, read func(context.Context) (int, error)) slo.Probe {
	return slo.Probe{
		Name: name, Unit: unit, Every: 250 * time.Millisecond, Timeout: 2 * time.Second, Staleness: staleness,
		Read: func(ctx context.Context) (float64, error) {
			n, err := read(ctx)
			return float64(n), err
		},
	}
}
