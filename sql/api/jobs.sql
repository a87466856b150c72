-- api.jobs: the caller's jobs and, with erp.job:read, its companies' jobs
-- (erp.job under its row security), and api.cancel_job. Jobs are enqueued
-- by the functions that start them (api.run_mrp, api.replenish).

CREATE VIEW api.jobs WITH (security_invoker = true) AS
SELECT j.company_id, j.id, j.kind, j.args, j.status, j.priority, j.run_at, j.attempts, j.max_attempts,
       j.last_error, j.last_sqlstate, j.result, j.enqueued_by, j.enqueued_at, j.started_at, j.finished_at
  FROM erp.job j;
COMMENT ON VIEW api.jobs IS
    'Background jobs: the caller''s own and, with erp.job:read, those of its companies. Read-only; cancel with rpc/cancel_job';
COMMENT ON COLUMN api.jobs.company_id IS 'Company the job runs in (0: a system job)';
COMMENT ON COLUMN api.jobs.id IS 'Job id, as returned by rpc/run_mrp and rpc/replenish';
COMMENT ON COLUMN api.jobs.kind IS 'Job kind, such as mrp.run or mrp.replenish';
COMMENT ON COLUMN api.jobs.args IS 'Arguments of the job';
COMMENT ON COLUMN api.jobs.status IS 'queued, running, done, failed or cancelled';
COMMENT ON COLUMN api.jobs.attempts IS 'Attempts so far';
COMMENT ON COLUMN api.jobs.last_error IS 'Message of the last failure';
COMMENT ON COLUMN api.jobs.last_sqlstate IS 'SQLSTATE of the last failure';
COMMENT ON COLUMN api.jobs.result IS 'What the job returned once done';
COMMENT ON COLUMN api.jobs.enqueued_by IS 'User who enqueued the job';

CREATE FUNCTION api.cancel_job(job bigint) RETURNS api.jobs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r api.jobs;
BEGIN
    PERFORM erp.cancel_job(cancel_job.job);
    SELECT v.* INTO r FROM api.jobs v WHERE v.id OPERATOR(pg_catalog.=) cancel_job.job;
    RETURN r;
END $$;
COMMENT ON FUNCTION api.cancel_job(bigint) IS
    'Cancel a queued or running job (its enqueuer, or erp.job:cancel on its company); returns the job. A job the caller cannot see answers "does not exist" (22023)';

REVOKE ALL ON FUNCTION api.cancel_job(bigint) FROM PUBLIC;
