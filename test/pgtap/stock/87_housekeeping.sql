-- The idempotency-key purge as a housekeeping chore (#14): pgerp_stock
-- registers stock._housekeeping() in erp.housekeeping_chore; erp._housekeeping()
-- (the first job worker runs it every pgerp.housekeeping_interval) runs each
-- chore when it is due, in a subtransaction of its own, and the purge keeps
-- pgerp.idempotency_key_retention.
BEGIN;
\ir ../setup.sql
SELECT plan(19);
SET LOCAL client_min_messages = error;

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'HK87') AS wh \gset
SELECT stock.create_product(:a, 'HK87-P', 'Kept keys') AS p \gset
SELECT pg_temp.make_user('hk87_mgr', 'stock_manager', :a, false) AS mgr \gset
SELECT pg_temp.login('hk87_mgr');
SELECT stock.receive(:p, 1, 2, :wh, p_idempotency_key => 'hk-old') AS old_move \gset
SELECT stock.receive(:p, 1, 2, :wh, p_idempotency_key => 'hk-mid') \g /dev/null
SELECT stock.receive(:p, 1, 2, :wh, p_idempotency_key => 'hk-new') \g /dev/null
SELECT erp.sign_out();  -- the housekeeper runs with nobody signed in
UPDATE stock.idempotency_key SET created_at = now() - interval '8 days' WHERE company_id = :a AND key = 'hk-old';
UPDATE stock.idempotency_key SET created_at = now() - interval '2 hours' WHERE company_id = :a AND key = 'hk-mid';
-- this transaction owns the chores now: a background housekeeper skips them
UPDATE erp.housekeeping_chore SET last_run_at = NULL;

SELECT is((SELECT every FROM erp.housekeeping_chore WHERE routine = 'stock._housekeeping()'), interval '1 hour',
          'pgerp_stock registers its chore, hourly');
SELECT is(current_setting('pgerp.idempotency_key_retention'), '7d', 'keys are kept 7 days by default');

SELECT erp._housekeeping() AS hk \gset
SELECT is(:'hk'::jsonb #> '{chores,stock._housekeeping()}', '{"idempotency_keys_purged": 1}',
          'the housekeeping runs the chore: the key older than 7 days is purged');
SELECT is((SELECT array_agg(key ORDER BY key) FROM stock.idempotency_key WHERE company_id = :a),
          ARRAY['hk-mid', 'hk-new'], 'the keys younger than the retention stay');
SELECT ok(:'hk'::jsonb ? 'sealed' AND :'hk'::jsonb ? 'signin_events', 'the seal and the sign-in events still run');
SELECT is((SELECT last_result FROM erp.housekeeping_chore WHERE routine = 'stock._housekeeping()'),
          '{"idempotency_keys_purged": 1}', 'the chore''s result is kept');
SELECT is((SELECT last_run_at FROM erp.housekeeping_chore WHERE routine = 'stock._housekeeping()'), now(),
          'and when it ran');
SELECT is(erp._housekeeping() -> 'chores', '{}', 'a chore that ran less than its period ago is not due');

-- a retry of the purged key posts anew
SELECT pg_temp.login('hk87_mgr');
SELECT isnt(stock.receive(:p, 1, 2, :wh, p_idempotency_key => 'hk-old'), :old_move::bigint,
            'a retry after the retention posts anew');

SELECT erp.sign_out();
SET LOCAL pgerp.idempotency_key_retention = '1h';
UPDATE erp.housekeeping_chore SET last_run_at = now() - interval '1 hour';
SELECT is(erp._housekeeping() #> '{chores,stock._housekeeping()}', '{"idempotency_keys_purged": 1}',
          'with a retention of 1 hour the key of 2 hours ago goes, once the chore is due again');
SELECT is((SELECT array_agg(key ORDER BY key) FROM stock.idempotency_key WHERE company_id = :a),
          ARRAY['hk-new', 'hk-old'], 'and only it');
SELECT is(pg_temp.error_message('SET LOCAL pgerp.idempotency_key_retention = ''10s'''),
          '22023: 10 s is outside the valid range for parameter "pgerp.idempotency_key_retention" (60 .. 2147483647)',
          'a retention under a minute is refused');

-- a failing chore leaves its error and keeps the others; a dropped one is skipped
CREATE FUNCTION public.t_hk_fail() RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stock.idempotency_key (company_id, key, routine, args) SELECT min(id), 'never', 'x', '[]' FROM erp.company;
    RAISE EXCEPTION 'chore broke' USING ERRCODE = 'data_exception';
END $$;
INSERT INTO erp.housekeeping_chore (routine, every) VALUES ('public.t_hk_fail()', '0'), ('public.t_hk_gone()', '0');
UPDATE erp.housekeeping_chore SET last_run_at = NULL;
SELECT erp._housekeeping() AS hk \gset
SELECT is(:'hk'::jsonb #> '{chores,public.t_hk_fail()}', '{"error": "chore broke", "sqlstate": "22000"}',
          'a failing chore reports its error');
SELECT is((SELECT count(*) FROM stock.idempotency_key WHERE key = 'never'), 0::bigint,
          'and what it wrote is rolled back');
SELECT is(:'hk'::jsonb #> '{chores,stock._housekeeping()}', '{"idempotency_keys_purged": 0}',
          'the other chores still run');
SELECT is(:'hk'::jsonb #> '{chores,public.t_hk_gone()}', '{"skipped": "no such routine"}',
          'a chore whose routine is gone is skipped');

-- nothing of it is the application's
SELECT ok(NOT has_function_privilege('pgerp_app', 'erp._housekeeping()', 'EXECUTE')
          AND NOT has_function_privilege('pgerp_app', 'erp._run_chore(text)', 'EXECUTE')
          AND NOT has_function_privilege('pgerp_app', 'stock._housekeeping()', 'EXECUTE'),
          'the application role may not run the housekeeping');
SELECT ok(NOT has_table_privilege('pgerp_app', 'erp.housekeeping_chore', 'INSERT')
          AND NOT has_table_privilege('pgerp_app', 'erp.housekeeping_chore', 'SELECT'),
          'nor register or read chores');
SELECT is(erp._run_chore('stock._purge_idempotency_keys(interval)'), '{"skipped": "no such routine"}'::jsonb,
          'a routine that takes arguments is not a chore');

SELECT * FROM finish();
ROLLBACK;
