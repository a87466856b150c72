#!/usr/bin/env bash
# Where a FIFO back-dated receipt spends its time (docs/benchmarks.md, "Back-dated postings"), with
# perf and no instrumentation, in a throwaway cluster: one FIFO product grown to
# PGERP_BENCH_LATER_MOVES (100,000) valued moves as bench/backdate.sh (a) grows it (receipts of 10
# and deliveries of 7, a minute apart, committed every 1,000, analyzed after the first 20,000),
# then `perf record -g` of the backend that posts a receipt dated before all of them and fires
# the commit's deferred checks (SET CONSTRAINTS ALL IMMEDIATE), rolled back. Prints the time and
# the inclusive share of the functions that make it up (foreign-key checks, audit, deferred
# balance check, index inserts, the replay). Needs perf and the right to attach to the backend
# (root). It neither builds nor installs: run 'make install' first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

LATER=${PGERP_BENCH_LATER_MOVES:-100000}
command -v perf >/dev/null || die "perf is not installed"
bench_cluster "shared_buffers = 512MB" "max_wal_size = 4GB" "synchronous_commit = off" "pgerp.housekeeping_interval = 0"
pg -q -c "SELECT cron.unschedule(jobid) FROM cron.job" >/dev/null 2>&1 || true
pg -o /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT erp.sign_out();
SELECT erp.create_company('Bench history') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
CREATE SCHEMA bench;
CREATE TABLE bench.hist AS
    SELECT stock.create_product(:c, 'H-fifo', 'History fifo', 'fifo') AS id, :wh::bigint AS wh,
           date_trunc('minute', now()) - interval '200 days' AS base;
CREATE PROCEDURE bench.grow(p_from int, p_to int) LANGUAGE plpgsql AS $$
DECLARE
    h record;
BEGIN
    SELECT * INTO h FROM bench.hist;
    FOR b IN p_from .. p_to BY 1000 LOOP
        PERFORM count(CASE WHEN n % 2 = 1 THEN stock.receive(h.id, 10, 1 + n % 7, h.wh, NULL, h.base + n * interval '1 minute')
                           ELSE stock.deliver(h.id, 7, h.wh, NULL, h.base + n * interval '1 minute') END)
           FROM generate_series(b, least(b + 999, p_to)) n;
        COMMIT;
    END LOOP;
END $$;
SQL
first=$(( LATER < 20000 ? LATER : 20000 ))
say "growing the history to $LATER moves"
pg -q -c "CALL bench.grow(1, $first)" -c "VACUUM ANALYZE"
[ "$LATER" -le "$first" ] || pg -q -c "CALL bench.grow($((first + 1)), $LATER)" -c "VACUUM ANALYZE"
pg -q -c "CHECKPOINT"

# the posting session: its pid first, then a pause for perf to attach, then the receipt
pidfile=$TMP/backend.pid
chmod 777 "$TMP"
pg -tA > "$TMP/post.out" 2>&1 <<SQL &
\o $pidfile
SELECT pg_backend_pid();
\o
SELECT pg_sleep(2);
BEGIN;
SELECT clock_timestamp() AS t0 \gset
SELECT stock.receive(h.id, 10, 3, h.wh, 'late', h.base - interval '1 day') FROM bench.hist h \g /dev/null
SET CONSTRAINTS ALL IMMEDIATE;
SELECT 'backdated_ms=' || round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1);
SELECT 'corrections=' || count(*) FROM stock.valuation_layer WHERE description LIKE 'Correction (back-dated move %';
ROLLBACK;
SQL
psql_pid=$!
for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
backend=$(tr -dc 0-9 < "$pidfile")
[ -n "$backend" ] || die "the posting session did not start"
perf record -q -g -p "$backend" -o "$TMP/perf.data" >/dev/null 2>&1 &
perf_pid=$!
wait "$psql_pid"
kill -INT "$perf_pid" 2>/dev/null || true
wait "$perf_pid" 2>/dev/null || true
grep -q backdated_ms "$TMP/post.out" || { cat "$TMP/post.out" >&2; die "the back-dated receipt failed"; }
sed -n 's/^backdated_ms=/a back-dated FIFO receipt before '"$LATER"' later moves, with the deferred checks: /p' "$TMP/post.out" | sed 's/$/ ms (under perf)/'
sed -n 's/^corrections=/correction layers written: /p' "$TMP/post.out"

# inclusive shares of the whole (perf report --children), by symbol
perf report -i "$TMP/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
    awk -v OFS='\t' '$1 ~ /%$/ { sym = $NF; for (i = 3; i <= NF; i++) if ($i == "[.]" || $i == "[k]") { sym = $(i + 1); break }
                                share[sym] = $1 }
        END {
            n = split("write_replay:the replay and its writes (all of it)|SPI_execute_snapshot:foreign-key checks|pgerp_audit_trigger:the audit trigger (rows and flush)|pgerp_valuation_journal_balanced:the deferred balance check|ExecInsertIndexTuples:index inserts|plpgsql_exec_trigger:PL/pgSQL row triggers (snapshot staleness)|prepare:reading the history|ReplayRun:the replay in memory", w, "|")
            for (i = 1; i <= n; i++) { split(w[i], kv, ":"); printf "%-8s %s (%s)\n", (kv[1] in share ? share[kv[1]] : "-"), kv[2], kv[1] }
        }'
