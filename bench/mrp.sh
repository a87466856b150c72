#!/usr/bin/env bash
# MRP benchmark (docs/benchmarks.md), in a throwaway cluster: a generated
# company of PGERP_BENCH_ITEMS items in 5 BOM levels (3 components each,
# the lowest level bought), PGERP_BENCH_DEMANDS demands over 52 weeks, on-hand
# stock on a tenth of the items; then mrp.run(company, start, 'week', 52),
# against, side by side, plain SQL that reads the same inputs and writes the
# same number of output rows to tables of the same shape (median of
# PGERP_BENCH_RUNS runs each). Goal: the run under 10 s, the ratio at most 3.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

ITEMS=${PGERP_BENCH_ITEMS:-10000}
DEMANDS=${PGERP_BENCH_DEMANDS:-50000}
RUNS=${PGERP_BENCH_RUNS:-3}

bench_cluster "shared_buffers = 256MB" "synchronous_commit = off" "max_wal_size = 4GB"

say "a company of $ITEMS items in 5 levels, $DEMANDS demands"
pg -o /dev/null <<SQL
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench MRP') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
SELECT erp.create_partner(:c, 'Bench vendor', 'vendor') AS v \gset
SELECT setseed(0.7);
CREATE TABLE public.item AS
SELECT n, 1 + (n - 1) * 5 / $ITEMS AS level, stock.create_product(:c, 'I' || n, 'Item ' || n) AS product_id
  FROM generate_series(1, $ITEMS) n;
CREATE INDEX ON public.item (level, n);
-- 3 components from the level below, for every item above the lowest level
INSERT INTO mrp.bom (company_id, product_id, qty) SELECT :c, product_id, 1 FROM public.item WHERE level < 5;
INSERT INTO mrp.bom_line (company_id, bom_id, product_id, qty, uom, uom_qty)
SELECT :c, b.id, c.product_id, 1 + (i.n + k) % 3, 'Unit', 1 + (i.n + k) % 3
  FROM public.item i JOIN mrp.bom b ON b.company_id = :c AND b.product_id = i.product_id
  CROSS JOIN generate_series(0, 2) k
  JOIN LATERAL (SELECT x.product_id FROM public.item x WHERE x.level = i.level + 1
                 ORDER BY x.n OFFSET (i.n * 7 + k * 13) % ($ITEMS / 5) LIMIT 1) c ON true;
INSERT INTO mrp.planning (company_id, product_id, make_or_buy, lead_days, lot_rule, lot_qty, safety_stock)
SELECT :c, product_id, CASE WHEN level < 5 THEN 'make' ELSE 'buy' END, 7 * (1 + n % 3),
       CASE WHEN n % 4 = 0 THEN 'fixed' ELSE 'l4l' END, CASE WHEN n % 4 = 0 THEN 50 END, (n % 5)
  FROM public.item;
INSERT INTO purchase.supplier_info (company_id, product_id, vendor_id, price, lead_days)
SELECT :c, product_id, :v, 1, 14 FROM public.item WHERE level = 5;
INSERT INTO mrp.demand (company_id, product_id, qty, due, ref)
SELECT :c, (SELECT product_id FROM public.item WHERE level = 1 ORDER BY n OFFSET d % ($ITEMS / 5) LIMIT 1),
       1 + d % 20, date '2027-01-04' + (d % 364), 'SO-' || d
  FROM generate_series(1, $DEMANDS) d;
SELECT stock.receive(product_id, 100, 1) FROM public.item WHERE n % 10 = 0;
SQL
pg -c "VACUUM ANALYZE" -o /dev/null
company=$(pg -tAc "SELECT id FROM erp.company WHERE name = 'Bench MRP'")

median_ms() {
    local sql=$1 out
    out=$( { echo '\timing on'; for _ in $(seq 1 "$RUNS"); do echo "$sql"; done; } | pg -o /dev/null 2>&1 |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n)
    sed -n "$(( (RUNS + 1) / 2 ))p" <<<"$out"
}

say "mrp.run, 52 weekly buckets, median of $RUNS runs"
t_run=$(median_ms "SELECT mrp.run($company, date '2027-01-04', 'week', 52);")
read -r n_po n_rec n_peg n_msg < <(pg -tA -F ' ' -c "SELECT (SELECT count(*) FROM mrp.planned_order), (SELECT count(*) FROM mrp.plan_record),
    (SELECT count(*) FROM mrp.pegging), (SELECT count(*) FROM mrp.run_message)")

say "plain SQL: the same inputs read, the same number of rows written"
pg -o /dev/null <<SQL
CREATE TABLE public.po_copy (LIKE mrp.planned_order INCLUDING ALL);
CREATE TABLE public.rec_copy (LIKE mrp.plan_record INCLUDING ALL);
CREATE TABLE public.peg_copy (LIKE mrp.pegging INCLUDING ALL);
CREATE TABLE public.msg_copy (LIKE mrp.run_message INCLUDING ALL);
SQL
baseline="BEGIN;
SELECT count(*) FROM stock.product p LEFT JOIN mrp.planning pl ON pl.company_id = p.company_id AND pl.product_id = p.id WHERE p.company_id = $company;
SELECT count(*) FROM mrp.bom b JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id WHERE b.company_id = $company;
SELECT count(*) FROM stock.quant WHERE company_id = $company;
SELECT count(*) FROM mrp.demand WHERE company_id = $company;
SELECT count(*) FROM stock.move WHERE company_id = $company AND state IN ('confirmed', 'assigned');
TRUNCATE public.po_copy, public.rec_copy, public.peg_copy, public.msg_copy;
INSERT INTO public.po_copy (company_id, id, run_id, product_id, qty, release_date, due_date, kind, past_due)
SELECT $company, n, 1, n, n, current_date, current_date, 'buy', false FROM generate_series(1, $n_po) n;
INSERT INTO public.rec_copy SELECT $company, 1, n, 1, current_date, n, n, n, n, n, n FROM generate_series(1, $n_rec) n;
INSERT INTO public.peg_copy (company_id, run_id, planned_order_id, demand_ref, qty)
SELECT $company, 1, n, 'SO-' || n, n FROM generate_series(1, $n_peg) n;
INSERT INTO public.msg_copy (company_id, run_id, product_id, kind, detail)
SELECT $company, 1, n, 'past_due', 'x' FROM generate_series(1, $n_msg) n;
COMMIT;"
t_plain=$( { echo '\timing on'; for _ in $(seq 1 "$RUNS"); do echo "$baseline"; done; } | pg -o /dev/null 2>&1 |
    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | paste -sd' ' | awk -v runs="$RUNS" '{ per = NF / runs; for (r = 0; r < runs; r++) { s = 0; for (i = 1; i <= per; i++) s += $(r * per + i); print s } }' |
    sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")

echo
printf 'items %s (5 levels), demands %s, 52 weekly buckets\n' "$ITEMS" "$DEMANDS"
printf 'output: %s planned orders, %s MRP table rows, %s pegging rows, %s messages\n' "$n_po" "$n_rec" "$n_peg" "$n_msg"
printf 'mrp.run:                                     %9.1f ms   (goal < 10000)\n' "$t_run"
printf 'plain SQL reading the inputs, writing rows:  %9.1f ms\n' "$t_plain"
printf 'ratio mrp.run / plain SQL:                   %9.2f      (goal <= 3)\n' "$(echo "$t_run / $t_plain" | bc -l)"
