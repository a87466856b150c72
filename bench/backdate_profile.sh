#!/usr/bin/env bash
# Where a back-dated FIFO receipt's time goes (#15, docs/benchmarks.md "Where the time goes"):
# a throwaway cluster with auto_explain, one FIFO product with PGERP_BENCH_LATER_MOVES (8000)
# valued moves (receipts of 10 and deliveries of 7, a minute apart from 200 days ago, committed
# every 1,000), VACUUM ANALYZE, then one receipt dated before all of them inside a rolled-back
# transaction with auto_explain on for its nested statements (analyze, timing, buffers,
# triggers). Prints each statement's time and its row triggers' times, slowest first.
# The instrumentation roughly doubles the time: compare the shares, not the totals.
# It neither builds nor installs: run 'make install' first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
LATER=${PGERP_BENCH_LATER_MOVES:-8000}
bench_cluster "shared_preload_libraries = 'pg_cron,pgerp,auto_explain'" "auto_explain.log_min_duration = -1" "auto_explain.log_nested_statements = on" "auto_explain.log_analyze = on" "auto_explain.log_buffers = on" "auto_explain.log_timing = on" "auto_explain.log_triggers = on" "shared_buffers = 512MB" "synchronous_commit = off" "pgerp.housekeeping_interval = 0"
pg -q -v later="$LATER" <<'SQL'
SET client_min_messages = warning;
SELECT erp.create_company('U') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
SELECT stock.create_product(:c, 'F', 'F', 'fifo', 1) AS p \gset
CREATE PROCEDURE pg_temp.grow(p bigint, wh bigint, n int) LANGUAGE plpgsql AS $$
DECLARE base timestamptz := now() - interval '200 days';
BEGIN
  FOR g IN 1 .. n LOOP
    IF g % 2 = 1 THEN PERFORM stock.receive(p, 10, 1 + g % 7, wh, 'r', base + g * interval '1 minute');
    ELSE PERFORM stock.deliver(p, 7, wh, 'd', base + g * interval '1 minute'); END IF;
    IF g % 1000 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
CALL pg_temp.grow(:p, :wh, :later);
VACUUM ANALYZE;
BEGIN;
SELECT clock_timestamp() AS t0 \gset
SET LOCAL auto_explain.log_min_duration = 0;
SELECT stock.receive(:p, 10, 5, :wh, 'late', now() - interval '201 days');
RESET auto_explain.log_min_duration;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000) AS ms;
ROLLBACK;
SQL

python3 - "$LOG" <<'PY'
import re, sys
log = open(sys.argv[1]).read()
rows = []
for p in re.split(r'\n(?=\S.*LOG:  duration: )', log):
    m = re.search(r'duration: ([0-9.]+) ms', p)
    if not m:
        continue
    q = re.search(r'Query Text: (.*)', p)
    rows.append((float(m.group(1)), q.group(1)[:120] if q else '?', re.findall(r'Trigger (.*?): time=([0-9.]+) calls=(\d+)', p)))
for d, q, trig in sorted(rows, key=lambda r: -r[0])[:10]:
    print(f"{d:9.1f} ms  {q}")
    for name, t, c in sorted(trig, key=lambda x: -float(x[1]))[:6]:
        print(f"             trigger {name}: {t} ms, {c} calls")
PY
