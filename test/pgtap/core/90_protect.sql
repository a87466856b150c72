-- erp.protect() refusals, idempotence and forced row security; which erp tables are protected; grant_app_access.
BEGIN;
\ir ../setup.sql
SELECT plan(36);

-- ------------------------------------------------------------------- refusals
CREATE TABLE public.t90_nocomp (id int);
CREATE TABLE public.t90_intcomp (company_id int, id int);
CREATE VIEW public.t90_view AS SELECT 1::bigint AS company_id;
CREATE TABLE public."T90_Upper" (company_id bigint);
SELECT throws_ok($$SELECT erp.protect('public.t90_nocomp')$$, '42P16', NULL,
                 'a table without company_id is refused (42P16)');
SELECT throws_ok($$SELECT erp.protect('public.t90_intcomp')$$, '42P16', NULL,
                 'a table whose company_id is not bigint is refused (42P16)');
SELECT throws_ok($$SELECT erp.protect('public.t90_view')$$, '42809', NULL, 'a view is refused (42809)');
SELECT throws_ok($$SELECT erp.protect(NULL)$$, '22004', NULL, 'NULL is refused (22004)');
SELECT throws_ok($$SELECT erp.protect('public."T90_Upper"')$$, '42602', NULL,
                 'a table name that cannot be a permission code is refused (42602)');
SELECT is((SELECT count(*)::int FROM pg_policy
            WHERE polrelid IN ('public.t90_nocomp'::regclass, 'public.t90_intcomp'::regclass, 'public."T90_Upper"'::regclass)),
          0, 'a refused table got no policy');
SELECT is((SELECT bool_or(relrowsecurity) FROM pg_class
            WHERE oid IN ('public.t90_nocomp'::regclass, 'public.t90_intcomp'::regclass, 'public."T90_Upper"'::regclass)),
          false, 'a refused table did not get row security');

-- ----------------------------------------------------------- protect, twice
CREATE TABLE public.t90_doc (company_id bigint NOT NULL, id int);
SELECT lives_ok($$SELECT erp.protect('public.t90_doc')$$, 'protect() on a table with a bigint company_id');
SELECT lives_ok($$SELECT erp.protect('public.t90_doc')$$, 'protect() again');
SELECT set_eq($$SELECT polname || ':' || polcmd::text FROM pg_policy WHERE polrelid = 'public.t90_doc'::regclass$$,
              ARRAY['pgerp_read:r', 'pgerp_create:a', 'pgerp_write:w', 'pgerp_delete:d'],
              'after two calls there are exactly 4 policies, one per command');
SELECT is((SELECT count(*)::int FROM pg_policy WHERE polrelid = 'public.t90_doc'::regclass AND polpermissive), 4,
          'the four policies are permissive');
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'public.t90_doc'::regclass),
          'the table has row security enabled and forced');
SELECT ok((SELECT pg_get_expr(polqual, polrelid) ~ 'company_allowed\(company_id, ''public\.t90_doc:read''::text\)' FROM pg_policy
            WHERE polrelid = 'public.t90_doc'::regclass AND polname = 'pgerp_read'),
          'the read policy checks public.t90_doc:read');
SELECT ok((SELECT pg_get_expr(polwithcheck, polrelid) ~ 'company_allowed\(company_id, ''public\.t90_doc:write''::text\)' FROM pg_policy
            WHERE polrelid = 'public.t90_doc'::regclass AND polname = 'pgerp_write'),
          'the write policy checks the new row against public.t90_doc:write');

-- ------------------------------------------------------------ the erp tables
SELECT set_eq($$SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'erp'::regnamespace AND c.relkind IN ('r', 'p') AND c.relforcerowsecurity
                   AND (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname LIKE 'pgerp\_%') = 4$$,
              ARRAY['erp.company', 'erp.partner', 'erp.user_role', 'erp.record_rule'],
              'erp.company, erp.partner, erp.user_role and erp.record_rule are protected');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                 WHERE c.relnamespace = 'erp'::regnamespace AND c.relkind IN ('r', 'p')
                   AND a.attname = 'company_id' AND NOT a.attisdropped
                   AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                            AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'pgerp_read'))
                 ORDER BY 1),
          '{}'::text[], 'every erp table with a company_id is protected');
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'erp.app_user'::regclass),
          'erp.app_user has row security forced');
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'erp.secret'::regclass),
          'erp.secret has row security forced');
SELECT is((SELECT count(*)::int FROM pg_policy WHERE polrelid IN ('erp.app_user'::regclass, 'erp.secret'::regclass)),
          0, 'erp.app_user and erp.secret have no policy');

-- ---------------------------------------------------------- grant_app_access
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT erp.grant_app_access('pgerp_app')$$, '42501', NULL,
                 'grant_app_access by a non-superuser (42501)');
RESET ROLE;
CREATE ROLE t90_bypass NOLOGIN BYPASSRLS;
CREATE ROLE t90_super NOLOGIN SUPERUSER;
CREATE ROLE t90_app NOLOGIN;
SELECT throws_ok($$SELECT erp.grant_app_access('t90_bypass')$$, '22023', NULL, 'a BYPASSRLS role is refused (22023)');
SELECT throws_ok($$SELECT erp.grant_app_access('t90_super')$$, '22023', NULL, 'a superuser role is refused (22023)');
SELECT throws_ok($$SELECT erp.grant_app_access(NULL)$$, '22004', NULL, 'NULL is refused (22004)');
SELECT ok(NOT has_schema_privilege('t90_bypass', 'erp', 'USAGE')
          AND NOT EXISTS (SELECT 1 FROM erp.app_role WHERE role_name::text IN ('t90_bypass', 't90_super')),
          'a refused role got nothing and was not registered');
SELECT lives_ok($$SELECT erp.grant_app_access('t90_app')$$, 'grant_app_access on a fresh NOLOGIN role');
SELECT lives_ok($$SELECT erp.grant_app_access('t90_app')$$, 'grant_app_access again');
SELECT is((SELECT count(*)::int FROM erp.app_role WHERE role_name = 't90_app'::regrole), 1,
          'the role is registered once in erp.app_role');
SELECT is(ARRAY(SELECT s FROM unnest(ARRAY['erp', 'api', 'stock', 'mrp', 'purchase']) s
                 WHERE NOT has_schema_privilege('t90_app', s, 'USAGE')),
          '{}'::text[], 'USAGE on the schemas erp, api, stock, mrp and purchase');
SELECT ok(has_function_privilege('t90_app', 'erp.sign_in(text, text, bigint)', 'EXECUTE'), 'EXECUTE on erp.sign_in');
SELECT ok(NOT has_function_privilege('t90_app', 'erp._password_hash(text)', 'EXECUTE'),
          'no EXECUTE on erp._password_hash');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'erp'::regnamespace AND p.proname LIKE '\_%'
                   AND has_function_privilege('t90_app', p.oid, 'EXECUTE') ORDER BY 1),
          '{}'::text[], 'no EXECUTE on any erp function starting with _');
SELECT ok(has_table_privilege('t90_app', 'erp.partner', 'SELECT, INSERT, UPDATE, DELETE'),
          'SELECT, INSERT, UPDATE and DELETE on erp.partner');
SELECT ok(NOT has_table_privilege('t90_app', 'erp.partner', 'TRUNCATE')
          AND NOT has_table_privilege('t90_app', 'erp.partner', 'TRIGGER'),
          'no TRUNCATE or TRIGGER on erp.partner');
SELECT ok(NOT has_any_column_privilege('t90_app', 'erp.app_user', 'SELECT, INSERT, UPDATE, REFERENCES')
          AND NOT has_table_privilege('t90_app', 'erp.app_user', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
          'no privilege at all on erp.app_user');
SELECT ok(NOT has_any_column_privilege('t90_app', 'erp.secret', 'SELECT, INSERT, UPDATE, REFERENCES')
          AND NOT has_table_privilege('t90_app', 'erp.secret', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
          'no privilege at all on erp.secret');
SELECT ok(has_column_privilege('t90_app', 'erp.company', 'name', 'UPDATE')
          AND NOT has_column_privilege('t90_app', 'erp.company', 'parent_id', 'UPDATE')
          AND NOT has_table_privilege('t90_app', 'erp.company', 'INSERT'),
          'erp.company: UPDATE of name but not of parent_id, no INSERT');

SELECT * FROM finish();
ROLLBACK;
