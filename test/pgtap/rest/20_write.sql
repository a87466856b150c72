-- erp.http_request writes: POST (one, many, CSV, columns, upsert), PATCH, PUT, DELETE, Prefer.
BEGIN;
\ir ../setup.sql
\ir fixture.psql
SELECT plan(34);
-- writes need an identity: every request here carries a token
SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t_rest_w', 'admin', :a) AS w \gset
SELECT pg_temp.bearer('t_rest_w') AS h \gset
CREATE FUNCTION pg_temp.with_h(p jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT current_setting('t.h')::jsonb || p $$;
SELECT set_config('t.h', :'h', true) IS NOT NULL AS set_h \gset

SELECT results_eq($$SELECT status, body, headers ->> 'Preference-Applied' FROM pg_temp.http('POST', '/tag', '', pg_temp.with_h('{}'), '{"label":"one"}')$$,
                  $$VALUES (201, NULL::text, NULL::text)$$, 'POST of one object: 201, no body by default');
SELECT is((SELECT count(*)::int FROM t_rest.tag WHERE label = 'one'), 1, 'the row is there');
SELECT results_eq($$SELECT status, body::jsonb, headers ->> 'Preference-Applied'
                    FROM pg_temp.http('POST', '/author', 'select=id,name', pg_temp.with_h('{"prefer": "return=representation"}'),
                                      '[{"id":10,"name":"Emile"},{"id":11,"name":"Flora"}]')$$,
                  $$VALUES (201, '[{"id":10,"name":"Emile"},{"id":11,"name":"Flora"}]'::jsonb, 'return=representation')$$,
                  'POST of an array with return=representation and select');
SELECT results_eq($$SELECT status, headers ->> 'Location' FROM pg_temp.http('POST', '/author', '', pg_temp.with_h('{"prefer": "return=headers-only"}'), '{"id":12,"name":"Gil"}')$$,
                  $$VALUES (201, '/author?id=eq.12')$$, 'return=headers-only gives Location');
SELECT is(pg_temp.outcome('POST', '/author', '', pg_temp.with_h('{}'), '[{"id":13,"name":"H"},{"id":14}]'), '400 PGRST102',
          'objects with other keys are PGRST102');
SELECT is((SELECT count(*)::int FROM t_rest.author WHERE id IN (13, 14)), 0, 'and nothing was written');
SELECT is(pg_temp.outcome('POST', '/author', '', pg_temp.with_h('{}'), '{"id":13,"nope":1}'), '400 PGRST204', 'an unknown column is PGRST204');
SELECT is(pg_temp.outcome('POST', '/author', '', pg_temp.with_h('{}'), '{"id":13'), '400 PGRST102', 'invalid JSON is PGRST102');
SELECT is(pg_temp.outcome('POST', '/author', 'columns=id,name,born', pg_temp.with_h('{}'), '[{"id":15,"name":"I","born":"2000-01-01","extra":true},{"id":16,"name":"J"}]'), '201 -',
          'columns= takes the named keys only, missing ones are null');
SELECT is((SELECT born FROM t_rest.author WHERE id = 16), NULL, 'the missing born of the second row is null');
SELECT is(pg_temp.outcome('POST', '/book', 'columns=id,author_id,title,price', pg_temp.with_h('{"prefer": "missing=default"}'), '[{"id":20,"author_id":1,"title":"T"}]'), '201 -',
          'missing=default');
SELECT is((SELECT price FROM t_rest.book WHERE id = 20), 10::numeric, 'the missing price took the column default');
SELECT is(pg_temp.outcome('POST', '/author', '', pg_temp.with_h('{"content-type": "text/csv"}'), E'id,name,born\n30,Jo,1990-05-01\n31,"K, L",NULL'), '201 -', 'POST of text/csv');
SELECT results_eq($$SELECT name, born FROM t_rest.author WHERE id IN (30, 31) ORDER BY id$$,
                  $$VALUES ('Jo', '1990-05-01'::date), ('K, L', NULL)$$, 'CSV values and NULL');
SELECT is(pg_temp.outcome('POST', '/author', '', pg_temp.with_h('{}'), '{"id":1,"name":"dup"}'), '409 23505', 'a duplicate key is 409 23505');
SELECT results_eq($$SELECT status, headers ->> 'Preference-Applied' FROM pg_temp.http('POST', '/author', 'on_conflict=id', pg_temp.with_h('{"prefer": "resolution=merge-duplicates"}'), '{"id":1,"name":"Ada L."}')$$,
                  $$VALUES (201, 'resolution=merge-duplicates')$$, 'an upsert merging');
SELECT is((SELECT name FROM t_rest.author WHERE id = 1), 'Ada L.', 'the existing row was updated');
SELECT is(pg_temp.outcome('POST', '/author', '', pg_temp.with_h('{"prefer": "resolution=ignore-duplicates"}'), '{"id":1,"name":"ignored"}'), '201 -', 'ignore-duplicates');
SELECT is((SELECT name FROM t_rest.author WHERE id = 1), 'Ada L.', 'the row was left as it was');

-- ------------------------------------------------ PATCH, DELETE, PUT
SELECT results_eq($$SELECT status, body::jsonb FROM pg_temp.http('PATCH', '/book', 'id=eq.2&select=id,price', pg_temp.with_h('{"prefer": "return=representation"}'), '{"price": 9.99}')$$,
                  $$VALUES (200, '[{"id":2,"price":9.99}]'::jsonb)$$, 'PATCH with a filter');
SELECT results_eq($$SELECT status, body::jsonb ->> 'code' FROM pg_temp.http('PATCH', '/book', '', pg_temp.with_h('{}'), '{"price": 1}')$$,
                  $$VALUES (400, '21000')$$, 'PATCH without a filter is refused');
SELECT is((SELECT count(*)::int FROM t_rest.book WHERE price = 1), 0, 'and changed nothing');
SELECT results_eq($$SELECT status, body::jsonb ->> 'code' FROM pg_temp.http('PATCH', '/book', 'price=gt.0', pg_temp.with_h('{"prefer": "handling=strict, max-affected=2"}'), '{"price": 2}')$$,
                  $$VALUES (400, 'PGRST124')$$, 'max-affected exceeded with handling=strict');
SELECT is((SELECT count(*)::int FROM t_rest.book WHERE price = 2), 0, 'and nothing was kept');
SELECT results_eq($$SELECT status FROM pg_temp.http('DELETE', '/tag', 'label=eq.one', pg_temp.with_h('{}'))$$, $$VALUES (204)$$, 'DELETE with a filter: 204');
SELECT is((SELECT count(*)::int FROM t_rest.tag), 0, 'the row is gone');
SELECT is(pg_temp.outcome('DELETE', '/tag', '', pg_temp.with_h('{}')), '400 21000', 'DELETE without a filter is refused');
SELECT results_eq($$SELECT status FROM pg_temp.http('PUT', '/author', 'id=eq.40', pg_temp.with_h('{}'), '{"id":40,"name":"Put"}')$$, $$VALUES (204)$$, 'PUT of a new row');
SELECT results_eq($$SELECT status FROM pg_temp.http('PUT', '/author', 'id=eq.40', pg_temp.with_h('{}'), '{"id":40,"name":"Put again"}')$$,
                  $$VALUES (204)$$, 'PUT of an existing row');
SELECT is((SELECT name FROM t_rest.author WHERE id = 40), 'Put again', 'replaced it');
SELECT results_eq($$SELECT status, headers ->> 'Preference-Applied' FROM pg_temp.http('POST', '/tag', '', pg_temp.with_h('{"prefer": "tx=rollback"}'), '{"label":"rolled back"}')$$,
                  $$VALUES (201, 'tx=rollback')$$, 'tx=rollback answers as if it committed');
SELECT is((SELECT count(*)::int FROM t_rest.tag WHERE label = 'rolled back'), 0, 'but nothing stays');

-- a bulk POST: the response outlives the statement's memory (it crashed the backend at 600 rows)
SELECT results_eq($$SELECT status, headers ->> 'Content-Range'
                    FROM pg_temp.http('POST', '/tag', '', pg_temp.with_h('{"prefer": "count=exact"}'),
                                      (SELECT json_agg(json_build_object('label', 'bulk ' || n))::text FROM generate_series(1, 1000) n))$$,
                  $$VALUES (201, '*/1000')$$, 'a bulk POST of 1,000 rows with count=exact');
SELECT is((SELECT count(*)::int FROM t_rest.tag WHERE label LIKE 'bulk %'), 1000, 'all 1,000 rows are there');
SELECT * FROM finish();
ROLLBACK;
