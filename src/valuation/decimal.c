/*
 * Exact decimals on int64 (decimal.h): the stored numeric read in place,
 * sums, the unit cost's division and rounding, the numeric written back.
 */
#include "postgres.h"

#include "common/int.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "decimal.h"

/* The on-disk numeric header (numeric.c; a stable storage format). */
#define RN_SIGN_MASK	0xC000
#define RN_NEG			0x4000
#define RN_SHORT		0x8000
#define RN_SPECIAL		0xC000
#define RN_SHORT_SIGN_MASK	0x2000
#define RN_SHORT_DSCALE_MASK	0x1F80
#define RN_SHORT_DSCALE_SHIFT	7
#define RN_SHORT_DSCALE_MAX	(RN_SHORT_DSCALE_MASK >> RN_SHORT_DSCALE_SHIFT)
#define RN_SHORT_WEIGHT_SIGN_MASK	0x0040
#define RN_SHORT_WEIGHT_MASK	0x003F
#define RN_DSCALE_MASK	0x3FFF
#define RN_NBASE		10000
#define RN_MIN_SIG_DIGITS	16	/* NUMERIC_MIN_SIG_DIGITS */
#define RN_MAX_DISPLAY_SCALE	1000	/* NUMERIC_MAX_DISPLAY_SCALE */

static const int64 pow10_64[19] = {
	INT64CONST(1), INT64CONST(10), INT64CONST(100), INT64CONST(1000), INT64CONST(10000),
	INT64CONST(100000), INT64CONST(1000000), INT64CONST(10000000), INT64CONST(100000000),
	INT64CONST(1000000000), INT64CONST(10000000000), INT64CONST(100000000000),
	INT64CONST(1000000000000), INT64CONST(10000000000000), INT64CONST(100000000000000),
	INT64CONST(1000000000000000), INT64CONST(10000000000000000), INT64CONST(100000000000000000),
	INT64CONST(1000000000000000000)
};

/* PG_INT64_MAX / 10^e: the largest x with x * 10^e in int64 */
static const uint64 max_mul_64[19] = {
	UINT64CONST(9223372036854775807), UINT64CONST(922337203685477580), UINT64CONST(92233720368547758),
	UINT64CONST(9223372036854775), UINT64CONST(922337203685477), UINT64CONST(92233720368547),
	UINT64CONST(9223372036854), UINT64CONST(922337203685), UINT64CONST(92233720368),
	UINT64CONST(9223372036), UINT64CONST(922337203), UINT64CONST(92233720),
	UINT64CONST(9223372), UINT64CONST(922337), UINT64CONST(92233),
	UINT64CONST(9223), UINT64CONST(922), UINT64CONST(92),
	UINT64CONST(9)
};

/* 10^e as uint128, e in 0..38 */
static inline uint128
pow10_128(int e)
{
	uint128		r = 1;

	while (e >= 18)
	{
		r *= (uint128) pow10_64[18];
		e -= 18;
	}
	return r * (uint128) pow10_64[e];
}

/* x * 10^e into *x unless it overflows (e in 0..38) */
static inline bool
mul_pow10_128(uint128 *x, int e)
{
	uint128		p = pow10_128(e);

	if (*x != 0 && *x > ~((uint128) 0) / p)
		return false;
	*x *= p;
	return true;
}

/*
 * A stored numeric as v * 10^-dscale, read in place (no detoast copy),
 * false when it does not fit (special, compressed, too many digits).
 */
static inline bool
dec_read(Datum d, int64 *v, int32 *scale)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	const char *data;
	int			len;
	uint16		h;
	int			weight;
	int			dscale;
	int			hdr;
	bool		neg;
	int			ndigits;
	int128		acc = 0;
	int			i;

	if (VARATT_IS_EXTENDED(p) && !VARATT_IS_SHORT(p))
		return false;
	data = VARDATA_ANY(p);
	len = VARSIZE_ANY_EXHDR(p);
	if (len < (int) sizeof(uint16))
		return false;
	memcpy(&h, data, sizeof(h));
	if ((h & RN_SIGN_MASK) == RN_SHORT)
	{
		neg = (h & RN_SHORT_SIGN_MASK) != 0;
		dscale = (h & RN_SHORT_DSCALE_MASK) >> RN_SHORT_DSCALE_SHIFT;
		weight = h & RN_SHORT_WEIGHT_MASK;
		if (h & RN_SHORT_WEIGHT_SIGN_MASK)
			weight |= ~RN_SHORT_WEIGHT_MASK;
		hdr = sizeof(uint16);
	}
	else if ((h & RN_SIGN_MASK) == RN_SPECIAL)
		return false;
	else
	{
		int16		w;

		if (len < (int) (2 * sizeof(uint16)))
			return false;
		neg = (h & RN_SIGN_MASK) == RN_NEG;
		dscale = h & RN_DSCALE_MASK;
		memcpy(&w, data + sizeof(uint16), sizeof(w));
		weight = w;
		hdr = 2 * sizeof(uint16);
	}
	if (dscale > DEC_MAX_FAST_SCALE)
		return false;
	ndigits = (len - hdr) / (int) sizeof(int16);
	if (ndigits > 0 && (ndigits > 6 || 4 * weight + dscale > 18))
		return false;			/* beyond int64 */
	/* the digits as one integer (below 10^24), times 10^e for the scale */
	if (ndigits == 0)
	{
		*v = 0;
		*scale = dscale;
		return true;
	}
	if (ndigits <= 4)
	{
		uint64		a = 0;		/* below 10^16: 64-bit arithmetic */
		int			e = 4 * (weight - (ndigits - 1)) + dscale;

		for (i = 0; i < ndigits; i++)
		{
			int16		digit;

			memcpy(&digit, data + hdr + i * sizeof(int16), sizeof(digit));
			a = a * RN_NBASE + digit;
		}
		if (e >= 0)
		{
			if (e > 18 || a > max_mul_64[e])
				return false;
			a *= pow10_64[e];
		}
		else if (e >= -3)
			a /= pow10_64[-e];
		else
			return false;
		*v = neg ? -(int64) a : (int64) a;
		*scale = dscale;
		return true;
	}
	for (i = 0; i < ndigits; i++)
	{
		int16		digit;

		memcpy(&digit, data + hdr + i * sizeof(int16), sizeof(digit));
		acc = acc * RN_NBASE + digit;
	}
	{
		int			e = 4 * (weight - (ndigits - 1)) + dscale;

		if (e >= 0)
		{
			if (e > 18 || acc > PG_INT64_MAX)
				return false;
			acc *= pow10_64[e];
		}
		else if (e >= -3)
			acc /= pow10_64[-e];	/* the digits past dscale are zero */
		else
			return false;
	}
	if (acc > PG_INT64_MAX)
		return false;
	*v = neg ? -(int64) acc : (int64) acc;
	*scale = dscale;
	return true;
}

/*
 * v * 10^-scale as a numeric in buf (at least 32 bytes, int-aligned), in
 * make_result()'s format: no leading or trailing zero digits, zero with
 * weight 0 and a positive sign, the short header (scale <= 18 here).
 */
Datum
DecNumeric(int64 v, int32 scale, char *buf)
{
	uint64		m = v < 0 ? -(uint64) v : (uint64) v;
	int			pad = (4 - scale % 4) % 4;
	uint128		x = (uint128) m * (uint128) (uint64) pow10_64[pad];
	int			frac = (scale + pad) / 4;
	int16		digs[12];
	int			n = 0;
	int			lo = 0;
	int			weight = 0;
	int			len;
	uint16		h;
	int			i;

	Assert(scale >= 0 && scale <= DEC_MAX_FAST_SCALE);
	if (x <= PG_UINT64_MAX)
	{
		uint64		y = (uint64) x; /* division by a constant: no 128-bit call */

		while (y > 0)
		{
			digs[n++] = (int16) (y % RN_NBASE);
			y /= RN_NBASE;
		}
	}
	else
		while (x > 0)
		{
			digs[n++] = (int16) (x % RN_NBASE);
			x /= RN_NBASE;
		}
	while (lo < n && digs[lo] == 0)
		lo++;
	if (lo == n)
		n = lo = 0;				/* zero: no digit, weight 0, positive */
	else
		weight = (n - 1) - frac;
	h = RN_SHORT | ((n > 0 && v < 0) ? RN_SHORT_SIGN_MASK : 0) | (scale << RN_SHORT_DSCALE_SHIFT) |
		(weight < 0 ? RN_SHORT_WEIGHT_SIGN_MASK : 0) | (weight & RN_SHORT_WEIGHT_MASK);
	len = VARHDRSZ + sizeof(uint16) + (n - lo) * sizeof(int16);
	SET_VARSIZE(buf, len);
	memcpy(buf + VARHDRSZ, &h, sizeof(h));
	for (i = n - 1; i >= lo; i--)
		memcpy(buf + VARHDRSZ + sizeof(uint16) + (n - 1 - i) * sizeof(int16), &digs[i], sizeof(int16));
	return PointerGetDatum(buf);
}

/* The base-10000 weight and first digit of v * 10^-scale, as select_div_scale() finds them (0 and 0 for zero). */
static void
dec_weight(int64 v, int32 scale, int *weight, int *first)
{
	uint64		m = v < 0 ? -(uint64) v : (uint64) v;
	int			pad = (4 - scale % 4) % 4;
	uint128		x = (uint128) m * (uint128) pow10_64[pad];
	int			k = 0;

	if (x == 0)
	{
		*weight = 0;
		*first = 0;
		return;
	}
	while (x > PG_UINT64_MAX)
	{
		x /= RN_NBASE;
		k++;
	}
	{
		uint64		y = (uint64) x;

		while (y >= RN_NBASE)
		{
			y /= RN_NBASE;
			k++;
		}
		*first = (int) y;
	}
	*weight = k - (scale + pad) / 4;
}

/* a + b (a numeric_add), false on overflow */
static inline bool
dec_add(int64 *av, int32 *ascale, int64 bv, int32 bscale)
{
	int64		a = *av;

	if (bscale > *ascale)
	{
		if (pg_mul_s64_overflow(a, pow10_64[bscale - *ascale], &a))
			return false;
		*ascale = bscale;
	}
	else if (bscale < *ascale && pg_mul_s64_overflow(bv, pow10_64[*ascale - bscale], &bv))
		return false;
	if (pg_add_s64_overflow(a, bv, &a))
		return false;
	*av = a;
	return true;
}

/*
 * round(value / qty, precision) as numeric_div then numeric_round compute
 * it: the quotient rounded (half away from zero) at select_div_scale()'s
 * scale, then at the precision. False when it does not fit (the caller uses
 * the numeric functions).
 */
bool
DecUnitCost(int64 value, int32 vscale, int64 qty, int32 qscale, int precision, int64 *out)
{
	int			w1,
				f1,
				w2,
				f2;
	int			qweight;
	int			rscale;
	int			e;
	uint128		num = value < 0 ? -(uint128) value : (uint128) value;
	uint128		den = qty < 0 ? -(uint128) qty : (uint128) qty;
	uint128		q;
	uint128		rem;
	bool		neg = (value < 0) != (qty < 0);

	Assert(qty != 0);
	if (precision < 0 || precision > DEC_MAX_FAST_SCALE)
		return false;
	dec_weight(value, vscale, &w1, &f1);
	dec_weight(qty, qscale, &w2, &f2);
	qweight = w1 - w2;
	if (f1 <= f2)
		qweight--;
	rscale = RN_MIN_SIG_DIGITS - qweight * 4;
	rscale = Max(rscale, vscale);
	rscale = Max(rscale, qscale);
	rscale = Max(rscale, 0);
	rscale = Min(rscale, RN_MAX_DISPLAY_SCALE);
	/* (value / qty) * 10^rscale = value * 10^(qscale + rscale - vscale) / qty */
	e = qscale + rscale - vscale;
	if (e > 38 || e < -38)
		return false;
	if (!mul_pow10_128(e >= 0 ? &num : &den, e >= 0 ? e : -e))
		return false;
	if (num <= PG_UINT64_MAX && den <= PG_UINT64_MAX)
	{
		q = (uint64) num / (uint64) den;
		rem = (uint64) num % (uint64) den;
	}
	else
	{
		q = num / den;
		rem = num % den;
	}
	if (rem >= den - rem)
		q++;
	if (precision >= rscale)
	{
		if (!mul_pow10_128(&q, precision - rscale))
			return false;
	}
	else
	{
		uint128		d;

		if (rscale - precision > 38)
			return false;
		d = pow10_128(rscale - precision);
		if (q <= PG_UINT64_MAX && d <= PG_UINT64_MAX)
		{
			rem = (uint64) q % (uint64) d;
			q = (uint64) q / (uint64) d;
		}
		else
		{
			rem = q % d;
			q /= d;
		}
		if (rem >= d - rem)
			q++;
	}
	if (q > (uint128) PG_INT64_MAX)
		return false;
	*out = neg ? -(int64) q : (int64) q;
	return true;
}

/* a sum as a numeric (of the current memory context when slow) */
Numeric
DecSumNumeric(DecSum *s)
{
	return s->slow != NULL ? s->slow : int64_div_fast_to_numeric(s->v, s->scale);
}

/* s += d (a stored numeric), exact; the numeric's scale is the larger one */
void
DecSumAdd(DecSum *s, Datum d)
{
	int64		v;
	int32		scale;

	if (likely(s->slow == NULL) && dec_read(d, &v, &scale) && dec_add(&s->v, &s->scale, v, scale))
		return;
	s->slow = numeric_add_opt_error(DecSumNumeric(s), DatumGetNumeric(d), NULL);
}
