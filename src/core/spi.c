/*
 * Kept SPI plans.  Hot paths (sign-in, the ACL, audit, postings, jobs)
 * prepare their statements once per backend and keep them; this is the one
 * place that does it, so a failure to prepare reads the same everywhere.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "pgerp/core.h"

/*
 * The plan in *slot, prepared with the given cursor options (planner hints:
 * CURSOR_OPT_FAST_PLAN, CURSOR_OPT_GENERIC_PLAN, CURSOR_OPT_CUSTOM_PLAN, or
 * 0) and kept on first use.  Must be called inside SPI_connect(); the kept
 * plan survives SPI_finish() and the transaction.
 */
SPIPlanPtr
PgerpKeptPlanWith(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	SPIPlanPtr	plan;

	if (*slot != NULL)
		return *slot;
	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%.60s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%.60s\"", sql);
	*slot = plan;
	return plan;
}

/* The usual case: the plan cache chooses between custom and generic plans. */
SPIPlanPtr
PgerpKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	return PgerpKeptPlanWith(slot, sql, nargs, argtypes, 0);
}

/*
 * Planned with its values at every execution: for statements run once per
 * call over many rows, whose generic plan could have been made while the
 * tables looked empty (src/valuation/backdate.c).
 */
SPIPlanPtr
PgerpKeptCustomPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	return PgerpKeptPlanWith(slot, sql, nargs, argtypes, CURSOR_OPT_CUSTOM_PLAN);
}
