-- Products and lots. Quantities are kept in the product's unit (its base unit).

CREATE TABLE stock.product (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    sku text NOT NULL CHECK (sku ~ '^\S{1,64}$'),
    name text NOT NULL CHECK (name ~ '\S'),
    cost_method text NOT NULL DEFAULT 'fifo' CHECK (cost_method IN ('fifo', 'avco', 'standard')),
    standard_price numeric NOT NULL DEFAULT 0 CHECK (standard_price >= 0 AND standard_price < 'Infinity'),
    uom text NOT NULL DEFAULT 'Unit' REFERENCES stock.uom (code),
    tracking text NOT NULL DEFAULT 'none' CHECK (tracking IN ('none', 'lot', 'serial')),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id),
    -- id included: the valuation report reads a company's products in sku order from the index alone (#16.3)
    CONSTRAINT product_company_id_sku_key UNIQUE (company_id, sku) INCLUDE (id)
);
CREATE INDEX product_id_idx ON stock.product (id);
COMMENT ON COLUMN stock.product.standard_price IS
    'Standard cost per base unit (standard method), rounded to the company price precision';

CREATE TABLE stock.lot (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    name text NOT NULL CHECK (name ~ '^\S.{0,63}$'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id),
    UNIQUE (company_id, product_id, name),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);

CREATE FUNCTION stock.create_product(p_company bigint, p_sku text, p_name text, p_cost_method text DEFAULT 'fifo',
                                     p_standard_price numeric DEFAULT 0, p_uom text DEFAULT 'Unit',
                                     p_tracking text DEFAULT 'none')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
    v_precision int;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.product:create', p_company);
    END IF;
    SELECT c.price_precision INTO v_precision FROM erp.company c WHERE c.id = p_company;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_sku IS NULL OR p_sku !~ '^\S{1,64}$' THEN
        RAISE EXCEPTION 'invalid SKU %', erp._echo(p_sku)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A SKU is 1 to 64 characters without spaces.';
    END IF;
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'product name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_cost_method IS NULL OR p_cost_method NOT IN ('fifo', 'avco', 'standard') THEN
        RAISE EXCEPTION 'invalid cost method %', erp._echo(p_cost_method)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The cost methods are fifo, avco and standard.';
    END IF;
    IF p_standard_price IS NULL OR NOT (p_standard_price >= 0 AND p_standard_price < 'Infinity') THEN
        RAISE EXCEPTION 'standard price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_standard_price, 'standard price', stock._max_amount());
    IF p_uom IS NULL OR NOT EXISTS (SELECT 1 FROM stock.uom u WHERE u.code = p_uom) THEN
        RAISE EXCEPTION 'unknown unit of measure %', erp._echo(p_uom)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Units are listed in stock.uom.';
    END IF;
    IF p_tracking IS NULL OR p_tracking NOT IN ('none', 'lot', 'serial') THEN
        RAISE EXCEPTION 'invalid tracking %', erp._echo(p_tracking)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Tracking is none, lot or serial.';
    END IF;
    PERFORM stock._ensure_company(p_company);
    IF EXISTS (SELECT 1 FROM stock.product p WHERE p.company_id = p_company AND p.sku = p_sku) THEN
        RAISE EXCEPTION 'SKU % already exists in company %', quote_literal(p_sku), p_company
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO stock.product (company_id, sku, name, cost_method, standard_price, uom, tracking)
    VALUES (p_company, p_sku, btrim(p_name, E' \t\r\n\f'), p_cost_method,
            round(p_standard_price, v_precision), p_uom, p_tracking)
    RETURNING id INTO v_id;
    PERFORM stock._record_history(p_company, v_id, '-infinity', round(p_standard_price, v_precision), p_cost_method);
    RETURN v_id;
END $$;
COMMENT ON FUNCTION stock.create_product(bigint, text, text, text, numeric, text, text) IS
    'Create a product (needs stock.product:create); the standard price is rounded to the company price precision';
