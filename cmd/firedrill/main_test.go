package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
	"github.com/firedrill/firedrill/reports/reportstest"
	"github.com/firedrill/firedrill/scenarios/kube"
)

// fixtures writes run files for the CLI tests and returns their paths.
type fixtures struct {
	dir                    string
	run, other             string // single run files with the same drills
	baseDir, headDir       string // 10 samples per drill; head has loader-crash 30% slower
	sameDir                string // head drawn like base
	mismatch               string // different drill set
	malformed, v2, missing string
	empty                  string // directory without run files
}

func newFixtures(t *testing.T) fixtures {
	t.Helper()
	dir := t.TempDir()
	f := fixtures{dir: dir}
	write := func(path string, run reports.Run) string {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, reports.WriteFile(path, reports.JSON, run))
		return path
	}
	drills := reportstest.PipelineDrills()
	f.run = write(filepath.Join(dir, "run.json"), reportstest.Run(reportstest.Config{Bucket: 500 * time.Millisecond, Tail: time.Second, Seed: 1, Drills: drills}))
	f.other = write(filepath.Join(dir, "other.json"), reportstest.Run(reportstest.Config{Bucket: 500 * time.Millisecond, Tail: time.Second, Seed: 2, Drills: drills, Start: reportstest.Epoch.Add(time.Hour)}))

	slower := append([]reportstest.DrillSpec(nil), drills...)
	slower[0].TTR = slower[0].TTR * 13 / 10 // loader-crash recovers 30% slower
	for i := range 2 {
		// Each side is two files of five samples, like two `go test -count 5` runs.
		start := reportstest.Epoch.Add(time.Duration(i) * time.Hour)
		write(filepath.Join(dir, "base", "r"+string(rune('0'+i))+".json"), reportstest.Run(reportstest.Config{Bucket: 500 * time.Millisecond, Tail: time.Second, Seed: uint64(10 + i), Samples: 5, Drills: drills, Start: start}))
		write(filepath.Join(dir, "head", "r"+string(rune('0'+i))+".json"), reportstest.Run(reportstest.Config{Bucket: 500 * time.Millisecond, Tail: time.Second, Seed: uint64(20 + i), Samples: 5, Drills: slower, Start: start.Add(24 * time.Hour)}))
		write(filepath.Join(dir, "same", "r"+string(rune('0'+i))+".json"), reportstest.Run(reportstest.Config{Bucket: 500 * time.Millisecond, Tail: time.Second, Seed: uint64(30 + i), Samples: 5, Drills: drills, Start: start.Add(48 * time.Hour)}))
	}
	f.baseDir, f.headDir, f.sameDir = filepath.Join(dir, "base"), filepath.Join(dir, "head"), filepath.Join(dir, "same")

	changed := append([]reportstest.DrillSpec(nil), drills[1:]...)
	changed = append(changed, reportstest.DrillSpec{Name: "new-drill"})
	f.mismatch = write(filepath.Join(dir, "mismatch.json"), reportstest.Run(reportstest.Config{Bucket: 500 * time.Millisecond, Tail: time.Second, Seed: 3, Drills: changed}))

	f.malformed = filepath.Join(dir, "malformed.json")
	require.NoError(t, os.WriteFile(f.malformed, []byte("{\n  \"schema\": \"firedrill.report/v1\",\n  \"drills\": [}\n"), 0o644))
	f.v2 = filepath.Join(dir, "v2.json")
	require.NoError(t, os.WriteFile(f.v2, []byte(`{"schema": "firedrill.report/v2", "drills": []}`), 0o644))
	f.missing = filepath.Join(dir, "does-not-exist.json")
	f.empty = filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(f.empty, 0o755))
	return f
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestCLI(t *testing.T) {
	f := newFixtures(t)
	outDir := t.TempDir()
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
		noStdout []string
		file     string // a file that must exist afterwards
	}{
		{name: "help", args: []string{"--help"}, code: 0, stdout: []string{"report", "compare", "history", "wipe"}},
		{name: "no command", args: nil, code: 2, stderr: []string{"firedrill: expected one of"}},
		{name: "unknown command", args: []string{"nope"}, code: 2, stderr: []string{"unexpected argument nope"}},

		{name: "report markdown", args: []string{"report", "--format", "md", f.run}, code: 0,
			stdout: []string{"| drill | TTR ± res | TTD | pages | alerts | lost | dup | episodes | verdict |", "| loader-crash |", "### Failures", "lake-outage", "### Episodes"}},
		{name: "report merges runs", args: []string{"report", "-f", "md", f.run, f.other}, code: 0,
			stdout: []string{"loader-crash #1", "loader-crash #2", "14 drill samples"}},
		{name: "report json", args: []string{"report", "--format", "json", f.run}, code: 0, stdout: []string{`"schema": "firedrill.report/v1"`}},
		{name: "report junit dir", args: []string{"report", "--format", "junit", f.baseDir}, code: 0,
			stdout: []string{`<testsuite name="firedrill" tests="70"`, `<failure type="budget"`}},
		{name: "report html to file", args: []string{"report", "-o", filepath.Join(outDir, "r.html"), f.run}, code: 0,
			stderr: []string{"wrote html report of 7 drill samples"}, file: filepath.Join(outDir, "r.html")},
		{name: "report format from extension", args: []string{"report", "-o", filepath.Join(outDir, "r.xml"), f.run}, code: 0,
			stderr: []string{"wrote junit report"}, file: filepath.Join(outDir, "r.xml")},
		{name: "report missing file", args: []string{"report", f.missing}, code: 2, stderr: []string{f.missing, "no such file"}},
		{name: "report malformed", args: []string{"report", f.run, f.malformed}, code: 2,
			stderr: []string{f.malformed, "invalid JSON at line 3, column 14"}},
		{name: "report unknown schema", args: []string{"report", f.v2}, code: 2,
			stderr: []string{f.v2, `unsupported schema version "firedrill.report/v2"`}},
		{name: "report empty dir", args: []string{"report", f.empty}, code: 2, stderr: []string{f.empty, "no run files"}},
		{name: "report bad format", args: []string{"report", "--format", "pdf", f.run}, code: 2, stderr: []string{"--format", "pdf"}},
		{name: "report no runs", args: []string{"report"}, code: 2, stderr: []string{`expected "<RUN> ..."`}},

		{name: "compare finds planted regression", args: []string{"compare", f.baseDir, f.headDir}, code: 1,
			stdout: []string{"loader-crash", "regression"}, stderr: []string{"TTR regression in 1 drill(s): loader-crash (+"}},
		{name: "compare same distribution", args: []string{"compare", f.baseDir, f.sameDir}, code: 0,
			stdout: []string{"drill", "95% CI", "loader-crash"}, noStdout: []string{"regression"}},
		{name: "compare single files", args: []string{"compare", f.run, f.other}, code: 0, stdout: []string{"only 1 sample(s)"}},
		{name: "compare high threshold", args: []string{"compare", "--threshold", "0.5", f.baseDir, f.headDir}, code: 0,
			noStdout: []string{"regression"}},
		{name: "compare mismatched drills", args: []string{"compare", f.run, f.mismatch}, code: 2,
			stderr: []string{f.run, f.mismatch, "different drills", "only in base: loader-crash", "only in head: new-drill"}},
		{name: "compare other schema", args: []string{"compare", f.run, f.v2}, code: 2,
			stderr: []string{"head", f.v2, "unsupported schema version", "firedrill.report/v1"}},
		{name: "compare malformed base", args: []string{"compare", f.malformed, f.run}, code: 2, stderr: []string{"base", f.malformed, "invalid JSON"}},
		{name: "compare missing head", args: []string{"compare", f.run, f.missing}, code: 2, stderr: []string{"head", f.missing, "no such file"}},
		{name: "compare bad alpha", args: []string{"compare", "--alpha", "2", f.run, f.other}, code: 2, stderr: []string{"--alpha 2"}},
		{name: "compare bad threshold", args: []string{"compare", "--threshold=-1", f.run, f.other}, code: 2, stderr: []string{"--threshold -1: must be at least 0"}},
		{name: "compare not a number", args: []string{"compare", "--threshold", "ten", f.run, f.other}, code: 2, stderr: []string{"--threshold"}},
		{name: "compare one arg", args: []string{"compare", f.run}, code: 2, stderr: []string{"<head>"}},

		{name: "history", args: []string{"history", "-o", filepath.Join(outDir, "trend.svg"), f.headDir, f.baseDir, f.sameDir}, code: 0,
			stdout: []string{"run", "loader-crash"}, stderr: []string{"over 6 runs"}, file: filepath.Join(outDir, "trend.svg")},
		{name: "history to stdout", args: []string{"history", "-o", "-", f.run}, code: 0, stdout: []string{"<svg", "loader-crash"}},
		{name: "history missing dir", args: []string{"history", filepath.Join(f.dir, "nodir")}, code: 2, stderr: []string{"nodir", "no such file or directory"}},
		{name: "history malformed", args: []string{"history", f.malformed}, code: 2, stderr: []string{f.malformed, "invalid JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			assert.Equal(t, tc.code, r.code, "exit code; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			for _, s := range tc.stdout {
				assert.Contains(t, r.stdout, s)
			}
			for _, s := range tc.noStdout {
				assert.NotContains(t, r.stdout, s)
			}
			for _, s := range tc.stderr {
				assert.Contains(t, r.stderr, s)
			}
			if tc.code == exitBadInput {
				assert.True(t, strings.HasPrefix(r.stderr, "firedrill: "), "errors start with the program name: %q", r.stderr)
			}
			if tc.file != "" {
				st, err := os.Stat(tc.file)
				require.NoError(t, err)
				assert.Positive(t, st.Size())
			}
		})
	}
}

// notRestoredDirs writes base and head directories of six samples of the
// pipeline drills each (two files of three, like two `go test -count 3`
// runs), where loader-crash is not restored in the first baseDown base
// samples and the first headDown head samples. Both sides recover equally
// fast when they recover.
func notRestoredDirs(t *testing.T, baseDown, headDown int) (base, head string) {
	t.Helper()
	dir := t.TempDir()
	side := func(name string, down int, seed uint64) string {
		for f := range 2 {
			for s := range 3 {
				drills := append([]reportstest.DrillSpec(nil), reportstest.PipelineDrills()...)
				drills[0].NotRestored = f*3+s < down
				run := reportstest.Run(reportstest.Config{Bucket: 500 * time.Millisecond, Tail: time.Second, Seed: seed + uint64(f*3+s), Drills: drills,
					Start: reportstest.Epoch.Add(time.Duration(f*3+s) * time.Hour), RunID: fmt.Sprintf("%s-%d", name, f)})
				path := filepath.Join(dir, name, fmt.Sprintf("r%d-%d.json", f, s))
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, reports.WriteFile(path, reports.JSON, run))
			}
		}
		return filepath.Join(dir, name)
	}
	return side("base", baseDown, 100), side("head", headDown, 200)
}

// Before, a head sample that never recovered gave no TTR and was dropped:
// with every head sample down, compare said "incomplete" and exited 0, so
// a release whose drill never recovers passed the regression gate.
func TestCLICompareNotRestored(t *testing.T) {
	for _, tc := range []struct {
		name               string
		baseDown, headDown int
		code               int
		stdout, stderr     []string
		noStdout           []string
	}{
		{name: "head never restored", headDown: 6, code: 1,
			stdout: []string{"regression: not restored in 6 of 6 head samples", "1 drill(s) not restored in some head sample"},
			stderr: []string{"firedrill: compare: TTR regression in 1 drill(s): loader-crash (not restored in 6 of 6 head samples)"}},
		{name: "one head sample not restored", headDown: 1, code: 1,
			stdout: []string{"regression: not restored in 1 of 6 head samples"},
			stderr: []string{"loader-crash (not restored in 1 of 6 head samples)"}},
		{name: "base not restored, head fine", baseDown: 6, code: 0,
			stdout: []string{"base not restored in 6 of 6 samples"}, noStdout: []string{"regression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, head := notRestoredDirs(t, tc.baseDown, tc.headDown)
			r := runCLI(t, "compare", base, head)
			assert.Equal(t, tc.code, r.code, "exit code; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			for _, s := range tc.stdout {
				assert.Contains(t, r.stdout, s)
			}
			for _, s := range tc.noStdout {
				assert.NotContains(t, r.stdout, s)
			}
			for _, s := range tc.stderr {
				assert.Contains(t, r.stderr, s)
			}
			if tc.code == 0 {
				assert.Empty(t, r.stderr)
			}
			t.Logf("firedrill compare %s %s\n%s%s", base, head, r.stdout, r.stderr)
		})
	}
}

// Before, the report command's Markdown showed ✅ for a drill whose go test
// failed after the drill, and nothing for one never restored.
func TestCLIReportVerdicts(t *testing.T) {
	drills := []reportstest.DrillSpec{
		{Name: "ok", TTRBudget: 20 * time.Second},
		{Name: "never-back", NotRestored: true},
		{Name: "teardown", TestFailure: "cleanup: container still running"},
		{Name: "stuck", RevertFail: "latency(a->b): toxiproxy unreachable — run make wipe"},
	}
	path := filepath.Join(t.TempDir(), "run.json")
	require.NoError(t, reports.WriteFile(path, reports.JSON, reportstest.Run(reportstest.Config{Drills: drills})))
	r := runCLI(t, "report", "-f", "md", path)
	require.Equal(t, 0, r.code, r.stderr)
	for _, s := range []string{"| ok |", "✅ pass |", "| never-back | – |", "❌ not restored |", "❌ test failed |", "❌ revert failed |", "**4 drill samples: 1 passed, 3 failed, 0 errors**"} {
		assert.Contains(t, r.stdout, s)
	}
	assert.Equal(t, 1, strings.Count(r.stdout, "✅"))
	r = runCLI(t, "report", "-f", "junit", path)
	require.Equal(t, 0, r.code, r.stderr)
	for _, s := range []string{`failures="3"`, `<failure type="restore"`, `<failure type="test" message="test failed: cleanup: container still running"`, `<failure type="revert"`} {
		assert.Contains(t, r.stdout, s)
	}
}

func TestCLIReportFormats(t *testing.T) {
	f := newFixtures(t)
	out := t.TempDir()
	for _, format := range []string{"html", "md", "junit", "json"} {
		path := filepath.Join(out, "report."+format)
		r := runCLI(t, "report", "--format", format, "-o", path, f.run)
		require.Equal(t, 0, r.code, r.stderr)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.NotEmpty(t, b, format)
	}
	// A JSON report of merged runs reads back as a valid run.
	merged := filepath.Join(out, "merged.json")
	require.Equal(t, 0, runCLI(t, "report", "-o", merged, f.baseDir).code)
	run, err := reports.Read(merged)
	require.NoError(t, err)
	assert.Len(t, run.Drills, 70)
}

func TestCLIHistoryOrdersRunsByStart(t *testing.T) {
	f := newFixtures(t)
	svg := filepath.Join(t.TempDir(), "t.svg")
	// Directories given newest first; the chart must still run oldest to newest.
	r := runCLI(t, "history", "-o", svg, f.sameDir, f.headDir, f.baseDir)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 1+6)
	var starts []string
	for _, l := range lines[1:] {
		starts = append(starts, strings.Fields(l)[1])
	}
	assert.IsNonDecreasing(t, starts)
	assert.Equal(t, "2026-01-02T03:04:05Z", starts[0], "the oldest base run comes first")
	b, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.Equal(t, 7, strings.Count(string(b), `<g class="drill"`))
}

// The head runs recover loader-crash 30% slower than the base runs just
// before them: history marks the first head run, labelled by release.
func TestCLIHistoryMarksRegressions(t *testing.T) {
	f := newFixtures(t)
	svgPath := filepath.Join(t.TempDir(), "t.svg")
	r := runCLI(t, "history", "-o", svgPath, f.baseDir, f.headDir, f.sameDir)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 1+6)
	assert.True(t, strings.HasSuffix(lines[0], "flagged"), lines[0])
	assert.Contains(t, lines[3], "loader-crash (", "the first head run is flagged")
	for _, i := range []int{1, 2, 4, 5, 6} {
		assert.True(t, strings.HasSuffix(lines[i], "–"), "run %d is not flagged: %s", i, lines[i])
	}
	assert.Contains(t, r.stderr, "compare flags a regression in 1 run(s)")
	b, err := os.ReadFile(svgPath)
	require.NoError(t, err)
	svg := string(b)
	assert.Equal(t, 1, strings.Count(svg, `<g class="regressed-run"`))
	assert.Equal(t, 7, strings.Count(svg, `<path class="budget"`), "every reference drill has a TTR budget")
	assert.Contains(t, svg, ">v0.0.0-test</text>", "labelled by release")

	// A threshold no change reaches flags nothing; a bad one is refused.
	r = runCLI(t, "history", "-o", svgPath, "--threshold", "5", f.baseDir, f.headDir)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "compare flags a regression in 0 run(s)")
	r = runCLI(t, "history", "--alpha", "0", f.baseDir)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--alpha 0: must be between 0 and 1")
}

func TestCLIWipe(t *testing.T) {
	old := wipe
	t.Cleanup(func() { wipe = old })

	wipe = func(ctx context.Context) ([]string, []string, error) {
		_, ok := ctx.Deadline()
		assert.True(t, ok, "wipe runs with a timeout")
		return []string{"0123456789ab /firedrill-stub"}, []string{"ba9876543210 firedrill-net"}, nil
	}
	r := runCLI(t, "wipe")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "removed container 0123456789ab /firedrill-stub")
	assert.Contains(t, r.stdout, "removed network ba9876543210 firedrill-net")
	assert.Contains(t, r.stderr, "wiped 1 container(s) and 1 network(s)")

	wipe = func(context.Context) ([]string, []string, error) {
		return nil, nil, errors.New("docker is not reachable")
	}
	r = runCLI(t, "wipe")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "firedrill: wipe: docker is not reachable\n", r.stderr)
}

func TestCLIWipeKube(t *testing.T) {
	old := kubeWipe
	t.Cleanup(func() { kubeWipe = old })
	kubeWipe = func(_ context.Context, kubeconfig string, namespaces []string) (kube.Wiped, error) {
		assert.Equal(t, "/tmp/kc", kubeconfig)
		assert.Equal(t, []string{"staging", "qa"}, namespaces)
		return kube.Wiped{Namespaces: []string{"fd-web-x1"}, Objects: []string{"Deployment staging/web"}, Restored: []string{"uncordoned node-a"}}, nil
	}
	r := runCLI(t, "wipe", "--kubeconfig", "/tmp/kc", "--namespace", "staging", "--namespace", "qa")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "deleted namespace fd-web-x1\ndeleted Deployment staging/web\nuncordoned node-a\n")
	assert.Contains(t, r.stderr, "wiped 1 namespace(s) and 1 object(s), put back 1 change(s) on /tmp/kc")

	// The real one: a kubeconfig that does not exist is a clear error.
	kubeWipe = old
	r = runCLI(t, "wipe", "--kubeconfig", "/nonexistent/kubeconfig")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no Kubernetes cluster: kubeconfig /nonexistent/kubeconfig")
}
