#!/usr/bin/env bash
# Row security cost: the same queries run by the superuser (no row security:
# the baseline) and by pgerp_app signed in as an ERP user (erp.protect()
# policies apply), interleaved in one session of one run, on a throwaway
# cluster in a temporary directory. Prints the median of each side, the ratio
# protected / unprotected (goal: at most 1.3x) and erp.has_permission() calls
# per second. Results and the command that produced them: docs/benchmarks.md.
#
# With the hygiene of #16: no audit seal or pg_cron job during the
# measurement (bench/lib/report.sh), every run printed beside each median,
# ratios truncated to two decimals and held unrounded against the goal, and
# query 1 run again on a copy of half the rows (bench.doc_half, protected
# the same way), with the growth exponent of each side.
#
# It does not build or install: run `make install` (or `make start`) first.
#
#   PGERP_BENCH_ROWS     rows in bench.doc (default 1000000, spread over 10 companies)
#   PGERP_BENCH_REPEAT   timed runs per query and side (default 11; the median is shown)
#   PGERP_BENCH_EXPLAIN  1: also print the plans (EXPLAIN ANALYZE) of both sides
#   PGERP_BENCH_PARALLEL 1: allow parallel query (default: off on both sides)
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

ROWS=${PGERP_BENCH_ROWS:-1000000}
REPEAT=${PGERP_BENCH_REPEAT:-11}
LOOKUPS=10000
CALLS=2000000
GOAL=1.3
[[ $ROWS =~ ^[1-9][0-9]*$ ]] && [ "$ROWS" -ge 10 ] || die "PGERP_BENCH_ROWS must be an integer >= 10"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "PGERP_BENCH_REPEAT must be a positive integer"

SHAREDIR=$("$PGBIN/pg_config" --sharedir)
[ -f "$SHAREDIR/extension/pgerp.control" ] ||
    die "pgerp is not installed in $SHAREDIR/extension: run 'make install' (or 'make start') first"
[ -f "$SHAREDIR/extension/pg_cron.control" ] ||
    die "pg_cron is not installed: run 'make deps' (or 'make start') first"

throwaway_cluster_dirs pgerp-bench

say "throwaway cluster in $DATA on port $PORT"
PGERP_FSYNC=off init_cluster "$DATA" "$SOCK" "$PORT"
# Keep the whole table in shared buffers: a large table otherwise goes through
# a small ring buffer, and the copying from the OS cache would dilute the
# per-row cost of row security on both sides.
printf '%s\n' "shared_buffers = 512MB" "work_mem = 256MB" "${BENCH_QUIET_CONF[@]}" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
start_cluster "$DATA" "$LOG"
setup_database "$SOCK" "$PORT"

export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres PGDATABASE=pgerp
pg() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
bench_quiet

say "loading $ROWS rows over 10 companies"
pg -o /dev/null -v rows="$ROWS" -v lookups="$LOOKUPS" <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO pgerp_app;

-- Bootstrap (superuser, nobody signed in): 10 top-level companies, two users.
SELECT erp.sign_out();
CREATE TABLE bench.company AS
    SELECT n, erp.create_company(format('Bench %s', lpad(n::text, 2, '0'))) AS id
      FROM generate_series(1, 10) n;
SELECT erp.create_user('bench_all', 'bench-all-pass') AS all_user \gset
SELECT erp.create_user('bench_one', 'bench-one-pass') AS one_user \gset
SELECT erp.grant_role(:all_user, 'auditor', c.id) FROM bench.company c;
SELECT erp.grant_role(:one_user, 'auditor', c.id) FROM bench.company c WHERE c.n = 4;
SELECT erp.create_user('bench_gap', 'bench-gap-pass') AS gap_user \gset
SELECT erp.grant_role(:gap_user, 'auditor', c.id) FROM bench.company c WHERE c.n <> 5;

CREATE TABLE bench.doc (
    company_id bigint NOT NULL,
    id bigint,
    amount numeric(12,2),
    note text
);
-- Rows of the 10 companies interleaved, as concurrent activity writes them.
INSERT INTO bench.doc (company_id, id, amount, note)
SELECT c.ids[1 + g % 10], g, round((random() * 10000)::numeric, 2), 'document ' || g
  FROM generate_series(1, :rows) g,
       (SELECT array_agg(id ORDER BY n) AS ids FROM bench.company) c;
ALTER TABLE bench.doc ADD PRIMARY KEY (company_id, id);
CREATE INDEX doc_id_idx ON bench.doc (id);
SELECT erp.protect('bench.doc');
GRANT SELECT ON bench.doc TO pgerp_app;
-- The scaling of query 1: the first half of the same rows, protected alike.
CREATE TABLE bench.doc_half AS SELECT * FROM bench.doc WHERE id <= :rows / 2;
ALTER TABLE bench.doc_half ADD PRIMARY KEY (company_id, id);
SELECT erp.protect('bench.doc_half');
GRANT SELECT ON bench.doc_half TO pgerp_app;

-- Random ids (fixed seed), the same list for both sides.
SELECT setseed(0.42);
CREATE TABLE bench.lookup AS
    SELECT array_agg(1 + floor(random() * :rows)::bigint) AS ids FROM generate_series(1, :lookups);

-- N point lookups through one cached plan, as an application with prepared
-- statements does; returns the sum of the amounts found.
CREATE FUNCTION bench.lookups(p_ids bigint[]) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    v numeric;
    total numeric := 0;
BEGIN
    FOR i IN 1 .. cardinality(p_ids) LOOP
        SELECT d.amount INTO v FROM bench.doc d WHERE d.id = p_ids[i];
        total := total + coalesce(v, 0);
    END LOOP;
    RETURN total;
END $$;
GRANT EXECUTE ON FUNCTION bench.lookups(bigint[]) TO pgerp_app;

-- Runs p_plain as the superuser and p_protected as pgerp_app (the ERP user
-- signed in stays the same), one warm-up each, then p_reps timed runs of each,
-- alternating which side goes first. Both must return the same first row.
CREATE FUNCTION bench.compare(p_plain text, p_protected text, p_reps int, p_arg bigint[],
                              OUT plain_ms float8[], OUT protected_ms float8[], OUT result text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    a record;
    b record;
BEGIN
    EXECUTE p_plain INTO a USING p_arg;
    PERFORM set_config('role', 'pgerp_app', true);
    EXECUTE p_protected INTO b USING p_arg;
    PERFORM set_config('role', 'none', true);
    IF a::text IS DISTINCT FROM b::text THEN
        RAISE EXCEPTION 'the two sides disagree: % (superuser) vs % (protected)', a, b;
    END IF;
    result := a::text;
    FOR r IN 1 .. p_reps LOOP
        FOR side IN 0 .. 1 LOOP
            IF (r + side) % 2 = 0 THEN
                t0 := clock_timestamp();
                EXECUTE p_plain INTO a USING p_arg;
                t1 := clock_timestamp();
                plain_ms := plain_ms || 1000 * extract(epoch FROM t1 - t0)::float8;
            ELSE
                PERFORM set_config('role', 'pgerp_app', true);
                t0 := clock_timestamp();
                EXECUTE p_protected INTO b USING p_arg;
                t1 := clock_timestamp();
                PERFORM set_config('role', 'none', true);
                protected_ms := protected_ms || 1000 * extract(epoch FROM t1 - t0)::float8;
            END IF;
        END LOOP;
    END LOOP;
END $$;

-- The same query on both sides where the protected user sees fewer rows: the
-- results differ by design, so only the timings are compared.
CREATE FUNCTION bench.compare_rows(p_sql text, p_reps int,
                                   OUT plain_ms float8[], OUT protected_ms float8[], OUT result text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    a record;
BEGIN
    EXECUTE p_sql INTO a;
    PERFORM set_config('role', 'pgerp_app', true);
    EXECUTE p_sql INTO a;
    result := a::text;
    PERFORM set_config('role', 'none', true);
    FOR r IN 1 .. p_reps LOOP
        FOR side IN 0 .. 1 LOOP
            IF (r + side) % 2 = 0 THEN
                t0 := clock_timestamp();
                EXECUTE p_sql INTO a;
                plain_ms := plain_ms || 1000 * extract(epoch FROM clock_timestamp() - t0)::float8;
            ELSE
                PERFORM set_config('role', 'pgerp_app', true);
                t0 := clock_timestamp();
                EXECUTE p_sql INTO a;
                protected_ms := protected_ms || 1000 * extract(epoch FROM clock_timestamp() - t0)::float8;
                PERFORM set_config('role', 'none', true);
            END IF;
        END LOOP;
    END LOOP;
END $$;

CREATE TABLE bench.result (
    n numeric PRIMARY KEY,
    query text NOT NULL,
    plain_ms float8[] NOT NULL,
    protected_ms float8[] NOT NULL,
    result text
);
SQL
pg -c "VACUUM (FREEZE, ANALYZE) bench.doc" -c "VACUUM (FREEZE, ANALYZE) bench.doc_half" -c "VACUUM ANALYZE bench.company, bench.lookup"

# Same settings for both sides: no JIT (its compile time would be noise) and,
# unless PGERP_BENCH_PARALLEL=1, no parallel workers.
SETTINGS="SET jit = off;"
[ "${PGERP_BENCH_PARALLEL:-}" = 1 ] || SETTINGS="$SETTINGS SET max_parallel_workers_per_gather = 0;"

if [ "${PGERP_BENCH_EXPLAIN:-}" = 1 ]; then
    say "plans (EXPLAIN ANALYZE; the plan shapes matter, the timings are single runs)"
    pg -v settings="$SETTINGS" <<'SQL'
:settings
SELECT count(*), sum(amount) FROM bench.doc \g /dev/null
SELECT id AS k FROM bench.company WHERE n = 4 \gset
SELECT erp.sign_in('bench_all', 'bench-all-pass') \g /dev/null
\echo '-- 1, superuser'
EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*), sum(amount) FROM bench.doc;
\echo '-- 1, pgerp_app signed in as bench_all (auditor on all 10 companies)'
SET ROLE pgerp_app;
EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*), sum(amount) FROM bench.doc;
RESET ROLE;
\echo '-- 3, superuser'
EXPLAIN (ANALYZE, TIMING OFF) SELECT amount FROM bench.doc WHERE id = 4242;
\echo '-- 3, pgerp_app signed in as bench_all'
SET ROLE pgerp_app;
EXPLAIN (ANALYZE, TIMING OFF) SELECT amount FROM bench.doc WHERE id = 4242;
RESET ROLE;
SELECT erp.sign_in('bench_one', 'bench-one-pass') \g /dev/null
\echo '-- 2 and 2b, superuser'
EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*), sum(amount) FROM bench.doc WHERE company_id = :k;
\echo '-- 2, pgerp_app signed in as bench_one (auditor on one company)'
SET ROLE pgerp_app;
EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*), sum(amount) FROM bench.doc;
\echo '-- 2b, pgerp_app signed in as bench_one, the query names the company'
EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*), sum(amount) FROM bench.doc WHERE company_id = :k;
RESET ROLE;
SQL
fi

say "measuring: $REPEAT runs per query and side, alternating sides"
pg -v reps="$REPEAT" -v rows="$ROWS" -v calls="$CALLS" -v goal="$GOAL" -v settings="$SETTINGS" <<'SQL'
SET client_min_messages = warning;
:settings
SELECT id AS k FROM bench.company WHERE n = 4 \gset

-- 1: a user holding auditor on all 10 companies reads everything.
SELECT erp.sign_in('bench_all', 'bench-all-pass') \g /dev/null
INSERT INTO bench.result
SELECT 1, 'full aggregate, user on 10 of 10 companies', c.*
  FROM bench.compare('SELECT count(*), sum(amount) FROM bench.doc',
                     'SELECT count(*), sum(amount) FROM bench.doc', :reps, NULL) c;

-- 1 at half the rows (the scaling of query 1)
INSERT INTO bench.result
SELECT 1.25, 'full aggregate, user on 10 of 10 companies, half the rows', c.*
  FROM bench.compare('SELECT count(*), sum(amount) FROM bench.doc_half',
                     'SELECT count(*), sum(amount) FROM bench.doc_half', :reps, NULL) c;

-- 1b: a user on 9 of the 10 companies, with a hole: the folded test is a range
-- minus one id; the baseline is the same query as the superuser.
SELECT erp.sign_in('bench_gap', 'bench-gap-pass') \g /dev/null
INSERT INTO bench.result
SELECT 1.5, 'full aggregate, user on 9 of 10 companies (a gap)', c.plain_ms, c.protected_ms, c.result
  FROM bench.compare_rows('SELECT count(*), sum(amount) FROM bench.doc', :reps) c;

-- 2: a user holding auditor on company k only; the baseline filters on k.
-- 2b: the same user, whose query names the company as the baseline's does.
SELECT erp.sign_in('bench_one', 'bench-one-pass') \g /dev/null
INSERT INTO bench.result
SELECT 2, 'one company, user on 1 of 10', c.*
  FROM bench.compare(format('SELECT count(*), sum(amount) FROM bench.doc WHERE company_id = %s', :k),
                     'SELECT count(*), sum(amount) FROM bench.doc', :reps, NULL) c;
INSERT INTO bench.result
SELECT 2.5, 'the same, query has WHERE company_id = k', c.*
  FROM bench.compare(format('SELECT count(*), sum(amount) FROM bench.doc WHERE company_id = %s', :k),
                     format('SELECT count(*), sum(amount) FROM bench.doc WHERE company_id = %s', :k),
                     :reps, NULL) c;

-- 3: point lookups by id through a cached plan, user on all 10 companies.
SELECT erp.sign_in('bench_all', 'bench-all-pass') \g /dev/null
INSERT INTO bench.result
SELECT 3, format('%s point lookups by id', cardinality(l.ids)), c.*
  FROM bench.lookup l,
       bench.compare('SELECT bench.lookups($1)', 'SELECT bench.lookups($1)', :reps, l.ids) c;

-- has_permission: the same scan with a trivial built-in call per row as the
-- baseline (a FILTER clause, so that the call is made for every row).
INSERT INTO bench.result
SELECT 4, 'has_permission', c.*
  FROM bench.compare(format('SELECT count(*) FILTER (WHERE pg_catalog.int4eq(g, g)) FROM generate_series(1, %s) g', :calls),
                     format('SELECT count(*) FILTER (WHERE erp.has_permission(%L)) FROM generate_series(1, %s) g', 'bench.doc:read', :calls),
                     :reps, NULL) c;

CREATE TEMP VIEW summary AS
SELECT r.n, r.query, r.result,
       CASE r.n WHEN 2.5 THEN '2b' WHEN 1.5 THEN '1b' WHEN 1.25 THEN '1h' ELSE r.n::int::text END AS label,
       (SELECT string_agg(to_char(x, 'FM999990.00'), ' ' ORDER BY o) FROM unnest(r.plain_ms) WITH ORDINALITY u(x, o)) AS plain_runs,
       (SELECT string_agg(to_char(x, 'FM999990.00'), ' ' ORDER BY o) FROM unnest(r.protected_ms) WITH ORDINALITY u(x, o)) AS protected_runs,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(r.plain_ms) x) AS plain,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(r.protected_ms) x) AS protected
  FROM bench.result r;

\echo
SELECT format('%s. %s', label, query) AS query,
       to_char(plain, 'FM999990.00') AS "unprotected ms",
       to_char(protected, 'FM999990.00') AS "protected ms",
       to_char(trunc((protected / plain)::numeric, 2), 'FM990.00') || 'x' AS ratio
  FROM summary WHERE n < 4 ORDER BY n;

\echo every run in ms, in the order run (unprotected | protected):
SELECT format('%s. %s | %s', label, plain_runs, protected_runs) FROM summary ORDER BY n \g (format=unaligned tuples_only)

SELECT format('scaling of query 1, %s then %s rows: unprotected %s ms then %s ms, growth n^%s; protected %s ms then %s ms, growth n^%s',
              :rows / 2, :rows, to_char(h.plain, 'FM999990.00'), to_char(f.plain, 'FM999990.00'),
              to_char(ln(f.plain / h.plain) / ln(:rows::float8 / (:rows / 2)), 'FM990.00'),
              to_char(h.protected, 'FM999990.00'), to_char(f.protected, 'FM999990.00'),
              to_char(ln(f.protected / h.protected) / ln(:rows::float8 / (:rows / 2)), 'FM990.00'))
  FROM summary h, summary f WHERE h.n = 1.25 AND f.n = 1 \g (format=unaligned tuples_only)

SELECT format('has_permission: %s calls/s (%s ns per call net of the same loop calling int4eq: %s ms vs %s ms for %s calls)',
              to_char(:calls / ((protected - plain) / 1000), 'FM999,999,999,990'),
              to_char((protected - plain) * 1e6 / :calls, 'FM99990.0'),
              to_char(protected, 'FM999990.0'), to_char(plain, 'FM999990.0'),
              to_char(:calls, 'FM999,999,999'))
  FROM summary WHERE n = 4 \g (format=unaligned tuples_only)

SELECT format('goal, protected at most %sx unprotected (median of %s runs): %s', :'goal', :reps,
              string_agg(format('%s %s (%sx)', label,
                                CASE WHEN protected / plain <= :goal THEN 'met' ELSE 'MISSED' END,
                                to_char(trunc((protected / plain)::numeric, 2), 'FM990.00')), ', ' ORDER BY n))
  FROM summary WHERE n < 4 AND n <> 1.25 \g (format=unaligned tuples_only)
SQL
