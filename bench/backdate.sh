#!/usr/bin/env bash
# Back-dated postings benchmark (#15, docs/benchmarks.md), in throwaway clusters:
#  (a) a back-dated receipt into a product with PGERP_BENCH_LATER_MOVES (100,000) later valued
#      moves, FIFO and AVCO, corrections included (each run in a transaction rolled back, so
#      every run meets the same history). Goal: under 2 s.
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

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
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
if [[ $ONLY == *a* ]]; then
    say "(a) two products (FIFO, AVCO) with $LATER valued moves each, dated from 200 days ago"
    pg -o /dev/null -v later="$LATER" <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench history') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.hist AS
    SELECT m AS method, stock.create_product(:c, 'H-' || m, 'History ' || m, m) AS id, :wh::bigint AS wh
      FROM unnest(ARRAY['fifo', 'avco']) m;
SQL
    # the two histories load in parallel (one session each), receipts and deliveries alternating
    for m in fifo avco; do
        pg -o /dev/null -v later="$LATER" -v m="$m" <<'SQL' &
SELECT count(CASE WHEN n % 2 = 1 THEN stock.receive(h.id, 10, 1 + n % 7, h.wh, NULL, now() - interval '200 days' + n * interval '1 minute')
                  ELSE stock.deliver(h.id, 7, h.wh, NULL, now() - interval '200 days' + n * interval '1 minute') END)
  FROM bench.hist h, generate_series(1, :later) n WHERE h.method = :'m';
SQL
    done
    wait
    pg -c "VACUUM ANALYZE" -c "CHECKPOINT" -o /dev/null
    for m in fifo avco; do
        if [ "$MISSING" = 1 ]; then
            fig[a_$m]="(a) $m: a back-dated receipt before $LATER later moves: not measured, this build raises 0A000 (no replay engine)"
            continue
        fi
        a_runs=""
        for _ in $(seq 1 "$ROUNDS"); do
            ms=$(pg -tA -v m="$m" 2>"$TMP/a.err" <<'SQL' | sed -n 's/.*backdated_ms=\([0-9.]*\).*/\1/p'
BEGIN;
SELECT clock_timestamp() AS t0 \gset
SELECT stock.receive(h.id, 10, 3, h.wh, 'late', now() - interval '201 days') FROM bench.hist h WHERE h.method = :'m' \g /dev/null
SELECT 'backdated_ms=' || round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1);
ROLLBACK;
SQL
) || true
            [ -n "$ms" ] || echo "warning: (a) $m: $(grep -m1 ERROR "$TMP/a.err")" >&2
            a_runs+="${ms:-error}"$'\n'
        done
        a_runs=${a_runs%$'\n'}
        if grep -q error <<<"$a_runs"; then
            fig[a_$m]="(a) $m: a back-dated receipt before $LATER later moves failed (runs: $(runs "$a_runs"))"
            continue
        fi
        fig[a_$m]=$(awk -v med="$(median <<<"$a_runs")" -v r="$(runs "$a_runs")" -v m="$m" -v L="$LATER" 'BEGIN {
            printf "(a) %s: a back-dated receipt before %d later moves, corrections included: median %.1f ms (runs %s) (goal: under 2000 ms)", m, L, med, r }')
    done
    echo "${fig[a_fifo]}"; echo "${fig[a_avco]}"
fi

# ---------------------------------------------------------------- (c)
if [[ $ONLY == *c* ]]; then
    say "(c) 1,000 more products with $HISTORY moves each in the last 100 days"
    [ "$(pg -tA -c "SELECT to_regclass('bench.p') IS NOT NULL")" = t ] || load_current
    pg -o /dev/null -v history="$HISTORY" <<'SQL'
SET client_min_messages = warning;
CREATE TABLE bench.late AS
    SELECT n, stock.create_product((SELECT company FROM bench.ctx), 'L-' || n, 'Late product ' || n,
                                   CASE WHEN n % 2 = 0 THEN 'fifo' ELSE 'avco' END) AS id
      FROM generate_series(1, 1000) n;
SELECT count(CASE WHEN k % 2 = 1 THEN stock.receive(l.id, 10, 1 + k % 5, (SELECT wh FROM bench.ctx), NULL,
                                                    now() - interval '100 days' + k * interval '1 day' * 90 / :history)
                  ELSE stock.deliver(l.id, 5, (SELECT wh FROM bench.ctx), NULL, now() - interval '100 days' + k * interval '1 day' * 90 / :history) END)
  FROM bench.late l, generate_series(1, :history) k;
CREATE SEQUENCE bench.late_seq;
SQL
    pg -c "VACUUM ANALYZE" -c "CHECKPOINT" -o /dev/null
    # one back-dated receipt per product (dated before its whole history), products in turn
    cat > "$TMP/late.sql" <<'EOF'
SELECT stock.receive(id, 10, 4.00, NULL, 'late', now() - interval '101 days') FROM bench.late
 WHERE n = 1 + (nextval('bench.late_seq') - 1) % 1000;
EOF
    chmod 644 "$TMP/late.sql"
    if [ "$MISSING" = 1 ]; then
        fig[c]="(c) current postings with back-dated ones in parallel: not measured, this build raises 0A000 (no replay engine)"
    else
        c_alone="" c_with="" c_late="" c_fail=""
        for _ in $(seq 1 "$ROUNDS"); do
            c_alone+="$(tps "$PGBIN" "$PGHOST" "$PGPORT" "$TMP/current.sql")"$'\n'
            # the back-dated load, for as long as the current postings run: one session posting
            # receipts dated before the whole history, into the 1,000 late products in turn
            pg -c "SELECT setval('bench.late_seq', 1, false)" -o /dev/null
            ( PGHOST=$PGHOST PGPORT=$PGPORT "$PGBIN/pgbench" -n -c 1 -T "$SECONDS_EACH" -f "$TMP/late.sql" >"$TMP/late.out" 2>&1 || true ) &
            late_pid=$!
            c_with+="$(tps "$PGBIN" "$PGHOST" "$PGPORT" "$TMP/current.sql")"$'\n'
            wait "$late_pid"
            if ! grep -q "^number of failed transactions: 0" "$TMP/late.out" || grep -q "aborted" "$TMP/late.out"; then
                c_fail=$(grep -m1 -i "error" "$TMP/late.out" || echo "see pgbench output")
            fi
            c_late+="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$TMP/late.out")"$'\n'
        done
        c_alone=${c_alone%$'\n'} c_with=${c_with%$'\n'}
        c_late=${c_late%$'\n'}
        fig[c]=$(awk -v a="$(median <<<"$c_alone")" -v w="$(median <<<"$c_with")" -v ra="$(runs "$c_alone")" -v rw="$(runs "$c_with")" \
                     -v l="$(median <<<"$c_late")" -v rl="$(runs "$c_late")" 'BEGIN {
            printf "(c) current receipt+delivery pairs/s: alone %.1f (runs %s), with back-dated receipts of 1,000 other products posted in parallel (%.1f/s, runs %s) %.1f (runs %s): ratio %.2f (goal: at least 0.90)", a, ra, l, rl, w, rw, int(w / a * 100) / 100 }')
        [ -z "$c_fail" ] || fig[c]="(c) the back-dated load failed ($c_fail): ${fig[c]}"
    fi
    echo "${fig[c]}"
fi

echo
for k in b a_fifo a_avco c; do
    [ -z "${fig[$k]:-}" ] || echo "${fig[$k]}"
done
