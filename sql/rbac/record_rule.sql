-- Record rules, as Odoo's ir.rule: global rules (no role) are ANDed; rules
-- of roles are ORed among the roles the user holds on the row's company, and
-- only restrict users holding at least one role that has rules on the table.
-- A rule belongs to a company and applies only to the rows of that company
-- and its descendants (erp.company_within); a rule without a company applies
-- to every company and needs a superuser (docs/security.md).
-- They become RESTRICTIVE policies beside erp.protect()'s, rebuilt by a
-- trigger so that a restored erp.record_rule recreates them.

CREATE TABLE erp.record_rule (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name regclass NOT NULL,
    role_id bigint REFERENCES erp.role (id) ON DELETE CASCADE,
    using_expr text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    company_id bigint REFERENCES erp.company (id)
);
CREATE INDEX record_rule_table_idx ON erp.record_rule (table_name);
COMMENT ON TABLE erp.record_rule IS 'Record rules; role_id NULL means a rule for every role';
COMMENT ON COLUMN erp.record_rule.company_id IS
    'The company whose rows (and its descendants'' rows) the rule restricts; NULL: every company (superuser only)';

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

CREATE FUNCTION erp._apply_record_rules(p_table regclass)
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

CREATE FUNCTION erp._record_rule_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM erp._apply_record_rules(OLD.table_name);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM erp._apply_record_rules(NEW.table_name);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER record_rule_apply AFTER INSERT OR UPDATE OR DELETE ON erp.record_rule
    FOR EACH ROW EXECUTE FUNCTION erp._record_rule_changed();

-- Who may manage a rule: on a company, the permission there (a company the
-- caller may not see is answered like one that does not exist); without a
-- company, a superuser client (bootstrap or signed in).
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

CREATE FUNCTION erp.drop_record_rule(p_rule bigint)
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
