-- What an application role may execute is the explicit allow-list
-- erp.app_routine (sql/*/publish.sql), not a naming convention (#11.20).
BEGIN;
\ir ../setup.sql
SELECT plan(6);

SELECT is((SELECT count(*)::int FROM erp.app_routine WHERE pg_catalog.to_regprocedure(routine) IS NULL), 0,
          'every published routine exists (the three extensions are installed)');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1)
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN (SELECT schema_name FROM erp.app_schema)
              AND has_function_privilege('pgerp_app', p.oid, 'EXECUTE')
              AND NOT EXISTS (SELECT 1 FROM erp.app_routine r WHERE to_regprocedure(r.routine) = p.oid)),
          NULL, 'pgerp_app executes nothing that is not on the list');
SELECT is((SELECT count(*)::int FROM erp.app_routine r
            WHERE NOT has_function_privilege('pgerp_app', to_regprocedure(r.routine), 'EXECUTE')), 0,
          'pgerp_app executes everything on the list');
SELECT is((SELECT array_agg(f ORDER BY f) FROM unnest(ARRAY['erp.require_superuser(text)', 'erp.noop_job(bigint,jsonb)',
                                                   'erp.sleep_job(bigint,jsonb)', 'erp.audit(regclass)',
                                                   'erp.register_job_kind(text,regprocedure,interval,integer)']) f
            WHERE has_function_privilege('pgerp_app', f::regprocedure, 'EXECUTE')),
          NULL, 'the superuser check, the test handlers and superuser-only functions are not published');

-- a routine off the list is taken back by the next grant_app_access
GRANT EXECUTE ON FUNCTION erp.noop_job(bigint, jsonb) TO pgerp_app;
SELECT erp.grant_app_access('pgerp_app');
SELECT is(has_function_privilege('pgerp_app', 'erp.noop_job(bigint,jsonb)', 'EXECUTE'), false,
          'grant_app_access revokes what is not on the list');
-- and a line on the list is what publishes
INSERT INTO erp.app_routine VALUES ('erp.noop_job(bigint,jsonb)');
SELECT erp.grant_app_access('pgerp_app');
SELECT is(has_function_privilege('pgerp_app', 'erp.noop_job(bigint,jsonb)', 'EXECUTE'), true,
          'a line on the list publishes the routine');

SELECT * FROM finish();
ROLLBACK;
