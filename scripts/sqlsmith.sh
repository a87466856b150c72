#!/usr/bin/env bash
# The fuzzing stage of make test (scripts/test.sh): sqlsmith (Debian package
# sqlsmith) runs for PGERP_SQLSMITH_SECONDS (default 60) as the application
# role pgerp_app (nobody signed in: sqlsmith cannot call erp.sign_in first)
# and, at the same time, as the superuser, against a copy of the test
# database with its demo data (CREATE DATABASE ... TEMPLATE), so that what
# the superuser's random calls delete or terminate cannot touch the database
# of the other stages. Random queries fail all the time; what counts is the
# server: a backend crash (the server log says "terminated by signal", "was
# terminated", or "all server processes terminated", or the postmaster
# restarted) fails the stage. The log lines of the crash and the queries
# sqlsmith last sent are printed.
#
# Usage: scripts/sqlsmith.sh HOST PORT DATABASE SERVERLOG WORKDIR
# Prints "sqlsmith: N passed, M failed" last (one result). PGERP_SQLSMITH_SEED
# fixes the random seeds (printed otherwise, to reproduce a run).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

HOST=$1 PORT=$2 DB=$3 SERVERLOG=$4 WORK=$5
SECS=${PGERP_SQLSMITH_SECONDS:-60}
SEED=${PGERP_SQLSMITH_SEED:-$(( (RANDOM << 15) | RANDOM ))}
COPY=${DB}_sqlsmith
mkdir -p "$WORK"
is_root && chown postgres:postgres "$WORK"
psql_su() { "$PGBIN/psql" -X -q -h "$HOST" -p "$PORT" -U postgres "$@"; }
result() { echo "sqlsmith: $1"; exit 0; }

command -v sqlsmith >/dev/null || { echo "sqlsmith is not installed (scripts/deps.sh installs it)"; result "0 passed, 1 failed"; }

# The copy: CREATE DATABASE ... TEMPLATE needs the template to itself, and
# pg_cron and the job workers keep connections to it: close it to new
# connections, end the others, copy, open it again.
copied=
for _ in 1 2 3 4 5 6 7 8 9 10; do
    if psql_su -d postgres -v ON_ERROR_STOP=1 >"$WORK/copy.out" 2>&1 <<SQL
ALTER DATABASE $DB WITH ALLOW_CONNECTIONS false;
SELECT count(pg_catalog.pg_terminate_backend(a.pid)) FROM pg_catalog.pg_stat_activity a
 WHERE a.datname = '$DB' AND a.pid <> pg_catalog.pg_backend_pid() \g /dev/null
SELECT pg_catalog.pg_sleep(0.2) \g /dev/null
DROP DATABASE IF EXISTS $COPY;
CREATE DATABASE $COPY TEMPLATE $DB;
SQL
    then copied=1; break; fi
    sleep 0.5
done
psql_su -d postgres -c "ALTER DATABASE $DB WITH ALLOW_CONNECTIONS true" >>"$WORK/copy.out" 2>&1
[ -n "$copied" ] || { cat "$WORK/copy.out"; echo "could not copy database $DB"; result "0 passed, 1 failed"; }

start_time=$(psql_su -d postgres -tAc "SELECT pg_catalog.pg_postmaster_start_time()")
log_from=$(( $(wc -c <"$SERVERLOG") + 1 ))
say "sqlsmith: ${SECS} s as pgerp_app and as postgres at once, on $COPY (seeds $SEED and $((SEED + 1)))"
# a query that runs away is cut short; the server's own limits stay as they are
export PGOPTIONS="-c statement_timeout=5s -c lock_timeout=2s -c idle_in_transaction_session_timeout=10s"
run_smith() {   # run_smith NAME ROLE SEED
    timeout --signal=INT --kill-after=10 "$SECS" sqlsmith --verbose --exclude-catalog --seed="$3" \
        --target="host=$HOST port=$PORT dbname=$COPY user=$2 application_name=sqlsmith_$1" \
        >"$WORK/$1.out" 2>"$WORK/$1.err"
    echo $? >"$WORK/$1.rc"
}
run_smith app pgerp_app "$SEED" &
p1=$!
run_smith su postgres "$((SEED + 1))" &
p2=$!
wait "$p1" "$p2"

crashes=$(tail -c +"$log_from" "$SERVERLOG" |
          grep -E 'terminated by signal|server process \(PID [0-9]+\) was terminated|all server processes terminated|database system was interrupted|database system was not properly shut down' || true)
now_start=$(psql_su -d postgres -tAc "SELECT pg_catalog.pg_postmaster_start_time()" 2>/dev/null || echo "no answer")
for n in app su; do
    echo "  $n: sqlsmith exit status $(cat "$WORK/$n.rc"), $(grep -aoE 'queries: [0-9]+' "$WORK/$n.err" | tail -n 1 || true)"
done
if [ -n "$crashes" ] || [ "$now_start" != "$start_time" ]; then
    echo "sqlsmith: the server crashed or restarted (postmaster start $start_time, now $now_start):"
    printf '%s\n' "$crashes" | head -n 20
    for n in app su; do echo "--- last output of sqlsmith $n:"; tail -n 15 "$WORK/$n.err"; done
    result "0 passed, 1 failed"
fi
echo "sqlsmith: no backend crash"
result "1 passed, 0 failed"
