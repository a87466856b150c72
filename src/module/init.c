/*
 * Module entry point: one init call per layer, lowest first.  It lives
 * outside src/core so that core includes no header of the layers above it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pgerp/auth.h"
#include "pgerp/core.h"
#include "pgerp/crypto.h"
#include "pgerp/jobs.h"
#include "pgerp/mrp.h"
#include "pgerp/rbac.h"
#include "pgerp/rest.h"
#include "pgerp/valuation.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	SessionInit();
	AclInit();
	AuthTokenGucs();
	AuthInit();
	CryptoInit();
	JobsInit();
	ValuationInitGucs();
	MrpInitGucs();
	MrpInitRecost();
	RestInit();
	MarkGUCPrefixReserved("pgerp");
}
