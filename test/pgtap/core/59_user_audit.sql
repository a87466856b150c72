-- Audit of accounts and sign-ins (#6): user creation, password changes,
-- activation, companies, sign-in successes and failures (who, when, from
-- where), never a password nor its hash.
BEGIN;
\ir ../setup.sql
SELECT plan(20);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('ua_admin', 'admin', :g) AS ua_admin \gset
CREATE FUNCTION pg_temp.since(p_mark bigint) RETURNS SETOF erp.audit_log
LANGUAGE sql AS $$ SELECT * FROM erp.audit_log WHERE id > p_mark ORDER BY id $$;

SELECT ok(EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'erp.app_user'::regclass AND tgname = 'audit')
          AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'erp.company'::regclass AND tgname = 'audit'),
          'erp.app_user and erp.company are audited');

-- ------------------------------------------------------------ users
SELECT coalesce(max(id), 0) AS m0 FROM erp.audit_log \gset
SELECT pg_temp.login('ua_admin');
SELECT erp.create_user('ua_new', 'Kv7-Lm2-pq9x', 'New User') AS ua_new \gset
SELECT results_eq(
    format($$SELECT user_id, changes->>'login', changes->>'name', changes->>'password_hash', pk
               FROM pg_temp.since(%s) WHERE rel = 'erp.app_user' AND op = 'insert'$$, :m0),
    format($$VALUES (%s::bigint, 'ua_new'::text, 'New User'::text, '[redacted]'::text, jsonb_build_object('id', %L::text))$$,
           :ua_admin, :ua_new),
    'creating a user: an insert entry by the admin, the password hash [redacted]');
SELECT erp.grant_role(:ua_new, 'stock_user', :a) AS granted \gset
SELECT lives_ok(format('SELECT erp.set_password(%s, %L)', :ua_new, 'Tr0ub4dor-x9'), 'the admin sets its password');
SELECT results_eq(
    format($$SELECT changes->'password_hash', changes->'token_generation'
               FROM pg_temp.since(%s) WHERE rel = 'erp.app_user' AND op = 'update' AND pk->>'id' = %L$$, :m0, :ua_new),
    $$VALUES ('["[redacted]", "[redacted]"]'::jsonb, '["0", "1"]'::jsonb)$$,
    'a password change: recorded as changed, both hashes [redacted], the tokens revoked');
SELECT erp.sign_out() AS signed_out \gset
UPDATE erp.app_user SET active = false WHERE id = :ua_new;
UPDATE erp.app_user SET active = true WHERE id = :ua_new;
SELECT results_eq(
    format($$SELECT changes->'active' FROM pg_temp.since(%s)
              WHERE rel = 'erp.app_user' AND op = 'update' AND pk->>'id' = %L AND changes ? 'active'$$, :m0, :ua_new),
    $$VALUES ('["t", "f"]'::jsonb), ('["f", "t"]'::jsonb)$$,
    'deactivation and reactivation');
SELECT is((SELECT count(*)::int FROM erp.audit_log l, erp.app_user u
            WHERE u.id = :ua_new AND strpos(l::text, u.password_hash) > 0), 0,
          'the hash appears nowhere in erp.audit_log ...');
SELECT is((SELECT count(*)::int FROM erp.audit_log l
            WHERE strpos(l::text, 'Tr0ub4dor-x9') > 0 OR strpos(l::text, 'Kv7-Lm2-pq9x') > 0), 0,
          '... nor the password');

-- ------------------------------------------------------------ companies
SELECT coalesce(max(id), 0) AS m1 FROM erp.audit_log \gset
SELECT erp.create_company('UA Branch', :a) AS ua_co \gset
UPDATE erp.company SET name = 'UA Branch Two' WHERE id = :ua_co;
UPDATE erp.company SET active = false WHERE id = :ua_co;
SELECT results_eq(
    format($$SELECT company_id, op, coalesce(changes->'name'->>1, changes->'active'->>1, changes->>'name')
               FROM pg_temp.since(%s) WHERE rel = 'erp.company'$$, :m1),
    format($$VALUES (%s::bigint, 'insert'::text, 'UA Branch'::text), (%s, 'update', 'UA Branch Two'), (%s, 'update', 'f')$$,
           :ua_co, :ua_co, :ua_co),
    'a company created, renamed and deactivated: three entries of that company');

-- ------------------------------------------------------------ sign-ins
SELECT coalesce(max(id), 0) AS m2 FROM erp.audit_log \gset
SELECT erp._flush_signin_audit() AS flushed \gset
SELECT coalesce(max(id), 0) AS m2 FROM erp.audit_log \gset
SELECT erp.sign_in('ua_new', 'Tr0ub4dor-x9', :a) IS NOT NULL AS signed \gset
SELECT results_eq(
    format($$SELECT user_id, company_id, db_role = current_user, changes->>'login', changes->>'address', tx = pg_current_xact_id(), at BETWEEN now() AND clock_timestamp()
               FROM pg_temp.since(%s) WHERE rel = 'erp.sign_in'$$, :m2),
    format($$VALUES (%s::bigint, %s::bigint, true, 'ua_new'::text, 'local'::text, true, true)$$, :ua_new, :a),
    'a successful sign-in is written at once: who, the company, the role, the login and the address');

SELECT erp.sign_out() AS signed_out \gset
SELECT coalesce(max(id), 0) AS m3 FROM erp.audit_log \gset
SELECT erp._signin_client_address('192.0.2.44') AS addr \gset
SELECT throws_ok($$SELECT erp.sign_in('ua_new', 'the-Wrong-pass-7')$$, '28P01', 'invalid login or password', 'a wrong password ...');
SELECT throws_ok($$SELECT erp.sign_in('ua_nobody', 'the-Wrong-pass-8')$$, '28P01', NULL, '... and an unknown login');
SELECT erp._signin_client_address(NULL) AS addr \gset
SELECT is((SELECT count(*)::int FROM pg_temp.since(:m3)), 0, 'their own transactions rolled back: nothing written yet');
SELECT is(erp._flush_signin_audit(), 2, 'the flush writes the two queued failures');
SELECT results_eq(
    format($$SELECT op, user_id, changes->>'login', changes->>'address', changes->>'reason', (changes->>'failures')::int
               FROM pg_temp.since(%s) WHERE rel = 'erp.sign_in' ORDER BY id$$, :m3),
    format($$VALUES ('sign_in_failure'::text, %s::bigint, 'ua_new'::text, '192.0.2.44'::text, 'invalid login or password'::text, 1),
                    ('sign_in_failure', NULL, 'ua_nobody', '192.0.2.44', 'invalid login or password', 1)$$, :ua_new),
    'failures: the user when known, the login tried, the address, the count');
SELECT is((SELECT count(*)::int FROM erp.audit_log l WHERE strpos(l::text, 'the-Wrong-pass') > 0), 0,
          'no tried password is recorded');

-- a flush rolled back puts its events back
SELECT throws_ok($$SELECT erp.sign_in('ua_new', 'the-Wrong-pass-9')$$, '28P01', NULL, 'another failure');
SAVEPOINT before_flush;
SELECT is(erp._flush_signin_audit(), 1, 'flushed in a savepoint ...');
ROLLBACK TO SAVEPOINT before_flush;
SELECT is(erp._flush_signin_audit(), 1, '... rolled back, the event is pending again and flushed once more');
SELECT is(erp._flush_signin_audit(), 0, 'and only once');

SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT erp._flush_signin_audit()$$, '42501', NULL, 'the application role cannot flush');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
