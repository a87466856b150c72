#!/usr/bin/env bash
# Past-date valuation report benchmark (#16.3, docs/benchmarks.md), in a
# throwaway cluster, with the hygiene of #16 (bench/lib/report.sh):
# PGERP_BENCH_PRODUCTS (100,000) products, PGERP_BENCH_LAYERS/2 then
# PGERP_BENCH_LAYERS (3,000,000) layers over PGERP_BENCH_MONTHS (24) months, in
# date order as postings write them. At each size, PGERP_BENCH_RUNS (3) rounds,
# alternating, of stock.valuation_report(company, at) with the month snapshots
# against the same report over the layers alone (main's function, copied as
# bench.report_layers), at mid-month six months back and at the last instant
# of that month (a whole month of layers after the snapshot: the worst case).
# Prints the medians with every round, the ratio, the growth exponent between
# the two sizes, the time of a full build and of a build with nothing to do.
# The results of both reports must be equal, or the script stops.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

PRODUCTS=${PGERP_BENCH_PRODUCTS:-100000}
LAYERS=${PGERP_BENCH_LAYERS:-3000000}
MONTHS=${PGERP_BENCH_MONTHS:-24}
RUNS=${PGERP_BENCH_RUNS:-3}

bench_cluster "shared_buffers = 1GB" "work_mem = 64MB" "max_wal_size = 8GB" "synchronous_commit = off" \
              "${BENCH_QUIET_CONF[@]}"
bench_quiet

say "$PRODUCTS products"
pg -o /dev/null -v n="$PRODUCTS" <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench report') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') \g /dev/null
CREATE SCHEMA bench;
CREATE TABLE bench.ctx AS SELECT :c::bigint AS company;
SELECT count(stock.create_product(:c, 'R-' || lpad(g::text, 7, '0'), 'Report product ' || g)) FROM generate_series(1, :n) g;
CREATE TABLE bench.p AS SELECT id, row_number() OVER (ORDER BY id) AS k FROM stock.product WHERE company_id = :c;
CREATE UNIQUE INDEX ON bench.p (k);

-- main's stock.valuation_report (before #16.3): every layer up to the date
CREATE FUNCTION bench.report_layers(p_company bigint, p_at timestamptz DEFAULT NULL)
RETURNS TABLE (product_id bigint, sku text, qty numeric, value numeric, unit_cost numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT isfinite(p_at) THEN
        RAISE EXCEPTION 'as-of date must be a finite date'
            USING ERRCODE = 'datetime_field_overflow', DETAIL = format('The as-of date given is %s.', p_at);
    END IF;
    RETURN QUERY
    SELECT p.id, p.sku, coalesce(sum(l.quantity), 0), coalesce(sum(l.value), 0),
           CASE WHEN coalesce(sum(l.quantity), 0) <> 0
                THEN round(sum(l.value) / sum(l.quantity), (SELECT c.price_precision FROM erp.company c WHERE c.id = p_company))
           END
      FROM stock.product p
      LEFT JOIN stock.valuation_layer l
        ON l.company_id = p.company_id AND l.product_id = p.id AND (p_at IS NULL OR l.created_at <= p_at)
     WHERE p.company_id = p_company
     GROUP BY p.id, p.sku
     ORDER BY p.sku;
END $$;
SQL
COMPANY=$(pg -tAc "SELECT company FROM bench.ctx")
START=$(pg -tAc "SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '$MONTHS months') AT TIME ZONE 'UTC'")
MID="(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '6 months' + interval '15 days') AT TIME ZONE 'UTC'"
END="(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '5 months' - interval '1 microsecond') AT TIME ZONE 'UTC'"

# add_layers FROM TO: layers FROM..TO of LAYERS, evenly from START to now in
# the order of g (so FROM..TO of the second half fall between the first's),
# over the products in turn; running totals as postings keep them. The
# staleness trigger is off for the load (no snapshot to stale: they are
# rebuilt after it) and back on for the measurement.
add_layers() {
    pg -o /dev/null -c "ALTER TABLE stock.valuation_layer DISABLE TRIGGER valuation_snapshot_stale" \
       -c "TRUNCATE stock.valuation_snapshot" \
       -c "INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
           SELECT $COMPANY, p.id, '$START'::timestamptz + (now() - '$START'::timestamptz) * ((g - 0.5) / $LAYERS),
                  CASE WHEN g % 3 = 0 THEN -1 ELSE 2 END, 5, CASE WHEN g % 3 = 0 THEN -5 ELSE 10 END, 'report history'
             FROM generate_series($1, $2, $3) g JOIN bench.p p ON p.k = 1 + g % $PRODUCTS
            ORDER BY g" \
       -c "INSERT INTO stock.product_value (company_id, product_id, qty, value, last_date)
           SELECT $COMPANY, l.product_id, sum(l.quantity), sum(l.value), max(l.created_at) FROM stock.valuation_layer l
            WHERE l.company_id = $COMPANY GROUP BY l.product_id
           ON CONFLICT (company_id, product_id) DO UPDATE SET qty = excluded.qty, value = excluded.value, last_date = excluded.last_date" \
       -c "ALTER TABLE stock.valuation_layer ENABLE TRIGGER valuation_snapshot_stale" \
       -c "VACUUM ANALYZE stock.valuation_layer" -c "VACUUM ANALYZE stock.product_value"
}

# build: a full build of the snapshots (ms), VACUUM ANALYZE, then a build with nothing to do (ms)
build() {
    local full idle
    full=$(ms_of "SELECT stock.build_valuation_snapshots($COMPANY);")
    pg -o /dev/null -c "VACUUM ANALYZE stock.valuation_snapshot" -c "CHECKPOINT"
    idle=$(ms_of "SELECT stock.build_valuation_snapshots($COMPANY);")
    echo "$full $idle"
}

# same AT: the snapshot report equals the layers' report at AT, row for row
same() {
    local n
    n=$(pg -tAc "SELECT count(*) FROM ((SELECT * FROM stock.valuation_report($COMPANY, $1) EXCEPT ALL SELECT * FROM bench.report_layers($COMPANY, $1))
                                       UNION ALL (SELECT * FROM bench.report_layers($COMPANY, $1) EXCEPT ALL SELECT * FROM stock.valuation_report($COMPANY, $1))) x")
    [ "$n" = 0 ] || die "the report with snapshots differs from the layers' report at $1 in $n rows"
}

# measure SIZE: RUNS rounds of the four reports, alternating, into R[SIZE.name]
declare -A R
measure() {
    local r f at q
    for r in $(seq "$RUNS"); do
        for f in layers:mid snap:mid layers:end snap:end; do
            at=$MID; [ "${f#*:}" = end ] && at=$END
            q="SELECT count(*) FROM stock.valuation_report($COMPANY, $at);"
            [ "${f%%:*}" = layers ] && q="SELECT count(*) FROM bench.report_layers($COMPANY, $at);"
            R[$1.$f]="${R[$1.$f]:-} $(ms_of "$q")"
        done
    done
}
med() { # shellcheck disable=SC2086
    median ${R[$1]}; }
all() { printf '%s' "${R[$1]# }"; }

HALF=$((LAYERS / 2))
say "$HALF layers over $MONTHS months"
add_layers 2 "$LAYERS" 2
read -r build_half idle_half < <(build)
same "$MID"; same "$END"
say "reports at $HALF layers: $RUNS rounds"
ms_of "SELECT count(*) FROM stock.valuation_report($COMPANY, $MID);" >/dev/null
measure half

say "$LAYERS layers (the other half, between the first's)"
add_layers 1 "$LAYERS" 2
read -r build_full idle_full < <(build)
same "$MID"; same "$END"
say "reports at $LAYERS layers: $RUNS rounds"
measure full
snap_rows=$(pg -tAc "SELECT count(*) FROM stock.valuation_snapshot")
snap_size=$(pg -tAc "SELECT pg_size_pretty(pg_total_relation_size('stock.valuation_snapshot'))")
layer_size=$(pg -tAc "SELECT pg_size_pretty(pg_total_relation_size('stock.valuation_layer'))")

echo
printf 'valuation_report at a past date, %s products, %s months of history, median of %s (all runs) in ms, load average %s\n' \
    "$PRODUCTS" "$MONTHS" "$RUNS" "$(cut -d' ' -f1-3 /proc/loadavg)"
for at in mid end; do
    label="mid-month (15 days after the snapshot)"; [ $at = end ] && label="end of month (a whole month after the snapshot)"
    for size in half full; do
        n=$HALF; [ $size = full ] && n=$LAYERS
        printf '  %s, %s layers: layers only %.1f (%s), snapshots %.1f (%s): %sx faster\n' "$label" "$n" \
            "$(med $size.layers:$at)" "$(all $size.layers:$at)" "$(med $size.snap:$at)" "$(all $size.snap:$at)" \
            "$(ratio "$(med $size.layers:$at)" "$(med $size.snap:$at)")"
    done
    printf '  %s: growth n^%s with snapshots, n^%s layers only\n' "$label" \
        "$(growth "$HALF" "$(med half.snap:$at)" "$LAYERS" "$(med full.snap:$at)")" \
        "$(growth "$HALF" "$(med half.layers:$at)" "$LAYERS" "$(med full.layers:$at)")"
done
printf 'goal #16: under 100 ms at %s layers (mid-month: %.1f ms)\n' "$LAYERS" "$(med full.snap:mid)"
printf 'build from scratch: %.0f ms at %s layers, %.0f ms at %s; with nothing to do: %.0f / %.0f ms\n' \
    "$build_half" "$HALF" "$build_full" "$LAYERS" "$idle_half" "$idle_full"
printf 'snapshots: %s rows, %s; layers: %s\n' "$snap_rows" "$snap_size" "$layer_size"
# PGERP_BENCH_HOLD=SECONDS keeps the cluster that long for a look (EXPLAIN, perf)
if [ -n "${PGERP_BENCH_HOLD:-}" ]; then say "holding the cluster: PGHOST=$PGHOST PGPORT=$PGPORT"; sleep "$PGERP_BENCH_HOLD"; fi
