package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// A Compose project as a System.
//
// FromCompose reads a Compose file with compose-go (the parser of Docker
// Compose itself, so interpolation, env files, extends and include behave
// as they do there) and translates each service into a [ContainerSpec].
// Every key firedrill cannot honour is an error naming the service and the
// key, never silently dropped. Connections between services are routed
// through toxiproxy by the link rule (see [FromCompose]).

// ErrInvalidCompose is matched (errors.Is) by every error of [FromCompose]
// about the Compose file's content (a *[ComposeError]).
var ErrInvalidCompose = errors.New("invalid compose project")

// ComposeError lists every problem found in a Compose file, each naming the
// service and key and saying what to do.
type ComposeError struct {
	// File is the Compose file's absolute path.
	File     string
	Problems []string
}

// Error lists the problems, one per line when there are several.
func (e *ComposeError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("compose file %s: %s", e.File, e.Problems[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "compose file %s: %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidCompose) true.
func (e *ComposeError) Is(target error) bool { return target == ErrInvalidCompose }

// ComposeOption configures [FromCompose].
type ComposeOption func(*composeConfig) error

type composeConfig struct {
	env      map[string]string
	envFiles []string
	links    []LinkSpec
	noAuto   bool
	noHost   bool
	ignore   map[string]bool
	ready    map[string]Readiness
}

// ComposeLink declares a link explicitly: from (a service, or [Host] for the
// test process) to the service to on port ("5432" or "5432/tcp"), which
// must be one of to's ports or expose. For a service from, every "to:PORT"
// in its environment, command and entrypoint is rewritten to the link as
// the automatic rule does, also under [ComposeNoAutoLinks]; a connection the
// rule cannot see (a hostname alone, the port implied) reaches the link
// through $${link:NAME} written in the Compose file (the $$ keeps Compose's
// interpolation off it). The link is named like an automatic one:
// "from->to" ("from->to:PORT" when from links to to on several ports), or
// "to:PORT" when from is Host.
func ComposeLink(from, to, port string) ComposeOption {
	return func(c *composeConfig) error {
		p, err := normalizePort(port)
		if err != nil {
			return fmt.Errorf("ComposeLink(%q, %q, %q): %w", from, to, port, err)
		}
		if from == "" || to == "" {
			return fmt.Errorf("ComposeLink(%q, %q, %q): name both services (from may be scenarios.Host)", from, to, port)
		}
		c.links = append(c.links, LinkSpec{From: from, To: to, Port: p})
		return nil
	}
}

// ComposeNoAutoLinks turns the automatic link rule off: only the links
// declared with [ComposeLink] (and the Host links of published ports,
// unless [ComposeNoHostLinks]) are made.
func ComposeNoAutoLinks() ComposeOption {
	return func(c *composeConfig) error { c.noAuto = true; return nil }
}

// ComposeNoHostLinks turns off the Host link that every published port
// ("ports:") gets by default.
func ComposeNoHostLinks() ComposeOption {
	return func(c *composeConfig) error { c.noHost = true; return nil }
}

// ComposeEnv sets a variable for the Compose file's interpolation
// (${NAME}); it takes precedence over the process's environment, which
// takes precedence over the env files.
func ComposeEnv(name, value string) ComposeOption {
	return func(c *composeConfig) error {
		if name == "" || strings.Contains(name, "=") {
			return fmt.Errorf("ComposeEnv(%q): a variable name is not empty and has no '='", name)
		}
		c.env[name] = value
		return nil
	}
}

// ComposeEnvFile reads interpolation variables from path (KEY=VALUE lines,
// as Compose's --env-file) instead of the ".env" beside the Compose file.
// Relative paths are taken from the Compose file's directory. Repeat it for
// several files; a later file's value wins.
func ComposeEnvFile(path string) ComposeOption {
	return func(c *composeConfig) error {
		if path == "" {
			return errors.New("ComposeEnvFile: empty path")
		}
		c.envFiles = append(c.envFiles, path)
		return nil
	}
}

// ComposeIgnore drops keys that firedrill cannot honour instead of refusing
// the file, e.g. ComposeIgnore("restart", "labels", "deploy.restart_policy"):
// the drill then runs without them, which you state by naming them. A key
// is written as in FromCompose's errors, without list indexes or the
// service name.
func ComposeIgnore(keys ...string) ComposeOption {
	return func(c *composeConfig) error {
		for _, k := range keys {
			if k == "" {
				return errors.New("ComposeIgnore: empty key")
			}
			c.ignore[k] = true
		}
		return nil
	}
}

// ComposeReady sets the readiness of service, in place of the one derived
// from its healthcheck (or of none: ready when running).
func ComposeReady(service string, r Readiness) ComposeOption {
	return func(c *composeConfig) error {
		if r == nil {
			return fmt.Errorf("ComposeReady(%q): nil readiness", service)
		}
		c.ready[service] = r
		return nil
	}
}

// FromCompose reads the Compose file at path (or the compose.yaml,
// compose.yml, docker-compose.yml or docker-compose.yaml in the directory
// path) and returns it as a validated [System] for [Start]. Override files
// are not read; include and extends are.
//
// Translation: the project name becomes System.Name, each service a
// [ContainerSpec] named after it (its network alias, so services reach each
// other by name as under Compose). image, or build (context, dockerfile,
// args, target) → Image, Build; command, entrypoint → Cmd, Entrypoint;
// environment and env_file → Env (after Compose's interpolation, from
// [ComposeEnv], the process's environment and the ".env" file beside the
// Compose file or [ComposeEnvFile]); ports and expose → Ports (every port is
// published on 127.0.0.1 on a port Docker chooses: a published number or
// host IP in the file is not used; read the address from the Host link or
// [Container.Endpoint]); volumes → Mounts (bind mounts, their relative paths
// taken from the Compose file's directory, and named volumes, created for the
// system and removed with it) or Tmpfs (type tmpfs); tmpfs → Tmpfs; user;
// extra_hosts; healthcheck → Healthcheck, and Ready = [ReadyHealthy]();
// without a healthcheck a service is ready when running ([ComposeReady]
// sets another readiness); depends_on → DependsOn (conditions
// service_started and service_healthy both mean: wait until that service is
// ready); mem_limit and cpus, or deploy.resources.limits → Memory and
// NanoCPUs.
//
// The link rule: for each service S, every "T:PORT" in S's environment
// values, command or entrypoint words, where T is another service's name
// (not preceded by a letter, digit, '.', '-' or '_') and PORT one of T's
// TCP ports (ports or expose; not followed by a digit), makes a link S→T on
// that port, named "S->T" (or "S->T:PORT" when S links to T on several
// ports), and that text is rewritten to ${link:NAME}, which Start expands to
// the link's proxy address ("toxiproxy:20001"). So
// "postgres://app@db:5432/shop" becomes "postgres://app@${link:app->db}/shop".
// Anything else is not a link and stays as written, still reaching its
// service directly: a port T does not declare, a host that is not a service,
// S naming itself, a hostname without a port (declare it with
// [ComposeLink]). Every published TCP port ("ports:") of a service T also
// gets a link from [Host], named "T:PORT" (e.g. "app:8080"), for the test's
// load ([ComposeNoHostLinks] turns that off).
//
// Refused, with the service, the key and what to do: keys firedrill cannot
// honour (privileged, cap_add, network_mode, networks other than default,
// secrets, configs, profiles, restart, labels, ... see [ComposeIgnore]),
// deploy.replicas or scale above 1, anonymous volumes, a build context that
// is not a directory. A malformed file is an error naming the file and line.
func FromCompose(path string, opts ...ComposeOption) (System, error) {
	cfg := composeConfig{env: map[string]string{}, ignore: map[string]bool{}, ready: map[string]Readiness{}}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return System{}, fmt.Errorf("compose option: %w", err)
		}
	}
	file, err := composeFile(path)
	if err != nil {
		return System{}, err
	}
	if err := checkYAML(file); err != nil {
		return System{}, err
	}
	model, project, err := loadCompose(file, cfg)
	if m := schemaErrRE.FindStringSubmatch(fmt.Sprint(err)); m != nil {
		return System{}, &ComposeError{File: file, Problems: []string{fmt.Sprintf("%s is not a key of the Compose specification: check its spelling and place", m[1])}}
	}
	if err != nil {
		return System{}, fmt.Errorf("load compose file %s: %w", file, err)
	}
	var p problems
	checkModel(&p, model, cfg.ignore)
	sys := translate(&p, project, cfg)
	if len(p) > 0 {
		return System{}, &ComposeError{File: file, Problems: p}
	}
	if err := sys.Validate(); err != nil {
		return System{}, fmt.Errorf("compose file %s: %w", file, err)
	}
	return sys, nil
}

// schemaErrRE matches compose-go's error for a key the Compose schema
// does not know.
var schemaErrRE = regexp.MustCompile(`^validating .*: (\S+) false schema$`)

// composeFile resolves path to an absolute Compose file path.
func composeFile(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("compose file %q: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("compose file: %w", err)
	}
	if !st.IsDir() {
		return abs, nil
	}
	for _, name := range cli.DefaultFileNames {
		f := filepath.Join(abs, name)
		if _, err := os.Stat(f); err == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("compose file: no %s in %s: name the file", strings.Join(cli.DefaultFileNames, ", "), abs)
}

// checkYAML reports a file that is not well-formed YAML with its name,
// line and column, before compose-go (whose error names no file).
func checkYAML(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("compose file: %w", err)
	}
	var n yaml.Node
	err = yaml.Unmarshal(data, &n)
	if err == nil {
		return nil
	}
	var le *yaml.LoadError
	if !errors.As(err, &le) || le.Mark.Line == 0 {
		return &ComposeError{File: file, Problems: []string{"malformed YAML: " + err.Error()}}
	}
	msg := fmt.Sprintf("line %d, column %d: malformed YAML: %s", le.Mark.Line, le.Mark.Column, le.Message)
	if le.ContextMsg != "" && le.ContextMark.Line > 0 {
		msg += fmt.Sprintf(" (%s that starts at line %d)", strings.TrimPrefix(le.ContextMsg, "while "), le.ContextMark.Line)
	}
	return &ComposeError{File: file, Problems: []string{msg}}
}

// loadCompose loads the file twice: as a typed project, which is
// translated, and as compose-go's raw model (the keys as written, after
// interpolation and normalization), whose keys are checked.
func loadCompose(file string, cfg composeConfig) (map[string]any, *types.Project, error) {
	ctx := context.Background()
	env := make([]string, 0, len(cfg.env))
	for _, k := range sortedKeys(cfg.env) {
		env = append(env, k+"="+cfg.env[k])
	}
	files := make([]string, len(cfg.envFiles))
	for i, f := range cfg.envFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(filepath.Dir(file), f)
		}
		files[i] = f
	}
	o, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(env), cli.WithOsEnv, cli.WithEnvFiles(files...), cli.WithDotEnv)
	if err != nil {
		return nil, nil, err
	}
	project, err := o.LoadProject(ctx)
	if err != nil {
		return nil, nil, err
	}
	// ProjectOptions.LoadModel would interpolate without the environment.
	model, err := loader.LoadModelWithContext(ctx, types.ConfigDetails{
		WorkingDir:  filepath.Dir(file),
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: o.Environment,
	}, func(lo *loader.Options) { lo.SetProjectName(project.Name, true) })
	if err != nil {
		return nil, nil, err
	}
	return model, project, nil
}

// systemName turns a Compose project name into a valid System.Name.
func systemName(project string) string {
	name := invalidNameChars.ReplaceAllString(project, "-")
	name = strings.TrimLeft(name, "_.-")
	if name == "" {
		return "compose"
	}
	return name
}

var invalidNameChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// sortedServices returns the project's services sorted by name.
func sortedServices(p *types.Project) []types.ServiceConfig {
	out := make([]types.ServiceConfig, 0, len(p.Services))
	for _, s := range p.Services {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
