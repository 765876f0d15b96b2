package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/kube"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

// StartKube starts the pipeline on a Kubernetes cluster for a test: the
// same declaration as Start, translated by kube.FromSystem (a Deployment
// and a Service per part, the links through a toxiproxy pod), in a
// namespace of its own that is deleted when the test ends. The handles
// are those of Start but for the containers (nil: act on the workloads,
// Kube.Deployment(pipeline.Loader), with the faults of faults/kube); the
// links are the same, so every toxic works as on Docker. The databases
// keep their data in the pod: a pod replaced on another node starts
// empty (the loader then replays the lake into a new warehouse).
// WithMonitoring is not translated.
func StartKube(tb testing.TB, c *kube.Cluster, opts ...Option) *Pipeline {
	tb.Helper()
	ks, cfg, err := kubeSystem(opts)
	if err != nil {
		tb.Fatalf("start pipeline on Kubernetes: %v", err)
	}
	r := kube.Start(tb, c, ks)
	p, err := kubeHandles(tb.Context(), r, cfg)
	if p != nil {
		tb.Cleanup(p.close)
	}
	if err != nil {
		tb.Fatalf("start pipeline on Kubernetes: %v", err)
	}
	return p
}

func kubeSystem(opts []Option) (kube.System, config, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return kube.System{}, cfg, err
	}
	if cfg.monitoring {
		return kube.System{}, cfg, errors.New("WithMonitoring is not translated to Kubernetes (drill the pipeline's alerts on Docker)")
	}
	sys, err := cfg.system()
	if err != nil {
		return kube.System{}, cfg, err
	}
	ks, err := kube.FromSystem(sys, cfg.kube...)
	if err != nil {
		return kube.System{}, cfg, err
	}
	return ks, cfg, nil
}

func kubeHandles(ctx context.Context, r *kube.Running, cfg config) (*Pipeline, error) {
	p := &Pipeline{
		defects:         cfg.defects,
		Kube:            r,
		CollectorLake:   r.MustLink(CollectorLake),
		LoaderLake:      r.MustLink(LoaderLake),
		LoaderWarehouse: r.MustLink(LoaderWarehouse),
		http:            &http.Client{Timeout: 2 * time.Second},
	}
	host := func(name string) string { return r.MustLink(scenarios.Host + "->" + name).HostAddr }
	p.CollectorURL, p.LoaderURL = "http://"+host(Collector), "http://"+host(Loader)
	p.LakeDSN = "postgres://postgres@" + host(Lake) + "/lake?sslmode=disable"
	p.WarehouseDSN = "postgres://postgres@" + host(Warehouse) + "/warehouse?sslmode=disable"
	var err error
	if p.lake, err = store.Open(ctx, p.LakeDSN, 4); err != nil {
		return p, fmt.Errorf("open lake from the host: %w", err)
	}
	if p.wh, err = store.Open(ctx, p.WarehouseDSN, 4); err != nil {
		return p, fmt.Errorf("open warehouse from the host: %w", err)
	}
	return p, nil
}
