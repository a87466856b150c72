/*
 * The replay of a product's valued history in date order (docs/valuation.md,
 * "Back-dated moves"): plain computation over arrays, no SPI.  backdate.c
 * loads the arrays, runs ReplayRun() and writes what differs from the stored
 * rows; stock._replay_differences() (verify_valuation) compares only.
 */
#ifndef PGERP_VALUATION_REPLAY_H
#define PGERP_VALUATION_REPLAY_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/numeric.h"

typedef enum ReplayEventKind
{
	RE_IN,						/* a valued move into stock */
	RE_OUT,						/* a valued move out of stock */
	RE_REVALUE,					/* stock.revalue(): a fixed amount over the open layers */
	RE_LANDED,					/* a landed cost's share on a receipt: re-split by what it holds */
	RE_STDPRICE,				/* stock.set_standard_price(): on hand x (new - old) */
	RE_METHOD					/* stock.set_cost_method(): stock out and in again */
} ReplayEventKind;

typedef enum ReplayCode
{
	REPLAY_OK = 0,
	REPLAY_NEGATIVE,			/* on hand below zero after the new move (negative stock off) */
	REPLAY_METHOD_NEGATIVE		/* a cost-method change meets negative stock */
} ReplayCode;

/* an inventory layer: one per move, plus the "stock in" of a method change */
typedef struct ReplayLayer
{
	int64		id;				/* stored layer id (the new move's is allocated first); 0 when none yet */
	int64		move;			/* move id, 0 for a method change */
	int			event;			/* index of the event that made it */
	Numeric		unit_cost;
	Numeric		rem_qty;
	Numeric		rem_value;
} ReplayLayer;

typedef struct ReplayEvent
{
	ReplayEventKind kind;
	TimestampTz date;			/* the date of its layer (a report at a date sums layers up to it) */
	int64		order;			/* tie-break within a date: the id of its first layer */
	int64		move;			/* IN/OUT: the move; LANDED: the receipt */
	int64		origin;			/* IN/OUT: the move it returns, 0 when none */
	int			origin_event;	/* index of that move's event, -1 when none or not valued */
	Numeric		qty;			/* IN/OUT: the quantity moved */
	Numeric		unit_cost;		/* IN: the given cost, NULL when none */
	Numeric		amount;			/* REVALUE: the value added; LANDED: the receipt's share (fixed:
								 * the amount capitalised); STDPRICE: the new price */
	bool		fixed;			/* LANDED without a stock.landed_cost_line (hand-made data): the
								 * capitalised amount is kept as posted */
	Numeric		old_price;		/* STDPRICE: the price before */
	int64		parent_layer;	/* LANDED: the receipt's layer id */
	int64		layer_id;		/* IN/OUT: its stored layer (the new move's: allocated before);
								 * METHOD: its stored "stock in" layer, 0 when none */
	int			aux;			/* the caller's (LANDED: its landed cost line), -1 when none */
	const char *method;			/* the cost method in force (METHOD: the new one) */
	const char *old_method;		/* METHOD: the one before */
	Numeric		standard;		/* the standard price in force */
	/* results */
	int			layer;			/* IN/OUT/METHOD: its inventory layer's index, -1 when none */
	Numeric		value;			/* IN/OUT: the move's value as its layer's (negative out);
								 * STDPRICE: the revaluation; METHOD: the "stock in" value;
								 * LANDED: the part of the share capitalised */
	Numeric		layer_cost;		/* IN/OUT/METHOD: the unit cost shown on its layer */
	Numeric		short_qty;		/* OUT: owed quantity (positive) */
	Numeric		short_value;	/* OUT: its estimated value (positive) */
	Numeric		out_qty;		/* METHOD: quantity taken out (positive) */
	Numeric		out_value;		/* METHOD: value taken out */
} ReplayEvent;

/* a receipt settling stock owed by an earlier outgoing layer */
typedef struct ReplaySettlement
{
	int			event;			/* the receipt's event */
	int			layer;			/* the owing layer's index */
	Numeric		value;			/* the correction (actual cost minus estimate, as a layer value) */
} ReplaySettlement;

typedef struct Replay
{
	/* input */
	ReplayEvent *events;		/* in date order (date, order) */
	int			nevents;
	Numeric		rounding;
	int32		precision;
	int			check_from;		/* REPLAY_NEGATIVE: events from this index on; -1: no check */
	/* working state and output */
	ReplayLayer *layers;
	int			nlayers;
	int			maxlayers;
	ReplaySettlement *settlements;
	int			nsettlements;
	int			maxsettlements;
	Numeric		qty;
	Numeric		value;
	Numeric		last_cost;		/* NULL while never set */
	int			failed_event;	/* the event a code other than REPLAY_OK is about */
} Replay;

extern void ReplaySortEvents(ReplayEvent *events, int n);
extern void ReplayLinkOrigins(ReplayEvent *events, int n);
extern ReplayCode ReplayRun(Replay *r);

#endif
