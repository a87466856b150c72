#!/usr/bin/env bash
# Job queue benchmark (docs/benchmarks.md), in a throwaway cluster with the
# default 2 job workers:
#  (a) throughput: PGERP_BENCH_JOBS erp.noop jobs enqueued in one transaction,
#      run by the workers, against the same number of claim-and-update pairs
#      (SKIP LOCKED claim, then "done", each its own transaction, as a worker
#      does) run by pgbench in one plain session on a table of the same shape;
#  (b) pickup latency: PGERP_BENCH_PICKUPS jobs enqueued one at a time to an
#      idle pool; started_at - enqueued_at, p50 and p99 (goal: p50 < 50 ms).
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

JOBS=${PGERP_BENCH_JOBS:-20000}
PICKUPS=${PGERP_BENCH_PICKUPS:-300}

bench_cluster "shared_buffers = 256MB" "synchronous_commit = off"
now_ms() { date +%s%3N; }

# the workers are up once both slots show in pg_stat_activity
for _ in $(seq 1 100); do
    [ "$(pg -tAc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'")" = 2 ] && break
    sleep 0.1
done

say "(a) $JOBS noop jobs through 2 workers"
start=$(now_ms)
pg -c "SELECT count(erp.enqueue('erp.noop')) FROM generate_series(1, $JOBS)" -o /dev/null
while [ "$(pg -tAc "SELECT count(*) FROM erp.job WHERE status <> 'done'")" != 0 ]; do sleep 0.05; done
workers_ms=$(( $(now_ms) - start ))

say "(a) the same number of claim-and-update pairs in one plain session"
pg -o /dev/null <<SQL
CREATE TABLE public.q (LIKE erp.job INCLUDING DEFAULTS INCLUDING INDEXES EXCLUDING IDENTITY);
INSERT INTO public.q (company_id, id, kind, args, status, max_attempts, run_as)
SELECT 0, n, 'erp.noop', '{}', 'queued', 3, 'postgres' FROM generate_series(1, $JOBS) n;
VACUUM ANALYZE public.q;
SQL
cat > "$TMP/claim.sql" <<'EOF2'
WITH c AS (SELECT q.company_id, q.id FROM public.q WHERE q.status = 'queued' AND q.run_at <= now()
            ORDER BY q.priority DESC, q.run_at, q.id LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE public.q SET status = 'running', attempts = q.attempts + 1, started_at = clock_timestamp(), worker_pid = pg_backend_pid()
  FROM c WHERE q.company_id = c.company_id AND q.id = c.id RETURNING q.id \gset
UPDATE public.q SET status = 'done', result = jsonb_build_object('job', :id), finished_at = clock_timestamp(), worker_pid = NULL
 WHERE company_id = 0 AND id = :id AND status = 'running';
EOF2
chmod 644 "$TMP/claim.sql"
start=$(now_ms)
"$PGBIN/pgbench" -n -c 1 -t "$JOBS" -f "$TMP/claim.sql" >/dev/null
plain_ms=$(( $(now_ms) - start ))
left=$(pg -tAc "SELECT count(*) FROM public.q WHERE status <> 'done'")
[ "$left" = 0 ] || die "the plain session left $left rows undone"

say "(b) pickup latency of $PICKUPS jobs enqueued one at a time"
first=$(pg -tAc "SELECT coalesce(max(id), 0) FROM erp.job")
for _ in $(seq 1 "$PICKUPS"); do
    pg -c "SELECT erp.enqueue('erp.noop')" -o /dev/null
    sleep 0.02
done
while [ "$(pg -tAc "SELECT count(*) FROM erp.job WHERE id > $first AND status <> 'done'")" != 0 ]; do sleep 0.05; done
read -r p50 p99 max < <(pg -tA -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2)
  FROM (SELECT extract(epoch FROM started_at - enqueued_at) * 1000 AS ms FROM erp.job WHERE id > $first) x")

echo
printf 'noop jobs/s, 2 workers:                   %10.0f  (%d jobs in %d ms)\n' "$(echo "$JOBS * 1000 / $workers_ms" | bc -l)" "$JOBS" "$workers_ms"
printf 'claim+update pairs/s, one plain session:  %10.0f  (%d in %d ms)\n' "$(echo "$JOBS * 1000 / $plain_ms" | bc -l)" "$JOBS" "$plain_ms"
printf 'ratio workers / plain session:            %10.2f\n' "$(echo "$plain_ms / $workers_ms" | bc -l)"
printf 'pickup latency ms: p50 %s, p99 %s, max %s   (goal: p50 < 50)\n' "$p50" "$p99" "$max"
