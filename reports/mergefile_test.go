package reports_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
)

// writerRun is one writer's run: a drill only it runs, and one that every
// writer runs ("shared").
func writerRun(writer, round int) reports.Run {
	start := reportstest.Epoch.Add(time.Duration(writer)*time.Minute + time.Duration(round)*time.Second)
	r := reports.Run{Schema: reports.SchemaVersion, Meta: reports.Meta{RunID: fmt.Sprintf("writer-%d", writer), Started: start, Finished: start.Add(time.Second)}}
	for _, name := range []string{fmt.Sprintf("w%d-r%d", writer, round), "shared"} {
		r.Drills = append(r.Drills, reports.Drill{Name: name, Passed: true, Restored: true, HealthyRun: 10})
	}
	return r
}

// checkAllKept asserts that the file at path holds every drill of writers
// × rounds, with samples of "shared" numbered 0..N-1.
func checkAllKept(t *testing.T, path string, writers, rounds int) {
	t.Helper()
	got, err := reports.Read(path)
	require.NoError(t, err)
	names := map[string]int{}
	var shared []int
	for _, d := range got.Drills {
		names[d.Name]++
		if d.Name == "shared" {
			shared = append(shared, d.Sample)
		}
	}
	for w := range writers {
		for r := range rounds {
			assert.Equal(t, 1, names[fmt.Sprintf("w%d-r%d", w, r)], "drill of writer %d, round %d is in the file", w, r)
		}
	}
	want := make([]int, writers*rounds)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, shared, "samples of a drill every writer ran are 0..N-1")
	assert.Len(t, got.Drills, 2*writers*rounds)
}

// Before MergeFile, every package's test binary wrote report.json over the
// previous one: after `go test ./...` a user saw the drills of whichever
// package finished last, and the others' results were silently gone.
func TestMergeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")

	first := writerRun(1, 0)
	merged, err := reports.MergeFile(path, first)
	require.NoError(t, err)
	assert.Equal(t, first.Meta, merged.Meta, "a new file takes the run's meta")

	second := writerRun(0, 0) // started earlier, another run id
	second.Meta.Finished = first.Meta.Finished.Add(time.Hour)
	merged, err = reports.MergeFile(path, second)
	require.NoError(t, err)
	assert.Equal(t, "writer-1", merged.Meta.RunID, "the existing run id is kept")
	assert.Equal(t, second.Meta.Started, merged.Meta.Started, "earliest start")
	assert.Equal(t, second.Meta.Finished, merged.Meta.Finished, "latest finish")
	var got []string
	for _, d := range merged.Drills {
		got = append(got, d.Name+"#"+strconv.Itoa(d.Sample))
	}
	assert.Equal(t, []string{"w1-r0#0", "shared#0", "w0-r0#0", "shared#1"}, got, "existing drills first, samples renumbered")

	back, err := reports.Read(path)
	require.NoError(t, err)
	assert.Equal(t, merged, back, "the file holds what MergeFile returned")
	_, err = os.Stat(path + ".lock")
	assert.NoError(t, err, "the lock file stays")
}

// Before, a corrupt report.json was overwritten by the next writer: the
// drills it held were lost without a word.
func TestMergeFileRefusesCorruptFile(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		is         error
	}{
		{"truncated", `{"schema": "firedrill.report/v1", "drills": [`, reports.ErrMalformed},
		{"other schema", `{"schema": "firedrill.report/v9", "drills": []}`, reports.ErrSchema},
		{"breaks a rule", `{"schema": "firedrill.report/v1", "drills": [{"name": ""}]}`, reports.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.body), 0o644))
			_, err := reports.MergeFile(path, writerRun(0, 0))
			require.Error(t, err)
			require.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), path, "the error names the file")
			after, rerr := os.ReadFile(path)
			require.NoError(t, rerr)
			assert.Equal(t, tc.body, string(after), "the file is left as it is")
		})
	}
	t.Run("invalid run to add", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "report.json")
		_, err := reports.MergeFile(path, reports.Run{Drills: []reports.Drill{{Name: " "}}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "empty name")
		_, serr := os.Stat(path)
		assert.ErrorIs(t, serr, os.ErrNotExist, "nothing written that Read would refuse")
	})
}

// Goroutines each merging into one path: without the lock, two read the
// same old file and the later write drops the other's drills.
func TestMergeFileConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	const writers, rounds = 8, 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				_, err := reports.MergeFile(path, writerRun(w, r))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	checkAllKept(t, path, writers, rounds)
}

const (
	envMergePath   = "FIREDRILL_TEST_MERGE_PATH"
	envMergeWriter = "FIREDRILL_TEST_MERGE_WRITER"
	mergeRounds    = 5
)

// TestMergeFileHelperProcess is one writer process of
// TestMergeFileConcurrentProcesses; it does nothing on its own.
func TestMergeFileHelperProcess(t *testing.T) {
	path := os.Getenv(envMergePath)
	if path == "" {
		t.Skip("helper process for TestMergeFileConcurrentProcesses")
	}
	w, err := strconv.Atoi(os.Getenv(envMergeWriter))
	require.NoError(t, err)
	for r := range mergeRounds {
		_, err := reports.MergeFile(path, writerRun(w, r))
		require.NoError(t, err)
	}
}

// Several test processes (one per package under `go test ./...`) merging
// into one report directory keep every drill.
func TestMergeFileConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several test processes")
	}
	path := filepath.Join(t.TempDir(), "report.json")
	const writers = 4
	var wg sync.WaitGroup
	for w := range writers {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMergeFileHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envMergePath+"="+path, envMergeWriter+"="+strconv.Itoa(w))
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "writer %d:\n%s", w, out)
		})
	}
	wg.Wait()
	checkAllKept(t, path, writers, mergeRounds)
}
