-- Idempotency keys of mrp.produce_mo and purchase.receive (#14.6): a retry after an in-doubt commit
-- returns the first result, produces or receives nothing more; other arguments under the key: 23505.
BEGIN;
\ir ../setup.sql
SELECT plan(8);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'ID60') AS wh \gset
SELECT stock.create_product(:a, 'ID60-FIN', 'Finished') AS fin \gset
SELECT stock.create_product(:a, 'ID60-CMP', 'Component') AS cmp \gset
SELECT erp.create_partner(:a, 'id60 vendor', 'vendor') AS v \gset
SELECT purchase.add_supplier(:cmp, :v, 2, 5) \g /dev/null
SELECT stock.receive(:cmp, 20, 3, :wh) \g /dev/null
SELECT mrp.create_bom(:fin, 1, jsonb_build_array(jsonb_build_object('product', :cmp, 'qty', 2))) \g /dev/null
SELECT mrp.create_mo(:fin, 4, NULL, :wh) AS mo \gset
SELECT mrp.confirm_mo(:mo) \g /dev/null
SELECT purchase.create_order(:v, jsonb_build_array(jsonb_build_object('product', :cmp, 'qty', 10)), NULL, :wh) AS po \gset
SELECT purchase.confirm(:po) \g /dev/null

CREATE FUNCTION pg_temp.state(p_fin bigint, p_cmp bigint) RETURNS text LANGUAGE sql AS $$
    SELECT format('moves %s, on hand %s/%s, layers %s, lines %s, MOs %s, orders %s',
                  (SELECT count(*) FROM stock.move), stock.on_hand(p_fin), stock.on_hand(p_cmp),
                  (SELECT count(*) FROM stock.valuation_layer), (SELECT count(*) FROM stock.journal_line),
                  (SELECT count(*) FROM mrp.production), (SELECT count(*) FROM purchase.order))
$$;

-- the first calls commit (savepoint released); the client retries them
SAVEPOINT first_call;
SELECT mrp.produce_mo(:mo, 3, p_idempotency_key => 'mo-1') AS back_mo \gset
SELECT purchase.receive(:po, jsonb_build_array(jsonb_build_object('product', :cmp, 'qty', 6)), p_idempotency_key => 'po-1') AS back_po \gset
RELEASE SAVEPOINT first_call;
SELECT pg_temp.state(:fin, :cmp) AS after_first \gset
SELECT isnt(:back_mo::bigint, NULL, 'the partial production made a backorder MO');
SELECT is(mrp.produce_mo(:mo, 3, p_idempotency_key => 'mo-1'), :back_mo::bigint,
          'produce_mo retried: the same backorder, not "order is done"');
SELECT is(purchase.receive(:po, jsonb_build_array(jsonb_build_object('product', :cmp, 'qty', 6)), p_idempotency_key => 'po-1'),
          :back_po::bigint, 'purchase.receive retried: the same backorder order');
SELECT is(pg_temp.state(:fin, :cmp), :'after_first', 'the retries changed no move, quant, layer, journal line, MO or order');
SELECT is(stock.on_hand(:fin), 3::numeric, '3 produced once');
SELECT is(pg_temp.error_message(format('SELECT mrp.produce_mo(%s, 2, p_idempotency_key => %L)', :mo, 'mo-1')),
          '23505: idempotency key ''mo-1'' was used for another posting', 'produce_mo with another quantity under the key: 23505');
SELECT is(pg_temp.error_message(format('SELECT purchase.receive(%s, NULL, p_idempotency_key => %L)', :po, 'po-1')),
          '23505: idempotency key ''po-1'' was used for another posting', 'purchase.receive with other lines under the key: 23505');
SELECT is_empty($$SELECT * FROM stock.verify_valuation()$$, 'valuation verifies');

SELECT * FROM finish();
ROLLBACK;
