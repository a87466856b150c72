#!/usr/bin/env bash
# bench/rest_rss.sh [REQUESTS]: the gateway's resident memory after REQUESTS
# (default 1,000,000) GET /companies with 100,000 distinct tokens, per-user
# rate limiting on (so the bounded bucket table is exercised), on a
# throwaway cluster. Prints RSS before and after (goal: under 50 MB).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
TOTAL=${1:-1000000}
bench_cluster
[ -n "${PGERP_HTTP_STANDIN:-}" ] && pg -f "$PGERP_HTTP_STANDIN" >/dev/null
H=$(free_port)
PGERP_REST_RATE_LIMIT_PER_USER=1000000 PGERP_REST_RATE_LIMIT_BURST=1000000 \
    start_gateway "$SOCK" "$PORT" "$H" "$TMP/gw.log" "$TMP/gw.pid"
pid=$(cat "$TMP/gw.pid")
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
say "RSS at start: $(rss) kB"
done_n=0
while [ "$done_n" -lt "$TOTAL" ]; do
    out=$(wrk -t2 -c50 -d10s -s "$(dirname "$0")/rest_rss.lua" "http://127.0.0.1:$H/" 2>&1)
    n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
    done_n=$((done_n + n))
    say "$done_n requests, RSS $(rss) kB ($(grep Requests/sec <<<"$out"))"
done
say "RSS after $done_n requests with 100,000 distinct tokens: $(rss) kB"
stop_gateway "$TMP/gw.pid"
