#!/usr/bin/env bash
# make installcheck: the pgTAP suites against a running server where the pack
# is installed, as PGXS users expect. The server is the one the libpq
# environment names (PGHOST, PGPORT, PGUSER, PGDATABASE), else the make start
# cluster under ./var. Every suite runs in a transaction that rolls back, so
# the database keeps its data. Needs a superuser (pgtap is created if
# missing) and a database with pgerp_mrp installed (default: pgerp).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
    export PGHOST=$ROOT_DIR/var/run PGPORT=${PGERP_PORT:-5480}
fi
export PGUSER=${PGUSER:-postgres} PGDATABASE=${PGDATABASE:-pgerp}
"$PGBIN/psql" -X -q -tAc "SELECT 1 FROM pg_extension WHERE extname = 'pgerp_mrp'" | grep -q 1 ||
    die "pgerp_mrp is not installed in database $PGDATABASE at ${PGHOST}:${PGPORT} (make start makes one)"
"$PGBIN/psql" -X -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pgtap" ||
    die "cannot create pgtap in $PGDATABASE"
mapfile -t files < <(find "$ROOT_DIR/test/pgtap" -name '*.sql' ! -name 'setup.sql' | grep -E -- "${PGERP_TESTS:-.}" | sort)
exec pg_prove --ext .sql "${files[@]}"
