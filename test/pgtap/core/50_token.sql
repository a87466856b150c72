-- erp.use_token: tokens from sign_in, their claims, p_local, and every way a token is refused.
BEGIN;
\ir ../setup.sql
SELECT plan(47);

-- Drop the session identity without signing out (erp.sign_out would revoke
-- the tokens this file goes on using): what RESET ALL and DISCARD ALL do.
\set forget 'RESET pgerp.signed_in;'

CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS dblink;

-- What erp.use_token(p_token) raises: 'SQLSTATE: detail'.
CREATE FUNCTION pg_temp.use_error(p_token text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.error_detail(format('SELECT erp.use_token(%L)', p_token))
$$;

-- base64url without padding, both ways.
CREATE FUNCTION pg_temp.b64url(p bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT rtrim(translate(replace(encode(p, 'base64'), E'\n', ''), '+/', '-_'), '=')
$$;
CREATE FUNCTION pg_temp.b64url_json(p text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_from(decode(rpad(translate(p, '-_', '+/'), (length(p) + 3) / 4 * 4, '='), 'base64'), 'UTF8')::jsonb
$$;

-- A token with the given header and payload, signed with HMAC (sha256 unless told) under p_key.
CREATE FUNCTION pg_temp.jwt(p_header text, p_payload text, p_key bytea, p_hash text DEFAULT 'sha256')
RETURNS text LANGUAGE sql AS $$
    SELECT s || '.' || pg_temp.b64url(hmac(convert_to(s, 'UTF8'), p_key, p_hash))
      FROM (SELECT pg_temp.b64url(convert_to(p_header, 'UTF8')) || '.'
                   || pg_temp.b64url(convert_to(p_payload, 'UTF8')) AS s) t
$$;

CREATE FUNCTION pg_temp.epoch() RETURNS bigint LANGUAGE sql AS $$
    SELECT extract(epoch FROM clock_timestamp())::bigint
$$;

-- Claims for user p_sub in company p_company, with exp and nbf relative to now (NULL: left out),
-- and the user's current token generation.
CREATE FUNCTION pg_temp.claims(p_sub bigint, p_company bigint, p_exp_in bigint, p_nbf_in bigint DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'sub', p_sub::text, 'company', p_company, 'iat', pg_temp.epoch(),
               'gen', (SELECT u.token_generation FROM erp.app_user u WHERE u.id = p_sub),
               'exp', pg_temp.epoch() + p_exp_in, 'nbf', pg_temp.epoch() + p_nbf_in))::text
$$;

-- In a second session: sign in, drop the identity (RESET pgerp.signed_in, which
-- revokes nothing), use_token(p_local), commit, and report
-- who is signed in during the transaction and after it. The user exists only
-- inside that transaction (it is deleted before the commit), so nothing remains.
CREATE FUNCTION pg_temp.remote_identity(p_local boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_tok text;
    v_during bigint;
    v_after bigint;
    v_result text;
BEGIN
    PERFORM dblink_connect('t50', format('host=%s port=%s dbname=%s user=%s',
                                         split_part(current_setting('unix_socket_directories'), ',', 1),
                                         current_setting('port'), current_database(), current_user));
    BEGIN
        PERFORM dblink_exec('t50', 'BEGIN');
        SELECT id INTO v_id FROM dblink('t50', $q$SELECT erp.create_user('t50_remote', 't50-remote-pass')$q$) AS r(id bigint);
        SELECT tok INTO v_tok FROM dblink('t50', $q$SELECT erp.sign_in('t50_remote', 't50-remote-pass')$q$) AS r(tok text);
        PERFORM dblink_exec('t50', 'RESET pgerp.signed_in');
        PERFORM * FROM dblink('t50', format('SELECT erp.use_token(%L, %L)', v_tok, p_local)) AS r(v text);
        SELECT u INTO v_during FROM dblink('t50', 'SELECT erp.current_user_id()') AS r(u bigint);
        PERFORM dblink_exec('t50', format('DELETE FROM erp.app_user WHERE id = %s', v_id));
        PERFORM dblink_exec('t50', 'COMMIT');
        SELECT u INTO v_after FROM dblink('t50', 'SELECT erp.current_user_id()') AS r(u bigint);
        v_result := format('during: %s, after: %s',
                           CASE WHEN v_during = v_id THEN 'the user' ELSE coalesce(v_during::text, 'nobody') END,
                           CASE WHEN v_after = v_id THEN 'the user' ELSE coalesce(v_after::text, 'nobody') END);
    EXCEPTION WHEN OTHERS THEN
        v_result := 'error: ' || SQLERRM;
    END;
    PERFORM dblink_disconnect('t50');
    RETURN v_result;
END $$;

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('tk_user', 'stock_user', :a) AS tk_user \gset
SELECT pg_temp.make_user('tk_off', 'stock_user', :a) AS tk_off \gset

-- Tokens from sign_in (signed with the secret generated at CREATE EXTENSION)
SELECT erp.sign_in('tk_user', 'tk_user-pass-1') AS tok \gset
SELECT erp.sign_in('tk_user', 'tk_user-pass-1', :a1) AS tok_a1 \gset
SELECT erp.sign_in('tk_off', 'tk_off-pass-1') AS tok_off \gset
:forget

SELECT is(pg_temp.b64url_json(split_part(:'tok', '.', 1)) ->> 'alg', 'HS256', 'the token header says alg HS256');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(pg_temp.b64url_json(split_part(:'tok', '.', 2))) k),
          ARRAY['company', 'exp', 'gen', 'iat', 'sub'], 'the payload holds sub, company, gen, iat and exp');
SELECT results_eq(
    format($$SELECT p ->> 'sub', (p ->> 'company')::bigint, (p ->> 'exp')::bigint - (p ->> 'iat')::bigint,
                    jsonb_typeof(p -> 'sub')
               FROM pg_temp.b64url_json(split_part(%L, '.', 2)) p$$, :'tok'),
    format($$VALUES (%L, %s::bigint, 3600::bigint, 'string')$$, :tk_user, :a),
    'sub is the user id as a string, company the default company, exp - iat = 3600');
SELECT is(split_part(:'tok', '.', 3),
          pg_temp.b64url(hmac(convert_to(split_part(:'tok', '.', 1) || '.' || split_part(:'tok', '.', 2), 'UTF8'),
                              (SELECT value FROM erp.secret WHERE name = 'jwt'), 'sha256')),
          'the signature is HMAC-SHA256 under the generated secret');

-- use_token
SELECT lives_ok(format('SELECT erp.use_token(%L)', :'tok'), 'use_token accepts the token from sign_in');
SELECT is(ARRAY[erp.current_user_id(), erp.current_company_id()], ARRAY[:tk_user, :a]::bigint[],
          'use_token sets the user and the company of the token');
:forget
SELECT erp.use_token(:'tok_a1') AS used \gset
SELECT is(erp.current_company_id(), :'a1'::bigint, 'a token issued for A1 acts in A1');
:forget
SELECT throws_ok($$SELECT erp.use_token(NULL)$$, '22004', NULL, 'use_token(NULL): 22004');

-- p_local: inside this transaction only "set" is visible; the end of the
-- transaction is checked in a second session (dblink) just below.
SELECT erp.use_token(:'tok', true) AS used \gset
SELECT is(ARRAY[erp.current_user_id(), erp.current_company_id()], ARRAY[:tk_user, :a]::bigint[],
          'use_token(p_local => true) sets the user and company for the transaction');
SELECT erp.sign_out() AS signed_out \gset
-- that sign_out revoked tk_user's tokens: a new one for the rest of the file
SELECT erp.sign_in('tk_user', 'tk_user-pass-1') AS tok \gset
:forget
SELECT is(pg_temp.remote_identity(true), 'during: the user, after: nobody',
          'a local identity ends when its transaction commits');
SELECT is(pg_temp.remote_identity(false), 'during: the user, after: the user',
          'a session identity outlives the transaction');

-- Tampered, truncated and malformed tokens: 28000 with a precise detail
SELECT is(pg_temp.use_error(split_part(:'tok', '.', 1) || '.'
                            || pg_temp.b64url(convert_to(replace(
                                   (pg_temp.b64url_json(split_part(:'tok', '.', 2)) || jsonb_build_object('company', :b))::text,
                                   ' ', ''), 'UTF8'))
                            || '.' || split_part(:'tok', '.', 3)),
          '28000: The token has a bad signature.', 'a tampered payload (another company): bad signature');
SELECT is(pg_temp.use_error(split_part(:'tok', '.', 1) || '.' || split_part(:'tok', '.', 2) || '.'
                            || CASE WHEN left(split_part(:'tok', '.', 3), 1) = 'A' THEN 'B' ELSE 'A' END
                            || substr(split_part(:'tok', '.', 3), 2)),
          '28000: The token has a bad signature.', 'a tampered signature: bad signature');
SELECT is(pg_temp.use_error(left(:'tok', length(:'tok') - 4)),
          '28000: The token has a bad signature.', 'a token missing the end of its signature: bad signature');
-- one token, one spelling: flipping an unused low bit of the signature's last
-- character decodes to the same bytes but must be refused
SELECT is(pg_temp.use_error(left(:'tok', length(:'tok') - 1)
                            || substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
                                      (strpos('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
                                              right(:'tok', 1)) - 1) # 1 + 1, 1)),
          '28000: The token is malformed.', 'a non-canonical base64url signature (unused bits set) is refused');
SELECT is(pg_temp.use_error(left(:'tok', 30)), '28000: The token is malformed.', 'a token cut inside its header: malformed');
SELECT is(pg_temp.use_error(split_part(:'tok', '.', 1) || '.' || split_part(:'tok', '.', 2)),
          '28000: The token is malformed.', 'a token without its signature part: malformed');
SELECT is(pg_temp.use_error(:'tok' || '.'), '28000: The token is malformed.', 'a token with a fourth part: malformed');
SELECT is(pg_temp.use_error('abc'), '28000: The token is malformed.', '''abc'': malformed');
SELECT is(pg_temp.use_error('a.b'), '28000: The token is malformed.', '''a.b'': malformed');
SELECT is(pg_temp.use_error('a.b.c.d'), '28000: The token is malformed.', '''a.b.c.d'': malformed');
SELECT is(pg_temp.use_error(''), '28000: The token is malformed.', 'an empty token: malformed');
SELECT is(pg_temp.use_error(split_part(:'tok', '.', 1) || '.' || split_part(:'tok', '.', 2) || '.+'
                            || substr(split_part(:'tok', '.', 3), 2)),
          '28000: The token is malformed.', 'a signature in standard base64 (+) rather than base64url: malformed');
SELECT is(pg_temp.use_error(pg_temp.b64url('{"alg":"none","typ":"JWT"}') || '.' || split_part(:'tok', '.', 2) || '.'),
          '28000: The token is not signed with HS256, the only accepted algorithm.',
          'alg none with an empty signature is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt('{"alg":"HS512","typ":"JWT"}',
                                        pg_temp.b64url_json(split_part(:'tok', '.', 2))::text,
                                        (SELECT value FROM erp.secret WHERE name = 'jwt'), 'sha512')),
          '28000: The token is not signed with HS256, the only accepted algorithm.',
          'alg HS512, even correctly signed with the secret, is refused');
SELECT is(erp.current_user_id(), NULL, 'no refused token signed anyone in');

-- Forged tokens under a known secret
SET LOCAL pgerp.jwt_secret = 'pgtap-test-secret-0123456789-abcdefghij';
\set key '\'pgtap-test-secret-0123456789-abcdefghij\'::bytea'
\set hs256 '\'{"alg":"HS256","typ":"JWT"}\''
SELECT lives_ok(format('SELECT erp.use_token(%L)', pg_temp.jwt(:hs256, pg_temp.claims(:tk_user, :a1, 600), :key)),
                'a token built with the configured secret is accepted');
SELECT is(ARRAY[erp.current_user_id(), erp.current_company_id()], ARRAY[:tk_user, :a1]::bigint[],
          '... and acts as its sub in its company');
SELECT erp.sign_in('tk_user', 'tk_user-pass-1') AS tok_conf \gset
SELECT is(split_part(:'tok_conf', '.', 3),
          pg_temp.b64url(hmac(convert_to(split_part(:'tok_conf', '.', 1) || '.' || split_part(:'tok_conf', '.', 2), 'UTF8'),
                              :key, 'sha256')),
          'sign_in signs with pgerp.jwt_secret when it is set');
:forget
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, pg_temp.claims(:tk_user, :a, -3600), :key)),
          '28000: The token has expired.', 'an expired token is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, pg_temp.claims(:tk_user, :a, -20), :key)),
          'no error', 'a token expired 20 s ago is still accepted (30 s leeway)');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, pg_temp.claims(:tk_user, :a, -40), :key)),
          '28000: The token has expired.', 'a token expired 40 s ago is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, pg_temp.claims(:tk_user, :a, 600, 60), :key)),
          '28000: The token is not valid yet.', 'a token valid only in 60 s is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, pg_temp.claims(:tk_user, :a, 600, 20), :key)),
          'no error', 'a token valid in 20 s is accepted (30 s leeway)');
:forget
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, format('{"company":%s,"exp":%s}', :a, pg_temp.epoch() + 600), :key)),
          '28000: The token''s claims are missing or malformed.', 'a token without sub is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, format('{"sub":"%s","company":%s}', :tk_user, :a), :key)),
          '28000: The token''s claims are missing or malformed.', 'a token without exp is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, format('{"sub":"%s","company":"%s","exp":%s}', :tk_user, :a,
                                                         pg_temp.epoch() + 600), :key)),
          '28000: The token''s claims are missing or malformed.', 'a company given as a string is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, pg_temp.claims((SELECT max(id) + 1000 FROM erp.app_user), :a, 600), :key)),
          '28000: The token''s user does not exist or is disabled.', 'a token for an unknown user is refused');
SELECT is(pg_temp.use_error(pg_temp.jwt(:hs256, pg_temp.claims(:tk_user, :b, 600), :key)),
          '42501: The user holds no role on that company or on a parent that reaches it.',
          'a validly signed token for a company the user may not act in is refused');
SELECT is(erp.current_user_id(), NULL, '... and leaves nobody signed in');

-- The generated secret's tokens stop working while another secret is configured
SELECT is(pg_temp.use_error(:'tok'), '28000: The token has a bad signature.',
          'a token signed with the generated secret is refused under pgerp.jwt_secret');
SET LOCAL pgerp.jwt_secret = '';
SELECT is(pg_temp.use_error(:'tok'), 'no error', '... and accepted again once pgerp.jwt_secret is empty');
:forget

-- A deactivated user's token
SELECT is(pg_temp.use_error(:'tok_off'), 'no error', 'tk_off''s token works while tk_off is active');
:forget
UPDATE erp.app_user SET active = false WHERE id = :tk_off;
SELECT is(pg_temp.use_error(:'tok_off'), '28000: The token''s user does not exist or is disabled.',
          'the token of a deactivated user is refused');
SELECT is(erp.current_user_id(), NULL, 'nobody is signed in after the refused token');

-- The application role uses tokens too (use_token reads the secret on its behalf)
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.use_error(:'tok'), 'no error', 'pgerp_app may use a token');
SELECT is(erp.current_user_id(), :'tk_user'::bigint, '... and then acts as its user');
RESET ROLE;
:forget

SELECT * FROM finish();
ROLLBACK;
