#!/usr/bin/env bash
# cluster-test.sh checks scripts/cluster.sh end to end on this machine, with a
# cluster of its own (FIREDRILL_K8S_NAME, default firedrill-k8s-test: another
# cluster started with make cluster is left alone):
#
#   bad input    up with a bad node count, check/kubeconfig with no cluster:
#                refused, with the message
#   up           3 nodes Ready (up's own check: GET /api/v1/nodes through
#                127.0.0.1 with the admin certificate), every node container
#                carries the labels, the API answers on 127.0.0.1 only
#   check        pods on every node, reached by pod IP and Service
#   up again     refused while the cluster is up
#   kernel       the host's kernel.panic, kernel.panic_on_oops and
#                vm.overcommit_memory equal before and after; and down fails
#                loudly when they differ from what up recorded (the record is
#                altered: the host's own settings are never written)
#   down         0 containers, 0 networks, no host directory left
#   timeout      up with FIREDRILL_K8S_UP_TIMEOUT=1 fails naming how many
#                nodes were Ready, with their logs; down cleans up
#   kill -9      up killed mid-way; down removes what it left
#
# Not part of make test or .ci/run yet: it needs the binaries and the node
# image (scripts/cluster.sh build) and takes about 2 minutes.
# shellcheck disable=SC2015 # "test && pass || fail": pass never fails
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
C="$ROOT/scripts/cluster.sh"
export FIREDRILL_K8S_NAME=${FIREDRILL_K8S_NAME:-firedrill-k8s-test}
CACHE=${FIREDRILL_K8S_CACHE:-/var/cache/firedrill/k8s}
RUN="$CACHE/run/$FIREDRILL_K8S_NAME"
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory)
failures=0

pass() { printf 'PASS  %s\n' "$*"; }
fail() {
	printf 'FAIL  %s\n' "$*"
	failures=$((failures + 1))
}
# refused WHAT PATTERN CMD...: CMD must fail with PATTERN in its output.
refused() {
	local what=$1 pattern=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		fail "$what: succeeded (output: $out)"
	elif grep -q -- "$pattern" <<<"$out"; then
		pass "$what: refused ($(grep -m1 -- "$pattern" <<<"$out"))"
	else
		fail "$what: failed without '$pattern': $out"
	fi
}
left() {
	printf '%d containers, %d networks, dir %s' \
		"$(docker ps -aq --filter "label=firedrill.k8s.cluster=$FIREDRILL_K8S_NAME" | grep -c .)" \
		"$(docker network ls -q --filter "label=firedrill.k8s.cluster=$FIREDRILL_K8S_NAME" | grep -c .)" \
		"$([ -e "$RUN" ] && echo present || echo gone)"
}
clean() {
	local got
	got=$(left)
	if [ "$got" = "0 containers, 0 networks, dir gone" ]; then pass "$1: $got"; else fail "$1: $got"; fi
}
settings() { sysctl "${SYSCTLS[@]}" | tr '\n' ' '; }
trap '"$C" down >/dev/null 2>&1 || true' EXIT

before=$(settings)
[ "$(left)" = "0 containers, 0 networks, dir gone" ] || { echo "cluster $FIREDRILL_K8S_NAME exists: scripts/cluster.sh down with FIREDRILL_K8S_NAME=$FIREDRILL_K8S_NAME first"; exit 1; }

refused "up 0" "N must be a number of nodes" "$C" up 0
refused "up abc" "N must be a number of nodes" "$C" up abc
refused "check without a cluster" "is not up" "$C" check
refused "kubeconfig without a cluster" "is not up" "$C" kubeconfig
refused "unknown subcommand" "unknown subcommand" "$C" start

"$C" build >/dev/null
if "$C" up 3; then pass "up 3"; else fail "up 3"; fi
labels=$(docker ps --filter "label=firedrill.k8s.cluster=$FIREDRILL_K8S_NAME" --filter label=firedrill=true --filter label=firedrill.system=k8s --filter label=firedrill.run -q | grep -c .)
[ "$labels" -eq 3 ] && pass "3 node containers labelled firedrill=true, firedrill.system=k8s, firedrill.run" || fail "$labels labelled node containers, want 3"
ports=$(docker port "$FIREDRILL_K8S_NAME-0" | tr '\n' ' ')
[[ $ports =~ ^"6443/tcp -> 127.0.0.1:"[0-9]+" "$ ]] && pass "API published on 127.0.0.1 only: $ports" || fail "published ports: $ports"
kc=$("$C" kubeconfig)
grep -q "server: https://127.0.0.1:" "$kc" && pass "kubeconfig $kc points at 127.0.0.1" || fail "kubeconfig $kc: $(grep server: "$kc")"
if "$C" check; then pass "check: pods on every node, by pod IP and Service"; else fail "check"; fi
"$C" status | grep 'memory' || true
refused "up while up" "already up" "$C" up 3
[ "$(settings)" = "$before" ] && pass "kernel settings unchanged after up: $before" || fail "kernel settings: before $before, now $(settings)"

# down must fail loudly when the settings differ from the record.
sed -i 's/^kernel.panic=.*/kernel.panic=12345/' "$RUN/sysctl.before"
refused "down with kernel.panic changed (in the record)" "kernel settings changed after down" "$C" down
clean "after down"
[ "$(settings)" = "$before" ] && pass "kernel settings unchanged after down: $before" || fail "kernel settings: before $before, now $(settings)"

refused "up with a 1 s timeout" "of 1 nodes Ready after 1s" env FIREDRILL_K8S_UP_TIMEOUT=1 "$C" up 1
"$C" down >/dev/null
clean "down after the timeout"

"$C" up 2 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	docker ps -q --filter "label=firedrill.k8s.cluster=$FIREDRILL_K8S_NAME" | grep -q . && break
	sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
echo "kill -9 of up left: $(left)"
"$C" down >/dev/null
clean "down after kill -9 of up"
[ "$(settings)" = "$before" ] && pass "kernel settings unchanged at the end: $before" || fail "kernel settings: before $before, now $(settings)"

if [ "$failures" -gt 0 ]; then
	echo "cluster-test: $failures failed"
	exit 1
fi
echo "cluster-test: all passed"
