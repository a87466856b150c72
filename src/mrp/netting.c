/*
 * The pure arithmetic of planning: lot sizing, netting one item over its
 * buckets, exact BOM factors, and the reorder quantity of a min/max rule.
 * No PostgreSQL state; every function returns a code.
 */
#include "postgres.h"

#include "common/int.h"

#include "pgerp/mrp.h"

/* The smallest multiple of step that is >= q (q >= 0, step > 0). */
MrpQty
MrpCeilTo(MrpQty q, MrpQty step)
{
	if (step <= 0 || q <= 0)
		return q;
	return ((q + step - 1) / step) * step;
}

/* *acc += q, or an overflow (acc unchanged). */
MrpResult
MrpAdd(MrpQty *acc, MrpQty q)
{
	MrpQty		r;

	if (pg_add_s64_overflow(*acc, q, &r))
		return MRP_OVERFLOW;
	*acc = r;
	return MRP_OK;
}

/*
 * A planned receipt for a net need: fixed lots (multiples of lot_qty until
 * the need is covered) or the need itself, then the minimum order, then the
 * multiple, then the unit's rounding, each raising the quantity.
 */
MrpResult
MrpLotSize(const MrpLotRule *r, MrpQty need, MrpQty *out)
{
	MrpQty		q = need;

	if (need <= 0)
	{
		*out = 0;
		return MRP_OK;
	}
	if (r->fixed)
	{
		if (r->lot_qty <= 0)
			return MRP_BAD_RULE;
		if (q > PG_INT64_MAX - r->lot_qty)
			return MRP_OVERFLOW;
		q = MrpCeilTo(q, r->lot_qty);
	}
	if (q < r->min_order)
		q = r->min_order;
	if (r->multiple > 0)
	{
		if (q > PG_INT64_MAX - r->multiple)
			return MRP_OVERFLOW;
		q = MrpCeilTo(q, r->multiple);
	}
	if (r->rounding > 0)
	{
		if (q > PG_INT64_MAX - r->rounding)
			return MRP_OVERFLOW;
		q = MrpCeilTo(q, r->rounding);
	}
	*out = q;
	return MRP_OK;
}

/*
 * Net one item: projected[b] = projected[b-1] + scheduled[b] + receipt[b]
 * - gross[b], starting from on hand; a planned receipt (lot-sized) whenever
 * the projection would fall below the safety stock. net[b] is what was
 * missing before lot sizing.
 */
MrpResult
MrpNetItem(const MrpLotRule *r, MrpQty on_hand, int nbuckets,
		   const MrpQty *gross, const MrpQty *scheduled,
		   MrpQty *projected, MrpQty *net, MrpQty *receipt)
{
	MrpQty		prev = on_hand;

	for (int b = 0; b < nbuckets; b++)
	{
		MrpQty		avail;
		MrpResult	res;

		if (pg_add_s64_overflow(prev, scheduled[b], &avail) ||
			pg_sub_s64_overflow(avail, gross[b], &avail))
			return MRP_OVERFLOW;
		net[b] = 0;
		receipt[b] = 0;
		if (avail < r->safety)
		{
			if (pg_sub_s64_overflow(r->safety, avail, &net[b]))
				return MRP_OVERFLOW;
			if ((res = MrpLotSize(r, net[b], &receipt[b])) != MRP_OK)
				return res;
			if (pg_add_s64_overflow(avail, receipt[b], &avail))
				return MRP_OVERFLOW;
		}
		projected[b] = avail;
		prev = avail;
	}
	return MRP_OK;
}

/* qty * num / den, rounded up to a millionth; exact when it divides. */
MrpResult
MrpApplyFactor(MrpQty qty, MrpFactor f, MrpQty *out)
{
	int128		p;
	int128		q;

	if (f.den <= 0 || f.num < 0 || qty < 0)
		return MRP_OVERFLOW;
	p = (int128) qty * (int128) f.num;
	q = (p + f.den - 1) / f.den;
	if (q > PG_INT64_MAX)
		return MRP_OVERFLOW;
	*out = (MrpQty) q;
	return MRP_OK;
}

static int64
gcd64(int64 a, int64 b)
{
	while (b != 0)
	{
		int64		t = a % b;

		a = b;
		b = t;
	}
	return a < 0 ? -a : a;
}

/* num / den reduced; den > 0 and num >= 0, else an overflow (a bad factor). */
MrpResult
MrpFactorMake(int64 num, int64 den, MrpFactor *out)
{
	int64		g;

	if (den <= 0 || num < 0)
		return MRP_OVERFLOW;
	g = gcd64(num, den);
	if (g == 0)
		g = 1;
	out->num = num / g;
	out->den = den / g;
	return MRP_OK;
}

/* a * b, reduced; an overflow when the exact fraction does not fit. */
MrpResult
MrpFactorMul(MrpFactor a, MrpFactor b, MrpFactor *out)
{
	int64		g1 = gcd64(a.num, b.den);
	int64		g2 = gcd64(b.num, a.den);
	int64		n,
				d;

	if (g1 == 0)
		g1 = 1;
	if (g2 == 0)
		g2 = 1;
	if (pg_mul_s64_overflow(a.num / g1, b.num / g2, &n) ||
		pg_mul_s64_overflow(a.den / g2, b.den / g1, &d))
		return MRP_OVERFLOW;
	out->num = n;
	out->den = d;
	return MRP_OK;
}

