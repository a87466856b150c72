-- Bulk writes of audited tables (#16): the row trigger queues the entries and the
-- statement trigger audit_flush writes them in one INSERT (src/audit/buffer.c). The log
-- reads as with one INSERT per row: content, redaction, company, order of the ids,
-- nested statements, subtransactions, partitions, a lagging id sequence, batches.
BEGIN;
\ir ../setup.sql
SELECT plan(17);

SELECT * FROM pg_temp.make_tree() \gset
SELECT erp.sign_out() AS signed_out \gset

CREATE FUNCTION pg_temp.since(p_mark bigint) RETURNS SETOF erp.audit_log
LANGUAGE sql AS $$ SELECT * FROM erp.audit_log WHERE id > p_mark ORDER BY id $$;

CREATE TABLE public.au15 (id int PRIMARY KEY, company_id bigint, note text, secret bytea);
SELECT erp.audit('public.au15');

-- ------------------------------------------------------------------ INSERT ... SELECT of 3 rows
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
INSERT INTO public.au15 SELECT i, CASE WHEN i = 2 THEN NULL ELSE :a END, 'row ' || i, '\xdeadbeef'::bytea
  FROM generate_series(1, 3) i;
SELECT results_eq(
    format('SELECT company_id, user_id, db_role = current_user::text, rel, op, pk, changes FROM pg_temp.since(%s)', :m),
    format($$VALUES (%1$s::bigint, NULL::bigint, true, 'public.au15'::text, 'insert'::text, '{"id": "1"}'::jsonb,
                     jsonb_build_object('id', '1', 'company_id', '%1$s', 'note', 'row 1', 'secret', '[redacted]')),
                    (NULL, NULL, true, 'public.au15', 'insert', '{"id": "2"}',
                     '{"id": "2", "note": "row 2", "secret": "[redacted]"}'),
                    (%1$s, NULL, true, 'public.au15', 'insert', '{"id": "3"}',
                     jsonb_build_object('id', '3', 'company_id', '%1$s', 'note', 'row 3', 'secret', '[redacted]'))$$, :a),
    'INSERT ... SELECT of 3 rows: 3 entries, in row order, with company, key, columns and bytea redacted');
SELECT results_eq(
    format('SELECT count(DISTINCT tx)::int, count(DISTINCT at)::int, bool_and(tx = pg_current_xact_id()), bool_and(at >= now() AND at < statement_timestamp()) FROM pg_temp.since(%s)', :m),
    'VALUES (1, 1, true, true)',
    'the entries carry the transaction and one time, the INSERT''s');
SELECT is((SELECT max(id) - min(id) FROM pg_temp.since(:m)), 2::bigint, 'their ids are consecutive');

-- ------------------------------------------------------------------ multi-row UPDATE and DELETE
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
UPDATE public.au15 SET note = note || '!' WHERE id IN (1, 3);
UPDATE public.au15 SET note = note;  -- changes nothing: no entry
DELETE FROM public.au15 WHERE id >= 2;
SELECT results_eq(
    format('SELECT op, pk->>$$id$$, changes FROM pg_temp.since(%s)', :m),
    format($$VALUES ('update'::text, '1'::text, '{"note": ["row 1", "row 1!"]}'::jsonb),
             ('update', '3', '{"note": ["row 3", "row 3!"]}'),
             ('delete', '2', '{"id": "2", "note": "row 2", "secret": "[redacted]"}'),
             ('delete', '3', jsonb_build_object('id', '3', 'company_id', '%s', 'note', 'row 3!', 'secret', '[redacted]'))$$, :a),
    'multi-row UPDATE (no entry for a no-op update) and DELETE: one entry per row, in order');

-- ------------------------------------------------------------------ visible to the next statement
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
CREATE FUNCTION pg_temp.insert_and_count() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.au15 VALUES (10, NULL, 'ten', NULL), (11, NULL, 'eleven', NULL);
    RETURN (SELECT count(*) FROM erp.audit_log WHERE rel = 'public.au15' AND pk->>'id' IN ('10', '11'));
END $$;
SELECT is(pg_temp.insert_and_count(), 2, 'the statement after an INSERT in a function sees its entries');

-- ------------------------------------------------------------------ nested statements keep the order
-- a row trigger of au15_a writes a row of au15 (audited): per row, the a entry then the b entry
CREATE TABLE public.au15_a (id int PRIMARY KEY);
SELECT erp.audit('public.au15_a');
CREATE FUNCTION pg_temp.au15_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.au15 VALUES (100 + NEW.id, NULL, 'copy', NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER zz_copy AFTER INSERT ON public.au15_a FOR EACH ROW EXECUTE FUNCTION pg_temp.au15_copy();
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
INSERT INTO public.au15_a SELECT generate_series(1, 3);
SELECT results_eq(
    format('SELECT rel, pk->>$$id$$ FROM pg_temp.since(%s)', :m),
    $$VALUES ('public.au15_a'::text, '1'::text), ('public.au15', '101'), ('public.au15_a', '2'), ('public.au15', '102'),
             ('public.au15_a', '3'), ('public.au15', '103')$$,
    'a row trigger writing another audited table: the entries interleave as the rows fired');

-- ------------------------------------------------------------------ subtransactions
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
SAVEPOINT s1;
INSERT INTO public.au15 VALUES (20, NULL, 'rolled back', NULL), (21, NULL, 'rolled back', NULL);
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
INSERT INTO public.au15 VALUES (22, NULL, 'released', NULL);
RELEASE SAVEPOINT s2;
SELECT results_eq(format('SELECT pk->>$$id$$ FROM pg_temp.since(%s)', :m), $$VALUES ('22'::text)$$,
                  'a rolled-back savepoint leaves no entry, a released one keeps its entries');

-- the outer statement's queued entries survive a failed inner block that wrote other entries
CREATE TABLE public.au15_b (id int PRIMARY KEY);
SELECT erp.audit('public.au15_b');
CREATE FUNCTION pg_temp.au15_try() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        INSERT INTO public.au15 VALUES (200 + NEW.id, NULL, 'inner', NULL);
        RAISE EXCEPTION 'undo the inner insert';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    BEGIN
        INSERT INTO public.au15 VALUES (300 + NEW.id, NULL, 'kept', NULL);
    END;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_try AFTER INSERT ON public.au15_b FOR EACH ROW EXECUTE FUNCTION pg_temp.au15_try();
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
INSERT INTO public.au15_b VALUES (1), (2);
SELECT results_eq(
    format('SELECT rel, pk->>$$id$$ FROM pg_temp.since(%s)', :m),
    $$VALUES ('public.au15_b'::text, '1'::text), ('public.au15', '301'), ('public.au15_b', '2'), ('public.au15', '302')$$,
    'entries queued before a rolled-back inner block are kept, the inner block''s are gone');
SELECT is((SELECT count(*)::int FROM public.au15 WHERE id > 200 AND id < 300), 0, 'as are its rows');

-- ------------------------------------------------------------------ a partitioned audited table
CREATE TABLE public.au15_part (company_id bigint, id int, note text, PRIMARY KEY (company_id, id)) PARTITION BY LIST (company_id);
CREATE TABLE public.au15_part_a PARTITION OF public.au15_part FOR VALUES IN (:a);
CREATE TABLE public.au15_part_b PARTITION OF public.au15_part FOR VALUES IN (:b);
SELECT erp.audit('public.au15_part');
SELECT results_eq(
    $$SELECT (SELECT c.relname::text COLLATE "default" FROM pg_class c WHERE c.oid = tgrelid), tgtype::int FROM pg_trigger WHERE tgname = 'audit_flush'
       AND tgrelid IN ('public.au15_part'::regclass, 'public.au15_part_a'::regclass, 'public.au15_part_b'::regclass)
       ORDER BY 1$$,
    $$VALUES ('au15_part'::text, 28), ('au15_part_a', 28), ('au15_part_b', 28)$$,
    'the partitioned table and each partition get the statement trigger audit_flush');
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
INSERT INTO public.au15_part SELECT CASE WHEN i = 2 THEN :b ELSE :a END, i, 'p' || i FROM generate_series(1, 3) i;
INSERT INTO public.au15_part_b VALUES (:b, 4, 'direct');
SELECT results_eq(
    format('SELECT rel, company_id, pk, changes->>$$note$$ FROM pg_temp.since(%s)', :m),
    format($$VALUES ('public.au15_part_a'::text, %1$s::bigint, '{"id": "1", "company_id": "%1$s"}'::jsonb, 'p1'::text),
                    ('public.au15_part_b', %2$s, '{"id": "2", "company_id": "%2$s"}', 'p2'),
                    ('public.au15_part_a', %1$s, '{"id": "3", "company_id": "%1$s"}', 'p3'),
                    ('public.au15_part_b', %2$s, '{"id": "4", "company_id": "%2$s"}', 'direct')$$, :a, :b),
    'INSERT ... SELECT into the partitioned table, then into a partition: entries name the partition, in row order');
SELECT erp.unaudit('public.au15_part');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgname LIKE 'audit%'
             AND tgrelid IN ('public.au15_part'::regclass, 'public.au15_part_a'::regclass, 'public.au15_part_b'::regclass)), 0,
          'erp.unaudit() drops every trigger it made, audit_flush included');

-- ------------------------------------------------------------------ more rows than a batch
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
INSERT INTO public.au15 SELECT i, NULL, 'n' || i, NULL FROM generate_series(1000, 3499) i;
SELECT results_eq(
    format($$SELECT count(*)::int, count(*) FILTER (WHERE (pk->>'id')::int - 1000 <> r - 1)::int
               FROM (SELECT pk, row_number() OVER (ORDER BY id) AS r FROM pg_temp.since(%s)) x$$, :m),
    'VALUES (2500, 0)',
    '2,500 rows (more than a batch of 1,000): 2,500 entries, ids in row order');

-- ------------------------------------------------------------------ a lagging id sequence
-- as after a plain pg_dump restore: the next ids are taken; the entries go in with new ones
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
SELECT setval(pg_get_serial_sequence('erp.audit_log', 'id'), :m - 2) AS lagged \gset
INSERT INTO public.au15 SELECT i, NULL, 'late ' || i, NULL FROM generate_series(5001, 5005) i;
SELECT results_eq(
    format('SELECT pk->>$$id$$, changes->>$$note$$ FROM pg_temp.since(%s)', :m),
    $$VALUES ('5001'::text, 'late 5001'::text), ('5002', 'late 5002'), ('5003', 'late 5003'), ('5004', 'late 5004'),
             ('5005', 'late 5005')$$,
    'a lagging sequence: every entry still goes in, none lost, in row order');

-- ------------------------------------------------------------------ COPY
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
COPY public.au15 (id, note) FROM STDIN;
6001	copied one
6002	copied two
\.
SELECT results_eq(format('SELECT op, changes FROM pg_temp.since(%s)', :m),
                  $$VALUES ('insert'::text, '{"id": "6001", "note": "copied one"}'::jsonb),
                           ('insert', '{"id": "6002", "note": "copied two"}')$$,
                  'COPY FROM: one entry per row');

-- ------------------------------------------------------------------ events after rows keep their place
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
CREATE FUNCTION pg_temp.insert_then_note() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.au15 VALUES (7001, NULL, 'before the note', NULL);
    PERFORM erp.unaudit('public.au15_a');
END $$;
SELECT pg_temp.insert_then_note();
SELECT results_eq(format('SELECT rel, op FROM pg_temp.since(%s)', :m),
                  $$VALUES ('public.au15'::text, 'insert'::text), ('public.au15_a', 'unaudit')$$,
                  'an entry written directly (erp.unaudit''s note) comes after the rows queued before it');

-- ------------------------------------------------------------------ erp.app_user keeps its condition
SELECT coalesce(max(id), 0) AS m FROM erp.audit_log \gset
SELECT erp.create_user('au15_user', 'Au15-password-1') AS u15 \gset
SELECT results_eq(format($$SELECT rel, op, changes->>'password_hash' FROM pg_temp.since(%s) WHERE rel = 'erp.app_user'$$, :m),
                  $$VALUES ('erp.app_user'::text, 'insert'::text, '[redacted]'::text)$$,
                  'a new user: one insert entry, its password hash redacted');

SELECT * FROM finish();
ROLLBACK;
