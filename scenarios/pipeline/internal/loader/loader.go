// Package loader moves events from the lake into the warehouse: it reads lake
// rows past its checkpoint in batches, applies the schema version in force,
// and in one warehouse transaction upserts the events, quarantines the rows
// that fail the schema and advances the checkpoint (effectively once). When
// the lake or the warehouse cannot be reached it retries with capped
// exponential backoff and jitter and reports its state; it never exits for
// that. It honours the operator's pause flag (pipeline_control.paused).
package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/backoff"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

// States reported by the loader.
const (
	StateStarting = "starting"
	StateRunning  = "running" // loading or caught up
	StateBackoff  = "backoff" // an error happened; waiting to retry
	StatePaused   = "paused"  // pipeline_control.paused is set
	StateStopped  = "stopped"
)

// Config configures a Loader.
type Config struct {
	Poll      time.Duration // wait between polls when caught up; default 50 ms
	Batch     int           // rows per batch; default 500
	BatchMax  int           // batches double while full, up to this; default 4×Batch
	OpTimeout time.Duration // bound on one lake read or warehouse write; default 10 s
	Heartbeat time.Duration // status write / quarantine count cadence; default 1 s
	// LagEvery is the cadence of the lag monitor, which measures the lake
	// past the committed checkpoint independently of the loading loop (so a
	// loader stuck on a hung database still reports growing lag); default 200 ms.
	LagEvery time.Duration
	Backoff  backoff.Policy
	// Corrupt names a field to corrupt while set (the bad-deploy drill):
	// "amount" (×100), "user_id" (upper-cased), "ts" (+1 h), "kind" ("corrupt").
	Corrupt string
	// Plant is the set of planted defects; the loader honours
	// plant.SplitCheckpoint.
	Plant plant.Set
	Log   *slog.Logger
}

// CorruptFields lists the values Config.Corrupt accepts.
var CorruptFields = []string{"amount", "user_id", "ts", "kind"}

// Loader is one loader process.
type Loader struct {
	lake, wh *pgxpool.Pool
	cfg      Config

	mu      sync.Mutex
	m       Metrics
	corrupt func(*schema.Event) // guarded by mu; see SetCorrupt
	// lag measurement and when it was taken
	lagAt time.Time
	// error state
	generation int64
	errPending bool // m.LastError not yet written to pipeline_status

	prom *promMetrics
	// With the planted plant.SplitCheckpoint: the lake seq loaded past the
	// committed checkpoint base (0: none), committed at the next heartbeat.
	ahead, aheadBase int64
}

// Metrics is the JSON document served at /metrics.json.
type Metrics struct {
	State            string     `json:"state"`
	Checkpoint       int64      `json:"checkpoint"`
	LakeHead         int64      `json:"lake_head"`
	LagEvents        int64      `json:"lag_events"`
	LagSeconds       float64    `json:"lag_seconds"`
	Quarantine       int64      `json:"quarantine"`
	LoadedTotal      int64      `json:"loaded_total"`
	QuarantinedTotal int64      `json:"quarantined_total"`
	BatchesTotal     int64      `json:"batches_total"`
	ErrorsTotal      int64      `json:"errors_total"`
	LastError        string     `json:"last_error"`
	LastErrorAt      *time.Time `json:"last_error_at"`
	LastBatchAt      *time.Time `json:"last_batch_at"`
	BackoffSeconds   float64    `json:"backoff_seconds"`
	SchemaVersion    int        `json:"schema_version"`
	Paused           bool       `json:"paused"`
	PauseReason      string     `json:"pause_reason,omitempty"`
	CorruptField     string     `json:"corrupt_field,omitempty"`
}

// New returns a loader; Run starts it.
func New(lake, warehouse *pgxpool.Pool, cfg Config) (*Loader, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.BatchMax < cfg.Batch {
		cfg.BatchMax = 4 * cfg.Batch
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 10 * time.Second
	}
	if cfg.LagEvery <= 0 {
		cfg.LagEvery = 200 * time.Millisecond
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Backoff == nil {
		cfg.Backoff = backoff.Default
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if _, err := Corrupter(cfg.Corrupt); err != nil {
		return nil, err
	}
	l := &Loader{lake: lake, wh: warehouse, cfg: cfg}
	l.m.State = StateStarting
	l.prom = newPromMetrics(l)
	if cfg.Plant.Has(plant.SplitCheckpoint) {
		cfg.Log.Warn("PLANTED DEFECT: committing rows and checkpoint in separate transactions", "defect", plant.SplitCheckpoint)
	}
	if err := l.SetCorrupt(cfg.Corrupt); err != nil {
		return nil, err
	}
	return l, nil
}

// Metrics returns a snapshot; lag_seconds is extrapolated to now while
// events are waiting.
func (l *Loader) Metrics() Metrics {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.m
	if m.LagEvents > 0 && !l.lagAt.IsZero() {
		m.LagSeconds += time.Since(l.lagAt).Seconds()
	}
	return m
}

// SetCorrupt switches the bad-deploy corruption at run time (field "" turns
// it off); it applies from the next batch. The loader's HTTP server exposes
// it as PUT /config/corrupt.
func (l *Loader) SetCorrupt(field string) error {
	c, err := Corrupter(field)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.corrupt, l.m.CorruptField = c, field
	l.mu.Unlock()
	if field != "" {
		l.cfg.Log.Warn("BAD DEPLOY: corrupting a field", "field", field)
	}
	return nil
}

// Corrupter returns the corruption for field ("" = none).
func Corrupter(field string) (func(*schema.Event), error) {
	switch field {
	case "":
		return nil, nil
	case "amount":
		return func(e *schema.Event) {
			r, ok := new(big.Rat).SetString(e.Amount)
			if !ok {
				return
			}
			e.Amount = r.Mul(r, big.NewRat(100, 1)).FloatString(6)
		}, nil
	case "user_id":
		return func(e *schema.Event) { e.UserID = strings.ToUpper(e.UserID) + "!" }, nil
	case "ts":
		return func(e *schema.Event) { e.TS = e.TS.Add(time.Hour) }, nil
	case "kind":
		return func(e *schema.Event) { e.Kind = "corrupt" }, nil
	}
	return nil, fmt.Errorf("unknown corrupt field %q (want one of %s)", field, strings.Join(CorruptFields, ", "))
}

// Run loads until ctx is done. It returns nil on cancellation; errors from
// the databases are retried, never returned.
func (l *Loader) Run(ctx context.Context) error {
	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan struct{})
	go func() { defer close(monDone); l.monitorLag(monCtx) }()
	defer func() { stopMon(); <-monDone }()
	st := runState{batch: l.cfg.Batch}
	// A batch or heartbeat under way when ctx ends is finished, not
	// cancelled (each is bounded by OpTimeout): a cancelled statement can
	// still commit on the server after the "stopped" state below is
	// written, and overwrite it.
	opCtx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		l.iterate(ctx, opCtx, &st)
	}
	l.stop(ctx)
	return nil
}

// runState is what the loading loop carries from one iteration to the next.
type runState struct {
	attempt  int       // consecutive failures so far
	migrated bool      // both databases migrated since the last undefined table
	batch    int       // rows to read next (doubles while batches are full)
	lastBeat time.Time // last successful heartbeat
}

// iterate is one turn of the loading loop: migrate when needed, load one
// batch, adapt the batch size, heartbeat when due, and wait for the next
// poll when caught up. Failures are recorded and backed off here.
func (l *Loader) iterate(ctx, opCtx context.Context, st *runState) {
	if !st.migrated {
		if err := l.migrate(ctx); err != nil {
			st.attempt = l.fail(ctx, st.attempt, err)
			return
		}
		st.migrated = true
		l.setStarted(ctx)
	}
	n, full, err := l.step(opCtx, st.batch)
	if err != nil {
		if errors.Is(err, store.ErrCheckpointMoved) {
			l.cfg.Log.Info("checkpoint moved (wipe or another loader); re-reading")
			return
		}
		if ctx.Err() != nil {
			return
		}
		l.retry(ctx, st, err)
		return
	}
	l.succeeded(st, full)
	if time.Since(st.lastBeat) >= l.cfg.Heartbeat {
		if err := l.heartbeat(opCtx); err != nil {
			l.retry(ctx, st, err)
			return
		}
		st.lastBeat = time.Now()
	}
	if n == 0 || !full {
		backoff.Sleep(ctx, l.cfg.Poll)
	}
}

// retry records a failed batch or heartbeat and backs off; an undefined
// table means the warehouse or lake was replaced by an empty one, so both
// are migrated again.
func (l *Loader) retry(ctx context.Context, st *runState, err error) {
	if store.IsUndefinedTable(err) {
		st.migrated = false
	}
	st.attempt = l.fail(ctx, st.attempt, err)
}

// succeeded clears the backoff after a batch and sizes the next one: doubled
// (up to BatchMax) after a full batch, back to Batch otherwise.
func (l *Loader) succeeded(st *runState, full bool) {
	st.attempt = 0
	l.mu.Lock()
	l.m.BackoffSeconds = 0
	l.mu.Unlock()
	if full {
		st.batch = min(st.batch*2, l.cfg.BatchMax)
	} else {
		st.batch = l.cfg.Batch
	}
}

// stop reports the stopped state, in the metrics and (best effort, within
// a second) in pipeline_status.
func (l *Loader) stop(ctx context.Context) {
	l.mu.Lock()
	l.m.State = StateStopped
	l.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = l.flushCheckpoint(wctx) // a graceful stop commits what it loaded ahead
	_, _ = l.wh.Exec(wctx, `UPDATE pipeline_status SET state = 'stopped', heartbeat_at = now() WHERE id = 1`)
}

func (l *Loader) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.OpTimeout)
	defer cancel()
	if err := store.MigrateLake(ctx, l.lake); err != nil {
		return err
	}
	return store.MigrateWarehouse(ctx, l.wh)
}

func (l *Loader) setStarted(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, _ = l.wh.Exec(ctx, `UPDATE pipeline_status SET state = 'starting', started_at = now(), heartbeat_at = now() WHERE id = 1`)
}

// fail records err, waits out the backoff and returns the next attempt.
func (l *Loader) fail(ctx context.Context, attempt int, err error) int {
	attempt++
	d := l.cfg.Backoff(attempt)
	now := time.Now().UTC()
	l.mu.Lock()
	l.m.State = StateBackoff
	l.m.LastError = err.Error()
	l.m.LastErrorAt = &now
	l.m.ErrorsTotal++
	l.m.BackoffSeconds = d.Seconds()
	l.errPending = true
	l.mu.Unlock()
	l.cfg.Log.Warn("loader error; backing off", "err", err, "attempt", attempt, "backoff", d)
	l.recordError(ctx) // lag keeps being measured by monitorLag meanwhile
	backoff.Sleep(ctx, d)
	return attempt
}

// recordError writes the pending error to pipeline_status, best effort (the
// warehouse may be the thing that is down; then the next heartbeat does it).
func (l *Loader) recordError(ctx context.Context) {
	l.mu.Lock()
	msg, at, pending := l.m.LastError, l.m.LastErrorAt, l.errPending
	state := l.m.State
	l.mu.Unlock()
	if !pending || at == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := l.wh.Exec(ctx, `UPDATE pipeline_status SET state = $1, last_error = $2, last_error_at = $3, heartbeat_at = now() WHERE id = 1`,
		state, msg, *at); err == nil {
		l.mu.Lock()
		if l.m.LastErrorAt == at {
			l.errPending = false
		}
		l.mu.Unlock()
	}
}

// step runs one batch. It returns the rows read and whether the batch was full.
func (l *Loader) step(ctx context.Context, batch int) (int, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.OpTimeout)
	defer cancel()
	ctl, err := l.readControl(ctx)
	if err != nil {
		return 0, false, err
	}
	if ctl.Paused {
		return 0, false, nil
	}
	if !schema.Valid(ctl.SchemaVersion) {
		return 0, false, fmt.Errorf("schema version %d in pipeline_control is unknown to this loader (latest %d)", ctl.SchemaVersion, schema.Latest)
	}
	ctl.Checkpoint = l.position(ctl.Checkpoint)
	rows, err := store.ReadLake(ctx, l.lake, store.Window{AfterSeq: ctl.Checkpoint, Limit: batch})
	if err != nil {
		return 0, false, fmt.Errorf("lake: %w", err)
	}
	if len(rows) == 0 {
		return 0, false, nil
	}
	to := rows[len(rows)-1].Seq
	ok, bad := l.transform(ctl.SchemaVersion, rows)
	if err := l.write(ctx, ctl, to, ok, bad); err != nil {
		return 0, false, err
	}
	l.loaded(to, len(ok), bad)
	full := len(rows) == batch
	if err := l.measure(ctx, to); err != nil {
		return len(rows), full, err
	}
	return len(rows), full, nil
}

// readControl reads pipeline_control and reflects it in the metrics: the
// checkpoint, schema version and pause flag, the running or paused state,
// and a new generation (a resume) clears the error state.
func (l *Loader) readControl(ctx context.Context) (store.Control, error) {
	ctl, err := store.ReadControl(ctx, l.wh)
	if err != nil {
		return ctl, fmt.Errorf("warehouse: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ctl.Generation != l.generation {
		// resume: forget the error state
		l.generation = ctl.Generation
		l.m.LastError, l.m.LastErrorAt, l.errPending = "", nil, false
	}
	l.m.Checkpoint, l.m.SchemaVersion = ctl.Checkpoint, ctl.SchemaVersion
	l.m.Paused, l.m.PauseReason = ctl.Paused, ctl.PauseReason
	if ctl.Paused {
		l.m.State = StatePaused
	} else {
		l.m.State = StateRunning
	}
	return ctl, nil
}

// transform applies schema version v to rows, then the bad deploy's
// corruption (if any) to the events that passed.
func (l *Loader) transform(v int, rows []schema.Row) ([]schema.Event, []schema.Rejected) {
	ok, bad := schema.Split(v, rows)
	l.mu.Lock()
	corrupt := l.corrupt
	l.mu.Unlock()
	if corrupt != nil {
		for i := range ok {
			corrupt(&ok[i])
		}
	}
	return ok, bad
}

// write stores a batch in one warehouse transaction: the events, the
// quarantined rows, and the checkpoint advanced from ctl's to to.
func (l *Loader) write(ctx context.Context, ctl store.Control, to int64, ok []schema.Event, bad []schema.Rejected) error {
	w := store.Write{
		Advance:   &store.Advance{From: ctl.Checkpoint, To: to},
		Events:    ok,
		Rejected:  bad,
		Version:   ctl.SchemaVersion,
		Heartbeat: true,
	}
	start := time.Now()
	var err error
	if l.cfg.Plant.Has(plant.SplitCheckpoint) {
		err = l.writeSplit(ctx, w)
	} else {
		err = store.Apply(ctx, l.wh, w)
	}
	l.prom.warehouseWrite.Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, store.ErrCheckpointMoved) {
			return err
		}
		return fmt.Errorf("warehouse: write batch: %w", err)
	}
	return nil
}

// writeSplit is the planted defect plant.SplitCheckpoint: the rows are
// committed now, the checkpoint later, in its own transaction at the next
// heartbeat (flushCheckpoint); a crash in between leaves rows the next
// loader delivers again.
func (l *Loader) writeSplit(ctx context.Context, w store.Write) error {
	adv := w.Advance
	w.Advance = nil
	if err := store.Apply(ctx, l.wh, w); err != nil {
		return err
	}
	l.mu.Lock()
	if l.ahead == 0 {
		l.aheadBase = adv.From
	}
	l.ahead = adv.To
	l.mu.Unlock()
	return nil
}

// position is where the next batch reads from: the committed checkpoint,
// or with the planted plant.SplitCheckpoint the position loaded ahead of
// it (forgotten when someone else moved the checkpoint, e.g. a wipe).
func (l *Loader) position(committed int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ahead == 0 {
		return committed
	}
	if committed != l.aheadBase {
		l.ahead, l.aheadBase = 0, 0
		return committed
	}
	return l.ahead
}

// flushCheckpoint commits the position loaded ahead (planted
// plant.SplitCheckpoint only; a no-op otherwise).
func (l *Loader) flushCheckpoint(ctx context.Context) error {
	l.mu.Lock()
	from, to := l.aheadBase, l.ahead
	l.mu.Unlock()
	if to == 0 {
		return nil
	}
	err := store.Apply(ctx, l.wh, store.Write{Advance: &store.Advance{From: from, To: to}})
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		if l.ahead == to {
			l.ahead, l.aheadBase = 0, 0
		} else {
			l.aheadBase = to
		}
		return nil
	case errors.Is(err, store.ErrCheckpointMoved):
		l.ahead, l.aheadBase = 0, 0
		return nil
	}
	return fmt.Errorf("warehouse: commit checkpoint: %w", err)
}

// loaded counts a committed batch: checkpoint to, loaded events and the
// quarantined rows.
func (l *Loader) loaded(to int64, loaded int, bad []schema.Rejected) {
	now := time.Now().UTC()
	l.mu.Lock()
	l.m.Checkpoint = to
	l.m.LoadedTotal += int64(loaded)
	l.m.QuarantinedTotal += int64(len(bad))
	l.m.BatchesTotal++
	l.m.LastBatchAt = &now
	l.mu.Unlock()
	if len(bad) > 0 {
		l.cfg.Log.Info("quarantined events", "count", len(bad), "first_reason", bad[0].Reason)
	}
}

// measure refreshes lag, lake head and quarantine size.
func (l *Loader) measure(ctx context.Context, checkpoint int64) error {
	if err := l.measureLake(ctx, checkpoint); err != nil {
		return err
	}
	q, err := store.QuarantineSize(ctx, l.wh)
	if err != nil {
		return fmt.Errorf("warehouse: %w", err)
	}
	l.mu.Lock()
	l.m.Quarantine = q
	l.mu.Unlock()
	return nil
}

// measureLake refreshes lag and lake head; it needs only the lake, so lag
// keeps being measured while the warehouse is away.
func (l *Loader) measureLake(ctx context.Context, checkpoint int64) error {
	lag, err := store.ReadLag(ctx, l.lake, checkpoint)
	if err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	l.mu.Lock()
	l.m.LakeHead, l.m.LagEvents, l.m.LagSeconds = lag.Head, lag.Events, lag.OldestAge
	l.lagAt = time.Now()
	l.mu.Unlock()
	if lag.Head < checkpoint {
		return fmt.Errorf("checkpoint %d is ahead of the lake head %d: was the lake replaced? (pipelinectl wipe --yes replays from the lake)", checkpoint, lag.Head)
	}
	return nil
}

// monitorLag measures the lake past the committed checkpoint every
// LagEvery until ctx ends. Failures keep the last measurement, which
// Metrics extrapolates.
func (l *Loader) monitorLag(ctx context.Context) {
	t := time.NewTicker(l.cfg.LagEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		cp, started := l.m.Checkpoint, l.m.State != StateStarting
		l.mu.Unlock()
		if !started {
			continue
		}
		mctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = l.measureLake(mctx, cp)
		cancel()
	}
}

// heartbeat refreshes the measurements and records liveness (and any pending
// error) in pipeline_status.
func (l *Loader) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.OpTimeout)
	defer cancel()
	if err := l.flushCheckpoint(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	cp, state := l.m.Checkpoint, l.m.State
	l.mu.Unlock()
	if err := l.measure(ctx, cp); err != nil {
		return err
	}
	if _, err := l.wh.Exec(ctx, `UPDATE pipeline_status SET state = $1, heartbeat_at = now() WHERE id = 1`, state); err != nil {
		return fmt.Errorf("warehouse: heartbeat: %w", err)
	}
	l.recordError(ctx)
	return nil
}
