/*
 * erp.switch_company(): the acting user picks another company they hold a
 * role on.  Here rather than in core: the test of the right is rbac's.
 */
#include "postgres.h"

#include "fmgr.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

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
