\echo Use "ALTER EXTENSION pgerp UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp 0.1.0 -> 0.2.0. Sections by topic; each keeps the upgrade equal to a
-- fresh install of what sql/ now holds (test/upgrade/ checks it).

-- ==== published routines: an explicit allow-list (#11.20) ====

CREATE TABLE erp.app_routine (
    routine text PRIMARY KEY
);

CREATE FUNCTION erp._echo(p_value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_value IS NULL THEN 'NULL'
                WHEN pg_catalog.length(p_value) <= 64 THEN pg_catalog.quote_literal(p_value)
                ELSE pg_catalog.quote_literal(pg_catalog.left(p_value, 61) || '...') END
$$;

CREATE OR REPLACE FUNCTION erp._apply_app_access(p_role regrole)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_schema name;
    v_fn regprocedure;
    v_tab record;
BEGIN
    FOR v_schema IN SELECT s.schema_name FROM erp.app_schema s
                     WHERE EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = s.schema_name)
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', v_schema, p_role);
        -- what is not on the allow-list is taken back (an upgrade may unpublish)
        FOR v_fn IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = v_schema
                       AND NOT EXISTS (SELECT 1 FROM erp.app_routine r
                                        WHERE pg_catalog.to_regprocedure(r.routine) OPERATOR(pg_catalog.=) p.oid)
        LOOP
            EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM %s', v_fn, p_role);
        END LOOP;
    END LOOP;
    -- routines of an extension not installed yet are skipped
    FOR v_fn IN SELECT pg_catalog.to_regprocedure(r.routine) FROM erp.app_routine r
                 WHERE pg_catalog.to_regprocedure(r.routine) IS NOT NULL ORDER BY r.routine
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %s', v_fn, p_role);
    END LOOP;
    -- rows left by a dropped extension point at tables that no longer exist
    FOR v_tab IN SELECT t.table_name, t.privileges FROM erp.app_table t
                  WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.table_name) LOOP
        EXECUTE format('GRANT %s ON TABLE %s TO %s', v_tab.privileges, v_tab.table_name, p_role);
    END LOOP;
END $$;

-- What an application role may execute in schemas erp and api: the explicit
-- allow-list (docs/security.md). A routine not listed here is not granted to
-- application roles, whatever its name; add a line to publish one.
INSERT INTO erp.app_routine (routine) VALUES
    ('erp.sign_in(text,text,bigint)'),
    ('erp.use_token(text,boolean)'),
    ('erp.switch_company(bigint)'),
    ('erp.sign_out()'),
    ('erp.current_user_id()'),
    ('erp.current_company_id()'),
    ('erp.allowed_company_ids()'),
    ('erp.has_permission(text)'),
    ('erp.permitted_companies(text)'),
    ('erp.company_allowed(bigint,text)'),
    ('erp.role_companies(text[])'),
    ('erp.require_permission(text,bigint)'),
    ('erp.create_company(text,bigint,text)'),
    ('erp.create_user(text,text,text)'),
    ('erp.set_password(bigint,text)'),
    ('erp.create_partner(bigint,text,text,text,text)'),
    ('erp.create_role(text,text,text[])'),
    ('erp.grant_role(bigint,text,bigint,boolean)'),
    ('erp.revoke_role(bigint,text,bigint)'),
    ('erp.protect(regclass)'),
    ('erp.add_record_rule(regclass,text,text)'),
    ('erp.drop_record_rule(bigint)'),
    ('erp.grant_app_access(regrole)'),
    ('erp.encrypt(text,text)'),
    ('erp.decrypt(bytea,text)'),
    ('erp.blind_index(text,text)'),
    ('erp.mask(text,text)'),
    ('erp.rotate_key(text)'),
    ('erp.plain(text)'),
    ('erp.reveal(bytea,text,bigint,text)'),
    ('erp.reencrypt(regclass,name,integer)'),
    ('erp.rotate_master_key(text)'),
    ('erp.retire_key(text,integer)'),
    ('erp.audit_seal()'),
    ('erp.audit_head()'),
    ('erp.audit_verify(bigint)'),
    ('erp.current_job_id()'),
    ('erp.job_progress(numeric,text)'),
    ('erp.running_jobs()'),
    ('erp.run_pending(integer)'),
    ('erp.enqueue(text,jsonb,timestamp with time zone,integer)'),
    ('erp.cancel_job(bigint)'),
    ('erp.reencrypt_job(bigint,jsonb)')
ON CONFLICT DO NOTHING;

-- ==== record rules (#11.1-3) ====


-- ==== accounts, tokens and sessions (#11.4, 13, 16, 18) ====


-- ==== field encryption (#11.5) ====


-- ==== jobs (#11.6, 19) ====

CREATE INDEX job_queued_by_idx ON erp.job (enqueued_by) WHERE status = 'queued';

-- One row per user who enqueued: erp.enqueue updates it before counting the
-- user's queued jobs, so that the enqueues of one user take their turn (the
-- row stays locked until the enqueuing transaction ends) and the limit
-- pgerp.job_max_queued_per_user holds under concurrency. Not user data: it
-- is not dumped, and rebuilt as users enqueue.
CREATE TABLE erp.job_quota (
    user_id bigint PRIMARY KEY,
    enqueued bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE erp.job_quota IS
    'Per-user row erp.enqueue locks to check pgerp.job_max_queued_per_user one enqueue at a time; enqueued counts the jobs';

CREATE FUNCTION erp.job_workers(OUT pid integer, OUT job_id bigint, OUT jobs bigint, OUT memory bigint)
RETURNS SETOF record
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_workers';
COMMENT ON FUNCTION erp.job_workers() IS
    'This database''s job workers: the job each runs (NULL when idle), the jobs run since it started, its memory between jobs in bytes (superuser)';

-- Who may enqueue: a signed-in user, or a superuser (pg_cron's schedules,
-- maintenance). A priority above 0 needs erp.job:prioritize in the job's
-- company (a negative one deprioritizes: anyone). A user has at most
-- pgerp.job_max_queued_per_user jobs queued; the user's erp.job_quota row,
-- updated first, makes concurrent enqueues of one user count one after the
-- other (in REPEATABLE READ the second one fails with 40001 instead).
CREATE OR REPLACE FUNCTION erp.enqueue(p_kind text, p_args jsonb DEFAULT '{}', p_run_at timestamptz DEFAULT pg_catalog.now(),
                            p_priority integer DEFAULT 0)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k erp.job_kind;
    v_id bigint;
    v_user bigint := erp.current_user_id();
    v_company bigint := coalesce(erp.current_company_id(), 0);
    v_super boolean := coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = erp._outer_role()), false);
    v_max integer;
    v_queued bigint;
BEGIN
    IF v_user IS NULL AND NOT v_super THEN
        RAISE EXCEPTION 'permission denied: no user is signed in'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Jobs are enqueued by a signed-in user or a superuser.',
                  HINT = 'Call erp.sign_in() or erp.use_token() first.';
    END IF;
    k := erp._job_kind_for(p_kind, p_args);
    IF p_priority IS NULL THEN
        RAISE EXCEPTION 'priority must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT v_super THEN
        IF p_priority > 0 THEN
            PERFORM erp.require_permission('erp.job:prioritize', v_company);
        END IF;
        INSERT INTO erp.job_quota AS q (user_id, enqueued) VALUES (v_user, 1)
        ON CONFLICT (user_id) DO UPDATE SET enqueued = q.enqueued + 1;
        v_max := pg_catalog.current_setting('pgerp.job_max_queued_per_user')::integer;
        SELECT count(*) INTO v_queued FROM erp.job j WHERE j.enqueued_by = v_user AND j.status = 'queued';
        IF v_queued >= v_max THEN
            RAISE EXCEPTION 'too many queued jobs' USING ERRCODE = 'program_limit_exceeded',
                DETAIL = format('The limit is %s queued jobs per user (pgerp.job_max_queued_per_user); user %s has %s.',
                                v_max, v_user, v_queued),
                HINT = 'Wait for queued jobs to run, or cancel some with erp.cancel_job().';
        END IF;
    END IF;
    INSERT INTO erp.job (company_id, kind, args, priority, run_at, max_attempts, enqueued_by, run_as)
    VALUES (v_company, p_kind, p_args, p_priority, coalesce(p_run_at, now()),
            k.max_attempts, v_user, erp._outer_role())
    RETURNING id INTO v_id;
    PERFORM erp._job_wake_on_commit();
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.enqueue(text, jsonb, timestamptz, integer) IS
    'Queue a job of a kind (a signed-in user or a superuser); it runs as the calling role and signed-in user, in the selected company (0 when none); priority > 0 needs erp.job:prioritize';


-- ==== numeric and date bounds (#11.8, 11, 17) ====


-- ==== audit (#11.15) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA erp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erp FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
