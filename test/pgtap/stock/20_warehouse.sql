-- stock.create_warehouse and the company stock set-up (virtual locations, accounts, settings); readers; row security.
BEGIN;
\ir ../setup.sql
SELECT plan(40);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('wh20_mgr', 'stock_manager', :a, false) AS mgr \gset
SELECT pg_temp.make_user('wh20_user', 'stock_user', :a, false) AS usr \gset
SELECT pg_temp.make_user('wh20_bmgr', 'stock_manager', :b, false) AS bmgr \gset

-- ------------------------------------------------------------ bootstrap: first warehouse of A
SELECT stock.create_warehouse(:a, 'WH-A', '  Main A  ') AS wa \gset
SELECT results_eq(format('SELECT company_id, code, name FROM stock.warehouse WHERE id = %s', :wa),
                  format($$VALUES (%s::bigint, 'WH-A'::text, 'Main A'::text)$$, :a),
                  'the bootstrap superuser creates a warehouse; its name is trimmed');
SELECT location_id AS wa_loc FROM stock.warehouse WHERE id = :wa \gset
SELECT results_eq(format('SELECT company_id, name, usage, warehouse_id, active FROM stock.location WHERE id = %s', :wa_loc),
                  format($$VALUES (%s::bigint, 'WH-A/Stock'::text, 'internal'::text, %s::bigint, true)$$, :a, :wa),
                  'its stock location is internal, named <code>/Stock and points back at the warehouse');
SELECT is(stock.warehouse_location(:wa), :'wa_loc'::bigint, 'stock.warehouse_location returns that location');
SELECT set_eq(format($$SELECT name, usage FROM stock.location WHERE company_id = %s AND usage <> 'internal'$$, :a),
              $$VALUES ('Partners/Vendors'::text, 'supplier'::text), ('Partners/Customers', 'customer'),
                       ('Virtual/Inventory adjustment', 'inventory'), ('Virtual/Production', 'production'),
                       ('Virtual/Scrap', 'scrap'), ('Virtual/Transit', 'transit')$$,
              'the first warehouse made the 6 virtual locations of A');
SELECT results_eq(format($$SELECT u, stock.virtual_location(%s, u)
                            FROM unnest('{customer,inventory,production,scrap,supplier,transit}'::text[]) u ORDER BY u$$, :a),
                  format($$SELECT usage, id FROM stock.location WHERE company_id = %s AND usage <> 'internal'
                           ORDER BY usage$$, :a),
                  'stock.virtual_location returns the location of each usage');
SELECT set_eq(format('SELECT code, name, kind FROM stock.account WHERE company_id = %s', :a),
              $$VALUES ('1400'::text, 'Stock valuation'::text, 'stock_valuation'::text),
                       ('2150', 'Stock interim received', 'stock_input'),
                       ('2160', 'Stock interim delivered', 'stock_output'),
                       ('5100', 'Price difference', 'price_difference'),
                       ('5200', 'Inventory loss and scrap', 'inventory_loss'),
                       ('5300', 'Landed cost expense', 'landed_cost_expense'),
                       ('5400', 'Production cost absorbed', 'production_cost'),
                       ('5500', 'Production variance', 'production_variance')$$,
              'the first warehouse made the 8 stock accounts of A');
SELECT results_eq(format('SELECT allow_negative FROM stock.company_setting WHERE company_id = %s', :a),
                  $$VALUES (true)$$, 'A has one stock.company_setting row, allow_negative = true');

-- ------------------------------------------------------------ a second warehouse adds no set-up
SELECT stock.create_warehouse(:a, 'WH2') AS wa2 \gset
SELECT is((SELECT name FROM stock.warehouse WHERE id = :wa2), 'WH2', 'without a name, the name is the code');
SELECT is((SELECT count(*)::int FROM stock.location WHERE company_id = :a), 8,
          'A has 8 locations after two warehouses: 6 virtual and 2 internal');
SELECT is((SELECT count(*)::int FROM stock.location WHERE company_id = :a AND usage <> 'internal'), 6,
          'the second warehouse added no virtual location');
SELECT is((SELECT count(*)::int FROM stock.account WHERE company_id = :a), 8, 'the second warehouse added no account');
SELECT stock.create_warehouse(:a, 'abcdefghij012_-Z') AS wa16 \gset
SELECT is((SELECT code FROM stock.warehouse WHERE id = :wa16), 'abcdefghij012_-Z', 'a 16-character code is accepted');

-- ------------------------------------------------------------ virtual_location refusals
SELECT throws_ok(format($$SELECT stock.virtual_location(%s, 'internal')$$, :a), '22023',
                 'invalid virtual location usage ''internal''', 'usage internal is not a virtual usage (22023)');
SELECT is(pg_temp.error_detail(format($$SELECT stock.virtual_location(%s, 'vendor')$$, :a)),
          '22023: The usages are supplier, customer, inventory, production, scrap and transit.',
          'an unknown usage is refused; the detail lists the usages');
SELECT throws_ok(format($$SELECT stock.virtual_location(%s, 'supplier')$$, :g), '22023',
                 format('company %s has no stock locations', :g), 'a company without stock set-up: 22023');
SELECT is(pg_temp.error_hint(format($$SELECT stock.virtual_location(%s, 'supplier')$$, :g)),
          '22023: They are made with the company''s first warehouse or product.',
          'the hint says how the locations are made');

-- ------------------------------------------------------------ create_warehouse refusals (bootstrap)
SELECT count(*) AS wh_before FROM stock.warehouse \gset
SELECT count(*) AS loc_before FROM stock.location \gset
SELECT throws_ok(format('SELECT stock.create_warehouse(%s, NULL)', :g), '22023', 'invalid warehouse code NULL',
                 'a NULL code is refused (22023)');
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, '')$$, :g), '22023', 'invalid warehouse code ''''',
                 'an empty code is refused');
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, 'a b')$$, :g), '22023', NULL,
                 'a code with a space is refused');
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, 'abcdefghij012345X')$$, :g), '22023', NULL,
                 'a 17-character code is refused');
SELECT is(pg_temp.error_detail(format($$SELECT stock.create_warehouse(%s, 'a b')$$, :g)),
          '22023: A warehouse code is 1 to 16 letters, digits, - or _, starting with a letter or digit.',
          'the detail describes a warehouse code');
SELECT throws_ok($$SELECT stock.create_warehouse(NULL, 'WHX')$$, '22004', 'company must not be null',
                 'a NULL company is refused (22004)');
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, 'WH-A')$$, :a), '23505',
                 format('warehouse ''WH-A'' already exists in company %s', :a), 'a duplicate code is refused (23505)');
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, 'WHX')$$, (SELECT max(id) + 1000 FROM erp.company)),
                 '22023', format('company %s does not exist', (SELECT max(id) + 1000 FROM erp.company)),
                 'an unknown company is refused (22023)');
SELECT is((SELECT count(*) FROM stock.warehouse), :'wh_before'::bigint, 'the refused calls wrote no warehouse');
SELECT is((SELECT count(*) FROM stock.location), :'loc_before'::bigint, 'the refused calls wrote no location');
SELECT is((SELECT count(*)::int FROM stock.company_setting WHERE company_id = :g), 0,
          'a refused call on G did not set up stock for G');
SELECT stock.create_warehouse(:b, 'WH-A', 'Main B') AS wb \gset
SELECT is((SELECT company_id FROM stock.warehouse WHERE id = :wb), :'b'::bigint,
          'the same code is allowed in another company');

-- ------------------------------------------------------------ signed-in users
SELECT pg_temp.login('wh20_mgr', :a);
SELECT stock.create_warehouse(:a, 'WH-M') AS wm \gset
SELECT results_eq(format('SELECT company_id, code FROM stock.warehouse WHERE id = %s', :wm),
                  format($$VALUES (%s::bigint, 'WH-M'::text)$$, :a), 'a stock_manager of A creates a warehouse in A');
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, 'WH-M2')$$, :b), '42501',
                 'permission denied for "stock.warehouse:create"', 'a stock_manager of A cannot create one in B');
SELECT pg_temp.login('wh20_user', :a);
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, 'WH-U')$$, :a), '42501',
                 'permission denied for "stock.warehouse:create"', 'a stock_user is refused (42501)');
SELECT is(pg_temp.error_detail(format($$SELECT stock.create_warehouse(%s, 'WH-U')$$, :a)),
          format('42501: Permission "stock.warehouse:create" is required on company %s.', :a),
          'the detail names stock.warehouse:create and the company');
SELECT erp.sign_out();

-- ------------------------------------------------------------ row security as pgerp_app
SET LOCAL ROLE pgerp_app;
SELECT throws_ok(format($$SELECT stock.create_warehouse(%s, 'WH-N')$$, :a), '28000', 'no user is signed in',
                 'pgerp_app with nobody signed in cannot create a warehouse: 28000 (#14.5)');
SELECT pg_temp.login('wh20_user', :a);
SELECT set_eq('SELECT id FROM stock.warehouse', ARRAY[:wa, :wa2, :wa16, :wm]::bigint[],
              'a stock_user of A sees exactly the 4 warehouses of A');
SELECT is((SELECT count(*)::int FROM stock.location WHERE company_id <> :a), 0,
          'no location of another company is visible (B has 7)');
SELECT bag_eq('SELECT DISTINCT company_id FROM stock.account UNION ALL SELECT company_id FROM stock.company_setting',
              ARRAY[:a, :a]::bigint[], 'only the accounts and the settings row of A are visible');
SELECT is((SELECT count(*)::int FROM stock.account), 8, 'the 8 accounts of A are visible');
SELECT throws_ok(format('SELECT stock.warehouse_location(%s)', :wb), '22023',
                 format('warehouse %s does not exist', :wb), 'a warehouse of B does not exist for a user of A');
SELECT throws_ok(format($$SELECT stock.virtual_location(%s, 'supplier')$$, :b), '22023',
                 format('company %s has no stock locations', :b), 'the virtual locations of B are invisible');
SELECT pg_temp.login('wh20_bmgr', :b);
SELECT results_eq('SELECT id, code FROM stock.warehouse', format($$VALUES (%s::bigint, 'WH-A'::text)$$, :wb),
                  'a stock_manager of B sees only the warehouse of B');
SELECT erp.sign_out();
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
