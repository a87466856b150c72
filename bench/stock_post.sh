#!/usr/bin/env bash
# Stock posting benchmark (docs/benchmarks.md), in a throwaway cluster:
#  (a) receive/deliver through the API against the raw INSERT/UPDATE of the
#      same rows, pgbench with PGERP_BENCH_CLIENTS clients over 1,000 products;
#  (b) API posting with 0 and with PGERP_BENCH_LAYERS existing layers;
#  (c) stock.valuation_report at a past date over PGERP_BENCH_LAYERS layers of
#      10,000 products.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

CLIENTS=${PGERP_BENCH_CLIENTS:-4}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
LAYERS=${PGERP_BENCH_LAYERS:-1000000}

bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off"

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

say "(a) API against raw rows: $CLIENTS clients, $SECONDS_EACH s each, alternating"
api1=$(tps "$TMP/api.sql"); raw1=$(tps "$TMP/raw.sql")
api2=$(tps "$TMP/api.sql"); raw2=$(tps "$TMP/raw.sql")

say "(b) adding $LAYERS closed historical layers to the same 1,000 products"
pg -c "INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
       SELECT (SELECT company FROM bench.ctx), p.id, now() - interval '2 days' - g * interval '1 second', 1, 5, 5, 'history'
         FROM generate_series(1, $LAYERS) g JOIN bench.p p ON p.n = 1 + g % 1000" \
   -c "VACUUM ANALYZE stock.valuation_layer" -c "CHECKPOINT"
big1=$(tps "$TMP/api.sql"); big2=$(tps "$TMP/api.sql")

say "(c) valuation_report over $LAYERS layers of 10,000 products"
pg -o /dev/null <<SQL
SET client_min_messages = warning;
SELECT stock.create_product((SELECT company FROM bench.ctx), 'R-' || n, 'Report product ' || n) FROM generate_series(1, 10000) n;
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
SELECT (SELECT company FROM bench.ctx), p.id, now() - (g % 30) * interval '1 day', 1, 5, 5, 'report history'
  FROM generate_series(1, $LAYERS) g
  JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM stock.product WHERE sku LIKE 'R-%') p ON p.k = 1 + g % 10000;
VACUUM ANALYZE stock.valuation_layer;
SQL
report_line=$(pg -tA 2>&1 <<'SQL' | sed -n 's/.*report_ms=\([0-9.]*\) rows=\([0-9]*\).*/\1 \2/p'
DO $$
DECLARE t0 timestamptz; best float8 := 1e9; n bigint;
BEGIN
    FOR i IN 1 .. 3 LOOP
        t0 := clock_timestamp();
        SELECT count(*) INTO n FROM stock.valuation_report((SELECT company FROM bench.ctx), now() - interval '15 days');
        best := least(best, 1000 * extract(epoch FROM clock_timestamp() - t0));
    END LOOP;
    RAISE NOTICE 'report_ms=% rows=%', round(best::numeric, 1), n;
END $$;
SQL
)

echo
awk -v a1="$api1" -v r1="$raw1" -v a2="$api2" -v r2="$raw2" -v b1="$big1" -v b2="$big2" -v rep="$report_line" -v c="$CLIENTS" -v L="$LAYERS" 'BEGIN {
    api = (a1 + a2) / 2; raw = (r1 + r2) / 2
    printf "(a) receipt+delivery pairs/s, %d clients: API %.1f, raw rows %.1f (runs %.1f/%.1f and %.1f/%.1f): API at %.0f%% of raw (goal: at least 50%%)\n", c, api, raw, a1, a2, r1, r2, 100 * api / raw
    big = (b1 + b2) / 2
    printf "(b) API pairs/s before %.1f (the two runs of (a)), with %d more layers %.1f (runs %.1f/%.1f): ratio %.2f (goal: at most 1.2)\n", api, L, big, b1, b2, api / big
    split(rep, r, " ")
    printf "(c) valuation_report at a past date, %d layers, %d products: %s ms best of 3 (goal: under 1000 ms)\n", L, r[2], r[1]
}'
