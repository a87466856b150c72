-- erp.http_request identity: bearer tokens, company isolation over HTTP, anonymous requests, 401s, the identity ending with the request, profiles, OpenAPI, OPTIONS.
BEGIN;
\ir ../setup.sql
\ir fixture.psql
SELECT plan(32);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t_rest_a', 'stock_manager', :a, false) AS ua \gset
SELECT pg_temp.make_user('t_rest_b', 'stock_manager', :b, false) AS ub \gset
SELECT pg_temp.make_user('t_rest_g', 'admin', :g) AS ug \gset
SELECT erp.create_partner(:a, 'rest A one') AS pa \gset
SELECT erp.create_partner(:a, 'rest A two') AS pa2 \gset
SELECT erp.create_partner(:b, 'rest B one') AS pb \gset
CREATE VIEW t_rest.partners WITH (security_invoker = true) AS SELECT id, company_id, name FROM erp.partner;
CREATE VIEW t_rest.companies WITH (security_invoker = true) AS SELECT id, parent_id, name FROM erp.company;
GRANT SELECT, INSERT ON t_rest.partners, t_rest.companies TO pgerp_app;
CREATE FUNCTION t_rest.claims() RETURNS json LANGUAGE sql STABLE AS $$ SELECT current_setting('request.jwt.claims')::json $$;
GRANT EXECUTE ON FUNCTION t_rest.claims() TO pgerp_app;
SELECT pg_temp.bearer('t_rest_a') AS ha \gset
SELECT pg_temp.bearer('t_rest_b') AS hb \gset
SELECT pg_temp.bearer('t_rest_g') AS hg \gset
SELECT erp.current_user_id() AS session_user_before \gset
SET LOCAL ROLE pgerp_app;

-- ------------------------------------------------ company isolation
SELECT is(pg_temp.get_json('/partners', 'select=name&order=name', :'ha'), '[{"name":"rest A one"},{"name":"rest A two"}]',
          'a user of A sees the partners of A only');
SELECT is(pg_temp.get_json('/partners', 'select=name', :'hb'), '[{"name":"rest B one"}]', 'a user of B sees B''s');
SELECT is(pg_temp.get_json('/partners', format('select=name&id=eq.%s', :pb), :'ha'), '[]', 'a partner of B by id is invisible to A');
SELECT is(pg_temp.outcome('GET', '/partners', format('id=eq.%s', :pb), :'ha'::jsonb || '{"accept": "application/vnd.pgrst.object+json"}'),
          '406 PGRST116', 'and behaves as a missing row for an object');
SELECT is(jsonb_array_length(pg_temp.get_json('/partners', 'name=like.rest*', :'hg')), 3, 'the admin of the group sees all three');
SELECT is(pg_temp.get_json('/partners', 'name=like.rest*'), '[]', 'without a token row security shows nothing');
SELECT is(pg_temp.get_json('/partners', 'select=name,companies(name)&name=eq.rest A one', :'ha'),
          '[{"name":"rest A one","companies":{"name":"Test A"}}]', 'an embed follows the foreign key to the company');
SELECT is((SELECT headers ->> 'Content-Range' FROM pg_temp.http('GET', '/partners', 'name=like.rest*', :'ha'::jsonb || '{"prefer": "count=exact"}')),
          '0-1/2', 'counts see only the caller''s rows');
SELECT is(pg_temp.outcome('POST', '/partners', '', :'ha', format('{"company_id": %s, "name": "rest intruder"}', :b)), '403 42501',
          'a write into B by A is 403 42501');
SELECT is((SELECT count(*)::int FROM t_rest.partners WHERE name = 'rest intruder'), 0, 'and wrote nothing');

-- ------------------------------------------------ tokens
SELECT results_eq($$SELECT status, headers ->> 'WWW-Authenticate', body::jsonb ->> 'code'
                    FROM pg_temp.http('GET', '/partners', '', '{"authorization": "Bearer not.a.token"}')$$,
                  $$VALUES (401, 'Bearer error="invalid_token", error_description="The token is malformed."', 'PGRST301')$$,
                  'a bad token is 401 with WWW-Authenticate');
SELECT is(pg_temp.outcome('GET', '/partners', '', '{"authorization": "Basic abc"}'), '401 PGRST301', 'a non-bearer scheme is 401');
SELECT is(pg_temp.outcome('POST', '/partners', '', '{}', format('{"company_id": %s, "name": "rest anon"}', :a)), '401 42501',
          'a write without a token is 401');
SELECT is((SELECT headers ->> 'WWW-Authenticate' FROM pg_temp.http('POST', '/partners', '', '{}', '{}')), 'Bearer', 'with WWW-Authenticate: Bearer');
SELECT is(erp.current_user_id(), :session_user_before::bigint, 'the request''s identity ended with it: the session''s is back');
SELECT is(coalesce(current_setting('request.jwt.claims', true), ''), '', 'and so did request.jwt.claims');
SELECT is(coalesce(current_setting('request.method', true), ''), '', 'and request.method');
SELECT is((SELECT (body::jsonb ->> 'sub')::bigint FROM pg_temp.http('GET', '/rpc/claims', '', :'ha')), :ua::bigint,
          'request.jwt.claims carries the token''s user');

SELECT results_eq(format($$SELECT status, (body::jsonb ->> 'user_id')::bigint, (body::jsonb ->> 'company_id')::bigint
                            FROM pg_temp.http('POST', '/rpc/switch_company', '', %L::jsonb || '{"content-profile": "api"}', '{"company": %s}')$$, :'hg', :b),
                  format('VALUES (200, %s::bigint, %s::bigint)', :ug, :b), 'switch_company over HTTP returns a token for the other company');
SELECT is((SELECT count(*)::int FROM pg_temp.http('GET', '/partners', 'select=name',
              jsonb_build_object('authorization', 'Bearer ' || (SELECT body::jsonb ->> 'token' FROM pg_temp.http('POST', '/rpc/switch_company', '',
                  :'hg'::jsonb || '{"content-profile": "api"}', format('{"company": %s}', :b)))) ) r
           WHERE r.status = 200), 1, 'and that token is accepted');
SELECT is(pg_temp.outcome('POST', '/rpc/switch_company', '', :'ha'::jsonb || '{"content-profile": "api"}', format('{"company": %s}', :b)),
          '403 42501', 'a company the user holds no role on is refused');

-- ------------------------------------------------ profiles
SELECT is(pg_temp.outcome('GET', '/partners', '', :'ha'::jsonb || '{"accept-profile": "erp"}'), '406 PGRST106', 'a schema not served is 406 PGRST106');
SELECT is(pg_temp.outcome('GET', '/partner', '', '{"accept-profile": "t_rest"}'), '404 PGRST205', 'internal tables are not served');
RESET ROLE;
SET LOCAL pgerp.http_schemas = 'api, t_rest';
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.outcome('GET', '/author'), '404 PGRST205', 'the first served schema is the default profile');
SELECT is(pg_temp.outcome('GET', '/author', '', '{"accept-profile": "t_rest"}'), '200 -', 'Accept-Profile picks another');

-- ------------------------------------------------ OpenAPI, OPTIONS
RESET ROLE;
SET LOCAL pgerp.http_schemas = 't_rest';
SET LOCAL ROLE pgerp_app;
SELECT results_eq($$SELECT status, headers ->> 'Content-Type', body::jsonb ->> 'swagger' FROM pg_temp.http('GET', '/')$$,
                  $$VALUES (200, 'application/openapi+json; charset=utf-8', '2.0')$$, 'GET / is OpenAPI 2.0');
SELECT is(pg_temp.get_json('/') #>> '{definitions,author,properties,name,description}', 'The author''s name', 'filled from SQL comments');
SELECT is(pg_temp.get_json('/') #>> '{definitions,author,description}', 'Authors of the fixture', 'table comments too');
SELECT ok(pg_temp.get_json('/') -> 'paths' ? '/author' AND pg_temp.get_json('/') -> 'paths' ? '/rpc/claims',
          'paths list the resources and the functions');
SELECT ok(NOT (pg_temp.get_json('/') -> 'paths' ? '/_hidden'), 'names starting with _ are left out');
RESET ROLE;
REVOKE ALL ON t_rest.tag FROM pgerp_app;
SET LOCAL ROLE pgerp_app;
SELECT ok(NOT (pg_temp.get_json('/') -> 'paths' ? '/tag'), 'what the caller may not touch is left out');
SELECT results_eq($$SELECT status, headers ->> 'Allow' FROM pg_temp.http('OPTIONS', '/author')$$,
                  $$VALUES (200, 'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE')$$, 'OPTIONS of a table');

SELECT * FROM finish();
ROLLBACK;
