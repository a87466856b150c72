-- Vendors' prices and purchase orders (docs/purchasing.md): receipts are
-- stock moves supplier -> stock valued at the order line price.

CREATE TABLE purchase.supplier_info (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    vendor_id bigint NOT NULL,
    price numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity'),
    lead_days integer NOT NULL CHECK (lead_days >= 0),
    min_qty numeric NOT NULL DEFAULT 0 CHECK (min_qty >= 0 AND min_qty < 'Infinity'),
    active boolean NOT NULL DEFAULT true,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, vendor_id) REFERENCES erp.partner (company_id, id)
);
CREATE INDEX supplier_info_product_idx ON purchase.supplier_info (company_id, product_id) WHERE active;
COMMENT ON TABLE purchase.supplier_info IS 'Vendor prices per product: price per product unit, lead time in days, minimum quantity';

CREATE TABLE purchase.order (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    vendor_id bigint NOT NULL,
    state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'confirmed', 'done', 'cancelled')),
    date_planned timestamptz NOT NULL,
    location_id bigint NOT NULL,
    backorder_of bigint,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at timestamptz,
    done_at timestamptz,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, vendor_id) REFERENCES erp.partner (company_id, id),
    FOREIGN KEY (company_id, location_id) REFERENCES stock.location (company_id, id)
);
CREATE INDEX order_id_idx ON purchase.order (id);

CREATE TABLE purchase.order_line (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    order_id bigint NOT NULL,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    price numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity'),
    move_id bigint,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, order_id) REFERENCES purchase.order (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, move_id) REFERENCES stock.move (company_id, id)
);
CREATE INDEX order_line_order_idx ON purchase.order_line (company_id, order_id);
CREATE INDEX order_line_product_idx ON purchase.order_line (company_id, product_id);

-- A vendor of the company: an existing partner of kind vendor or both.
CREATE FUNCTION purchase._vendor(p_company bigint, p_vendor bigint) RETURNS erp.partner
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v erp.partner;
BEGIN
    SELECT * INTO v FROM erp.partner pa WHERE pa.id = p_vendor;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'erp.partner:read')
                                                AND erp._row_visible('erp.partner', v.id))) THEN
        PERFORM erp._require_signed_in();
        RAISE EXCEPTION 'partner % does not exist', coalesce(p_vendor::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_company IS NOT NULL AND v.company_id <> p_company THEN
        RAISE EXCEPTION 'partner % belongs to another company', v.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The partner belongs to company %s, the product to company %s.', v.company_id, p_company);
    END IF;
    IF v.kind NOT IN ('vendor', 'both') OR NOT v.active THEN
        RAISE EXCEPTION 'partner % is not an active vendor', v.name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

CREATE FUNCTION purchase.add_supplier(p_product bigint, p_vendor bigint, p_price numeric, p_lead_days integer,
                                      p_min_qty numeric DEFAULT 0)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v erp.partner := purchase._vendor(p.company_id, p_vendor);
    v_id bigint;
BEGIN
    PERFORM stock._require('purchase.supplier_info:create', p.company_id);
    IF p_price IS NULL OR NOT (p_price >= 0 AND p_price < 'Infinity') THEN
        RAISE EXCEPTION 'price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lead_days IS NULL OR p_lead_days < 0 THEN
        RAISE EXCEPTION 'lead time must be zero or more days' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lead_days > mrp._max_days() THEN
        RAISE EXCEPTION 'lead time is out of range' USING ERRCODE = 'numeric_value_out_of_range',
            DETAIL = format('Lead times are at most %s days; the value given is %s.', mrp._max_days(), p_lead_days);
    END IF;
    IF p_min_qty IS NULL OR NOT (p_min_qty >= 0 AND p_min_qty < 'Infinity') THEN
        RAISE EXCEPTION 'minimum quantity must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO purchase.supplier_info (company_id, product_id, vendor_id, price, lead_days, min_qty)
    VALUES (p.company_id, p.id, v.id, round(p_price, (SELECT c.price_precision FROM erp.company c WHERE c.id = p.company_id)),
            p_lead_days, p_min_qty)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION purchase.add_supplier(bigint, bigint, numeric, integer, numeric) IS
    'A vendor''s price, lead time and minimum quantity for a product (needs purchase.supplier_info:create)';

-- The supplier for a quantity: valid (minimum quantity reached), cheapest,
-- then shortest lead time, then oldest; optionally of one vendor.
CREATE FUNCTION purchase.best_supplier(p_product bigint, p_qty numeric, p_vendor bigint DEFAULT NULL)
RETURNS purchase.supplier_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.* FROM purchase.supplier_info s
      JOIN stock.product p ON p.company_id = s.company_id AND p.id = s.product_id
      JOIN erp.partner v ON v.company_id = s.company_id AND v.id = s.vendor_id AND v.active
     WHERE s.product_id = p_product AND s.active AND s.min_qty <= p_qty
       AND (p_vendor IS NULL OR s.vendor_id = p_vendor)
       AND (erp._is_bootstrap() OR (erp.company_allowed(s.company_id, 'purchase.supplier_info:read')
                                    AND erp._row_visible('purchase.supplier_info', s.id)))
     ORDER BY s.price, s.lead_days, s.id
     LIMIT 1
$$;
COMMENT ON FUNCTION purchase.best_supplier(bigint, numeric, bigint) IS
    'The cheapest valid supplier line for the quantity (then the shortest lead time); NULL when none';

CREATE FUNCTION purchase._order_for_update(p_order bigint, p_code text) RETURNS purchase.order
LANGUAGE plpgsql AS $$
DECLARE
    v purchase.order;
BEGIN
    SELECT * INTO v FROM purchase.order o WHERE o.id = p_order FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'purchase.order:read')
                                                AND erp._row_visible('purchase.order', v.id))) THEN
        PERFORM erp._require_signed_in();
        RAISE EXCEPTION 'purchase order % does not exist', coalesce(p_order::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

-- Where receipts go: the given warehouse of the company, or its only one.
CREATE FUNCTION purchase._warehouse(p_company bigint, p_warehouse bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint;
    n int;
BEGIN
    SELECT count(*), min(w.location_id) INTO n, v FROM stock.warehouse w
     WHERE w.company_id = p_company AND (p_warehouse IS NULL OR (w.id = p_warehouse AND erp._row_visible('stock.warehouse', w.id)));
    IF p_warehouse IS NOT NULL AND n = 0 THEN
        RAISE EXCEPTION 'warehouse % does not exist in company %', p_warehouse, p_company
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n <> 1 THEN
        RAISE EXCEPTION 'company % has % warehouses: name one', p_company, n
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass p_warehouse when a company has no warehouse or several.';
    END IF;
    RETURN v;
END $$;

CREATE FUNCTION purchase.create_order(p_vendor bigint, p_lines jsonb, p_date_planned timestamptz DEFAULT NULL,
                                      p_warehouse bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v erp.partner := purchase._vendor(NULL, p_vendor);
    c erp.company;
    l jsonb;
    pr stock.product;
    s purchase.supplier_info;
    v_qty numeric;
    v_price numeric;
    v_order bigint;
    v_lead int := 0;
BEGIN
    PERFORM stock._require('purchase.order:create', v.company_id);
    SELECT * INTO c FROM erp.company WHERE id = v.company_id;
    IF jsonb_typeof(p_lines) IS DISTINCT FROM 'array' OR jsonb_array_length(p_lines) = 0 THEN
        RAISE EXCEPTION 'a purchase order needs at least one line'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Lines are a JSON array of {"product": id, "qty": n, "price": p}.';
    END IF;
    PERFORM mrp._planning_date(p_date_planned, 'planned date');
    INSERT INTO purchase.order (company_id, vendor_id, date_planned, location_id)
    VALUES (v.company_id, v.id, coalesce(p_date_planned, now()), purchase._warehouse(v.company_id, p_warehouse))
    RETURNING id INTO v_order;
    FOR l IN SELECT * FROM jsonb_array_elements(p_lines) LOOP
        pr := mrp._component(v.company_id, l, 'order line');
        v_qty := mrp._positive(l->'qty', 'quantity');
        IF l ? 'price' AND jsonb_typeof(l->'price') <> 'null' THEN
            IF jsonb_typeof(l->'price') <> 'number' OR NOT ((l->>'price')::numeric >= 0 AND (l->>'price')::numeric < 'Infinity') THEN
                RAISE EXCEPTION 'price must be zero or positive' USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = format('Got %s.', erp._echo((l->'price')::text));
            END IF;
            v_price := (l->>'price')::numeric;
        ELSE
            s := purchase.best_supplier(pr.id, v_qty, v.id);
            IF s.id IS NULL THEN
                RAISE EXCEPTION 'no price for product % from vendor %', pr.sku, v.name
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Give the line a "price", or add the vendor''s price with purchase.add_supplier().';
            END IF;
            v_price := s.price;
            v_lead := greatest(v_lead, s.lead_days);
        END IF;
        INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price)
        VALUES (v.company_id, v_order, pr.id, v_qty, round(v_price, c.price_precision));
    END LOOP;
    IF p_date_planned IS NULL AND v_lead > 0 THEN
        UPDATE purchase.order SET date_planned = now() + make_interval(days => v_lead)
         WHERE company_id = v.company_id AND id = v_order;
    END IF;
    RETURN v_order;
END $$;
COMMENT ON FUNCTION purchase.create_order(bigint, jsonb, timestamptz, bigint) IS
    'Create a draft purchase order; a line without price takes the vendor''s price, and the planned date defaults to now + the longest lead time';

CREATE FUNCTION purchase.confirm(p_order bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o purchase.order := purchase._order_for_update(p_order, 'purchase.order:write');
    r record;
    v_move bigint;
BEGIN
    IF o.state <> 'draft' THEN
        RAISE EXCEPTION 'purchase order % is %, not draft', o.id, o.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT * FROM purchase.order_line ol WHERE ol.company_id = o.company_id AND ol.order_id = o.id ORDER BY ol.id LOOP
        v_move := stock.create_move(r.product_id, r.qty, stock.virtual_location(o.company_id, 'supplier'), o.location_id,
                                    r.price, o.date_planned, 'PO/' || o.id);
        PERFORM stock.confirm(v_move);
        UPDATE purchase.order_line SET move_id = v_move WHERE company_id = r.company_id AND id = r.id;
    END LOOP;
    UPDATE purchase.order SET state = 'confirmed', confirmed_at = now() WHERE company_id = o.company_id AND id = o.id;
END $$;
COMMENT ON FUNCTION purchase.confirm(bigint) IS
    'Confirm a draft order: one incoming move per line, supplier -> stock at the planned date (needs purchase.order:write)';

-- Receive what arrived: p_lines [{"product": id, "qty": n}] (all when NULL).
-- What is not received moves, with its moves, to a backorder order, whose id
-- is returned.
-- With p_idempotency_key, a retry returns the first receipt's backorder and
-- receives nothing more (#14.6).
CREATE FUNCTION purchase.receive(p_order bigint, p_lines jsonb DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o purchase.order := purchase._order_for_update(p_order, 'purchase.order:receive');
    r record;
    l jsonb;
    v_got jsonb := '{}';   -- product id -> quantity still to spread over its lines
    v_take numeric;
    v_left numeric;
    v_back bigint;
    v_back_move bigint;
    v_idem record := stock._idempotency_claim(o.company_id, p_idempotency_key, 'purchase.receive', jsonb_build_array(p_order, p_lines));
BEGIN
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(o.company_id, now(), format('receipt of purchase order %s', o.id));
    IF o.state = 'draft' THEN
        RAISE EXCEPTION 'purchase order % is draft: only confirmed orders are received', o.id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Confirm it with purchase.confirm() first.';
    ELSIF o.state <> 'confirmed' THEN
        RAISE EXCEPTION 'purchase order % is %: only confirmed orders are received', o.id, o.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lines IS NOT NULL THEN
        IF jsonb_typeof(p_lines) <> 'array' OR jsonb_array_length(p_lines) = 0 THEN
            RAISE EXCEPTION 'received lines must be a non-empty JSON array' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = 'Lines are [{"product": id, "qty": n}].';
        END IF;
        FOR l IN SELECT * FROM jsonb_array_elements(p_lines) LOOP
            IF jsonb_typeof(l) <> 'object' OR jsonb_typeof(l->'product') IS DISTINCT FROM 'number'
               OR (l->>'product') !~ '^[0-9]{1,18}$' THEN
                RAISE EXCEPTION 'each received line needs a numeric "product"' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM purchase.order_line ol WHERE ol.company_id = o.company_id AND ol.order_id = o.id
                              AND ol.product_id = (l->>'product')::bigint) THEN
                RAISE EXCEPTION 'product % is not on purchase order %', l->>'product', o.id USING ERRCODE = 'invalid_parameter_value';
            END IF;
            v_got := v_got || jsonb_build_object(l->>'product',
                       coalesce((v_got->>(l->>'product'))::numeric, 0) + mrp._positive(l->'qty', 'received quantity'));
        END LOOP;
        FOR r IN SELECT key, value::text::numeric AS qty FROM jsonb_each(v_got) LOOP
            IF r.qty > (SELECT sum(ol.qty) FROM purchase.order_line ol
                         WHERE ol.company_id = o.company_id AND ol.order_id = o.id AND ol.product_id = r.key::bigint) THEN
                RAISE EXCEPTION 'more of product % received than ordered', r.key
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Receive the extra quantity with another order.';
            END IF;
        END LOOP;
    END IF;
    FOR r IN SELECT ol.*, mv.qty AS move_qty FROM purchase.order_line ol
               JOIN stock.move mv ON mv.company_id = ol.company_id AND mv.id = ol.move_id
              WHERE ol.company_id = o.company_id AND ol.order_id = o.id ORDER BY ol.id
    LOOP
        IF p_lines IS NULL THEN
            v_take := r.qty;
        ELSE
            v_take := least(r.qty, coalesce((v_got->>r.product_id::text)::numeric, 0));
            v_got := v_got || jsonb_build_object(r.product_id::text, coalesce((v_got->>r.product_id::text)::numeric, 0) - v_take);
        END IF;
        v_left := r.qty - v_take;
        IF v_left > 0 AND v_back IS NULL THEN
            INSERT INTO purchase.order (company_id, vendor_id, state, date_planned, location_id, backorder_of, confirmed_at)
            VALUES (o.company_id, o.vendor_id, 'confirmed', o.date_planned, o.location_id, o.id, now())
            RETURNING id INTO v_back;
        END IF;
        IF v_take = 0 THEN
            -- nothing arrived: the whole line goes to the backorder
            UPDATE purchase.order_line SET order_id = v_back WHERE company_id = r.company_id AND id = r.id;
            CONTINUE;
        END IF;
        -- a receipt is posted when it happens, not at the planned date
        UPDATE stock.move SET date = now() WHERE company_id = r.company_id AND id = r.move_id;
        v_back_move := stock.validate(r.move_id, CASE WHEN v_left > 0 THEN v_take END);
        IF v_back_move IS NOT NULL THEN
            UPDATE stock.move SET date = o.date_planned WHERE company_id = r.company_id AND id = v_back_move;
        END IF;
        IF v_left > 0 THEN
            UPDATE purchase.order_line SET qty = v_take WHERE company_id = r.company_id AND id = r.id;
            INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price, move_id)
            VALUES (o.company_id, v_back, r.product_id, v_left, r.price, v_back_move);
        END IF;
    END LOOP;
    UPDATE purchase.order SET state = 'done', done_at = now() WHERE company_id = o.company_id AND id = o.id;
    PERFORM stock._idempotency_done(o.company_id, p_idempotency_key, to_jsonb(v_back));
    RETURN v_back;
END $$;
COMMENT ON FUNCTION purchase.receive(bigint, jsonb, text) IS
    'Receive a confirmed order (all, or the given quantities): receipts valued at the line price; the rest goes to a backorder order whose id is returned';

CREATE FUNCTION purchase.cancel(p_order bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o purchase.order := purchase._order_for_update(p_order, 'purchase.order:write');
    r record;
BEGIN
    IF o.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'purchase order % is already %', o.id, o.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT ol.move_id FROM purchase.order_line ol
               JOIN stock.move mv ON mv.company_id = ol.company_id AND mv.id = ol.move_id
              WHERE ol.company_id = o.company_id AND ol.order_id = o.id AND mv.state NOT IN ('done', 'cancelled')
    LOOP
        PERFORM stock.cancel(r.move_id);
    END LOOP;
    UPDATE purchase.order SET state = 'cancelled' WHERE company_id = o.company_id AND id = o.id;
END $$;
COMMENT ON FUNCTION purchase.cancel(bigint) IS 'Cancel a draft or confirmed order and its moves';
