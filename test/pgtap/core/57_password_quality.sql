-- Password quality (#4): new passwords are checked (length for everyone;
-- the login and libpwquality's dictionary checks unless the caller is the
-- bootstrap superuser); stored hashes stay valid.
BEGIN;
\ir ../setup.sql
SELECT plan(22);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('pq_admin', 'admin', :g) AS pq_admin \gset
SELECT pg_temp.make_user('pq_self', 'stock_user', :a) AS pq_self \gset

-- 'SQLSTATE: message: detail' of a statement given the password as $1, so
-- that the statement text itself carries no password
CREATE FUNCTION pg_temp.refusal(p_sql text, p_password text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg text;
    v_detail text;
BEGIN
    EXECUTE p_sql USING p_password;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
    RETURN concat_ws(': ', v_state, v_msg, v_detail);
END $$;

SELECT is(current_setting('pgerp.password_min_length'), '10', 'pgerp.password_min_length defaults to 10');

-- ------------------------------------------------------------ a signed-in administrator
SELECT pg_temp.login('pq_admin');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_a', $1)$$, 'password123'),
          '22023: password is too weak: The password fails the dictionary check - it is based on a dictionary word.',
          'a dictionary word with digits is refused (22023, libpwquality''s reason in the detail)');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_a', $1)$$, 'qwertyuiop'),
          '22023: password is too weak: The password fails the dictionary check - it is based on a dictionary word.',
          'a keyboard row is in the dictionary');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_a', $1)$$, '1234567890'),
          '22023: password is too weak: The password fails the dictionary check - it is too simplistic/systematic.',
          'a sequence is too simplistic');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_a', $1)$$, 'abcddddcba'),
          '22023: password is too weak: The password is a palindrome.',
          'a palindrome is refused');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_carol', $1)$$, 'xy-PQ_Carol-42'),
          '22023: password is too weak: The password contains the user name in some form.',
          'a password containing the login (whatever the case) is refused');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_longlogin', $1)$$, 'PQ_LONGLOGIN'),
          '22023: password is too weak: The password contains the user name in some form.',
          'a password equal to the login is refused');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_a', $1)$$, 'Kv7-Lm2pq'),
          '22023: password is too short: A password must be at least 10 characters long.',
          'nine characters are too short');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_a', $1)$$, 'Kv7-ŝŭŧĝŕć'),
          'no error', 'the minimum counts characters, not bytes: ten characters, seven of 2 bytes, are enough');
SELECT is((SELECT count(*)::int FROM erp.app_user WHERE login IN ('pq_carol', 'pq_longlogin')), 0,
          'the refused calls created nobody');
SELECT lives_ok($$SELECT erp.create_user('pq_b', 'kv7-Lm2-pq9x')$$, 'a password that passes every check is accepted');
SELECT is(strpos(pg_temp.refusal($$SELECT erp.create_user('pq_a', $1)$$, 'password123'), 'password123'), 0,
          'the error never repeats the password');

-- ------------------------------------------------------------ set_password, one's own
SELECT pg_temp.login('pq_self');
SELECT is(pg_temp.refusal(format('SELECT erp.set_password(%s, $1)', :pq_self), 'monkey12345'),
          '22023: password is too weak: The password fails the dictionary check - it is too simplistic/systematic.',
          'set_password checks the new password too');
SELECT is(pg_temp.refusal(format('SELECT erp.set_password(%s, $1)', :pq_self), 'my-pq_self-pw'),
          '22023: password is too weak: The password contains the user name in some form.',
          'set_password knows the login of the user whose password it sets');
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :pq_self, 'Tr0ub4dor-x9'), 'a good new password is set');
SELECT erp.sign_out() AS signed_out \gset
SELECT lives_ok($$SELECT erp.sign_in('pq_self', 'Tr0ub4dor-x9')$$, 'and signs in');

-- ------------------------------------------------------------ the bootstrap caller
SELECT erp.sign_out() AS signed_out \gset
SELECT lives_ok($$SELECT erp.create_user('pq_boot', 'pq_boot-pass-1')$$,
                'the bootstrap superuser skips the login and dictionary checks (set-up scripts, demo users) ...');
SELECT lives_ok($$SELECT erp.create_user('pq_boot2', 'password123')$$, '... even a dictionary word');
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_boot3', $1)$$, 'short-pw1'),
          '22023: password is too short: A password must be at least 10 characters long.',
          'but not the minimum length');

-- ------------------------------------------------------------ the setting; stored hashes
SET pgerp.password_min_length = 16;
SELECT is(pg_temp.refusal($$SELECT erp.create_user('pq_boot4', $1)$$, 'fifteen-chars-x'),
          '22023: password is too short: A password must be at least 16 characters long.',
          'pgerp.password_min_length raises the minimum');
SELECT lives_ok($$SELECT erp.sign_in('pq_self', 'Tr0ub4dor-x9')$$,
                'a stored password shorter than the new minimum still signs in: only new passwords are checked');
RESET pgerp.password_min_length;
SELECT erp.sign_out() AS signed_out \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SET pgerp.password_min_length = 8$$, '42501', NULL,
                 'the application role cannot lower the minimum');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
