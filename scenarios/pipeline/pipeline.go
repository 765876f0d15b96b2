// Package pipeline is the scenario of firedrill's reference system: an
// ingestion pipeline built for recovery (collector → lake → loader →
// warehouse, with pipelinectl as its recovery tooling), started in
// containers with every PostgreSQL connection routed through toxiproxy.
//
// Start hands back typed handles for drills: the containers and links to
// break, the ingest workload (an at-least-once client), a lag probe, a
// correctness probe, a completeness reader and the tooling as recovery
// steps. Start and its handles are the whole public surface: the system
// itself lives in internal/ (its application packages) and cmd/pipeline
// (the one binary, built into the image firedrill/pipeline); its contract is
// CONTRACT.md beside this file.
package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/recovery"
	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/kube"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/ctl"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/ingest"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/verify"
)

// Names of the containers and links of the system.
const (
	Lake      = "lake"
	Warehouse = "warehouse"
	Collector = "collector"
	Loader    = "loader"

	CollectorLake   = "collector-lake"
	LoaderLake      = "loader-lake"
	LoaderWarehouse = "loader-warehouse"
)

// Ports and path of the HTTP endpoints a Prometheus scrape reads: the
// collector and the loader serve their metrics in the text exposition
// format at MetricsPath (the loader's JSON document is at /metrics.json).
const (
	CollectorPort = "8080/tcp"
	LoaderPort    = "8081/tcp"
	MetricsPath   = "/metrics"
)

// System declares the pipeline. The lake commits synchronously, so killing
// its container never loses an acknowledged event. Defects, if any, are
// planted in the collector and the loader (PIPELINE_PLANT); the
// pipelinectl defects act where pipelinectl runs (Pipeline.RunCtl, or an
// Exec in the loader container, which inherits the variable).
func System(defects ...Defect) scenarios.System {
	planted := plant.Of(defects...).String()
	withPlant := func(env map[string]string) map[string]string {
		if planted != "" {
			env[plant.Env] = planted
		}
		return env
	}
	pg := func(name, db string, cmd ...string) scenarios.ContainerSpec {
		return scenarios.ContainerSpec{
			Name: name, Image: scenarios.Image(scenarios.ImagePostgres),
			Env:   map[string]string{"POSTGRES_DB": db},
			Cmd:   cmd,
			Ports: []string{"5432/tcp"},
			Ready: scenarios.ReadyLog("database system is ready to accept connections"),
		}
	}
	dsn := func(link, db string) string {
		return "postgres://postgres@${link:" + link + "}/" + db + "?sslmode=disable"
	}
	return scenarios.System{
		Name: "pipeline",
		Containers: []scenarios.ContainerSpec{
			pg(Lake, "lake", "-c", "synchronous_commit=on"),
			pg(Warehouse, "warehouse"),
			{
				Name: Collector, Image: scenarios.Image(scenarios.ImagePipeline), Cmd: []string{"collector"},
				Env:   withPlant(map[string]string{"LAKE_DSN": dsn(CollectorLake, "lake")}),
				Ports: []string{CollectorPort},
				Ready: scenarios.ReadyHTTP(CollectorPort, "/readyz"),
			},
			{
				Name: Loader, Image: scenarios.Image(scenarios.ImagePipeline), Cmd: []string{"loader"},
				Env: withPlant(map[string]string{
					"LAKE_DSN":      dsn(LoaderLake, "lake"),
					"WAREHOUSE_DSN": dsn(LoaderWarehouse, "warehouse"),
				}),
				Ports: []string{LoaderPort},
				Ready: scenarios.ReadyHTTP(LoaderPort, "/readyz"),
			},
		},
		Links: []scenarios.LinkSpec{
			{Name: CollectorLake, From: Collector, To: Lake, Port: "5432/tcp"},
			{Name: LoaderLake, From: Loader, To: Lake, Port: "5432/tcp"},
			{Name: LoaderWarehouse, From: Loader, To: Warehouse, Port: "5432/tcp"},
		},
	}
}

// Pipeline is a running pipeline and its handles.
type Pipeline struct {
	// Running is the system on Docker (Start); Kube on Kubernetes
	// (StartKube). One of them is nil.
	Running *scenarios.Running
	Kube    *kube.Running

	Lake, Warehouse, Collector, Loader *scenarios.Container
	// Links through toxiproxy: collector→lake, loader→lake, loader→warehouse.
	CollectorLake, LoaderLake, LoaderWarehouse *scenarios.Link

	// CollectorURL and LoaderURL are the HTTP endpoints on 127.0.0.1 (the
	// loader's is looked up again when it has been restarted).
	CollectorURL, LoaderURL string
	// LakeDSN and WarehouseDSN reach the databases directly from the host
	// (not through the links): the operator's view, used by pipelinectl
	// steps and the integrity readers.
	LakeDSN, WarehouseDSN string
	// PrometheusURL and AlertmanagerURL are the monitoring's APIs on
	// 127.0.0.1 (empty without WithMonitoring).
	PrometheusURL, AlertmanagerURL string

	lake, wh *pgxpool.Pool
	http     *http.Client
	mu       sync.Mutex // guards LoaderURL after a restart
	// poisonEvery, when > 0, makes Ingest send every n-th event as poison
	// (see PoisonTraffic).
	poisonEvery atomic.Int64
	// ingests numbers the Ingest workloads, so each has its own event ids.
	ingests atomic.Int64
	// defects are the planted defects (PIPELINE_PLANT of RunCtl too).
	defects plant.Set
}

// Start starts the pipeline for a test; everything is torn down when the
// test ends, however it ends. It fails the test when the system cannot start
// (or an option is invalid) and, like scenarios.Start, skips it under
// -short.
func Start(tb testing.TB, opts ...Option) *Pipeline {
	tb.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		tb.Fatalf("start pipeline: %v", err)
	}
	sys, err := cfg.system()
	if err != nil {
		tb.Fatalf("start pipeline: %v", err)
	}
	r := scenarios.Start(tb, sys, cfg.scenario...)
	p, err := handles(tb.Context(), r, cfg)
	if p != nil {
		tb.Cleanup(p.close)
	}
	if err != nil {
		tb.Fatalf("start pipeline: %v", err)
	}
	return p
}

// StartContext starts the pipeline outside a test. Close it with Close,
// also when an error is returned with a non-nil Pipeline.
func StartContext(ctx context.Context, opts ...Option) (*Pipeline, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return &Pipeline{}, fmt.Errorf("start pipeline: %w", err)
	}
	sys, err := cfg.system()
	if err != nil {
		return &Pipeline{}, fmt.Errorf("start pipeline: %w", err)
	}
	r, err := scenarios.StartContext(ctx, sys, cfg.scenario...)
	if err != nil {
		return &Pipeline{Running: r}, fmt.Errorf("start pipeline: %w", err)
	}
	p, err := handles(ctx, r, cfg)
	if err != nil {
		return p, fmt.Errorf("start pipeline: %w", err)
	}
	return p, nil
}

// Close releases the database pools and tears the system down.
func (p *Pipeline) Close(ctx context.Context) error {
	p.close()
	if p.Kube != nil {
		return p.Kube.Close(ctx)
	}
	if p.Running == nil {
		return nil
	}
	return p.Running.Close(ctx)
}

func (p *Pipeline) close() {
	if p.lake != nil {
		p.lake.Close()
	}
	if p.wh != nil {
		p.wh.Close()
	}
}

func handles(ctx context.Context, r *scenarios.Running, cfg config) (*Pipeline, error) {
	p := &Pipeline{
		defects:         cfg.defects,
		Running:         r,
		Lake:            r.Container(Lake),
		Warehouse:       r.Container(Warehouse),
		Collector:       r.Container(Collector),
		Loader:          r.Container(Loader),
		CollectorLake:   r.Link(CollectorLake),
		LoaderLake:      r.Link(LoaderLake),
		LoaderWarehouse: r.Link(LoaderWarehouse),
		http:            &http.Client{Timeout: 2 * time.Second},
	}
	ep := func(c *scenarios.Container, port string) (string, error) {
		if c == nil {
			return "", errors.New("container missing from the running system")
		}
		return c.Endpoint(ctx, port)
	}
	col, err := ep(p.Collector, CollectorPort)
	if err != nil {
		return p, fmt.Errorf("collector endpoint: %w", err)
	}
	ld, err := ep(p.Loader, LoaderPort)
	if err != nil {
		return p, fmt.Errorf("loader endpoint: %w", err)
	}
	lk, err := ep(p.Lake, "5432/tcp")
	if err != nil {
		return p, fmt.Errorf("lake endpoint: %w", err)
	}
	wh, err := ep(p.Warehouse, "5432/tcp")
	if err != nil {
		return p, fmt.Errorf("warehouse endpoint: %w", err)
	}
	p.CollectorURL, p.LoaderURL = "http://"+col, "http://"+ld
	p.LakeDSN = "postgres://postgres@" + lk + "/lake?sslmode=disable"
	p.WarehouseDSN = "postgres://postgres@" + wh + "/warehouse?sslmode=disable"
	if p.lake, err = store.Open(ctx, p.LakeDSN, 4); err != nil {
		return p, fmt.Errorf("open lake from the host: %w", err)
	}
	if p.wh, err = store.Open(ctx, p.WarehouseDSN, 4); err != nil {
		return p, fmt.Errorf("open warehouse from the host: %w", err)
	}
	if cfg.monitoring {
		if p.PrometheusURL, err = r.PrometheusURL(ctx); err != nil {
			return p, err
		}
		if p.AlertmanagerURL, err = r.AlertmanagerURL(ctx); err != nil {
			return p, err
		}
	}
	return p, nil
}

// IngestOption configures Ingest. Options are applied over the defaults,
// in order, and the result is validated; an option that fails makes the
// workload invalid, which its Validate (and so the drill engine) reports.
type IngestOption func(*ingestConfig) error

type ingestConfig struct {
	prefix  string
	poison  func(seq uint64) bool
	timeout time.Duration
	source  string
}

// WithPoison makes request seq send a poison event (its amount a string:
// quarantined by schema version 1, accepted by version 2) when poison(seq);
// nil sends none.
func WithPoison(poison func(seq uint64) bool) IngestOption {
	return func(c *ingestConfig) error { c.poison = poison; return nil }
}

// WithRequestTimeout bounds each request, retries included (default 2s;
// must be positive). A request still unacknowledged then is a failure: its
// event is not acknowledged (it may still land; that is not a loss).
func WithRequestTimeout(d time.Duration) IngestOption {
	return func(c *ingestConfig) error {
		if d <= 0 {
			return fmt.Errorf("request timeout %v: must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithIDPrefix sets the prefix of event ids (default: a per-call unique
// one; must not be empty).
func WithIDPrefix(prefix string) IngestOption {
	return func(c *ingestConfig) error {
		if prefix == "" {
			return errors.New("id prefix: must not be empty")
		}
		c.prefix = prefix
		return nil
	}
}

// ingestOptions applies opts over the defaults of the n-th Ingest workload.
func ingestOptions(n int64, opts []IngestOption) (ingestConfig, error) {
	cfg := ingestConfig{
		prefix:  fmt.Sprintf("ev%d-%d", os.Getpid(), n),
		timeout: 2 * time.Second,
		source:  "drill",
	}
	var errs []error
	for _, o := range opts {
		errs = append(errs, o(&cfg))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("configure ingest: %w", err)
	}
	return cfg, nil
}

// Ingest is the open-model ingest workload: request seq posts one event
// (id "<prefix>-<seq>") and, as an at-least-once client does, retries it
// with the same id on 503 or a network error until it is acknowledged or the
// request times out. The acknowledged id is the event id.
func (p *Pipeline) Ingest(pacer load.Pacer, opts ...IngestOption) load.Workload {
	cfg, err := ingestOptions(p.ingests.Add(1), opts)
	client := &ingest.Client{
		URL:           p.CollectorURL,
		HTTP:          load.NewClient(0),
		MaxRetryAfter: 200 * time.Millisecond,
	}
	op := func(ctx context.Context, seq uint64) (string, error) {
		id := fmt.Sprintf("%s-%d", cfg.prefix, seq)
		poison := cfg.poison != nil && cfg.poison(seq)
		if n := p.poisonEvery.Load(); n > 0 && seq%uint64(n) == 0 {
			poison = true
		}
		ev := ingest.NewEvent(id, cfg.source, time.Now(), fmt.Sprintf("u%d", seq%97), int64(seq%100000), poison)
		ids, _, err := client.Send(ctx, []ingest.Event{ev})
		if err != nil {
			return "", err
		}
		if len(ids) != 1 || ids[0] != id {
			return "", fmt.Errorf("collector acknowledged %v, want [%s]", ids, id)
		}
		return id, nil
	}
	lopts := []load.Option{load.WithName("ingest"), load.WithTimeout(cfg.timeout)}
	if err != nil {
		// load.New keeps a failed option's error for Validate, which
		// keeps Ingest usable inside a drill's struct literal.
		lopts = append(lopts, func(*load.Workload) error { return err })
	}
	return load.New(pacer, op, lopts...)
}

// loaderDo sends a request to the loader's HTTP port. Docker maps a new
// host port when a container is started again (after a crash drill), so a
// failed request looks the endpoint up again and is retried once there.
func (p *Pipeline) loaderDo(ctx context.Context, method, path, body string) (*http.Response, error) {
	do := func(base string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		return p.http.Do(req)
	}
	p.mu.Lock()
	base := p.LoaderURL
	p.mu.Unlock()
	resp, err := do(base)
	if err == nil || p.Loader == nil {
		return resp, err
	}
	ep, epErr := p.Loader.Endpoint(ctx, LoaderPort)
	if epErr != nil || "http://"+ep == base {
		return nil, err
	}
	p.mu.Lock()
	p.LoaderURL = "http://" + ep
	p.mu.Unlock()
	return do("http://" + ep)
}

// Metrics is the loader's /metrics.json document: State ("starting",
// "running", "backoff", "paused" or "stopped"), Checkpoint, LakeHead,
// LagEvents and LagSeconds, Quarantine, the counters LoadedTotal,
// QuarantinedTotal, BatchesTotal and ErrorsTotal, LastError and
// LastErrorAt, LastBatchAt, BackoffSeconds, SchemaVersion, Paused and
// PauseReason, and CorruptField (the bad deploy in force, if any).
type Metrics = loader.Metrics

// Diff is the difference between the warehouse and schema(lake), by event
// id: LakeRows, Events and Quarantined count what was compared; Missing,
// Extra and Wrong list the events lost, foreign or corrupt; QuarantineWrong
// lists the rows misfiled in or out of quarantine. Empty reports that there
// is no difference; String summarises it.
type Diff = verify.Diff

// Metrics reads the loader's /metrics.json.
func (p *Pipeline) Metrics(ctx context.Context) (Metrics, error) {
	var m Metrics
	resp, err := p.loaderDo(ctx, http.MethodGet, "/metrics.json", "")
	if err != nil {
		return m, fmt.Errorf("read loader metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("read loader metrics: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return m, fmt.Errorf("decode loader metrics: %w", err)
	}
	return m, nil
}

// Lag is the freshness probe: the age in seconds of the oldest event not yet
// in the warehouse (0 when caught up), as the loader reports it.
func (p *Pipeline) Lag() slo.Probe {
	return slo.NewProbe("lag_s", "s", func(ctx context.Context) (float64, error) {
		m, err := p.Metrics(ctx)
		if err != nil {
			return 0, err
		}
		return m.LagSeconds, nil
	})
}

// Quarantine is the probe of how many events are in quarantine, as the
// loader last counted them (about once a second).
func (p *Pipeline) Quarantine() slo.Probe {
	return slo.NewProbe("quarantine", "events", func(ctx context.Context) (float64, error) {
		m, err := p.Metrics(ctx)
		if err != nil {
			return 0, err
		}
		return float64(m.Quarantine), nil
	}).WithStaleness(time.Second) // the loader recounts about once a second
}

// OverdueAfter is how old a lake event past the loader's checkpoint may be
// before the correctness probe counts it as missing from the warehouse:
// the freshness objective of the reference drills.
const OverdueAfter = 2 * time.Second

// Wrong is the correctness probe: how many rows of the warehouse differ
// from the schema (version v) applied to the lake. It counts, in one
// warehouse snapshot, the rows up to the loader's checkpoint that are
// wrong, missing, foreign, misfiled or delivered more than once, plus the
// lake events past the checkpoint older than OverdueAfter (so a warehouse
// just wiped, checkpoint 0, reads as the whole lake missing until it is
// rebuilt, not as correct). Non-zero means wrong or incomplete data is
// being served.
func (p *Pipeline) Wrong(v int) slo.Probe {
	return slo.NewProbe("wrong_rows", "rows", func(ctx context.Context) (float64, error) {
		d, cp, err := verify.CompareAtCheckpoint(ctx, p.lake, p.wh, v)
		if err != nil {
			return 0, err
		}
		overdue, err := verify.Overdue(ctx, p.lake, cp, OverdueAfter)
		if err != nil {
			return 0, err
		}
		bad := len(d.Wrong) + len(d.Missing) + len(d.Extra) + len(d.QuarantineWrong) + len(d.Duplicated)
		return float64(bad) + float64(overdue), nil
	}).WithEvery(250 * time.Millisecond).WithTimeout(2 * time.Second)
}

// Landed is the completeness reader: every event id in the warehouse or in
// quarantine (an acknowledged event is accounted for when it is in one of
// them). A warehouse event is returned once per delivery (its delivery
// count: 1 in a healthy pipeline, 2 after the loader replayed it), and an
// id filed in both tables is returned twice: either counts as duplicated.
func (p *Pipeline) Landed(ctx context.Context) ([]string, error) {
	ev, err := verify.Landed(ctx, p.wh)
	if err != nil {
		return nil, fmt.Errorf("read warehouse events: %w", err)
	}
	q, err := verify.Quarantined(ctx, p.wh)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	return append(ev, q...), nil
}

// Diff compares the whole warehouse with schema version v applied to the
// whole lake (meant for after catch-up).
func (p *Pipeline) Diff(ctx context.Context, v int) (Diff, error) {
	return verify.Compare(ctx, p.lake, p.wh, v, -1)
}

// Ctl is the recovery step "pipelinectl ARGS...", run as an operator would
// from a workstation: against the databases' host endpoints, with --json.
// A non-zero exit fails the step with the tool's output.
func (p *Pipeline) Ctl(args ...string) *recovery.Action {
	name := "pipelinectl " + strings.Join(args, " ")
	return recovery.Func(name, func(ctx context.Context) (string, error) {
		return p.RunCtl(ctx, args...)
	})
}

// RunCtl runs pipelinectl ARGS... --json and returns its output; a non-zero
// exit is an error carrying the exit code and stderr.
func (p *Pipeline) RunCtl(ctx context.Context, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	env := func(k string) string {
		switch k {
		case "LAKE_DSN":
			return p.LakeDSN
		case "WAREHOUSE_DSN":
			return p.WarehouseDSN
		case plant.Env:
			return p.defects.String()
		}
		return ""
	}
	full := append([]string{"--json"}, args...)
	code := ctl.Main(ctx, full, &out, &errOut, env)
	combined := strings.TrimSpace(out.String() + "\n" + errOut.String())
	if code != 0 {
		return combined, fmt.Errorf("pipelinectl %s: exit %d", strings.Join(args, " "), code)
	}
	return combined, nil
}

// RestartLoader is the recovery step that starts the loader container again
// (after a crash) and waits until it is ready.
func (p *Pipeline) RestartLoader() *recovery.Action {
	return recovery.Func("start loader", func(ctx context.Context) (string, error) {
		st, err := p.Loader.State(ctx)
		if err != nil {
			return "", fmt.Errorf("inspect loader: %w", err)
		}
		if !st.Running {
			if err := p.Loader.Start(ctx); err != nil {
				return "", fmt.Errorf("start loader: %w", err)
			}
		}
		if err := p.Loader.WaitReady(ctx); err != nil {
			return "", fmt.Errorf("loader not ready: %w", err)
		}
		return "loader running and ready", nil
	})
}

// SetCorrupt is the bad-deploy lever: while field is set ("amount",
// "user_id", "ts", "kind") the loader corrupts it in every event it writes;
// an empty field rolls the bad deploy back.
func (p *Pipeline) SetCorrupt(ctx context.Context, field string) error {
	resp, err := p.loaderDo(ctx, http.MethodPut, "/config/corrupt", field)
	if err != nil {
		return fmt.Errorf("set loader corrupt field %q: %w", field, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set loader corrupt field %q: status %d: %s", field, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
