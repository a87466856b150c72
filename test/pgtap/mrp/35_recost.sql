-- A back-dated move of a component re-costs what was produced from it (issue #15, "every event type
-- replays ... production"; docs/valuation.md, "Production"): the consumption is corrected, the
-- finished goods' receipt and every later move of the finished product, the next level up, the
-- variance of a standard-cost product; the orders' costs follow. The same moves posted in date
-- order (a second company) give the same values.
BEGIN;
\ir ../setup.sql
SELECT plan(17);

SELECT * FROM pg_temp.make_tree() \gset

-- One history in company p_company: component C (FIFO), F (AVCO) made of 2 C, G (FIFO) made of
-- 1 F, S (standard, 50) made of 1 C. C received 10 @ 10 at D-10; MO of 2 F, 1 F delivered, MO of
-- 1 G, MO of 1 S, all now. The receipt of 10 C @ 20 at D-12 comes first (p_late false: date order)
-- or last (back-dated). Returns the ids.
CREATE FUNCTION pg_temp.history(p_company bigint, p_late boolean)
RETURNS TABLE (c bigint, f bigint, g bigint, s bigint, mo_f bigint, mo_g bigint, mo_s bigint, late bigint, f_out bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_wh bigint := stock.create_warehouse(p_company, 'R35');
BEGIN
    c := stock.create_product(p_company, 'R35-C', 'Component', 'fifo');
    f := stock.create_product(p_company, 'R35-F', 'Finished, AVCO', 'avco');
    g := stock.create_product(p_company, 'R35-G', 'Made of F', 'fifo');
    s := stock.create_product(p_company, 'R35-S', 'Standard', 'standard', 50);
    PERFORM mrp.create_bom(f, 1, jsonb_build_array(jsonb_build_object('product', c, 'qty', 2)));
    PERFORM mrp.create_bom(g, 1, jsonb_build_array(jsonb_build_object('product', f, 'qty', 1)));
    PERFORM mrp.create_bom(s, 1, jsonb_build_array(jsonb_build_object('product', c, 'qty', 1)));
    IF NOT p_late THEN
        late := stock.receive(c, 10, 20, v_wh, 'late', now() - interval '12 days');
    END IF;
    PERFORM stock.receive(c, 10, 10, v_wh, NULL, now() - interval '10 days');
    mo_f := mrp.create_mo(f, 2, NULL, v_wh);
    PERFORM mrp.confirm_mo(mo_f);
    PERFORM mrp.produce_mo(mo_f);
    f_out := stock.deliver(f, 1, v_wh);
    mo_g := mrp.create_mo(g, 1, NULL, v_wh);
    PERFORM mrp.confirm_mo(mo_g);
    PERFORM mrp.produce_mo(mo_g);
    mo_s := mrp.create_mo(s, 1, NULL, v_wh);
    PERFORM mrp.confirm_mo(mo_s);
    PERFORM mrp.produce_mo(mo_s);
    IF p_late THEN
        late := stock.receive(c, 10, 20, v_wh, 'late', now() - interval '12 days');
    END IF;
    RETURN NEXT;
END $$;

-- the value of an MO's move of a role
CREATE FUNCTION pg_temp.mv(p_mo bigint, p_role text) RETURNS numeric LANGUAGE sql AS $$
    SELECT sum(m.value) FROM mrp.production_move pm JOIN stock.move m ON m.company_id = pm.company_id AND m.id = pm.move_id
     WHERE pm.production_id = p_mo AND pm.role = p_role AND m.state = 'done'
$$;
-- everything compared between the two companies
CREATE FUNCTION pg_temp.outcome(c bigint, f bigint, g bigint, s bigint, mo_f bigint, mo_g bigint, mo_s bigint, f_out bigint) RETURNS TABLE (what text, v numeric) LANGUAGE sql AS $$
    SELECT 'mo ' || o.x || ' ' || col, val
      FROM (VALUES ('f', mo_f), ('g', mo_g), ('s', mo_s)) o(x, id)
      JOIN mrp.production p ON p.id = o.id,
           LATERAL (VALUES ('components', p.components_value), ('finished', p.finished_value), ('unit', p.unit_cost),
                           ('consumed', -pg_temp.mv(o.id, 'component')), ('received', pg_temp.mv(o.id, 'finished'))) x(col, val)
    UNION ALL
    SELECT 'on hand ' || pr.sku, pv.value FROM stock.product_value pv JOIN stock.product pr ON pr.company_id = pv.company_id AND pr.id = pv.product_id
     WHERE pv.product_id IN (c, f, g, s)
    UNION ALL
    SELECT 'f delivered', m.value FROM stock.move m WHERE m.id = f_out
    UNION ALL
    SELECT 'ledger ' || a.kind, sum(l.debit - l.credit)
      FROM stock.journal_line l JOIN stock.account a ON a.company_id = l.company_id AND a.id = l.account_id
     WHERE l.company_id = (SELECT company_id FROM stock.product WHERE id = outcome.c)
     GROUP BY a.kind
$$;

SELECT * FROM pg_temp.history(:a, true) \gset late_
SELECT * FROM pg_temp.history(:b, false) \gset order_

-- the consumption of the component, corrected
SELECT is(pg_temp.mv(:late_mo_f, 'component'), -80.00, 'the MO of F consumed 4 C of the back-dated receipt: -80 (was -40)');
SELECT is(pg_temp.mv(:late_mo_s, 'component'), -20.00, 'the MO of S consumed 1 C of it: -20 (was -10)');
-- the finished goods, re-costed, and what followed them
SELECT results_eq(format('SELECT components_value, finished_value, unit_cost FROM mrp.production WHERE id = %s', :late_mo_f),
                  $$VALUES (80.00, 80.00, 40.00)$$, 'the MO of F: components 80, finished 80, unit cost 40');
SELECT is((SELECT unit_cost FROM stock.move WHERE id = (SELECT move_id FROM mrp.production_move WHERE production_id = :late_mo_f AND role = 'finished')),
          40::numeric, 'the finished move of F carries the new unit cost');
SELECT is((SELECT value FROM stock.move WHERE id = :late_f_out), -40.00, 'the delivery of 1 F that followed: -40 at the new average (was -20)');
SELECT results_eq(format('SELECT components_value, finished_value, unit_cost FROM mrp.production WHERE id = %s', :late_mo_g),
                  $$VALUES (40.00, 40.00, 40.00)$$, 'the next level: the MO of G consumed F at 40, G received at 40 (was 20)');
SELECT results_eq(format('SELECT components_value, finished_value, unit_cost FROM mrp.production WHERE id = %s', :late_mo_s),
                  $$VALUES (20.00, 50.00, 50.00)$$, 'standard cost: S stays at 50, its components are 20');
-- the corrections: layers and entries named after the back-dated move, at the production's date
SELECT is((SELECT count(*)::int FROM stock.valuation_layer l
            WHERE l.company_id = :a AND l.description LIKE format('Correction (back-dated move %s)%%', :late_late)
              AND l.move_id IN (SELECT move_id FROM mrp.production_move WHERE production_id IN (:late_mo_f, :late_mo_g, :late_mo_s))),
          5, 'five correction layers on the orders'' moves: C into F, F received, F into G, G received, C into S');
SELECT results_eq(format($$SELECT a.kind, l.debit, l.credit FROM stock.journal_entry e
                            JOIN stock.journal_line l ON l.company_id = e.company_id AND l.entry_id = e.id
                            JOIN stock.account a ON a.company_id = l.company_id AND a.id = l.account_id
                           WHERE e.company_id = %s AND e.ref = 'Correction (back-dated move %s)'
                             AND e.move_id = (SELECT move_id FROM mrp.production_move WHERE production_id = %s AND role = 'finished')
                           ORDER BY a.kind$$, :a, :late_late, :late_mo_s),
                  $$VALUES ('production_variance'::text, 10.00, 0::numeric), ('stock_output', 0, 10.00)$$,
                  'S: the variance corrected by the 10 its finished value does not carry');
SELECT is((SELECT count(*)::int FROM stock.journal_entry e WHERE e.company_id = :a AND e.ref = format('Correction (back-dated move %s)', :late_late)
              AND e.date <> (SELECT m.date FROM stock.move m WHERE m.id = e.move_id)),
          0, 'every correction entry is dated at its move''s date');
-- the same as a posting in date order
SELECT set_eq(format('SELECT * FROM pg_temp.outcome(%s, %s, %s, %s, %s, %s, %s, %s)',
                     :late_c, :late_f, :late_g, :late_s, :late_mo_f, :late_mo_g, :late_mo_s, :late_f_out),
              format('SELECT * FROM pg_temp.outcome(%s, %s, %s, %s, %s, %s, %s, %s)',
                     :order_c, :order_f, :order_g, :order_s, :order_mo_f, :order_mo_g, :order_mo_s, :order_f_out),
              'orders, moves, on-hand values and the ledger per account equal a posting in date order');
SELECT is((SELECT count(*)::int FROM pg_temp.outcome(:late_c, :late_f, :late_g, :late_s, :late_mo_f, :late_mo_g, :late_mo_s, :late_f_out)),
          24, 'the comparison covers 15 order figures, 4 on-hand values, a delivery and the ledger of 4 accounts');
SELECT is((SELECT count(*)::int FROM stock.verify_valuation() v WHERE v.product_id IN (:late_c, :late_f, :late_g, :late_s)),
          0, 'verify_valuation (its replay included) finds nothing');
SELECT is((SELECT sum(debit) - sum(credit) FROM stock.journal_line WHERE company_id = :a), 0::numeric, 'debits equal credits');

-- a back-dated delivery of the component before the productions, negative stock forbidden: refused,
-- nothing written (the re-costing runs in the posting's transaction)
SELECT stock.set_allow_negative(:a, false);
SELECT count(*) AS layers_before FROM stock.valuation_layer WHERE company_id = :a \gset
SELECT throws_ok(format($$SELECT stock.deliver(%s, 16, (SELECT id FROM stock.warehouse WHERE company_id = %s), NULL, now() - interval '11 days')$$,
                        :late_c, :a), '23514', NULL, 'a back-dated delivery that would leave the productions short: 23514');
SELECT is((SELECT count(*)::int FROM stock.valuation_layer WHERE company_id = :a), :layers_before, 'and nothing is written');

-- a back-dated delivery that only moves costs: the orders follow again
SELECT stock.deliver(:late_c, 10, (SELECT id FROM stock.warehouse WHERE company_id = :a), NULL, now() - interval '11 days') AS early \gset
SELECT results_eq(format('SELECT components_value, finished_value FROM mrp.production WHERE id IN (%s, %s, %s) ORDER BY id', :late_mo_f, :late_mo_g, :late_mo_s),
                  $$VALUES (40.00, 40.00), (20.00, 20.00), (10.00, 50.00)$$,
                  'the D-12 receipt delivered at D-11: the orders consume the 10 @ 10 again (F 40, G 20, S 10)');

SELECT * FROM finish();
ROLLBACK;
