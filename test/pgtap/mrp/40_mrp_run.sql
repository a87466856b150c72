-- MRP runs (mrp.run, src/mrp/run.c + netting.c): the issue's lot-for-lot case over four levels with
-- pegging and the MRP table; fixed lots with stock and scheduled receipts (a confirmed PO, a
-- confirmed MO) at two levels, lead times rounded up to buckets, expedite and cancel messages, an
-- item on two levels (low-level codes); safety stock and customer deliveries; past due
-- releases and demand dated before the start; kits passed through; minimum order, multiple and
-- unit rounding in daily buckets; a warehouse's own stock; a second run keeping firmed orders;
-- firm to grouped draft POs and confirmed MOs; errors and permissions; the mrp.run job.
-- Weeks are numbered from the start, Monday 2026-01-05: week n = (date - start) / 7 + 1.
BEGIN;
\ir ../setup.sql
SELECT plan(71);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'R40') AS wh \gset
SELECT stock.warehouse_location(:wh) AS loc \gset

-- week of a date, and the Monday of week n
CREATE FUNCTION pg_temp.wk(d date) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT (d - date '2026-01-05') / 7 + 1 $$;
CREATE FUNCTION pg_temp.w(n int) RETURNS date LANGUAGE sql IMMUTABLE AS $$ SELECT date '2026-01-05' + (n - 1) * 7 $$;
CREATE FUNCTION pg_temp.l(p bigint, q numeric, extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS
    $$ SELECT jsonb_build_object('product', p, 'qty', q) || extra $$;
-- the planned orders of the products whose SKU starts with a prefix, by SKU and due date
CREATE FUNCTION pg_temp.orders(p_prefix text)
RETURNS TABLE (sku text, kind text, qty numeric, release_week int, due_week int, past_due boolean)
LANGUAGE sql AS $$
    SELECT p.sku, o.kind, o.qty, pg_temp.wk(o.release_date), pg_temp.wk(o.due_date), o.past_due
      FROM mrp.planned_order o JOIN stock.product p ON p.company_id = o.company_id AND p.id = o.product_id
     WHERE p.sku LIKE p_prefix || '%' ORDER BY p.sku, o.due_date, o.id
$$;
-- the MRP table of a product in the last run of its company
CREATE FUNCTION pg_temp.mrp_table(p_product bigint)
RETURNS TABLE (bucket int, gross numeric, scheduled numeric, projected numeric, net numeric, receipt numeric, release numeric)
LANGUAGE sql AS $$
    SELECT r.bucket, r.gross, r.scheduled, r.projected, r.net, r.planned_receipt, r.planned_release
      FROM mrp.plan_record r WHERE r.product_id = p_product ORDER BY r.bucket
$$;
-- the messages of the products whose SKU starts with a prefix
CREATE FUNCTION pg_temp.messages(p_prefix text) RETURNS TABLE (sku text, kind text, detail text)
LANGUAGE sql AS $$
    SELECT p.sku, m.kind, m.detail FROM mrp.run_message m
      JOIN stock.product p ON p.company_id = m.company_id AND p.id = m.product_id
     WHERE p.sku LIKE p_prefix || '%' ORDER BY p.sku, m.kind, m.detail
$$;
CREATE FUNCTION pg_temp.order_id(p_product bigint, p_due date) RETURNS bigint LANGUAGE sql AS
    $$ SELECT id FROM mrp.planned_order WHERE product_id = p_product AND due_date = p_due AND firmed_ref IS NULL $$;

-- ============================================================ 1. the issue's lot-for-lot case
-- Z = 2 A + 3 B; A = 4 C + 4 D; D = 2 E. Lead times Z 2 weeks, A B C D 1, E 3. No stock; 59 Z due in week 10.
SELECT stock.create_product(:a, 'R40-1Z', 'Z') AS z \gset
SELECT stock.create_product(:a, 'R40-1A', 'A') AS pa \gset
SELECT stock.create_product(:a, 'R40-1B', 'B') AS pb \gset
SELECT stock.create_product(:a, 'R40-1C', 'C') AS pc \gset
SELECT stock.create_product(:a, 'R40-1D', 'D') AS pd \gset
SELECT stock.create_product(:a, 'R40-1E', 'E') AS pe \gset
SELECT mrp.create_bom(:z, 1, jsonb_build_array(pg_temp.l(:pa, 2), pg_temp.l(:pb, 3))) \g /dev/null
SELECT mrp.create_bom(:pa, 1, jsonb_build_array(pg_temp.l(:pc, 4), pg_temp.l(:pd, 4))) \g /dev/null
SELECT mrp.create_bom(:pd, 1, jsonb_build_array(pg_temp.l(:pe, 2))) \g /dev/null
SELECT mrp.set_planning(:z, 'make', 14), mrp.set_planning(:pa, 'make', 7), mrp.set_planning(:pb, 'buy', 7),
       mrp.set_planning(:pc, 'buy', 7), mrp.set_planning(:pd, 'make', 7), mrp.set_planning(:pe, 'buy', 21) \g /dev/null
-- due on the Thursday of week 10
SELECT mrp.add_demand(:z, 59, pg_temp.w(10) + 3, 'SO-59') AS dz \gset
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run1 \gset

SELECT results_eq($$SELECT sku, qty, release_week FROM pg_temp.orders('R40-1') ORDER BY release_week DESC, sku$$,
                  $$VALUES ('R40-1Z'::text, 59::numeric, 8), ('R40-1A', 118, 7), ('R40-1B', 177, 7),
                           ('R40-1C', 472, 6), ('R40-1D', 472, 6), ('R40-1E', 944, 3)$$,
                  'the issue''s case: Z 59 released in week 8, A 118 and B 177 in 7, C 472 and D 472 in 6, E 944 in 3');
SELECT results_eq($$SELECT sku, kind, due_week, past_due FROM pg_temp.orders('R40-1')$$,
                  $$VALUES ('R40-1A'::text, 'make'::text, 8, false), ('R40-1B', 'buy', 8, false), ('R40-1C', 'buy', 7, false),
                           ('R40-1D', 'make', 7, false), ('R40-1E', 'buy', 6, false), ('R40-1Z', 'make', 10, false)$$,
                  'made items give make orders, bought ones buy orders, each due when its parent is released');
SELECT results_eq(format($$SELECT release_date, due_date FROM mrp.planned_order WHERE product_id = %s$$, :z),
                  $$VALUES ('2026-02-23'::date, '2026-03-09'::date)$$,
                  'Z: due at the start of week 10 (where the Thursday demand falls), released 2 weeks earlier');
SELECT results_eq(format($$SELECT p.sku, g.demand_ref, g.qty FROM mrp.pegging g
                            JOIN mrp.planned_order o ON o.id = g.planned_order_id
                            JOIN stock.product p ON p.id = o.product_id
                           WHERE g.run_id = %s AND p.sku LIKE 'R40-1%%' ORDER BY p.sku$$, :run1),
                  format($$VALUES ('R40-1A'::text, 'planned order %1$s'::text, 118::numeric), ('R40-1B', 'planned order %1$s', 177),
                                  ('R40-1C', 'planned order %2$s', 472), ('R40-1D', 'planned order %2$s', 472),
                                  ('R40-1E', 'planned order %3$s', 944), ('R40-1Z', 'SO-59', 59)$$,
                         (SELECT id FROM mrp.planned_order WHERE product_id = :z),
                         (SELECT id FROM mrp.planned_order WHERE product_id = :pa),
                         (SELECT id FROM mrp.planned_order WHERE product_id = :pd)),
                  'pegging: Z to the sales order, A and B to Z''s order, C and D to A''s, E to D''s');
SELECT results_eq(format('SELECT bucket, bucket_start, gross, scheduled, projected, net, planned_receipt, planned_release FROM mrp.plan_record WHERE run_id = %s AND product_id = %s ORDER BY bucket', :run1, :z),
                  $$VALUES (8, '2026-02-23'::date, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 59::numeric),
                           (10, '2026-03-09', 59, 0, 0, 59, 59, 0)$$,
                  'the MRP table of Z: the release in bucket 8, the gross requirement, net and receipt in bucket 10');
SELECT results_eq(format('SELECT * FROM pg_temp.mrp_table(%s)', :pe),
                  $$VALUES (3, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 944::numeric), (6, 944, 0, 0, 944, 944, 0)$$,
                  'the MRP table of E: 944 needed in bucket 6 (D''s release), released in bucket 3');
SELECT results_eq($$SELECT sku, kind FROM pg_temp.messages('R40-1')$$,
                  $$VALUES ('R40-1B'::text, 'no_supplier'::text), ('R40-1C', 'no_supplier'), ('R40-1E', 'no_supplier')$$,
                  'the bought items without supplier are reported (no_supplier), nothing else');
SELECT results_eq(format('SELECT company_id, start_date, bucket, horizon, warehouse_id, planned_orders, finished_at IS NOT NULL FROM mrp.mrp_run WHERE id = %s', :run1),
                  format($$VALUES (%s::bigint, '2026-01-05'::date, 'week'::text, 12, NULL::bigint, (SELECT count(*)::int FROM mrp.planned_order WHERE run_id = %s), true)$$, :a, :run1),
                  'the run records its parameters and the number of planned orders');

-- ============================================================ 2. fixed lots, stock and scheduled receipts at two levels
-- P (made, 1 week, lots of 50) = 2 Q (bought from VQ at 2.50 in 10 days -> 2 weeks, lots of 100).
-- On hand P 30, Q 50. A confirmed MO of 20 P due in week 2 (receipt of P, 40 Q needed in week 2);
-- a confirmed PO of 100 Q arriving in week 5. P needed: 60 in week 4, 130 in week 7, 25 in week 9.
SELECT stock.create_product(:a, 'R40-2P', 'P') AS p \gset
SELECT stock.create_product(:a, 'R40-2Q', 'Q') AS q \gset
SELECT erp.create_partner(:a, 'r40 VQ', 'vendor') AS vq \gset
SELECT purchase.add_supplier(:q, :vq, 2.5, 10) \g /dev/null
SELECT mrp.create_bom(:p, 1, jsonb_build_array(pg_temp.l(:q, 2))) \g /dev/null
SELECT mrp.set_planning(:p, 'make', 7, 'fixed', 50), mrp.set_planning(:q, 'buy', NULL, 'fixed', 100) \g /dev/null
SELECT stock.receive(:p, 30, 1, :wh, 'R40-2P'), stock.receive(:q, 50, 1, :wh, 'R40-2Q') \g /dev/null
SELECT mrp.create_mo(:p, 20, '2026-01-13 12:00:00+00') AS mo_p \gset
SELECT mrp.confirm_mo(:mo_p) \g /dev/null
SELECT purchase.create_order(:vq, jsonb_build_array(pg_temp.l(:q, 100)), '2026-02-04 12:00:00+00', :wh) AS po_q \gset
SELECT purchase.confirm(:po_q) \g /dev/null
SELECT mrp.add_demand(:p, 60, '2026-01-29'), mrp.add_demand(:p, 130, '2026-02-16'), mrp.add_demand(:p, 25, '2026-03-06') \g /dev/null
-- U: 5 on hand, a confirmed PO of 10 in week 3, 4 needed in week 6: the PO is not needed
SELECT stock.create_product(:a, 'R40-2U', 'U') AS u \gset
SELECT purchase.add_supplier(:u, :vq, 1, 7) \g /dev/null
SELECT stock.receive(:u, 5, 1, :wh, 'R40-2U') \g /dev/null
SELECT purchase.create_order(:vq, jsonb_build_array(pg_temp.l(:u, 10)), '2026-01-20 12:00:00+00', :wh) AS po_u \gset
SELECT purchase.confirm(:po_u) \g /dev/null
SELECT mrp.add_demand(:u, 4, '2026-02-10') \g /dev/null
-- low-level codes: T (1 week) = 1 TU + 2 TV, TU (1 week) = 1 TV; TV (bought in 1 week) is on two levels.
-- Made in reverse order, so that product ids do not give the planning order. 10 T needed in week 5.
SELECT stock.create_product(:a, 'R40-2TV', 'TV') AS tv \gset
SELECT stock.create_product(:a, 'R40-2TU', 'TU') AS tu \gset
SELECT stock.create_product(:a, 'R40-2T', 'T') AS t \gset
SELECT mrp.create_bom(:tu, 1, jsonb_build_array(pg_temp.l(:tv, 1))) \g /dev/null
SELECT mrp.create_bom(:t, 1, jsonb_build_array(pg_temp.l(:tu, 1), pg_temp.l(:tv, 2))) \g /dev/null
SELECT mrp.set_planning(:t, 'make', 7), mrp.set_planning(:tu, 'make', 7), mrp.set_planning(:tv, 'buy', 7) \g /dev/null
SELECT mrp.add_demand(:t, 10, '2026-02-02') \g /dev/null
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run2 \gset

-- P: 30 + 20 (MO) - 60 = -10 -> 50; 40 - 130 = -90 -> 100; 10 - 25 = -15 -> 50
SELECT results_eq($$SELECT sku, kind, qty, release_week, due_week FROM pg_temp.orders('R40-2P')$$,
                  $$VALUES ('R40-2P'::text, 'make'::text, 50::numeric, 3, 4), ('R40-2P', 'make', 100, 6, 7), ('R40-2P', 'make', 50, 8, 9)$$,
                  'P: the MO''s 20 and the 30 on hand cover part of week 4; fixed lots of 50: 50, 100 (two lots for 90), 50');
SELECT results_eq(format('SELECT * FROM pg_temp.mrp_table(%s)', :p),
                  $$VALUES (1, 0::numeric, 0::numeric, 30::numeric, 0::numeric, 0::numeric, 0::numeric),
                           (2, 0, 20, 50, 0, 0, 0), (3, 0, 0, 50, 0, 0, 50), (4, 60, 0, 40, 10, 50, 0),
                           (6, 0, 0, 40, 0, 0, 100), (7, 130, 0, 10, 90, 100, 0), (8, 0, 0, 10, 0, 0, 50), (9, 25, 0, 35, 15, 50, 0)$$,
                  'the MRP table of P: on hand 30, the MO as scheduled receipt, nets 10, 90, 15 lot-sized to 50, 100, 50');
-- Q: 50 - 40 (the MO's components, needed when it starts: due week 2 less P's week of lead time) = 10;
-- - 100 = -90 -> 100; + 100 (PO) = 110; - 200 = -90 -> 100; - 100 = -90 -> 100
SELECT results_eq(format('SELECT * FROM pg_temp.mrp_table(%s)', :q),
                  $$VALUES (1, 40::numeric, 0::numeric, 10::numeric, 0::numeric, 0::numeric, 100::numeric),
                           (3, 100, 0, 10, 90, 100, 0), (4, 0, 0, 10, 0, 0, 100),
                           (5, 0, 100, 110, 0, 0, 0), (6, 200, 0, 10, 90, 100, 100), (8, 100, 0, 10, 90, 100, 0)$$,
                  'the MRP table of Q: the MO''s component move as requirement, P''s releases x 2, the PO as scheduled receipt');
SELECT results_eq($$SELECT sku, kind, qty, release_week, due_week FROM pg_temp.orders('R40-2Q')$$,
                  $$VALUES ('R40-2Q'::text, 'buy'::text, 100::numeric, 1, 3), ('R40-2Q', 'buy', 100, 4, 6), ('R40-2Q', 'buy', 100, 6, 8)$$,
                  'Q: three lots of 100, released 2 weeks ahead (the supplier''s 10 days rounded up to whole weeks)');
SELECT is(ARRAY(SELECT DISTINCT vendor_id FROM mrp.planned_order WHERE product_id = :q), ARRAY[:vq]::bigint[],
          'Q''s orders name its supplier');
SELECT results_eq($$SELECT sku, kind, detail FROM pg_temp.messages('R40-2Q')$$,
                  $$VALUES ('R40-2Q'::text, 'expedite'::text, 'A scheduled receipt in bucket 5 is needed in bucket 3.'::text)$$,
                  'the PO arriving in week 5 would cover week 3 if expedited: expedite');
SELECT is_empty($$SELECT * FROM pg_temp.messages('R40-2P')$$,
                'no message for P: without the MO''s 20, week 7 would end at -10 with the same orders, so the MO is needed (no cancel)');
SELECT results_eq(format($$SELECT g.demand_ref, g.qty FROM mrp.pegging g JOIN mrp.planned_order o ON o.id = g.planned_order_id
                           WHERE o.product_id = %s ORDER BY o.due_date$$, :q),
                  format($$VALUES ('planned order %s'::text, 100::numeric), ('planned order %s', 100), ('planned order %s', 100)$$,
                         (SELECT id FROM mrp.planned_order WHERE product_id = :p AND due_date = pg_temp.w(4)),
                         (SELECT id FROM mrp.planned_order WHERE product_id = :p AND due_date = pg_temp.w(7)),
                         (SELECT id FROM mrp.planned_order WHERE product_id = :p AND due_date = pg_temp.w(9))),
                  'each Q order pegs to the P order released in its due week');
SELECT results_eq($$SELECT sku, kind, detail FROM pg_temp.messages('R40-2U')$$,
                  $$VALUES ('R40-2U'::text, 'cancel'::text, 'The scheduled receipts (10) are not needed within the horizon.'::text)$$,
                  'U: 5 on hand cover the 4 needed; the PO of 10 is reported for cancelling');
SELECT is((SELECT count(*)::int FROM mrp.planned_order WHERE product_id = :u), 0, 'and U gets no planned order');
SELECT results_eq($$SELECT sku, qty, release_week, due_week FROM pg_temp.orders('R40-2T')$$,
                  $$VALUES ('R40-2T'::text, 10::numeric, 4, 5), ('R40-2TU', 10, 3, 4), ('R40-2TV', 10, 2, 3), ('R40-2TV', 20, 3, 4)$$,
                  'an item on two levels is planned after all its parents: TV gets TU''s 10 in week 3 and T''s 20 in week 4');

-- ============================================================ 3. safety stock
-- S: bought in 1 week, safety stock 10, 15 on hand; needs 20 in week 3 and 8 in week 5.
SELECT stock.create_product(:a, 'R40-3S', 'S') AS s \gset
SELECT mrp.set_planning(:s, 'buy', 7, 'l4l', NULL, 10) \g /dev/null
SELECT stock.receive(:s, 15, 1, :wh, 'R40-3S') \g /dev/null
SELECT mrp.add_demand(:s, 20, '2026-01-21'), mrp.add_demand(:s, 8, '2026-02-02') \g /dev/null
-- a confirmed delivery of 5 in week 6 is a requirement; a draft one of 100 is not; nor is demand beyond the horizon
SELECT stock.virtual_location(:a, 'customer') AS cust \gset
SELECT stock.create_move(:s, 5, :loc, :cust, NULL, '2026-02-12 09:00:00+00', 'DEL-5') AS del5 \gset
SELECT stock.confirm(:del5) \g /dev/null
SELECT stock.create_move(:s, 100, :loc, :cust, NULL, '2026-02-12 09:00:00+00', 'DEL-DRAFT') \g /dev/null
SELECT mrp.add_demand(:s, 50, pg_temp.w(13)) \g /dev/null
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run3 \gset
SELECT results_eq($$SELECT sku, qty, release_week, due_week FROM pg_temp.orders('R40-3')$$,
                  $$VALUES ('R40-3S'::text, 15::numeric, 2, 3), ('R40-3S', 8, 4, 5), ('R40-3S', 5, 5, 6)$$,
                  'safety stock: 15 in week 3 (15 - 20 back up to 10), 8 in week 5 (10 - 8), 5 in week 6 (the delivery)');
SELECT results_eq(format('SELECT * FROM pg_temp.mrp_table(%s)', :s),
                  $$VALUES (1, 0::numeric, 0::numeric, 15::numeric, 0::numeric, 0::numeric, 0::numeric),
                           (2, 0, 0, 15, 0, 0, 15), (3, 20, 0, 10, 15, 15, 0), (4, 0, 0, 10, 0, 0, 8), (5, 8, 0, 10, 8, 8, 5),
                           (6, 5, 0, 10, 5, 5, 0)$$,
                  'the projection never goes below the safety stock of 10; the draft delivery and week 13 do not count');
SELECT results_eq(format('SELECT g.demand_ref, g.qty FROM mrp.pegging g JOIN mrp.planned_order o ON o.id = g.planned_order_id WHERE o.product_id = %s AND o.due_date = %L', :s, pg_temp.w(6)),
                  $$VALUES ('DEL-5'::text, 5::numeric)$$, 'the week 6 order pegs to the delivery''s reference');

-- ============================================================ 4. past due
-- PD: bought in 3 weeks; 4 needed before the start (2025-12-20), 10 in week 2, 6 in week 6;
-- an overdue PO of 3 (planned 2025-12-28) still to come.
SELECT stock.create_product(:a, 'R40-4PD', 'Past due') AS pdue \gset
SELECT mrp.set_planning(:pdue, 'buy', 21) \g /dev/null
SELECT erp.create_partner(:a, 'r40 VPD', 'vendor') AS vpd \gset
SELECT purchase.create_order(:vpd, jsonb_build_array(pg_temp.l(:pdue, 3, '{"price": 1}')), '2025-12-28 12:00:00+00', :wh) AS po_pd \gset
SELECT purchase.confirm(:po_pd) \g /dev/null
SELECT mrp.add_demand(:pdue, 4, '2025-12-20', 'OLD-4'), mrp.add_demand(:pdue, 10, '2026-01-13'), mrp.add_demand(:pdue, 6, '2026-02-11') \g /dev/null
-- PM (made in 2 weeks) = 3 PC (bought, no lead time): 5 PM needed in week 2
SELECT stock.create_product(:a, 'R40-4PM', 'Past due parent') AS pm \gset
SELECT stock.create_product(:a, 'R40-4PMC', 'Its component') AS pmc \gset
SELECT mrp.create_bom(:pm, 1, jsonb_build_array(pg_temp.l(:pmc, 3))) \g /dev/null
SELECT mrp.set_planning(:pm, 'make', 14), mrp.set_planning(:pmc, 'buy', 0) \g /dev/null
SELECT mrp.add_demand(:pm, 5, '2026-01-14') \g /dev/null
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run4 \gset
SELECT results_eq(format('SELECT qty, release_date, due_date, past_due FROM mrp.planned_order WHERE product_id = %s ORDER BY due_date', :pdue),
                  $$VALUES (1::numeric, '2025-12-15'::date, '2026-01-05'::date, true), (10, '2025-12-22', '2026-01-12', true),
                           (6, '2026-01-19', '2026-02-09', false)$$,
                  'past due: demand and the PO dated before the start count in week 1 (4 - 3); releases 3 weeks before weeks 1 and 2 fall before the start and are kept, flagged past due');
SELECT results_eq($$SELECT sku, kind, detail FROM pg_temp.messages('R40-4PD')$$,
                  $$VALUES ('R40-4PD'::text, 'no_supplier'::text, 'The item is bought but has no active supplier.'::text),
                           ('R40-4PD', 'past_due', 'A planned order due in bucket 1 should have been released 3 bucket(s) before the start.'),
                           ('R40-4PD', 'past_due', 'A planned order due in bucket 2 should have been released 2 bucket(s) before the start.')$$,
                  'one past_due message per late order');
SELECT results_eq(format('SELECT * FROM pg_temp.mrp_table(%s) WHERE bucket <= 2', :pdue),
                  $$VALUES (1, 4::numeric, 3::numeric, 0::numeric, 1::numeric, 1::numeric, 11::numeric), (2, 10, 0, 0, 10, 10, 0)$$,
                  'the MRP table shows both late releases in bucket 1');
SELECT results_eq(format('SELECT g.demand_ref, g.qty FROM mrp.pegging g JOIN mrp.planned_order o ON o.id = g.planned_order_id WHERE o.product_id = %s AND o.due_date = %L', :pdue, '2026-01-05'),
                  $$VALUES ('OLD-4'::text, 1::numeric)$$, 'the week 1 order pegs to the old demand');
SELECT results_eq($$SELECT sku, qty, release_week, due_week, past_due FROM pg_temp.orders('R40-4PM')$$,
                  $$VALUES ('R40-4PM'::text, 5::numeric, 0, 2, true), ('R40-4PMC', 15, 1, 1, false)$$,
                  'a past due parent: its component is needed in bucket 1 (15 PC due and released in week 1, not past due)');

-- ============================================================ 5. kits
-- F (batch 2, made in 1 week) = 4 K + 1 X (10 % scrap); K is a kit (batch 2) = 3 Y. 10 F needed in week 4.
SELECT stock.create_product(:a, 'R40-5F', 'F') AS f \gset
SELECT stock.create_product(:a, 'R40-5K', 'Kit') AS k \gset
SELECT stock.create_product(:a, 'R40-5X', 'X') AS x \gset
SELECT stock.create_product(:a, 'R40-5Y', 'Y') AS y \gset
SELECT mrp.create_bom(:k, 2, jsonb_build_array(pg_temp.l(:y, 3)), 'phantom') \g /dev/null
SELECT mrp.create_bom(:f, 2, jsonb_build_array(pg_temp.l(:k, 4), pg_temp.l(:x, 1, '{"scrap_pct": 10}'))) \g /dev/null
SELECT mrp.set_planning(:f, 'make', 7), mrp.set_planning(:x, 'buy', 0), mrp.set_planning(:y, 'buy', 7) \g /dev/null
SELECT mrp.add_demand(:f, 10, '2026-01-26') \g /dev/null
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run5 \gset
-- K: 10 x 4 / 2 = 20; Y: 20 x 3 / 2 = 30; X: 10 x 1 x 1.1 / 2 = 5.5
SELECT results_eq($$SELECT sku, kind, qty, release_week, due_week FROM pg_temp.orders('R40-5')$$,
                  $$VALUES ('R40-5F'::text, 'make'::text, 10::numeric, 3, 4), ('R40-5X', 'buy', 5.5, 3, 3), ('R40-5Y', 'buy', 30, 2, 3)$$,
                  'a kit passes through: no order for K; Y gets 10 F x 4 K / 2 x 3 Y / 2 = 30; X 10 x 1.1 / 2 = 5.5 with its scrap');
SELECT is((SELECT count(*)::int FROM mrp.plan_record WHERE product_id = :k), 0, 'the kit has no MRP table');
SELECT results_eq(format('SELECT g.demand_ref, g.qty FROM mrp.pegging g JOIN mrp.planned_order o ON o.id = g.planned_order_id WHERE o.product_id = %s', :y),
                  format($$VALUES ('planned order %s'::text, 30::numeric)$$, (SELECT id FROM mrp.planned_order WHERE product_id = :f)),
                  'Y pegs straight to F''s order');
-- the kit sold on its own: 4 K in week 6 are 6 Y
SELECT mrp.add_demand(:k, 4, '2026-02-09', 'KIT-4') \g /dev/null
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run5b \gset
SELECT results_eq($$SELECT sku, qty, release_week, due_week FROM pg_temp.orders('R40-5Y')$$,
                  $$VALUES ('R40-5Y'::text, 30::numeric, 2, 3), ('R40-5Y', 6, 5, 6)$$,
                  'demand for a kit itself passes to its components: 4 K in week 6 are 6 Y');

-- ============================================================ 6. minimum order, multiple, rounding: daily buckets
-- M1: bought in 3 days, minimum 25, multiple 10: 7 on Jan 9, 30 on Jan 14, 20 on Jan 16.
-- M2: bought in 2 days, lots of 6, multiple 4: 5 on Jan 7. M3: l4l, 2.341 units on Jan 8.
SELECT stock.create_product(:a, 'R40-6M1', 'M1') AS m1 \gset
SELECT stock.create_product(:a, 'R40-6M2', 'M2') AS m2 \gset
SELECT stock.create_product(:a, 'R40-6M3', 'M3') AS m3 \gset
SELECT mrp.set_planning(:m1, 'buy', 3, 'l4l', NULL, 0, 25, 10), mrp.set_planning(:m2, 'buy', 2, 'fixed', 6, 0, 0, 4),
       mrp.set_planning(:m3, 'buy', 1) \g /dev/null
SELECT mrp.add_demand(:m1, 7, '2026-01-09'), mrp.add_demand(:m1, 30, '2026-01-14'), mrp.add_demand(:m1, 20, '2026-01-16'),
       mrp.add_demand(:m2, 5, '2026-01-07'), mrp.add_demand(:m3, 2.341, '2026-01-08') \g /dev/null
SELECT mrp.run(:a, '2026-01-05', 'day', 30) AS run6 \gset
SELECT results_eq($$SELECT p.sku, o.qty, o.release_date, o.due_date, o.past_due FROM mrp.planned_order o JOIN stock.product p ON p.id = o.product_id
                     WHERE p.sku LIKE 'R40-6%' ORDER BY p.sku, o.due_date$$,
                  $$VALUES ('R40-6M1'::text, 30::numeric, '2026-01-06'::date, '2026-01-09'::date, false),
                           ('R40-6M1', 30, '2026-01-11', '2026-01-14', false),
                           ('R40-6M2', 8, '2026-01-05', '2026-01-07', false),
                           ('R40-6M3', 2.35, '2026-01-07', '2026-01-08', false)$$,
                  'daily buckets: M1 7 -> minimum 25 -> multiple 30, then 23 - 30 -> 30, then 23 covers 20; M2 5 -> lot 6 -> multiple 8; M3 2.341 rounded up to the unit''s 0.01; released lead days earlier');
SELECT results_eq(format('SELECT * FROM pg_temp.mrp_table(%s)', :m1),
                  $$VALUES (2, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 30::numeric), (5, 7, 0, 23, 7, 30, 0),
                           (7, 0, 0, 23, 0, 0, 30), (10, 30, 0, 23, 7, 30, 0), (12, 20, 0, 3, 0, 0, 0)$$,
                  'the MRP table of M1 in days: nets of 7, receipts of 30, 3 left');
SELECT results_eq(format('SELECT bucket, bucket_start FROM mrp.plan_record WHERE run_id = %s AND product_id = %s ORDER BY bucket', :run6, :m2),
                  $$VALUES (1, '2026-01-05'::date), (3, '2026-01-07')$$, 'daily buckets start a day apart');

-- ============================================================ a warehouse's own stock
-- company B: two warehouses; W: 10 in B1, 3 in B2, 8 needed in week 2
SELECT stock.create_warehouse(:b, 'R40-B1') AS whb1 \gset
SELECT stock.create_warehouse(:b, 'R40-B2') AS whb2 \gset
SELECT stock.create_product(:b, 'R40-W', 'W') AS pw \gset
SELECT erp.create_partner(:b, 'r40 VW', 'vendor') AS vw \gset
SELECT purchase.add_supplier(:pw, :vw, 1, 7) \g /dev/null
SELECT stock.receive(:pw, 10, 1, :whb1), stock.receive(:pw, 3, 1, :whb2) \g /dev/null
SELECT mrp.add_demand(:pw, 8, '2026-01-14') \g /dev/null
SELECT mrp.run(:b, '2026-01-05', 'week', 12) AS runb \gset
SELECT is((SELECT count(*)::int FROM mrp.planned_order WHERE run_id = :runb), 0, 'the whole company: 13 on hand cover 8');
SELECT mrp.run(:b, '2026-01-05', 'week', 12, :whb2) AS runb2 \gset
SELECT results_eq(format('SELECT qty, due_date, vendor_id FROM mrp.planned_order WHERE run_id = %s', :runb2),
                  format($$VALUES (5::numeric, '2026-01-12'::date, %s::bigint)$$, :vw),
                  'warehouse B2 only: its 3 on hand leave 5 to buy');
SELECT is(pg_temp.error_message(format('SELECT mrp.firm(%s)', (SELECT id FROM mrp.planned_order WHERE run_id = :runb2))), 'no error',
          'the order of a warehouse run is firmed although the company has two warehouses');
SELECT results_eq(format($$SELECT o.location_id, l.qty FROM purchase.order o JOIN purchase.order_line l ON l.order_id = o.id
                           WHERE o.company_id = %s AND o.vendor_id = %s$$, :b, :vw),
                  format('VALUES (%s::bigint, 5::numeric)', stock.warehouse_location(:whb2)),
                  'its draft PO delivers to the warehouse the run planned');

-- ============================================================ 7. firm; a second run
-- FB1 from VA at 3.00 or VB at 5.00 (VA is the cheapest), FB2 from VA at 4.00, FC from VB at 1.00 (no lead time);
-- FMK (made in 1 week) = 1 FC; NV bought without supplier; NB made without BOM.
SELECT erp.create_partner(:a, 'r40 VA', 'vendor') AS va \gset
SELECT erp.create_partner(:a, 'r40 VB', 'vendor') AS vb \gset
SELECT stock.create_product(:a, 'R40-7FB1', 'FB1') AS fb1 \gset
SELECT stock.create_product(:a, 'R40-7FB2', 'FB2') AS fb2 \gset
SELECT stock.create_product(:a, 'R40-7FC', 'FC') AS fc \gset
SELECT stock.create_product(:a, 'R40-7FMK', 'FMK') AS fmk \gset
SELECT stock.create_product(:a, 'R40-7NV', 'NV') AS nv \gset
SELECT stock.create_product(:a, 'R40-7NB', 'NB') AS nb \gset
SELECT purchase.add_supplier(:fb1, :vb, 5, 7), purchase.add_supplier(:fb1, :va, 3, 7), purchase.add_supplier(:fb2, :va, 4, 7),
       purchase.add_supplier(:fc, :vb, 1, 0) \g /dev/null
SELECT mrp.create_bom(:fmk, 1, jsonb_build_array(pg_temp.l(:fc, 1))) \g /dev/null
SELECT mrp.set_planning(:fmk, 'make', 7), mrp.set_planning(:nv, 'buy', 7), mrp.set_planning(:nb, 'make', 7) \g /dev/null
SELECT mrp.add_demand(:fb1, 10, '2026-01-19'), mrp.add_demand(:fb2, 20, '2026-01-21'), mrp.add_demand(:fmk, 5, '2026-01-26'),
       mrp.add_demand(:nv, 3, '2026-01-21'), mrp.add_demand(:nb, 2, '2026-01-26') \g /dev/null
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run7 \gset
SELECT results_eq($$SELECT p.sku, o.kind, o.qty, o.due_date, o.vendor_id FROM mrp.planned_order o JOIN stock.product p ON p.id = o.product_id
                     WHERE p.sku LIKE 'R40-7%' ORDER BY p.sku$$,
                  format($$VALUES ('R40-7FB1'::text, 'buy'::text, 10::numeric, '2026-01-19'::date, %1$s::bigint),
                                  ('R40-7FB2', 'buy', 20, '2026-01-19', %1$s), ('R40-7FC', 'buy', 5, '2026-01-19', %2$s),
                                  ('R40-7FMK', 'make', 5, '2026-01-26', NULL), ('R40-7NB', 'make', 2, '2026-01-26', NULL),
                                  ('R40-7NV', 'buy', 3, '2026-01-19', NULL)$$, :va, :vb),
                  'buy orders name the cheapest active supplier (VA at 3.00 for FB1, not VB at 5.00); make orders and NV have no vendor');
SELECT results_eq($$SELECT sku, kind FROM pg_temp.messages('R40-7')$$,
                  $$VALUES ('R40-7NB'::text, 'no_bom'::text), ('R40-7NV', 'no_supplier')$$,
                  'NB is made without BOM (no_bom), NV bought without supplier (no_supplier)');
SELECT pg_temp.order_id(:fb1, '2026-01-19') AS o_fb1, pg_temp.order_id(:fb2, '2026-01-19') AS o_fb2,
       pg_temp.order_id(:fc, '2026-01-19') AS o_fc, pg_temp.order_id(:fmk, '2026-01-26') AS o_fmk,
       pg_temp.order_id(:nv, '2026-01-19') AS o_nv, pg_temp.order_id(:nb, '2026-01-26') AS o_nb \gset

SELECT mrp.firm(:o_fb1) AS po1 \gset
SELECT results_eq(format('SELECT vendor_id, state, date_planned, location_id FROM purchase.order WHERE id = %s', :po1),
                  format($$VALUES (%s::bigint, 'draft'::text, '2026-01-19'::date::timestamptz, %s::bigint)$$, :va, :loc),
                  'firm a buy order: a draft PO of its vendor, planned at its due date');
SELECT is((SELECT firmed_ref FROM mrp.planned_order WHERE id = :o_fb1), 'PO/' || :po1, 'the planned order is firmed as PO/<id>');
SELECT is(mrp.firm(:o_fb2), :po1::bigint, 'a second buy order of the same vendor and date from the same run joins that PO');
SELECT results_eq(format('SELECT product_id, qty, price FROM purchase.order_line WHERE order_id = %s ORDER BY id', :po1),
                  format('VALUES (%s::bigint, 10::numeric, 3.00::numeric), (%s, 20, 4.00)', :fb1, :fb2),
                  'the PO holds both lines at the vendor''s prices');
SELECT mrp.firm(:o_fc) AS po2 \gset
SELECT results_eq(format('SELECT vendor_id, date_planned FROM purchase.order WHERE id = %s AND id <> %s', :po2, :po1),
                  format($$VALUES (%s::bigint, '2026-01-19'::date::timestamptz)$$, :vb),
                  'another vendor on the same date gets its own PO');
SELECT mrp.firm(:o_fmk) AS mo7 \gset
SELECT results_eq(format('SELECT product_id, qty, state, due_at FROM mrp.production WHERE id = %s', :mo7),
                  format($$VALUES (%s::bigint, 5::numeric, 'confirmed'::text, '2026-01-26'::date::timestamptz)$$, :fmk),
                  'firm a make order: a confirmed MO at its due date');
SELECT is((SELECT firmed_ref FROM mrp.planned_order WHERE id = :o_fmk), 'MO/' || :mo7, 'firmed as MO/<id>');
SELECT throws_ok(format('SELECT mrp.firm(%s)', :o_fb1), '55000', format('planned order %s is already firmed as PO/%s', :o_fb1, :po1),
                 'firming twice: 55000');
SELECT is(pg_temp.error_hint(format('SELECT mrp.firm(%s)', :o_nv)), '55000: Add a supplier with purchase.add_supplier() and run MRP again.',
          'a buy order without vendor: 55000 with a hint');
SELECT throws_ok(format('SELECT mrp.firm(%s)', (SELECT max(id) + 1000 FROM mrp.planned_order)), '22023',
                 format('planned order %s does not exist', (SELECT max(id) + 1000 FROM mrp.planned_order)), 'an unknown planned order: 22023');
SELECT is((SELECT firmed_ref FROM mrp.planned_order WHERE id = :o_nv), NULL, 'the refused order is not firmed');

-- the second run: the firmed orders stay, the others are replaced
SELECT mrp.run(:a, '2026-01-05', 'week', 12) AS run7b \gset
SELECT bag_eq(format('SELECT id, run_id, firmed_ref FROM mrp.planned_order WHERE id IN (%s, %s, %s, %s)', :o_fb1, :o_fb2, :o_fc, :o_fmk),
                  format($$VALUES (%s::bigint, %s::bigint, 'PO/%s'::text), (%s, %s, 'PO/%s'), (%s, %s, 'PO/%s'), (%s, %s, 'MO/%s')$$,
                         :o_fb1, :run7, :po1, :o_fb2, :run7, :po1, :o_fc, :run7, :po2, :o_fmk, :run7, :mo7),
                  'the firmed orders survive the next run, with their run and reference');
SELECT is((SELECT count(*)::int FROM mrp.planned_order WHERE id IN (:o_nv, :o_nb)), 0, 'the unfirmed orders of the last run are gone');
SELECT is((SELECT count(*)::int FROM mrp.planned_order WHERE run_id = :run7 AND firmed_ref IS NULL), 0, 'nothing unfirmed is left of that run');
SELECT results_eq($$SELECT sku, qty, due_week FROM pg_temp.orders('R40-7N')$$,
                  $$VALUES ('R40-7NB'::text, 2::numeric, 4), ('R40-7NV', 3, 3)$$,
                  'the new run plans the unfirmed needs again');
SELECT is((SELECT count(*)::int FROM mrp.planned_order WHERE run_id = :run7b AND product_id = :fmk), 0,
          'FMK is not planned again: its confirmed MO is a scheduled receipt');
SELECT is((SELECT count(*)::int FROM mrp.planned_order WHERE run_id = :run7b AND product_id IN (:fb1, :fb2)), 0,
          'FB1 and FB2 are not planned again: their firmed orders cover them');

-- run errors
SELECT (SELECT count(*) FROM mrp.mrp_run) AS runs_before \gset
SELECT is(pg_temp.error_detail(format($$SELECT mrp.run(%s, '2026-01-05', 'month', 12)$$, :a)), '22023: Buckets are day or week.',
          'an unknown bucket: 22023');
SELECT throws_ok(format($$SELECT mrp.run(%s, '2026-01-05', 'week', 0)$$, :a), '22023', 'horizon must be between 1 and 3660 buckets',
                 'horizon 0: 22023');
SELECT throws_ok(format($$SELECT mrp.run(%s, NULL, 'week', 12)$$, :a), '22004', 'start date must not be null', 'no start date: 22004');
SELECT throws_ok(format($$SELECT mrp.run(%s, '2026-01-05', 'week', 12)$$, :a1 + 100000), '22023',
                 format('company %s does not exist', :a1 + 100000), 'an unknown company: 22023');
SELECT throws_ok(format($$SELECT mrp.run(%s, '2026-01-05', 'week', 12, %s)$$, :a, :whb1), '22023',
                 format('warehouse %s does not exist in company %s', :whb1, :a), 'a warehouse of another company: 22023');
SELECT throws_ok(format($$SELECT mrp.run(%s, '2026-01-05', 'week', 12, %s)$$, :a, :wh + 100000), '22023',
                 format('warehouse %s does not exist in company %s', :wh + 100000, :a), 'an unknown warehouse: 22023');
SELECT pg_temp.make_user('r40_stock', 'stock_user', :a) \g /dev/null
SELECT pg_temp.login('r40_stock', :a);
SELECT is(pg_temp.error_detail(format($$SELECT mrp.run(%s, '2026-01-05', 'week', 12)$$, :a)),
          format('42501: Permission "mrp.plan:run" is required on company %s.', :a), 'a stock_user may not run MRP: 42501');
SELECT erp.sign_out() \g /dev/null
SELECT is((SELECT count(*) FROM mrp.mrp_run), :runs_before::bigint, 'no refused run was recorded');
SELECT mrp.run(:a1, '2026-01-05', 'day', 1) AS run_empty \gset
SELECT results_eq(format('SELECT planned_orders, finished_at IS NOT NULL FROM mrp.mrp_run WHERE id = %s', :run_empty),
                  $$VALUES (0, true)$$, 'a company without products: a finished run of no planned orders');

-- ============================================================ 8. jobs
SELECT results_eq($$SELECT kind, handler::text FROM erp.job_kind WHERE kind LIKE 'mrp.%' ORDER BY kind$$,
                  $$VALUES ('mrp.replenish'::text, 'mrp.replenish_job(bigint,jsonb)'::text), ('mrp.run', 'mrp.run_job(bigint,jsonb)')$$,
                  'job kinds mrp.run and mrp.replenish');
SELECT erp.enqueue('mrp.run', jsonb_build_object('company', :a, 'start', '2026-01-05', 'bucket', 'week', 'horizon', 12),
                   now(), 1000000000) AS job \gset
SELECT is(erp.run_pending(1), 1, 'run_pending runs the job');
SELECT (SELECT max(id) FROM mrp.mrp_run WHERE company_id = :a) AS run8 \gset
SELECT results_eq(format('SELECT status, result FROM erp.job WHERE id = %s', :job),
                  format($$VALUES ('done'::text, '{"run": %s, "planned_orders": %s}'::jsonb)$$, :run8,
                         (SELECT count(*) FROM mrp.planned_order WHERE run_id = :run8)),
                  'the job is done, its result the run and its number of planned orders');
SELECT results_eq(format('SELECT start_date, bucket, horizon, planned_orders > 0 FROM mrp.mrp_run WHERE id = %s', :run8),
                  $$VALUES ('2026-01-05'::date, 'week'::text, 12, true)$$, 'the job''s run used its arguments');
SELECT results_eq($$SELECT sku, qty, release_week FROM pg_temp.orders('R40-1') ORDER BY release_week DESC, sku$$,
                  $$VALUES ('R40-1Z'::text, 59::numeric, 8), ('R40-1A', 118, 7), ('R40-1B', 177, 7),
                           ('R40-1C', 472, 6), ('R40-1D', 472, 6), ('R40-1E', 944, 3)$$,
                  'and planned the issue''s case the same way');

SELECT * FROM finish();
ROLLBACK;
