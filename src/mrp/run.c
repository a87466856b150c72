/*
 * The MRP run (mrp._run_compute, called by mrp.run): read the company's
 * items, BOMs, stock, scheduled receipts and demand in a few set-based
 * queries, plan every item in low-level-code order in memory (netting.c),
 * and write planned orders, the MRP table, pegging and exceptions as they
 * are made, in COPY batches (bulk.c): the results are never all in memory.
 *
 * One phase per function, all state in an MrpRun: load (header, items,
 * BOMs, stock, moves and demand), kits, low-level codes, then netting with
 * the pegging and the writes of each item. Every quantity addition is checked; the arithmetic returns codes
 * (netting.c) and run_result() alone turns a code into an error (a depth
 * beyond MRP_MAX_BOM_DEPTH) or into a "not_planned" run message for the
 * product concerned, which is then left out while the others are planned.
 *
 * Conventions (docs/mrp.md): buckets are 0-based here and 1-based in the
 * tables; anything dated before the start counts in the first bucket; a
 * release before the first bucket is kept, flagged past due; kits (phantom
 * BOMs) pass their requirement straight to their components.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "pgerp/jobs.h"
#include "pgerp/mrp.h"

typedef struct Edge
{
	int			child;
	MrpFactor	factor;
	struct Edge *next;
} Edge;

typedef struct Source			/* a gross requirement, for pegging */
{
	int			bucket;
	MrpQty		qty;
	char	   *ref;			/* demand or move reference, or NULL */
	int64		order;			/* else the id of the planned order that needs it */
	struct Source *next;
} Source;

typedef struct PlanItem
{
	int64		product_id;
	bool		make;
	bool		phantom;
	bool		has_bom;		/* a normal BOM */
	int64		bom_id;
	int			lead_days;
	int64		vendor_id;		/* 0: none */
	MrpLotRule	rule;
	MrpQty		on_hand;
	Edge	   *edges;			/* effective components (kits expanded) */
	Source	   *sources;
	int			indegree;
	int			llc;
	MrpQty	   *gross;
	MrpQty	   *sched;
	bool		failed;			/* not planned: reported in a run message */
} PlanItem;

typedef struct ItemSlot
{
	int64		product_id;
	int			item;
} ItemSlot;

typedef struct MrpRun
{
	int64		run_id;
	int64		company;
	int			bd;				/* days per bucket */
	int			H;				/* buckets */
	int64		warehouse_loc;	/* 0: every internal location */
	DateADT		start_date;
	PlanItem   *items;
	int			nitems;
	HTAB	   *index;			/* product id -> item */
	int		   *order_of;		/* Kahn order */
	int			maxllc;
	int			norders;		/* planned orders written */
	Oid			order_seq;		/* mrp.planned_order_id_seq */
	/* the writers of the results (bulk.c) */
	MrpCopy		po,
				rec,
				peg,
				msg;
	Size		peak;			/* the backend's memory at the end of a phase, at most */
	MemoryContext scratch;		/* conversions of one value, reset after each */
} MrpRun;

/* What an item's quantity came from, for the run message of a failure. */
typedef enum MrpWhat
{
	WHAT_PLANNING,
	WHAT_BOM,
	WHAT_ON_HAND,
	WHAT_RECEIPTS,
	WHAT_REQUIREMENTS,
	WHAT_DEPENDENT,
	WHAT_NETTING,
	WHAT_LEAD_TIME
} MrpWhat;

static const char *const what_text[] = {
	"its planning data (lot, minimum order, multiple, unit rounding or safety stock) is",
	"a quantity of its bill of materials is",
	"its on-hand stock is",
	"its scheduled receipts in one bucket are",
	"its gross requirements in one bucket are",
	"the requirements from the orders of its parents or kits are",
	"its projected stock or planned receipts are",
	NULL						/* WHAT_LEAD_TIME: its own sentence */
};

static int
item_of(MrpRun *run, int64 product_id)
{
	ItemSlot   *e = hash_search(run->index, &product_id, HASH_FIND, NULL);

	return e ? e->item : -1;
}

/* A run message, written at once (detail is freed). */
static void
add_message(MrpRun *run, int64 prod, const char *kind, char *detail)
{
	MrpCopy    *c = &run->msg;

	MrpCopyInt8(c, run->company);
	MrpCopyInt8(c, run->run_id);
	MrpCopyInt8(c, prod);
	MrpCopyText(c, kind);
	MrpCopyText(c, detail);
	MrpCopyEndRow(c);
	pfree(detail);
}

/*
 * The one place where codes become errors or run messages: a depth beyond
 * the limit stops the run (54001); a quantity out of range or a bad lot rule
 * marks the item not planned, with a message naming what failed. Returns
 * whether r was MRP_OK. item < 0: nothing to blame but the run.
 */
static bool
run_result(MrpRun *run, int item, MrpResult r, MrpWhat what)
{
	PlanItem   *it;

	if (r == MRP_OK)
		return true;
	if (r == MRP_TOO_DEEP)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("the bills of materials of company " INT64_FORMAT " are nested too deep", run->company),
				 errdetail("Bills of materials and kits are planned up to %d levels.", MRP_MAX_BOM_DEPTH)));
	if (item < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("MRP quantities out of range"),
				 errdetail("The engine plans quantities up to " INT64_FORMAT " units with 6 decimals.",
						   PG_INT64_MAX / MRP_SCALE)));
	it = &run->items[item];
	if (!it->failed)
	{
		it->failed = true;
		if (r == MRP_BAD_RULE)
			add_message(run, it->product_id, "not_planned",
						psprintf("The product is not planned: its fixed lot rule has no positive lot quantity."));
		else if (what == WHAT_LEAD_TIME)
			add_message(run, it->product_id, "not_planned",
						psprintf("The product is not planned: its lead time is beyond %d days.", MRP_MAX_DAYS));
		else
			add_message(run, it->product_id, "not_planned",
						psprintf("The product is not planned: %s beyond the engine's range (inputs up to "
								 INT64_FORMAT " units, sums up to " INT64_FORMAT " units).",
								 what_text[what], MRP_MAX_UNITS, PG_INT64_MAX / MRP_SCALE));
	}
	return false;
}

static int64
get_int8(HeapTuple t, TupleDesc d, int col, int64 dflt)
{
	bool		isnull;
	Datum		v = SPI_getbinval(t, d, col, &isnull);

	return isnull ? dflt : DatumGetInt64(v);
}

/*
 * A numeric column times scale, rounded to an integer as the SQL cast does;
 * NULL gives dflt; NaN, infinities and what does not fit give an overflow.
 * The numeric arithmetic is done in run->scratch, reset after each value.
 */
static MrpResult
get_scaled(MrpRun *run, HeapTuple t, TupleDesc d, int col, int64 scale, MrpQty dflt, MrpQty *out)
{
	bool		isnull;
	Datum		v = SPI_getbinval(t, d, col, &isnull);
	Datum		bound;
	Datum		scaled;
	Numeric		n;
	MemoryContext old;
	MrpResult	r = MRP_OK;

	*out = dflt;
	if (isnull)
		return MRP_OK;
	old = MemoryContextSwitchTo(run->scratch);
	n = DatumGetNumeric(v);
	bound = DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX / scale));
	if (numeric_is_nan(n) || numeric_is_inf(n) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, DirectFunctionCall1(numeric_abs, NumericGetDatum(n)), bound)) > 0)
		r = MRP_OVERFLOW;
	else
	{
		scaled = DirectFunctionCall2(numeric_mul, NumericGetDatum(n), DirectFunctionCall1(int8_numeric, Int64GetDatum(scale)));
		*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, scaled));
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(run->scratch);
	return r;
}

static SPITupleTable *
query(const char *sql, int nargs, Oid *types, Datum *values)
{
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "MRP input query failed");
	return SPI_tuptable;
}

/*
 * Add the components of a kit (recursively) to a parent's effective list;
 * depth counts the kits passed through.
 */
static MrpResult
add_edge(MrpRun *run, PlanItem *parent, int child, MrpFactor f, int depth)
{
	PlanItem   *c = &run->items[child];

	if (depth >= MRP_MAX_BOM_DEPTH)
		return MRP_TOO_DEEP;
	if (c->phantom)
	{
		for (Edge *e = c->edges; e != NULL; e = e->next)
		{
			MrpFactor	g;
			MrpResult	r;

			if ((r = MrpFactorMul(f, e->factor, &g)) != MRP_OK ||
				(r = add_edge(run, parent, e->child, g, depth + 1)) != MRP_OK)
				return r;
		}
		return MRP_OK;
	}
	{
		Edge	   *e = palloc(sizeof(Edge));

		e->child = child;
		e->factor = f;
		e->next = parent->edges;
		parent->edges = e;
	}
	return MRP_OK;
}

static void
add_source(PlanItem *it, int bucket, MrpQty qty, char *ref, int64 order)
{
	Source	   *s = palloc(sizeof(Source));

	s->bucket = bucket;
	s->qty = qty;
	s->ref = ref;
	s->order = order;
	s->next = it->sources;
	it->sources = s;
}

/*
 * A gross requirement of an item in a bucket, with its source; an overflow
 * marks the item not planned. A failed item collects nothing.
 */
static void
add_requirement(MrpRun *run, int item, int bucket, MrpQty qty, char *ref, int64 order, MrpWhat what)
{
	PlanItem   *it = &run->items[item];

	if (it->failed)
		return;
	if (!run_result(run, item, MrpAdd(&it->gross[bucket], qty), what))
		return;
	add_source(it, bucket, qty, ref, order);
}

/* Load: the run's company, bucket size, horizon and warehouse location. */
static void
load_header(MrpRun *run)
{
	SPITupleTable *tt;
	Oid			t1[1] = {INT8OID};
	Datum		v1[1] = {Int64GetDatum(run->run_id)};
	bool		isnull;

	tt = query("SELECT company_id, CASE bucket WHEN 'week' THEN 7 ELSE 1 END, horizon,"
			   " coalesce((SELECT w.location_id FROM stock.warehouse w WHERE w.company_id OPERATOR(pg_catalog.=) r.company_id"
			   "           AND w.id OPERATOR(pg_catalog.=) r.warehouse_id), 0), start_date"
			   " FROM mrp.mrp_run r WHERE id OPERATOR(pg_catalog.=) $1", 1, t1, v1);
	if (SPI_processed != 1)
		elog(ERROR, "MRP run " INT64_FORMAT " does not exist", run->run_id);
	run->company = get_int8(tt->vals[0], tt->tupdesc, 1, 0);
	run->bd = DatumGetInt32(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &isnull));
	run->H = DatumGetInt32(SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &isnull));
	run->warehouse_loc = get_int8(tt->vals[0], tt->tupdesc, 4, 0);
	run->start_date = DatumGetDateADT(SPI_getbinval(tt->vals[0], tt->tupdesc, 5, &isnull));
	Assert(run->H >= 1 && run->bd >= 1);
	SPI_freetuptable(tt);
}

/* Load: every active product, with its planning data, BOM and supplier. */
static void
load_items(MrpRun *run)
{
	SPITupleTable *tt;
	Oid			t1[1] = {INT8OID};
	Datum		v1[1] = {Int64GetDatum(run->company)};
	HASHCTL		ctl;

	tt = query("SELECT p.id,"
			   " coalesce(pl.make_or_buy, CASE WHEN b.type = 'normal' THEN 'make' ELSE 'buy' END) = 'make',"
			   " b.type = 'phantom', b.type = 'normal', b.id,"
			   " coalesce(pl.lead_days, CASE WHEN coalesce(pl.make_or_buy, CASE WHEN b.type = 'normal' THEN 'make' ELSE 'buy' END) = 'buy'"
			   "                            THEN s.lead_days END, 0),"
			   " s.vendor_id, coalesce(pl.lot_rule, 'l4l') = 'fixed',"
			   " pl.lot_qty, pl.min_order, pl.multiple, u.rounding, pl.safety_stock"
			   " FROM stock.product p JOIN stock.uom u ON u.code OPERATOR(pg_catalog.=) p.uom"
			   " LEFT JOIN mrp.planning pl ON pl.company_id OPERATOR(pg_catalog.=) p.company_id AND pl.product_id OPERATOR(pg_catalog.=) p.id"
			   " LEFT JOIN LATERAL mrp._bom_of(p.company_id, p.id) b ON true"
			   " LEFT JOIN LATERAL (SELECT si.vendor_id, si.lead_days FROM purchase.supplier_info si"
			   "   JOIN erp.partner v ON v.company_id OPERATOR(pg_catalog.=) si.company_id AND v.id OPERATOR(pg_catalog.=) si.vendor_id AND v.active"
			   "  WHERE si.company_id OPERATOR(pg_catalog.=) p.company_id AND si.product_id OPERATOR(pg_catalog.=) p.id AND si.active"
			   "  ORDER BY si.price, si.lead_days, si.id LIMIT 1) s ON true"
			   " WHERE p.company_id OPERATOR(pg_catalog.=) $1 AND p.active ORDER BY p.id", 1, t1, v1);
	run->nitems = (int) SPI_processed;
	run->peak = Max(run->peak, MemoryContextMemAllocated(TopMemoryContext, true));
	run->items = palloc0(sizeof(PlanItem) * Max(run->nitems, 1));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(ItemSlot);
	ctl.hcxt = CurrentMemoryContext;
	run->index = hash_create("pgerp mrp items", Max(run->nitems, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < run->nitems; i++)
	{
		HeapTuple	t = tt->vals[i];
		TupleDesc	d = tt->tupdesc;
		PlanItem   *it = &run->items[i];
		bool		isnull;
		ItemSlot   *e;
		MrpResult	r;

		it->product_id = get_int8(t, d, 1, 0);
		it->make = DatumGetBool(SPI_getbinval(t, d, 2, &isnull));
		it->phantom = !isnull && DatumGetBool(SPI_getbinval(t, d, 3, &isnull)) && !isnull;
		it->has_bom = DatumGetBool(SPI_getbinval(t, d, 4, &isnull)) && !isnull;
		it->bom_id = get_int8(t, d, 5, 0);
		it->lead_days = DatumGetInt32(SPI_getbinval(t, d, 6, &isnull));
		it->vendor_id = get_int8(t, d, 7, 0);
		it->rule.fixed = DatumGetBool(SPI_getbinval(t, d, 8, &isnull));
		it->gross = palloc0(sizeof(MrpQty) * run->H);
		it->sched = palloc0(sizeof(MrpQty) * run->H);
		e = hash_search(run->index, &it->product_id, HASH_ENTER, NULL);
		e->item = i;
		if ((r = get_scaled(run, t, d, 9, MRP_SCALE, 0, &it->rule.lot_qty)) != MRP_OK ||
			(r = get_scaled(run, t, d, 10, MRP_SCALE, 0, &it->rule.min_order)) != MRP_OK ||
			(r = get_scaled(run, t, d, 11, MRP_SCALE, 0, &it->rule.multiple)) != MRP_OK ||
			(r = get_scaled(run, t, d, 12, MRP_SCALE, 1, &it->rule.rounding)) != MRP_OK ||
			(r = get_scaled(run, t, d, 13, MRP_SCALE, 0, &it->rule.safety)) != MRP_OK)
			run_result(run, i, r, WHAT_PLANNING);
		else if (it->lead_days < 0 || it->lead_days > MRP_MAX_DAYS)
			run_result(run, i, MRP_OVERFLOW, WHAT_LEAD_TIME);
		else if (it->rule.fixed && it->rule.lot_qty <= 0)
			run_result(run, i, MRP_BAD_RULE, WHAT_PLANNING);
	}
	SPI_freetuptable(tt);
}

/*
 * Load: the lines of every first active BOM, factor = qty x (100 + scrap)
 * / 100 / batch as an exact fraction; then the effective components of
 * every made item, kits expanded.
 */
static void
load_boms(MrpRun *run)
{
	SPITupleTable *tt;
	Oid			t1[1] = {INT8OID};
	Datum		v1[1] = {Int64GetDatum(run->company)};
	Edge	  **raw;

	tt = query("SELECT b.product_id, bl.product_id, bl.qty, 100 + bl.scrap_pct, b.qty"
			   " FROM stock.product p CROSS JOIN LATERAL mrp._bom_of(p.company_id, p.id) b"
			   " JOIN mrp.bom_line bl ON bl.company_id OPERATOR(pg_catalog.=) b.company_id AND bl.bom_id OPERATOR(pg_catalog.=) b.id"
			   " WHERE p.company_id OPERATOR(pg_catalog.=) $1 AND p.active", 1, t1, v1);
	/* raw edges first (kits included), then the effective ones */
	raw = palloc0(sizeof(Edge *) * Max(run->nitems, 1));
	for (uint64 i = 0, n = SPI_processed; i < n; i++)
	{
		HeapTuple	t = tt->vals[i];
		TupleDesc	d = tt->tupdesc;
		int			p = item_of(run, get_int8(t, d, 1, 0));
		int			c = item_of(run, get_int8(t, d, 2, 0));
		MrpQty		qty,
					scrap,
					batch;
		MrpFactor	f1,
					f2;
		Edge	   *e;
		MrpResult	r;

		if (p < 0 || c < 0)
			continue;			/* an inactive component is not planned */
		e = palloc(sizeof(Edge));
		e->child = c;
		/* qty / batch x (100 + scrap) / 100, scrap in ten-thousandths of a percent */
		if ((r = get_scaled(run, t, d, 3, MRP_SCALE, 0, &qty)) != MRP_OK ||
			(r = get_scaled(run, t, d, 4, MRP_SCALE / 100, 0, &scrap)) != MRP_OK ||
			(r = get_scaled(run, t, d, 5, MRP_SCALE, 0, &batch)) != MRP_OK ||
			(r = MrpFactorMake(qty, batch, &f1)) != MRP_OK ||
			(r = MrpFactorMake(scrap, MRP_SCALE, &f2)) != MRP_OK ||
			(r = MrpFactorMul(f1, f2, &e->factor)) != MRP_OK)
		{
			run_result(run, p, r, WHAT_BOM);
			continue;
		}
		e->next = raw[p];
		raw[p] = e;
	}
	for (int i = 0; i < run->nitems; i++)
		if (run->items[i].phantom)
			run->items[i].edges = raw[i];	/* kits keep their raw lines for expansion */
	for (int i = 0; i < run->nitems; i++)
	{
		PlanItem   *it = &run->items[i];

		if (it->phantom || !it->has_bom || !it->make)
			continue;
		for (Edge *e = raw[i]; e != NULL; e = e->next)
			if (!run_result(run, i, add_edge(run, it, e->child, e->factor, 0), WHAT_BOM))
				break;
	}
	SPI_freetuptable(tt);
}

/* Load: on hand in the company's internal locations (or the warehouse's). */
static void
load_stock(MrpRun *run)
{
	SPITupleTable *tt;
	Oid			t2[2] = {INT8OID, INT8OID};
	Datum		v2[2] = {Int64GetDatum(run->company), Int64GetDatum(run->warehouse_loc)};

	tt = query("SELECT q.product_id, sum(q.quantity) FROM stock.quant q"
			   " JOIN stock.location l ON l.company_id OPERATOR(pg_catalog.=) q.company_id AND l.id OPERATOR(pg_catalog.=) q.location_id"
			   " WHERE q.company_id OPERATOR(pg_catalog.=) $1 AND l.usage = 'internal'"
			   "   AND ($2 OPERATOR(pg_catalog.=) 0 OR l.id OPERATOR(pg_catalog.=) $2)"
			   " GROUP BY q.product_id", 2, t2, v2);
	for (uint64 i = 0, n = SPI_processed; i < n; i++)
	{
		int			it = item_of(run, get_int8(tt->vals[i], tt->tupdesc, 1, 0));

		if (it >= 0)
			run_result(run, it, get_scaled(run, tt->vals[i], tt->tupdesc, 2, MRP_SCALE, 0, &run->items[it].on_hand),
					   WHAT_ON_HAND);
	}
	SPI_freetuptable(tt);
}

/*
 * Load: open moves in (scheduled receipts) and out (gross requirements),
 * draft purchase and manufacturing orders (receipts), and demand, each in
 * its bucket; beyond the horizon is ignored, before the start is bucket 1.
 */
static void
load_moves(MrpRun *run)
{
	SPITupleTable *tt;
	Oid			t3[3] = {INT8OID, INT8OID, INT8OID};
	Datum		v3[3] = {Int64GetDatum(run->company), Int64GetDatum(run->warehouse_loc), Int64GetDatum(run->run_id)};

	tt = query("WITH r AS (SELECT start_date, CASE bucket WHEN 'week' THEN 7 ELSE 1 END AS bd, horizon FROM mrp.mrp_run"
			   "            WHERE id OPERATOR(pg_catalog.=) $3)"
			   " SELECT x.product_id,"
			   "        CASE WHEN x.day OPERATOR(pg_catalog.<=) r.start_date THEN 0"
			   "             ELSE pg_catalog.floor((x.day OPERATOR(pg_catalog.-) r.start_date)::numeric / r.bd)::int END AS bucket,"
			   "        x.qty, x.incoming, x.ref"
			   " FROM r, (SELECT m.product_id, m.date::date AS day, m.qty,"
			   "                 ld.usage = 'internal' AS incoming, coalesce(m.ref, 'move ' || m.id) AS ref"
			   "            FROM stock.move m"
			   "            JOIN stock.location ls ON ls.company_id OPERATOR(pg_catalog.=) m.company_id AND ls.id OPERATOR(pg_catalog.=) m.location_id"
			   "            JOIN stock.location ld ON ld.company_id OPERATOR(pg_catalog.=) m.company_id AND ld.id OPERATOR(pg_catalog.=) m.location_dest_id"
			   "           WHERE m.company_id OPERATOR(pg_catalog.=) $1 AND m.state IN ('confirmed', 'assigned')"
			   "             AND (ls.usage = 'internal') <> (ld.usage = 'internal')"
			   "             AND ($2 OPERATOR(pg_catalog.=) 0 OR m.location_id OPERATOR(pg_catalog.=) $2 OR m.location_dest_id OPERATOR(pg_catalog.=) $2)"
			   "          UNION ALL"
			   "          SELECT ol.product_id, po.date_planned::date, ol.qty, true, 'PO/' || po.id"
			   "            FROM purchase.order po JOIN purchase.order_line ol"
			   "              ON ol.company_id OPERATOR(pg_catalog.=) po.company_id AND ol.order_id OPERATOR(pg_catalog.=) po.id"
			   "           WHERE po.company_id OPERATOR(pg_catalog.=) $1 AND po.state = 'draft'"
			   "             AND ($2 OPERATOR(pg_catalog.=) 0 OR po.location_id OPERATOR(pg_catalog.=) $2)"
			   "          UNION ALL"
			   "          SELECT mo.product_id, mo.due_at::date, mo.qty, true, 'MO/' || mo.id"
			   "            FROM mrp.production mo WHERE mo.company_id OPERATOR(pg_catalog.=) $1 AND mo.state = 'draft'"
			   "             AND ($2 OPERATOR(pg_catalog.=) 0 OR mo.location_id OPERATOR(pg_catalog.=) $2)"
			   "          UNION ALL"
			   "          SELECT d.product_id, d.due, d.qty, false, coalesce(d.ref, 'demand ' || d.id)"
			   "            FROM mrp.demand d WHERE d.company_id OPERATOR(pg_catalog.=) $1) x"
			   " WHERE x.day < r.start_date + r.bd * r.horizon", 3, t3, v3);
	for (uint64 i = 0, n = SPI_processed; i < n; i++)
	{
		HeapTuple	t = tt->vals[i];
		TupleDesc	d = tt->tupdesc;
		bool		isnull;
		int			it = item_of(run, get_int8(t, d, 1, 0));
		int			b = DatumGetInt32(SPI_getbinval(t, d, 2, &isnull));
		bool		incoming = DatumGetBool(SPI_getbinval(t, d, 4, &isnull));
		MrpQty		q;

		if (it < 0 || b >= run->H || run->items[it].failed)
			continue;
		if (!run_result(run, it, get_scaled(run, t, d, 3, MRP_SCALE, 0, &q), incoming ? WHAT_RECEIPTS : WHAT_REQUIREMENTS))
			continue;
		if (incoming)
			run_result(run, it, MrpAdd(&run->items[it].sched[b], q), WHAT_RECEIPTS);
		else
			add_requirement(run, it, b, q, SPI_getvalue(t, d, 5), 0, WHAT_REQUIREMENTS);
	}
	run->peak = Max(run->peak, MemoryContextMemAllocated(TopMemoryContext, true));
	SPI_freetuptable(tt);
}

/*
 * Kits: demand on a kit itself (a sale of the kit) goes straight to its
 * components, nested kits included, in the same bucket.
 */
static void
expand_kit_demand(MrpRun *run)
{
	for (int i = 0; i < run->nitems; i++)
	{
		PlanItem   *k = &run->items[i];
		PlanItem	tmp;

		if (!k->phantom || k->failed)
			continue;
		memset(&tmp, 0, sizeof(tmp));
		for (Edge *e = k->edges; e != NULL; e = e->next)
			if (!run_result(run, i, add_edge(run, &tmp, e->child, e->factor, 0), WHAT_BOM))
				break;
		if (k->failed)
			continue;
		for (Source *s = k->sources; s != NULL; s = s->next)
			for (Edge *e = tmp.edges; e != NULL; e = e->next)
			{
				MrpQty		need;

				if (run_result(run, e->child, MrpApplyFactor(s->qty, e->factor, &need), WHAT_DEPENDENT))
					add_requirement(run, e->child, s->bucket, need, s->ref, -1, WHAT_DEPENDENT);
			}
	}
}

/*
 * Low-level codes: Kahn's order over the effective edges; a cycle stops the
 * run, and so does a code beyond MRP_MAX_BOM_DEPTH (data older than the
 * limit): never a truncated plan.
 */
static void
low_level_codes(MrpRun *run)
{
	PlanItem   *items = run->items;
	int			head = 0,
				tail = 0;

	run->order_of = palloc(sizeof(int) * Max(run->nitems, 1));
	for (int i = 0; i < run->nitems; i++)
		for (Edge *e = items[i].phantom ? NULL : items[i].edges; e != NULL; e = e->next)
			items[e->child].indegree++;
	for (int i = 0; i < run->nitems; i++)
		if (items[i].indegree == 0)
			run->order_of[tail++] = i;
	while (head < tail)
	{
		PlanItem   *p = &items[run->order_of[head++]];

		if (p->phantom)
			continue;
		for (Edge *e = p->edges; e != NULL; e = e->next)
		{
			PlanItem   *c = &items[e->child];

			c->llc = Max(c->llc, p->llc + 1);
			run->maxllc = Max(run->maxllc, c->llc);
			if (--c->indegree == 0)
				run->order_of[tail++] = e->child;
		}
	}
	if (tail < run->nitems)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_RECURSION),
				 errmsg("the bills of materials of company " INT64_FORMAT " contain a cycle", run->company)));
	if (run->maxllc > MRP_MAX_BOM_DEPTH)
		run_result(run, -1, MRP_TOO_DEEP, WHAT_BOM);
}

/* A row of the MRP table (b 0-based), written at once. */
static void
write_record(MrpRun *run, PlanItem *it, int b, MrpQty proj, MrpQty net, MrpQty rec, MrpQty rel)
{
	MrpCopy    *c = &run->rec;

	MrpCopyInt8(c, run->company);
	MrpCopyInt8(c, run->run_id);
	MrpCopyInt8(c, it->product_id);
	MrpCopyInt8(c, b + 1);
	MrpCopyDate(c, run->start_date + b * run->bd);
	MrpCopyQty(c, it->gross[b]);
	MrpCopyQty(c, it->sched[b]);
	MrpCopyQty(c, proj);
	MrpCopyQty(c, net);
	MrpCopyQty(c, rec);
	MrpCopyQty(c, rel);
	MrpCopyEndRow(c);
}

/* A planned order (due and release buckets 0-based), written at once. */
static void
write_order(MrpRun *run, PlanItem *it, int64 id, MrpQty qty, int due, int release)
{
	MrpCopy    *c = &run->po;

	MrpCopyInt8(c, run->company);
	MrpCopyInt8(c, id);
	MrpCopyInt8(c, run->run_id);
	MrpCopyInt8(c, it->product_id);
	MrpCopyQty(c, qty);
	MrpCopyDate(c, run->start_date + release * run->bd);
	MrpCopyDate(c, run->start_date + due * run->bd);
	MrpCopyText(c, it->make ? "make" : "buy");
	MrpCopyBool(c, release < 0);
	if (it->make || it->vendor_id == 0)
		MrpCopyNull(c);
	else
		MrpCopyInt8(c, it->vendor_id);
	MrpCopyEndRow(c);
}

/*
 * Pegging of one planned order: it covers the requirements of its due
 * bucket, in the order of the item's sources (all known: every parent is
 * planned before its components), each taken up to what is left of it.
 */
static void
peg_order(MrpRun *run, PlanItem *it, int64 id, MrpQty qty, int due)
{
	MrpQty		left = qty;
	MrpCopy    *c = &run->peg;

	for (Source *s = it->sources; s != NULL && left > 0; s = s->next)
	{
		MrpQty		take;

		if (s->bucket != due || s->qty <= 0)
			continue;
		take = Min(left, s->qty);
		MrpCopyInt8(c, run->company);
		MrpCopyInt8(c, run->run_id);
		MrpCopyInt8(c, id);
		if (s->ref)
			MrpCopyText(c, s->ref);
		else
		{
			char		ref[64];

			snprintf(ref, sizeof(ref), "planned order " INT64_FORMAT, s->order);
			MrpCopyText(c, ref);
		}
		MrpCopyQty(c, take);
		MrpCopyEndRow(c);
		s->qty -= take;
		left -= take;
	}
}

/* What a planned item no longer needs: its buckets and sources. */
static void
free_item(PlanItem *it)
{
	Source	   *s = it->sources;

	while (s != NULL)
	{
		Source	   *next = s->next;

		pfree(s);
		s = next;
	}
	it->sources = NULL;
	pfree(it->gross);
	pfree(it->sched);
	it->gross = it->sched = NULL;
}

/* Work arrays of the netting of one item, H buckets each. */
typedef struct NetBuffers
{
	MrpQty	   *proj;
	MrpQty	   *net;
	MrpQty	   *rec;
	MrpQty	   *rel;
} NetBuffers;

/*
 * Netting, the item's own arithmetic: projection, planned receipts, their
 * releases and the sum of its scheduled receipts; nothing is written until
 * all of it fits, so that a failed item leaves no partial plan.
 */
static MrpResult
net_item(MrpRun *run, PlanItem *it, int lt, NetBuffers *nb, MrpQty *total_sched)
{
	MrpResult	r;

	if ((r = MrpNetItem(&it->rule, it->on_hand, run->H, it->gross, it->sched, nb->proj, nb->net, nb->rec)) != MRP_OK)
		return r;
	memset(nb->rel, 0, sizeof(MrpQty) * run->H);
	*total_sched = 0;
	for (int b = 0; b < run->H; b++)
	{
		if ((r = MrpAdd(total_sched, it->sched[b])) != MRP_OK)
			return r;
		if (nb->rec[b] != 0 && (r = MrpAdd(&nb->rel[Max(b - lt, 0)], nb->rec[b])) != MRP_OK)
			return r;
	}
	return MRP_OK;
}

/*
 * Whether an item's scheduled receipts are needed: without them, would the
 * projection ever fall below the safety stock?
 */
static MrpResult
receipts_needed(MrpRun *run, PlanItem *it, const MrpQty *proj, bool *needed)
{
	MrpQty		cum = 0;

	*needed = false;
	for (int b = 0; b < run->H && !*needed; b++)
	{
		MrpQty		without;

		if (MrpAdd(&cum, it->sched[b]) != MRP_OK || pg_sub_s64_overflow(proj[b], cum, &without))
			return MRP_OVERFLOW;
		*needed = without < it->rule.safety;
	}
	return MRP_OK;
}

/*
 * Netting and offsetting of one item (k-th in low-level-code order): its
 * planned orders, the gross requirements they put on its components at
 * their release, its exceptions and its rows of the MRP table.
 */
static void
plan_item(MrpRun *run, int k, NetBuffers *nb)
{
	int			idx = run->order_of[k];
	PlanItem   *it = &run->items[idx];
	int			lt = (it->lead_days + run->bd - 1) / run->bd;
	bool		any = false;
	bool		needed = true;
	MrpQty		total_sched;
	int			first_order = run->norders;
	int64		id;

	if (!run_result(run, idx, net_item(run, it, lt, nb, &total_sched), WHAT_NETTING))
		return;
	if (total_sched > 0 && !run_result(run, idx, receipts_needed(run, it, nb->proj, &needed), WHAT_NETTING))
		return;
	for (int b = 0; b < run->H; b++)
	{
		int			r;

		if (nb->rec[b] == 0)
			continue;
		r = b - lt;
		id = nextval_internal(run->order_seq, true);
		write_order(run, it, id, nb->rec[b], b, r);
		peg_order(run, it, id, nb->rec[b], b);
		/* the components' gross requirements, at the release */
		for (Edge *e = it->edges; it->make && e != NULL; e = e->next)
		{
			MrpQty		need;

			if (run_result(run, e->child, MrpApplyFactor(nb->rec[b], e->factor, &need), WHAT_DEPENDENT))
				add_requirement(run, e->child, Max(r, 0), need, NULL, id, WHAT_DEPENDENT);
		}
		run->norders++;
		if (r < 0)
			add_message(run, it->product_id, "past_due",
						psprintf("A planned order due in bucket %d should have been released %d bucket(s) before the start.",
								 b + 1, -r));
		/* a later scheduled receipt could cover this need if expedited */
		for (int b2 = b + 1; b2 < run->H; b2++)
			if (it->sched[b2] > 0)
			{
				add_message(run, it->product_id, "expedite",
							psprintf("A scheduled receipt in bucket %d is needed in bucket %d.", b2 + 1, b + 1));
				break;
			}
	}
	if (it->make && !it->has_bom && run->norders > first_order)
		add_message(run, it->product_id, "no_bom",
					psprintf("The item is made but has no bill of materials; its components are not planned."));
	if (!it->make && it->vendor_id == 0 && run->norders > first_order)
		add_message(run, it->product_id, "no_supplier", psprintf("The item is bought but has no active supplier."));
	if (total_sched > 0 && !needed)
		add_message(run, it->product_id, "cancel",
					psprintf("The scheduled receipts (" INT64_FORMAT ") are not needed within the horizon.",
							 total_sched / MRP_SCALE));
	for (int b = 0; b < run->H; b++)
	{
		if (it->gross[b] == 0 && it->sched[b] == 0 && nb->rec[b] == 0 && nb->rel[b] == 0 &&
			!(b == 0 && !any && it->on_hand != 0))
			continue;
		any = true;
		write_record(run, it, b, nb->proj[b], nb->net[b], nb->rec[b], nb->rel[b]);
	}
}

/* Netting: every item in low-level-code order (kits and failed items left out). */
static void
plan_all(MrpRun *run)
{
	NetBuffers	nb;
	int			level = -1;

	nb.proj = palloc(sizeof(MrpQty) * run->H);
	nb.net = palloc(sizeof(MrpQty) * run->H);
	nb.rec = palloc(sizeof(MrpQty) * run->H);
	nb.rel = palloc(sizeof(MrpQty) * run->H);
	for (int k = 0; k < run->nitems; k++)
	{
		PlanItem   *it = &run->items[run->order_of[k]];

		if (it->phantom || it->failed)
			continue;
		if (it->llc != level && JobsCurrentJobId() != 0)
		{
			level = it->llc;
			JobsSetProgress((double) k / Max(run->nitems, 1), psprintf("low-level code %d of %d", level, run->maxllc));
		}
		plan_item(run, k, &nb);
		free_item(it);
	}
}

/* The writers of the four result tables, and what the netting needs. */
static void
open_writers(MrpRun *run)
{
	static const char *const po[] = {"company_id", "id", "run_id", "product_id", "qty", "release_date", "due_date",
	"kind", "past_due", "vendor_id"};
	static const char *const rec[] = {"company_id", "run_id", "product_id", "bucket", "bucket_start", "gross",
	"scheduled", "projected", "net", "planned_receipt", "planned_release"};
	static const char *const peg[] = {"company_id", "run_id", "planned_order_id", "demand_ref", "qty"};
	static const char *const msg[] = {"company_id", "run_id", "product_id", "kind", "detail"};

	MrpCopyInit(&run->po, "mrp", "planned_order", po, lengthof(po));
	MrpCopyInit(&run->rec, "mrp", "plan_record", rec, lengthof(rec));
	MrpCopyInit(&run->peg, "mrp", "pegging", peg, lengthof(peg));
	MrpCopyInit(&run->msg, "mrp", "run_message", msg, lengthof(msg));
	run->order_seq = get_relname_relid("planned_order_id_seq", get_namespace_oid("mrp", false));
	if (!OidIsValid(run->order_seq))
		elog(ERROR, "sequence mrp.planned_order_id_seq does not exist");
	run->scratch = AllocSetContextCreate(CurrentMemoryContext, "pgerp mrp scratch", ALLOCSET_SMALL_SIZES);
}

/*
 * The last batches, in the order of the tables' foreign keys, and the peak
 * memory (DEBUG1: bench/mrp.sh prints it).
 */
static void
close_writers(MrpRun *run)
{
	MrpCopyFlush(&run->po);
	MrpCopyFlush(&run->peg);
	MrpCopyFlush(&run->rec);
	MrpCopyFlush(&run->msg);
	run->peak = Max(run->peak, Max(Max(run->po.peak, run->peg.peak), Max(run->rec.peak, run->msg.peak)));
	ereport(DEBUG1,
			(errmsg_internal("mrp run " INT64_FORMAT ": peak memory %zu kB, " UINT64_FORMAT " planned orders, "
							 UINT64_FORMAT " MRP table rows, " UINT64_FORMAT " pegging rows, " UINT64_FORMAT " messages",
							 run->run_id, run->peak / 1024, run->po.written, run->rec.written, run->peg.written,
							 run->msg.written)));
}

/* mrp._run_compute(run): the phases in order; returns the planned orders written. */
PG_FUNCTION_INFO_V1(pgerp_mrp_run_compute);
Datum
pgerp_mrp_run_compute(PG_FUNCTION_ARGS)
{
	MrpRun		run;

	memset(&run, 0, sizeof(run));
	run.run_id = PG_GETARG_INT64(0);
	SPI_connect();
	open_writers(&run);
	load_header(&run);
	load_items(&run);
	load_boms(&run);
	load_stock(&run);
	load_moves(&run);
	expand_kit_demand(&run);
	low_level_codes(&run);
	run.peak = Max(run.peak, MemoryContextMemAllocated(TopMemoryContext, true));
	plan_all(&run);
	close_writers(&run);
	SPI_finish();
	PG_RETURN_INT32(run.norders);
}

/* The limits of the engine, for the SQL checks (mrp._max_qty, mrp._max_bom_depth). */
PG_FUNCTION_INFO_V1(pgerp_mrp_max_qty);
Datum
pgerp_mrp_max_qty(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DirectFunctionCall1(int8_numeric, Int64GetDatum(MRP_MAX_UNITS)));
}

PG_FUNCTION_INFO_V1(pgerp_mrp_max_bom_depth);
Datum
pgerp_mrp_max_bom_depth(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MRP_MAX_BOM_DEPTH);
}

PG_FUNCTION_INFO_V1(pgerp_mrp_max_days);
Datum
pgerp_mrp_max_days(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(MRP_MAX_DAYS);
}
