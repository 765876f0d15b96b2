package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Markdown writes a summary that fits a CI step summary (e.g. GitHub's
// $GITHUB_STEP_SUMMARY): a table with one row per drill sample
// (drill | TTR ± res | TTD | lost | dup | verdict), then every budget miss
// and every drill error, per drill.
func Markdown(w io.Writer, run Run) error {
	bw := bufio.NewWriter(w)
	title := "firedrill report"
	if run.Meta.RunID != "" {
		title += " " + run.Meta.RunID
	}
	fmt.Fprintf(bw, "## %s\n\n", mdEscape(title))
	if meta := metaLine(run.Meta); meta != "" {
		fmt.Fprintf(bw, "%s\n\n", mdEscape(meta))
	}
	pass, fail, errs := tally(run)
	fmt.Fprintf(bw, "**%d drill samples: %d passed, %d failed, %d errors**\n\n", len(run.Drills), pass, fail, errs)
	if len(run.Drills) > 0 {
		fmt.Fprintln(bw, "| drill | TTR ± res | TTD | lost | dup | verdict |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---|")
		for i, d := range run.Drills {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n",
				mdEscape(run.Label(i)), FormatMeasure(d.Measures.TTR, true), FormatMeasure(d.Measures.TTD, false),
				intOrDash(d.Integrity.Checked, d.Integrity.Lost), intOrDash(d.Integrity.Checked, d.Integrity.Duplicated),
				mdVerdict(d.Outcome()))
		}
		fmt.Fprintln(bw)
	}
	var any bool
	for i, d := range run.Drills {
		failed := d.Failed()
		if len(failed) == 0 && d.Error == "" {
			continue
		}
		if !any {
			fmt.Fprintln(bw, "### Budget misses")
			fmt.Fprintln(bw)
			any = true
		}
		fmt.Fprintf(bw, "**%s**\n\n", mdEscape(run.Label(i)))
		if d.Error != "" {
			fmt.Fprintf(bw, "- error: %s\n", mdEscape(firstLine(d.Error)))
			mdDetails(bw, d.Error)
		}
		for _, v := range failed {
			fmt.Fprintf(bw, "- %s: %s (limit %s)", mdEscape(v.Name), mdEscape(v.Actual), mdEscape(v.Limit))
			if v.Message != "" {
				fmt.Fprintf(bw, ": %s", mdEscape(firstLine(v.Message)))
			}
			fmt.Fprintln(bw)
			mdDetails(bw, v.Message)
		}
		fmt.Fprintln(bw)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

func tally(run Run) (pass, fail, errs int) {
	for _, d := range run.Drills {
		switch d.Outcome() {
		case "pass":
			pass++
		case "fail":
			fail++
		default:
			errs++
		}
	}
	return
}

func metaLine(m Meta) string {
	var parts []string
	if m.Release != "" {
		parts = append(parts, "release "+m.Release)
	}
	if m.Commit != "" {
		parts = append(parts, "commit "+shortCommit(m.Commit))
	}
	if m.Machine != "" {
		parts = append(parts, "machine "+m.Machine)
	}
	if !m.Started.IsZero() {
		parts = append(parts, "started "+m.Started.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if !m.Started.IsZero() && !m.Finished.IsZero() {
		parts = append(parts, "took "+FormatDuration(m.Finished.Sub(m.Started)))
	}
	if m.Seed != 0 {
		parts = append(parts, fmt.Sprintf("seed %d", m.Seed))
	}
	return strings.Join(parts, " · ")
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func intOrDash(ok bool, n int64) string {
	if !ok {
		return "–"
	}
	return fmt.Sprint(n)
}

func mdVerdict(v string) string {
	switch v {
	case "pass":
		return "✅ pass"
	case "fail":
		return "❌ fail"
	default:
		return "⚠️ error"
	}
}

// mdEscape makes s safe inside a Markdown table cell or list item.
var mdReplacer = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`)

func mdEscape(s string) string { return mdReplacer.Replace(s) }

// mdDetails writes a multi-line message as a collapsed code block inside
// the current list item; one-line messages need none.
func mdDetails(w io.Writer, msg string) {
	msg = strings.TrimRight(msg, "\n")
	if !strings.Contains(msg, "\n") {
		return
	}
	msg = strings.ReplaceAll(msg, "~~~", "~ ~ ~")
	fmt.Fprintf(w, "\n  <details><summary>details</summary>\n\n  ~~~text\n")
	for _, l := range strings.Split(msg, "\n") {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "  ~~~\n\n  </details>\n\n")
}

// firstLine returns the first non-empty line of s, capped in length.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return oneLine(l)
		}
	}
	return ""
}

// oneLine folds a multi-line message into one line for a list item, and
// caps its length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 500
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
