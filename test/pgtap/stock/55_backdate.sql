-- back-dated valued moves (#15): the history is replayed in date order, later moves get
-- correction layers and entries at their dates; the worked examples of docs/valuation.md.
BEGIN;
\ir ../setup.sql
SELECT plan(51);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'BD55') AS wh \gset
SELECT stock.create_warehouse(:b, 'BD55-B') AS whb \gset
SELECT stock.set_allow_negative(:b, false);

-- day D-n (relative to today; before the transaction began, so back-dated)
CREATE FUNCTION pg_temp.d(n int) RETURNS timestamptz LANGUAGE sql STABLE AS
    $$ SELECT date_trunc('day', now()) - n * interval '1 day' $$;

-- what the stock valuation account holds for a product, up to a date (entries by their date)
CREATE FUNCTION pg_temp.ledger(p_product bigint, p_at timestamptz DEFAULT NULL) RETURNS numeric LANGUAGE sql AS $$
    SELECT coalesce(sum(jl.debit - jl.credit), 0)
      FROM stock.journal_line jl
      JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id AND a.kind = 'stock_valuation'
      JOIN stock.journal_entry je ON je.company_id = jl.company_id AND je.id = jl.entry_id
      JOIN stock.valuation_layer l ON l.company_id = je.company_id AND l.id = je.layer_id
     WHERE l.product_id = p_product AND (p_at IS NULL OR je.date <= p_at)
$$;

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

-- the state of a product: on hand, value, and its valuation at dates, as text
CREATE FUNCTION pg_temp.at(p_product bigint, p_at timestamptz DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT format('%s worth %s', trim_scale(v.qty), trim_scale(v.value)) FROM stock.valuation(p_product, p_at) v
$$;

-- ------------------------------------------------------------ FIFO, back-dated receipt
SELECT stock.create_product(:a, 'BD-FIFO', 'Fifo late receipt') AS pf \gset
SELECT stock.receive(:pf, 10, 10, :wh, 'F-IN10', pg_temp.d(10)) AS f_in10 \gset
SELECT stock.deliver(:pf, 5, :wh, 'F-OUT5', pg_temp.d(5)) AS f_out5 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :f_out5), -50::numeric, 'FIFO: the delivery is first valued -50');
SELECT stock.receive(:pf, 10, 20, :wh, 'F-IN12', pg_temp.d(12)) AS f_in12 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :f_in12), 200::numeric, 'FIFO: the back-dated receipt is valued 200');
SELECT is((SELECT value FROM stock.move WHERE id = :f_out5), -100::numeric,
          'FIFO: the delivery now consumes the older layer: -100');
SELECT results_eq(format($$SELECT value, created_at, description LIKE 'Correction (back-dated move %s): %%' FROM stock.valuation_layer
                            WHERE move_id = %s ORDER BY id$$, :f_in12, :f_out5),
                  format($$VALUES (-50::numeric, %L::timestamptz, false), (-50, %L, true)$$, pg_temp.d(5), pg_temp.d(5)),
                  'FIFO: the posted layer stays; a correction layer of -50 dated D-5 names the back-dated move');
SELECT results_eq(format($$SELECT je.date, a.kind, jl.debit, jl.credit FROM stock.journal_entry je
                             JOIN stock.journal_line jl ON jl.company_id = je.company_id AND jl.entry_id = je.id
                             JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id
                            WHERE je.move_id = %s ORDER BY je.id, a.kind$$, :f_out5),
                  format($$VALUES (%L::timestamptz, 'stock_output'::text, 50::numeric, 0::numeric), (%L, 'stock_valuation', 0, 50),
                                  (%L, 'stock_output', 50, 0), (%L, 'stock_valuation', 0, 50)$$,
                         pg_temp.d(5), pg_temp.d(5), pg_temp.d(5), pg_temp.d(5)),
                  'FIFO: the posted entry is untouched; a balanced correction entry of 50 dated D-5');
SELECT is(ARRAY[pg_temp.at(:pf), pg_temp.at(:pf, pg_temp.d(7)), pg_temp.at(:pf, pg_temp.d(11))],
          ARRAY['15 worth 200', '20 worth 300', '10 worth 200'],
          'FIFO: on hand 15 worth 200; at D-7 20 worth 300; at D-11 10 worth 200');
SELECT results_eq(format('SELECT move_id, remaining_qty, remaining_value FROM stock.valuation_layer WHERE product_id = %s AND remaining_qty <> 0 ORDER BY created_at', :pf),
                  format('VALUES (%s::bigint, 5::numeric, 100::numeric), (%s, 10, 100)', :f_in12, :f_in10),
                  'FIFO: open layers recomputed in place: 5 @ 20 left of D-12, 10 @ 10 of D-10');
SELECT stock.deliver(:pf, 7, :wh, 'F-OUT7') AS f_out7 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :f_out7), -120::numeric,
          'FIFO: a current delivery then consumes in date order: 5 @ 20 + 2 @ 10 = -120');

-- ------------------------------------------------------------ AVCO, back-dated receipt
SELECT stock.create_product(:a, 'BD-AVCO', 'Average late receipt', 'avco') AS pa \gset
SELECT stock.receive(:pa, 10, 10, :wh, 'A-IN10', pg_temp.d(10)) AS a_in10 \gset
SELECT stock.deliver(:pa, 5, :wh, 'A-OUT5', pg_temp.d(5)) AS a_out5 \gset
SELECT stock.receive(:pa, 10, 40, :wh, 'A-IN7', pg_temp.d(7)) AS a_in7 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :a_out5), -125::numeric, 'AVCO: the delivery becomes -125');
SELECT is(ARRAY[pg_temp.at(:pa), pg_temp.at(:pa, pg_temp.d(6))], ARRAY['15 worth 375', '20 worth 500'],
          'AVCO: on hand 15 worth 375; at D-6 20 worth 500');
SELECT results_eq(format('SELECT qty, value, last_unit_cost FROM stock.product_value WHERE product_id = %s', :pa),
                  $$VALUES (15::numeric, 375::numeric, 25::numeric)$$, 'AVCO: running totals 15 / 375, average 25');

-- ------------------------------------------------------------ FIFO, back-dated delivery
SELECT stock.create_product(:a, 'BD-FOUT', 'Fifo late delivery') AS pd \gset
SELECT stock.receive(:pd, 10, 10, :wh, 'D-IN10', pg_temp.d(10)) AS d_in10 \gset
SELECT stock.receive(:pd, 10, 20, :wh, 'D-IN8', pg_temp.d(8)) AS d_in8 \gset
SELECT stock.deliver(:pd, 10, :wh, 'D-OUT2', pg_temp.d(2)) AS d_out2 \gset
SELECT stock.deliver(:pd, 5, :wh, 'D-OUT4', pg_temp.d(4)) AS d_out4 \gset
SELECT is(ARRAY[(SELECT value FROM stock.move WHERE id = :d_out4), (SELECT value FROM stock.move WHERE id = :d_out2)],
          ARRAY[-50, -150]::numeric[], 'FIFO delivery: the back-dated one is -50, the D-2 delivery becomes -150');
SELECT is((SELECT value FROM stock.valuation_layer WHERE move_id = :d_out2 AND description LIKE 'Correction%'), -50::numeric,
          'FIFO delivery: through a correction of -50');
SELECT is(pg_temp.at(:pd), '5 worth 100', 'FIFO delivery: on hand 5 worth 100');

-- ------------------------------------------------------------ negative stock off (company B)
SELECT stock.create_product(:b, 'BD-NEG', 'No negative stock') AS pn \gset
SELECT stock.receive(:pn, 10, 10, :whb, 'N-IN10', pg_temp.d(10)) AS n_in10 \gset
SELECT stock.deliver(:pn, 10, :whb, 'N-OUT10', pg_temp.d(5)) AS n_out10 \gset
SELECT (SELECT count(*) FROM stock.move) AS moves_before, (SELECT count(*) FROM stock.valuation_layer) AS layers_before,
       (SELECT count(*) FROM stock.journal_entry) AS entries_before \gset
SELECT throws_ok(format('SELECT stock.deliver(%s, 1, %s, NULL, %L)', :pn, :whb, pg_temp.d(7)), '23514', NULL,
                 'negative stock off: a delivery of 1 dated D-7 is refused (23514)');
SELECT is(ARRAY[(SELECT count(*) FROM stock.move), (SELECT count(*) FROM stock.valuation_layer), (SELECT count(*) FROM stock.journal_entry)],
          ARRAY[:moves_before, :layers_before, :entries_before]::bigint[], 'negative stock off: no move, layer or entry is written');
-- with stock today, the refusal comes from the replay: it names the product and the date
SELECT stock.receive(:pn, 5, 10, :whb, 'N-IN1', pg_temp.d(1)) AS n_in1 \gset
SELECT is(regexp_replace(pg_temp.error_message(format('SELECT stock.deliver(%s, 1, %s, NULL, %L)', :pn, :whb, pg_temp.d(7))),
                         'move \d+', 'move N'),
          format('23514: back-dated move N would make the stock of product BD-NEG negative on %s', pg_temp.d(5)),
          'negative stock off: refused with 5 on hand today, naming the product and D-5, the first date it would go negative');
SELECT is(pg_temp.at(:pn), '5 worth 50', 'negative stock off: the stock is as before');
SELECT throws_ok(format('SELECT stock.deliver(%s, 1, %s, NULL, %L)', :pn, :whb, pg_temp.d(3)), '23514', NULL,
                 'negative stock off: a delivery of 1 dated D-3, while the stock was 0, is refused too');
SELECT stock.deliver(:pn, 1, :whb, 'N-OUT0', pg_temp.d(0)) AS n_out0 \gset
SELECT stock.deliver(:pn, 1, :whb, 'N-OUT1', pg_temp.d(1)) AS n_out1 \gset
SELECT is(ARRAY[(SELECT value FROM stock.move WHERE id = :n_out1), (SELECT value FROM stock.move WHERE id = :n_out0)],
          ARRAY[-10, -10]::numeric[], 'negative stock off: a back-dated delivery dated D-1, after the receipt of D-1, is accepted');

-- ------------------------------------------------------------ a back-dated move before a standard price change
SELECT stock.create_product(:a, 'BD-STD', 'Standard late receipt', 'standard', 10) AS ps \gset
SELECT stock.receive(:ps, 10, 10, :wh, 'S-IN10', pg_temp.d(10)) AS s_in10 \gset
SELECT stock.set_standard_price(:ps, 12);
SELECT stock.receive(:ps, 5, 11, :wh, 'S-IN5', pg_temp.d(5)) AS s_in5 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :s_in5), 50::numeric,
          'standard: a receipt dated before the price change is valued at the price of its date: 5 x 10');
SELECT results_eq(format('SELECT kind, debit, credit FROM pg_temp.booked(%s)', :s_in5),
                  $$VALUES ('price_difference'::text, 5::numeric, 0::numeric), ('stock_input', 0, 55), ('stock_valuation', 50, 0)$$,
                  'standard: its purchase price difference of 5 x (11 - 10) is booked');
SELECT results_eq(format($$SELECT value, description LIKE 'Correction (back-dated move %s): Product value manually modified (from 10.00 to 12.00)'
                            FROM stock.valuation_layer WHERE product_id = %s AND move_id IS NULL ORDER BY id$$, :s_in5, :ps),
                  $$VALUES (20::numeric, false), (10, true)$$,
                  'standard: the price change now revalues 15 units: a correction of 5 x 2 = 10 at its date');
SELECT is(ARRAY[pg_temp.at(:ps), pg_temp.at(:ps, pg_temp.d(1))], ARRAY['15 worth 180', '15 worth 150'],
          'standard: on hand 15 worth 180 (at 12); yesterday 15 worth 150 (at 10)');
SELECT is((SELECT price FROM stock.standard_price_history WHERE product_id = :ps ORDER BY valid_from LIMIT 1), 10::numeric,
          'standard: the price history holds 10 from -infinity');
SELECT is(stock._standard_price_at(:a, :ps, pg_temp.d(3)), 10::numeric, 'standard: _standard_price_at a past date: 10');

-- ------------------------------------------------------------ landed cost inside the replayed range (FIFO)
-- (re-split at its date: test/pgtap/stock/56_backdate_landed.sql has the entries)
SELECT stock.create_product(:a, 'BD-LAND', 'Landed late delivery') AS pl \gset
SELECT stock.receive(:pl, 10, 10, :wh, 'L-IN10', pg_temp.d(10)) AS l_in10 \gset
SELECT stock.apply_landed_cost(ARRAY[:l_in10]::bigint[], 20) AS lc \gset
SELECT stock.deliver(:pl, 4, :wh, 'L-OUT4', pg_temp.d(5)) AS l_out4 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :l_out4), -40::numeric,
          'landed cost: a delivery dated before it goes out at the cost of its date: -40');
SELECT results_eq(format('SELECT remaining_qty, remaining_value FROM stock.valuation_layer WHERE move_id = %s AND parent_layer_id IS NULL', :l_in10),
                  $$VALUES (6::numeric, 72::numeric)$$,
                  'landed cost: re-split at its date, the receipt keeps 6 units worth 60 + 12 capitalised (8 expensed)');
SELECT is(pg_temp.at(:pl), '6 worth 72', 'landed cost: on hand 6 worth 72');
SELECT stock.deliver(:pl, 6, :wh, 'L-OUT6') AS l_out6 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :l_out6), -72::numeric, 'landed cost: the rest goes out with it: -72');

-- ------------------------------------------------------------ revaluation inside the replayed range (AVCO)
SELECT stock.create_product(:a, 'BD-REV', 'Revalued late delivery', 'avco') AS pr \gset
SELECT stock.receive(:pr, 10, 10, :wh, 'R-IN10', pg_temp.d(10)) AS r_in10 \gset
SELECT stock.revalue(:pr, 50, 'R-REV');
SELECT stock.deliver(:pr, 2, :wh, 'R-OUT2', pg_temp.d(5)) AS r_out2 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :r_out2), -20::numeric,
          'revaluation: a delivery dated before it goes out at the average of its date: -20');
SELECT results_eq(format('SELECT qty, value, last_unit_cost FROM stock.product_value WHERE product_id = %s', :pr),
                  $$VALUES (8::numeric, 130::numeric, 16.25::numeric)$$,
                  'revaluation: the 50 is added to the 8 left: 130, average 16.25');
SELECT is(ARRAY[pg_temp.at(:pr), pg_temp.at(:pr, pg_temp.d(1))], ARRAY['8 worth 130', '8 worth 80'],
          'revaluation: on hand 8 worth 130; yesterday 8 worth 80');

-- ------------------------------------------------------------ cost-method changes inside the replayed range
SELECT stock.create_product(:a, 'BD-METH', 'Method changed', 'fifo') AS pm \gset
SELECT stock.receive(:pm, 10, 10, :wh, 'M-IN10', pg_temp.d(10)) AS m_in10 \gset
SELECT stock.receive(:pm, 10, 20, :wh, 'M-IN20', pg_temp.d(8)) AS m_in20 \gset
SELECT stock.set_cost_method(:pm, 'avco');
SELECT stock.deliver(:pm, 5, :wh, 'M-OUT5', pg_temp.d(5)) AS m_out5 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :m_out5), -50::numeric,
          'method change: a delivery dated before it is valued by the method of its date (FIFO): -50');
SELECT results_eq(format($$SELECT sum(quantity) FILTER (WHERE description LIKE '%%stock out'), sum(value) FILTER (WHERE description LIKE '%%stock out'),
                                  sum(quantity) FILTER (WHERE description LIKE '%%stock in'), sum(value) FILTER (WHERE description LIKE '%%stock in')
                             FROM stock.valuation_layer WHERE product_id = %s AND move_id IS NULL$$, :pm),
                  $$VALUES (-15::numeric, -250::numeric, 15::numeric, 250::numeric)$$,
                  'method change: its stock out and in now carry 15 worth 250 (corrections of 5 / 50)');
SELECT stock.deliver(:pm, 3, :wh, 'M-OUT3') AS m_out3 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :m_out3), -50::numeric, 'method change: then AVCO: 3 of 15 worth 250 = -50');
SELECT stock.create_product(:a, 'BD-TOSTD', 'Method changed to standard', 'fifo', 12) AS pt \gset
SELECT stock.receive(:pt, 10, 10, :wh, 'T-IN10', pg_temp.d(10)) AS t_in10 \gset
SELECT stock.set_cost_method(:pt, 'standard');
SELECT stock.receive(:pt, 5, 10, :wh, 'T-IN5', pg_temp.d(5)) AS t_in5 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :t_in5), 50::numeric, 'to standard: a receipt dated before the change is FIFO: 50');
SELECT is(pg_temp.at(:pt), '15 worth 180', 'to standard: the change now takes 15 worth 150 out and puts them back at 12: 180');
SELECT is((SELECT sum(jl.credit) FROM stock.journal_line jl JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id
            JOIN stock.journal_entry je ON je.company_id = jl.company_id AND je.id = jl.entry_id
            JOIN stock.valuation_layer l ON l.company_id = je.company_id AND l.id = je.layer_id
           WHERE a.kind = 'price_difference' AND l.product_id = :pt), 30::numeric,
          'to standard: the price difference now holds 30 (20 posted, 10 corrected)');
SELECT stock.create_product(:a, 'BD-EMPTY', 'Method changed while empty', 'fifo') AS pe \gset
SELECT stock.set_cost_method(:pe, 'avco');
SELECT stock.receive(:pe, 10, 10, :wh, 'E-IN10', pg_temp.d(10)) AS e_in10 \gset
SELECT results_eq(format($$SELECT quantity, value, remaining_qty, remaining_value FROM stock.valuation_layer
                             WHERE product_id = %s AND move_id IS NULL ORDER BY id$$, :pe),
                  $$VALUES (-10::numeric, -100::numeric, 0::numeric, 0::numeric), (10, 100, 10, 100)$$,
                  'a method change made while empty, with a receipt dated before it: its stock out and in are written then');
SELECT stock.deliver(:pe, 4, :wh, 'E-OUT4') AS e_out4 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :e_out4), -40::numeric, 'and the stock in is consumed as any layer: -40');

-- ------------------------------------------------------------ a return inside the replayed range
SELECT stock.create_product(:a, 'BD-RET', 'Returned delivery') AS pt2 \gset
SELECT stock.receive(:pt2, 10, 10, :wh, 'T2-IN10', pg_temp.d(10)) AS t2_in10 \gset
SELECT stock.deliver(:pt2, 4, :wh, 'T2-OUT4', pg_temp.d(5)) AS t2_out4 \gset
SELECT stock.return_move(:t2_out4, 1) AS t2_ret \gset
SELECT stock.receive(:pt2, 10, 20, :wh, 'T2-IN12', pg_temp.d(12)) AS t2_in12 \gset
SELECT is(ARRAY[(SELECT value FROM stock.move WHERE id = :t2_out4), (SELECT value FROM stock.move WHERE id = :t2_ret)],
          ARRAY[-80, 20]::numeric[],
          'return: the delivery becomes 4 x 20 = -80, and its return comes back at the replayed cost: 20 (correction +10)');
SELECT is(pg_temp.at(:pt2), '17 worth 240', 'return: on hand 17 worth 240 (6 @ 20 + 10 @ 10 + the 1 returned @ 20)');

-- ------------------------------------------------------------ ledger, balance, verify
SELECT is(ARRAY[pg_temp.ledger(:pf), pg_temp.ledger(:pf, pg_temp.d(7)), pg_temp.ledger(:pf, pg_temp.d(11))],
          ARRAY[(stock.valuation(:pf)).value, (stock.valuation(:pf, pg_temp.d(7))).value, (stock.valuation(:pf, pg_temp.d(11))).value],
          'FIFO: the ledger at each date equals the valuation at that date');
SELECT is((SELECT array_agg(pg_temp.ledger(x.p, pg_temp.d(y.n)) ORDER BY x.p, y.n) FROM unnest(ARRAY[:pa, :pd, :ps, :pl, :pr, :pm, :pt, :pe, :pt2]) x(p), generate_series(0, 12) y(n)),
          (SELECT array_agg((stock.valuation(x.p, pg_temp.d(y.n))).value ORDER BY x.p, y.n) FROM unnest(ARRAY[:pa, :pd, :ps, :pl, :pr, :pm, :pt, :pe, :pt2]) x(p), generate_series(0, 12) y(n)),
          'every product: the ledger equals the valuation at every day from D-12 to today');
SELECT is((SELECT array_agg(r.value ORDER BY r.sku) FROM stock.valuation_report(:a, pg_temp.d(6)) r WHERE r.sku LIKE 'BD-%'),
          (SELECT array_agg(pg_temp.ledger(p.id, pg_temp.d(6)) ORDER BY p.sku) FROM stock.product p WHERE p.company_id = :a AND p.sku LIKE 'BD-%'),
          'the valuation report at D-6 equals the ledger at D-6');
SELECT is((SELECT sum(debit) - sum(credit) FROM stock.journal_line WHERE company_id IN (:a, :b)), 0::numeric, 'debits equal credits');
SELECT is((SELECT count(*) FROM stock.journal_entry e WHERE e.company_id IN (:a, :b)
            AND (SELECT sum(debit) - sum(credit) FROM stock.journal_line l WHERE l.company_id = e.company_id AND l.entry_id = e.id) <> 0),
          0::bigint, 'every entry is balanced');
SELECT is_empty(format('SELECT * FROM stock.verify_valuation() WHERE product_id IN (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)', :pf, :pa, :pd, :pn, :ps, :pl, :pr, :pm, :pt, :pe, :pt2),
                'verify_valuation finds nothing after the back-dated postings');
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'the deferred balance check passes');

-- verify_valuation replays each product: values moved from one receipt to another by hand keep
-- every total (layers, moves, running totals, journal) but not the replay
UPDATE stock.valuation_layer SET value = value - 10 WHERE move_id = :d_in10;
UPDATE stock.move SET value = value - 10 WHERE id = :d_in10;
UPDATE stock.valuation_layer SET value = value + 10 WHERE move_id = :d_in8;
UPDATE stock.move SET value = value + 10 WHERE id = :d_in8;
SELECT results_eq(format('SELECT problem FROM stock.verify_valuation(%s)', :pd),
                  format($$VALUES ('move %s is valued 90.00 but a replay in date order gives 100.00'::text),
                                  ('move %s is valued 210.00 but a replay in date order gives 200.00')$$, :d_in10, :d_in8),
                  'verify_valuation reports each move whose stored value differs from a replay in date order');

SELECT * FROM finish();
ROLLBACK;
