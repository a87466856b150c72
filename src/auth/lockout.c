/*
 * Sign-in throttling (docs/security.md, "Sign-in hardening, password
 * quality and refresh tokens").  Failed sign-ins are counted in shared
 * memory per login (lower-cased, trimmed; unknown logins too) and per
 * client address, per database: no write, so it works on a standby.  After
 * pgerp.signin_max_failures failures of a login within 15 minutes (or
 * pgerp.signin_address_max_failures from an address), sign-ins are refused
 * for a backoff of 30 s that doubles with every further failure up to
 * 15 minutes.  The table holds LOCKOUT_SLOTS counters; a new key takes the
 * least recently used slot that is not locked (a locked one only when
 * every slot is).
 */
#include "postgres.h"

#include <time.h>

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/formatting.h"

#include "pgerp/core.h"
#include "pgerp/auth.h"

typedef struct LockoutSlot
{
	bool		used;
	char		kind;			/* 'l' login, 'a' address */
	Oid			dboid;
	int64		last_used;		/* seconds, for the eviction order */
	LockoutCounter counter;
	char		key[LOCKOUT_KEY_LEN + 1];
} LockoutSlot;

typedef struct LockoutShared
{
	LWLock	   *lock;
	LockoutSlot slots[LOCKOUT_SLOTS];
} LockoutShared;

static LockoutShared *Lockout = NULL;
static bool warned_off = false;

/* ---- the pure part ---- */

/* A counter whose last event is older than the window starts again. */
static void
expire_window(LockoutCounter *c, int64 now)
{
	if (c->locked_until <= now && c->last_event + LOCKOUT_WINDOW_SECONDS <= now)
		memset(c, 0, sizeof(*c));
}

bool
LockoutIsLocked(const LockoutCounter *c, int64 now)
{
	return c->locked_until > now;
}

/* 30 s for the first backoff, doubling, at most 15 minutes. */
int64
LockoutBackoff(int32 lockouts)
{
	int64		s = LOCKOUT_FIRST_BACKOFF;

	for (int i = 1; i < lockouts && s < LOCKOUT_MAX_BACKOFF; i++)
		s *= 2;
	return Min(s, LOCKOUT_MAX_BACKOFF);
}

/*
 * Count one failure at now; returns the backoff it starts in seconds, 0 when
 * none.  Once the threshold is reached, every further failure (after the
 * backoff ended: during one, sign-ins are refused before they are checked)
 * starts a backoff twice as long.  max_failures 0: never locks.
 */
int64
LockoutAddFailure(LockoutCounter *c, int64 now, int max_failures)
{
	expire_window(c, now);
	c->failures++;
	c->last_event = now;
	if (max_failures <= 0 || c->failures < max_failures)
		return 0;
	c->lockouts++;
	c->locked_until = now + LockoutBackoff(c->lockouts);
	c->last_event = c->locked_until;
	return c->locked_until - now;
}

/* ---- shared memory ---- */

Size
LockoutShmemSize(void)
{
	return MAXALIGN(sizeof(LockoutShared));
}

void
LockoutShmemInit(void)
{
	bool		found;

	Lockout = ShmemInitStruct("pgerp sign-in lockout", sizeof(LockoutShared), &found);
	if (!found)
	{
		memset(Lockout, 0, sizeof(LockoutShared));
		Lockout->lock = &(GetNamedLWLockTranche("pgerp auth"))->lock;
	}
}

/* The throttling clock: wall-clock seconds plus pgerp.signin_clock_offset. */
int64
LockoutNow(void)
{
	return (int64) time(NULL) + pgerp_signin_clock_offset;
}

/* The key of a login: trimmed of spaces, lower-cased, cut to LOCKOUT_KEY_LEN bytes. */
char *
LockoutLoginKey(const char *login, size_t len)
{
	char	   *lower;

	while (len > 0 && *login == ' ')
		login++, len--;
	while (len > 0 && login[len - 1] == ' ')
		len--;
	lower = str_tolower(login, len, DEFAULT_COLLATION_OID);
	if (strlen(lower) > LOCKOUT_KEY_LEN)
		lower[pg_mbcliplen(lower, strlen(lower), LOCKOUT_KEY_LEN)] = '\0';
	return lower;
}

/* Is throttling available?  Warn once per backend when it is not. */
static bool
lockout_on(void)
{
	if (Lockout != NULL)
		return true;
	if (!warned_off)
		ereport(WARNING,
				(errmsg("sign-in throttling is off"),
				 errdetail("pgerp is not in shared_preload_libraries, so failed sign-ins are not counted.")));
	warned_off = true;
	return false;
}

/* The slot of a key, or NULL; with create, a new or evicted slot.  Lock held. */
static LockoutSlot *
find_slot(char kind, const char *key, bool create, int64 now)
{
	LockoutSlot *victim = NULL;

	for (int i = 0; i < LOCKOUT_SLOTS; i++)
	{
		LockoutSlot *s = &Lockout->slots[i];

		if (s->used && s->kind == kind && s->dboid == MyDatabaseId && strcmp(s->key, key) == 0)
			return s;
		if (!create)
			continue;
		if (!s->used)
		{
			if (victim == NULL || victim->used)
				victim = s;
			continue;
		}
		if (victim == NULL ||
			(victim->used &&
			 (LockoutIsLocked(&victim->counter, now) > LockoutIsLocked(&s->counter, now) ||
			  (LockoutIsLocked(&victim->counter, now) == LockoutIsLocked(&s->counter, now) &&
			   s->last_used < victim->last_used))))
			victim = s;
	}
	if (!create || victim == NULL)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->kind = kind;
	victim->dboid = MyDatabaseId;
	strlcpy(victim->key, key, sizeof(victim->key));
	return victim;
}

/* Is the login or the address in a backoff?  *retry_after: seconds left. */
LockoutVerdict
LockoutCheck(const char *login_key, const char *address, int64 *retry_after)
{
	int64		now = LockoutNow();
	LockoutVerdict v = LOCKOUT_OPEN;
	LockoutSlot *s;

	*retry_after = 0;
	if (!lockout_on())
		return LOCKOUT_OPEN;
	LWLockAcquire(Lockout->lock, LW_SHARED);
	s = find_slot('l', login_key, false, now);
	if (s != NULL && LockoutIsLocked(&s->counter, now))
	{
		v = LOCKOUT_LOGIN_LOCKED;
		*retry_after = s->counter.locked_until - now;
	}
	s = find_slot('a', address, false, now);
	if (v == LOCKOUT_OPEN && s != NULL && LockoutIsLocked(&s->counter, now))
	{
		v = LOCKOUT_ADDRESS_LOCKED;
		*retry_after = s->counter.locked_until - now;
	}
	LWLockRelease(Lockout->lock);
	return v;
}

/*
 * Count a failure of the login and of the address.  Returns the login's
 * failure count and the backoffs started (0: none).
 */
void
LockoutRecordFailure(const char *login_key, const char *address,
					 int32 *login_failures, int64 *login_locked, int64 *address_locked)
{
	int64		now = LockoutNow();
	LockoutSlot *s;

	*login_failures = 0;
	*login_locked = *address_locked = 0;
	if (!lockout_on())
		return;
	LWLockAcquire(Lockout->lock, LW_EXCLUSIVE);
	s = find_slot('l', login_key, true, now);
	*login_locked = LockoutAddFailure(&s->counter, now, pgerp_signin_max_failures);
	*login_failures = s->counter.failures;
	s->last_used = now;
	s = find_slot('a', address, true, now);
	*address_locked = LockoutAddFailure(&s->counter, now, pgerp_signin_address_max_failures);
	s->last_used = now;
	LWLockRelease(Lockout->lock);
}

/*
 * A success forgets the login's failures.  The address keeps its count: a
 * guesser must not clear it by signing in to an account of its own.
 */
void
LockoutRecordSuccess(const char *login_key)
{
	LockoutSlot *s;

	if (Lockout == NULL)
		return;
	LWLockAcquire(Lockout->lock, LW_EXCLUSIVE);
	s = find_slot('l', login_key, false, LockoutNow());
	if (s != NULL)
		memset(s, 0, sizeof(*s));
	LWLockRelease(Lockout->lock);
}

/*
 * erp._signin_reset(p_login text DEFAULT NULL): forget the counters of a
 * login, or of every login and address of this database (superuser; for an
 * administrator who unlocks an account, and for tests).  Returns how many.
 */
PG_FUNCTION_INFO_V1(pgerp_auth_signin_reset);
Datum
pgerp_auth_signin_reset(PG_FUNCTION_ARGS)
{
	char	   *key = NULL;
	int			n = 0;

	if (!CallerIsSuperuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reset sign-in throttling"),
				 errdetail("Only a superuser forgets failed sign-ins.")));
	if (!PG_ARGISNULL(0))
	{
		text	   *t = PG_GETARG_TEXT_PP(0);

		key = LockoutLoginKey(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	if (Lockout == NULL)
		PG_RETURN_INT32(0);
	LWLockAcquire(Lockout->lock, LW_EXCLUSIVE);
	for (int i = 0; i < LOCKOUT_SLOTS; i++)
	{
		LockoutSlot *s = &Lockout->slots[i];

		if (!s->used || s->dboid != MyDatabaseId ||
			(key != NULL && (s->kind != 'l' || strcmp(s->key, key) != 0)))
			continue;
		memset(s, 0, sizeof(*s));
		n++;
	}
	LWLockRelease(Lockout->lock);
	PG_RETURN_INT32(n);
}
