-- The pack installs: extensions, schemas, version, library.
BEGIN;
\ir ../setup.sql
SELECT plan(9);

SELECT has_extension('pgerp', 'extension pgerp is installed');
SELECT has_extension('pgerp_stock', 'extension pgerp_stock is installed');
SELECT has_extension('pgerp_mrp', 'extension pgerp_mrp is installed');
SELECT is((SELECT array_agg(DISTINCT extversion) FROM pg_extension WHERE extname LIKE 'pgerp%'),
          ARRAY['0.2.0'], 'all three extensions share version 0.2.0');
SELECT schemas_are(ARRAY['public', 'erp', 'api', 'stock', 'mrp', 'purchase', 'cron'],
                   'schemas erp, api, stock, mrp and purchase exist');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['pgerp', 'pgerp_stock', 'pgerp_mrp']) e
            WHERE pg_read_file((SELECT setting FROM pg_config WHERE name = 'SHAREDIR')
                               || '/extension/' || e || '--0.1.0.sql') ~* 'create\s+(role|user|group)\M'), 0,
          'the install scripts create no cluster-wide role');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'erp' AND has_function_privilege('public', p.oid, 'EXECUTE')), 0,
          'PUBLIC may execute no erp function');
SELECT is((SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'), 'pg_cron,pgerp',
          'the test cluster preloads pg_cron and pgerp');
SELECT throws_ok($$SET pgerp.jwt_secret = 'short'$$, '22023', NULL,
                 'pgerp.jwt_secret refuses secrets shorter than 32 bytes');

SELECT * FROM finish();
ROLLBACK;
