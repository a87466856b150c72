-- The Idempotency-Key header of POST /rpc/<fn> (#14.6): passed as the function's idempotency_key, the body's
-- own idempotency_key wins, a function without that argument answers 400; and a request without a
-- token that posts is 401 "no user is signed in" (28000, #14.5).
BEGIN;
\ir ../setup.sql
\ir fixture.psql
SELECT plan(12);
SET LOCAL pgerp.http_schemas = 'api';
SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t70_alice', 'admin', :a, false) AS alice \gset
SELECT stock.create_warehouse(:a, 'T70A') AS wa \gset
SELECT stock.create_product(:a, 'T70-A1', 'Bolt of A') AS pa \gset
SELECT pg_temp.bearer('t70_alice', :a) AS ha \gset
SET LOCAL ROLE pgerp_app;

SELECT format('{"product": %s, "qty": 10, "unit_cost": 2.5, "warehouse": %s}', :pa, :wa) AS rcv \gset
SELECT (body::jsonb ->> 'id')::bigint AS m1 FROM pg_temp.http('POST', '/rpc/receive', '', :'ha'::jsonb || '{"idempotency-key": "h-1"}', :'rcv') \gset
SELECT isnt(:m1::bigint, NULL, 'POST /rpc/receive with an Idempotency-Key posts a move');
SELECT results_eq(format($$SELECT status, (body::jsonb ->> 'id')::bigint FROM pg_temp.http('POST', '/rpc/receive', '', %L::jsonb, %L)$$,
                         :'ha'::jsonb || '{"idempotency-key": "h-1"}', :'rcv'),
                  format('VALUES (200, %s::bigint)', :m1), 'the retry with the same header answers the same move');
SELECT is((SELECT count(*)::int FROM stock.move WHERE product_id = :pa), 1, 'one move was posted');
SELECT is((SELECT key FROM stock.idempotency_key WHERE result = to_jsonb(:m1::bigint)), 'h-1', 'under the header''s key');
SELECT is(pg_temp.outcome('POST', '/rpc/receive', '', :'ha'::jsonb || '{"idempotency-key": "h-1"}',
                          format('{"product": %s, "qty": 11, "unit_cost": 2.5, "warehouse": %s}', :pa, :wa)),
          '409 23505', 'the same header with another quantity: 409 (23505)');
SELECT is(pg_temp.outcome('POST', '/rpc/receive', '', :'ha'::jsonb || '{"idempotency-key": "h-2"}',
                          format('{"product": %s, "qty": 10, "unit_cost": 2.5, "warehouse": %s, "idempotency_key": "h-1"}', :pa, :wa)),
          '200 -', 'the body''s idempotency_key wins over the header: h-1 again');
SELECT is((SELECT count(*)::int FROM stock.move WHERE product_id = :pa), 1, 'still one move; no key h-2 was made');
SELECT is(pg_temp.outcome('POST', '/rpc/create_mo', '', :'ha'::jsonb || '{"idempotency-key": "h-3"}',
                          format('{"product": %s, "qty": 1}', :pa)),
          '400 PGRST100', 'a function without idempotency_key: 400 PGRST100, nothing called');
SELECT is((SELECT body::jsonb ->> 'message' FROM pg_temp.http('POST', '/rpc/create_mo', '', :'ha'::jsonb || '{"idempotency-key": "h-3"}',
                          format('{"product": %s, "qty": 1}', :pa))),
          'Idempotency-Key header not accepted by this function', 'saying why');
SELECT is((SELECT count(*)::int FROM mrp.production WHERE product_id = :pa), 0, 'no MO was created');
SELECT is(pg_temp.outcome('POST', '/rpc/nope', '', :'ha'::jsonb || '{"idempotency-key": "h-4"}', '{}'),
          '404 PGRST202', 'an unknown function with the header is still 404');

-- without a token (a client that lost its identity): 401, "no user is signed in"
SELECT is(pg_temp.outcome('POST', '/rpc/receive', '', '{}', :'rcv'), '401 28000',
          'a posting without a token is 401 with 28000, not "product does not exist"');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
