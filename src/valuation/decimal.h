/*
 * Exact decimals on int64 for the valuation report (src/valuation/report.c):
 * a numeric as v * 10^-scale (scale its dscale) while it fits, and the
 * numeric functions' results reproduced value for value and scale for scale:
 * numeric_add's scale is the larger one; numeric_div rounds to
 * select_div_scale()'s scale and numeric_round to the precision, both half
 * away from zero; numerics are written in make_result()'s format. Pure
 * computation, no SPI: the callers fall back to the numeric functions when
 * a function returns false.
 */
#ifndef PGERP_VALUATION_DECIMAL_H
#define PGERP_VALUATION_DECIMAL_H

#include "postgres.h"

#include "utils/numeric.h"

#ifndef HAVE_INT128
#error "the valuation report's decimal fast path needs a 128-bit integer type"
#endif

/* the fast path keeps scales where 10^scale and the digits stay in range */
#define DEC_MAX_FAST_SCALE	18

/*
 * A sum of numerics: v * 10^-scale while it fits in int64 (scale the
 * numeric dscale the sum would have), else the numeric itself in slow.
 */
typedef struct DecSum
{
	int64		v;
	int32		scale;
	Numeric		slow;			/* NULL on the fast path */
} DecSum;

/* s += d (a stored numeric), exact; the numeric's scale is the larger one */
extern void DecSumAdd(DecSum *s, Datum d);
extern Numeric DecSumNumeric(DecSum *s);
/* v * 10^-scale as a numeric in buf (at least 32 bytes, int-aligned), scale <= DEC_MAX_FAST_SCALE */
extern Datum DecNumeric(int64 v, int32 scale, char *buf);
/* round(value / qty, precision) as numeric_div then numeric_round give it, false when it does not fit */
extern bool DecUnitCost(int64 value, int32 vscale, int64 qty, int32 qscale, int precision, int64 *out);

#endif
