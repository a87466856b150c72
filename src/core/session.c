/*
 * The acting user and company of this backend.
 *
 * They live in backend memory and are changed only by C code that has just
 * verified a password or a token (signin.c) or an allowed company (below):
 * there is no setting a client could forge with set_config().  Changes made
 * by a transaction or a savepoint that aborts are undone, as SET's would be;
 * an identity set "local" ends with its transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "pgerp/core.h"

typedef struct Identity
{
	int64		user_id;
	int64		company_id;
} Identity;

static Identity session_ident;	/* lasts for the session */
static Identity local_ident;	/* ends with the transaction */
static bool local_active = false;

/*
 * The state as it was before the first change in each (sub)transaction that
 * changed it, innermost first, so that an abort, of the transaction or of a
 * savepoint, puts back what was there.
 */
typedef struct SavedIdentity
{
	SubTransactionId subid;
	Identity	session;
	Identity	local;
	bool		local_active;
	struct SavedIdentity *next;
} SavedIdentity;

static SavedIdentity *saved = NULL;

/*
 * pgerp.signed_in: a hidden superuser setting that is "on" from the first
 * session-level sign-in on.  It carries no identity (turning it on does
 * nothing); it exists so that RESET ALL, and DISCARD ALL which poolers send
 * between clients, reset it, and its assign hook then clears the session
 * identity: PostgreSQL has no hook for DISCARD itself.
 */
static bool signed_in_guc = false;

#define MAX_CHANGE_CALLBACKS 4
static SessionChangeCallback change_callbacks[MAX_CHANGE_CALLBACKS];
static int	n_change_callbacks = 0;

void
SessionRegisterChangeCallback(SessionChangeCallback cb)
{
	if (n_change_callbacks >= MAX_CHANGE_CALLBACKS)
		elog(ERROR, "too many session change callbacks");
	change_callbacks[n_change_callbacks++] = cb;
}

/* Tell the higher layers the acting identity may have changed. */
static void
notify_change(void)
{
	for (int i = 0; i < n_change_callbacks; i++)
		change_callbacks[i] ();
}

static inline Identity *
acting(void)
{
	return local_active ? &local_ident : &session_ident;
}

static void
remember_for_abort(void)
{
	SubTransactionId cur = GetCurrentSubTransactionId();
	SavedIdentity *s;

	if (saved != NULL && saved->subid == cur)
		return;
	s = MemoryContextAlloc(TopMemoryContext, sizeof(SavedIdentity));
	s->subid = cur;
	s->session = session_ident;
	s->local = local_ident;
	s->local_active = local_active;
	s->next = saved;
	saved = s;
}

static void
restore_and_pop(void)
{
	SavedIdentity *s = saved;

	session_ident = s->session;
	local_ident = s->local;
	local_active = s->local_active;
	saved = s->next;
	pfree(s);
	notify_change();
}

static void
session_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (saved == NULL || saved->subid != mySubid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		restore_and_pop();
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* the parent keeps its own, older, saved state if it has one */
		if (saved->next != NULL && saved->next->subid == parentSubid)
		{
			SavedIdentity *s = saved;

			saved = s->next;
			pfree(s);
		}
		else
			saved->subid = parentSubid;
	}
}

/* Restore or settle the identity at the end of each transaction. */
static void
session_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			while (saved != NULL && saved->next != NULL)
			{
				SavedIdentity *s = saved;

				saved = s->next;
				pfree(s);
			}
			if (saved != NULL)
				restore_and_pop();
			/* FALLTHROUGH */
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			while (saved != NULL)
			{
				SavedIdentity *s = saved;

				saved = s->next;
				pfree(s);
			}
			if (local_active)
				notify_change();
			local_active = false;
			memset(&local_ident, 0, sizeof(local_ident));
			break;
		default:
			break;
	}
}

/*
 * A reset of pgerp.signed_in (RESET ALL, DISCARD ALL, or the setting rolled
 * back with its transaction) clears the session identity.  Only statics are
 * touched: the hook may run while a transaction aborts.
 */
static void
assign_signed_in(bool newval, void *extra)
{
	if (newval || session_ident.user_id == 0)
		return;
	memset(&session_ident, 0, sizeof(session_ident));
	if (!local_active)
		notify_change();
}

void
SessionInit(void)
{
	DefineCustomBoolVariable("pgerp.signed_in",
							 "Set while a session identity may be in place; resetting it (RESET ALL, DISCARD ALL) signs the session out.",
							 NULL,
							 &signed_in_guc,
							 false,
							 PGC_SUSET,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 NULL, assign_signed_in, NULL);
	RegisterXactCallback(session_xact_callback, NULL);
	RegisterSubXactCallback(session_subxact_callback, NULL);
}

/* Turn pgerp.signed_in on, as a session-level SET would. */
static void
mark_signed_in(void)
{
	if (!signed_in_guc)
		(void) set_config_option("pgerp.signed_in", "on", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SET, true, 0, false);
}

int64
SessionUserId(void)
{
	return acting()->user_id;
}

int64
SessionCompanyId(void)
{
	return acting()->company_id;
}

void
SessionSet(int64 user_id, int64 company_id, bool local)
{
	remember_for_abort();
	if (local)
	{
		local_ident.user_id = user_id;
		local_ident.company_id = company_id;
		local_active = true;
	}
	else
	{
		mark_signed_in();
		session_ident.user_id = user_id;
		session_ident.company_id = company_id;
		local_active = false;
	}
	notify_change();
}

bool
SessionLocalActive(void)
{
	return local_active;
}

/* End a local identity before its transaction does (the session's shows again). */
void
SessionEndLocal(void)
{
	remember_for_abort();
	local_active = false;
	memset(&local_ident, 0, sizeof(local_ident));
	notify_change();
}

void
SessionSetCompany(int64 company_id)
{
	remember_for_abort();
	acting()->company_id = company_id;
}

void
SessionClear(void)
{
	remember_for_abort();
	memset(&session_ident, 0, sizeof(session_ident));
	memset(&local_ident, 0, sizeof(local_ident));
	local_active = false;
	notify_change();
}

/*
 * Sign out for good: clear both identities now, and every state saved for an
 * abort too, so that no rollback of this transaction or of a savepoint puts
 * an identity back (a pooler's rolled-back sign_out must not leave the next
 * client signed in as the previous one).
 */
void
SessionClearNow(void)
{
	memset(&session_ident, 0, sizeof(session_ident));
	memset(&local_ident, 0, sizeof(local_ident));
	local_active = false;
	for (SavedIdentity *s = saved; s != NULL; s = s->next)
	{
		memset(&s->session, 0, sizeof(s->session));
		memset(&s->local, 0, sizeof(s->local));
		s->local_active = false;
	}
	notify_change();
}

/* The users of both identities (0 when none), for sign_out's revocation. */
void
SessionUsers(int64 *session_user_id, int64 *local_user_id)
{
	*session_user_id = session_ident.user_id;
	*local_user_id = local_active ? local_ident.user_id : 0;
}

PG_FUNCTION_INFO_V1(pgerp_core_current_user_id);
Datum
pgerp_core_current_user_id(PG_FUNCTION_ARGS)
{
	int64		u = SessionUserId();

	if (u == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(u);
}

PG_FUNCTION_INFO_V1(pgerp_core_current_company_id);
Datum
pgerp_core_current_company_id(PG_FUNCTION_ARGS)
{
	int64		c = SessionCompanyId();

	if (c == 0 || SessionUserId() == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(c);
}

PG_FUNCTION_INFO_V1(pgerp_core_sign_out);
Datum
pgerp_core_sign_out(PG_FUNCTION_ARGS)
{
	SessionClear();
	PG_RETURN_VOID();
}

/* erp._is_bootstrap(): a superuser client with nobody signed in. */
PG_FUNCTION_INFO_V1(pgerp_core_is_bootstrap);
Datum
pgerp_core_is_bootstrap(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(SessionUserId() == 0 && CallerIsSuperuser());
}

/*
 * A request handler in this backend (rest) takes the identity of each HTTP
 * request and must hand back the caller's own when the request ends, even
 * inside one transaction: the snapshot is the whole acting state.
 */
void
SessionSnapshotTake(SessionSnapshot *snap)
{
	snap->session_user_id = session_ident.user_id;
	snap->session_company_id = session_ident.company_id;
	snap->local_user_id = local_ident.user_id;
	snap->local_company_id = local_ident.company_id;
	snap->local_active = local_active;
}

void
SessionSnapshotRestore(const SessionSnapshot *snap)
{
	remember_for_abort();
	session_ident.user_id = snap->session_user_id;
	session_ident.company_id = snap->session_company_id;
	local_ident.user_id = snap->local_user_id;
	local_ident.company_id = snap->local_company_id;
	local_active = snap->local_active;
	notify_change();
}
