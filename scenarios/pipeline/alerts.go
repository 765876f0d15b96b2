package pipeline

import (
	_ "embed" // the alert rules file
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// AlertRulesFile is the path of the pipeline's alert rules (Prometheus
// rule-file format) from the repository root; AlertRules is its content.
const AlertRulesFile = "scenarios/pipeline/alerts.yml"

//go:embed alerts.yml
var alertRules []byte

// AlertRules returns the content of the alert rules file (a copy), for a
// scenario that mounts it into Prometheus. Every rule has a severity label
// ("critical": pages; "warning": no page) and a summary annotation; the
// file's comments state its evaluation assumptions (scrape and evaluation
// every 1s).
func AlertRules() []byte { return slices.Clone(alertRules) }

// Alert names in AlertRules, with their severities.
const (
	// AlertLakeCommitsFailing (critical): more than half of the collector's
	// lake commits failing for 2s.
	AlertLakeCommitsFailing = "PipelineLakeCommitsFailing"
	// AlertFreshnessObjectiveMissed (critical): lag beyond 5s for 2s, or the
	// loader's scrape failing (up == 0: loader down) for 2s.
	AlertFreshnessObjectiveMissed = "PipelineFreshnessObjectiveMissed"
	// AlertQuarantineGrowing (warning): quarantine grew over the last 5s,
	// for 2s.
	AlertQuarantineGrowing = "PipelineQuarantineGrowing"
	// AlertWarehouseSlow (warning): more than one warehouse write over 250ms
	// in 10s, for 2s.
	AlertWarehouseSlow = "PipelineWarehouseSlow"
	// AlertLoaderRetrying (warning): loader in backoff for 2s.
	AlertLoaderRetrying = "PipelineLoaderRetrying"
)

// editableRules is the rule file's structure, enough to edit it.
type editableRules struct {
	Groups []struct {
		Name     string           `yaml:"name"`
		Interval string           `yaml:"interval,omitempty"`
		Rules    []map[string]any `yaml:"rules"`
	} `yaml:"groups"`
}

// EditAlertRules returns AlertRules with edit applied to every rule (its
// fields as in the file: alert, expr, for, labels, annotations); a rule
// for which edit returns false is dropped. It plants defects in the alert
// strategy (a missing rule, a non-critical rule made critical) for the
// drills that must catch them; comments are not kept.
func EditAlertRules(edit func(rule map[string]any) (keep bool)) ([]byte, error) {
	var f editableRules
	if err := yaml.Unmarshal(alertRules, &f); err != nil {
		return nil, fmt.Errorf("read %s: %w", AlertRulesFile, err)
	}
	for i := range f.Groups {
		f.Groups[i].Rules = slices.DeleteFunc(f.Groups[i].Rules, func(r map[string]any) bool { return !edit(r) })
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("write edited rules: %w", err)
	}
	return out, nil
}
