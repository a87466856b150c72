-- stock.valuation_report's direct scans and decimal fast path (#16 point 3):
-- the report's text (values and scales) equals the sum of the layers computed
-- by SQL's numeric sum(), / and round() for quantities and values of every
-- kind (integers, scales 0 to 18, a scale of 19, beyond int64, negative, sums
-- of zero, halves), at each price precision, with and without snapshots, for
-- stale and never-moved products, ids spread out, a lossy bitmap of the layers after T;
-- and a user's row security decides the lines
-- as before: the company policy (read directly) and a record rule (through SPI).
BEGIN;
\ir ../setup.sql
SELECT plan(19);
SET LOCAL client_min_messages = warning;

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'RN58') AS wh \gset

CREATE FUNCTION pg_temp.m(k int) RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - k * interval '1 month') AT TIME ZONE 'UTC'
$$;

-- the reference: every layer up to the date, summed by SQL, as text
CREATE FUNCTION pg_temp.ref(p_company bigint, p_at timestamptz)
RETURNS TABLE (product_id bigint, sku text, qty text, value text, unit_cost text) LANGUAGE sql AS $$
    SELECT p.id, p.sku, coalesce(sum(l.quantity), 0)::text, coalesce(sum(l.value), 0)::text,
           CASE WHEN coalesce(sum(l.quantity), 0) <> 0
                THEN round(sum(l.value) / sum(l.quantity), (SELECT c.price_precision FROM erp.company c WHERE c.id = p_company)) END::text
      FROM stock.product p
      LEFT JOIN stock.valuation_layer l ON l.company_id = p.company_id AND l.product_id = p.id
       AND (p_at IS NULL OR l.created_at <= p_at)
     WHERE p.company_id = p_company
     GROUP BY p.id, p.sku
     ORDER BY p.sku
$$;
CREATE FUNCTION pg_temp.report(p_company bigint, p_at timestamptz)
RETURNS TABLE (product_id bigint, sku text, qty text, value text, unit_cost text) LANGUAGE sql AS $$
    SELECT r.product_id, r.sku, r.qty::text, r.value::text, r.unit_cost::text FROM stock.valuation_report(p_company, p_at) r
$$;
-- the dates at which the report's text differs from the reference, in order ('' when none)
CREATE FUNCTION pg_temp.mismatches(p_company bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d timestamptz;
    v_bad text[] := '{}';
BEGIN
    FOR d IN SELECT pg_temp.m(k) + i FROM generate_series(0, 3) k,
                    unnest(ARRAY[interval '0', interval '-1 microsecond', interval '10 days']) i
             UNION ALL SELECT now() ORDER BY 1 LOOP
        IF (SELECT array_agg(r ORDER BY n) FROM pg_temp.report(p_company, d) WITH ORDINALITY r(a, b, c, e, f, n))
           IS DISTINCT FROM (SELECT array_agg(r ORDER BY n) FROM pg_temp.ref(p_company, d) WITH ORDINALITY r(a, b, c, e, f, n)) THEN
            v_bad := v_bad || d::text;
        END IF;
    END LOOP;
    RETURN array_to_string(v_bad, '; ');
END $$;

-- 60 products, 900 raw layers over three months and more, of every kind of numeric
SELECT count(stock.create_product(:a, 'RN-' || lpad(k::text, 2, '0'), 'Numeric ' || k)) FROM generate_series(1, 60) k;
CREATE TEMP TABLE p58 AS SELECT id, row_number() OVER (ORDER BY id) AS k FROM stock.product WHERE company_id = :a;
CREATE FUNCTION pg_temp.num(g int, salt int) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE (g * 7 + salt) % 12
        WHEN 0 THEN ((g * 13) % 17 - 8)::numeric                                  -- integers
        WHEN 1 THEN round(((g * 37) % 1000 - 400)::numeric / 1000, 3)              -- scale 3
        WHEN 2 THEN round(((g * 91) % 100000 - 30000)::numeric / 7, 7)             -- scale 7
        WHEN 3 THEN 1234567890123456::numeric * (g % 3 - 1)                        -- 16 digits
        WHEN 4 THEN 12345678901234567890123::numeric                               -- beyond int64
        WHEN 5 THEN round(((g * 53) % 999)::numeric / 997, 18)                     -- scale 18
        WHEN 6 THEN round(((g * 29) % 999)::numeric / 991, 19)                     -- scale 19
        WHEN 7 THEN 0.5
        WHEN 8 THEN -(g % 5)::numeric
        WHEN 9 THEN 2.50
        WHEN 10 THEN 0.125
        ELSE round(((g * 17) % 5000 - 2500)::numeric / 3, 2) END
$$;
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
SELECT :a, p.id, pg_temp.m(3) + g * interval '2 hours 15 minutes', pg_temp.num(g, 0), 0, pg_temp.num(g, g % 5), 'rn58'
  FROM generate_series(1, 900) g JOIN p58 p ON p.k = 1 + (g * 7) % 40;
-- halves at the precision (half away from zero), a sum of zero, products 51-60 never moved,
-- and two quotients 0.135 less 5.6e-22 and 6.1e-21: numeric_div rounds them at 20 decimals
-- (0.13500000000000000000 and 0.13499999999999999999), round(, 2) then gives 0.14 and 0.13
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
SELECT :a, p.id, pg_temp.m(2) + interval '3 days', v.q, 0, v.v, 'rn58 edge'
  FROM (VALUES (43, 9000000000000000163, 1215000000000000022), (44, 9000000000000000193, 1215000000000000026),
              (45, 3.5, 7), (46, 8, 1), (47, 8, -1), (48, 1, 0.125), (49, 1, -0.125), (50, 3, 1)) v(k, q, v) JOIN p58 p ON p.k = v.k;
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
SELECT :a, p.id, pg_temp.m(1) + interval '2 days', -sum(l.quantity), 0, 4, 'rn58 zero'
  FROM p58 p JOIN stock.valuation_layer l ON l.product_id = p.id WHERE p.k = 45 GROUP BY p.id;

SELECT ok((SELECT count(*) FROM stock.valuation_layer WHERE description LIKE 'rn58%') = 909, '909 layers');
SELECT is(pg_temp.mismatches(:a), '', 'without snapshots: the report''s text equals the layers'' sums at every date');

SELECT ok((stock.build_valuation_snapshots(:a) ->> 'snapshots')::int > 100, 'the snapshots are built');
SELECT is(pg_temp.mismatches(:a), '', 'with snapshots: the report''s text (values and scales) equals the layers'' sums at every date');
SELECT results_eq(format('SELECT * FROM pg_temp.report(%s, %L)', :a, pg_temp.m(1) + interval '10 days'),
                  format('SELECT * FROM pg_temp.ref(%s, %L)', :a, pg_temp.m(1) + interval '10 days'),
                  'mid-month, line by line');
SELECT is((SELECT array_agg(unit_cost ORDER BY sku) FROM pg_temp.report(:a, NULL) WHERE sku IN ('RN-43', 'RN-44', 'RN-46', 'RN-47', 'RN-48', 'RN-49')),
          '{0.14,0.13,0.13,-0.13,0.13,-0.13}', 'the unit costs of the quotients rounded twice, and of the halves (away from zero)');
SELECT is((SELECT count(*) FROM pg_temp.report(:a, NULL) WHERE unit_cost IS NULL AND sku = 'RN-45'), 1::bigint,
          'a product whose quantity sums to zero has no unit cost');
SELECT is((SELECT count(*) FROM pg_temp.report(:a, NULL) WHERE qty = '0' AND value = '0' AND unit_cost IS NULL AND sku > 'RN-50'), 10::bigint,
          'the ten products never moved: 0, 0, no unit cost');

-- every price precision
UPDATE erp.company SET price_precision = 0 WHERE id = :a;
SELECT is(pg_temp.mismatches(:a), '', 'price precision 0: the report''s text equals the layers'' sums');
UPDATE erp.company SET price_precision = 6 WHERE id = :a;
SELECT is(pg_temp.mismatches(:a), '', 'price precision 6: the report''s text equals the layers'' sums');
UPDATE erp.company SET price_precision = 2 WHERE id = :a;

-- a back-dated layer stales a product's snapshots: it takes the slow path among the others
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
SELECT :a, p.id, pg_temp.m(3) + interval '1 day', 0.0001, 0, 12345678901.123456789, 'rn58 late' FROM p58 p WHERE p.k = 7;
SELECT is(pg_temp.mismatches(:a), '', 'a stale product among snapshotted ones: the report''s text equals the layers'' sums');

-- a product id far from the others: the lines are found through a sorted index, not an array by id
INSERT INTO stock.product (company_id, id, sku, name) OVERRIDING SYSTEM VALUE VALUES (:a, 2000000000, 'RN-SPARSE', 'Far id');
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
VALUES (:a, 2000000000, pg_temp.m(2) + interval '1 day', 3, 0, 10, 'rn58 sparse'), (:a, 2000000000, pg_temp.m(1) + interval '1 day', 1, 0, 1.5, 'rn58 sparse');
SELECT is(pg_temp.mismatches(:a), '', 'ids spread out: the report''s text equals the layers'' sums');

-- a bitmap of the layers after T larger than work_mem turns lossy (whole pages): the rows of
-- the pages are checked again (company, dates); here with B's layers and A's later ones on the same pages
SELECT stock.create_product(:b, 'RN-B', 'Of B') AS pbb \gset
SELECT id AS p01 FROM p58 WHERE k = 1 \gset
INSERT INTO stock.valuation_layer (company_id, product_id, created_at, quantity, unit_cost, value, description)
SELECT CASE WHEN g % 3 = 0 THEN :b ELSE :a END, CASE WHEN g % 3 = 0 THEN :pbb ELSE :p01 END,
       pg_temp.m(0) + (g % 20) * interval '1 day', 1 + g % 4, 0, 2.5 * (g % 7), 'rn58 lossy ' || repeat('x', 400)
  FROM generate_series(1, 30000) g;
CREATE FUNCTION pg_temp.lossy_blocks(p_company bigint, p_at timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v json;
BEGIN
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_seqscan = off;
    EXECUTE format('EXPLAIN (ANALYZE, FORMAT JSON) SELECT l.product_id FROM stock.valuation_layer l
                     WHERE l.company_id = %s AND l.created_at >= %L AND l.created_at <= %L',
                   p_company, pg_temp.m(0), p_at) INTO v;
    RETURN (v -> 0 -> 'Plan' ->> 'Lossy Heap Blocks')::bigint;
END $$;
SET LOCAL work_mem = '64kB';
SELECT ok(pg_temp.lossy_blocks(:a, pg_temp.m(0) + interval '9 days') > 0, 'with work_mem 64kB the bitmap of the layers after T is lossy');
SELECT results_eq(format('SELECT * FROM pg_temp.report(%s, %L)', :a, pg_temp.m(0) + interval '9 days'),
                  format('SELECT * FROM pg_temp.ref(%s, %L)', :a, pg_temp.m(0) + interval '9 days'),
                  'a lossy bitmap: the report equals the layers'' sums, line by line');
RESET work_mem;

-- ------------------------------------------------------------ row security, as before
CREATE TEMP TABLE all58 AS SELECT * FROM pg_temp.report(:a, pg_temp.m(1) + interval '10 days');
GRANT SELECT ON all58 TO pgerp_app;
SELECT pg_temp.make_user('rn58_a', 'stock_manager', :a, false) \g /dev/null
SELECT pg_temp.make_user('rn58_b', 'stock_manager', :b, false) \g /dev/null
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('rn58_a');
SELECT results_eq(format('SELECT * FROM pg_temp.report(%s, %L)', :a, pg_temp.m(1) + interval '10 days'),
                  'SELECT * FROM all58', 'a user of A (company policy, read directly) gets the same lines as the superuser');
SELECT pg_temp.login('rn58_b');
SELECT is((SELECT count(*) FROM stock.valuation_report(:a, pg_temp.m(1) + interval '10 days')), 0::bigint,
          'a user of B gets no line of A''s report');
SELECT erp.sign_out();
RESET ROLE;

-- a record rule on the products (a restrictive policy): the statements run through SPI, under it
INSERT INTO erp.record_rule (table_name, using_expr, company_id) VALUES ('stock.product', $$sku <> 'RN-07'$$, :a);
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('rn58_a');
SELECT results_eq(format('SELECT * FROM pg_temp.report(%s, %L)', :a, pg_temp.m(1) + interval '10 days'),
                  $$SELECT * FROM all58 WHERE sku <> 'RN-07'$$, 'a record rule on the products hides its product from the report');
SELECT erp.sign_out();
RESET ROLE;
-- and on the layers: a user's report sums the layers it may read
SELECT sum(quantity) AS q50 FROM stock.valuation_layer l JOIN p58 p ON p.id = l.product_id WHERE p.k = 50 \gset
INSERT INTO erp.record_rule (table_name, using_expr, company_id) VALUES ('stock.valuation_layer', $$description <> 'rn58 edge'$$, :a);
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('rn58_a');
SELECT is((SELECT qty FROM pg_temp.report(:a, pg_temp.m(1) + interval '10 days') WHERE sku = 'RN-50'),
          (SELECT qty FROM all58 WHERE sku = 'RN-50'),
          'a record rule on layers before the snapshot leaves the snapshot''s figures');
SELECT is((SELECT qty::numeric FROM pg_temp.report(:a, now()) WHERE sku = 'RN-50'),
          :q50::numeric,
          'and the report now reads the snapshot and the layers after it');
SELECT erp.sign_out();
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
