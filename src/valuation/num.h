/*
 * Numeric helpers shared by the posting (post.c) and the replay of
 * back-dated moves (replay.c, backdate.c).  Errors (overflow, division by
 * zero, data that is not finite) are raised here, in one place.
 */
#ifndef PGERP_VALUATION_NUM_H
#define PGERP_VALUATION_NUM_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "pgerp/valuation.h"

static inline Numeric
num_zero(void)
{
	return int64_to_numeric(0);
}
static inline Numeric
num_add(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}
static inline Numeric
num_sub(Numeric a, Numeric b)
{
	return numeric_sub_opt_error(a, b, NULL);
}
static inline Numeric
num_mul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}
static inline Numeric
num_div(Numeric a, Numeric b)
{
	return numeric_div_opt_error(a, b, NULL);
}
static inline Numeric
num_neg(Numeric a)
{
	return num_sub(num_zero(), a);
}
static inline int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}
static inline int
num_sign(Numeric a)
{
	return num_cmp(a, num_zero());
}
static inline Numeric
num_least(Numeric a, Numeric b)
{
	return num_cmp(a, b) <= 0 ? a : b;
}
static inline Numeric
num_round_scale(Numeric a, int scale)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(a), Int32GetDatum(scale)));
}

/* bad stored data (NaN, a rounding that is not positive): say so, do not post NaN */
static inline void
num_bad_data(ValuationResult r)
{
	if (r == VALUATION_NOT_FINITE || r == VALUATION_BAD_ROUNDING)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("stock valuation met a value that is not a finite number"),
				 errdetail("The company's currency rounding, a cost or a stored value is NaN, infinite or not positive."),
				 errhint("Check erp.company.currency_rounding and stock.verify_valuation().")));
}

static inline Numeric
num_round_to(Numeric a, Numeric rounding)
{
	Numeric		r;
	ValuationResult res = ValuationRoundTo(a, rounding, &r);

	num_bad_data(res);
	if (res != VALUATION_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("could not round value")));
	return r;
}

static inline Numeric
num_share(Numeric value, Numeric qty, Numeric part, Numeric rounding)
{
	Numeric		r;
	ValuationResult res = ValuationShare(value, qty, part, rounding, &r);

	num_bad_data(res);
	if (res != VALUATION_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("could not share a layer value"),
				 errdetail("The part of a quantity to value lies outside it.")));
	return r;
}

#endif
