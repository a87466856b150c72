/*
 * The job launcher: a background worker (registered in _PG_init, started once
 * recovery has finished, so never on a standby and at once after a promotion)
 * that keeps pgerp.job_workers workers running for each database of
 * pgerp.job_databases. Workers that exit are started again after a pause;
 * after a reload, extra workers and workers of databases no longer listed
 * are stopped and the missing ones started.
 *
 * The launcher is connected to the shared catalogs only: before it starts the
 * workers of a database it looks the database up in pg_database, so that a
 * database that does not exist yet (a cluster being set up, a standby being
 * built) costs one log line, not a worker dying with FATAL every 5 seconds.
 * The first worker of each database also does the housekeeping (worker.c).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "pgerp/jobs.h"

#define RESTART_DELAY_MS 5000

void		pgerp_job_launcher_main(Datum arg);

static BackgroundWorkerHandle *handles[JOB_MAX_WORKERS];
static TimestampTz last_start[JOB_MAX_WORKERS];
static char slot_db[JOB_MAX_WORKERS][NAMEDATALEN];
static bool slot_db_missing[JOB_MAX_WORKERS];	/* said so in the log */

/*
 * Can a worker connect to the database: it exists and allows connections?
 * A heap scan of pg_database, as the autovacuum launcher's database list:
 * a process connected to no database cannot open pg_database's indexes
 * before the shared relcache file exists (a new cluster), so
 * get_database_oid() and the syscache are not for it.
 */
static bool
database_ready(const char *dbname)
{
	MemoryContext cxt = CurrentMemoryContext;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		ready = false;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), dbname) == 0)
		{
			ready = db->datallowconn;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return ready;
}

static void
start_worker(int slot, const char *dbname, bool housekeeper)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pgerp");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "pgerp_job_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "pgerp job worker %d (%s)", slot, dbname);
	snprintf(w.bgw_type, BGW_MAXLEN, "pgerp job worker");
	strlcpy(w.bgw_extra, dbname, BGW_EXTRALEN);
	w.bgw_main_arg = Int32GetDatum(slot | (housekeeper ? JOB_HOUSEKEEPER : 0));
	w.bgw_notify_pid = MyProcPid;
	last_start[slot] = GetCurrentTimestamp();
	strlcpy(slot_db[slot], dbname, NAMEDATALEN);
	if (!RegisterDynamicBackgroundWorker(&w, &handles[slot]))
	{
		handles[slot] = NULL;
		ereport(WARNING,
				(errmsg("pgerp could not start job worker %d for database \"%s\"", slot, dbname),
				 errhint("Raise max_worker_processes.")));
	}
}

static bool
worker_alive(int slot)
{
	pid_t		pid;

	return handles[slot] != NULL && GetBackgroundWorkerPid(handles[slot], &pid) != BGWH_STOPPED;
}

/* Start what is missing, stop what is too many or serves another database. */
static void
adjust_pool(List *dbs)
{
	int			ndb = list_length(dbs);
	int			stride = ndb > 0 ? JOB_MAX_WORKERS / ndb : 0;
	TimestampTz now = GetCurrentTimestamp();

	for (int slot = 0; slot < JOB_MAX_WORKERS; slot++)
	{
		int			d = stride > 0 ? slot / stride : ndb;
		int			w = stride > 0 ? slot % stride : 0;
		const char *db = d < ndb ? list_nth(dbs, d) : NULL;

		if (db != NULL && w < job_workers)
		{
			if (worker_alive(slot) && strcmp(slot_db[slot], db) != 0)
				TerminateBackgroundWorker(handles[slot]);
			else if (!worker_alive(slot) &&
					 TimestampDifferenceExceeds(last_start[slot], now, RESTART_DELAY_MS))
			{
				if (database_ready(db))
				{
					slot_db_missing[slot] = false;
					start_worker(slot, db, w == 0);
				}
				else if (!slot_db_missing[slot])
				{
					slot_db_missing[slot] = true;
					if (w == 0)
						ereport(LOG,
								(errmsg("pgerp job launcher: database \"%s\" does not exist or does not allow connections; its workers start once it does", db)));
				}
			}
		}
		else if (worker_alive(slot))
			TerminateBackgroundWorker(handles[slot]);
	}
}

/* The databases to serve, or NIL (with a log line) when the setting is bad. */
static List *
read_databases(void)
{
	char	   *list = JobsDatabaseList();
	List	   *dbs = NIL;

	if (!SplitIdentifierString(list, ',', &dbs) || list_length(dbs) > JOB_MAX_WORKERS)
	{
		ereport(LOG,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgerp job launcher: invalid pgerp.job_databases \"%s\"; no workers", list),
				 errdetail("A comma-separated list of at most %d database names.", JOB_MAX_WORKERS)));
		return NIL;
	}
	ereport(LOG, (errmsg("pgerp job launcher: %d workers for each of %s", job_workers, list)));
	return dbs;
}

void
pgerp_job_launcher_main(Datum arg)
{
	List	   *dbs = NIL;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	if (Jobs == NULL)
		proc_exit(0);
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	Jobs->launcher_pid = MyProcPid;
	/* the list lives in TopMemoryContext: it is kept across loop turns */
	MemoryContextSwitchTo(TopMemoryContext);
	dbs = read_databases();

	for (;;)
	{
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			dbs = read_databases();
		}
		adjust_pool(dbs);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	/* the workers get their own SIGTERM from the postmaster */
	proc_exit(0);
}
