-- pgerp 0.1.0 as released: assembled from extension/pgerp_stock.manifest, frozen (test/upgrade/README.md)
\echo Use "CREATE EXTENSION pgerp_stock" to load this file. \quit

-- sql/stock/schema.sql
-- Extension pgerp_stock: schema stock (created by CREATE EXTENSION from the
-- control file). Products, locations, moves and valuation arrive with the
-- stock issue.
COMMENT ON SCHEMA stock IS 'pgerp stock: products, locations, moves, quants and valuation';
INSERT INTO erp.app_schema VALUES ('stock');

-- sql/stock/uom.sql
-- Units of measure: a reference table shared by all companies (as Odoo's
-- uom.uom). factor = how many reference units of the category one unit is;
-- rounding = the smallest quantity of that unit (conversions round half up to it).

CREATE TABLE stock.uom (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z][A-Za-z0-9_]{0,31}$'),
    category text NOT NULL CHECK (category ~ '^[a-z_]+$'),
    factor numeric NOT NULL CHECK (factor > 0),
    rounding numeric NOT NULL CHECK (rounding > 0)
);
COMMENT ON TABLE stock.uom IS 'Units of measure; factor in reference units of the category, rounding of quantities';

INSERT INTO stock.uom (code, category, factor, rounding) VALUES
    ('Unit', 'unit', 1, 0.01),
    ('Dozen', 'unit', 12, 0.01),
    ('kg', 'weight', 1, 0.001),
    ('g', 'weight', 0.001, 0.01),
    ('m', 'length', 1, 0.001),
    ('cm', 'length', 0.01, 0.01),
    ('L', 'volume', 1, 0.001),
    ('mL', 'volume', 0.001, 0.01);

-- Round half away from zero to a multiple of p_rounding (src/valuation/share.c).
CREATE FUNCTION stock.round_to(p_value numeric, p_rounding numeric) RETURNS numeric
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_round_to';

-- The value of p_part out of p_qty worth p_value: its share rounded to
-- p_rounding, the whole quantity taking exactly the whole value.
CREATE FUNCTION stock.value_share(p_value numeric, p_qty numeric, p_part numeric, p_rounding numeric) RETURNS numeric
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_share';

CREATE FUNCTION stock.convert_uom(p_qty numeric, p_from text, p_to text) RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f stock.uom;
    t stock.uom;
BEGIN
    IF p_qty IS NULL THEN
        RAISE EXCEPTION 'quantity must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT (p_qty > '-Infinity' AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'quantity must be a finite number' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The quantity given is %s.', p_qty);
    END IF;
    SELECT * INTO f FROM stock.uom u WHERE u.code = p_from;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown unit of measure %', coalesce(quote_literal(p_from), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Units are listed in stock.uom.';
    END IF;
    SELECT * INTO t FROM stock.uom u WHERE u.code = p_to;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown unit of measure %', coalesce(quote_literal(p_to), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Units are listed in stock.uom.';
    END IF;
    IF f.category <> t.category THEN
        RAISE EXCEPTION 'cannot convert % to %', f.code, t.code
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s measures %s, %s measures %s.', f.code, f.category, t.code, t.category);
    END IF;
    RETURN stock.round_to(p_qty * f.factor / t.factor, t.rounding);
END $$;
COMMENT ON FUNCTION stock.convert_uom(numeric, text, text) IS
    'Convert a quantity between units of one category, rounded half up to the target unit''s rounding';

-- sql/stock/location.sql
-- Per-company stock set-up, locations and warehouses.

-- Stock settings of a company (one row, made with its first stock object).
CREATE TABLE stock.company_setting (
    company_id bigint PRIMARY KEY REFERENCES erp.company (id),
    allow_negative boolean NOT NULL DEFAULT true
);
COMMENT ON COLUMN stock.company_setting.allow_negative IS
    'Outgoing moves may take stock below zero (Odoo''s default); false: they fail with 23514';

CREATE TABLE stock.location (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL CHECK (name ~ '\S'),
    usage text NOT NULL CHECK (usage IN ('internal', 'supplier', 'customer', 'inventory',
                                         'production', 'scrap', 'transit')),
    warehouse_id bigint,
    active boolean NOT NULL DEFAULT true,
    PRIMARY KEY (company_id, id)
);
CREATE INDEX location_id_idx ON stock.location (id);
-- one virtual location of each kind per company
CREATE UNIQUE INDEX location_virtual_key ON stock.location (company_id, usage) WHERE usage <> 'internal';
COMMENT ON TABLE stock.location IS 'Locations: internal ones hold stock (valued); the others are virtual counterparts';

CREATE TABLE stock.warehouse (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$'),
    name text NOT NULL CHECK (name ~ '\S'),
    location_id bigint NOT NULL,
    PRIMARY KEY (company_id, id),
    UNIQUE (company_id, code),
    FOREIGN KEY (company_id, location_id) REFERENCES stock.location (company_id, id)
);
CREATE INDEX warehouse_id_idx ON stock.warehouse (id);
-- location.warehouse_id is kept by stock.create_warehouse and has no foreign
-- key: a cycle location <-> warehouse would stop pg_dump's restore, which
-- loads one table at a time.

-- The stock accounts of a company's chart (see docs/stock.md).
CREATE TABLE stock.account (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('stock_valuation', 'stock_input', 'stock_output',
                                       'price_difference', 'inventory_loss', 'landed_cost_expense',
                                       'production_cost', 'production_variance')),
    PRIMARY KEY (company_id, id),
    UNIQUE (company_id, code),
    UNIQUE (company_id, kind)
);

-- Settings, virtual locations and stock accounts of a company, made once,
-- on its first warehouse or product. Runs as the extension owner.
CREATE FUNCTION stock._ensure_company(p_company bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', coalesce(p_company::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO stock.company_setting (company_id) VALUES (p_company) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO stock.location (company_id, name, usage)
    SELECT p_company, v.name, v.usage
      FROM (VALUES ('Partners/Vendors', 'supplier'), ('Partners/Customers', 'customer'),
                   ('Virtual/Inventory adjustment', 'inventory'), ('Virtual/Production', 'production'),
                   ('Virtual/Scrap', 'scrap'), ('Virtual/Transit', 'transit')) v(name, usage);
    INSERT INTO stock.account (company_id, code, name, kind)
    SELECT p_company, v.code, v.name, v.kind
      FROM (VALUES ('1400', 'Stock valuation', 'stock_valuation'),
                   ('2150', 'Stock interim received', 'stock_input'),
                   ('2160', 'Stock interim delivered', 'stock_output'),
                   ('5100', 'Price difference', 'price_difference'),
                   ('5200', 'Inventory loss and scrap', 'inventory_loss'),
                   ('5300', 'Landed cost expense', 'landed_cost_expense'),
                   ('5400', 'Production cost absorbed', 'production_cost'),
                   ('5500', 'Production variance', 'production_variance')) v(code, name, kind);
END $$;

CREATE FUNCTION stock.create_warehouse(p_company bigint, p_code text, p_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_loc bigint;
    v_wh bigint;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('stock.warehouse:create', p_company);
    END IF;
    IF p_code IS NULL OR p_code !~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$' THEN
        RAISE EXCEPTION 'invalid warehouse code %', coalesce(quote_literal(p_code), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A warehouse code is 1 to 16 letters, digits, - or _, starting with a letter or digit.';
    END IF;
    PERFORM stock._ensure_company(p_company);
    IF EXISTS (SELECT 1 FROM stock.warehouse w WHERE w.company_id = p_company AND w.code = p_code) THEN
        RAISE EXCEPTION 'warehouse % already exists in company %', quote_literal(p_code), p_company
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO stock.location (company_id, name, usage)
    VALUES (p_company, p_code || '/Stock', 'internal')
    RETURNING id INTO v_loc;
    INSERT INTO stock.warehouse (company_id, code, name, location_id)
    VALUES (p_company, p_code, coalesce(nullif(btrim(p_name, E' \t\r\n\f'), ''), p_code), v_loc)
    RETURNING id INTO v_wh;
    UPDATE stock.location SET warehouse_id = v_wh WHERE company_id = p_company AND id = v_loc;
    RETURN v_wh;
END $$;
COMMENT ON FUNCTION stock.create_warehouse(bigint, text, text) IS
    'Create a warehouse and its stock location (needs stock.warehouse:create on the company)';

-- Readers: visible only for a company the caller may read (row security).
CREATE FUNCTION stock.warehouse_location(p_warehouse bigint) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v bigint;
BEGIN
    SELECT w.location_id INTO v FROM stock.warehouse w WHERE w.id = p_warehouse;
    IF v IS NULL THEN
        RAISE EXCEPTION 'warehouse % does not exist', coalesce(p_warehouse::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

CREATE FUNCTION stock.virtual_location(p_company bigint, p_usage text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v bigint;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_usage IS NULL OR p_usage NOT IN ('supplier', 'customer', 'inventory', 'production', 'scrap', 'transit') THEN
        RAISE EXCEPTION 'invalid virtual location usage %', coalesce(quote_literal(p_usage), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The usages are supplier, customer, inventory, production, scrap and transit.';
    END IF;
    SELECT l.id INTO v FROM stock.location l WHERE l.company_id = p_company AND l.usage = p_usage;
    IF v IS NULL THEN
        RAISE EXCEPTION 'company % has no stock locations', coalesce(p_company::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'They are made with the company''s first warehouse or product.';
    END IF;
    RETURN v;
END $$;

-- Allow or forbid negative stock in a company (needs stock.company_setting:write).
CREATE FUNCTION stock.set_allow_negative(p_company bigint, p_allow boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_company IS NULL OR p_allow IS NULL THEN
        RAISE EXCEPTION 'company and setting must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('stock.company_setting:write', p_company);
    END IF;
    PERFORM stock._ensure_company(p_company);
    UPDATE stock.company_setting SET allow_negative = p_allow WHERE company_id = p_company;
END $$;
COMMENT ON FUNCTION stock.set_allow_negative(bigint, boolean) IS
    'Allow (Odoo''s default) or forbid outgoing moves beyond the stock on hand (23514)';

-- sql/stock/product.sql
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
    UNIQUE (company_id, sku)
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
        PERFORM erp.require_permission('stock.product:create', p_company);
    END IF;
    SELECT c.price_precision INTO v_precision FROM erp.company c WHERE c.id = p_company;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_sku IS NULL OR p_sku !~ '^\S{1,64}$' THEN
        RAISE EXCEPTION 'invalid SKU %', coalesce(quote_literal(p_sku), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A SKU is 1 to 64 characters without spaces.';
    END IF;
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'product name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_cost_method IS NULL OR p_cost_method NOT IN ('fifo', 'avco', 'standard') THEN
        RAISE EXCEPTION 'invalid cost method %', coalesce(quote_literal(p_cost_method), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The cost methods are fifo, avco and standard.';
    END IF;
    IF p_standard_price IS NULL OR NOT (p_standard_price >= 0 AND p_standard_price < 'Infinity') THEN
        RAISE EXCEPTION 'standard price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_uom IS NULL OR NOT EXISTS (SELECT 1 FROM stock.uom u WHERE u.code = p_uom) THEN
        RAISE EXCEPTION 'unknown unit of measure %', coalesce(quote_literal(p_uom), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Units are listed in stock.uom.';
    END IF;
    IF p_tracking IS NULL OR p_tracking NOT IN ('none', 'lot', 'serial') THEN
        RAISE EXCEPTION 'invalid tracking %', coalesce(quote_literal(p_tracking), 'NULL')
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
    RETURN v_id;
END $$;
COMMENT ON FUNCTION stock.create_product(bigint, text, text, text, numeric, text, text) IS
    'Create a product (needs stock.product:create); the standard price is rounded to the company price precision';

-- sql/stock/move.sql
-- Stock moves and quants. A move: draft -> confirmed -> assigned (reserved)
-- -> done, or cancelled. Quants (product, location, lot) are kept by the
-- engine only. Quantities are in the product's unit.

CREATE TABLE stock.move (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    uom text NOT NULL REFERENCES stock.uom (code),
    uom_qty numeric NOT NULL CHECK (uom_qty > 0),
    location_id bigint NOT NULL,
    location_dest_id bigint NOT NULL,
    state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'confirmed', 'assigned', 'done', 'cancelled')),
    reserved_qty numeric NOT NULL DEFAULT 0 CHECK (reserved_qty >= 0 AND reserved_qty <= qty),
    unit_cost numeric CHECK (unit_cost >= 0 AND unit_cost < 'Infinity'),
    value numeric,
    date timestamptz NOT NULL,
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
    quantity numeric NOT NULL DEFAULT 0,
    reserved numeric NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    in_date timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, product_id, location_id, lot_id),
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
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR erp.company_allowed(v.company_id, 'stock.product:read')) THEN
        RAISE EXCEPTION 'product % does not exist', coalesce(p_product::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

CREATE FUNCTION stock._require(p_code text, p_company bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission(p_code, p_company);
    END IF;
END $$;

CREATE FUNCTION stock._location(p_company bigint, p_location bigint) RETURNS stock.location
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.location;
BEGIN
    SELECT * INTO v FROM stock.location l WHERE l.id = p_location;
    IF NOT FOUND OR v.company_id <> p_company THEN
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
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR erp.company_allowed(v.company_id, 'stock.move:read')) THEN
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
            DETAIL = format('The quantity given is %s.', p_qty);
    END IF;
    v_qty := stock.convert_uom(p_qty, v_uom, p.uom);
    IF v_qty <= 0 THEN
        RAISE EXCEPTION 'quantity rounds to zero in the product''s unit' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('%s %s is %s %s.', p_qty, v_uom, v_qty, p.uom);
    END IF;
    v_from := stock._location(p.company_id, p_from);
    v_to := stock._location(p.company_id, p_to);
    IF v_from.id = v_to.id THEN
        RAISE EXCEPTION 'source and destination are the same location' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_unit_cost IS NOT NULL AND NOT (p_unit_cost >= 0 AND p_unit_cost < 'Infinity') THEN
        RAISE EXCEPTION 'unit cost must be zero or positive' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The unit cost given is %s.', p_unit_cost);
    END IF;
    IF p_date IS NULL THEN
        RAISE EXCEPTION 'date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p.tracking = 'none' AND p_lot IS NOT NULL THEN
        RAISE EXCEPTION 'product % is not tracked by lot or serial number', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.tracking <> 'none' THEN
        IF p_lot IS NULL OR btrim(p_lot) = '' THEN
            RAISE EXCEPTION 'product % needs a % number', p.sku, p.tracking USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p.tracking = 'serial' AND v_qty <> 1 THEN
            RAISE EXCEPTION 'a serial-numbered move carries exactly one unit' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('The quantity is %s %s.', v_qty, p.uom);
        END IF;
        SELECT l.id INTO v_lot FROM stock.lot l WHERE l.company_id = p.company_id AND l.product_id = p.id AND l.name = p_lot;
        IF v_lot IS NULL THEN
            IF v_from.usage = 'internal' THEN
                RAISE EXCEPTION '% % of product % does not exist', p.tracking, quote_literal(p_lot), p.sku
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
    UPDATE stock.move SET reserved_qty = 0 WHERE company_id = m.company_id AND id = m.id;
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
LANGUAGE sql AS $$
    INSERT INTO stock.quant AS q (company_id, product_id, location_id, lot_id, quantity, in_date)
    VALUES (p_company, p_product, p_location, coalesce(p_lot, 0), p_delta, p_date)
    ON CONFLICT (company_id, product_id, location_id, lot_id)
    DO UPDATE SET quantity = q.quantity + EXCLUDED.quantity
    RETURNING quantity
$$;

-- sql/stock/valuation.sql
-- Valuation: layers, running totals per product, journal entries. Rounding
-- is to the company's currency rounding through stock.value_share() and
-- stock.round_to() (C, src/valuation/share.c); see docs/valuation.md.

CREATE TABLE stock.valuation_layer (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    move_id bigint,
    created_at timestamptz NOT NULL,
    quantity numeric NOT NULL,
    unit_cost numeric NOT NULL,
    value numeric NOT NULL,
    remaining_qty numeric NOT NULL DEFAULT 0,
    remaining_value numeric NOT NULL DEFAULT 0,
    description text NOT NULL,
    parent_layer_id bigint,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, move_id) REFERENCES stock.move (company_id, id)
);
-- open layers only: consumption reads a handful of rows whatever the history
CREATE INDEX valuation_layer_open_idx ON stock.valuation_layer (company_id, product_id, id)
    WHERE remaining_qty <> 0;
CREATE INDEX valuation_layer_move_idx ON stock.valuation_layer (company_id, move_id);
CREATE INDEX valuation_layer_product_date_idx ON stock.valuation_layer (company_id, product_id, created_at);
COMMENT ON TABLE stock.valuation_layer IS
    'Valuation layers: one per valued move or correction; remaining_* track what is still in stock (negative: owed)';

-- Running totals per product, locked by every posting of the product.
CREATE TABLE stock.product_value (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    qty numeric NOT NULL DEFAULT 0,
    value numeric NOT NULL DEFAULT 0,
    last_unit_cost numeric,
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
    debit numeric NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit numeric NOT NULL DEFAULT 0 CHECK (credit >= 0),
    PRIMARY KEY (company_id, id),
    CHECK (debit = 0 OR credit = 0),
    FOREIGN KEY (company_id, entry_id) REFERENCES stock.journal_entry (company_id, id),
    FOREIGN KEY (company_id, account_id) REFERENCES stock.account (company_id, id)
);
CREATE INDEX journal_line_entry_idx ON stock.journal_line (company_id, entry_id);

-- An entry must balance when the transaction commits.
CREATE FUNCTION stock._journal_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_debit numeric;
    v_credit numeric;
BEGIN
    SELECT coalesce(sum(l.debit), 0), coalesce(sum(l.credit), 0) INTO v_debit, v_credit
      FROM stock.journal_line l WHERE l.company_id = NEW.company_id AND l.entry_id = NEW.entry_id;
    IF v_debit <> v_credit THEN
        RAISE EXCEPTION 'journal entry % is not balanced', NEW.entry_id
            USING ERRCODE = 'check_violation',
                  DETAIL = format('Debits total %s and credits %s.', v_debit, v_credit);
    END IF;
    RETURN NULL;
END $$;
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

-- The account facing stock valuation for a move from or to a location of this usage.
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
CREATE FUNCTION stock.validate(p_move bigint, p_qty numeric DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:validate');
    v_from stock.location;
    v_to stock.location;
    v_allow boolean;
    v_left numeric;
    v_backorder bigint;
    v_serial_count numeric;
    v_value numeric;
    v_tracking text;
BEGIN
    IF m.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'move % is already %', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_qty IS NOT NULL AND NOT (p_qty > 0 AND p_qty <= m.qty) THEN
        RAISE EXCEPTION 'quantity done must be positive and at most %', m.qty
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', p_qty);
    END IF;
    v_from := stock._location(m.company_id, m.location_id);
    v_to := stock._location(m.company_id, m.location_dest_id);
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
        v_left := stock._quant_add(m.company_id, m.product_id, v_from.id, m.lot_id, -m.qty, m.date);
        SELECT s.allow_negative INTO v_allow FROM stock.company_setting s WHERE s.company_id = m.company_id;
        IF v_left < 0 AND NOT v_allow THEN
            RAISE EXCEPTION 'not enough stock of product % in %', m.product_id, v_from.name
                USING ERRCODE = 'check_violation',
                      DETAIL = format('%s available, %s requested.', v_left + m.qty, m.qty),
                      HINT = 'Negative stock is forbidden for this company (stock.company_setting.allow_negative).';
        END IF;
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
        SELECT w.location_id INTO v FROM stock.warehouse w WHERE w.company_id = p.company_id AND w.id = p_warehouse;
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

CREATE FUNCTION stock.receive(p_product bigint, p_qty numeric, p_unit_cost numeric, p_warehouse bigint DEFAULT NULL,
                              p_ref text DEFAULT NULL, p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    RETURN stock._done_move(p.id, p_qty, stock.virtual_location(p.company_id, 'supplier'),
                            stock._warehouse_location(p, p_warehouse), p_unit_cost, p_date, p_ref, p_lot);
END $$;

CREATE FUNCTION stock.deliver(p_product bigint, p_qty numeric, p_warehouse bigint DEFAULT NULL, p_ref text DEFAULT NULL,
                              p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    RETURN stock._done_move(p.id, p_qty, stock._warehouse_location(p, p_warehouse),
                            stock.virtual_location(p.company_id, 'customer'), NULL, p_date, p_ref, p_lot);
END $$;

CREATE FUNCTION stock.transfer(p_product bigint, p_qty numeric, p_from bigint, p_to bigint, p_ref text DEFAULT NULL,
                               p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN stock._done_move(p_product, p_qty, p_from, p_to, NULL, p_date, p_ref, p_lot);
END $$;

CREATE FUNCTION stock.scrap(p_product bigint, p_qty numeric, p_warehouse bigint DEFAULT NULL, p_ref text DEFAULT NULL,
                            p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    RETURN stock._done_move(p.id, p_qty, stock._warehouse_location(p, p_warehouse),
                            stock.virtual_location(p.company_id, 'scrap'), NULL, p_date, p_ref, p_lot);
END $$;

-- Inventory count: moves the difference from or to the inventory location.
-- Returns NULL when the count matches.
CREATE FUNCTION stock.adjust(p_product bigint, p_location bigint, p_counted_qty numeric)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_loc stock.location := stock._location(p.company_id, p_location);
    v_diff numeric;
BEGIN
    IF p_counted_qty IS NULL OR NOT (p_counted_qty >= 0 AND p_counted_qty < 'Infinity') THEN
        RAISE EXCEPTION 'counted quantity must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_loc.usage <> 'internal' THEN
        RAISE EXCEPTION 'location % holds no stock', v_loc.name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.tracking <> 'none' THEN
        RAISE EXCEPTION 'count lot-tracked products per lot' USING ERRCODE = 'feature_not_supported';
    END IF;
    v_diff := p_counted_qty - stock.on_hand(p.id, v_loc.id);
    IF v_diff = 0 THEN
        RETURN NULL;
    END IF;
    RETURN stock._done_move(p.id, abs(v_diff),
                            CASE WHEN v_diff > 0 THEN stock.virtual_location(p.company_id, 'inventory') ELSE v_loc.id END,
                            CASE WHEN v_diff > 0 THEN v_loc.id ELSE stock.virtual_location(p.company_id, 'inventory') END,
                            NULL, now(), 'Inventory adjustment', NULL);
END $$;

-- Quantity and value of a product (at a date: layers up to it).
CREATE FUNCTION stock.valuation(p_product bigint, p_at timestamptz DEFAULT NULL,
                                OUT qty numeric, OUT value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    SELECT coalesce(sum(l.quantity), 0), coalesce(sum(l.value), 0) INTO qty, value
      FROM stock.valuation_layer l
     WHERE l.company_id = p.company_id AND l.product_id = p.id AND (p_at IS NULL OR l.created_at <= p_at);
END $$;

-- Row security applies (SECURITY INVOKER): products of companies the caller may read.
CREATE FUNCTION stock.valuation_report(p_company bigint, p_at timestamptz DEFAULT NULL)
RETURNS TABLE (product_id bigint, sku text, qty numeric, value numeric, unit_cost numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.id, p.sku, coalesce(sum(l.quantity), 0), coalesce(sum(l.value), 0),
           CASE WHEN coalesce(sum(l.quantity), 0) <> 0
                THEN round(sum(l.value) / sum(l.quantity), (SELECT c.price_precision FROM erp.company c WHERE c.id = p_company))
           END
      FROM stock.product p
      LEFT JOIN stock.valuation_layer l
        ON l.company_id = p.company_id AND l.product_id = p.id AND (p_at IS NULL OR l.created_at <= p_at)
     WHERE p.company_id = p_company
     GROUP BY p.id, p.sku
     ORDER BY p.sku
$$;

-- New standard price: a revaluation layer for the stock on hand.
CREATE FUNCTION stock.set_standard_price(p_product bigint, p_price numeric) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    pv stock.product_value;
    v_price numeric;
    v_value numeric;
    v_layer bigint;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    IF p_price IS NULL OR NOT (p_price >= 0 AND p_price < 'Infinity') THEN
        RAISE EXCEPTION 'standard price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    v_price := round(p_price, c.price_precision);
    INSERT INTO stock.product_value (company_id, product_id) VALUES (p.company_id, p.id) ON CONFLICT DO NOTHING;
    SELECT * INTO pv FROM stock.product_value WHERE company_id = p.company_id AND product_id = p.id FOR UPDATE;
    UPDATE stock.product SET standard_price = v_price WHERE company_id = p.company_id AND id = p.id;
    IF p.cost_method <> 'standard' OR pv.qty = 0 OR v_price = p.standard_price THEN
        RETURN;
    END IF;
    v_value := stock.round_to(pv.qty * (v_price - p.standard_price), c.currency_rounding);
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, greatest(now(), coalesce(pv.last_date, now())), 0, 0, v_value,
            format('Product value manually modified (from %s to %s)', p.standard_price, v_price))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, now(), 'Revaluation', NULL, v_layer, 'stock_valuation', 'price_difference', v_value);
    -- later moves may not be dated before this revaluation
    UPDATE stock.product_value SET value = value + v_value, last_date = greatest(now(), coalesce(last_date, now()))
     WHERE company_id = p.company_id AND product_id = p.id;
END $$;

-- Return (part of) a done move: the reverse move, valued at the original
-- move's unit cost. Returns the new move.
CREATE FUNCTION stock.return_move(p_move bigint, p_qty numeric DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:create');
    v_returned numeric;
    v_qty numeric;
    v_id bigint;
BEGIN
    IF m.state <> 'done' THEN
        RAISE EXCEPTION 'move % is %: only done moves are returned', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(sum(r.qty), 0) INTO v_returned FROM stock.move r
     WHERE r.company_id = m.company_id AND r.origin_move_id = m.id AND r.state <> 'cancelled';
    v_qty := coalesce(p_qty, m.qty - v_returned);
    IF v_qty <= 0 OR v_qty > m.qty - v_returned THEN
        RAISE EXCEPTION 'cannot return % of move %', v_qty, m.id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s was moved and %s already returned.', m.qty, v_returned);
    END IF;
    PERFORM stock._require('stock.move:validate', m.company_id);
    INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id, state,
                            unit_cost, date, ref, lot_id, origin_move_id)
    SELECT m.company_id, m.product_id, v_qty, p.uom, v_qty, m.location_dest_id, m.location_id, 'confirmed',
           m.unit_cost, greatest(now(), m.date), 'Return of ' || coalesce(m.ref, m.id::text), m.lot_id, m.id
      FROM stock.product p WHERE p.company_id = m.company_id AND p.id = m.product_id
    RETURNING id INTO v_id;
    PERFORM stock.validate(v_id);
    RETURN v_id;
END $$;

-- Recompute from moves and layers; no row when quants, running totals,
-- layers and the journal agree.
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
        SELECT q.company_id, q.product_id, sum(q.quantity) AS qty FROM stock.quant q GROUP BY 1, 2
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
    ), facts AS (
        SELECT p.id, p.cost_method,
               coalesce(mv.qty, 0) AS moved_qty, coalesce(q.qty, 0) AS quant_qty,
               coalesce(pv.qty, 0) AS pv_qty, coalesce(pv.value, 0) AS pv_value,
               coalesce(l.qty, 0) AS layer_qty, coalesce(l.value, 0) AS layer_value,
               coalesce(l.rem_qty, 0) AS rem_qty, coalesce(l.rem_value, 0) AS rem_value,
               coalesce(l.move_value, 0) AS layer_move_value, coalesce(mv.value, 0) AS move_value,
               coalesce(b.value, 0) AS booked
          FROM prod p
          LEFT JOIN moved mv ON mv.company_id = p.company_id AND mv.product_id = p.id
          LEFT JOIN quants q ON q.company_id = p.company_id AND q.product_id = p.id
          LEFT JOIN stock.product_value pv ON pv.company_id = p.company_id AND pv.product_id = p.id
          LEFT JOIN layers l ON l.company_id = p.company_id AND l.product_id = p.id
          LEFT JOIN booked b ON b.company_id = p.company_id AND b.product_id = p.id
    )
    SELECT f.id, x.problem
      FROM facts f,
           LATERAL (VALUES
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
     ORDER BY 1, 2
$$;

-- sql/stock/adjustments.sql
-- Landed costs, revaluation and change of cost method (docs/valuation.md).

CREATE TABLE stock.landed_cost (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    ref text,
    amount numeric NOT NULL CHECK (amount > 0),
    split text NOT NULL CHECK (split IN ('equal', 'by_quantity', 'by_current_cost')),
    move_ids bigint[] NOT NULL,
    capitalised numeric NOT NULL,
    expensed numeric NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id)
);

-- Split p_amount over receipts; capitalise the share of each receipt still
-- in stock (its layer's remaining quantity), expense the share delivered.
CREATE FUNCTION stock.apply_landed_cost(p_moves bigint[], p_amount numeric, p_split text DEFAULT 'by_quantity',
                                        p_ref text DEFAULT NULL)
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
BEGIN
    IF p_moves IS NULL OR cardinality(p_moves) = 0 THEN
        RAISE EXCEPTION 'moves must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_amount IS NULL OR NOT (p_amount > 0 AND p_amount < 'Infinity') THEN
        RAISE EXCEPTION 'landed cost amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_split IS NULL OR p_split NOT IN ('equal', 'by_quantity', 'by_current_cost') THEN
        RAISE EXCEPTION 'invalid split %', coalesce(quote_literal(p_split), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The splits are equal, by_quantity and by_current_cost.';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(p_moves) x) <> cardinality(p_moves) OR array_position(p_moves, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'moves must be distinct and not null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- every move: a done receipt into stock, of one company the caller may revalue
    FOR r IN SELECT x.id AS wanted, m.* FROM unnest(p_moves) x(id) LEFT JOIN stock.move m ON m.id = x.id LOOP
        IF r.company_id IS NULL OR NOT (erp._is_bootstrap() OR erp.company_allowed(r.company_id, 'stock.move:read')) THEN
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
    SELECT * INTO c FROM erp.company WHERE id = v_company;
    IF stock.round_to(p_amount, c.currency_rounding) <> p_amount THEN
        RAISE EXCEPTION 'amount % is finer than the currency rounding %', p_amount, c.currency_rounding
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
        IF v_cap <> 0 THEN
            UPDATE stock.valuation_layer SET remaining_value = remaining_value + v_cap
             WHERE company_id = v_company AND id = r.layer_id;
            INSERT INTO stock.valuation_layer (company_id, product_id, move_id, created_at, quantity, unit_cost, value,
                                               description, parent_layer_id)
            VALUES (v_company, r.product_id, r.id, now(), 0, 0, v_cap,
                    'Landed cost ' || coalesce(p_ref, v_id::text), r.layer_id)
            RETURNING id INTO v_layer;
            PERFORM stock._journal(v_company, now(), p_ref, r.id, v_layer, 'stock_valuation', 'stock_input', v_cap);
            UPDATE stock.product_value
               SET value = value + v_cap, last_date = greatest(now(), coalesce(last_date, now())),
                   last_unit_cost = CASE WHEN r.cost_method = 'avco' AND qty > 0 THEN (value + v_cap) / qty ELSE last_unit_cost END
             WHERE company_id = v_company AND product_id = r.product_id;
        END IF;
        IF v_share - v_cap <> 0 THEN
            PERFORM stock._journal(v_company, now(), p_ref, r.id, NULL, 'landed_cost_expense', 'stock_input', v_share - v_cap);
        END IF;
        v_cap_total := v_cap_total + v_cap;
    END LOOP;
    UPDATE stock.landed_cost SET capitalised = v_cap_total, expensed = p_amount - v_cap_total
     WHERE company_id = v_company AND id = v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION stock.apply_landed_cost(bigint[], numeric, text, text) IS
    'Split a landed cost over receipts: the share still in stock is capitalised, the share delivered expensed';

-- Spread a value change over the open layers, in proportion to their remaining quantity.
CREATE FUNCTION stock.revalue(p_product bigint, p_added_value numeric, p_ref text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    v_total numeric;
    v_left numeric;
    v_part numeric;
    v_layer bigint;
    l record;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    IF p_added_value IS NULL OR p_added_value = 0 OR NOT (p_added_value > '-Infinity' AND p_added_value < 'Infinity') THEN
        RAISE EXCEPTION 'added value must be a non-zero amount' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.cost_method = 'standard' THEN
        RAISE EXCEPTION 'product % is valued at standard price', p.sku USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use stock.set_standard_price().';
    END IF;
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    IF stock.round_to(p_added_value, c.currency_rounding) <> p_added_value THEN
        RAISE EXCEPTION 'amount % is finer than the currency rounding %', p_added_value, c.currency_rounding
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._lock_products(p.company_id, ARRAY[p.id]);
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
              WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0 AND remaining_qty > 0 ORDER BY id
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
    VALUES (p.company_id, p.id, now(), 0, 0, p_added_value, 'Revaluation ' || coalesce(p_ref, ''))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, now(), p_ref, NULL, v_layer, 'stock_valuation', 'price_difference', p_added_value);
    UPDATE stock.product_value
       SET value = value + p_added_value, last_date = greatest(now(), coalesce(last_date, now())),
           last_unit_cost = CASE WHEN p.cost_method = 'avco' AND qty > 0 THEN (value + p_added_value) / qty ELSE last_unit_cost END
     WHERE company_id = p.company_id AND product_id = p.id;
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
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    IF p_method IS NULL OR p_method NOT IN ('fifo', 'avco', 'standard') THEN
        RAISE EXCEPTION 'invalid cost method %', coalesce(quote_literal(p_method), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The cost methods are fifo, avco and standard.';
    END IF;
    IF p_method = p.cost_method THEN
        RETURN;
    END IF;
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    PERFORM stock._lock_products(p.company_id, ARRAY[p.id]);
    SELECT * INTO pv FROM stock.product_value WHERE company_id = p.company_id AND product_id = p.id;
    IF pv.qty < 0 THEN
        RAISE EXCEPTION 'cannot change the cost method of % while its stock is negative', p.sku
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Receive the missing quantity first.';
    END IF;
    UPDATE stock.product SET cost_method = p_method WHERE company_id = p.company_id AND id = p.id;
    IF pv.qty = 0 THEN
        RETURN;
    END IF;
    v_new_value := CASE WHEN p_method = 'standard' THEN stock.round_to(pv.qty * p.standard_price, c.currency_rounding)
                        ELSE pv.value END;
    UPDATE stock.valuation_layer SET remaining_qty = 0, remaining_value = 0
     WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0;
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, now(), -pv.qty, round(pv.value / pv.qty, c.price_precision), -pv.value,
            format('Costing method change (%s to %s): stock out', p.cost_method, p_method));
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value,
                                       remaining_qty, remaining_value, description)
    VALUES (p.company_id, p.id, now(), pv.qty, round(v_new_value / pv.qty, c.price_precision), v_new_value,
            pv.qty, v_new_value, format('Costing method change (%s to %s): stock in', p.cost_method, p_method))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, now(), 'Costing method change', NULL, v_layer, 'stock_valuation', 'price_difference',
                           v_new_value - pv.value);
    UPDATE stock.product_value
       SET value = v_new_value, last_date = greatest(now(), coalesce(last_date, now())),
           last_unit_cost = round(v_new_value / pv.qty, c.price_precision)
     WHERE company_id = p.company_id AND product_id = p.id;
END $$;

-- sql/stock/finish.sql
-- Protection, privileges and dump registration of pgerp_stock.
SELECT erp.protect('stock.company_setting');
SELECT erp.protect('stock.location');
SELECT erp.protect('stock.warehouse');
SELECT erp.protect('stock.account');
SELECT erp.protect('stock.product');
SELECT erp.protect('stock.lot');
SELECT erp.protect('stock.move');
SELECT erp.protect('stock.quant');
SELECT erp.protect('stock.valuation_layer');
SELECT erp.protect('stock.product_value');
SELECT erp.protect('stock.journal_entry');
SELECT erp.protect('stock.journal_line');
SELECT erp.protect('stock.landed_cost');

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('stock.uom', 'SELECT'),
    ('stock.company_setting', 'SELECT'),
    ('stock.location', 'SELECT'),
    ('stock.warehouse', 'SELECT'),
    ('stock.account', 'SELECT'),
    ('stock.product', 'SELECT, UPDATE (name, active)'),
    ('stock.lot', 'SELECT'),
    ('stock.move', 'SELECT'),
    ('stock.quant', 'SELECT'),
    ('stock.valuation_layer', 'SELECT'),
    ('stock.product_value', 'SELECT'),
    ('stock.journal_entry', 'SELECT'),
    ('stock.journal_line', 'SELECT'),
    ('stock.landed_cost', 'SELECT');

SELECT pg_catalog.pg_extension_config_dump('stock.company_setting', '');
SELECT pg_catalog.pg_extension_config_dump('stock.location', '');
SELECT pg_catalog.pg_extension_config_dump('stock.location_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.warehouse', '');
SELECT pg_catalog.pg_extension_config_dump('stock.warehouse_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.account', '');
SELECT pg_catalog.pg_extension_config_dump('stock.account_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.product', '');
SELECT pg_catalog.pg_extension_config_dump('stock.product_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.lot', '');
SELECT pg_catalog.pg_extension_config_dump('stock.lot_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.move', '');
SELECT pg_catalog.pg_extension_config_dump('stock.move_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.quant', '');
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_layer', '');
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_layer_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.product_value', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_entry', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_entry_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_line', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.landed_cost', '');
SELECT pg_catalog.pg_extension_config_dump('stock.landed_cost_id_seq', '');

REVOKE ALL ON ALL ROUTINES IN SCHEMA stock FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA stock FROM PUBLIC;

-- Audited from the start: moves, valuation layers, product cost settings.
SELECT erp.audit('stock.move');
SELECT erp.audit('stock.valuation_layer');
SELECT erp.audit('stock.product');

-- sql/core/app_access_refresh.sql
-- Last file of every dependent extension: give the application roles
-- registered with erp.grant_app_access() what this extension added.
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
