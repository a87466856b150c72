-- Finished goods re-costed after their components were re-valued by a
-- back-dated move (docs/valuation.md, "Production"). The stock engine calls
-- it (src/mrp/recost.c, through valuation_revalued_hook) with the moves to a
-- production location whose value a replay changed and the differences,
-- signed as the moves' values. For each done manufacturing order that
-- consumed them, as mrp.produce_mo would have costed it with those values:
--   1. its components' value, and the finished move's unit cost
--      (components + operations - by-products) / quantity, except for a
--      standard-cost product (received at its standard price);
--   2. each finished product's history replayed once (stock._recost_product):
--      a correction of the finished move and of every later move it changes,
--      which may in turn re-cost the orders that consumed that product;
--   3. the production variance corrected by what the finished value does not
--      carry (all of it for a standard-cost product), at the production's
--      date, and the order's costs updated.
-- Internal: granted to no one; the pack's SECURITY DEFINER postings call it.
CREATE FUNCTION mrp._recost(p_company bigint, p_cause bigint, p_moves bigint[], p_diffs numeric[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    v_ref text := format('Correction (back-dated move %s)', p_cause);
    v_mos bigint[] := '{}';
    v_old_rest numeric[] := '{}';
    v_products bigint[];
    v_product bigint;
    v_finished numeric;
    v_rest numeric;
BEGIN
    FOR r IN
        WITH d AS (
            SELECT pm.production_id AS mo, sum(u.d) AS d
              FROM unnest(p_moves, p_diffs) u(move, d)
              JOIN mrp.production_move pm ON pm.company_id = p_company AND pm.move_id = u.move
             WHERE pm.role = 'component'
             GROUP BY 1)
        SELECT o.id, o.product_id, o.qty, p.cost_method, f.move_id AS finished_move,
               coalesce(o.components_value, 0) + coalesce(o.operations_cost, 0) - coalesce(o.byproducts_value, 0)
                 - coalesce(o.finished_value, 0) AS old_rest,
               coalesce(o.components_value, 0) - d.d AS components, coalesce(o.operations_cost, 0) AS operations_cost,
               coalesce(o.byproducts_value, 0) AS byproducts_value
          FROM d
          JOIN mrp.production o ON o.company_id = p_company AND o.id = d.mo
          JOIN stock.product p ON p.company_id = o.company_id AND p.id = o.product_id
          JOIN LATERAL (SELECT pm.move_id FROM mrp.production_move pm
                          JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
                         WHERE pm.company_id = o.company_id AND pm.production_id = o.id
                           AND pm.role = 'finished' AND mv.state = 'done') f ON true
         WHERE o.state = 'done'
         ORDER BY o.product_id, o.id
    LOOP
        v_mos := v_mos || r.id;
        v_old_rest := v_old_rest || r.old_rest;
        UPDATE mrp.production SET components_value = r.components WHERE company_id = p_company AND id = r.id;
        IF r.cost_method <> 'standard' THEN
            UPDATE stock.move
               SET unit_cost = greatest(r.components + r.operations_cost - r.byproducts_value, 0) / r.qty
             WHERE company_id = p_company AND id = r.finished_move;
        END IF;
    END LOOP;
    IF cardinality(v_mos) = 0 THEN
        RETURN;
    END IF;

    -- each finished product once, in id order (the order locks are taken in)
    SELECT array_agg(DISTINCT o.product_id ORDER BY o.product_id) INTO v_products
      FROM mrp.production o JOIN stock.product p ON p.company_id = o.company_id AND p.id = o.product_id
     WHERE o.company_id = p_company AND o.id = ANY (v_mos) AND p.cost_method <> 'standard';
    FOREACH v_product IN ARRAY coalesce(v_products, '{}') LOOP
        PERFORM stock._recost_product(p_company, v_product, p_cause);
    END LOOP;

    FOR i IN 1 .. cardinality(v_mos) LOOP
        SELECT o.id, o.qty, o.components_value + coalesce(o.operations_cost, 0) - coalesce(o.byproducts_value, 0) AS cost,
               mv.id AS finished_move, mv.date, mv.value, c.price_precision
          INTO r
          FROM mrp.production o
          JOIN erp.company c ON c.id = o.company_id
          JOIN mrp.production_move pm ON pm.company_id = o.company_id AND pm.production_id = o.id AND pm.role = 'finished'
          JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id AND mv.state = 'done'
         WHERE o.company_id = p_company AND o.id = v_mos[i];
        v_finished := r.value;
        v_rest := r.cost - v_finished;
        PERFORM stock._journal(p_company, r.date, v_ref, r.finished_move, NULL, 'production_variance', 'stock_output',
                               v_rest - v_old_rest[i]);
        UPDATE mrp.production SET finished_value = v_finished, unit_cost = round(v_finished / r.qty, r.price_precision)
         WHERE company_id = p_company AND id = r.id;
    END LOOP;
END $$;
