-- stock.set_allow_negative: who may change it and what it changes.
BEGIN;
\ir ../setup.sql
SELECT plan(8);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'S45') AS wh \gset
SELECT stock.create_product(:a, 'S45-P', 'Setting product') AS p \gset
SELECT pg_temp.make_user('t45_mgr', 'stock_manager', :a) AS mgr \gset
SELECT pg_temp.make_user('t45_user', 'stock_user', :a) AS usr \gset
SELECT stock.receive(:p, 1, 10, :wh);

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t45_user', :a);
SELECT is(pg_temp.error_detail(format('SELECT stock.set_allow_negative(%s, false)', :a)),
          format('42501: Permission "stock.company_setting:write" is required on company %s.', :a),
          'a stock user may not change the setting');
SELECT pg_temp.login('t45_mgr', :a);
SELECT lives_ok(format('SELECT stock.set_allow_negative(%s, false)', :a), 'a stock manager may');
SELECT is((SELECT allow_negative FROM stock.company_setting WHERE company_id = :a), false, 'negative stock is now forbidden');
SELECT throws_ok(format('SELECT stock.deliver(%s, 2, %s)', :p, :wh), '23514', NULL,
                 'a delivery beyond the stock is refused');
SELECT is(stock.on_hand(:p), 1.00, 'and nothing moved');
SELECT lives_ok(format('SELECT stock.set_allow_negative(%s, true)', :a), 'allowed again');
SELECT stock.deliver(:p, 2, :wh) AS d \gset
SELECT is(stock.on_hand(:p), -1.00, 'the same delivery now takes the stock below zero');
SELECT throws_ok(format('SELECT stock.set_allow_negative(%s, NULL)', :a), '22004', NULL, 'NULL is refused');

SELECT * FROM finish();
ROLLBACK;
