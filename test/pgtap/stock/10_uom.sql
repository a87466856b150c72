-- stock.uom: the shipped units; stock.convert_uom and stock.round_to: values, rounding half up, refusals.
BEGIN;
\ir ../setup.sql
SELECT plan(40);

-- ------------------------------------------------------------ shipped units
SELECT set_eq($$SELECT code, category, factor, rounding FROM stock.uom$$,
              $$VALUES ('Unit'::text, 'unit'::text, 1::numeric, 0.01::numeric),
                       ('Dozen', 'unit', 12, 0.01),
                       ('kg', 'weight', 1, 0.001),
                       ('g', 'weight', 0.001, 0.01),
                       ('m', 'length', 1, 0.001),
                       ('cm', 'length', 0.01, 0.01),
                       ('L', 'volume', 1, 0.001),
                       ('mL', 'volume', 0.001, 0.01)$$,
              'exactly the 8 shipped units, with their category, factor and rounding');
SELECT is((SELECT count(*)::int FROM stock.uom u WHERE u.factor = 1), 4,
          'each of the 4 categories has one reference unit (factor 1)');

-- ------------------------------------------------------------ conversions
SELECT is(stock.convert_uom(2, 'Dozen', 'Unit'), 24::numeric, '2 Dozen = 24 Unit');
SELECT is(stock.convert_uom(1, 'Unit', 'Dozen'), 0.08::numeric, '1 Unit = 0.08 Dozen (1/12 rounded to 0.01)');
SELECT is(stock.convert_uom(6, 'Unit', 'Dozen'), 0.5::numeric, '6 Unit = 0.5 Dozen');
SELECT is(stock.convert_uom(0.18, 'Unit', 'Dozen'), 0.02::numeric,
          '0.18 Unit = 0.015 Dozen, rounded half up to 0.02');
SELECT is(stock.convert_uom(0.17, 'Unit', 'Dozen'), 0.01::numeric,
          '0.17 Unit = 0.01416.. Dozen, rounded down to 0.01');
SELECT is(stock.convert_uom(1234.5, 'g', 'kg'), 1.235::numeric, '1234.5 g = 1.2345 kg, rounded half up to 1.235 kg');
SELECT is(stock.convert_uom(1234.4, 'g', 'kg'), 1.234::numeric, '1234.4 g = 1.2344 kg, rounded down to 1.234 kg');
SELECT is(stock.convert_uom(1.2345, 'kg', 'g'), 1234.5::numeric, '1.2345 kg = 1234.5 g');
SELECT is(stock.convert_uom(0.000005, 'kg', 'g'), 0.01::numeric, '0.000005 kg = 0.005 g, rounded half up to 0.01 g');
SELECT is(stock.convert_uom(150, 'cm', 'm'), 1.5::numeric, '150 cm = 1.5 m');
SELECT is(stock.convert_uom(1, 'cm', 'm'), 0.01::numeric, '1 cm = 0.01 m');
SELECT is(stock.convert_uom(2.5, 'm', 'cm'), 250::numeric, '2.5 m = 250 cm');
SELECT is(stock.convert_uom(2500, 'mL', 'L'), 2.5::numeric, '2500 mL = 2.5 L');
SELECT is(stock.convert_uom(0.5, 'mL', 'L'), 0.001::numeric, '0.5 mL = 0.0005 L, rounded half up to 0.001 L');
SELECT is(stock.convert_uom(0.4, 'mL', 'L'), 0::numeric, '0.4 mL = 0.0004 L, rounded to 0 L');
SELECT is(stock.convert_uom(1.005, 'Unit', 'Unit'), 1.01::numeric, 'a same-unit conversion still rounds to the unit');
SELECT is(stock.convert_uom(-2, 'Dozen', 'Unit'), -24::numeric, '-2 Dozen = -24 Unit');
SELECT is(stock.convert_uom(-1234.5, 'g', 'kg'), -1.235::numeric,
          '-1234.5 g = -1.235 kg (half away from zero)');
SELECT is(stock.convert_uom(-1, 'Unit', 'Dozen'), -0.08::numeric, '-1 Unit = -0.08 Dozen');

-- ------------------------------------------------------------ refusals
SELECT throws_ok($$SELECT stock.convert_uom(1, 'kg', 'Unit')$$, '22023', 'cannot convert kg to Unit',
                 'kg to Unit (different categories) is refused with 22023');
SELECT is(pg_temp.error_detail($$SELECT stock.convert_uom(1, 'kg', 'Unit')$$),
          '22023: kg measures weight, Unit measures unit.', 'the detail names both categories');
SELECT throws_ok($$SELECT stock.convert_uom(1, 'm', 'L')$$, '22023', 'cannot convert m to L',
                 'length to volume is refused');
SELECT throws_ok($$SELECT stock.convert_uom(1, 'box', 'Unit')$$, '22023', 'unknown unit of measure ''box''',
                 'an unknown source unit is refused with 22023');
SELECT throws_ok($$SELECT stock.convert_uom(1, 'Unit', 'box')$$, '22023', 'unknown unit of measure ''box''',
                 'an unknown target unit is refused with 22023');
SELECT throws_ok($$SELECT stock.convert_uom(1, 'KG', 'g')$$, '22023', 'unknown unit of measure ''KG''',
                 'unit codes are case-sensitive');
SELECT throws_ok($$SELECT stock.convert_uom(1, NULL, 'g')$$, '22023', 'unknown unit of measure NULL',
                 'a NULL unit is refused with 22023');
SELECT is(pg_temp.error_hint($$SELECT stock.convert_uom(1, 'box', 'Unit')$$),
          '22023: Units are listed in stock.uom.', 'the hint points at stock.uom');
SELECT throws_ok($$SELECT stock.convert_uom(NULL, 'kg', 'g')$$, '22004', 'quantity must not be null',
                 'a NULL quantity is refused with 22004');
SELECT throws_ok($$SELECT stock.convert_uom('NaN', 'kg', 'g')$$, '22023', NULL,
                 'a NaN quantity is refused with 22023 (not converted to NaN)');
SELECT throws_ok($$SELECT stock.convert_uom('Infinity', 'kg', 'g')$$, '22023', NULL,
                 'an infinite quantity is refused with 22023');

-- ------------------------------------------------------------ round_to
SELECT is(stock.round_to(0.125, 0.01), 0.13::numeric, 'round_to(0.125, 0.01) = 0.13 (half up)');
SELECT is(stock.round_to(-0.125, 0.01), -0.13::numeric, 'round_to(-0.125, 0.01) = -0.13 (half away from zero)');
SELECT is(stock.round_to(7, 5), 5::numeric, 'round_to(7, 5) = 5');
SELECT is(stock.round_to(8, 5), 10::numeric, 'round_to(8, 5) = 10');
SELECT is(stock.round_to(NULL, 0.01), NULL::numeric, 'round_to is strict: NULL in, NULL out');

-- ------------------------------------------------------------ as the application role
SET LOCAL ROLE pgerp_app;
SELECT is((SELECT count(*)::int FROM stock.uom), 8, 'pgerp_app reads the 8 units (shared by all companies)');
SELECT is(stock.convert_uom(3, 'Dozen', 'Unit'), 36::numeric, 'pgerp_app may call stock.convert_uom');
SELECT throws_ok($$INSERT INTO stock.uom (code, category, factor, rounding) VALUES ('box', 'unit', 6, 1)$$,
                 '42501', 'permission denied for table uom', 'pgerp_app cannot add a unit (SELECT only)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
