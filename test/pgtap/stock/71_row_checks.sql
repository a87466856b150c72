-- The row checks of the tables postings write are calls of small C predicates (sql/stock/bounds.sql,
-- src/valuation/row_checks.c), for speed: PostgreSQL parses CHECK constraints again for every
-- INSERT and UPDATE. They answer as the expressions they replace, NaN, infinities and NULL
-- included, and keep their names.
BEGIN;
\ir ../setup.sql
SELECT plan(6);

CREATE TEMP TABLE v (x numeric);
INSERT INTO v VALUES ('NaN'), ('Infinity'), ('-Infinity'), (0), (-0.0), (1e-1000), (-1e-1000), (5), (-5),
    (1e130000), (-1e130000), (NULL);
SELECT is((SELECT count(*) FROM v WHERE stock._finite(x) IS DISTINCT FROM (x > '-Infinity' AND x < 'Infinity')),
          0::bigint, 'stock._finite answers as x > ''-Infinity'' AND x < ''Infinity'' (NaN, infinities, zeros, extremes, NULL)');
SELECT is((SELECT count(*) FROM v WHERE stock._positive_finite(x) IS DISTINCT FROM (x > 0 AND x < 'Infinity')),
          0::bigint, 'stock._positive_finite answers as x > 0 AND x < ''Infinity''');
SELECT is((SELECT count(*) FROM v WHERE stock._nonnegative_finite(x) IS DISTINCT FROM (x >= 0 AND x < 'Infinity')),
          0::bigint, 'stock._nonnegative_finite answers as x >= 0 AND x < ''Infinity''');

SELECT is((SELECT count(*) FROM pg_constraint
            WHERE contype = 'c' AND pg_get_constraintdef(oid) LIKE '%Infinity%'
              AND conrelid IN ('stock.move'::regclass, 'stock.quant'::regclass, 'stock.valuation_layer'::regclass,
                               'stock.product_value'::regclass, 'stock.journal_line'::regclass,
                               'stock.valuation_snapshot'::regclass)),
          0::bigint, 'no row check of the posting tables is written with constants');

-- still refused, by the constraint of the same name
SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'RC71') AS wh \gset
SELECT stock.create_product(:a, 'RC71-P', 'Checked') AS p \gset
SELECT stock.receive(:p, 1, 2, :wh) AS m \gset
SELECT throws_ok(format($$UPDATE stock.valuation_layer SET value = 'NaN' WHERE move_id = %s$$, :m), '23514',
                 'new row for relation "valuation_layer" violates check constraint "valuation_layer_value_check"',
                 'a NaN value in a layer is refused by valuation_layer_value_check');
SELECT throws_ok(format($$UPDATE stock.move SET qty = 0 WHERE id = %s$$, :m), '23514',
                 'new row for relation "move" violates check constraint "move_qty_check"',
                 'a move of 0 is refused by move_qty_check');

SELECT * FROM finish();
ROLLBACK;
