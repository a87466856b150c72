\echo Use "ALTER EXTENSION pgerp_stock UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp_stock 0.1.0 -> 0.2.0 (see migrations/pgerp--0.1.0--0.2.0.sql).
-- Folded before 0.2.0 is frozen: each object is defined once, in its final
-- form. A routine (trigger, index) that several sections changed stands in
-- the section that changed it last; where an earlier section
-- changed it, a line "-- <routine>: final definition below, in section ..."
-- says where it went. A routine whose signature changes is dropped once; one
-- that this script creates has its final signature from the start (no CREATE,
-- DROP and CREATE again), and the allow-list rows name it so. A section added
-- later appends as before, and is folded the same way before the release.

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
    ('stock.validate(bigint,numeric,text)'),
    ('stock.receive(bigint,numeric,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('stock.deliver(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('stock.transfer(bigint,numeric,bigint,bigint,text,timestamp with time zone,text,text)'),
    ('stock.scrap(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('stock.adjust(bigint,bigint,numeric,text)'),
    ('stock.valuation(bigint,timestamp with time zone)'),
    ('stock.valuation_report(bigint,timestamp with time zone)'),
    ('stock.set_standard_price(bigint,numeric)'),
    ('stock.return_move(bigint,numeric,text)'),
    ('stock.verify_valuation(bigint)'),
    ('stock.apply_landed_cost(bigint[],numeric,text,text,text)'),
    ('stock.revalue(bigint,numeric,text,text)'),
    ('stock.set_cost_method(bigint,text)')
ON CONFLICT DO NOTHING;

-- ==== record rules in the function API (#11.3) ====

-- definer lookups by id answer a row hidden by a record rule like a missing one
-- stock._product(bigint): final definition below, in section "identity: no user signed in (#14.5)"
-- stock._location(bigint,bigint): final definition below, in section "identity: no user signed in (#14.5)"
-- stock._move_for_update(bigint,text): final definition below, in section "identity: no user signed in (#14.5)"

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
-- NaN and +-Infinity are refused by every numeric CHECK (NaN > 0 and
-- 'Infinity' > 0 hold in PostgreSQL), and numbers and dates are bounded at
-- entry (docs/stock.md, "Numeric and date bounds").

-- pgerp.max_future_days (src/valuation/bounds.c), read through the library.
CREATE FUNCTION stock._max_future_days() RETURNS integer
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_max_future_days';

-- The largest quantity of a move, a count or a conversion, in absolute value
-- (planning scales quantities by 10^6 into bigint: 9.2e12 at most).
CREATE FUNCTION stock._max_qty() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1000000000000::numeric $$;

-- The largest unit cost, price or amount of money, in absolute value.
CREATE FUNCTION stock._max_amount() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1000000000000000::numeric $$;

-- A numeric argument: finite (22023) and at most p_limit in absolute value
-- (22003, the limit in the detail). NULL passes: callers check it with
-- their own message.
CREATE FUNCTION stock._check_number(p_value numeric, p_name text, p_limit numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_value IS NULL THEN
        RETURN NULL;
    END IF;
    IF NOT (p_value > '-Infinity' AND p_value < 'Infinity') THEN
        RAISE EXCEPTION '% must be a finite number', p_name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The %s given is %s.', p_name, p_value);
    END IF;
    IF abs(p_value) > p_limit THEN
        RAISE EXCEPTION '% is out of range', p_name
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('The %s given is %s; the limit is %s.', p_name, erp._echo(p_value::text), p_limit);
    END IF;
    RETURN p_value;
END $$;

-- A date argument: finite, and for postings at most pgerp.max_future_days
-- ahead of now (22008 both). NULL passes: callers check it.
CREATE FUNCTION stock._check_date(p_date timestamptz, p_name text, p_posting boolean) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_days integer;
BEGIN
    IF p_date IS NULL THEN
        RETURN NULL;
    END IF;
    IF NOT isfinite(p_date) THEN
        RAISE EXCEPTION '% must be a finite date', p_name
            USING ERRCODE = 'datetime_field_overflow',
                  DETAIL = format('The %s given is %s.', p_name, p_date);
    END IF;
    IF p_posting THEN
        v_days := stock._max_future_days();
        IF p_date > now() + make_interval(days => v_days) THEN
            RAISE EXCEPTION '% is too far in the future', p_name
                USING ERRCODE = 'datetime_field_overflow',
                      DETAIL = format('The %s given is %s; a posting may be dated at most %s days ahead of now.',
                                      p_name, p_date, v_days),
                      HINT = 'The limit is the setting pgerp.max_future_days.';
        END IF;
    END IF;
    RETURN p_date;
END $$;

-- The row checks of the tables that postings write (sql/stock/bounds.sql,
-- src/valuation/row_checks.c): calls rather than x > '-Infinity' AND
-- x < 'Infinity', a quarter of the node text PostgreSQL parses again for
-- every INSERT and UPDATE. Same answers.
CREATE FUNCTION stock._finite(numeric) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_stock_finite';
CREATE FUNCTION stock._positive_finite(numeric) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_stock_positive_finite';
CREATE FUNCTION stock._nonnegative_finite(numeric) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_stock_nonnegative_finite';

ALTER TABLE stock.uom
    DROP CONSTRAINT uom_factor_check, ADD CONSTRAINT uom_factor_check CHECK (factor > 0 AND factor < 'Infinity') NOT VALID,
    DROP CONSTRAINT uom_rounding_check, ADD CONSTRAINT uom_rounding_check CHECK (rounding > 0 AND rounding < 'Infinity') NOT VALID;
ALTER TABLE stock.move
    DROP CONSTRAINT move_qty_check, ADD CONSTRAINT move_qty_check CHECK (stock._positive_finite(qty)) NOT VALID,
    DROP CONSTRAINT move_unit_cost_check, ADD CONSTRAINT move_unit_cost_check CHECK (stock._nonnegative_finite(unit_cost)) NOT VALID,
    DROP CONSTRAINT move_uom_qty_check, ADD CONSTRAINT move_uom_qty_check CHECK (stock._positive_finite(uom_qty)) NOT VALID,
    ADD CONSTRAINT move_value_check CHECK (stock._finite(value)) NOT VALID,
    ADD CONSTRAINT move_date_check CHECK (isfinite(date)) NOT VALID;
ALTER TABLE stock.quant
    ADD CONSTRAINT quant_quantity_check CHECK (stock._finite(quantity)) NOT VALID;
ALTER TABLE stock.valuation_layer
    ADD CONSTRAINT valuation_layer_quantity_check CHECK (stock._finite(quantity)) NOT VALID,
    ADD CONSTRAINT valuation_layer_unit_cost_check CHECK (stock._finite(unit_cost)) NOT VALID,
    ADD CONSTRAINT valuation_layer_value_check CHECK (stock._finite(value)) NOT VALID,
    ADD CONSTRAINT valuation_layer_remaining_qty_check CHECK (stock._finite(remaining_qty)) NOT VALID,
    ADD CONSTRAINT valuation_layer_remaining_value_check CHECK (stock._finite(remaining_value)) NOT VALID;
ALTER TABLE stock.product_value
    ADD CONSTRAINT product_value_qty_check CHECK (stock._finite(qty)) NOT VALID,
    ADD CONSTRAINT product_value_value_check CHECK (stock._finite(value)) NOT VALID,
    ADD CONSTRAINT product_value_last_unit_cost_check CHECK (stock._finite(last_unit_cost)) NOT VALID;
ALTER TABLE stock.journal_line
    DROP CONSTRAINT journal_line_debit_check, ADD CONSTRAINT journal_line_debit_check CHECK (stock._nonnegative_finite(debit)) NOT VALID,
    DROP CONSTRAINT journal_line_credit_check, ADD CONSTRAINT journal_line_credit_check CHECK (stock._nonnegative_finite(credit)) NOT VALID;
ALTER TABLE stock.landed_cost
    DROP CONSTRAINT landed_cost_amount_check, ADD CONSTRAINT landed_cost_amount_check CHECK (amount > 0 AND amount < 'Infinity') NOT VALID,
    ADD CONSTRAINT landed_cost_capitalised_check CHECK (capitalised > '-Infinity' AND capitalised < 'Infinity') NOT VALID,
    ADD CONSTRAINT landed_cost_expensed_check CHECK (expensed > '-Infinity' AND expensed < 'Infinity') NOT VALID;

-- Rows written by 0.1.0 may hold NaN or infinities (an infinite currency
-- rounding made every value NaN): the constraints above are added NOT VALID
-- (new rows are checked at once) and validated here; a table with such rows
-- keeps its constraint NOT VALID and the update says so (stock.verify_valuation
-- lists the products) instead of failing.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('stock.uom', 'uom_factor_check'),
        ('stock.uom', 'uom_rounding_check'),
        ('stock.move', 'move_qty_check'),
        ('stock.move', 'move_unit_cost_check'),
        ('stock.move', 'move_uom_qty_check'),
        ('stock.move', 'move_value_check'),
        ('stock.move', 'move_date_check'),
        ('stock.quant', 'quant_quantity_check'),
        ('stock.valuation_layer', 'valuation_layer_quantity_check'),
        ('stock.valuation_layer', 'valuation_layer_unit_cost_check'),
        ('stock.valuation_layer', 'valuation_layer_value_check'),
        ('stock.valuation_layer', 'valuation_layer_remaining_qty_check'),
        ('stock.valuation_layer', 'valuation_layer_remaining_value_check'),
        ('stock.product_value', 'product_value_qty_check'),
        ('stock.product_value', 'product_value_value_check'),
        ('stock.product_value', 'product_value_last_unit_cost_check'),
        ('stock.journal_line', 'journal_line_debit_check'),
        ('stock.journal_line', 'journal_line_credit_check'),
        ('stock.landed_cost', 'landed_cost_amount_check'),
        ('stock.landed_cost', 'landed_cost_capitalised_check'),
        ('stock.landed_cost', 'landed_cost_expensed_check')
    ) v(tab, con) LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', c.tab, c.con);
        EXCEPTION WHEN check_violation THEN
            RAISE WARNING 'constraint % of % is left NOT VALID: rows hold a value that is not a finite number', c.con, c.tab
                USING HINT = 'stock.verify_valuation() lists the products; correct the rows, then run ALTER TABLE ... VALIDATE CONSTRAINT.';
        END;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION stock.convert_uom(p_qty numeric, p_from text, p_to text) RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f stock.uom;
    t stock.uom;
    v_qty numeric;
BEGIN
    IF p_qty IS NULL THEN
        RAISE EXCEPTION 'quantity must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stock._check_number(p_qty, 'quantity', stock._max_qty());
    SELECT * INTO f FROM stock.uom u WHERE u.code = p_from;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown unit of measure %', erp._echo(p_from)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Units are listed in stock.uom.';
    END IF;
    SELECT * INTO t FROM stock.uom u WHERE u.code = p_to;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown unit of measure %', erp._echo(p_to)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Units are listed in stock.uom.';
    END IF;
    IF f.category <> t.category THEN
        RAISE EXCEPTION 'cannot convert % to %', f.code, t.code
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s measures %s, %s measures %s.', f.code, f.category, t.code, t.category);
    END IF;
    v_qty := stock.round_to(p_qty * f.factor / t.factor, t.rounding);
    -- the converted quantity too: 10^12 kg is 10^15 g
    PERFORM stock._check_number(v_qty, format('quantity in %s', t.code), stock._max_qty());
    RETURN v_qty;
END $$;

-- stock.create_warehouse(bigint,text,text): final definition below, in section "identity: no user signed in (#14.5)"

CREATE OR REPLACE FUNCTION stock.virtual_location(p_company bigint, p_usage text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v bigint;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_usage IS NULL OR p_usage NOT IN ('supplier', 'customer', 'inventory', 'production', 'scrap', 'transit') THEN
        RAISE EXCEPTION 'invalid virtual location usage %', erp._echo(p_usage)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The usages are supplier, customer, inventory, production, scrap and transit.';
    END IF;
    SELECT l.id INTO v FROM stock.location l WHERE l.company_id = p_company AND l.usage = p_usage;
    IF v IS NULL THEN
        RAISE EXCEPTION 'company % has no stock locations', coalesce(p_company::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'They are made with the company''s first warehouse or product.';
    END IF;
    RETURN v;
END $$;

-- stock.create_product(bigint,text,text,text,numeric,text,text): final definition below, in section "backdate (#15)"

CREATE OR REPLACE FUNCTION stock.create_move(p_product bigint, p_qty numeric, p_from bigint, p_to bigint,
                                  p_unit_cost numeric DEFAULT NULL, p_date timestamptz DEFAULT now(),
                                  p_ref text DEFAULT NULL, p_uom text DEFAULT NULL, p_lot text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_from stock.location;
    v_to stock.location;
    v_uom text := coalesce(p_uom, p.uom);
    v_qty numeric;
    v_lot bigint;
    v_id bigint;
BEGIN
    PERFORM stock._require('stock.move:create', p.company_id);
    IF p_qty IS NULL THEN
        RAISE EXCEPTION 'quantity must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'quantity must be positive' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    -- the quantity's bound (22003) and the unit's name are checked there
    v_qty := stock.convert_uom(p_qty, v_uom, p.uom);
    IF v_qty <= 0 THEN
        RAISE EXCEPTION 'quantity rounds to zero in the product''s unit' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('%s %s is %s %s.', erp._echo(p_qty::text), v_uom, v_qty, p.uom);
    END IF;
    v_from := stock._location(p.company_id, p_from);
    v_to := stock._location(p.company_id, p_to);
    IF v_from.id = v_to.id THEN
        RAISE EXCEPTION 'source and destination are the same location' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_unit_cost IS NOT NULL AND NOT (p_unit_cost >= 0 AND p_unit_cost < 'Infinity') THEN
        RAISE EXCEPTION 'unit cost must be zero or positive' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The unit cost given is %s.', erp._echo(p_unit_cost::text));
    END IF;
    PERFORM stock._check_number(p_unit_cost, 'unit cost', stock._max_amount());
    IF p_date IS NULL THEN
        RAISE EXCEPTION 'date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stock._check_date(p_date, 'date', true);
    IF p.tracking = 'none' AND p_lot IS NOT NULL THEN
        RAISE EXCEPTION 'product % is not tracked by lot or serial number', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.tracking <> 'none' THEN
        IF p_lot IS NULL OR btrim(p_lot) = '' THEN
            RAISE EXCEPTION 'product % needs a % number', p.sku, p.tracking USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_lot !~ '^\S.{0,63}$' THEN
            RAISE EXCEPTION 'invalid % number %', p.tracking, erp._echo(p_lot)
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A lot or serial number is 1 to 64 characters and starts with a non-space.';
        END IF;
        IF p.tracking = 'serial' AND v_qty <> 1 THEN
            RAISE EXCEPTION 'a serial-numbered move carries exactly one unit' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('The quantity is %s %s.', v_qty, p.uom);
        END IF;
        SELECT l.id INTO v_lot FROM stock.lot l WHERE l.company_id = p.company_id AND l.product_id = p.id AND l.name = p_lot;
        IF v_lot IS NULL THEN
            IF v_from.usage = 'internal' THEN
                RAISE EXCEPTION '% % of product % does not exist', p.tracking, erp._echo(p_lot), p.sku
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            INSERT INTO stock.lot (company_id, product_id, name) VALUES (p.company_id, p.id, p_lot) RETURNING id INTO v_lot;
        END IF;
    END IF;
    INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id,
                            unit_cost, date, ref, lot_id)
    VALUES (p.company_id, p.id, v_qty, v_uom, p_qty, v_from.id, v_to.id, p_unit_cost, p_date, p_ref, v_lot)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;

-- stock._journal_balanced(): final definition below, in section "bulkwrite (#16)"
-- stock.adjust(bigint,bigint,numeric): dropped below (its signature changes)
-- stock.valuation(bigint,timestamptz): final definition below, in section "snapshots (#16)"
-- stock.valuation_report(bigint,timestamptz): final definition below, in section "report (#16)"
-- stock.set_standard_price(bigint,numeric): final definition below, in section "backprop (#15)"
-- stock.return_move(bigint,numeric): dropped below (its signature changes)
-- stock.verify_valuation(bigint): final definition below, in section "backdate (#15)"
-- stock.apply_landed_cost(bigint[],numeric,text,text): dropped below (its signature changes)
-- stock.revalue(bigint,numeric,text): dropped below (its signature changes)
-- stock.set_cost_method(bigint,text): final definition below, in section "openlayers (#16)"

-- ==== reservations (#11.9) ====
-- What other moves reserved is not available to an outgoing move, and a
-- quant never reserves more than it holds (docs/stock.md, "Reservations").
-- A move takes stock that other moves reserved (negative stock allowed):
-- free their reservations, newest move first, until at most p_keep stays
-- reserved on the quant, so that reserved <= greatest(quantity, 0) holds.
-- The freed moves go back to confirmed. A move locked by another session
-- (which queues on the product's running totals we hold) is not waited
-- for: when what is left cannot be freed, 40001 (retry).
CREATE FUNCTION stock._free_reserved(p_company bigint, p_product bigint, p_location bigint, p_lot bigint,
                                     p_keep numeric, p_except bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_reserved numeric;
    v_excess numeric;
    v_take numeric;
    r record;
BEGIN
    SELECT q.reserved INTO v_reserved FROM stock.quant q
     WHERE q.company_id = p_company AND q.product_id = p_product AND q.location_id = p_location
       AND q.lot_id = coalesce(p_lot, 0)
       FOR UPDATE;
    v_excess := coalesce(v_reserved, 0) - greatest(p_keep, 0);
    IF v_excess <= 0 THEN
        RETURN;
    END IF;
    FOR r IN SELECT mv.id, mv.reserved_qty FROM stock.move mv
              WHERE mv.company_id = p_company AND mv.product_id = p_product AND mv.location_id = p_location
                AND coalesce(mv.lot_id, 0) = coalesce(p_lot, 0) AND mv.state IN ('confirmed', 'assigned')
                AND mv.reserved_qty > 0 AND mv.id IS DISTINCT FROM p_except
              ORDER BY mv.id DESC
                FOR UPDATE SKIP LOCKED
    LOOP
        EXIT WHEN v_excess <= 0;
        v_take := least(v_excess, r.reserved_qty);
        UPDATE stock.move SET reserved_qty = reserved_qty - v_take, state = 'confirmed'
         WHERE company_id = p_company AND id = r.id;
        UPDATE stock.quant SET reserved = reserved - v_take
         WHERE company_id = p_company AND product_id = p_product AND location_id = p_location AND lot_id = coalesce(p_lot, 0);
        v_excess := v_excess - v_take;
    END LOOP;
    IF v_excess > 0 THEN
        RAISE EXCEPTION 'could not free the reservations of product % in location %', p_product, p_location
            USING ERRCODE = 'serialization_failure',
                  DETAIL = format('%s stays reserved by moves that another transaction is changing.', v_excess),
                  HINT = 'Retry the transaction.';
    END IF;
END $$;

-- stock.validate(bigint,numeric): dropped below (its signature changes)

-- Quants left over-reserved by 0.1.0 (a delivery took reserved stock): free
-- the newest reservations, then clamp what no open move accounts for.
DO $$
DECLARE
    q record;
BEGIN
    FOR q IN SELECT * FROM stock.quant WHERE reserved > greatest(quantity, 0) LOOP
        BEGIN
            PERFORM stock._free_reserved(q.company_id, q.product_id, q.location_id, q.lot_id, q.quantity, NULL);
        EXCEPTION WHEN serialization_failure THEN
            NULL;
        END;
    END LOOP;
    UPDATE stock.quant SET reserved = greatest(quantity, 0) WHERE reserved > greatest(quantity, 0);
END $$;
ALTER TABLE stock.quant ADD CONSTRAINT quant_reserved_covered CHECK (reserved <= greatest(quantity, 0));


-- ==== other ====


-- ==== api: the HTTP contract (sql/api/, docs/api.md) ====

-- sql/api/products.sql
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

-- sql/api/warehouses.sql
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

-- sql/api/inventory.sql
-- Read-only stock resources: locations, lots and quants (what is where).

CREATE VIEW api.locations WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.name, l.usage, l.warehouse_id, l.active
  FROM stock.location l;
COMMENT ON VIEW api.locations IS 'Stock locations: internal ones hold stock, the others (supplier, customer, inventory, production, scrap, transit) are counterparts. Read-only';
COMMENT ON COLUMN api.locations.company_id IS 'Company of the location; foreign key to companies';
COMMENT ON COLUMN api.locations.id IS 'Location id';
COMMENT ON COLUMN api.locations.usage IS 'internal, supplier, customer, inventory, production, scrap or transit';
COMMENT ON COLUMN api.locations.warehouse_id IS 'Warehouse of an internal location (no foreign key on the table)';

CREATE VIEW api.lots WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.product_id, l.name, l.created_at
  FROM stock.lot l;
COMMENT ON VIEW api.lots IS 'Lots and serial numbers of tracked products. Read-only: they are made by receipts';
COMMENT ON COLUMN api.lots.company_id IS 'Company of the lot; foreign key to companies';
COMMENT ON COLUMN api.lots.id IS 'Lot id';
COMMENT ON COLUMN api.lots.product_id IS 'Product of the lot; foreign key to products';
COMMENT ON COLUMN api.lots.name IS 'Lot or serial number, unique per product';

CREATE VIEW api.quants WITH (security_invoker = true) AS
SELECT q.company_id, q.product_id, q.location_id, q.lot_id, q.quantity, q.reserved, q.in_date
  FROM stock.quant q;
COMMENT ON VIEW api.quants IS 'Stock on hand per product, location and lot (no id: the key is company_id, product_id, location_id, lot_id). Read-only';
COMMENT ON COLUMN api.quants.company_id IS 'Company; foreign key to companies';
COMMENT ON COLUMN api.quants.product_id IS 'Product; foreign key to products';
COMMENT ON COLUMN api.quants.location_id IS 'Location; foreign key to locations';
COMMENT ON COLUMN api.quants.lot_id IS 'Lot (0: no lot; no foreign key)';
COMMENT ON COLUMN api.quants.quantity IS 'Quantity on hand, in the product''s unit';
COMMENT ON COLUMN api.quants.reserved IS 'Part of the quantity reserved by moves';

-- sql/api/moves.sql
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

-- sql/api/accounting.sql
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

-- The HTTP contract, schema api (sql/api/, docs/api.md).
INSERT INTO erp.app_routine (routine) VALUES
    ('api.receive(bigint,numeric,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('api.deliver(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('api.transfer(bigint,numeric,bigint,bigint,text,timestamp with time zone,text,text)'),
    ('api.scrap(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('api.adjust(bigint,bigint,numeric,text)'),
    ('api.validate(bigint,numeric,text)'),
    ('api.return_move(bigint,numeric,text)'),
    ('api.valuation_report(bigint,timestamp with time zone)')
ON CONFLICT DO NOTHING;

-- The HTTP contract's views (sql/api/).
INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('api.products', 'SELECT, INSERT, UPDATE'),
    ('api.warehouses', 'SELECT, INSERT'),
    ('api.locations', 'SELECT'),
    ('api.lots', 'SELECT'),
    ('api.quants', 'SELECT'),
    ('api.moves', 'SELECT'),
    ('api.valuation_layers', 'SELECT'),
    ('api.journal_entries', 'SELECT'),
    ('api.journal_lines', 'SELECT');


-- ==== identity: no user signed in (#14.5) ====

-- the lookups and the permission check of the writers answer 28000 when nobody is signed in
CREATE OR REPLACE FUNCTION stock._product(p_product bigint) RETURNS stock.product
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.product;
BEGIN
    SELECT * INTO v FROM stock.product p WHERE p.id = p_product;
    -- hidden by company security or a record rule: "does not exist" (#11.3)
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'stock.product:read')
                                                AND erp._row_visible('stock.product', v.id))) THEN
        PERFORM erp._require_signed_in();  -- nobody signed in: 28000, not "does not exist" (#14.5)
        RAISE EXCEPTION 'product % does not exist', coalesce(p_product::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION stock._require(p_code text, p_company bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission(p_code, p_company);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION stock._location(p_company bigint, p_location bigint) RETURNS stock.location
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v stock.location;
BEGIN
    SELECT * INTO v FROM stock.location l WHERE l.id = p_location;
    IF NOT FOUND OR v.company_id <> p_company OR NOT erp._row_visible('stock.location', v.id) THEN
        PERFORM erp._require_signed_in();
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
        PERFORM erp._require_signed_in();
        RAISE EXCEPTION 'move % does not exist', coalesce(p_move::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION stock.create_warehouse(p_company bigint, p_code text, p_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_loc bigint;
    v_wh bigint;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.warehouse:create', p_company);
    END IF;
    IF p_code IS NULL OR p_code !~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$' THEN
        RAISE EXCEPTION 'invalid warehouse code %', erp._echo(p_code)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A warehouse code is 1 to 16 letters, digits, - or _, starting with a letter or digit.';
    END IF;
    PERFORM stock._ensure_company(p_company);
    IF EXISTS (SELECT 1 FROM stock.warehouse w WHERE w.company_id = p_company AND w.code = p_code) THEN
        RAISE EXCEPTION 'warehouse % already exists in company %', quote_literal(p_code), p_company
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO stock.location (company_id, name, usage)
    VALUES (p_company, p_code || '/Stock', 'internal')
    RETURNING id INTO v_loc;
    INSERT INTO stock.warehouse (company_id, code, name, location_id)
    VALUES (p_company, p_code, coalesce(nullif(btrim(p_name, E' \t\r\n\f'), ''), p_code), v_loc)
    RETURNING id INTO v_wh;
    UPDATE stock.location SET warehouse_id = v_wh WHERE company_id = p_company AND id = v_loc;
    RETURN v_wh;
END $$;

CREATE OR REPLACE FUNCTION stock.set_allow_negative(p_company bigint, p_allow boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_company IS NULL OR p_allow IS NULL THEN
        RAISE EXCEPTION 'company and setting must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.company_setting:write', p_company);
    END IF;
    PERFORM stock._ensure_company(p_company);
    UPDATE stock.company_setting SET allow_negative = p_allow WHERE company_id = p_company;
END $$;

-- stock.create_product(bigint,text,text,text,numeric,text,text): final definition below, in section "backdate (#15)"

-- ==== idempotency keys (#14.6) ====

-- Idempotency keys of the posting functions (#14.6, docs/stock.md): a client
-- that cannot tell whether its commit landed (a failover, a lost connection)
-- retries with the same key and gets the first posting's result, posted once.
-- Keys are unique per company; the row holds the routine, its arguments in
-- canonical form (jsonb: numbers compare by value, dates as epoch seconds)
-- and the result. Rows are written only by the posting functions, in the
-- posting's transaction: a key exists exactly when its posting committed.

CREATE TABLE stock.idempotency_key (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    key text NOT NULL,
    routine text NOT NULL,
    args jsonb NOT NULL,
    result jsonb,
    user_id bigint,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, key)
);
CREATE INDEX idempotency_key_created_idx ON stock.idempotency_key (created_at);
COMMENT ON TABLE stock.idempotency_key IS
    'Idempotency keys of postings, per company: routine, canonical arguments and the first result';

-- A timestamp argument in canonical form: epoch seconds (the session's time
-- zone does not matter), and NULL for now(), which is what the date
-- parameters default to, so that a retry in a later transaction that leaves
-- the date out matches the first call.
CREATE FUNCTION stock._idempotency_date(p_date timestamptz) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_date = pg_catalog.now() THEN NULL ELSE EXTRACT(epoch FROM p_date) END
$$;

-- Claim p_key for a posting of p_company, or find the posting that used it.
-- replay = false: the key is new (or NULL) and now taken by this transaction;
-- the caller posts, then stores its result with stock._idempotency_done().
-- replay = true: the same routine with the same arguments committed before;
-- result is what it returned. Other arguments: 23505. Two transactions with
-- the same key serialize on the primary key: the second waits until the
-- first commits (then replays) or rolls back (then posts).
CREATE FUNCTION stock._idempotency_claim(p_company bigint, p_key text, p_routine text, p_args jsonb,
                                         OUT replay boolean, OUT result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    k stock.idempotency_key;
BEGIN
    replay := false;
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    IF p_key !~ '^[\x21-\x7e]{1,255}$' THEN
        RAISE EXCEPTION 'invalid idempotency key %', erp._echo(p_key)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An idempotency key is 1 to 255 printable ASCII characters without spaces.';
    END IF;
    INSERT INTO stock.idempotency_key (company_id, key, routine, args, user_id)
    VALUES (p_company, p_key, p_routine, p_args, erp.current_user_id())
    ON CONFLICT (company_id, key) DO NOTHING;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO STRICT k FROM stock.idempotency_key i WHERE i.company_id = p_company AND i.key = p_key;
    IF k.routine <> p_routine OR k.args <> p_args THEN
        RAISE EXCEPTION 'idempotency key % was used for another posting', erp._echo(p_key)
            USING ERRCODE = 'unique_violation',
                  DETAIL = CASE WHEN k.routine <> p_routine
                                THEN format('The key was used by %s at %s.', k.routine, k.created_at)
                                ELSE format('The key was used by %s at %s with other arguments.', k.routine, k.created_at) END,
                  HINT = 'Retry with the same arguments, or use a new key for a new posting.';
    END IF;
    replay := true;
    result := k.result;
END $$;

-- The result of the posting that claimed p_key (nothing without a key).
CREATE FUNCTION stock._idempotency_done(p_company bigint, p_key text, p_result jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_key IS NOT NULL THEN
        UPDATE stock.idempotency_key SET result = p_result WHERE company_id = p_company AND key = p_key;
    END IF;
END $$;

-- Retention: keys older than p_age may go (a retry after that posts anew).
-- For erp._housekeeping(); returns how many were deleted.
CREATE FUNCTION stock._purge_idempotency_keys(p_age interval DEFAULT '7 days') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF p_age IS NULL OR NOT isfinite(p_age) OR p_age < interval '0' THEN
        RAISE EXCEPTION 'retention must be a finite interval of zero or more'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The retention given is %s.', p_age);
    END IF;
    DELETE FROM stock.idempotency_key WHERE created_at < pg_catalog.now() - p_age;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION stock._purge_idempotency_keys(interval) IS
    'Delete idempotency keys older than the retention (default 7 days); returns how many';

SELECT erp.protect('stock.idempotency_key');
INSERT INTO erp.app_table (table_name, privileges) VALUES ('stock.idempotency_key', 'SELECT');
SELECT pg_catalog.pg_extension_config_dump('stock.idempotency_key', '');

-- the posting functions take p_idempotency_key: a new signature
DROP FUNCTION stock.validate(bigint, numeric);
DROP FUNCTION stock.receive(bigint, numeric, numeric, bigint, text, timestamptz, text);
DROP FUNCTION stock.deliver(bigint, numeric, bigint, text, timestamptz, text);
DROP FUNCTION stock.transfer(bigint, numeric, bigint, bigint, text, timestamptz, text);
DROP FUNCTION stock.scrap(bigint, numeric, bigint, text, timestamptz, text);
DROP FUNCTION stock.adjust(bigint, bigint, numeric);
DROP FUNCTION stock.return_move(bigint, numeric);
DROP FUNCTION stock.apply_landed_cost(bigint[], numeric, text, text);
DROP FUNCTION stock.revalue(bigint, numeric, text);

-- stock.validate(bigint,numeric,text): final definition below, in section "backprop (#15)"
-- stock.receive(bigint,numeric,numeric,bigint,text,timestamptz,text,text): final definition below, in section "backprop (#15)"
-- stock.deliver(bigint,numeric,bigint,text,timestamptz,text,text): final definition below, in section "backprop (#15)"
-- stock.transfer(bigint,numeric,bigint,bigint,text,timestamptz,text,text): final definition below, in section "backprop (#15)"
-- stock.scrap(bigint,numeric,bigint,text,timestamptz,text,text): final definition below, in section "backprop (#15)"
-- stock.adjust(bigint,bigint,numeric,text): final definition below, in section "backprop (#15)"
-- stock.return_move(bigint,numeric,text): final definition below, in section "backprop (#15)"
-- stock.apply_landed_cost(bigint[],numeric,text,text,text): final definition below, in section "landed (#15)"
-- stock.revalue(bigint,numeric,text,text): final definition below, in section "backprop (#15)"

-- the api functions that post pass the key (the HTTP header Idempotency-Key, src/rest/rpc.c):
-- api.receive, deliver, transfer, scrap, adjust, validate and return_move are defined so
-- in section "api: the HTTP contract (sql/api/, docs/api.md)" above

-- ==== purge (#14): the idempotency-key purge as a housekeeping chore ====
-- pgerp.idempotency_key_retention in seconds (src/valuation/bounds.c).
CREATE FUNCTION stock._idempotency_key_retention() RETURNS integer
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_idempotency_key_retention';

-- The chore the job workers' housekeeping runs once an hour
-- (erp.housekeeping_chore): purge at the retention pgerp.idempotency_key_retention.
CREATE FUNCTION stock._housekeeping() RETURNS jsonb
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('idempotency_keys_purged',
        stock._purge_idempotency_keys(make_interval(secs => stock._idempotency_key_retention())))
$$;
COMMENT ON FUNCTION stock._housekeeping() IS
    'Hourly chore of pgerp_stock (erp.housekeeping_chore): purge the idempotency keys older than pgerp.idempotency_key_retention';
INSERT INTO erp.housekeeping_chore (routine, every) VALUES ('stock._housekeeping()', interval '1 hour');

-- ==== backdate (#15) ====

-- the open layers' index valuation_layer_open_idx: replaced below, in section "openlayers (#16)"

-- dated history of standard prices and cost methods (sql/stock/history.sql)
CREATE TABLE stock.standard_price_history (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    valid_from timestamptz NOT NULL,
    price numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity'),
    seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, product_id, valid_from),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('stock.standard_price_history', '');
COMMENT ON TABLE stock.standard_price_history IS
    'Standard price of a product from valid_from on (-infinity: since its creation); written by create_product and set_standard_price';

CREATE TABLE stock.cost_method_history (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    valid_from timestamptz NOT NULL,
    method text NOT NULL CHECK (method IN ('fifo', 'avco', 'standard')),
    seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, product_id, valid_from),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('stock.cost_method_history', '');
COMMENT ON TABLE stock.cost_method_history IS
    'Cost method of a product from valid_from on (-infinity: since its creation); written by create_product and set_cost_method';

-- 0.1.0 data: the history its layers tell. A standard price change leaves a layer
-- "Product value manually modified (from X to Y)" and a method change a pair
-- "Costing method change (X to Y): stock out / in", each dated at the change:
-- the first one's X holds since -infinity, each change's Y from its date. A
-- change made without stock left no layer: the current value then holds from
-- the upgrade on (and moves dated before it are back-dated).
INSERT INTO stock.standard_price_history (company_id, product_id, valid_from, price, seq)
SELECT p.company_id, p.id, '-infinity', coalesce(
           (SELECT (regexp_match(l.description, '^Product value manually modified \(from ([0-9.]+) to'))[1]::numeric
              FROM stock.valuation_layer l
             WHERE l.company_id = p.company_id AND l.product_id = p.id AND l.move_id IS NULL
               AND l.description ~ '^Product value manually modified \(from [0-9.]+ to [0-9.]+\)$'
             ORDER BY l.created_at, l.id LIMIT 1), p.standard_price), 0
  FROM stock.product p;
INSERT INTO stock.standard_price_history (company_id, product_id, valid_from, price, seq)
SELECT DISTINCT ON (l.company_id, l.product_id, l.created_at) l.company_id, l.product_id, l.created_at,
       (regexp_match(l.description, ' to ([0-9.]+)\)$'))[1]::numeric, l.id
  FROM stock.valuation_layer l
 WHERE l.move_id IS NULL AND l.description ~ '^Product value manually modified \(from [0-9.]+ to [0-9.]+\)$'
 ORDER BY l.company_id, l.product_id, l.created_at, l.id DESC;
INSERT INTO stock.cost_method_history (company_id, product_id, valid_from, method, seq)
SELECT p.company_id, p.id, '-infinity', coalesce(
           (SELECT (regexp_match(l.description, '^Costing method change \((fifo|avco|standard) to'))[1]
              FROM stock.valuation_layer l
             WHERE l.company_id = p.company_id AND l.product_id = p.id AND l.move_id IS NULL
               AND l.description ~ '^Costing method change \((fifo|avco|standard) to (fifo|avco|standard)\): stock in$'
             ORDER BY l.created_at, l.id LIMIT 1), p.cost_method), 0
  FROM stock.product p;
INSERT INTO stock.cost_method_history (company_id, product_id, valid_from, method, seq)
SELECT DISTINCT ON (l.company_id, l.product_id, l.created_at) l.company_id, l.product_id, l.created_at,
       (regexp_match(l.description, ' to (fifo|avco|standard)\)'))[1], l.id - 1
  FROM stock.valuation_layer l
 WHERE l.move_id IS NULL AND l.description ~ '^Costing method change \((fifo|avco|standard) to (fifo|avco|standard)\): stock in$'
 ORDER BY l.company_id, l.product_id, l.created_at, l.id DESC;
-- what no layer tells: the current price or method, from the upgrade on
INSERT INTO stock.standard_price_history (company_id, product_id, valid_from, price, seq)
SELECT p.company_id, p.id, greatest(now(), coalesce(pv.last_date, now())), p.standard_price,
       nextval(pg_get_serial_sequence('stock.valuation_layer', 'id'))
  FROM stock.product p
  LEFT JOIN stock.product_value pv ON pv.company_id = p.company_id AND pv.product_id = p.id
 WHERE p.standard_price <> (SELECT h.price FROM stock.standard_price_history h
                             WHERE h.company_id = p.company_id AND h.product_id = p.id
                             ORDER BY h.valid_from DESC LIMIT 1)
ON CONFLICT (company_id, product_id, valid_from) DO UPDATE SET price = EXCLUDED.price;
INSERT INTO stock.cost_method_history (company_id, product_id, valid_from, method, seq)
SELECT p.company_id, p.id, greatest(now(), coalesce(pv.last_date, now())), p.cost_method,
       nextval(pg_get_serial_sequence('stock.valuation_layer', 'id'))
  FROM stock.product p
  LEFT JOIN stock.product_value pv ON pv.company_id = p.company_id AND pv.product_id = p.id
 WHERE p.cost_method <> (SELECT h.method FROM stock.cost_method_history h
                          WHERE h.company_id = p.company_id AND h.product_id = p.id
                          ORDER BY h.valid_from DESC LIMIT 1)
ON CONFLICT (company_id, product_id, valid_from) DO UPDATE SET method = EXCLUDED.method;
UPDATE stock.product_value pv SET last_date = greatest(now(), coalesce(pv.last_date, now()))
 WHERE EXISTS (SELECT 1 FROM stock.standard_price_history h
                WHERE h.company_id = pv.company_id AND h.product_id = pv.product_id AND h.valid_from > coalesce(pv.last_date, '-infinity'))
    OR EXISTS (SELECT 1 FROM stock.cost_method_history h
                WHERE h.company_id = pv.company_id AND h.product_id = pv.product_id AND h.valid_from > coalesce(pv.last_date, '-infinity'));

-- stock.revalue(bigint,numeric,text,text): final definition below, in section "backprop (#15)"
-- stock.apply_landed_cost(bigint[],numeric,text,text,text): final definition below, in section "landed (#15)"
-- stock.set_cost_method(bigint,text): final definition below, in section "openlayers (#16)"
-- stock.set_standard_price(bigint,numeric): final definition below, in section "backprop (#15)"

CREATE OR REPLACE FUNCTION stock.create_product(p_company bigint, p_sku text, p_name text, p_cost_method text DEFAULT 'fifo',
                                     p_standard_price numeric DEFAULT 0, p_uom text DEFAULT 'Unit',
                                     p_tracking text DEFAULT 'none')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
    v_precision int;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.product:create', p_company);
    END IF;
    SELECT c.price_precision INTO v_precision FROM erp.company c WHERE c.id = p_company;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_sku IS NULL OR p_sku !~ '^\S{1,64}$' THEN
        RAISE EXCEPTION 'invalid SKU %', erp._echo(p_sku)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A SKU is 1 to 64 characters without spaces.';
    END IF;
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'product name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_cost_method IS NULL OR p_cost_method NOT IN ('fifo', 'avco', 'standard') THEN
        RAISE EXCEPTION 'invalid cost method %', erp._echo(p_cost_method)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The cost methods are fifo, avco and standard.';
    END IF;
    IF p_standard_price IS NULL OR NOT (p_standard_price >= 0 AND p_standard_price < 'Infinity') THEN
        RAISE EXCEPTION 'standard price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_standard_price, 'standard price', stock._max_amount());
    IF p_uom IS NULL OR NOT EXISTS (SELECT 1 FROM stock.uom u WHERE u.code = p_uom) THEN
        RAISE EXCEPTION 'unknown unit of measure %', erp._echo(p_uom)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Units are listed in stock.uom.';
    END IF;
    IF p_tracking IS NULL OR p_tracking NOT IN ('none', 'lot', 'serial') THEN
        RAISE EXCEPTION 'invalid tracking %', erp._echo(p_tracking)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Tracking is none, lot or serial.';
    END IF;
    PERFORM stock._ensure_company(p_company);
    IF EXISTS (SELECT 1 FROM stock.product p WHERE p.company_id = p_company AND p.sku = p_sku) THEN
        RAISE EXCEPTION 'SKU % already exists in company %', quote_literal(p_sku), p_company
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO stock.product (company_id, sku, name, cost_method, standard_price, uom, tracking)
    VALUES (p_company, p_sku, btrim(p_name, E' \t\r\n\f'), p_cost_method,
            round(p_standard_price, v_precision), p_uom, p_tracking)
    RETURNING id INTO v_id;
    PERFORM stock._record_history(p_company, v_id, '-infinity', round(p_standard_price, v_precision), p_cost_method);
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION stock._record_history(p_company bigint, p_product bigint, p_at timestamptz,
                                      p_price numeric, p_method text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint := CASE WHEN p_at = '-infinity' THEN 0
                         ELSE nextval(pg_get_serial_sequence('stock.valuation_layer', 'id')) END;
BEGIN
    IF p_price IS NOT NULL THEN
        INSERT INTO stock.standard_price_history (company_id, product_id, valid_from, price, seq)
        VALUES (p_company, p_product, p_at, p_price, v_seq)
        ON CONFLICT (company_id, product_id, valid_from) DO UPDATE SET price = EXCLUDED.price, seq = EXCLUDED.seq;
    END IF;
    IF p_method IS NOT NULL THEN
        INSERT INTO stock.cost_method_history (company_id, product_id, valid_from, method, seq)
        VALUES (p_company, p_product, p_at, p_method, v_seq)
        ON CONFLICT (company_id, product_id, valid_from) DO UPDATE SET method = EXCLUDED.method, seq = EXCLUDED.seq;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION stock._standard_price_at(p_company bigint, p_product bigint, p_at timestamptz) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT h.price FROM stock.standard_price_history h
                      WHERE h.company_id = p_company AND h.product_id = p_product AND h.valid_from <= p_at
                      ORDER BY h.valid_from DESC LIMIT 1),
                    (SELECT p.standard_price FROM stock.product p WHERE p.company_id = p_company AND p.id = p_product))
$$;

CREATE OR REPLACE FUNCTION stock.replay_problems(p_company bigint, p_product bigint) RETURNS text[]
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'pgerp_valuation_replay_problems';

CREATE OR REPLACE FUNCTION stock.verify_valuation(p_product bigint DEFAULT NULL)
RETURNS TABLE (product_id bigint, problem text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH prod AS (
        SELECT p.* FROM stock.product p WHERE p_product IS NULL OR p.id = p_product
    ), moved AS (
        SELECT m.company_id, m.product_id,
               sum(CASE WHEN dl.usage = 'internal' AND sl.usage <> 'internal' THEN m.qty
                        WHEN sl.usage = 'internal' AND dl.usage <> 'internal' THEN -m.qty ELSE 0 END) AS qty,
               sum(coalesce(m.value, 0)) AS value
          FROM stock.move m
          JOIN stock.location sl ON sl.company_id = m.company_id AND sl.id = m.location_id
          JOIN stock.location dl ON dl.company_id = m.company_id AND dl.id = m.location_dest_id
         WHERE m.state = 'done'
         GROUP BY 1, 2
    ), quants AS (
        SELECT q.company_id, q.product_id, sum(q.quantity) AS qty, sum(q.reserved) AS reserved,
               bool_or(q.reserved > greatest(q.quantity, 0)) AS over_reserved
          FROM stock.quant q GROUP BY 1, 2
    ), reserving AS (
        SELECT m.company_id, m.product_id, sum(m.reserved_qty) AS qty
          FROM stock.move m
          JOIN stock.location sl ON sl.company_id = m.company_id AND sl.id = m.location_id AND sl.usage = 'internal'
         WHERE m.state IN ('confirmed', 'assigned') AND m.reserved_qty <> 0
         GROUP BY 1, 2
    ), layers AS (
        SELECT l.company_id, l.product_id, sum(l.quantity) AS qty, sum(l.value) AS value,
               sum(l.remaining_qty) AS rem_qty, sum(l.remaining_value) AS rem_value,
               sum(l.value) FILTER (WHERE l.move_id IS NOT NULL AND l.parent_layer_id IS NULL) AS move_value
          FROM stock.valuation_layer l GROUP BY 1, 2
    ), booked AS (
        SELECT l.company_id, l.product_id, sum(jl.debit - jl.credit) AS value
          FROM stock.journal_line jl
          JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id AND a.kind = 'stock_valuation'
          JOIN stock.journal_entry je ON je.company_id = jl.company_id AND je.id = jl.entry_id
          JOIN stock.valuation_layer l ON l.company_id = je.company_id AND l.id = je.layer_id
         GROUP BY 1, 2
    ), facts0 AS (
        SELECT p.id, p.company_id, p.cost_method,
               coalesce(mv.qty, 0) AS moved_qty, coalesce(q.qty, 0) AS quant_qty,
               coalesce(pv.qty, 0) AS pv_qty, coalesce(pv.value, 0) AS pv_value,
               coalesce(l.qty, 0) AS layer_qty, coalesce(l.value, 0) AS layer_value,
               coalesce(l.rem_qty, 0) AS rem_qty, coalesce(l.rem_value, 0) AS rem_value,
               coalesce(l.move_value, 0) AS layer_move_value, coalesce(mv.value, 0) AS move_value,
               coalesce(b.value, 0) AS booked,
               coalesce(q.reserved, 0) AS quant_reserved, coalesce(q.over_reserved, false) AS over_reserved,
               coalesce(r.qty, 0) AS move_reserved
          FROM prod p
          LEFT JOIN moved mv ON mv.company_id = p.company_id AND mv.product_id = p.id
          LEFT JOIN quants q ON q.company_id = p.company_id AND q.product_id = p.id
          LEFT JOIN stock.product_value pv ON pv.company_id = p.company_id AND pv.product_id = p.id
          LEFT JOIN layers l ON l.company_id = p.company_id AND l.product_id = p.id
          LEFT JOIN booked b ON b.company_id = p.company_id AND b.product_id = p.id
          LEFT JOIN reserving r ON r.company_id = p.company_id AND r.product_id = p.id
    ), facts AS (
        SELECT f.*, (f.moved_qty > '-Infinity' AND f.moved_qty < 'Infinity' AND f.quant_qty > '-Infinity' AND f.quant_qty < 'Infinity'
                   AND f.pv_qty > '-Infinity' AND f.pv_qty < 'Infinity' AND f.pv_value > '-Infinity' AND f.pv_value < 'Infinity'
                   AND f.layer_qty > '-Infinity' AND f.layer_qty < 'Infinity' AND f.layer_value > '-Infinity' AND f.layer_value < 'Infinity'
                   AND f.rem_qty > '-Infinity' AND f.rem_qty < 'Infinity' AND f.rem_value > '-Infinity' AND f.rem_value < 'Infinity'
                   AND f.layer_move_value > '-Infinity' AND f.layer_move_value < 'Infinity'
                   AND f.move_value > '-Infinity' AND f.move_value < 'Infinity' AND f.booked > '-Infinity' AND f.booked < 'Infinity'
                   AND f.quant_reserved > '-Infinity' AND f.quant_reserved < 'Infinity') AS finite
          FROM facts0 f
    )
    SELECT f.id, x.problem
      FROM facts f,
           LATERAL (VALUES
               (CASE WHEN NOT f.finite
                     THEN format('a quantity or value is not a finite number: moves %s / %s, quants %s, running totals %s / %s, layers %s / %s, account %s',
                                 f.moved_qty, f.move_value, f.quant_qty, f.pv_qty, f.pv_value, f.layer_qty, f.layer_value, f.booked) END),
               (CASE WHEN f.over_reserved THEN 'a quant reserves more than it holds' END),
               (CASE WHEN f.quant_reserved <> f.move_reserved
                     THEN format('quants have %s reserved but open moves %s', f.quant_reserved, f.move_reserved) END),
               (CASE WHEN f.quant_qty <> f.moved_qty THEN format('quants hold %s but done moves add up to %s', f.quant_qty, f.moved_qty) END),
               (CASE WHEN f.layer_qty <> f.moved_qty THEN format('layers hold %s but done moves add up to %s', f.layer_qty, f.moved_qty) END),
               (CASE WHEN f.pv_qty <> f.layer_qty OR f.pv_value <> f.layer_value
                     THEN format('running totals %s / %s differ from layers %s / %s', f.pv_qty, f.pv_value, f.layer_qty, f.layer_value) END),
               (CASE WHEN f.layer_move_value <> f.move_value THEN format('moves are valued %s but their layers %s', f.move_value, f.layer_move_value) END),
               (CASE WHEN f.rem_qty <> f.layer_qty THEN format('open layers hold %s of %s on hand', f.rem_qty, f.layer_qty) END),
               (CASE WHEN f.cost_method = 'fifo' AND f.rem_value <> f.layer_value
                     THEN format('open layers are worth %s of %s', f.rem_value, f.layer_value) END),
               (CASE WHEN f.booked <> f.layer_value THEN format('the stock valuation account holds %s, the layers %s', f.booked, f.layer_value) END)
           ) x(problem)
     WHERE x.problem IS NOT NULL
    UNION ALL
    SELECT f.id, r.problem
      FROM facts f, LATERAL unnest(stock.replay_problems(f.company_id, f.id)) r(problem)
     WHERE f.finite
     ORDER BY 1, 2
$$;

SELECT erp.protect('stock.standard_price_history');
SELECT erp.protect('stock.cost_method_history');
INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('stock.standard_price_history', 'SELECT'),
    ('stock.cost_method_history', 'SELECT')
ON CONFLICT DO NOTHING;
INSERT INTO erp.app_routine (routine) VALUES ('stock.replay_problems(bigint,bigint)') ON CONFLICT DO NOTHING;

-- ==== backprop (#15) ====
-- The stock lock date (sql/stock/lock_date.sql, docs/lock_date.md) and its
-- check at the entry of every posting function.

-- Stock lock date (#15, docs/lock_date.md): per company, the last day whose
-- valuation is closed. Valued postings dated on or before it are refused
-- (55000) at the entry of every posting function, before it writes. A day
-- is a UTC calendar day: a posting is locked when its date is before the
-- midnight (UTC) that ends the lock date.

CREATE TABLE stock.valuation_lock (
    company_id bigint PRIMARY KEY REFERENCES erp.company (id),
    lock_date date NOT NULL CHECK (isfinite(lock_date)),
    set_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    set_by bigint
);
COMMENT ON TABLE stock.valuation_lock IS
    'Stock lock date per company: valued moves dated on or before it (UTC days) are refused; set by stock.set_lock_date()';
COMMENT ON COLUMN stock.valuation_lock.set_by IS 'User who set it (erp.app_user); NULL: a superuser with nobody signed in';
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_lock', '');

-- The advisory lock key of a company's lock date: postings hold it shared,
-- stock.set_lock_date() exclusively, so that no posting that read the old
-- lock date commits after a new one.
CREATE OR REPLACE FUNCTION stock._lock_date_key(p_company bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.hashtextextended('pgerp stock.valuation_lock', p_company)
$$;

-- Is a move between these two locations of p_company valued (exactly one
-- of them internal)? Unknown locations: false (the posting refuses them).
CREATE OR REPLACE FUNCTION stock._is_valued(p_company bigint, p_from bigint, p_to bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT count(*) = 2 AND count(*) FILTER (WHERE l.usage = 'internal') = 1
      FROM stock.location l WHERE l.company_id = p_company AND l.id IN (p_from, p_to) AND p_from <> p_to
$$;

-- Refuse a valued posting of p_company dated p_date when it falls on or
-- before the company's lock date (55000, the lock date in the detail), and
-- an infinite date (22008). p_what names the posting in the message.
-- Called at the entry of each posting function, before any write.
CREATE OR REPLACE FUNCTION stock._check_lock_date(p_company bigint, p_date timestamptz, p_what text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_lock date;
BEGIN
    IF p_date IS NULL THEN
        RETURN;   -- callers refuse a NULL date with their own message
    END IF;
    PERFORM stock._check_date(p_date, 'date', false);   -- finite (22008), as the posting checks it
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(stock._lock_date_key(p_company));
    SELECT l.lock_date INTO v_lock FROM stock.valuation_lock l WHERE l.company_id = p_company;
    IF v_lock IS NOT NULL AND p_date < (v_lock + 1)::timestamp AT TIME ZONE 'UTC' THEN
        RAISE EXCEPTION '% is dated on or before the stock lock date', p_what
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The lock date of company %s is %s (UTC); the %s is dated %s.',
                                  p_company, v_lock, p_what, p_date),
                  HINT = 'Date the posting after the lock date.';
    END IF;
END $$;

-- Close the valuation of a company up to p_date (needs stock.valuation:lock).
-- It moves forward only; a superuser may move it back (others: 42501).
-- Not in the future (22023), finite (22008). Audited (erp.audit_log).
CREATE OR REPLACE FUNCTION stock.set_lock_date(p_company bigint, p_date date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_old date;
    v_today date := (pg_catalog.now() AT TIME ZONE 'UTC')::date;
BEGIN
    IF p_company IS NULL OR p_date IS NULL THEN
        RAISE EXCEPTION 'company and lock date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.valuation:lock', p_company);
    END IF;
    IF NOT isfinite(p_date) THEN
        RAISE EXCEPTION 'lock date must be a finite date'
            USING ERRCODE = 'datetime_field_overflow', DETAIL = format('The lock date given is %s.', p_date);
    END IF;
    IF p_date > v_today THEN
        RAISE EXCEPTION 'lock date may not be in the future' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The lock date given is %s; today is %s (UTC).', p_date, v_today);
    END IF;
    PERFORM stock._ensure_company(p_company);
    -- wait for the postings of the company in progress, hold off new ones
    PERFORM pg_catalog.pg_advisory_xact_lock(stock._lock_date_key(p_company));
    SELECT l.lock_date INTO v_old FROM stock.valuation_lock l WHERE l.company_id = p_company FOR UPDATE;
    IF p_date < v_old AND NOT erp._caller_is_superuser() THEN
        RAISE EXCEPTION 'only a superuser may move the stock lock date back'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The lock date of company %s is %s; %s is earlier.', p_company, v_old, p_date);
    END IF;
    IF p_date IS NOT DISTINCT FROM v_old THEN
        RETURN;
    END IF;
    INSERT INTO stock.valuation_lock AS l (company_id, lock_date, set_by)
    VALUES (p_company, p_date, erp.current_user_id())
    ON CONFLICT (company_id) DO UPDATE SET lock_date = EXCLUDED.lock_date, set_at = pg_catalog.now(), set_by = EXCLUDED.set_by;
END $$;
COMMENT ON FUNCTION stock.set_lock_date(bigint, date) IS
    'Set the stock lock date of a company (needs stock.valuation:lock): valued moves dated on or before it are refused (55000); forward only unless a superuser';

SELECT erp.protect('stock.valuation_lock');
INSERT INTO erp.app_table (table_name, privileges) VALUES ('stock.valuation_lock', 'SELECT');
SELECT erp.audit('stock.valuation_lock');

-- the posting functions, each refusing a posting on or before the lock date before it writes

CREATE OR REPLACE FUNCTION stock.validate(p_move bigint, p_qty numeric DEFAULT NULL, p_idempotency_key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:validate');
    v_idem record;
    v_from stock.location;
    v_to stock.location;
    v_allow boolean;
    v_left numeric;
    v_backorder bigint;
    v_serial_count numeric;
    v_value numeric;
    v_tracking text;
    v_on_hand numeric;
    v_reserved numeric;
BEGIN
    v_idem := stock._idempotency_claim(m.company_id, p_idempotency_key, 'stock.validate', jsonb_build_array(p_move, p_qty));
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF m.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'move % is already %', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_qty IS NOT NULL AND NOT (p_qty > 0 AND p_qty <= m.qty) THEN
        RAISE EXCEPTION 'quantity done must be positive and at most %', m.qty
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    v_from := stock._location(m.company_id, m.location_id);
    v_to := stock._location(m.company_id, m.location_dest_id);
    IF (v_from.usage = 'internal') <> (v_to.usage = 'internal') THEN
        PERFORM stock._check_lock_date(m.company_id, m.date, format('move %s', m.id));   -- valued: before any write
    END IF;
    -- the product's running totals first, then quants: the order every
    -- posting and reservation of the product takes locks in
    PERFORM stock._lock_products(m.company_id, ARRAY[m.product_id]);
    PERFORM stock._release(m);
    IF p_qty IS NOT NULL AND p_qty < m.qty THEN
        INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id, state,
                                unit_cost, date, ref, lot_id, origin_move_id, backorder_of)
        VALUES (m.company_id, m.product_id, m.qty - p_qty, (SELECT uom FROM stock.product WHERE company_id = m.company_id AND id = m.product_id),
                m.qty - p_qty, m.location_id, m.location_dest_id, 'confirmed', m.unit_cost, m.date, m.ref, m.lot_id,
                m.origin_move_id, m.id)
        RETURNING id INTO v_backorder;
        m.qty := p_qty;
        UPDATE stock.move SET qty = p_qty, uom = (SELECT uom FROM stock.product WHERE company_id = m.company_id AND id = m.product_id),
                              uom_qty = p_qty
         WHERE company_id = m.company_id AND id = m.id;
    END IF;


    IF v_from.usage = 'internal' THEN
        -- what other moves reserved is not available to this one (its own
        -- reservation was released above); the quant is locked first
        SELECT q.quantity, q.reserved INTO v_on_hand, v_reserved FROM stock.quant q
         WHERE q.company_id = m.company_id AND q.product_id = m.product_id AND q.location_id = v_from.id
           AND q.lot_id = coalesce(m.lot_id, 0)
           FOR UPDATE;
        v_on_hand := coalesce(v_on_hand, 0);
        v_reserved := coalesce(v_reserved, 0);
        SELECT s.allow_negative INTO v_allow FROM stock.company_setting s WHERE s.company_id = m.company_id;
        IF v_on_hand - v_reserved < m.qty AND NOT v_allow THEN
            RAISE EXCEPTION 'not enough stock of product % in %', m.product_id, v_from.name
                USING ERRCODE = 'check_violation',
                      DETAIL = CASE WHEN v_reserved > 0
                                    THEN format('%s available (%s on hand, %s reserved by other moves), %s requested.',
                                                v_on_hand - v_reserved, v_on_hand, v_reserved, m.qty)
                                    ELSE format('%s available, %s requested.', v_on_hand, m.qty) END,
                      HINT = 'Negative stock is forbidden for this company (stock.company_setting.allow_negative).';
        END IF;
        IF v_reserved > greatest(v_on_hand - m.qty, 0) THEN
            -- negative stock allowed: this move takes reserved stock
            PERFORM stock._free_reserved(m.company_id, m.product_id, v_from.id, m.lot_id, v_on_hand - m.qty, m.id);
        END IF;
        v_left := stock._quant_add(m.company_id, m.product_id, v_from.id, m.lot_id, -m.qty, m.date);
    END IF;
    IF v_to.usage = 'internal' THEN
        PERFORM stock._quant_add(m.company_id, m.product_id, v_to.id, m.lot_id, m.qty, m.date);
        SELECT p.tracking INTO v_tracking FROM stock.product p WHERE p.company_id = m.company_id AND p.id = m.product_id;
        IF v_tracking = 'serial' THEN
            SELECT sum(q.quantity) INTO v_serial_count FROM stock.quant q JOIN stock.location l
                ON l.company_id = q.company_id AND l.id = q.location_id AND l.usage = 'internal'
             WHERE q.company_id = m.company_id AND q.product_id = m.product_id AND q.lot_id = m.lot_id;
            IF v_serial_count > 1 THEN
                RAISE EXCEPTION 'serial number % is already in stock', (SELECT name FROM stock.lot WHERE company_id = m.company_id AND id = m.lot_id)
                    USING ERRCODE = 'unique_violation';
            END IF;
        END IF;
    END IF;
    IF (v_from.usage = 'internal') <> (v_to.usage = 'internal') THEN
        v_value := stock._value_move(m, v_to.usage = 'internal',
                                     stock._counterpart(CASE WHEN v_to.usage = 'internal' THEN v_from.usage ELSE v_to.usage END));
    END IF;
    UPDATE stock.move SET state = 'done', done_at = now(), value = v_value, reserved_qty = 0
     WHERE company_id = m.company_id AND id = m.id;
    PERFORM stock._idempotency_done(m.company_id, p_idempotency_key, to_jsonb(v_backorder));
    RETURN v_backorder;
END $$;

CREATE OR REPLACE FUNCTION stock.receive(p_product bigint, p_qty numeric, p_unit_cost numeric, p_warehouse bigint DEFAULT NULL,
                              p_ref text DEFAULT NULL, p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL,
                              p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.receive',
        jsonb_build_array(p_product, p_qty, p_unit_cost, p_warehouse, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, p_date, 'receipt');
    v_id := stock._done_move(p.id, p_qty, stock.virtual_location(p.company_id, 'supplier'),
                             stock._warehouse_location(p, p_warehouse), p_unit_cost, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION stock.deliver(p_product bigint, p_qty numeric, p_warehouse bigint DEFAULT NULL, p_ref text DEFAULT NULL,
                              p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.deliver',
        jsonb_build_array(p_product, p_qty, p_warehouse, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, p_date, 'delivery');
    v_id := stock._done_move(p.id, p_qty, stock._warehouse_location(p, p_warehouse),
                             stock.virtual_location(p.company_id, 'customer'), NULL, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION stock.transfer(p_product bigint, p_qty numeric, p_from bigint, p_to bigint, p_ref text DEFAULT NULL,
                               p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.transfer',
        jsonb_build_array(p_product, p_qty, p_from, p_to, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF stock._is_valued(p.company_id, p_from, p_to) THEN
        PERFORM stock._check_lock_date(p.company_id, p_date, 'transfer');
    END IF;
    v_id := stock._done_move(p.id, p_qty, p_from, p_to, NULL, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION stock.scrap(p_product bigint, p_qty numeric, p_warehouse bigint DEFAULT NULL, p_ref text DEFAULT NULL,
                            p_date timestamptz DEFAULT now(), p_lot text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.scrap',
        jsonb_build_array(p_product, p_qty, p_warehouse, p_ref, stock._idempotency_date(p_date), p_lot));
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, p_date, 'scrap');
    v_id := stock._done_move(p.id, p_qty, stock._warehouse_location(p, p_warehouse),
                             stock.virtual_location(p.company_id, 'scrap'), NULL, p_date, p_ref, p_lot);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION stock.adjust(p_product bigint, p_location bigint, p_counted_qty numeric, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_loc stock.location := stock._location(p.company_id, p_location);
    v_idem record := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.adjust',
                                              jsonb_build_array(p_product, p_location, p_counted_qty));
    v_diff numeric;
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:create', p.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF p_counted_qty IS NULL OR NOT (p_counted_qty >= 0 AND p_counted_qty < 'Infinity') THEN
        RAISE EXCEPTION 'counted quantity must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_counted_qty, 'counted quantity', stock._max_qty());
    IF v_loc.usage <> 'internal' THEN
        RAISE EXCEPTION 'location % holds no stock', v_loc.name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.tracking <> 'none' THEN
        RAISE EXCEPTION 'count lot-tracked products per lot' USING ERRCODE = 'feature_not_supported';
    END IF;
    v_diff := p_counted_qty - stock.on_hand(p.id, v_loc.id);
    IF v_diff = 0 THEN
        PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, 'null');
        RETURN NULL;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, now(), 'inventory adjustment');
    IF abs(v_diff) > stock._max_qty() THEN
        RAISE EXCEPTION 'the count differs from the stock on hand by more than one move may carry'
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('The difference is %s; the limit is %s.', erp._echo(v_diff::text), stock._max_qty());
    END IF;
    v_id := stock._done_move(p.id, abs(v_diff),
                             CASE WHEN v_diff > 0 THEN stock.virtual_location(p.company_id, 'inventory') ELSE v_loc.id END,
                             CASE WHEN v_diff > 0 THEN v_loc.id ELSE stock.virtual_location(p.company_id, 'inventory') END,
                             NULL, now(), 'Inventory adjustment', NULL);
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION stock.set_standard_price(p_product bigint, p_price numeric) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    pv stock.product_value;
    v_price numeric;
    v_value numeric;
    v_layer bigint;
    v_at timestamptz;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    IF p_price IS NULL OR NOT (p_price >= 0 AND p_price < 'Infinity') THEN
        RAISE EXCEPTION 'standard price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_price, 'standard price', stock._max_amount());
    PERFORM stock._check_lock_date(p.company_id, now(), 'standard price change');
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    v_price := round(p_price, c.price_precision);
    INSERT INTO stock.product_value (company_id, product_id) VALUES (p.company_id, p.id) ON CONFLICT DO NOTHING;
    SELECT * INTO pv FROM stock.product_value WHERE company_id = p.company_id AND product_id = p.id FOR UPDATE;
    UPDATE stock.product SET standard_price = v_price WHERE company_id = p.company_id AND id = p.id;
    IF v_price = p.standard_price THEN
        RETURN;
    END IF;
    v_at := greatest(now(), coalesce(pv.last_date, now()));
    PERFORM stock._record_history(p.company_id, p.id, v_at, v_price, NULL);
    -- later moves dated before this change are back-dated
    UPDATE stock.product_value SET last_date = v_at WHERE company_id = p.company_id AND product_id = p.id;
    IF p.cost_method <> 'standard' OR pv.qty = 0 THEN
        RETURN;
    END IF;
    v_value := stock.round_to(pv.qty * (v_price - p.standard_price), c.currency_rounding);
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, v_at, 0, 0, v_value,
            format('Product value manually modified (from %s to %s)', p.standard_price, v_price))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, v_at, 'Revaluation', NULL, v_layer, 'stock_valuation', 'price_difference', v_value);
    UPDATE stock.product_value SET value = value + v_value WHERE company_id = p.company_id AND product_id = p.id;
END $$;

CREATE OR REPLACE FUNCTION stock.return_move(p_move bigint, p_qty numeric DEFAULT NULL, p_idempotency_key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m stock.move := stock._move_for_update(p_move, 'stock.move:create');
    v_idem record := stock._idempotency_claim(m.company_id, p_idempotency_key, 'stock.return_move',
                                              jsonb_build_array(p_move, p_qty));
    v_returned numeric;
    v_qty numeric;
    v_id bigint;
BEGIN
    IF v_idem.replay THEN
        PERFORM stock._require('stock.move:validate', m.company_id);  -- as the first call did
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    IF m.state <> 'done' THEN
        RAISE EXCEPTION 'move % is %: only done moves are returned', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(sum(r.qty), 0) INTO v_returned FROM stock.move r
     WHERE r.company_id = m.company_id AND r.origin_move_id = m.id AND r.state <> 'cancelled';
    v_qty := coalesce(p_qty, m.qty - v_returned);
    IF v_qty <= 0 OR v_qty > m.qty - v_returned THEN
        RAISE EXCEPTION 'cannot return % of move %', erp._echo(v_qty::text), m.id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s was moved and %s already returned.', m.qty, v_returned);
    END IF;
    PERFORM stock._require('stock.move:validate', m.company_id);
    IF stock._is_valued(m.company_id, m.location_id, m.location_dest_id) THEN
        PERFORM stock._check_lock_date(m.company_id, greatest(now(), m.date), format('return of move %s', m.id));
    END IF;
    INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id, state,
                            unit_cost, date, ref, lot_id, origin_move_id)
    SELECT m.company_id, m.product_id, v_qty, p.uom, v_qty, m.location_dest_id, m.location_id, 'confirmed',
           m.unit_cost, greatest(now(), m.date), 'Return of ' || coalesce(m.ref, m.id::text), m.lot_id, m.id
      FROM stock.product p WHERE p.company_id = m.company_id AND p.id = m.product_id
    RETURNING id INTO v_id;
    PERFORM stock.validate(v_id);
    PERFORM stock._idempotency_done(m.company_id, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;

-- stock.apply_landed_cost(bigint[],numeric,text,text,text): final definition below, in section "landed (#15)"

CREATE OR REPLACE FUNCTION stock.revalue(p_product bigint, p_added_value numeric, p_ref text DEFAULT NULL,
                              p_idempotency_key text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    v_total numeric;
    v_left numeric;
    v_part numeric;
    v_layer bigint;
    l record;
    v_idem record;
    v_at timestamptz;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    v_idem := stock._idempotency_claim(p.company_id, p_idempotency_key, 'stock.revalue',
                                       jsonb_build_array(p_product, p_added_value, p_ref));
    IF v_idem.replay THEN
        RETURN;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, now(), 'revaluation');
    IF p_added_value IS NULL OR p_added_value = 0 OR NOT (p_added_value > '-Infinity' AND p_added_value < 'Infinity') THEN
        RAISE EXCEPTION 'added value must be a non-zero amount' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_added_value, 'added value', stock._max_amount());
    IF p.cost_method = 'standard' THEN
        RAISE EXCEPTION 'product % is valued at standard price', p.sku USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use stock.set_standard_price().';
    END IF;
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    IF stock.round_to(p_added_value, c.currency_rounding) <> p_added_value THEN
        RAISE EXCEPTION 'amount % is finer than the currency rounding %', erp._echo(p_added_value::text), c.currency_rounding
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._lock_products(p.company_id, ARRAY[p.id]);
    -- dated now, or at the product's last valued move if later: the date order of the replay
    SELECT greatest(now(), coalesce(pv.last_date, now())) INTO v_at FROM stock.product_value pv
     WHERE pv.company_id = p.company_id AND pv.product_id = p.id;
    SELECT sum(remaining_qty) INTO v_total FROM stock.valuation_layer
     WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0 AND remaining_qty > 0;
    IF v_total IS NULL THEN
        RAISE EXCEPTION 'product % has no stock to revalue', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_added_value < 0 AND -p_added_value > (SELECT sum(remaining_value) FROM stock.valuation_layer
                                               WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0 AND remaining_qty > 0) THEN
        RAISE EXCEPTION 'revaluation would make the stock value negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_left := p_added_value;
    FOR l IN SELECT * FROM stock.valuation_layer
              WHERE company_id = p.company_id AND product_id = p.id AND remaining_qty <> 0 AND remaining_qty > 0
              ORDER BY created_at, id
    LOOP
        v_part := stock.value_share(v_left, v_total, l.remaining_qty, c.currency_rounding);
        IF l.remaining_value + v_part < 0 THEN
            RAISE EXCEPTION 'revaluation would make a valuation layer negative'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Layer %s holds %s of value; its share of the change is %s.', l.id, l.remaining_value, v_part);
        END IF;
        UPDATE stock.valuation_layer SET remaining_value = remaining_value + v_part WHERE company_id = l.company_id AND id = l.id;
        v_left := v_left - v_part;
        v_total := v_total - l.remaining_qty;
    END LOOP;
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, v_at, 0, 0, p_added_value, 'Revaluation ' || coalesce(p_ref, ''))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, v_at, p_ref, NULL, v_layer, 'stock_valuation', 'price_difference', p_added_value);
    UPDATE stock.product_value
       SET value = value + p_added_value, last_date = v_at,
           last_unit_cost = CASE WHEN p.cost_method = 'avco' AND qty > 0 THEN (value + p_added_value) / qty ELSE last_unit_cost END
     WHERE company_id = p.company_id AND product_id = p.id;
    PERFORM stock._idempotency_done(p.company_id, p_idempotency_key, 'null');
END $$;

-- stock.set_cost_method(bigint,text): final definition below, in section "openlayers (#16)"

INSERT INTO erp.app_routine (routine) VALUES ('stock.set_lock_date(bigint,date)') ON CONFLICT DO NOTHING;

-- ==== openlayers (#16) ====

-- Open layers in two partial indexes (sql/stock/valuation.sql): the layers in
-- stock, which deliveries consume, and the owed layers, which receipts settle.
DROP INDEX stock.valuation_layer_open_idx;
CREATE INDEX valuation_layer_in_stock_idx ON stock.valuation_layer (company_id, product_id, created_at, id)
    WHERE remaining_qty > 0;
CREATE INDEX valuation_layer_owed_idx ON stock.valuation_layer (company_id, product_id, created_at, id)
    WHERE remaining_qty < 0;

-- Empty the stock at the old method, refill it at the new one.
CREATE OR REPLACE FUNCTION stock.set_cost_method(p_product bigint, p_method text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c erp.company;
    pv stock.product_value;
    v_new_value numeric;
    v_layer bigint;
    v_at timestamptz;
BEGIN
    PERFORM stock._require('stock.valuation:revalue', p.company_id);
    IF p_method IS NULL OR p_method NOT IN ('fifo', 'avco', 'standard') THEN
        RAISE EXCEPTION 'invalid cost method %', erp._echo(p_method)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The cost methods are fifo, avco and standard.';
    END IF;
    IF p_method = p.cost_method THEN
        RETURN;
    END IF;
    PERFORM stock._check_lock_date(p.company_id, now(), 'cost method change');
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    PERFORM stock._lock_products(p.company_id, ARRAY[p.id]);
    SELECT * INTO pv FROM stock.product_value WHERE company_id = p.company_id AND product_id = p.id;
    IF pv.qty < 0 THEN
        RAISE EXCEPTION 'cannot change the cost method of % while its stock is negative', p.sku
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Receive the missing quantity first.';
    END IF;
    UPDATE stock.product SET cost_method = p_method WHERE company_id = p.company_id AND id = p.id;
    v_at := greatest(now(), coalesce(pv.last_date, now()));
    PERFORM stock._record_history(p.company_id, p.id, v_at, NULL, p_method);
    -- later moves dated before this change are back-dated
    UPDATE stock.product_value SET last_date = v_at WHERE company_id = p.company_id AND product_id = p.id;
    IF pv.qty = 0 THEN
        RETURN;
    END IF;
    v_new_value := CASE WHEN p_method = 'standard' THEN stock.round_to(pv.qty * p.standard_price, c.currency_rounding)
                        ELSE pv.value END;
    -- the open layers, through the two partial indexes of open layers (valuation.sql)
    UPDATE stock.valuation_layer SET remaining_qty = 0, remaining_value = 0
     WHERE company_id = p.company_id AND product_id = p.id AND (remaining_qty > 0 OR remaining_qty < 0);
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
    VALUES (p.company_id, p.id, v_at, -pv.qty, round(pv.value / pv.qty, c.price_precision), -pv.value,
            format('Costing method change (%s to %s): stock out', p.cost_method, p_method));
    INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value,
                                       remaining_qty, remaining_value, description)
    VALUES (p.company_id, p.id, v_at, pv.qty, round(v_new_value / pv.qty, c.price_precision), v_new_value,
            pv.qty, v_new_value, format('Costing method change (%s to %s): stock in', p.cost_method, p_method))
    RETURNING id INTO v_layer;
    PERFORM stock._journal(p.company_id, v_at, 'Costing method change', NULL, v_layer, 'stock_valuation', 'price_difference',
                           v_new_value - pv.value);
    UPDATE stock.product_value
       SET value = v_new_value,
           last_unit_cost = round(v_new_value / pv.qty, c.price_precision)
     WHERE company_id = p.company_id AND product_id = p.id;
END $$;
-- ==== landed (#15) ====
-- Back-dated replays re-split landed costs (docs/valuation.md, "Landed costs in the replay"):
-- stock.landed_cost_line records each receipt's share, written by apply_landed_cost.

-- The share of a landed cost on each receipt, and how much of it is
-- capitalised as of today: a replay of back-dated moves (src/valuation/
-- backdate.c) re-splits each share by what its receipt still held at
-- created_at, and writes the difference as a correction (docs/valuation.md).
-- seq orders it among the layers posted at the same instant (drawn from the
-- layers' id sequence, as stock.standard_price_history.seq).
CREATE TABLE stock.landed_cost_line (
    company_id bigint NOT NULL,
    landed_cost_id bigint NOT NULL,
    move_id bigint NOT NULL,
    product_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    seq bigint NOT NULL,
    share numeric NOT NULL CHECK (share > '-Infinity' AND share < 'Infinity'),
    capitalised numeric NOT NULL CHECK (capitalised > '-Infinity' AND capitalised < 'Infinity'),
    PRIMARY KEY (company_id, landed_cost_id, move_id),
    FOREIGN KEY (company_id, landed_cost_id) REFERENCES stock.landed_cost (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
CREATE INDEX landed_cost_line_product ON stock.landed_cost_line (company_id, product_id);
SELECT pg_catalog.pg_extension_config_dump('stock.landed_cost_line', '');
COMMENT ON TABLE stock.landed_cost_line IS
    'Share of a landed cost per receipt and its part capitalised as of today (re-split by back-dated replays)';

SELECT erp.protect('stock.landed_cost_line');
INSERT INTO erp.app_table (table_name, privileges) VALUES ('stock.landed_cost_line', 'SELECT');

-- The lines of the landed costs that 0.1.0 applied: dated when they were applied (0.1.0 dated
-- their layers and entries now()); the share is the capitalised layer plus the expense entry of
-- the receipt at that instant (landed costs with the same ref on the same receipt in one
-- transaction cannot be told apart: they are counted once). A landed cost expensed in full has
-- no layer to order it by: seq 0, first among the layers of its instant.
INSERT INTO stock.landed_cost_line (company_id, landed_cost_id, move_id, product_id, created_at, seq, share, capitalised)
SELECT lc.company_id, lc.id, m.id, m.product_id, lc.created_at, coalesce(cap.first_id, 0),
       coalesce(cap.value, 0) + coalesce(exp.amount, 0), coalesce(cap.value, 0)
  FROM stock.landed_cost lc
  CROSS JOIN LATERAL unnest(lc.move_ids) x(id)
  JOIN stock.move m ON m.company_id = lc.company_id AND m.id = x.id
  LEFT JOIN LATERAL (
        SELECT min(l.id) AS first_id, sum(l.value) AS value FROM stock.valuation_layer l
         WHERE l.company_id = lc.company_id AND l.move_id = m.id AND l.parent_layer_id IS NOT NULL
           AND l.created_at = lc.created_at AND l.description = 'Landed cost ' || coalesce(lc.ref, lc.id::text)) cap ON true
  LEFT JOIN LATERAL (
        SELECT sum(jl.debit - jl.credit) AS amount FROM stock.journal_entry je
          JOIN stock.journal_line jl ON jl.company_id = je.company_id AND jl.entry_id = je.id
          JOIN stock.account a ON a.company_id = jl.company_id AND a.id = jl.account_id AND a.kind = 'landed_cost_expense'
         WHERE je.company_id = lc.company_id AND je.move_id = m.id AND je.layer_id IS NULL
           AND je.date = lc.created_at AND je.ref IS NOT DISTINCT FROM lc.ref) exp ON true
ON CONFLICT DO NOTHING;

-- Split p_amount over receipts; capitalise the share of each receipt still
-- in stock (its layer's remaining quantity), expense the share delivered.
-- With p_idempotency_key, a retry returns the first landed cost (#14.6).
CREATE OR REPLACE FUNCTION stock.apply_landed_cost(p_moves bigint[], p_amount numeric, p_split text DEFAULT 'by_quantity',
                                        p_ref text DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_company bigint;
    c erp.company;
    r record;
    v_total numeric;
    v_left numeric;
    v_share numeric;
    v_cap numeric;
    v_cap_total numeric := 0;
    v_n int;
    v_i int := 0;
    v_layer bigint;
    v_id bigint;
    v_idem record;
    v_at timestamptz;
    v_first record;
BEGIN
    IF p_moves IS NULL OR cardinality(p_moves) = 0 THEN
        RAISE EXCEPTION 'moves must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_amount IS NULL OR NOT (p_amount > 0 AND p_amount < 'Infinity') THEN
        RAISE EXCEPTION 'landed cost amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._check_number(p_amount, 'landed cost amount', stock._max_amount());
    IF p_split IS NULL OR p_split NOT IN ('equal', 'by_quantity', 'by_current_cost') THEN
        RAISE EXCEPTION 'invalid split %', erp._echo(p_split)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The splits are equal, by_quantity and by_current_cost.';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(p_moves) x) <> cardinality(p_moves) OR array_position(p_moves, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'moves must be distinct and not null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- every move: a done receipt into stock, of one company the caller may revalue
    FOR r IN SELECT x.id AS wanted, m.* FROM unnest(p_moves) x(id) LEFT JOIN stock.move m ON m.id = x.id LOOP
        IF r.company_id IS NULL OR NOT (erp._is_bootstrap() OR erp.company_allowed(r.company_id, 'stock.move:read')) THEN
            PERFORM erp._require_signed_in();
            RAISE EXCEPTION 'move % does not exist', r.wanted USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_company IS NULL THEN
            v_company := r.company_id;
        ELSIF v_company <> r.company_id THEN
            RAISE EXCEPTION 'moves belong to different companies' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF r.state <> 'done' OR coalesce(r.value, 0) <= 0 THEN
            RAISE EXCEPTION 'move % is not a done, valued receipt', r.id USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    PERFORM stock._require('stock.valuation:revalue', v_company);
    v_idem := stock._idempotency_claim(v_company, p_idempotency_key, 'stock.apply_landed_cost',
                                       jsonb_build_array(p_moves, p_amount, p_split, p_ref));
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    -- capitalised now, on receipts that must not be dated in a closed period
    SELECT m.id, m.date INTO v_first FROM stock.move m
     WHERE m.company_id = v_company AND m.id = ANY (p_moves) ORDER BY m.date, m.id LIMIT 1;
    PERFORM stock._check_lock_date(v_company, v_first.date, format('receipt %s of the landed cost', v_first.id));
    PERFORM stock._check_lock_date(v_company, now(), 'landed cost');
    SELECT * INTO c FROM erp.company WHERE id = v_company;
    IF stock.round_to(p_amount, c.currency_rounding) <> p_amount THEN
        RAISE EXCEPTION 'amount % is finer than the currency rounding %', erp._echo(p_amount::text), c.currency_rounding
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._lock_products(v_company, ARRAY(SELECT DISTINCT m.product_id FROM stock.move m
                                                  WHERE m.company_id = v_company AND m.id = ANY (p_moves)));

    SELECT sum(CASE p_split WHEN 'equal' THEN 1 WHEN 'by_quantity' THEN m.qty ELSE m.value END), count(*)
      INTO v_total, v_n
      FROM stock.move m WHERE m.company_id = v_company AND m.id = ANY (p_moves);
    INSERT INTO stock.landed_cost (company_id, ref, amount, split, move_ids, capitalised, expensed)
    VALUES (v_company, p_ref, p_amount, p_split, p_moves, 0, 0) RETURNING id INTO v_id;
    v_left := p_amount;
    FOR r IN SELECT m.*, l.id AS layer_id, l.quantity AS layer_qty, l.remaining_qty AS layer_remaining, p.cost_method,
                    CASE p_split WHEN 'equal' THEN 1 WHEN 'by_quantity' THEN m.qty ELSE m.value END AS weight
               FROM stock.move m
               JOIN stock.product p ON p.company_id = m.company_id AND p.id = m.product_id
               JOIN stock.valuation_layer l ON l.company_id = m.company_id AND l.move_id = m.id
                                           AND l.quantity > 0 AND l.parent_layer_id IS NULL
              WHERE m.company_id = v_company AND m.id = ANY (p_moves)
              ORDER BY m.id
    LOOP
        v_i := v_i + 1;
        -- shares add up to the amount exactly: the last takes what is left
        v_share := CASE WHEN v_i = v_n THEN v_left
                        ELSE stock.value_share(p_amount, v_total, r.weight, c.currency_rounding) END;
        v_left := v_left - v_share;
        v_cap := CASE WHEN r.cost_method = 'standard' OR r.layer_remaining <= 0 THEN 0
                      ELSE stock.value_share(v_share, r.layer_qty, least(r.layer_remaining, r.layer_qty), c.currency_rounding) END;
        -- dated now, or at the product's last valued move if later: the date order of the replay
        SELECT greatest(now(), coalesce(pv.last_date, now())) INTO v_at FROM stock.product_value pv
         WHERE pv.company_id = v_company AND pv.product_id = r.product_id;
        IF v_cap <> 0 THEN
            UPDATE stock.valuation_layer SET remaining_value = remaining_value + v_cap
             WHERE company_id = v_company AND id = r.layer_id;
            INSERT INTO stock.valuation_layer (company_id, product_id, move_id, created_at, quantity, unit_cost, value,
                                               description, parent_layer_id)
            VALUES (v_company, r.product_id, r.id, v_at, 0, 0, v_cap,
                    'Landed cost ' || coalesce(p_ref, v_id::text), r.layer_id)
            RETURNING id INTO v_layer;
            PERFORM stock._journal(v_company, v_at, p_ref, r.id, v_layer, 'stock_valuation', 'stock_input', v_cap);
            UPDATE stock.product_value
               SET value = value + v_cap, last_date = v_at,
                   last_unit_cost = CASE WHEN r.cost_method = 'avco' AND qty > 0 THEN (value + v_cap) / qty ELSE last_unit_cost END
             WHERE company_id = v_company AND product_id = r.product_id;
        END IF;
        IF v_share - v_cap <> 0 THEN
            PERFORM stock._journal(v_company, v_at, p_ref, r.id, NULL, 'landed_cost_expense', 'stock_input', v_share - v_cap);
        END IF;
        -- the replay's event: ordered before its layer among those of the same instant
        INSERT INTO stock.landed_cost_line (company_id, landed_cost_id, move_id, product_id, created_at, seq, share, capitalised)
        VALUES (v_company, v_id, r.id, r.product_id, v_at, coalesce(v_layer, nextval(pg_get_serial_sequence('stock.valuation_layer', 'id'))),
                v_share, v_cap);
        v_layer := NULL;
        v_cap_total := v_cap_total + v_cap;
    END LOOP;
    UPDATE stock.landed_cost SET capitalised = v_cap_total, expensed = p_amount - v_cap_total
     WHERE company_id = v_company AND id = v_id;
    PERFORM stock._idempotency_done(v_company, p_idempotency_key, to_jsonb(v_id));
    RETURN v_id;
END $$;
COMMENT ON FUNCTION stock.apply_landed_cost(bigint[], numeric, text, text, text) IS
    'Split a landed cost over receipts: the share still in stock is capitalised, the share delivered expensed';
-- ==== snapshots (#16) ====
-- sql/stock/snapshot.sql as installed, then stock.valuation and
-- stock.valuation_report reading the snapshots (sql/stock/valuation.sql).

-- Period snapshots of the valuation (#16.3): per product, the quantity and
-- value of its layers dated before each UTC month boundary, so that a report at
-- a past date reads one snapshot per product plus the layers after it instead
-- of the whole history. docs/valuation.md, "Period snapshots".

-- The UTC month boundary at or before a date, and the first one after it:
-- timestamp arithmetic in UTC whatever the session's TimeZone.
CREATE FUNCTION stock._month_start(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.date_trunc('month', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;
CREATE FUNCTION stock._month_after(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (pg_catalog.date_trunc('month', p_at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
$$;

-- period_end is an exclusive bound: a snapshot holds the layers with
-- created_at < period_end (a layer dated exactly at a boundary belongs to the
-- next period). Rows of a product cover consecutive boundaries, from the first
-- after its first layer to the latest built; invalidation removes a suffix.
CREATE TABLE stock.valuation_snapshot (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    period_end timestamptz NOT NULL CHECK (isfinite(period_end)),
    qty numeric NOT NULL CHECK (stock._finite(qty)),
    value numeric NOT NULL CHECK (stock._finite(value)),
    built_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, period_end, product_id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_snapshot', '');
-- a product's snapshots in date order: invalidation and the per-product lookups
CREATE INDEX valuation_snapshot_product_idx ON stock.valuation_snapshot (company_id, product_id, period_end);
COMMENT ON TABLE stock.valuation_snapshot IS
    'Quantity and value of a product''s layers dated before period_end (a UTC month boundary); built by stock.build_valuation_snapshots and the housekeeping chore, removed when a layer dated before period_end is written';
SELECT erp.protect('stock.valuation_snapshot');
INSERT INTO erp.app_table (table_name, privileges) VALUES ('stock.valuation_snapshot', 'SELECT');

-- the report reads the layers of a company after a boundary
CREATE INDEX valuation_layer_company_date_idx ON stock.valuation_layer (company_id, created_at);

-- A layer written, changed or removed with a date before some snapshot of
-- its product makes that snapshot and every later one stale: they go, and
-- the next build writes them again. By layer date, not by posting path: a
-- first move dated last month and the replay's corrections dated at later
-- moves' dates stale snapshots as back-dated moves do. Security definer: the
-- poster may not delete snapshots (row security).
CREATE FUNCTION stock._snapshot_stale() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        DELETE FROM stock.valuation_snapshot s
         WHERE s.company_id = NEW.company_id AND s.product_id = NEW.product_id AND s.period_end > NEW.created_at;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM stock.valuation_snapshot s
         WHERE s.company_id = OLD.company_id AND s.product_id = OLD.product_id AND s.period_end > OLD.created_at;
    END IF;
    RETURN NULL;
END $$;
-- No snapshot ends after the start of the current UTC month (builds stop
-- there), so a layer dated in the current month cannot stale one: an ordinary
-- posting pays this WHEN and nothing else. clock_timestamp(), not now(): a
-- posting that waited for a build started after a month boundary compares with
-- the boundary that build may have written.
CREATE TRIGGER valuation_snapshot_stale AFTER INSERT ON stock.valuation_layer
    FOR EACH ROW WHEN (NEW.created_at < pg_catalog.timezone('UTC', pg_catalog.date_trunc('month', pg_catalog.timezone('UTC', pg_catalog.clock_timestamp()))))
    EXECUTE FUNCTION stock._snapshot_stale();
-- postings only ever change remaining_qty / remaining_value: this never fires for them
CREATE TRIGGER valuation_snapshot_stale_update AFTER UPDATE OF company_id, product_id, created_at, quantity, value
    ON stock.valuation_layer FOR EACH ROW EXECUTE FUNCTION stock._snapshot_stale();
CREATE TRIGGER valuation_snapshot_stale_delete AFTER DELETE ON stock.valuation_layer
    FOR EACH ROW EXECUTE FUNCTION stock._snapshot_stale();

CREATE FUNCTION stock._snapshot_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM stock.valuation_snapshot;
    RETURN NULL;
END $$;
CREATE TRIGGER valuation_snapshot_stale_truncate AFTER TRUNCATE ON stock.valuation_layer
    FOR EACH STATEMENT EXECUTE FUNCTION stock._snapshot_truncated();

-- Write the missing snapshots of a company up to the start of the current UTC
-- month: for each product with a layer before it and no snapshot there, from
-- its latest remaining snapshot (or its first layer) on, one row per month.
-- The products' running totals are share-locked first: a posting of one of
-- them (which takes its row FOR UPDATE) either committed before the layers are
-- read, or waits until the snapshots are committed and then stales them.
CREATE FUNCTION stock._build_snapshots(p_company bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_end timestamptz := stock._month_start(pg_catalog.now());
    v_products bigint[];
    v_rows bigint;
BEGIN
    SELECT array_agg(p.id ORDER BY p.id) INTO v_products
      FROM stock.product p
     WHERE p.company_id = p_company
       AND NOT EXISTS (SELECT 1 FROM stock.valuation_snapshot s
                        WHERE s.company_id = p_company AND s.period_end = v_end AND s.product_id = p.id)
       AND EXISTS (SELECT 1 FROM stock.valuation_layer l
                    WHERE l.company_id = p_company AND l.product_id = p.id AND l.created_at < v_end);
    IF v_products IS NULL THEN
        RETURN jsonb_build_object('products', 0, 'snapshots', 0);
    END IF;
    PERFORM 1 FROM stock.product_value pv
      WHERE pv.company_id = p_company AND pv.product_id = ANY (v_products)
      ORDER BY pv.product_id FOR KEY SHARE;
    INSERT INTO stock.valuation_snapshot (company_id, product_id, period_end, qty, value)
    WITH cand AS (
        SELECT c.product_id, e.period_end AS since, coalesce(e.qty, 0) AS qty0, coalesce(e.value, 0) AS value0
          FROM unnest(v_products) c(product_id)
          LEFT JOIN LATERAL (SELECT s.period_end, s.qty, s.value FROM stock.valuation_snapshot s
                              WHERE s.company_id = p_company AND s.product_id = c.product_id AND s.period_end < v_end
                              ORDER BY s.period_end DESC LIMIT 1) e ON true
    ), monthly AS (
        SELECT c.product_id, stock._month_after(l.created_at) AS period_end, sum(l.quantity) AS dq, sum(l.value) AS dv
          FROM cand c
          JOIN stock.valuation_layer l ON l.company_id = p_company AND l.product_id = c.product_id
           AND l.created_at >= coalesce(c.since, '-infinity') AND l.created_at < v_end
         GROUP BY 1, 2
    ), spans AS (
        SELECT c.product_id, c.qty0, c.value0, coalesce(stock._month_after(c.since), f.first) AS first
          FROM cand c
          LEFT JOIN (SELECT m.product_id, min(m.period_end) AS first FROM monthly m GROUP BY 1) f
            ON f.product_id = c.product_id
    )
    SELECT p_company, s.product_id, t.period_end,
           s.qty0 + coalesce(sum(m.dq) OVER w, 0), s.value0 + coalesce(sum(m.dv) OVER w, 0)
      FROM spans s
     CROSS JOIN LATERAL (SELECT g AT TIME ZONE 'UTC' AS period_end
                           FROM generate_series(s.first AT TIME ZONE 'UTC', v_end AT TIME ZONE 'UTC', interval '1 month') g) t
      LEFT JOIN monthly m ON m.product_id = s.product_id AND m.period_end = t.period_end
     WHERE s.first IS NOT NULL
    WINDOW w AS (PARTITION BY s.product_id ORDER BY t.period_end)
     ORDER BY t.period_end, s.product_id   -- a period's rows together: the report reads one period
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN jsonb_build_object('products', cardinality(v_products), 'snapshots', v_rows);
END $$;

-- What an admin calls to bring a company's snapshots up to date now (after a
-- batch of back-dated postings, or before month-end reports) instead of
-- waiting for the chore. Needs stock.valuation:lock, as closing a period does.
CREATE FUNCTION stock.build_valuation_snapshots(p_company bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.valuation:lock', p_company);
    END IF;
    PERFORM stock._ensure_company(p_company);
    RETURN stock._build_snapshots(p_company);
END $$;
COMMENT ON FUNCTION stock.build_valuation_snapshots(bigint) IS
    'Write the missing valuation snapshots of a company up to the start of the current UTC month (needs stock.valuation:lock); returns how many products and rows';

-- The hourly chore (erp.housekeeping_chore): every company with postings. A
-- run with nothing to write reads one index entry per product.
CREATE FUNCTION stock._build_snapshots_chore() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c bigint;
    r jsonb;
    v_companies integer := 0;
    v_products bigint := 0;
    v_rows bigint := 0;
BEGIN
    FOR c IN SELECT co.id FROM erp.company co
              WHERE EXISTS (SELECT 1 FROM stock.product_value pv WHERE pv.company_id = co.id)
              ORDER BY co.id
    LOOP
        r := stock._build_snapshots(c);
        v_companies := v_companies + 1;
        v_products := v_products + (r ->> 'products')::bigint;
        v_rows := v_rows + (r ->> 'snapshots')::bigint;
    END LOOP;
    RETURN jsonb_build_object('companies', v_companies, 'products', v_products, 'snapshots', v_rows);
END $$;
COMMENT ON FUNCTION stock._build_snapshots_chore() IS
    'Hourly chore of pgerp_stock (erp.housekeeping_chore): write the missing valuation snapshots of every company';
INSERT INTO erp.housekeeping_chore (routine, every) VALUES ('stock._build_snapshots_chore()', interval '1 hour');

-- Quantity and value of a product (at a date: layers up to it): its latest
-- period snapshot at or before the date (sql/stock/snapshot.sql) plus the
-- layers from the snapshot's end on.
CREATE OR REPLACE FUNCTION stock.valuation(p_product bigint, p_at timestamptz DEFAULT NULL,
                                OUT qty numeric, OUT value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_from timestamptz;
    v_qty numeric;
    v_value numeric;
BEGIN
    PERFORM stock._check_date(p_at, 'as-of date', false);
    SELECT s.period_end, s.qty, s.value INTO v_from, v_qty, v_value
      FROM stock.valuation_snapshot s
     WHERE s.company_id = p.company_id AND s.product_id = p.id AND s.period_end <= coalesce(p_at, 'infinity')
     ORDER BY s.period_end DESC LIMIT 1;
    SELECT coalesce(v_qty, 0) + coalesce(sum(l.quantity), 0), coalesce(v_value, 0) + coalesce(sum(l.value), 0)
      INTO qty, value
      FROM stock.valuation_layer l
     WHERE l.company_id = p.company_id AND l.product_id = p.id
       AND l.created_at >= coalesce(v_from, '-infinity') AND l.created_at <= coalesce(p_at, 'infinity');
END $$;

-- Row security applies (SECURITY INVOKER): products of companies the caller
-- may read. An infinite as-of date is refused (22008), as stock.valuation()
-- does (the check is inline: an invoker may not call internal helpers).
-- With snapshots (sql/stock/snapshot.sql): the latest period end at or before
-- the date that the company has snapshots of; each product with a snapshot
-- there adds the company's layers from that end on (one range scan); a
-- product without one (never snapshotted, or stale) reads its own latest
-- earlier snapshot and layers. Without any snapshot: every layer up to the date.
-- stock.valuation_report(bigint,timestamptz): final definition below, in section "report (#16)"

INSERT INTO erp.app_routine (routine) VALUES ('stock.build_valuation_snapshots(bigint)') ON CONFLICT DO NOTHING;
-- ==== bulkwrite (#16) ====
-- journal_balanced sums an entry once per check, not once per line (src/valuation/balanced.c)
CREATE OR REPLACE FUNCTION stock._journal_balanced() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_valuation_journal_balanced';

-- ==== report (#16) ====
-- stock.valuation_report in C: each input read once, the lines in sku order
-- without sorting the joined rows (src/valuation/report.c, docs/valuation.md)
CREATE OR REPLACE FUNCTION stock.valuation_report(p_company bigint, p_at timestamptz DEFAULT NULL)
RETURNS TABLE (product_id bigint, sku text, qty numeric, value numeric, unit_cost numeric)
LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgerp_valuation_report';
-- index-only reads of a period's snapshots and of the products in sku order
ALTER TABLE stock.valuation_snapshot DROP CONSTRAINT valuation_snapshot_pkey,
    ADD CONSTRAINT valuation_snapshot_pkey PRIMARY KEY (company_id, period_end, product_id) INCLUDE (qty, value);
ALTER TABLE stock.product DROP CONSTRAINT product_company_id_sku_key,
    ADD CONSTRAINT product_company_id_sku_key UNIQUE (company_id, sku) INCLUDE (id);

-- ==== recost (#15): finished goods re-costed after a back-dated component move ====
-- (sql/stock/valuation.sql)
CREATE FUNCTION stock._recost_product(p_company bigint, p_product bigint, p_cause bigint) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'pgerp_valuation_recost_product';

-- ==== release (#16.1): what a posting runs, trimmed (sql/stock/move.sql): its move's reserved
-- quantity written only when one was reserved; plans kept for the running-totals lock of one
-- product and for the quant update ====
-- Lock the running totals of several products, in product order (no deadlocks).
CREATE OR REPLACE FUNCTION stock._lock_products(p_company bigint, p_products bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- one product (every posting): statements whose plans the plan cache keeps;
    -- the = ANY form looked cheaper planned for its array, so it was planned
    -- again at every call (#16.1)
    IF cardinality(p_products) = 1 THEN
        INSERT INTO stock.product_value (company_id, product_id) VALUES (p_company, p_products[1])
            ON CONFLICT DO NOTHING;
        PERFORM 1 FROM stock.product_value WHERE company_id = p_company AND product_id = p_products[1] FOR UPDATE;
        RETURN;
    END IF;
    INSERT INTO stock.product_value (company_id, product_id)
    SELECT p_company, unnest(p_products) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM stock.product_value
      WHERE company_id = p_company AND product_id = ANY (p_products)
      ORDER BY product_id FOR UPDATE;
END $$;

-- Add p_delta to a quant of an internal location.
CREATE OR REPLACE FUNCTION stock._quant_add(p_company bigint, p_product bigint, p_location bigint, p_lot bigint,
                                 p_delta numeric, p_date timestamptz) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    v_quantity numeric;
BEGIN
    -- PL/pgSQL rather than SQL: a SQL function plans its statement again at
    -- every call, this one keeps its plan (#16.1)
    INSERT INTO stock.quant AS q (company_id, product_id, location_id, lot_id, quantity, in_date)
    VALUES (p_company, p_product, p_location, coalesce(p_lot, 0), p_delta, p_date)
    ON CONFLICT (company_id, product_id, location_id, lot_id)
    DO UPDATE SET quantity = q.quantity + EXCLUDED.quantity
    RETURNING quantity INTO v_quantity;
    RETURN v_quantity;
END $$;

-- Give back what a move reserved (largest reservations first is not needed:
-- quants hold no owner, so release from the oldest as reserve took).
CREATE OR REPLACE FUNCTION stock._release(m stock.move) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_left numeric := m.reserved_qty;
    v_take numeric;
    q record;
BEGIN
    IF v_left > 0 AND EXISTS (SELECT 1 FROM stock.location l WHERE l.id = m.location_id AND l.usage = 'internal') THEN
        FOR q IN SELECT * FROM stock.quant
                  WHERE company_id = m.company_id AND product_id = m.product_id AND location_id = m.location_id
                    AND (m.lot_id IS NULL OR lot_id = m.lot_id) AND reserved > 0
                  ORDER BY in_date, lot_id FOR UPDATE
        LOOP
            EXIT WHEN v_left <= 0;
            v_take := least(v_left, q.reserved);
            UPDATE stock.quant SET reserved = reserved - v_take
             WHERE company_id = q.company_id AND product_id = q.product_id AND location_id = q.location_id AND lot_id = q.lot_id;
            v_left := v_left - v_take;
        END LOOP;
    END IF;
    -- m is the caller's locked row: nothing reserved, nothing to write (an update
    -- of the move costs its checks, triggers and a row version on every posting)
    IF m.reserved_qty <> 0 THEN
        UPDATE stock.move SET reserved_qty = 0 WHERE company_id = m.company_id AND id = m.id;
    END IF;
END $$;

-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA stock FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA stock FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
