/*
 * pgerp jobs: the queue in erp.job, run by a pool of background workers
 * started by a launcher (when pgerp is preloaded), or by erp.run_pending() in
 * the calling session. Shared memory holds one slot per worker: who it is,
 * which job it runs and that job's live progress, how many jobs it has run
 * and how much memory it holds.
 */
#ifndef PGERP_JOBS_H
#define PGERP_JOBS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#define JOB_MAX_WORKERS 32
#define JOB_KIND_LEN 64
#define JOB_NOTE_LEN 128
/* in a worker's bgw_main_arg, next to its slot: it also does the housekeeping */
#define JOB_HOUSEKEEPER 0x10000

typedef struct JobSlot
{
	pid_t		pid;			/* 0: free */
	Oid			dboid;
	Latch	   *latch;
	bool		idle;
	int64		job_id;			/* 0 when idle */
	int64		company_id;
	int64		user_id;		/* pgerp user the job runs as, 0 if none */
	char		kind[JOB_KIND_LEN];
	double		progress;		/* 0..1, or -1 when the handler said nothing */
	char		note[JOB_NOTE_LEN];
	TimestampTz started_at;
	TimestampTz progress_at;
	int64		jobs_run;		/* jobs the worker has run since it started */
	int64		memory;			/* its TopMemoryContext total between turns, bytes */
} JobSlot;

typedef struct JobShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	JobSlot		slots[JOB_MAX_WORKERS];
} JobShared;

/* shmem.c */
extern JobShared *Jobs;			/* NULL unless preloaded */
extern int	job_workers;
extern char *job_databases;
extern int	job_poll_interval;
extern int	job_retry_base;
extern int	job_max_queued_per_user;
extern int	job_housekeeping_interval;
extern void JobsInit(void);
extern void JobsWakeWorkers(Oid dboid);
extern int	JobsLiveWorkers(Oid dboid, pid_t *pids, int max);
extern void JobsSetProgress(double fraction, const char *note);
extern char *JobsDatabaseList(void);
extern bool JobsSlotHolds(Oid dboid, pid_t pid, int64 company_id, int64 job_id, bool cancel);

/* worker.c */
extern int64 JobsCurrentJobId(void);	/* the job this backend runs, or 0 */
extern bool JobsInWorker(void);
extern Oid	JobsCurrentRunAs(void);	/* InvalidOid outside a job */

#endif
