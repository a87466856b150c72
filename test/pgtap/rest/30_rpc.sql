-- erp.http_request RPC: named arguments, defaults, GET for stable functions only, SETOF with filters, scalars, void, jsonb body, GUCs.
BEGIN;
\ir ../setup.sql
\ir fixture.psql
SELECT plan(23);

CREATE FUNCTION t_rest.add(a integer, b integer DEFAULT 10) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION t_rest.authors_born_after(after date) RETURNS SETOF t_rest.author LANGUAGE sql STABLE AS
    $$ SELECT * FROM t_rest.author WHERE born > after $$;
CREATE FUNCTION t_rest.book_stats() RETURNS TABLE(books bigint, total numeric) LANGUAGE sql STABLE AS
    $$ SELECT count(*), sum(price) FROM t_rest.book $$;
CREATE FUNCTION t_rest.touch(label text) RETURNS void LANGUAGE sql AS $$ INSERT INTO t_rest.tag (label) VALUES (label) $$;
CREATE FUNCTION t_rest.echo(jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
CREATE FUNCTION t_rest.whoami() RETURNS json LANGUAGE sql STABLE AS
    $$ SELECT json_build_object('method', current_setting('request.method'), 'path', current_setting('request.path'),
                                'ua', current_setting('request.headers')::json ->> 'user-agent') $$;
CREATE FUNCTION t_rest.teapot() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('response.status', '418', true);
    PERFORM set_config('response.headers', '[{"X-Tea": "green"}]', true);
    RETURN 'short and stout';
END $$;
CREATE FUNCTION t_rest.fail() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO t_rest.tag (label) VALUES ('before the failure');
    RAISE EXCEPTION 'I refuse!' USING DETAIL = 'Pretty simple', HINT = 'There is nothing you can do.';
END $$;
CREATE FUNCTION t_rest.pay() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE SQLSTATE 'PT402' USING MESSAGE = 'Payment Required';
END $$;
CREATE FUNCTION t_rest.greet(name text) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'hello ' || name $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA t_rest TO pgerp_app;

SELECT results_eq($$SELECT status, body FROM pg_temp.http('POST', '/rpc/add', '', '{}', '{"a": 1, "b": 2}')$$,
                  $$VALUES (200, '3')$$, 'POST with named arguments: a bare scalar');
SELECT results_eq($$SELECT status, body FROM pg_temp.http('POST', '/rpc/add', '', '{}', '{"a": 1}')$$,
                  $$VALUES (200, '11')$$, 'a defaulted argument may be omitted');
SELECT results_eq($$SELECT status, body FROM pg_temp.http('GET', '/rpc/add', 'a=5&b=6')$$,
                  $$VALUES (200, '11')$$, 'GET of an immutable function with query arguments');
SELECT is(pg_temp.outcome('POST', '/rpc/add', '', '{}', '{"b": 1}'), '404 PGRST202', 'a missing required argument: 404 PGRST202');
SELECT is(pg_temp.outcome('POST', '/rpc/add', '', '{}', '{"a": 1, "zz": 1}'), '404 PGRST202', 'an unknown argument: 404 PGRST202');
SELECT is(pg_temp.outcome('POST', '/rpc/nosuch'), '404 PGRST202', 'an unknown function: 404 PGRST202');
SELECT is(pg_temp.outcome('GET', '/rpc/touch', 'label=x'), '405 PGRST101', 'GET of a volatile function is 405');
SELECT is(pg_temp.outcome('PATCH', '/rpc/add'), '405 PGRST101', 'PATCH of a function is 405');
SELECT is(pg_temp.get_json('/rpc/authors_born_after', 'after=1700-01-01&select=id,name&order=id'),
          '[{"id":1,"name":"Ada"},{"id":4,"name":"Dora"}]', 'SETOF takes select and order');
SELECT is(pg_temp.get_json('/rpc/authors_born_after', 'after=1700-01-01&select=id&name=eq.Dora'), '[{"id":4}]', 'SETOF takes filters');
SELECT is(pg_temp.get_json('/rpc/book_stats'), '[{"books":4,"total":55.50}]', 'RETURNS TABLE comes back as rows');
SELECT results_eq($$SELECT status, body FROM pg_temp.http('POST', '/rpc/touch', '', '{}', '{"label": "rpc"}')$$,
                  $$VALUES (204, NULL::text)$$, 'void is 204');
SELECT is((SELECT count(*)::int FROM t_rest.tag WHERE label = 'rpc'), 1, 'and its write stays');
SELECT is(pg_temp.get_json('/rpc/echo', '', '{}'), '{}'::jsonb, 'GET of a whole-body function passes an empty object');
SELECT results_eq($$SELECT status, body::jsonb FROM pg_temp.http('POST', '/rpc/echo', '', '{}', '{"x": [1, 2]}')$$,
                  $$VALUES (200, '{"x": [1, 2]}'::jsonb)$$, 'a single unnamed jsonb argument takes the whole body');
SELECT is((SELECT body::jsonb FROM pg_temp.http('GET', '/rpc/whoami', '', '{"user-agent": "pgtap"}')),
          '{"method": "GET", "path": "/rpc/whoami", "ua": "pgtap"}', 'request.method, request.path and request.headers');
SELECT results_eq($$SELECT status, body, headers ->> 'X-Tea' FROM pg_temp.http('POST', '/rpc/teapot')$$,
                  $$VALUES (418, '"short and stout"', 'green')$$, 'response.status and response.headers are honoured');
SELECT results_eq($$SELECT status, body::jsonb FROM pg_temp.http('POST', '/rpc/fail')$$,
                  $$VALUES (400, '{"code":"P0001","details":"Pretty simple","hint":"There is nothing you can do.","message":"I refuse!"}'::jsonb)$$,
                  'RAISE is 400 P0001 with PostgREST''s body');
SELECT is((SELECT count(*)::int FROM t_rest.tag WHERE label = 'before the failure'), 0, 'a failed request leaves nothing behind');
SELECT is(pg_temp.outcome('POST', '/rpc/pay'), '402 PT402', 'PTxyz sets the status');

SELECT is((SELECT body FROM pg_temp.http('GET', '/rpc/greet', 'name=eq.x')), '"hello eq.x"',
          'a GET argument whose value looks like a filter is still the argument');
SELECT is(pg_temp.get_json('/rpc/authors_born_after', 'after=1700-01-01&id=gt.1&select=id'), '[{"id":4}]',
          'GET arguments and filters on the result together');
SELECT is(pg_temp.outcome('GET', '/author', 'select=rating.sum()'), '400 PGRST123', 'aggregates are refused with PGRST123');
SELECT * FROM finish();
ROLLBACK;
