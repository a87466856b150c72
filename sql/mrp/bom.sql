-- Work centers and bills of materials (docs/manufacturing.md).

-- The planning engine's limits (src/include/pgerp/mrp.h, docs/mrp.md): the
-- largest quantity an input may hold, in units; the deepest bill of
-- materials, in levels below a product; the farthest planning date and the
-- longest lead time, in days from today.
CREATE FUNCTION mrp._max_qty() RETURNS numeric
    LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_mrp_max_qty';
CREATE FUNCTION mrp._max_bom_depth() RETURNS integer
    LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_mrp_max_bom_depth';
CREATE FUNCTION mrp._max_days() RETURNS integer
    LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_mrp_max_days';

-- A quantity the planning engine computes (NULL passes): 22003 beyond
-- mrp._max_qty() units, NaN and infinities included.
CREATE FUNCTION mrp._in_range(p_value numeric, p_what text) RETURNS numeric
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

-- A planning date (NULL passes): finite and within mrp._max_days() of
-- today, else 22008.
CREATE FUNCTION mrp._planning_date(p_date date, p_what text) RETURNS date
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

CREATE FUNCTION mrp._planning_date(p_at timestamptz, p_what text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_at IS NOT NULL AND NOT isfinite(p_at) THEN
        PERFORM mrp._planning_date('infinity'::date, p_what);
    END IF;
    PERFORM mrp._planning_date(p_at::date, p_what);
    RETURN p_at;
END $$;

CREATE TABLE mrp.workcenter (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL CHECK (code ~ '^\S{1,64}$'),
    cost_per_hour numeric NOT NULL CHECK (cost_per_hour >= 0 AND cost_per_hour < 'Infinity'),
    capacity numeric NOT NULL DEFAULT 1 CHECK (capacity > 0 AND capacity < 'Infinity'),
    active boolean NOT NULL DEFAULT true,
    PRIMARY KEY (company_id, id),
    UNIQUE (company_id, code)
);
CREATE INDEX workcenter_id_idx ON mrp.workcenter (id);

CREATE TABLE mrp.bom (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    type text NOT NULL DEFAULT 'normal' CHECK (type IN ('normal', 'phantom')),
    sequence integer NOT NULL DEFAULT 10,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
CREATE INDEX bom_id_idx ON mrp.bom (id);
CREATE INDEX bom_product_idx ON mrp.bom (company_id, product_id, sequence, id) WHERE active;
COMMENT ON TABLE mrp.bom IS 'Bills of materials: qty is the batch made; the first active one by sequence is used';

CREATE TABLE mrp.bom_line (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    bom_id bigint NOT NULL,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    uom text NOT NULL REFERENCES stock.uom (code),
    uom_qty numeric NOT NULL CHECK (uom_qty > 0),
    scrap_pct numeric NOT NULL DEFAULT 0 CHECK (scrap_pct >= 0 AND scrap_pct < 100),
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, bom_id) REFERENCES mrp.bom (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
CREATE INDEX bom_line_bom_idx ON mrp.bom_line (company_id, bom_id);
CREATE INDEX bom_line_product_idx ON mrp.bom_line (company_id, product_id);
COMMENT ON COLUMN mrp.bom_line.qty IS 'Quantity per batch in the component''s own unit (uom_qty in uom as entered)';

CREATE TABLE mrp.bom_byproduct (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    bom_id bigint NOT NULL,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, bom_id) REFERENCES mrp.bom (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
CREATE INDEX bom_byproduct_bom_idx ON mrp.bom_byproduct (company_id, bom_id);

CREATE TABLE mrp.bom_operation (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    bom_id bigint NOT NULL,
    sequence integer NOT NULL,
    name text NOT NULL CHECK (name ~ '\S'),
    workcenter_id bigint NOT NULL,
    minutes numeric NOT NULL CHECK (minutes >= 0 AND minutes < 'Infinity'),
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, bom_id) REFERENCES mrp.bom (company_id, id),
    FOREIGN KEY (company_id, workcenter_id) REFERENCES mrp.workcenter (company_id, id)
);
CREATE INDEX bom_operation_bom_idx ON mrp.bom_operation (company_id, bom_id);
COMMENT ON COLUMN mrp.bom_operation.minutes IS 'Minutes per batch of the BOM';

CREATE FUNCTION mrp.create_workcenter(p_company bigint, p_code text, p_cost_per_hour numeric, p_capacity numeric DEFAULT 1)
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

-- The BOM used for a product: the first active one by sequence, then id.
-- SETOF (of at most one row) so that the planner inlines it into the explosions.
CREATE FUNCTION mrp._bom_of(p_company bigint, p_product bigint) RETURNS SETOF mrp.bom
LANGUAGE sql STABLE ROWS 1 AS $$
    SELECT b.* FROM mrp.bom b
     WHERE b.company_id = p_company AND b.product_id = p_product AND b.active
     ORDER BY b.sequence, b.id LIMIT 1
$$;

-- A component of a JSON line, checked: an existing product of the company.
CREATE FUNCTION mrp._component(p_company bigint, p_line jsonb, p_what text) RETURNS stock.product
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

CREATE FUNCTION mrp._positive(p_value jsonb, p_what text) RETURNS numeric
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

CREATE FUNCTION mrp.create_bom(p_product bigint, p_qty numeric, p_lines jsonb, p_type text DEFAULT 'normal',
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

-- Round a quantity up to a multiple of the unit's rounding.
-- Digits beyond the 12th decimal are division noise (2 / 3 * 3), not need.
CREATE FUNCTION mrp._round_up(p_qty numeric, p_rounding numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ceil(round(p_qty, 12) / p_rounding) * p_rounding
$$;

-- Raised by the explosions when a tree is deeper than mrp._max_bom_depth()
-- (data older than the limit): never a truncated tree.
CREATE FUNCTION mrp._too_deep(p_company bigint, p_product bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION 'the bill of materials of product % is nested too deep',
        (SELECT pr.sku FROM stock.product pr WHERE pr.company_id = p_company AND pr.id = p_product)
        USING ERRCODE = 'statement_too_complex',
              DETAIL = format('Bills of materials are at most %s levels deep.', mrp._max_bom_depth());
END $$;

-- Every node of the tree below p_qty of a product: (level, parent, product,
-- exact quantity, whether the node is a kit, whether it has a BOM). The walk
-- goes one level past the limit, and a node there raises 54001.
CREATE FUNCTION mrp._tree(p_company bigint, p_product bigint, p_qty numeric, p_phantoms_only boolean)
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

CREATE FUNCTION mrp._product_with_bom(p_product bigint, p_qty numeric) RETURNS stock.product
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

CREATE FUNCTION mrp.explode(p_product bigint, p_qty numeric)
RETURNS TABLE (product_id bigint, qty numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := mrp._product_with_bom(p_product, p_qty);
BEGIN
    -- kits are replaced by their components; what is left is consumed
    RETURN QUERY
    SELECT t.product_id, mrp._round_up(sum(t.qty), u.rounding)
      FROM mrp._tree(p.company_id, p.id, p_qty, true) t
      JOIN stock.product pr ON pr.company_id = p.company_id AND pr.id = t.product_id
      JOIN stock.uom u ON u.code = pr.uom
     WHERE NOT t.is_kit
     GROUP BY t.product_id, u.rounding
     ORDER BY t.product_id;
END $$;
COMMENT ON FUNCTION mrp.explode(bigint, numeric) IS
    'Components consumed to make p_qty of a product: kits (phantom BOMs) expanded at any depth, scrap included, each total rounded up to its unit';

CREATE FUNCTION mrp.explode_all(p_product bigint, p_qty numeric)
RETURNS TABLE (level int, parent_id bigint, product_id bigint, qty numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p stock.product := mrp._product_with_bom(p_product, p_qty);
BEGIN
    RETURN QUERY
    SELECT t.level, t.parent_id, t.product_id, mrp._round_up(t.qty, u.rounding)
      FROM mrp._tree(p.company_id, p.id, p_qty, false) t
      JOIN stock.product pr ON pr.company_id = p.company_id AND pr.id = t.product_id
      JOIN stock.uom u ON u.code = pr.uom
     ORDER BY t.level, t.parent_id, t.product_id;
END $$;
COMMENT ON FUNCTION mrp.explode_all(bigint, numeric) IS
    'The whole multi-level tree for p_qty of a product: every sub-assembly and kit expanded; quantities rounded up to their unit';

-- A product's current unit cost: standard price for standard products,
-- else the average of its stock, else its last cost, else its standard price.
CREATE FUNCTION mrp._unit_cost(p stock.product) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.cost_method = 'standard' THEN p.standard_price
                WHEN pv.qty > 0 THEN pv.value / pv.qty
                ELSE coalesce(pv.last_unit_cost, p.standard_price) END
      FROM (SELECT 1) one
      LEFT JOIN stock.product_value pv ON pv.company_id = p.company_id AND pv.product_id = p.id
$$;

CREATE FUNCTION mrp.bom_cost(p_product bigint)
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
COMMENT ON FUNCTION mrp.bom_cost(bigint) IS
    'Cost of one batch of a product''s BOM: components at their unit cost (sub-assemblies rolled up), operations at minutes / 60 x cost per hour; lines rounded to the currency, unit cost to the price precision';

CREATE FUNCTION mrp.update_standard_price(p_product bigint)
RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v numeric := (SELECT x.unit_cost FROM mrp.bom_cost(p_product) x);
BEGIN
    PERFORM stock.set_standard_price(p_product, v);
    RETURN v;
END $$;
COMMENT ON FUNCTION mrp.update_standard_price(bigint) IS
    'Write the rolled-up BOM unit cost as the standard price (a revaluation layer where stock exists); returns it';
