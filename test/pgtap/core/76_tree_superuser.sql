-- erp.company_within() for a superuser reads the company tree cache without
-- any ACL check first: a move must still count at the next statement, even
-- when it is the first thing a fresh backend does with the tree.
BEGIN;
\ir ../setup.sql
SELECT plan(3);

SELECT * FROM pg_temp.make_tree() \gset
SELECT ok(erp.company_within(:a1, :a), 'A1 is within A');
UPDATE erp.company SET parent_id = :b WHERE id = :a1;
SELECT ok(NOT erp.company_within(:a1, :a), 'after A1 moves under B it is no longer within A');
SELECT ok(erp.company_within(:a1, :b), 'and is within B');

SELECT * FROM finish();
ROLLBACK;
