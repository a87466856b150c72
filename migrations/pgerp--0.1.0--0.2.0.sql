\echo Use "ALTER EXTENSION pgerp UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp 0.1.0 -> 0.2.0. Sections by topic; each keeps the upgrade equal to a
-- fresh install of what sql/ now holds (test/upgrade/ checks it).
-- Folded before 0.2.0 is frozen: each object is defined once, in its final
-- form. A routine (trigger, index) that several sections changed stands in
-- the section that changed it last (erp.audit and erp.unaudit
-- in the first: the script calls erp.audit() there); where an earlier section
-- changed it, a line "-- <routine>: final definition below, in section ..."
-- says where it went. A routine whose signature changes is dropped once; one
-- that this script creates has its final signature from the start (no CREATE,
-- DROP and CREATE again), and the allow-list rows name it so. A section added
-- later appends as before, and is folded the same way before the release.

-- ==== published routines: an explicit allow-list (#11.20) ====

CREATE TABLE erp.app_routine (
    routine text PRIMARY KEY
);

CREATE FUNCTION erp._echo(p_value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_value IS NULL THEN 'NULL'
                WHEN pg_catalog.length(p_value) <= 64 THEN pg_catalog.quote_literal(p_value)
                ELSE pg_catalog.quote_literal(pg_catalog.left(p_value, 61) || '...') END
$$;

CREATE OR REPLACE FUNCTION erp._apply_app_access(p_role regrole)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_schema name;
    v_fn regprocedure;
    v_tab record;
BEGIN
    FOR v_schema IN SELECT s.schema_name FROM erp.app_schema s
                     WHERE EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = s.schema_name)
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', v_schema, p_role);
        -- what is not on the allow-list is taken back (an upgrade may unpublish)
        FOR v_fn IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = v_schema
                       AND NOT EXISTS (SELECT 1 FROM erp.app_routine r
                                        WHERE pg_catalog.to_regprocedure(r.routine) OPERATOR(pg_catalog.=) p.oid)
        LOOP
            EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM %s', v_fn, p_role);
        END LOOP;
    END LOOP;
    -- routines of an extension not installed yet are skipped
    FOR v_fn IN SELECT pg_catalog.to_regprocedure(r.routine) FROM erp.app_routine r
                 WHERE pg_catalog.to_regprocedure(r.routine) IS NOT NULL ORDER BY r.routine
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %s', v_fn, p_role);
    END LOOP;
    -- rows left by a dropped extension point at tables that no longer exist
    FOR v_tab IN SELECT t.table_name, t.privileges FROM erp.app_table t
                  WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.table_name) LOOP
        EXECUTE format('GRANT %s ON TABLE %s TO %s', v_tab.privileges, v_tab.table_name, p_role);
    END LOOP;
END $$;

-- What an application role may execute in schemas erp and api: the explicit
-- allow-list (docs/security.md). A routine not listed here is not granted to
-- application roles, whatever its name; add a line to publish one.
INSERT INTO erp.app_routine (routine) VALUES
    ('erp.sign_in(text,text,bigint)'),
    ('erp.use_token(text,boolean)'),
    ('erp.switch_company(bigint)'),
    ('erp.sign_out()'),
    ('erp.current_user_id()'),
    ('erp.current_company_id()'),
    ('erp.allowed_company_ids()'),
    ('erp.has_permission(text)'),
    ('erp.permitted_companies(text)'),
    ('erp.company_allowed(bigint,text)'),
    ('erp.role_companies(text[])'),
    ('erp.require_permission(text,bigint)'),
    ('erp.create_company(text,bigint,text)'),
    ('erp.create_user(text,text,text)'),
    ('erp.set_password(bigint,text)'),
    ('erp.create_partner(bigint,text,text,text,text)'),
    ('erp.create_role(text,text,text[])'),
    ('erp.grant_role(bigint,text,bigint,boolean)'),
    ('erp.revoke_role(bigint,text,bigint)'),
    ('erp.protect(regclass)'),
    ('erp.add_record_rule(regclass,text,text,bigint)'),
    ('erp.company_within(bigint,bigint)'),
    ('erp.drop_record_rule(bigint)'),
    ('erp.grant_app_access(regrole)'),
    ('erp.encrypt(text,text)'),
    ('erp.decrypt(bytea,text)'),
    ('erp.blind_index(text,text)'),
    ('erp.mask(text,text)'),
    ('erp.rotate_key(text)'),
    ('erp.plain(text)'),
    ('erp.reveal(bytea,text,bigint,text)'),
    ('erp.reencrypt(regclass,name,integer)'),
    ('erp.rotate_master_key(text)'),
    ('erp.retire_key(text,integer)'),
    ('erp.audit_seal()'),
    ('erp.audit_head()'),
    ('erp.audit_verify(bigint,boolean)'),
    ('erp.current_job_id()'),
    ('erp.job_progress(numeric,text)'),
    ('erp.running_jobs()'),
    ('erp.run_pending(integer)'),
    ('erp.enqueue(text,jsonb,timestamp with time zone,integer)'),
    ('erp.cancel_job(bigint)'),
    ('erp.reencrypt_job(bigint,jsonb)')
ON CONFLICT DO NOTHING;

-- ==== record rules (#11.1-3) ====

-- A 0.1.0 rule had no company: it stays a rule of every company (global).
ALTER TABLE erp.record_rule ADD COLUMN company_id bigint REFERENCES erp.company (id);
COMMENT ON TABLE erp.record_rule IS 'Record rules; role_id NULL means a rule for every role';
COMMENT ON COLUMN erp.record_rule.company_id IS
    'The company whose rows (and its descendants'' rows) the rule restricts; NULL: every company (superuser only)';
-- a rule is seen by who may read rules on its company (a global one: superusers)
SELECT erp.protect('erp.record_rule');

DROP FUNCTION erp._check_rule_expression(text);
CREATE FUNCTION erp._check_rule_expression(p_table regclass, p_expr text) RETURNS void
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_rbac_check_rule_expression_0_2';
COMMENT ON FUNCTION erp._check_rule_expression(regclass, text) IS
    'Refuse (22023) a rule expression that is not one boolean expression over the table''s columns, constants, operators and allowed functions';

CREATE FUNCTION erp._caller_is_superuser() RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_caller_is_superuser';

CREATE FUNCTION erp.company_within(p_company bigint, p_root bigint) RETURNS boolean
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_company_within';
COMMENT ON FUNCTION erp.company_within(bigint, bigint) IS
    'Is the company the root or one of its descendants (what company record rules test); true for a company the caller holds no role on';

CREATE FUNCTION erp._row_visible(p_table regclass, p_id bigint) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_row_visible';
COMMENT ON FUNCTION erp._row_visible(regclass, bigint) IS
    'Does the calling role see the row with this id through its own row security (company policies and record rules); for definer code';

-- role record rules test erp.role_allowed() per row (#12): nothing
-- identity-specific is folded into plans
CREATE FUNCTION erp.role_allowed(p_company bigint, p_roles text[]) RETURNS boolean
    LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_role_allowed';
COMMENT ON FUNCTION erp.role_allowed(bigint, text[]) IS
    'Does the acting user hold one of these roles on that company; what role record rules test per row';

CREATE OR REPLACE FUNCTION erp._apply_record_rules(p_table regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_pol name;
    v_rule record;
    v_covers text[] := '{}';
    v_passes text[] := '{}';
    v_cover text;
    v_expr text;
BEGIN
    FOR v_pol IN SELECT p.polname FROM pg_policy p
                  WHERE p.polrelid = p_table AND (p.polname ~ '^pgerp_rule_[0-9]+$' OR p.polname = 'pgerp_role_rules')
    LOOP
        EXECUTE format('DROP POLICY %I ON %s', v_pol, p_table);
    END LOOP;

    FOR v_rule IN SELECT rr.id, rr.using_expr, rr.company_id FROM erp.record_rule rr
                   WHERE rr.table_name = p_table AND rr.role_id IS NULL ORDER BY rr.id
    LOOP
        PERFORM erp._check_rule_expression(p_table, v_rule.using_expr);
        IF v_rule.company_id IS NULL THEN
            v_expr := format(E'(%s\n)', v_rule.using_expr);
        ELSE
            -- CASE: the expression is evaluated for the rule's company's rows only
            v_expr := format(E'CASE WHEN erp.company_within(company_id, %s::bigint) THEN (%s\n) ELSE true END',
                             v_rule.company_id, v_rule.using_expr);
        END IF;
        EXECUTE format('CREATE POLICY %I ON %s AS RESTRICTIVE FOR ALL USING (%s) WITH CHECK (%s)',
                       'pgerp_rule_' || v_rule.id, p_table, v_expr, v_expr);
    END LOOP;

    -- a role rule covers a row when the user holds its role on the row's
    -- company and the row is in the rule's company; covered rows must pass
    -- one of the covering rules, evaluated only where it covers (CASE)
    FOR v_rule IN SELECT r.code, rr.using_expr, rr.company_id FROM erp.record_rule rr JOIN erp.role r ON r.id = rr.role_id
                   WHERE rr.table_name = p_table ORDER BY rr.id
    LOOP
        PERFORM erp._check_rule_expression(p_table, v_rule.using_expr);
        v_cover := format('erp.role_allowed(company_id, %L::text[])', ARRAY[v_rule.code]);
        IF v_rule.company_id IS NOT NULL THEN
            v_cover := v_cover || format(' AND erp.company_within(company_id, %s::bigint)', v_rule.company_id);
        END IF;
        v_covers := v_covers || v_cover;
        v_passes := v_passes || format(E'CASE WHEN %s THEN (%s\n) ELSE false END', v_cover, v_rule.using_expr);
    END LOOP;
    IF cardinality(v_covers) > 0 THEN
        v_expr := format('NOT (%s)', array_to_string(v_covers, ' OR '))
                  || E'\n OR ' || array_to_string(v_passes, E'\n OR ');
        EXECUTE format('CREATE POLICY pgerp_role_rules ON %s AS RESTRICTIVE FOR ALL USING (%s) WITH CHECK (%s)',
                       p_table, v_expr, v_expr);
    END IF;
END $$;

CREATE FUNCTION erp._require_rule_manager(p_company bigint, p_code text)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_company IS NULL THEN
        IF NOT erp._caller_is_superuser() THEN
            RAISE EXCEPTION 'permission denied for a record rule of every company'
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A rule without a company applies to all companies: only a superuser may add or drop one.',
                      HINT = 'Pass the company the rule is for.';
        END IF;
    ELSIF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission(p_code, p_company);
    END IF;
END $$;

DROP FUNCTION erp.add_record_rule(regclass, text, text);
CREATE FUNCTION erp.add_record_rule(p_table regclass, p_role text, p_using text, p_company bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_role bigint;
    v_id bigint;
BEGIN
    PERFORM erp._require_rule_manager(p_company, 'erp.record_rule:create');
    IF p_company IS NOT NULL AND NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_table IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = p_table AND p.polname = 'pgerp_read') THEN
        RAISE EXCEPTION 'table % is not protected', p_table
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call erp.protect() on the table first.';
    END IF;
    IF p_role IS NOT NULL THEN
        SELECT r.id INTO v_role FROM erp.role r WHERE r.code = p_role;
        IF v_role IS NULL THEN
            RAISE EXCEPTION 'role % does not exist', erp._echo(p_role) USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    PERFORM erp._check_rule_expression(p_table, p_using);
    INSERT INTO erp.record_rule (table_name, role_id, using_expr, company_id)
    VALUES (p_table, v_role, p_using, p_company)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.add_record_rule(regclass, text, text, bigint) IS
    'Add a record rule for the rows of a company and its descendants (p_role NULL: every role, ANDed; else ORed among the roles held); needs erp.record_rule:create there, or a superuser for p_company NULL (every company)';

CREATE OR REPLACE FUNCTION erp.drop_record_rule(p_rule bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v erp.record_rule;
BEGIN
    SELECT * INTO v FROM erp.record_rule rr WHERE rr.id = p_rule;
    -- another company's rule is answered like one that does not exist
    IF NOT FOUND OR (v.company_id IS NOT NULL AND NOT erp._is_bootstrap()
                     AND NOT erp.company_allowed(v.company_id, 'erp.record_rule:read')) THEN
        RAISE EXCEPTION 'record rule % does not exist', coalesce(p_rule::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM erp._require_rule_manager(v.company_id, 'erp.record_rule:delete');
    DELETE FROM erp.record_rule WHERE id = p_rule;
END $$;

-- Rebuild the policies of the existing rules with the new checker: an
-- expression it refuses stops the update (fix or drop the rule, then update).
DO $$
DECLARE
    r record;
    v_msg text;
    v_detail text;
BEGIN
    FOR r IN SELECT rr.id, rr.table_name, n.nspname || '.' || c.relname AS qualified
               FROM erp.record_rule rr JOIN pg_class c ON c.oid = rr.table_name JOIN pg_namespace n ON n.oid = c.relnamespace
              ORDER BY rr.id LOOP
        BEGIN
            PERFORM erp._check_rule_expression(r.table_name, (SELECT rr.using_expr FROM erp.record_rule rr WHERE rr.id = r.id));
        EXCEPTION WHEN invalid_parameter_value THEN
            GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
            RAISE EXCEPTION 'record rule % on % cannot be kept in 0.2.0: %', r.id, r.qualified, v_msg
                USING ERRCODE = 'invalid_parameter_value', DETAIL = v_detail,
                      HINT = format('Drop it (DELETE FROM erp.record_rule WHERE id = %s, as a superuser) or fix its expression, then update again.', r.id);
        END;
    END LOOP;
END $$;
SELECT erp._apply_record_rules(t.table_name)
  FROM (SELECT DISTINCT rr.table_name FROM erp.record_rule rr) t;


-- ==== accounts, tokens and sessions (#11.4, 13, 16, 18) ====

-- erp.app_user.token_generation: tokens carry it (claim gen) and erp.use_token
-- refuses another generation; old tokens without the claim count as 0.
ALTER TABLE erp.app_user ADD COLUMN token_generation bigint NOT NULL DEFAULT 0 CHECK (token_generation >= 0);


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

COMMENT ON FUNCTION erp.set_password(bigint, text) IS
    'Change a password (revoking the user''s tokens): your own, or one of a user whose every company you hold erp.app_user:write on';

CREATE FUNCTION erp.revoke_sessions(p_user bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM erp._require_user_write(p_user);
    UPDATE erp.app_user SET token_generation = token_generation + 1 WHERE id = p_user;
END $$;

-- published: the application role may call it (granted by the last section)
INSERT INTO erp.app_routine (routine) VALUES ('erp.revoke_sessions(bigint)') ON CONFLICT DO NOTHING;


-- new C symbols: the 0.1.0 ones keep their old behaviour for databases not updated yet
CREATE OR REPLACE FUNCTION erp.sign_in(p_login text, p_password text, p_company bigint DEFAULT NULL) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pgerp_core_sign_in_0_2';

COMMENT ON FUNCTION erp.use_token(text, boolean) IS
    'Verify an access token (refused once revoked) and act as its user; with p_local the identity ends with the transaction';

CREATE OR REPLACE FUNCTION erp.sign_out() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_sign_out_0_2';

COMMENT ON FUNCTION erp.sign_out() IS
    'Stop acting as anybody, even if the transaction rolls back, and revoke every token of the user issued so far';

-- erp.app_user's trigger acl_changed: final definition below, in section "identity at chain-retail scale (#12)"

DROP FUNCTION erp._lookup_grant_args(bigint, text, bigint);
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

CREATE OR REPLACE FUNCTION erp.grant_role(p_user bigint, p_role text, p_company bigint, p_include_children boolean DEFAULT true)
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

CREATE OR REPLACE FUNCTION erp.revoke_role(p_user bigint, p_role text, p_company bigint)
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

CREATE OR REPLACE FUNCTION erp.create_company(p_name text, p_parent bigint DEFAULT NULL, p_currency text DEFAULT 'USD')
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

-- echoed role codes are cut to 64 characters (#11.17); erp.create_user, whose
-- logins are too, is redefined once below with the password quality check
CREATE OR REPLACE FUNCTION erp.create_role(p_code text, p_name text, p_permissions text[])
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


-- ==== field encryption (#11.5) ====

-- Values of format 2 carry the company of their row in the authenticated
-- header; erp.decrypt and erp.reveal take the company from there. Keys are
-- made only by encrypt_column and the first write to its column; rotating
-- one needs a superuser (docs/security.md, "Field encryption").
CREATE FUNCTION erp._seal(p_plain text, p_context text, p_company bigint) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_seal';
CREATE FUNCTION erp._encrypt_v1(p_plain text, p_context text) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_encrypt_v1';
CREATE FUNCTION erp._cipher_company(p_cipher bytea) RETURNS bigint
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_cipher_company';
DROP FUNCTION erp._rewrap(bytea, text);
CREATE FUNCTION erp._rewrap(p_cipher bytea, p_context text, p_company bigint) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_rewrap_0_2';

COMMENT ON FUNCTION erp.encrypt(text, text) IS
    'AES-256-GCM under the context''s current data key, bound to the current company and the context (schema.table.column) as associated data; never makes a key';
COMMENT ON FUNCTION erp.decrypt(bytea, text) IS
    'Decrypt a value of the context; needs <context>:decrypt on the company bound in the value (42501 otherwise); altered values raise 22P03';
COMMENT ON FUNCTION erp.rotate_key(text) IS
    'A new data key version for new writes (superuser: a key is shared by every company); older versions still decrypt';
COMMENT ON FUNCTION erp.reveal(bytea, text, bigint, text) IS
    'Clear value for holders of <context>:decrypt on the company bound in the value, masked (**** without a mask kind) for its other users, **** outside it or when p_company differs';

CREATE OR REPLACE FUNCTION erp.encrypt_column(p_table regclass, p_column name, p_searchable boolean DEFAULT false,
                                   p_mask text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_schema name;
    v_name name;
    v_type regtype;
    v_context text;
    v_bidx name;
    v_company text;
    v_before record;
    v_after record;
    v_default text;
BEGIN
    PERFORM erp.require_superuser('encrypt a column');
    IF p_table IS NULL OR p_column IS NULL THEN
        RAISE EXCEPTION 'table and column must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT n.nspname, c.relname INTO v_schema, v_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = p_table AND c.relkind IN ('r', 'p');
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a table', p_table USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT a.atttypid::regtype INTO v_type FROM pg_attribute a
     WHERE a.attrelid = p_table AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of % does not exist', p_column, p_table USING ERRCODE = 'undefined_column';
    END IF;
    IF EXISTS (SELECT 1 FROM erp.encrypted_column e WHERE e.table_name = p_table AND e.column_name = p_column) THEN
        RAISE EXCEPTION 'column "%" of % is already encrypted', p_column, p_table
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF v_type NOT IN ('text'::regtype, 'character varying'::regtype) THEN
        RAISE EXCEPTION 'column "%" of % is of type %', p_column, p_table, v_type
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'Only text and varchar columns can be encrypted.';
    END IF;
    IF p_mask IS NOT NULL THEN
        PERFORM erp.mask('x', p_mask);  -- raises on an unknown kind
    END IF;
    v_context := format('%s.%s.%s', v_schema, v_name, p_column);
    IF v_context !~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$' THEN
        RAISE EXCEPTION 'cannot encrypt column "%" of %', p_column, p_table
            USING ERRCODE = 'invalid_name',
                  DETAIL = 'Schema, table and column names must be lower-case identifiers.';
    END IF;
    IF to_regclass(format('api.%I', v_name)) IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
            WHERE r.ev_class = to_regclass(format('api.%I', v_name)) AND d.refobjid = p_table) THEN
        RAISE EXCEPTION 'relation api.% already exists and does not show %', v_name, p_table
            USING ERRCODE = 'duplicate_table',
                  DETAIL = 'erp.encrypt_column() shows a table''s encrypted columns through the view api.<table>.',
                  HINT = 'Rename the table, or the other relation.';
    END IF;
    v_bidx := CASE WHEN p_searchable THEN (p_column || '_bidx')::name END;
    IF v_bidx IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_table
                                         AND a.attname = v_bidx AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'column "%" of % already exists', v_bidx, p_table USING ERRCODE = 'duplicate_column';
    END IF;

    -- no writer may slip plaintext in between the check and the trigger
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', p_table);
    EXECUTE format('SELECT count(*) AS n, count(%1$I) AS v, md5(coalesce(string_agg(md5(%1$I), '''' ORDER BY md5(%1$I)), '''')) AS sum FROM %2$s',
                   p_column, p_table) INTO v_before;
    -- values are bound to their row's company (none without a company_id column)
    v_company := CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_table
                                      AND a.attname = 'company_id' AND NOT a.attisdropped)
                      THEN 'coalesce(company_id::bigint, 0)' ELSE '0' END;

    INSERT INTO erp.encrypted_column (table_name, column_name, context, blind_index_column, mask)
    VALUES (p_table, p_column, v_context, v_bidx, p_mask);
    IF v_before.v > 0 THEN
        -- fails early, with the hint, without a master key; makes the key (an
        -- empty table gets it at its first write)
        PERFORM erp._seal('', v_context, 0);
    END IF;
    IF to_regclass(format('api.%I', v_name)) IS NOT NULL THEN
        PERFORM erp._drop_api_view(to_regclass(format('api.%I', v_name)));
    END IF;
    -- a default becomes the bytes of the same text, which the trigger encrypts
    SELECT pg_get_expr(d.adbin, d.adrelid) INTO v_default FROM pg_attrdef d JOIN pg_attribute a
        ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     WHERE d.adrelid = p_table AND a.attname = p_column;
    IF v_default IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', p_table, p_column);
    END IF;
    -- one rewrite: USING expressions read the old (plaintext) row
    IF v_bidx IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I bytea', p_table, v_bidx);
        EXECUTE format('ALTER TABLE %1$s ALTER COLUMN %2$I TYPE bytea USING erp._seal(%2$I, %3$L, %5$s),'
                       ' ALTER COLUMN %4$I TYPE bytea USING erp.blind_index(%2$I, %3$L)',
                       p_table, p_column, v_context, v_bidx, v_company);
        EXECUTE format('CREATE INDEX %I ON %s (%s%I)', left(v_name || '_' || v_bidx || '_idx', 63), p_table,
                       CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_table
                                            AND a.attname = 'company_id' AND NOT a.attisdropped)
                            THEN 'company_id, ' ELSE '' END, v_bidx);
    ELSE
        EXECUTE format('ALTER TABLE %1$s ALTER COLUMN %2$I TYPE bytea USING erp._seal(%2$I, %3$L, %4$s)',
                       p_table, p_column, v_context, v_company);
    END IF;
    IF v_default IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT erp.plain((%s)::text)', p_table, p_column, v_default);
    END IF;
    EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', p_table, p_column,
                   format('Encrypted (context %s): write plaintext, read it through api.%s or erp.decrypt()', v_context, v_name));
    -- named to fire after the table's other BEFORE triggers, which could write the column
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION erp._encrypt_trigger(%L, %L, %L)',
                   left('zz_encrypt_' || p_column, 63), p_table, p_column, v_context, coalesce(v_bidx, ''));

    EXECUTE format('SELECT count(*) AS n, count(%1$I) AS v, md5(coalesce(string_agg(md5(erp._open(%1$I, %3$L)), '''' ORDER BY md5(erp._open(%1$I, %3$L))), '''')) AS sum FROM %2$s',
                   p_column, p_table, v_context) INTO v_after;
    IF v_after IS DISTINCT FROM v_before THEN
        RAISE EXCEPTION 'encrypting column "%" of % did not keep every value', p_column, p_table
            USING ERRCODE = 'data_corrupted',
                  DETAIL = format('Before: %s rows, %s values; after: %s rows, %s values, checksum %s.',
                                  v_before.n, v_before.v, v_after.n, v_after.v,
                                  CASE WHEN v_after.sum = v_before.sum THEN 'equal' ELSE 'different' END);
    END IF;
    PERFORM erp._build_encrypted_view(p_table);
END $$;
COMMENT ON FUNCTION erp.encrypt_column(regclass, name, boolean, text) IS
    'Encrypt a text column in place (values verified by count and checksum), add a BEFORE trigger, a blind index when searchable, and the api.<table> view (superuser)';

-- Values of 0.1.0 (format 1, no company) in every encrypted column are bound
-- to their row's company now, under the current key: a superuser's UPDATE,
-- through the columns' triggers (and the audit trail). It needs the master
-- key only when such values exist.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT e.table_name, e.column_name, e.context, n.nspname, r.relname,
                    EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = e.table_name
                               AND a.attname = 'company_id' AND NOT a.attisdropped) AS has_company
               FROM erp.encrypted_column e
               JOIN pg_catalog.pg_class r ON r.oid = e.table_name
               JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
              ORDER BY e.context
    LOOP
        EXECUTE format('UPDATE %I.%I t SET %I = erp._rewrap(t.%I, %L, %s) WHERE pg_catalog.substr(t.%I, 1, 1) = ''\x01''::bytea',
                       c.nspname, c.relname, c.column_name, c.column_name, c.context,
                       CASE WHEN c.has_company THEN 'coalesce(t.company_id::bigint, 0)' ELSE '0' END,
                       c.column_name);
    END LOOP;
END $$;


-- ==== jobs (#11.6, 19) ====

CREATE INDEX job_queued_by_idx ON erp.job (enqueued_by) WHERE status = 'queued';

-- One row per user who enqueued: erp.enqueue updates it before counting the
-- user's queued jobs, so that the enqueues of one user take their turn (the
-- row stays locked until the enqueuing transaction ends) and the limit
-- pgerp.job_max_queued_per_user holds under concurrency. Not user data: it
-- is not dumped, and rebuilt as users enqueue.
CREATE TABLE erp.job_quota (
    user_id bigint PRIMARY KEY,
    enqueued bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE erp.job_quota IS
    'Per-user row erp.enqueue locks to check pgerp.job_max_queued_per_user one enqueue at a time; enqueued counts the jobs';

CREATE FUNCTION erp.job_workers(OUT pid integer, OUT job_id bigint, OUT jobs bigint, OUT memory bigint)
RETURNS SETOF record
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_workers';
COMMENT ON FUNCTION erp.job_workers() IS
    'This database''s job workers: the job each runs (NULL when idle), the jobs run since it started, its memory between jobs in bytes (superuser)';

-- erp.enqueue(text,jsonb,timestamptz,integer): final definition below, in section "jobperm (#14): a job kind the enqueuing role may not run is refused at enqueue"

-- ==== numeric and date bounds (#11.8, 11, 17) ====

-- NaN > 0 and 'Infinity' > 0 hold in PostgreSQL: an infinite rounding made
-- every stock value NaN (#11.8).
ALTER TABLE erp.company
    DROP CONSTRAINT company_currency_rounding_check,
    ADD CONSTRAINT company_currency_rounding_check CHECK (currency_rounding > 0 AND currency_rounding < 'Infinity') NOT VALID;
-- a company left with an infinite rounding by 0.1.0 keeps the constraint NOT
-- VALID (new values are checked) and the update warns instead of failing
DO $$
BEGIN
    ALTER TABLE erp.company VALIDATE CONSTRAINT company_currency_rounding_check;
EXCEPTION WHEN check_violation THEN
    RAISE WARNING 'constraint company_currency_rounding_check of erp.company is left NOT VALID: a currency rounding is not a finite number'
        USING HINT = 'Correct erp.company.currency_rounding, then run ALTER TABLE erp.company VALIDATE CONSTRAINT company_currency_rounding_check.';
END $$;

-- ==== audit (#11.15) ====

-- the checkpoint of incremental verification (not dumped: see sql/audit/log.sql)
CREATE TABLE erp.audit_verified (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    verified_at timestamptz NOT NULL
);
COMMENT ON TABLE erp.audit_verified IS 'Verification checkpoint: erp.audit_verify() continues from this chain position';
ALTER TABLE erp.audit_verified ENABLE ROW LEVEL SECURITY;

-- inlined into the sealer's and the verifier's queries (no SET clause)
CREATE OR REPLACE FUNCTION erp._audit_entry_bytes(l erp.audit_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.convert_to(
               pg_catalog.jsonb_build_array(l.id, l.company_id, l.user_id, l.db_role, l.tx::pg_catalog.text,
                   pg_catalog.to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   l.rel, l.op, l.pk, l.changes)::pg_catalog.text, 'UTF8')
$$;

COMMENT ON FUNCTION erp.audit(regclass) IS
    'Record every INSERT, UPDATE, DELETE and TRUNCATE of the table in erp.audit_log (superuser)';

-- Figures of the whole chain (its head, how many entries a verification
-- checked) are for a superuser with nobody signed in and for an auditor of
-- every active company; an auditor of some companies is told only about the
-- entries they may read (docs/security.md, "Audit trail").
CREATE FUNCTION erp._audit_database_wide() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT erp._is_bootstrap()
        OR (erp.current_user_id() IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM erp.company c
                             WHERE c.active AND NOT erp.company_allowed(c.id, 'erp.audit_log:read')))
$$;

CREATE OR REPLACE FUNCTION erp.audit_head(OUT seq bigint, OUT hash bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    IF NOT erp._audit_database_wide() THEN
        RAISE EXCEPTION 'permission denied for "erp.audit_log:read"'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The head of the audit chain counts the entries of every company: it needs the permission on every active company.',
                  HINT = 'Ask an auditor of the whole group, or a superuser.';
    END IF;
    SELECT s.last_seq, s.last_hash INTO seq, hash FROM erp.audit_seal_state s;
END $$;
COMMENT ON FUNCTION erp.audit_head() IS
    'Newest chain position and hash: keep copies outside the database to detect a rewritten chain (needs erp.audit_log:read on every active company)';

-- The verification itself, under one snapshot (a STABLE function reads with
-- the snapshot of the statement that calls it): the seal state, the chain
-- and the log as they were together, while sealers and purges go on. It
-- takes no lock beyond those of reading. From p_from (an entry id), from
-- the anchor (p_full), or else from the checkpoint of erp.audit_verified,
-- whose chain row must still carry the recorded hash.
CREATE FUNCTION erp._audit_check(p_from bigint, p_full boolean,
    OUT ok boolean, OUT bad_id bigint, OUT checked bigint, OUT checked_visible bigint,
    OUT through_seq bigint, OUT through_hash bytea)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v erp.audit_verified;
    v_start bigint;
    v_prev bytea;
    v_mine bigint[] := erp.permitted_companies('erp.audit_log:read');
    v_global boolean := erp.has_permission('erp.audit_log:read');
    v_bad_seq bigint;
    v_end bigint;
    v_counts_ok boolean := false;
BEGIN
    checked := 0;
    checked_visible := 0;
    SELECT * INTO s FROM erp.audit_seal_state;
    IF NOT FOUND THEN
        ok := true;
        RETURN;
    END IF;
    IF p_from IS NOT NULL THEN
        SELECT ch.seq INTO v_start FROM erp.audit_chain ch WHERE ch.entry_id = p_from;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit entry % is not sealed', p_from
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Entries are sealed once their transaction has ended; purged entries are gone.';
        END IF;
        IF v_start = s.anchor_seq + 1 THEN
            v_prev := s.anchor_hash;
        ELSE
            SELECT ch.hash INTO v_prev FROM erp.audit_chain ch WHERE ch.seq = v_start - 1;
            IF NOT FOUND THEN
                ok := false;
                bad_id := p_from;
                RETURN;
            END IF;
        END IF;
    ELSE
        v_start := s.anchor_seq + 1;
        v_prev := s.anchor_hash;
        SELECT * INTO v FROM erp.audit_verified;
        IF FOUND AND NOT p_full AND v.seq >= s.anchor_seq THEN
            -- the checkpoint must still be in the chain as it was verified
            IF v.seq > s.last_seq THEN
                ok := false;        -- the chain was cut below the checkpoint
                RETURN;
            END IF;
            IF v.seq = s.anchor_seq THEN
                v_prev := s.anchor_hash;
            ELSE
                SELECT ch.hash INTO v_prev FROM erp.audit_chain ch WHERE ch.seq = v.seq;
            END IF;
            IF v_prev IS DISTINCT FROM v.hash THEN
                ok := false;
                bad_id := (SELECT ch.entry_id FROM erp.audit_chain ch WHERE ch.seq = v.seq);
                RETURN;
            END IF;
            v_start := v.seq + 1;
        END IF;
    END IF;

    -- every link from v_start to the head, in one pass: a position skipped, an
    -- entry gone, or a hash that is not sha256(previous hash || entry bytes);
    -- the window runs over the narrow chain rows, in the order of its key
    SELECT min(x.seq) FILTER (WHERE x.bad), count(*), count(*) FILTER (WHERE x.visible), max(x.seq)
      INTO v_bad_seq, checked, checked_visible, v_end
      FROM (SELECT w.seq,
                   w.seq <> w.prev_seq + 1 OR l.id IS NULL
                     OR sha256(w.prev_hash || erp._audit_entry_bytes(l)) <> w.hash AS bad,
                   CASE WHEN l.company_id IS NULL THEN v_global ELSE l.company_id = ANY (v_mine) END AS visible
              FROM (SELECT ch.seq, ch.entry_id, ch.hash,
                           lag(ch.seq, 1, v_start - 1) OVER (ORDER BY ch.seq) AS prev_seq,
                           lag(ch.hash, 1, v_prev) OVER (ORDER BY ch.seq) AS prev_hash
                      FROM erp.audit_chain ch
                     WHERE ch.seq >= v_start AND ch.seq <= s.last_seq) w
              LEFT JOIN erp.audit_log l ON l.id = w.entry_id) x;
    IF v_bad_seq IS NOT NULL THEN
        -- what was checked: the links before the bad one
        ok := false;
        bad_id := (SELECT ch.entry_id FROM erp.audit_chain ch WHERE ch.seq = v_bad_seq);
        SELECT count(*), count(*) FILTER (WHERE CASE WHEN l.company_id IS NULL THEN v_global
                                                     ELSE l.company_id = ANY (v_mine) END)
          INTO checked, checked_visible
          FROM erp.audit_chain ch LEFT JOIN erp.audit_log l ON l.id = ch.entry_id
         WHERE ch.seq >= v_start AND ch.seq < v_bad_seq;
        RETURN;
    END IF;
    -- the head must be where the state says (a cut tail, or a rewritten state)
    v_end := coalesce(v_end, v_start - 1);
    IF v_end <> s.last_seq
       OR (v_end = s.anchor_seq AND s.anchor_hash <> s.last_hash)
       OR (v_end > s.anchor_seq AND (SELECT ch.hash FROM erp.audit_chain ch WHERE ch.seq = v_end) IS DISTINCT FROM s.last_hash) THEN
        ok := false;
        RETURN;
    END IF;
    -- an entry slipped in behind the sealer's back (not after a restore into
    -- another cluster, whose transaction ids started again): every entry is
    -- either chained or of a transaction at or above the horizon. Counting
    -- is cheap; the search for the entry only runs when the counts differ
    -- (and for a re-verification).
    IF s.system_id = (SELECT cs.system_identifier FROM pg_control_system() cs) THEN
        IF p_from IS NULL AND NOT p_full THEN
            v_counts_ok := (SELECT count(*) FROM erp.audit_log)
                           - (SELECT count(*) FROM erp.audit_log l
                               WHERE l.tx >= s.tx_done
                                 AND NOT EXISTS (SELECT 1 FROM erp.audit_chain ch WHERE ch.entry_id = l.id))
                           = s.last_seq - s.anchor_seq;
        END IF;
        IF NOT v_counts_ok THEN
            SELECT min(l.id) INTO bad_id FROM erp.audit_log l
             WHERE l.tx < s.tx_done AND (p_from IS NULL OR l.id >= p_from)
               AND NOT EXISTS (SELECT 1 FROM erp.audit_chain ch WHERE ch.entry_id = l.id);
            -- none found by an incremental verification: sealed entries are
            -- gone below the checkpoint (a full re-verification names them)
            IF bad_id IS NOT NULL OR (p_from IS NULL AND NOT p_full) THEN
                ok := false;
                RETURN;
            END IF;
        END IF;
    END IF;
    ok := true;
    through_seq := s.last_seq;
    through_hash := s.last_hash;
END $$;

DROP FUNCTION erp.audit_verify(bigint);

-- Verify what was sealed since the last verification (or, for a superuser,
-- from an entry or from the anchor), without sealing and without the
-- sealer's lock: a verification never holds up erp.audit_seal(). An intact
-- chain moves the checkpoint to the head it checked.
CREATE FUNCTION erp.audit_verify(p_from bigint DEFAULT NULL, p_full boolean DEFAULT false)
RETURNS TABLE (ok boolean, first_bad_id bigint, checked bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    IF p_full IS NULL THEN
        RAISE EXCEPTION 'p_full must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF (p_from IS NOT NULL OR p_full) AND NOT erp._is_bootstrap() THEN
        RAISE EXCEPTION 'permission denied to re-verify the audit chain'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Verifying again from an entry or from the start needs a superuser with nobody signed in.',
                  HINT = 'Call erp.audit_verify() without arguments: it checks what was sealed since the last verification.';
    END IF;
    SELECT * INTO r FROM erp._audit_check(p_from, p_full);
    IF r.ok AND r.through_seq IS NOT NULL AND NOT current_setting('transaction_read_only')::boolean THEN
        INSERT INTO erp.audit_verified AS v (seq, hash, verified_at)
        VALUES (r.through_seq, r.through_hash, now())
        ON CONFLICT (singleton) DO UPDATE
            SET seq = excluded.seq, hash = excluded.hash, verified_at = excluded.verified_at
          WHERE v.seq < excluded.seq
             OR ((p_full OR p_from IS NOT NULL) AND (v.seq, v.hash) IS DISTINCT FROM (excluded.seq, excluded.hash));
    END IF;
    IF erp._audit_database_wide() THEN
        RETURN QUERY SELECT r.ok, r.bad_id, r.checked;
    ELSE
        -- what this auditor may read: their entries, and no database-wide count
        RETURN QUERY SELECT r.ok,
            (SELECT l.id FROM erp.audit_log l
              WHERE l.id = r.bad_id
                AND CASE WHEN l.company_id IS NULL THEN erp.has_permission('erp.audit_log:read')
                         ELSE erp.company_allowed(l.company_id, 'erp.audit_log:read') END),
            r.checked_visible;
    END IF;
END $$;
COMMENT ON FUNCTION erp.audit_verify(bigint, boolean) IS
    'Recompute the hash chain from the last verified position to the head (a superuser: from an entry id, or from the anchor with p_full); first_bad_id is the first altered, removed or inserted entry; checked counts the entries checked that the caller may read (needs erp.audit_log:read)';


-- ==== identity at chain-retail scale (#12) ====
-- Nothing identity-specific is folded into plans any more (src/rbac/acl.c):
-- the list functions lose their plan-time support functions, and role
-- record rules test erp.role_allowed() per row.
CREATE OR REPLACE FUNCTION erp.permitted_companies(p_code text) RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_permitted_companies';
COMMENT ON FUNCTION erp.permitted_companies(text) IS
    'Companies in which the acting user holds this permission';

CREATE OR REPLACE FUNCTION erp.company_allowed(p_company bigint, p_code text) RETURNS boolean
    LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_company_allowed';
COMMENT ON FUNCTION erp.company_allowed(bigint, text) IS
    'Does the acting user hold the permission on that company; what company policies test per row';

CREATE OR REPLACE FUNCTION erp.role_companies(p_roles text[]) RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_role_companies';
COMMENT ON FUNCTION erp.role_companies(text[]) IS
    'Companies in which the acting user holds any of these roles';


DROP FUNCTION erp._permitted_companies_support(internal);
DROP FUNCTION erp._role_companies_support(internal);
DROP FUNCTION erp._company_allowed_support(internal);

INSERT INTO erp.app_routine (routine) VALUES ('erp.role_allowed(bigint,text[])') ON CONFLICT DO NOTHING;


-- a new company is in no backend's tree cache: only a move, an
-- (de)activation or a delete invalidates (src/rbac/tree.c)
DROP TRIGGER acl_changed ON erp.company;
CREATE TRIGGER acl_changed AFTER UPDATE OF parent_id, active OR DELETE OR TRUNCATE ON erp.company
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
-- the ACL cache keeps each user's active flag and token generation (a
-- password change advances it through a BEFORE trigger, hence password_hash)
DROP TRIGGER acl_changed ON erp.app_user;
CREATE TRIGGER acl_changed AFTER UPDATE OF active, token_generation, password_hash OR DELETE OR TRUNCATE ON erp.app_user
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
-- the token signing key is cached per backend (src/auth/signin.c)
CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.secret
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();

-- Not SECURITY DEFINER: its C code reads the signing key and the user's
-- state as the extension owner itself (src/core/owner.c), so every HTTP
-- request's identity switch saves the definer call's settings round.
CREATE OR REPLACE FUNCTION erp.use_token(p_token text, p_local boolean DEFAULT false) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'pgerp_core_use_token_0_2';

-- ==== other ====

-- #11.17 (echoed values cut to 64 characters): create_partner's kind; the other
-- core and rbac functions are redefined with their cut messages in the sections above.
CREATE OR REPLACE FUNCTION erp.create_partner(p_company bigint, p_name text, p_kind text DEFAULT 'vendor',
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


-- ==== sign-in hardening, password quality, refresh tokens, audit of users (#4-6) ====

-- Sign-in hardening, password quality and refresh tokens (src/auth/,
-- docs/security.md "Sign-in hardening, password quality and refresh tokens").

-- Refresh tokens: only the SHA-256 of their secret is kept. family is the id
-- of the first token of a sign-in; generation the user's token_generation
-- when the family began (a password change, erp.revoke_sessions, sign_out
-- or a deactivation advance it and so refuse the family).
CREATE TABLE erp.refresh_token (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    family bigint NOT NULL,
    user_id bigint NOT NULL REFERENCES erp.app_user (id) ON DELETE CASCADE,
    company_claim bigint,
    token_hash bytea NOT NULL CHECK (pg_catalog.length(token_hash) = 32),
    generation bigint NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_token_family_idx ON erp.refresh_token (family);
CREATE INDEX refresh_token_user_idx ON erp.refresh_token (user_id);
CREATE INDEX refresh_token_expires_idx ON erp.refresh_token (expires_at);
COMMENT ON TABLE erp.refresh_token IS
    'Refresh tokens (single-use, rotated by erp.refresh): SHA-256 of the secret only; a reused token revokes its family';
ALTER TABLE erp.refresh_token ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.refresh_token FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('erp.refresh_token', '');
SELECT pg_catalog.pg_extension_config_dump('erp.refresh_token_id_seq', '');

CREATE FUNCTION erp.sign_in_session(p_login text, p_password text, p_company bigint DEFAULT NULL)
RETURNS TABLE (access_token text, refresh_token text, expires_at timestamptz)
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pgerp_auth_sign_in_session';
COMMENT ON FUNCTION erp.sign_in_session(text, text, bigint) IS
    'erp.sign_in that also returns a refresh token; expires_at is the access token''s';

CREATE FUNCTION erp.refresh(p_refresh_token text)
RETURNS TABLE (access_token text, refresh_token text, expires_at timestamptz)
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pgerp_auth_refresh';
COMMENT ON FUNCTION erp.refresh(text) IS
    'Trade a refresh token (single-use) for a new access and refresh token; a used one presented again revokes its whole family';

-- The quality of a new password: length for everyone, the login and
-- libpwquality's dictionary checks except for the bootstrap caller.
CREATE FUNCTION erp._password_check(p_password text, p_login text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_auth_password_check';

-- Superuser tools, not published: unlock (forget failed sign-ins), the
-- client address of this transaction's sign-ins (tests; a gateway calls
-- AuthSetClientAddress() from C), and the flush of queued sign-in events to
-- the audit trail (pg_cron, every minute).
CREATE FUNCTION erp._signin_reset(p_login text DEFAULT NULL) RETURNS integer
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_auth_signin_reset';
CREATE FUNCTION erp._signin_client_address(p_address text) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_auth_set_client_address';
CREATE FUNCTION erp._flush_signin_audit() RETURNS integer
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_auth_flush_signin_audit';

-- new passwords pass the quality check (stored hashes stay valid)
CREATE OR REPLACE FUNCTION erp.create_user(p_login text, p_password text, p_name text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION erp.set_password(p_user bigint, p_password text)
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

COMMENT ON FUNCTION erp.revoke_sessions(bigint) IS
    'Revoke every access and refresh token issued so far to a user (yourself, or as for erp.set_password)';

-- sign-in events in the audit trail
ALTER TABLE erp.audit_log DROP CONSTRAINT audit_log_op_check;
-- The operations the pack writes into the log (C, src/audit/op_check.c): the
-- CHECK of erp.audit_log.op, a call because every flush's INSERT parses the
-- table's CHECK again (op IN (...) was five times the node text). Keep it and
-- src/auth/events.c in step.
CREATE FUNCTION erp._audit_op(text) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_audit_op';

ALTER TABLE erp.audit_log ADD CONSTRAINT audit_log_op_check CHECK (erp._audit_op(op));

-- erp.app_user's password hash is recorded as changed, never shown; a restored user is not
-- audited again (its insert trigger has a condition, which erp.unaudit drops too)
CREATE OR REPLACE FUNCTION erp.audit(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rel regclass;
BEGIN
    PERFORM erp.require_superuser('audit a table');
    IF p_table IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_table IN ('erp.audit_log'::regclass, 'erp.audit_chain'::regclass, 'erp.audit_seal_state'::regclass,
                   'erp.audit_verified'::regclass) THEN
        RAISE EXCEPTION 'the audit tables cannot be audited' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p_table AND c.relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION '% is not a table', p_table USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit') THEN
        -- on a partitioned table the row trigger is cloned to every partition, present and future
        IF p_table = 'erp.app_user'::regclass THEN
            -- the trigger's arguments name text columns recorded as changed
            -- but never shown, as bytea ones are: the password hash. A user
            -- is audited when created, not when a restore copies it back
            -- (erp.app_user's rows are restored before the log's, whose ids
            -- they would take): a restored row is older than its transaction.
            EXECUTE format('CREATE TRIGGER audit AFTER UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION erp._audit_trigger(%L)',
                           p_table, 'password_hash');
            EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON %s FOR EACH ROW'
                           ' WHEN (NEW.created_at >= pg_catalog.transaction_timestamp()) EXECUTE FUNCTION erp._audit_trigger(%L)',
                           p_table, 'password_hash');
        ELSE
            EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION erp._audit_trigger()', p_table);
        END IF;
    END IF;
    -- the row trigger queues each entry; audit_flush writes a statement's
    -- entries at its end, in one INSERT (src/audit/buffer.c). Statement
    -- triggers fire on the statement's target only: every member of a
    -- partition tree gets one (and commit writes what a partition attached
    -- later queued)
    FOR v_rel IN SELECT p_table UNION SELECT t.relid FROM pg_partition_tree(p_table) t
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = v_rel AND g.tgname = 'audit_flush');
        EXECUTE format('CREATE TRIGGER audit_flush AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_trigger()', v_rel);
    END LOOP;
    -- statement triggers are not cloned: each leaf partition gets its own
    -- TRUNCATE trigger, and entries name the partition, as row entries do
    -- (a partition attached later needs another call of erp.audit on the parent)
    FOR v_rel IN SELECT p_table WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = p_table) = 'r'
                  UNION SELECT t.relid FROM pg_partition_tree(p_table) t WHERE t.isleaf
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = v_rel AND g.tgname = 'audit_truncate');
        EXECUTE format('CREATE TRIGGER audit_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_trigger()', v_rel);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION erp.unaudit(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rel regclass;
BEGIN
    PERFORM erp.require_superuser('stop auditing a table');
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit') THEN
        RAISE EXCEPTION '% is not audited', p_table USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit' AND t.tgparentid <> 0) THEN
        RAISE EXCEPTION '% is audited through its partitioned table', p_table
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Call erp.unaudit() on the partitioned table.';
    END IF;
    EXECUTE format('DROP TRIGGER audit ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_insert ON %s', p_table);
    FOR v_rel IN SELECT r FROM (SELECT p_table AS r UNION SELECT t.relid FROM pg_partition_tree(p_table) t) x
                  WHERE EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.r AND g.tgname = 'audit_truncate')
    LOOP
        EXECUTE format('DROP TRIGGER audit_truncate ON %s', v_rel);
    END LOOP;
    FOR v_rel IN SELECT r FROM (SELECT p_table AS r UNION SELECT t.relid FROM pg_partition_tree(p_table) t) x
                  WHERE EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.r AND g.tgname = 'audit_flush')
    LOOP
        EXECUTE format('DROP TRIGGER audit_flush ON %s', v_rel);
    END LOOP;
    PERFORM erp._audit_note((SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c
                               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table),
                            'unaudit', '{}');
END $$;

-- users and companies are audited
SELECT erp.audit('erp.app_user');
SELECT erp.audit('erp.company');

-- published: the application role may call them (granted by the last section)
INSERT INTO erp.app_routine (routine) VALUES
    ('erp.sign_in_session(text,text,bigint)'),
    ('erp.refresh(text)')
ON CONFLICT DO NOTHING;


-- ==== HTTP API: switch_company over HTTP (#13) ====
CREATE FUNCTION erp._switch_token(p_company bigint, OUT token text, OUT expires_at timestamptz)
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_switch_token';
COMMENT ON FUNCTION erp._switch_token(bigint) IS
    'erp.switch_company, then a new access token for the signed-in user in that company (api.switch_company)';

-- ==== HTTP API: the request handler (#13) ====
-- The HTTP request handler (src/rest/): PostgREST's semantics inside the
-- database. The gateway pgerp-rest calls it once per request; it is callable
-- from SQL too, so the whole API is testable from pgTAP (docs/api.md).
CREATE FUNCTION erp.http_request(p_method text, p_path text, p_query text DEFAULT '',
                                 p_headers jsonb DEFAULT '{}', p_body text DEFAULT NULL)
    RETURNS TABLE(status integer, headers jsonb, body text)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'pgerp_http_request';
COMMENT ON FUNCTION erp.http_request(text, text, text, jsonb, text) IS
    'Answers one HTTP request of the PostgREST-compatible API (schemas of pgerp.http_schemas) under the identity of its bearer token, which ends with the request; every outcome, errors included, is a row (status, headers, body)';
INSERT INTO erp.app_routine (routine) VALUES ('erp.http_request(text,text,text,jsonb,text)');
-- ==== api: the HTTP contract (sql/api/, docs/api.md) ====

-- sql/api/companies.sql
-- api.companies: the companies the caller may read (erp.company under its
-- row security). Read-only: companies are made with erp.create_company().

CREATE VIEW api.companies WITH (security_invoker = true) AS
SELECT c.id, c.company_id, c.parent_id, c.name, c.currency, c.price_precision, c.currency_rounding,
       c.active, c.created_at
  FROM erp.company c;
COMMENT ON VIEW api.companies IS
    'Companies the caller may read (erp.company:read); a tree through parent_id. Read-only';
COMMENT ON COLUMN api.companies.id IS 'Company id';
COMMENT ON COLUMN api.companies.company_id IS 'Equal to id, so that companies filter like every other resource';
COMMENT ON COLUMN api.companies.parent_id IS 'Parent company (null for a root); foreign key to companies';
COMMENT ON COLUMN api.companies.name IS 'Company name';
COMMENT ON COLUMN api.companies.currency IS 'ISO 4217 currency code of its amounts';
COMMENT ON COLUMN api.companies.price_precision IS 'Decimal places of unit costs and prices';
COMMENT ON COLUMN api.companies.currency_rounding IS 'Smallest amount of the currency; money is rounded to it';
COMMENT ON COLUMN api.companies.active IS 'False once deactivated';

-- sql/api/users.sql
-- api.users: users without their secrets (no password hash, no token
-- generation, no password change date). erp.app_user stays unreadable to
-- application roles (only its functions touch it), so this view is not
-- security_invoker: it reads the table as its owner and filters itself, as
-- a security barrier, to the caller and to the users granted a role on a
-- company where the caller holds erp.app_user:read.

CREATE VIEW api.users WITH (security_barrier = true) AS
SELECT u.id, u.login, u.name, u.active, u.created_at
  FROM erp.app_user u
 WHERE u.id OPERATOR(pg_catalog.=) erp.current_user_id()
    OR EXISTS (SELECT 1 FROM erp.user_role ur
                WHERE ur.user_id OPERATOR(pg_catalog.=) u.id
                  AND erp.company_allowed(ur.company_id, 'erp.app_user:read'));
COMMENT ON VIEW api.users IS
    'Users: the caller, and users granted a role on a company where the caller holds erp.app_user:read. No secrets. Read-only';
COMMENT ON COLUMN api.users.id IS 'User id';
COMMENT ON COLUMN api.users.login IS 'Sign-in name (unique regardless of case)';
COMMENT ON COLUMN api.users.name IS 'Display name';
COMMENT ON COLUMN api.users.active IS 'False once disabled: the user can no longer sign in';

-- sql/api/partners.sql
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

-- sql/api/jobs.sql
-- api.jobs: the caller's jobs and, with erp.job:read, its companies' jobs
-- (erp.job under its row security), and api.cancel_job. Jobs are enqueued
-- by the functions that start them (api.run_mrp, api.replenish).

CREATE VIEW api.jobs WITH (security_invoker = true) AS
SELECT j.company_id, j.id, j.kind, j.args, j.status, j.priority, j.run_at, j.attempts, j.max_attempts,
       j.last_error, j.last_sqlstate, j.result, j.enqueued_by, j.enqueued_at, j.started_at, j.finished_at
  FROM erp.job j;
COMMENT ON VIEW api.jobs IS
    'Background jobs: the caller''s own and, with erp.job:read, those of its companies. Read-only; cancel with rpc/cancel_job';
COMMENT ON COLUMN api.jobs.company_id IS 'Company the job runs in (0: a system job)';
COMMENT ON COLUMN api.jobs.id IS 'Job id, as returned by rpc/run_mrp and rpc/replenish';
COMMENT ON COLUMN api.jobs.kind IS 'Job kind, such as mrp.run or mrp.replenish';
COMMENT ON COLUMN api.jobs.args IS 'Arguments of the job';
COMMENT ON COLUMN api.jobs.status IS 'queued, running, done, failed or cancelled';
COMMENT ON COLUMN api.jobs.attempts IS 'Attempts so far';
COMMENT ON COLUMN api.jobs.last_error IS 'Message of the last failure';
COMMENT ON COLUMN api.jobs.last_sqlstate IS 'SQLSTATE of the last failure';
COMMENT ON COLUMN api.jobs.result IS 'What the job returned once done';
COMMENT ON COLUMN api.jobs.enqueued_by IS 'User who enqueued the job';

CREATE FUNCTION api.cancel_job(job bigint) RETURNS api.jobs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.jobs;
BEGIN
    PERFORM erp.cancel_job(cancel_job.job);
    SELECT v.* INTO r FROM api.jobs v WHERE v.id OPERATOR(pg_catalog.=) cancel_job.job;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.cancel_job(bigint) IS
    'Cancel a queued or running job (its enqueuer, or erp.job:cancel on its company); returns the job. A job the caller cannot see answers "does not exist" (22023)';

REVOKE ALL ON FUNCTION api.cancel_job(bigint) FROM PUBLIC;

-- sql/api/auth.sql
-- Sign-in over the API: the token pair of erp.sign_in_session / erp.refresh
-- as one JSON object {token, expires_at, user_id, company_id, refresh_token}.
-- user_id and company_id are read from the access token's own claims.

CREATE FUNCTION api.sign_in(login text, password text, company bigint DEFAULT NULL) RETURNS json
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
BEGIN
    SELECT t.access_token, t.refresh_token, t.expires_at INTO s
      FROM erp.sign_in_session(sign_in.login, sign_in.password, sign_in.company) t;
    RETURN pg_catalog.json_build_object('token', s.access_token, 'expires_at', s.expires_at,
                                        'user_id', erp.current_user_id(), 'company_id', erp.current_company_id(),
                                        'refresh_token', s.refresh_token);
END $$;
COMMENT ON FUNCTION api.sign_in(text, text, bigint) IS
    'Sign in with login and password, in the given (or default) company: {token, expires_at, user_id, company_id, refresh_token}. Needs no token';

CREATE FUNCTION api.refresh(refresh_token text) RETURNS json
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    v_part text;
    v_claims jsonb;
BEGIN
    SELECT t.access_token, t.refresh_token, t.expires_at INTO s FROM erp.refresh(refresh.refresh_token) t;
    -- the claims (base64url JSON) of the token just signed: sub and company
    v_part := pg_catalog.translate(pg_catalog.split_part(s.access_token, '.', 2), '-_', '+/');
    v_part := v_part || pg_catalog.repeat('=', (4 - pg_catalog.length(v_part) % 4) % 4);
    v_claims := pg_catalog.convert_from(pg_catalog.decode(v_part, 'base64'), 'UTF8')::jsonb;
    RETURN pg_catalog.json_build_object('token', s.access_token, 'expires_at', s.expires_at,
                                        'user_id', (v_claims->>'sub')::bigint,
                                        'company_id', (v_claims->>'company')::bigint,
                                        'refresh_token', s.refresh_token);
END $$;
COMMENT ON FUNCTION api.refresh(text) IS
    'Trade a refresh token (single-use) for a new pair: {token, expires_at, user_id, company_id, refresh_token}. Needs no token';

REVOKE ALL ON FUNCTION api.sign_in(text, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.refresh(text) FROM PUBLIC;

-- A new pair in another company: the refresh token of the caller's sign-in
-- is rebound to the company (after erp.switch_company has checked the user
-- may act there) and traded by erp.refresh, which verifies its secret and
-- uses it up. SECURITY DEFINER: erp.refresh_token is the owner's only; the
-- update touches one unused token of the signed-in user, and is rolled back
-- with the statement when erp.refresh refuses the token.
CREATE FUNCTION api.switch_company(company bigint, refresh_token text DEFAULT NULL) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id text := pg_catalog.split_part(switch_company.refresh_token, '.', 1);
BEGIN
    IF switch_company.refresh_token IS NULL THEN
        -- no refresh token: a new access token for the signed-in user in that company
        RETURN (SELECT pg_catalog.json_build_object('token', s.token, 'expires_at', s.expires_at,
                                                    'user_id', erp.current_user_id(), 'company_id', erp.current_company_id())
                  FROM erp._switch_token(switch_company.company) s);
    END IF;
    PERFORM erp.switch_company(switch_company.company);
    UPDATE erp.refresh_token t SET company_claim = switch_company.company
     WHERE v_id ~ '^[0-9]{1,18}$' AND t.id OPERATOR(pg_catalog.=) v_id::bigint
       AND t.user_id OPERATOR(pg_catalog.=) erp.current_user_id() AND t.used_at IS NULL AND t.revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invalid refresh token'
            USING ERRCODE = 'invalid_authorization_specification',
                  DETAIL = 'The token is malformed or unknown.', HINT = 'Sign in again.';
    END IF;
    RETURN api.refresh(switch_company.refresh_token);
END $$;
COMMENT ON FUNCTION api.switch_company(bigint, text) IS
    'Act in another company the user holds a role on: a new access token {token, expires_at, user_id, company_id}, or, given the sign-in''s refresh token, a new pair bound to that company (refresh_token added)';

REVOKE ALL ON FUNCTION api.switch_company(bigint, text) FROM PUBLIC;

-- The HTTP contract, schema api (sql/api/, docs/api.md).
INSERT INTO erp.app_routine (routine) VALUES
    ('api.sign_in(text,text,bigint)'),
    ('api.refresh(text)'),
    ('api.switch_company(bigint,text)'),
    ('api.cancel_job(bigint)')
ON CONFLICT DO NOTHING;

-- The HTTP contract's views (sql/api/): security_invoker, so the tables'
-- grants and row security above apply to them too (api.users excepted).
INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('api.companies', 'SELECT'),
    ('api.users', 'SELECT'),
    ('api.partners', 'SELECT, INSERT, UPDATE'),
    ('api.jobs', 'SELECT');


-- ==== jobs after a failover (#14.1-4) ====
-- a bare pid named no process after a failover: replaced by erp._job_running
DROP FUNCTION erp._job_worker_alive(integer);
-- A job's worker_pid alone names no process after a failover or a restart:
-- these ask this node's shared memory whether a worker holds that very job.
CREATE FUNCTION erp._job_running(p_company bigint, p_job bigint, p_pid integer) RETURNS boolean
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_running';
CREATE FUNCTION erp._job_cancel_running(p_company bigint, p_job bigint, p_pid integer) RETURNS boolean
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_cancel_running';

CREATE OR REPLACE FUNCTION erp.cancel_job(p_job bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j erp.job;
BEGIN
    SELECT * INTO j FROM erp.job WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR coalesce(j.enqueued_by = erp.current_user_id(), false)
                         OR erp.company_allowed(j.company_id, 'erp.job:read')) THEN
        RAISE EXCEPTION 'job % does not exist', coalesce(p_job::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (erp._is_bootstrap() OR coalesce(j.enqueued_by = erp.current_user_id(), false)
            OR erp.company_allowed(j.company_id, 'erp.job:cancel')) THEN
        RAISE EXCEPTION 'permission denied to cancel job %', p_job
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Jobs are cancelled by who enqueued them, or with erp.job:cancel on their company.';
    END IF;
    IF j.status NOT IN ('queued', 'running') THEN
        RAISE EXCEPTION 'job % has already ended (%)', p_job, j.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE erp.job SET status = 'cancelled', finished_at = clock_timestamp(), worker_pid = NULL
     WHERE company_id = j.company_id AND id = j.id;
    IF j.status = 'running' AND j.worker_pid IS NOT NULL THEN
        -- the worker's handler is cancelled; its "done" would find the job cancelled anyway.
        -- Only a worker of this node that holds this job is signalled: after a failover
        -- worker_pid is a pid of the old host.
        PERFORM erp._job_cancel_running(j.company_id, j.id, j.worker_pid);
    END IF;
END $$;

-- The pack's periodic chores, run by the first job worker of each database
-- every pgerp.housekeeping_interval seconds (src/jobs/worker.c). They used to
-- be pg_cron jobs, but pg_cron stores the scheduling node's host and port in
-- the replicated cron.job, so after a failover they failed with "connection
-- failed", silently (docs/ha.md, "pg_cron's node binding"). The launcher
-- starts at every promotion, so the chores follow the primary.

-- Chores of the extensions built on pgerp: this layer knows nothing of them,
-- so they register a routine here from their install script (as PostgreSQL's
-- hooks work). No pg_extension_config_dump: the rows come from the install
-- scripts, which a restore runs again. A routine that no longer exists (its
-- extension was dropped) is skipped.
CREATE TABLE erp.housekeeping_chore (
    routine text PRIMARY KEY,
    every interval NOT NULL CHECK (every >= interval '0' AND isfinite(every)),
    last_run_at timestamptz,
    last_result jsonb
);
COMMENT ON TABLE erp.housekeeping_chore IS
    'Periodic chores registered by the extensions built on pgerp (routine: a regprocedure text taking no argument and returning jsonb); erp._housekeeping() runs each one that is due';

-- One chore, in a subtransaction of its own: a failing chore leaves a warning
-- and its error in last_result, and neither the seal nor the other chores
-- are lost with it.
CREATE FUNCTION erp._run_chore(p_routine text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_proc regprocedure := pg_catalog.to_regprocedure(p_routine);
    v_call text;
    v_result jsonb;
BEGIN
    SELECT format('%I.%I()', n.nspname, p.proname) INTO v_call
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = v_proc AND p.pronargs = 0;
    IF v_call IS NULL THEN
        RETURN jsonb_build_object('skipped', 'no such routine');
    END IF;
    BEGIN
        EXECUTE 'SELECT pg_catalog.to_jsonb(' || v_call || ')' INTO v_result;
    EXCEPTION WHEN OTHERS THEN
        v_result := jsonb_build_object('error', SQLERRM, 'sqlstate', SQLSTATE);
        RAISE WARNING 'housekeeping chore % failed: %', p_routine, SQLERRM;
    END;
    UPDATE erp.housekeeping_chore SET last_run_at = pg_catalog.now(), last_result = v_result
     WHERE routine = p_routine;
    RETURN v_result;
END $$;
COMMENT ON FUNCTION erp._run_chore(text) IS
    'Run one registered chore in a subtransaction; its result or error goes to erp.housekeeping_chore.last_result';

-- The pack's tables that grew well past what their statistics say
-- (docs/stock.md, "Bulk loads"). A load that posts thousands of rows in one
-- procedure, committing as it goes, never returns to idle, and a backend
-- reports its table counts to the statistics system only when idle: until
-- it ends autovacuum analyzes nothing, and the plans the posting functions
-- keep stay those made on the empty tables (an update by (company_id, id)
-- that scans every row of the company through another index). An ANALYZE
-- here, in another backend, updates the statistics and invalidates those
-- plans. A table is analyzed when its size has more than doubled since its
-- last analyze, plus 64 pages (512 kB): a few times in a table's life; in
-- steady state autovacuum analyzes first (at 10 % of new rows). The tables
-- are those of the pack's extensions (pgerp*), found through pg_depend.
CREATE FUNCTION erp._analyze_grown()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    v_done text[] := '{}';
BEGIN
    FOR r IN
        SELECT c.oid::regclass::text AS t
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                                     AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid AND x.extname LIKE 'pgerp%'
         WHERE c.relkind = 'r'
           AND pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::bigint
               >= 2 * greatest(c.relpages, 0) + 64
         ORDER BY c.oid
    LOOP
        EXECUTE 'ANALYZE (SKIP_LOCKED) ' || r.t;
        v_done := v_done || r.t;
    END LOOP;
    RETURN pg_catalog.to_jsonb(v_done);
END $$;
COMMENT ON FUNCTION erp._analyze_grown() IS
    'Analyze the pack''s tables whose size more than doubled (plus 64 pages) since their last analyze; run by erp._housekeeping()';

CREATE FUNCTION erp._housekeeping()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_sealed bigint;
    v_signins integer;
    v_analyzed jsonb;
    v_chores jsonb := '{}';
    c record;
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN jsonb_build_object('skipped', 'in recovery');
    END IF;
    v_sealed := erp.audit_seal();
    v_signins := erp._flush_signin_audit();
    v_analyzed := erp._analyze_grown();
    -- SKIP LOCKED: a second housekeeper (another database's worker cannot
    -- see these rows, but a manual call can) does not wait for the first
    FOR c IN SELECT routine FROM erp.housekeeping_chore
              WHERE last_run_at IS NULL OR last_run_at <= pg_catalog.now() - every
              ORDER BY routine FOR UPDATE SKIP LOCKED
    LOOP
        v_chores := v_chores || jsonb_build_object(c.routine, erp._run_chore(c.routine));
    END LOOP;
    RETURN jsonb_build_object('sealed', v_sealed, 'signin_events', v_signins, 'analyzed', v_analyzed, 'chores', v_chores);
END $$;
COMMENT ON FUNCTION erp._housekeeping() IS
    'Seal the audit chain, write the queued sign-in events, analyze the tables that outgrew their statistics and run the registered chores that are due (erp.housekeeping_chore); run by the first job worker every pgerp.housekeeping_interval seconds (without job workers, schedule it with pg_cron)';

-- when the sealer last ran, for erp.health()
ALTER TABLE erp.audit_seal_state ADD COLUMN sealed_at timestamptz;
-- Chain the entries of every transaction that has ended. One sealer at a
-- time (a row lock on the state); writers never wait for it.
CREATE OR REPLACE FUNCTION erp.audit_seal()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v_sys bigint := (SELECT c.system_identifier FROM pg_control_system() c);
    v_xmin xid8;
    v_prev bytea;
    v_seq bigint;
    v_rescan boolean;
    r erp.audit_log;
    n bigint := 0;
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    INSERT INTO erp.audit_seal_state (system_id, tx_done, last_seq, last_hash)
    VALUES (v_sys, '0', 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT DO NOTHING;
    -- another sealer at work (or a session that sealed and left its transaction
    -- open): leave it to that one rather than wait
    SELECT * INTO s FROM erp.audit_seal_state FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    v_xmin := pg_snapshot_xmin(pg_current_snapshot());
    -- restored into another cluster: transaction ids restarted, so look at
    -- every unsealed entry once
    v_rescan := s.system_id <> v_sys;
    v_prev := s.last_hash;
    v_seq := s.last_seq;
    FOR r IN SELECT l.* FROM erp.audit_log l
              WHERE (v_rescan OR (l.tx >= s.tx_done AND l.tx < v_xmin))
                AND NOT EXISTS (SELECT 1 FROM erp.audit_chain c WHERE c.entry_id = l.id)
              ORDER BY l.tx, l.id
    LOOP
        v_seq := v_seq + 1;
        v_prev := sha256(v_prev || erp._audit_entry_bytes(r));
        INSERT INTO erp.audit_chain (seq, entry_id, hash) VALUES (v_seq, r.id, v_prev);
        n := n + 1;
    END LOOP;
    UPDATE erp.audit_seal_state
       SET system_id = v_sys,
           tx_done = CASE WHEN v_rescan OR v_xmin > s.tx_done THEN v_xmin ELSE s.tx_done END,
           last_seq = v_seq, last_hash = v_prev, sealed_at = clock_timestamp();
    RETURN n;
END $$;
COMMENT ON FUNCTION erp.audit_seal() IS
    'Hash-chain the audit entries of ended transactions; returns how many were sealed, 0 when another sealer is at work (run by the job worker housekeeping every pgerp.housekeeping_interval; needs erp.audit_log:read)';

-- ==== identity: no user signed in (#14.5) ====

CREATE FUNCTION erp._require_signed_in() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF erp.current_user_id() IS NULL AND NOT erp._is_bootstrap() THEN
        RAISE EXCEPTION 'no user is signed in'
            USING ERRCODE = 'invalid_authorization_specification',
                  DETAIL = 'This session acts as nobody: it is new, was re-established or signed out.',
                  HINT = 'Sign in with erp.sign_in() or restore the identity with erp.use_token().';
    END IF;
END $$;

-- ==== HA: erp.health() (#14) ====

-- erp.health(): the state of this node for monitoring and load balancers
-- (docs/ha.md, "Monitoring: erp.health()"). Read-only, so it answers on a
-- hot standby too; counts, ages and states only, no business data.

-- Why the master key file cannot be used, NULL when it can (src/crypto/masterkey.c).
CREATE FUNCTION erp._master_key_file_problem() RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_master_key_file_problem';

-- One jsonb (nested lists of standbys do not fit a row type, and the
-- gateway's /ready answers it as it is). SECURITY DEFINER: the replication
-- and activity views, the audit and job tables need the owner's rights.
CREATE FUNCTION erp.health() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_standby boolean := pg_catalog.pg_is_in_recovery();
    v_tli bigint;
    v_standbys jsonb;
    v_self jsonb;
    v_workers jsonb;
    v_configured integer := coalesce(pg_catalog.current_setting('pgerp.job_workers', true), '0')::integer;
    v_expected integer := 0;
    v_running integer;
    v_launcher boolean;
    v_dbs text;
    v_stalled bigint;
    v_state erp.audit_seal_state;
    v_oldest timestamptz;
    v_seal_late boolean;
    v_sync_waits bigint;
    v_sync_names text := pg_catalog.current_setting('synchronous_standby_names');
    v_key_problem text := erp._master_key_file_problem();
    v_reasons text[] := '{}';
    v_failing boolean := false;
    v_ref pg_lsn;
BEGIN
    -- timeline: a primary's from its current WAL file (pg_control's lags a
    -- promotion until the next checkpoint); a standby's as received
    IF v_standby THEN
        SELECT r.received_tli INTO v_tli FROM pg_catalog.pg_stat_wal_receiver r;
        v_tli := coalesce(v_tli, (SELECT c.timeline_id FROM pg_catalog.pg_control_checkpoint() c));
        v_ref := pg_catalog.pg_last_wal_replay_lsn();
    ELSE
        v_tli := ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::bigint;
        v_ref := pg_catalog.pg_current_wal_lsn();
    END IF;

    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'application_name', r.application_name, 'state', r.state, 'sync_state', r.sync_state,
               'lag_bytes', pg_catalog.pg_wal_lsn_diff(v_ref, r.replay_lsn),
               'replay_lag_seconds', pg_catalog.date_part('epoch', r.replay_lag))
               ORDER BY r.application_name), '[]')
      INTO v_standbys FROM pg_catalog.pg_stat_replication r;

    IF v_standby THEN
        -- caught up: no lag, however long ago the primary's last commit was
        SELECT pg_catalog.jsonb_build_object(
                   'receiver', (SELECT r.status FROM pg_catalog.pg_stat_wal_receiver r),
                   'receive_lsn', pg_catalog.pg_last_wal_receive_lsn()::text,
                   'replay_lsn', pg_catalog.pg_last_wal_replay_lsn()::text,
                   'lag_bytes', pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn()),
                   'lag_seconds', CASE WHEN pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn() THEN 0
                                       ELSE pg_catalog.date_part('epoch', pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp()) END)
          INTO v_self;
        IF v_self->>'receiver' IS DISTINCT FROM 'streaming' THEN
            v_reasons := v_reasons || 'standby not streaming'::text;
        END IF;
    END IF;

    -- workers: the launcher and this database's workers run on a primary
    -- with pgerp preloaded, for the databases of pgerp.job_databases
    SELECT count(*) FILTER (WHERE a.backend_type = 'pgerp job worker' AND a.datname = pg_catalog.current_database()),
           count(*) FILTER (WHERE a.backend_type = 'pgerp job launcher') > 0
      INTO v_running, v_launcher FROM pg_catalog.pg_stat_activity a WHERE a.backend_type LIKE 'pgerp job%';
    v_dbs := coalesce(nullif(pg_catalog.current_setting('pgerp.job_databases', true), ''),
                      nullif(pg_catalog.current_setting('cron.database_name', true), ''), 'postgres');
    IF NOT v_standby AND pg_catalog.current_setting('shared_preload_libraries') ~ '(^|[ ,])pgerp($|[ ,])'
       AND pg_catalog.current_database() = ANY (pg_catalog.string_to_array(pg_catalog.replace(v_dbs, ' ', ''), ',')) THEN
        v_expected := v_configured;
    END IF;
    v_workers := pg_catalog.jsonb_build_object('configured', v_configured, 'expected', v_expected,
                                               'running', v_running, 'launcher', v_launcher);
    IF v_running < v_expected OR (v_expected > 0 AND NOT v_launcher) THEN
        v_reasons := v_reasons || 'job workers missing'::text;
    END IF;

    -- jobs running longer than their kind's timeout
    SELECT count(*) INTO v_stalled FROM erp.job j JOIN erp.job_kind k ON k.kind = j.kind
     WHERE j.status = 'running' AND j.started_at < pg_catalog.now() - k.timeout;
    IF v_stalled > 0 THEN
        v_reasons := v_reasons || 'jobs stalled'::text;
    END IF;

    -- the oldest unsealed entry: sealed entries all have tx below tx_done
    -- (the index on tx), but after a restore into another cluster every
    -- entry is looked at until the sealer has run once
    SELECT * INTO v_state FROM erp.audit_seal_state;
    SELECT pg_catalog.min(l.at) INTO v_oldest FROM erp.audit_log l
     WHERE (v_state IS NULL OR v_state.system_id <> (SELECT c.system_identifier FROM pg_catalog.pg_control_system() c)
            OR l.tx >= v_state.tx_done)
       AND NOT EXISTS (SELECT 1 FROM erp.audit_chain c WHERE c.entry_id = l.id);
    v_seal_late := coalesce(v_oldest < pg_catalog.now() - interval '5 minutes', false);
    IF v_seal_late THEN
        v_reasons := v_reasons || 'audit seal late'::text;
    END IF;

    SELECT count(*) INTO v_sync_waits FROM pg_catalog.pg_stat_activity a WHERE a.wait_event = 'SyncRep';
    IF v_sync_waits > 0 THEN
        v_reasons := v_reasons || 'commits waiting for synchronous standbys'::text;
        -- with no synchronous standby connected they wait for ever
        IF NOT v_standby AND v_sync_names <> '' AND NOT EXISTS
               (SELECT 1 FROM pg_catalog.pg_stat_replication r WHERE r.sync_state IN ('sync', 'quorum')) THEN
            v_failing := true;
            v_reasons := v_reasons || 'no synchronous standby connected'::text;
        END IF;
    END IF;

    IF v_key_problem IS NOT NULL THEN
        v_failing := true;
        v_reasons := v_reasons || 'master key file unusable'::text;
    END IF;

    RETURN pg_catalog.jsonb_build_object(
        'status', CASE WHEN v_failing THEN 'failing' WHEN pg_catalog.cardinality(v_reasons) > 0 THEN 'degraded' ELSE 'ok' END,
        'ready', NOT v_failing,
        'reasons', pg_catalog.to_jsonb(v_reasons),
        'role', CASE WHEN v_standby THEN 'standby' ELSE 'primary' END,
        'timeline', v_tli,
        'standbys', v_standbys,
        'replica', v_self,
        'workers', v_workers,
        'jobs_stalled', v_stalled,
        'audit', pg_catalog.jsonb_build_object(
            'oldest_unsealed_at', v_oldest,
            'last_seal_at', v_state.sealed_at,
            'last_seal_age_seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - v_state.sealed_at),
            'seal_age_seconds', coalesce(pg_catalog.date_part('epoch', pg_catalog.now() - v_oldest), 0),
            'seal_late', v_seal_late),
        'sync_waits', v_sync_waits,
        'key_file', pg_catalog.jsonb_build_object('configured', pg_catalog.current_setting('pgerp.master_key_file', true) <> '',
                                                  'present', v_key_problem IS NULL, 'problem', v_key_problem),
        'checked_at', pg_catalog.clock_timestamp());
END $$;
COMMENT ON FUNCTION erp.health() IS
    'State of this node for monitoring and load balancers: role, timeline, replication, job workers, stalled jobs, audit seal lag, synchronous-commit waits, master key file; status ok|degraded|failing and ready (docs/ha.md)';

INSERT INTO erp.app_routine (routine) VALUES ('erp.health()') ON CONFLICT DO NOTHING;

-- ==== jobperm (#14): a job kind the enqueuing role may not run is refused at enqueue ====
-- Who may enqueue: a signed-in user, or a superuser (pg_cron's schedules,
-- maintenance). A priority above 0 needs erp.job:prioritize in the job's
-- company (a negative one deprioritizes: anyone). A user has at most
-- pgerp.job_max_queued_per_user jobs queued; the user's erp.job_quota row,
-- updated first, makes concurrent enqueues of one user count one after the
-- other (in REPEATABLE READ the second one fails with 40001 instead).
CREATE OR REPLACE FUNCTION erp.enqueue(p_kind text, p_args jsonb DEFAULT '{}', p_run_at timestamptz DEFAULT pg_catalog.now(),
                            p_priority integer DEFAULT 0)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k erp.job_kind;
    v_id bigint;
    v_user bigint := erp.current_user_id();
    v_company bigint := coalesce(erp.current_company_id(), 0);
    v_super boolean := coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = erp._outer_role()), false);
    v_max integer;
    v_queued bigint;
BEGIN
    IF v_user IS NULL AND NOT v_super THEN
        RAISE EXCEPTION 'permission denied: no user is signed in'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Jobs are enqueued by a signed-in user or a superuser.',
                  HINT = 'Call erp.sign_in() or erp.use_token() first.';
    END IF;
    k := erp._job_kind_for(p_kind, p_args);
    -- the job runs as this role: refuse now what would fail when it runs
    IF NOT pg_catalog.has_function_privilege(erp._outer_role(), k.handler, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for job kind %', p_kind
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The job would run as role %s, which may not execute its handler %s.',
                                  erp._outer_role()::regrole, k.handler);
    END IF;
    IF p_priority IS NULL THEN
        RAISE EXCEPTION 'priority must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT v_super THEN
        IF p_priority > 0 THEN
            PERFORM erp.require_permission('erp.job:prioritize', v_company);
        END IF;
        INSERT INTO erp.job_quota AS q (user_id, enqueued) VALUES (v_user, 1)
        ON CONFLICT (user_id) DO UPDATE SET enqueued = q.enqueued + 1;
        v_max := pg_catalog.current_setting('pgerp.job_max_queued_per_user')::integer;
        SELECT count(*) INTO v_queued FROM erp.job j WHERE j.enqueued_by = v_user AND j.status = 'queued';
        IF v_queued >= v_max THEN
            RAISE EXCEPTION 'too many queued jobs' USING ERRCODE = 'program_limit_exceeded',
                DETAIL = format('The limit is %s queued jobs per user (pgerp.job_max_queued_per_user); user %s has %s.',
                                v_max, v_user, v_queued),
                HINT = 'Wait for queued jobs to run, or cancel some with erp.cancel_job().';
        END IF;
    END IF;
    INSERT INTO erp.job (company_id, kind, args, priority, run_at, max_attempts, enqueued_by, run_as)
    VALUES (v_company, p_kind, p_args, p_priority, coalesce(p_run_at, now()),
            k.max_attempts, v_user, erp._outer_role())
    RETURNING id INTO v_id;
    PERFORM erp._job_wake_on_commit();
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.enqueue(text, jsonb, timestamptz, integer) IS
    'Queue a job of a kind (a signed-in user or a superuser); it runs as the calling role and signed-in user, in the selected company (0 when none); priority > 0 needs erp.job:prioritize';

-- ==== backprop (#15) ====
-- A built-in role for who closes stock valuation periods (stock.set_lock_date).
INSERT INTO erp.role (code, name, permissions, builtin) VALUES
    ('stock_accountant', 'Inventory accountant',
        '{erp.company:read,erp.partner:read,stock.*:read,stock.valuation:revalue,stock.valuation:lock}', true)
ON CONFLICT (code) DO NOTHING;

-- ==== bulkwrite (#16) ====
-- The audit trigger queues each row's entry and the statement trigger
-- audit_flush writes a statement's entries in one INSERT (src/audit/buffer.c,
-- docs/security.md "Audit trail"): erp.audit() creates it, erp.unaudit()
-- drops it, and every table audited before the update gets it here.
-- erp.audit(regclass): final definition above, in section "sign-in hardening, password quality, refresh tokens, audit of users (#4-6)"
-- erp.unaudit(regclass): final definition above, in section "sign-in hardening, password quality, refresh tokens, audit of users (#4-6)"

SELECT erp.audit(t.tgrelid)
  FROM pg_trigger t
 WHERE t.tgname = 'audit' AND t.tgparentid = 0 AND t.tgfoid = 'erp._audit_trigger'::regproc;

-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA erp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erp FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
