-- api.warehouses: warehouses under the table's row security; INSERT through
-- stock.create_warehouse (which makes the warehouse's stock location).

CREATE VIEW api.warehouses WITH (security_invoker = true) AS
SELECT w.company_id, w.id, w.code, w.name, w.location_id
  FROM stock.warehouse w;
COMMENT ON VIEW api.warehouses IS 'Warehouses. POST (code, name; its stock location is made with it)';
COMMENT ON COLUMN api.warehouses.company_id IS 'Company of the warehouse (default: the current company); foreign key to companies';
COMMENT ON COLUMN api.warehouses.id IS 'Warehouse id';
COMMENT ON COLUMN api.warehouses.code IS 'Short code, unique in its company: 1 to 16 letters, digits, - or _';
COMMENT ON COLUMN api.warehouses.name IS 'Name (default: the code)';
COMMENT ON COLUMN api.warehouses.location_id IS 'Its stock location, made with it; foreign key to locations';

CREATE FUNCTION stock._api_warehouses_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_company bigint := coalesce(NEW.company_id, erp.current_company_id());
    v_id bigint;
    r api.warehouses;
BEGIN
    IF NEW.id IS NOT NULL OR NEW.location_id IS NOT NULL THEN
        RAISE EXCEPTION 'cannot insert a value into column "%" of api.warehouses', CASE WHEN NEW.id IS NOT NULL THEN 'id' ELSE 'location_id' END
            USING ERRCODE = 'generated_always', DETAIL = 'The column is set by the database.';
    END IF;
    v_id := stock.create_warehouse(v_company, NEW.code, NEW.name);
    SELECT v.* INTO r FROM api.warehouses v
     WHERE v.company_id OPERATOR(pg_catalog.=) v_company AND v.id OPERATOR(pg_catalog.=) v_id;
    IF r.id IS NULL THEN
        NEW.company_id := v_company;
        NEW.id := v_id;
        RETURN NEW;
    END IF;
    RETURN r;
END $$;

CREATE TRIGGER api_insert INSTEAD OF INSERT ON api.warehouses
    FOR EACH ROW EXECUTE FUNCTION stock._api_warehouses_insert();
