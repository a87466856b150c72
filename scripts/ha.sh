#!/usr/bin/env bash
# scripts/ha.sh start|uri|failover|stop|backup: a pg_auto_failover monitor and
# two data nodes on one machine under ./var/ha (PGERP_HA_DIR: another
# directory; issue #14), with pgBackRest WAL archiving and backups. Node-specific settings (port, socket, key path,
# archive command) live in var/ha/<node>/node.conf, outside PGDATA, included
# by the last line of postgresql.conf: pg_basebackup copies the include line,
# and each node resolves '../node.conf' to its own file (defect 7).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HA=${PGERP_HA_DIR:-$ROOT_DIR/var/ha}
MON_PORT=${PGERP_HA_PORT:-5490}
REST_PORT=${PGERP_REST_PORT:-5481}
STANZA=pgerp
BR_CONF=$HA/pgbackrest.conf
node_port() { case $1 in monitor) echo "$MON_PORT";; node1) echo $((MON_PORT + 1));; node2) echo $((MON_PORT + 2));; esac; }
MONITOR_URI="postgres://autoctl_node@localhost:$MON_PORT/pg_auto_failover?sslmode=disable"

# autoctl NODE ARGS...: pg_autoctl as the server's user, its config, state and
# pid files kept under var/ha/NODE (not in the postgres user's home).
autoctl() {
    local n=$1; shift
    as_pg env XDG_CONFIG_HOME="$HA/$n/cfg" XDG_DATA_HOME="$HA/$n/state" XDG_RUNTIME_DIR="$HA/$n/run" \
        PGHOST="$HA/$n/run" PGPORT="$(node_port "$n")" pg_autoctl "$@"
}

# run_node NODE: the pg_autoctl service of NODE in the background, logging to
# var/ha/NODE.log; nothing when it runs already (a second start-ha restarts
# only the services that are down, a crashed node say).
run_node() {
    local n=$1
    if [ -f "$HA/$n.pid" ] && kill -0 "$(cat "$HA/$n.pid")" 2>/dev/null; then return 0; fi
    if is_root; then touch "$HA/$n.log"; chown postgres:postgres "$HA/$n.log"; fi
    autoctl "$n" run --pgdata "$HA/$n/pgdata" >>"$HA/$n.log" 2>&1 </dev/null &
    echo $! >"$HA/$n.pid"
}

# write_node_conf NODE: the settings that differ per node.
write_node_conf() {
    local n=$1 port
    port=$(node_port "$n")
    pg_owned_dir "$HA/$n"; pg_owned_dir "$HA/$n/run"
    cat <<CONF | as_pg tee "$HA/$n/node.conf" >/dev/null
# node-specific settings of $n (scripts/ha.sh), not replicated
port = $port
unix_socket_directories = '$HA/$n/run'
unix_socket_permissions = 0700
cron.host = '$HA/$n/run'
pgerp.master_key_file = '$HA/master.key'
archive_command = 'pgbackrest --config=$BR_CONF --stanza=$STANZA --pg1-path=$HA/$n/pgdata archive-push %p'
CONF
}

# new_pgdata NODE CHECKSUMS SHARED: initdb, then pg_auto_failover's include,
# the settings every node shares, and the node's own file last (it wins).
new_pgdata() {
    local n=$1 sums=$2 shared=$3
    as_pg "$PGBIN/initdb" -D "$HA/$n/pgdata" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 $sums >/dev/null
    # pg_autoctl's own connections over loopback (monitor, replication): trust
    # on localhost only, before initdb's scram line (first match wins)
    as_pg sed -i '/^# IPv4 local connections:/a host all autoctl_node 127.0.0.1/32 trust\nhost all pgautofailover_monitor 127.0.0.1/32 trust\nhost all pgautofailover_replicator 127.0.0.1/32 trust\nhost replication pgautofailover_replicator 127.0.0.1/32 trust' \
        "$HA/$n/pgdata/pg_hba.conf"
    printf "\n# pgerp HA (scripts/ha.sh)\ninclude 'postgresql-auto-failover.conf'\n%s\ninclude_if_exists = '../node.conf'\n" "$shared" |
        as_pg tee -a "$HA/$n/pgdata/postgresql.conf" >/dev/null
}

# Identical on both data nodes (docs/ha.md "Settings that must be identical").
SHARED_DATA="shared_buffers = '128MB'
shared_preload_libraries = 'pg_cron,pgerp'
cron.database_name = 'pgerp'
cron.use_background_workers = on
max_worker_processes = 24
max_connections = 50
wal_log_hints = on
hot_standby_feedback = on
archive_mode = on
archive_timeout = ${PGERP_ARCHIVE_TIMEOUT:-60}"

# write_backrest_conf: one local repository; retention of the designs (#14):
# 30 daily full backups, incrementals every 4 h kept 7 days (by expiring
# whole full-backup sets: see docs/ha.md to change it).
write_backrest_conf() {
    pg_owned_dir "$HA/backup"
    cat <<CONF | as_pg tee "$BR_CONF" >/dev/null
[global]
repo1-path=$HA/backup
repo1-retention-full-type=time
repo1-retention-full=${PGERP_BACKUP_KEEP_FULL_DAYS:-30}
repo1-retention-diff=${PGERP_BACKUP_KEEP_INCR_DAYS:-7}
log-path=$HA/backup
lock-path=$HA/backup
start-fast=y
compress-type=lz4

[$STANZA]
pg1-path=$HA/node1/pgdata
pg1-port=$(node_port node1)
pg1-socket-path=$HA/node1/run
pg2-path=$HA/node2/pgdata
pg2-port=$(node_port node2)
pg2-socket-path=$HA/node2/run
CONF
}

# The application role's read-write URI over both nodes.
rw_uri() {
    echo "postgresql://$APP_ROLE:$APP_PASSWORD@localhost:$(node_port node1),localhost:$(node_port node2)/pgerp?target_session_attrs=read-write"
}
read_uri() {
    echo "postgresql://$APP_ROLE:$APP_PASSWORD@localhost:$(node_port node1),localhost:$(node_port node2)/pgerp?target_session_attrs=prefer-standby"
}

# primary_port: the port of the node that accepts writes now.
primary_port() {
    local n
    for n in node1 node2; do
        [ "$("$PGBIN/psql" -X -h "$HA/$n/run" -p "$(node_port "$n")" -U postgres -d postgres -tAc 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ] &&
            { node_port "$n"; return 0; }
    done
    return 1
}

# wait_for STATE SECONDS: until both nodes report their goal state reached.
wait_state() {
    local want=$1 secs=$2 i
    for i in $(seq 1 "$secs"); do
        autoctl monitor show state --pgdata "$HA/monitor/pgdata" 2>/dev/null | grep -E "$want" >/dev/null && return 0
        sleep 1
    done
    autoctl monitor show state --pgdata "$HA/monitor/pgdata" >&2 || true
    return 1
}

# The monitor's failure detection (docs/ha.md "Crash of the primary").
# PGERP_HA_TUNED=1: seconds instead of pg_auto_failover's defaults (a health
# check every 5 s, unhealthy after 20 s, 30 s for the old primary to demote);
# otherwise the defaults, so a cluster started once tuned goes back to them.
TUNED_SETTINGS="pgautofailover.health_check_period=1000 pgautofailover.health_check_timeout=1000
pgautofailover.health_check_max_retries=1 pgautofailover.health_check_retry_delay=500
pgautofailover.node_considered_unhealthy_timeout=2000 pgautofailover.primary_demote_timeout=3000"
monitor_timeouts() {
    local cmds=() kv i
    for kv in $TUNED_SETTINGS; do   # one -c each: ALTER SYSTEM refuses a transaction block
        if [ "${PGERP_HA_TUNED:-0}" = 1 ]; then cmds+=(-c "ALTER SYSTEM SET ${kv%%=*} = ${kv#*=}")
        else cmds+=(-c "ALTER SYSTEM RESET ${kv%%=*}"); fi
    done
    for i in $(seq 1 60); do
        "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HA/monitor/run" -p "$MON_PORT" -U postgres -d pg_auto_failover \
            "${cmds[@]}" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 && break
        [ "$i" = 60 ] && die "cannot set the monitor's timeouts; see $HA/monitor.log"
        sleep 0.5
    done
    [ "${PGERP_HA_TUNED:-0}" = 1 ] && say "monitor timeouts tuned (PGERP_HA_TUNED=1): ${TUNED_SETTINGS//$'\n'/ }"
    return 0
}

start() {
    command -v pg_autoctl >/dev/null || die "pg_autoctl is missing: run scripts/deps.sh"
    build_and_install
    pg_owned_dir "$ROOT_DIR/var"; pg_owned_dir "$HA"
    (umask 077; [ -f "$HA/master.key" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$HA/master.key")
    is_root && chown postgres:postgres "$HA/master.key"; chmod 600 "$HA/master.key"
    write_backrest_conf
    local n
    for n in monitor node1 node2; do write_node_conf "$n"; done
    as_pg sed -i '/^archive_command\|^cron.host\|^pgerp.master/d' "$HA/monitor/node.conf"
    if [ ! -f "$HA/monitor/pgdata/PG_VERSION" ]; then
        say "creating the monitor on port $MON_PORT"
        new_pgdata monitor "" "shared_buffers = '128MB'"
        autoctl monitor create monitor --pgctl "$PGBIN/pg_ctl" --pgdata "$HA/monitor/pgdata" \
            --pgport "$MON_PORT" --hostname localhost --auth trust --no-ssl >>"$HA/monitor.log" 2>&1 ||
            { tail -n 20 "$HA/monitor.log" >&2; die "the monitor was not created; see $HA/monitor.log"; }
    fi
    run_node monitor
    monitor_timeouts
    for n in node1 node2; do
        if [ ! -f "$HA/$n/pgdata/PG_VERSION" ]; then
            say "creating $n on port $(node_port "$n")"
            [ "$n" = node1 ] && new_pgdata node1 --data-checksums "$SHARED_DATA"
            autoctl "$n" create postgres --pgctl "$PGBIN/pg_ctl" --pgdata "$HA/$n/pgdata" \
                --pgport "$(node_port "$n")" --pghost "$HA/$n/run" --hostname localhost --name "$n" \
                --dbname pgerp --monitor "$MONITOR_URI" --auth trust --no-ssl >>"$HA/$n.log" 2>&1 ||
                { tail -n 20 "$HA/$n.log" >&2; die "$n was not created; see $HA/$n.log"; }
        fi
        run_node "$n"
        [ "$n" = node1 ] && { wait_state 'single|primary' 120 || die "node1 did not become primary; see $HA/node1.log"; }
    done
    wait_state 'secondary' 300 || die "node2 did not become a secondary; see $HA/node2.log"
    autoctl monitor set formation number-sync-standbys 1 --pgdata "$HA/monitor/pgdata" >>"$HA/monitor.log" 2>&1 ||
        say "number_sync_standbys 1 refused by the monitor (see docs/ha.md); replication stays synchronous (ANY 1)"
    # on a restart the monitor reports the old states at once: wait for a real primary
    local pport=
    for _ in $(seq 1 120); do pport=$(primary_port) && break; sleep 1; done
    [ -n "$pport" ] || die "no primary accepts writes; see $HA/node1.log and $HA/node2.log"
    local sock=$HA/node1/run; [ "$pport" = "$(node_port node2)" ] && sock=$HA/node2/run
    setup_database "$sock" "$pport"
    if [ "$("$PGBIN/psql" -X -h "$sock" -p "$pport" -U postgres -d pgerp -tAc "SELECT count(*) FROM erp.app_user WHERE login = 'admin'")" = 0 ]; then
        say "loading demo data"
        "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$pport" -U postgres -d pgerp -f "$ROOT_DIR/scripts/demo.sql" >/dev/null
    fi
    [ -d "$HA/backup/archive/$STANZA" ] ||
        as_pg pgbackrest --config="$BR_CONF" --stanza=$STANZA stanza-create >>"$HA/backup.log" 2>&1 ||
        say "pgBackRest stanza-create failed; see $HA/backup.log"
    stop_gateway "$HA/pgerp-rest.pid"
    PGERP_REST_DB_URI=$(rw_uri) PGERP_REST_DB_READ_URI=$(read_uri) PGERP_REST_SERVER_HOST=127.0.0.1 \
    PGERP_REST_SERVER_PORT=$REST_PORT "$PGBIN/pgerp-rest" >>"$HA/pgerp-rest.log" 2>&1 &
    echo $! >"$HA/pgerp-rest.pid"
    cat <<MSG

pgerp HA is running: monitor on port $MON_PORT, nodes on $(node_port node1) and $(node_port node2), data in $HA.
  read-write (application role): psql "$(rw_uri)"
  read pool (standby first):     $(read_uri)
  HTTP gateway:                  http://127.0.0.1:$REST_PORT/ (writes on the primary, GET/HEAD on the standby)
  state:    pg_autoctl show state --pgdata $HA/monitor/pgdata   (as user postgres, XDG dirs under $HA/monitor)
  fail over: make failover    backup: make backup    stop: make stop-ha
MSG
}

# failover: pg_autoctl perform failover, then wait until the new primary accepts a write.
failover() {
    local old new t0 t1
    old=$(primary_port) || die "no primary now"
    t0=$(date +%s.%N)
    autoctl monitor perform failover --pgdata "$HA/monitor/pgdata" 2>&1 | tail -n 3
    for _ in $(seq 1 600); do
        new=$(primary_port 2>/dev/null) || new=
        if [ -n "$new" ] && [ "$new" != "$old" ] &&
           "$PGBIN/psql" -X "$(rw_uri)" -tAc "CREATE TEMP TABLE failover_probe (x int); INSERT INTO failover_probe VALUES (1)" >/dev/null 2>&1; then
            t1=$(date +%s.%N)
            say "the primary is now on port $new; first accepted write after $(echo "$t1 - $t0" | bc) s"
            return 0
        fi
        sleep 0.2
    done
    die "no new primary accepted a write within 120 s"
}

stop() {
    stop_gateway "$HA/pgerp-rest.pid"
    local n
    for n in node2 node1 monitor; do
        [ -f "$HA/$n/pgdata/PG_VERSION" ] || continue
        autoctl "$n" stop --pgdata "$HA/$n/pgdata" >/dev/null 2>&1 || true
    done
    for n in node2 node1 monitor; do
        [ -f "$HA/$n.pid" ] || continue
        for _ in $(seq 1 100); do kill -0 "$(cat "$HA/$n.pid")" 2>/dev/null || break; sleep 0.2; done
        rm -f "$HA/$n.pid"
    done
    say "stopped the HA cluster in $HA"
}

# backup [full|incr]: full when there is none yet, else incremental; both by default.
backup() {
    local kind=${1:-both} t0
    for k in full incr; do
        [ "$kind" = both ] || [ "$kind" = "$k" ] || continue
        t0=$(date +%s)
        as_pg pgbackrest --config="$BR_CONF" --stanza=$STANZA --type="$k" backup ||
            die "the $k backup failed; see $HA/backup"
        say "$k backup done in $(( $(date +%s) - t0 )) s"
    done
    as_pg pgbackrest --config="$BR_CONF" --stanza=$STANZA info
}

case "${1:-}" in
    start) start ;;
    uri) rw_uri ;;
    failover) failover ;;
    stop) stop ;;
    backup) shift; backup "$@" ;;
    *) die "usage: $0 start|uri|failover|stop|backup [full|incr]" ;;
esac
