/*
 * The CHECK constraints of the stock tables that postings write on every
 * move (sql/stock/bounds.sql): finite, positive and finite, non-negative
 * and finite. PostgreSQL 15 parses a table's CHECK constraints again from
 * their node text for every INSERT and UPDATE statement (ExecRelCheck, per
 * ResultRelInfo), and an UPDATE checks them all whatever it sets; written
 * as x > '-Infinity' AND x < 'Infinity' each was about 990 characters of
 * node text with its two numeric constants, a call of one of these about
 * 250 (docs/benchmarks.md, "Row checks as calls"). Same answers as those
 * expressions: NaN fails (in PostgreSQL NaN is above every number, so
 * x < 'Infinity' is false for it), so do the infinities; the functions are
 * STRICT, so a NULL passes as in any CHECK.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

static Datum zero = (Datum) 0;

static inline bool
is_finite(Numeric x)
{
	return !numeric_is_nan(x) && !numeric_is_inf(x);
}

/* the sign of a finite numeric: -1, 0 or 1 (against a zero made once per backend) */
static int
finite_sign(Numeric x)
{
	if (zero == (Datum) 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
		MemoryContextSwitchTo(old);
	}
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(x), zero));
}

PG_FUNCTION_INFO_V1(pgerp_stock_finite);
Datum
pgerp_stock_finite(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(is_finite(PG_GETARG_NUMERIC(0)));
}

PG_FUNCTION_INFO_V1(pgerp_stock_positive_finite);
Datum
pgerp_stock_positive_finite(PG_FUNCTION_ARGS)
{
	Numeric		x = PG_GETARG_NUMERIC(0);

	PG_RETURN_BOOL(is_finite(x) && finite_sign(x) > 0);
}

PG_FUNCTION_INFO_V1(pgerp_stock_nonnegative_finite);
Datum
pgerp_stock_nonnegative_finite(PG_FUNCTION_ARGS)
{
	Numeric		x = PG_GETARG_NUMERIC(0);

	PG_RETURN_BOOL(is_finite(x) && finite_sign(x) >= 0);
}
