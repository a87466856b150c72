-- Reservations are honoured (#11.9): what other moves reserved is not
-- available to an outgoing move; quant.reserved <= greatest(quantity, 0)
-- always holds; with negative stock allowed, a move that takes reserved stock
-- frees those reservations (newest move first) instead of leaving them unbacked.
BEGIN;
\ir ../setup.sql
SELECT plan(26);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'RS75') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.create_warehouse(:a, 'RS75-2') AS wh2 \gset
SELECT stock.warehouse_location(:wh2) AS loc2 \gset
SELECT stock.create_product(:a, 'RS75-P', 'Reserved') AS p \gset
SELECT stock.create_product(:a, 'RS75-N', 'Reserved, negative allowed') AS pn \gset
SELECT stock.create_product(:a, 'RS75-L', 'Reserved lots', 'fifo', 0, 'Unit', 'lot') AS plot \gset
SELECT stock.virtual_location(:a, 'customer') AS customer, stock.virtual_location(:a, 'scrap') AS scrap \gset
SELECT stock.set_allow_negative(:a, false);

-- ------------------------------------------------------------ the reproduction
SELECT stock.receive(:p, 10, 2, :wh, 'RS-R1') AS r1 \gset
SELECT stock.create_move(:p, 10, :loc, :customer, NULL, now(), 'RS-PICK') AS pick \gset
SELECT stock.confirm(:pick);
SELECT is(stock.reserve(:pick), 10.00, 'a picking of 10 reserves the 10 on hand');
SELECT is(pg_temp.error_detail(format('SELECT stock.deliver(%s, 10, %s)', :p, :wh)),
          '23514: 0.00 available (10.00 on hand, 10.00 reserved by other moves), 10.00 requested.',
          'reproduction: deliver(P, 10) is refused: the 10 are reserved by the picking');
SELECT results_eq(format('SELECT quantity, reserved FROM stock.quant WHERE product_id = %s', :p),
                  $$VALUES (10.00::numeric, 10.00::numeric)$$, 'the quant still holds 10, reserved 10');
SELECT throws_ok(format('SELECT stock.transfer(%s, 1, %s, %s)', :p, :loc, :loc2), '23514', NULL,
                 'a transfer out of the location may not take reserved stock either');
SELECT throws_ok(format('SELECT stock.scrap(%s, 1, %s)', :p, :wh), '23514', NULL, 'nor a scrap');
SELECT throws_ok(format('SELECT stock.validate(stock.create_move(%s, 1, %s, %s))', :p, :loc, :customer), '23514', NULL,
                 'nor another move validated without reserving');
SELECT is(stock.validate(:pick), NULL, 'the reserved picking itself validates');
SELECT results_eq(format('SELECT state, reserved_qty, (SELECT quantity FROM stock.quant WHERE product_id = %s),
                                 (SELECT reserved FROM stock.quant WHERE product_id = %s) FROM stock.move WHERE id = %s', :p, :p, :pick),
                  $$VALUES ('done'::text, 0::numeric, 0.00::numeric, 0.00::numeric)$$,
                  'the picking is done; the quant is 0, nothing reserved');

-- ------------------------------------------------------------ partly reserved stock
SELECT stock.receive(:p, 10, 2, :wh, 'RS-R2') AS r2 \gset
SELECT stock.create_move(:p, 7, :loc, :customer, NULL, now(), 'RS-PICK2') AS pick2 \gset
SELECT stock.confirm(:pick2);
SELECT stock.reserve(:pick2);
SELECT is(stock.available(:p), 3.00, 'available = 10 on hand - 7 reserved');
SELECT lives_ok(format('SELECT stock.deliver(%s, 3, %s)', :p, :wh), 'the 3 unreserved units may be delivered');
SELECT throws_ok(format('SELECT stock.deliver(%s, 0.01, %s)', :p, :wh), '23514', NULL, 'but not one more hundredth');
SELECT stock.validate(:pick2, 5) AS bo2 \gset
SELECT results_eq(format('SELECT qty, state FROM stock.move WHERE id = %s AND backorder_of = %s', :bo2, :pick2),
                  $$VALUES (2.00::numeric, 'confirmed'::text)$$, 'the picking validates in part (5 of 7): a backorder of 2');
SELECT results_eq(format('SELECT quantity, reserved FROM stock.quant WHERE product_id = %s', :p),
                  $$VALUES (2.00::numeric, 0.00::numeric)$$, 'its whole reservation was released: 2 on hand, none reserved');
SELECT is((SELECT count(*)::int FROM stock.verify_valuation(:p)), 0, 'the product verifies');

-- ------------------------------------------------------------ the invariant as a constraint
SELECT throws_ok(format('UPDATE stock.quant SET reserved = quantity + 1 WHERE product_id = %s', :p), '23514', NULL,
                 'a quant may not reserve more than it holds (constraint quant_reserved_covered)');
SELECT throws_ok(format('UPDATE stock.quant SET quantity = -1, reserved = 1 WHERE product_id = %s', :p), '23514', NULL,
                 'nor reserve anything when negative');

-- ------------------------------------------------------------ lots: per quant
SELECT stock.receive(:plot, 5, 1, :wh, 'RS-L1', now(), 'LOT-A');
SELECT stock.receive(:plot, 5, 1, :wh, 'RS-L2', now(), 'LOT-B');
SELECT stock.create_move(:plot, 5, :loc, :customer, NULL, now(), 'RS-PICKL', NULL, 'LOT-A') AS pickl \gset
SELECT stock.confirm(:pickl);
SELECT stock.reserve(:pickl);
SELECT throws_ok(format($$SELECT stock.deliver(%s, 1, %s, NULL, now(), 'LOT-A')$$, :plot, :wh), '23514', NULL,
                 'lot A is reserved: delivering from it is refused');
SELECT lives_ok(format($$SELECT stock.deliver(%s, 5, %s, NULL, now(), 'LOT-B')$$, :plot, :wh), 'lot B is free');

-- ------------------------------------------------------------ negative stock allowed: reservations are freed
SELECT stock.set_allow_negative(:a, true);
SELECT stock.receive(:pn, 10, 2, :wh, 'RS-N1') AS n1 \gset
SELECT stock.create_move(:pn, 6, :loc, :customer, NULL, now(), 'RS-NPICK1') AS np1 \gset
SELECT stock.create_move(:pn, 4, :loc, :customer, NULL, now(), 'RS-NPICK2') AS np2 \gset
SELECT stock.confirm(:np1);
SELECT stock.confirm(:np2);
SELECT stock.reserve(:np1);
SELECT stock.reserve(:np2);
SELECT lives_ok(format('SELECT stock.deliver(%s, 3, %s)', :pn, :wh), 'negative stock allowed: a delivery of 3 takes reserved stock');
SELECT results_eq(format('SELECT id, state, reserved_qty FROM stock.move WHERE id IN (%s, %s) ORDER BY id', :np1, :np2),
                  format($$VALUES (%s::bigint, 'assigned'::text, 6.00::numeric), (%s, 'confirmed', 1.00)$$, :np1, :np2),
                  'the newest picking gives up 3 of its 4 reserved units and is confirmed again');
SELECT results_eq(format('SELECT quantity, reserved FROM stock.quant WHERE product_id = %s', :pn),
                  $$VALUES (7.00::numeric, 7.00::numeric)$$, 'the quant: 7 on hand, 7 reserved');
SELECT lives_ok(format('SELECT stock.deliver(%s, 9, %s)', :pn, :wh), 'a delivery of 9 takes the stock below zero');
SELECT results_eq(format('SELECT id, state, reserved_qty FROM stock.move WHERE id IN (%s, %s) ORDER BY id', :np1, :np2),
                  format($$VALUES (%s::bigint, 'confirmed'::text, 0.00::numeric), (%s, 'confirmed', 0.00)$$, :np1, :np2),
                  'both pickings lost their reservations');
SELECT results_eq(format('SELECT quantity, reserved FROM stock.quant WHERE product_id = %s', :pn),
                  $$VALUES (-2.00::numeric, 0.00::numeric)$$, 'the quant: -2 on hand, nothing reserved');
SELECT lives_ok(format('SELECT stock.validate(%s)', :np1), 'the picking that lost its reservation still validates (negative allowed)');
SELECT is((SELECT count(*)::int FROM stock.verify_valuation(:pn)), 0, 'the product verifies');

SELECT * FROM finish();
ROLLBACK;
