/*
 * The MRP run (mrp._run_compute, called by mrp.run): read the company's
 * items, BOMs, stock, scheduled receipts and demand in a few set-based
 * queries, plan every item in low-level-code order in memory (netting.c),
 * and write planned orders, the MRP table, pegging and exceptions with one
 * INSERT ... SELECT FROM unnest() each.
 *
 * Conventions (docs/mrp.md): buckets are 0-based here and 1-based in the
 * tables; anything dated before the start counts in the first bucket; a
 * release before the first bucket is kept, flagged past due; kits (phantom
 * BOMs) pass their requirement straight to their components.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"

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
	int			order;			/* else the planned order (index) that needs it */
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
} PlanItem;

typedef struct Order
{
	int			item;
	MrpQty		qty;
	int			due_bucket;
	int			release_bucket;
} Order;

typedef struct ItemSlot
{
	int64		product_id;
	int			item;
} ItemSlot;

static HTAB *index_htab;
static PlanItem *items;
static int	nitems;

static int
item_of(int64 product_id)
{
	ItemSlot	   *e = hash_search(index_htab, &product_id, HASH_FIND, NULL);

	return e ? e->item : -1;
}

static void
check(MrpResult r)
{
	if (r == MRP_OVERFLOW)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("MRP quantities out of range"),
				 errdetail("The engine plans quantities up to 9 trillion units with 6 decimals.")));
	if (r == MRP_BAD_RULE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a fixed lot rule needs a positive lot quantity")));
}

static int64
get_int8(HeapTuple t, TupleDesc d, int col, int64 dflt)
{
	bool		isnull;
	Datum		v = SPI_getbinval(t, d, col, &isnull);

	return isnull ? dflt : DatumGetInt64(v);
}

static SPITupleTable *
query(const char *sql, int nargs, Oid *types, Datum *values)
{
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "MRP input query failed");
	return SPI_tuptable;
}

/* Add the components of a kit (recursively) to a parent's effective list. */
static void
add_edge(PlanItem *parent, int child, MrpFactor f, int depth)
{
	PlanItem	   *c = &items[child];

	if (depth > 50)
		ereport(ERROR, (errcode(ERRCODE_INVALID_RECURSION), errmsg("kits nested more than 50 deep")));
	if (c->phantom)
	{
		for (Edge *e = c->edges; e != NULL; e = e->next)
		{
			MrpFactor	g;

			check(MrpFactorMul(f, e->factor, &g));
			add_edge(parent, e->child, g, depth + 1);
		}
		return;
	}
	{
		Edge	   *e = palloc(sizeof(Edge));

		e->child = child;
		e->factor = f;
		e->next = parent->edges;
		parent->edges = e;
	}
}

static void
add_source(PlanItem *it, int bucket, MrpQty qty, char *ref, int order)
{
	Source	   *s = palloc(sizeof(Source));

	s->bucket = bucket;
	s->qty = qty;
	s->ref = ref;
	s->order = order;
	s->next = it->sources;
	it->sources = s;
}

/* int8[] datum of n values */
static Datum
int8_array(int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
int4_array(int *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, 4, true, TYPALIGN_INT));
}

static Datum
text_array(char **v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = v[i] == NULL;
		d[i] = v[i] ? CStringGetTextDatum(v[i]) : (Datum) 0;
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
write_rows(const char *sql, int nargs, Oid *types, Datum *values)
{
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "MRP output insert failed");
}

PG_FUNCTION_INFO_V1(pgerp_mrp_run_compute);
Datum
pgerp_mrp_run_compute(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	int64		company;
	int			bd;				/* days per bucket */
	int			H;				/* buckets */
	int64		warehouse_loc;
	SPITupleTable *tt;
	Oid			t1[1] = {INT8OID};
	Datum		v1[1];
	int		   *order_of;		/* Kahn order */
	int			head = 0,
				tail = 0;
	Order	   *orders = NULL;
	int			norders = 0,
				maxorders = 0;
	int			maxllc = 0;
	HASHCTL		ctl;

	SPI_connect();
	v1[0] = Int64GetDatum(run_id);
	tt = query("SELECT company_id, CASE bucket WHEN 'week' THEN 7 ELSE 1 END, horizon,"
			   " coalesce((SELECT w.location_id FROM stock.warehouse w WHERE w.company_id OPERATOR(pg_catalog.=) r.company_id"
			   "           AND w.id OPERATOR(pg_catalog.=) r.warehouse_id), 0)"
			   " FROM mrp.mrp_run r WHERE id OPERATOR(pg_catalog.=) $1", 1, t1, v1);
	if (SPI_processed != 1)
		elog(ERROR, "MRP run %lld does not exist", (long long) run_id);
	company = get_int8(tt->vals[0], tt->tupdesc, 1, 0);
	bd = (int) DatumGetInt32(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &(bool){0}));
	H = (int) DatumGetInt32(SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &(bool){0}));
	warehouse_loc = get_int8(tt->vals[0], tt->tupdesc, 4, 0);

	/* items: every active product, with its planning data, BOM and supplier */
	v1[0] = Int64GetDatum(company);
	tt = query("SELECT p.id,"
			   " coalesce(pl.make_or_buy, CASE WHEN b.type = 'normal' THEN 'make' ELSE 'buy' END) = 'make',"
			   " b.type = 'phantom', b.type = 'normal', b.id,"
			   " coalesce(pl.lead_days, CASE WHEN coalesce(pl.make_or_buy, CASE WHEN b.type = 'normal' THEN 'make' ELSE 'buy' END) = 'buy'"
			   "                            THEN s.lead_days END, 0),"
			   " s.vendor_id, coalesce(pl.lot_rule, 'l4l') = 'fixed',"
			   " (coalesce(pl.lot_qty, 0) * 1000000)::bigint, (coalesce(pl.min_order, 0) * 1000000)::bigint,"
			   " (coalesce(pl.multiple, 0) * 1000000)::bigint, (u.rounding * 1000000)::bigint,"
			   " (coalesce(pl.safety_stock, 0) * 1000000)::bigint"
			   " FROM stock.product p JOIN stock.uom u ON u.code OPERATOR(pg_catalog.=) p.uom"
			   " LEFT JOIN mrp.planning pl ON pl.company_id OPERATOR(pg_catalog.=) p.company_id AND pl.product_id OPERATOR(pg_catalog.=) p.id"
			   " LEFT JOIN LATERAL mrp._bom_of(p.company_id, p.id) b ON true"
			   " LEFT JOIN LATERAL (SELECT si.vendor_id, si.lead_days FROM purchase.supplier_info si"
			   "   JOIN erp.partner v ON v.company_id OPERATOR(pg_catalog.=) si.company_id AND v.id OPERATOR(pg_catalog.=) si.vendor_id AND v.active"
			   "  WHERE si.company_id OPERATOR(pg_catalog.=) p.company_id AND si.product_id OPERATOR(pg_catalog.=) p.id AND si.active"
			   "  ORDER BY si.price, si.lead_days, si.id LIMIT 1) s ON true"
			   " WHERE p.company_id OPERATOR(pg_catalog.=) $1 AND p.active ORDER BY p.id", 1, t1, v1);
	nitems = (int) SPI_processed;
	items = palloc0(sizeof(PlanItem) * Max(nitems, 1));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(ItemSlot);
	ctl.hcxt = CurrentMemoryContext;
	index_htab = hash_create("pgerp mrp items", Max(nitems, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < nitems; i++)
	{
		HeapTuple	t = tt->vals[i];
		TupleDesc	d = tt->tupdesc;
		PlanItem	   *it = &items[i];
		bool		isnull;
		ItemSlot	   *e;

		it->product_id = get_int8(t, d, 1, 0);
		it->make = DatumGetBool(SPI_getbinval(t, d, 2, &isnull));
		it->phantom = !isnull && DatumGetBool(SPI_getbinval(t, d, 3, &isnull)) && !isnull;
		it->has_bom = DatumGetBool(SPI_getbinval(t, d, 4, &isnull)) && !isnull;
		it->bom_id = get_int8(t, d, 5, 0);
		it->lead_days = DatumGetInt32(SPI_getbinval(t, d, 6, &isnull));
		it->vendor_id = get_int8(t, d, 7, 0);
		it->rule.fixed = DatumGetBool(SPI_getbinval(t, d, 8, &isnull));
		it->rule.lot_qty = get_int8(t, d, 9, 0);
		it->rule.min_order = get_int8(t, d, 10, 0);
		it->rule.multiple = get_int8(t, d, 11, 0);
		it->rule.rounding = get_int8(t, d, 12, 1);
		it->rule.safety = get_int8(t, d, 13, 0);
		it->gross = palloc0(sizeof(MrpQty) * H);
		it->sched = palloc0(sizeof(MrpQty) * H);
		e = hash_search(index_htab, &it->product_id, HASH_ENTER, NULL);
		e->item = i;
	}

	/* BOM lines of every first active BOM: factor = qty x (100 + scrap) / 100 / batch */
	tt = query("SELECT b.product_id, bl.product_id, (bl.qty * 1000000)::bigint, ((100 + bl.scrap_pct) * 10000)::bigint,"
			   " (b.qty * 1000000)::bigint"
			   " FROM stock.product p CROSS JOIN LATERAL mrp._bom_of(p.company_id, p.id) b"
			   " JOIN mrp.bom_line bl ON bl.company_id OPERATOR(pg_catalog.=) b.company_id AND bl.bom_id OPERATOR(pg_catalog.=) b.id"
			   " WHERE p.company_id OPERATOR(pg_catalog.=) $1 AND p.active", 1, t1, v1);
	{
		/* raw edges first (kits included), then the effective ones */
		Edge	  **raw = palloc0(sizeof(Edge *) * Max(nitems, 1));

		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = tt->vals[i];
			int			p = item_of(get_int8(t, tt->tupdesc, 1, 0));
			int			c = item_of(get_int8(t, tt->tupdesc, 2, 0));
			MrpFactor	f1 = {get_int8(t, tt->tupdesc, 3, 0), 1};
			MrpFactor	f2 = {get_int8(t, tt->tupdesc, 4, 0), MRP_SCALE * get_int8(t, tt->tupdesc, 5, 1)};
			Edge	   *e;

			if (p < 0 || c < 0)
				continue;		/* an inactive component is not planned */
			e = palloc(sizeof(Edge));
			e->child = c;
			check(MrpFactorMul(f1, f2, &e->factor));
			e->next = raw[p];
			raw[p] = e;
		}
		for (int i = 0; i < nitems; i++)
			if (items[i].phantom)
				items[i].edges = raw[i];	/* kits keep their raw lines for expansion */
		for (int i = 0; i < nitems; i++)
		{
			if (items[i].phantom || !items[i].has_bom || !items[i].make)
				continue;
			for (Edge *e = raw[i]; e != NULL; e = e->next)
				add_edge(&items[i], e->child, e->factor, 0);
		}
	}

	/* on hand in the company's internal locations (or the warehouse's) */
	{
		Oid			t2[2] = {INT8OID, INT8OID};
		Datum		v2[2] = {Int64GetDatum(company), Int64GetDatum(warehouse_loc)};

		tt = query("SELECT q.product_id, (sum(q.quantity) * 1000000)::bigint FROM stock.quant q"
				   " JOIN stock.location l ON l.company_id OPERATOR(pg_catalog.=) q.company_id AND l.id OPERATOR(pg_catalog.=) q.location_id"
				   " WHERE q.company_id OPERATOR(pg_catalog.=) $1 AND l.usage = 'internal'"
				   "   AND ($2 OPERATOR(pg_catalog.=) 0 OR l.id OPERATOR(pg_catalog.=) $2)"
				   " GROUP BY q.product_id", 2, t2, v2);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			int			it = item_of(get_int8(tt->vals[i], tt->tupdesc, 1, 0));

			if (it >= 0)
				items[it].on_hand = get_int8(tt->vals[i], tt->tupdesc, 2, 0);
		}

		/* moves in (scheduled receipts) and out (gross requirements), and demand */
		{
			Oid			t3[3] = {INT8OID, INT8OID, INT8OID};
			Datum		v3[3] = {Int64GetDatum(company), Int64GetDatum(warehouse_loc), Int64GetDatum(run_id)};

			tt = query("WITH r AS (SELECT start_date, CASE bucket WHEN 'week' THEN 7 ELSE 1 END AS bd, horizon FROM mrp.mrp_run"
					   "            WHERE id OPERATOR(pg_catalog.=) $3)"
					   " SELECT x.product_id, greatest(0, floor((x.day - r.start_date)::numeric / r.bd))::int AS bucket,"
					   "        (x.qty * 1000000)::bigint, x.incoming, x.ref"
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
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				HeapTuple	t = tt->vals[i];
				bool		isnull;
				int			it = item_of(get_int8(t, tt->tupdesc, 1, 0));
				int			b = DatumGetInt32(SPI_getbinval(t, tt->tupdesc, 2, &isnull));
				MrpQty		q = get_int8(t, tt->tupdesc, 3, 0);
				bool		incoming = DatumGetBool(SPI_getbinval(t, tt->tupdesc, 4, &isnull));

				if (it < 0 || b >= H)
					continue;
				if (incoming)
					items[it].sched[b] += q;
				else
				{
					items[it].gross[b] += q;
					add_source(&items[it], b, q, SPI_getvalue(t, tt->tupdesc, 5), -1);
				}
			}
		}
	}

	/*
	 * Demand on a kit itself (a sale of the kit) goes straight to its
	 * components, nested kits included, in the same bucket.
	 */
	for (int i = 0; i < nitems; i++)
	{
		PlanItem   *k = &items[i];
		PlanItem	tmp;

		if (!k->phantom)
			continue;
		memset(&tmp, 0, sizeof(tmp));
		for (Edge *e = k->edges; e != NULL; e = e->next)
			add_edge(&tmp, e->child, e->factor, 0);
		for (Source *s = k->sources; s != NULL; s = s->next)
			for (Edge *e = tmp.edges; e != NULL; e = e->next)
			{
				MrpQty		need;

				check(MrpApplyFactor(s->qty, e->factor, &need));
				items[e->child].gross[s->bucket] += need;
				add_source(&items[e->child], s->bucket, need, s->ref, -1);
			}
	}

	/* low-level codes: Kahn's order over the effective edges */
	order_of = palloc(sizeof(int) * Max(nitems, 1));
	for (int i = 0; i < nitems; i++)
		for (Edge *e = items[i].phantom ? NULL : items[i].edges; e != NULL; e = e->next)
			items[e->child].indegree++;
	for (int i = 0; i < nitems; i++)
		if (items[i].indegree == 0)
			order_of[tail++] = i;
	while (head < tail)
	{
		PlanItem	   *p = &items[order_of[head++]];

		if (p->phantom)
			continue;
		for (Edge *e = p->edges; e != NULL; e = e->next)
		{
			PlanItem	   *c = &items[e->child];

			c->llc = Max(c->llc, p->llc + 1);
			maxllc = Max(maxllc, c->llc);
			if (--c->indegree == 0)
				order_of[tail++] = e->child;
		}
	}
	if (tail < nitems)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_RECURSION),
				 errmsg("the bills of materials of company %lld contain a cycle", (long long) company)));

	/* plan, item by item in that order; results into arrays */
	{
		MrpQty	   *proj = palloc(sizeof(MrpQty) * H);
		MrpQty	   *net = palloc(sizeof(MrpQty) * H);
		MrpQty	   *rec = palloc(sizeof(MrpQty) * H);
		MrpQty	   *rel = palloc(sizeof(MrpQty) * H);
		/* plan_record rows */
		int			cap = 1024,
					n = 0;
		int64	   *r_prod = palloc(sizeof(int64) * cap),
				   *r_gross = palloc(sizeof(int64) * cap),
				   *r_sched = palloc(sizeof(int64) * cap),
				   *r_proj = palloc(sizeof(int64) * cap),
				   *r_net = palloc(sizeof(int64) * cap),
				   *r_rec = palloc(sizeof(int64) * cap),
				   *r_rel = palloc(sizeof(int64) * cap);
		int		   *r_bucket = palloc(sizeof(int) * cap);
		/* messages */
		int			mcap = 256,
					mn = 0;
		int64	   *m_prod = palloc(sizeof(int64) * mcap);
		char	  **m_kind = palloc(sizeof(char *) * mcap);
		char	  **m_detail = palloc(sizeof(char *) * mcap);
		int			level = -1;

#define MESSAGE(prod, kind, ...) do { \
			if (mn == mcap) { mcap *= 2; m_prod = repalloc(m_prod, sizeof(int64) * mcap); \
				m_kind = repalloc(m_kind, sizeof(char *) * mcap); m_detail = repalloc(m_detail, sizeof(char *) * mcap); } \
			m_prod[mn] = (prod); m_kind[mn] = (kind); m_detail[mn] = psprintf(__VA_ARGS__); mn++; } while (0)

		for (int k = 0; k < nitems; k++)
		{
			PlanItem	   *it = &items[order_of[k]];
			int			lt = (it->lead_days + bd - 1) / bd;
			bool		any = false;
			MrpQty		total_sched = 0;

			if (it->phantom)
				continue;
			if (it->llc != level && JobsCurrentJobId() != 0)
			{
				level = it->llc;
				JobsSetProgress((double) k / Max(nitems, 1), psprintf("low-level code %d of %d", level, maxllc));
			}
			check(MrpNetItem(&it->rule, it->on_hand, H, it->gross, it->sched, proj, net, rec));
			memset(rel, 0, sizeof(MrpQty) * H);
			for (int b = 0; b < H; b++)
			{
				int			r;

				total_sched += it->sched[b];
				if (rec[b] == 0)
					continue;
				r = b - lt;
				if (norders == maxorders)
				{
					maxorders = maxorders ? maxorders * 2 : 1024;
					orders = orders ? repalloc(orders, sizeof(Order) * maxorders) : palloc(sizeof(Order) * maxorders);
				}
				orders[norders].item = order_of[k];
				orders[norders].qty = rec[b];
				orders[norders].due_bucket = b;
				orders[norders].release_bucket = r;
				rel[Max(r, 0)] += rec[b];
				/* the components' gross requirements, at the release */
				for (Edge *e = it->edges; it->make && e != NULL; e = e->next)
				{
					MrpQty		need;

					check(MrpApplyFactor(rec[b], e->factor, &need));
					items[e->child].gross[Max(r, 0)] += need;
					add_source(&items[e->child], Max(r, 0), need, NULL, norders);
				}
				norders++;
				if (r < 0)
					MESSAGE(it->product_id, "past_due", "A planned order due in bucket %d should have been released %d bucket(s) before the start.", b + 1, -r);
				/* a later scheduled receipt could cover this need if expedited */
				for (int b2 = b + 1; b2 < H; b2++)
					if (it->sched[b2] > 0)
					{
						MESSAGE(it->product_id, "expedite", "A scheduled receipt in bucket %d is needed in bucket %d.", b2 + 1, b + 1);
						break;
					}
			}
			if (it->make && !it->has_bom && norders > 0 && orders[norders - 1].item == order_of[k])
				MESSAGE(it->product_id, "no_bom", "The item is made but has no bill of materials; its components are not planned.");
			if (!it->make && it->vendor_id == 0 && norders > 0 && orders[norders - 1].item == order_of[k])
				MESSAGE(it->product_id, "no_supplier", "The item is bought but has no active supplier.");
			if (total_sched > 0)
			{
				/* not needed: without them the projection never falls below safety stock */
				MrpQty		cum = 0;
				bool		needed = false;

				for (int b = 0; b < H && !needed; b++)
				{
					cum += it->sched[b];
					needed = proj[b] - cum < it->rule.safety;
				}
				if (!needed)
					MESSAGE(it->product_id, "cancel", "The scheduled receipts (%s) are not needed within the horizon.",
							psprintf(INT64_FORMAT, total_sched / MRP_SCALE));
			}
			for (int b = 0; b < H; b++)
			{
				if (it->gross[b] == 0 && it->sched[b] == 0 && rec[b] == 0 && rel[b] == 0 && !(b == 0 && !any && it->on_hand != 0))
					continue;
				any = true;
				if (n == cap)
				{
					cap *= 2;
					r_prod = repalloc(r_prod, sizeof(int64) * cap);
					r_gross = repalloc(r_gross, sizeof(int64) * cap);
					r_sched = repalloc(r_sched, sizeof(int64) * cap);
					r_proj = repalloc(r_proj, sizeof(int64) * cap);
					r_net = repalloc(r_net, sizeof(int64) * cap);
					r_rec = repalloc(r_rec, sizeof(int64) * cap);
					r_rel = repalloc(r_rel, sizeof(int64) * cap);
					r_bucket = repalloc(r_bucket, sizeof(int) * cap);
				}
				r_prod[n] = it->product_id;
				r_bucket[n] = b + 1;
				r_gross[n] = it->gross[b];
				r_sched[n] = it->sched[b];
				r_proj[n] = proj[b];
				r_net[n] = net[b];
				r_rec[n] = rec[b];
				r_rel[n] = rel[b];
				n++;
			}
		}

		/* planned orders: ids taken from the sequence in one statement */
		{
			int64	   *ids = palloc(sizeof(int64) * Max(norders, 1));
			int64	   *prod = palloc(sizeof(int64) * Max(norders, 1));
			int64	   *qty = palloc(sizeof(int64) * Max(norders, 1));
			int		   *due = palloc(sizeof(int) * Max(norders, 1));
			int		   *release = palloc(sizeof(int) * Max(norders, 1));
			int64	   *vendor = palloc(sizeof(int64) * Max(norders, 1));
			char	  **kind = palloc(sizeof(char *) * Max(norders, 1));
			Oid			ti[1] = {INT4OID};
			Datum		vi[1] = {Int32GetDatum(norders)};

			tt = query("SELECT pg_catalog.nextval('mrp.planned_order_id_seq') FROM pg_catalog.generate_series(1, $1) ORDER BY 1",
					   1, ti, vi);
			for (int i = 0; i < norders; i++)
			{
				PlanItem	   *it = &items[orders[i].item];

				ids[i] = get_int8(tt->vals[i], tt->tupdesc, 1, 0);
				prod[i] = it->product_id;
				qty[i] = orders[i].qty;
				due[i] = orders[i].due_bucket;
				release[i] = orders[i].release_bucket;
				vendor[i] = it->make ? 0 : it->vendor_id;
				kind[i] = it->make ? "make" : "buy";
			}
			{
				Oid			t[8] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
				INT8ARRAYOID, TEXTARRAYOID};
				Datum		v[8] = {Int64GetDatum(run_id), int8_array(ids, norders), int8_array(prod, norders),
					int8_array(qty, norders), int4_array(due, norders), int4_array(release, norders),
				int8_array(vendor, norders), text_array(kind, norders)};

				write_rows("INSERT INTO mrp.planned_order (company_id, id, run_id, product_id, qty, due_date, release_date, past_due,"
						   "                              vendor_id, kind)"
						   " SELECT r.company_id, x.id, r.id, x.product_id, pg_catalog.trim_scale(x.qty::numeric / 1000000),"
						   "        r.start_date + x.due * r.bd,"
						   "        r.start_date + x.release * r.bd,"
						   "        x.release < 0, NULLIF(x.vendor, 0), x.kind"
						   " FROM (SELECT company_id, id, start_date, CASE bucket WHEN 'week' THEN 7 ELSE 1 END AS bd FROM mrp.mrp_run"
						   "        WHERE id OPERATOR(pg_catalog.=) $1) r,"
						   "      unnest($2, $3, $4, $5, $6, $7, $8) x(id, product_id, qty, due, release, vendor, kind)",
						   8, t, v);
			}

			/* pegging: each planned order covers the requirements of its due bucket, in order */
			{
				int			pcap = 1024,
							pn = 0;
				int64	   *p_order = palloc(sizeof(int64) * pcap);
				int64	   *p_qty = palloc(sizeof(int64) * pcap);
				char	  **p_ref = palloc(sizeof(char *) * pcap);
				int			i = 0;

				while (i < norders)
				{
					PlanItem	   *it = &items[orders[i].item];
					int			first = i;

					/* the orders of one item are consecutive */
					while (i < norders && orders[i].item == orders[first].item)
					{
						MrpQty		left = orders[i].qty;

						for (Source *s = it->sources; s != NULL && left > 0; s = s->next)
						{
							MrpQty		take;

							if (s->bucket != orders[i].due_bucket || s->qty <= 0)
								continue;
							take = Min(left, s->qty);
							if (pn == pcap)
							{
								pcap *= 2;
								p_order = repalloc(p_order, sizeof(int64) * pcap);
								p_qty = repalloc(p_qty, sizeof(int64) * pcap);
								p_ref = repalloc(p_ref, sizeof(char *) * pcap);
							}
							p_order[pn] = ids[i];
							p_qty[pn] = take;
							p_ref[pn] = s->ref ? s->ref : psprintf("planned order %lld", (long long) ids[s->order]);
							pn++;
							s->qty -= take;
							left -= take;
						}
						i++;
					}
				}
				{
					Oid			t[4] = {INT8OID, INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
					Datum		v[4] = {Int64GetDatum(run_id), int8_array(p_order, pn), text_array(p_ref, pn), int8_array(p_qty, pn)};

					write_rows("INSERT INTO mrp.pegging (company_id, run_id, planned_order_id, demand_ref, qty)"
							   " SELECT r.company_id, r.id, x.o, x.ref, pg_catalog.trim_scale(x.q::numeric / 1000000)"
							   " FROM mrp.mrp_run r, unnest($2, $3, $4) x(o, ref, q) WHERE r.id OPERATOR(pg_catalog.=) $1",
							   4, t, v);
				}
			}
		}

		/* the MRP table and the exceptions */
		{
			Oid			t[9] = {INT8OID, INT8ARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
			INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
			Datum		v[9] = {Int64GetDatum(run_id), int8_array(r_prod, n), int4_array(r_bucket, n), int8_array(r_gross, n),
				int8_array(r_sched, n), int8_array(r_proj, n), int8_array(r_net, n), int8_array(r_rec, n),
			int8_array(r_rel, n)};

			write_rows("INSERT INTO mrp.plan_record (company_id, run_id, product_id, bucket, bucket_start, gross, scheduled,"
					   "                            projected, net, planned_receipt, planned_release)"
					   " SELECT r.company_id, r.id, x.p, x.b, r.start_date + (x.b - 1) * r.bd,"
					   "        pg_catalog.trim_scale(x.g::numeric / 1000000), pg_catalog.trim_scale(x.s::numeric / 1000000),"
					   "        pg_catalog.trim_scale(x.j::numeric / 1000000), pg_catalog.trim_scale(x.n::numeric / 1000000),"
					   "        pg_catalog.trim_scale(x.rc::numeric / 1000000), pg_catalog.trim_scale(x.rl::numeric / 1000000)"
					   " FROM (SELECT company_id, id, start_date, CASE bucket WHEN 'week' THEN 7 ELSE 1 END AS bd FROM mrp.mrp_run"
					   "        WHERE id OPERATOR(pg_catalog.=) $1) r,"
					   "      unnest($2, $3, $4, $5, $6, $7, $8, $9) x(p, b, g, s, j, n, rc, rl)", 9, t, v);
		}
		{
			Oid			t[4] = {INT8OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
			Datum		v[4] = {Int64GetDatum(run_id), int8_array(m_prod, mn), text_array(m_kind, mn), text_array(m_detail, mn)};

			write_rows("INSERT INTO mrp.run_message (company_id, run_id, product_id, kind, detail)"
					   " SELECT r.company_id, r.id, x.p, x.k, x.d FROM mrp.mrp_run r, unnest($2, $3, $4) x(p, k, d)"
					   " WHERE r.id OPERATOR(pg_catalog.=) $1", 4, t, v);
		}
	}
	SPI_finish();
	PG_RETURN_INT32(norders);
}

