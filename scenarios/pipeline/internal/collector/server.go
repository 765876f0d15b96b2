// Package collector is the pipeline's ingest service: POST /v1/events takes a
// JSON batch and acknowledges it (202, with the ids) only after the batch is
// committed to the lake. It is idempotent by client event id, rejects a batch
// with any invalid item (400, a reason per bad item, nothing stored), and
// answers 503 with Retry-After when the lake cannot be reached or the commit
// fails or times out: never a false acknowledgement.
package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

// Config configures a Server.
type Config struct {
	// LakeTimeout bounds one lake write (lock, insert, commit). Default 2 s.
	LakeTimeout time.Duration
	// RetryAfter is the Retry-After value of a 503, in seconds. Default 1.
	RetryAfter int
	// Plant is the set of planted defects; the collector honours
	// plant.AckBeforeCommit.
	Plant plant.Set
	Log   *slog.Logger
}

// Server serves the collector's HTTP API.
type Server struct {
	lake *pgxpool.Pool
	cfg  Config
	mux  *http.ServeMux

	migrated atomic.Bool
	migrMu   sync.Mutex

	m    metrics
	prom *promMetrics
}

type metrics struct {
	requests, acceptedBatches, acceptedEvents, newEvents, duplicateEvents atomic.Int64
	rejectedBatches, rejectedEvents, unavailableBatches                   atomic.Int64
}

// Metrics is the JSON document served at /metrics.json.
type Metrics struct {
	Requests           int64 `json:"requests"`
	AcceptedBatches    int64 `json:"accepted_batches"`
	AcceptedEvents     int64 `json:"accepted_events"`
	NewEvents          int64 `json:"new_events"`
	DuplicateEvents    int64 `json:"duplicate_events"`
	RejectedBatches    int64 `json:"rejected_batches"`
	RejectedEvents     int64 `json:"rejected_events"`
	UnavailableBatches int64 `json:"unavailable_batches"`
	LakeReady          bool  `json:"lake_ready"`
}

// Accepted is the body of a 202.
type Accepted struct {
	Accepted   []string `json:"accepted"`
	New        int      `json:"new"`
	Duplicates int      `json:"duplicates"`
}

// Problem is the body of a 4xx/5xx.
type Problem struct {
	Error string      `json:"error"`
	Items []ItemError `json:"items,omitempty"`
}

// New returns a collector writing to lake.
func New(lake *pgxpool.Pool, cfg Config) *Server {
	if cfg.LakeTimeout <= 0 {
		cfg.LakeTimeout = 2 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{lake: lake, cfg: cfg, mux: http.NewServeMux()}
	s.prom = newPromMetrics(s)
	if cfg.Plant.Has(plant.AckBeforeCommit) {
		cfg.Log.Warn("PLANTED DEFECT: acknowledging batches before the lake commit", "defect", plant.AckBeforeCommit)
	}
	s.mux.HandleFunc("POST /v1/events", s.ingest)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "up"}) })
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", s.prom.handler())
	s.mux.HandleFunc("GET /metrics.json", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Metrics()) })
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Metrics returns the counters.
func (s *Server) Metrics() Metrics {
	return Metrics{
		Requests: s.m.requests.Load(), AcceptedBatches: s.m.acceptedBatches.Load(),
		AcceptedEvents: s.m.acceptedEvents.Load(), NewEvents: s.m.newEvents.Load(),
		DuplicateEvents: s.m.duplicateEvents.Load(), RejectedBatches: s.m.rejectedBatches.Load(),
		RejectedEvents: s.m.rejectedEvents.Load(), UnavailableBatches: s.m.unavailableBatches.Load(),
		LakeReady: s.migrated.Load(),
	}
}

// EnsureLake migrates the lake once; later calls are free after a success.
func (s *Server) EnsureLake(ctx context.Context) error {
	if s.migrated.Load() {
		return nil
	}
	s.migrMu.Lock()
	defer s.migrMu.Unlock()
	if s.migrated.Load() {
		return nil
	}
	if err := store.MigrateLake(ctx, s.lake); err != nil {
		return err
	}
	s.migrated.Store(true)
	return nil
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	err := s.EnsureLake(ctx)
	if err == nil {
		err = s.lake.Ping(ctx)
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, Problem{Error: "lake unreachable: " + err.Error()})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

// ingest is POST /v1/events: read the body, validate the batch, commit it to
// the lake, acknowledge it. Each stage that refuses the request has written
// the response when it returns false.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	s.m.requests.Add(1)
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	items, ok := s.parseBatch(w, body)
	if !ok {
		return
	}
	if s.cfg.Plant.Has(plant.AckBeforeCommit) {
		s.ackThenCommit(w, r, items)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.LakeTimeout)
	defer cancel()
	n, err := s.timedCommit(ctx, items)
	if err != nil {
		s.commitFailed(w, err, len(items))
		return
	}
	s.accept(w, items, n)
}

// ackThenCommit is the planted defect plant.AckBeforeCommit: the batch is
// acknowledged as if all of it were new, then committed; a failed commit
// is only logged and counted (the client already holds its 202).
func (s *Server) ackThenCommit(w http.ResponseWriter, r *http.Request, items []Item) {
	s.accept(w, items, len(items))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.LakeTimeout)
	defer cancel()
	if _, err := s.timedCommit(ctx, items); err != nil {
		if store.IsUndefinedTable(err) {
			s.migrated.Store(false)
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) && !errors.Is(err, context.DeadlineExceeded) {
			s.lake.Reset()
		}
		s.cfg.Log.Warn("lake write failed after the batch was acknowledged", "err", err, "items", len(items))
	}
}

// timedCommit is commit, counted and timed in the Prometheus metrics.
func (s *Server) timedCommit(ctx context.Context, items []Item) (int, error) {
	start := time.Now()
	n, err := s.commit(ctx, items)
	s.prom.commitDone(time.Since(start), err)
	return n, err
}

// readBody reads the request body, refusing one over MaxBodyBytes (413) or
// one that cannot be read (400).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err == nil {
		return body, true
	}
	s.m.rejectedBatches.Add(1)
	s.prom.requests.WithLabelValues(outcomeRejected).Inc()
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeJSON(w, http.StatusRequestEntityTooLarge, Problem{Error: fmt.Sprintf("body larger than %d bytes", MaxBodyBytes)})
		return nil, false
	}
	writeJSON(w, http.StatusBadRequest, Problem{Error: "read body: " + err.Error()})
	return nil, false
}

// parseBatch parses the batch, refusing it whole (400, a reason per bad item)
// when any item is invalid.
func (s *Server) parseBatch(w http.ResponseWriter, body []byte) ([]Item, bool) {
	items, bad, err := Validate(body)
	if err == nil && len(bad) == 0 {
		return items, true
	}
	s.m.rejectedBatches.Add(1)
	s.m.rejectedEvents.Add(int64(len(bad)))
	s.prom.requests.WithLabelValues(outcomeRejected).Inc()
	s.prom.events.WithLabelValues(outcomeRejected).Add(float64(len(bad)))
	p := Problem{Error: "invalid batch: nothing stored", Items: bad}
	if err != nil {
		p.Error = "invalid batch: " + err.Error()
	}
	writeJSON(w, http.StatusBadRequest, p)
	return nil, false
}

// commitFailed answers a failed lake write: 400 when the lake refused the
// data itself, else 503 with Retry-After (nothing acknowledged).
func (s *Server) commitFailed(w http.ResponseWriter, err error, items int) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && refusedData(err) {
		// The lake refused the data itself: retrying cannot help.
		s.m.rejectedBatches.Add(1)
		s.prom.requests.WithLabelValues(outcomeRejected).Inc()
		writeJSON(w, http.StatusBadRequest, Problem{Error: "invalid batch: rejected by the lake: " + pgErr.Message})
		return
	}
	s.m.unavailableBatches.Add(1)
	s.prom.requests.WithLabelValues(outcomeUnavailable).Inc()
	if store.IsUndefinedTable(err) {
		s.migrated.Store(false) // the lake was replaced by an empty one: migrate again
	}
	if pgErr == nil && !errors.Is(err, context.DeadlineExceeded) {
		// a network-level failure likely broke every pooled connection:
		// drop them so the next request dials afresh
		s.lake.Reset()
	}
	s.cfg.Log.Warn("lake write failed", "err", err, "items", items)
	w.Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfter))
	writeJSON(w, http.StatusServiceUnavailable, Problem{Error: "lake unavailable, nothing acknowledged: " + err.Error()})
}

// accept acknowledges a committed batch (202 with its ids); n of them were
// new.
func (s *Server) accept(w http.ResponseWriter, items []Item, n int) {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	s.m.acceptedBatches.Add(1)
	s.m.acceptedEvents.Add(int64(len(ids)))
	s.m.newEvents.Add(int64(n))
	s.m.duplicateEvents.Add(int64(len(ids) - n))
	s.prom.requests.WithLabelValues(outcomeAcknowledged).Inc()
	s.prom.events.WithLabelValues(outcomeAcknowledged).Add(float64(len(ids)))
	writeJSON(w, http.StatusAccepted, Accepted{Accepted: ids, New: n, Duplicates: len(ids) - n})
}

// commit stores items in one implicit transaction (one round trip) under the
// lake write lock and returns how many were new. It returns nil only once
// PostgreSQL has reported the commit.
func (s *Server) commit(ctx context.Context, items []Item) (int, error) {
	if err := s.EnsureLake(ctx); err != nil {
		return 0, err
	}
	ids := make([]string, len(items))
	sources := make([]string, len(items))
	bodies := make([]string, len(items))
	for i, it := range items {
		ids[i], sources[i], bodies[i] = it.ID, it.Source, string(it.Raw)
	}
	var b pgx.Batch
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(store.LakeWriteLock))
	var n int
	b.Queue(`WITH ins AS (
		INSERT INTO raw_events (event_id, source, body)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::jsonb[])
		ON CONFLICT (event_id) DO NOTHING RETURNING 1)
		SELECT count(*) FROM ins`, ids, sources, bodies).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	if err := s.lake.SendBatch(ctx, &b).Close(); err != nil {
		return 0, err
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
