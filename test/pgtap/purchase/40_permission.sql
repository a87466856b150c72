-- purchase permissions as the application role: a stock_user cannot buy, a purchase_user of A buys, confirms and receives in A and does not see B's orders, vendors, products or prices.
BEGIN;
\ir ../setup.sql
SELECT plan(21);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'PP40') AS wh \gset
SELECT stock.create_product(:a, 'PP40-BOLT', 'Bolt') AS p \gset
SELECT erp.create_partner(:a, 'pp40 Vendor', 'vendor') AS v \gset
SELECT stock.create_warehouse(:b, 'PP40-B') AS whb \gset
SELECT stock.create_product(:b, 'PP40-PB', 'Bolt of B') AS pb \gset
SELECT erp.create_partner(:b, 'pp40 Vendor of B', 'vendor') AS vb \gset
SELECT purchase.add_supplier(:pb, :vb, 2, 1) AS sb \gset
SELECT purchase.create_order(:vb, format('[{"product": %s, "qty": 3, "price": 2}]', :pb)::jsonb) AS ob \gset
SELECT purchase.create_order(:vb, format('[{"product": %s, "qty": 3, "price": 2}]', :pb)::jsonb) AS ob2 \gset
SELECT purchase.confirm(:ob2);
SELECT pg_temp.make_user('pp40_stock', 'stock_user', :a, false) AS su \gset
SELECT pg_temp.make_user('pp40_buyer', 'purchase_user', :a, false) AS pu \gset
SELECT pg_temp.make_user('pp40_planner', 'mrp_planner', :a, false) AS planner \gset

SET LOCAL ROLE pgerp_app;

-- ------------------------------------------------------------ stock_user of A
SELECT pg_temp.login('pp40_stock', :a);
SELECT is(pg_temp.error_detail(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'')', :v, :p)),
          format('42501: Permission "purchase.order:create" is required on company %s.', :a),
          'a stock_user cannot create a purchase order (42501 naming purchase.order:create)');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, 1, 1)', :p, :v), '42501', NULL,
                 'nor add a vendor price (42501)');

-- ------------------------------------------------------------ mrp_planner of A: reads purchasing only
SELECT pg_temp.login('pp40_planner', :a);
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'')', :v, :p), '42501', NULL,
                 'an mrp_planner (purchase.*:read) cannot create an order either (42501)');

-- ------------------------------------------------------------ purchase_user of A
SELECT pg_temp.login('pp40_buyer', :a);
SELECT purchase.add_supplier(:p, :v, 1.25, 2) AS s \gset
SELECT is((purchase.best_supplier(:p, 4)).id, :s::bigint, 'a purchase_user of A adds a vendor price and finds it as the best');
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 4}]', :p)::jsonb, now()) AS o \gset
SELECT results_eq(format('SELECT o.company_id, o.state, l.qty, l.price FROM purchase.order o JOIN purchase.order_line l ON l.order_id = o.id WHERE o.id = %s', :o),
                  format($$VALUES (%s::bigint, 'draft'::text, 4::numeric, 1.25::numeric)$$, :a),
                  'creates an order of A (price from the vendor line) and sees it with its line');
SELECT lives_ok(format('SELECT purchase.confirm(%s)', :o), 'confirms it');
SELECT lives_ok(format('SELECT purchase.receive(%s)', :o), 'receives it');
SELECT results_eq(format('SELECT state FROM purchase.order WHERE id = %s', :o), $$VALUES ('done'::text)$$, 'the order is done');
SELECT is(ARRAY[stock.on_hand(:p), (stock.valuation(:p)).value], ARRAY[4, 5]::numeric[], '4 bolts in stock worth 5');

SELECT is((SELECT count(*) FROM purchase.order WHERE company_id = :b), 0::bigint, 'the purchase_user sees no order of B');
SELECT is((SELECT count(*) FROM purchase.order_line WHERE company_id = :b), 0::bigint, 'nor any line of B');
SELECT is((SELECT count(*) FROM purchase.supplier_info WHERE company_id = :b), 0::bigint, 'nor any vendor price of B');
SELECT set_eq('SELECT id FROM purchase.order', ARRAY[:o]::bigint[], 'purchase.order shows exactly A''s order');
SELECT throws_ok(format('SELECT purchase.confirm(%s)', :ob), '22023', format('purchase order %s does not exist', :ob),
                 'confirming B''s order: it does not exist (22023)');
SELECT throws_ok(format('SELECT purchase.receive(%s)', :ob2), '22023', format('purchase order %s does not exist', :ob2),
                 'receiving B''s order: it does not exist (22023)');
SELECT throws_ok(format('SELECT purchase.cancel(%s)', :ob2), '22023', format('purchase order %s does not exist', :ob2),
                 'cancelling B''s order: it does not exist (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'')', :vb, :pb), '22023',
                 format('partner %s does not exist', :vb), 'ordering from B''s vendor: it does not exist (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'')', :v, :pb), '22023',
                 format('product %s does not exist', :pb), 'ordering B''s product: it does not exist (22023)');
SELECT ok(purchase.best_supplier(:pb, 5) IS NULL, 'best_supplier finds no vendor price of B''s product');
SELECT erp.sign_out();
RESET ROLE;

SELECT results_eq(format('SELECT id, state FROM purchase.order WHERE company_id = %s ORDER BY id', :b),
                  format($$VALUES (%s::bigint, 'draft'::text), (%s, 'confirmed')$$, :ob, :ob2),
                  'as superuser: B''s orders are unchanged, one draft and one confirmed');
SELECT is((SELECT count(*) FROM purchase.order WHERE company_id = :a), 1::bigint,
          'as superuser: A holds only the purchase_user''s order (the refused ones wrote nothing)');

SELECT * FROM finish();
ROLLBACK;
