-- Purchase resources (read-only) and the purchase order functions, each
-- returning the order as api.purchase_orders shows it.

CREATE VIEW api.purchase_orders WITH (security_invoker = true) AS
SELECT o.company_id, o.id, o.vendor_id, o.state, o.date_planned, o.location_id, o.backorder_of,
       o.created_at, o.confirmed_at, o.done_at
  FROM purchase.order o;
COMMENT ON VIEW api.purchase_orders IS
    'Purchase orders; their lines are purchase_order_lines. Read-only: rpc/create_purchase_order, confirm_purchase_order, receive_purchase_order';
COMMENT ON COLUMN api.purchase_orders.company_id IS 'Company';
COMMENT ON COLUMN api.purchase_orders.vendor_id IS 'Vendor; foreign key to partners';
COMMENT ON COLUMN api.purchase_orders.state IS 'draft, confirmed, done or cancelled';
COMMENT ON COLUMN api.purchase_orders.date_planned IS 'Expected arrival';
COMMENT ON COLUMN api.purchase_orders.location_id IS 'Stock location received into; foreign key to locations';
COMMENT ON COLUMN api.purchase_orders.backorder_of IS 'Order this one is the backorder of (no foreign key on the table)';

CREATE VIEW api.purchase_order_lines WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.order_id, l.product_id, l.qty, l.price, l.move_id
  FROM purchase.order_line l;
COMMENT ON VIEW api.purchase_order_lines IS 'Lines of purchase orders. Read-only';
COMMENT ON COLUMN api.purchase_order_lines.company_id IS 'Company';
COMMENT ON COLUMN api.purchase_order_lines.order_id IS 'Order; foreign key to purchase_orders';
COMMENT ON COLUMN api.purchase_order_lines.product_id IS 'Product bought; foreign key to products';
COMMENT ON COLUMN api.purchase_order_lines.price IS 'Unit price';
COMMENT ON COLUMN api.purchase_order_lines.move_id IS 'Incoming move once confirmed; foreign key to moves';

CREATE VIEW api.supplier_prices WITH (security_invoker = true) AS
SELECT s.company_id, s.id, s.product_id, s.vendor_id, s.price, s.lead_days, s.min_qty, s.active
  FROM purchase.supplier_info s;
COMMENT ON VIEW api.supplier_prices IS 'Vendors'' prices and lead times per product (purchase.supplier_info). Read-only';
COMMENT ON COLUMN api.supplier_prices.company_id IS 'Company';
COMMENT ON COLUMN api.supplier_prices.product_id IS 'Product; foreign key to products';
COMMENT ON COLUMN api.supplier_prices.vendor_id IS 'Vendor; foreign key to partners';
COMMENT ON COLUMN api.supplier_prices.lead_days IS 'Days from order to arrival';
COMMENT ON COLUMN api.supplier_prices.min_qty IS 'Smallest quantity this price applies to';

CREATE FUNCTION api.create_purchase_order(vendor bigint, lines jsonb, date_planned timestamptz DEFAULT NULL,
                                          warehouse bigint DEFAULT NULL)
RETURNS api.purchase_orders
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := purchase.create_order(create_purchase_order.vendor, create_purchase_order.lines,
                                         create_purchase_order.date_planned, create_purchase_order.warehouse);
    r api.purchase_orders;
BEGIN
    SELECT o.* INTO r FROM api.purchase_orders o WHERE o.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.create_purchase_order(bigint, jsonb, timestamptz, bigint) IS
    'A draft purchase order from a vendor; lines [{"product": id, "qty": n, "price": p (default: the supplier price)}]; returns it';

CREATE FUNCTION api.confirm_purchase_order(purchase_order bigint) RETURNS api.purchase_orders
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.purchase_orders;
BEGIN
    PERFORM purchase.confirm(confirm_purchase_order.purchase_order);
    SELECT o.* INTO r FROM api.purchase_orders o WHERE o.id OPERATOR(pg_catalog.=) confirm_purchase_order.purchase_order;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.confirm_purchase_order(bigint) IS
    'Confirm a draft purchase order: one incoming move per line; returns the order';

CREATE FUNCTION api.receive_purchase_order(purchase_order bigint, lines jsonb DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS api.purchase_orders
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.purchase_orders;
BEGIN
    PERFORM purchase.receive(receive_purchase_order.purchase_order, receive_purchase_order.lines,
                             receive_purchase_order.idempotency_key);
    SELECT o.* INTO r FROM api.purchase_orders o WHERE o.id OPERATOR(pg_catalog.=) receive_purchase_order.purchase_order;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.receive_purchase_order(bigint, jsonb, text) IS
    'Receive a confirmed order: all of it, or lines [{"product": id, "qty": n}] (the rest goes to a backorder whose backorder_of is this order); returns the order';

REVOKE ALL ON FUNCTION api.create_purchase_order(bigint, jsonb, timestamptz, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.confirm_purchase_order(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.receive_purchase_order(bigint, jsonb, text) FROM PUBLIC;
