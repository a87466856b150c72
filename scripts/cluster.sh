#!/usr/bin/env bash
# The local development cluster under ./var: stop, psql, reset.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VAR=$ROOT_DIR/var
PORT=${PGERP_PORT:-5480}

case "${1:-}" in
    stop)
        if [ -f "$VAR/pgerp-rest.pid" ]; then
            stop_gateway "$VAR/pgerp-rest.pid"; say "stopped the HTTP gateway"
        fi
        if cluster_running "$VAR/pg"; then
            stop_cluster "$VAR/pg"; say "stopped the cluster in $VAR/pg"
        else
            say "no cluster is running in $VAR/pg"
        fi ;;
    psql)
        cluster_running "$VAR/pg" || die "the cluster is not running: run 'make start' first"
        exec "$PGBIN/psql" -h "$VAR/run" -p "$PORT" -U postgres -d pgerp ;;
    reset)
        stop_gateway "$VAR/pgerp-rest.pid"
        stop_cluster "$VAR/pg" immediate
        rm -rf "$VAR"
        say "stopped the cluster and deleted $VAR (all its data)" ;;
    *)
        die "usage: $0 stop|psql|reset" ;;
esac
