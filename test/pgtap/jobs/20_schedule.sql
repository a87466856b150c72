-- erp.schedule / erp.unschedule / erp.schedules: pg_cron jobs named
-- pgerp:<name> that enqueue a kind; refusals and their SQLSTATEs.
BEGIN;
\ir ../setup.sql
SELECT plan(36);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('ts_admin', 'admin', :g) AS adm \gset

-- The ids erp.schedule returned, by call.
CREATE TEMP TABLE t_sched (call text PRIMARY KEY, id bigint);
-- Run a schedule's command as pg_cron would: the id of the job it enqueued (NULL without that schedule).
CREATE FUNCTION pg_temp.exec_schedule(p_name text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_cmd text;
    v_id bigint;
BEGIN
    SELECT s.command INTO v_cmd FROM erp.schedules s WHERE s.name = p_name;
    IF v_cmd IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE v_cmd INTO v_id;
    RETURN v_id;
END $$;

SELECT ok(EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'), 'pg_cron is installed in this database');
-- A pg_cron job of the DBA's own, not made by erp.schedule (rolled back with the test).
SELECT cron.schedule('pgerp-audit-seal', '* * * * *', 'SELECT erp.audit_seal()') AS dba_job \gset

-- ============================================================ create
SELECT lives_ok($$INSERT INTO t_sched SELECT 'first', erp.schedule('tj_nightly', '0 3 * * *', 'erp.noop', '{"n": 1}')$$,
                'the superuser schedules a kind');
SELECT results_eq($$SELECT s.id IS NOT NULL AND s.id = c.jobid FROM t_sched s JOIN cron.job c ON c.jobname = 'pgerp:tj_nightly'
                     WHERE s.call = 'first'$$,
                  $$VALUES (true)$$, 'erp.schedule returns the id of the pg_cron job named pgerp:<name>');
SELECT results_eq($$SELECT name, cron, command, active FROM erp.schedules WHERE name = 'tj_nightly'$$,
                  $$VALUES ('tj_nightly'::text, '0 3 * * *'::text, 'SELECT erp.enqueue(''erp.noop'', ''{"n": 1}''::jsonb)'::text, true)$$,
                  'erp.schedules shows it without the prefix, with its cron text and an erp.enqueue command');
SELECT results_eq($$SELECT database::text, username::text FROM cron.job WHERE jobname = 'pgerp:tj_nightly'$$,
                  $$VALUES (current_database()::text COLLATE "default", current_user::text COLLATE "default")$$,
                  'the cron job runs in this database as the superuser who scheduled it');
SELECT coalesce(pg_temp.exec_schedule('tj_nightly'), 0) AS nightly_job \gset
SELECT results_eq(format('SELECT kind, args, status, company_id, enqueued_by FROM erp.job WHERE id = %s', :nightly_job),
                  $$VALUES ('erp.noop'::text, '{"n": 1}'::jsonb, 'queued'::text, 0::bigint, NULL::bigint)$$,
                  'its command enqueues the kind with the arguments, as a system job');
-- the command enqueues only because pg_cron runs it as that superuser (#11.6)
SELECT command AS nightly_cmd FROM erp.schedules WHERE name = 'tj_nightly' \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok(:'nightly_cmd', '42501', 'permission denied: no user is signed in',
                 'the same command run by an application role with nobody signed in is refused (42501)');
RESET ROLE;

-- ============================================================ replace
SELECT lives_ok($$INSERT INTO t_sched SELECT 'second', erp.schedule('tj_nightly', '*/10 * * * *', 'erp.noop', '{"n": 2}')$$,
                'scheduling the same name again succeeds');
SELECT results_eq($$SELECT count(*)::int, min(cron), min(command) FROM erp.schedules WHERE name = 'tj_nightly'$$,
                  $$VALUES (1, '*/10 * * * *'::text, 'SELECT erp.enqueue(''erp.noop'', ''{"n": 2}''::jsonb)'::text)$$,
                  'it replaces the schedule: one row with the new cron text and arguments');
SELECT is((SELECT count(*)::int FROM cron.job WHERE jobname = 'pgerp:tj_nightly'), 1, 'one pg_cron job of that name');
SELECT results_eq($$SELECT a.id = b.id FROM t_sched a, t_sched b WHERE a.call = 'first' AND b.call = 'second'$$,
                  $$VALUES (true)$$, 'the same cron job id is returned');
SELECT lives_ok($$INSERT INTO t_sched SELECT 'hourly', erp.schedule('tj_hourly', '0 * * * *', 'erp.sleep', '{"seconds": 1}')$$,
                'a second schedule');
SELECT results_eq($$SELECT name, cron FROM erp.schedules WHERE name LIKE 'tj\_%' ORDER BY name$$,
                  $$VALUES ('tj_hourly'::text, '0 * * * *'::text), ('tj_nightly', '*/10 * * * *')$$,
                  'erp.schedules lists both');
SELECT ok(EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'pgerp-audit-seal')
          AND NOT EXISTS (SELECT 1 FROM erp.schedules WHERE command LIKE '%audit_seal%'),
          'pg_cron jobs not named pgerp:<name> are not listed');
-- quotes in the arguments cannot break out of the command
SELECT lives_ok($$INSERT INTO t_sched SELECT 'quote', erp.schedule('tj_quote', '0 0 1 * *', 'erp.noop', '{"s": "it''s \"x\"); DROP TABLE t_sched; --"}')$$,
                'arguments with quotes are accepted');
SELECT coalesce(pg_temp.exec_schedule('tj_quote'), 0) AS quote_job \gset
SELECT is((SELECT args FROM erp.job WHERE id = :quote_job),
          '{"s": "it''s \"x\"); DROP TABLE t_sched; --"}'::jsonb,
          'the command enqueues exactly those arguments');

-- ============================================================ refusals
SELECT throws_ok($$SELECT erp.schedule('tj_bad', 'not a cron', 'erp.noop')$$, '22023', 'invalid schedule: not a cron',
                 'an invalid cron text raises pg_cron''s own error (22023)');
SELECT throws_ok($$SELECT erp.schedule('tj_bad', '61 * * * *', 'erp.noop')$$, '22023', 'invalid schedule: 61 * * * *',
                 'minute 61 is refused by pg_cron');
SELECT is((SELECT count(*)::int FROM cron.job WHERE jobname = 'pgerp:tj_bad'), 0, 'no cron job was made for them');
SELECT throws_ok($$SELECT erp.schedule('tj_bad', '* * * * *', 'erp.nope')$$, '22023', 'unknown job kind ''erp.nope''',
                 'an unknown kind is refused (22023)');
SELECT is(pg_temp.error_hint($$SELECT erp.schedule('tj_bad', '* * * * *', 'erp.nope')$$),
          '22023: The kinds are listed in erp.job_kind; erp.register_job_kind() adds one.', 'with a hint');
SELECT throws_ok($$SELECT erp.schedule('tj_bad', '* * * * *', 'erp.noop', '[1]')$$, '22023',
                 'job arguments must be a JSON object', 'non-object arguments are refused (22023)');
SELECT throws_ok($$SELECT erp.schedule('', '* * * * *', 'erp.noop')$$, '22023', 'schedule name must not be empty',
                 'an empty name is refused (22023)');
SELECT throws_ok($$SELECT erp.schedule('   ', '* * * * *', 'erp.noop')$$, '22023', 'schedule name must not be empty',
                 'a blank name is refused');
SELECT throws_ok($$SELECT erp.schedule(NULL, '* * * * *', 'erp.noop')$$, '22023', 'schedule name must not be empty',
                 'a NULL name is refused');

-- ============================================================ not for application roles
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('ts_admin', :g);
SELECT throws_ok($$SELECT erp.schedule('tj_app', '* * * * *', 'erp.noop')$$, '42501', 'permission denied for function schedule',
                 'pgerp_app, even signed in as an ERP admin, cannot schedule (42501)');
SELECT throws_ok($$SELECT erp.unschedule('tj_hourly')$$, '42501', 'permission denied for function unschedule',
                 'nor unschedule (42501)');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is((SELECT count(*)::int FROM cron.job WHERE jobname IN ('pgerp:tj_app', 'pgerp:tj_hourly')), 1,
          'nothing was scheduled and the hourly schedule is still there');

-- ============================================================ unschedule
SELECT lives_ok($$SELECT erp.unschedule('tj_nightly')$$, 'the superuser unschedules by name');
SELECT is((SELECT count(*)::int FROM erp.schedules WHERE name = 'tj_nightly'), 0, 'it is gone from erp.schedules');
SELECT is((SELECT count(*)::int FROM cron.job WHERE jobname = 'pgerp:tj_nightly'), 0, 'and from cron.job');
SELECT results_eq($$SELECT name FROM erp.schedules WHERE name LIKE 'tj\_%' ORDER BY name$$,
                  $$VALUES ('tj_hourly'::text), ('tj_quote')$$, 'the other schedules remain');
SELECT throws_ok($$SELECT erp.unschedule('tj_nightly')$$, '22023', 'no schedule named ''tj_nightly''',
                 'unscheduling it again is refused (22023)');
SELECT throws_ok($$SELECT erp.unschedule(NULL)$$, '22023', 'no schedule named NULL', 'a NULL name is refused');
SELECT throws_ok($$SELECT erp.unschedule('-audit-seal')$$, '22023', 'no schedule named ''-audit-seal''',
                 'a pg_cron job not made by erp.schedule cannot be reached');
SELECT is((SELECT count(*)::int FROM cron.job WHERE jobname = 'pgerp-audit-seal'), 1, 'the audit sealing job is untouched');

SELECT * FROM finish();
ROLLBACK;
