/*
 * pgerp MRP and replenishment. Quantities inside the engine are exact
 * fixed-point integers in millionths of the product's unit (MrpQty); BOM
 * factors are exact fractions, so that 2 of a batch of 3 using 3 is 2.
 * Pure functions return codes; src/mrp/run.c turns them into errors.
 */
#ifndef PGERP_MRP_H
#define PGERP_MRP_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/date.h"

typedef int64 MrpQty;
#define MRP_SCALE INT64CONST(1000000)

/*
 * The largest quantity an input may hold (a demand, a safety stock, a lot,
 * an order line, a BOM quantity), in units. int64 millionths reach 9.2e12
 * units; an input is kept 9,000 times below that, so that the sums the
 * engine makes (a bucket's demand, on hand, dependent requirements, lot
 * sizing) have room. The input functions refuse more (22003, the limit in
 * the detail); the run reports a product whose rows still exceed it.
 */
#define MRP_MAX_UNITS INT64CONST(1000000000)
#define MRP_SUM_HEADROOM INT64CONST(9000)
StaticAssertDecl(MRP_MAX_UNITS <= PG_INT64_MAX / MRP_SCALE / MRP_SUM_HEADROOM,
				 "MRP_MAX_UNITS leaves no headroom for sums");

/*
 * The deepest bill of materials: levels below a product, for explosion,
 * costing, kits and the MRP run alike; create_bom refuses deeper (54001).
 */
#define MRP_MAX_BOM_DEPTH 64

/* Lead times and planning dates: at most this many days from today. */
#define MRP_MAX_DAYS 36525

typedef enum MrpResult
{
	MRP_OK = 0,
	MRP_OVERFLOW,				/* a quantity beyond the engine's range */
	MRP_BAD_RULE,				/* a lot rule with a zero or negative lot */
	MRP_TOO_DEEP				/* kits or levels nested beyond MRP_MAX_BOM_DEPTH */
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
extern MrpResult MrpFactorMake(int64 num, int64 den, MrpFactor *out);
extern MrpQty MrpCeilTo(MrpQty q, MrpQty step);
extern MrpResult MrpAdd(MrpQty *acc, MrpQty q);
/*
 * bulk.c: a writer of one output table of the run, in COPY text batches of
 * pgerp.mrp_batch_rows rows (MrpCopyEndRow copies a full batch).
 */
typedef struct MrpCopy
{
	const char *nsp;
	const char *rel;
	List	   *cols;			/* String nodes: the columns of a row, in order */
	StringInfoData buf;			/* the pending rows, COPY text */
	int			pos;			/* how much of buf CopyFrom has read */
	int			rows;			/* pending rows */
	uint64		written;
	Size		peak;			/* the backend's memory after a batch, at most */
	MemoryContext cxt;			/* a batch's COPY state, reset after it */
} MrpCopy;

extern int	mrp_batch_rows;
extern void MrpInitGucs(void);
extern void MrpInitRecost(void);
extern void MrpCopyInit(MrpCopy *c, const char *nsp, const char *rel, const char *const *cols, int ncols);
extern void MrpCopyFlush(MrpCopy *c);
extern void MrpCopyEndRow(MrpCopy *c);
extern void MrpCopyInt8(MrpCopy *c, int64 v);
extern void MrpCopyNull(MrpCopy *c);
extern void MrpCopyBool(MrpCopy *c, bool v);
extern void MrpCopyQty(MrpCopy *c, MrpQty q);
extern void MrpCopyDate(MrpCopy *c, DateADT d);
extern void MrpCopyText(MrpCopy *c, const char *s);

/* replenishment/reorder.c */
extern MrpResult MrpReorderQty(MrpQty forecast, MrpQty min, MrpQty max, MrpQty multiple, MrpQty *out);

#endif
