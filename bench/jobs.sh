#!/usr/bin/env bash
# Job queue benchmark (docs/benchmarks.md), in a throwaway cluster with the
# default 2 job workers:
#  (a) throughput: PGERP_BENCH_JOBS (6,000) erp.noop jobs enqueued in one
#      transaction, run by the workers, against the same number of
#      claim-and-update pairs (SKIP LOCKED claim, then "done", each its own
#      transaction, as a worker does) run by pgbench in one plain session on a
#      table of the same shape; at PGERP_BENCH_JOBS/2 and PGERP_BENCH_JOBS
#      jobs, with the growth exponent of the workers' time;
#  (b) pickup latency: PGERP_BENCH_PICKUPS (100) jobs enqueued one at a time to
#      an idle pool; started_at - enqueued_at, p50 and p99 (goal: p50 < 50 ms).
# With the hygiene of #16: no audit seal or pg_cron job during the
# measurement, PGERP_BENCH_RUNS (3) rounds of every measure, the median with
# every round, ratios truncated to two decimals.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

JOBS=${PGERP_BENCH_JOBS:-6000}
PICKUPS=${PGERP_BENCH_PICKUPS:-100}
RUNS=${PGERP_BENCH_RUNS:-3}
HALF=$((JOBS / 2))

bench_cluster "shared_buffers = 256MB" "synchronous_commit = off" "${BENCH_QUIET_CONF[@]}"
bench_quiet
now_ms() { date +%s%3N; }

# the workers are up once both slots show in pg_stat_activity
for _ in $(seq 1 100); do
    [ "$(pg -tAc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'")" = 2 ] && break
    sleep 0.1
done

pg -o /dev/null -c "CREATE TABLE public.q (LIKE erp.job INCLUDING DEFAULTS INCLUDING INDEXES EXCLUDING IDENTITY)"
cat > "$TMP/claim.sql" <<'EOF2'
WITH c AS (SELECT q.company_id, q.id FROM public.q WHERE q.status = 'queued' AND q.run_at <= now()
            ORDER BY q.priority DESC, q.run_at, q.id LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE public.q SET status = 'running', attempts = q.attempts + 1, started_at = clock_timestamp(), worker_pid = pg_backend_pid()
  FROM c WHERE q.company_id = c.company_id AND q.id = c.id RETURNING q.id \gset
UPDATE public.q SET status = 'done', result = jsonb_build_object('job', :id), finished_at = clock_timestamp(), worker_pid = NULL
 WHERE company_id = 0 AND id = :id AND status = 'running';
EOF2
chmod 644 "$TMP/claim.sql"

# workers_ms N: ms for the 2 workers to run N noop jobs enqueued at once
workers_ms() {
    local start
    start=$(now_ms)
    pg -c "SELECT count(erp.enqueue('erp.noop')) FROM generate_series(1, $1)" -o /dev/null
    while [ "$(pg -tAc "SELECT count(*) FROM erp.job WHERE status <> 'done'")" != 0 ]; do sleep 0.05; done
    echo $(( $(now_ms) - start ))
}
# plain_ms N: ms for one plain session to claim and finish N rows of public.q
plain_ms() {
    local start left
    pg -o /dev/null -c "TRUNCATE public.q" -c "INSERT INTO public.q (company_id, id, kind, args, status, max_attempts, run_as)
        SELECT 0, n, 'erp.noop', '{}', 'queued', 3, 'postgres' FROM generate_series(1, $1) n" -c "VACUUM ANALYZE public.q"
    start=$(now_ms)
    "$PGBIN/pgbench" -n -c 1 -t "$1" -f "$TMP/claim.sql" >/dev/null
    start=$(( $(now_ms) - start ))
    left=$(pg -tAc "SELECT count(*) FROM public.q WHERE status <> 'done'")
    [ "$left" = 0 ] || die "the plain session left $left rows undone"
    echo "$start"
}
# pickup RUN: PICKUPS jobs one at a time; "p50 p99 max" of their pickup latency
pickup() {
    local first
    first=$(pg -tAc "SELECT coalesce(max(id), 0) FROM erp.job")
    for _ in $(seq 1 "$PICKUPS"); do
        pg -c "SELECT erp.enqueue('erp.noop')" -o /dev/null
        sleep 0.02
    done
    while [ "$(pg -tAc "SELECT count(*) FROM erp.job WHERE id > $first AND status <> 'done'")" != 0 ]; do sleep 0.05; done
    pg -tA -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
           round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2)
      FROM (SELECT extract(epoch FROM started_at - enqueued_at) * 1000 AS ms FROM erp.job WHERE id > $first) x"
}

declare -A W P
P50=() P99=() MAX=()
for r in $(seq "$RUNS"); do
    say "round $r of $RUNS: (a) $HALF and $JOBS noop jobs, workers and plain session; (b) $PICKUPS pickups"
    for n in "$HALF" "$JOBS"; do
        W[$n]="${W[$n]:-} $(workers_ms "$n")"
        P[$n]="${P[$n]:-} $(plain_ms "$n")"
    done
    read -r p50 p99 max < <(pickup)
    P50+=("$p50"); P99+=("$p99"); MAX+=("$max")
done

echo
printf '(a) median of %s rounds (every round in ms in parentheses)\n' "$RUNS"
for n in "$HALF" "$JOBS"; do
    # shellcheck disable=SC2086
    { w=$(median ${W[$n]}); p=$(median ${P[$n]}); }
    printf '  %6s jobs: 2 workers %8.0f jobs/s (%s), one plain session %8.0f pairs/s (%s): workers / plain session %s\n' \
        "$n" "$(awk -v n="$n" -v t="$w" 'BEGIN { print n * 1000 / t }')" "${W[$n]# }" \
        "$(awk -v n="$n" -v t="$p" 'BEGIN { print n * 1000 / t }')" "${P[$n]# }" "$(ratio "$p" "$w")"
done
# shellcheck disable=SC2086
{ w1=$(median ${W[$HALF]}); w2=$(median ${W[$JOBS]}); p1=$(median ${P[$HALF]}); p2=$(median ${P[$JOBS]}); }
printf '  growth %s -> %s jobs: workers n^%s, plain session n^%s\n' "$HALF" "$JOBS" \
    "$(growth "$HALF" "$w1" "$JOBS" "$w2")" "$(growth "$HALF" "$p1" "$JOBS" "$p2")"
printf '(b) pickup latency ms, median of %s rounds of %s jobs: p50 %s (%s), p99 %s (%s), max %s (%s)   (goal: p50 < 50)\n' \
    "$RUNS" "$PICKUPS" "$(median "${P50[@]}")" "${P50[*]}" "$(median "${P99[@]}")" "${P99[*]}" "$(median "${MAX[@]}")" "${MAX[*]}"
