-- stock idempotency keys (#14.6): a retry after an in-doubt commit returns the first result and posts
-- nothing; the same key with other arguments is 23505; keys are per company and invisible across companies.
BEGIN;
\ir ../setup.sql
SELECT plan(30);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'ID80') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.create_warehouse(:a, 'ID80-2') AS wh2 \gset
SELECT stock.warehouse_location(:wh2) AS loc2 \gset
SELECT stock.create_warehouse(:b, 'ID80-B') AS whb \gset
SELECT stock.create_product(:a, 'ID80-P', 'Keyed fifo') AS p \gset
SELECT stock.create_product(:a, 'ID80-AV', 'Keyed average', 'avco') AS pav \gset
SELECT stock.create_product(:b, 'ID80-B', 'Keyed in B') AS pb \gset
SELECT pg_temp.make_user('id80_mgr', 'stock_manager', :a, false) AS mgr \gset
SELECT pg_temp.make_user('id80_bob', 'stock_manager', :b, false) AS bob \gset
SELECT pg_temp.make_user('id80_aud', 'auditor', :a, false) AS aud \gset

-- What a posting can change: moves, quants, layers, journal lines, landed
-- costs and running totals of company A, as one comparable row.
CREATE FUNCTION pg_temp.state(p_company bigint) RETURNS text LANGUAGE sql AS $$
    SELECT format('moves %s, quants %s, layers %s/%s, lines %s, landed %s, totals %s/%s',
                  (SELECT count(*) FROM stock.move WHERE company_id = p_company),
                  (SELECT coalesce(sum(quantity), 0) FROM stock.quant WHERE company_id = p_company),
                  (SELECT count(*) FROM stock.valuation_layer WHERE company_id = p_company),
                  (SELECT coalesce(sum(remaining_value), 0) FROM stock.valuation_layer WHERE company_id = p_company),
                  (SELECT count(*) FROM stock.journal_line WHERE company_id = p_company),
                  (SELECT count(*) FROM stock.landed_cost WHERE company_id = p_company),
                  (SELECT coalesce(sum(qty), 0) FROM stock.product_value WHERE company_id = p_company),
                  (SELECT coalesce(sum(value), 0) FROM stock.product_value WHERE company_id = p_company))
$$;

-- the first call commits (its savepoint is released), the client does not know it and retries
SELECT pg_temp.login('id80_mgr', :a);
SAVEPOINT first_call;
SELECT stock.receive(:p, 10, 2, :wh, 'R1', p_idempotency_key => 'rcv-1') AS r1 \gset
RELEASE SAVEPOINT first_call;
SELECT pg_temp.state(:a) AS after_first \gset
SELECT is(stock.receive(:p, 10, 2, :wh, 'R1', p_idempotency_key => 'rcv-1'), :r1::bigint,
          'retry after an in-doubt commit returns the same move');
SELECT is(pg_temp.state(:a), :'after_first', 'and changes nothing: moves, quants, layers, journal, running totals');
SELECT is(stock.on_hand(:p), 10::numeric, '10 on hand, not 20');
SELECT is(stock.receive(:p, 10.000, 2.0, :wh, 'R1', p_idempotency_key => 'rcv-1'), :r1::bigint,
          'numbers compare by value: 10.000 at 2.0 is the same posting');
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 11, 2, %s, %L, p_idempotency_key => %L)', :p, :wh, 'R1', 'rcv-1')),
          '23505: idempotency key ''rcv-1'' was used for another posting', 'the same key with another quantity: 23505');
SELECT is(pg_temp.error_detail(format('SELECT stock.deliver(%s, 1, %s, p_idempotency_key => %L)', :p, :wh, 'rcv-1')),
          format('23505: The key was used by stock.receive at %s.', (SELECT created_at FROM stock.idempotency_key WHERE key = 'rcv-1')),
          'the same key for another posting function: 23505 naming the first one');
SELECT is(pg_temp.state(:a), :'after_first', 'the refused retries wrote nothing');
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 1, 2, p_idempotency_key => %L)', :p, 'two words')),
          '22023: invalid idempotency key ''two words''', 'a key with a space is refused (22023)');
SELECT is(stock.receive(:p, 1, 2, :wh, p_idempotency_key => 'rcv-dated'), stock.receive(:p, 1, 2, :wh, p_idempotency_key => 'rcv-dated'),
          'a defaulted date (now) is the same argument in the retry');

-- every other posting function: the retry returns the first result and posts nothing
SAVEPOINT first_call;
SELECT stock.deliver(:p, 3, :wh, 'D1', p_idempotency_key => 'dlv-1') AS d1,
       stock.transfer(:p, 2, :loc, :loc2, 'T1', p_idempotency_key => 'trf-1') AS t1,
       stock.scrap(:p, 1, :wh, 'S1', p_idempotency_key => 'scr-1') AS s1,
       stock.adjust(:p, :loc2, 5, p_idempotency_key => 'adj-1') AS a1,
       stock.adjust(:p, :loc2, 5, p_idempotency_key => 'adj-same') AS a_same,
       stock.create_move(:p, 4, :loc, stock.virtual_location(:a, 'customer')) AS open_move \gset
SELECT stock.confirm(:open_move);
SELECT stock.validate(:open_move, 3, p_idempotency_key => 'val-1') AS backorder \gset
SELECT stock.return_move(:d1, 2, p_idempotency_key => 'ret-1') AS ret1 \gset
SELECT stock.receive(:pav, 4, 5, :wh, 'AV') AS rav \gset
SELECT stock.apply_landed_cost(ARRAY[:rav]::bigint[], 8, 'equal', 'LC', p_idempotency_key => 'lc-1') AS lc1 \gset
SELECT stock.revalue(:pav, 4, 'RV', p_idempotency_key => 'rv-1');
RELEASE SAVEPOINT first_call;
SELECT pg_temp.state(:a) AS after_all \gset
SELECT is(stock.deliver(:p, 3, :wh, 'D1', p_idempotency_key => 'dlv-1'), :d1::bigint, 'deliver: same move');
SELECT is(stock.transfer(:p, 2, :loc, :loc2, 'T1', p_idempotency_key => 'trf-1'), :t1::bigint, 'transfer: same move');
SELECT is(stock.scrap(:p, 1, :wh, 'S1', p_idempotency_key => 'scr-1'), :s1::bigint, 'scrap: same move');
SELECT is(stock.adjust(:p, :loc2, 5, p_idempotency_key => 'adj-1'), :a1::bigint, 'adjust: same move');
SELECT is(stock.adjust(:p, :loc2, 5, p_idempotency_key => 'adj-same'), NULL, 'adjust whose count matched: null again');
SELECT is(stock.validate(:open_move, 3, p_idempotency_key => 'val-1'), :backorder::bigint,
          'validate of a move now done: the same backorder, not "already done"');
SELECT is(stock.return_move(:d1, 2, p_idempotency_key => 'ret-1'), :ret1::bigint, 'return_move: same return move');
SELECT is(stock.apply_landed_cost(ARRAY[:rav]::bigint[], 8, 'equal', 'LC', p_idempotency_key => 'lc-1'), :lc1::bigint,
          'apply_landed_cost: same landed cost');
SELECT lives_ok($$SELECT stock.revalue($$ || :pav || $$, 4, 'RV', p_idempotency_key => 'rv-1')$$, 'revalue: the retry succeeds');
SELECT is(pg_temp.state(:a), :'after_all', 'none of the retries changed moves, quants, layers, journal, landed costs or totals');
SELECT is((SELECT value FROM stock.product_value WHERE product_id = :pav), 32::numeric,
          'the average product is worth 20 + 8 + 4 once');
SELECT is_empty($$SELECT * FROM stock.verify_valuation()$$, 'valuation verifies');
SELECT is(pg_temp.error_message(format('SELECT stock.revalue(%s, 5, %L, p_idempotency_key => %L)', :pav, 'RV', 'rv-1')),
          '23505: idempotency key ''rv-1'' was used for another posting', 'revalue with another amount under the key: 23505');

-- a replay checks the permission the first call needed: an auditor of A gets 42501, not the move
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('id80_aud', :a);
SELECT is(pg_temp.error_detail(format('SELECT stock.receive(%s, 10, 2, %s, %L, p_idempotency_key => %L)', :p, :wh, 'R1', 'rcv-1')),
          format('42501: Permission "stock.move:create" is required on company %s.', :a),
          'an auditor replaying the key: 42501 naming stock.move:create');
RESET ROLE;

-- keys are per company: the same key in B is another posting
SELECT pg_temp.login('id80_bob', :b);
SELECT stock.receive(:pb, 7, 1, :whb, p_idempotency_key => 'rcv-1') AS rb \gset
SELECT isnt(:rb::bigint, :r1::bigint, 'the key rcv-1 in company B posts its own move');
SELECT is(stock.on_hand(:pb), 7::numeric, 'received in B');

-- row security: a company's keys are invisible to another company's user
SET LOCAL ROLE pgerp_app;
SELECT is((SELECT array_agg(key ORDER BY key) FROM stock.idempotency_key), '{rcv-1}'::text[], 'bob sees B''s only key');
SELECT is((SELECT count(*)::int FROM stock.idempotency_key WHERE company_id = :a), 0, 'and none of A''s');
SELECT pg_temp.login('id80_mgr', :a);
SELECT is((SELECT count(*)::int FROM stock.idempotency_key WHERE company_id = :b), 0, 'A''s user sees none of B''s keys');
SELECT is((SELECT result FROM stock.idempotency_key WHERE key = 'rcv-1'), to_jsonb(:r1::bigint), 'and its own key with its result');
SELECT erp.sign_out();
RESET ROLE;

-- retention: keys older than the retention go
UPDATE stock.idempotency_key SET created_at = now() - interval '8 days' WHERE company_id = :a AND key LIKE 'rcv-%';
SELECT is(stock._purge_idempotency_keys(interval '7 days'), 2::bigint, 'the purge deletes the two keys older than 7 days');

SELECT * FROM finish();
ROLLBACK;
