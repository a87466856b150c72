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
    password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    token_generation bigint NOT NULL DEFAULT 0 CHECK (token_generation >= 0)
);
CREATE UNIQUE INDEX app_user_login_key ON erp.app_user (pg_catalog.lower(login));
COMMENT ON TABLE erp.app_user IS 'ERP users; logins are unique regardless of case';
COMMENT ON COLUMN erp.app_user.token_generation IS
    'Tokens carry it as claim gen; erp.use_token refuses a token of another generation. Advanced by a password change, a deactivation, erp.revoke_sessions and erp.sign_out';

-- A new password or a deactivation revokes every token issued so far, however
-- it is made (erp.set_password, or a superuser's UPDATE).
CREATE FUNCTION erp._app_user_revoke_tokens() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash OR (OLD.active AND NOT NEW.active) THEN
        NEW.token_generation := OLD.token_generation + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER app_user_revoke_tokens BEFORE UPDATE OF password_hash, active ON erp.app_user
    FOR EACH ROW EXECUTE FUNCTION erp._app_user_revoke_tokens();

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
    PERFORM erp._password_check(p_password, v_login);
    INSERT INTO erp.app_user (login, name, password_hash)
    VALUES (v_login, coalesce(nullif(btrim(p_name, E' \t\r\n\f'), ''), v_login), erp._password_hash(p_password))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_user(text, text, text) IS
    'Create an ERP user (needs erp.app_user:create); the password must pass the quality check and is stored as an scrypt hash';

-- Who may change an account (password, sessions): the bootstrap caller, the
-- user themself, or a holder of erp.app_user:write on every company where the
-- user holds a role. A user without roles is nobody's yet: a subsidiary admin
-- who set its password would be let into whichever company grants it a role
-- later. An unknown user and one the caller may not change are refused alike.
CREATE FUNCTION erp._require_user_write(p_user bigint)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_companies bigint[];
BEGIN
    IF erp._is_bootstrap() THEN
        IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM erp.app_user u WHERE u.id = p_user) THEN
            RAISE EXCEPTION 'user % does not exist', coalesce(p_user::text, 'NULL')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN;
    END IF;
    IF p_user IS NOT NULL AND p_user = erp.current_user_id() THEN
        RETURN;
    END IF;
    SELECT array_agg(DISTINCT ur.company_id) INTO v_companies
      FROM erp.user_role ur WHERE ur.user_id = p_user;
    IF erp.current_user_id() IS NULL OR v_companies IS NULL
       OR EXISTS (SELECT 1 FROM unnest(v_companies) c(id)
                   WHERE NOT erp.company_allowed(c.id, 'erp.app_user:write')) THEN
        RAISE EXCEPTION 'permission denied for "erp.app_user:write" on user %', coalesce(p_user::text, 'NULL')
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Changing another user''s account needs erp.app_user:write on every company where that user holds a role; an account without roles is changed only by a superuser or by its user.';
    END IF;
END $$;

-- A user may change their own password. Changing someone else's needs
-- erp.app_user:write on every company the target holds a role on, so an
-- administrator of one subsidiary cannot take over a user of another; a
-- user without roles only by a superuser (erp._require_user_write).
CREATE FUNCTION erp.set_password(p_user bigint, p_password text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM erp._require_user_write(p_user);
    PERFORM erp._password_check(p_password, (SELECT u.login FROM erp.app_user u WHERE u.id = p_user));
    -- the trigger app_user_revoke_tokens revokes the tokens issued so far
    -- (access tokens and refresh tokens: both carry the generation)
    UPDATE erp.app_user
       SET password_hash = erp._password_hash(p_password), password_changed_at = now()
     WHERE id = p_user;
END $$;
COMMENT ON FUNCTION erp.set_password(bigint, text) IS
    'Change a password (revoking the user''s tokens): your own, or one of a user whose every company you hold erp.app_user:write on';

CREATE FUNCTION erp.revoke_sessions(p_user bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM erp._require_user_write(p_user);
    UPDATE erp.app_user SET token_generation = token_generation + 1 WHERE id = p_user;
END $$;
COMMENT ON FUNCTION erp.revoke_sessions(bigint) IS
    'Revoke every access and refresh token issued so far to a user (yourself, or as for erp.set_password)';
