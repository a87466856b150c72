#!/usr/bin/env bash
# bench/ha_crash.sh [RUNS]: crash of the primary of the make start-ha cluster
# (issue #14), RUNS (3) times for each crash kind and each set of the
# monitor's timeouts, in a cluster of its own (scripts/ha.sh with
# PGERP_HA_DIR in a temporary directory, random ports).
#   crash kinds (PGERP_HA_CRASH, default "postmaster node"):
#     postmaster  kill -9 of the primary's postmaster (postmaster.pid), its
#                 pg_autoctl left running: pg_autoctl restarts it;
#     node        kill -9 of the primary's pg_autoctl and every process under
#                 it, postmaster included (the machine is lost); the node is
#                 started again (scripts/ha.sh start) once a write was taken.
#   timeouts (PGERP_HA_MODES, default "default tuned"): PGERP_HA_TUNED=0/1.
# Each run measures, from the kill: the first write the application role
# gets accepted through the read-write URI (make ha-uri, connect_timeout=1:
# sign in, then stock.receive), the end of an erp.noop job enqueued after
# that write, the next audit seal (erp.health() last_seal_at after the kill),
# and the old primary back as a standby (both nodes primary/secondary on the
# monitor). Every move id a write returned must be on the primary at the end.
# Before each kill, after a CHECKPOINT of the primary, the superuser writes
# PGERP_HA_ROWS (1,000,000) rows in one committed INSERT ... SELECT (a table
# public.bench_fill of a bigint and 100 bytes of text, dropped and created
# again each run, some 150 MB of WAL): the WAL that the restarted node
# replays, that the standby has to have replayed before its promotion and
# that the old primary's rejoin catches up on; every row must be on the
# primary at the end. Then PGERP_HA_GROWTH ("tuned postmaster": timeouts and
# crash kind; empty to skip) is run RUNS times more with twice the rows, and
# the growth exponent of each median between the two sizes is printed
# ("growth ... n^k": 0.00 is a time independent of the rows, 1.00 linear in
# them). Prints every run (seconds from the kill, moves and rows found),
# then the median of each column per timeouts, crash kind and rows (the
# runs are in the table above it), then the growth lines. No pg_cron job is
# scheduled during the runs (unscheduled at the start); the audit seal runs,
# since the time to the next seal is one of the measures. About 8 minutes
# at the defaults on a lightly loaded machine (15 runs), longer under load.
# PGERP_PGBIN is honoured (scripts/lib.sh); the pack is built and installed
# by scripts/ha.sh start.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

RUNS=${1:-3}
CRASHES=${PGERP_HA_CRASH:-postmaster node}
MODES=${PGERP_HA_MODES:-default tuned}
ROWS=${PGERP_HA_ROWS:-1000000}
GROWTH=${PGERP_HA_GROWTH-tuned postmaster}
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "PGERP_HA_ROWS must be a positive integer ($ROWS)"
if [ -n "$GROWTH" ]; then
    read -r GROWTH_MODE GROWTH_CRASH <<<"$GROWTH"
    case "$GROWTH_MODE/$GROWTH_CRASH" in
        default/postmaster | default/node | tuned/postmaster | tuned/node) ;;
        *) die "PGERP_HA_GROWTH must be 'default|tuned postmaster|node' ($GROWTH)" ;;
    esac
fi

TMP=$(mktemp -d /tmp/pgerp-hacrash.XXXXXX)
chmod 755 "$TMP"
export PGERP_HA_DIR=$TMP/ha
HA=$PGERP_HA_DIR
# the monitor's port and the two after it (the nodes) must be free
for _ in $(seq 1 50); do
    PGERP_HA_PORT=$(free_port)
    (echo >"/dev/tcp/127.0.0.1/$((PGERP_HA_PORT + 1))") 2>/dev/null ||
        (echo >"/dev/tcp/127.0.0.1/$((PGERP_HA_PORT + 2))") 2>/dev/null || break
done
PGERP_REST_PORT=$(free_port)
export PGERP_HA_PORT PGERP_REST_PORT
MON_PORT=$PGERP_HA_PORT
# PGERP_HA_KEEP=1 leaves the cluster running and its directory (logs) in place
if [ -z "${PGERP_HA_KEEP:-}" ]; then
    trap '"$ROOT_DIR/scripts/ha.sh" stop >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
fi
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { echo "scale=2; ($1 - $2) / 1" | bc; }
node_port() { case $1 in node1) echo $((MON_PORT + 1));; node2) echo $((MON_PORT + 2));; esac; }
monitor_sql() { "$PGBIN/psql" -X -tA -h "$HA/monitor/run" -p "$MON_PORT" -U postgres -d pg_auto_failover -c "$1" 2>/dev/null; }
# the superuser on whichever node takes writes (Unix sockets of both)
SU_RW="host=$HA/node1/run,$HA/node2/run port=$((MON_PORT + 1)),$((MON_PORT + 2)) user=postgres dbname=pgerp target_session_attrs=read-write connect_timeout=1"
su_rw() { "$PGBIN/psql" -X -tA -c "$1" "$SU_RW" 2>/dev/null; }

# primary_node: node1 or node2, whichever is out of recovery now.
primary_node() {
    local n
    for n in node1 node2; do
        [ "$("$PGBIN/psql" -X -tA -h "$HA/$n/run" -p "$(node_port $n)" -U postgres -d postgres \
             -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ] && { echo "$n"; return 0; }
    done
    return 1
}

# healthy SECONDS: until the monitor has one primary and one secondary, both
# in their goal state, and the primary runs its job workers.
healthy() {
    local st
    for _ in $(seq 1 $(( $1 * 5 ))); do
        st=$(monitor_sql "SELECT string_agg(reportedstate || '/' || goalstate, ' ' ORDER BY reportedstate) FROM pgautofailover.node")
        if [ "$st" = "primary/primary secondary/secondary" ] &&
           [ "$(su_rw "SELECT (erp.health()->'workers'->>'running')::int >= 1")" = t ]; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# write: the application role signs in and receives 1 unit; prints the move
# id and the port of the node that took it.
write() {
    "$PGBIN/psql" -X -tA -v ON_ERROR_STOP=1 "$URI" \
        -c "SELECT erp.sign_in('admin', 'admin-demo-1', $COMPANY) IS NULL" \
        -c "SELECT stock.receive($PRODUCT, 1, 2.50) || ' ' || inet_server_port()" 2>/dev/null | tail -n 1
}

# crash KIND NODE: kill -9 of NODE's postmaster, or of its pg_autoctl tree.
crash() {
    local kind=$1 n=$2 pm pids
    pm=$(head -n 1 "$HA/$n/pgdata/postmaster.pid")
    if [ "$kind" = postmaster ]; then
        kill -9 "$pm"
    else
        # every process under the node's pg_autoctl (runuser, the supervisor,
        # its services, the postmaster and its children), all at once
        pids=$(ps -e -o pid=,ppid= | awk -v root="$(cat "$HA/$n.pid")" '
            { parent[$1] = $2 } END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root) print p } }')
        # shellcheck disable=SC2086
        kill -9 $pids "$pm" 2>/dev/null || true
    fi
}

# median of the arguments (NA when any is NA)
median() {
    printf '%s\n' "$@" | grep -q NA && { echo NA; return; }
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# fill N: after a CHECKPOINT of the primary, N rows written in one committed
# statement (synchronous replication: flushed on the standby too), not checkpointed
fill() {
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$SU_RW" -c "SET client_min_messages = warning" \
        -c "DROP TABLE IF EXISTS public.bench_fill" -c "CHECKPOINT" \
        -c "CREATE TABLE public.bench_fill (id bigint NOT NULL, pad text NOT NULL)" \
        -c "INSERT INTO public.bench_fill SELECT g, repeat('x', 100) FROM generate_series(1, $1) g" >/dev/null ||
        die "the $1 rows before the crash could not be written"
}

# start_mode MODE: the cluster (re)started with MODE's timeouts (created once, then
# only the timeouts applied); URI, COMPANY and PRODUCT set; pg_cron jobs unscheduled
start_mode() {
    local tuned=0
    [ "$1" = tuned ] && tuned=1
    PGERP_HA_TUNED=$tuned "$ROOT_DIR/scripts/ha.sh" start >"$TMP/start.log" 2>&1 ||
        { cat "$TMP/start.log" >&2; die "make start-ha failed"; }
    URI="$("$ROOT_DIR/scripts/ha.sh" uri)&connect_timeout=1"
    COMPANY=$(su_rw "SELECT company_id FROM stock.product WHERE sku = 'BOLT-M8'")
    PRODUCT=$(su_rw "SELECT id FROM stock.product WHERE sku = 'BOLT-M8'")
    [ -n "$PRODUCT" ] || die "the demo product BOLT-M8 is missing"
    su_rw "SELECT count(cron.unschedule(jobid)) FROM cron.job" >/dev/null || true
    [ "$(su_rw "SELECT count(*) FROM cron.job")" = 0 ] || die "pg_cron jobs are still scheduled"
}

# one_run MODE CRASH ROWS RUN: one crash, its line appended to RESULTS
one_run() {
    local mode=$1 crash_kind=$2 rows=$3 run=$4 tuned=0 old new ids r t0 tw wport deadline job tj ts tr f n_ids found rows_found
    [ "$mode" = tuned ] && tuned=1
    healthy 300 || die "the cluster is not healthy: $(monitor_sql 'SELECT string_agg(nodename || reportedstate || goalstate, chr(32)) FROM pgautofailover.node')"
    old=$(primary_node) || die "no primary"
    fill "$rows"
    ids=$TMP/ids; : >"$ids"
    r=$(write) || true; [ -n "$r" ] || die "the application role cannot write before the crash"
    echo "${r%% *}" >>"$ids"
    t0=$(now)
    crash "$crash_kind" "$old"
    # first accepted write
    tw=; wport=; deadline=$(( $(date +%s) + 600 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        r=$(write) || true
        if [ -n "$r" ]; then tw=$(now); echo "${r%% *}" >>"$ids"; wport=${r##* }; break; fi
        sleep 0.1
    done
    [ -n "$tw" ] || die "no write was accepted within 600 s"
    new=node1; [ "$wport" = "$(node_port node2)" ] && new=node2
    # a job enqueued now: when it is done (the server's finished_at)
    job=$(su_rw "SELECT erp.enqueue('erp.noop')")
    tj=NA
    for _ in $(seq 1 600); do
        f=$(su_rw "SELECT extract(epoch FROM finished_at) FROM erp.job WHERE id = $job AND status = 'done'")
        [ -n "$f" ] && { tj=$(secs "$f" "$t0"); break; }
        sleep 0.2
    done
    # the next seal after the kill (erp.health(): last_seal_at)
    ts=NA
    for _ in $(seq 1 600); do
        f=$(su_rw "SELECT extract(epoch FROM (erp.health()->'audit'->>'last_seal_at')::timestamptz)")
        if [ -n "$f" ] && [ "$(echo "$f > $t0" | bc)" = 1 ]; then ts=$(secs "$f" "$t0"); break; fi
        sleep 0.2
    done
    # the old primary back as a standby (pg_autoctl rejoins it; a lost
    # node is started again first)
    if [ "$crash_kind" = node ]; then
        PGERP_HA_TUNED=$tuned "$ROOT_DIR/scripts/ha.sh" start >>"$TMP/start.log" 2>&1 ||
            { tail -n 20 "$TMP/start.log" >&2; die "the crashed node did not start again"; }
    fi
    tr=NA
    healthy 600 && tr=$(secs "$(now)" "$t0")
    # every acknowledged write and every row written before the kill is on the primary
    n_ids=$(wc -l <"$ids")
    found=$(su_rw "SELECT count(*) FROM stock.move WHERE id IN ($(paste -sd, "$ids"))")
    rows_found=$(su_rw "SELECT count(*) FROM public.bench_fill")
    line="$mode $crash_kind $rows $run $old $new $(secs "$tw" "$t0") $tj $ts $tr $found/$n_ids $rows_found/$rows"
    echo "$line" >>"$RESULTS"
    say "$line"
}

say "HA cluster in $HA, monitor on port $MON_PORT (runs: $RUNS; crashes: $CRASHES; timeouts: $MODES; rows before each crash: $ROWS; growth: ${GROWTH:-none})"
RESULTS=$TMP/results
: >"$RESULTS"
for mode in $MODES; do
    start_mode "$mode"
    for crash_kind in $CRASHES; do
        for run in $(seq 1 "$RUNS"); do
            one_run "$mode" "$crash_kind" "$ROWS" "$run"
        done
    done
done
if [ -n "$GROWTH" ]; then
    start_mode "$GROWTH_MODE"
    # the n runs of this pair when the matrix above did not have them
    if ! awk -v m="$GROWTH_MODE" -v c="$GROWTH_CRASH" '$1 == m && $2 == c { f = 1 } END { exit !f }' "$RESULTS"; then
        for run in $(seq 1 "$RUNS"); do one_run "$GROWTH_MODE" "$GROWTH_CRASH" "$ROWS" "$run"; done
    fi
    for run in $(seq 1 "$RUNS"); do one_run "$GROWTH_MODE" "$GROWTH_CRASH" $((2 * ROWS)) "$run"; done
fi

# median of the arguments (NA when any is NA)
median() {
    printf '%s\n' "$@" | grep -q NA && { echo NA; return; }
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# medians MODE CRASH ROWS: "write job seal rejoin failovers" of those runs (empty if none)
medians() {
    local rows
    rows=$(awk -v m="$1" -v c="$2" -v n="$3" '$1 == m && $2 == c && $3 == n' "$RESULTS")
    [ -n "$rows" ] || return 0
    col() { awk -v k="$1" '{ print $k }' <<<"$rows"; }
    # shellcheck disable=SC2046
    echo "$(median $(col 7)) $(median $(col 8)) $(median $(col 9)) $(median $(col 10)) $(awk '$5 != $6' <<<"$rows" | wc -l)/$(wc -l <<<"$rows")"
}

echo
echo "timeouts crash rows run old_primary new_primary write_s job_s seal_s rejoin_s writes_found rows_found"
cat "$RESULTS"
echo
echo "medians of $RUNS runs (seconds from the kill -9)"
printf '%-8s %-10s %8s %8s %8s %8s %9s %s\n' timeouts crash rows write job seal rejoin failovers
for mode in $MODES ${GROWTH:+$GROWTH_MODE}; do
    for crash_kind in $CRASHES ${GROWTH:+$GROWTH_CRASH}; do
        for rows in "$ROWS" $((2 * ROWS)); do
            m=$(medians "$mode" "$crash_kind" "$rows")
            [ -n "$m" ] || continue
            # the pair of PGERP_HA_GROWTH is listed by the loops twice: once
            grep -qx "$mode $crash_kind $rows" "$TMP/listed" 2>/dev/null && continue
            echo "$mode $crash_kind $rows" >>"$TMP/listed"
            read -r w j se re fo <<<"$m"
            printf '%-8s %-10s %8s %8s %8s %8s %9s %s\n' "$mode" "$crash_kind" "$rows" "$w" "$j" "$se" "$re" "$fo"
        done
    done
done
if [ -n "$GROWTH" ]; then
    read -r -a A <<<"$(medians "$GROWTH_MODE" "$GROWTH_CRASH" "$ROWS")"
    read -r -a B <<<"$(medians "$GROWTH_MODE" "$GROWTH_CRASH" $((2 * ROWS)))"
    echo
    names=(write job seal rejoin)
    for x in 0 1 2 3; do
        k=NA
        [ "${A[$x]}" = NA ] || [ "${B[$x]}" = NA ] || k=$(growth "$ROWS" "${A[$x]}" $((2 * ROWS)) "${B[$x]}")
        printf 'growth of the time to the %-6s %s timeouts, %s crash, from %s to %s rows written before the kill: %s to %s s, n^%s (0.00: independent of the rows, 1.00: linear)\n' \
            "${names[$x]}," "$GROWTH_MODE" "$GROWTH_CRASH" "$ROWS" $((2 * ROWS)) "${A[$x]}" "${B[$x]}" "$k"
    done
fi
