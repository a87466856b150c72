-- Sessions: sign_in, switch_company, sign_out, the readers, undo on abort, and no forged identity.
BEGIN;
\ir ../setup.sql
SELECT plan(51);

-- Full error of a statement: 'SQLSTATE|message|detail|hint', 'no error' when it succeeds.
CREATE FUNCTION pg_temp.error_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg text;
    v_detail text;
    v_hint text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
    RETURN concat_ws('|', v_state, v_msg, v_detail, v_hint);
END $$;

-- Change the identity, then fail: the caller's subtransaction rolls back.
CREATE FUNCTION pg_temp.then_fail(p_sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE p_sql;
    RAISE EXCEPTION 'failing on purpose after: %', p_sql;
END $$;

SELECT * FROM pg_temp.make_tree() \gset
-- ss_user holds stock_user on B (with children) and on A1: default company B (the lower id).
SELECT pg_temp.make_user('ss_user', 'stock_user', :a1) AS ss_user \gset
SELECT erp.grant_role(:ss_user, 'stock_user', :b) AS granted \gset
SELECT pg_temp.make_user('ss_admin', 'admin', :g) AS ss_admin \gset
SELECT pg_temp.make_user('ss_only_a', 'stock_user', :a, false) AS ss_only_a \gset
SELECT pg_temp.make_user('ss_off', 'stock_user', :a) AS ss_off \gset
UPDATE erp.app_user SET active = false WHERE id = :ss_off;

-- Nobody signed in: the readers
SELECT is(erp.current_user_id(), NULL, 'nobody signed in: current_user_id() is NULL');
SELECT is(erp.current_company_id(), NULL, 'nobody signed in: current_company_id() is NULL');
SELECT is(erp.allowed_company_ids(), '{}'::bigint[], 'nobody signed in: allowed_company_ids() is empty');
SELECT is(erp.has_permission('erp.partner:read'), false, 'nobody signed in: has_permission() is false');
SELECT is(erp.permitted_companies('erp.partner:read'), '{}'::bigint[], 'nobody signed in: permitted_companies() is empty');
SELECT throws_ok($$SELECT erp.has_permission('not a code')$$, '22023', NULL,
                 'has_permission() refuses an invalid code');
SELECT throws_ok($$SELECT erp.has_permission('Erp.Partner:Read')$$, '22023', NULL,
                 'has_permission() refuses upper-case codes');
SELECT throws_ok($$SELECT erp.has_permission(NULL)$$, '22004', NULL, 'has_permission() refuses NULL');

-- sign_in
SELECT matches(erp.sign_in('ss_user', 'ss_user-pass-1'), '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$',
               'sign_in returns a token of three base64url parts');
SELECT is(erp.current_user_id(), :'ss_user'::bigint, 'sign_in sets the user');
SELECT is(erp.current_company_id(), :'b'::bigint, 'the default company is the lowest-id company granted directly');
SELECT is(erp.allowed_company_ids(), ARRAY[:b, :a1]::bigint[], 'allowed companies are the granted ones');
SELECT is(erp.has_permission('erp.partner:read'), true, 'has_permission() is true for a held permission');
SELECT is(erp.has_permission('erp.partner:create'), false, 'has_permission() is false for one not held');
SELECT lives_ok(format('SELECT erp.sign_in(%L, %L, %s)', 'ss_user', 'ss_user-pass-1', :a1),
                'sign_in with an explicit allowed company');
SELECT is(erp.current_company_id(), :'a1'::bigint, '... acts in that company');
SELECT lives_ok($$SELECT erp.sign_in('  SS_User ', 'ss_user-pass-1')$$, 'logins are matched trimmed and regardless of case');
SELECT erp.sign_in('ss_admin', 'ss_admin-pass-1') IS NOT NULL AS signed \gset
SELECT is(erp.allowed_company_ids(), ARRAY[:g, :a, :b, :a1]::bigint[], 'a grant on G reaches every descendant');
SELECT erp.sign_in('ss_only_a', 'ss_only_a-pass-1') IS NOT NULL AS signed \gset
SELECT is(erp.allowed_company_ids(), ARRAY[:a]::bigint[], 'a grant without include_children stays on its company');

-- sign_in into a company that is not allowed: 42501, identity unchanged
SELECT erp.sign_in('ss_admin', 'ss_admin-pass-1', :a) IS NOT NULL AS signed \gset
SELECT throws_ok(format('SELECT erp.sign_in(%L, %L, %s)', 'ss_user', 'ss_user-pass-1', :g), '42501',
                 format('company %s is not allowed for this user', :g), 'sign_in into a company not allowed: 42501');
SELECT is(ARRAY[erp.current_user_id(), erp.current_company_id()], ARRAY[:ss_admin, :a]::bigint[],
          'after the refused sign_in the previous identity is unchanged');

-- wrong credentials: one message for every case
SELECT erp.sign_out() AS signed_out \gset
SELECT throws_ok($$SELECT erp.sign_in('ss_user', 'wrong password')$$, '28P01', 'invalid login or password',
                 'a wrong password: 28P01');
SELECT throws_ok($$SELECT erp.sign_in('ss_nobody', 'ss_user-pass-1')$$, '28P01', 'invalid login or password',
                 'an unknown login: 28P01');
SELECT is(pg_temp.error_of($$SELECT erp.sign_in('ss_nobody', 'ss_user-pass-1')$$),
          pg_temp.error_of($$SELECT erp.sign_in('ss_user', 'wrong password')$$),
          'unknown login and wrong password raise identical errors (state, message, detail, hint)');
SELECT throws_ok($$SELECT erp.sign_in('ss_off', 'ss_off-pass-1')$$, '28P01', 'invalid login or password',
                 'an inactive user with the right password: 28P01');
SELECT throws_ok($$SELECT erp.sign_in(NULL, 'ss_user-pass-1')$$, '22004', NULL, 'a NULL login: 22004');
SELECT throws_ok($$SELECT erp.sign_in('ss_user', NULL)$$, '22004', NULL, 'a NULL password: 22004');
SELECT is(erp.current_user_id(), NULL, 'nobody is signed in after the failed attempts');

-- switch_company
SELECT throws_ok(format('SELECT erp.switch_company(%s)', :b), '28000', 'no user is signed in',
                 'switch_company with nobody signed in: 28000');
SELECT erp.sign_in('ss_user', 'ss_user-pass-1') IS NOT NULL AS signed \gset
SELECT lives_ok(format('SELECT erp.switch_company(%s)', :a1), 'switch_company to an allowed company');
SELECT is(erp.current_company_id(), :'a1'::bigint, '... changes the current company');
SELECT throws_ok(format('SELECT erp.switch_company(%s)', :a), '42501', NULL,
                 'switch_company to a company not allowed: 42501');
SELECT is(erp.current_company_id(), :'a1'::bigint, '... and the current company is unchanged');
SELECT throws_ok($$SELECT erp.switch_company(NULL)$$, '22004', NULL, 'switch_company(NULL): 22004');

-- sign_out
SELECT erp.sign_out() AS signed_out \gset
SELECT is(ARRAY[erp.current_user_id(), erp.current_company_id()], ARRAY[NULL, NULL]::bigint[],
          'sign_out clears user and company');
SELECT is(erp.role_companies(ARRAY['stock_user']), '{}'::bigint[], 'after sign_out no role applies anywhere');

-- identity changes in a failed subtransaction are undone
SELECT throws_ok($$SELECT pg_temp.then_fail('SELECT erp.sign_in(''ss_user'', ''ss_user-pass-1'')')$$, 'P0001',
                 NULL, 'a subtransaction signs in and fails');
SELECT is(erp.current_user_id(), NULL, '... and nobody is signed in afterwards');
SELECT erp.sign_in('ss_admin', 'ss_admin-pass-1', :a) IS NOT NULL AS signed \gset
SELECT throws_ok($$SELECT pg_temp.then_fail('SELECT erp.sign_out()')$$, 'P0001', NULL,
                 'a subtransaction signs out and fails');
SELECT is(ARRAY[erp.current_user_id(), erp.current_company_id()], ARRAY[NULL, NULL]::bigint[],
          '... and nobody is signed in: a sign_out is not undone by a rollback (#11.18)');
SELECT erp.sign_in('ss_admin', 'ss_admin-pass-1', :a) IS NOT NULL AS signed \gset
SELECT throws_ok(format('SELECT pg_temp.then_fail(%L)', format('SELECT erp.switch_company(%s)', :b)), 'P0001', NULL,
                 'a subtransaction switches company and fails');
SELECT is(erp.current_company_id(), :'a'::bigint, '... and the company from before is still current');
SELECT erp.sign_out() AS signed_out \gset

-- no forged identity: pgerp.* is reserved, and only C code sets the identity
SELECT throws_ok(format('SELECT set_config(%L, %L, false)', 'pgerp.user_id', :ss_admin), '42602', NULL,
                 'set_config(''pgerp.user_id'', ...) is refused: the prefix is reserved');
SELECT throws_ok(format('SET pgerp.company_id = %s', :g), '42602', NULL, 'SET pgerp.company_id is refused');
SELECT lives_ok(format('SELECT set_config(%L, %L, true), set_config(%L, %L, true)',
                       'erp.user_id', :ss_admin, 'erp.company_id', :g),
                'settings outside the reserved prefix can be set ...');
SELECT is(ARRAY[erp.current_user_id(), erp.current_company_id()], ARRAY[NULL, NULL]::bigint[],
          '... and no setting gives an identity');

-- the application role
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT count(*) FROM erp.app_user$$, '42501', NULL, 'pgerp_app cannot read erp.app_user');
SELECT throws_ok($$SELECT count(*) FROM erp.secret$$, '42501', NULL, 'pgerp_app cannot read erp.secret');
SELECT throws_ok($$SET LOCAL pgerp.jwt_secret = 'an attacker chosen secret of 32+ bytes!'$$, '42501', NULL,
                 'pgerp_app cannot set pgerp.jwt_secret');
SELECT is(erp.sign_in('ss_user', 'ss_user-pass-1') IS NOT NULL, true, 'pgerp_app may sign in ...');
SELECT is(erp.current_user_id(), :'ss_user'::bigint, '... and then acts as that user');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

SELECT * FROM finish();
ROLLBACK;
