package scenarios

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Monitoring is Prometheus and Alertmanager for a system: Prometheus
// scrapes the listed container ports on the system network, evaluates the
// alert rules and sends firing alerts to Alertmanager, whose API a drill
// reads (drills.Alerting). Both images are built by `make images`.
type Monitoring struct {
	// Rules is a Prometheus rule file (groups of alerting rules).
	Rules []byte
	// Scrape lists what Prometheus scrapes.
	Scrape []Scrape
	// ScrapeInterval and EvalInterval default to 1s: drills need alerts
	// in seconds, not minutes. Record them with the drill's Alerting.
	ScrapeInterval, EvalInterval time.Duration
}

// Scrape is one container port Prometheus scrapes.
type Scrape struct {
	Job       string // job label; defaults to the container name
	Container string // a container of the system
	Port      string // one of its Ports, e.g. "8080/tcp"
	Path      string // defaults to /metrics
}

// Names of the monitoring containers and their API ports.
const (
	PrometheusContainer   = "prometheus"
	AlertmanagerContainer = "alertmanager"
	PrometheusPort        = "9090/tcp"
	AlertmanagerPort      = "9093/tcp"
)

// WithMonitoring returns sys with a Prometheus and an Alertmanager
// container added, configured by m. Their APIs are published on 127.0.0.1:
// see PrometheusURL and AlertmanagerURL.
func (sys System) WithMonitoring(m Monitoring) (System, error) {
	if m.ScrapeInterval == 0 {
		m.ScrapeInterval = time.Second
	}
	if m.EvalInterval == 0 {
		m.EvalInterval = time.Second
	}
	if err := m.validate(sys); err != nil {
		return sys, err
	}
	sys.Containers = append(append([]ContainerSpec(nil), sys.Containers...), m.prometheus(), m.alertmanager())
	return sys, nil
}

func (m Monitoring) validate(sys System) error {
	var errs []string
	if m.ScrapeInterval < 0 || m.EvalInterval < 0 {
		errs = append(errs, "negative scrape or evaluation interval")
	}
	for _, s := range m.Scrape {
		c, ok := sys.container(s.Container)
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("scrape target %q is not a container of the system", s.Container))
		case !hasPort(c.Ports, s.Port):
			errs = append(errs, fmt.Sprintf("scrape target %s: port %s is not in its Ports %v", s.Container, s.Port, c.Ports))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("monitoring of %s: %s", sys.name(), strings.Join(errs, "; "))
	}
	return nil
}

func (sys System) container(name string) (ContainerSpec, bool) {
	for _, c := range sys.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return ContainerSpec{}, false
}

// prometheusConfig is prometheus.yml: the intervals, the rule file, the
// Alertmanager and one job per scrape target.
func (m Monitoring) prometheusConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", promDuration(m.ScrapeInterval), promDuration(m.EvalInterval))
	b.WriteString("rule_files: [/etc/prometheus/rules.yml]\n")
	fmt.Fprintf(&b, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"%s:%s\"]\n", AlertmanagerContainer, portNumber(AlertmanagerPort))
	b.WriteString("scrape_configs:\n")
	for _, s := range m.Scrape {
		job, path := s.Job, s.Path
		if job == "" {
			job = s.Container
		}
		if path == "" {
			path = "/metrics"
		}
		fmt.Fprintf(&b, "  - job_name: %q\n    metrics_path: %q\n    static_configs:\n      - targets: [\"%s:%s\"]\n", job, path, s.Container, portNumber(s.Port))
	}
	return b.String()
}

// alertmanagerConfig routes every alert to a receiver that sends nothing:
// the drill reads the alerts from the API; grouping waits are zero so an
// alert is there as soon as Prometheus sends it.
const alertmanagerConfig = `route:
  receiver: drill
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: drill
`

func (m Monitoring) prometheus() ContainerSpec {
	rules := m.Rules
	if len(rules) == 0 {
		rules = []byte("groups: []\n")
	}
	return ContainerSpec{
		Name:  PrometheusContainer,
		Image: Image(ImagePrometheus),
		Cmd: []string{
			"--config.file=/etc/prometheus/prometheus.yml",
			"--storage.tsdb.path=/prometheus",
			"--web.listen-address=:9090",
			"--rules.alert.resend-delay=" + promDuration(m.EvalInterval),
		},
		Ports: []string{PrometheusPort},
		Tmpfs: map[string]string{"/prometheus": "size=64m,uid=65534,gid=65534"}, // the image runs as nobody
		Files: map[string][]byte{
			"/etc/prometheus/prometheus.yml": []byte(m.prometheusConfig()),
			"/etc/prometheus/rules.yml":      rules,
		},
		Ready: ReadyHTTP(PrometheusPort, "/-/ready"),
	}
}

func (m Monitoring) alertmanager() ContainerSpec {
	return ContainerSpec{
		Name:  AlertmanagerContainer,
		Image: Image(ImageAlertmanager),
		Cmd: []string{
			"--config.file=/etc/alertmanager/alertmanager.yml",
			"--storage.path=/alertmanager",
			"--web.listen-address=:9093",
			"--cluster.listen-address=",
		},
		Ports: []string{AlertmanagerPort},
		Tmpfs: map[string]string{"/alertmanager": "size=16m,uid=65534,gid=65534"},
		Files: map[string][]byte{"/etc/alertmanager/alertmanager.yml": []byte(alertmanagerConfig)},
		Ready: ReadyHTTP(AlertmanagerPort, "/-/ready"),
	}
}

// PrometheusURL is the base URL of the system's Prometheus API on
// 127.0.0.1 (WithMonitoring).
func (r *Running) PrometheusURL(ctx context.Context) (string, error) {
	return r.apiURL(ctx, PrometheusContainer, PrometheusPort)
}

// AlertmanagerURL is the base URL of the system's Alertmanager API on
// 127.0.0.1 (WithMonitoring).
func (r *Running) AlertmanagerURL(ctx context.Context) (string, error) {
	return r.apiURL(ctx, AlertmanagerContainer, AlertmanagerPort)
}

func (r *Running) apiURL(ctx context.Context, name, port string) (string, error) {
	c, ok := r.byName[name]
	if !ok {
		return "", fmt.Errorf("%s has no %s container: build the system with System.WithMonitoring", r.System.name(), name)
	}
	addr, err := c.Endpoint(ctx, port)
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

// promDuration formats d as Prometheus durations are written ("1s", "500ms").
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// portNumber is "9093" of "9093/tcp".
func portNumber(p string) string {
	n, _, _ := strings.Cut(p, "/")
	return n
}
