#!/usr/bin/env bash
# Audit trail cost (docs/benchmarks.md), in a throwaway cluster.
#
# Part 1, posting (skipped with PGERP_BENCH_SECONDS=0): stock posting
# (receive + deliver through the API) with PGERP_BENCH_CLIENTS clients, with
# the default audit triggers on stock.move, stock.valuation_layer and
# stock.product, and with them disabled, runs alternating; prints the ratio
# (goal: at least 0.7), then the time to seal the entries written.
#
# Part 2, verification: PGERP_BENCH_ENTRIES (default 141000) entries of an
# audited table over three companies, sealed; then the times of
# erp.audit_verify(): the first call (no checkpoint yet), a second call with
# nothing new, a call after 1,000 new entries, a full re-verification, and
# an erp.audit_seal() made while a full verification runs in another session
# (how many entries it sealed, and how long it took).
#
# PGERP_BENCH_OUT=FILE writes the figures as "name value" lines;
# PGERP_BENCH_BASELINE=FILE (the output of an earlier run, e.g. of the
# previous build) prints each figure next to the baseline's, with the ratio.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

CLIENTS=${PGERP_BENCH_CLIENTS:-4}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
ROUNDS=${PGERP_BENCH_ROUNDS:-2}
ENTRIES=${PGERP_BENCH_ENTRIES:-141000}
OUT=${PGERP_BENCH_OUT:-}
BASELINE=${PGERP_BENCH_BASELINE:-}
[[ $ENTRIES =~ ^[1-9][0-9]*$ ]] && [ "$ENTRIES" -ge 1000 ] || die "PGERP_BENCH_ENTRIES must be an integer >= 1000"
[ -z "$BASELINE" ] || [ -r "$BASELINE" ] || die "cannot read the baseline $BASELINE"

# no sealing in the middle of the runs (the job workers' housekeeping is off)
bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off" \
    "pgerp.housekeeping_interval = 0"

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
    on_sum=0; off_sum=0
    for r in $(seq 1 "$ROUNDS"); do
        audit_triggers ENABLE;  on=$(tps "$TMP/post.sql")
        audit_triggers DISABLE; off=$(tps "$TMP/post.sql")
        echo "  round $r: audited $on tps, not audited $off tps"
        on_sum=$(echo "$on_sum + $on" | bc -l); off_sum=$(echo "$off_sum + $off" | bc -l)
    done
    audit_triggers ENABLE
    entries=$(pg -tAc "SELECT count(*) FROM erp.audit_log")
    say "sealing $entries entries"
    seal_ms=$(pg -tA -c '\timing on' -c "SELECT erp.audit_seal()" | ms)
    record posting_audited_pairs_per_s "$(printf '%.1f' "$(echo "$on_sum / $ROUNDS" | bc -l)")"
    record posting_unaudited_pairs_per_s "$(printf '%.1f' "$(echo "$off_sum / $ROUNDS" | bc -l)")"
    record posting_ratio "$(printf '%.2f' "$(echo "$on_sum / $off_sum" | bc -l)")"
    record seal_posting_entries_ms "$seal_ms"
    # the verification below measures its own entries
    pg -o /dev/null -c "SELECT erp.audit_purge(now())"
fi

say "verification: $ENTRIES entries of an audited table over three companies"
pg -o /dev/null -v entries="$ENTRIES" <<'SQL'
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
chained=$(pg -tAc "SELECT count(*) FROM erp.audit_chain")
record chained_entries "$chained"
# the verification API of this build: with a checkpoint and a full option, or not
if [ "$(pg -tAc "SELECT count(*) FROM pg_proc WHERE oid = 'erp.audit_verify'::regproc::oid AND pronargs = 2" 2>/dev/null || echo 0)" = 1 ]; then
    full="SELECT ok, checked FROM erp.audit_verify(NULL, true)"
else
    full="SELECT ok, checked FROM erp.audit_verify()"
fi
verify() {   # verify NAME QUERY: time it, record it, check ok
    local out
    out=$(pg -tA -F ' ' -c '\timing on' -c "$2")
    [ "$(head -n 1 <<<"$out" | cut -d' ' -f1)" = t ] || die "$1: the chain does not verify: $out"
    record "$1_ms" "$(ms <<<"$out")"
    record "$1_checked" "$(head -n 1 <<<"$out" | cut -d' ' -f2)"
}
verify verify_first "SELECT ok, checked FROM erp.audit_verify()"
verify verify_again "SELECT ok, checked FROM erp.audit_verify()"
pg -o /dev/null -c "CALL bench.fill(1000, 1000)" -c "SELECT erp.audit_seal()"
verify verify_1000_new "SELECT ok, checked FROM erp.audit_verify()"
verify verify_full "$full"

say "sealing while a full verification runs in another session"
pg -o /dev/null -c "CALL bench.fill(1000, 1000)"
pg -tA -c '\timing on' -c "$full" >"$TMP/bg_verify.out" 2>&1 &
bg=$!
sleep 0.3
seal_out=$(pg -tA -c '\timing on' -c "SELECT erp.audit_seal()")
running=$(kill -0 "$bg" 2>/dev/null && echo yes || echo no)
wait "$bg" || die "the background verification failed: $(cat "$TMP/bg_verify.out")"
[ "$running" = yes ] || echo "warning: the verification ended before the seal: use more entries" >&2
record seal_during_verify_sealed "$(head -n 1 <<<"$seal_out")"
record seal_during_verify_ms "$(ms <<<"$seal_out")"

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
        if [ -n "$b" ] && [ "$(echo "$b != 0" | bc -l)" = 1 ]; then r=$(printf '%.3f' "$(echo "${fig[$k]} / $b" | bc -l)"); fi
        printf '%-32s %14s %14s %8s\n' "$k" "${b:--}" "${fig[$k]}" "$r"
    done
else
    for k in "${order[@]}"; do printf '%-32s %14s\n' "$k" "${fig[$k]}"; done
fi
