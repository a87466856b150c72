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
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.warehouse:create', p_company);
    END IF;
    IF p_code IS NULL OR p_code !~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$' THEN
        RAISE EXCEPTION 'invalid warehouse code %', erp._echo(p_code)
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
        RAISE EXCEPTION 'invalid virtual location usage %', erp._echo(p_usage)
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
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.company_setting:write', p_company);
    END IF;
    PERFORM stock._ensure_company(p_company);
    UPDATE stock.company_setting SET allow_negative = p_allow WHERE company_id = p_company;
END $$;
COMMENT ON FUNCTION stock.set_allow_negative(bigint, boolean) IS
    'Allow (Odoo''s default) or forbid outgoing moves beyond the stock on hand (23514)';
