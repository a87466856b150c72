-- api.products: products under the table's row security. Writable through
-- INSTEAD OF triggers that call the pack's functions: INSERT
-- (stock.create_product; with request.resolution = 'merge' or 'ignore' an
-- existing (company_id, sku) is updated or skipped: the upsert the HTTP
-- handler issues, docs/api.md "Upserts"), UPDATE of name and active (under
-- the row security), standard_price (stock.set_standard_price) and
-- cost_method (stock.set_cost_method). Other columns are refused (428C9).

CREATE VIEW api.products WITH (security_invoker = true) AS
SELECT p.company_id, p.id, p.sku, p.name, p.cost_method, p.standard_price, p.uom, p.tracking, p.active, p.created_at
  FROM stock.product p;
COMMENT ON VIEW api.products IS
    'Products. POST (an upsert on company_id,sku with Prefer: resolution=merge-duplicates or ignore-duplicates); PATCH of name, standard_price, cost_method and active';
COMMENT ON COLUMN api.products.company_id IS 'Company of the product (default: the current company); foreign key to companies';
COMMENT ON COLUMN api.products.id IS 'Product id';
COMMENT ON COLUMN api.products.sku IS 'Stock keeping unit, unique in its company: 1 to 64 characters without spaces';
COMMENT ON COLUMN api.products.name IS 'Product name';
COMMENT ON COLUMN api.products.cost_method IS 'fifo (default), avco or standard; a change revalues the stock on hand';
COMMENT ON COLUMN api.products.standard_price IS 'Standard unit cost, rounded to the company''s price precision; a change revalues standard-cost stock';
COMMENT ON COLUMN api.products.uom IS 'Unit of measure (default Unit); set at creation only';
COMMENT ON COLUMN api.products.tracking IS 'none (default), lot or serial; set at creation only';
COMMENT ON COLUMN api.products.active IS 'False once archived';

-- INSERT: create, or with request.resolution (set locally by the HTTP
-- handler for Prefer: resolution=...) update ('merge': an UPDATE of the view,
-- whose trigger applies every check) or skip ('ignore') the product of the
-- same (company_id, sku). NULL in a writable column means "not given".
CREATE FUNCTION stock._api_products_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_mode text := coalesce(pg_catalog.current_setting('request.resolution', true), '');
    v_company bigint := coalesce(NEW.company_id, erp.current_company_id());
    v_id bigint;
    r api.products;
BEGIN
    IF NEW.id IS NOT NULL OR NEW.created_at IS NOT NULL THEN
        RAISE EXCEPTION 'cannot insert a value into column "%" of api.products', CASE WHEN NEW.id IS NOT NULL THEN 'id' ELSE 'created_at' END
            USING ERRCODE = 'generated_always', DETAIL = 'The column is set by the database.';
    END IF;
    IF v_mode NOT IN ('', 'merge', 'ignore') THEN
        RAISE EXCEPTION 'invalid value for request.resolution: %', pg_catalog.quote_literal(v_mode)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The resolutions are merge and ignore (empty: none).';
    END IF;
    IF v_mode <> '' THEN
        SELECT v.id INTO v_id FROM api.products v
         WHERE v.company_id OPERATOR(pg_catalog.=) v_company AND v.sku OPERATOR(pg_catalog.=) NEW.sku;
        IF v_id IS NOT NULL AND v_mode = 'ignore' THEN
            RETURN NULL;
        ELSIF v_id IS NOT NULL THEN
            UPDATE api.products v
               SET name = coalesce(NEW.name, v.name), standard_price = coalesce(NEW.standard_price, v.standard_price),
                   cost_method = coalesce(NEW.cost_method, v.cost_method), active = coalesce(NEW.active, v.active),
                   uom = coalesce(NEW.uom, v.uom), tracking = coalesce(NEW.tracking, v.tracking)
             WHERE v.company_id OPERATOR(pg_catalog.=) v_company AND v.id OPERATOR(pg_catalog.=) v_id
            RETURNING v.* INTO r;
            RETURN r;
        END IF;
    END IF;
    v_id := stock.create_product(v_company, NEW.sku, NEW.name, coalesce(NEW.cost_method, 'fifo'),
                                 coalesce(NEW.standard_price, 0), coalesce(NEW.uom, 'Unit'), coalesce(NEW.tracking, 'none'));
    IF NOT coalesce(NEW.active, true) THEN
        UPDATE api.products v SET active = false
         WHERE v.company_id OPERATOR(pg_catalog.=) v_company AND v.id OPERATOR(pg_catalog.=) v_id;
    END IF;
    SELECT v.* INTO r FROM api.products v
     WHERE v.company_id OPERATOR(pg_catalog.=) v_company AND v.id OPERATOR(pg_catalog.=) v_id;
    IF r.id IS NULL THEN  -- created, but not readable by the caller
        NEW.company_id := v_company;
        NEW.id := v_id;
        RETURN NEW;
    END IF;
    RETURN r;
END $$;

-- UPDATE: name and active under the row security (stock.product:write),
-- then the standard price and the cost method through their functions.
CREATE FUNCTION stock._api_products_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_col text;
    r api.products;
BEGIN
    v_col := CASE WHEN NEW.id IS DISTINCT FROM OLD.id THEN 'id'
                  WHEN NEW.company_id IS DISTINCT FROM OLD.company_id THEN 'company_id'
                  WHEN NEW.sku IS DISTINCT FROM OLD.sku THEN 'sku'
                  WHEN NEW.uom IS DISTINCT FROM OLD.uom THEN 'uom'
                  WHEN NEW.tracking IS DISTINCT FROM OLD.tracking THEN 'tracking'
                  WHEN NEW.created_at IS DISTINCT FROM OLD.created_at THEN 'created_at' END;
    IF v_col IS NOT NULL THEN
        RAISE EXCEPTION 'column "%" of api.products cannot be updated', v_col
            USING ERRCODE = 'generated_always',
                  DETAIL = 'Only name, standard_price, cost_method and active are writable.';
    END IF;
    IF NEW.name IS DISTINCT FROM OLD.name OR NEW.active IS DISTINCT FROM OLD.active THEN
        PERFORM erp.require_permission('stock.product:write', OLD.company_id);
        IF NEW.name IS NULL OR btrim(NEW.name, E' \t\r\n\f') = '' THEN
            RAISE EXCEPTION 'product name must not be empty' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NEW.active IS NULL THEN
            RAISE EXCEPTION 'active must not be null' USING ERRCODE = 'null_value_not_allowed';
        END IF;
        UPDATE stock.product p SET name = btrim(NEW.name, E' \t\r\n\f'), active = NEW.active
         WHERE p.company_id OPERATOR(pg_catalog.=) OLD.company_id AND p.id OPERATOR(pg_catalog.=) OLD.id;
    END IF;
    IF NEW.standard_price IS DISTINCT FROM OLD.standard_price THEN
        PERFORM stock.set_standard_price(OLD.id, NEW.standard_price);
    END IF;
    IF NEW.cost_method IS DISTINCT FROM OLD.cost_method THEN
        PERFORM stock.set_cost_method(OLD.id, NEW.cost_method);
    END IF;
    SELECT v.* INTO r FROM api.products v
     WHERE v.company_id OPERATOR(pg_catalog.=) OLD.company_id AND v.id OPERATOR(pg_catalog.=) OLD.id;
    RETURN r;
END $$;

CREATE TRIGGER api_insert INSTEAD OF INSERT ON api.products
    FOR EACH ROW EXECUTE FUNCTION stock._api_products_insert();
CREATE TRIGGER api_update INSTEAD OF UPDATE ON api.products
    FOR EACH ROW EXECUTE FUNCTION stock._api_products_update();
