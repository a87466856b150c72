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
# PGERP_PGBIN is honoured (scripts/lib.sh); the pack is built and installed
# by scripts/ha.sh start.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

RUNS=${1:-3}
CRASHES=${PGERP_HA_CRASH:-postmaster node}
MODES=${PGERP_HA_MODES:-default tuned}

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

say "HA cluster in $HA, monitor on port $MON_PORT (runs: $RUNS; crashes: $CRASHES; timeouts: $MODES)"
RESULTS=$TMP/results
: >"$RESULTS"
for mode in $MODES; do
    tuned=0; [ "$mode" = tuned ] && tuned=1
    # (re)start: creates the cluster once, then only applies the timeouts
    PGERP_HA_TUNED=$tuned "$ROOT_DIR/scripts/ha.sh" start >"$TMP/start.log" 2>&1 ||
        { cat "$TMP/start.log" >&2; die "make start-ha failed"; }
    URI="$("$ROOT_DIR/scripts/ha.sh" uri)&connect_timeout=1"
    COMPANY=$(su_rw "SELECT company_id FROM stock.product WHERE sku = 'BOLT-M8'")
    PRODUCT=$(su_rw "SELECT id FROM stock.product WHERE sku = 'BOLT-M8'")
    [ -n "$PRODUCT" ] || die "the demo product BOLT-M8 is missing"
    for crash_kind in $CRASHES; do
        for run in $(seq 1 "$RUNS"); do
            healthy 300 || die "the cluster is not healthy: $(monitor_sql 'SELECT string_agg(nodename || reportedstate || goalstate, chr(32)) FROM pgautofailover.node')"
            old=$(primary_node) || die "no primary"
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
            # every acknowledged write is on the primary
            n_ids=$(wc -l <"$ids")
            found=$(su_rw "SELECT count(*) FROM stock.move WHERE id IN ($(paste -sd, "$ids"))")
            line="$mode $crash_kind $run $old $new $(secs "$tw" "$t0") $tj $ts $tr $found/$n_ids"
            echo "$line" >>"$RESULTS"
            say "$line"
        done
    done
done

echo
echo "timeouts crash run old_primary new_primary write_s job_s seal_s rejoin_s writes_found"
cat "$RESULTS"
echo
echo "medians (seconds from the kill -9)"
printf '%-8s %-10s %8s %8s %8s %9s %s\n' timeouts crash write job seal rejoin failovers
for mode in $MODES; do
    for crash_kind in $CRASHES; do
        rows=$(awk -v m="$mode" -v c="$crash_kind" '$1 == m && $2 == c' "$RESULTS")
        [ -n "$rows" ] || continue
        col() { awk -v k="$1" '{ print $k }' <<<"$rows"; }
        # shellcheck disable=SC2046
        printf '%-8s %-10s %8s %8s %8s %9s %s\n' "$mode" "$crash_kind" \
            "$(median $(col 6))" "$(median $(col 7))" "$(median $(col 8))" "$(median $(col 9))" \
            "$(awk '$4 != $5' <<<"$rows" | wc -l)/$(wc -l <<<"$rows")"
    done
done
