#!/usr/bin/env bash
# The property test of back-dated postings (#15, docs/backdate_property.md) at full size, in a
# throwaway cluster: test/pgtap/stock/backdate_property.inc with PGERP_BENCH_PRODUCTS (300)
# products, PGERP_BENCH_MOVES (20000) moves and PGERP_BENCH_SHARE (0.3) of them back-dated, from
# seed PGERP_BENCH_SEED (0.42), through PGOPTIONS as the harness reads them. Prints every check
# (ok / not ok, with pgTAP's diagnostics of a failure), the harness's own timings (posting, checks)
# and the wall time; exits non-zero if a check fails, the plan is not met or psql stops on an error.
# In make test the same harness runs at 30 products and 1,000 moves (93_backdate_property.sql).
# It does not build this checkout: run 'make install' first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

PRODUCTS=${PGERP_BENCH_PRODUCTS:-300}
MOVES=${PGERP_BENCH_MOVES:-20000}
SHARE=${PGERP_BENCH_SHARE:-0.3}
SEED=${PGERP_BENCH_SEED:-0.42}

bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off" "pgerp.housekeeping_interval = 0"
pg -q -c "SELECT cron.unschedule(jobid) FROM cron.job" >/dev/null 2>&1 || true
pg -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pgtap" ||
    die "cannot create pgtap (postgresql-15-pgtap, scripts/deps.sh)"

# the includer of the harness, as 93_backdate_property.sql, with the share asked
cat > "$TMP/property.sql" <<EOF
BEGIN;
\\i $ROOT_DIR/test/pgtap/setup.sql
\\set share $SHARE
\\i $ROOT_DIR/test/pgtap/stock/backdate_property.inc
ROLLBACK;
EOF
say "property test: $PRODUCTS products, $MOVES moves, share $SHARE back-dated, seed $SEED (load average $(cut -d ' ' -f 1-3 /proc/loadavg))"
t0=$(date +%s)
rc=0
PGOPTIONS="-c pgerp_test.property_products=$PRODUCTS -c pgerp_test.property_moves=$MOVES -c pgerp_test.property_seed=$SEED" \
    pg -tA -f "$TMP/property.sql" >"$TMP/tap.out" 2>&1 || rc=$?
wall=$(( $(date +%s) - t0 ))
cat "$TMP/tap.out"

plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$TMP/tap.out" | head -n 1)
passed=$(grep -c '^ok ' "$TMP/tap.out" || true)
failed=$(grep -c '^not ok ' "$TMP/tap.out" || true)
echo
echo "property test at $PRODUCTS products, $MOVES moves, share $SHARE, seed $SEED: $passed of ${plan:-?} checks passed, $failed failed, in $wall s (load average $(cut -d ' ' -f 1-3 /proc/loadavg))"
grep '^not ok ' "$TMP/tap.out" | sed 's/^/failed: /' || true
if [ "$rc" != 0 ]; then
    echo "error: psql stopped (exit $rc): $(grep -m1 'ERROR' "$TMP/tap.out" || echo 'see above')" >&2
    exit 1
fi
[ -n "$plan" ] && [ "$passed" = "$plan" ] && [ "$failed" = 0 ] || exit 1
