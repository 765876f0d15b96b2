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
		{"healthy flags", file("healthy.json", `{"schema": "firedrill.report/v1", "drills": [{"name": "a", "series": [{"name": "s", "points": [{"v": 1, "p": true}], "healthy": [true, false]}]}]}`),
			reports.ErrMalformed, []string{"healthy.json", "2 healthy flags for 1 points"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reports.Read(tc.path)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.is)
			var fe *reports.FileError
			assert.True(t, errors.As(err, &fe), "error is a *FileError")
			for _, s := range tc.substr {
				assert.Contains(t, err.Error(), s)
			}
			assert.Equal(t, strings.ToLower(err.Error()[:1]), err.Error()[:1], "errors start lower-case")
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
	assert.ErrorIs(t, err, reports.ErrNoRuns)
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
