package ctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

// StatusReport is the output of status.
type StatusReport struct {
	OK              bool         `json:"ok"`
	Degraded        []string     `json:"degraded"`
	LakeHead        int64        `json:"lake_head"`
	Checkpoint      int64        `json:"checkpoint"`
	LagEvents       int64        `json:"lag_events"`
	LagSeconds      float64      `json:"lag_seconds"`
	Quarantine      int64        `json:"quarantine"`
	WarehouseEvents int64        `json:"warehouse_events"`
	Paused          bool         `json:"paused"`
	PauseReason     string       `json:"pause_reason"`
	SchemaVersion   int          `json:"schema_version"`
	Loader          store.Status `json:"loader"`
	LakeError       string       `json:"lake_error,omitempty"`
	WarehouseError  string       `json:"warehouse_error,omitempty"`
}

// Text renders the report for a terminal.
func (r StatusReport) Text() string {
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = "DEGRADED"
	}
	if r.LakeError != "" || r.WarehouseError != "" {
		verdict = "UNKNOWN"
	}
	fmt.Fprintf(&b, "pipeline: %s\n", verdict)
	for _, d := range r.Degraded {
		fmt.Fprintf(&b, "  ! %s\n", d)
	}
	if r.LakeError != "" {
		fmt.Fprintf(&b, "  lake error:      %s\n", r.LakeError)
	}
	if r.WarehouseError != "" {
		fmt.Fprintf(&b, "  warehouse error: %s\n", r.WarehouseError)
	}
	if r.LakeError == "" {
		fmt.Fprintf(&b, "lake head:       %d\ncheckpoint:      %d\nlag:             %d events, %.3fs\n", r.LakeHead, r.Checkpoint, r.LagEvents, r.LagSeconds)
	} else {
		fmt.Fprintf(&b, "lake head:       unknown\ncheckpoint:      %d\nlag:             unknown\n", r.Checkpoint)
	}
	fmt.Fprintf(&b, "warehouse:       %d events\nquarantine:      %d\nschema version:  %d\n", r.WarehouseEvents, r.Quarantine, r.SchemaVersion)
	fmt.Fprintf(&b, "paused:          %v %s\nloader state:    %s (heartbeat %s)\n", r.Paused, r.PauseReason, r.Loader.State, fmtTime(r.Loader.HeartbeatAt))
	if r.Loader.LastError != "" {
		fmt.Fprintf(&b, "last error:      %s (at %s)\n", r.Loader.LastError, fmtTime(r.Loader.LastErrorAt))
	}
	return b.String()
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (cmd *command) status(ctx context.Context) (any, int, error) {
	r := StatusReport{Degraded: []string{}}
	var errs []string
	wh, err := store.Open(ctx, cmd.c.warehouse, 2)
	if err == nil {
		defer wh.Close()
		err = store.MigrateWarehouse(ctx, wh)
	}
	if err == nil {
		err = func() error {
			ctl, err := store.ReadControl(ctx, wh)
			if err != nil {
				return err
			}
			r.Checkpoint, r.Paused, r.PauseReason, r.SchemaVersion = ctl.Checkpoint, ctl.Paused, ctl.PauseReason, ctl.SchemaVersion
			if r.Loader, err = store.ReadStatus(ctx, wh); err != nil {
				return err
			}
			if r.Quarantine, err = store.QuarantineSize(ctx, wh); err != nil {
				return err
			}
			return wh.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&r.WarehouseEvents)
		}()
	}
	if err != nil {
		r.WarehouseError = err.Error()
		errs = append(errs, "warehouse: "+err.Error())
	}
	lake, err := store.Open(ctx, cmd.c.lake, 2)
	if err == nil {
		defer lake.Close()
		err = store.MigrateLake(ctx, lake)
	}
	if err == nil {
		var lag store.Lag
		if lag, err = store.ReadLag(ctx, lake, r.Checkpoint); err == nil {
			r.LakeHead, r.LagEvents, r.LagSeconds = lag.Head, lag.Events, lag.OldestAge
		}
	}
	if err != nil {
		r.LakeError = err.Error()
		errs = append(errs, "lake: "+err.Error())
	}
	if r.WarehouseError == "" {
		r.Degraded = cmd.degraded(r, time.Now())
	}
	r.OK = len(r.Degraded) == 0 && len(errs) == 0
	if len(errs) > 0 {
		return r, ExitFailure, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if len(r.Degraded) > 0 {
		return r, ExitDegraded, nil
	}
	return r, ExitOK, nil
}

// degraded lists what is wrong, given a report whose warehouse part is known.
func (cmd *command) degraded(r StatusReport, now time.Time) []string {
	d := []string{}
	if r.Paused {
		d = append(d, "loader paused: "+r.PauseReason+" (pipelinectl resume)")
	}
	if r.Quarantine > 0 {
		d = append(d, fmt.Sprintf("%d events in quarantine (fix the schema, then pipelinectl requeue-quarantine)", r.Quarantine))
	}
	if r.LakeError == "" && r.LakeHead < r.Checkpoint {
		d = append(d, fmt.Sprintf("checkpoint %d ahead of lake head %d (pipelinectl wipe --yes replays the lake)", r.Checkpoint, r.LakeHead))
	}
	if cmd.maxLagSeconds > 0 && r.LagSeconds > cmd.maxLagSeconds {
		d = append(d, fmt.Sprintf("lag %.1fs exceeds %.1fs", r.LagSeconds, cmd.maxLagSeconds))
	}
	if cmd.maxLagEvents > 0 && r.LagEvents > cmd.maxLagEvents {
		d = append(d, fmt.Sprintf("lag %d events exceeds %d", r.LagEvents, cmd.maxLagEvents))
	}
	s := r.Loader
	if s.LastError != "" && s.LastErrorAt != nil && (s.LastBatchAt == nil || s.LastErrorAt.After(*s.LastBatchAt)) {
		d = append(d, "loader error: "+s.LastError)
	}
	if cmd.maxHeartbeatAge > 0 && s.State != "stopped" {
		if s.HeartbeatAt == nil {
			d = append(d, "loader has never reported (is it running?)")
		} else if age := now.Sub(*s.HeartbeatAt); age > cmd.maxHeartbeatAge {
			d = append(d, fmt.Sprintf("loader heartbeat %.1fs old (is it running?)", age.Seconds()))
		}
	}
	if s.State == "stopped" && r.LagEvents > 0 {
		d = append(d, "loader stopped with events waiting")
	}
	return d
}

// Done is the output of the commands that change state.
type Done struct {
	OK      bool   `json:"ok"`
	Command string `json:"command"`
	Message string `json:"message"`
	// pause/resume/schema
	Paused        *bool `json:"paused,omitempty"`
	SchemaVersion int   `json:"schema_version,omitempty"`
	LatestSchema  int   `json:"latest_schema,omitempty"`
	// backfill / requeue / wipe
	Rows          int64   `json:"rows"`
	Loaded        int64   `json:"loaded"`
	Quarantined   int64   `json:"quarantined"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
	FirstSeq      int64   `json:"first_seq,omitempty"`
	LastSeq       int64   `json:"last_seq,omitempty"`
}

// Text renders the result.
func (d Done) Text() string { return d.Message + "\n" }

func (cmd *command) pauseResume(ctx context.Context) (any, int, error) {
	cs, err := cmd.open(ctx, false)
	defer cs.close()
	if err != nil {
		return nil, ExitFailure, err
	}
	paused := cmd.name == "pause"
	if paused {
		_, err = cs.wh.Exec(ctx, `UPDATE pipeline_control SET paused = true, pause_reason = $1, updated_at = now() WHERE id = 1`, cmd.reason)
	} else {
		err = pgx.BeginFunc(ctx, cs.wh, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE pipeline_control SET paused = false, pause_reason = '', generation = generation + 1, updated_at = now() WHERE id = 1`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE pipeline_status SET last_error = '', last_error_at = NULL WHERE id = 1`)
			return err
		})
	}
	if err != nil {
		return nil, ExitFailure, err
	}
	msg := "loader paused: " + cmd.reason
	if !paused {
		msg = "loader resumed; error state cleared"
	}
	return Done{OK: true, Command: cmd.name, Message: msg, Paused: &paused}, ExitOK, nil
}

func (cmd *command) schema(ctx context.Context) (any, int, error) {
	cs, err := cmd.open(ctx, false)
	defer cs.close()
	if err != nil {
		return nil, ExitFailure, err
	}
	if cmd.set != 0 {
		if _, err := cs.wh.Exec(ctx, `UPDATE pipeline_control SET schema_version = $1, updated_at = now() WHERE id = 1`, cmd.set); err != nil {
			return nil, ExitFailure, err
		}
	}
	ctl, err := store.ReadControl(ctx, cs.wh)
	if err != nil {
		return nil, ExitFailure, err
	}
	msg := fmt.Sprintf("schema version %d in force (this binary knows 1..%d)", ctl.SchemaVersion, schema.Latest)
	return Done{OK: true, Command: "schema", Message: msg, SchemaVersion: ctl.SchemaVersion, LatestSchema: schema.Latest}, ExitOK, nil
}

func (cmd *command) backfill(ctx context.Context) (any, int, error) {
	cs, err := cmd.open(ctx, true)
	defer cs.close()
	if err != nil {
		return nil, ExitFailure, err
	}
	version, err := schemaInForce(ctx, cs.wh)
	if err != nil {
		return nil, ExitFailure, err
	}
	w := cmd.backfillWindow()
	d := Done{OK: true, Command: "backfill", SchemaVersion: version}
	start := time.Now()
	if w.ToSeq >= 0 {
		for {
			rows, err := store.ReadLake(ctx, cs.lake, w)
			if err != nil {
				return partial(d, start), ExitFailure, err
			}
			if len(rows) == 0 {
				break
			}
			ok, bad := schema.Split(version, rows)
			if err := store.Apply(ctx, cs.wh, store.Write{Events: ok, Rejected: bad, Version: version, By: store.WriterBackfill}); err != nil {
				return partial(d, start), ExitFailure, fmt.Errorf("write warehouse: %w", err)
			}
			if d.FirstSeq == 0 {
				d.FirstSeq = rows[0].Seq
			}
			d.LastSeq = rows[len(rows)-1].Seq
			d.Rows += int64(len(rows))
			d.Loaded += int64(len(ok))
			d.Quarantined += int64(len(bad))
			w.AfterSeq = d.LastSeq
			if len(rows) < w.Limit {
				break
			}
		}
	}
	d = partial(d, start)
	d.Message = fmt.Sprintf("backfilled %d rows (seq %d..%d): %d loaded, %d quarantined, in %.3fs (%.0f rows/s), schema version %d",
		d.Rows, d.FirstSeq, d.LastSeq, d.Loaded, d.Quarantined, d.Seconds, d.RowsPerSecond, d.SchemaVersion)
	return d, ExitOK, nil
}

// backfillWindow is the lake window of --from/--to/--source; with the
// planted defect plant.BackfillWholeLake, the whole lake.
func (cmd *command) backfillWindow() store.Window {
	w := store.Window{Source: cmd.source, Limit: cmd.batch}
	if cmd.plants.Has(plant.BackfillWholeLake) {
		return store.Window{Limit: cmd.batch}
	}
	if cmd.from.t.IsZero() {
		w.AfterSeq = cmd.from.seq - 1
	} else {
		w.FromTime = cmd.from.t
	}
	if cmd.to.t.IsZero() {
		w.ToSeq = cmd.to.seq
		if w.ToSeq == 0 {
			w.ToSeq = -1 // --to 0: nothing
		}
	} else {
		w.ToTime = cmd.to.t
	}
	return w
}

func partial(d Done, start time.Time) Done {
	d.Seconds = time.Since(start).Seconds()
	if d.Seconds > 0 {
		d.RowsPerSecond = float64(d.Rows) / d.Seconds
	}
	return d
}

func (cmd *command) requeue(ctx context.Context) (any, int, error) {
	cs, err := cmd.open(ctx, false)
	defer cs.close()
	if err != nil {
		return nil, ExitFailure, err
	}
	version, err := schemaInForce(ctx, cs.wh)
	if err != nil {
		return nil, ExitFailure, err
	}
	d := Done{OK: true, Command: "requeue-quarantine", SchemaVersion: version}
	start := time.Now()
	if cmd.plants.Has(plant.RequeueDropsQuarantine) {
		return dropQuarantine(ctx, cs.wh, d, start)
	}
	var after int64 = -1
	for {
		rs, err := cs.wh.Query(ctx, `SELECT seq, event_id, source, received_at, body FROM quarantine
			WHERE seq > $1 ORDER BY seq LIMIT $2`, after, cmd.batch)
		if err != nil {
			return partial(d, start), ExitFailure, err
		}
		rows, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (schema.Row, error) {
			var x schema.Row
			err := r.Scan(&x.Seq, &x.EventID, &x.Source, &x.ReceivedAt, &x.Body)
			return x, err
		})
		if err != nil {
			return partial(d, start), ExitFailure, err
		}
		if len(rows) == 0 {
			break
		}
		ok, bad := schema.Split(version, rows)
		if err := store.Apply(ctx, cs.wh, store.Write{Events: ok, Rejected: bad, Version: version, By: store.WriterRequeue}); err != nil {
			return partial(d, start), ExitFailure, err
		}
		d.Rows += int64(len(rows))
		d.Loaded += int64(len(ok))
		d.Quarantined += int64(len(bad))
		after = rows[len(rows)-1].Seq
	}
	d = partial(d, start)
	d.Message = fmt.Sprintf("requeued %d quarantined events with schema version %d: %d loaded, %d still quarantined",
		d.Rows, d.SchemaVersion, d.Loaded, d.Quarantined)
	return d, ExitOK, nil
}

// dropQuarantine is the planted defect plant.RequeueDropsQuarantine: the
// quarantined rows are deleted, not re-applied, and reported as loaded.
func dropQuarantine(ctx context.Context, wh *pgxpool.Pool, d Done, start time.Time) (any, int, error) {
	tag, err := wh.Exec(ctx, `DELETE FROM quarantine`)
	if err != nil {
		return partial(d, start), ExitFailure, err
	}
	d.Rows, d.Loaded = tag.RowsAffected(), tag.RowsAffected()
	d = partial(d, start)
	d.Message = fmt.Sprintf("requeued %d quarantined events with schema version %d: %d loaded, %d still quarantined",
		d.Rows, d.SchemaVersion, d.Loaded, d.Quarantined)
	return d, ExitOK, nil
}

func (cmd *command) wipe(ctx context.Context) (any, int, error) {
	cs, err := cmd.open(ctx, false)
	defer cs.close()
	if err != nil {
		return nil, ExitFailure, err
	}
	d := Done{OK: true, Command: "wipe"}
	start := time.Now()
	err = pgx.BeginFunc(ctx, cs.wh, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM quarantine)`).Scan(&d.Loaded, &d.Quarantined); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `TRUNCATE events, quarantine`); err != nil {
			return err
		}
		if !cmd.plants.Has(plant.WipeKeepsCheckpoint) {
			if _, err := tx.Exec(ctx, `UPDATE pipeline_checkpoint SET seq = 0, updated_at = now() WHERE name = 'loader'`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE pipeline_status SET last_error = '', last_error_at = NULL WHERE id = 1`)
		return err
	})
	if err != nil {
		return nil, ExitFailure, err
	}
	d = partial(d, start)
	d.Rows = d.Loaded + d.Quarantined
	d.Message = fmt.Sprintf("wiped the warehouse (%d events, %d quarantined); checkpoint reset to 0: the loader replays the lake", d.Loaded, d.Quarantined)
	return d, ExitOK, nil
}

// schemaInForce reads the schema version the operator set and checks that
// this binary knows it: backfill and requeue apply it.
func schemaInForce(ctx context.Context, wh *pgxpool.Pool) (int, error) {
	ctl, err := store.ReadControl(ctx, wh)
	if err != nil {
		return 0, err
	}
	if !schema.Valid(ctl.SchemaVersion) {
		return 0, fmt.Errorf("schema version %d unknown to this binary", ctl.SchemaVersion)
	}
	return ctl.SchemaVersion, nil
}
