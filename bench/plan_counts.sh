#!/usr/bin/env bash
# Which statements of a posting are planned again and again (docs/benchmarks.md, "Plans kept"):
# a throwaway cluster with pg_stat_statements (track = all, track_planning = on), 100 FIFO
# products with opening stock, then PGERP_BENCH_PAIRS (30) receipt+delivery pairs of one product
# in one session; prints every statement planned more than 10 times, with its plans and calls
# (a statement whose plan is kept is planned about 5 times, then runs on its generic plan).
# It neither builds nor installs: run 'make install' first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

PAIRS=${PGERP_BENCH_PAIRS:-30}
bench_cluster "shared_buffers = 256MB" "synchronous_commit = off" "pgerp.housekeeping_interval = 0" \
    "shared_preload_libraries = 'pg_cron,pgerp,pg_stat_statements'" \
    "pg_stat_statements.track = all" "pg_stat_statements.track_planning = on"
pg -q -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT cron.unschedule(jobid) FROM cron.job;
SELECT erp.sign_out();
SELECT erp.create_company('Bench stock') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA bench;
CREATE TABLE bench.p AS SELECT n, stock.create_product(:c, 'B-' || n, 'Bench product ' || n) AS id FROM generate_series(1, 100) n;
SELECT count(stock.receive(id, 1000, 5.00, NULL, 'open', now() - interval '400 days')) FROM bench.p;
CREATE EXTENSION pg_stat_statements;
SQL
pg -q -c "VACUUM ANALYZE" -c "SELECT pg_stat_statements_reset()" -o /dev/null
for _ in $(seq "$PAIRS"); do
    echo "SELECT stock.receive(id, 10, 5.00) FROM bench.p WHERE n = 1; SELECT stock.deliver(id, 10) FROM bench.p WHERE n = 1;"
done | pg -q -o /dev/null
echo "statements planned more than 10 times over $PAIRS pairs (plans, calls, query):"
pg -tA -F $'\t' -c "SELECT plans, calls, left(regexp_replace(query, '\s+', ' ', 'g'), 140) FROM pg_stat_statements
                     WHERE plans > 10 AND query NOT LIKE 'SELECT stock.%(id, \$1%' ORDER BY plans DESC, query"
