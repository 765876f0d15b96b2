#!/bin/sh
# Entrypoint of the firedrill/postgres image (installed as
# /usr/local/bin/firedrill-postgres). The image contract is at the top of
# scripts/images.sh. Runs as the non-root user postgres.
set -eu

# A cmd that is not a list of postgres options is run as is.
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA"
	initdb --username=postgres --auth=trust --encoding=UTF8 --locale=C \
		--no-sync --no-instructions -D "$PGDATA" >/dev/null
fi

auth=${POSTGRES_HOST_AUTH_METHOD:-}
if [ -z "$auth" ]; then
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then auth=scram-sha-256; else auth=trust; fi
fi
cat >"$PGDATA/pg_hba.conf" <<HBA
# written by firedrill-postgres at every start: a test database
local all all               trust
host  all all 127.0.0.1/32  trust
host  all all ::1/128       trust
host  all all 0.0.0.0/0     $auth
host  all all ::/0          $auth
HBA

# Statements for single-user mode, one per line.
sql=
if [ -n "${POSTGRES_PASSWORD:-}" ]; then
	pw=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
	sql="${sql}ALTER ROLE postgres PASSWORD '$pw';
"
fi
marker=
if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != postgres ]; then
	marker="$PGDATA/firedrill-db-$(printf '%s' "$POSTGRES_DB" | tr -c 'A-Za-z0-9_.-' '_')"
	if [ ! -e "$marker" ]; then
		db=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
		sql="${sql}CREATE DATABASE \"$db\";
"
	else
		marker=
	fi
fi
if [ -n "$sql" ]; then
	printf '%s' "$sql" | postgres --single -D "$PGDATA" -c fsync=off postgres >/dev/null
	[ -z "$marker" ] || : >"$marker"
fi

if [ "${FIREDRILL_PG_FAST:-1}" = 0 ]; then
	set -- "$@"
else
	set -- -c fsync=off -c synchronous_commit=off -c full_page_writes=off "$@"
fi
# The image carries no LLVM, so no JIT.
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp -c jit=off "$@"
