-- The stock lock date (#15, docs/lock_date.md): stock.set_lock_date() needs stock.valuation:lock,
-- is audited, moves forward only unless a superuser moves it back; every posting function refuses
-- a valued posting dated on or before it (55000, the lock date in the detail) and writes nothing.
BEGIN;
\ir ../setup.sql
SELECT plan(55);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'LD91') AS wh \gset
SELECT stock.create_warehouse(:a, 'LD91-2') AS wh2 \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.warehouse_location(:wh2) AS loc2 \gset
SELECT stock.virtual_location(:a, 'customer') AS cust \gset
SELECT stock.create_product(:a, 'LD91-OLD', 'Received before the lock') AS p_old \gset
SELECT stock.create_product(:a, 'LD91-NEW', 'Fresh product') AS p_new \gset
SELECT stock.create_product(:a, 'LD91-STD', 'Standard product', 'standard', 4) AS p_std \gset
SELECT stock.create_product(:a, 'LD91-B1', 'Boundary 1') AS p_b1 \gset
SELECT stock.create_product(:a, 'LD91-B2', 'Boundary 2') AS p_b2 \gset
SELECT stock.create_product(:a, 'LD91-B3', 'After the move back') AS p_b3 \gset
SELECT pg_temp.make_user('t91_acc', 'stock_accountant', :a) AS acc \gset
SELECT pg_temp.make_user('t91_user', 'stock_user', :a) AS usr \gset
SELECT pg_temp.make_user('t91_mgr', 'stock_manager', :a) AS mgr \gset
SELECT pg_temp.make_user('t91_plan', 'mrp_planner', :a) AS planner \gset

-- D-n: n days before now, and the UTC calendar day of it
CREATE FUNCTION pg_temp.d(n int) RETURNS timestamptz LANGUAGE sql STABLE AS $$ SELECT now() - n * interval '1 day' $$;
CREATE FUNCTION pg_temp.day(n int) RETURNS date LANGUAGE sql STABLE AS $$ SELECT (pg_temp.d(n) AT TIME ZONE 'UTC')::date $$;
-- everything a posting may write, counted
CREATE FUNCTION pg_temp.written() RETURNS text LANGUAGE sql AS $$
    SELECT format('moves %s, quants %s, layers %s, entries %s, lines %s, keys %s, landed %s, lots %s, MOs %s, orders %s',
                  (SELECT count(*) FROM stock.move), (SELECT sum(quantity) FROM stock.quant),
                  (SELECT count(*) FROM stock.valuation_layer), (SELECT count(*) FROM stock.journal_entry),
                  (SELECT count(*) FROM stock.journal_line), (SELECT count(*) FROM stock.idempotency_key),
                  (SELECT count(*) FROM stock.landed_cost), (SELECT count(*) FROM stock.lot),
                  (SELECT count(*) FROM mrp.production WHERE state = 'done'), (SELECT count(*) FROM purchase.order WHERE state = 'done'))
$$;

-- before any lock: a receipt at D-9 and a draft receipt dated D-8
SELECT stock.receive(:p_old, 10, 10, :wh, 'R-9', pg_temp.d(9)) AS r_old \gset
SELECT stock.create_move(:p_new, 5, stock.virtual_location(:a, 'supplier'), :loc, 3, pg_temp.d(8), 'draft D-8') AS draft \gset
SELECT stock.confirm(:draft);

-- ------------------------------------------------------------- who may set it
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t91_user', :a);
SELECT is(pg_temp.error_detail(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(6))),
          format('42501: Permission "stock.valuation:lock" is required on company %s.', :a),
          'a stock user may not set the lock date');
SELECT pg_temp.login('t91_plan', :a);
SELECT throws_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(6)), '42501', NULL,
                 'nor a production planner (stock.valuation:revalue is not enough)');
SELECT pg_temp.login('t91_acc', :a);
SELECT lives_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(6)),
                'an inventory accountant sets the lock date to D-6, as the application role');
SELECT results_eq(format('SELECT lock_date, set_by FROM stock.valuation_lock WHERE company_id = %s', :a),
                  format('VALUES (%L::date, %s::bigint)', pg_temp.day(6), :acc),
                  'the lock date and who set it are stored');
SELECT is(pg_temp.error_detail(format('SELECT stock.set_lock_date(%s, %L)', :b, pg_temp.day(6))),
          format('42501: Permission "stock.valuation:lock" is required on company %s.', :b),
          'not on a company where the accountant has no role');
RESET ROLE;
SELECT erp.sign_out();

SELECT is((SELECT count(*)::int FROM erp.audit_log
            WHERE rel = 'stock.valuation_lock' AND op = 'insert' AND user_id = :acc AND company_id = :a
              AND changes->>'lock_date' = pg_temp.day(6)::text), 1,
          'the setting is in the audit trail, with its user');

-- ------------------------------------------------------------- the worked example: lock date D-6
SELECT pg_temp.written() AS before \gset
SELECT is(pg_temp.error_detail(format('SELECT stock.receive(%s, 10, 20, %s, %L, %L, NULL, %L)', :p_new, :wh, 'R-8', pg_temp.d(8), 'key-91')),
          format('55000: The lock date of company %s is %s (UTC); the receipt is dated %s.', :a, pg_temp.day(6), pg_temp.d(8)),
          'a receipt dated D-8 is refused: 55000 with the lock date in the detail');
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 10, 20, %s, NULL, %L)', :p_new, :wh, pg_temp.d(8))),
          '55000: receipt is dated on or before the stock lock date', 'its message');
SELECT is(pg_temp.written(), :'before', 'nothing written: no move, quant, layer, entry, idempotency key');
SELECT stock.receive(:p_new, 10, 20, :wh, 'R-5', pg_temp.d(5)) AS r5 \gset
SELECT is((SELECT state || ' ' || value FROM stock.move WHERE id = :r5), 'done 200.00', 'a receipt dated D-5 is accepted');
SELECT results_eq(format('SELECT * FROM stock.valuation(%s)', :p_new), $$VALUES (10::numeric, 200::numeric)$$,
                  'and valued: 10 worth 200');

-- the boundary: the lock date is a UTC day
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1, %s, NULL, %L)', :p_b1, :wh,
                        (pg_temp.day(6) + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 microsecond'), '55000', NULL,
                 'a receipt at 23:59:59.999999 UTC of the lock date is refused');
SELECT lives_ok(format('SELECT stock.receive(%s, 1, 1, %s, NULL, %L)', :p_b1, :wh,
                       (pg_temp.day(6) + 1)::timestamp AT TIME ZONE 'UTC'),
                'one at midnight UTC after it is accepted');

-- ------------------------------------------------------------- every posting at D-7
SELECT pg_temp.written() AS before \gset
SELECT throws_ok(format('SELECT stock.deliver(%s, 1, %s, NULL, %L)', :p_old, :wh, pg_temp.d(7)), '55000', NULL, 'a delivery at D-7: 55000');
SELECT throws_ok(format('SELECT stock.scrap(%s, 1, %s, NULL, %L)', :p_old, :wh, pg_temp.d(7)), '55000', NULL, 'a scrap at D-7: 55000');
SELECT throws_ok(format('SELECT stock.transfer(%s, 1, %s, %s, NULL, %L)', :p_old, :loc, :cust, pg_temp.d(7)), '55000', NULL,
                 'a transfer out of stock (valued) at D-7: 55000');
SELECT is(pg_temp.error_detail(format('SELECT stock.validate(%s)', :draft)),
          format('55000: The lock date of company %s is %s (UTC); the move %s is dated %s.', :a, pg_temp.day(6), :draft, pg_temp.d(8)),
          'validating a move dated D-8 (created before the lock): 55000');
SELECT is((SELECT state FROM stock.move WHERE id = :draft), 'confirmed', 'the move stays confirmed');
SELECT is(pg_temp.error_detail(format('SELECT stock.apply_landed_cost(ARRAY[%s], 30)', :r_old)),
          format('55000: The lock date of company %s is %s (UTC); the receipt %s of the landed cost is dated %s.', :a, pg_temp.day(6), :r_old, pg_temp.d(9)),
          'a landed cost on a receipt dated D-9: 55000');
SELECT throws_ok(format('SELECT stock.apply_landed_cost(ARRAY[%s, %s], 30)', :r5, :r_old), '55000', NULL,
                 'and on a later receipt together with it');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1, %s, NULL, %L)', :p_new, :wh, 'infinity'), '22008', NULL,
                 'an infinite posting date: 22008');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1, %s, NULL, %L)', :p_new, :wh, '-infinity'), '22008', NULL,
                 'minus infinity: 22008');
SELECT is(pg_temp.written(), :'before', 'none of them wrote anything');
SELECT lives_ok(format('SELECT stock.transfer(%s, 1, %s, %s, NULL, %L)', :p_old, :loc, :loc2, pg_temp.d(7)),
                'a transfer between two internal locations (not valued) at D-7 is accepted');
SELECT lives_ok(format('SELECT stock.apply_landed_cost(ARRAY[%s], 30)', :r5),
                'a landed cost on a receipt after the lock date is accepted');
SELECT lives_ok(format('SELECT stock.deliver(%s, 1, %s)', :p_old, :wh), 'a delivery dated now is accepted');

-- ------------------------------------------------------------- forward only
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t91_acc', :a);
SELECT is(pg_temp.error_detail(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(7))),
          format('42501: The lock date of company %s is %s; %s is earlier.', :a, pg_temp.day(6), pg_temp.day(7)),
          'moving it back: 42501 for anyone but a superuser');
RESET ROLE;
SELECT erp.sign_out();
SELECT pg_temp.make_user('t91_admin', 'admin', :a) AS adm \gset
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t91_admin', :a);
SELECT throws_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(7)), '42501', NULL,
                 'even an admin (all permissions) may not move it back');
SELECT pg_temp.login('t91_mgr', :a);
SELECT lives_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(6)), 'setting the same date again does nothing');
SELECT is(pg_temp.error_message(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(-1))),
          '22023: lock date may not be in the future', 'a lock date in the future: 22023');
SELECT throws_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, 'infinity'), '22008', NULL, 'an infinite lock date: 22008');
SELECT throws_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, '-infinity'), '22008', NULL, 'minus infinity: 22008');
SELECT throws_ok(format('SELECT stock.set_lock_date(%s, NULL)', :a), '22004', NULL, 'NULL: 22004');
SELECT lives_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(4)),
                'a stock manager (stock.*:*) moves it forward to D-4');
RESET ROLE;
SELECT erp.sign_out();
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE rel = 'stock.valuation_lock' AND op = 'update' AND user_id = :mgr
              AND changes->'lock_date' = jsonb_build_array(pg_temp.day(6), pg_temp.day(4))), 1,
          'the move forward is audited; the refused ones and the same date are not');
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1, %s, NULL, %L)', :p_b2, :wh, pg_temp.d(5)), '55000', NULL,
                 'D-5 is now locked too');
SELECT lives_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(6)), 'a superuser moves it back to D-6');
SELECT is(stock.receive(:p_b3, 1, 1, :wh, NULL, pg_temp.d(5)) > 0, true, 'and D-5 is open again');
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE rel = 'stock.valuation_lock' AND op = 'update' AND user_id IS NULL
              AND changes->'lock_date' = jsonb_build_array(pg_temp.day(4), pg_temp.day(6))), 1, 'the move back is audited too');

-- ------------------------------------------------------------- lock date today: postings dated now
SELECT stock.receive(:p_std, 10, NULL, :wh) AS r_std \gset
SELECT stock.create_product(:a, 'LD91-FIN', 'Finished') AS fin \gset
SELECT erp.create_partner(:a, 'ld91 vendor', 'vendor') AS v \gset
SELECT purchase.add_supplier(:p_new, :v, 2, 5) \g /dev/null
SELECT mrp.create_bom(:fin, 1, jsonb_build_array(jsonb_build_object('product', :p_new, 'qty', 1))) \g /dev/null
SELECT mrp.create_mo(:fin, 2, NULL, :wh) AS mo \gset
SELECT mrp.confirm_mo(:mo) \g /dev/null
SELECT purchase.create_order(:v, jsonb_build_array(jsonb_build_object('product', :p_new, 'qty', 3)), NULL, :wh) AS po \gset
SELECT purchase.confirm(:po) \g /dev/null
SELECT stock.create_move(:p_new, 1, :loc, :cust, NULL, now()) AS open_move \gset
SELECT stock.confirm(:open_move);
SELECT lives_ok(format('SELECT stock.set_lock_date(%s, %L)', :a, pg_temp.day(0)), 'a lock date of today');
SELECT pg_temp.written() AS before \gset
SELECT throws_ok(format('SELECT stock.receive(%s, 1, 1, %s)', :p_new, :wh), '55000', NULL, 'a receipt dated now: 55000');
SELECT throws_ok(format('SELECT stock.validate(%s)', :open_move), '55000', NULL, 'validating a delivery dated now: 55000');
SELECT throws_ok(format('SELECT stock.adjust(%s, %s, 100)', :p_new, :loc), '55000', NULL, 'an inventory adjustment: 55000');
SELECT throws_ok(format('SELECT stock.return_move(%s, 1)', :r_std), '55000', NULL, 'a return: 55000');
SELECT throws_ok(format('SELECT stock.revalue(%s, 10)', :p_new), '55000', NULL, 'a revaluation: 55000');
SELECT throws_ok(format('SELECT stock.set_standard_price(%s, 5)', :p_std), '55000', NULL, 'a standard price change: 55000');
SELECT throws_ok(format('SELECT stock.set_cost_method(%s, %L)', :p_new, 'avco'), '55000', NULL, 'a cost method change: 55000');
SELECT is(pg_temp.error_message(format('SELECT mrp.produce_mo(%s)', :mo)),
          format('55000: production of manufacturing order %s is dated on or before the stock lock date', :mo),
          'a production: 55000');
SELECT is(pg_temp.error_message(format('SELECT purchase.receive(%s)', :po)),
          format('55000: receipt of purchase order %s is dated on or before the stock lock date', :po),
          'a purchase receipt: 55000');
SELECT is(pg_temp.written(), :'before', 'none of them wrote anything');
SELECT results_eq(format('SELECT standard_price, cost_method FROM stock.product WHERE id IN (%s, %s) ORDER BY id', :p_new, :p_std),
                  $$VALUES (0::numeric, 'fifo'::text), (4::numeric, 'standard'::text)$$, 'no product setting changed');
SELECT is((SELECT state FROM stock.move WHERE id = :open_move), 'confirmed', 'the delivery stays confirmed');
SELECT lives_ok(format('SELECT stock.transfer(%s, 1, %s, %s)', :p_old, :loc, :loc2), 'an internal transfer still goes through');
SELECT lives_ok(format('SELECT stock.create_move(%s, 1, %s, %s)', :p_new, :loc, :cust), 'and so does a draft move');
SELECT is_empty($$SELECT * FROM stock.verify_valuation()$$, 'valuation verifies');

SELECT * FROM finish();
ROLLBACK;
