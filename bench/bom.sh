#!/usr/bin/env bash
# BOM explosion and costing benchmark (docs/benchmarks.md), in a throwaway
# cluster: generated trees of PGERP_BENCH_NODES/2 and PGERP_BENCH_NODES
# (10,000) products over 10 levels (level 1 to 10, each node's parent a node
# of the level above, leaves costed at a standard price), each in its own
# company and measured alone (the smaller one's BOMs are deleted once the
# larger one is built and its roll-up timed with both present), then, side by side, median of PGERP_BENCH_RUNS (5) runs after a
# warm-up, with every run:
#   mrp.explode_all(root, 10)  vs  a plain recursive CTE over the same tables
#   mrp.explode(root, 10)      (kits only: here the root's direct components)
#   mrp.bom_cost(root)         (roll-up of every sub-assembly, bottom-up)
# and the growth exponent of each between the two sizes.
# With the hygiene of #16: no audit seal or pg_cron job during the
# measurement, ratios truncated to two decimals.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

NODES=${PGERP_BENCH_NODES:-10000}
RUNS=${PGERP_BENCH_RUNS:-5}
HALF=$((NODES / 2))
[ "$HALF" -ge 10 ] || die "PGERP_BENCH_NODES must be at least 20"

bench_cluster "${BENCH_QUIET_CONF[@]}"
bench_quiet
pg -o /dev/null -c "SELECT erp.sign_out()"

# make_tree N: a company with a BOM tree of N nodes below its root (tables
# public.node_N and public.edge_N); prints the root's product id
make_tree() {
    pg -tA -v n="$1" <<'SQL' | tail -n 1
SET client_min_messages = warning;
SELECT erp.create_company('Bench BOM ' || :n) AS c \gset
SELECT stock.create_warehouse(:c, 'WH') \g /dev/null
SELECT mrp.create_workcenter(:c, 'WC', 30) AS wc \gset
CREATE TABLE public.node_:n AS
SELECT n, CASE WHEN n = 0 THEN 0 ELSE 1 + (n - 1) * 10 / :n END AS level,
       stock.create_product(:c, 'N' || n, 'Node ' || n, 'fifo', 1 + n % 7) AS product_id
  FROM generate_series(0, :n) n;
-- each node's parent: a node of the level above (setseed: the same tree every run)
SELECT setseed(0.42) \g /dev/null
CREATE TABLE public.edge_:n AS
SELECT c.product_id AS child, (SELECT p.product_id FROM public.node_:n p WHERE p.level = c.level - 1
                                ORDER BY random() + c.n * 0 LIMIT 1) AS parent
  FROM public.node_:n c WHERE c.level > 0;
INSERT INTO mrp.bom (company_id, product_id, qty)
SELECT :c, e.parent, 1 + e.parent % 3 FROM (SELECT DISTINCT parent FROM public.edge_:n) e;
INSERT INTO mrp.bom_line (company_id, bom_id, product_id, qty, uom, uom_qty)
SELECT :c, b.id, e.child, 1 + e.child % 4, 'Unit', 1 + e.child % 4
  FROM public.edge_:n e JOIN mrp.bom b ON b.company_id = :c AND b.product_id = e.parent;
INSERT INTO mrp.bom_operation (company_id, bom_id, sequence, name, workcenter_id, minutes)
SELECT :c, b.id, 10, 'work', :wc, 5 FROM mrp.bom b WHERE b.company_id = :c;
SELECT product_id FROM public.node_:n WHERE n = 0;
SQL
}

cte() {
    echo "WITH RECURSIVE t(level, product_id, qty) AS (
  SELECT 1, bl.product_id, 10 / b.qty * bl.qty FROM mrp.bom b JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id
   WHERE b.product_id = $1
  UNION ALL
  SELECT t.level + 1, bl.product_id, t.qty / b.qty * bl.qty FROM t JOIN mrp.bom b ON b.product_id = t.product_id
    JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id)
SELECT count(*), sum(qty) FROM t;"
}
measures=(cte all explode cost)
declare -A ROOT T BOMS COST
# Each tree is measured alone: the BOMs of the smaller one are deleted before
# the larger one is built (its products stay). With both trees' BOMs in the
# database, mrp.bom_cost of the larger one took about 10 times as long.
for n in "$HALF" "$NODES"; do
    say "a BOM tree of $n nodes over 10 levels"
    root=$(make_tree "$n")
    ROOT[$n]=$root
    pg -c "VACUUM ANALYZE" -o /dev/null
    if [ "$n" = "$NODES" ]; then
        # the roll-up with another company's BOMs present (they once made
        # it 4 times slower: a generic plan), then that company's BOMs go
        say "timing mrp.bom_cost at $n nodes with the $HALF-node tree's BOMs present"
        T[cost_other:$n]=$(ms_runs "$RUNS" "SELECT * FROM mrp.bom_cost($root);")
        c=$(pg -tAc "SELECT company_id FROM stock.product WHERE id = ${ROOT[$HALF]}")
        pg -o /dev/null -c "DELETE FROM mrp.bom_operation WHERE company_id = $c" \
            -c "DELETE FROM mrp.bom_line WHERE company_id = $c" -c "DELETE FROM mrp.bom WHERE company_id = $c" \
            -c "VACUUM ANALYZE"
    fi
    n_cte=$(pg -tAc "$(cte "$root")" | cut -d'|' -f1)
    n_ours=$(pg -tAc "SELECT count(*) FROM mrp.explode_all($root, 10)")
    [ "$n_cte" = "$n_ours" ] || die "the two explosions disagree at $n nodes: $n_cte vs $n_ours nodes"
    [ "$n_ours" = "$n" ] || die "the tree of $n nodes explodes to $n_ours nodes"
    say "timing at $n nodes, $RUNS runs after a warm-up"
    for m in "${measures[@]}"; do
        case $m in
            cte) sql=$(cte "$root") ;;
            all) sql="SELECT count(*), sum(qty) FROM mrp.explode_all($root, 10);" ;;
            explode) sql="SELECT count(*) FROM mrp.explode($root, 10);" ;;
            cost) sql="SELECT * FROM mrp.bom_cost($root);" ;;
        esac
        T[$m:$n]=$(ms_runs "$RUNS" "$sql")
    done
    BOMS[$n]=$(pg -tAc "SELECT count(*) FROM mrp.bom b JOIN public.node_$n x ON x.product_id = b.product_id")
    COST[$n]=$(pg -tAc "SELECT total_cost || ' per batch of ' || batch_qty FROM mrp.bom_cost($root)")
done

echo
# shellcheck disable=SC2086
med() { median ${T[$1:$2]}; }
# shellcheck disable=SC2086
all() { runs_fmt %.1f ${T[$1:$2]}; }
printf 'median of %s runs in ms (every run in parentheses)\n' "$RUNS"
for n in "$HALF" "$NODES"; do
    printf 'tree: %s nodes below the root, %s BOMs, 10 levels\n' "$n" "${BOMS[$n]}"
    printf '  plain recursive CTE explosion:   %9.1f ms (%s)\n' "$(med cte "$n")" "$(all cte "$n")"
    printf '  mrp.explode_all:                 %9.1f ms (%s)   ratio %s (ours / plain CTE)\n' \
        "$(med all "$n")" "$(all all "$n")" "$(ratio "$(med all "$n")" "$(med cte "$n")")"
    printf '  mrp.explode (direct components): %9.1f ms (%s)\n' "$(med explode "$n")" "$(all explode "$n")"
    printf '  mrp.bom_cost (full roll-up):     %9.1f ms (%s)   (%s)\n' "$(med cost "$n")" "$(all cost "$n")" "${COST[$n]}"
    if [ "$n" = "$NODES" ]; then
        printf '  mrp.bom_cost, another company'"'"'s %s-node tree present: %9.1f ms (%s)   ratio %s (with / without)\n' \
            "$HALF" "$(med cost_other "$n")" "$(all cost_other "$n")" "$(ratio "$(med cost_other "$n")" "$(med cost "$n")")"
    fi
done
printf 'growth %s -> %s nodes: plain CTE n^%s, explode_all n^%s, explode n^%s, bom_cost n^%s\n' "$HALF" "$NODES" \
    "$(growth "$HALF" "$(med cte "$HALF")" "$NODES" "$(med cte "$NODES")")" \
    "$(growth "$HALF" "$(med all "$HALF")" "$NODES" "$(med all "$NODES")")" \
    "$(growth "$HALF" "$(med explode "$HALF")" "$NODES" "$(med explode "$NODES")")" \
    "$(growth "$HALF" "$(med cost "$HALF")" "$NODES" "$(med cost "$NODES")")"
