package scenarios

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validSystem() System {
	return System{
		Name: "shop",
		Containers: []ContainerSpec{
			{Name: "db", Image: "postgres:16", Ports: []string{"5432/tcp"}, Ready: ReadyTCP("5432/tcp")},
			{Name: "api", Image: "shop/api:dev", Ports: []string{"8080"},
				Env:   map[string]string{"DB": "postgres://u@${link:api->db}/shop"},
				Cmd:   []string{"-peer", "${link:api->db}"},
				Ready: ReadyHTTP("8080/tcp", "/healthz")},
		},
		Links: []LinkSpec{
			{From: "api", To: "db", Port: "5432/tcp"},
			{From: Host, To: "api", Port: "8080/tcp"},
		},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*System)
		want   []string // substrings of the error; none = valid
	}{
		{name: "valid", modify: func(*System) {}},
		{name: "duplicate container", modify: func(s *System) {
			s.Containers = append(s.Containers, ContainerSpec{Name: "db", Image: "x"})
		}, want: []string{`duplicate container name "db"`, "must be unique"}},
		{name: "link to unknown container", modify: func(s *System) {
			s.Links[0].To = "cache"
		}, want: []string{`link "api->cache"`, `To "cache" is not a container of this system`, "known: api, db"}},
		{name: "link from unknown container", modify: func(s *System) {
			s.Links = append(s.Links, LinkSpec{From: "worker", To: "db", Port: "5432"})
		}, want: []string{`From "worker" is not a container of this system`, "scenarios.Host"}},
		{name: "missing image", modify: func(s *System) {
			s.Containers[1].Image = ""
		}, want: []string{`container "api" has no image`, "set ContainerSpec.Image", "make images", "or ContainerSpec.Build"}},
		{name: "port not exposed", modify: func(s *System) {
			s.Links[0].Port = "6432/tcp"
		}, want: []string{"port 6432/tcp is not exposed by container \"db\"", `add "6432/tcp" to its Ports`}},
		{name: "unknown link reference", modify: func(s *System) {
			s.Containers[1].Env["CACHE"] = "${link:api->cache}"
		}, want: []string{`refers to unknown link "api->cache"`, "declare a LinkSpec named"}},
		{name: "unknown link reference in cmd", modify: func(s *System) {
			s.Containers[1].Cmd = []string{"${link:nope}"}
		}, want: []string{`refers to unknown link "nope"`}},
		{name: "malformed link reference", modify: func(s *System) {
			s.Containers[1].Env["X"] = "${link:api->db"
		}, want: []string{"malformed link reference", "${link:NAME}"}},
		{name: "no containers", modify: func(s *System) {
			s.Containers, s.Links = nil, nil
		}, want: []string{"no containers"}},
		{name: "reserved name", modify: func(s *System) {
			s.Containers = append(s.Containers, ContainerSpec{Name: "toxiproxy", Image: "x"})
		}, want: []string{`the name "toxiproxy" is reserved`}},
		{name: "bad name", modify: func(s *System) {
			s.Containers[0].Name = "my db"
			s.Links = nil
		}, want: []string{`container "my db": name must start with a letter or digit`}},
		{name: "empty name", modify: func(s *System) {
			s.Containers = append(s.Containers, ContainerSpec{Image: "x"})
		}, want: []string{"container #2 has no name"}},
		{name: "relative file path", modify: func(s *System) {
			s.Containers[1].Files = map[string][]byte{"etc/app.yml": nil, "/etc/ok.yml": nil}
		}, want: []string{`file "etc/app.yml" must be an absolute path`}},
		{name: "bad port", modify: func(s *System) {
			s.Containers[0].Ports = []string{"5432/tcp", "http"}
		}, want: []string{`port "http": want a number 1-65535`}},
		{name: "link without port", modify: func(s *System) {
			s.Links[0].Port = ""
		}, want: []string{`link "api->db" has no Port`}},
		{name: "link to host", modify: func(s *System) {
			s.Links = append(s.Links, LinkSpec{From: "api", To: Host, Port: "80"})
		}, want: []string{"To cannot be scenarios.Host"}},
		{name: "link to itself", modify: func(s *System) {
			s.Links = append(s.Links, LinkSpec{From: "db", To: "db", Port: "5432"})
		}, want: []string{`links container "db" to itself`}},
		{name: "duplicate link", modify: func(s *System) {
			s.Links = append(s.Links, LinkSpec{From: "api", To: "db", Port: "5432/tcp"})
		}, want: []string{`duplicate link name "api->db"`, "set LinkSpec.Name"}},
		{name: "udp link", modify: func(s *System) {
			s.Containers[0].Ports = append(s.Containers[0].Ports, "53/udp")
			s.Links = append(s.Links, LinkSpec{From: "api", To: "db", Port: "53/udp", Name: "dns"})
		}, want: []string{"toxiproxy proxies TCP only"}},
		{name: "dependency cycle", modify: func(s *System) {
			s.Containers[0].Ports = append(s.Containers[0].Ports, "1/tcp")
			s.Links = append(s.Links, LinkSpec{From: "db", To: "api", Port: "8080/tcp"})
		}, want: []string{"dependency cycle", "db -> api -> db"}},
		{name: "memory below docker minimum", modify: func(s *System) {
			s.Containers[0].Memory = 1 << 20
		}, want: []string{"below Docker's minimum of 6 MiB"}},
		{name: "readiness port not published", modify: func(s *System) {
			s.Containers[1].Ready = ReadyAll(ReadyHTTP("9090/tcp", "/"))
		}, want: []string{"readiness checks port 9090/tcp, which is not in Ports"}},
		{name: "valid with every field", modify: func(s *System) {
			api := &s.Containers[1]
			api.Entrypoint = []string{"/api", "--db", "${link:api->db}"}
			api.User = "1000:1000"
			api.Mounts = []Mount{{Type: MountBind, Source: "/srv/conf", Target: "/conf", ReadOnly: true}, {Type: MountVolume, Source: "data", Target: "/data"}}
			api.Healthcheck = &Healthcheck{Test: []string{"CMD", "/api", "health"}, Interval: time.Second, Retries: 3}
			api.Ready = ReadyHealthy()
			api.ExtraHosts = []string{"db.internal:10.0.0.5", "v6:::1", "gw:host-gateway"}
			api.DependsOn = []string{"db"}
			s.Containers[0].Image, s.Containers[0].Build = "", &Build{Context: "./db", Dockerfile: "docker/Dockerfile"}
		}},
		{name: "relative bind source", modify: func(s *System) {
			s.Containers[1].Mounts = []Mount{{Type: MountBind, Source: "conf", Target: "/conf"}}
		}, want: []string{`container "api": mount #0: bind source "conf" must be an absolute host path`}},
		{name: "mount without target", modify: func(s *System) {
			s.Containers[1].Mounts = []Mount{{Type: MountVolume, Source: "data"}}
		}, want: []string{`mount #0: target "" must be an absolute path inside the container`}},
		{name: "unknown mount type", modify: func(s *System) {
			s.Containers[1].Mounts = []Mount{{Type: "tmpfs", Target: "/t"}}
		}, want: []string{`unknown mount type "tmpfs"`, "scenarios.MountBind or scenarios.MountVolume"}},
		{name: "bad volume name", modify: func(s *System) {
			s.Containers[1].Mounts = []Mount{{Type: MountVolume, Source: "my data", Target: "/d"}}
		}, want: []string{`volume name "my data"`}},
		{name: "two mounts on one target", modify: func(s *System) {
			s.Containers[1].Mounts = []Mount{{Type: MountVolume, Source: "a", Target: "/d"}, {Type: MountVolume, Source: "b", Target: "/d"}}
		}, want: []string{`two mounts share the target "/d"`}},
		{name: "bad extra host", modify: func(s *System) {
			s.Containers[1].ExtraHosts = []string{"db.internal=10.0.0.5", "db:not-an-ip", ":10.0.0.1"}
		}, want: []string{"3 problems:", `extra host "db.internal=10.0.0.5": want "name:address"`, `extra host "db:not-an-ip"`, `extra host ":10.0.0.1"`}},
		{name: "depends on unknown container", modify: func(s *System) {
			s.Containers[1].DependsOn = []string{"cache"}
		}, want: []string{`container "api" depends on "cache", which is not a container of this system (known: api, db)`}},
		{name: "depends on itself", modify: func(s *System) {
			s.Containers[1].DependsOn = []string{"api"}
		}, want: []string{`container "api" depends on itself`}},
		{name: "cycle through DependsOn and a link", modify: func(s *System) {
			s.Containers[0].DependsOn = []string{"api"}
		}, want: []string{"links and DependsOn form a dependency cycle", "db -> api -> db"}},
		{name: "bad healthcheck", modify: func(s *System) {
			s.Containers[1].Healthcheck = &Healthcheck{Test: []string{"curl", "-f", "http://localhost"}, Interval: time.Microsecond, Retries: -1}
		}, want: []string{`healthcheck test ["curl" "-f" "http://localhost"]: want ["CMD", prog, args...]`, "healthcheck Interval 1µs", "Retries -1 is negative"}},
		{name: "ReadyHealthy with the healthcheck disabled", modify: func(s *System) {
			s.Containers[1].Healthcheck = &Healthcheck{Test: []string{"NONE"}}
			s.Containers[1].Ready = ReadyAll(ReadyHealthy())
		}, want: []string{"Ready is ReadyHealthy but the healthcheck is disabled"}},
		{name: "build without context", modify: func(s *System) {
			s.Containers[0].Build = &Build{Dockerfile: "/abs/Dockerfile"}
		}, want: []string{"Build has no Context", `Build.Dockerfile "/abs/Dockerfile" must be a path inside Context`}},
		{name: "unknown link reference in entrypoint", modify: func(s *System) {
			s.Containers[1].Entrypoint = []string{"/api", "${link:nope}"}
		}, want: []string{`refers to unknown link "nope"`}},
		{name: "every problem reported", modify: func(s *System) {
			s.Containers[0].Image = ""
			s.Links[0].To = "nope"
		}, want: []string{"4 problems:", "no image", `To "nope"`, `unknown link "api->db"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := validSystem()
			sys.Containers[1].Env = map[string]string{"DB": sys.Containers[1].Env["DB"]}
			tt.modify(&sys)
			err := sys.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalidSystem)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			assert.Equal(t, sys.name(), verr.System)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestStartContextRefusesInvalidSystemBeforeDocker(t *testing.T) {
	t.Parallel()
	sys := validSystem()
	sys.Links[0].To = "nope"
	r, err := StartContext(context.Background(), sys)
	require.ErrorIs(t, err, ErrInvalidSystem)
	require.NotNil(t, r)
	assert.Nil(t, r.Docker(), "nothing touched Docker")
	require.NoError(t, r.Close(context.Background()))
}

func TestExpandLinks(t *testing.T) {
	t.Parallel()
	addrs := map[string]string{"api->db": "toxiproxy:20000", "cache": "toxiproxy:20001"}
	tests := map[string]string{
		"${link:api->db}":                   "toxiproxy:20000",
		"postgres://u@${link:api->db}/shop": "postgres://u@toxiproxy:20000/shop",
		"${link:api->db},${link:cache}":     "toxiproxy:20000,toxiproxy:20001",
		"plain":                             "plain",
		"${HOME}":                           "${HOME}",
	}
	for in, want := range tests {
		assert.Equal(t, want, expandLinks(in, addrs), in)
	}
}

func TestNormalizePort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"8080": "8080/tcp", "8080/tcp": "8080/tcp", "53/UDP": "53/udp"} {
		got, err := normalizePort(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "0", "65536", "http", "80/icmp"} {
		_, err := normalizePort(bad)
		assert.Error(t, err, bad)
	}
}

func TestDependencyOrder(t *testing.T) {
	t.Parallel()
	sys := validSystem()
	assert.Equal(t, map[string][]string{"api": {"db"}}, sys.deps(), "a host link adds no dependency")
	assert.Nil(t, sys.dependencyCycle())
}

func TestOptions(t *testing.T) {
	t.Parallel()
	_, err := StartContext(context.Background(), validSystem(), WithReadyTimeout(0))
	require.ErrorContains(t, err, "ready timeout")
	_, err = StartContext(context.Background(), validSystem(), WithRunID(""))
	require.ErrorContains(t, err, "run id")
	r, err := newRunning(validSystem(), WithRunID("r1"), WithTestName("T"))
	require.NoError(t, err)
	assert.Equal(t, "r1", r.RunID)
	l := r.labels("db")
	assert.Equal(t, map[string]string{
		LabelFiredrill: "true", LabelRun: "r1", LabelTest: "T", LabelSystem: "shop",
		LabelInstance: r.Instance, LabelContainer: "db",
	}, l)
}

// Options see the defaults, run in order, and the result is validated: an
// option of the user's own cannot leave an invalid configuration.
func TestConfigDefaultsOptionsValidation(t *testing.T) {
	t.Parallel()
	var seen Config
	cfg, err := newConfig(
		func(c *Config) error { seen = *c; return nil },
		WithReadyTimeout(time.Minute),
		func(c *Config) error { c.ReadyTimeout *= 2; c.Logf = nil; return nil },
	)
	require.NoError(t, err)
	assert.Equal(t, DefaultReadyTimeout, seen.ReadyTimeout, "options receive the defaults")
	assert.Equal(t, EndMargin, seen.WatchdogMargin)
	assert.Equal(t, RunID(), seen.RunID)
	assert.Equal(t, 2*time.Minute, cfg.ReadyTimeout, "options apply in order")
	require.NotNil(t, cfg.Logf, "a nil Logf discards")
	require.NotNil(t, cfg.TestcontainersLogger)

	_, err = newConfig(func(c *Config) error { c.RunID, c.WatchdogMargin = "", -time.Second; return nil })
	require.ErrorContains(t, err, "run id: must not be empty")
	require.ErrorContains(t, err, "watchdog margin -1s: must be positive")

	boom := errors.New("boom")
	_, err = newConfig(func(*Config) error { return boom })
	require.ErrorIs(t, err, boom, "an option's error stops the start")
}

func TestRunIDIsOnePerProcess(t *testing.T) {
	t.Parallel()
	id := RunID()
	assert.NotEmpty(t, id)
	assert.Equal(t, id, RunID())
	if os.Getenv(EnvRunID) == "" {
		assert.Regexp(t, `^\d{8}T\d{6}Z-[0-9a-f]{12}$`, id)
	}
}

func TestSetTestcontainersEnv(t *testing.T) {
	t.Parallel()
	SetTestcontainersEnv()
	for _, kv := range testcontainersEnv {
		assert.NotEmpty(t, os.Getenv(kv.name), kv.name)
	}
}
