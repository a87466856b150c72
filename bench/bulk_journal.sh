#!/usr/bin/env bash
# What the deferred check journal_balanced costs a bulk write of journal lines
# (docs/benchmarks.md "Bulk writes", #16/#15), in a throwaway cluster: one INSERT ...
# SELECT of PGERP_BENCH_ENTRIES (50,000) balanced two-line entries' lines, then
# SET CONSTRAINTS ALL IMMEDIATE, which runs the queued checks as COMMIT would; that
# statement is timed, PGERP_BENCH_RUNS (3) times, each in a transaction rolled back, at
# PGERP_BENCH_ENTRIES/2 and PGERP_BENCH_ENTRIES entries, with the growth exponent between them.
# Run it once per build (PGERP_PGBIN=... of each). It neither builds nor installs.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

ENTRIES=${PGERP_BENCH_ENTRIES:-50000}
RUNS=${PGERP_BENCH_RUNS:-3}

bench_cluster "shared_buffers = 512MB" "synchronous_commit = off" "max_wal_size = 8GB" "jit = off" "${BENCH_QUIET_CONF[@]}"
bench_quiet
declare -A MED
for size in $((ENTRIES / 2)) "$ENTRIES"; do
pg -o /dev/null -v n="$size" <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench journal ' || :n) AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.k;
CREATE TABLE bench.k AS SELECT :c::bigint AS c,
    (SELECT id FROM stock.account WHERE company_id = :c AND kind = 'stock_valuation') AS dr,
    (SELECT id FROM stock.account WHERE company_id = :c AND kind = 'stock_input') AS cr;
INSERT INTO stock.journal_entry (company_id, date, ref) SELECT :c, now(), 'bench ' || i FROM generate_series(1, :n) i;
SQL
pg -o /dev/null -c "VACUUM ANALYZE"

runs=""
for _ in $(seq "$RUNS"); do
    ms=$({ echo "BEGIN;"
           echo "INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)
                 SELECT k.c, e.id, a.acc, CASE WHEN a.dr THEN 5 ELSE 0 END, CASE WHEN a.dr THEN 0 ELSE 5 END
                   FROM bench.k k JOIN stock.journal_entry e ON e.company_id = k.c,
                        LATERAL (VALUES (k.dr, true), (k.cr, false)) a(acc, dr);"
           echo '\timing on'; echo "SET CONSTRAINTS ALL IMMEDIATE;"; echo '\timing off'; echo "ROLLBACK;"; } |
         pg -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
    runs+=" $ms"
done
# shellcheck disable=SC2086
med=$(median $runs)
MED[$size]=$med
printf 'journal_balanced over %s lines (%s entries), median of %s runs: %.0f ms (%s): %.1f us a line\n' \
    "$((2 * size))" "$size" "$RUNS" "$med" "${runs# }" "$(awk -v m="$med" -v n="$size" 'BEGIN { print m * 1000 / (2 * n) }')"
done
printf 'growth from %s to %s lines: n^%s (1.00: linear)\n' "$ENTRIES" "$((2 * ENTRIES))" \
    "$(growth "$((ENTRIES / 2))" "${MED[$((ENTRIES / 2))]}" "$ENTRIES" "${MED[$ENTRIES]}")"
uptime
