// Package verify checks the pipeline's data invariants from outside: the
// warehouse holds schema(lake) exactly once, quarantine holds exactly the
// rows that fail the schema, and which acknowledged ids have landed. Drills
// use it as a correctness probe and a completeness reader.
package verify

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

// Diff is the difference between the warehouse and schema(lake), by event id.
type Diff struct {
	LakeRows, Events, Quarantined int
	Missing, Extra, Wrong         []string // event ids
	QuarantineWrong               []string
	// Duplicated lists the events the loader delivered more than once
	// (events.deliveries > 1), among those compared.
	Duplicated []string
}

// Empty reports whether warehouse == schema(lake), each event delivered once.
func (d Diff) Empty() bool {
	return len(d.Missing)+len(d.Extra)+len(d.Wrong)+len(d.QuarantineWrong)+len(d.Duplicated) == 0
}

func (d Diff) String() string {
	cut := func(s []string) []string {
		if len(s) > 5 {
			return append(s[:5:5], "…")
		}
		return s
	}
	return fmt.Sprintf("lake %d, events %d, quarantined %d; missing %d %v, extra %d %v, wrong %d %v, quarantine wrong %d %v, duplicated %d %v",
		d.LakeRows, d.Events, d.Quarantined, len(d.Missing), cut(d.Missing), len(d.Extra), cut(d.Extra), len(d.Wrong), cut(d.Wrong),
		len(d.QuarantineWrong), cut(d.QuarantineWrong), len(d.Duplicated), cut(d.Duplicated))
}

// Compare computes the Diff under schema version v for lake rows with seq <=
// upTo (all rows when upTo < 0; pass the loader's checkpoint so events not
// loaded yet do not count as missing). Events are compared on every typed
// column, amount numerically. Wrong non-empty means corrupt rows (the
// bad-deploy probe); Missing/Extra/QuarantineWrong mean lost, foreign or
// misfiled events. It reads both tables whole: meant for drill-sized data.
func Compare(ctx context.Context, lake, wh *pgxpool.Pool, v int, upTo int64) (Diff, error) {
	d, _, err := compare(ctx, lake, wh, v, upTo, false)
	return d, err
}

// CompareAtCheckpoint is Compare up to the loader's checkpoint, read in the
// same warehouse snapshot as the tables: exact even while a loader commits
// (or a killed loader's last transaction lands). It also returns the
// checkpoint.
func CompareAtCheckpoint(ctx context.Context, lake, wh *pgxpool.Pool, v int) (Diff, int64, error) {
	return compare(ctx, lake, wh, v, 0, true)
}

type got struct {
	seq                        int64
	source, user, amount, kind string
	ts, recv                   time.Time
	deliveries                 int
}

// compare reads one snapshot of the warehouse (with the checkpoint as upTo
// when atCheckpoint), then the lake up to upTo, and diffs them.
func compare(ctx context.Context, lake, wh *pgxpool.Pool, v int, upTo int64, atCheckpoint bool) (Diff, int64, error) {
	var d Diff
	events, quar, upTo, err := readWarehouse(ctx, wh, upTo, atCheckpoint)
	if err != nil {
		return d, 0, err
	}
	// the lake is append-only and visible in seq order: reading it after the
	// snapshot gives exactly the rows up to upTo
	rows, err := readLake(ctx, lake, upTo)
	if err != nil {
		return d, 0, err
	}
	ok, bad := schema.Split(v, rows)
	d.LakeRows = len(rows)
	d.Events = len(events)
	d.Quarantined = len(quar)
	d.diffEvents(ok, events)
	d.diffQuarantine(bad, quar)
	sort.Strings(d.Missing)
	sort.Strings(d.Extra)
	sort.Strings(d.Wrong)
	sort.Strings(d.QuarantineWrong)
	sort.Strings(d.Duplicated)
	return d, upTo, nil
}

// readWarehouse reads events and quarantine (and, when atCheckpoint, the
// loader's checkpoint as upTo) in one snapshot, so that they agree.
func readWarehouse(ctx context.Context, wh *pgxpool.Pool, upTo int64, atCheckpoint bool) (map[string]got, map[string]int64, int64, error) {
	var (
		events map[string]got
		quar   map[string]int64
	)
	err := pgx.BeginTxFunc(ctx, wh, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if atCheckpoint {
			if err := tx.QueryRow(ctx, `SELECT seq FROM pipeline_checkpoint WHERE name = 'loader'`).Scan(&upTo); err != nil {
				return fmt.Errorf("read checkpoint: %w", err)
			}
		}
		var err error
		if events, err = readEvents(ctx, tx); err != nil {
			return err
		}
		quar, err = readQuarantine(ctx, tx)
		return err
	})
	return events, quar, upTo, err
}

// readEvents reads the warehouse table events by event id.
func readEvents(ctx context.Context, tx pgx.Tx) (map[string]got, error) {
	events := map[string]got{}
	rs, err := tx.Query(ctx, `SELECT event_id, seq, source, user_id, amount::text, kind, ts, received_at, deliveries FROM events`)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id string
		var g got
		if err := rs.Scan(&id, &g.seq, &g.source, &g.user, &g.amount, &g.kind, &g.ts, &g.recv, &g.deliveries); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		events[id] = g
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return events, nil
}

// readQuarantine reads the lake seq of every quarantined event id.
func readQuarantine(ctx context.Context, tx pgx.Tx) (map[string]int64, error) {
	quar := map[string]int64{}
	rs, err := tx.Query(ctx, `SELECT event_id, seq FROM quarantine`)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id string
		var seq int64
		if err := rs.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		quar[id] = seq
	}
	return quar, rs.Err()
}

// readLake reads the lake rows with seq <= upTo (all when upTo < 0, none
// when it is 0).
func readLake(ctx context.Context, lake *pgxpool.Pool, upTo int64) ([]schema.Row, error) {
	if upTo == 0 {
		return nil, nil
	}
	w := store.Window{}
	if upTo > 0 {
		w.ToSeq = upTo
	}
	return store.ReadLake(ctx, lake, w)
}

// diffEvents files the expected events missing from the warehouse, those
// that differ from it, and the warehouse's events nobody expected.
func (d *Diff) diffEvents(ok []schema.Event, events map[string]got) {
	want := map[string]bool{}
	for _, e := range ok {
		want[e.EventID] = true
		g, found := events[e.EventID]
		if !found {
			d.Missing = append(d.Missing, e.EventID)
			continue
		}
		if !g.matches(e) {
			d.Wrong = append(d.Wrong, e.EventID)
		}
		if g.deliveries > 1 {
			d.Duplicated = append(d.Duplicated, e.EventID)
		}
	}
	for id := range events {
		if !want[id] {
			d.Extra = append(d.Extra, id)
		}
	}
}

// diffQuarantine files the rows that should be in quarantine and are not
// (or under another seq), and the quarantined ids that should not be.
func (d *Diff) diffQuarantine(bad []schema.Rejected, quar map[string]int64) {
	wantQ := map[string]bool{}
	for _, b := range bad {
		wantQ[b.Row.EventID] = true
		if seq, found := quar[b.Row.EventID]; !found || seq != b.Row.Seq {
			d.QuarantineWrong = append(d.QuarantineWrong, b.Row.EventID)
		}
	}
	for id := range quar {
		if !wantQ[id] {
			d.QuarantineWrong = append(d.QuarantineWrong, id)
		}
	}
}

// matches reports whether the warehouse row equals e on every typed column,
// amount numerically.
func (g got) matches(e schema.Event) bool {
	return g.seq == e.Seq && g.source == e.Source && g.user == e.UserID && sameNumber(g.amount, e.Amount) &&
		g.kind == e.Kind && g.ts.Equal(e.TS) && g.recv.Equal(e.ReceivedAt)
}

func sameNumber(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// Landed returns the event ids present in the warehouse table events, each
// once per delivery (events.deliveries): an event the loader delivered twice
// is returned twice.
func Landed(ctx context.Context, wh *pgxpool.Pool) ([]string, error) {
	rows, err := wh.Query(ctx, `SELECT event_id FROM events CROSS JOIN LATERAL generate_series(1, greatest(deliveries, 1))`)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Overdue counts the lake rows past checkpoint that were received more
// than grace ago: data the warehouse should hold by now and does not (a
// wiped warehouse not rebuilt yet, a loader that stopped).
func Overdue(ctx context.Context, lake *pgxpool.Pool, checkpoint int64, grace time.Duration) (int64, error) {
	var n int64
	err := lake.QueryRow(ctx, `SELECT count(*) FROM raw_events
		WHERE seq > $1 AND received_at < clock_timestamp() - make_interval(secs => $2)`, checkpoint, grace.Seconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count overdue lake rows: %w", err)
	}
	return n, nil
}

// InLake returns the event ids present in the lake.
func InLake(ctx context.Context, lake *pgxpool.Pool) ([]string, error) {
	rows, err := lake.Query(ctx, `SELECT event_id FROM raw_events`)
	if err != nil {
		return nil, fmt.Errorf("read lake: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read lake: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Quarantined returns the event ids in the warehouse table quarantine.
func Quarantined(ctx context.Context, wh *pgxpool.Pool) ([]string, error) {
	rows, err := wh.Query(ctx, `SELECT event_id FROM quarantine`)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
