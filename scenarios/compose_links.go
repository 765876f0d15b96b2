package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// The link rule of FromCompose (documented there): "T:PORT" in a service's
// environment, command or entrypoint, T another service and PORT one of its
// TCP ports, becomes a link through toxiproxy and the text ${link:NAME}.

// addrRE finds "host:port": a host not preceded by a hostname character
// (group 1), then ':' and the port's digits (group 2); being greedy, the
// digits are not followed by a digit.
var addrRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.-])([A-Za-z0-9][A-Za-z0-9_.-]*):([0-9]+)`)

// addrMatch is one "T:PORT" found in a value: v[start:end] == host+":"+port.
type addrMatch struct {
	start, end int
	host, port string // port normalized ("5432/tcp")
}

// findAddrs returns the "host:port" texts of v.
func findAddrs(v string) []addrMatch {
	var out []addrMatch
	for _, m := range addrRE.FindAllStringSubmatchIndex(v, -1) {
		port, err := normalizePort(v[m[4]:m[5]])
		if err != nil {
			continue
		}
		out = append(out, addrMatch{start: m[2], end: m[5], host: v[m[2]:m[3]], port: port})
	}
	return out
}

// linkKey is one link from a service: to T on port.
type linkKey struct{ to, port string }

// linker holds what the links are made from.
type linker struct {
	tcp      map[string][]string  // service → its TCP ports (ports and expose)
	explicit map[string][]linkKey // service → links declared with ComposeLink
	found    map[string][]linkKey // service → links, in order of discovery
	auto     bool
}

// composeLinks makes the system's links and rewrites the addresses they
// carry in cs (the translated services).
func composeLinks(p *problems, cs []ContainerSpec, project *types.Project, cfg composeConfig) []LinkSpec {
	l := linker{tcp: map[string][]string{}, explicit: map[string][]linkKey{}, found: map[string][]linkKey{}, auto: !cfg.noAuto}
	for _, c := range cs {
		for _, port := range c.Ports {
			if strings.HasSuffix(port, "/tcp") {
				l.tcp[c.Name] = append(l.tcp[c.Name], port)
			}
		}
	}
	hostLinks := l.checkExplicit(p, cfg.links)
	var links []LinkSpec
	for i := range cs {
		links = append(links, l.serviceLinks(&cs[i])...)
	}
	if !cfg.noHost {
		for _, svc := range sortedServices(project) {
			for _, port := range publishedPorts(svc) {
				hostLinks = appendHostLink(hostLinks, svc.Name, port)
			}
		}
	}
	return append(links, hostLinks...)
}

// checkExplicit checks the ComposeLink declarations, records the links
// between services and returns the links from Host.
func (l *linker) checkExplicit(p *problems, declared []LinkSpec) []LinkSpec {
	var host []LinkSpec
	for _, d := range declared {
		label := fmt.Sprintf("ComposeLink(%q, %q, %q)", d.From, d.To, d.Port)
		ports := l.tcp[d.To]
		switch {
		case d.From != Host && !l.isService(d.From):
			p.add("%s: %q is not a service (services: %s); from is a service or scenarios.Host", label, d.From, l.services())
		case !l.isService(d.To):
			p.add("%s: %q is not a service (services: %s)", label, d.To, l.services())
		case d.From == d.To:
			p.add("%s: a service cannot link to itself", label)
		case !slices.Contains(ports, d.Port):
			p.add("%s: %s is not a TCP port of service %q (ports and expose: %v): add it to its expose", label, d.Port, d.To, ports)
		case d.From == Host:
			host = appendHostLink(host, d.To, d.Port)
		default:
			k := linkKey{d.To, d.Port}
			if !slices.Contains(l.explicit[d.From], k) {
				l.explicit[d.From] = append(l.explicit[d.From], k)
			}
		}
	}
	return host
}

func (l *linker) isService(name string) bool {
	_, ok := l.tcp[name]
	return ok
}

func (l *linker) services() string { return strings.Join(sortedKeys(l.tcp), ", ") }

// links reports whether "to:port" in from's values is a link.
func (l *linker) links(from string, k linkKey) bool {
	if slices.Contains(l.explicit[from], k) {
		return true
	}
	return l.auto && k.to != from && l.isService(k.to) && slices.Contains(l.tcp[k.to], k.port)
}

// serviceLinks finds c's links, rewrites their addresses in c's
// environment, command and entrypoint, and returns them.
func (l *linker) serviceLinks(c *ContainerSpec) []LinkSpec {
	values, setEnv := serviceValues(c)
	var keys []linkKey
	for _, v := range values {
		for _, m := range findAddrs(*v) {
			k := linkKey{m.host, m.port}
			if l.links(c.Name, k) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	for _, k := range l.explicit[c.Name] {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	names := map[linkKey]string{}
	links := make([]LinkSpec, 0, len(keys))
	for _, k := range keys {
		name := c.Name + "->" + k.to
		if countTo(keys, k.to) > 1 {
			name += ":" + portNumber(k.port)
		}
		names[k] = name
		links = append(links, LinkSpec{Name: name, From: c.Name, To: k.to, Port: k.port})
	}
	for _, v := range values {
		*v = rewriteAddrs(*v, names)
	}
	setEnv()
	return links
}

// serviceValues points at every value of c the rule reads: environment
// values (copies, in key order, written back by setEnv), command words,
// entrypoint words.
func serviceValues(c *ContainerSpec) (values []*string, setEnv func()) {
	keys := sortedKeys(c.Env)
	env := make([]string, len(keys))
	for i, k := range keys {
		env[i] = c.Env[k]
		values = append(values, &env[i])
	}
	for i := range c.Cmd {
		values = append(values, &c.Cmd[i])
	}
	for i := range c.Entrypoint {
		values = append(values, &c.Entrypoint[i])
	}
	return values, func() {
		for i, k := range keys {
			c.Env[k] = env[i]
		}
	}
}

// rewriteAddrs replaces each "T:PORT" of v that names a link with
// ${link:NAME}.
func rewriteAddrs(v string, names map[linkKey]string) string {
	ms := findAddrs(v)
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		if name, ok := names[linkKey{m.host, m.port}]; ok {
			v = v[:m.start] + "${link:" + name + "}" + v[m.end:]
		}
	}
	return v
}

func countTo(keys []linkKey, to string) int {
	n := 0
	for _, k := range keys {
		if k.to == to {
			n++
		}
	}
	return n
}

// appendHostLink adds the link from Host to service on port, named
// "service:PORT", unless it is there.
func appendHostLink(links []LinkSpec, service, port string) []LinkSpec {
	name := service + ":" + portNumber(port)
	for _, l := range links {
		if l.Name == name {
			return links
		}
	}
	return append(links, LinkSpec{Name: name, From: Host, To: service, Port: port})
}
