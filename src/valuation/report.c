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
 * valuation report"): the statement joined the products with the period's
 * snapshots and the grouped layers, read the products a second time for the
 * anti-join, and sorted the 100,000 lines by sku. Here each input is read once
 * into a hash table keyed by product (the period's snapshots, the layers after
 * T grouped by product), the products are read in sku order (the planner may
 * use the (company_id, sku) index, which costs no comparison), and each line
 * is written straight into the function's result.
 *
 * Security invoker: every statement runs as the caller, under row security,
 * and the lines are the products the caller may read, as before. The sums and
 * the unit cost are computed by the same numeric functions as the SQL did
 * (sum, numeric_add, numeric_div, numeric_round), so the results are the same
 * values with the same scales.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(pgerp_valuation_report);

/* A line of the report, in sku order: the product, its base (snapshot at T, or the slow path's sum before T) and its layers in [T, at]; (Datum) 0 for none. */
typedef struct ReportLine
{
	int64		id;
	Datum		sku;
	Datum		base_qty;
	Datum		base_value;
	Datum		recent_qty;
	Datum		recent_value;
} ReportLine;

/* product id -> line, when the company's ids are too spread for a direct array */
typedef struct ReportIndex
{
	int64		id;
	int32		line;
	char		status;			/* simplehash */
} ReportIndex;

#define SH_PREFIX repidx
#define SH_ELEMENT_TYPE ReportIndex
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) ((uint64) (key) ^ ((uint64) (key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* What the receivers below fill, in the report's own memory context. */
typedef struct ReportState
{
	MemoryContext cxt;
	ReportLine *lines;
	int64		nlines;
	int64		maxlines;
	int64		min_id;
	int64		max_id;
	int32	   *direct;			/* line + 1 by id - min_id, or NULL */
	repidx_hash *index;			/* when direct is NULL */
} ReportState;

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

/* a numeric of a row, copied into the report's context with a 4-byte header (so that no function detoasts it again) */
static Datum
slot_numeric(TupleTableSlot *slot, int i)
{
	return PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(slot->tts_values[i])));
}

/* the products in sku order: id, sku */
static void
row_product(TupleTableSlot *slot, ReportState *st)
{
	int64		id = DatumGetInt64(slot->tts_values[0]);
	ReportLine *l;

	if (st->nlines == st->maxlines)
	{
		st->maxlines *= 2;
		st->lines = repalloc_huge(st->lines, st->maxlines * sizeof(ReportLine));
	}
	l = &st->lines[st->nlines++];
	memset(l, 0, sizeof(*l));
	l->id = id;
	l->sku = datumCopy(slot->tts_values[1], false, -1);
	if (st->nlines == 1 || id < st->min_id)
		st->min_id = id;
	if (st->nlines == 1 || id > st->max_id)
		st->max_id = id;
}

/*
 * id -> line: a direct array when the company's ids are dense enough (at most
 * 4 slots per product; ids are one sequence shared by the companies), else a
 * hash table.
 */
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
	st->index = repidx_create(st->cxt, (uint32) st->nlines, NULL);
	for (i = 0; i < st->nlines; i++)
	{
		bool		found;

		repidx_insert(st->index, st->lines[i].id, &found)->line = (int32) i;
	}
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
	if (st->index != NULL)
	{
		ReportIndex *e = repidx_lookup(st->index, id);

		return e == NULL ? NULL : &st->lines[e->line];
	}
	return NULL;
}

/* the period's snapshots, and the slow path's base of the products without one: product_id, qty, value */
static void
row_base(TupleTableSlot *slot, ReportState *st)
{
	ReportLine *l = line_of(st, DatumGetInt64(slot->tts_values[0]));

	if (l == NULL)
		return;
	l->base_qty = slot_numeric(slot, 1);
	l->base_value = slot_numeric(slot, 2);
}

/*
 * the layers in [T, at]: product_id, quantity, value, added here to the
 * product's snapshot (numeric_add: exact, the scale the largest of the
 * terms', as base + sum() gave), or summed apart for a product without one
 * (its base comes later, from the slow path). Cheaper than sum() grouped in
 * SQL, whose per-group state cost about 2 us per group, most products having
 * one or two layers after T.
 */
static void
row_recent(TupleTableSlot *slot, ReportState *st)
{
	ReportLine *l = line_of(st, DatumGetInt64(slot->tts_values[0]));
	Numeric		qty;
	Numeric		value;

	if (l == NULL)
		return;
	if (l->base_qty != (Datum) 0)
	{
		qty = DatumGetNumeric(slot->tts_values[1]);		/* a copy if short: freed with the report */
		value = DatumGetNumeric(slot->tts_values[2]);
		l->base_qty = NumericGetDatum(numeric_add_opt_error(DatumGetNumeric(l->base_qty), qty, NULL));
		l->base_value = NumericGetDatum(numeric_add_opt_error(DatumGetNumeric(l->base_value), value, NULL));
	}
	else if (l->recent_qty == (Datum) 0)
	{
		l->recent_qty = slot_numeric(slot, 1);
		l->recent_value = slot_numeric(slot, 2);
	}
	else
	{
		qty = DatumGetNumeric(slot->tts_values[1]);
		value = DatumGetNumeric(slot->tts_values[2]);
		l->recent_qty = NumericGetDatum(numeric_add_opt_error(DatumGetNumeric(l->recent_qty), qty, NULL));
		l->recent_value = NumericGetDatum(numeric_add_opt_error(DatumGetNumeric(l->recent_value), value, NULL));
	}
}

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

/* qty or value of a line: base plus recent, as the SQL's b.qty + coalesce(r.qty, 0) */
static Datum
line_sum(Datum base, Datum recent)
{
	return recent != (Datum) 0
		? NumericGetDatum(numeric_add_opt_error(DatumGetNumeric(base), DatumGetNumeric(recent), NULL))
		: base;
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
	ReportState st;
	ReportReceiver recv;
	Datum		zero;
	MemoryContext rowcxt;
	int64		nmissing = 0;
	int64		i;

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

	st.maxlines = 16384;
	st.lines = MemoryContextAllocHuge(st.cxt, st.maxlines * sizeof(ReportLine));
	receiver_init(&recv, row_product, &st);
	report_run(products_sql, 1, types, values, nulls, &recv.pub);
	index_lines(&st);

	values[1] = from;
	receiver_init(&recv, row_base, &st);
	report_run(snapshot_sql, 2, types, values, nulls, &recv.pub);

	values[2] = at;
	receiver_init(&recv, row_recent, &st);
	report_run(recent_sql, 3, types, values, nulls, &recv.pub);

	for (i = 0; i < st.nlines; i++)
		if (st.lines[i].base_qty == (Datum) 0)
			nmissing++;
	if (nmissing > 0)
	{
		Oid			slow_types[3] = {INT8OID, INT8ARRAYOID, TIMESTAMPTZOID};
		Datum		slow_values[3];
		Datum	   *ids = palloc(nmissing * sizeof(Datum));
		int64		k = 0;

		for (i = 0; i < st.nlines; i++)
			if (st.lines[i].base_qty == (Datum) 0)
				ids[k++] = Int64GetDatum(st.lines[i].id);
		slow_values[0] = company;
		slow_values[1] = PointerGetDatum(construct_array(ids, (int) nmissing, INT8OID, sizeof(int64),
														 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		slow_values[2] = from;
		receiver_init(&recv, row_base, &st);
		report_run(slow_sql, 3, slow_types, slow_values, nulls, &recv.pub);
	}

	SPI_finish();

	zero = NumericGetDatum(int64_to_numeric(0));
	rowcxt = AllocSetContextCreate(st.cxt, "valuation report line", ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < st.nlines; i++)
	{
		ReportLine *l = &st.lines[i];
		Datum		out[5];
		bool		outnull[5] = {false, false, false, false, false};
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(rowcxt);
		if (l->base_qty == (Datum) 0)
			elog(ERROR, "valuation report: no base for product " INT64_FORMAT, l->id);
		out[0] = Int64GetDatum(l->id);
		out[1] = l->sku;
		out[2] = line_sum(l->base_qty, l->recent_qty);
		out[3] = line_sum(l->base_value, l->recent_value);
		if (precision_null || DatumGetBool(DirectFunctionCall2(numeric_eq, out[2], zero)))
			outnull[4] = true;
		else
			out[4] = DirectFunctionCall2(numeric_round,
										 NumericGetDatum(numeric_div_opt_error(DatumGetNumeric(out[3]), DatumGetNumeric(out[2]), NULL)),
										 precision);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
		MemoryContextSwitchTo(old);
		if (i % 64 == 63)
			MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(st.cxt);
	PG_RETURN_NULL();
}
