-- erp.http_request: every PGRST refusal and the SQLSTATE -> HTTP table, each with PostgREST's body.
BEGIN;
\ir ../setup.sql
\ir fixture.psql
SELECT plan(23);
SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t_rest_e', 'admin', :a) AS e \gset
SELECT pg_temp.bearer('t_rest_e') AS h \gset
CREATE FUNCTION t_rest.bad_headers() RETURNS void LANGUAGE sql AS $$ SELECT set_config('response.headers', '{"not": "an array"}', true) $$;
CREATE FUNCTION t_rest.bad_status() RETURNS void LANGUAGE sql AS $$ SELECT set_config('response.status', 'teapot', true) $$;
CREATE FUNCTION t_rest.raise(p_state text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'raised %', p_state USING ERRCODE = p_state;
END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA t_rest TO pgerp_app;

SELECT is(pg_temp.outcome('GET', 'author'), '404 PGRST125', 'a path without a leading slash is PGRST125');
SELECT is(pg_temp.outcome('GET', '/a/b/c'), '404 PGRST125', 'a path too deep is PGRST125');
SELECT is(pg_temp.outcome('TRACE', '/author'), '405 PGRST117', 'an unknown method is PGRST117');
SELECT is(pg_temp.outcome('POST', '/'), '405 PGRST117', 'POST / is PGRST117');
SELECT is(pg_temp.outcome('GET', '/author', 'book.order=id'), '400 PGRST108', 'an embedded order without the embed is PGRST108');
SELECT is(pg_temp.outcome('GET', '/book', 'select=id,author!author_id(name)&order=book(title)'), '400 PGRST118',
          'ordering by a relation that is not embedded is PGRST118');
SELECT is(pg_temp.outcome('GET', '/author', 'select=id,book!author_id(id)&book=eq.1'), '400 PGRST120', 'a filter on an embed other than is.null is PGRST120');
SELECT is(pg_temp.get_json('/author', 'select=id,book!author_id(id)&book=is.null&order=id'), '[{"id":3,"book":[]}]',
          'embed=is.null keeps the parents without a child');
SELECT is(pg_temp.outcome('GET', '/author', '', '{"prefer": "handling=strict, bogus=1"}'), '400 PGRST122', 'an invalid preference with handling=strict is PGRST122');
SELECT is(pg_temp.outcome('GET', '/author', '', '{"prefer": "handling=lenient, bogus=1"}'), '200 -', 'and ignored with handling=lenient');
SELECT is(pg_temp.outcome('POST', '/rpc/bad_headers'), '500 PGRST111', 'response.headers that is no array of objects is PGRST111');
SELECT is(pg_temp.outcome('POST', '/rpc/bad_status'), '500 PGRST112', 'a response.status that is no status is PGRST112');
SELECT is(pg_temp.outcome('POST', '/author', 'limit=1', :'h', '{"id": 50, "name": "x"}'), '400 PGRST127', 'limit on a write is not implemented: PGRST127');
SELECT is(pg_temp.outcome('POST', '/author', '', :'h'::jsonb || '{"content-type": "application/xml"}', '<a/>'), '415 PGRST107', 'a body type not understood is 415');
SELECT is(pg_temp.outcome('PUT', '/author', 'name=eq.x', :'h', '{"id": 50, "name": "x"}'), '405 PGRST105', 'PUT without the key in the filters is PGRST105');
-- the SQLSTATE table, through RAISE
SELECT is(pg_temp.outcome('POST', '/rpc/raise', '', :'h', '{"p_state": "23503"}'), '409 23503', '23503 is 409');
SELECT is(pg_temp.outcome('POST', '/rpc/raise', '', :'h', '{"p_state": "25006"}'), '405 25006', '25006 is 405');
SELECT is(pg_temp.outcome('POST', '/rpc/raise', '', :'h', '{"p_state": "08006"}'), '503 08006', '08* is 503');
SELECT is(pg_temp.outcome('POST', '/rpc/raise', '', :'h', '{"p_state": "55000"}'), '500 55000', '55* is 500');
SELECT is(pg_temp.outcome('POST', '/rpc/raise', '', :'h', '{"p_state": "42501"}'), '403 42501', '42501 with a token is 403');
SELECT is(pg_temp.outcome('POST', '/rpc/raise', '', '{}', '{"p_state": "42501"}'), '401 42501', '42501 without a token is 401');
SELECT is(pg_temp.outcome('POST', '/rpc/raise', '', :'h', '{"p_state": "22023"}'), '400 22023', 'other codes are 400');

SELECT is(pg_temp.outcome('GET', '/author', 'limit=-1'), '416 PGRST103', 'a negative limit is 416 PGRST103');
SELECT * FROM finish();
ROLLBACK;
