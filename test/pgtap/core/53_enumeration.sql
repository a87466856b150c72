-- No enumeration of ids (#11.16): a company or user that does not exist and one the caller
-- may not use get the same error (SQLSTATE, message, detail and hint, the echoed id aside).
BEGIN;
\ir ../setup.sql
SELECT plan(28);

-- 'SQLSTATE|message|detail|hint' of a statement, with the id p_id written <id>.
CREATE FUNCTION pg_temp.error_of(p_sql text, p_id bigint) RETURNS text LANGUAGE plpgsql AS $$
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
    RETURN regexp_replace(concat_ws('|', v_state, v_msg, v_detail, v_hint), '\m' || p_id || '\M', '<id>', 'g');
END $$;

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('carol', 'admin', :a, true) AS carol \gset
SELECT pg_temp.make_user('dave', 'admin', :b, true) AS dave \gset
SELECT pg_temp.make_user('en_a', 'stock_user', :a) AS en_a \gset
SELECT (SELECT max(id) FROM erp.company) + 1000 AS no_company \gset
SELECT (SELECT max(id) FROM erp.app_user) + 1000 AS no_user \gset

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('carol');

-- companies: B exists, no_company does not; carol may use neither
SELECT is(pg_temp.error_of(format($$SELECT erp.create_company('x', %s)$$, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.create_company('x', %s)$$, :b), :b),
          'create_company: an unknown parent and a parent of B answer alike');
SELECT matches(pg_temp.error_of(format($$SELECT erp.create_company('x', %s)$$, :b), :b), '^42501\|',
               '... with 42501');
SELECT is(pg_temp.error_of(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :en_a, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :en_a, :b), :b),
          'grant_role: an unknown company and B answer alike');
SELECT matches(pg_temp.error_of(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :en_a, :b), :b), '^42501\|',
               '... with 42501');
SELECT is(pg_temp.error_of(format($$SELECT erp.revoke_role(%s, 'stock_user', %s)$$, :en_a, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.revoke_role(%s, 'stock_user', %s)$$, :en_a, :b), :b),
          'revoke_role: an unknown company and B answer alike');
SELECT matches(pg_temp.error_of(format($$SELECT erp.revoke_role(%s, 'stock_user', %s)$$, :en_a, :b), :b), '^42501\|',
               '... with 42501');
SELECT is(pg_temp.error_of(format($$SELECT erp.create_partner(%s, 'x')$$, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.create_partner(%s, 'x')$$, :b), :b),
          'create_partner: an unknown company and B answer alike');
SELECT matches(pg_temp.error_of(format($$SELECT erp.create_partner(%s, 'x')$$, :b), :b), '^42501\|',
               '... with 42501');
SELECT is(pg_temp.error_of(format($$SELECT erp.switch_company(%s)$$, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.switch_company(%s)$$, :b), :b),
          'switch_company: an unknown company and B answer alike');
SELECT matches(pg_temp.error_of(format($$SELECT erp.switch_company(%s)$$, :b), :b), '^42501\|',
               '... with 42501');
SELECT is(pg_temp.error_of(format($$SELECT erp.sign_in('carol', 'carol-pass-1', %s)$$, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.sign_in('carol', 'carol-pass-1', %s)$$, :b), :b),
          'sign_in into an unknown company and into B answer alike');
SELECT matches(pg_temp.error_of(format($$SELECT erp.sign_in('carol', 'carol-pass-1', %s)$$, :b), :b), '^42501\|',
               '... with 42501');
SELECT pg_temp.login('carol');

-- users: dave exists (admin of B), no_user does not
SELECT is(pg_temp.error_of(format($$SELECT erp.set_password(%s, 'long enough 1')$$, :no_user), :no_user),
          pg_temp.error_of(format($$SELECT erp.set_password(%s, 'long enough 1')$$, :dave), :dave),
          'set_password: an unknown user and a user of B answer alike');
SELECT matches(pg_temp.error_of(format($$SELECT erp.set_password(%s, 'long enough 1')$$, :dave), :dave), '^42501\|',
               '... with 42501');
SELECT is(pg_temp.error_of(format($$SELECT erp.revoke_sessions(%s)$$, :no_user), :no_user),
          pg_temp.error_of(format($$SELECT erp.revoke_sessions(%s)$$, :dave), :dave),
          'revoke_sessions: an unknown user and a user of B answer alike');
SELECT throws_ok($$SELECT erp.set_password(NULL, 'long enough 1')$$, '42501',
                 'permission denied for "erp.app_user:write" on user NULL', 'set_password: a NULL user (42501)');
SELECT is(pg_temp.error_of(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :no_user, :b), 0),
          pg_temp.error_of(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :dave, :b), 0),
          'grant_role on B: an unknown user and dave answer alike (the company is checked first)');
SELECT is(pg_temp.error_of(format($$SELECT erp.revoke_role(%s, 'admin', %s)$$, :no_user, :b), 0),
          pg_temp.error_of(format($$SELECT erp.revoke_role(%s, 'admin', %s)$$, :dave, :b), 0),
          'revoke_role on B: an unknown user and dave answer alike');
-- on her own company the user id is answered (she may grant there; user ids are not secret to granters)
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :no_user, :a), '22023',
                 format('user %s does not exist', :no_user), 'grant_role on A: an unknown user (22023)');
SELECT throws_ok(format($$SELECT erp.revoke_role(%s, 'stock_user', %s)$$, :no_user, :a), '22023',
                 format('user %s does not exist', :no_user), 'revoke_role on A: an unknown user (22023)');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 'stock_user', NULL)$$, :en_a), '22023',
                 'company NULL does not exist', 'grant_role: a NULL company is refused before any permission test');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 'no_such_role', %s)$$, :en_a, :b), '22023',
                 'role ''no_such_role'' does not exist', 'roles are public: an unknown role is named');
RESET ROLE;

-- a user of no company at all (not signed in, the application role)
SELECT erp.sign_out() AS signed_out \gset
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.error_of(format($$SELECT erp.set_password(%s, 'long enough 1')$$, :no_user), :no_user),
          pg_temp.error_of(format($$SELECT erp.set_password(%s, 'long enough 1')$$, :dave), :dave),
          'not signed in: set_password answers an unknown user and dave alike');
SELECT is(pg_temp.error_of(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :en_a, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :en_a, :b), :b),
          'not signed in: grant_role answers an unknown company and B alike');
SELECT is(pg_temp.error_of(format($$SELECT erp.create_company('x', %s)$$, :no_company), :no_company),
          pg_temp.error_of(format($$SELECT erp.create_company('x', %s)$$, :b), :b),
          'not signed in: create_company answers an unknown parent and B alike');
RESET ROLE;

-- the bootstrap caller (a superuser) is told what does not exist
SELECT throws_ok(format($$SELECT erp.create_company('x', %s)$$, :no_company), '22023',
                 format('company %s does not exist', :no_company), 'bootstrap: create_company names an unknown parent');
SELECT throws_ok(format($$SELECT erp.grant_role(%s, 'stock_user', %s)$$, :en_a, :no_company), '22023',
                 format('company %s does not exist', :no_company), 'bootstrap: grant_role names an unknown company');
SELECT throws_ok(format($$SELECT erp.set_password(%s, 'long enough 1')$$, :no_user), '22023',
                 format('user %s does not exist', :no_user), 'bootstrap: set_password names an unknown user');

SELECT * FROM finish();
ROLLBACK;
