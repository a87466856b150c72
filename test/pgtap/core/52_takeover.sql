-- Account takeover (#11.4): nobody but a superuser or the user changes an account without roles.
BEGIN;
\ir ../setup.sql
SELECT plan(17);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('carol', 'admin', :a, true) AS carol \gset
SELECT pg_temp.make_user('dave', 'admin', :b, true) AS dave \gset
SELECT pg_temp.make_user('tk_new', NULL, NULL) AS newbie \gset
SELECT pg_temp.make_user('tk_a_only', 'stock_user', :a) AS a_only \gset
SELECT pg_temp.make_user('tk_a1_only', 'stock_user', :a1) AS a1_only \gset
SELECT password_hash AS newbie_hash FROM erp.app_user WHERE id = :newbie \gset
SELECT token_generation AS newbie_gen FROM erp.app_user WHERE id = :newbie \gset

-- The reproduction: carol (admin of A only) sets the password of a user who holds no role
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('carol');
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :newbie, 'carol knows it'), '42501',
                 format('permission denied for "erp.app_user:write" on user %s', :newbie),
                 'carol (admin of A) cannot set the password of a user without roles');
SELECT throws_ok(format('SELECT erp.revoke_sessions(%s)', :newbie), '42501', NULL,
                 '... nor revoke that user''s sessions');
RESET ROLE;
SELECT is((SELECT password_hash FROM erp.app_user WHERE id = :newbie), :'newbie_hash'::text,
          'the user''s hash is unchanged');
SELECT is((SELECT token_generation FROM erp.app_user WHERE id = :newbie), :'newbie_gen'::bigint,
          '... and so is the token generation');
-- B grants the user a role later: carol does not get into B
SELECT erp.sign_out() AS signed_out \gset
SELECT erp.grant_role(:newbie, 'admin', :b) AS granted \gset
SELECT throws_ok($$SELECT erp.sign_in('tk_new', 'carol knows it')$$, '28P01', 'invalid login or password',
                 'after B grants the user a role, carol''s password does not sign in');
SELECT lives_ok($$SELECT erp.sign_in('tk_new', 'tk_new-pass-1')$$, '... the user''s own password still does');
SELECT erp.sign_out() AS signed_out \gset
SELECT erp.revoke_role(:newbie, 'admin', :b) AS revoked \gset

-- who may change a user without roles
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('dave');
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :newbie, 'dave knows it'), '42501', NULL,
                 'dave (admin of B) cannot either');
SELECT pg_temp.login('tk_new');
SELECT is(erp.current_company_id(), NULL, 'the user without roles signs in, in no company');
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :newbie, 'my own choice'),
                '... and changes their own password');
SELECT lives_ok(format('SELECT erp.revoke_sessions(%s)', :newbie), '... and revokes their own sessions');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :newbie, 'bootstrap set'),
                'the bootstrap caller (a superuser, nobody signed in) changes it');
SELECT lives_ok($$SELECT erp.sign_in('tk_new', 'bootstrap set')$$, '... and that password signs in');
SELECT erp.sign_out() AS signed_out \gset

-- a superuser signed in as an ERP user is checked like anybody else
SELECT pg_temp.login('carol');
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :newbie, 'carol knows it'), '42501', NULL,
                 'a superuser signed in as carol cannot change it either');
SELECT erp.sign_out() AS signed_out \gset

-- users with roles: the rule of every company they hold a role on is unchanged
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('carol');
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :a_only, 'carol resets 1'),
                'carol changes the password of a user of A only');
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :a1_only, 'carol resets 2'),
                '... and of a user of A1 only (under A, reached by her grant)');
SELECT pg_temp.login('dave');
SELECT throws_ok(format('SELECT erp.set_password(%s, %L)', :a_only, 'dave resets 1'), '42501', NULL,
                 'dave cannot change the password of a user of A');
SELECT throws_ok(format('SELECT erp.revoke_sessions(%s)', :a_only), '42501', NULL,
                 '... nor revoke that user''s sessions');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

SELECT * FROM finish();
ROLLBACK;
