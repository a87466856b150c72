/*
 * Sign-in events on their way to the audit trail.  A failed sign-in raises
 * an error, which rolls back whatever its transaction wrote, and PostgreSQL
 * has no autonomous transactions: so every sign-in event (successes too, so
 * that all of them read alike and a rolled-back caller loses none) is put in
 * a queue in shared memory, and written to erp.audit_log by the next
 * transaction that flushes: a successful erp.sign_in, erp.sign_in_session or
 * erp.refresh, or erp._flush_signin_audit() (the job workers' housekeeping, erp._housekeeping()).
 *
 * A flush claims the pending events of its database; they are freed when
 * the flushing transaction commits, and pending again if it (or the
 * subtransaction that flushed) aborts, so no event is lost or written twice.
 * A claim older than a minute (a backend that died) is taken over.  The
 * queue holds SIGNIN_EVENT_SLOTS events; when it is full the oldest pending
 * event is dropped and the next one written says how many were.  Only a
 * primary queues: on a standby, failures go to the server log only.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pgerp/audit.h"
#include "pgerp/core.h"
#include "pgerp/auth.h"

#define CLAIM_TIMEOUT_US (60 * USECS_PER_SEC)

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_PENDING,
	SLOT_CLAIMED
} SlotState;

typedef struct EventSlot
{
	SlotState	state;
	Oid			dboid;
	uint64		seq;			/* queue order */
	uint64		claim;			/* the claim that holds it */
	TimestampTz claimed_at;
	TimestampTz at;
	uint32		dropped_before;
	char		role[NAMEDATALEN];
	SignInEvent ev;
} EventSlot;

typedef struct EventShared
{
	LWLock	   *lock;
	uint64		next_seq;
	uint64		next_claim;
	uint32		dropped;		/* since the last event queued after a drop */
	EventSlot	slots[SIGNIN_EVENT_SLOTS];
} EventShared;

/* A claim of this backend: slot, claim id and the subtransaction that made it. */
typedef struct MyClaim
{
	int			slot;
	uint64		claim;
	SubTransactionId subid;
} MyClaim;

static EventShared *Events = NULL;
static MyClaim *my_claims = NULL;
static int	my_nclaims = 0;

Size
SignInEventShmemSize(void)
{
	return MAXALIGN(sizeof(EventShared));
}

void
SignInEventShmemInit(void)
{
	bool		found;

	Events = ShmemInitStruct("pgerp sign-in events", sizeof(EventShared), &found);
	if (!found)
	{
		memset(Events, 0, sizeof(EventShared));
		Events->lock = &(GetNamedLWLockTranche("pgerp auth"))->lock;
		Events->next_seq = Events->next_claim = 1;
	}
}

/* Queue an event of this database (a primary only). */
void
SignInEventQueue(const SignInEvent *ev)
{
	EventSlot  *slot = NULL;
	const char *role;

	if (Events == NULL || RecoveryInProgress())
		return;
	role = GetUserNameFromId(CallerRole(), true);
	LWLockAcquire(Events->lock, LW_EXCLUSIVE);
	for (int i = 0; i < SIGNIN_EVENT_SLOTS; i++)
	{
		EventSlot  *s = &Events->slots[i];

		if (s->state == SLOT_FREE)
		{
			slot = s;
			break;
		}
		if (s->state == SLOT_PENDING && (slot == NULL || s->seq < slot->seq))
			slot = s;
	}
	if (slot == NULL || slot->state != SLOT_FREE)
		Events->dropped++;		/* full: the oldest pending goes, or this one */
	if (slot != NULL)
	{
		slot->state = SLOT_PENDING;
		slot->dboid = MyDatabaseId;
		slot->seq = Events->next_seq++;
		slot->claim = 0;
		slot->at = GetCurrentTimestamp();
		slot->dropped_before = Events->dropped;
		Events->dropped = 0;
		strlcpy(slot->role, role ? role : "", sizeof(slot->role));
		slot->ev = *ev;
	}
	LWLockRelease(Events->lock);
}

/* Is a family revocation still waiting in the queue (not yet in the table)? */
bool
SignInFamilyRevokePending(int64 family)
{
	bool		found = false;

	if (Events == NULL)
		return false;
	LWLockAcquire(Events->lock, LW_SHARED);
	for (int i = 0; i < SIGNIN_EVENT_SLOTS && !found; i++)
	{
		EventSlot  *s = &Events->slots[i];

		found = s->state != SLOT_FREE && s->dboid == MyDatabaseId &&
			s->ev.kind == SIGNIN_EVENT_REFRESH_REUSE && s->ev.family == family;
	}
	LWLockRelease(Events->lock);
	return found;
}

static const char *
event_op(SignInEventKind kind)
{
	switch (kind)
	{
		case SIGNIN_EVENT_SUCCESS:
			return "sign_in";
		case SIGNIN_EVENT_FAILURE:
		case SIGNIN_EVENT_REFUSED:
			return "sign_in_failure";
		case SIGNIN_EVENT_LOCKOUT:
			return "lockout";
		case SIGNIN_EVENT_REFRESH:
			return "refresh";
		case SIGNIN_EVENT_REFRESH_REUSE:
			return "refresh_reuse";
	}
	return "sign_in";
}

static void
put_str(JsonbParseState **st, const char *k, const char *v)
{
	JsonbValue	key,
				val;

	key.type = jbvString;
	key.val.string.val = (char *) k;
	key.val.string.len = strlen(k);
	pushJsonbValue(st, WJB_KEY, &key);
	val.type = jbvString;
	val.val.string.val = (char *) v;
	val.val.string.len = strlen(v);
	pushJsonbValue(st, WJB_VALUE, &val);
}

static void
put_int(JsonbParseState **st, const char *k, int64 v)
{
	JsonbValue	key,
				val;

	key.type = jbvString;
	key.val.string.val = (char *) k;
	key.val.string.len = strlen(k);
	pushJsonbValue(st, WJB_KEY, &key);
	val.type = jbvNumeric;
	val.val.numeric = int64_to_numeric(v);
	pushJsonbValue(st, WJB_VALUE, &val);
}

/* changes of the entry: who tried, from where, what happened; never a password */
static Jsonb *
event_changes(const EventSlot *s)
{
	JsonbParseState *st = NULL;
	const SignInEvent *ev = &s->ev;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	put_str(&st, "login", ev->login);
	put_str(&st, "address", ev->address);
	if (ev->kind == SIGNIN_EVENT_FAILURE || ev->kind == SIGNIN_EVENT_REFUSED)
		put_str(&st, "reason", ev->kind == SIGNIN_EVENT_REFUSED ? "backoff" : "invalid login or password");
	if (ev->failures > 0)
		put_int(&st, "failures", ev->failures);
	if (ev->locked_seconds > 0)
		put_int(&st, "locked_seconds", ev->locked_seconds);
	if (ev->family != 0)
		put_int(&st, "family", ev->family);
	if (s->dropped_before > 0)
		put_int(&st, "events_dropped_before", s->dropped_before);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* Claim the pending events of this database into a local copy.  Lock taken here. */
static int
claim_events(EventSlot **out)
{
	TimestampTz now = GetCurrentTimestamp();
	EventSlot  *copy = palloc(sizeof(EventSlot) * SIGNIN_EVENT_SLOTS);
	int			n = 0;
	uint64		claim;

	if (my_claims == NULL)
		my_claims = MemoryContextAlloc(TopMemoryContext, sizeof(MyClaim) * SIGNIN_EVENT_SLOTS);
	LWLockAcquire(Events->lock, LW_EXCLUSIVE);
	claim = Events->next_claim++;
	for (int i = 0; i < SIGNIN_EVENT_SLOTS && my_nclaims < SIGNIN_EVENT_SLOTS; i++)
	{
		EventSlot  *s = &Events->slots[i];

		if (s->dboid != MyDatabaseId ||
			!(s->state == SLOT_PENDING ||
			  (s->state == SLOT_CLAIMED && s->claimed_at + CLAIM_TIMEOUT_US < now)))
			continue;
		s->state = SLOT_CLAIMED;
		s->claim = claim;
		s->claimed_at = now;
		copy[n++] = *s;
		my_claims[my_nclaims].slot = i;
		my_claims[my_nclaims].claim = claim;
		my_claims[my_nclaims].subid = GetCurrentSubTransactionId();
		my_nclaims++;
	}
	LWLockRelease(Events->lock);
	*out = copy;
	return n;
}

/*
 * Write the pending events of this database to the audit trail, in the
 * current transaction; returns how many.  Nothing on a standby or in a
 * read-only transaction (they wait for another flush).
 */
int
SignInEventFlush(void)
{
	EventSlot  *ev;
	int			n;

	if (Events == NULL || RecoveryInProgress() || XactReadOnly)
		return 0;
	n = claim_events(&ev);
	/* queue order, for a readable trail */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ev[j - 1].seq > ev[j].seq; j--)
		{
			EventSlot	t = ev[j];

			ev[j] = ev[j - 1];
			ev[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
	{
		if (ev[i].ev.kind == SIGNIN_EVENT_REFRESH_REUSE)
			RefreshRevokeFamily(ev[i].ev.family);
		AuditWriteEvent(ev[i].ev.company_id, ev[i].ev.user_id, ev[i].role, ev[i].at,
						"erp.sign_in", event_op(ev[i].ev.kind), NULL, event_changes(&ev[i]));
	}
	pfree(ev);
	return n;
}

/* At the end of the transaction (or subtransaction): free or release my claims. */
static void
settle_claims(bool commit, SubTransactionId subid, SubTransactionId parent)
{
	int			kept = 0;

	if (my_nclaims == 0)
		return;
	LWLockAcquire(Events->lock, LW_EXCLUSIVE);
	for (int i = 0; i < my_nclaims; i++)
	{
		MyClaim    *c = &my_claims[i];
		EventSlot  *s = &Events->slots[c->slot];

		if (subid != InvalidSubTransactionId && c->subid != subid)
		{
			my_claims[kept++] = *c;		/* another subtransaction's */
			continue;
		}
		if (subid != InvalidSubTransactionId && commit)
		{
			c->subid = parent;	/* the parent holds it now */
			my_claims[kept++] = *c;
			continue;
		}
		if (s->state != SLOT_CLAIMED || s->claim != c->claim)
			continue;			/* taken over */
		s->state = commit ? SLOT_FREE : SLOT_PENDING;
	}
	LWLockRelease(Events->lock);
	my_nclaims = kept;
}

static void
events_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE)
		settle_claims(true, InvalidSubTransactionId, InvalidSubTransactionId);
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		settle_claims(false, InvalidSubTransactionId, InvalidSubTransactionId);
}

static void
events_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_COMMIT_SUB)
		settle_claims(true, mySubid, parentSubid);
	else if (event == SUBXACT_EVENT_ABORT_SUB)
		settle_claims(false, mySubid, parentSubid);
}

void
SignInEventXactInit(void)
{
	RegisterXactCallback(events_xact_callback, NULL);
	RegisterSubXactCallback(events_subxact_callback, NULL);
}

/*
 * erp._flush_signin_audit(): write the queued sign-in events to the audit
 * trail now (superuser; pg_cron runs it every minute).  Returns how many.
 */
PG_FUNCTION_INFO_V1(pgerp_auth_flush_signin_audit);
Datum
pgerp_auth_flush_signin_audit(PG_FUNCTION_ARGS)
{
	if (!CallerIsSuperuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to flush sign-in events"),
				 errdetail("Only a superuser (the job workers' housekeeping) writes the queued sign-in events to the audit trail.")));
	PG_RETURN_INT32(SignInEventFlush());
}
