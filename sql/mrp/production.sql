-- Manufacturing orders (docs/manufacturing.md): components move stock ->
-- production, the finished product production -> stock, valued through the
-- stock engine; operations absorbed at their work centers' cost.

CREATE TABLE mrp.production (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    bom_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'confirmed', 'done', 'cancelled')),
    due_at timestamptz NOT NULL,
    location_id bigint NOT NULL,
    backorder_of bigint,
    components_value numeric,
    operations_cost numeric,
    byproducts_value numeric,
    finished_value numeric,
    unit_cost numeric,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    done_at timestamptz,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, bom_id) REFERENCES mrp.bom (company_id, id),
    FOREIGN KEY (company_id, location_id) REFERENCES stock.location (company_id, id)
);
CREATE INDEX production_id_idx ON mrp.production (id);
CREATE INDEX production_open_idx ON mrp.production (company_id, product_id) WHERE state IN ('draft', 'confirmed');
COMMENT ON TABLE mrp.production IS 'Manufacturing orders; the *_value columns are filled when produced';

CREATE TABLE mrp.production_move (
    company_id bigint NOT NULL,
    production_id bigint NOT NULL,
    move_id bigint NOT NULL,
    role text NOT NULL CHECK (role IN ('component', 'finished', 'byproduct')),
    PRIMARY KEY (company_id, move_id),
    FOREIGN KEY (company_id, production_id) REFERENCES mrp.production (company_id, id),
    FOREIGN KEY (company_id, move_id) REFERENCES stock.move (company_id, id)
);
CREATE INDEX production_move_mo_idx ON mrp.production_move (company_id, production_id);

CREATE FUNCTION mrp._mo_for_update(p_mo bigint, p_code text) RETURNS mrp.production
LANGUAGE plpgsql AS $$
DECLARE
    v mrp.production;
BEGIN
    SELECT * INTO v FROM mrp.production m WHERE m.id = p_mo FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'mrp.production:read')
                                                AND erp._row_visible('mrp.production', v.id))) THEN
        PERFORM erp._require_signed_in();
        RAISE EXCEPTION 'manufacturing order % does not exist', coalesce(p_mo::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

CREATE FUNCTION mrp.create_mo(p_product bigint, p_qty numeric, p_due timestamptz DEFAULT NULL, p_warehouse bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    b mrp.bom;
    v_id bigint;
BEGIN
    PERFORM stock._require('mrp.production:create', p.company_id);
    IF p_qty IS NULL OR NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'quantity to produce must be positive'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    PERFORM mrp._in_range(p_qty, 'quantity to produce'), mrp._planning_date(p_due, 'due date');
    IF stock.round_to(p_qty, (SELECT u.rounding FROM stock.uom u WHERE u.code = p.uom)) <= 0 THEN
        RAISE EXCEPTION 'quantity to produce rounds to zero in the product''s unit'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s %s.', erp._echo(p_qty::text), p.uom);
    END IF;
    SELECT * INTO b FROM mrp._bom_of(p.company_id, p.id);
    IF b.id IS NULL THEN
        RAISE EXCEPTION 'product % has no bill of materials', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF b.type = 'phantom' THEN
        RAISE EXCEPTION 'product % is a kit: it is never manufactured', p.sku
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Its bill of materials is of type phantom: its components are used in its place.';
    END IF;
    INSERT INTO mrp.production (company_id, product_id, bom_id, qty, due_at, location_id)
    VALUES (p.company_id, p.id, b.id, stock.round_to(p_qty, (SELECT u.rounding FROM stock.uom u WHERE u.code = p.uom)),
            coalesce(p_due, now()), stock._warehouse_location(p, p_warehouse))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION mrp.create_mo(bigint, numeric, timestamptz, bigint) IS
    'Create a draft manufacturing order from the product''s BOM (needs mrp.production:create)';

-- Moves of an MO: components stock -> production, finished and by-products
-- production -> stock, confirmed and dated at the due date, so that they are
-- the scheduled requirements and receipts the planner sees.
CREATE FUNCTION mrp.confirm_mo(p_mo bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:write');
    v_prod bigint;
    v_move bigint;
    r record;
    v_ref text;
    v_start timestamptz;
BEGIN
    IF m.state <> 'draft' THEN
        RAISE EXCEPTION 'manufacturing order % is %, not draft', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_prod := stock.virtual_location(m.company_id, 'production');
    v_ref := 'MO/' || m.id;
    -- components are needed when production starts: the due date less the
    -- product's manufacturing lead time (mrp.planning), as MRP releases it
    v_start := m.due_at - make_interval(days => coalesce((SELECT pl.lead_days FROM mrp.planning pl
                                                          WHERE pl.company_id = m.company_id AND pl.product_id = m.product_id), 0));
    FOR r IN SELECT e.product_id, e.qty FROM mrp.explode(m.product_id, m.qty) e LOOP
        v_move := stock.create_move(r.product_id, r.qty, m.location_id, v_prod, NULL, v_start, v_ref);
        PERFORM stock.confirm(v_move);
        INSERT INTO mrp.production_move VALUES (m.company_id, m.id, v_move, 'component');
    END LOOP;
    v_move := stock.create_move(m.product_id, m.qty, v_prod, m.location_id, NULL, m.due_at, v_ref);
    PERFORM stock.confirm(v_move);
    INSERT INTO mrp.production_move VALUES (m.company_id, m.id, v_move, 'finished');
    FOR r IN SELECT bp.product_id, mrp._round_up(bp.qty * m.qty / b.qty, u.rounding) AS qty
               FROM mrp.bom b JOIN mrp.bom_byproduct bp ON bp.company_id = b.company_id AND bp.bom_id = b.id
               JOIN stock.product pr ON pr.company_id = bp.company_id AND pr.id = bp.product_id
               JOIN stock.uom u ON u.code = pr.uom
              WHERE b.company_id = m.company_id AND b.id = m.bom_id
    LOOP
        v_move := stock.create_move(r.product_id, r.qty, v_prod, m.location_id, NULL, m.due_at, v_ref);
        PERFORM stock.confirm(v_move);
        INSERT INTO mrp.production_move VALUES (m.company_id, m.id, v_move, 'byproduct');
    END LOOP;
    UPDATE mrp.production SET state = 'confirmed' WHERE company_id = m.company_id AND id = m.id;
END $$;
COMMENT ON FUNCTION mrp.confirm_mo(bigint) IS
    'Confirm a draft MO: component, finished and by-product moves, confirmed at the due date (needs mrp.production:write)';

CREATE FUNCTION mrp.reserve_mo(p_mo bigint)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:write');
    r record;
    v_full int := 0;
    v_some int := 0;
    v_n int := 0;
BEGIN
    IF m.state <> 'confirmed' THEN
        RAISE EXCEPTION 'manufacturing order % is %: only confirmed orders are reserved', m.id, m.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT mv.id, mv.qty FROM mrp.production_move pm
               JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
              WHERE pm.company_id = m.company_id AND pm.production_id = m.id AND pm.role = 'component'
                AND mv.state IN ('confirmed', 'assigned')
              ORDER BY mv.product_id, mv.id
    LOOP
        v_n := v_n + 1;
        IF stock.reserve(r.id) >= r.qty THEN
            v_full := v_full + 1;
        END IF;
        IF (SELECT mv.reserved_qty FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = r.id) > 0 THEN
            v_some := v_some + 1;
        END IF;
    END LOOP;
    RETURN CASE WHEN v_full = v_n THEN 'ready' WHEN v_some > 0 THEN 'partial' ELSE 'waiting' END;
END $$;
COMMENT ON FUNCTION mrp.reserve_mo(bigint) IS
    'Reserve the components of a confirmed MO: ready (all reserved), partial or waiting';

-- With p_idempotency_key, a retry returns the first production's backorder
-- MO and produces nothing more (#14.6).
CREATE FUNCTION mrp.produce_mo(p_mo bigint, p_qty numeric DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:produce');
    p stock.product;
    c erp.company;
    b mrp.bom;
    v_qty numeric;
    v_rounding numeric;
    v_back bigint;
    v_back_move bigint;
    v_part numeric;
    r record;
    v_components numeric := 0;
    v_ops numeric := 0;
    v_byproducts numeric := 0;
    v_finished_move bigint;
    v_finished numeric;
    v_cost numeric;
    v_rest numeric;
    v_ref text := 'MO/' || m.id;
    v_idem record := stock._idempotency_claim(m.company_id, p_idempotency_key, 'mrp.produce_mo', jsonb_build_array(p_mo, p_qty));
BEGIN
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(m.company_id, now(), format('production of manufacturing order %s', m.id));
    IF m.state = 'draft' THEN
        RAISE EXCEPTION 'manufacturing order % is draft: only confirmed orders are produced', m.id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Confirm it with mrp.confirm_mo() first.';
    ELSIF m.state <> 'confirmed' THEN
        RAISE EXCEPTION 'manufacturing order % is %: only confirmed orders are produced', m.id, m.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO p FROM stock.product pr WHERE pr.company_id = m.company_id AND pr.id = m.product_id;
    SELECT * INTO c FROM erp.company WHERE id = m.company_id;
    SELECT * INTO b FROM mrp.bom WHERE company_id = m.company_id AND id = m.bom_id;
    SELECT u.rounding INTO v_rounding FROM stock.uom u WHERE u.code = p.uom;
    v_qty := coalesce(p_qty, m.qty);
    IF NOT (v_qty > 0 AND v_qty <= m.qty) THEN
        RAISE EXCEPTION 'quantity produced must be positive and at most %', m.qty
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(v_qty::text));
    END IF;
    v_qty := stock.round_to(v_qty, v_rounding);
    IF v_qty <= 0 THEN
        RAISE EXCEPTION 'quantity produced rounds to zero' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_qty < m.qty THEN
        -- the rest goes to a backorder MO, with the rest of every move
        INSERT INTO mrp.production (company_id, product_id, bom_id, qty, state, due_at, location_id, backorder_of)
        VALUES (m.company_id, m.product_id, m.bom_id, m.qty - v_qty, 'confirmed', m.due_at, m.location_id, m.id)
        RETURNING id INTO v_back;
    END IF;

    -- components: the produced share of each move, valued by the stock engine
    FOR r IN SELECT mv.id, mv.qty, mv.product_id, pm.role, u.rounding
               FROM mrp.production_move pm
               JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
               JOIN stock.product pr ON pr.company_id = mv.company_id AND pr.id = mv.product_id
               JOIN stock.uom u ON u.code = pr.uom
              WHERE pm.company_id = m.company_id AND pm.production_id = m.id
                AND mv.state IN ('draft', 'confirmed', 'assigned')
              ORDER BY pm.role = 'finished', mv.product_id, mv.id
    LOOP
        v_part := CASE WHEN v_back IS NULL THEN r.qty
                       ELSE least(r.qty, mrp._round_up(r.qty * v_qty / m.qty, r.rounding)) END;
        IF r.role = 'finished' THEN
            v_finished_move := r.id;
            CONTINUE;
        END IF;
        IF v_part <= 0 THEN
            UPDATE mrp.production_move SET production_id = v_back WHERE company_id = m.company_id AND move_id = r.id;
            CONTINUE;
        END IF;
        IF r.role = 'byproduct' THEN
            -- by-products enter at their standard price, deducted from the finished cost
            UPDATE stock.move mv SET unit_cost = pr.standard_price
              FROM stock.product pr
             WHERE mv.company_id = m.company_id AND mv.id = r.id AND pr.company_id = mv.company_id AND pr.id = mv.product_id;
        END IF;
        -- posted when produced, not at the due date; what is left keeps the due date
        UPDATE stock.move SET date = now() WHERE company_id = m.company_id AND id = r.id;
        v_back_move := stock.validate(r.id, CASE WHEN v_part < r.qty THEN v_part END);
        IF v_back_move IS NOT NULL THEN
            UPDATE stock.move SET date = m.due_at WHERE company_id = m.company_id AND id = v_back_move;
            INSERT INTO mrp.production_move VALUES (m.company_id, v_back, v_back_move, r.role);
        END IF;
        IF r.role = 'component' THEN
            v_components := v_components - coalesce((SELECT mv.value FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = r.id), 0);
        ELSE
            v_byproducts := v_byproducts + coalesce((SELECT mv.value FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = r.id), 0);
        END IF;
    END LOOP;

    -- operations: minutes per batch x batches produced, at each work center's rate
    SELECT coalesce(sum(stock.round_to(o.minutes * v_qty / b.qty / 60 * w.cost_per_hour, c.currency_rounding)), 0)
      INTO v_ops
      FROM mrp.bom_operation o JOIN mrp.workcenter w ON w.company_id = o.company_id AND w.id = o.workcenter_id
     WHERE o.company_id = b.company_id AND o.bom_id = b.id;

    -- the finished product: at cost (components + operations - by-products) / quantity,
    -- or at standard price for standard products, the difference to the variance account
    v_cost := v_components + v_ops - v_byproducts;
    IF p.cost_method <> 'standard' THEN
        UPDATE stock.move SET unit_cost = greatest(v_cost, 0) / v_qty
         WHERE company_id = m.company_id AND id = v_finished_move;
    END IF;
    UPDATE stock.move SET date = now() WHERE company_id = m.company_id AND id = v_finished_move;
    v_back_move := stock.validate(v_finished_move, CASE WHEN v_back IS NOT NULL THEN v_qty END);
    IF v_back_move IS NOT NULL THEN
        UPDATE stock.move SET date = m.due_at WHERE company_id = m.company_id AND id = v_back_move;
        INSERT INTO mrp.production_move VALUES (m.company_id, v_back, v_back_move, 'finished');
    END IF;
    v_finished := (SELECT mv.value FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = v_finished_move);

    -- journal: work centers' cost absorbed into production; what the finished
    -- value does not carry (standard cost, rounding) is production variance
    PERFORM stock._journal(m.company_id, now(), v_ref, v_finished_move, NULL, 'stock_output', 'production_cost', v_ops);
    v_rest := v_cost - v_finished;
    PERFORM stock._journal(m.company_id, now(), v_ref, v_finished_move, NULL, 'production_variance', 'stock_output', v_rest);

    UPDATE mrp.production
       SET state = 'done', qty = v_qty, done_at = now(), components_value = v_components, operations_cost = v_ops,
           byproducts_value = v_byproducts, finished_value = v_finished, unit_cost = round(v_finished / v_qty, c.price_precision)
     WHERE company_id = m.company_id AND id = m.id;
    PERFORM stock._idempotency_done(m.company_id, p_idempotency_key, to_jsonb(v_back));
    RETURN v_back;
END $$;
COMMENT ON FUNCTION mrp.produce_mo(bigint, numeric, text) IS
    'Produce (part of) a confirmed MO: consume components, receive the product at (components + operations - by-products) / qty; returns the backorder MO of a partial production (needs mrp.production:produce)';

CREATE FUNCTION mrp.cancel_mo(p_mo bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:write');
    r record;
BEGIN
    IF m.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'manufacturing order % is already %', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT mv.id FROM mrp.production_move pm
               JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
              WHERE pm.company_id = m.company_id AND pm.production_id = m.id AND mv.state NOT IN ('done', 'cancelled')
              ORDER BY mv.id
    LOOP
        PERFORM stock.cancel(r.id);
    END LOOP;
    UPDATE mrp.production SET state = 'cancelled' WHERE company_id = m.company_id AND id = m.id;
END $$;
COMMENT ON FUNCTION mrp.cancel_mo(bigint) IS 'Cancel a draft or confirmed MO and its moves, releasing reservations';
