#!/usr/bin/env bash
# docker.sh makes sure a Docker daemon answers: when `docker info` fails it
# installs docker.io from Debian's packages (when the docker CLI or dockerd
# is missing and we run as root), starts dockerd in the background and waits
# for it. Exits non-zero with the fix when it cannot.
#
# Env: DOCKERD_LOG (default /var/tmp/firedrill-dockerd.log),
#      DOCKER_WAIT (seconds to wait for the daemon, default 60).
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/tmp/firedrill-dockerd.log}
DOCKER_WAIT=${DOCKER_WAIT:-60}

say() { printf 'docker.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
	die "DOCKER_HOST=$DOCKER_HOST does not answer; start that daemon or unset DOCKER_HOST"
fi

root=false
[ "$(id -u)" -eq 0 ] && root=true

if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
	$root || die "Docker is not installed: install it as root (Debian/Ubuntu: sudo apt-get install -y docker.io), start it (sudo dockerd &), then retry"
	command -v apt-get >/dev/null 2>&1 || die "Docker is not installed and apt-get is not available: install Docker Engine, start it, then retry"
	say "installing docker.io (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq docker.io >/dev/null || die "apt-get install docker.io failed"
fi

# dockerd exists. Is one running that only needs a moment, or none at all?
if ! pgrep -x dockerd >/dev/null 2>&1; then
	$root || die "no Docker daemon is running and we are not root: start it (sudo dockerd & or sudo systemctl start docker), or add yourself to the docker group"
	say "starting dockerd (log: $DOCKERD_LOG)"
	# setsid: the daemon outlives this script and its process group.
	setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
fi

say "waiting up to ${DOCKER_WAIT}s for the Docker daemon"
deadline=$((SECONDS + DOCKER_WAIT))
until docker info >/dev/null 2>&1; do
	if [ $SECONDS -ge $deadline ]; then
		[ -f "$DOCKERD_LOG" ] && tail -n 20 "$DOCKERD_LOG" >&2
		if ! $root && [ -S /var/run/docker.sock ]; then
			die "the Docker daemon runs but $(id -un) may not use /var/run/docker.sock: add the user to the docker group (sudo usermod -aG docker $(id -un)) and log in again"
		fi
		die "the Docker daemon did not answer within ${DOCKER_WAIT}s (log above: $DOCKERD_LOG)"
	fi
	sleep 0.5
done
say "Docker daemon is up ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
