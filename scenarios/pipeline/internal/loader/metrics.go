package loader

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// states lists every state, the state label of pipeline_loader_state.
var states = []string{StateStarting, StateRunning, StateBackoff, StatePaused, StateStopped}

// promMetrics are the loader's Prometheus metrics, in a registry of its
// own (served at GET /metrics in the text exposition format). Everything
// but the write latency is read from one Metrics snapshot per scrape, so
// a scrape is consistent with /metrics.json.
type promMetrics struct {
	reg            *prometheus.Registry
	warehouseWrite prometheus.Histogram
	snapshot       *snapshotCollector
}

func newPromMetrics(l *Loader) *promMetrics {
	m := &promMetrics{
		reg: prometheus.NewRegistry(),
		warehouseWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pipeline_loader_warehouse_write_duration_seconds",
			Help:    "Time of one batch's warehouse write (events, quarantine and checkpoint), failed ones included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		snapshot: newSnapshotCollector(l),
	}
	planted := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pipeline_planted_defect",
		Help: "1 for each planted defect this process runs with (none in a healthy build).",
	}, []string{"defect"})
	for _, d := range l.cfg.Plant.List() {
		planted.WithLabelValues(string(d)).Set(1)
	}
	m.reg.MustRegister(m.warehouseWrite, m.snapshot, planted)
	return m
}

// PrometheusHandler serves the loader's Prometheus metrics.
func (l *Loader) PrometheusHandler() http.Handler {
	return promhttp.HandlerFor(l.prom.reg, promhttp.HandlerOpts{})
}

// Gatherer returns the registry of the loader's Prometheus metrics.
func (l *Loader) Gatherer() prometheus.Gatherer { return l.prom.reg }

type snapshotCollector struct {
	l *Loader

	lag, lagEvents, checkpoint, lakeHead, quarantine, state *prometheus.Desc
	retries, loaded, quarantined, batches                   *prometheus.Desc
	backoff, lastBatch, schemaVersion                       *prometheus.Desc
}

func newSnapshotCollector(l *Loader) *snapshotCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &snapshotCollector{
		l:             l,
		lag:           d("pipeline_loader_lag_seconds", "Freshness: age in seconds of the oldest lake event not yet in the warehouse, 0 when caught up (measured every 200 ms from the lake, extrapolated in between)."),
		lagEvents:     d("pipeline_loader_lag_events", "Lake events past the checkpoint (not yet loaded)."),
		checkpoint:    d("pipeline_loader_checkpoint", "Last lake seq applied to the warehouse."),
		lakeHead:      d("pipeline_loader_lake_head", "Highest seq in the lake."),
		quarantine:    d("pipeline_loader_quarantine_events", "Events in the warehouse's quarantine (recounted about once a second)."),
		state:         d("pipeline_loader_state", "1 for the loader's current state (starting, running, backoff = retrying after an error, paused, stopped), 0 for the others.", "state"),
		retries:       d("pipeline_loader_retries_total", "Failed attempts (lake or warehouse errors) the loader backed off from and retried."),
		loaded:        d("pipeline_loader_loaded_events_total", "Events loaded into the warehouse."),
		quarantined:   d("pipeline_loader_quarantined_events_total", "Events the loader put into quarantine (schema failures)."),
		batches:       d("pipeline_loader_batches_total", "Batches committed to the warehouse."),
		backoff:       d("pipeline_loader_backoff_seconds", "Current backoff before the next retry, 0 when not retrying."),
		lastBatch:     d("pipeline_loader_last_batch_timestamp_seconds", "Unix time of the last committed batch, 0 if none."),
		schemaVersion: d("pipeline_loader_schema_version", "Schema version in force."),
	}
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lag, c.lagEvents, c.checkpoint, c.lakeHead, c.quarantine, c.state,
		c.retries, c.loaded, c.quarantined, c.batches, c.backoff, c.lastBatch, c.schemaVersion} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.l.Metrics()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	n := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	g(c.lag, m.LagSeconds)
	g(c.lagEvents, float64(m.LagEvents))
	g(c.checkpoint, float64(m.Checkpoint))
	g(c.lakeHead, float64(m.LakeHead))
	g(c.quarantine, float64(m.Quarantine))
	for _, s := range states {
		v := 0.0
		if s == m.State {
			v = 1
		}
		g(c.state, v, s)
	}
	n(c.retries, m.ErrorsTotal)
	n(c.loaded, m.LoadedTotal)
	n(c.quarantined, m.QuarantinedTotal)
	n(c.batches, m.BatchesTotal)
	g(c.backoff, m.BackoffSeconds)
	last := 0.0
	if m.LastBatchAt != nil {
		last = float64(m.LastBatchAt.UnixNano()) / 1e9
	}
	g(c.lastBatch, last)
	g(c.schemaVersion, float64(m.SchemaVersion))
}
