-- Field encryption keys (src/crypto/): data keys per context, only ever
-- stored wrapped by the master key (pgerp.master_key_file), shared by every
-- company; each value carries its company in its authenticated header
-- (format 2). No function returns a key. The C functions read erp.crypto_key as the extension owner
-- themselves (src/core/owner.c), so they need no SECURITY DEFINER. pg_dump keeps the wrapped keys; a restore needs the same
-- master key file (docs/security.md).

CREATE TABLE erp.crypto_key (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    context text NOT NULL CHECK (context ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$'),
    version integer NOT NULL CHECK (version > 0),
    wrapped_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    retired_at timestamptz,
    UNIQUE (context, version)
);
COMMENT ON TABLE erp.crypto_key IS 'Data keys per schema.table.column and version, wrapped by the master key (AES-256-GCM)';
ALTER TABLE erp.crypto_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.crypto_key FORCE ROW LEVEL SECURITY;

CREATE FUNCTION erp.encrypt(p_plain text, p_context text) RETURNS bytea
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_encrypt';
COMMENT ON FUNCTION erp.encrypt(text, text) IS
    'AES-256-GCM under the context''s current data key, bound to the current company and the context (schema.table.column) as associated data; never makes a key';

CREATE FUNCTION erp.decrypt(p_cipher bytea, p_context text) RETURNS text
    LANGUAGE C STABLE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_decrypt';
COMMENT ON FUNCTION erp.decrypt(bytea, text) IS
    'Decrypt a value of the context; needs <context>:decrypt on the company bound in the value (42501 otherwise); altered values raise 22P03';

-- Internal, superusers only (EXECUTE is never granted): the conversion of
-- erp.encrypt_column(), which binds each value to its row's company and may
-- make version 1 of a registered column's key; and the 0.1.0 format (no
-- company), for tests of the paths that still read it.
CREATE FUNCTION erp._seal(p_plain text, p_context text, p_company bigint) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_seal';
CREATE FUNCTION erp._encrypt_v1(p_plain text, p_context text) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_encrypt_v1';

CREATE FUNCTION erp.blind_index(p_plain text, p_context text) RETURNS bytea
    LANGUAGE C STABLE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_blind_index';
COMMENT ON FUNCTION erp.blind_index(text, text) IS
    'HMAC-SHA256 (HKDF-derived key) of the trimmed value, lower-cased when it holds an @, truncated to 16 bytes';

-- Masks for display: phone 138****5678, email a***@example.com,
-- id_number 110***********1234, bank_account ************1234, name A****.
CREATE FUNCTION erp.mask(p_plain text, p_kind text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n int := char_length(p_plain);
    v_first int;
    v_last int;
    v_at int;
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('phone', 'email', 'id_number', 'bank_account', 'name') THEN
        RAISE EXCEPTION 'invalid mask kind %', coalesce(quote_literal(p_kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The kinds are phone, email, id_number, bank_account and name.';
    END IF;
    IF p_plain IS NULL OR n = 0 THEN
        RETURN p_plain;
    END IF;
    IF p_kind = 'email' THEN
        v_at := strpos(p_plain, '@');
        IF v_at > 1 THEN
            RETURN left(p_plain, 1) || '***' || substr(p_plain, v_at);
        END IF;
        p_kind := 'name';
    END IF;
    SELECT f, l INTO v_first, v_last
      FROM (VALUES ('phone', 3, 4), ('id_number', 3, 4), ('bank_account', 0, 4), ('name', 1, 0)) k(kind, f, l)
     WHERE k.kind = p_kind;
    IF n <= v_first + v_last THEN
        -- too short to show that much: keep at most the first character
        v_first := least(1, n - 1);
        v_last := 0;
    END IF;
    RETURN left(p_plain, v_first) || repeat('*', n - v_first - v_last) || right(p_plain, v_last);
END $$;

CREATE FUNCTION erp.rotate_key(p_context text) RETURNS integer
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_rotate_key';
COMMENT ON FUNCTION erp.rotate_key(text) IS
    'A new data key version for new writes (superuser: a key is shared by every company); older versions still decrypt';

-- Every backend drops its cached "current key" of a context when keys change.
CREATE TRIGGER crypto_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.crypto_key
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
