package collector

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Outcomes of a POST /v1/events, the outcome label of
// pipeline_collector_requests_total and pipeline_collector_events_total.
const (
	outcomeAcknowledged = "acknowledged" // 202: committed to the lake
	outcomeRejected     = "rejected"     // 400 / 413: bad input, nothing stored
	outcomeUnavailable  = "unavailable"  // 503: lake unreachable, nothing acknowledged
)

// promMetrics are the collector's Prometheus metrics, in a registry of its
// own (served at GET /metrics in the text exposition format).
type promMetrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	events         *prometheus.CounterVec
	commits        prometheus.Counter
	commitFailures prometheus.Counter
	commitLatency  prometheus.Histogram
}

func newPromMetrics(s *Server) *promMetrics {
	m := &promMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pipeline_collector_requests_total",
			Help: "Ingest requests (POST /v1/events) by outcome: acknowledged (202, committed to the lake), rejected (400/413, nothing stored), unavailable (503, lake unreachable, nothing acknowledged).",
		}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pipeline_collector_events_total",
			Help: "Events in ingest requests by outcome: acknowledged (in a 202) or rejected (invalid items of a 400).",
		}, []string{"outcome"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pipeline_collector_lake_commits_total",
			Help: "Lake commits attempted (one per batch that passed validation).",
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pipeline_collector_lake_commit_failures_total",
			Help: "Lake commits that failed or were not confirmed within the lake timeout (the lake refusing the data itself is not counted).",
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pipeline_collector_lake_commit_duration_seconds",
			Help:    "Time of one lake commit (lock, insert, commit), failed ones included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	for _, o := range []string{outcomeAcknowledged, outcomeRejected, outcomeUnavailable} {
		m.requests.WithLabelValues(o) // present at 0 from the start, so rate() sees the first one
	}
	m.events.WithLabelValues(outcomeAcknowledged)
	m.events.WithLabelValues(outcomeRejected)
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pipeline_collector_lake_ready",
		Help: "1 when the collector has migrated the lake (it answers 503 until then), else 0.",
	}, func() float64 {
		if s.migrated.Load() {
			return 1
		}
		return 0
	})
	planted := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pipeline_planted_defect",
		Help: "1 for each planted defect this process runs with (none in a healthy build).",
	}, []string{"defect"})
	for _, d := range s.cfg.Plant.List() {
		planted.WithLabelValues(string(d)).Set(1)
	}
	m.reg.MustRegister(m.requests, m.events, m.commits, m.commitFailures, m.commitLatency, ready, planted)
	return m
}

// commitDone records one lake commit that took d and ended with err.
func (m *promMetrics) commitDone(d time.Duration, err error) {
	m.commits.Inc()
	m.commitLatency.Observe(d.Seconds())
	if err != nil && !refusedData(err) {
		m.commitFailures.Inc()
	}
}

func (m *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Gatherer returns the registry of the collector's Prometheus metrics.
func (s *Server) Gatherer() prometheus.Gatherer { return s.prom.reg }

// refusedData reports whether the lake refused the data itself (a data
// exception or a check violation): retrying cannot help, and the lake is
// not unavailable.
func refusedData(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || pgErr.Code == "23514")
}
