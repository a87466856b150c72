-- The housekeeping analyzes the pack's tables that outgrew their statistics (docs/stock.md,
-- "Bulk loads"): a load that posts thousands of moves in one procedure never lets autovacuum see
-- its rows, and the posting functions keep plans made on the empty tables.
-- erp._housekeeping() (the first job worker, every pgerp.housekeeping_interval) analyzes a table
-- of a pgerp* extension once its size is more than twice its size at the last analyze plus 64
-- pages, and says which in "analyzed".
BEGIN;
\ir ../setup.sql
SELECT plan(7);
SET LOCAL client_min_messages = error;

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'AG88') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset
SELECT stock.virtual_location(:a, 'supplier') AS sup \gset
SELECT stock.create_product(:a, 'AG88-P', 'Grown') AS p \gset
-- this transaction owns the chores: a background housekeeper skips them
UPDATE erp.housekeeping_chore SET last_run_at = now();

-- stock.move grown past twice its analyzed size plus 64 pages, in draft moves written directly
SELECT relpages AS pages_before FROM pg_class WHERE oid = 'stock.move'::regclass \gset
SELECT set_config('t.sup', :'sup', true), set_config('t.loc', :'loc', true) \g /dev/null
CREATE FUNCTION pg_temp.pages(r regclass) RETURNS bigint LANGUAGE sql AS
    $$ SELECT pg_relation_size(r) / current_setting('block_size')::bigint $$;
DO $$
DECLARE
    v_target bigint := 2 * greatest((SELECT relpages FROM pg_class WHERE oid = 'stock.move'::regclass), 0) + 64;
BEGIN
    FOR i IN 1 .. 200 LOOP
        EXIT WHEN pg_temp.pages('stock.move') >= v_target;
        INSERT INTO stock.move (company_id, product_id, qty, uom, uom_qty, location_id, location_dest_id, date, ref)
        SELECT p.company_id, p.id, 1, 'Unit', 1, current_setting('t.sup')::bigint, current_setting('t.loc')::bigint, now(),
               'AG88 draft ' || n
          FROM stock.product p, generate_series(1, 1000) n WHERE p.sku = 'AG88-P';
    END LOOP;
END $$;
SELECT ok(pg_temp.pages('stock.move') >= 2 * greatest(:pages_before, 0) + 64,
          'stock.move is more than twice its analyzed size plus 64 pages');
SELECT count(*) AS drafts FROM stock.move WHERE ref LIKE 'AG88 draft %' \gset

SELECT erp._housekeeping() AS hk \gset
SELECT ok(:'hk'::jsonb -> 'analyzed' ? 'stock.move', 'the housekeeping analyzed stock.move');
SELECT ok((SELECT relpages FROM pg_class WHERE oid = 'stock.move'::regclass) >= pg_temp.pages('stock.move') - 1,
          'its statistics now count its pages');
SELECT cmp_ok((SELECT reltuples FROM pg_class WHERE oid = 'stock.move'::regclass), '>=', (:drafts * 0.9)::real,
              'and its rows (this transaction''s own included)');
SELECT ok(NOT (erp._housekeeping() -> 'analyzed' ? 'stock.move'), 'the next turn leaves it alone: it has not grown');

-- what the plans of a posting see now: a lookup by (company_id, id) through an index on id (the
-- primary key or move_id_idx), not one on company_id alone, planned generic as the posting
-- functions keep it
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE ag88_lookup(bigint, bigint) AS UPDATE stock.move SET reserved_qty = 0 WHERE company_id = $1 AND id = $2;
CREATE FUNCTION pg_temp.plan_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_line text;
    v_plan text := '';
BEGIN
    FOR v_line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || p_sql LOOP
        v_plan := v_plan || v_line || E'\n';
    END LOOP;
    RETURN v_plan;
END $$;
SELECT matches(pg_temp.plan_of('EXECUTE ag88_lookup(1, 1)'), 'Index Scan using (move_pkey|move_id_idx) on move',
               'a generic update by (company_id, id) finds the row by its id');

SELECT ok(NOT has_function_privilege('pgerp_app', 'erp._analyze_grown()', 'EXECUTE'),
          'the application role may not run it');

SELECT * FROM finish();
ROLLBACK;
