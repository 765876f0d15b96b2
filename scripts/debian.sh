# shellcheck shell=bash
# debian.sh: what scripts/images.sh (firedrill/postgres) and
# scripts/cluster.sh (firedrill/k8s-node) share to make a root file system
# from Debian's packages. Sourced, not run. The callers set `die` and
# WORK_PARENT, and count `declare -f debian_bootstrap` (plus the variables
# below) in their image's inputs hash.
#
# Env: FIREDRILL_DEBIAN_MIRROR, FIREDRILL_DEBIAN_SECURITY_MIRROR,
# FIREDRILL_DEB_CACHE (downloaded .debs kept between builds).

DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${FIREDRILL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${FIREDRILL_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
DEB_CACHE=${FIREDRILL_DEB_CACHE:-/var/cache/firedrill/debs}

# debian_arch prints the package architecture the build makes.
debian_arch() { dpkg --print-architecture 2>/dev/null || uname -m; }

# ensure_mmdebstrap installs mmdebstrap with apt-get when it is missing
# (as root); HINT says what else the user can do.
ensure_mmdebstrap() {
	local hint=$1 log
	command -v mmdebstrap >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		die "mmdebstrap is missing: install it (Debian/Ubuntu: sudo apt-get install -y mmdebstrap)${hint:+, or $hint}"
	fi
	echo "installing mmdebstrap (apt-get)"
	log=$(mktemp "$WORK_PARENT/firedrill-apt.XXXXXX")
	apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; die "apt-get update failed"; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >>"$log" 2>&1 ||
		{ cat "$log" >&2; rm -f "$log"; die "apt-get install mmdebstrap failed"; }
	rm -f "$log"
}

# debian_bootstrap VARIANT PACKAGES TARBALL LOG [MMDEBSTRAP-ARGS...] makes
# TARBALL, a root file system of DEBIAN_SUITE's VARIANT with PACKAGES
# (comma-separated), in root mode. Downloaded .debs are kept in DEB_CACHE
# between builds (a rebuild downloads only what changed); dpkg skips its
# fsyncs and leaves out docs, man pages and locales; the apt cache is
# emptied. The extra arguments (hooks) follow these. On failure it prints
# the log's tail and returns 1.
debian_bootstrap() {
	local variant=$1 packages=$2 tarball=$3 log=$4
	shift 4
	mkdir -p "$DEB_CACHE"
	# The hooks are single-quoted on purpose: mmdebstrap runs them with the
	# new root file system as $1.
	# shellcheck disable=SC2016
	if ! TMPDIR="$(dirname "$tarball")" mmdebstrap --quiet --mode=root --variant="$variant" \
		--include="$packages" \
		--skip=essential/unlink \
		--setup-hook="mkdir -p \"\$1/var/cache/apt/archives/\"" \
		--setup-hook="sync-in '$DEB_CACHE' /var/cache/apt/archives/" \
		--dpkgopt='force-unsafe-io' \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--aptopt='Acquire::Retries "3"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--customize-hook="sync-out /var/cache/apt/archives '$DEB_CACHE'" \
		--customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb' \
		"$@" \
		"$DEBIAN_SUITE" "$tarball" \
		"deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
		"deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
		"deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main" \
		>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		return 1
	fi
}
