-- Token revocation (#11.13): a password change, erp.revoke_sessions, a deactivation and
-- erp.sign_out refuse every token issued before them (28000 "access token has been revoked").
BEGIN;
\ir ../setup.sql
SELECT plan(47);

CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Drop the session identity without signing out (what RESET ALL and DISCARD ALL do).
\set forget 'RESET pgerp.signed_in;'

-- 'SQLSTATE: message' of erp.use_token(p_token), 'no error' when it is accepted.
CREATE FUNCTION pg_temp.use_msg(p_token text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp.use_token(p_token);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- A token signed with a configured secret, with the given payload.
CREATE FUNCTION pg_temp.b64url(p bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT rtrim(translate(replace(encode(p, 'base64'), E'\n', ''), '+/', '-_'), '=')
$$;
CREATE FUNCTION pg_temp.jwt(p_payload text) RETURNS text LANGUAGE sql AS $$
    SELECT s || '.' || pg_temp.b64url(hmac(convert_to(s, 'UTF8'), 'pgtap-test-secret-0123456789-abcdefghij'::bytea, 'sha256'))
      FROM (SELECT pg_temp.b64url(convert_to('{"alg":"HS256","typ":"JWT"}', 'UTF8')) || '.'
                   || pg_temp.b64url(convert_to(p_payload, 'UTF8')) AS s) t
$$;
CREATE FUNCTION pg_temp.gen_of(p_user bigint) RETURNS bigint LANGUAGE sql AS $$
    SELECT token_generation FROM erp.app_user WHERE id = p_user
$$;

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('rv_user', 'stock_user', :a) AS rv_user \gset
SELECT pg_temp.make_user('rv_other', 'stock_user', :a) AS rv_other \gset
SELECT pg_temp.make_user('rv_admin_a', 'admin', :a) AS rv_admin_a \gset
SELECT pg_temp.make_user('rv_admin_b', 'admin', :b) AS rv_admin_b \gset
SELECT pg_temp.make_user('rv_off', 'stock_user', :a) AS rv_off \gset

SELECT is(pg_temp.gen_of(:rv_user), 0::bigint, 'a new user starts at token generation 0');

-- ---------------------------------------------------------- a password change
SELECT erp.sign_in('rv_user', 'rv_user-pass-1') AS tok1 \gset
SELECT erp.sign_in('rv_other', 'rv_other-pass-1') AS tok_other \gset
:forget
SELECT is(pg_temp.use_msg(:'tok1'), 'no error', 'the token works before the password change');
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :rv_user, 'rv new pass 1'),
                'the user changes their own password (signed in with the token)');
SELECT is(pg_temp.gen_of(:rv_user), 1::bigint, '... which advances the token generation');
:forget
SELECT is(pg_temp.use_msg(:'tok1'), '28000: access token has been revoked',
          'a token issued before the password change is refused (28000, revoked)');
SELECT is(pg_temp.error_hint(format('SELECT erp.use_token(%L)', :'tok1')), '28000: Sign in again.',
          '... with a hint to sign in again');
SELECT is(erp.current_user_id(), NULL, '... and signs nobody in');
SELECT is(pg_temp.use_msg(:'tok_other'), 'no error', 'another user''s token is not affected');
:forget
SELECT erp.sign_in('rv_user', 'rv new pass 1') AS tok2 \gset
:forget
SELECT is(pg_temp.use_msg(:'tok2'), 'no error', 'a token issued after the change works');
:forget

-- an administrator changes the password: the same
SELECT pg_temp.login('rv_admin_a');
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :rv_user, 'rv new pass 2'),
                'an admin of A changes rv_user''s password');
:forget
SELECT is(pg_temp.use_msg(:'tok2'), '28000: access token has been revoked',
          'the token issued before the admin''s change is refused');
-- a superuser's direct UPDATE of the hash counts too (the trigger)
SELECT erp.sign_in('rv_user', 'rv new pass 2') AS tok3 \gset
:forget
UPDATE erp.app_user SET password_hash = (SELECT password_hash FROM erp.app_user WHERE id = :rv_other) WHERE id = :rv_user;
SELECT is(pg_temp.use_msg(:'tok3'), '28000: access token has been revoked',
          'a hash replaced by a superuser''s UPDATE revokes the tokens too');
UPDATE erp.app_user SET name = 'renamed' WHERE id = :rv_other;
SELECT is(pg_temp.use_msg(:'tok_other'), 'no error', 'an UPDATE of another column revokes nothing');
:forget

-- ---------------------------------------------------------- erp.revoke_sessions
SELECT erp.sign_in('rv_user', 'rv_other-pass-1') AS tok4 \gset
SELECT lives_ok(format('SELECT erp.revoke_sessions(%s)', :rv_user), 'a user revokes their own sessions');
:forget
SELECT is(pg_temp.use_msg(:'tok4'), '28000: access token has been revoked',
          'a token issued in the same second as the revocation is refused (generation, not iat)');
SELECT erp.sign_in('rv_user', 'rv_other-pass-1') AS tok5 \gset
:forget
SELECT is(pg_temp.use_msg(:'tok5'), 'no error', 'a token issued after the revocation works');
:forget
SELECT pg_temp.login('rv_admin_a');
SELECT lives_ok(format('SELECT erp.revoke_sessions(%s)', :rv_user), 'an admin of A revokes rv_user''s sessions');
:forget
SELECT is(pg_temp.use_msg(:'tok5'), '28000: access token has been revoked', '... and the token is refused');
SELECT pg_temp.gen_of(:rv_other) AS other_gen \gset
SELECT pg_temp.login('rv_admin_b');
SELECT throws_ok(format('SELECT erp.revoke_sessions(%s)', :rv_other), '42501',
                 format('permission denied for "erp.app_user:write" on user %s', :rv_other),
                 'an admin of B cannot revoke the sessions of a user of A');
SELECT throws_ok(format('SELECT erp.revoke_sessions(%s)', (SELECT max(id) + 1000 FROM erp.app_user)), '42501',
                 format('permission denied for "erp.app_user:write" on user %s', (SELECT max(id) + 1000 FROM erp.app_user)),
                 '... nor of a user that does not exist: the same error');
SELECT pg_temp.login('rv_other');
SELECT throws_ok(format('SELECT erp.revoke_sessions(%s)', :rv_user), '42501', NULL,
                 'a plain user cannot revoke another user''s sessions');
:forget
SELECT is(pg_temp.gen_of(:rv_other), :'other_gen'::bigint, 'the refused calls changed nothing');
SELECT throws_ok('SELECT erp.revoke_sessions(NULL)', '22023', 'user NULL does not exist',
                 'bootstrap: revoke_sessions(NULL) (22023)');
SELECT throws_ok(format('SELECT erp.revoke_sessions(%s)', (SELECT max(id) + 1000 FROM erp.app_user)), '22023', NULL,
                 'bootstrap: an unknown user (22023)');
SELECT lives_ok(format('SELECT erp.revoke_sessions(%s)', :rv_other), 'the bootstrap caller revokes anybody''s sessions');
SELECT is(pg_temp.use_msg(:'tok_other'), '28000: access token has been revoked', '... and rv_other''s token is refused');
SET LOCAL ROLE pgerp_app;
SELECT throws_ok(format('SELECT erp.revoke_sessions(%s)', :rv_other), '42501', NULL,
                 'pgerp_app with nobody signed in cannot revoke sessions');
RESET ROLE;
SELECT is(has_function_privilege('pgerp_app', 'erp.revoke_sessions(bigint)', 'EXECUTE'), true,
          'erp.revoke_sessions is published to the application role');

-- ---------------------------------------------------------- deactivation
SELECT erp.sign_in('rv_off', 'rv_off-pass-1') AS tok_off \gset
:forget
UPDATE erp.app_user SET active = false WHERE id = :rv_off;
SELECT is(pg_temp.use_msg(:'tok_off'), '28000: invalid access token', 'a deactivated user''s token is refused');
UPDATE erp.app_user SET active = true WHERE id = :rv_off;
SELECT is(pg_temp.use_msg(:'tok_off'), '28000: access token has been revoked',
          '... and stays refused after the user is reactivated');
SELECT erp.sign_in('rv_off', 'rv_off-pass-1') AS tok_off2 \gset
:forget
SELECT is(pg_temp.use_msg(:'tok_off2'), 'no error', 'the reactivated user signs in again with a fresh token');
:forget

-- ---------------------------------------------------------- sign_out
SELECT erp.sign_in('rv_other', 'rv_other-pass-1') AS tok6 \gset
SELECT erp.sign_in('rv_admin_a', 'rv_admin_a-pass-1') AS tok_adm \gset
:forget
SELECT erp.use_token(:'tok6') AS used \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT is(pg_temp.use_msg(:'tok6'), '28000: access token has been revoked',
          'sign_out revokes the token the session used');
SELECT is(erp.current_user_id(), NULL, '... and nobody is signed in');
SELECT is(pg_temp.use_msg(:'tok_adm'), 'no error', 'another user''s token survives that sign_out');
:forget
-- a local identity and a session identity: sign_out revokes both users' tokens
SELECT erp.sign_in('rv_other', 'rv_other-pass-1') AS tok7 \gset
SELECT erp.use_token(:'tok_adm', true) AS used \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT is(pg_temp.use_msg(:'tok7'), '28000: access token has been revoked',
          'sign_out with a local identity revokes the session user''s tokens');
:forget
SELECT is(pg_temp.use_msg(:'tok_adm'), '28000: access token has been revoked',
          '... and the local user''s');
:forget
SELECT pg_temp.gen_of(:rv_other) AS other_gen \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT is(pg_temp.gen_of(:rv_other), :'other_gen'::bigint, 'sign_out with nobody signed in revokes nothing');
-- a read-only transaction: signed out, but nothing revoked (25006)
SELECT erp.sign_in('rv_other', 'rv_other-pass-1') AS tok9 \gset
SELECT throws_ok($$SELECT set_config('transaction_read_only', 'on', true), erp.sign_out()$$, '25006', NULL,
                 'sign_out in a read-only transaction fails with 25006 ...');
SELECT is(erp.current_user_id(), NULL, '... after it has signed the session out');
SELECT is(pg_temp.use_msg(:'tok9'), 'no error', '... and without revoking the token');
:forget

-- ---------------------------------------------------------- the claim
SELECT erp.sign_in('rv_other', 'rv_other-pass-1') AS tok8 \gset
:forget
SELECT is((convert_from(decode(rpad(translate(split_part(:'tok8', '.', 2), '-_', '+/'),
                                    (length(split_part(:'tok8', '.', 2)) + 3) / 4 * 4, '='), 'base64'), 'UTF8')::jsonb ->> 'gen')::bigint,
          pg_temp.gen_of(:rv_other), 'the token carries the user''s generation as claim gen');
SET LOCAL pgerp.jwt_secret = 'pgtap-test-secret-0123456789-abcdefghij';
SELECT erp.create_user('rv_fresh', 'rv_fresh-pass-1') AS rv_fresh \gset
SELECT erp.grant_role(:rv_fresh, 'stock_user', :a) AS granted \gset
SELECT is(pg_temp.use_msg(pg_temp.jwt(format('{"sub":"%s","exp":%s}', :rv_fresh, extract(epoch FROM now())::bigint + 600))),
          'no error', 'a token without gen (issued by 0.1.0) counts as generation 0 and works while it is current');
:forget
SELECT erp.revoke_sessions(:rv_fresh) AS revoked \gset
SELECT is(pg_temp.use_msg(pg_temp.jwt(format('{"sub":"%s","exp":%s}', :rv_fresh, extract(epoch FROM now())::bigint + 600))),
          '28000: access token has been revoked', '... and is refused after a revocation');
SELECT is(pg_temp.use_msg(pg_temp.jwt(format('{"sub":"%s","gen":5,"exp":%s}', :rv_fresh, extract(epoch FROM now())::bigint + 600))),
          '28000: access token has been revoked', 'a generation ahead of the user''s is refused too');
SELECT is(pg_temp.error_detail(format('SELECT erp.use_token(%L)',
              pg_temp.jwt(format('{"sub":"%s","gen":-1,"exp":%s}', :rv_fresh, extract(epoch FROM now())::bigint + 600)))),
          '28000: The token''s claims are missing or malformed.', 'a negative gen is a malformed claim');
SELECT is(pg_temp.error_detail(format('SELECT erp.use_token(%L)',
              pg_temp.jwt(format('{"sub":"%s","gen":"1","exp":%s}', :rv_fresh, extract(epoch FROM now())::bigint + 600)))),
          '28000: The token''s claims are missing or malformed.', 'a gen given as a string is a malformed claim');
SELECT is(erp.current_user_id(), NULL, 'no refused token signed anyone in');

SELECT * FROM finish();
ROLLBACK;
