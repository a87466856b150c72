-- Which user holds which role on which company. A grant with
-- include_children reaches every descendant of the company.

CREATE TABLE erp.user_role (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    user_id bigint NOT NULL REFERENCES erp.app_user (id) ON DELETE CASCADE,
    role_id bigint NOT NULL REFERENCES erp.role (id) ON DELETE CASCADE,
    include_children boolean NOT NULL DEFAULT true,
    granted_by bigint REFERENCES erp.app_user (id),
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, user_id, role_id)
);
CREATE INDEX user_role_user_idx ON erp.user_role (user_id);
COMMENT ON TABLE erp.user_role IS 'Role grants: a user holds a role on a company (and its descendants with include_children)';

-- The role of a grant, and the company and the user once the caller may
-- manage grants there (p_code): the permission is checked first, so that a
-- company one may not manage answers like one that does not exist (a
-- signed-in holder of the permission proves the company exists).
CREATE FUNCTION erp._lookup_grant_args(p_user bigint, p_role text, p_company bigint, p_code text,
                                       OUT o_role_id bigint, OUT o_permissions text[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SELECT r.id, r.permissions INTO o_role_id, o_permissions FROM erp.role r WHERE r.code = p_role;
    IF o_role_id IS NULL THEN
        RAISE EXCEPTION 'role % does not exist', erp._echo(p_role)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company NULL does not exist' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission(p_code, p_company);
    ELSIF NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM erp.app_user u WHERE u.id = p_user) THEN
        RAISE EXCEPTION 'user % does not exist', coalesce(p_user::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;

-- A granter may hand out only what they hold, on the company and, for a grant
-- that reaches children, on every descendant too.
CREATE FUNCTION erp.grant_role(p_user bigint, p_role text, p_company bigint, p_include_children boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_role bigint;
    v_perms text[];
    v_company bigint;
BEGIN
    IF p_include_children IS NULL THEN
        RAISE EXCEPTION 'include_children must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT o_role_id, o_permissions INTO v_role, v_perms
      FROM erp._lookup_grant_args(p_user, p_role, p_company, 'erp.user_role:create');
    IF NOT erp._is_bootstrap() THEN
        FOR v_company IN
            WITH RECURSIVE d(id) AS (
                SELECT p_company
                UNION ALL
                SELECT c.id FROM erp.company c JOIN d ON c.parent_id = d.id WHERE p_include_children)
            SELECT id FROM d
        LOOP
            IF NOT erp._covers(v_company, v_perms) THEN
                RAISE EXCEPTION 'permission denied to grant role %', erp._echo(p_role)
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = format('The role grants permissions you do not hold on company %s.', v_company);
            END IF;
        END LOOP;
    END IF;
    INSERT INTO erp.user_role (company_id, user_id, role_id, include_children, granted_by)
    VALUES (p_company, p_user, v_role, p_include_children, erp.current_user_id())
    ON CONFLICT (company_id, user_id, role_id)
    DO UPDATE SET include_children = EXCLUDED.include_children,
                  granted_by = EXCLUDED.granted_by, granted_at = now();
END $$;
COMMENT ON FUNCTION erp.grant_role(bigint, text, bigint, boolean) IS
    'Grant a role on a company (needs erp.user_role:create there and every permission of the role)';

CREATE FUNCTION erp.revoke_role(p_user bigint, p_role text, p_company bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_role bigint;
BEGIN
    SELECT o_role_id INTO v_role FROM erp._lookup_grant_args(p_user, p_role, p_company, 'erp.user_role:delete');
    DELETE FROM erp.user_role ur
     WHERE ur.company_id = p_company AND ur.user_id = p_user AND ur.role_id = v_role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % holds no role % on company %', p_user, erp._echo(p_role), p_company
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;
COMMENT ON FUNCTION erp.revoke_role(bigint, text, bigint) IS
    'Revoke a role grant (needs erp.user_role:delete on the company)';
