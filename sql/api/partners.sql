-- api.partners: customers and vendors, e-mail and phone in clear for holders
-- of erp.partner.email:decrypt / erp.partner.phone:decrypt, masked for the
-- others (erp.reveal, as the generated api.partner does). Writable: INSERT
-- through erp.create_partner, UPDATE of the table under its row security;
-- the table's encryption trigger seals e-mail and phone.

CREATE VIEW api.partners WITH (security_invoker = true) AS
SELECT t.company_id, t.id, t.name, t.kind,
       erp.reveal(t.email, 'erp.partner.email', t.company_id, 'email') AS email,
       erp.reveal(t.phone, 'erp.partner.phone', t.company_id, 'phone') AS phone,
       t.tax_id, t.active, t.created_at
  FROM erp.partner t;
COMMENT ON VIEW api.partners IS
    'Customers and vendors; e-mail and phone in clear with their decrypt permission, masked otherwise. POST and PATCH';
COMMENT ON COLUMN api.partners.company_id IS 'Company of the partner (default: the current company); foreign key to companies';
COMMENT ON COLUMN api.partners.id IS 'Partner id';
COMMENT ON COLUMN api.partners.name IS 'Partner name';
COMMENT ON COLUMN api.partners.kind IS 'customer, vendor (default) or both';
COMMENT ON COLUMN api.partners.email IS 'E-mail, stored encrypted; clear with erp.partner.email:decrypt, masked otherwise';
COMMENT ON COLUMN api.partners.phone IS 'Phone, stored encrypted; clear with erp.partner.phone:decrypt, masked otherwise';
COMMENT ON COLUMN api.partners.tax_id IS 'Tax identification number';
COMMENT ON COLUMN api.partners.active IS 'False once archived';

-- INSERT: erp.create_partner (its permission and checks), then tax_id and
-- active when given. id is generated: a value for it is refused.
CREATE FUNCTION erp._api_partners_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
    r api.partners;
BEGIN
    IF NEW.id IS NOT NULL OR NEW.created_at IS NOT NULL THEN
        RAISE EXCEPTION 'cannot insert a value into column "%" of api.partners', CASE WHEN NEW.id IS NOT NULL THEN 'id' ELSE 'created_at' END
            USING ERRCODE = 'generated_always', DETAIL = 'The column is set by the database.';
    END IF;
    v_id := erp.create_partner(coalesce(NEW.company_id, erp.current_company_id()), NEW.name,
                               coalesce(NEW.kind, 'vendor'), NEW.email, NEW.phone);
    IF NEW.tax_id IS NOT NULL OR NOT coalesce(NEW.active, true) THEN
        -- set after the creation: the row security's write permission, checked
        -- here so that it is not skipped in silence
        PERFORM erp.require_permission('erp.partner:write', coalesce(NEW.company_id, erp.current_company_id()));
        UPDATE erp.partner p SET tax_id = NEW.tax_id, active = coalesce(NEW.active, true)
         WHERE p.id OPERATOR(pg_catalog.=) v_id;
    END IF;
    SELECT v.* INTO r FROM api.partners v WHERE v.id OPERATOR(pg_catalog.=) v_id;
    RETURN r;
END $$;

-- UPDATE: name, kind, e-mail, phone, tax_id and active, under the table's
-- row security (erp.partner:write). E-mail and phone are written only when
-- they changed: the old value the caller sees may be masked.
CREATE FUNCTION erp._api_partners_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.partners;
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.company_id IS DISTINCT FROM OLD.company_id
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'column "%" of api.partners cannot be updated',
                        CASE WHEN NEW.id IS DISTINCT FROM OLD.id THEN 'id'
                             WHEN NEW.company_id IS DISTINCT FROM OLD.company_id THEN 'company_id' ELSE 'created_at' END
            USING ERRCODE = 'generated_always',
                  DETAIL = 'Only name, kind, email, phone, tax_id and active are writable.';
    END IF;
    PERFORM erp.require_permission('erp.partner:write', OLD.company_id);
    IF NEW.name IS NULL OR btrim(NEW.name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'partner name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.kind IS NULL OR NEW.kind NOT IN ('customer', 'vendor', 'both') THEN
        RAISE EXCEPTION 'invalid partner kind %', coalesce(pg_catalog.quote_literal(NEW.kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A partner is a customer, a vendor or both.';
    END IF;
    UPDATE erp.partner p
       SET name = btrim(NEW.name, E' \t\r\n\f'), kind = NEW.kind, tax_id = NEW.tax_id, active = NEW.active
     WHERE p.company_id OPERATOR(pg_catalog.=) OLD.company_id AND p.id OPERATOR(pg_catalog.=) OLD.id;
    IF NEW.email IS DISTINCT FROM OLD.email THEN
        -- the check of erp.create_partner
        IF NEW.email IS NOT NULL AND btrim(NEW.email, E' \t\r\n\f') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' THEN
            RAISE EXCEPTION 'invalid e-mail address'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An e-mail address has the form name@domain.tld, without spaces.';
        END IF;
        UPDATE erp.partner p SET email = erp.plain(nullif(btrim(NEW.email, E' \t\r\n\f'), ''))
         WHERE p.company_id OPERATOR(pg_catalog.=) OLD.company_id AND p.id OPERATOR(pg_catalog.=) OLD.id;
    END IF;
    IF NEW.phone IS DISTINCT FROM OLD.phone THEN
        UPDATE erp.partner p SET phone = erp.plain(nullif(btrim(NEW.phone, E' \t\r\n\f'), ''))
         WHERE p.company_id OPERATOR(pg_catalog.=) OLD.company_id AND p.id OPERATOR(pg_catalog.=) OLD.id;
    END IF;
    SELECT v.* INTO r FROM api.partners v WHERE v.id OPERATOR(pg_catalog.=) OLD.id;
    RETURN r;
END $$;

CREATE TRIGGER api_insert INSTEAD OF INSERT ON api.partners
    FOR EACH ROW EXECUTE FUNCTION erp._api_partners_insert();
CREATE TRIGGER api_update INSTEAD OF UPDATE ON api.partners
    FOR EACH ROW EXECUTE FUNCTION erp._api_partners_update();
