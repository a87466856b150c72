#!/usr/bin/env bash
# BOM explosion and costing benchmark (docs/benchmarks.md), in a throwaway
# cluster: a generated tree of PGERP_BENCH_NODES products over 10 levels
# (level 1 to 10, each node's parent a node of the level above, leaves costed
# at a standard price), then, side by side, median of PGERP_BENCH_RUNS runs:
#   mrp.explode_all(root, 10)  vs  a plain recursive CTE over the same tables
#   mrp.explode(root, 10)      (kits only: here the root's direct components)
#   mrp.bom_cost(root)         (roll-up of every sub-assembly, bottom-up)
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

NODES=${PGERP_BENCH_NODES:-10000}
RUNS=${PGERP_BENCH_RUNS:-5}

bench_cluster

say "a BOM tree of $NODES nodes over 10 levels"
pg -o /dev/null <<SQL
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench BOM') AS c \gset
SELECT stock.create_warehouse(:c, 'WH');
SELECT mrp.create_workcenter(:c, 'WC', 30) AS wc \gset
CREATE TABLE public.node AS
SELECT n, CASE WHEN n = 0 THEN 0 ELSE 1 + (n - 1) * 10 / $NODES END AS level,
       stock.create_product(:c, 'N' || n, 'Node ' || n, 'fifo', 1 + n % 7) AS product_id
  FROM generate_series(0, $NODES) n;
-- each node's parent: a node of the level above (setseed: the same tree every run)
SELECT setseed(0.42);
CREATE TABLE public.edge AS
SELECT c.product_id AS child, (SELECT p.product_id FROM public.node p WHERE p.level = c.level - 1
                                ORDER BY random() + c.n * 0 LIMIT 1) AS parent
  FROM public.node c WHERE c.level > 0;
INSERT INTO mrp.bom (company_id, product_id, qty)
SELECT :c, e.parent, 1 + e.parent % 3 FROM (SELECT DISTINCT parent FROM public.edge) e;
INSERT INTO mrp.bom_line (company_id, bom_id, product_id, qty, uom, uom_qty)
SELECT :c, b.id, e.child, 1 + e.child % 4, 'Unit', 1 + e.child % 4
  FROM public.edge e JOIN mrp.bom b ON b.company_id = :c AND b.product_id = e.parent;
INSERT INTO mrp.bom_operation (company_id, bom_id, sequence, name, workcenter_id, minutes)
SELECT :c, b.id, 10, 'work', :wc, 5 FROM mrp.bom b WHERE b.company_id = :c;
SQL
pg -c "VACUUM ANALYZE" -o /dev/null
root=$(pg -tAc "SELECT product_id FROM public.node WHERE n = 0")
boms=$(pg -tAc "SELECT count(*) FROM mrp.bom")

# median ms of RUNS runs of a query (after one warm-up run)
median_ms() {
    local sql=$1 out
    out=$( { echo '\timing on'; for _ in $(seq 0 "$RUNS"); do echo "$sql"; done; } | pg -o /dev/null 2>&1 |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n "$RUNS" | sort -n)
    sed -n "$(( (RUNS + 1) / 2 ))p" <<<"$out"
}

cte="WITH RECURSIVE t(level, product_id, qty) AS (
  SELECT 1, bl.product_id, 10 / b.qty * bl.qty FROM mrp.bom b JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id
   WHERE b.product_id = $root
  UNION ALL
  SELECT t.level + 1, bl.product_id, t.qty / b.qty * bl.qty FROM t JOIN mrp.bom b ON b.product_id = t.product_id
    JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id)
SELECT count(*), sum(qty) FROM t;"
ours="SELECT count(*), sum(qty) FROM mrp.explode_all($root, 10);"

n_cte=$(pg -tAc "$cte" | cut -d'|' -f1)
n_ours=$(pg -tAc "$ours" | cut -d'|' -f1)
[ "$n_cte" = "$n_ours" ] || die "the two explosions disagree: $n_cte vs $n_ours nodes"

say "timing, median of $RUNS runs"
t_cte=$(median_ms "$cte")
t_all=$(median_ms "$ours")
t_explode=$(median_ms "SELECT count(*) FROM mrp.explode($root, 10);")
t_cost=$(median_ms "SELECT * FROM mrp.bom_cost($root);")
cost=$(pg -tAc "SELECT total_cost || ' per batch of ' || batch_qty FROM mrp.bom_cost($root)")

echo
printf 'tree: %s nodes below the root, %s BOMs, 10 levels\n' "$n_ours" "$boms"
printf 'plain recursive CTE explosion:   %9.1f ms\n' "$t_cte"
printf 'mrp.explode_all:                 %9.1f ms   ratio %.2f (ours / plain CTE)\n' "$t_all" "$(echo "$t_all / $t_cte" | bc -l)"
printf 'mrp.explode (direct components): %9.1f ms\n' "$t_explode"
printf 'mrp.bom_cost (full roll-up):     %9.1f ms   (%s)\n' "$t_cost" "$cost"
