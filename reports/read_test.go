package reports_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
)

func writeRun(t *testing.T, dir, name string, run reports.Run) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, reports.WriteFile(path, reports.JSON, run))
	return path
}

func TestReadRoundTrip(t *testing.T) {
	run := goldenRun()
	path := writeRun(t, t.TempDir(), "run.json", run)
	got, err := reports.Read(path)
	require.NoError(t, err)
	assert.Equal(t, run, got)
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	for _, tc := range []struct {
		name   string
		path   string
		is     error
		substr []string
	}{
		{"missing file", filepath.Join(dir, "nope.json"), fs.ErrNotExist, []string{"nope.json", ": no such file or directory"}},
		{"malformed json", file("bad.json", "{\n  \"schema\": \"firedrill.report/v1\",\n  \"drills\": [,]\n}"), reports.ErrMalformed,
			[]string{"bad.json", "invalid JSON at line 3, column 14"}},
		{"truncated", file("trunc.json", `{"schema": "firedrill.report/v1", "drills": [`), reports.ErrMalformed,
			[]string{"trunc.json", "line 1", "unexpected end"}},
		{"wrong type", file("type.json", "{\"schema\": \"firedrill.report/v1\",\n \"drills\": [{\"name\": \"x\", \"sample\": \"one\"}]}"), reports.ErrMalformed,
			[]string{"type.json", "drills.sample", "line 2"}},
		{"bad duration", file("dur.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "x", "bucket": "100ms"}]}`), reports.ErrMalformed,
			[]string{"dur.json", "drills.bucket", "cannot use JSON string as a number of seconds"}},
		{"no schema", file("noschema.json", `{"drills": []}`), reports.ErrSchema, []string{"noschema.json", "no \"schema\" field"}},
		{"unknown schema", file("v2.json", `{"schema": "firedrill.report/v2", "drills": []}`), reports.ErrSchema,
			[]string{"v2.json", `"firedrill.report/v2"`, `reads "firedrill.report/v1"`}},
		{"not an object", file("arr.json", `[1, 2]`), reports.ErrMalformed, []string{"arr.json", "cannot use JSON array"}},
		{"empty drill name", file("noname.json", `{"schema": "firedrill.report/v1", "drills": [{"name": " "}]}`), reports.ErrMalformed,
			[]string{"noname.json", "drills[0]: empty name"}},
		{"negative ttr", file("neg.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "measures": {"ttr": {"valid": true, "value": -1}}}]}`),
			reports.ErrMalformed, []string{"neg.json", "measures.ttr: negative"}},
		// Before, a measure outside its own interval, a drill both passed
		// and test-failed, or an episode with a TTR but no end were read as
		// given and shown as they came.
		{"value outside bounds", file("bounds.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "measures": {"ttr": {"valid": true, "value": 3, "lower": 3.1, "upper": 3.2}}}]}`),
			reports.ErrMalformed, []string{"bounds.json", "measures.ttr: value 3s outside its bounds [3.1s, 3.2s]"}},
		{"passed and test failed", file("testfail.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "passed": true, "test_failed": true}]}`),
			reports.ErrMalformed, []string{"testfail.json", "drills[0] (a): passed is true but test_failed is set"}},
		{"episode ttr without restored", file("ep.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "episodes": [{"fault": "kill(x)", "ttr": {"valid": true, "value": 1}}]}]}`),
			reports.ErrMalformed, []string{"ep.json", "episodes[0] (kill(x)): ttr is valid but the episode has no restored instant"}},
		{"episode restored before impact", file("ep2.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "episodes": [{"fault": "f", "impact": "2026-01-02T03:04:06Z", "restored": "2026-01-02T03:04:05Z"}]}]}`),
			reports.ErrMalformed, []string{"ep2.json", "episodes[0] (f): restored before impact"}},
		{"episode bad bounds", file("ep3.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "episodes": [{"fault": "f", "impact": "2026-01-02T03:04:05Z", "restored": "2026-01-02T03:04:06Z", "ttr": {"valid": true, "value": 1, "lower": 0.5, "upper": 0.9}}]}]}`),
			reports.ErrMalformed, []string{"ep3.json", "episodes[0] (f): ttr: value 1s outside its bounds"}},
		{"negative late", file("late.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "integrity": {"late": -1}}]}`),
			reports.ErrMalformed, []string{"late.json", "integrity.late: negative count"}},
		{"episode field wrong type", file("ept.json", "{\"schema\": \"firedrill.report/v1\",\n \"drills\": [{\"name\": \"a\", \"episodes\": [{\"onset_source\": 5}]}]}"),
			reports.ErrMalformed, []string{"ept.json", "drills.episodes.onset_source", "line 2"}},
		{"restored wrong type", file("rt.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "restored": "yes"}]}`),
			reports.ErrMalformed, []string{"rt.json", "drills.restored"}},
		{"healthy flags", file("healthy.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "series": [{"name": "s", "points": [{"v": 1, "p": true}], "healthy": [true, false]}]}]}`),
			reports.ErrMalformed, []string{"healthy.json", "2 healthy flags for 1 points"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reports.Read(tc.path)
			require.Error(t, err)
			require.ErrorIs(t, err, tc.is)
			var fe *reports.FileError
			require.ErrorAs(t, err, &fe, "error is a *FileError")
			for _, s := range tc.substr {
				assert.Contains(t, err.Error(), s)
			}
			assert.Equal(t, strings.ToLower(err.Error()[:1]), err.Error()[:1], "errors start lower-case")
		})
	}
}

// A file written before episodes, bounds, "restored" and "late" existed
// still reads, and means what it meant: before this change such a drill
// was a pass; read with "restored" missing as false it would now show as
// "not restored" and fail compare.
func TestReadLegacyFile(t *testing.T) {
	legacy := `{"schema": "firedrill.report/v1", "meta": {"run_id": "old", "started": "2026-01-02T03:04:05Z", "finished": "2026-01-02T03:05:05Z"},
	  "drills": [
	    {"name": "recovered", "passed": true, "bucket": 0.1, "healthy_run": 10,
	     "timeline": {"load_started": "2026-01-02T03:04:05Z", "impact": "2026-01-02T03:04:10.1Z", "restored": "2026-01-02T03:04:13.2Z", "end": "2026-01-02T03:04:17Z"},
	     "measures": {"ttr": {"valid": true, "value": 3.2, "resolution": 0.103}},
	     "integrity": {"checked": true, "acknowledged": 10, "landed": 10, "lost": 0, "duplicated": 0}},
	    {"name": "no-impact", "passed": true, "measures": {"ttr": {"valid": true, "value": 0, "resolution": 0.103}}},
	    {"name": "never-back", "passed": false, "timeline": {"impact": "2026-01-02T03:04:10.1Z"}, "measures": {"ttr": {"valid": false, "value": 0, "resolution": 0}}},
	    {"name": "errored", "passed": false, "error": "no docker"},
	    {"name": "explicit", "passed": false, "restored": false, "timeline": {"restored": "2026-01-02T03:04:13.2Z"}}
	  ]}`
	path := filepath.Join(t.TempDir(), "old.json")
	require.NoError(t, os.WriteFile(path, []byte(legacy), 0o644))
	run, err := reports.Read(path)
	require.NoError(t, err)
	require.Len(t, run.Drills, 5)
	for _, tc := range []struct {
		name      string
		restored  bool
		recovered bool
		outcome   string
	}{
		{"recovered", true, true, "pass"},
		{"no-impact", true, true, "pass"},
		{"never-back", false, false, "fail"},
		{"errored", false, false, "error"},
		{"explicit", false, false, "fail"}, // a written "restored" wins over the timeline
	} {
		d := run.Drills[indexOf(run, tc.name, 0)]
		assert.Equal(t, tc.restored, d.Restored, tc.name)
		assert.Equal(t, tc.recovered, d.Recovered(), tc.name)
		assert.Equal(t, tc.outcome, d.Outcome(), tc.name)
		assert.Empty(t, d.Episodes, tc.name)
	}
	lo, hi := run.Drills[0].Measures.TTR.Bounds()
	assert.Equal(t, 3097*time.Millisecond, lo.D(), "no bounds recorded: value − resolution")
	assert.Equal(t, 3303*time.Millisecond, hi.D(), "no bounds recorded: value + resolution")
	lo, hi = run.Drills[1].Measures.TTR.Bounds()
	assert.Equal(t, time.Duration(0), lo.D(), "clipped at 0")
	assert.Equal(t, 103*time.Millisecond, hi.D())
	assert.Equal(t, int64(0), run.Drills[0].Integrity.Late)
}

// Before, a measure had only a symmetric ± (Resolution): an asymmetric
// interval could not be told, and a report showed "2.05s ± 3ms" with no way
// to see that the truth lay in [2.047s, 2.051s].
func TestMeasureBounds(t *testing.T) {
	ms := func(n int) reports.Duration { return reports.Duration(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name           string
		m              reports.Measure
		lo, hi, pm     reports.Duration
		format, bounds string
	}{
		{"asymmetric", reports.Measure{Valid: true, Value: ms(2050), Lower: ms(2047), Upper: ms(2051)}, ms(2047), ms(2051), ms(3), "2.05s ± 3ms", "[2.047s, 2.051s]"},
		{"resolution given", reports.Measure{Valid: true, Value: ms(2050), Lower: ms(2047), Upper: ms(2051), Resolution: ms(4)}, ms(2047), ms(2051), ms(4), "2.05s ± 4ms", "[2.047s, 2.051s]"},
		{"legacy", reports.Measure{Valid: true, Value: ms(500), Resolution: ms(100)}, ms(400), ms(600), ms(100), "500ms ± 100ms", "[400ms, 600ms]"},
		{"exact zero", reports.Measure{Valid: true}, 0, 0, 0, "0s", "[0s, 0s]"},
		{"invalid", reports.Measure{Value: ms(5)}, ms(5), ms(5), 0, "–", "–"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := tc.m.Bounds()
			assert.Equal(t, tc.lo, lo)
			assert.Equal(t, tc.hi, hi)
			assert.Equal(t, tc.pm, tc.m.Plusminus())
			assert.Equal(t, tc.format, reports.FormatMeasure(tc.m, true))
			assert.Equal(t, tc.bounds, reports.FormatBounds(tc.m))
		})
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	a := reportstest.Run(reportstest.Config{Seed: 1, Drills: reportstest.PipelineDrills()[:2]})
	b := reportstest.Run(reportstest.Config{Seed: 2, Drills: reportstest.PipelineDrills()[:2]})
	writeRun(t, dir, "b.json", b)
	writeRun(t, dir, "a.json", a)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644))
	runs, err := reports.ReadPaths(dir)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, a.Meta.RunID, runs[0].Meta.RunID, "directory files in name order")

	empty := t.TempDir()
	_, err = reports.ReadPaths(empty)
	require.ErrorIs(t, err, reports.ErrNoRuns)
	assert.Contains(t, err.Error(), empty)

	_, err = reports.ReadPaths(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// failingWriter writes part of a report, then fails.
func failingWriter(w io.Writer, run reports.Run) error {
	_, _ = io.WriteString(w, `{"schema": "firedrill.rep`)
	return errors.New("disk on fire")
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	old := reportstest.Run(reportstest.Config{Seed: 1, Drills: reportstest.PipelineDrills()[:1]})
	require.NoError(t, reports.WriteFile(path, reports.JSON, old))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	err = reports.WriteFile(path, failingWriter, old)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk on fire")
	assert.Contains(t, err.Error(), path)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "a failed write leaves the old file")
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, ents, 1, "no temporary file left behind")

	// A successful write replaces the file.
	newer := old
	newer.Meta.RunID = "newer"
	require.NoError(t, reports.WriteFile(path, reports.JSON, newer))
	got, err := reports.Read(path)
	require.NoError(t, err)
	assert.Equal(t, "newer", got.Meta.RunID)

	err = reports.WriteFile(filepath.Join(dir, "no", "such", "dir.json"), reports.JSON, old)
	assert.Error(t, err)
}

func TestMerge(t *testing.T) {
	a := reportstest.Run(reportstest.Config{Seed: 1, Samples: 2, Drills: reportstest.PipelineDrills()[:2], Start: reportstest.Epoch.Add(time.Hour)})
	b := reportstest.Run(reportstest.Config{Seed: 2, Samples: 1, Drills: reportstest.PipelineDrills()[:3]})
	m := reports.Merge(a, b)
	assert.Equal(t, reports.SchemaVersion, m.Schema)
	assert.Equal(t, b.Meta.Started, m.Meta.Started, "earliest start")
	assert.Equal(t, a.Meta.Finished, m.Meta.Finished, "latest finish")
	require.Len(t, m.Drills, 7)
	samples := map[string][]int{}
	for _, d := range m.Drills {
		samples[d.Name] = append(samples[d.Name], d.Sample)
	}
	assert.Equal(t, []int{0, 1, 2}, samples["loader-crash"])
	assert.Equal(t, []int{0}, samples["lake-outage"])
	assert.Equal(t, "loader-crash #3", m.Label(indexOf(m, "loader-crash", 2)))
}

func indexOf(r reports.Run, name string, sample int) int {
	for i, d := range r.Drills {
		if d.Name == name && d.Sample == sample {
			return i
		}
	}
	return -1
}

func TestDurationJSON(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 3300 * time.Millisecond, 100 * time.Millisecond, 7*time.Hour + 1} {
		var buf bytes.Buffer
		require.NoError(t, reports.JSON(&buf, reports.Run{Drills: []reports.Drill{{Name: "x", Bucket: reports.Duration(d)}}}))
		r, err := reports.Decode(buf.Bytes())
		require.NoError(t, err)
		assert.Equal(t, d, r.Drills[0].Bucket.D())
	}
}
