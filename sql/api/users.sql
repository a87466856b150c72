-- api.users: users without their secrets (no password hash, no token
-- generation, no password change date). erp.app_user stays unreadable to
-- application roles (only its functions touch it), so this view is not
-- security_invoker: it reads the table as its owner and filters itself, as
-- a security barrier, to the caller and to the users granted a role on a
-- company where the caller holds erp.app_user:read.

CREATE VIEW api.users WITH (security_barrier = true) AS
SELECT u.id, u.login, u.name, u.active, u.created_at
  FROM erp.app_user u
 WHERE u.id OPERATOR(pg_catalog.=) erp.current_user_id()
    OR EXISTS (SELECT 1 FROM erp.user_role ur
                WHERE ur.user_id OPERATOR(pg_catalog.=) u.id
                  AND erp.company_allowed(ur.company_id, 'erp.app_user:read'));
COMMENT ON VIEW api.users IS
    'Users: the caller, and users granted a role on a company where the caller holds erp.app_user:read. No secrets. Read-only';
COMMENT ON COLUMN api.users.id IS 'User id';
COMMENT ON COLUMN api.users.login IS 'Sign-in name (unique regardless of case)';
COMMENT ON COLUMN api.users.name IS 'Display name';
COMMENT ON COLUMN api.users.active IS 'False once disabled: the user can no longer sign in';
