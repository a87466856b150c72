#!/usr/bin/env bash
# Instructions per receipt+delivery pair through the API, deterministic (docs/benchmarks.md,
# "(b) against the main before #15"): a throwaway cluster of PGERP_PGBIN's build, 100
# products with opening stock 400 days ago, VACUUM ANALYZE, then a single-user backend under
# valgrind --tool=callgrind: 6 pairs of warm-up (the plan cache plans a statement for its
# first 5 executions before it keeps a generic plan) and 10 counted pairs (stock.receive 10 then
# stock.deliver 10 of product 1), counting PortalRun and CommitTransactionCommand as
# bench/stock_post.sh does. Prints "instructions per pair N" and writes the top inclusive
# functions to PGERP_BENCH_CG_OUT (default $TMPDIR/post_callgrind.txt) to compare builds:
#   PGERP_PGBIN=<build A>/bin PGERP_BENCH_CG_OUT=/tmp/a.txt bash bench/post_callgrind.sh
#   PGERP_PGBIN=<build B>/bin PGERP_BENCH_CG_OUT=/tmp/b.txt bash bench/post_callgrind.sh
# It neither builds nor installs: run 'make install' into each PostgreSQL first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
bench_cluster "shared_buffers = 256MB" "synchronous_commit = off" "pgerp.housekeeping_interval = 0"
pg -q <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench stock') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA bench;
CREATE TABLE bench.p AS SELECT n, stock.create_product(:c, 'B-' || n, 'Bench product ' || n) AS id FROM generate_series(1, 100) n;
SELECT count(stock.receive(id, 1000, 5.00, NULL, 'open', now() - interval '400 days')) FROM bench.p;
SQL
pg -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
stop_cluster "$DATA"
rm -f "$DATA/postmaster.pid"
for i in $(seq 16); do
  echo "SELECT stock.receive(id, 10, 5.00) FROM bench.p WHERE n = 1;"
  echo "SELECT stock.deliver(id, 10) FROM bench.p WHERE n = 1;"
  [ "$i" = 6 ] && echo "SELECT pg_sleep(0);"
done > "$TMP/cg.sql"
echo "SELECT pg_sleep(0);" >> "$TMP/cg.sql"
chmod 644 "$TMP/cg.sql"; chmod 777 "$TMP"
(cd "$DATA" && as_pg valgrind --tool=callgrind --callgrind-out-file="$TMP/cg" --collect-atstart=no \
    --toggle-collect=PortalRun --toggle-collect=CommitTransactionCommand --dump-after=pg_sleep \
    "$PGBIN/postgres" --single -D "$DATA" -c shared_preload_libraries=pgerp -c pgerp.housekeeping_interval=0 pgerp \
    < "$TMP/cg.sql" > "$TMP/out.txt" 2>&1) || { tail -5 "$TMP/out.txt"; exit 1; }
grep -m3 ERROR "$TMP/out.txt" || true
tot=$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$TMP/cg.2" | head -1)
echo "instructions per pair $(( tot / 10 ))"
callgrind_annotate --inclusive=yes "$TMP/cg.2" 2>/dev/null | awk '/^-+$/ { n++ } n >= 3 && NF >= 2 && $1 ~ /[0-9]/ && !/libc|below main|ld-linux|PostgresMain|PostgresSingleUserMain/ && k++ < 70 { sub(/ \[.*\]$/, ""); print }' > "${PGERP_BENCH_CG_OUT:-${TMPDIR:-/tmp}/post_callgrind.txt}"
