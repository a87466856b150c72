-- mrp manufacturing orders: create, confirm (moves at the due date), reserve (ready / partial / waiting),
-- produce (FIFO components from layers at different costs, operations, journal), partial production
-- with backorders, by-products, standard-cost products and variance, not enough stock, cancel, states,
-- permissions.
BEGIN;
\ir ../setup.sql
SELECT plan(71);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'MO30') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.virtual_location(:a, 'production') AS prod \gset
SELECT mrp.create_workcenter(:a, 'MO30-WC', 30) AS wc \gset

-- day n of 2026 (valued moves of a product must come in date order)
CREATE FUNCTION pg_temp.d(n int) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
    $$ SELECT '2026-01-01 00:00:00+00'::timestamptz + n * interval '1 day' $$;
CREATE FUNCTION pg_temp.l(p bigint, q numeric, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('product', p, 'qty', q) || extra $$;
CREATE FUNCTION pg_temp.op(m numeric) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_array(jsonb_build_object('name', 'Work', 'workcenter', (SELECT id FROM mrp.workcenter WHERE code = 'MO30-WC'), 'minutes', m)) $$;
-- the moves of an MO: role, SKU, quantity, from, to, state, date
CREATE FUNCTION pg_temp.moves(p_mo bigint) RETURNS TABLE (role text, sku text, qty numeric, src bigint, dst bigint, state text, date timestamptz)
LANGUAGE sql AS $$
    SELECT pm.role, p.sku, m.qty, m.location_id, m.location_dest_id, m.state, m.date
      FROM mrp.production_move pm
      JOIN stock.move m ON m.company_id = pm.company_id AND m.id = pm.move_id
      JOIN stock.product p ON p.company_id = m.company_id AND p.id = m.product_id
     WHERE pm.production_id = p_mo
     ORDER BY pm.role, p.sku, m.id
$$;
-- the journal of an MO's moves, per account kind
CREATE FUNCTION pg_temp.booked(p_mo bigint) RETURNS TABLE (kind text, debit numeric, credit numeric)
LANGUAGE sql AS $$
    SELECT a.kind, sum(l.debit), sum(l.credit)
      FROM stock.journal_entry e
      JOIN stock.journal_line l ON l.company_id = e.company_id AND l.entry_id = e.id
      JOIN stock.account a ON a.company_id = l.company_id AND a.id = l.account_id
     WHERE e.move_id IN (SELECT move_id FROM mrp.production_move WHERE production_id = p_mo)
     GROUP BY a.kind ORDER BY a.kind
$$;
-- the layer of the finished product's move of an MO
CREATE FUNCTION pg_temp.finished_layer(p_mo bigint) RETURNS TABLE (quantity numeric, unit_cost numeric, value numeric)
LANGUAGE sql AS $$
    SELECT l.quantity, l.unit_cost, l.value FROM stock.valuation_layer l
     WHERE l.move_id IN (SELECT move_id FROM mrp.production_move WHERE production_id = p_mo AND role = 'finished')
$$;
CREATE FUNCTION pg_temp.mo(p_mo bigint) RETURNS TABLE (qty numeric, state text, components numeric, operations numeric,
                                                       byproducts numeric, finished numeric, unit_cost numeric)
LANGUAGE sql AS $$
    SELECT qty, state, components_value, operations_cost, byproducts_value, finished_value, unit_cost
      FROM mrp.production WHERE id = p_mo
$$;

SELECT stock.create_product(:a, 'MO30-C1', 'Component 1') AS c1 \gset
SELECT stock.create_product(:a, 'MO30-C2', 'Component 2') AS c2 \gset
SELECT stock.create_product(:a, 'MO30-FIN', 'Finished, FIFO') AS fin \gset
SELECT stock.create_product(:a, 'MO30-KIT', 'Kit') AS kit \gset
SELECT stock.create_product(:a, 'MO30-FK', 'Uses the kit') AS fk \gset
SELECT stock.create_product(:a, 'MO30-NOBOM', 'No BOM') AS nobom \gset

-- ------------------------------------------------------------ create_mo
SELECT mrp.create_bom(:kit, 1, jsonb_build_array(pg_temp.l(:c2, 1)), 'phantom') AS bom_kit \gset
SELECT mrp.create_bom(:fk, 1, jsonb_build_array(pg_temp.l(:kit, 2), pg_temp.l(:c1, 1))) AS bom_fk \gset
SELECT mrp.create_mo(:fk, 3, pg_temp.d(20)) AS mo_k \gset
SELECT results_eq(format('SELECT product_id, bom_id, qty, state, due_at, location_id, backorder_of FROM mrp.production WHERE id = %s', :mo_k),
                  format($$VALUES (%s::bigint, %s::bigint, 3::numeric, 'draft'::text, %L::timestamptz, %s::bigint, NULL::bigint)$$,
                         :fk, :bom_fk, pg_temp.d(20), :loc),
                  'create_mo: a draft order for 3 with the product''s BOM, due date and the warehouse''s stock location');
SELECT is((SELECT count(*)::int FROM mrp.production_move WHERE production_id = :mo_k), 0, 'a draft MO has no moves');
SELECT mrp.create_mo(:fk, 1) AS mo_now, mrp.create_mo(:fk, 2.345) AS mo_round \gset
SELECT is((SELECT due_at FROM mrp.production WHERE id = :mo_now), now(), 'without a due date, the MO is due now');
SELECT is((SELECT qty FROM mrp.production WHERE id = :mo_round), 2.35::numeric,
          'the quantity is rounded to the product''s unit (2.345 -> 2.35)');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_mo(%s, 1)', :kit)),
          '22023: Its bill of materials is of type phantom: its components are used in its place.', 'a kit is never manufactured: 22023');
SELECT throws_ok(format('SELECT mrp.create_mo(%s, 1)', :nobom), '22023', 'product MO30-NOBOM has no bill of materials',
                 'a product without BOM: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_mo(%s, 0)', :fk)), '22023: The quantity given is ''0''.', 'quantity 0: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_mo(%s, -5)', :fk)), '22023: The quantity given is ''-5''.', 'a negative quantity: 22023');
SELECT throws_ok(format('SELECT mrp.create_mo(%s, 0.001)', :fk), '22023', NULL, 'a quantity that rounds to zero in the unit: 22023');

-- ------------------------------------------------------------ confirm_mo
SELECT mrp.confirm_mo(:mo_k);
SELECT results_eq(format('SELECT * FROM pg_temp.moves(%s)', :mo_k),
                  format($$VALUES ('component'::text, 'MO30-C1'::text, 3.00::numeric, %s::bigint, %s::bigint, 'confirmed'::text, %L::timestamptz),
                                  ('component', 'MO30-C2', 6.00, %s, %s, 'confirmed', %L),
                                  ('finished', 'MO30-FK', 3.00, %s, %s, 'confirmed', %L)$$,
                         :loc, :prod, pg_temp.d(20), :loc, :prod, pg_temp.d(20), :prod, :loc, pg_temp.d(20)),
                  'confirm_mo: components (the kit exploded: 6 C2) stock -> production, the product production -> stock, confirmed at the due date');
SELECT is(ARRAY(SELECT DISTINCT m.ref FROM stock.move m JOIN mrp.production_move pm ON pm.move_id = m.id WHERE pm.production_id = :mo_k),
          ARRAY['MO/' || :mo_k], 'the moves carry the MO''s reference');
SELECT is((SELECT state FROM mrp.production WHERE id = :mo_k), 'confirmed', 'the MO is confirmed');
SELECT throws_ok(format('SELECT mrp.confirm_mo(%s)', :mo_k), '22023', format('manufacturing order %s is confirmed, not draft', :mo_k),
                 'confirming twice: 22023');

-- ------------------------------------------------------------ produce: FIFO layers at different costs, operations, journal
-- FIN (batch 2) = 3 C1 + 1 C2, 12.5 min at 30/h a batch. C1: 10 @ 1.00 then 10 @ 2.00; C2: 10 @ 0.50.
SELECT stock.receive(:c1, 10, 1, :wh, 'C1-1', pg_temp.d(1)) AS r1 \gset
SELECT stock.receive(:c1, 10, 2, :wh, 'C1-2', pg_temp.d(2)) AS r2 \gset
SELECT stock.receive(:c2, 10, 0.5, :wh, 'C2-1', pg_temp.d(2)) AS r3 \gset
SELECT mrp.create_bom(:fin, 2, jsonb_build_array(pg_temp.l(:c1, 3), pg_temp.l(:c2, 1)), 'normal', NULL, pg_temp.op(12.5)) AS bom_fin \gset
SELECT mrp.create_mo(:fin, 8, pg_temp.d(5)) AS mo1 \gset
SELECT mrp.confirm_mo(:mo1);
SELECT is(mrp.produce_mo(:mo1), NULL::bigint, 'producing the whole MO returns no backorder');
-- 12 C1 = 10 x 1.00 + 2 x 2.00 = 14.00; 4 C2 = 2.00; 4 batches x 12.5 min at 30/h = 25.00; 41.00 / 8 = 5.125
SELECT results_eq(format('SELECT * FROM pg_temp.mo(%s)', :mo1),
                  $$VALUES (8::numeric, 'done'::text, 16.00::numeric, 25.00::numeric, 0::numeric, 41.00::numeric, 5.13::numeric)$$,
                  'the MO is done: components 14.00 + 2.00, operations 25.00, finished 41.00, unit cost 5.125 -> 5.13');
SELECT results_eq(format($$SELECT p.sku, l.quantity, l.value FROM stock.valuation_layer l JOIN stock.product p ON p.id = l.product_id
                            WHERE l.move_id IN (SELECT move_id FROM mrp.production_move WHERE production_id = %s AND role = 'component')
                            ORDER BY p.sku$$, :mo1),
                  $$VALUES ('MO30-C1'::text, -12.00::numeric, -14.00::numeric), ('MO30-C2', -4.00, -2.00)$$,
                  'component layers: 12 C1 from the 1.00 and 2.00 layers (-14.00), 4 C2 (-2.00)');
SELECT results_eq(format('SELECT * FROM pg_temp.finished_layer(%s)', :mo1),
                  $$VALUES (8::numeric, 5.125::numeric, 41.00::numeric)$$,
                  'the finished layer: 8 at (16.00 + 25.00) / 8 = 5.125, worth 41.00');
SELECT results_eq(format('SELECT * FROM pg_temp.moves(%s)', :mo1),
                  format($$VALUES ('component'::text, 'MO30-C1'::text, 12.00::numeric, %s::bigint, %s::bigint, 'done'::text, %L::timestamptz),
                                  ('component', 'MO30-C2', 4.00, %s, %s, 'done', %L),
                                  ('finished', 'MO30-FIN', 8.00, %s, %s, 'done', %L)$$,
                         :loc, :prod, now(), :loc, :prod, now(), :prod, :loc, now()),
                  'all moves of the MO are done, posted when produced (not at the due date)');
SELECT is(ARRAY(SELECT DISTINCT l.created_at FROM stock.valuation_layer l
                 WHERE l.move_id IN (SELECT move_id FROM mrp.production_move WHERE production_id = :mo1)),
          ARRAY[now()], 'and so are their layers');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :mo1),
                  $$VALUES ('production_cost'::text, 0::numeric, 25.00::numeric), ('stock_output', 41.00, 41.00),
                           ('stock_valuation', 41.00, 16.00)$$,
                  'journal: stock output nets to zero (16.00 + 25.00 = 41.00), production cost credited 25.00, stock valuation +41.00 -16.00');
SELECT is_empty(format($$SELECT e.id FROM stock.journal_entry e JOIN stock.journal_line l ON l.company_id = e.company_id AND l.entry_id = e.id
                         WHERE e.ref = 'MO/%s' GROUP BY e.id HAVING sum(l.debit) <> sum(l.credit)$$, :mo1),
                'every journal entry of the MO is balanced');
SELECT results_eq(format('SELECT stock.on_hand(%s), stock.on_hand(%s), stock.on_hand(%s)', :c1, :c2, :fin),
                  $$VALUES (8::numeric, 6::numeric, 8::numeric)$$, 'on hand after: 8 C1, 6 C2, 8 FIN');

-- ------------------------------------------------------------ states
SELECT mrp.create_mo(:fin, 1, pg_temp.d(30)) AS mo_draft \gset
SELECT throws_ok(format('SELECT mrp.produce_mo(%s)', :mo1), '22023',
                 format('manufacturing order %s is done: only confirmed orders are produced', :mo1), 'producing a done MO: 22023');
SELECT is(pg_temp.error_hint(format('SELECT mrp.produce_mo(%s)', :mo_draft)), '22023: Confirm it with mrp.confirm_mo() first.',
          'producing a draft MO: 22023, with a hint to confirm it');
SELECT throws_ok(format('SELECT mrp.cancel_mo(%s)', :mo1), '22023', format('manufacturing order %s is already done', :mo1),
                 'cancelling a done MO: 22023');
SELECT throws_ok(format('SELECT mrp.reserve_mo(%s)', :mo_draft), '22023', NULL, 'reserving a draft MO: 22023');
SELECT throws_ok(format('SELECT mrp.produce_mo(%s)', (SELECT max(id) + 1000 FROM mrp.production)), '22023',
                 format('manufacturing order %s does not exist', (SELECT max(id) + 1000 FROM mrp.production)), 'an unknown MO: 22023');
SELECT mrp.cancel_mo(:mo_draft);
SELECT is((SELECT state FROM mrp.production WHERE id = :mo_draft), 'cancelled', 'a draft MO can be cancelled');
SELECT throws_ok(format('SELECT mrp.produce_mo(%s)', :mo_draft), '22023',
                 format('manufacturing order %s is cancelled: only confirmed orders are produced', :mo_draft), 'producing a cancelled MO: 22023');
SELECT throws_ok(format('SELECT mrp.cancel_mo(%s)', :mo_draft), '22023', format('manufacturing order %s is already cancelled', :mo_draft),
                 'cancelling twice: 22023');

-- ------------------------------------------------------------ partial production and backorders
-- FP (batch 1) = 2 C3, 6 min at 30/h (3.00) a unit. C3: 10 @ 1.00 then 20 @ 2.00.
SELECT stock.create_product(:a, 'MO30-C3', 'Component 3') AS c3 \gset
SELECT stock.create_product(:a, 'MO30-FP', 'Made in parts') AS fp \gset
SELECT stock.receive(:c3, 10, 1, :wh, 'C3-1', pg_temp.d(1));
SELECT stock.receive(:c3, 20, 2, :wh, 'C3-2', pg_temp.d(2));
SELECT mrp.create_bom(:fp, 1, jsonb_build_array(pg_temp.l(:c3, 2)), 'normal', NULL, pg_temp.op(6)) AS bom_fp \gset
SELECT mrp.create_mo(:fp, 10, pg_temp.d(6)) AS mo2 \gset
SELECT mrp.confirm_mo(:mo2);
SELECT throws_ok(format('SELECT mrp.produce_mo(%s, 11)', :mo2), '22023', 'quantity produced must be positive and at most 10.00',
                 'producing more than ordered: 22023');
SELECT throws_ok(format('SELECT mrp.produce_mo(%s, 0)', :mo2), '22023', 'quantity produced must be positive and at most 10.00',
                 'producing zero: 22023');
SELECT mrp.produce_mo(:mo2, 4) AS bo \gset
SELECT results_eq(format('SELECT product_id, qty, state, backorder_of, due_at FROM mrp.production WHERE id = %s', :bo),
                  format($$VALUES (%s::bigint, 6::numeric, 'confirmed'::text, %s::bigint, %L::timestamptz)$$, :fp, :mo2, pg_temp.d(6)),
                  'producing 4 of 10 returns a backorder MO for 6, confirmed, due the same day');
-- 8 C3 @ 1.00 = 8.00; 4 x 3.00 = 12.00; 20.00 / 4 = 5.00
SELECT results_eq(format('SELECT * FROM pg_temp.mo(%s)', :mo2),
                  $$VALUES (4::numeric, 'done'::text, 8.00::numeric, 12.00::numeric, 0::numeric, 20.00::numeric, 5.00::numeric)$$,
                  'the MO is done for 4: 8 C3 at 1.00, operations 4 x 3.00, unit cost 5.00');
SELECT results_eq(format('SELECT role, sku, qty, state FROM pg_temp.moves(%s)', :mo2),
                  $$VALUES ('component'::text, 'MO30-C3'::text, 8.00::numeric, 'done'::text), ('finished', 'MO30-FP', 4.00, 'done')$$,
                  'its moves are cut to what was produced, and done');
SELECT results_eq(format('SELECT role, sku, qty, state, date FROM pg_temp.moves(%s)', :bo),
                  format($$VALUES ('component'::text, 'MO30-C3'::text, 12.00::numeric, 'confirmed'::text, %L::timestamptz),
                                  ('finished', 'MO30-FP', 6.00, 'confirmed', %L)$$, pg_temp.d(6), pg_temp.d(6)),
                  'the backorder holds the rest of every move, confirmed at the due date');
SELECT is(mrp.produce_mo(:bo), NULL::bigint, 'producing the backorder completes it');
-- 12 C3 = 2 x 1.00 + 10 x 2.00 = 22.00; 6 x 3.00 = 18.00; 40.00 / 6 = 6.666.. -> 6.67
SELECT results_eq(format('SELECT * FROM pg_temp.mo(%s)', :bo),
                  $$VALUES (6::numeric, 'done'::text, 22.00::numeric, 18.00::numeric, 0::numeric, 40.00::numeric, 6.67::numeric)$$,
                  'the backorder: 12 C3 from the rest of the 1.00 layer and the 2.00 layer (22.00), operations 18.00, unit cost 6.67');
SELECT results_eq(format($$SELECT sum(m.qty) FROM mrp.production_move pm JOIN stock.move m ON m.id = pm.move_id
                            WHERE pm.production_id IN (%s, %s) AND pm.role = 'component' AND m.state = 'done'$$, :mo2, :bo),
                  format('SELECT qty FROM mrp.explode(%s, 10)', :fp),
                  'together they consumed the full explosion of 10: 20 C3');
SELECT results_eq(format('SELECT stock.on_hand(%s), (stock.valuation(%s)).value, stock.on_hand(%s), (stock.valuation(%s)).value', :c3, :c3, :fp, :fp),
                  $$VALUES (10::numeric, 20.00::numeric, 10::numeric, 60.00::numeric)$$,
                  'C3: 10 left worth 20.00; FP: 10 made worth 20.00 + 40.00');

-- ------------------------------------------------------------ by-products
-- FB (batch 1) = 2 C4, by-product 1 BP (FIFO, standard price 0.75). C4: 20 @ 2.00.
SELECT stock.create_product(:a, 'MO30-C4', 'Component 4') AS c4 \gset
SELECT stock.create_product(:a, 'MO30-FB', 'With a by-product') AS fb \gset
SELECT stock.create_product(:a, 'MO30-BP', 'By-product', 'fifo', 0.75) AS bp \gset
SELECT stock.receive(:c4, 20, 2, :wh, 'C4-1', pg_temp.d(1));
SELECT mrp.create_bom(:fb, 1, jsonb_build_array(pg_temp.l(:c4, 2)), 'normal', jsonb_build_array(pg_temp.l(:bp, 1))) AS bom_fb \gset
SELECT mrp.create_mo(:fb, 4, pg_temp.d(7)) AS mo3 \gset
SELECT mrp.confirm_mo(:mo3);
SELECT results_eq(format('SELECT role, sku, qty, src, dst FROM pg_temp.moves(%s)', :mo3),
                  format($$VALUES ('byproduct'::text, 'MO30-BP'::text, 4.00::numeric, %s::bigint, %s::bigint),
                                  ('component', 'MO30-C4', 8.00, %s, %s), ('finished', 'MO30-FB', 4.00, %s, %s)$$,
                         :prod, :loc, :loc, :prod, :prod, :loc),
                  'confirm_mo: the by-product comes from production into stock');
SELECT mrp.produce_mo(:mo3);
-- 8 C4 @ 2.00 = 16.00; 4 BP @ 0.75 = 3.00; FB 13.00 / 4 = 3.25
SELECT results_eq(format($$SELECT l.quantity, l.unit_cost, l.value FROM stock.valuation_layer l
                            WHERE l.move_id IN (SELECT move_id FROM mrp.production_move WHERE production_id = %s AND role = 'byproduct')$$, :mo3),
                  $$VALUES (4::numeric, 0.75::numeric, 3.00::numeric)$$, 'the by-product is received at its standard price: 4 x 0.75');
SELECT results_eq(format('SELECT * FROM pg_temp.mo(%s)', :mo3),
                  $$VALUES (4::numeric, 'done'::text, 16.00::numeric, 0::numeric, 3.00::numeric, 13.00::numeric, 3.25::numeric)$$,
                  'its value is deducted from the finished cost: 16.00 - 3.00 = 13.00, 3.25 a unit');
SELECT results_eq(format('SELECT * FROM pg_temp.finished_layer(%s)', :mo3), $$VALUES (4::numeric, 3.25::numeric, 13.00::numeric)$$,
                  'the finished layer: 4 at 3.25');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :mo3),
                  $$VALUES ('stock_output'::text, 16.00::numeric, 16.00::numeric), ('stock_valuation', 16.00, 16.00)$$,
                  'journal: stock output nets to zero (16.00 against 13.00 + 3.00)');

-- ------------------------------------------------------------ a standard-cost finished product
-- FS (standard 10.00, batch 1) = 2 C5, 10 min at 30/h (5.00). C5: 10 @ 3.00.
SELECT stock.create_product(:a, 'MO30-C5', 'Component 5') AS c5 \gset
SELECT stock.create_product(:a, 'MO30-FS', 'Standard cost', 'standard', 10) AS fs \gset
SELECT stock.receive(:c5, 10, 3, :wh, 'C5-1', pg_temp.d(1));
SELECT mrp.create_bom(:fs, 1, jsonb_build_array(pg_temp.l(:c5, 2)), 'normal', NULL, pg_temp.op(10)) AS bom_fs \gset
SELECT mrp.create_mo(:fs, 3, pg_temp.d(8)) AS mo4 \gset
SELECT mrp.confirm_mo(:mo4);
SELECT mrp.produce_mo(:mo4);
-- 6 C5 = 18.00; 3 x 5.00 = 15.00; cost 33.00, received at 3 x 10.00 = 30.00: variance 3.00
SELECT results_eq(format('SELECT * FROM pg_temp.finished_layer(%s)', :mo4), $$VALUES (3::numeric, 10::numeric, 30.00::numeric)$$,
                  'a standard product is received at its standard price: 3 x 10.00');
SELECT results_eq(format('SELECT * FROM pg_temp.mo(%s)', :mo4),
                  $$VALUES (3::numeric, 'done'::text, 18.00::numeric, 15.00::numeric, 0::numeric, 30.00::numeric, 10.00::numeric)$$,
                  'the MO records components 18.00, operations 15.00, finished 30.00');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :mo4),
                  $$VALUES ('production_cost'::text, 0::numeric, 15.00::numeric), ('production_variance', 3.00, 0),
                           ('stock_output', 33.00, 33.00), ('stock_valuation', 30.00, 18.00)$$,
                  'journal: the 3.00 the standard price does not carry goes to production variance; stock output nets to zero');

-- ------------------------------------------------------------ reservation
-- FR (batch 1) = 1 R1 + 1 R2; R1: 10 on hand, R2: 3
SELECT stock.create_product(:a, 'MO30-R1', 'Reserved 1') AS rr1 \gset
SELECT stock.create_product(:a, 'MO30-R2', 'Reserved 2') AS rr2 \gset
SELECT stock.create_product(:a, 'MO30-FR', 'Reserved') AS fr \gset
SELECT stock.receive(:rr1, 10, 1, :wh, 'R1-1', pg_temp.d(1));
SELECT stock.receive(:rr2, 3, 1, :wh, 'R2-1', pg_temp.d(1));
SELECT mrp.create_bom(:fr, 1, jsonb_build_array(pg_temp.l(:rr1, 1), pg_temp.l(:rr2, 1)));
SELECT mrp.create_mo(:fr, 2, pg_temp.d(10)) AS mo_r1 \gset
SELECT mrp.create_mo(:fr, 8, pg_temp.d(10)) AS mo_r2 \gset
SELECT mrp.create_mo(:fr, 1, pg_temp.d(10)) AS mo_r3 \gset
SELECT mrp.confirm_mo(:mo_r1), mrp.confirm_mo(:mo_r2), mrp.confirm_mo(:mo_r3);
SELECT is(mrp.reserve_mo(:mo_r1), 'ready', 'enough of every component: ready');
SELECT is(mrp.reserve_mo(:mo_r2), 'partial', 'all 8 R1 but 1 of 8 R2: partial');
SELECT results_eq(format($$SELECT sku, m.reserved_qty, m.state FROM mrp.production_move pm JOIN stock.move m ON m.id = pm.move_id
                            JOIN stock.product p ON p.id = m.product_id WHERE pm.production_id = %s AND pm.role = 'component' ORDER BY sku$$, :mo_r2),
                  $$VALUES ('MO30-R1'::text, 8.00::numeric, 'assigned'::text), ('MO30-R2', 1.00, 'confirmed')$$,
                  'only what is on hand is reserved: 8 R1 (assigned), 1 R2');
SELECT is(mrp.reserve_mo(:mo_r3), 'waiting', 'nothing left of either component: waiting');
SELECT results_eq(format('SELECT stock.available(%s), stock.available(%s)', :rr1, :rr2), $$VALUES (0::numeric, 0::numeric)$$,
                  'all of R1 and R2 is reserved');
SELECT mrp.cancel_mo(:mo_r2);
SELECT results_eq(format('SELECT stock.available(%s), stock.available(%s)', :rr1, :rr2), $$VALUES (8::numeric, 1::numeric)$$,
                  'cancel_mo releases its reservations: 8 R1 and 1 R2 available again');
SELECT results_eq(format('SELECT role, state FROM pg_temp.moves(%s)', :mo_r2),
                  $$VALUES ('component'::text, 'cancelled'::text), ('component', 'cancelled'), ('finished', 'cancelled')$$,
                  'and cancels all its moves');
SELECT is((SELECT state FROM mrp.production WHERE id = :mo_r2), 'cancelled', 'the MO is cancelled');
SELECT is(mrp.reserve_mo(:mo_r3), 'ready', 'the waiting MO is now ready');
SELECT mrp.produce_mo(:mo_r1);
SELECT results_eq(format('SELECT stock.on_hand(%s), stock.available(%s), stock.on_hand(%s), stock.available(%s)', :rr1, :rr1, :rr2, :rr2),
                  $$VALUES (8::numeric, 7::numeric, 1::numeric, 0::numeric)$$,
                  'producing a ready MO consumes what it reserved; the other MO''s reservation stands');

-- ------------------------------------------------------------ not enough stock, negative stock forbidden
SELECT stock.create_product(:a, 'MO30-N1', 'Enough') AS n1 \gset
SELECT stock.create_product(:a, 'MO30-N2', 'Short') AS n2 \gset
SELECT stock.create_product(:a, 'MO30-FN', 'Cannot be made') AS fnn \gset
SELECT stock.receive(:n1, 5, 1, :wh, 'N1-1', pg_temp.d(1));
SELECT stock.receive(:n2, 1, 1, :wh, 'N2-1', pg_temp.d(1));
SELECT mrp.create_bom(:fnn, 1, jsonb_build_array(pg_temp.l(:n1, 1), pg_temp.l(:n2, 1)));
SELECT mrp.create_mo(:fnn, 3, pg_temp.d(11)) AS mo5 \gset
SELECT mrp.confirm_mo(:mo5);
SELECT stock.set_allow_negative(:a, false);
SELECT (SELECT count(*) FROM stock.valuation_layer) AS layers0, (SELECT count(*) FROM stock.journal_line) AS jl0,
       (SELECT count(*) FROM mrp.production) AS mos0 \gset
SELECT throws_ok(format('SELECT mrp.produce_mo(%s)', :mo5), '23514', format('not enough stock of product %s in %s', :n2,
                        (SELECT name FROM stock.location WHERE id = :loc)),
                 'not enough of a component with negative stock forbidden: 23514 from stock.validate');
SELECT is(ARRAY[(SELECT count(*) FROM stock.valuation_layer), (SELECT count(*) FROM stock.journal_line), (SELECT count(*) FROM mrp.production)],
          ARRAY[:layers0, :jl0, :mos0]::bigint[], 'nothing was written: no layer, no journal line, no backorder');
SELECT results_eq(format('SELECT state FROM mrp.production WHERE id = %s UNION ALL SELECT state FROM pg_temp.moves(%s)', :mo5, :mo5),
                  $$VALUES ('confirmed'::text), ('confirmed'), ('confirmed'), ('confirmed')$$,
                  'the MO and its moves are still confirmed');
SELECT results_eq(format('SELECT stock.on_hand(%s), stock.on_hand(%s)', :n1, :n2), $$VALUES (5::numeric, 1::numeric)$$,
                  'the component that was enough was not consumed either');
SELECT stock.set_allow_negative(:a, true);

SELECT is_empty(format('SELECT * FROM stock.verify_valuation() WHERE product_id IN (SELECT id FROM stock.product WHERE company_id = %s)', :a),
                'stock.verify_valuation finds A''s quants, layers, moves and journal in agreement after the MOs');
SELECT is_empty(format($$SELECT sum(l.debit) - sum(l.credit) FROM stock.journal_line l JOIN stock.account a ON a.id = l.account_id
                         JOIN stock.journal_entry e ON e.company_id = l.company_id AND e.id = l.entry_id
                         WHERE l.company_id = %s AND e.ref LIKE 'MO/%%' AND a.kind = 'stock_output'
                         HAVING sum(l.debit) <> sum(l.credit)$$, :a),
                'over all MOs, stock output nets to zero');

-- ------------------------------------------------------------ permissions
SELECT stock.create_warehouse(:b, 'MO30-B') AS whb \gset
SELECT stock.create_product(:b, 'MO30-BC', 'Component of B') AS bc \gset
SELECT stock.create_product(:b, 'MO30-BF', 'Product of B') AS bf \gset
SELECT mrp.create_bom(:bf, 1, jsonb_build_array(pg_temp.l(:bc, 1)));
SELECT mrp.create_mo(:bf, 1, pg_temp.d(12)) AS mo_b \gset
SELECT mrp.confirm_mo(:mo_b);
SELECT pg_temp.make_user('mo30_stock', 'stock_user', :a);
SELECT pg_temp.make_user('mo30_plan', 'mrp_planner', :a) AS u_plan \gset
SELECT pg_temp.make_user('mo30_plan2', 'mrp_planner', :a) AS u_plan2 \gset
SELECT erp.grant_role(:u_plan2, 'auditor', :b);

SELECT pg_temp.login('mo30_stock', :a);
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_mo(%s, 1)', :fin)),
          format('42501: Permission "mrp.production:create" is required on company %s.', :a), 'a stock_user cannot create an MO (42501)');
SELECT pg_temp.login('mo30_plan', :a);
SELECT mrp.create_bom(:fin, 1, jsonb_build_array(pg_temp.l(:c1, 1))) AS bom_plan \gset
SELECT mrp.create_mo(:fin, 2, pg_temp.d(13)) AS mo_p \gset
SELECT mrp.confirm_mo(:mo_p);
SELECT mrp.produce_mo(:mo_p);
SELECT results_eq(format('SELECT * FROM pg_temp.mo(%s)', :mo_p),
                  $$VALUES (2::numeric, 'done'::text, 6.50::numeric, 6.25::numeric, 0::numeric, 12.75::numeric, 6.38::numeric)$$,
                  'an mrp_planner of A creates a BOM and an MO, confirms and produces it in A (the first BOM by sequence is still used)');
SELECT throws_ok(format('SELECT mrp.create_mo(%s, 1)', :bf), '22023', format('product %s does not exist', :bf),
                 'a product of B does not exist for the planner of A');
SELECT throws_ok(format('SELECT mrp.produce_mo(%s)', :mo_b), '22023', format('manufacturing order %s does not exist', :mo_b),
                 'nor does an MO of B');
SELECT pg_temp.login('mo30_plan2', :b);
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_mo(%s, 1)', :bf)),
          format('42501: Permission "mrp.production:create" is required on company %s.', :b),
          'a planner of A who reads B cannot create an MO in B (42501)');
SELECT is(pg_temp.error_detail(format('SELECT mrp.produce_mo(%s)', :mo_b)),
          format('42501: Permission "mrp.production:produce" is required on company %s.', :b),
          'nor produce one (42501)');
SELECT erp.sign_out();
SELECT is((SELECT state FROM mrp.production WHERE id = :mo_b), 'confirmed', 'B''s MO is untouched');

SELECT * FROM finish();
ROLLBACK;
