#!/usr/bin/env bash
# wipe.sh removes every Docker container, then every network and named
# volume, labelled firedrill=true: what a killed test process left behind,
# and (scripts/cluster.sh wipe) every Kubernetes cluster's node containers,
# networks and host directories. Nothing else is touched (no images, nothing
# unlabelled). It is the fallback of
# `make wipe` when cmd/firedrill is not there; `firedrill wipe` does the same
# for the Docker resources (and make wipe runs scripts/cluster.sh wipe first).
set -euo pipefail

label=firedrill=true
status=0
# Kubernetes clusters of scripts/cluster.sh first: their host directories
# (containerd and kubelet state) are not Docker resources.
"$(dirname "${BASH_SOURCE[0]}")/cluster.sh" wipe || status=1
containers=$(docker ps -aq --filter "label=$label")
if [ -n "$containers" ]; then
	# shellcheck disable=SC2086 # one id per word
	docker rm -f -v $containers >/dev/null || status=1
fi
networks=$(docker network ls -q --filter "label=$label")
if [ -n "$networks" ]; then
	# shellcheck disable=SC2086
	docker network rm $networks >/dev/null || status=1
fi
volumes=$(docker volume ls -q --filter "label=$label")
if [ -n "$volumes" ]; then
	# shellcheck disable=SC2086
	docker volume rm -f $volumes >/dev/null || status=1
fi
printf 'wipe: removed %d containers, %d networks, %d volumes labelled %s\n' \
	"$(printf '%s' "$containers" | grep -c .)" "$(printf '%s' "$networks" | grep -c .)" "$(printf '%s' "$volumes" | grep -c .)" "$label"
exit $status
