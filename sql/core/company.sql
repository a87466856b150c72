-- Companies form a tree: group -> subsidiaries -> branches/stores.
-- company_id mirrors id so that erp.protect() treats this table like any
-- other (a user sees the companies they hold erp.company:read on).

CREATE TABLE erp.company (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id bigint GENERATED ALWAYS AS (id) STORED NOT NULL,
    parent_id bigint REFERENCES erp.company (id),
    name text NOT NULL CHECK (name ~ '\S'),
    currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    price_precision integer NOT NULL DEFAULT 2 CHECK (price_precision BETWEEN 0 AND 6),
    currency_rounding numeric NOT NULL DEFAULT 0.01 CHECK (currency_rounding > 0 AND currency_rounding < 'Infinity'),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX company_parent_idx ON erp.company (parent_id);
COMMENT ON TABLE erp.company IS 'Companies; a tree through parent_id. A reference table when distributed.';
COMMENT ON COLUMN erp.company.price_precision IS 'Decimal places of unit costs and prices';
COMMENT ON COLUMN erp.company.currency_rounding IS 'Smallest amount of the currency; money is rounded to it';

-- Moving a company may not make it its own ancestor.
CREATE FUNCTION erp._company_check_tree() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_path bigint[] := ARRAY[NEW.id];
    v_cur bigint := NEW.parent_id;
BEGIN
    WHILE v_cur IS NOT NULL LOOP
        v_path := v_path || v_cur;
        IF v_cur = NEW.id THEN
            RAISE EXCEPTION 'company tree would contain a cycle'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The path would be %s.', array_to_string(v_path, ' -> '));
        END IF;
        SELECT c.parent_id INTO v_cur FROM erp.company c WHERE c.id = v_cur;
    END LOOP;
    RETURN NEW;
END $$;

CREATE TRIGGER company_check_tree BEFORE UPDATE OF parent_id ON erp.company
    FOR EACH ROW WHEN (NEW.parent_id IS DISTINCT FROM OLD.parent_id)
    EXECUTE FUNCTION erp._company_check_tree();

CREATE FUNCTION erp.create_company(p_name text, p_parent bigint DEFAULT NULL, p_currency text DEFAULT 'USD')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'company name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_currency IS NULL OR p_currency !~ '^[A-Z]{3}$' THEN
        RAISE EXCEPTION 'invalid currency code %', erp._echo(p_currency)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A currency is an ISO 4217 code of three capital letters, such as USD or CNY.';
    END IF;
    IF p_parent IS NULL THEN
        IF NOT erp._is_bootstrap() THEN
            RAISE EXCEPTION 'permission denied for "erp.company:create"'
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Only a superuser with nobody signed in creates a top-level company.',
                      HINT = 'Create the company under a parent you hold erp.company:create on.';
        END IF;
    ELSE
        -- the permission first: a parent one may not use answers like one that
        -- does not exist (only the bootstrap caller reaches the existence test)
        PERFORM erp.require_permission('erp.company:create', p_parent);
        IF NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_parent) THEN
            RAISE EXCEPTION 'company % does not exist', p_parent USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    INSERT INTO erp.company (parent_id, name, currency)
    VALUES (p_parent, btrim(p_name, E' \t\r\n\f'), p_currency)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_company(text, bigint, text) IS
    'Create a company under p_parent (needs erp.company:create there); top-level companies need a superuser';
