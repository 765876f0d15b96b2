package reports

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"unicode/utf8"
)

// HTML writes a self-contained page: inline CSS and SVG, no external
// assets and no JavaScript, viewable offline. It holds the summary table,
// then per drill sample an SVG timeline (see TimelineSVG), the measures,
// budget verdicts, faults with brackets and recovery steps with output.
// Series are downsampled so that a seven-drill run stays well under 1 MB.
func HTML(w io.Writer, run Run) error {
	pass, fail, errs := tally(run)
	page := htmlPage{
		Title: "firedrill report",
		Meta:  metaLine(run.Meta),
		Pass:  pass, Fail: fail, Errors: errs,
		Total:  len(run.Drills),
		CSS:    template.CSS(pageCSS),
		Legend: colours.legend(),
	}
	if run.Meta.RunID != "" {
		page.Title += " " + run.Meta.RunID
	}
	// Keep the page small however many samples it holds: fewer points per
	// series as timelines add up (600 each up to 7 timelines, at least 120).
	maxPts := max(120, min(600, 4200/max(1, len(run.Drills))))
	for i := range run.Drills {
		hd, err := newHTMLDrill(run, i, WithMaxPoints(maxPts))
		if err != nil {
			return fmt.Errorf("write html report: %w", err)
		}
		page.Drills = append(page.Drills, hd)
	}
	if err := htmlTmpl.Execute(w, page); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// newHTMLDrill is the section of drill sample i of run.
func newHTMLDrill(run Run, i int, svg ...TimelineOption) (htmlDrill, error) {
	d := run.Drills[i]
	var timeline strings.Builder
	if err := TimelineSVG(&timeline, d, svg...); err != nil {
		return htmlDrill{}, err
	}
	hd := htmlDrill{
		ID:       fmt.Sprintf("drill-%d", i),
		Label:    run.Label(i),
		Drill:    d,
		Outcome:  d.Outcome(),
		Verdict:  d.verdictWord(),
		TTR:      FormatMeasure(d.Measures.TTR, true),
		TTD:      FormatMeasure(d.Measures.TTD, true),
		Lost:     intOrDash(d.Integrity.Checked, d.Integrity.Lost),
		Dup:      intOrDash(d.Integrity.Checked, d.Integrity.Duplicated),
		Parts:    decompositionText(d.Measures),
		Alerts:   htmlAlerts(d),
		SVG:      template.HTML(timeline.String()), // TimelineSVG escapes every text it writes
		Failed:   d.Failed(),
		Measures: htmlMeasures(d),
		Episodes: htmlEpisodes(d),
		Faults:   htmlFaults(d),
		Steps:    htmlSteps(d),
	}
	hd.Pages, hd.NonCritical = alertCounts(d)
	if d.Alerts != nil {
		hd.AlertsLine = alertsText(*d.Alerts)
	}
	if !d.Restored && d.Error == "" {
		hd.NotRestored = notRestoredText(d)
	}
	return hd, nil
}

// htmlMeasures are the rows of a drill's measures table.
func htmlMeasures(d Drill) []htmlKV {
	m := d.Measures
	kv := []htmlKV{
		{"TTR (worst episode)", measureWithBounds(m.TTR)}, {"TTD", FormatMeasure(m.TTD, true)},
		{"impact", FormatMeasure(m.Impact, true)}, {"runbook", FormatMeasure(m.Runbook, false)},
		{"catch-up", FormatMeasure(m.CatchUp, true)},
	}
	if m.Reaction.Valid {
		kv = append(kv, htmlKV{"reaction", FormatMeasure(m.Reaction, true)}, htmlKV{"convergence", FormatMeasure(m.Convergence, true)})
	}
	kv = append(kv, []htmlKV{
		{"requests", fmt.Sprint(m.Requests)}, {"failed requests", fmt.Sprint(m.FailedRequests)},
		{"late starts", fmt.Sprint(m.LateStarts)},
		{"bucket / K", fmt.Sprintf("%s / %d", FormatDuration(d.Bucket.D()), d.HealthyRun)},
	}...)
	if d.Integrity.Checked {
		kv = append(kv, htmlIntegrity(d.Integrity)...)
	}
	if d.Seed != 0 {
		kv = append(kv, htmlKV{"nemesis seed", fmt.Sprint(d.Seed)})
	}
	return kv
}

// htmlIntegrity are the measures rows of a checked integrity.
func htmlIntegrity(in Integrity) []htmlKV {
	kv := []htmlKV{
		{"acknowledged / landed", fmt.Sprintf("%d / %d", in.Acknowledged, in.Landed)},
		{"lost / duplicated / late", fmt.Sprintf("%d / %d / %d", in.Lost, in.Duplicated, in.Late)},
	}
	if len(in.LostSample) > 0 {
		kv = append(kv, htmlKV{"lost ids (first)", strings.Join(in.LostSample, ", ")})
	}
	if len(in.LateSample) > 0 {
		kv = append(kv, htmlKV{"late ids (first)", strings.Join(in.LateSample, ", ")})
	}
	if in.Err != "" {
		kv = append(kv, htmlKV{"integrity check incomplete", in.Err})
	}
	return kv
}

// htmlEpisodes are the rows of a drill's episodes table.
func htmlEpisodes(d Drill) []htmlEpisode {
	var out []htmlEpisode
	for j, e := range d.Episodes {
		he := htmlEpisode{N: j + 1, Fault: e.Fault, Onset: "–", Impact: "–", Restored: "not restored", TTR: "–", Bounds: "–", Duration: "–", Source: e.TTR.Source}
		if !e.Onset.IsZero() {
			he.Onset = offset(d.Timeline.LoadStarted, e.Onset) + parens(e.OnsetSource)
		}
		if !e.Impact.IsZero() {
			he.Impact = offset(d.Timeline.LoadStarted, e.Impact)
		}
		if e.Restored != nil {
			he.Restored = offset(d.Timeline.LoadStarted, *e.Restored)
			he.TTR, he.Bounds, he.Duration = FormatMeasure(e.TTR, true), FormatBounds(e.TTR), measureWithBounds(e.Duration)
		}
		out = append(out, he)
	}
	return out
}

// htmlAlerts are the rows of a drill's alerts table.
func htmlAlerts(d Drill) []htmlAlert {
	if d.Alerts == nil {
		return nil
	}
	var out []htmlAlert
	for _, a := range d.Alerts.Alerts {
		ha := htmlAlert{Alert: a, Kind: "non-critical", Rule: "–", TTD: "–", Bounds: "–", Fired: fmt.Sprint(len(a.Spans)), State: "resolved"}
		if a.Page {
			ha.Kind = "page"
		}
		switch {
		case a.Expected:
			ha.Rule = "must fire"
		case a.Quiet:
			ha.Rule = "must stay quiet"
		}
		if a.TTD.Valid {
			ha.TTD, ha.Bounds = FormatMeasure(a.TTD, true), FormatBounds(a.TTD)
		}
		switch {
		case !a.Fired():
			ha.State = "did not fire"
		case !a.Resolved:
			ha.State = "still firing at the end"
		}
		if (a.Expected && !a.Fired()) || (a.Quiet && a.Fired()) {
			ha.Class = "fail"
		}
		out = append(out, ha)
	}
	return out
}

// htmlFaults are the rows of a drill's faults table.
func htmlFaults(d Drill) []htmlFault {
	t0 := d.Timeline.LoadStarted
	var out []htmlFault
	for _, f := range d.Faults {
		hf := htmlFault{Name: f.Name, Error: f.Error, Revert: "–",
			Inject: fmt.Sprintf("t+%.3fs (ack in %s)", f.Inject.Sent.Sub(t0).Seconds(), FormatDuration(f.Inject.Acked.Sub(f.Inject.Sent)))}
		if f.Onset != nil {
			hf.Inject += fmt.Sprintf("; onset in [t+%.3fs, t+%.3fs]%s", f.Onset.Sent.Sub(t0).Seconds(), f.Onset.Acked.Sub(t0).Seconds(), parens(f.OnsetSource))
		}
		if f.Revert != nil {
			hf.Revert = fmt.Sprintf("t+%.3fs (ack in %s)", f.Revert.Sent.Sub(t0).Seconds(), FormatDuration(f.Revert.Acked.Sub(f.Revert.Sent)))
		}
		out = append(out, hf)
	}
	return out
}

// htmlSteps are the rows of a drill's recovery steps table, each output
// clipped to its last 16 KiB.
func htmlSteps(d Drill) []htmlStep {
	t0 := d.Timeline.LoadStarted
	var out []htmlStep
	for _, s := range d.Steps {
		s.Output = clipOutput(s.Output, 16<<10)
		hs := htmlStep{Step: s, At: fmt.Sprintf("t+%.3fs", s.Start.Sub(t0).Seconds()), Took: FormatDuration(s.End.Sub(s.Start))}
		switch {
		case s.Skipped:
			hs.State, hs.Took = "skipped", "–"
		case s.Error != "":
			hs.State = "failed"
		default:
			hs.State = "ok"
		}
		out = append(out, hs)
	}
	return out
}

type htmlPage struct {
	Title, Meta               string
	Total, Pass, Fail, Errors int
	CSS                       template.CSS
	Legend                    []legendEntry // the timeline's palette
	Drills                    []htmlDrill
}

type htmlDrill struct {
	ID, Label, Outcome, Verdict, TTR, TTD, Lost, Dup string
	Pages, NonCritical, AlertsLine, Parts            string
	Alerts                                           []htmlAlert
	NotRestored                                      string
	Drill                                            Drill
	SVG                                              template.HTML
	Failed                                           []Verdict
	Measures                                         []htmlKV
	Episodes                                         []htmlEpisode
	Faults                                           []htmlFault
	Steps                                            []htmlStep
}

type htmlEpisode struct {
	N                                                             int
	Fault, Onset, Impact, Restored, TTR, Bounds, Source, Duration string
}

type htmlKV struct{ K, V string }

type htmlAlert struct {
	Alert
	Class, Kind, Rule, TTD, Bounds, Fired, State string
}

type htmlFault struct{ Name, Inject, Revert, Error string }

type htmlStep struct {
	Step
	At, Took, State string
}

const pageCSS = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--pass:#1a7f37;--fail:#cf222e;--err:#9a6700}
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1040px;padding:16px 20px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;padding-top:10px;border-top:1px solid var(--line)}h3{font-size:14px;margin:14px 0 4px}
.meta{color:var(--muted);margin:0 0 10px}
table{border-collapse:collapse;margin:6px 0 10px}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:var(--pass);font-weight:600}.fail{color:var(--fail);font-weight:600}.error{color:var(--err);font-weight:600}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;border:1px solid currentColor;margin-left:6px;vertical-align:2px}
.legend span{display:inline-block;margin-right:14px;color:var(--muted);font-size:12px}
.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:0;border:1px solid rgba(0,0,0,.15)}
svg.timeline{display:block;width:100%;height:auto;border:1px solid var(--line);border-radius:4px;background:#fff}
svg text{font:11px -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;fill:#1b1f24}
svg .axis text{fill:#57606a;font-size:10px}
svg .lbl{fill:#57606a}
.cols{display:flex;flex-wrap:wrap;gap:0 24px}
pre{background:#f6f8fa;padding:6px 8px;border-radius:4px;overflow:auto;max-height:240px;margin:4px 0;font-size:12px;white-space:pre-wrap}
ul.misses{margin:4px 0 8px;padding-left:20px}ul.misses li{color:var(--fail)}
p.parts{margin:4px 0;font-variant-numeric:tabular-nums}tr.fail td{color:var(--fail)}
details summary{cursor:pointer;color:var(--muted)}
a{color:#0969da;text-decoration:none}
`

var htmlTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Meta}}<p class="meta">{{.Meta}}</p>{{end}}
<p><strong>{{.Total}} drill samples:</strong> <span class="pass">{{.Pass}} passed</span>, <span class="fail">{{.Fail}} failed</span>, <span class="error">{{.Errors}} errors</span></p>
{{if .Drills}}<table class="summary">
<thead><tr><th>drill</th><th>TTR ± res</th><th>TTD</th><th>pages</th><th>alerts</th><th>lost</th><th>dup</th><th>episodes</th><th>verdict</th></tr></thead>
<tbody>
{{range .Drills}}<tr><td><a href="#{{.ID}}">{{.Label}}</a></td><td class="num">{{.TTR}}</td><td class="num">{{.TTD}}</td><td class="num">{{.Pages}}</td><td class="num">{{.NonCritical}}</td><td class="num">{{.Lost}}</td><td class="num">{{.Dup}}</td><td class="num">{{len .Drill.Episodes}}</td><td class="{{.Outcome}}">{{.Verdict}}</td></tr>
{{end}}</tbody>
</table>
<p class="legend">{{range .Legend}}<span><i style="background:{{.Colour}}"></i>{{.Text}}</span>{{end}}</p>
{{end}}
{{range .Drills}}<section class="drill" id="{{.ID}}">
<h2>{{.Label}} <span class="badge {{.Outcome}}">{{.Verdict}}</span></h2>
{{if .Drill.Error}}<p class="error">error: {{.Drill.Error}}</p>{{end}}
{{if .Drill.TestFailed}}<p class="fail">test failed{{if .Drill.TestFailure}}: {{.Drill.TestFailure}}{{else}} after the drill was judged{{end}}</p>{{end}}
{{range .Drill.RevertFailed}}<p class="fail">revert failed: {{.}}</p>{{end}}
{{if .NotRestored}}<p class="fail">not restored: {{.NotRestored}}</p>{{end}}
{{if .Failed}}<ul class="misses">{{range .Failed}}<li>budget <strong>{{.Name}}</strong> missed: {{.Actual}} (limit {{.Limit}}){{if .Message}}<details><summary>details</summary><pre>{{.Message}}</pre></details>{{end}}</li>{{end}}</ul>{{end}}
{{.SVG}}
{{if .Parts}}<p class="parts">{{.Parts}}</p>{{end}}
<div class="cols">
<div><h3>Measures</h3><table>{{range .Measures}}<tr><th>{{.K}}</th><td class="num">{{.V}}</td></tr>{{end}}</table></div>
{{if .Drill.Budgets}}<div><h3>Budgets</h3><table><tr><th>budget</th><th>limit</th><th>actual</th><th>verdict</th></tr>{{range .Drill.Budgets}}<tr><td>{{.Name}}</td><td class="num">{{.Limit}}</td><td class="num">{{.Actual}}</td><td>{{if .Passed}}<span class="pass">pass</span>{{else}}<span class="fail">miss</span>{{end}}</td></tr>{{end}}</table></div>{{end}}
</div>
{{if .Episodes}}<h3>Episodes</h3><table class="episodes"><tr><th>#</th><th>fault</th><th>onset (source)</th><th>impact</th><th>restored</th><th>TTR</th><th>[lower, upper]</th><th>located by</th><th>unhealthy</th></tr>{{range .Episodes}}<tr><td class="num">{{.N}}</td><td>{{.Fault}}</td><td>{{.Onset}}</td><td>{{.Impact}}</td><td>{{.Restored}}</td><td class="num">{{.TTR}}</td><td class="num">{{.Bounds}}</td><td>{{.Source}}</td><td class="num">{{.Duration}}</td></tr>{{end}}</table>{{end}}
{{if .Drill.Alerts}}<h3>Alerts</h3><p class="meta">{{.AlertsLine}}</p>{{if .Alerts}}<table class="alerts"><tr><th>alert</th><th>severity</th><th>kind</th><th>rule</th><th>TTD</th><th>[lower, upper]</th><th>fired</th><th>state</th></tr>{{range .Alerts}}<tr class="{{.Class}}"><td>{{.Name}}</td><td>{{.Severity}}</td><td>{{.Kind}}</td><td>{{.Rule}}</td><td class="num">{{.TTD}}</td><td class="num">{{.Bounds}}</td><td class="num">{{.Fired}}</td><td>{{.State}}</td></tr>{{end}}</table>{{end}}{{end}}
{{if .Faults}}<h3>Faults</h3><table><tr><th>fault</th><th>inject</th><th>revert</th><th>error</th></tr>{{range .Faults}}<tr><td>{{.Name}}</td><td>{{.Inject}}</td><td>{{.Revert}}</td><td>{{.Error}}</td></tr>{{end}}</table>{{end}}
{{if .Steps}}<h3>Recovery steps</h3><table><tr><th>step</th><th>start</th><th>took</th><th>state</th><th>output</th></tr>{{range .Steps}}<tr><td>{{.Name}}</td><td>{{.At}}</td><td class="num">{{.Took}}</td><td>{{.State}}{{if .SkipReason}}: {{.SkipReason}}{{end}}{{if .Error}}: {{.Error}}{{end}}</td><td>{{if .Output}}<details><summary>{{len .Output}} bytes</summary><pre>{{.Output}}</pre></details>{{end}}</td></tr>{{end}}</table>{{end}}
</section>
{{end}}
</body>
</html>
`))

// clipOutput keeps the last n bytes of a step's output, saying so.
func clipOutput(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := len(s) - n
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return fmt.Sprintf("[… %d bytes cut; the JSON report holds all of it]\n", cut) + s[cut:]
}
