-- stock.create_product: stored values and defaults, price rounding, bad input, permissions, row security.
BEGIN;
\ir ../setup.sql
SELECT plan(41);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('pr30_mgr', 'stock_manager', :a, false) AS mgr \gset
SELECT pg_temp.make_user('pr30_user', 'stock_user', :a, false) AS usr \gset
UPDATE erp.company SET price_precision = 4 WHERE id = :a1;

-- ------------------------------------------------------------ success (bootstrap)
SELECT stock.create_product(:a, 'SKU-1', '  Widget  ') AS p1 \gset
SELECT results_eq(
    format('SELECT company_id, sku, name, cost_method, standard_price, uom, tracking, active FROM stock.product WHERE id = %s', :p1),
    format($$VALUES (%s::bigint, 'SKU-1'::text, 'Widget'::text, 'fifo'::text, 0::numeric, 'Unit'::text, 'none'::text, true)$$, :a),
    'a product is stored with a trimmed name and the defaults fifo, 0, Unit, none, active');
SELECT is(ARRAY[(SELECT count(*)::int FROM stock.company_setting WHERE company_id = :a),
                (SELECT count(*)::int FROM stock.location WHERE company_id = :a AND usage <> 'internal'),
                (SELECT count(*)::int FROM stock.account WHERE company_id = :a)],
          ARRAY[1, 6, 8], 'the first product set up stock for A: settings, 6 virtual locations, 8 accounts');
SELECT stock.create_product(:a, 'SKU-2', 'Flour', 'avco', 3.5, 'kg', 'lot') AS p2 \gset
SELECT results_eq(format('SELECT cost_method, standard_price, uom, tracking FROM stock.product WHERE id = %s', :p2),
                  $$VALUES ('avco'::text, 3.5::numeric, 'kg'::text, 'lot'::text)$$,
                  'cost method avco, unit kg and lot tracking are stored');
SELECT stock.create_product(:a, 'SKU-3', 'Motor', 'standard', 12.5, 'Dozen', 'serial') AS p3 \gset
SELECT results_eq(format('SELECT cost_method, standard_price, uom, tracking FROM stock.product WHERE id = %s', :p3),
                  $$VALUES ('standard'::text, 12.5::numeric, 'Dozen'::text, 'serial'::text)$$,
                  'cost method standard, unit Dozen and serial tracking are stored');
SELECT stock.create_product(:a, 'SKU-4', 'Rounded', 'standard', 1.005) AS p4 \gset
SELECT is((SELECT standard_price FROM stock.product WHERE id = :p4), 1.01::numeric,
          'price 1.005 is rounded half up to 1.01 (default precision 2)');
SELECT stock.create_product(:a, 'SKU-5', 'Rounded down', 'standard', 1.004) AS p5 \gset
SELECT is((SELECT standard_price::text FROM stock.product WHERE id = :p5), '1.00',
          'price 1.004 is rounded to 1.00, stored with 2 decimals');
SELECT stock.create_product(:a1, 'SKU-1', 'Precise', 'standard', 1.00005) AS pa1 \gset
SELECT is((SELECT standard_price FROM stock.product WHERE id = :pa1), 1.0001::numeric,
          'with price_precision 4, price 1.00005 is rounded to 1.0001; the SKU of A is free in A1');
SELECT stock.create_product(:a, repeat('x', 64), 'Long SKU') AS p64 \gset
SELECT is((SELECT length(sku) FROM stock.product WHERE id = :p64), 64, 'a 64-character SKU is accepted');
SELECT stock.create_product(:b, 'SKU-1', 'Widget of B') AS pb \gset
SELECT is((SELECT company_id FROM stock.product WHERE id = :pb), :'b'::bigint,
          'the same SKU is allowed in another company');

-- ------------------------------------------------------------ bad input (bootstrap)
SELECT count(*) AS products_before FROM stock.product \gset
SELECT throws_ok(format('SELECT stock.create_product(%s, NULL, %L)', :a, 'x'), '22023', 'invalid SKU NULL',
                 'a NULL SKU is refused (22023)');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L)', :a, ' ', 'x'), '22023', 'invalid SKU '' ''',
                 'a SKU of one space is refused');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L)', :a, 'SKU 9', 'x'), '22023', NULL,
                 'a SKU with a space is refused');
SELECT is(pg_temp.error_detail(format('SELECT stock.create_product(%s, %L, %L)', :a, 'SKU 9', 'x')),
          '22023: A SKU is 1 to 64 characters without spaces.', 'the detail describes a SKU');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L)', :a, repeat('x', 65), 'x'), '22023', NULL,
                 'a 65-character SKU is refused');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L)', :a, 'SKU-9', E' \t '), '22023',
                 'product name must not be empty', 'a blank name is refused');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L, %L)', :a, 'SKU-9', 'x', 'lifo'), '22023',
                 'invalid cost method ''lifo''', 'an unknown cost method is refused');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L, %L, %s)', :a, 'SKU-9', 'x', 'standard', -0.01),
                 '22023', 'standard price must be zero or positive', 'a negative price is refused');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L, %L, NULL)', :a, 'SKU-9', 'x', 'standard'),
                 '22023', 'standard price must be zero or positive', 'a NULL price is refused');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L, %L, 0, %L)', :a, 'SKU-9', 'x', 'fifo', 'box'),
                 '22023', 'unknown unit of measure ''box''', 'an unknown unit is refused');
SELECT throws_ok(format('SELECT stock.create_product(%s, %L, %L, %L, 0, %L, %L)', :a, 'SKU-9', 'x', 'fifo', 'Unit',
                        'serials'),
                 '22023', 'invalid tracking ''serials''', 'an unknown tracking is refused');
SELECT throws_ok($$SELECT stock.create_product(NULL, 'SKU-9', 'x')$$, '22004', 'company must not be null',
                 'a NULL company is refused (22004)');
SELECT throws_ok(format($$SELECT stock.create_product(%s, 'SKU-9', 'x')$$, (SELECT max(id) + 1000 FROM erp.company)),
                 '22023', format('company %s does not exist', (SELECT max(id) + 1000 FROM erp.company)),
                 'an unknown company is refused (22023)');
SELECT throws_ok(format($$SELECT stock.create_product(%s, 'SKU-1', 'Again')$$, :a), '23505',
                 format('SKU ''SKU-1'' already exists in company %s', :a), 'a duplicate SKU in A is refused (23505)');
SELECT throws_ok(format($$SELECT stock.create_product(%s, 'SKU-9', 'x', 'fifo', 0, 'Unit', 'batch')$$, :g), '22023',
                 NULL, 'a refused product in G (no stock set-up yet)');
SELECT is(ARRAY[(SELECT count(*) FROM stock.product),
                (SELECT count(*) FROM stock.company_setting WHERE company_id = :g),
                (SELECT count(*) FROM stock.location WHERE company_id = :g)],
          ARRAY[:'products_before'::bigint, 0, 0],
          'the refused calls wrote no product, and no stock set-up for G');
-- NaN and Infinity are numeric values too; the product must refuse them like a negative price.
SELECT throws_ok(format($$SELECT stock.create_product(%s, %L, %L, %L, 'NaN')$$, :a, 'SKU-NAN', 'x', 'standard'),
                 '22023', 'standard price must be zero or positive', 'a NaN price is refused');
SELECT throws_ok(format($$SELECT stock.create_product(%s, %L, %L, %L, 'Infinity')$$, :a, 'SKU-INF', 'x', 'standard'),
                 '22023', 'standard price must be zero or positive', 'an infinite price is refused');
-- (if they were wrongly accepted, drop them so that the tests below see the intended products)
DELETE FROM stock.product WHERE sku IN ('SKU-NAN', 'SKU-INF');

-- ------------------------------------------------------------ permissions
SELECT pg_temp.login('pr30_mgr', :a);
SELECT stock.create_product(:a, 'MGR-1', 'By manager') AS pm \gset
SELECT is((SELECT company_id FROM stock.product WHERE id = :pm), :'a'::bigint,
          'a stock_manager of A creates a product in A');
SELECT throws_ok(format($$SELECT stock.create_product(%s, 'MGR-2', 'x')$$, :b), '42501',
                 'permission denied for "stock.product:create"', 'a stock_manager of A cannot create one in B');
SELECT pg_temp.login('pr30_user', :a);
SELECT throws_ok(format($$SELECT stock.create_product(%s, 'USR-1', 'x')$$, :a), '42501',
                 'permission denied for "stock.product:create"', 'a stock_user is refused (42501)');
SELECT is(pg_temp.error_detail(format($$SELECT stock.create_product(%s, 'USR-1', 'x')$$, :a)),
          format('42501: Permission "stock.product:create" is required on company %s.', :a),
          'the detail names stock.product:create and the company');
SELECT is((SELECT count(*)::int FROM stock.product WHERE sku IN ('MGR-2', 'USR-1')), 0,
          'the refused users wrote no product');

-- ------------------------------------------------------------ row security as pgerp_app
SET LOCAL ROLE pgerp_app;
SELECT set_eq('SELECT id FROM stock.product', ARRAY[:p1, :p2, :p3, :p4, :p5, :p64, :pm]::bigint[],
              'a stock_user of A sees exactly the products of A (not those of B or of the child A1)');
SELECT is((SELECT count(*)::int FROM stock.product WHERE id IN (:pb, :pa1)), 0,
          'the products of B and A1 are invisible, even by id');
WITH u AS (UPDATE stock.product SET name = 'by user' WHERE id = :p1 RETURNING 1)
SELECT is(count(*)::int, 0, 'a stock_user (no stock.product:write) renames nothing') FROM u;
SELECT pg_temp.login('pr30_mgr', :a);
WITH u AS (UPDATE stock.product SET name = 'Widget renamed' WHERE id = :p1 RETURNING 1)
SELECT is(count(*)::int, 1, 'a stock_manager of A renames a product of A through pgerp_app') FROM u;
SELECT throws_ok(format('UPDATE stock.product SET standard_price = 99 WHERE id = %s', :p1), '42501',
                 'permission denied for table product', 'pgerp_app may not UPDATE standard_price (column privilege)');
WITH u AS (UPDATE stock.product SET name = 'hacked' WHERE id = :pb RETURNING 1)
SELECT is(count(*)::int, 0, 'a product of B is not renamed (0 rows)') FROM u;
SELECT throws_ok(format($$INSERT INTO stock.product (company_id, sku, name) VALUES (%s, 'RAW-1', 'x')$$, :a), '42501',
                 'permission denied for table product', 'pgerp_app cannot INSERT products directly');
SELECT stock.create_product(:a, 'APP-1', 'Through the app role') AS papp \gset
SELECT is((SELECT company_id FROM stock.product WHERE id = :papp), :'a'::bigint,
          'through pgerp_app, a stock_manager of A creates products with stock.create_product');
SELECT erp.sign_out();
RESET ROLE;
SELECT results_eq(format('SELECT id, name, standard_price FROM stock.product WHERE id IN (%s, %s) ORDER BY id', :p1, :pb),
                  format($$VALUES (%s::bigint, 'Widget renamed'::text, 0::numeric), (%s, 'Widget of B', 0)$$, :p1, :pb),
                  'as superuser: A''s product renamed, its price unchanged; B''s product untouched');

SELECT * FROM finish();
ROLLBACK;
