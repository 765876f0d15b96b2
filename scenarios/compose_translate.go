package scenarios

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// translate turns the loaded project into a System, recording in p what
// it cannot translate.
func translate(p *problems, project *types.Project, cfg composeConfig) System {
	sys := System{Name: systemName(project.Name)}
	for _, svc := range sortedServices(project) {
		sys.Containers = append(sys.Containers, translateService(p, svc, cfg))
	}
	for name := range cfg.ready {
		if _, ok := project.Services[name]; !ok {
			p.add("ComposeReady(%q): no such service (services: %s)", name, strings.Join(project.ServiceNames(), ", "))
		}
	}
	sys.Links = composeLinks(p, sys.Containers, project, cfg)
	return sys
}

// translateService turns one service into a ContainerSpec.
func translateService(p *problems, svc types.ServiceConfig, cfg composeConfig) ContainerSpec {
	label := fmt.Sprintf("service %q", svc.Name)
	c := ContainerSpec{
		Name:       svc.Name,
		Image:      svc.Image,
		Cmd:        command(p, label, "command", svc.Command),
		Entrypoint: command(p, label, "entrypoint", svc.Entrypoint),
		Env:        environment(svc.Environment),
		User:       svc.User,
		ExtraHosts: extraHosts(svc.ExtraHosts),
		Build:      build(p, label, svc),
	}
	c.Ports = ports(p, label, svc)
	c.Tmpfs = tmpfs(svc.Tmpfs)
	c.Mounts = mounts(p, label, svc, &c)
	c.Healthcheck = healthcheck(svc.HealthCheck)
	if c.Healthcheck != nil && !slices.Equal(c.Healthcheck.Test, []string{"NONE"}) {
		c.Ready = ReadyHealthy()
	}
	if r, ok := cfg.ready[svc.Name]; ok {
		c.Ready = r
	}
	c.DependsOn = dependsOn(p, label, svc, cfg.ignore)
	c.Memory, c.NanoCPUs = limits(svc)
	checkServiceValues(p, label, svc, cfg.ignore)
	return c
}

// checkServiceValues refuses values of honoured keys that firedrill cannot
// honour.
func checkServiceValues(p *problems, label string, svc types.ServiceConfig, ignore map[string]bool) {
	if !ignore["networks"] {
		for _, n := range sortedKeys(svc.Networks) {
			switch cfg := svc.Networks[n]; {
			case n != "default":
				p.add("%s: network %q: %s", label, n, composeAdvice["networks"])
			case cfg != nil && !reflect.DeepEqual(*cfg, types.ServiceNetworkConfig{}):
				p.add("%s: networks.default: settings (aliases, addresses, ...) are not supported: the service name is its only alias; remove them", label)
			}
		}
	}
	if svc.Scale != nil && *svc.Scale > 1 && !ignore["scale"] {
		p.add("%s: scale %d: firedrill runs one container per service; set it to 1 or declare the replicas as services of their own", label, *svc.Scale)
	}
	if d := svc.Deploy; d != nil && d.Replicas != nil && *d.Replicas > 1 && !ignore["deploy.replicas"] {
		p.add("%s: deploy.replicas %d: firedrill runs one container per service; set it to 1 or declare the replicas as services of their own", label, *d.Replicas)
	}
}

// command translates a command or entrypoint. An explicitly empty one
// (which clears the image's under Compose) cannot be expressed.
func command(p *problems, label, key string, cmd types.ShellCommand) []string {
	if cmd != nil && len(cmd) == 0 {
		p.add("%s: an empty %s (clearing the image's) is not supported: give the %s to run, or remove the key", label, key, key)
	}
	if len(cmd) == 0 {
		return nil
	}
	return []string(cmd)
}

// environment drops unset variables (no value in the file, none in the
// interpolation environment), as Compose does.
func environment(env types.MappingWithEquals) map[string]string {
	if len(env) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range env {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func extraHosts(h types.HostsList) []string {
	if len(h) == 0 {
		return nil
	}
	return sortedStrings(h.AsList(":"))
}

// build translates build: a local context directory, Dockerfile inside it.
func build(p *problems, label string, svc types.ServiceConfig) *Build {
	b := svc.Build
	if b == nil {
		return nil
	}
	out := &Build{Context: b.Context, Dockerfile: b.Dockerfile, Target: b.Target}
	if st, err := os.Stat(b.Context); err != nil || !st.IsDir() {
		p.add("%s: build.context %q is not a directory: firedrill builds from a local directory (a Git or remote context is not fetched)", label, b.Context)
	}
	if b.DockerfileInline != "" {
		p.add("%s: build.dockerfile_inline is not supported: write the Dockerfile into the context", label)
	}
	if filepath.IsAbs(out.Dockerfile) {
		rel, err := filepath.Rel(b.Context, out.Dockerfile)
		if err != nil || strings.HasPrefix(rel, "..") {
			p.add("%s: build.dockerfile %q is outside the context %q: move it into the context", label, b.Dockerfile, b.Context)
		}
		out.Dockerfile = rel
	}
	for _, k := range sortedKeys(b.Args) {
		if v := b.Args[k]; v != nil {
			if out.Args == nil {
				out.Args = map[string]string{}
			}
			out.Args[k] = *v
		}
	}
	return out
}

// ports are the service's ports (its published ports, then expose), each
// once, normalized.
func ports(p *problems, label string, svc types.ServiceConfig) []string {
	var out []string
	addPort := func(port string) {
		if !slices.Contains(out, port) {
			out = append(out, port)
		}
	}
	for i, sp := range svc.Ports {
		if sp.Mode != "" && sp.Mode != "ingress" {
			p.add("%s: ports[%d].mode %q is not supported: remove it", label, i, sp.Mode)
		}
		proto := sp.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := normalizePort(fmt.Sprintf("%d/%s", sp.Target, proto))
		if err != nil {
			p.add("%s: ports[%d]: %v", label, i, err)
			continue
		}
		addPort(port)
	}
	for _, e := range svc.Expose {
		port, err := normalizePort(e)
		if err != nil {
			p.add("%s: expose %q: list each port on its own, e.g. \"5432\" or \"5432/tcp\" (%v)", label, e, err)
			continue
		}
		addPort(port)
	}
	return out
}

// publishedPorts are the normalized TCP ports of the service's ports: key.
func publishedPorts(svc types.ServiceConfig) []string {
	var out []string
	for _, sp := range svc.Ports {
		if port, err := normalizePort(fmt.Sprintf("%d/%s", sp.Target, sp.Protocol)); err == nil && strings.HasSuffix(port, "/tcp") && !slices.Contains(out, port) {
			out = append(out, port)
		}
	}
	return out
}

// tmpfs translates tmpfs: "/path" or "/path:options".
func tmpfs(list types.StringList) map[string]string {
	if len(list) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, t := range list {
		path, opts, _ := strings.Cut(t, ":")
		out[path] = opts
	}
	return out
}

// mounts translates volumes: bind mounts, named volumes, and tmpfs mounts
// (into c.Tmpfs).
func mounts(p *problems, label string, svc types.ServiceConfig, c *ContainerSpec) []Mount {
	var out []Mount
	for i, v := range svc.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			if _, err := os.Stat(v.Source); err != nil {
				p.add("%s: volumes[%d]: bind mount source %s does not exist: create it (relative paths are taken from the Compose file's directory)", label, i, v.Source)
			}
			out = append(out, Mount{Type: MountBind, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
		case types.VolumeTypeVolume:
			if v.Source == "" {
				p.add("%s: volumes[%d]: an anonymous volume at %s is not supported: name it (e.g. \"data:%s\") and declare it under the top-level volumes", label, i, v.Target, v.Target)
				continue
			}
			out = append(out, Mount{Type: MountVolume, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
		case types.VolumeTypeTmpfs:
			if c.Tmpfs == nil {
				c.Tmpfs = map[string]string{}
			}
			c.Tmpfs[v.Target] = ""
			if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
				c.Tmpfs[v.Target] = fmt.Sprintf("size=%d", v.Tmpfs.Size)
			}
		default:
			p.add("%s: volumes[%d]: type %q is not supported: use a bind mount, a named volume or tmpfs", label, i, v.Type)
		}
	}
	return out
}

// healthcheck translates healthcheck; disable: true becomes ["NONE"].
func healthcheck(h *types.HealthCheckConfig) *Healthcheck {
	if h == nil {
		return nil
	}
	if h.Disable || len(h.Test) == 0 {
		return &Healthcheck{Test: []string{"NONE"}}
	}
	out := &Healthcheck{Test: []string(h.Test)}
	dur := func(d *types.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return time.Duration(*d)
	}
	out.Interval, out.Timeout, out.StartPeriod = dur(h.Interval), dur(h.Timeout), dur(h.StartPeriod)
	if h.Retries != nil {
		out.Retries = int(min(*h.Retries, math.MaxInt32))
	}
	return out
}

// dependsOn translates depends_on: the conditions service_started and
// service_healthy both wait until the dependency is ready.
func dependsOn(p *problems, label string, svc types.ServiceConfig, ignore map[string]bool) []string {
	var out []string
	for _, name := range sortedKeys(svc.DependsOn) {
		if svc.DependsOn[name].Restart && !ignore["depends_on.restart"] {
			p.add("%s: depends_on %s: restart: true is not supported: firedrill does not restart dependents; remove it (or pass scenarios.ComposeIgnore(\"depends_on.restart\") to run without it)", label, name)
		}
		switch cond := svc.DependsOn[name].Condition; cond {
		case "", types.ServiceConditionStarted, types.ServiceConditionHealthy:
		default:
			if !ignore["depends_on.condition"] {
				p.add("%s: depends_on %s: condition %q is not supported: use service_started or service_healthy (both wait until %s is ready)", label, name, cond, name)
			}
		}
		out = append(out, name)
	}
	return out
}

// limits returns the memory (bytes) and CPU (1e-9 CPUs) limits, from
// deploy.resources.limits when set, else mem_limit and cpus.
func limits(svc types.ServiceConfig) (memory, nanoCPUs int64) {
	memory, cpus := int64(svc.MemLimit), svc.CPUS
	if d := svc.Deploy; d != nil && d.Resources.Limits != nil {
		if m := int64(d.Resources.Limits.MemoryBytes); m > 0 {
			memory = m
		}
		if n := float32(d.Resources.Limits.NanoCPUs); n > 0 {
			cpus = n
		}
	}
	return memory, cpusToNano(cpus)
}

// cpusToNano converts Compose's float32 CPUs as written ("0.1", not
// 0.100000001490116).
func cpusToNano(cpus float32) int64 {
	f, err := strconv.ParseFloat(strconv.FormatFloat(float64(cpus), 'g', -1, 32), 64)
	if err != nil {
		f = float64(cpus)
	}
	return int64(math.Round(f * 1e9))
}
