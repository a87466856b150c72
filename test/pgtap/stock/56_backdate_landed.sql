-- back-dated moves re-split landed costs (#15, docs/valuation.md "Landed cost"): at the landed
-- cost's date, the part of each receipt's share on what the receipt still holds is capitalised,
-- the rest expensed, as stock.apply_landed_cost() splits it when posting in date order; the
-- difference is a correction layer under the receipt's layer and a balanced entry (stock
-- valuation / landed cost expense) dated at the landed cost's date. Posted rows stay.
BEGIN;
\ir ../setup.sql
SELECT plan(27);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'LC56') AS wh \gset

-- day D-n (relative to today; before the transaction began, so back-dated)
CREATE FUNCTION pg_temp.d(n int) RETURNS timestamptz LANGUAGE sql STABLE AS
    $$ SELECT date_trunc('day', now()) - n * interval '1 day' $$;

-- the state of a product: on hand and value, as text
CREATE FUNCTION pg_temp.at(p_product bigint, p_at timestamptz DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT format('%s worth %s', trim_scale(v.qty), trim_scale(v.value)) FROM stock.valuation(p_product, p_at) v
$$;

-- what an account kind holds for a product's entries (by move or by layer), debit - credit
CREATE FUNCTION pg_temp.account(p_product bigint, p_kind text) RETURNS numeric LANGUAGE sql AS $$
    SELECT coalesce(sum(jl.debit - jl.credit), 0)
      FROM stock.journal_entry je
      LEFT JOIN stock.move mv ON mv.company_id = je.company_id AND mv.id = je.move_id
      LEFT JOIN stock.valuation_layer l ON l.company_id = je.company_id AND l.id = je.layer_id
      JOIN stock.journal_line jl ON jl.company_id = je.company_id AND jl.entry_id = je.id
      JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id AND a.kind = p_kind
     WHERE coalesce(mv.product_id, l.product_id) = p_product
$$;

-- the landed cost layers under a receipt's layer: value, date, description
CREATE FUNCTION pg_temp.landed_layers(p_move bigint) RETURNS TABLE (value numeric, created_at timestamptz, description text)
LANGUAGE sql AS $$
    SELECT l.value, l.created_at, l.description FROM stock.valuation_layer l
     WHERE l.move_id = p_move AND l.parent_layer_id IS NOT NULL ORDER BY l.id
$$;

-- ------------------------------------------------------------ FIFO: a delivery dated before it
-- D-10 receive 10 @ 10; a landed cost of 20 today: all in stock, capitalised 20.
SELECT stock.create_product(:a, 'LC-FIFO', 'Landed, late delivery') AS pf \gset
SELECT stock.receive(:pf, 10, 10, :wh, 'F-IN10', pg_temp.d(10)) AS f_in10 \gset
SELECT stock.apply_landed_cost(ARRAY[:f_in10]::bigint[], 20, 'by_quantity', 'LC-F') AS lcf \gset
SELECT (SELECT created_at FROM stock.landed_cost_line WHERE landed_cost_id = :lcf) AS lcf_at \gset
SELECT results_eq(format('SELECT move_id, share, capitalised FROM stock.landed_cost_line WHERE landed_cost_id = %s', :lcf),
                  format('VALUES (%s::bigint, 20::numeric, 20::numeric)', :f_in10),
                  'a landed cost records its share per receipt and the part capitalised');
-- then deliver 4 dated D-5: at the landed cost's date the receipt holds 6 of 10, so 12 of the 20 are
-- capitalised and 8 expensed: a correction of -8 at the landed cost's date
SELECT stock.deliver(:pf, 4, :wh, 'F-OUT4', pg_temp.d(5)) AS f_out4 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :f_out4), -40::numeric, 'FIFO: the back-dated delivery is valued -40');
SELECT results_eq(format('SELECT * FROM pg_temp.landed_layers(%s)', :f_in10),
                  format($$VALUES (20::numeric, %L::timestamptz, 'Landed cost LC-F'::text),
                                  (-8, %L, 'Correction (back-dated move %s): Landed cost LC-F')$$, :'lcf_at', :'lcf_at', :f_out4),
                  'FIFO: the capitalised layer stays; a correction of -8 under the receipt, dated at the landed cost');
SELECT results_eq(format($$SELECT je.date, je.ref, a.kind, jl.debit, jl.credit FROM stock.journal_entry je
                             JOIN stock.journal_line jl ON jl.company_id = je.company_id AND jl.entry_id = je.id
                             JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id
                             JOIN stock.valuation_layer l ON l.company_id = je.company_id AND l.id = je.layer_id
                            WHERE l.move_id = %s AND l.description LIKE 'Correction%%' ORDER BY a.kind$$, :f_in10),
                  format($$VALUES (%L::timestamptz, 'Correction (back-dated move %s)'::text, 'landed_cost_expense'::text, 8::numeric, 0::numeric),
                                  (%L, 'Correction (back-dated move %s)', 'stock_valuation', 0, 8)$$, :'lcf_at', :f_out4, :'lcf_at', :f_out4),
                  'FIFO: a balanced correction entry moves 8 from stock valuation to landed cost expense at its date');
SELECT results_eq(format('SELECT remaining_qty, remaining_value FROM stock.valuation_layer WHERE move_id = %s AND parent_layer_id IS NULL', :f_in10),
                  $$VALUES (6::numeric, 72::numeric)$$, 'FIFO: the receipt keeps 6 worth 60 + 12');
SELECT is(ARRAY[pg_temp.account(:pf, 'landed_cost_expense'), pg_temp.account(:pf, 'stock_input')], ARRAY[8, -120]::numeric[],
          'FIFO: landed cost expense 8, stock input still credited the 100 + 20');
SELECT results_eq(format('SELECT capitalised, expensed FROM stock.landed_cost WHERE id = %s', :lcf), $$VALUES (12::numeric, 8::numeric)$$,
                  'FIFO: stock.landed_cost now records 12 capitalised, 8 expensed');
SELECT is((SELECT capitalised FROM stock.landed_cost_line WHERE landed_cost_id = :lcf), 12::numeric, 'FIFO: and so does its line');
SELECT is(pg_temp.at(:pf), '6 worth 72', 'FIFO: on hand 6 worth 72');
-- a receipt dated D-12 (10 @ 10): the delivery takes it instead, the receipt of D-10 is whole again at
-- the landed cost's date, the 20 is capitalised again: a second correction of +8
SELECT stock.receive(:pf, 10, 10, :wh, 'F-IN12', pg_temp.d(12)) AS f_in12 \gset
SELECT is((SELECT sum(value) FROM pg_temp.landed_layers(:f_in10)), 20::numeric,
          'FIFO: a back-dated receipt that the delivery consumes instead: 20 capitalised again (+8)');
SELECT is(ARRAY[pg_temp.at(:pf), trim_scale(pg_temp.account(:pf, 'landed_cost_expense'))::text], ARRAY['16 worth 180', '0'],
          'FIFO: on hand 16 worth 180 (6 left of D-12 @ 10, and D-10 10 worth 100 + 20), nothing expensed');
SELECT results_eq(format('SELECT capitalised, expensed FROM stock.landed_cost WHERE id = %s', :lcf), $$VALUES (20::numeric, 0::numeric)$$,
                  'FIFO: stock.landed_cost records 20 capitalised again');

-- ------------------------------------------------------------ FIFO: expensed in full, then capitalised
-- D-10 receive 10 @ 10, D-5 deliver 10: a landed cost of 20 today is expensed in full (no layer). A
-- receipt of 10 @ 12 dated D-12: the delivery takes it, the receipt of D-10 is whole at the landed
-- cost's date: the 20 is capitalised, through a layer and an entry at its date.
SELECT stock.create_product(:a, 'LC-EXP', 'Landed after delivery') AS pe \gset
SELECT stock.receive(:pe, 10, 10, :wh, 'E-IN10', pg_temp.d(10)) AS e_in10 \gset
SELECT stock.deliver(:pe, 10, :wh, 'E-OUT10', pg_temp.d(5)) AS e_out10 \gset
SELECT stock.apply_landed_cost(ARRAY[:e_in10]::bigint[], 20, 'by_quantity', 'LC-E') AS lce \gset
SELECT is(ARRAY[(SELECT count(*) FROM pg_temp.landed_layers(:e_in10))::numeric, pg_temp.account(:pe, 'landed_cost_expense')], ARRAY[0, 20]::numeric[],
          'expensed: posted after the delivery, the landed cost is expensed in full, without a layer');
SELECT stock.receive(:pe, 10, 12, :wh, 'E-IN12', pg_temp.d(12)) AS e_in12 \gset
SELECT is((SELECT value FROM stock.move WHERE id = :e_out10), -120::numeric, 'expensed: the delivery now takes the older receipt: -120');
SELECT results_eq(format('SELECT value, description FROM pg_temp.landed_layers(%s)', :e_in10),
                  format($$VALUES (20::numeric, 'Correction (back-dated move %s): Landed cost LC-E'::text)$$, :e_in12),
                  'expensed: the 20 is capitalised on the receipt of D-10 by a correction layer');
SELECT is(ARRAY[pg_temp.account(:pe, 'landed_cost_expense'), pg_temp.account(:pe, 'stock_valuation')], ARRAY[0, 120]::numeric[],
          'expensed: the expense is reversed; the stock valuation account holds 120');
SELECT is(pg_temp.at(:pe), '10 worth 120', 'expensed: on hand 10 worth 120 (100 + 20)');
SELECT stock.deliver(:pe, 10, :wh, 'E-OUT-NOW') AS e_now \gset
SELECT is((SELECT value FROM stock.move WHERE id = :e_now), -120::numeric, 'expensed: the next delivery carries the landed cost: -120');

-- ------------------------------------------------------------ AVCO, two receipts, split by quantity
-- D-10 receive 10 @ 10, D-8 receive 20 @ 10; 30 of freight by quantity: shares 10 and 20, all in stock.
-- A delivery of 5 dated D-9 takes 5 of the first receipt: as posted in date order, the first now
-- capitalises 5 and expenses 5, the second keeps its 20 (docs/valuation.md, "Landed costs").
SELECT stock.create_product(:a, 'LC-AVCO', 'Landed over two receipts', 'avco') AS pa \gset
SELECT stock.receive(:pa, 10, 10, :wh, 'A-IN10', pg_temp.d(10)) AS a_in10 \gset
SELECT stock.receive(:pa, 20, 10, :wh, 'A-IN20', pg_temp.d(8)) AS a_in20 \gset
SELECT stock.apply_landed_cost(ARRAY[:a_in10, :a_in20]::bigint[], 30, 'by_quantity', 'LC-A') AS lca \gset
SELECT stock.deliver(:pa, 5, :wh, 'A-OUT5', pg_temp.d(9)) AS a_out5 \gset
SELECT (SELECT created_at FROM stock.landed_cost_line WHERE landed_cost_id = :lca LIMIT 1) AS lca_at \gset
SELECT is((SELECT value FROM stock.move WHERE id = :a_out5), -50::numeric, 'AVCO: the back-dated delivery goes out at the average of D-9: -50');
SELECT results_eq(format('SELECT move_id, share, capitalised FROM stock.landed_cost_line WHERE landed_cost_id = %s ORDER BY move_id', :lca),
                  format('VALUES (%s::bigint, 10::numeric, 5::numeric), (%s, 20, 20)', :a_in10, :a_in20),
                  'AVCO: the first receipt''s share is re-split 5 / 5, the second stays capitalised');
SELECT is(ARRAY[pg_temp.account(:pa, 'landed_cost_expense'), (SELECT expensed FROM stock.landed_cost WHERE id = :lca)], ARRAY[5, 5]::numeric[],
          'AVCO: 5 expensed, in the ledger and in stock.landed_cost');
SELECT results_eq(format('SELECT qty, value, last_unit_cost FROM stock.product_value WHERE product_id = %s', :pa),
                  $$VALUES (25::numeric, 275::numeric, 11::numeric)$$, 'AVCO: 25 on hand worth 250 + 25, average 11');

-- ------------------------------------------------------------ standard cost: nothing capitalised, no correction
SELECT stock.create_product(:a, 'LC-STD', 'Landed at standard', 'standard', 10) AS ps \gset
SELECT stock.receive(:ps, 10, 10, :wh, 'S-IN10', pg_temp.d(10)) AS s_in10 \gset
SELECT stock.apply_landed_cost(ARRAY[:s_in10]::bigint[], 20, 'by_quantity', 'LC-S') AS lcs \gset
SELECT stock.deliver(:ps, 4, :wh, 'S-OUT4', pg_temp.d(5)) AS s_out4 \gset
SELECT is(ARRAY[(SELECT count(*) FROM pg_temp.landed_layers(:s_in10))::numeric, pg_temp.account(:ps, 'landed_cost_expense')], ARRAY[0, 20]::numeric[],
          'standard: the landed cost stays expensed in full, no correction');

-- ------------------------------------------------------------ consistency
SELECT is_empty(format('SELECT * FROM stock.verify_valuation() WHERE product_id IN (%s, %s, %s, %s)', :pf, :pe, :pa, :ps),
                'verify_valuation finds nothing after the re-splits');
SELECT is((SELECT count(*) FROM stock.journal_entry e WHERE e.company_id = :a
            AND (SELECT sum(debit) - sum(credit) FROM stock.journal_line l WHERE l.company_id = e.company_id AND l.entry_id = e.id) <> 0),
          0::bigint, 'every entry is balanced');
-- verify_valuation replays the split: a line that records another capitalised part is reported,
-- and so is the disagreement between its layers and the line
UPDATE stock.landed_cost_line SET capitalised = capitalised + 1 WHERE landed_cost_id = :lca AND move_id = :a_in10;
SELECT results_eq(format($$SELECT problem FROM stock.verify_valuation(%s) WHERE problem LIKE 'landed cost %%'$$, :pa),
                  format($$VALUES ('landed cost %s capitalised 6.00 on move %s but a replay in date order gives 5.00'::text)$$, :lca, :a_in10),
                  'verify_valuation reports a landed cost whose split differs from a replay in date order');
SELECT is((SELECT array_agg(problem) FROM stock.verify_valuation(:pa) WHERE problem LIKE 'the landed cost layers%'),
          ARRAY[format('the landed cost layers of move %s dated %s hold 5.00 but its landed costs capitalised 6.00', :a_in10, :'lca_at')], 'and a landed cost line that disagrees with its layers');

SELECT * FROM finish();
ROLLBACK;
