-- Dated history of what a replay of back-dated moves needs to know as of
-- each date (docs/valuation.md, "Back-dated moves"): the standard price and
-- the cost method in force. seq orders a change among the layers posted at
-- the same instant: it is drawn from the layers' id sequence.

CREATE TABLE stock.standard_price_history (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    valid_from timestamptz NOT NULL,
    price numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity'),
    seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, product_id, valid_from),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('stock.standard_price_history', '');
COMMENT ON TABLE stock.standard_price_history IS
    'Standard price of a product from valid_from on (-infinity: since its creation); written by create_product and set_standard_price';

CREATE TABLE stock.cost_method_history (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    valid_from timestamptz NOT NULL,
    method text NOT NULL CHECK (method IN ('fifo', 'avco', 'standard')),
    seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, product_id, valid_from),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('stock.cost_method_history', '');
COMMENT ON TABLE stock.cost_method_history IS
    'Cost method of a product from valid_from on (-infinity: since its creation); written by create_product and set_cost_method';

-- A change of standard price or cost method at p_at (one per instant: the last wins).
CREATE FUNCTION stock._record_history(p_company bigint, p_product bigint, p_at timestamptz,
                                      p_price numeric, p_method text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint := CASE WHEN p_at = '-infinity' THEN 0
                         ELSE nextval(pg_get_serial_sequence('stock.valuation_layer', 'id')) END;
BEGIN
    IF p_price IS NOT NULL THEN
        INSERT INTO stock.standard_price_history (company_id, product_id, valid_from, price, seq)
        VALUES (p_company, p_product, p_at, p_price, v_seq)
        ON CONFLICT (company_id, product_id, valid_from) DO UPDATE SET price = EXCLUDED.price, seq = EXCLUDED.seq;
    END IF;
    IF p_method IS NOT NULL THEN
        INSERT INTO stock.cost_method_history (company_id, product_id, valid_from, method, seq)
        VALUES (p_company, p_product, p_at, p_method, v_seq)
        ON CONFLICT (company_id, product_id, valid_from) DO UPDATE SET method = EXCLUDED.method, seq = EXCLUDED.seq;
    END IF;
END $$;

-- The standard price of a product in force at a date (its current price when no history says otherwise).
CREATE FUNCTION stock._standard_price_at(p_company bigint, p_product bigint, p_at timestamptz) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT h.price FROM stock.standard_price_history h
                      WHERE h.company_id = p_company AND h.product_id = p_product AND h.valid_from <= p_at
                      ORDER BY h.valid_from DESC LIMIT 1),
                    (SELECT p.standard_price FROM stock.product p WHERE p.company_id = p_company AND p.id = p_product))
$$;
