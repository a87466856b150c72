-- erp.audit_log: one entry per audited operation (partners, a stock receipt, grants, a scratch table's
-- insert/update/delete/truncate), who/when/transaction/company, redaction of bytea, no-op updates,
-- erp.audit/erp.unaudit and their SQLSTATEs, append-only, privileges, read access per role.
BEGIN;
\ir ../setup.sql
SELECT plan(73);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('au10_mgr', 'stock_manager', :a) AS mgr \gset
SELECT pg_temp.make_user('au10_aud', 'auditor', :a) AS aud \gset
SELECT pg_temp.make_user('au10_audb', 'auditor', :b) AS audb \gset
SELECT stock.create_warehouse(:a, 'AU10') AS wh \gset
SELECT stock.create_product(:a, 'AU10-P', 'Audited product') AS prod \gset
SELECT erp.sign_out() AS signed_out \gset

-- The entries written since a mark, as the superuser sees them.
CREATE FUNCTION pg_temp.since(p_mark bigint) RETURNS SETOF erp.audit_log
LANGUAGE sql AS $$ SELECT * FROM erp.audit_log WHERE id > p_mark ORDER BY id $$;

-- ------------------------------------------------------------------ audited by default
SELECT set_has(
    $$SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = 'audit' AND tgfoid = 'erp._audit_trigger'::regproc$$,
    $$VALUES ('erp.user_role'), ('erp.role'), ('erp.crypto_key'), ('erp.partner'), ('stock.move'),
             ('stock.valuation_layer'), ('stock.product')$$,
    'grants, roles, data keys, partners, moves, valuation layers and products are audited by default');
-- tgtype: 29 = ROW | INSERT | DELETE | UPDATE (AFTER); 32 = TRUNCATE (AFTER, statement)
SELECT is((SELECT count(*)::int FROM pg_trigger t
            WHERE t.tgrelid IN ('erp.user_role'::regclass, 'erp.role'::regclass, 'erp.crypto_key'::regclass,
                                'erp.partner'::regclass, 'stock.move'::regclass, 'stock.valuation_layer'::regclass,
                                'stock.product'::regclass)
              AND t.tgfoid = 'erp._audit_trigger'::regproc AND t.tgenabled = 'O'
              AND ((t.tgname = 'audit' AND t.tgtype = 29) OR (t.tgname = 'audit_truncate' AND t.tgtype = 32)
                   OR (t.tgname = 'audit_flush' AND t.tgtype = 28))), 21,
          'each of the 7 has an enabled AFTER ROW insert/update/delete trigger, an AFTER insert/update/delete statement trigger and an AFTER TRUNCATE statement trigger');
SELECT is((SELECT count(*)::int FROM pg_trigger
            WHERE tgrelid IN ('erp.audit_log'::regclass, 'erp.audit_chain'::regclass, 'erp.audit_seal_state'::regclass)
              AND tgfoid = 'erp._audit_trigger'::regproc), 0,
          'the audit tables themselves are not audited');

-- ------------------------------------------------------------------ partner: insert, update, delete
SELECT coalesce(max(id), 0) AS m_partner FROM erp.audit_log \gset
SELECT pg_temp.login('au10_mgr', :a);
SET LOCAL ROLE pgerp_app;
SELECT erp.create_partner(:a, 'AU10 Vendor', 'vendor', 'au10.secret@vendor.example', '+1 555 0110') AS p \gset
SELECT current_user AS writer \gset
UPDATE erp.partner SET kind = 'both', name = 'AU10 Vendor Two' WHERE id = :p;
UPDATE erp.partner SET email = erp.plain('au10.other@vendor.example') WHERE id = :p;
UPDATE erp.partner SET phone = NULL WHERE id = :p;
UPDATE erp.partner SET name = name, kind = kind, active = active WHERE id = :p;
SELECT count(*) AS seen_as_mgr FROM erp.audit_log \gset
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

SELECT is(:'writer'::text, 'pgerp_app', 'the partner was written under the application role');
SELECT results_eq(
    format($$SELECT company_id, user_id, db_role = 'pgerp_app', tx = pg_current_xact_id(), rel, op, pk
               FROM pg_temp.since(%s) WHERE op = 'insert'$$, :m_partner),
    format($$VALUES (%s::bigint, %s::bigint, true, true, 'erp.partner'::text, 'insert'::text,
                     jsonb_build_object('id', %s::text, 'company_id', %s::text))$$, :a, :mgr, :p, :a),
    'insert entry: company A, the signed-in pgerp user, the calling role, this transaction, table, key as text');
SELECT results_eq(
    format($$SELECT changes->>'id', changes->>'company_id', changes->>'name', changes->>'kind', changes->>'active',
                    changes->>'created_at' = (SELECT created_at::text FROM erp.partner WHERE id = %s)
               FROM pg_temp.since(%s) WHERE op = 'insert'$$, :p, :m_partner),
    format($$VALUES (%L, %L, 'AU10 Vendor', 'vendor', 't', true)$$, :p, :a),
    'insert entry: the column values as text');
SELECT results_eq(
    format($$SELECT changes->>'email', changes->>'phone', changes->>'email_bidx', changes->>'phone_bidx'
               FROM pg_temp.since(%s) WHERE op = 'insert'$$, :m_partner),
    $$VALUES ('[redacted]'::text, '[redacted]'::text, '[redacted]'::text, '[redacted]'::text)$$,
    'insert entry: the encrypted e-mail and phone (bytea) and their blind indexes are [redacted]');
SELECT ok((SELECT NOT (changes ? 'tax_id') FROM pg_temp.since(:m_partner) WHERE op = 'insert'),
          'insert entry: a NULL column (tax_id) is left out');
SELECT results_eq(
    format($$SELECT changes FROM pg_temp.since(%s) WHERE op = 'update' AND rel = 'erp.partner'$$, :m_partner),
    $$VALUES ('{"kind": ["vendor", "both"], "name": ["AU10 Vendor", "AU10 Vendor Two"]}'::jsonb),
             ('{"email": ["[redacted]", "[redacted]"], "email_bidx": ["[redacted]", "[redacted]"]}'::jsonb),
             ('{"phone": ["[redacted]", null], "phone_bidx": ["[redacted]", null]}'::jsonb)$$,
    'update entries: [old, new] of the changed columns only, encrypted ones redacted, NULL as null; the no-op UPDATE wrote nothing');
SELECT results_eq(
    format($$SELECT DISTINCT company_id, user_id, pk FROM pg_temp.since(%s) WHERE op = 'update' AND rel = 'erp.partner'$$, :m_partner),
    format($$VALUES (%s::bigint, %s::bigint, jsonb_build_object('id', %s::text, 'company_id', %s::text))$$, :a, :mgr, :p, :a),
    'update entries carry the company, the user and the key of the row');
SELECT is(:seen_as_mgr::int, 0, 'a stock_manager reads none of erp.audit_log (not even the entries of his own changes)');

SELECT pg_temp.login('au10_mgr', :a);
SET LOCAL ROLE pgerp_app;
DELETE FROM erp.partner WHERE id = :p;
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
SELECT results_eq(
    format($$SELECT company_id, user_id, changes->>'name', changes->>'kind', changes->>'email', changes ? 'phone'
               FROM pg_temp.since(%s) WHERE op = 'delete'$$, :m_partner),
    format($$VALUES (%s::bigint, %s::bigint, 'AU10 Vendor Two', 'both', '[redacted]', false)$$, :a, :mgr),
    'delete entry: the last values of the row (phone now NULL, so absent), e-mail redacted');
SELECT is(ARRAY(SELECT op FROM pg_temp.since(:m_partner) WHERE rel = 'erp.partner' AND pk->>'id' = :'p'),
          ARRAY['insert', 'update', 'update', 'update', 'delete'],
          'the partner''s history: insert, three updates, delete');
-- (sign-ins and sign-outs, made before SET ROLE, are entries of erp.sign_in and erp.app_user)
SELECT is((SELECT count(*)::int FROM pg_temp.since(:m_partner)
            WHERE rel NOT IN ('erp.sign_in', 'erp.app_user') AND (tx <> pg_current_xact_id() OR db_role <> 'pgerp_app')),
          0, 'every entry of this transaction carries its transaction id and the calling role');
SELECT is((SELECT count(*)::int FROM erp.audit_log l
            WHERE strpos(l::text, 'au10.secret@vendor.example') > 0 OR strpos(l::text, 'au10.other@vendor.example') > 0
               OR strpos(l::text, '555 0110') > 0 OR strpos(l::text, '5550110') > 0), 0,
          'neither e-mail address nor the phone number appears anywhere in erp.audit_log');

-- nobody signed in; a savepoint
SELECT coalesce(max(id), 0) AS m_boot FROM erp.audit_log \gset
SAVEPOINT sp_in;
SELECT erp.create_partner(:a1, 'AU10 Bootstrap Vendor') AS pboot \gset
RELEASE SAVEPOINT sp_in;
SAVEPOINT sp_gone;
SELECT erp.create_partner(:a1, 'AU10 Rolled Back') AS pgone \gset
ROLLBACK TO SAVEPOINT sp_gone;
SELECT results_eq(
    format($$SELECT company_id, user_id, db_role = current_user, tx = pg_current_xact_id(), changes->>'name' FROM pg_temp.since(%s)$$, :m_boot),
    format($$VALUES (%s::bigint, NULL::bigint, true, true, 'AU10 Bootstrap Vendor')$$, :a1),
    'written by the superuser with nobody signed in: user_id NULL; inside a savepoint: the top transaction id; a rolled-back savepoint leaves no entry');

-- grants and roles
SELECT coalesce(max(id), 0) AS m_grant FROM erp.audit_log \gset
SELECT erp.create_role('au10_role', 'AU10 role', ARRAY['erp.partner:read']) AS role_id \gset
SELECT pg_temp.make_user('au10_user', 'au10_role', :b, false) AS usr \gset
SELECT results_eq(
    format($$SELECT rel, op, company_id, changes->>'code', changes->>'role_id', changes->>'user_id', changes->>'include_children'
               FROM pg_temp.since(%s) WHERE rel IN ('erp.role', 'erp.user_role')$$, :m_grant),
    format($$VALUES ('erp.role'::text, 'insert'::text, NULL::bigint, 'au10_role'::text, NULL::text, NULL::text, NULL::text),
                    ('erp.user_role', 'insert', %s, NULL, %L, %L, 'f')$$, :b, :role_id, :usr),
    'creating a role and granting it: an erp.role entry without company and an erp.user_role entry of company B');

-- ------------------------------------------------------------------ a stock receipt
SELECT coalesce(max(id), 0) AS m_stock FROM erp.audit_log \gset
SELECT pg_temp.login('au10_mgr', :a);
SET LOCAL ROLE pgerp_app;
SELECT stock.receive(:prod, 5, 10, :wh, 'AU10-IN') AS mv \gset
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
SELECT results_eq(
    format($$SELECT op, changes->>'ref', changes->>'product_id' FROM pg_temp.since(%s)
              WHERE rel = 'stock.move' AND pk = jsonb_build_object('id', %s::text, 'company_id', %s::text) AND op = 'insert'$$,
           :m_stock, :mv, :a),
    format($$VALUES ('insert'::text, 'AU10-IN'::text, %L::text)$$, :prod),
    'stock.receive: an insert entry for the move, keyed by (id, company_id)');
SELECT ok((SELECT bool_or(changes->'state' = '["draft", "done"]'::jsonb) FROM pg_temp.since(:m_stock)
            WHERE rel = 'stock.move' AND op = 'update' AND pk->>'id' = :'mv'),
          'stock.receive: an update entry of the move from draft to done');
SELECT results_eq(
    format($$SELECT changes->>'move_id', changes->>'product_id', (changes->>'value')::numeric
               FROM pg_temp.since(%s) WHERE rel = 'stock.valuation_layer' AND op = 'insert'$$, :m_stock),
    format($$VALUES (%L::text, %L::text, 50::numeric)$$, :mv, :prod),
    'stock.receive: an insert entry for its valuation layer worth 50');
SELECT results_eq(
    format($$SELECT count(*)::int, count(*) FILTER (WHERE company_id = %s AND user_id = %s AND db_role = 'pgerp_app'
                                                      AND tx = pg_current_xact_id())::int
               FROM pg_temp.since(%s) WHERE rel LIKE 'stock.%%'$$, :a, :mgr, :m_stock),
    format($$SELECT count(*)::int, count(*)::int FROM pg_temp.since(%s) WHERE rel LIKE 'stock.%%' HAVING count(*) >= 3$$, :m_stock),
    'every entry of the receipt (at least 3) has company A, the manager, the calling role and this transaction');

-- ------------------------------------------------------------------ erp.audit / erp.unaudit on a scratch table
CREATE TABLE public.au10_scratch (id int PRIMARY KEY, company_id bigint, note text, big text, secret bytea);
CREATE VIEW public.au10_view AS SELECT id, note FROM public.au10_scratch;
CREATE SEQUENCE public.au10_seq;
SELECT string_agg(md5(i::text), '') AS big FROM generate_series(1, 200) i \gset

SELECT lives_ok($$SELECT erp.audit('public.au10_scratch')$$, 'erp.audit() on a new table');
SELECT results_eq(
    $$SELECT tgname::text COLLATE "default", tgtype::int, tgfoid = 'erp._audit_trigger'::regproc FROM pg_trigger
       WHERE tgrelid = 'public.au10_scratch'::regclass ORDER BY tgname$$,
    $$VALUES ('audit'::text, 29, true), ('audit_flush', 28, true), ('audit_truncate', 32, true)$$,
    'it creates the AFTER ROW trigger audit, the AFTER STATEMENT trigger audit_flush and the AFTER TRUNCATE statement trigger audit_truncate');
SELECT lives_ok($$SELECT erp.audit('public.au10_scratch')$$, 'erp.audit() again is accepted');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'public.au10_scratch'::regclass), 3,
          'and adds no trigger (idempotent)');

SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
INSERT INTO public.au10_scratch VALUES (1, :a, 'first', :'big', '\xdeadbeef');
SELECT results_eq(
    format($$SELECT company_id, user_id, rel, op, pk, changes->>'note', changes->>'secret', changes->>'big' = %L
               FROM pg_temp.since(%s)$$, :'big', :m_scr),
    format($$VALUES (%s::bigint, NULL::bigint, 'public.au10_scratch'::text, 'insert'::text, '{"id": "1"}'::jsonb,
                     'first'::text, '[redacted]'::text, true)$$, :a),
    'one insert entry (not two: one trigger), company from company_id, key, bytea redacted, a long text in full');
SELECT is((SELECT count(*)::int FROM erp.audit_log l WHERE strpos(l::text, 'deadbeef') > 0), 0,
          'the bytea value appears nowhere in the log');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
UPDATE public.au10_scratch SET secret = '\xcafe', note = 'second' WHERE id = 1;
SELECT results_eq(
    format($$SELECT op, changes FROM pg_temp.since(%s)$$, :m_scr),
    $$VALUES ('update'::text, '{"note": ["first", "second"], "secret": ["[redacted]", "[redacted]"]}'::jsonb)$$,
    'update of a bytea column: recorded as changed, both values redacted');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
UPDATE public.au10_scratch SET note = 'second', company_id = company_id, secret = '\xcafe' WHERE id = 1;
SELECT is((SELECT count(*)::int FROM pg_temp.since(:m_scr)), 0, 'an UPDATE writing the same values writes no entry');
-- an application writing back every column it read: the long (TOASTed) text is the same text
UPDATE public.au10_scratch SET note = 'second', big = :'big' WHERE id = 1;
SELECT is((SELECT count(*)::int FROM pg_temp.since(:m_scr)), 0,
          'an UPDATE writing the same long (TOASTed) text writes no entry either');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
INSERT INTO public.au10_scratch (id, note) VALUES (2, 'no company'), (3, 'third');
DELETE FROM public.au10_scratch WHERE id = 3;
SELECT results_eq(
    format($$SELECT op, company_id, pk, changes FROM pg_temp.since(%s)$$, :m_scr),
    $$VALUES ('insert'::text, NULL::bigint, '{"id": "2"}'::jsonb, '{"id": "2", "note": "no company"}'::jsonb),
             ('insert', NULL, '{"id": "3"}', '{"id": "3", "note": "third"}'),
             ('delete', NULL, '{"id": "3"}', '{"id": "3", "note": "third"}')$$,
    'one entry per row; NULL company_id gives a NULL company; delete records the whole row');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
TRUNCATE public.au10_scratch;
SELECT results_eq(
    format($$SELECT company_id, user_id, db_role = current_user, tx = pg_current_xact_id(), rel, op, pk, changes FROM pg_temp.since(%s)$$, :m_scr),
    $$VALUES (NULL::bigint, NULL::bigint, true, true, 'public.au10_scratch'::text, 'truncate'::text,
              NULL::jsonb, '{}'::jsonb)$$,
    'TRUNCATE writes exactly one truncate entry (no key, no changes, no per-row deletes)');

SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
SELECT lives_ok($$SELECT erp.unaudit('public.au10_scratch')$$, 'erp.unaudit() on the audited table');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'public.au10_scratch'::regclass), 0,
          'both triggers are dropped');
SELECT results_eq(
    format($$SELECT company_id, user_id, db_role = current_user, tx = pg_current_xact_id(), rel, op, pk, changes FROM pg_temp.since(%s)$$, :m_scr),
    $$VALUES (NULL::bigint, NULL::bigint, true, true, 'public.au10_scratch'::text, 'unaudit'::text,
              NULL::jsonb, '{}'::jsonb)$$,
    'erp.unaudit() leaves an unaudit entry naming the table');
INSERT INTO public.au10_scratch (id, note) VALUES (4, 'unaudited');
TRUNCATE public.au10_scratch;
SELECT is((SELECT count(*)::int FROM pg_temp.since(:m_scr)), 1, 'after unaudit, neither INSERT nor TRUNCATE writes an entry');
SELECT throws_ok($$SELECT erp.unaudit('public.au10_scratch')$$, '22023', 'public.au10_scratch is not audited',
                 'unaudit of a table that is not audited (22023)');
SELECT throws_ok($$SELECT erp.audit('erp.audit_log')$$, '22023', 'the audit tables cannot be audited',
                 'erp.audit_log cannot be audited (22023)');
SELECT throws_ok($$SELECT erp.audit('erp.audit_chain')$$, '22023', 'the audit tables cannot be audited',
                 'erp.audit_chain cannot be audited (22023)');
SELECT throws_ok($$SELECT erp.audit('erp.audit_seal_state')$$, '22023', 'the audit tables cannot be audited',
                 'erp.audit_seal_state cannot be audited (22023)');
SELECT throws_ok($$SELECT erp.audit('public.au10_view')$$, '42809', 'public.au10_view is not a table',
                 'a view cannot be audited (42809)');
SELECT throws_ok($$SELECT erp.audit('public.au10_seq')$$, '42809', 'public.au10_seq is not a table',
                 'a sequence cannot be audited (42809)');
SELECT throws_ok($$SELECT erp.audit(NULL)$$, '22004', 'table must not be null', 'erp.audit(NULL) (22004)');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid IN ('public.au10_view'::regclass, 'erp.audit_log'::regclass)
              AND tgname LIKE 'audit%'), 0, 'the refused calls created no trigger');

-- a domain over bytea is bytea too
CREATE DOMAIN public.au10_sealed AS bytea;
CREATE TABLE public.au10_dom (id int PRIMARY KEY, s public.au10_sealed);
SELECT erp.audit('public.au10_dom');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
INSERT INTO public.au10_dom VALUES (1, '\x0badc0de');
SELECT is((SELECT changes->>'s' FROM pg_temp.since(:m_scr)), '[redacted]',
          'a column of a domain over bytea is redacted like bytea');

-- a partitioned table: its partitions are the table's rows too
CREATE TABLE public.au10_part (company_id bigint, id int, note text, PRIMARY KEY (company_id, id)) PARTITION BY LIST (company_id);
CREATE TABLE public.au10_part_a PARTITION OF public.au10_part FOR VALUES IN (:a);
CREATE TABLE public.au10_part_b PARTITION OF public.au10_part FOR VALUES IN (:b);
SELECT erp.audit('public.au10_part');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
INSERT INTO public.au10_part VALUES (:a, 1, 'in A'), (:b, 1, 'in B');
SELECT results_eq(format('SELECT op, company_id FROM pg_temp.since(%s)', :m_scr),
                  format($$VALUES ('insert'::text, %s::bigint), ('insert', %s)$$, :a, :b),
                  'an audited partitioned table: one insert entry per row, whatever the partition');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
TRUNCATE public.au10_part_b;
SELECT is((SELECT count(*)::int FROM pg_temp.since(:m_scr) WHERE op = 'truncate'), 1,
          'TRUNCATE of one partition of an audited partitioned table writes a truncate entry');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
TRUNCATE public.au10_part;
SELECT results_eq(format('SELECT rel, op FROM pg_temp.since(%s) WHERE op = $$truncate$$ ORDER BY rel', :m_scr),
                  $$VALUES ('public.au10_part_a'::text, 'truncate'::text), ('public.au10_part_b', 'truncate')$$,
                  'TRUNCATE of the partitioned table writes a truncate entry per partition, naming it as row entries do');

-- not a superuser
SELECT erp.audit('public.au10_scratch');
SELECT coalesce(max(id), 0) AS m_scr FROM erp.audit_log \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT erp.audit('erp.record_rule')$$, '42501', 'permission denied for function audit',
          'erp.audit() is not published to the application role (42501)');
SELECT throws_ok($$SELECT erp.unaudit('public.au10_scratch')$$, '42501', 'permission denied for function unaudit',
          'erp.unaudit() is not published to the application role (42501)');
RESET ROLE;
SELECT results_eq(
    $$SELECT tgrelid = 'public.au10_scratch'::regclass, count(*)::int FROM pg_trigger
       WHERE tgrelid IN ('public.au10_scratch'::regclass, 'erp.record_rule'::regclass) AND tgname LIKE 'audit%' GROUP BY 1$$,
    $$VALUES (true, 3)$$,
    'the refused calls changed no trigger: the scratch table is still audited, erp.record_rule is not');
SELECT is((SELECT count(*)::int FROM pg_temp.since(:m_scr)), 0, 'and wrote no entry');

-- ------------------------------------------------------------------ append-only, privileges
SELECT count(*) AS n_log, max(id) AS max_id FROM erp.audit_log \gset
SELECT throws_ok(format('UPDATE erp.audit_log SET changes = %L WHERE id = %s', '{}', :max_id), '42501',
                 'the audit log is append-only', 'a superuser''s UPDATE of erp.audit_log is refused (42501)');
SELECT is(pg_temp.error_detail(format('UPDATE erp.audit_log SET op = op WHERE id = %s', :max_id)),
          '42501: UPDATE on erp.audit_log is refused.', 'the detail names the operation and the table');
SELECT throws_ok(format('DELETE FROM erp.audit_log WHERE id = %s', :max_id), '42501',
                 'the audit log is append-only', 'a superuser''s DELETE from erp.audit_log is refused (42501)');
SELECT throws_ok('TRUNCATE erp.audit_log', '42501', 'the audit log is append-only',
                 'a superuser''s TRUNCATE of erp.audit_log is refused (42501)');
SELECT throws_ok('TRUNCATE erp.audit_chain', '42501', 'the audit log is append-only',
                 'a superuser''s TRUNCATE of erp.audit_chain is refused (42501)');

SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$INSERT INTO erp.audit_log (db_role, tx, at, rel, op, changes)
                   VALUES ('x', '1', now(), 'erp.partner', 'insert', '{}')$$, '42501',
                 'permission denied for table audit_log', 'the application role cannot INSERT into erp.audit_log');
SELECT throws_ok(format('UPDATE erp.audit_log SET changes = %L WHERE id = %s', '{}', :max_id), '42501',
                 'permission denied for table audit_log', 'nor UPDATE it');
SELECT throws_ok(format('DELETE FROM erp.audit_log WHERE id = %s', :max_id), '42501',
                 'permission denied for table audit_log', 'nor DELETE from it');
SELECT throws_ok('TRUNCATE erp.audit_log', '42501', 'permission denied for table audit_log', 'nor TRUNCATE it');
SELECT throws_ok($$SELECT erp._audit_note('erp.partner', 'delete', '{}')$$, '42501', NULL,
                 'nor write an entry through erp._audit_note()');
SELECT throws_ok('SELECT count(*) FROM erp.audit_chain', '42501', 'permission denied for table audit_chain',
                 'nor read erp.audit_chain');
SELECT throws_ok($$INSERT INTO erp.audit_chain VALUES (1000000, 1000000, '\x00')$$, '42501',
                 'permission denied for table audit_chain', 'nor INSERT into erp.audit_chain');
RESET ROLE;
SELECT results_eq('SELECT count(*), max(id) FROM erp.audit_log', format('VALUES (%s::bigint, %s::bigint)', :n_log, :max_id),
                  'erp.audit_log is unchanged by the refused statements');

-- ------------------------------------------------------------------ read access
SELECT erp.create_partner(:a, 'AU10 RLS A') AS ra \gset
SELECT erp.create_partner(:a1, 'AU10 RLS A1') AS ra1 \gset
SELECT erp.create_partner(:b, 'AU10 RLS B') AS rb \gset
SELECT erp.create_partner(:g, 'AU10 RLS G') AS rg \gset

SELECT pg_temp.login('au10_aud', :a);
SET LOCAL ROLE pgerp_app;
SELECT set_eq($$SELECT changes->>'name' FROM erp.audit_log WHERE rel = 'erp.partner' AND changes->>'name' LIKE 'AU10 RLS %'$$,
              ARRAY['AU10 RLS A', 'AU10 RLS A1'],
              'an auditor of A (with children) reads the entries of A and A1, not those of B or G');
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE company_id NOT IN (:a, :a1)), 0,
          'no entry of another company is visible to the auditor of A');
SELECT ok((SELECT count(*) FROM erp.audit_log WHERE pk->>'id' = :'p' AND rel = 'erp.partner') = 5,
          'the auditor of A reads the whole history of a partner of A');
SELECT ok((SELECT count(*) FROM erp.audit_log WHERE company_id IS NULL AND rel = 'erp.role' AND changes->>'code' = 'au10_role') = 1,
          'an entry without a company (a role definition) is visible with erp.audit_log:read on the selected company');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

SELECT pg_temp.login('au10_audb', :b);
SET LOCAL ROLE pgerp_app;
SELECT set_eq($$SELECT changes->>'name' FROM erp.audit_log WHERE rel = 'erp.partner' AND changes->>'name' LIKE 'AU10 %'$$,
              ARRAY['AU10 RLS B'], 'an auditor of B reads only the partner entries of B');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

SELECT pg_temp.login('au10_mgr', :a);
SET LOCAL ROLE pgerp_app;
SELECT is((SELECT count(*)::int FROM erp.audit_log), 0, 'a stock_manager of A reads no entry at all');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

SET LOCAL ROLE pgerp_app;
SELECT is((SELECT count(*)::int FROM erp.audit_log), 0, 'the application role with nobody signed in reads no entry');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM erp.audit_log WHERE rel = 'erp.partner' AND changes->>'name' LIKE 'AU10 RLS %'), 4,
          'the superuser reads all four');

SELECT * FROM finish();
ROLLBACK;
