-- Roles: named sets of permission patterns (see docs/security.md).
-- A reference table when distributed: roles are the same in every company;
-- where they apply is said by erp.user_role.

CREATE TABLE erp.role (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
    name text NOT NULL,
    permissions text[] NOT NULL DEFAULT '{}',
    builtin boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE erp.role IS 'Roles: permission patterns such as stock.move:read, stock.*:read or *';

CREATE FUNCTION erp.create_role(p_code text, p_name text, p_permissions text[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.role:create');
    END IF;
    IF p_code IS NULL OR p_code !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid role code %', erp._echo(p_code)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A role code is a lower-case letter followed by up to 62 letters, digits or underscores.';
    END IF;
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'role name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM erp._check_permission_patterns(p_permissions);
    IF EXISTS (SELECT 1 FROM erp.role r WHERE r.code = p_code) THEN
        RAISE EXCEPTION 'role % already exists', erp._echo(p_code) USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO erp.role (code, name, permissions)
    VALUES (p_code, btrim(p_name, E' \t\r\n\f'), ARRAY(SELECT DISTINCT unnest(p_permissions) ORDER BY 1))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_role(text, text, text[]) IS
    'Create a role from permission patterns (needs erp.role:create)';

INSERT INTO erp.role (code, name, permissions, builtin) VALUES
    ('admin', 'Administrator', '{*}', true),
    ('auditor', 'Auditor (read-only everywhere)', '{*:read}', true),
    ('stock_user', 'Inventory user',
        '{erp.company:read,erp.partner:read,stock.*:read,stock.move:create,stock.move:write,stock.move:validate}', true),
    ('stock_manager', 'Inventory manager',
        '{erp.company:read,erp.partner:*,stock.*:*}', true),
    ('mrp_planner', 'Production planner',
        '{erp.company:read,erp.partner:read,stock.*:read,stock.move:*,stock.valuation:revalue,mrp.*:*,purchase.*:read}', true),
    ('purchase_user', 'Purchase user',
        '{erp.company:read,erp.partner:*,stock.*:read,stock.move:create,stock.move:write,stock.move:validate,purchase.*:*}', true),
    ('stock_accountant', 'Inventory accountant',
        '{erp.company:read,erp.partner:read,stock.*:read,stock.valuation:revalue,stock.valuation:lock}', true);
