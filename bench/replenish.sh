#!/usr/bin/env bash
# Replenishment benchmark (docs/benchmarks.md), in a throwaway cluster:
# PGERP_BENCH_RULES min/max reorder rules on as many bought products (one
# vendor), a tenth of them below their minimum; mrp.replenish(company) timed
# (goal: under 10 s), then a second call, which must order nothing.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

RULES=${PGERP_BENCH_RULES:-100000}

bench_cluster "shared_buffers = 256MB" "synchronous_commit = off" "max_wal_size = 4GB"

say "$RULES products with reorder rules, stock on nine in ten"
pg -o /dev/null <<SQL
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench replenish') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
SELECT erp.create_partner(:c, 'Bench vendor', 'vendor') AS v \gset
SELECT stock.create_product(:c, 'SEED', 'Seed');
-- products, rules and supplier lines in bulk (the API makes the first one)
INSERT INTO stock.product (company_id, sku, name) SELECT :c, 'R' || n, 'Rule product ' || n FROM generate_series(1, $RULES) n;
INSERT INTO purchase.supplier_info (company_id, product_id, vendor_id, price, lead_days)
SELECT :c, p.id, :v, 1, 5 FROM stock.product p WHERE p.company_id = :c AND p.sku LIKE 'R%';
INSERT INTO mrp.reorder_rule (company_id, product_id, warehouse_id, min_qty, max_qty, multiple)
SELECT :c, p.id, :wh, 10, 50, 5 FROM stock.product p WHERE p.company_id = :c AND p.sku LIKE 'R%';
INSERT INTO stock.quant (company_id, product_id, location_id, quantity)
SELECT :c, p.id, stock.warehouse_location(:wh), 20 FROM stock.product p
 WHERE p.company_id = :c AND p.sku LIKE 'R%' AND substr(p.sku, 2)::int % 10 <> 0;
SQL
pg -c "VACUUM ANALYZE" -o /dev/null
company=$(pg -tAc "SELECT id FROM erp.company WHERE name = 'Bench replenish'")

say "mrp.replenish, twice"
t1=$( { echo '\timing on'; echo "SELECT count(*) FROM mrp.replenish($company);"; } | pg -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
ordered=$(pg -tAc "SELECT count(*) FROM purchase.order_line WHERE company_id = $company")
t2=$( { echo '\timing on'; echo "SELECT count(*) FROM mrp.replenish($company);"; } | pg -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
again=$(pg -tAc "SELECT count(*) FROM purchase.order_line WHERE company_id = $company")
[ "$again" = "$ordered" ] || die "the second call ordered $((again - ordered)) more lines"

echo
printf 'rules: %s; ordered: %s lines in %s purchase order(s)\n' "$RULES" "$ordered" \
    "$(pg -tAc "SELECT count(*) FROM purchase.order WHERE company_id = $company")"
printf 'mrp.replenish, first call:   %9.1f ms   (goal < 10000)\n' "$t1"
printf 'mrp.replenish, second call:  %9.1f ms   (orders nothing new)\n' "$t2"
