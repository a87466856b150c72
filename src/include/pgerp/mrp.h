/*
 * pgerp MRP and replenishment. Quantities inside the engine are exact
 * fixed-point integers in millionths of the product's unit (MrpQty); BOM
 * factors are exact fractions, so that 2 of a batch of 3 using 3 is 2.
 * Pure functions return codes; src/mrp/run.c turns them into errors.
 */
#ifndef PGERP_MRP_H
#define PGERP_MRP_H

#include "postgres.h"

typedef int64 MrpQty;
#define MRP_SCALE INT64CONST(1000000)

typedef enum MrpResult
{
	MRP_OK = 0,
	MRP_OVERFLOW,				/* a quantity beyond the engine's range */
	MRP_BAD_RULE				/* a lot rule with a zero or negative lot */
} MrpResult;

typedef struct MrpLotRule
{
	bool		fixed;			/* fixed lots of lot_qty, else lot for lot */
	MrpQty		lot_qty;
	MrpQty		min_order;
	MrpQty		multiple;		/* 0: none */
	MrpQty		rounding;		/* the unit's rounding: receipts are multiples of it */
	MrpQty		safety;
} MrpLotRule;

/* an exact factor num / den (per parent unit) */
typedef struct MrpFactor
{
	int64		num;
	int64		den;
} MrpFactor;

/* netting.c */
extern MrpResult MrpLotSize(const MrpLotRule *r, MrpQty need, MrpQty *out);
extern MrpResult MrpNetItem(const MrpLotRule *r, MrpQty on_hand, int nbuckets,
							const MrpQty *gross, const MrpQty *scheduled,
							MrpQty *projected, MrpQty *net, MrpQty *receipt);
extern MrpResult MrpApplyFactor(MrpQty qty, MrpFactor f, MrpQty *out);
extern MrpResult MrpFactorMul(MrpFactor a, MrpFactor b, MrpFactor *out);
extern MrpQty MrpCeilTo(MrpQty q, MrpQty step);
/* replenishment/reorder.c */
extern MrpResult MrpReorderQty(MrpQty forecast, MrpQty min, MrpQty max, MrpQty multiple, MrpQty *out);

#endif
