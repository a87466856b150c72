-- mrp.replenish as set joins (#16): the grouped lines' prices come from the
-- best supplier line valid for the quantity, the make-or-buy choice follows
-- the first active BoM, forecasts add up every source per rule, a run that
-- wrote many lines leaves statistics that count them, JIT stays off and the
-- forecast merge-joins its sources (no hash joins), but only the forecast: the
-- orders the run creates plan with the caller's settings.
BEGIN;
\ir ../setup.sql
SELECT plan(12);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'R55') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.virtual_location(:a, 'customer') AS cust \gset
SELECT stock.virtual_location(:a, 'supplier') AS sup \gset
SELECT erp.create_partner(:a, 'r55 Vendor', 'vendor') AS v \gset

-- FIRST opens the vendor's order; QTY is a later line of it: 10 to order, its
-- line at 1.00 needs 100, so the line at 2.00 is the valid one
SELECT stock.create_product(:a, 'R55-FIRST', 'First') AS first \gset
SELECT purchase.add_supplier(:first, :v, 1, 3) \g /dev/null
SELECT mrp.add_reorder_rule(:first, :wh, 1, 2) \g /dev/null
SELECT stock.create_product(:a, 'R55-QTY', 'Valid for the quantity') AS qty \gset
SELECT purchase.add_supplier(:qty, :v, 1, 3, 100), purchase.add_supplier(:qty, :v, 2, 3) \g /dev/null
SELECT mrp.add_reorder_rule(:qty, :wh, 1, 10) \g /dev/null
-- PH: its first BoM is a phantom (kit), a normal one comes later: bought
SELECT stock.create_product(:a, 'R55-PH', 'Kit first') AS ph \gset
SELECT stock.create_product(:a, 'R55-PHC', 'Its component') AS phc \gset
SELECT purchase.add_supplier(:ph, :v, 4, 3) \g /dev/null
SELECT mrp.create_bom(:ph, 1, jsonb_build_array(jsonb_build_object('product', :phc, 'qty', 1)), 'phantom') \g /dev/null
SELECT mrp.create_bom(:ph, 1, jsonb_build_array(jsonb_build_object('product', :phc, 'qty', 1))) AS ph_normal \gset
UPDATE mrp.bom SET sequence = 20 WHERE id = :ph_normal;
SELECT mrp.add_reorder_rule(:ph, :wh, 1, 3) \g /dev/null
-- SUM: 4 on hand in two lots' worth of receipts, 3 coming in 1 day, 6 going out in 2 days, 2 going
-- out in 30 days (beyond the lead time): forecast 4 + 3 - 6 = 1, min 5, max 9: 8
SELECT stock.create_product(:a, 'R55-SUM', 'Every source') AS sm \gset
SELECT purchase.add_supplier(:sm, :v, 1, 3) \g /dev/null
SELECT stock.receive(:sm, 1, 1, :wh), stock.receive(:sm, 3, 1, :wh) \g /dev/null
SELECT stock.confirm(stock.create_move(:sm, 3, :sup, :loc, NULL, now() + interval '1 day', 'IN-3')) \g /dev/null
SELECT stock.confirm(stock.create_move(:sm, 6, :loc, :cust, NULL, now() + interval '2 days', 'OUT-6')) \g /dev/null
SELECT stock.confirm(stock.create_move(:sm, 2, :loc, :cust, NULL, now() + interval '30 days', 'OUT-2')) \g /dev/null
SELECT mrp.add_reorder_rule(:sm, :wh, 5, 9) \g /dev/null

-- MK: made (a normal BoM, no supplier); the orders the run creates note the
-- enable_hashjoin they are written with
SELECT stock.create_product(:a, 'R55-MK', 'Made') AS mk \gset
SELECT mrp.create_bom(:mk, 1, jsonb_build_array(jsonb_build_object('product', :phc, 'qty', 1))) \g /dev/null
SELECT mrp.add_reorder_rule(:mk, :wh, 1, 2) \g /dev/null
CREATE TEMP TABLE seen (tbl text, hashjoin text);
CREATE FUNCTION pg_temp.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.seen VALUES (TG_TABLE_NAME, current_setting('enable_hashjoin'));
    RETURN NULL;
END $$;
CREATE TRIGGER r55_note AFTER INSERT ON mrp.production FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
CREATE TRIGGER r55_note AFTER INSERT ON purchase.order FOR EACH ROW EXECUTE FUNCTION pg_temp.note();

CREATE TEMP TABLE got AS
SELECT p.sku, r.qty_forecast, r.qty_to_order, r.order_ref FROM mrp.replenish(:a) r JOIN stock.product p ON p.id = r.product_id;
SELECT is((SELECT ol.price FROM purchase.order_line ol WHERE ol.product_id = :qty), 2::numeric,
          'a later line of the order takes the price of the supplier line valid for its quantity');
SELECT is((SELECT ol.qty FROM purchase.order_line ol WHERE ol.product_id = :qty), 10::numeric, 'and orders 10');
SELECT is((SELECT count(*) FROM purchase.order_line ol WHERE ol.product_id = :ph), 1::bigint,
          'a product whose first active BoM is a kit is bought');
SELECT is((SELECT count(*) FROM mrp.production WHERE product_id = :ph), 0::bigint, 'not made');
SELECT results_eq($$SELECT qty_forecast, qty_to_order FROM got WHERE sku = 'R55-SUM'$$,
                  $$VALUES (1::numeric, 8::numeric)$$,
                  'the forecast adds on hand, incoming and outgoing within the lead time: 1, so 8 to order');
SELECT results_eq($$SELECT tbl, hashjoin FROM pg_temp.seen ORDER BY tbl$$,
                  $$VALUES ('order'::text, 'on'::text), ('production', 'on')$$,
                  'the order and the MO the run creates are written with hash joins on, as the caller''s settings say');
SELECT is(current_setting('enable_hashjoin'), 'on', 'and after the run the setting is the caller''s');
DROP TRIGGER r55_note ON mrp.production;
DROP TRIGGER r55_note ON purchase.order;
SELECT is((SELECT count(*) FROM mrp.replenish(:a)), 0::bigint, 'a second run counts the drafts and orders nothing');

-- 600 rules ordering at once: the run analyzes what it wrote
INSERT INTO stock.product (company_id, sku, name) SELECT :a, 'R55-N' || n, 'Many ' || n FROM generate_series(1, 600) n;
INSERT INTO purchase.supplier_info (company_id, product_id, vendor_id, price, lead_days)
SELECT :a, p.id, :v, 1, 2 FROM stock.product p WHERE p.company_id = :a AND p.sku LIKE 'R55-N%';
INSERT INTO mrp.reorder_rule (company_id, product_id, warehouse_id, min_qty, max_qty, multiple)
SELECT :a, p.id, :wh, 1, 5, 1 FROM stock.product p WHERE p.company_id = :a AND p.sku LIKE 'R55-N%';
SELECT is((SELECT count(*) FROM mrp.replenish(:a)), 600::bigint, '600 rules order');
SELECT cmp_ok((SELECT reltuples FROM pg_class WHERE oid = 'purchase.order_line'::regclass), '>=', 600::real,
              'the statistics of the order lines count the lines the run wrote');

SELECT ok((SELECT 'jit=off' = ANY (proconfig) FROM pg_proc WHERE oid = 'mrp.replenish(bigint, boolean)'::regprocedure),
          'mrp.replenish runs without JIT (compiling its plan cost more than running it)');
SELECT ok((SELECT NOT EXISTS (SELECT 1 FROM unnest(proconfig) c WHERE c LIKE 'enable_hashjoin=%') FROM pg_proc
            WHERE oid = 'mrp.replenish(bigint, boolean)'::regprocedure),
          'mrp.replenish sets enable_hashjoin around its forecast only, not on the function (which would reach its callees)');

SELECT * FROM finish();
ROLLBACK;
