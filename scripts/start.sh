#!/usr/bin/env bash
# make start: build, install, run the development cluster under ./var/pg,
# create the pack and the demo data, and say how to connect. Running it again
# keeps the cluster and its data (the server restarts to load the new build).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VAR=$ROOT_DIR/var
PORT=${PGERP_PORT:-5480}

build_and_install
mkdir -p "$VAR"
if [ ! -f "$VAR/pg/PG_VERSION" ]; then
    say "creating a cluster in $VAR/pg (port $PORT)"
    init_cluster "$VAR/pg" "$VAR/run" "$PORT"
else
    sed -i "s/^port = .*/port = $PORT/" "$VAR/pg/postgresql.conf"
    ensure_master_key "$VAR/pg" "$VAR/master.key"
    grep -q "^cron.host" "$VAR/pg/postgresql.conf" ||
        echo "cron.host = '$VAR/run'" | as_pg tee -a "$VAR/pg/postgresql.conf" >/dev/null
fi
if cluster_running "$VAR/pg"; then
    say "restarting the cluster to load the new build"
    stop_cluster "$VAR/pg"
fi
start_cluster "$VAR/pg" "$VAR/postgresql.log"
setup_database "$VAR/run" "$PORT"

if [ "$("$PGBIN/psql" -X -h "$VAR/run" -p "$PORT" -U postgres -d pgerp -tAc "SELECT count(*) FROM erp.app_user WHERE login = 'admin'")" = 0 ]; then
    say "loading demo data"
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$VAR/run" -p "$PORT" -U postgres -d pgerp -f "$ROOT_DIR/scripts/demo.sql" >/dev/null
else
    say "demo data already loaded; keeping the database as it is"
fi

REST_PORT=${PGERP_REST_PORT:-5481}
stop_gateway "$VAR/pgerp-rest.pid"
say "starting the HTTP gateway on 127.0.0.1:$REST_PORT (log in $VAR/pgerp-rest.log)"
start_gateway "$VAR/run" "$PORT" "$REST_PORT" "$VAR/pgerp-rest.log" "$VAR/pgerp-rest.pid" ||
    die "the gateway did not answer; see $VAR/pgerp-rest.log"

cat <<MSG

pgerp is running on port $PORT (data in $VAR/pg, log in $VAR/postgresql.log).

  Over HTTP (pgerp-rest on port $REST_PORT, docs/gateway.md and docs/api.md):
    TOKEN=\$(curl -s -X POST http://127.0.0.1:$REST_PORT/rpc/sign_in -H 'Content-Type: application/json' \\
        -d '{"login":"alice","password":"alice-demo-1"}' | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
    curl -s http://127.0.0.1:$REST_PORT/products -H "Authorization: Bearer \$TOKEN"

  As the application role (row security applies):
    psql "host=localhost port=$PORT dbname=pgerp user=$APP_ROLE password=$APP_PASSWORD"
    then: SELECT erp.sign_in('alice', 'alice-demo-1');

  As the superuser:   make psql
  Demo users (login / password):
    admin / admin-demo-1   admin of Demo Group and its subsidiaries
    alice / alice-demo-1   stock manager of Subsidiary A
    bob   / bob-demo-1     stock manager of Subsidiary B
  Stop with 'make stop'; 'make reset' deletes ./var.
MSG
