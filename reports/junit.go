package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// JUnit writes the run as JUnit XML: one testsuite, one testcase per drill
// sample, and a <failure> for each reason it failed: the go test failed
// after the drill was judged (type "test"), a fault could not be reverted
// (type "revert", one per fault), the system was not restored (type
// "restore"), and each budget miss (type "budget", its message states the
// limit and the actual value). A drill that could not be evaluated gets an
// <error>. CI systems show these as test results.
func JUnit(w io.Writer, run Run) error {
	suite := junitSuite{
		Name:      "firedrill",
		Tests:     len(run.Drills),
		Timestamp: formatJUnitTime(run.Meta.Started),
		Hostname:  run.Meta.Machine,
	}
	if !run.Meta.Started.IsZero() && !run.Meta.Finished.IsZero() {
		suite.Time = seconds(run.Meta.Finished.Sub(run.Meta.Started))
	}
	for _, p := range []struct{ k, v string }{
		{"run_id", run.Meta.RunID}, {"commit", run.Meta.Commit}, {"release", run.Meta.Release},
		{"go_version", run.Meta.GoVersion}, {"schema", SchemaVersion},
	} {
		if p.v != "" {
			suite.Properties = append(suite.Properties, junitProperty{Name: p.k, Value: p.v})
		}
	}
	if run.Meta.Seed != 0 {
		suite.Properties = append(suite.Properties, junitProperty{Name: "seed", Value: fmt.Sprint(run.Meta.Seed)})
	}
	for i, d := range run.Drills {
		tc := junitCase{
			Name:      run.Label(i),
			Classname: "firedrill." + d.Name,
			Time:      seconds(d.Duration()),
			SystemOut: &cdata{junitSummary(d)},
		}
		if d.Error != "" {
			suite.Errors++
			tc.Errors = append(tc.Errors, junitProblem{Type: "drill", Message: firstLine(d.Error), Body: d.Error})
		}
		tc.Failures = junitFailures(d)
		if len(tc.Failures) > 0 {
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	doc := junitSuites{Name: "firedrill", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	return nil
}

// junitFailures are the <failure> elements of one drill sample.
func junitFailures(d Drill) []junitProblem {
	var out []junitProblem
	if d.TestFailed {
		body := d.TestFailure
		if body == "" {
			body = "the go test failed after the drill was judged"
		}
		out = append(out, junitProblem{Type: "test", Message: "test failed: " + firstLine(body), Body: body})
	}
	for _, r := range d.RevertFailed {
		out = append(out, junitProblem{Type: "revert", Message: "revert failed: " + firstLine(r), Body: r})
	}
	if !d.Restored && d.Error == "" {
		msg := "not restored: " + notRestoredText(d)
		out = append(out, junitProblem{Type: "restore", Message: msg, Body: msg + "\n" + TimelineText(d)})
	}
	for _, v := range d.Failed() {
		msg := fmt.Sprintf("budget %s missed: %s, limit %s", v.Name, v.Actual, v.Limit)
		if v.Message != "" {
			msg += ": " + firstLine(v.Message)
		}
		body := v.Message
		if body == "" {
			body = msg
		}
		out = append(out, junitProblem{Type: "budget", Message: msg, Body: body})
	}
	if len(out) == 0 && d.Error == "" && !d.Passed {
		out = append(out, junitProblem{Type: "drill", Message: "drill did not pass"})
	}
	return out
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr,omitempty"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr,omitempty"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Time      string         `xml:"time,attr"`
	Failures  []junitProblem `xml:"failure"`
	Errors    []junitProblem `xml:"error"`
	SystemOut *cdata         `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Body    string `xml:",cdata"`
}

// cdata is text kept readable in the XML (newlines not escaped).
type cdata struct {
	Text string `xml:",cdata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func formatJUnitTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// junitSummary is the drill's measures and timeline as plain text, shown by
// CI next to the test case.
func junitSummary(d Drill) string {
	var b strings.Builder
	m := d.Measures
	fmt.Fprintf(&b, "TTR %s; TTD %s; impact %s; runbook %s; catch-up %s\n",
		FormatMeasure(m.TTR, true), FormatMeasure(m.TTD, true), FormatMeasure(m.Impact, true),
		FormatMeasure(m.Runbook, false), FormatMeasure(m.CatchUp, true))
	fmt.Fprintf(&b, "requests %d, failed %d, late starts %d\n", m.Requests, m.FailedRequests, m.LateStarts)
	if s := decompositionText(m); s != "" {
		b.WriteString(s + "\n")
	}
	if d.Alerts != nil {
		fmt.Fprintf(&b, "alerts: %s\n", alertsText(*d.Alerts))
		for _, a := range d.Alerts.Alerts {
			fmt.Fprintf(&b, "  alert %s\n", alertText(a))
		}
	}
	if d.Integrity.Checked {
		fmt.Fprintf(&b, "integrity: %s\n", integrityText(d.Integrity))
	}
	for j, e := range d.Episodes {
		fmt.Fprintf(&b, "episode %d: %s\n", j+1, episodeText(d, e))
	}
	if d.Seed != 0 {
		fmt.Fprintf(&b, "seed %d\n", d.Seed)
	}
	b.WriteString(TimelineText(d))
	return b.String()
}
