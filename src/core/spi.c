/*
 * Kept SPI plans.  Hot paths (sign-in, the ACL, audit, postings, jobs)
 * prepare their statements once per backend and keep them; this is the one
 * place that does it, so a failure to prepare reads the same everywhere.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "pgerp/core.h"

/*
 * The plan in *slot, prepared and kept on first use.  Must be called inside
 * SPI_connect(); the kept plan survives SPI_finish() and the transaction.
 */
SPIPlanPtr
PgerpKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan;

	if (*slot != NULL)
		return *slot;
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%.60s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%.60s\"", sql);
	*slot = plan;
	return plan;
}

/*
 * The same, planned again at every execution with its parameters' values
 * (CURSOR_OPT_CUSTOM_PLAN), for statements that run once per operation over
 * many rows: a generic plan made while a table was small (a fresh install,
 * or one long transaction whose own rows no ANALYZE has seen) can pick an
 * index by its leading company_id alone and filter the rest, a scan of the
 * company's rows per row joined (docs/benchmarks.md, "Plans made on small
 * tables").  Planning once per execution costs less than that.
 */
SPIPlanPtr
PgerpKeptCustomPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan;

	if (*slot != NULL)
		return *slot;
	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_CUSTOM_PLAN);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%.60s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%.60s\"", sql);
	*slot = plan;
	return plan;
}
