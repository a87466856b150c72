-- Record rules with Odoo ir.rule semantics: global AND, role OR, WITH CHECK, drop, refused expressions and callers.
BEGIN;
\ir ../setup.sql
SELECT plan(39);

-- The ids of public.t_doc a user sees, signed in afresh (call as pgerp_app).
CREATE FUNCTION pg_temp.ids_as(p_login text) RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
    v int[];
BEGIN
    PERFORM erp.sign_out();
    PERFORM erp.sign_in(p_login, p_login || '-pass-1');
    SELECT coalesce(array_agg(d.id ORDER BY d.id), '{}') INTO v FROM public.t_doc d;
    RETURN v;
END $$;

-- The policies of a table, names and expressions, as one text.
CREATE FUNCTION pg_temp.policies(p_table regclass) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(p.polname || ' ' || p.polpermissive::text || ' ' || p.polcmd::text || ' '
                      || coalesce(pg_get_expr(p.polqual, p.polrelid), '-') || ' '
                      || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-'), E'\n' ORDER BY p.polname)
      FROM pg_policy p WHERE p.polrelid = p_table
$$;

SELECT * FROM pg_temp.make_tree() \gset
CREATE TABLE public.t_doc (company_id bigint NOT NULL, id int, owner text, state text);
SELECT erp.protect('public.t_doc') IS NULL AS ok \gset
GRANT SELECT, INSERT, UPDATE, DELETE ON public.t_doc TO pgerp_app;
SELECT erp.create_role('t85_r0', 'Docs, no rule', ARRAY['public.t_doc:*']) IS NOT NULL AS ok \gset
SELECT erp.create_role('t85_r1', 'Docs of r1', ARRAY['public.t_doc:*']) IS NOT NULL AS ok \gset
SELECT erp.create_role('t85_r2', 'Docs of r2', ARRAY['public.t_doc:*']) IS NOT NULL AS ok \gset
SELECT pg_temp.make_user('t85_u0', 't85_r0', :a, false) AS u0 \gset
SELECT pg_temp.make_user('t85_u1', 't85_r1', :a, false) AS u1 \gset
SELECT pg_temp.make_user('t85_u12', 't85_r1', :a, false) AS u12 \gset
SELECT erp.grant_role(:u12, 't85_r2', :a, false) IS NULL AS ok \gset
-- r1 on B only, r0 on A: role rules apply per company
SELECT pg_temp.make_user('t85_mix', 't85_r1', :b, false) AS umix \gset
SELECT erp.grant_role(:umix, 't85_r0', :a, false) IS NULL AS ok \gset
INSERT INTO public.t_doc VALUES
    (:a, 1, 'r1', 'draft'), (:a, 2, 'r2', 'draft'), (:a, 3, 'x', 'draft'),
    (:a, 4, 'r1', 'secret'), (:a, 5, 'r2', 'done'),
    (:b, 6, 'r1', 'draft'), (:b, 7, 'x', 'draft');

-- ------------------------------------------------------------------ no rule yet
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u1'), ARRAY[1, 2, 3, 4, 5], 'without rules a user of A sees every row of A');

-- ----------------------------------------------------------- role rule for r1
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.add_record_rule('public.t_doc', 't85_r1', $$owner = 'r1'$$) AS rule_r1 \gset
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u1'), ARRAY[1, 4], 'a user with r1 sees only the r1 rows');
SELECT is(pg_temp.ids_as('t85_u12'), ARRAY[1, 4], 'holding r2 as well, which has no rule, does not widen it');
SELECT is(pg_temp.ids_as('t85_u0'), ARRAY[1, 2, 3, 4, 5], 'a user holding no rule-bearing role sees all rows');
SELECT is(pg_temp.ids_as('t85_mix'), ARRAY[1, 2, 3, 4, 5, 6],
          'role rules apply per company: r1 on B filters B, r0 on A leaves A whole');

-- ----------------------------------------------------------- role rule for r2
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.add_record_rule('public.t_doc', 't85_r2', $$owner = 'r2'$$) AS rule_r2 \gset
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u12'), ARRAY[1, 2, 4, 5], 'a user with r1 and r2 sees r1 OR r2 rows');
SELECT is(pg_temp.ids_as('t85_u1'), ARRAY[1, 4], 'the r2 rule does not widen a user with r1 only');

-- ---------------------------------------------------------------- global rules
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.add_record_rule('public.t_doc', NULL, $$state <> 'secret'$$) AS rule_g1 \gset
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u0'), ARRAY[1, 2, 3, 5], 'a global rule hides the secret row from a user without role rules');
SELECT is(pg_temp.ids_as('t85_u12'), ARRAY[1, 2, 5], 'global AND (r1 OR r2)');
SELECT is(pg_temp.ids_as('t85_u1'), ARRAY[1], 'global AND r1');

RESET ROLE;
SELECT erp.sign_out();
SELECT erp.add_record_rule('public.t_doc', NULL, $$state <> 'done'$$) AS rule_g2 \gset
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u0'), ARRAY[1, 2, 3], 'two global rules are ANDed');
SELECT is(pg_temp.ids_as('t85_u12'), ARRAY[1, 2], 'two global rules AND (r1 OR r2)');

RESET ROLE;
SELECT erp.sign_out();
SELECT lives_ok(format('SELECT erp.drop_record_rule(%s)', :rule_g2), 'drop_record_rule drops the second global rule');
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u0'), ARRAY[1, 2, 3, 5], 'the dropped rule no longer applies');

-- ------------------------------------------------------------------ WITH CHECK
SELECT is(pg_temp.ids_as('t85_u1'), ARRAY[1], 't85_u1 is signed in');
SELECT throws_ok(format($$INSERT INTO public.t_doc VALUES (%s, 10, 'r2', 'draft')$$, :a), '42501',
                 'new row violates row-level security policy "pgerp_role_rules" for table "t_doc"',
                 'INSERT of a row the role rule does not allow (42501)');
SELECT throws_ok(format($$INSERT INTO public.t_doc VALUES (%s, 11, 'r1', 'secret')$$, :a), '42501',
                 format('new row violates row-level security policy "pgerp_rule_%s" for table "t_doc"', :rule_g1),
                 'INSERT of a row a global rule does not allow (42501)');
SELECT lives_ok(format($$INSERT INTO public.t_doc VALUES (%s, 12, 'r1', 'draft')$$, :a),
                'INSERT of a row every rule allows works');
SELECT throws_ok($$UPDATE public.t_doc SET owner = 'r2' WHERE id = 1$$, '42501',
                 'new row violates row-level security policy "pgerp_role_rules" for table "t_doc"',
                 'UPDATE taking a row out of the role rule (42501)');
SELECT is(pg_temp.ids_as('t85_u0'), ARRAY[1, 2, 3, 5, 12], 't85_u0 is signed in and sees the new row');
SELECT throws_ok(format($$INSERT INTO public.t_doc VALUES (%s, 13, 'x', 'secret')$$, :a), '42501',
                 format('new row violates row-level security policy "pgerp_rule_%s" for table "t_doc"', :rule_g1),
                 'global rules check writes of users without role rules too (42501)');

-- ------------------------------------------------------------ dropping a role rule
RESET ROLE;
SELECT erp.sign_out();
SELECT lives_ok(format('SELECT erp.drop_record_rule(%s)', :rule_r1), 'drop_record_rule drops the r1 rule');
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u1'), ARRAY[1, 2, 3, 5, 12], 'r1 no longer bears a rule: its user is restricted by the global rule only');
SELECT is(pg_temp.ids_as('t85_u12'), ARRAY[2, 5], 'a user with r1 and r2 is now restricted by the r2 rule alone');
RESET ROLE;
SELECT erp.sign_out();
SELECT set_eq($$SELECT polname::text FROM pg_policy WHERE polrelid = 'public.t_doc'::regclass$$,
              ARRAY['pgerp_read', 'pgerp_create', 'pgerp_write', 'pgerp_delete', 'pgerp_rule_' || :rule_g1, 'pgerp_role_rules'],
              'the policies are the four of protect(), the remaining global rule and the role rules');

-- ------------------------------------------------------------- refused additions
SELECT pg_temp.policies('public.t_doc') AS policies_before \gset
SELECT count(*) AS rules_before FROM erp.record_rule \gset
SELECT throws_ok($$SELECT erp.add_record_rule('public.t_doc', NULL, 'true) ; DROP TABLE public.t_doc; --')$$,
                 '22023', NULL, 'an expression with a second statement is refused (22023)');
SELECT throws_ok($$SELECT erp.add_record_rule('public.t_doc', 't85_r1', 'true) OR (true')$$,
                 '22023', NULL, 'an expression closing the parenthesis early is refused (22023)');
SELECT throws_ok($$SELECT erp.add_record_rule('public.t_doc', NULL, 'true) OR (true')$$,
                 '22023', NULL, 'the same as a global rule is refused (22023)');
SELECT has_table('public', 't_doc', 'the table still exists');
SELECT is(pg_temp.policies('public.t_doc'), :'policies_before', 'no policy changed');
SELECT is((SELECT count(*) FROM erp.record_rule), :rules_before::bigint, 'no rule was stored');
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u12'), ARRAY[2, 5], 'the refused expressions did not lift the r2 rule');
RESET ROLE;
SELECT erp.sign_out();
SELECT throws_ok($$SELECT erp.add_record_rule('public.t_doc', NULL, '  ')$$,
                 '22023', NULL, 'a blank expression (22023)');
SELECT throws_ok('SELECT erp.drop_record_rule(-1)', '22023', NULL, 'dropping a rule that does not exist (22023)');
SELECT throws_ok($$SELECT erp.add_record_rule('public.t_doc', 't85_no_such_role', 'true')$$,
                 '22023', NULL, 'an unknown role (22023)');
CREATE TABLE public.t85_plain (company_id bigint NOT NULL, id int);
SELECT throws_ok($$SELECT erp.add_record_rule('public.t85_plain', NULL, 'true')$$,
                 '55000', NULL, 'a table erp.protect() was not called on (55000)');
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.ids_as('t85_u1'), ARRAY[1, 2, 3, 5, 12], 't85_u1 is signed in');
SELECT throws_ok(format($$SELECT erp.add_record_rule('public.t_doc', NULL, 'true', %s)$$, :a),
                 '42501', 'permission denied for "erp.record_rule:create"',
                 'a user without erp.record_rule:create cannot add a rule (42501)');
SELECT throws_ok(format('SELECT erp.drop_record_rule(%s)', :rule_r2),
                 '42501', 'permission denied for a record rule of every company',
                 'a user who is no superuser cannot drop a rule of every company (42501)');

SELECT * FROM finish();
ROLLBACK;
