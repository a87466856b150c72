-- back-dated valued moves (#15): the history is replayed in date order, later moves get
-- correction layers and entries at their dates; the worked examples of docs/valuation.md.
BEGIN;
\ir ../setup.sql
SELECT plan(27);

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

-- ------------------------------------------------------------ ledger, balance, verify
SELECT is(ARRAY[pg_temp.ledger(:pf), pg_temp.ledger(:pf, pg_temp.d(7)), pg_temp.ledger(:pf, pg_temp.d(11))],
          ARRAY[(stock.valuation(:pf)).value, (stock.valuation(:pf, pg_temp.d(7))).value, (stock.valuation(:pf, pg_temp.d(11))).value],
          'FIFO: the ledger at each date equals the valuation at that date');
SELECT is((SELECT array_agg(pg_temp.ledger(x.p, pg_temp.d(y.n)) ORDER BY x.p, y.n) FROM unnest(ARRAY[:pa, :pd]) x(p), generate_series(0, 12) y(n)),
          (SELECT array_agg((stock.valuation(x.p, pg_temp.d(y.n))).value ORDER BY x.p, y.n) FROM unnest(ARRAY[:pa, :pd]) x(p), generate_series(0, 12) y(n)),
          'AVCO and FIFO delivery: the ledger equals the valuation at every day from D-12 to today');
SELECT is((SELECT array_agg(r.value ORDER BY r.sku) FROM stock.valuation_report(:a, pg_temp.d(6)) r WHERE r.sku LIKE 'BD-%'),
          (SELECT array_agg(pg_temp.ledger(p.id, pg_temp.d(6)) ORDER BY p.sku) FROM stock.product p WHERE p.company_id = :a AND p.sku LIKE 'BD-%'),
          'the valuation report at D-6 equals the ledger at D-6');
SELECT is((SELECT sum(debit) - sum(credit) FROM stock.journal_line WHERE company_id IN (:a, :b)), 0::numeric, 'debits equal credits');
SELECT is((SELECT count(*) FROM stock.journal_entry e WHERE e.company_id IN (:a, :b)
            AND (SELECT sum(debit) - sum(credit) FROM stock.journal_line l WHERE l.company_id = e.company_id AND l.entry_id = e.id) <> 0),
          0::bigint, 'every entry is balanced');
SELECT is_empty(format('SELECT * FROM stock.verify_valuation() WHERE product_id IN (%s, %s, %s, %s)', :pf, :pa, :pd, :pn),
                'verify_valuation finds nothing after the back-dated postings');
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'the deferred balance check passes');

SELECT * FROM finish();
ROLLBACK;
