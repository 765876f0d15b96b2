#!/usr/bin/env bash
# cluster.sh builds and runs a real Kubernetes cluster on this machine, from
# the Go module proxy and Debian's packages; nothing is pulled from a registry.
#
#   scripts/cluster.sh build        the Kubernetes binaries, the pause image, the node image
#   scripts/cluster.sh up [N]       start N nodes (default 3) and wait until all are Ready
#   scripts/cluster.sh down         remove the cluster: its nodes, network and host directories
#   scripts/cluster.sh status       the node containers, the API's view of the nodes, memory
#   scripts/cluster.sh kubeconfig   print the path of the cluster's kubeconfig
#   scripts/cluster.sh load IMAGE...  copy images from the local Docker store into every node
#   scripts/cluster.sh check        run pods on every node, reach them by pod IP and Service
#   scripts/cluster.sh wipe         remove every cluster this script made (all names)
#
# make cluster = build + up; make cluster-down = down; make wipe also runs wipe.
#
# Build (cached; a rerun with nothing changed prints "cached" lines):
#   binaries   kube-apiserver, kube-controller-manager, kube-scheduler,
#              kubelet, kube-proxy at K8S_VERSION (below), built with
#              CGO_ENABLED=0 in a wrapper module (k8s.io/kubernetes cannot be
#              `go install`ed: its go.mod replaces the 31 staging modules;
#              the wrapper replaces each with its published v0.X.Y), into
#              $FIREDRILL_K8S_CACHE/<version>/bin. About 6 min on 2 cores
#              with a cold Go cache, 1.75 GB peak; kept until the version or
#              the build flags change.
#   etcd       etcd v3.6 for the control plane: firedrill/etcd:local's
#              binary (scripts/images.sh etcd), copied into the binaries'
#              directory (see etcd_binary: Debian's 3.4 breaks watches).
#   firedrill/pause:<hash>, :local   the pod sandbox image: a tiny Go binary
#              (FROM scratch) that sleeps until SIGINT/SIGTERM and reaps
#              orphans. Hash: its source, the Go toolchain, this recipe.
#   firedrill/k8s-node:<hash>, :local   Debian bookworm minbase with
#              containerd 1.6, runc, the CNI plugins, etcd-server, iptables
#              and tini (mmdebstrap, then docker import). Hash: the package
#              list, suite, mirrors, architecture and this recipe (not what
#              Debian serves today: `docker rmi firedrill/k8s-node:<hash>` to
#              pick up an update).
#
# Up: one Docker network and N containers named NAME-0 (control plane:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler; also a
# node, tainted node-role.kubernetes.io/control-plane:NoSchedule) to NAME-(N-1), labelled firedrill=true, firedrill.system=k8s,
# firedrill.run=<run id>, firedrill.k8s.cluster=NAME. Not --privileged (the
# host's bounding set lacks CAP_SYS_RESOURCE): all capabilities but
# SYS_RESOURCE, no seccomp/AppArmor, every device, a private cgroup
# namespace. Each node's /var/lib/containerd and /var/lib/kubelet (and
# NAME-0's etcd data) are host directories under
# $FIREDRILL_K8S_CACHE/run/NAME, removed by down. Pods: bridge + host-local
# CNI, 10.244.I.0/24 on node I, static routes between nodes; Services
# 10.96.0.0/16 (kube-proxy, iptables, conntrack settings left alone); no
# cluster DNS. The API server and NodePorts 30000-30023 of NAME-0 are published on 127.0.0.1 only; the
# kubeconfig (admin, system:masters, certificates embedded) is written for
# the test process. Pods must use images already in the nodes
# (imagePullPolicy: Never): `load` copies them from Docker.
#
# The host's kernel settings are protected: kubelet insists on
# kernel.panic=10, kernel.panic_on_oops=1, vm.overcommit_memory=1 (and three
# more); inside each node /proc/sys/kernel and /proc/sys/vm are read-only
# with the values it wants bound over (scripts/cluster-node.sh). up records
# the host's values and fails loudly when they differ after up or down.
#
# Env: FIREDRILL_K8S_CACHE (binaries, run directories; default
# /var/cache/firedrill/k8s), FIREDRILL_K8S_NAME (cluster name: container,
# network and run-directory prefix; default firedrill-k8s),
# FIREDRILL_K8S_UP_TIMEOUT (seconds up waits for Ready; default 120),
# FIREDRILL_K8S_NODE_GRACE (kube-controller-manager
# --node-monitor-grace-period, e.g. 20s; default Kubernetes' own),
# FIREDRILL_DEBIAN_MIRROR, FIREDRILL_DEBIAN_SECURITY_MIRROR,
# FIREDRILL_DEB_CACHE, FIREDRILL_BUILD_TMPDIR (as for scripts/images.sh).
#
# Concurrent runs on one machine take turns (flock). Output: one line per
# step with its time.
#
# Requirements: docker, go (or /usr/local/go/bin/go), openssl, curl, jq,
# sha256sum, flock; for the node image mmdebstrap, root, and a Debian mirror.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/cluster.sh"
NODE_SCRIPT="$ROOT/scripts/cluster-node.sh"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi

K8S_VERSION=v1.34.4 # 1.34: the last to run on cgroup v1 hosts and with containerd 1.6 (Debian bookworm's)
K8S_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
K8S_LDFLAGS_BASE="-s -w"

CACHE=${FIREDRILL_K8S_CACHE:-/var/cache/firedrill/k8s}
NAME=${FIREDRILL_K8S_NAME:-firedrill-k8s}
RUN_ROOT="$CACHE/run"
RUN="$RUN_ROOT/$NAME"
BIN_DIR="$CACHE/$K8S_VERSION/bin"
UP_TIMEOUT=${FIREDRILL_K8S_UP_TIMEOUT:-120}
NODE_GRACE=${FIREDRILL_K8S_NODE_GRACE:-}
WORK_PARENT=${FIREDRILL_BUILD_TMPDIR:-/var/tmp}
# DEBIAN_SUITE, the mirrors, DEB_CACHE, ensure_mmdebstrap, debian_bootstrap.
# shellcheck source=scripts/debian.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian.sh"

NODE_PACKAGES=containerd,runc,containernetworking-plugins,etcd-server,iptables,iproute2,conntrack,ethtool,socat,util-linux,mount,procps,kmod,ca-certificates,tini

CLUSTER_CIDR=10.244.0.0/16 # node I gets 10.244.I.0/24
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1 # the kubernetes Service
# NodePorts the control plane's node publishes on 127.0.0.1 (each on a
# port Docker picks): scenarios/kube puts the toxiproxy pods' Services there.
NODEPORT_FIRST=30000
NODEPORT_LAST=30023
# kubelet's kernel tunables (setupKernelTunables): each is bound over in the
# nodes when the host's value differs; the host keeps its own.
KUBELET_SYSCTLS=(kernel.panic=10 kernel.panic_on_oops=1 vm.overcommit_memory=1 vm.panic_on_oom=0 kernel.keys.root_maxkeys=1000000 kernel.keys.root_maxbytes=25000000)
# The settings checked before and after up and down.
CHECKED_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory)

LABELS=(--label firedrill=true --label firedrill.system=k8s --label "firedrill.k8s.cluster=$NAME")

die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
sha() { sha256sum | cut -c1-64; }
# step NAME STATUS DETAIL [TIME]: one line of output.
step() { printf '%-12s %-9s %-52s %s\n' "$1" "$2" "$3" "${4:-}"; }

usage() {
	sed -n '4,12p' "$SELF" | sed 's/^# \{0,1\}//'
	exit 2
}

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "$c not found: install it (Debian/Ubuntu: apt-get install -y $c)"
	done
}

need_docker() {
	command -v docker >/dev/null 2>&1 || die "docker not found: run scripts/docker.sh (as root) or install docker.io"
	docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon: run scripts/docker.sh (as root), or check DOCKER_HOST and permissions"
}

# lock: one build/up/down at a time on this machine.
lock() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		echo "cluster.sh: waiting for another cluster.sh to finish"
		flock 9
	fi
}

# ---- build: binaries -------------------------------------------------------

k8s_ldflags() {
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	printf '%s -X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=%s -X k8s.io/component-base/version.gitTreeState=clean' \
		"$K8S_LDFLAGS_BASE" "$K8S_VERSION" "$minor"
}

binaries_inputs() {
	printf 'kubernetes %s\ncommands %s\ngo %s %s\nldflags %s\nrecipe %s\n' "$K8S_VERSION" "${K8S_COMMANDS[*]}" \
		"$(go env GOVERSION)" "$(go env GOARCH)" "$(k8s_ldflags)" "$(declare -f build_binaries | sha)"
}

# build_binaries DIR: a wrapper module requiring k8s.io/kubernetes, with a
# replace for each staging module its go.mod lists, then one go build. The
# module (and its logs) stays in $CACHE/<version>/module.
build_binaries() {
	local out=$1 work="$CACHE/$K8S_VERSION/module" mod staging v=${K8S_VERSION#v1.} c pkgs=()
	mkdir -p "$work"
	export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOOS=linux
	mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[ -f "$mod" ] || die "binaries: go mod download k8s.io/kubernetes@$K8S_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
	staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\1#p' "$mod")
	[ -n "$staging" ] || die "binaries: no staging replace directives found in $mod"
	{
		printf 'module firedrill.local/k8s-build\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
		for c in $staging; do printf '\t%s => %s v0.%s\n' "$c" "$c" "$v"; done
		printf ')\n'
	} >"$work/go.mod"
	{
		printf '//go:build tools\n\n// Package tools makes go mod tidy keep the commands built here.\npackage tools\n\nimport (\n'
		for c in "${K8S_COMMANDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
		printf ')\n'
	} >"$work/tools.go"
	(cd "$work" && go mod tidy >"$work/tidy.log" 2>&1) || { tail -n 30 "$work/tidy.log" >&2; die "binaries: go mod tidy failed (log above)"; }
	for c in "${K8S_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	mkdir -p "$out"
	(cd "$work" && go build -trimpath -ldflags "$(k8s_ldflags)" -o "$out/" "${pkgs[@]}" >"$work/build.log" 2>&1) ||
		{ tail -n 30 "$work/build.log" >&2; die "binaries: go build failed (log above)"; }
}

binaries() {
	local start hash c tmp
	start=$(now)
	hash=$(binaries_inputs | sha)
	if [ -f "$BIN_DIR/.inputs" ] && [ "$(cat "$BIN_DIR/.inputs")" = "$hash" ]; then
		step binaries cached "$BIN_DIR" "$(since "$start")"
		return 0
	fi
	step binaries building "(Kubernetes $K8S_VERSION from the Go module proxy; ~6 min cold on 2 cores)"
	tmp="$CACHE/$K8S_VERSION/bin.new"
	rm -rf "$tmp"
	build_binaries "$tmp"
	for c in "${K8S_COMMANDS[@]}"; do
		[ -x "$tmp/$c" ] || die "binaries: $c was not built"
	done
	printf '%s\n' "$hash" >"$tmp/.inputs"
	rm -rf "$BIN_DIR"
	mv "$tmp" "$BIN_DIR"
	step binaries built "$BIN_DIR ($(du -sm "$BIN_DIR" | cut -f1) MB)" "$(since "$start")"
}

# ---- build: pause image ----------------------------------------------------

pause_source() {
	cat <<'EOF'
// Command pause is the pod sandbox: it holds the pod's namespaces, sleeps
// until SIGINT or SIGTERM, and reaps orphaned children.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
EOF
}

pause_image() {
	local start hash tag work
	start=$(now)
	hash=$(printf 'go %s %s\nsource %s\nrecipe %s\n' "$(go env GOVERSION)" "$(go env GOARCH)" \
		"$(pause_source | sha)" "$(declare -f pause_image | sha)" | sha)
	tag="firedrill/pause:${hash:0:16}"
	if docker image inspect "$tag" >/dev/null 2>&1; then
		docker tag "$tag" firedrill/pause:local
		step pause cached "$tag" "$(since "$start")"
		return 0
	fi
	work=$(mktemp -d "$WORK_PARENT/firedrill-pause.XXXXXX")
	mkdir -p "$work/src" "$work/root"
	pause_source >"$work/src/main.go"
	printf 'module firedrill.local/pause\n\ngo 1.22\n' >"$work/src/go.mod"
	(cd "$work/src" && GOWORK=off CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "$work/root/pause" .) ||
		{ rm -rf "$work"; die "pause: go build failed"; }
	tar --numeric-owner --owner=0 --group=0 -C "$work/root" -cf - . |
		docker import --message "firedrill scripts/cluster.sh" \
			--change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' \
			--change "LABEL org.firedrill.image=pause org.firedrill.inputs=${hash:0:16}" - "$tag" >/dev/null
	rm -rf "$work"
	docker tag "$tag" firedrill/pause:local
	prune firedrill/pause "$tag"
	step pause built "$tag" "$(since "$start")"
}

# ---- build: node image -----------------------------------------------------

node_inputs() {
	printf 'debian %s %s %s %s %s\nrecipe %s %s\n' "$DEBIAN_SUITE" "$NODE_PACKAGES" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" \
		"$(debian_arch)" "$(declare -f node_rootfs | sha)" "$(declare -f debian_bootstrap | sha)"
}

# node_rootfs TAG: mmdebstrap (minbase) with NODE_PACKAGES, then docker import.
node_rootfs() {
	local tag=$1 work
	ensure_mmdebstrap ""
	[ "$(id -u)" -eq 0 ] || die "node image: mmdebstrap needs root here (root mode): run as root"
	work=$(mktemp -d "$WORK_PARENT/firedrill-k8s-node.XXXXXX")
	# shellcheck disable=SC2016 # mmdebstrap runs the hooks with the root as $1
	if ! debian_bootstrap minbase "$NODE_PACKAGES" "$work/rootfs.tar" "$work/mmdebstrap.log" \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
		--customize-hook='rm -f "$1"/etc/machine-id' \
		--customize-hook='mkdir -p "$1"/opt/firedrill/bin "$1"/etc/firedrill "$1"/var/lib/firedrill/images "$1"/var/log/firedrill "$1"/var/lib/etcd'; then
		rm -rf "$work"
		die "node image: mmdebstrap failed (log above)"
	fi
	docker import --message "firedrill scripts/cluster.sh" \
		--change 'ENV PATH=/opt/firedrill/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/firedrill-node"]' \
		--change "LABEL org.firedrill.image=k8s-node org.firedrill.inputs=${tag##*:}" \
		"$work/rootfs.tar" "$tag" >/dev/null || { rm -rf "$work"; die "node image: docker import failed"; }
	rm -rf "$work"
}

node_image() {
	local start hash tag
	start=$(now)
	hash=$(node_inputs | sha)
	tag="firedrill/k8s-node:${hash:0:16}"
	if docker image inspect "$tag" >/dev/null 2>&1; then
		docker tag "$tag" firedrill/k8s-node:local
		step node-image cached "$tag" "$(since "$start")"
		return 0
	fi
	step node-image building "(mmdebstrap $DEBIAN_SUITE + docker import; about 1 min)"
	node_rootfs "$tag"
	docker tag "$tag" firedrill/k8s-node:local
	prune firedrill/k8s-node "$tag"
	step node-image built "$tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%d MB", $1 / 1e6 }'))" "$(since "$start")"
}

# prune REF TAG untags REF's older content-hash tags other than TAG.
prune() {
	local ref=$1 keep=$2 t
	docker image ls --format '{{.Repository}}:{{.Tag}}' "$ref" | while IFS= read -r t; do
		[ "$t" != "$keep" ] || continue
		[[ ${t##*:} =~ ^[0-9a-f]{16}$ ]] || continue
		docker rmi "$t" >/dev/null 2>&1 || true
	done
}

# etcd_binary: the control plane's etcd is firedrill's etcd image's binary
# (etcd v3.6, built from its Go module by scripts/images.sh etcd), copied
# into $BIN_DIR, which the nodes put first on PATH. Debian's etcd-server
# (3.4.23) lacks RequestWatchProgress: kube-apiserver then answers a
# watch without a resourceVersion with "Too large resource version"
# until the resource changes, which breaks every client that watches
# from "now".
etcd_binary() {
	local start id c
	start=$(now)
	"$ROOT/scripts/images.sh" etcd | sed 's/^/  /'
	id=$(docker image inspect -f '{{.Id}}' firedrill/etcd:local) || die "etcd: image firedrill/etcd:local missing after scripts/images.sh etcd"
	if [ -x "$BIN_DIR/etcd" ] && [ "$(cat "$BIN_DIR/.etcd-image" 2>/dev/null)" = "$id" ]; then
		step etcd cached "$BIN_DIR/etcd (from firedrill/etcd:local)" "$(since "$start")"
		return 0
	fi
	c=$(docker create --label firedrill=true firedrill/etcd:local) || die "etcd: docker create firedrill/etcd:local failed"
	docker cp "$c:/bin/etcd" "$BIN_DIR/etcd.new" >/dev/null || { docker rm -f "$c" >/dev/null; die "etcd: docker cp of /bin/etcd failed"; }
	docker rm -f "$c" >/dev/null
	mv "$BIN_DIR/etcd.new" "$BIN_DIR/etcd"
	printf '%s\n' "$id" >"$BIN_DIR/.etcd-image"
	step etcd copied "$BIN_DIR/etcd ($("$BIN_DIR/etcd" --version | head -n1))" "$(since "$start")"
}

cmd_build() {
	local start
	start=$(now)
	need_docker
	need go sha256sum flock
	lock
	mkdir -p "$CACHE"
	# The node image is mostly downloads and dpkg: build it while Go compiles.
	local log="$CACHE/.node-image.log" pid status=0
	node_image >"$log" 2>&1 &
	pid=$!
	pause_image
	binaries || status=$?
	[ "$status" -ne 0 ] || etcd_binary || status=$?
	wait "$pid" || status=$?
	cat "$log"
	rm -f "$log"
	[ "$status" -eq 0 ] || exit "$status"
	step build 'done' "(binaries, pause, node image)" "$(since "$start")"
}

# ---- host checks -----------------------------------------------------------

sysctls() {
	local k
	for k in "${CHECKED_SYSCTLS[@]}"; do
		printf '%s=%s\n' "$k" "$(sysctl -n "$k")"
	done
}

# check_sysctls RECORDED WHEN: the host's settings must equal RECORDED (what
# sysctls printed at up).
check_sysctls() {
	local recorded=$1 when=$2 current
	[ -n "$recorded" ] || die "no record of the host's kernel settings to compare with $when"
	current=$(sysctls)
	if [ "$current" != "$recorded" ]; then
		die "the host's kernel settings changed $when: before $(printf '%s' "$recorded" | tr '\n' ' '), now $(printf '%s' "$current" | tr '\n' ' '). A node wrote them; restore with: sysctl -w $(printf '%s' "$recorded" | tr '\n' ' ')"
	fi
}

# ---- up --------------------------------------------------------------------

# cert NAME SUBJECT EXT: an EC P-256 key and a certificate signed by the CA.
cert() {
	local name=$1 subj=$2 ext=$3 pki=$RUN/pki
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
	openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
	printf '%b\n' "$ext" >"$pki/$name.ext"
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
		-days 3650 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null || die "openssl: signing $name failed"
	rm -f "$pki/$name.csr" "$pki/$name.ext"
}

certs() {
	local n=$1 i pki=$RUN/pki client='keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'
	mkdir -p "$pki"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=$NAME-ca" -days 3650 -out "$pki/ca.crt" \
		-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' 2>/dev/null ||
		die "openssl: creating the CA failed"
	cert apiserver "/CN=kube-apiserver" \
		"keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:$NAME-0,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$SERVICE_IP"
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
	cert admin "/O=system:masters/CN=firedrill-admin" "$client"
	cert controller-manager "/CN=system:kube-controller-manager" "$client"
	cert scheduler "/CN=system:kube-scheduler" "$client"
	cert kube-proxy "/CN=system:kube-proxy" "$client"
	for ((i = 0; i < n; i++)); do
		cert "kubelet-$i" "/O=system:nodes/CN=system:node:$NAME-$i" "$client"
	done
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
	openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# kubeconfig SERVER CERTNAME: a kubeconfig with the certificates embedded.
kubeconfig() {
	local server=$1 c=$2 pki=$RUN/pki
	cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NAME
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: $c
  user:
    client-certificate-data: $(base64 -w0 <"$pki/$c.crt")
    client-key-data: $(base64 -w0 <"$pki/$c.key")
contexts:
- name: $NAME
  context:
    cluster: $NAME
    user: $c
current-context: $NAME
EOF
}

# node_config I N: everything /etc/firedrill holds on node I.
node_config() {
	local i=$1 n=$2
	local etc="$RUN/node-$i/etc" peers="" j kv k v server="https://$NAME-0:6443"
	mkdir -p "$etc/cni" "$etc/sysctl" "$etc/pki" "$RUN/node-$i/containerd" "$RUN/node-$i/kubelet" "$RUN/node-$i/log"
	for ((j = 0; j < n; j++)); do
		[ "$j" -eq "$i" ] || peers+="$NAME-$j=10.244.$j.0/24 "
	done
	cat >"$etc/node.env" <<EOF
NODE_NAME=$NAME-$i
NODE_ROLE=$([ "$i" -eq 0 ] && echo control-plane || echo worker)
POD_CIDR=10.244.$i.0/24
CLUSTER_CIDR=$CLUSTER_CIDR
SERVICE_CIDR=$SERVICE_CIDR
PEERS="$peers"
NODE_MONITOR_GRACE_PERIOD=$NODE_GRACE
EOF
	for kv in "${KUBELET_SYSCTLS[@]}"; do
		k=${kv%%=*} v=${kv#*=}
		[ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || printf '%s\n' "$v" >"$etc/sysctl/$k"
	done
	cp "$RUN/pki/ca.crt" "$etc/pki/"
	kubeconfig "$server" "kubelet-$i" >"$etc/kubelet.kubeconfig"
	kubeconfig "$server" kube-proxy >"$etc/kube-proxy.kubeconfig"
	if [ "$i" -eq 0 ]; then
		cp "$RUN"/pki/{ca.key,apiserver.crt,apiserver.key,apiserver-kubelet-client.crt,apiserver-kubelet-client.key,sa.key,sa.pub} "$etc/pki/"
		kubeconfig https://127.0.0.1:6443 controller-manager >"$etc/controller-manager.kubeconfig"
		kubeconfig https://127.0.0.1:6443 scheduler >"$etc/scheduler.kubeconfig"
	fi
	cat >"$etc/containerd.toml" <<'EOF'
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/firedrill/pause:local"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/firedrill/cni"
EOF
	cat >"$etc/cni/10-firedrill.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "firedrill",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.$i.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
	cat >"$etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: /etc/firedrill/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
failSwapOn: false
failCgroupV1: false
oomScoreAdj: 0
podCIDR: 10.244.$i.0/24
# No cluster DNS yet, and the node's resolv.conf names Docker's resolver
# (127.0.0.11), which pods cannot reach: pods get no resolver.
resolvConf: ""
# The disk is the host's, shared with everything else: no evictions, no
# image garbage collection (the images were imported, not pulled).
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
	cat >"$etc/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: /etc/firedrill/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NAME-$i
# 0: leave the (host-wide) conntrack limits and timeouts alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# node_run I RUNID: start node container I.
node_run() {
	local i=$1 id=$2
	local dir="$RUN/node-$i" args=()
	args=(
		--detach --name "$NAME-$i" --hostname "$NAME-$i" --network "$NAME"
		"${LABELS[@]}" --label "firedrill.run=$id" --label "firedrill.k8s.node=$NAME-$i"
		--cap-add ALL --cap-drop SYS_RESOURCE
		--security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined
		--device-cgroup-rule 'a *:* rwm' --cgroupns=private
		--tmpfs /run --tmpfs /tmp
		-v /lib/modules:/lib/modules:ro
		-v "$BIN_DIR:/opt/firedrill/bin:ro"
		-v "$NODE_SCRIPT:/usr/local/bin/firedrill-node:ro"
		-v "$dir/etc:/etc/firedrill:ro"
		-v "$RUN/images:/var/lib/firedrill/images:ro"
		-v "$dir/containerd:/var/lib/containerd"
		-v "$dir/kubelet:/var/lib/kubelet"
		-v "$dir/log:/var/log/firedrill"
	)
	if [ "$i" -eq 0 ]; then
		install -d -m 700 "$dir/etcd"
		# The API server, and NodePorts NODEPORT_FIRST.. for the drills'
		# toxiproxy pods (scenarios/kube): the test reaches the cluster
		# only through these ports on 127.0.0.1.
		args+=(-v "$dir/etcd:/var/lib/etcd" -p 127.0.0.1::6443 -p "127.0.0.1::$NODEPORT_FIRST-$NODEPORT_LAST")
	fi
	docker run "${args[@]}" firedrill/k8s-node:local >/dev/null || die "docker run $NAME-$i failed"
}

# api PATH [CURL ARGS...]: a request to the API server as the admin, through
# 127.0.0.1 (GET unless the arguments say otherwise).
api() {
	local path=$1
	shift
	curl -sf --max-time 5 --cacert "$RUN/pki/ca.crt" --cert "$RUN/pki/admin.crt" --key "$RUN/pki/admin.key" \
		"$@" "https://127.0.0.1:$(cat "$RUN/port")$path"
}

# create PATH JSON: POST an object; its error (the API's message) on failure.
create() {
	local out
	out=$(curl -s --max-time 10 --cacert "$RUN/pki/ca.crt" --cert "$RUN/pki/admin.crt" --key "$RUN/pki/admin.key" \
		-H 'Content-Type: application/json' -X POST --data-binary "$2" -w '\n%{http_code}' \
		"https://127.0.0.1:$(cat "$RUN/port")$1") || die "POST $1: the API server did not answer"
	case ${out##*$'\n'} in
	20?) ;;
	*) die "POST $1: $(printf '%s' "${out%$'\n'*}" | jq -r '.message // .' 2>/dev/null)" ;;
	esac
}

ready_nodes() {
	api /api/v1/nodes 2>/dev/null | jq -r '[.items[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length' 2>/dev/null || echo 0
}

# node_logs: the last lines of each node's logs, for a failed up.
node_logs() {
	local d f c
	for c in $(docker ps -a --filter "label=firedrill.k8s.cluster=$NAME" --format '{{.Names}}'); do
		printf -- '--- docker logs %s (last 8 lines)\n' "$c" >&2
		docker logs --tail 8 "$c" >&2 2>&1 || true
	done
	for d in "$RUN"/node-*/log; do
		for f in "$d"/node.log "$d"/kubelet.log "$d"/kube-apiserver.log "$d"/containerd.log; do
			[ -f "$f" ] || continue
			printf -- '--- %s (last 8 lines)\n' "${f#"$RUN"/}" >&2
			tail -n 8 "$f" >&2
		done
	done
}

# wait_ready N: until N nodes are Ready and the controller-manager has made
# the default ServiceAccount (pods can be created), failing fast when a node
# container exits. One line when the nodes are Ready, one at the end.
wait_ready() {
	local n=$1 t deadline ready=0 i state nodes_ready=""
	t=$(now)
	deadline=$(($(date +%s) + UP_TIMEOUT))
	while :; do
		for ((i = 0; i < n; i++)); do
			state=$(docker inspect -f '{{.State.Status}}' "$NAME-$i" 2>/dev/null || echo missing)
			if [ "$state" != running ]; then
				node_logs
				die "node $NAME-$i is $state (logs above; docker logs $NAME-$i); scripts/cluster.sh down removes it"
			fi
		done
		ready=$(ready_nodes)
		if [ "$ready" -ge "$n" ] && [ -z "$nodes_ready" ]; then
			nodes_ready=1
			step ready "$n/$n" "all nodes Ready (GET /api/v1/nodes from the host)" "$(since "$t")"
		fi
		if [ -n "$nodes_ready" ] && api /api/v1/namespaces/default/serviceaccounts/default >/dev/null 2>&1; then
			step controllers ready "the default ServiceAccount exists: pods can be created" "$(since "$t")"
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			node_logs
			[ -z "$nodes_ready" ] || die "the nodes are Ready but the controller-manager made no default ServiceAccount within ${UP_TIMEOUT}s (see $RUN/node-0/log/kube-controller-manager.log); scripts/cluster.sh down removes the cluster"
			die "$ready of $n nodes Ready after ${UP_TIMEOUT}s (logs above; FIREDRILL_K8S_UP_TIMEOUT raises the limit); scripts/cluster.sh down removes the cluster"
		fi
		sleep 0.25
	done
}

cmd_up() {
	local n=${1:-3} start t id i port c
	[[ $n =~ ^[1-9][0-9]?$ ]] || die "up: N must be a number of nodes from 1 to 99, not '$n'"
	[[ $UP_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "FIREDRILL_K8S_UP_TIMEOUT must be a whole number of seconds, not '$UP_TIMEOUT'"
	need_docker
	need openssl curl jq flock
	lock
	start=$(now)
	for c in "${K8S_COMMANDS[@]}" etcd; do
		[ -x "$BIN_DIR/$c" ] || die "up: $BIN_DIR/$c is missing: run scripts/cluster.sh build (or make cluster)"
	done
	docker image inspect firedrill/k8s-node:local >/dev/null 2>&1 || die "up: image firedrill/k8s-node:local is missing: run scripts/cluster.sh build"
	docker image inspect firedrill/pause:local >/dev/null 2>&1 || die "up: image firedrill/pause:local is missing: run scripts/cluster.sh build"
	if [ -n "$(docker ps -aq --filter "label=firedrill.k8s.cluster=$NAME")" ] || [ -d "$RUN" ]; then
		die "up: cluster $NAME is already up (or was left behind): scripts/cluster.sh down first (or set FIREDRILL_K8S_NAME for a second cluster)"
	fi
	id="$(date -u +%Y%m%dT%H%M%SZ)-$(openssl rand -hex 6)"
	mkdir -p "$RUN/images"
	printf '%s\n' "$id" >"$RUN/run-id"
	printf '%s\n' "$n" >"$RUN/nodes"
	sysctls >"$RUN/sysctl.before"

	t=$(now)
	certs "$n"
	for ((i = 0; i < n; i++)); do node_config "$i" "$n"; done
	docker save firedrill/pause:local -o "$RUN/images/pause.tar"
	kubeconfig "https://127.0.0.1:PORT" admin >"$RUN/kubeconfig.in"
	step config 'done' "certificates, node configs, pause image ($n nodes)" "$(since "$t")"

	t=$(now)
	docker network create "${LABELS[@]}" --label "firedrill.run=$id" "$NAME" >/dev/null || die "docker network create $NAME failed"
	# In parallel: each docker run takes about a second here.
	local pids=()
	for ((i = 0; i < n; i++)); do
		node_run "$i" "$id" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || exit 1; done
	port=$(docker port "$NAME-0" 6443/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n1)
	[ -n "$port" ] || die "up: the API server's port on 127.0.0.1 is not published"
	printf '%s\n' "$port" >"$RUN/port"
	sed "s#https://127.0.0.1:PORT#https://127.0.0.1:$port#" "$RUN/kubeconfig.in" >"$RUN/kubeconfig"
	rm -f "$RUN/kubeconfig.in"
	step nodes started "$n containers $NAME-0..$((n - 1)), API on 127.0.0.1:$port" "$(since "$t")"

	wait_ready "$n"
	check_sysctls "$(cat "$RUN/sysctl.before")" "during up"
	step kernel unchanged "$(sysctls | tr '\n' ' ')"
	step up 'done' "kubeconfig: $RUN/kubeconfig" "$(since "$start")"
}

# ---- down, wipe ------------------------------------------------------------

# remove FILTER DIR...: the containers and networks matching FILTER, then DIRs.
remove() {
	local filter=$1 containers networks ids c d leftover=""
	shift
	containers=$(docker ps -aq --filter "$filter")
	ids=$(for c in $containers; do docker inspect -f '{{.Id}}' "$c"; done)
	if [ -n "$containers" ]; then
		# shellcheck disable=SC2086 # one id per word
		docker rm -f -v $containers >/dev/null || die "docker rm of the node containers failed"
	fi
	networks=$(docker network ls -q --filter "$filter")
	if [ -n "$networks" ]; then
		# shellcheck disable=SC2086
		docker network rm $networks >/dev/null || die "docker network rm failed"
	fi
	for d in "$@"; do
		[ -e "$d" ] || continue
		rm -rf "$d" || die "could not remove $d"
	done
	[ -z "$(docker ps -aq --filter "$filter")" ] || die "node containers are still there: docker ps -a --filter $filter"
	# The nodes' cgroups (and the pods' inside them) go with the containers.
	for c in $ids; do
		for d in /sys/fs/cgroup/*/docker/"$c"; do
			[ -e "$d" ] && leftover+=" $d"
		done
	done
	[ -z "$leftover" ] || die "cgroups of removed nodes are left:$leftover"
	printf '%d containers, %d networks' "$(printf '%s' "$containers" | grep -c .)" "$(printf '%s' "$networks" | grep -c .)"
}

cmd_down() {
	local start before="" what
	need_docker
	lock
	start=$(now)
	[ -f "$RUN/sysctl.before" ] && before=$(cat "$RUN/sysctl.before")
	what=$(remove "label=firedrill.k8s.cluster=$NAME" "$RUN")
	if [ -n "$before" ]; then
		check_sysctls "$before" "after down"
		step kernel unchanged "$(sysctls | tr '\n' ' ')"
	fi
	step down 'done' "removed $what, $RUN" "$(since "$start")"
}

cmd_wipe() {
	local start what
	need_docker
	lock
	start=$(now)
	local f before=""
	for f in "$RUN_ROOT"/*/sysctl.before; do
		[ -f "$f" ] && before=$(cat "$f") && break
	done
	what=$(remove label=firedrill.system=k8s "$RUN_ROOT")
	[ -z "$before" ] || check_sysctls "$before" "after wipe"
	step wipe 'done' "removed $what labelled firedrill.system=k8s, $RUN_ROOT" "$(since "$start")"
}

# ---- status, kubeconfig, load ----------------------------------------------

cmd_status() {
	need_docker
	[ -d "$RUN" ] || { echo "cluster $NAME: not up"; return 0; }
	echo "cluster $NAME: run $(cat "$RUN/run-id" 2>/dev/null), kubeconfig $RUN/kubeconfig"
	docker ps -a --filter "label=firedrill.k8s.cluster=$NAME" --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}'
	if [ -f "$RUN/port" ] && out=$(api /api/v1/nodes 2>/dev/null); then
		printf '%s' "$out" | jq -r '.items[] | "\(.metadata.name)\t\(([.status.conditions[]? | select(.type == "Ready")][0].status) as $r | if $r == "True" then "Ready" else "NotReady" end)\t\(.status.nodeInfo.kubeletVersion)"'
	else
		echo "API server: not answering on 127.0.0.1:$(cat "$RUN/port" 2>/dev/null || echo '?')"
	fi
	memory
}

# memory: each running node's memory now (docker stats: without page cache)
# and its peak since it started (the cgroup's max_usage_in_bytes, page cache
# included), and their sums.
memory() {
	local c id now_mib peak total_now=0 total_peak=0 f
	for c in $(docker ps --filter "label=firedrill.k8s.cluster=$NAME" --format '{{.Names}}' | sort); do
		id=$(docker inspect -f '{{.Id}}' "$c")
		now_mib=$(docker stats --no-stream --format '{{.MemUsage}}' "$c" | awk '{ v = $1 + 0; if ($1 ~ /GiB/) v *= 1024; else if ($1 ~ /KiB/) v /= 1024; printf "%d", v }')
		peak=0
		for f in /sys/fs/cgroup/memory/docker/"$id"/memory.max_usage_in_bytes /sys/fs/cgroup/memory/system.slice/docker-"$id".scope/memory.max_usage_in_bytes; do
			[ -r "$f" ] && peak=$(($(cat "$f") / 1048576))
		done
		printf '%-20s memory %5d MiB now, %5d MiB peak\n' "$c" "$now_mib" "$peak"
		total_now=$((total_now + now_mib)) total_peak=$((total_peak + peak))
	done
	printf '%-20s memory %5d MiB now, %5d MiB peak (sum of the nodes)\n' all "$total_now" "$total_peak"
}

cmd_kubeconfig() {
	[ -f "$RUN/kubeconfig" ] || die "cluster $NAME is not up: scripts/cluster.sh up"
	printf '%s\n' "$RUN/kubeconfig"
}

cmd_load() {
	local img safe c start
	[ $# -gt 0 ] || die "load: name the images to copy into the nodes (e.g. firedrill/stub:local)"
	[ -d "$RUN" ] || die "cluster $NAME is not up: scripts/cluster.sh up"
	need_docker
	for img in "$@"; do
		start=$(now)
		docker image inspect "$img" >/dev/null 2>&1 || die "load: image $img is not in the local Docker store (make images builds firedrill's)"
		safe=$(printf '%s' "$img" | tr '/:@' '___')
		docker save "$img" -o "$RUN/images/$safe.tar"
		for c in $(docker ps -q --filter "label=firedrill.k8s.cluster=$NAME"); do
			docker exec "$c" ctr -n k8s.io images import "/var/lib/firedrill/images/$safe.tar" >/dev/null ||
				die "load: importing $img into $(docker inspect -f '{{.Name}}' "$c") failed"
		done
		step load 'done' "$img" "$(since "$start")"
	done
}

# ---- check ------------------------------------------------------------------

# http NODE IP PORT PATH: the status line of GET PATH, sent from inside NODE.
http() {
	# shellcheck disable=SC2016 # expanded by the node's bash
	docker exec "$1" timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET %s HTTP/1.0\r\n\r\n" "$2" >&3 && head -n1 <&3 | tr -d "\r"' "$2" "$3" "$4" 2>/dev/null
}

# cmd_check: pods really run. A Deployment of firedrill/stub:local with one
# pod per node (required anti-affinity: the scheduler places them), a
# ClusterIP Service; every pod must become Ready (kubelet's HTTP readiness
# probe), every pod IP must answer from every node (the static routes) and
# the Service from every node (kube-proxy). The namespace is deleted after.
cmd_check() {
	local ns=firedrill-check start t n nodes pods ip node svc got want=0 ready=0 deadline
	[ -f "$RUN/port" ] || die "cluster $NAME is not up: scripts/cluster.sh up"
	need_docker
	need curl jq
	start=$(now)
	n=$(cat "$RUN/nodes")
	cmd_load firedrill/stub:local
	api "/api/v1/namespaces/$ns" >/dev/null 2>&1 && die "check: namespace $ns exists (a check is running, or one was killed: delete it and retry)"
	t=$(now)
	create /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\",\"labels\":{\"firedrill\":\"true\"}}}"
	create "/apis/apps/v1/namespaces/$ns/deployments" "$(jq -nc --argjson n "$n" '{apiVersion: "apps/v1", kind: "Deployment",
		metadata: {name: "stub"},
		spec: {replicas: $n, selector: {matchLabels: {app: "stub"}},
			template: {metadata: {labels: {app: "stub"}}, spec: {
				affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {app: "stub"}}, topologyKey: "kubernetes.io/hostname"}]}},
				terminationGracePeriodSeconds: 1,
				tolerations: [{key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule"}],
				containers: [{name: "stub", image: "firedrill/stub:local", imagePullPolicy: "Never", ports: [{containerPort: 8080}],
					readinessProbe: {httpGet: {path: "/healthz", port: 8080}, periodSeconds: 1}}]}}}}')"
	create "/api/v1/namespaces/$ns/services" '{"apiVersion":"v1","kind":"Service","metadata":{"name":"stub"},"spec":{"selector":{"app":"stub"},"ports":[{"port":80,"targetPort":8080}]}}'
	deadline=$(($(date +%s) + 60))
	while :; do
		pods=$(api "/api/v1/namespaces/$ns/pods?labelSelector=app%3Dstub" 2>/dev/null || true)
		ready=$(printf '%s' "$pods" | jq -r '[.items[]? | select(any(.status.conditions[]?; .type == "Ready" and .status == "True")) | .spec.nodeName] | unique | length' 2>/dev/null || echo 0)
		[ "$ready" -ge "$n" ] && break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			printf '%s' "$pods" | jq -r '.items[]? | "\(.metadata.name) on \(.spec.nodeName // "-"): \(.status.phase) \([.status.containerStatuses[]?.state | to_entries[] | "\(.key) \(.value.reason // "")"] | join(","))"' >&2 || true
			api "/api/v1/namespaces/$ns/events" 2>/dev/null | jq -r '.items[] | "event: \(.involvedObject.name): \(.reason): \(.message)"' >&2 || true
			die "check: $ready of $n pods Ready on distinct nodes after 60 s (pods and events above); delete namespace $ns before retrying"
		fi
		sleep 0.25
	done
	step check-pods "$n/$n" "stub pods Ready, one per node" "$(since "$t")"
	t=$(now)
	nodes=$(docker ps --filter "label=firedrill.k8s.cluster=$NAME" --format '{{.Names}}' | sort)
	for ip in $(printf '%s' "$pods" | jq -r '.items[].status.podIP'); do
		for node in $nodes; do
			want=$((want + 1))
			got=$(http "$node" "$ip" 8080 /healthz) || true
			[ "${got#* }" = "200 OK" ] || die "check: GET http://$ip:8080/healthz from $node: '${got:-no answer}' (pod routes between nodes broken?)"
		done
	done
	step check-pod-ip ok "$want requests: every pod IP answers from every node" "$(since "$t")"
	t=$(now)
	svc=$(api "/api/v1/namespaces/$ns/services/stub" | jq -r .spec.clusterIP)
	want=0
	for node in $nodes; do
		for _ in 1 2 3; do
			want=$((want + 1))
			got=$(http "$node" "$svc" 80 /) || true
			[ "${got#* }" = "200 OK" ] || die "check: GET http://$svc/ (Service stub) from $node: '${got:-no answer}' (kube-proxy rules missing?)"
		done
	done
	step check-service ok "$want requests to Service $svc:80 from every node" "$(since "$t")"
	api "/api/v1/namespaces/$ns" -X DELETE >/dev/null || die "check: deleting namespace $ns failed"
	step check 'done' "namespace $ns deleted" "$(since "$start")"
}

[ $# -gt 0 ] || usage
cmd=$1
shift
case $cmd in
build) cmd_build ;;
up) cmd_up "$@" ;;
down) cmd_down ;;
wipe) cmd_wipe ;;
status) cmd_status ;;
kubeconfig) cmd_kubeconfig ;;
load) cmd_load "$@" ;;
check) cmd_check ;;
-h | --help | help) usage ;;
*) die "unknown subcommand '$cmd' (build, up [N], down, status, kubeconfig, load IMAGE..., check, wipe)" ;;
esac
