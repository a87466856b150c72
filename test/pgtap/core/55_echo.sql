-- Echoed values of accounts and roles are cut to 64 characters (#11.17).
BEGIN;
\ir ../setup.sql
SELECT plan(5);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('ec_user', NULL, NULL) AS ec_user \gset

SELECT throws_ok(format('SELECT erp.create_user(%L, %L)', repeat('x', 5000) || ' y', 'long enough 1'), '22023',
                 format('invalid login %s', quote_literal(repeat('x', 61) || '...')),
                 'create_user: a 5000-character login is echoed cut to 64 characters');
SELECT throws_ok($$SELECT erp.create_user(NULL, 'long enough 1')$$, '22023', 'invalid login NULL',
                 'create_user: a NULL login is echoed as NULL');
SELECT throws_ok(format('SELECT erp.create_role(%L, %L, %L)', repeat('R', 3000), 'Long', '{erp.partner:read}'), '22023',
                 format('invalid role code %s', quote_literal(repeat('R', 61) || '...')),
                 'create_role: a 3000-character code is echoed cut');
SELECT throws_ok(format('SELECT erp.grant_role(%s, %L, %s)', :ec_user, repeat('r', 3000), :a), '22023',
                 format('role %s does not exist', quote_literal(repeat('r', 61) || '...')),
                 'grant_role: an unknown 3000-character role is echoed cut');
SELECT throws_ok(format('SELECT erp.revoke_role(%s, %L, %s)', :ec_user, repeat('r', 3000), :a), '22023',
                 format('role %s does not exist', quote_literal(repeat('r', 61) || '...')),
                 'revoke_role: the same');

SELECT * FROM finish();
ROLLBACK;
