\echo Use "ALTER EXTENSION pgerp_stock UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp_stock 0.1.0 -> 0.2.0 (see migrations/pgerp--0.1.0--0.2.0.sql).

-- ==== published routines (#11.20) ====

-- What an application role may execute in schema stock (see sql/core/publish.sql).
INSERT INTO erp.app_routine (routine) VALUES
    ('stock.round_to(numeric,numeric)'),
    ('stock.value_share(numeric,numeric,numeric,numeric)'),
    ('stock.convert_uom(numeric,text,text)'),
    ('stock.create_warehouse(bigint,text,text)'),
    ('stock.warehouse_location(bigint)'),
    ('stock.virtual_location(bigint,text)'),
    ('stock.set_allow_negative(bigint,boolean)'),
    ('stock.create_product(bigint,text,text,text,numeric,text,text)'),
    ('stock.on_hand(bigint,bigint)'),
    ('stock.available(bigint,bigint)'),
    ('stock.create_move(bigint,numeric,bigint,bigint,numeric,timestamp with time zone,text,text,text)'),
    ('stock.confirm(bigint)'),
    ('stock.reserve(bigint)'),
    ('stock.unreserve(bigint)'),
    ('stock.cancel(bigint)'),
    ('stock.validate(bigint,numeric)'),
    ('stock.receive(bigint,numeric,numeric,bigint,text,timestamp with time zone,text)'),
    ('stock.deliver(bigint,numeric,bigint,text,timestamp with time zone,text)'),
    ('stock.transfer(bigint,numeric,bigint,bigint,text,timestamp with time zone,text)'),
    ('stock.scrap(bigint,numeric,bigint,text,timestamp with time zone,text)'),
    ('stock.adjust(bigint,bigint,numeric)'),
    ('stock.valuation(bigint,timestamp with time zone)'),
    ('stock.valuation_report(bigint,timestamp with time zone)'),
    ('stock.set_standard_price(bigint,numeric)'),
    ('stock.return_move(bigint,numeric)'),
    ('stock.verify_valuation(bigint)'),
    ('stock.apply_landed_cost(bigint[],numeric,text,text)'),
    ('stock.revalue(bigint,numeric,text)'),
    ('stock.set_cost_method(bigint,text)')
ON CONFLICT DO NOTHING;

-- ==== record rules in the function API (#11.3) ====

-- definer lookups by id answer a row hidden by a record rule like a missing one
CREATE OR REPLACE FUNCTION stock._product(p_product bigint) RETURNS stock.product
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.product;
BEGIN
    SELECT * INTO v FROM stock.product p WHERE p.id = p_product;
    -- hidden by company security or a record rule: "does not exist" (#11.3)
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'stock.product:read')
                                                AND erp._row_visible('stock.product', v.id))) THEN
        RAISE EXCEPTION 'product % does not exist', coalesce(p_product::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION stock._location(p_company bigint, p_location bigint) RETURNS stock.location
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.location;
BEGIN
    SELECT * INTO v FROM stock.location l WHERE l.id = p_location;
    IF NOT FOUND OR v.company_id <> p_company OR NOT erp._row_visible('stock.location', v.id) THEN
        RAISE EXCEPTION 'location % does not exist in company %', coalesce(p_location::text, 'NULL'), p_company
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION stock._move_for_update(p_move bigint, p_code text) RETURNS stock.move
LANGUAGE plpgsql AS $$
DECLARE
    v stock.move;
BEGIN
    SELECT * INTO v FROM stock.move m WHERE m.id = p_move FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'stock.move:read')
                                                AND erp._row_visible('stock.move', v.id))) THEN
        RAISE EXCEPTION 'move % does not exist', coalesce(p_move::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION stock._warehouse_location(p stock.product, p_warehouse bigint) RETURNS bigint
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


-- ==== numeric and date bounds (#11.8, 11, 17) ====


-- ==== reservations (#11.9) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA stock FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA stock FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
