-- Jobs enqueued by the application role run as it (#14, found by bench/ha_crash.sh): the mrp
-- job handlers reach every routine they call (mrp._job_arg was not allow-listed, so an MRP run
-- enqueued over HTTP failed when it ran), and a kind whose handler the role may not execute is
-- refused at enqueue (42501) instead of failing later in a worker.
BEGIN;
\ir ../setup.sql
SELECT plan(6);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('aj57_plan', 'mrp_planner', :a, false) AS u \gset
SELECT erp.create_role('aj57_jobs', 'Job priority', ARRAY['erp.job:prioritize']) \g /dev/null
SELECT erp.grant_role(:u, 'aj57_jobs', :a, false) \g /dev/null

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('aj57_plan', :a);
SELECT api.run_mrp(:a, '2026-01-05', 'week', 4) AS j_run \gset
SELECT erp.enqueue('mrp.replenish', jsonb_build_object('company', :a, 'dry_run', true), now(), 1000000000) AS j_rep \gset
SELECT is(pg_temp.error_message($$SELECT erp.enqueue('erp.noop')$$),
          '42501: permission denied for job kind erp.noop',
          'a kind whose handler the application role may not run is refused at enqueue');
SELECT is(pg_temp.error_detail($$SELECT erp.enqueue('erp.sleep', '{"seconds": 1}')$$),
          '42501: The job would run as role pgerp_app, which may not execute its handler erp.sleep_job(bigint,jsonb).',
          'the detail names the role and the handler');
SELECT erp.sign_out() \g /dev/null
RESET ROLE;
UPDATE erp.job SET priority = 1000000000 WHERE id = :j_run;  -- before any other queued job

SELECT is(erp.run_pending(2), 2, 'run_pending runs both jobs');
SELECT results_eq(format('SELECT status, last_error FROM erp.job WHERE id = %s', :j_run),
                  $$VALUES ('done'::text, NULL::text)$$,
                  'an MRP run enqueued through api.run_mrp by the application role is done');
SELECT results_eq(format('SELECT status, result FROM erp.job WHERE id = %s', :j_rep),
                  $$VALUES ('done'::text, '{"failed": 0, "ordered": 0}'::jsonb)$$,
                  'a replenishment enqueued by the application role is done');
SELECT is((SELECT run_as::text FROM erp.job WHERE id = :j_run), 'pgerp_app', 'both ran as the application role');

SELECT * FROM finish();
ROLLBACK;
