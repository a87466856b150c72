\echo Use "ALTER EXTENSION pgerp UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp 0.1.0 -> 0.2.0. Sections by topic; each keeps the upgrade equal to a
-- fresh install of what sql/ now holds (test/upgrade/ checks it).

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
    ('erp.audit_verify(bigint)'),
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
        v_cover := format('company_id OPERATOR(pg_catalog.=) ANY (erp.role_companies(%L::text[]))', ARRAY[v_rule.code]);
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


-- ==== field encryption (#11.5) ====


-- ==== jobs (#11.6, 19) ====


-- ==== numeric and date bounds (#11.8, 11, 17) ====


-- ==== audit (#11.15) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA erp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erp FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
