// Command pipeline is the reference system of firedrill in one binary:
//
//	pipeline collector   [-addr :8080]   ingest API (LAKE_DSN)
//	pipeline loader      [-addr :8081]   lake → warehouse (LAKE_DSN, WAREHOUSE_DSN)
//	pipeline pipelinectl COMMAND ...     recovery tooling (see pipelinectl -h)
//
// See scenarios/pipeline/CONTRACT.md.
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

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/ctl"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

const usage = `usage: pipeline collector|loader|pipelinectl [flags]

  collector    [-addr :8080] [-lake-timeout 2s] [-plant DEFECT,...]
                                                           env LAKE_DSN, PIPELINE_PLANT
  loader       [-addr :8081] [-poll 50ms] [-batch 500] [-batch-max 2000] [-corrupt FIELD] [-plant DEFECT,...]
                                                           env LAKE_DSN, WAREHOUSE_DSN, LOADER_CORRUPT_FIELD, PIPELINE_PLANT
  pipelinectl  COMMAND [flags]                             env LAKE_DSN, WAREHOUSE_DSN, PIPELINE_PLANT (pipelinectl -h)

Planted defects (off by default; for drills that must catch them):
  ack-before-commit (collector), split-checkpoint (loader), backfill-whole-lake,
  wipe-keeps-checkpoint, requeue-drops-quarantine (pipelinectl)
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
	plants := fs.String("plant", os.Getenv(plant.Env), "planted defects, comma-separated (env "+plant.Env+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dsn == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "collector: LAKE_DSN (or -lake) is required and no arguments are accepted")
		return 2
	}
	planted, err := plant.Parse(*plants)
	if err != nil {
		fmt.Fprintln(stderr, "collector:", err)
		return 2
	}
	log := logger(stderr, "collector")
	lake, err := store.Open(ctx, *dsn, int32(*maxConns))
	if err != nil {
		log.Error("bad lake DSN", "err", err)
		return 2
	}
	defer lake.Close()
	srv := collector.New(lake, collector.Config{LakeTimeout: *lakeTimeout, Plant: planted, Log: log})
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

// loaderFlags are the loader subcommand's settings.
type loaderFlags struct {
	addr, lakeDSN, whDSN string
	cfg                  loader.Config
}

// parseLoaderFlags reads the loader's flags (and their environment
// defaults); false means the usage was wrong and has been reported.
func parseLoaderFlags(args []string, stderr io.Writer) (loaderFlags, bool) {
	var f loaderFlags
	fs := flag.NewFlagSet("loader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", envOr("LOADER_ADDR", ":8081"), "listen address for /healthz, /metrics and /metrics.json (env LOADER_ADDR)")
	fs.StringVar(&f.lakeDSN, "lake", os.Getenv("LAKE_DSN"), "lake DSN (env LAKE_DSN)")
	fs.StringVar(&f.whDSN, "warehouse", os.Getenv("WAREHOUSE_DSN"), "warehouse DSN (env WAREHOUSE_DSN)")
	fs.DurationVar(&f.cfg.Poll, "poll", durEnv("LOADER_POLL", 50*time.Millisecond), "poll interval when caught up (env LOADER_POLL)")
	fs.IntVar(&f.cfg.Batch, "batch", intEnv("LOADER_BATCH", 500), "rows per batch (env LOADER_BATCH)")
	fs.IntVar(&f.cfg.BatchMax, "batch-max", intEnv("LOADER_BATCH_MAX", 2000), "batches double while full up to this (env LOADER_BATCH_MAX)")
	fs.DurationVar(&f.cfg.OpTimeout, "op-timeout", 10*time.Second, "bound on one lake read or warehouse write; a hung database becomes an error (and backoff) after it")
	fs.StringVar(&f.cfg.Corrupt, "corrupt", os.Getenv("LOADER_CORRUPT_FIELD"), "bad deploy: corrupt this field (amount, user_id, ts, kind) (env LOADER_CORRUPT_FIELD)")
	plants := fs.String("plant", os.Getenv(plant.Env), "planted defects, comma-separated (env "+plant.Env+")")
	if err := fs.Parse(args); err != nil {
		return f, false
	}
	var err error
	if f.cfg.Plant, err = plant.Parse(*plants); err != nil {
		fmt.Fprintln(stderr, "loader:", err)
		return f, false
	}
	if f.lakeDSN == "" || f.whDSN == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "loader: LAKE_DSN and WAREHOUSE_DSN (or -lake, -warehouse) are required and no arguments are accepted")
		return f, false
	}
	if _, err := loader.Corrupter(f.cfg.Corrupt); err != nil {
		fmt.Fprintln(stderr, "loader:", err)
		return f, false
	}
	return f, true
}

func runLoader(ctx context.Context, args []string, stderr io.Writer) int {
	f, ok := parseLoaderFlags(args, stderr)
	if !ok {
		return 2
	}
	log := logger(stderr, "loader")
	lake, err := store.Open(ctx, f.lakeDSN, 4)
	if err != nil {
		log.Error("bad lake DSN", "err", err)
		return 2
	}
	defer lake.Close()
	wh, err := store.Open(ctx, f.whDSN, 4)
	if err != nil {
		log.Error("bad warehouse DSN", "err", err)
		return 2
	}
	defer wh.Close()
	f.cfg.Log = log
	l, err := loader.New(lake, wh, f.cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loader:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Run(ctx)
	}()
	code := serve(ctx, f.addr, loaderMux(l), log, "loader")
	cancel()
	<-done
	return code
}

// loaderMux is the loader's HTTP API: /healthz, /readyz, /metrics
// (Prometheus text), /metrics.json and the bad-deploy lever PUT
// /config/corrupt.
func loaderMux(l *loader.Loader) *http.ServeMux {
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
	mux.Handle("GET /metrics", l.PrometheusHandler())
	mux.HandleFunc("GET /metrics.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		writeJSON(w, l.Metrics())
	})
	return mux
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
