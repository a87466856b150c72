/*
 * The replay of a product's valued events in date order: the same rules as
 * a posting (post.c), applied to arrays in memory.  A back-dated posting
 * (backdate.c) and stock.verify_valuation() both run it over the product's
 * whole history and compare its results with the stored layers.
 *
 * Open layers are consumed in date order (the order of the array: events
 * are processed in date order and each appends its layer).  Positive layers
 * only shrink and owing layers only fill up, so the first open one of each
 * kind is tracked with an index that only moves forward.
 */
#include "postgres.h"

#include "num.h"
#include "replay.h"

static bool
is(const char *method, const char *name)
{
	return strcmp(method, name) == 0;
}

static int
event_cmp(const void *a, const void *b)
{
	const ReplayEvent *x = a;
	const ReplayEvent *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return 0;
}

/* date order: by the date of its layer, then by the id of its first layer (posting order) */
void
ReplaySortEvents(ReplayEvent *events, int n)
{
	qsort(events, n, sizeof(ReplayEvent), event_cmp);
}

typedef struct MoveIndex
{
	int64		move;
	int			event;
} MoveIndex;

static int
move_index_cmp(const void *a, const void *b)
{
	const MoveIndex *x = a;
	const MoveIndex *y = b;

	return x->move < y->move ? -1 : (x->move > y->move ? 1 : 0);
}

/* origin_event of every return: the event of the move it returns, when valued */
void
ReplayLinkOrigins(ReplayEvent *events, int n)
{
	MoveIndex  *ix = palloc(sizeof(MoveIndex) * Max(n, 1));
	int			m = 0;

	for (int i = 0; i < n; i++)
		if (events[i].kind == RE_IN || events[i].kind == RE_OUT)
		{
			ix[m].move = events[i].move;
			ix[m].event = i;
			m++;
		}
	qsort(ix, m, sizeof(MoveIndex), move_index_cmp);
	for (int i = 0; i < n; i++)
	{
		MoveIndex	key;
		MoveIndex  *hit;

		events[i].origin_event = -1;
		if (!(events[i].kind == RE_IN || events[i].kind == RE_OUT) || events[i].origin == 0)
			continue;
		key.move = events[i].origin;
		hit = bsearch(&key, ix, m, sizeof(MoveIndex), move_index_cmp);
		/* a return comes after what it returns; anything else is not its origin */
		if (hit && hit->event < i)
			events[i].origin_event = hit->event;
	}
	pfree(ix);
}

static int
add_layer(Replay *r, int event, int64 id, int64 move, Numeric unit_cost, Numeric rem_qty, Numeric rem_value)
{
	ReplayLayer *l;

	if (r->nlayers == r->maxlayers)
	{
		r->maxlayers = Max(16, r->maxlayers * 2);
		r->layers = r->layers ? repalloc_huge(r->layers, sizeof(ReplayLayer) * r->maxlayers)
			: palloc_extended(sizeof(ReplayLayer) * r->maxlayers, MCXT_ALLOC_HUGE);
	}
	l = &r->layers[r->nlayers];
	l->id = id;
	l->move = move;
	l->event = event;
	l->unit_cost = unit_cost;
	l->rem_qty = rem_qty;
	l->rem_value = rem_value;
	return r->nlayers++;
}

static void
add_settlement(Replay *r, int event, int layer, Numeric value)
{
	if (r->nsettlements == r->maxsettlements)
	{
		r->maxsettlements = Max(16, r->maxsettlements * 2);
		r->settlements = r->settlements
			? repalloc_huge(r->settlements, sizeof(ReplaySettlement) * r->maxsettlements)
			: palloc_extended(sizeof(ReplaySettlement) * r->maxsettlements, MCXT_ALLOC_HUGE);
	}
	r->settlements[r->nsettlements].event = event;
	r->settlements[r->nsettlements].layer = layer;
	r->settlements[r->nsettlements].value = value;
	r->nsettlements++;
}

typedef struct Cursor
{
	int			first_open;		/* no positive layer before it */
	int			first_owing;	/* no owing layer before it */
} Cursor;

/* a receipt: its layer, then the stock owed by earlier outgoing layers, oldest first */
static void
replay_in(Replay *r, Cursor *cur, int ei)
{
	ReplayEvent *e = &r->events[ei];
	bool		standard = is(e->method, "standard");
	Numeric		cost;
	Numeric		value;
	Numeric		remaining = e->qty;
	Numeric		remaining_value;
	Numeric		corrections = num_zero();
	int			li;

	cost = standard ? e->standard : (e->unit_cost ? e->unit_cost : (r->last_cost ? r->last_cost : e->standard));
	value = num_round_to(num_mul(e->qty, cost), r->rounding);
	if (e->origin_event >= 0 && !standard)
	{
		/* a returned delivery comes back at what it went out at */
		ReplayEvent *o = &r->events[e->origin_event];

		value = num_share(num_neg(o->value), o->qty, e->qty, r->rounding);
		cost = num_round_scale(num_div(value, e->qty), r->precision);
	}
	remaining_value = value;
	for (int j = cur->first_owing; j < r->nlayers && num_sign(remaining) > 0; j++)
	{
		ReplayLayer *l = &r->layers[j];
		Numeric		take,
					est,
					part,
					corr;

		if (num_sign(l->rem_qty) >= 0)
		{
			if (j == cur->first_owing)
				cur->first_owing++;
			continue;
		}
		take = num_least(remaining, num_neg(l->rem_qty));
		est = num_neg(num_share(num_neg(l->rem_value), num_neg(l->rem_qty), take, r->rounding));
		part = num_share(remaining_value, remaining, take, r->rounding);
		l->rem_qty = num_add(l->rem_qty, take);
		l->rem_value = num_sub(l->rem_value, est);
		remaining = num_sub(remaining, take);
		remaining_value = num_sub(remaining_value, part);
		/* the outgoing move was estimated at est (negative); it really cost -part */
		corr = num_sub(num_neg(part), est);
		if (num_sign(corr) != 0 && !standard)
		{
			add_settlement(r, ei, j, corr);
			corrections = num_add(corrections, corr);
		}
	}
	li = add_layer(r, ei, e->layer_id, e->move, cost, remaining, remaining_value);
	e->layer = li;
	e->value = value;
	e->layer_cost = cost;
	r->qty = num_add(r->qty, e->qty);
	r->value = num_add(num_add(r->value, value), corrections);
	r->last_cost = cost;
	if (is(e->method, "avco") && num_sign(r->qty) > 0)
		r->last_cost = num_div(r->value, r->qty);
}

/* take up to *need from layer l; returns its value */
static Numeric
consume(Replay *r, ReplayLayer *l, Numeric *need)
{
	Numeric		take = num_least(*need, l->rem_qty);
	Numeric		part = num_share(l->rem_value, l->rem_qty, take, r->rounding);

	l->rem_qty = num_sub(l->rem_qty, take);
	l->rem_value = num_sub(l->rem_value, part);
	*need = num_sub(*need, take);
	return part;
}

/* an outgoing move: open layers oldest first (a returned receipt takes back its own first) */
static void
replay_out(Replay *r, Cursor *cur, int ei)
{
	ReplayEvent *e = &r->events[ei];
	Numeric		need = e->qty;
	Numeric		value = num_zero();
	Numeric		short_qty = num_zero();
	Numeric		short_value = num_zero();
	Numeric		last = r->last_cost;
	bool		fifo = is(e->method, "fifo");
	bool		standard = is(e->method, "standard");
	int			own = -1;

	if (e->origin_event >= 0)
	{
		own = r->events[e->origin_event].layer;
		if (own >= 0 && num_sign(r->layers[own].rem_qty) > 0)
		{
			value = num_add(value, consume(r, &r->layers[own], &need));
			if (fifo)
				last = r->layers[own].unit_cost;
		}
	}
	for (int j = cur->first_open; j < r->nlayers && num_sign(need) > 0; j++)
	{
		ReplayLayer *l = &r->layers[j];

		if (num_sign(l->rem_qty) <= 0)
		{
			if (j == cur->first_open)
				cur->first_open++;
			continue;
		}
		if (j == own)
			continue;
		value = num_add(value, consume(r, l, &need));
		if (fifo)
			last = l->unit_cost;
	}
	if (num_sign(need) > 0)
	{
		/* going negative: the missing quantity is owed, valued at the last cost */
		short_qty = need;
		short_value = num_round_to(num_mul(short_qty, standard ? e->standard : (last ? last : e->standard)),
								   r->rounding);
	}
	if (fifo)
		value = num_add(value, short_value);
	else if (standard)
		value = num_round_to(num_mul(e->qty, e->standard), r->rounding);
	else if (e->origin_event >= 0)
	{
		/* a returned receipt goes back at what it came in at */
		ReplayEvent *o = &r->events[e->origin_event];

		value = num_share(o->value, o->qty, e->qty, r->rounding);
	}
	else
	{
		/* avco: the share of the value on hand; the part beyond it at the last average */
		Numeric		on_hand = num_sign(r->qty) > 0 ? r->qty : num_zero();

		value = num_sign(on_hand) > 0 ? num_share(r->value, on_hand, num_least(e->qty, on_hand), r->rounding) : num_zero();
		if (num_cmp(e->qty, on_hand) > 0)
			value = num_add(value, num_round_to(num_mul(num_sub(e->qty, on_hand), last ? last : e->standard),
												r->rounding));
	}
	e->layer_cost = num_round_scale(num_div(value, e->qty), r->precision);
	e->short_qty = short_qty;
	e->short_value = short_value;
	e->layer = add_layer(r, ei, e->layer_id, e->move, e->layer_cost, num_neg(short_qty), num_neg(short_value));
	e->value = num_neg(value);
	r->qty = num_sub(r->qty, e->qty);
	r->value = num_sub(r->value, value);
	r->last_cost = last;
}

/* spread amount over the open layers by remaining quantity, as stock.revalue() does */
static void
spread(Replay *r, Cursor *cur, Numeric amount)
{
	Numeric		total = num_zero();
	Numeric		left = amount;

	for (int j = cur->first_open; j < r->nlayers; j++)
		if (num_sign(r->layers[j].rem_qty) > 0)
			total = num_add(total, r->layers[j].rem_qty);
	for (int j = cur->first_open; j < r->nlayers && num_sign(total) > 0; j++)
	{
		ReplayLayer *l = &r->layers[j];
		Numeric		part;

		if (num_sign(l->rem_qty) <= 0)
			continue;
		part = num_share(left, total, l->rem_qty, r->rounding);
		l->rem_value = num_add(l->rem_value, part);
		left = num_sub(left, part);
		total = num_sub(total, l->rem_qty);
	}
}

static void
add_value(Replay *r, ReplayEvent *e, Numeric amount)
{
	r->value = num_add(r->value, amount);
	if (is(e->method, "avco") && num_sign(r->qty) > 0)
		r->last_cost = num_div(r->value, r->qty);
}

/*
 * A landed cost's share on one receipt, as stock.apply_landed_cost() splits
 * it: the part on the quantity the receipt's layer still holds at this date
 * is capitalised on that layer, the rest is expensed (standard cost: all of
 * it).  A back-dated move that changes what the layer holds here changes the
 * split; backdate.c writes the difference.  Hand-made layers without a line
 * (fixed) keep the amount capitalised as posted.
 */
static void
replay_landed(Replay *r, Cursor *cur, int ei)
{
	ReplayEvent *e = &r->events[ei];
	int			parent = -1;
	Numeric		cap = num_zero();

	for (int j = r->nlayers - 1; j >= 0 && parent < 0; j--)
		if (r->layers[j].id == e->parent_layer)
			parent = j;
	if (e->fixed)
	{
		if (parent >= 0 && num_sign(r->layers[parent].rem_qty) > 0)
			r->layers[parent].rem_value = num_add(r->layers[parent].rem_value, e->amount);
		else
			spread(r, cur, e->amount);
		e->value = e->amount;
		add_value(r, e, e->amount);
		return;
	}
	if (parent >= 0 && !is(e->method, "standard") && num_sign(r->layers[parent].rem_qty) > 0)
	{
		ReplayLayer *l = &r->layers[parent];
		Numeric		qty = r->events[l->event].qty;

		cap = num_share(e->amount, qty, num_least(l->rem_qty, qty), r->rounding);
		l->rem_value = num_add(l->rem_value, cap);
	}
	e->value = cap;
	add_value(r, e, cap);
}

/* a cost-method change: everything open is emptied, the stock comes back as one layer */
static ReplayCode
replay_method(Replay *r, Cursor *cur, int ei)
{
	ReplayEvent *e = &r->events[ei];
	Numeric		new_value;

	e->layer = -1;
	e->out_qty = num_zero();
	e->out_value = num_zero();
	e->value = num_zero();
	if (num_sign(r->qty) < 0)
		return REPLAY_METHOD_NEGATIVE;
	if (num_sign(r->qty) == 0)
		return REPLAY_OK;
	new_value = is(e->method, "standard") ? num_round_to(num_mul(r->qty, e->standard), r->rounding) : r->value;
	for (int j = 0; j < r->nlayers; j++)
	{
		r->layers[j].rem_qty = num_zero();
		r->layers[j].rem_value = num_zero();
	}
	cur->first_open = cur->first_owing = r->nlayers;
	e->out_qty = r->qty;
	e->out_value = r->value;
	e->value = new_value;
	e->layer_cost = num_round_scale(num_div(new_value, r->qty), r->precision);
	e->layer = add_layer(r, ei, e->layer_id, 0, e->layer_cost, r->qty, new_value);
	r->value = new_value;
	r->last_cost = e->layer_cost;
	return REPLAY_OK;
}

/*
 * Replay every event in order.  Returns REPLAY_OK, or a code with
 * r->failed_event set; arithmetic errors are raised (num.h).
 */
ReplayCode
ReplayRun(Replay *r)
{
	Cursor		cur = {0, 0};

	r->qty = num_zero();
	r->value = num_zero();
	r->last_cost = NULL;
	r->failed_event = -1;
	for (int i = 0; i < r->nevents; i++)
	{
		ReplayEvent *e = &r->events[i];

		e->layer = -1;
		switch (e->kind)
		{
			case RE_IN:
				replay_in(r, &cur, i);
				break;
			case RE_OUT:
				replay_out(r, &cur, i);
				break;
			case RE_REVALUE:
				spread(r, &cur, e->amount);
				add_value(r, e, e->amount);
				break;
			case RE_LANDED:
				replay_landed(r, &cur, i);
				break;
			case RE_STDPRICE:
				e->value = num_zero();
				if (is(e->method, "standard") && num_sign(r->qty) != 0)
					e->value = num_round_to(num_mul(r->qty, num_sub(e->amount, e->old_price)), r->rounding);
				r->value = num_add(r->value, e->value);
				break;
			case RE_METHOD:
				if (replay_method(r, &cur, i) != REPLAY_OK)
				{
					r->failed_event = i;
					return REPLAY_METHOD_NEGATIVE;
				}
				break;
		}
		if (r->check_from >= 0 && i >= r->check_from && num_sign(r->qty) < 0)
		{
			r->failed_event = i;
			return REPLAY_NEGATIVE;
		}
	}
	return REPLAY_OK;
}
