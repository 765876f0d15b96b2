package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Markdown writes a summary that fits a CI step summary (e.g. GitHub's
// $GITHUB_STEP_SUMMARY): a table with one row per drill sample
// (drill | TTR ± res | TTD | pages | alerts | lost | dup | episodes |
// verdict; pages and non-critical alerts that fired, a dash when the drill
// watched no alerting system), then every failure and drill error, per
// drill (test failed, revert failed, not restored, budget misses), then
// per drill its episodes with their intervals and onset sources, the TTR
// decomposition when the runbook started on detection, its alerts, and
// its integrity counts.
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
		fmt.Fprintln(bw, "| drill | TTR ± res | TTD | pages | alerts | lost | dup | episodes | verdict |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|---|")
		for i, d := range run.Drills {
			pages, other := alertCounts(d)
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %d | %s |\n",
				mdEscape(run.Label(i)), FormatMeasure(d.Measures.TTR, true), FormatMeasure(d.Measures.TTD, false), pages, other,
				intOrDash(d.Integrity.Checked, d.Integrity.Lost), intOrDash(d.Integrity.Checked, d.Integrity.Duplicated),
				len(d.Episodes), mdVerdict(d))
		}
		fmt.Fprintln(bw)
	}
	mdFailures(bw, run)
	mdDrills(bw, run)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

// mdFailures lists, per drill sample that failed or errored, every reason.
func mdFailures(bw io.Writer, run Run) {
	var any bool
	for i, d := range run.Drills {
		if d.Outcome() == "pass" {
			continue
		}
		if !any {
			fmt.Fprintln(bw, "### Failures")
			fmt.Fprintln(bw)
			any = true
		}
		fmt.Fprintf(bw, "**%s**\n\n", mdEscape(run.Label(i)))
		if d.Error != "" {
			fmt.Fprintf(bw, "- error: %s\n", mdEscape(firstLine(d.Error)))
			mdDetails(bw, d.Error)
		}
		if d.TestFailed {
			msg := d.TestFailure
			if msg == "" {
				msg = "the go test failed after the drill was judged"
			}
			fmt.Fprintf(bw, "- test failed: %s\n", mdEscape(firstLine(msg)))
			mdDetails(bw, msg)
		}
		for _, r := range d.RevertFailed {
			fmt.Fprintf(bw, "- revert failed: %s\n", mdEscape(firstLine(r)))
		}
		if !d.Restored && d.Error == "" {
			fmt.Fprintf(bw, "- not restored: %s\n", mdEscape(notRestoredText(run.Drills[i])))
		}
		for _, v := range d.Failed() {
			fmt.Fprintf(bw, "- %s: %s (limit %s)", mdEscape(v.Name), mdEscape(v.Actual), mdEscape(v.Limit))
			if v.Message != "" {
				fmt.Fprintf(bw, ": %s", mdEscape(firstLine(v.Message)))
			}
			fmt.Fprintln(bw)
			mdDetails(bw, v.Message)
		}
		fmt.Fprintln(bw)
	}
}

// mdDrills lists per drill sample its episodes and integrity counts.
func mdDrills(bw io.Writer, run Run) {
	if len(run.Drills) == 0 {
		return
	}
	fmt.Fprintln(bw, "### Episodes")
	fmt.Fprintln(bw)
	for i, d := range run.Drills {
		head := "**" + mdEscape(run.Label(i)) + "**"
		if d.Measures.TTR.Valid {
			head += " · worst TTR " + mdEscape(measureWithBounds(d.Measures.TTR))
		}
		if d.Seed != 0 {
			head += fmt.Sprintf(" · seed %d", d.Seed)
		}
		fmt.Fprintf(bw, "%s\n\n", head)
		switch {
		case len(d.Episodes) > 0:
		case d.Timeline.Impact != nil || (d.Measures.TTR.Valid && d.Measures.TTR.Value > 0):
			fmt.Fprintln(bw, "- episodes not recorded (the engine that wrote this report predates them)")
		default:
			fmt.Fprintln(bw, "- no episode: no fault had an impact")
		}
		for j, e := range d.Episodes {
			fmt.Fprintf(bw, "- episode %d: %s\n", j+1, mdEscape(episodeText(d, e)))
		}
		if s := decompositionText(d.Measures); s != "" {
			fmt.Fprintf(bw, "- %s\n", mdEscape(s))
		}
		mdAlerts(bw, d.Alerts)
		if in := d.Integrity; in.Checked {
			fmt.Fprintf(bw, "- integrity: %s\n", mdEscape(integrityText(in)))
		}
		fmt.Fprintln(bw)
	}
}

// mdAlerts lists the alerting system's intervals and each alert watched.
func mdAlerts(bw io.Writer, a *Alerts) {
	if a == nil {
		return
	}
	fmt.Fprintf(bw, "- alerts: %s\n", mdEscape(alertsText(*a)))
	for _, al := range a.Alerts {
		fmt.Fprintf(bw, "  - %s\n", mdEscape(alertText(al)))
	}
}

// alertCounts are the pages and non-critical alerts that fired, as table
// cells: dashes when the drill watched no alerting system.
func alertCounts(d Drill) (pages, other string) {
	if d.Alerts == nil {
		return "–", "–"
	}
	return fmt.Sprint(d.Alerts.Pages), fmt.Sprint(d.Alerts.NonCritical)
}

// alertsText is "1 page, 2 non-critical (scrape 1s, eval 1s, poll 250ms)".
func alertsText(a Alerts) string {
	pages := "pages"
	if a.Pages == 1 {
		pages = "page"
	}
	return fmt.Sprintf("%d %s, %d non-critical (scrape %s, eval %s, poll %s)", a.Pages, pages, a.NonCritical,
		FormatDuration(a.ScrapeInterval.D()), FormatDuration(a.EvalInterval.D()), FormatDuration(a.PollEvery.D()))
}

// alertText describes one alert: "FreshnessStale (critical, page,
// expected): TTD 1.20s ± 60ms [1.14s, 1.30s] (alertmanager polls), fired 2
// times, resolved", or that it did not fire.
func alertText(a Alert) string {
	tags := []string{}
	if a.Severity != "" {
		tags = append(tags, a.Severity)
	}
	if a.Page {
		tags = append(tags, "page")
	}
	switch {
	case a.Expected:
		tags = append(tags, "expected")
	case a.Quiet:
		tags = append(tags, "must stay quiet")
	}
	s := a.Name + parens(strings.Join(tags, ", "))
	if !a.Fired() {
		if a.Quiet {
			return s + ": stayed quiet"
		}
		return s + ": did not fire"
	}
	times := "times"
	if len(a.Spans) == 1 {
		times = "time"
	}
	state := "resolved"
	if !a.Resolved {
		state = "still firing at the end"
	}
	return fmt.Sprintf("%s: TTD %s, fired %d %s, %s", s, measureWithBounds(a.TTD), len(a.Spans), times, state)
}

// decompositionText is "TTR = TTD x + reaction y + runbook z + convergence
// w" when the runbook started on detection (Reaction valid), else "".
func decompositionText(m Measures) string {
	if !m.Reaction.Valid {
		return ""
	}
	return fmt.Sprintf("TTR = TTD %s + reaction %s + runbook %s + convergence %s",
		FormatMeasure(m.TTD, true), FormatMeasure(m.Reaction, true), FormatMeasure(m.Runbook, true), FormatMeasure(m.Convergence, true))
}

// measureWithBounds renders "3.00s ± 253ms [2.747s, 3.253s] (requests)".
func measureWithBounds(m Measure) string {
	if !m.Valid {
		return "–"
	}
	s := FormatMeasure(m, true) + " " + FormatBounds(m)
	if m.Source != "" {
		s += " (" + m.Source + ")"
	}
	return s
}

// episodeText describes one episode with offsets from load start.
func episodeText(d Drill, e Episode) string {
	t0 := d.Timeline.LoadStarted
	var b strings.Builder
	b.WriteString(e.Fault)
	if !e.Onset.IsZero() {
		fmt.Fprintf(&b, ", onset %s", offset(t0, e.Onset))
		if e.OnsetSource != "" {
			fmt.Fprintf(&b, " (%s)", e.OnsetSource)
		}
	}
	if !e.Impact.IsZero() {
		fmt.Fprintf(&b, ", impact %s", offset(t0, e.Impact))
	}
	if e.Restored == nil {
		b.WriteString(", not restored")
		return b.String()
	}
	fmt.Fprintf(&b, ", restored %s: TTR %s", offset(t0, *e.Restored), measureWithBounds(e.TTR))
	if e.Duration.Valid {
		fmt.Fprintf(&b, ", unhealthy %s", measureWithBounds(e.Duration))
	}
	return b.String()
}

// integrityText is the accounting of acknowledged writes in one line.
func integrityText(in Integrity) string {
	s := fmt.Sprintf("acknowledged %d, landed %d, lost %d, dup %d, late %d", in.Acknowledged, in.Landed, in.Lost, in.Duplicated, in.Late)
	if len(in.LostSample) > 0 {
		s += "; lost ids " + strings.Join(in.LostSample, ", ")
	}
	if len(in.LateSample) > 0 {
		s += "; late ids " + strings.Join(in.LateSample, ", ")
	}
	if in.Err != "" {
		s += "; check incomplete: " + firstLine(in.Err)
	}
	return s
}

// notRestoredText says what "not restored" means for d, naming the
// episodes that never ended.
func notRestoredText(d Drill) string {
	k := "K"
	if d.HealthyRun > 0 {
		k = fmt.Sprint(d.HealthyRun)
	}
	s := fmt.Sprintf("the steady state did not hold for %s healthy buckets in a row after the schedule's last action", k)
	var open []string
	for j, e := range d.Episodes {
		if e.Restored == nil {
			open = append(open, fmt.Sprintf("episode %d (%s, onset %s)", j+1, e.Fault, offset(d.Timeline.LoadStarted, e.Onset)))
		}
	}
	if len(open) > 0 {
		s += "; never restored: " + strings.Join(open, ", ")
	}
	return s
}

// offset renders t as "t+5.000s" from t0 (the drill's load start).
func offset(t0, t time.Time) string {
	if t0.IsZero() {
		return t.UTC().Format("15:04:05.000Z")
	}
	return fmt.Sprintf("t+%.3fs", t.Sub(t0).Seconds())
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

// mdVerdict is the verdict cell: "✅ pass", "⚠️ error", or "❌" and the
// reason of the failure ("❌ test failed", "❌ not restored", ...).
func mdVerdict(d Drill) string {
	switch d.Outcome() {
	case "pass":
		return "✅ pass"
	case "error":
		return "⚠️ error"
	default:
		return "❌ " + d.FailReason()
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
