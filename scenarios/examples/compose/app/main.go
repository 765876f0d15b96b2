// Command orders is the HTTP service of firedrill's Compose example
// (scenarios/examples/compose): an order is a row in PostgreSQL.
//
//	POST /orders       {"item": "..."} → 201 {"id": "..."}, once the row is committed
//	GET  /orders/{id}  → 200 {"id": "...", "item": "..."}, or 404
//	GET  /healthz      → 200 when the database answers
//
// Environment: DATABASE_URL (a pgx connection string), ORDERS_ADDR (default
// ":8080"), and ORDERS_ACK_BEFORE_COMMIT=true, a planted defect: orders
// are acknowledged at once and written afterwards, so an order whose write
// fails is acknowledged and lost. `orders -healthcheck` asks /healthz of the
// running service and exits 0 or 1 (the image is FROM scratch: there is no
// curl for a Compose healthcheck).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "GET /healthz of the running service and exit 0 if it answers 200")
	flag.Parse()
	addr := os.Getenv("ORDERS_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	if *healthcheck {
		os.Exit(checkHealth(addr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, addr); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string) error {
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.ConnectTimeout = time.Second // fail fast while the database is unreachable
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if err := createTable(ctx, pool); err != nil {
		return err
	}
	ackBeforeCommit, _ := strconv.ParseBool(os.Getenv("ORDERS_ACK_BEFORE_COMMIT"))
	s := &server{db: pool, ackBeforeCommit: ackBeforeCommit, prefix: randomPrefix()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", s.create)
	mux.HandleFunc("GET /orders/{id}", s.get)
	mux.HandleFunc("GET /healthz", s.health)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("orders listening on %s (ack before commit: %v)", addr, ackBeforeCommit)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// createTable creates the orders table, waiting up to 30 s for the database.
func createTable(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, item text NOT NULL, created timestamptz NOT NULL DEFAULT now())`)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create table: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type server struct {
	db              *pgxpool.Pool
	ackBeforeCommit bool
	prefix          string
	seq             atomic.Uint64
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Item string `json:"item"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.Item == "" {
		http.Error(w, `want {"item": "..."}`, http.StatusBadRequest)
		return
	}
	id := fmt.Sprintf("%s-%d", s.prefix, s.seq.Add(1))
	if s.ackBeforeCommit { // the planted defect
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := s.insert(ctx, id, in.Item); err != nil {
				log.Printf("order %s acknowledged but not written: %v", id, err)
			}
		}()
		reply(w, http.StatusCreated, map[string]string{"id": id})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.insert(ctx, id, in.Item); err != nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "database unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	reply(w, http.StatusCreated, map[string]string{"id": id})
}

func (s *server) insert(ctx context.Context, id, item string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO orders (id, item) VALUES ($1, $2)`, id, item)
	return err
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	id := r.PathValue("id")
	var item string
	err := s.db.QueryRow(ctx, `SELECT item FROM orders WHERE id = $1`, id).Scan(&item)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		http.Error(w, "no such order", http.StatusNotFound)
	case err != nil:
		http.Error(w, "database unavailable: "+err.Error(), http.StatusServiceUnavailable)
	default:
		reply(w, http.StatusOK, map[string]string{"id": id, "item": item})
	}
}

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// randomPrefix makes order ids unique across restarts of the service.
func randomPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkHealth is the -healthcheck mode.
func checkHealth(addr string) int {
	port := addr[strings.LastIndex(addr, ":")+1:]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	if err != nil {
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}
