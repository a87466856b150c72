-- Refresh tokens (#5): erp.sign_in_session gives a pair, erp.refresh rotates
-- it; a refresh token is single-use, and a used one presented again revokes
-- its whole family; expiry; revocation by erp.revoke_sessions, a password
-- change, a deactivation and erp.sign_out.
BEGIN;
\ir ../setup.sql
SELECT plan(43);

CREATE FUNCTION pg_temp.refresh_of(p_token text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.error_message(format('SELECT erp.refresh(%L)', p_token))
$$;
CREATE FUNCTION pg_temp.use_of(p_token text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.error_message(format('SELECT erp.use_token(%L)', p_token))
$$;
-- the SHA-256 of a token's secret, as the table should hold it
CREATE FUNCTION pg_temp.secret_hash(p_token text) RETURNS bytea LANGUAGE sql AS $$
    SELECT sha256(decode(translate(split_part(p_token, '.', 2), '-_', '+/') || '=', 'base64'))
$$;

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('rf_user', 'stock_user', :a) AS rf_user \gset
SELECT pg_temp.make_user('rf_admin', 'admin', :a) AS rf_admin \gset

-- ------------------------------------------------------------ a pair
SELECT access_token AS at1, refresh_token AS rt1, expires_at AS exp1
  FROM erp.sign_in_session('rf_user', 'rf_user-pass-1', :a1) \gset
SELECT is(erp.current_user_id(), :'rf_user'::bigint, 'sign_in_session signs in like sign_in ...');
SELECT is(erp.current_company_id(), :'a1'::bigint, '... in the company asked for');
SELECT matches(:'rt1'::text, '^[0-9]+\.[A-Za-z0-9_-]{43}$', 'the refresh token is <id>.<32 bytes, base64url>');
SELECT ok(abs(extract(epoch FROM :'exp1'::timestamptz - now()) - 3600) < 5,
          'expires_at is the access token''s expiry (pgerp.token_ttl, 1 hour)');
SELECT is(pg_temp.use_of(:'at1'), 'no error', 'the access token is accepted');
SELECT results_eq(
    format($$SELECT user_id, company_claim, generation, token_hash = pg_temp.secret_hash(%L), used_at IS NULL, revoked_at IS NULL,
                    abs(extract(epoch FROM expires_at - now()) - 30 * 86400) < 5
               FROM erp.refresh_token WHERE id = split_part(%L, '.', 1)::bigint$$, :'rt1', :'rt1'),
    format($$VALUES (%s::bigint, %s::bigint, 0::bigint, true, true, true, true)$$, :rf_user, :a1),
    'the table keeps the user, the company claim, the generation and only the SHA-256 of the secret; it lives 30 days');
SELECT is((SELECT family FROM erp.refresh_token WHERE id = split_part(:'rt1', '.', 1)::bigint),
          split_part(:'rt1', '.', 1)::bigint, 'the first token of a sign-in starts its family');

-- ------------------------------------------------------------ rotation
SELECT erp.sign_out() AS signed_out \gset
SELECT is(erp.current_user_id(), NULL, 'nobody signed in ...');
-- sign_out revoked every token issued so far: sign in again for the rest
SELECT access_token AS at1, refresh_token AS rt1 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1', :a1) \gset
-- drop the session identity without signing out (as RESET ALL does)
RESET pgerp.signed_in;
SELECT is(erp.current_user_id(), NULL, 'nobody is signed in when the client comes back');
SET LOCAL ROLE pgerp_app;
SELECT access_token AS at2, refresh_token AS rt2, expires_at AS exp2 FROM erp.refresh(:'rt1') \gset
RESET ROLE;
SELECT isnt(:'rt2'::text, :'rt1'::text, '... the application role trades the refresh token for a new pair');
SELECT matches(:'at2'::text, '^eyJ[^.]+\.eyJ[^.]+\.[A-Za-z0-9_-]+$', 'with an access token');
SELECT is(pg_temp.use_of(:'at2'), 'no error', 'which is accepted ...');
SELECT is(erp.current_company_id(), :'a1'::bigint, '... and carries the company claim of the old one');
SELECT is((SELECT family FROM erp.refresh_token WHERE id = split_part(:'rt2', '.', 1)::bigint),
          split_part(:'rt1', '.', 1)::bigint, 'the new refresh token is of the same family');
SELECT ok((SELECT used_at IS NOT NULL FROM erp.refresh_token WHERE id = split_part(:'rt1', '.', 1)::bigint),
          'the old one is marked used');
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE rel = 'erp.sign_in' AND op = 'refresh'
             AND user_id = :rf_user AND (changes->>'family')::bigint = split_part(:'rt1', '.', 1)::bigint), 1,
          'a refresh counts as a sign-in in the audit trail');

-- ------------------------------------------------------------ reuse revokes the family
SELECT access_token AS at3, refresh_token AS rt3 FROM erp.refresh(:'rt2') \gset
SELECT is(pg_temp.refresh_of(:'rt1'), '28000: refresh token was already used',
          'the first token again: 28000 ...');
SELECT is(pg_temp.refresh_of(:'rt3'), '28000: refresh token has been revoked',
          '... and the newest token of the family is refused from then on');
SELECT is(pg_temp.refresh_of(:'rt2'), '28000: refresh token has been revoked', 'so is every other one');
SELECT ok(erp._flush_signin_audit() >= 1, 'the queued revocation is written by the next flush ...');
SELECT is((SELECT count(*)::int FROM erp.refresh_token WHERE family = split_part(:'rt1', '.', 1)::bigint AND revoked_at IS NULL), 0,
          '... every token of the family is revoked in the table');
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE rel = 'erp.sign_in' AND op = 'refresh_reuse'
             AND (changes->>'family')::bigint = split_part(:'rt1', '.', 1)::bigint), 1,
          '... and the reuse is in the audit trail');
SELECT is(pg_temp.refresh_of(:'rt3'), '28000: refresh token has been revoked', 'still refused once written');

-- another sign-in is another family, untouched
SELECT refresh_token AS rt4 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1') \gset
SELECT is(pg_temp.refresh_of(:'rt4'), 'no error', 'another sign-in''s family is not revoked');

-- ------------------------------------------------------------ bad tokens
SELECT refresh_token AS rt5 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1') \gset
SELECT is(pg_temp.refresh_of('garbage'), '28000: invalid refresh token', 'a malformed token: 28000');
SELECT is(pg_temp.refresh_of(split_part(:'rt5', '.', 1) || '.' || repeat('A', 43)), '28000: invalid refresh token',
          'a known id with a wrong secret: 28000 ...');
SELECT is(pg_temp.refresh_of(:'rt5'), 'no error', '... which does not revoke the real token');
SELECT is(pg_temp.refresh_of('999999999.' || split_part(:'rt5', '.', 2)), '28000: invalid refresh token', 'an unknown id: 28000');
SELECT throws_ok($$SELECT erp.refresh(NULL)$$, '22004', 'refresh token must not be null', 'NULL: 22004');
SELECT is(pg_temp.error_detail(format('SELECT erp.refresh(%L)', :'rt5')),
          '28000: A refresh token is single-use; every token of its sign-in is now revoked.', 'the detail of a reuse');

-- ------------------------------------------------------------ expiry and cleanup
SET pgerp.refresh_ttl = '2min';
SELECT refresh_token AS rt6 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1') \gset
SELECT ok((SELECT abs(extract(epoch FROM expires_at - now()) - 120) < 5 FROM erp.refresh_token
            WHERE id = split_part(:'rt6', '.', 1)::bigint), 'pgerp.refresh_ttl sets the lifetime');
RESET pgerp.refresh_ttl;
UPDATE erp.refresh_token SET expires_at = now() - interval '1 second' WHERE id = split_part(:'rt6', '.', 1)::bigint;
SELECT is(pg_temp.refresh_of(:'rt6'), '28000: refresh token has expired', 'an expired refresh token is refused');
SELECT refresh_token AS rt7 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1') \gset
SELECT is((SELECT count(*)::int FROM erp.refresh_token WHERE id = split_part(:'rt6', '.', 1)::bigint), 0,
          'expired tokens are deleted by the next sign_in_session or refresh');

-- ------------------------------------------------------------ revocation
SELECT access_token AS at8, refresh_token AS rt8 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1') \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT is(pg_temp.refresh_of(:'rt8'), '28000: refresh token has been revoked', 'erp.sign_out refuses the refresh tokens issued before');

SELECT access_token AS at8, refresh_token AS rt8 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1') \gset
SELECT pg_temp.login('rf_admin');
SELECT erp.revoke_sessions(:rf_user) AS revoked \gset
SELECT is(pg_temp.refresh_of(:'rt8'), '28000: refresh token has been revoked', 'erp.revoke_sessions refuses them ...');
SELECT is(pg_temp.use_of(:'at8'), '28000: access token has been revoked', '... and the access tokens');

SELECT access_token AS at9, refresh_token AS rt9 FROM erp.sign_in_session('rf_user', 'rf_user-pass-1') \gset
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :rf_user, 'Tr0ub4dor-x9'), 'rf_user changes its password');
SELECT is(pg_temp.refresh_of(:'rt9'), '28000: refresh token has been revoked', 'a password change refuses the refresh tokens issued before ...');
SELECT is(pg_temp.use_of(:'at9'), '28000: access token has been revoked', '... and the access tokens');

SELECT refresh_token AS rt10 FROM erp.sign_in_session('rf_user', 'Tr0ub4dor-x9') \gset
SELECT erp.sign_out() AS signed_out \gset
UPDATE erp.app_user SET active = false WHERE id = :rf_user;
SELECT is(pg_temp.refresh_of(:'rt10'), '28000: refresh token has been revoked', 'a disabled user cannot refresh');
UPDATE erp.app_user SET active = true WHERE id = :rf_user;

-- ------------------------------------------------------------ privileges
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT * FROM erp.refresh_token$$, '42501', NULL, 'the application role cannot read erp.refresh_token');
RESET ROLE;
SELECT ok(has_function_privilege('pgerp_app', 'erp.refresh(text)', 'EXECUTE')
          AND has_function_privilege('pgerp_app', 'erp.sign_in_session(text,text,bigint)', 'EXECUTE'),
          'erp.refresh and erp.sign_in_session are published');
SELECT ok(NOT has_function_privilege('pgerp_app', 'erp._flush_signin_audit()', 'EXECUTE'),
          'erp._flush_signin_audit is not');

SELECT * FROM finish();
ROLLBACK;
