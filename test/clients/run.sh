#!/usr/bin/env bash
# test/clients/run.sh SOCK PORT WORKDIR: the client compatibility suite, a
# stage of scripts/test.sh on its cluster (database pgerp with the demo data).
#
# It copies package.json, package-lock.json and the tests to WORKDIR/suite
# and runs `npm ci` there, so that nothing is written into the checkout (a
# root-owned run leaves no root-owned node_modules behind; test.sh removes
# WORKDIR). npm's download cache is the caller's usual one (~/.npm). No
# network for npm is a failure, not a skip. Then a gateway (pgerp-rest) on a
# free port, `node --test` with the TAP reporter against it, the gateway
# stopped, and one last line "clients: P passed, F failed" (exit 1 on any
# failure).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lib.sh"

[ $# -eq 3 ] || die "usage: $0 SOCK PORT WORKDIR"
SOCK=$1
PORT=$2
WORK=$3
SUITE=$WORK/suite
GW_PID=$WORK/gateway.pid
GW_LOG=$WORK/gateway.log

finish() {
    echo "clients: $1 passed, $2 failed"
    [ "$2" -eq 0 ]
    exit
}

command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "not ok - node and npm are needed (apt-get install nodejs npm; scripts/deps.sh)"; finish 0 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "not ok - Node $node_major is too old: the suite needs Node 20 or later"; finish 0 1; }

mkdir -p "$SUITE"
cp "$HERE"/package.json "$HERE"/package-lock.json "$HERE"/*.js "$SUITE"/ || finish 0 1
say "clients: npm ci in $SUITE"
if ! (cd "$SUITE" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1; then
    cat "$WORK/npm.log"
    echo "not ok - npm ci (the npm registry must be reachable, or the packages in npm's cache)"
    finish 0 1
fi

declare -F start_gateway >/dev/null ||
    { echo "not ok - scripts/lib.sh has no start_gateway: the gateway (pgerp-rest) is not there yet"; finish 0 1; }
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
trap 'stop_gateway "$GW_PID" >/dev/null 2>&1 || true' EXIT
if ! start_gateway "$SOCK" "$PORT" "$HTTP_PORT" "$GW_LOG" "$GW_PID" "$ADMIN_PORT"; then
    tail -n 30 "$GW_LOG" 2>/dev/null
    echo "not ok - the gateway did not start"
    finish 0 1
fi
# wait for it to accept connections (start_gateway may return before)
for _ in $(seq 1 100); do
    (echo >"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
    sleep 0.1
done

say "clients: node --test against http://127.0.0.1:$HTTP_PORT"
# Each request gives up after 10 s and each test after 60 s (lib.js); the
# whole run after 15 minutes.
(cd "$SUITE" && PGERP_REST_URL="http://127.0.0.1:$HTTP_PORT" timeout 900 \
    node --test --test-reporter=tap ./*.test.js) >"$WORK/tap.out" 2>&1
st=$?
cat "$WORK/tap.out"

stop_gateway "$GW_PID" >/dev/null 2>&1 || true
trap - EXIT

# The TAP reporter's summary: "# pass N", "# fail N", "# cancelled N"
# (cancelled: a hook failed or the run was cut short; counted as failed).
count() { sed -n "s/^# $1 \([0-9][0-9]*\)\$/\1/p" "$WORK/tap.out" | tail -n 1; }
p=$(count pass)
f=$(count fail)
c=$(count cancelled)
if [ -z "$p" ] || [ -z "$f" ]; then
    echo "not ok - node --test ended without a summary (exit $st)"
    finish "${p:-0}" "$(( ${f:-0} + 1 ))"
fi
f=$(( f + ${c:-0} ))
if [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
if [ "$f" -gt 0 ] && [ -f "$GW_LOG" ]; then
    echo "gateway log (last 30 lines):"; tail -n 30 "$GW_LOG"
fi
finish "$p" "$f"
