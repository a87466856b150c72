/*
 * The acting user and company of this backend.
 *
 * They live in backend memory and are changed only by C code that has just
 * verified a password or a token (signin.c) or an allowed company (below):
 * there is no setting a client could forge with set_config().  Changes made
 * by a transaction that aborts are undone, as SET would be; an identity set
 * "local" ends with its transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

typedef struct Identity
{
	int64		user_id;
	int64		company_id;
} Identity;

static Identity session_ident;	/* lasts for the session */
static Identity xact_saved;		/* session_ident when this transaction first changed it */
static bool xact_changed = false;
static Identity local_ident;	/* ends with the transaction */
static bool local_active = false;

static inline Identity *
acting(void)
{
	return local_active ? &local_ident : &session_ident;
}

/* Restore or settle the identity at the end of each transaction. */
static void
session_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (xact_changed)
				session_ident = xact_saved;
			/* FALLTHROUGH */
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (local_active || xact_changed)
				AclInvalidate();
			xact_changed = false;
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

static void
remember_for_abort(void)
{
	if (!xact_changed)
	{
		xact_saved = session_ident;
		xact_changed = true;
	}
}

void
SessionSet(int64 user_id, int64 company_id, bool local)
{
	if (local)
	{
		local_ident.user_id = user_id;
		local_ident.company_id = company_id;
		local_active = true;
	}
	else
	{
		remember_for_abort();
		session_ident.user_id = user_id;
		session_ident.company_id = company_id;
		local_active = false;
	}
	AclInvalidate();
}

void
SessionSetCompany(int64 company_id)
{
	if (!local_active)
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
