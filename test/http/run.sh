#!/usr/bin/env bash
# test/http/run.sh SOCK PORT WORKDIR: the gateway pgerp-rest against the
# make-test cluster (database pgerp on 127.0.0.1:PORT, superuser over SOCK),
# on free ports, tested with curl and test/http/client.py. The database-down
# part uses a throwaway cluster of its own. Ends with "http: P passed, F failed".
#
# The expectations on erp.http_request itself are only GET / (200, JSON),
# GET /companies without a token (200, a JSON array) and an unknown path (404).
# PGERP_HTTP_STANDIN=FILE loads FILE into both databases first: a stand-in
# handler for developing the gateway before the real one exists (never committed).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
SOCK=${1:?usage: run.sh SOCK PORT WORKDIR}
PORT=${2:?}
WORK=${3:?}
CLIENT=$ROOT_DIR/test/http/client.py
mkdir -p "$WORK"
passed=0
failed=0
PIDS=()

ok() { echo "ok - $1"; passed=$((passed + 1)); }
notok() { echo "not ok - $1${2:+ ($2)}"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "wanted $2, got $3"; fi; }
psql_su() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d pgerp "$@"; }
is_json() { python3 -c 'import json,sys; json.load(sys.stdin)' <"$1" 2>/dev/null; }
is_json_array() { python3 -c 'import json,sys; sys.exit(0 if isinstance(json.load(sys.stdin), list) else 1)' <"$1" 2>/dev/null; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$2" <"$1" 2>/dev/null; }
# status URL [CURL ARGS...]: the HTTP status, body in $WORK/body, headers in $WORK/head
status() {
    local url=$1; shift
    curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' --max-time 20 "$@" "$url"
}
header() { sed -n "s/^$1: *//Ip" "$WORK/head" | tr -d '\r' | head -n 1; }
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    [ -n "${TSTANDBY:-}" ] && stop_cluster "$TSTANDBY" immediate
    [ -n "${TDATA:-}" ] && stop_cluster "$TDATA" immediate
    [ -n "${TTMP:-}" ] && rm -rf "$TTMP"
}
trap cleanup EXIT

if [ ! -x "$PGBIN/pgerp-rest" ]; then
    notok "pgerp-rest is installed in $PGBIN"
    echo "http: $passed passed, $failed failed"; exit 1
fi
[ -n "${PGERP_HTTP_STANDIN:-}" ] && psql_su -f "$PGERP_HTTP_STANDIN" >/dev/null
# The gateway calls erp.http_request: without it there is nothing to test, which is a failure.
if [ "$(psql_su -tAc "SELECT count(*) FROM pg_catalog.pg_proc WHERE proname = 'http_request' AND pronamespace = 'erp'::regnamespace")" = 0 ]; then
    notok "erp.http_request is installed"
    echo "http: $passed passed, $failed failed"; exit 1
fi

# ---- the main gateway: default settings but a small body limit ----
H=$(free_port); A=$(free_port)
export PGERP_REST_MAX_BODY_BYTES=100000
start_gateway "$SOCK" "$PORT" "$H" "$WORK/gw.log" "$WORK/gw.pid" "$A" || notok "the gateway starts"
PIDS+=("$(cat "$WORK/gw.pid")")
unset PGERP_REST_MAX_BODY_BYTES
URL=http://127.0.0.1:$H

expect "GET / answers 200" 200 "$(status "$URL/")"
check "GET / answers a JSON body" is_json "$WORK/body"
expect "HEAD / answers 200 and sends no body" "200 0" "$("$CLIENT" head "$H" /)"
expect "GET /companies without a token answers 200" 200 "$(status "$URL/companies")"
check "GET /companies without a token answers a JSON array" is_json_array "$WORK/body"
expect "an unknown path answers 404" 404 "$(status "$URL/no_such_resource_here")"
expect "a body over max-body-bytes (Content-Length) answers 413" 413 "$("$CLIENT" biglength "$H" 200000)"
expect "a body over max-body-bytes (chunked) answers 413" 413 "$("$CLIENT" chunked "$H" 200000)"
expect "headers over the limit answer 431" 431 "$("$CLIENT" bigheader "$H" 100000)"
expect "a malformed request line answers 400" 400 "$("$CLIENT" raw "$H" "$(printf 'GARBAGE !\r\n\r\n' | od -An -tx1 | tr -d ' \n')")"
expect "a request line without a version answers 400" 400 "$("$CLIENT" raw "$H" "$(printf 'GET / HTTP/9\r\n\r\n' | od -An -tx1 | tr -d ' \n')")"
st=$(printf '{"a":"\xff\xfe"}' | curl -s -o "$WORK/body" -w '%{http_code}' --max-time 20 -X POST "$URL/companies" \
    -H 'Content-Type: application/json' --data-binary @-)
expect "an invalid UTF-8 body answers 400" 400 "$st"
check "... with a JSON error body" is_json "$WORK/body"
st=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 20 -X POST "$URL/companies" -H 'Content-Type: application/json' -d '{"a":')
check "an invalid JSON body gets an answer (got $st)" test "$st" -ge 200 -a "$st" -lt 600
expect "the gateway still answers after bad bodies" 200 "$(status "$URL/")"

# a slow client trickling its request for 4 s does not hold up others
"$CLIENT" slow "$H" 4 >"$WORK/slow.out" 2>&1 &
slow=$!
sleep 0.5
expect "a request is answered while a slow client trickles bytes" 200 "$(status "$URL/")"
check "... and the slow client was still sending then" kill -0 "$slow"
wait "$slow"
expect "the slow client is answered in the end" 200 "$(cat "$WORK/slow.out")"
expect "1,000 idle keep-alive connections while requests still get answers" ok "$("$CLIENT" idle "$H" 1000 2>&1 | tail -n 1)"

# request.headers as the gateway builds them: names lower-cased, repeated names joined in
# the order sent, quotes escaped, and the client address set by the gateway, not the client
psql_su -c "CREATE FUNCTION api.t_http_headers() RETURNS jsonb LANGUAGE sql STABLE AS \$\$ SELECT pg_catalog.current_setting('request.headers')::jsonb \$\$" >/dev/null
st=$(status "$URL/rpc/t_http_headers" -H 'X-Rep: one' -H 'Accept: application/json' -H 'x-rep: two "2" \ back' \
     -H 'X-REP: three' -H 'X-PGERP-Client-Address: 6.6.6.6' -H 'X-Solo: Mixed Case')
expect "GET /rpc/t_http_headers answers 200" 200 "$st"
expect "a repeated header's values are joined in the order sent, quotes and backslashes kept" \
    'one, two "2" \ back, three' "$(json_field "$WORK/body" x-rep)"
expect "a header's value keeps its case and its name is lower-cased" "Mixed Case" "$(json_field "$WORK/body" x-solo)"
expect "the client address is the peer's, whatever the client sends as that header" 127.0.0.1 \
    "$(json_field "$WORK/body" x-pgerp-client-address)"
expect "every header and nothing else: host, user-agent, accept, x-rep, x-solo and the address" 6 \
    "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <"$WORK/body")"
st=$(status "$URL/rpc/t_http_headers" -H 'X-Rep: alone')
expect "a second request on another shape has its own headers" alone "$(json_field "$WORK/body" x-rep)"
psql_su -c "DROP FUNCTION api.t_http_headers()" >/dev/null
# the response headers of each answer are its own (the gateway keeps the last set parsed)
status "$URL/companies?select=id" -H 'Accept: text/csv' >/dev/null
ct1=$(header Content-Type)
status "$URL/companies?select=id" >/dev/null
ct2=$(header Content-Type)
status "$URL/companies?select=id" -H 'Accept: text/csv' >/dev/null
expect "CSV, JSON, then CSV again: each answer has its own Content-Type" \
    "text/csv; charset=utf-8|application/json; charset=utf-8|text/csv; charset=utf-8" "$ct1|$ct2|$(header Content-Type)"

# access log: no token, no query string
curl -s -o /dev/null --max-time 20 "$URL/companies?select=id&token=QuerySecret42" -H 'Authorization: Bearer HeaderSecret42'
sleep 0.2
check "the access log has a line for the request" grep -q "GET /companies 200" "$WORK/gw.log"
check "the access log has neither the token nor the query string" bash -c "! grep -q Secret42 '$WORK/gw.log'"

# admin server
expect "/live answers 200" 200 "$(status "http://127.0.0.1:$A/live")"
expect "/ready answers 200 with the database up" 200 "$(status "http://127.0.0.1:$A/ready")"
expect "... with erp.health()'s answer: role primary" primary "$(json_field "$WORK/body" role)"
expect "... and ready" True "$(json_field "$WORK/body" ready)"
expect "/metrics answers 200" 200 "$(status "http://127.0.0.1:$A/metrics")"
check "/metrics counts requests by status" grep -q '^pgerp_rest_requests_total{status="200"} [1-9]' "$WORK/body"
check "/metrics has the latency histogram" grep -q '^pgerp_rest_request_duration_seconds_bucket{le="+Inf"} [1-9]' "$WORK/body"
check "/metrics has the pools in use and waiting" grep -q '^pgerp_rest_pool_waiting{pool="read"} 0' "$WORK/body"
check "/metrics counts database errors" grep -q '^pgerp_rest_db_errors_total ' "$WORK/body"
check "/metrics: the database is up" grep -q '^pgerp_db_up 1$' "$WORK/body"
check "/metrics: the database is a primary" grep -q '^pgerp_db_primary 1$' "$WORK/body"
check "/metrics: the master key file is present" grep -q '^pgerp_key_file_present 1$' "$WORK/body"
check "/metrics: no job is stalled" grep -q '^pgerp_jobs_stalled 0$' "$WORK/body"
check "/metrics: no commit waits for a synchronous standby" grep -q '^pgerp_syncrep_waits 0$' "$WORK/body"
check "/metrics: the job workers running" grep -Eq '^pgerp_job_workers [0-9]+$' "$WORK/body"
check "/metrics: the audit seal age" grep -Eq '^pgerp_audit_seal_age_seconds [0-9.e+-]+$' "$WORK/body"
check "/metrics: the replication lag gauge is declared" grep -q '^# TYPE pgerp_replication_lag_bytes gauge$' "$WORK/body"

# ---- db-pool=1: 504 PGRST003 while the one read connection is held; SIGTERM drains ----
H2=$(free_port)
PGERP_REST_DB_POOL=1 PGERP_REST_DB_POOL_ACQUISITION_TIMEOUT=1 \
    start_gateway "$SOCK" "$PORT" "$H2" "$WORK/gw2.log" "$WORK/gw2.pid" || notok "the db-pool=1 gateway starts"
gw2=$(cat "$WORK/gw2.pid"); PIDS+=("$gw2")
# GET /companies reads erp.company: a lock on it holds the request (and its connection)
hold_company() {
    psql_su -c "BEGIN; LOCK TABLE erp.company IN ACCESS EXCLUSIVE MODE; SELECT pg_catalog.pg_sleep($1); COMMIT;" >/dev/null 2>&1 &
    HOLDER=$!
    for _ in $(seq 1 100); do
        [ "$(psql_su -tAc "SELECT count(*) FROM pg_catalog.pg_locks WHERE relation = 'erp.company'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
        sleep 0.05
    done
}
# wait_blocked: until a gateway connection waits on that lock
wait_blocked() {
    for _ in $(seq 1 100); do
        [ "$(psql_su -tAc "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE application_name = 'pgerp-rest' AND wait_event_type = 'Lock'")" -ge 1 ] && return 0
        sleep 0.05
    done
    return 1
}
hold_company 4
curl -s -o "$WORK/held.body" -w '%{http_code}' --max-time 20 "http://127.0.0.1:$H2/companies" >"$WORK/held.status" &
held=$!
check "a request holds the only read connection" wait_blocked
expect "the next read answers 504 when no connection frees up" 504 "$(status "http://127.0.0.1:$H2/companies")"
expect "... with code PGRST003" PGRST003 "$(json_field "$WORK/body" code)"
expect "... and PostgREST's message" "Timed out acquiring connection from connection pool." "$(json_field "$WORK/body" message)"
# SIGTERM while the held request is in flight: it is answered, then exit 0
kill -TERM "$gw2"
sleep 0.3
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$H2/" 2>/dev/null)
check "after SIGTERM no new connection is accepted (got $st)" test "$st" = 000
wait "$held"
expect "the request in flight at SIGTERM is answered" 200 "$(cat "$WORK/held.status")"
wait "$gw2"; rc=$?
expect "SIGTERM exits 0 after draining" 0 "$rc"
wait "$HOLDER"

# a connection lost mid-request answers 503, not a partial body
hold_company 3
curl -s -o "$WORK/mid.body" -w '%{http_code}' --max-time 20 "$URL/companies" >"$WORK/mid.status" &
mid=$!
wait_blocked
psql_su -tAc "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = 'pgerp-rest' AND wait_event_type = 'Lock'" >/dev/null
wait "$mid"
expect "a connection lost mid-request answers 503" 503 "$(cat "$WORK/mid.status")"
check "... with a JSON error, not a partial body" is_json "$WORK/mid.body"
wait "$HOLDER"
expect "the next request on a new connection answers 200" 200 "$(status "$URL/companies")"

# one event loop serves every connection: a call held at the database (a
# lock) holds one pooled connection, not the loop; reads and a write
# arriving meanwhile are answered on the other connections
hold_company 3
curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/companies" >"$WORK/slowcall.status" &
slowcall=$!
wait_blocked
expect "a read is answered while another call waits for a lock" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/products?limit=1")"
expect "... and a write (401 without a token) too" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST -H 'Content-Type: application/json' -d '{"sku":"X"}' "$URL/products")"
check "... while the held call is still waiting" kill -0 "$slowcall"
wait "$slowcall"
expect "the held call is answered once the lock goes" 200 "$(cat "$WORK/slowcall.status")"
wait "$HOLDER"

# concurrent reads share connections (several calls in one pipeline): each
# answer is its own request's (the error names the column it asked for)
seq 1 300 | xargs -P 64 -I{} curl -s --max-time 20 -o "$WORK/conc.{}" "$URL/companies?select=x_{}"
bad=0
for i in $(seq 1 300); do grep -q "companies.x_$i does not exist" "$WORK/conc.$i" 2>/dev/null || bad=$((bad + 1)); done
expect "300 reads, 64 at a time on a pool of 10: each gets its own answer" 0 "$bad"

# ---- rate limits and CORS ----
H3=$(free_port)
PGERP_REST_RATE_LIMIT_PER_ADDRESS=0.05 PGERP_REST_RATE_LIMIT_BURST=3 \
PGERP_REST_SERVER_CORS_ALLOWED_ORIGINS="http://good.example, http://other.example" \
    start_gateway "$SOCK" "$PORT" "$H3" "$WORK/gw3.log" "$WORK/gw3.pid" || notok "the rate-limited gateway starts"
PIDS+=("$(cat "$WORK/gw3.pid")")
# start_gateway's probe took one token; two more pass, then 429
codes=""
for _ in 1 2 3 4; do codes="$codes $(status "http://127.0.0.1:$H3/")"; done
expect "the per-address limit answers 429 when the bucket is empty" " 200 200 429 429" "$codes"
ra=$(header Retry-After)
check "... with a Retry-After in seconds (got '$ra')" test -n "$ra" -a "$ra" -ge 1 2>/dev/null
stop_gateway "$WORK/gw3.pid"
PGERP_REST_RATE_LIMIT_PER_USER=0.05 PGERP_REST_RATE_LIMIT_BURST=1 \
PGERP_REST_SERVER_CORS_ALLOWED_ORIGINS="http://good.example, http://other.example" \
    start_gateway "$SOCK" "$PORT" "$H3" "$WORK/gw3.log" "$WORK/gw3.pid" || notok "the per-user rate-limited gateway starts"
PIDS+=("$(cat "$WORK/gw3.pid")")
# the tokens are not valid (401 from the handler): only whether 429 comes matters
limited() { local c; c=$(status "http://127.0.0.1:$H3/" -H "Authorization: Bearer $1"); [ "$c" = 429 ] && echo 429 || echo passed; }
codes="$(limited user-one) $(limited user-one) $(limited user-two)"
expect "the per-user limit is keyed by the Authorization header" "passed 429 passed" "$codes"
st=$(status "http://127.0.0.1:$H3/" -X OPTIONS -H 'Origin: http://good.example' -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: content-type')
expect "a CORS preflight from an allowed origin answers 200" 200 "$st"
expect "... allowing that origin" "http://good.example" "$(header Access-Control-Allow-Origin)"
check "... and the requested headers" grep -qi '^Access-Control-Allow-Headers: content-type' "$WORK/head"
status "http://127.0.0.1:$H3/" -H 'Origin: http://other.example' >/dev/null
expect "a request from an allowed origin gets Access-Control-Allow-Origin" "http://other.example" "$(header Access-Control-Allow-Origin)"
status "http://127.0.0.1:$H3/" -H 'Origin: http://evil.example' >/dev/null
expect "a request from another origin gets no CORS header" "" "$(header Access-Control-Allow-Origin)"
stop_gateway "$WORK/gw3.pid"

# ---- db-read-uri: GET and HEAD use the read pool, other methods the write pool ----
H7=$(free_port); DEAD7=$(free_port)
PGERP_REST_DB_READ_URI="postgresql://$APP_ROLE:$APP_PASSWORD@127.0.0.1:$DEAD7/pgerp" \
    start_gateway "$SOCK" "$PORT" "$H7" "$WORK/gw7.log" "$WORK/gw7.pid" || notok "the db-read-uri gateway starts"
PIDS+=("$(cat "$WORK/gw7.pid")")
expect "GET goes to db-read-uri (down here: 503)" 503 "$(status "http://127.0.0.1:$H7/companies")"
expect "HEAD goes to db-read-uri too" "503 0" "$("$CLIENT" head "$H7" /companies)"
st=$(status "http://127.0.0.1:$H7/companies" -X POST -H 'Content-Type: application/json' -d '{}')
check "POST goes to db-uri (up: not 503, got $st)" test "$st" != 503 -a "$st" != 000
stop_gateway "$WORK/gw7.pid"

# ---- --config FILE, a multi-host db-uri (the first host down), SIGHUP reload ----
H5=$(free_port); DEAD=$(free_port)
cat >"$WORK/gw5.conf" <<CONF
# written by test/http/run.sh
db-uri = "postgresql://$APP_ROLE:$APP_PASSWORD@127.0.0.1:$DEAD,127.0.0.1:$PORT/pgerp?target_session_attrs=read-write"
server-port = $H5
max-body-bytes = 1000000
CONF
"$PGBIN/pgerp-rest" --config "$WORK/gw5.conf" >>"$WORK/gw5.log" 2>&1 &
gw5=$!; PIDS+=("$gw5")
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$H5/" && break; sleep 0.1; done
expect "a multi-host db-uri skips the host that is down" 200 "$(status "http://127.0.0.1:$H5/")"
head -c 200000 /dev/zero | tr '\0' 'a' >"$WORK/200k"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST "http://127.0.0.1:$H5/companies" -H 'Content-Type: text/plain' --data-binary @"$WORK/200k")
check "max-body-bytes from the file: a 200,000-byte body is not refused (got $st)" test "$st" != 413 -a "$st" != 000
sed -i 's/^max-body-bytes = .*/max-body-bytes = 1000/' "$WORK/gw5.conf"
kill -HUP "$gw5"
for _ in $(seq 1 50); do grep -q "settings reloaded" "$WORK/gw5.log" && break; sleep 0.1; done
expect "after SIGHUP the new max-body-bytes applies" 413 "$("$CLIENT" biglength "$H5" 200000)"
expect "... and the gateway still answers" 200 "$(status "http://127.0.0.1:$H5/")"
echo "db-pool = oops" >>"$WORK/gw5.conf"
kill -HUP "$gw5"
for _ in $(seq 1 50); do grep -q "reload failed" "$WORK/gw5.log" && break; sleep 0.1; done
check "a bad file on SIGHUP is refused and logged" grep -q "reload failed" "$WORK/gw5.log"
expect "... and the old settings stay" 413 "$("$CLIENT" biglength "$H5" 200000)"
kill -TERM "$gw5"; wait "$gw5"

# ---- the database stopped and started: 503 + Retry-After, then recovery ----
TTMP=$(mktemp -d /tmp/pgerp-http.XXXXXX); chmod 755 "$TTMP"
TDATA=$TTMP/pg; TPORT=$(free_port)
if (set -e; PGERP_FSYNC=off init_cluster "$TDATA" "$TTMP/run" "$TPORT" && start_cluster "$TDATA" "$TTMP/pg.log" &&
    setup_database "$TTMP/run" "$TPORT") >"$TTMP/setup.log" 2>&1; then
    ok "a throwaway cluster for the outage"
    [ -n "${PGERP_HTTP_STANDIN:-}" ] &&
        "$PGBIN/psql" -X -q -h "$TTMP/run" -p "$TPORT" -U postgres -d pgerp -f "$PGERP_HTTP_STANDIN" >/dev/null
    H4=$(free_port); A4=$(free_port)
    start_gateway "$TTMP/run" "$TPORT" "$H4" "$WORK/gw4.log" "$WORK/gw4.pid" "$A4" || notok "the outage gateway starts"
    PIDS+=("$(cat "$WORK/gw4.pid")")
    # erp.health() says not ready when the master key file is gone: /ready answers 503 with it
    "$PGBIN/psql" -X -q -h "$TTMP/run" -p "$TPORT" -U postgres -d pgerp \
        -c "ALTER SYSTEM SET pgerp.master_key_file = '$TTMP/no-such.key'" -c "SELECT pg_reload_conf()" >/dev/null
    got=000
    for _ in $(seq 1 50); do got=$(status "http://127.0.0.1:$A4/ready"); [ "$got" = 503 ] && break; sleep 0.1; done
    expect "/ready answers 503 when erp.health() is not ready (no master key file)" 503 "$got"
    expect "... with erp.health()'s answer: status failing" failing "$(json_field "$WORK/body" status)"
    status "http://127.0.0.1:$A4/metrics" >/dev/null
    check "... and /metrics has pgerp_key_file_present 0" grep -q '^pgerp_key_file_present 0$' "$WORK/body"
    "$PGBIN/psql" -X -q -h "$TTMP/run" -p "$TPORT" -U postgres -d pgerp \
        -c "ALTER SYSTEM RESET pgerp.master_key_file" -c "SELECT pg_reload_conf()" >/dev/null
    got=000
    for _ in $(seq 1 50); do got=$(status "http://127.0.0.1:$A4/ready"); [ "$got" = 200 ] && break; sleep 0.1; done
    expect "/ready answers 200 again once the key file is back" 200 "$got"
    expect "before the outage GET / answers 200" 200 "$(status "http://127.0.0.1:$H4/")"
    # load during the outage: a loop of requests that must never see a 2xx with a bad body
    ( while [ ! -f "$TTMP/stop-load" ]; do
          c=$(curl -s -o "$TTMP/load.body" -w '%{http_code}' --max-time 20 "http://127.0.0.1:$H4/companies")
          if [ "$c" = 200 ] && ! is_json_array "$TTMP/load.body"; then echo "bad 200" >>"$TTMP/load.bad"; fi
          case $c in 200|503|504) ;; *) echo "status $c" >>"$TTMP/load.bad" ;; esac
      done ) &
    load=$!
    sleep 0.3
    stop_cluster "$TDATA" fast
    expect "with the database down GET / answers 503" 503 "$(status "http://127.0.0.1:$H4/")"
    ra=$(header Retry-After)
    check "... with Retry-After (got '$ra')" test -n "$ra"
    check "... and a PostgREST-style JSON error" test "$(json_field "$WORK/body" code)" = PGRST000 -o "$(json_field "$WORK/body" code)" = PGRST001
    got=000
    for _ in $(seq 1 50); do got=$(status "http://127.0.0.1:$A4/ready"); [ "$got" = 503 ] && break; sleep 0.1; done
    expect "/ready answers 503 with the database down" 503 "$got"
    status "http://127.0.0.1:$A4/metrics" >/dev/null
    check "... and /metrics has pgerp_db_up 0" grep -q '^pgerp_db_up 0$' "$WORK/body"
    start_cluster "$TDATA" "$TTMP/pg.log"
    got=000
    for _ in $(seq 1 50); do
        got=$(status "http://127.0.0.1:$H4/"); [ "$got" = 200 ] && break; sleep 0.1
    done
    expect "after the database is back GET / answers 200 again within 5 s" 200 "$got"
    touch "$TTMP/stop-load"; wait "$load"
    check "under load through the outage only 200 (a JSON array), 503 or 504 were answered" test ! -s "$TTMP/load.bad"
    stop_gateway "$WORK/gw4.pid"

    # failover: a streaming standby, the primary killed, the standby promoted
    TSTANDBY=$TTMP/standby; SPORT=$(free_port)
    pg_owned_dir "$TSTANDBY"
    if as_pg "$PGBIN/pg_basebackup" -h "$TTMP/run" -p "$TPORT" -U postgres -D "$TSTANDBY" -R -X stream -c fast \
            >"$TTMP/basebackup.log" 2>&1 &&
       echo "port = $SPORT" | as_pg tee -a "$TSTANDBY/postgresql.conf" >/dev/null &&
       (start_cluster "$TSTANDBY" "$TTMP/standby.log") >>"$TTMP/basebackup.log" 2>&1; then
        ok "a streaming standby of the throwaway cluster"
        H6=$(free_port)
        PGERP_REST_DB_URI="postgresql://$APP_ROLE:$APP_PASSWORD@127.0.0.1:$TPORT,127.0.0.1:$SPORT/pgerp?target_session_attrs=read-write" \
        PGERP_REST_SERVER_PORT=$H6 "$PGBIN/pgerp-rest" >>"$WORK/gw6.log" 2>&1 &
        gw6=$!; PIDS+=("$gw6")
        for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$H6/" && break; sleep 0.1; done
        expect "before the failover GET / answers 200 through the primary" 200 "$(status "http://127.0.0.1:$H6/")"
        stop_cluster "$TDATA" immediate
        expect "with the primary gone and the standby not promoted, GET / answers 503" 503 "$(status "http://127.0.0.1:$H6/")"
        as_pg "$PGBIN/pg_ctl" -D "$TSTANDBY" -w promote >/dev/null
        t0=$(date +%s%N); got=000
        for _ in $(seq 1 100); do
            got=$(status "http://127.0.0.1:$H6/"); [ "$got" = 200 ] && break; sleep 0.1
        done
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        expect "after the standby is promoted GET / answers 200 (after ${ms} ms; goal 5 s)" 200 "$got"
        st=$(status "http://127.0.0.1:$H6/companies" -X POST -d '{}' -H 'Content-Type: application/json')
        check "... and a write reaches the new primary, not a 503 (got $st)" test "$st" != 503 -a "$st" != 000
        kill -TERM "$gw6"; wait "$gw6"
    else
        notok "a streaming standby of the throwaway cluster" "$(tail -n 5 "$TTMP/basebackup.log" "$TTMP/standby.log" 2>&1)"
    fi
else
    notok "a throwaway cluster for the outage" "$(tail -n 3 "$TTMP/setup.log")"
fi

stop_gateway "$WORK/gw.pid"
echo "http: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
