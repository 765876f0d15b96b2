package drills

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/recovery"
	"github.com/firedrill/firedrill/reports"
)

func TestReportConversionAndWrite(t *testing.T) {
	onset := t0.Add(2 * time.Second)
	r := world{dur: 6 * time.Second, rate: 1000, ok: outage(onset, onset.Add(time.Second)), injects: []time.Time{onset}, bw: 2 * time.Millisecond}.run(t)
	r.Steps = []recovery.Result{{Name: "restart", Start: onset.Add(time.Second), End: onset.Add(1100 * time.Millisecond)}}
	r.Faults = append(r.Faults, r.Faults[0])
	r.Faults[1].Action.Revert = true
	r.Faults[1].Bracket.Sent = onset.Add(time.Second)
	r.Faults[1].Bracket.Acked = onset.Add(time.Second + time.Millisecond)
	r.Verdicts = Budget{TTR: 500 * time.Millisecond}.Evaluate(r)

	d := r.Report()
	assert.Equal(t, "synthetic", d.Name)
	assert.False(t, d.Passed)
	require.Len(t, d.Faults, 1)
	require.NotNil(t, d.Faults[0].Revert)
	assert.Equal(t, onset.Add(time.Second), d.Faults[0].Revert.Sent)
	require.NotNil(t, d.Timeline.Restored)
	assert.Equal(t, r.Measures.TTR.Value, d.Measures.TTR.Value.D())
	require.Len(t, d.Series, 2)
	assert.Equal(t, "success_ratio", d.Series[0].Name)
	assert.Len(t, d.Series[0].Points, len(r.Buckets))
	assert.Len(t, d.Series[0].Healthy, len(r.Buckets))
	assert.Equal(t, "p99_latency_ms", d.Series[1].Name)
	require.Len(t, d.Steps, 1)
	require.NotEmpty(t, d.Budgets)

	dir := t.TempDir()
	t.Setenv(EnvReportDir, dir)
	savedDrills, savedSamples := collector.drills, collector.samples
	collector.drills, collector.samples = nil, nil
	t.Cleanup(func() { collector.drills, collector.samples = savedDrills, savedSamples })
	Collect(r)
	Collect(r)
	path, err := Flush()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "report.json"), path)
	run, err := reports.Read(path)
	require.NoError(t, err)
	require.Len(t, run.Drills, 2)
	assert.Equal(t, 0, run.Drills[0].Sample)
	assert.Equal(t, 1, run.Drills[1].Sample)
	assert.Equal(t, reports.SchemaVersion, run.Schema)
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "synthetic")
}

// Each run records the release it tested: FIREDRILL_RELEASE, else git
// describe of the checkout.
func TestRunRecordsTheRelease(t *testing.T) {
	t.Setenv("FIREDRILL_RELEASE", "v1.4.0-rc1")
	assert.Equal(t, "v1.4.0-rc1", Collected().Meta.Release)
	t.Setenv("FIREDRILL_RELEASE", "")
	if _, err := os.Stat("../.git"); err == nil {
		assert.NotEmpty(t, Collected().Meta.Release, "git describe of this checkout")
	}
}
