#!/usr/bin/env bash
# MRP benchmark (docs/benchmarks.md, issue #16), in a throwaway cluster.
#
# Two generated companies, of n = PGERP_BENCH_ITEMS items and of 2n, in 5 BOM
# levels (3 components each, the lowest level bought), 5 demands per item over
# 52 weeks on the top level, on-hand stock on a tenth of the items. For each
# size, PGERP_BENCH_RUNS rounds (at least 3) of mrp.run(company, start, 'week',
# 52) and, right after it, the plain-SQL floor: the same inputs read and the
# same outputs written (as many rows, same columns, same indexes, same foreign
# keys, the previous rows deleted as mrp.run deletes them). Prints every run,
# the medians, the ratio (goal <= 1.5), the growth exponent from n to 2n (goal
# 1.0) and the peak memory of the run (its DEBUG1 line).
#
#   bench/mrp.sh                               # n = 10,000 and 2n = 20,000
#   PGERP_BENCH_ITEMS=50000 bench/mrp.sh       # n = 50,000 and 2n = 100,000 (#16)
#   PGERP_BENCH_PERF=/tmp/mrp.perf bench/mrp.sh  # plus one run at n under perf record
#
# Hygiene: the job workers' housekeeping (audit seal, chores) is off
# (pgerp.housekeeping_interval = 0) and every pg_cron job is unscheduled
# before the measurement. It neither builds nor installs: run 'make install'.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

ITEMS=${PGERP_BENCH_ITEMS:-10000}
RUNS=${PGERP_BENCH_RUNS:-3}
PERF=${PGERP_BENCH_PERF:-}
[[ $ITEMS =~ ^[1-9][0-9]*$ ]] && [ $((ITEMS % 5)) = 0 ] || die "PGERP_BENCH_ITEMS must be a positive multiple of 5"
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 3 ] || die "PGERP_BENCH_RUNS must be at least 3"

bench_cluster "shared_buffers = 512MB" "synchronous_commit = off" "max_wal_size = 8GB" \
    "pgerp.housekeeping_interval = 0" "autovacuum = off"
pg -o /dev/null -c "SELECT cron.unschedule(jobid) FROM cron.job" -c "SELECT pg_reload_conf()"

# make_company N: a company of N items (N a multiple of 5), its id printed.
make_company() {
    local n=$1 per=$(($1 / 5))
    pg -tA <<SQL | tail -n 1
SET client_min_messages = warning;
SELECT erp.sign_out() \g /dev/null
SELECT erp.create_company('Bench MRP $n') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') \g /dev/null
SELECT erp.create_partner(:c, 'Bench vendor', 'vendor') AS v \gset
CREATE TABLE public.item_$n AS
SELECT n, 1 + (n - 1) / $per AS level, stock.create_product(:c, 'I' || n, 'Item ' || n) AS product_id
  FROM generate_series(1, $n) n;
CREATE UNIQUE INDEX ON public.item_$n (n);
-- 3 components from the level below, for every item above the lowest level:
-- the one at offset (n * 7 + k * 13) mod (n / 5) in that level
INSERT INTO mrp.bom (company_id, product_id, qty) SELECT :c, product_id, 1 FROM public.item_$n WHERE level < 5;
INSERT INTO mrp.bom_line (company_id, bom_id, product_id, qty, uom, uom_qty)
SELECT :c, b.id, c.product_id, 1 + (i.n + k) % 3, 'Unit', 1 + (i.n + k) % 3
  FROM public.item_$n i JOIN mrp.bom b ON b.company_id = :c AND b.product_id = i.product_id
  CROSS JOIN generate_series(0, 2) k
  JOIN public.item_$n c ON c.n = i.level * $per + 1 + (i.n * 7 + k * 13) % $per;
INSERT INTO mrp.planning (company_id, product_id, make_or_buy, lead_days, lot_rule, lot_qty, safety_stock)
SELECT :c, product_id, CASE WHEN level < 5 THEN 'make' ELSE 'buy' END, 7 * (1 + n % 3),
       CASE WHEN n % 4 = 0 THEN 'fixed' ELSE 'l4l' END, CASE WHEN n % 4 = 0 THEN 50 END, (n % 5)
  FROM public.item_$n;
INSERT INTO purchase.supplier_info (company_id, product_id, vendor_id, price, lead_days)
SELECT :c, product_id, :v, 1, 14 FROM public.item_$n WHERE level = 5;
INSERT INTO mrp.demand (company_id, product_id, qty, due, ref)
SELECT :c, i.product_id, 1 + d % 20, date '2027-01-04' + (d % 364), 'SO-' || d
  FROM generate_series(1, 5 * $n) d JOIN public.item_$n i ON i.n = 1 + d % $per;
SELECT stock.receive(product_id, 100, 1) FROM public.item_$n WHERE n % 10 = 0 \g /dev/null
SELECT :c;
SQL
}

# The floor's output tables: the shape of mrp's (columns, indexes, foreign keys).
pg -o /dev/null <<'SQL'
CREATE TABLE public.run_copy (LIKE mrp.mrp_run INCLUDING ALL);
CREATE TABLE public.po_copy (LIKE mrp.planned_order INCLUDING ALL,
    FOREIGN KEY (company_id, run_id) REFERENCES public.run_copy (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id));
CREATE TABLE public.rec_copy (LIKE mrp.plan_record INCLUDING ALL);
CREATE TABLE public.peg_copy (LIKE mrp.pegging INCLUDING ALL);
CREATE TABLE public.msg_copy (LIKE mrp.run_message INCLUDING ALL);
SQL

# floor_sql COMPANY PO REC PEG MSG N: the plain-SQL floor of a run of COMPANY
# (N items) that wrote PO planned orders, REC MRP table rows, PEG pegging and
# MSG messages.
floor_sql() {
    local c=$1 po=$2 rec=$3 peg=$4 msg=$5 n=$6
    cat <<SQL
BEGIN;
SELECT count(*) FROM stock.product p LEFT JOIN mrp.planning pl ON pl.company_id = p.company_id AND pl.product_id = p.id WHERE p.company_id = $c;
SELECT count(*) FROM mrp.bom b JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id WHERE b.company_id = $c;
SELECT count(*) FROM stock.quant WHERE company_id = $c;
SELECT count(*) FROM mrp.demand WHERE company_id = $c;
SELECT count(*) FROM stock.move WHERE company_id = $c AND state IN ('confirmed', 'assigned');
DELETE FROM public.peg_copy WHERE company_id = $c;
DELETE FROM public.rec_copy WHERE company_id = $c;
DELETE FROM public.msg_copy WHERE company_id = $c;
DELETE FROM public.po_copy WHERE company_id = $c;
INSERT INTO public.po_copy (company_id, run_id, product_id, qty, release_date, due_date, kind, past_due)
SELECT $c, (SELECT id FROM public.run_copy WHERE company_id = $c), p.product_id, g.n % 97 + 0.5, current_date, current_date, 'buy', false
  FROM generate_series(1, $po) g(n) JOIN public.item_$n p ON p.n = 1 + g.n % $n;
INSERT INTO public.rec_copy SELECT $c, 1, n / 52, n % 52, current_date, n % 97, n % 97, n % 97, n % 97, n % 97, n % 97 FROM generate_series(1, $rec) n;
INSERT INTO public.peg_copy (company_id, run_id, planned_order_id, demand_ref, qty)
SELECT $c, 1, n, 'SO-' || n, n % 97 FROM generate_series(1, $peg) n;
INSERT INTO public.msg_copy (company_id, run_id, product_id, kind, detail)
SELECT $c, 1, n, 'past_due', 'A planned order due in bucket 3 should have been released 1 bucket(s) before the start.' FROM generate_series(1, $msg) n;
COMMIT;
SQL
}

# timed FILE: run the SQL of FILE in one session with \timing, then print the
# backend's CPU time over it (utime + stime of /proc/<pid>/stat, in ms) as a
# last line "CPU: <ms>": less disturbed than the wall clock by other work on
# the machine.
timed() {
    local f=$1
    {
        echo 'SELECT pg_backend_pid() AS bpid \gset'
        echo '\setenv BPID :bpid'
        echo "\\! cut -d' ' -f14,15 /proc/\$BPID/stat > $TMP/cpu.before"
        echo '\timing on'
        cat "$f"
        echo '\timing off'
        echo "\\! cut -d' ' -f14,15 /proc/\$BPID/stat > $TMP/cpu.after"
    } | pg -o /dev/null 2>&1 || return 1
    local tck
    tck=$(getconf CLK_TCK)
    paste -d' ' "$TMP/cpu.before" "$TMP/cpu.after" |
        awk -v t="$tck" '{ printf "CPU: %.0f\n", (($3 + $4) - ($1 + $2)) * 1000 / t }'
}
cpu_ms() { sed -n 's/^CPU: \([0-9]*\)$/\1/p'; }

ms_sum() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | awk '{ s += $1 } END { printf "%.1f\n", s }'; }
median() { tr ' ' '\n' | grep . | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

declare -A T_RUN T_FLOOR C_RUN C_FLOOR MEM OUTPUT SUMS
for n in "$ITEMS" $((2 * ITEMS)); do
    say "a company of $n items in 5 levels, $((5 * n)) demands"
    c=$(make_company "$n")
    pg -o /dev/null -c "INSERT INTO public.run_copy (company_id, start_date, bucket, horizon) VALUES ($c, current_date, 'week', 52)" \
        -c "VACUUM ANALYZE" -c "CHECKPOINT"
    runs=""; floors=""; mem=""; cpu_runs=""; cpu_floors=""
    for r in $(seq 1 "$RUNS"); do
        say "size $n, round $r: mrp.run, then the floor"
        printf '%s\n' "SET client_min_messages = debug1;" "SELECT mrp.run($c, date '2027-01-04', 'week', 52);" >"$TMP/run.sql"
        out=$(timed "$TMP/run.sql") || { echo "$out" >&2; die "mrp.run failed"; }
        runs+=" $(ms_sum <<<"$out")"; cpu_runs+=" $(cpu_ms <<<"$out")"
        mem+=" $(sed -n 's/.*mrp run [0-9]*: peak memory \([0-9]*\) kB.*/\1/p' <<<"$out" | tail -n 1)"
        read -r po rec peg msg < <(pg -tA -F ' ' -c "SELECT (SELECT count(*) FROM mrp.planned_order WHERE company_id = $c),
            (SELECT count(*) FROM mrp.plan_record WHERE company_id = $c), (SELECT count(*) FROM mrp.pegging WHERE company_id = $c),
            (SELECT count(*) FROM mrp.run_message WHERE company_id = $c)")
        floor_sql "$c" "$po" "$rec" "$peg" "$msg" "$n" >"$TMP/floor.sql"
        timed "$TMP/floor.sql" >"$TMP/floor.out" || { cat "$TMP/floor.out" >&2; die "the floor failed"; }
        floors+=" $(ms_sum <"$TMP/floor.out")"; cpu_floors+=" $(cpu_ms <"$TMP/floor.out")"
        # the next round's DELETEs must not step over this round's dead rows (autovacuum is
        # off while the bench runs): vacuumed, untimed, so every round starts from the same state
        pg -o /dev/null -c "VACUUM mrp.planned_order, mrp.plan_record, mrp.pegging, mrp.run_message,
            public.po_copy, public.rec_copy, public.peg_copy, public.msg_copy" -c "CHECKPOINT"
    done
    T_RUN[$n]=$runs; T_FLOOR[$n]=$floors; MEM[$n]=$mem; C_RUN[$n]=$cpu_runs; C_FLOOR[$n]=$cpu_floors
    OUTPUT[$n]="$po planned orders, $rec MRP table rows, $peg pegging rows, $msg messages"
    # checksums of every column of the last run's results, to compare builds
    SUMS[$n]=$(pg -tA -F ' ' -c "SELECT
        (SELECT left(md5(string_agg(o::text, '|' ORDER BY o.id)), 8) FROM mrp.planned_order o WHERE company_id = $c),
        (SELECT left(md5(string_agg(r::text, '|' ORDER BY r.product_id, r.bucket)), 8) FROM mrp.plan_record r WHERE company_id = $c),
        (SELECT left(md5(string_agg((g.planned_order_id, g.demand_ref, g.qty)::text, '|' ORDER BY g.id)), 8) FROM mrp.pegging g WHERE company_id = $c),
        (SELECT left(md5(string_agg((m.product_id, m.kind, m.detail)::text, '|' ORDER BY m.id)), 8) FROM mrp.run_message m WHERE company_id = $c)")
    if [ -n "$PERF" ] && [ "$n" = "$ITEMS" ]; then
        say "one more run at $n under perf record (-g) into $PERF"
        pg -o /dev/null <<SQL
SELECT pg_backend_pid() AS bpid \gset
\setenv BPID :bpid
\setenv PERFOUT $PERF
\! (perf record -F 999 -g -p \$BPID -o \$PERFOUT >/dev/null 2>&1 & echo \$! > \$PERFOUT.pid); sleep 2
SELECT mrp.run($c, date '2027-01-04', 'week', 52);
\! kill -INT \$(cat \$PERFOUT.pid); sleep 3; rm -f \$PERFOUT.pid
SQL
    fi
done

echo
echo "Shared machine: other work may run alongside; the ratios are measured side by side (run, then floor)."
for n in "$ITEMS" $((2 * ITEMS)); do
    tr_=$(median <<<"${T_RUN[$n]}"); tf=$(median <<<"${T_FLOOR[$n]}")
    printf '\nitems %s (5 levels), demands %s, 52 weekly buckets\n' "$n" "$((5 * n))"
    printf 'output: %s\n' "${OUTPUT[$n]}"
    printf 'md5 of the results (planned orders, MRP table, pegging, messages): %s\n' "${SUMS[$n]}"
    printf 'mrp.run ms, all runs:   %s   median %s   (goal < 30000 at 100,000 items)\n' "${T_RUN[$n]# }" "$tr_"
    printf 'floor ms, all runs:     %s   median %s\n' "${T_FLOOR[$n]# }" "$tf"
    printf 'ratio per round:       '
    paste -d' ' <(tr ' ' '\n' <<<"${T_RUN[$n]# }") <(tr ' ' '\n' <<<"${T_FLOOR[$n]# }") |
        awk '{ printf " %.2f", $1 / $2 }'
    printf '\nratio of the medians:   %s   (goal <= 1.5)\n' "$(awk -v a="$tr_" -v b="$tf" 'BEGIN { printf "%.2f", a / b }')"
    cr=$(median <<<"${C_RUN[$n]}"); cf=$(median <<<"${C_FLOOR[$n]}")
    printf 'backend CPU ms, mrp.run: %s   median %s\n' "${C_RUN[$n]# }" "$cr"
    printf 'backend CPU ms, floor:   %s   median %s\n' "${C_FLOOR[$n]# }" "$cf"
    printf 'CPU ratio of the medians: %s   (goal <= 1.5)\n' "$(awk -v a="$cr" -v b="$cf" 'BEGIN { printf "%.2f", a / b }')"
    printf 'peak memory of the run (kB), all runs: %s\n' "${MEM[$n]# }"
done
t1=$(median <<<"${T_RUN[$ITEMS]}"); t2=$(median <<<"${T_RUN[$((2 * ITEMS))]}")
f1=$(median <<<"${T_FLOOR[$ITEMS]}"); f2=$(median <<<"${T_FLOOR[$((2 * ITEMS))]}")
c1=$(median <<<"${C_RUN[$ITEMS]}"); c2=$(median <<<"${C_RUN[$((2 * ITEMS))]}")
d1=$(median <<<"${C_FLOOR[$ITEMS]}"); d2=$(median <<<"${C_FLOOR[$((2 * ITEMS))]}")
expo() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", log(b / a) / log(2) }'; }
printf '\ngrowth exponent n -> 2n (goal 1.00, linear): wall clock mrp.run %s, floor %s; CPU mrp.run %s, floor %s\n' \
    "$(expo "$t1" "$t2")" "$(expo "$f1" "$f2")" "$(expo "$c1" "$c2")" "$(expo "$d1" "$d2")"
