#!/usr/bin/env bash
# images.sh builds every image firedrill uses, here, from source or from
# Debian's packages. Nothing is pulled from a container registry.
#
#   scripts/images.sh [NAME...]     NAME: toxiproxy postgres stub pipeline
#                                   prometheus alertmanager etcd nats
#                                   (default: all)
#
# Each image is tagged firedrill/NAME:<inputs hash>, where the hash covers
# everything the image is made from (this script, the postgres entrypoint,
# the Go toolchain version, the exact module versions and the project's own
# source files that go into a Go binary, the Debian suite, mirrors and
# package list; not the versions Debian serves today: to pick up a Debian
# update, `docker rmi firedrill/postgres:<hash>` and rebuild). When that tag
# already exists nothing is built. Then
# firedrill/NAME:local is (re)pointed at it; that is the ref the code uses.
# After a build, older hash tags of that image are removed.
#
# Overrides: when FIREDRILL_<NAME>_IMAGE is set (e.g.
# FIREDRILL_POSTGRES_IMAGE=postgres:16) the image is not built here: the
# user supplies it, and scenarios.Image() returns it.
#
# Images
#   firedrill/toxiproxy  toxiproxy server (github.com/Shopify/toxiproxy/v2
#                        cmd/server, the version in go.mod), FROM scratch.
#                        Entrypoint /toxiproxy, default cmd
#                        "-host=0.0.0.0 -port=8474"; API on 8474/tcp.
#   firedrill/stub       scenarios/stub/cmd/stub, FROM scratch, entrypoint
#                        /stub, listens on :8080 (flag -addr).
#   firedrill/pipeline   scenarios/pipeline/cmd/pipeline, FROM scratch,
#                        entrypoint /pipeline (subcommand as cmd). Skipped
#                        with a notice while that directory does not exist.
#   The Go images run as uid/gid 65534 and have an empty /tmp (mode 1777).
#
#   firedrill/prometheus    Prometheus (the pin PROMETHEUS_VERSION below) and
#   firedrill/alertmanager  Alertmanager (ALERTMANAGER_VERSION), built from
#                        the Go module proxy, FROM scratch, without web UI
#                        assets (the HTTP API and /-/ready work). Their hash
#                        covers only the pin, the Go toolchain, the build
#                        flags and their recipe (upstream_image), not the
#                        rest of this script: editing other parts does not
#                        redo the ~2 min Prometheus build. How to run them:
#                        see "Upstream images" below.
#
#   firedrill/nats       nats-server (NATS_VERSION below) from the Go module
#                        proxy, FROM scratch: entrypoint /bin/nats-server,
#                        user 65534:65534, client 4222/tcp, cluster routes
#                        6222/tcp, monitoring 8222/tcp. Default cmd
#                        "-c /etc/nats/nats-server.conf" (a single server
#                        with JetStream in /data, monitoring on 8222).
#                        /data (owner 65534, mode 1777) is the JetStream store
#                        dir, on the container's own filesystem. Its hash
#                        covers only the pin, the Go toolchain, the flags
#                        and its recipe (nats_image), like the upstream
#                        images'.
#
#   firedrill/etcd       etcd (ETCD_VERSION below), built through its etcdmain
#                        package in a temporary module, FROM scratch. See
#                        "etcd image" below.
#
#   firedrill/postgres   PostgreSQL 15 from Debian bookworm's packages
#                        (mmdebstrap --variant=apt, then docker import).
#     user      runs as the non-root user "postgres"; superuser role
#               "postgres"; database "postgres" always exists.
#     port      5432/tcp, listen_addresses='*'; unix socket in /tmp
#               (PGHOST=/tmp is set, so `docker exec C psql` just works).
#     ready     when the log says "database system is ready to accept
#               connections" (once per start: the data directory is
#               initialised when the image is built, so there is no
#               temporary server, and a container is ready in about 0.5 s).
#     auth      trust from anywhere (a test database on a private network);
#               with POSTGRES_PASSWORD set, that password is given to role
#               postgres and TCP clients other than loopback must use it
#               (scram-sha-256). POSTGRES_HOST_AUTH_METHOD overrides the
#               method for TCP clients.
#     env       POSTGRES_DB     also create this database (if missing).
#               POSTGRES_PASSWORD, POSTGRES_HOST_AUTH_METHOD: see auth.
#               PGDATA          data directory (default
#                               /var/lib/postgresql/data, pre-initialised);
#                               an empty or missing one is initdb'd at start.
#               FIREDRILL_PG_FAST=0  turns off the speed settings below.
#     speed     by default: fsync=off synchronous_commit=off
#               full_page_writes=off (a test database: a killed container
#               loses nothing, only a host crash would). Arguments given
#               as the container's cmd are appended to the postgres
#               command line, so "-c fsync=on" overrides them. A cmd whose
#               first word does not start with "-" is run instead of
#               postgres (e.g. "psql --version").
#     stop      STOPSIGNAL SIGINT (fast shutdown).
#     size      LLVM (JIT) is removed to save 130 MB: jit=off.
#
# Env: FIREDRILL_<NAME>_IMAGE (above); FIREDRILL_DEBIAN_MIRROR,
# FIREDRILL_DEBIAN_SECURITY_MIRROR; FIREDRILL_DEB_CACHE (downloaded .debs
# kept between builds, default /var/cache/firedrill/debs);
# FIREDRILL_BUILD_TMPDIR (scratch space, default /var/tmp; postgres needs
# about 1.5 GB there); FIREDRILL_IMAGE_PREFIX (default firedrill; for
# measurements only).
#
# Concurrent runs on one machine take turns (flock). Output: one line per
# image (built, cached, override or skipped, and its time).
#
# Requirements: docker, go (or /usr/local/go/bin/go), tar, gzip, sha256sum; for
# postgres mmdebstrap (installed with apt-get when missing and run as root)
# and access to a Debian mirror (FIREDRILL_DEBIAN_MIRROR, default
# http://deb.debian.org/debian).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/images.sh"
PG_ENTRYPOINT="$ROOT/scripts/postgres-entrypoint.sh"
cd "$ROOT"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi

ALL=(toxiproxy postgres stub pipeline prometheus alertmanager etcd nats)
DEBIAN_PACKAGES=postgresql-15
WORK_PARENT=${FIREDRILL_BUILD_TMPDIR:-/var/tmp}
# DEBIAN_SUITE, the mirrors, DEB_CACHE, ensure_mmdebstrap, debian_bootstrap.
DEBIAN_LIB="$ROOT/scripts/debian.sh"
# shellcheck source=scripts/debian.sh
. "$DEBIAN_LIB"
# Repository prefix of the built images. Only for measuring (scripts/figures.sh
# builds a cold set under another prefix so nobody's images are touched); the
# code uses firedrill/NAME:local or the FIREDRILL_NAME_IMAGE overrides.
PREFIX=${FIREDRILL_IMAGE_PREFIX:-firedrill}

# Upstream programs built from the Go module proxy: the version pins, in one
# place. Changing a pin (or the build flags) rebuilds that image only.
PROMETHEUS_MODULE=github.com/prometheus/prometheus
PROMETHEUS_VERSION=v0.316.0 # Prometheus 3.16.0 (module v0.3XX.Y = release 3.XX.Y)
ALERTMANAGER_MODULE=github.com/prometheus/alertmanager
ALERTMANAGER_VERSION=v0.35.0
UPSTREAM_BUILD_FLAGS=(-trimpath -mod=readonly)

# ---- NATS (catalogue): firedrill/nats ----
# The module root is the main package; its go.mod has no replace directives.
NATS_MODULE=github.com/nats-io/nats-server/v2
NATS_VERSION=v2.15.2
# ---- end NATS ----

# etcd (the catalogue's scenarios/etcd): its own pin and recipe, etcd_image.
ETCD_MODULE=go.etcd.io/etcd/server/v3
ETCD_VERSION=v3.6.8
UPSTREAM_LDFLAGS="-s -w"

die() { printf 'images.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
sha() { sha256sum | cut -c1-64; }

usage() {
	sed -n '2,5p' "$SELF" | sed 's/^# \{0,1\}//'
	exit 2
}

# env_var NAME prints the override variable for image NAME.
env_var() { printf 'FIREDRILL_%s_IMAGE' "$(printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_')"; }

command -v docker >/dev/null 2>&1 || die "docker not found: run scripts/docker.sh (as root) or install docker.io"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon: run scripts/docker.sh (as root), or check DOCKER_HOST and permissions"

WORK=$(mktemp -d "$WORK_PARENT/firedrill-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# One build at a time on this machine: concurrent `make images` from several
# shells wait for each other instead of building the same thing twice.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$WORK_PARENT/firedrill-images.lock"
	if ! flock -n 9; then
		echo "images.sh: waiting for another images.sh to finish"
		flock 9
	fi
fi

SELF_HASH=$(sha <"$SELF")
GOVERSION=$(go env GOVERSION)
GOARCH=$(go env GOARCH)
export CGO_ENABLED=0 GOOS=linux GOARCH GOFLAGS="${GOFLAGS:--buildvcs=false}"

# go_inputs PKG prints a manifest of everything that goes into PKG's binary:
# module versions of its dependencies and the content hash of every file
# from this module.
go_inputs() {
	local pkg=$1 line dir files f
	printf 'script %s\ngo %s %s %s\n' "$SELF_HASH" "$GOVERSION" "$GOARCH" "$GOFLAGS"
	go list -deps -f '{{if not .Standard}}{{if and .Module .Module.Main}}{{.Dir}}|{{join .GoFiles " "}} {{join .EmbedFiles " "}}{{else if .Module}}mod {{.Module.Path}}@{{.Module.Version}}{{with .Module.Replace}} => {{.Path}}@{{.Version}}{{end}}{{end}}{{end}}' "$pkg" |
		sort -u |
		while IFS= read -r line; do
			case $line in
			*'|'*)
				dir=${line%%|*}
				files=${line#*|}
				for f in $files; do
					printf 'file %s %s\n' "${dir#"$ROOT"/}/$f" "$(sha <"$dir/$f")"
				done
				;;
			?*) printf '%s\n' "$line" ;;
			esac
		done
}

# go_image NAME PKG TAG ENTRYPOINT_JSON CMD_JSON [EXPOSE]
go_image() {
	local name=$1 pkg=$2 tag=$3 entrypoint=$4 cmd=$5 expose=${6:-} stage ldflags=(-s -w)
	stage="$WORK/$name"
	mkdir -p "$stage/tmp"
	chmod 1777 "$stage/tmp"
	local build=()
	if [ "$name" = toxiproxy ]; then
		ldflags+=("-X github.com/Shopify/toxiproxy/v2.Version=$(go list -m -f '{{.Version}}' github.com/Shopify/toxiproxy/v2 | sed 's/^v//')")
		# firedrill's one change to toxiproxy (scripts/toxiproxy-dial.pl):
		# each client's upstream dialled on its own, not in the accept loop.
		# A copy of the module with the change, swapped in by a temporary
		# go.work (the module cache cannot be overlaid; go.mod stays as is).
		local mod patched="$WORK/toxiproxy-patched"
		mod=$(go list -m -f '{{.Dir}}' github.com/Shopify/toxiproxy/v2)
		rm -rf "$patched" && mkdir -p "$patched" && cp -r "$mod" "$patched/module" && chmod -R u+w "$patched/module"
		perl "$ROOT/scripts/toxiproxy-dial.pl" "$mod/proxy.go" "$patched/module/proxy.go" || die "toxiproxy: the dial patch does not apply"
		printf 'go %s\n\nuse %s\n\nreplace github.com/Shopify/toxiproxy/v2 => %s\n' "$(go list -m -f '{{.GoVersion}}')" "$ROOT" "$patched/module" >"$patched/go.work"
		build=(env GOWORK="$patched/go.work")
	fi
	"${build[@]}" go build -trimpath -ldflags "${ldflags[*]}" -o "$stage/$name" "$pkg"
	local changes=(
		--change "ENTRYPOINT $entrypoint"
		--change "CMD $cmd"
		--change "USER 65534:65534"
		--change "LABEL org.firedrill.image=$name org.firedrill.inputs=${tag##*:}"
	)
	[ -n "$expose" ] && changes+=(--change "EXPOSE $expose")
	tar --numeric-owner --owner=0 --group=0 -C "$stage" -cf - . |
		docker import --message "firedrill scripts/images.sh" "${changes[@]}" - "$tag" >/dev/null
}

# ---- Upstream images: firedrill/prometheus, firedrill/alertmanager --------
# Running them (checked by hand with Docker 20.10; traffic to 127.0.0.1 only):
#
#   firedrill/prometheus:local   entrypoint /bin/prometheus, user 65534:65534,
#     API on 9090/tcp. Default cmd (used when no cmd is given):
#       --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus
#     the built-in config scrapes Prometheus itself. A cmd replaces the whole
#     default, so give both flags again, e.g.:
#       docker run -d -p 127.0.0.1::9090 --tmpfs /prometheus:size=256m \
#         -v $PWD/prometheus.yml:/etc/prometheus/prometheus.yml:ro \
#         -v $PWD/rules.yml:/etc/prometheus/rules.yml:ro \
#         firedrill/prometheus:local \
#         --config.file=/etc/prometheus/prometheus.yml \
#         --storage.tsdb.path=/prometheus --web.enable-lifecycle
#       curl 127.0.0.1:<port>/-/ready   # 200 about 0.2 s after start
#     Config: mount or copy (testcontainers Files, mode 0644) the file to
#     /etc/prometheus/prometheus.yml; rule files anywhere readable (here
#     /etc/prometheus/, referenced as rule_files: [/etc/prometheus/rules.yml]).
#     Storage: /prometheus (mode 1777) works as is, as a --tmpfs (no uid/mode
#     options needed: Docker gives the tmpfs this directory's mode) and under
#     any --user; so does --storage.tsdb.path=/tmp/prometheus. Prometheus
#     exits at once if its storage path is not writable (queries.active:
#     permission denied). No VOLUME is declared: nothing is left behind.
#     --web.enable-lifecycle allows POST /-/reload (re-read config and
#     rules) and /-/quit. No web UI: / redirects to a 404; /api/v1/* works.
#     An Alertmanager on the same network: alerting: alertmanagers:
#     [{static_configs: [{targets: ["<alias>:9093"]}]}].
#
#   firedrill/alertmanager:local   entrypoint /bin/alertmanager, user
#     65534:65534, API on 9093/tcp. Default cmd:
#       --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager --cluster.listen-address=
#     (the last flag turns HA gossip off: no port 9094, no settling; drop it
#     and add --cluster.peer=... for a cluster). The built-in config routes
#     everything to one receiver "null" that notifies nobody. E.g.:
#       docker run -d -p 127.0.0.1::9093 --network NET --network-alias am \
#         --tmpfs /alertmanager:size=64m \
#         -v $PWD/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro \
#         firedrill/alertmanager:local \
#         --config.file=/etc/alertmanager/alertmanager.yml \
#         --storage.path=/alertmanager --cluster.listen-address=
#       curl 127.0.0.1:<port>/-/ready   # 200 about 0.1 s after start
#     Storage as for Prometheus (/alertmanager, 1777, tmpfs or any user
#     fine). Alerts: GET /api/v2/alerts. No web UI: / and /ui/ show a
#     placeholder page.

# upstream_inputs NAME prints what firedrill/NAME is made from: the pinned
# module version, the Go toolchain, the build flags and the text of
# upstream_image (the recipe: files, config, entrypoint, ownership). Nothing
# else of this script or of the repository: it is cheap (no go command runs),
# so an unchanged rerun only looks the tag up.
upstream_inputs() {
	local name=$1 mod ver
	case $name in
	prometheus) mod=$PROMETHEUS_MODULE ver=$PROMETHEUS_VERSION ;;
	alertmanager) mod=$ALERTMANAGER_MODULE ver=$ALERTMANAGER_VERSION ;;
	esac
	printf 'upstream %s %s@%s\n' "$name" "$mod" "$ver"
	printf 'go %s %s %s cgo=%s goos=%s\n' "$GOVERSION" "$GOARCH" "$GOFLAGS" "$CGO_ENABLED" "$GOOS"
	printf 'flags %s ldflags %s\n' "${UPSTREAM_BUILD_FLAGS[*]}" "$UPSTREAM_LDFLAGS"
	printf 'recipe %s\n' "$(declare -f upstream_image | sha)"
}

# upstream_image NAME TAG builds firedrill/NAME from its pinned module: the
# module's source from the Go module proxy (go mod download), a static binary
# (CGO_ENABLED=0, GOWORK=off, the module's own go.mod and go.sum), then
# FROM scratch with docker import. Layout (like the upstream images, minus
# busybox and the VOLUME):
#   /bin/NAME                      the program (entrypoint)
#   /etc/NAME/NAME.yml             a minimal default config (root, 0644)
#   /NAME                          data directory, WORKDIR, 65534:65534 1777
#   /tmp                           empty, 1777
#   /LICENSE /NOTICE               from the module
upstream_image() {
	local name=$1 tag=$2 mod ver pkg cmd expose dir src stage version ldflags conf tags=
	case $name in
	prometheus)
		mod=$PROMETHEUS_MODULE ver=$PROMETHEUS_VERSION pkg=./cmd/prometheus expose=9090/tcp
		# Only static_configs are used: without the service-discovery
		# plugins (cloud SDKs, Kubernetes client) the cold build is shorter.
		tags=remove_all_sd
		cmd='["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus"]'
		conf='global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
'
		;;
	alertmanager)
		mod=$ALERTMANAGER_MODULE ver=$ALERTMANAGER_VERSION pkg=./cmd/alertmanager expose=9093/tcp
		cmd='["--config.file=/etc/alertmanager/alertmanager.yml","--storage.path=/alertmanager","--cluster.listen-address="]'
		conf='route:
  receiver: "null"
receivers:
  - name: "null"
'
		;;
	*) die "upstream_image: unknown image $name" ;;
	esac
	stage="$WORK/$name/root" src="$WORK/$name/src"
	mkdir -p "$WORK/$name"
	# The module source, verified against go.sum's checksum database like
	# any download (outside any module, so firedrill's go.mod is untouched).
	if ! (cd "$WORK/$name" && GOWORK=off GO111MODULE=on go mod download -json "$mod@$ver") >"$WORK/$name/download.json" 2>"$WORK/$name/download.log"; then
		cat "$WORK/$name/download.json" "$WORK/$name/download.log" >&2
		die "$name: go mod download $mod@$ver failed (GOPROXY=$(go env GOPROXY))"
	fi
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$WORK/$name/download.json")
	[ -n "$dir" ] && [ -d "$dir" ] || die "$name: no source directory in go mod download's answer"
	# A writable copy: the module cache is read-only, and Alertmanager's
	# module lacks the built web UI that ui/web.go embeds (ui/app/dist, made
	# by npm in a release build): a placeholder page stands in for it (at /
	# and /ui/; served only as index.html.gz, as the release build ships it).
	cp -R "$dir" "$src"
	chmod -R u+w "$src"
	if [ "$name" = alertmanager ] && [ ! -d "$src/ui/app/dist" ]; then
		local d
		for d in elm mantine; do
			mkdir -p "$src/ui/app/dist/$d"
			printf '<!doctype html><title>Alertmanager</title><p>The web UI is not built into this image (firedrill); the API is under /api/v2/.\n' |
				gzip -9n >"$src/ui/app/dist/$d/index.html.gz"
		done
	fi
	version=$(tr -d '[:space:]' <"$src/VERSION" 2>/dev/null || true)
	ldflags="$UPSTREAM_LDFLAGS"
	ldflags+=" -X github.com/prometheus/common/version.Version=${version:-${ver#v}}"
	ldflags+=" -X github.com/prometheus/common/version.Revision=$ver"
	ldflags+=" -X github.com/prometheus/common/version.Branch=$ver"
	ldflags+=" -X github.com/prometheus/common/version.BuildUser=firedrill"
	mkdir -p "$stage/bin" "$stage/etc/$name" "$stage/$name" "$stage/tmp"
	# go's "downloading" lines (hundreds on a fresh machine) go to a log,
	# shown when the build fails.
	if ! (cd "$src" && GOWORK=off go build "${UPSTREAM_BUILD_FLAGS[@]}" ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$stage/bin/$name" "$pkg") >"$WORK/$name/build.log" 2>&1; then
		grep -v '^go: downloading ' "$WORK/$name/build.log" | tail -n 40 >&2
		die "$name: go build $mod@$ver $pkg failed (log above)"
	fi
	printf '%s' "$conf" >"$stage/etc/$name/$name.yml"
	chmod 0644 "$stage/etc/$name/$name.yml"
	chmod 0755 "$stage/bin" "$stage/etc" "$stage/etc/$name"
	# 1777, not 0775: a tmpfs mounted over it (docker run --tmpfs /NAME)
	# gets this directory's mode but root's ownership; so it stays
	# writable for 65534 and for any other --user.
	chmod 1777 "$stage/$name"
	chmod 1777 "$stage/tmp"
	for f in LICENSE NOTICE; do
		[ ! -f "$src/$f" ] || install -m 0644 "$src/$f" "$stage/$f"
	done
	# Everything root-owned but the data directory, which the program's user
	# (65534) must be able to write: one tar, its last entry appended with
	# the other owner.
	(cd "$stage" && find . -mindepth 1 -maxdepth 1 ! -name "$name" | sort |
		tar --numeric-owner --owner=0 --group=0 -cf "$WORK/$name/rootfs.tar" -T -)
	tar --numeric-owner --owner=65534 --group=65534 -C "$stage" -rf "$WORK/$name/rootfs.tar" "./$name"
	docker import --message "firedrill scripts/images.sh" \
		--change "ENTRYPOINT [\"/bin/$name\"]" \
		--change "CMD $cmd" \
		--change "USER 65534:65534" \
		--change "WORKDIR /$name" \
		--change "EXPOSE $expose" \
		--change "LABEL org.firedrill.image=$name org.firedrill.inputs=${tag##*:} org.firedrill.upstream=$mod@$ver" \
		"$WORK/$name/rootfs.tar" "$tag" >/dev/null
}

# ---- NATS (catalogue): nats_inputs, nats_image ----
# nats_inputs prints what firedrill/nats is made from: the pin, the Go
# toolchain, the flags and nats_image's own text (not the rest of this
# script).
nats_inputs() {
	printf 'upstream nats %s@%s\n' "$NATS_MODULE" "$NATS_VERSION"
	printf 'go %s %s %s cgo=%s goos=%s\n' "$GOVERSION" "$GOARCH" "$GOFLAGS" "$CGO_ENABLED" "$GOOS"
	printf 'flags %s ldflags %s\n' "${UPSTREAM_BUILD_FLAGS[*]}" "$UPSTREAM_LDFLAGS"
	printf 'recipe %s\n' "$(declare -f nats_image | sha)"
}

# nats_image TAG builds firedrill/nats from the pinned module, outside
# firedrill's go.mod (a copy of the module's source in $WORK, its own go.mod
# and go.sum). Layout:
#   /bin/nats-server               the server (entrypoint)
#   /etc/nats/nats-server.conf     a single-server default config (0644)
#   /data                          JetStream store dir, WORKDIR, 65534 1777
#   /tmp                           empty, 1777
#   /LICENSE                       from the module
nats_image() {
	local tag=$1 w="$WORK/nats" dir src stage
	src="$w/src" stage="$w/root"
	mkdir -p "$w"
	if ! (cd "$w" && GOWORK=off GO111MODULE=on go mod download -json "$NATS_MODULE@$NATS_VERSION") >"$w/download.json" 2>"$w/download.log"; then
		cat "$w/download.json" "$w/download.log" >&2
		die "nats: go mod download $NATS_MODULE@$NATS_VERSION failed (GOPROXY=$(go env GOPROXY))"
	fi
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$w/download.json")
	[ -n "$dir" ] && [ -d "$dir" ] || die "nats: no source directory in go mod download's answer"
	cp -R "$dir" "$src"
	chmod -R u+w "$src"
	mkdir -p "$stage/bin" "$stage/etc/nats" "$stage/data" "$stage/tmp"
	if ! (cd "$src" && GOWORK=off go build "${UPSTREAM_BUILD_FLAGS[@]}" -ldflags "$UPSTREAM_LDFLAGS" -o "$stage/bin/nats-server" .) >"$w/build.log" 2>&1; then
		grep -v '^go: downloading ' "$w/build.log" | tail -n 40 >&2
		die "nats: go build $NATS_MODULE@$NATS_VERSION failed (log above)"
	fi
	printf 'listen: 0.0.0.0:4222\nhttp: 0.0.0.0:8222\njetstream { store_dir: "/data" }\n' >"$stage/etc/nats/nats-server.conf"
	chmod 0644 "$stage/etc/nats/nats-server.conf"
	chmod 0755 "$stage/bin" "$stage/etc" "$stage/etc/nats"
	chmod 1777 "$stage/data" "$stage/tmp"
	[ ! -f "$src/LICENSE" ] || install -m 0644 "$src/LICENSE" "$stage/LICENSE"
	(cd "$stage" && find . -mindepth 1 -maxdepth 1 ! -name data | sort |
		tar --numeric-owner --owner=0 --group=0 -cf "$w/rootfs.tar" -T -)
	tar --numeric-owner --owner=65534 --group=65534 -C "$stage" -rf "$w/rootfs.tar" ./data
	docker import --message "firedrill scripts/images.sh" \
		--change 'ENTRYPOINT ["/bin/nats-server"]' \
		--change 'CMD ["-c","/etc/nats/nats-server.conf"]' \
		--change "USER 65534:65534" \
		--change "WORKDIR /data" \
		--change "EXPOSE 4222/tcp 6222/tcp 8222/tcp" \
		--change "LABEL org.firedrill.image=nats org.firedrill.inputs=${tag##*:} org.firedrill.upstream=$NATS_MODULE@$NATS_VERSION" \
		"$w/rootfs.tar" "$tag" >/dev/null
}
# ---- end NATS ----

# ---- etcd image: firedrill/etcd ---------------------------------------------
#   firedrill/etcd:local   entrypoint /bin/etcd, user 65534:65534, client API
#     on 2379/tcp, peers on 2380/tcp, WORKDIR /etcd (65534:65534, 1777: the
#     data directory goes below it, on the container's own filesystem, which
#     a `docker start` after a kill keeps). Default cmd: a single member
#     listening on every interface, data in /etcd/default.etcd:
#       docker run -d -p 127.0.0.1::2379 firedrill/etcd:local
#       curl 127.0.0.1:<port>/health   # {"health":"true",...}
#     A cmd replaces the whole default: give --name, --data-dir, the listen
#     and advertise URLs and --initial-cluster (scenarios/etcd does).
#     The JSON gRPC gateway answers on the client port (POST /v3/kv/put,
#     /v3/kv/range, /v3/kv/txn, /v3/maintenance/status).
#
# etcd_inputs prints what the etcd image is made of: the pin, the Go
# toolchain, the build flags and the recipe (not the rest of this script).
etcd_inputs() {
	printf 'etcd %s@%s\n' "$ETCD_MODULE" "$ETCD_VERSION"
	printf 'go %s %s %s cgo=%s goos=%s\n' "$GOVERSION" "$GOARCH" "$GOFLAGS" "$CGO_ENABLED" "$GOOS"
	printf 'flags %s ldflags %s\n' "${UPSTREAM_BUILD_FLAGS[*]}" "$UPSTREAM_LDFLAGS"
	printf 'recipe %s\n' "$(declare -f etcd_image | sha)"
}

# etcd_image TAG builds firedrill/etcd: a temporary module outside
# firedrill's (so etcd's dependency tree never enters firedrill's go.mod)
# whose main calls etcdmain.Main, like etcd's own binary; its requirements
# are what the pinned server module asks for (go mod tidy, minimal version
# selection, checked against the checksum database), then a static binary
# FROM scratch.
etcd_image() {
	local tag=$1 dir="$WORK/etcd" stage="$WORK/etcd/root"
	mkdir -p "$dir/src" "$stage/bin" "$stage/etcd" "$stage/tmp"
	cat >"$dir/src/main.go" <<'EOF'
// Command etcd is etcd's server, built by firedrill from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
	printf 'module firedrill.local/etcd\n\ngo 1.24.0\n\nrequire %s %s\n' "$ETCD_MODULE" "$ETCD_VERSION" >"$dir/src/go.mod"
	if ! (cd "$dir/src" && GOWORK=off GOFLAGS=-mod=mod go mod tidy && GOWORK=off go build "${UPSTREAM_BUILD_FLAGS[@]}" -ldflags "$UPSTREAM_LDFLAGS" -o "$stage/bin/etcd" .) >"$dir/build.log" 2>&1; then
		grep -v '^go: downloading ' "$dir/build.log" | tail -n 40 >&2
		die "etcd: go build $ETCD_MODULE@$ETCD_VERSION (etcdmain) failed (log above; GOPROXY=$(go env GOPROXY))"
	fi
	chmod 0755 "$stage/bin"
	chmod 1777 "$stage/etcd" "$stage/tmp"
	(cd "$stage" && tar --numeric-owner --owner=0 --group=0 -cf "$dir/rootfs.tar" ./bin ./tmp)
	tar --numeric-owner --owner=65534 --group=65534 -C "$stage" -rf "$dir/rootfs.tar" ./etcd
	docker import --message "firedrill scripts/images.sh" \
		--change 'ENTRYPOINT ["/bin/etcd"]' \
		--change 'CMD ["--name=default","--data-dir=/etcd/default.etcd","--listen-client-urls=http://0.0.0.0:2379","--advertise-client-urls=http://127.0.0.1:2379","--listen-peer-urls=http://0.0.0.0:2380","--initial-advertise-peer-urls=http://127.0.0.1:2380","--initial-cluster=default=http://127.0.0.1:2380"]' \
		--change "USER 65534:65534" \
		--change "WORKDIR /etcd" \
		--change "EXPOSE 2379/tcp 2380/tcp" \
		--change "LABEL org.firedrill.image=etcd org.firedrill.inputs=${tag##*:} org.firedrill.upstream=$ETCD_MODULE@$ETCD_VERSION" \
		"$dir/rootfs.tar" "$tag" >/dev/null
}

postgres_inputs() {
	printf 'script %s\nentrypoint %s\ndebian.sh %s\n' "$SELF_HASH" "$(sha <"$PG_ENTRYPOINT")" "$(sha <"$DEBIAN_LIB")"
	printf 'debian %s %s %s %s %s\n' "$DEBIAN_SUITE" "$DEBIAN_PACKAGES" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" "$(debian_arch)"
}

postgres_image() {
	local tag=$1 tarball="$WORK/postgres.tar"
	ensure_mmdebstrap "set FIREDRILL_POSTGRES_IMAGE to a PostgreSQL image you already have"
	[ "$(id -u)" -eq 0 ] || die "building firedrill/postgres needs root (mmdebstrap root mode); run as root or set FIREDRILL_POSTGRES_IMAGE"
	install -m 0755 "$PG_ENTRYPOINT" "$WORK/firedrill-postgres"
	local avail_mb
	avail_mb=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
	if [ "${avail_mb:-0}" -lt 1500 ]; then
		die "postgres: only ${avail_mb} MB free in $WORK_PARENT, the build needs about 1.5 GB: free some space or set FIREDRILL_BUILD_TMPDIR to a roomier directory"
	fi
	# The hooks are single-quoted on purpose: mmdebstrap runs them with the
	# new root file system as $1 (debian_bootstrap: scripts/debian.sh).
	# shellcheck disable=SC2016
	if ! debian_bootstrap apt "$DEBIAN_PACKAGES" "$tarball" "$WORK/mmdebstrap.log" \
		--customize-hook='rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15 "$1"/var/log/postgresql/*' \
		--customize-hook='rm -rf "$1"/usr/lib/postgresql/15/lib/bitcode "$1"/usr/lib/postgresql/15/lib/llvmjit* "$1"/usr/lib/*/libLLVM-*' \
		--customize-hook="install -m 0755 '$WORK/firedrill-postgres' \"\$1/usr/local/bin/firedrill-postgres\"" \
		--customize-hook='chroot "$1" install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data' \
		--customize-hook='chroot --userspec=postgres:postgres "$1" env HOME=/var/lib/postgresql /usr/lib/postgresql/15/bin/initdb --username=postgres --auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions -D /var/lib/postgresql/data >/dev/null'; then
		die "mmdebstrap failed (log above)"
	fi
	local id
	id=$(docker import --message "firedrill scripts/images.sh" \
		--change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV PGDATA=/var/lib/postgresql/data' \
		--change 'ENV PGHOST=/tmp' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'USER postgres' \
		--change 'WORKDIR /var/lib/postgresql' \
		--change 'EXPOSE 5432/tcp' \
		--change 'ENTRYPOINT ["/usr/local/bin/firedrill-postgres"]' \
		--change 'CMD []' \
		--change "LABEL org.firedrill.image=postgres org.firedrill.inputs=${tag##*:}" \
		"$tarball")
	# docker import cannot set STOPSIGNAL; a one-line build on top of the
	# imported image can (the classic builder, no context, nothing pulled).
	if ! printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$id" |
		DOCKER_BUILDKIT=0 docker build --quiet --tag "$tag" - >"$WORK/stopsignal.log" 2>&1; then
		echo "images.sh: postgres: could not set STOPSIGNAL SIGINT (docker build failed); 'docker stop' will use a smart shutdown" >&2
		docker tag "$id" "$tag"
	fi
}

# prune REF TAG untags REF's older content-hash tags (REF:<16 hex>) other
# than TAG, so rebuilds do not pile up. Images still in use stay.
prune() {
	local ref=$1 keep=$2 t
	docker image ls --format '{{.Repository}}:{{.Tag}}' "$ref" | while IFS= read -r t; do
		[ "$t" != "$keep" ] || continue
		[[ ${t##*:} =~ ^[0-9a-f]{16}$ ]] || continue
		docker rmi "$t" >/dev/null 2>&1 || true
	done
}

# image NAME: compute its inputs hash, build it when that tag is missing,
# point :local at it, and print one line.
image() {
	local name=$1 var ref start hash tag status pkg
	var=$(env_var "$name")
	start=$(now)
	if [ -n "${!var:-}" ]; then
		printf '%-12s %-9s %-40s (%s is set; not built here)\n' "$name" override "${!var}" "$var"
		return 0
	fi
	case $name in
	toxiproxy) pkg=github.com/Shopify/toxiproxy/v2/cmd/server ;;
	stub) pkg=./scenarios/stub/cmd/stub ;;
	pipeline)
		pkg=./scenarios/pipeline/cmd/pipeline
		if [ ! -d "$ROOT/scenarios/pipeline/cmd/pipeline" ]; then
			printf '%-12s %-9s %s\n' "$name" skipped "scenarios/pipeline/cmd/pipeline does not exist yet"
			return 0
		fi
		;;
	postgres | prometheus | alertmanager) pkg= ;;
	nats) pkg= ;; # NATS (catalogue)
	etcd) pkg= ;;
	*) die "unknown image $name (known: ${ALL[*]})" ;;
	esac
	if [ "$name" = postgres ]; then
		hash=$(postgres_inputs | sha)
	elif [ "$name" = nats ]; then # NATS (catalogue)
		hash=$(nats_inputs | sha)
	elif [ "$name" = etcd ]; then
		hash=$(etcd_inputs | sha)
	elif [ -z "$pkg" ]; then
		hash=$(upstream_inputs "$name" | sha)
	elif [ "$name" = toxiproxy ]; then
		hash=$({ go_inputs "$pkg" && printf 'patch %s\n' "$(sha <"$ROOT/scripts/toxiproxy-dial.pl")"; } | sha) || die "$name: go list $pkg failed"
	else
		hash=$(go_inputs "$pkg" | sha) || die "$name: go list $pkg failed"
	fi
	ref="$PREFIX/$name"
	tag="$ref:${hash:0:16}"
	if docker image inspect "$tag" >/dev/null 2>&1; then
		status=cached
	else
		if [ "$name" = postgres ]; then
			printf '%-12s %-9s %s\n' "$name" building "(mmdebstrap + docker import, in the background; 1-2 min)" >&3
		fi
		case $name in
		toxiproxy) go_image "$name" "$pkg" "$tag" '["/toxiproxy"]' '["-host=0.0.0.0","-port=8474"]' 8474/tcp ;;
		stub) go_image "$name" "$pkg" "$tag" '["/stub"]' '[]' 8080/tcp ;;
		pipeline) go_image "$name" "$pkg" "$tag" '["/pipeline"]' '[]' ;;
		postgres) postgres_image "$tag" ;;
		nats) # NATS (catalogue)
			printf '%-12s %-9s %s\n' "$name" building "($NATS_MODULE@$NATS_VERSION)"
			nats_image "$tag"
			;;
		etcd)
			printf '%-12s %-9s %s\n' "$name" building "($ETCD_MODULE@$ETCD_VERSION through etcdmain; about 1 min with a cold Go cache)"
			etcd_image "$tag"
			;;
		prometheus | alertmanager)
			if [ "$name" = prometheus ]; then
				printf '%-12s %-9s %s\n' "$name" building "($PROMETHEUS_MODULE@$PROMETHEUS_VERSION; about 2 min with a cold Go cache on 2 cores)"
			else
				printf '%-12s %-9s %s\n' "$name" building "($ALERTMANAGER_MODULE@$ALERTMANAGER_VERSION; about 25 s after prometheus, which shares most of its dependencies)"
			fi
			upstream_image "$name" "$tag"
			;;
		esac
		status=built
		prune "$ref" "$tag"
	fi
	docker tag "$tag" "$ref:local"
	printf '%-12s %-9s %-40s %s\n' "$name" "$status" "$tag" "$(since "$start")"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for n in "${names[@]}"; do
	case $n in -h | --help) usage ;; esac
done
total=$(now)
exec 3>&1 # progress lines from the background build
# PostgreSQL's bootstrap is mostly one process waiting on downloads and
# dpkg: build it in the background while the Go images compile.
pg_pid=
for n in "${names[@]}"; do
	if [ "$n" = postgres ]; then
		image postgres >"$WORK/postgres.out" 2>&1 &
		pg_pid=$!
	fi
done
for n in "${names[@]}"; do
	[ "$n" = postgres ] || image "$n"
done
if [ -n "$pg_pid" ]; then
	pg_status=0
	wait "$pg_pid" || pg_status=$?
	cat "$WORK/postgres.out"
	[ "$pg_status" -eq 0 ] || exit "$pg_status"
fi
printf '%-12s %-9s %-40s %s\n' images 'done' "(:local tags point at the hashes above)" "$(since "$total")"
