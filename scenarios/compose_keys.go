package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// The keys of a Compose file that FromCompose honours. A key is written
// as a path without list indexes or service names ("volumes.bind.propagation",
// "depends_on.restart"); every other key of a service is refused, with the
// advice below when there is one.

// composeKeys are the honoured keys of a service; a key holding a mapping
// whose own keys are checked is listed as a branch (true), a key whose
// value is taken whole (or checked by the translation) as a leaf (false).
var composeKeys = map[string]bool{
	"image": false, "command": false, "entrypoint": false, "environment": false,
	"env_file": false, "expose": false, "tmpfs": false, "user": false,
	"extra_hosts": false, "mem_limit": false, "cpus": false,
	"networks": false, "scale": false,
	"build": true, "build.context": false, "build.dockerfile": false,
	"build.args": false, "build.target": false,
	"ports": true, "ports.target": false, "ports.published": false,
	"ports.host_ip": false, "ports.protocol": false, "ports.mode": false,
	"volumes": true, "volumes.type": false, "volumes.source": false,
	"volumes.target": false, "volumes.read_only": false,
	"volumes.bind": true, "volumes.bind.create_host_path": false,
	"volumes.volume": true, "volumes.tmpfs": true, "volumes.tmpfs.size": false,
	"healthcheck": true, "healthcheck.test": false, "healthcheck.interval": false,
	"healthcheck.timeout": false, "healthcheck.start_period": false,
	"healthcheck.retries": false, "healthcheck.disable": false,
	"depends_on": true, "depends_on.*": true, // keyed by service name
	"depends_on.*.condition": false, "depends_on.*.required": false,
	"depends_on.*.restart": false,
	"deploy":               true, "deploy.replicas": false, "deploy.resources": true,
	"deploy.resources.limits": true, "deploy.resources.limits.cpus": false,
	"deploy.resources.limits.memory": false,
}

// composeAdvice says what to do about a refused key, by its first path
// element or its whole path.
var composeAdvice = map[string]string{
	"network_mode":               "every service runs on the system's own network (links go through toxiproxy on it): remove it",
	"networks":                   "only the default network is supported (every service is on the system's network): remove the other networks",
	"privileged":                 "firedrill does not run privileged containers: remove it",
	"cap_add":                    "firedrill does not add capabilities: remove it",
	"cap_drop":                   "remove it",
	"devices":                    "firedrill does not map devices: remove it",
	"secrets":                    "pass the value through environment, or mount the file with a bind mount under volumes",
	"configs":                    "mount the file with a bind mount under volumes instead",
	"pid":                        "firedrill does not share namespaces: remove it",
	"ipc":                        "firedrill does not share namespaces: remove it",
	"uts":                        "firedrill does not share namespaces: remove it",
	"userns_mode":                "remove it",
	"volumes_from":               "declare a named volume and mount it in both services",
	"profiles":                   "firedrill starts every service: remove the service's profiles (or the services you do not want)",
	"restart":                    "a restart policy would restart a killed container behind the drill's back (faults.Kill's revert or your runbook restarts it): remove it",
	"deploy.restart_policy":      "a restart policy would restart a killed container behind the drill's back: remove it",
	"container_name":             "the service name is the container's name and alias: remove it",
	"hostname":                   "the service name is the container's alias: remove it",
	"links":                      "services reach each other by name already: remove it",
	"external_links":             "firedrill reaches only containers it started: remove it",
	"labels":                     "firedrill sets its own labels and none of yours: remove them",
	"working_dir":                "set the WORKDIR in the Dockerfile instead",
	"stop_signal":                "set STOPSIGNAL in the Dockerfile instead",
	"build.ssh":                  "firedrill builds without SSH agent forwarding: remove it",
	"build.secrets":              "firedrill builds without build secrets: remove them",
	"healthcheck.start_interval": "use a shorter interval instead",
}

// topLevelKeys are the honoured top-level keys; x-* extensions are ignored.
var topLevelKeys = map[string]bool{"name": true, "services": true, "volumes": true, "networks": true}

// checkModel checks the keys of compose-go's raw model.
func checkModel(p *problems, model map[string]any, ignore map[string]bool) {
	for _, k := range sortedKeys(model) {
		if !topLevelKeys[k] && !strings.HasPrefix(k, "x-") && !ignore[k] {
			p.add("top-level %q is not supported: %s", k, advice(k))
		}
	}
	checkTopLevel(p, model, ignore)
	services, _ := model["services"].(map[string]any)
	for _, name := range sortedKeys(services) {
		svc, _ := services[name].(map[string]any)
		for _, k := range sortedKeys(svc) {
			checkKey(p, name, k, k, svc[k], ignore)
		}
	}
}

// checkTopLevel checks the top-level networks (default only) and volumes
// (local, firedrill-managed).
func checkTopLevel(p *problems, model map[string]any, ignore map[string]bool) {
	networks, _ := model["networks"].(map[string]any)
	for _, n := range sortedKeys(networks) {
		if ignore["networks"] {
			break
		}
		if n != "default" {
			p.add("network %q is not supported: %s", n, composeAdvice["networks"])
			continue
		}
		def, _ := networks[n].(map[string]any)
		for _, k := range sortedKeys(def) {
			if k != "name" {
				p.add("network \"default\": key %q is not supported: remove it (firedrill makes the system's network)", k)
			}
		}
	}
	volumes, _ := model["volumes"].(map[string]any)
	for _, v := range sortedKeys(volumes) {
		def, _ := volumes[v].(map[string]any)
		for _, k := range sortedKeys(def) {
			if k != "name" && !ignore["volumes."+k] {
				p.add("volume %q: key %q is not supported: firedrill creates each named volume for the system (local driver) and removes it with the system; remove %q", v, k, k)
			}
		}
	}
}

// checkKey checks the service key at shown (the path as the user reads it,
// with list indexes), whose canonical form is key.
func checkKey(p *problems, service, shown, key string, v any, ignore map[string]bool) {
	canon := canonicalKey(key)
	if ignore[canon] || strings.HasPrefix(lastElem(key), "x-") {
		return
	}
	branch, ok := composeKeys[key]
	if !ok {
		p.add("service %q: %q is not supported: %s", service, shown, advice(canon))
		return
	}
	if !branch {
		return
	}
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			checkKey(p, service, fmt.Sprintf("%s[%d]", shown, i), key, e, ignore)
		}
	case map[string]any:
		keys := sortedKeys(v)
		for _, k := range keys {
			childKey := key + "." + k
			if key == "depends_on" {
				childKey = key + ".*"
			}
			checkKey(p, service, shown+"."+k, childKey, v[k], ignore)
		}
	}
}

// advice is what to do about a refused key, in its canonical form.
func advice(key string) string {
	hint := fmt.Sprintf("or pass scenarios.ComposeIgnore(%q) to run without it", key)
	if a, ok := composeAdvice[key]; ok {
		return a + " (" + hint + ")"
	}
	return "firedrill cannot honour it: remove it, " + hint
}

// canonicalKey is the form of a key in errors and ComposeIgnore: a path
// without list indexes or service names.
func canonicalKey(key string) string { return strings.ReplaceAll(key, ".*", "") }

func lastElem(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// sortedStrings returns a sorted copy of s.
func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
