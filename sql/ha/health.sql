-- erp.health(): the state of this node for monitoring and load balancers
-- (docs/ha.md, "Monitoring: erp.health()"). Read-only, so it answers on a
-- hot standby too; counts, ages and states only, no business data.

-- Why the master key file cannot be used, NULL when it can (src/crypto/masterkey.c).
CREATE FUNCTION erp._master_key_file_problem() RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_master_key_file_problem';

-- One jsonb (nested lists of standbys do not fit a row type, and the
-- gateway's /ready answers it as it is). SECURITY DEFINER: the replication
-- and activity views, the audit and job tables need the owner's rights.
CREATE FUNCTION erp.health() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_standby boolean := pg_catalog.pg_is_in_recovery();
    v_tli bigint;
    v_standbys jsonb;
    v_self jsonb;
    v_workers jsonb;
    v_configured integer := coalesce(pg_catalog.current_setting('pgerp.job_workers', true), '0')::integer;
    v_expected integer := 0;
    v_running integer;
    v_launcher boolean;
    v_dbs text;
    v_stalled bigint;
    v_state erp.audit_seal_state;
    v_oldest timestamptz;
    v_seal_late boolean;
    v_sync_waits bigint;
    v_sync_names text := pg_catalog.current_setting('synchronous_standby_names');
    v_key_problem text := erp._master_key_file_problem();
    v_reasons text[] := '{}';
    v_failing boolean := false;
    v_ref pg_lsn;
BEGIN
    -- timeline: a primary's from its current WAL file (pg_control's lags a
    -- promotion until the next checkpoint); a standby's as received
    IF v_standby THEN
        SELECT r.received_tli INTO v_tli FROM pg_catalog.pg_stat_wal_receiver r;
        v_tli := coalesce(v_tli, (SELECT c.timeline_id FROM pg_catalog.pg_control_checkpoint() c));
        v_ref := pg_catalog.pg_last_wal_replay_lsn();
    ELSE
        v_tli := ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::bigint;
        v_ref := pg_catalog.pg_current_wal_lsn();
    END IF;

    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'application_name', r.application_name, 'state', r.state, 'sync_state', r.sync_state,
               'lag_bytes', pg_catalog.pg_wal_lsn_diff(v_ref, r.replay_lsn),
               'replay_lag_seconds', pg_catalog.date_part('epoch', r.replay_lag))
               ORDER BY r.application_name), '[]')
      INTO v_standbys FROM pg_catalog.pg_stat_replication r;

    IF v_standby THEN
        -- caught up: no lag, however long ago the primary's last commit was
        SELECT pg_catalog.jsonb_build_object(
                   'receiver', (SELECT r.status FROM pg_catalog.pg_stat_wal_receiver r),
                   'receive_lsn', pg_catalog.pg_last_wal_receive_lsn()::text,
                   'replay_lsn', pg_catalog.pg_last_wal_replay_lsn()::text,
                   'lag_bytes', pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn()),
                   'lag_seconds', CASE WHEN pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn() THEN 0
                                       ELSE pg_catalog.date_part('epoch', pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp()) END)
          INTO v_self;
        IF v_self->>'receiver' IS DISTINCT FROM 'streaming' THEN
            v_reasons := v_reasons || 'standby not streaming'::text;
        END IF;
    END IF;

    -- workers: the launcher and this database's workers run on a primary
    -- with pgerp preloaded, for the databases of pgerp.job_databases
    SELECT count(*) FILTER (WHERE a.backend_type = 'pgerp job worker' AND a.datname = pg_catalog.current_database()),
           count(*) FILTER (WHERE a.backend_type = 'pgerp job launcher') > 0
      INTO v_running, v_launcher FROM pg_catalog.pg_stat_activity a WHERE a.backend_type LIKE 'pgerp job%';
    v_dbs := coalesce(nullif(pg_catalog.current_setting('pgerp.job_databases', true), ''),
                      nullif(pg_catalog.current_setting('cron.database_name', true), ''), 'postgres');
    IF NOT v_standby AND pg_catalog.current_setting('shared_preload_libraries') ~ '(^|[ ,])pgerp($|[ ,])'
       AND pg_catalog.current_database() = ANY (pg_catalog.string_to_array(pg_catalog.replace(v_dbs, ' ', ''), ',')) THEN
        v_expected := v_configured;
    END IF;
    v_workers := pg_catalog.jsonb_build_object('configured', v_configured, 'expected', v_expected,
                                               'running', v_running, 'launcher', v_launcher);
    IF v_running < v_expected OR (v_expected > 0 AND NOT v_launcher) THEN
        v_reasons := v_reasons || 'job workers missing'::text;
    END IF;

    -- jobs running longer than their kind's timeout
    SELECT count(*) INTO v_stalled FROM erp.job j JOIN erp.job_kind k ON k.kind = j.kind
     WHERE j.status = 'running' AND j.started_at < pg_catalog.now() - k.timeout;
    IF v_stalled > 0 THEN
        v_reasons := v_reasons || 'jobs stalled'::text;
    END IF;

    -- the oldest unsealed entry: sealed entries all have tx below tx_done
    -- (the index on tx), but after a restore into another cluster every
    -- entry is looked at until the sealer has run once
    SELECT * INTO v_state FROM erp.audit_seal_state;
    SELECT pg_catalog.min(l.at) INTO v_oldest FROM erp.audit_log l
     WHERE (v_state IS NULL OR v_state.system_id <> (SELECT c.system_identifier FROM pg_catalog.pg_control_system() c)
            OR l.tx >= v_state.tx_done)
       AND NOT EXISTS (SELECT 1 FROM erp.audit_chain c WHERE c.entry_id = l.id);
    v_seal_late := coalesce(v_oldest < pg_catalog.now() - interval '5 minutes', false);
    IF v_seal_late THEN
        v_reasons := v_reasons || 'audit seal late'::text;
    END IF;

    SELECT count(*) INTO v_sync_waits FROM pg_catalog.pg_stat_activity a WHERE a.wait_event = 'SyncRep';
    IF v_sync_waits > 0 THEN
        v_reasons := v_reasons || 'commits waiting for synchronous standbys'::text;
        -- with no synchronous standby connected they wait for ever
        IF NOT v_standby AND v_sync_names <> '' AND NOT EXISTS
               (SELECT 1 FROM pg_catalog.pg_stat_replication r WHERE r.sync_state IN ('sync', 'quorum')) THEN
            v_failing := true;
            v_reasons := v_reasons || 'no synchronous standby connected'::text;
        END IF;
    END IF;

    IF v_key_problem IS NOT NULL THEN
        v_failing := true;
        v_reasons := v_reasons || 'master key file unusable'::text;
    END IF;

    RETURN pg_catalog.jsonb_build_object(
        'status', CASE WHEN v_failing THEN 'failing' WHEN pg_catalog.cardinality(v_reasons) > 0 THEN 'degraded' ELSE 'ok' END,
        'ready', NOT v_failing,
        'reasons', pg_catalog.to_jsonb(v_reasons),
        'role', CASE WHEN v_standby THEN 'standby' ELSE 'primary' END,
        'timeline', v_tli,
        'standbys', v_standbys,
        'replica', v_self,
        'workers', v_workers,
        'jobs_stalled', v_stalled,
        'audit', pg_catalog.jsonb_build_object(
            'oldest_unsealed_at', v_oldest,
            'last_seal_at', v_state.sealed_at,
            'last_seal_age_seconds', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - v_state.sealed_at),
            'seal_age_seconds', coalesce(pg_catalog.date_part('epoch', pg_catalog.now() - v_oldest), 0),
            'seal_late', v_seal_late),
        'sync_waits', v_sync_waits,
        'key_file', pg_catalog.jsonb_build_object('configured', pg_catalog.current_setting('pgerp.master_key_file', true) <> '',
                                                  'present', v_key_problem IS NULL, 'problem', v_key_problem),
        'checked_at', pg_catalog.clock_timestamp());
END $$;
COMMENT ON FUNCTION erp.health() IS
    'State of this node for monitoring and load balancers: role, timeline, replication, job workers, stalled jobs, audit seal lag, synchronous-commit waits, master key file; status ok|degraded|failing and ready (docs/ha.md)';
