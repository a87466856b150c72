-- Protection, cache invalidation, dump registration and privileges of the
-- pgerp core. Runs last in pgerp's install script.

SELECT erp.protect('erp.company');
SELECT erp.protect('erp.partner');
SELECT erp.protect('erp.user_role');
SELECT erp.protect('erp.record_rule');

-- Users and roles hold no company: only their own functions touch them.
ALTER TABLE erp.app_user ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.app_user FORCE ROW LEVEL SECURITY;
ALTER TABLE erp.secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.secret FORCE ROW LEVEL SECURITY;

CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.user_role
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.role
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
-- a new company is in no backend's tree cache: only a move, an
-- (de)activation or a delete invalidates (src/rbac/tree.c)
CREATE TRIGGER acl_changed AFTER UPDATE OF parent_id, active OR DELETE OR TRUNCATE ON erp.company
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
-- the ACL cache keeps each user's active flag and token generation (a
-- password change advances it through a BEFORE trigger, hence password_hash)
CREATE TRIGGER acl_changed AFTER UPDATE OF active, token_generation, password_hash OR DELETE OR TRUNCATE ON erp.app_user
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();
-- the token signing key is cached per backend (src/auth/signin.c)
CREATE TRIGGER acl_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON erp.secret
    FOR EACH STATEMENT EXECUTE FUNCTION erp._acl_changed();

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('erp.company', 'SELECT, UPDATE (name, currency, price_precision, currency_rounding, active)'),
    ('erp.partner', 'SELECT, INSERT, UPDATE, DELETE'),
    ('erp.user_role', 'SELECT'),
    ('erp.role', 'SELECT'),
    ('erp.record_rule', 'SELECT');

-- The HTTP contract's views (sql/api/): security_invoker, so the tables'
-- grants and row security above apply to them too (api.users excepted).
INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('api.companies', 'SELECT'),
    ('api.users', 'SELECT'),
    ('api.partners', 'SELECT, INSERT, UPDATE'),
    ('api.jobs', 'SELECT');

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
