-- Readers of the per-backend ACL cache (src/rbac/acl.c).

CREATE FUNCTION erp.allowed_company_ids() RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_allowed_company_ids';
COMMENT ON FUNCTION erp.allowed_company_ids() IS
    'Companies the acting user holds a role on, directly or through a parent';

CREATE FUNCTION erp.has_permission(p_code text) RETURNS boolean
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'pgerp_rbac_has_permission';
COMMENT ON FUNCTION erp.has_permission(text) IS
    'Does the acting user hold this permission in the current company';

-- Nothing identity-specific is folded into plans (src/rbac/acl.c): a plan
-- kept by one user stays valid for the next. The lists are computed when
-- called; the per-row tests answer from the per-user verdict cache. The
-- per-row tests are LEAKPROOF (they raise nothing that depends on the row),
-- so the planner may run them before record rules, as it ran the folded
-- constants: a rule is never evaluated on a row of a company the user may
-- not see.
CREATE FUNCTION erp.permitted_companies(p_code text) RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_permitted_companies';
COMMENT ON FUNCTION erp.permitted_companies(text) IS
    'Companies in which the acting user holds this permission';

CREATE FUNCTION erp.company_allowed(p_company bigint, p_code text) RETURNS boolean
    LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_company_allowed';
COMMENT ON FUNCTION erp.company_allowed(bigint, text) IS
    'Does the acting user hold the permission on that company; what company policies test per row';

CREATE FUNCTION erp.role_companies(p_roles text[]) RETURNS bigint[]
    LANGUAGE C STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_role_companies';
COMMENT ON FUNCTION erp.role_companies(text[]) IS
    'Companies in which the acting user holds any of these roles';

CREATE FUNCTION erp.role_allowed(p_company bigint, p_roles text[]) RETURNS boolean
    LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'pgerp_rbac_role_allowed';
COMMENT ON FUNCTION erp.role_allowed(bigint, text[]) IS
    'Does the acting user hold one of these roles on that company; what role record rules test per row';

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

-- Statement trigger sending a relcache invalidation for its table: the ACL
-- tables use it (ACL cache, company tree), and so do erp.crypto_key (cached
-- current keys) and erp.secret (the cached token signing key); each
-- backend's callbacks decide what the table means to them.
CREATE FUNCTION erp._acl_changed() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_rbac_acl_changed';
