/*
 * stock.valuation_report(company, at) (#16.3, docs/valuation.md "Period
 * snapshots"): per product of the company, in sku order, the quantity and
 * value of its layers dated up to `at`, and the unit cost.
 *
 * With snapshots, T is the latest period end at or before `at` that the
 * company has snapshots of, and a product's figures are its snapshot at T
 * plus its layers dated in [T, at]; a product without a snapshot at T (never
 * snapshotted, or stale) reads its latest earlier snapshot and the layers from
 * its end to T. Without any snapshot: every layer up to `at`.
 *
 * In C rather than one SQL statement (docs/benchmarks.md, "Past-date
 * valuation report"): each input is read once (the products in sku order,
 * the period's snapshots, the layers after T), filed under the product's
 * line (an array by id), and each line is written straight into the
 * function's result.
 *
 * The three scans read the indexes directly (#16 point 3: the executor of
 * three SPI statements was 40% of the report) when that decides exactly what
 * the statements would: the caller holds SELECT on the table, and its row
 * security is nothing but the pack's company policy (erp.company_allowed on
 * company_id, erp.protect()), which for rows of one company is one answer,
 * asked once here. Any other policy (a record rule), a column-level grant,
 * row_security = off or a serializable transaction: the statements run
 * through SPI as the caller, as before. A hidden company reads as empty
 * either way.
 *
 * Sums and unit costs: exact decimal arithmetic on int64 (value * 10^-scale,
 * scale the numeric's dscale) when the figures fit, else numeric_add,
 * numeric_div and numeric_round; the fast path reproduces their results
 * value for value and scale for scale (numeric_add's scale is the larger
 * one; numeric_div rounds to select_div_scale()'s scale, numeric_round then
 * to the price precision, both half away from zero), and writes the numerics
 * in the format make_result() gives.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "nodes/primnodes.h"
#include "nodes/tidbitmap.h"
#include "rewrite/rowsecurity.h"
#include "storage/bufmgr.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "decimal.h"

PG_FUNCTION_INFO_V1(pgerp_valuation_report);

/* A line of the report, in sku order: the product, its sums (snapshot or slow path's base, plus the layers in [T, at]). */
typedef struct ReportLine
{
	int64		id;
	Datum		sku;
	bool		has_base;
	DecSum	qty;
	DecSum	value;
} ReportLine;

/* What the scans fill, in the report's own memory context. */
typedef struct ReportState
{
	MemoryContext cxt;
	ReportLine *lines;
	int64		nlines;
	int64		maxlines;
	int64		min_id;
	int64		max_id;
	int32	   *direct;			/* line + 1 by id - min_id, or NULL */
	struct IdLine *sorted;		/* when direct is NULL: (id, line) by id */
	char	   *arena;			/* the skus, copied end to end */
	Size		arena_used;
	Size		arena_size;
} ReportState;

/* ------------------------------------------------------------------ lines */

static void
add_product(ReportState *st, int64 id, Datum sku)
{
	struct varlena *s = (struct varlena *) DatumGetPointer(sku);
	Size		len;
	ReportLine *l;

	if (st->nlines == st->maxlines)
	{
		st->maxlines *= 2;
		st->lines = repalloc_huge(st->lines, st->maxlines * sizeof(ReportLine));
	}
	l = &st->lines[st->nlines++];
	memset(l, 0, sizeof(*l));
	l->id = id;
	if (VARATT_IS_EXTENDED(s) && !VARATT_IS_SHORT(s))
		s = pg_detoast_datum_packed(s);
	len = VARSIZE_ANY(s);
	if (!VARATT_IS_SHORT(s))
		st->arena_used = INTALIGN(st->arena_used);
	if (st->arena_used + len > st->arena_size)
	{
		st->arena_size = Max(st->arena_size, 64 * 1024);
		st->arena = MemoryContextAlloc(st->cxt, st->arena_size);
		st->arena_used = 0;
	}
	memcpy(st->arena + st->arena_used, s, len);
	l->sku = PointerGetDatum(st->arena + st->arena_used);
	st->arena_used += len;
	if (st->nlines == 1 || id < st->min_id)
		st->min_id = id;
	if (st->nlines == 1 || id > st->max_id)
		st->max_id = id;
}

/* id -> line: a direct array (ids are one sequence shared by the companies: at most 4 slots a product), else a sorted copy searched */
typedef struct IdLine
{
	int64		id;
	int32		line;
} IdLine;

static int
idline_cmp(const void *a, const void *b)
{
	int64		x = ((const IdLine *) a)->id;
	int64		y = ((const IdLine *) b)->id;

	return x < y ? -1 : x > y ? 1 : 0;
}

static void
index_lines(ReportState *st)
{
	int64		i;

	if (st->nlines == 0)
		return;
	if ((uint64) (st->max_id - st->min_id) < (uint64) st->nlines * 4 + 1024)
	{
		st->direct = MemoryContextAllocHuge(st->cxt, (st->max_id - st->min_id + 1) * sizeof(int32));
		memset(st->direct, 0, (st->max_id - st->min_id + 1) * sizeof(int32));
		for (i = 0; i < st->nlines; i++)
			st->direct[st->lines[i].id - st->min_id] = (int32) (i + 1);
		return;
	}
	st->sorted = MemoryContextAllocHuge(st->cxt, st->nlines * sizeof(IdLine));
	for (i = 0; i < st->nlines; i++)
	{
		st->sorted[i].id = st->lines[i].id;
		st->sorted[i].line = (int32) i;
	}
	qsort(st->sorted, st->nlines, sizeof(IdLine), idline_cmp);
}

/* the line of a product, NULL if it is not one of the report's (a product the caller may not read) */
static inline ReportLine *
line_of(ReportState *st, int64 id)
{
	if (st->direct != NULL)
	{
		int32		k;

		if (id < st->min_id || id > st->max_id)
			return NULL;
		k = st->direct[id - st->min_id];
		return k == 0 ? NULL : &st->lines[k - 1];
	}
	if (st->sorted != NULL)
	{
		IdLine		key = {id, 0};
		IdLine	   *e = bsearch(&key, st->sorted, st->nlines, sizeof(IdLine), idline_cmp);

		return e == NULL ? NULL : &st->lines[e->line];
	}
	return NULL;
}

/* a base (the period's snapshot, or the slow path's sum before T) of a product */
static inline void
add_base(ReportState *st, int64 id, Datum qty, Datum value)
{
	ReportLine *l = line_of(st, id);

	if (l == NULL)
		return;
	l->has_base = true;
	DecSumAdd(&l->qty, qty);
	DecSumAdd(&l->value, value);
}

/* a layer in [T, at] of a product (cheaper than sum() grouped in SQL, most products having one or two) */
static inline void
add_layer(ReportState *st, int64 id, Datum qty, Datum value)
{
	ReportLine *l = line_of(st, id);

	if (l == NULL)
		return;
	DecSumAdd(&l->qty, qty);
	DecSumAdd(&l->value, value);
}

/* ------------------------------------------------------------------ through SPI */

/* A DestReceiver that hands each row to a callback (no copy of the result set through SPI_tuptable). */
typedef struct ReportReceiver
{
	DestReceiver pub;
	void		(*row) (TupleTableSlot *slot, ReportState *st);
	ReportState *st;
} ReportReceiver;

static bool
receiver_slot(TupleTableSlot *slot, DestReceiver *self)
{
	ReportReceiver *r = (ReportReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->st->cxt);

	slot_getallattrs(slot);
	r->row(slot, r->st);
	MemoryContextSwitchTo(old);
	return true;
}

static void
receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
receiver_noop(DestReceiver *self)
{
}

static void
receiver_init(ReportReceiver *r, void (*row) (TupleTableSlot *slot, ReportState *st), ReportState *st)
{
	memset(r, 0, sizeof(*r));
	r->pub.receiveSlot = receiver_slot;
	r->pub.rStartup = receiver_startup;
	r->pub.rShutdown = receiver_noop;
	r->pub.rDestroy = receiver_noop;
	r->pub.mydest = DestNone;
	r->row = row;
	r->st = st;
}

/*
 * Run one read-only statement as the caller, planned with its parameters'
 * values known (a plan of its own, not kept: the range of layers read depends
 * on the dates), its rows going to dest.
 */
static void
report_run(const char *sql, int nargs, Oid *types, Datum *values, bool *nulls, DestReceiver *dest)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);
	ParamListInfo params;
	SPIExecuteOptions opt;
	int			rc;
	int			i;

	if (plan == NULL)
		elog(ERROR, "valuation report: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	params = makeParamList(nargs);
	for (i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls[i];
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = types[i];
	}
	memset(&opt, 0, sizeof(opt));
	opt.params = params;
	opt.read_only = true;
	opt.dest = dest;
	rc = SPI_execute_plan_extended(plan, &opt);
	/* a SELECT into a receiver of type DestNone reports SPI_OK_UTILITY */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "valuation report: statement failed: %s", SPI_result_code_string(rc));
	SPI_freeplan(plan);
}

/* One value of a one-row, one-column statement (isnull when no row or null). */
static Datum
report_value(const char *sql, int nargs, Oid *types, Datum *values, bool *nulls, bool *isnull)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);
	char		cnulls[3];
	int			rc;
	int			i;
	Datum		d;

	if (plan == NULL)
		elog(ERROR, "valuation report: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	for (i = 0; i < nargs; i++)
		cnulls[i] = nulls[i] ? 'n' : ' ';
	rc = SPI_execute_plan(plan, values, cnulls, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "valuation report: statement failed: %s", SPI_result_code_string(rc));
	*isnull = true;
	d = (Datum) 0;
	if (SPI_processed > 0)
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	SPI_freeplan(plan);
	return d;
}

/* the products in sku order: id, sku */
static void
row_product(TupleTableSlot *slot, ReportState *st)
{
	add_product(st, DatumGetInt64(slot->tts_values[0]), slot->tts_values[1]);
}

/* the period's snapshots, and the slow path's base of the products without one: product_id, qty, value */
static void
row_base(TupleTableSlot *slot, ReportState *st)
{
	add_base(st, DatumGetInt64(slot->tts_values[0]), slot->tts_values[1], slot->tts_values[2]);
}

/* the layers in [T, at]: product_id, quantity, value */
static void
row_recent(TupleTableSlot *slot, ReportState *st)
{
	add_layer(st, DatumGetInt64(slot->tts_values[0]), slot->tts_values[1], slot->tts_values[2]);
}

/* ------------------------------------------------------------------ direct scans */

/* The relations of the direct path, and the attribute numbers read. */
typedef struct ReportRels
{
	Oid			product;
	Oid			product_sku_idx;	/* (company_id, sku) INCLUDE (id) */
	Oid			snapshot;
	Oid			snapshot_pkey;	/* (company_id, period_end, product_id) INCLUDE (qty, value) */
	Oid			layer;
	Oid			layer_date_idx; /* (company_id, created_at) */
	Oid			snapshot_product_idx;	/* (company_id, product_id, period_end) */
	Oid			layer_product_idx;	/* (company_id, product_id, created_at) */
	AttrNumber	snapshot_qty;
	AttrNumber	snapshot_value;
	AttrNumber	snapshot_end;
	AttrNumber	layer_company;
	AttrNumber	layer_date;
	AttrNumber	layer_product;
	AttrNumber	layer_qty;
	AttrNumber	layer_value;
} ReportRels;

/* Is index a valid plain btree index of rel on exactly these columns (by name)? */
static bool
index_is(Oid indexid, Oid relid, int nkeys, const char *const *cols, int ncols)
{
	Relation	index;
	bool		ok;
	int			i;

	if (!OidIsValid(indexid))
		return false;
	index = index_open(indexid, AccessShareLock);
	ok = index->rd_rel->relam == BTREE_AM_OID && index->rd_index->indrelid == relid &&
		index->rd_index->indisvalid && index->rd_index->indnatts == ncols &&
		index->rd_index->indnkeyatts == nkeys &&
		RelationGetIndexExpressions(index) == NIL && RelationGetIndexPredicate(index) == NIL;
	for (i = 0; ok && i < ncols; i++)
		ok = index->rd_index->indkey.values[i] == get_attnum(relid, cols[i]);
	index_close(index, NoLock);
	return ok;
}

/* The relations by name in schema stock, false if any is not as expected (then SPI decides). */
static bool
report_rels(ReportRels *r)
{
	static const char *const sku_cols[] = {"company_id", "sku", "id"};
	static const char *const snap_cols[] = {"company_id", "period_end", "product_id", "qty", "value"};
	static const char *const date_cols[] = {"company_id", "created_at"};
	static const char *const snap_product_cols[] = {"company_id", "product_id", "period_end"};
	static const char *const layer_product_cols[] = {"company_id", "product_id", "created_at"};
	Oid			nsp = get_namespace_oid("stock", true);

	if (!OidIsValid(nsp))
		return false;
	r->product = get_relname_relid("product", nsp);
	r->product_sku_idx = get_relname_relid("product_company_id_sku_key", nsp);
	r->snapshot = get_relname_relid("valuation_snapshot", nsp);
	r->snapshot_pkey = get_relname_relid("valuation_snapshot_pkey", nsp);
	r->layer = get_relname_relid("valuation_layer", nsp);
	r->layer_date_idx = get_relname_relid("valuation_layer_company_date_idx", nsp);
	r->snapshot_product_idx = get_relname_relid("valuation_snapshot_product_idx", nsp);
	r->layer_product_idx = get_relname_relid("valuation_layer_product_date_idx", nsp);
	if (!OidIsValid(r->product) || !OidIsValid(r->snapshot) || !OidIsValid(r->layer))
		return false;
	r->layer_company = get_attnum(r->layer, "company_id");
	r->layer_date = get_attnum(r->layer, "created_at");
	r->layer_product = get_attnum(r->layer, "product_id");
	r->layer_qty = get_attnum(r->layer, "quantity");
	r->layer_value = get_attnum(r->layer, "value");
	r->snapshot_qty = get_attnum(r->snapshot, "qty");
	r->snapshot_value = get_attnum(r->snapshot, "value");
	r->snapshot_end = get_attnum(r->snapshot, "period_end");
	if (r->layer_company == InvalidAttrNumber || r->layer_date == InvalidAttrNumber ||
		r->layer_product == InvalidAttrNumber || r->layer_qty == InvalidAttrNumber ||
		r->layer_value == InvalidAttrNumber || r->snapshot_qty == InvalidAttrNumber ||
		r->snapshot_value == InvalidAttrNumber || r->snapshot_end == InvalidAttrNumber)
		return false;
	return index_is(r->product_sku_idx, r->product, 2, sku_cols, 3) &&
		index_is(r->snapshot_pkey, r->snapshot, 3, snap_cols, 5) &&
		index_is(r->layer_date_idx, r->layer, 2, date_cols, 2) &&
		index_is(r->snapshot_product_idx, r->snapshot, 3, snap_product_cols, 3) &&
		index_is(r->layer_product_idx, r->layer, 3, layer_product_cols, 3);
}

/*
 * May the caller's rows of rel for company be read directly, and which:
 * *visible is whether the company's rows pass the caller's row security.
 * True only when that is one answer for all of them: SELECT on the table,
 * and row security off for the caller or made of permissive policies for
 * everyone of the form erp.company_allowed(company_id, '<code>') (what
 * erp.protect() writes), evaluated here for the company.
 */
static bool
direct_readable(Oid relid, Datum company, bool *visible)
{
	Relation	rel;
	ListCell   *lc;
	bool		ok = true;
	AttrNumber	company_att = get_attnum(relid, "company_id");

	*visible = true;
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return false;			/* SPI raises what it raises (or reads granted columns) */
	switch (check_enable_rls(relid, InvalidOid, true))
	{
		case RLS_NONE:
		case RLS_NONE_ENV:
			return true;
		case RLS_ENABLED:
			break;
		default:
			return false;
	}
	if (!row_security || row_security_policy_hook_permissive != NULL ||
		row_security_policy_hook_restrictive != NULL)
		return false;
	rel = table_open(relid, AccessShareLock);
	*visible = false;			/* no permissive policy: nothing visible */
	if (rel->rd_rsdesc != NULL)
	{
		foreach(lc, rel->rd_rsdesc->policies)
		{
			RowSecurityPolicy *p = (RowSecurityPolicy *) lfirst(lc);
			FuncExpr   *f = (FuncExpr *) p->qual;
			Var		   *v;
			Const	   *c;
			char	   *fname;
			char	   *fnsp;

			if (p->polcmd != '*' && p->polcmd != ACL_SELECT_CHR)
				continue;		/* not applied to a SELECT */
			ok = p->permissive && p->roles != NULL && ARR_NDIM(p->roles) == 1 &&
				ARR_DIMS(p->roles)[0] == 1 && !ARR_HASNULL(p->roles) &&
				((Oid *) ((char *) p->roles + ARR_OVERHEAD_NONULLS(1)))[0] == ACL_ID_PUBLIC &&
				f != NULL && IsA(f, FuncExpr) && list_length(f->args) == 2 &&
				IsA(linitial(f->args), Var) && IsA(lsecond(f->args), Const);
			if (!ok)
				break;
			v = (Var *) linitial(f->args);
			c = (Const *) lsecond(f->args);
			fname = get_func_name(f->funcid);
			fnsp = get_namespace_name(get_func_namespace(f->funcid));
			ok = v->varattno == company_att && v->varlevelsup == 0 && c->consttype == TEXTOID &&
				!c->constisnull && fname != NULL && fnsp != NULL &&
				strcmp(fname, "company_allowed") == 0 && strcmp(fnsp, "erp") == 0;
			if (!ok)
				break;
			if (!*visible &&
				DatumGetBool(OidFunctionCall2Coll(f->funcid, InvalidOid, company, c->constvalue)))
				*visible = true;
		}
	}
	table_close(rel, NoLock);
	return ok;
}

/*
 * An index-only scan of index (of heap) from its first `nkeys` keys, each
 * visible tuple's index columns handed to row: the visibility map, else the
 * heap tuple decides (as nodeIndexonlyscan.c).
 */
static void
scan_index_only(Oid heapid, Oid indexid, ScanKey keys, int nkeys, ReportState *st,
				void (*row) (ReportState *st, IndexTuple itup, TupleDesc desc))
{
	Relation	heap = table_open(heapid, AccessShareLock);
	Relation	index = index_open(indexid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexScanDesc scan = index_beginscan(heap, index, GetActiveSnapshot(), nkeys, 0);
	Buffer		vmbuffer = InvalidBuffer;
	ItemPointer tid;

	scan->xs_want_itup = true;
	index_rescan(scan, keys, nkeys, NULL, 0);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (!VM_ALL_VISIBLE(heap, ItemPointerGetBlockNumber(tid), &vmbuffer))
		{
			if (!index_fetch_heap(scan, slot))
				continue;
			ExecClearTuple(slot);
		}
		row(st, scan->xs_itup, scan->xs_itupdesc);
	}
	if (vmbuffer != InvalidBuffer)
		ReleaseBuffer(vmbuffer);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}

/* (company_id, sku, id) */
static void
itup_product(ReportState *st, IndexTuple itup, TupleDesc desc)
{
	Datum		v[3];
	bool		n[3];

	index_deform_tuple(itup, desc, v, n);
	add_product(st, DatumGetInt64(v[2]), v[1]);
}

/* (company_id, period_end, product_id, qty, value) */
static void
itup_snapshot(ReportState *st, IndexTuple itup, TupleDesc desc)
{
	Datum		v[5];
	bool		n[5];

	index_deform_tuple(itup, desc, v, n);
	add_base(st, DatumGetInt64(v[2]), v[3], v[4]);
}

/*
 * The company's layers dated in [from, at]: a bitmap of the date index's
 * entries, then the heap pages in block order (a bitmap heap scan, as the
 * planner chose for the statement: in date order the layers of one period
 * lie on pages far apart, and a fetch each would switch buffers).
 */
static void
scan_layers(ReportRels *r, Datum company, Datum from, Datum at, ReportState *st)
{
	Relation	heap = table_open(r->layer, AccessShareLock);
	Relation	index = index_open(r->layer_date_idx, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ScanKeyData keys[3];
	IndexScanDesc scan;
	TIDBitmap  *tbm = tbm_create(work_mem * 1024L, NULL);
	TBMIterator *it;
	TBMIterateResult *tbmres;
	TableScanDesc hscan;
	AttrNumber	natts = Max(Max(r->layer_product, r->layer_company),
							Max(r->layer_date, Max(r->layer_qty, r->layer_value)));

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, company);
	ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE, from);
	ScanKeyInit(&keys[2], 2, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, at);
	scan = index_beginscan_bitmap(index, GetActiveSnapshot(), 3);
	index_rescan(scan, keys, 3, NULL, 0);
	index_getbitmap(scan, tbm);
	index_endscan(scan);

	it = tbm_begin_iterate(tbm);
	hscan = table_beginscan_bm(heap, GetActiveSnapshot(), 0, NULL);
	while ((tbmres = tbm_iterate(it)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (!table_scan_bitmap_next_block(hscan, tbmres))
			continue;
		while (table_scan_bitmap_next_tuple(hscan, tbmres, slot))
		{
			slot_getsomeattrs(slot, natts);
			/* a lossy page (the bitmap outgrew work_mem): the conditions again */
			if (tbmres->recheck &&
				(DatumGetInt64(slot->tts_values[r->layer_company - 1]) != DatumGetInt64(company) ||
				 DatumGetTimestampTz(slot->tts_values[r->layer_date - 1]) < DatumGetTimestampTz(from) ||
				 DatumGetTimestampTz(slot->tts_values[r->layer_date - 1]) > DatumGetTimestampTz(at)))
				continue;
			add_layer(st, DatumGetInt64(slot->tts_values[r->layer_product - 1]),
					  slot->tts_values[r->layer_qty - 1], slot->tts_values[r->layer_value - 1]);
		}
	}
	tbm_end_iterate(it);
	table_endscan(hscan);
	tbm_free(tbm);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}

/* What the direct path decided: the relations, and which of them the caller's rows of the company are visible in. */
typedef struct ReportDirect
{
	ReportRels	r;
	bool		vis_product;
	bool		vis_snapshot;
	bool		vis_layer;
} ReportDirect;

/*
 * The direct path, if it decides what the SPI statements would: false (and
 * nothing read) when SPI must run them.
 */
static bool
report_direct(Datum company, Datum from, Datum at, ReportState *st, ReportDirect *d)
{
	ScanKeyData keys[2];

	if (IsolationIsSerializable())
		return false;			/* the executor's predicate locks */
	if (!report_rels(&d->r) ||
		!direct_readable(d->r.product, company, &d->vis_product) ||
		!direct_readable(d->r.snapshot, company, &d->vis_snapshot) ||
		!direct_readable(d->r.layer, company, &d->vis_layer))
		return false;
	if (!d->vis_product)
		return true;			/* no line */
	{
		/* room for every product of the table (only the pages used are touched): no regrowth and copy */
		Relation	rel = table_open(d->r.product, AccessShareLock);
		double		est = rel->rd_rel->reltuples;

		table_close(rel, NoLock);
		if (est > st->maxlines && est < (double) (MaxAllocHugeSize / sizeof(ReportLine) / 2))
		{
			st->maxlines = (int64) est + 1024;
			st->lines = repalloc_huge(st->lines, st->maxlines * sizeof(ReportLine));
		}
	}
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, company);
	scan_index_only(d->r.product, d->r.product_sku_idx, keys, 1, st, itup_product);
	index_lines(st);
	if (d->vis_snapshot)
	{
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, company);
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TIMESTAMPTZ_EQ, from);
		scan_index_only(d->r.snapshot, d->r.snapshot_pkey, keys, 2, st, itup_snapshot);
	}
	if (d->vis_layer)
		scan_layers(&d->r, company, from, at, st);
	return true;
}

/*
 * The slow path read directly (after report_direct): for each product
 * without a snapshot at T (never snapshotted, or stale), its latest snapshot
 * before T (a backward step of the product's snapshot index) and its layers
 * from that snapshot's end (or from the first) to before T, as slow_sql's
 * two lateral probes, here two index descents a product (a product never
 * moved finds nothing in either).
 */
static void
slow_direct(ReportDirect *d, Datum company, Datum from, ReportState *st)
{
	Relation	sheap = table_open(d->r.snapshot, AccessShareLock);
	Relation	sindex = index_open(d->r.snapshot_product_idx, AccessShareLock);
	Relation	lheap = table_open(d->r.layer, AccessShareLock);
	Relation	lindex = index_open(d->r.layer_product_idx, AccessShareLock);
	TupleTableSlot *sslot = table_slot_create(sheap, NULL);
	TupleTableSlot *lslot = table_slot_create(lheap, NULL);
	IndexScanDesc sscan = index_beginscan(sheap, sindex, GetActiveSnapshot(), 3, 0);
	IndexScanDesc lscan = index_beginscan(lheap, lindex, GetActiveSnapshot(), 4, 0);
	AttrNumber	snatts = Max(d->r.snapshot_end, Max(d->r.snapshot_qty, d->r.snapshot_value));
	AttrNumber	lnatts = Max(d->r.layer_qty, d->r.layer_value);
	int64		i;

	for (i = 0; i < st->nlines; i++)
	{
		ReportLine *l = &st->lines[i];
		ScanKeyData keys[4];

		if (l->has_base)
			continue;
		CHECK_FOR_INTERRUPTS();
		l->has_base = true;
		/* product_id = id and period_end (created_at) < T: the same keys for both indexes */
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, company);
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(l->id));
		ScanKeyInit(&keys[2], 3, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, from);
		/* the layers from the snapshot's end on, else from '-infinity' */
		ScanKeyInit(&keys[3], 3, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE, TimestampTzGetDatum(DT_NOBEGIN));
		if (d->vis_snapshot)
		{
			index_rescan(sscan, keys, 3, NULL, 0);
			if (index_getnext_slot(sscan, BackwardScanDirection, sslot))
			{
				slot_getsomeattrs(sslot, snatts);
				DecSumAdd(&l->qty, sslot->tts_values[d->r.snapshot_qty - 1]);
				DecSumAdd(&l->value, sslot->tts_values[d->r.snapshot_value - 1]);
				keys[3].sk_argument = sslot->tts_values[d->r.snapshot_end - 1];
			}
		}
		if (!d->vis_layer)
			continue;
		index_rescan(lscan, keys, 4, NULL, 0);
		while (index_getnext_slot(lscan, ForwardScanDirection, lslot))
		{
			slot_getsomeattrs(lslot, lnatts);
			DecSumAdd(&l->qty, lslot->tts_values[d->r.layer_qty - 1]);
			DecSumAdd(&l->value, lslot->tts_values[d->r.layer_value - 1]);
		}
	}
	index_endscan(lscan);
	index_endscan(sscan);
	ExecDropSingleTupleTableSlot(lslot);
	ExecDropSingleTupleTableSlot(sslot);
	index_close(lindex, NoLock);
	table_close(lheap, NoLock);
	index_close(sindex, NoLock);
	table_close(sheap, NoLock);
}

/* ------------------------------------------------------------------ the report */

/* main's query over every layer up to the date, when the company has no snapshot at or before it */
static const char *const layers_sql =
	"SELECT p.id, p.sku, coalesce(pg_catalog.sum(l.quantity), 0), coalesce(pg_catalog.sum(l.value), 0),"
	"       CASE WHEN coalesce(pg_catalog.sum(l.quantity), 0) <> 0"
	"            THEN pg_catalog.round(pg_catalog.sum(l.value) / pg_catalog.sum(l.quantity),"
	"                                  (SELECT c.price_precision FROM erp.company c WHERE c.id = $1))"
	"       END"
	"  FROM stock.product p"
	"  LEFT JOIN stock.valuation_layer l"
	"    ON l.company_id = p.company_id AND l.product_id = p.id AND ($2 IS NULL OR l.created_at <= $2)"
	" WHERE p.company_id = $1"
	" GROUP BY p.id, p.sku"
	" ORDER BY p.sku";

static const char *const from_sql =
	"SELECT pg_catalog.max(s.period_end) FROM stock.valuation_snapshot s"
	" WHERE s.company_id = $1 AND s.period_end <= coalesce($2, 'infinity')";

static const char *const precision_sql =
	"SELECT c.price_precision FROM erp.company c WHERE c.id = $1";

static const char *const snapshot_sql =
	"SELECT s.product_id, s.qty, s.value FROM stock.valuation_snapshot s"
	" WHERE s.company_id = $1 AND s.period_end = $2";

static const char *const recent_sql =
	"SELECT l.product_id, l.quantity, l.value FROM stock.valuation_layer l"
	" WHERE l.company_id = $1 AND l.created_at >= $2 AND l.created_at <= $3";

static const char *const products_sql =
	"SELECT p.id, p.sku FROM stock.product p WHERE p.company_id = $1 ORDER BY p.sku";

static const char *const slow_sql =
	"SELECT c.id, coalesce(e.qty, 0) + coalesce(g.qty, 0),"
	"       coalesce(e.value, 0) + coalesce(g.value, 0)"
	"  FROM pg_catalog.unnest($2::bigint[]) c(id)"
	"  LEFT JOIN LATERAL (SELECT e.period_end, e.qty, e.value FROM stock.valuation_snapshot e"
	"                      WHERE e.company_id = $1 AND e.product_id = c.id AND e.period_end < $3"
	"                      ORDER BY e.period_end DESC LIMIT 1) e ON true"
	"  LEFT JOIN LATERAL (SELECT pg_catalog.sum(l.quantity) AS qty, pg_catalog.sum(l.value) AS value"
	"                       FROM stock.valuation_layer l"
	"                      WHERE l.company_id = $1 AND l.product_id = c.id"
	"                        AND l.created_at >= coalesce(e.period_end, '-infinity') AND l.created_at < $3) g ON true";

/*
 * Is the result's row type the one line_tuple() writes: int8, then four
 * varlenas that may be stored short (text and numerics)?
 */
static bool
result_shape(TupleDesc desc)
{
	static const Oid types[5] = {INT8OID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID};
	int			i;

	if (desc->natts != 5)
		return false;
	for (i = 0; i < 5; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (a->attisdropped || a->atttypid != types[i])
			return false;
		if (i == 0 ? !(a->attlen == 8 && a->attbyval && a->attalign == TYPALIGN_DOUBLE)
			: !(a->attlen == -1 && a->attalign == TYPALIGN_INT && a->attstorage != TYPSTORAGE_PLAIN))
			return false;
	}
	return true;
}

/*
 * One line as a minimal tuple in buf (MAXALIGNed, size bytes), as
 * heap_form_minimal_tuple() lays it out (a null bitmap when the unit cost
 * is null, short headers where they fit, padding zeroed), without its
 * generic per-attribute work; NULL when it does not fit in buf or a datum is
 * not a plain in-line varlena (the caller forms it the generic way).
 */
static MinimalTuple
line_tuple(char *buf, Size size, Datum *values, bool *isnull)
{
	MinimalTuple tup = (MinimalTuple) buf;
	bool		hasnull = isnull[0] || isnull[1] || isnull[2] || isnull[3] || isnull[4];
	Size		hoff = MAXALIGN(SizeofMinimalTupleHeader + (hasnull ? BITMAPLEN(5) : 0));
	Size		off = hoff;
	bits8		bits = 0;
	int			i;

	if (isnull[0] || hoff + sizeof(int64) > size)
		return NULL;
	memset(buf, 0, hoff);
	/* int8, aligned: hoff is MAXALIGNed */
	memcpy(buf + off, &values[0], sizeof(int64));
	off += sizeof(int64);
	bits |= 1;
	for (i = 1; i < 5; i++)
	{
		struct varlena *v;
		Size		len;

		if (isnull[i])
			continue;
		bits |= 1 << i;
		v = (struct varlena *) DatumGetPointer(values[i]);
		if (VARATT_IS_SHORT(v))
		{
			len = VARSIZE_SHORT(v);
			if (off + len > size)
				return NULL;
			memcpy(buf + off, v, len);
		}
		else if (VARATT_IS_EXTENDED(v))
			return NULL;		/* compressed or external: the generic way */
		else if (VARATT_CAN_MAKE_SHORT(v))
		{
			len = VARATT_CONVERTED_SHORT_SIZE(v);
			if (off + len > size)
				return NULL;
			SET_VARSIZE_SHORT(buf + off, len);
			memcpy(buf + off + 1, VARDATA(v), len - 1);
		}
		else
		{
			Size		aligned = INTALIGN(off);

			len = VARSIZE(v);
			if (aligned + len > size)
				return NULL;
			memset(buf + off, 0, aligned - off);
			off = aligned;
			memcpy(buf + off, v, len);
		}
		off += len;
	}
	tup->t_len = off;
	HeapTupleHeaderSetNatts(tup, 5);
	tup->t_infomask = HEAP_HASVARWIDTH | (hasnull ? HEAP_HASNULL : 0);
	tup->t_hoff = hoff + MINIMAL_TUPLE_OFFSET;
	if (hasnull)
		tup->t_bits[0] = bits;
	return tup;
}

/* a sum as the output column: the fast path's numeric in buf, else the numeric */
static Datum
sum_datum(DecSum *s, char *buf)
{
	return s->slow == NULL ? DecNumeric(s->v, s->scale, buf) : NumericGetDatum(s->slow);
}

Datum
pgerp_valuation_report(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	Datum		company;
	Datum		at;
	Datum		from;
	bool		from_null;
	Datum		precision;
	bool		precision_null;
	int32		prec;
	ReportState st;
	ReportReceiver recv;
	MemoryContext rowcxt;
	int64		nmissing = 0;
	int64		i;
	ReportDirect d;
	bool		direct;
	MemoryContext old;
	bool		shape;
	TupleTableSlot *rslot = NULL;

	InitMaterializedSRF(fcinfo, 0);
	if (!PG_ARGISNULL(1) && TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(1)))
		ereport(ERROR,
				errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
				errmsg("as-of date must be a finite date"),
				errdetail("The as-of date given is %s.",
						  DatumGetCString(DirectFunctionCall1(timestamptz_out, PG_GETARG_DATUM(1)))));
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();		/* company_id = NULL: no line */
	company = PG_GETARG_DATUM(0);
	at = PG_ARGISNULL(1) ? TimestampTzGetDatum(DT_NOEND) : PG_GETARG_DATUM(1);

	memset(&st, 0, sizeof(st));
	st.cxt = AllocSetContextCreate(CurrentMemoryContext, "valuation report", ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "valuation report: SPI_connect failed");

	values[0] = company;
	values[1] = PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1);
	from = report_value(from_sql, 2, types, values, nulls, &from_null);
	if (from_null)
	{
		DestReceiver *dest = CreateDestReceiver(DestTuplestore);

		SetTuplestoreDestReceiverParams(dest, rsinfo->setResult, rsinfo->econtext->ecxt_per_query_memory,
										false, NULL, NULL);
		report_run(layers_sql, 2, types, values, nulls, dest);
		dest->rDestroy(dest);
		SPI_finish();
		MemoryContextDelete(st.cxt);
		PG_RETURN_NULL();
	}
	nulls[1] = false;
	precision = report_value(precision_sql, 1, types, values, nulls, &precision_null);
	prec = precision_null ? 0 : DatumGetInt32(precision);

	st.maxlines = 16384;
	st.lines = MemoryContextAllocHuge(st.cxt, st.maxlines * sizeof(ReportLine));
	old = MemoryContextSwitchTo(st.cxt);
	direct = report_direct(company, from, at, &st, &d);
	MemoryContextSwitchTo(old);
	if (!direct)
	{
		receiver_init(&recv, row_product, &st);
		report_run(products_sql, 1, types, values, nulls, &recv.pub);
		index_lines(&st);

		values[1] = from;
		receiver_init(&recv, row_base, &st);
		report_run(snapshot_sql, 2, types, values, nulls, &recv.pub);

		values[2] = at;
		receiver_init(&recv, row_recent, &st);
		report_run(recent_sql, 3, types, values, nulls, &recv.pub);
	}

	for (i = 0; i < st.nlines; i++)
		if (!st.lines[i].has_base)
			nmissing++;
	if (nmissing > 0 && direct)
	{
		old = MemoryContextSwitchTo(st.cxt);
		slow_direct(&d, company, from, &st);
		MemoryContextSwitchTo(old);
	}
	else if (nmissing > 0)
	{
		Oid			slow_types[3] = {INT8OID, INT8ARRAYOID, TIMESTAMPTZOID};
		Datum		slow_values[3];
		Datum	   *ids = palloc(nmissing * sizeof(Datum));
		int64		k = 0;

		for (i = 0; i < st.nlines; i++)
			if (!st.lines[i].has_base)
				ids[k++] = Int64GetDatum(st.lines[i].id);
		slow_values[0] = company;
		slow_values[1] = PointerGetDatum(construct_array(ids, (int) nmissing, INT8OID, sizeof(int64),
														 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		slow_values[2] = from;
		receiver_init(&recv, row_base, &st);
		report_run(slow_sql, 3, slow_types, slow_values, nulls, &recv.pub);
	}

	SPI_finish();

	rowcxt = AllocSetContextCreate(st.cxt, "valuation report line", ALLOCSET_DEFAULT_SIZES);
	shape = result_shape(rsinfo->setDesc);
	if (shape)
		rslot = MakeSingleTupleTableSlot(rsinfo->setDesc, &TTSOpsMinimalTuple);
	for (i = 0; i < st.nlines; i++)
	{
		ReportLine *l = &st.lines[i];
		Datum		out[5];
		bool		outnull[5] = {false, false, false, false, false};
		union
		{
			int32		align;
			char		b[32];
		}			qbuf, vbuf, ubuf;
		int64		cost;
		union
		{
			double		align;
			char		b[512];
		}			tbuf;
		MinimalTuple tup;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(rowcxt);
		if (!l->has_base)
			elog(ERROR, "valuation report: no base for product " INT64_FORMAT, l->id);
		out[0] = Int64GetDatum(l->id);
		out[1] = l->sku;
		out[2] = sum_datum(&l->qty, qbuf.b);
		out[3] = sum_datum(&l->value, vbuf.b);
		if (precision_null)
			outnull[4] = true;
		else if (l->qty.slow == NULL && l->value.slow == NULL)
		{
			if (l->qty.v == 0)
				outnull[4] = true;
			else if (DecUnitCost(l->value.v, l->value.scale, l->qty.v, l->qty.scale, prec, &cost))
				out[4] = DecNumeric(cost, prec, ubuf.b);
			else
				out[4] = DirectFunctionCall2(numeric_round,
											 NumericGetDatum(numeric_div_opt_error(DatumGetNumeric(out[3]), DatumGetNumeric(out[2]), NULL)),
											 precision);
		}
		else if (DatumGetBool(DirectFunctionCall2(numeric_eq, out[2], NumericGetDatum(int64_to_numeric(0)))))
			outnull[4] = true;
		else
			out[4] = DirectFunctionCall2(numeric_round,
										 NumericGetDatum(numeric_div_opt_error(DatumGetNumeric(out[3]), DatumGetNumeric(out[2]), NULL)),
										 precision);
		tup = shape ? line_tuple(tbuf.b, sizeof(tbuf.b), out, outnull) : NULL;
		if (tup != NULL)
		{
			/* copied into the tuplestore (one palloc and memcpy) */
			ExecStoreMinimalTuple(tup, rslot, false);
			tuplestore_puttupleslot(rsinfo->setResult, rslot);
			ExecClearTuple(rslot);
		}
		else
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
		MemoryContextSwitchTo(old);
		if (i % 64 == 63)
			MemoryContextReset(rowcxt);
	}
	if (rslot != NULL)
		ExecDropSingleTupleTableSlot(rslot);
	MemoryContextDelete(st.cxt);
	PG_RETURN_NULL();
}
