#!/usr/bin/env bash
# Cost of an idempotency key (#14.6, docs/benchmarks.md "HA"), in a throwaway
# cluster: pgbench with PGERP_BENCH_CLIENTS (4) clients as user bench
# (erp.use_token, then one stock.receive of a random product among 1,000, its
# own commit), PGERP_BENCH_SECONDS (15) per round, PGERP_BENCH_ROUNDS (3)
# rounds of each case, the order rotating each round:
#   nokey   stock.receive(p, 10, 5.00)
#   key     the same with a new key per call (client id and a random number)
#   replay  the same with one of 1,000 keys already used with these arguments
# at two sizes of the key table: PGERP_BENCH_KEYS (500,000) keys stored in
# stock.idempotency_key before the rounds (bench's company, filled by one
# INSERT ... SELECT of copies of a used key's row, then VACUUM ANALYZE), and
# twice as many. Prints, at each size, each round, the medians (with every
# round) and the ratios key/nokey and replay/nokey (truncated to two
# decimals; the issue sets no goal), then the growth exponent of the time a
# call of each case between the two sizes ("growth ... n^k": 0.00 is a cost
# independent of the keys stored, 1.00 linear in them). It checks what each
# case wrote: a move and a key per keyed call, no key without one, nothing at
# all for a replay. As bench/stock_post.sh, fsync and synchronous_commit are
# off (the CPU cost is what is compared). The audit seal is off and no pg_cron
# job is scheduled; each round follows a CHECKPOINT. About 6 minutes at the
# defaults. It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/posting.sh"

BENCH_CLIENTS=${PGERP_BENCH_CLIENTS:-4}
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
ROUNDS=${PGERP_BENCH_ROUNDS:-3}
KEYS=${PGERP_BENCH_KEYS:-500000}
PRODUCTS=1000
[[ $KEYS =~ ^[1-9][0-9]*$ ]] && [ "$KEYS" -ge "$PRODUCTS" ] || die "PGERP_BENCH_KEYS must be an integer of at least $PRODUCTS ($KEYS)"
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

# fill_keys N: stock.idempotency_key topped up to N keys (copies of replay-<first product>'s row
# under other keys, the same company), vacuumed and analyzed
fill_keys() {
    pg -o /dev/null -v n="$1" -v p="$PRODUCT_BASE" <<'SQL'
SELECT count(*) AS have FROM stock.idempotency_key \gset
INSERT INTO stock.idempotency_key (company_id, key, routine, args, result, user_id, created_at)
SELECT k.company_id, 'fill-' || (:have + g), k.routine, k.args, k.result, k.user_id, k.created_at
  FROM stock.idempotency_key k, generate_series(1, :n - :have) g
 WHERE k.key = 'replay-' || :p;
SQL
    pg -o /dev/null -c "VACUUM ANALYZE stock.idempotency_key"
    [ "$(pg -tAc "SELECT count(*) FROM stock.idempotency_key")" = "$1" ] || die "the key table does not hold $1 keys"
}

declare -A RUNS ROUND MED LABEL=([nokey]="(no key)" [key]="(a new key per call)" [replay]="(replay of a used key)")
# ms_call TPS: ms a call at BENCH_CLIENTS clients
ms_call() { awk -v t="$1" -v c="$BENCH_CLIENTS" 'BEGIN { print 1000 * c / t }'; }
for size in "$KEYS" $((2 * KEYS)); do
    say "$size keys stored"
    fill_keys "$size"
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
            RUNS[$size.$kind]="${RUNS[$size.$kind]:-} $t"
            ROUND[$size.$kind.$r]=$t
            say "$size keys, round $r, $kind: $(printf %.1f "$t") receipts/s ($moves moves, $keys keys written)"
        done
    done

    echo
    printf 'receipts/s (use_token, receive: 1 commit), %d clients, %d rounds of %d s, %s keys stored before the rounds:\n' \
        "$BENCH_CLIENTS" "$ROUNDS" "$SECONDS_EACH" "$size"
    for kind in "${CASES[@]}"; do
        # shellcheck disable=SC2086
        MED[$size.$kind]=$(median ${RUNS[$size.$kind]})
        # shellcheck disable=SC2086
        printf '  %-6s %-24s median %8.1f  (%.3f ms a call)  runs%s\n' "$kind" "${LABEL[$kind]}" "${MED[$size.$kind]}" \
            "$(ms_call "${MED[$size.$kind]}")" "$(runs ${RUNS[$size.$kind]})"
    done
    printf 'ratios of the medians (receipts/s): with a new key / without %s, replay / without %s\n' \
        "$(ratio "${MED[$size.key]}" "${MED[$size.nokey]}")" "$(ratio "${MED[$size.replay]}" "${MED[$size.nokey]}")"
    # the two sides of a ratio within one round ran next to each other, under the same other load
    per_round() { for r in $(seq 1 "$ROUNDS"); do printf ' %s' "$(ratio "${ROUND[$size.$1.$r]}" "${ROUND[$size.$2.$r]}")"; done; }
    printf 'ratios within each round: with a new key / without%s, replay / without%s\n' "$(per_round key nokey)" "$(per_round replay nokey)"
    echo
done
for kind in "${CASES[@]}"; do
    a=$(ms_call "${MED[$KEYS.$kind]}"); b=$(ms_call "${MED[$((2 * KEYS)).$kind]}")
    printf 'growth of the time a call, %-6s from %s to %s keys stored: %.3f to %.3f ms, n^%s (0.00: independent of the keys stored, 1.00: linear)\n' \
        "$kind" "$KEYS" "$((2 * KEYS))" "$a" "$b" "$(growth "$KEYS" "$a" "$((2 * KEYS))" "$b")"
done
