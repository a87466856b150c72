-- The pack's periodic chores, run by the first job worker of each database
-- every pgerp.housekeeping_interval seconds (src/jobs/worker.c). They used to
-- be pg_cron jobs, but pg_cron stores the scheduling node's host and port in
-- the replicated cron.job, so after a failover they failed with "connection
-- failed", silently (docs/ha.md, "pg_cron's node binding"). The launcher
-- starts at every promotion, so the chores follow the primary.

-- Chores of the extensions built on pgerp: this layer knows nothing of them,
-- so they register a routine here from their install script (as PostgreSQL's
-- hooks work). No pg_extension_config_dump: the rows come from the install
-- scripts, which a restore runs again. A routine that no longer exists (its
-- extension was dropped) is skipped.
CREATE TABLE erp.housekeeping_chore (
    routine text PRIMARY KEY,
    every interval NOT NULL CHECK (every >= interval '0' AND isfinite(every)),
    last_run_at timestamptz,
    last_result jsonb
);
COMMENT ON TABLE erp.housekeeping_chore IS
    'Periodic chores registered by the extensions built on pgerp (routine: a regprocedure text taking no argument and returning jsonb); erp._housekeeping() runs each one that is due';

-- One chore, in a subtransaction of its own: a failing chore leaves a warning
-- and its error in last_result, and neither the seal nor the other chores
-- are lost with it.
CREATE FUNCTION erp._run_chore(p_routine text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_proc regprocedure := pg_catalog.to_regprocedure(p_routine);
    v_call text;
    v_result jsonb;
BEGIN
    SELECT format('%I.%I()', n.nspname, p.proname) INTO v_call
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = v_proc AND p.pronargs = 0;
    IF v_call IS NULL THEN
        RETURN jsonb_build_object('skipped', 'no such routine');
    END IF;
    BEGIN
        EXECUTE 'SELECT pg_catalog.to_jsonb(' || v_call || ')' INTO v_result;
    EXCEPTION WHEN OTHERS THEN
        v_result := jsonb_build_object('error', SQLERRM, 'sqlstate', SQLSTATE);
        RAISE WARNING 'housekeeping chore % failed: %', p_routine, SQLERRM;
    END;
    UPDATE erp.housekeeping_chore SET last_run_at = pg_catalog.now(), last_result = v_result
     WHERE routine = p_routine;
    RETURN v_result;
END $$;
COMMENT ON FUNCTION erp._run_chore(text) IS
    'Run one registered chore in a subtransaction; its result or error goes to erp.housekeeping_chore.last_result';

-- The pack's tables that grew well past what their statistics say
-- (docs/stock.md, "Bulk loads"). A load that posts thousands of rows in one
-- procedure, committing as it goes, never returns to idle, and a backend
-- reports its table counts to the statistics system only when idle: until
-- it ends autovacuum analyzes nothing, and the plans the posting functions
-- keep stay those made on the empty tables (an update by (company_id, id)
-- that scans every row of the company through another index). An ANALYZE
-- here, in another backend, updates the statistics and invalidates those
-- plans. A table is analyzed when its size has more than doubled since its
-- last analyze, plus 64 pages (512 kB): a few times in a table's life; in
-- steady state autovacuum analyzes first (at 10 % of new rows). The tables
-- are those of the pack's extensions (pgerp*), found through pg_depend.
CREATE FUNCTION erp._analyze_grown()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    v_done text[] := '{}';
BEGIN
    FOR r IN
        SELECT c.oid::regclass::text AS t
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                                     AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid AND x.extname LIKE 'pgerp%'
         WHERE c.relkind = 'r'
           AND pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::bigint
               >= 2 * greatest(c.relpages, 0) + 64
         ORDER BY c.oid
    LOOP
        EXECUTE 'ANALYZE (SKIP_LOCKED) ' || r.t;
        v_done := v_done || r.t;
    END LOOP;
    RETURN pg_catalog.to_jsonb(v_done);
END $$;
COMMENT ON FUNCTION erp._analyze_grown() IS
    'Analyze the pack''s tables whose size more than doubled (plus 64 pages) since their last analyze; run by erp._housekeeping()';

CREATE FUNCTION erp._housekeeping()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_sealed bigint;
    v_signins integer;
    v_analyzed jsonb;
    v_chores jsonb := '{}';
    c record;
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN jsonb_build_object('skipped', 'in recovery');
    END IF;
    v_sealed := erp.audit_seal();
    v_signins := erp._flush_signin_audit();
    v_analyzed := erp._analyze_grown();
    -- SKIP LOCKED: a second housekeeper (another database's worker cannot
    -- see these rows, but a manual call can) does not wait for the first
    FOR c IN SELECT routine FROM erp.housekeeping_chore
              WHERE last_run_at IS NULL OR last_run_at <= pg_catalog.now() - every
              ORDER BY routine FOR UPDATE SKIP LOCKED
    LOOP
        v_chores := v_chores || jsonb_build_object(c.routine, erp._run_chore(c.routine));
    END LOOP;
    RETURN jsonb_build_object('sealed', v_sealed, 'signin_events', v_signins, 'analyzed', v_analyzed, 'chores', v_chores);
END $$;
COMMENT ON FUNCTION erp._housekeeping() IS
    'Seal the audit chain, write the queued sign-in events, analyze the tables that outgrew their statistics and run the registered chores that are due (erp.housekeeping_chore); run by the first job worker every pgerp.housekeeping_interval seconds (without job workers, schedule it with pg_cron)';
