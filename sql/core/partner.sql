-- Customers and vendors of a company.

CREATE TABLE erp.partner (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL CHECK (name ~ '\S'),
    kind text NOT NULL DEFAULT 'vendor' CHECK (kind IN ('customer', 'vendor', 'both')),
    email text,
    phone text,
    tax_id text,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id)
);
CREATE INDEX partner_id_idx ON erp.partner (id);
CREATE INDEX partner_name_idx ON erp.partner (company_id, name);
COMMENT ON TABLE erp.partner IS 'Customers and vendors; kind is customer, vendor or both';

-- SECURITY INVOKER: the INSERT goes through row security as the caller.
CREATE FUNCTION erp.create_partner(p_company bigint, p_name text, p_kind text DEFAULT 'vendor',
                                   p_email text DEFAULT NULL, p_phone text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM erp.require_permission('erp.partner:create', p_company);
    -- a signed-in user holding the permission on it proves the company exists
    -- (and needs no erp.company:read); the bootstrap caller sees every row
    IF erp.current_user_id() IS NULL AND NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'partner name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('customer', 'vendor', 'both') THEN
        RAISE EXCEPTION 'invalid partner kind %', erp._echo(p_kind)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A partner is a customer, a vendor or both.';
    END IF;
    IF p_email IS NOT NULL AND btrim(p_email, E' \t\r\n\f') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' THEN
        -- the address is not repeated: errors reach the server log, and
        -- e-mail addresses are stored encrypted
        RAISE EXCEPTION 'invalid e-mail address'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An e-mail address has the form name@domain.tld, without spaces.';
    END IF;
    INSERT INTO erp.partner (company_id, name, kind, email, phone)
    VALUES (p_company, btrim(p_name, E' \t\r\n\f'), p_kind,
            -- plaintext bytes: the encryption trigger seals them (sql/crypto/defaults.sql)
            erp.plain(nullif(btrim(p_email, E' \t\r\n\f'), '')), erp.plain(nullif(btrim(p_phone, E' \t\r\n\f'), '')))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_partner(bigint, text, text, text, text) IS
    'Create a customer or vendor of a company (needs erp.partner:create there)';
