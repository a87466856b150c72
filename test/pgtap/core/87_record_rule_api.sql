-- Record rules in the function API (#11.3): a row hidden by a rule is, for SECURITY DEFINER
-- functions too, exactly like a row that does not exist (stock products, moves, locations and
-- warehouses, MRP components and manufacturing orders, purchase orders, vendors and supplier lines).
BEGIN;
\ir ../setup.sql
SELECT plan(32);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'R87A') AS wha \gset
SELECT stock.create_warehouse(:b, 'R87B') AS whb \gset
SELECT stock.create_warehouse(:b, 'R87B2') AS whb2 \gset
SELECT stock.warehouse_location(:whb) AS locb \gset
SELECT stock.warehouse_location(:whb2) AS locb2 \gset
SELECT stock.virtual_location(:b, 'customer') AS custb \gset
SELECT stock.create_product(:b, 'GEAR-40', 'Gear 40 of B') AS p40 \gset
SELECT stock.create_product(:b, 'GEAR-41', 'Gear 41 of B') AS p41 \gset
SELECT stock.create_product(:a, 'GEAR-40', 'Gear 40 of A') AS a40 \gset
SELECT stock.receive(:p40, 10, 2, :whb) IS NOT NULL AS ok \gset
SELECT stock.receive(:p41, 10, 3, :whb) IS NOT NULL AS ok \gset
SELECT stock.receive(:a40, 10, 2, :wha) IS NOT NULL AS ok \gset
SELECT stock.create_move(:p41, 1, :locb, :custb, NULL, now(), 'R87-HIDE') AS mhide \gset
SELECT stock.create_move(:p41, 1, :locb, :custb, NULL, now(), 'R87-SHOW') AS mshow \gset
SELECT erp.create_partner(:b, 'Vendor of B') AS vb \gset
SELECT erp.create_partner(:b, 'Hidden vendor of B') AS vbh \gset
SELECT purchase.add_supplier(:p41, :vb, 5, 3) AS si \gset
SELECT purchase.create_order(:vb, jsonb_build_array(jsonb_build_object('product', :p41, 'qty', 2)), NULL, :whb) AS po \gset
SELECT mrp.create_bom(:p41, 1, jsonb_build_array(jsonb_build_object('product', :p40, 'qty', 1))) IS NOT NULL AS ok \gset
SELECT mrp.create_mo(:p41, 1, NULL, :whb) AS mo \gset

SELECT pg_temp.make_user('t87_dave', 'admin', :b) AS dave \gset
SELECT pg_temp.make_user('t87_bob', 'stock_manager', :b) AS bob \gset
SELECT pg_temp.make_user('t87_alice', 'stock_manager', :a) AS alice \gset
SELECT pg_temp.make_user('t87_pat', 'mrp_planner', :b) AS pat \gset
SELECT pg_temp.make_user('t87_pur', 'purchase_user', :b) AS pur \gset

-- B's admin adds B's rules, as the application would.
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t87_dave');
SELECT erp.add_record_rule('stock.product', 'stock_manager', $$sku <> 'GEAR-40'$$, :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('stock.product', 'mrp_planner', $$sku <> 'GEAR-40'$$, :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('stock.move', 'stock_manager', $$ref IS DISTINCT FROM 'R87-HIDE'$$, :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('stock.warehouse', 'stock_manager', $$code <> 'R87B2'$$, :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('stock.location', 'stock_manager', format('id <> %s', :locb2), :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('mrp.production', 'mrp_planner', format('id <> %s', :mo), :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('purchase.order', 'purchase_user', format('id <> %s', :po), :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('purchase.supplier_info', 'purchase_user', format('id <> %s', :si), :b) IS NOT NULL AS ok \gset
SELECT erp.add_record_rule('erp.partner', 'purchase_user', $$name NOT LIKE 'Hidden%'$$, :b) IS NOT NULL AS ok \gset

-- ------------------------------------------------ the reproduction: bob and GEAR-40
SELECT pg_temp.login('t87_bob');
SELECT is((SELECT count(*)::int FROM stock.product WHERE id = :p40), 0, 'bob no longer sees GEAR-40 of B');
SELECT throws_ok(format('SELECT stock.on_hand(%s)', :p40), '22023', format('product %s does not exist', :p40),
                 'stock.on_hand of the hidden product: does not exist');
SELECT throws_ok(format('SELECT stock.available(%s)', :p40), '22023', format('product %s does not exist', :p40),
                 'stock.available of the hidden product: does not exist');
SELECT throws_ok(format('SELECT stock.valuation(%s)', :p40), '22023', format('product %s does not exist', :p40),
                 'stock.valuation of the hidden product: does not exist');
SELECT throws_ok(format('SELECT stock.deliver(%s, 1, %s)', :p40, :whb), '22023', format('product %s does not exist', :p40),
                 'stock.deliver of the hidden product: does not exist');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1, %s)', :p40, :whb), '22023', format('product %s does not exist', :p40),
                 'stock.receive of the hidden product: does not exist');
SELECT throws_ok(format('SELECT stock.create_move(%s, 1, %s, %s)', :p40, :locb, :custb), '22023',
                 format('product %s does not exist', :p40), 'stock.create_move of the hidden product: does not exist');
SELECT throws_ok(format('SELECT stock.set_standard_price(%s, 1)', :p40), '22023', format('product %s does not exist', :p40),
                 'stock.set_standard_price of the hidden product: does not exist');
SELECT is(pg_temp.error_detail(format('SELECT stock.on_hand(%s)', :p40)),
          pg_temp.error_detail('SELECT stock.on_hand(999999999999)'),
          'the same SQLSTATE and detail as for an id that does not exist');
SELECT is(stock.on_hand(:p41), 10::numeric, 'the visible product of B still works for bob');
SELECT pg_temp.login('t87_alice');
SELECT is(stock.on_hand(:a40), 10::numeric, 'B''s rule does not affect A''s GEAR-40');
SELECT lives_ok(format('SELECT stock.deliver(%s, 1, %s)', :a40, :wha), 'alice delivers A''s GEAR-40');

-- ------------------------------------------------ moves, locations, warehouses
SELECT pg_temp.login('t87_bob');
SELECT throws_ok(format('SELECT stock.confirm(%s)', :mhide), '22023', format('move %s does not exist', :mhide),
                 'stock.confirm of a rule-hidden move: does not exist');
SELECT throws_ok(format('SELECT stock.cancel(%s)', :mhide), '22023', format('move %s does not exist', :mhide),
                 'stock.cancel of a rule-hidden move: does not exist');
SELECT throws_ok(format('SELECT stock.validate(%s)', :mhide), '22023', format('move %s does not exist', :mhide),
                 'stock.validate of a rule-hidden move: does not exist');
SELECT lives_ok(format('SELECT stock.confirm(%s)', :mshow), 'the visible move can be confirmed');
SELECT throws_ok(format('SELECT stock.on_hand(%s, %s)', :p41, :locb2), '22023',
                 format('location %s does not exist in company %s', :locb2, :b), 'a rule-hidden location: does not exist');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1, %s)', :p41, :whb2), '22023',
                 format('warehouse %s does not exist in company %s', :whb2, :b), 'a rule-hidden warehouse: does not exist');

-- ------------------------------------------------ MRP: components and manufacturing orders
SELECT pg_temp.login('t87_pat');
SELECT throws_ok(format('SELECT * FROM mrp.explode(%s, 1)', :p40), '22023', format('product %s does not exist', :p40),
                 'mrp.explode of the hidden product: does not exist');
SELECT throws_ok(format('SELECT mrp.create_mo(%s, 1, NULL, %s)', :p40, :whb), '22023', format('product %s does not exist', :p40),
                 'mrp.create_mo of the hidden product: does not exist');
SELECT throws_ok(format($$SELECT mrp.create_bom(%s, 1, '[{"product": %s, "qty": 1}]')$$, :p41, :p40), '22023',
                 format('product %s does not exist', :p40), 'a hidden product as a BOM component: does not exist');
SELECT throws_ok(format('SELECT mrp.confirm_mo(%s)', :mo), '22023', format('manufacturing order %s does not exist', :mo),
                 'mrp.confirm_mo of a rule-hidden MO: does not exist');
SELECT throws_ok(format('SELECT mrp.cancel_mo(%s)', :mo), '22023', format('manufacturing order %s does not exist', :mo),
                 'mrp.cancel_mo of a rule-hidden MO: does not exist');

-- ------------------------------------------------ purchase: orders, vendors, supplier lines
SELECT pg_temp.login('t87_pur');
SELECT throws_ok(format('SELECT purchase.confirm(%s)', :po), '22023', format('purchase order %s does not exist', :po),
                 'purchase.confirm of a rule-hidden order: does not exist');
SELECT throws_ok(format('SELECT purchase.cancel(%s)', :po), '22023', format('purchase order %s does not exist', :po),
                 'purchase.cancel of a rule-hidden order: does not exist');
SELECT throws_ok(format($$SELECT purchase.create_order(%s, '[{"product": %s, "qty": 1}]', NULL, %s)$$, :vbh, :p41, :whb), '22023',
                 format('partner %s does not exist', :vbh), 'a rule-hidden vendor: does not exist');
SELECT ok((purchase.best_supplier(:p41, 1)).id IS NULL, 'a rule-hidden supplier line is not chosen');

-- ------------------------------------------------ nothing changed; the bootstrap caller is not restricted
RESET ROLE;
SELECT erp.sign_out();
SELECT is(stock.on_hand(:p40), 10::numeric, 'the refused calls changed nothing: GEAR-40 still has 10');
SELECT is((SELECT state FROM stock.move WHERE id = :mhide), 'draft', 'the hidden move is still a draft');
SELECT is((SELECT state FROM mrp.production WHERE id = :mo), 'draft', 'the hidden MO is still a draft');
SELECT is((SELECT state FROM purchase.order WHERE id = :po), 'draft', 'the hidden order is still a draft');
SELECT is(stock.valuation(:p40), ROW(10::numeric, 20::numeric)::record, 'the bootstrap caller sees every row');

SELECT * FROM finish();
ROLLBACK;
