/*
 * pgerp valuation: the arithmetic of stock values, to the cent.
 */
#ifndef PGERP_VALUATION_H
#define PGERP_VALUATION_H

#include "postgres.h"
#include "utils/numeric.h"

typedef enum ValuationResult
{
	VALUATION_OK = 0,
	VALUATION_BAD_ROUNDING,		/* rounding must be > 0 */
	VALUATION_BAD_QUANTITY,		/* part must be within 0 .. total, total > 0 */
	VALUATION_NOT_FINITE,		/* an argument is NaN or +-Infinity */
	VALUATION_OVERFLOW
} ValuationResult;

extern ValuationResult ValuationRoundTo(Numeric value, Numeric rounding, Numeric *result);
extern ValuationResult ValuationShare(Numeric value, Numeric qty, Numeric part, Numeric rounding,
									  Numeric *result);

/* pgerp.max_future_days: how far ahead a stock posting may be dated */
extern int	pgerp_max_future_days;
/* pgerp.idempotency_key_retention: seconds an idempotency key is kept */
extern int	pgerp_idempotency_key_retention;
extern void ValuationInitGucs(void);

/*
 * Called after a replay of a product's history (a back-dated posting, or a
 * re-costing) with the moves to a production location whose value changed,
 * diffs signed as the moves' values (more negative: consumed at a higher
 * cost), SPI connected. cause: the back-dated move the corrections name.
 * pgerp_mrp sets it to re-cost what was produced from those moves; the
 * stock engine knows nothing of manufacturing orders.
 */
typedef void (*ValuationRevaluedHook) (int64 company, int64 cause, int n, const int64 *moves, Numeric *diffs);
extern PGDLLIMPORT ValuationRevaluedHook valuation_revalued_hook;

#endif
