-- Schemas and the registries that later extensions extend.
-- Schema erp is created by CREATE EXTENSION (pgerp.control: schema = erp).

CREATE SCHEMA api;
COMMENT ON SCHEMA erp IS 'pgerp core: companies, users, roles, sessions and row security';
COMMENT ON SCHEMA api IS 'pgerp: what the HTTP daemon exposes';

-- Schemas whose functions an application role may execute (erp.grant_app_access).
CREATE TABLE erp.app_schema (
    schema_name name PRIMARY KEY
);

-- Table privileges an application role gets; row security does the rest.
CREATE TABLE erp.app_table (
    table_name regclass PRIMARY KEY,
    privileges text NOT NULL
        CHECK (privileges ~ '^(SELECT|INSERT|UPDATE|DELETE)( \([a-z_, ]+\))?(, (SELECT|INSERT|UPDATE|DELETE)( \([a-z_, ]+\))?)*$')
);

-- Routines an application role may execute: an explicit allow-list, one
-- line per published routine in each extension's publish.sql, so that
-- publishing a function is a visible line in review. Signatures are text
-- (resolved with to_regprocedure) so that a routine recreated by an upgrade
-- stays published.
CREATE TABLE erp.app_routine (
    routine text PRIMARY KEY
);

-- Roles that erp.grant_app_access() was called for; each extension script
-- re-applies the grants so that a later CREATE EXTENSION reaches them too.
CREATE TABLE erp.app_role (
    role_name regrole PRIMARY KEY
);

INSERT INTO erp.app_schema VALUES ('erp'), ('api');

-- Secrets only the extension owner can read. Not dumped on purpose: a
-- restored database gets a new token signing secret.
CREATE TABLE erp.secret (
    name text PRIMARY KEY,
    value bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- A value as error messages echo it: quoted, at most 64 characters
-- (src/core/echo.c does the same in C), 'NULL' for null.
CREATE FUNCTION erp._echo(p_value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_value IS NULL THEN 'NULL'
                WHEN pg_catalog.length(p_value) <= 64 THEN pg_catalog.quote_literal(p_value)
                ELSE pg_catalog.quote_literal(pg_catalog.left(p_value, 61) || '...') END
$$;
