package scenarios

import (
	"os"
	"strings"
)

// Names of the project's images, for [Image] and [ImageEnvVar]. Each is
// built by `make images` (scripts/images.sh) as firedrill/<name>:local.
const (
	ImageToxiproxy    = "toxiproxy"    // toxiproxy server, API on 8474/tcp
	ImagePostgres     = "postgres"     // PostgreSQL 15 (Debian), 5432/tcp, user postgres
	ImageStub         = "stub"         // scenarios/stub/cmd/stub, HTTP on 8080/tcp
	ImagePipeline     = "pipeline"     // scenarios/pipeline/cmd/pipeline
	ImagePrometheus   = "prometheus"   // Prometheus server, HTTP API on 9090/tcp (see WithMonitoring)
	ImageAlertmanager = "alertmanager" // Alertmanager, HTTP API on 9093/tcp (see WithMonitoring)
	ImageNATS         = "nats"         // nats-server (JetStream), clients 4222/tcp, routes 6222/tcp, monitoring 8222/tcp
	ImageEtcd         = "etcd"         // etcd server (go.etcd.io/etcd/server/v3 etcdmain), 2379/tcp clients, 2380/tcp peers
)

// Images lists the names of the project's images, in build order.
func Images() []string {
	names := []string{ImageToxiproxy, ImagePostgres, ImageStub, ImagePipeline, ImagePrometheus, ImageAlertmanager}
	names = append(names, ImageEtcd)
	names = append(names, ImageNATS)
	return names
}

// Image returns the reference of the named project image: the value of
// [ImageEnvVar](name) when that variable is set and not empty, otherwise
// "firedrill/<name>:local", the tag `make images` points at its latest build.
// A user with a registry can so run e.g. FIREDRILL_POSTGRES_IMAGE=postgres:16.
func Image(name string) string {
	if ref := os.Getenv(ImageEnvVar(name)); ref != "" {
		return ref
	}
	return "firedrill/" + name + ":local"
}

// ImageEnvVar returns the environment variable that overrides the named
// image: "FIREDRILL_<NAME>_IMAGE", with the name upper-cased and '-' and
// '.' turned into '_' (ImageStub gives FIREDRILL_STUB_IMAGE).
func ImageEnvVar(name string) string {
	n := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r == '-' || r == '.':
			return '_'
		}
		return r
	}, name)
	return "FIREDRILL_" + n + "_IMAGE"
}
