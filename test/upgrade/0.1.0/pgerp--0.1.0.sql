-- pgerp 0.1.0 as released: assembled from extension/pgerp.manifest, frozen (test/upgrade/README.md)
\echo Use "CREATE EXTENSION pgerp" to load this file. \quit

-- sql/core/schema.sql
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

-- sql/core/session.sql
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
    AS 'MODULE_PATHNAME', 'pgerp_core_sign_in';
COMMENT ON FUNCTION erp.sign_in(text, text, bigint) IS
    'Verify a password, act as that user in the given (or default) company, return a signed access token';

CREATE FUNCTION erp.use_token(p_token text, p_local boolean DEFAULT false) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'pgerp_core_use_token';
COMMENT ON FUNCTION erp.use_token(text, boolean) IS
    'Verify an access token and act as its user; with p_local the identity ends with the transaction';

CREATE FUNCTION erp.switch_company(p_company bigint) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_switch_company';

CREATE FUNCTION erp.sign_out() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_core_sign_out';

CREATE FUNCTION erp.current_user_id() RETURNS bigint
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_core_current_user_id';

CREATE FUNCTION erp.current_company_id() RETURNS bigint
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_core_current_company_id';

-- sql/rbac/acl.sql
-- Readers of the per-backend ACL cache (src/rbac/acl.c).

CREATE FUNCTION erp.allowed_company_ids() RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_allowed_company_ids';
COMMENT ON FUNCTION erp.allowed_company_ids() IS
    'Companies the acting user holds a role on, directly or through a parent';

CREATE FUNCTION erp.has_permission(p_code text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_has_permission';
COMMENT ON FUNCTION erp.has_permission(text) IS
    'Does the acting user hold this permission in the current company';

-- Support functions fold the lists into constants at plan time (src/rbac/acl.c).
CREATE FUNCTION erp._permitted_companies_support(internal) RETURNS internal
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'pgerp_rbac_permitted_companies_support';
CREATE FUNCTION erp._role_companies_support(internal) RETURNS internal
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'pgerp_rbac_role_companies_support';

CREATE FUNCTION erp.permitted_companies(p_code text) RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED SUPPORT erp._permitted_companies_support
    AS 'MODULE_PATHNAME', 'pgerp_rbac_permitted_companies';
COMMENT ON FUNCTION erp.permitted_companies(text) IS
    'Companies in which the acting user holds this permission (what row security policies use)';

CREATE FUNCTION erp._company_allowed_support(internal) RETURNS internal
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'pgerp_rbac_company_allowed_support';

CREATE FUNCTION erp.company_allowed(p_company bigint, p_code text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED SUPPORT erp._company_allowed_support
    AS 'MODULE_PATHNAME', 'pgerp_rbac_company_allowed';
COMMENT ON FUNCTION erp.company_allowed(bigint, text) IS
    'Does the acting user hold the permission on that company; in policies the planner folds it into a constant test';

CREATE FUNCTION erp.role_companies(p_roles text[]) RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED SUPPORT erp._role_companies_support
    AS 'MODULE_PATHNAME', 'pgerp_rbac_role_companies';
COMMENT ON FUNCTION erp.role_companies(text[]) IS
    'Companies in which the acting user holds any of these roles (what record rules use)';

CREATE FUNCTION erp.require_permission(p_code text, p_company bigint DEFAULT NULL) RETURNS void
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_require';
COMMENT ON FUNCTION erp.require_permission(text, bigint) IS
    'Raise 42501 naming the permission unless the acting user holds it on the company (default: current)';

CREATE FUNCTION erp._covers(p_company bigint, p_patterns text[]) RETURNS boolean
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_covers';

CREATE FUNCTION erp._is_bootstrap() RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_core_is_bootstrap';

CREATE FUNCTION erp._check_permission_patterns(p_patterns text[]) RETURNS void
    LANGUAGE C IMMUTABLE AS 'MODULE_PATHNAME', 'pgerp_rbac_check_patterns';

CREATE FUNCTION erp._check_rule_expression(p_expr text) RETURNS void
    LANGUAGE C IMMUTABLE AS 'MODULE_PATHNAME', 'pgerp_rbac_check_rule_expression';

-- Statement trigger sending a relcache invalidation for its table: the ACL
-- tables use it (ACL cache, folded plans) and so does erp.crypto_key (cached
-- current keys); each backend's callbacks decide what the table means to them.
CREATE FUNCTION erp._acl_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_rbac_acl_changed';

-- sql/core/company.sql
-- Companies form a tree: group -> subsidiaries -> branches/stores.
-- company_id mirrors id so that erp.protect() treats this table like any
-- other (a user sees the companies they hold erp.company:read on).

CREATE TABLE erp.company (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id bigint GENERATED ALWAYS AS (id) STORED NOT NULL,
    parent_id bigint REFERENCES erp.company (id),
    name text NOT NULL CHECK (name ~ '\S'),
    currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    price_precision integer NOT NULL DEFAULT 2 CHECK (price_precision BETWEEN 0 AND 6),
    currency_rounding numeric NOT NULL DEFAULT 0.01 CHECK (currency_rounding > 0),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX company_parent_idx ON erp.company (parent_id);
COMMENT ON TABLE erp.company IS 'Companies; a tree through parent_id. A reference table when distributed.';
COMMENT ON COLUMN erp.company.price_precision IS 'Decimal places of unit costs and prices';
COMMENT ON COLUMN erp.company.currency_rounding IS 'Smallest amount of the currency; money is rounded to it';

-- Moving a company may not make it its own ancestor.
CREATE FUNCTION erp._company_check_tree() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_path bigint[] := ARRAY[NEW.id];
    v_cur bigint := NEW.parent_id;
BEGIN
    WHILE v_cur IS NOT NULL LOOP
        v_path := v_path || v_cur;
        IF v_cur = NEW.id THEN
            RAISE EXCEPTION 'company tree would contain a cycle'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The path would be %s.', array_to_string(v_path, ' -> '));
        END IF;
        SELECT c.parent_id INTO v_cur FROM erp.company c WHERE c.id = v_cur;
    END LOOP;
    RETURN NEW;
END $$;

CREATE TRIGGER company_check_tree BEFORE UPDATE OF parent_id ON erp.company
    FOR EACH ROW WHEN (NEW.parent_id IS DISTINCT FROM OLD.parent_id)
    EXECUTE FUNCTION erp._company_check_tree();

CREATE FUNCTION erp.create_company(p_name text, p_parent bigint DEFAULT NULL, p_currency text DEFAULT 'USD')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'company name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_currency IS NULL OR p_currency !~ '^[A-Z]{3}$' THEN
        RAISE EXCEPTION 'invalid currency code %', coalesce(quote_literal(p_currency), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A currency is an ISO 4217 code of three capital letters, such as USD or CNY.';
    END IF;
    IF p_parent IS NULL THEN
        IF NOT erp._is_bootstrap() THEN
            RAISE EXCEPTION 'permission denied for "erp.company:create"'
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Only a superuser with nobody signed in creates a top-level company.',
                      HINT = 'Create the company under a parent you hold erp.company:create on.';
        END IF;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_parent) THEN
            RAISE EXCEPTION 'company % does not exist', p_parent USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM erp.require_permission('erp.company:create', p_parent);
    END IF;
    INSERT INTO erp.company (parent_id, name, currency)
    VALUES (p_parent, btrim(p_name, E' \t\r\n\f'), p_currency)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_company(text, bigint, text) IS
    'Create a company under p_parent (needs erp.company:create there); top-level companies need a superuser';

-- sql/core/user.sql
-- Users of the ERP (not PostgreSQL roles). Passwords are kept only as scrypt
-- hashes; nothing returns or raises them. A reference table when distributed:
-- users act across companies through erp.user_role.

CREATE TABLE erp.app_user (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login text NOT NULL CHECK (login ~ '^[A-Za-z0-9._@+-]{1,128}$'),
    name text NOT NULL,
    password_hash text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE UNIQUE INDEX app_user_login_key ON erp.app_user (pg_catalog.lower(login));
COMMENT ON TABLE erp.app_user IS 'ERP users; logins are unique regardless of case';

CREATE FUNCTION erp.create_user(p_login text, p_password text, p_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_login text := btrim(p_login, E' \t\r\n\f');
    v_id bigint;
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.app_user:create');
    END IF;
    IF v_login IS NULL OR v_login !~ '^[A-Za-z0-9._@+-]{1,128}$' THEN
        RAISE EXCEPTION 'invalid login %', coalesce(quote_literal(p_login), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A login is 1 to 128 letters, digits or the characters . _ @ + -.';
    END IF;
    IF EXISTS (SELECT 1 FROM erp.app_user u WHERE lower(u.login) = lower(v_login)) THEN
        RAISE EXCEPTION 'login % is already taken', quote_literal(v_login) USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO erp.app_user (login, name, password_hash)
    VALUES (v_login, coalesce(nullif(btrim(p_name, E' \t\r\n\f'), ''), v_login), erp._password_hash(p_password))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_user(text, text, text) IS
    'Create an ERP user (needs erp.app_user:create); the password is stored as an scrypt hash';

-- A user may change their own password. Changing someone else's needs
-- erp.app_user:write on every company the target holds a role on, so an
-- administrator of one subsidiary cannot take over a user of another.
CREATE FUNCTION erp.set_password(p_user bigint, p_password text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_company bigint;
    v_any boolean := false;
BEGIN
    IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM erp.app_user u WHERE u.id = p_user) THEN
        RAISE EXCEPTION 'user % does not exist', coalesce(p_user::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT erp._is_bootstrap() AND p_user IS DISTINCT FROM erp.current_user_id() THEN
        FOR v_company IN SELECT DISTINCT ur.company_id FROM erp.user_role ur WHERE ur.user_id = p_user LOOP
            PERFORM erp.require_permission('erp.app_user:write', v_company);
            v_any := true;
        END LOOP;
        IF NOT v_any THEN
            PERFORM erp.require_permission('erp.app_user:write');
        END IF;
    END IF;
    UPDATE erp.app_user
       SET password_hash = erp._password_hash(p_password), password_changed_at = now()
     WHERE id = p_user;
END $$;
COMMENT ON FUNCTION erp.set_password(bigint, text) IS
    'Change a password: your own, or one of a user whose every company you hold erp.app_user:write on';

-- sql/core/partner.sql
-- Customers and vendors of a company.

CREATE TABLE erp.partner (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL CHECK (name ~ '\S'),
    kind text NOT NULL DEFAULT 'vendor' CHECK (kind IN ('customer', 'vendor', 'both')),
    email text,
    phone text,
    tax_id text,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, id)
);
CREATE INDEX partner_id_idx ON erp.partner (id);
CREATE INDEX partner_name_idx ON erp.partner (company_id, name);
COMMENT ON TABLE erp.partner IS 'Customers and vendors; kind is customer, vendor or both';

-- SECURITY INVOKER: the INSERT goes through row security as the caller.
CREATE FUNCTION erp.create_partner(p_company bigint, p_name text, p_kind text DEFAULT 'vendor',
                                   p_email text DEFAULT NULL, p_phone text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM erp.require_permission('erp.partner:create', p_company);
    -- a signed-in user holding the permission on it proves the company exists
    -- (and needs no erp.company:read); the bootstrap caller sees every row
    IF erp.current_user_id() IS NULL AND NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', p_company USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'partner name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('customer', 'vendor', 'both') THEN
        RAISE EXCEPTION 'invalid partner kind %', coalesce(quote_literal(p_kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A partner is a customer, a vendor or both.';
    END IF;
    IF p_email IS NOT NULL AND btrim(p_email, E' \t\r\n\f') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' THEN
        -- the address is not repeated: errors reach the server log, and
        -- e-mail addresses are stored encrypted
        RAISE EXCEPTION 'invalid e-mail address'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An e-mail address has the form name@domain.tld, without spaces.';
    END IF;
    INSERT INTO erp.partner (company_id, name, kind, email, phone)
    VALUES (p_company, btrim(p_name, E' \t\r\n\f'), p_kind,
            -- plaintext bytes: the encryption trigger seals them (sql/crypto/defaults.sql)
            erp.plain(nullif(btrim(p_email, E' \t\r\n\f'), '')), erp.plain(nullif(btrim(p_phone, E' \t\r\n\f'), '')))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_partner(bigint, text, text, text, text) IS
    'Create a customer or vendor of a company (needs erp.partner:create there)';

-- sql/rbac/role.sql
-- Roles: named sets of permission patterns (see docs/security.md).
-- A reference table when distributed: roles are the same in every company;
-- where they apply is said by erp.user_role.

CREATE TABLE erp.role (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
    name text NOT NULL,
    permissions text[] NOT NULL DEFAULT '{}',
    builtin boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE erp.role IS 'Roles: permission patterns such as stock.move:read, stock.*:read or *';

CREATE FUNCTION erp.create_role(p_code text, p_name text, p_permissions text[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.role:create');
    END IF;
    IF p_code IS NULL OR p_code !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid role code %', coalesce(quote_literal(p_code), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A role code is a lower-case letter followed by up to 62 letters, digits or underscores.';
    END IF;
    IF p_name IS NULL OR btrim(p_name, E' \t\r\n\f') = '' THEN
        RAISE EXCEPTION 'role name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM erp._check_permission_patterns(p_permissions);
    IF EXISTS (SELECT 1 FROM erp.role r WHERE r.code = p_code) THEN
        RAISE EXCEPTION 'role % already exists', quote_literal(p_code) USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO erp.role (code, name, permissions)
    VALUES (p_code, btrim(p_name, E' \t\r\n\f'), ARRAY(SELECT DISTINCT unnest(p_permissions) ORDER BY 1))
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.create_role(text, text, text[]) IS
    'Create a role from permission patterns (needs erp.role:create)';

INSERT INTO erp.role (code, name, permissions, builtin) VALUES
    ('admin', 'Administrator', '{*}', true),
    ('auditor', 'Auditor (read-only everywhere)', '{*:read}', true),
    ('stock_user', 'Inventory user',
        '{erp.company:read,erp.partner:read,stock.*:read,stock.move:create,stock.move:write,stock.move:validate}', true),
    ('stock_manager', 'Inventory manager',
        '{erp.company:read,erp.partner:*,stock.*:*}', true),
    ('mrp_planner', 'Production planner',
        '{erp.company:read,erp.partner:read,stock.*:read,stock.move:*,stock.valuation:revalue,mrp.*:*,purchase.*:read}', true),
    ('purchase_user', 'Purchase user',
        '{erp.company:read,erp.partner:*,stock.*:read,stock.move:create,stock.move:write,stock.move:validate,purchase.*:*}', true);

-- sql/rbac/grant.sql
-- Which user holds which role on which company. A grant with
-- include_children reaches every descendant of the company.

CREATE TABLE erp.user_role (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    user_id bigint NOT NULL REFERENCES erp.app_user (id) ON DELETE CASCADE,
    role_id bigint NOT NULL REFERENCES erp.role (id) ON DELETE CASCADE,
    include_children boolean NOT NULL DEFAULT true,
    granted_by bigint REFERENCES erp.app_user (id),
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, user_id, role_id)
);
CREATE INDEX user_role_user_idx ON erp.user_role (user_id);
COMMENT ON TABLE erp.user_role IS 'Role grants: a user holds a role on a company (and its descendants with include_children)';

CREATE FUNCTION erp._lookup_grant_args(p_user bigint, p_role text, p_company bigint,
                                       OUT o_role_id bigint, OUT o_permissions text[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM erp.app_user u WHERE u.id = p_user) THEN
        RAISE EXCEPTION 'user % does not exist', coalesce(p_user::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT r.id, r.permissions INTO o_role_id, o_permissions FROM erp.role r WHERE r.code = p_role;
    IF o_role_id IS NULL THEN
        RAISE EXCEPTION 'role % does not exist', coalesce(quote_literal(p_role), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_company IS NULL OR NOT EXISTS (SELECT 1 FROM erp.company c WHERE c.id = p_company) THEN
        RAISE EXCEPTION 'company % does not exist', coalesce(p_company::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;

-- A granter may hand out only what they hold, on the company and, for a grant
-- that reaches children, on every descendant too.
CREATE FUNCTION erp.grant_role(p_user bigint, p_role text, p_company bigint, p_include_children boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_role bigint;
    v_perms text[];
    v_company bigint;
BEGIN
    SELECT o_role_id, o_permissions INTO v_role, v_perms FROM erp._lookup_grant_args(p_user, p_role, p_company);
    IF p_include_children IS NULL THEN
        RAISE EXCEPTION 'include_children must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.user_role:create', p_company);
        FOR v_company IN
            WITH RECURSIVE d(id) AS (
                SELECT p_company
                UNION ALL
                SELECT c.id FROM erp.company c JOIN d ON c.parent_id = d.id WHERE p_include_children)
            SELECT id FROM d
        LOOP
            IF NOT erp._covers(v_company, v_perms) THEN
                RAISE EXCEPTION 'permission denied to grant role %', quote_literal(p_role)
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = format('The role grants permissions you do not hold on company %s.', v_company);
            END IF;
        END LOOP;
    END IF;
    INSERT INTO erp.user_role (company_id, user_id, role_id, include_children, granted_by)
    VALUES (p_company, p_user, v_role, p_include_children, erp.current_user_id())
    ON CONFLICT (company_id, user_id, role_id)
    DO UPDATE SET include_children = EXCLUDED.include_children,
                  granted_by = EXCLUDED.granted_by, granted_at = now();
END $$;
COMMENT ON FUNCTION erp.grant_role(bigint, text, bigint, boolean) IS
    'Grant a role on a company (needs erp.user_role:create there and every permission of the role)';

CREATE FUNCTION erp.revoke_role(p_user bigint, p_role text, p_company bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_role bigint;
BEGIN
    SELECT o_role_id INTO v_role FROM erp._lookup_grant_args(p_user, p_role, p_company);
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp.require_permission('erp.user_role:delete', p_company);
    END IF;
    DELETE FROM erp.user_role ur
     WHERE ur.company_id = p_company AND ur.user_id = p_user AND ur.role_id = v_role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % holds no role % on company %', p_user, quote_literal(p_role), p_company
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;
COMMENT ON FUNCTION erp.revoke_role(bigint, text, bigint) IS
    'Revoke a role grant (needs erp.user_role:delete on the company)';

-- sql/rbac/protect.sql
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

-- sql/rbac/record_rule.sql
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

-- sql/rbac/app_access.sql
-- What an application role needs to use the pack through row security.

CREATE FUNCTION erp._apply_app_access(p_role regrole)
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
        FOR v_fn IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = v_schema AND p.proname !~ '^_'
        LOOP
            EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %s', v_fn, p_role);
        END LOOP;
    END LOOP;
    -- rows left by a dropped extension point at tables that no longer exist
    FOR v_tab IN SELECT t.table_name, t.privileges FROM erp.app_table t
                  WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.table_name) LOOP
        EXECUTE format('GRANT %s ON TABLE %s TO %s', v_tab.privileges, v_tab.table_name, p_role);
    END LOOP;
END $$;

CREATE FUNCTION erp.grant_app_access(p_role regrole)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_super boolean;
    v_bypass boolean;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied to grant application access'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only a superuser may call erp.grant_app_access().';
    END IF;
    IF p_role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT r.rolsuper, r.rolbypassrls INTO v_super, v_bypass FROM pg_roles r WHERE r.oid = p_role;
    IF v_super OR v_bypass THEN
        RAISE EXCEPTION 'role % bypasses row security', p_role
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers and roles with BYPASSRLS ignore every company and permission check.',
                  HINT = 'Use a role created with NOSUPERUSER NOBYPASSRLS.';
    END IF;
    INSERT INTO erp.app_role VALUES (p_role) ON CONFLICT DO NOTHING;
    PERFORM erp._apply_app_access(p_role);
END $$;
COMMENT ON FUNCTION erp.grant_app_access(regrole) IS
    'Grant an existing role what an application needs (schemas, functions, tables) under row security; superuser only';

-- sql/crypto/keys.sql
-- Field encryption keys (src/crypto/): data keys per context, only ever
-- stored wrapped by the master key (pgerp.master_key_file). No function
-- returns a key. The C functions read erp.crypto_key as the extension owner
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
    'AES-256-GCM under the context''s current data key; the context (schema.table.column) is bound as associated data';

CREATE FUNCTION erp.decrypt(p_cipher bytea, p_context text) RETURNS text
    LANGUAGE C STABLE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_decrypt';
COMMENT ON FUNCTION erp.decrypt(bytea, text) IS
    'Decrypt a value of the context; needs <context>:decrypt in the current company; altered values raise 22P03';

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
    'A new data key version for new writes (needs erp.crypto_key:create); older versions still decrypt';

-- Every backend drops its cached "current key" of a context when keys change.
CREATE TRIGGER crypto_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.crypto_key
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();

-- sql/crypto/column.sql
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
    'Clear value for holders of <context>:decrypt on the company, masked value (**** without a mask kind) for others';

CREATE FUNCTION erp._cipher_key_id(p_cipher bytea) RETURNS bigint
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_cipher_key_id';

CREATE FUNCTION erp._rewrap(p_cipher bytea, p_context text) RETURNS bytea
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'pgerp_crypto_rewrap';

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
    IF v_before.v > 0 THEN
        PERFORM erp.encrypt('', v_context);  -- fails early, with the hint, without a master key
    END IF;

    INSERT INTO erp.encrypted_column (table_name, column_name, context, blind_index_column, mask)
    VALUES (p_table, p_column, v_context, v_bidx, p_mask);
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
        EXECUTE format('ALTER TABLE %1$s ALTER COLUMN %2$I TYPE bytea USING erp.encrypt(%2$I, %3$L),'
                       ' ALTER COLUMN %4$I TYPE bytea USING erp.blind_index(%2$I, %3$L)',
                       p_table, p_column, v_context, v_bidx);
        EXECUTE format('CREATE INDEX %I ON %s (%s%I)', left(v_name || '_' || v_bidx || '_idx', 63), p_table,
                       CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_table
                                            AND a.attname = 'company_id' AND NOT a.attisdropped)
                            THEN 'company_id, ' ELSE '' END, v_bidx);
    ELSE
        EXECUTE format('ALTER TABLE %1$s ALTER COLUMN %2$I TYPE bytea USING erp.encrypt(%2$I, %3$L)',
                       p_table, p_column, v_context);
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

-- sql/crypto/defaults.sql
-- Partner e-mail and phone are encrypted from the start: searchable by blind
-- index (erp.blind_index(value, 'erp.partner.email')), masked in api.partner
-- for users without erp.partner.email:decrypt / erp.partner.phone:decrypt.
SELECT erp.encrypt_column('erp.partner', 'email', true, 'email');
SELECT erp.encrypt_column('erp.partner', 'phone', true, 'phone');
UPDATE erp.encrypted_column SET builtin = true;

-- sql/audit/log.sql
-- Tamper-evident audit trail (src/audit/trigger.c, docs/security.md).
--
-- Writers append entries with no hash and never wait for each other.
-- erp.audit_seal() (pg_cron, every minute) chains the entries of settled
-- transactions, in (transaction id, entry id) order, with SHA-256 over the
-- previous hash and the entry; erp.audit_verify() recomputes the chain.

CREATE TABLE erp.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id bigint,
    user_id bigint,
    db_role text NOT NULL,
    tx xid8 NOT NULL,
    at timestamptz NOT NULL,
    rel text NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update', 'delete', 'truncate', 'purge', 'unaudit')),
    pk jsonb,
    changes jsonb NOT NULL
);
CREATE INDEX audit_log_tx_idx ON erp.audit_log (tx);
COMMENT ON TABLE erp.audit_log IS
    'Append-only audit trail: who (pgerp user, database role), when, transaction, company, table, key and changes (bytea columns redacted)';
COMMENT ON COLUMN erp.audit_log.changes IS
    'insert/delete: {column: value}; update: {column: [old, new]} of the changed columns; values as text, bytea as [redacted]';

-- The chain: entry seq holds sha256(hash of seq-1 || entry text).
CREATE TABLE erp.audit_chain (
    seq bigint PRIMARY KEY,
    entry_id bigint NOT NULL UNIQUE,
    hash bytea NOT NULL
);
COMMENT ON TABLE erp.audit_chain IS 'Hash chain over erp.audit_log, in sealing order (see erp.audit_seal)';

CREATE TABLE erp.audit_seal_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    system_id bigint NOT NULL,       -- the cluster that sealed; another one (a restore) rescans
    tx_done xid8 NOT NULL,           -- every entry of a transaction below this is sealed
    last_seq bigint NOT NULL,
    last_hash bytea NOT NULL,
    anchor_seq bigint NOT NULL DEFAULT 0,      -- chain entries up to here were purged
    anchor_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
);
COMMENT ON TABLE erp.audit_seal_state IS 'Head of the audit hash chain and how far sealing got';

CREATE FUNCTION erp._audit_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_audit_trigger';

CREATE FUNCTION erp._audit_note(p_rel text, p_op text, p_changes jsonb) RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_audit_note';

-- The bytes an entry's hash covers: independent of DateStyle and TimeZone.
CREATE FUNCTION erp._audit_entry_bytes(l erp.audit_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT convert_to(jsonb_build_array(l.id, l.company_id, l.user_id, l.db_role, l.tx::text,
                                        to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                        l.rel, l.op, l.pk, l.changes)::text, 'UTF8')
$$;

-- Refuse UPDATE, DELETE and TRUNCATE, whoever asks. erp.audit_purge()
-- (superusers) works with session_replication_role = replica, under which
-- these triggers do not fire, and leaves an entry saying what it removed.
CREATE FUNCTION erp._audit_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('%s on %s.%s is refused.', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
              HINT = 'Superusers remove old entries with erp.audit_purge().';
END $$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON erp.audit_log
    FOR EACH ROW EXECUTE FUNCTION erp._audit_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON erp.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON erp.audit_chain
    FOR EACH ROW EXECUTE FUNCTION erp._audit_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON erp.audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_append_only();

-- Entries of a company are read with erp.audit_log:read on it; entries of
-- tables without a company (keys, roles) with that permission on the
-- selected company.
ALTER TABLE erp.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY pgerp_read ON erp.audit_log FOR SELECT
    USING (CASE WHEN company_id IS NULL THEN erp.has_permission('erp.audit_log:read')
                ELSE erp.company_allowed(company_id, 'erp.audit_log:read') END);
ALTER TABLE erp.audit_chain ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.audit_seal_state ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION erp.audit(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rel regclass;
BEGIN
    PERFORM erp.require_superuser('audit a table');
    IF p_table IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_table IN ('erp.audit_log'::regclass, 'erp.audit_chain'::regclass, 'erp.audit_seal_state'::regclass) THEN
        RAISE EXCEPTION 'the audit tables cannot be audited' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p_table AND c.relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION '% is not a table', p_table USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit') THEN
        -- on a partitioned table the row trigger is cloned to every partition, present and future
        EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION erp._audit_trigger()', p_table);
    END IF;
    -- statement triggers are not cloned: each leaf partition gets its own
    -- TRUNCATE trigger, and entries name the partition, as row entries do
    -- (a partition attached later needs another call of erp.audit on the parent)
    FOR v_rel IN SELECT p_table WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = p_table) = 'r'
                  UNION SELECT t.relid FROM pg_partition_tree(p_table) t WHERE t.isleaf
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = v_rel AND g.tgname = 'audit_truncate');
        EXECUTE format('CREATE TRIGGER audit_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_trigger()', v_rel);
    END LOOP;
END $$;
COMMENT ON FUNCTION erp.audit(regclass) IS
    'Record every INSERT, UPDATE, DELETE and TRUNCATE of the table in erp.audit_log (superuser)';

CREATE FUNCTION erp.unaudit(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rel regclass;
BEGIN
    PERFORM erp.require_superuser('stop auditing a table');
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit') THEN
        RAISE EXCEPTION '% is not audited', p_table USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit' AND t.tgparentid <> 0) THEN
        RAISE EXCEPTION '% is audited through its partitioned table', p_table
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Call erp.unaudit() on the partitioned table.';
    END IF;
    EXECUTE format('DROP TRIGGER audit ON %s', p_table);
    FOR v_rel IN SELECT r FROM (SELECT p_table AS r UNION SELECT t.relid FROM pg_partition_tree(p_table) t) x
                  WHERE EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.r AND g.tgname = 'audit_truncate')
    LOOP
        EXECUTE format('DROP TRIGGER audit_truncate ON %s', v_rel);
    END LOOP;
    PERFORM erp._audit_note((SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c
                               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table),
                            'unaudit', '{}');
END $$;
COMMENT ON FUNCTION erp.unaudit(regclass) IS 'Stop auditing a table; the log keeps an entry saying so (superuser)';

-- Chain the entries of every transaction that has ended. One sealer at a
-- time (a row lock on the state); writers never wait for it.
CREATE FUNCTION erp.audit_seal()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v_sys bigint := (SELECT c.system_identifier FROM pg_control_system() c);
    v_xmin xid8;
    v_prev bytea;
    v_seq bigint;
    v_rescan boolean;
    r erp.audit_log;
    n bigint := 0;
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    INSERT INTO erp.audit_seal_state (system_id, tx_done, last_seq, last_hash)
    VALUES (v_sys, '0', 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT DO NOTHING;
    -- another sealer at work (or a session that sealed and left its transaction
    -- open): leave it to that one rather than wait
    SELECT * INTO s FROM erp.audit_seal_state FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    v_xmin := pg_snapshot_xmin(pg_current_snapshot());
    -- restored into another cluster: transaction ids restarted, so look at
    -- every unsealed entry once
    v_rescan := s.system_id <> v_sys;
    v_prev := s.last_hash;
    v_seq := s.last_seq;
    FOR r IN SELECT l.* FROM erp.audit_log l
              WHERE (v_rescan OR (l.tx >= s.tx_done AND l.tx < v_xmin))
                AND NOT EXISTS (SELECT 1 FROM erp.audit_chain c WHERE c.entry_id = l.id)
              ORDER BY l.tx, l.id
    LOOP
        v_seq := v_seq + 1;
        v_prev := sha256(v_prev || erp._audit_entry_bytes(r));
        INSERT INTO erp.audit_chain (seq, entry_id, hash) VALUES (v_seq, r.id, v_prev);
        n := n + 1;
    END LOOP;
    UPDATE erp.audit_seal_state
       SET system_id = v_sys,
           tx_done = CASE WHEN v_rescan OR v_xmin > s.tx_done THEN v_xmin ELSE s.tx_done END,
           last_seq = v_seq, last_hash = v_prev;
    RETURN n;
END $$;
COMMENT ON FUNCTION erp.audit_seal() IS
    'Hash-chain the audit entries of ended transactions; returns how many were sealed, 0 when another sealer is at work (pg_cron runs it every minute; needs erp.audit_log:read)';

CREATE FUNCTION erp.audit_head(OUT seq bigint, OUT hash bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.last_seq, s.last_hash FROM erp.audit_seal_state s
$$;
COMMENT ON FUNCTION erp.audit_head() IS
    'Newest chain position and hash: keep copies outside the database to detect a rewritten chain';

CREATE FUNCTION erp.audit_verify(p_from bigint DEFAULT NULL)
RETURNS TABLE (ok boolean, first_bad_id bigint, checked bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v_start bigint;
    v_prev bytea;
    v_expect bigint;
    v_n bigint := 0;
    v_forged bigint;
    c record;
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    IF NOT current_setting('transaction_read_only')::boolean THEN
        PERFORM erp.audit_seal();
    END IF;
    SELECT * INTO s FROM erp.audit_seal_state;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::bigint, 0::bigint;
        RETURN;
    END IF;
    IF p_from IS NULL THEN
        v_start := s.anchor_seq + 1;
        v_prev := s.anchor_hash;
    ELSE
        SELECT ch.seq INTO v_start FROM erp.audit_chain ch WHERE ch.entry_id = p_from;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit entry % is not sealed', p_from
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Entries are sealed once their transaction has ended; purged entries are gone.';
        END IF;
        IF v_start = s.anchor_seq + 1 THEN
            v_prev := s.anchor_hash;
        ELSE
            SELECT ch.hash INTO v_prev FROM erp.audit_chain ch WHERE ch.seq = v_start - 1;
            IF NOT FOUND THEN
                RETURN QUERY SELECT false, p_from, 0::bigint;
                RETURN;
            END IF;
        END IF;
    END IF;
    v_expect := v_start;
    FOR c IN SELECT ch.seq, ch.entry_id, ch.hash, l AS entry, l.id IS NOT NULL AS present
               FROM erp.audit_chain ch LEFT JOIN erp.audit_log l ON l.id = ch.entry_id
              WHERE ch.seq >= v_start ORDER BY ch.seq
    LOOP
        IF c.seq <> v_expect OR NOT c.present
           OR sha256(v_prev || erp._audit_entry_bytes(c.entry)) <> c.hash THEN
            RETURN QUERY SELECT false, c.entry_id, v_n;
            RETURN;
        END IF;
        v_prev := c.hash;
        v_expect := v_expect + 1;
        v_n := v_n + 1;
    END LOOP;
    -- the head must be where the state says (a cut tail, or a rewritten state)
    IF v_expect - 1 <> s.last_seq OR v_prev <> s.last_hash THEN
        RETURN QUERY SELECT false, NULL::bigint, v_n;
        RETURN;
    END IF;
    -- an entry slipped in behind the sealer's back
    SELECT min(l.id) INTO v_forged FROM erp.audit_log l
     WHERE l.tx < s.tx_done AND (p_from IS NULL OR l.id >= p_from)
       AND NOT EXISTS (SELECT 1 FROM erp.audit_chain ch WHERE ch.entry_id = l.id);
    IF v_forged IS NOT NULL AND s.system_id = (SELECT cs.system_identifier FROM pg_control_system() cs) THEN
        RETURN QUERY SELECT false, v_forged, v_n;
        RETURN;
    END IF;
    RETURN QUERY SELECT true, NULL::bigint, v_n;
END $$;
COMMENT ON FUNCTION erp.audit_verify(bigint) IS
    'Seal, then recompute the hash chain (from an entry id, or from the start); first_bad_id is the first altered, removed or inserted entry (needs erp.audit_log:read)';

CREATE FUNCTION erp.audit_purge(p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v_through bigint;
    v_hash bytea;
    v_n bigint;
BEGIN
    PERFORM erp.require_superuser('purge the audit log');
    IF p_before IS NULL THEN
        RAISE EXCEPTION 'cut-off time must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM erp.audit_seal();
    SELECT * INTO s FROM erp.audit_seal_state FOR UPDATE;
    -- only a prefix of the chain goes, so what remains still verifies
    SELECT coalesce(min(ch.seq) - 1, s.last_seq) INTO v_through
      FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
     WHERE l.at >= p_before AND ch.seq > s.anchor_seq;
    IF v_through <= s.anchor_seq THEN
        RETURN 0;
    END IF;
    SELECT ch.hash INTO v_hash FROM erp.audit_chain ch WHERE ch.seq = v_through;
    SET LOCAL session_replication_role = replica;
    DELETE FROM erp.audit_log l USING erp.audit_chain ch
     WHERE ch.entry_id = l.id AND ch.seq > s.anchor_seq AND ch.seq <= v_through;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    DELETE FROM erp.audit_chain ch WHERE ch.seq > s.anchor_seq AND ch.seq <= v_through;
    UPDATE erp.audit_seal_state SET anchor_seq = v_through, anchor_hash = v_hash;
    SET LOCAL session_replication_role = origin;
    PERFORM erp._audit_note('erp.audit_log', 'purge',
                            jsonb_build_object('before', p_before, 'deleted', v_n, 'through_seq', v_through,
                                               'through_hash', encode(v_hash, 'hex')));
    RETURN v_n;
END $$;
COMMENT ON FUNCTION erp.audit_purge(timestamptz) IS
    'Delete sealed entries older than the cut-off (a prefix of the chain), leaving an entry that says so (superuser)';

-- Audited from the start: role grants and role definitions, data keys, partners.
SELECT erp.audit('erp.user_role');
SELECT erp.audit('erp.role');
SELECT erp.audit('erp.crypto_key');
SELECT erp.audit('erp.partner');

INSERT INTO erp.app_table (table_name, privileges) VALUES ('erp.audit_log', 'SELECT');

-- sql/jobs/queue.sql
-- The job queue (src/jobs/, docs/jobs.md): kinds with their handler, the
-- jobs, enqueueing, cancelling, live status, running due jobs in a session
-- and pg_cron schedules.

CREATE TABLE erp.job_kind (
    kind text PRIMARY KEY CHECK (kind ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$' AND length(kind) < 64),
    handler regprocedure NOT NULL,
    timeout interval NOT NULL CHECK (timeout > interval '0'),
    max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
    builtin boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE erp.job_kind IS 'Job kinds: handler (p_job bigint, p_args jsonb) RETURNS jsonb, timeout and attempts';

CREATE TABLE erp.job (
    company_id bigint NOT NULL DEFAULT 0,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL REFERENCES erp.job_kind (kind) ON UPDATE CASCADE,
    args jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority integer NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
    last_error text,
    last_sqlstate text,
    result jsonb,
    enqueued_by bigint,
    run_as regrole NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    started_at timestamptz,
    finished_at timestamptz,
    worker_pid integer,
    PRIMARY KEY (company_id, id)
);
CREATE INDEX job_due_idx ON erp.job (priority DESC, run_at, id) WHERE status = 'queued';
CREATE INDEX job_running_idx ON erp.job (worker_pid) WHERE status = 'running';
CREATE INDEX job_id_idx ON erp.job (id);
COMMENT ON TABLE erp.job IS
    'Job queue; company_id 0 is a system job (enqueued with no company selected); run_as and enqueued_by are who it runs as';

-- Readers see their own jobs and, with erp.job:read, their companies' jobs.
-- Writes go through the functions below, which run as the owner.
ALTER TABLE erp.job ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.job FORCE ROW LEVEL SECURITY;
CREATE POLICY pgerp_read ON erp.job FOR SELECT
    USING (enqueued_by = erp.current_user_id() OR erp.company_allowed(company_id, 'erp.job:read'));

CREATE FUNCTION erp._job_wake_on_commit() RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_wake_on_commit';
CREATE FUNCTION erp._job_worker_alive(p_pid integer) RETURNS boolean
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_worker_alive';
CREATE FUNCTION erp._outer_role() RETURNS regrole
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'pgerp_job_outer_role';

CREATE FUNCTION erp.current_job_id() RETURNS bigint
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'pgerp_job_current_id';
COMMENT ON FUNCTION erp.current_job_id() IS 'The job this session is running (in a handler), else NULL';

CREATE FUNCTION erp.job_progress(p_fraction numeric, p_note text DEFAULT NULL) RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_progress';
COMMENT ON FUNCTION erp.job_progress(numeric, text) IS
    'From a job handler: progress between 0 and 1 and a note, visible at once in erp.job_status';

CREATE FUNCTION erp.running_jobs(OUT job_id bigint, OUT pid integer, OUT progress numeric, OUT note text,
                                 OUT started_at timestamptz, OUT progress_at timestamptz)
RETURNS SETOF record
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_progress_rows';
COMMENT ON FUNCTION erp.running_jobs() IS
    'Jobs running in this database''s workers, with live progress (shared memory); a NOTICE when no worker runs';

CREATE FUNCTION erp.run_pending(p_max integer DEFAULT 100) RETURNS integer
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_run_pending';
COMMENT ON FUNCTION erp.run_pending(integer) IS
    'Run up to p_max due jobs in this session (each in a subtransaction); a superuser with nobody signed in runs all, others their own';

CREATE FUNCTION erp.register_job_kind(p_kind text, p_handler regprocedure, p_timeout interval DEFAULT '1 hour',
                                      p_max_attempts integer DEFAULT 3)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
BEGIN
    PERFORM erp.require_superuser('register a job kind');
    IF p_kind IS NULL OR p_kind !~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$' OR length(p_kind) >= 64 THEN
        RAISE EXCEPTION 'invalid job kind %', coalesce(quote_literal(p_kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A kind is <schema>.<name> in lower case, for example mrp.run.';
    END IF;
    IF p_handler IS NULL THEN
        RAISE EXCEPTION 'handler must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT pr.prokind, pr.pronargs, pr.proargtypes, pr.prorettype, pr.proretset INTO p
      FROM pg_proc pr WHERE pr.oid = p_handler;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'function % does not exist', p_handler::oid USING ERRCODE = 'undefined_function';
    END IF;
    IF p.prokind <> 'f' OR p.pronargs <> 2 OR p.proargtypes[0] <> 'bigint'::regtype
       OR p.proargtypes[1] <> 'jsonb'::regtype OR p.prorettype <> 'jsonb'::regtype OR p.proretset THEN
        RAISE EXCEPTION 'job handler % has the wrong signature', p_handler
            USING ERRCODE = 'invalid_function_definition',
                  DETAIL = 'A handler is a function (p_job bigint, p_args jsonb) RETURNS jsonb.';
    END IF;
    IF p_timeout IS NULL OR p_timeout <= interval '0' THEN
        RAISE EXCEPTION 'job timeout must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts)
    VALUES (p_kind, p_handler, p_timeout, p_max_attempts)
    ON CONFLICT (kind) DO UPDATE SET handler = excluded.handler, timeout = excluded.timeout,
                                     max_attempts = excluded.max_attempts;
END $$;
COMMENT ON FUNCTION erp.register_job_kind(text, regprocedure, interval, integer) IS
    'Create or change a job kind (superuser)';

-- The kind a job is enqueued or scheduled with, and its arguments, checked.
CREATE FUNCTION erp._job_kind_for(p_kind text, p_args jsonb) RETURNS erp.job_kind
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k erp.job_kind;
BEGIN
    SELECT * INTO k FROM erp.job_kind WHERE kind = p_kind;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown job kind %', coalesce(quote_literal(p_kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The kinds are listed in erp.job_kind; erp.register_job_kind() adds one.';
    END IF;
    IF p_args IS NULL OR jsonb_typeof(p_args) <> 'object' THEN
        RAISE EXCEPTION 'job arguments must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN k;
END $$;

CREATE FUNCTION erp.enqueue(p_kind text, p_args jsonb DEFAULT '{}', p_run_at timestamptz DEFAULT pg_catalog.now(),
                            p_priority integer DEFAULT 0)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k erp.job_kind;
    v_id bigint;
BEGIN
    k := erp._job_kind_for(p_kind, p_args);
    IF p_priority IS NULL THEN
        RAISE EXCEPTION 'priority must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO erp.job (company_id, kind, args, priority, run_at, max_attempts, enqueued_by, run_as)
    VALUES (coalesce(erp.current_company_id(), 0), p_kind, p_args, p_priority, coalesce(p_run_at, now()),
            k.max_attempts, erp.current_user_id(), erp._outer_role())
    RETURNING id INTO v_id;
    PERFORM erp._job_wake_on_commit();
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.enqueue(text, jsonb, timestamptz, integer) IS
    'Queue a job of a kind; it runs as the calling role and signed-in user, in the selected company (0 when none)';

CREATE FUNCTION erp.cancel_job(p_job bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j erp.job;
BEGIN
    SELECT * INTO j FROM erp.job WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR coalesce(j.enqueued_by = erp.current_user_id(), false)
                         OR erp.company_allowed(j.company_id, 'erp.job:read')) THEN
        RAISE EXCEPTION 'job % does not exist', coalesce(p_job::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (erp._is_bootstrap() OR coalesce(j.enqueued_by = erp.current_user_id(), false)
            OR erp.company_allowed(j.company_id, 'erp.job:cancel')) THEN
        RAISE EXCEPTION 'permission denied to cancel job %', p_job
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Jobs are cancelled by who enqueued them, or with erp.job:cancel on their company.';
    END IF;
    IF j.status NOT IN ('queued', 'running') THEN
        RAISE EXCEPTION 'job % has already ended (%)', p_job, j.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE erp.job SET status = 'cancelled', finished_at = clock_timestamp(), worker_pid = NULL
     WHERE company_id = j.company_id AND id = j.id;
    IF j.status = 'running' AND j.worker_pid IS NOT NULL THEN
        -- the worker's handler is cancelled; its "done" would find the job cancelled anyway
        PERFORM pg_cancel_backend(j.worker_pid);
    END IF;
END $$;
COMMENT ON FUNCTION erp.cancel_job(bigint) IS
    'Cancel a queued or running job (its enqueuer, or erp.job:cancel on its company); a running handler is interrupted and its work rolled back';

CREATE VIEW erp.job_status WITH (security_invoker = true) AS
SELECT j.company_id, j.id, j.kind, j.status, j.priority, j.run_at, j.attempts, j.max_attempts,
       CASE WHEN j.status = 'done' THEN 1::numeric ELSE r.progress END AS progress,
       r.note AS progress_note, r.progress_at,
       j.last_error, j.last_sqlstate, j.result, j.args, j.enqueued_by, j.run_as, j.enqueued_at,
       j.started_at, j.finished_at, j.worker_pid
  FROM erp.job j
  LEFT JOIN erp.running_jobs() r ON r.job_id = j.id AND j.status = 'running';
COMMENT ON VIEW erp.job_status IS 'Jobs with live progress of the running ones (a NOTICE says when no worker runs)';

CREATE FUNCTION erp.purge_jobs(p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM erp.require_superuser('purge jobs');
    IF p_before IS NULL THEN
        RAISE EXCEPTION 'cut-off time must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM erp.job WHERE status IN ('done', 'failed', 'cancelled') AND finished_at < p_before;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION erp.purge_jobs(timestamptz) IS
    'Delete ended jobs (done, failed, cancelled) that finished before the cut-off (superuser); e.g. nightly from pg_cron';

-- Built-in kinds.
CREATE FUNCTION erp.noop_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$ SELECT jsonb_build_object('job', p_job) $$;

-- {"seconds": n} sleeps n seconds reporting progress; {"fail": "message"}
-- raises that message (tests of retries).
CREATE FUNCTION erp.sleep_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_seconds numeric := coalesce((p_args->>'seconds')::numeric, 1);
    v_steps int := greatest(1, ceil(v_seconds * 10)::int);
BEGIN
    IF p_args ? 'fail' THEN
        RAISE EXCEPTION '%', p_args->>'fail' USING ERRCODE = 'raise_exception';
    END IF;
    FOR i IN 1 .. v_steps LOOP
        PERFORM pg_sleep(v_seconds / v_steps);
        IF erp.current_job_id() IS NOT NULL THEN
            PERFORM erp.job_progress(i::numeric / v_steps, format('step %s of %s', i, v_steps));
        END IF;
    END LOOP;
    RETURN jsonb_build_object('slept', v_seconds, 'user', erp.current_user_id(), 'role', current_user::text);
END $$;

-- {"table": "erp.partner", "column": "email", "batch": 1000}; superuser jobs.
CREATE FUNCTION erp.reencrypt_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    CALL erp.reencrypt((p_args->>'table')::regclass, (p_args->>'column')::name,
                       coalesce((p_args->>'batch')::int, 1000));
    RETURN jsonb_build_object('table', p_args->>'table', 'column', p_args->>'column');
END $$;

INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts, builtin) VALUES
    ('erp.noop', 'erp.noop_job(bigint, jsonb)', '1 minute', 3, true),
    ('erp.sleep', 'erp.sleep_job(bigint, jsonb)', '1 hour', 3, true),
    ('erp.reencrypt', 'erp.reencrypt_job(bigint, jsonb)', '1 day', 3, true);

-- pg_cron schedules that enqueue a kind; names are kept as 'pgerp:<name>' in cron.job.
CREATE FUNCTION erp._require_cron() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Preload pg_cron (shared_preload_libraries), set cron.database_name to this database and run CREATE EXTENSION pg_cron.';
    END IF;
END $$;

CREATE FUNCTION erp.schedule(p_name text, p_cron text, p_kind text, p_args jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM erp.require_superuser('schedule jobs');
    PERFORM erp._require_cron();
    IF p_name IS NULL OR p_name !~ '\S' THEN
        RAISE EXCEPTION 'schedule name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM erp._job_kind_for(p_kind, p_args);
    -- pg_cron's own error for an invalid schedule surfaces unchanged
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO v_id
      USING 'pgerp:' || p_name, p_cron, format('SELECT erp.enqueue(%L, %L::jsonb)', p_kind, p_args);
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.schedule(text, text, text, jsonb) IS
    'Create or replace a pg_cron job that enqueues the kind on the cron schedule (superuser); returns the cron job id';

CREATE FUNCTION erp.unschedule(p_name text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_found boolean;
BEGIN
    PERFORM erp.require_superuser('unschedule jobs');
    PERFORM erp._require_cron();
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1)' INTO v_found USING 'pgerp:' || p_name;
    IF NOT v_found THEN
        RAISE EXCEPTION 'no schedule named %', coalesce(quote_literal(p_name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' USING 'pgerp:' || p_name;
END $$;
COMMENT ON FUNCTION erp.unschedule(text) IS 'Remove a schedule made by erp.schedule() (superuser)';

CREATE FUNCTION erp._schedules(OUT name text, OUT cron text, OUT command text, OUT active boolean, OUT cron_job_id bigint)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$SELECT substr(j.jobname, 7), j.schedule, j.command, j.active, j.jobid
                             FROM cron.job j WHERE j.jobname LIKE 'pgerp:%' ORDER BY j.jobname$q$;
END $$;
CREATE VIEW erp.schedules AS SELECT * FROM erp._schedules();
COMMENT ON VIEW erp.schedules IS 'Schedules made by erp.schedule() (pg_cron jobs named pgerp:<name>)';

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('erp.job', 'SELECT'),
    ('erp.job_kind', 'SELECT'),
    ('erp.job_status', 'SELECT');

-- sql/core/finish.sql
-- Protection, cache invalidation, dump registration and privileges of the
-- pgerp core. Runs last in pgerp's install script.

SELECT erp.protect('erp.company');
SELECT erp.protect('erp.partner');
SELECT erp.protect('erp.user_role');

-- Users and roles hold no company: only their own functions touch them.
ALTER TABLE erp.app_user ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.app_user FORCE ROW LEVEL SECURITY;
ALTER TABLE erp.secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.secret FORCE ROW LEVEL SECURITY;

CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.user_role
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.role
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.company
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.app_user
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('erp.company', 'SELECT, UPDATE (name, currency, price_precision, currency_rounding, active)'),
    ('erp.partner', 'SELECT, INSERT, UPDATE, DELETE'),
    ('erp.user_role', 'SELECT'),
    ('erp.role', 'SELECT'),
    ('erp.record_rule', 'SELECT');

SELECT pg_catalog.pg_extension_config_dump('erp.company', '');
SELECT pg_catalog.pg_extension_config_dump('erp.partner', '');
SELECT pg_catalog.pg_extension_config_dump('erp.app_user', '');
SELECT pg_catalog.pg_extension_config_dump('erp.role', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('erp.user_role', '');
SELECT pg_catalog.pg_extension_config_dump('erp.record_rule', '');
SELECT pg_catalog.pg_extension_config_dump('erp.app_role', '');

REVOKE ALL ON ALL ROUTINES IN SCHEMA erp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erp FROM PUBLIC;

-- Identity sequences too, so that a restored database goes on numbering
-- after the restored rows.
SELECT pg_catalog.pg_extension_config_dump('erp.company_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erp.partner_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erp.app_user_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erp.role_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erp.record_rule_id_seq', '');

-- Wrapped data keys are dumped: useless without the master key file, and
-- the encrypted values of a restored database need them.
SELECT pg_catalog.pg_extension_config_dump('erp.crypto_key', '');
SELECT pg_catalog.pg_extension_config_dump('erp.crypto_key_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erp.encrypted_column', 'WHERE NOT builtin');

-- The audit trail is user data: pg_dump keeps it, chain and head included.
SELECT pg_catalog.pg_extension_config_dump('erp.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('erp.audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erp.audit_chain', '');
SELECT pg_catalog.pg_extension_config_dump('erp.audit_seal_state', '');

-- Jobs and the kinds registered by users.
SELECT pg_catalog.pg_extension_config_dump('erp.job', '');
SELECT pg_catalog.pg_extension_config_dump('erp.job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erp.job_kind', 'WHERE NOT builtin');
