-- Roles: create_role patterns and checks, built-in roles, grant_role / revoke_role, no escalation, live ACL.
BEGIN;
\ir ../setup.sql
SELECT plan(65);

SELECT * FROM pg_temp.make_tree() \gset

-- ---------------------------------------------------------------- create_role
SELECT lives_ok($$SELECT erp.create_role('t60_all', 'Everything', ARRAY['*'])$$,
                'create_role accepts the pattern *');
SELECT lives_ok($$SELECT erp.create_role('t60_mixed', '  Mixed patterns  ',
                    ARRAY['stock.*:read', '*:read', 'erp.partner:*', 'stock.*:read'])$$,
                'create_role accepts *:read, stock.*:read and erp.partner:*');
SELECT is((SELECT permissions FROM erp.role WHERE code = 't60_mixed'),
          ARRAY['*:read', 'erp.partner:*', 'stock.*:read'],
          'create_role stores the patterns sorted and without duplicates');
SELECT is((SELECT name || '/' || builtin::text FROM erp.role WHERE code = 't60_mixed'),
          'Mixed patterns/false', 'create_role trims the name and marks the role as not built-in');
SELECT is((SELECT permissions FROM erp.role WHERE code = 't60_all'), ARRAY['*'],
          'the role t60_all holds exactly {*}');

SELECT throws_ok($$SELECT erp.create_role('t60_bad1', 'Bad', ARRAY['Stock.move:read'])$$,
                 '22023', NULL, 'an upper-case schema is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad2', 'Bad', ARRAY['stock.move'])$$,
                 '22023', NULL, 'a pattern without an action is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad3', 'Bad', ARRAY['stock:read'])$$,
                 '22023', NULL, 'a pattern without a table is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad4', 'Bad', ARRAY['stock.move:read:x'])$$,
                 '22023', NULL, 'a pattern with two actions is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad5', 'Bad', ARRAY['**'])$$,
                 '22023', NULL, 'the pattern ** is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad6', 'Bad', ARRAY[''])$$,
                 '22023', NULL, 'an empty pattern is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad7', 'Bad', ARRAY['stock.move:read', 'erp.partner:read; x'])$$,
                 '22023', NULL, 'one invalid pattern among valid ones refuses the role (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad8', 'Bad', ARRAY['stock.move:read', NULL])$$,
                 '22004', NULL, 'a NULL pattern is refused (22004)');
SELECT throws_ok($$SELECT erp.create_role('t60_bad9', 'Bad', NULL)$$,
                 '22004', NULL, 'a NULL permission array is refused (22004)');
SELECT throws_ok($$SELECT erp.create_role('T60_upper', 'Bad', ARRAY['*'])$$,
                 '22023', NULL, 'an upper-case role code is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60-dash', 'Bad', ARRAY['*'])$$,
                 '22023', NULL, 'a role code with a dash is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role(NULL, 'Bad', ARRAY['*'])$$,
                 '22023', NULL, 'a NULL role code is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_noname', '  ', ARRAY['*'])$$,
                 '22023', NULL, 'a blank role name is refused (22023)');
SELECT throws_ok($$SELECT erp.create_role('t60_all', 'Again', ARRAY['*:read'])$$,
                 '23505', NULL, 'a duplicate role code is refused (23505)');
SELECT throws_ok($$SELECT erp.create_role('admin', 'Fake admin', ARRAY['*:read'])$$,
                 '23505', NULL, 'the code of a built-in role cannot be taken (23505)');
SELECT is((SELECT count(*)::int FROM erp.role WHERE code ~ '^t60_(bad|noname)|^T60|^t60-'), 0,
          'no refused role was stored');
SELECT is((SELECT permissions FROM erp.role WHERE code = 'admin'), ARRAY['*'],
          'the refused duplicate left the built-in admin untouched');

-- ------------------------------------------------------------- built-in roles
SELECT set_eq($$SELECT code FROM erp.role WHERE builtin$$,
              ARRAY['admin', 'auditor', 'stock_user', 'stock_manager', 'mrp_planner', 'purchase_user', 'stock_accountant'],
              'the seven documented built-in roles exist');
SELECT is((SELECT permissions FROM erp.role WHERE code = 'admin' AND builtin), ARRAY['*'],
          'admin holds {*}');
SELECT is((SELECT permissions FROM erp.role WHERE code = 'auditor' AND builtin), ARRAY['*:read'],
          'auditor holds {*:read}');
SELECT set_eq($$SELECT unnest(permissions) FROM erp.role WHERE code = 'stock_manager'$$,
              ARRAY['erp.company:read', 'erp.partner:*', 'stock.*:*'],
              'stock_manager holds the documented permissions');

-- ------------------------------------------------------------ fixtures (bootstrap)
SELECT erp.create_role('t60_preader', 'Partner reader', ARRAY['erp.partner:read']) IS NOT NULL AS ok \gset
SELECT erp.create_role('t60_granter', 'Granter',
                       ARRAY['erp.user_role:create', 'erp.user_role:delete', 'erp.partner:*']) IS NOT NULL AS ok \gset
SELECT erp.create_role('t60_rolemaker', 'Role maker', ARRAY['erp.role:create']) IS NOT NULL AS ok \gset
SELECT erp.create_role('t60_mgr', 'User and partner manager',
                       ARRAY['erp.user_role:*', 'erp.partner:*']) IS NOT NULL AS ok \gset
SELECT pg_temp.make_user('t60_target', NULL, NULL) AS target \gset
SELECT pg_temp.make_user('t60_plain', 't60_preader', :a, false) AS plain \gset
SELECT pg_temp.make_user('t60_maker', 't60_rolemaker', :a, false) AS maker \gset
SELECT pg_temp.make_user('t60_granter', 't60_granter', :a, false) AS granter \gset
SELECT pg_temp.make_user('t60_self', 't60_mgr', :a, true) AS self \gset

-- ------------------------------------------------------- grant_role / revoke_role
SELECT lives_ok(format($$SELECT erp.grant_role(%s, 't60_preader', %s, false)$$, :target, :b),
                'the bootstrap caller grants a role');
SELECT is((SELECT ur.include_children::text || '/' || coalesce(ur.granted_by::text, 'null')
             FROM erp.user_role ur JOIN erp.role r ON r.id = ur.role_id
            WHERE ur.user_id = :target AND ur.company_id = :b AND r.code = 't60_preader'),
          'false/null', 'the grant is stored with include_children false and no granting user');
SELECT lives_ok(format($$SELECT erp.grant_role(%s, 't60_preader', %s, true)$$, :target, :b),
                'granting the same role again succeeds');
SELECT is((SELECT count(*)::int || '/' || bool_and(ur.include_children)::text
             FROM erp.user_role ur WHERE ur.user_id = :target AND ur.company_id = :b),
          '1/true', 'granting again updates include_children instead of adding a row');
SELECT throws_ok(format($$SELECT erp.grant_role(-1, 't60_preader', %s)$$, :b),
                 '22023', 'user -1 does not exist', 'grant_role: unknown user (22023)');
SELECT throws_ok(format($$SELECT erp.grant_role(NULL, 't60_preader', %s)$$, :b),
                 '22023', NULL, 'grant_role: NULL user (22023)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 't60_no_such_role', %s)$$, :target, :b),
                 '22023', 'role ''t60_no_such_role'' does not exist', 'grant_role: unknown role (22023)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 't60_preader', -1)$$, :target),
                 '22023', 'company -1 does not exist', 'grant_role: unknown company (22023)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 't60_preader', %s, NULL)$$, :target, :b),
                 '22004', NULL, 'grant_role: NULL include_children (22004)');
SELECT lives_ok(format($$SELECT erp.revoke_role(%s, 't60_preader', %s)$$, :target, :b),
                'the bootstrap caller revokes the grant');
SELECT is((SELECT count(*)::int FROM erp.user_role WHERE user_id = :target), 0,
          'after the revoke the user holds no grant');
SELECT throws_ok(format($$SELECT erp.revoke_role(%s, 't60_preader', %s)$$, :target, :b),
                 '22023', NULL, 'revoking a grant that does not exist (22023)');
SELECT throws_ok(format($$SELECT erp.revoke_role(-1, 't60_preader', %s)$$, :b),
                 '22023', NULL, 'revoke_role: unknown user (22023)');
SELECT throws_ok(format($$SELECT erp.revoke_role(%s, 't60_no_such_role', %s)$$, :target, :b),
                 '22023', NULL, 'revoke_role: unknown role (22023)');
SELECT throws_ok(format($$SELECT erp.revoke_role(%s, 't60_preader', -1)$$, :target),
                 '22023', NULL, 'revoke_role: unknown company (22023)');
-- a grant on B that the granter below must not be able to revoke
SELECT erp.grant_role(:target, 't60_preader', :b, false) IS NULL AS ok \gset

-- ------------------------------------------- create_role needs erp.role:create
SELECT pg_temp.login('t60_plain', :a);
SELECT throws_ok($$SELECT erp.create_role('t60_by_plain', 'By plain', ARRAY['erp.partner:read'])$$,
                 '42501', 'permission denied for "erp.role:create"', 'create_role without erp.role:create (42501)');
SELECT pg_temp.login('t60_maker', :a);
SELECT lives_ok($$SELECT erp.create_role('t60_by_maker', 'By maker', ARRAY['erp.partner:read'])$$,
                'create_role with erp.role:create succeeds');

-- ----------------------------------------------------------- no escalation
SELECT pg_temp.login('t60_granter', :a);
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 'admin', %s, false)$$, :target, :a),
                 '42501', 'permission denied to grant role ''admin''',
                 'a holder of erp.user_role:create without * cannot grant admin (42501)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 'admin', %s, false)$$, :granter, :a),
                 '42501', NULL, 'nor grant admin to themselves (42501)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 'auditor', %s, false)$$, :target, :a),
                 '42501', NULL, 'erp.partner:* does not cover *:read: granting auditor is refused (42501)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 't60_preader', %s, true)$$, :target, :a),
                 '42501', 'permission denied to grant role ''t60_preader''',
                 'a granter without children cannot grant with include_children (42501)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 't60_preader', %s, false)$$, :target, :b),
                 '42501', 'permission denied for "erp.user_role:create"',
                 'no granting on a company without erp.user_role:create there (42501)');
SELECT lives_ok(format($$SELECT erp.grant_role(%s, 't60_preader', %s, false)$$, :target, :a),
                'a role whose permissions the granter holds can be granted');
SELECT is((SELECT ur.granted_by FROM erp.user_role ur WHERE ur.user_id = :target AND ur.company_id = :a),
          :granter::bigint, 'the grant records who granted it');
SELECT is((SELECT count(*)::int FROM erp.user_role ur JOIN erp.role r ON r.id = ur.role_id
            WHERE r.code IN ('admin', 'auditor') AND ur.user_id IN (:target, :granter)), 0,
          'no refused grant was stored');
SELECT throws_ok(format($$SELECT erp.revoke_role(%s, 't60_preader', %s)$$, :target, :b),
                 '42501', 'permission denied for "erp.user_role:delete"',
                 'no revoking on a company without erp.user_role:delete there (42501)');
SELECT lives_ok(format($$SELECT erp.revoke_role(%s, 't60_preader', %s)$$, :target, :a),
                'the granter revokes on its own company');

-- ------------------------------------- the ACL follows grants and revokes at once
SELECT pg_temp.login('t60_self', :a);
SELECT is(pg_temp.sorted(erp.allowed_company_ids()), pg_temp.sorted(ARRAY[:a, :a1]::bigint[]),
          'allowed_company_ids: the granted company and its child');
SELECT is(pg_temp.sorted(erp.permitted_companies('erp.partner:write')), pg_temp.sorted(ARRAY[:a, :a1]::bigint[]),
          'permitted_companies follows the grant');
SELECT ok(erp.has_permission('erp.partner:read') AND NOT erp.has_permission('stock.move:read'),
          'has_permission: erp.partner:read yes, stock.move:read no');
-- a grant written while the user acts (as another session's grant_role would)
INSERT INTO erp.user_role (company_id, user_id, role_id, include_children)
SELECT :b, :self, r.id, false FROM erp.role r WHERE r.code = 'auditor';
SELECT is(pg_temp.sorted(erp.allowed_company_ids()), pg_temp.sorted(ARRAY[:a, :a1, :b]::bigint[]),
          'a new grant shows in allowed_company_ids in the next statement');
SELECT is(erp.permitted_companies('stock.move:read'), ARRAY[:b]::bigint[],
          'a new grant shows in permitted_companies in the next statement');
SELECT erp.switch_company(:b);
SELECT ok(erp.has_permission('stock.move:read'), 'has_permission answers for the new grant');
SELECT lives_ok(format($$SELECT erp.revoke_role(%s, 't60_mgr', %s)$$, :self, :a),
                'a user revokes their own grant');
SELECT is(erp.allowed_company_ids(), ARRAY[:b]::bigint[],
          'the revoke shows in allowed_company_ids at once');
SELECT is(erp.permitted_companies('erp.partner:write'), '{}'::bigint[],
          'the revoke shows in permitted_companies at once');
SELECT throws_ok(format($$SELECT erp.switch_company(%s)$$, :a), '42501', NULL,
                 'the revoked company can no longer be selected (42501)');
SELECT throws_ok($$SELECT erp.has_permission('Erp.partner:read')$$, '22023', NULL,
                 'has_permission refuses an invalid code (22023)');

SELECT erp.sign_out();
SELECT is(erp.permitted_companies('erp.partner:read'), '{}'::bigint[],
          'with nobody signed in no company is permitted');

SELECT * FROM finish();
ROLLBACK;
