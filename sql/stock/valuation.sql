-- Valuation: layers, running totals per product, journal entries. Rounding
-- is to the company's currency rounding through stock.value_share() and
-- stock.round_to() (C, src/valuation/share.c); see docs/valuation.md.

CREATE TABLE stock.valuation_layer (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    move_id bigint,
    created_at timestamptz NOT NULL,
    quantity numeric NOT NULL CHECK (stock._finite(quantity)),
    unit_cost numeric NOT NULL CHECK (stock._finite(unit_cost)),
    value numeric NOT NULL CHECK (stock._finite(value)),
    remaining_qty numeric NOT NULL DEFAULT 0 CHECK (stock._finite(remaining_qty)),
    remaining_value numeric NOT NULL DEFAULT 0 CHECK (stock._finite(remaining_value)),
    description text NOT NULL,
    parent_layer_id bigint,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, move_id) REFERENCES stock.move (company_id, id)
);
-- Open layers, in date order (FIFO consumes by date, then id), in two partial
-- indexes (#16): the layers in stock, which deliveries consume, and the owed
-- layers of negative stock, which receipts settle. Each lookup of a posting
-- reads the rows it uses, however many layers of the other kind are open.
CREATE INDEX valuation_layer_in_stock_idx ON stock.valuation_layer (company_id, product_id, created_at, id)
    WHERE remaining_qty > 0;
CREATE INDEX valuation_layer_owed_idx ON stock.valuation_layer (company_id, product_id, created_at, id)
    WHERE remaining_qty < 0;
CREATE INDEX valuation_layer_move_idx ON stock.valuation_layer (company_id, move_id);
CREATE INDEX valuation_layer_product_date_idx ON stock.valuation_layer (company_id, product_id, created_at);
COMMENT ON TABLE stock.valuation_layer IS
    'Valuation layers: one per valued move or correction; remaining_* track what is still in stock (negative: owed)';

-- Running totals per product, locked by every posting of the product.
CREATE TABLE stock.product_value (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    qty numeric NOT NULL DEFAULT 0 CHECK (stock._finite(qty)),
    value numeric NOT NULL DEFAULT 0 CHECK (stock._finite(value)),
    last_unit_cost numeric CHECK (stock._finite(last_unit_cost)),
    last_date timestamptz,
    PRIMARY KEY (company_id, product_id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);

CREATE TABLE stock.journal_entry (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    date timestamptz NOT NULL,
    ref text,
    move_id bigint,
    layer_id bigint,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id)
);
CREATE TABLE stock.journal_line (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    entry_id bigint NOT NULL,
    account_id bigint NOT NULL,
    debit numeric NOT NULL DEFAULT 0 CHECK (stock._nonnegative_finite(debit)),
    credit numeric NOT NULL DEFAULT 0 CHECK (stock._nonnegative_finite(credit)),
    PRIMARY KEY (company_id, id),
    CHECK (debit = 0 OR credit = 0),
    FOREIGN KEY (company_id, entry_id) REFERENCES stock.journal_entry (company_id, id),
    FOREIGN KEY (company_id, account_id) REFERENCES stock.account (company_id, id)
);
CREATE INDEX journal_line_entry_idx ON stock.journal_line (company_id, entry_id);

-- An entry must balance when the transaction commits, in finite amounts:
-- NaN = NaN holds in PostgreSQL, so a NaN entry would "balance". In C
-- (src/valuation/balanced.c): a bulk write queues an event per line, and an
-- entry is summed once, not once per line.
CREATE FUNCTION stock._journal_balanced() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_valuation_journal_balanced';
CREATE CONSTRAINT TRIGGER journal_balanced AFTER INSERT OR UPDATE ON stock.journal_line
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stock._journal_balanced();

CREATE FUNCTION stock._account(p_company bigint, p_kind text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT a.id FROM stock.account a WHERE a.company_id = p_company AND a.kind = p_kind
$$;

-- A two-line entry: p_amount from p_credit to p_debit (swapped when negative).
CREATE FUNCTION stock._journal(p_company bigint, p_date timestamptz, p_ref text, p_move bigint, p_layer bigint,
                               p_debit text, p_credit text, p_amount numeric) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_entry bigint;
BEGIN
    IF p_amount = 0 THEN
        RETURN;
    END IF;
    INSERT INTO stock.journal_entry (company_id, date, ref, move_id, layer_id)
    VALUES (p_company, p_date, p_ref, p_move, p_layer) RETURNING id INTO v_entry;
    INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)
    VALUES (p_company, v_entry, stock._account(p_company, CASE WHEN p_amount > 0 THEN p_debit ELSE p_credit END), abs(p_amount), 0),
           (p_company, v_entry, stock._account(p_company, CASE WHEN p_amount > 0 THEN p_credit ELSE p_debit END), 0, abs(p_amount));
END $$;

-- The account facing stock valuation for a move from or to a location of this usage
-- (src/valuation/backdate.c inlines the same CASE: keep them alike).
CREATE FUNCTION stock._counterpart(p_usage text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_usage WHEN 'supplier' THEN 'stock_input' WHEN 'transit' THEN 'stock_input'
                        WHEN 'customer' THEN 'stock_output' WHEN 'production' THEN 'stock_output'
                        ELSE 'inventory_loss' END
$$;

-- Post the value of a done move: its layer, the layers it consumes or
-- settles, the journal entries and the running totals (C, src/valuation/post.c).
-- Called by validate() with the move and the product's running totals locked.
CREATE FUNCTION stock._value_move(m stock.move, p_in boolean, p_counterpart text) RETURNS numeric
    LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'pgerp_valuation_value_move';

-- Make a move done: quants, then value. Returns the backorder move, if any.
-- With p_idempotency_key, a retry returns the first call's backorder (#14.6).
CREATE FUNCTION stock.validate(p_move bigint, p_qty numeric DEFAULT NULL, p_idempotency_key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:validate');
    v_idem record;
    v_from stock.location;
    v_to stock.location;
    v_allow boolean;
    v_left numeric;
    v_backorder bigint;
    v_serial_count numeric;
    v_value numeric;
    v_tracking text;
    v_on_hand numeric;
    v_reserved numeric;
BEGIN
    v_idem := stock._idempotency_claim(m.company_id, p_idempotency_key, 'stock.validate', jsonb_build_array(p_move, p_qty));
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF m.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'move % is already %', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_qty IS NOT NULL AND NOT (p_qty > 0 AND p_qty <= m.qty) THEN
        RAISE EXCEPTION 'quantity done must be positive and at most %', m.qty
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    v_from := stock._location(m.company_id, m.location_id);
    v_to := stock._location(m.company_id, m.location_dest_id);
    IF (v_from.usage = 'internal') <> (v_to.usage = 'internal') THEN
        PERFORM stock._check_lock_date(m.company_id, m.date, format('move %s', m.id));   -- valued: before any write
    END IF;
    -- the product's running totals first, then quants: the order every
    -- posting and reservation of the product takes locks in
    PERFORM stock._lock_products(m.company_id, ARRAY[m.product_id]);
    PERFORM stock._release(m);
    IF p_qty IS NOT NULL AND p_qty < m.qty THEN
        INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id, state,
                                unit_cost, date, ref, lot_id, origin_move_id, backorder_of)
        VALUES (m.company_id, m.product_id, m.qty - p_qty, (SELECT uom FROM stock.product WHERE company_id = m.company_id AND id = m.product_id),
                m.qty - p_qty, m.location_id, m.location_dest_id, 'confirmed', m.unit_cost, m.date, m.ref, m.lot_id,
                m.origin_move_id, m.id)
        RETURNING id INTO v_backorder;
        m.qty := p_qty;
        UPDATE stock.move SET qty = p_qty, uom = (SELECT uom FROM stock.product WHERE company_id = m.company_id AND id = m.product_id),
                              uom_qty = p_qty
         WHERE company_id = m.company_id AND id = m.id;
    END IF;


    IF v_from.usage = 'internal' THEN
        -- what other moves reserved is not available to this one (its own
        -- reservation was released above); the quant is locked first
        SELECT q.quantity, q.reserved INTO v_on_hand, v_reserved FROM stock.quant q
         WHERE q.company_id = m.company_id AND q.product_id = m.product_id AND q.location_id = v_from.id
           AND q.lot_id = coalesce(m.lot_id, 0)
           FOR UPDATE;
        v_on_hand := coalesce(v_on_hand, 0);
        v_reserved := coalesce(v_reserved, 0);
        SELECT s.allow_negative INTO v_allow FROM stock.company_setting s WHERE s.company_id = m.company_id;
        IF v_on_hand - v_reserved < m.qty AND NOT v_allow THEN
            RAISE EXCEPTION 'not enough stock of product % in %', m.product_id, v_from.name
                USING ERRCODE = 'check_violation',
                      DETAIL = CASE WHEN v_reserved > 0
                                    THEN format('%s available (%s on hand, %s reserved by other moves), %s requested.',
                                                v_on_hand - v_reserved, v_on_hand, v_reserved, m.qty)
                                    ELSE format('%s available, %s requested.', v_on_hand, m.qty) END,
                      HINT = 'Negative stock is forbidden for this company (stock.company_setting.allow_negative).';
        END IF;
        IF v_reserved > greatest(v_on_hand - m.qty, 0) THEN
            -- negative stock allowed: this move takes reserved stock
            PERFORM stock._free_reserved(m.company_id, m.product_id, v_from.id, m.lot_id, v_on_hand - m.qty, m.id);
        END IF;
        v_left := stock._quant_add(m.company_id, m.product_id, v_from.id, m.lot_id, -m.qty, m.date);
    END IF;
    IF v_to.usage = 'internal' THEN
        PERFORM stock._quant_add(m.company_id, m.product_id, v_to.id, m.lot_id, m.qty, m.date);
        SELECT p.tracking INTO v_tracking FROM stock.product p WHERE p.company_id = m.company_id AND p.id = m.product_id;
        IF v_tracking = 'serial' THEN
            SELECT sum(q.quantity) INTO v_serial_count FROM stock.quant q JOIN stock.location l
                ON l.company_id = q.company_id AND l.id = q.location_id AND l.usage = 'internal'
             WHERE q.company_id = m.company_id AND q.product_id = m.product_id AND q.lot_id = m.lot_id;
            IF v_serial_count > 1 THEN
                RAISE EXCEPTION 'serial number % is already in stock', (SELECT name FROM stock.lot WHERE company_id = m.company_id AND id = m.lot_id)
                    USING ERRCODE = 'unique_violation';
            END IF;
        END IF;
    END IF;
    IF (v_from.usage = 'internal') <> (v_to.usage = 'internal') THEN
        v_value := stock._value_move(m, v_to.usage = 'internal',
                                     stock._counterpart(CASE WHEN v_to.usage = 'internal' THEN v_from.usage ELSE v_to.usage END));
    END IF;
    UPDATE stock.move SET state = 'done', done_at = now(), value = v_value, reserved_qty = 0
     WHERE company_id = m.company_id AND id = m.id;
    PERFORM stock._idempotency_done(m.company_id, p_idempotency_key, to_jsonb(v_backorder));
    RETURN v_backorder;
END $$;

-- A move created and validated at once (the shortcuts below).
CREATE FUNCTION stock._done_move(p_product bigint, p_qty numeric, p_from bigint, p_to bigint, p_unit_cost numeric,
                                 p_date timestamptz, p_ref text, p_lot text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_move bigint := stock.create_move(p_product, p_qty, p_from, p_to, p_unit_cost, p_date, p_ref, NULL, p_lot);
BEGIN
    PERFORM stock.validate(v_move);
    RETURN v_move;
END $$;

-- The warehouse of a product's company: the given one, or its only one.
CREATE FUNCTION stock._warehouse_location(p stock.product, p_warehouse bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint;
    n int;
BEGIN
    IF p_warehouse IS NOT NULL THEN
        SELECT w.location_id INTO v FROM stock.warehouse w WHERE w.company_id = p.company_id AND w.id = p_warehouse
           AND erp._row_visible('stock.warehouse', w.id);
        IF v IS NULL THEN
            RAISE EXCEPTION 'warehouse % does not exist in company %', p_warehouse, p.company_id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN v;
    END IF;
    SELECT count(*), min(w.location_id) INTO n, v FROM stock.warehouse w WHERE w.company_id = p.company_id;
    IF n <> 1 THEN
        RAISE EXCEPTION 'company % has % warehouses: name one', p.company_id, n
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass p_warehouse when a company has no warehouse or several.';
    END IF;
    RETURN v;
END $$;

-- The shortcuts below: a move made and done at once. With p_idempotency_key,
-- a retry with the same arguments returns the first move, posted once (#14.6).
CREATE FUNCTION stock.receive(p_product bigint, p_qty numeric, p_unit_cost numeric, p_warehouse bigint DEFAULT NULL,
                              p_ref text DEFAULT NULL, p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL,
                              p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.receive',
        jsonb_build_array(p_product, p_qty, p_unit_cost, p_warehouse, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, p_date, 'receipt');
    v_id := stock._done_move(p.id, p_qty, stock.virtual_location(p.company_id, 'supplier'),
                             stock._warehouse_location(p, p_warehouse), p_unit_cost, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE FUNCTION stock.deliver(p_product bigint, p_qty numeric, p_warehouse bigint DEFAULT NULL, p_ref text DEFAULT NULL,
                              p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.deliver',
        jsonb_build_array(p_product, p_qty, p_warehouse, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, p_date, 'delivery');
    v_id := stock._done_move(p.id, p_qty, stock._warehouse_location(p, p_warehouse),
                             stock.virtual_location(p.company_id, 'customer'), NULL, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE FUNCTION stock.transfer(p_product bigint, p_qty numeric, p_from bigint, p_to bigint, p_ref text DEFAULT NULL,
                               p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.transfer',
        jsonb_build_array(p_product, p_qty, p_from, p_to, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF stock._is_valued(p.company_id, p_from, p_to) THEN
        PERFORM stock._check_lock_date(p.company_id, p_date, 'transfer');
    END IF;
    v_id := stock._done_move(p.id, p_qty, p_from, p_to, NULL, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE FUNCTION stock.scrap(p_product bigint, p_qty numeric, p_warehouse bigint DEFAULT NULL, p_ref text DEFAULT NULL,
                            p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.scrap',
        jsonb_build_array(p_product, p_qty, p_warehouse, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, p_date, 'scrap');
    v_id := stock._done_move(p.id, p_qty, stock._warehouse_location(p, p_warehouse),
                             stock.virtual_location(p.company_id, 'scrap'), NULL, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

-- Inventory count: moves the difference from or to the inventory location.
-- Returns NULL when the count matches. With p_idempotency_key, a retry
-- returns the first count's move (or NULL) and counts nothing again (#14.6).
CREATE FUNCTION stock.adjust(p_product bigint, p_location bigint, p_counted_qty numeric, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_loc stock.location := stock._location(p.company_id, p_location);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.adjust',
                                              jsonb_build_array(p_product, p_location, p_counted_qty));
    v_diff numeric;
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF p_counted_qty IS NULL OR NOT (p_counted_qty >= 0 AND p_counted_qty < 'Infinity') THEN
        RAISE EXCEPTION 'counted quantity must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_counted_qty, 'counted quantity', stock._max_qty());
    IF v_loc.usage <> 'internal' THEN
        RAISE EXCEPTION 'location % holds no stock', v_loc.name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.tracking <> 'none' THEN
        RAISE EXCEPTION 'count lot-tracked products per lot' USING ERRCODE = 'feature_not_supported';
    END IF;
    v_diff := p_counted_qty - stock.on_hand(p.id, v_loc.id);
    IF v_diff = 0 THEN
        PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, 'null');
        RETURN NULL;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, now(), 'inventory adjustment');
    IF abs(v_diff) > stock._max_qty() THEN
        RAISE EXCEPTION 'the count differs from the stock on hand by more than one move may carry'
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('The difference is %s; the limit is %s.', erp._echo(v_diff::text), stock._max_qty());
    END IF;
    v_id := stock._done_move(p.id, abs(v_diff),
                             CASE WHEN v_diff > 0 THEN stock.virtual_location(p.company_id, 'inventory') ELSE v_loc.id END,
                             CASE WHEN v_diff > 0 THEN v_loc.id ELSE stock.virtual_location(p.company_id, 'inventory') END,
                             NULL, now(), 'Inventory adjustment', NULL);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

-- Quantity and value of a product (at a date: layers up to it): its latest
-- period snapshot at or before the date (sql/stock/snapshot.sql) plus the
-- layers from the snapshot's end on.
CREATE FUNCTION stock.valuation(p_product bigint, p_at timestamptz DEFAULT NULL,
                                OUT qty numeric, OUT value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_from timestamptz;
    v_qty numeric;
    v_value numeric;
BEGIN
    PERFORM stock._check_date(p_at, 'as-of date', false);
    SELECT s.period_end, s.qty, s.value INTO v_from, v_qty, v_value
      FROM stock.valuation_snapshot s
     WHERE s.company_id = p.company_id AND s.product_id = p.id AND s.period_end <= coalesce(p_at, 'infinity')
     ORDER BY s.period_end DESC LIMIT 1;
    SELECT coalesce(v_qty, 0) + coalesce(sum(l.quantity), 0), coalesce(v_value, 0) + coalesce(sum(l.value), 0)
      INTO qty, value
      FROM stock.valuation_layer l
     WHERE l.company_id = p.company_id AND l.product_id = p.id
       AND l.created_at >= coalesce(v_from, '-infinity') AND l.created_at <= coalesce(p_at, 'infinity');
END $$;

-- Row security applies (SECURITY INVOKER): products of companies the caller
-- may read. An infinite as-of date is refused (22008), as stock.valuation()
-- does. With snapshots (sql/stock/snapshot.sql): the latest period end T at
-- or before the date that the company has snapshots of; each product with a
-- snapshot at T adds the company's layers dated in [T, at] (one range scan);
-- a product without one (never snapshotted, or stale) reads its own latest
-- earlier snapshot and layers. Without any snapshot: every layer up to the
-- date. In C (src/valuation/report.c) so that each input is read once and the
-- lines come out in sku order without a sort of the joined rows (#16.3).
CREATE FUNCTION stock.valuation_report(p_company bigint, p_at timestamptz DEFAULT NULL)
RETURNS TABLE (product_id bigint, sku text, qty numeric, value numeric, unit_cost numeric)
LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgerp_valuation_report';

-- New standard price: a revaluation layer for the stock on hand. The price
-- is recorded in stock.standard_price_history from now (or the product's last
-- valued date, if later) on: a move dated before is back-dated, and valued
-- at the price in force at its date.
CREATE FUNCTION stock.set_standard_price(p_product bigint, p_price numeric) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    pv stock.product_value;
    v_price numeric;
    v_value numeric;
    v_layer bigint;
    v_at timestamptz;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    IF p_price IS NULL OR NOT (p_price >= 0 AND p_price < 'Infinity') THEN
        RAISE EXCEPTION 'standard price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_price, 'standard price', stock._max_amount());
    PERFORM stock._check_lock_date(p.company_id, now(), 'standard price change');
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    v_price := round(p_price, c.price_precision);
    INSERT INTO stock.product_value (company_id, product_id) VALUES (p.company_id, p.id) ON CONFLICT DO NOTHING;
    SELECT * INTO pv FROM stock.product_value WHERE company_id = p.company_id AND product_id = p.id FOR UPDATE;
    UPDATE stock.product SET standard_price = v_price WHERE company_id = p.company_id AND id = p.id;
    IF v_price = p.standard_price THEN
        RETURN;
    END IF;
    v_at := greatest(now(), coalesce(pv.last_date, now()));
    PERFORM stock._record_history(p.company_id, p.id, v_at, v_price, NULL);
    -- later moves dated before this change are back-dated
    UPDATE stock.product_value SET last_date = v_at WHERE company_id = p.company_id AND product_id = p.id;
    IF p.cost_method <> 'standard' OR pv.qty = 0 THEN
        RETURN;
    END IF;
    v_value := stock.round_to(pv.qty * (v_price - p.standard_price), c.currency_rounding);
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, v_at, 0, 0, v_value,
            format('Product value manually modified (from %s to %s)', p.standard_price, v_price))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, v_at, 'Revaluation', NULL, v_layer, 'stock_valuation', 'price_difference', v_value);
    UPDATE stock.product_value SET value = value + v_value WHERE company_id = p.company_id AND product_id = p.id;
END $$;

-- Return (part of) a done move: the reverse move, valued at the original
-- move's unit cost. Returns the new move; with p_idempotency_key, a retry
-- returns the first return move and returns nothing more (#14.6).
CREATE FUNCTION stock.return_move(p_move bigint, p_qty numeric DEFAULT NULL, p_idempotency_key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:create');
    v_idem record := stock._idempotency_claim(m.company_id, p_idempotency_key, 'stock.return_move',
                                              jsonb_build_array(p_move, p_qty));
    v_returned numeric;
    v_qty numeric;
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:validate', m.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF m.state <> 'done' THEN
        RAISE EXCEPTION 'move % is %: only done moves are returned', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(sum(r.qty), 0) INTO v_returned FROM stock.move r
     WHERE r.company_id = m.company_id AND r.origin_move_id = m.id AND r.state <> 'cancelled';
    v_qty := coalesce(p_qty, m.qty - v_returned);
    IF v_qty <= 0 OR v_qty > m.qty - v_returned THEN
        RAISE EXCEPTION 'cannot return % of move %', erp._echo(v_qty::text), m.id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s was moved and %s already returned.', m.qty, v_returned);
    END IF;
    PERFORM stock._require('stock.move:validate', m.company_id);
    IF stock._is_valued(m.company_id, m.location_id, m.location_dest_id) THEN
        PERFORM stock._check_lock_date(m.company_id, greatest(now(), m.date), format('return of move %s', m.id));
    END IF;
    INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id, state,
                            unit_cost, date, ref, lot_id, origin_move_id)
    SELECT m.company_id, m.product_id, v_qty, p.uom, v_qty, m.location_dest_id, m.location_id, 'confirmed',
           m.unit_cost, greatest(now(), m.date), 'Return of ' || coalesce(m.ref, m.id::text), m.lot_id, m.id
      FROM stock.product p WHERE p.company_id = m.company_id AND p.id = m.product_id
    RETURNING id INTO v_id;
    PERFORM stock.validate(v_id);
    PERFORM stock._idempotency_done(m.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

-- What a replay of the product's valued history in date order finds different
-- from its stored move values, settlements, standard price and cost-method
-- changes and open layers (C, src/valuation/backdate.c); an error of the
-- replay is reported, not raised. Security invoker: row security applies
-- (a product the caller may not read has no problem); verify_valuation() calls it.
CREATE FUNCTION stock.replay_problems(p_company bigint, p_product bigint) RETURNS text[]
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'pgerp_valuation_replay_problems';

-- The product's history replayed after the unit cost of some of its done
-- receipts changed (C, src/valuation/backdate.c): the finished goods of a
-- production whose components a back-dated move re-valued (mrp._recost).
-- It locks the product's running totals as a posting does. Internal:
-- granted to no one; the pack's SECURITY DEFINER code calls it.
CREATE FUNCTION stock._recost_product(p_company bigint, p_product bigint, p_cause bigint) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'pgerp_valuation_recost_product';

-- Recompute from moves and layers; no row when quants, running totals,
-- layers and the journal agree, every amount is a finite number (NaN = NaN
-- holds in PostgreSQL: the comparisons alone would miss a NaN) and no quant
-- reserves more than it holds or than the moves reserved; and a replay of
-- each product's history in date order agrees with the stored values
-- (skipped for a product whose sums are not finite: that is reported).
CREATE FUNCTION stock.verify_valuation(p_product bigint DEFAULT NULL)
RETURNS TABLE (product_id bigint, problem text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH prod AS (
        SELECT p.* FROM stock.product p WHERE p_product IS NULL OR p.id = p_product
    ), moved AS (
        SELECT m.company_id, m.product_id,
               sum(CASE WHEN dl.usage = 'internal' AND sl.usage <> 'internal' THEN m.qty
                        WHEN sl.usage = 'internal' AND dl.usage <> 'internal' THEN -m.qty ELSE 0 END) AS qty,
               sum(coalesce(m.value, 0)) AS value
          FROM stock.move m
          JOIN stock.location sl ON sl.company_id = m.company_id AND sl.id = m.location_id
          JOIN stock.location dl ON dl.company_id = m.company_id AND dl.id = m.location_dest_id
         WHERE m.state = 'done'
         GROUP BY 1, 2
    ), quants AS (
        SELECT q.company_id, q.product_id, sum(q.quantity) AS qty, sum(q.reserved) AS reserved,
               bool_or(q.reserved > greatest(q.quantity, 0)) AS over_reserved
          FROM stock.quant q GROUP BY 1, 2
    ), reserving AS (
        SELECT m.company_id, m.product_id, sum(m.reserved_qty) AS qty
          FROM stock.move m
          JOIN stock.location sl ON sl.company_id = m.company_id AND sl.id = m.location_id AND sl.usage = 'internal'
         WHERE m.state IN ('confirmed', 'assigned') AND m.reserved_qty <> 0
         GROUP BY 1, 2
    ), layers AS (
        SELECT l.company_id, l.product_id, sum(l.quantity) AS qty, sum(l.value) AS value,
               sum(l.remaining_qty) AS rem_qty, sum(l.remaining_value) AS rem_value,
               sum(l.value) FILTER (WHERE l.move_id IS NOT NULL AND l.parent_layer_id IS NULL) AS move_value
          FROM stock.valuation_layer l GROUP BY 1, 2
    ), booked AS (
        SELECT l.company_id, l.product_id, sum(jl.debit - jl.credit) AS value
          FROM stock.journal_line jl
          JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id AND a.kind = 'stock_valuation'
          JOIN stock.journal_entry je ON je.company_id = jl.company_id AND je.id = jl.entry_id
          JOIN stock.valuation_layer l ON l.company_id = je.company_id AND l.id = je.layer_id
         GROUP BY 1, 2
    ), facts0 AS (
        SELECT p.id, p.company_id, p.cost_method,
               coalesce(mv.qty, 0) AS moved_qty, coalesce(q.qty, 0) AS quant_qty,
               coalesce(pv.qty, 0) AS pv_qty, coalesce(pv.value, 0) AS pv_value,
               coalesce(l.qty, 0) AS layer_qty, coalesce(l.value, 0) AS layer_value,
               coalesce(l.rem_qty, 0) AS rem_qty, coalesce(l.rem_value, 0) AS rem_value,
               coalesce(l.move_value, 0) AS layer_move_value, coalesce(mv.value, 0) AS move_value,
               coalesce(b.value, 0) AS booked,
               coalesce(q.reserved, 0) AS quant_reserved, coalesce(q.over_reserved, false) AS over_reserved,
               coalesce(r.qty, 0) AS move_reserved
          FROM prod p
          LEFT JOIN moved mv ON mv.company_id = p.company_id AND mv.product_id = p.id
          LEFT JOIN quants q ON q.company_id = p.company_id AND q.product_id = p.id
          LEFT JOIN stock.product_value pv ON pv.company_id = p.company_id AND pv.product_id = p.id
          LEFT JOIN layers l ON l.company_id = p.company_id AND l.product_id = p.id
          LEFT JOIN booked b ON b.company_id = p.company_id AND b.product_id = p.id
          LEFT JOIN reserving r ON r.company_id = p.company_id AND r.product_id = p.id
    ), facts AS (
        SELECT f.*, (f.moved_qty > '-Infinity' AND f.moved_qty < 'Infinity' AND f.quant_qty > '-Infinity' AND f.quant_qty < 'Infinity'
                   AND f.pv_qty > '-Infinity' AND f.pv_qty < 'Infinity' AND f.pv_value > '-Infinity' AND f.pv_value < 'Infinity'
                   AND f.layer_qty > '-Infinity' AND f.layer_qty < 'Infinity' AND f.layer_value > '-Infinity' AND f.layer_value < 'Infinity'
                   AND f.rem_qty > '-Infinity' AND f.rem_qty < 'Infinity' AND f.rem_value > '-Infinity' AND f.rem_value < 'Infinity'
                   AND f.layer_move_value > '-Infinity' AND f.layer_move_value < 'Infinity'
                   AND f.move_value > '-Infinity' AND f.move_value < 'Infinity' AND f.booked > '-Infinity' AND f.booked < 'Infinity'
                   AND f.quant_reserved > '-Infinity' AND f.quant_reserved < 'Infinity') AS finite
          FROM facts0 f
    )
    SELECT f.id, x.problem
      FROM facts f,
           LATERAL (VALUES
               (CASE WHEN NOT f.finite
                     THEN format('a quantity or value is not a finite number: moves %s / %s, quants %s, running totals %s / %s, layers %s / %s, account %s',
                                 f.moved_qty, f.move_value, f.quant_qty, f.pv_qty, f.pv_value, f.layer_qty, f.layer_value, f.booked) END),
               (CASE WHEN f.over_reserved THEN 'a quant reserves more than it holds' END),
               (CASE WHEN f.quant_reserved <> f.move_reserved
                     THEN format('quants have %s reserved but open moves %s', f.quant_reserved, f.move_reserved) END),
               (CASE WHEN f.quant_qty <> f.moved_qty THEN format('quants hold %s but done moves add up to %s', f.quant_qty, f.moved_qty) END),
               (CASE WHEN f.layer_qty <> f.moved_qty THEN format('layers hold %s but done moves add up to %s', f.layer_qty, f.moved_qty) END),
               (CASE WHEN f.pv_qty <> f.layer_qty OR f.pv_value <> f.layer_value
                     THEN format('running totals %s / %s differ from layers %s / %s', f.pv_qty, f.pv_value, f.layer_qty, f.layer_value) END),
               (CASE WHEN f.layer_move_value <> f.move_value THEN format('moves are valued %s but their layers %s', f.move_value, f.layer_move_value) END),
               (CASE WHEN f.rem_qty <> f.layer_qty THEN format('open layers hold %s of %s on hand', f.rem_qty, f.layer_qty) END),
               (CASE WHEN f.cost_method = 'fifo' AND f.rem_value <> f.layer_value
                     THEN format('open layers are worth %s of %s', f.rem_value, f.layer_value) END),
               (CASE WHEN f.booked <> f.layer_value THEN format('the stock valuation account holds %s, the layers %s', f.booked, f.layer_value) END)
           ) x(problem)
     WHERE x.problem IS NOT NULL
    UNION ALL
    SELECT f.id, r.problem
      FROM facts f, LATERAL unnest(stock.replay_problems(f.company_id, f.id)) r(problem)
     WHERE f.finite
     ORDER BY 1, 2
$$;
