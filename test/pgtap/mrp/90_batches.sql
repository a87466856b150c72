-- The MRP run's bulk writes (src/mrp/bulk.c, issue #16): results written in COPY batches of
-- pgerp.mrp_batch_rows rows are the same whatever the batch size (1 row, 2 rows, more rows
-- than one batch, everything in one batch), references with a tab, a newline and a backslash
-- come back as they were, a trigger on an output table still fires once per row, and the
-- setting refuses what is out of range.
BEGIN;
\ir ../setup.sql
SELECT plan(11);

SELECT * FROM pg_temp.make_tree() \gset
CREATE FUNCTION pg_temp.l(p bigint, q numeric) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('product', p, 'qty', q) $$;

-- Z = 2 A + 3 B; A = 4 C; fixed lots of 7 for B, safety stock 1.5 on C, 10 C on hand
SELECT stock.create_product(:a, 'R90-Z', 'Z') AS z \gset
SELECT stock.create_product(:a, 'R90-A', 'A') AS pa \gset
SELECT stock.create_product(:a, 'R90-B', 'B') AS pb \gset
SELECT stock.create_product(:a, 'R90-C', 'C') AS pc \gset
SELECT mrp.create_bom(:z, 1, jsonb_build_array(pg_temp.l(:pa, 2), pg_temp.l(:pb, 3))) \g /dev/null
SELECT mrp.create_bom(:pa, 1, jsonb_build_array(pg_temp.l(:pc, 4))) \g /dev/null
SELECT mrp.set_planning(:z, 'make', 7), mrp.set_planning(:pa, 'make', 7),
       mrp.set_planning(:pb, 'buy', 14, 'fixed', 7), mrp.set_planning(:pc, 'buy', 21, 'l4l', NULL, 1.5) \g /dev/null
SELECT stock.create_warehouse(:a, 'R90') \g /dev/null
SELECT stock.receive(:pc, 10, 1) \g /dev/null
SELECT mrp.add_demand(:z, 3.25, date '2026-01-05' + 7 * w, CASE w WHEN 1 THEN E'SO\t1' WHEN 2 THEN E'SO\n2'
                                                                   WHEN 3 THEN E'SO\\3' ELSE 'SO-' || w END)
  FROM generate_series(0, 9) w \g /dev/null

-- every result of the last run, ids replaced by what they stand for
CREATE FUNCTION pg_temp.results() RETURNS TABLE (what text, line text) LANGUAGE sql AS $$
    SELECT 'order', format('%s %s %s %s %s %s %s', p.sku, o.kind, o.qty, o.release_date, o.due_date, o.past_due,
                           o.vendor_id IS NULL)
      FROM mrp.planned_order o JOIN stock.product p ON p.id = o.product_id WHERE p.sku LIKE 'R90-%'
    UNION ALL
    SELECT 'record', format('%s %s %s %s %s %s %s %s %s', p.sku, r.bucket, r.bucket_start, r.gross, r.scheduled,
                            r.projected, r.net, r.planned_receipt, r.planned_release)
      FROM mrp.plan_record r JOIN stock.product p ON p.id = r.product_id WHERE p.sku LIKE 'R90-%'
    UNION ALL
    SELECT 'peg', format('%s %s -> %s %s', p.sku, o.due_date,
                         coalesce((SELECT pp.sku || ' ' || po.due_date FROM mrp.planned_order po
                                     JOIN stock.product pp ON pp.id = po.product_id
                                    WHERE g.demand_ref = 'planned order ' || po.id), g.demand_ref), g.qty)
      FROM mrp.pegging g JOIN mrp.planned_order o ON o.id = g.planned_order_id
      JOIN stock.product p ON p.id = o.product_id WHERE p.sku LIKE 'R90-%'
    UNION ALL
    SELECT 'message', format('%s %s %s', p.sku, m.kind, m.detail)
      FROM mrp.run_message m JOIN stock.product p ON p.id = m.product_id WHERE p.sku LIKE 'R90-%'
$$;

SELECT mrp.run(:a, date '2026-01-05', 'week', 12) AS run1 \gset
CREATE TEMP TABLE one_batch AS SELECT * FROM pg_temp.results();
SELECT cmp_ok((SELECT count(*) FROM one_batch WHERE what = 'record'), '>', 20::bigint,
              'the run wrote more rows than the small batches below hold');
SELECT results_eq($$SELECT line FROM one_batch WHERE what = 'order' AND line LIKE 'R90-Z %' ORDER BY line$$,
                  $$SELECT format('R90-Z make 3.25 %s %s %s t', date '2026-01-05' + 7 * (w - 1), date '2026-01-05' + 7 * w, w = 0)
                      FROM generate_series(0, 9) w ORDER BY 1$$,
                  'Z: 3.25 a week, released a week before (the first past due), the shortest decimal');
SELECT results_eq($$SELECT g.demand_ref FROM mrp.pegging g JOIN mrp.planned_order o ON o.id = g.planned_order_id
                     WHERE o.product_id = $$ || :z || $$ AND g.demand_ref IN (E'SO\t1', E'SO\n2', E'SO\\3') ORDER BY o.due_date$$,
                  $$VALUES (E'SO\t1'), (E'SO\n2'), (E'SO\\3')$$,
                  'references with a tab, a newline and a backslash are written as they were');
SELECT results_eq($$SELECT projected FROM mrp.plan_record WHERE product_id = $$ || :pc || $$ ORDER BY bucket LIMIT 1$$,
                  $$VALUES (1.5::numeric)$$, 'C: projected down to its safety stock of 1.5');

SET LOCAL pgerp.mrp_batch_rows = 1;
SELECT mrp.run(:a, date '2026-01-05', 'week', 12) AS run2 \gset
SELECT bag_eq('SELECT * FROM pg_temp.results()', 'SELECT * FROM one_batch', 'batches of 1 row: the same results');
SELECT is((SELECT planned_orders FROM mrp.mrp_run WHERE id = :run2),
          (SELECT count(*)::int FROM one_batch WHERE what = 'order'), 'batches of 1 row: the same number of planned orders');

SET LOCAL pgerp.mrp_batch_rows = 2;
SELECT mrp.run(:a, date '2026-01-05', 'week', 12) \g /dev/null
SELECT bag_eq('SELECT * FROM pg_temp.results()', 'SELECT * FROM one_batch', 'batches of 2 rows: the same results');

-- a trigger on an output table fires once per row written, across batches
CREATE TEMP TABLE fired (n int);
CREATE FUNCTION pg_temp.count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fired VALUES (1);
    RETURN NULL;
END $$;
CREATE TRIGGER r90_count AFTER INSERT ON mrp.plan_record FOR EACH ROW EXECUTE FUNCTION pg_temp.count_row();
SET LOCAL pgerp.mrp_batch_rows = 3;
SELECT mrp.run(:a, date '2026-01-05', 'week', 12) AS run4 \gset
SELECT is((SELECT count(*) FROM fired), (SELECT count(*) FROM mrp.plan_record WHERE run_id = :run4),
          'an AFTER INSERT trigger of mrp.plan_record fired once per row, batches of 3');
SELECT bag_eq('SELECT * FROM pg_temp.results()', 'SELECT * FROM one_batch', 'batches of 3 rows: the same results');
DROP TRIGGER r90_count ON mrp.plan_record;

SELECT throws_ok($$SET pgerp.mrp_batch_rows = 0$$, '22023', NULL, 'a batch of 0 rows is refused');
SELECT throws_ok($$SET pgerp.mrp_batch_rows = 1000001$$, '22023', NULL, 'a batch of more than 1,000,000 rows is refused');

SELECT * FROM finish();
ROLLBACK;
