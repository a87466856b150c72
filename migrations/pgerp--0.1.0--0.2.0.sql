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
    ('erp.add_record_rule(regclass,text,text)'),
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


-- ==== accounts, tokens and sessions (#11.4, 13, 16, 18) ====


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


-- ==== numeric and date bounds (#11.8, 11, 17) ====


-- ==== audit (#11.15) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA erp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erp FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
