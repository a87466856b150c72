-- purchase vendor prices: add_supplier (vendor checks, bad input, price precision), best_supplier (min quantity, price, lead time, age, vendor filter, NULL).
BEGIN;
\ir ../setup.sql
SELECT plan(27);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'PS10') AS wh \gset
SELECT stock.create_product(:a, 'PS10-BOLT', 'Bolt') AS p \gset
SELECT stock.create_product(:a, 'PS10-NUT', 'Nut') AS pn \gset
SELECT stock.create_product(:a, 'PS10-NONE', 'Never bought') AS p0 \gset
SELECT stock.create_product(:b, 'PS10-B', 'Bolt of B') AS pb \gset
SELECT erp.create_partner(:a, 'ps10 Vendor One', 'vendor') AS v1 \gset
SELECT erp.create_partner(:a, 'ps10 Vendor Two', 'both') AS v2 \gset
SELECT erp.create_partner(:a, 'ps10 Customer', 'customer') AS cust \gset
SELECT erp.create_partner(:a, 'ps10 Retired', 'vendor') AS retired \gset
UPDATE erp.partner SET active = false WHERE id = :retired;
SELECT erp.create_partner(:b, 'ps10 Vendor of B', 'vendor') AS vb \gset

-- ------------------------------------------------------------ add_supplier
SELECT purchase.add_supplier(:p, :v1, 12.345, 3, 0) AS s_round \gset
SELECT results_eq(format('SELECT company_id, product_id, vendor_id, price, lead_days, min_qty, active FROM purchase.supplier_info WHERE id = %s', :s_round),
                  format('VALUES (%s::bigint, %s::bigint, %s::bigint, 12.35::numeric, 3, 0::numeric, true)', :a, :p, :v1),
                  'add_supplier stores the line in the product''s company, price 12.345 rounded to 2 places: 12.35');
SELECT is((SELECT price::text FROM purchase.supplier_info WHERE id = :s_round), '12.35',
          'the stored price has exactly the company precision (12.35)');
SELECT lives_ok(format('SELECT purchase.add_supplier(%s, %s, 0, 0)', :p, :v2),
                'a partner of kind both is a vendor; price 0, lead 0 and the default minimum are accepted');
SELECT is((SELECT min_qty FROM purchase.supplier_info WHERE product_id = :p AND vendor_id = :v2), 0::numeric,
          'the minimum quantity defaults to 0');

SELECT count(*) AS lines_before FROM purchase.supplier_info \gset
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, 5, 1)', :p, :cust), '22023',
                 'partner ps10 Customer is not an active vendor', 'a customer is not a vendor (22023)');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, 5, 1)', :p, :retired), '22023',
                 'partner ps10 Retired is not an active vendor', 'an inactive vendor is refused (22023)');
SELECT is(pg_temp.error_detail(format('SELECT purchase.add_supplier(%s, %s, 5, 1)', :p, :vb)),
          format('22023: The partner belongs to company %s, the product to company %s.', :b, :a),
          'a vendor of another company is refused (22023), the detail names both companies');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, 5, 1)', :pb, :v1), '22023',
                 'partner ps10 Vendor One belongs to another company',
                 'A''s vendor for B''s product is refused as well (22023)');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, -1, 5, 1)', :p), '22023', 'partner -1 does not exist',
                 'an unknown partner (22023)');
SELECT throws_ok(format('SELECT purchase.add_supplier(-1, %s, 5, 1)', :v1), '22023', 'product -1 does not exist',
                 'an unknown product (22023)');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, -0.01, 1)', :p, :v1), '22023',
                 'price must be zero or positive', 'a negative price (22023)');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, NULL, 1)', :p, :v1), '22023',
                 'price must be zero or positive', 'a NULL price (22023)');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, 5, -1)', :p, :v1), '22023',
                 'lead time must be zero or more days', 'a negative lead time (22023)');
SELECT throws_ok(format('SELECT purchase.add_supplier(%s, %s, 5, 1, -1)', :p, :v1), '22023',
                 'minimum quantity must be zero or positive', 'a negative minimum quantity (22023)');
SELECT is((SELECT count(*) FROM purchase.supplier_info), :lines_before::bigint, 'the refused lines wrote nothing');

-- the company's own precision: B prices to 3 places
UPDATE erp.company SET price_precision = 3 WHERE id = :b;
SELECT purchase.add_supplier(:pb, :vb, 1.23456, 2) AS s_b \gset
SELECT is((SELECT price FROM purchase.supplier_info WHERE id = :s_b), 1.235::numeric,
          'in a company with 3-place prices 1.23456 is stored as 1.235');

-- ------------------------------------------------------------ best_supplier
-- the nut: the cheapest line needs 100, two lines at 10 differ by lead time,
-- and a later line at 10 with the same short lead time as an older one
SELECT purchase.add_supplier(:pn, :v1, 8, 5, 100) AS s_cheap \gset
SELECT purchase.add_supplier(:pn, :v2, 10, 7, 0) AS s_slow \gset
SELECT purchase.add_supplier(:pn, :v1, 10, 3, 10) AS s_fast \gset
SELECT purchase.add_supplier(:pn, :v2, 10, 3, 0) AS s_fast_new \gset
SELECT purchase.add_supplier(:pn, :v1, 12, 1, 0) AS s_dear \gset

SELECT results_eq(format('SELECT id, price, lead_days FROM purchase.best_supplier(%s, 50)', :pn),
                  format('VALUES (%s::bigint, 10::numeric, 3)', :s_fast),
                  'for 50: the line at 8 needs 100; of the lines at 10 the 3-day ones win, the older of the two');
SELECT is((purchase.best_supplier(:pn, 5)).id, :s_fast_new::bigint,
          'for 5: the older 3-day line needs 10, so the newer 3-day line at 10 wins over the 7-day one');
SELECT is((purchase.best_supplier(:pn, 100)).id, :s_cheap::bigint,
          'for exactly the minimum quantity 100: the line at 8 is valid and wins');
SELECT is((purchase.best_supplier(:pn, 99.999)).id, :s_fast::bigint,
          'for 99.999, just under its minimum, the line at 8 is still invalid');
SELECT is((purchase.best_supplier(:pn, 50, :v2)).id, :s_fast_new::bigint,
          'for 50 from vendor Two: its 3-day line at 10');
SELECT is((purchase.best_supplier(:pn, 5, :v1)).id, :s_dear::bigint,
          'for 5 from vendor One: only its line at 12 is valid');
UPDATE purchase.supplier_info SET active = false WHERE id = :s_fast;
SELECT is((purchase.best_supplier(:pn, 50)).id, :s_fast_new::bigint,
          'an inactive line is skipped: for 50 the newer 3-day line wins');
SELECT is((purchase.best_supplier(:pn, 5, :cust)).id, NULL::bigint,
          'no line of that partner: NULL');
SELECT ok((purchase.best_supplier(:p0, 1000)) IS NULL, 'a product without supplier lines: NULL');
SELECT is((purchase.best_supplier(:pb, 1, :vb)).id, :s_b::bigint, 'B''s line is found for B''s product (superuser)');
-- a vendor deactivated after its price was added cannot be ordered from
-- (create_order refuses it), so its line is not the best either
SELECT erp.create_partner(:a, 'ps10 Leaving', 'vendor') AS leaving \gset
SELECT purchase.add_supplier(:p0, :leaving, 1, 0) AS s_leaving \gset
SELECT purchase.add_supplier(:p0, :v1, 2, 0) AS s_staying \gset
UPDATE erp.partner SET active = false WHERE id = :leaving;
SELECT is((purchase.best_supplier(:p0, 1)).id, :s_staying::bigint,
          'the cheaper line of a since deactivated vendor is skipped: the active vendor''s line at 2 wins');

SELECT * FROM finish();
ROLLBACK;
