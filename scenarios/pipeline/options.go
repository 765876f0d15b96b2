package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/kube"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
)

// Option configures Start and StartContext: applied in order over the
// defaults (a healthy build, the runtime's default options), then
// validated; an option that fails stops the start.
type Option func(*config) error

type config struct {
	defects    plant.Set
	scenario   []scenarios.Option
	monitoring bool
	rules      []byte // nil: AlertRules
	kube       []kube.TranslateOption
}

// WithKube passes options to the Kubernetes translation of StartKube
// (e.g. kube.PreferNode(pipeline.Lake, node): which parts share a node).
// Start ignores them.
func WithKube(opts ...kube.TranslateOption) Option {
	return func(c *config) error {
		c.kube = append(c.kube, opts...)
		return nil
	}
}

// WithAlertRules replaces the alert rules WithMonitoring gives Prometheus
// (e.g. rules with a planted defect, see EditAlertRules). It implies
// WithMonitoring.
func WithAlertRules(rules []byte) Option {
	return func(c *config) error {
		if len(rules) == 0 {
			return errors.New("alert rules: empty (omit the option for the pipeline's own)")
		}
		c.monitoring, c.rules = true, rules
		return nil
	}
}

// WithMonitoring adds Prometheus and Alertmanager: Prometheus scrapes the
// collector's and the loader's /metrics every second and evaluates
// AlertRules every second; the Pipeline's PrometheusURL and
// AlertmanagerURL reach their APIs.
func WithMonitoring() Option {
	return func(c *config) error {
		c.monitoring = true
		return nil
	}
}

// Monitoring is the monitoring WithMonitoring adds: the rules file, the
// scrape targets and the intervals (1 s).
func Monitoring() scenarios.Monitoring {
	return scenarios.Monitoring{
		Rules: AlertRules(),
		Scrape: []scenarios.Scrape{
			{Job: "collector", Container: Collector, Port: CollectorPort, Path: MetricsPath},
			{Job: "loader", Container: Loader, Port: LoaderPort, Path: MetricsPath},
		},
		ScrapeInterval: time.Second,
		EvalInterval:   time.Second,
	}
}

// system is the pipeline the configuration asks for.
func (c config) system() (scenarios.System, error) {
	sys := System(c.defects.List()...)
	if !c.monitoring {
		return sys, nil
	}
	m := Monitoring()
	if c.rules != nil {
		m.Rules = c.rules
	}
	return sys.WithMonitoring(m)
}

func newConfig(opts []Option) (config, error) {
	var c config
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		errs = append(errs, o(&c))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("option: %w", err)
	}
	return c, nil
}

// WithScenarioOptions passes options to the container runtime
// (scenarios.Start), after any given before.
func WithScenarioOptions(opts ...scenarios.Option) Option {
	return func(c *config) error {
		c.scenario = append(c.scenario, opts...)
		return nil
	}
}

// Defect is a planted defect: a realistic bug in the reference system, off
// by default, that the drill named in its constant's comment must catch.
// WithDefect plants it; the binary's flag is -plant=NAME[,NAME] (env
// PIPELINE_PLANT) on collector, loader and pipelinectl.
type Defect = plant.Defect

// The planted defects.
const (
	// DefectAckBeforeCommit: the collector answers 202 before its lake
	// commit, which then runs anyway, so an acknowledged batch whose commit
	// fails is lost. lake-outage must see lost > 0.
	DefectAckBeforeCommit = plant.AckBeforeCommit
	// DefectSplitCheckpoint: the loader commits a batch's warehouse rows and
	// its checkpoint in two transactions, rows first; a crash in between
	// makes it deliver the batch again (the events' delivery count goes to
	// 2, and Landed returns those ids twice). loader-crash must see
	// duplicated > 0 (only when the kill lands between the two commits:
	// widen that window with a slow warehouse link, or kill repeatedly).
	DefectSplitCheckpoint = plant.SplitCheckpoint
	// DefectBackfillWholeLake: pipelinectl backfill ignores --from/--to
	// (and --source) and re-applies the whole lake: its rows equal the lake
	// and it takes longer. bad-deploy must miss its backfill budget.
	DefectBackfillWholeLake = plant.BackfillWholeLake
	// DefectWipeKeepsCheckpoint: pipelinectl wipe empties the warehouse but
	// leaves the checkpoint, so the loader never replays the lake and Wrong
	// stays at the number of lost rows. wipe-and-rebuild must end "not
	// restored".
	DefectWipeKeepsCheckpoint = plant.WipeKeepsCheckpoint
	// DefectRequeueDropsQuarantine: pipelinectl requeue-quarantine deletes
	// the quarantined events instead of re-applying the schema to them (and
	// reports them as loaded). poison-batch must see lost > 0.
	DefectRequeueDropsQuarantine = plant.RequeueDropsQuarantine
)

// Defects lists every planted defect.
func Defects() []Defect { return slices.Clone(plant.All) }

// WithDefect plants defects in the system (collector and loader
// containers) and in the pipelinectl that RunCtl and Ctl run. An unknown
// defect is an error.
func WithDefect(defects ...Defect) Option {
	return func(c *config) error {
		for _, d := range defects {
			if !slices.Contains(plant.All, d) {
				return fmt.Errorf("planted defect %q: unknown (want one of %v)", d, plant.Names())
			}
		}
		c.defects = plant.Of(append(c.defects.List(), defects...)...)
		return nil
	}
}

// Defects returns the defects planted in this pipeline (none in a healthy
// build).
func (p *Pipeline) Defects() []Defect { return p.defects.List() }
