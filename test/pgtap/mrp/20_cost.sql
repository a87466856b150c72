-- mrp.bom_cost: components at their current unit cost (FIFO average of the stock, standard price,
-- last cost, standard price without history), sub-assemblies and kits rolled up with their operations,
-- lines rounded to the cent; mrp.update_standard_price and its revaluation layer.
BEGIN;
\ir ../setup.sql
SELECT plan(23);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'BC20') AS wh \gset
CREATE FUNCTION pg_temp.d(n int) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
    $$ SELECT '2026-01-01 00:00:00+00'::timestamptz + n * interval '1 day' $$;
CREATE FUNCTION pg_temp.l(p bigint, q numeric, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('product', p, 'qty', q) || extra $$;
CREATE FUNCTION pg_temp.op(n text, w bigint, m numeric) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('name', n, 'workcenter', w, 'minutes', m) $$;

SELECT stock.create_product(:a, 'BC20-CA', 'Fifo in stock') AS ca \gset
SELECT stock.create_product(:a, 'BC20-CB', 'Standard', 'standard', 4) AS cb \gset
SELECT stock.create_product(:a, 'BC20-CC', 'Never stocked', 'fifo', 1.25) AS cc \gset
SELECT stock.create_product(:a, 'BC20-CD', 'Sold out', 'fifo', 1.25) AS cd \gset
SELECT stock.create_product(:a, 'BC20-K', 'Kit') AS kit \gset
SELECT stock.create_product(:a, 'BC20-SUB', 'Sub-assembly') AS sub \gset
SELECT stock.create_product(:a, 'BC20-TOP', 'Top, standard cost', 'standard', 10) AS top \gset
SELECT mrp.create_workcenter(:a, 'BC20-W1', 30) AS w1 \gset
SELECT mrp.create_workcenter(:a, 'BC20-W2', 40) AS w2 \gset

-- CA: 10 @ 2.00 and 10 @ 3.00 in stock: 2.50 a unit
SELECT stock.receive(:ca, 10, 2, :wh, 'CA-1', pg_temp.d(1));
SELECT stock.receive(:ca, 10, 3, :wh, 'CA-2', pg_temp.d(2));
-- CB: standard 4.00, bought at 5.00
SELECT stock.receive(:cb, 5, 5, :wh, 'CB-1', pg_temp.d(1));
-- CD: 5 bought @ 7.00, all sold: its last cost 7.00, not its standard price 1.25
SELECT stock.receive(:cd, 5, 7, :wh, 'CD-1', pg_temp.d(1));
SELECT stock.deliver(:cd, 5, :wh, 'CD-2', pg_temp.d(2));
-- SUB in stock at 100: its BOM cost is rolled up, not its stock value
SELECT stock.receive(:sub, 2, 100, :wh, 'SUB-1', pg_temp.d(1));
SELECT stock.receive(:top, 3, 10, :wh, 'TOP-1', pg_temp.d(1));

SELECT results_eq(format('SELECT mrp._unit_cost(p) FROM stock.product p WHERE p.id IN (%s, %s, %s, %s) ORDER BY p.sku', :ca, :cb, :cc, :cd),
                  $$VALUES (2.5::numeric), (4), (1.25), (7)$$,
                  'current unit costs: CA the average of its stock 2.50, CB its standard 4.00, CC its standard price 1.25 (no history), CD its last cost 7.00');

-- K (kit, batch 2) = 4 CC: 2.50 a kit
SELECT mrp.create_bom(:kit, 2, jsonb_build_array(pg_temp.l(:cc, 4)), 'phantom');
-- SUB (batch 2) = 3 CA (7.50) + 1 CC (1.25); W1 10 min (5.00): 13.75 a batch, 6.875 a unit
SELECT mrp.create_bom(:sub, 2, jsonb_build_array(pg_temp.l(:ca, 3), pg_temp.l(:cc, 1)), 'normal', NULL,
                      jsonb_build_array(pg_temp.op('Assemble', :w1, 10)));
-- TOP (batch 4) = 3 SUB (20.625 -> 20.63) + 2 CB with 10 % scrap (2.2 x 4 = 8.80) + 1 CD (7.00)
--                 + 1.5 CA (3.75) + 2 K (5.00): 45.18;
--                 W1 7 min (3.50) + W2 13 min (8.666.. -> 8.67): 12.17; 57.35 a batch, 14.3375 -> 14.34 a unit
SELECT mrp.create_bom(:top, 4, jsonb_build_array(pg_temp.l(:sub, 3), pg_temp.l(:cb, 2, '{"scrap_pct": 10}'), pg_temp.l(:cd, 1),
                                                 pg_temp.l(:ca, 1.5), pg_temp.l(:kit, 2)), 'normal', NULL,
                      jsonb_build_array(pg_temp.op('Mount', :w1, 7), pg_temp.op('Test', :w2, 13)));

-- a generic plan of its level query joined the costs so far by nested loop
-- (estimated at 10 rows): 2.2 s instead of 0.2 s at 10,000 nodes (docs/benchmarks.md)
SELECT ok('plan_cache_mode=force_custom_plan' = ANY (p.proconfig), 'mrp.bom_cost plans each level query with its arrays'' real sizes')
  FROM pg_proc p WHERE p.oid = 'mrp.bom_cost(bigint)'::regprocedure;

SELECT results_eq(format('SELECT * FROM mrp.bom_cost(%s)', :sub),
                  $$VALUES (2::numeric, 8.75::numeric, 5.00::numeric, 13.75::numeric, 6.88::numeric)$$,
                  'SUB: batch 2, components 7.50 + 1.25, operation 10 min at 30/h = 5.00, total 13.75, unit 6.875 -> 6.88');
SELECT results_eq(format('SELECT * FROM mrp.bom_cost(%s)', :top),
                  $$VALUES (4::numeric, 45.18::numeric, 12.17::numeric, 57.35::numeric, 14.34::numeric)$$,
                  'TOP: components 20.63 + 8.80 + 7.00 + 3.75 + 5.00 = 45.18, operations 3.50 + 8.67 = 12.17, total 57.35, unit 14.34');
SELECT is((SELECT unit_cost::text FROM mrp.bom_cost(:top)), '14.34', 'the unit cost carries the price precision (2 decimals)');

-- a new receipt of CA moves its average (10 @ 2, 10 @ 3, 20 @ 4.25: 135 / 40 = 3.375)
SELECT stock.receive(:ca, 20, 4.25, :wh, 'CA-3', pg_temp.d(3));
-- SUB: 3 x 3.375 = 10.125 -> 10.13, + 1.25 + 5.00 = 16.38 a batch (8.19 a unit);
-- TOP: 3 x 8.19 = 24.57, 8.80, 7.00, 1.5 x 3.375 = 5.0625 -> 5.06, 5.00: 50.43; + 12.17 = 62.60; 15.65 a unit
SELECT results_eq(format('SELECT * FROM mrp.bom_cost(%s)', :top),
                  $$VALUES (4::numeric, 50.43::numeric, 12.17::numeric, 62.60::numeric, 15.65::numeric)$$,
                  'after CA''s average moves to 3.375: components 50.43 (the sub-assembly rolled up from 16.38 a batch), total 62.60, unit 15.65');
SELECT stock.deliver(:ca, 40, :wh, 'CA-4', pg_temp.d(4));
SELECT results_eq(format('SELECT * FROM mrp.bom_cost(%s)', :sub),
                  $$VALUES (2::numeric, 14.00::numeric, 5.00::numeric, 19.00::numeric, 9.50::numeric)$$,
                  'CA sold out: its last cost 4.25 is used (3 x 4.25 = 12.75 + 1.25), total 19.00, unit 9.50');
SELECT throws_ok(format('SELECT * FROM mrp.bom_cost(%s)', :ca), '22023', 'product BC20-CA has no bill of materials',
                 'the cost of a product without BOM: 22023');

-- back to the first state of CA for the price update: 20 in stock at 2.50
SELECT stock.receive(:ca, 10, 2, :wh, 'CA-5', pg_temp.d(5));
SELECT stock.receive(:ca, 10, 3, :wh, 'CA-6', pg_temp.d(6));
SELECT is((SELECT unit_cost FROM mrp.bom_cost(:top)), 14.34::numeric, 'with CA back at 2.50, TOP costs 14.34 again');

-- ------------------------------------------------------------ update_standard_price
SELECT (SELECT count(*) FROM stock.valuation_layer WHERE product_id = :sub) AS sub_layers \gset
SELECT is(mrp.update_standard_price(:top), 14.34::numeric, 'update_standard_price returns the BOM unit cost 14.34');
SELECT is((SELECT standard_price FROM stock.product WHERE id = :top), 14.34::numeric, 'and writes it as TOP''s standard price');
SELECT results_eq(format('SELECT quantity, value, move_id, description FROM stock.valuation_layer WHERE product_id = %s AND move_id IS NULL', :top),
                  $$VALUES (0::numeric, 13.02::numeric, NULL::bigint, 'Product value manually modified (from 10.00 to 14.34)'::text)$$,
                  'TOP has 3 in stock at standard cost: a revaluation layer of 3 x 4.34 = 13.02');
SELECT results_eq(format('SELECT * FROM stock.valuation(%s)', :top), $$VALUES (3::numeric, 43.02::numeric)$$,
                  'TOP: 3 units now worth 43.02');
SELECT results_eq(format($$SELECT a.kind, l.debit, l.credit FROM stock.journal_entry e
                             JOIN stock.journal_line l ON l.company_id = e.company_id AND l.entry_id = e.id
                             JOIN stock.account a ON a.company_id = l.company_id AND a.id = l.account_id
                            WHERE e.layer_id = (SELECT id FROM stock.valuation_layer WHERE product_id = %s AND move_id IS NULL)
                            ORDER BY a.kind$$, :top),
                  $$VALUES ('price_difference'::text, 0::numeric, 13.02::numeric), ('stock_valuation', 13.02, 0)$$,
                  'the revaluation books 13.02 from price difference to stock valuation');
SELECT is(mrp.update_standard_price(:sub), 6.88::numeric, 'update_standard_price of the FIFO sub-assembly returns 6.88');
SELECT results_eq(format('SELECT p.standard_price, (SELECT count(*) FROM stock.valuation_layer l WHERE l.product_id = p.id) FROM stock.product p WHERE p.id = %s', :sub),
                  format('VALUES (6.88::numeric, %s::bigint)', :sub_layers),
                  'a FIFO product gets the price but no revaluation layer: its stock keeps its FIFO value');
SELECT is_empty(format('SELECT * FROM stock.verify_valuation() WHERE product_id IN (SELECT id FROM stock.product WHERE company_id = %s)', :a),
                'stock.verify_valuation finds A''s valuation consistent after the updates');

-- ------------------------------------------------------------ permissions
SELECT pg_temp.make_user('bc20_stock', 'stock_user', :a);
SELECT pg_temp.make_user('bc20_aud', 'auditor', :a);
SELECT pg_temp.make_user('bc20_plan', 'mrp_planner', :a);
SELECT pg_temp.login('bc20_stock', :a);
SELECT is(pg_temp.error_detail(format('SELECT * FROM mrp.bom_cost(%s)', :top)),
          format('42501: Permission "mrp.bom:read" is required on company %s.', :a), 'a stock_user cannot read BOM costs (42501)');
SELECT pg_temp.login('bc20_aud', :a);
SELECT is(pg_temp.error_detail(format('SELECT mrp.update_standard_price(%s)', :top)),
          format('42501: Permission "stock.valuation:revalue" is required on company %s.', :a),
          'an auditor reads the cost but cannot write it as standard price (42501)');
SELECT erp.sign_out();
SELECT stock.receive(:cc, 100, 0.5, :wh, 'CC-1', pg_temp.d(2));
SELECT pg_temp.login('bc20_plan', :a);
SELECT is(mrp.update_standard_price(:sub), 6.50::numeric,
          'an mrp_planner updates a standard price (CC now 0.50 in stock: 7.50 + 0.50 + 5.00 = 13.00 a batch of 2)');
SELECT erp.sign_out();
SELECT is((SELECT standard_price FROM stock.product WHERE id = :sub), 6.50::numeric, 'the planner''s price is stored');

-- ------------------------------------------------------------ a read, safe to call
-- Run a statement in a read-only state, then undo: 'ok' or 'SQLSTATE: message'.
CREATE FUNCTION pg_temp.read_only(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        SET LOCAL transaction_read_only = on;
        EXECUTE p_sql;
        RAISE EXCEPTION 'undo' USING ERRCODE = 'assert_failure';
    EXCEPTION
        WHEN assert_failure THEN RETURN 'ok';
        WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM;
    END;
END $$;
SELECT is(pg_temp.read_only(format('SELECT * FROM mrp.bom_cost(%s)', :top)), 'ok',
          'bom_cost is a read: it runs in a read-only transaction (a standby, a read-only session)');

-- bom_cost runs with its owner's rights: a table the caller made must not run the caller's code with them
DROP TABLE IF EXISTS pg_temp.mrp_bom_cost_node;
CREATE TABLE pg_temp.bc20_seen (who name, super boolean);
GRANT ALL ON pg_temp.bc20_seen TO PUBLIC;
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('bc20_aud', :a);
CREATE TEMP TABLE mrp_bom_cost_node (product_id bigint PRIMARY KEY, depth int, bom_id bigint, bom_qty numeric,
                                     comp numeric, ops numeric, unit_cost numeric);
CREATE FUNCTION pg_temp.bc20_spy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.bc20_seen SELECT current_user, r.rolsuper FROM pg_roles r WHERE r.rolname = current_user;
    RETURN NEW;
END $$;
CREATE TRIGGER bc20_spy BEFORE INSERT OR UPDATE ON pg_temp.mrp_bom_cost_node FOR EACH ROW EXECUTE FUNCTION pg_temp.bc20_spy();
SELECT pg_temp.error_detail(format('SELECT * FROM mrp.bom_cost(%s)', :top)) AS hijack \gset
SELECT erp.sign_out();
RESET ROLE;
SELECT is_empty('SELECT * FROM pg_temp.bc20_seen WHERE super',
                'an auditor connected as pgerp_app who pre-creates a temp table mrp_bom_cost_node with a trigger does not get it run as a superuser by bom_cost');

SELECT * FROM finish();
ROLLBACK;
