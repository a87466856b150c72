#!/usr/bin/env bash
# Identity switch benchmark (docs/benchmarks.md): in a throwaway cluster, one
# pgbench client for PGERP_BENCH_SECONDS each, as pgerp_app over the socket:
#  (a) SELECT 1                         (the baseline, same run)
#  (b) SELECT erp.use_token(t, false)   (verify a token, switch identity)
#  (c) BEGIN; use_token(t, true); a point read of erp.partner; COMMIT
#  (d) the same transaction with SELECT 1 instead of use_token (its baseline)
# and prints each rate and the ratios (b)/(a) and (c)/(d).
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
SECONDS_EACH=${PGERP_BENCH_SECONDS:-10}

bench_cluster "shared_buffers = 128MB"
pg -o /dev/null <<'SQL'
SELECT erp.create_company('Bench Group') AS g \gset
SELECT erp.create_company('Bench A', :g) AS a \gset
SELECT erp.create_user('bench', 'bench-pass-1') AS u \gset
SELECT erp.grant_role(:u, 'stock_manager', :a);
SELECT erp.create_partner(:a, 'Partner ' || n) FROM generate_series(1, 1000) n;
SQL
token=$(pg -tA -c "SELECT erp.sign_in('bench', 'bench-pass-1')")
partner=$(pg -tA -c "SELECT min(id) FROM erp.partner WHERE name = 'Partner 500'")
printf 'SELECT 1;\n' > "$TMP/one.sql"
printf "SELECT erp.use_token('%s', false);\n" "$token" > "$TMP/token.sql"
printf "BEGIN;\nSELECT erp.use_token('%s', true);\nSELECT name FROM erp.partner WHERE id = %s;\nCOMMIT;\n" "$token" "$partner" > "$TMP/tx.sql"
printf "BEGIN;\nSELECT 1;\nSELECT name FROM erp.partner WHERE id = %s;\nCOMMIT;\n" "$partner" > "$TMP/tx_base.sql"
chmod 644 "$TMP"/*.sql
tps() {   # tps FILE: transactions per second of one client
    "$PGBIN/pgbench" -n -c 1 -T "$SECONDS_EACH" -U "$APP_ROLE" -f "$1" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
one=$(tps "$TMP/one.sql")
tok=$(tps "$TMP/token.sql")
txb=$(tps "$TMP/tx_base.sql")
tx=$(tps "$TMP/tx.sql")
# the point read under the token finds the partner (a benchmark of an empty read would flatter it)
seen=$("$PGBIN/psql" -X -tA -U "$APP_ROLE" -c "SELECT erp.use_token('$token', false)" -c "SELECT count(*) FROM erp.partner WHERE id = $partner" | tail -n 1)
[ "$seen" = 1 ] || die "the point read under the token saw $seen rows, not 1"
awk -v one="$one" -v tok="$tok" -v txb="$txb" -v tx="$tx" 'BEGIN {
    printf "SELECT 1:                               %10.0f /s\n", one
    printf "SELECT erp.use_token(t, false):         %10.0f /s  (%.0f us a call)  ratio %.3f\n", tok, 1e6 / tok, tok / one
    printf "transaction with SELECT 1 + point read: %10.0f /s\n", txb
    printf "transaction with use_token + point read:%10.0f /s  ratio %.3f\n", tx, tx / txb
}'
