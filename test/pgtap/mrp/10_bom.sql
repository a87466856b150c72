-- mrp bills of materials: kits (phantom at one and two levels), scrap, rounding up to the unit,
-- unit conversion, several BOMs, explode_all, cycles with their path, validation, permissions.
BEGIN;
\ir ../setup.sql
SELECT plan(65);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'BM10') AS wh \gset
SELECT stock.create_warehouse(:b, 'BM10-B') AS whb \gset
SELECT stock.create_product(:a, 'BM10-C1', 'Component 1') AS c1 \gset
SELECT stock.create_product(:a, 'BM10-C2', 'Component 2') AS c2 \gset
SELECT stock.create_product(:a, 'BM10-C3', 'Component 3') AS c3 \gset
SELECT stock.create_product(:a, 'BM10-KG', 'Powder', 'fifo', 0, 'kg') AS ckg \gset
SELECT stock.create_product(:a, 'BM10-K', 'Kit') AS kit \gset
SELECT stock.create_product(:a, 'BM10-K2', 'Kit of kits') AS kit2 \gset
SELECT stock.create_product(:a, 'BM10-F', 'Uses the kit') AS fin \gset
SELECT stock.create_product(:a, 'BM10-G', 'Uses the kit of kits') AS gg \gset
SELECT stock.create_product(:a, 'BM10-R', 'Rounded') AS rr \gset
SELECT stock.create_product(:a, 'BM10-R2', 'In grams') AS r2 \gset
SELECT stock.create_product(:a, 'BM10-E', 'Exact thirds') AS ee \gset
SELECT stock.create_product(:a, 'BM10-M', 'Two BOMs') AS mm \gset
SELECT stock.create_product(:a, 'BM10-T', 'Top') AS top \gset
SELECT stock.create_product(:a, 'BM10-SA', 'Sub-assembly') AS sa \gset
SELECT stock.create_product(:a, 'BM10-SB', 'Sub-sub-assembly') AS sb \gset
SELECT stock.create_product(:a, 'BM10-X', 'Validation') AS px \gset
SELECT stock.create_product(:b, 'BM10-BC', 'Component of B') AS cb \gset
SELECT stock.create_product(:b, 'BM10-BP', 'Product of B') AS pb \gset
SELECT mrp.create_workcenter(:a, 'BM10-WC', 30) AS wc \gset
SELECT mrp.create_workcenter(:b, 'BM10-WCB', 30) AS wcb \gset

-- the lines of a BOM as JSON: pg_temp.l(product, qty[, extra])
CREATE FUNCTION pg_temp.l(p bigint, q numeric, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('product', p, 'qty', q) || extra $$;
-- explode / explode_all by SKU, in a fixed order
CREATE FUNCTION pg_temp.exploded(p bigint, q numeric) RETURNS TABLE (sku text, qty numeric) LANGUAGE sql AS
    $$ SELECT pr.sku, e.qty FROM mrp.explode(p, q) e JOIN stock.product pr ON pr.id = e.product_id ORDER BY pr.sku $$;
CREATE FUNCTION pg_temp.tree(p bigint, q numeric) RETURNS TABLE (level int, parent text, sku text, qty numeric) LANGUAGE sql AS
    $$ SELECT e.level, pp.sku, pr.sku, e.qty FROM mrp.explode_all(p, q) e
         JOIN stock.product pr ON pr.id = e.product_id JOIN stock.product pp ON pp.id = e.parent_id
        ORDER BY 1, 2, 3 $$;

-- ------------------------------------------------------------ kits
-- K is made in batches of 2 with 3 of C2 per batch; F uses 10 of K and 2 of C1
SELECT mrp.create_bom(:kit, 2, jsonb_build_array(pg_temp.l(:c2, 3)), 'phantom') AS bom_k \gset
SELECT mrp.create_bom(:fin, 1, jsonb_build_array(pg_temp.l(:kit, 10), pg_temp.l(:c1, 2))) AS bom_f \gset
SELECT results_eq(format('SELECT product_id, qty, type, sequence, active FROM mrp.bom WHERE id = %s', :bom_k),
                  format($$VALUES (%s::bigint, 2::numeric, 'phantom'::text, 10, true)$$, :kit),
                  'the kit''s BOM: batch of 2, type phantom, sequence 10, active');
SELECT results_eq(format('SELECT product_id, qty, uom, uom_qty, scrap_pct FROM mrp.bom_line WHERE bom_id = %s', :bom_k),
                  format($$VALUES (%s::bigint, 3::numeric, 'Unit'::text, 3::numeric, 0::numeric)$$, :c2),
                  'its line: 3 of C2 in the component''s unit, no scrap');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :fin),
                  $$VALUES ('BM10-C1'::text, 2.00::numeric), ('BM10-C2', 15.00)$$,
                  'one F needs 10 of the kit K, that is 10 / 2 x 3 = 15 of C2, and 2 of C1');
SELECT is((SELECT count(*)::int FROM mrp.explode(:fin, 1) e WHERE e.product_id = :kit), 0,
          'the kit itself is not among the components consumed');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 3)', :fin),
                  $$VALUES ('BM10-C1'::text, 6.00::numeric), ('BM10-C2', 45.00)$$,
                  'three F: 6 of C1 and 45 of C2');

-- a kit of kits: K2 (phantom, batch 1) = 2 K + 1 C3; G uses 3 K2
SELECT mrp.create_bom(:kit2, 1, jsonb_build_array(pg_temp.l(:kit, 2), pg_temp.l(:c3, 1)), 'phantom') AS bom_k2 \gset
SELECT mrp.create_bom(:gg, 1, jsonb_build_array(pg_temp.l(:kit2, 3))) AS bom_g \gset
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 2)', :gg),
                  $$VALUES ('BM10-C2'::text, 18.00::numeric), ('BM10-C3', 6.00)$$,
                  'phantom at two levels: 2 G = 6 K2 = 12 K (18 of C2) and 6 of C3, neither kit left');

-- ------------------------------------------------------------ scrap and rounding up to the unit
-- R, batch of 3: 1 C1 (Unit, 0.01), 1 kg of powder (kg, 0.001), 2 C3 with 10 % scrap
SELECT mrp.create_bom(:rr, 3, jsonb_build_array(pg_temp.l(:c1, 1), pg_temp.l(:ckg, 1),
                                                pg_temp.l(:c3, 2, '{"scrap_pct": 10}'))) AS bom_r \gset
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :rr),
                  $$VALUES ('BM10-C1'::text, 0.34::numeric), ('BM10-C3', 0.74), ('BM10-KG', 0.334)$$,
                  'a third of a batch: 1/3 rounds up to 0.34 Unit and 0.334 kg, 2 x 1.1 / 3 = 0.7333 up to 0.74');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 30)', :rr),
                  $$VALUES ('BM10-C1'::text, 10.00::numeric), ('BM10-C3', 22.00), ('BM10-KG', 10.000)$$,
                  'ten batches: the scrapped line is 20 x 1.1 = 22, the others exact');
SELECT is((SELECT scrap_pct FROM mrp.bom_line WHERE bom_id = :bom_r AND product_id = :c3), 10::numeric,
          'the scrap percentage is stored on the line');
-- E, batch of 3 with 3 of C1: 2 of E need exactly 2 of C1 (not 2/3 rounded up then multiplied)
SELECT mrp.create_bom(:ee, 3, jsonb_build_array(pg_temp.l(:c1, 3))) AS bom_e \gset
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 2)', :ee),
                  $$VALUES ('BM10-C1'::text, 2.00::numeric)$$,
                  '2 of a batch of 3 using 3 of C1 need exactly 2.00 of C1');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :ee),
                  $$VALUES ('BM10-C1'::text, 1.00::numeric)$$,
                  '1 of a batch of 3 using 3 of C1 needs exactly 1.00 of C1');

-- a line given in grams for a component kept in kg
SELECT mrp.create_bom(:r2, 1, jsonb_build_array(pg_temp.l(:ckg, 250, '{"uom": "g"}'))) AS bom_r2 \gset
SELECT results_eq(format('SELECT qty, uom, uom_qty FROM mrp.bom_line WHERE bom_id = %s', :bom_r2),
                  $$VALUES (0.250::numeric, 'g'::text, 250::numeric)$$,
                  '250 g of a kg component is stored as 0.250 kg, with the unit and quantity as entered');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 3)', :r2),
                  $$VALUES ('BM10-KG'::text, 0.750::numeric)$$, 'three of it need 0.750 kg');

-- ------------------------------------------------------------ several BOMs for a product
SELECT mrp.create_bom(:mm, 1, jsonb_build_array(pg_temp.l(:c1, 1))) AS bom_m1 \gset
SELECT mrp.create_bom(:mm, 1, jsonb_build_array(pg_temp.l(:c2, 4))) AS bom_m2 \gset
SELECT is(ARRAY(SELECT sequence FROM mrp.bom WHERE product_id = :mm ORDER BY id), ARRAY[10, 20],
          'a second BOM of a product comes after the first (sequence 10, then 20)');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :mm), $$VALUES ('BM10-C1'::text, 1.00::numeric)$$,
                  'the first active BOM by sequence is used');
UPDATE mrp.bom SET active = false WHERE id = :bom_m1;
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :mm), $$VALUES ('BM10-C2'::text, 4.00::numeric)$$,
                  'the first one deactivated, the second is used');
UPDATE mrp.bom SET active = true, sequence = 30 WHERE id = :bom_m1;
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :mm), $$VALUES ('BM10-C2'::text, 4.00::numeric)$$,
                  'reactivated with sequence 30, it comes after the second');
SELECT mrp.create_bom(:mm, 1, jsonb_build_array(pg_temp.l(:c3, 1))) AS bom_m3 \gset
SELECT is((SELECT sequence FROM mrp.bom WHERE id = :bom_m3), 40, 'a third BOM gets the highest sequence plus 10');

-- ------------------------------------------------------------ explode_all: the whole tree
-- T (batch 1) = 2 SA + 4 K + 1 C1; SA (normal, batch 2) = 4 C3 + 1 SB; SB (normal, batch 1) = 2 C1
SELECT mrp.create_bom(:sb, 1, jsonb_build_array(pg_temp.l(:c1, 2))) AS bom_sb \gset
SELECT mrp.create_bom(:sa, 2, jsonb_build_array(pg_temp.l(:c3, 4), pg_temp.l(:sb, 1))) AS bom_sa \gset
SELECT mrp.create_bom(:top, 1, jsonb_build_array(pg_temp.l(:sa, 2), pg_temp.l(:kit, 4), pg_temp.l(:c1, 1))) AS bom_t \gset
SELECT results_eq(format('SELECT * FROM pg_temp.tree(%s, 1)', :top),
                  $$VALUES (1, 'BM10-T'::text, 'BM10-C1'::text, 1.00::numeric), (1, 'BM10-T', 'BM10-K', 4.00),
                           (1, 'BM10-T', 'BM10-SA', 2.00),
                           (2, 'BM10-K', 'BM10-C2', 6.00), (2, 'BM10-SA', 'BM10-C3', 4.00), (2, 'BM10-SA', 'BM10-SB', 1.00),
                           (3, 'BM10-SB', 'BM10-C1', 2.00)$$,
                  'explode_all: levels, parents and quantities of every node, sub-assemblies expanded with their own children');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :top),
                  $$VALUES ('BM10-C1'::text, 1.00::numeric), ('BM10-C2', 6.00), ('BM10-SA', 2.00)$$,
                  'explode keeps the sub-assembly (made by its own order) and replaces only the kit');
SELECT results_eq(format('SELECT * FROM pg_temp.tree(%s, 5)', :top),
                  $$VALUES (1, 'BM10-T'::text, 'BM10-C1'::text, 5.00::numeric), (1, 'BM10-T', 'BM10-K', 20.00),
                           (1, 'BM10-T', 'BM10-SA', 10.00),
                           (2, 'BM10-K', 'BM10-C2', 30.00), (2, 'BM10-SA', 'BM10-C3', 20.00), (2, 'BM10-SA', 'BM10-SB', 5.00),
                           (3, 'BM10-SB', 'BM10-C1', 10.00)$$,
                  'explode_all of 5: every quantity scaled');

SELECT throws_ok(format('SELECT * FROM mrp.explode(%s, 1)', :c1), '22023', 'product BM10-C1 has no bill of materials',
                 'exploding a product without BOM: 22023');
SELECT is(pg_temp.error_detail(format('SELECT * FROM mrp.explode(%s, 0)', :fin)), '22023: The quantity given is ''0''.',
          'exploding zero: 22023 with the quantity');
SELECT is(pg_temp.error_detail(format('SELECT * FROM mrp.explode_all(%s, -1)', :fin)), '22023: The quantity given is ''-1''.',
          'explode_all of a negative quantity: 22023 with the quantity');

-- ------------------------------------------------------------ cycles
SELECT stock.create_product(:a, 'CY-A', 'A') AS ya \gset
SELECT stock.create_product(:a, 'CY-B', 'B') AS yb \gset
SELECT stock.create_product(:a, 'CY-C', 'C') AS yc \gset
SELECT stock.create_product(:a, 'CY-D', 'D') AS yd \gset
SELECT stock.create_product(:a, 'CY-E', 'E') AS ye \gset
SELECT stock.create_product(:a, 'CY-S', 'Self') AS ys \gset
SELECT (SELECT count(*) FROM mrp.bom) AS boms0, (SELECT count(*) FROM mrp.bom_line) AS lines0 \gset
SELECT mrp.create_bom(:ya, 1, jsonb_build_array(pg_temp.l(:yb, 1)));
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :yb, jsonb_build_array(pg_temp.l(:ya, 1))),
                 '22023', 'bill of materials of CY-B would create a cycle', 'B using A when A uses B: refused (22023)');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :yb, jsonb_build_array(pg_temp.l(:ya, 1)))),
          '22023: The cycle is CY-B -> CY-A -> CY-B.', 'the detail shows the path from the new BOM''s product');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :ys, jsonb_build_array(pg_temp.l(:c1, 1), pg_temp.l(:ys, 1)))),
          '22023: The cycle is CY-S -> CY-S.', 'a product using itself: 22023, cycle S -> S');
SELECT mrp.create_bom(:yb, 1, jsonb_build_array(pg_temp.l(:yc, 1)));
SELECT mrp.create_bom(:yc, 1, jsonb_build_array(pg_temp.l(:c1, 1), pg_temp.l(:yd, 1)));
SELECT mrp.create_bom(:yd, 1, jsonb_build_array(pg_temp.l(:ye, 1)));
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :ye, jsonb_build_array(pg_temp.l(:c2, 1), pg_temp.l(:ya, 1)))),
          '22023: The cycle is CY-E -> CY-A -> CY-B -> CY-C -> CY-D -> CY-E.',
          'a cycle at depth 5 (A -> B -> C -> D -> E, then E uses A): 22023 with the whole path');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L, %L)', :ye, jsonb_build_array(pg_temp.l(:ya, 1)), 'phantom')),
          '22023: The cycle is CY-E -> CY-A -> CY-B -> CY-C -> CY-D -> CY-E.', 'a kit closing the cycle is refused just the same');
SELECT is(ARRAY[(SELECT count(*) FROM mrp.bom), (SELECT count(*) FROM mrp.bom_line)], ARRAY[:boms0 + 4, :lines0 + 5]::bigint[],
          'the refused BOMs wrote nothing: only the four accepted BOMs and their five lines exist');

-- ------------------------------------------------------------ validation
SELECT (SELECT count(*) FROM mrp.bom) AS boms1, (SELECT count(*) FROM mrp.bom_line) AS lines1,
       (SELECT count(*) FROM mrp.bom_byproduct) AS bps1, (SELECT count(*) FROM mrp.bom_operation) AS ops1 \gset
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 0, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)))),
          '22023: The quantity given is ''0''.', 'a BOM quantity of zero: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, -2, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)))),
          '22023: The quantity given is ''-2''.', 'a negative BOM quantity: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1), pg_temp.l(:c2, 0)))),
          '22023: The value given is ''0''.', 'a component quantity of zero: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:c1, -1))),
                 '22023', 'component quantity must be positive', 'a negative component quantity: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(jsonb_build_object('product', :c1))),
                 '22023', 'component quantity must be a number', 'a line without quantity: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L, %L, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal',
                                      jsonb_build_array(pg_temp.l(:c2, 0)))),
          '22023: The value given is ''0''.', 'a by-product quantity of zero: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L, %L, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal',
                        jsonb_build_array(pg_temp.l(:c2, -3))),
                 '22023', 'by-product quantity must be positive', 'a negative by-product quantity: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L, %L, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal',
                        jsonb_build_array(pg_temp.l(:px, 1))),
                 '22023', 'a product is not a by-product of itself', 'a product as its own by-product: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px, '[]')),
          '22023: Lines are a JSON array of {"product": id, "qty": n, "scrap_pct": x, "uom": "kg"}.',
          'no component line: 22023 explaining the lines');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, NULL)', :px), '22023', 'a bill of materials needs at least one component line',
                 'lines NULL: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'kit')),
          '22023: The types are normal and phantom (a kit).', 'an unknown type: 22023 naming the types');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1), pg_temp.l(:cb, 1)))),
          format('22023: The product belongs to company %s, not to company %s.', :b, :a),
          'a component of another company: 22023 naming both companies');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:cb, 1))),
                 '22023', 'component product BM10-BC belongs to another company', 'its message names the component');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L, %L, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal',
                                      jsonb_build_array(pg_temp.l(:cb, 1)))),
          format('22023: The product belongs to company %s, not to company %s.', :b, :a),
          'a by-product of another company: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l((SELECT max(id) + 1000 FROM stock.product), 1))),
                 '22023', format('product %s does not exist', (SELECT max(id) + 1000 FROM stock.product)), 'an unknown component: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px, '[{"product": 1.5, "qty": 1}]')),
          '22023: Got ''{"qty": 1, "product": 1.5}''.', 'a product id that is not an integer: 22023');
SELECT cmp_ok(length(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px,
                     jsonb_build_array(jsonb_build_object('product', repeat('x', 100000), 'qty', 1))))), '<=', 80,
              'a 100 kB component line is echoed cut to 64 characters (#11.17)');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L, %L, NULL, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal',
                        jsonb_build_array(jsonb_build_object('name', 'Cut', 'workcenter', (SELECT max(id) + 1000 FROM mrp.workcenter), 'minutes', 5))),
                 '22023', format('work center %s does not exist in company %s', (SELECT max(id) + 1000 FROM mrp.workcenter), :a),
                 'an unknown work center: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L, %L, NULL, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal',
                        jsonb_build_array(jsonb_build_object('name', 'Cut', 'workcenter', :wcb, 'minutes', 5))),
                 '22023', format('work center %s does not exist in company %s', :wcb, :a),
                 'a work center of another company: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L, %L, NULL, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal',
                        jsonb_build_array(jsonb_build_object('name', 'Cut', 'workcenter', :wc, 'minutes', -5))),
                 '22023', 'operation minutes must be zero or positive', 'negative minutes: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1, '{"scrap_pct": 100}')))),
          '22023: Got ''100''.', 'a scrap of 100 %: 22023');
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1, '{"uom": "kg"}')))),
          '22023: kg measures weight, Unit measures unit.', 'a line in a unit of another category: 22023');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:ckg, 0.001, '{"uom": "g"}'))),
                 '22023', 'a component quantity rounds to zero in its unit',
                 '0.001 g of a kg component rounds to zero: 22023');
SELECT is(ARRAY[(SELECT count(*) FROM mrp.bom), (SELECT count(*) FROM mrp.bom_line), (SELECT count(*) FROM mrp.bom_byproduct),
                (SELECT count(*) FROM mrp.bom_operation)],
          ARRAY[:boms1, :lines1, :bps1, :ops1]::bigint[], 'the refused BOMs wrote no BOM, line, by-product or operation');

-- an accepted BOM with by-products and operations
SELECT mrp.create_bom(:px, 4, jsonb_build_array(pg_temp.l(:c1, 1)), 'normal', jsonb_build_array(pg_temp.l(:c2, 0.5)),
                      jsonb_build_array(jsonb_build_object('name', 'Cut', 'workcenter', :wc, 'minutes', 12),
                                        jsonb_build_object('name', 'Check', 'workcenter', :wc, 'minutes', 0))) AS bom_x \gset
SELECT results_eq(format('SELECT sequence, name, workcenter_id, minutes FROM mrp.bom_operation WHERE bom_id = %s ORDER BY sequence', :bom_x),
                  format($$VALUES (10, 'Cut'::text, %s::bigint, 12::numeric), (20, 'Check', %s, 0)$$, :wc, :wc),
                  'operations are numbered 10, 20 in the order given; zero minutes is allowed');
SELECT results_eq(format('SELECT product_id, qty FROM mrp.bom_byproduct WHERE bom_id = %s', :bom_x),
                  format('VALUES (%s::bigint, 0.5::numeric)', :c2), 'the by-product and its quantity per batch');

-- ------------------------------------------------------------ permissions
SELECT pg_temp.make_user('bm10_stock', 'stock_user', :a) AS u_stock \gset
SELECT pg_temp.make_user('bm10_plan', 'mrp_planner', :a) AS u_plan \gset
SELECT pg_temp.make_user('bm10_plan2', 'mrp_planner', :a) AS u_plan2 \gset
SELECT erp.grant_role(:u_plan2, 'auditor', :b);
SELECT pg_temp.login('bm10_stock', :a);
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:c1, 1)))),
          format('42501: Permission "mrp.bom:create" is required on company %s.', :a),
          'a stock_user cannot create a BOM (42501)');
SELECT throws_ok(format('SELECT * FROM mrp.explode(%s, 1)', :fin), '42501', NULL, 'nor read one through explode (42501)');
SELECT pg_temp.login('bm10_plan', :a);
SELECT lives_ok(format('SELECT mrp.create_bom(%s, 2, %L)', :px, jsonb_build_array(pg_temp.l(:c3, 1))),
                'an mrp_planner of A creates a BOM in A');
SELECT results_eq(format('SELECT * FROM pg_temp.exploded(%s, 1)', :fin),
                  $$VALUES ('BM10-C1'::text, 2.00::numeric), ('BM10-C2', 15.00)$$, 'and explodes A''s BOMs');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :pb, jsonb_build_array(pg_temp.l(:cb, 1))),
                 '22023', format('product %s does not exist', :pb), 'a product of B does not exist for a planner of A');
SELECT throws_ok(format('SELECT mrp.create_bom(%s, 1, %L)', :px, jsonb_build_array(pg_temp.l(:cb, 1))),
                 '22023', format('product %s does not exist', :cb), 'nor may a component of B be used in A');
SELECT pg_temp.login('bm10_plan2', :b);
SELECT is(pg_temp.error_detail(format('SELECT mrp.create_bom(%s, 1, %L)', :pb, jsonb_build_array(pg_temp.l(:cb, 1)))),
          format('42501: Permission "mrp.bom:create" is required on company %s.', :b),
          'a planner of A who only reads B cannot create a BOM in B (42501)');
SELECT erp.sign_out();
SELECT is((SELECT count(*)::int FROM mrp.bom WHERE product_id = :px), 2, 'the planner''s BOM was stored, nothing in B');
SELECT is((SELECT count(*)::int FROM mrp.bom WHERE company_id = :b), 0, 'B has no BOM');

SELECT * FROM finish();
ROLLBACK;
