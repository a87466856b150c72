-- api.moves (read-only) and the functions that make and post moves. Each
-- function wraps its stock function (which checks permissions and every
-- rule) and returns the move as api.moves shows it to the caller.

CREATE VIEW api.moves WITH (security_invoker = true) AS
SELECT m.company_id, m.id, m.product_id, m.qty, m.uom, m.uom_qty, m.location_id, m.location_dest_id, m.state,
       m.reserved_qty, m.unit_cost, m.value, m.date, m.ref, m.lot_id, m.origin_move_id, m.backorder_of,
       m.done_at, m.created_at
  FROM stock.move m;
COMMENT ON VIEW api.moves IS
    'Stock moves. Read-only: made and posted by rpc/receive, deliver, transfer, adjust, scrap, validate and return_move';
COMMENT ON COLUMN api.moves.company_id IS 'Company of the move; foreign key to companies';
COMMENT ON COLUMN api.moves.id IS 'Move id';
COMMENT ON COLUMN api.moves.product_id IS 'Product moved; foreign key to products';
COMMENT ON COLUMN api.moves.qty IS 'Quantity in the product''s unit';
COMMENT ON COLUMN api.moves.uom IS 'Unit the move was entered in';
COMMENT ON COLUMN api.moves.uom_qty IS 'Quantity in that unit';
COMMENT ON COLUMN api.moves.location_id IS 'Source location; foreign key to locations';
COMMENT ON COLUMN api.moves.location_dest_id IS 'Destination location; foreign key to locations';
COMMENT ON COLUMN api.moves.state IS 'draft, confirmed, assigned, done or cancelled';
COMMENT ON COLUMN api.moves.unit_cost IS 'Unit cost of a receipt';
COMMENT ON COLUMN api.moves.value IS 'Value posted when done (positive in, negative out)';
COMMENT ON COLUMN api.moves.date IS 'Accounting date';
COMMENT ON COLUMN api.moves.lot_id IS 'Lot moved; foreign key to lots';
COMMENT ON COLUMN api.moves.origin_move_id IS 'Move this one returns (no foreign key on the table)';
COMMENT ON COLUMN api.moves.backorder_of IS 'Move this one is the backorder of (no foreign key on the table)';

CREATE FUNCTION api.receive(product bigint, qty numeric, unit_cost numeric, warehouse bigint DEFAULT NULL,
                            ref text DEFAULT NULL, date timestamptz DEFAULT NULL, lot text DEFAULT NULL,
                            idempotency_key text DEFAULT NULL)
RETURNS api.moves
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := stock.receive(receive.product, receive.qty, receive.unit_cost, receive.warehouse, receive.ref,
                                 coalesce(receive.date, pg_catalog.now()), receive.lot, receive.idempotency_key);
    r api.moves;
BEGIN
    SELECT m.* INTO r FROM api.moves m WHERE m.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.receive(bigint, numeric, numeric, bigint, text, timestamptz, text, text) IS
    'Receive qty of a product from the supplier location into a warehouse (default: the first) at unit_cost, done at once; returns the move';

CREATE FUNCTION api.deliver(product bigint, qty numeric, warehouse bigint DEFAULT NULL, ref text DEFAULT NULL,
                            date timestamptz DEFAULT NULL, lot text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS api.moves
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := stock.deliver(deliver.product, deliver.qty, deliver.warehouse, deliver.ref,
                                 coalesce(deliver.date, pg_catalog.now()), deliver.lot, deliver.idempotency_key);
    r api.moves;
BEGIN
    SELECT m.* INTO r FROM api.moves m WHERE m.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.deliver(bigint, numeric, bigint, text, timestamptz, text, text) IS
    'Deliver qty of a product from a warehouse (default: the first) to the customer location, done at once; returns the move';

CREATE FUNCTION api.transfer(product bigint, qty numeric, from_location bigint, to_location bigint, ref text DEFAULT NULL,
                             date timestamptz DEFAULT NULL, lot text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS api.moves
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := stock.transfer(transfer.product, transfer.qty, transfer.from_location, transfer.to_location,
                                  transfer.ref, coalesce(transfer.date, pg_catalog.now()), transfer.lot,
                                  transfer.idempotency_key);
    r api.moves;
BEGIN
    SELECT m.* INTO r FROM api.moves m WHERE m.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.transfer(bigint, numeric, bigint, bigint, text, timestamptz, text, text) IS
    'Move qty of a product from one location to another, done at once; returns the move';

CREATE FUNCTION api.scrap(product bigint, qty numeric, warehouse bigint DEFAULT NULL, ref text DEFAULT NULL,
                          date timestamptz DEFAULT NULL, lot text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS api.moves
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := stock.scrap(scrap.product, scrap.qty, scrap.warehouse, scrap.ref,
                               coalesce(scrap.date, pg_catalog.now()), scrap.lot, scrap.idempotency_key);
    r api.moves;
BEGIN
    SELECT m.* INTO r FROM api.moves m WHERE m.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.scrap(bigint, numeric, bigint, text, timestamptz, text, text) IS
    'Scrap qty of a product from a warehouse (default: the first), done at once; returns the move';

CREATE FUNCTION api.adjust(product bigint, location bigint, counted_qty numeric, idempotency_key text DEFAULT NULL)
RETURNS api.moves
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := stock.adjust(adjust.product, adjust.location, adjust.counted_qty, adjust.idempotency_key);
    r api.moves;
BEGIN
    IF v_id IS NULL THEN
        RETURN NULL;  -- the count matches the stock: no move
    END IF;
    SELECT m.* INTO r FROM api.moves m WHERE m.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.adjust(bigint, bigint, numeric, text) IS
    'Inventory count of a product in an internal location: moves the difference from or to the inventory location; returns the move, or null when the count matches';

CREATE FUNCTION api.validate(move bigint, qty numeric DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS api.moves
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.moves;
BEGIN
    PERFORM stock.validate(validate.move, validate.qty, validate.idempotency_key);
    SELECT m.* INTO r FROM api.moves m WHERE m.id OPERATOR(pg_catalog.=) validate.move;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.validate(bigint, numeric, text) IS
    'Make a move done (qty less than the move''s: the rest goes to a backorder move, whose backorder_of is this move); returns the move';

CREATE FUNCTION api.return_move(move bigint, qty numeric DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS api.moves
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint := stock.return_move(return_move.move, return_move.qty, return_move.idempotency_key);
    r api.moves;
BEGIN
    SELECT m.* INTO r FROM api.moves m WHERE m.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.return_move(bigint, numeric, text) IS
    'Return (part of, default: what is left of) a done move at its unit cost; returns the new return move';

REVOKE ALL ON FUNCTION api.receive(bigint, numeric, numeric, bigint, text, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.deliver(bigint, numeric, bigint, text, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.transfer(bigint, numeric, bigint, bigint, text, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.scrap(bigint, numeric, bigint, text, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.adjust(bigint, bigint, numeric, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.validate(bigint, numeric, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.return_move(bigint, numeric, text) FROM PUBLIC;
