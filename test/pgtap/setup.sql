-- Shared preamble of every pgTAP file, included right after BEGIN with
-- \ir ../setup.sql so that everything it makes rolls back with the test.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- Failed sign-ins are counted in shared memory, outside any transaction:
-- each file starts with none (they would add up across files).
SELECT erp._signin_reset() AS signin_reset \gset

-- A company tree for tests: G (group) with children A and B, and A1 under A.
-- Returns their ids by name. Runs as the superuser with nobody signed in.
CREATE FUNCTION pg_temp.make_tree(OUT g bigint, OUT a bigint, OUT b bigint, OUT a1 bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp.sign_out();
    g := erp.create_company('Test Group');
    a := erp.create_company('Test A', g);
    b := erp.create_company('Test B', g, 'EUR');
    a1 := erp.create_company('Test A1', a);
END $$;

-- A user holding one role on one company; the password is <login>-pass-1.
CREATE FUNCTION pg_temp.make_user(p_login text, p_role text, p_company bigint, p_children boolean DEFAULT true)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM erp.sign_out();
    v_id := erp.create_user(p_login, p_login || '-pass-1');
    IF p_role IS NOT NULL THEN
        PERFORM erp.grant_role(v_id, p_role, p_company, p_children);
    END IF;
    RETURN v_id;
END $$;

-- 'SQLSTATE: detail' of the error a statement raises, 'no error' when it succeeds.
CREATE FUNCTION pg_temp.error_detail(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_detail text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL;
    RETURN v_state || ': ' || coalesce(nullif(v_detail, ''), '<no detail>');
END $$;

-- Sign in as a test user (password <login>-pass-1) without printing the token.
CREATE FUNCTION pg_temp.login(p_login text, p_company bigint DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp.sign_in(p_login, p_login || '-pass-1', p_company);
END $$;

-- An array as a sorted set, to compare company lists whatever their order.
CREATE FUNCTION pg_temp.sorted(p anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(array_agg(x ORDER BY x), p[0:0]) FROM unnest(p) x $$;

-- 'SQLSTATE: message' of the error a statement raises, 'no error' when it succeeds.
CREATE FUNCTION pg_temp.error_message(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
    RETURN v_state || ': ' || v_msg;
END $$;

-- 'SQLSTATE: hint' of the error a statement raises, 'no error' when it succeeds.
CREATE FUNCTION pg_temp.error_hint(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_hint text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_hint = PG_EXCEPTION_HINT;
    RETURN v_state || ': ' || coalesce(nullif(v_hint, ''), '<no hint>');
END $$;
