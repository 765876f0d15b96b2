#!/usr/bin/env bash
# test-kube.sh: the tests that need a real Kubernetes cluster (make
# test-kube; .ci/run runs it after make test).
#
# Builds the cluster (scripts/cluster.sh build: cached by version and
# content), starts a 3-node cluster of its own (FIREDRILL_K8S_NAME, default
# firedrill-test: a cluster `make cluster` started is left alone), runs the
# tests with FIREDRILL_KUBE=1 (which makes a missing cluster a failure,
# not a skip), then removes the cluster, however the tests ended.
#
# The cluster's controller manager marks a silent node NotReady after
# KUBE_NODE_GRACE (default 20s, Kubernetes' own default is 40-50s): the
# node-loss and partition drills' budgets assume it.
#
# Env: KUBE_TEST_PKGS (default: the packages with such tests), KUBE_RUN
# (a -run pattern), KUBE_TEST_TIMEOUT (default 25m), KUBE_NODES (3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1; then export PATH="$PATH:/usr/local/go/bin"; fi

export FIREDRILL_K8S_NAME=${FIREDRILL_K8S_NAME:-firedrill-test}
export FIREDRILL_K8S_NODE_GRACE=${KUBE_NODE_GRACE:-20s}
export FIREDRILL_KUBE=1
pkgs=${KUBE_TEST_PKGS:-./scenarios/kube/ ./faults/kube/ ./drills/}
run=${KUBE_RUN:-^Test(Kube|Rehearse|HostKernel|NothingLeft)}

scripts/cluster.sh build
if scripts/cluster.sh kubeconfig >/dev/null 2>&1; then
	echo "test-kube.sh: cluster $FIREDRILL_K8S_NAME is up (left by an earlier run?): scripts/cluster.sh down first (FIREDRILL_K8S_NAME=$FIREDRILL_K8S_NAME)" >&2
	exit 1
fi
trap 'scripts/cluster.sh down || echo "test-kube.sh: scripts/cluster.sh down failed: make wipe" >&2' EXIT
scripts/cluster.sh up "${KUBE_NODES:-3}"
# shellcheck disable=SC2086 # a list of packages
go test -p 1 -count=1 -timeout "${KUBE_TEST_TIMEOUT:-25m}" -run "$run" $pkgs
