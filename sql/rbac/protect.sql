-- Company-scoped row security for a table with a company_id column.
-- erp.company_allowed(company_id, '<code>') is folded when the statement is
-- planned (src/rbac/acl.c) into the cheapest exact test on company_id: false,
-- "= c", a range of consecutive ids, or "= ANY (constant array)". The planner
-- sees the real companies, indexes on company_id or on any other column serve
-- lookups, and nothing but that test is evaluated per row.
-- Cached plans are dropped or refused when rights change (src/rbac/acl.c).

CREATE FUNCTION erp.protect(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_code text;
    v_type regtype;
BEGIN
    IF p_table IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT n.nspname || '.' || c.relname INTO v_code
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = p_table AND c.relkind IN ('r', 'p');
    IF v_code IS NULL THEN
        RAISE EXCEPTION '% is not a table', p_table USING ERRCODE = 'wrong_object_type';
    END IF;
    IF v_code !~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$' THEN
        RAISE EXCEPTION 'cannot protect table %', p_table
            USING ERRCODE = 'invalid_name',
                  DETAIL = 'Permission codes need lower-case schema and table names.';
    END IF;
    SELECT a.atttypid::regtype INTO v_type FROM pg_attribute a
     WHERE a.attrelid = p_table AND a.attname = 'company_id' AND NOT a.attisdropped;
    IF v_type IS NULL OR v_type <> 'bigint'::regtype THEN
        RAISE EXCEPTION 'table % has no bigint column company_id', p_table
            USING ERRCODE = 'invalid_table_definition';
    END IF;

    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
    EXECUTE format('DROP POLICY IF EXISTS pgerp_read ON %s', p_table);
    EXECUTE format('DROP POLICY IF EXISTS pgerp_create ON %s', p_table);
    EXECUTE format('DROP POLICY IF EXISTS pgerp_write ON %s', p_table);
    EXECUTE format('DROP POLICY IF EXISTS pgerp_delete ON %s', p_table);
    EXECUTE format($p$CREATE POLICY pgerp_read ON %s FOR SELECT
        USING (erp.company_allowed(company_id, %L))$p$,
        p_table, v_code || ':read');
    EXECUTE format($p$CREATE POLICY pgerp_create ON %s FOR INSERT
        WITH CHECK (erp.company_allowed(company_id, %L))$p$,
        p_table, v_code || ':create');
    EXECUTE format($p$CREATE POLICY pgerp_write ON %s FOR UPDATE
        USING (erp.company_allowed(company_id, %L))
        WITH CHECK (erp.company_allowed(company_id, %L))$p$,
        p_table, v_code || ':write', v_code || ':write');
    EXECUTE format($p$CREATE POLICY pgerp_delete ON %s FOR DELETE
        USING (erp.company_allowed(company_id, %L))$p$,
        p_table, v_code || ':delete');
END $$;
COMMENT ON FUNCTION erp.protect(regclass) IS
    'Enable and force company-scoped row security: <schema>.<table>:read|create|write|delete per company';
