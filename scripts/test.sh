#!/usr/bin/env bash
# test.sh runs the whole test suite against a PostgreSQL server that scripts/postgres.sh
# starts (or finds running). When PostgreSQL cannot be started the run fails here: the
# PostgreSQL tests must never skip because their server is missing.
#
# Environment: LAKEPORT_POSTGRES_SH replaces scripts/postgres.sh (the tests of this script
# use it); anything else is passed to go test.
set -euo pipefail
cd "$(dirname "$0")/.."

pgenv=$("${LAKEPORT_POSTGRES_SH:-scripts/postgres.sh}") || {
	echo "test.sh: PostgreSQL could not be started (scripts/postgres.sh failed, see above); the PostgreSQL tests need it" >&2
	exit 1
}
eval "$pgenv"
if [ -z "${LAKEPORT_TEST_POSTGRES:-}" ]; then
	echo "test.sh: scripts/postgres.sh printed no LAKEPORT_TEST_POSTGRES export; the PostgreSQL tests need it" >&2
	exit 1
fi
export LAKEPORT_TEST_POSTGRES
exec go test -race -count=1 -timeout 25m ./...
