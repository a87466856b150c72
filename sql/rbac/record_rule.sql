-- Record rules, as Odoo's ir.rule: global rules (no role) are ANDed; rules
-- of roles are ORed among the roles the user holds on the row's company, and
-- only restrict users holding at least one role that has rules on the table.
-- They become RESTRICTIVE policies beside erp.protect()'s, rebuilt by a
-- trigger so that a restored erp.record_rule recreates them.

CREATE TABLE erp.record_rule (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name regclass NOT NULL,
    role_id bigint REFERENCES erp.role (id) ON DELETE CASCADE,
    using_expr text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX record_rule_table_idx ON erp.record_rule (table_name);
COMMENT ON TABLE erp.record_rule IS 'Record rules; role_id NULL means a global rule';

CREATE FUNCTION erp._apply_record_rules(p_table regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_pol name;
    v_rule record;
    v_roles text[];
    v_expr text;
BEGIN
    FOR v_pol IN SELECT p.polname FROM pg_policy p
                  WHERE p.polrelid = p_table AND (p.polname ~ '^pgerp_rule_[0-9]+$' OR p.polname = 'pgerp_role_rules')
    LOOP
        EXECUTE format('DROP POLICY %I ON %s', v_pol, p_table);
    END LOOP;

    FOR v_rule IN SELECT rr.id, rr.using_expr FROM erp.record_rule rr
                   WHERE rr.table_name = p_table AND rr.role_id IS NULL ORDER BY rr.id
    LOOP
        PERFORM erp._check_rule_expression(v_rule.using_expr);
        EXECUTE format(E'CREATE POLICY %I ON %s AS RESTRICTIVE FOR ALL USING ((%s\n)) WITH CHECK ((%s\n))',
                       'pgerp_rule_' || v_rule.id, p_table, v_rule.using_expr, v_rule.using_expr);
    END LOOP;

    SELECT array_agg(DISTINCT r.code ORDER BY r.code) INTO v_roles
      FROM erp.record_rule rr JOIN erp.role r ON r.id = rr.role_id
     WHERE rr.table_name = p_table;
    IF v_roles IS NOT NULL THEN
        v_expr := format('NOT (company_id OPERATOR(pg_catalog.=) ANY (erp.role_companies(%L::text[])))', v_roles);
        FOR v_rule IN SELECT r.code, rr.using_expr FROM erp.record_rule rr JOIN erp.role r ON r.id = rr.role_id
                       WHERE rr.table_name = p_table ORDER BY rr.id
        LOOP
            PERFORM erp._check_rule_expression(v_rule.using_expr);
            v_expr := v_expr || format(E'\n OR (company_id OPERATOR(pg_catalog.=) ANY (erp.role_companies(%L::text[])) AND (%s\n))',
                                       ARRAY[v_rule.code], v_rule.using_expr);
        END LOOP;
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

CREATE FUNCTION erp.add_record_rule(p_table regclass, p_role text, p_using text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_role bigint;
    v_id bigint;
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.record_rule:create');
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
            RAISE EXCEPTION 'role % does not exist', quote_literal(p_role) USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    PERFORM erp._check_rule_expression(p_using);
    INSERT INTO erp.record_rule (table_name, role_id, using_expr)
    VALUES (p_table, v_role, p_using)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.add_record_rule(regclass, text, text) IS
    'Add a record rule (p_role NULL: global, ANDed; else ORed among the roles held); needs erp.record_rule:create';

CREATE FUNCTION erp.drop_record_rule(p_rule bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.record_rule:delete');
    END IF;
    DELETE FROM erp.record_rule WHERE id = p_rule;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'record rule % does not exist', coalesce(p_rule::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;
