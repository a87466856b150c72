-- Row security between companies as the application role: partners, companies, grants; the plan of a policy.
BEGIN;
\ir ../setup.sql
SELECT plan(39);

-- The JSON plan of a query, as the caller (SECURITY INVOKER).
CREATE FUNCTION pg_temp.plan_of(p_options text, p_query text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v json;
BEGIN
    EXECUTE format('EXPLAIN (%s) %s', p_options, p_query) INTO v;
    RETURN v::jsonb;
END $$;

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t70_mgr', 'stock_manager', :a, false) AS mgr \gset
SELECT pg_temp.make_user('t70_adm', 'admin', :a, false) AS adm \gset
SELECT pg_temp.make_user('t70_aud', 'auditor', :a, false) AS aud \gset
SELECT pg_temp.make_user('t70_bmgr', 'stock_manager', :b, true) AS bmgr \gset
SELECT pg_temp.make_user('t70_none', NULL, NULL) AS nobody \gset

SELECT erp.create_partner(:a, 't70 A one') AS pa \gset
SELECT erp.create_partner(:a, 't70 A two', 'customer') AS pa2 \gset
SELECT erp.create_partner(:a, 't70 A three', 'both') AS pa3 \gset
SELECT erp.create_partner(:b, 't70 B one') AS pb \gset
SELECT erp.create_partner(:b, 't70 B two', 'customer') AS pb2 \gset
SELECT erp.create_partner(:a1, 't70 A1 one') AS pa1 \gset
SELECT erp.create_partner(:g, 't70 G one') AS pg \gset

-- ------------------------------------------------ stock_manager of A (no children)
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t70_mgr', :a);
SELECT is((SELECT count(*)::int FROM erp.partner), 3, 'a user of A sees exactly the 3 partners of A');
SELECT set_eq($$SELECT DISTINCT company_id FROM erp.partner$$, ARRAY[:a]::bigint[],
              'every visible partner belongs to A');
SELECT is((SELECT count(*)::int FROM erp.partner WHERE company_id = :b), 0,
          'an explicit WHERE company_id = B returns no row');
SELECT is((SELECT count(*)::int FROM erp.partner WHERE id IN (:pb, :pa1, :pg)), 0,
          'partners of B, of the child A1 and of the parent G are invisible, even by id');
SELECT throws_ok(format($$INSERT INTO erp.partner (company_id, name) VALUES (%s, 't70 intruder')$$, :b),
                 '42501', 'new row violates row-level security policy for table "partner"',
                 'INSERT of a partner of B (42501)');
SELECT throws_ok(format($$SELECT erp.create_partner(%s, 't70 intruder')$$, :b),
                 '42501', 'permission denied for "erp.partner:create"', 'create_partner on B (42501)');
SELECT lives_ok(format($$INSERT INTO erp.partner (company_id, name) VALUES (%s, 't70 A four')$$, :a),
                'INSERT of a partner of A works');
WITH u AS (UPDATE erp.partner SET name = 't70 hacked' WHERE company_id = :b RETURNING 1)
SELECT is(count(*)::int, 0, 'UPDATE aimed at the partners of B affects 0 rows') FROM u;
WITH u AS (UPDATE erp.partner SET name = 't70 hacked' WHERE id = :pb RETURNING 1)
SELECT is(count(*)::int, 0, 'UPDATE of a partner of B by id affects 0 rows') FROM u;
SELECT throws_ok(format($$UPDATE erp.partner SET company_id = %s WHERE id = %s$$, :b, :pa),
                 '42501', 'new row violates row-level security policy for table "partner"',
                 'UPDATE moving a partner of A to B (42501)');
WITH d AS (DELETE FROM erp.partner WHERE company_id = :b RETURNING 1)
SELECT is(count(*)::int, 0, 'DELETE aimed at the partners of B affects 0 rows') FROM d;
WITH d AS (DELETE FROM erp.partner WHERE id IN (:pb2, :pa1) RETURNING 1)
SELECT is(count(*)::int, 0, 'DELETE by id of partners of B and A1 affects 0 rows') FROM d;
SELECT set_eq($$SELECT id FROM erp.company$$, ARRAY[:a]::bigint[], 'erp.company shows only A');
SELECT is((SELECT count(*)::int FROM erp.user_role), 0,
          'without erp.user_role:read no grant is visible');

RESET ROLE;
SELECT set_eq(format($$SELECT name FROM erp.partner WHERE company_id = %s$$, :b),
              ARRAY['t70 B one', 't70 B two'], 'as superuser: the partners of B are all there, unchanged');
SELECT is((SELECT count(*)::int FROM erp.partner WHERE name IN ('t70 intruder', 't70 hacked')), 0,
          'as superuser: nothing was inserted into B and nothing renamed');
SELECT is((SELECT company_id FROM erp.partner WHERE id = :pa), :a::bigint,
          'as superuser: the partner of A did not move');
SELECT is((SELECT count(*)::int FROM erp.partner WHERE id = :pa1), 1, 'as superuser: the partner of A1 still exists');

-- ------------------------------------------------------------ admin of A: grants
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t70_adm', :a);
SELECT set_eq($$SELECT user_id FROM erp.user_role$$, ARRAY[:mgr, :adm, :aud]::bigint[],
              'an admin of A sees exactly the grants on A');
SELECT is((SELECT count(*)::int FROM erp.user_role WHERE company_id <> :a), 0,
          'no grant on another company is visible (the grant on B exists)');
SELECT set_eq($$SELECT id FROM erp.company$$, ARRAY[:a]::bigint[],
              'an admin of A without children sees only A in erp.company');
WITH u AS (UPDATE erp.company SET name = 't70 taken over' WHERE id IN (:b, :g) RETURNING 1)
SELECT is(count(*)::int, 0, 'UPDATE of other companies affects 0 rows') FROM u;

-- ------------------------------------------------------------------- auditor of A
SELECT erp.sign_out();
SELECT pg_temp.login('t70_aud', :a);
SELECT set_eq($$SELECT name FROM erp.partner$$, ARRAY['t70 A one', 't70 A two', 't70 A three', 't70 A four'],
              'an auditor of A reads the partners of A');
SELECT throws_ok(format($$INSERT INTO erp.partner (company_id, name) VALUES (%s, 't70 by auditor')$$, :a),
                 '42501', 'new row violates row-level security policy for table "partner"',
                 'an auditor cannot INSERT (42501)');
WITH u AS (UPDATE erp.partner SET name = 't70 audited' WHERE company_id = :a RETURNING 1)
SELECT is(count(*)::int, 0, 'an auditor''s UPDATE affects 0 rows') FROM u;

-- ---------------------------------------------------- a user with no role, nobody
SELECT erp.sign_out();
SELECT pg_temp.login('t70_none');
SELECT is((SELECT count(*)::int FROM erp.partner), 0, 'a user with no role sees no partner');
SELECT is((SELECT count(*)::int FROM erp.company), 0, 'a user with no role sees no company');
SELECT erp.sign_out();
SELECT is((SELECT count(*)::int FROM erp.partner), 0, 'nobody signed in: no partner');
SELECT is((SELECT count(*)::int FROM erp.company), 0, 'nobody signed in: no company');
SELECT is((SELECT count(*)::int FROM erp.user_role), 0, 'nobody signed in: no grant');
SELECT throws_ok(format($$INSERT INTO erp.partner (company_id, name) VALUES (%s, 't70 anonymous')$$, :a),
                 '42501', 'new row violates row-level security policy for table "partner"',
                 'nobody signed in: INSERT (42501)');

-- ------------------------------------------------------------------------ the plan
RESET ROLE;
INSERT INTO erp.partner (company_id, name)
SELECT (ARRAY[:g, :a, :b, :a1]::bigint[])[1 + i % 4], 't70 bulk ' || i FROM generate_series(1, 2000) i;
ANALYZE erp.partner;
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t70_mgr', :a);
SELECT pg_temp.plan_of('FORMAT JSON', format('SELECT * FROM erp.partner WHERE id = %s', :pa)) AS plan \gset
SELECT ok(jsonb_path_exists(:'plan', 'strict $.** ? (@."Index Name" == "partner_id_idx"
                                               && (@."Node Type" == "Index Scan" || @."Node Type" == "Bitmap Index Scan"))'),
          'a lookup by id under row security uses partner_id_idx');
SELECT ok(NOT jsonb_path_exists(:'plan', 'strict $.** ? (@."Node Type" == "Seq Scan")'), 'and no sequential scan');
-- nothing identity-specific is in the plan: the policy is a per-row test of
-- the user's cached rights, so the same plan serves every user (#12)
SELECT pg_temp.plan_of('FORMAT JSON, VERBOSE', format('SELECT * FROM erp.partner WHERE id = %s', :pa)) AS vplan \gset
SELECT ok(NOT jsonb_path_exists(:'vplan', format('strict $.** ? (@ like_regex "company_id = ''%s''::bigint")', :a)::jsonpath),
          'the plan holds no constant of the user''s company');
SELECT ok(jsonb_path_exists(:'vplan', 'strict $.** ? (@ like_regex "erp.company_allowed\\(partner.company_id, ''erp.partner:read''::text\\)")'),
          'the policy is the per-row test erp.company_allowed(company_id, code)');
-- a cached plan holding a folded list is dropped when the rights change
PREPARE t70_count AS SELECT count(*)::int FROM erp.partner WHERE name LIKE 't70 bulk %';
SELECT is((SELECT count(*)::int FROM erp.partner WHERE name LIKE 't70 bulk %'), 500, 'the manager sees the 500 bulk rows of A');
EXECUTE t70_count;
RESET ROLE;
DELETE FROM erp.user_role WHERE user_id = :mgr;
SET LOCAL ROLE pgerp_app;
CREATE TEMP TABLE t70_after AS EXECUTE t70_count;
SELECT is((SELECT * FROM t70_after), 0, 'a prepared statement re-planned after the revoke sees nothing');
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.grant_role(:mgr, 'stock_manager', :a, false);
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t70_mgr', :a);
SELECT pg_temp.plan_of('ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON',
                       'SELECT * FROM erp.partner') AS aplan \gset
SELECT is(jsonb_path_query_first(:'aplan', '$[0].Plan."Actual Rows"'), '504'::jsonb,
          'and the scan returns the 500 bulk rows and the 4 named partners of A');

RESET ROLE;
SELECT erp.sign_out();
SELECT is((SELECT count(*)::int FROM erp.partner WHERE name LIKE 't70 bulk %'), 2000,
          'as superuser all 2000 bulk rows are there');
SELECT * FROM finish();
ROLLBACK;
