/*
 * erp.switch_company(): the acting user picks another company they hold a
 * role on.  Here rather than in core: the test of the right is rbac's.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "access/htup_details.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pgerp/auth.h"
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

/*
 * erp._switch_token(company, OUT token, OUT expires_at): switch the acting
 * company, then issue an access token for the acting user in it.  For
 * api.switch_company over HTTP, where the identity of a request ends with
 * it and the client carries a token instead.
 */
PG_FUNCTION_INFO_V1(pgerp_core_switch_token);
Datum
pgerp_core_switch_token(PG_FUNCTION_ARGS)
{
	int64		user_id;
	int64		generation;
	int64		expires;
	char	   *token;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "erp._switch_token must return a record");
	(void) DirectFunctionCall1(pgerp_core_switch_company, PG_GETARG_DATUM(0));
	user_id = SessionUserId();
	if (!AclUserState(user_id, &generation))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("no user is signed in"),
				 errdetail("The signed-in user does not exist or is disabled.")));
	token = AuthIssueAccessToken(user_id, SessionCompanyId(), generation, &expires);
	values[0] = CStringGetTextDatum(token);
	values[1] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) expires));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
