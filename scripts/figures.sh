#!/usr/bin/env bash
# figures.sh prints the foundation figures (issue 2):
#   - `make images` cold and warm. Cold builds every image under a separate
#     repository prefix (firedrill-figures/...) with an empty Go build cache,
#     and no cached .debs, so it does all the work a fresh machine does (the Go module cache and
#     apt's package lists stay) without touching the firedrill/* images
#     other runs use; the warm run repeats it; those images are removed after.
#   - start-to-ready and teardown of a three-container system:
#     `go test -run TestFigures -v ./scenarios/` when that test exists.
# Env: FIGURES_IMAGES=0 skips the image builds (cold takes a minute or two).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
export TESTCONTAINERS_RYUK_DISABLED=${TESTCONTAINERS_RYUK_DISABLED:-true}
export TESTCONTAINERS_HOST_OVERRIDE=${TESTCONTAINERS_HOST_OVERRIDE:-127.0.0.1}

elapsed() { # command... ; prints seconds to fd 3
	local t0 t1
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }' >&3
}

if [ "${FIGURES_IMAGES:-1}" != 0 ]; then
	prefix=firedrill-figures
	tmp=$(mktemp -d /var/tmp/firedrill-figures.XXXXXX)
	remove_figure_images() { # only the images this script built
		docker images --format '{{.Repository}}:{{.Tag}}' | { grep "^$prefix/" || true; } | xargs -r docker rmi >/dev/null
	}
	trap 'remove_figure_images || true; rm -rf "$tmp"' EXIT
	remove_figure_images
	export FIREDRILL_IMAGE_PREFIX=$prefix GOCACHE="$tmp/gocache" FIREDRILL_DEB_CACHE="$tmp/debs"
	echo "== make images, cold (prefix $prefix/, empty GOCACHE)"
	cold=$(elapsed make -s images 3>&1 1>&2)
	echo "== make images, warm"
	warm=$(elapsed make -s images 3>&1 1>&2)
	unset FIREDRILL_IMAGE_PREFIX GOCACHE FIREDRILL_DEB_CACHE
fi

if grep -qs 'func TestFigures' scenarios/*_test.go; then
	echo "== system start/teardown: go test -run TestFigures -v ./scenarios/"
	make -s images >/dev/null
	go test -count=1 -run TestFigures -v ./scenarios/
else
	echo "== system start/teardown: no TestFigures in ./scenarios yet: skipped"
fi

if [ "${FIGURES_IMAGES:-1}" != 0 ]; then
	printf '\nmake images: cold %ss (target <= 180s), warm %ss (target <= 5s)\n' "$cold" "$warm"
fi
