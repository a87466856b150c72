/*
 * The valuation of one done move: its layer, the layers it consumes or
 * settles, the journal entries and the product's running totals.  Called by
 * stock.validate() (PL/pgSQL) after it has locked the move and the product's
 * running totals, so nothing here races with another posting of the product.
 *
 * Every statement is a prepared plan kept for the life of the backend.  The
 * layers a posting consumes are read with a cursor through the partial index
 * of layers in stock (remaining_qty > 0), the layers it settles through the
 * partial index of owed layers (remaining_qty < 0): a posting reads the rows
 * it uses, whatever the product's history and however many layers are open.
 * The arithmetic is ValuationShare()/ValuationRoundTo() (share.c).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "access/xact.h"

#include "pgerp/core.h"
#include "pgerp/valuation.h"
#include "num.h"
#include "backdate.h"

typedef struct StmtPlan
{
	const char *sql;
	int			nargs;
	Oid			types[11];
	SPIPlanPtr	plan;
} StmtPlan;

enum
{
	P_PRODUCT, P_COMPANY, P_PV, P_ORIGIN, P_INSERT_LAYER, P_NEGATIVE, P_SET_REMAINING,
	P_ADD_REMAINING, P_OPEN_ORIGIN, P_OPEN, P_UPDATE_PV, P_ACCOUNT, P_ENTRY, P_LINE, P_NPLANS
};

static StmtPlan plans[P_NPLANS] = {
	[P_PRODUCT] = {"SELECT cost_method, standard_price, name, sku FROM stock.product"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) $2", 2, {INT8OID, INT8OID}},
	[P_COMPANY] = {"SELECT currency_rounding, price_precision FROM erp.company WHERE id OPERATOR(pg_catalog.=) $1", 1, {INT8OID}},
	[P_PV] = {"SELECT qty, value, last_unit_cost, last_date FROM stock.product_value"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2", 2, {INT8OID, INT8OID}},
	[P_ORIGIN] = {"SELECT qty, value FROM stock.move"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) $2", 2, {INT8OID, INT8OID}},
	[P_INSERT_LAYER] = {"INSERT INTO stock.valuation_layer (company_id, product_id, move_id, created_at, quantity,"
		" unit_cost, value, remaining_qty, remaining_value, description, parent_layer_id)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id", 11,
	{INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID, INT8OID}},
	[P_NEGATIVE] = {"SELECT id, remaining_qty, remaining_value, description FROM stock.valuation_layer"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2"
		" AND remaining_qty OPERATOR(pg_catalog.<) 0 ORDER BY created_at, id", 2, {INT8OID, INT8OID}},
	[P_SET_REMAINING] = {"UPDATE stock.valuation_layer SET remaining_qty = $3, remaining_value = $4"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) $2", 4, {INT8OID, INT8OID, NUMERICOID, NUMERICOID}},
	[P_ADD_REMAINING] = {"UPDATE stock.valuation_layer SET remaining_qty = remaining_qty OPERATOR(pg_catalog.+) $3,"
		" remaining_value = remaining_value OPERATOR(pg_catalog.+) $4"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) $2", 4, {INT8OID, INT8OID, NUMERICOID, NUMERICOID}},
	[P_OPEN_ORIGIN] = {"SELECT id, remaining_qty, remaining_value, unit_cost FROM stock.valuation_layer"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND move_id OPERATOR(pg_catalog.=) $3"
		" AND remaining_qty OPERATOR(pg_catalog.>) 0 ORDER BY created_at, id", 3, {INT8OID, INT8OID, INT8OID}},
	[P_OPEN] = {"SELECT id, remaining_qty, remaining_value, unit_cost FROM stock.valuation_layer"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2"
		" AND remaining_qty OPERATOR(pg_catalog.>) 0"
		" AND ($3 IS NULL OR move_id IS DISTINCT FROM $3) ORDER BY created_at, id", 3, {INT8OID, INT8OID, INT8OID}},
	[P_UPDATE_PV] = {"UPDATE stock.product_value SET qty = $3, value = $4, last_unit_cost = $5, last_date = $6"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2", 6,
	{INT8OID, INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, TIMESTAMPTZOID}},
	[P_ACCOUNT] = {"SELECT id FROM stock.account WHERE company_id OPERATOR(pg_catalog.=) $1"
		" AND kind OPERATOR(pg_catalog.=) $2", 2, {INT8OID, TEXTOID}},
	[P_ENTRY] = {"INSERT INTO stock.journal_entry (company_id, date, ref, move_id, layer_id)"
		" VALUES ($1, $2, $3, $4, $5) RETURNING id", 5, {INT8OID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID}},
	[P_LINE] = {"INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)"
		" VALUES ($1, $2, $3, $4, 0), ($1, $2, $5, 0, $4)", 5, {INT8OID, INT8OID, INT8OID, NUMERICOID, INT8OID}},
};

/*
 * The plan of a statement, prepared once.  The two cursors (layers to consume,
 * layers to settle) are planned for their first rows (CURSOR_OPT_FAST_PLAN):
 * a posting reads them one at a time and stops when its quantity is met, so
 * the ordered scan of the partial index must win over a scan of the product's
 * whole history and a sort, whatever the table's statistics say. And generic
 * (CURSOR_OPT_GENERIC_PLAN): that plan is the same for every product, while
 * the plan cache, left to choose, kept planning the cursor again at every
 * posting of a product with many open layers, whose custom plan it costed
 * lower (about 100,000 instructions a posting at 10,000 open layers, #16.1).
 */
static SPIPlanPtr
plan(int which)
{
	StmtPlan   *p = &plans[which];

	if (which == P_OPEN_ORIGIN || which == P_OPEN || which == P_NEGATIVE)
		return PgerpKeptPlanWith(&p->plan, p->sql, p->nargs, p->types,
								 CURSOR_OPT_FAST_PLAN | CURSOR_OPT_GENERIC_PLAN);
	return PgerpKeptPlan(&p->plan, p->sql, p->nargs, p->types);
}

static void
run(int which, Datum *args, const char *nulls, int expect)
{
	int			ret = SPI_execute_plan(plan(which), args, nulls, false, 0);

	if (ret != expect)
		elog(ERROR, "valuation statement %d failed: %s", which, SPI_result_code_string(ret));
}

/* column `col` of row 0 of the last result, or NULL */
static Datum
col(int colno, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, colno, isnull);
}

typedef struct Ctx
{
	int64		company;
	int64		move;
	int64		product;
	Numeric		qty;
	Numeric		unit_cost;		/* NULL when not given */
	TimestampTz date;
	text	   *ref;			/* NULL when none */
	int64		origin;			/* 0 when none */
	Numeric		origin_qty;
	Numeric		origin_value;	/* NULL when not valued */
	char	   *method;
	Numeric		standard;
	char	   *name;
	char	   *sku;
	Numeric		rounding;
	int32		precision;
	Numeric		pv_qty;
	Numeric		pv_value;
	Numeric		pv_last_cost;	/* NULL when never set */
	bool		has_last_date;
	TimestampTz last_date;
} Ctx;

static Datum
num_or_null(Numeric n, char *nulls, int i)
{
	nulls[i] = n ? ' ' : 'n';
	return n ? NumericGetDatum(n) : (Datum) 0;
}

static int64
insert_layer(Ctx *c, Numeric quantity, Numeric unit_cost, Numeric value, Numeric rem_qty, Numeric rem_value,
			 const char *description, int64 parent, bool with_move)
{
	Datum		a[11];
	char		n[11];
	bool		isnull;

	memset(n, ' ', sizeof(n));
	a[0] = Int64GetDatum(c->company);
	a[1] = Int64GetDatum(c->product);
	a[2] = Int64GetDatum(c->move);
	n[2] = with_move ? ' ' : 'n';
	a[3] = TimestampTzGetDatum(c->date);
	a[4] = NumericGetDatum(quantity);
	a[5] = NumericGetDatum(unit_cost);
	a[6] = NumericGetDatum(value);
	a[7] = NumericGetDatum(rem_qty);
	a[8] = NumericGetDatum(rem_value);
	a[9] = CStringGetTextDatum(description);
	a[10] = Int64GetDatum(parent);
	n[10] = parent ? ' ' : 'n';
	run(P_INSERT_LAYER, a, n, SPI_OK_INSERT_RETURNING);
	return DatumGetInt64(col(1, &isnull));
}

static int64
account(Ctx *c, const char *kind)
{
	Datum		a[2] = {Int64GetDatum(c->company), CStringGetTextDatum(kind)};
	bool		isnull;

	run(P_ACCOUNT, a, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("company %lld has no %s account", (long long) c->company, kind)));
	return DatumGetInt64(col(1, &isnull));
}

/* a negative layer a receipt settles, copied out of the cursor's row */
typedef struct Owed
{
	int64		id;
	Numeric		qty;
	Numeric		value;
	char	   *desc;
} Owed;

/* the next owed layer of the P_NEGATIVE cursor into *o, false when none is left */
static bool
next_owed(Portal portal, Owed *o)
{
	bool		isnull;

	SPI_cursor_fetch(portal, true, 1);
	if (SPI_processed == 0)
		return false;
	o->id = DatumGetInt64(col(1, &isnull));
	o->qty = DatumGetNumericCopy(col(2, &isnull));
	o->value = DatumGetNumericCopy(col(3, &isnull));
	o->desc = TextDatumGetCString(col(4, &isnull));
	return true;
}

/* A two-line entry moving `amount` from `credit` to `debit` (swapped when negative). */
static void
journal(Ctx *c, int64 layer, const char *debit, const char *credit, Numeric amount)
{
	int			sign = num_cmp(amount, num_zero());
	Datum		a[5];
	char		n[5] = {' ', ' ', ' ', ' ', ' '};
	int64		entry;
	bool		isnull;
	int64		dr,
				cr;

	if (sign == 0)
		return;
	dr = account(c, sign > 0 ? debit : credit);
	cr = account(c, sign > 0 ? credit : debit);
	a[0] = Int64GetDatum(c->company);
	a[1] = TimestampTzGetDatum(c->date);
	a[2] = c->ref ? PointerGetDatum(c->ref) : (Datum) 0;
	n[2] = c->ref ? ' ' : 'n';
	a[3] = Int64GetDatum(c->move);
	a[4] = Int64GetDatum(layer);
	n[4] = layer ? ' ' : 'n';
	run(P_ENTRY, a, n, SPI_OK_INSERT_RETURNING);
	entry = DatumGetInt64(col(1, &isnull));
	a[0] = Int64GetDatum(c->company);
	a[1] = Int64GetDatum(entry);
	a[2] = Int64GetDatum(dr);
	a[3] = NumericGetDatum(sign > 0 ? amount : num_neg(amount));
	a[4] = Int64GetDatum(cr);
	run(P_LINE, a, NULL, SPI_OK_INSERT);
}

static void
update_pv(Ctx *c, Numeric qty, Numeric value, Numeric last_cost)
{
	Datum		a[6];
	char		n[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	a[0] = Int64GetDatum(c->company);
	a[1] = Int64GetDatum(c->product);
	a[2] = NumericGetDatum(qty);
	a[3] = NumericGetDatum(value);
	a[4] = num_or_null(last_cost, n, 4);
	a[5] = TimestampTzGetDatum(c->date);
	run(P_UPDATE_PV, a, n, SPI_OK_UPDATE);
}

static char *
describe(Ctx *c, const char *fallback)
{
	return psprintf("%s - %s", c->ref ? text_to_cstring(c->ref) : fallback, c->name);
}

static Numeric
value_in(Ctx *c, const char *counterpart)
{
	bool		standard = strcmp(c->method, "standard") == 0;
	Numeric		cost;
	Numeric		value;
	Numeric		remaining = c->qty;
	Numeric		remaining_value;
	Numeric		corrections = num_zero();
	int64		layer;
	Portal		portal;
	Datum		a[4];
	Owed		ow;
	bool		owes;

	cost = standard ? c->standard : (c->unit_cost ? c->unit_cost : (c->pv_last_cost ? c->pv_last_cost : c->standard));
	value = num_round_to(num_mul(c->qty, cost), c->rounding);
	if (c->origin_value && !standard)
	{
		/* a returned delivery comes back at what it went out at */
		value = num_share(num_neg(c->origin_value), c->origin_qty, c->qty, c->rounding);
		cost = num_round_scale(numeric_div_opt_error(value, c->qty, NULL), c->precision);
	}
	remaining_value = value;

	/*
	 * Stock owed by earlier deliveries (negative layers), oldest first: the
	 * first one is looked for before the layer is written, so that a receipt
	 * that settles nothing (the usual case) is written once, with what it
	 * holds, rather than inserted empty and updated.
	 */
	a[0] = Int64GetDatum(c->company);
	a[1] = Int64GetDatum(c->product);
	portal = SPI_cursor_open(NULL, plan(P_NEGATIVE), a, NULL, false);
	owes = next_owed(portal, &ow);
	layer = insert_layer(c, c->qty, cost, value, owes ? num_zero() : c->qty, owes ? num_zero() : value,
						 describe(c, "Receipt"), 0, true);
	journal(c, layer, "stock_valuation", counterpart, value);
	if (standard && c->unit_cost && num_cmp(c->unit_cost, cost) != 0)
		journal(c, layer, "price_difference", counterpart,
				num_sub(num_round_to(num_mul(c->qty, c->unit_cost), c->rounding), value));

	for (bool more = owes; more && num_cmp(remaining, num_zero()) > 0;
		 more = num_cmp(remaining, num_zero()) > 0 && next_owed(portal, &ow))
	{
		Numeric		take,
					est,
					part,
					corr;

		take = num_least(remaining, num_neg(ow.qty));
		est = num_neg(num_share(num_neg(ow.value), num_neg(ow.qty), take, c->rounding));
		part = num_share(remaining_value, remaining, take, c->rounding);
		{
			Datum		u[4] = {Int64GetDatum(c->company), Int64GetDatum(ow.id), NumericGetDatum(take), NumericGetDatum(num_neg(est))};

			run(P_ADD_REMAINING, u, NULL, SPI_OK_UPDATE);
		}
		remaining = num_sub(remaining, take);
		remaining_value = num_sub(remaining_value, part);
		/* the delivery was estimated at est (negative); it really cost -part */
		corr = num_sub(num_neg(part), est);
		if (num_cmp(corr, num_zero()) != 0 && !standard)
		{
			int64		cl = insert_layer(c, num_zero(), num_zero(), corr, num_zero(), num_zero(),
										  psprintf("Revaluation of %s (negative stock settled)", ow.desc), ow.id, true);

			journal(c, cl, "stock_valuation", "stock_output", corr);
			corrections = num_add(corrections, corr);
		}
	}
	SPI_cursor_close(portal);
	if (owes)
	{
		Datum		u[4] = {Int64GetDatum(c->company), Int64GetDatum(layer), NumericGetDatum(remaining), NumericGetDatum(remaining_value)};

		run(P_SET_REMAINING, u, NULL, SPI_OK_UPDATE);
	}
	/* the receipt's own value is the move's; corrections belong to the deliveries they settle */
	{
		Numeric		new_qty = num_add(c->pv_qty, c->qty);
		Numeric		new_value = num_add(num_add(c->pv_value, value), corrections);
		Numeric		last = cost;

		if (strcmp(c->method, "avco") == 0 && num_cmp(new_qty, num_zero()) > 0)
			last = numeric_div_opt_error(new_value, new_qty, NULL);
		update_pv(c, new_qty, new_value, last);
	}
	return value;
}

static Numeric
value_out(Ctx *c, const char *counterpart)
{
	Numeric		need = c->qty;
	Numeric		value = num_zero();
	Numeric		short_qty = num_zero();
	Numeric		short_value = num_zero();
	Numeric		last = c->pv_last_cost;
	bool		fifo = strcmp(c->method, "fifo") == 0;
	Portal		portal;
	Datum		a[3];
	char		n[3] = {' ', ' ', ' '};
	int64		layer;
	int			pass;

	/*
	 * consume layers in stock oldest first; a returned receipt takes back its
	 * own layer first (two cursors: a UNION ALL of both would be planned for
	 * all its rows, not for the first ones)
	 */
	a[0] = Int64GetDatum(c->company);
	a[1] = Int64GetDatum(c->product);
	a[2] = Int64GetDatum(c->origin);
	n[2] = c->origin ? ' ' : 'n';
	for (pass = c->origin ? 0 : 1; pass < 2 && num_cmp(need, num_zero()) > 0; pass++)
	{
		portal = SPI_cursor_open(NULL, plan(pass == 0 ? P_OPEN_ORIGIN : P_OPEN), a, n, false);
		while (num_cmp(need, num_zero()) > 0)
		{
			bool		isnull;
			int64		id;
			Numeric		lqty,
						lvalue,
						take,
						part;

			SPI_cursor_fetch(portal, true, 1);
			if (SPI_processed == 0)
				break;
			id = DatumGetInt64(col(1, &isnull));
			lqty = DatumGetNumeric(col(2, &isnull));
			lvalue = DatumGetNumeric(col(3, &isnull));
			if (fifo)
				last = DatumGetNumeric(col(4, &isnull));
			take = num_least(need, lqty);
			part = num_share(lvalue, lqty, take, c->rounding);
			{
				Datum		u[4] = {Int64GetDatum(c->company), Int64GetDatum(id), NumericGetDatum(num_neg(take)), NumericGetDatum(num_neg(part))};

				run(P_ADD_REMAINING, u, NULL, SPI_OK_UPDATE);
			}
			value = num_add(value, part);
			need = num_sub(need, take);
		}
		SPI_cursor_close(portal);
	}

	if (num_cmp(need, num_zero()) > 0)
	{
		/* going negative: the missing quantity is owed, valued at the last cost */
		short_qty = need;
		short_value = num_round_to(num_mul(short_qty, strcmp(c->method, "standard") == 0 ? c->standard
										  : (last ? last : c->standard)), c->rounding);
	}
	if (fifo)
		value = num_add(value, short_value);
	else if (strcmp(c->method, "standard") == 0)
		value = num_round_to(num_mul(c->qty, c->standard), c->rounding);
	else if (c->origin_value)
		/* a returned receipt goes back at what it came in at */
		value = num_share(c->origin_value, c->origin_qty, c->qty, c->rounding);
	else
	{
		/* avco: the share of the value on hand; the part beyond it at the last average */
		Numeric		on_hand = num_cmp(c->pv_qty, num_zero()) > 0 ? c->pv_qty : num_zero();

		value = num_cmp(on_hand, num_zero()) > 0 ? num_share(c->pv_value, on_hand, num_least(c->qty, on_hand), c->rounding) : num_zero();
		if (num_cmp(c->qty, on_hand) > 0)
			value = num_add(value, num_round_to(num_mul(num_sub(c->qty, on_hand), last ? last : c->standard), c->rounding));
	}
	layer = insert_layer(c, num_neg(c->qty), num_round_scale(numeric_div_opt_error(value, c->qty, NULL), c->precision),
						 num_neg(value), num_neg(short_qty), num_neg(short_value), describe(c, "Delivery"), 0, true);
	journal(c, layer, counterpart, "stock_valuation", value);
	update_pv(c, num_sub(c->pv_qty, c->qty), num_sub(c->pv_value, value), last);
	return num_neg(value);
}

static Datum
attr(HeapTupleHeader m, const char *name, bool *isnull)
{
	return GetAttributeByName(m, name, isnull);
}

/* stock._value_move(m stock.move, p_in boolean, p_counterpart text) RETURNS numeric */
PG_FUNCTION_INFO_V1(pgerp_valuation_value_move);
Datum
pgerp_valuation_value_move(PG_FUNCTION_ARGS)
{
	HeapTupleHeader m = PG_GETARG_HEAPTUPLEHEADER(0);
	bool		in = PG_GETARG_BOOL(1);
	char	   *counterpart = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Ctx			c;
	bool		isnull;
	Datum		a[2];
	Numeric		result;
	MemoryContext caller = CurrentMemoryContext;

	memset(&c, 0, sizeof(c));
	c.company = DatumGetInt64(attr(m, "company_id", &isnull));
	c.move = DatumGetInt64(attr(m, "id", &isnull));
	c.product = DatumGetInt64(attr(m, "product_id", &isnull));
	c.qty = DatumGetNumeric(attr(m, "qty", &isnull));
	{
		Datum		d = attr(m, "unit_cost", &isnull);

		c.unit_cost = isnull ? NULL : DatumGetNumeric(d);
		d = attr(m, "ref", &isnull);
		c.ref = isnull ? NULL : DatumGetTextPP(d);
		d = attr(m, "origin_move_id", &isnull);
		c.origin = isnull ? 0 : DatumGetInt64(d);
	}
	c.date = DatumGetTimestampTz(attr(m, "date", &isnull));

	SPI_connect();
	a[0] = Int64GetDatum(c.company);
	a[1] = Int64GetDatum(c.product);
	run(P_PRODUCT, a, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "product %lld of move %lld not found", (long long) c.product, (long long) c.move);
	c.method = TextDatumGetCString(col(1, &isnull));
	c.standard = DatumGetNumeric(col(2, &isnull));
	c.name = TextDatumGetCString(col(3, &isnull));
	c.sku = TextDatumGetCString(col(4, &isnull));

	run(P_COMPANY, a, NULL, SPI_OK_SELECT);
	c.rounding = DatumGetNumeric(col(1, &isnull));
	c.precision = DatumGetInt32(col(2, &isnull));

	run(P_PV, a, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "running totals of product %lld are not locked", (long long) c.product);
	c.pv_qty = DatumGetNumeric(col(1, &isnull));
	c.pv_value = DatumGetNumeric(col(2, &isnull));
	{
		Datum		d = col(3, &isnull);

		c.pv_last_cost = isnull ? NULL : DatumGetNumeric(d);
		d = col(4, &isnull);
		c.has_last_date = !isnull;
		if (!isnull)
			c.last_date = DatumGetTimestampTz(d);
	}

	/*
	 * A move dated in this transaction (now() is its start) is current, even
	 * when a transaction that began later posted the product first: it is
	 * posted at that later date; a move dated before is back-dated: the
	 * product's history is replayed in date order (backdate.c).
	 */
	if (c.has_last_date && c.date < c.last_date)
	{
		if (c.date >= GetCurrentTransactionStartTimestamp())
			c.date = c.last_date;
		else
		{
			BackdateMove b;

			b.company = c.company;
			b.product = c.product;
			b.move = c.move;
			b.cause = c.move;
			b.in = in;
			b.counterpart = counterpart;
			b.qty = c.qty;
			b.unit_cost = c.unit_cost;
			b.date = c.date;
			b.ref = c.ref;
			b.origin = c.origin;
			b.name = c.name;
			b.sku = c.sku;
			b.rounding = c.rounding;
			b.precision = c.precision;
			result = ValuationBackdate(&b);
			goto done;
		}
	}

	if (c.origin)
	{
		a[1] = Int64GetDatum(c.origin);
		run(P_ORIGIN, a, NULL, SPI_OK_SELECT);
		if (SPI_processed == 1)
		{
			Datum		d = col(2, &isnull);

			c.origin_qty = DatumGetNumeric(col(1, &isnull));
			c.origin_value = isnull ? NULL : DatumGetNumeric(d);
		}
	}

	result = in ? value_in(&c, counterpart) : value_out(&c, counterpart);
done:
	{
		/* copy the result out of SPI's memory before SPI_finish frees it */
		MemoryContext spi = MemoryContextSwitchTo(caller);
		Numeric		copy = DatumGetNumericCopy(NumericGetDatum(result));

		MemoryContextSwitchTo(spi);
		SPI_finish();
		PG_RETURN_NUMERIC(copy);
	}
}
