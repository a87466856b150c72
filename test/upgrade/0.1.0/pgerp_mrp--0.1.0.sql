-- pgerp 0.1.0 as released: assembled from extension/pgerp_mrp.manifest, frozen (test/upgrade/README.md)
\echo Use "CREATE EXTENSION pgerp_mrp" to load this file. \quit

-- sql/mrp/schema.sql
-- Extension pgerp_mrp: schemas mrp (from the control file) and purchase.
CREATE SCHEMA purchase;
COMMENT ON SCHEMA mrp IS 'pgerp mrp: bills of materials, manufacturing and planning';
COMMENT ON SCHEMA purchase IS 'pgerp purchase: vendors'' prices and purchase orders';
INSERT INTO erp.app_schema VALUES ('mrp'), ('purchase');

-- sql/mrp/bom.sql
-- Work centers and bills of materials (docs/manufacturing.md).

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
        RAISE EXCEPTION 'invalid work center code %', coalesce(quote_literal(p_code), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'A code is 1 to 64 characters without spaces.';
    END IF;
    IF p_cost_per_hour IS NULL OR NOT (p_cost_per_hour >= 0 AND p_cost_per_hour < 'Infinity') THEN
        RAISE EXCEPTION 'cost per hour must be zero or positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_capacity IS NULL OR NOT (p_capacity > 0 AND p_capacity < 'Infinity') THEN
        RAISE EXCEPTION 'capacity must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM mrp.workcenter w WHERE w.company_id = p_company AND w.code = p_code) THEN
        RAISE EXCEPTION 'work center % already exists in company %', quote_literal(p_code), p_company
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
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', coalesce(p_line::text, 'NULL'));
    END IF;
    v_id := (p_line->>'product')::bigint;
    SELECT * INTO v FROM stock.product p WHERE p.id = v_id;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR erp.company_allowed(v.company_id, 'stock.product:read')) THEN
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
    IF NOT (v > 0 AND v < 'Infinity') THEN
        RAISE EXCEPTION '% must be positive', p_what
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The value given is %s.', v);
    END IF;
    RETURN v;
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
BEGIN
    PERFORM stock._require('mrp.bom:create', p.company_id);
    IF p_qty IS NULL OR NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'bill of materials quantity must be positive'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', coalesce(p_qty::text, 'NULL'));
    END IF;
    IF p_type IS NULL OR p_type NOT IN ('normal', 'phantom') THEN
        RAISE EXCEPTION 'invalid bill of materials type %', coalesce(quote_literal(p_type), 'NULL')
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
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', l->'scrap_pct');
            END IF;
            v_scrap := (l->>'scrap_pct')::numeric;
        END IF;
        v_uom := coalesce(l->>'uom', c.uom);
        IF stock.convert_uom(v_qty, v_uom, c.uom) <= 0 THEN
            RAISE EXCEPTION 'a component quantity rounds to zero in its unit' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('%s %s of %s is %s %s.', v_qty, v_uom, c.sku, stock.convert_uom(v_qty, v_uom, c.uom), c.uom);
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
           OR coalesce(l->>'name', '') !~ '\S' THEN
            RAISE EXCEPTION 'each operation needs a "name" and a numeric "workcenter"'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', l);
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
    'Create a bill of materials (needs mrp.bom:create); refuses cycles at any depth, showing the path';

-- Round a quantity up to a multiple of the unit's rounding.
-- Digits beyond the 12th decimal are division noise (2 / 3 * 3), not need.
CREATE FUNCTION mrp._round_up(p_qty numeric, p_rounding numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ceil(round(p_qty, 12) / p_rounding) * p_rounding
$$;

-- Every node of the tree below p_qty of a product: (level, parent, product,
-- exact quantity, whether the node is a kit, whether it has a BOM).
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
         WHERE t.level < 100 AND (t.is_kit OR (t.has_bom AND NOT p_phantoms_only))
    )
    SELECT t.level, t.parent_id, t.product_id, t.qty, coalesce(t.is_kit, false), t.has_bom FROM t
$$;

CREATE FUNCTION mrp._product_with_bom(p_product bigint, p_qty numeric) RETURNS stock.product
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p stock.product := stock._product(p_product);
BEGIN
    PERFORM stock._require('mrp.bom:read', p.company_id);
    IF p_qty IS NULL OR NOT (p_qty > 0 AND p_qty < 'Infinity') THEN
        RAISE EXCEPTION 'quantity must be positive'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', coalesce(p_qty::text, 'NULL'));
    END IF;
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
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
    -- level (0) is the product itself
    FOR v_depth IN SELECT DISTINCT d FROM unnest(v_depths) d ORDER BY 1 DESC LOOP
        SELECT array_agg(x.product_id), array_agg(x.bom_qty), array_agg(x.comp), array_agg(x.ops)
          INTO v_level_ids, v_level_qty, v_level_comp, v_level_ops
          FROM (SELECT n.product_id, b.qty AS bom_qty,
                       (SELECT coalesce(sum(stock.round_to(bl.qty * (1 + bl.scrap_pct / 100)
                                                           * coalesce(sub.cost, mrp._unit_cost(pr)), c.currency_rounding)), 0)
                          FROM mrp.bom_line bl
                          JOIN stock.product pr ON pr.company_id = bl.company_id AND pr.id = bl.product_id
                          LEFT JOIN unnest(v_ids, v_costs) sub(id, cost) ON sub.id = bl.product_id
                         WHERE bl.company_id = b.company_id AND bl.bom_id = b.id) AS comp,
                       (SELECT coalesce(sum(stock.round_to(o.minutes / 60 * w.cost_per_hour, c.currency_rounding)), 0)
                          FROM mrp.bom_operation o
                          JOIN mrp.workcenter w ON w.company_id = o.company_id AND w.id = o.workcenter_id
                         WHERE o.company_id = b.company_id AND o.bom_id = b.id) AS ops
                  FROM unnest(v_nodes, v_depths) n(product_id, depth)
                  CROSS JOIN LATERAL mrp._bom_of(p.company_id, n.product_id) b
                 WHERE n.depth = v_depth) x;
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

-- sql/mrp/production.sql
-- Manufacturing orders (docs/manufacturing.md): components move stock ->
-- production, the finished product production -> stock, valued through the
-- stock engine; operations absorbed at their work centers' cost.

CREATE TABLE mrp.production (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    bom_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'confirmed', 'done', 'cancelled')),
    due_at timestamptz NOT NULL,
    location_id bigint NOT NULL,
    backorder_of bigint,
    components_value numeric,
    operations_cost numeric,
    byproducts_value numeric,
    finished_value numeric,
    unit_cost numeric,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    done_at timestamptz,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, bom_id) REFERENCES mrp.bom (company_id, id),
    FOREIGN KEY (company_id, location_id) REFERENCES stock.location (company_id, id)
);
CREATE INDEX production_id_idx ON mrp.production (id);
CREATE INDEX production_open_idx ON mrp.production (company_id, product_id) WHERE state IN ('draft', 'confirmed');
COMMENT ON TABLE mrp.production IS 'Manufacturing orders; the *_value columns are filled when produced';

CREATE TABLE mrp.production_move (
    company_id bigint NOT NULL,
    production_id bigint NOT NULL,
    move_id bigint NOT NULL,
    role text NOT NULL CHECK (role IN ('component', 'finished', 'byproduct')),
    PRIMARY KEY (company_id, move_id),
    FOREIGN KEY (company_id, production_id) REFERENCES mrp.production (company_id, id),
    FOREIGN KEY (company_id, move_id) REFERENCES stock.move (company_id, id)
);
CREATE INDEX production_move_mo_idx ON mrp.production_move (company_id, production_id);

CREATE FUNCTION mrp._mo_for_update(p_mo bigint, p_code text) RETURNS mrp.production
LANGUAGE plpgsql AS $$
DECLARE
    v mrp.production;
BEGIN
    SELECT * INTO v FROM mrp.production m WHERE m.id = p_mo FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR erp.company_allowed(v.company_id, 'mrp.production:read')) THEN
        RAISE EXCEPTION 'manufacturing order % does not exist', coalesce(p_mo::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

CREATE FUNCTION mrp.create_mo(p_product bigint, p_qty numeric, p_due timestamptz DEFAULT NULL, p_warehouse bigint DEFAULT NULL)
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
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', coalesce(p_qty::text, 'NULL'));
    END IF;
    IF stock.round_to(p_qty, (SELECT u.rounding FROM stock.uom u WHERE u.code = p.uom)) <= 0 THEN
        RAISE EXCEPTION 'quantity to produce rounds to zero in the product''s unit'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s %s.', p_qty, p.uom);
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

-- Moves of an MO: components stock -> production, finished and by-products
-- production -> stock, confirmed and dated at the due date, so that they are
-- the scheduled requirements and receipts the planner sees.
CREATE FUNCTION mrp.confirm_mo(p_mo bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:write');
    v_prod bigint;
    v_move bigint;
    r record;
    v_ref text;
    v_start timestamptz;
BEGIN
    IF m.state <> 'draft' THEN
        RAISE EXCEPTION 'manufacturing order % is %, not draft', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_prod := stock.virtual_location(m.company_id, 'production');
    v_ref := 'MO/' || m.id;
    -- components are needed when production starts: the due date less the
    -- product's manufacturing lead time (mrp.planning), as MRP releases it
    v_start := m.due_at - make_interval(days => coalesce((SELECT pl.lead_days FROM mrp.planning pl
                                                          WHERE pl.company_id = m.company_id AND pl.product_id = m.product_id), 0));
    FOR r IN SELECT e.product_id, e.qty FROM mrp.explode(m.product_id, m.qty) e LOOP
        v_move := stock.create_move(r.product_id, r.qty, m.location_id, v_prod, NULL, v_start, v_ref);
        PERFORM stock.confirm(v_move);
        INSERT INTO mrp.production_move VALUES (m.company_id, m.id, v_move, 'component');
    END LOOP;
    v_move := stock.create_move(m.product_id, m.qty, v_prod, m.location_id, NULL, m.due_at, v_ref);
    PERFORM stock.confirm(v_move);
    INSERT INTO mrp.production_move VALUES (m.company_id, m.id, v_move, 'finished');
    FOR r IN SELECT bp.product_id, mrp._round_up(bp.qty * m.qty / b.qty, u.rounding) AS qty
               FROM mrp.bom b JOIN mrp.bom_byproduct bp ON bp.company_id = b.company_id AND bp.bom_id = b.id
               JOIN stock.product pr ON pr.company_id = bp.company_id AND pr.id = bp.product_id
               JOIN stock.uom u ON u.code = pr.uom
              WHERE b.company_id = m.company_id AND b.id = m.bom_id
    LOOP
        v_move := stock.create_move(r.product_id, r.qty, v_prod, m.location_id, NULL, m.due_at, v_ref);
        PERFORM stock.confirm(v_move);
        INSERT INTO mrp.production_move VALUES (m.company_id, m.id, v_move, 'byproduct');
    END LOOP;
    UPDATE mrp.production SET state = 'confirmed' WHERE company_id = m.company_id AND id = m.id;
END $$;
COMMENT ON FUNCTION mrp.confirm_mo(bigint) IS
    'Confirm a draft MO: component, finished and by-product moves, confirmed at the due date (needs mrp.production:write)';

CREATE FUNCTION mrp.reserve_mo(p_mo bigint)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:write');
    r record;
    v_full int := 0;
    v_some int := 0;
    v_n int := 0;
BEGIN
    IF m.state <> 'confirmed' THEN
        RAISE EXCEPTION 'manufacturing order % is %: only confirmed orders are reserved', m.id, m.state
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT mv.id, mv.qty FROM mrp.production_move pm
               JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
              WHERE pm.company_id = m.company_id AND pm.production_id = m.id AND pm.role = 'component'
                AND mv.state IN ('confirmed', 'assigned')
              ORDER BY mv.product_id, mv.id
    LOOP
        v_n := v_n + 1;
        IF stock.reserve(r.id) >= r.qty THEN
            v_full := v_full + 1;
        END IF;
        IF (SELECT mv.reserved_qty FROM stock.move mv WHERE mv.company_id = m.company_id AND mv.id = r.id) > 0 THEN
            v_some := v_some + 1;
        END IF;
    END LOOP;
    RETURN CASE WHEN v_full = v_n THEN 'ready' WHEN v_some > 0 THEN 'partial' ELSE 'waiting' END;
END $$;
COMMENT ON FUNCTION mrp.reserve_mo(bigint) IS
    'Reserve the components of a confirmed MO: ready (all reserved), partial or waiting';

CREATE FUNCTION mrp.produce_mo(p_mo bigint, p_qty numeric DEFAULT NULL)
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
BEGIN
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
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The quantity given is %s.', v_qty);
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
    RETURN v_back;
END $$;
COMMENT ON FUNCTION mrp.produce_mo(bigint, numeric) IS
    'Produce (part of) a confirmed MO: consume components, receive the product at (components + operations - by-products) / qty; returns the backorder MO of a partial production (needs mrp.production:produce)';

CREATE FUNCTION mrp.cancel_mo(p_mo bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m mrp.production := mrp._mo_for_update(p_mo, 'mrp.production:write');
    r record;
BEGIN
    IF m.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'manufacturing order % is already %', m.id, m.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT mv.id FROM mrp.production_move pm
               JOIN stock.move mv ON mv.company_id = pm.company_id AND mv.id = pm.move_id
              WHERE pm.company_id = m.company_id AND pm.production_id = m.id AND mv.state NOT IN ('done', 'cancelled')
              ORDER BY mv.id
    LOOP
        PERFORM stock.cancel(r.id);
    END LOOP;
    UPDATE mrp.production SET state = 'cancelled' WHERE company_id = m.company_id AND id = m.id;
END $$;
COMMENT ON FUNCTION mrp.cancel_mo(bigint) IS 'Cancel a draft or confirmed MO and its moves, releasing reservations';

-- sql/purchase/order.sql
-- Vendors' prices and purchase orders (docs/purchasing.md): receipts are
-- stock moves supplier -> stock valued at the order line price.

CREATE TABLE purchase.supplier_info (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    vendor_id bigint NOT NULL,
    price numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity'),
    lead_days integer NOT NULL CHECK (lead_days >= 0),
    min_qty numeric NOT NULL DEFAULT 0 CHECK (min_qty >= 0 AND min_qty < 'Infinity'),
    active boolean NOT NULL DEFAULT true,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, vendor_id) REFERENCES erp.partner (company_id, id)
);
CREATE INDEX supplier_info_product_idx ON purchase.supplier_info (company_id, product_id) WHERE active;
COMMENT ON TABLE purchase.supplier_info IS 'Vendor prices per product: price per product unit, lead time in days, minimum quantity';

CREATE TABLE purchase.order (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    vendor_id bigint NOT NULL,
    state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'confirmed', 'done', 'cancelled')),
    date_planned timestamptz NOT NULL,
    location_id bigint NOT NULL,
    backorder_of bigint,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    confirmed_at timestamptz,
    done_at timestamptz,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, vendor_id) REFERENCES erp.partner (company_id, id),
    FOREIGN KEY (company_id, location_id) REFERENCES stock.location (company_id, id)
);
CREATE INDEX order_id_idx ON purchase.order (id);

CREATE TABLE purchase.order_line (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    order_id bigint NOT NULL,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    price numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity'),
    move_id bigint,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, order_id) REFERENCES purchase.order (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, move_id) REFERENCES stock.move (company_id, id)
);
CREATE INDEX order_line_order_idx ON purchase.order_line (company_id, order_id);
CREATE INDEX order_line_product_idx ON purchase.order_line (company_id, product_id);

-- A vendor of the company: an existing partner of kind vendor or both.
CREATE FUNCTION purchase._vendor(p_company bigint, p_vendor bigint) RETURNS erp.partner
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v erp.partner;
BEGIN
    SELECT * INTO v FROM erp.partner pa WHERE pa.id = p_vendor;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR erp.company_allowed(v.company_id, 'erp.partner:read')) THEN
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

CREATE FUNCTION purchase.add_supplier(p_product bigint, p_vendor bigint, p_price numeric, p_lead_days integer,
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

-- The supplier for a quantity: valid (minimum quantity reached), cheapest,
-- then shortest lead time, then oldest; optionally of one vendor.
CREATE FUNCTION purchase.best_supplier(p_product bigint, p_qty numeric, p_vendor bigint DEFAULT NULL)
RETURNS purchase.supplier_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.* FROM purchase.supplier_info s
      JOIN stock.product p ON p.company_id = s.company_id AND p.id = s.product_id
      JOIN erp.partner v ON v.company_id = s.company_id AND v.id = s.vendor_id AND v.active
     WHERE s.product_id = p_product AND s.active AND s.min_qty <= p_qty
       AND (p_vendor IS NULL OR s.vendor_id = p_vendor)
       AND (erp._is_bootstrap() OR erp.company_allowed(s.company_id, 'purchase.supplier_info:read'))
     ORDER BY s.price, s.lead_days, s.id
     LIMIT 1
$$;
COMMENT ON FUNCTION purchase.best_supplier(bigint, numeric, bigint) IS
    'The cheapest valid supplier line for the quantity (then the shortest lead time); NULL when none';

CREATE FUNCTION purchase._order_for_update(p_order bigint, p_code text) RETURNS purchase.order
LANGUAGE plpgsql AS $$
DECLARE
    v purchase.order;
BEGIN
    SELECT * INTO v FROM purchase.order o WHERE o.id = p_order FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR erp.company_allowed(v.company_id, 'purchase.order:read')) THEN
        RAISE EXCEPTION 'purchase order % does not exist', coalesce(p_order::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require(p_code, v.company_id);
    RETURN v;
END $$;

-- Where receipts go: the given warehouse of the company, or its only one.
CREATE FUNCTION purchase._warehouse(p_company bigint, p_warehouse bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint;
    n int;
BEGIN
    SELECT count(*), min(w.location_id) INTO n, v FROM stock.warehouse w
     WHERE w.company_id = p_company AND (p_warehouse IS NULL OR w.id = p_warehouse);
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

CREATE FUNCTION purchase.create_order(p_vendor bigint, p_lines jsonb, p_date_planned timestamptz DEFAULT NULL,
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
    INSERT INTO purchase.order (company_id, vendor_id, date_planned, location_id)
    VALUES (v.company_id, v.id, coalesce(p_date_planned, now()), purchase._warehouse(v.company_id, p_warehouse))
    RETURNING id INTO v_order;
    FOR l IN SELECT * FROM jsonb_array_elements(p_lines) LOOP
        pr := mrp._component(v.company_id, l, 'order line');
        v_qty := mrp._positive(l->'qty', 'quantity');
        IF l ? 'price' AND jsonb_typeof(l->'price') <> 'null' THEN
            IF jsonb_typeof(l->'price') <> 'number' OR NOT ((l->>'price')::numeric >= 0 AND (l->>'price')::numeric < 'Infinity') THEN
                RAISE EXCEPTION 'price must be zero or positive' USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = format('Got %s.', l->'price');
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

CREATE FUNCTION purchase.confirm(p_order bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o purchase.order := purchase._order_for_update(p_order, 'purchase.order:write');
    r record;
    v_move bigint;
BEGIN
    IF o.state <> 'draft' THEN
        RAISE EXCEPTION 'purchase order % is %, not draft', o.id, o.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT * FROM purchase.order_line ol WHERE ol.company_id = o.company_id AND ol.order_id = o.id ORDER BY ol.id LOOP
        v_move := stock.create_move(r.product_id, r.qty, stock.virtual_location(o.company_id, 'supplier'), o.location_id,
                                    r.price, o.date_planned, 'PO/' || o.id);
        PERFORM stock.confirm(v_move);
        UPDATE purchase.order_line SET move_id = v_move WHERE company_id = r.company_id AND id = r.id;
    END LOOP;
    UPDATE purchase.order SET state = 'confirmed', confirmed_at = now() WHERE company_id = o.company_id AND id = o.id;
END $$;
COMMENT ON FUNCTION purchase.confirm(bigint) IS
    'Confirm a draft order: one incoming move per line, supplier -> stock at the planned date (needs purchase.order:write)';

-- Receive what arrived: p_lines [{"product": id, "qty": n}] (all when NULL).
-- What is not received moves, with its moves, to a backorder order, whose id
-- is returned.
CREATE FUNCTION purchase.receive(p_order bigint, p_lines jsonb DEFAULT NULL)
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
BEGIN
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
    RETURN v_back;
END $$;
COMMENT ON FUNCTION purchase.receive(bigint, jsonb) IS
    'Receive a confirmed order (all, or the given quantities): receipts valued at the line price; the rest goes to a backorder order whose id is returned';

CREATE FUNCTION purchase.cancel(p_order bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o purchase.order := purchase._order_for_update(p_order, 'purchase.order:write');
    r record;
BEGIN
    IF o.state IN ('done', 'cancelled') THEN
        RAISE EXCEPTION 'purchase order % is already %', o.id, o.state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT ol.move_id FROM purchase.order_line ol
               JOIN stock.move mv ON mv.company_id = ol.company_id AND mv.id = ol.move_id
              WHERE ol.company_id = o.company_id AND ol.order_id = o.id AND mv.state NOT IN ('done', 'cancelled')
    LOOP
        PERFORM stock.cancel(r.move_id);
    END LOOP;
    UPDATE purchase.order SET state = 'cancelled' WHERE company_id = o.company_id AND id = o.id;
END $$;
COMMENT ON FUNCTION purchase.cancel(bigint) IS 'Cancel a draft or confirmed order and its moves';

-- sql/mrp/planning.sql
-- Time-phased MRP (src/mrp/, docs/mrp.md) and min/max replenishment
-- (docs/replenishment.md), both runnable as jobs.

CREATE TABLE mrp.planning (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    make_or_buy text NOT NULL CHECK (make_or_buy IN ('make', 'buy')),
    lead_days integer CHECK (lead_days >= 0),
    lot_rule text NOT NULL DEFAULT 'l4l' CHECK (lot_rule IN ('l4l', 'fixed')),
    lot_qty numeric CHECK (lot_qty > 0 AND lot_qty < 'Infinity'),
    safety_stock numeric NOT NULL DEFAULT 0 CHECK (safety_stock >= 0 AND safety_stock < 'Infinity'),
    min_order numeric NOT NULL DEFAULT 0 CHECK (min_order >= 0 AND min_order < 'Infinity'),
    multiple numeric CHECK (multiple > 0 AND multiple < 'Infinity'),
    PRIMARY KEY (company_id, product_id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    CHECK (lot_rule <> 'fixed' OR lot_qty IS NOT NULL)
);
COMMENT ON TABLE mrp.planning IS
    'Planning data per product: make or buy, lead time (NULL: the supplier''s for bought items, 0 for made ones), lot rule, safety stock';

CREATE TABLE mrp.demand (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0 AND qty < 'Infinity'),
    due date NOT NULL,
    ref text,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
CREATE INDEX demand_product_idx ON mrp.demand (company_id, product_id, due);

CREATE TABLE mrp.mrp_run (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    start_date date NOT NULL,
    bucket text NOT NULL CHECK (bucket IN ('day', 'week')),
    horizon integer NOT NULL CHECK (horizon BETWEEN 1 AND 3660),
    warehouse_id bigint,
    started_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at timestamptz,
    planned_orders integer,
    PRIMARY KEY (company_id, id)
);
CREATE UNIQUE INDEX mrp_run_id_idx ON mrp.mrp_run (id);

CREATE TABLE mrp.planned_order (
    company_id bigint NOT NULL,
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    run_id bigint NOT NULL,
    product_id bigint NOT NULL,
    qty numeric NOT NULL CHECK (qty > 0),
    release_date date NOT NULL,
    due_date date NOT NULL,
    kind text NOT NULL CHECK (kind IN ('make', 'buy')),
    past_due boolean NOT NULL DEFAULT false,
    vendor_id bigint,
    firmed_ref text,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, run_id) REFERENCES mrp.mrp_run (company_id, id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
CREATE INDEX planned_order_run_idx ON mrp.planned_order (company_id, run_id);
CREATE INDEX planned_order_id_idx ON mrp.planned_order (id);
COMMENT ON COLUMN mrp.planned_order.firmed_ref IS 'PO/<id> or MO/<id> once firmed; firmed orders survive later runs';

CREATE TABLE mrp.plan_record (
    company_id bigint NOT NULL,
    run_id bigint NOT NULL,
    product_id bigint NOT NULL,
    bucket integer NOT NULL,
    bucket_start date NOT NULL,
    gross numeric NOT NULL,
    scheduled numeric NOT NULL,
    projected numeric NOT NULL,
    net numeric NOT NULL,
    planned_receipt numeric NOT NULL,
    planned_release numeric NOT NULL,
    PRIMARY KEY (company_id, run_id, product_id, bucket)
);
COMMENT ON TABLE mrp.plan_record IS 'The MRP table: one row per item and bucket (1-based) where something happens';

CREATE TABLE mrp.pegging (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    run_id bigint NOT NULL,
    planned_order_id bigint NOT NULL,
    demand_ref text NOT NULL,
    qty numeric NOT NULL,
    PRIMARY KEY (company_id, id)
);
CREATE INDEX pegging_order_idx ON mrp.pegging (company_id, planned_order_id);

CREATE TABLE mrp.run_message (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    run_id bigint,
    product_id bigint,
    kind text NOT NULL CHECK (kind IN ('past_due', 'no_bom', 'no_supplier', 'expedite', 'cancel', 'replenish_failed')),
    detail text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id)
);
CREATE INDEX run_message_run_idx ON mrp.run_message (company_id, run_id);

CREATE FUNCTION mrp._run_compute(p_run bigint) RETURNS integer
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_mrp_run_compute';
CREATE FUNCTION mrp._reorder_qty(p_forecast numeric, p_min numeric, p_max numeric, p_multiple numeric) RETURNS numeric
    LANGUAGE C IMMUTABLE AS 'MODULE_PATHNAME', 'pgerp_mrp_reorder_qty';

CREATE FUNCTION mrp.set_planning(p_product bigint, p_make_or_buy text, p_lead_days integer DEFAULT NULL,
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
        RAISE EXCEPTION 'invalid procurement %', coalesce(quote_literal(p_make_or_buy), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'A product is made or bought.';
    END IF;
    IF p_lead_days < 0 THEN
        RAISE EXCEPTION 'lead time must be zero or more days' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lot_rule IS NULL OR p_lot_rule NOT IN ('l4l', 'fixed') THEN
        RAISE EXCEPTION 'invalid lot rule %', coalesce(quote_literal(p_lot_rule), 'NULL')
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
    INSERT INTO mrp.planning (company_id, product_id, make_or_buy, lead_days, lot_rule, lot_qty, safety_stock, min_order, multiple)
    VALUES (p.company_id, p.id, p_make_or_buy, p_lead_days, p_lot_rule, p_lot_qty, p_safety_stock, p_min_order, p_multiple)
    ON CONFLICT (company_id, product_id) DO UPDATE
       SET make_or_buy = excluded.make_or_buy, lead_days = excluded.lead_days, lot_rule = excluded.lot_rule,
           lot_qty = excluded.lot_qty, safety_stock = excluded.safety_stock, min_order = excluded.min_order,
           multiple = excluded.multiple;
END $$;
COMMENT ON FUNCTION mrp.set_planning(bigint, text, integer, text, numeric, numeric, numeric, numeric) IS
    'Planning data of a product (needs mrp.planning:write); the buy lead time defaults to the chosen supplier''s';

CREATE FUNCTION mrp.add_demand(p_product bigint, p_qty numeric, p_due date, p_ref text DEFAULT NULL)
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
    INSERT INTO mrp.demand (company_id, product_id, qty, due, ref) VALUES (p.company_id, p.id, p_qty, p_due, p_ref)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION mrp.add_demand(bigint, numeric, date, text) IS
    'Independent demand (forecast, sales) for the planner (needs mrp.demand:create)';

CREATE FUNCTION mrp.run(p_company bigint, p_start date DEFAULT current_date, p_bucket text DEFAULT 'day',
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
    IF p_bucket IS NULL OR p_bucket NOT IN ('day', 'week') THEN
        RAISE EXCEPTION 'invalid bucket %', coalesce(quote_literal(p_bucket), 'NULL')
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
    PERFORM pg_advisory_xact_lock(hashtext('pgerp mrp.run'), p_company::int);
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

-- A planned order made real: a draft purchase order (grouped per vendor and
-- date with the other buy orders firmed from the same run) or a confirmed MO.
CREATE FUNCTION mrp.firm(p_planned_order bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o mrp.planned_order;
    v_id bigint;
    v_ref text;
    v_wh bigint;
BEGIN
    SELECT * INTO o FROM mrp.planned_order po WHERE po.id = p_planned_order FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR erp.company_allowed(o.company_id, 'mrp.planned_order:read')) THEN
        RAISE EXCEPTION 'planned order % does not exist', coalesce(p_planned_order::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stock._require('mrp.planned_order:firm', o.company_id);
    IF o.firmed_ref IS NOT NULL THEN
        RAISE EXCEPTION 'planned order % is already firmed as %', o.id, o.firmed_ref
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT r.warehouse_id INTO v_wh FROM mrp.mrp_run r WHERE r.company_id = o.company_id AND r.id = o.run_id;
    IF o.kind = 'make' THEN
        v_id := mrp.create_mo(o.product_id, o.qty, o.due_date::timestamptz, v_wh);
        PERFORM mrp.confirm_mo(v_id);
        v_ref := 'MO/' || v_id;
    ELSE
        -- the supplier valid for this quantity (a minimum quantity may rule out the planned one)
        o.vendor_id := coalesce((purchase.best_supplier(o.product_id, o.qty)).vendor_id, o.vendor_id);
        IF o.vendor_id IS NULL THEN
            RAISE EXCEPTION 'planned order % has no vendor', o.id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Add a supplier with purchase.add_supplier() and run MRP again.';
        END IF;
        -- the draft order of this vendor and date firmed from the same run, if any
        SELECT po.id INTO v_id FROM purchase.order po
         WHERE po.company_id = o.company_id AND po.vendor_id = o.vendor_id AND po.state = 'draft'
           AND po.date_planned = o.due_date::timestamptz
           AND EXISTS (SELECT 1 FROM mrp.planned_order x WHERE x.company_id = o.company_id AND x.run_id = o.run_id
                          AND x.firmed_ref = 'PO/' || po.id)
         ORDER BY po.id LIMIT 1 FOR UPDATE;
        IF v_id IS NULL THEN
            v_id := purchase.create_order(o.vendor_id, jsonb_build_array(jsonb_build_object('product', o.product_id, 'qty', o.qty)),
                                          o.due_date::timestamptz, v_wh);
        ELSE
            INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price)
            VALUES (o.company_id, v_id, o.product_id, o.qty,
                    coalesce((purchase.best_supplier(o.product_id, o.qty, o.vendor_id)).price, 0));
        END IF;
        v_ref := 'PO/' || v_id;
    END IF;
    UPDATE mrp.planned_order SET firmed_ref = v_ref WHERE company_id = o.company_id AND id = o.id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION mrp.firm(bigint) IS
    'Turn a planned order into a draft purchase order (grouped per vendor and date) or a confirmed MO; returns its id';

-- Odoo's reorder rules.
CREATE TABLE mrp.reorder_rule (
    company_id bigint NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    product_id bigint NOT NULL,
    warehouse_id bigint NOT NULL,
    min_qty numeric NOT NULL CHECK (min_qty >= 0 AND min_qty < 'Infinity'),
    max_qty numeric NOT NULL CHECK (max_qty >= 0 AND max_qty < 'Infinity'),
    multiple numeric NOT NULL DEFAULT 1 CHECK (multiple > 0 AND multiple < 'Infinity'),
    trigger text NOT NULL DEFAULT 'auto' CHECK (trigger IN ('auto', 'manual')),
    active boolean NOT NULL DEFAULT true,
    PRIMARY KEY (company_id, id),
    UNIQUE (company_id, product_id, warehouse_id),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id),
    FOREIGN KEY (company_id, warehouse_id) REFERENCES stock.warehouse (company_id, id)
);

CREATE FUNCTION mrp.add_reorder_rule(p_product bigint, p_warehouse bigint, p_min numeric, p_max numeric,
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
    IF p_max < p_min THEN
        RAISE EXCEPTION 'maximum % is below minimum %', p_max, p_min USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_multiple IS NULL OR NOT (p_multiple > 0 AND p_multiple < 'Infinity') THEN
        RAISE EXCEPTION 'multiple must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_trigger IS NULL OR p_trigger NOT IN ('auto', 'manual') THEN
        RAISE EXCEPTION 'invalid trigger %', coalesce(quote_literal(p_trigger), 'NULL')
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

-- forecast = on hand + incoming - outgoing up to today + lead days + what
-- draft orders already hold for the rule's product; below min: order up to
-- max(min, max) rounded up to the multiple (mrp._reorder_qty). The forecasts
-- are one statement; bought lines are added per vendor and warehouse in one
-- INSERT each, and only a group that fails is retried rule by rule, each in
-- its own subtransaction, so that one bad rule never stops the others.
CREATE FUNCTION mrp.replenish(p_company bigint, p_dry_run boolean DEFAULT false)
RETURNS TABLE (rule_id bigint, product_id bigint, qty_forecast numeric, qty_to_order numeric, order_ref text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    g record;
    v_rules bigint[] := '{}';
    v_products bigint[] := '{}';
    v_forecasts numeric[] := '{}';
    v_qtys numeric[] := '{}';
    v_make boolean[] := '{}';
    v_vendors bigint[] := '{}';
    v_whs bigint[] := '{}';
    v_leads int[] := '{}';
    v_refs text[] := '{}';
    v_po bigint;
    v_mo bigint;
    v_total bigint;
    i int;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stock._require('mrp.reorder_rule:run', p_company);
    PERFORM pg_advisory_xact_lock(hashtext('pgerp mrp.replenish'), p_company::int);
    SELECT count(*) INTO v_total FROM mrp.reorder_rule x WHERE x.company_id = p_company AND x.active AND x.trigger = 'auto';
    FOR r IN
        WITH rules AS (
            SELECT x.*, w.location_id,
                   coalesce(pl.make_or_buy, CASE WHEN EXISTS (SELECT 1 FROM mrp._bom_of(x.company_id, x.product_id) b WHERE b.type = 'normal')
                                                 THEN 'make' ELSE 'buy' END) AS make_or_buy,
                   coalesce(pl.lead_days, s.lead_days, 0) AS lead_days
              FROM mrp.reorder_rule x
              JOIN stock.warehouse w ON w.company_id = x.company_id AND w.id = x.warehouse_id
              LEFT JOIN mrp.planning pl ON pl.company_id = x.company_id AND pl.product_id = x.product_id
              LEFT JOIN LATERAL (SELECT si.lead_days FROM purchase.supplier_info si
                                   JOIN erp.partner v ON v.company_id = si.company_id AND v.id = si.vendor_id AND v.active
                                  WHERE si.company_id = x.company_id AND si.product_id = x.product_id AND si.active
                                  ORDER BY si.price, si.lead_days, si.id LIMIT 1) s ON true
             WHERE x.company_id = p_company AND x.active AND x.trigger = 'auto'),
        f AS (
            SELECT ru.*,
                   coalesce((SELECT sum(q.quantity) FROM stock.quant q
                              WHERE q.company_id = ru.company_id AND q.product_id = ru.product_id AND q.location_id = ru.location_id), 0)
                 + coalesce((SELECT sum(CASE WHEN m.location_dest_id = ru.location_id THEN m.qty ELSE -m.qty END)
                               FROM stock.move m
                              WHERE m.company_id = ru.company_id AND m.product_id = ru.product_id
                                AND m.state IN ('confirmed', 'assigned')
                                AND (m.location_dest_id = ru.location_id OR m.location_id = ru.location_id)
                                AND m.date < (current_date + ru.lead_days + 1)::timestamptz), 0)
                 + coalesce((SELECT sum(ol.qty) FROM purchase.order_line ol
                               JOIN purchase.order po ON po.company_id = ol.company_id AND po.id = ol.order_id
                              WHERE ol.company_id = ru.company_id AND ol.product_id = ru.product_id
                                AND po.state = 'draft' AND po.location_id = ru.location_id), 0)
                 + coalesce((SELECT sum(mo.qty) FROM mrp.production mo
                              WHERE mo.company_id = ru.company_id AND mo.product_id = ru.product_id
                                AND mo.state = 'draft' AND mo.location_id = ru.location_id), 0) AS forecast
              FROM rules ru)
        SELECT f.id, f.product_id, f.forecast, q.to_order, f.make_or_buy = 'make' AS make,
               -- the supplier valid for the quantity: cheapest, then fastest
               (purchase.best_supplier(f.product_id, q.to_order)).vendor_id AS vendor_id, f.warehouse_id, f.lead_days
          FROM f CROSS JOIN LATERAL (SELECT mrp._reorder_qty(f.forecast, f.min_qty, f.max_qty, f.multiple) AS to_order) q
         WHERE q.to_order > 0
         ORDER BY f.id
    LOOP
        v_rules := v_rules || r.id;
        v_products := v_products || r.product_id;
        v_forecasts := v_forecasts || r.forecast;
        v_qtys := v_qtys || r.to_order;
        v_make := v_make || r.make;
        v_vendors := v_vendors || r.vendor_id;
        v_whs := v_whs || r.warehouse_id;
        v_leads := v_leads || r.lead_days;
        v_refs := v_refs || NULL::text;
    END LOOP;
    IF erp.current_job_id() IS NOT NULL THEN
        PERFORM erp.job_progress(0.5, format('%s of %s rules need an order', coalesce(array_length(v_rules, 1), 0), v_total));
    END IF;

    IF NOT p_dry_run THEN
        -- bought: one draft order per vendor and warehouse, its lines in one statement
        FOR g IN SELECT x.vendor_id, x.wh, array_agg(x.i ORDER BY x.i) AS idx
                   FROM unnest(v_vendors, v_whs, v_make) WITH ORDINALITY x(vendor_id, wh, make, i)
                  WHERE NOT x.make AND x.vendor_id IS NOT NULL GROUP BY x.vendor_id, x.wh
        LOOP
            BEGIN
                v_po := purchase.create_order(g.vendor_id,
                            jsonb_build_array(jsonb_build_object('product', v_products[g.idx[1]], 'qty', v_qtys[g.idx[1]])),
                            NULL, g.wh);
                INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price)
                SELECT p_company, v_po, v_products[k], v_qtys[k],
                       coalesce((purchase.best_supplier(v_products[k], v_qtys[k], g.vendor_id)).price, 0)
                  FROM unnest(g.idx[2:]) k;
                -- planned when the slowest of its products can arrive
                UPDATE purchase.order SET date_planned = now() + make_interval(days => (SELECT max(v_leads[k]) FROM unnest(g.idx) k))
                 WHERE company_id = p_company AND id = v_po;
                FOREACH i IN ARRAY g.idx LOOP
                    v_refs[i] := 'PO/' || v_po;
                END LOOP;
            EXCEPTION WHEN OTHERS THEN
                -- retry this group rule by rule: the bad ones are reported, the others ordered
                v_po := NULL;
                FOREACH i IN ARRAY g.idx LOOP
                    BEGIN
                        IF v_po IS NULL THEN
                            v_po := purchase.create_order(g.vendor_id,
                                        jsonb_build_array(jsonb_build_object('product', v_products[i], 'qty', v_qtys[i])), NULL, g.wh);
                        ELSE
                            INSERT INTO purchase.order_line (company_id, order_id, product_id, qty, price)
                            VALUES (p_company, v_po, v_products[i], v_qtys[i],
                                    (purchase.best_supplier(v_products[i], v_qtys[i], g.vendor_id)).price);
                        END IF;
                        v_refs[i] := 'PO/' || v_po;
                    EXCEPTION WHEN OTHERS THEN
                        v_refs[i] := 'failed: ' || SQLERRM;
                        INSERT INTO mrp.run_message (company_id, product_id, kind, detail)
                        VALUES (p_company, v_products[i], 'replenish_failed',
                                format('Reorder rule %s: %s (%s).', v_rules[i], SQLERRM, SQLSTATE));
                    END;
                END LOOP;
            END;
        END LOOP;
        -- made, or bought without a valid supplier: rule by rule
        FOR i IN 1 .. coalesce(array_length(v_rules, 1), 0) LOOP
            CONTINUE WHEN v_refs[i] IS NOT NULL;
            BEGIN
                IF v_make[i] THEN
                    v_mo := mrp.create_mo(v_products[i], v_qtys[i], now() + make_interval(days => v_leads[i]), v_whs[i]);
                    v_refs[i] := 'MO/' || v_mo;
                ELSE
                    RAISE EXCEPTION 'product % has no active supplier', v_products[i]
                        USING ERRCODE = 'object_not_in_prerequisite_state',
                              DETAIL = format('No active supplier line of an active vendor is valid for %s.', v_qtys[i]);
                END IF;
            EXCEPTION WHEN OTHERS THEN
                v_refs[i] := 'failed: ' || SQLERRM;
                INSERT INTO mrp.run_message (company_id, product_id, kind, detail)
                VALUES (p_company, v_products[i], 'replenish_failed',
                        format('Reorder rule %s: %s (%s).', v_rules[i], SQLERRM, SQLSTATE));
            END;
        END LOOP;
    END IF;
    RETURN QUERY SELECT x.r, x.p, x.f, x.q, x.ref
                   FROM unnest(v_rules, v_products, v_forecasts, v_qtys, v_refs) x(r, p, f, q, ref);
END $$;
COMMENT ON FUNCTION mrp.replenish(bigint, boolean) IS
    'Apply the company''s automatic reorder rules: draft purchase orders grouped per vendor and warehouse, or MOs; a failing rule is reported and the others go on';

-- Job kinds: {"company": id, "start": "2026-12-01", "bucket": "week", "horizon": 52, "warehouse": id}
CREATE FUNCTION mrp.run_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_run bigint := mrp.run((p_args->>'company')::bigint, coalesce((p_args->>'start')::date, current_date),
                            coalesce(p_args->>'bucket', 'day'), coalesce((p_args->>'horizon')::int, 90),
                            (p_args->>'warehouse')::bigint);
BEGIN
    RETURN jsonb_build_object('run', v_run, 'planned_orders',
                              (SELECT r.planned_orders FROM mrp.mrp_run r WHERE r.id = v_run));
END $$;

CREATE FUNCTION mrp.replenish_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_n bigint;
    v_failed bigint;
BEGIN
    SELECT count(*), count(*) FILTER (WHERE x.order_ref LIKE 'failed:%') INTO v_n, v_failed
      FROM mrp.replenish((p_args->>'company')::bigint, coalesce((p_args->>'dry_run')::boolean, false)) x;
    RETURN jsonb_build_object('ordered', v_n - v_failed, 'failed', v_failed);
END $$;

INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts, builtin) VALUES
    ('mrp.run', 'mrp.run_job(bigint, jsonb)', '2 hours', 2, true),
    ('mrp.replenish', 'mrp.replenish_job(bigint, jsonb)', '1 hour', 2, true);

-- sql/mrp/finish.sql
-- Protection, privileges, audit and dump registration of pgerp_mrp.
SELECT erp.protect('mrp.workcenter');
SELECT erp.protect('mrp.bom');
SELECT erp.protect('mrp.bom_line');
SELECT erp.protect('mrp.bom_byproduct');
SELECT erp.protect('mrp.bom_operation');
SELECT erp.protect('mrp.production');
SELECT erp.protect('mrp.production_move');
SELECT erp.protect('mrp.planning');
SELECT erp.protect('mrp.demand');
SELECT erp.protect('mrp.mrp_run');
SELECT erp.protect('mrp.planned_order');
SELECT erp.protect('mrp.plan_record');
SELECT erp.protect('mrp.pegging');
SELECT erp.protect('mrp.run_message');
SELECT erp.protect('mrp.reorder_rule');
SELECT erp.protect('purchase.supplier_info');
SELECT erp.protect('purchase.order');
SELECT erp.protect('purchase.order_line');

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('mrp.workcenter', 'SELECT'),
    ('mrp.bom', 'SELECT, UPDATE (active, sequence)'),
    ('mrp.bom_line', 'SELECT'),
    ('mrp.bom_byproduct', 'SELECT'),
    ('mrp.bom_operation', 'SELECT'),
    ('mrp.production', 'SELECT'),
    ('mrp.production_move', 'SELECT'),
    ('mrp.planning', 'SELECT'),
    ('mrp.demand', 'SELECT, DELETE'),
    ('mrp.mrp_run', 'SELECT'),
    ('mrp.planned_order', 'SELECT'),
    ('mrp.plan_record', 'SELECT'),
    ('mrp.pegging', 'SELECT'),
    ('mrp.run_message', 'SELECT'),
    ('mrp.reorder_rule', 'SELECT, UPDATE (min_qty, max_qty, multiple, trigger, active)'),
    ('purchase.supplier_info', 'SELECT, UPDATE (active)'),
    ('purchase.order', 'SELECT'),
    ('purchase.order_line', 'SELECT');

-- Audited from the start: what changes costs and commitments.
SELECT erp.audit('mrp.bom');
SELECT erp.audit('mrp.bom_line');
SELECT erp.audit('mrp.production');
SELECT erp.audit('mrp.planning');
SELECT erp.audit('mrp.reorder_rule');
SELECT erp.audit('purchase.supplier_info');
SELECT erp.audit('purchase.order');
SELECT erp.audit('purchase.order_line');

SELECT pg_catalog.pg_extension_config_dump('mrp.workcenter', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.workcenter_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_line', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_byproduct', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_byproduct_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_operation', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_operation_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.production', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.production_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.production_move', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.planning', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.demand', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.demand_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.mrp_run', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.mrp_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.planned_order', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.planned_order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.plan_record', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.pegging', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.pegging_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.run_message', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.run_message_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.reorder_rule', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.reorder_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.supplier_info', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.supplier_info_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order_line', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order_line_id_seq', '');

REVOKE ALL ON ALL ROUTINES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA purchase FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA purchase FROM PUBLIC;

-- sql/core/app_access_refresh.sql
-- Last file of every dependent extension: give the application roles
-- registered with erp.grant_app_access() what this extension added.
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
