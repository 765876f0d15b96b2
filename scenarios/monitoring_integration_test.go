package scenarios_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/scenarios"
)

// Prometheus and Alertmanager built here, started beside a system: a
// PromQL probe reads Prometheus, and a rule that always holds reaches
// Alertmanager as a firing alert within seconds; one that never holds
// does not.
func TestMonitoringInContainers(t *testing.T) {
	sys, err := scenarios.System{
		Name: "monitored",
		Containers: []scenarios.ContainerSpec{{
			Name: "api", Image: scenarios.Image(scenarios.ImageStub), Ports: []string{"8080/tcp"},
			Ready: scenarios.ReadyHTTP("8080/tcp", "/healthz"),
		}},
	}.WithMonitoring(scenarios.Monitoring{Rules: []byte(`groups:
  - name: test
    rules:
      - alert: AlwaysFiring
        expr: vector(1) > 0
        labels: {severity: critical}
      - alert: NeverFiring
        expr: vector(0) > 0
        labels: {severity: warning}
`)})
	require.NoError(t, err)
	r := scenarios.Start(t, sys)
	ctx := t.Context()
	prom, err := r.PrometheusURL(ctx)
	require.NoError(t, err)
	am, err := r.AlertmanagerURL(ctx)
	require.NoError(t, err)

	v, err := slo.PromQL("one", "", prom, "vector(1)").Read(ctx)
	require.NoError(t, err)
	assert.InDelta(t, 1.0, v, 1e-9)
	_, err = slo.PromQL("none", "", prom, `up{job="nothing"}`).Read(ctx)
	require.ErrorContains(t, err, "returned no series")

	firing := drills.AlertFiring(am, "AlwaysFiring")
	deadline := time.Now().Add(20 * time.Second)
	var on bool
	for time.Now().Before(deadline) {
		on, err = firing(ctx)
		require.NoError(t, err)
		if on {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	assert.True(t, on, "AlwaysFiring reached Alertmanager within 20s")
	never, err := drills.AlertFiring(am, "NeverFiring")(context.WithoutCancel(ctx))
	require.NoError(t, err)
	assert.False(t, never)
}
