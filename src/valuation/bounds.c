/*
 * The setting that bounds stock dates: pgerp.max_future_days.  A posting
 * dated beyond it would hide every later posting from "as of" reports, so
 * stock entry points refuse it (sql/stock/move.sql, stock._check_date).
 * The setting is superuser-only: the application role may not widen it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pgerp/valuation.h"

int			pgerp_max_future_days = 366;

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
