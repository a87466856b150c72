-- Grants reach descendants with include_children: allowed companies, visible rows, later companies, revoke, inactive.
BEGIN;
\ir ../setup.sql
SELECT plan(28);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t80_g', 'admin', :g, true) AS ug \gset
SELECT pg_temp.make_user('t80_gonly', 'admin', :g, false) AS ugonly \gset
SELECT pg_temp.make_user('t80_a', 'admin', :a, true) AS ua \gset
SELECT pg_temp.make_user('t80_aud', 'auditor', :g, true) AS uaud \gset
SELECT erp.create_partner(:g, 't80 partner of G') IS NOT NULL AS ok \gset
SELECT erp.create_partner(:a, 't80 partner of A') IS NOT NULL AS ok \gset
SELECT erp.create_partner(:b, 't80 partner of B') IS NOT NULL AS ok \gset
SELECT erp.create_partner(:a1, 't80 partner of A1') IS NOT NULL AS ok \gset

SET LOCAL ROLE pgerp_app;

-- ------------------------------------------------------ G with include_children
SELECT pg_temp.login('t80_g', :g);
SELECT is(pg_temp.sorted(erp.allowed_company_ids()), pg_temp.sorted(ARRAY[:g, :a, :b, :a1]::bigint[]),
          'a grant on G with children reaches G, A, B and A1');
SELECT is(pg_temp.sorted(erp.permitted_companies('erp.partner:delete')), pg_temp.sorted(ARRAY[:g, :a, :b, :a1]::bigint[]),
          'its permissions hold on every descendant');
SELECT set_eq($$SELECT name FROM erp.partner$$,
              ARRAY['t80 partner of G', 't80 partner of A', 't80 partner of B', 't80 partner of A1'],
              'the partners of G, A, B and A1 are visible');
SELECT set_eq($$SELECT id FROM erp.company$$, ARRAY[:g, :a, :b, :a1]::bigint[],
              'erp.company shows the whole tree');
SELECT lives_ok(format('SELECT erp.switch_company(%s)', :a1), 'the grandchild A1 can be selected');
SELECT ok(erp.has_permission('erp.partner:write'), 'and the permission holds there');

-- ------------------------------------------------------------- G without children
SELECT erp.sign_out();
SELECT pg_temp.login('t80_gonly', :g);
SELECT is(erp.allowed_company_ids(), ARRAY[:g]::bigint[], 'a grant on G without children reaches only G');
SELECT set_eq($$SELECT name FROM erp.partner$$, ARRAY['t80 partner of G'], 'only the partner of G is visible');
SELECT throws_ok(format('SELECT erp.switch_company(%s)', :a), '42501', NULL,
                 'the child A cannot be selected (42501)');

-- ------------------------------------------------------- auditor on G with children
SELECT erp.sign_out();
SELECT pg_temp.login('t80_aud', :g);
SELECT is((SELECT count(*)::int FROM erp.partner WHERE name LIKE 't80 %'), 4,
          'an auditor on G with children reads the partners of the whole tree');

-- ----------------------------------------------------------- A with children
SELECT erp.sign_out();
SELECT pg_temp.login('t80_a', :a);
SELECT is(pg_temp.sorted(erp.allowed_company_ids()), pg_temp.sorted(ARRAY[:a, :a1]::bigint[]),
          'a grant on A reaches A and A1, not the sibling B nor the parent G');
SELECT set_eq($$SELECT name FROM erp.partner$$, ARRAY['t80 partner of A', 't80 partner of A1'],
              'only the partners of A and A1 are visible');
SELECT erp.create_company('t80 A2', :a) AS a2 \gset
SELECT ok(:a2 = ANY (erp.allowed_company_ids()), 'a company created later under A is allowed at once');
SELECT set_eq($$SELECT id FROM erp.company$$, ARRAY[:a, :a1, :a2]::bigint[], 'and visible in erp.company');
SELECT lives_ok(format($$SELECT erp.create_partner(%s, 't80 partner of A2')$$, :a2),
                'a partner can be created in the new company');
SELECT set_eq($$SELECT name FROM erp.partner$$,
              ARRAY['t80 partner of A', 't80 partner of A1', 't80 partner of A2'],
              'the new company''s partner is visible');
SELECT erp.create_company('t80 A21', :a2) AS a21 \gset
SELECT ok(:a21 = ANY (erp.permitted_companies('erp.partner:read')), 'a grandchild created later is reached too');
SELECT lives_ok(format($$SELECT erp.revoke_role(%s, 'admin', %s)$$, :ua, :a), 'the grant on A is revoked');
SELECT is(erp.allowed_company_ids(), '{}'::bigint[], 'after the revoke no company is allowed');
SELECT is((SELECT count(*)::int FROM erp.partner), 0, 'after the revoke no partner is visible');
SELECT is((SELECT count(*)::int FROM erp.company), 0, 'after the revoke no company is visible');

-- ------------------------------------------------------- a deactivated company
SELECT erp.sign_out();
SELECT pg_temp.login('t80_g', :g);
SELECT ok(:a2 = ANY (erp.allowed_company_ids()), 'the grant on G reaches the company created under A later');
WITH u AS (UPDATE erp.company SET active = false WHERE id = :b RETURNING 1)
SELECT is(count(*)::int, 1, 'an admin of G deactivates B') FROM u;
SELECT ok(NOT :b = ANY (erp.allowed_company_ids()), 'the deactivated B drops out of allowed_company_ids');
SELECT ok(NOT :b = ANY (erp.permitted_companies('erp.partner:read')), 'and out of permitted_companies');
SELECT is((SELECT count(*)::int FROM erp.partner WHERE name = 't80 partner of B'), 0,
          'the partners of the deactivated B are no longer visible');
SELECT throws_ok(format('SELECT erp.switch_company(%s)', :b), '42501', NULL,
                 'the deactivated B cannot be selected (42501)');
SELECT ok(ARRAY[:g, :a, :a1]::bigint[] <@ erp.allowed_company_ids(), 'the other companies stay allowed');

SELECT * FROM finish();
ROLLBACK;
