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
#include "utils/memutils.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

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
	AclInvalidate();
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
				AclInvalidate();
			local_active = false;
			memset(&local_ident, 0, sizeof(local_ident));
			break;
		default:
			break;
	}
}

void
SessionInit(void)
{
	RegisterXactCallback(session_xact_callback, NULL);
	RegisterSubXactCallback(session_subxact_callback, NULL);
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
		session_ident.user_id = user_id;
		session_ident.company_id = company_id;
		local_active = false;
	}
	AclInvalidate();
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
	AclInvalidate();
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
	AclInvalidate();
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

PG_FUNCTION_INFO_V1(pgerp_core_switch_company);
Datum
pgerp_core_switch_company(PG_FUNCTION_ARGS)
{
	int64		company;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("company must not be null")));
	company = PG_GETARG_INT64(0);
	if (SessionUserId() == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("no user is signed in"),
				 errhint("Call erp.sign_in() or erp.use_token() first.")));
	if (!AclCompanyAllowed(company))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("company %lld is not allowed for this user", (long long) company),
				 errdetail("The user holds no role on that company or on a parent that reaches it.")));
	SessionSetCompany(company);
	PG_RETURN_VOID();
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
