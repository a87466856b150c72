/*
 * Min/max replenishment (Odoo's reorder rules): the quantity a rule orders,
 * as a pure function, and its SQL glue mrp._reorder_qty used by
 * mrp.replenish (sql/mrp/planning.sql).
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "pgerp/mrp.h"

/*
 * When the forecast is below the minimum, order up to max(min, max),
 * rounded up to the multiple; else nothing.
 */
MrpResult
MrpReorderQty(MrpQty forecast, MrpQty min, MrpQty max, MrpQty multiple, MrpQty *out)
{
	MrpQty		target = max > min ? max : min;
	MrpQty		q;

	*out = 0;
	if (forecast >= min)
		return MRP_OK;
	if (pg_sub_s64_overflow(target, forecast, &q))
		return MRP_OVERFLOW;
	if (q <= 0)
		return MRP_OK;
	if (multiple > 0)
	{
		if (q > PG_INT64_MAX - multiple)
			return MRP_OVERFLOW;
		q = MrpCeilTo(q, multiple);
	}
	*out = q;
	return MRP_OK;
}

/*
 * numeric -> millionths: NaN, infinities and what does not fit in the engine
 * are refused with the engine's own 22003, never the cast's "bigint out of
 * range" (mrp.replenish keeps such rules out before calling this).
 */
static MrpQty
to_qty(Datum n)
{
	Numeric		num = DatumGetNumeric(n);
	Datum		bound = DirectFunctionCall1(int8_numeric, Int64GetDatum(MRP_MAX_UNITS));
	Datum		scaled;

	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, DirectFunctionCall1(numeric_abs, n), bound)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("reorder quantities out of range"),
				 errdetail("Planning quantities are at most " INT64_FORMAT " units.", MRP_MAX_UNITS)));
	scaled = DirectFunctionCall2(numeric_mul, n, DirectFunctionCall1(int8_numeric, Int64GetDatum(MRP_SCALE)));
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, scaled));
}

PG_FUNCTION_INFO_V1(pgerp_mrp_reorder_qty);
Datum
pgerp_mrp_reorder_qty(PG_FUNCTION_ARGS)
{
	MrpQty		q;
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	if (MrpReorderQty(to_qty(PG_GETARG_DATUM(0)), to_qty(PG_GETARG_DATUM(1)), to_qty(PG_GETARG_DATUM(2)),
					  PG_ARGISNULL(3) ? 0 : to_qty(PG_GETARG_DATUM(3)), &q) != MRP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("reorder quantities out of range"),
				 errdetail("Planning quantities are at most " INT64_FORMAT " units.", MRP_MAX_UNITS)));
	result = DirectFunctionCall2(numeric_div, DirectFunctionCall1(int8_numeric, Int64GetDatum(q)),
								 DirectFunctionCall1(int8_numeric, Int64GetDatum(MRP_SCALE)));
	PG_RETURN_DATUM(DirectFunctionCall1(numeric_trim_scale, result));
}
