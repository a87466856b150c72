-- Sign-in throttling (#4): failures counted per login and per client address
-- in shared memory; a backoff of 30 s doubling up to 15 min during which
-- even the right password gets 28P01 and the message of a wrong one.
BEGIN;
\ir ../setup.sql
SELECT plan(30);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('lk_user', 'stock_user', :a) AS lk_user \gset
SELECT pg_temp.make_user('lk_other', 'stock_user', :a) AS lk_other \gset
SELECT pg_temp.make_user('lk_double', 'stock_user', :a) AS lk_double \gset
SELECT pg_temp.make_user('lk_reset', 'stock_user', :a) AS lk_reset \gset
SELECT pg_temp.make_user('lk_addr', 'stock_user', :a) AS lk_addr \gset

-- n wrong passwords for a login; returns how many were refused with 28P01
CREATE FUNCTION pg_temp.fail(p_login text, p_n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v int := 0;
BEGIN
    FOR i IN 1..p_n LOOP
        BEGIN
            PERFORM erp.sign_in(p_login, 'not-the-password-' || i);
        EXCEPTION WHEN invalid_password THEN
            v := v + 1;
        END;
    END LOOP;
    RETURN v;
END $$;


SELECT is(current_setting('pgerp.signin_max_failures'), '5', 'pgerp.signin_max_failures defaults to 5');
SELECT is(current_setting('pgerp.signin_address_max_failures'), '50', 'pgerp.signin_address_max_failures defaults to 50');

-- ------------------------------------------------------------ the login count
SELECT is(pg_temp.fail('lk_user', 4), 4, 'four wrong passwords: 28P01 each');
SELECT lives_ok($$SELECT pg_temp.login('lk_user')$$, 'after 4 failures the right password still signs in ...');
SELECT is(pg_temp.fail('lk_user', 4), 4, '... and the success reset the count: four more failures');
SELECT lives_ok($$SELECT pg_temp.login('lk_user')$$, '... do not lock the login either');
SELECT is(pg_temp.fail('lk_user', 5), 5, 'five failures within 15 minutes');
SELECT is(pg_temp.error_message($$SELECT erp.sign_in('lk_user', 'lk_user-pass-1')$$),
          '28P01: invalid login or password', 'then the right password is refused: 28P01, the message of a wrong password');
SELECT is(pg_temp.error_detail($$SELECT erp.sign_in('lk_user', 'lk_user-pass-1')$$),
          pg_temp.error_detail($$SELECT erp.sign_in('lk_other', 'a wrong password')$$),
          'a locked login and a wrong password answer alike (no detail)');
SELECT is(pg_temp.error_message($$SELECT erp.sign_in('  LK_User ', 'lk_user-pass-1')$$),
          '28P01: invalid login or password', 'the count is per login whatever its case and surrounding spaces');
SELECT is(pg_temp.error_message($$SELECT erp.sign_in_session('lk_user', 'lk_user-pass-1')$$),
          '28P01: invalid login or password', 'erp.sign_in_session is refused alike');
SELECT lives_ok($$SELECT pg_temp.login('lk_other')$$, 'another login from the same address signs in');

SET pgerp.signin_clock_offset = 20;
SELECT is(pg_temp.error_message($$SELECT erp.sign_in('lk_user', 'lk_user-pass-1')$$),
          '28P01: invalid login or password', '20 s later the backoff (30 s) still refuses');
SET pgerp.signin_clock_offset = 32;
SELECT lives_ok($$SELECT pg_temp.login('lk_user')$$, 'after 30 s the right password signs in again');
SELECT is(erp.current_user_id(), :'lk_user'::bigint, '... as lk_user');
SELECT is(pg_temp.fail('lk_user', 4), 4, 'and the success reset the count: four failures ...');
SELECT lives_ok($$SELECT pg_temp.login('lk_user')$$, '... leave the login open');

-- ------------------------------------------------------------ the backoff doubles
SET pgerp.signin_clock_offset = 0;
SELECT is(pg_temp.fail('lk_double', 5), 5, 'lk_double: five failures, a backoff of 30 s');
SET pgerp.signin_clock_offset = 32;
SELECT is(pg_temp.fail('lk_double', 1), 1, 'after it, one more failure ...');
SET pgerp.signin_clock_offset = 70;
SELECT is(pg_temp.error_message($$SELECT erp.sign_in('lk_double', 'lk_double-pass-1')$$),
          '28P01: invalid login or password', '... earns 60 s: 38 s later still refused');
SET pgerp.signin_clock_offset = 95;
SELECT lives_ok($$SELECT pg_temp.login('lk_double')$$, '63 s later the login is open again');
SET pgerp.signin_clock_offset = 0;

-- ------------------------------------------------------------ unknown logins
SELECT is(pg_temp.fail('lk_nobody', 6), 6, 'an unknown login: 28P01 whether counted or locked');
SELECT is(erp._signin_reset('lk_nobody'), 1, 'it has a counter like any login (erp._signin_reset forgets it)');

-- ------------------------------------------------------------ the address count
SET pgerp.signin_address_max_failures = 3;
SELECT erp._signin_client_address('203.0.113.7') AS addr \gset
SELECT is(pg_temp.fail('lk_guess_1', 1) + pg_temp.fail('lk_guess_2', 1) + pg_temp.fail('lk_guess_3', 1), 3,
          'one address guesses three logins once each');
SELECT is(pg_temp.error_message($$SELECT erp.sign_in('lk_addr', 'lk_addr-pass-1')$$),
          '28P01: invalid login or password', 'then that address is refused even for a right password of another login');
SELECT erp._signin_client_address('198.51.100.9') AS addr \gset
SELECT lives_ok($$SELECT pg_temp.login('lk_addr')$$, 'the same login from another address signs in');
SELECT erp._signin_client_address(NULL) AS addr \gset
SELECT lives_ok($$SELECT pg_temp.login('lk_reset')$$, 'and from the connection''s own address ("local")');
RESET pgerp.signin_address_max_failures;

-- ------------------------------------------------------------ who may drive it
SELECT erp.sign_out() AS signed_out \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SET pgerp.signin_clock_offset = 1000$$, '42501', NULL,
                 'the application role cannot move the throttling clock');
SELECT throws_ok($$SELECT erp._signin_reset()$$, '42501', NULL,
                 'nor forget failures (erp._signin_reset is not published)');
SELECT throws_ok($$SELECT erp._signin_client_address('192.0.2.1')$$, '42501', NULL,
                 'nor choose the address it is counted under');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
