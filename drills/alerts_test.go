package drills

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/recovery"
)

// fakeAM is an in-process Alertmanager (its v2 alerts API) whose active
// alerts the test sets.
type fakeAM struct {
	*httptest.Server
	mu     sync.Mutex
	active map[string]string // name -> severity
}

func newFakeAM(t *testing.T) *fakeAM {
	t.Helper()
	am := &fakeAM{active: map[string]string{}}
	am.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" {
			http.NotFound(w, r)
			return
		}
		am.mu.Lock()
		defer am.mu.Unlock()
		out := []map[string]any{}
		for n, sev := range am.active {
			out = append(out, map[string]any{
				"labels": map[string]string{"alertname": n, "severity": sev},
				"status": map[string]string{"state": "active"},
			})
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(am.Close)
	return am
}

func (am *fakeAM) set(name, severity string, on bool) {
	am.mu.Lock()
	defer am.mu.Unlock()
	if on {
		am.active[name] = severity
	} else {
		delete(am.active, name)
	}
}

// alertFault takes the service down and raises alerts after a delay, as
// a rule's `for:` would; revert heals the service and, unless sticky,
// resolves them.
type alertFault struct {
	*switchFault
	am     *fakeAM
	raise  map[string]string // name -> severity
	after  time.Duration
	sticky bool
	timer  *time.Timer
}

func (f *alertFault) Name() string { return "outage+alerts" }
func (f *alertFault) Inject(ctx context.Context) error {
	f.timer = time.AfterFunc(f.after, func() {
		for n, s := range f.raise {
			f.am.set(n, s, true)
		}
	})
	return f.switchFault.Inject(ctx)
}
func (f *alertFault) Revert(ctx context.Context) error {
	if f.timer != nil {
		f.timer.Stop()
	}
	if !f.sticky {
		for n := range f.raise {
			f.am.set(n, "", false)
		}
	}
	return f.switchFault.Revert(ctx)
}

func alertDrill(t *testing.T, name string, raise map[string]string, after time.Duration, a Alerting) (Drill, *alertFault) {
	t.Helper()
	am := newFakeAM(t)
	f := &alertFault{switchFault: &switchFault{}, am: am, raise: raise, after: after}
	d := quickLimits(fastDrill(name, &fakeService{f: f.switchFault}, faults.For(20*time.Millisecond, 150*time.Millisecond, f)))
	d.Integrity = nil
	a.Alertmanager = am.URL
	a.PollEvery = 10 * time.Millisecond
	a.ScrapeInterval, a.EvalInterval = 20*time.Millisecond, 20*time.Millisecond
	d.Alerts = &a
	return d, f
}

func TestAlerting(t *testing.T) {
	t.Parallel()
	crit := map[string]string{"LakeUnreachable": "critical"}
	t.Run("expected-page-fires", func(t *testing.T) {
		d, _ := alertDrill(t, "pages", crit, 20*time.Millisecond, Alerting{Fire: []ExpectAlert{{Name: "LakeUnreachable", TTD: time.Second, Resolve: true}}})
		res, err := Execute(t.Context(), d)
		require.Equal(t, "passed", verdict(res, err), res.FormatTimeline())
		require.NotNil(t, res.Alerts)
		assert.Equal(t, 1, res.Alerts.Pages)
		assert.True(t, res.Measures.TTD.Valid, "the first expected alert is the detector")
		assert.Contains(t, res.FormatTimeline(), "alerts: 1 pages, 0 non-critical (scrape 20ms, evaluation 20ms")
	})
	// Before (no alerting at all): nobody noticed that the outage paged nobody.
	t.Run("critical-alert-does-not-fire", func(t *testing.T) {
		d, _ := alertDrill(t, "unpaged", nil, 0, Alerting{Fire: []ExpectAlert{{Name: "LakeUnreachable"}}})
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: alert:LakeUnreachable", verdict(res, err), res.FormatTimeline())
		assert.Contains(t, verdictMessages(res), "critical alert LakeUnreachable did not fire after onset")
	})
	t.Run("paged-on-a-non-critical-fault", func(t *testing.T) {
		d, _ := alertDrill(t, "overpaged", map[string]string{"WarehouseSlow": "critical"}, 10*time.Millisecond, Alerting{})
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: pages", verdict(res, err), res.FormatTimeline())
		assert.Contains(t, verdictMessages(res), "paged on a non-critical fault: WarehouseSlow")
	})
	t.Run("quiet-alert-fires", func(t *testing.T) {
		d, _ := alertDrill(t, "noisy", map[string]string{"QuarantineGrowing": "warning"}, 10*time.Millisecond, Alerting{Quiet: []string{"QuarantineGrowing"}})
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: quiet:QuarantineGrowing", verdict(res, err), res.FormatTimeline())
		assert.Equal(t, 1, res.Alerts.NonCritical)
	})
	t.Run("alert-does-not-resolve", func(t *testing.T) {
		d, f := alertDrill(t, "stuck-alert", crit, 10*time.Millisecond, Alerting{Fire: []ExpectAlert{{Name: "LakeUnreachable", Resolve: true}}})
		f.sticky = true
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: resolved:LakeUnreachable", verdict(res, err), res.FormatTimeline())
	})
	t.Run("alert-slower-than-its-budget", func(t *testing.T) {
		d, _ := alertDrill(t, "slow-alert", crit, 100*time.Millisecond, Alerting{Fire: []ExpectAlert{{Name: "LakeUnreachable", TTD: 30 * time.Millisecond}}})
		res, err := Execute(t.Context(), d)
		assert.Equal(t, "missed: ttd:LakeUnreachable", verdict(res, err), res.FormatTimeline())
	})
	// Before: a detector already firing passed with TTD≈0.
	t.Run("page-firing-before-the-fault", func(t *testing.T) {
		d, f := alertDrill(t, "always-paging", crit, 0, Alerting{Fire: []ExpectAlert{{Name: "LakeUnreachable"}}})
		f.am.set("Other", "critical", true)
		d.Limits.SteadyWithin = 300 * time.Millisecond
		res, err := Execute(t.Context(), d)
		require.ErrorIs(t, err, ErrDetectorNotQuiet)
		assert.Contains(t, verdict(res, err), "the alerts were not quiet")
		assert.True(t, res.Timeline.FaultSent.IsZero(), "no fault injected")
	})
}

// Runbooks started by detection: the runbook starts ReactionTime after the
// alert was seen, and TTR decomposes into TTD + reaction + runbook +
// convergence.
func TestRecoverOnDetect(t *testing.T) {
	t.Parallel()
	am := newFakeAM(t)
	f := &alertFault{switchFault: &switchFault{}, am: am, raise: map[string]string{"LakeUnreachable": "critical"}, after: 30 * time.Millisecond}
	d := quickLimits(fastDrill("on-detect", &fakeService{f: f.switchFault}, faults.At(20*time.Millisecond, f)))
	d.Integrity = nil
	d.Alerts = &Alerting{Alertmanager: am.URL, PollEvery: 10 * time.Millisecond, Fire: []ExpectAlert{{Name: "LakeUnreachable", Resolve: true}}}
	d.RecoverOnDetect, d.ReactionTime = true, 100*time.Millisecond
	d.Recovery = recovery.Steps(recovery.Func("heal", func(ctx context.Context) (string, error) {
		time.Sleep(20 * time.Millisecond) // the runbook's own work
		return "healed", f.Revert(ctx)
	}))
	res, err := Execute(t.Context(), d)
	require.Equal(t, "passed", verdict(res, err), res.FormatTimeline())
	m := res.Measures
	require.True(t, m.TTD.Valid && m.Reaction.Valid && m.Runbook.Valid && m.Convergence.Valid, res.FormatTimeline())
	assert.GreaterOrEqual(t, m.Reaction.Value, 100*time.Millisecond, "the runbook waits for the reaction time")
	assert.Less(t, m.Reaction.Value, 100*time.Millisecond+5*d.Bucket)
	sum := m.TTD.Value + m.Reaction.Value + m.Runbook.Value + m.Convergence.Value
	assert.InDelta(t, float64(m.TTR.Value), float64(sum), float64(m.TTR.Resolution()+m.TTD.Resolution()+m.Convergence.Resolution()+time.Millisecond),
		"TTR = TTD + reaction + runbook + convergence\n%s", res.FormatTimeline())
	assert.Contains(t, res.FormatTimeline(), "TTR = TTD ")

	// Broken twin: the alert goes to an Alertmanager the drill does not
	// read, so nothing detects it and the runbook never starts.
	d2 := d
	d2.Alerts = &Alerting{Alertmanager: newFakeAM(t).URL, PollEvery: 10 * time.Millisecond, Fire: []ExpectAlert{{Name: "LakeUnreachable"}}}
	res, err = Execute(t.Context(), d2)
	assert.Equal(t, "missed: restored,alert:LakeUnreachable", verdict(res, err), res.FormatTimeline())
}

func TestAlertingValidation(t *testing.T) {
	d := Drill{Name: "x", Alerts: &Alerting{Alertmanager: "http://10.0.0.1:9093", Fire: []ExpectAlert{{Name: "A"}}, Quiet: []string{"A"}}}
	err := d.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not on 127.0.0.1")
	assert.Contains(t, err.Error(), `alert "A" is both expected to fire and to stay quiet`)
	err = Drill{Name: "x", RecoverOnDetect: true}.Validate()
	require.ErrorContains(t, err, "RecoverOnDetect needs a detector")
	err = Drill{Name: "x", ReactionTime: time.Second}.Validate()
	require.ErrorContains(t, err, "needs RecoverOnDetect")
}
