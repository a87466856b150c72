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
