-- The job queue (src/jobs/, docs/jobs.md): kinds with their handler, the
-- jobs, enqueueing, cancelling, live status, running due jobs in a session
-- and pg_cron schedules.

CREATE TABLE erp.job_kind (
    kind text PRIMARY KEY CHECK (kind ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$' AND length(kind) < 64),
    handler regprocedure NOT NULL,
    timeout interval NOT NULL CHECK (timeout > interval '0'),
    max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
    builtin boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE erp.job_kind IS 'Job kinds: handler (p_job bigint, p_args jsonb) RETURNS jsonb, timeout and attempts';

CREATE TABLE erp.job (
    company_id bigint NOT NULL DEFAULT 0,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL REFERENCES erp.job_kind (kind) ON UPDATE CASCADE,
    args jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority integer NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
    last_error text,
    last_sqlstate text,
    result jsonb,
    enqueued_by bigint,
    run_as regrole NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    started_at timestamptz,
    finished_at timestamptz,
    worker_pid integer,
    PRIMARY KEY (company_id, id)
);
CREATE INDEX job_due_idx ON erp.job (priority DESC, run_at, id) WHERE status = 'queued';
CREATE INDEX job_running_idx ON erp.job (worker_pid) WHERE status = 'running';
CREATE INDEX job_id_idx ON erp.job (id);
CREATE INDEX job_queued_by_idx ON erp.job (enqueued_by) WHERE status = 'queued';
COMMENT ON TABLE erp.job IS
    'Job queue; company_id 0 is a system job (enqueued with no company selected); run_as and enqueued_by are who it runs as';

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

-- Readers see their own jobs and, with erp.job:read, their companies' jobs.
-- Writes go through the functions below, which run as the owner.
ALTER TABLE erp.job ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.job FORCE ROW LEVEL SECURITY;
CREATE POLICY pgerp_read ON erp.job FOR SELECT
    USING (enqueued_by = erp.current_user_id() OR erp.company_allowed(company_id, 'erp.job:read'));

CREATE FUNCTION erp._job_wake_on_commit() RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_wake_on_commit';
-- A job's worker_pid alone names no process after a failover or a restart:
-- these ask this node's shared memory whether a worker holds that very job.
CREATE FUNCTION erp._job_running(p_company bigint, p_job bigint, p_pid integer) RETURNS boolean
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_running';
CREATE FUNCTION erp._job_cancel_running(p_company bigint, p_job bigint, p_pid integer) RETURNS boolean
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_cancel_running';
CREATE FUNCTION erp._outer_role() RETURNS regrole
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'pgerp_job_outer_role';

CREATE FUNCTION erp.current_job_id() RETURNS bigint
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'pgerp_job_current_id';
COMMENT ON FUNCTION erp.current_job_id() IS 'The job this session is running (in a handler), else NULL';

CREATE FUNCTION erp.job_progress(p_fraction numeric, p_note text DEFAULT NULL) RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_progress';
COMMENT ON FUNCTION erp.job_progress(numeric, text) IS
    'From a job handler: progress between 0 and 1 and a note, visible at once in erp.job_status';

CREATE FUNCTION erp.running_jobs(OUT job_id bigint, OUT pid integer, OUT progress numeric, OUT note text,
                                 OUT started_at timestamptz, OUT progress_at timestamptz)
RETURNS SETOF record
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_progress_rows';
COMMENT ON FUNCTION erp.running_jobs() IS
    'Jobs running in this database''s workers, with live progress (shared memory); a NOTICE when no worker runs';

CREATE FUNCTION erp.job_workers(OUT pid integer, OUT job_id bigint, OUT jobs bigint, OUT memory bigint)
RETURNS SETOF record
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_workers';
COMMENT ON FUNCTION erp.job_workers() IS
    'This database''s job workers: the job each runs (NULL when idle), the jobs run since it started, its memory between jobs in bytes (superuser)';

CREATE FUNCTION erp.run_pending(p_max integer DEFAULT 100) RETURNS integer
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_job_run_pending';
COMMENT ON FUNCTION erp.run_pending(integer) IS
    'Run up to p_max due jobs in this session (each in a subtransaction); a superuser with nobody signed in runs all, others their own';

CREATE FUNCTION erp.register_job_kind(p_kind text, p_handler regprocedure, p_timeout interval DEFAULT '1 hour',
                                      p_max_attempts integer DEFAULT 3)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
BEGIN
    PERFORM erp.require_superuser('register a job kind');
    IF p_kind IS NULL OR p_kind !~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$' OR length(p_kind) >= 64 THEN
        RAISE EXCEPTION 'invalid job kind %', coalesce(quote_literal(p_kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A kind is <schema>.<name> in lower case, for example mrp.run.';
    END IF;
    IF p_handler IS NULL THEN
        RAISE EXCEPTION 'handler must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT pr.prokind, pr.pronargs, pr.proargtypes, pr.prorettype, pr.proretset INTO p
      FROM pg_proc pr WHERE pr.oid = p_handler;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'function % does not exist', p_handler::oid USING ERRCODE = 'undefined_function';
    END IF;
    IF p.prokind <> 'f' OR p.pronargs <> 2 OR p.proargtypes[0] <> 'bigint'::regtype
       OR p.proargtypes[1] <> 'jsonb'::regtype OR p.prorettype <> 'jsonb'::regtype OR p.proretset THEN
        RAISE EXCEPTION 'job handler % has the wrong signature', p_handler
            USING ERRCODE = 'invalid_function_definition',
                  DETAIL = 'A handler is a function (p_job bigint, p_args jsonb) RETURNS jsonb.';
    END IF;
    IF p_timeout IS NULL OR p_timeout <= interval '0' THEN
        RAISE EXCEPTION 'job timeout must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts)
    VALUES (p_kind, p_handler, p_timeout, p_max_attempts)
    ON CONFLICT (kind) DO UPDATE SET handler = excluded.handler, timeout = excluded.timeout,
                                     max_attempts = excluded.max_attempts;
END $$;
COMMENT ON FUNCTION erp.register_job_kind(text, regprocedure, interval, integer) IS
    'Create or change a job kind (superuser)';

-- The kind a job is enqueued or scheduled with, and its arguments, checked.
CREATE FUNCTION erp._job_kind_for(p_kind text, p_args jsonb) RETURNS erp.job_kind
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k erp.job_kind;
BEGIN
    SELECT * INTO k FROM erp.job_kind WHERE kind = p_kind;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown job kind %', coalesce(quote_literal(p_kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The kinds are listed in erp.job_kind; erp.register_job_kind() adds one.';
    END IF;
    IF p_args IS NULL OR jsonb_typeof(p_args) <> 'object' THEN
        RAISE EXCEPTION 'job arguments must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN k;
END $$;

-- Who may enqueue: a signed-in user, or a superuser (pg_cron's schedules,
-- maintenance). A priority above 0 needs erp.job:prioritize in the job's
-- company (a negative one deprioritizes: anyone). A user has at most
-- pgerp.job_max_queued_per_user jobs queued; the user's erp.job_quota row,
-- updated first, makes concurrent enqueues of one user count one after the
-- other (in REPEATABLE READ the second one fails with 40001 instead).
CREATE FUNCTION erp.enqueue(p_kind text, p_args jsonb DEFAULT '{}', p_run_at timestamptz DEFAULT pg_catalog.now(),
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
    -- the job runs as this role: refuse now what would fail when it runs
    IF NOT pg_catalog.has_function_privilege(erp._outer_role(), k.handler, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for job kind %', p_kind
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The job would run as role %s, which may not execute its handler %s.',
                                  erp._outer_role()::regrole, k.handler);
    END IF;
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

CREATE FUNCTION erp.cancel_job(p_job bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j erp.job;
BEGIN
    SELECT * INTO j FROM erp.job WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR NOT (erp._is_bootstrap() OR coalesce(j.enqueued_by = erp.current_user_id(), false)
                         OR erp.company_allowed(j.company_id, 'erp.job:read')) THEN
        RAISE EXCEPTION 'job % does not exist', coalesce(p_job::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (erp._is_bootstrap() OR coalesce(j.enqueued_by = erp.current_user_id(), false)
            OR erp.company_allowed(j.company_id, 'erp.job:cancel')) THEN
        RAISE EXCEPTION 'permission denied to cancel job %', p_job
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Jobs are cancelled by who enqueued them, or with erp.job:cancel on their company.';
    END IF;
    IF j.status NOT IN ('queued', 'running') THEN
        RAISE EXCEPTION 'job % has already ended (%)', p_job, j.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE erp.job SET status = 'cancelled', finished_at = clock_timestamp(), worker_pid = NULL
     WHERE company_id = j.company_id AND id = j.id;
    IF j.status = 'running' AND j.worker_pid IS NOT NULL THEN
        -- the worker's handler is cancelled; its "done" would find the job cancelled anyway.
        -- Only a worker of this node that holds this job is signalled: after a failover
        -- worker_pid is a pid of the old host.
        PERFORM erp._job_cancel_running(j.company_id, j.id, j.worker_pid);
    END IF;
END $$;
COMMENT ON FUNCTION erp.cancel_job(bigint) IS
    'Cancel a queued or running job (its enqueuer, or erp.job:cancel on its company); a running handler is interrupted and its work rolled back';

CREATE VIEW erp.job_status WITH (security_invoker = true) AS
SELECT j.company_id, j.id, j.kind, j.status, j.priority, j.run_at, j.attempts, j.max_attempts,
       CASE WHEN j.status = 'done' THEN 1::numeric ELSE r.progress END AS progress,
       r.note AS progress_note, r.progress_at,
       j.last_error, j.last_sqlstate, j.result, j.args, j.enqueued_by, j.run_as, j.enqueued_at,
       j.started_at, j.finished_at, j.worker_pid
  FROM erp.job j
  LEFT JOIN erp.running_jobs() r ON r.job_id = j.id AND j.status = 'running';
COMMENT ON VIEW erp.job_status IS 'Jobs with live progress of the running ones (a NOTICE says when no worker runs)';

CREATE FUNCTION erp.purge_jobs(p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM erp.require_superuser('purge jobs');
    IF p_before IS NULL THEN
        RAISE EXCEPTION 'cut-off time must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM erp.job WHERE status IN ('done', 'failed', 'cancelled') AND finished_at < p_before;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION erp.purge_jobs(timestamptz) IS
    'Delete ended jobs (done, failed, cancelled) that finished before the cut-off (superuser); e.g. nightly from pg_cron';

-- Built-in kinds.
CREATE FUNCTION erp.noop_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$ SELECT jsonb_build_object('job', p_job) $$;

-- {"seconds": n} sleeps n seconds reporting progress; {"fail": "message"}
-- raises that message (tests of retries).
CREATE FUNCTION erp.sleep_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_seconds numeric := coalesce((p_args->>'seconds')::numeric, 1);
    v_steps int := greatest(1, ceil(v_seconds * 10)::int);
BEGIN
    IF p_args ? 'fail' THEN
        RAISE EXCEPTION '%', p_args->>'fail' USING ERRCODE = 'raise_exception';
    END IF;
    FOR i IN 1 .. v_steps LOOP
        PERFORM pg_sleep(v_seconds / v_steps);
        IF erp.current_job_id() IS NOT NULL THEN
            PERFORM erp.job_progress(i::numeric / v_steps, format('step %s of %s', i, v_steps));
        END IF;
    END LOOP;
    RETURN jsonb_build_object('slept', v_seconds, 'user', erp.current_user_id(), 'role', current_user::text);
END $$;

-- {"table": "erp.partner", "column": "email", "batch": 1000}; superuser jobs.
CREATE FUNCTION erp.reencrypt_job(p_job bigint, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    CALL erp.reencrypt((p_args->>'table')::regclass, (p_args->>'column')::name,
                       coalesce((p_args->>'batch')::int, 1000));
    RETURN jsonb_build_object('table', p_args->>'table', 'column', p_args->>'column');
END $$;

INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts, builtin) VALUES
    ('erp.noop', 'erp.noop_job(bigint, jsonb)', '1 minute', 3, true),
    ('erp.sleep', 'erp.sleep_job(bigint, jsonb)', '1 hour', 3, true),
    ('erp.reencrypt', 'erp.reencrypt_job(bigint, jsonb)', '1 day', 3, true);

-- pg_cron schedules that enqueue a kind; names are kept as 'pgerp:<name>' in cron.job.
CREATE FUNCTION erp._require_cron() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Preload pg_cron (shared_preload_libraries), set cron.database_name to this database and run CREATE EXTENSION pg_cron.';
    END IF;
END $$;

CREATE FUNCTION erp.schedule(p_name text, p_cron text, p_kind text, p_args jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM erp.require_superuser('schedule jobs');
    PERFORM erp._require_cron();
    IF p_name IS NULL OR p_name !~ '\S' THEN
        RAISE EXCEPTION 'schedule name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM erp._job_kind_for(p_kind, p_args);
    -- pg_cron's own error for an invalid schedule surfaces unchanged
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO v_id
      USING 'pgerp:' || p_name, p_cron, format('SELECT erp.enqueue(%L, %L::jsonb)', p_kind, p_args);
    RETURN v_id;
END $$;
COMMENT ON FUNCTION erp.schedule(text, text, text, jsonb) IS
    'Create or replace a pg_cron job that enqueues the kind on the cron schedule (superuser); returns the cron job id';

CREATE FUNCTION erp.unschedule(p_name text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_found boolean;
BEGIN
    PERFORM erp.require_superuser('unschedule jobs');
    PERFORM erp._require_cron();
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1)' INTO v_found USING 'pgerp:' || p_name;
    IF NOT v_found THEN
        RAISE EXCEPTION 'no schedule named %', coalesce(quote_literal(p_name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' USING 'pgerp:' || p_name;
END $$;
COMMENT ON FUNCTION erp.unschedule(text) IS 'Remove a schedule made by erp.schedule() (superuser)';

CREATE FUNCTION erp._schedules(OUT name text, OUT cron text, OUT command text, OUT active boolean, OUT cron_job_id bigint)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$SELECT substr(j.jobname, 7), j.schedule, j.command, j.active, j.jobid
                             FROM cron.job j WHERE j.jobname LIKE 'pgerp:%' ORDER BY j.jobname$q$;
END $$;
CREATE VIEW erp.schedules AS SELECT * FROM erp._schedules();
COMMENT ON VIEW erp.schedules IS 'Schedules made by erp.schedule() (pg_cron jobs named pgerp:<name>)';

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('erp.job', 'SELECT'),
    ('erp.job_kind', 'SELECT'),
    ('erp.job_status', 'SELECT');
