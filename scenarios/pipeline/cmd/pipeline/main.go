// Command pipeline is the reference system of firedrill in one binary:
//
//	pipeline collector   [-addr :8080]   ingest API (LAKE_DSN)
//	pipeline loader      [-addr :8081]   lake → warehouse (LAKE_DSN, WAREHOUSE_DSN)
//	pipeline pipelinectl COMMAND ...     recovery tooling (see pipelinectl -h)
//
// See scenarios/pipeline/app/CONTRACT.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/firedrill/firedrill/scenarios/pipeline/app/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/app/ctl"
	"github.com/firedrill/firedrill/scenarios/pipeline/app/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/app/store"
)

const usage = `usage: pipeline collector|loader|pipelinectl [flags]

  collector    [-addr :8080] [-lake-timeout 2s]            env LAKE_DSN
  loader       [-addr :8081] [-poll 50ms] [-batch 500] [-batch-max 2000] [-corrupt FIELD]
                                                           env LAKE_DSN, WAREHOUSE_DSN, LOADER_CORRUPT_FIELD
  pipelinectl  COMMAND [flags]                             env LAKE_DSN, WAREHOUSE_DSN (pipelinectl -h)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "collector":
		return runCollector(ctx, args[1:], stderr)
	case "loader":
		return runLoader(ctx, args[1:], stderr)
	case "pipelinectl", "ctl":
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help" || args[1] == "help") {
			fmt.Fprint(stdout, ctl.Usage)
			return 0
		}
		return ctl.Main(ctx, args[1:], stdout, stderr, os.Getenv)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "pipeline: unknown subcommand %q\n\n%s", args[0], usage)
	return 2
}

func logger(stderr io.Writer, component string) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, nil)).With("component", component)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func runCollector(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("collector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("COLLECTOR_ADDR", ":8080"), "listen address (env COLLECTOR_ADDR)")
	dsn := fs.String("lake", os.Getenv("LAKE_DSN"), "lake DSN (env LAKE_DSN)")
	lakeTimeout := fs.Duration("lake-timeout", 2*time.Second, "bound on one lake commit; past it the batch gets 503")
	maxConns := fs.Int("lake-conns", 8, "lake connection pool size")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dsn == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "collector: LAKE_DSN (or -lake) is required and no arguments are accepted")
		return 2
	}
	log := logger(stderr, "collector")
	lake, err := store.Open(ctx, *dsn, int32(*maxConns))
	if err != nil {
		log.Error("bad lake DSN", "err", err)
		return 2
	}
	defer lake.Close()
	srv := collector.New(lake, collector.Config{LakeTimeout: *lakeTimeout, Log: log})
	go func() { // migrate early; requests and /readyz retry it lazily anyway
		for ctx.Err() == nil {
			c, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := srv.EnsureLake(c)
			cancel()
			if err == nil {
				log.Info("lake ready")
				return
			}
			log.Warn("lake not ready", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return serve(ctx, *addr, srv, log, "collector")
}

func runLoader(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("loader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("LOADER_ADDR", ":8081"), "listen address for /healthz and /metrics (env LOADER_ADDR)")
	lakeDSN := fs.String("lake", os.Getenv("LAKE_DSN"), "lake DSN (env LAKE_DSN)")
	whDSN := fs.String("warehouse", os.Getenv("WAREHOUSE_DSN"), "warehouse DSN (env WAREHOUSE_DSN)")
	poll := fs.Duration("poll", durEnv("LOADER_POLL", 50*time.Millisecond), "poll interval when caught up (env LOADER_POLL)")
	batch := fs.Int("batch", intEnv("LOADER_BATCH", 500), "rows per batch (env LOADER_BATCH)")
	batchMax := fs.Int("batch-max", intEnv("LOADER_BATCH_MAX", 2000), "batches double while full up to this (env LOADER_BATCH_MAX)")
	opTimeout := fs.Duration("op-timeout", 10*time.Second, "bound on one lake read or warehouse write; a hung database becomes an error (and backoff) after it")
	corrupt := fs.String("corrupt", os.Getenv("LOADER_CORRUPT_FIELD"), "bad deploy: corrupt this field (amount, user_id, ts, kind) (env LOADER_CORRUPT_FIELD)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *lakeDSN == "" || *whDSN == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "loader: LAKE_DSN and WAREHOUSE_DSN (or -lake, -warehouse) are required and no arguments are accepted")
		return 2
	}
	if _, err := loader.Corrupter(*corrupt); err != nil {
		fmt.Fprintln(stderr, "loader:", err)
		return 2
	}
	log := logger(stderr, "loader")
	lake, err := store.Open(ctx, *lakeDSN, 4)
	if err != nil {
		log.Error("bad lake DSN", "err", err)
		return 2
	}
	defer lake.Close()
	wh, err := store.Open(ctx, *whDSN, 4)
	if err != nil {
		log.Error("bad warehouse DSN", "err", err)
		return 2
	}
	defer wh.Close()
	l, err := loader.New(lake, wh, loader.Config{Poll: *poll, Batch: *batch, BatchMax: *batchMax, OpTimeout: *opTimeout, Corrupt: *corrupt, Log: log})
	if err != nil {
		fmt.Fprintln(stderr, "loader:", err)
		return 2
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"status\":\"up\",\"state\":%q}\n", l.Metrics().State)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		m := l.Metrics()
		if m.State != loader.StateRunning && m.State != loader.StatePaused {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "{\"state\":%q,\"last_error\":%q}\n", m.State, m.LastError)
	})
	// the bad-deploy lever at run time: body = field name, empty to clear
	mux.HandleFunc("PUT /config/corrupt", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64))
		if err := l.SetCorrupt(strings.TrimSpace(string(b))); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		writeJSON(w, map[string]string{"corrupt_field": l.Metrics().CorruptField})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		writeJSON(w, l.Metrics())
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Run(ctx)
	}()
	code := serve(ctx, *addr, mux, log, "loader")
	cancel()
	<-done
	return code
}

func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, name string) int {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		log.Error("listen", "addr", addr, "err", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info(name+" listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		log.Error("serve", "err", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", "err", err)
	}
	log.Info(name + " stopped")
	return 0
}

func durEnv(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return d
	}
	return def
}

func intEnv(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return n
	}
	return def
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
