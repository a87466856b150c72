#!/usr/bin/env bash
# HTTP API benchmark (docs/benchmarks.md): in a throwaway cluster with the
# gateway pgerp-rest in front of it, wrk on loopback against
#  (a) GET /products?id=eq.<random> with a bearer token, side by side with
#      its baseline: pgbench -M prepared running the same read in the same
#      transaction shape (BEGIN; erp.use_token(t, true); the SELECT from the
#      view as JSON; COMMIT) over as many connections as the gateway's pool,
#      over the same transport as the gateway's pool: the Unix socket in
#      $SOCK (start_gateway's db-uri).
#      Goal: ratio >= 0.7 and >= 10,000 req/s.
#  (b) req/s, p50 and p99 of: a list with an embed, POST of one row,
#      rpc/receive, a bulk POST of 1,000 rows (over PGERP_BENCH_POOL connections:
#      more would wait past db-pool-acquisition-timeout), count=exact over 1 M rows;
#  (c) the gateway's RSS after PGERP_BENCH_RSS_REQUESTS (1 M) requests with
#      100,000 distinct valid tokens, per-user rate limiting on (its bucket
#      table is bounded). Goal: under 50 MB.
#  (s) scaling: GET /products?limit=PGERP_BENCH_LIST (100) and twice as many
#      rows (the rows returned: the request shapes have no other size), with
#      the growth exponent of the time per request (1/req/s); run with
#      PGERP_BENCH_ONLY_A=1 too.
# Each measure runs PGERP_BENCH_ROUNDS times (default 3): the median and
# every run are printed, ratios truncated to two decimals (#16 hygiene). The
# audit seal and pg_cron jobs are off during the measurement
# (bench/lib/report.sh). It neither builds nor installs: run 'make install' first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"
SECONDS_EACH=${PGERP_BENCH_SECONDS:-10}
ROUNDS=${PGERP_BENCH_ROUNDS:-3}
RSS_REQUESTS=${PGERP_BENCH_RSS_REQUESTS:-1000000}
POOL=${PGERP_BENCH_POOL:-10}
CONNS=${PGERP_BENCH_CONNECTIONS:-64}
LIST=${PGERP_BENCH_LIST:-100}
ONLY_A=${PGERP_BENCH_ONLY_A:-0}   # 1: section (a) only (no 1 M partners, no (b), no (c))
command -v wrk >/dev/null || die "wrk is missing: run scripts/deps.sh"
SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

bench_cluster "shared_buffers = 256MB" "max_connections = 200" "pgerp.jwt_secret = '$SECRET'" "${BENCH_QUIET_CONF[@]}"
bench_quiet

say "loading: 10,000 products, 1,000 receipts$([ "$ONLY_A" = 0 ] && echo ", 1,000,000 partners")"
pg -o /dev/null -v only_a="$ONLY_A" <<'SQL'
SELECT erp.create_company('Bench Group') AS g \gset
SELECT erp.create_company('Bench A', :g) AS a \gset
SELECT erp.create_user('bench', 'bench-pass-1') AS u \gset
SELECT erp.grant_role(:u, 'admin', :a);
SELECT stock.create_warehouse(:a, 'WH') AS wh \gset
SELECT count(stock.create_product(:a, 'SKU-' || n, 'Product ' || n, 'fifo', 10)) FROM generate_series(1, 10000) n;
SELECT count(stock.receive(p.id, 5, 10, :wh)) FROM stock.product p WHERE p.company_id = :a AND p.id % 10 = 0;
INSERT INTO erp.partner (company_id, name) SELECT :a, 'Bench partner ' || n FROM generate_series(1, 1000000) n
 WHERE :'only_a' = '0';
ANALYZE;
SQL
read -r company minid maxid user_id wh < <(pg -tA -F ' ' -c \
    "SELECT company_id, min(id), max(id), (SELECT id FROM erp.app_user WHERE login = 'bench'), (SELECT min(id) FROM stock.warehouse) FROM stock.product GROUP BY company_id")
token=$(pg -tA -c "SELECT erp.sign_in('bench', 'bench-pass-1', $company)")

HTTP_PORT=$(free_port)
start_gateway "$SOCK" "$PORT" "$HTTP_PORT" "$TMP/rest.log" "$TMP/rest.pid" "" \
    || die "the gateway did not start: $(tail -n 5 "$TMP/rest.log")"
URL=http://127.0.0.1:$HTTP_PORT
trap 'stop_gateway "$TMP/rest.pid"; stop_cluster "$DATA" immediate; rm -rf "$TMP"' EXIT
# PGERP_BENCH_BASE_GATEWAY=<a pgerp-rest binary>: (a) also runs against that
# build, side by side in the same rounds (e.g. main's, to measure a change)
BASE_GW=${PGERP_BENCH_BASE_GATEWAY:-}
if [ -n "$BASE_GW" ]; then
    BASE_PORT=$(free_port)
    PGERP_GATEWAY_BIN=$BASE_GW start_gateway "$SOCK" "$PORT" "$BASE_PORT" "$TMP/base.log" "$TMP/base.pid" "" \
        || die "the base gateway did not start: $(tail -n 5 "$TMP/base.log")"
    trap 'stop_gateway "$TMP/base.pid"; stop_gateway "$TMP/rest.pid"; stop_cluster "$DATA" immediate; rm -rf "$TMP"' EXIT
fi

# the read is real: the GET finds the product
got=$(curl -s -H "Authorization: Bearer $token" "$URL/products?select=id&id=eq.$minid")
[ "$got" = "[{\"id\":$minid}]" ] || die "GET /products?id=eq.$minid answered $got"

cat > "$TMP/get.lua" <<LUA
local minid, maxid = $minid, $maxid
wrk.headers["Authorization"] = "Bearer $token"
request = function()
  return wrk.format("GET", "/products?id=eq." .. math.random(minid, maxid))
end
LUA
# wrk_run LUA [BASE_URL]: "req/s p50_ms p99_ms bad" of one run (default: this build's gateway)
wrk_run() {
    wrk -t2 -c"${WRK_CONNS:-$CONNS}" -d"${SECONDS_EACH}s" --timeout 30s --latency -s "$1" "${2:-$URL}/" 2>/dev/null | awk '
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx/ { bad = $NF }
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        END { printf "%.0f %.2f %.2f %s\n", rps, ms(p50), ms(p99), bad + 0 }'
}

cat > "$TMP/get.sql" <<SQL
\set id random($minid, $maxid)
BEGIN;
SELECT erp.use_token('$token', true);
SELECT COALESCE(pg_catalog.json_agg(p), '[]')::text FROM api.products p WHERE p.id = :id;
COMMIT;
SQL
chmod 644 "$TMP"/*.sql "$TMP"/*.lua
pgbench_run() {
    PGPASSWORD=$APP_PASSWORD "$PGBIN/pgbench" -n -M prepared -c "$POOL" -j 2 -T "$SECONDS_EACH" \
        -h "$SOCK" -p "$PORT" -U "$APP_ROLE" -f "$1" pgerp 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

say "(a) GET by key: $ROUNDS rounds of ${SECONDS_EACH}s, wrk -c$CONNS against a pool of $POOL; pgbench -c$POOL"
# cpu_ms PIDFILE: user + system CPU of a gateway so far, in ms (/proc/PID/stat)
cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d\n", ($12 + $13) * 1000 / hz }' "/proc/$(cat "$1")/stat"
}
# us_per_req CPU_BEFORE CPU_AFTER RPS: the gateway's CPU per request, in microseconds
us_per_req() { awk -v a="$1" -v b="$2" -v r="$3" -v s="$SECONDS_EACH" 'BEGIN { printf "%.1f", (b - a) * 1000 / (r * s) }'; }
http_runs=() base_runs=() gw_runs=() cpu_runs=() gw_cpu_runs=()
for r in $(seq "$ROUNDS"); do
    c0=$(cpu_ms "$TMP/rest.pid")
    read -r rps p50 p99 bad < <(wrk_run "$TMP/get.lua")
    [ "$bad" = 0 ] || die "GET by key: $bad answers were not 2xx"
    http_runs+=("$rps"); cpu_runs+=("$(us_per_req "$c0" "$(cpu_ms "$TMP/rest.pid")" "$rps")")
    if [ -n "$BASE_GW" ]; then
        c0=$(cpu_ms "$TMP/base.pid")
        read -r grps gp50 gp99 gbad < <(wrk_run "$TMP/get.lua" "http://127.0.0.1:$BASE_PORT")
        [ "$gbad" = 0 ] || die "GET by key (base gateway): $gbad answers were not 2xx"
        gw_runs+=("$grps"); gw_cpu_runs+=("$(us_per_req "$c0" "$(cpu_ms "$TMP/base.pid")" "$grps")")
        echo "  round $r: base gateway ${grps} req/s (p50 ${gp50} ms, p99 ${gp99} ms, ${gw_cpu_runs[-1]} us of gateway CPU a request)"
    fi
    base_runs+=("$(pgbench_run "$TMP/get.sql")")
    echo "  round $r: HTTP ${rps} req/s (p50 ${p50} ms, p99 ${p99} ms, ${cpu_runs[-1]} us of gateway CPU a request), pgbench ${base_runs[-1]} tps"
done
http=$(median "${http_runs[@]}")
base=$(median "${base_runs[@]}")
awk -v h="$http" -v b="$base" -v hr="${http_runs[*]}" -v br="$(runs_fmt %.0f "${base_runs[@]}")" -v q="$(ratio "$http" "$base")" 'BEGIN {
    printf "(a) GET by key: %.0f req/s (runs %s) against pgbench %.0f tps (runs %s): ratio %s (goal >= 0.70), %s 10,000 req/s\n",
        h, hr, b, br, q, (h >= 10000 ? "at least" : "UNDER") }'
if [ -n "$BASE_GW" ]; then
    gw=$(median "${gw_runs[@]}")
    echo "(a) base gateway $BASE_GW: $gw req/s (runs ${gw_runs[*]}): this build / base $(ratio "$http" "$gw")"
    echo "(a) gateway CPU a request: this build $(median "${cpu_runs[@]}") us (runs ${cpu_runs[*]}), base $(median "${gw_cpu_runs[@]}") us (runs ${gw_cpu_runs[*]})"
fi

# (s) the rows returned at two sizes: LIST and 2 LIST products a request
declare -A S
for k in "$LIST" "$((2 * LIST))"; do
    cat > "$TMP/list_$k.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
request = function() return wrk.format("GET", "/products?select=id,sku,name&order=id&limit=$k") end
LUA
done
chmod 644 "$TMP"/*.lua
got=$(curl -s -H "Authorization: Bearer $token" "$URL/products?select=id&order=id&limit=$((2 * LIST))" | grep -o '"id"' | wc -l)
[ "$got" = "$((2 * LIST))" ] || die "GET /products?limit=$((2 * LIST)) returned $got rows"
say "(s) GET of $LIST and $((2 * LIST)) products: $ROUNDS rounds of ${SECONDS_EACH}s, alternating"
for r in $(seq "$ROUNDS"); do
    for k in "$LIST" "$((2 * LIST))"; do
        read -r rps p50 p99 bad < <(wrk_run "$TMP/list_$k.lua")
        [ "$bad" = 0 ] || die "GET of $k products: $bad answers were not 2xx"
        S[$k]="${S[$k]:-} $rps"
    done
done
# shellcheck disable=SC2086
{ s1=$(median ${S[$LIST]}); s2=$(median ${S[$((2 * LIST))]}); }
printf '(s) GET of %s products %.0f req/s (runs %s), of %s products %.0f req/s (runs %s): time per request grows n^%s\n' \
    "$LIST" "$s1" "${S[$LIST]# }" "$((2 * LIST))" "$s2" "${S[$((2 * LIST))]# }" \
    "$(growth "$LIST" "$(awk -v t="$s1" 'BEGIN { print 1000 / t }')" "$((2 * LIST))" "$(awk -v t="$s2" 'BEGIN { print 1000 / t }')")"

[ "$ONLY_A" = 0 ] || exit 0

# (b) the other calls
cat > "$TMP/embed.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
request = function()
  return wrk.format("GET", "/moves?select=id,qty,products(sku,name)&limit=20&order=id.desc")
end
LUA
cat > "$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/partners", nil, '{"company_id": $company, "name": "wrk partner ' .. n .. '"}')
end
LUA
cat > "$TMP/receive.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
local minid, maxid = $minid, $maxid
request = function()
  return wrk.format("POST", "/rpc/receive", nil,
    '{"product": ' .. math.random(minid, maxid) .. ', "qty": 1, "unit_cost": 10, "warehouse": $wh}')
end
LUA
bulk=$(awk -v c="$company" 'BEGIN { printf "["; for (i = 1; i <= 1000; i++) printf "%s{\"company_id\": %d, \"name\": \"bulk %d\"}", (i > 1 ? "," : ""), c, i; printf "]" }')
cat > "$TMP/bulk.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
local body = '$bulk'
request = function() return wrk.format("POST", "/partners", nil, body) end
LUA
cat > "$TMP/count.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Prefer"] = "count=exact"
request = function() return wrk.format("GET", "/partners?select=id&limit=1") end
LUA
chmod 644 "$TMP"/*.lua
for m in embed:"list of 20 moves with their product" post:"POST of one partner" receive:"rpc/receive" \
         bulk:"bulk POST of 1,000 partners" count:"count=exact over 1 M partners"; do
    name=${m%%:*} what=${m#*:}
    rps_runs=() lines=()
    # the bulk POST (about a second each) over as many connections as the pool: 64 of them
    # would wait longer than db-pool-acquisition-timeout (10 s) for a connection and get
    # PostgREST's 504 PGRST003, which is the gateway doing its job, not the measure
    conns=$CONNS; [ "$name" = bulk ] && conns=$POOL
    for r in $(seq "$ROUNDS"); do
        read -r rps p50 p99 bad < <(WRK_CONNS=$conns wrk_run "$TMP/$name.lua")
        [ "$bad" = 0 ] || die "$what: $bad answers were not 2xx: $(grep -vE ' 2[0-9][0-9] [0-9.]+ms$' "$TMP/rest.log" | tail -n 3)"
        rps_runs+=("$rps"); lines+=("$rps:$p50:$p99")
    done
    med=$(median "${rps_runs[@]}")
    chosen="$med:-:-"   # an even number of rounds: a median no run had
    for l in "${lines[@]}"; do [ "${l%%:*}" = "$med" ] && chosen=$l; done
    IFS=: read -r rps p50 p99 <<<"$chosen"
    printf '(b) %-38s %8s req/s  p50 %7s ms  p99 %7s ms  (runs %s, %s connections)\n' "$what" "$rps" "$p50" "$p99" "${rps_runs[*]}" "$conns"
done

# (c) RSS after RSS_REQUESTS requests with 100,000 distinct tokens (signed here with the bench secret)
say "(c) $RSS_REQUESTS requests with 100,000 distinct tokens"
gen=$(pg -tA -c "SELECT token_generation FROM erp.app_user WHERE id = $user_id")
perl -MDigest::SHA=hmac_sha256 -MMIME::Base64 -e '
    my ($uid, $company, $gen, $secret, $n) = @ARGV;
    sub b64u { my $s = encode_base64($_[0], ""); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }
    my $h = b64u(q({"alg":"HS256","typ":"JWT"}));
    my $now = time;
    for my $i (1 .. $n) {
        # distinct by their expiry, every one valid for the hour to come
        my $p = b64u(sprintf(q({"sub":"%d","company":%d,"gen":%d,"iat":%d,"exp":%d}), $uid, $company, $gen, $now - 10, $now + 3600 + $i));
        my $s = b64u(hmac_sha256("$h.$p", $secret));
        print "$h.$p.$s\n";
    }' "$user_id" "$company" "$gen" "$SECRET" 100000 > "$TMP/tokens.txt"
got=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(sed -n 50000p "$TMP/tokens.txt")" "$URL/products?select=id&limit=1")
[ "$got" = 200 ] || die "a generated token was refused ($got)"
cat > "$TMP/tokens.lua" <<LUA
local tokens = {}
for line in io.lines("$TMP/tokens.txt") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/products?id=eq." .. ($minid + i % 1000), { ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1] })
end
LUA
chmod 644 "$TMP/tokens.lua" "$TMP/tokens.txt"
# per-user rate limiting on, so that the bounded bucket table is exercised too
stop_gateway "$TMP/rest.pid"
PGERP_REST_RATE_LIMIT_PER_USER=1000000 PGERP_REST_RATE_LIMIT_BURST=1000000 \
    start_gateway "$SOCK" "$PORT" "$HTTP_PORT" "$TMP/rest.log" "$TMP/rest.pid" "" \
    || die "the gateway did not start again: $(tail -n 5 "$TMP/rest.log")"
rss_before=$(awk '/VmRSS/ { print $2 }' "/proc/$(cat "$TMP/rest.pid")/status")
start=$(date +%s)
done_requests=0
while [ "$done_requests" -lt "$RSS_REQUESTS" ]; do
    n=$(wrk -t2 -c"$CONNS" -d10s -s "$TMP/tokens.lua" "$URL/" 2>/dev/null | awk '/requests in/ { print $1 }')
    done_requests=$((done_requests + n))
done
rss_after=$(awk '/VmRSS/ { print $2 }' "/proc/$(cat "$TMP/rest.pid")/status")
awk -v b="$rss_before" -v a="$rss_after" -v n="$done_requests" -v s="$(( $(date +%s) - start ))" 'BEGIN {
    printf "(c) gateway RSS %.1f MB before, %.1f MB after %d requests with 100,000 distinct tokens in %d s (goal < 50 MB): %s\n",
        b / 1024, a / 1024, n, s, (a / 1024 < 50 ? "met" : "MISSED") }'
