-- A description of everything the pack owns, one sorted line per fact, for
-- comparing an upgraded database with a fresh install (test/upgrade/run.sh).
-- Names only, never OIDs; columns by their rank among live columns, so that
-- a column added by an upgrade must be added last in sql/ too.
\pset format unaligned
\pset tuples_only on
\pset pager off
SET client_min_messages = warning;
CREATE TEMP VIEW s AS
    SELECT n.oid, n.nspname FROM pg_namespace n WHERE n.nspname IN ('erp', 'api', 'stock', 'mrp', 'purchase');
CREATE TEMP VIEW ext_member AS
    SELECT d.classid, d.objid, e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e';

SELECT line FROM (
    -- the dumped tables as a set: an upgrade appends to extconfig, a fresh
    -- install lists them in the order of its script
    SELECT format('extension %s %s schema %s config %s', e.extname, e.extversion, e.extnamespace::regnamespace,
                  (SELECT array_agg(c.cfg::regclass::text || ' ' || coalesce(c.cond, '') ORDER BY c.cfg::regclass::text)
                     FROM unnest(e.extconfig, e.extcondition) AS c(cfg, cond))) AS line
      FROM pg_extension e WHERE e.extname LIKE 'pgerp%'
    UNION ALL
    SELECT format('schema %s owner %s acl %s comment %s member %s', s.nspname, n.nspowner::regrole, n.nspacl,
                  obj_description(s.oid, 'pg_namespace'),
                  (SELECT m.extname FROM ext_member m WHERE m.classid = 'pg_namespace'::regclass AND m.objid = s.oid))
      FROM s JOIN pg_namespace n ON n.oid = s.oid
    UNION ALL
    SELECT format('relation %s kind %s rls %s/%s options %s acl %s comment %s member %s persistence %s',
                  c.oid::regclass, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.reloptions, c.relacl,
                  obj_description(c.oid, 'pg_class'),
                  (SELECT m.extname FROM ext_member m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid),
                  c.relpersistence)
      FROM pg_class c JOIN s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('column %s #%s %s %s notnull %s default %s identity %s generated %s collation %s acl %s comment %s',
                  a.attrelid::regclass,
                  rank() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
                  CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation END, a.attacl,
                  col_description(a.attrelid, a.attnum))
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN s ON s.oid = c.relnamespace
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('constraint %s on %s: %s deferrable %s comment %s', co.conname,
                  CASE WHEN co.conrelid <> 0 THEN co.conrelid::regclass::text ELSE co.contypid::regtype::text END,
                  pg_get_constraintdef(co.oid), co.condeferrable, obj_description(co.oid, 'pg_constraint'))
      FROM pg_constraint co JOIN s ON s.oid = co.connamespace
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid))
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('policy %s on %s: %s %s to %s using (%s) check (%s)', p.polname, p.polrelid::regclass, p.polcmd,
                  CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                  (SELECT array_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END ORDER BY 1) FROM unnest(p.polroles) r),
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('trigger %s enabled %s', pg_get_triggerdef(t.oid), t.tgenabled)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN s ON s.oid = c.relnamespace
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid))
      FROM pg_class c JOIN s ON s.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('sequence %s %s %s..%s +%s cycle %s', q.seqrelid::regclass, q.seqtypid::regtype, q.seqmin, q.seqmax,
                  q.seqincrement, q.seqcycle)
      FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid JOIN s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('routine %s owner %s acl %s comment %s member %s: %s', p.oid::regprocedure, p.proowner::regrole,
                  p.proacl, obj_description(p.oid, 'pg_proc'),
                  (SELECT m.extname FROM ext_member m WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid),
                  CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_get_functiondef(p.oid) END)
      FROM pg_proc p JOIN s ON s.oid = p.pronamespace
    UNION ALL
    SELECT format('type %s kind %s comment %s member %s', t.oid::regtype, t.typtype, obj_description(t.oid, 'pg_type'),
                  (SELECT m.extname FROM ext_member m WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid))
      FROM pg_type t JOIN s ON s.oid = t.typnamespace
     WHERE t.typtype IN ('d', 'e', 'c') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
    UNION ALL
    SELECT format('enum %s %s', e.enumtypid::regtype, array_agg(e.enumlabel ORDER BY e.enumsortorder))
      FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN s ON s.oid = t.typnamespace GROUP BY e.enumtypid
) all_facts
ORDER BY line COLLATE "C";

-- Rows the install scripts write (registries, built-in roles and kinds):
-- every table of the pack in a database without user data, with no
-- timestamps, bytea or identity values that differ by construction.
CREATE TEMP TABLE seeded (line text);
DO $$
DECLARE
    r record;
    v_drop text[];
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN s ON s.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p')
                AND c.oid::regclass::text NOT IN ('erp.audit_log', 'erp.audit_chain', 'erp.audit_seal_state', 'erp.secret')
    LOOP
        SELECT array_agg(a.attname) INTO v_drop FROM pg_attribute a
         WHERE a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped
           AND (a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'bytea'::regtype) OR a.attidentity <> '');
        EXECUTE format('INSERT INTO seeded SELECT %L || '' '' || (to_jsonb(t) - %L::text[])::text FROM %s t',
                       r.rel::text, coalesce(v_drop, '{}'), r.rel);
    END LOOP;
END $$;
SELECT 'row ' || line FROM seeded ORDER BY line COLLATE "C";
