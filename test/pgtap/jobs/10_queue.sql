-- The job queue: kinds, enqueue, erp.run_pending (order, who a job runs as,
-- row security in a handler, retries with backoff, rollback of a failed
-- handler), cancel_job, erp.job_status, job_progress and privileges.
-- Nothing here commits, so the background workers never see these jobs: they
-- run in this session through erp.run_pending().
BEGIN;
\ir ../setup.sql
SELECT plan(192);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('tj_amgr', 'stock_manager', :a, false) AS amgr \gset
SELECT pg_temp.make_user('tj_bmgr', 'stock_manager', :b) AS bmgr \gset
SELECT pg_temp.make_user('tj_aud', 'auditor', :a) AS aud \gset
SELECT erp.create_role('tj_job_ops', 'Job operator', ARRAY['erp.job:*']) AS ops_role \gset
SELECT pg_temp.make_user('tj_ops', 'tj_job_ops', :a) AS ops \gset
SELECT pg_temp.make_user('tj_none', NULL, NULL) AS nobody \gset
-- The managers of A and B may also enqueue ahead of others (erp.job:prioritize)
SELECT erp.create_role('tj_job_prio', 'Job priority', ARRAY['erp.job:prioritize']) AS prio_role \gset
SELECT erp.grant_role(:amgr, 'tj_job_prio', :a, false), erp.grant_role(:bmgr, 'tj_job_prio', :b) \g /dev/null
SELECT erp.create_partner(:a, 'tj A one') AS pa1 \gset
SELECT erp.create_partner(:a, 'tj A two') AS pa2 \gset
SELECT erp.create_partner(:b, 'tj B one') AS pb1 \gset
SELECT erp.create_partner(:b, 'tj B two') AS pb2 \gset
SELECT erp.create_partner(:b, 'tj B three') AS pb3 \gset

-- Handlers live in public (a regprocedure in pg_temp would not outlive the
-- session) and vanish with the rollback.
CREATE TABLE public.t_jobs_log (job bigint, note text);
GRANT INSERT, SELECT ON public.t_jobs_log TO pgerp_app;
-- The test kinds erp.noop and erp.sleep are not published to application roles
-- (sql/core/publish.sql): this test grants their handlers, inside its transaction.
GRANT EXECUTE ON FUNCTION erp.noop_job(bigint, jsonb), erp.sleep_job(bigint, jsonb) TO pgerp_app;
-- What the job sees: its partners (row security), identity, role and job id.
CREATE FUNCTION public.t_jobs_partners(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp.job_progress(0.5, 'half way');
    RETURN jsonb_build_object(
        'partners', (SELECT count(*) FROM erp.partner WHERE name LIKE 'tj %'),
        'companies', (SELECT coalesce(jsonb_agg(DISTINCT company_id), '[]') FROM erp.partner WHERE name LIKE 'tj %'),
        'user', erp.current_user_id(), 'company', erp.current_company_id(),
        'role', current_user::text, 'job', erp.current_job_id(), 'arg_job', p_job);
END $$;
-- Writes a row, then fails with division by zero when asked to.
CREATE FUNCTION public.t_jobs_write(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.t_jobs_log VALUES (p_job, p_args->>'note');
    IF p_args ? 'fail' THEN
        PERFORM 1 / (p_args->>'fail')::int;
    END IF;
    RETURN jsonb_build_object('logged', (SELECT count(*) FROM public.t_jobs_log WHERE job = p_job));
END $$;
CREATE FUNCTION public.t_jobs_nested(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp.run_pending();
    RETURN '{}';
END $$;
-- Enqueues a follow-up job (due now, top priority) and returns its id.
CREATE FUNCTION public.t_jobs_chain(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('next', erp.enqueue('t_jobs.partners', '{}', now(), 1000000));
END $$;
-- Wrong signatures.
CREATE FUNCTION public.t_jobs_one_arg(p_job bigint) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION public.t_jobs_text(p_job bigint, p_args jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION public.t_jobs_setof(p_job bigint, p_args jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION public.t_jobs_swapped(p_args jsonb, p_job bigint) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE PROCEDURE public.t_jobs_proc(p_job bigint, p_args jsonb) LANGUAGE sql AS $$ SELECT 1 $$;

-- erp.run_pending(p_max) as text, or the error it raised as 'SQLSTATE: message'
-- (so that a failing call fails one assertion instead of the whole file).
CREATE FUNCTION pg_temp.run(p_max integer DEFAULT 100) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN erp.run_pending(p_max)::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- A job's row as seen by the superuser (row security does not apply).
CREATE FUNCTION pg_temp.job(p_id bigint) RETURNS erp.job LANGUAGE sql AS $$ SELECT * FROM erp.job WHERE id = p_id $$;

-- ============================================================ job kinds
SELECT results_eq(
    $$SELECT kind, handler::text, builtin FROM erp.job_kind WHERE kind IN ('erp.noop', 'erp.sleep', 'erp.reencrypt') ORDER BY kind$$,
    $$VALUES ('erp.noop'::text, 'erp.noop_job(bigint,jsonb)'::text, true),
             ('erp.reencrypt', 'erp.reencrypt_job(bigint,jsonb)', true),
             ('erp.sleep', 'erp.sleep_job(bigint,jsonb)', true)$$,
    'the built-in kinds erp.noop, erp.sleep and erp.reencrypt exist with their handlers');

SELECT lives_ok($$SELECT erp.register_job_kind('t_jobs.partners', 'public.t_jobs_partners(bigint, jsonb)', '5 minutes', 2)$$,
                'the superuser registers a kind with a timeout and max_attempts');
SELECT results_eq($$SELECT handler::text, timeout, max_attempts, builtin FROM erp.job_kind WHERE kind = 't_jobs.partners'$$,
                  $$VALUES ('t_jobs_partners(bigint,jsonb)'::text, interval '5 minutes', 2, false)$$,
                  'the kind is stored with its handler, timeout and max_attempts, not builtin');
SELECT lives_ok($$SELECT erp.register_job_kind('t_jobs.write', 'public.t_jobs_write(bigint, jsonb)')$$,
                'a kind with the default timeout and attempts');
SELECT results_eq($$SELECT timeout, max_attempts FROM erp.job_kind WHERE kind = 't_jobs.write'$$,
                  $$VALUES (interval '1 hour', 3)$$, 'defaults: timeout 1 hour, 3 attempts');
SELECT lives_ok($$SELECT erp.register_job_kind('t_jobs.once', 'public.t_jobs_write(bigint, jsonb)', '1 minute', 1)$$,
                'a kind with a single attempt');
SELECT lives_ok($$SELECT erp.register_job_kind('t_jobs.nested', 'public.t_jobs_nested(bigint, jsonb)')$$,
                'a kind whose handler calls erp.run_pending()');
SELECT results_eq($$SELECT kind, handler::text, max_attempts FROM erp.job_kind WHERE kind IN ('t_jobs.once', 't_jobs.nested') ORDER BY 1$$,
                  $$VALUES ('t_jobs.nested'::text, 't_jobs_nested(bigint,jsonb)'::text, 3), ('t_jobs.once', 't_jobs_write(bigint,jsonb)', 1)$$,
                  'both are stored');
-- The rest of the file needs these kinds even when registering them failed
-- above (then the assertions above already report it).
INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts) VALUES
    ('t_jobs.partners', 'public.t_jobs_partners(bigint, jsonb)', '5 minutes', 2),
    ('t_jobs.write', 'public.t_jobs_write(bigint, jsonb)', '1 hour', 3),
    ('t_jobs.once', 'public.t_jobs_write(bigint, jsonb)', '1 minute', 1),
    ('t_jobs.nested', 'public.t_jobs_nested(bigint, jsonb)', '1 hour', 3),
    ('t_jobs.chain', 'public.t_jobs_chain(bigint, jsonb)', '1 hour', 3)
ON CONFLICT (kind) DO NOTHING;

-- re-registering updates the kind; queued jobs keep the max_attempts they were enqueued with
SELECT erp.enqueue('t_jobs.write', '{"note": "kept"}', now() + interval '1 day') AS j_kept \gset
SELECT lives_ok($$SELECT erp.register_job_kind('t_jobs.write', 'public.t_jobs_partners(bigint, jsonb)', '2 hours', 7)$$,
                're-registering an existing kind succeeds');
SELECT results_eq($$SELECT count(*)::int, min(handler::text), min(timeout), min(max_attempts) FROM erp.job_kind WHERE kind = 't_jobs.write'$$,
                  $$VALUES (1, 't_jobs_partners(bigint,jsonb)'::text, interval '2 hours', 7)$$,
                  're-registering replaces handler, timeout and max_attempts (still one row)');
SELECT is((pg_temp.job(:j_kept)).max_attempts, 3, 'a job enqueued before keeps the max_attempts of its time');
UPDATE erp.job_kind SET handler = 'public.t_jobs_write(bigint, jsonb)', timeout = '1 hour', max_attempts = 3
 WHERE kind = 't_jobs.write';
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :j_kept AND status = 'queued';

SELECT lives_ok($$SELECT erp.register_job_kind('t_jobs.' || repeat('x', 56), 'public.t_jobs_write(bigint, jsonb)', '1 second', 100)$$,
                'a 63-character kind, a 1 second timeout and 100 attempts are accepted');
SELECT lives_ok($$SELECT erp.register_job_kind('_t.x_1', 'public.t_jobs_write(bigint, jsonb)')$$,
                'a kind with underscores and digits is accepted');
SELECT lives_ok($$SELECT erp.register_job_kind('erp.noop', 'erp.noop_job(bigint, jsonb)', '1 minute', 3)$$,
                'a built-in kind can be registered again with its own handler');

SELECT count(*) AS kinds_before FROM erp.job_kind \gset
-- refusals
SELECT throws_ok($$SELECT erp.register_job_kind('nodot', 'public.t_jobs_write(bigint, jsonb)')$$,
                 '22023', 'invalid job kind ''nodot''', 'a kind without a schema part is refused (22023)');
SELECT is(pg_temp.error_detail($$SELECT erp.register_job_kind('nodot', 'public.t_jobs_write(bigint, jsonb)')$$),
          '22023: A kind is <schema>.<name> in lower case, for example mrp.run.', 'the detail explains the form');
SELECT throws_ok($$SELECT erp.register_job_kind('T_jobs.Upper', 'public.t_jobs_write(bigint, jsonb)')$$,
                 '22023', NULL, 'an upper-case kind is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('a.b.c', 'public.t_jobs_write(bigint, jsonb)')$$,
                 '22023', NULL, 'a kind with two dots is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad-name', 'public.t_jobs_write(bigint, jsonb)')$$,
                 '22023', NULL, 'a kind with a hyphen is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.' || repeat('x', 57), 'public.t_jobs_write(bigint, jsonb)')$$,
                 '22023', NULL, 'a 64-character kind is refused');
SELECT throws_ok($$SELECT erp.register_job_kind(NULL, 'public.t_jobs_write(bigint, jsonb)')$$,
                 '22023', 'invalid job kind NULL', 'a NULL kind is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', NULL)$$,
                 '22004', 'handler must not be null', 'a NULL handler is refused (22004)');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_one_arg(bigint)')$$,
                 '42P13', 'job handler public.t_jobs_one_arg(bigint) has the wrong signature',
                 'a handler taking one argument is refused (42P13)');
SELECT is(pg_temp.error_detail($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_one_arg(bigint)')$$),
          '42P13: A handler is a function (p_job bigint, p_args jsonb) RETURNS jsonb.', 'the detail gives the signature');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_text(bigint, jsonb)')$$,
                 '42P13', NULL, 'a handler returning text is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_setof(bigint, jsonb)')$$,
                 '42P13', NULL, 'a handler returning SETOF jsonb is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_swapped(jsonb, bigint)')$$,
                 '42P13', NULL, 'a handler with the arguments swapped is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_proc(bigint, jsonb)')$$,
                 '42P13', NULL, 'a procedure is refused');
SELECT matches(pg_temp.error_detail($$SELECT erp.register_job_kind('t_jobs.ghost', 2147480000::oid::regprocedure)$$),
               '^(42883|42P13):', 'a handler OID naming no function is refused (42883 or 42P13)');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_write(bigint, jsonb)', '0 seconds')$$,
                 '22023', 'job timeout must be positive', 'a zero timeout is refused (22023)');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_write(bigint, jsonb)', '-1 minute')$$,
                 '22023', 'job timeout must be positive', 'a negative timeout is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_write(bigint, jsonb)', NULL)$$,
                 '22023', 'job timeout must be positive', 'a NULL timeout is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_write(bigint, jsonb)', '1 hour', 0)$$,
                 '22023', 'max_attempts must be between 1 and 100', 'max_attempts 0 is refused (22023)');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_write(bigint, jsonb)', '1 hour', 101)$$,
                 '22023', 'max_attempts must be between 1 and 100', 'max_attempts 101 is refused');
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.bad', 'public.t_jobs_write(bigint, jsonb)', '1 hour', NULL)$$,
                 '22023', 'max_attempts must be between 1 and 100', 'a NULL max_attempts is refused');
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT throws_ok($$SELECT erp.register_job_kind('t_jobs.app', 'public.t_jobs_write(bigint, jsonb)')$$,
                 '42501', 'permission denied for function register_job_kind',
                 'pgerp_app cannot register a kind: not published (42501)');
SELECT is((SELECT count(*)::int FROM erp.job_kind WHERE kind IN ('erp.noop', 'erp.sleep', 'erp.reencrypt', 't_jobs.write')), 4,
          'pgerp_app reads erp.job_kind');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is((SELECT count(*) FROM erp.job_kind WHERE kind <> 't_jobs.ghost'), :'kinds_before'::bigint,
          'no kind was written by the refused calls');

-- ============================================================ enqueue
SELECT erp.enqueue('erp.noop') AS j_sys \gset
SELECT results_eq(
    format($$SELECT company_id, kind, args, status, priority, run_at = now(), attempts, max_attempts,
                    enqueued_by, run_as::text, result, started_at, finished_at FROM erp.job WHERE id = %s$$, :j_sys),
    $$VALUES (0::bigint, 'erp.noop'::text, '{}'::jsonb, 'queued'::text, 0, true, 0, 3,
              NULL::bigint, current_user::text COLLATE "default", NULL::jsonb, NULL::timestamptz, NULL::timestamptz)$$,
    'the superuser with nobody signed in: queued, company 0, no user, run as the superuser, defaults');

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('t_jobs.partners', '{"x": 1}', now() + interval '1 hour', 5) AS j_app \gset
SELECT results_eq(
    format($$SELECT company_id, kind, args, status, priority, run_at, max_attempts, enqueued_by, run_as::text
               FROM erp.job WHERE id = %s$$, :j_app),
    format($$VALUES (%s::bigint, 't_jobs.partners'::text, '{"x": 1}'::jsonb, 'queued'::text, 5,
                     now() + interval '1 hour', 2, %s::bigint, 'pgerp_app'::text)$$, :a, :amgr),
    'a user of A under pgerp_app: company A, that user, run as pgerp_app (not the definer), the kind''s max_attempts');
SELECT erp.enqueue('erp.noop', '{}', NULL) AS j_nullrun \gset
SELECT is((SELECT run_at FROM erp.job WHERE id = :j_nullrun), now(), 'a NULL run_at means now');
SELECT throws_ok($$SELECT erp.enqueue('erp.nope')$$, '22023', 'unknown job kind ''erp.nope''',
                 'an unknown kind is refused (22023)');
SELECT is(pg_temp.error_hint($$SELECT erp.enqueue('erp.nope')$$),
          '22023: The kinds are listed in erp.job_kind; erp.register_job_kind() adds one.', 'with a hint');
SELECT throws_ok($$SELECT erp.enqueue(NULL)$$, '22023', 'unknown job kind NULL', 'a NULL kind is refused');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', '[1, 2]')$$, '22023', 'job arguments must be a JSON object',
                 'array arguments are refused (22023)');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', '"text"')$$, '22023', 'job arguments must be a JSON object',
                 'string arguments are refused');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', 'null'::jsonb)$$, '22023', 'job arguments must be a JSON object',
                 'JSON null arguments are refused');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', NULL)$$, '22023', 'job arguments must be a JSON object',
                 'SQL NULL arguments are refused');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', '{}', now(), NULL)$$, '22004', 'priority must not be null',
                 'a NULL priority is refused (22004)');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_none');
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS j_nocomp \gset
SELECT results_eq(format('SELECT company_id, enqueued_by FROM erp.job WHERE id = %s', :j_nocomp),
                  format('VALUES (0::bigint, %s::bigint)', :nobody),
                  'a user with no company selected enqueues into company 0, as that user');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is((SELECT count(*)::int FROM erp.job WHERE enqueued_by = :amgr), 2, 'the refused calls queued nothing');
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :j_sys AND status = 'queued';
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :j_app AND status = 'queued';
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :j_nullrun AND status = 'queued';

-- ============================================================ who may enqueue (#11.6)
SELECT pg_temp.make_user('tj_plain', 'stock_manager', :a) AS plain \gset
SELECT pg_temp.make_user('tj_adm', 'admin', :a) AS adm \gset
-- prioritize on B only, a manager of A
SELECT pg_temp.make_user('tj_prio_b', 'stock_manager', :a) AS prio_b \gset
SELECT erp.grant_role(:prio_b, 'tj_job_prio', :b) \g /dev/null
SELECT count(*) AS jobs_before FROM erp.job \gset

-- the reproduction: a connection that never signed in floods the queue at the top priority
SET LOCAL ROLE pgerp_app;
SELECT erp.sign_out() AS signed_out \gset
SELECT throws_ok($$SELECT erp.enqueue('erp.sleep', '{"seconds": 60}', now(), 2147483647)$$,
                 '42501', 'permission denied: no user is signed in',
                 'pgerp_app with nobody signed in cannot enqueue erp.sleep at priority 2147483647 (42501)');
SELECT is(pg_temp.error_detail($$SELECT erp.enqueue('erp.noop')$$),
          '42501: Jobs are enqueued by a signed-in user or a superuser.', 'nor at priority 0; the detail says who may');
SELECT is(pg_temp.error_hint($$SELECT erp.enqueue('erp.noop')$$),
          '42501: Call erp.sign_in() or erp.use_token() first.', 'the hint says to sign in');
SELECT throws_ok($$SELECT erp.enqueue('erp.nope')$$, '42501', 'permission denied: no user is signed in',
                 'nobody signed in: refused before the kind is looked at');
CREATE FUNCTION pg_temp.flood() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    refused int := 0;
BEGIN
    FOR i IN 1 .. 100 LOOP
        BEGIN
            PERFORM erp.enqueue('erp.sleep', '{"seconds": 3600}', now(), 2147483647);
        EXCEPTION WHEN insufficient_privilege THEN
            refused := refused + 1;
        END;
    END LOOP;
    RETURN refused;
END $$;
SELECT is(pg_temp.flood(), 100, 'the 100 enqueues of the flood are all refused');
RESET ROLE;
SELECT is((SELECT count(*) FROM erp.job), :'jobs_before'::bigint, 'and the queue holds no job more');

-- priority: above 0 needs erp.job:prioritize in the job's company
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_plain', :a);
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', '{}', now(), 1)$$, '42501', 'permission denied for "erp.job:prioritize"',
                 'a manager of A without erp.job:prioritize cannot enqueue at priority 1 (42501)');
SELECT is(pg_temp.error_detail($$SELECT erp.enqueue('erp.sleep', '{}', now(), 2147483647)$$),
          format('42501: Permission "erp.job:prioritize" is required on company %s.', :a),
          'nor at 2147483647; the detail names the permission and the company');
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour', 0) AS p_zero \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour', -5) AS p_neg \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour', -2147483648) AS p_min \gset
SELECT results_eq(format('SELECT priority, enqueued_by FROM erp.job WHERE id IN (%s, %s, %s) ORDER BY id', :p_zero, :p_neg, :p_min),
                  format('VALUES (0, %1$s::bigint), (-5, %1$s), (-2147483648, %1$s)', :plain),
                  'priority 0 and negative priorities (to deprioritize) need no permission');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_adm', :a);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour', 2147483647) AS p_adm \gset
SELECT is((pg_temp.job(:p_adm)).priority, 2147483647, 'an admin of A (*) enqueues at any priority');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_prio_b', :a);
SELECT is(pg_temp.error_detail($$SELECT erp.enqueue('erp.noop', '{}', now(), 10)$$),
          format('42501: Permission "erp.job:prioritize" is required on company %s.', :a),
          'erp.job:prioritize on B does not prioritize a job of A');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_none');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', '{}', now(), 1)$$, '42501', 'permission denied: no company is selected',
                 'with no company selected (a job of company 0) a user cannot prioritize');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT pg_temp.login('tj_plain', :a);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour', 99) AS p_super \gset
SELECT results_eq(format('SELECT priority, enqueued_by, company_id FROM erp.job WHERE id = %s', :p_super),
                  format('VALUES (99, %s::bigint, %s::bigint)', :plain, :a),
                  'a superuser signed in as that user may prioritize');
SELECT erp.sign_out() AS signed_out \gset
SELECT erp.cancel_job(id) FROM erp.job WHERE id IN (:p_zero, :p_neg, :p_min, :p_adm, :p_super);

-- the per-user limit of queued jobs
SELECT pg_temp.make_user('tj_lim', 'stock_manager', :a) AS lim \gset
SELECT pg_temp.make_user('tj_lim2', 'stock_manager', :b) AS lim2 \gset
SELECT is(current_setting('pgerp.job_max_queued_per_user'), '1000', 'pgerp.job_max_queued_per_user is 1000 by default');
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_lim', :a);
SELECT is((SELECT count(erp.enqueue('erp.noop', jsonb_build_object('n', n), now() + interval '1 day'))::int
             FROM generate_series(1, 1000) n), 1000, 'a user enqueues 1000 jobs');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day')$$, '54000', 'too many queued jobs',
                 'the 1001st is refused (54000)');
SELECT is(pg_temp.error_detail($$SELECT erp.enqueue('erp.noop')$$),
          format('54000: The limit is 1000 queued jobs per user (pgerp.job_max_queued_per_user); user %s has 1000.', :lim),
          'the detail gives the count and the limit');
SELECT is(pg_temp.error_hint($$SELECT erp.enqueue('erp.noop')$$),
          '54000: Wait for queued jobs to run, or cancel some with erp.cancel_job().', 'the hint says what to do');
SELECT throws_ok($$SET pgerp.job_max_queued_per_user = 5000$$, '42501', NULL,
                 'an application role cannot raise the limit (42501)');
SELECT is((SELECT count(*)::int FROM erp.job WHERE enqueued_by = :lim AND status = 'queued'), 1000,
          'the user sees their 1000 queued jobs');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_lim2', :b);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS lim2_1 \gset
SELECT ok(:lim2_1 > 0, 'another user is not held by the first one''s jobs');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT pg_temp.login('tj_lim', :a);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS lim_super \gset
SELECT ok(:lim_super > 0, 'a superuser signed in as the user is not limited');
SELECT erp.sign_out() AS signed_out \gset
SELECT erp.cancel_job(id) FROM erp.job WHERE enqueued_by = :lim AND status = 'queued' \g /dev/null
-- a low limit, set by a superuser
SET LOCAL pgerp.job_max_queued_per_user = 3;
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_lim', :a);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS l1 \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS l2 \gset
SELECT erp.enqueue('erp.noop') AS l3 \gset
SELECT is(pg_temp.error_detail($$SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day')$$),
          format('54000: The limit is 3 queued jobs per user (pgerp.job_max_queued_per_user); user %s has 3.', :lim),
          'with the limit set to 3, the 4th queued job is refused (54000, the limit in the detail)');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop', '{}', now(), -100)$$, '54000', 'too many queued jobs',
                 'a low priority does not escape the limit');
SELECT lives_ok(format('SELECT erp.cancel_job(%s)', :l1), 'the user cancels one of their jobs');
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS l4 \gset
SELECT ok(:l4 > 0, 'then there is room for one more');
SELECT throws_ok($$SELECT erp.enqueue('erp.noop')$$, '54000', 'too many queued jobs', 'and for no other');
SELECT is(pg_temp.run(1), '1', 'the user runs their due job');
SELECT is((pg_temp.job(:l3)).status, 'done', 'it is done');
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS l5 \gset
SELECT ok(:l5 > 0, 'done jobs do not count: room again');
SELECT is((SELECT array_agg(status ORDER BY id) FROM erp.job WHERE enqueued_by = :lim AND id >= :l1),
          ARRAY['cancelled', 'queued', 'done', 'queued', 'queued'], 'the user''s jobs: 3 queued, as the limit says');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SET LOCAL pgerp.job_max_queued_per_user = 0;
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_lim2', :b);
SELECT is(pg_temp.error_detail($$SELECT erp.enqueue('erp.noop')$$),
          format('54000: The limit is 0 queued jobs per user (pgerp.job_max_queued_per_user); user %s has 1.', :lim2),
          'limit 0: users enqueue nothing');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT ok(erp.enqueue('erp.noop', '{}', now() + interval '1 day') > 0, 'the superuser is not limited');
SELECT is((SELECT enqueued FROM erp.job_quota WHERE user_id = :lim), 1005::bigint,
          'erp.job_quota counts the user''s enqueues that went through');
RESET pgerp.job_max_queued_per_user;
SELECT erp.cancel_job(id) FROM erp.job WHERE status = 'queued' AND (enqueued_by IN (:lim, :lim2) OR id > :l5) \g /dev/null

-- users see and cancel their own jobs, not other users' jobs
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_plain', :a);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS own_a \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_none');
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 day') AS own_none \gset
SELECT results_eq(format('SELECT id, company_id, status FROM erp.job_status WHERE id IN (%s, %s)', :own_a, :own_none),
                  format($$VALUES (%s::bigint, 0::bigint, 'queued'::text)$$, :own_none),
                  'a user without company sees their own job (company 0) in erp.job_status, not the other user''s');
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :own_a), '22023', format('job %s does not exist', :own_a),
                 'nor cancels it (22023: as if it did not exist)');
SELECT lives_ok(format('SELECT erp.cancel_job(%s)', :own_none), 'and cancels their own');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_plain', :a);
SELECT results_eq(format('SELECT id, status FROM erp.job WHERE id IN (%s, %s)', :own_a, :own_none),
                  format($$VALUES (%s::bigint, 'queued'::text)$$, :own_a),
                  'the manager of A sees their own job in erp.job, not the other user''s');
SELECT lives_ok(format('SELECT erp.cancel_job(%s)', :own_a), 'and cancels it');
SELECT is((SELECT status FROM erp.job_status WHERE id = :own_a), 'cancelled', 'it shows cancelled');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is((pg_temp.job(:own_none)).status, 'cancelled', 'both are cancelled');

-- ============================================================ run_pending: order
-- Run by the superuser with nobody signed in (every due job), with priorities
-- above anything else and an exact p_max.
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('erp.noop', '{}', now() - interval '2 s', 1000000) AS r1 \gset
SELECT erp.enqueue('erp.noop', '{}', now() - interval '1 s', 1000005) AS r2 \gset
SELECT erp.enqueue('erp.noop', '{}', now() - interval '3 s', 1000000) AS r3 \gset
SELECT erp.enqueue('erp.noop', '{}', now() - interval '3 s', 1000000) AS r4 \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour', 1000100) AS r5 \gset
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is(pg_temp.run(1), '1', 'run_pending(1) runs one job');
SELECT results_eq(format('SELECT id, status FROM erp.job WHERE id IN (%s, %s, %s, %s, %s) ORDER BY id', :r1, :r2, :r3, :r4, :r5),
                  format($$VALUES (%s::bigint, 'queued'::text), (%s, 'done'), (%s, 'queued'), (%s, 'queued'), (%s, 'queued')$$,
                         :r1, :r2, :r3, :r4, :r5),
                  'the highest priority ran first');
SELECT is(pg_temp.run(3), '3', 'run_pending(3) runs the 3 other due jobs');
SELECT is((SELECT array_agg(id ORDER BY started_at) FROM erp.job WHERE id IN (:r1, :r2, :r3, :r4)),
          ARRAY[:r2, :r3, :r4, :r1]::bigint[], 'order: priority DESC, then run_at, then id');
SELECT results_eq(format('SELECT status, attempts, started_at IS NOT NULL, run_at FROM erp.job WHERE id = %s', :r5),
                  $$VALUES ('queued'::text, 0, false, now() + interval '1 hour')$$,
                  'a job due in the future is not run, whatever its priority');
SELECT results_eq(
    format($$SELECT result, attempts, last_error, last_sqlstate, worker_pid, finished_at >= started_at
               FROM erp.job WHERE id = %s$$, :r1),
    format($$VALUES ('{"job": %s}'::jsonb, 1, NULL::text, NULL::text, NULL::int, true)$$, :r1),
    'erp.noop is done with result {"job": id}, one attempt, no error');
SELECT results_eq(format('SELECT status, progress FROM erp.job_status WHERE id IN (%s, %s) ORDER BY id', :r1, :r5),
                  $$VALUES ('done'::text, 1::numeric), ('queued', NULL)$$,
                  'erp.job_status: progress 1 for a done job, NULL for a queued one');
SELECT throws_ok('SELECT erp.run_pending(0)', '22023', 'p_max must be positive', 'p_max 0 is refused (22023)');

-- ============================================================ run_pending: only one's own jobs
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('erp.noop') AS r6 \gset
SELECT erp.enqueue('erp.noop', '{}', now(), 7) AS r7 \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_bmgr', :b);
SELECT is(pg_temp.run(), '0', 'another user under pgerp_app runs none of them');
SELECT erp.sign_out() AS signed_out \gset
SELECT is(pg_temp.run(), '0', 'pgerp_app with nobody signed in runs none of them');
RESET ROLE;
SELECT pg_temp.login('tj_amgr', :a);
SELECT is(pg_temp.run(), '0', 'the same user as the superuser role runs none of the jobs enqueued as pgerp_app');
SELECT erp.sign_out() AS signed_out \gset
SELECT is((SELECT array_agg(status ORDER BY id) FROM erp.job WHERE id IN (:r6, :r7)), ARRAY['queued', 'queued'],
          'both jobs are still queued');
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT is(pg_temp.run(), '2', 'the user under pgerp_app runs their own 2 due jobs');
SELECT is((SELECT array_agg(id ORDER BY started_at) FROM erp.job WHERE id IN (:r6, :r7) AND status = 'done'),
          ARRAY[:r7, :r6]::bigint[], 'both are done, the higher priority first');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT erp.cancel_job(id) FROM erp.job WHERE id IN (:r6, :r7) AND status = 'queued';

-- ============================================================ run as the enqueuer, row security
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('erp.sleep', '{"seconds": 0.05}', now(), 1000000) AS s1 \gset
SELECT erp.enqueue('t_jobs.partners', '{}', now(), 1000000) AS pj_a \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_bmgr', :b);
SELECT erp.enqueue('t_jobs.partners', '{}', now(), 1000000) AS pj_b \gset
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT erp.enqueue('t_jobs.partners', '{}', now(), 1000000) AS pj_sys \gset
SELECT is(pg_temp.run(4), '4', 'the superuser with nobody signed in runs every due job (the four of this test)');
SELECT results_eq(format('SELECT status, result FROM erp.job WHERE id = %s', :s1),
                  format($$VALUES ('done'::text, '{"slept": 0.05, "user": %s, "role": "pgerp_app"}'::jsonb)$$, :amgr),
                  'erp.sleep ran as the user and role that enqueued it');
SELECT results_eq(format('SELECT status, result FROM erp.job WHERE id = %s', :pj_a),
                  format($$VALUES ('done'::text, '{"partners": 2, "companies": [%s], "user": %s, "company": %s,
                                               "role": "pgerp_app", "job": %s, "arg_job": %s}'::jsonb)$$,
                         :a, :amgr, :a, :pj_a, :pj_a),
                  'a handler of a user of A sees the 2 partners of A only (row security), in company A, with current_job_id');
SELECT results_eq(format('SELECT status, result FROM erp.job WHERE id = %s', :pj_b),
                  format($$VALUES ('done'::text, '{"partners": 3, "companies": [%s], "user": %s, "company": %s,
                                               "role": "pgerp_app", "job": %s, "arg_job": %s}'::jsonb)$$,
                         :b, :bmgr, :b, :pj_b, :pj_b),
                  'in the same run, the job of a user of B sees the 3 partners of B only');
SELECT results_eq(format($$SELECT result->'partners', result->'user', result->'company', result->>'role'
                            FROM erp.job WHERE id = %s$$, :pj_sys),
                  $$VALUES ('5'::jsonb, 'null'::jsonb, 'null'::jsonb, current_user::text COLLATE "default")$$,
                  'a job of the superuser (company 0) sees every partner, with no user and no company selected');
SELECT results_eq($$SELECT erp.current_user_id(), erp.current_company_id(), current_user::text COLLATE "default", erp.current_job_id()$$,
                  $$VALUES (NULL::bigint, NULL::bigint, 'postgres'::text, NULL::bigint)$$,
                  'after run_pending the session is back to nobody, as the superuser, outside any job');

-- a job enqueued by a handler runs as the handler's role and user, not as
-- whoever runs the queue (here the superuser)
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('t_jobs.chain', '{}', now(), 1000000) AS ch1 \gset
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is(pg_temp.run(1), '1', 'the superuser runs a job of a user whose handler enqueues another job');
SELECT coalesce((SELECT (result->>'next')::bigint FROM erp.job WHERE id = :ch1 AND status = 'done'), 0) AS ch2 \gset
SELECT results_eq(format('SELECT company_id, enqueued_by, run_as::text FROM erp.job WHERE id = %s', :ch2),
                  format($$VALUES (%s::bigint, %s::bigint, 'pgerp_app'::text)$$, :a, :amgr),
                  'the job enqueued by the handler has the company, user and role of the handler (pgerp_app), not the superuser''s');
SELECT is(pg_temp.run(1), '1', 'the follow-up job runs');
SELECT is((SELECT result->'partners' FROM erp.job WHERE id = :ch2), '2'::jsonb,
          'and, like its parent, sees only the 2 partners of A');

-- the user runs their own job under pgerp_app
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('t_jobs.partners') AS pj_a2 \gset
SELECT is(pg_temp.run(), '1', 'a user runs their own due job');
SELECT is((SELECT result - 'job' - 'arg_job' FROM erp.job WHERE id = :pj_a2),
          format('{"partners": 2, "companies": [%s], "user": %s, "company": %s, "role": "pgerp_app"}', :a, :amgr, :a)::jsonb,
          'run by the user: the same row security and identity');
SELECT results_eq($$SELECT erp.current_user_id(), erp.current_company_id(), current_user::text COLLATE "default"$$,
                  format($$VALUES (%s::bigint, %s::bigint, 'pgerp_app'::text)$$, :amgr, :a),
                  'the user is still signed in afterwards');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :pj_a2 AND status = 'queued';

-- ============================================================ failures and retries
SELECT current_setting('pgerp.job_retry_base')::interval AS base \gset
SELECT erp.enqueue('erp.sleep', '{"fail": "boom"}', now(), 1000000) AS f1 \gset
SELECT is(pg_temp.run(1), '1', 'a failing job counts as run');
SELECT results_eq(format($$SELECT status, attempts, last_error, last_sqlstate, result, finished_at, started_at IS NOT NULL
                            FROM erp.job WHERE id = %s$$, :f1),
                  $$VALUES ('queued'::text, 1, 'boom'::text, 'P0001'::text, NULL::jsonb, NULL::timestamptz, true)$$,
                  'after a failure: queued again, 1 attempt, the error and its SQLSTATE kept');
SELECT ok((SELECT run_at BETWEEN clock_timestamp() + :'base'::interval - interval '3 s'
                             AND clock_timestamp() + :'base'::interval FROM erp.job WHERE id = :f1),
          'the first retry is due pgerp.job_retry_base from the failure');
SELECT is(pg_temp.run(1), '0', 'a job waiting for its retry is not run');
SELECT is((pg_temp.job(:f1)).attempts, 1, 'still 1 attempt');
UPDATE erp.job SET run_at = now() - interval '1 s' WHERE id = :f1;
SELECT is(pg_temp.run(1), '1', 'the retry runs once due');
SELECT results_eq(format('SELECT status, attempts, last_error FROM erp.job WHERE id = %s', :f1),
                  $$VALUES ('queued'::text, 2, 'boom'::text)$$, 'second failure: queued, 2 attempts');
SELECT ok((SELECT run_at BETWEEN clock_timestamp() + 2 * :'base'::interval - interval '3 s'
                             AND clock_timestamp() + 2 * :'base'::interval FROM erp.job WHERE id = :f1),
          'the second retry waits twice as long');
UPDATE erp.job SET run_at = now() - interval '1 s' WHERE id = :f1;
SELECT is(pg_temp.run(1), '1', 'the third attempt runs');
SELECT results_eq(format($$SELECT status, attempts, last_error, last_sqlstate, finished_at IS NOT NULL
                            FROM erp.job WHERE id = %s$$, :f1),
                  $$VALUES ('failed'::text, 3, 'boom'::text, 'P0001'::text, true)$$,
                  'after max_attempts (3): failed, finished_at set');
UPDATE erp.job SET run_at = now() - interval '1 s' WHERE id = :f1;
SELECT is(pg_temp.run(1), '0', 'a failed job is not run again');
SELECT results_eq(format('SELECT status, attempts, progress FROM erp.job_status WHERE id = %s', :f1),
                  $$VALUES ('failed'::text, 3, NULL::numeric)$$, 'erp.job_status: failed, no progress');

-- a handler's writes are rolled back when it fails, kept when it succeeds
SELECT erp.enqueue('t_jobs.write', '{"note": "bad", "fail": 0}', now(), 1000000) AS w_bad \gset
SELECT erp.enqueue('t_jobs.write', '{"note": "good"}', now(), 999999) AS w_good \gset
SELECT is(pg_temp.run(2), '2', 'both write jobs ran');
SELECT results_eq(format('SELECT status, attempts, last_error, last_sqlstate FROM erp.job WHERE id = %s', :w_bad),
                  $$VALUES ('queued'::text, 1, 'division by zero'::text, '22012'::text)$$,
                  'the failing handler: queued for a retry, its error kept');
SELECT is((SELECT count(*)::int FROM public.t_jobs_log WHERE job = :w_bad), 0, 'the row the failing handler wrote is gone');
SELECT results_eq(format('SELECT status, result FROM erp.job WHERE id = %s', :w_good),
                  $$VALUES ('done'::text, '{"logged": 1}'::jsonb)$$, 'the succeeding handler is done');
SELECT results_eq(format('SELECT note FROM public.t_jobs_log WHERE job = %s', :w_good), $$VALUES ('good'::text)$$,
                  'and its row is kept');
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :w_bad AND status = 'queued';

-- a kind with one attempt fails at once
SELECT erp.enqueue('t_jobs.once', '{"note": "once", "fail": 0}', now(), 1000000) AS w_once \gset
SELECT is(pg_temp.run(1), '1', 'the one-attempt job ran');
SELECT results_eq(format('SELECT status, attempts, max_attempts, finished_at IS NOT NULL FROM erp.job WHERE id = %s', :w_once),
                  $$VALUES ('failed'::text, 1, 1, true)$$, 'max_attempts 1: failed after the first failure');

-- run_pending inside a job
SELECT erp.enqueue('t_jobs.nested', '{}', now(), 1000000) AS n1 \gset
SELECT is(pg_temp.run(1), '1', 'the nested job ran');
SELECT results_eq(format('SELECT status, last_error, last_sqlstate FROM erp.job WHERE id = %s', :n1),
                  $$VALUES ('queued'::text, 'erp.run_pending() cannot run inside a job'::text, '55000'::text)$$,
                  'erp.run_pending() inside a handler fails with 55000');
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :n1 AND status = 'queued';

-- the identity is restored after the failure of a job enqueued by a user
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('erp.sleep', '{"fail": "user boom"}', now(), 1000000) AS fu \gset
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is(pg_temp.run(1), '1', 'the superuser runs the failing job of a user');
SELECT results_eq(format('SELECT status, attempts, last_error FROM erp.job WHERE id = %s', :fu),
                  $$VALUES ('queued'::text, 1, 'user boom'::text)$$, 'it failed and is queued for a retry');
SELECT results_eq($$SELECT erp.current_user_id(), erp.current_company_id(), current_user::text COLLATE "default", erp.current_job_id()$$,
                  $$VALUES (NULL::bigint, NULL::bigint, 'postgres'::text, NULL::bigint)$$,
                  'after the failure the session is back to nobody, as the superuser');
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :fu AND status = 'queued';

-- a job of a deactivated user does not run as them
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_none');
SELECT erp.enqueue('erp.noop') AS du \gset
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
-- (a user without company may not prioritize: the test moves it ahead)
UPDATE erp.job SET priority = 1000000 WHERE id = :du;
UPDATE erp.app_user SET active = false WHERE id = :nobody;
SELECT is(pg_temp.run(1), '1', 'the job of a deactivated user is taken');
SELECT results_eq(format('SELECT status, attempts, last_error, last_sqlstate, result FROM erp.job WHERE id = %s', :du),
                  format($$VALUES ('queued'::text, 1, 'the user who enqueued job %s is deactivated or gone'::text,
                                   '42501'::text, NULL::jsonb)$$, :du),
                  'but fails with 42501 without running the handler');
SELECT erp.cancel_job(id) FROM erp.job WHERE id = :du AND status = 'queued';
UPDATE erp.app_user SET active = true WHERE id = :nobody;

-- ============================================================ cancel_job
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('erp.noop') AS c1 \gset
SELECT erp.enqueue('erp.noop') AS c2 \gset
SELECT erp.enqueue('erp.noop') AS c3 \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS c_anon \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_bmgr', :b);
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c1), '22023', format('job %s does not exist', :c1),
                 'a user of B cannot see, hence cancel, a job of A (22023)');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_aud', :a);
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c1), '42501', format('permission denied to cancel job %s', :c1),
                 'an auditor of A (erp.job:read, no erp.job:cancel) is refused (42501)');
SELECT is(pg_temp.error_detail(format('SELECT erp.cancel_job(%s)', :c1)),
          '42501: Jobs are cancelled by who enqueued them, or with erp.job:cancel on their company.',
          'the detail says who may cancel');
SELECT erp.sign_out() AS signed_out \gset
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c_anon), '22023', format('job %s does not exist', :c_anon),
                 'nobody signed in under pgerp_app cannot cancel a user''s job (22023)');
SELECT pg_temp.login('tj_ops', :a);
SELECT lives_ok(format('SELECT erp.cancel_job(%s)', :c2), 'a user with erp.job:cancel on A cancels a job of another user of A');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_amgr', :a);
SELECT lives_ok(format('SELECT erp.cancel_job(%s)', :c1), 'the enqueuer cancels their own job');
SELECT results_eq(format($$SELECT id, status, attempts, finished_at IS NOT NULL FROM erp.job WHERE id IN (%s, %s, %s) ORDER BY id$$,
                         :c1, :c2, :c3),
                  format($$VALUES (%s::bigint, 'cancelled'::text, 0, true), (%s, 'cancelled', 0, true), (%s, 'queued', 0, false)$$,
                         :c1, :c2, :c3),
                  'the two cancelled jobs are cancelled with finished_at; the refused calls changed nothing');
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c1), '55000', format('job %s has already ended (cancelled)', :c1),
                 'cancelling a cancelled job is refused (55000)');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is(pg_temp.run(10), '1', 'run_pending (everything due) runs only the job not cancelled');
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT is((SELECT array_agg(status ORDER BY id) FROM erp.job WHERE id IN (:c1, :c2, :c3)),
          ARRAY['cancelled', 'cancelled', 'done'], 'the cancelled jobs were not run');
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c3), '55000', format('job %s has already ended (done)', :c3),
                 'cancelling a done job is refused (55000)');
SELECT throws_ok('SELECT erp.cancel_job(-1)', '22023', 'job -1 does not exist', 'an unknown job id is refused (22023)');
SELECT throws_ok('SELECT erp.cancel_job(NULL)', '22023', 'job NULL does not exist', 'a NULL job id is refused');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT is((pg_temp.job(:c_anon)).status, 'queued', 'the job nobody could cancel is still queued');
-- jobs without a user (the superuser's, pg_cron's) are not anybody's to cancel
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS c_sys1 \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS c_sys2 \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS c_sys3 \gset
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS c_sys4 \gset
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c_sys1), '22023', format('job %s does not exist', :c_sys1),
                 'a signed-in user cannot cancel a system job (company 0, no user) (22023)');
SELECT erp.sign_out() AS signed_out \gset
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c_sys2), '22023', format('job %s does not exist', :c_sys2),
                 'nobody signed in under pgerp_app cannot cancel a system job (22023)');
RESET ROLE;
SELECT pg_temp.login('tj_amgr', :a);
SELECT throws_ok(format('SELECT erp.cancel_job(%s)', :c_sys3), '22023', format('job %s does not exist', :c_sys3),
                 'nor a signed-in user as the superuser role');
SELECT erp.sign_out() AS signed_out \gset
SELECT is((SELECT array_agg(status ORDER BY id) FROM erp.job WHERE id IN (:c_sys1, :c_sys2, :c_sys3)),
          ARRAY['queued', 'queued', 'queued'], 'the system jobs are still queued');
SELECT lives_ok(format('SELECT erp.cancel_job(%s)', :c_sys4), 'the superuser with nobody signed in cancels a system job');
SELECT is((pg_temp.job(:c_sys4)).status, 'cancelled', 'and it is cancelled');

-- ============================================================ erp.job_status
SELECT is((SELECT array_agg(column_name::text ORDER BY ordinal_position) FROM information_schema.columns
            WHERE table_schema = 'erp' AND table_name = 'job_status'),
          ARRAY['company_id', 'id', 'kind', 'status', 'priority', 'run_at', 'attempts', 'max_attempts', 'progress',
                'progress_note', 'progress_at', 'last_error', 'last_sqlstate', 'result', 'args', 'enqueued_by', 'run_as',
                'enqueued_at', 'started_at', 'finished_at', 'worker_pid'],
          'erp.job_status has its columns');
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS v_a \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_bmgr', :b);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS v_b \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_ops', :a1);
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS v_a1 \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_none');
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS v_none \gset
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;
SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour') AS v_sys \gset
SELECT format('SELECT id FROM erp.job_status WHERE id IN (%s, %s, %s, %s, %s)', :v_a, :v_b, :v_a1, :v_none, :v_sys) AS vq \gset
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_amgr', :a);
SELECT set_eq(:'vq', ARRAY[:v_a]::bigint[], 'a manager of A sees only their own job (no erp.job:read)');
SELECT results_eq(format('SELECT kind, status, enqueued_by FROM erp.job_status WHERE id = %s', :v_a),
                  format($$VALUES ('erp.noop'::text, 'queued'::text, %s::bigint)$$, :amgr), 'with its fields');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_bmgr', :b);
SELECT set_eq(:'vq', ARRAY[:v_b]::bigint[], 'a manager of B sees only their own job');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_aud', :a);
SELECT set_eq(:'vq', ARRAY[:v_a, :v_a1]::bigint[], 'an auditor of A (and children) sees the jobs of A and A1, not of B or company 0');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_ops', :a);
SELECT set_eq(:'vq', ARRAY[:v_a, :v_a1]::bigint[], 'a user with erp.job:* on A sees the jobs of A and A1');
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('tj_none');
SELECT set_eq(:'vq', ARRAY[:v_none]::bigint[], 'a user without roles sees their own job of company 0 only');
SELECT erp.sign_out() AS signed_out \gset
SELECT is((SELECT count(*)::int FROM erp.job_status WHERE id IN (:v_a, :v_b, :v_a1, :v_none, :v_sys)), 0,
          'nobody signed in sees none');
SELECT is((SELECT count(*)::int FROM erp.job WHERE id IN (:v_a, :v_b, :v_a1, :v_none, :v_sys)), 0,
          'nor in erp.job');
RESET ROLE;

-- ============================================================ progress outside a job
SELECT is(erp.current_job_id(), NULL::bigint, 'erp.current_job_id() is NULL outside a job');
SELECT throws_ok('SELECT erp.job_progress(0.5)', '55000', 'no job is running in this session',
                 'erp.job_progress outside a job (55000)');
SELECT is(pg_temp.error_hint('SELECT erp.job_progress(0.5, ''note'')'),
          '55000: Call erp.job_progress() from a job handler.', 'with a hint');
SELECT throws_ok('SELECT erp.job_progress(1.5)', '22023', 'progress must be between 0 and 1', 'progress above 1 (22023)');
SELECT throws_ok('SELECT erp.job_progress(-0.01)', '22023', 'progress must be between 0 and 1', 'negative progress (22023)');
SELECT throws_ok('SELECT erp.job_progress(''NaN'')', '22023', 'progress must be between 0 and 1', 'NaN progress (22023)');
SELECT throws_ok('SELECT erp.job_progress(NULL)', '22004', 'progress must not be null', 'NULL progress (22004)');

-- ============================================================ privileges
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('tj_ops', :a);
SELECT throws_ok(format($$INSERT INTO erp.job (company_id, kind, max_attempts, run_as, enqueued_by)
                          VALUES (%s, 'erp.noop', 3, 'pgerp_app', %s)$$, :a, :ops),
                 '42501', 'permission denied for table job', 'pgerp_app cannot INSERT into erp.job');
SELECT throws_ok(format($$UPDATE erp.job SET status = 'done' WHERE id = %s$$, :c2),
                 '42501', 'permission denied for table job', 'pgerp_app cannot UPDATE erp.job');
SELECT throws_ok(format($$DELETE FROM erp.job WHERE id = %s$$, :c2),
                 '42501', 'permission denied for table job', 'pgerp_app cannot DELETE from erp.job');
SELECT throws_ok($$INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts)
                   VALUES ('t_jobs.sneak', 'public.t_jobs_write(bigint, jsonb)', '1 hour', 3)$$,
                 '42501', 'permission denied for table job_kind', 'pgerp_app cannot INSERT into erp.job_kind');
SELECT throws_ok($$UPDATE erp.job_kind SET handler = 'public.t_jobs_write(bigint, jsonb)' WHERE kind = 'erp.noop'$$,
                 '42501', 'permission denied for table job_kind', 'pgerp_app cannot UPDATE erp.job_kind');
SELECT erp.sign_out() AS signed_out \gset
RESET ROLE;

-- a job of a role that is no superuser, with nobody signed in (erp.enqueue
-- refuses it now; a 0.1.0 queue may still hold one), is not run: it would
-- run as nobody, or with the bootstrap rights of whoever runs the queue
CREATE FUNCTION public.t_jobs_try_company(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp.create_company('Sneaky Co');
    RETURN '{"created": true}';
EXCEPTION WHEN insufficient_privilege THEN
    RETURN jsonb_build_object('created', false, 'sqlstate', SQLSTATE);
END $$;
GRANT EXECUTE ON FUNCTION public.t_jobs_try_company(bigint, jsonb) TO pgerp_app;
INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts)
VALUES ('t_jobs.try_company', 'public.t_jobs_try_company(bigint, jsonb)', '1 minute', 1);
INSERT INTO erp.job (kind, priority, max_attempts, run_as) VALUES ('t_jobs.try_company', 2000000000, 1, 'pgerp_app')
RETURNING id AS sneaky \gset
SELECT is(pg_temp.run(1), '1', 'the superuser takes the job of pgerp_app with nobody signed in');
SELECT results_eq(format('SELECT status, attempts, last_sqlstate, last_error, result FROM erp.job WHERE id = %s', :sneaky),
                  format($$VALUES ('failed'::text, 1, '42501'::text, 'job %s was enqueued with nobody signed in'::text, NULL::jsonb)$$,
                         :sneaky),
                  'but fails it with 42501 without running the handler');
SELECT is((SELECT count(*)::int FROM erp.company WHERE name = 'Sneaky Co'), 0, 'nothing was created');

-- retention
UPDATE erp.job SET finished_at = now() - interval '40 days' WHERE id = :sneaky;
SELECT is(erp.purge_jobs(now() - interval '30 days') >= 1, true, 'purge_jobs deletes ended jobs finished before the cut-off');
SELECT is((SELECT count(*)::int FROM erp.job WHERE id = :sneaky), 0, 'the old job is gone');
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT erp.purge_jobs(now())$$, '42501', 'permission denied for function purge_jobs',
                 'only a superuser purges jobs: purge_jobs is not published (42501)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
