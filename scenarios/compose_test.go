package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeProject writes files (path relative to a new directory → content)
// and returns the directory. A path ending in "/" is a directory.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// fromCompose loads compose.yaml from a project of files.
func fromCompose(t *testing.T, files map[string]string, opts ...ComposeOption) (System, string, error) {
	t.Helper()
	dir := writeProject(t, files)
	sys, err := FromCompose(filepath.Join(dir, "compose.yaml"), opts...)
	return sys, dir, err
}

func service(t *testing.T, sys System, name string) ContainerSpec {
	t.Helper()
	for _, c := range sys.Containers {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no container", "%q not in %+v", name, sys.Containers)
	return ContainerSpec{}
}

func TestFromComposeMapsEveryKey(t *testing.T) {
	t.Parallel()
	sys, dir, err := fromCompose(t, map[string]string{
		"app/Dockerfile":           "FROM scratch\n",
		"app/build/Dockerfile.dev": "FROM scratch\n",
		"data/":                    "",
		"compose.yaml": `
name: shop
services:
  db:
    image: firedrill/postgres:local
    expose: ["5432"]
    user: postgres
    tmpfs: ["/run/pg:size=8m", "/scratch"]
    volumes:
      - pgdata:/var/lib/postgresql/data
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1048576}
    healthcheck:
      test: ["CMD", "pg_isready", "-q"]
      interval: 200ms
      timeout: 2s
      start_period: 1s
      retries: 30
    deploy:
      resources:
        limits: {memory: 256m, cpus: "1.5"}
  app:
    image: shop/app:dev
    build:
      context: ./app
      dockerfile: build/Dockerfile.dev
      args: {VERSION: "1.2", UNSET_ARG: null}
      target: final
    command: ["-addr", ":8080"]
    entrypoint: /app --verbose
    environment:
      DATABASE_URL: postgres://postgres@db:5432/shop
      MODE: drill
    ports: ["8080", "127.0.0.1:9000:9090"]
    expose: ["7000", "8080"]
    volumes: ["./data:/data:ro"]
    extra_hosts: ["metrics.local=10.1.2.3"]
    depends_on:
      db: {condition: service_healthy}
    mem_limit: 64m
    cpus: 0.1
volumes:
  pgdata: {}
`,
	})
	require.NoError(t, err)
	assert.Equal(t, "shop", sys.Name)
	require.Len(t, sys.Containers, 2)
	assert.Equal(t, "app", sys.Containers[0].Name, "containers sorted by service name")

	app := service(t, sys, "app")
	assert.Equal(t, "shop/app:dev", app.Image)
	assert.Equal(t, &Build{Context: filepath.Join(dir, "app"), Dockerfile: "build/Dockerfile.dev", Args: map[string]string{"VERSION": "1.2"}, Target: "final"}, app.Build)
	assert.Equal(t, []string{"-addr", ":8080"}, app.Cmd)
	assert.Equal(t, []string{"/app", "--verbose"}, app.Entrypoint)
	assert.Equal(t, map[string]string{"DATABASE_URL": "postgres://postgres@${link:app->db}/shop", "MODE": "drill"}, app.Env)
	assert.Equal(t, []string{"8080/tcp", "9090/tcp", "7000/tcp"}, app.Ports, "ports then expose, each once")
	assert.Equal(t, []Mount{{Type: MountBind, Source: filepath.Join(dir, "data"), Target: "/data", ReadOnly: true}}, app.Mounts)
	assert.Equal(t, []string{"metrics.local:10.1.2.3"}, app.ExtraHosts)
	assert.Equal(t, []string{"db"}, app.DependsOn)
	assert.Equal(t, int64(64<<20), app.Memory)
	assert.Equal(t, int64(100_000_000), app.NanoCPUs, "cpus 0.1 as written, not as float32")
	assert.Nil(t, app.Ready, "no healthcheck: ready when running")
	assert.Nil(t, app.Healthcheck)

	db := service(t, sys, "db")
	assert.Equal(t, "firedrill/postgres:local", db.Image)
	assert.Nil(t, db.Build)
	assert.Equal(t, "postgres", db.User)
	assert.Equal(t, []string{"5432/tcp"}, db.Ports)
	assert.Equal(t, map[string]string{"/run/pg": "size=8m", "/scratch": "", "/cache": "size=1048576"}, db.Tmpfs)
	assert.Equal(t, []Mount{{Type: MountVolume, Source: "pgdata", Target: "/var/lib/postgresql/data"}}, db.Mounts)
	assert.Equal(t, &Healthcheck{Test: []string{"CMD", "pg_isready", "-q"}, Interval: 200 * time.Millisecond,
		Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 30}, db.Healthcheck)
	assert.Equal(t, ReadyHealthy(), db.Ready, "a healthcheck makes readiness ReadyHealthy")
	assert.Equal(t, int64(256<<20), db.Memory, "deploy.resources.limits")
	assert.Equal(t, int64(1_500_000_000), db.NanoCPUs)

	assert.Equal(t, []LinkSpec{
		{Name: "app->db", From: "app", To: "db", Port: "5432/tcp"},
		{Name: "app:8080", From: Host, To: "app", Port: "8080/tcp"},
		{Name: "app:9090", From: Host, To: "app", Port: "9090/tcp"},
	}, sys.Links, "published ports get Host links; expose ports do not")
}

func TestFromComposeHealthcheckForms(t *testing.T) {
	t.Parallel()
	sys, _, err := fromCompose(t, map[string]string{"compose.yaml": `
services:
  shell:
    image: x
    healthcheck: {test: "curl -f http://localhost/ || exit 1"}
  off:
    image: x
    healthcheck: {disable: true}
  own:
    image: x
    healthcheck: {test: ["CMD", "true"]}
`}, ComposeReady("own", ReadyLog("started")))
	require.NoError(t, err)
	shell := service(t, sys, "shell")
	assert.Equal(t, []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, shell.Healthcheck.Test)
	assert.Equal(t, ReadyHealthy(), shell.Ready)
	off := service(t, sys, "off")
	assert.Equal(t, []string{"NONE"}, off.Healthcheck.Test)
	assert.Nil(t, off.Ready, "a disabled healthcheck: ready when running")
	assert.Equal(t, ReadyLog("started"), service(t, sys, "own").Ready, "ComposeReady wins over the healthcheck")

	_, _, err = fromCompose(t, map[string]string{"compose.yaml": "services:\n  a: {image: x}\n"}, ComposeReady("b", ReadyLog("x")))
	require.ErrorIs(t, err, ErrInvalidCompose)
	assert.ErrorContains(t, err, `ComposeReady("b"): no such service (services: a)`)
}

func TestFromComposeLinkRule(t *testing.T) {
	t.Parallel()
	sys, _, err := fromCompose(t, map[string]string{"compose.yaml": `
services:
  db:
    image: pg
    expose: ["5432", "5433", "9187/udp"]
    environment:
      SELF: db:5432
  cache:
    image: redis
    expose: ["6379"]
  app:
    image: app
    command: ["-cache", "cache:6379", "-peers=db:5432,cache:6379"]
    entrypoint: ["/app", "--metrics=db:9187"]
    environment:
      URL: postgres://u:pw@db:5432/x?fallback=db:5433
      UNDECLARED: db:6000
      UNKNOWN_HOST: search:9200
      PREFIXED: mydb:5432 x-db:5432 db.example.com:5432 db:54320
      HOST_ONLY: db
  worker:
    image: w
    environment: {Q: "cache:6379"}
`})
	require.NoError(t, err)
	app := service(t, sys, "app")
	assert.Equal(t, "postgres://u:pw@${link:app->db:5432}/x?fallback=${link:app->db:5433}", app.Env["URL"],
		"two ports of one service: links named with the port")
	assert.Equal(t, []string{"-cache", "${link:app->cache}", "-peers=${link:app->db:5432},${link:app->cache}"}, app.Cmd)
	assert.Equal(t, []string{"/app", "--metrics=db:9187"}, app.Entrypoint, "9187 is a UDP port: not a link")
	assert.Equal(t, "db:6000", app.Env["UNDECLARED"], "a port db does not declare is not a link")
	assert.Equal(t, "search:9200", app.Env["UNKNOWN_HOST"], "a host that is not a service is not a link")
	assert.Equal(t, "mydb:5432 x-db:5432 db.example.com:5432 db:54320", app.Env["PREFIXED"], "only whole host names, whole ports")
	assert.Equal(t, "db", app.Env["HOST_ONLY"], "a hostname alone is not a link")
	assert.Equal(t, "db:5432", service(t, sys, "db").Env["SELF"], "a service naming itself is not a link")
	assert.Equal(t, "${link:worker->cache}", service(t, sys, "worker").Env["Q"])

	// Order: services by name, then env (by key), command, entrypoint.
	assert.Equal(t, []LinkSpec{
		{Name: "app->db:5432", From: "app", To: "db", Port: "5432/tcp"},
		{Name: "app->db:5433", From: "app", To: "db", Port: "5433/tcp"},
		{Name: "app->cache", From: "app", To: "cache", Port: "6379/tcp"},
		{Name: "worker->cache", From: "worker", To: "cache", Port: "6379/tcp"},
	}, sys.Links)
	require.NoError(t, sys.Validate())
}

func TestFromComposeExplicitLinks(t *testing.T) {
	t.Parallel()
	files := map[string]string{"compose.yaml": `
services:
  db: {image: pg, expose: ["5432"]}
  app:
    image: app
    ports: ["8080"]
    environment:
      DB_HOST: db
      DB_ADDR: $${link:app->db}
      CACHE: db:5432
`}
	sys, _, err := fromCompose(t, files, ComposeNoAutoLinks(), ComposeNoHostLinks())
	require.ErrorIs(t, err, ErrInvalidSystem, "the $${link:app->db} reference needs a declared link")
	require.ErrorContains(t, err, `refers to unknown link "app->db"`)
	assert.Empty(t, sys.Containers)

	sys, _, err = fromCompose(t, files, ComposeNoAutoLinks(), ComposeNoHostLinks(),
		ComposeLink("app", "db", "5432"), ComposeLink(Host, "db", "5432/tcp"))
	require.NoError(t, err)
	app := service(t, sys, "app")
	assert.Equal(t, "${link:app->db}", app.Env["DB_ADDR"], "$$ escapes Compose's interpolation")
	assert.Equal(t, "${link:app->db}", app.Env["CACHE"], "an explicit link rewrites its address without the automatic rule")
	assert.Equal(t, "db", app.Env["DB_HOST"])
	assert.Equal(t, []LinkSpec{
		{Name: "app->db", From: "app", To: "db", Port: "5432/tcp"},
		{Name: "db:5432", From: Host, To: "db", Port: "5432/tcp"},
	}, sys.Links, "no Host link for app:8080 under ComposeNoHostLinks")

	sys, _, err = fromCompose(t, files, ComposeNoAutoLinks())
	require.Error(t, err) // the $${link:app->db} reference again
	assert.Empty(t, sys.Links)

	_, _, err = fromCompose(t, files,
		ComposeLink("app", "cache", "6379"), ComposeLink("app", "db", "5433"), ComposeLink("db", "db", "5432"),
		ComposeLink("web", "db", "5432"))
	require.ErrorIs(t, err, ErrInvalidCompose)
	for _, want := range []string{
		`ComposeLink("app", "cache", "6379/tcp"): "cache" is not a service (services: app, db)`,
		`ComposeLink("app", "db", "5433/tcp"): 5433/tcp is not a TCP port of service "db" (ports and expose: [5432/tcp]): add it to its expose`,
		`ComposeLink("db", "db", "5432/tcp"): a service cannot link to itself`,
		`ComposeLink("web", "db", "5432/tcp"): "web" is not a service`,
	} {
		require.ErrorContains(t, err, want)
	}

	_, err = FromCompose("unused", ComposeLink("app", "db", "http"))
	assert.ErrorContains(t, err, `ComposeLink("app", "db", "http"): port "http"`)
}

func TestFromComposeRejectsWhatItCannotHonour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, service, top string // service: YAML under the service; top: top-level YAML
		want               []string
		ignore             string // a ComposeIgnore key that makes the file load
	}{
		{name: "network_mode", service: "network_mode: host", want: []string{`service "app": "network_mode" is not supported`, "system's own network"}, ignore: "network_mode"},
		{name: "privileged", service: "privileged: true", want: []string{`service "app": "privileged" is not supported`, "remove it"}, ignore: "privileged"},
		{name: "cap_add", service: "cap_add: [NET_ADMIN]", want: []string{`service "app": "cap_add" is not supported`}, ignore: "cap_add"},
		{name: "devices", service: "devices: [\"/dev/fuse:/dev/fuse\"]", want: []string{`service "app": "devices" is not supported`}, ignore: "devices"},
		{name: "secrets", service: "secrets: [pw]", top: "secrets:\n  pw: {file: ./pw.txt}", want: []string{`service "app": "secrets" is not supported`, `top-level "secrets" is not supported`, "environment"}},
		{name: "configs", service: "configs: [c]", top: "configs:\n  c: {file: ./c.txt}", want: []string{`service "app": "configs" is not supported`, "bind mount"}},
		{name: "other network", service: "networks: [back]", top: "networks:\n  back: {}", want: []string{`network "back" is not supported`, `service "app": network "back"`}, ignore: "networks"},
		{name: "default network settings", service: "networks: {default: {aliases: [web]}}", want: []string{`service "app": networks.default: settings (aliases, addresses, ...) are not supported`}, ignore: "networks"},
		{name: "replicas", service: "deploy: {replicas: 3}", want: []string{`service "app": deploy.replicas 3`, "one container per service"}, ignore: "deploy.replicas"},
		{name: "scale", service: "scale: 2", want: []string{`service "app": scale 2`}, ignore: "scale"},
		{name: "pid", service: "pid: host", want: []string{`service "app": "pid" is not supported`, "namespaces"}, ignore: "pid"},
		{name: "ipc", service: "ipc: host", want: []string{`service "app": "ipc" is not supported`}, ignore: "ipc"},
		{name: "volumes_from", service: "volumes_from: [db]", want: []string{`service "app": "volumes_from" is not supported`, "named volume"}, ignore: "volumes_from"},
		{name: "profiles", service: "profiles: [debug]", want: []string{`service "app": "profiles" is not supported`, "starts every service"}, ignore: "profiles"},
		{name: "build.ssh", service: "build: {context: ., ssh: [default]}", want: []string{`service "app": "build.ssh" is not supported`}, ignore: "build.ssh"},
		{name: "restart", service: "restart: always", want: []string{`service "app": "restart" is not supported`, "behind the drill's back", `ComposeIgnore("restart")`}, ignore: "restart"},
		{name: "labels", service: "labels: {a: b}", want: []string{`"labels" is not supported`}, ignore: "labels"},
		{name: "container_name", service: "container_name: web", want: []string{`"container_name" is not supported`, "the service name is the container's name"}, ignore: "container_name"},
		{name: "restart_policy", service: "deploy: {restart_policy: {condition: any}}", want: []string{`"deploy.restart_policy" is not supported`}, ignore: "deploy.restart_policy"},
		{name: "bind propagation", service: "volumes: [{type: bind, source: ., target: /x, bind: {propagation: rshared}}]", want: []string{`"volumes[0].bind.propagation" is not supported`, `ComposeIgnore("volumes.bind.propagation")`}, ignore: "volumes.bind.propagation"},
		{name: "anonymous volume", service: "volumes: [/var/data]", want: []string{`volumes[0]: an anonymous volume at /var/data is not supported`, `name it (e.g. "data:/var/data")`}},
		{name: "depends_on completed", service: "depends_on: {db: {condition: service_completed_successfully}}", want: []string{`depends_on db: condition "service_completed_successfully" is not supported`}, ignore: "depends_on.condition"},
		{name: "depends_on restart", service: "depends_on: {db: {condition: service_started, restart: true}}", want: []string{`depends_on db: restart: true is not supported`}, ignore: "depends_on.restart"},
		{name: "external volume", service: "volumes: [vol:/v]", top: "volumes:\n  vol: {external: true}", want: []string{`volume "vol": key "external" is not supported`}, ignore: "volumes.external"},
		{name: "start_interval", service: "healthcheck: {test: [CMD, \"true\"], start_interval: 1s}", want: []string{`"healthcheck.start_interval" is not supported`, "shorter interval"}, ignore: "healthcheck.start_interval"},
		{name: "git context", service: "build: {context: \"https://github.com/x/y.git\"}", want: []string{`build.context "https://github.com/x/y.git" is not a directory`}},
		{name: "empty command", service: "command: []", want: []string{`an empty command (clearing the image's) is not supported`}},
		{name: "port range expose", service: "expose: [\"8000-8010\"]", want: []string{`expose "8000-8010": list each port on its own`}},
		{name: "bind source missing", service: "volumes: [./nowhere:/x]", want: []string{"bind mount source", "nowhere does not exist: create it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := "services:\n  db: {image: pg}\n  app:\n    image: app\n    " + strings.ReplaceAll(tt.service, "\n", "\n    ") + "\n" + tt.top + "\n"
			_, dir, err := fromCompose(t, map[string]string{"compose.yaml": doc})
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalidCompose, "%v", err)
			var ce *ComposeError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, filepath.Join(dir, "compose.yaml"), ce.File)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			if tt.ignore == "" {
				return
			}
			keys := []string{tt.ignore}
			if tt.top != "" && strings.HasPrefix(tt.top, "secrets") {
				keys = append(keys, "secrets")
			}
			_, err = FromCompose(filepath.Join(dir, "compose.yaml"), ComposeIgnore(keys...))
			assert.NoError(t, err, "ComposeIgnore(%q) drops it", tt.ignore)
		})
	}
}

func TestFromComposeReservedAndInvalidNames(t *testing.T) {
	t.Parallel()
	_, _, err := fromCompose(t, map[string]string{"compose.yaml": "services:\n  toxiproxy: {image: x}\n  host: {image: y}\n"})
	require.ErrorIs(t, err, ErrInvalidSystem)
	require.ErrorContains(t, err, `container "toxiproxy": the name "toxiproxy" is reserved`)
	require.ErrorContains(t, err, `container "host": the name "host" is reserved`)

	dir := writeProject(t, map[string]string{"My Shop.v2/compose.yaml": "services:\n  a: {image: x}\n"})
	sys, err := FromCompose(filepath.Join(dir, "My Shop.v2"))
	require.NoError(t, err, "a directory: its compose.yaml")
	assert.Equal(t, "myshopv2", sys.Name, "Compose's project name from the directory, valid as a System name")
	assert.Equal(t, "compose", systemName("__"))
	assert.Equal(t, "a-b", systemName("a b"))
}

func TestFromComposeInterpolation(t *testing.T) {
	doc := `
services:
  app:
    image: ${IMAGE:-default/app}
    environment:
      FROM_DOTENV: ${DOTENV_VAR}
      FROM_FILE: ${FILE_VAR:-unset}
      FROM_OS: ${FIREDRILL_TEST_OS_VAR}
      OVERRIDDEN: ${BOTH}
      PASSTHROUGH:
`
	dir := writeProject(t, map[string]string{
		"compose.yaml": doc,
		".env":         "DOTENV_VAR=from-dotenv\nBOTH=dotenv\nIMAGE=dotenv/app:1\nPASSTHROUGH=from-dotenv-too\n",
		"ci.env":       "FILE_VAR=from-ci-env\nDOTENV_VAR=ci\n",
	})
	t.Setenv("FIREDRILL_TEST_OS_VAR", "from-os")
	t.Setenv("BOTH", "os")
	file := filepath.Join(dir, "compose.yaml")

	sys, err := FromCompose(file)
	require.NoError(t, err)
	app := service(t, sys, "app")
	assert.Equal(t, "dotenv/app:1", app.Image)
	assert.Equal(t, map[string]string{
		"FROM_DOTENV": "from-dotenv", "FROM_FILE": "unset", "FROM_OS": "from-os",
		"OVERRIDDEN": "os", "PASSTHROUGH": "from-dotenv-too",
	}, app.Env, "the process's environment beats .env")

	sys, err = FromCompose(file, ComposeEnvFile("ci.env"), ComposeEnv("BOTH", "option"))
	require.NoError(t, err)
	app = service(t, sys, "app")
	assert.Equal(t, "default/app", app.Image, "ComposeEnvFile replaces .env")
	assert.Equal(t, map[string]string{
		"FROM_DOTENV": "ci", "FROM_FILE": "from-ci-env", "FROM_OS": "from-os", "OVERRIDDEN": "option",
	}, app.Env, "ComposeEnv beats the process's environment; an unset variable is dropped")

	_, err = FromCompose(file, ComposeEnvFile("missing.env"))
	require.Error(t, err)
	require.ErrorContains(t, err, "missing.env")

	req := writeProject(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    environment: {P: \"${PASSWORD:?set PASSWORD}\"}\n"})
	_, err = FromCompose(req)
	require.Error(t, err)
	require.ErrorContains(t, err, "required variable PASSWORD is missing a value: set PASSWORD")
	assert.ErrorContains(t, err, filepath.Join(req, "compose.yaml"))
}

func TestFromComposeRelativePaths(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"deploy/compose.yaml":   "services:\n  app:\n    build: ../src\n    volumes: [\"./conf:/etc/app\"]\n",
		"deploy/conf/app.yaml":  "x: 1\n",
		"src/Dockerfile":        "FROM scratch\n",
		"elsewhere/placeholder": "",
	})
	t.Chdir(filepath.Join(dir, "elsewhere")) // not the Compose file's directory
	sys, err := FromCompose("../deploy/compose.yaml")
	require.NoError(t, err)
	app := service(t, sys, "app")
	require.NotNil(t, app.Build)
	assert.Equal(t, filepath.Join(dir, "src"), app.Build.Context)
	assert.Equal(t, "Dockerfile", app.Build.Dockerfile)
	assert.Equal(t, []Mount{{Type: MountBind, Source: filepath.Join(dir, "deploy", "conf"), Target: "/etc/app"}}, app.Mounts)
}

func TestFromComposeMalformed(t *testing.T) {
	t.Parallel()
	_, dir, err := fromCompose(t, map[string]string{"compose.yaml": "services:\n  app:\n    image: x\n   environment: [\n"})
	require.ErrorIs(t, err, ErrInvalidCompose)
	require.ErrorContains(t, err, "compose file "+filepath.Join(dir, "compose.yaml")+": line 4, column 4: malformed YAML: did not find expected key (parsing a block mapping that starts at line 2)")

	_, _, err = fromCompose(t, map[string]string{"compose.yaml": "services:\n  app:\n    image: x\n    imgae: y\n"})
	require.Error(t, err)
	require.ErrorContains(t, err, "services.app.imgae is not a key of the Compose specification: check its spelling")

	_, err = FromCompose(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = FromCompose(t.TempDir())
	assert.ErrorContains(t, err, "no compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml in")
}

func TestComposeOptionsRefuseBadInput(t *testing.T) {
	t.Parallel()
	for _, o := range []struct {
		opt  ComposeOption
		want string
	}{
		{ComposeLink("", "db", "5432"), "name both services"},
		{ComposeEnv("A=B", "x"), "has no '='"},
		{ComposeEnvFile(""), "empty path"},
		{ComposeIgnore(""), "empty key"},
		{ComposeReady("db", nil), "nil readiness"},
	} {
		_, err := FromCompose("unused", o.opt)
		require.Error(t, err)
		require.ErrorContains(t, err, o.want)
		assert.NotErrorIs(t, err, ErrInvalidCompose, "an option error is not about the file")
	}
}

// TestFromComposeExample: the example project in the repository, as the
// compose drill (drills/compose_drill_test.go) starts it.
func TestFromComposeExample(t *testing.T) {
	t.Setenv("FIREDRILL_POSTGRES_IMAGE", "")
	sys, err := FromCompose("examples/compose")
	require.NoError(t, err)
	assert.Equal(t, "orders", sys.Name)
	app, db := service(t, sys, "app"), service(t, sys, "db")
	assert.Equal(t, "postgres://postgres@${link:app->db}/postgres?sslmode=disable", app.Env["DATABASE_URL"])
	assert.Equal(t, "false", app.Env["ORDERS_ACK_BEFORE_COMMIT"])
	assert.Equal(t, []string{"db"}, app.DependsOn)
	require.NotNil(t, app.Build)
	assert.Empty(t, app.Image, "Start names the built image")
	assert.Equal(t, "firedrill/postgres:local", db.Image, "${FIREDRILL_POSTGRES_IMAGE:-firedrill/postgres:local}")
	assert.Equal(t, ReadyHealthy(), app.Ready)
	assert.Equal(t, ReadyHealthy(), db.Ready)
	assert.Equal(t, []LinkSpec{
		{Name: "app->db", From: "app", To: "db", Port: "5432/tcp"},
		{Name: "app:8080", From: Host, To: "app", Port: "8080/tcp"},
	}, sys.Links)

	sys, err = FromCompose("examples/compose", ComposeEnv("ORDERS_ACK_BEFORE_COMMIT", "true"))
	require.NoError(t, err)
	assert.Equal(t, "true", service(t, sys, "app").Env["ORDERS_ACK_BEFORE_COMMIT"], "the planted defect, switched on by interpolation")
}

// TestFromComposeEnvFileOfAService: a service's env_file lands in its
// environment, where the link rule reads it too.
func TestFromComposeEnvFileOfAService(t *testing.T) {
	t.Parallel()
	sys, _, err := fromCompose(t, map[string]string{
		"app.env": "CACHE_ADDR=cache:6379\nLOG=debug\n",
		"compose.yaml": `
services:
  cache: {image: redis, expose: ["6379"]}
  app:
    image: app
    env_file: [app.env]
    environment: {LOG: info}
`})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"CACHE_ADDR": "${link:app->cache}", "LOG": "info"}, service(t, sys, "app").Env,
		"environment beats env_file, as under Compose")
	assert.Equal(t, []LinkSpec{{Name: "app->cache", From: "app", To: "cache", Port: "6379/tcp"}}, sys.Links)
}
