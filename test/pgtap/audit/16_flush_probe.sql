-- The audit flush finds out whether the ids it took are free by two probes of the log's
-- primary key (src/audit/buffer.c), never through a plan: the kept plan of 0.2.0's first
-- cut, made while the log looked small (no statistics, or a long transaction's own entries),
-- scanned the whole log at every flush, so a transaction of n postings cost O(n^2)
-- (docs/benchmarks.md, "The audit flush's id probe"). The planner is told to avoid index
-- scans from the first statement of the session on: any plan reading erp.audit_log is then a
-- sequential scan, which pg_stat_xact_all_tables counts.
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
BEGIN;
\ir ../setup.sql
SELECT plan(5);

CREATE TABLE public.au16 (id int PRIMARY KEY, company_id bigint, note text);
SELECT erp.audit('public.au16');
CREATE FUNCTION pg_temp.log_seq_scans() RETURNS bigint LANGUAGE sql AS
    $$ SELECT seq_scan FROM pg_catalog.pg_stat_xact_all_tables WHERE relid = 'erp.audit_log'::regclass $$;

SELECT pg_temp.log_seq_scans() AS s0 \gset
INSERT INTO public.au16 VALUES (1, NULL, 'one');
INSERT INTO public.au16 VALUES (2, NULL, 'two');
UPDATE public.au16 SET note = 'three' WHERE id = 2;
DELETE FROM public.au16 WHERE id = 1;
SELECT is(pg_temp.log_seq_scans() - :s0, 0::bigint, 'four flushes read no page of erp.audit_log through a plan');
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE rel = 'public.au16'), 4, '... and wrote their 4 entries');

-- the probes still see a taken id: a lagging sequence (as after a plain restore) is caught up
SELECT max(id) AS top FROM erp.audit_log \gset
SELECT setval(pg_get_serial_sequence('erp.audit_log', 'id'), :top - 1) \g /dev/null
SELECT pg_temp.log_seq_scans() AS s1 \gset
INSERT INTO public.au16 VALUES (3, NULL, 'after the lag');
SELECT is(pg_temp.log_seq_scans() - :s1, 1::bigint,
          'a taken id is found by the probe (the one scan is the catch-up''s max(id))');
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE rel = 'public.au16' AND pk = '{"id": "3"}'), 1,
          'the entry of the row after the lag is written once');
SELECT cmp_ok((SELECT id FROM erp.audit_log WHERE rel = 'public.au16' AND pk = '{"id": "3"}'), '>', :top::bigint,
              '... with an id above every id taken before');

SELECT * FROM finish();
ROLLBACK;
