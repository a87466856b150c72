#!/usr/bin/env bash
# Posting rate with a synchronous standby against without one (#14,
# docs/benchmarks.md "HA"), in a throwaway primary and a streaming standby
# on this machine: pgbench with PGERP_BENCH_CLIENTS (4) clients as user bench
# (erp.use_token, then stock.receive and stock.deliver of a random product
# among 1,000, each its own commit), then with twice as many clients (the
# transactions in flight, each waiting for its commit), PGERP_BENCH_SECONDS
# (15) per round, in PGERP_BENCH_ROUNDS (3) rounds of each mode at each
# client count, the order rotating each round:
#   sync   synchronous_standby_names = 'standby', synchronous_commit = on
#   async  synchronous_standby_names = '' (the standby streams, nobody waits)
#   none   the standby stopped (no streaming; its slot keeps the WAL)
# Prints, at each client count, each round, the medians (with every round),
# the ratios sync/async and sync/none (truncated to two decimals; the issue
# sets no goal) and the replay lag sampled once a second during the rounds;
# then, per mode, the growth exponent of the rate from n to 2n clients
# ("growth ... n^k": 1.00 is twice the pairs/s with twice the clients, 0.00
# no more). About 6 minutes at the defaults. fsync is on
# (PGERP_BENCH_FSYNC=off to change): a synchronous commit waits for the
# standby's flush, which is what is measured. The audit seal is off and no
# pg_cron job is scheduled; each round starts after a CHECKPOINT with the
# standby caught up.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/posting.sh"

CLIENTS_N=${PGERP_BENCH_CLIENTS:-4}
BENCH_CLIENTS=$CLIENTS_N
SECONDS_EACH=${PGERP_BENCH_SECONDS:-15}
ROUNDS=${PGERP_BENCH_ROUNDS:-3}
FSYNC=${PGERP_BENCH_FSYNC:-on}
PRODUCTS=1000
MODES=(sync async none)

[ -f "$("$PGBIN/pg_config" --sharedir)/extension/pgerp.control" ] ||
    die "pgerp is not installed: run 'make install' (or 'make start') first"
throwaway_cluster_dirs pgerp-bench-ha
SDATA=$TMP/standby
SLOG=$TMP/standby.log
SPORT=$(free_port)
SAMPLER=
trap '[ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null; stop_cluster "$SDATA" immediate; stop_cluster "$DATA" immediate; rm -rf "$TMP"' EXIT

say "primary in $DATA on port $PORT (fsync $FSYNC)"
PGERP_FSYNC=$FSYNC init_cluster "$DATA" "$SOCK" "$PORT"
cat <<'CONF' | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
shared_buffers = 512MB
max_wal_size = 4GB
# no timed checkpoint or restartpoint during a run: each round follows a CHECKPOINT
checkpoint_timeout = 30min
synchronous_commit = on
# the audit seal off during the measurement (benchmark hygiene, #16)
pgerp.housekeeping_interval = 0
CONF
start_cluster "$DATA" "$LOG"
setup_database "$SOCK" "$PORT"
export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres PGDATABASE=pgerp

say "$PRODUCTS products with opening stock, user bench signed in"
posting_data "$PRODUCTS"
no_background_writers
printf '\\set p %s + random(0, %s)\nSELECT erp.use_token('"'%s'"', false);\nSELECT stock.receive(:p, 10, 5.00);\nSELECT stock.deliver(:p, 10);\n' \
    "$PRODUCT_BASE" "$((PRODUCTS - 1))" "$TOKEN" > "$TMP/post.sql"
chmod 644 "$TMP/post.sql"

say "streaming standby in $SDATA on port $SPORT"
pg -o /dev/null -c "SELECT pg_create_physical_replication_slot('standby')"
pg_owned_dir "$SDATA"
chmod 700 "$SDATA"   # a data directory must be closed to others (pg_owned_dir does it only for root)
as_pg "$PGBIN/pg_basebackup" -h "$SOCK" -p "$PORT" -U postgres -D "$SDATA" -X stream -c fast
cat <<CONF | as_pg tee -a "$SDATA/postgresql.conf" >/dev/null
# the standby (bench/ha_sync.sh)
port = $SPORT
primary_conninfo = 'host=$SOCK port=$PORT user=postgres application_name=standby'
primary_slot_name = 'standby'
CONF
as_pg touch "$SDATA/standby.signal"

# wait_for QUERY EXPECTED [SECONDS]: poll the primary until QUERY prints EXPECTED.
wait_for() {
    for _ in $(seq 1 $(( ${3:-60} * 10 ))); do
        [ "$(pg -tAc "$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.1
    done
    die "timed out waiting for '$2' from: $1"
}

# caught_up: the standby has replayed everything the primary has written so far.
caught_up() {
    local lsn
    lsn=$(pg -tAc "SELECT pg_current_wal_lsn()")
    wait_for "SELECT coalesce(bool_or(replay_lsn >= '$lsn'), false) FROM pg_stat_replication WHERE application_name = 'standby'" t 120
}

# set_mode MODE: the standby running or not, synchronous or not.
set_mode() {
    local names=
    [ "$1" = sync ] && names=standby
    pg -o /dev/null -c "ALTER SYSTEM SET synchronous_standby_names = '$names'" -c "SELECT pg_reload_conf()"
    if [ "$1" = none ]; then
        stop_cluster "$SDATA" fast
        wait_for "SELECT count(*) FROM pg_stat_replication" 0
    else
        cluster_running "$SDATA" || start_cluster "$SDATA" "$SLOG"
        wait_for "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby' AND state = 'streaming'" "$1"
        caught_up
    fi
    pg -c "CHECKPOINT"
}

# sample_lag FILE: once a second, the standby's replay lag (ms) and how far
# its replay is behind the primary's WAL (bytes), until killed. It runs in
# every mode (it finds no standby in mode none), so that it costs each the same.
sample_lag() {
    while :; do
        pg -tA -F ' ' -c "SELECT round(coalesce(extract(epoch FROM replay_lag) * 1000, 0), 3),
                                 pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)
                            FROM pg_stat_replication WHERE application_name = 'standby'" >>"$1" 2>/dev/null || true
        sleep 1
    done
}

declare -A RUNS ROUND
for BENCH_CLIENTS in "$CLIENTS_N" $((2 * CLIENTS_N)); do
    c=$BENCH_CLIENTS
    for r in $(seq 1 "$ROUNDS"); do
        for k in 0 1 2; do
            mode=${MODES[$(( (r - 1 + k) % 3 ))]}
            set_mode "$mode"
            sample_lag "$TMP/lag.$c.$mode" &
            SAMPLER=$!
            t=$(tps "$TMP/post.sql" "$SECONDS_EACH")
            kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=
            RUNS[$c.$mode]="${RUNS[$c.$mode]:-} $t"
            ROUND[$c.$mode.$r]=$t
            say "$c clients, round $r, $mode: $(printf %.1f "$t") pairs/s"
        done
    done
done

# the standby holds every posting once it has caught up (a standby that had
# fallen out of the picture would make the sync figure meaningless)
set_mode async
moves=$(pg -tAc "SELECT count(*) FROM stock.move")
standby_moves=$(pg -tAc "SELECT count(*) FROM stock.move" -p "$SPORT")
[ "$moves" = "$standby_moves" ] || die "the standby has $standby_moves moves, the primary $moves"

# lag_summary MODE: median and max of the sampled replay lag, max bytes behind.
lag_summary() {
    [ -s "$TMP/lag.$1" ] || { echo "no standby"; return; }
    sort -g -k1,1 "$TMP/lag.$1" | awk '{ v[NR] = $1; if ($2 > b) b = $2 }
        END { printf "median %.2f ms, max %.2f ms, at most %.0f kB behind (%d samples)", v[int((NR + 1) / 2)], v[NR], b / 1024, NR }'
}

declare -A MED
declare -A LABEL=([sync]="(synchronous standby)" [async]="(standby streaming)" [none]="(standby stopped)")
for c in "$CLIENTS_N" $((2 * CLIENTS_N)); do
    for mode in "${MODES[@]}"; do
        # shellcheck disable=SC2086
        MED[$c.$mode]=$(median ${RUNS[$c.$mode]})
    done
    echo
    printf 'posting pairs/s (use_token, receive, deliver: 2 commits), %d clients, %d rounds of %d s, fsync %s:\n' \
        "$c" "$ROUNDS" "$SECONDS_EACH" "$FSYNC"
    for mode in "${MODES[@]}"; do
        # shellcheck disable=SC2086
        printf '  %-5s %-22s median %8.1f  runs%s\n' "$mode" "${LABEL[$mode]}" "${MED[$c.$mode]}" "$(runs ${RUNS[$c.$mode]})"
    done
    printf 'ratios of the medians: sync/async %s, sync/none %s, async/none %s\n' \
        "$(ratio "${MED[$c.sync]}" "${MED[$c.async]}")" "$(ratio "${MED[$c.sync]}" "${MED[$c.none]}")" "$(ratio "${MED[$c.async]}" "${MED[$c.none]}")"
    # the two sides of a ratio within one round ran next to each other, under the same other load
    per_round() { for r in $(seq 1 "$ROUNDS"); do printf ' %s' "$(ratio "${ROUND[$c.$1.$r]}" "${ROUND[$c.$2.$r]}")"; done; }
    printf 'ratios within each round: sync/async%s, sync/none%s\n' "$(per_round sync async)" "$(per_round sync none)"
    printf 'replay lag during the rounds (pg_stat_replication, sampled each second):\n'
    printf '  sync:  %s\n  async: %s\n' "$(lag_summary "$c.sync")" "$(lag_summary "$c.async")"
done
echo
for mode in "${MODES[@]}"; do
    printf 'growth of the rate, %-5s from %d to %d clients: %.1f to %.1f pairs/s, n^%s (1.00: twice the rate with twice the clients, 0.00: no more)\n' \
        "$mode" "$CLIENTS_N" $((2 * CLIENTS_N)) "${MED[$CLIENTS_N.$mode]}" "${MED[$((2 * CLIENTS_N)).$mode]}" \
        "$(growth "$CLIENTS_N" "${MED[$CLIENTS_N.$mode]}" $((2 * CLIENTS_N)) "${MED[$((2 * CLIENTS_N)).$mode]}")"
done
printf 'moves on the primary and on the caught-up standby: %s and %s\n' "$moves" "$standby_moves"
