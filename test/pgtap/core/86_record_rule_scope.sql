-- Record rules (#11.1, 11.2): expressions analysed against the table (allow-list, 22023),
-- rules of a company apply to its rows only, global rules need a superuser, managing needs
-- the permission on the rule's company, hidden rules are "does not exist".
BEGIN;
\ir ../setup.sql
SELECT plan(58);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t86_carol', 'admin', :a) AS carol \gset
SELECT pg_temp.make_user('t86_dave', 'admin', :b) AS dave \gset
SELECT erp.create_partner(:a, 'Partner of A') AS pa \gset
SELECT erp.create_partner(:b, 'Partner of B') AS pb \gset
SELECT erp.create_partner(:b, 'Hidden of B') AS pbh \gset
SELECT erp.create_partner(:a1, 'Hidden of A1') AS pa1h \gset

-- Partner names a user sees, signed in afresh, as pgerp_app.
CREATE FUNCTION pg_temp.partners_as(p_login text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    v text[];
BEGIN
    PERFORM erp.sign_out();
    PERFORM erp.sign_in(p_login, p_login || '-pass-1');
    SELECT coalesce(array_agg(p.name ORDER BY p.name), '{}') INTO v FROM erp.partner p;
    RETURN v;
END $$;

-- Does carol hold a role on B?
CREATE FUNCTION pg_temp.carol_in_b(p_carol bigint, p_b bigint) RETURNS boolean
LANGUAGE sql AS $$ SELECT EXISTS (SELECT 1 FROM erp.user_role ur WHERE ur.user_id = p_carol AND ur.company_id = p_b) $$;

SELECT count(*) AS rules0 FROM erp.record_rule \gset

-- ------------------------------------------------ the reproduction of #11.1
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t86_carol');
SELECT throws_ok(format($$SELECT erp.add_record_rule('erp.partner', NULL,
                 'true OR (SELECT count(*) FROM (SELECT erp.grant_role(%s, ''admin'', %s)) g) >= 0', %s)$$, :carol, :b, :a),
                 '22023', NULL, 'a rule whose expression calls erp.grant_role in a subquery is refused (22023)');
SELECT throws_ok(format($$SELECT erp.add_record_rule('erp.partner', NULL,
                 '(SELECT count(*) FROM (SELECT erp.grant_role(%s, ''admin'', %s)) g) >= 0')$$, :carol, :b),
                 '42501', 'permission denied for a record rule of every company',
                 'the literal reproduction (a rule of every company) by a subsidiary admin is refused (42501)');
SELECT throws_ok(format($$SELECT erp.add_record_rule('erp.partner', NULL, 'erp.grant_role(%s, ''admin'', %s) IS NULL', %s)$$,
                        :carol, :b, :a),
                 '22023', NULL, 'erp.grant_role called directly is refused (22023)');
SELECT is(pg_temp.partners_as('t86_dave'), ARRAY['Hidden of B', 'Partner of B'], 'dave still sees all of B');
RESET ROLE;
SELECT ok(NOT pg_temp.carol_in_b(:carol, :b), 'carol did not become admin of B');
SELECT is((SELECT count(*) FROM erp.record_rule), :rules0::bigint, 'no rule was stored');

-- ------------------------------------------------ refused expressions (22023)
SELECT erp.sign_out();
CREATE FUNCTION public.t86_imm(bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE FUNCTION public.t86_vol(bigint, bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS
    $$ BEGIN PERFORM pg_notify('t86', 'leak'); RETURN true; END $$;
CREATE OPERATOR public.=== (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.t86_vol);
CREATE FUNCTION pg_temp.t86_tmp(bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE DOMAIN public.t86_dom AS bigint CHECK (public.t86_vol(VALUE, VALUE));
CREATE SEQUENCE public.t86_seq;
CREATE TYPE pg_temp.t86_e AS ENUM ('a');

-- 'SQLSTATE' of add_record_rule on erp.partner of company A, as the bootstrap caller.
CREATE FUNCTION pg_temp.refusal(p_expr text, p_company bigint) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM erp.add_record_rule('erp.partner', NULL, p_expr, p_company);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

SELECT is(pg_temp.refusal($$pg_notify('x', name) IS NULL$$, :a), '22023', 'pg_notify (22023)');
SELECT is(pg_temp.refusal($$set_config('pgerp.x', name, false) IS NOT NULL$$, :a), '22023', 'set_config (22023)');
SELECT is(pg_temp.refusal($$pg_sleep(1) IS NULL$$, :a), '22023', 'pg_sleep (22023)');
SELECT is(pg_temp.refusal($$nextval('public.t86_seq') > 0$$, :a), '22023', 'nextval (22023)');
SELECT is(pg_temp.refusal($$currval('public.t86_seq') > 0$$, :a), '22023', 'currval (22023)');
SELECT is(pg_temp.refusal($$random() > 0.5$$, :a), '22023', 'a volatile built-in: random() (22023)');
SELECT is(pg_temp.refusal($$now() > created_at$$, :a), '22023', 'a stable built-in: now() (22023)');
SELECT is(pg_temp.refusal($$current_date IS NOT NULL$$, :a), '22023', 'CURRENT_DATE (22023)');
SELECT is(pg_temp.refusal($$pg_read_file('/etc/passwd') IS NULL$$, :a), '22023', 'pg_read_file (22023)');
SELECT is(pg_temp.refusal($$dblink_exec('dbname=pgerp', 'SELECT 1') IS NULL$$, :a), '22023', 'a dblink-like call, unknown here (22023)');
SELECT is(pg_temp.refusal($$public.t86_imm(id)$$, :a), '22023', 'a user-defined SQL function declared IMMUTABLE (22023)');
SELECT is(pg_temp.refusal($$pg_temp.t86_tmp(id)$$, :a), '22023', 'a function in pg_temp (22023)');
SELECT is(pg_temp.refusal($$id OPERATOR(public.===) id$$, :a), '22023', 'an operator whose function is volatile (22023)');
SELECT is(pg_temp.refusal($$id::public.t86_dom > 0$$, :a), '22023', 'a cast to a domain with a volatile check (22023)');
SELECT is(pg_temp.refusal($$'a'::pg_temp.t86_e IS NOT NULL$$, :a), '22023', 'a constant of a temporary type (22023)');
SELECT is(pg_temp.refusal($$1 / 0 = 1$$, :a), '22023', 'a constant part that fails when folded (22023)');
SELECT is(pg_temp.refusal($$name COLLATE "C" > 'a'$$, :a), '22023', 'a COLLATE clause (22023)');
SELECT is(pg_temp.refusal($$EXISTS (SELECT 1 FROM erp.app_user)$$, :a), '22023', 'EXISTS subquery (22023)');
SELECT is(pg_temp.refusal($$id IN (SELECT 1)$$, :a), '22023', 'IN subquery (22023)');
SELECT is(pg_temp.refusal($$no_such_column = 1$$, :a), '22023', 'an unknown column (22023)');
SELECT is(pg_temp.refusal($$no_such_function(id)$$, :a), '22023', 'an unknown function (22023)');
SELECT is(pg_temp.refusal($$ctid IS NOT NULL$$, :a), '22023', 'a system column (22023)');
SELECT is(pg_temp.refusal($$name$$, :a), '22023', 'a text expression, not boolean (22023)');
SELECT is(pg_temp.refusal($$count(*) > 0$$, :a), '22023', 'an aggregate (22023)');
SELECT is(pg_temp.refusal($$generate_series(1, 2) > 0$$, :a), '22023', 'a set-returning function (22023)');
SELECT is(pg_temp.refusal($$$1 IS NULL$$, :a), '22023', 'a parameter (22023)');
SELECT is(pg_temp.refusal($$md5(name) <> ''$$, :a), '22023', 'an immutable built-in not on the allow-list (22023)');
SELECT is(pg_temp.refusal($$name::regclass IS NOT NULL$$, :a), '22023', 'a cast through a non-immutable input function (22023)');
SELECT is(pg_temp.refusal($$erp.has_permission('erp.partner:read')$$, :a), '22023', 'another erp function (22023)');
SELECT alike(pg_temp.error_detail(format($$SELECT erp.add_record_rule('erp.partner', NULL, 'pg_notify(''x'', name) IS NULL', %s)$$, :a)),
            '22023: The function pg_notify(text,text) is refused: it is not immutable.%',
            'the detail names the refused function and why');
SELECT is((SELECT count(*) FROM erp.record_rule), :rules0::bigint, 'no refused rule was stored');

-- ------------------------------------------------ accepted expressions
SELECT is(pg_temp.refusal($$lower(name) <> 'x' AND company_id = ANY (erp.allowed_company_ids())
                           AND coalesce(email, '') NOT LIKE '%@x' AND id::text <> '0' AND length(name) BETWEEN 1 AND 1000
                           AND CASE WHEN active THEN true ELSE id > 0 END AND erp.current_user_id() IS DISTINCT FROM 0
                           AND (erp.current_company_id() IS NULL OR erp.current_company_id() > 0) AND greatest(id, 1) > 0$$, :a),
          'accepted', 'columns, constants, operators, casts, CASE, listed functions and the erp identity functions are accepted');
SELECT lives_ok(format($$SELECT erp.drop_record_rule(%s)$$, (SELECT max(id) FROM erp.record_rule)), 'and dropped again');

-- ------------------------------------------------ a rule applies to its company's rows only
SELECT erp.sign_out();
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t86_dave');
SELECT erp.add_record_rule('erp.partner', NULL, $$name NOT LIKE 'Hidden%'$$, :b) AS rule_b \gset
SELECT is((SELECT company_id FROM erp.record_rule WHERE id = :rule_b), :b::bigint, 'dave''s rule belongs to B');
SELECT is(pg_temp.partners_as('t86_dave'), ARRAY['Partner of B'], 'B''s rule hides B''s row from dave');
SELECT is(pg_temp.partners_as('t86_carol'), ARRAY['Hidden of A1', 'Partner of A'], 'B''s rule does not affect A''s rows');
SELECT pg_temp.login('t86_carol');
SELECT erp.add_record_rule('erp.partner', NULL, $$name NOT LIKE 'Hidden%'$$, :a) AS rule_a \gset
SELECT is(pg_temp.partners_as('t86_carol'), ARRAY['Partner of A'], 'A''s rule covers A''s descendant A1');

-- a rule that fails on its own rows is evaluated only for them
SELECT pg_temp.login('t86_dave');
SELECT erp.add_record_rule('erp.partner', NULL, $$1 / (id - id) = 0$$, :b) AS rule_b0 \gset
SELECT throws_ok('SELECT count(*) FROM erp.partner', '22012', NULL, 'a failing rule of B fails on B''s rows');
SELECT is(pg_temp.partners_as('t86_carol'), ARRAY['Partner of A'], 'and is not evaluated for A''s rows');
SELECT pg_temp.login('t86_dave');
SELECT lives_ok(format('SELECT erp.drop_record_rule(%s)', :rule_b0), 'dave drops it');

-- ------------------------------------------------ managing rules (#11.2)
SELECT pg_temp.login('t86_carol');
SELECT throws_ok(format('SELECT erp.drop_record_rule(%s)', :rule_b), '22023',
                 format('record rule %s does not exist', :rule_b), 'carol cannot drop B''s rule: it does not exist for her');
SELECT throws_ok(format('SELECT erp.drop_record_rule(%s)', :rule_b + 100000), '22023',
                 format('record rule %s does not exist', :rule_b + 100000), 'the same answer as for a rule that does not exist');
SELECT throws_ok(format($$SELECT erp.add_record_rule('erp.partner', NULL, 'false', %s)$$, :b), '42501', NULL,
                 'carol cannot add a rule to B (42501)');
SELECT throws_ok($$SELECT erp.add_record_rule('erp.partner', NULL, 'false')$$, '42501',
                 'permission denied for a record rule of every company', 'carol cannot add a global rule (42501)');
SELECT is((SELECT array_agg(id ORDER BY id) FROM erp.record_rule), ARRAY[:rule_a]::bigint[],
          'carol sees her own company''s rule only');
SELECT is(pg_temp.partners_as('t86_dave'), ARRAY['Partner of B'], 'B''s rule is still in force');
SELECT pg_temp.login('t86_dave');
SELECT lives_ok(format('SELECT erp.drop_record_rule(%s)', :rule_b), 'dave drops B''s rule');
SELECT is(pg_temp.partners_as('t86_dave'), ARRAY['Hidden of B', 'Partner of B'], 'the dropped rule no longer applies');

-- ------------------------------------------------ global rules need a superuser
RESET ROLE;
SELECT erp.sign_out();
SELECT erp.add_record_rule('erp.partner', NULL, $$name <> 'Partner of B'$$) AS rule_g \gset
SELECT ok((SELECT company_id IS NULL FROM erp.record_rule WHERE id = :rule_g), 'the bootstrap caller adds a global rule');
SET LOCAL ROLE pgerp_app;
SELECT is(pg_temp.partners_as('t86_dave'), ARRAY['Hidden of B'], 'a global rule applies to B');
SELECT throws_ok(format('SELECT erp.drop_record_rule(%s)', :rule_g), '42501',
                 'permission denied for a record rule of every company', 'dave cannot drop a global rule (42501)');
RESET ROLE;
-- a signed-in superuser connection manages global rules too
SELECT pg_temp.login('t86_dave');
SELECT lives_ok(format('SELECT erp.drop_record_rule(%s)', :rule_g), 'a signed-in superuser drops a global rule');

SELECT * FROM finish();
ROLLBACK;
