-- purchase receipts: full receipt valued at the line price (layer, journal), partial receipt with a backorder order, refused receipts, standard-cost price difference, receipt dates.
BEGIN;
\ir ../setup.sql
SELECT plan(34);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'PR30') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.create_product(:a, 'PR30-BOLT', 'Bolt') AS pf \gset
SELECT stock.create_product(:a, 'PR30-NUT', 'Nut') AS pn \gset
SELECT stock.create_product(:a, 'PR30-WASHER', 'Washer', 'avco') AS pw \gset
SELECT stock.create_product(:a, 'PR30-SPLIT', 'Split line product') AS pl \gset
SELECT stock.create_product(:a, 'PR30-OVER', 'Over-received') AS po \gset
SELECT stock.create_product(:a, 'PR30-STD', 'Standard up', 'standard', 10) AS ps \gset
SELECT stock.create_product(:a, 'PR30-STDL', 'Standard down', 'standard', 10) AS psl \gset
SELECT stock.create_product(:a, 'PR30-LATE', 'Late delivery') AS plate \gset
SELECT stock.create_product(:a, 'PR30-EARLY', 'Early delivery') AS pearly \gset
SELECT erp.create_partner(:a, 'pr30 Vendor', 'vendor') AS v \gset

-- the journal of a move, per account kind
CREATE FUNCTION pg_temp.booked(p_move bigint) RETURNS TABLE (kind text, debit numeric, credit numeric)
LANGUAGE sql AS $$
    SELECT a.kind, sum(l.debit), sum(l.credit)
      FROM stock.journal_entry e
      JOIN stock.journal_line l ON l.company_id = e.company_id AND l.entry_id = e.id
      JOIN stock.account a ON a.company_id = l.company_id AND a.id = l.account_id
     WHERE e.move_id = p_move
     GROUP BY a.kind ORDER BY a.kind
$$;
-- the move of the order's line for a product
CREATE FUNCTION pg_temp.move_of(p_order bigint, p_product bigint) RETURNS bigint
LANGUAGE sql AS $$
    SELECT move_id FROM purchase.order_line WHERE order_id = p_order AND product_id = p_product ORDER BY id LIMIT 1
$$;

-- ------------------------------------------------------------ full receipt
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 10, "price": 2.55}]', :pf)::jsonb) AS o1 \gset
SELECT purchase.confirm(:o1);
SELECT pg_temp.move_of(:o1, :pf) AS m1 \gset
SELECT coalesce(purchase.receive(:o1)::text, 'none') AS bo1 \gset
SELECT results_eq(format('SELECT %L::text, state, done_at FROM purchase.order WHERE id = %s', :'bo1', :o1),
                  $$VALUES ('none'::text, 'done'::text, now())$$,
                  'receiving everything returns no backorder; the order is done, now');
SELECT results_eq(format('SELECT state, qty, value FROM stock.move WHERE id = %s', :m1),
                  $$VALUES ('done'::text, 10::numeric, 25.50::numeric)$$, 'its move is done, valued 10 x 2.55 = 25.50');
SELECT results_eq(format('SELECT product_id, quantity, unit_cost, value, remaining_qty, remaining_value FROM stock.valuation_layer WHERE move_id = %s', :m1),
                  format('VALUES (%s::bigint, 10::numeric, 2.55::numeric, 25.50::numeric, 10::numeric, 25.50::numeric)', :pf),
                  'the valuation layer: 10 at the line price 2.55, worth 25.50, all still in stock');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :m1),
                  $$VALUES ('stock_input'::text, 0::numeric, 25.50::numeric), ('stock_valuation', 25.50, 0)$$,
                  'the journal: stock valuation debited 25.50, stock input credited 25.50');
SELECT is(ARRAY[stock.on_hand(:pf, :loc), (stock.valuation(:pf)).value], ARRAY[10, 25.50]::numeric[],
          '10 bolts in the warehouse, worth 25.50');

-- ------------------------------------------------------------ partial receipt and backorder
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 10, "price": 3}, {"product": %s, "qty": 4, "price": 5.10}]', :pn, :pw)::jsonb,
                             now()) AS o2 \gset
SELECT purchase.confirm(:o2);
SELECT pg_temp.move_of(:o2, :pn) AS m2n, pg_temp.move_of(:o2, :pw) AS m2w \gset
SELECT purchase.receive(:o2, format('[{"product": %s, "qty": 6}]', :pn)::jsonb) AS bo2 \gset
SELECT results_eq(format('SELECT state, backorder_of, vendor_id, location_id, date_planned, confirmed_at FROM purchase.order WHERE id = %s', :bo2),
                  format($$VALUES ('confirmed'::text, %s::bigint, %s::bigint, %s::bigint, now(), now())$$, :o2, :v, :loc),
                  'a partial receipt returns a backorder order: confirmed, backorder_of the original, same vendor, warehouse and date');
SELECT results_eq(format('SELECT state, (SELECT array_agg(ARRAY[product_id, qty, price] ORDER BY id) FROM purchase.order_line WHERE order_id = o.id) FROM purchase.order o WHERE id = %s', :o2),
                  format($$VALUES ('done'::text, ARRAY[ARRAY[%s, 6, 3]]::numeric[])$$, :pn),
                  'the original is done and keeps only what was received: 6 nuts at 3');
SELECT results_eq(format($$SELECT l.product_id, l.qty, l.price, m.state, m.qty, m.unit_cost
                             FROM purchase.order_line l JOIN stock.move m ON m.company_id = l.company_id AND m.id = l.move_id
                            WHERE l.order_id = %s ORDER BY l.product_id$$, :bo2),
                  format($$VALUES (%s::bigint, 4::numeric, 3::numeric, 'confirmed'::text, 4::numeric, 3::numeric),
                                  (%s, 4, 5.10, 'confirmed', 4, 5.10)$$, :pn, :pw),
                  'the backorder holds the 4 nuts left and the 4 washers not received, each with a confirmed move at the line price');
SELECT results_eq(format('SELECT state, qty, value FROM stock.move WHERE id = %s', :m2n),
                  $$VALUES ('done'::text, 6::numeric, 18::numeric)$$, 'the original nut move is done with 6, valued 18');
SELECT is((SELECT backorder_of FROM stock.move WHERE id = pg_temp.move_of(:bo2, :pn)), :m2n::bigint,
          'the backorder''s nut move is the stock backorder of the received move');
SELECT is(pg_temp.move_of(:bo2, :pw), :m2w::bigint, 'the washer line went to the backorder with its own, untouched move');
SELECT is(ARRAY[stock.on_hand(:pn), (stock.valuation(:pn)).value, stock.on_hand(:pw)], ARRAY[6, 18, 0]::numeric[],
          'in stock: 6 nuts worth 18, no washer');
SELECT is(purchase.receive(:bo2), NULL::bigint, 'receiving the backorder completely returns no further backorder');
SELECT results_eq(format($$SELECT o.state, array_agg(m.state ORDER BY m.id) FROM purchase.order o
                             JOIN purchase.order_line l ON l.company_id = o.company_id AND l.order_id = o.id
                             JOIN stock.move m ON m.company_id = l.company_id AND m.id = l.move_id
                            WHERE o.id = %s GROUP BY o.state$$, :bo2),
                  $$VALUES ('done'::text, ARRAY['done', 'done'])$$, 'the backorder and its two moves are done');
SELECT is(ARRAY[stock.on_hand(:pn), (stock.valuation(:pn)).value, stock.on_hand(:pw), (stock.valuation(:pw)).value],
          ARRAY[10, 30, 4, 20.40]::numeric[], 'all received: 10 nuts worth 30, 4 washers worth 20.40');

-- one product on two lines: the received quantity fills the lines in order
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 3, "price": 1}, {"product": %s, "qty": 5, "price": 2}]', :pl, :pl)::jsonb,
                             now()) AS o3 \gset
SELECT purchase.confirm(:o3);
SELECT purchase.receive(:o3, format('[{"product": %s, "qty": 1}, {"product": %s, "qty": 3}]', :pl, :pl)::jsonb) AS bo3 \gset
SELECT results_eq(format('SELECT order_id, qty, price FROM purchase.order_line WHERE order_id IN (%s, %s) ORDER BY order_id, id', :o3, :bo3),
                  format('VALUES (%s::bigint, 3::numeric, 1::numeric), (%s, 1, 2), (%s, 4, 2)', :o3, :o3, :bo3),
                  'receiving 1 + 3 of 3 @ 1 and 5 @ 2: the first line whole, 1 of the second, 4 @ 2 on the backorder');
SELECT is((stock.valuation(:pl)).value, 5::numeric, 'the 4 received are worth 3 x 1 + 1 x 2 = 5');

-- ------------------------------------------------------------ refused receipts write nothing
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 10, "price": 1}]', :po)::jsonb, now()) AS o4 \gset
SELECT (SELECT count(*) FROM purchase.order) AS orders_before, (SELECT count(*) FROM purchase.order_line) AS lines_before,
       (SELECT count(*) FROM stock.move) AS moves_before, (SELECT count(*) FROM stock.valuation_layer) AS layers_before \gset
SELECT is(pg_temp.error_hint(format('SELECT purchase.receive(%s)', :o4)), '22023: Confirm it with purchase.confirm() first.',
          'receiving a draft order: 22023 with a hint');
SELECT purchase.confirm(:o4);
SELECT (SELECT count(*) FROM stock.move) AS moves_before \gset
SELECT is(pg_temp.error_hint(format('SELECT purchase.receive(%s, ''[{"product": %s, "qty": 10.5}]'')', :o4, :po)),
          '22023: Receive the extra quantity with another order.', 'receiving 10.5 of 10: 22023 with a hint');
SELECT throws_ok(format('SELECT purchase.receive(%s, ''[{"product": %s, "qty": 6}, {"product": %s, "qty": 5}]'')', :o4, :po, :po), '22023',
                 format('more of product %s received than ordered', :po), 'receiving 6 + 5 of 10 (22023)');
SELECT throws_ok(format('SELECT purchase.receive(%s, ''[{"product": %s, "qty": 1}]'')', :o4, :pf), '22023',
                 format('product %s is not on purchase order %s', :pf, :o4), 'receiving a product not on the order (22023)');
SELECT throws_ok(format('SELECT purchase.receive(%s, ''[{"product": %s, "qty": 0}]'')', :o4, :po), '22023',
                 'received quantity must be positive', 'receiving 0 (22023)');
SELECT throws_ok(format('SELECT purchase.receive(%s, ''[]'')', :o4), '22023',
                 'received lines must be a non-empty JSON array', 'empty received lines (22023)');
SELECT throws_ok(format('SELECT purchase.receive(%s, ''[{"product": %s.5, "qty": 1}]'')', :o4, :po), '22023',
                 NULL, 'a received product id that is not an integer (22023, not a cast error)');
SELECT results_eq(format($$SELECT o.state, m.state, m.qty, (SELECT count(*) FROM purchase.order),
                                  (SELECT count(*) FROM purchase.order_line), (SELECT count(*) FROM stock.move),
                                  (SELECT count(*) FROM stock.valuation_layer), stock.on_hand(%s)
                             FROM purchase.order o JOIN purchase.order_line l ON l.order_id = o.id
                             JOIN stock.move m ON m.company_id = l.company_id AND m.id = l.move_id WHERE o.id = %s$$, :po, :o4),
                  format($$VALUES ('confirmed'::text, 'confirmed'::text, 10::numeric, %s::bigint, %s::bigint, %s::bigint, %s::bigint, 0::numeric)$$,
                         :orders_before, :lines_before, :moves_before, :layers_before),
                  'after the refusals: the order and its move are still confirmed for 10, no order, line, move or layer was added, no stock');
SELECT purchase.receive(:o4);
SELECT throws_ok(format('SELECT purchase.receive(%s)', :o4), '22023',
                 format('purchase order %s is done: only confirmed orders are received', :o4), 'receiving a done order again (22023)');
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 1, "price": 1}]', :po)::jsonb, now()) AS o5 \gset
SELECT purchase.confirm(:o5);
SELECT purchase.cancel(:o5);
SELECT throws_ok(format('SELECT purchase.receive(%s)', :o5), '22023',
                 format('purchase order %s is cancelled: only confirmed orders are received', :o5), 'receiving a cancelled order (22023)');
SELECT is(stock.on_hand(:po), 10::numeric, 'only the one receipt of 10 reached the stock');

-- ------------------------------------------------------------ standard cost: price difference
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 5, "price": 12}, {"product": %s, "qty": 5, "price": 8}]', :ps, :psl)::jsonb,
                             now()) AS o6 \gset
SELECT purchase.confirm(:o6);
SELECT purchase.receive(:o6);
SELECT results_eq(format('SELECT quantity, unit_cost, value FROM stock.valuation_layer WHERE move_id = %s', pg_temp.move_of(:o6, :ps)),
                  $$VALUES (5::numeric, 10::numeric, 50::numeric)$$,
                  'standard 10 bought at 12: the 5 units are valued at the standard, 50');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', pg_temp.move_of(:o6, :ps)),
                  $$VALUES ('price_difference'::text, 10::numeric, 0::numeric), ('stock_input', 0, 60), ('stock_valuation', 50, 0)$$,
                  'bought above standard: 50 to stock valuation, 10 debited to price difference, 60 credited to stock input');
SELECT results_eq(format('SELECT kind, debit - credit FROM pg_temp.booked(%s)', pg_temp.move_of(:o6, :psl)),
                  $$VALUES ('price_difference'::text, -10::numeric), ('stock_input', -40), ('stock_valuation', 50)$$,
                  'bought below standard (8): 50 to stock valuation, 10 credited to price difference, net 40 credited to stock input');
SELECT is_empty(format('SELECT * FROM stock.verify_valuation() WHERE product_id IN (SELECT id FROM stock.product WHERE company_id = %s)', :a),
                'stock.verify_valuation finds quants, layers, move values and journal in agreement for A');

-- ------------------------------------------------------------ receipt dates
-- A vendor delivering late: the order was planned for yesterday, the product
-- has been received otherwise since. The receipt happens now and must post.
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 2, "price": 3}]', :plate)::jsonb, now() - interval '1 day') AS o7 \gset
SELECT purchase.confirm(:o7);
SELECT stock.receive(:plate, 1, 3, :wh) AS late_in \gset
SELECT lives_ok(format('SELECT purchase.receive(%s)', :o7),
                'a late delivery (planned yesterday) is received after another receipt of the product today');
-- A vendor delivering early: received now, it is in stock now.
SELECT purchase.create_order(:v, format('[{"product": %s, "qty": 2, "price": 3}]', :pearly)::jsonb, now() + interval '7 days') AS o8 \gset
SELECT purchase.confirm(:o8);
SELECT purchase.receive(:o8);
SELECT results_eq(format('SELECT stock.on_hand(%s), qty, value FROM stock.valuation(%s, now())', :pearly, :pearly),
                  $$VALUES (2::numeric, 2::numeric, 6::numeric)$$,
                  'an early delivery (planned in 7 days) received now is valued now: 2 worth 6 at today''s date');

SELECT * FROM finish();
ROLLBACK;
