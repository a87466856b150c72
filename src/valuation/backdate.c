/*
 * The SPI side of a back-dated posting: load the product's valued history,
 * replay it in date order with the new move in its place (replay.c), then
 * write what differs: the new move's layers and entries, a correction layer
 * and a balanced entry for every later move (or settlement) whose value
 * changed, the open layers' remaining quantities and values, the moves'
 * values and the running totals.  Posted entries are never modified.
 *
 * Everything is read in one query per table and written in one statement
 * per table (arrays through unnest), so the cost is that of reading the
 * history once plus the rows that change.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "access/xact.h"
#include "funcapi.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "pgerp/core.h"
#include "pgerp/valuation.h"
#include "backdate.h"
#include "num.h"
#include "replay.h"

typedef struct BdPlan
{
	const char *sql;
	int			nargs;
	Oid			types[12];
	SPIPlanPtr	plan;
} BdPlan;

enum
{
	B_METHOD, B_MOVES, B_LAYERS, B_ALLOC, B_INS_LAYERS, B_INS_ENTRIES, B_SET_REM, B_MOVE_VALUE, B_PV,
	B_PRICES, B_METHODS, B_PRODUCT, B_LANDED, B_SET_LANDED, B_NPLANS
};

#define BIGINTARR INT8ARRAYOID
#define NUMARR NUMERICARRAYOID
#define TEXTARR TEXTARRAYOID
#define TSTZARR TIMESTAMPTZARRAYOID

static BdPlan bplans[B_NPLANS] = {
	[B_METHOD] = {"SELECT p.cost_method, p.standard_price, coalesce(s.allow_negative, true)"
		" FROM stock.product p LEFT JOIN stock.company_setting s ON s.company_id OPERATOR(pg_catalog.=) p.company_id"
		" WHERE p.company_id OPERATOR(pg_catalog.=) $1 AND p.id OPERATOR(pg_catalog.=) $2", 2, {INT8OID, INT8OID}},
	[B_MOVES] = {"SELECT m.id, m.qty, m.unit_cost, m.origin_move_id, dl.usage OPERATOR(pg_catalog.=) 'internal',"
		" CASE CASE WHEN dl.usage OPERATOR(pg_catalog.=) 'internal' THEN sl.usage ELSE dl.usage END"
		"  WHEN 'supplier' THEN 'stock_input' WHEN 'transit' THEN 'stock_input'"
		"  WHEN 'customer' THEN 'stock_output' WHEN 'production' THEN 'stock_output' ELSE 'inventory_loss' END,"
		" dl.usage OPERATOR(pg_catalog.=) 'production'"
		" FROM stock.move m"
		" JOIN stock.location sl ON sl.company_id OPERATOR(pg_catalog.=) m.company_id AND sl.id OPERATOR(pg_catalog.=) m.location_id"
		" JOIN stock.location dl ON dl.company_id OPERATOR(pg_catalog.=) m.company_id AND dl.id OPERATOR(pg_catalog.=) m.location_dest_id"
		" WHERE m.company_id OPERATOR(pg_catalog.=) $1 AND m.product_id OPERATOR(pg_catalog.=) $2"
		" AND m.state OPERATOR(pg_catalog.=) 'done' AND m.value IS NOT NULL ORDER BY m.id", 2, {INT8OID, INT8OID}},
	[B_LAYERS] = {"SELECT id, move_id, parent_layer_id, created_at, quantity, value, remaining_qty, remaining_value, description"
		" FROM stock.valuation_layer WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2"
		" ORDER BY id", 2, {INT8OID, INT8OID}},
	[B_ALLOC] = {"SELECT pg_catalog.nextval('stock.valuation_layer_id_seq'::pg_catalog.regclass)"
		" FROM pg_catalog.generate_series(1, $1)", 1, {INT4OID}},
	[B_INS_LAYERS] = {"INSERT INTO stock.valuation_layer (company_id, id, product_id, move_id, created_at, quantity,"
		" unit_cost, value, remaining_qty, remaining_value, description, parent_layer_id) OVERRIDING SYSTEM VALUE"
		" SELECT $1, u.id, $2, u.move, u.at, u.q, u.c, u.v, u.rq, u.rv, u.d, u.p"
		" FROM unnest($3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS u(id, move, at, q, c, v, rq, rv, d, p)", 12,
	{INT8OID, INT8OID, BIGINTARR, BIGINTARR, TSTZARR, NUMARR, NUMARR, NUMARR, NUMARR, NUMARR, TEXTARR, BIGINTARR}},
	[B_INS_ENTRIES] = {"WITH s AS MATERIALIZED (SELECT u.*, pg_catalog.nextval('stock.journal_entry_id_seq'::pg_catalog.regclass) AS eid"
		"  FROM unnest($2, $3, $4, $5, $6, $7, $8) AS u(at, ref, move, layer, dr, cr, amount)),"
		" e AS (INSERT INTO stock.journal_entry (company_id, id, date, ref, move_id, layer_id) OVERRIDING SYSTEM VALUE"
		"  SELECT $1, s.eid, s.at, s.ref, s.move, s.layer FROM s)"
		" INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)"
		" SELECT $1, s.eid, a.id, CASE WHEN x.d THEN s.amount ELSE 0 END, CASE WHEN x.d THEN 0 ELSE s.amount END"
		" FROM s CROSS JOIN (VALUES (true), (false)) x(d)"
		" JOIN stock.account a ON a.company_id OPERATOR(pg_catalog.=) $1"
		"  AND a.kind OPERATOR(pg_catalog.=) CASE WHEN x.d THEN s.dr ELSE s.cr END", 8,
	{INT8OID, TSTZARR, TEXTARR, BIGINTARR, BIGINTARR, TEXTARR, TEXTARR, NUMARR}},
	[B_SET_REM] = {"UPDATE stock.valuation_layer l SET remaining_qty = u.q, remaining_value = u.v"
		" FROM unnest($2, $3, $4) AS u(id, q, v)"
		" WHERE l.company_id OPERATOR(pg_catalog.=) $1 AND l.id OPERATOR(pg_catalog.=) u.id", 4,
	{INT8OID, BIGINTARR, NUMARR, NUMARR}},
	[B_MOVE_VALUE] = {"UPDATE stock.move m SET value = m.value OPERATOR(pg_catalog.+) u.d"
		" FROM unnest($2, $3) AS u(id, d)"
		" WHERE m.company_id OPERATOR(pg_catalog.=) $1 AND m.id OPERATOR(pg_catalog.=) u.id", 3,
	{INT8OID, BIGINTARR, NUMARR}},
	[B_PV] = {"UPDATE stock.product_value SET qty = $3, value = $4, last_unit_cost = $5"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2", 5,
	{INT8OID, INT8OID, NUMERICOID, NUMERICOID, NUMERICOID}},
	[B_PRICES] = {"SELECT valid_from, price, seq FROM stock.standard_price_history"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2 ORDER BY valid_from", 2,
	{INT8OID, INT8OID}},
	[B_PRODUCT] = {"SELECT p.sku, p.name, c.currency_rounding, c.price_precision FROM stock.product p"
		" JOIN erp.company c ON c.id OPERATOR(pg_catalog.=) p.company_id"
		" WHERE p.company_id OPERATOR(pg_catalog.=) $1 AND p.id OPERATOR(pg_catalog.=) $2", 2, {INT8OID, INT8OID}},
	[B_LANDED] = {"SELECT l.landed_cost_id, l.move_id, l.created_at, l.seq, l.share, l.capitalised,"
		" COALESCE(c.ref, c.id::pg_catalog.text)"
		" FROM stock.landed_cost_line l JOIN stock.landed_cost c ON c.company_id OPERATOR(pg_catalog.=) l.company_id"
		"  AND c.id OPERATOR(pg_catalog.=) l.landed_cost_id"
		" WHERE l.company_id OPERATOR(pg_catalog.=) $1 AND l.product_id OPERATOR(pg_catalog.=) $2"
		" ORDER BY l.created_at, l.seq", 2, {INT8OID, INT8OID}},
	/* the lines re-split, then their landed costs' totals */
	[B_SET_LANDED] = {"WITH u AS (UPDATE stock.landed_cost_line l SET capitalised = u.c"
		"  FROM unnest($2, $3, $4) AS u(lc, move, c)"
		"  WHERE l.company_id OPERATOR(pg_catalog.=) $1 AND l.landed_cost_id OPERATOR(pg_catalog.=) u.lc"
		"  AND l.move_id OPERATOR(pg_catalog.=) u.move"
		"  RETURNING l.landed_cost_id, l.move_id, l.capitalised),"
		" t AS (SELECT l.landed_cost_id AS id, pg_catalog.sum(CASE WHEN u.move_id IS NULL THEN l.capitalised ELSE u.capitalised END) AS c"
		"  FROM stock.landed_cost_line l LEFT JOIN u ON u.landed_cost_id OPERATOR(pg_catalog.=) l.landed_cost_id"
		"   AND u.move_id OPERATOR(pg_catalog.=) l.move_id"
		"  WHERE l.company_id OPERATOR(pg_catalog.=) $1 AND l.landed_cost_id OPERATOR(pg_catalog.=) ANY ($2) GROUP BY 1)"
		" UPDATE stock.landed_cost c SET capitalised = t.c, expensed = c.amount OPERATOR(pg_catalog.-) t.c FROM t"
		" WHERE c.company_id OPERATOR(pg_catalog.=) $1 AND c.id OPERATOR(pg_catalog.=) t.id", 4,
	{INT8OID, BIGINTARR, BIGINTARR, NUMARR}},
	[B_METHODS] = {"SELECT valid_from, method, seq FROM stock.cost_method_history"
		" WHERE company_id OPERATOR(pg_catalog.=) $1 AND product_id OPERATOR(pg_catalog.=) $2 ORDER BY valid_from", 2,
	{INT8OID, INT8OID}},
};

static void
brun(int which, Datum *args, const char *nulls, int expect)
{
	BdPlan	   *p = &bplans[which];
	int			ret = SPI_execute_plan(PgerpKeptCustomPlan(&p->plan, p->sql, p->nargs, p->types), args, nulls, false, 0);

	if (ret != expect)
		elog(ERROR, "back-dated valuation statement %d failed: %s", which, SPI_result_code_string(ret));
}

static Datum
cell(int row, int colno, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, colno, isnull);
}

/* ---------------------------------------------------------------- loading */

typedef struct MoveRow
{
	int64		id;
	Numeric		qty;
	Numeric		unit_cost;
	int64		origin;
	bool		incoming;
	char	   *counterpart;
	bool		to_production;	/* consumed by a production */
	int			event;			/* -1 until its first layer is met */
	Numeric		stored;			/* the sum of its own layers (= stock.move.value) */
} MoveRow;

typedef struct LayerRow
{
	int64		id;
	int64		move;
	int64		parent;
	TimestampTz at;
	Numeric		quantity;
	Numeric		value;
	Numeric		rem_qty;
	Numeric		rem_value;
	char	   *description;
} LayerRow;

/* a (receipt, owing layer) pair: the settlement corrections stored or replayed */
typedef struct Settle
{
	int64		move;
	int64		parent;
	Numeric		value;
} Settle;

/* a landed cost's share on one receipt (stock.landed_cost_line) */
typedef struct LandedLine
{
	int64		landed_cost;
	int64		move;
	TimestampTz at;
	int64		seq;
	Numeric		share;
	Numeric		capitalised;	/* as recorded: the sum of its layers */
	Numeric		layers;			/* the stored layers under the receipt's at its date (first of a group) */
	char	   *name;			/* its ref, or its id */
	int			event;
} LandedLine;

typedef struct Hist
{
	TimestampTz from;
	Numeric		price;
	char	   *method;
	int64		seq;
} Hist;

/* the layers without a move of one standard price or cost-method change, by kind */
typedef enum NonMoveKind
{
	NM_STDPRICE, NM_METHOD_OUT, NM_METHOD_IN
} NonMoveKind;

typedef struct NonMove
{
	NonMoveKind kind;
	TimestampTz at;
	Numeric		qty;
	Numeric		value;
	int64		first_layer;	/* its first layer (the "stock in" layer of a method change) */
	char	   *description;	/* the first layer's, without a correction prefix */
	bool		matched;
} NonMove;

typedef struct Ctx
{
	BackdateMove *m;
	char	   *method;			/* current */
	Numeric		standard;		/* current */
	bool		allow_negative;
	MoveRow    *moves;
	int			nmoves;
	LayerRow   *layers;
	int			nlayers;
	Settle	   *stored_settle;
	int			nstored_settle;
	Hist	   *prices;
	int			nprices;
	Hist	   *methods;
	int			nmethods;
	LandedLine *lines;
	int			nlines;
	NonMove    *nonmoves;
	int			nnonmoves;
	int			maxnonmoves;
	ReplayEvent *events;
	int			nevents;
	int			maxevents;
	int64		new_layer;
	int			new_event;
	bool		verify;			/* stock.verify_valuation(): report, do not raise */
	List	   *problems;
} Ctx;

static int
move_row_cmp(const void *a, const void *b)
{
	int64		x = ((const MoveRow *) a)->id;
	int64		y = ((const MoveRow *) b)->id;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static int
layer_row_cmp(const void *a, const void *b)
{
	int64		x = ((const LayerRow *) a)->id;
	int64		y = ((const LayerRow *) b)->id;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static MoveRow *
find_move(Ctx *c, int64 id)
{
	MoveRow		key;

	key.id = id;
	return bsearch(&key, c->moves, c->nmoves, sizeof(MoveRow), move_row_cmp);
}

static LayerRow *
find_layer(Ctx *c, int64 id)
{
	LayerRow	key;

	key.id = id;
	return bsearch(&key, c->layers, c->nlayers, sizeof(LayerRow), layer_row_cmp);
}

static Numeric
num_or_null(int row, int colno)
{
	bool		isnull;
	Datum		d = cell(row, colno, &isnull);

	return isnull ? NULL : DatumGetNumeric(d);
}

static int64
int8_or_zero(int row, int colno)
{
	bool		isnull;
	Datum		d = cell(row, colno, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static void
load(Ctx *c)
{
	Datum		a[2] = {Int64GetDatum(c->m->company), Int64GetDatum(c->m->product)};
	bool		isnull;

	brun(B_METHOD, a, NULL, SPI_OK_SELECT);
	c->method = TextDatumGetCString(cell(0, 1, &isnull));
	c->standard = DatumGetNumeric(cell(0, 2, &isnull));
	c->allow_negative = DatumGetBool(cell(0, 3, &isnull));

	brun(B_MOVES, a, NULL, SPI_OK_SELECT);
	c->nmoves = (int) SPI_processed;
	c->moves = palloc_extended(sizeof(MoveRow) * Max(c->nmoves, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < c->nmoves; i++)
	{
		MoveRow    *r = &c->moves[i];

		r->id = DatumGetInt64(cell(i, 1, &isnull));
		r->qty = DatumGetNumeric(cell(i, 2, &isnull));
		r->unit_cost = num_or_null(i, 3);
		r->origin = int8_or_zero(i, 4);
		r->incoming = DatumGetBool(cell(i, 5, &isnull));
		r->counterpart = TextDatumGetCString(cell(i, 6, &isnull));
		r->to_production = DatumGetBool(cell(i, 7, &isnull));
		r->event = -1;
		r->stored = num_zero();
	}
	SPI_freetuptable(SPI_tuptable);

	brun(B_LAYERS, a, NULL, SPI_OK_SELECT);
	c->nlayers = (int) SPI_processed;
	c->layers = palloc_extended(sizeof(LayerRow) * Max(c->nlayers, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < c->nlayers; i++)
	{
		LayerRow   *l = &c->layers[i];

		l->id = DatumGetInt64(cell(i, 1, &isnull));
		l->move = int8_or_zero(i, 2);
		l->parent = int8_or_zero(i, 3);
		l->at = DatumGetTimestampTz(cell(i, 4, &isnull));
		l->quantity = DatumGetNumeric(cell(i, 5, &isnull));
		l->value = DatumGetNumeric(cell(i, 6, &isnull));
		l->rem_qty = DatumGetNumeric(cell(i, 7, &isnull));
		l->rem_value = DatumGetNumeric(cell(i, 8, &isnull));
		l->description = TextDatumGetCString(cell(i, 9, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);

	brun(B_PRICES, a, NULL, SPI_OK_SELECT);
	c->nprices = (int) SPI_processed;
	c->prices = palloc(sizeof(Hist) * Max(c->nprices, 1));
	for (int i = 0; i < c->nprices; i++)
	{
		c->prices[i].from = DatumGetTimestampTz(cell(i, 1, &isnull));
		c->prices[i].price = DatumGetNumeric(cell(i, 2, &isnull));
		c->prices[i].method = NULL;
		c->prices[i].seq = DatumGetInt64(cell(i, 3, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	brun(B_METHODS, a, NULL, SPI_OK_SELECT);
	c->nmethods = (int) SPI_processed;
	c->methods = palloc(sizeof(Hist) * Max(c->nmethods, 1));
	for (int i = 0; i < c->nmethods; i++)
	{
		c->methods[i].from = DatumGetTimestampTz(cell(i, 1, &isnull));
		c->methods[i].price = NULL;
		c->methods[i].method = TextDatumGetCString(cell(i, 2, &isnull));
		c->methods[i].seq = DatumGetInt64(cell(i, 3, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	brun(B_LANDED, a, NULL, SPI_OK_SELECT);
	c->nlines = (int) SPI_processed;
	c->lines = palloc(sizeof(LandedLine) * Max(c->nlines, 1));
	for (int i = 0; i < c->nlines; i++)
	{
		LandedLine *ll = &c->lines[i];

		ll->landed_cost = DatumGetInt64(cell(i, 1, &isnull));
		ll->move = DatumGetInt64(cell(i, 2, &isnull));
		ll->at = DatumGetTimestampTz(cell(i, 3, &isnull));
		ll->seq = DatumGetInt64(cell(i, 4, &isnull));
		ll->share = DatumGetNumeric(cell(i, 5, &isnull));
		ll->capitalised = DatumGetNumeric(cell(i, 6, &isnull));
		ll->layers = num_zero();
		ll->name = TextDatumGetCString(cell(i, 7, &isnull));
		ll->event = -1;
	}
	SPI_freetuptable(SPI_tuptable);
}

/* the first landed cost line of a receipt at a date, or NULL */
static LandedLine *
find_line(Ctx *c, int64 move, TimestampTz at)
{
	for (int i = 0; i < c->nlines; i++)
		if (c->lines[i].move == move && c->lines[i].at == at)
			return &c->lines[i];
	return NULL;
}

#define CORRECTION_PREFIX "Correction (back-dated move "

/* a description without the prefix a correction layer adds */
static const char *
uncorrected(const char *d)
{
	if (strncmp(d, CORRECTION_PREFIX, strlen(CORRECTION_PREFIX)) == 0)
	{
		const char *colon = strstr(d, "): ");

		if (colon)
			return colon + 3;
	}
	return d;
}

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool
ends(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* add a layer without a move to the bucket of its change */
static void
add_nonmove(Ctx *c, NonMoveKind kind, LayerRow *l, Numeric qty, const char *desc)
{
	NonMove    *nm;

	for (int i = 0; i < c->nnonmoves; i++)
	{
		nm = &c->nonmoves[i];
		if (nm->kind == kind && nm->at == l->at)
		{
			nm->qty = num_add(nm->qty, qty);
			nm->value = num_add(nm->value, l->value);
			return;
		}
	}
	if (c->nnonmoves == c->maxnonmoves)
	{
		c->maxnonmoves = Max(8, c->maxnonmoves * 2);
		c->nonmoves = c->nonmoves ? repalloc(c->nonmoves, sizeof(NonMove) * c->maxnonmoves)
			: palloc(sizeof(NonMove) * c->maxnonmoves);
	}
	nm = &c->nonmoves[c->nnonmoves++];
	nm->kind = kind;
	nm->at = l->at;
	nm->qty = qty;
	nm->value = l->value;
	nm->first_layer = l->id;
	nm->description = pstrdup(desc);
	nm->matched = false;
}

static NonMove *
find_nonmove(Ctx *c, NonMoveKind kind, TimestampTz at)
{
	for (int i = 0; i < c->nnonmoves; i++)
		if (c->nonmoves[i].kind == kind && c->nonmoves[i].at == at)
			return &c->nonmoves[i];
	return NULL;
}

static ReplayEvent *
new_event(Ctx *c, ReplayEventKind kind, TimestampTz at, int64 order)
{
	ReplayEvent *e;

	if (c->nevents == c->maxevents)
	{
		c->maxevents = Max(64, c->maxevents * 2);
		c->events = c->events ? repalloc_huge(c->events, sizeof(ReplayEvent) * c->maxevents)
			: palloc_extended(sizeof(ReplayEvent) * c->maxevents, MCXT_ALLOC_HUGE);
	}
	e = &c->events[c->nevents++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->date = at;
	e->order = order;
	e->origin_event = -1;
	e->layer = -1;
	e->aux = -1;
	return e;
}

static void
not_supported(Ctx *c, LayerRow *l)
{
	if (c->verify)
	{
		c->problems = lappend(c->problems, psprintf("layer %lld (%s) is of no kind a replay knows",
													(long long) l->id, l->description));
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("move %lld is dated before the last valued move of product %s",
					(long long) c->m->cause, c->m->sku),
			 errdetail("Layer %lld (%s) cannot be replayed yet.", (long long) l->id, l->description)));
}

/*
 * Events from the stored layers: a move's first layer makes its event (its
 * date, its id as tie-break); its later layers without parent are
 * corrections of its value; a layer under a layer of the same move is a
 * landed cost; under another move's layer, a settlement of negative stock.
 */
static void
build_events(Ctx *c)
{
	int			maxsettle = 16;

	c->stored_settle = palloc(sizeof(Settle) * maxsettle);
	c->nstored_settle = 0;
	for (int i = 0; i < c->nlayers; i++)
	{
		LayerRow   *l = &c->layers[i];

		if (l->move != 0)
		{
			MoveRow    *mr = find_move(c, l->move);

			if (!mr)
			{
				not_supported(c, l);
				continue;
			}
			if (l->parent == 0)
			{
				if (mr->event < 0)
				{
					ReplayEvent *e = new_event(c, mr->incoming ? RE_IN : RE_OUT, l->at, l->id);

					e->move = mr->id;
					e->origin = mr->origin;
					e->qty = mr->qty;
					e->unit_cost = mr->unit_cost;
					e->layer_id = l->id;
					mr->event = c->nevents - 1;
				}
				mr->stored = num_add(mr->stored, l->value);
			}
			else
			{
				LayerRow   *p = find_layer(c, l->parent);

				if (!p)
				{
					not_supported(c, l);
					continue;
				}
				if (p->move == l->move)
				{
					LandedLine *ll = find_line(c, l->move, l->at);

					if (ll)
						ll->layers = num_add(ll->layers, l->value);
					else
					{
						/* no line: hand-made, the amount stays as posted */
						ReplayEvent *e = new_event(c, RE_LANDED, l->at, l->id);

						e->move = l->move;
						e->amount = l->value;
						e->fixed = true;
						e->parent_layer = l->parent;
					}
				}
				else
				{
					if (c->nstored_settle == maxsettle)
					{
						maxsettle *= 2;
						c->stored_settle = repalloc_huge(c->stored_settle, sizeof(Settle) * maxsettle);
					}
					c->stored_settle[c->nstored_settle].move = l->move;
					c->stored_settle[c->nstored_settle].parent = l->parent;
					c->stored_settle[c->nstored_settle].value = l->value;
					c->nstored_settle++;
				}
			}
		}
		else
		{
			const char *d = uncorrected(l->description);
			bool		correction = d != l->description;
			Numeric		qty = num_zero();

			if (starts(d, "Product value manually modified"))
				add_nonmove(c, NM_STDPRICE, l, qty, d);
			else if (starts(d, "Costing method change") && ends(d, ": stock out"))
				add_nonmove(c, NM_METHOD_OUT, l, l->quantity, d);
			else if (starts(d, "Costing method change") && ends(d, ": stock in"))
				add_nonmove(c, NM_METHOD_IN, l, l->quantity, d);
			else if (starts(d, "Revaluation") && !correction)
			{
				ReplayEvent *e = new_event(c, RE_REVALUE, l->at, l->id);

				e->amount = l->value;
			}
			else
				not_supported(c, l);
		}
	}
	/* landed costs: a share on a receipt's layer (its first), re-split by the replay */
	for (int i = 0; i < c->nlines; i++)
	{
		LandedLine *ll = &c->lines[i];
		MoveRow    *mr = find_move(c, ll->move);
		ReplayEvent *e;

		if (!mr || mr->event < 0)
		{
			if (c->verify)
			{
				c->problems = lappend(c->problems, psprintf("landed cost %lld is on move %lld, which has no valuation layer",
															(long long) ll->landed_cost, (long long) ll->move));
				continue;
			}
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("landed cost %lld of product %s is on move %lld, which has no valuation layer",
							(long long) ll->landed_cost, c->m->sku, (long long) ll->move),
					 errhint("Check stock.verify_valuation().")));
		}
		e = new_event(c, RE_LANDED, ll->at, ll->seq);
		e->move = ll->move;
		e->amount = ll->share;
		e->parent_layer = c->events[mr->event].layer_id;
		e->aux = i;
	}
	/* the dated changes of standard price and cost method */
	for (int i = 0; i < c->nprices; i++)
		if (c->prices[i].from != DT_NOBEGIN)
		{
			ReplayEvent *e = new_event(c, RE_STDPRICE, c->prices[i].from, c->prices[i].seq);

			e->amount = c->prices[i].price;
		}
	for (int i = 0; i < c->nmethods; i++)
		if (c->methods[i].from != DT_NOBEGIN)
		{
			ReplayEvent *e = new_event(c, RE_METHOD, c->methods[i].from, c->methods[i].seq);
			NonMove    *in = find_nonmove(c, NM_METHOD_IN, c->methods[i].from);

			e->method = c->methods[i].method;
			e->layer_id = in ? in->first_layer : 0;
		}
	for (int i = 0; i < c->nnonmoves; i++)
	{
		NonMove    *nm = &c->nonmoves[i];
		bool		found = false;

		if (nm->kind == NM_STDPRICE)
		{
			for (int j = 0; j < c->nprices && !found; j++)
				found = c->prices[j].from == nm->at;
		}
		else
			for (int j = 0; j < c->nmethods && !found; j++)
				found = c->methods[j].from == nm->at;
		if (!found)
			not_supported(c, find_layer(c, nm->first_layer));
	}
	/* events index moves by position, not pointer: fix after all appends */
	if (c->verify)
	{
		int			kept = 0;

		for (int i = 0; i < c->nmoves; i++)
		{
			if (c->moves[i].event < 0)
				c->problems = lappend(c->problems, psprintf("valued move %lld has no valuation layer",
															(long long) c->moves[i].id));
			else
				c->moves[kept++] = c->moves[i];
		}
		c->nmoves = kept;
	}
	for (int i = 0; i < c->nmoves; i++)
		if (c->moves[i].event < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("valued move %lld of product %s has no valuation layer", (long long) c->moves[i].id, c->m->sku),
					 errhint("Check stock.verify_valuation().")));
}

/*
 * The cost method and standard price in force at each event (events are in
 * date order): the history's first rows (valid from -infinity), or the
 * product's current ones when it has none, then each change in turn.
 */
static void
apply_history(Ctx *c)
{
	const char *method = c->method;
	Numeric		price = c->standard;

	for (int i = 0; i < c->nmethods; i++)
		if (c->methods[i].from == DT_NOBEGIN)
			method = c->methods[i].method;
	for (int i = 0; i < c->nprices; i++)
		if (c->prices[i].from == DT_NOBEGIN)
			price = c->prices[i].price;
	for (int i = 0; i < c->nevents; i++)
	{
		ReplayEvent *e = &c->events[i];

		if (e->kind == RE_STDPRICE)
		{
			e->old_price = price;
			price = e->amount;
		}
		if (e->kind == RE_METHOD)
		{
			e->old_method = method;
			method = e->method;
		}
		e->method = method;
		e->standard = price;
	}
}

/* ---------------------------------------------------------------- writing */

typedef struct Out
{
	int			n,
				max;
	Datum	   *id,
			   *move,
			   *at,
			   *q,
			   *cost,
			   *v,
			   *rq,
			   *rv,
			   *desc,
			   *parent;
	bool	   *move_null,
			   *parent_null;
} Out;

typedef struct Entries
{
	int			n,
				max;
	Datum	   *at,
			   *ref,
			   *move,
			   *layer,
			   *dr,
			   *cr,
			   *amount;
	bool	   *ref_null,
			   *move_null,
			   *layer_null;
} Entries;

/* moves whose value changed, and by how much */
typedef struct Changes
{
	int			n,
				max;
	Datum	   *id,
			   *d;
} Changes;

/* landed cost lines whose capitalised part changed */
typedef struct Landed
{
	int			n;
	Datum	   *id,
			   *move,
			   *cap;
} Landed;

static void
changes_init(Changes *ch, int max)
{
	ch->n = 0;
	ch->max = Max(max, 4);
	ch->id = palloc_extended(sizeof(Datum) * ch->max, MCXT_ALLOC_HUGE);
	ch->d = palloc_extended(sizeof(Datum) * ch->max, MCXT_ALLOC_HUGE);
}

static void
changes_add(Changes *ch, int64 id, Numeric d)
{
	if (ch->n == ch->max)
	{
		ch->max *= 2;
		ch->id = repalloc_huge(ch->id, sizeof(Datum) * ch->max);
		ch->d = repalloc_huge(ch->d, sizeof(Datum) * ch->max);
	}
	ch->id[ch->n] = Int64GetDatum(id);
	ch->d[ch->n] = NumericGetDatum(d);
	ch->n++;
}

#define GROW(arr, type) arr = (arr) ? repalloc_huge(arr, sizeof(type) * max) : palloc_extended(sizeof(type) * max, MCXT_ALLOC_HUGE)

static void
out_grow(Out *o)
{
	int			max;

	if (o->n < o->max)
		return;
	max = o->max = Max(16, o->max * 2);
	GROW(o->id, Datum);
	GROW(o->move, Datum);
	GROW(o->at, Datum);
	GROW(o->q, Datum);
	GROW(o->cost, Datum);
	GROW(o->v, Datum);
	GROW(o->rq, Datum);
	GROW(o->rv, Datum);
	GROW(o->desc, Datum);
	GROW(o->parent, Datum);
	GROW(o->move_null, bool);
	GROW(o->parent_null, bool);
}

static void
entries_grow(Entries *e)
{
	int			max;

	if (e->n < e->max)
		return;
	max = e->max = Max(16, e->max * 2);
	GROW(e->at, Datum);
	GROW(e->ref, Datum);
	GROW(e->move, Datum);
	GROW(e->layer, Datum);
	GROW(e->dr, Datum);
	GROW(e->cr, Datum);
	GROW(e->amount, Datum);
	GROW(e->ref_null, bool);
	GROW(e->move_null, bool);
	GROW(e->layer_null, bool);
}

static void
out_layer(Out *o, int64 id, int64 move, int64 parent, TimestampTz at, Numeric q, Numeric cost, Numeric v,
		  Numeric rq, Numeric rv, const char *desc)
{
	int			i;

	out_grow(o);
	i = o->n++;
	o->id[i] = Int64GetDatum(id);
	o->move[i] = Int64GetDatum(move);
	o->move_null[i] = move == 0;
	o->parent[i] = Int64GetDatum(parent);
	o->parent_null[i] = parent == 0;
	o->at[i] = TimestampTzGetDatum(at);
	o->q[i] = NumericGetDatum(q);
	o->cost[i] = NumericGetDatum(cost);
	o->v[i] = NumericGetDatum(v);
	o->rq[i] = NumericGetDatum(rq);
	o->rv[i] = NumericGetDatum(rv);
	o->desc[i] = CStringGetTextDatum(desc);
}

/* an entry moving `amount` from `credit` to `debit` (swapped when negative) */
static void
out_entry(Entries *e, TimestampTz at, text *ref, int64 move, int64 layer, const char *debit, const char *credit,
		  Numeric amount)
{
	int			sign = num_sign(amount);
	int			i;

	if (sign == 0)
		return;
	entries_grow(e);
	i = e->n++;
	e->at[i] = TimestampTzGetDatum(at);
	e->ref[i] = ref ? PointerGetDatum(ref) : (Datum) 0;
	e->ref_null[i] = ref == NULL;
	e->move[i] = Int64GetDatum(move);
	e->move_null[i] = move == 0;
	e->layer[i] = Int64GetDatum(layer);
	e->layer_null[i] = layer == 0;
	e->dr[i] = CStringGetTextDatum(sign > 0 ? debit : credit);
	e->cr[i] = CStringGetTextDatum(sign > 0 ? credit : debit);
	e->amount[i] = NumericGetDatum(sign > 0 ? amount : num_neg(amount));
}

static Datum
arr(Datum *d, bool *nulls, int n, Oid type)
{
	int16		len;
	bool		byval;
	char		align;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &len, &byval, &align);
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, type, len, byval, align));
}

static void
write_layers(Ctx *c, Out *o)
{
	Datum		a[12];

	if (o->n == 0)
		return;
	a[0] = Int64GetDatum(c->m->company);
	a[1] = Int64GetDatum(c->m->product);
	a[2] = arr(o->id, NULL, o->n, INT8OID);
	a[3] = arr(o->move, o->move_null, o->n, INT8OID);
	a[4] = arr(o->at, NULL, o->n, TIMESTAMPTZOID);
	a[5] = arr(o->q, NULL, o->n, NUMERICOID);
	a[6] = arr(o->cost, NULL, o->n, NUMERICOID);
	a[7] = arr(o->v, NULL, o->n, NUMERICOID);
	a[8] = arr(o->rq, NULL, o->n, NUMERICOID);
	a[9] = arr(o->rv, NULL, o->n, NUMERICOID);
	a[10] = arr(o->desc, NULL, o->n, TEXTOID);
	a[11] = arr(o->parent, o->parent_null, o->n, INT8OID);
	brun(B_INS_LAYERS, a, NULL, SPI_OK_INSERT);
}

static void
write_entries(Ctx *c, Entries *e)
{
	Datum		a[8];

	if (e->n == 0)
		return;
	a[0] = Int64GetDatum(c->m->company);
	a[1] = arr(e->at, NULL, e->n, TIMESTAMPTZOID);
	a[2] = arr(e->ref, e->ref_null, e->n, TEXTOID);
	a[3] = arr(e->move, e->move_null, e->n, INT8OID);
	a[4] = arr(e->layer, e->layer_null, e->n, INT8OID);
	a[5] = arr(e->dr, NULL, e->n, TEXTOID);
	a[6] = arr(e->cr, NULL, e->n, TEXTOID);
	a[7] = arr(e->amount, NULL, e->n, NUMERICOID);
	brun(B_INS_ENTRIES, a, NULL, SPI_OK_INSERT);
	if (SPI_processed != (uint64) e->n * 2)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("company %lld lacks a stock account for a correction entry", (long long) c->m->company)));
}

static int64 *
alloc_ids(int n)
{
	Datum		a[1] = {Int32GetDatum(n)};
	bool		isnull;
	int64	   *ids = palloc(sizeof(int64) * Max(n, 1));

	if (n == 0)
		return ids;
	brun(B_ALLOC, a, NULL, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
		ids[i] = DatumGetInt64(cell(i, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return ids;
}

static int
settle_cmp(const void *a, const void *b)
{
	const Settle *x = a;
	const Settle *y = b;

	if (x->move != y->move)
		return x->move < y->move ? -1 : 1;
	return x->parent < y->parent ? -1 : (x->parent > y->parent ? 1 : 0);
}

/* sort and sum per (move, parent) */
static int
settle_sum(Settle *s, int n)
{
	int			m = 0;

	qsort(s, n, sizeof(Settle), settle_cmp);
	for (int i = 0; i < n; i++)
	{
		if (m > 0 && s[m - 1].move == s[i].move && s[m - 1].parent == s[i].parent)
			s[m - 1].value = num_add(s[m - 1].value, s[i].value);
		else
			s[m++] = s[i];
	}
	return m;
}

static char *
describe(BackdateMove *m)
{
	return psprintf("%s - %s", m->ref ? text_to_cstring(m->ref) : (m->in ? "Receipt" : "Delivery"), m->name);
}

static const char *
layer_description(Ctx *c, int64 id, const char *new_desc)
{
	LayerRow   *l = id == c->new_layer ? NULL : find_layer(c, id);

	return l ? l->description : new_desc;
}

static void
refuse(Ctx *c, Replay *r, ReplayCode rc)
{
	ReplayEvent *e = &r->events[r->failed_event];

	if (rc == REPLAY_NEGATIVE)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("back-dated move %lld would make the stock of product %s negative on %s",
						(long long) c->m->cause, c->m->sku, pstrdup(timestamptz_to_str(e->date))),
				 errdetail("On hand would be %s after the valued move dated %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(r->qty))),
						   pstrdup(timestamptz_to_str(e->date))),
				 errhint("Negative stock is forbidden for this company (stock.company_setting.allow_negative).")));
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("back-dated move %lld would make the stock of product %s negative at its cost-method change of %s",
					(long long) c->m->cause, c->m->sku, pstrdup(timestamptz_to_str(e->date))),
			 errdetail("A cost method cannot change while the stock is negative.")));
}

/* replayed minus stored settlement corrections, per (receipt, owing layer) */
static Settle *
settle_diffs(Ctx *c, Replay *r, int *n)
{
	Settle	   *rs = palloc(sizeof(Settle) * Max(r->nsettlements + c->nstored_settle, 1));
	int			nrs = 0;

	for (int i = 0; i < r->nsettlements; i++)
	{
		rs[nrs].move = c->events[r->settlements[i].event].move;
		rs[nrs].parent = r->layers[r->settlements[i].layer].id;
		rs[nrs].value = r->settlements[i].value;
		nrs++;
	}
	for (int i = 0; i < c->nstored_settle; i++)
	{
		rs[nrs] = c->stored_settle[i];
		rs[nrs].value = num_neg(rs[nrs].value);
		nrs++;
	}
	*n = settle_sum(rs, nrs);
	return rs;
}

/*
 * The events of the product in date order, the cost method and standard
 * price in force at each, returns linked to their origin; with m->move, the
 * new move among them (its layer id allocated first).
 */
static void
prepare(Ctx *c, BackdateMove *m)
{
	bool		verify = c->verify;

	memset(c, 0, sizeof(*c));
	c->verify = verify;
	c->m = m;
	c->new_event = -1;
	load(c);
	build_events(c);
	if (m->move)
	{
		ReplayEvent *ne;

		c->new_layer = alloc_ids(1)[0];
		ne = new_event(c, m->in ? RE_IN : RE_OUT, m->date, c->new_layer);
		ne->move = m->move;
		ne->origin = m->origin;
		ne->qty = m->qty;
		ne->unit_cost = m->unit_cost;
		ne->layer_id = c->new_layer;
	}
	ReplaySortEvents(c->events, c->nevents);
	apply_history(c);
	ReplayLinkOrigins(c->events, c->nevents);
	/* move rows point at their event: re-point after sorting */
	for (int i = 0; i < c->nevents; i++)
		if (c->events[i].kind == RE_IN || c->events[i].kind == RE_OUT)
		{
			if (m->move && c->events[i].move == m->move)
				c->new_event = i;
			else
				find_move(c, c->events[i].move)->event = i;
		}
		else if (c->events[i].kind == RE_LANDED && c->events[i].aux >= 0)
			c->lines[c->events[i].aux].event = i;
}

/*
 * Set by pgerp_mrp (src/mrp/recost.c): the moves to a production location
 * whose value a replay changed, so that what was produced from them is
 * re-costed. The engine knows nothing of manufacturing orders.
 */
ValuationRevaluedHook valuation_revalued_hook = NULL;

/* a correction's description: "Correction (back-dated move N): what" */
static char *
corr_desc(Ctx *c, const char *what)
{
	return psprintf("Correction (back-dated move %lld): %s", (long long) c->m->cause, what);
}

/* the new move's layer (remaining as after the whole replay) and entries; its value */
static Numeric
out_new_move(Ctx *c, Replay *r, Out *o, Entries *en, const char *new_desc)
{
	BackdateMove *m = c->m;
	ReplayEvent *ne = &c->events[c->new_event];
	ReplayLayer *l = &r->layers[ne->layer];

	out_layer(o, c->new_layer, m->move, 0, m->date, m->in ? m->qty : num_neg(m->qty), ne->layer_cost,
			  ne->value, l->rem_qty, l->rem_value, new_desc);
	out_entry(en, m->date, m->ref, m->move, c->new_layer, "stock_valuation", m->counterpart, ne->value);
	if (m->in && strcmp(ne->method, "standard") == 0 && m->unit_cost && num_cmp(m->unit_cost, ne->layer_cost) != 0)
		out_entry(en, m->date, m->ref, m->move, c->new_layer, "price_difference", m->counterpart,
				  num_sub(num_round_to(num_mul(m->qty, m->unit_cost), m->rounding), ne->value));
	return ne->value;
}

/*
 * Every other move whose value changed: a correction layer and entry at its
 * date; the changes listed in ch (all of them) and prod (those to production).
 */
static void
out_move_corrections(Ctx *c, Out *o, Entries *en, text *corr_ref, const char *new_desc,
					 Changes *ch, Changes *prod)
{
	for (int i = 0; i < c->nmoves; i++)
	{
		MoveRow    *mr = &c->moves[i];
		ReplayEvent *e = &c->events[mr->event];
		Numeric		diff = num_sub(e->value, mr->stored);

		if (num_sign(diff) == 0)
			continue;
		changes_add(ch, mr->id, diff);
		if (mr->to_production)
			changes_add(prod, mr->id, diff);
		out_layer(o, 0, mr->id, 0, e->date, num_zero(), num_zero(), diff, num_zero(), num_zero(),
				  corr_desc(c, layer_description(c, e->layer_id, new_desc)));
		out_entry(en, e->date, corr_ref, mr->id, -(int64) o->n, "stock_valuation", mr->counterpart, diff);
	}
}

/*
 * Settlements of negative stock (replayed against stored, per receipt and
 * owing layer) and landed costs re-split (the part capitalised moves between
 * the receipt's layer and the landed cost expense, at its date); the landed
 * cost lines changed are listed in lc.
 */
static void
out_settle_landed(Ctx *c, Replay *r, Out *o, Entries *en, text *corr_ref, const char *new_desc, Landed *lc)
{
	BackdateMove *m = c->m;
	int			nrs;
	Settle	   *rs = settle_diffs(c, r, &nrs);

	for (int i = 0; i < nrs; i++)
	{
		bool		is_new = m->move != 0 && rs[i].move == m->move;
		MoveRow    *mr = is_new ? NULL : find_move(c, rs[i].move);
		TimestampTz at = is_new ? m->date : c->events[mr->event].date;
		char	   *desc = psprintf("Revaluation of %s (negative stock settled)",
									layer_description(c, rs[i].parent, new_desc));

		if (num_sign(rs[i].value) == 0)
			continue;
		if (!is_new)
			desc = corr_desc(c, desc);
		out_layer(o, 0, rs[i].move, rs[i].parent, at, num_zero(), num_zero(), rs[i].value, num_zero(), num_zero(), desc);
		out_entry(en, at, is_new ? m->ref : corr_ref, rs[i].move, -(int64) o->n, "stock_valuation", "stock_output",
				  rs[i].value);
	}
	for (int i = 0; i < c->nlines; i++)
	{
		LandedLine *ll = &c->lines[i];
		ReplayEvent *e;
		Numeric		diff;

		if (ll->event < 0)
			continue;
		e = &c->events[ll->event];
		diff = num_sub(e->value, ll->capitalised);
		if (num_sign(diff) == 0)
			continue;
		lc->id[lc->n] = Int64GetDatum(ll->landed_cost);
		lc->move[lc->n] = Int64GetDatum(ll->move);
		lc->cap[lc->n] = NumericGetDatum(e->value);
		lc->n++;
		out_layer(o, 0, ll->move, e->parent_layer, e->date, num_zero(), num_zero(), diff, num_zero(), num_zero(),
				  corr_desc(c, psprintf("Landed cost %s", ll->name)));
		out_entry(en, e->date, corr_ref, ll->move, -(int64) o->n, "stock_valuation", "landed_cost_expense", diff);
	}
}

/* standard price and cost-method changes whose replayed amounts differ */
static void
out_price_method(Ctx *c, Replay *r, Out *o, Entries *en, text *corr_ref)
{
	for (int i = 0; i < c->nevents; i++)
	{
		ReplayEvent *e = &c->events[i];

		if (e->kind == RE_STDPRICE)
		{
			NonMove    *nm = find_nonmove(c, NM_STDPRICE, e->date);
			Numeric		diff = num_sub(e->value, nm ? nm->value : num_zero());
			char	   *what = nm ? nm->description
				: psprintf("Product value manually modified (from %s to %s)",
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(e->old_price))),
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(e->amount))));

			if (num_sign(diff) == 0)
				continue;
			out_layer(o, 0, 0, 0, e->date, num_zero(), num_zero(), diff, num_zero(), num_zero(), corr_desc(c, what));
			out_entry(en, e->date, corr_ref, 0, -(int64) o->n, "stock_valuation", "price_difference", diff);
		}
		else if (e->kind == RE_METHOD)
		{
			NonMove    *out = find_nonmove(c, NM_METHOD_OUT, e->date);
			NonMove    *in = find_nonmove(c, NM_METHOD_IN, e->date);
			Numeric		dq_out = num_sub(num_neg(e->out_qty), out ? out->qty : num_zero());
			Numeric		dv_out = num_sub(num_neg(e->out_value), out ? out->value : num_zero());
			Numeric		dq_in = num_sub(e->layer >= 0 ? e->out_qty : num_zero(), in ? in->qty : num_zero());
			Numeric		dv_in = num_sub(e->value, in ? in->value : num_zero());
			Numeric		booked = num_add(dv_in, dv_out);
			int			entry_layer = 0;

			if (num_sign(dq_out) != 0 || num_sign(dv_out) != 0)
			{
				const char *what = out ? out->description
					: psprintf("Costing method change (%s to %s): stock out", e->old_method, e->method);

				out_layer(o, 0, 0, 0, e->date, dq_out, num_zero(), dv_out, num_zero(), num_zero(), corr_desc(c, what));
				entry_layer = o->n;
			}
			if (num_sign(dq_in) != 0 || num_sign(dv_in) != 0 || (!in && e->layer >= 0))
			{
				const char *what = in ? in->description
					: psprintf("Costing method change (%s to %s): stock in", e->old_method, e->method);
				/* with no stored "stock in" layer, this one is it: it holds the open stock */
				bool		holds = !in && e->layer >= 0;

				out_layer(o, 0, 0, 0, e->date, dq_in, holds ? e->layer_cost : num_zero(), dv_in,
						  holds ? r->layers[e->layer].rem_qty : num_zero(),
						  holds ? r->layers[e->layer].rem_value : num_zero(), corr_desc(c, what));
				entry_layer = o->n;
			}
			if (entry_layer)
				out_entry(en, e->date, corr_ref, 0, -(int64) entry_layer, "stock_valuation", "price_difference", booked);
		}
	}
}

/*
 * The layers and entries out: ids for the layers (the new move's, first,
 * is allocated already), then the entries' layer ids.
 */
static void
write_out(Ctx *c, Out *o, Entries *en)
{
	int			first = c->m->move ? 1 : 0;
	int64	   *ids = alloc_ids(o->n - first);

	for (int i = first; i < o->n; i++)
		o->id[i] = Int64GetDatum(ids[i - first]);
	for (int i = 0; i < en->n; i++)
	{
		int64		l = DatumGetInt64(en->layer[i]);

		if (l < 0)
			en->layer[i] = o->id[-l - 1];
	}
	write_layers(c, o);
	write_entries(c, en);
}

/* for each stored layer, the replay's inventory layer it became, or -1 */
static int *
replayed_layers(Ctx *c, Replay *r)
{
	int		   *replayed = palloc(sizeof(int) * Max(c->nlayers, 1));

	for (int i = 0; i < c->nlayers; i++)
		replayed[i] = -1;
	for (int i = 0; i < r->nlayers; i++)
	{
		LayerRow   *s;

		if ((c->m->move && r->layers[i].id == c->new_layer) || r->layers[i].id == 0)
			continue;
		s = find_layer(c, r->layers[i].id);
		if (s)
			replayed[s - c->layers] = i;
	}
	return replayed;
}

/*
 * The working state after the replay: open layers recomputed in place (a
 * stored layer holds what the replay left in its inventory layer, or
 * nothing), the moves' values, the landed costs' split, the running totals.
 */
static void
write_state(Ctx *c, Replay *r, Changes *ch, Landed *lc)
{
	Datum	   *rem_id = palloc(sizeof(Datum) * Max(c->nlayers, 1));
	Datum	   *rem_q = palloc(sizeof(Datum) * Max(c->nlayers, 1));
	Datum	   *rem_v = palloc(sizeof(Datum) * Max(c->nlayers, 1));
	int		   *replayed = replayed_layers(c, r);
	int			nrem = 0;
	int64		company = c->m->company;

	for (int i = 0; i < c->nlayers; i++)
	{
		LayerRow   *s = &c->layers[i];
		Numeric		q = replayed[i] >= 0 ? r->layers[replayed[i]].rem_qty : num_zero();
		Numeric		v = replayed[i] >= 0 ? r->layers[replayed[i]].rem_value : num_zero();

		if (num_cmp(s->rem_qty, q) == 0 && num_cmp(s->rem_value, v) == 0)
			continue;
		rem_id[nrem] = Int64GetDatum(s->id);
		rem_q[nrem] = NumericGetDatum(q);
		rem_v[nrem] = NumericGetDatum(v);
		nrem++;
	}
	if (nrem > 0)
	{
		Datum		a[4] = {Int64GetDatum(company), arr(rem_id, NULL, nrem, INT8OID),
		arr(rem_q, NULL, nrem, NUMERICOID), arr(rem_v, NULL, nrem, NUMERICOID)};

		brun(B_SET_REM, a, NULL, SPI_OK_UPDATE);
	}
	if (ch->n > 0)
	{
		Datum		a[3] = {Int64GetDatum(company), arr(ch->id, NULL, ch->n, INT8OID), arr(ch->d, NULL, ch->n, NUMERICOID)};

		brun(B_MOVE_VALUE, a, NULL, SPI_OK_UPDATE);
	}
	if (lc->n > 0)
	{
		Datum		a[4] = {Int64GetDatum(company), arr(lc->id, NULL, lc->n, INT8OID), arr(lc->move, NULL, lc->n, INT8OID),
		arr(lc->cap, NULL, lc->n, NUMERICOID)};

		brun(B_SET_LANDED, a, NULL, SPI_OK_UPDATE);
	}
	{
		Datum		a[5] = {Int64GetDatum(company), Int64GetDatum(c->m->product), NumericGetDatum(r->qty),
		NumericGetDatum(r->value), r->last_cost ? NumericGetDatum(r->last_cost) : (Datum) 0};
		char		n[5] = {' ', ' ', ' ', ' ', r->last_cost ? ' ' : 'n'};

		brun(B_PV, a, n, SPI_OK_UPDATE);
	}
}

/*
 * Everything a replay changed besides the new move, written; then the
 * moves to production that changed are handed to the hook.
 */
static void
write_replay(Ctx *c, Replay *r, Out *o, Entries *en, const char *new_desc)
{
	text	   *corr_ref = cstring_to_text(psprintf("Correction (back-dated move %lld)", (long long) c->m->cause));
	Changes		ch,
				prod;
	Landed		lc;

	changes_init(&ch, c->nmoves);
	changes_init(&prod, 0);
	lc.n = 0;
	lc.id = palloc(sizeof(Datum) * Max(c->nlines, 1));
	lc.move = palloc(sizeof(Datum) * Max(c->nlines, 1));
	lc.cap = palloc(sizeof(Datum) * Max(c->nlines, 1));

	out_move_corrections(c, o, en, corr_ref, new_desc, &ch, &prod);
	out_settle_landed(c, r, o, en, corr_ref, new_desc, &lc);
	out_price_method(c, r, o, en, corr_ref);
	write_out(c, o, en);
	write_state(c, r, &ch, &lc);
	if (prod.n > 0 && valuation_revalued_hook)
	{
		int64	   *ids = palloc(sizeof(int64) * prod.n);
		Numeric    *diffs = palloc(sizeof(Numeric) * prod.n);

		for (int i = 0; i < prod.n; i++)
		{
			ids[i] = DatumGetInt64(prod.id[i]);
			diffs[i] = DatumGetNumeric(prod.d[i]);
		}
		valuation_revalued_hook(c->m->company, c->m->cause, prod.n, ids, diffs);
	}
}

/* replay the prepared history; a refusal raises */
static void
run_replay(Ctx *c, Replay *r, int check_from)
{
	ReplayCode	rc;

	memset(r, 0, sizeof(*r));
	r->events = c->events;
	r->nevents = c->nevents;
	r->rounding = c->m->rounding;
	r->precision = c->m->precision;
	r->check_from = check_from;
	rc = ReplayRun(r);
	if (rc != REPLAY_OK)
		refuse(c, r, rc);
}

/* post a back-dated move: see the head of this file */
Numeric
ValuationBackdate(BackdateMove *m)
{
	Ctx			c;
	Replay		r;
	Out			o;
	Entries		en;
	char	   *new_desc = describe(m);
	Numeric		result;

	Assert(m->move != 0 && m->cause == m->move);
	memset(&o, 0, sizeof(o));
	memset(&en, 0, sizeof(en));
	memset(&c, 0, sizeof(c));
	prepare(&c, m);
	run_replay(&c, &r, (!c.allow_negative && !m->in) ? c.new_event : -1);
	result = out_new_move(&c, &r, &o, &en, new_desc);
	write_replay(&c, &r, &o, &en, new_desc);
	return result;
}

/*
 * Re-value a product's history after the cost of some of its done moves
 * changed (a production's finished goods re-costed after a back-dated move
 * of a component): every move whose value the replay changes gets its
 * correction, described after m->cause. m->move is 0; the running totals
 * are locked; SPI is connected.
 */
void
ValuationReplay(BackdateMove *m)
{
	Ctx			c;
	Replay		r;
	Out			o;
	Entries		en;

	Assert(m->move == 0 && m->cause != 0);
	memset(&o, 0, sizeof(o));
	memset(&en, 0, sizeof(en));
	memset(&c, 0, sizeof(c));
	prepare(&c, m);
	run_replay(&c, &r, -1);
	write_replay(&c, &r, &o, &en, "");
}

static char *
num_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/* what a replay in date order finds different from the stored rows (verify mode) */
static void
compare(Ctx *c, Replay *r)
{
	Settle	   *rs;
	int			nrs;

	for (int i = 0; i < c->nmoves; i++)
	{
		MoveRow    *mr = &c->moves[i];
		ReplayEvent *e = &c->events[mr->event];

		if (num_cmp(e->value, mr->stored) != 0)
			c->problems = lappend(c->problems,
								  psprintf("move %lld is valued %s but a replay in date order gives %s",
										   (long long) mr->id, num_text(mr->stored), num_text(e->value)));
	}
	for (int i = 0; i < c->nlines; i++)
	{
		LandedLine *ll = &c->lines[i];
		Numeric		recorded = num_zero();

		if (ll->event >= 0 && num_cmp(c->events[ll->event].value, ll->capitalised) != 0)
			c->problems = lappend(c->problems,
								  psprintf("landed cost %lld capitalised %s on move %lld but a replay in date order gives %s",
										   (long long) ll->landed_cost, num_text(ll->capitalised), (long long) ll->move,
										   num_text(c->events[ll->event].value)));
		/* the layers of a receipt at a date hold what its lines there say is capitalised */
		if (find_line(c, ll->move, ll->at) != ll)
			continue;
		for (int j = i; j < c->nlines; j++)
			if (c->lines[j].move == ll->move && c->lines[j].at == ll->at)
				recorded = num_add(recorded, c->lines[j].capitalised);
		if (num_cmp(recorded, ll->layers) != 0)
			c->problems = lappend(c->problems,
								  psprintf("the landed cost layers of move %lld dated %s hold %s but its landed costs capitalised %s",
										   (long long) ll->move, timestamptz_to_str(ll->at), num_text(ll->layers),
										   num_text(recorded)));
	}
	rs = settle_diffs(c, r, &nrs);
	for (int i = 0; i < nrs; i++)
		if (num_sign(rs[i].value) != 0)
			c->problems = lappend(c->problems,
								  psprintf("the negative stock of layer %lld settled by move %lld differs from a replay in date order by %s",
										   (long long) rs[i].parent, (long long) rs[i].move, num_text(rs[i].value)));
	for (int i = 0; i < c->nevents; i++)
	{
		ReplayEvent *e = &c->events[i];

		if (e->kind == RE_STDPRICE)
		{
			NonMove    *nm = find_nonmove(c, NM_STDPRICE, e->date);
			Numeric		stored = nm ? nm->value : num_zero();

			if (num_cmp(stored, e->value) != 0)
				c->problems = lappend(c->problems,
									  psprintf("the standard price change of %s revalued %s but a replay in date order gives %s",
											   timestamptz_to_str(e->date), num_text(stored), num_text(e->value)));
		}
		else if (e->kind == RE_METHOD)
		{
			NonMove    *in = find_nonmove(c, NM_METHOD_IN, e->date);
			Numeric		q = in ? in->qty : num_zero();
			Numeric		v = in ? in->value : num_zero();
			Numeric		rq = e->layer >= 0 ? e->out_qty : num_zero();

			if (num_cmp(q, rq) != 0 || num_cmp(v, e->value) != 0)
				c->problems = lappend(c->problems,
									  psprintf("the cost-method change of %s put back %s worth %s but a replay in date order gives %s worth %s",
											   timestamptz_to_str(e->date), num_text(q), num_text(v), num_text(rq), num_text(e->value)));
		}
	}
	{
		int		   *replayed = replayed_layers(c, r);

		for (int i = 0; i < c->nlayers; i++)
		{
			LayerRow   *s = &c->layers[i];
			Numeric		q = replayed[i] >= 0 ? r->layers[replayed[i]].rem_qty : num_zero();
			Numeric		v = replayed[i] >= 0 ? r->layers[replayed[i]].rem_value : num_zero();

			if (num_cmp(s->rem_qty, q) != 0 || num_cmp(s->rem_value, v) != 0)
				c->problems = lappend(c->problems,
									  psprintf("layer %lld holds %s worth %s open but a replay in date order leaves %s worth %s",
											   (long long) s->id, num_text(s->rem_qty), num_text(s->rem_value),
											   num_text(q), num_text(v)));
		}
	}
}

/* the replay of one product, in the caller's subtransaction: its problems */
static List *
verify_product(int64 company, int64 product)
{
	BackdateMove m;
	Ctx			c;
	Replay		r;
	ReplayCode	rc;
	Datum		a[2] = {Int64GetDatum(company), Int64GetDatum(product)};
	bool		isnull;

	memset(&m, 0, sizeof(m));
	m.company = company;
	m.product = product;
	brun(B_PRODUCT, a, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return NIL;
	m.sku = TextDatumGetCString(cell(0, 1, &isnull));
	m.name = TextDatumGetCString(cell(0, 2, &isnull));
	m.rounding = DatumGetNumeric(cell(0, 3, &isnull));
	m.precision = DatumGetInt32(cell(0, 4, &isnull));
	memset(&c, 0, sizeof(c));
	c.verify = true;			/* prepare() keeps the mode */
	prepare(&c, &m);
	memset(&r, 0, sizeof(r));
	r.events = c.events;
	r.nevents = c.nevents;
	r.rounding = m.rounding;
	r.precision = m.precision;
	r.check_from = -1;
	rc = ReplayRun(&r);
	if (rc != REPLAY_OK)
		return lappend(c.problems, psprintf("a replay in date order meets negative stock at the cost-method change of %s",
											timestamptz_to_str(c.events[r.failed_event].date)));
	compare(&c, &r);
	return c.problems;
}

/*
 * stock.replay_problems(p_company bigint, p_product bigint) RETURNS text[]:
 * what a replay of the product's history in date order finds different from
 * its stored move values, settlements, price and method changes and open
 * layers (stock.verify_valuation).  An error of the replay (bad stored data)
 * is reported as a problem, not raised.
 */
PG_FUNCTION_INFO_V1(pgerp_valuation_replay_problems);
Datum
pgerp_valuation_replay_problems(PG_FUNCTION_ARGS)
{
	int64		company = PG_GETARG_INT64(0);
	int64		product = PG_GETARG_INT64(1);
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *problems = NIL;
	List	   *copied = NIL;
	ListCell   *lc;
	Datum	   *items;
	int			n = 0;

	SPI_connect();
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		MemoryContext work = AllocSetContextCreate(caller, "replay", ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(work);

		problems = verify_product(company, product);
		MemoryContextSwitchTo(caller);
		foreach(lc, problems)
			copied = lappend(copied, pstrdup((char *) lfirst(lc)));
		MemoryContextDelete(work);
		(void) old;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		copied = list_make1(psprintf("a replay in date order fails: %s", edata->message));
	}
	PG_END_TRY();
	SPI_finish();
	items = palloc(sizeof(Datum) * Max(list_length(copied), 1));
	foreach(lc, copied)
		items[n++] = CStringGetTextDatum((char *) lfirst(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * stock._recost_product(p_company bigint, p_product bigint, p_cause bigint):
 * the product's history replayed after the unit cost of some of its done
 * receipts was changed by the caller (mrp._recost, for finished goods whose
 * components were re-valued by back-dated move p_cause). It locks the
 * product's running totals as a posting does. Not granted to anyone: the
 * caller is the pack's own SECURITY DEFINER code.
 */
PG_FUNCTION_INFO_V1(pgerp_valuation_recost_product);
Datum
pgerp_valuation_recost_product(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr lock_plan = NULL;
	Oid			t[2] = {INT8OID, INT8OID};
	Datum		a[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
	BackdateMove m;
	bool		isnull;

	memset(&m, 0, sizeof(m));
	m.company = PG_GETARG_INT64(0);
	m.product = PG_GETARG_INT64(1);
	m.cause = PG_GETARG_INT64(2);
	SPI_connect();
	(void) PgerpKeptPlan(&lock_plan,
						 "SELECT 1 FROM stock.product_value WHERE company_id OPERATOR(pg_catalog.=) $1"
						 " AND product_id OPERATOR(pg_catalog.=) $2 FOR UPDATE", 2, t);
	if (SPI_execute_plan(lock_plan, a, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "locking the running totals failed");
	/* internal: mrp._recost passes a product with posted moves, which have running totals */
	if (SPI_processed != 1)
		elog(ERROR, "product %lld of company %lld has no running totals", (long long) m.product, (long long) m.company);
	brun(B_PRODUCT, a, NULL, SPI_OK_SELECT);
	m.sku = TextDatumGetCString(cell(0, 1, &isnull));
	m.name = TextDatumGetCString(cell(0, 2, &isnull));
	m.rounding = DatumGetNumeric(cell(0, 3, &isnull));
	m.precision = DatumGetInt32(cell(0, 4, &isnull));
	ValuationReplay(&m);
	SPI_finish();
	PG_RETURN_VOID();
}
