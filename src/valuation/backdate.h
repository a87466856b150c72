/*
 * A back-dated valued move (docs/valuation.md, "Back-dated moves"): post.c
 * hands it to ValuationBackdate() when it is dated before the product's last
 * valued move; the product's running totals are locked.
 */
#ifndef PGERP_VALUATION_BACKDATE_H
#define PGERP_VALUATION_BACKDATE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/numeric.h"

typedef struct BackdateMove
{
	int64		company;
	int64		product;
	int64		move;			/* 0 when re-costing (ValuationReplay) */
	int64		cause;			/* the back-dated move that corrections name */
	bool		in;
	const char *counterpart;
	Numeric		qty;
	Numeric		unit_cost;		/* NULL when not given */
	TimestampTz date;
	text	   *ref;			/* NULL when none */
	int64		origin;			/* 0 when none */
	const char *name;
	const char *sku;
	Numeric		rounding;
	int32		precision;
} BackdateMove;

/* the new move's value (signed as its layer); SPI is connected */
extern Numeric ValuationBackdate(BackdateMove *m);

/* re-value the product's history after done moves' costs changed (m->move 0) */
extern void ValuationReplay(BackdateMove *m);

#endif
