-- Last file of every dependent extension: give the application roles
-- registered with erp.grant_app_access() what this extension added.
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
