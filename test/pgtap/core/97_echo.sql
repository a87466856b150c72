-- #11.17: a value echoed into an error message is cut to 64 characters (erp._echo in SQL,
-- PgerpEcho in C), so that a 1 MB argument neither comes back in the message nor reaches
-- the server log in full; values of normal size are echoed whole, as before.
BEGIN;
\ir ../setup.sql
SELECT plan(28);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('ec97_mgr', 'stock_manager', :a) AS mgr \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT repeat('x', 1048576) AS mb \gset

CREATE TEMP TABLE ec97_call (n int, what text, sql text, msg text);
INSERT INTO ec97_call (n, what, sql) VALUES
    (1, 'a login',          format('SELECT erp.create_user(%L, %L)', :'mb', 'pw-pw-pw-1')),
    (2, 'a currency',       format('SELECT erp.create_company(%L, %s, %L)', 'EC97 Co', :a, :'mb')),
    (3, 'a partner kind',   format('SELECT erp.create_partner(%s, %L, %L)', :a, 'EC97 P', :'mb')),
    (4, 'a role code',      format('SELECT erp.create_role(%L, %L, %L)', :'mb', 'EC97 role', '{}')),
    (5, 'a granted role',   format('SELECT erp.grant_role(%s, %L, %s)', :mgr, :'mb', :a)),
    (6, 'a revoked role',   format('SELECT erp.revoke_role(%s, %L, %s)', :mgr, :'mb', :a)),
    (7, 'a permission pattern', format('SELECT erp.create_role(%L, %L, ARRAY[%L])', 'ec97_role', 'EC97 role', :'mb')),
    (8, 'a permission code', format('SELECT erp.require_permission(%L)', :'mb'));
UPDATE ec97_call SET msg = pg_temp.error_message(sql);

SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 1), '22023', 'a 1 MB login is refused (22023)');
SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 2), '22023', 'a 1 MB currency is refused (22023)');
SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 3), '22023', 'a 1 MB partner kind is refused (22023)');
SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 4), '22023', 'a 1 MB role code is refused (22023)');
SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 5), '22023', 'granting a 1 MB role code is refused (22023)');
SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 6), '22023', 'revoking a 1 MB role code is refused (22023)');
SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 7), '22023', 'a 1 MB permission pattern is refused (22023)');
SELECT is((SELECT split_part(msg, ':', 1) FROM ec97_call WHERE n = 8), '22023', 'a 1 MB permission code is refused (22023)');
SELECT is((SELECT count(*)::int FROM ec97_call WHERE length(msg) - 7 > 100), 0,
          'no message is longer than 100 characters');
SELECT is((SELECT string_agg(what, ', ') FROM ec97_call WHERE strpos(msg, repeat('x', 65)) > 0), NULL,
          'none holds more than 64 characters of the value');
SELECT is((SELECT msg FROM ec97_call WHERE n = 1), '22023: invalid login ''' || repeat('x', 61) || '...''',
          'the login is cut to 61 characters and "...", quoted');
SELECT is((SELECT msg FROM ec97_call WHERE n = 2), '22023: invalid currency code ''' || repeat('x', 61) || '...''',
          'the currency likewise');
SELECT is((SELECT msg FROM ec97_call WHERE n = 3), '22023: invalid partner kind ''' || repeat('x', 61) || '...''',
          'the partner kind likewise');
SELECT is((SELECT msg FROM ec97_call WHERE n = 4), '22023: invalid role code ''' || repeat('x', 61) || '...''',
          'the role code likewise');
SELECT is((SELECT msg FROM ec97_call WHERE n = 5), '22023: role ''' || repeat('x', 61) || '...'' does not exist',
          'the role of a grant likewise');
SELECT is((SELECT msg FROM ec97_call WHERE n = 6), '22023: role ''' || repeat('x', 61) || '...'' does not exist',
          'the role of a revoke likewise');
SELECT is((SELECT msg FROM ec97_call WHERE n = 7), '22023: invalid permission "' || repeat('x', 61) || '..."',
          'the permission pattern likewise (C)');
SELECT is((SELECT msg FROM ec97_call WHERE n = 8), '22023: invalid permission code "' || repeat('x', 61) || '..."',
          'the permission code likewise (C)');

-- multi-byte characters are cut on a character boundary
SELECT is(pg_temp.error_message(format('SELECT erp.create_user(%L, %L)', repeat('é', 100000), 'pw-pw-pw-1')),
          '22023: invalid login ''' || repeat('é', 61) || '...''', 'a long multi-byte login: 61 characters, whole');

-- values of normal size come back whole
SELECT is(pg_temp.error_message($$SELECT erp.create_user('bad login', 'pw-pw-pw-1')$$),
          '22023: invalid login ''bad login''', 'a short bad login is echoed whole');
SELECT is(pg_temp.error_message(format('SELECT erp.create_company(%L, %s, %L)', 'EC97 Co', :a, 'usd')),
          '22023: invalid currency code ''usd''', 'a short bad currency is echoed whole');
SELECT is(pg_temp.error_message(format('SELECT erp.create_user(%L, %L)', repeat('y', 64), 'pw-pw-pw-1')),
          'no error', 'a 64-character login is valid');
SELECT is(pg_temp.error_message(format('SELECT erp.create_user(%L, %L)', upper(repeat('y', 64)), 'pw-pw-pw-1')),
          '23505: login ''' || upper(repeat('y', 64)) || ''' is already taken', 'and a 64-character login is echoed whole');
SELECT is(pg_temp.error_message(format('SELECT erp.create_user(%L, %L)', repeat('z', 65), 'pw-pw-pw-1')),
          'no error', 'a 65-character login is valid');
SELECT is(pg_temp.error_message(format('SELECT erp.create_user(%L, %L)', repeat('z', 65), 'pw-pw-pw-1')),
          '23505: login ''' || repeat('z', 61) || '...'' is already taken', 'and a 65-character one is cut');
SELECT is(pg_temp.error_message(format('SELECT erp.create_role(%L, %L, %L)', 'stock_manager', 'Again', '{}')),
          '23505: role ''stock_manager'' already exists', 'an existing role code is echoed whole');
SELECT is(pg_temp.error_message($$SELECT erp.create_partner(NULL::bigint, 'x', NULL)$$) LIKE '22023:%'
          OR pg_temp.error_message($$SELECT erp.create_partner(NULL::bigint, 'x', NULL)$$) LIKE '22004:%'
          OR pg_temp.error_message($$SELECT erp.create_partner(NULL::bigint, 'x', NULL)$$) LIKE '42501:%', true,
          'a NULL argument still gets a clear error');
SELECT is(pg_temp.error_message(format('SELECT erp.create_partner(%s, %L, NULL)', :a, 'EC97 P')),
          '22023: invalid partner kind NULL', 'a NULL kind is echoed as NULL');

SELECT * FROM finish();
ROLLBACK;
