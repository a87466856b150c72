-- #16.1: a posting reads the layers it uses, however many layers of the product are open.
-- The rows of stock.valuation_layer a statement reads are this transaction's statistics
-- (pg_stat_xact_all_tables: sequential and index fetches), so no timing is involved.
BEGIN;
\ir ../setup.sql
SELECT plan(19);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'OL52') AS wh \gset
SELECT stock.create_product(:a, 'OL52-MANY', 'Many layers in stock') AS fa \gset
SELECT stock.create_product(:a, 'OL52-ONE', 'One layer in stock') AS fb \gset
SELECT stock.create_product(:a, 'OL52-OWED', 'Many owed layers') AS na \gset
SELECT stock.create_product(:a, 'OL52-OWED1', 'One owed layer') AS nb \gset

-- 200 layers in stock against one; 200 owed layers (negative stock) against one
SELECT count(stock.receive(:fa, 1, 10)) FROM generate_series(1, 200) \gset
SELECT stock.receive(:fb, 200, 10) \gset
SELECT count(stock.deliver(:na, 1)) FROM generate_series(1, 200) \gset
SELECT stock.deliver(:nb, 200) \gset
-- as autovacuum would: plans made for an empty table read by the company only
ANALYZE stock.valuation_layer, stock.move;

-- 'rows N, indexes I...': the rows of stock.valuation_layer a statement reads
-- (sequential scans and index fetches) and the indexes of the table it scans
CREATE FUNCTION pg_temp.layer_reads(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
    v_scans bigint[];
    v_names text[];
BEGIN
    SELECT t.seq_tup_read + t.idx_tup_fetch INTO v_rows FROM pg_stat_xact_all_tables t
     WHERE t.relid = 'stock.valuation_layer'::regclass;
    SELECT array_agg(pg_stat_get_xact_numscans(i.indexrelid) ORDER BY i.indexrelid::regclass::text) INTO v_scans
      FROM pg_index i WHERE i.indrelid = 'stock.valuation_layer'::regclass;
    EXECUTE p_sql;
    SELECT t.seq_tup_read + t.idx_tup_fetch - v_rows INTO v_rows FROM pg_stat_xact_all_tables t
     WHERE t.relid = 'stock.valuation_layer'::regclass;
    SELECT array_agg(c.relname ORDER BY i.indexrelid::regclass::text) INTO v_names
      FROM (SELECT indexrelid, row_number() OVER (ORDER BY indexrelid::regclass::text) AS k
              FROM pg_index WHERE indrelid = 'stock.valuation_layer'::regclass) i
      JOIN pg_class c ON c.oid = i.indexrelid
     WHERE pg_stat_get_xact_numscans(i.indexrelid) > v_scans[i.k];
    RETURN format('rows %s, indexes %s', v_rows, array_to_string(v_names, ' '));
END $$;

-- ------------------------------------------------------------ in stock
SELECT is(pg_temp.layer_reads(format('SELECT stock.receive(%s, 10, 10)', :fa)),
          'rows 0, indexes valuation_layer_owed_idx',
          'a receipt with 200 layers in stock reads no layer: nothing owed to settle, found in the owed layers'' index, and its own layer written once with what it holds');
SELECT is(pg_temp.layer_reads(format('SELECT stock.receive(%s, 10, 10)', :fb)),
          'rows 0, indexes valuation_layer_owed_idx',
          'a receipt with one layer in stock reads the same');
SELECT is(pg_temp.layer_reads(format('SELECT stock.deliver(%s, 2)', :fa)),
          'rows 4, indexes valuation_layer_in_stock_idx valuation_layer_pkey',
          'a delivery of 2 with 200 layers of 1 in stock reads the two oldest, which it consumes (2 rows read, 2 updated)');
SELECT is(pg_temp.layer_reads(format('SELECT stock.deliver(%s, 2)', :fb)),
          'rows 2, indexes valuation_layer_in_stock_idx valuation_layer_pkey',
          'a delivery of 2 with one layer of 200 in stock reads that layer');
SELECT is((SELECT array_agg(remaining_qty ORDER BY created_at, id) FROM (
              SELECT created_at, id, remaining_qty FROM stock.valuation_layer
               WHERE company_id = :a AND product_id = :fa AND remaining_qty > 0 ORDER BY created_at, id LIMIT 3) x),
          '{1,1,1}'::numeric[], 'the two oldest layers were consumed, the next ones are whole');

SELECT is(pg_temp.layer_reads(format('SELECT stock.return_move(%s)',
              (SELECT max(id) FROM stock.move WHERE company_id = :a AND product_id = :fa AND qty = 10 AND unit_cost = 10))),
          'rows 2, indexes valuation_layer_move_idx valuation_layer_pkey',
          'returning the receipt of 10 reads its own layer, which it takes back, not the 198 older ones');
SELECT is((SELECT remaining_qty FROM stock.valuation_layer WHERE company_id = :a AND product_id = :fa AND quantity = 10),
          0::numeric, 'the returned receipt''s layer is empty');

-- what a receipt and a delivery write: the move inserted and updated once (done), its layer
-- inserted once; nothing reserved, so no update of the move's reservation
CREATE FUNCTION pg_temp.writes(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_mu bigint := pg_stat_get_xact_tuples_updated('stock.move'::regclass);
    v_lu bigint := pg_stat_get_xact_tuples_updated('stock.valuation_layer'::regclass);
    v_li bigint := pg_stat_get_xact_tuples_inserted('stock.valuation_layer'::regclass);
BEGIN
    EXECUTE p_sql;
    RETURN format('move updates %s, layer inserts %s, layer updates %s',
                  pg_stat_get_xact_tuples_updated('stock.move'::regclass) - v_mu,
                  pg_stat_get_xact_tuples_inserted('stock.valuation_layer'::regclass) - v_li,
                  pg_stat_get_xact_tuples_updated('stock.valuation_layer'::regclass) - v_lu);
END $$;
SELECT is(pg_temp.writes(format('SELECT stock.receive(%s, 10, 10)', :fb)), 'move updates 1, layer inserts 1, layer updates 0',
          'a receipt that settles nothing: its move updated once (done), its layer written once');
SELECT is(pg_temp.writes(format('SELECT stock.deliver(%s, 5)', :fb)), 'move updates 1, layer inserts 1, layer updates 1',
          'a delivery: its move updated once, its layer written once, the layer it consumes updated');

-- ------------------------------------------------------------ owed (negative stock)
SELECT is(pg_temp.layer_reads(format('SELECT stock.deliver(%s, 1)', :na)),
          'rows 0, indexes valuation_layer_in_stock_idx',
          'a delivery with 200 owed layers and no stock reads no layer: the owed ones are not in the in-stock index');
SELECT is(pg_temp.layer_reads(format('SELECT stock.deliver(%s, 1)', :nb)),
          'rows 0, indexes valuation_layer_in_stock_idx',
          'a delivery with one owed layer reads the same');
SELECT is(pg_temp.layer_reads(format('SELECT stock.receive(%s, 1, 12)', :na)),
          'rows 3, indexes valuation_layer_owed_idx valuation_layer_pkey',
          'a receipt of 1 with 201 owed layers of 1 reads the oldest, which it settles (and updates), and its own');
SELECT is(pg_temp.layer_reads(format('SELECT stock.receive(%s, 1, 12)', :nb)),
          'rows 3, indexes valuation_layer_owed_idx valuation_layer_pkey',
          'a receipt of 1 with one owed layer of 200 reads the same');
SELECT is((SELECT count(*) FROM stock.valuation_layer WHERE company_id = :a AND product_id = :na AND remaining_qty < 0),
          200::bigint, 'the settled layer left the owed ones: 200 owed');

-- ------------------------------------------------------------ after a back-dated receipt (replayed, src/valuation/backdate.c)
SELECT stock.receive(:na, 50, 10, NULL, 'back-dated', now() - interval '1 day') \gset
SELECT is((SELECT count(*) FROM stock.valuation_layer WHERE company_id = :a AND product_id = :na AND remaining_qty < 0),
          150::bigint, 'a back-dated receipt of 50 settles the 50 oldest owed layers in the replay: 150 owed');
SELECT is(pg_temp.layer_reads(format('SELECT stock.receive(%s, 2, 12)', :na)),
          'rows 5, indexes valuation_layer_owed_idx valuation_layer_pkey',
          'then a receipt of 2 reads the two oldest owed layers, which it settles, and its own');
SELECT is_empty(format('SELECT * FROM stock.verify_valuation(%s)', :na),
                'the owed product''s layers, running totals, journal and replay agree');

-- ------------------------------------------------------------ cost method change: every open layer is closed
SELECT stock.set_cost_method(:fa, 'avco');
SELECT is((SELECT array_agg(remaining_qty ORDER BY id) FROM stock.valuation_layer
            WHERE company_id = :a AND product_id = :fa AND remaining_qty <> 0),
          '{198}'::numeric[], 'a cost-method change closes the 198 layers in stock and opens one with the 198 on hand');
SELECT is_empty(format('SELECT * FROM stock.verify_valuation(%s) UNION ALL SELECT * FROM stock.verify_valuation(%s)', :fa, :fb),
                'the products in stock agree with their replay');

SELECT * FROM finish();
ROLLBACK;
