/*
 * The one rounding rule of valuation: the value of a part of a quantity is
 * its proportional share of the value, rounded half away from zero to the
 * company's currency rounding, and the whole quantity takes exactly the whole
 * value.  Used for FIFO layers consumed in part, AVCO outgoing moves and
 * landed-cost splits, so that values add up to the cent and a quantity of
 * zero is worth exactly zero.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "pgerp/valuation.h"

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/* neither NaN nor +-Infinity: what valuation computes with */
static bool
num_finite(Numeric a)
{
	return !numeric_is_nan(a) && !numeric_is_inf(a);
}

static bool
num_positive(Numeric a)
{
	return num_cmp(a, int64_to_numeric(0)) > 0;
}

/* round(value / rounding) * rounding, half away from zero */
ValuationResult
ValuationRoundTo(Numeric value, Numeric rounding, Numeric *result)
{
	bool		err = false;
	Numeric		q;

	if (!num_finite(value) || !num_finite(rounding))
		return VALUATION_NOT_FINITE;
	if (!num_positive(rounding))
		return VALUATION_BAD_ROUNDING;
	q = numeric_div_opt_error(value, rounding, &err);
	if (err)
		return VALUATION_OVERFLOW;
	q = DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(q), Int32GetDatum(0)));
	*result = numeric_mul_opt_error(q, rounding, &err);
	return err ? VALUATION_OVERFLOW : VALUATION_OK;
}

/* the value of `part` out of `qty` worth `value` */
ValuationResult
ValuationShare(Numeric value, Numeric qty, Numeric part, Numeric rounding, Numeric *result)
{
	bool		err = false;
	Numeric		share;

	if (!num_finite(value) || !num_finite(qty) || !num_finite(part) || !num_finite(rounding))
		return VALUATION_NOT_FINITE;
	if (!num_positive(rounding))
		return VALUATION_BAD_ROUNDING;
	if (!num_positive(qty) || num_cmp(part, int64_to_numeric(0)) < 0 || num_cmp(part, qty) > 0)
		return VALUATION_BAD_QUANTITY;
	if (num_cmp(part, qty) == 0)
	{
		*result = value;
		return VALUATION_OK;
	}
	share = numeric_mul_opt_error(value, part, &err);
	if (!err)
		share = numeric_div_opt_error(share, qty, &err);
	if (err)
		return VALUATION_OVERFLOW;
	return ValuationRoundTo(share, rounding, result);
}

/*
 * The SQL entry points name the first argument that is not finite (22023):
 * NaN > 0 and 'Infinity' > 0 both hold in PostgreSQL, so a sign check alone
 * would let them through and every value computed from them would be NaN.
 */
static void
require_finite(Numeric a, const char *name)
{
	if (!num_finite(a))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", name),
				 errdetail("The value given is %s.", numeric_is_nan(a) ? "NaN" : "an infinity")));
}

static void
report(ValuationResult r)
{
	switch (r)
	{
		case VALUATION_OK:
			return;
		case VALUATION_BAD_ROUNDING:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rounding must be greater than zero")));
			break;
		case VALUATION_BAD_QUANTITY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("part must lie between zero and a positive total quantity")));
			break;
		case VALUATION_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("arguments must be finite numbers")));
			break;
		case VALUATION_OVERFLOW:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range"),
					 errdetail("The result does not fit in a numeric value.")));
			break;
	}
}

/* stock.round_to(p_value numeric, p_rounding numeric) */
PG_FUNCTION_INFO_V1(pgerp_valuation_round_to);
Datum
pgerp_valuation_round_to(PG_FUNCTION_ARGS)
{
	Numeric		result;

	require_finite(PG_GETARG_NUMERIC(0), "p_value");
	require_finite(PG_GETARG_NUMERIC(1), "p_rounding");
	report(ValuationRoundTo(PG_GETARG_NUMERIC(0), PG_GETARG_NUMERIC(1), &result));
	PG_RETURN_NUMERIC(result);
}

/* stock.value_share(p_value numeric, p_qty numeric, p_part numeric, p_rounding numeric) */
PG_FUNCTION_INFO_V1(pgerp_valuation_share);
Datum
pgerp_valuation_share(PG_FUNCTION_ARGS)
{
	Numeric		result;

	require_finite(PG_GETARG_NUMERIC(0), "p_value");
	require_finite(PG_GETARG_NUMERIC(1), "p_qty");
	require_finite(PG_GETARG_NUMERIC(2), "p_part");
	require_finite(PG_GETARG_NUMERIC(3), "p_rounding");
	report(ValuationShare(PG_GETARG_NUMERIC(0), PG_GETARG_NUMERIC(1), PG_GETARG_NUMERIC(2),
						  PG_GETARG_NUMERIC(3), &result));
	PG_RETURN_NUMERIC(result);
}
