-- One BOM depth limit (mrp._max_bom_depth(), 64 levels below a product) for explosion, cost,
-- kits and the MRP run (issue 11, point 10): create_bom refuses a chain one level deeper
-- (54001, the limit in the detail), also when a BOM joins two chains in the middle; a
-- 1,000-level chain written past create_bom (data from 0.1.0) makes explode_all, explode,
-- bom_cost, update_standard_price and mrp.run raise 54001 instead of a truncated result;
-- a 50-level kit chain is within the limit, explodes and plans.
BEGIN;
\ir ../setup.sql
SELECT plan(21);

SELECT * FROM pg_temp.make_tree() \gset
CREATE FUNCTION pg_temp.l(p bigint, q numeric) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('product', p, 'qty', q) $$;
-- products R60-<prefix>0 .. <prefix>n of company A
CREATE FUNCTION pg_temp.products(p_company bigint, p_prefix text, n int) RETURNS bigint[] LANGUAGE sql AS $$
    SELECT array_agg(stock.create_product(p_company, 'R60-' || p_prefix || i, 'Depth ' || i) ORDER BY i)
      FROM generate_series(0, n) i
$$;
-- a chain by create_bom: product i+1 is made of product i, for i = 0 .. n - 1, as far as it goes;
-- returns the number of BOMs created and the error of the first refused one
CREATE FUNCTION pg_temp.chain(p bigint[], p_type text DEFAULT 'normal', OUT created int, OUT refused text)
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_detail text;
BEGIN
    created := 0;
    FOR i IN 1 .. array_length(p, 1) - 1 LOOP
        BEGIN
            PERFORM mrp.create_bom(p[i + 1], 1, jsonb_build_array(pg_temp.l(p[i], 1)), p_type);
            created := created + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL;
            refused := v_state || ': ' || v_detail;
            RETURN;
        END;
    END LOOP;
END $$;

SELECT is(mrp._max_bom_depth(), 64, 'the limit is 64 levels');

-- ============================================================ create_bom at the limit
-- a 1,000-level chain by create_bom: BOMs 1 .. 64 are accepted, the 65th level is refused
SELECT pg_temp.products(:a, 'C', 1000) AS c \gset
SELECT * FROM pg_temp.chain(:'c') \gset
SELECT is(:created, 64, 'a chain by create_bom stops at 64 levels');
SELECT is(:'refused'::text,
          '54001: Bills of materials are at most 64 levels deep; with this one, a chain through R60-C65 would have 65 or more.',
          'the 65th level is refused with 54001 and the limit in the detail');
SELECT is((SELECT max(level) FROM mrp.explode_all((:'c'::bigint[])[65], 1)), 64,
          'the top of the chain explodes to its 64 levels');
SELECT is((SELECT count(*)::int FROM mrp.explode_all((:'c'::bigint[])[65], 1)), 64, 'all 64 nodes');
SELECT is((SELECT unit_cost FROM mrp.bom_cost((:'c'::bigint[])[65])), 0::numeric,
          'bom_cost of the 64-level chain (no costs given) runs');

-- in the middle: two chains of 32 levels each, then a BOM joining them makes 65
SELECT pg_temp.products(:a, 'U', 32) AS u \gset
SELECT pg_temp.products(:a, 'L', 32) AS lo \gset
SELECT is((pg_temp.chain(:'u')).created, 32, 'an upper chain of 32 levels');
SELECT is((pg_temp.chain(:'lo')).created, 32, 'a lower chain of 32 levels');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', (:'u'::bigint[])[1],
                                      jsonb_build_array(pg_temp.l((:'lo'::bigint[])[33], 1)))),
          '54001: Bills of materials are at most 64 levels deep; with this one, a chain through R60-U0 would have 65 or more.',
          'a BOM joining a 32-level chain above and a 33-level one below: 54001');
SELECT is((SELECT count(*)::int FROM mrp.bom b WHERE b.product_id = (:'u'::bigint[])[1]), 0, 'and nothing is created');
SELECT lives_ok(format('SELECT mrp.create_bom(%s, 1, %L)', (:'u'::bigint[])[1],
                       jsonb_build_array(pg_temp.l((:'lo'::bigint[])[32], 1))),
                'joining them one level lower (64 levels) is accepted');

-- ============================================================ deeper data written directly
-- 1,000 levels as a superuser inserts them (or as 0.1.0 accepted them)
SELECT pg_temp.products(:b, 'D', 1000) AS d \gset
WITH boms AS (
    INSERT INTO mrp.bom (company_id, product_id, qty)
    SELECT :b, (:'d'::bigint[])[i + 1], 1 FROM generate_series(1, 1000) i RETURNING id, product_id)
INSERT INTO mrp.bom_line (company_id, bom_id, product_id, qty, uom, uom_qty)
SELECT :b, b.id, (:'d'::bigint[])[array_position(:'d'::bigint[], b.product_id) - 1], 1, 'Unit', 1 FROM boms b;
SELECT is(pg_temp.error_detail(format('SELECT * FROM mrp.explode_all(%s, 1)', (:'d'::bigint[])[1001])),
          '54001: Bills of materials are at most 64 levels deep.', 'explode_all of 1,000 levels: 54001, not 100 rows');
SELECT is(pg_temp.error_detail(format('SELECT * FROM mrp.bom_cost(%s)', (:'d'::bigint[])[1001])),
          '54001: Bills of materials are at most 64 levels deep.', 'bom_cost of 1,000 levels: 54001, not 0.00');
SELECT is(pg_temp.error_detail(format('SELECT mrp.update_standard_price(%s)', (:'d'::bigint[])[1001])),
          '54001: Bills of materials are at most 64 levels deep.', 'update_standard_price: 54001, nothing posted');
SELECT is((SELECT standard_price FROM stock.product WHERE id = (:'d'::bigint[])[1001]), 0::numeric, 'the price is unchanged');
SELECT is(pg_temp.error_detail(format('SELECT mrp.run(%s, %L, %L, 4)', :b, current_date, 'week')),
          '54001: Bills of materials and kits are planned up to 64 levels.', 'mrp.run over 1,000 levels: 54001');
SELECT is((SELECT max(level) FROM mrp.explode_all((:'d'::bigint[])[65], 1)), 64,
          'the same chain 64 levels from the bottom explodes whole');

-- ============================================================ kits
-- 50 nested kits K1 .. K50 (K1 made of the leaf), a product made of K50: 51 levels
SELECT pg_temp.products(:a1, 'K', 50) AS k \gset
SELECT is((pg_temp.chain(:'k', 'phantom')).created, 50, '50 nested kits are accepted');
SELECT stock.create_product(:a1, 'R60-KTOP', 'Top') AS top \gset
SELECT mrp.create_bom(:top, 1, jsonb_build_array(pg_temp.l((:'k'::bigint[])[51], 2))) \g /dev/null
SELECT results_eq(format('SELECT product_id, qty FROM mrp.explode(%s, 3)', :top),
                  format('VALUES (%s::bigint, 6::numeric)', (:'k'::bigint[])[1]),
                  'explode passes through the 50 kits to the leaf');
SELECT mrp.set_planning(:top, 'make', 0), mrp.set_planning((:'k'::bigint[])[1], 'buy', 0) \g /dev/null
SELECT mrp.add_demand(:top, 3, current_date + 14) \g /dev/null
SELECT lives_ok(format('SELECT mrp.run(%s, %L, %L, 4)', :a1, current_date, 'week'), 'mrp.run with 50 kit levels runs');
SELECT results_eq($$SELECT p.sku, o.qty FROM mrp.planned_order o JOIN stock.product p ON p.id = o.product_id
                     WHERE p.sku IN ('R60-KTOP', 'R60-K0') ORDER BY p.sku$$,
                  $$VALUES ('R60-K0'::text, 6::numeric), ('R60-KTOP', 3::numeric)$$,
                  'it plans the top and the leaf through 50 kits');

SELECT * FROM finish();
ROLLBACK;
