-- The api functions as the application role: results and SQLSTATEs, and a
-- row the caller cannot see answers like a missing one.
BEGIN;
\ir ../setup.sql
SELECT plan(44);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t40_alice', 'admin', :a, false) AS alice \gset
SELECT pg_temp.make_user('t40_carol', 'stock_manager', :a, false) AS carol \gset
SELECT pg_temp.make_user('t40_bob', 'admin', :b, false) AS bob \gset
SELECT pg_temp.make_user('t40_multi', 'stock_user', :a, false) AS multi \gset
SELECT erp.grant_role(:multi, 'stock_user', :b, false);
SELECT stock.create_warehouse(:a, 'T40A') AS wa \gset
SELECT stock.create_warehouse(:a, 'T40A2') AS wa2 \gset
SELECT stock.create_warehouse(:b, 'T40B') AS wb \gset
SELECT stock.warehouse_location(:wa) AS la \gset
SELECT stock.warehouse_location(:wa2) AS la2 \gset
SELECT stock.create_product(:a, 'T40-P', 'Plank') AS p \gset
SELECT stock.create_product(:a, 'T40-F', 'Shelf') AS f \gset
SELECT stock.create_product(:b, 'T40-B', 'Plank of B') AS pb \gset
SELECT stock.receive(:pb, 1, 1, :wb) AS mb \gset
SELECT erp.create_partner(:a, 't40 Vendor', 'vendor') AS v \gset
SELECT mrp.create_workcenter(:a, 'T40-WC', 60) AS wc \gset
SELECT mrp.create_bom(:f, 1, jsonb_build_array(jsonb_build_object('product', :p, 'qty', 2)), 'normal', NULL,
                      jsonb_build_array(jsonb_build_object('name', 'Saw', 'workcenter', :wc, 'minutes', 30))) AS bom \gset

SET LOCAL ROLE pgerp_app;

-- ------------------------------------------------------------ sign-in
SELECT api.sign_in('t40_alice', 't40_alice-pass-1', :a) AS s \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM json_object_keys(:'s'::json) k),
          ARRAY['company_id', 'expires_at', 'refresh_token', 'token', 'user_id'], 'sign_in returns the five keys');
SELECT results_eq(format($$SELECT (%1$L::json->>'user_id')::bigint, (%1$L::json->>'company_id')::bigint, (%1$L::json->>'expires_at')::timestamptz > now()$$, :'s'),
                  format('VALUES (%s::bigint, %s::bigint, true)', :alice, :a), 'user_id, company_id and a future expires_at');
SELECT lives_ok(format('SELECT erp.use_token(%L)', :'s'::json->>'token'), 'the token is accepted by erp.use_token');
SELECT throws_ok($$SELECT api.sign_in('t40_alice', 'wrong password')$$, '28P01', 'invalid login or password',
                 'a wrong password (28P01)');
SELECT api.refresh(:'s'::json->>'refresh_token') AS r \gset
SELECT results_eq(format($$SELECT (%1$L::json->>'user_id')::bigint, (%1$L::json->>'company_id')::bigint,
                                  %1$L::json->>'refresh_token' <> %2$L, %1$L::json->>'token' IS NOT NULL$$, :'r', :'s'::json->>'refresh_token'),
                  format('VALUES (%s::bigint, %s::bigint, true, true)', :alice, :a), 'refresh: a new pair for the same user and company');
SELECT throws_ok(format('SELECT api.refresh(%L)', :'s'::json->>'refresh_token'), '28000', 'refresh token was already used',
                 'a refresh token is single-use (28000)');

SELECT api.sign_in('t40_multi', 't40_multi-pass-1', :a) AS sm \gset
SELECT api.switch_company(:b, :'sm'::json->>'refresh_token') AS sw \gset
SELECT results_eq(format($$SELECT (%1$L::json->>'user_id')::bigint, (%1$L::json->>'company_id')::bigint$$, :'sw'),
                  format('VALUES (%s::bigint, %s::bigint)', :multi, :b), 'switch_company: a new pair in company B');
SELECT erp.use_token(:'sw'::json->>'token');
SELECT is(erp.current_company_id(), :b::bigint, 'its token acts in B');
SELECT throws_ok(format('SELECT api.switch_company(%s, %L)', :a, :'sm'::json->>'refresh_token'), '28000', 'invalid refresh token',
                 'the refresh token it traded is used up (28000)');
SELECT throws_ok(format('SELECT api.switch_company(%s, %L)', :g, :'sw'::json->>'refresh_token'), '42501',
                 format('company %s is not allowed for this user', :g), 'a company without a role is refused (42501)');

-- ------------------------------------------------------------ stock moves
SELECT pg_temp.login('t40_alice', :a);
SELECT results_eq(format($$SELECT product_id, qty, unit_cost, state, location_dest_id, ref FROM api.receive(%s, 10, 2.5, %s, 'R1')$$, :p, :wa),
                  format($$VALUES (%s::bigint, 10::numeric, 2.5::numeric, 'done', %s::bigint, 'R1')$$, :p, :la),
                  'receive returns the done move into the warehouse');
SELECT results_eq(format($$SELECT qty, state, location_id, value FROM api.deliver(%s, 3, %s)$$, :p, :wa),
                  format($$VALUES (3::numeric, 'done', %s::bigint, -7.5::numeric)$$, :la), 'deliver: 3 out at 2.5 (value -7.5)');
SELECT results_eq(format($$SELECT qty, location_id, location_dest_id, state FROM api.transfer(%s, 2, %s, %s, 'T1')$$, :p, :la, :la2),
                  format($$VALUES (2::numeric, %s::bigint, %s::bigint, 'done')$$, :la, :la2), 'transfer between two locations');
SELECT results_eq(format($$SELECT qty, state FROM api.scrap(%s, 1, %s)$$, :p, :wa), $$VALUES (1::numeric, 'done')$$, 'scrap');
SELECT results_eq(format($$SELECT qty, location_dest_id FROM api.adjust(%s, %s, 6)$$, :p, :la),
                  format('VALUES (2::numeric, %s::bigint)', :la), 'adjust: 4 on hand counted 6, a move of 2 in');
SELECT ok((SELECT a IS NULL FROM api.adjust(:p, :la, 6) a), 'adjust with a matching count: null, no move');
SELECT stock.create_move(:p, 4, :la, stock.virtual_location(:a, 'customer')) AS dm \gset
SELECT stock.confirm(:dm);
SELECT results_eq(format('SELECT id, qty, state FROM api.validate(%s, 1)', :dm), format($$VALUES (%s::bigint, 1::numeric, 'done')$$, :dm),
                  'validate of 1 of 4: the move, done with 1');
SELECT is((SELECT qty FROM api.moves WHERE backorder_of = :dm), 3::numeric, 'the rest (3) is its backorder');
SELECT id AS rm0 FROM api.moves WHERE ref = 'R1' \gset
SELECT results_eq(format('SELECT origin_move_id, qty, location_id, unit_cost FROM api.return_move(%s, 4)', :rm0),
                  format('VALUES (%s::bigint, 4::numeric, %s::bigint, 2.5::numeric)', :rm0, :la), 'return_move: 4 back at the receipt''s cost');
SELECT throws_ok(format('SELECT api.validate(%s)', :mb), '22023', format('move %s does not exist', :mb),
                 'a move of B answers "does not exist" (22023)');
SELECT throws_ok(format('SELECT api.validate(%s)', :mb + 100000), '22023', format('move %s does not exist', :mb + 100000),
                 'like a missing move');
SELECT throws_ok(format('SELECT api.receive(%s, 1, 1)', :pb), '22023', format('product %s does not exist', :pb),
                 'receive of a product of B: "does not exist" (22023)');
SELECT throws_ok(format('SELECT api.receive(%s, -1, 1, %s)', :p, :wa), '22023', NULL, 'a negative quantity (22023)');

-- ------------------------------------------------------------ valuation report
SELECT results_eq(format($$SELECT sku, qty, value FROM api.valuation_report(%s) WHERE sku = 'T40-P'$$, :a),
                  $$VALUES ('T40-P', 3::numeric, 7.5::numeric)$$, 'valuation_report takes filters: T40-P, 3 units worth 7.5');
SELECT is((SELECT count(*)::int FROM api.valuation_report(:b)), 0, 'the report of B is empty for alice');

-- ------------------------------------------------------------ manufacturing
SELECT results_eq(format('SELECT batch_qty, components_cost, operations_cost, total_cost FROM api.bom_cost(%s)', :f),
                  $$VALUES (1::numeric, 5::numeric, 30::numeric, 35::numeric)$$, 'bom_cost: 2 planks at 2.5 and 30 minutes at 60');
SELECT api.receive(:p, 10, 2.5, :wa) IS NOT NULL AS more \gset
SELECT (api.create_mo(:f, 2, NULL, :wa)).id AS mo \gset
SELECT results_eq(format('SELECT product_id, bom_id, qty, state FROM api.productions WHERE id = %s', :mo),
                  format($$VALUES (%s::bigint, %s::bigint, 2::numeric, 'draft')$$, :f, :bom), 'create_mo returns a draft order');
SELECT is((SELECT state FROM api.confirm_mo(:mo)), 'confirmed', 'confirm_mo');
SELECT results_eq(format('SELECT state, qty FROM api.produce_mo(%s, 1)', :mo), $$VALUES ('done', 1::numeric)$$,
                  'produce_mo of 1 of 2: done with 1');
SELECT is((SELECT qty FROM api.productions WHERE backorder_of = :mo), 1::numeric, 'the other 1 is its backorder');
SELECT throws_ok('SELECT api.confirm_mo(0)', '22023', 'manufacturing order 0 does not exist', 'a missing order (22023)');

-- ------------------------------------------------------------ purchase
SELECT (api.create_purchase_order(:v, jsonb_build_array(jsonb_build_object('product', :p, 'qty', 5, 'price', 2)), NULL, :wa)).id AS po \gset
SELECT results_eq(format('SELECT vendor_id, state FROM api.purchase_orders WHERE id = %s', :po),
                  format($$VALUES (%s::bigint, 'draft')$$, :v), 'create_purchase_order: a draft order');
SELECT is((SELECT state FROM api.confirm_purchase_order(:po)), 'confirmed', 'confirm_purchase_order');
SELECT is((SELECT count(*)::int FROM api.purchase_order_lines WHERE order_id = :po AND move_id IS NOT NULL), 1,
          'its line has its incoming move');
SELECT is((SELECT state FROM api.receive_purchase_order(:po)), 'done', 'receive_purchase_order of everything: done');

-- ------------------------------------------------------------ planning and jobs
SELECT api.run_mrp(:a, current_date, 'week', 4) AS job \gset
SELECT results_eq(format('SELECT kind, status, enqueued_by, args FROM api.jobs WHERE id = %s', :job),
                  format($$VALUES ('mrp.run', 'queued', %s::bigint, %L::jsonb)$$, :alice,
                         jsonb_build_object('company', :a, 'start', to_char(current_date, 'YYYY-MM-DD'), 'bucket', 'week',
                                            'horizon', 4, 'warehouse', NULL)),
                  'run_mrp enqueues an mrp.run job and returns its id');
SELECT throws_ok(format($$SELECT api.run_mrp(%s, NULL, 'month')$$, :a), '22023', 'invalid bucket ''month''',
                 'a bad bucket is refused at once (22023)');
SELECT is((SELECT status FROM api.cancel_job(:job)), 'cancelled', 'cancel_job returns the cancelled job');
SELECT api.replenish(:a, true) AS job2 \gset
SELECT results_eq(format('SELECT kind, args FROM api.jobs WHERE id = %s', :job2),
                  format('VALUES (%L, %L::jsonb)', 'mrp.replenish', jsonb_build_object('company', :a, 'dry_run', true)),
                  'replenish enqueues an mrp.replenish job');
SELECT mrp.add_demand(:f, 3, current_date + 14) AS d \gset
SELECT mrp.run(:a, current_date, 'day', 90, :wa) AS run \gset
SELECT id AS plo FROM api.planned_orders WHERE run_id = :run AND product_id = :f \gset
SELECT ok((SELECT firmed_ref LIKE 'MO/%' FROM api.firm(:plo)), 'firm: the planned order, firmed as an MO');
SELECT throws_ok(format('SELECT api.firm(%s)', :plo), '55000', NULL, 'firming it again (55000)');

SELECT pg_temp.login('t40_carol', :a);
SELECT throws_ok(format('SELECT api.run_mrp(%s)', :a), '42501', 'permission denied for "mrp.plan:run"',
                 'a stock manager may not run MRP (42501)');
SELECT throws_ok(format('SELECT api.cancel_job(%s)', :job2), '22023', format('job %s does not exist', :job2),
                 'another user''s job answers "does not exist" (22023)');
SELECT pg_temp.login('t40_bob', :b);
SELECT throws_ok(format('SELECT api.firm(%s)', :plo), '22023', format('planned order %s does not exist', :plo),
                 'a planned order of A answers "does not exist" to bob (22023)');

SELECT * FROM finish();
ROLLBACK;
