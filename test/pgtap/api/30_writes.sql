-- The INSTEAD OF paths: products (insert, the merge/ignore upsert setting,
-- allowed and refused updates), partners (insert and update, encrypted),
-- warehouses (insert), reorder rules (insert, update, delete).
BEGIN;
\ir ../setup.sql
SELECT plan(44);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t30_alice', 'admin', :a, false) AS alice \gset
SELECT pg_temp.make_user('t30_carol', 'stock_manager', :a, false) AS carol \gset
SELECT pg_temp.make_user('t30_aud', 'auditor', :a, false) AS aud \gset
SELECT stock.create_warehouse(:a, 'T30A') AS wa \gset
SELECT stock.create_product(:b, 'T30-B', 'Product of B') AS pb \gset

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t30_alice', :a);

-- ------------------------------------------------------------ products: insert
SELECT results_eq($$INSERT INTO api.products (sku, name) VALUES ('T30-1', 'Bolt')
                    RETURNING sku, name, cost_method, standard_price, uom, tracking, active$$,
                  $$VALUES ('T30-1', 'Bolt', 'fifo', 0::numeric, 'Unit', 'none', true)$$,
                  'INSERT with sku and name: defaults filled, RETURNING shows the stored row');
SELECT is((SELECT company_id FROM api.products WHERE sku = 'T30-1'), :a::bigint, 'in the current company');
SELECT results_eq(format($$INSERT INTO api.products (company_id, sku, name, cost_method, standard_price, uom, active)
                           VALUES (%s, 'T30-2', 'Oil', 'avco', 2.555, 'L', false) RETURNING cost_method, standard_price, uom, active$$, :a),
                  $$VALUES ('avco', 2.56::numeric, 'L', false)$$, 'every column given: price rounded to the company precision');
SELECT throws_ok($$INSERT INTO api.products (id, sku, name) VALUES (1, 'T30-3', 'x')$$, '428C9',
                 'cannot insert a value into column "id" of api.products', 'a value for id is refused (428C9)');
SELECT throws_ok($$INSERT INTO api.products (sku, name) VALUES ('T30-1', 'Again')$$, '23505', NULL,
                 'without a resolution a duplicate SKU is refused (23505)');
SELECT throws_ok(format($$INSERT INTO api.products (company_id, sku, name) VALUES (%s, 'T30-X', 'x')$$, :b), '42501',
                 'permission denied for "stock.product:create"', 'a product in another company is refused (42501)');
SELECT throws_ok($$INSERT INTO api.products (sku, name) VALUES ('bad sku', 'x')$$, '22023', NULL,
                 'the checks of stock.create_product apply (22023)');

-- ------------------------------------------------------------ upserts
SET LOCAL request.resolution = 'merge';
SELECT results_eq($$INSERT INTO api.products (sku, name, standard_price) VALUES ('T30-1', 'Bolt M8', 4), ('T30-4', 'Nut', 1)
                    RETURNING sku, name, standard_price$$,
                  $$VALUES ('T30-1', 'Bolt M8', 4::numeric), ('T30-4', 'Nut', 1::numeric)$$,
                  'merge: the existing SKU is updated, the new one created, both returned');
SELECT is((SELECT count(*)::int FROM api.products WHERE sku = 'T30-1'), 1, 'still one T30-1');
SELECT results_eq($$INSERT INTO api.products (sku, name) VALUES ('T30-1', 'Bolt M8 zinc') RETURNING name, standard_price, cost_method$$,
                  $$VALUES ('Bolt M8 zinc', 4::numeric, 'fifo')$$, 'merge: columns not given (null) keep their value');
SELECT throws_ok($$INSERT INTO api.products (sku, name, uom) VALUES ('T30-1', 'x', 'kg')$$, '428C9',
                 'column "uom" of api.products cannot be updated', 'merge: a different uom is refused like a PATCH (428C9)');
SET LOCAL request.resolution = 'ignore';
SELECT results_eq($$INSERT INTO api.products (sku, name) VALUES ('T30-1', 'Ignored'), ('T30-5', 'Washer') RETURNING sku$$,
                  $$VALUES ('T30-5')$$, 'ignore: the duplicate is skipped (not returned), the new one created');
SELECT is((SELECT name FROM api.products WHERE sku = 'T30-1'), 'Bolt M8 zinc', 'ignore left the existing product alone');
SET LOCAL request.resolution = 'replace';
SELECT throws_ok($$INSERT INTO api.products (sku, name) VALUES ('T30-6', 'x')$$, '22023',
                 'invalid value for request.resolution: ''replace''', 'an unknown resolution is refused (22023)');
SET LOCAL request.resolution = '';

-- ------------------------------------------------------------ products: update
SELECT results_eq($$UPDATE api.products SET name = 'Bolt M10', active = false WHERE sku = 'T30-1' RETURNING name, active$$,
                  $$VALUES ('Bolt M10', false)$$, 'PATCH of name and active');
SELECT stock.receive(id, 10, 3) AS m1 FROM api.products WHERE sku = 'T30-4' \gset
SELECT results_eq($$UPDATE api.products SET cost_method = 'standard', standard_price = 5 WHERE sku = 'T30-4'
                    RETURNING cost_method, standard_price$$,
                  $$VALUES ('standard', 5::numeric)$$, 'PATCH of cost method and standard price');
SELECT is((SELECT sum(value) FROM api.valuation_layers WHERE product_id = (SELECT id FROM api.products WHERE sku = 'T30-4')),
          50::numeric, 'through stock.set_cost_method: 10 units revalued at the standard price 5 (value 50)');
SELECT throws_ok($$UPDATE api.products SET sku = 'T30-9' WHERE sku = 'T30-4'$$, '428C9',
                 'column "sku" of api.products cannot be updated', 'PATCH of sku is refused (428C9)');
SELECT is(pg_temp.error_detail($$UPDATE api.products SET tracking = 'lot' WHERE sku = 'T30-4'$$),
          '428C9: Only name, standard_price, cost_method and active are writable.', 'the detail lists the writable columns');
SELECT throws_ok($$UPDATE api.products SET cost_method = 'lifo' WHERE sku = 'T30-4'$$, '22023', NULL,
                 'the checks of stock.set_cost_method apply (22023)');
WITH u AS (UPDATE api.products SET name = 'hacked' WHERE sku = 'T30-B' RETURNING 1)
SELECT is(count(*)::int, 0, 'a PATCH aimed at the product of B changes nothing') FROM u;

SELECT pg_temp.login('t30_aud', :a);
SELECT throws_ok($$UPDATE api.products SET name = 'by the auditor' WHERE sku = 'T30-4'$$, '42501',
                 'permission denied for "stock.product:write"', 'an auditor may not rename (42501)');
SELECT throws_ok($$UPDATE api.products SET standard_price = 9 WHERE sku = 'T30-4'$$, '42501', NULL,
                 'nor revalue (42501)');

-- ------------------------------------------------------------ partners
SELECT pg_temp.login('t30_alice', :a);
SELECT results_eq($$INSERT INTO api.partners (name, kind, email, phone, tax_id) VALUES ('t30 Acme', 'both', 'sales@acme.example', '+1 555 0100', 'US-1')
                    RETURNING name, kind, email, phone, tax_id, active$$,
                  $$VALUES ('t30 Acme', 'both', 'sales@acme.example', '+1 555 0100', 'US-1', true)$$,
                  'INSERT of a partner, RETURNING its values in clear (admin)');
SELECT is((SELECT active FROM api.partners WHERE name = 't30 Acme'), true, 'active defaults to true');
SELECT results_eq($$INSERT INTO api.partners (name, active) VALUES ('t30 Old', false) RETURNING kind, active, email$$,
                  $$VALUES ('vendor', false, NULL::text)$$, 'INSERT of an archived vendor, kind defaulted');
SELECT throws_ok($$INSERT INTO api.partners (name, email) VALUES ('t30 Bad', 'not an address')$$, '22023',
                 'invalid e-mail address', 'the e-mail check of erp.create_partner applies (22023)');
SELECT pg_temp.login('t30_carol', :a);
SELECT results_eq($$UPDATE api.partners SET name = 't30 Acme Inc' WHERE name = 't30 Acme' RETURNING name, email$$,
                  format('VALUES (%L, %L)', 't30 Acme Inc', erp.mask('sales@acme.example', 'email')),
                  'a stock manager renames the partner; RETURNING shows the e-mail masked');
SELECT results_eq($$UPDATE api.partners SET phone = '+1 555 0199' WHERE name = 't30 Acme Inc' RETURNING phone$$,
                  format('VALUES (%L)', erp.mask('+1 555 0199', 'phone')), 'and writes a new phone without reading it');
SELECT throws_ok($$UPDATE api.partners SET company_id = company_id + 1 WHERE name = 't30 Acme Inc'$$, '428C9',
                 'column "company_id" of api.partners cannot be updated', 'a partner does not change company (428C9)');
SELECT pg_temp.login('t30_alice', :a);
SELECT results_eq($$SELECT email, phone FROM api.partners WHERE name = 't30 Acme Inc'$$,
                  $$VALUES ('sales@acme.example', '+1 555 0199')$$,
                  'the masked e-mail was not written back; the new phone is stored (read in clear by the admin)');
SELECT results_eq($$UPDATE api.partners SET email = 'buy@acme.example' WHERE name = 't30 Acme Inc' RETURNING email$$,
                  $$VALUES ('buy@acme.example')$$, 'an e-mail is changed');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM erp.partner WHERE name = 't30 Acme Inc'
              AND position('acme' in encode(email, 'escape')) = 0 AND position('0199' in encode(phone, 'escape')) = 0
              AND email_bidx = erp.blind_index('buy@acme.example', 'erp.partner.email')), 1,
          'as superuser: e-mail and phone are stored encrypted, the blind index follows the new e-mail');

-- ------------------------------------------------------------ warehouses
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t30_alice', :a);
SELECT results_eq($$INSERT INTO api.warehouses (code, name) VALUES ('T30W', 'Second') RETURNING code, name$$,
                  $$VALUES ('T30W', 'Second')$$, 'INSERT of a warehouse');
SELECT is((SELECT l.usage FROM api.warehouses w JOIN api.locations l ON l.id = w.location_id WHERE w.code = 'T30W'),
          'internal', 'made with its internal stock location');
SELECT throws_ok($$INSERT INTO api.warehouses (code) VALUES ('T30W')$$, '23505', NULL, 'a duplicate code is refused (23505)');

-- ------------------------------------------------------------ reorder rules
SELECT results_eq(format($$INSERT INTO api.reorder_rules (product_id, warehouse_id, min_qty, max_qty)
                           SELECT id, %s, 5, 20 FROM api.products WHERE sku = 'T30-5'
                           RETURNING company_id, min_qty, max_qty, multiple, trigger, active$$, :wa),
                  format('VALUES (%s::bigint, 5::numeric, 20::numeric, 1::numeric, %L, true)', :a, 'auto'),
                  'INSERT of a reorder rule (mrp.add_reorder_rule), defaults filled');
SELECT throws_ok(format($$INSERT INTO api.reorder_rules (product_id, warehouse_id, min_qty, max_qty) VALUES (%s, %s, 1, 2)$$, :pb, :wa),
                 '22023', format('product %s does not exist', :pb), 'a product of B does not exist (22023)');
SELECT results_eq($$UPDATE api.reorder_rules SET max_qty = 30, trigger = 'manual' WHERE min_qty = 5 RETURNING max_qty, trigger$$,
                  $$VALUES (30::numeric, 'manual')$$, 'PATCH of a reorder rule');
SELECT throws_ok($$UPDATE api.reorder_rules SET max_qty = 1 WHERE min_qty = 5$$, '22023',
                 'maximum ''1'' is below minimum ''5''', 'a maximum below the minimum is refused (22023)');
SELECT throws_ok($$UPDATE api.reorder_rules SET warehouse_id = warehouse_id + 1 WHERE min_qty = 5$$, '428C9',
                 'column "warehouse_id" of api.reorder_rules cannot be updated', 'moving a rule is refused (428C9)');
SELECT pg_temp.login('t30_carol', :a);
WITH d AS (DELETE FROM api.reorder_rules WHERE min_qty = 5 RETURNING id)
SELECT is(count(*)::int, 0, 'a stock manager (no mrp.reorder_rule:read) does not see the rule: DELETE affects nothing') FROM d;
SELECT pg_temp.login('t30_aud', :a);
SELECT throws_ok($$DELETE FROM api.reorder_rules WHERE min_qty = 5$$, '42501',
                 'permission denied for "mrp.reorder_rule:delete"', 'an auditor sees it but may not delete it (42501)');
SELECT pg_temp.login('t30_alice', :a);
WITH d AS (DELETE FROM api.reorder_rules WHERE min_qty = 5 RETURNING id)
SELECT is(count(*)::int, 1, 'DELETE of the rule, RETURNING it') FROM d;

SELECT * FROM finish();
ROLLBACK;
