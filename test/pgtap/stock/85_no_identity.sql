-- A session without an identity (#14.5): every writer of stock, mrp and purchase raises 28000 "no user is
-- signed in" with a hint, not "does not exist" (22023) or "permission denied"; the bootstrap superuser keeps
-- its path; reads stay empty under row security.
BEGIN;
\ir ../setup.sql
SELECT plan(8);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'NI85') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.create_warehouse(:a, 'NI85-2') AS wh2 \gset
SELECT stock.warehouse_location(:wh2) AS loc2 \gset
SELECT stock.create_product(:a, 'NI85-P', 'Finished') AS p \gset
SELECT stock.create_product(:a, 'NI85-C', 'Component') AS c \gset
SELECT erp.create_partner(:a, 'ni85 vendor', 'vendor') AS v \gset
SELECT stock.receive(:c, 10, 1, :wh) AS done_move \gset
SELECT stock.create_move(:p, 1, :loc, stock.virtual_location(:a, 'customer')) AS open_move \gset
SELECT mrp.create_bom(:p, 1, jsonb_build_array(jsonb_build_object('product', :c, 'qty', 1))) AS bom \gset
SELECT mrp.create_mo(:p, 1, NULL, :wh) AS mo \gset
SELECT purchase.add_supplier(:c, :v, 1, 5) \g /dev/null
SELECT purchase.create_order(:v, jsonb_build_array(jsonb_build_object('product', :c, 'qty', 2)), NULL, :wh) AS po \gset
SELECT pg_temp.make_user('ni85_user', 'admin', :a, false) AS usr \gset

-- every writer, with arguments naming objects that exist
CREATE TEMP TABLE writer (call text) ON COMMIT DROP;
INSERT INTO writer VALUES
    (format('stock.create_warehouse(%s, %L)', :a, 'NI85-X')),
    (format('stock.set_allow_negative(%s, true)', :a)),
    (format('stock.create_product(%s, %L, %L)', :a, 'NI85-X', 'X')),
    (format('stock.create_move(%s, 1, %s, %s)', :p, :loc, :loc2)),
    (format('stock.confirm(%s)', :open_move)),
    (format('stock.reserve(%s)', :open_move)),
    (format('stock.unreserve(%s)', :open_move)),
    (format('stock.cancel(%s)', :open_move)),
    (format('stock.validate(%s)', :open_move)),
    (format('stock.receive(%s, 1, 1, %s)', :p, :wh)),
    (format('stock.deliver(%s, 1, %s)', :c, :wh)),
    (format('stock.transfer(%s, 1, %s, %s)', :c, :loc, :loc2)),
    (format('stock.scrap(%s, 1, %s)', :c, :wh)),
    (format('stock.adjust(%s, %s, 5)', :c, :loc)),
    (format('stock.set_standard_price(%s, 2)', :c)),
    (format('stock.return_move(%s, 1)', :done_move)),
    (format('stock.apply_landed_cost(ARRAY[%s]::bigint[], 5)', :done_move)),
    (format('stock.revalue(%s, 5)', :c)),
    (format('stock.set_cost_method(%s, %L)', :c, 'avco')),
    (format('mrp.create_workcenter(%s, %L, 30)', :a, 'NI85-WC')),
    (format('mrp.create_bom(%s, 1, %L)', :p, jsonb_build_array(jsonb_build_object('product', :c, 'qty', 2)))),
    (format('mrp.update_standard_price(%s)', :p)),
    (format('mrp.create_mo(%s, 1, NULL, %s)', :p, :wh)),
    (format('mrp.confirm_mo(%s)', :mo)),
    (format('mrp.reserve_mo(%s)', :mo)),
    (format('mrp.produce_mo(%s)', :mo)),
    (format('mrp.cancel_mo(%s)', :mo)),
    (format('mrp.set_planning(%s, %L, 7)', :p, 'make')),
    (format('mrp.add_demand(%s, 5, %L)', :p, '2027-01-10')),
    (format('mrp.run(%s, %L, %L, 4)', :a, '2027-01-04', 'week')),
    (format('mrp.add_reorder_rule(%s, %s, 1, 5)', :c, :wh)),
    (format('mrp.replenish(%s)', :a)),
    (format('purchase.add_supplier(%s, %s, 2, 3)', :p, :v)),
    (format('purchase.create_order(%s, %L)', :v, jsonb_build_array(jsonb_build_object('product', :c, 'qty', 1)))),
    (format('purchase.confirm(%s)', :po)),
    (format('purchase.receive(%s)', :po)),
    (format('purchase.cancel(%s)', :po));
GRANT SELECT ON writer TO pgerp_app;

-- the outcome of each call: 'SQLSTATE: message' (rolled back whatever it is)
CREATE FUNCTION pg_temp.outcomes() RETURNS TABLE (call text, outcome text) LANGUAGE plpgsql AS $$
DECLARE
    w record;
BEGIN
    FOR w IN SELECT * FROM writer ORDER BY 1 LOOP
        call := w.call;
        outcome := pg_temp.error_message('SELECT ' || w.call);
        RETURN NEXT;
    END LOOP;
END $$;

SET LOCAL ROLE pgerp_app;
SELECT erp.sign_out();
SELECT is_empty($$SELECT * FROM pg_temp.outcomes() WHERE outcome <> '28000: no user is signed in'$$,
                'as the application role with nobody signed in, every writer raises 28000 "no user is signed in"');
SELECT is(pg_temp.error_hint(format('SELECT stock.receive(%s, 1, 1, %s)', :p, :wh)),
          '28000: Sign in with erp.sign_in() or restore the identity with erp.use_token().',
          'with a hint naming erp.sign_in and erp.use_token');
SELECT is((SELECT count(*)::int FROM stock.move), 0, 'reads stay as they were: no move is visible (row security)');
SELECT is((SELECT count(*)::int FROM stock.product), 0, 'nor any product');
SELECT pg_temp.login('ni85_user', :a);
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 1, 1, %s)', :p, :wh)), 'no error',
          'signed in again, the same call posts');
SELECT erp.sign_out();
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 1, 1, %s)', :p, :wh)), '28000: no user is signed in',
          'signed out again: 28000');
RESET ROLE;

-- the bootstrap superuser keeps its path: nobody signed in, yet it posts
SELECT erp.sign_out();
SELECT is(pg_temp.error_message(format('SELECT stock.receive(%s, 1, 1, %s)', :p, :wh)), 'no error',
          'the bootstrap superuser still receives with nobody signed in');
SELECT is(stock.on_hand(:p), 2::numeric, 'the two receipts that were allowed are on hand');

SELECT * FROM finish();
ROLLBACK;
