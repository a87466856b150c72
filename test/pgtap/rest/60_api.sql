-- The api contract over erp.http_request as the caller of each company, the group admin and nobody:
-- reads, embeds, writes through the INSTEAD OF triggers, upserts, RPC postings, isolation.
BEGIN;
\ir ../setup.sql
\ir fixture.psql
SELECT plan(22);
SET LOCAL pgerp.http_schemas = 'api';
SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t60_alice', 'admin', :a, false) AS alice \gset
SELECT pg_temp.make_user('t60_bob', 'admin', :b, false) AS bob \gset
SELECT pg_temp.make_user('t60_admin', 'admin', :g) AS adm \gset
SELECT stock.create_warehouse(:a, 'T60A') AS wa \gset
SELECT stock.create_warehouse(:b, 'T60B') AS wb \gset
SELECT stock.create_product(:a, 'T60-A1', 'Bolt of A', 'fifo', 2) AS pa \gset
SELECT stock.create_product(:b, 'T60-B1', 'Bolt of B', 'fifo', 3) AS pb \gset
SELECT pg_temp.bearer('t60_alice', :a) AS ha \gset
SELECT pg_temp.bearer('t60_bob', :b) AS hb \gset
SELECT pg_temp.bearer('t60_admin', :g) AS hg \gset
SET LOCAL ROLE pgerp_app;

SELECT is(pg_temp.get_json('/products', 'select=sku&sku=like.T60-*', :'ha'), '[{"sku":"T60-A1"}]', 'alice sees the products of A');
SELECT is(pg_temp.get_json('/products', 'select=sku&sku=like.T60-*', :'hb'), '[{"sku":"T60-B1"}]', 'bob those of B');
SELECT is(pg_temp.get_json('/products', 'select=sku&sku=like.T60-*&order=sku', :'hg'), '[{"sku":"T60-A1"},{"sku":"T60-B1"}]', 'the group admin both');
SELECT is(pg_temp.get_json('/products', 'select=sku&sku=like.T60-*'), '[]', 'nobody none');
SELECT is(pg_temp.outcome('GET', '/products', format('id=eq.%s', :pb), :'ha'::jsonb || '{"accept": "application/vnd.pgrst.object+json"}'),
          '406 PGRST116', 'bob''s product by id is a missing row for alice');

-- postings through RPC, and the moves they make, embedded both ways
SELECT is((SELECT status FROM pg_temp.http('POST', '/rpc/receive', '', :'ha', format('{"product": %s, "qty": 10, "unit_cost": 2.5, "warehouse": %s}', :pa, :wa))),
          200, 'alice receives into A over HTTP');
SELECT is(pg_temp.get_json('/moves', format('select=qty,value,products(sku)&product_id=eq.%s', :pa), :'ha'),
          '[{"qty":10,"value":25.0,"products":{"sku":"T60-A1"}}]', 'the move, with its product embedded');
SELECT is(pg_temp.get_json('/products', format('select=sku,moves(qty)&id=eq.%s', :pa), :'ha'),
          '[{"sku":"T60-A1","moves":[{"qty":10}]}]', 'and the product with its moves');
SELECT is(pg_temp.outcome('POST', '/rpc/receive', '', :'ha', format('{"product": %s, "qty": 10, "unit_cost": 1}', :pb)),
          '400 22023', 'a product of B is a missing product for alice (22023)');
SELECT is(pg_temp.outcome('POST', '/rpc/receive', '', '{}', format('{"product": %s, "qty": 10, "unit_cost": 1}', :pa)),
          '401 28000', 'without a token nobody is signed in: 401 (28000), not a missing product');
SELECT is((SELECT count(*)::int FROM stock.move WHERE product_id = :pb), 0, 'nothing was posted for B');
SELECT is(pg_temp.outcome('POST', '/rpc/receive', '', :'ha', format('{"product": %s, "qty": "NaN", "unit_cost": 1}', :pa)),
          '400 22023', 'NaN is refused at the entry point');

-- writes through the views
SELECT is(pg_temp.outcome('POST', '/products', '', :'ha', '{"sku": "T60-A2", "name": "Nut"}'), '201 -', 'POST of a product');
SELECT is((SELECT company_id FROM stock.product WHERE sku = 'T60-A2'), :a::bigint, 'in alice''s company');
SELECT is(pg_temp.outcome('POST', '/products', '', :'ha', format('{"company_id": %s, "sku": "T60-X", "name": "x"}', :b)),
          '403 42501', 'POST into B is refused');
SELECT is((SELECT body::jsonb FROM pg_temp.http('POST', '/products', 'on_conflict=company_id,sku&select=sku,name',
              :'ha'::jsonb || '{"prefer": "resolution=merge-duplicates, return=representation"}', '[{"sku": "T60-A2", "name": "Nut M8"}]')),
          '[{"sku":"T60-A2","name":"Nut M8"}]', 'an upsert on company_id,sku merges');
SELECT is(pg_temp.outcome('POST', '/products', '', :'ha', '{"sku": "T60-A2", "name": "again"}'), '409 23505', 'without a resolution a duplicate is 409');
SELECT is((SELECT body::jsonb FROM pg_temp.http('PATCH', '/products', 'sku=eq.T60-A2&select=standard_price',
              :'ha'::jsonb || '{"prefer": "return=representation"}', '{"standard_price": 4.5}')),
          '[{"standard_price":4.50}]', 'PATCH of the standard price');
SELECT is(pg_temp.outcome('PATCH', '/products', 'sku=eq.T60-A2', :'ha', '{"sku": "T60-Z"}'), '400 428C9', 'PATCH of the SKU is refused');
SELECT is((SELECT status FROM pg_temp.http('PATCH', '/products', 'sku=like.T60-*', :'ha', '{"name": "renamed"}')), 204, 'PATCH by a filter');
SELECT is((SELECT name FROM stock.product WHERE id = :pb), 'Bolt of B', 'which never reaches B');
SELECT is(pg_temp.outcome('DELETE', '/moves', 'id=gt.0', :'ha'), '403 42501', 'moves are read-only: no DELETE privilege');

SELECT * FROM finish();
ROLLBACK;
