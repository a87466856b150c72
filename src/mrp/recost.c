/*
 * Finished goods re-costed after their components were re-valued (issue #15:
 * "every event type replays ... production"). When a replay of a component's
 * history (a back-dated move) changes the value of moves consumed by
 * productions, the stock engine calls valuation_revalued_hook; this module
 * hands the moves to mrp._recost (sql/mrp/recost.sql), which re-costs each
 * done manufacturing order they belong to and replays its finished product,
 * which may in turn re-cost the orders it was consumed by.
 *
 * One shared library serves the three extensions: the hook does nothing in a
 * database where pgerp_mrp is not installed.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/array.h"

#include "pgerp/core.h"
#include "pgerp/mrp.h"
#include "pgerp/valuation.h"

static ValuationRevaluedHook prev_revalued_hook = NULL;
static SPIPlanPtr recost_plan = NULL;

static void
mrp_revalued(int64 company, int64 cause, int n, const int64 *moves, Numeric *diffs)
{
	Oid			t[4] = {INT8OID, INT8OID, INT8ARRAYOID, NUMERICARRAYOID};
	Datum	   *ids;
	Datum	   *ds;
	Datum		a[4];

	if (prev_revalued_hook)
		prev_revalued_hook(company, cause, n, moves, diffs);
	Assert(n > 0);
	if (!OidIsValid(get_extension_oid("pgerp_mrp", true)))
		return;
	ids = palloc(sizeof(Datum) * n);
	ds = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(moves[i]);
		ds[i] = NumericGetDatum(diffs[i]);
	}
	a[0] = Int64GetDatum(company);
	a[1] = Int64GetDatum(cause);
	a[2] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE));
	a[3] = PointerGetDatum(construct_array(ds, n, NUMERICOID, -1, false, TYPALIGN_INT));
	SPI_connect();
	(void) PgerpKeptPlan(&recost_plan, "SELECT mrp._recost($1, $2, $3, $4)", 4, t);
	if (SPI_execute_plan(recost_plan, a, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "mrp._recost failed");
	SPI_finish();
}

/* Registered from _PG_init (src/module/init.c). */
void
MrpInitRecost(void)
{
	prev_revalued_hook = valuation_revalued_hook;
	valuation_revalued_hook = mrp_revalued;
}
