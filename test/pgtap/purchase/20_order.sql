-- purchase orders: create_order (prices, default price and planned date, bad lines, warehouses), confirm (one move per line), cancel.
BEGIN;
\ir ../setup.sql
SELECT plan(41);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'PO20') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.virtual_location(:a, 'supplier') AS supplier \gset
SELECT stock.create_product(:a, 'PO20-BOLT', 'Bolt') AS p1 \gset
SELECT stock.create_product(:a, 'PO20-NUT', 'Nut') AS p2 \gset
SELECT stock.create_product(:a, 'PO20-GLUE', 'Glue (no vendor price)') AS p3 \gset
SELECT erp.create_partner(:a, 'po20 Vendor', 'vendor') AS v \gset
SELECT erp.create_partner(:a, 'po20 Other vendor', 'both') AS v2 \gset
SELECT erp.create_partner(:a, 'po20 Customer', 'customer') AS cust \gset
-- the bolt: 4.50 (3 days) from 1, 4.00 (6 days) from 20; the nut 7.25 (10 days)
SELECT purchase.add_supplier(:p1, :v, 4.5, 3) AS s_bolt \gset
SELECT purchase.add_supplier(:p1, :v, 4, 6, 20) AS s_bolt20 \gset
SELECT purchase.add_supplier(:p2, :v, 7.25, 10) AS s_nut \gset
-- B has two warehouses
SELECT stock.create_warehouse(:b, 'PO20-B1') AS whb1 \gset
SELECT stock.create_warehouse(:b, 'PO20-B2') AS whb2 \gset
SELECT stock.create_product(:b, 'PO20-PB', 'Bolt of B') AS pb \gset
SELECT erp.create_partner(:b, 'po20 Vendor of B', 'vendor') AS vb \gset

-- ------------------------------------------------------------ create_order
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 5, "price": 3.999}]', :p1)::jsonb,
                             '2030-01-15 10:00:00+00') AS o1 \gset
SELECT results_eq(format('SELECT company_id, vendor_id, state, date_planned, location_id, backorder_of, confirmed_at FROM purchase.order WHERE id = %s', :o1),
                  format($$VALUES (%s::bigint, %s::bigint, 'draft'::text, '2030-01-15 10:00:00+00'::timestamptz, %s::bigint, NULL::bigint, NULL::timestamptz)$$,
                         :a, :v, :loc),
                  'create_order: a draft order of the vendor''s company, at the given date, into the only warehouse of A');
SELECT results_eq(format('SELECT product_id, qty, price, move_id FROM purchase.order_line WHERE order_id = %s', :o1),
                  format('VALUES (%s::bigint, 5::numeric, 4.00::numeric, NULL::bigint)', :p1),
                  'its line: 5 bolts, the given price 3.999 rounded to 4.00, no move yet');

SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 5}, {"product": %s, "qty": 20, "price": null}]', :p1, :p1)::jsonb) AS o2 \gset
SELECT results_eq(format('SELECT qty, price FROM purchase.order_line WHERE order_id = %s ORDER BY id', :o2),
                  $$VALUES (5::numeric, 4.50::numeric), (20::numeric, 4.00::numeric)$$,
                  'a line without price (or with "price": null) takes the vendor''s best price for its quantity: 4.50 for 5, 4.00 for 20');
SELECT is((SELECT date_planned FROM purchase.order WHERE id = :o2), now() + interval '6 days',
          'the planned date defaults to now + the longest lead time of the defaulted lines (6 days)');

SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 2}, {"product": %s, "qty": 1}, {"product": %s, "qty": 1, "price": 2}]',
                                        :p1, :p2, :p3)::jsonb) AS o3 \gset
SELECT results_eq(format('SELECT product_id, qty, price FROM purchase.order_line WHERE order_id = %s ORDER BY id', :o3),
                  format('VALUES (%s::bigint, 2::numeric, 4.50::numeric), (%s, 1, 7.25), (%s, 1, 2.00)', :p1, :p2, :p3),
                  'three lines: bolts at 4.50, nuts at 7.25 (vendor prices), glue at the given 2');
SELECT is((SELECT date_planned FROM purchase.order WHERE id = :o3), now() + interval '10 days',
          'planned date: now + 10 days, the nut''s lead time (the longest of the defaulted lines)');
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 1, "price": 9}]', :p2)::jsonb) AS o4 \gset
SELECT is((SELECT date_planned FROM purchase.order WHERE id = :o4), now(),
          'all lines priced: the nut''s 10-day lead time does not count, the planned date is now');
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 1}]', :p2)::jsonb, '2030-02-01 00:00:00+00') AS o5 \gset
SELECT results_eq(format('SELECT o.date_planned, l.price FROM purchase.order o JOIN purchase.order_line l ON l.order_id = o.id WHERE o.id = %s', :o5),
                  $$VALUES ('2030-02-01 00:00:00+00'::timestamptz, 7.25::numeric)$$,
                  'a given planned date wins over the lead time; the price is still defaulted');

-- refused orders write nothing
SELECT (SELECT count(*) FROM purchase.order) AS orders_before, (SELECT count(*) FROM purchase.order_line) AS lines_before \gset
SELECT is(pg_temp.error_hint(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1}]'')', :v, :p3)),
          '22023: Give the line a "price", or add the vendor''s price with purchase.add_supplier().',
          'no price and no supplier line: 22023 with a hint');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1}]'')', :v2, :p1), '22023',
                 'no price for product PO20-BOLT from vendor po20 Other vendor',
                 'another vendor''s price does not count: no price for this vendor (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}, {"product": %s, "qty": 1}]'')', :v, :p1, :p3),
                 '22023', 'no price for product PO20-GLUE from vendor po20 Vendor',
                 'one unpriced line refuses the whole order (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[]'')', :v), '22023',
                 'a purchase order needs at least one line', 'empty lines (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, NULL)', :v), '22023',
                 'a purchase order needs at least one line', 'NULL lines (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''{"product": %s, "qty": 1}'')', :v, :p1), '22023',
                 'a purchase order needs at least one line', 'a line that is not in an array (22023)');
SELECT is(pg_temp.error_detail(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 0, "price": 1}]'')', :v, :p1)),
          '22023: The value given is ''0''.', 'a zero quantity (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": -2, "price": 1}]'')', :v, :p1), '22023',
                 'quantity must be positive', 'a negative quantity (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": "3", "price": 1}]'')', :v, :p1), '22023',
                 'quantity must be a number', 'a quantity that is not a number (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "price": 1}]'')', :v, :p1), '22023',
                 'quantity must be a number', 'a line without quantity (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": -1}]'')', :v, :p1), '22023',
                 'price must be zero or positive', 'a negative price (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"qty": 1, "price": 1}]'')', :v), '22023',
                 NULL, 'a line without product (22023)');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s.5, "qty": 1, "price": 1}]'')', :v, :p1), '22023',
                 NULL, 'a product id that is not an integer (22023, not a cast error)');
SELECT matches(pg_temp.error_detail(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'')', :v, :pb)),
               format('^22023: The product belongs to company %s, not to company %s\.$', :b, :a),
               'a product of another company (22023), the detail names both companies');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'')', :cust, :p1), '22023',
                 'partner po20 Customer is not an active vendor', 'ordering from a customer (22023)');
SELECT is(ARRAY[(SELECT count(*) FROM purchase.order), (SELECT count(*) FROM purchase.order_line)],
          ARRAY[:orders_before, :lines_before]::bigint[], 'the refused orders wrote no order and no line');

-- a company with two warehouses must name one
SELECT is(pg_temp.error_hint(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'')', :vb, :pb)),
          '22023: Pass p_warehouse when a company has no warehouse or several.',
          'B has two warehouses: without p_warehouse 22023 with a hint');
SELECT purchase.create_order(:vb, format('[{"product": %s, "qty": 1, "price": 1}]', :pb)::jsonb, NULL, :whb2) AS ob \gset
SELECT is((SELECT location_id FROM purchase.order WHERE id = :ob), stock.warehouse_location(:whb2),
          'with p_warehouse the order goes to that warehouse''s stock location');
SELECT throws_ok(format('SELECT purchase.create_order(%s, ''[{"product": %s, "qty": 1, "price": 1}]'', NULL, %s)', :vb, :pb, :wh), '22023',
                 format('warehouse %s does not exist in company %s', :wh, :b), 'a warehouse of another company (22023)');
SELECT is((SELECT count(*) FROM purchase.order WHERE company_id = :b), 1::bigint, 'B has just the one order');

-- ------------------------------------------------------------ confirm
SELECT purchase.confirm(:o3);
SELECT results_eq(format('SELECT state, confirmed_at FROM purchase.order WHERE id = %s', :o3),
                  $$VALUES ('confirmed'::text, now())$$, 'confirm: the order is confirmed, now');
SELECT results_eq(format($$SELECT m.product_id, m.qty, m.location_id, m.location_dest_id, m.state, m.unit_cost, m.date, m.ref
                             FROM purchase.order_line l JOIN stock.move m ON m.company_id = l.company_id AND m.id = l.move_id
                            WHERE l.order_id = %s ORDER BY l.id$$, :o3),
                  format($$VALUES (%s::bigint, 2::numeric, %s::bigint, %s::bigint, 'confirmed'::text, 4.50::numeric, now() + interval '10 days', %L::text),
                                  (%s, 1, %s, %s, 'confirmed', 7.25, now() + interval '10 days', %L),
                                  (%s, 1, %s, %s, 'confirmed', 2.00, now() + interval '10 days', %L)$$,
                         :p1, :supplier, :loc, 'PO/' || :o3, :p2, :supplier, :loc, 'PO/' || :o3, :p3, :supplier, :loc, 'PO/' || :o3),
                  'one confirmed move per line, supplier -> stock, at the planned date, unit cost = line price, ref PO/<id>');
SELECT is((SELECT count(*) FROM stock.move WHERE ref = 'PO/' || :o3), 3::bigint, 'exactly three moves');
SELECT is(stock.on_hand(:p1), 0::numeric, 'confirming moves no stock');
SELECT throws_ok(format('SELECT purchase.confirm(%s)', :o3), '22023',
                 format('purchase order %s is confirmed, not draft', :o3), 'confirming twice (22023)');
SELECT is((SELECT count(*) FROM stock.move WHERE ref = 'PO/' || :o3), 3::bigint, 'and it made no more moves');
SELECT throws_ok('SELECT purchase.confirm(-5)', '22023', 'purchase order -5 does not exist', 'an unknown order (22023)');

-- ------------------------------------------------------------ cancel
SELECT purchase.cancel(:o3);
SELECT results_eq(format($$SELECT o.state, array_agg(m.state ORDER BY m.id) FROM purchase.order o
                             JOIN purchase.order_line l ON l.company_id = o.company_id AND l.order_id = o.id
                             JOIN stock.move m ON m.company_id = l.company_id AND m.id = l.move_id
                            WHERE o.id = %s GROUP BY o.state$$, :o3),
                  $$VALUES ('cancelled'::text, ARRAY['cancelled', 'cancelled', 'cancelled'])$$,
                  'cancelling a confirmed order cancels it and its three moves');
SELECT throws_ok(format('SELECT purchase.cancel(%s)', :o3), '22023',
                 format('purchase order %s is already cancelled', :o3), 'cancelling a cancelled order (22023)');
SELECT throws_ok(format('SELECT purchase.confirm(%s)', :o3), '22023',
                 format('purchase order %s is cancelled, not draft', :o3), 'confirming a cancelled order (22023)');
SELECT purchase.cancel(:o1);
SELECT is((SELECT state FROM purchase.order WHERE id = :o1), 'cancelled', 'a draft order can be cancelled');
SELECT purchase.confirm(:o4);
SELECT purchase.receive(:o4);
SELECT throws_ok(format('SELECT purchase.cancel(%s)', :o4), '22023',
                 format('purchase order %s is already done', :o4), 'cancelling a done order (22023)');
SELECT results_eq(format($$SELECT o.state, m.state, stock.on_hand(%s) FROM purchase.order o
                             JOIN purchase.order_line l ON l.company_id = o.company_id AND l.order_id = o.id
                             JOIN stock.move m ON m.company_id = l.company_id AND m.id = l.move_id WHERE o.id = %s$$, :p2, :o4),
                  $$VALUES ('done'::text, 'done'::text, 1::numeric)$$, 'the done order, its move and its stock are untouched');

SELECT * FROM finish();
ROLLBACK;
