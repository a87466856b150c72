/*
 * Job settings, shared memory, the launcher's registration and the SQL
 * functions that read or touch shared memory: erp.job_progress,
 * erp._job_progress (behind erp.job_status), erp.job_workers and the
 * wake-up at commit of erp.enqueue.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include <signal.h>
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "pgerp/core.h"
#include "pgerp/jobs.h"
#include "pgerp/rbac.h"

JobShared  *Jobs = NULL;
int			job_workers = 2;
char	   *job_databases = NULL;
int			job_poll_interval = 5000;
int			job_retry_base = 10;
int			job_max_queued_per_user = 1000;
int			job_housekeeping_interval = 30;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool wake_at_commit = false;

static void
jobs_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(JobShared)));
	RequestNamedLWLockTranche("pgerp jobs", 1);
}

static void
jobs_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	Jobs = ShmemInitStruct("pgerp jobs", sizeof(JobShared), &found);
	if (!found)
	{
		memset(Jobs, 0, sizeof(JobShared));
		Jobs->lock = &(GetNamedLWLockTranche("pgerp jobs"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Wake the workers of the database once the enqueuing transaction commits. */
static void
jobs_xact_callback(XactEvent event, void *arg)
{
	if (!wake_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		JobsWakeWorkers(MyDatabaseId);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		wake_at_commit = false;
}

void
JobsInit(void)
{
	/* while a job runs, its enqueuer is the caller */
	CallerRegisterRoleHook(JobsCurrentRunAs);
	DefineCustomIntVariable("pgerp.job_workers",
							"Job workers per database in pgerp.job_databases.",
							NULL, &job_workers, 2, 0, JOB_MAX_WORKERS,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgerp.job_databases",
							   "Databases whose erp.job queue the workers run (comma-separated).",
							   "Empty: the database of cron.database_name, else postgres.",
							   /* SIGHUP, not POSTMASTER: those cannot be defined when loaded late */
							   &job_databases, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.job_poll_interval",
							"Longest sleep of an idle job worker; enqueued jobs wake workers at once.",
							NULL, &job_poll_interval, 5000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.job_retry_base",
							"Delay before the first retry of a failed job; doubled at each attempt.",
							NULL, &job_retry_base, 10, 0, 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	/* SUSET: a user must not raise their own limit (erp.enqueue reads it) */
	DefineCustomIntVariable("pgerp.job_max_queued_per_user",
							"Most queued jobs a pgerp user may have; erp.enqueue refuses more (superusers are not limited).",
							NULL, &job_max_queued_per_user, 1000, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.housekeeping_interval",
							"How often the first job worker of a database seals the audit chain and flushes the sign-in events; 0: never.",
							"Without job workers, schedule erp._housekeeping() with pg_cron instead.",
							&job_housekeeping_interval, 30, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	RegisterXactCallback(jobs_xact_callback, NULL);

	if (process_shared_preload_libraries_in_progress)
	{
		BackgroundWorker w;

		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = jobs_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = jobs_shmem_startup;

		memset(&w, 0, sizeof(w));
		/* connected to the shared catalogs only: it looks databases up in pg_database */
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		/* not on a standby; started by the postmaster when a promotion ends recovery */
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = 5;
		snprintf(w.bgw_library_name, BGW_MAXLEN, "pgerp");
		snprintf(w.bgw_function_name, BGW_MAXLEN, "pgerp_job_launcher_main");
		snprintf(w.bgw_name, BGW_MAXLEN, "pgerp job launcher");
		snprintf(w.bgw_type, BGW_MAXLEN, "pgerp job launcher");
		RegisterBackgroundWorker(&w);
	}
}

/* The databases to serve, comma-separated: the setting, else cron's, else postgres. */
char *
JobsDatabaseList(void)
{
	const char *cron;

	if (job_databases != NULL && job_databases[0] != '\0')
		return pstrdup(job_databases);
	cron = GetConfigOption("cron.database_name", true, false);
	return pstrdup(cron != NULL && cron[0] != '\0' ? cron : "postgres");
}

void
JobsWakeWorkers(Oid dboid)
{
	if (Jobs == NULL)
		return;
	LWLockAcquire(Jobs->lock, LW_SHARED);
	for (int i = 0; i < JOB_MAX_WORKERS; i++)
	{
		JobSlot    *s = &Jobs->slots[i];

		if (s->pid != 0 && s->dboid == dboid && s->idle && s->latch != NULL)
			SetLatch(s->latch);
	}
	LWLockRelease(Jobs->lock);
}

int
JobsLiveWorkers(Oid dboid, pid_t *pids, int max)
{
	int			n = 0;

	if (Jobs == NULL)
		return 0;
	LWLockAcquire(Jobs->lock, LW_SHARED);
	for (int i = 0; i < JOB_MAX_WORKERS && n < max; i++)
		if (Jobs->slots[i].pid != 0 && Jobs->slots[i].dboid == dboid)
			pids[n++] = Jobs->slots[i].pid;
	LWLockRelease(Jobs->lock);
	return n;
}

/*
 * Does a worker of this node, in database dboid, with that pid hold that job
 * now? The job row's worker_pid alone says nothing after a failover or a
 * restart: the pid may be another host's, or reused by an unrelated process
 * or by a worker running another job. Shared memory lives as long as this
 * postmaster, so a slot holding the job is this node's incarnation running
 * it. With cancel, the holder is sent a cancel, under the lock, so the pid
 * cannot have been reused in between.
 */
bool
JobsSlotHolds(Oid dboid, pid_t pid, int64 company_id, int64 job_id, bool cancel)
{
	bool		held = false;

	if (Jobs == NULL || pid == 0 || job_id == 0)
		return false;
	LWLockAcquire(Jobs->lock, LW_SHARED);
	for (int i = 0; i < JOB_MAX_WORKERS && !held; i++)
	{
		JobSlot    *s = &Jobs->slots[i];

		if (s->pid == pid && s->dboid == dboid && s->job_id == job_id && s->company_id == company_id)
		{
			held = true;
			/* the worker clears its slot under the lock before it exits */
			if (cancel)
				(void) kill(pid, SIGINT);
		}
	}
	LWLockRelease(Jobs->lock);
	return held;
}

/* erp._job_running(company, id, pid): is that job running in a worker of this node? */
PG_FUNCTION_INFO_V1(pgerp_job_running);
Datum
pgerp_job_running(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(JobsSlotHolds(MyDatabaseId, PG_GETARG_INT32(2), PG_GETARG_INT64(0), PG_GETARG_INT64(1), false));
}

/* erp._job_cancel_running(company, id, pid): cancel its handler, if a worker of this node runs it. */
PG_FUNCTION_INFO_V1(pgerp_job_cancel_running);
Datum
pgerp_job_cancel_running(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(JobsSlotHolds(MyDatabaseId, PG_GETARG_INT32(2), PG_GETARG_INT64(0), PG_GETARG_INT64(1), true));
}

void
JobsSetProgress(double fraction, const char *note)
{
	if (Jobs == NULL)
		return;
	LWLockAcquire(Jobs->lock, LW_EXCLUSIVE);
	for (int i = 0; i < JOB_MAX_WORKERS; i++)
	{
		JobSlot    *s = &Jobs->slots[i];

		if (s->pid == MyProcPid)
		{
			s->progress = fraction;
			if (note != NULL)
				strlcpy(s->note, note, JOB_NOTE_LEN);
			s->progress_at = GetCurrentTimestamp();
			break;
		}
	}
	LWLockRelease(Jobs->lock);
}

/* erp._job_wake_on_commit(): called by erp.enqueue. */
PG_FUNCTION_INFO_V1(pgerp_job_wake_on_commit);
Datum
pgerp_job_wake_on_commit(PG_FUNCTION_ARGS)
{
	wake_at_commit = true;
	PG_RETURN_VOID();
}

/*
 * erp.job_progress(fraction, note): the running job's progress, in shared
 * memory so that other sessions see it before the job commits. Outside a
 * worker (erp.run_pending) there is nobody to show it to: it does nothing.
 */
PG_FUNCTION_INFO_V1(pgerp_job_progress);
Datum
pgerp_job_progress(PG_FUNCTION_ARGS)
{
	double		f;
	char	   *note = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("progress must not be null")));
	f = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(0)));
	if (!(f >= 0 && f <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("progress must be between 0 and 1")));
	if (JobsCurrentJobId() == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no job is running in this session"),
				 errhint("Call erp.job_progress() from a job handler.")));
	if (JobsInWorker())
		JobsSetProgress(f, note);
	PG_RETURN_VOID();
}

/*
 * erp._job_progress(): (job_id, pid, progress, note, started_at, progress_at)
 * of the jobs running in this database's workers. Says, with a NOTICE, when
 * no worker serves this database.
 */
PG_FUNCTION_INFO_V1(pgerp_job_progress_rows);
Datum
pgerp_job_progress_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			live = 0;
	int64		me = SessionUserId();
	bool		bootstrap = me == 0 && CallerIsSuperuser();

	InitMaterializedSRF(fcinfo, 0);
	if (Jobs != NULL)
	{
		LWLockAcquire(Jobs->lock, LW_SHARED);
		for (int i = 0; i < JOB_MAX_WORKERS; i++)
		{
			JobSlot    *s = &Jobs->slots[i];
			Datum		v[6];
			bool		n[6] = {false, false, false, false, false, false};

			if (s->pid == 0 || s->dboid != MyDatabaseId)
				continue;
			live++;
			if (s->job_id == 0)
				continue;
			/* the same rows as erp.job shows this caller */
			if (!(bootstrap || (me != 0 && s->user_id == me) ||
				  (s->company_id != 0 && AclHasPermission(s->company_id, "erp.job:read"))))
				continue;
			v[0] = Int64GetDatum(s->job_id);
			v[1] = Int32GetDatum(s->pid);
			if (s->progress < 0)
				n[2] = true;
			else
				v[2] = DirectFunctionCall2(numeric_round,
										   DirectFunctionCall1(float8_numeric, Float8GetDatum(s->progress)),
										   Int32GetDatum(4));
			if (s->note[0] == '\0')
				n[3] = true;
			else
				v[3] = CStringGetTextDatum(s->note);
			v[4] = TimestampTzGetDatum(s->started_at);
			if (s->progress_at == 0)
				n[5] = true;
			else
				v[5] = TimestampTzGetDatum(s->progress_at);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		}
		LWLockRelease(Jobs->lock);
	}
	if (live == 0)
		ereport(NOTICE,
				(errmsg("no job worker is running for this database"),
				 errhint(Jobs == NULL
						 ? "Add pgerp to shared_preload_libraries and restart, or run due jobs with erp.run_pending()."
						 : "Add this database to pgerp.job_databases and reload, or run due jobs with erp.run_pending().")));
	return (Datum) 0;
}

/*
 * erp.job_workers(): (pid, job_id, jobs, memory) of this database's workers:
 * the job each runs (NULL when idle), how many it has run and its memory
 * between jobs (TopMemoryContext and below, bytes), to watch for leaks.
 * Not published: superusers.
 */
PG_FUNCTION_INFO_V1(pgerp_job_workers);
Datum
pgerp_job_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (Jobs == NULL)
		return (Datum) 0;
	LWLockAcquire(Jobs->lock, LW_SHARED);
	for (int i = 0; i < JOB_MAX_WORKERS; i++)
	{
		JobSlot    *s = &Jobs->slots[i];
		Datum		v[4];
		bool		n[4] = {false, false, false, false};

		if (s->pid == 0 || s->dboid != MyDatabaseId)
			continue;
		v[0] = Int32GetDatum(s->pid);
		if (s->job_id == 0)
			n[1] = true;
		else
			v[1] = Int64GetDatum(s->job_id);
		v[2] = Int64GetDatum(s->jobs_run);
		v[3] = Int64GetDatum(s->memory);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	LWLockRelease(Jobs->lock);
	return (Datum) 0;
}
