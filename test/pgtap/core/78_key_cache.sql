-- The signing key and the user's state are cached per backend (#12): a new
-- signing secret, a deactivation and a revocation still count at once.
BEGIN;
\ir ../setup.sql
SELECT plan(6);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t78_user', 'auditor', :a) AS u \gset
SELECT erp.sign_in('t78_user', 't78_user-pass-1') AS tok \gset
SELECT lives_ok(format('SELECT erp.use_token(%L)', :'tok'), 'the token is accepted (key and user now cached)');

-- a new generated secret: the cached key is dropped, old tokens fail their signature
SELECT erp.sign_out();
UPDATE erp.secret SET value = erp._random_bytes(32) WHERE name = 'jwt';
SELECT is(pg_temp.error_detail(format('SELECT erp.use_token(%L)', :'tok')),
          '28000: The token has a bad signature.',
          'after the secret changes, a token signed with the old one is refused');
SELECT erp.sign_in('t78_user', 't78_user-pass-1') AS tok2 \gset
SELECT lives_ok(format('SELECT erp.use_token(%L)', :'tok2'), 'a token signed with the new secret is accepted');

-- the cached user state follows a deactivation and a reactivation
SELECT erp.sign_out();
SELECT erp.sign_in('t78_user', 't78_user-pass-1') AS tok3 \gset
UPDATE erp.app_user SET active = false WHERE id = :u;
SELECT is(pg_temp.error_detail(format('SELECT erp.use_token(%L)', :'tok3')),
          '28000: The token''s user does not exist or is disabled.',
          'a deactivated user''s token is refused at once');
UPDATE erp.app_user SET active = true WHERE id = :u;
SELECT is(pg_temp.error_detail(format('SELECT erp.use_token(%L)', :'tok3')),
          '28000: The token was issued before its user''s password was changed, the user''s sessions were revoked or the user signed out.',
          'reactivated, the token stays revoked (the deactivation advanced the generation)');
SELECT erp.sign_in('t78_user', 't78_user-pass-1') AS tok4 \gset
SELECT lives_ok(format('SELECT erp.use_token(%L)', :'tok4'), 'a new token works again');

SELECT * FROM finish();
ROLLBACK;
