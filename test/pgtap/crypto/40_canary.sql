-- Plaintext written through an encrypted column reaches neither the table's
-- files nor the WAL: a random canary is looked for, after a CHECKPOINT, in
-- every file of erp.partner (heap, indexes, TOAST) and in every WAL segment
-- written since the test began. A second canary written to a plain text
-- column must be found in both places, or the search proves nothing.
BEGIN;
\ir ../setup.sql
SELECT plan(6);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_insert_lsn()) AS first_wal \gset
SELECT 'canary' || md5(random()::text) AS secret, 'control' || md5(random()::text) AS control \gset

CREATE TABLE public.t40_plain_copy (note text);
INSERT INTO public.t40_plain_copy VALUES (:'control');
SELECT erp.create_partner(:a, 'Canary Ltd', 'customer', :'secret' || '@example.com', '+86 ' || :'secret') AS p \gset
-- an UPDATE too: the new row version must not carry plaintext either
UPDATE erp.partner SET email = erp.plain(:'secret' || '@example.org') WHERE id = :p;
SELECT is(erp._open(email, 'erp.partner.email'), :'secret' || '@example.org', 'the canary is stored (encrypted)')
  FROM erp.partner WHERE id = :p;
CHECKPOINT;

-- every file of a relation: all its segments
CREATE FUNCTION pg_temp.rel_bytes(p_rel regclass) RETURNS SETOF bytea LANGUAGE sql AS $$
    SELECT pg_read_binary_file(f.path)
      FROM (SELECT pg_relation_filepath(p_rel) AS base) b,
           LATERAL (SELECT b.base || CASE WHEN s = 0 THEN '' ELSE '.' || s END AS path
                      FROM generate_series(0, 64) s) f
     WHERE (pg_stat_file(f.path, true)).size IS NOT NULL
$$;
CREATE FUNCTION pg_temp.found_in_relation(p_rel regclass, p_needle text) RETURNS boolean LANGUAGE sql AS $$
    SELECT coalesce(bool_or(position(convert_to(p_needle, 'UTF8') IN x) > 0), false)
      FROM (SELECT pg_temp.rel_bytes(r) AS x
              FROM (SELECT p_rel AS r
                    UNION ALL SELECT i.indexrelid::regclass FROM pg_index i WHERE i.indrelid = p_rel
                    UNION ALL SELECT c.reltoastrelid::regclass FROM pg_class c WHERE c.oid = p_rel AND c.reltoastrelid <> 0) rels) t
$$;
CREATE FUNCTION pg_temp.found_in_wal(p_from text, p_needle text) RETURNS boolean LANGUAGE sql AS $$
    SELECT coalesce(bool_or(position(convert_to(p_needle, 'UTF8') IN pg_read_binary_file('pg_wal/' || w.name)) > 0), false)
      FROM pg_ls_waldir() w WHERE w.name ~ '^[0-9A-F]{24}$' AND w.name >= p_from
$$;

SELECT ok(pg_temp.found_in_relation('public.t40_plain_copy', :'control'),
          'control: a plain text value is found in its table''s file');
SELECT ok(pg_temp.found_in_wal(:'first_wal', :'control'),
          'control: a plain text value is found in the WAL');
SELECT ok(NOT pg_temp.found_in_relation('erp.partner', :'secret'),
          'the canary is in no file of erp.partner (heap, indexes, TOAST)');
SELECT ok(NOT pg_temp.found_in_wal(:'first_wal', :'secret'),
          'the canary is in no WAL segment written since the test began');
SELECT ok(NOT pg_temp.found_in_relation('erp.audit_log', :'secret') AND
          (SELECT count(*) FROM erp.audit_log WHERE rel = 'erp.partner' AND pk->>'id' = :'p') = 2,
          'nor in the audit log, which recorded the insert and the update');

SELECT * FROM finish();
ROLLBACK;
