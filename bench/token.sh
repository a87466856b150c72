#!/usr/bin/env bash
# Identity switch benchmark (docs/benchmarks.md): in a throwaway cluster, one
# pgbench client for PGERP_BENCH_SECONDS (3) each, as pgerp_app over the socket:
#  (a) SELECT 1                         (the baseline, same run)
#  (b) SELECT erp.use_token(t, false)   (verify a token, switch identity)
#  (c) BEGIN; use_token(t, true); a point read of erp.partner; COMMIT
#  (d) the same transaction with SELECT 1 instead of use_token (its baseline)
#  (s) scaling: (c) with a read of PGERP_BENCH_READ (100) partners and of
#      twice as many (the rows returned: the request has no other size), with
#      the growth exponent of the time per transaction.
# With the hygiene of #16: no audit seal or pg_cron job during the
# measurement, PGERP_BENCH_RUNS (3) rounds of every measure in rotating
# order, the median with every round, ratios truncated to two decimals.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"
SECONDS_EACH=${PGERP_BENCH_SECONDS:-3}
RUNS=${PGERP_BENCH_RUNS:-3}
READ=${PGERP_BENCH_READ:-100}

bench_cluster "shared_buffers = 128MB" "${BENCH_QUIET_CONF[@]}"
bench_quiet
pg -o /dev/null <<'SQL'
SELECT erp.create_company('Bench Group') AS g \gset
SELECT erp.create_company('Bench A', :g) AS a \gset
SELECT erp.create_user('bench', 'bench-pass-1') AS u \gset
SELECT erp.grant_role(:u, 'stock_manager', :a);
SELECT erp.create_partner(:a, 'Partner ' || n) FROM generate_series(1, 1000) n;
SQL
[ "$((2 * READ))" -le 1000 ] || die "PGERP_BENCH_READ must be at most 500 (1,000 partners)"
token=$(pg -tA -c "SELECT erp.sign_in('bench', 'bench-pass-1')")
partner=$(pg -tA -c "SELECT min(id) FROM erp.partner WHERE name = 'Partner 500'")
first=$(pg -tA -c "SELECT min(id) FROM erp.partner WHERE name LIKE 'Partner %'")
printf 'SELECT 1;\n' > "$TMP/one.sql"
printf "SELECT erp.use_token('%s', false);\n" "$token" > "$TMP/token.sql"
printf "BEGIN;\nSELECT erp.use_token('%s', true);\nSELECT name FROM erp.partner WHERE id = %s;\nCOMMIT;\n" "$token" "$partner" > "$TMP/tx.sql"
printf "BEGIN;\nSELECT 1;\nSELECT name FROM erp.partner WHERE id = %s;\nCOMMIT;\n" "$partner" > "$TMP/tx_base.sql"
for k in "$READ" "$((2 * READ))"; do
    printf "BEGIN;\nSELECT erp.use_token('%s', true);\nSELECT count(name) FROM erp.partner WHERE id BETWEEN %s AND %s;\nCOMMIT;\n" \
        "$token" "$first" "$((first + k - 1))" > "$TMP/read_$k.sql"
done
chmod 644 "$TMP"/*.sql
tps() {   # tps FILE: transactions per second of one client
    "$PGBIN/pgbench" -n -c 1 -T "$SECONDS_EACH" -U "$APP_ROLE" -f "$1" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
# the point read under the token finds the partner, the range reads find
# all their rows (a benchmark of an empty read would flatter it)
seen=$("$PGBIN/psql" -X -tA -U "$APP_ROLE" -c "SELECT erp.use_token('$token', false)" -c "SELECT count(*) FROM erp.partner WHERE id = $partner" | tail -n 1)
[ "$seen" = 1 ] || die "the point read under the token saw $seen rows, not 1"
seen=$("$PGBIN/psql" -X -tA -U "$APP_ROLE" -c "SELECT erp.use_token('$token', false)" -c "SELECT count(*) FROM erp.partner WHERE id BETWEEN $first AND $((first + 2 * READ - 1))" | tail -n 1)
[ "$seen" = "$((2 * READ))" ] || die "the range read under the token saw $seen rows, not $((2 * READ))"

# RUNS rounds of every measure, the order rotating each round
names=(one token tx_base tx "read_$READ" "read_$((2 * READ))")
declare -A R
say "$RUNS rounds of ${#names[@]} measures, ${SECONDS_EACH}s each"
for r in $(seq "$RUNS"); do
    for k in $(seq 0 $((${#names[@]} - 1))); do
        n=${names[(k + r) % ${#names[@]}]}
        R[$n]="${R[$n]:-} $(tps "$TMP/$n.sql")"
    done
done
# shellcheck disable=SC2086
med() { median ${R[$1]}; }
# shellcheck disable=SC2086
all() { runs_fmt %.0f ${R[$1]}; }
one=$(med one); tok=$(med token); txb=$(med tx_base); tx=$(med tx)
r1=$(med "read_$READ"); r2=$(med "read_$((2 * READ))")

echo
printf 'median of %s rounds of %s s (every round in parentheses), transactions/s of one client\n' "$RUNS" "$SECONDS_EACH"
printf '(a) SELECT 1:                                %10.0f  (%s)\n' "$one" "$(all one)"
printf '(b) SELECT erp.use_token(t, false):          %10.0f  (%s): %.0f us a call, ratio (b)/(a) %s\n' \
    "$tok" "$(all token)" "$(awk -v t="$tok" 'BEGIN { print 1e6 / t }')" "$(ratio "$tok" "$one")"
printf '(d) transaction with SELECT 1 + point read:  %10.0f  (%s)\n' "$txb" "$(all tx_base)"
printf '(c) transaction with use_token + point read: %10.0f  (%s): ratio (c)/(d) %s\n' "$tx" "$(all tx)" "$(ratio "$tx" "$txb")"
printf '(s) use_token + read of %s partners %.0f (%s), of %s partners %.0f (%s): time per transaction grows n^%s\n' \
    "$READ" "$r1" "$(all "read_$READ")" "$((2 * READ))" "$r2" "$(all "read_$((2 * READ))")" \
    "$(growth "$READ" "$(awk -v t="$r1" 'BEGIN { print 1000 / t }')" "$((2 * READ))" "$(awk -v t="$r2" 'BEGIN { print 1000 / t }')")"
