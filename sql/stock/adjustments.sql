-- Landed costs, revaluation and change of cost method (docs/valuation.md).

CREATE TABLE stock.landed_cost (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    ref text,
    amount numeric NOT NULL CHECK (amount > 0 AND amount < 'Infinity'),
    split text NOT NULL CHECK (split IN ('equal', 'by_quantity', 'by_current_cost')),
    move_ids bigint[] NOT NULL,
    capitalised numeric NOT NULL CHECK (capitalised > '-Infinity' AND capitalised < 'Infinity'),
    expensed numeric NOT NULL CHECK (expensed > '-Infinity' AND expensed < 'Infinity'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id)
);

-- The share of a landed cost on each receipt, and how much of it is
-- capitalised as of today: a replay of back-dated moves (src/valuation/
-- backdate.c) re-splits each share by what its receipt still held at
-- created_at, and writes the difference as a correction (docs/valuation.md).
-- seq orders it among the layers posted at the same instant (drawn from the
-- layers' id sequence, as stock.standard_price_history.seq).
CREATE TABLE stock.landed_cost_line (
    company_id bigint NOT NULL,
    landed_cost_id bigint NOT NULL,
    move_id bigint NOT NULL,
    product_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    seq bigint NOT NULL,
    share numeric NOT NULL CHECK (share > '-Infinity' AND share < 'Infinity'),
    capitalised numeric NOT NULL CHECK (capitalised > '-Infinity' AND capitalised < 'Infinity'),
    PRIMARY KEY (company_id, landed_cost_id, move_id),
    FOREIGN KEY (company_id, landed_cost_id) REFERENCES stock.landed_cost (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
CREATE INDEX landed_cost_line_product ON stock.landed_cost_line (company_id, product_id);
SELECT pg_catalog.pg_extension_config_dump('stock.landed_cost_line', '');
COMMENT ON TABLE stock.landed_cost_line IS
    'Share of a landed cost per receipt and its part capitalised as of today (re-split by back-dated replays)';

-- Split p_amount over receipts; capitalise the share of each receipt still
-- in stock (its layer's remaining quantity), expense the share delivered.
-- With p_idempotency_key, a retry returns the first landed cost (#14.6).
CREATE FUNCTION stock.apply_landed_cost(p_moves bigint[], p_amount numeric, p_split text DEFAULT 'by_quantity',
                                        p_ref text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_company bigint;
    c erp.company;
    r record;
    v_total numeric;
    v_left numeric;
    v_share numeric;
    v_cap numeric;
    v_cap_total numeric := 0;
    v_n int;
    v_i int := 0;
    v_layer bigint;
    v_id bigint;
    v_idem record;
    v_at timestamptz;
    v_first record;
BEGIN
    IF p_moves IS NULL OR cardinality(p_moves) = 0 THEN
        RAISE EXCEPTION 'moves must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_amount IS NULL OR NOT (p_amount > 0 AND p_amount < 'Infinity') THEN
        RAISE EXCEPTION 'landed cost amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_amount, 'landed cost amount', stock._max_amount());
    IF p_split IS NULL OR p_split NOT IN ('equal', 'by_quantity', 'by_current_cost') THEN
        RAISE EXCEPTION 'invalid split %', erp._echo(p_split)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The splits are equal, by_quantity and by_current_cost.';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(p_moves) x) <> cardinality(p_moves) OR array_position(p_moves, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'moves must be distinct and not null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- every move: a done receipt into stock, of one company the caller may revalue
    FOR r IN SELECT x.id AS wanted, m.* FROM unnest(p_moves) x(id) LEFT JOIN stock.move m ON m.id = x.id LOOP
        IF r.company_id IS NULL OR NOT (erp._is_bootstrap() OR erp.company_allowed(r.company_id, 'stock.move:read')) THEN
            PERFORM erp._require_signed_in();
            RAISE EXCEPTION 'move % does not exist', r.wanted USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_company IS NULL THEN
            v_company := r.company_id;
        ELSIF v_company <> r.company_id THEN
            RAISE EXCEPTION 'moves belong to different companies' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF r.state <> 'done' OR coalesce(r.value, 0) <= 0 THEN
            RAISE EXCEPTION 'move % is not a done, valued receipt', r.id USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    PERFORM stock._require('stock.valuation:revalue', v_company);
    v_idem := stock._idempotency_claim(v_company, p_idempotency_key, 'stock.apply_landed_cost',
                                       jsonb_build_array(p_moves, p_amount, p_split, p_ref));
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    -- capitalised now, on receipts that must not be dated in a closed period
    SELECT m.id, m.date INTO v_first FROM stock.move m
     WHERE m.company_id = v_company AND m.id = ANY (p_moves) ORDER BY m.date, m.id LIMIT 1;
    PERFORM stock._check_lock_date(v_company, v_first.date, format('receipt %s of the landed cost', v_first.id));
    PERFORM stock._check_lock_date(v_company, now(), 'landed cost');
    SELECT * INTO c FROM erp.company WHERE id = v_company;
    IF stock.round_to(p_amount, c.currency_rounding) <> p_amount THEN
        RAISE EXCEPTION 'amount % is finer than the currency rounding %', erp._echo(p_amount::text), c.currency_rounding
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._lock_products(v_company, ARRAY(SELECT DISTINCT m.product_id FROM stock.move m
                                                  WHERE m.company_id = v_company AND m.id = ANY (p_moves)));

    SELECT sum(CASE p_split WHEN 'equal' THEN 1 WHEN 'by_quantity' THEN m.qty ELSE m.value END), count(*)
      INTO v_total, v_n
      FROM stock.move m WHERE m.company_id = v_company AND m.id = ANY (p_moves);
    INSERT INTO stock.landed_cost (company_id, ref, amount, split, move_ids, capitalised, expensed)
    VALUES (v_company, p_ref, p_amount, p_split, p_moves, 0, 0) RETURNING id INTO v_id;
    v_left := p_amount;
    FOR r IN SELECT m.*, l.id AS layer_id, l.quantity AS layer_qty, l.remaining_qty AS layer_remaining, p.cost_method,
                    CASE p_split WHEN 'equal' THEN 1 WHEN 'by_quantity' THEN m.qty ELSE m.value END AS weight
               FROM stock.move m
               JOIN stock.product p ON p.company_id = m.company_id AND p.id = m.product_id
               JOIN stock.valuation_layer l ON l.company_id = m.company_id AND l.move_id = m.id
                                           AND l.quantity > 0 AND l.parent_layer_id IS NULL
              WHERE m.company_id = v_company AND m.id = ANY (p_moves)
              ORDER BY m.id
    LOOP
        v_i := v_i + 1;
        -- shares add up to the amount exactly: the last takes what is left
        v_share := CASE WHEN v_i = v_n THEN v_left
                        ELSE stock.value_share(p_amount, v_total, r.weight, c.currency_rounding) END;
        v_left := v_left - v_share;
        v_cap := CASE WHEN r.cost_method = 'standard' OR r.layer_remaining <= 0 THEN 0
                      ELSE stock.value_share(v_share, r.layer_qty, least(r.layer_remaining, r.layer_qty), c.currency_rounding) END;
        -- dated now, or at the product's last valued move if later: the date order of the replay
        SELECT greatest(now(), coalesce(pv.last_date, now())) INTO v_at FROM stock.product_value pv
         WHERE pv.company_id = v_company AND pv.product_id = r.product_id;
        IF v_cap <> 0 THEN
            UPDATE stock.valuation_layer SET remaining_value = remaining_value + v_cap
             WHERE company_id = v_company AND id = r.layer_id;
            INSERT INTO stock.valuation_layer (company_id, product_id, move_id, created_at, quantity, unit_cost, value,
                                               description, parent_layer_id)
            VALUES (v_company, r.product_id, r.id, v_at, 0, 0, v_cap,
                    'Landed cost ' || coalesce(p_ref, v_id::text), r.layer_id)
            RETURNING id INTO v_layer;
            PERFORM stock._journal(v_company, v_at, p_ref, r.id, v_layer, 'stock_valuation', 'stock_input', v_cap);
            UPDATE stock.product_value
               SET value = value + v_cap, last_date = v_at,
                   last_unit_cost = CASE WHEN r.cost_method = 'avco' AND qty > 0 THEN (value + v_cap) / qty ELSE last_unit_cost END
             WHERE company_id = v_company AND product_id = r.product_id;
        END IF;
        IF v_share - v_cap <> 0 THEN
            PERFORM stock._journal(v_company, v_at, p_ref, r.id, NULL, 'landed_cost_expense', 'stock_input', v_share - v_cap);
        END IF;
        -- the replay's event: ordered before its layer among those of the same instant
        INSERT INTO stock.landed_cost_line (company_id, landed_cost_id, move_id, product_id, created_at, seq, share, capitalised)
        VALUES (v_company, v_id, r.id, r.product_id, v_at, coalesce(v_layer, nextval(pg_get_serial_sequence('stock.valuation_layer', 'id'))),
                v_share, v_cap);
        v_layer := NULL;
        v_cap_total := v_cap_total + v_cap;
    END LOOP;
    UPDATE stock.landed_cost SET capitalised = v_cap_total, expensed = p_amount - v_cap_total
     WHERE company_id = v_company AND id = v_id;
    PERFORM stock._idempotency_done(v_company, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;
COMMENT ON FUNCTION stock.apply_landed_cost(bigint[], numeric, text, text, text) IS
    'Split a landed cost over receipts: the share still in stock is capitalised, the share delivered expensed';

-- Spread a value change over the open layers, in proportion to their remaining quantity.
-- With p_idempotency_key, a retry revalues nothing more (#14.6).
CREATE FUNCTION stock.revalue(p_product bigint, p_added_value numeric, p_ref text DEFAULT NULL,
                              p_idempotency_key text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    v_total numeric;
    v_left numeric;
    v_part numeric;
    v_layer bigint;
    l record;
    v_idem record;
    v_at timestamptz;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    v_idem := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.revalue',
                                       jsonb_build_array(p_product, p_added_value, p_ref));
    IF v_idem.replay THEN
        RETURN;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, now(), 'revaluation');
    IF p_added_value IS NULL OR p_added_value = 0 OR NOT (p_added_value > '-Infinity' AND p_added_value < 'Infinity') THEN
        RAISE EXCEPTION 'added value must be a non-zero amount' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_added_value, 'added value', stock._max_amount());
    IF p.cost_method = 'standard' THEN
        RAISE EXCEPTION 'product % is valued at standard price', p.sku USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use stock.set_standard_price().';
    END IF;
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    IF stock.round_to(p_added_value, c.currency_rounding) <> p_added_value THEN
        RAISE EXCEPTION 'amount % is finer than the currency rounding %', erp._echo(p_added_value::text), c.currency_rounding
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._lock_products(p.company_id, ARRAY[p.id]);
    -- dated now, or at the product's last valued move if later: the date order of the replay
    SELECT greatest(now(), coalesce(pv.last_date, now())) INTO v_at FROM stock.product_value pv
     WHERE pv.company_id = p.company_id AND pv.product_id = p.id;
    SELECT sum(remaining_qty) INTO v_total FROM stock.valuation_layer
     WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0 AND remaining_qty > 0;
    IF v_total IS NULL THEN
        RAISE EXCEPTION 'product % has no stock to revalue', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_added_value < 0 AND -p_added_value > (SELECT sum(remaining_value) FROM stock.valuation_layer
                                               WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0 AND remaining_qty > 0) THEN
        RAISE EXCEPTION 'revaluation would make the stock value negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_left := p_added_value;
    FOR l IN SELECT * FROM stock.valuation_layer
              WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0 AND remaining_qty > 0
              ORDER BY created_at, id
    LOOP
        v_part := stock.value_share(v_left, v_total, l.remaining_qty, c.currency_rounding);
        IF l.remaining_value + v_part < 0 THEN
            RAISE EXCEPTION 'revaluation would make a valuation layer negative'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Layer %s holds %s of value; its share of the change is %s.', l.id, l.remaining_value, v_part);
        END IF;
        UPDATE stock.valuation_layer SET remaining_value = remaining_value + v_part WHERE company_id = l.company_id AND id = l.id;
        v_left := v_left - v_part;
        v_total := v_total - l.remaining_qty;
    END LOOP;
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, v_at, 0, 0, p_added_value, 'Revaluation ' || coalesce(p_ref, ''))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, v_at, p_ref, NULL, v_layer, 'stock_valuation', 'price_difference', p_added_value);
    UPDATE stock.product_value
       SET value = value + p_added_value, last_date = v_at,
           last_unit_cost = CASE WHEN p.cost_method = 'avco' AND qty > 0 THEN (value + p_added_value) / qty ELSE last_unit_cost END
     WHERE company_id = p.company_id AND product_id = p.id;
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, 'null');
END $$;

-- Empty the stock at the old method, refill it at the new one.
CREATE FUNCTION stock.set_cost_method(p_product bigint, p_method text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    pv stock.product_value;
    v_new_value numeric;
    v_layer bigint;
    v_at timestamptz;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    IF p_method IS NULL OR p_method NOT IN ('fifo', 'avco', 'standard') THEN
        RAISE EXCEPTION 'invalid cost method %', erp._echo(p_method)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The cost methods are fifo, avco and standard.';
    END IF;
    IF p_method = p.cost_method THEN
        RETURN;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, now(), 'cost method change');
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    PERFORM stock._lock_products(p.company_id, ARRAY[p.id]);
    SELECT * INTO pv FROM stock.product_value WHERE company_id = p.company_id AND product_id = p.id;
    IF pv.qty < 0 THEN
        RAISE EXCEPTION 'cannot change the cost method of % while its stock is negative', p.sku
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Receive the missing quantity first.';
    END IF;
    UPDATE stock.product SET cost_method = p_method WHERE company_id = p.company_id AND id = p.id;
    v_at := greatest(now(), coalesce(pv.last_date, now()));
    PERFORM stock._record_history(p.company_id, p.id, v_at, NULL, p_method);
    -- later moves dated before this change are back-dated
    UPDATE stock.product_value SET last_date = v_at WHERE company_id = p.company_id AND product_id = p.id;
    IF pv.qty = 0 THEN
        RETURN;
    END IF;
    v_new_value := CASE WHEN p_method = 'standard' THEN stock.round_to(pv.qty * p.standard_price, c.currency_rounding)
                        ELSE pv.value END;
    -- the open layers, through the two partial indexes of open layers (valuation.sql)
    UPDATE stock.valuation_layer SET remaining_qty = 0, remaining_value = 0
     WHERE company_id = p.company_id AND product_id = p.id AND (remaining_qty > 0 OR remaining_qty < 0);
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, v_at, -pv.qty, round(pv.value / pv.qty, c.price_precision), -pv.value,
            format('Costing method change (%s to %s): stock out', p.cost_method, p_method));
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value,
                                       remaining_qty, remaining_value, description)
    VALUES (p.company_id, p.id, v_at, pv.qty, round(v_new_value / pv.qty, c.price_precision), v_new_value,
            pv.qty, v_new_value, format('Costing method change (%s to %s): stock in', p.cost_method, p_method))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, v_at, 'Costing method change', NULL, v_layer, 'stock_valuation', 'price_difference',
                           v_new_value - pv.value);
    UPDATE stock.product_value
       SET value = v_new_value,
           last_unit_cost = round(v_new_value / pv.qty, c.price_precision)
     WHERE company_id = p.company_id AND product_id = p.id;
END $$;

-- landed cost lines: company-scoped as stock.landed_cost, readable by the application
SELECT erp.protect('stock.landed_cost_line');
INSERT INTO erp.app_table (table_name, privileges) VALUES ('stock.landed_cost_line', 'SELECT');
