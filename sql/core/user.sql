-- Users of the ERP (not PostgreSQL roles). Passwords are kept only as scrypt
-- hashes; nothing returns or raises them. A reference table when distributed:
-- users act across companies through erp.user_role.

CREATE TABLE erp.app_user (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login text NOT NULL CHECK (login ~ '^[A-Za-z0-9._@+-]{1,128}$'),
    name text NOT NULL,
    password_hash text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE UNIQUE INDEX app_user_login_key ON erp.app_user (pg_catalog.lower(login));
COMMENT ON TABLE erp.app_user IS 'ERP users; logins are unique regardless of case';

CREATE FUNCTION erp.create_user(p_login text, p_password text, p_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_login text := btrim(p_login, E' \t\r\n\f');
    v_id bigint;
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.app_user:create');
    END IF;
    IF v_login IS NULL OR v_login !~ '^[A-Za-z0-9._@+-]{1,128}$' THEN
        RAISE EXCEPTION 'invalid login %', erp._echo(p_login)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A login is 1 to 128 letters, digits or the characters . _ @ + -.';
    END IF;
    IF EXISTS (SELECT 1 FROM erp.app_user u WHERE lower(u.login) = lower(v_login)) THEN
        RAISE EXCEPTION 'login % is already taken', erp._echo(v_login) USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO erp.app_user (login, name, password_hash)
    VALUES (v_login, coalesce(nullif(btrim(p_name, E' \t\r\n\f'), ''), v_login), erp._password_hash(p_password))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_user(text, text, text) IS
    'Create an ERP user (needs erp.app_user:create); the password is stored as an scrypt hash';

-- A user may change their own password. Changing someone else's needs
-- erp.app_user:write on every company the target holds a role on, so an
-- administrator of one subsidiary cannot take over a user of another.
CREATE FUNCTION erp.set_password(p_user bigint, p_password text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_company bigint;
    v_any boolean := false;
BEGIN
    IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM erp.app_user u WHERE u.id = p_user) THEN
        RAISE EXCEPTION 'user % does not exist', coalesce(p_user::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT erp._is_bootstrap() AND p_user IS DISTINCT FROM erp.current_user_id() THEN
        FOR v_company IN SELECT DISTINCT ur.company_id FROM erp.user_role ur WHERE ur.user_id = p_user LOOP
            PERFORM erp.require_permission('erp.app_user:write', v_company);
            v_any := true;
        END LOOP;
        IF NOT v_any THEN
            PERFORM erp.require_permission('erp.app_user:write');
        END IF;
    END IF;
    UPDATE erp.app_user
       SET password_hash = erp._password_hash(p_password), password_changed_at = now()
     WHERE id = p_user;
END $$;
COMMENT ON FUNCTION erp.set_password(bigint, text) IS
    'Change a password: your own, or one of a user whose every company you hold erp.app_user:write on';
