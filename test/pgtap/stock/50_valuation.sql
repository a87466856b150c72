-- stock valuation: FIFO (Odoo test_fifo_perpetual_2), AVCO with rounding, standard price, negative stock, back-dated receipt settling negative stock, journal, reports.
BEGIN;
\ir ../setup.sql
SELECT plan(47);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'VL50') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.create_product(:a, 'VL50-FIFO', 'Fifo product') AS pf \gset
SELECT stock.create_product(:a, 'VL50-AVCO', 'Average product', 'avco') AS pa \gset
SELECT stock.create_product(:a, 'VL50-AVR', 'Average rounding', 'avco') AS pr \gset
SELECT stock.create_product(:a, 'VL50-STD', 'Standard product', 'standard', 10) AS ps \gset
SELECT stock.create_product(:a, 'VL50-STD0', 'Standard without stock', 'standard', 4) AS ps0 \gset
SELECT stock.create_product(:a, 'VL50-NEG', 'Negative fifo') AS pn \gset
SELECT stock.create_product(:a, 'VL50-J', 'Scrapped product') AS pj \gset
SELECT pg_temp.make_user('vl50_user', 'stock_user', :a, false) AS usr \gset
SELECT pg_temp.make_user('vl50_mgr', 'stock_manager', :a, false) AS mgr \gset

-- day n of 2026 (valued moves of a product must come in date order)
CREATE FUNCTION pg_temp.d(n int) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
    $$ SELECT '2026-01-01 00:00:00+00'::timestamptz + n * interval '1 day' $$;

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

-- Run a statement, then check the deferred constraints (as COMMIT does), and
-- undo both: 'statement <ok|SQLSTATE>, check <ok|SQLSTATE>'.
CREATE FUNCTION pg_temp.deferred_outcome(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
BEGIN
    BEGIN
        BEGIN
            EXECUTE p_sql;
            v_result := 'statement ok';
        EXCEPTION WHEN OTHERS THEN
            v_result := 'statement ' || SQLSTATE;
        END;
        BEGIN
            SET CONSTRAINTS ALL IMMEDIATE;
            v_result := v_result || ', check ok';
        EXCEPTION WHEN OTHERS THEN
            v_result := v_result || ', check ' || SQLSTATE;
        END;
        RAISE EXCEPTION 'undo' USING ERRCODE = 'assert_failure';
    EXCEPTION WHEN assert_failure THEN
        NULL;
    END;
    RETURN v_result;
END $$;

-- ------------------------------------------------------------ FIFO: Odoo's test_fifo_perpetual_2
SELECT stock.receive(:pf, 68, 15, :wh, 'F-IN1', pg_temp.d(1)) AS f_in1 \gset
SELECT stock.receive(:pf, 140, 15.50, :wh, 'F-IN2', pg_temp.d(2)) AS f_in2 \gset
SELECT stock.deliver(:pf, 94, :wh, 'F-OUT1', pg_temp.d(3)) AS f_out1 \gset
SELECT stock.receive(:pf, 40, 16, :wh, 'F-IN3', pg_temp.d(4)) AS f_in3 \gset
SELECT stock.receive(:pf, 78, 16.50, :wh, 'F-IN4', pg_temp.d(5)) AS f_in4 \gset
SELECT stock.deliver(:pf, 116, :wh, 'F-OUT2', pg_temp.d(6)) AS f_out2 \gset
SELECT stock.deliver(:pf, 62, :wh, 'F-OUT3', pg_temp.d(7)) AS f_out3 \gset
SELECT stock.deliver(:pf, 10, :wh, 'F-OUT4', pg_temp.d(8)) AS f_out4 \gset

SELECT is(ARRAY(SELECT value FROM stock.move WHERE id IN (:f_in1, :f_in2, :f_in3, :f_in4) ORDER BY id),
          ARRAY[1020, 2170, 640, 1287]::numeric[], 'fifo receipts are valued 68x15, 140x15.50, 40x16, 78x16.50');
SELECT is(ARRAY(SELECT value FROM stock.move WHERE id IN (:f_out1, :f_out2, :f_out3, :f_out4) ORDER BY id),
          ARRAY[-1423, -1799, -1004, -165]::numeric[], 'fifo deliveries are valued -1423, -1799, -1004, -165');
SELECT results_eq(format('SELECT quantity, value, unit_cost, remaining_qty, remaining_value FROM stock.valuation_layer WHERE move_id = %s', :f_out1),
                  $$VALUES (-94::numeric, -1423::numeric, 15.14::numeric, 0::numeric, 0::numeric)$$,
                  'the first delivery layer: -94 units, -1423 (68 x 15 + 26 x 15.50), unit cost 15.14, nothing owed');
SELECT results_eq(format('SELECT * FROM stock.valuation(%s)', :pf), $$VALUES (44::numeric, 726::numeric)$$,
                  'stock.valuation: 44 units worth 726 at the end');
SELECT results_eq(format('SELECT qty, value FROM stock.product_value WHERE product_id = %s', :pf),
                  $$VALUES (44::numeric, 726::numeric)$$, 'stock.product_value: 44 units worth 726');
SELECT results_eq(format('SELECT move_id, remaining_qty, remaining_value FROM stock.valuation_layer WHERE product_id = %s AND remaining_qty <> 0', :pf),
                  format('VALUES (%s::bigint, 44::numeric, 726::numeric)', :f_in4),
                  'the only open layer is the last receipt''s, with 44 units worth 726 remaining');
SELECT results_eq(format('SELECT * FROM stock.valuation(%s, %L)', :pf, pg_temp.d(3)), $$VALUES (114::numeric, 1767::numeric)$$,
                  'valuation at a past date (after the first delivery): 114 units worth 1767');

-- ------------------------------------------------------------ AVCO
SELECT stock.receive(:pa, 10, 10, :wh, 'A-IN1', pg_temp.d(1)) AS a_in1 \gset
SELECT stock.receive(:pa, 10, 12, :wh, 'A-IN2', pg_temp.d(2)) AS a_in2 \gset
SELECT results_eq(format('SELECT qty, value, last_unit_cost FROM stock.product_value WHERE product_id = %s', :pa),
                  $$VALUES (20::numeric, 220::numeric, 11::numeric)$$, 'avco: 10 @ 10 and 10 @ 12 average 11');
SELECT stock.deliver(:pa, 5, :wh, 'A-OUT1', pg_temp.d(3)) AS a_out1 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :a_out1), -55::numeric, 'avco: delivering 5 is valued -55');
SELECT stock.deliver(:pa, 15, :wh, 'A-OUT2', pg_temp.d(4)) AS a_out2 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :a_out2), -165::numeric, 'avco: delivering the remaining 15 is valued -165');
SELECT results_eq(format('SELECT v.qty, v.value, pv.qty, pv.value FROM stock.valuation(%s) v, stock.product_value pv WHERE pv.product_id = %s', :pa, :pa),
                  $$VALUES (0::numeric, 0::numeric, 0::numeric, 0::numeric)$$,
                  'avco: no stock left is worth exactly zero');

SELECT stock.receive(:pr, 3, 10::numeric / 3, :wh, 'R-IN', pg_temp.d(1)) AS r_in \gset
SELECT is((SELECT value FROM stock.move WHERE id = :r_in), 10::numeric, 'avco rounding: 3 units received for 10.00');
SELECT stock.deliver(:pr, 1, :wh, 'R-OUT1', pg_temp.d(2)) AS r_out1 \gset
SELECT stock.deliver(:pr, 1, :wh, 'R-OUT2', pg_temp.d(3)) AS r_out2 \gset
SELECT stock.deliver(:pr, 1, :wh, 'R-OUT3', pg_temp.d(4)) AS r_out3 \gset
SELECT is(ARRAY(SELECT value FROM stock.move WHERE id IN (:r_out1, :r_out2, :r_out3) ORDER BY id),
          ARRAY[-3.33, -3.34, -3.33]::numeric[],
          'avco rounding: 1 of 3 for 10.00 is -3.33, 1 of 2 for 6.67 is -3.34 (3.335 half away), the last takes the remainder -3.33');
SELECT results_eq(format('SELECT * FROM stock.valuation(%s)', :pr), $$VALUES (0::numeric, 0::numeric)$$,
                  'avco rounding: the three deliveries add up to the 10.00 received');

-- ------------------------------------------------------------ standard price
SELECT stock.receive(:ps, 5, 12, :wh, 'S-IN', pg_temp.d(1)) AS s_in \gset
SELECT results_eq(format('SELECT l.quantity, l.unit_cost, l.value, m.value FROM stock.valuation_layer l JOIN stock.move m ON m.id = l.move_id WHERE l.move_id = %s', :s_in),
                  $$VALUES (5::numeric, 10::numeric, 50::numeric, 50::numeric)$$,
                  'standard: 5 bought at 12 are valued at the standard price 10 (50)');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :s_in),
                  $$VALUES ('price_difference'::text, 10::numeric, 0::numeric), ('stock_input', 0, 60), ('stock_valuation', 50, 0)$$,
                  'standard: the receipt books 50 to stock valuation and the 10 difference to price_difference, 60 to stock input');
SELECT stock.set_standard_price(:ps, 12.5);
SELECT results_eq(format('SELECT quantity, value, move_id, description FROM stock.valuation_layer WHERE product_id = %s AND move_id IS NULL', :ps),
                  $$VALUES (0::numeric, 12.50::numeric, NULL::bigint, 'Product value manually modified (from 10.00 to 12.50)'::text)$$,
                  'set_standard_price with 5 in stock: a revaluation layer of 5 x 2.50 = 12.50 with its description');
SELECT results_eq(format('SELECT p.standard_price, v.qty, v.value FROM stock.product p, stock.valuation(p.id) v WHERE p.id = %s', :ps),
                  $$VALUES (12.50::numeric, 5::numeric, 62.50::numeric)$$,
                  'the product''s price is 12.50 and its 5 units are worth 62.50');
SELECT results_eq(format($$SELECT a.kind, l.debit, l.credit FROM stock.journal_entry e
                             JOIN stock.journal_line l ON l.company_id = e.company_id AND l.entry_id = e.id
                             JOIN stock.account a ON a.company_id = l.company_id AND a.id = l.account_id
                            WHERE e.layer_id = (SELECT id FROM stock.valuation_layer WHERE product_id = %s AND move_id IS NULL)
                            ORDER BY a.kind$$, :ps),
                  $$VALUES ('price_difference'::text, 0::numeric, 12.50::numeric), ('stock_valuation', 12.50, 0)$$,
                  'the revaluation books 12.50 from price difference to stock valuation');
SELECT stock.deliver(:ps, 2, :wh, 'S-OUT') AS s_out \gset
SELECT is((SELECT value FROM stock.move WHERE id = :s_out), -25::numeric, 'standard: 2 delivered at the new price 12.50: -25');
-- (in B, so that A's totals do not depend on the outcome)
SELECT stock.create_warehouse(:b, 'VL50-B') AS whb \gset
SELECT stock.create_product(:b, 'VL50-STD2', 'Standard revalued', 'standard', 10) AS ps2 \gset
SELECT stock.receive(:ps2, 5, 10, :whb, 'S2-IN', pg_temp.d(1)) AS s2_in \gset
SELECT stock.set_standard_price(:ps2, 12);
SELECT stock.deliver(:ps2, 1, :whb, NULL, pg_temp.d(2)) AS s2_out \gset
SELECT results_eq(format($$SELECT (SELECT value FROM stock.move WHERE id = %s), sum(l.value), count(*)::int FROM stock.valuation_layer l
                            WHERE l.product_id = %s AND l.move_id IS NULL$$, :s2_out, :ps2),
                  $$VALUES (-10::numeric, 8::numeric, 2)$$,
                  'a move dated before a standard price change is valued at the price of its date (-10); the revaluation becomes 4 x 2 = 8 (correction -2)');
SELECT stock.set_standard_price(:ps0, 7);
SELECT results_eq(format('SELECT p.standard_price, (SELECT count(*)::int FROM stock.valuation_layer l WHERE l.product_id = p.id) FROM stock.product p WHERE p.id = %s', :ps0),
                  $$VALUES (7::numeric, 0)$$, 'set_standard_price without stock: new price, no layer');

-- ------------------------------------------------------------ negative stock (FIFO)
SELECT stock.receive(:pn, 10, 10, :wh, 'N-IN1', pg_temp.d(1)) AS n_in1 \gset
SELECT stock.deliver(:pn, 15, :wh, 'N-OUT', pg_temp.d(2)) AS n_out \gset
SELECT results_eq(format('SELECT m.value, l.remaining_qty, l.remaining_value FROM stock.move m JOIN stock.valuation_layer l ON l.move_id = m.id WHERE m.id = %s', :n_out),
                  $$VALUES (-150::numeric, -5::numeric, -50::numeric)$$,
                  'delivering 15 of 10: -150 (10 @ 10 and 5 estimated @ 10), 5 owed worth -50');
SELECT stock.receive(:pn, 10, 12, :wh, 'N-IN2', pg_temp.d(3)) AS n_in2 \gset
SELECT results_eq(format('SELECT quantity, value, parent_layer_id, move_id FROM stock.valuation_layer WHERE product_id = %s AND parent_layer_id IS NOT NULL', :pn),
                  format('VALUES (0::numeric, -10::numeric, (SELECT id FROM stock.valuation_layer WHERE move_id = %s), %s::bigint)', :n_out, :n_in2),
                  'the next receipt @ 12 writes a correction layer of 5 x (10 - 12) = -10 on the delivery''s layer');
SELECT results_eq(format('SELECT move_id, remaining_qty, remaining_value FROM stock.valuation_layer WHERE product_id = %s AND parent_layer_id IS NULL ORDER BY id', :pn),
                  format('VALUES (%s::bigint, 0::numeric, 0::numeric), (%s, 0, 0), (%s, 5, 60)', :n_in1, :n_out, :n_in2),
                  'the debt is settled: the delivery owes nothing, the receipt keeps 5 worth 60');
SELECT results_eq(format('SELECT v.qty, v.value, pv.qty, pv.value FROM stock.valuation(%s) v, stock.product_value pv WHERE pv.product_id = %s', :pn, :pn),
                  $$VALUES (5::numeric, 60::numeric, 5::numeric, 60::numeric)$$,
                  'negative stock settled: 5 units worth 60 (layers and running totals)');

-- ------------------------------------------------------------ back-dated valued move (#15; more in 55_backdate.sql)
SELECT stock.receive(:pn, 1, 10, :wh, 'N-LATE', pg_temp.d(2)) AS n_late \gset
SELECT results_eq(format('SELECT value, remaining_qty FROM stock.valuation_layer WHERE move_id = %s', :n_late),
                  $$VALUES (10::numeric, 0::numeric)$$,
                  'a receipt dated D2, after the delivery of D2, is valued 10 and settles 1 of the 5 owed');
SELECT results_eq(format('SELECT value, move_id, created_at FROM stock.valuation_layer WHERE product_id = %s AND parent_layer_id IS NOT NULL ORDER BY id', :pn),
                  format('VALUES (-10::numeric, %s::bigint, %L::timestamptz), (2, %s, %L)', :n_in2, pg_temp.d(3), :n_in2, pg_temp.d(3)),
                  'the D3 receipt now settles 4, not 5: a correction of +2 on its settlement, dated D3');
SELECT results_eq(format('SELECT v.qty, v.value, pv.qty, pv.value FROM stock.valuation(%s) v, stock.product_value pv WHERE pv.product_id = %s', :pn, :pn),
                  $$VALUES (6::numeric, 72::numeric, 6::numeric, 72::numeric)$$,
                  'the back-dated receipt: 6 units worth 72 (layers and running totals)');

-- ------------------------------------------------------------ journal
SELECT stock.receive(:pj, 10, 3, :wh) AS j_in \gset
SELECT stock.scrap(:pj, 2, :wh) AS j_scrap \gset
SELECT stock.adjust(:pj, :loc, 5) AS j_down \gset
SELECT stock.adjust(:pj, :loc, 7) AS j_up \gset
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :f_in1),
                  $$VALUES ('stock_input'::text, 0::numeric, 1020::numeric), ('stock_valuation', 1020, 0)$$,
                  'a receipt: debit stock valuation, credit stock input');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :f_out1),
                  $$VALUES ('stock_output'::text, 1423::numeric, 0::numeric), ('stock_valuation', 0, 1423)$$,
                  'a delivery: debit stock output, credit stock valuation');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :j_scrap),
                  $$VALUES ('inventory_loss'::text, 6::numeric, 0::numeric), ('stock_valuation', 0, 6)$$,
                  'a scrap of 2 @ 3: debit inventory loss, credit stock valuation');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :j_down),
                  $$VALUES ('inventory_loss'::text, 9::numeric, 0::numeric), ('stock_valuation', 0, 9)$$,
                  'a count 3 below stock: debit inventory loss, credit stock valuation');
SELECT results_eq(format('SELECT * FROM pg_temp.booked(%s)', :j_up),
                  $$VALUES ('inventory_loss'::text, 0::numeric, 6::numeric), ('stock_valuation', 6, 0)$$,
                  'a count 2 above stock (at the last cost 3): debit stock valuation, credit inventory loss');
SELECT is_empty(format('SELECT entry_id FROM stock.journal_line WHERE company_id = %s GROUP BY entry_id HAVING sum(debit) <> sum(credit)', :a),
                'every journal entry of A is balanced');
SELECT is((SELECT count(*)::int FROM stock.journal_entry e WHERE e.company_id = :a
            AND NOT EXISTS (SELECT 1 FROM stock.journal_line l WHERE l.company_id = e.company_id AND l.entry_id = e.id)), 0,
          'no journal entry of A is empty');
SELECT is((SELECT sum(l.debit - l.credit) FROM stock.journal_line l
             JOIN stock.account ac ON ac.company_id = l.company_id AND ac.id = l.account_id AND ac.kind = 'stock_valuation'
            WHERE l.company_id = :a),
          (SELECT sum((stock.valuation(p.id)).value) FROM stock.product p WHERE p.company_id = :a),
          'the stock valuation account of A holds the value of all its products');
SELECT is_empty(format('SELECT * FROM stock.verify_valuation() WHERE product_id IN (SELECT id FROM stock.product WHERE company_id = %s)', :a),
                'stock.verify_valuation finds quants, running totals, layers, move values and journal in agreement for A');

-- ------------------------------------------------------------ reports
SELECT results_eq(format('SELECT sku, qty, value, unit_cost FROM stock.valuation_report(%s)', :a),
                  $$VALUES ('VL50-AVCO'::text, 0::numeric, 0::numeric, NULL::numeric), ('VL50-AVR', 0, 0, NULL),
                           ('VL50-FIFO', 44, 726, 16.50), ('VL50-J', 7, 21, 3.00), ('VL50-NEG', 6, 72, 12.00),
                           ('VL50-STD', 3, 37.50, 12.50), ('VL50-STD0', 0, 0, NULL)$$,
                  'valuation_report: quantity, value and unit cost of every product of A, by SKU');
SELECT results_eq(format('SELECT sku, qty, value, unit_cost::text FROM stock.valuation_report(%s, %L)', :a, pg_temp.d(2)),
                  $$VALUES ('VL50-AVCO'::text, 20::numeric, 220::numeric, '11.00'::text), ('VL50-AVR', 2, 6.67, '3.34'),
                           ('VL50-FIFO', 208, 3190, '15.34'), ('VL50-J', 0, 0, NULL), ('VL50-NEG', -4, -40, '10.00'),
                           ('VL50-STD', 5, 50, '10.00'), ('VL50-STD0', 0, 0, NULL)$$,
                  'valuation_report at a past date, unit costs rounded to the price precision (6.67 / 2 = 3.34)');

-- ------------------------------------------------------------ permission to revalue
SELECT pg_temp.login('vl50_user', :a);
SELECT is(pg_temp.error_detail(format('SELECT stock.set_standard_price(%s, 8)', :ps0)),
          format('42501: Permission "stock.valuation:revalue" is required on company %s.', :a),
          'a stock_user cannot change a standard price (stock.valuation:revalue)');
SELECT pg_temp.login('vl50_mgr', :a);
SELECT lives_ok(format('SELECT stock.set_standard_price(%s, 8)', :ps0), 'a stock_manager can');
SELECT erp.sign_out();
SELECT is((SELECT standard_price FROM stock.product WHERE id = :ps0), 8::numeric, 'the manager''s new price is stored');

-- ------------------------------------------------------------ balanced entries are enforced
SELECT min(id) AS entry FROM stock.journal_entry WHERE company_id = :a \gset
SELECT id AS acc_val FROM stock.account WHERE company_id = :a AND kind = 'stock_valuation' \gset
SELECT id AS acc_in FROM stock.account WHERE company_id = :a AND kind = 'stock_input' \gset
SELECT is(pg_temp.deferred_outcome(format('INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit) VALUES (%s, %s, %s, 1)',
                                          :a, :entry, :acc_val)),
          'statement ok, check 23514', 'an unbalanced line is accepted by its statement and refused when constraints are checked');
SELECT is(pg_temp.deferred_outcome(format('INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit) VALUES (%s, %s, %s, 1, 0), (%s, %s, %s, 0, 1)',
                                          :a, :entry, :acc_val, :a, :entry, :acc_in)),
          'statement ok, check ok', 'a balanced pair of lines passes the check');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT throws_ok(format('INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit) VALUES (%s, %s, %s, 1)', :a, :entry, :acc_val),
                 '23514', format('journal entry %s is not balanced', :entry),
                 'with constraints immediate, one unbalanced line is refused (23514)');
SELECT is((SELECT count(*) FROM stock.journal_line WHERE company_id = :a AND entry_id = :entry), 2::bigint,
          'the entry keeps its two lines');

SELECT * FROM finish();
ROLLBACK;
