-- Values beyond the planning engine's range (issue 11, points 12 and 17): the input functions
-- refuse quantities above mrp._max_qty() units (22003, the limit in the detail), NaN, lead
-- times above mrp._max_days() and infinite or absurd dates (22008), with echoed values cut;
-- rows that still exceed the engine (written directly, or from 0.1.0) make mrp.run report the
-- product ("not_planned") and plan the others, and mrp.replenish report the rule and order the
-- others; company ids beyond 2^31 plan and replenish.
BEGIN;
\ir ../setup.sql
SELECT plan(40);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'R70') AS wh \gset
SELECT erp.create_partner(:a, 'r70 Vendor', 'vendor') AS v \gset
CREATE FUNCTION pg_temp.l(p bigint, q numeric) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('product', p, 'qty', q) $$;
SELECT stock.create_product(:a, 'R70-P', 'Planned') AS p \gset
SELECT stock.create_product(:a, 'R70-C', 'Component') AS c \gset
SELECT mrp.create_bom(:p, 1, jsonb_build_array(pg_temp.l(:c, 2))) \g /dev/null
SELECT purchase.add_supplier(:c, :v, 1, 0) \g /dev/null
\set huge '1e300'
SELECT erp._echo((1e300)::text) AS cut \gset

-- ============================================================ refused at entry
SELECT is(mrp._max_qty(), 1000000000::numeric, 'inputs are at most 10^9 units');
SELECT is(pg_temp.error_detail(format('SELECT mrp.set_planning(%s, %L, NULL, %L, NULL, %s)', :p, 'make', 'l4l', :'huge')),
          '22003: Planning quantities are at most 1000000000 units; the value given is ' || :'cut' || '.',
          'safety stock 1e300: 22003 with the limit, the value cut to 64 characters');
SELECT is(pg_temp.error_detail(format('SELECT mrp.set_planning(%s, %L, NULL, %L, 1e10)', :p, 'make', 'fixed')),
          '22003: Planning quantities are at most 1000000000 units; the value given is ''10000000000''.',
          'a lot of 10^10: 22003');
SELECT lives_ok(format('SELECT mrp.set_planning(%s, %L, NULL, %L, NULL, 1e9)', :p, 'make', 'l4l'),
                'a safety stock of exactly 10^9 is accepted');
SELECT is(pg_temp.error_detail(format('SELECT mrp.set_planning(%s, %L, 40000)', :p, 'make')),
          '22003: Lead times are at most 36525 days; the value given is 40000.', 'a lead time of 40,000 days: 22003');
SELECT is(pg_temp.error_detail(format('SELECT purchase.add_supplier(%s, %s, 1, 2147483647)', :c, :v)),
          '22003: Lead times are at most 36525 days; the value given is 2147483647.', 'a supplier lead time of 2^31 - 1 days: 22003');
SELECT is(pg_temp.error_detail(format('SELECT mrp.add_reorder_rule(%s, %s, 0, %s)', :c, :wh, :'huge')),
          '22003: Planning quantities are at most 1000000000 units; the value given is ' || :'cut' || '.',
          'reorder max 1e300: 22003');
SELECT is(pg_temp.error_detail(format('SELECT purchase.create_order(%s, %L)', :v, jsonb_build_array(pg_temp.l(:c, :huge)))),
          '22003: Planning quantities are at most 1000000000 units; the value given is ' || :'cut' || '.',
          'a purchase order line of 1e300: 22003');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_mo(%s, %s)', :p, :'huge')),
          '22003: Planning quantities are at most 1000000000 units; the value given is ' || :'cut' || '.',
          'a manufacturing order of 1e300: 22003');
SELECT is(pg_temp.error_detail(format('SELECT mrp.add_demand(%s, %s, current_date)', :p, :'huge')),
          '22003: Planning quantities are at most 1000000000 units; the value given is ' || :'cut' || '.',
          'a demand of 1e300: 22003');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :p, jsonb_build_array(pg_temp.l(:c, :huge)))),
          '22003: Planning quantities are at most 1000000000 units; the value given is ' || :'cut' || '.',
          'a component quantity of 1e300: 22003');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, %s, %L)', :p, :'huge', jsonb_build_array(pg_temp.l(:c, 1)))),
          '22003: Planning quantities are at most 1000000000 units; the value given is ' || :'cut' || '.',
          'a batch of 1e300: 22003');
SELECT is(pg_temp.error_message(format('SELECT mrp.add_demand(%s, %L, current_date)', :p, 'NaN')),
          '22023: demand quantity must be positive', 'a demand of NaN: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.add_demand(%s, 1, %L)', :p, 'infinity')),
          '22008: Planning dates are within 36525 days of today; the date given is ''infinity''.',
          'a demand dated infinity: 22008');
SELECT is(pg_temp.error_message(format('SELECT mrp.add_demand(%s, 1, current_date + 40000)', :p)),
          '22008: due date is out of range', 'a demand 40,000 days ahead: 22008');
SELECT is(pg_temp.error_message(format('SELECT mrp.add_demand(%s, 1, %L)', :p, '20260-01-01')),
          '22008: due date is out of range', 'a demand dated year 20260: 22008');
SELECT is(pg_temp.error_message(format('SELECT mrp.run(%s, %L)', :a, '-infinity')),
          '22008: start date is out of range', 'a run starting at -infinity: 22008');
SELECT is(pg_temp.error_message(format('SELECT purchase.create_order(%s, %L, %L)', :v, jsonb_build_array(pg_temp.l(:c, 1)), 'infinity')),
          '22008: planned date is out of range', 'a purchase order planned at infinity: 22008');
SELECT is(pg_temp.error_message(format('SELECT mrp.create_mo(%s, 1, %L)', :p, '30000-01-01')),
          '22008: due date is out of range', 'a manufacturing order due in year 30000: 22008');
SELECT is(pg_temp.error_message(format('SELECT mrp.create_bom(%s, 1, %L, %L, NULL, %L)', :p, jsonb_build_array(pg_temp.l(:c, 1)),
                                       'normal', '[{"name": "cut", "workcenter": 1e30, "minutes": 1}]')),
          '22023: each operation needs a "name" and a numeric "workcenter"',
          'a work center id of 1e30: 22023, not an internal 22003');
SELECT is(length(pg_temp.error_message(format('SELECT mrp.set_planning(%s, %L)', :p, repeat('x', 10000)))),
          length('22023: invalid procurement ''' || repeat('x', 61) || '...'''), 'a procurement of 10,000 characters is cut to 64');

SELECT is(pg_temp.error_message($$SELECT mrp.run_job(0, '{"company": 1e30}')$$),
          '22023: job argument "company" must be a company id', 'a job for company 1e30: 22023, not an internal 22003');
SELECT is(pg_temp.error_message(format($$SELECT mrp.run_job(0, '{"company": %s, "start": "2026-13-45"}')$$, :a)),
          '22023: job argument "start" must be a date (YYYY-MM-DD)', 'a job starting on month 13: 22023, not an internal 22008');
SELECT is(pg_temp.error_message(format($$SELECT mrp.replenish_job(0, '{"company": %s, "dry_run": "maybe"}')$$, :a)),
          '22023: job argument "dry_run" must be true or false', 'a replenish job with dry_run "maybe": 22023, not an internal 22P02');

SELECT is(pg_temp.error_detail('SELECT mrp._reorder_qty(0, 0, 1e300, 1)'),
          '22003: Planning quantities are at most 1000000000 units.', 'the reorder arithmetic itself: the engine''s 22003, not the cast''s');

-- ============================================================ bad rows meet the run
-- written as a superuser can (or as 0.1.0 accepted them); each such product is reported and left
-- out, the others are planned
SELECT stock.create_product(:a, 'R70-OK', 'Fine') AS ok \gset
SELECT stock.create_product(:a, 'R70-SAFE', 'Safety 1e300') AS safe \gset
SELECT stock.create_product(:a, 'R70-DEM', 'Demand 1e300') AS dem \gset
SELECT stock.create_product(:a, 'R70-SUM', 'Two demands of 5e12') AS sm \gset
SELECT stock.create_product(:a, 'R70-PO', 'PO of 1e300') AS po \gset
SELECT stock.create_product(:a, 'R70-MO', 'MO of 1e300') AS mo \gset
SELECT stock.create_product(:a, 'R70-INF', 'Dated at infinities') AS inf \gset
SELECT mrp.create_bom(:mo, 1, jsonb_build_array(pg_temp.l(:c, 1))) \g /dev/null
SELECT mrp.set_planning(x, 'buy', 0) FROM unnest(ARRAY[:ok, :safe, :dem, :sm, :po, :inf]::bigint[]) x \g /dev/null
SELECT mrp.set_planning(:mo, 'make', 0), mrp.set_planning(:p, 'make', 0), mrp.set_planning(:c, 'buy', 0) \g /dev/null
UPDATE mrp.planning SET safety_stock = :huge WHERE product_id = :safe;
INSERT INTO mrp.demand (company_id, product_id, qty, due) VALUES
    (:a, :ok, 5, current_date + 1), (:a, :dem, :huge, current_date + 1),
    (:a, :sm, 5e12, current_date + 1), (:a, :sm, 5e12, current_date + 2),
    (:a, :inf, 3, 'infinity'), (:a, :inf, 2, '-infinity'),
    -- 10^9 P need 2 x 10^9 C: within the range; the components are planned
    (:a, :p, 1e9, current_date + 3);
SELECT purchase.create_order(:v, jsonb_build_array(pg_temp.l(:po, 1) || '{"price": 1}')) AS po_id \gset
UPDATE purchase.order_line SET qty = :huge WHERE order_id = :po_id;
SELECT mrp.create_mo(:mo, 1) AS mo_id \gset
UPDATE mrp.production SET qty = :huge WHERE id = :mo_id;
SELECT lives_ok(format('SELECT mrp.run(%s, current_date, %L, 4)', :a, 'week'), 'mrp.run with bad rows runs');
SELECT results_eq($$SELECT p.sku, o.qty FROM mrp.planned_order o JOIN stock.product p ON p.id = o.product_id
                     WHERE p.sku LIKE 'R70-%' ORDER BY p.sku$$,
                  $$VALUES ('R70-C'::text, 2000000000::numeric), ('R70-INF', 2::numeric), ('R70-OK', 5::numeric),
                           ('R70-P', 1000000000::numeric)$$,
                  'the others are planned: C, P, OK, and INF for its demand at -infinity (infinity is beyond the horizon)');
SELECT results_eq($$SELECT p.sku FROM mrp.run_message m JOIN stock.product p ON p.id = m.product_id
                     WHERE m.kind = 'not_planned' ORDER BY p.sku$$,
                  $$VALUES ('R70-DEM'::text), ('R70-MO'), ('R70-PO'), ('R70-SAFE'), ('R70-SUM')$$,
                  'each bad product is reported, once');
SELECT is((SELECT m.detail FROM mrp.run_message m WHERE m.product_id = :safe),
          'The product is not planned: its planning data (lot, minimum order, multiple, unit rounding or safety stock) is beyond the engine''s range (inputs up to 1000000000 units, sums up to 9223372036854 units).',
          'the message names what is out of range');
SELECT is((SELECT m.detail FROM mrp.run_message m WHERE m.product_id = :sm),
          'The product is not planned: its gross requirements in one bucket are beyond the engine''s range (inputs up to 1000000000 units, sums up to 9223372036854 units).',
          'a sum beyond the range (two demands of 5 x 10^12 in one week): reported, not wrapped');
SELECT is_empty(format('SELECT 1 FROM mrp.plan_record WHERE product_id IN (%s, %s, %s, %s, %s)', :safe, :dem, :sm, :po, :mo),
                'no MRP table rows for them');
-- a component whose dependent requirement overflows: 10^9 P of 10^9 C each
SELECT stock.create_product(:a, 'R70-BIG', 'Big parent') AS big \gset
SELECT stock.create_product(:a, 'R70-BIGC', 'Big component') AS bigc \gset
SELECT mrp.create_bom(:big, 1, jsonb_build_array(pg_temp.l(:bigc, 1e9))) \g /dev/null
SELECT mrp.set_planning(:big, 'make', 0), mrp.set_planning(:bigc, 'buy', 0), mrp.add_demand(:big, 1e9, current_date + 1) \g /dev/null
SELECT lives_ok(format('SELECT mrp.run(%s, current_date, %L, 4)', :a, 'week'), 'a run whose dependent requirement overflows runs');
SELECT results_eq($$SELECT p.sku, m.detail FROM mrp.run_message m JOIN stock.product p ON p.id = m.product_id
                     WHERE m.kind = 'not_planned' AND p.sku LIKE 'R70-BIG%'$$,
                  $$VALUES ('R70-BIGC'::text, 'The product is not planned: the requirements from the orders of its parents or kits are beyond the engine''s range (inputs up to 1000000000 units, sums up to 9223372036854 units).'::text)$$,
                  'the component is reported');
SELECT is((SELECT o.qty FROM mrp.planned_order o WHERE o.product_id = :big), 1000000000::numeric, 'its parent is planned');

-- ============================================================ bad rules meet replenish
SELECT stock.create_product(:a, 'R70-R1', 'Rule beyond') AS r1 \gset
SELECT stock.create_product(:a, 'R70-R2', 'Rule fine') AS r2 \gset
SELECT purchase.add_supplier(:r1, :v, 1, 0), purchase.add_supplier(:r2, :v, 1, 0) \g /dev/null
SELECT mrp.add_reorder_rule(:r1, :wh, 1, 5) AS rule1 \gset
SELECT mrp.add_reorder_rule(:r2, :wh, 1, 5) AS rule2 \gset
UPDATE mrp.reorder_rule SET max_qty = :huge WHERE id = :rule1;
SELECT results_eq(format($$SELECT p.sku, r.qty_to_order, CASE WHEN r.order_ref LIKE 'PO/%%' THEN 'PO/...' ELSE r.order_ref END
                             FROM mrp.replenish(%s) r JOIN stock.product p ON p.id = r.product_id
                            WHERE p.sku LIKE 'R70-R%%' ORDER BY p.sku$$, :a),
                  $$VALUES ('R70-R1'::text, NULL::numeric, 'failed: out of range'::text), ('R70-R2', 5, 'PO/...')$$,
                  'replenish: the rule beyond the range is reported, the other orders 5');
SELECT is((SELECT m.detail FROM mrp.run_message m WHERE m.product_id = :r1 AND m.kind = 'replenish_failed'),
          format('Reorder rule %s: its forecast, minimum, maximum or multiple is beyond 1000000000 units, or its lead time beyond 36525 days (22003).', :rule1),
          'with a message naming the rule');

-- ============================================================ company ids beyond 2^31
-- (sequences are not transactional: the old value is put back at the end)
SELECT pg_sequence_last_value(pg_get_serial_sequence('erp.company', 'id')::regclass) AS company_seq \gset
SELECT setval(pg_get_serial_sequence('erp.company', 'id'), 3000000000) \g /dev/null
SELECT erp.create_company('R70 Big id') AS bigco \gset
SELECT ok(:bigco > 2147483647, 'a company id beyond 2^31');
SELECT stock.create_warehouse(:bigco, 'R70-BIG') AS bwh \gset
SELECT erp.create_partner(:bigco, 'r70 Big vendor', 'vendor') AS bv \gset
SELECT stock.create_product(:bigco, 'R70-X', 'X') AS x \gset
SELECT purchase.add_supplier(:x, :bv, 1, 0), mrp.add_demand(:x, 7, current_date + 1), mrp.add_reorder_rule(:x, :bwh, 1, 4) \g /dev/null
SELECT lives_ok(format('SELECT mrp.run(%s, current_date, %L, 4)', :bigco, 'week'), 'mrp.run of that company');
SELECT is((SELECT o.qty FROM mrp.planned_order o WHERE o.company_id = :bigco), 7::numeric, 'plans its demand of 7');
SELECT is((SELECT r.qty_to_order FROM mrp.replenish(:bigco) r), 4::numeric, 'mrp.replenish of that company orders 4');

SELECT setval(pg_get_serial_sequence('erp.company', 'id'), :company_seq) \g /dev/null

SELECT * FROM finish();
ROLLBACK;
