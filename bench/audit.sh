#!/usr/bin/env bash
# Audit trail cost (docs/benchmarks.md), in a throwaway cluster: stock
# posting (receive + deliver through the API) with PGERP_BENCH_CLIENTS
# clients, with the default audit triggers on stock.move,
# stock.valuation_layer and stock.product, and with them disabled, runs
# alternating; prints the ratio (goal: at least 0.7). Then the time to seal
# and to verify the entries written.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

CLIENTS=${PGERP_BENCH_CLIENTS:-4}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
ROUNDS=${PGERP_BENCH_ROUNDS:-2}

bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off"
# no sealing in the middle of the runs: the cron job is the same in both arms
pg -c "SELECT cron.unschedule('pgerp-audit-seal')" -o /dev/null

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

say "sealing and verifying $entries entries"
seal_ms=$(pg -tA -c '\timing on' -c "SELECT erp.audit_seal()" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
verify_ms=$(pg -tA -c '\timing on' -c "SELECT ok FROM erp.audit_verify()" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
ok=$(pg -tAc "SELECT ok FROM erp.audit_verify()")

echo
printf 'posting pairs/s, audited:     %10.1f\n' "$(echo "$on_sum / $ROUNDS" | bc -l)"
printf 'posting pairs/s, not audited: %10.1f\n' "$(echo "$off_sum / $ROUNDS" | bc -l)"
printf 'ratio audited / not audited:  %10.2f   (goal >= 0.70)\n' "$(echo "$on_sum / $off_sum" | bc -l)"
printf 'seal %s entries: %s ms (%.0f entries/s); verify: %s ms, ok=%s\n' "$entries" "$seal_ms" \
    "$(echo "$entries / ($seal_ms / 1000)" | bc -l)" "$verify_ms" "$ok"
