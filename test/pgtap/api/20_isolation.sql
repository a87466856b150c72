-- Row security through the api views: a user of A sees A's rows only, one of
-- B only B's; api.users shows the caller and the users of its companies;
-- partners' e-mail and phone are masked without the decrypt permission.
BEGIN;
\ir ../setup.sql
SELECT plan(16);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t20_alice', 'admin', :a, false) AS alice \gset
SELECT pg_temp.make_user('t20_bob', 'admin', :b, false) AS bob \gset
SELECT pg_temp.make_user('t20_carol', 'stock_manager', :a, false) AS carol \gset
SELECT pg_temp.make_user('t20_loner', NULL, NULL) AS loner \gset
SELECT stock.create_warehouse(:a, 'T20A') AS wa \gset
SELECT stock.create_warehouse(:b, 'T20B') AS wb \gset
SELECT stock.create_product(:a, 'T20-A', 'Product of A') AS pa \gset
SELECT stock.create_product(:b, 'T20-B', 'Product of B') AS pb \gset
SELECT stock.receive(:pa, 5, 2) AS ma \gset
SELECT stock.receive(:pb, 7, 3) AS mb \gset
SELECT erp.create_partner(:a, 't20 Vendor A', 'vendor', 'sales@acme.example', '+1 555 0100') AS va \gset
SELECT erp.create_partner(:b, 't20 Vendor B', 'vendor', 'sales@bcorp.example', '+1 555 0200') AS vb \gset

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t20_alice', :a);
SELECT set_eq($$SELECT id FROM api.products WHERE sku LIKE 'T20-%'$$, ARRAY[:pa]::bigint[], 'alice sees the product of A only');
SELECT set_eq($$SELECT id FROM api.moves WHERE ref IS NULL AND product_id IN (SELECT id FROM api.products WHERE sku LIKE 'T20-%')$$,
              ARRAY[:ma]::bigint[], 'and its move');
SELECT is((SELECT count(*)::int FROM api.moves WHERE id = :mb), 0, 'the move of B is invisible, even by id');
SELECT is((SELECT count(*)::int FROM api.valuation_layers WHERE move_id = :mb), 0, 'so are its valuation layer');
SELECT is((SELECT count(*)::int FROM api.journal_entries WHERE move_id = :mb), 0, '... and its journal entry');
SELECT set_eq($$SELECT DISTINCT company_id FROM api.quants WHERE product_id IN (SELECT id FROM api.products WHERE sku LIKE 'T20-%')$$,
              ARRAY[:a]::bigint[], 'quants of A only');
SELECT set_eq($$SELECT code FROM api.warehouses WHERE code LIKE 'T20%'$$, ARRAY['T20A'], 'warehouses of A only');
SELECT set_eq($$SELECT id FROM api.companies$$, ARRAY[:a]::bigint[], 'companies: A only');
SELECT results_eq(format('SELECT email, phone FROM api.partners WHERE id = %s', :va),
                  $$VALUES ('sales@acme.example', '+1 555 0100')$$, 'an admin of A reads the partner''s e-mail and phone in clear');
SELECT is((SELECT count(*)::int FROM api.partners WHERE id = :vb), 0, 'the partner of B is invisible');
SELECT set_eq($$SELECT login FROM api.users WHERE login LIKE 't20_%'$$, ARRAY['t20_alice', 't20_carol'],
              'api.users: alice and the users of A (not bob, not the user without a role)');

SELECT pg_temp.login('t20_bob', :b);
SELECT set_eq($$SELECT id FROM api.products WHERE sku LIKE 'T20-%'$$, ARRAY[:pb]::bigint[], 'bob sees the product of B only');
SELECT set_eq($$SELECT login FROM api.users WHERE login LIKE 't20_%'$$, ARRAY['t20_bob'], 'and only himself among the t20 users');

SELECT pg_temp.login('t20_carol', :a);
SELECT results_eq(format('SELECT email, phone FROM api.partners WHERE id = %s', :va),
                  format('VALUES (%L, %L)', erp.mask('sales@acme.example', 'email'), erp.mask('+1 555 0100', 'phone')),
                  'a stock manager (no decrypt permission) reads them masked');
SELECT set_eq($$SELECT login FROM api.users WHERE login LIKE 't20_%'$$, ARRAY['t20_carol'],
              'without erp.app_user:read a user sees only itself');

SELECT erp.sign_out();
SELECT is((SELECT count(*)::int FROM api.products) + (SELECT count(*)::int FROM api.partners) + (SELECT count(*)::int FROM api.moves),
          0, 'with nobody signed in no product, partner or move is visible');

SELECT * FROM finish();
ROLLBACK;
