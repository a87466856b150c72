/*
 * The client address of a sign-in: what the throttling counts per address
 * and what the audit trail records.  It is the connection's peer address,
 * "local" for a Unix socket or a process without a client; or, for a
 * gateway that serves many clients over its own connections (the HTTP API),
 * the address it passes with AuthSetClientAddress() for the current
 * transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"

#include "pgerp/core.h"
#include "pgerp/auth.h"

static char override_address[AUTH_ADDRESS_LEN];
static LocalTransactionId override_lxid = InvalidLocalTransactionId;
static char peer_address[AUTH_ADDRESS_LEN];

/*
 * Set the client address for the current transaction (a gateway's handler
 * calls it before erp.sign_in).  Cut to AUTH_ADDRESS_LEN - 1 bytes; NULL or
 * "" goes back to the connection's address.
 */
void
AuthSetClientAddress(const char *addr)
{
	if (addr == NULL || addr[0] == '\0')
	{
		override_lxid = InvalidLocalTransactionId;
		return;
	}
	strlcpy(override_address, addr, sizeof(override_address));
	override_lxid = MyProc->lxid;
}

/*
 * The address of this sign-in; never NULL.  The peer's address is read with
 * inet_client_addr(), which is NULL for a Unix socket and without a client.
 */
const char *
AuthClientAddress(void)
{
	if (override_lxid != InvalidLocalTransactionId && override_lxid == MyProc->lxid)
		return override_address;
	if (peer_address[0] == '\0')
	{
		LOCAL_FCINFO(fc, 0);
		Datum		inet;

		InitFunctionCallInfoData(*fc, NULL, 0, InvalidOid, NULL, NULL);
		inet = inet_client_addr(fc);
		if (fc->isnull)
			strlcpy(peer_address, "local", sizeof(peer_address));
		else
			strlcpy(peer_address, TextDatumGetCString(DirectFunctionCall1(network_host, inet)),
					sizeof(peer_address));
	}
	return peer_address;
}

/*
 * erp._signin_client_address(text): AuthSetClientAddress from SQL, for
 * superusers (tests, a gateway running as one).  An application role may
 * not choose the address it is counted under.
 */
PG_FUNCTION_INFO_V1(pgerp_auth_set_client_address);
Datum
pgerp_auth_set_client_address(PG_FUNCTION_ARGS)
{
	if (!CallerIsSuperuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set the client address of sign-ins"),
				 errdetail("Only a superuser sets it; a gateway sets it from C with AuthSetClientAddress().")));
	AuthSetClientAddress(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
