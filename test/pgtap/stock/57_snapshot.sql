-- Valuation snapshots (#16.3): stock.valuation_report(c, at) and stock.valuation(p, at)
-- read a product's latest month snapshot plus the layers after it, and equal a
-- sum of the layers up to the date (the reference) at month ends, mid-month, before
-- the first layer and exactly at a period end, before and after the snapshots are
-- built, after back-dated receipts and deliveries (FIFO and AVCO, with corrections),
-- a first move dated into a snapshotted month, a landed cost and a revaluation.
BEGIN;
\ir ../setup.sql
SELECT plan(46);
SET LOCAL client_min_messages = warning;

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'SN57') AS wh \gset
SELECT stock.create_warehouse(:b, 'SN57-B') AS whb \gset

-- the UTC month boundary k months before the start of the current month
CREATE FUNCTION pg_temp.m(k int) RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - k * interval '1 month') AT TIME ZONE 'UTC'
$$;

-- the reference: every layer up to the date, no snapshot
CREATE FUNCTION pg_temp.ref(p_company bigint, p_at timestamptz)
RETURNS TABLE (product_id bigint, sku text, qty numeric, value numeric, unit_cost numeric) LANGUAGE sql AS $$
    SELECT p.id, p.sku, coalesce(sum(l.quantity), 0), coalesce(sum(l.value), 0),
           CASE WHEN coalesce(sum(l.quantity), 0) <> 0
                THEN round(sum(l.value) / sum(l.quantity), (SELECT c.price_precision FROM erp.company c WHERE c.id = p_company)) END
      FROM stock.product p
      LEFT JOIN stock.valuation_layer l ON l.company_id = p.company_id AND l.product_id = p.id
       AND (p_at IS NULL OR l.created_at <= p_at)
     WHERE p.company_id = p_company
     GROUP BY p.id, p.sku
$$;

-- the dates compared: every boundary of the last 7 months, a microsecond either
-- side, mid-month, before any layer, the layers' own dates, now and no date
CREATE FUNCTION pg_temp.dates() RETURNS SETOF timestamptz LANGUAGE sql AS $$
    SELECT pg_temp.m(k) + d FROM generate_series(0, 7) k,
           unnest(ARRAY[interval '0', interval '1 microsecond', interval '-1 microsecond', interval '15 days']) d
    UNION SELECT created_at FROM stock.valuation_layer
    UNION SELECT now()
    UNION ALL SELECT NULL
$$;

-- the dates at which the report or stock.valuation differ from the reference ('' when none)
CREATE FUNCTION pg_temp.mismatches(p_company bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d timestamptz;
    n bigint;
    v_bad text[] := '{}';
BEGIN
    FOR d IN SELECT x FROM pg_temp.dates() x ORDER BY x LOOP
        SELECT count(*) INTO n FROM (
            (SELECT * FROM stock.valuation_report(p_company, d) EXCEPT ALL SELECT * FROM pg_temp.ref(p_company, d))
            UNION ALL
            (SELECT * FROM pg_temp.ref(p_company, d) EXCEPT ALL SELECT * FROM stock.valuation_report(p_company, d))) x;
        IF n > 0 THEN
            v_bad := v_bad || format('report at %s', coalesce(d::text, 'now'));
        END IF;
        SELECT count(*) INTO n FROM pg_temp.ref(p_company, d) r, stock.valuation(r.product_id, d) v
         WHERE (v.qty, v.value) IS DISTINCT FROM (r.qty, r.value);
        IF n > 0 THEN
            v_bad := v_bad || format('valuation at %s', coalesce(d::text, 'now'));
        END IF;
    END LOOP;
    RETURN array_to_string(v_bad, '; ');
END $$;

-- a product's snapshot rows, as 'period: qty worth value'
CREATE FUNCTION pg_temp.snaps(p_product bigint) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(format('%s: %s worth %s', to_char(s.period_end AT TIME ZONE 'UTC', 'YYYY-MM'),
                                      trim_scale(s.qty), trim_scale(s.value)), ', ' ORDER BY s.period_end), '')
      FROM stock.valuation_snapshot s WHERE s.product_id = p_product
$$;
CREATE FUNCTION pg_temp.snapshot_digest(p_company bigint) RETURNS text LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(format('%s %s %s %s', s.product_id, s.period_end, s.qty, s.value), ',' ORDER BY s.product_id, s.period_end), ''))
      FROM stock.valuation_snapshot s WHERE s.company_id = p_company
$$;

-- ------------------------------------------------------------ history over six months
SELECT stock.create_product(:a, 'SN-FIFO', 'Fifo', 'fifo') AS pf \gset
SELECT stock.create_product(:a, 'SN-AVCO', 'Avco', 'avco') AS pa \gset
SELECT stock.create_product(:a, 'SN-QUIET', 'Last moved five months ago', 'fifo') AS pq \gset
SELECT stock.create_product(:a, 'SN-NEW', 'First moved later', 'fifo') AS pn \gset
SELECT stock.create_product(:a, 'SN-NONE', 'Never moved', 'fifo') AS pz \gset
SELECT stock.create_product(:b, 'SN-B', 'Of B', 'fifo') AS pb \gset

SELECT stock.receive(:pf, 10, 10, :wh, 'F1', pg_temp.m(5) + interval '2 days') \g /dev/null
SELECT stock.deliver(:pf, 4, :wh, 'F2', pg_temp.m(4) + interval '10 days') \g /dev/null
SELECT stock.receive(:pf, 5, 12, :wh, 'F3', pg_temp.m(3) + interval '3 days') AS f3 \gset
SELECT stock.deliver(:pf, 3, :wh, 'F4', pg_temp.m(2) + interval '20 days') \g /dev/null
-- F5 exactly at a boundary, F6 now
SELECT stock.receive(:pf, 1, 11, :wh, 'F5', pg_temp.m(1)) \g /dev/null
SELECT stock.receive(:pf, 2, 15, :wh, 'F6') \g /dev/null
SELECT stock.receive(:pa, 10, 10, :wh, 'A1', pg_temp.m(5) + interval '5 days') \g /dev/null
SELECT stock.receive(:pa, 10, 20, :wh, 'A2', pg_temp.m(4) + interval '1 day') \g /dev/null
SELECT stock.deliver(:pa, 5, :wh, 'A3', pg_temp.m(3) + interval '15 days') \g /dev/null
SELECT stock.deliver(:pa, 2, :wh, 'A4', pg_temp.m(1) + interval '3 days') \g /dev/null
SELECT stock.receive(:pq, 3, 7, :wh, 'Q1', pg_temp.m(5) + interval '1 day') \g /dev/null
SELECT stock.receive(:pb, 4, 5, :whb, 'B1', pg_temp.m(3) + interval '1 day') \g /dev/null

SELECT is(pg_temp.mismatches(:a), '', 'without snapshots the report and stock.valuation equal the layers at every date');

-- ------------------------------------------------------------ building
SELECT is(stock.build_valuation_snapshots(:a), '{"products": 3, "snapshots": 15}',
          'the build writes one row per month boundary after each moved product''s first layer, up to this month''s start');
SELECT is(pg_temp.snaps(:pf),
          format('%s: 10 worth 100, %s: 6 worth 60, %s: 11 worth 120, %s: 8 worth 90, %s: 9 worth 101',
                 to_char(pg_temp.m(4), 'YYYY-MM'), to_char(pg_temp.m(3), 'YYYY-MM'), to_char(pg_temp.m(2), 'YYYY-MM'),
                 to_char(pg_temp.m(1), 'YYYY-MM'), to_char(pg_temp.m(0), 'YYYY-MM')),
          'FIFO: each snapshot holds the layers dated before its boundary (the receipt exactly at a boundary in the next one)');
SELECT is((SELECT count(*) FROM stock.valuation_snapshot WHERE product_id IN (:pn, :pz)), 0::bigint,
          'a product without layers has no snapshot');
SELECT is(pg_temp.mismatches(:a), '', 'with snapshots the report and stock.valuation still equal the layers at every date');

-- the snapshots are what the report reads
UPDATE stock.valuation_snapshot SET value = value + 1000 WHERE product_id = :pf AND period_end = pg_temp.m(2);
SELECT is((SELECT value FROM stock.valuation_report(:a, pg_temp.m(2) + interval '15 days') WHERE product_id = :pf), 1120::numeric,
          'the report reads the snapshot of the period (a tampered one shows)');
SELECT is((SELECT value FROM stock.valuation(:pf, pg_temp.m(2) + interval '15 days')), 1120::numeric,
          'and so does stock.valuation');
UPDATE stock.valuation_snapshot SET value = value - 1000 WHERE product_id = :pf AND period_end = pg_temp.m(2);

-- idempotent, and the chore
SELECT pg_temp.snapshot_digest(:a) AS digest \gset
SELECT is(stock.build_valuation_snapshots(:a), '{"products": 0, "snapshots": 0}', 'a second build writes nothing');
SELECT is(pg_temp.snapshot_digest(:a), :'digest', 'and changes nothing');
SELECT is((SELECT every FROM erp.housekeeping_chore WHERE routine = 'stock._build_snapshots_chore()'), interval '1 hour',
          'pgerp_stock registers the build as an hourly chore');
SELECT ok((erp._run_chore('stock._build_snapshots_chore()') ->> 'snapshots')::int >= 3, 'the chore builds the other companies');
SELECT is(pg_temp.snaps(:pb), format('%s: 4 worth 20, %s: 4 worth 20, %s: 4 worth 20',
                                     to_char(pg_temp.m(2), 'YYYY-MM'), to_char(pg_temp.m(1), 'YYYY-MM'), to_char(pg_temp.m(0), 'YYYY-MM')),
          'B''s product gets its snapshots from the chore');
SELECT is(erp._run_chore('stock._build_snapshots_chore()') ->> 'snapshots', '0', 'a second chore run writes nothing');
SELECT is(pg_temp.snapshot_digest(:a), :'digest', 'and leaves A''s snapshots as they were');

-- ------------------------------------------------------------ back-dated postings stale the snapshots after their date
SELECT stock.receive(:pf, 5, 20, :wh, 'F0', pg_temp.m(5) + interval '1 day') \g /dev/null
SELECT ok((SELECT count(*) FROM stock.valuation_layer WHERE product_id = :pf AND description LIKE 'Correction%') > 0,
          'FIFO: the back-dated receipt re-values later deliveries through corrections');
SELECT is(pg_temp.snaps(:pf), '', 'FIFO: every snapshot after the back-dated receipt''s date is gone');
SELECT is(pg_temp.mismatches(:a), '', 'FIFO back-dated receipt: the report equals the layers at every date');
SELECT stock.deliver(:pf, 2, :wh, 'F-late', pg_temp.m(3) + interval '5 days') \g /dev/null
SELECT is(pg_temp.mismatches(:a), '', 'FIFO back-dated delivery: the report equals the layers at every date');
SELECT is(stock.build_valuation_snapshots(:a) ->> 'products', '1', 'the rebuild takes only the stale product');
SELECT is(pg_temp.mismatches(:a), '', 'FIFO, rebuilt: the report equals the layers at every date');

SELECT stock.receive(:pa, 10, 40, :wh, 'A-late', pg_temp.m(3) + interval '1 day') \g /dev/null
SELECT ok((SELECT count(*) FROM stock.valuation_layer WHERE product_id = :pa AND description LIKE 'Correction%') > 0,
          'AVCO: the back-dated receipt re-values later deliveries through corrections');
SELECT is(pg_temp.snaps(:pa), format('%s: 10 worth 100, %s: 20 worth 300',
                                     to_char(pg_temp.m(4), 'YYYY-MM'), to_char(pg_temp.m(3), 'YYYY-MM')),
          'AVCO: the snapshots before the back-dated receipt''s date stay, the later ones go');
SELECT is(pg_temp.mismatches(:a), '', 'AVCO back-dated receipt: the report equals the layers at every date');
SELECT stock.deliver(:pa, 3, :wh, 'A-late-out', pg_temp.m(2) + interval '10 days') \g /dev/null
SELECT is(pg_temp.mismatches(:a), '', 'AVCO back-dated delivery: the report equals the layers at every date');

-- a move dated into a snapshotted month that is not back-dated for the engine
SELECT stock.receive(:pq, 2, 9, :wh, 'Q2', pg_temp.m(1) + interval '10 days') \g /dev/null
SELECT is((SELECT count(*) FROM stock.valuation_layer WHERE product_id = :pq AND description LIKE 'Correction%'), 0::bigint,
          'a first move dated last month after the product''s last move is an ordinary posting');
SELECT is(pg_temp.snaps(:pq), format('%s: 3 worth 21, %s: 3 worth 21, %s: 3 worth 21, %s: 3 worth 21',
                                     to_char(pg_temp.m(4), 'YYYY-MM'), to_char(pg_temp.m(3), 'YYYY-MM'),
                                     to_char(pg_temp.m(2), 'YYYY-MM'), to_char(pg_temp.m(1), 'YYYY-MM')),
          'but it stales the snapshot of this month''s start, built from older layers');
SELECT is(pg_temp.mismatches(:a), '', 'a move dated into a snapshotted month: the report equals the layers at every date');
SELECT stock.receive(:pn, 1, 5, :wh, 'N1', pg_temp.m(2) + interval '5 days') \g /dev/null
SELECT is(pg_temp.mismatches(:a), '', 'a product''s first move dated into a snapshotted month: the report equals the layers');
-- SN-QUIET (stale) and SN-NEW (never snapshotted) take the slow path among the others
SELECT results_eq(format('SELECT product_id, sku, qty::text, value::text, unit_cost::text FROM stock.valuation_report(%s, %L)',
                         :a, pg_temp.m(0) + interval '1 microsecond'),
                  format('SELECT product_id, sku, qty::text, value::text, unit_cost::text FROM pg_temp.ref(%s, %L) ORDER BY sku',
                         :a, pg_temp.m(0) + interval '1 microsecond'),
                  'the report''s lines come in sku order, stale and new products among the snapshotted ones, with the same scales');
SELECT is((SELECT string_agg(sku, ',') FROM stock.valuation_report(:a, pg_temp.m(1) + interval '15 days')),
          'SN-AVCO,SN-FIFO,SN-NEW,SN-NONE,SN-QUIET', 'every product of A, in sku order, not in id order');
SELECT is(stock.build_valuation_snapshots(:a), '{"products": 3, "snapshots": 6}',
          'the rebuild writes what the three stale or new products lack');
SELECT is(pg_temp.mismatches(:a), '', 'rebuilt: the report equals the layers at every date');

-- ------------------------------------------------------------ landed cost and revaluation
SELECT stock.apply_landed_cost(ARRAY[:f3]::bigint[], 6, 'by_quantity', 'Freight') \g /dev/null
SELECT stock.revalue(:pa, 10, 'Reval') \g /dev/null
SELECT is(pg_temp.mismatches(:a), '', 'after a landed cost and a revaluation the report equals the layers');
SELECT stock.deliver(:pf, 1, :wh, 'F-late-2', pg_temp.m(1) + interval '1 day') \g /dev/null
SELECT stock.deliver(:pa, 1, :wh, 'A-late-2', pg_temp.m(1) + interval '1 day') \g /dev/null
SELECT is(pg_temp.mismatches(:a), '', 'back-dated deliveries before them (replayed): the report equals the layers');
SELECT is(stock.build_valuation_snapshots(:a) ->> 'products', '2', 'the rebuild takes the two products');
SELECT is(pg_temp.mismatches(:a), '', 'rebuilt: the report equals the layers at every date');

-- ------------------------------------------------------------ lock date: snapshots before it are final
SELECT stock.set_lock_date(:a, (pg_temp.m(1) AT TIME ZONE 'UTC')::date);
SELECT pg_temp.snapshot_digest(:a) AS digest2 \gset
SELECT is(left(pg_temp.error_message(format($$SELECT stock.receive(%s, 1, 1, %s, 'locked', %L)$$, :pa, :wh, pg_temp.m(2))), 5), '55000',
          'a posting dated before the lock date is refused');
SELECT is(pg_temp.snapshot_digest(:a), :'digest2', 'and the snapshots stay as they were');

-- ------------------------------------------------------------ access
SELECT pg_temp.make_user('sn57_b', 'stock_manager', :b, false) \g /dev/null
SELECT pg_temp.make_user('sn57_user', 'stock_user', :a, false) \g /dev/null
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('sn57_b');
SELECT is((SELECT count(*) FROM stock.valuation_snapshot WHERE company_id = :a), 0::bigint,
          'a user of B sees none of A''s snapshots');
SELECT is((SELECT count(*) FROM stock.valuation_snapshot WHERE company_id = :b), 3::bigint, 'and B''s own');
SELECT is((SELECT count(*) FROM stock.valuation_report(:a, pg_temp.m(2))), 0::bigint, 'nor any line of A''s report');
SELECT is(pg_temp.error_message(format('SELECT stock.build_valuation_snapshots(%s)', :a)),
          '42501: permission denied for "stock.valuation:lock"', 'nor may build A''s snapshots');
SELECT pg_temp.login('sn57_user');
SELECT is(pg_temp.error_message(format('SELECT stock.build_valuation_snapshots(%s)', :a)),
          '42501: permission denied for "stock.valuation:lock"', 'a stock user of A may not build them (stock.valuation:lock)');
SELECT is(pg_temp.error_message('DELETE FROM stock.valuation_snapshot'), '42501: permission denied for table valuation_snapshot',
          'the application role only reads snapshots');
SELECT erp.sign_out();
RESET ROLE;
SELECT is(pg_temp.error_message('SELECT stock.build_valuation_snapshots(NULL)'), '22004: company must not be null',
          'a null company is refused');
SELECT is((SELECT count(*) FROM stock.valuation_report(NULL, pg_temp.m(1))), 0::bigint,
          'the report of a null company has no line');

SELECT * FROM finish();
ROLLBACK;
