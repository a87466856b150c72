#!/usr/bin/env bash
# Replenishment benchmark (docs/benchmarks.md, #16.4), in a throwaway cluster:
# at two sizes, n/2 and n = PGERP_BENCH_RULES (default 1,000,000) min/max
# reorder rules on as many bought products (one vendor), a tenth of them
# below their minimum. Each of PGERP_BENCH_RUNS runs (default 3) starts from
# no order at all: mrp.replenish(company) (goal at n: under 10 s), then a
# second call, which must order nothing and must be faster than the first.
# Medians with every run, and the growth exponent between the two sizes; each
# run and each median says PASS or MISS for "second call faster", and the
# last line counts the runs where it was not (with the load average: the
# machine is shared, and a wall-clock comparison is only as quiet as it).
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

RULES=${PGERP_BENCH_RULES:-1000000}
RUNS=${PGERP_BENCH_RUNS:-3}
HALF=$((RULES / 2))

bench_cluster "shared_buffers = 512MB" "synchronous_commit = off" "max_wal_size = 8GB" "${BENCH_QUIET_CONF[@]}"
bench_quiet
pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SQL

# make_company NAME N: a company with N rules, stock on nine in ten; prints its id
make_company() {
    pg -tA -v name="$1" -v n="$2" <<'SQL' | tail -n 1
SET client_min_messages = warning;
SELECT erp.create_company(:'name') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
SELECT erp.create_partner(:c, 'Bench vendor', 'vendor') AS v \gset
-- products, rules and supplier lines in bulk (the API makes the first one)
SELECT stock.create_product(:c, 'SEED', 'Seed') \g /dev/null
INSERT INTO stock.product (company_id, sku, name) SELECT :c, 'R' || n, 'Rule product ' || n FROM generate_series(1, :n) n;
INSERT INTO purchase.supplier_info (company_id, product_id, vendor_id, price, lead_days)
SELECT :c, p.id, :v, 1, 5 FROM stock.product p WHERE p.company_id = :c AND p.sku LIKE 'R%';
INSERT INTO mrp.reorder_rule (company_id, product_id, warehouse_id, min_qty, max_qty, multiple)
SELECT :c, p.id, :wh, 10, 50, 5 FROM stock.product p WHERE p.company_id = :c AND p.sku LIKE 'R%';
INSERT INTO stock.quant (company_id, product_id, location_id, quantity)
SELECT :c, p.id, stock.warehouse_location(:wh), 20 FROM stock.product p
 WHERE p.company_id = :c AND p.sku LIKE 'R%' AND substr(p.sku, 2)::int % 10 <> 0;
SELECT :c;
SQL
}

# Every run starts as the first ever did: no order, statistics that say so.
reset_orders() {
    pg -o /dev/null -c "DELETE FROM purchase.order_line WHERE company_id = $1" \
                    -c "DELETE FROM purchase.order WHERE company_id = $1"
    pg -o /dev/null -c "VACUUM ANALYZE purchase.order_line, purchase.order"
}

declare -A FIRST SECOND
SLOWER=0
for n in "$HALF" "$RULES"; do
    say "$n products with reorder rules"
    c=$(make_company "Bench replenish $n" "$n")
    pg -o /dev/null -c "VACUUM ANALYZE"
    for run in $(seq "$RUNS"); do
        reset_orders "$c"
        t1=$(ms_of "SELECT count(*) FROM mrp.replenish($c);")
        ordered=$(pg -tAc "SELECT count(*) FROM purchase.order_line WHERE company_id = $c")
        t2=$(ms_of "SELECT count(*) FROM mrp.replenish($c);")
        again=$(pg -tAc "SELECT count(*) FROM purchase.order_line WHERE company_id = $c")
        [ "$again" = "$ordered" ] || die "the second call ordered $((again - ordered)) more lines"
        [ "$ordered" = "$((n / 10))" ] || die "expected $((n / 10)) order lines, got $ordered"
        v=$(awk -v a="$t2" -v b="$t1" 'BEGIN { print (a < b) ? "PASS" : "MISS" }')
        [ "$v" = PASS ] || SLOWER=$((SLOWER + 1))
        printf '  run %s: first %.0f ms (%s lines), second %.0f ms, second faster: %s (load %s)\n' \
            "$run" "$t1" "$ordered" "$t2" "$v" "$(cut -d' ' -f1 /proc/loadavg)"
        FIRST[$n]="${FIRST[$n]:-} $t1"
        SECOND[$n]="${SECOND[$n]:-} $t2"
    done
    # the smaller company's rows stay: the larger one is measured beside them
done

echo
printf 'mrp.replenish, median of %s runs (all runs in ms)\n' "$RUNS"
for n in "$HALF" "$RULES"; do
    # shellcheck disable=SC2086
    f=$(median ${FIRST[$n]}); s=$(median ${SECOND[$n]})
    printf '  %8s rules: first %8.0f ms (%s), second %8.0f ms (%s), second/first %s (goal < 1): %s\n' \
        "$n" "$f" "${FIRST[$n]# }" "$s" "${SECOND[$n]# }" "$(ratio "$s" "$f")" \
        "$(awk -v a="$s" -v b="$f" 'BEGIN { print (a < b) ? "PASS" : "MISS" }')"
done
# shellcheck disable=SC2086
f1=$(median ${FIRST[$HALF]}); f2=$(median ${FIRST[$RULES]})
printf '  first call at %s rules: %s of the 10 s goal; growth %s -> %s rules: n^%s\n' \
    "$RULES" "$(ratio "$f2" 10000)" "$HALF" "$RULES" "$(growth "$HALF" "$f1" "$RULES" "$f2")"
printf '  second call not faster than the first in %s of %s runs\n' "$SLOWER" "$((2 * RUNS))"
