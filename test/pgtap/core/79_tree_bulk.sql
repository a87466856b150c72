-- A backend that meets more than 1024 companies reads the rest of the tree in
-- one scan (src/rbac/tree.c): the answers stay exact across the switch, a
-- move and a new store.
BEGIN;
\ir ../setup.sql
SELECT plan(5);

SELECT * FROM pg_temp.make_tree() \gset
INSERT INTO erp.company (parent_id, name)
SELECT CASE WHEN i % 2 = 0 THEN :a ELSE :b END, 't79 store ' || i FROM generate_series(1, 3000) i;
SELECT pg_temp.make_user('t79_sub', 'auditor', :a) AS u \gset
SELECT min(id) AS s_a FROM erp.company WHERE parent_id = :a AND name LIKE 't79 %' \gset

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t79_sub');
-- A, A1 and the 1500 stores under A
SELECT is((SELECT count(*)::int FROM erp.company), 1502, 'a subtree user sees A, A1 and A''s 1500 stores among 3004 companies');
SELECT is((SELECT count(*)::int FROM erp.company WHERE name LIKE 't79 %' AND parent_id <> :a), 0, 'and none of B''s');
RESET ROLE;
UPDATE erp.company SET parent_id = :b WHERE id = :s_a;
SET LOCAL ROLE pgerp_app;
SELECT is((SELECT count(*)::int FROM erp.company), 1501, 'a store moved to B is no longer seen');
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.create_company('t79 new store', :a) AS s_new \gset
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t79_sub');
SELECT is((SELECT count(*)::int FROM erp.company), 1502, 'a store created after the tree was read whole is seen');
SELECT ok(erp.company_allowed(:s_new, 'erp.company:read') AND NOT erp.company_allowed(:s_a, 'erp.company:read'),
          'company_allowed agrees');

SELECT * FROM finish();
ROLLBACK;
