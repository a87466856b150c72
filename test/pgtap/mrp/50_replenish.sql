-- Min/max replenishment (mrp.add_reorder_rule, mrp.replenish, mrp._reorder_qty): the issue's case
-- (min 0, max 5, a confirmed delivery of 12 within the supplier's lead time -> 17), dry run, a
-- second run ordering nothing, multiples, forecast at the minimum, made products (draft MO), rules
-- of one vendor grouped into one PO, a failing rule reported while the others order, manual and
-- inactive rules, add_reorder_rule errors, permissions and the mrp.replenish job.
BEGIN;
\ir ../setup.sql
SELECT plan(37);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'R50') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.virtual_location(:a, 'customer') AS cust \gset
SELECT stock.create_warehouse(:b, 'R50-B') AS whb \gset
SELECT erp.create_partner(:a, 'r50 Vendor', 'vendor') AS v \gset
SELECT erp.create_partner(:a, 'r50 Dearer vendor', 'vendor') AS v2 \gset
-- the rows mrp.replenish returns, by SKU (the order reference as given)
CREATE FUNCTION pg_temp.replenish(p_dry boolean) RETURNS TABLE (sku text, qty_forecast numeric, qty_to_order numeric, order_ref text)
LANGUAGE sql AS $$
    SELECT p.sku, r.qty_forecast, r.qty_to_order, r.order_ref
      FROM mrp.replenish((SELECT company_id FROM stock.warehouse WHERE code = 'R50'), p_dry) r
      JOIN stock.product p ON p.id = r.product_id ORDER BY p.sku
$$;
CREATE TEMP TABLE got AS SELECT * FROM pg_temp.replenish(true) LIMIT 0;
CREATE FUNCTION pg_temp.counts() RETURNS bigint[] LANGUAGE sql AS $$
    SELECT ARRAY[(SELECT count(*) FROM purchase.order), (SELECT count(*) FROM purchase.order_line),
                 (SELECT count(*) FROM mrp.production), (SELECT count(*) FROM mrp.run_message)]
$$;

-- ============================================================ the issue's case
-- ISS from the vendor at 2.40 in 5 days (also from a dearer one at 3.00 in 2 days); rule min 0, max 5.
-- Confirmed deliveries: 12 in 2 days (within the lead time), 100 in 20 days (beyond it).
SELECT stock.create_product(:a, 'R50-ISS', 'Issue') AS iss \gset
SELECT purchase.add_supplier(:iss, :v2, 3, 2), purchase.add_supplier(:iss, :v, 2.4, 5) \g /dev/null
SELECT mrp.add_reorder_rule(:iss, :wh, 0, 5) AS r_iss \gset
SELECT results_eq(format('SELECT product_id, warehouse_id, min_qty, max_qty, multiple, trigger, active FROM mrp.reorder_rule WHERE id = %s', :r_iss),
                  format($$VALUES (%s::bigint, %s::bigint, 0::numeric, 5::numeric, 1::numeric, 'auto'::text, true)$$, :iss, :wh),
                  'add_reorder_rule: min 0, max 5, multiple 1, automatic, active');
SELECT stock.create_move(:iss, 12, :loc, :cust, NULL, now() + interval '2 days', 'SO-12') AS d12 \gset
SELECT stock.confirm(:d12) \g /dev/null
SELECT stock.create_move(:iss, 100, :loc, :cust, NULL, now() + interval '20 days', 'SO-100') AS d100 \gset
SELECT stock.confirm(:d100) \g /dev/null

SELECT pg_temp.counts() AS before_dry \gset
SELECT results_eq($$SELECT * FROM pg_temp.replenish(true)$$,
                  $$VALUES ('R50-ISS'::text, -12::numeric, 17::numeric, NULL::text)$$,
                  'dry run: forecast 0 - 12 = -12 is below the minimum 0: order up to 5, 17');
SELECT is(pg_temp.counts(), :'before_dry'::bigint[], 'the dry run writes nothing');
INSERT INTO got SELECT * FROM pg_temp.replenish(false);
SELECT (SELECT id FROM purchase.order WHERE company_id = :a ORDER BY id DESC LIMIT 1) AS po_iss \gset
SELECT results_eq($$SELECT * FROM got$$,
                  format($$VALUES ('R50-ISS'::text, -12::numeric, 17::numeric, 'PO/%s'::text)$$, :po_iss),
                  'the real run orders 17 and returns the PO''s reference');
SELECT results_eq(format('SELECT vendor_id, state, location_id, date_planned FROM purchase.order WHERE id = %s', :po_iss),
                  format($$VALUES (%s::bigint, 'draft'::text, %s::bigint, %L::timestamptz)$$, :v, :loc, now() + interval '5 days'),
                  'a draft PO of the cheapest vendor into the rule''s warehouse, planned in its 5 days');
SELECT results_eq(format('SELECT product_id, qty, price FROM purchase.order_line WHERE order_id = %s', :po_iss),
                  format('VALUES (%s::bigint, 17::numeric, 2.40::numeric)', :iss),
                  'one line of 17 at the supplier''s price 2.40');
SELECT is_empty($$SELECT * FROM pg_temp.replenish(false)$$,
                'running again orders nothing: the draft PO''s 17 bring the forecast to 5');
SELECT is((SELECT count(*)::int FROM purchase.order WHERE company_id = :a), 1, 'still one PO');

-- ============================================================ more rules
-- MUL: min 2, max 7, multiple 5, nothing on hand: 7 -> 10
SELECT stock.create_product(:a, 'R50-MUL', 'Multiple') AS mul \gset
SELECT purchase.add_supplier(:mul, :v2, 1.5, 3) \g /dev/null
SELECT mrp.add_reorder_rule(:mul, :wh, 2, 7, 5) AS r_mul \gset
-- ATMIN: 3 on hand, min 3: nothing
SELECT stock.create_product(:a, 'R50-ATMIN', 'At the minimum') AS atmin \gset
SELECT purchase.add_supplier(:atmin, :v, 1, 1) \g /dev/null
SELECT stock.receive(:atmin, 3, 1, :wh) \g /dev/null
SELECT mrp.add_reorder_rule(:atmin, :wh, 3, 10) \g /dev/null
-- MK has a BOM (no planning data): made; min 1, max 4
SELECT stock.create_product(:a, 'R50-MK', 'Made') AS mk \gset
SELECT stock.create_product(:a, 'R50-MKC', 'Its component') AS mkc \gset
SELECT mrp.create_bom(:mk, 1, jsonb_build_array(jsonb_build_object('product', :mkc, 'qty', 2))) AS bom_mk \gset
SELECT mrp.add_reorder_rule(:mk, :wh, 1, 4) \g /dev/null
-- G1 and G2 from the vendor: one PO; min 1, max 6 and min 0, max 8 with 3 on hand and a delivery of 5
SELECT stock.create_product(:a, 'R50-G1', 'Grouped 1') AS g1 \gset
SELECT stock.create_product(:a, 'R50-G2', 'Grouped 2') AS g2 \gset
SELECT purchase.add_supplier(:g1, :v, 1.25, 4), purchase.add_supplier(:g2, :v, 0.75, 4) \g /dev/null
-- G2 takes 9 days to plan for: the grouped order is planned for the slower of the two
SELECT mrp.set_planning(:g2, 'buy', 9) \g /dev/null
SELECT stock.receive(:g2, 3, 1, :wh) \g /dev/null
SELECT stock.create_move(:g2, 5, :loc, :cust, NULL, now() + interval '1 day', 'SO-G2') AS dg2 \gset
SELECT stock.confirm(:dg2) \g /dev/null
SELECT mrp.add_reorder_rule(:g1, :wh, 1, 6), mrp.add_reorder_rule(:g2, :wh, 0, 8) \g /dev/null
-- NOSUP: bought, no supplier: the rule fails
SELECT stock.create_product(:a, 'R50-NOSUP', 'No supplier') AS nosup \gset
SELECT mrp.add_reorder_rule(:nosup, :wh, 1, 2) AS r_nosup \gset
-- MAN: a manual rule; OFF: an inactive rule; both would order
SELECT stock.create_product(:a, 'R50-MAN', 'Manual') AS man \gset
SELECT stock.create_product(:a, 'R50-OFF', 'Inactive') AS off \gset
SELECT purchase.add_supplier(:man, :v, 1, 1), purchase.add_supplier(:off, :v, 1, 1) \g /dev/null
SELECT mrp.add_reorder_rule(:man, :wh, 5, 10, 1, 'manual') \g /dev/null
SELECT mrp.add_reorder_rule(:off, :wh, 5, 10) AS r_off \gset
UPDATE mrp.reorder_rule SET active = false WHERE id = :r_off;

SELECT results_eq($$SELECT sku, qty_forecast, qty_to_order, order_ref FROM pg_temp.replenish(true)$$,
                  $$VALUES ('R50-G1'::text, 0::numeric, 6::numeric, NULL::text), ('R50-G2', -2, 10, NULL), ('R50-MK', 0, 4, NULL),
                           ('R50-MUL', 0, 10, NULL), ('R50-NOSUP', 0, 2, NULL)$$,
                  'dry run: G1 6, G2 8 - (3 - 5) = 10, MK 4, MUL 7 rounded up to the multiple 5: 10, NOSUP 2; nothing for ATMIN (3 is not below 3), the manual and the inactive rule');
DELETE FROM got;
INSERT INTO got SELECT * FROM pg_temp.replenish(false);
SELECT results_eq($$SELECT sku, qty_to_order FROM got WHERE order_ref NOT LIKE 'failed:%' ORDER BY sku$$,
                  $$VALUES ('R50-G1'::text, 6::numeric), ('R50-G2', 10), ('R50-MK', 4), ('R50-MUL', 10)$$,
                  'the real run orders for the other rules although NOSUP failed');
SELECT is((SELECT order_ref FROM got WHERE sku = 'R50-NOSUP'), format('failed: product %s has no active supplier', :nosup),
          'the failing rule''s row says why in order_ref');
SELECT results_eq(format('SELECT run_id, kind, detail FROM mrp.run_message WHERE product_id = %s', :nosup),
                  format($$VALUES (NULL::bigint, 'replenish_failed'::text, 'Reorder rule %s: product %s has no active supplier (55000).'::text)$$,
                         :r_nosup, :nosup),
                  'and a replenish_failed message with the rule, the error and its SQLSTATE');
SELECT is((SELECT count(DISTINCT order_ref)::int FROM got WHERE sku IN ('R50-G1', 'R50-G2')), 1, 'G1 and G2 share one order reference');
SELECT (SELECT substr(order_ref, 4)::bigint FROM got WHERE sku = 'R50-G1') AS po_g \gset
SELECT results_eq(format('SELECT vendor_id, state, location_id FROM purchase.order WHERE id = %s', :po_g),
                  format($$VALUES (%s::bigint, 'draft'::text, %s::bigint)$$, :v, :loc),
                  'their PO: a draft of their vendor into the warehouse');
SELECT is((SELECT date_planned::date FROM purchase.order WHERE id = :po_g), (now() + interval '9 days')::date,
          'planned at now + the longest lead time of its products (9 days for G2, 4 for G1)');
SELECT results_eq(format('SELECT product_id, qty, price FROM purchase.order_line WHERE order_id = %s ORDER BY product_id', :po_g),
                  format('VALUES (%s::bigint, 6::numeric, 1.25::numeric), (%s, 10, 0.75)', :g1, :g2),
                  'one line each, at the vendor''s prices');
SELECT isnt(:po_g::bigint, :po_iss::bigint, 'the PO of the first run is not reused');
SELECT results_eq(format($$SELECT o.vendor_id, l.product_id, l.qty, l.price FROM purchase.order o JOIN purchase.order_line l ON l.order_id = o.id
                           WHERE o.id = substr((SELECT order_ref FROM got WHERE sku = 'R50-MUL'), 4)::bigint$$),
                  format('VALUES (%s::bigint, %s::bigint, 10::numeric, 1.50::numeric)', :v2, :mul),
                  'MUL: its own PO of 10 from its vendor');
SELECT (SELECT substr(order_ref, 4)::bigint FROM got WHERE sku = 'R50-MK' AND order_ref LIKE 'MO/%') AS mo_mk \gset
SELECT results_eq(format('SELECT product_id, bom_id, qty, state, location_id, due_at FROM mrp.production WHERE id = %s', :mo_mk),
                  format($$VALUES (%s::bigint, %s::bigint, 4::numeric, 'draft'::text, %s::bigint, now())$$, :mk, :bom_mk, :loc),
                  'MK has a BOM: a draft MO of 4 into the warehouse, due now (no lead time)');
SELECT is((SELECT count(*)::int FROM purchase.order_line WHERE product_id IN (:man, :off, :atmin, :nosup)), 0,
          'nothing was ordered for the manual, inactive, satisfied or failing rules');

SELECT pg_temp.counts() AS before_again \gset
SELECT results_eq($$SELECT sku, qty_to_order, order_ref LIKE 'failed:%' FROM pg_temp.replenish(false)$$,
                  $$VALUES ('R50-NOSUP'::text, 2::numeric, true)$$,
                  'a third run: the draft POs and MO count; only the failing rule is back');
SELECT is(pg_temp.counts(), (:'before_again'::bigint[])[1:3] || ((:'before_again'::bigint[])[4] + 1),
          'no new order; one more replenish_failed message');

-- ============================================================ add_reorder_rule errors
SELECT stock.create_product(:a, 'R50-ERR', 'Errors') AS err \gset
SELECT throws_ok(format('SELECT mrp.add_reorder_rule(%s, %s, 5, 2)', :err, :wh), '22023', 'maximum ''2'' is below minimum ''5''',
                 'max below min: 22023');
SELECT throws_ok(format('SELECT mrp.add_reorder_rule(%s, %s, -1, 2)', :err, :wh), '22023', 'minimum and maximum must be zero or positive',
                 'a negative minimum: 22023');
SELECT throws_ok(format('SELECT mrp.add_reorder_rule(%s, %s, 0, -2)', :err, :wh), '22023', 'minimum and maximum must be zero or positive',
                 'a negative maximum: 22023');
SELECT throws_ok(format('SELECT mrp.add_reorder_rule(%s, %s, 0, 2, 0)', :err, :wh), '22023', 'multiple must be positive',
                 'multiple 0: 22023');
SELECT is(pg_temp.error_detail(format($$SELECT mrp.add_reorder_rule(%s, %s, 0, 2, 1, 'weekly')$$, :err, :wh)),
          '22023: Triggers are auto and manual.', 'an unknown trigger: 22023');
SELECT throws_ok(format('SELECT mrp.add_reorder_rule(%s, %s, 0, 2)', :err, :whb), '22023',
                 format('warehouse %s does not exist in company %s', :whb, :a), 'a warehouse of another company: 22023');
SELECT throws_ok(format('SELECT mrp.add_reorder_rule(%s, %s, 0, 2)', :err, :whb + 100000), '22023',
                 format('warehouse %s does not exist in company %s', :whb + 100000, :a), 'an unknown warehouse: 22023');
SELECT throws_ok(format('SELECT mrp.add_reorder_rule(%s, %s, 0, 2)', :iss, :wh), '23505',
                 format('product R50-ISS already has a reorder rule in warehouse %s', :wh), 'a duplicate rule: 23505');
SELECT is((SELECT count(*)::int FROM mrp.reorder_rule WHERE product_id IN (:err, :iss)), 1, 'no refused rule was stored');

-- ============================================================ permissions and the job
SELECT pg_temp.make_user('r50_stock', 'stock_user', :a) \g /dev/null
SELECT pg_temp.login('r50_stock', :a);
SELECT is(pg_temp.error_detail(format('SELECT * FROM mrp.replenish(%s)', :a)),
          format('42501: Permission "mrp.reorder_rule:run" is required on company %s.', :a), 'a stock_user may not replenish: 42501');
SELECT is(pg_temp.error_detail(format('SELECT mrp.add_reorder_rule(%s, %s, 0, 2)', :err, :wh)),
          format('42501: Permission "mrp.reorder_rule:create" is required on company %s.', :a), 'nor add a rule: 42501');
SELECT erp.sign_out() \g /dev/null
SELECT erp.enqueue('mrp.replenish', jsonb_build_object('company', :a), now(), 1000000000) AS job \gset
SELECT is(erp.run_pending(1), 1, 'run_pending runs the mrp.replenish job');
SELECT results_eq(format('SELECT status, result FROM erp.job WHERE id = %s', :job),
                  $$VALUES ('done'::text, '{"ordered": 0, "failed": 1}'::jsonb)$$,
                  'the job is done: nothing ordered, the rule without supplier failed');

-- ============================================================ a supplier's minimum quantity
-- SUPQ: 1.00 from the vendor from 50 units on, 2.00 from the dearer one for any quantity; min 1, max 10
SELECT stock.create_product(:a, 'R50-SUPQ', 'Minimum quantity') AS supq \gset
SELECT purchase.add_supplier(:supq, :v, 1, 3, 50), purchase.add_supplier(:supq, :v2, 2, 3) \g /dev/null
SELECT mrp.add_reorder_rule(:supq, :wh, 1, 10) \g /dev/null
DELETE FROM got;
INSERT INTO got SELECT * FROM pg_temp.replenish(false);
SELECT results_eq($$SELECT qty_to_order, CASE WHEN order_ref LIKE 'PO/%' THEN 'PO' ELSE order_ref END FROM got WHERE sku = 'R50-SUPQ'$$,
                  $$VALUES (10::numeric, 'PO'::text)$$, 'SUPQ: 10 are ordered (the cheaper price needs 50)');
SELECT results_eq(format($$SELECT o.vendor_id, l.qty, l.price FROM purchase.order_line l JOIN purchase.order o ON o.id = l.order_id
                           WHERE l.product_id = %s$$, :supq),
                  format('VALUES (%s::bigint, 10::numeric, 2.00::numeric)', :v2),
                  'from the vendor whose price is valid for 10, at 2.00');

SELECT * FROM finish();
ROLLBACK;
