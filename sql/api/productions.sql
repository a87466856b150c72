-- api.productions (read-only) and the manufacturing order functions, each
-- returning the order as api.productions shows it.

CREATE VIEW api.productions WITH (security_invoker = true) AS
SELECT p.company_id, p.id, p.product_id, p.bom_id, p.qty, p.state, p.due_at, p.location_id, p.backorder_of,
       p.components_value, p.operations_cost, p.byproducts_value, p.finished_value, p.unit_cost, p.created_at, p.done_at
  FROM mrp.production p;
COMMENT ON VIEW api.productions IS
    'Manufacturing orders. Read-only: rpc/create_mo, confirm_mo and produce_mo change them';
COMMENT ON COLUMN api.productions.company_id IS 'Company';
COMMENT ON COLUMN api.productions.product_id IS 'Product made; foreign key to products';
COMMENT ON COLUMN api.productions.bom_id IS 'Bill of materials used; foreign key to boms';
COMMENT ON COLUMN api.productions.state IS 'draft, confirmed, done or cancelled';
COMMENT ON COLUMN api.productions.location_id IS 'Stock location of components and product; foreign key to locations';
COMMENT ON COLUMN api.productions.backorder_of IS 'Order this one is the backorder of (no foreign key on the table)';
COMMENT ON COLUMN api.productions.unit_cost IS 'Unit cost of the product made, once done';

CREATE FUNCTION api.create_mo(product bigint, qty numeric, due timestamptz DEFAULT NULL, warehouse bigint DEFAULT NULL)
RETURNS api.productions
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := mrp.create_mo(create_mo.product, create_mo.qty, create_mo.due, create_mo.warehouse);
    r api.productions;
BEGIN
    SELECT p.* INTO r FROM api.productions p WHERE p.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.create_mo(bigint, numeric, timestamptz, bigint) IS
    'A draft manufacturing order of qty of a product with a bill of materials, due at a date, in a warehouse (default: the first); returns it';

CREATE FUNCTION api.confirm_mo(mo bigint) RETURNS api.productions
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.productions;
BEGIN
    PERFORM mrp.confirm_mo(confirm_mo.mo);
    SELECT p.* INTO r FROM api.productions p WHERE p.id OPERATOR(pg_catalog.=) confirm_mo.mo;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.confirm_mo(bigint) IS 'Confirm a draft manufacturing order (its component and product moves); returns it';

CREATE FUNCTION api.produce_mo(mo bigint, qty numeric DEFAULT NULL, idempotency_key text DEFAULT NULL) RETURNS api.productions
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.productions;
BEGIN
    PERFORM mrp.produce_mo(produce_mo.mo, produce_mo.qty, produce_mo.idempotency_key);
    SELECT p.* INTO r FROM api.productions p WHERE p.id OPERATOR(pg_catalog.=) produce_mo.mo;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.produce_mo(bigint, numeric, text) IS
    'Produce a confirmed order (all, or qty: the rest goes to a backorder whose backorder_of is this order); returns it';

REVOKE ALL ON FUNCTION api.create_mo(bigint, numeric, timestamptz, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.confirm_mo(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.produce_mo(bigint, numeric, text) FROM PUBLIC;
