-- The pack's periodic chores, run by the first job worker of each database
-- every pgerp.housekeeping_interval seconds (src/jobs/worker.c). They used to
-- be pg_cron jobs, but pg_cron stores the scheduling node's host and port in
-- the replicated cron.job, so after a failover they failed with "connection
-- failed", silently (docs/ha.md, "pg_cron's node binding"). The launcher
-- starts at every promotion, so the chores follow the primary.
CREATE FUNCTION erp._housekeeping()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_sealed bigint;
    v_signins integer;
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN jsonb_build_object('skipped', 'in recovery');
    END IF;
    v_sealed := erp.audit_seal();
    v_signins := erp._flush_signin_audit();
    RETURN jsonb_build_object('sealed', v_sealed, 'signin_events', v_signins);
END $$;
COMMENT ON FUNCTION erp._housekeeping() IS
    'Seal the audit chain and write the queued sign-in events; run by the first job worker every pgerp.housekeeping_interval seconds (without job workers, schedule it with pg_cron)';
