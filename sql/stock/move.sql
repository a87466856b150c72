-- Stock moves and quants. A move: draft -> confirmed -> assigned (reserved)
-- -> done, or cancelled. Quants (product, location, lot) are kept by the
-- engine only. Quantities are in the product's unit.

CREATE TABLE stock.move (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (stock._positive_finite(qty)),
    uom text NOT NULL REFERENCES stock.uom (code),
    uom_qty numeric NOT NULL CHECK (stock._positive_finite(uom_qty)),
    location_id bigint NOT NULL,
    location_dest_id bigint NOT NULL,
    state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'confirmed', 'assigned', 'done', 'cancelled')),
    reserved_qty numeric NOT NULL DEFAULT 0 CHECK (reserved_qty >= 0 AND reserved_qty <= qty),
    unit_cost numeric CHECK (stock._nonnegative_finite(unit_cost)),
    value numeric CHECK (stock._finite(value)),
    date timestamptz NOT NULL CHECK (isfinite(date)),
    ref text,
    lot_id bigint,
    origin_move_id bigint,
    backorder_of bigint,
    done_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id),
    CHECK (location_id <> location_dest_id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, location_id) REFERENCES stock.location (company_id, id),
    FOREIGN KEY (company_id, location_dest_id) REFERENCES stock.location (company_id, id),
    FOREIGN KEY (company_id, lot_id) REFERENCES stock.lot (company_id, id)
);
CREATE INDEX move_id_idx ON stock.move (id);
CREATE INDEX move_product_state_idx ON stock.move (company_id, product_id, state);
COMMENT ON COLUMN stock.move.value IS 'Value posted when done: positive into stock, negative out of it, NULL when not valued';

CREATE TABLE stock.quant (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    location_id bigint NOT NULL,
    lot_id bigint NOT NULL DEFAULT 0,           -- 0: no lot
    quantity numeric NOT NULL DEFAULT 0 CHECK (stock._finite(quantity)),
    reserved numeric NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    in_date timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, product_id, location_id, lot_id),
    -- reservations are stock set aside: never more than what is there (#11.9)
    CONSTRAINT quant_reserved_covered CHECK (reserved <= greatest(quantity, 0)),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, location_id) REFERENCES stock.location (company_id, id)
);
COMMENT ON TABLE stock.quant IS 'On-hand and reserved quantity per product, internal location and lot; kept by the engine';

-- A product the caller may see, with what posting needs. Definer code uses
-- it, so it checks read access itself: another company's id "does not exist".
CREATE FUNCTION stock._product(p_product bigint) RETURNS stock.product
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.product;
BEGIN
    SELECT * INTO v FROM stock.product p WHERE p.id = p_product;
    -- hidden by company security or a record rule: "does not exist" (#11.3)
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'stock.product:read')
                                                AND erp._row_visible('stock.product', v.id))) THEN
        PERFORM erp._require_signed_in();  -- nobody signed in: 28000, not "does not exist" (#14.5)
        RAISE EXCEPTION 'product % does not exist', coalesce(p_product::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

CREATE FUNCTION stock._require(p_code text, p_company bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission(p_code, p_company);
    END IF;
END $$;

CREATE FUNCTION stock._location(p_company bigint, p_location bigint) RETURNS stock.location
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.location;
BEGIN
    SELECT * INTO v FROM stock.location l WHERE l.id = p_location;
    IF NOT FOUND OR v.company_id <> p_company OR NOT erp._row_visible('stock.location', v.id) THEN
        PERFORM erp._require_signed_in();
        RAISE EXCEPTION 'location % does not exist in company %', coalesce(p_location::text, 'NULL'), p_company
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

-- The move, locked, after the caller's permission on its company.
CREATE FUNCTION stock._move_for_update(p_move bigint, p_code text) RETURNS stock.move
LANGUAGE plpgsql AS $$
DECLARE
    v stock.move;
BEGIN
    SELECT * INTO v FROM stock.move m WHERE m.id = p_move FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'stock.move:read')
                                                AND erp._row_visible('stock.move', v.id))) THEN
        PERFORM erp._require_signed_in();
        RAISE EXCEPTION 'move % does not exist', coalesce(p_move::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

-- Lock the running totals of several products, in product order (no deadlocks).
CREATE FUNCTION stock._lock_products(p_company bigint, p_products bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- one product (every posting): statements whose plans the plan cache keeps;
    -- the = ANY form looked cheaper planned for its array, so it was planned
    -- again at every call (#16.1)
    IF cardinality(p_products) = 1 THEN
        INSERT INTO stock.product_value (company_id, product_id) VALUES (p_company, p_products[1])
            ON CONFLICT DO NOTHING;
        PERFORM 1 FROM stock.product_value WHERE company_id = p_company AND product_id = p_products[1] FOR UPDATE;
        RETURN;
    END IF;
    INSERT INTO stock.product_value (company_id, product_id)
    SELECT p_company, unnest(p_products) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM stock.product_value
      WHERE company_id = p_company AND product_id = ANY (p_products)
      ORDER BY product_id FOR UPDATE;
END $$;

-- On hand (or available: minus reserved) of a product in internal locations:
-- one location, or all of the company's.
CREATE FUNCTION stock._quant_sum(p_product bigint, p_location bigint, p_available boolean) RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    IF p_location IS NOT NULL THEN
        PERFORM stock._location(p.company_id, p_location);
    END IF;
    RETURN coalesce((SELECT sum(q.quantity - CASE WHEN p_available THEN q.reserved ELSE 0 END) FROM stock.quant q
                      WHERE q.company_id = p.company_id AND q.product_id = p.id
                        AND (p_location IS NULL OR q.location_id = p_location)), 0);
END $$;

CREATE FUNCTION stock.on_hand(p_product bigint, p_location bigint DEFAULT NULL) RETURNS numeric
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT stock._quant_sum(p_product, p_location, false)
$$;

CREATE FUNCTION stock.available(p_product bigint, p_location bigint DEFAULT NULL) RETURNS numeric
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT stock._quant_sum(p_product, p_location, true)
$$;

CREATE FUNCTION stock.create_move(p_product bigint, p_qty numeric, p_from bigint, p_to bigint,
                                  p_unit_cost numeric DEFAULT NULL, p_date timestamptz DEFAULT now(),
                                  p_ref text DEFAULT NULL, p_uom text DEFAULT NULL, p_lot text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_from stock.location;
    v_to stock.location;
    v_uom text := coalesce(p_uom, p.uom);
    v_qty numeric;
    v_lot bigint;
    v_id bigint;
BEGIN
    PERFORM stock._require('stock.move:create', p.company_id);
    IF p_qty IS NULL THEN
        RAISE EXCEPTION 'quantity must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'quantity must be positive' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    -- the quantity's bound (22003) and the unit's name are checked there
    v_qty := stock.convert_uom(p_qty, v_uom, p.uom);
    IF v_qty <= 0 THEN
        RAISE EXCEPTION 'quantity rounds to zero in the product''s unit' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('%s %s is %s %s.', erp._echo(p_qty::text), v_uom, v_qty, p.uom);
    END IF;
    v_from := stock._location(p.company_id, p_from);
    v_to := stock._location(p.company_id, p_to);
    IF v_from.id = v_to.id THEN
        RAISE EXCEPTION 'source and destination are the same location' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_unit_cost IS NOT NULL AND NOT (p_unit_cost >= 0 AND p_unit_cost < 'Infinity') THEN
        RAISE EXCEPTION 'unit cost must be zero or positive' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The unit cost given is %s.', erp._echo(p_unit_cost::text));
    END IF;
    PERFORM stock._check_number(p_unit_cost, 'unit cost', stock._max_amount());
    IF p_date IS NULL THEN
        RAISE EXCEPTION 'date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stock._check_date(p_date, 'date', true);
    IF p.tracking = 'none' AND p_lot IS NOT NULL THEN
        RAISE EXCEPTION 'product % is not tracked by lot or serial number', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.tracking <> 'none' THEN
        IF p_lot IS NULL OR btrim(p_lot) = '' THEN
            RAISE EXCEPTION 'product % needs a % number', p.sku, p.tracking USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_lot !~ '^\S.{0,63}$' THEN
            RAISE EXCEPTION 'invalid % number %', p.tracking, erp._echo(p_lot)
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A lot or serial number is 1 to 64 characters and starts with a non-space.';
        END IF;
        IF p.tracking = 'serial' AND v_qty <> 1 THEN
            RAISE EXCEPTION 'a serial-numbered move carries exactly one unit' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('The quantity is %s %s.', v_qty, p.uom);
        END IF;
        SELECT l.id INTO v_lot FROM stock.lot l WHERE l.company_id = p.company_id AND l.product_id = p.id AND l.name = p_lot;
        IF v_lot IS NULL THEN
            IF v_from.usage = 'internal' THEN
                RAISE EXCEPTION '% % of product % does not exist', p.tracking, erp._echo(p_lot), p.sku
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            INSERT INTO stock.lot (company_id, product_id, name) VALUES (p.company_id, p.id, p_lot) RETURNING id INTO v_lot;
        END IF;
    END IF;
    INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id,
                            unit_cost, date, ref, lot_id)
    VALUES (p.company_id, p.id, v_qty, v_uom, p_qty, v_from.id, v_to.id, p_unit_cost, p_date, p_ref, v_lot)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;

CREATE FUNCTION stock.confirm(p_move bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:write');
BEGIN
    IF m.state <> 'draft' THEN
        RAISE EXCEPTION 'move % is %, not draft', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE stock.move SET state = 'confirmed' WHERE company_id = m.company_id AND id = m.id;
END $$;

-- Reserve what is available in the source location, oldest quants first.
CREATE FUNCTION stock.reserve(p_move bigint) RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:write');
    v_from stock.location;
    v_need numeric;
    v_take numeric;
    q record;
BEGIN
    PERFORM stock._lock_products(m.company_id, ARRAY[m.product_id]);   -- before quants, as validate()
    IF m.state NOT IN ('confirmed', 'assigned') THEN
        RAISE EXCEPTION 'move % is %: only confirmed moves are reserved', m.id, m.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_from := stock._location(m.company_id, m.location_id);
    IF v_from.usage <> 'internal' THEN
        UPDATE stock.move SET reserved_qty = qty, state = 'assigned' WHERE company_id = m.company_id AND id = m.id;
        RETURN m.qty;
    END IF;
    v_need := m.qty - m.reserved_qty;
    FOR q IN SELECT * FROM stock.quant
              WHERE company_id = m.company_id AND product_id = m.product_id AND location_id = m.location_id
                AND (m.lot_id IS NULL OR lot_id = m.lot_id) AND quantity - reserved > 0
              ORDER BY in_date, lot_id FOR UPDATE
    LOOP
        EXIT WHEN v_need <= 0;
        v_take := least(v_need, q.quantity - q.reserved);
        UPDATE stock.quant SET reserved = reserved + v_take
         WHERE company_id = q.company_id AND product_id = q.product_id AND location_id = q.location_id AND lot_id = q.lot_id;
        v_need := v_need - v_take;
    END LOOP;
    UPDATE stock.move SET reserved_qty = qty - v_need,
                          state = CASE WHEN v_need = 0 THEN 'assigned' ELSE 'confirmed' END
     WHERE company_id = m.company_id AND id = m.id;
    RETURN m.qty - v_need;
END $$;

-- Give back what a move reserved (largest reservations first is not needed:
-- quants hold no owner, so release from the oldest as reserve took).
CREATE FUNCTION stock._release(m stock.move) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_left numeric := m.reserved_qty;
    v_take numeric;
    q record;
BEGIN
    IF v_left > 0 AND EXISTS (SELECT 1 FROM stock.location l WHERE l.id = m.location_id AND l.usage = 'internal') THEN
        FOR q IN SELECT * FROM stock.quant
                  WHERE company_id = m.company_id AND product_id = m.product_id AND location_id = m.location_id
                    AND (m.lot_id IS NULL OR lot_id = m.lot_id) AND reserved > 0
                  ORDER BY in_date, lot_id FOR UPDATE
        LOOP
            EXIT WHEN v_left <= 0;
            v_take := least(v_left, q.reserved);
            UPDATE stock.quant SET reserved = reserved - v_take
             WHERE company_id = q.company_id AND product_id = q.product_id AND location_id = q.location_id AND lot_id = q.lot_id;
            v_left := v_left - v_take;
        END LOOP;
    END IF;
    -- m is the caller's locked row: nothing reserved, nothing to write (an update
    -- of the move costs its checks, triggers and a row version on every posting)
    IF m.reserved_qty <> 0 THEN
        UPDATE stock.move SET reserved_qty = 0 WHERE company_id = m.company_id AND id = m.id;
    END IF;
END $$;

-- A move takes stock that other moves reserved (negative stock allowed):
-- free their reservations, newest move first, until at most p_keep stays
-- reserved on the quant, so that reserved <= greatest(quantity, 0) holds.
-- The freed moves go back to confirmed. A move locked by another session
-- (which queues on the product's running totals we hold) is not waited
-- for: when what is left cannot be freed, 40001 (retry).
CREATE FUNCTION stock._free_reserved(p_company bigint, p_product bigint, p_location bigint, p_lot bigint,
                                     p_keep numeric, p_except bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_reserved numeric;
    v_excess numeric;
    v_take numeric;
    r record;
BEGIN
    SELECT q.reserved INTO v_reserved FROM stock.quant q
     WHERE q.company_id = p_company AND q.product_id = p_product AND q.location_id = p_location
       AND q.lot_id = coalesce(p_lot, 0)
       FOR UPDATE;
    v_excess := coalesce(v_reserved, 0) - greatest(p_keep, 0);
    IF v_excess <= 0 THEN
        RETURN;
    END IF;
    FOR r IN SELECT mv.id, mv.reserved_qty FROM stock.move mv
              WHERE mv.company_id = p_company AND mv.product_id = p_product AND mv.location_id = p_location
                AND coalesce(mv.lot_id, 0) = coalesce(p_lot, 0) AND mv.state IN ('confirmed', 'assigned')
                AND mv.reserved_qty > 0 AND mv.id IS DISTINCT FROM p_except
              ORDER BY mv.id DESC
                FOR UPDATE SKIP LOCKED
    LOOP
        EXIT WHEN v_excess <= 0;
        v_take := least(v_excess, r.reserved_qty);
        UPDATE stock.move SET reserved_qty = reserved_qty - v_take, state = 'confirmed'
         WHERE company_id = p_company AND id = r.id;
        UPDATE stock.quant SET reserved = reserved - v_take
         WHERE company_id = p_company AND product_id = p_product AND location_id = p_location AND lot_id = coalesce(p_lot, 0);
        v_excess := v_excess - v_take;
    END LOOP;
    IF v_excess > 0 THEN
        RAISE EXCEPTION 'could not free the reservations of product % in location %', p_product, p_location
            USING ERRCODE = 'serialization_failure',
                  DETAIL = format('%s stays reserved by moves that another transaction is changing.', v_excess),
                  HINT = 'Retry the transaction.';
    END IF;
END $$;

CREATE FUNCTION stock.unreserve(p_move bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:write');
BEGIN
    PERFORM stock._lock_products(m.company_id, ARRAY[m.product_id]);   -- before quants, as validate()
    IF m.state NOT IN ('confirmed', 'assigned') THEN
        RAISE EXCEPTION 'move % is %: nothing is reserved', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._release(m);
    UPDATE stock.move SET state = 'confirmed' WHERE company_id = m.company_id AND id = m.id;
END $$;

CREATE FUNCTION stock.cancel(p_move bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:write');
BEGIN
    PERFORM stock._lock_products(m.company_id, ARRAY[m.product_id]);   -- before quants, as validate()
    IF m.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'move % is already %', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._release(m);
    UPDATE stock.move SET state = 'cancelled' WHERE company_id = m.company_id AND id = m.id;
END $$;

-- Add p_delta to a quant of an internal location.
CREATE FUNCTION stock._quant_add(p_company bigint, p_product bigint, p_location bigint, p_lot bigint,
                                 p_delta numeric, p_date timestamptz) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    v_quantity numeric;
BEGIN
    -- PL/pgSQL rather than SQL: a SQL function plans its statement again at
    -- every call, this one keeps its plan (#16.1)
    INSERT INTO stock.quant AS q (company_id, product_id, location_id, lot_id, quantity, in_date)
    VALUES (p_company, p_product, p_location, coalesce(p_lot, 0), p_delta, p_date)
    ON CONFLICT (company_id, product_id, location_id, lot_id)
    DO UPDATE SET quantity = q.quantity + EXCLUDED.quantity
    RETURNING quantity INTO v_quantity;
    RETURN v_quantity;
END $$;
