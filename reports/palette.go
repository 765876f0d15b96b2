package reports

// palette is the one set of colours of the reports: the timeline SVG
// draws with it, the HTML legend explains it, the trend SVG reads its
// neutrals and line colours.
type palette struct {
	Fault, FaultBand   string // fault bar, and the band behind lanes and panels
	Step, StepBand     string // recovery step bar and band
	Unhealthy          string // an unhealthy bucket in an SLI panel
	Impact, Detected   string // markers
	Restored, CaughtUp string // markers
	TTR                string // the TTR span and an episode's TTR bounds
	Episode            string // a restored episode (one not restored is Fault)
	Page, NonCritical  string // an alert firing: of the page severity, or not
	Reaction           string // TTR part: detected → runbook start
	Convergence        string // TTR part: runbook end → restored
	Skipped            string // a skipped step; the time axis
	Frame, Grid, Label string // panel frame, gridlines, muted text
	Series             []string
	Trend              []string // lines of the trend chart, one per drill
	BarText            string   // text inside a bar
}

// colours is the palette of every report.
var colours = palette{
	Fault: "#d1242f", FaultBand: "#fbd5d5",
	Step: "#0969da", StepBand: "#cfe2f7",
	Unhealthy: "#fde2c4",
	Impact:    "#e8590c", Detected: "#8250df",
	Restored: "#1a7f37", CaughtUp: "#0a7e8c",
	TTR:     "#24292f",
	Episode: "#6e7781",
	Page:    "#a40e26", NonCritical: "#d4a72c",
	Reaction: "#bf3989", Convergence: "#4ac26b",
	Skipped: "#8c959f",
	Frame:   "#d0d7de", Grid: "#eaeef2", Label: "#57606a",
	Series:  []string{"#0969da", "#bf3989", "#9a6700", "#1a7f37", "#8250df", "#57606a"},
	Trend:   []string{"#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#0a7e8c", "#bf3989", "#57606a", "#9a6700", "#116329"},
	BarText: "#fff",
}

// legendEntry is one swatch of the HTML legend.
type legendEntry struct{ Colour, Text string }

// legend lists what the timeline's colours mean, in the order the HTML
// report shows them.
func (p palette) legend() []legendEntry {
	return []legendEntry{
		{p.FaultBand, "fault (inject → revert)"},
		{p.StepBand, "recovery step"},
		{p.Unhealthy, "unhealthy bucket"},
		{p.Impact, "impact"},
		{p.Detected, "detected"},
		{p.Restored, "restored"},
		{p.CaughtUp, "caught up"},
		{p.TTR, "TTR span"},
		{p.Episode, "episode (onset → restored)"},
		{p.Fault, "episode not restored"},
		{p.Page, "page firing (critical alert)"},
		{p.NonCritical, "non-critical alert firing"},
		{p.Detected, "TTR part: TTD (onset → detected)"},
		{p.Reaction, "reaction (detected → runbook start)"},
		{p.Step, "runbook"},
		{p.Convergence, "convergence (runbook end → restored)"},
	}
}
