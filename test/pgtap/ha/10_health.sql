-- #14: erp.health() on the primary of the test cluster: role, timeline, key
-- file, audit seal lateness, stalled jobs, the keys of its answer and the
-- application role's right to call it. Back-dated entries and stalled jobs
-- are made inside this transaction and roll back with it.
BEGIN;
\ir ../setup.sql
SELECT plan(22);

SELECT is(erp.health()->>'role', 'primary', 'the test cluster is a primary');
SELECT cmp_ok((erp.health()->>'timeline')::int, '>=', 1, 'timeline is at least 1');
SELECT is((erp.health()->'key_file'->>'present')::boolean, true, 'the master key file is present and usable');
SELECT is(erp.health()->'key_file'->>'problem', NULL, '... with no problem named');
SELECT is(erp.health()->>'ready', 'true', 'the primary is ready');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(erp.health()) k),
          ARRAY['audit', 'checked_at', 'jobs_stalled', 'key_file', 'ready', 'reasons', 'replica', 'role',
                'standbys', 'status', 'sync_waits', 'timeline', 'workers'],
          'the answer has exactly the documented keys');
SELECT is(jsonb_typeof(erp.health()->'standbys'), 'array', 'standbys is a list (empty without standbys)');
SELECT is(erp.health()->'replica', 'null'::jsonb, 'a primary has no replica lag');
SELECT is((erp.health()->>'sync_waits')::int, 0, 'no commit waits for a synchronous standby');
SELECT is((erp.health()->'workers'->>'expected')::int, current_setting('pgerp.job_workers')::int,
          'the workers of this database are expected on the primary');

-- the audit seal: nothing late right after a seal; an entry from 6 minutes ago is late
SELECT erp.audit_seal() \g /dev/null
SELECT is((erp.health()->'audit'->>'seal_late')::boolean, false, 'after erp.audit_seal() the seal is not late');
SELECT ok((erp.health()->'audit'->>'last_seal_at')::timestamptz BETWEEN now() AND clock_timestamp(),
          'last_seal_at is the time of that seal');
SELECT ok((erp.health()->'audit'->>'last_seal_age_seconds')::numeric BETWEEN 0 AND 60,
          '... and last_seal_age_seconds its age');
INSERT INTO erp.audit_log (db_role, tx, at, rel, op, changes)
VALUES (current_user, pg_current_xact_id(), now() - interval '6 minutes', 'erp.company', 'insert', '{}');
SELECT is((erp.health()->'audit'->>'seal_late')::boolean, true, 'an unsealed entry 6 minutes old makes the seal late');
SELECT cmp_ok((erp.health()->'audit'->>'seal_age_seconds')::numeric, '>=', 360::numeric, '... its age is in seal_age_seconds');
SELECT is(erp.health()->>'status', 'degraded', '... the status is degraded');
SELECT ok(erp.health()->'reasons' ? 'audit seal late', '... and says why');
SELECT is(erp.health()->>'ready', 'true', '... but the node stays ready');

-- a running job past its kind's timeout is stalled; one within it is not
SELECT (erp.health()->>'jobs_stalled')::int AS stalled0 \gset
INSERT INTO erp.job (kind, status, max_attempts, run_as, started_at)
VALUES ('erp.noop', 'running', 1, current_user::regrole, now() - (SELECT timeout FROM erp.job_kind WHERE kind = 'erp.noop') + interval '1 minute');
SELECT is((erp.health()->>'jobs_stalled')::int, :stalled0, 'a running job within its timeout is not stalled');
INSERT INTO erp.job (kind, status, max_attempts, run_as, started_at)
VALUES ('erp.noop', 'running', 1, current_user::regrole, now() - (SELECT timeout FROM erp.job_kind WHERE kind = 'erp.noop') - interval '1 minute');
SELECT is((erp.health()->>'jobs_stalled')::int, :stalled0 + 1, 'a running job past its timeout is stalled');

-- the application role may call it
SET LOCAL ROLE pgerp_app;
SELECT is(erp.health()->>'role', 'primary', 'the application role can call erp.health()');
RESET ROLE;
SELECT ok(has_function_privilege('pgerp_app', 'erp._master_key_file_problem()', 'EXECUTE') = false,
          'the key file check itself is not published');

SELECT * FROM finish();
ROLLBACK;
