\echo Use "ALTER EXTENSION pgerp_mrp UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp_mrp 0.1.0 -> 0.2.0 (see migrations/pgerp--0.1.0--0.2.0.sql).
-- Folded before 0.2.0 is frozen: each object is defined once, in its final
-- form. A routine (trigger, index) that several sections changed stands in
-- the section that changed it last; where an earlier section
-- changed it, a line "-- <routine>: final definition below, in section ..."
-- says where it went. A routine whose signature changes is dropped once; one
-- that this script creates has its final signature from the start (no CREATE,
-- DROP and CREATE again), and the allow-list rows name it so. A section added
-- later appends as before, and is folded the same way before the release.

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
    ('mrp.produce_mo(bigint,numeric,text)'),
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
    ('purchase.receive(bigint,jsonb,text)'),
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
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', erp._echo(p_line::text));
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

-- mrp._mo_for_update(bigint,text): final definition below, in section "identity: no user signed in (#14.5)"
-- purchase._vendor(bigint,bigint): final definition below, in section "identity: no user signed in (#14.5)"

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

-- purchase._order_for_update(bigint,text): final definition below, in section "identity: no user signed in (#14.5)"

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

CREATE TABLE mrp.planning_lock (
    company_id bigint NOT NULL REFERENCES erp.company (id) ON DELETE CASCADE,
    task text NOT NULL CHECK (task IN ('run', 'replenish')),
    PRIMARY KEY (company_id, task)
);
COMMENT ON TABLE mrp.planning_lock IS
    'The planning lock of each company and task (run, replenish): its row is locked while the task runs';

CREATE OR REPLACE FUNCTION mrp._lock_planning(p_company bigint, p_task text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_timeout text := current_setting('lock_timeout');
BEGIN
    BEGIN
        PERFORM 1 FROM mrp.planning_lock l WHERE l.company_id = p_company AND l.task = p_task FOR UPDATE NOWAIT;
        IF NOT FOUND THEN
            PERFORM set_config('lock_timeout', '1s', true);
            INSERT INTO mrp.planning_lock (company_id, task) VALUES (p_company, p_task) ON CONFLICT DO NOTHING;
            PERFORM set_config('lock_timeout', v_timeout, true);
            PERFORM 1 FROM mrp.planning_lock l WHERE l.company_id = p_company AND l.task = p_task FOR UPDATE NOWAIT;
        END IF;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'planning of company % is busy', p_company
            USING ERRCODE = 'lock_not_available',
                  DETAIL = format('Another mrp.%s of company %s is running.', p_task, p_company),
                  HINT = 'Try again when it has finished.';
    END;
END $$;


-- ==== BOM depth (#11.10) ====

CREATE OR REPLACE FUNCTION mrp._max_bom_depth() RETURNS integer
    LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_mrp_max_bom_depth';

CREATE OR REPLACE FUNCTION mrp._too_deep(p_company bigint, p_product bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION 'the bill of materials of product % is nested too deep',
        (SELECT pr.sku FROM stock.product pr WHERE pr.company_id = p_company AND pr.id = p_product)
        USING ERRCODE = 'statement_too_complex',
              DETAIL = format('Bills of materials are at most %s levels deep.', mrp._max_bom_depth());
END $$;

CREATE OR REPLACE FUNCTION mrp._tree(p_company bigint, p_product bigint, p_qty numeric, p_phantoms_only boolean)
RETURNS TABLE (level int, parent_id bigint, product_id bigint, qty numeric, is_kit boolean, has_bom boolean)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(level, parent_id, product_id, qty, is_kit, has_bom) AS (
        SELECT 1, b.product_id, bl.product_id, p_qty * bl.qty * (1 + bl.scrap_pct / 100) / b.qty,
               cb.type = 'phantom', cb.id IS NOT NULL
          FROM mrp._bom_of(p_company, p_product) b
          JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id
          LEFT JOIN LATERAL mrp._bom_of(p_company, bl.product_id) cb ON true
        UNION ALL
        SELECT t.level + 1, t.product_id, bl.product_id, t.qty * bl.qty * (1 + bl.scrap_pct / 100) / b.qty,
               cb.type = 'phantom', cb.id IS NOT NULL
          FROM t
          CROSS JOIN LATERAL mrp._bom_of(p_company, t.product_id) b
          JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id
          LEFT JOIN LATERAL mrp._bom_of(p_company, bl.product_id) cb ON true
         WHERE t.level <= mrp._max_bom_depth() AND (t.is_kit OR (t.has_bom AND NOT p_phantoms_only))
    )
    SELECT t.level, t.parent_id, t.product_id, t.qty, coalesce(t.is_kit, false), t.has_bom FROM t
     WHERE t.level <= mrp._max_bom_depth() OR mrp._too_deep(p_company, p_product)
$$;


-- ==== bounds of planning inputs (#11.12) ====

CREATE OR REPLACE FUNCTION mrp._max_qty() RETURNS numeric
    LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_mrp_max_qty';

CREATE OR REPLACE FUNCTION mrp._max_days() RETURNS integer
    LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_mrp_max_days';

CREATE OR REPLACE FUNCTION mrp._in_range(p_value numeric, p_what text) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_value IS NOT NULL AND NOT (abs(p_value) <= mrp._max_qty()) THEN
        RAISE EXCEPTION '% is out of range', p_what
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('Planning quantities are at most %s units; the value given is %s.',
                                  mrp._max_qty(), erp._echo(p_value::text));
    END IF;
    RETURN p_value;
END $$;

CREATE OR REPLACE FUNCTION mrp._planning_date(p_date date, p_what text) RETURNS date
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_date IS NOT NULL
       AND NOT (isfinite(p_date) AND p_date BETWEEN current_date - mrp._max_days() AND current_date + mrp._max_days()) THEN
        RAISE EXCEPTION '% is out of range', p_what
            USING ERRCODE = 'datetime_field_overflow',
                  DETAIL = format('Planning dates are within %s days of today; the date given is %s.',
                                  mrp._max_days(), erp._echo(p_date::text));
    END IF;
    RETURN p_date;
END $$;

CREATE OR REPLACE FUNCTION mrp._planning_date(p_at timestamptz, p_what text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_at IS NOT NULL AND NOT isfinite(p_at) THEN
        PERFORM mrp._planning_date('infinity'::date, p_what);
    END IF;
    PERFORM mrp._planning_date(p_at::date, p_what);
    RETURN p_at;
END $$;

ALTER TABLE mrp.run_message DROP CONSTRAINT run_message_kind_check,
    ADD CONSTRAINT run_message_kind_check CHECK (kind IN ('past_due', 'no_bom', 'no_supplier', 'expedite', 'cancel', 'replenish_failed', 'not_planned'));

CREATE OR REPLACE FUNCTION mrp.create_workcenter(p_company bigint, p_code text, p_cost_per_hour numeric, p_capacity numeric DEFAULT 1)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stock._require('mrp.workcenter:create', p_company);
    IF NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_code IS NULL OR p_code !~ '^\S{1,64}$' THEN
        RAISE EXCEPTION 'invalid work center code %', erp._echo(p_code)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'A code is 1 to 64 characters without spaces.';
    END IF;
    IF p_cost_per_hour IS NULL OR NOT (p_cost_per_hour >= 0 AND p_cost_per_hour < 'Infinity') THEN
        RAISE EXCEPTION 'cost per hour must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_capacity IS NULL OR NOT (p_capacity > 0 AND p_capacity < 'Infinity') THEN
        RAISE EXCEPTION 'capacity must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM mrp.workcenter w WHERE w.company_id = p_company AND w.code = p_code) THEN
        RAISE EXCEPTION 'work center % already exists in company %', erp._echo(p_code), p_company
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO mrp.workcenter (company_id, code, cost_per_hour, capacity)
    VALUES (p_company, p_code, p_cost_per_hour, p_capacity) RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION mrp.create_workcenter(bigint, text, numeric, numeric) IS
    'Create a work center with its cost per hour (needs mrp.workcenter:create)';

CREATE OR REPLACE FUNCTION mrp._positive(p_value jsonb, p_what text) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v numeric;
BEGIN
    IF jsonb_typeof(p_value) IS DISTINCT FROM 'number' THEN
        RAISE EXCEPTION '% must be a number', p_what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v := p_value::text::numeric;
    IF NOT (v > 0) THEN
        RAISE EXCEPTION '% must be positive', p_what
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The value given is %s.', erp._echo(v::text));
    END IF;
    RETURN mrp._in_range(v, p_what);
END $$;

CREATE OR REPLACE FUNCTION mrp.create_bom(p_product bigint, p_qty numeric, p_lines jsonb, p_type text DEFAULT 'normal',
                               p_byproducts jsonb DEFAULT NULL, p_operations jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    c stock.product;
    l jsonb;
    v_bom bigint;
    v_uom text;
    v_qty numeric;
    v_scrap numeric;
    v_path bigint[];
    v_wc bigint;
    v_minutes numeric;
    v_seq int := 0;
    v_front bigint[];
    v_levels int := 0;
BEGIN
    PERFORM stock._require('mrp.bom:create', p.company_id);
    IF p_qty IS NULL OR NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'bill of materials quantity must be positive'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    PERFORM mrp._in_range(p_qty, 'bill of materials quantity');
    IF p_type IS NULL OR p_type NOT IN ('normal', 'phantom') THEN
        RAISE EXCEPTION 'invalid bill of materials type %', erp._echo(p_type)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The types are normal and phantom (a kit).';
    END IF;
    IF jsonb_typeof(p_lines) IS DISTINCT FROM 'array' OR jsonb_array_length(p_lines) = 0 THEN
        RAISE EXCEPTION 'a bill of materials needs at least one component line'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Lines are a JSON array of {"product": id, "qty": n, "scrap_pct": x, "uom": "kg"}.';
    END IF;
    IF p_byproducts IS NOT NULL AND jsonb_typeof(p_byproducts) <> 'array' THEN
        RAISE EXCEPTION 'by-products must be a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_operations IS NOT NULL AND jsonb_typeof(p_operations) <> 'array' THEN
        RAISE EXCEPTION 'operations must be a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO mrp.bom (company_id, product_id, qty, type,
                         sequence)
    VALUES (p.company_id, p.id, p_qty, p_type,
            coalesce((SELECT max(b.sequence) + 10 FROM mrp.bom b WHERE b.company_id = p.company_id AND b.product_id = p.id), 10))
    RETURNING id INTO v_bom;

    FOR l IN SELECT * FROM jsonb_array_elements(p_lines) LOOP
        c := mrp._component(p.company_id, l, 'component');
        v_qty := mrp._positive(l->'qty', 'component quantity');
        v_scrap := 0;
        IF l ? 'scrap_pct' THEN
            IF jsonb_typeof(l->'scrap_pct') <> 'number' OR NOT ((l->>'scrap_pct')::numeric >= 0 AND (l->>'scrap_pct')::numeric < 100) THEN
                RAISE EXCEPTION 'scrap percentage must be at least 0 and below 100'
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', erp._echo((l->'scrap_pct')::text));
            END IF;
            v_scrap := (l->>'scrap_pct')::numeric;
        END IF;
        v_uom := coalesce(l->>'uom', c.uom);
        PERFORM mrp._in_range(stock.convert_uom(v_qty, v_uom, c.uom), 'component quantity');
        IF stock.convert_uom(v_qty, v_uom, c.uom) <= 0 THEN
            RAISE EXCEPTION 'a component quantity rounds to zero in its unit' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('%s %s of %s is %s %s.', erp._echo(v_qty::text), erp._echo(v_uom), c.sku,
                                stock.convert_uom(v_qty, v_uom, c.uom), c.uom);
        END IF;
        INSERT INTO mrp.bom_line (company_id, bom_id, product_id, qty, uom, uom_qty, scrap_pct)
        VALUES (p.company_id, v_bom, c.id, stock.convert_uom(v_qty, v_uom, c.uom), v_uom, v_qty, v_scrap);
    END LOOP;

    -- a cycle: the product is reachable from one of its components through
    -- any active bill of materials, at any depth
    WITH RECURSIVE walk(product_id, path) AS (
        SELECT bl.product_id, ARRAY[p.id, bl.product_id]
          FROM mrp.bom_line bl WHERE bl.company_id = p.company_id AND bl.bom_id = v_bom
        UNION ALL
        SELECT bl.product_id, w.path || bl.product_id
          FROM walk w
          JOIN mrp.bom b ON b.company_id = p.company_id AND b.product_id = w.product_id AND b.active
          JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id
         WHERE w.product_id <> p.id AND NOT bl.product_id = ANY (w.path[2:])
    )
    SELECT w.path INTO v_path FROM walk w WHERE w.product_id = p.id ORDER BY array_length(w.path, 1) LIMIT 1;
    IF v_path IS NOT NULL THEN
        RAISE EXCEPTION 'bill of materials of % would create a cycle', p.sku
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The cycle is %s.', (SELECT string_agg(pr.sku, ' -> ' ORDER BY x.n)
                                                         FROM unnest(v_path) WITH ORDINALITY x(id, n)
                                                         JOIN stock.product pr ON pr.company_id = p.company_id AND pr.id = x.id));
    END IF;

    -- the depth: the longest chain through this BOM, from the highest product
    -- using p down to the deepest component, through any active BOM (as for
    -- cycles), one level per statement, at most mrp._max_bom_depth() + 1
    v_front := ARRAY[p.id];
    LOOP
        SELECT array_agg(DISTINCT b.product_id) INTO v_front
          FROM mrp.bom_line bl JOIN mrp.bom b ON b.company_id = bl.company_id AND b.id = bl.bom_id AND b.active
         WHERE bl.company_id = p.company_id AND bl.product_id = ANY (v_front);
        EXIT WHEN v_front IS NULL OR v_levels > mrp._max_bom_depth();
        v_levels := v_levels + 1;
    END LOOP;
    SELECT array_agg(DISTINCT bl.product_id) INTO v_front
      FROM mrp.bom_line bl WHERE bl.company_id = p.company_id AND bl.bom_id = v_bom;
    LOOP
        v_levels := v_levels + 1;
        EXIT WHEN v_levels > mrp._max_bom_depth();
        SELECT array_agg(DISTINCT bl.product_id) INTO v_front
          FROM mrp.bom b JOIN mrp.bom_line bl ON bl.company_id = b.company_id AND bl.bom_id = b.id
         WHERE b.company_id = p.company_id AND b.product_id = ANY (v_front) AND b.active;
        EXIT WHEN v_front IS NULL;
    END LOOP;
    IF v_levels > mrp._max_bom_depth() THEN
        RAISE EXCEPTION 'bill of materials of % would be nested too deep', p.sku
            USING ERRCODE = 'statement_too_complex',
                  DETAIL = format('Bills of materials are at most %s levels deep; with this one, a chain through %s would have %s or more.',
                                  mrp._max_bom_depth(), p.sku, v_levels);
    END IF;

    FOR l IN SELECT * FROM jsonb_array_elements(coalesce(p_byproducts, '[]')) LOOP
        c := mrp._component(p.company_id, l, 'by-product');
        IF c.id = p.id THEN
            RAISE EXCEPTION 'a product is not a by-product of itself' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO mrp.bom_byproduct (company_id, bom_id, product_id, qty)
        VALUES (p.company_id, v_bom, c.id, mrp._positive(l->'qty', 'by-product quantity'));
    END LOOP;
    FOR l IN SELECT * FROM jsonb_array_elements(coalesce(p_operations, '[]')) LOOP
        v_seq := v_seq + 10;
        IF jsonb_typeof(l) <> 'object' OR jsonb_typeof(l->'workcenter') IS DISTINCT FROM 'number'
           OR (l->>'workcenter') !~ '^[0-9]{1,18}$' OR coalesce(l->>'name', '') !~ '\S' THEN
            RAISE EXCEPTION 'each operation needs a "name" and a numeric "workcenter"'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', erp._echo(l::text));
        END IF;
        SELECT w.id INTO v_wc FROM mrp.workcenter w WHERE w.id = (l->>'workcenter')::bigint AND w.company_id = p.company_id;
        IF v_wc IS NULL THEN
            RAISE EXCEPTION 'work center % does not exist in company %', l->>'workcenter', p.company_id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(l->'minutes') IS DISTINCT FROM 'number' OR NOT ((l->>'minutes')::numeric >= 0 AND (l->>'minutes')::numeric < 'Infinity') THEN
            RAISE EXCEPTION 'operation minutes must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_minutes := (l->>'minutes')::numeric;
        INSERT INTO mrp.bom_operation (company_id, bom_id, sequence, name, workcenter_id, minutes)
        VALUES (p.company_id, v_bom, v_seq, l->>'name', v_wc, v_minutes);
    END LOOP;
    RETURN v_bom;
END $$;
COMMENT ON FUNCTION mrp.create_bom(bigint, numeric, jsonb, text, jsonb, jsonb) IS
    'Create a bill of materials (needs mrp.bom:create); refuses cycles at any depth, showing the path, and chains deeper than mrp._max_bom_depth() levels (54001)';

CREATE OR REPLACE FUNCTION mrp._product_with_bom(p_product bigint, p_qty numeric) RETURNS stock.product
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    PERFORM stock._require('mrp.bom:read', p.company_id);
    IF p_qty IS NULL OR NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'quantity must be positive'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    PERFORM mrp._in_range(p_qty, 'quantity');
    IF NOT EXISTS (SELECT 1 FROM mrp._bom_of(p.company_id, p.id)) THEN
        RAISE EXCEPTION 'product % has no bill of materials', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p;
END $$;

CREATE OR REPLACE FUNCTION mrp.create_mo(p_product bigint, p_qty numeric, p_due timestamptz DEFAULT NULL, p_warehouse bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    b mrp.bom;
    v_id bigint;
BEGIN
    PERFORM stock._require('mrp.production:create', p.company_id);
    IF p_qty IS NULL OR NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'quantity to produce must be positive'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(p_qty::text));
    END IF;
    PERFORM mrp._in_range(p_qty, 'quantity to produce'), mrp._planning_date(p_due, 'due date');
    IF stock.round_to(p_qty, (SELECT u.rounding FROM stock.uom u WHERE u.code = p.uom)) <= 0 THEN
        RAISE EXCEPTION 'quantity to produce rounds to zero in the product''s unit'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s %s.', erp._echo(p_qty::text), p.uom);
    END IF;
    SELECT * INTO b FROM mrp._bom_of(p.company_id, p.id);
    IF b.id IS NULL THEN
        RAISE EXCEPTION 'product % has no bill of materials', p.sku USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF b.type = 'phantom' THEN
        RAISE EXCEPTION 'product % is a kit: it is never manufactured', p.sku
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Its bill of materials is of type phantom: its components are used in its place.';
    END IF;
    INSERT INTO mrp.production (company_id, product_id, bom_id, qty, due_at, location_id)
    VALUES (p.company_id, p.id, b.id, stock.round_to(p_qty, (SELECT u.rounding FROM stock.uom u WHERE u.code = p.uom)),
            coalesce(p_due, now()), stock._warehouse_location(p, p_warehouse))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION mrp.create_mo(bigint, numeric, timestamptz, bigint) IS
    'Create a draft manufacturing order from the product''s BOM (needs mrp.production:create)';

-- mrp.produce_mo(bigint,numeric): dropped below (its signature changes)

CREATE OR REPLACE FUNCTION purchase.add_supplier(p_product bigint, p_vendor bigint, p_price numeric, p_lead_days integer,
                                      p_min_qty numeric DEFAULT 0)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v erp.partner := purchase._vendor(p.company_id, p_vendor);
    v_id bigint;
BEGIN
    PERFORM stock._require('purchase.supplier_info:create', p.company_id);
    IF p_price IS NULL OR NOT (p_price >= 0 AND p_price < 'Infinity') THEN
        RAISE EXCEPTION 'price must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lead_days IS NULL OR p_lead_days < 0 THEN
        RAISE EXCEPTION 'lead time must be zero or more days' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lead_days > mrp._max_days() THEN
        RAISE EXCEPTION 'lead time is out of range' USING ERRCODE = 'numeric_value_out_of_range',
            DETAIL = format('Lead times are at most %s days; the value given is %s.', mrp._max_days(), p_lead_days);
    END IF;
    IF p_min_qty IS NULL OR NOT (p_min_qty >= 0 AND p_min_qty < 'Infinity') THEN
        RAISE EXCEPTION 'minimum quantity must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO purchase.supplier_info (company_id, product_id, vendor_id, price, lead_days, min_qty)
    VALUES (p.company_id, p.id, v.id, round(p_price, (SELECT c.price_precision FROM erp.company c WHERE c.id = p.company_id)),
            p_lead_days, p_min_qty)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION purchase.add_supplier(bigint, bigint, numeric, integer, numeric) IS
    'A vendor''s price, lead time and minimum quantity for a product (needs purchase.supplier_info:create)';

CREATE OR REPLACE FUNCTION purchase.create_order(p_vendor bigint, p_lines jsonb, p_date_planned timestamptz DEFAULT NULL,
                                      p_warehouse bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v erp.partner := purchase._vendor(NULL, p_vendor);
    c erp.company;
    l jsonb;
    pr stock.product;
    s purchase.supplier_info;
    v_qty numeric;
    v_price numeric;
    v_order bigint;
    v_lead int := 0;
BEGIN
    PERFORM stock._require('purchase.order:create', v.company_id);
    SELECT * INTO c FROM erp.company WHERE id = v.company_id;
    IF jsonb_typeof(p_lines) IS DISTINCT FROM 'array' OR jsonb_array_length(p_lines) = 0 THEN
        RAISE EXCEPTION 'a purchase order needs at least one line'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Lines are a JSON array of {"product": id, "qty": n, "price": p}.';
    END IF;
    PERFORM mrp._planning_date(p_date_planned, 'planned date');
    INSERT INTO purchase.order (company_id, vendor_id, date_planned, location_id)
    VALUES (v.company_id, v.id, coalesce(p_date_planned, now()), purchase._warehouse(v.company_id, p_warehouse))
    RETURNING id INTO v_order;
    FOR l IN SELECT * FROM jsonb_array_elements(p_lines) LOOP
        pr := mrp._component(v.company_id, l, 'order line');
        v_qty := mrp._positive(l->'qty', 'quantity');
        IF l ? 'price' AND jsonb_typeof(l->'price') <> 'null' THEN
            IF jsonb_typeof(l->'price') <> 'number' OR NOT ((l->>'price')::numeric >= 0 AND (l->>'price')::numeric < 'Infinity') THEN
                RAISE EXCEPTION 'price must be zero or positive' USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = format('Got %s.', erp._echo((l->'price')::text));
            END IF;
            v_price := (l->>'price')::numeric;
        ELSE
            s := purchase.best_supplier(pr.id, v_qty, v.id);
            IF s.id IS NULL THEN
                RAISE EXCEPTION 'no price for product % from vendor %', pr.sku, v.name
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Give the line a "price", or add the vendor''s price with purchase.add_supplier().';
            END IF;
            v_price := s.price;
            v_lead := greatest(v_lead, s.lead_days);
        END IF;
        INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price)
        VALUES (v.company_id, v_order, pr.id, v_qty, round(v_price, c.price_precision));
    END LOOP;
    IF p_date_planned IS NULL AND v_lead > 0 THEN
        UPDATE purchase.order SET date_planned = now() + make_interval(days => v_lead)
         WHERE company_id = v.company_id AND id = v_order;
    END IF;
    RETURN v_order;
END $$;
COMMENT ON FUNCTION purchase.create_order(bigint, jsonb, timestamptz, bigint) IS
    'Create a draft purchase order; a line without price takes the vendor''s price, and the planned date defaults to now + the longest lead time';

-- purchase.receive(bigint,jsonb): dropped below (its signature changes)

CREATE OR REPLACE FUNCTION mrp.set_planning(p_product bigint, p_make_or_buy text, p_lead_days integer DEFAULT NULL,
                                 p_lot_rule text DEFAULT 'l4l', p_lot_qty numeric DEFAULT NULL,
                                 p_safety_stock numeric DEFAULT 0, p_min_order numeric DEFAULT 0,
                                 p_multiple numeric DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    PERFORM stock._require('mrp.planning:write', p.company_id);
    IF p_make_or_buy IS NULL OR p_make_or_buy NOT IN ('make', 'buy') THEN
        RAISE EXCEPTION 'invalid procurement %', erp._echo(p_make_or_buy)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'A product is made or bought.';
    END IF;
    IF p_lead_days < 0 THEN
        RAISE EXCEPTION 'lead time must be zero or more days' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lead_days > mrp._max_days() THEN
        RAISE EXCEPTION 'lead time is out of range' USING ERRCODE = 'numeric_value_out_of_range',
            DETAIL = format('Lead times are at most %s days; the value given is %s.', mrp._max_days(), p_lead_days);
    END IF;
    IF p_lot_rule IS NULL OR p_lot_rule NOT IN ('l4l', 'fixed') THEN
        RAISE EXCEPTION 'invalid lot rule %', erp._echo(p_lot_rule)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The lot rules are l4l (lot for lot) and fixed.';
    END IF;
    IF p_lot_rule = 'fixed' AND NOT coalesce(p_lot_qty > 0 AND p_lot_qty < 'Infinity', false) THEN
        RAISE EXCEPTION 'a fixed lot rule needs a positive lot quantity' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lot_qty IS NOT NULL AND NOT (p_lot_qty > 0 AND p_lot_qty < 'Infinity') THEN
        RAISE EXCEPTION 'lot quantity must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_safety_stock IS NULL OR NOT (p_safety_stock >= 0 AND p_safety_stock < 'Infinity') THEN
        RAISE EXCEPTION 'safety stock must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_min_order IS NULL OR NOT (p_min_order >= 0 AND p_min_order < 'Infinity') THEN
        RAISE EXCEPTION 'minimum order must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_multiple IS NOT NULL AND NOT (p_multiple > 0 AND p_multiple < 'Infinity') THEN
        RAISE EXCEPTION 'order multiple must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM mrp._in_range(p_lot_qty, 'lot quantity'), mrp._in_range(p_safety_stock, 'safety stock'),
            mrp._in_range(p_min_order, 'minimum order'), mrp._in_range(p_multiple, 'order multiple');
    INSERT INTO mrp.planning (company_id, product_id, make_or_buy, lead_days, lot_rule, lot_qty, safety_stock, min_order, multiple)
    VALUES (p.company_id, p.id, p_make_or_buy, p_lead_days, p_lot_rule, p_lot_qty, p_safety_stock, p_min_order, p_multiple)
    ON CONFLICT (company_id, product_id) DO UPDATE
       SET make_or_buy = excluded.make_or_buy, lead_days = excluded.lead_days, lot_rule = excluded.lot_rule,
           lot_qty = excluded.lot_qty, safety_stock = excluded.safety_stock, min_order = excluded.min_order,
           multiple = excluded.multiple;
END $$;
COMMENT ON FUNCTION mrp.set_planning(bigint, text, integer, text, numeric, numeric, numeric, numeric) IS
    'Planning data of a product (needs mrp.planning:write); the buy lead time defaults to the chosen supplier''s';

CREATE OR REPLACE FUNCTION mrp.add_demand(p_product bigint, p_qty numeric, p_due date, p_ref text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_id bigint;
BEGIN
    PERFORM stock._require('mrp.demand:create', p.company_id);
    IF p_qty IS NULL OR NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'demand quantity must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_due IS NULL THEN
        RAISE EXCEPTION 'due date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mrp._in_range(p_qty, 'demand quantity'), mrp._planning_date(p_due, 'due date');
    INSERT INTO mrp.demand (company_id, product_id, qty, due, ref) VALUES (p.company_id, p.id, p_qty, p_due, p_ref)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION mrp.add_demand(bigint, numeric, date, text) IS
    'Independent demand (forecast, sales) for the planner (needs mrp.demand:create)';

CREATE OR REPLACE FUNCTION mrp.run(p_company bigint, p_start date DEFAULT current_date, p_bucket text DEFAULT 'day',
                        p_horizon integer DEFAULT 90, p_warehouse bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_run bigint;
    v_n integer;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stock._require('mrp.plan:run', p_company);
    IF NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_start IS NULL THEN
        RAISE EXCEPTION 'start date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mrp._planning_date(p_start, 'start date');
    IF p_bucket IS NULL OR p_bucket NOT IN ('day', 'week') THEN
        RAISE EXCEPTION 'invalid bucket %', erp._echo(p_bucket)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Buckets are day or week.';
    END IF;
    IF p_horizon IS NULL OR p_horizon NOT BETWEEN 1 AND 3660 THEN
        RAISE EXCEPTION 'horizon must be between 1 and 3660 buckets' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_warehouse IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stock.warehouse w WHERE w.company_id = p_company AND w.id = p_warehouse) THEN
        RAISE EXCEPTION 'warehouse % does not exist in company %', p_warehouse, p_company
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one run at a time per company; the new one replaces the unfirmed results of the last
    PERFORM mrp._lock_planning(p_company, 'run');
    DELETE FROM mrp.pegging WHERE company_id = p_company;
    DELETE FROM mrp.plan_record WHERE company_id = p_company;
    DELETE FROM mrp.run_message WHERE company_id = p_company AND kind <> 'replenish_failed';
    DELETE FROM mrp.planned_order WHERE company_id = p_company AND firmed_ref IS NULL;
    INSERT INTO mrp.mrp_run (company_id, start_date, bucket, horizon, warehouse_id)
    VALUES (p_company, p_start, p_bucket, p_horizon, p_warehouse) RETURNING id INTO v_run;
    v_n := mrp._run_compute(v_run);
    UPDATE mrp.mrp_run SET finished_at = clock_timestamp(), planned_orders = v_n WHERE company_id = p_company AND id = v_run;
    RETURN v_run;
END $$;
COMMENT ON FUNCTION mrp.run(bigint, date, text, integer, bigint) IS
    'Regenerative MRP of a company (needs mrp.plan:run): planned orders, MRP table, pegging, exceptions; returns the run id';

CREATE OR REPLACE FUNCTION mrp.add_reorder_rule(p_product bigint, p_warehouse bigint, p_min numeric, p_max numeric,
                                     p_multiple numeric DEFAULT 1, p_trigger text DEFAULT 'auto')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := stock._product(p_product);
    v_id bigint;
BEGIN
    PERFORM stock._require('mrp.reorder_rule:create', p.company_id);
    IF NOT EXISTS (SELECT 1 FROM stock.warehouse w WHERE w.company_id = p.company_id AND w.id = p_warehouse) THEN
        RAISE EXCEPTION 'warehouse % does not exist in company %', coalesce(p_warehouse::text, 'NULL'), p.company_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_min IS NULL OR p_max IS NULL OR NOT (p_min >= 0 AND p_max >= 0 AND p_min < 'Infinity' AND p_max < 'Infinity') THEN
        RAISE EXCEPTION 'minimum and maximum must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM mrp._in_range(p_min, 'minimum'), mrp._in_range(p_max, 'maximum'), mrp._in_range(p_multiple, 'multiple');
    IF p_max < p_min THEN
        RAISE EXCEPTION 'maximum % is below minimum %', erp._echo(p_max::text), erp._echo(p_min::text) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_multiple IS NULL OR NOT (p_multiple > 0 AND p_multiple < 'Infinity') THEN
        RAISE EXCEPTION 'multiple must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_trigger IS NULL OR p_trigger NOT IN ('auto', 'manual') THEN
        RAISE EXCEPTION 'invalid trigger %', erp._echo(p_trigger)
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Triggers are auto and manual.';
    END IF;
    IF EXISTS (SELECT 1 FROM mrp.reorder_rule r WHERE r.company_id = p.company_id AND r.product_id = p.id AND r.warehouse_id = p_warehouse) THEN
        RAISE EXCEPTION 'product % already has a reorder rule in warehouse %', p.sku, p_warehouse USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO mrp.reorder_rule (company_id, product_id, warehouse_id, min_qty, max_qty, multiple, trigger)
    VALUES (p.company_id, p.id, p_warehouse, p_min, p_max, p_multiple, p_trigger) RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION mrp.add_reorder_rule(bigint, bigint, numeric, numeric, numeric, text) IS
    'A min/max reorder rule of a product in a warehouse (needs mrp.reorder_rule:create)';

-- mrp.replenish(bigint,boolean): final definition below, in section "replen1m (#16)"
-- mrp._job_arg(jsonb,text,text,text): final definition below, in section "jobperm (#14): the mrp job handlers run as the application role"

CREATE OR REPLACE FUNCTION mrp.run_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_start date;
    v_run bigint;
BEGIN
    BEGIN
        v_start := coalesce(mrp._job_arg(p_args, 'start', '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', 'a date (YYYY-MM-DD)')::date, current_date);
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION 'job argument "start" must be a date (YYYY-MM-DD)'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', erp._echo(p_args->>'start'));
    END;
    v_run := mrp.run(mrp._job_arg(p_args, 'company', '^[0-9]{1,18}$', 'a company id')::bigint, v_start,
                     coalesce(p_args->>'bucket', 'day'),
                     coalesce(mrp._job_arg(p_args, 'horizon', '^[0-9]{1,4}$', 'a number of buckets')::int, 90),
                     mrp._job_arg(p_args, 'warehouse', '^[0-9]{1,18}$', 'a warehouse id')::bigint);
    RETURN jsonb_build_object('run', v_run, 'planned_orders',
                              (SELECT r.planned_orders FROM mrp.mrp_run r WHERE r.id = v_run));
END $$;

CREATE OR REPLACE FUNCTION mrp.replenish_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_n bigint;
    v_failed bigint;
BEGIN
    SELECT count(*), count(*) FILTER (WHERE x.order_ref LIKE 'failed:%') INTO v_n, v_failed
      FROM mrp.replenish(mrp._job_arg(p_args, 'company', '^[0-9]{1,18}$', 'a company id')::bigint,
                         coalesce(mrp._job_arg(p_args, 'dry_run', '^(true|false)$', 'true or false')::boolean, false)) x;
    RETURN jsonb_build_object('ordered', v_n - v_failed, 'failed', v_failed);
END $$;


-- ==== other ====


-- ==== api: the HTTP contract (sql/api/, docs/api.md) ====

-- sql/api/boms.sql
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

-- sql/api/productions.sql
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

-- sql/api/purchase.sql
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

-- sql/api/planning.sql
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

-- The HTTP contract, schema api (sql/api/, docs/api.md).
INSERT INTO erp.app_routine (routine) VALUES
    ('api.bom_cost(bigint)'),
    ('api.create_mo(bigint,numeric,timestamp with time zone,bigint)'),
    ('api.confirm_mo(bigint)'),
    ('api.produce_mo(bigint,numeric,text)'),
    ('api.create_purchase_order(bigint,jsonb,timestamp with time zone,bigint)'),
    ('api.confirm_purchase_order(bigint)'),
    ('api.receive_purchase_order(bigint,jsonb,text)'),
    ('api.run_mrp(bigint,date,text,integer,bigint)'),
    ('api.replenish(bigint,boolean)'),
    ('api.firm(bigint)')
ON CONFLICT DO NOTHING;

-- The HTTP contract's views (sql/api/).
INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('api.boms', 'SELECT'),
    ('api.bom_lines', 'SELECT'),
    ('api.workcenters', 'SELECT'),
    ('api.productions', 'SELECT'),
    ('api.purchase_orders', 'SELECT'),
    ('api.purchase_order_lines', 'SELECT'),
    ('api.supplier_prices', 'SELECT'),
    ('api.reorder_rules', 'SELECT, INSERT, UPDATE, DELETE'),
    ('api.mrp_runs', 'SELECT'),
    ('api.planned_orders', 'SELECT'),
    ('api.plan_records', 'SELECT');

-- api.reorder_rules deletes through the table's row security
UPDATE erp.app_table SET privileges = 'SELECT, UPDATE (min_qty, max_qty, multiple, trigger, active), DELETE'
 WHERE table_name = 'mrp.reorder_rule'::regclass;

-- ==== identity: no user signed in (#14.5) ====

-- the lookups of the writers answer 28000 when nobody is signed in
CREATE OR REPLACE FUNCTION mrp._mo_for_update(p_mo bigint, p_code text) RETURNS mrp.production
LANGUAGE plpgsql AS $$
DECLARE
    v mrp.production;
BEGIN
    SELECT * INTO v FROM mrp.production m WHERE m.id = p_mo FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'mrp.production:read')
                                                AND erp._row_visible('mrp.production', v.id))) THEN
        PERFORM erp._require_signed_in();
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
        PERFORM erp._require_signed_in();
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

CREATE OR REPLACE FUNCTION purchase._order_for_update(p_order bigint, p_code text) RETURNS purchase.order
LANGUAGE plpgsql AS $$
DECLARE
    v purchase.order;
BEGIN
    SELECT * INTO v FROM purchase.order o WHERE o.id = p_order FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR (erp.company_allowed(v.company_id, 'purchase.order:read')
                                                AND erp._row_visible('purchase.order', v.id))) THEN
        PERFORM erp._require_signed_in();
        RAISE EXCEPTION 'purchase order % does not exist', coalesce(p_order::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

-- ==== idempotency keys (#14.6) ====

-- the posting functions take p_idempotency_key (stock.idempotency_key): a new signature
DROP FUNCTION mrp.produce_mo(bigint, numeric);
DROP FUNCTION purchase.receive(bigint, jsonb);

-- mrp.produce_mo(bigint,numeric,text): final definition below, in section "backprop (#15)"
-- purchase.receive(bigint,jsonb,text): final definition below, in section "backprop (#15)"
-- the api functions pass the key (the HTTP header Idempotency-Key): api.produce_mo and
-- api.receive_purchase_order are defined so in section "api: the HTTP contract (sql/api/, docs/api.md)" above

-- ==== replenishment at a million rules (#16.4) ====
-- forecast = on hand + incoming - outgoing up to today + lead days + what
-- draft orders already hold for the rule's product; below min: order up to
-- max(min, max) rounded up to the multiple (mrp._reorder_qty). The forecasts
-- are one statement of set joins from the rules (each source summed once per
-- rule, whatever the statistics say: a million rules in seconds, #16), and
-- the best supplier for the quantity is chosen in it. Bought lines are added
-- per vendor and warehouse in one INSERT each, and only a group that fails is
-- retried rule by rule, each in its own subtransaction, so that one bad rule
-- never stops the others. A run that wrote many lines analyzes them, so that
-- the next run is not planned on statistics that say "empty".
-- mrp.replenish(bigint,boolean): final definition below, in section "replen1m (#16)"

-- ==== jobperm (#14): the mrp job handlers run as the application role ====
-- A job argument as text, NULL when absent; 22023 when it does not match the
-- pattern, so that no internal cast error (22P02, 22003) leaks from a job.
-- The job handlers run as the role that enqueued them, the application role
-- included: it is allow-listed, and a definer so that erp._echo need not be.
CREATE OR REPLACE FUNCTION mrp._job_arg(p_args jsonb, p_key text, p_pattern text, p_what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF jsonb_typeof(p_args->p_key) IS DISTINCT FROM 'null' AND (p_args->>p_key) !~ p_pattern THEN
        RAISE EXCEPTION 'job argument "%" must be %', p_key, p_what
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', erp._echo((p_args->p_key)::text));
    END IF;
    RETURN p_args->>p_key;
END $$;
INSERT INTO erp.app_routine (routine) VALUES ('mrp._job_arg(jsonb,text,text,text)') ON CONFLICT DO NOTHING;

-- ==== backprop (#15) ====
-- Production and purchase receipts refuse a posting on or before the stock
-- lock date before they write (sql/stock/lock_date.sql, docs/lock_date.md).

CREATE OR REPLACE FUNCTION mrp.produce_mo(p_mo bigint, p_qty numeric DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:produce');
    p stock.product;
    c erp.company;
    b mrp.bom;
    v_qty numeric;
    v_rounding numeric;
    v_back bigint;
    v_back_move bigint;
    v_part numeric;
    r record;
    v_components numeric := 0;
    v_ops numeric := 0;
    v_byproducts numeric := 0;
    v_finished_move bigint;
    v_finished numeric;
    v_cost numeric;
    v_rest numeric;
    v_ref text := 'MO/' || m.id;
    v_idem record := stock._idempotency_claim(m.company_id, p_idempotency_key, 'mrp.produce_mo', jsonb_build_array(p_mo, p_qty));
BEGIN
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(m.company_id, now(), format('production of manufacturing order %s', m.id));
    IF m.state = 'draft' THEN
        RAISE EXCEPTION 'manufacturing order % is draft: only confirmed orders are produced', m.id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Confirm it with mrp.confirm_mo() first.';
    ELSIF m.state <> 'confirmed' THEN
        RAISE EXCEPTION 'manufacturing order % is %: only confirmed orders are produced', m.id, m.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO p FROM stock.product pr WHERE pr.company_id = m.company_id AND pr.id = m.product_id;
    SELECT * INTO c FROM erp.company WHERE id = m.company_id;
    SELECT * INTO b FROM mrp.bom WHERE company_id = m.company_id AND id = m.bom_id;
    SELECT u.rounding INTO v_rounding FROM stock.uom u WHERE u.code = p.uom;
    v_qty := coalesce(p_qty, m.qty);
    IF NOT (v_qty > 0 AND v_qty <= m.qty) THEN
        RAISE EXCEPTION 'quantity produced must be positive and at most %', m.qty
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', erp._echo(v_qty::text));
    END IF;
    v_qty := stock.round_to(v_qty, v_rounding);
    IF v_qty <= 0 THEN
        RAISE EXCEPTION 'quantity produced rounds to zero' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_qty < m.qty THEN
        -- the rest goes to a backorder MO, with the rest of every move
        INSERT INTO mrp.production (company_id, product_id, bom_id, qty, state, due_at, location_id, backorder_of)
        VALUES (m.company_id, m.product_id, m.bom_id, m.qty - v_qty, 'confirmed', m.due_at, m.location_id, m.id)
        RETURNING id INTO v_back;
    END IF;

    -- components: the produced share of each move, valued by the stock engine
    FOR r IN SELECT mv.id, mv.qty, mv.product_id, pm.role, u.rounding
               FROM mrp.production_move pm
               JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
               JOIN stock.product pr ON pr.company_id = mv.company_id AND pr.id = mv.product_id
               JOIN stock.uom u ON u.code = pr.uom
              WHERE pm.company_id = m.company_id AND pm.production_id = m.id
                AND mv.state IN ('draft', 'confirmed', 'assigned')
              ORDER BY pm.role = 'finished', mv.product_id, mv.id
    LOOP
        v_part := CASE WHEN v_back IS NULL THEN r.qty
                       ELSE least(r.qty, mrp._round_up(r.qty * v_qty / m.qty, r.rounding)) END;
        IF r.role = 'finished' THEN
            v_finished_move := r.id;
            CONTINUE;
        END IF;
        IF v_part <= 0 THEN
            UPDATE mrp.production_move SET production_id = v_back WHERE company_id = m.company_id AND move_id = r.id;
            CONTINUE;
        END IF;
        IF r.role = 'byproduct' THEN
            -- by-products enter at their standard price, deducted from the finished cost
            UPDATE stock.move mv SET unit_cost = pr.standard_price
              FROM stock.product pr
             WHERE mv.company_id = m.company_id AND mv.id = r.id AND pr.company_id = mv.company_id AND pr.id = mv.product_id;
        END IF;
        -- posted when produced, not at the due date; what is left keeps the due date
        UPDATE stock.move SET date = now() WHERE company_id = m.company_id AND id = r.id;
        v_back_move := stock.validate(r.id, CASE WHEN v_part < r.qty THEN v_part END);
        IF v_back_move IS NOT NULL THEN
            UPDATE stock.move SET date = m.due_at WHERE company_id = m.company_id AND id = v_back_move;
            INSERT INTO mrp.production_move VALUES (m.company_id, v_back, v_back_move, r.role);
        END IF;
        IF r.role = 'component' THEN
            v_components := v_components - coalesce((SELECT mv.value FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = r.id), 0);
        ELSE
            v_byproducts := v_byproducts + coalesce((SELECT mv.value FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = r.id), 0);
        END IF;
    END LOOP;

    -- operations: minutes per batch x batches produced, at each work center's rate
    SELECT coalesce(sum(stock.round_to(o.minutes * v_qty / b.qty / 60 * w.cost_per_hour, c.currency_rounding)), 0)
      INTO v_ops
      FROM mrp.bom_operation o JOIN mrp.workcenter w ON w.company_id = o.company_id AND w.id = o.workcenter_id
     WHERE o.company_id = b.company_id AND o.bom_id = b.id;

    -- the finished product: at cost (components + operations - by-products) / quantity,
    -- or at standard price for standard products, the difference to the variance account
    v_cost := v_components + v_ops - v_byproducts;
    IF p.cost_method <> 'standard' THEN
        UPDATE stock.move SET unit_cost = greatest(v_cost, 0) / v_qty
         WHERE company_id = m.company_id AND id = v_finished_move;
    END IF;
    UPDATE stock.move SET date = now() WHERE company_id = m.company_id AND id = v_finished_move;
    v_back_move := stock.validate(v_finished_move, CASE WHEN v_back IS NOT NULL THEN v_qty END);
    IF v_back_move IS NOT NULL THEN
        UPDATE stock.move SET date = m.due_at WHERE company_id = m.company_id AND id = v_back_move;
        INSERT INTO mrp.production_move VALUES (m.company_id, v_back, v_back_move, 'finished');
    END IF;
    v_finished := (SELECT mv.value FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = v_finished_move);

    -- journal: work centers' cost absorbed into production; what the finished
    -- value does not carry (standard cost, rounding) is production variance
    PERFORM stock._journal(m.company_id, now(), v_ref, v_finished_move, NULL, 'stock_output', 'production_cost', v_ops);
    v_rest := v_cost - v_finished;
    PERFORM stock._journal(m.company_id, now(), v_ref, v_finished_move, NULL, 'production_variance', 'stock_output', v_rest);

    UPDATE mrp.production
       SET state = 'done', qty = v_qty, done_at = now(), components_value = v_components, operations_cost = v_ops,
           byproducts_value = v_byproducts, finished_value = v_finished, unit_cost = round(v_finished / v_qty, c.price_precision)
     WHERE company_id = m.company_id AND id = m.id;
    PERFORM stock._idempotency_done(m.company_id, p_idempotency_key, to_jsonb(v_back));
    RETURN v_back;
END $$;
COMMENT ON FUNCTION mrp.produce_mo(bigint, numeric, text) IS
    'Produce (part of) a confirmed MO: consume components, receive the product at (components + operations - by-products) / qty; returns the backorder MO of a partial production (needs mrp.production:produce)';

CREATE OR REPLACE FUNCTION purchase.receive(p_order bigint, p_lines jsonb DEFAULT NULL, p_idempotency_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o purchase.order := purchase._order_for_update(p_order, 'purchase.order:receive');
    r record;
    l jsonb;
    v_got jsonb := '{}';   -- product id -> quantity still to spread over its lines
    v_take numeric;
    v_left numeric;
    v_back bigint;
    v_back_move bigint;
    v_idem record := stock._idempotency_claim(o.company_id, p_idempotency_key, 'purchase.receive', jsonb_build_array(p_order, p_lines));
BEGIN
    IF v_idem.replay THEN
        RETURN (v_idem.result #>> '{}')::bigint;
    END IF;
    PERFORM stock._check_lock_date(o.company_id, now(), format('receipt of purchase order %s', o.id));
    IF o.state = 'draft' THEN
        RAISE EXCEPTION 'purchase order % is draft: only confirmed orders are received', o.id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Confirm it with purchase.confirm() first.';
    ELSIF o.state <> 'confirmed' THEN
        RAISE EXCEPTION 'purchase order % is %: only confirmed orders are received', o.id, o.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lines IS NOT NULL THEN
        IF jsonb_typeof(p_lines) <> 'array' OR jsonb_array_length(p_lines) = 0 THEN
            RAISE EXCEPTION 'received lines must be a non-empty JSON array' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = 'Lines are [{"product": id, "qty": n}].';
        END IF;
        FOR l IN SELECT * FROM jsonb_array_elements(p_lines) LOOP
            IF jsonb_typeof(l) <> 'object' OR jsonb_typeof(l->'product') IS DISTINCT FROM 'number'
               OR (l->>'product') !~ '^[0-9]{1,18}$' THEN
                RAISE EXCEPTION 'each received line needs a numeric "product"' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM purchase.order_line ol WHERE ol.company_id = o.company_id AND ol.order_id = o.id
                              AND ol.product_id = (l->>'product')::bigint) THEN
                RAISE EXCEPTION 'product % is not on purchase order %', l->>'product', o.id USING ERRCODE = 'invalid_parameter_value';
            END IF;
            v_got := v_got || jsonb_build_object(l->>'product',
                       coalesce((v_got->>(l->>'product'))::numeric, 0) + mrp._positive(l->'qty', 'received quantity'));
        END LOOP;
        FOR r IN SELECT key, value::text::numeric AS qty FROM jsonb_each(v_got) LOOP
            IF r.qty > (SELECT sum(ol.qty) FROM purchase.order_line ol
                         WHERE ol.company_id = o.company_id AND ol.order_id = o.id AND ol.product_id = r.key::bigint) THEN
                RAISE EXCEPTION 'more of product % received than ordered', r.key
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Receive the extra quantity with another order.';
            END IF;
        END LOOP;
    END IF;
    FOR r IN SELECT ol.*, mv.qty AS move_qty FROM purchase.order_line ol
               JOIN stock.move mv ON mv.company_id = ol.company_id AND mv.id = ol.move_id
              WHERE ol.company_id = o.company_id AND ol.order_id = o.id ORDER BY ol.id
    LOOP
        IF p_lines IS NULL THEN
            v_take := r.qty;
        ELSE
            v_take := least(r.qty, coalesce((v_got->>r.product_id::text)::numeric, 0));
            v_got := v_got || jsonb_build_object(r.product_id::text, coalesce((v_got->>r.product_id::text)::numeric, 0) - v_take);
        END IF;
        v_left := r.qty - v_take;
        IF v_left > 0 AND v_back IS NULL THEN
            INSERT INTO purchase.order (company_id, vendor_id, state, date_planned, location_id, backorder_of, confirmed_at)
            VALUES (o.company_id, o.vendor_id, 'confirmed', o.date_planned, o.location_id, o.id, now())
            RETURNING id INTO v_back;
        END IF;
        IF v_take = 0 THEN
            -- nothing arrived: the whole line goes to the backorder
            UPDATE purchase.order_line SET order_id = v_back WHERE company_id = r.company_id AND id = r.id;
            CONTINUE;
        END IF;
        -- a receipt is posted when it happens, not at the planned date
        UPDATE stock.move SET date = now() WHERE company_id = r.company_id AND id = r.move_id;
        v_back_move := stock.validate(r.move_id, CASE WHEN v_left > 0 THEN v_take END);
        IF v_back_move IS NOT NULL THEN
            UPDATE stock.move SET date = o.date_planned WHERE company_id = r.company_id AND id = v_back_move;
        END IF;
        IF v_left > 0 THEN
            UPDATE purchase.order_line SET qty = v_take WHERE company_id = r.company_id AND id = r.id;
            INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price, move_id)
            VALUES (o.company_id, v_back, r.product_id, v_left, r.price, v_back_move);
        END IF;
    END LOOP;
    UPDATE purchase.order SET state = 'done', done_at = now() WHERE company_id = o.company_id AND id = o.id;
    PERFORM stock._idempotency_done(o.company_id, p_idempotency_key, to_jsonb(v_back));
    RETURN v_back;
END $$;
COMMENT ON FUNCTION purchase.receive(bigint, jsonb, text) IS
    'Receive a confirmed order (all, or the given quantities): receipts valued at the line price; the rest goes to a backorder order whose id is returned';

-- ==== bom_cost: one set query per level, custom plans (#16) ====
CREATE OR REPLACE FUNCTION mrp.bom_cost(p_product bigint)
RETURNS TABLE (batch_qty numeric, components_cost numeric, operations_cost numeric, total_cost numeric, unit_cost numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
-- custom plans: a generic plan estimates the costs so far (an array parameter)
-- at 10 rows and joins them by nested loop, a cost quadratic in the tree
SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    p stock.product := mrp._product_with_bom(p_product, 1);
    c erp.company;
    v_nodes bigint[];       -- every product with a BOM in the tree
    v_depths int[];         -- at its deepest level (the product itself: 0)
    v_ids bigint[] := '{}'; -- sub-assemblies costed so far
    v_costs numeric[] := '{}';
    v_level_ids bigint[];
    v_level_qty numeric[];
    v_level_comp numeric[];
    v_level_ops numeric[];
    v_depth int;
BEGIN
    SELECT * INTO c FROM erp.company WHERE id = p.company_id;
    SELECT array_agg(x.product_id), array_agg(x.depth) INTO v_nodes, v_depths
      FROM (SELECT t.product_id, max(t.level) AS depth FROM mrp._tree(p.company_id, p.id, 1, false) t
             WHERE t.has_bom GROUP BY t.product_id
            UNION ALL SELECT p.id, 0) x;
    -- one tree level per statement, deepest first: each sub-assembly is
    -- costed once, before what uses it (costs kept in arrays: no writes, so
    -- this also runs in read-only transactions and on standbys); the last
    -- level (0) is the product itself. Each level is one set query (the
    -- costs so far joined once, not per line).
    FOR v_depth IN SELECT DISTINCT d FROM unnest(v_depths) d ORDER BY 1 DESC LOOP
        WITH lvl AS MATERIALIZED (
                SELECT n.product_id, b.company_id, b.id AS bom_id, b.qty AS bom_qty
                  FROM unnest(v_nodes, v_depths) n(product_id, depth)
                 CROSS JOIN LATERAL mrp._bom_of(p.company_id, n.product_id) b
                 WHERE n.depth = v_depth),
             sub AS MATERIALIZED (SELECT s.id, s.cost FROM unnest(v_ids, v_costs) s(id, cost)),
             comp AS (
                SELECT l.bom_id,
                       sum(stock.round_to(bl.qty * (1 + bl.scrap_pct / 100)
                                          * coalesce(sub.cost, mrp._unit_cost(pr)), c.currency_rounding)) AS comp
                  FROM lvl l
                  JOIN mrp.bom_line bl ON bl.company_id = l.company_id AND bl.bom_id = l.bom_id
                  JOIN stock.product pr ON pr.company_id = bl.company_id AND pr.id = bl.product_id
                  LEFT JOIN sub ON sub.id = bl.product_id
                 GROUP BY l.bom_id),
             ops AS (
                SELECT l.bom_id, sum(stock.round_to(o.minutes / 60 * w.cost_per_hour, c.currency_rounding)) AS ops
                  FROM lvl l
                  JOIN mrp.bom_operation o ON o.company_id = l.company_id AND o.bom_id = l.bom_id
                  JOIN mrp.workcenter w ON w.company_id = o.company_id AND w.id = o.workcenter_id
                 GROUP BY l.bom_id)
        SELECT array_agg(l.product_id), array_agg(l.bom_qty), array_agg(coalesce(cm.comp, 0)), array_agg(coalesce(op.ops, 0))
          INTO v_level_ids, v_level_qty, v_level_comp, v_level_ops
          FROM lvl l LEFT JOIN comp cm ON cm.bom_id = l.bom_id LEFT JOIN ops op ON op.bom_id = l.bom_id;
        v_ids := v_ids || v_level_ids;
        v_costs := v_costs || ARRAY(SELECT (x.comp + x.ops) / x.qty
                                      FROM unnest(v_level_comp, v_level_ops, v_level_qty) x(comp, ops, qty));
    END LOOP;
    -- the product itself was the last level, alone
    batch_qty := v_level_qty[1];
    components_cost := v_level_comp[1];
    operations_cost := v_level_ops[1];
    total_cost := components_cost + operations_cost;
    unit_cost := round(total_cost / batch_qty, c.price_precision);
    RETURN NEXT;
END $$;

-- ==== replen1m (#16) ====
-- mrp.replenish streams its forecasts (sql/mrp/planning.sql): same signature, new body.
-- forecast = on hand + incoming - outgoing up to today + lead days + what
-- draft orders already hold for the rule's product; below min: order up to
-- max(min, max) rounded up to the multiple (mrp._reorder_qty). The forecasts
-- are one streamed statement of hash joins from the rules: on hand, draft
-- purchase lines and draft MOs are each summed once per product and location
-- and joined to the rules (no materialized set of the rules re-read and
-- regrouped per source, which took most of a million rules' run, #16.4);
-- open moves, whose window depends on the rule's lead time, are summed by an
-- index probe only for the products that have some. The best supplier for
-- the quantity is chosen in it, for the rules that order. Bought lines are added
-- per vendor and warehouse in one INSERT each, and only a group that fails is
-- retried rule by rule, each in its own subtransaction, so that one bad rule
-- never stops the others. A run that wrote many lines analyzes them, so that
-- the next run is not planned on statistics that say "empty".
CREATE OR REPLACE FUNCTION mrp.replenish(p_company bigint, p_dry_run boolean DEFAULT false)
RETURNS TABLE (rule_id bigint, product_id bigint, qty_forecast numeric, qty_to_order numeric, order_ref text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET jit = off SET work_mem = '64MB' AS $$
DECLARE
    r record;
    g record;
    y record;
    v_rules bigint[] := '{}';
    v_products bigint[] := '{}';
    v_forecasts numeric[] := '{}';
    v_qtys numeric[] := '{}';
    v_make boolean[] := '{}';
    v_vendors bigint[] := '{}';
    v_prices numeric[] := '{}';
    v_whs bigint[] := '{}';
    v_leads int[] := '{}';
    v_refs text[] := '{}';
    v_po bigint;
    v_mo bigint;
    v_total bigint;
    v_lines bigint := 0;
    v_hashjoin text := pg_catalog.current_setting('enable_hashjoin');
    i int;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stock._require('mrp.reorder_rule:run', p_company);
    PERFORM mrp._lock_planning(p_company, 'replenish');
    SELECT count(*) INTO v_total FROM mrp.reorder_rule x WHERE x.company_id = p_company AND x.active AND x.trigger = 'auto';
    -- the forecast alone is planned without hash joins (see above); what the
    -- run calls afterwards (create_order, create_mo) plans as the caller's
    -- settings say (a SET on the function would apply to them too)
    PERFORM pg_catalog.set_config('enable_hashjoin', 'off', true);
    FOR r IN
        WITH f AS (
            SELECT x.id, x.company_id, x.product_id, x.warehouse_id, x.min_qty, x.max_qty, x.multiple, w.location_id,
                   coalesce(pl.make_or_buy, CASE WHEN bo.type = 'normal' THEN 'make' ELSE 'buy' END) AS make_or_buy,
                   coalesce(pl.lead_days, s.lead_days, 0) AS lead_days,
                   coalesce(a.qty, 0) + coalesce(c.qty, 0) + coalesce(d.qty, 0)
                   + CASE WHEN mp.product_id IS NULL THEN 0 ELSE coalesce((
                         SELECT sum(CASE WHEN m.location_dest_id = w.location_id THEN m.qty ELSE -m.qty END)
                           FROM stock.move m
                          WHERE m.company_id = x.company_id AND m.product_id = x.product_id
                            AND m.state IN ('confirmed', 'assigned')
                            AND (m.location_dest_id = w.location_id OR m.location_id = w.location_id)
                            AND m.date < (current_date + least(coalesce(pl.lead_days, s.lead_days, 0), mrp._max_days()) + 1)::timestamptz), 0) END
                     AS forecast
              FROM mrp.reorder_rule x
              JOIN stock.warehouse w ON w.company_id = x.company_id AND w.id = x.warehouse_id
              LEFT JOIN mrp.planning pl ON pl.company_id = x.company_id AND pl.product_id = x.product_id
              LEFT JOIN (SELECT DISTINCT ON (b.product_id) b.product_id, b.type
                           FROM mrp.bom b WHERE b.company_id = p_company AND b.active
                          ORDER BY b.product_id, b.sequence, b.id) bo ON bo.product_id = x.product_id
              LEFT JOIN (SELECT DISTINCT ON (si.product_id) si.product_id, si.lead_days
                           FROM purchase.supplier_info si
                           JOIN erp.partner v ON v.company_id = si.company_id AND v.id = si.vendor_id AND v.active
                          WHERE si.company_id = p_company AND si.active
                          ORDER BY si.product_id, si.price, si.lead_days, si.id) s ON s.product_id = x.product_id
              LEFT JOIN (SELECT q.product_id, q.location_id, sum(q.quantity) AS qty FROM stock.quant q
                          WHERE q.company_id = p_company GROUP BY q.product_id, q.location_id) a
                ON a.product_id = x.product_id AND a.location_id = w.location_id
              LEFT JOIN (SELECT ol.product_id, po.location_id, sum(ol.qty) AS qty
                           FROM purchase.order_line ol
                           JOIN purchase.order po ON po.company_id = ol.company_id AND po.id = ol.order_id
                          WHERE ol.company_id = p_company AND po.company_id = p_company AND po.state = 'draft'
                          GROUP BY ol.product_id, po.location_id) c
                ON c.product_id = x.product_id AND c.location_id = w.location_id
              LEFT JOIN (SELECT mo.product_id, mo.location_id, sum(mo.qty) AS qty FROM mrp.production mo
                          WHERE mo.company_id = p_company AND mo.state = 'draft' GROUP BY mo.product_id, mo.location_id) d
                ON d.product_id = x.product_id AND d.location_id = w.location_id
              LEFT JOIN (SELECT DISTINCT m.product_id FROM stock.move m
                          WHERE m.company_id = p_company AND m.state IN ('confirmed', 'assigned')) mp ON mp.product_id = x.product_id
             WHERE x.company_id = p_company AND x.active AND x.trigger = 'auto'
            OFFSET 0)  -- each forecast computed once, not once per use
        -- the range check and the filter per rule, the quantity (and the
        -- supplier valid for it) only for the rules that order
        SELECT f.id, f.product_id, f.forecast, f.to_order, f.make_or_buy = 'make' AS make,
               bs.vendor_id, bs.price, f.warehouse_id, f.lead_days, f.in_range
          FROM (SELECT fr.*, CASE WHEN fr.in_range AND fr.forecast < fr.min_qty
                                 THEN mrp._reorder_qty(fr.forecast, fr.min_qty, fr.max_qty, fr.multiple) END AS to_order
                  FROM (SELECT f.*, coalesce(abs(f.forecast) <= mrp._max_qty() AND f.max_qty <= mrp._max_qty()
                                             AND f.min_qty <= mrp._max_qty() AND f.multiple <= mrp._max_qty()
                                             AND f.lead_days <= mrp._max_days(), false) AS in_range
                          FROM f) fr
                 WHERE fr.forecast < fr.min_qty OR NOT fr.in_range
                OFFSET 0) f
          LEFT JOIN LATERAL (SELECT s.vendor_id, s.price FROM purchase.supplier_info s
                               JOIN erp.partner v ON v.company_id = s.company_id AND v.id = s.vendor_id AND v.active
                              WHERE s.company_id = f.company_id AND s.product_id = f.product_id AND s.active
                                AND s.min_qty <= f.to_order
                                AND (erp._is_bootstrap() OR (erp.company_allowed(s.company_id, 'purchase.supplier_info:read')
                                                             AND erp._row_visible('purchase.supplier_info', s.id)))
                              ORDER BY s.price, s.lead_days, s.id LIMIT 1) bs ON true
         WHERE f.to_order > 0 OR NOT f.in_range
         ORDER BY f.id
    LOOP
        IF NOT r.in_range THEN
            r.to_order := NULL;
            IF NOT p_dry_run THEN
                INSERT INTO mrp.run_message (company_id, product_id, kind, detail)
                VALUES (p_company, r.product_id, 'replenish_failed',
                        format('Reorder rule %s: its forecast, minimum, maximum or multiple is beyond %s units, or its lead time beyond %s days (22003).',
                               r.id, mrp._max_qty(), mrp._max_days()));
            END IF;
        END IF;
        v_rules := v_rules || r.id;
        v_products := v_products || r.product_id;
        v_forecasts := v_forecasts || r.forecast;
        v_qtys := v_qtys || r.to_order;
        v_make := v_make || r.make;
        v_vendors := v_vendors || r.vendor_id;
        v_prices := v_prices || r.price;
        v_whs := v_whs || r.warehouse_id;
        v_leads := v_leads || r.lead_days;
        v_refs := v_refs || CASE WHEN r.in_range THEN NULL ELSE 'failed: out of range' END;
    END LOOP;
    PERFORM pg_catalog.set_config('enable_hashjoin', v_hashjoin, true);
    IF erp.current_job_id() IS NOT NULL THEN
        PERFORM erp.job_progress(0.5, format('%s of %s rules need an order', coalesce(array_length(v_rules, 1), 0), v_total));
    END IF;

    IF NOT p_dry_run THEN
        -- bought: one draft order per vendor and warehouse, its lines in one
        -- statement. Each group carries its own arrays: a subscript of a large
        -- numeric array walks it from the start, so the lines never index the
        -- run's arrays (that made 100,000 lines quadratic, #16)
        FOR g IN SELECT x.vendor_id, x.wh, array_agg(x.i ORDER BY x.i) AS idx,
                        array_agg(x.p ORDER BY x.i) AS products, array_agg(x.q ORDER BY x.i) AS qtys,
                        array_agg(x.price ORDER BY x.i) AS prices, max(x.lead) AS lead
                   FROM unnest(v_vendors, v_whs, v_make, v_products, v_qtys, v_prices, v_leads)
                        WITH ORDINALITY x(vendor_id, wh, make, p, q, price, lead, i)
                  WHERE NOT x.make AND x.vendor_id IS NOT NULL GROUP BY x.vendor_id, x.wh
        LOOP
            BEGIN
                v_po := purchase.create_order(g.vendor_id,
                            jsonb_build_array(jsonb_build_object('product', g.products[1], 'qty', g.qtys[1])),
                            NULL, g.wh);
                -- the best line of the best vendor is the best line overall: its price
                INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price)
                SELECT p_company, v_po, x.p, x.q, coalesce(x.price, 0)
                  FROM unnest(g.products[2:], g.qtys[2:], g.prices[2:]) x(p, q, price);
                v_lines := v_lines + array_length(g.idx, 1);
                -- planned when the slowest of its products can arrive
                UPDATE purchase.order SET date_planned = now() + make_interval(days => g.lead)
                 WHERE company_id = p_company AND id = v_po;
                FOREACH i IN ARRAY g.idx LOOP
                    v_refs[i] := 'PO/' || v_po;
                END LOOP;
            EXCEPTION WHEN OTHERS THEN
                -- retry this group rule by rule: the bad ones are reported, the others ordered
                v_po := NULL;
                FOR y IN SELECT x.i, x.p, x.q FROM unnest(g.idx, g.products, g.qtys) x(i, p, q) LOOP
                    BEGIN
                        IF v_po IS NULL THEN
                            v_po := purchase.create_order(g.vendor_id,
                                        jsonb_build_array(jsonb_build_object('product', y.p, 'qty', y.q)), NULL, g.wh);
                        ELSE
                            INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price)
                            VALUES (p_company, v_po, y.p, y.q, (purchase.best_supplier(y.p, y.q, g.vendor_id)).price);
                        END IF;
                        v_refs[y.i] := 'PO/' || v_po;
                    EXCEPTION WHEN OTHERS THEN
                        v_refs[y.i] := 'failed: ' || SQLERRM;
                        INSERT INTO mrp.run_message (company_id, product_id, kind, detail)
                        VALUES (p_company, y.p, 'replenish_failed',
                                format('Reorder rule %s: %s (%s).', v_rules[y.i], SQLERRM, SQLSTATE));
                    END;
                END LOOP;
            END;
        END LOOP;
        -- made, or bought without a valid supplier: rule by rule
        FOR y IN SELECT x.i, x.rule, x.make, x.p, x.q, x.lead, x.wh
                   FROM unnest(v_refs, v_rules, v_make, v_products, v_qtys, v_leads, v_whs)
                        WITH ORDINALITY x(ref, rule, make, p, q, lead, wh, i)
                  WHERE x.ref IS NULL
        LOOP
            BEGIN
                IF y.make THEN
                    v_mo := mrp.create_mo(y.p, y.q, now() + make_interval(days => y.lead), y.wh);
                    v_refs[y.i] := 'MO/' || v_mo;
                ELSE
                    RAISE EXCEPTION 'product % has no active supplier', y.p
                        USING ERRCODE = 'object_not_in_prerequisite_state',
                              DETAIL = format('No active supplier line of an active vendor is valid for %s.', y.q);
                END IF;
            EXCEPTION WHEN OTHERS THEN
                v_refs[y.i] := 'failed: ' || SQLERRM;
                INSERT INTO mrp.run_message (company_id, product_id, kind, detail)
                VALUES (p_company, y.p, 'replenish_failed',
                        format('Reorder rule %s: %s (%s).', y.rule, SQLERRM, SQLSTATE));
            END;
        END LOOP;
    END IF;
    -- what this run wrote counts when the next run is planned (the run
    -- analyzes inside its transaction, so it sees its own rows); SKIP_LOCKED:
    -- a concurrent run of another company never waits for this one
    IF v_lines >= 500 AND v_lines * 10 >= (SELECT greatest(c.reltuples, 0) FROM pg_catalog.pg_class c
                                            WHERE c.oid = 'purchase.order_line'::regclass) THEN
        ANALYZE (SKIP_LOCKED) purchase.order_line, purchase.order;
    END IF;
    RETURN QUERY SELECT x.r, x.p, x.f, x.q, x.ref
                   FROM unnest(v_rules, v_products, v_forecasts, v_qtys, v_refs) x(r, p, f, q, ref);
END $$;
COMMENT ON FUNCTION mrp.replenish(bigint, boolean) IS
    'Apply the company''s automatic reorder rules: draft purchase orders grouped per vendor and warehouse, or MOs; a failing rule is reported and the others go on';

-- ==== replen2: the forecast merge-joins its sources (#16) ====
-- mrp.replenish plans without hash joins (sql/mrp/planning.sql): at a million
-- rules the hash tables of the quants and the supplier lines were most of the
-- forecast's time, and a merge join of the product-ordered sources does not
-- depend on what the statistics say of the draft lines the previous run wrote.
-- (the forecast plans with enable_hashjoin = off, set around it in mrp.replenish's definition, section "replen1m (#16)" above)

-- ==== recost (#15): sql/mrp/recost.sql ====
-- Finished goods re-costed after their components were re-valued by a
-- back-dated move (docs/valuation.md, "Production"). The stock engine calls
-- it (src/mrp/recost.c, through valuation_revalued_hook) with the moves to a
-- production location whose value a replay changed and the differences,
-- signed as the moves' values. For each done manufacturing order that
-- consumed them, as mrp.produce_mo would have costed it with those values:
--   1. its components' value, and the finished move's unit cost
--      (components + operations - by-products) / quantity, except for a
--      standard-cost product (received at its standard price);
--   2. each finished product's history replayed once (stock._recost_product):
--      a correction of the finished move and of every later move it changes,
--      which may in turn re-cost the orders that consumed that product;
--   3. the production variance corrected by what the finished value does not
--      carry (all of it for a standard-cost product), at the production's
--      date, and the order's costs updated.
-- Internal: granted to no one; the pack's SECURITY DEFINER postings call it.
CREATE FUNCTION mrp._recost(p_company bigint, p_cause bigint, p_moves bigint[], p_diffs numeric[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    v_ref text := format('Correction (back-dated move %s)', p_cause);
    v_mos bigint[] := '{}';
    v_old_rest numeric[] := '{}';
    v_products bigint[];
    v_product bigint;
    v_finished numeric;
    v_rest numeric;
BEGIN
    FOR r IN
        WITH d AS (
            SELECT pm.production_id AS mo, sum(u.d) AS d
              FROM unnest(p_moves, p_diffs) u(move, d)
              JOIN mrp.production_move pm ON pm.company_id = p_company AND pm.move_id = u.move
             WHERE pm.role = 'component'
             GROUP BY 1)
        SELECT o.id, o.product_id, o.qty, p.cost_method, f.move_id AS finished_move,
               coalesce(o.components_value, 0) + coalesce(o.operations_cost, 0) - coalesce(o.byproducts_value, 0)
                 - coalesce(o.finished_value, 0) AS old_rest,
               coalesce(o.components_value, 0) - d.d AS components, coalesce(o.operations_cost, 0) AS operations_cost,
               coalesce(o.byproducts_value, 0) AS byproducts_value
          FROM d
          JOIN mrp.production o ON o.company_id = p_company AND o.id = d.mo
          JOIN stock.product p ON p.company_id = o.company_id AND p.id = o.product_id
          JOIN LATERAL (SELECT pm.move_id FROM mrp.production_move pm
                          JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
                         WHERE pm.company_id = o.company_id AND pm.production_id = o.id
                           AND pm.role = 'finished' AND mv.state = 'done') f ON true
         WHERE o.state = 'done'
         ORDER BY o.product_id, o.id
    LOOP
        v_mos := v_mos || r.id;
        v_old_rest := v_old_rest || r.old_rest;
        UPDATE mrp.production SET components_value = r.components WHERE company_id = p_company AND id = r.id;
        IF r.cost_method <> 'standard' THEN
            UPDATE stock.move
               SET unit_cost = greatest(r.components + r.operations_cost - r.byproducts_value, 0) / r.qty
             WHERE company_id = p_company AND id = r.finished_move;
        END IF;
    END LOOP;
    IF cardinality(v_mos) = 0 THEN
        RETURN;
    END IF;

    -- each finished product once, in id order (the order locks are taken in)
    SELECT array_agg(DISTINCT o.product_id ORDER BY o.product_id) INTO v_products
      FROM mrp.production o JOIN stock.product p ON p.company_id = o.company_id AND p.id = o.product_id
     WHERE o.company_id = p_company AND o.id = ANY (v_mos) AND p.cost_method <> 'standard';
    FOREACH v_product IN ARRAY coalesce(v_products, '{}') LOOP
        PERFORM stock._recost_product(p_company, v_product, p_cause);
    END LOOP;

    FOR i IN 1 .. cardinality(v_mos) LOOP
        SELECT o.id, o.qty, o.components_value + coalesce(o.operations_cost, 0) - coalesce(o.byproducts_value, 0) AS cost,
               mv.id AS finished_move, mv.date, mv.value, c.price_precision
          INTO r
          FROM mrp.production o
          JOIN erp.company c ON c.id = o.company_id
          JOIN mrp.production_move pm ON pm.company_id = o.company_id AND pm.production_id = o.id AND pm.role = 'finished'
          JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id AND mv.state = 'done'
         WHERE o.company_id = p_company AND o.id = v_mos[i];
        v_finished := r.value;
        v_rest := r.cost - v_finished;
        PERFORM stock._journal(p_company, r.date, v_ref, r.finished_move, NULL, 'production_variance', 'stock_output',
                               v_rest - v_old_rest[i]);
        UPDATE mrp.production SET finished_value = v_finished, unit_cost = round(v_finished / r.qty, r.price_precision)
         WHERE company_id = p_company AND id = r.id;
    END LOOP;
END $$;

-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA purchase FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA purchase FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
