-- The per-user ACL cache (#12): a subtree grant is held as the subtree and
-- covers companies created after it; moves, deactivations and grant changes
-- count at the next statement; the LRU bound evicts without mixing users.
BEGIN;
\ir ../setup.sql
SELECT plan(24);

SELECT * FROM pg_temp.make_tree() \gset
-- A subsidiary user (subtree of A) and a one-store user (A1 only)
SELECT pg_temp.make_user('t77_sub', 'auditor', :a) AS u_sub \gset
SELECT pg_temp.make_user('t77_one', 'auditor', :a1, false) AS u_one \gset
SELECT pg_temp.make_user('t77_b', 'auditor', :b) AS u_b \gset
INSERT INTO erp.partner (company_id, name)
SELECT co, 't77 ' || co FROM unnest(ARRAY[:g, :a, :b, :a1]::bigint[]) co;

CREATE FUNCTION pg_temp.seen() RETURNS bigint[] LANGUAGE sql AS
    $$SELECT coalesce(array_agg(company_id ORDER BY company_id), '{}') FROM erp.partner WHERE name LIKE 't77 %'$$;

SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t77_sub');
SELECT is(pg_temp.seen(), ARRAY[:a, :a1]::bigint[], 'the subtree user sees A and A1');
SELECT is(pg_temp.sorted(erp.allowed_company_ids()), ARRAY[:a, :a1]::bigint[], 'allowed_company_ids lists the subtree');

-- a store created under A after the grant (and after the verdicts were cached)
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.create_company('Test A2', :a) AS a2 \gset
SELECT erp.create_company('Test A2x', :a2) AS a2x \gset
INSERT INTO erp.partner (company_id, name) VALUES (:a2, 't77 ' || :a2), (:a2x, 't77 ' || :a2x);
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t77_sub');
SELECT is(pg_temp.seen(), ARRAY[:a, :a1, :a2, :a2x]::bigint[], 'a store created later under the subtree, and its child, are covered');
SELECT is(pg_temp.sorted(erp.allowed_company_ids()), ARRAY[:a, :a1, :a2, :a2x]::bigint[], 'and listed');
SELECT erp.switch_company(:a2x);
SELECT ok(erp.has_permission('erp.partner:read'), 'has_permission answers for the new store');
SELECT ok(erp.company_allowed(:a2x, 'erp.partner:read'), 'company_allowed too');
SELECT ok(NOT erp.company_allowed(:b, 'erp.partner:read'), 'but not for B');
SELECT ok(NOT erp.company_allowed(-1, 'erp.partner:read'), 'nor for a company that does not exist');

-- moving A2 under B: the subtree user loses it (and its child), the B user gains them
RESET ROLE;
UPDATE erp.company SET parent_id = :b WHERE id = :a2;
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.seen(), ARRAY[:a, :a1]::bigint[], 'after A2 moves under B, the subtree user no longer sees it');
SELECT ok(NOT erp.company_allowed(:a2x, 'erp.partner:read'), 'nor its child');
SELECT pg_temp.login('t77_b');
SELECT is(pg_temp.seen(), ARRAY[:b, :a2, :a2x]::bigint[], 'the B user sees the moved stores');

-- deactivating a store hides it at the next statement
RESET ROLE;
UPDATE erp.company SET active = false WHERE id = :a2x;
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.seen(), ARRAY[:b, :a2]::bigint[], 'an inactive store is hidden');
SELECT is(pg_temp.sorted(erp.allowed_company_ids()), ARRAY[:b, :a2]::bigint[], 'and not listed');
RESET ROLE;
UPDATE erp.company SET active = true WHERE id = :a2x;
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.seen(), ARRAY[:b, :a2, :a2x]::bigint[], 'reactivated, it shows again');

-- the one-store user: only A1, even after a store is created under A1
SELECT pg_temp.login('t77_one');
SELECT is(pg_temp.seen(), ARRAY[:a1]::bigint[], 'the one-store user sees A1 only');
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.create_company('Test A1a', :a1) AS a1a \gset
INSERT INTO erp.partner (company_id, name) VALUES (:a1a, 't77 ' || :a1a);
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t77_one');
SELECT is(pg_temp.seen(), ARRAY[:a1]::bigint[], 'a grant without include_children does not cover a new child');

-- a grant change counts at the next statement and drops only what changed
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.grant_role(:u_one, 'auditor', :b, false);
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t77_one');
SELECT is(pg_temp.seen(), ARRAY[:b, :a1]::bigint[], 'a new grant on B counts');

-- the LRU bound: three users through a cache of two, alternating
RESET ROLE;
SET LOCAL pgerp.acl_cache_users = 2;
SELECT erp.sign_out();
SET LOCAL ROLE pgerp_app;
SELECT erp.sign_in('t77_sub', 't77_sub-pass-1') AS t_sub \gset
SELECT erp.sign_in('t77_one', 't77_one-pass-1') AS t_one \gset
SELECT erp.sign_in('t77_b', 't77_b-pass-1') AS t_b \gset
SELECT erp.use_token(:'t_sub');
SELECT is(pg_temp.seen(), ARRAY[:a, :a1, :a1a]::bigint[], 'bounded cache: the subtree user');
SELECT erp.use_token(:'t_one');
SELECT is(pg_temp.seen(), ARRAY[:b, :a1]::bigint[], 'bounded cache: the one-store user');
SELECT erp.use_token(:'t_b');
SELECT is(pg_temp.seen(), ARRAY[:b, :a2, :a2x]::bigint[], 'bounded cache: the B user');
SELECT erp.use_token(:'t_sub');
SELECT is(pg_temp.seen(), ARRAY[:a, :a1, :a1a]::bigint[], 'bounded cache: the subtree user again, after eviction');

-- a prepared statement is planned once and serves each user with their rows
PREPARE t77_seen AS SELECT coalesce(array_agg(company_id ORDER BY company_id), '{}') FROM erp.partner WHERE name LIKE 't77 %';
SELECT erp.use_token(:'t_one');
SELECT results_eq('EXECUTE t77_seen', format('VALUES (ARRAY[%s,%s]::bigint[])', :b, :a1), 'prepared: the one-store user');
SELECT erp.use_token(:'t_sub');
SELECT results_eq('EXECUTE t77_seen', format('VALUES (ARRAY[%s,%s,%s]::bigint[])', :a, :a1, :a1a), 'prepared: the subtree user');
SELECT erp.sign_out();
SELECT results_eq('EXECUTE t77_seen', $$VALUES ('{}'::bigint[])$$, 'prepared: nobody signed in sees nothing');

SELECT * FROM finish();
ROLLBACK;
