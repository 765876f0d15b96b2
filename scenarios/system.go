package scenarios

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Host is the LinkSpec.From value for links whose client is the test process
// itself: the link's proxy port is published on 127.0.0.1 and reported in
// [Link.HostAddr].
const Host = "host"

// ToxiproxyAlias is the network alias of the toxiproxy container on the
// system network; ${link:NAME} expands to ToxiproxyAlias+":<port>".
const ToxiproxyAlias = "toxiproxy"

// LinkPortBase is the port on which the first link's proxy listens inside the
// toxiproxy container; link i (in declaration order) listens on LinkPortBase+i.
const LinkPortBase = 20000

// ToxiproxyAPIPort is the toxiproxy container's HTTP API port.
const ToxiproxyAPIPort = "8474/tcp"

// System declares the containers under test and the links between them.
type System struct {
	// Name names the system in labels and container names; "system" if empty.
	Name string
	// Containers are started on a private network, each reachable by its Name.
	Containers []ContainerSpec
	// Links are routed through toxiproxy so that faults can act on them.
	Links []LinkSpec
}

// ContainerSpec declares one container of a [System].
type ContainerSpec struct {
	// Name is unique in the system and is the container's network alias.
	// Letters, digits, '_', '.', '-'; "host" and "toxiproxy" are reserved.
	Name string
	// Image is the image reference, e.g. Image(ImageStub). An image that is
	// not present locally is pulled with the user's Docker credentials
	// (unless [Config.Pull] is off); the project's own images
	// (firedrill/NAME:local) are built by `make images`, never pulled. With
	// Build, Image's repository names the built image.
	Image string
	// Cmd replaces the image's CMD; ${link:NAME} is expanded as in Env.
	Cmd []string
	// Env is the container's environment. Values may contain ${link:NAME},
	// expanded to the in-network address of that link's proxy
	// ("toxiproxy:20001").
	Env map[string]string
	// Ports are exposed and published on 127.0.0.1 on ports chosen by Docker,
	// e.g. "8080/tcp" ("8080" means tcp). A link's target port must be here.
	Ports []string
	// Ready tells when the container is ready; nil means running is enough.
	Ready Readiness
	// ReadyTimeout bounds the readiness wait; zero means the Start option
	// (default 30 s).
	ReadyTimeout time.Duration
	// Tmpfs maps a mount path to tmpfs options, e.g. "/data": "size=8m".
	Tmpfs map[string]string
	// Memory is an optional initial memory limit in bytes (at least 6 MiB).
	Memory int64
	// NanoCPUs is an optional initial CPU quota in 1e-9 CPUs (1e9 = one CPU).
	NanoCPUs int64
	// Files are written into the container before it starts: an absolute
	// path → its content (mode 0644), e.g. a configuration file. Parent
	// directories are created.
	Files map[string][]byte

	// Entrypoint replaces the image's ENTRYPOINT; ${link:NAME} is expanded
	// as in Env. Empty keeps the image's.
	Entrypoint []string
	// User runs the container's process as "user", "uid" or "uid:gid";
	// empty keeps the image's USER.
	User string
	// Mounts are bind mounts of host paths and named volumes. A named
	// volume is created by firedrill for this system (labelled, removed with
	// it) and shared by every container of the system that names it.
	Mounts []Mount
	// Healthcheck is a Docker healthcheck run inside the container; with
	// [ReadyHealthy] as Ready, the container is ready when Docker reports
	// it healthy.
	Healthcheck *Healthcheck
	// ExtraHosts are "name:address" entries added to the container's
	// /etc/hosts.
	ExtraHosts []string
	// Build, when set, builds the image from a context directory through
	// the Docker API, cached by the content of the context: the image is
	// tagged <repo>:<hash of the context>, where repo is Image's repository
	// (or firedrill-build/<system>-<container> when Image is empty), and
	// nothing is built when that tag exists. Image itself, when set, is
	// tagged too. Nothing is pulled for a built image.
	Build *Build
	// DependsOn names containers of the system that must be ready before
	// this one starts (as a link's From waits for its To); Compose's
	// depends_on.
	DependsOn []string
}

// MountType is the kind of a [Mount].
type MountType string

// The kinds of mount.
const (
	// MountBind mounts a host path (Source, absolute) into the container.
	MountBind MountType = "bind"
	// MountVolume mounts the system's named volume Source, created on first
	// use, labelled, and removed when the system is closed.
	MountVolume MountType = "volume"
)

// Mount is one bind mount or named volume of a [ContainerSpec].
type Mount struct {
	Type MountType
	// Source is the host path (MountBind) or the volume's name within the
	// system (MountVolume).
	Source string
	// Target is the absolute path inside the container.
	Target string
	// ReadOnly mounts it read-only.
	ReadOnly bool
}

// Healthcheck is a Docker healthcheck, as in a Dockerfile's HEALTHCHECK or
// a Compose service's healthcheck.
type Healthcheck struct {
	// Test is the command, in Docker's form: ["CMD", "prog", "arg"...] or
	// ["CMD-SHELL", "command line"]; ["NONE"] disables the image's.
	Test []string
	// Interval, Timeout and StartPeriod default to Docker's (30s, 30s, 0);
	// Retries to 3.
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// Build is how a container's image is built from a directory.
type Build struct {
	// Context is the build context directory.
	Context string
	// Dockerfile is the Dockerfile's path relative to Context; "Dockerfile"
	// if empty.
	Dockerfile string
	// Args are the build arguments (ARG).
	Args map[string]string
	// Target is the stage to build in a multi-stage Dockerfile.
	Target string
}

// LinkSpec declares a network path From→To routed through a toxiproxy proxy.
type LinkSpec struct {
	// Name identifies the link in ${link:NAME} and [Running.Link]; it defaults
	// to From+"->"+To.
	Name string
	// From is the client: a container name or [Host].
	From string
	// To is the server container.
	To string
	// Port is the server port, one of To's Ports, e.g. "5432/tcp".
	Port string
}

// ErrInvalidSystem is matched (errors.Is) by every error from
// [System.Validate].
var ErrInvalidSystem = errors.New("invalid system")

// ValidationError lists every problem found in a [System] declaration.
type ValidationError struct {
	System   string
	Problems []string
}

// Error lists the problems, one per line when there are several.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid system %q: ", e.System)
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0])
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidSystem) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidSystem }

var (
	nameRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	linkRefRE = regexp.MustCompile(`\$\{link:([^}]*)\}`)
)

// minMemory is the smallest memory limit Docker accepts.
const minMemory = 6 * 1024 * 1024

func (s System) name() string {
	if s.Name == "" {
		return "system"
	}
	return s.Name
}

// linkName is the link's name, defaulting to From->To.
func (l LinkSpec) linkName() string {
	if l.Name != "" {
		return l.Name
	}
	return l.From + "->" + l.To
}

// Validate checks the declaration without touching Docker: container names
// (present, well-formed, unique, not reserved), images, ports, link
// endpoints and ports, ${link:NAME} references, limits and dependency
// cycles. The error is a *[ValidationError] listing every problem with its
// fix.
func (s System) Validate() error {
	var p problems
	if s.Name != "" && !nameRE.MatchString(s.Name) {
		p.add("system name %q: use letters, digits, '_', '.' or '-' only", s.Name)
	}
	if len(s.Containers) == 0 {
		p.add("no containers: declare at least one ContainerSpec")
	}
	specs := map[string]ContainerSpec{}
	for i, c := range s.Containers {
		p.checkContainer(i, c, specs)
	}
	links := map[string]bool{}
	for i, l := range s.Links {
		p.checkLink(i, l, specs, links)
	}
	for _, c := range s.Containers {
		p.checkLinkRefs(c, links, s.Links)
	}
	for _, c := range s.Containers {
		p.checkDependsOn(c, specs)
	}
	if cycle := s.dependencyCycle(); cycle != nil {
		p.add("links and DependsOn form a dependency cycle %s: a container waits for those it links to or depends on to be ready, so break the cycle", strings.Join(cycle, " -> "))
	}
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{System: s.name(), Problems: p}
}

// problems collects what [System.Validate] finds, in the order found.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// checkContainer checks container #i and records it in specs by name when
// its name is valid and new.
func (p *problems) checkContainer(i int, c ContainerSpec, specs map[string]ContainerSpec) {
	label := p.checkContainerName(i, c, specs)
	if strings.TrimSpace(c.Image) == "" && c.Build == nil {
		p.add("%s has no image: set ContainerSpec.Image (e.g. scenarios.Image(scenarios.ImageStub), built with `make images`) or ContainerSpec.Build", label)
	}
	for _, port := range c.Ports {
		if _, err := normalizePort(port); err != nil {
			p.add("%s: %v", label, err)
		}
	}
	p.checkLimits(label, c)
	for path := range c.Files {
		if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
			p.add("%s: file %q must be an absolute path to a file, e.g. /etc/app/config.yml", label, path)
		}
	}
	p.checkSpecExtras(label, c)
	if rp, ok := c.Ready.(interface{ readinessPorts() []string }); ok {
		for _, port := range rp.readinessPorts() {
			if !hasPort(c.Ports, port) {
				p.add("%s: readiness checks port %s, which is not in Ports %v: add it to Ports", label, port, c.Ports)
			}
		}
	}
}

// checkSpecExtras checks the container's mounts, healthcheck, extra hosts
// and build.
func (p *problems) checkSpecExtras(label string, c ContainerSpec) {
	targets := map[string]bool{}
	for i, m := range c.Mounts {
		p.checkMount(fmt.Sprintf("%s: mount #%d", label, i), m)
		if targets[m.Target] {
			p.add("%s: two mounts share the target %q: give each its own path", label, m.Target)
		}
		targets[m.Target] = true
	}
	p.checkHealthcheck(label, c)
	for _, h := range c.ExtraHosts {
		name, addr, ok := strings.Cut(h, ":")
		if _, err := netip.ParseAddr(addr); !ok || name == "" || strings.ContainsAny(name, " \t") || (err != nil && addr != "host-gateway") {
			p.add("%s: extra host %q: want \"name:address\" with an IP address, e.g. \"db.internal:10.0.0.5\"", label, h)
		}
	}
	if b := c.Build; b != nil {
		if strings.TrimSpace(b.Context) == "" {
			p.add("%s: Build has no Context: set it to the directory that holds the Dockerfile", label)
		}
		if filepath.IsAbs(b.Dockerfile) || strings.HasPrefix(filepath.Clean(b.Dockerfile), "..") {
			p.add("%s: Build.Dockerfile %q must be a path inside Context, relative to it (e.g. \"Dockerfile\" or \"build/Dockerfile\")", label, b.Dockerfile)
		}
	}
}

// checkMount checks one mount; label names it.
func (p *problems) checkMount(label string, m Mount) {
	switch m.Type {
	case MountBind:
		if !filepath.IsAbs(m.Source) {
			p.add("%s: bind source %q must be an absolute host path (use filepath.Abs)", label, m.Source)
		}
	case MountVolume:
		if !nameRE.MatchString(m.Source) {
			p.add("%s: volume name %q: use letters, digits, '_', '.' or '-' (the volume is the system's, created by firedrill)", label, m.Source)
		}
	default:
		p.add("%s: unknown mount type %q: use scenarios.MountBind or scenarios.MountVolume", label, m.Type)
	}
	if !strings.HasPrefix(m.Target, "/") {
		p.add("%s: target %q must be an absolute path inside the container, e.g. /data", label, m.Target)
	}
}

// checkHealthcheck checks the container's healthcheck and that
// [ReadyHealthy] has one to wait for (the image's is checked at start).
func (p *problems) checkHealthcheck(label string, c ContainerSpec) {
	h := c.Healthcheck
	wantsHealth := needsHealthcheck(c.Ready)
	if h == nil {
		return
	}
	switch {
	case len(h.Test) == 1 && h.Test[0] == "NONE":
		if wantsHealth {
			p.add("%s: Ready is ReadyHealthy but the healthcheck is disabled ([\"NONE\"]): declare a Healthcheck or choose another readiness", label)
		}
	case len(h.Test) >= 2 && h.Test[0] == "CMD", len(h.Test) == 2 && h.Test[0] == "CMD-SHELL":
	default:
		p.add("%s: healthcheck test %q: want [\"CMD\", prog, args...], [\"CMD-SHELL\", \"command line\"] or [\"NONE\"]", label, h.Test)
	}
	for _, d := range []struct {
		what string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}} {
		if d.v < 0 || (d.v > 0 && d.v < time.Millisecond) {
			p.add("%s: healthcheck %s %v: want 0 (Docker's default) or at least 1ms", label, d.what, d.v)
		}
	}
	if h.Retries < 0 {
		p.add("%s: healthcheck Retries %d is negative", label, h.Retries)
	}
}

// checkDependsOn checks the container's DependsOn names.
func (p *problems) checkDependsOn(c ContainerSpec, specs map[string]ContainerSpec) {
	for _, d := range c.DependsOn {
		switch _, ok := specs[d]; {
		case d == c.Name:
			p.add("container %q depends on itself: remove it from DependsOn", c.Name)
		case !ok:
			p.add("container %q depends on %q, which is not a container of this system (known: %s)", c.Name, d, known(specs))
		}
	}
}

// checkContainerName checks the name of container #i, records the
// container in specs when the name is valid and new, and returns the label
// that names the container in problems.
func (p *problems) checkContainerName(i int, c ContainerSpec, specs map[string]ContainerSpec) (label string) {
	label = fmt.Sprintf("container %q", c.Name)
	switch {
	case c.Name == "":
		label = fmt.Sprintf("container #%d", i)
		p.add("%s has no name: set ContainerSpec.Name (it is also the network alias)", label)
	case !nameRE.MatchString(c.Name):
		p.add("%s: name must start with a letter or digit and hold only letters, digits, '_', '.' or '-'", label)
	case c.Name == Host || c.Name == ToxiproxyAlias:
		p.add("%s: the name %q is reserved; choose another", label, c.Name)
	default:
		if _, dup := specs[c.Name]; dup {
			p.add("duplicate container name %q: names must be unique in a system", c.Name)
		} else {
			specs[c.Name] = c
		}
	}
	return label
}

// checkLimits checks the container's memory, CPU and readiness limits.
func (p *problems) checkLimits(label string, c ContainerSpec) {
	if c.Memory < 0 || (c.Memory > 0 && c.Memory < minMemory) {
		p.add("%s: memory limit %d bytes is below Docker's minimum of 6 MiB (%d); raise it or leave it 0", label, c.Memory, minMemory)
	}
	if c.NanoCPUs < 0 {
		p.add("%s: NanoCPUs %d is negative; use 0 for no limit", label, c.NanoCPUs)
	}
	if c.ReadyTimeout < 0 {
		p.add("%s: ReadyTimeout %v is negative", label, c.ReadyTimeout)
	}
}

// checkLink checks link #i against the containers (specs) and records its
// name in links.
func (p *problems) checkLink(i int, l LinkSpec, specs map[string]ContainerSpec, links map[string]bool) {
	name := l.linkName()
	label := fmt.Sprintf("link %q", name)
	if l.Name == "" && (l.From == "" || l.To == "") {
		label = fmt.Sprintf("link #%d", i)
	}
	if links[name] {
		p.add("duplicate link name %q: set LinkSpec.Name to tell the links apart", name)
	}
	links[name] = true
	if strings.ContainsAny(name, "{}$ \t\n") {
		p.add("%s: a link name cannot contain '{', '}', '$' or spaces", label)
	}
	p.checkLinkFrom(label, l, specs)
	target, targetOK := p.checkLinkTo(label, l, specs)
	p.checkLinkPort(label, l, target, targetOK)
}

// checkLinkFrom checks the link's client end.
func (p *problems) checkLinkFrom(label string, l LinkSpec, specs map[string]ContainerSpec) {
	switch {
	case l.From == "":
		p.add("%s has no From: set it to a container name or scenarios.Host", label)
	case l.From == l.To:
		p.add("%s links container %q to itself", label, l.From)
	case l.From != Host:
		if _, ok := specs[l.From]; !ok {
			p.add("%s: From %q is not a container of this system (known: %s); use a declared name or scenarios.Host", label, l.From, known(specs))
		}
	}
}

// checkLinkTo checks the link's server end and returns its container, if
// it is one of specs.
func (p *problems) checkLinkTo(label string, l LinkSpec, specs map[string]ContainerSpec) (target ContainerSpec, ok bool) {
	switch l.To {
	case "":
		p.add("%s has no To: set it to the server container's name", label)
	case Host:
		p.add("%s: To cannot be scenarios.Host; links go to containers", label)
	default:
		target, ok = specs[l.To]
		if !ok {
			p.add("%s: To %q is not a container of this system (known: %s)", label, l.To, known(specs))
		}
	}
	return target, ok
}

// checkLinkPort checks the link's port: well-formed, TCP, and exposed by
// its target when the target is known (targetOK).
func (p *problems) checkLinkPort(label string, l LinkSpec, target ContainerSpec, targetOK bool) {
	port, err := normalizePort(l.Port)
	switch {
	case l.Port == "":
		p.add("%s has no Port: set it to one of %q's Ports, e.g. \"8080/tcp\"", label, l.To)
	case err != nil:
		p.add("%s: %v", label, err)
	case targetOK && !hasPort(target.Ports, port):
		p.add("%s: port %s is not exposed by container %q (Ports %v): add %q to its Ports", label, port, l.To, target.Ports, port)
	}
	if strings.HasSuffix(port, "/udp") || strings.HasSuffix(port, "/sctp") {
		p.add("%s: toxiproxy proxies TCP only, not %s", label, port)
	}
}

// checkLinkRefs checks the ${link:NAME} references of a container's Env
// (in key order), Cmd and Entrypoint against the declared links.
func (p *problems) checkLinkRefs(c ContainerSpec, links map[string]bool, declared []LinkSpec) {
	refs := []string{}
	for _, k := range sortedKeys(c.Env) {
		refs = append(refs, c.Env[k])
	}
	refs = append(refs, c.Cmd...)
	refs = append(refs, c.Entrypoint...)
	for _, v := range refs {
		if strings.Count(v, "${link:") != len(linkRefRE.FindAllString(v, -1)) {
			p.add("container %q: malformed link reference in %q: write ${link:NAME}", c.Name, v)
		}
		for _, m := range linkRefRE.FindAllStringSubmatch(v, -1) {
			if !links[m[1]] {
				p.add("container %q refers to unknown link %q in %q: declare a LinkSpec named %q (links: %s)", c.Name, m[1], v, m[1], knownLinks(declared))
			}
		}
	}
}

// deps returns, per container, the containers it links to or depends on
// (DependsOn), and so waits for.
func (s System) deps() map[string][]string {
	d := map[string][]string{}
	add := func(from, to string) {
		if from == Host || from == "" || to == "" || from == to {
			return
		}
		if !slices.Contains(d[from], to) {
			d[from] = append(d[from], to)
		}
	}
	for _, l := range s.Links {
		add(l.From, l.To)
	}
	for _, c := range s.Containers {
		for _, to := range c.DependsOn {
			add(c.Name, to)
		}
	}
	return d
}

// dependencyCycle returns one cycle among container-to-container links and
// DependsOn, or nil.
func (s System) dependencyCycle() []string {
	deps := s.deps()
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range deps[n] {
			switch color[m] {
			case grey:
				i := slices.Index(stack, m)
				return append(slices.Clone(stack[i:]), m)
			case white:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return nil
	}
	for _, c := range s.Containers {
		if color[c.Name] == white {
			if cyc := visit(c.Name); cyc != nil {
				return cyc
			}
		}
	}
	return nil
}

// normalizePort turns "8080" into "8080/tcp" and checks the number and protocol.
func normalizePort(p string) (string, error) {
	num, proto, found := strings.Cut(p, "/")
	if !found {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return p, fmt.Errorf("port %q: want a number 1-65535 with an optional /tcp or /udp, e.g. \"8080/tcp\"", p)
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return p, fmt.Errorf("port %q: protocol must be tcp, udp or sctp", p)
	}
	return fmt.Sprintf("%d/%s", n, proto), nil
}

// hasPort reports whether ports holds port, comparing normalized forms.
func hasPort(ports []string, port string) bool {
	want, err := normalizePort(port)
	if err != nil {
		return false
	}
	for _, p := range ports {
		if q, err := normalizePort(p); err == nil && q == want {
			return true
		}
	}
	return false
}

func known(specs map[string]ContainerSpec) string {
	if len(specs) == 0 {
		return "none"
	}
	return strings.Join(sortedKeys(specs), ", ")
}

func knownLinks(ls []LinkSpec) string {
	if len(ls) == 0 {
		return "none declared"
	}
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.linkName()
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expandLinks replaces every ${link:NAME} in v with addrs[NAME].
func expandLinks(v string, addrs map[string]string) string {
	return linkRefRE.ReplaceAllStringFunc(v, func(m string) string {
		name := linkRefRE.FindStringSubmatch(m)[1]
		if a, ok := addrs[name]; ok {
			return a
		}
		return m
	})
}
