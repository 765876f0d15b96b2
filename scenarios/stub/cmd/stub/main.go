// Command stub is a tiny HTTP service for firedrill's tests and calibration
// drills. See package github.com/firedrill/firedrill/scenarios/stub for its
// endpoints. It shuts down gracefully on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		log.Printf("stub: listen on %s: %v", *addr, err)
		os.Exit(1)
	}
	if err := serve(ctx, ln); err != nil {
		log.Printf("stub: %v", err)
		os.Exit(1)
	}
}

// serve serves on ln until ctx is done, then shuts down gracefully:
// requests in flight complete, new connections are refused.
func serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: newHandler(), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("stub: listening on %s", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Printf("stub: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// ids is an insertion-ordered set of written ids.
type ids struct {
	mu    sync.Mutex
	seen  map[string]struct{}
	order []string
}

func (s *ids) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[id]; ok {
		return
	}
	s.seen[id] = struct{}{}
	s.order = append(s.order, id)
}

func (s *ids) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

func newHandler() http.Handler {
	store := &ids{seen: make(map[string]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if id == "" {
			http.Error(w, "missing id", http.StatusBadRequest)
			return
		}
		if strings.ContainsAny(id, "\r\n") {
			http.Error(w, "id must not contain a newline", http.StatusBadRequest)
			return
		}
		store.add(id)
		fmt.Fprint(w, id)
	})
	mux.HandleFunc("GET /ids", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, id := range store.list() {
			fmt.Fprintln(w, id)
		}
	})
	return mux
}
