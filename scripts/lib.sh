# Shared by the scripts: where PostgreSQL is, how to run it as a non-root
# user, and how to set up a cluster for pgerp. Source it; do not run it.

PG_MAJOR=15
# PGERP_PGBIN: another PostgreSQL 15 installation's bin directory (a private
# copy made by scripts/private_pg.sh, say), used for building, installing
# and every cluster, so that several checkouts can be tested side by side.
PGBIN=${PGERP_PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP_ROLE=pgerp_app
APP_PASSWORD=${PGERP_APP_PASSWORD:-pgerp_app}

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# PostgreSQL refuses to run as root: the server side runs as user postgres then.
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

sudo_if_needed() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "this step needs root: run as root or install sudo ($*)"
    fi
}

# Build and install the extension (the shared library and the SQL scripts).
build_and_install() {
    say "building pgerp"
    make -C "$ROOT_DIR" -s all PG_CONFIG="$PGBIN/pg_config"
    say "installing pgerp into $("$PGBIN/pg_config" --pkglibdir)"
    if [ -w "$("$PGBIN/pg_config" --pkglibdir)" ]; then
        make -C "$ROOT_DIR" -s install PG_CONFIG="$PGBIN/pg_config"
    else
        sudo_if_needed make -C "$ROOT_DIR" -s install PG_CONFIG="$PGBIN/pg_config"
    fi
}

# Give the postgres user a directory it owns, and make sure it can reach it.
pg_owned_dir() {
    local dir=$1
    mkdir -p "$dir"
    if is_root; then
        chown postgres:postgres "$dir"
        chmod 700 "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "user postgres cannot reach $dir: a parent directory is closed to it. Clone the repository somewhere postgres can traverse (for example under /srv or /home) or run as a normal user with sudo."
    fi
}

# ensure_master_key DATADIR KEYFILE: a random 32-byte master key (64 hex
# digits) readable by the server's user only, named in postgresql.conf.
ensure_master_key() {
    local data=$1 key=$2
    if [ ! -f "$key" ]; then
        (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$key")
    fi
    if is_root; then chown postgres:postgres "$key"; fi
    chmod 600 "$key"
    if ! grep -q "^pgerp.master_key_file" "$data/postgresql.conf"; then
        echo "pgerp.master_key_file = '$key'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
    fi
}

# init_cluster DATADIR SOCKETDIR PORT LOGFILE: a new cluster with pgerp
# preloaded, ready to be a failover pair's primary: data checksums and
# wal_log_hints, so pg_rewind can bring a demoted primary back (docs/ha.md).
init_cluster() {
    local data=$1 sock=$2 port=$3
    pg_owned_dir "$data"
    pg_owned_dir "$sock"
    as_pg "$PGBIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 --data-checksums >/dev/null
    cat <<CONF | as_pg tee -a "$data/postgresql.conf" >/dev/null

# pgerp (written by scripts/lib.sh)
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$sock'
unix_socket_permissions = 0700
shared_preload_libraries = 'pg_cron,pgerp'
cron.database_name = 'pgerp'
# pg_cron runs erp.schedule jobs in background workers, not over a connection
# to a host and port stored in the replicated cron.job (docs/ha.md)
cron.use_background_workers = on
cron.host = '$sock'
# pgerp's launcher and workers, pg_cron's launcher and its job workers, parallel queries
max_worker_processes = 24
max_connections = 50
wal_log_hints = on
fsync = ${PGERP_FSYNC:-on}
CONF
    ensure_master_key "$data" "$(dirname "$data")/master.key"
}

# start_cluster DATADIR LOGFILE
start_cluster() {
    local data=$1 log=$2
    if is_root; then touch "$log"; chown postgres:postgres "$log"; fi
    as_pg "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
        { tail -n 20 "$log" >&2; die "the server did not start; see $log"; }
}

stop_cluster() {
    local data=$1 mode=${2:-fast}
    if [ -f "$data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$data" -m "$mode" -w stop >/dev/null || true
    fi
}

cluster_running() {
    [ -f "$1/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# setup_database HOST PORT: database pgerp with the pack and the app role; idempotent.
setup_database() {
    local host=$1 port=$2
    local psql=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres)
    "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'pgerp'" | grep -q 1 ||
        "${psql[@]}" -d postgres -c "CREATE DATABASE pgerp"
    "${psql[@]}" -d pgerp <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS pgerp_mrp CASCADE;
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') THEN
        CREATE ROLE $APP_ROLE LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END \$\$;
ALTER ROLE $APP_ROLE PASSWORD '$APP_PASSWORD';
GRANT CONNECT ON DATABASE pgerp TO $APP_ROLE;
SELECT erp.grant_app_access('$APP_ROLE') \g /dev/null
-- Sealing the audit chain and writing the sign-in events is the job workers'
-- housekeeping (pgerp.housekeeping_interval): no pg_cron job, which would be
-- bound to this node's host and port (docs/ha.md).
SQL
}

# A free TCP port on localhost, below Linux's ephemeral range (32768-60999):
# a port there can be taken by a client socket (1,000 connections of the
# HTTP suite, say) between this check and the bind.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 12000 ))
        (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    die "no free port found"
}

# throwaway_cluster_dirs PREFIX: sets TMP, DATA, SOCK, LOG and PORT for a
# cluster in a new temporary directory, removed (server stopped) on exit.
throwaway_cluster_dirs() {
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$TMP"
    DATA=$TMP/pg
    SOCK=$TMP/run
    LOG=$TMP/postgresql.log
    PORT=$(free_port)
    trap 'stop_cluster "$DATA" immediate; rm -rf "$TMP"' EXIT
    trap 'exit 130' INT TERM
}

# bench_cluster [SETTING...]: the throwaway cluster of a benchmark (fsync off,
# the given postgresql.conf lines added), the pack installed as make start
# does, and PGHOST/PGPORT/PGUSER/PGDATABASE pointing at it. It neither builds
# nor installs: the installed build is measured.
bench_cluster() {
    local sharedir
    sharedir=$("$PGBIN/pg_config" --sharedir)
    [ -f "$sharedir/extension/pgerp.control" ] ||
        die "pgerp is not installed in $sharedir/extension: run 'make install' (or 'make start') first"
    throwaway_cluster_dirs pgerp-bench
    say "throwaway cluster in $DATA on port $PORT"
    PGERP_FSYNC=off init_cluster "$DATA" "$SOCK" "$PORT"
    if [ $# -gt 0 ]; then
        printf '%s\n' "$@" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
    fi
    start_cluster "$DATA" "$LOG"
    setup_database "$SOCK" "$PORT"
    export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres PGDATABASE=pgerp
}

# pg ARGS...: psql on the cluster of the environment, stopping at the first error.
pg() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# start_gateway SOCK PORT HTTP_PORT LOGFILE PIDFILE [ADMIN_PORT]: pgerp-rest
# ($PGERP_GATEWAY_BIN when set, for a benchmark's second build) in
# the background against database pgerp as the app role over the Unix socket
# in directory SOCK (port PORT names the socket file; the gateway and the
# database share the host, and a socket is cheaper than TCP loopback:
# docs/benchmarks.md), waiting (up to 10 s) until it answers.
# Extra settings can be passed as PGERP_REST_* variables.
start_gateway() {
    local sock=$1 port=$2 http_port=$3 log=$4 pidfile=$5 admin_port=${6:-0}
    PGERP_REST_DB_URI="postgresql://$APP_ROLE:$APP_PASSWORD@/pgerp?host=$sock&port=$port" \
    PGERP_REST_SERVER_HOST=127.0.0.1 PGERP_REST_SERVER_PORT="$http_port" \
    PGERP_REST_ADMIN_SERVER_PORT="$admin_port" \
        "${PGERP_GATEWAY_BIN:-$PGBIN/pgerp-rest}" >>"$log" 2>&1 &
    echo $! >"$pidfile"
    local i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$http_port/"; then return 0; fi
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -n 5 "$log" >&2; return 1; }
        sleep 0.1
    done
    tail -n 5 "$log" >&2
    return 1
}

# stop_gateway PIDFILE: SIGTERM (it drains for up to 10 s), then wait for it.
stop_gateway() {
    local pidfile=$1 pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 120); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}
