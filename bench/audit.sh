#!/usr/bin/env bash
# Audit trail cost (docs/benchmarks.md), in a throwaway cluster.
#
# Part 1, posting (skipped with PGERP_BENCH_SECONDS=0): stock posting
# (receive + deliver through the API) with PGERP_BENCH_CLIENTS (4) clients for
# PGERP_BENCH_SECONDS (10) each, with the default audit triggers on
# stock.move, stock.valuation_layer and stock.product, and with them
# disabled, PGERP_BENCH_ROUNDS (3) rounds, which side goes first alternating;
# prints the medians with every round and the ratio (goal: at least 0.7),
# then the time to seal the entries written.
#
# Part 2, verification: PGERP_BENCH_ENTRIES/2 entries of an audited table
# over three companies, sealed, a full verification; then up to
# PGERP_BENCH_ENTRIES (default 141000) entries, sealed; then the times of
# erp.audit_verify(): the first call (no checkpoint yet: the checkpoint is
# removed before each round), a second call with nothing new, a call after
# 1,000 new entries, a full re-verification (and its growth exponent against
# the one at half the entries), and an erp.audit_seal() made while a full
# verification runs in another session (how many entries it sealed, and how
# long it took). Each of them PGERP_BENCH_RUNS (3) times: the median is the
# figure, every run is printed.
#
# With the hygiene of #16: no audit seal by the housekeeping or pg_cron job
# during the measurement (bench/lib/report.sh), ratios truncated to two
# decimals (the baseline comparison too).
#
# PGERP_BENCH_OUT=FILE writes the figures as "name value" lines;
# PGERP_BENCH_BASELINE=FILE (the output of an earlier run, e.g. of the
# previous build) prints each figure next to the baseline's, with the ratio.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

CLIENTS=${PGERP_BENCH_CLIENTS:-4}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-10}
ROUNDS=${PGERP_BENCH_ROUNDS:-3}
RUNS=${PGERP_BENCH_RUNS:-3}
ENTRIES=${PGERP_BENCH_ENTRIES:-141000}
OUT=${PGERP_BENCH_OUT:-}
BASELINE=${PGERP_BENCH_BASELINE:-}
[[ $ENTRIES =~ ^[1-9][0-9]*$ ]] && [ "$ENTRIES" -ge 2000 ] || die "PGERP_BENCH_ENTRIES must be an integer >= 2000"
HALF=$((ENTRIES / 2))
[ -z "$BASELINE" ] || [ -r "$BASELINE" ] || die "cannot read the baseline $BASELINE"

# no sealing in the middle of the runs (the job workers' housekeeping is off)
bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off" "${BENCH_QUIET_CONF[@]}"
bench_quiet

declare -A fig=()
order=()
record() { fig[$1]=$2; order+=("$1"); }
ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1; }

if [ "$SECONDS_EACH" != 0 ]; then
    say "1,000 products with opening stock"
    pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench audit') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA bench;
CREATE TABLE bench.p AS
    SELECT n, stock.create_product(:c, 'B-' || n, 'Bench product ' || n) AS id FROM generate_series(1, 1000) n;
SELECT stock.receive(id, 1000000, 5.00, NULL, 'opening', now() - interval '1 day') FROM bench.p;
SQL
    pg -c "SELECT erp.audit_seal()" -c "VACUUM ANALYZE" -c "CHECKPOINT" -o /dev/null

    cat > "$TMP/post.sql" <<'EOF2'
\set p random(1, 1000)
SELECT stock.receive(id, 10, 5.00) FROM bench.p WHERE n = :p;
SELECT stock.deliver(id, 10) FROM bench.p WHERE n = :p;
EOF2
    chmod 644 "$TMP"/*.sql

    tps() {
        local out failed
        out=$("$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" --max-tries=10 -f "$1" 2>&1) || true
        failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
        [ "${failed:-0}" = 0 ] || echo "warning: $failed failed transactions" >&2
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out"
    }
    audit_triggers() {
        local t
        for t in stock.move stock.valuation_layer stock.product; do
            pg -c "ALTER TABLE $t $1 TRIGGER audit"
        done
    }

    say "posting with and without audit: $CLIENTS clients, $SECONDS_EACH s each, $ROUNDS rounds alternating"
    ons=() offs=()
    for r in $(seq 1 "$ROUNDS"); do
        for side in $(( r % 2 )) $(( (r + 1) % 2 )); do
            if [ "$side" = 1 ]; then
                audit_triggers ENABLE; on=$(tps "$TMP/post.sql")
            else
                audit_triggers DISABLE; off=$(tps "$TMP/post.sql")
            fi
        done
        echo "  round $r: audited $on tps, not audited $off tps"
        ons+=("$on"); offs+=("$off")
    done
    on_med=$(median "${ons[@]}"); off_med=$(median "${offs[@]}")
    audit_triggers ENABLE
    entries=$(pg -tAc "SELECT count(*) FROM erp.audit_log")
    say "sealing $entries entries"
    seal_ms=$(pg -tA -c '\timing on' -c "SELECT erp.audit_seal()" | ms)
    record posting_audited_pairs_per_s "$(printf '%.1f' "$on_med")"
    record posting_unaudited_pairs_per_s "$(printf '%.1f' "$off_med")"
    record posting_ratio "$(ratio "$on_med" "$off_med")"
    posting_line=$(printf 'posting pairs/s, median of %s rounds: audited %.1f (%s), not audited %.1f (%s): ratio %s (goal: at least 0.70)' \
        "$ROUNDS" "$on_med" "$(runs_fmt %.1f "${ons[@]}")" "$off_med" "$(runs_fmt %.1f "${offs[@]}")" "$(ratio "$on_med" "$off_med")")
    record seal_posting_entries_ms "$seal_ms"
    # the verification below measures its own entries
    pg -o /dev/null -c "SELECT erp.audit_purge(now())"
fi

say "verification: $HALF then $ENTRIES entries of an audited table over three companies"
pg -o /dev/null -v entries="$HALF" <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.a (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, company_id bigint NOT NULL, v text NOT NULL);
SELECT erp.audit('bench.a');
CREATE PROCEDURE bench.fill(p_rows int, p_batch int) LANGUAGE plpgsql AS $$
BEGIN
    FOR b IN 0 .. (p_rows - 1) / p_batch LOOP
        INSERT INTO bench.a (company_id, v)
        SELECT 1 + n % 3, 'value ' || n FROM generate_series(b * p_batch + 1, least((b + 1) * p_batch, p_rows)) n;
        COMMIT;
    END LOOP;
END $$;
CALL bench.fill(:entries, 1000);
SQL
pg -o /dev/null -c "SELECT erp.audit_seal()" -c "VACUUM ANALYZE"
# the verification API of this build: with a checkpoint and a full option, or not
if [ "$(pg -tAc "SELECT count(*) FROM pg_proc WHERE oid = 'erp.audit_verify'::regproc::oid AND pronargs = 2" 2>/dev/null || echo 0)" = 1 ]; then
    full="SELECT ok, checked FROM erp.audit_verify(NULL, true)"
else
    full="SELECT ok, checked FROM erp.audit_verify()"
fi
declare -A RUN_MS=()
# verify NAME QUERY [BEFORE]: RUNS timed runs (BEFORE, a shell command, ahead
# of each), each checked ok; records the median and the entries checked
verify() {
    local out r runs=()
    for r in $(seq "$RUNS"); do
        [ -z "${3:-}" ] || eval "$3"
        out=$(pg -tA -F ' ' -c '\timing on' -c "$2")
        [ "$(head -n 1 <<<"$out" | cut -d' ' -f1)" = t ] || die "$1: the chain does not verify: $out"
        runs+=("$(ms <<<"$out")")
    done
    RUN_MS[$1]="${runs[*]}"
    record "$1_ms" "$(median "${runs[@]}")"
    record "$1_checked" "$(head -n 1 <<<"$out" | cut -d' ' -f2)"
}
verify verify_full_half "$full"
pg -o /dev/null -c "CALL bench.fill($((ENTRIES - HALF)), 1000)" -c "SELECT erp.audit_seal()" -c "VACUUM ANALYZE"
chained=$(pg -tAc "SELECT count(*) FROM erp.audit_chain")
record chained_entries "$chained"
# the first call: no checkpoint (this build's), as after a restore
no_checkpoint() { pg -o /dev/null -c "DELETE FROM erp.audit_verified" 2>/dev/null || true; }
verify verify_first "SELECT ok, checked FROM erp.audit_verify()" no_checkpoint
[ "${fig[verify_first_checked]}" = "$chained" ] ||
    echo "warning: the first verification checked ${fig[verify_first_checked]} of $chained entries (a checkpoint was left)" >&2
verify verify_again "SELECT ok, checked FROM erp.audit_verify()"
verify verify_1000_new "SELECT ok, checked FROM erp.audit_verify()" \
    'pg -o /dev/null -c "CALL bench.fill(1000, 1000)" -c "SELECT erp.audit_seal()"'
verify verify_full "$full"
record verify_full_growth "$(growth "${fig[verify_full_half_checked]}" "${fig[verify_full_half_ms]}" "${fig[verify_full_checked]}" "${fig[verify_full_ms]}")"

say "sealing while a full verification runs in another session, $RUNS times"
sealed=() seal_ms=()
for r in $(seq "$RUNS"); do
    pg -o /dev/null -c "CALL bench.fill(1000, 1000)"
    pg -tA -c '\timing on' -c "$full" >"$TMP/bg_verify.out" 2>&1 &
    bg=$!
    sleep 0.3
    seal_out=$(pg -tA -c '\timing on' -c "SELECT erp.audit_seal()")
    running=$(kill -0 "$bg" 2>/dev/null && echo yes || echo no)
    wait "$bg" || die "the background verification failed: $(cat "$TMP/bg_verify.out")"
    [ "$running" = yes ] || echo "warning: the verification ended before the seal: use more entries" >&2
    sealed+=("$(head -n 1 <<<"$seal_out")"); seal_ms+=("$(ms <<<"$seal_out")")
done
RUN_MS[seal_during_verify]="${seal_ms[*]}"
record seal_during_verify_sealed "$(median "${sealed[@]}")"
record seal_during_verify_ms "$(median "${seal_ms[@]}")"

echo
[ -z "${posting_line:-}" ] || echo "$posting_line"
printf 'every run in ms (the figures below are their medians):\n'
for k in verify_full_half verify_first verify_again verify_1000_new verify_full seal_during_verify; do
    printf '  %-28s %s\n' "$k" "${RUN_MS[$k]}"
done
echo
[ -z "$OUT" ] || : >"$OUT"
for k in "${order[@]}"; do
    [ -z "$OUT" ] || echo "$k ${fig[$k]}" >>"$OUT"
done
if [ -n "$BASELINE" ]; then
    printf '%-32s %14s %14s %8s\n' figure baseline this ratio
    for k in "${order[@]}"; do
        b=$(awk -v k="$k" '$1 == k { print $2 }' "$BASELINE")
        r=-
        if [ -n "$b" ] && [ "$(echo "$b != 0" | bc -l)" = 1 ]; then r=$(ratio "${fig[$k]}" "$b"); fi
        printf '%-32s %14s %14s %8s\n' "$k" "${b:--}" "${fig[$k]}" "$r"
    done
else
    for k in "${order[@]}"; do printf '%-32s %14s\n' "$k" "${fig[$k]}"; done
fi
