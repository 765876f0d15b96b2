package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithMonitoring(t *testing.T) {
	t.Parallel()
	sys := System{Name: "m", Containers: []ContainerSpec{{Name: "api", Image: "x", Ports: []string{"8080/tcp"}}}}
	got, err := sys.WithMonitoring(Monitoring{Rules: []byte("groups: []\n"), Scrape: []Scrape{{Container: "api", Port: "8080/tcp"}}, EvalInterval: 500 * time.Millisecond})
	require.NoError(t, err)
	require.Len(t, got.Containers, 3)
	assert.Len(t, sys.Containers, 1, "the system passed in is not changed")
	prom := got.Containers[1]
	assert.Equal(t, PrometheusContainer, prom.Name)
	cfg := string(prom.Files["/etc/prometheus/prometheus.yml"])
	for _, want := range []string{"scrape_interval: 1s", "evaluation_interval: 500ms", `job_name: "api"`, `metrics_path: "/metrics"`, `targets: ["api:8080"]`, `targets: ["alertmanager:9093"]`} {
		assert.Contains(t, cfg, want)
	}
	assert.Contains(t, prom.Cmd, "--rules.alert.resend-delay=500ms")
	require.NoError(t, got.Validate(), "the monitored system is valid")

	_, err = sys.WithMonitoring(Monitoring{Scrape: []Scrape{{Container: "db", Port: "5432/tcp"}, {Container: "api", Port: "9999/tcp"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `scrape target "db" is not a container of the system`)
	assert.Contains(t, err.Error(), "port 9999/tcp is not in its Ports")
}
