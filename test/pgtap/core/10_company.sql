-- erp.create_company: the tree, defaults, bad input, who may create where, and reparenting cycles.
BEGIN;
\ir ../setup.sql
SELECT plan(38);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('co_admin', 'admin', :a) AS co_admin \gset
SELECT pg_temp.make_user('co_viewer', 'stock_user', :a) AS co_viewer \gset

-- Success paths (bootstrap: superuser, nobody signed in)

SELECT results_eq(
    format('SELECT id, parent_id, company_id FROM erp.company WHERE id IN (%s, %s, %s, %s) ORDER BY id',
           :g, :a, :b, :a1),
    format('VALUES (%s::bigint, NULL::bigint, %s::bigint), (%s, %s, %s), (%s, %s, %s), (%s, %s, %s)',
           :g, :g, :a, :g, :a, :b, :g, :b, :a1, :a, :a1),
    'make_tree builds G -> A, B and A -> A1, each with company_id = id');
SELECT results_eq(
    format('SELECT currency, price_precision, currency_rounding, active FROM erp.company WHERE id = %s', :g),
    $$VALUES ('USD'::text, 2, 0.01::numeric, true)$$,
    'a new company defaults to USD, price precision 2, rounding 0.01, active');
SELECT is((SELECT currency FROM erp.company WHERE id = :b), 'EUR', 'an explicit currency is stored');

SELECT erp.create_company('  Trimmed Co  ', :g, 'CNY') AS trimmed \gset
SELECT is((SELECT name FROM erp.company WHERE id = :trimmed), 'Trimmed Co',
          'the returned id is the new row, whose name is trimmed');
SELECT is((SELECT company_id FROM erp.company WHERE id = :trimmed), :'trimmed'::bigint,
          'company_id of a new company equals its id');
SELECT is((SELECT parent_id FROM erp.company WHERE id = :trimmed), :'g'::bigint,
          'the new company hangs under the given parent');
SELECT isnt(erp.create_company('Second Top'), NULL, 'bootstrap creates another top-level company');

-- Bad input: 22023, nothing written
SELECT count(*) AS companies_before FROM erp.company \gset
SELECT throws_ok(format('SELECT erp.create_company(NULL, %s)', :g), '22023',
                 'company name must not be empty', 'a NULL name is refused');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', '', :g), '22023',
                 'company name must not be empty', 'an empty name is refused');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', '   ', :g), '22023',
                 'company name must not be empty', 'a name of spaces is refused');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s, %L)', 'Lower', :g, 'usd'), '22023',
                 'invalid currency code ''usd''', 'a lower-case currency is refused');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s, %L)', 'Short', :g, 'US'), '22023',
                 'invalid currency code ''US''', 'a two-letter currency is refused');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s, %L)', 'Long', :g, 'USDX'), '22023',
                 NULL, 'a four-letter currency is refused');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s, NULL)', 'NoCur', :g), '22023',
                 'invalid currency code NULL', 'a NULL currency is refused');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', 'Orphan', (SELECT max(id) + 1000 FROM erp.company)),
                 '22023', NULL, 'an unknown parent is refused');
SELECT throws_ok($$SELECT erp.create_company('Bad Top', NULL, 'us1')$$, '22023', NULL,
                 'a bad currency is refused for a top-level company too');
SELECT is((SELECT count(*) FROM erp.company), :'companies_before'::bigint,
          'no company was written by the refused calls');
-- Whitespace other than spaces makes a name blank too.
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', E' \t\n ', :g), '22023',
                 'company name must not be empty', 'a name of tabs and newlines is refused');
SELECT count(*) AS companies_before FROM erp.company \gset

-- Who may create where
SELECT lives_ok($$SELECT erp.sign_in('co_viewer', 'co_viewer-pass-1')$$, 'co_viewer signs in');
SELECT throws_ok($$SELECT erp.create_company('Viewer Top')$$, '42501', NULL,
                 'a signed-in superuser session cannot create a top-level company');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', 'Viewer Child', :a), '42501',
                 'permission denied for "erp.company:create"',
                 'without erp.company:create on the parent: 42501');
SELECT is(pg_temp.error_detail(format('SELECT erp.create_company(%L, %s)', 'Viewer Child', :a)),
          format('42501: Permission "erp.company:create" is required on company %s.', :a),
          'the detail names the permission and the parent company');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', 'Viewer B', :b), '42501', NULL,
                 'under a company the user holds no role on: 42501');
SELECT is((SELECT count(*) FROM erp.company), :'companies_before'::bigint,
          'the refused creations wrote nothing');

SELECT lives_ok($$SELECT erp.sign_in('co_admin', 'co_admin-pass-1')$$, 'co_admin signs in');
SELECT erp.create_company('Admin Child', :a, 'JPY') AS admin_child \gset
SELECT results_eq(format('SELECT parent_id, name, currency FROM erp.company WHERE id = %s', :admin_child),
                  format($$VALUES (%s::bigint, 'Admin Child'::text, 'JPY'::text)$$, :a),
                  'an admin of the parent creates a child company');
SELECT lives_ok(format('SELECT erp.create_company(%L, %s)', 'Admin Grandchild', :a1),
                'an admin of A creates under A1 (the grant reaches descendants)');
SELECT throws_ok($$SELECT erp.create_company('Admin Top')$$, '42501', NULL,
                 'even an admin cannot create a top-level company while signed in');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', 'Admin Above', :g), '42501', NULL,
                 'an admin of A cannot create under its parent G');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', 'Admin Sibling', :b), '42501', NULL,
                 'an admin of A cannot create under its sibling B');

-- Under the application role: no bootstrap, and row security applies
SELECT erp.sign_out() AS signed_out \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT erp.create_company('App Top')$$, '42501', NULL,
                 'pgerp_app with nobody signed in cannot create a top-level company');
SELECT throws_ok(format('SELECT erp.create_company(%L, %s)', 'App Child', :a), '42501', NULL,
                 'pgerp_app with nobody signed in cannot create a child company');
SELECT erp.sign_in('co_admin', 'co_admin-pass-1') IS NOT NULL AS signed \gset
SELECT isnt(erp.create_company('App Admin Child', :a), NULL, 'pgerp_app signed in as an admin of A creates under A');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

-- Reparenting: no cycles
SELECT throws_ok(format('UPDATE erp.company SET parent_id = %s WHERE id = %s', :a1, :g), '22023',
                 'company tree would contain a cycle', 'moving G under its grandchild A1 is refused');
SELECT is(pg_temp.error_detail(format('UPDATE erp.company SET parent_id = %s WHERE id = %s', :a1, :a)),
          format('22023: The path would be %s -> %s -> %s.', :a, :a1, :a),
          'the detail shows the cycle');
SELECT throws_ok(format('UPDATE erp.company SET parent_id = %s WHERE id = %s', :a, :a), '22023', NULL,
                 'a company cannot be its own parent');
SELECT results_eq(
    format('SELECT id, parent_id FROM erp.company WHERE id IN (%s, %s, %s, %s) ORDER BY id', :g, :a, :b, :a1),
    format('VALUES (%s::bigint, NULL::bigint), (%s, %s), (%s, %s), (%s, %s)', :g, :a, :g, :b, :g, :a1, :a),
    'the refused moves changed nothing');
SELECT lives_ok(format('UPDATE erp.company SET parent_id = %s WHERE id = %s', :a, :b),
                'moving B under its sibling A (no cycle) works');

SELECT * FROM finish();
ROLLBACK;
