/*
 * Settings and shared memory of the auth layer: sign-in throttling, password
 * quality and refresh tokens.  AuthInit() is called from _PG_init; shared
 * memory exists only when pgerp is in shared_preload_libraries (PostgreSQL
 * 15: requested in shmem_request_hook, attached in shmem_startup_hook).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "pgerp/auth.h"

int			pgerp_signin_max_failures = 5;
int			pgerp_signin_address_max_failures = 50;
int			pgerp_signin_clock_offset = 0;
int			pgerp_password_min_length = 10;
int			pgerp_refresh_ttl = 30 * 24 * 3600;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* One lock (the "pgerp auth" tranche) guards both the counters and the queue. */
static void
auth_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(LockoutShmemSize(), SignInEventShmemSize()));
	RequestNamedLWLockTranche("pgerp auth", 1);
}

static void
auth_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	LockoutShmemInit();
	SignInEventShmemInit();
	LWLockRelease(AddinShmemInitLock);
}

static void
auth_gucs(void)
{
	DefineCustomIntVariable("pgerp.signin_max_failures",
							"Failed sign-ins of one login within 15 minutes before it is refused for a backoff; 0 turns the login count off.",
							NULL, &pgerp_signin_max_failures,
							5, 0, 1000, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.signin_address_max_failures",
							"Failed sign-ins from one client address within 15 minutes before it is refused for a backoff; 0 turns the address count off.",
							NULL, &pgerp_signin_address_max_failures,
							50, 0, 1000000, PGC_SUSET, 0, NULL, NULL, NULL);
	/* for tests: moves the throttling clock; hidden, superusers only */
	DefineCustomIntVariable("pgerp.signin_clock_offset",
							"Seconds added to the clock of sign-in throttling (tests).",
							NULL, &pgerp_signin_clock_offset,
							0, 0, 10 * 365 * 24 * 3600, PGC_SUSET,
							GUC_UNIT_S | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.password_min_length",
							"Minimum length in characters of a new password (everyone, superusers included).",
							NULL, &pgerp_password_min_length,
							10, 8, 1024, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.refresh_ttl",
							"Lifetime of refresh tokens issued by erp.sign_in_session() and erp.refresh().",
							NULL, &pgerp_refresh_ttl,
							30 * 24 * 3600, 60, 366 * 24 * 3600, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}

void
AuthInit(void)
{
	auth_gucs();
	SignInEventXactInit();
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = auth_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = auth_shmem_startup;
}
