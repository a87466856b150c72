-- Read-only manufacturing master data (bills of materials, their lines,
-- work centers) and the cost of a product's bill of materials.

CREATE VIEW api.boms WITH (security_invoker = true) AS
SELECT b.company_id, b.id, b.product_id, b.qty, b.type, b.sequence, b.active, b.created_at
  FROM mrp.bom b;
COMMENT ON VIEW api.boms IS 'Bills of materials; their components are bom_lines. Read-only (made with mrp.create_bom)';
COMMENT ON COLUMN api.boms.company_id IS 'Company';
COMMENT ON COLUMN api.boms.product_id IS 'Product made; foreign key to products';
COMMENT ON COLUMN api.boms.qty IS 'Quantity of the product one batch makes';
COMMENT ON COLUMN api.boms.type IS 'normal, or phantom (exploded into its parent)';
COMMENT ON COLUMN api.boms.sequence IS 'Order among the product''s bills (the lowest active one is used)';

CREATE VIEW api.bom_lines WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.bom_id, l.product_id, l.qty, l.uom, l.uom_qty, l.scrap_pct
  FROM mrp.bom_line l;
COMMENT ON VIEW api.bom_lines IS 'Components of bills of materials. Read-only';
COMMENT ON COLUMN api.bom_lines.company_id IS 'Company';
COMMENT ON COLUMN api.bom_lines.bom_id IS 'Bill of materials; foreign key to boms';
COMMENT ON COLUMN api.bom_lines.product_id IS 'Component; foreign key to products';
COMMENT ON COLUMN api.bom_lines.qty IS 'Quantity per batch, in the component''s unit';
COMMENT ON COLUMN api.bom_lines.scrap_pct IS 'Expected scrap, percent';

CREATE VIEW api.workcenters WITH (security_invoker = true) AS
SELECT w.company_id, w.id, w.code, w.cost_per_hour, w.capacity, w.active
  FROM mrp.workcenter w;
COMMENT ON VIEW api.workcenters IS 'Work centers where operations run. Read-only';
COMMENT ON COLUMN api.workcenters.company_id IS 'Company; foreign key to companies';
COMMENT ON COLUMN api.workcenters.code IS 'Code, unique in its company';
COMMENT ON COLUMN api.workcenters.cost_per_hour IS 'Cost of an hour of work';
COMMENT ON COLUMN api.workcenters.capacity IS 'Operations it runs at once';

-- The result of api.bom_cost.
CREATE TYPE mrp.bom_cost_line AS (batch_qty numeric, components_cost numeric, operations_cost numeric,
                                  total_cost numeric, unit_cost numeric);
COMMENT ON TYPE mrp.bom_cost_line IS 'Cost of a batch of a product''s bill of materials (api.bom_cost)';

CREATE FUNCTION api.bom_cost(product bigint) RETURNS mrp.bom_cost_line
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ROW(c.batch_qty, c.components_cost, c.operations_cost, c.total_cost, c.unit_cost)::mrp.bom_cost_line
      FROM mrp.bom_cost($1) c
$$;
COMMENT ON FUNCTION api.bom_cost(bigint) IS
    'Cost of one batch of the product''s bill of materials: components, operations, total and unit cost';

REVOKE ALL ON FUNCTION api.bom_cost(bigint) FROM PUBLIC;
