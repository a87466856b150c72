-- Planning resources: reorder rules (writable), MRP runs, planned orders and
-- the MRP table (read-only), and the functions that plan: run_mrp and
-- replenish enqueue a job (erp.enqueue) and return its id; firm.

CREATE VIEW api.reorder_rules WITH (security_invoker = true) AS
SELECT r.company_id, r.id, r.product_id, r.warehouse_id, r.min_qty, r.max_qty, r.multiple, r.trigger, r.active
  FROM mrp.reorder_rule r;
COMMENT ON VIEW api.reorder_rules IS
    'Min/max reorder rules of products per warehouse. POST, PATCH (min_qty, max_qty, multiple, trigger, active) and DELETE';
COMMENT ON COLUMN api.reorder_rules.company_id IS 'Company (that of the product)';
COMMENT ON COLUMN api.reorder_rules.product_id IS 'Product; foreign key to products';
COMMENT ON COLUMN api.reorder_rules.warehouse_id IS 'Warehouse; foreign key to warehouses';
COMMENT ON COLUMN api.reorder_rules.min_qty IS 'Forecast below which to order';
COMMENT ON COLUMN api.reorder_rules.max_qty IS 'Forecast to order up to';
COMMENT ON COLUMN api.reorder_rules.multiple IS 'Ordered quantities are multiples of it (default 1)';
COMMENT ON COLUMN api.reorder_rules.trigger IS 'auto (default: rpc/replenish applies it) or manual';

-- INSERT through mrp.add_reorder_rule (its permission and checks).
CREATE FUNCTION mrp._api_reorder_rules_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
    r api.reorder_rules;
BEGIN
    IF NEW.id IS NOT NULL THEN
        RAISE EXCEPTION 'cannot insert a value into column "id" of api.reorder_rules'
            USING ERRCODE = 'generated_always', DETAIL = 'The column is set by the database.';
    END IF;
    -- the company is the product's: another one means the product is not there
    IF NEW.company_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stock.product p
             WHERE p.company_id OPERATOR(pg_catalog.=) NEW.company_id AND p.id OPERATOR(pg_catalog.=) NEW.product_id) THEN
        RAISE EXCEPTION 'product % does not exist', coalesce(NEW.product_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_id := mrp.add_reorder_rule(NEW.product_id, NEW.warehouse_id, NEW.min_qty, NEW.max_qty,
                                 coalesce(NEW.multiple, 1), coalesce(NEW.trigger, 'auto'));
    IF NOT coalesce(NEW.active, true) THEN
        UPDATE api.reorder_rules v SET active = false WHERE v.id OPERATOR(pg_catalog.=) v_id;
    END IF;
    SELECT v.* INTO r FROM api.reorder_rules v WHERE v.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;

-- UPDATE of the rule's quantities, trigger and active flag, with the checks
-- of mrp.add_reorder_rule, under the row security (mrp.reorder_rule:write).
CREATE FUNCTION mrp._api_reorder_rules_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_col text;
    r api.reorder_rules;
BEGIN
    v_col := CASE WHEN NEW.id IS DISTINCT FROM OLD.id THEN 'id'
                  WHEN NEW.company_id IS DISTINCT FROM OLD.company_id THEN 'company_id'
                  WHEN NEW.product_id IS DISTINCT FROM OLD.product_id THEN 'product_id'
                  WHEN NEW.warehouse_id IS DISTINCT FROM OLD.warehouse_id THEN 'warehouse_id' END;
    IF v_col IS NOT NULL THEN
        RAISE EXCEPTION 'column "%" of api.reorder_rules cannot be updated', v_col
            USING ERRCODE = 'generated_always',
                  DETAIL = 'Only min_qty, max_qty, multiple, trigger and active are writable.';
    END IF;
    PERFORM erp.require_permission('mrp.reorder_rule:write', OLD.company_id);
    IF NEW.min_qty IS NULL OR NEW.max_qty IS NULL
       OR NOT (NEW.min_qty >= 0 AND NEW.max_qty >= 0 AND NEW.min_qty < 'Infinity' AND NEW.max_qty < 'Infinity') THEN
        RAISE EXCEPTION 'minimum and maximum must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.max_qty < NEW.min_qty THEN
        RAISE EXCEPTION 'maximum % is below minimum %', pg_catalog.quote_literal(NEW.max_qty::text),
                        pg_catalog.quote_literal(NEW.min_qty::text) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.multiple IS NULL OR NOT (NEW.multiple > 0 AND NEW.multiple < 'Infinity') THEN
        RAISE EXCEPTION 'multiple must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.trigger IS NULL OR NEW.trigger NOT IN ('auto', 'manual') THEN
        RAISE EXCEPTION 'invalid trigger %', coalesce(pg_catalog.quote_literal(NEW.trigger), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Triggers are auto and manual.';
    END IF;
    IF NEW.active IS NULL THEN
        RAISE EXCEPTION 'active must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE mrp.reorder_rule x
       SET min_qty = NEW.min_qty, max_qty = NEW.max_qty, multiple = NEW.multiple, trigger = NEW.trigger, active = NEW.active
     WHERE x.company_id OPERATOR(pg_catalog.=) OLD.company_id AND x.id OPERATOR(pg_catalog.=) OLD.id;
    SELECT v.* INTO r FROM api.reorder_rules v
     WHERE v.company_id OPERATOR(pg_catalog.=) OLD.company_id AND v.id OPERATOR(pg_catalog.=) OLD.id;
    RETURN r;
END $$;

-- DELETE under the row security (mrp.reorder_rule:delete).
CREATE FUNCTION mrp._api_reorder_rules_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM erp.require_permission('mrp.reorder_rule:delete', OLD.company_id);
    DELETE FROM mrp.reorder_rule x
     WHERE x.company_id OPERATOR(pg_catalog.=) OLD.company_id AND x.id OPERATOR(pg_catalog.=) OLD.id;
    RETURN OLD;
END $$;

CREATE TRIGGER api_insert INSTEAD OF INSERT ON api.reorder_rules
    FOR EACH ROW EXECUTE FUNCTION mrp._api_reorder_rules_insert();
CREATE TRIGGER api_update INSTEAD OF UPDATE ON api.reorder_rules
    FOR EACH ROW EXECUTE FUNCTION mrp._api_reorder_rules_update();
CREATE TRIGGER api_delete INSTEAD OF DELETE ON api.reorder_rules
    FOR EACH ROW EXECUTE FUNCTION mrp._api_reorder_rules_delete();

CREATE VIEW api.mrp_runs WITH (security_invoker = true) AS
SELECT r.company_id, r.id, r.start_date, r.bucket, r.horizon, r.warehouse_id, r.started_at, r.finished_at, r.planned_orders
  FROM mrp.mrp_run r;
COMMENT ON VIEW api.mrp_runs IS 'MRP runs (rpc/run_mrp starts one). Read-only';
COMMENT ON COLUMN api.mrp_runs.company_id IS 'Company';
COMMENT ON COLUMN api.mrp_runs.bucket IS 'day or week';
COMMENT ON COLUMN api.mrp_runs.horizon IS 'Buckets planned';
COMMENT ON COLUMN api.mrp_runs.warehouse_id IS 'Warehouse planned (null: all; no foreign key on the table)';
COMMENT ON COLUMN api.mrp_runs.planned_orders IS 'Planned orders it made, once finished';

CREATE VIEW api.planned_orders WITH (security_invoker = true) AS
SELECT o.company_id, o.id, o.run_id, o.product_id, o.qty, o.release_date, o.due_date, o.kind, o.past_due,
       o.vendor_id, o.firmed_ref
  FROM mrp.planned_order o;
COMMENT ON VIEW api.planned_orders IS 'Orders proposed by the last MRP run; rpc/firm makes one real. Read-only';
COMMENT ON COLUMN api.planned_orders.company_id IS 'Company';
COMMENT ON COLUMN api.planned_orders.run_id IS 'Run that proposed it; foreign key to mrp_runs';
COMMENT ON COLUMN api.planned_orders.product_id IS 'Product; foreign key to products';
COMMENT ON COLUMN api.planned_orders.release_date IS 'Date to order or start';
COMMENT ON COLUMN api.planned_orders.due_date IS 'Date needed';
COMMENT ON COLUMN api.planned_orders.kind IS 'make (a manufacturing order) or buy (a purchase order)';
COMMENT ON COLUMN api.planned_orders.past_due IS 'True when the release date is before the run''s start';
COMMENT ON COLUMN api.planned_orders.vendor_id IS 'Vendor of a buy order (no foreign key on the table)';
COMMENT ON COLUMN api.planned_orders.firmed_ref IS 'PO/<id> or MO/<id> once firmed';

CREATE VIEW api.plan_records WITH (security_invoker = true) AS
SELECT p.company_id, p.run_id, p.product_id, p.bucket, p.bucket_start, p.gross, p.scheduled, p.projected, p.net,
       p.planned_receipt, p.planned_release
  FROM mrp.plan_record p;
COMMENT ON VIEW api.plan_records IS
    'The MRP table of the last run: one row per product and bucket (no id: the key is company_id, run_id, product_id, bucket). Read-only';
COMMENT ON COLUMN api.plan_records.run_id IS 'Run (no foreign key on the table)';
COMMENT ON COLUMN api.plan_records.product_id IS 'Product (no foreign key on the table)';
COMMENT ON COLUMN api.plan_records.gross IS 'Gross requirements';
COMMENT ON COLUMN api.plan_records.scheduled IS 'Scheduled receipts';
COMMENT ON COLUMN api.plan_records.projected IS 'Projected stock at the end of the bucket';
COMMENT ON COLUMN api.plan_records.net IS 'Net requirements';

CREATE FUNCTION api.run_mrp(company bigint, start date DEFAULT NULL, bucket text DEFAULT 'day',
                            horizon integer DEFAULT 90, warehouse bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF run_mrp.company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the run's own first check, so that a refusal answers now and not in the job
    PERFORM erp.require_permission('mrp.plan:run', run_mrp.company);
    IF run_mrp.bucket IS NULL OR run_mrp.bucket NOT IN ('day', 'week') THEN
        RAISE EXCEPTION 'invalid bucket %', coalesce(pg_catalog.quote_literal(run_mrp.bucket), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Buckets are day or week.';
    END IF;
    IF run_mrp.horizon IS NULL OR run_mrp.horizon NOT BETWEEN 1 AND 3660 THEN
        RAISE EXCEPTION 'horizon must be between 1 and 3660 buckets' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN erp.enqueue('mrp.run', pg_catalog.jsonb_build_object(
        'company', run_mrp.company,
        'start', pg_catalog.to_char(coalesce(run_mrp.start, current_date), 'YYYY-MM-DD'),
        'bucket', run_mrp.bucket, 'horizon', run_mrp.horizon, 'warehouse', run_mrp.warehouse));
END $$;
COMMENT ON FUNCTION api.run_mrp(bigint, date, text, integer, bigint) IS
    'Enqueue an MRP run of a company (needs mrp.plan:run) from start (default: today) over horizon buckets of a day or a week; returns the job id (see jobs)';

CREATE FUNCTION api.replenish(company bigint, dry_run boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF replenish.company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM erp.require_permission('mrp.reorder_rule:run', replenish.company);
    RETURN erp.enqueue('mrp.replenish', pg_catalog.jsonb_build_object(
        'company', replenish.company, 'dry_run', coalesce(replenish.dry_run, false)));
END $$;
COMMENT ON FUNCTION api.replenish(bigint, boolean) IS
    'Enqueue the application of the company''s automatic reorder rules (needs mrp.reorder_rule:run); returns the job id (see jobs)';

CREATE FUNCTION api.firm(planned_order bigint) RETURNS api.planned_orders
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.planned_orders;
BEGIN
    PERFORM mrp.firm(firm.planned_order);
    SELECT o.* INTO r FROM api.planned_orders o WHERE o.id OPERATOR(pg_catalog.=) firm.planned_order;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.firm(bigint) IS
    'Turn a planned order into a draft purchase order or a confirmed manufacturing order; returns the planned order, its firmed_ref set';

REVOKE ALL ON FUNCTION api.run_mrp(bigint, date, text, integer, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.replenish(bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.firm(bigint) FROM PUBLIC;
