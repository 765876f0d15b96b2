package kube

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/scenarios"
)

// FromSystem translates a firedrill declaration (scenarios.System: its
// containers and links) into a System of Kubernetes objects, so that a
// system written for Docker drills on a cluster unchanged:
//
//   - each container a Deployment of one pod (strategy Recreate: one
//     instance at a time, as on Docker) named after it, labelled
//     app=NAME, with its image (imagePullPolicy IfNotPresent; Images lists
//     them for loading), Entrypoint as command, Cmd as args and Env; its
//     Ports a Service NAME (port = target port);
//   - ReadyHTTP a readinessProbe httpGet (period 1 s); any other readiness
//     a tcpSocket probe on the first port (the pod is Ready when it
//     accepts connections);
//   - each LinkSpec between containers a Link of the same name through the
//     toxiproxy pod (${link:NAME} in Env, Cmd and Entrypoint expands to
//     it, as on Docker); each container with ports also gets a host link
//     "host->NAME" to its first port, which the test reaches on 127.0.0.1;
//   - pods tolerate an unreachable or not-ready node for 5 s (Kubernetes'
//     default is 300 s), so node faults are recovered from in a drill's
//     time.
//
// What has no translation is refused, naming it: Tmpfs, Files, Mounts,
// Build, Healthcheck, ExtraHosts, User, Memory and NanoCPUs (declare such
// a system as manifests).
//
// Options place parts: PreferNode.
func FromSystem(s scenarios.System, opts ...TranslateOption) (System, error) {
	var to translation
	for _, o := range opts {
		o(&to)
	}
	out := System{Name: strings.ToLower(s.Name)}
	var errs []error
	names := map[string]bool{}
	for _, c := range s.Containers {
		names[c.Name] = true
	}
	for _, c := range s.Containers {
		manifests, host, err := translateContainer(c, to.prefer[c.Name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Manifests = append(out.Manifests, manifests...)
		if host != nil {
			out.Links = append(out.Links, *host)
		}
		if !slices.Contains(out.Images, c.Image) {
			out.Images = append(out.Images, c.Image)
		}
	}
	for _, l := range s.Links {
		name := l.Name
		if name == "" {
			name = l.From + "->" + l.To
		}
		if !names[l.To] {
			errs = append(errs, fmt.Errorf("link %s: no container %q", name, l.To))
			continue
		}
		ports, err := containerPorts([]string{l.Port})
		if err != nil {
			errs = append(errs, fmt.Errorf("link %s: %w", name, err))
			continue
		}
		if l.From == scenarios.Host {
			// A host link of its own name, beside the implicit "host->NAME".
			out.Links = slices.DeleteFunc(out.Links, func(x Link) bool { return x.Name == name })
		}
		out.Links = append(out.Links, Link{Name: name, Service: l.To, Port: ports[0], Host: l.From == scenarios.Host})
	}
	for name := range to.prefer {
		if !names[name] {
			errs = append(errs, fmt.Errorf("PreferNode(%q, ...): no such container", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return System{}, fmt.Errorf("kube: translate system %s: %w", s.Name, err)
	}
	return out, nil
}

// TranslateOption adjusts FromSystem's translation.
type TranslateOption func(*translation)

type translation struct {
	prefer map[string]string // container -> node
}

// PreferNode schedules container's pod on node when it can (a preferred
// node affinity, weight 100), elsewhere when it cannot: a drill can so
// say which parts share a node (what a node's loss takes together)
// without keeping a pod from moving when that node is gone.
func PreferNode(container, node string) TranslateOption {
	return func(t *translation) {
		if t.prefer == nil {
			t.prefer = map[string]string{}
		}
		t.prefer[container] = node
	}
}

// translateContainer is a container's Deployment and Service, and its
// host link (nil without ports).
func translateContainer(c scenarios.ContainerSpec, node string) ([]string, *Link, error) {
	if !nameRE.MatchString(c.Name) {
		return nil, nil, fmt.Errorf("container %q: not a Kubernetes name (lower-case letters, digits, '-')", c.Name)
	}
	var refused []string
	for field, set := range map[string]bool{
		"Tmpfs": len(c.Tmpfs) > 0, "Files": len(c.Files) > 0, "Mounts": len(c.Mounts) > 0, "Build": c.Build != nil,
		"Healthcheck": c.Healthcheck != nil, "ExtraHosts": len(c.ExtraHosts) > 0, "User": c.User != "",
		"Memory": c.Memory != 0, "NanoCPUs": c.NanoCPUs != 0,
	} {
		if set {
			refused = append(refused, field)
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return nil, nil, fmt.Errorf("container %s: %s not translated to Kubernetes: declare the system as manifests", c.Name, strings.Join(refused, ", "))
	}
	ports, err := containerPorts(c.Ports)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	manifests := []string{deploymentManifest(c, ports, node)}
	if len(ports) == 0 {
		return manifests, nil, nil
	}
	manifests = append(manifests, serviceManifest(c.Name, ports))
	return manifests, &Link{Name: scenarios.Host + "->" + c.Name, Service: c.Name, Port: ports[0], Host: true}, nil
}

// containerPorts parses "5432/tcp" (or "5432") ports; only TCP.
func containerPorts(ps []string) ([]int, error) {
	var out []int
	for _, p := range ps {
		num, proto, _ := strings.Cut(p, "/")
		if proto != "" && proto != "tcp" {
			return nil, fmt.Errorf("port %q: only TCP ports are translated", p)
		}
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("port %q: want a number such as 5432/tcp", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// yamlList is a YAML flow sequence of quoted strings.
func yamlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func deploymentManifest(c scenarios.ContainerSpec, ports []int, node string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, labels: {app: %[1]s}}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 5
      enableServiceLinks: false
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
%[3]s      containers:
      - name: %[1]s
        image: %[2]q
        imagePullPolicy: IfNotPresent
`, c.Name, c.Image, preferred(node))
	if len(c.Entrypoint) > 0 {
		fmt.Fprintf(&b, "        command: %s\n", yamlList(c.Entrypoint))
	}
	if len(c.Cmd) > 0 {
		fmt.Fprintf(&b, "        args: %s\n", yamlList(c.Cmd))
	}
	if len(c.Env) > 0 {
		b.WriteString("        env:\n")
		for _, k := range slices.Sorted(maps.Keys(c.Env)) {
			fmt.Fprintf(&b, "        - {name: %q, value: %q}\n", k, c.Env[k])
		}
	}
	if len(ports) > 0 {
		b.WriteString("        ports:\n")
		for _, p := range ports {
			fmt.Fprintf(&b, "        - {containerPort: %d}\n", p)
		}
	}
	if port, path, ok := scenarios.HTTPReadiness(c.Ready); ok {
		ps, err := containerPorts([]string{port})
		if err == nil {
			if !strings.HasPrefix(path, "/") {
				path = "/" + path
			}
			fmt.Fprintf(&b, "        readinessProbe: {httpGet: {path: %q, port: %d}, periodSeconds: 1, failureThreshold: 1}\n", path, ps[0])
		}
	} else if len(ports) > 0 {
		fmt.Fprintf(&b, "        readinessProbe: {tcpSocket: {port: %d}, periodSeconds: 1, failureThreshold: 1}\n", ports[0])
	}
	return b.String()
}

func serviceManifest(name string, ports []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec:\n  selector: {app: %s}\n  ports:\n", name, name)
	for _, p := range ports {
		fmt.Fprintf(&b, "  - {name: p%d, port: %d, targetPort: %d}\n", p, p, p)
	}
	return b.String()
}

func preferred(node string) string {
	if node == "" {
		return ""
	}
	return fmt.Sprintf("      affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 100, preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [%q]}]}}]}}\n", node)
}
