-- erp.create_user and erp.set_password: scrypt hashes, bad input, duplicates, who may change whose password.
BEGIN;
\ir ../setup.sql
SELECT plan(52);

-- Everything an error reports (message, detail, hint, context) for a statement
-- that gets the password as $1, so that our own statement text carries no password.
CREATE FUNCTION pg_temp.error_text(p_sql text, p_password text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg text;
    v_detail text;
    v_hint text;
    v_context text;
BEGIN
    EXECUTE p_sql USING p_password;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                            v_hint = PG_EXCEPTION_HINT, v_context = PG_EXCEPTION_CONTEXT;
    RETURN concat_ws(E'\n', v_state, v_msg, v_detail, v_hint, v_context);
END $$;

SELECT * FROM pg_temp.make_tree() \gset

-- create_user: the stored hash
SELECT erp.create_user('us_one', 'correct horse 1') AS us_one \gset
SELECT erp.create_user('us_two', 'correct horse 1', '  Second User  ') AS us_two \gset
SELECT password_hash AS hash_one FROM erp.app_user WHERE id = :us_one \gset
SELECT password_hash AS hash_two FROM erp.app_user WHERE id = :us_two \gset

SELECT matches(:'hash_one'::text, '^\$scrypt\$ln=15,r=8,p=1\$',
               'the hash starts with $scrypt$ln=15,r=8,p=1$');
SELECT matches(:'hash_one'::text, '^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$',
               'the hash is a 16-byte salt and a 32-byte key, both base64');
SELECT isnt(:'hash_one'::text, 'correct horse 1', 'the hash is not the password');
SELECT is(strpos(:'hash_one'::text, 'correct horse'), 0, 'the hash does not contain the password');
SELECT isnt(:'hash_one'::text, :'hash_two'::text, 'two users with the same password get different hashes');
SELECT isnt(split_part(:'hash_one'::text, '$', 4), split_part(:'hash_two'::text, '$', 4), '... because their salts differ');
SELECT results_eq(format('SELECT login, name, active FROM erp.app_user WHERE id IN (%s, %s) ORDER BY id',
                         :us_one, :us_two),
                  $$VALUES ('us_one'::text, 'us_one'::text, true), ('us_two', 'Second User', true)$$,
                  'the name defaults to the login, a given name is trimmed, users start active');
SELECT is(erp.create_user('  us_trim  ', 'correct horse 1') > 0, true, 'a login with surrounding spaces is accepted');
SELECT is((SELECT count(*)::int FROM erp.app_user WHERE login = 'us_trim'), 1, '... and stored trimmed');
SELECT lives_ok($$SELECT erp.sign_in('us_one', 'correct horse 1')$$, 'the stored hash verifies the password');
SELECT is(erp.current_user_id(), :'us_one'::bigint, 'sign_in with it acts as the new user');
SELECT erp.sign_out() AS signed_out \gset

-- create_user: bad passwords (bootstrap)
SELECT count(*) AS users_before FROM erp.app_user \gset
SELECT throws_ok($$SELECT erp.create_user('us_short', 'seven77')$$, '22023', 'password is too short',
                 'a 7-byte password is refused');
SELECT matches(pg_temp.error_text('SELECT erp.create_user(''us_short'', $1)', 'Sekr3t!'),
               '^22023\npassword is too short\nA password must be at least 10 characters long\.',
               'the short password error has a message and a detail');
SELECT is(strpos(pg_temp.error_text('SELECT erp.create_user(''us_short'', $1)', 'Sekr3t!'), 'Sekr3t!'), 0,
          '... none of which (message, detail, hint, context) contains the password');
SELECT throws_ok($$SELECT erp.create_user('us_short', 'ééé')$$, '22023', 'password is too short',
                 'the minimum counts characters: 3 characters of 2 bytes are refused');
SELECT throws_ok($$SELECT erp.create_user('us_null', NULL)$$, '22004', 'password must not be null',
                 'a NULL password is refused with 22004');
SELECT throws_ok(format('SELECT erp.create_user(%L, %L)', 'us_long', repeat('x', 1025)), '22023',
                 'password is too long', 'a password longer than 1024 bytes is refused');
SELECT is(strpos(pg_temp.error_text('SELECT erp.create_user(''us_long'', $1)', repeat('Q', 1030)), 'QQQQQQQQ'), 0,
          'the error of a long password does not contain the password');

-- create_user: bad and duplicate logins
SELECT throws_ok($$SELECT erp.create_user(NULL, 'correct horse 1')$$, '22023', 'invalid login NULL',
                 'a NULL login is refused');
SELECT throws_ok($$SELECT erp.create_user('', 'correct horse 1')$$, '22023', NULL, 'an empty login is refused');
SELECT throws_ok($$SELECT erp.create_user('   ', 'correct horse 1')$$, '22023', NULL, 'a blank login is refused');
SELECT throws_ok($$SELECT erp.create_user('has space', 'correct horse 1')$$, '22023',
                 'invalid login ''has space''', 'a login with an inner space is refused');
SELECT throws_ok($$SELECT erp.create_user('semi;colon', 'correct horse 1')$$, '22023', NULL,
                 'a login with ; is refused');
SELECT throws_ok($$SELECT erp.create_user('jürgen', 'correct horse 1')$$, '22023', NULL,
                 'a login with a non-ASCII letter is refused');
SELECT throws_ok(format('SELECT erp.create_user(%L, %L)', repeat('x', 129), 'correct horse 1'), '22023', NULL,
                 'a 129-character login is refused');
SELECT throws_ok($$SELECT erp.create_user('US_ONE', 'correct horse 1')$$, '23505',
                 'login ''US_ONE'' is already taken', 'a login differing only in case is a duplicate');
SELECT throws_ok($$SELECT erp.create_user(' us_two ', 'correct horse 1')$$, '23505', NULL,
                 'a login differing only in surrounding spaces is a duplicate');
SELECT is((SELECT count(*) FROM erp.app_user), :'users_before'::bigint, 'no user was written by the refused calls');
SELECT lives_ok(format('SELECT erp.create_user(%L, %L)', 'x.y_z@e+1-' || repeat('k', 118), '1234567890'),
                'a 128-character login of every allowed character class and a 10-character password are accepted');

-- who may create users
SELECT pg_temp.make_user('us_plain', 'stock_user', :a) AS us_plain \gset
SELECT pg_temp.make_user('us_target', 'stock_user', :a) AS us_target \gset
SELECT erp.grant_role(:us_target, 'stock_user', :b) AS granted \gset
SELECT pg_temp.make_user('us_admin_a', 'admin', :a) AS us_admin_a \gset
SELECT pg_temp.make_user('us_admin_g', 'admin', :g) AS us_admin_g \gset
SELECT erp.sign_in('us_plain', 'us_plain-pass-1') IS NOT NULL AS signed \gset
SELECT throws_ok($$SELECT erp.create_user('us_by_plain', 'correct horse 1')$$, '42501',
                 'permission denied for "erp.app_user:create"', 'a user without erp.app_user:create cannot create users');
SELECT erp.sign_in('us_admin_a', 'us_admin_a-pass-1') IS NOT NULL AS signed \gset
SELECT lives_ok($$SELECT erp.create_user('us_by_admin', 'correct horse 1')$$, 'an admin creates users');

-- set_password: own account
SELECT erp.sign_in('us_plain', 'us_plain-pass-1') IS NOT NULL AS signed \gset
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :us_plain, 'plain new pass'),
                'a signed-in user changes their own password');
SELECT matches((SELECT password_hash FROM erp.app_user WHERE id = :us_plain), '^\$scrypt\$ln=15,r=8,p=1\$',
               'the new password is stored as an scrypt hash');
SELECT throws_ok($$SELECT erp.sign_in('us_plain', 'us_plain-pass-1')$$, '28P01', 'invalid login or password',
                 'the old password no longer signs in');
SELECT lives_ok($$SELECT erp.sign_in('us_plain', 'plain new pass')$$, 'the new password signs in');

-- set_password: someone else's
SELECT password_hash AS target_hash FROM erp.app_user WHERE id = :us_target \gset
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :us_target, 'stolen password'), '42501', NULL,
                 'a user without erp.app_user:write cannot change another user''s password');
SELECT erp.sign_in('us_admin_a', 'us_admin_a-pass-1') IS NOT NULL AS signed \gset
SELECT is(pg_temp.error_detail(format('SELECT erp.set_password(%s, %L)', :us_target, 'stolen password')),
          '42501: Changing another user''s account needs erp.app_user:write on every company where that user holds a role; an account without roles is changed only by a superuser or by its user.',
          'an admin of A cannot change the password of a user who also holds a role on B (the detail names no company)');
SELECT is((SELECT password_hash FROM erp.app_user WHERE id = :us_target), :'target_hash'::text,
          'the refused changes left the target''s hash alone');
SELECT erp.sign_in('us_admin_g', 'us_admin_g-pass-1') IS NOT NULL AS signed \gset
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :us_target, 'target new pass'),
                'an admin of G (covering A and B) changes that user''s password');
SELECT throws_ok($$SELECT erp.sign_in('us_target', 'us_target-pass-1')$$, '28P01', 'invalid login or password',
                 'the target''s old password then fails');
SELECT lives_ok($$SELECT erp.sign_in('us_target', 'target new pass')$$, 'the target''s new password works');
SELECT is(erp.current_user_id(), :'us_target'::bigint, '... and acts as the target');

-- set_password: a user holding no role, and the application role with nobody signed in
SELECT erp.sign_in('us_plain', 'plain new pass') IS NOT NULL AS signed \gset
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :us_two, 'stolen password'), '42501', NULL,
                 'a plain user cannot change the password of a user holding no role');
-- #11.4: an admin of A setting the password of a user without roles would be
-- let into whichever company grants that user a role later
SELECT erp.sign_in('us_admin_a', 'us_admin_a-pass-1') IS NOT NULL AS signed \gset
SELECT password_hash AS two_hash FROM erp.app_user WHERE id = :us_two \gset
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :us_two, 'two new pass'), '42501',
                 format('permission denied for "erp.app_user:write" on user %s', :us_two),
                 'an admin of A cannot change the password of a user who holds no role yet');
SELECT is((SELECT password_hash FROM erp.app_user WHERE id = :us_two), :'two_hash'::text,
          '... and that user''s hash is unchanged');
SELECT erp.sign_out() AS signed_out \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :us_two, 'anon new pass'), '42501', NULL,
                 'pgerp_app with nobody signed in cannot change a password');
SELECT throws_ok($$SELECT erp.create_user('us_by_app', 'correct horse 1')$$, '42501', NULL,
                 'pgerp_app with nobody signed in cannot create a user');
RESET ROLE;

-- set_password: bad input
SELECT erp.sign_out() AS signed_out \gset
SELECT password_hash AS target_hash FROM erp.app_user WHERE id = :us_target \gset
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :us_target, 'short'), '22023', 'password is too short',
                 'set_password refuses a short password');
SELECT throws_ok(format('SELECT erp.set_password(%s, NULL)', :us_target), '22004', NULL,
                 'set_password refuses a NULL password');
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', (SELECT max(id) + 1000 FROM erp.app_user), 'long enough 1'),
                 '22023', NULL, 'set_password refuses an unknown user (bootstrap)');
SELECT throws_ok($$SELECT erp.set_password(NULL, 'long enough 1')$$, '22023', 'user NULL does not exist',
                 'set_password refuses a NULL user');
SELECT is((SELECT password_hash FROM erp.app_user WHERE id = :us_target), :'target_hash'::text,
          'the refused changes left the hash alone');

SELECT * FROM finish();
ROLLBACK;
