// Package store holds the pipeline's SQL: connection pools, the idempotent
// migrations of the lake and the warehouse, and the reads and writes shared
// by the loader and pipelinectl.
//
// Lake (PostgreSQL), append-only:
//
//	raw_events(seq bigserial PK, event_id text UNIQUE, source text,
//	           received_at timestamptz, body jsonb)
//
// Writers serialise on a transaction-level advisory lock (LakeWriteLock), so
// sequence numbers become visible in commit order: a reader that has seen
// seq N has seen every committed row below N. Gaps (from ON CONFLICT DO
// NOTHING) are permanent and harmless.
//
// Warehouse (PostgreSQL): events, quarantine, pipeline_checkpoint,
// pipeline_control, pipeline_status. See Warehouse DDL below.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
)

// Advisory lock keys.
const (
	// LakeWriteLock serialises writers of raw_events (see package doc).
	LakeWriteLock = 7_100_001
	migrateLock   = 7_100_002
)

// CheckpointName is the row of pipeline_checkpoint the loader owns.
const CheckpointName = "loader"

// ErrCheckpointMoved is returned by WriteBatch when the checkpoint is no
// longer where the batch was read from (a wipe or another loader moved it).
// The batch was not applied; read again from the new checkpoint.
var ErrCheckpointMoved = errors.New("checkpoint moved under the batch")

// LakeDDL creates the lake schema.
const LakeDDL = `
CREATE TABLE IF NOT EXISTS raw_events (
	seq         bigserial PRIMARY KEY,
	event_id    text NOT NULL UNIQUE,
	source      text NOT NULL,
	received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	body        jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS raw_events_received_at ON raw_events (received_at);
`

// WarehouseDDL creates the warehouse schema.
const WarehouseDDL = `
CREATE TABLE IF NOT EXISTS events (
	event_id       text PRIMARY KEY,
	seq            bigint NOT NULL,
	source         text NOT NULL,
	ts             timestamptz NOT NULL,
	user_id        text NOT NULL,
	amount         numeric NOT NULL,
	kind           text NOT NULL DEFAULT '',
	received_at    timestamptz NOT NULL,
	schema_version int NOT NULL,
	loaded_at      timestamptz NOT NULL DEFAULT now(),
	deliveries     int NOT NULL DEFAULT 1,
	written_by     text NOT NULL DEFAULT 'loader'
);
ALTER TABLE events ADD COLUMN IF NOT EXISTS deliveries int NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN IF NOT EXISTS written_by text NOT NULL DEFAULT 'loader';
CREATE INDEX IF NOT EXISTS events_seq ON events (seq);
CREATE TABLE IF NOT EXISTS quarantine (
	event_id       text PRIMARY KEY,
	seq            bigint NOT NULL,
	source         text NOT NULL,
	received_at    timestamptz NOT NULL,
	reason         text NOT NULL,
	body           jsonb NOT NULL,
	schema_version int NOT NULL,
	quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS pipeline_checkpoint (
	name       text PRIMARY KEY,
	seq        bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pipeline_checkpoint (name, seq) VALUES ('loader', 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS pipeline_control (
	id             int PRIMARY KEY CHECK (id = 1),
	paused         boolean NOT NULL DEFAULT false,
	pause_reason   text NOT NULL DEFAULT '',
	schema_version int NOT NULL DEFAULT 1,
	generation     bigint NOT NULL DEFAULT 0,
	updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pipeline_control (id) VALUES (1) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS pipeline_status (
	id            int PRIMARY KEY CHECK (id = 1),
	state         text NOT NULL DEFAULT 'unknown',
	started_at    timestamptz,
	heartbeat_at  timestamptz,
	last_batch_at timestamptz,
	last_error    text NOT NULL DEFAULT '',
	last_error_at timestamptz
);
INSERT INTO pipeline_status (id) VALUES (1) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION pipeline_advance(old_seq bigint, new_seq bigint) RETURNS void AS $$
BEGIN
	UPDATE pipeline_checkpoint SET seq = new_seq, updated_at = now()
	 WHERE name = 'loader' AND seq = old_seq;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'checkpoint moved: expected %', old_seq USING ERRCODE = 'PF001';
	END IF;
END $$ LANGUAGE plpgsql;
`

// Open returns a pool for dsn with the pipeline's defaults: a bounded pool,
// short connect timeout, and lock/idle-transaction timeouts so a stuck peer
// never holds the lake write lock for long. It does not connect.
func Open(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse dsn: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	}
	rp := cfg.ConnConfig.RuntimeParams
	if _, ok := rp["lock_timeout"]; !ok {
		rp["lock_timeout"] = "5s"
	}
	if _, ok := rp["idle_in_transaction_session_timeout"]; !ok {
		rp["idle_in_transaction_session_timeout"] = "10s"
	}
	cfg.HealthCheckPeriod = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	return pool, nil
}

// present reports whether every relation (and function signature) exists.
// Migrations check it first so that a routine start or a pipelinectl call
// takes no DDL lock (CREATE INDEX IF NOT EXISTS would lock the table against
// writers even when the index exists).
func present(ctx context.Context, pool *pgxpool.Pool, rels, funcs, cols []string) (bool, error) {
	var ok bool
	err := pool.QueryRow(ctx, `SELECT
		(SELECT bool_and(to_regclass(r) IS NOT NULL) FROM unnest($1::text[]) r) AND
		coalesce((SELECT bool_and(to_regprocedure(f) IS NOT NULL) FROM unnest($2::text[]) f), true) AND
		coalesce((SELECT bool_and(EXISTS (SELECT 1 FROM pg_attribute
			WHERE attrelid = to_regclass(split_part(c, '.', 1)) AND attname = split_part(c, '.', 2) AND NOT attisdropped))
			FROM unnest($3::text[]) c), true)`,
		rels, funcs, cols).Scan(&ok)
	return ok, err
}

var (
	lakeObjects      = []string{"raw_events", "raw_events_received_at"}
	warehouseObjects = []string{"events", "events_seq", "quarantine", "pipeline_checkpoint", "pipeline_control", "pipeline_status"}
	warehouseFuncs   = []string{"pipeline_advance(bigint,bigint)"}
	// columns added after the first release: a warehouse without them is
	// migrated (ALTER TABLE ... ADD COLUMN IF NOT EXISTS)
	warehouseColumns = []string{"events.deliveries", "events.written_by"}
)

func migrate(ctx context.Context, pool *pgxpool.Pool, ddl string, rels, funcs, cols []string) error {
	if ok, err := present(ctx, pool, rels, funcs, cols); err != nil {
		return err
	} else if ok {
		return nil
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// MigrateLake creates the lake tables if they do not exist.
func MigrateLake(ctx context.Context, pool *pgxpool.Pool) error {
	if err := migrate(ctx, pool, LakeDDL, lakeObjects, nil, nil); err != nil {
		return fmt.Errorf("migrate lake: %w", err)
	}
	return nil
}

// MigrateWarehouse creates the warehouse tables if they do not exist.
func MigrateWarehouse(ctx context.Context, pool *pgxpool.Pool) error {
	if err := migrate(ctx, pool, WarehouseDDL, warehouseObjects, warehouseFuncs, warehouseColumns); err != nil {
		return fmt.Errorf("migrate warehouse: %w", err)
	}
	return nil
}

// IsUndefinedTable reports whether err says a table or function is missing
// (the database was replaced by an empty one): migrate again.
func IsUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42883")
}

// Control is the operator-owned row of pipeline_control plus the checkpoint.
type Control struct {
	Checkpoint    int64
	Paused        bool
	PauseReason   string
	SchemaVersion int
	Generation    int64 // bumped by resume; the loader clears its error state
}

// ReadControl reads the checkpoint and pipeline_control in one round trip.
func ReadControl(ctx context.Context, q Querier) (Control, error) {
	var c Control
	err := q.QueryRow(ctx, `SELECT k.seq, c.paused, c.pause_reason, c.schema_version, c.generation
		FROM pipeline_checkpoint k, pipeline_control c WHERE k.name = 'loader' AND c.id = 1`).
		Scan(&c.Checkpoint, &c.Paused, &c.PauseReason, &c.SchemaVersion, &c.Generation)
	if err != nil {
		return c, fmt.Errorf("read control: %w", err)
	}
	return c, nil
}

// Querier is satisfied by *pgxpool.Pool, *pgx.Conn and pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Batcher is satisfied by *pgxpool.Pool and *pgx.Conn.
type Batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Window selects lake rows. Zero values mean "unbounded".
type Window struct {
	AfterSeq int64     // seq > AfterSeq
	ToSeq    int64     // seq <= ToSeq when > 0
	FromTime time.Time // received_at >= FromTime
	ToTime   time.Time // received_at <= ToTime
	Source   string
	Limit    int
}

// ReadLake returns lake rows in the window, in seq order.
func ReadLake(ctx context.Context, q Querier, w Window) ([]schema.Row, error) {
	sql := `SELECT seq, event_id, source, received_at, body FROM raw_events WHERE seq > $1`
	args := []any{w.AfterSeq}
	if w.ToSeq > 0 {
		args = append(args, w.ToSeq)
		sql += fmt.Sprintf(" AND seq <= $%d", len(args))
	}
	if !w.FromTime.IsZero() {
		args = append(args, w.FromTime)
		sql += fmt.Sprintf(" AND received_at >= $%d", len(args))
	}
	if !w.ToTime.IsZero() {
		args = append(args, w.ToTime)
		sql += fmt.Sprintf(" AND received_at <= $%d", len(args))
	}
	if w.Source != "" {
		args = append(args, w.Source)
		sql += fmt.Sprintf(" AND source = $%d", len(args))
	}
	sql += " ORDER BY seq"
	if w.Limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", w.Limit)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read lake: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (schema.Row, error) {
		var x schema.Row
		err := r.Scan(&x.Seq, &x.EventID, &x.Source, &x.ReceivedAt, &x.Body)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read lake: %w", err)
	}
	return out, nil
}

// Lag describes what the loader has not loaded yet.
type Lag struct {
	Head      int64   // max(seq) in the lake, 0 when empty
	Events    int64   // rows with seq > checkpoint
	OldestAge float64 // seconds since received_at of the oldest unloaded row, 0 if none
}

// ReadLag measures the lake past checkpoint in one query.
func ReadLag(ctx context.Context, q Querier, checkpoint int64) (Lag, error) {
	var l Lag
	err := q.QueryRow(ctx, `SELECT
		(SELECT coalesce(max(seq), 0) FROM raw_events),
		count(*),
		coalesce(extract(epoch FROM clock_timestamp() - min(received_at)), 0)::float8
		FROM raw_events WHERE seq > $1`, checkpoint).Scan(&l.Head, &l.Events, &l.OldestAge)
	if err != nil {
		return l, fmt.Errorf("read lag: %w", err)
	}
	return l, nil
}

// Write is one atomic change of the warehouse.
type Write struct {
	// Advance, when set, moves the checkpoint from From to To in the same
	// transaction; if it is not at From the whole write fails with
	// ErrCheckpointMoved.
	Advance  *Advance
	Events   []schema.Event
	Rejected []schema.Rejected
	Version  int // schema version recorded on quarantine rows
	// Heartbeat, when set, records a successful loader batch in pipeline_status.
	Heartbeat bool
	// By names who writes (WriterLoader when empty). It decides the
	// delivery count of events that are already in the warehouse (see
	// Apply).
	By string
}

// Writers of the warehouse, recorded in events.written_by for the rows
// they insert.
const (
	WriterLoader   = "loader"
	WriterBackfill = "backfill"
	WriterRequeue  = "requeue"
)

// Advance is a checkpoint move.
type Advance struct{ From, To int64 }

// Apply writes w in one implicit transaction (one round trip): events are
// upserted (and leave quarantine), rejected rows are upserted into quarantine
// (and leave events), the checkpoint moves.
//
// events.deliveries counts how many times the loader delivered the event:
// 1 when it is inserted; the loader writing an event it already delivered
// (a batch replayed: only possible if the checkpoint and the rows are not
// committed together) adds 1. A repair (backfill, requeue) rewrites the row
// in place and leaves the count alone, and the loader's first delivery of
// a row a backfill wrote ahead of it does not count twice. In a healthy
// pipeline every count is 1.
func Apply(ctx context.Context, b Batcher, w Write) error {
	by := w.By
	if by == "" {
		by = WriterLoader
	}
	var batch pgx.Batch
	if w.Advance != nil {
		batch.Queue(`SELECT pipeline_advance($1, $2)`, w.Advance.From, w.Advance.To)
	}
	if len(w.Events) > 0 {
		queueEvents(&batch, w.Events, by)
	}
	if n := len(w.Rejected); n > 0 {
		ids := make([]string, n)
		seqs := make([]int64, n)
		sources := make([]string, n)
		recv := make([]time.Time, n)
		reasons := make([]string, n)
		bodies := make([]string, n)
		for i, r := range w.Rejected {
			ids[i], seqs[i], sources[i], recv[i] = r.Row.EventID, r.Row.Seq, r.Row.Source, r.Row.ReceivedAt
			reasons[i], bodies[i] = r.Reason, string(r.Row.Body)
		}
		batch.Queue(`INSERT INTO quarantine (event_id, seq, source, received_at, reason, body, schema_version)
			SELECT e, s, src, r, why, b::jsonb, $7 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[]) AS u(e, s, src, r, why, b)
			ON CONFLICT (event_id) DO UPDATE SET reason = EXCLUDED.reason, body = EXCLUDED.body,
				schema_version = EXCLUDED.schema_version, quarantined_at = now()`,
			ids, seqs, sources, recv, reasons, bodies, w.Version)
		batch.Queue(`DELETE FROM events WHERE event_id = ANY($1)`, ids)
	}
	if w.Heartbeat {
		batch.Queue(`UPDATE pipeline_status SET state = 'running', heartbeat_at = now(), last_batch_at = now() WHERE id = 1`)
	}
	if batch.Len() == 0 {
		return nil
	}
	err := b.SendBatch(ctx, &batch).Close()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "PF001" {
		return ErrCheckpointMoved
	}
	return err
}

// queueEvents queues the upsert of events (which then leave quarantine),
// written by by (see Apply for the delivery count).
func queueEvents(batch *pgx.Batch, events []schema.Event, by string) {
	n := len(events)
	ids := make([]string, n)
	seqs := make([]int64, n)
	sources := make([]string, n)
	ts := make([]time.Time, n)
	users := make([]string, n)
	amounts := make([]string, n)
	kinds := make([]string, n)
	recv := make([]time.Time, n)
	vers := make([]int32, n)
	for i, e := range events {
		ids[i], seqs[i], sources[i], ts[i] = e.EventID, e.Seq, e.Source, e.TS
		users[i], amounts[i], kinds[i], recv[i], vers[i] = e.UserID, e.Amount, e.Kind, e.ReceivedAt, int32(e.SchemaVersion)
	}
	batch.Queue(`INSERT INTO events (event_id, seq, source, ts, user_id, amount, kind, received_at, schema_version, written_by)
		SELECT *, $10::text FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[]::numeric[], $7::text[], $8::timestamptz[], $9::int[])
		ON CONFLICT (event_id) DO UPDATE SET seq = EXCLUDED.seq, source = EXCLUDED.source, ts = EXCLUDED.ts,
			user_id = EXCLUDED.user_id, amount = EXCLUDED.amount, kind = EXCLUDED.kind,
			received_at = EXCLUDED.received_at, schema_version = EXCLUDED.schema_version, loaded_at = now(),
			deliveries = events.deliveries + CASE WHEN $10::text = 'loader' AND events.written_by = 'loader' THEN 1 ELSE 0 END,
			written_by = CASE WHEN $10::text = 'loader' THEN 'loader' ELSE events.written_by END`,
		ids, seqs, sources, ts, users, amounts, kinds, recv, vers, by)
	batch.Queue(`DELETE FROM quarantine WHERE event_id = ANY($1)`, ids)
}

// Status is the loader's row of pipeline_status.
type Status struct {
	State       string     `json:"state"`
	StartedAt   *time.Time `json:"started_at"`
	HeartbeatAt *time.Time `json:"heartbeat_at"`
	LastBatchAt *time.Time `json:"last_batch_at"`
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
}

// ReadStatus reads pipeline_status.
func ReadStatus(ctx context.Context, q Querier) (Status, error) {
	var s Status
	err := q.QueryRow(ctx, `SELECT state, started_at, heartbeat_at, last_batch_at, last_error, last_error_at
		FROM pipeline_status WHERE id = 1`).Scan(&s.State, &s.StartedAt, &s.HeartbeatAt, &s.LastBatchAt, &s.LastError, &s.LastErrorAt)
	if err != nil {
		return s, fmt.Errorf("read status: %w", err)
	}
	return s, nil
}

// QuarantineSize counts quarantined events.
func QuarantineSize(ctx context.Context, q Querier) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM quarantine`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count quarantine: %w", err)
	}
	return n, nil
}
