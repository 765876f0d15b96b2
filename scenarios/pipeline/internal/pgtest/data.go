package pgtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/verify"
)

// Item returns the JSON of one ingest item. Every badEvery-th (by n) item
// carries its amount as a string: bad under schema 1, good under schema 2.
func Item(prefix string, n, badEvery int) string {
	amount := fmt.Sprintf("%d.%02d", n%1000, n%100)
	if badEvery > 0 && n%badEvery == 0 {
		amount = fmt.Sprintf("%q", amount)
	}
	return fmt.Sprintf(`{"id":"%s-%d","source":"src%d","ts":"2026-01-01T00:00:%02d.%06dZ","payload":{"user_id":"u%d","amount":%s,"kind":"k"}}`,
		prefix, n, n%3, n%60, n%1000000, n%97, amount)
}

// Pool opens a pool to dsn, closed when t ends.
func Pool(tb testing.TB, dsn string) *pgxpool.Pool {
	tb.Helper()
	p, err := store.Open(context.Background(), dsn, 8)
	if err != nil {
		tb.Fatalf("open %s: %v", dsn, err)
	}
	tb.Cleanup(p.Close)
	return p
}

// Seed writes items [from, to) into the lake the way the collector does
// (under the lake write lock), in batches of 100.
func Seed(ctx context.Context, lake *pgxpool.Pool, prefix string, from, to, badEvery int) error {
	if err := store.MigrateLake(ctx, lake); err != nil {
		return err
	}
	for lo := from; lo < to; lo += 100 {
		hi := min(lo+100, to)
		var ids, srcs, bodies []string
		for n := lo; n < hi; n++ {
			ids = append(ids, fmt.Sprintf("%s-%d", prefix, n))
			srcs = append(srcs, fmt.Sprintf("src%d", n%3))
			bodies = append(bodies, Item(prefix, n, badEvery))
		}
		var b pgx.Batch
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(store.LakeWriteLock))
		b.Queue(`INSERT INTO raw_events (event_id, source, body) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::jsonb[]) ON CONFLICT DO NOTHING`, ids, srcs, bodies)
		if err := lake.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
	}
	return nil
}

// Compare is verify.Compare (kept here so tests read naturally).
func Compare(ctx context.Context, lake, wh *pgxpool.Pool, v int, upTo int64) (verify.Diff, error) {
	return verify.Compare(ctx, lake, wh, v, upTo)
}

// CompareAtCheckpoint is verify.CompareAtCheckpoint.
func CompareAtCheckpoint(ctx context.Context, lake, wh *pgxpool.Pool, v int) (verify.Diff, int64, error) {
	return verify.CompareAtCheckpoint(ctx, lake, wh, v)
}
