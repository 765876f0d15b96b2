package pipeline

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRules parses the rules file and checks the strategy's shape:
// every alert has a severity (critical or warning), a summary, a short
// `for:`, and names only metrics the collector and loader export.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	var f ruleFile
	dec := yaml.NewDecoder(bytesReader(AlertRules()))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&f))
	require.NotEmpty(t, f.Groups)
	exported := exportedMetrics(t)
	metric := regexp.MustCompile(`\bpipeline_[a-z_]+`)
	seen := map[string]string{}
	for _, g := range f.Groups {
		iv, err := time.ParseDuration(g.Interval)
		require.NoError(t, err, "group %s: interval", g.Name)
		assert.Equal(t, time.Second, iv, "group %s: evaluated every 1s (drills)", g.Name)
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s: only alerting rules", g.Name)
			assert.NotContains(t, seen, r.Alert, "alert names are unique")
			assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], "%s: severity", r.Alert)
			seen[r.Alert] = r.Labels["severity"]
			assert.NotEmpty(t, r.Annotations["summary"], "%s: summary", r.Alert)
			assert.NotEmpty(t, r.Expr, "%s: expr", r.Alert)
			d, err := time.ParseDuration(r.For)
			require.NoError(t, err, "%s: for", r.Alert)
			assert.LessOrEqual(t, d, 5*time.Second, "%s: for short enough for drills", r.Alert)
			for _, m := range metric.FindAllString(r.Expr, -1) {
				assert.Contains(t, exported, m, "%s: %s is not exported by the collector or the loader", r.Alert, m)
			}
		}
	}
	assert.Equal(t, map[string]string{
		AlertLakeCommitsFailing:       "critical",
		AlertFreshnessObjectiveMissed: "critical",
		AlertQuarantineGrowing:        "warning",
		AlertWarehouseSlow:            "warning",
		AlertLoaderRetrying:           "warning",
	}, seen)
}

// exportedMetrics lists the metric names (histogram series included) of a
// collector's and a loader's registries.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	pool, err := store.Open(context.Background(), "postgres://postgres@127.0.0.1:1/x?connect_timeout=1", 1)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	l, err := loader.New(pool, pool, loader.Config{})
	require.NoError(t, err)
	var names []string
	for _, g := range []prometheus.Gatherer{collector.New(pool, collector.Config{}).Gatherer(), l.Gatherer()} {
		mfs, err := g.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			n := mf.GetName()
			names = append(names, n)
			if mf.GetType().String() == "HISTOGRAM" {
				names = append(names, n+"_bucket", n+"_sum", n+"_count")
			}
		}
	}
	// the histograms have no series before a first observation
	for _, h := range []string{"pipeline_collector_lake_commit_duration_seconds", "pipeline_loader_warehouse_write_duration_seconds"} {
		if !slices.Contains(names, h) {
			names = append(names, h, h+"_bucket", h+"_sum", h+"_count")
		}
	}
	return names
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func TestEditAlertRules(t *testing.T) {
	t.Parallel()
	without, err := EditAlertRules(func(r map[string]any) bool { return r["alert"] != AlertLakeCommitsFailing })
	require.NoError(t, err)
	assert.NotContains(t, string(without), AlertLakeCommitsFailing)
	assert.Contains(t, string(without), AlertFreshnessObjectiveMissed)
	critical, err := EditAlertRules(func(r map[string]any) bool {
		if r["alert"] == AlertWarehouseSlow {
			r["labels"] = map[string]any{"severity": "critical"}
		}
		return true
	})
	require.NoError(t, err)
	assert.Regexp(t, `(?s)alert: `+AlertWarehouseSlow+`.*severity: critical`, string(critical))
}
