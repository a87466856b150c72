-- The verified session: identity set only by C code after a password or a
-- token check. The readers are PARALLEL RESTRICTED: parallel workers do not
-- share the leader's backend memory.

CREATE FUNCTION erp._password_hash(p_password text) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_password_hash';

CREATE FUNCTION erp._random_bytes(p_count int) RETURNS bytea
    LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'pgerp_core_random_bytes';

INSERT INTO erp.secret (name, value) VALUES ('jwt', erp._random_bytes(32));

CREATE FUNCTION erp.sign_in(p_login text, p_password text, p_company bigint DEFAULT NULL) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pgerp_core_sign_in_0_2';
COMMENT ON FUNCTION erp.sign_in(text, text, bigint) IS
    'Verify a password, act as that user in the given (or default) company, return a signed access token';

-- Not SECURITY DEFINER: its C code reads the signing key and the user's
-- state as the extension owner itself (src/core/owner.c), so every HTTP
-- request's identity switch saves the definer call's settings round.
CREATE FUNCTION erp.use_token(p_token text, p_local boolean DEFAULT false) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'pgerp_core_use_token_0_2';
COMMENT ON FUNCTION erp.use_token(text, boolean) IS
    'Verify an access token (refused once revoked) and act as its user; with p_local the identity ends with the transaction';

CREATE FUNCTION erp.switch_company(p_company bigint) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_switch_company';

CREATE FUNCTION erp._switch_token(p_company bigint, OUT token text, OUT expires_at timestamptz)
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_switch_token';
COMMENT ON FUNCTION erp._switch_token(bigint) IS
    'erp.switch_company, then a new access token for the signed-in user in that company (api.switch_company)';

-- The revocation writes erp.app_user as the extension owner (src/core/signin.c).
CREATE FUNCTION erp.sign_out() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_sign_out_0_2';
COMMENT ON FUNCTION erp.sign_out() IS
    'Stop acting as anybody, even if the transaction rolls back, and revoke every token of the user issued so far';

CREATE FUNCTION erp.current_user_id() RETURNS bigint
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_core_current_user_id';

CREATE FUNCTION erp.current_company_id() RETURNS bigint
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_core_current_company_id';

-- Called by the writers of stock, mrp and purchase where they would answer
-- "does not exist" or "permission denied": a session that acts as nobody (a
-- new connection, a reconnect after a failover, a sign-out) gets 28000, which
-- says what is wrong (#14.5). The bootstrap superuser passes, as before.
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
