-- Numeric and date bounds of the stock API (#11.8, 11, 17): NaN and
-- infinities refused by every numeric CHECK and argument check, round_to and
-- value_share raising on them, verify_valuation and the journal's balance
-- trigger catching a NaN; dates bounded by pgerp.max_future_days; echoed
-- values cut to 64 characters and no bare 22003 from inside.
BEGIN;
\ir ../setup.sql
SELECT plan(91);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'BD70') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.create_warehouse(:a1, 'BD70-3') AS wh3 \gset
SELECT stock.warehouse_location(:wh3) AS loc3 \gset
SELECT stock.create_warehouse(:a1, 'BD70-4') AS wh4 \gset
SELECT stock.warehouse_location(:wh4) AS loc4 \gset
SELECT stock.create_product(:a1, 'BD70-P1', 'Transferred') AS p1 \gset
SELECT stock.create_product(:a, 'BD70-P', 'Bounded') AS p \gset
SELECT stock.create_product(:a, 'BD70-F', 'Future') AS pf \gset
SELECT stock.create_product(:a, 'BD70-L', 'Lots', 'fifo', 0, 'Unit', 'lot') AS plot \gset
SELECT stock.create_product(:a, 'BD70-A', 'Avco', 'avco') AS pavco \gset
SELECT stock.virtual_location(:a, 'supplier') AS vendor, stock.virtual_location(:a, 'customer') AS customer \gset
SELECT pg_temp.make_user('bd70_mgr', 'stock_manager', :a) AS mgr \gset
SELECT stock.receive(:p, 10, 2, :wh, 'BD70-R0') AS r0 \gset
SELECT stock.receive(:pavco, 10, 3, :wh, 'BD70-RA') AS ra \gset


-- ------------------------------------------------------------ #11.8 the company's rounding
SELECT throws_ok(format($$UPDATE erp.company SET currency_rounding = 'Infinity' WHERE id = %s$$, :a), '23514', NULL,
                 'reproduction: a currency rounding of Infinity is refused (Infinity > 0 holds)');
SELECT throws_ok(format($$UPDATE erp.company SET currency_rounding = 'NaN' WHERE id = %s$$, :a), '23514', NULL,
                 'a currency rounding of NaN is refused (NaN > 0 holds)');
SELECT throws_ok(format($$UPDATE erp.company SET currency_rounding = '-Infinity' WHERE id = %s$$, :a), '23514', NULL,
                 'a currency rounding of -Infinity is refused');
SELECT lives_ok(format($$UPDATE erp.company SET currency_rounding = 0.05 WHERE id = %s$$, :a),
                'a finite positive rounding is accepted');
UPDATE erp.company SET currency_rounding = 0.01 WHERE id = :a;

-- ------------------------------------------------------------ #11.8 round_to and value_share
SELECT throws_ok($$SELECT stock.round_to('NaN', 0.01)$$, '22023', 'p_value must be a finite number', 'round_to refuses a NaN value');
SELECT throws_ok($$SELECT stock.round_to('Infinity', 0.01)$$, '22023', 'p_value must be a finite number', 'round_to refuses an infinite value');
SELECT throws_ok($$SELECT stock.round_to(1, 'Infinity')$$, '22023', 'p_rounding must be a finite number',
                 'round_to refuses an infinite rounding (it gave NaN)');
SELECT throws_ok($$SELECT stock.round_to(1, 'NaN')$$, '22023', 'p_rounding must be a finite number', 'round_to refuses a NaN rounding');
SELECT throws_ok($$SELECT stock.round_to('-Infinity', 1)$$, '22023', 'p_value must be a finite number', 'round_to refuses -Infinity');
SELECT throws_ok($$SELECT stock.value_share('NaN', 10, 5, 0.01)$$, '22023', 'p_value must be a finite number', 'value_share refuses a NaN value');
SELECT throws_ok($$SELECT stock.value_share(100, 'Infinity', 5, 0.01)$$, '22023', 'p_qty must be a finite number',
                 'value_share refuses an infinite quantity');
SELECT throws_ok($$SELECT stock.value_share(100, 10, 'NaN', 0.01)$$, '22023', 'p_part must be a finite number', 'value_share refuses a NaN part');
SELECT throws_ok($$SELECT stock.value_share(100, 10, 5, 'Infinity')$$, '22023', 'p_rounding must be a finite number',
                 'value_share refuses an infinite rounding');
SELECT is(stock.value_share(100, 10, 5, 0.01), 50.00, 'value_share still shares finite values');
SELECT throws_ok($$SELECT stock.round_to(1e131000, 1e-16000)$$, '22003', 'value out of range',
                 'a result beyond numeric is 22003 "value out of range", not an internal overflow message');

-- ------------------------------------------------------------ #11.8 CHECK constraints of stock tables
SELECT throws_ok(format($$UPDATE stock.valuation_layer SET value = 'NaN' WHERE move_id = %s$$, :r0), '23514', NULL,
                 'a NaN layer value is refused');
SELECT throws_ok(format($$UPDATE stock.valuation_layer SET remaining_qty = 'Infinity' WHERE move_id = %s$$, :r0), '23514', NULL,
                 'an infinite layer remaining quantity is refused');
SELECT throws_ok(format($$UPDATE stock.product_value SET value = 'NaN' WHERE product_id = %s$$, :p), '23514', NULL,
                 'a NaN running total is refused');
SELECT throws_ok(format($$UPDATE stock.product_value SET last_unit_cost = '-Infinity' WHERE product_id = %s$$, :p), '23514', NULL,
                 'an infinite last unit cost is refused');
SELECT throws_ok(format($$UPDATE stock.move SET value = 'NaN' WHERE id = %s$$, :r0), '23514', NULL, 'a NaN move value is refused');
SELECT throws_ok(format($$UPDATE stock.move SET uom_qty = 'Infinity' WHERE id = %s$$, :r0), '23514', NULL,
                 'an infinite move quantity in its unit is refused');
SELECT throws_ok(format($$UPDATE stock.move SET date = 'infinity' WHERE id = %s$$, :r0), '23514', NULL, 'an infinite move date is refused');
SELECT throws_ok(format($$UPDATE stock.quant SET quantity = '-Infinity' WHERE product_id = %s$$, :p), '23514', NULL,
                 'an infinite quant is refused');
SELECT throws_ok(format($$UPDATE stock.journal_line SET debit = 'NaN', credit = 0 WHERE entry_id IN
                          (SELECT id FROM stock.journal_entry WHERE move_id = %s)$$, :r0), '23514', NULL, 'a NaN journal line is refused');
SELECT throws_ok($$UPDATE stock.uom SET factor = 'Infinity' WHERE code = 'Dozen'$$, '23514', NULL, 'an infinite unit factor is refused');
SELECT throws_ok($$UPDATE stock.uom SET rounding = 'NaN' WHERE code = 'Unit'$$, '23514', NULL, 'a NaN unit rounding is refused');
SELECT throws_ok(format($$UPDATE stock.product SET standard_price = 'NaN' WHERE id = %s$$, :p), '23514', NULL,
                 'a NaN standard price is refused');

-- ------------------------------------------------------------ #11.8 bad data that got in anyway
-- (a database updated from 0.1.0 with such rows, or constraints dropped): posting
-- refuses it, the balance trigger refuses NaN lines, verify_valuation flags it
SAVEPOINT bad_rounding;
ALTER TABLE erp.company DROP CONSTRAINT company_currency_rounding_check;
UPDATE erp.company SET currency_rounding = 'Infinity' WHERE id = :a;
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 2, %s)', :p, :wh), '22000',
                 'stock valuation met a value that is not a finite number',
                 'with an infinite rounding in the table, a receipt fails instead of posting NaN');
SELECT throws_ok(format('SELECT stock.deliver(%s, 1, %s)', :pavco, :wh), '22000',
                 'stock valuation met a value that is not a finite number', 'an avco delivery too');
ROLLBACK TO SAVEPOINT bad_rounding;

SET CONSTRAINTS ALL IMMEDIATE;   -- fire the pending balance checks, then check each statement
SAVEPOINT bad_journal;
ALTER TABLE stock.journal_line DROP CONSTRAINT journal_line_debit_check, DROP CONSTRAINT journal_line_credit_check;
SELECT throws_ok(format($$UPDATE stock.journal_line SET debit = CASE WHEN debit > 0 THEN 'NaN'::numeric ELSE 0 END,
                                                      credit = CASE WHEN credit > 0 THEN 'NaN'::numeric ELSE 0 END
                           WHERE entry_id IN (SELECT id FROM stock.journal_entry WHERE move_id = %s)$$, :r0),
                 '23514', format('journal entry %s has an amount that is not a finite number',
                                 (SELECT id FROM stock.journal_entry WHERE move_id = :r0)),
                 'the balance trigger refuses an entry of NaN lines (NaN = NaN would "balance")');
SELECT throws_ok(format($$UPDATE stock.journal_line SET debit = CASE WHEN debit > 0 THEN 'Infinity'::numeric ELSE 0 END,
                                                      credit = CASE WHEN credit > 0 THEN 'Infinity'::numeric ELSE 0 END
                           WHERE entry_id IN (SELECT id FROM stock.journal_entry WHERE move_id = %s)$$, :r0),
                 '23514', NULL, 'and an entry of infinite lines');
ROLLBACK TO SAVEPOINT bad_journal;

SAVEPOINT bad_layer;
ALTER TABLE stock.valuation_layer DROP CONSTRAINT valuation_layer_value_check, DROP CONSTRAINT valuation_layer_remaining_value_check;
ALTER TABLE stock.product_value DROP CONSTRAINT product_value_value_check;
UPDATE stock.valuation_layer SET value = 'NaN', remaining_value = 'NaN' WHERE move_id = :r0;
UPDATE stock.product_value SET value = 'NaN' WHERE product_id = :p;
SELECT results_eq(format($$SELECT product_id, problem FROM stock.verify_valuation(%s) WHERE problem LIKE 'a quantity or value%%'$$, :p),
                  format($$VALUES (%s::bigint, 'a quantity or value is not a finite number: moves 10.00 / 20.00, quants 10.00, running totals 10.00 / NaN, layers 10.00 / NaN, account 20.00'::text)$$, :p),
                  'verify_valuation flags NaN layers and running totals (every comparison with NaN holds)');
ROLLBACK TO SAVEPOINT bad_layer;
SELECT is((SELECT count(*)::int FROM stock.verify_valuation(:p)), 0, 'the product verifies again');

-- ------------------------------------------------------------ #11.11 dates
SELECT is(pg_temp.error_message(format($$SELECT stock.receive(%s, 10, 2, NULL, 'typo', '20260-01-01')$$, :pf)),
          '22008: date is too far in the future',
          'reproduction: a receipt dated year 20260 is refused with 22008');
SELECT is(pg_temp.error_detail(format($$SELECT stock.receive(%s, 10, 2, NULL, 'typo', '20260-01-01 00:00+00')$$, :pf)),
          format('22008: The date given is %s; a posting may be dated at most 366 days ahead of now.', '20260-01-01 00:00+00'::timestamptz),
          'the detail gives the date and the limit in days');
SELECT is((SELECT count(*)::int FROM stock.move WHERE product_id = :pf), 0, 'and nothing was written');
SELECT throws_ok(format($$SELECT stock.receive(%s, 1, 2, NULL, NULL, 'infinity')$$, :pf), '22008', 'date must be a finite date',
                 'receive refuses an infinite date');
SELECT throws_ok(format($$SELECT stock.receive(%s, 1, 2, NULL, NULL, '-infinity')$$, :pf), '22008', 'date must be a finite date',
                 'receive refuses -infinity');
SELECT throws_ok(format($$SELECT stock.deliver(%s, 1, NULL, NULL, now() + interval '400 days')$$, :p), '22008', 'date is too far in the future',
                 'deliver refuses a date 400 days ahead');
SELECT throws_ok(format($$SELECT stock.transfer(%s, 1, %s, %s, NULL, 'infinity')$$, :p1, :loc3, :loc4), '22008', NULL,
                 'transfer refuses an infinite date');
SELECT throws_ok(format($$SELECT stock.scrap(%s, 1, NULL, NULL, now() + interval '367 days')$$, :p), '22008', NULL,
                 'scrap refuses a date 367 days ahead');
SELECT throws_ok(format($$SELECT stock.create_move(%s, 1, %s, %s, 1, 'infinity')$$, :p, :vendor, :loc), '22008', NULL,
                 'create_move refuses an infinite date');
SELECT lives_ok(format($$SELECT stock.receive(%s, 1, 2, NULL, 'ahead', now() + interval '365 days')$$, :pf),
                'a receipt 365 days ahead is accepted (within pgerp.max_future_days = 366)');
SET LOCAL pgerp.max_future_days = 10;
SELECT throws_ok(format($$SELECT stock.create_move(%s, 1, %s, %s, 1, now() + interval '11 days')$$, :p, :vendor, :loc), '22008', NULL,
                 'a superuser may narrow pgerp.max_future_days: 11 days ahead is then refused');
RESET pgerp.max_future_days;
SELECT is(current_setting('pgerp.max_future_days'), '366', 'pgerp.max_future_days is 366 by default');
SELECT throws_ok(format($$SELECT stock.valuation(%s, 'infinity')$$, :p), '22008', 'as-of date must be a finite date',
                 'valuation refuses an infinite as-of date');
SELECT throws_ok(format($$SELECT * FROM stock.valuation_report(%s, '-infinity')$$, :a), '22008', 'as-of date must be a finite date',
                 'valuation_report refuses an infinite as-of date');
SELECT is((SELECT qty FROM stock.valuation(:p, now() + interval '1000 days')), 10.00,
          'a finite as-of date in the future is a report, not a posting: accepted');
SELECT is((SELECT qty FROM stock.valuation_report(:a, now() + interval '1000 days') WHERE sku = 'BD70-P'), 10.00,
          'valuation_report too');

-- ------------------------------------------------------------ #11.17 bounds of numbers at entry
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 1e300, 1, %s)', :p, :wh)), '22003: quantity is out of range',
          'a quantity of 1e300 is refused with 22003 naming the quantity');
SELECT is(pg_temp.error_detail(format('SELECT stock.receive(%s, 1e300, 1, %s)', :p, :wh)),
          '22003: The quantity given is ''1000000000000000000000000000000000000000000000000000000000000...''; the limit is 1000000000000.',
          'its detail gives the quantity cut to 64 characters and the limit');
SELECT throws_ok(format('SELECT stock.deliver(%s, 1000000000001, %s)', :p, :wh), '22003', 'quantity is out of range',
                 'deliver: just beyond 10^12 is refused');
SELECT throws_ok(format($$SELECT stock.create_move(%s, 1e12, %s, %s, 1, now(), NULL, 'Dozen')$$, :p, :vendor, :loc), '22003',
                 'quantity in Unit is out of range', '10^12 dozen is beyond the limit in the product''s unit');
SELECT throws_ok($$SELECT stock.convert_uom(1e131000, 'Dozen', 'Unit')$$, '22003', 'quantity is out of range',
                 'convert_uom: a quantity that would overflow numeric is refused at entry');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1e300, %s)', :p, :wh), '22003', 'unit cost is out of range',
                 'a unit cost of 1e300 is refused');
SELECT throws_ok(format('SELECT stock.adjust(%s, %s, 1e300)', :p, :loc), '22003', 'counted quantity is out of range',
                 'a count of 1e300 is refused');
SELECT throws_ok(format($$SELECT stock.create_product(%s, 'BD70-BIG', 'Big', 'standard', 1e300)$$, :a), '22003',
                 'standard price is out of range', 'create_product refuses a price of 1e300');
SELECT throws_ok(format('SELECT stock.set_standard_price(%s, 1e16)', :p), '22003', 'standard price is out of range',
                 'set_standard_price refuses 10^16');
SELECT throws_ok(format($$SELECT stock.apply_landed_cost(ARRAY[%s]::bigint[], 1e300)$$, :r0), '22003',
                 'landed cost amount is out of range', 'apply_landed_cost refuses 1e300');
SELECT throws_ok(format('SELECT stock.revalue(%s, -1e300)', :p), '22003', 'added value is out of range',
                 'revalue refuses -1e300');
SELECT throws_ok(format($$SELECT stock.revalue(%s, 'NaN')$$, :p), '22023', NULL, 'revalue refuses NaN');
SELECT throws_ok(format($$SELECT stock.validate(stock.create_move(%s, 1, %s, %s, 1), 'NaN')$$, :p, :vendor, :loc), '22023', NULL,
                 'validate refuses a NaN quantity done');
SELECT throws_ok(format($$SELECT stock.validate(stock.create_move(%s, 1, %s, %s, 1), 'Infinity')$$, :p, :vendor, :loc), '22023', NULL,
                 'validate refuses an infinite quantity done');
SELECT throws_ok(format($$SELECT stock.return_move(%s, 'NaN')$$, :r0), '22023', NULL, 'return_move refuses a NaN quantity');
SELECT is(pg_temp.error_message(format($$SELECT stock.return_move(%s, -1e300)$$, :r0)),
          format('22023: cannot return ''-100000000000000000000000000000000000000000000000000000000000...'' of move %s', :r0),
          'return_move echoes a huge quantity cut to 64 characters');
SELECT throws_ok(format($$SELECT stock.adjust(%s, %s, 'NaN')$$, :p, :loc), '22023', NULL, 'adjust refuses a NaN count');
SELECT throws_ok(format($$SELECT stock.set_standard_price(%s, 'Infinity')$$, :p), '22023', NULL, 'set_standard_price refuses Infinity');
SELECT throws_ok(format($$SELECT stock.apply_landed_cost(ARRAY[%s]::bigint[], 'NaN')$$, :r0), '22023', NULL,
                 'apply_landed_cost refuses NaN');
SELECT lives_ok(format('SELECT stock.receive(%s, 1000000000000, 1, %s)', :p, :wh), 'a quantity of exactly 10^12 is accepted');
SELECT lives_ok(format('SELECT stock.receive(%s, 1000000000000, 1, %s)', :p, :wh), 'twice: 2 x 10^12 + 10 on hand');
SELECT is(pg_temp.error_message(format('SELECT stock.adjust(%s, %s, 0)', :p, :loc)),
          '22003: the count differs from the stock on hand by more than one move may carry',
          'a count whose difference exceeds one move''s limit is refused with its own message');

-- ------------------------------------------------------------ #11.17 echoed values cut to 64 characters
SELECT is(pg_temp.error_message(format('SELECT stock.create_move(%s, -1e300, %s, %s)', :p, :vendor, :loc)),
          '22023: quantity must be positive', 'a huge negative quantity: the usual message');
SELECT is(pg_temp.error_detail(format('SELECT stock.create_move(%s, -1e300, %s, %s)', :p, :vendor, :loc)),
          '22023: The quantity given is ''-100000000000000000000000000000000000000000000000000000000000...''.',
          'its detail echoes at most 64 characters');
SELECT is(pg_temp.error_message(format('SELECT stock.create_move(%s, 1, %s, %s, NULL, now(), NULL, %L)', :p, :vendor, :loc, repeat('u', 5000))),
          '22023: unknown unit of measure ''' || repeat('u', 61) || '...''', 'an unknown unit is echoed cut to 64 characters');
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 1, 1, %s, NULL, now(), %L)', :plot, :wh, repeat('L', 5000))),
          '22023: invalid lot number ''' || repeat('L', 61) || '...''', 'a 5000-character lot name: refused at entry, echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.deliver(%s, 1, %s, NULL, now(), %L)', :plot, :wh, 'L' || repeat('x', 63))),
          '22023: lot ''L' || repeat('x', 63) || ''' of product BD70-L does not exist',
          'an unknown lot of 64 characters (the longest valid name) is echoed whole');
SELECT is(pg_temp.error_message(format('SELECT stock.create_product(%s, %L, %L)', :a, repeat('s', 5000), 'x')),
          '22023: invalid SKU ''' || repeat('s', 61) || '...''', 'create_product: a long SKU is echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.create_product(%s, %L, %L, %L)', :a, 'BD70-X', 'x', repeat('m', 5000))),
          '22023: invalid cost method ''' || repeat('m', 61) || '...''', 'create_product: a long cost method is echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.create_product(%s, %L, %L, %L, 0, %L, %L)', :a, 'BD70-X', 'x', 'fifo', 'Unit', repeat('t', 5000))),
          '22023: invalid tracking ''' || repeat('t', 61) || '...''', 'create_product: a long tracking is echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.set_cost_method(%s, %L)', :p, repeat('m', 5000))),
          '22023: invalid cost method ''' || repeat('m', 61) || '...''', 'set_cost_method: echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.apply_landed_cost(ARRAY[%s]::bigint[], 1, %L)', :r0, repeat('q', 5000))),
          '22023: invalid split ''' || repeat('q', 61) || '...''', 'apply_landed_cost: a long split is echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.create_warehouse(%s, %L)', :a, repeat('W', 5000))),
          '22023: invalid warehouse code ''' || repeat('W', 61) || '...''', 'create_warehouse: a long code is echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.virtual_location(%s, %L)', :a, repeat('v', 5000))),
          '22023: invalid virtual location usage ''' || repeat('v', 61) || '...''', 'virtual_location: a long usage is echoed cut');
SELECT is(pg_temp.error_message(format('SELECT stock.revalue(%s, 0.001)', :pavco)),
          '22023: amount ''0.001'' is finer than the currency rounding 0.01', 'short values are echoed as they are');

-- ------------------------------------------------------------ as the application role
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('bd70_mgr', :a);
SELECT throws_ok('SET pgerp.max_future_days = 100000', '42501', NULL, 'the application role may not widen pgerp.max_future_days');
SELECT throws_ok(format($$SELECT stock.receive(%s, 1, 2, NULL, NULL, '20260-01-01')$$, :pf), '22008', NULL,
                 'the application role gets the same 22008');
SELECT throws_ok(format('SELECT stock.receive(%s, 1e300, 1)', :p), '22003', 'quantity is out of range', 'and the same 22003');
SELECT throws_ok($$SELECT stock.convert_uom(1e300, 'kg', 'g')$$, '22003', 'quantity is out of range',
                 'convert_uom checks its bound for the application role too');
SELECT throws_ok($$SELECT stock.round_to(1, 'Infinity')$$, '22023', NULL, 'round_to refuses Infinity for the application role');
SELECT throws_ok(format($$SELECT * FROM stock.valuation_report(%s, 'infinity')$$, :a), '22008', NULL,
                 'valuation_report (security invoker) checks its as-of date for the application role');
SELECT is((SELECT count(*)::int FROM stock.verify_valuation(:p)), 0, 'the product still verifies');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
