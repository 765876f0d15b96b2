package drills_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
	"github.com/firedrill/firedrill/scenarios/pipeline"
)

// The reference drill suite: the pipeline (collector → lake → loader →
// warehouse, see scenarios/pipeline) rehearsing each recovery its design
// promises. `make drill` runs every TestDrill* here and writes the report.
//
// Each drill has TTR and data-integrity budgets. Each is paired with a
// check that the same budget fails a slower or lossier recovery: either a
// drill whose recovery is broken on purpose, or the measured result held to
// a budget it did not meet (Budget.Evaluate is the same function the drill
// used).

// ingestRate is the open-model ingest load: events per second, one event a
// request, each retried at-least-once with the same id within its timeout.
const ingestRate = 200

// steady is the pipeline's steady state: ingest succeeds, promptly (an
// event acknowledged only after seconds of retries is not healthy ingest),
// and the warehouse is fresh.
func steady(p *pipeline.Pipeline, freshness time.Duration) slo.Objective {
	return slo.All(
		slo.SuccessRatio(0.99),
		slo.LatencyQuantile(0.99, 500*time.Millisecond),
		slo.Freshness(p.Lag(), freshness),
	)
}

// The budgets are set from 5 runs of the suite on a 2-core machine
// (FIREDRILL_REPORT_DIR=out/budget go test -count=5 -run '^TestDrill'
// ./drills/): each is max(1.5 × the median, 1.25 × the slowest run),
// rounded up to 100 ms and at least 500 ms. The README lists the figures.

// reactionTime is the operator's reaction to a detection, stated as such:
// every reference runbook is started by detection, this long after.
const reactionTime = time.Second

// monitored starts the pipeline with Prometheus and Alertmanager, which
// evaluate the pipeline's alert rules (scenarios/pipeline/alerts.yml).
func monitored(t *testing.T, opts ...pipeline.Option) *pipeline.Pipeline {
	t.Helper()
	return pipeline.Start(t, append([]pipeline.Option{pipeline.WithMonitoring()}, opts...)...)
}

// alerting is the seed's alert strategy as a drill states it: the alerts
// that must fire (and resolve once the pipeline is restored); every other
// page is a failure ("paged on a non-critical fault").
func alerting(p *pipeline.Pipeline, fire ...drills.ExpectAlert) *drills.Alerting {
	if p.AlertmanagerURL == "" { // started without monitoring
		return nil
	}
	return &drills.Alerting{
		Alertmanager: p.AlertmanagerURL, Fire: fire,
		ScrapeInterval: pipeline.Monitoring().ScrapeInterval, EvalInterval: pipeline.Monitoring().EvalInterval,
	}
}

// base is what every pipeline drill shares.
func base(p *pipeline.Pipeline, name string) drills.Drill {
	return drills.Drill{
		Name:      name,
		Workload:  p.Ingest(load.Constant(ingestRate)),
		Steady:    steady(p, 2*time.Second),
		Integrity: drills.LandedFunc(p.Landed),
		Alerts:    alerting(p),
		Limits: drills.Limits{
			SteadyWithin:  30 * time.Second,
			RecoverWithin: 45 * time.Second,
			CatchUpWithin: 30 * time.Second,
		},
	}
}

// planted returns the runbook with a delay planted in front of it when
// FIREDRILL_PLANT_SLOW_RECOVERY names this drill ("loader-crash=3s,..."):
// a deliberately slower recovery, for rehearsing that `firedrill compare`
// flags a regression between two runs of the suite.
func planted(t *testing.T, name string, steps ...recovery.Step) recovery.Runbook {
	t.Helper()
	for _, kv := range strings.Split(os.Getenv("FIREDRILL_PLANT_SLOW_RECOVERY"), ",") {
		drill, delay, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || drill != name {
			continue
		}
		d, err := time.ParseDuration(delay)
		require.NoError(t, err, "FIREDRILL_PLANT_SLOW_RECOVERY=%s: want drill=duration", kv)
		t.Logf("planting a %s delay in front of the %s runbook", d, name)
		wait := recovery.Func("planted delay "+d.String(), func(ctx context.Context) (string, error) {
			select {
			case <-time.After(d):
				return "waited " + d.String(), nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		})
		return recovery.Steps(append([]recovery.Step{wait}, steps...)...)
	}
	return recovery.Steps(steps...)
}

// tighter re-judges a result against a budget it should miss and asserts
// that it does: the budget can fail.
func tighter(t *testing.T, res *drills.Result, b drills.Budget, want string) {
	t.Helper()
	var missed []string
	for _, v := range b.Evaluate(res) {
		if !v.Passed {
			missed = append(missed, v.Name)
		}
	}
	assert.Contains(t, missed, want, "a tighter %s budget must be missed", want)
}

// requireNoLoss asserts the data-integrity accounting held.
func requireNoLoss(t *testing.T, res *drills.Result) {
	t.Helper()
	require.True(t, res.Integrity.Checked, res.FormatTimeline())
	assert.Positive(t, res.Integrity.Acknowledged)
	assert.Zero(t, res.Integrity.Lost, "acknowledged events lost: %v", res.Integrity.LostSample)
	assert.Zero(t, res.Integrity.Duplicated)
}

// TestDrillLoaderCrash: the loader is SIGKILLed mid-batch and stays down
// until the runbook starts it and resumes the pipeline. Nothing acknowledged
// is lost or loaded twice.
func TestDrillLoaderCrash(t *testing.T) {
	p := monitored(t)
	d := loaderCrash(t, p)
	res := drills.Run(t, d)
	requireNoLoss(t, res)
	require.True(t, res.Measures.TTR.Valid, res.FormatTimeline())
	// The loader stays down until the page, the reaction and the restart.
	assert.GreaterOrEqual(t, res.Measures.TTR.Value, res.Measures.TTD.Value+reactionTime, "the loader was down until the operator acted")
	tighter(t, res, drills.Budget{TTR: time.Second}, "ttr")
	tighter(t, res, drills.Budget{Runbook: time.Millisecond}, "runbook")
}

// loaderCrash is the loader-crash drill.
func loaderCrash(t *testing.T, p *pipeline.Pipeline) drills.Drill {
	t.Helper()
	d := base(p, "loader-crash")
	d.Faults = faults.At(time.Second, faults.Kill(p.Loader, "SIGKILL"))
	// The freshness page wakes the operator, who restarts the loader.
	d.Alerts = alerting(p, drills.ExpectAlert{Name: pipeline.AlertFreshnessObjectiveMissed, TTD: 4500 * time.Millisecond, Resolve: true})
	d.RecoverOnDetect, d.ReactionTime = true, reactionTime
	d.Recovery = planted(t, d.Name, p.RestartLoader().WithTimeout(30*time.Second), p.Ctl("resume").WithTimeout(30*time.Second))
	d.Budget = drills.Budget{TTR: 6500 * time.Millisecond, Runbook: 600 * time.Millisecond, CatchUp: 8600 * time.Millisecond}
	return d
}

// TestDrillLoaderCrashWithoutRunbook is loader-crash with its recovery
// broken (nobody restarts the loader): the drill must fail.
func TestDrillLoaderCrashWithoutRunbook(t *testing.T) {
	p := pipeline.Start(t)
	d := base(p, "loader-crash-no-runbook")
	d.Faults = faults.At(time.Second, faults.Kill(p.Loader, "SIGKILL"))
	d.Limits.RecoverWithin = 8 * time.Second
	d.Budget = drills.Budget{TTR: 20 * time.Second}
	res, err := drills.Execute(t.Context(), d)
	require.NoError(t, err)
	assert.False(t, res.Passed(), "a crash nobody recovers from must fail the drill\n%s", res.FormatTimeline())
	assert.False(t, res.Measures.TTR.Valid, "never restored\n%s", res.FormatTimeline())
}

// TestDrillWarehouseOutage: the loader→warehouse link is down for 10 s.
// Ingest stays healthy (the lake still acknowledges), freshness is breached,
// and the pipeline restores with no action.
func TestDrillWarehouseOutage(t *testing.T) {
	p := monitored(t)
	d := base(p, "warehouse-outage")
	d.Faults = faults.For(time.Second, 10*time.Second, faults.Down(p.LoaderWarehouse))
	// Nothing to do but know: the freshness page fires, and resolves.
	d.Alerts = alerting(p, drills.ExpectAlert{Name: pipeline.AlertFreshnessObjectiveMissed, TTD: 13 * time.Second, Resolve: true})
	d.Budget = drills.Budget{TTR: 20300 * time.Millisecond, CatchUp: 22 * time.Second, NoFailedRequests: true}
	res := drills.Run(t, d)
	requireNoLoss(t, res)
	require.True(t, res.Measures.TTR.Valid, res.FormatTimeline())
	assert.GreaterOrEqual(t, res.Measures.TTR.Value, 9*time.Second, "freshness cannot restore before the link does")
	for i, b := range res.Buckets {
		if r, ok := b.SuccessRatio(); ok {
			assert.GreaterOrEqual(t, r, 0.99, "ingest bucket %d unhealthy during a warehouse outage", i)
		}
	}
	tighter(t, res, drills.Budget{TTR: 5 * time.Second}, "ttr")
}

// TestDrillLakeOutage: the collector→lake link is down for 5 s. The
// collector answers 503, the client retries with the same ids, and nothing
// acknowledged is lost.
func TestDrillLakeOutage(t *testing.T) {
	p := monitored(t)
	res := drills.Run(t, lakeOutage(t, p))
	requireNoLoss(t, res)
	require.True(t, res.Measures.TTR.Valid, res.FormatTimeline())
	// Requests sent in the last half second of the outage can succeed
	// within the latency objective once the link is back.
	assert.GreaterOrEqual(t, res.Measures.TTR.Value, 4*time.Second, "ingest cannot be healthy while the lake is cut off")
	assert.Positive(t, res.Measures.FailedRequests, "requests during the outage must fail, not be acknowledged")
	tighter(t, res, drills.Budget{TTR: 2 * time.Second}, "ttr")
}

// lakeOutage is the lake-outage drill.
func lakeOutage(t *testing.T, p *pipeline.Pipeline) drills.Drill {
	t.Helper()
	d := base(p, "lake-outage")
	d.Faults = faults.For(time.Second, 5*time.Second, faults.Down(p.CollectorLake))
	// Acknowledged data at risk: the collector cannot commit. That pages.
	d.Alerts = alerting(p, drills.ExpectAlert{Name: pipeline.AlertLakeCommitsFailing, TTD: 6200 * time.Millisecond, Resolve: true})
	d.Budget = drills.Budget{TTR: 7500 * time.Millisecond, CatchUp: 9600 * time.Millisecond}
	return d
}

// TestDrillPoisonBatch: every 20th event fails the schema. The loader
// quarantines them while the rest flows; the runbook installs the schema
// that accepts them and requeues the quarantine, which restores
// completeness.
func TestDrillPoisonBatch(t *testing.T) {
	p := monitored(t)
	res := drills.Run(t, poisonBatch(t, p))
	requireNoLoss(t, res)
	diff, err := p.Diff(t.Context(), 2)
	require.NoError(t, err)
	assert.True(t, diff.Empty(), "after requeue the warehouse must equal schema v2 of the lake: %s", diff)
	assert.Zero(t, diff.Quarantined)
	tighter(t, res, drills.Budget{TTR: time.Second}, "ttr")
}

// poisonBatch is the poison-batch drill.
func poisonBatch(t *testing.T, p *pipeline.Pipeline) drills.Drill {
	t.Helper()
	d := base(p, "poison-batch")
	d.Steady = slo.All(steady(p, 2*time.Second), slo.AtMost(p.Quarantine(), 0))
	d.Faults = faults.At(time.Second, p.PoisonTraffic(20))
	// Quarantine growing is pulled, not paged: a warning the operator reads.
	d.Alerts = alerting(p, drills.ExpectAlert{Name: pipeline.AlertQuarantineGrowing, TTD: 6300 * time.Millisecond})
	d.RecoverOnDetect, d.ReactionTime = true, reactionTime
	d.Recovery = planted(t, d.Name, p.Ctl("schema", "--set", "2"), p.Ctl("requeue-quarantine"))
	d.Budget = drills.Budget{TTR: 8 * time.Second, Runbook: 500 * time.Millisecond, CatchUp: 10100 * time.Millisecond}
	return d
}

// TestDrillBadDeploy: a loader deploy corrupts the amount of every event
// it loads; the correctness probe detects it; the operator rolls the
// deploy back and `pipelinectl backfill` repairs exactly that window of the
// lake.
func TestDrillBadDeploy(t *testing.T) {
	p := monitored(t)
	d, backfilled := badDeploy(t, p)
	res := drills.Run(t, d)
	requireNoLoss(t, res)
	diff, err := p.Diff(t.Context(), 1)
	require.NoError(t, err)
	assert.True(t, diff.Empty(), "after the backfill the warehouse must equal schema(lake): %s", diff)
	assert.Positive(t, backfilled.Rows)
	assert.Less(t, backfilled.Rows, int64(diff.LakeRows), "backfill must redo only the window, not the whole lake")
	t.Logf("backfill: %d of %d lake rows, %.0f rows/s", backfilled.Rows, diff.LakeRows, backfilled.RowsPerSecond)
	tighter(t, res, drills.Budget{TTD: time.Millisecond}, "ttd")
}

// backfillReport is pipelinectl backfill's JSON output.
type backfillReport struct {
	Rows          int64   `json:"rows"`
	RowsPerSecond float64 `json:"rows_per_second"`
}

// backfillBudget is the share of the lake the bad deploy's backfill may
// redo: its window is a few seconds of a drill that ran longer before it.
const backfillBudget = 0.5

// badDeploy is the bad-deploy drill; the report is filled when its
// backfill has run.
func badDeploy(t *testing.T, p *pipeline.Pipeline) (drills.Drill, *backfillReport) {
	t.Helper()
	bad := p.BadDeploy("amount")
	d := base(p, "bad-deploy")
	d.Steady = slo.All(steady(p, 2*time.Second), slo.AtMost(p.Wrong(1), 0))
	// Late enough that the lake holds data from before the deploy, which
	// the backfill must leave alone. Held until the runbook rolls it back.
	d.Faults = faults.At(5*time.Second, bad)
	d.Detect = drills.DetectWhen(p.Wrong(1), func(v float64) bool { return v > 0 })
	d.RecoverOnDetect, d.ReactionTime = true, reactionTime
	backfilled := &backfillReport{}
	rollback := recovery.Func("roll the loader deploy back", func(ctx context.Context) (string, error) {
		return "rolled back", bad.Revert(ctx)
	})
	backfill := recovery.Func("pipelinectl backfill (the bad deploy's window)", func(ctx context.Context) (string, error) {
		since, until, ok := bad.Bounds()
		if !ok || until.IsZero() {
			return "", fmt.Errorf("bad deploy window unknown (since %v, until %v)", since, until)
		}
		// Events loaded during the window were received shortly before
		// they were loaded (the lag is well under a second in steady
		// state); the margins cover that and the batch in flight at the
		// rollback.
		from, to := since.Add(-time.Second), until.Add(time.Second)
		out, err := p.RunCtl(ctx, "backfill", "--from", from.UTC().Format(time.RFC3339Nano), "--to", to.UTC().Format(time.RFC3339Nano))
		if err == nil {
			err = json.NewDecoder(strings.NewReader(out)).Decode(backfilled)
		}
		return out, err
	})
	// The runbook checks its own work: a backfill that redoes the whole
	// lake is a slower, riskier recovery than the window needs.
	check := recovery.Func(fmt.Sprintf("backfill redid at most %.0f%% of the lake", backfillBudget*100), func(ctx context.Context) (string, error) {
		diff, err := p.Diff(ctx, 1)
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("backfill redid %d of %d lake rows", backfilled.Rows, diff.LakeRows)
		if float64(backfilled.Rows) > backfillBudget*float64(diff.LakeRows) {
			return msg, fmt.Errorf("%s: over its budget of %.0f%% (the bad deploy's window)", msg, backfillBudget*100)
		}
		return msg, nil
	})
	d.Recovery = recovery.Steps(rollback, backfill, check)
	d.Budget = drills.Budget{TTR: 1700 * time.Millisecond, TTD: 500 * time.Millisecond, Runbook: 500 * time.Millisecond, CatchUp: 5900 * time.Millisecond}
	return d, backfilled
}

// TestDrillWipeAndRebuild: the warehouse's data is lost; `pipelinectl wipe
// --yes` resets it and the loader replays the lake until caught up.
func TestDrillWipeAndRebuild(t *testing.T) {
	p := monitored(t)
	res := drills.Run(t, wipeAndRebuild(t, p))
	requireNoLoss(t, res)
	diff, err := p.Diff(t.Context(), 1)
	require.NoError(t, err)
	assert.True(t, diff.Empty(), "after the rebuild the warehouse must equal schema(lake): %s", diff)
	tighter(t, res, drills.Budget{TTR: 500 * time.Millisecond}, "ttr")
}

// wipeAndRebuild is the wipe-and-rebuild drill.
func wipeAndRebuild(t *testing.T, p *pipeline.Pipeline) drills.Drill {
	t.Helper()
	d := base(p, "wipe-and-rebuild")
	d.Steady = slo.All(steady(p, 2*time.Second), slo.AtMost(p.Wrong(1), 0))
	d.Faults = faults.At(time.Second, p.LoseWarehouse())
	// The correctness probe (now counting lake rows missing from the
	// warehouse) is the detector.
	d.Detect = drills.DetectWhen(p.Wrong(1), func(v float64) bool { return v > 0 })
	d.RecoverOnDetect, d.ReactionTime = true, reactionTime
	d.Recovery = planted(t, d.Name, p.Ctl("wipe", "--yes"))
	d.Budget = drills.Budget{TTR: 2900 * time.Millisecond, TTD: 500 * time.Millisecond, Runbook: 1300 * time.Millisecond, CatchUp: 6400 * time.Millisecond}
	return d
}

// TestDrillSlowWarehouse: 500 ms of latency on loader→warehouse. The lag
// grows but stays within its budget; nothing fails.
func TestDrillSlowWarehouse(t *testing.T) {
	p := monitored(t)
	res := drills.Run(t, slowWarehouse(t, p))
	requireNoLoss(t, res)
	assert.True(t, res.Timeline.Impact.IsZero(), "lag must stay within 5s\n%s", res.FormatTimeline())
	var maxLag float64
	for _, b := range res.Buckets {
		if s, ok := b.Probes["lag_s"]; ok && s.N > 0 {
			maxLag = max(maxLag, s.Max)
		}
	}
	assert.Greater(t, maxLag, 0.5, "the latency must show as lag")
	t.Logf("slow-warehouse: max lag %.2fs (budget 5s)", maxLag)
	// The same run judged against a 300 ms freshness budget is a miss.
	strict := slo.All(slo.SuccessRatio(0.99), slo.Freshness(p.Lag(), 300*time.Millisecond))
	unhealthy := 0
	for _, b := range res.Buckets {
		if strict.Judge(b).Health == slo.Unhealthy {
			unhealthy++
		}
	}
	assert.Positive(t, unhealthy, "a 300ms lag budget must be breached by 500ms of warehouse latency")
}

// slowWarehouse is the slow-warehouse drill.
func slowWarehouse(t *testing.T, p *pipeline.Pipeline) drills.Drill {
	t.Helper()
	d := base(p, "slow-warehouse")
	// The lag budget is the steady state itself: 5 s of freshness must
	// hold throughout, so any impact fails the drill.
	d.Steady = steady(p, 5*time.Second)
	d.Faults = faults.For(time.Second, 8*time.Second, faults.Latency(p.LoaderWarehouse, 500*time.Millisecond))
	// The pipeline is built to absorb a slow warehouse: no impact is the
	// expectation, and any impact fails the drill ("no_impact"). It pages
	// nobody: every page fails the "pages" verdict.
	d.ExpectNoImpact = true
	d.Budget = drills.Budget{NoFailedRequests: true, CatchUp: 19900 * time.Millisecond}
	return d
}
