-- stock moves: life cycle (create, confirm, reserve, unreserve, validate, backorder, cancel), transfers, scrap, adjust, bad input, lots, negative stock, permissions.
BEGIN;
\ir ../setup.sql
SELECT plan(49);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'MV40-1') AS wh1 \gset
SELECT stock.warehouse_location(:wh1) AS loc1 \gset
SELECT stock.create_product(:a, 'MV40-P', 'Bolt') AS p \gset
SELECT stock.create_product(:a, 'MV40-LOT', 'Flour', 'fifo', 0, 'Unit', 'lot') AS plot \gset
SELECT stock.create_product(:a, 'MV40-SN', 'Motor', 'fifo', 0, 'Unit', 'serial') AS pser \gset
SELECT stock.virtual_location(:a, 'supplier') AS vendor, stock.virtual_location(:a, 'customer') AS customer,
       stock.virtual_location(:a, 'scrap') AS scrap, stock.virtual_location(:a, 'inventory') AS inventory \gset
SELECT stock.create_warehouse(:b, 'MV40-B') AS whb \gset
SELECT stock.warehouse_location(:whb) AS locb \gset
SELECT stock.create_product(:b, 'MV40-PB', 'Bolt of B') AS pb \gset
SELECT stock.create_product(:a1, 'MV40-P1', 'Nowhere') AS pa1 \gset
SELECT pg_temp.make_user('mv40_user', 'stock_user', :a, false) AS usr \gset
SELECT pg_temp.make_user('mv40_aud', 'auditor', :a, false) AS aud \gset

-- ------------------------------------------------------------ create, confirm, validate a receipt
SELECT stock.create_move(:p, 2, :vendor, :loc1, 5, now(), 'R1', 'Dozen') AS m1 \gset
SELECT results_eq(format('SELECT state, qty, uom, uom_qty, reserved_qty, unit_cost, value,
                                  (SELECT count(*)::int FROM stock.quant q WHERE q.product_id = m.product_id)
                             FROM stock.move m WHERE id = %s', :m1),
                  $$VALUES ('draft'::text, 24::numeric, 'Dozen'::text, 2::numeric, 0::numeric, 5::numeric, NULL::numeric, 0)$$,
                  'create_move: a draft of 2 Dozen of a Unit product is qty 24, uom Dozen, uom_qty 2; no quant yet');
SELECT stock.confirm(:m1);
SELECT is((SELECT state FROM stock.move WHERE id = :m1), 'confirmed', 'confirm: draft -> confirmed');
SELECT stock.reserve(:m1) AS r1 \gset
SELECT results_eq(format('SELECT %s::numeric, state, reserved_qty FROM stock.move WHERE id = %s', :r1, :m1),
                  $$VALUES (24::numeric, 'assigned'::text, 24::numeric)$$,
                  'reserve from a vendor location reserves the whole move (returns 24): assigned');
SELECT coalesce(stock.validate(:m1)::text, 'none') AS bo1 \gset
SELECT results_eq(format('SELECT %L::text, state, done_at IS NOT NULL, value, reserved_qty FROM stock.move WHERE id = %s', :'bo1', :m1),
                  $$VALUES ('none'::text, 'done'::text, true, 120::numeric, 0::numeric)$$,
                  'validating the whole receipt returns no backorder; it is done, valued 24 x 5 = 120');
SELECT is(ARRAY[stock.on_hand(:p, :loc1), stock.on_hand(:p)], ARRAY[24, 24]::numeric[],
          'on hand: 24 in WH1 and 24 overall');

-- ------------------------------------------------------------ reservations
SELECT stock.create_move(:p, 10, :loc1, :customer) AS m2 \gset
SELECT stock.confirm(:m2);
SELECT stock.reserve(:m2) AS r2 \gset
SELECT results_eq(format('SELECT %s::numeric, m.state, m.reserved_qty, q.reserved, q.quantity FROM stock.move m, stock.quant q
                           WHERE m.id = %s AND q.product_id = %s AND q.location_id = %s', :r2, :m2, :p, :loc1),
                  $$VALUES (10::numeric, 'assigned'::text, 10::numeric, 10::numeric, 24::numeric)$$,
                  'reserve returns 10: the move is assigned and the quant holds 10 reserved of 24');
SELECT is(ARRAY[stock.available(:p, :loc1), stock.on_hand(:p, :loc1)], ARRAY[14, 24]::numeric[],
          'available is lowered to 14, on hand stays 24');
SELECT stock.create_move(:p, 20, :loc1, :customer) AS m3 \gset
SELECT stock.confirm(:m3);
SELECT stock.reserve(:m3) AS r3 \gset
SELECT results_eq(format('SELECT %s::numeric, m.state, m.reserved_qty, q.reserved, stock.available(%s) FROM stock.move m, stock.quant q
                           WHERE m.id = %s AND q.product_id = %s AND q.location_id = %s', :r3, :p, :m3, :p, :loc1),
                  $$VALUES (14::numeric, 'confirmed'::text, 14::numeric, 24::numeric, 0::numeric)$$,
                  'a partial reservation returns what was reserved (14 of 20); the move stays confirmed, nothing is available');
SELECT stock.unreserve(:m3);
SELECT results_eq(format('SELECT m.state, m.reserved_qty, q.reserved, stock.available(%s, %s) FROM stock.move m, stock.quant q
                           WHERE m.id = %s AND q.product_id = %s AND q.location_id = %s', :p, :loc1, :m3, :p, :loc1),
                  $$VALUES ('confirmed'::text, 0::numeric, 10::numeric, 14::numeric)$$,
                  'unreserve: the move holds nothing, the quant keeps the other move''s 10, 14 available');
SELECT coalesce(stock.validate(:m2)::text, 'none') AS bo2 \gset
SELECT results_eq(format('SELECT %L::text, m.state, m.value, q.quantity, q.reserved FROM stock.move m, stock.quant q
                           WHERE m.id = %s AND q.product_id = %s AND q.location_id = %s', :'bo2', :m2, :p, :loc1),
                  $$VALUES ('none'::text, 'done'::text, -50::numeric, 14::numeric, 0::numeric)$$,
                  'the reserved delivery is validated whole (no backorder): done, value -50, the quant holds 14, nothing reserved');

-- ------------------------------------------------------------ partial validation: backorder
SELECT stock.validate(:m3, 8) AS bo \gset
SELECT results_eq(format('SELECT qty, state, backorder_of, location_id, location_dest_id, reserved_qty FROM stock.move WHERE id = %s', :'bo'),
                  format('VALUES (12::numeric, %L::text, %s::bigint, %s::bigint, %s::bigint, 0::numeric)',
                         'confirmed', :m3, :loc1, :customer),
                  'validating 8 of 20 returns a confirmed backorder of 12 from the same place');
SELECT results_eq(format('SELECT state, qty, uom_qty, value, stock.on_hand(product_id, %s), stock.on_hand(product_id)
                            FROM stock.move WHERE id = %s', :loc1, :m3),
                  $$VALUES ('done'::text, 8::numeric, 8::numeric, -40::numeric, 6::numeric, 6::numeric)$$,
                  'the validated move is done for 8, valued -40; 6 left on hand');

-- ------------------------------------------------------------ cancel
SELECT stock.create_move(:p, 5, :loc1, :customer) AS m4 \gset
SELECT stock.confirm(:m4);
SELECT stock.reserve(:m4);
SELECT is(stock.available(:p, :loc1), 1::numeric, 'the move to cancel reserved 5 of 6');
SELECT stock.cancel(:m4);
SELECT results_eq(format('SELECT m.state, m.reserved_qty, q.reserved, stock.available(%s, %s) FROM stock.move m, stock.quant q
                           WHERE m.id = %s AND q.product_id = %s AND q.location_id = %s', :p, :loc1, :m4, :p, :loc1),
                  $$VALUES ('cancelled'::text, 0::numeric, 0::numeric, 6::numeric)$$,
                  'cancel: the move is cancelled and its reservation released');

-- ------------------------------------------------------------ transfer between two warehouses of A
SELECT stock.create_warehouse(:a, 'MV40-2') AS wh2 \gset
SELECT stock.warehouse_location(:wh2) AS loc2 \gset
SELECT stock.transfer(:p, 4, :loc1, :loc2) AS t \gset
SELECT results_eq(format('SELECT state, value, (SELECT count(*)::int FROM stock.valuation_layer l WHERE l.move_id = m.id),
                                  stock.on_hand(%s, %s), stock.on_hand(%s, %s), stock.on_hand(%s)
                            FROM stock.move m WHERE id = %s', :p, :loc1, :p, :loc2, :p, :t),
                  $$VALUES ('done'::text, NULL::numeric, 0, 2::numeric, 4::numeric, 6::numeric)$$,
                  'an internal transfer is done, not valued (value NULL, no layer): 2 in WH1, 4 in WH2, 6 overall');

-- ------------------------------------------------------------ scrap and inventory adjustment
SELECT stock.scrap(:p, 1, :wh1) AS s \gset
SELECT results_eq(format('SELECT state, location_id, location_dest_id, value FROM stock.move WHERE id = %s', :s),
                  format('VALUES (%L::text, %s::bigint, %s::bigint, -5::numeric)', 'done', :loc1, :scrap),
                  'scrap: 1 unit from WH1 to the scrap location, valued -5');
SELECT stock.adjust(:p, :loc2, 10) AS adj_up \gset
SELECT results_eq(format('SELECT qty, location_id, location_dest_id, state, stock.on_hand(product_id, %s) FROM stock.move WHERE id = %s',
                         :loc2, :adj_up),
                  format('VALUES (6::numeric, %s::bigint, %s::bigint, %L::text, 10::numeric)', :inventory, :loc2, 'done'),
                  'adjust up (4 -> 10): 6 come from the inventory location');
SELECT stock.adjust(:p, :loc2, 7) AS adj_down \gset
SELECT results_eq(format('SELECT qty, location_id, location_dest_id, state, stock.on_hand(product_id, %s) FROM stock.move WHERE id = %s',
                         :loc2, :adj_down),
                  format('VALUES (3::numeric, %s::bigint, %s::bigint, %L::text, 7::numeric)', :loc2, :inventory, 'done'),
                  'adjust down (10 -> 7): 3 go to the inventory location');
SELECT is(stock.adjust(:p, :loc2, 7), NULL::bigint, 'adjust to the quantity on hand does nothing (NULL)');

-- ------------------------------------------------------------ lots (successes)
SELECT stock.receive(:plot, 5, 1, :wh1, 'L', now(), 'LOT-1') AS rl \gset
SELECT results_eq(format('SELECT q.quantity, l.name FROM stock.quant q JOIN stock.lot l ON l.id = q.lot_id
                           WHERE q.product_id = %s AND q.location_id = %s', :plot, :loc1),
                  $$VALUES (5::numeric, 'LOT-1'::text)$$, 'a receipt with a new lot creates the lot and its quant');
SELECT stock.receive(:pser, 1, 1, :wh1, 'S', now(), 'SN-1') AS rs \gset

-- ------------------------------------------------------------ bad input: SQLSTATE and nothing written
SELECT (SELECT count(*) FROM stock.move) AS moves_before, (SELECT count(*) FROM stock.quant) AS quants_before,
       (SELECT count(*) FROM stock.valuation_layer) AS layers_before, (SELECT count(*) FROM stock.lot) AS lots_before \gset
SELECT throws_ok(format('SELECT stock.create_move(%s, NULL, %s, %s)', :p, :vendor, :loc1), '22004',
                 'quantity must not be null', 'a NULL quantity is refused (22004)');
SELECT throws_ok(format('SELECT stock.create_move(%s, 0, %s, %s)', :p, :vendor, :loc1), '22023',
                 'quantity must be positive', 'a zero quantity is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_move(%s, -1, %s, %s)', :p, :vendor, :loc1), '22023',
                 'quantity must be positive', 'a negative quantity is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_move(%s, 1, %s, %s)', (SELECT max(id) + 1000 FROM stock.product), :vendor, :loc1),
                 '22023', format('product %s does not exist', (SELECT max(id) + 1000 FROM stock.product)),
                 'an unknown product is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_move(%s, 1, %s, %s)', :pb, :vendor, :locb), '22023',
                 format('location %s does not exist in company %s', :vendor, :b),
                 'a product of B with a location of A is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_move(%s, 1, %s, %s)', :p, :vendor, :locb), '22023',
                 format('location %s does not exist in company %s', :locb, :a),
                 'a product of A into a location of B is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_move(%s, 1, %s, %s)', :p, :loc1, :loc1), '22023',
                 'source and destination are the same location', 'the same source and destination are refused');
SELECT throws_ok(format($$SELECT stock.create_move(%s, 1, %s, %s, NULL, now(), NULL, 'kg')$$, :p, :vendor, :loc1), '22023',
                 'cannot convert kg to Unit', 'a unit of another category is refused (22023)');
SELECT throws_ok(format($$SELECT stock.create_move(%s, 1, %s, %s, NULL, now(), NULL, 'box')$$, :p, :vendor, :loc1), '22023',
                 'unknown unit of measure ''box''', 'an unknown unit is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_move(%s, 1, %s, %s, -0.01)', :p, :vendor, :loc1), '22023',
                 'unit cost must be zero or positive', 'a negative unit cost is refused (22023)');
SELECT throws_ok(format('SELECT stock.confirm(%s)', :'bo'), '22023', format('move %s is confirmed, not draft', :'bo'),
                 'confirming a confirmed move is refused (22023)');
SELECT throws_ok(format('SELECT stock.validate(%s)', :m1), '22023', format('move %s is already done', :m1),
                 'validating a done move is refused (22023)');
SELECT throws_ok(format('SELECT stock.validate(%s)', :m4), '22023', format('move %s is already cancelled', :m4),
                 'validating a cancelled move is refused (22023)');
SELECT throws_ok(format('SELECT stock.validate(%s, 13)', :'bo'), '22023', NULL,
                 'validating more than the move''s quantity is refused (22023)');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1)', :pa1), '22023', format('company %s has 0 warehouses: name one', :a1),
                 'warehouse NULL in a company without a warehouse is refused (22023)');
SELECT throws_ok(format('SELECT stock.deliver(%s, 1)', :p), '22023', format('company %s has 2 warehouses: name one', :a),
                 'warehouse NULL in a company with two warehouses is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_move(%s, 1, %s, %s)', :plot, :vendor, :loc1), '22023',
                 'product MV40-LOT needs a lot number', 'a lot-tracked product without a lot is refused (22023)');
SELECT throws_ok(format($$SELECT stock.create_move(%s, 1, %s, %s, NULL, now(), NULL, NULL, 'L-1')$$, :p, :vendor, :loc1), '22023',
                 'product MV40-P is not tracked by lot or serial number', 'an untracked product with a lot is refused (22023)');
SELECT throws_ok(format($$SELECT stock.deliver(%s, 1, %s, NULL, now(), 'LOT-9')$$, :plot, :wh1), '22023',
                 'lot ''LOT-9'' of product MV40-LOT does not exist', 'an outgoing move with an unknown lot is refused (22023)');
SELECT throws_ok(format($$SELECT stock.receive(%s, 2, 1, %s, NULL, now(), 'SN-2')$$, :pser, :wh1), '22023',
                 'a serial-numbered move carries exactly one unit', 'a serial move of 2 units is refused (22023)');
SELECT throws_ok(format($$SELECT stock.receive(%s, 1, 1, %s, NULL, now(), 'SN-1')$$, :pser, :wh1), '23505',
                 'serial number SN-1 is already in stock', 'receiving a serial number already in stock is refused (23505)');
SELECT is(ARRAY[(SELECT count(*) FROM stock.move), (SELECT count(*) FROM stock.quant),
                (SELECT count(*) FROM stock.valuation_layer), (SELECT count(*) FROM stock.lot)],
          ARRAY[:moves_before, :quants_before, :layers_before, :lots_before]::bigint[],
          'the refused calls wrote no move, quant, layer or lot');

-- ------------------------------------------------------------ negative stock
UPDATE stock.company_setting SET allow_negative = false WHERE company_id = :a;
SELECT matches(pg_temp.error_detail(format('SELECT stock.deliver(%s, 3, %s)', :p, :wh1)),
               '^23514: 1(\.0+)? available, 3(\.0+)? requested\.$',
          'negative stock forbidden: delivering 3 of 1 fails with 23514 and the available quantity in the detail');
SELECT is(ARRAY[(SELECT count(*) FROM stock.move), (SELECT count(*) FROM stock.quant),
                (SELECT count(*) FROM stock.valuation_layer), stock.on_hand(:p, :loc1)],
          ARRAY[:moves_before, :quants_before, :layers_before, 1]::numeric[],
          'the refused delivery wrote nothing; 1 is still on hand in WH1');
SELECT stock.receive(:pb, 2, 1) AS rb \gset
SELECT stock.deliver(:pb, 5) AS db \gset
SELECT is(ARRAY[stock.on_hand(:pb), (SELECT quantity FROM stock.quant WHERE product_id = :pb AND location_id = :locb)],
          ARRAY[-3, -3]::numeric[], 'negative stock allowed (B, the default): 2 received, 5 delivered, on hand -3');

-- ------------------------------------------------------------ permissions as pgerp_app
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('mv40_user', :a);
SELECT lives_ok(format('SELECT stock.receive(%s, 5, 2, %s), stock.deliver(%s, 2, %s)', :p, :wh1, :p, :wh1),
                'a stock_user of A receives and delivers in A');
SELECT is(stock.on_hand(:p, :loc1), 4::numeric, 'the stock_user''s moves are posted: 1 + 5 - 2 = 4 in WH1');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1)', :pb), '22023', format('product %s does not exist', :pb),
                 'a user of A cannot touch a product of B (22023)');
SELECT pg_temp.login('mv40_aud', :a);
SELECT is(pg_temp.error_detail(format('SELECT stock.receive(%s, 1, 1, %s)', :p, :wh1)),
          format('42501: Permission "stock.move:create" is required on company %s.', :a),
          'an auditor cannot receive: 42501 naming stock.move:create');
SELECT erp.sign_out();
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
