#!/usr/bin/env bash
# What the audit trail costs a bulk write (docs/benchmarks.md "Bulk writes", #16), in a
# throwaway cluster: INSERT ... SELECT of PGERP_BENCH_ROWS (100,000) rows into a table
# shaped like purchase.order_line (bigint keys, numerics, text, a timestamp), audited and
# with the audit triggers disabled, then an UPDATE of every row, PGERP_BENCH_RUNS (3)
# times each in alternation, each statement in a transaction that is rolled back, at
# PGERP_BENCH_ROWS/2 and PGERP_BENCH_ROWS rows. Prints the medians with every run, the
# audit's cost per row, and the growth exponent of the audited statements between the sizes. The backend's CPU time is the
# figure to compare between builds on a shared machine; run it once per build
# (PGERP_PGBIN=... of each).
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

ROWS=${PGERP_BENCH_ROWS:-100000}
RUNS=${PGERP_BENCH_RUNS:-3}

bench_cluster "shared_buffers = 512MB" "synchronous_commit = off" "max_wal_size = 8GB" "jit = off" "${BENCH_QUIET_CONF[@]}"
bench_quiet
pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE public.bulk_line (
    company_id bigint NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, order_id bigint NOT NULL,
    product_id bigint NOT NULL, qty numeric NOT NULL, price numeric NOT NULL, note text,
    planned_at timestamptz NOT NULL, PRIMARY KEY (company_id, id));
SELECT erp.audit('public.bulk_line');
SQL
pg -o /dev/null -c "VACUUM ANALYZE"

# one timed statement in a rolled-back transaction over ROWS rows, the audit triggers on or off
timed() {
    local on=$1 sql=$2 rows=$3 set=""
    [ "$on" = on ] || set="ALTER TABLE public.bulk_line DISABLE TRIGGER USER;"
    { echo "BEGIN; $set"
      echo "INSERT INTO public.bulk_line (company_id, order_id, product_id, qty, price, note, planned_at)
            SELECT 1, 1, i, 10 + i % 7, 1.25, 'line ' || i, now() FROM generate_series(1, $rows) i;"
      echo '\timing on'; echo "$sql"; echo '\timing off'; echo "ROLLBACK;"; } |
        pg -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1
}

declare -A T
for size in $((ROWS / 2)) "$ROWS"; do
    INSERT_SQL="INSERT INTO public.bulk_line (company_id, order_id, product_id, qty, price, note, planned_at)
                SELECT 1, 2, i, 10 + i % 7, 1.25, 'line ' || i, now() FROM generate_series(1, $size) i;"
    UPDATE_SQL="UPDATE public.bulk_line SET qty = qty + 1;"
    for run in $(seq "$RUNS"); do
        for on in on off; do
            T[ins_${on}_$size]="${T[ins_${on}_$size]:-} $(timed "$on" "$INSERT_SQL" "$size")"
            T[upd_${on}_$size]="${T[upd_${on}_$size]:-} $(timed "$on" "$UPDATE_SQL" "$size")"
        done
    done
    for w in ins upd; do
        # shellcheck disable=SC2086
        a=$(median ${T[${w}_on_$size]}); n=$(median ${T[${w}_off_$size]})
        T[med_${w}_$size]=$a
        printf '%s of %s rows, median of %s runs: audited %.0f ms (%s), not audited %.0f ms (%s): audit %.1f us a row\n' \
            "$([ $w = ins ] && echo 'INSERT ... SELECT' || echo 'UPDATE')" "$size" "$RUNS" "$a" "${T[${w}_on_$size]# }" "$n" "${T[${w}_off_$size]# }" \
            "$(awk -v a="$a" -v n="$n" -v r="$size" 'BEGIN { print (a - n) * 1000 / r }')"
    done
done
for w in ins upd; do
    printf 'growth of the audited %s from %s to %s rows: n^%s (1.00: linear)\n' \
        "$([ $w = ins ] && echo 'INSERT ... SELECT' || echo 'UPDATE')" "$((ROWS / 2))" "$ROWS" \
        "$(growth "$((ROWS / 2))" "${T[med_${w}_$((ROWS / 2))]}" "$ROWS" "${T[med_${w}_$ROWS]}")"
done
uptime
