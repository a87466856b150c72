\echo Use "ALTER EXTENSION pgerp_mrp UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp_mrp 0.1.0 -> 0.2.0 (see migrations/pgerp--0.1.0--0.2.0.sql).

-- ==== published routines (#11.20) ====

-- What an application role may execute in schemas mrp and purchase (see sql/core/publish.sql).
INSERT INTO erp.app_routine (routine) VALUES
    ('mrp.create_workcenter(bigint,text,numeric,numeric)'),
    ('mrp.create_bom(bigint,numeric,jsonb,text,jsonb,jsonb)'),
    ('mrp.explode(bigint,numeric)'),
    ('mrp.explode_all(bigint,numeric)'),
    ('mrp.bom_cost(bigint)'),
    ('mrp.update_standard_price(bigint)'),
    ('mrp.create_mo(bigint,numeric,timestamp with time zone,bigint)'),
    ('mrp.confirm_mo(bigint)'),
    ('mrp.reserve_mo(bigint)'),
    ('mrp.produce_mo(bigint,numeric)'),
    ('mrp.cancel_mo(bigint)'),
    ('mrp.set_planning(bigint,text,integer,text,numeric,numeric,numeric,numeric)'),
    ('mrp.add_demand(bigint,numeric,date,text)'),
    ('mrp.run(bigint,date,text,integer,bigint)'),
    ('mrp.firm(bigint)'),
    ('mrp.add_reorder_rule(bigint,bigint,numeric,numeric,numeric,text)'),
    ('mrp.replenish(bigint,boolean)'),
    ('mrp.run_job(bigint,jsonb)'),
    ('mrp.replenish_job(bigint,jsonb)'),
    ('purchase.add_supplier(bigint,bigint,numeric,integer,numeric)'),
    ('purchase.best_supplier(bigint,numeric,bigint)'),
    ('purchase.create_order(bigint,jsonb,timestamp with time zone,bigint)'),
    ('purchase.confirm(bigint)'),
    ('purchase.receive(bigint,jsonb)'),
    ('purchase.cancel(bigint)')
ON CONFLICT DO NOTHING;

-- ==== record rules in the function API (#11.3) ====

-- definer lookups by id answer a row hidden by a record rule like a missing one
CREATE OR REPLACE FUNCTION mrp._component(p_company bigint, p_line jsonb, p_what text) RETURNS stock.product
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.product;
    v_id bigint;
BEGIN
    IF jsonb_typeof(p_line) IS DISTINCT FROM 'object' OR jsonb_typeof(p_line->'product') IS DISTINCT FROM 'number'
       OR (p_line->>'product') !~ '^[0-9]{1,18}$' THEN
        RAISE EXCEPTION 'each % needs a numeric "product"', p_what
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', coalesce(p_line::text, 'NULL'));
    END IF;
    v_id := (p_line->>'product')::bigint;
    SELECT * INTO v FROM stock.product p WHERE p.id = v_id;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'stock.product:read')
                                                AND erp._row_visible('stock.product', v.id))) THEN
        RAISE EXCEPTION 'product % does not exist', v_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v.company_id <> p_company THEN
        RAISE EXCEPTION '% product % belongs to another company', p_what, v.sku
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The product belongs to company %s, not to company %s.', v.company_id, p_company);
    END IF;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION mrp._mo_for_update(p_mo bigint, p_code text) RETURNS mrp.production
LANGUAGE plpgsql AS $$
DECLARE
    v mrp.production;
BEGIN
    SELECT * INTO v FROM mrp.production m WHERE m.id = p_mo FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'mrp.production:read')
                                                AND erp._row_visible('mrp.production', v.id))) THEN
        RAISE EXCEPTION 'manufacturing order % does not exist', coalesce(p_mo::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION purchase._vendor(p_company bigint, p_vendor bigint) RETURNS erp.partner
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v erp.partner;
BEGIN
    SELECT * INTO v FROM erp.partner pa WHERE pa.id = p_vendor;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'erp.partner:read')
                                                AND erp._row_visible('erp.partner', v.id))) THEN
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

CREATE OR REPLACE FUNCTION purchase.best_supplier(p_product bigint, p_qty numeric, p_vendor bigint DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION purchase._order_for_update(p_order bigint, p_code text) RETURNS purchase.order
LANGUAGE plpgsql AS $$
DECLARE
    v purchase.order;
BEGIN
    SELECT * INTO v FROM purchase.order o WHERE o.id = p_order FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'purchase.order:read')
                                                AND erp._row_visible('purchase.order', v.id))) THEN
        RAISE EXCEPTION 'purchase order % does not exist', coalesce(p_order::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION purchase._warehouse(p_company bigint, p_warehouse bigint) RETURNS bigint
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


-- ==== planning lock (#11.7) ====


-- ==== BOM depth (#11.10) ====


-- ==== bounds of planning inputs (#11.12) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA purchase FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA purchase FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
