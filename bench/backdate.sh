#!/usr/bin/env bash
# Back-dated postings benchmark (#15, docs/benchmarks.md), in throwaway clusters:
#  (a) a back-dated receipt into a product with PGERP_BENCH_LATER_MOVES (100,000) later valued
#      moves, FIFO and AVCO, corrections included (each run in a transaction rolled back, so
#      every run meets the same history; the deferred checks a commit would run, that every
#      correction entry balances, are fired with SET CONSTRAINTS ALL IMMEDIATE and timed too,
#      and the time without them is printed beside). Goal: under 2 s.
#  (b) ordinary (not back-dated) postings against a baseline build, side by side: the git
#      revision PGERP_BENCH_BASE_REV (default main) is built into a private copy of PostgreSQL
#      under the temporary directory and run in a second cluster; the same pgbench workload
#      (receipt + delivery of a random product among 1,000, dated now) alternates between the
#      two clusters. Goal: cost ratio (baseline tps / this build's tps) at most 1.05.
#  (c) current postings of 1,000 products while one session posts, for as long, back-dated
#      receipts into 1,000 others in turn (each with PGERP_BENCH_HISTORY (20) later moves to
#      start with), against the same current postings alone. Goal: throughput with the
#      back-dated load at least 0.9 of without.
# Ratios are truncated to two decimals (as bench/lib/report.sh's ratio), never rounded up to a goal.
# Each measure runs PGERP_BENCH_ROUNDS (3) times: the median and every run are printed. The
# job workers' housekeeping (audit seal) is off and pg_cron jobs are unscheduled. Until the
# replay engine lands, (a) and (c) meet 0A000: the script says so and goes on.
# It does not build this checkout: run 'make install' first (the baseline it builds itself).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

CLIENTS=${PGERP_BENCH_CLIENTS:-2}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
ROUNDS=${PGERP_BENCH_ROUNDS:-3}
LATER=${PGERP_BENCH_LATER_MOVES:-100000}
HISTORY=${PGERP_BENCH_HISTORY:-20}
BASE_REV=${PGERP_BENCH_BASE_REV:-main}
ONLY=${PGERP_BENCH_ONLY:-abc}     # the sections to run, e.g. b
CONF=("shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off" "pgerp.housekeeping_interval = 0")

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# growth N1 T1 N2 T2: the exponent k of T = c N^k through both points (as bench/lib/report.sh's)
growth() { awk -v n1="$1" -v t1="$2" -v n2="$3" -v t2="$4" 'BEGIN { printf "%.2f", log(t2 / t1) / log(n2 / n1) }'; }
runs() { awk '{ printf "%s%s", (NR > 1 ? ", " : ""), ($1 ~ /^[0-9.]+$/ ? sprintf("%.1f", $1) : $1) }' <<<"$1"; }

# tps PGBIN HOST PORT SCRIPT [EXTRA...]: pgbench throughput of one run; failures reported.
tps() {
    local bin=$1 host=$2 port=$3 script=$4 out failed
    shift 4
    out=$(PGHOST=$host PGPORT=$port "$bin/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" --max-tries=10 \
              -f "$script" "$@" 2>&1) || true
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    [ "${failed:-0}" = 0 ] || echo "warning: $failed failed transactions in $script" >&2
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out"
}

# the engine in this build: does a back-dated valued move post, or raise 0A000?
engine_missing() {
    local out
    out=$(pg -tA 2>&1 <<'SQL' || true
BEGIN;
SELECT erp.create_company('probe') AS c \gset
SELECT stock.create_warehouse(:c, 'W') AS w \gset
SELECT stock.create_product(:c, 'PROBE', 'probe') AS p \gset
SELECT stock.receive(:p, 1, 1, :w, NULL, now() - interval '1 day') \g /dev/null
SELECT stock.receive(:p, 1, 1, :w, NULL, now() - interval '2 days') \g /dev/null
ROLLBACK;
SQL
)
    grep -q "before the last valued move" <<<"$out"
}

bench_cluster "${CONF[@]}"
pg -q -c "SELECT cron.unschedule(jobid) FROM cron.job" >/dev/null 2>&1 || true
MISSING=0
# PGERP_BENCH_FORCE=1: measure (a) and (c) even so (to try the script on a build without the engine)
if [ "${PGERP_BENCH_FORCE:-0}" != 1 ] && engine_missing; then
    MISSING=1
    say "this build has no replay engine: a back-dated valued move raises 0A000; (a) and (c) are reported as such"
fi

# the workload of (b) and (c): 1,000 products (n 1..1000) with opening stock, and the
# pgbench script of one receipt and one delivery dated now
load_current() {
    pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench back-dating') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.p AS
    SELECT n, stock.create_product(:c, 'B-' || n, 'Bench product ' || n, CASE WHEN n % 2 = 0 THEN 'fifo' ELSE 'avco' END) AS id
      FROM generate_series(1, 1000) n;
SELECT count(stock.receive(id, 1000000, 5.00, NULL, 'opening', now() - interval '400 days')) FROM bench.p;
CREATE TABLE bench.ctx AS SELECT :c::bigint AS company, :wh::bigint AS wh;
SQL
    pg -c "VACUUM ANALYZE" -c "CHECKPOINT" -o /dev/null
}
cat > "$TMP/current.sql" <<'EOF'
\set p random(1, 1000)
SELECT stock.receive(id, 10, 5.00) FROM bench.p WHERE n = :p;
SELECT stock.deliver(id, 10) FROM bench.p WHERE n = :p;
EOF
chmod 644 "$TMP"/*.sql
declare -A fig=()

# ---------------------------------------------------------------- (b)
if [[ $ONLY == *b* ]]; then
    say "(b) building $BASE_REV into a private PostgreSQL under $TMP/base"
    BASE_SRC=$TMP/base/src
    mkdir -p "$BASE_SRC"
    git -C "$ROOT_DIR" archive "$BASE_REV" | tar -x -C "$BASE_SRC"
    base_rev=$(git -C "$ROOT_DIR" rev-parse --short "$BASE_REV")
    this_rev=$(git -C "$ROOT_DIR" rev-parse --short HEAD)
    "$ROOT_DIR/scripts/private_pg.sh" "$TMP/base/pg" >/dev/null
    BASE_BIN=$TMP/base/pg/usr/lib/postgresql/$PG_MAJOR/bin
    make -C "$BASE_SRC" -s all install PG_CONFIG="$BASE_BIN/pg_config" >"$TMP/base/build.log" 2>&1 ||
        { tail -n 20 "$TMP/base/build.log" >&2; die "the baseline $BASE_REV did not build"; }
    # the baseline's cluster, next to this build's, with the same settings
    NEW_BIN=$PGBIN NEW_HOST=$PGHOST NEW_PORT=$PGPORT
    BASE_DATA=$TMP/base/data BASE_SOCK=$TMP/base/run BASE_PORT=$(free_port)
    PGBIN=$BASE_BIN
    PGERP_FSYNC=off init_cluster "$BASE_DATA" "$BASE_SOCK" "$BASE_PORT"
    printf '%s\n' "${CONF[@]}" | as_pg tee -a "$BASE_DATA/postgresql.conf" >/dev/null
    start_cluster "$BASE_DATA" "$TMP/base/postgresql.log"
    trap 'PGBIN=$BASE_BIN stop_cluster "$BASE_DATA" immediate; PGBIN=$NEW_BIN stop_cluster "$DATA" immediate; rm -rf "$TMP"' EXIT
    setup_database "$BASE_SOCK" "$BASE_PORT"
    PGHOST=$BASE_SOCK PGPORT=$BASE_PORT
    pg -q -c "SELECT cron.unschedule(jobid) FROM cron.job" >/dev/null 2>&1 || true
    say "(b) loading the same 1,000 products into both clusters"
    load_current
    PGBIN=$NEW_BIN PGHOST=$NEW_HOST PGPORT=$NEW_PORT
    load_current
    say "(b) $ROUNDS rounds of $SECONDS_EACH s, $CLIENTS clients, alternating: baseline $base_rev, then this build $this_rev"
    b_base="" b_new=""
    for _ in $(seq 1 "$ROUNDS"); do
        b_base+="$(tps "$BASE_BIN" "$BASE_SOCK" "$BASE_PORT" "$TMP/current.sql")"$'\n'
        b_new+="$(tps "$NEW_BIN" "$NEW_HOST" "$NEW_PORT" "$TMP/current.sql")"$'\n'
    done
    b_base=${b_base%$'\n'} b_new=${b_new%$'\n'}
    mb=$(median <<<"$b_base") mn=$(median <<<"$b_new")
    # the ratio within each round too: its two sides ran next to each other
    per_round=$(paste -d ' ' <(echo "$b_base") <(echo "$b_new") | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), int($1 / $2 * 100) / 100 }')
    fig[b]=$(awk -v b="$mb" -v n="$mn" -v rb="$(runs "$b_base")" -v rn="$(runs "$b_new")" -v br="$base_rev" -v tr="$this_rev" -v pr="$per_round" 'BEGIN {
        printf "(b) ordinary postings, receipt+delivery pairs/s: baseline %s %.1f (runs %s), this build %s %.1f (runs %s): cost ratio %.2f (per round %s) (goal: at most 1.05)", br, b, rb, tr, n, rn, int(b / n * 100) / 100, pr }')
    PGBIN=$BASE_BIN stop_cluster "$BASE_DATA" immediate
    PGBIN=$NEW_BIN
    echo "${fig[b]}"
fi

# ---------------------------------------------------------------- (a)
# The history is posted through the API (stock.receive / stock.deliver, in date order), so it is
# by construction what postings write; what made the set-up slow was one transaction per product
# (20,000 postings in one statement: every update of a layer or of the running totals leaves a
# version that no one can prune before the commit, and the next posting steps over it). Here a
# procedure commits every 1,000 postings, and the history grows from one size to the next
# (sizes in PGERP_BENCH_LATER_MOVES, ascending): the moves of the smaller size are the first moves
# of the larger one, dated from a base fixed once (not now(), which moves with each commit).
if [[ $ONLY == *a* ]]; then
    read -r -a SIZES <<<"$LATER"
    say "(a) two products (FIFO, AVCO), grown to ${SIZES[*]} valued moves each, dated a minute apart from 200 days ago"
    pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench history') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.hist AS
    SELECT m AS method, stock.create_product(:c, 'H-' || m, 'History ' || m, m) AS id, :wh::bigint AS wh,
           date_trunc('minute', now()) - interval '200 days' AS base
      FROM unnest(ARRAY['fifo', 'avco']) m;
-- moves p_from .. p_to of the history of one product (receipts of 10 at 1 to 7, deliveries of 7,
-- alternating), through the API, committed every 1,000
CREATE PROCEDURE bench.grow(p_method text, p_from int, p_to int) LANGUAGE plpgsql AS $$
DECLARE
    h record;
BEGIN
    SELECT * INTO h FROM bench.hist WHERE method = p_method;
    FOR b IN p_from .. p_to BY 1000 LOOP
        PERFORM count(CASE WHEN n % 2 = 1 THEN stock.receive(h.id, 10, 1 + n % 7, h.wh, NULL, h.base + n * interval '1 minute')
                           ELSE stock.deliver(h.id, 7, h.wh, NULL, h.base + n * interval '1 minute') END)
           FROM generate_series(b, least(b + 999, p_to)) n;
        COMMIT;
    END LOOP;
END $$;
SQL
    declare -A a_med=()
    have=0
    for size in "${SIZES[@]}"; do
        t0=$(date +%s)
        # the two histories grow in parallel (one session each)
        for m in fifo avco; do
            pg -o /dev/null -c "CALL bench.grow('$m', $((have + 1)), $size)" &
        done
        wait
        have=$size
        pg -c "VACUUM ANALYZE" -c "CHECKPOINT" -o /dev/null
        # the history is valid: verify_valuation (which replays it) finds nothing, and it has the moves asked
        problems=$(pg -tA -c "SELECT count(*) FROM bench.hist h, stock.verify_valuation(h.id) v")
        moves=$(pg -tA -c "SELECT string_agg(h.method || ' ' || (SELECT count(*) FROM stock.move m WHERE m.product_id = h.id AND m.state = 'done'), ', ' ORDER BY h.method) FROM bench.hist h")
        say "(a) $size moves per product posted in $(( $(date +%s) - t0 )) s (done moves: $moves); verify_valuation: $problems problems"
        [ "$problems" = 0 ] || die "(a) the history of $size moves is not valid: stock.verify_valuation reports $problems problems"
        for m in fifo avco; do
            if [ "$MISSING" = 1 ]; then
                fig[a_${m}_$size]="(a) $m: a back-dated receipt before $size later moves: not measured, this build raises 0A000 (no replay engine)"
                continue
            fi
            a_runs="" a_posted="" a_corr=""
            for _ in $(seq 1 "$ROUNDS"); do
                out=$(pg -tA -v m="$m" 2>"$TMP/a.err" <<'SQL'
BEGIN;
SELECT clock_timestamp() AS t0 \gset
SELECT stock.receive(h.id, 10, 3, h.wh, 'late', h.base - interval '1 day') AS late FROM bench.hist h WHERE h.method = :'m' \gset
SELECT 'posted_ms=' || round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1);
-- the deferred checks a commit would run (every correction entry balanced), timed with the posting
SET CONSTRAINTS ALL IMMEDIATE;
SELECT 'backdated_ms=' || round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1);
SELECT 'corrections=' || count(*) FROM stock.valuation_layer l
 WHERE l.product_id = (SELECT id FROM bench.hist WHERE method = :'m')
   AND l.description LIKE 'Correction (back-dated move ' || :late || ')%';
ROLLBACK;
SQL
) || true
                ms=$(sed -n 's/^backdated_ms=\([0-9.]*\)$/\1/p' <<<"$out")
                [ -n "$ms" ] || echo "warning: (a) $m: $(grep -m1 ERROR "$TMP/a.err")" >&2
                a_runs+="${ms:-error}"$'\n'
                a_posted+="$(sed -n 's/^posted_ms=\([0-9.]*\)$/\1/p' <<<"$out")"$'\n'
                a_corr=$(sed -n 's/^corrections=\([0-9]*\)$/\1/p' <<<"$out")
            done
            a_runs=${a_runs%$'\n'}
            if grep -q error <<<"$a_runs"; then
                fig[a_${m}_$size]="(a) $m: a back-dated receipt before $size later moves failed (runs: $(runs "$a_runs"))"
                continue
            fi
            a_med[${m}_$size]=$(median <<<"$a_runs")
            a_posted=${a_posted%$'\n'}
            fig[a_${m}_$size]=$(awk -v med="${a_med[${m}_$size]}" -v r="$(runs "$a_runs")" -v m="$m" -v L="$size" -v c="$a_corr" \
                                    -v pm="$(median <<<"$a_posted")" -v pr="$(runs "$a_posted")" 'BEGIN {
                printf "(a) %s: a back-dated receipt before %d later moves, %s corrections included: median %.1f ms (runs %s) with the deferred checks; %.1f ms (runs %s) without (goal: under 2000 ms at 100000)", m, L, c, med, r, pm, pr }')
            echo "${fig[a_${m}_$size]}"
        done
        pg -c "VACUUM" -o /dev/null
    done
    # the growth exponent k of time = c * moves^k between consecutive sizes
    for m in fifo avco; do
        prev=""
        for size in "${SIZES[@]}"; do
            if [ -n "$prev" ] && [ -n "${a_med[${m}_$prev]:-}" ] && [ -n "${a_med[${m}_$size]:-}" ]; then
                fig[a_${m}_$size]+=$(printf '; growth exponent from %s: %s' "$prev" "$(growth "$prev" "${a_med[${m}_$prev]}" "$size" "${a_med[${m}_$size]}")")
            fi
            prev=$size
        done
    done
fi

# ---------------------------------------------------------------- (c)
if [[ $ONLY == *c* ]]; then
    say "(c) 1,000 more products with $HISTORY moves each in the last 100 days"
    [ "$(pg -tA -c "SELECT to_regclass('bench.p') IS NOT NULL")" = t ] || load_current
    pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE bench.late AS
    SELECT n, stock.create_product((SELECT company FROM bench.ctx), 'L-' || n, 'Late product ' || n,
                                   CASE WHEN n % 2 = 0 THEN 'fifo' ELSE 'avco' END) AS id
      FROM generate_series(1, 1000) n;
CREATE SEQUENCE bench.late_seq;
SQL
    # the histories through the API, in date order, 100 products per transaction
    pg -o /dev/null -v history="$HISTORY" <<'SQL'
SET client_min_messages = warning;
CREATE PROCEDURE bench.load_late(p_history int) LANGUAGE plpgsql AS $$
DECLARE
    v_base timestamptz := date_trunc('minute', now()) - interval '100 days';
    c record;
BEGIN
    SELECT * INTO c FROM bench.ctx;
    FOR b IN 0 .. 9 LOOP
        PERFORM count(CASE WHEN k % 2 = 1 THEN stock.receive(l.id, 10, 1 + k % 5, c.wh, NULL, v_base + k * interval '1 day' * 90 / p_history)
                           ELSE stock.deliver(l.id, 5, c.wh, NULL, v_base + k * interval '1 day' * 90 / p_history) END)
           FROM bench.late l, generate_series(1, p_history) k
          WHERE l.n > 100 * b AND l.n <= 100 * (b + 1);
        COMMIT;
    END LOOP;
END $$;
CALL bench.load_late(:history);
SQL
    pg -c "VACUUM ANALYZE" -c "CHECKPOINT" -o /dev/null
    # one back-dated receipt per product (dated before its whole history), products in turn; the
    # product is drawn first (a nextval() in the WHERE clause would run once per row, and match
    # every row: all 1,000 products back-dated in one transaction)
    cat > "$TMP/late.sql" <<'EOF'
SELECT 1 + (nextval('bench.late_seq') - 1) % 1000 AS k
\gset
SELECT stock.receive(id, 10, 4.00, NULL, 'late', now() - interval '101 days') FROM bench.late WHERE n = :k;
EOF
    chmod 644 "$TMP/late.sql"
    if [ "$MISSING" = 1 ]; then
        fig[c]="(c) current postings with back-dated ones in parallel: not measured, this build raises 0A000 (no replay engine)"
    else
        c_alone="" c_with="" c_late="" c_fail=""
        : >"$TMP/waits.txt"
        for _ in $(seq 1 "$ROUNDS"); do
            c_alone+="$(tps "$PGBIN" "$PGHOST" "$PGPORT" "$TMP/current.sql")"$'\n'
            # the back-dated load, for as long as the current postings run: one session posting
            # receipts dated before the whole history, into the 1,000 late products in turn (the
            # sequence goes on across rounds: each receipt meets a product not back-dated before,
            # while the rounds post fewer than 1,000)
            ( PGAPPNAME=late PGHOST=$PGHOST PGPORT=$PGPORT "$PGBIN/pgbench" -n -c 1 -T "$SECONDS_EACH" -f "$TMP/late.sql" >"$TMP/late.out" 2>&1 || true ) &
            late_pid=$!
            # does a current posting ever wait for a lock? every 100 ms, the current clients'
            # active backends and those of them waiting on a heavyweight lock (one session)
            ( pg -tA -F ' ' -v secs="$SECONDS_EACH" >>"$TMP/waits.txt" 2>/dev/null <<'SQL' || true
SET bench.secs = :'secs';
SELECT pg_catalog.pg_sleep(0.5);
CREATE TEMP TABLE w (active int, locked int);
DO $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    WHILE clock_timestamp() < t0 + (current_setting('bench.secs') || ' s')::interval - interval '1 s' LOOP
        PERFORM pg_catalog.pg_stat_clear_snapshot();
        INSERT INTO w SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock')
          FROM pg_catalog.pg_stat_activity WHERE application_name = 'pgbench' AND state = 'active';
        PERFORM pg_catalog.pg_sleep(0.1);
    END LOOP;
END $$;
SELECT count(*), coalesce(sum(active), 0), count(*) FILTER (WHERE locked > 0) FROM w;
SQL
            ) &
            sampler_pid=$!
            c_with+="$(tps "$PGBIN" "$PGHOST" "$PGPORT" "$TMP/current.sql")"$'\n'
            wait "$late_pid"
            wait "$sampler_pid" || true
            if ! grep -q "^number of failed transactions: 0" "$TMP/late.out" || grep -q "aborted" "$TMP/late.out"; then
                c_fail=$(grep -m1 -i "error" "$TMP/late.out" || echo "see pgbench output")
            fi
            c_late+="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$TMP/late.out")"$'\n'
        done
        c_alone=${c_alone%$'\n'} c_with=${c_with%$'\n'}
        c_late=${c_late%$'\n'}
        # did they back-date? every back-dated receipt re-values later deliveries: its correction layers
        read -r c_n c_corr c_none c_wrapped < <(pg -tA -F ' ' <<'SQL'
WITH late AS (
    SELECT m.id FROM bench.late l JOIN stock.move m ON m.product_id = l.id AND m.ref = 'late' AND m.state = 'done'
), corr AS (
    SELECT substring(v.description FROM '^Correction \(back-dated move ([0-9]+)\)')::bigint AS move_id
      FROM bench.late l JOIN stock.valuation_layer v ON v.product_id = l.id
     WHERE v.description LIKE 'Correction (back-dated move %'
)
SELECT (SELECT count(*) FROM late), (SELECT count(*) FROM corr),
       (SELECT count(*) FROM late WHERE id NOT IN (SELECT move_id FROM corr)),
       (SELECT last_value > 1000 FROM bench.late_seq)
SQL
)
        fig[c]=$(awk -v a="$(median <<<"$c_alone")" -v w="$(median <<<"$c_with")" -v ra="$(runs "$c_alone")" -v rw="$(runs "$c_with")" \
                     -v l="$(median <<<"$c_late")" -v rl="$(runs "$c_late")" 'BEGIN {
            printf "(c) current receipt+delivery pairs/s: alone %.1f (runs %s), with back-dated receipts of 1,000 other products posted in parallel (%.1f/s, runs %s) %.1f (runs %s): ratio %.2f (goal: at least 0.90)", a, ra, l, rl, w, rw, int(w / a * 100) / 100 }')
        fig[c]+="; $c_n back-dated receipts posted, $c_corr correction layers written, $c_none receipts without a correction"
        [ "$c_wrapped" = f ] || fig[c]+=" (more than 1,000: some products were back-dated twice)"
        read -r w_samples w_active w_locked < <(awk 'NF == 3 { s += $1; a += $2; l += $3 } END { printf "%d %d %d\n", s, a, l }' "$TMP/waits.txt")
        fig[c]+="; the current clients' backends waited on a lock in $w_locked of $w_samples samples (100 ms apart, $w_active active backends seen)"
        [ -z "$c_fail" ] || fig[c]="(c) the back-dated load failed ($c_fail): ${fig[c]}"
    fi
    echo "${fig[c]}"
fi

echo
for k in b $(for m in fifo avco; do for size in ${SIZES[@]+"${SIZES[@]}"}; do echo "a_${m}_$size"; done; done) c; do
    [ -z "${fig[$k]:-}" ] || echo "${fig[$k]}"
done
