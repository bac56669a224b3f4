#!/usr/bin/env bash
# postgres.sh starts a throwaway PostgreSQL server on loopback for the tests, installing
# Debian's package first when no server binaries are on the machine.
#
#   eval "$(scripts/postgres.sh)"     start (or find running) and export LAKEPORT_TEST_POSTGRES
#   scripts/postgres.sh stop          stop it (the data stays; "stop --purge" removes it)
#   scripts/postgres.sh status        exit 0 when it is running
#
# The only line on stdout is the export line; progress goes to stderr. The cluster is
# for tests only: trust authentication on 127.0.0.1, fsync off.
#
# Environment: LAKEPORT_PG_PORT (default 54329; the next free port is used when it is
# taken by something else), LAKEPORT_PG_DIR (default ${TMPDIR:-/tmp}/lakeport-postgres).
set -euo pipefail

port=${LAKEPORT_PG_PORT:-54329}
dir=${LAKEPORT_PG_DIR:-${TMPDIR:-/tmp}/lakeport-postgres}
data=$dir/data

log() { echo "postgres.sh: $*" >&2; }

# bindir finds the directory holding initdb and pg_ctl: PATH first, then Debian's
# /usr/lib/postgresql/<version>/bin (newest version).
bindir() {
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	fi
}

install_server() {
	if [ "$(id -u)" -ne 0 ]; then
		log "no PostgreSQL server found (initdb, pg_ctl) and not root: install Debian's postgresql package, or run this as root"
		exit 1
	fi
	log "installing PostgreSQL from the Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends postgresql >&2
}

# as runs a command as the user that owns the cluster: PostgreSQL refuses to run as root.
as() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
	fi
}

# A stale postmaster.pid (the server killed, its PID reused) must not pass for a running
# server: it must also answer on its port.
running() {
	[ -n "$bin" ] && [ -f "$data/PG_VERSION" ] && as "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 &&
		port_busy "$(running_port)"
}

# running_port reads the port of the running cluster from postmaster.pid (its 4th line).
running_port() { sed -n 4p "$data/postmaster.pid"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_env() {
	echo "export LAKEPORT_TEST_POSTGRES=postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"
}

bin=$(bindir)

case "${1:-start}" in
start) ;;
stop)
	if running; then
		as "$bin/pg_ctl" -D "$data" -m fast -w stop >&2
	else
		log "not running"
	fi
	if [ "${2:-}" = "--purge" ]; then
		# only what this script made: the cluster and its logs, then the folder if empty
		rm -rf "$data" "$dir/server.log" "$dir/initdb.log"
		rmdir "$dir" 2>/dev/null || true
	fi
	exit 0
	;;
status)
	if running; then
		log "running on 127.0.0.1:$(running_port), data in $data"
		exit 0
	fi
	log "not running"
	exit 1
	;;
*)
	echo "usage: $0 [start|stop [--purge]|status]" >&2
	exit 2
	;;
esac

if running; then
	print_env "$(running_port)"
	exit 0
fi

if [ -z "$bin" ]; then
	install_server
	bin=$(bindir)
	if [ -z "$bin" ]; then
		log "the postgresql package is installed but no initdb/pg_ctl were found under /usr/lib/postgresql/*/bin"
		exit 1
	fi
fi

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
	useradd --system --home-dir "$dir" --shell /bin/sh postgres
fi

if [ ! -d "$dir" ]; then
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
	fi
fi

if [ ! -f "$data/PG_VERSION" ]; then
	log "creating a cluster in $data"
	as "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
fi

for _ in $(seq 1 20); do
	port_busy "$port" || break
	log "port $port is taken by another program; trying $((port + 1))"
	port=$((port + 1))
done

# Nothing answers for this cluster (checked above): a pid file left by a killed server
# would only stop it from starting, even when its PID now belongs to another process.
rm -f "$data/postmaster.pid" "$dir"/.s.PGSQL.*.lock
log "starting PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$port"
opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if ! as "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -o "$opts" -w -t 60 start >&2; then
	tail -n 30 "$dir/server.log" >&2 || true
	exit 1
fi
print_env "$port"
