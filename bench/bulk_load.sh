#!/usr/bin/env bash
# A bulk load into a new database in one procedure (docs/stock.md, "Bulk loads";
# docs/benchmarks.md, "Bulk loads in one procedure"), in a throwaway cluster: PGERP_BENCH_POSTINGS
# (10,000) receipts and deliveries of 50 products, posted through stock.receive / stock.deliver
# by one CALL that commits every 1,000 (as an import job does), into fresh tables:
#  - in database pgerp, whose first job worker runs the housekeeping every
#    PGERP_BENCH_HOUSEKEEPING (5) seconds; it analyzes the tables that outgrew their statistics;
#  - in database bulk_base, which no job worker serves: nothing analyzes the tables until the
#    CALL ends (a backend reports its row counts only when idle, so autovacuum sees nothing),
#    and the plans the posting functions keep stay those made on the empty tables.
# Each round recreates both databases and runs the two loads one after the other (the order
# alternates). Prints the time to post the first half and all of it (n and 2n postings), the
# growth exponent between them, the medians of PGERP_BENCH_RUNS (3) rounds with every run, and
# the ratio of the totals (without / with the housekeeping). pg_cron jobs are unscheduled.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

POSTINGS=${PGERP_BENCH_POSTINGS:-10000}
RUNS=${PGERP_BENCH_RUNS:-3}
HK=${PGERP_BENCH_HOUSEKEEPING:-5}
HALF=$((POSTINGS / 2))
[ $((HALF % 1000)) = 0 ] || die "PGERP_BENCH_POSTINGS must be a multiple of 2,000"

bench_cluster "shared_buffers = 512MB" "synchronous_commit = off" "max_wal_size = 8GB" "jit = off" \
    "pgerp.housekeeping_interval = $HK" "pgerp.job_databases = 'pgerp'"
bench_quiet

# fresh DB: the database with the pack, a company, 50 products, the loading procedure
fresh() {
    local db=$1
    if [ "$db" = pgerp ]; then
        pg -q -d postgres -c "DROP DATABASE IF EXISTS pgerp WITH (FORCE)" -c "CREATE DATABASE pgerp"
        setup_database "$PGHOST" "$PGPORT" >/dev/null
        PGDATABASE=pgerp bench_quiet
    else
        pg -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
        pg -q -d "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgerp_mrp CASCADE"
    fi
    pg -q -d "$db" -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bulk load') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA bench;
CREATE TABLE bench.p AS
    SELECT n, stock.create_product(:c, 'BL-' || n, 'Loaded ' || n, CASE WHEN n % 2 = 0 THEN 'fifo' ELSE 'avco' END) AS id,
           :wh::bigint AS wh
      FROM generate_series(0, 49) n;
-- postings p_from .. p_to: a receipt of 10 then a delivery of 7 of each product in turn,
-- dated a minute apart from 100 days ago; a commit and a notice (the time) every 1,000
CREATE PROCEDURE bench.load(p_from int, p_to int) LANGUAGE plpgsql AS $$
DECLARE
    v_base timestamptz := date_trunc('day', now()) - interval '100 days';
BEGIN
    FOR b IN p_from .. p_to BY 1000 LOOP
        PERFORM count(CASE WHEN (i / 50) % 2 = 0
                           THEN stock.receive(p.id, 10, 1 + i % 7, p.wh, NULL, v_base + i * interval '1 minute')
                           ELSE stock.deliver(p.id, 7, p.wh, NULL, v_base + i * interval '1 minute') END)
          FROM generate_series(b, least(b + 999, p_to)) i JOIN bench.p p ON p.n = i % 50;
        COMMIT;
        RAISE NOTICE 'posted % at %', least(b + 999, p_to), extract(epoch FROM clock_timestamp());
    END LOOP;
END $$;
SQL
}

# load DB: "half_s total_s" of one CALL of POSTINGS postings
load() {
    local db=$1 out t0
    t0=$(date +%s.%N)
    out=$(pg -d "$db" -c "CALL bench.load(0, $((POSTINGS - 1)))" 2>&1) || { echo "$out" >&2; die "the load into $db failed"; }
    awk -v t0="$t0" -v half="$((HALF - 1))" -v all="$((POSTINGS - 1))" '
        /NOTICE:  posted/ { if ($3 == half) h = $5 - t0; if ($3 == all) a = $5 - t0 }
        END { printf "%.1f %.1f\n", h, a }' <<<"$out"
}

say "$RUNS rounds of $POSTINGS postings in one CALL into fresh tables, with the housekeeping every $HK s and without"
hk_half=() hk_all=() base_half=() base_all=()
for r in $(seq 1 "$RUNS"); do
    fresh pgerp
    fresh bulk_base
    pg -q -c "CHECKPOINT"
    if [ $((r % 2)) = 1 ]; then order="bulk_base pgerp"; else order="pgerp bulk_base"; fi
    for db in $order; do
        read -r h a <<<"$(load "$db")"
        if [ "$db" = pgerp ]; then hk_half+=("$h"); hk_all+=("$a"); else base_half+=("$h"); base_all+=("$a"); fi
        say "round $r, $db: $HALF postings in $h s, $POSTINGS in $a s"
    done
    analyzed=$(pg -tA -c "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'stock' AND last_analyze IS NOT NULL")
    say "round $r: tables of schema stock the housekeeping analyzed in pgerp: $analyzed"
done

report() {
    local what=$1 h a hm am
    shift
    h=("${@:1:$RUNS}") a=("${@:$((RUNS + 1))}")
    hm=$(median "${h[@]}") am=$(median "${a[@]}")
    printf '%s: %d postings in %.1f s (runs %s), %d in %.1f s (runs %s): growth n^%s\n' "$what" \
        "$HALF" "$hm" "$(runs_fmt %.1f "${h[@]}")" "$POSTINGS" "$am" "$(runs_fmt %.1f "${a[@]}")" "$(growth "$HALF" "$hm" "$POSTINGS" "$am")"
}
report "without the housekeeping (bulk_base)" "${base_half[@]}" "${base_all[@]}"
report "with the housekeeping every $HK s (pgerp)" "${hk_half[@]}" "${hk_all[@]}"
printf 'ratio of the totals, without / with: %s (goal: linear with the housekeeping, n^1.1 or less)\n' \
    "$(ratio "$(median "${base_all[@]}")" "$(median "${hk_all[@]}")")"
