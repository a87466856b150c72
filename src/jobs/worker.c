/*
 * Running jobs. A worker (one per slot, started by the launcher) claims the
 * next due job with FOR UPDATE SKIP LOCKED and commits the claim, then runs
 * the handler in a second transaction as the role and pgerp user that
 * enqueued it, under the kind's timeout; the handler's work and the "done"
 * mark commit together. An error rolls the work back and a third transaction
 * records it and schedules the retry. erp.run_pending() does the same in the
 * calling session with subtransactions.
 *
 * A job is never left "running": a worker requeues, when it starts and then
 * at every poll, the running jobs that no worker slot of this node holds (a
 * SIGKILL or a crash restarts every process; after a failover the row names
 * a pid of the old primary). SIGTERM cancels the running handler and
 * requeues its job without counting the attempt; between jobs it ends the
 * worker at once (die), so a commit waiting for a synchronous standby that
 * is gone does not hold up a fast shutdown.
 *
 * The queue's own bookkeeping (the claim, requeued orphans, a requeue at
 * shutdown) commits with synchronous_commit = local: losing it in a failover
 * loses nothing, since the new primary requeues or reruns the job, and the
 * handler's transaction, which does wait for the standby, covers its WAL.
 *
 * While the server is read-only (default_transaction_read_only, which
 * pg_auto_failover sets during a promotion) or in recovery, workers idle
 * without error; a reload wakes them.
 *
 * The first worker of a database (JOB_HOUSEKEEPER) runs erp._housekeeping()
 * at start and every pgerp.housekeeping_interval: the audit seal and the
 * sign-in events, with no dependency on pg_cron and its node binding.
 *
 * Memory: each loop turn runs in the worker's turn context, reset at the
 * start of the next turn; after every commit or abort the turn switches back
 * to it (a transaction's end leaves TopMemoryContext current, where anything
 * allocated would stay for the life of the worker). The slot shows the
 * worker's memory between turns (erp.job_workers()).
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "pgerp/core.h"
#include "pgerp/jobs.h"

void		pgerp_job_worker_main(Datum arg);

typedef struct JobRow
{
	int64		company_id;
	int64		id;
	char	   *kind;
	char	   *args;			/* jsonb as text */
	char	   *handler;		/* schema-qualified, quoted */
	int64		timeout_ms;
	Oid			run_as;
	int64		user_id;
} JobRow;

static bool in_worker = false;
static int	my_slot = -1;
static bool housekeeper = false;
static bool said_read_only = false;
static int64 current_job = 0;
static Oid	current_run_as = InvalidOid;	/* the role of the running job */
static volatile sig_atomic_t got_sigterm = false;
static volatile sig_atomic_t recording = false;	/* a job's failure or requeue is being written */

int64
JobsCurrentJobId(void)
{
	return current_job;
}

/* While a job runs, the role it runs as stands for "the caller". */
Oid
JobsCurrentRunAs(void)
{
	return current_job != 0 ? current_run_as : InvalidOid;
}

bool
JobsInWorker(void)
{
	return in_worker;
}

#define CLAIM_SQL \
	"WITH c AS (SELECT j.company_id, j.id FROM erp.job j" \
	"  WHERE j.status = 'queued' AND j.run_at OPERATOR(pg_catalog.<=) pg_catalog.now() %s" \
	"  ORDER BY j.priority DESC, j.run_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED)" \
	" UPDATE erp.job j SET status = 'running', attempts = j.attempts + 1," \
	"   started_at = pg_catalog.clock_timestamp(), finished_at = NULL, worker_pid = pg_catalog.pg_backend_pid()" \
	" FROM c WHERE j.company_id OPERATOR(pg_catalog.=) c.company_id AND j.id OPERATOR(pg_catalog.=) c.id" \
	" RETURNING j.company_id, j.id, j.kind, j.args::text," \
	"  (SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname)" \
	"     FROM erp.job_kind k JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) k.handler::pg_catalog.oid" \
	"     JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace" \
	"    WHERE k.kind OPERATOR(pg_catalog.=) j.kind)," \
	"  (SELECT (EXTRACT(epoch FROM k.timeout) * 1000)::bigint FROM erp.job_kind k" \
	"    WHERE k.kind OPERATOR(pg_catalog.=) j.kind)," \
	"  j.run_as::pg_catalog.oid, j.enqueued_by"

/* The statements of every job, planned once per backend and kept. */
#define kept PgerpKeptPlan

static SPIPlanPtr claim_all_plan = NULL;	/* workers, bootstrap run_pending */
static SPIPlanPtr claim_mine_plan = NULL;	/* run_pending of a user: own jobs */
static SPIPlanPtr user_plan = NULL;
static SPIPlanPtr done_plan = NULL;
static SPIPlanPtr failure_plan = NULL;
static SPIPlanPtr orphan_plan = NULL;
static SPIPlanPtr installed_plan = NULL;
static SPIPlanPtr housekeeping_plan = NULL;
static SPIPlanPtr has_housekeeping_plan = NULL;
static SPIPlanPtr next_due_plan = NULL;
static SPIPlanPtr handler_plan = NULL;	/* of the last handler called */
static char *handler_of_plan = NULL;

#define CLAIM_MINE_FILTER \
	" AND j.enqueued_by IS NOT DISTINCT FROM NULLIF($1, 0) AND j.run_as::pg_catalog.oid OPERATOR(pg_catalog.=) $2"

/*
 * Claim the next due job (SPI connected, in a transaction); false if none.
 * mine: only the jobs of pgerp user values[0] and role values[1].
 */
static bool
claim(JobRow *j, bool mine, Datum *values, MemoryContext keep)
{
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;
	MemoryContext old;
	Oid			types[2] = {INT8OID, OIDOID};
	SPIPlanPtr	plan = mine
		? kept(&claim_mine_plan, psprintf(CLAIM_SQL, CLAIM_MINE_FILTER), 2, types)
		: kept(&claim_all_plan, psprintf(CLAIM_SQL, ""), 0, NULL);

	if (SPI_execute_plan(plan, mine ? values : NULL, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "job claim failed");
	if (SPI_processed == 0)
		return false;
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	old = MemoryContextSwitchTo(keep);
	j->company_id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
	j->id = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
	j->kind = SPI_getvalue(t, d, 3);
	j->args = SPI_getvalue(t, d, 4);
	j->handler = SPI_getvalue(t, d, 5);
	j->timeout_ms = DatumGetInt64(SPI_getbinval(t, d, 6, &isnull));
	if (isnull)
		j->timeout_ms = 0;
	j->run_as = DatumGetObjectId(SPI_getbinval(t, d, 7, &isnull));
	j->user_id = DatumGetInt64(SPI_getbinval(t, d, 8, &isnull));
	if (isnull)
		j->user_id = 0;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Run the handler as the job's role and pgerp user (SPI connected, in a
 * transaction or subtransaction) and mark the job done; returns the result.
 * Errors propagate to the caller, which records them.
 */
static void
execute(JobRow *j)
{
	Oid			saved_user;
	int			saved_sec;
	Oid			types[2] = {INT8OID, JSONBOID};
	Datum		values[2];
	Oid			dtypes[3] = {INT8OID, INT8OID, JSONBOID};
	Datum		dvalues[3];
	char		dnulls[3] = {' ', ' ', ' '};
	bool		isnull;
	Datum		result;
	bool		had_local;
	int64		prev_user,
				prev_company;

	if (j->handler == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("job kind \"%s\" has no handler any more", j->kind)));
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(j->run_as)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that enqueued job %lld no longer exists", (long long) j->id)));
	if (j->user_id == 0 && !superuser_arg(j->run_as))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("job %lld was enqueued with nobody signed in", (long long) j->id),
				 errdetail("Jobs are enqueued by a signed-in user or a superuser; this one runs as nobody.")));
	if (j->user_id != 0)
	{
		Datum		u = Int64GetDatum(j->user_id);
		Oid			t = INT8OID;

		if (SPI_execute_plan(kept(&user_plan, "SELECT 1 FROM erp.app_user WHERE id OPERATOR(pg_catalog.=) $1 AND active",
								  1, &t), &u, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "job user lookup failed");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("the user who enqueued job %lld is deactivated or gone", (long long) j->id)));
	}

	GetUserIdAndSecContext(&saved_user, &saved_sec);
	had_local = SessionLocalActive();
	prev_user = SessionUserId();
	prev_company = SessionCompanyId();
	SetUserIdAndSecContext(j->run_as, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	SessionSet(j->user_id, j->company_id, true);
	values[0] = Int64GetDatum(j->id);
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(j->args));
	if (handler_of_plan == NULL || strcmp(handler_of_plan, j->handler) != 0)
	{
		/* a new handler: plan its call once, kept until another one runs */
		if (handler_plan != NULL)
			SPI_freeplan(handler_plan);
		handler_plan = NULL;
		if (handler_of_plan != NULL)
			pfree(handler_of_plan);
		handler_of_plan = NULL;
		(void) kept(&handler_plan, psprintf("SELECT %s($1, $2)", j->handler), 2, types);
		handler_of_plan = MemoryContextStrdup(TopMemoryContext, j->handler);
	}
	if (SPI_execute_plan(handler_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "job handler call failed");
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SetUserIdAndSecContext(saved_user, saved_sec);
	if (had_local)
		SessionSet(prev_user, prev_company, true);
	else
		SessionEndLocal();

	dvalues[0] = Int64GetDatum(j->company_id);
	dvalues[1] = Int64GetDatum(j->id);
	dvalues[2] = result;
	if (isnull)
		dnulls[2] = 'n';
	if (SPI_execute_plan(kept(&done_plan,
							  "UPDATE erp.job SET status = 'done', result = $3, finished_at = pg_catalog.clock_timestamp(),"
							  " worker_pid = NULL, last_error = NULL, last_sqlstate = NULL"
							  " WHERE company_id OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) $2"
							  " AND status = 'running' AND worker_pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()",
							  3, dtypes), dvalues, dnulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "job update failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("job %lld was cancelled while it ran", (long long) j->id)));
}

/*
 * After a failed run: count the attempt (unless a shutdown interrupted it),
 * keep the error, retry after retry_base * 2^(attempt-1) or give up.
 */
static void
record_failure(JobRow *j, ErrorData *ed, bool shutdown)
{
	Oid			t[6] = {INT8OID, INT8OID, INT4OID, TEXTOID, TEXTOID, INT4OID};
	Datum		v[6];

	v[0] = Int64GetDatum(j->company_id);
	v[1] = Int64GetDatum(j->id);
	v[2] = Int32GetDatum(shutdown ? 1 : 0);
	v[3] = CStringGetTextDatum(ed->message ? ed->message : "unknown error");
	v[4] = CStringGetTextDatum(unpack_sql_state(ed->sqlerrcode));
	v[5] = Int32GetDatum(job_retry_base);
	if (SPI_execute_plan(kept(&failure_plan,
		"UPDATE erp.job SET attempts = attempts - $3,"
		" status = CASE WHEN $3 = 0 AND attempts >= max_attempts THEN 'failed' ELSE 'queued' END,"
		" last_error = CASE WHEN $3 = 0 THEN $4 ELSE last_error END,"
		" last_sqlstate = CASE WHEN $3 = 0 THEN $5 ELSE last_sqlstate END,"
		" run_at = CASE WHEN $3 = 1 THEN pg_catalog.now()"
		"   ELSE pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => $6 * pg_catalog.power(2, attempts - 1)) END,"
		" finished_at = CASE WHEN $3 = 0 AND attempts >= max_attempts THEN pg_catalog.clock_timestamp() END,"
		" worker_pid = NULL"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) $2 AND status = 'running'"
		" AND worker_pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()",
		6, t), v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "job failure update failed");
}

/* Running jobs whose worker is gone go back to the queue (or fail, if out of attempts). */
static void
requeue_orphans(void)
{
	/*
	 * Liveness is read from shared memory row by row, when the row is
	 * (re)checked: a worker sets its slot before its claim commits, so a row
	 * claimed after this statement began is seen held.
	 */
	if (SPI_execute_plan(kept(&orphan_plan,
		"UPDATE erp.job SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,"
		" last_error = 'the worker running the job stopped before it finished', last_sqlstate = '57P01',"
		" run_at = pg_catalog.now(), worker_pid = NULL,"
		" finished_at = CASE WHEN attempts >= max_attempts THEN pg_catalog.clock_timestamp() END"
		" WHERE status = 'running' AND NOT erp._job_running(company_id, id, worker_pid)",
		0, NULL), NULL, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "job recovery failed");
	if (SPI_processed > 0)
		ereport(LOG, (errmsg("pgerp requeued %llu jobs whose worker had stopped", (unsigned long long) SPI_processed)));
}

static void
set_slot_job(const JobRow *j)
{
	JobSlot    *s = &Jobs->slots[my_slot];

	LWLockAcquire(Jobs->lock, LW_EXCLUSIVE);
	s->idle = (j == NULL);
	s->job_id = j ? j->id : 0;
	s->company_id = j ? j->company_id : 0;
	s->user_id = j ? j->user_id : 0;
	strlcpy(s->kind, j ? j->kind : "", JOB_KIND_LEN);
	s->progress = -1;
	s->note[0] = '\0';
	s->started_at = j ? GetCurrentTimestamp() : 0;
	s->progress_at = 0;
	LWLockRelease(Jobs->lock);
}

/*
 * Between two turns (the turn context just reset): how many jobs the worker
 * has run and its memory, in the slot, so that a leak shows in
 * erp.job_workers(). Each context keeps its own total: this walks the
 * contexts, it allocates nothing.
 */
static void
publish_turn_stats(int64 jobs_run)
{
	Size		memory = MemoryContextMemAllocated(TopMemoryContext, true);
	JobSlot    *s = &Jobs->slots[my_slot];

	LWLockAcquire(Jobs->lock, LW_EXCLUSIVE);
	s->jobs_run = jobs_run;
	s->memory = (int64) memory;
	LWLockRelease(Jobs->lock);
}

static void
release_slot(int code, Datum arg)
{
	if (Jobs == NULL || my_slot < 0)
		return;
	LWLockAcquire(Jobs->lock, LW_EXCLUSIVE);
	if (Jobs->slots[my_slot].pid == MyProcPid)
		memset(&Jobs->slots[my_slot], 0, sizeof(JobSlot));
	LWLockRelease(Jobs->lock);
}

/*
 * SIGTERM: during a job, cancel its handler (the job is requeued, then the
 * worker exits); between jobs, die, as a backend does: that also ends a wait
 * for a synchronous standby, which a cancel of nothing would not.
 */
static void
job_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	if (current_job != 0)
	{
		/*
		 * Cancel the handler; never the transaction that records its end: a
		 * further SIGTERM there would lose the requeue (the job would stay
		 * running until the next start's recovery, its attempt counted).
		 */
		if (!recording)
			QueryCancelPending = true;
	}
	else
		ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* This transaction's commit does not wait for a synchronous standby. */
static void
commit_locally(void)
{
	(void) set_config_option("synchronous_commit", "local", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Is the server writable now? Read-only (a promotion under way) or in
 * recovery, the worker waits quietly, with one log line per episode.
 */
static bool
server_writable(void)
{
	bool		writable = !RecoveryInProgress() && !XactReadOnly;

	if (!writable && !said_read_only)
		ereport(LOG,
				(errmsg("pgerp job worker: the server is read-only; jobs wait until it accepts writes")));
	said_read_only = !writable;
	return writable;
}

/*
 * The housekeeping of the first worker of a database, in its own
 * transaction: an error is logged and retried at the next interval, it
 * does not end the worker. Returns false when it did nothing because the
 * server is read-only: pg_auto_failover promotes with
 * default_transaction_read_only on for a few seconds, and a seal put off to
 * the next interval would leave the new primary unsealed that long.
 */
static bool
housekeeping(MemoryContext turn_cxt)
{
	volatile bool writable = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		/* a seal lost in a failover is sealed again by the new primary */
		commit_locally();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "pgerp job worker: housekeeping");
		writable = server_writable();
		if (writable)
		{
			if (SPI_execute_plan(kept(&has_housekeeping_plan,
									  "SELECT pg_catalog.to_regprocedure('erp._housekeeping()') IS NOT NULL", 0, NULL),
								 NULL, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "housekeeping lookup failed");
			if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0 &&
				SPI_execute_plan(kept(&housekeeping_plan, "SELECT erp._housekeeping()", 0, NULL),
								 NULL, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "housekeeping failed");
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(turn_cxt);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(turn_cxt);
		ed = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(turn_cxt);
		QueryCancelPending = false;
		ereport(WARNING, (errmsg("pgerp housekeeping failed: %s", ed->message)));
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return writable;
}

/* One loop turn: claim and run one job; returns the ms to sleep, 0 to go on. */
static long
worker_turn(MemoryContext turn_cxt, bool recover)
{
	JobRow		j;
	bool		found;
	long		sleep_ms = job_poll_interval;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pgerp job worker: looking for due jobs");
	if (SPI_execute_plan(kept(&installed_plan, "SELECT pg_catalog.to_regclass('erp.job') IS NOT NULL", 0, NULL),
						 NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "job table lookup failed");
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") != 0)
	{
		/* the pack is not installed (yet) in this database */
		found = false;
	}
	else if (!server_writable())
		found = false;
	else
	{
		commit_locally();
		if (recover)
			requeue_orphans();
		found = claim(&j, false, NULL, turn_cxt);
		/* held before the claim commits: requeue_orphans() sees the job taken */
		if (found)
			set_slot_job(&j);
		else
		{
			if (SPI_execute_plan(kept(&next_due_plan,
									  "SELECT (EXTRACT(epoch FROM pg_catalog.min(run_at) - pg_catalog.clock_timestamp()) * 1000)::bigint"
									  " FROM erp.job WHERE status = 'queued'", 0, NULL), NULL, NULL, true, 1) == SPI_OK_SELECT)
			{
				bool		isnull;
				int64		ms = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

				if (!isnull)
					sleep_ms = Max(1, Min(sleep_ms, ms));
			}
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(turn_cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (!found)
		return sleep_ms;

	/* run it */
	recording = false;		/* before current_job: a SIGTERM from now on cancels this job */
	current_job = j.id;
	current_run_as = j.run_as;
	pgstat_report_appname(psprintf("pgerp job %lld %s", (long long) j.id, j.kind));
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, psprintf("job %lld: %s", (long long) j.id, j.kind));
		if (j.timeout_ms > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, (int) Min(j.timeout_ms, INT_MAX));
		execute(&j);
		disable_timeout(STATEMENT_TIMEOUT, false);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(turn_cxt);
	}
	PG_CATCH();
	{
		ErrorData  *ed;
		bool		shutdown;

		recording = true;
		shutdown = got_sigterm;
		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(turn_cxt);
		ed = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(turn_cxt);
		QueryCancelPending = false;
		ereport(shutdown ? LOG : WARNING,
				(errmsg("pgerp job %lld (%s) %s: %s", (long long) j.id, j.kind,
						shutdown ? "interrupted by shutdown, requeued" : "failed", ed->message)));
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		/* at shutdown the standby may be gone: this requeue must not wait for it */
		if (shutdown)
			commit_locally();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		record_failure(&j, ed, shutdown);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(turn_cxt);
		recording = false;
	}
	PG_END_TRY();
	current_job = 0;
	set_slot_job(NULL);
	pgstat_report_appname("pgerp job worker");
	pgstat_report_activity(STATE_IDLE, NULL);
	return 0;
}

void
pgerp_job_worker_main(Datum arg)
{
	char		db[NAMEDATALEN];
	MemoryContext turn_cxt;
	TimestampTz last_recovery = 0;
	TimestampTz last_housekeeping = 0;
	bool		housekeeping_waits = false;	/* put off: the server was read-only */
	int64		jobs_run = 0;

	my_slot = DatumGetInt32(arg) & ~JOB_HOUSEKEEPER;
	housekeeper = (DatumGetInt32(arg) & JOB_HOUSEKEEPER) != 0;
	strlcpy(db, MyBgworkerEntry->bgw_extra, sizeof(db));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, job_sigterm);
	BackgroundWorkerUnblockSignals();
	if (Jobs == NULL || my_slot < 0 || my_slot >= JOB_MAX_WORKERS)
		proc_exit(1);
	BackgroundWorkerInitializeConnection(db, NULL, 0);
	in_worker = true;

	LWLockAcquire(Jobs->lock, LW_EXCLUSIVE);
	memset(&Jobs->slots[my_slot], 0, sizeof(JobSlot));
	Jobs->slots[my_slot].pid = MyProcPid;
	Jobs->slots[my_slot].dboid = MyDatabaseId;
	Jobs->slots[my_slot].latch = MyLatch;
	Jobs->slots[my_slot].idle = true;
	LWLockRelease(Jobs->lock);
	before_shmem_exit(release_slot, (Datum) 0);
	pgstat_report_appname("pgerp job worker");

	turn_cxt = AllocSetContextCreate(TopMemoryContext, "pgerp job worker", ALLOCSET_DEFAULT_SIZES);
	while (!got_sigterm)
	{
		long		sleep_ms;
		bool		recover;
		TimestampTz now = GetCurrentTimestamp();
		long		housekeeping_ms = job_housekeeping_interval * 1000L;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		recover = last_recovery == 0 || TimestampDifferenceExceeds(last_recovery, now, job_poll_interval);
		if (recover)
			last_recovery = now;
		MemoryContextSwitchTo(turn_cxt);
		MemoryContextReset(turn_cxt);
		publish_turn_stats(jobs_run);
		/* reset the latch first: an enqueue committed during the turn wakes the next wait */
		ResetLatch(MyLatch);
		if (housekeeper && housekeeping_ms > 0 &&
			(last_housekeeping == 0 || housekeeping_waits ||
			 TimestampDifferenceExceeds(last_housekeeping, now, housekeeping_ms)))
		{
			last_housekeeping = now;
			/* read-only: again at the next turn (a reload wakes the worker) */
			housekeeping_waits = !housekeeping(turn_cxt);
		}
		sleep_ms = worker_turn(turn_cxt, recover);
		if (sleep_ms == 0)
			jobs_run++;			/* a turn that ran a job asks for no sleep */
		if (housekeeper && housekeeping_ms > 0 && sleep_ms > 0 && !housekeeping_waits)
		{
			long		secs;
			int			usecs;

			TimestampDifference(GetCurrentTimestamp(),
								TimestampTzPlusMilliseconds(last_housekeeping, housekeeping_ms), &secs, &usecs);
			sleep_ms = Max(1, Min(sleep_ms, secs * 1000L + usecs / 1000));
		}
		if (sleep_ms > 0 && !got_sigterm)
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
	}
	proc_exit(0);
}

/*
 * erp.run_pending(p_max): run up to p_max due jobs in this session, each in
 * a subtransaction of the caller's transaction (no timeout: the caller's
 * statement_timeout applies to the whole call). A superuser with nobody
 * signed in runs every due job as its user; anyone else only the jobs they
 * enqueued themselves.
 */
PG_FUNCTION_INFO_V1(pgerp_job_run_pending);
Datum
pgerp_job_run_pending(PG_FUNCTION_ARGS)
{
	int32		max = PG_ARGISNULL(0) ? 100 : PG_GETARG_INT32(0);
	bool		bootstrap = SessionUserId() == 0 && CallerIsSuperuser();
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int32		done = 0;
	Datum		values[2] = {Int64GetDatum(SessionUserId()), ObjectIdGetDatum(GetUserId())};

	if (max <= 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("p_max must be positive")));
	if (current_job != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("erp.run_pending() cannot run inside a job")));
	SPI_connect();
	while (done < max)
	{
		JobRow		j;
		bool		found;
		Oid			saved_user;
		int			saved_sec;

		CHECK_FOR_INTERRUPTS();
		GetUserIdAndSecContext(&saved_user, &saved_sec);
		/* the claim runs as the owner: job rows are not the caller's to update */
		SetUserIdAndSecContext(ErpOwner(), saved_sec | SECURITY_LOCAL_USERID_CHANGE);
		found = claim(&j, !bootstrap, values, cxt);
		SetUserIdAndSecContext(saved_user, saved_sec);
		if (!found)
			break;
		current_job = j.id;
		current_run_as = j.run_as;
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			SetUserIdAndSecContext(ErpOwner(), saved_sec | SECURITY_LOCAL_USERID_CHANGE);
			execute(&j);
			SetUserIdAndSecContext(saved_user, saved_sec);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(cxt);
			ed = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			SetUserIdAndSecContext(ErpOwner(), saved_sec | SECURITY_LOCAL_USERID_CHANGE);
			record_failure(&j, ed, false);
			SetUserIdAndSecContext(saved_user, saved_sec);
		}
		PG_END_TRY();
		current_job = 0;
		done++;
	}
	current_job = 0;
	SPI_finish();
	PG_RETURN_INT32(done);
}

/* erp._outer_role(): the role that called, whatever SECURITY DEFINER functions are in between. */
PG_FUNCTION_INFO_V1(pgerp_job_outer_role);
Datum
pgerp_job_outer_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(CallerRole());
}

PG_FUNCTION_INFO_V1(pgerp_job_current_id);
Datum
pgerp_job_current_id(PG_FUNCTION_ARGS)
{
	if (current_job == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(current_job);
}

/*
 * erp._job_worker_alive(pid) of 0.1.0, replaced in 0.2.0 by
 * erp._job_running(): kept because 0.1.0's install script, which an upgrade
 * starts from, creates a function with this symbol.
 */
PG_FUNCTION_INFO_V1(pgerp_job_worker_alive);
Datum
pgerp_job_worker_alive(PG_FUNCTION_ARGS)
{
	pid_t		pids[JOB_MAX_WORKERS];
	int			n;
	int32		pid;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	pid = PG_GETARG_INT32(0);
	n = JobsLiveWorkers(MyDatabaseId, pids, JOB_MAX_WORKERS);
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}
