/*
 * The setting that bounds stock dates: pgerp.max_future_days.  A posting
 * dated beyond it would hide every later posting from "as of" reports, so
 * stock entry points refuse it (sql/stock/move.sql, stock._check_date).
 * The setting is superuser-only: the application role may not widen it.
 * Also pgerp.idempotency_key_retention, how long the posting functions'
 * idempotency keys are kept (sql/stock/idempotency.sql).
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "pgerp/valuation.h"

int			pgerp_max_future_days = 366;
int			pgerp_idempotency_key_retention = 7 * 24 * 3600;

/* Registered from _PG_init (src/core/init.c). */
void
ValuationInitGucs(void)
{
	DefineCustomIntVariable("pgerp.max_future_days",
							"How many days ahead of now a stock posting may be dated.",
							NULL,
							&pgerp_max_future_days,
							366, 0, 36600,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.idempotency_key_retention",
							"How long an idempotency key of a posting is kept: a retry after that posts anew.",
							"The job workers' housekeeping deletes older keys once an hour.",
							&pgerp_idempotency_key_retention,
							7 * 24 * 3600, 60, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/*
 * stock._max_future_days() RETURNS integer: the setting, read through the
 * library so that it is registered (and a placeholder set by a user who is
 * not a superuser cannot stand in for it).
 */
PG_FUNCTION_INFO_V1(pgerp_valuation_max_future_days);
Datum
pgerp_valuation_max_future_days(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pgerp_max_future_days);
}

/*
 * stock._idempotency_key_retention() RETURNS integer (seconds): read through
 * the library for the same reason as stock._max_future_days().
 */
PG_FUNCTION_INFO_V1(pgerp_valuation_idempotency_key_retention);
Datum
pgerp_valuation_idempotency_key_retention(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pgerp_idempotency_key_retention);
}
