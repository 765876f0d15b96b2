package drills

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/drills/slo"
)

// Alerting declares what a drill expects of the system's alerts, as
// Alertmanager reports them: which must fire after onset (each with an
// optional TTD budget, and whether it must resolve once the system is
// restored) and which must stay quiet. A page is a firing alert whose
// severity label is PageSeverity ("critical"): the seed's strategy pages
// only on what is critical, so a page the drill does not expect is a
// failure ("paged on a non-critical fault"), and so is an expected alert
// that never fires.
type Alerting struct {
	// Alertmanager is the base URL of its API on 127.0.0.1, e.g.
	// "http://127.0.0.1:9093".
	Alertmanager string
	// Fire are the alerts that must fire after onset.
	Fire []ExpectAlert
	// Quiet are alerts that must not fire at all during the drill.
	Quiet []string
	// PollEvery is how often Alertmanager is read (default 250ms).
	PollEvery time.Duration
	// ScrapeInterval and EvalInterval are the monitoring's own cadences:
	// recorded with the result, since an alert's TTD includes them.
	ScrapeInterval, EvalInterval time.Duration
	// PageSeverity is the severity label value of a page (default "critical").
	PageSeverity string
	// ResolveWithin bounds the wait, once the system is restored, for the
	// alerts that must resolve (default 30s).
	ResolveWithin time.Duration
}

// ExpectAlert is an alert that must fire after onset.
type ExpectAlert struct {
	Name string
	// TTD, when positive, bounds onset → the first poll that saw it firing.
	TTD time.Duration
	// Resolve requires the alert to have resolved (no longer firing) at the
	// end of the drill, after restoration.
	Resolve bool
}

func (a *Alerting) withDefaults() {
	if a.PollEvery == 0 {
		a.PollEvery = 250 * time.Millisecond
	}
	if a.PageSeverity == "" {
		a.PageSeverity = "critical"
	}
	if a.ResolveWithin == 0 {
		a.ResolveWithin = 30 * time.Second
	}
}

// settle is how long the alerts must stay quiet before the fault: a rule
// that is pending when steady state is verified fires within a scrape and
// an evaluation.
func (a *Alerting) settle() time.Duration {
	return max(a.ScrapeInterval+a.EvalInterval, 2*a.PollEvery)
}

func (a *Alerting) validate() []error {
	if a == nil {
		return nil
	}
	var errs []error
	if err := slo.Loopback(a.Alertmanager); err != nil {
		errs = append(errs, fmt.Errorf("alerting: alertmanager %w", err))
	}
	if a.PollEvery < 0 || a.ScrapeInterval < 0 || a.EvalInterval < 0 || a.ResolveWithin < 0 {
		errs = append(errs, fmt.Errorf("alerting: negative interval"))
	}
	seen := map[string]bool{}
	for _, e := range a.Fire {
		if e.Name == "" || e.TTD < 0 {
			errs = append(errs, fmt.Errorf("alerting: an expected alert needs a name and a non-negative TTD (got %q, %s)", e.Name, e.TTD))
		}
		seen[e.Name] = true
	}
	for _, q := range a.Quiet {
		if seen[q] {
			errs = append(errs, fmt.Errorf("alerting: alert %q is both expected to fire and to stay quiet", q))
		}
	}
	return errs
}

// AlertFiring is a detector (Drill.Detect) that fires when Alertmanager at
// baseURL (on 127.0.0.1) has the alert named name active.
func AlertFiring(baseURL, name string) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		active, err := activeAlerts(ctx, http.DefaultClient, baseURL)
		if err != nil {
			return false, err
		}
		_, ok := active[name]
		return ok, nil
	}
}

// amAlert is the part of Alertmanager's v2 alert the drill reads.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

// activeAlerts reads the active, unsilenced, uninhibited alerts: name →
// severity.
func activeAlerts(ctx context.Context, c *http.Client, baseURL string) (map[string]string, error) {
	if err := slo.Loopback(baseURL); err != nil {
		return nil, fmt.Errorf("alertmanager %w", err)
	}
	u := strings.TrimRight(baseURL, "/") + "/api/v2/alerts?active=true&silenced=false&inhibited=false"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read alerts: %s answered %s", u, resp.Status)
	}
	var as []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		return nil, fmt.Errorf("read alerts: decode: %w", err)
	}
	out := map[string]string{}
	for _, a := range as {
		if a.Status.State != "" && a.Status.State != "active" {
			continue
		}
		if n := a.Labels["alertname"]; n != "" {
			out[n] = a.Labels["severity"]
		}
	}
	return out, nil
}

// alertPoll is one read of Alertmanager.
type alertPoll struct {
	start, end time.Time
	active     map[string]string
}

// alertWatcher reads Alertmanager on its cadence from load start until
// stopped, keeping every read.
type alertWatcher struct {
	cfg    Alerting
	client *http.Client
	stop   context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	polls []alertPoll
	errs  int
	last  error
}

func (w *alertWatcher) start(ctx context.Context) {
	ctx, w.stop = context.WithCancel(ctx)
	w.done = make(chan struct{})
	w.client = &http.Client{Timeout: max(w.cfg.PollEvery, time.Second)}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(w.cfg.PollEvery)
		defer tick.Stop()
		for {
			w.pollOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (w *alertWatcher) pollOnce(ctx context.Context) {
	start := time.Now()
	active, err := activeAlerts(ctx, w.client, w.cfg.Alertmanager)
	end := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			w.errs++
			w.last = err
		}
		return
	}
	w.polls = append(w.polls, alertPoll{start: start, end: end, active: active})
}

func (w *alertWatcher) snapshot() ([]alertPoll, int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.polls), w.errs, w.last
}

func (w *alertWatcher) wait() {
	if w.stop != nil {
		w.stop()
		<-w.done
	}
}

// AlertResult is what one alert did during the drill.
type AlertResult struct {
	Name     string
	Severity string
	// Expected is true for the drill's Fire alerts, Quiet for its Quiet ones.
	Expected, Quiet bool
	// Page is true when its severity is the page severity.
	Page bool
	// Spans are the periods it was seen firing (first to last poll that saw it).
	Spans []AlertSpan
	// TTD is onset → the first poll that saw it firing after onset.
	TTD Measure
	// Resolved is true when the last poll did not see it firing.
	Resolved bool
}

// AlertSpan is a period an alert was seen firing.
type AlertSpan struct{ From, To time.Time }

// Alerts is the alerting side of a Result.
type Alerts struct {
	Alerts []AlertResult
	// Pages and NonCritical count the alerts that fired by severity.
	Pages, NonCritical int
	// ScrapeInterval and EvalInterval are the monitoring's cadences.
	ScrapeInterval, EvalInterval, PollEvery time.Duration
	// Polls is how many reads of Alertmanager succeeded; Errs how many failed.
	Polls, Errs int
	LastErr     string
}

// analyzeAlerts turns the polls into alert results.
func analyzeAlerts(cfg Alerting, polls []alertPoll, errs int, lastErr error, first *inject) Alerts {
	out := Alerts{ScrapeInterval: cfg.ScrapeInterval, EvalInterval: cfg.EvalInterval, PollEvery: cfg.PollEvery, Polls: len(polls), Errs: errs}
	if lastErr != nil {
		out.LastErr = lastErr.Error()
	}
	names := map[string]bool{}
	for _, e := range cfg.Fire {
		names[e.Name] = true
	}
	for _, q := range cfg.Quiet {
		names[q] = true
	}
	for _, p := range polls {
		for n := range p.active {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		ar := alertOf(cfg, n, polls, first)
		if len(ar.Spans) > 0 {
			if ar.Page {
				out.Pages++
			} else {
				out.NonCritical++
			}
		}
		out.Alerts = append(out.Alerts, ar)
	}
	return out
}

// alertOf follows one alert through the polls.
func alertOf(cfg Alerting, name string, polls []alertPoll, first *inject) AlertResult {
	ar := AlertResult{Name: name, Quiet: slices.Contains(cfg.Quiet, name), Resolved: true}
	ar.Expected = slices.ContainsFunc(cfg.Fire, func(e ExpectAlert) bool { return e.Name == name })
	var prevQuiet *alertPoll
	for i := range polls {
		p := &polls[i]
		sev, on := p.active[name]
		if !on {
			prevQuiet = p
			continue
		}
		ar.Severity = sev
		n := len(ar.Spans)
		if n > 0 && (i > 0 && hasAlert(polls[i-1], name)) {
			ar.Spans[n-1].To = p.end
		} else {
			ar.Spans = append(ar.Spans, AlertSpan{From: p.start, To: p.end})
		}
		if first != nil && !ar.TTD.Valid && !p.end.Before(first.onset.Sent) {
			lo := first.onset.Sent
			if prevQuiet != nil {
				lo = later(lo, prevQuiet.start)
			}
			ar.TTD = between(first.mid(), first.onset.Sent, first.onset.Acked, p.end, lo, p.end, "alertmanager polls")
		}
	}
	if n := len(polls); n > 0 {
		_, on := polls[n-1].active[name]
		ar.Resolved = !on
	}
	ar.Page = ar.Severity == cfg.PageSeverity
	return ar
}

func hasAlert(p alertPoll, name string) bool { _, ok := p.active[name]; return ok }

// completeAlerts analyses the Alertmanager polls and checks that no
// declared alert nor page was firing between steady state and onset.
func (e *engine) completeAlerts(injects []inject) {
	if e.alerts == nil {
		return
	}
	r := e.res
	polls, errs, last := e.alerts.snapshot()
	// What fired while the system and its monitoring started is not the
	// drill's: the alerts count from the quiet stretch before the fault.
	polls = slices.DeleteFunc(polls, func(p alertPoll) bool { return p.start.Before(e.quietFrom) })
	var first *inject
	if len(injects) > 0 {
		first = &injects[0]
	}
	al := analyzeAlerts(*e.d.Alerts, polls, errs, last, first)
	r.Alerts, r.Alerting = &al, e.d.Alerts
	if r.Err == nil && first != nil {
		if names := firingBetween(*e.d.Alerts, polls, e.quietFrom, first.onset.Sent); len(names) > 0 {
			r.Err = fmt.Errorf("%w: alerts %s were firing after steady state was verified, before any fault: they cannot time a detection. Fix the rules (or the system) so they are quiet while it is healthy",
				ErrDetectorNotQuiet, strings.Join(names, ", "))
		}
	}
}

// firingBetween names the declared alerts and pages seen firing in a poll
// that started in [from, to).
func firingBetween(cfg Alerting, polls []alertPoll, from, to time.Time) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range polls {
		if p.start.Before(from) || !p.start.Before(to) {
			continue
		}
		for n, sev := range p.active {
			declared := sev == cfg.PageSeverity || slices.Contains(cfg.Quiet, n) ||
				slices.ContainsFunc(cfg.Fire, func(x ExpectAlert) bool { return x.Name == n })
			if declared && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// waitAlertsQuiet waits, in the steady phase, until a read of Alertmanager
// after steady state shows none of the declared alerts nor a page (alerts
// raised while the system started may take a while to resolve), at most
// Limits.SteadyWithin.
//
// It returns when the quiet read started: from then on, no declared alert
// nor page may fire before the fault.
func (e *engine) waitAlertsQuiet(ctx context.Context, tick <-chan time.Time, since time.Time) (time.Time, error) {
	if e.alerts == nil {
		return since, nil
	}
	for {
		quiet, at, firing := e.alertsQuiet(since)
		if quiet {
			return at, nil
		}
		now, err := e.next(ctx, tick)
		if err != nil {
			return since, err
		}
		if now.After(since.Add(e.d.Limits.SteadyWithin)) {
			_, n, last := e.alerts.snapshot()
			why := "none"
			if last != nil {
				why = last.Error()
			}
			return since, fmt.Errorf("%w: the alerts were not quiet for %s within %s of steady state (firing at the last read: %v; %d reads of Alertmanager failed, last: %s)",
				ErrDetectorNotQuiet, e.d.Alerts.settle(), e.d.Limits.SteadyWithin, firing, n, why)
		}
	}
}

// alertsQuiet reports whether the reads since since have shown no
// declared alert nor page firing for the settle time, when that quiet
// stretch began, and names those firing in the latest read.
func (e *engine) alertsQuiet(since time.Time) (quiet bool, at time.Time, firing []string) {
	polls, _, _ := e.alerts.snapshot()
	from := time.Time{}
	for _, p := range polls {
		if p.start.Before(since) {
			continue
		}
		names := firingBetween(*e.d.Alerts, []alertPoll{p}, since, p.start.Add(time.Nanosecond))
		switch {
		case len(names) > 0:
			from, firing = time.Time{}, names
		case from.IsZero():
			from, firing = p.start, nil
		}
	}
	if from.IsZero() || len(polls) == 0 {
		return false, time.Time{}, firing
	}
	return polls[len(polls)-1].start.Sub(from) >= e.d.Alerts.settle(), from, firing
}

// alertVerdicts checks the declared alerts: each expected one fired (within
// its TTD budget, resolved when asked), each quiet one did not, and no page
// fired that the drill does not expect.
func alertVerdicts(r *Result) []Verdict {
	if r.Alerting == nil || r.Alerts == nil {
		return nil
	}
	byName := map[string]AlertResult{}
	for _, a := range r.Alerts.Alerts {
		byName[a.Name] = a
	}
	var vs []Verdict
	for _, e := range r.Alerting.Fire {
		vs = append(vs, expectVerdicts(e, byName[e.Name])...)
	}
	for _, q := range r.Alerting.Quiet {
		a := byName[q]
		v := Verdict{Name: "quiet:" + q, Limit: "does not fire", Actual: "quiet", Passed: len(a.Spans) == 0}
		if !v.Passed {
			v.Actual = "fired"
			v.Message = fmt.Sprintf("alert %s fired (severity %q) though the drill expects it to stay quiet", q, a.Severity)
		}
		vs = append(vs, v)
	}
	var unexpected []string
	for _, a := range r.Alerts.Alerts {
		if a.Page && len(a.Spans) > 0 && !a.Expected {
			unexpected = append(unexpected, a.Name)
		}
	}
	v := Verdict{Name: "pages", Limit: "only expected pages", Actual: fmt.Sprintf("%d pages", r.Alerts.Pages), Passed: len(unexpected) == 0}
	if !v.Passed {
		v.Message = fmt.Sprintf("paged on a non-critical fault: %s fired with severity %q, and the drill expects no page from it", strings.Join(unexpected, ", "), r.Alerting.PageSeverity)
	}
	return append(vs, v)
}

func expectVerdicts(e ExpectAlert, a AlertResult) []Verdict {
	v := Verdict{Name: "alert:" + e.Name, Limit: "fires after onset", Actual: "fired", Passed: a.TTD.Valid}
	if !v.Passed {
		v.Actual = "did not fire"
		v.Message = fmt.Sprintf("alert %s did not fire after onset: nobody would have been told", e.Name)
		if a.Page || a.Severity == "" {
			v.Message = fmt.Sprintf("critical alert %s did not fire after onset: the outage would go unpaged", e.Name)
		}
		return []Verdict{v}
	}
	vs := []Verdict{v}
	if e.TTD > 0 {
		t := Verdict{Name: "ttd:" + e.Name, Limit: fmtDur(e.TTD), Actual: a.TTD.String(), Passed: a.TTD.Value <= e.TTD}
		if !t.Passed {
			t.Message = fmt.Sprintf("alert %s fired %s after onset, later than its budget of %s", e.Name, a.TTD, fmtDur(e.TTD))
		}
		vs = append(vs, t)
	}
	if e.Resolve {
		rv := Verdict{Name: "resolved:" + e.Name, Limit: "resolves after restoration", Actual: "resolved", Passed: a.Resolved}
		if !rv.Passed {
			rv.Actual, rv.Message = "still firing", fmt.Sprintf("alert %s was still firing at the end of the drill, after restoration", e.Name)
		}
		vs = append(vs, rv)
	}
	return vs
}

// waitResolved waits, once the system is restored, until every alert that
// must resolve is no longer firing, at most ResolveWithin.
func (e *engine) waitResolved(ctx context.Context) {
	if e.alerts == nil {
		return
	}
	var want []string
	for _, x := range e.d.Alerts.Fire {
		if x.Resolve {
			want = append(want, x.Name)
		}
	}
	if len(want) == 0 {
		return
	}
	deadline := time.Now().Add(e.d.Alerts.ResolveWithin)
	tick := time.NewTicker(e.d.Alerts.PollEvery)
	defer tick.Stop()
	for {
		polls, _, _ := e.alerts.snapshot()
		if n := len(polls); n > 0 && !slices.ContainsFunc(want, func(name string) bool { return hasAlert(polls[n-1], name) }) {
			return
		}
		if time.Now().After(deadline) {
			e.logf("alerts %v still firing %s after restoration", want, e.d.Alerts.ResolveWithin)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
