-- Declarative encrypted columns (src/crypto/column.c): erp.encrypt_column()
-- turns a text column into AES-256-GCM storage guarded by a BEFORE trigger,
-- with an optional blind index and an api.<table> view that shows clear or
-- masked values by permission. Key retirement and master key rotation.

CREATE TABLE erp.encrypted_column (
    table_name regclass NOT NULL,
    column_name name NOT NULL,
    context text NOT NULL UNIQUE,
    blind_index_column name,
    mask text CHECK (mask IN ('phone', 'email', 'id_number', 'bank_account', 'name')),
    builtin boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_name, column_name)
);
COMMENT ON TABLE erp.encrypted_column IS 'Columns encrypted by erp.encrypt_column(), with their context, blind index column and mask';

CREATE FUNCTION erp.plain(p_text text) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_plain';
COMMENT ON FUNCTION erp.plain(text) IS
    'The bytes of a text value, to write plaintext to an encrypted (bytea) column; its trigger encrypts them';

CREATE FUNCTION erp.reveal(p_cipher bytea, p_context text, p_company bigint, p_mask text) RETURNS text
    LANGUAGE C STABLE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_reveal';
COMMENT ON FUNCTION erp.reveal(bytea, text, bigint, text) IS
    'Clear value for holders of <context>:decrypt on the company bound in the value, masked (**** without a mask kind) for its other users, **** outside it or when p_company differs';

CREATE FUNCTION erp._cipher_key_id(p_cipher bytea) RETURNS bigint
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_cipher_key_id';

CREATE FUNCTION erp._cipher_company(p_cipher bytea) RETURNS bigint
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_cipher_company';

-- p_company binds a value of format 1 (0.1.0, no company) to its row's company
CREATE FUNCTION erp._rewrap(p_cipher bytea, p_context text, p_company bigint) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_rewrap_0_2';

-- Plaintext without a permission check: superusers only (EXECUTE is revoked
-- from PUBLIC and never granted), for encrypt_column's verification.
CREATE FUNCTION erp._open(p_cipher bytea, p_context text) RETURNS text
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_open';

CREATE FUNCTION erp._encrypt_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_encrypt_trigger';

CREATE PROCEDURE erp.reencrypt(p_table regclass, p_column name, p_batch integer DEFAULT 1000)
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_crypto_reencrypt';
COMMENT ON PROCEDURE erp.reencrypt(regclass, name, integer) IS
    'Rewrite values not under the current key, p_batch rows at a time; commits per batch when called outside a transaction block (superuser)';

CREATE FUNCTION erp.rotate_master_key(p_new_key_file text) RETURNS bigint
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_crypto_rotate_master_key';
COMMENT ON FUNCTION erp.rotate_master_key(text) IS
    'Re-wrap every data key under the key in the file, in one transaction (superuser); then point pgerp.master_key_file at it and reload';

-- Granted to application roles like every public function, so that they
-- get this error rather than "permission denied for function".
CREATE FUNCTION erp.require_superuser(p_what text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied to %', p_what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only a superuser may do this.';
    END IF;
END $$;

-- A view of a built-in encrypted table belongs to the extension: outside
-- CREATE EXTENSION it is detached before it is dropped and rebuilt.
CREATE FUNCTION erp._drop_api_view(p_view regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_ext name;
BEGIN
    SELECT e.extname INTO v_ext FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
     WHERE d.classid = 'pg_class'::regclass AND d.objid = p_view AND d.deptype = 'e';
    IF v_ext IS NOT NULL THEN
        BEGIN
            EXECUTE format('ALTER EXTENSION %I DROP VIEW %s', v_ext, p_view);
        EXCEPTION WHEN object_not_in_prerequisite_state OR feature_not_supported THEN
            NULL;  -- inside CREATE EXTENSION: the script may drop its own objects
        END;
    END IF;
    DELETE FROM erp.app_table WHERE table_name = p_view;
    EXECUTE format('DROP VIEW %s', p_view);
END $$;

-- api.<table>: every column but blind indexes, encrypted ones through
-- erp.reveal(). security_invoker, so row security applies to the reader.
CREATE FUNCTION erp._build_encrypted_view(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_name name := (SELECT c.relname FROM pg_class c WHERE c.oid = p_table);
    v_view regclass := to_regclass(format('api.%I', v_name));
    v_has_company boolean;
    v_cols text;
    v_role name;
BEGIN
    IF v_view IS NOT NULL THEN
        PERFORM erp._drop_api_view(v_view);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM erp.encrypted_column e WHERE e.table_name = p_table) THEN
        RETURN;
    END IF;
    v_has_company := EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_table AND a.attname = 'company_id'
                                AND NOT a.attisdropped);
    SELECT string_agg(CASE WHEN e.column_name IS NULL THEN format('t.%I', a.attname)
                           ELSE format('erp.reveal(t.%I, %L, %s, %L) AS %I', a.attname, e.context,
                                       CASE WHEN v_has_company THEN 't.company_id' ELSE 'erp.current_company_id()' END,
                                       e.mask, a.attname) END, ', ' ORDER BY a.attnum)
      INTO v_cols
      FROM pg_attribute a
      LEFT JOIN erp.encrypted_column e ON e.table_name = p_table AND e.column_name = a.attname
     WHERE a.attrelid = p_table AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN (SELECT b.blind_index_column FROM erp.encrypted_column b
                              WHERE b.table_name = p_table AND b.blind_index_column IS NOT NULL);
    EXECUTE format('CREATE VIEW api.%I WITH (security_invoker = true) AS SELECT %s FROM %s t', v_name, v_cols, p_table);
    EXECUTE format('COMMENT ON VIEW api.%I IS %L', v_name,
                   format('%s with encrypted columns shown in clear to holders of their decrypt permission, masked to others', p_table));
    INSERT INTO erp.app_table (table_name, privileges) VALUES (format('api.%I', v_name)::regclass, 'SELECT');
    FOR v_role IN SELECT r.role_name::name FROM erp.app_role r LOOP
        EXECUTE format('GRANT SELECT ON api.%I TO %I', v_name, v_role);
    END LOOP;
END $$;

CREATE FUNCTION erp.encrypt_column(p_table regclass, p_column name, p_searchable boolean DEFAULT false,
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

CREATE FUNCTION erp.decrypt_column(p_table regclass, p_column name)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e erp.encrypted_column;
    v_before bigint;
    v_after bigint;
BEGIN
    PERFORM erp.require_superuser('decrypt a column');
    SELECT * INTO e FROM erp.encrypted_column c WHERE c.table_name = p_table AND c.column_name = p_column;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of % is not an encrypted column', p_column, p_table
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', p_table);
    EXECUTE format('SELECT count(%I) FROM %s', p_column, p_table) INTO v_before;
    DELETE FROM erp.encrypted_column c WHERE c.table_name = p_table AND c.column_name = p_column;
    IF to_regclass(format('api.%I', (SELECT c.relname FROM pg_class c WHERE c.oid = p_table))) IS NOT NULL THEN
        PERFORM erp._drop_api_view(to_regclass(format('api.%I', (SELECT c.relname FROM pg_class c WHERE c.oid = p_table))));
    END IF;
    EXECUTE format('DROP TRIGGER %I ON %s', left('zz_encrypt_' || p_column, 63), p_table);
    EXECUTE format('ALTER TABLE %1$s ALTER COLUMN %2$I TYPE text USING erp._open(%2$I, %3$L)', p_table, p_column, e.context);
    IF e.blind_index_column IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s DROP COLUMN %I', p_table, e.blind_index_column);
    END IF;
    EXECUTE format('COMMENT ON COLUMN %s.%I IS NULL', p_table, p_column);
    EXECUTE format('SELECT count(%I) FROM %s', p_column, p_table) INTO v_after;
    IF v_after <> v_before THEN
        RAISE EXCEPTION 'decrypting column "%" of % lost values', p_column, p_table USING ERRCODE = 'data_corrupted';
    END IF;
    PERFORM erp._build_encrypted_view(p_table);
END $$;
COMMENT ON FUNCTION erp.decrypt_column(regclass, name) IS
    'Reverse erp.encrypt_column(): plaintext text column again, trigger and blind index dropped (superuser)';

CREATE FUNCTION erp.retire_key(p_context text, p_version integer)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    v_newest integer;
    v_parts text[] := string_to_array(p_context, '.');
    v_table regclass;
    v_used bigint := 0;
BEGIN
    PERFORM erp.require_superuser('retire a data key');
    SELECT ck.id, ck.retired_at INTO k FROM erp.crypto_key ck
     WHERE ck.context = p_context AND ck.version = p_version FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'context % has no data key version %', coalesce(quote_literal(p_context), 'NULL'), p_version
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF k.retired_at IS NOT NULL THEN
        RAISE NOTICE 'version % of % is already retired', p_version, p_context;
        RETURN;
    END IF;
    SELECT max(ck.version) INTO v_newest FROM erp.crypto_key ck
     WHERE ck.context = p_context AND ck.retired_at IS NULL;
    IF v_newest = p_version THEN
        RAISE EXCEPTION 'version % is the current key of %', p_version, p_context
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Rotate the key with erp.rotate_key() and re-encrypt with erp.reencrypt() first.';
    END IF;
    v_table := to_regclass(format('%I.%I', v_parts[1], v_parts[2]));
    IF v_table IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = v_table
                                          AND a.attname = v_parts[3] AND a.atttypid = 'bytea'::regtype
                                          AND NOT a.attisdropped) THEN
        -- writers wait until the retirement commits, then use the current key
        EXECUTE format('LOCK TABLE %s IN SHARE MODE', v_table);
        EXECUTE format('SELECT count(*) FROM %s WHERE erp._cipher_key_id(%I) = $1', v_table, v_parts[3])
           INTO v_used USING k.id;
    END IF;
    IF v_used > 0 THEN
        RAISE EXCEPTION 'version % of % is still used by % values', p_version, p_context, v_used
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Run CALL erp.reencrypt(%L, %L) first.', v_table::text, v_parts[3]);
    END IF;
    UPDATE erp.crypto_key SET retired_at = pg_catalog.now() WHERE id = k.id;
END $$;
COMMENT ON FUNCTION erp.retire_key(text, integer) IS
    'Retire an old data key version once no value of its column uses it; retired keys no longer decrypt (superuser)';
