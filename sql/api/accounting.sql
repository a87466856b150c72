-- Read-only valuation and accounting resources, and the valuation report.

CREATE VIEW api.valuation_layers WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.product_id, l.move_id, l.created_at, l.quantity, l.unit_cost, l.value,
       l.remaining_qty, l.remaining_value, l.description, l.parent_layer_id
  FROM stock.valuation_layer l;
COMMENT ON VIEW api.valuation_layers IS 'Valuation layers: what each move or revaluation added to a product''s value. Read-only';
COMMENT ON COLUMN api.valuation_layers.company_id IS 'Company; foreign key to companies';
COMMENT ON COLUMN api.valuation_layers.product_id IS 'Product valued; foreign key to products';
COMMENT ON COLUMN api.valuation_layers.move_id IS 'Move that made the layer (null for a revaluation); foreign key to moves';
COMMENT ON COLUMN api.valuation_layers.remaining_qty IS 'Quantity of an incoming layer not consumed yet (FIFO)';
COMMENT ON COLUMN api.valuation_layers.remaining_value IS 'Value of that remaining quantity';
COMMENT ON COLUMN api.valuation_layers.parent_layer_id IS 'Layer this one corrects (no foreign key on the table)';

CREATE VIEW api.journal_entries WITH (security_invoker = true) AS
SELECT e.company_id, e.id, e.date, e.ref, e.move_id, e.layer_id, e.created_at
  FROM stock.journal_entry e;
COMMENT ON VIEW api.journal_entries IS 'Accounting entries of stock valuation, balanced; their lines are journal_lines. Read-only';
COMMENT ON COLUMN api.journal_entries.company_id IS 'Company; foreign key to companies';
COMMENT ON COLUMN api.journal_entries.move_id IS 'Move posted (no foreign key on the table)';
COMMENT ON COLUMN api.journal_entries.layer_id IS 'Valuation layer posted (no foreign key on the table)';

CREATE VIEW api.journal_lines WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.entry_id, l.account_id, l.debit, l.credit
  FROM stock.journal_line l;
COMMENT ON VIEW api.journal_lines IS 'Lines of journal entries: a debit or a credit on an account. Read-only';
COMMENT ON COLUMN api.journal_lines.company_id IS 'Company';
COMMENT ON COLUMN api.journal_lines.entry_id IS 'Entry of the line; foreign key to journal_entries';
COMMENT ON COLUMN api.journal_lines.account_id IS 'Account (stock.account; not a resource)';

-- One line of api.valuation_report.
CREATE TYPE stock.valuation_line AS (product_id bigint, sku text, qty numeric, value numeric, unit_cost numeric);
COMMENT ON TYPE stock.valuation_line IS 'A line of api.valuation_report: quantity, value and average unit cost of a product';

CREATE FUNCTION api.valuation_report(company bigint, at timestamptz DEFAULT NULL)
RETURNS SETOF stock.valuation_line
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.product_id, r.sku, r.qty, r.value, r.unit_cost FROM stock.valuation_report($1, $2) r
$$;
COMMENT ON FUNCTION api.valuation_report(bigint, timestamptz) IS
    'Quantity, value and unit cost of every product of a company, now or at a date; SETOF, so filters, order and limit apply';

REVOKE ALL ON FUNCTION api.valuation_report(bigint, timestamptz) FROM PUBLIC;
