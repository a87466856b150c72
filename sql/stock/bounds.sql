-- Bounds of stock input (docs/stock.md, "Numeric and date bounds"): what the
-- engine computes with. Entry points check their arguments with these, so
-- that no NaN, infinity, out-of-range number or unbounded date reaches a
-- table or an internal cast. (In PostgreSQL 'NaN' > 0 and 'Infinity' > 0
-- are both true: a sign check alone lets them through.)

-- pgerp.max_future_days (src/valuation/bounds.c), read through the library.
CREATE FUNCTION stock._max_future_days() RETURNS integer
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_max_future_days';

-- pgerp.idempotency_key_retention in seconds (src/valuation/bounds.c).
CREATE FUNCTION stock._idempotency_key_retention() RETURNS integer
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_valuation_idempotency_key_retention';

-- The row checks of the tables that postings write (src/valuation/row_checks.c): one call
-- each rather than x > '-Infinity' AND x < 'Infinity', because PostgreSQL parses a table's
-- CHECK constraints again for every INSERT and UPDATE statement and the call is a quarter of
-- the node text. Same answers (NaN and the infinities fail); STRICT: a NULL passes, as in any
-- CHECK. Granted to no one: constraints are checked as the writer, the pack's definer code.
CREATE FUNCTION stock._finite(numeric) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_stock_finite';
CREATE FUNCTION stock._positive_finite(numeric) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_stock_positive_finite';
CREATE FUNCTION stock._nonnegative_finite(numeric) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_stock_nonnegative_finite';

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
