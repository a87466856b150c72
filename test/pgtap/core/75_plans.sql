-- Policies fold nothing identity-specific into plans (#12): whatever the
-- user holds (nothing, one company, a run of ids, ids far apart), the plan is
-- the same per-row test, and it filters exactly the companies the user may
-- read.
BEGIN;
\ir ../setup.sql
SELECT plan(18);

SELECT * FROM pg_temp.make_tree() \gset
SELECT erp.create_company('Test C', :'g') AS c \gset
-- ids g < a < b < a1 < c were made in that order
SELECT pg_temp.make_user('t75_group', 'auditor', :g) AS u_group \gset
SELECT pg_temp.make_user('t75_two', 'auditor', :a) AS u_two \gset
SELECT erp.grant_role(:u_two, 'auditor', :c, false);
SELECT pg_temp.make_user('t75_none', NULL, NULL) AS u_none \gset
INSERT INTO erp.partner (company_id, name)
SELECT co, 't75 ' || co || ' ' || i FROM unnest(ARRAY[:g, :a, :b, :a1, :c]::bigint[]) co, generate_series(1, 3) i;

CREATE FUNCTION pg_temp.plan_text(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v text; r text := '';
BEGIN
    FOR v IN EXECUTE 'EXPLAIN (COSTS OFF, VERBOSE) ' || p_sql LOOP r := r || v || E'\n'; END LOOP;
    RETURN r;
END $$;
CREATE FUNCTION pg_temp.seen() RETURNS bigint[] LANGUAGE sql AS
    $$SELECT coalesce(array_agg(DISTINCT company_id ORDER BY company_id), '{}') FROM erp.partner WHERE name LIKE 't75 %'$$;

SET LOCAL ROLE pgerp_app;

-- a run of consecutive ids: a range
SELECT erp.sign_in('t75_group', 't75_group-pass-1') IS NOT NULL AS signed \gset
SELECT is(pg_temp.seen(), ARRAY[:g, :a, :b, :a1, :c]::bigint[], 'group auditor: every company of the group');
SELECT pg_temp.plan_text($$SELECT * FROM erp.partner$$) AS plan_group \gset
SELECT ok(:'plan_group' ~ 'erp.company_allowed\(partner.company_id, ''erp.partner:read''::text\)',
          'the policy is the per-row test erp.company_allowed(company_id, code)');
SELECT ok(:'plan_group' !~ format('''%s''::bigint', :g), 'and holds no company of the user');

-- two companies with a gap: a constant list
SELECT erp.sign_in('t75_two', 't75_two-pass-1') IS NOT NULL AS signed \gset
SELECT is(pg_temp.seen(), ARRAY[:a, :a1, :c]::bigint[], 'auditor of A (with A1) and C: exactly those');
SELECT is(pg_temp.plan_text($$SELECT * FROM erp.partner$$), :'plan_group',
          'companies with one hole: the same plan as the group auditor''s');

-- companies far apart: a constant list
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.create_company('Test D' || i, :'g') FROM generate_series(1, 3) i;
SELECT erp.create_company('Test D4', :'g') AS d4 \gset
SELECT pg_temp.make_user('t75_sparse', 'auditor', :g, false) AS u_sparse \gset
SELECT erp.grant_role(:u_sparse, 'auditor', :d4, false);
INSERT INTO erp.partner (company_id, name) VALUES (:d4, 't75 d4');
SET LOCAL ROLE pgerp_app;
SELECT erp.sign_in('t75_sparse', 't75_sparse-pass-1') IS NOT NULL AS signed \gset
SELECT is(pg_temp.seen(), ARRAY[:g, :d4]::bigint[], 'auditor of G (alone) and D4: exactly those');
SELECT is(pg_temp.plan_text($$SELECT * FROM erp.partner$$), :'plan_group',
          'companies far apart: the same plan');
SELECT erp.sign_in('t75_two', 't75_two-pass-1') IS NOT NULL AS signed \gset

-- one company: equality, usable by the primary key index
SELECT erp.switch_company(:a);
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.revoke_role(:u_two, 'auditor', :c);
SET LOCAL ROLE pgerp_app;
SELECT erp.sign_in('t75_two', 't75_two-pass-1') IS NOT NULL AS signed \gset
SELECT is(pg_temp.seen(), ARRAY[:a, :a1]::bigint[], 'after the revoke of C: A and A1');
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.revoke_role(:u_two, 'auditor', :a);
SELECT erp.grant_role(:u_two, 'auditor', :b, false);
SET LOCAL ROLE pgerp_app;
SELECT erp.sign_in('t75_two', 't75_two-pass-1') IS NOT NULL AS signed \gset
SELECT is(pg_temp.seen(), ARRAY[:b]::bigint[], 'auditor of B only: B');
SELECT is(pg_temp.plan_text($$SELECT * FROM erp.partner$$), :'plan_group',
          'one company: the same plan');

-- nobody or no role: false
SELECT erp.sign_in('t75_none', 't75_none-pass-1') IS NOT NULL AS signed \gset
SELECT is(pg_temp.seen(), '{}'::bigint[], 'no role: nothing');
SELECT is(pg_temp.plan_text($$SELECT * FROM erp.partner$$), :'plan_group',
          'no company: the same plan');
SELECT erp.sign_out();
SELECT is(pg_temp.seen(), '{}'::bigint[], 'nobody signed in: nothing');

-- writes use the write test
SELECT erp.sign_in('t75_group', 't75_group-pass-1') IS NOT NULL AS signed \gset
SELECT throws_ok(format($$INSERT INTO erp.partner (company_id, name) VALUES (%s, 't75 new')$$, :b),
                 '42501', NULL, 'auditor of the group cannot insert (no create permission)');

-- a prepared statement follows a change of acting user
PREPARE t75_seen AS SELECT coalesce(array_agg(DISTINCT company_id ORDER BY company_id), '{}') FROM erp.partner WHERE name LIKE 't75 %';
SELECT results_eq('EXECUTE t75_seen', format('VALUES (ARRAY[%s,%s,%s,%s,%s,%s]::bigint[])', :g, :a, :b, :a1, :c, :d4),
                  'prepared: the group auditor sees the six companies with partners');
SELECT erp.sign_in('t75_two', 't75_two-pass-1') IS NOT NULL AS signed \gset
SELECT results_eq('EXECUTE t75_seen', format('VALUES (ARRAY[%s]::bigint[])', :b),
                  'the same prepared statement after signing in as another user sees only B');

-- the run-time form agrees where it is called directly
SELECT is(erp.company_allowed(:b, 'erp.partner:read'), true, 'company_allowed() at run time: B readable');
SELECT is(erp.company_allowed(:a, 'erp.partner:read'), false, 'company_allowed() at run time: A not readable');

SELECT * FROM finish();
ROLLBACK;
