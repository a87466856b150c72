-- Units of measure: a reference table shared by all companies (as Odoo's
-- uom.uom). factor = how many reference units of the category one unit is;
-- rounding = the smallest quantity of that unit (conversions round half up to it).

CREATE TABLE stock.uom (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z][A-Za-z0-9_]{0,31}$'),
    category text NOT NULL CHECK (category ~ '^[a-z_]+$'),
    factor numeric NOT NULL CHECK (factor > 0 AND factor < 'Infinity'),
    rounding numeric NOT NULL CHECK (rounding > 0 AND rounding < 'Infinity')
);
COMMENT ON TABLE stock.uom IS 'Units of measure; factor in reference units of the category, rounding of quantities';

INSERT INTO stock.uom (code, category, factor, rounding) VALUES
    ('Unit', 'unit', 1, 0.01),
    ('Dozen', 'unit', 12, 0.01),
    ('kg', 'weight', 1, 0.001),
    ('g', 'weight', 0.001, 0.01),
    ('m', 'length', 1, 0.001),
    ('cm', 'length', 0.01, 0.01),
    ('L', 'volume', 1, 0.001),
    ('mL', 'volume', 0.001, 0.01);

-- Round half away from zero to a multiple of p_rounding (src/valuation/share.c).
CREATE FUNCTION stock.round_to(p_value numeric, p_rounding numeric) RETURNS numeric
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_round_to';

-- The value of p_part out of p_qty worth p_value: its share rounded to
-- p_rounding, the whole quantity taking exactly the whole value.
CREATE FUNCTION stock.value_share(p_value numeric, p_qty numeric, p_part numeric, p_rounding numeric) RETURNS numeric
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_share';

-- SECURITY DEFINER for the bound checks (internal helpers); it reads only stock.uom.
CREATE FUNCTION stock.convert_uom(p_qty numeric, p_from text, p_to text) RETURNS numeric
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
COMMENT ON FUNCTION stock.convert_uom(numeric, text, text) IS
    'Convert a quantity between units of one category, rounded half up to the target unit''s rounding';
