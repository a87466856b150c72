#!/usr/bin/env bash
# Cost of an idempotency key (#14.6, docs/benchmarks.md "HA"), in a throwaway
# cluster: pgbench with PGERP_BENCH_CLIENTS (4) clients as user bench
# (erp.use_token, then one stock.receive of a random product among 1,000, its
# own commit), PGERP_BENCH_SECONDS (15) per round, PGERP_BENCH_ROUNDS (3)
# rounds of each case, the order rotating each round:
#   nokey   stock.receive(p, 10, 5.00)
#   key     the same with a new key per call (client id and a random number)
#   replay  the same with one of 1,000 keys already used with these arguments
# Prints each round, the medians and the ratios key/nokey and replay/nokey,
# and checks what each case wrote: a move and a key per keyed call, no key
# without one, nothing at all for a replay. As bench/stock_post.sh, fsync and
# synchronous_commit are off (the CPU cost is what is compared). The audit
# seal is off and no pg_cron job is scheduled; each round follows a CHECKPOINT.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/posting.sh"

BENCH_CLIENTS=${PGERP_BENCH_CLIENTS:-4}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
ROUNDS=${PGERP_BENCH_ROUNDS:-3}
PRODUCTS=1000
CASES=(nokey key replay)

bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
    "synchronous_commit = off" "pgerp.housekeeping_interval = 0"

say "$PRODUCTS products with opening stock, user bench signed in, $PRODUCTS keys to replay"
posting_data "$PRODUCTS"
no_background_writers
# the keys to replay, used once by bench as the pgbench script will use them
pg -o /dev/null <<SQL
SET ROLE $APP_ROLE;
SELECT erp.use_token('$TOKEN', false);
SELECT count(stock.receive(p, 10, 5.00, p_idempotency_key => 'replay-' || p))
  FROM generate_series($PRODUCT_BASE, $PRODUCT_BASE + $PRODUCTS - 1) p;
SQL
head=$(printf '\\set p %s + random(0, %s)\nSELECT erp.use_token('"'%s'"', false);' "$PRODUCT_BASE" "$((PRODUCTS - 1))" "$TOKEN")
printf '%s\nSELECT stock.receive(:p, 10, 5.00);\n' "$head" > "$TMP/nokey.sql"
printf '%s\n\\set r random(1, 1000000000000000)\nSELECT stock.receive(:p, 10, 5.00, p_idempotency_key => %s);\n' \
    "$head" "'bench-' || :client_id || '-' || :r" > "$TMP/key.sql"
printf '%s\nSELECT stock.receive(:p, 10, 5.00, p_idempotency_key => %s);\n' "$head" "'replay-' || :p" > "$TMP/replay.sql"
chmod 644 "$TMP"/*.sql

# written: moves and keys so far, as "moves keys"
written() { pg -tA -F ' ' -c "SELECT (SELECT count(*) FROM stock.move), (SELECT count(*) FROM stock.idempotency_key)"; }

declare -A RUNS ROUND
for r in $(seq 1 "$ROUNDS"); do
    for k in 0 1 2; do
        kind=${CASES[$(( (r - 1 + k) % 3 ))]}
        pg -c "CHECKPOINT"
        read -r moves0 keys0 < <(written)
        t=$(tps "$TMP/$kind.sql" "$SECONDS_EACH")
        read -r moves1 keys1 < <(written)
        moves=$((moves1 - moves0)) keys=$((keys1 - keys0))
        case $kind in
            nokey) [ "$moves" -gt 0 ] && [ "$keys" = 0 ] || die "nokey round: $moves moves, $keys keys (expected moves and no key)" ;;
            key) [ "$moves" -gt 0 ] && [ "$keys" = "$moves" ] || die "key round: $moves moves, $keys keys (expected one key per move)" ;;
            replay) [ "$moves" = 0 ] && [ "$keys" = 0 ] || die "replay round: $moves moves, $keys keys (expected nothing written)" ;;
        esac
        RUNS[$kind]="${RUNS[$kind]:-} $t"
        ROUND[$kind.$r]=$t
        say "round $r, $kind: $(printf %.1f "$t") receipts/s ($moves moves, $keys keys written)"
    done
done

declare -A MED LABEL=([nokey]="(no key)" [key]="(a new key per call)" [replay]="(replay of a used key)")
echo
printf 'receipts/s (use_token, receive: 1 commit), %d clients, %d rounds of %d s:\n' "$BENCH_CLIENTS" "$ROUNDS" "$SECONDS_EACH"
for kind in "${CASES[@]}"; do
    # shellcheck disable=SC2086
    MED[$kind]=$(median ${RUNS[$kind]})
    # shellcheck disable=SC2086
    printf '  %-6s %-24s median %8.1f  (%.3f ms a call)  runs%s\n' "$kind" "${LABEL[$kind]}" "${MED[$kind]}" \
        "$(awk -v t="${MED[$kind]}" -v c="$BENCH_CLIENTS" 'BEGIN { print 1000 * c / t }')" "$(runs ${RUNS[$kind]})"
done
printf 'ratios of the medians (receipts/s): with a new key / without %s, replay / without %s\n' \
    "$(ratio "${MED[key]}" "${MED[nokey]}")" "$(ratio "${MED[replay]}" "${MED[nokey]}")"
# the two sides of a ratio within one round ran next to each other, under the same other load
per_round() { for r in $(seq 1 "$ROUNDS"); do printf ' %s' "$(ratio "${ROUND[$1.$r]}" "${ROUND[$2.$r]}")"; done; }
printf 'ratios within each round: with a new key / without%s, replay / without%s\n' "$(per_round key nokey)" "$(per_round replay nokey)"
