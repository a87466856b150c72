#!/usr/bin/env bash
# Stock posting benchmark (docs/benchmarks.md), in a throwaway cluster, with
# the hygiene of #16 (no audit seal or pg_cron job during the measurement,
# PGERP_BENCH_RUNS rounds of each measure, default 3, alternating, the median
# with every round, ratios truncated to two decimals):
#  (a) receive/deliver through the API against the raw INSERT/UPDATE of the
#      same rows, pgbench with PGERP_BENCH_CLIENTS clients over 1,000 products
#      (goal #16: at least 0.8);
#  (b) API posting just before, then with PGERP_BENCH_LAYERS/2 and PGERP_BENCH_LAYERS closed
#      historical layers added to the products of (a) (goal: at most 1.2x);
#  (o) API posting on 100 products with PGERP_BENCH_OPEN (10,000) open layers
#      each, against 100 products with one (goal #16: at most 1.1x), in
#      pairs/s and, under callgrind, in instructions per pair;
#  (p) the same with PGERP_BENCH_CLIENTS clients over 1,000 products with
#      PGERP_BENCH_P_OPEN (1,250) open layers each, against 1,000 with one;
#  (c) stock.valuation_report at a past date over PGERP_BENCH_LAYERS/2 and
#      PGERP_BENCH_LAYERS layers of 10,000 products, with the growth exponent.
# PGERP_BENCH_ONLY (aopbc) picks the measures, e.g. PGERP_BENCH_ONLY=b.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

CLIENTS=${PGERP_BENCH_CLIENTS:-4}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
LAYERS=${PGERP_BENCH_LAYERS:-1000000}
OPEN=${PGERP_BENCH_OPEN:-10000}
P_OPEN=${PGERP_BENCH_P_OPEN:-1250}
RUNS=${PGERP_BENCH_RUNS:-3}
ONLY=${PGERP_BENCH_ONLY:-aopbc}   # the measures to run, e.g. b

bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off" "${BENCH_QUIET_CONF[@]}"
bench_quiet

say "1,000 products with opening stock"
pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench stock') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA bench;
CREATE TABLE bench.p AS
    SELECT n, stock.create_product(:c, 'B-' || n, 'Bench product ' || n) AS id FROM generate_series(1, 1000) n;
-- opening stock, dated in the past so that later postings come after it
SELECT stock.receive(id, 1000000, 5.00, NULL, 'opening', now() - interval '1 day') FROM bench.p;
CREATE TABLE bench.ctx AS
    SELECT :c::bigint AS company, stock.warehouse_location(:wh) AS stock_loc,
           stock.virtual_location(:c, 'supplier') AS supplier, stock.virtual_location(:c, 'customer') AS customer,
           (SELECT id FROM stock.account WHERE company_id = :c AND kind = 'stock_valuation') AS acc_val,
           (SELECT id FROM stock.account WHERE company_id = :c AND kind = 'stock_input') AS acc_in,
           (SELECT id FROM stock.account WHERE company_id = :c AND kind = 'stock_output') AS acc_out;

-- The same rows as the API writes for one receipt and one delivery, written
-- by hand: move, quant, layer (consumed layers updated), running totals,
-- journal entry and lines. No checks, no FIFO search: the floor.
CREATE FUNCTION bench.raw_post(p_product bigint, p_in boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    x bench.ctx;
    v_move bigint;
    v_entry bigint;
    v_layer bigint;
BEGIN
    SELECT * INTO x FROM bench.ctx;
    PERFORM 1 FROM stock.product_value WHERE company_id = x.company AND product_id = p_product FOR UPDATE;
    INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id, state, unit_cost, value, date, done_at)
    VALUES (x.company, p_product, 10, 'Unit', 10, CASE WHEN p_in THEN x.supplier ELSE x.stock_loc END,
            CASE WHEN p_in THEN x.stock_loc ELSE x.customer END, 'done', 5, CASE WHEN p_in THEN 50 ELSE -50 END, now(), now())
    RETURNING id INTO v_move;
    UPDATE stock.quant SET quantity = quantity + CASE WHEN p_in THEN 10 ELSE -10 END
     WHERE company_id = x.company AND product_id = p_product AND location_id = x.stock_loc AND lot_id = 0;
    IF NOT p_in THEN
        UPDATE stock.valuation_layer SET remaining_qty = remaining_qty - 10, remaining_value = remaining_value - 50
         WHERE company_id = x.company AND id = (SELECT min(id) FROM stock.valuation_layer
                                                 WHERE company_id = x.company AND product_id = p_product AND remaining_qty > 0);
    END IF;
    INSERT INTO stock.valuation_layer (company_id, product_id, move_id, created_at, quantity, unit_cost, value,
                                       remaining_qty, remaining_value, description)
    VALUES (x.company, p_product, v_move, now(), CASE WHEN p_in THEN 10 ELSE -10 END, 5, CASE WHEN p_in THEN 50 ELSE -50 END,
            CASE WHEN p_in THEN 10 ELSE 0 END, CASE WHEN p_in THEN 50 ELSE 0 END, 'raw')
    RETURNING id INTO v_layer;
    UPDATE stock.product_value SET qty = qty + CASE WHEN p_in THEN 10 ELSE -10 END,
                                   value = value + CASE WHEN p_in THEN 50 ELSE -50 END, last_date = now()
     WHERE company_id = x.company AND product_id = p_product;
    INSERT INTO stock.journal_entry (company_id, date, move_id, layer_id) VALUES (x.company, now(), v_move, v_layer)
    RETURNING id INTO v_entry;
    INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)
    VALUES (x.company, v_entry, CASE WHEN p_in THEN x.acc_val ELSE x.acc_out END, 50, 0),
           (x.company, v_entry, CASE WHEN p_in THEN x.acc_in ELSE x.acc_val END, 0, 50);
END $$;
SQL
pg -c "VACUUM ANALYZE" -c "CHECKPOINT"

cat > "$TMP/api.sql" <<'EOF2'
\set p random(1, 1000)
SELECT stock.receive(id, 10, 5.00) FROM bench.p WHERE n = :p;
SELECT stock.deliver(id, 10) FROM bench.p WHERE n = :p;
EOF2
cat > "$TMP/raw.sql" <<'EOF2'
\set p random(1, 1000)
BEGIN;
SELECT bench.raw_post(id, true) FROM bench.p WHERE n = :p;
COMMIT;
BEGIN;
SELECT bench.raw_post(id, false) FROM bench.p WHERE n = :p;
COMMIT;
EOF2
chmod 644 "$TMP"/*.sql

# tps SCRIPT: pairs (one receipt + one delivery) per second; deadlocks and
# serialization failures are retried (and would be reported), never fatal.
tps() {
    local out
    out=$("$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" --max-tries=10 -f "$1" 2>&1) || true
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    [ "${failed:-0}" = 0 ] || echo "warning: $failed failed transactions in $1" >&2
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out"
}

# rounds NAME SCRIPT [NAME SCRIPT...]: RUNS rounds of every script, in turn
# (the order rotates each round), tps appended to R[NAME]
declare -A R
rounds() {
    local args=("$@") n=$(( $# / 2 )) r k j
    for r in $(seq "$RUNS"); do
        for k in $(seq 0 $((n - 1))); do
            j=$(( (k + r) % n ))
            R[${args[2 * j]}]="${R[${args[2 * j]}]:-} $(tps "${args[2 * j + 1]}")"
        done
    done
}
med() { # shellcheck disable=SC2086
    median ${R[$1]}; }

if [[ $ONLY == *a* ]]; then
    say "(a) API against raw rows: $CLIENTS clients, $SECONDS_EACH s each, $RUNS rounds alternating"
    rounds api "$TMP/api.sql" raw "$TMP/raw.sql"
fi

# open_set TABLE PREFIX COUNT LAYERS: COUNT new products in bench.TABLE (n, id),
# each with LAYERS open layers of 1,000 units, written as the API would (layer,
# quant, running totals; no journal: no report reads it here). Triggers are
# off for the bulk rows (session_replication_role): their audit rows are
# setup, not measured.
open_set() {
    pg -o /dev/null <<SQL
SET client_min_messages = warning;
CREATE TABLE bench.$1 AS
    SELECT n, stock.create_product((SELECT company FROM bench.ctx), '$2-' || n, 'Open layers ' || n) AS id
      FROM generate_series(1, $3) n;
SET session_replication_role = replica;
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value,
                                   remaining_qty, remaining_value, description)
SELECT (SELECT company FROM bench.ctx), s.id, now() - interval '1 day', 1000, 5, 5000, 1000, 5000, 'open'
  FROM bench.$1 s CROSS JOIN generate_series(1, $4) g;
INSERT INTO stock.product_value (company_id, product_id, qty, value, last_date)
SELECT (SELECT company FROM bench.ctx), s.id, 1000 * $4, 5000 * $4, now() - interval '1 day' FROM bench.$1 s
ON CONFLICT (company_id, product_id) DO UPDATE SET qty = excluded.qty, value = excluded.value, last_date = excluded.last_date;
INSERT INTO stock.quant (company_id, product_id, location_id, quantity)
SELECT (SELECT company FROM bench.ctx), s.id, (SELECT stock_loc FROM bench.ctx), 1000 * $4 FROM bench.$1 s;
SQL
}
# pair_script NAME TABLE COUNT: a pgbench script of one receipt and one
# delivery of 10 units of a random product of bench.TABLE
pair_script() {
    cat > "$TMP/$1.sql" <<EOF2
\\set p random(1, $3)
SELECT stock.receive(id, 10, 5.00) FROM bench.$2 WHERE n = :p;
SELECT stock.deliver(id, 10) FROM bench.$2 WHERE n = :p;
EOF2
    chmod 644 "$TMP/$1.sql"
}

if [[ $ONLY == *o* ]]; then
say "(o) 100 products with $OPEN open layers each, 100 with one"
open_set po_many O 100 "$OPEN"
open_set po_one O1 100 1
pg -c "VACUUM ANALYZE" -c "CHECKPOINT"
pair_script open_many po_many 100
pair_script open_one po_one 100
rounds open_many "$TMP/open_many.sql" open_one "$TMP/open_one.sql"
fi

# (o) in instructions (PGERP_BENCH_CALLGRIND, on when valgrind is installed):
# the backend under callgrind, single-user on a copy of the data directory,
# counting the execution and commit of 10 pairs on the first product of each
# set after 6 pairs of warm-up (the plan cache plans each statement for its first 5
# executions before it keeps a generic plan: with 2, the set measured first paid those
# plans and read 10 % slower than the second, #16.1). Unlike throughput, repeatable on a
# shared machine.
CG_MANY= CG_ONE= CG_API= CG_RAW=
if [[ $ONLY == *o* ]] && [ "${PGERP_BENCH_CALLGRIND:-$(command -v valgrind >/dev/null && echo 1 || echo 0)}" = 1 ]; then
    say "(o) callgrind: 10 pairs on one product with $OPEN open layers, 10 on one with one"
    stop_cluster "$DATA"
    cp -a "$DATA" "$TMP/cg"
    rm -f "$TMP/cg/postmaster.pid"
    start_cluster "$DATA" "$LOG"
    for set in po_many po_one; do
        for i in $(seq 16); do
            echo "SELECT stock.receive(id, 10, 5.00) FROM bench.$set WHERE n = 1;"
            echo "SELECT stock.deliver(id, 10) FROM bench.$set WHERE n = 1;"
            [ "$i" = 6 ] && echo "SELECT pg_sleep(0);"
        done
        echo "SELECT pg_sleep(0);"
    done > "$TMP/cg.sql"
    # (a) in instructions: the API's pair against the raw rows' pair on product 1
    # of (a): cg.5 warm-up, cg.6 API; cg.7 warm-up, cg.8 raw rows
    for kind in api raw; do
        for i in $(seq 16); do
            if [ "$kind" = api ]; then
                echo "SELECT stock.receive(id, 10, 5.00) FROM bench.p WHERE n = 1;"
                echo "SELECT stock.deliver(id, 10) FROM bench.p WHERE n = 1;"
            else
                echo "SELECT bench.raw_post(id, true) FROM bench.p WHERE n = 1;"
                echo "SELECT bench.raw_post(id, false) FROM bench.p WHERE n = 1;"
            fi
            [ "$i" = 6 ] && echo "SELECT pg_sleep(0);"
        done
        echo "SELECT pg_sleep(0);"
    done >> "$TMP/cg.sql"
    chmod 644 "$TMP/cg.sql"
    # a dump after each pg_sleep: cg.1 warm-up, cg.2 the 10 pairs (many), cg.3, cg.4 (one)
    (cd "$TMP/cg" && as_pg valgrind --tool=callgrind --callgrind-out-file="$TMP/cg/cg" --collect-atstart=no \
        --toggle-collect=PortalRun --toggle-collect=CommitTransactionCommand --dump-after=pg_sleep \
        "$PGBIN/postgres" --single -D "$TMP/cg" -c shared_preload_libraries=pgerp -c pgerp.housekeeping_interval=0 pgerp \
        < "$TMP/cg.sql" > "$TMP/cg/out.txt" 2>&1) || { tail -5 "$TMP/cg/out.txt" >&2; die "callgrind run failed"; }
    ! grep -q ERROR "$TMP/cg/out.txt" || { grep -m3 ERROR "$TMP/cg/out.txt" >&2; die "a posting failed under callgrind"; }
    cg_total() { sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$1" | head -1; }
    CG_MANY=$(( $(cg_total "$TMP/cg/cg.2") / 10 ))
    CG_ONE=$(( $(cg_total "$TMP/cg/cg.4") / 10 ))
    CG_API=$(( $(cg_total "$TMP/cg/cg.6") / 10 ))
    CG_RAW=$(( $(cg_total "$TMP/cg/cg.8") / 10 ))
    # where the API's instructions go: the top inclusive named functions of its 10 pairs
    # (recursive entries, addresses and start-up frames left out)
    if command -v callgrind_annotate >/dev/null; then
        callgrind_annotate --inclusive=yes "$TMP/cg/cg.6" 2>/dev/null |
            awk '/^-+$/ { n++ } n >= 3 && NF >= 2 && $1 ~ /[0-9]/ &&
                 !/\x27[0-9]|0x[0-9a-f]+|libc|below main|ld-linux|PostgresMain|PostgresSingleUserMain|\?\?\?:main / &&
                 k++ < 40 { sub(/ \[.*\]$/, ""); print }' > "$TMP/cg_api_top.txt" || true
    fi
    rm -rf "$TMP/cg"
fi

if [[ $ONLY == *p* ]]; then
say "(p) $CLIENTS clients on 1,000 products with $P_OPEN open layers each, on 1,000 with one"
open_set pp_many P 1000 "$P_OPEN"
open_set pp_one P1 1000 1
pg -c "VACUUM ANALYZE" -c "CHECKPOINT"
pair_script p_many pp_many 1000
pair_script p_one pp_one 1000
rounds p_many "$TMP/p_many.sql" p_one "$TMP/p_one.sql"
fi

# (b): the API on the 1,000 products of (a) just before, then after LAYERS/2 and LAYERS closed
# historical layers were added to them (the "before" runs here, not (a)'s rounds, so that what
# the other measures added since (a) weighs on both sides)
add_closed() {
    pg -q -c "INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
       SELECT (SELECT company FROM bench.ctx), p.id, now() - interval '2 days' - ($2 + g) * interval '1 second', 1, 5, 5, 'history'
         FROM generate_series(1, $1) g JOIN bench.p p ON p.n = 1 + g % 1000" \
       -c "VACUUM ANALYZE stock.valuation_layer" -c "CHECKPOINT"
}
if [[ $ONLY == *b* ]]; then
    say "(b) the API before and after adding $((LAYERS / 2)), then $LAYERS closed historical layers to the 1,000 products of (a)"
    pg -q -c "VACUUM ANALYZE" -c "CHECKPOINT"
    rounds before "$TMP/api.sql"
    add_closed $((LAYERS / 2)) 0
    rounds half "$TMP/api.sql"
    add_closed $((LAYERS - LAYERS / 2)) $((LAYERS / 2))
    rounds big "$TMP/api.sql"
fi

# report_ms: RUNS timings of the past-date report, in ms
report_ms() {
    local r
    for r in $(seq "$RUNS"); do
        ms_of "SELECT count(*) FROM stock.valuation_report((SELECT company FROM bench.ctx), now() - interval '15 days');"
    done | tr '\n' ' '
}
# add_report_layers N: N more layers over the 10,000 report products, over 30 days
add_report_layers() {
    pg -o /dev/null -c "INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
        SELECT (SELECT company FROM bench.ctx), p.id, now() - (g % 30) * interval '1 day', 1, 5, 5, 'report history'
          FROM generate_series(1, $1) g
          JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM stock.product WHERE sku LIKE 'R-%') p ON p.k = 1 + g % 10000" \
        -c "VACUUM ANALYZE stock.valuation_layer"
}
rep_half="" rep_full=""
if [[ $ONLY == *c* ]]; then
    say "(c) valuation_report over $((LAYERS / 2)) then $LAYERS layers of 10,000 products"
    pg -o /dev/null -c "SELECT count(stock.create_product((SELECT company FROM bench.ctx), 'R-' || n, 'Report product ' || n)) FROM generate_series(1, 10000) n"
    add_report_layers $((LAYERS / 2))
    rep_half=$(report_ms)
    add_report_layers $((LAYERS - LAYERS / 2))
    rep_full=$(report_ms)
fi

echo
all() { printf '%s' "${R[$1]# }"; }
# shellcheck disable=SC2086
{
[[ $ONLY != *a* ]] || { api=$(med api); raw=$(med raw); }
[[ $ONLY != *o* ]] || { many=$(med open_many); one=$(med open_one); }
[[ $ONLY != *p* ]] || { pmany=$(med p_many); pone=$(med p_one); }
[[ $ONLY != *b* ]] || { before=$(med before); half=$(med half); big=$(med big); }
[[ $ONLY != *c* ]] || { h=$(median $rep_half); f=$(median $rep_full); }
}
[[ $ONLY != *a* ]] || printf '(a) receipt+delivery pairs/s, %s clients, median of %s: API %.1f (%s), raw rows %.1f (%s): API/raw %s (goal: at least 0.80)\n' \
    "$CLIENTS" "$RUNS" "$api" "$(all api)" "$raw" "$(all raw)" "$(ratio "$api" "$raw")"
[ -z "$CG_API" ] || printf '(a) instructions per pair (callgrind, 10 pairs after 6 of warm-up, one product): API %s, raw rows %s: raw/API %s\n' \
    "$CG_API" "$CG_RAW" "$(ratio "$CG_RAW" "$CG_API")"
[ ! -s "$TMP/cg_api_top.txt" ] || { echo "(a) the API's pairs, inclusive instructions of 10 pairs (callgrind_annotate, top 40 named functions):"; sed 's/^/    /' "$TMP/cg_api_top.txt"; }
[[ $ONLY != *o* ]] || printf '(o) pairs/s, one open layer %.1f (%s), %s open layers %.1f (%s): slowdown %s (goal: at most 1.10)\n' \
    "$one" "$(all open_one)" "$OPEN" "$many" "$(all open_many)" "$(ratio "$one" "$many")"
[ -z "$CG_MANY" ] || printf '(o) instructions per pair (callgrind, 10 pairs after 6 of warm-up): one open layer %s, %s open layers %s: ratio %s (goal: at most 1.10)\n' \
    "$CG_ONE" "$OPEN" "$CG_MANY" "$(ratio "$CG_MANY" "$CG_ONE")"
[[ $ONLY != *p* ]] || printf '(p) pairs/s, %s clients, 1,000 products with one open layer %.1f (%s), with %s open layers each %.1f (%s): slowdown %s (goal: at most 1.10)\n' \
    "$CLIENTS" "$pone" "$(all p_one)" "$P_OPEN" "$pmany" "$(all p_many)" "$(ratio "$pone" "$pmany")"
[[ $ONLY != *b* ]] || printf '(b) API pairs/s before %.1f (%s), with %s closed layers %.1f (%s): slowdown %s, with %s %.1f (%s): slowdown %s (goal: at most 1.20)\n' \
    "$before" "$(all before)" "$((LAYERS / 2))" "$half" "$(all half)" "$(ratio "$before" "$half")" \
    "$LAYERS" "$big" "$(all big)" "$(ratio "$before" "$big")"
[[ $ONLY != *c* ]] || printf '(c) valuation_report at a past date, 10,000 products: %s layers %.1f ms (%s), %s layers %.1f ms (%s): growth n^%s (goal #16: under 100 ms at 3 M layers)\n' \
    "$((LAYERS / 2))" "$h" "${rep_half% }" "$LAYERS" "$f" "${rep_full% }" "$(growth $((LAYERS / 2)) "$h" "$LAYERS" "$f")"
