package drills_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/scenarios/pipeline"
)

// The planted defects: each is a realistic bug in the reference pipeline
// (or in its alert rules), switched on for one run, and the drill that
// rehearses that recovery must fail with the verdict that names it. Each
// case logs a row of the table `make drill-defects` prints: defect, drill,
// the verdict, and the number that caught it.
func TestDefects(t *testing.T) {
	noLakeRule, err := pipeline.EditAlertRules(func(r map[string]any) bool { return r["alert"] != pipeline.AlertLakeCommitsFailing })
	require.NoError(t, err)
	slowPages, err := pipeline.EditAlertRules(func(r map[string]any) bool {
		if r["alert"] == pipeline.AlertWarehouseSlow {
			r["labels"] = map[string]any{"severity": "critical"}
		}
		return true
	})
	require.NoError(t, err)
	cases := []struct {
		defect string
		opt    pipeline.Option
		drill  func(*testing.T, *pipeline.Pipeline) drills.Drill
		want   string // the verdict that must be missed
	}{
		{"collector acknowledges before the lake commit", pipeline.WithDefect(pipeline.DefectAckBeforeCommit), lakeOutage, "lost"},
		{"loader commits rows and checkpoint apart", pipeline.WithDefect(pipeline.DefectSplitCheckpoint), loaderCrash, "duplicated"},
		{"backfill redoes the whole lake", pipeline.WithDefect(pipeline.DefectBackfillWholeLake), badDeployDrill, "recovery"},
		{"wipe keeps the checkpoint", pipeline.WithDefect(pipeline.DefectWipeKeepsCheckpoint), wipeAndRebuild, "restored"},
		{"requeue drops the quarantine", pipeline.WithDefect(pipeline.DefectRequeueDropsQuarantine), poisonBatch, "lost"},
		{"no alert rule for lake commits", pipeline.WithAlertRules(noLakeRule), lakeOutage, "alert:" + pipeline.AlertLakeCommitsFailing},
		{"a slow warehouse pages", pipeline.WithAlertRules(slowPages), slowWarehouse, "pages"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.defect, " ", "-"), func(t *testing.T) {
			p := monitored(t, c.opt)
			d := c.drill(t, p)
			res, err := drills.Execute(t.Context(), d)
			require.NoError(t, err, res.FormatTimeline())
			var missed []string
			var caught drills.Verdict
			for _, v := range res.Missed() {
				missed = append(missed, v.Name)
				if v.Name == c.want {
					caught = v
				}
			}
			require.False(t, res.Passed(), "the planted defect %q must fail %s\n%s", c.defect, d.Name, res.FormatTimeline())
			require.True(t, slices.Contains(missed, c.want), "defect %q: %s must miss %q, missed %v\n%s", c.defect, d.Name, c.want, missed, res.FormatTimeline())
			t.Logf("defect | %s | %s | %s missed (%s) | %s: %s |", c.defect, d.Name, c.want, strings.Join(missed, ", "), caught.Actual, oneLine(caught.Message))
			assert.NotEmpty(t, caught.Message)
		})
	}
}

// badDeployDrill is the bad-deploy drill without its backfill report.
func badDeployDrill(t *testing.T, p *pipeline.Pipeline) drills.Drill {
	t.Helper()
	d, _ := badDeploy(t, p)
	return d
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 140 {
		s = s[:140] + "…"
	}
	return strings.ReplaceAll(fmt.Sprint(s), "|", "/")
}
