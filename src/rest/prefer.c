/*
 * Request headers PostgREST reads: Prefer (and the Preference-Applied value
 * written back), Range and Accept.  Plain C, no PostgreSQL call.
 */
#include "parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* [s, e) with blanks stripped on both sides */
static void
strip(const char *s, size_t *b, size_t *e)
{
	while (*b < *e && is_blank(s[*b]))
		(*b)++;
	while (*e > *b && is_blank(s[*e - 1]))
		(*e)--;
}

static bool
span_is(const char *s, size_t b, size_t e, const char *lit)
{
	return strlen(lit) == e - b && memcmp(s + b, lit, e - b) == 0;
}

/* A non-negative decimal integer filling [b, e), within int64 */
static bool
span_int64(const char *s, size_t b, size_t e, int64_t *out)
{
	int64_t		v = 0;

	if (b >= e)
		return false;
	for (; b < e; b++)
	{
		if (s[b] < '0' || s[b] > '9')
			return false;
		if (v > (INT64_MAX - (s[b] - '0')) / 10)
			return false;
		v = v * 10 + (s[b] - '0');
	}
	*out = v;
	return true;
}

/*
 * One Prefer entry; the first entry of each kind wins, as in PostgREST.
 * Returns false when the entry is not understood.
 */
static bool
prefer_entry(const char *s, size_t b, size_t e, const RestAlloc *a, RestPrefer *p, bool *nomem)
{
	static const struct
	{
		const char *text;
		int			kind;
		int			value;
	}			known[] = {
		{"return=minimal", 0, REST_RETURN_MINIMAL},
		{"return=representation", 0, REST_RETURN_REPRESENTATION},
		{"return=headers-only", 0, REST_RETURN_HEADERS_ONLY},
		{"count=exact", 1, REST_COUNT_EXACT},
		{"count=planned", 1, REST_COUNT_PLANNED},
		{"count=estimated", 1, REST_COUNT_ESTIMATED},
		{"resolution=merge-duplicates", 2, REST_RESOLUTION_MERGE},
		{"resolution=ignore-duplicates", 2, REST_RESOLUTION_IGNORE},
		{"missing=default", 3, REST_MISSING_DEFAULT},
		{"missing=null", 3, REST_MISSING_NULL},
		{"handling=strict", 4, REST_HANDLING_STRICT},
		{"handling=lenient", 4, REST_HANDLING_LENIENT},
		{"tx=commit", 5, REST_TX_COMMIT},
		{"tx=rollback", 5, REST_TX_ROLLBACK},
	};
	size_t		k;

	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
	{
		int			v = known[k].value;

		if (!span_is(s, b, e, known[k].text))
			continue;
		switch (known[k].kind)
		{
			case 0:
				if (p->ret == REST_RETURN_DEFAULT)
					p->ret = (RestReturn) v;
				break;
			case 1:
				if (p->count == REST_COUNT_NONE)
					p->count = (RestCount) v;
				break;
			case 2:
				if (p->resolution == REST_RESOLUTION_NONE)
					p->resolution = (RestResolution) v;
				break;
			case 3:
				if (p->missing == REST_MISSING_NONE)
					p->missing = (RestMissing) v;
				break;
			case 4:
				if (p->handling == REST_HANDLING_NONE)
					p->handling = (RestHandling) v;
				break;
			default:
				if (p->tx == REST_TX_NONE)
					p->tx = (RestTx) v;
				break;
		}
		return true;
	}
	if (e - b >= 9 && memcmp(s + b, "timezone=", 9) == 0)
	{
		if (p->timezone == NULL && (p->timezone = RestStrndup(a, s + b + 9, e - b - 9)) == NULL)
			*nomem = true;
		return true;
	}
	if (e - b >= 13 && memcmp(s + b, "max-affected=", 13) == 0)
	{
		/* PostgREST accepts the entry even when N is not a number (then unset) */
		if (!p->has_max_affected && span_int64(s, b + 13, e, &p->max_affected))
			p->has_max_affected = true;
		return true;
	}
	return false;
}

/* Prefer: entries separated by ',', blanks around them ignored */
RestCode
RestParsePrefer(const char *h, const RestAlloc *a, RestPrefer *out, RestError *err)
{
	size_t		len,
				b = 0,
				i;

	memset(out, 0, sizeof(*out));
	if (h == NULL)
		return REST_OK;
	len = RestBoundedLen(h);
	if (len > REST_MAX_INPUT)
		return RestFail(err, REST_ETOOMANY, REST_MAX_INPUT, "header longer than %d bytes", REST_MAX_INPUT);
	for (i = 0; i <= len; i++)
	{
		size_t		eb,
					ee;
		bool		nomem = false;

		if (i < len && h[i] != ',')
			continue;
		eb = b;
		ee = i;
		b = i + 1;
		strip(h, &eb, &ee);
		if (eb == ee)
			continue;			/* "a, , b": nothing to refuse */
		if (!prefer_entry(h, eb, ee, a, out, &nomem))
		{
			if (out->ninvalid++ == 0 && (out->first_invalid = RestStrndup(a, h + eb, ee - eb)) == NULL)
				nomem = true;
		}
		if (nomem)
			return RestFail(err, REST_ENOMEM, eb, "out of memory");
	}
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	return REST_OK;
}

/* Append ", item" (or "item" first), never writing past size */
static void
append(char *buf, size_t size, size_t *used, const char *item)
{
	const char *parts[2];
	int			k;

	parts[0] = *used > 0 ? ", " : "";
	parts[1] = item;
	for (k = 0; k < 2; k++)
	{
		const char *c;

		for (c = parts[k]; *c != '\0' && *used + 1 < size; c++)
			buf[(*used)++] = *c;
	}
	buf[*used] = '\0';
}

/*
 * Preference-Applied in PostgREST's order: resolution, missing, return,
 * count, tx, handling, timezone, max-affected.  Defaults are never written.
 */
void
RestFormatPreferApplied(const RestPrefer *p, unsigned flags, char *buf, size_t size)
{
	static const char *const rets[] = {NULL, "return=minimal", "return=representation", "return=headers-only"};
	static const char *const counts[] = {NULL, "count=exact", "count=planned", "count=estimated"};
	static const char *const resols[] = {NULL, "resolution=merge-duplicates", "resolution=ignore-duplicates"};
	static const char *const missings[] = {NULL, "missing=default", "missing=null"};
	static const char *const handlings[] = {NULL, "handling=lenient", "handling=strict"};
	static const char *const txs[] = {NULL, "tx=commit", "tx=rollback"};
	size_t		used = 0;
	char		tmp[64];

	if (size == 0)
		return;
	buf[0] = '\0';
	if ((flags & REST_APPLIED_RESOLUTION) && p->resolution != REST_RESOLUTION_NONE)
		append(buf, size, &used, resols[p->resolution]);
	if ((flags & REST_APPLIED_MISSING) && p->missing != REST_MISSING_NONE)
		append(buf, size, &used, missings[p->missing]);
	if ((flags & REST_APPLIED_RETURN) && p->ret != REST_RETURN_DEFAULT)
		append(buf, size, &used, rets[p->ret]);
	if ((flags & REST_APPLIED_COUNT) && p->count != REST_COUNT_NONE)
		append(buf, size, &used, counts[p->count]);
	if ((flags & REST_APPLIED_TX) && p->tx != REST_TX_NONE)
		append(buf, size, &used, txs[p->tx]);
	if ((flags & REST_APPLIED_HANDLING) && p->handling != REST_HANDLING_NONE)
		append(buf, size, &used, handlings[p->handling]);
	if ((flags & REST_APPLIED_TIMEZONE) && p->timezone != NULL)
	{
		const char *c;

		append(buf, size, &used, "timezone=");
		/* no ", " between the key and its value */
		for (c = p->timezone; *c != '\0' && used + 1 < size; c++)
			buf[used++] = *c;
		buf[used] = '\0';
	}
	if ((flags & REST_APPLIED_MAX_AFFECTED) && p->has_max_affected)
	{
		snprintf(tmp, sizeof(tmp), "max-affected=%lld", (long long) p->max_affected);
		append(buf, size, &used, tmp);
	}
}

/* Range: first-last or first- (PostgREST's ^[0-9]+-[0-9]*$), blanks trimmed */
RestCode
RestParseRange(const char *h, int64_t *first, int64_t *last, RestError *err)
{
	size_t		len,
				b = 0,
				e,
				dash;

	*first = 0;
	*last = -1;
	len = RestBoundedLen(h);
	if (len > REST_MAX_INPUT)
		return RestFail(err, REST_ETOOMANY, REST_MAX_INPUT, "header longer than %d bytes", REST_MAX_INPUT);
	e = len;
	strip(h, &b, &e);
	for (dash = b; dash < e && h[dash] != '-'; dash++)
		;
	if (dash >= e || !span_int64(h, b, dash, first))
		return RestFail(err, REST_ESYNTAX, b, "malformed range, expecting first-last or first-");
	if (dash + 1 < e && !span_int64(h, dash + 1, e, last))
		return RestFail(err, REST_ESYNTAX, dash + 1, "malformed range, expecting first-last or first-");
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	return REST_OK;
}

/* The media types the handler tells apart; the others are OTHER with raw */
static RestMedia
media_of(const char *raw)
{
	static const struct
	{
		const char *name;
		RestMedia	media;
	}			map[] = {
		{"application/json", REST_MEDIA_JSON},
		{"application/*", REST_MEDIA_JSON},
		{"*/*", REST_MEDIA_JSON},
		{"application/vnd.pgrst.array+json", REST_MEDIA_JSON},
		{"application/vnd.pgrst.array", REST_MEDIA_JSON},
		{"application/vnd.pgrst.object+json", REST_MEDIA_OBJECT},
		{"application/vnd.pgrst.object", REST_MEDIA_OBJECT},
		{"text/csv", REST_MEDIA_CSV},
		{"application/openapi+json", REST_MEDIA_OPENAPI},
		{"text/plain", REST_MEDIA_TEXT},
		{"application/octet-stream", REST_MEDIA_OCTET},
	};
	size_t		k;

	for (k = 0; k < sizeof(map) / sizeof(map[0]); k++)
		if (strcmp(raw, map[k].name) == 0)
			return map[k].media;
	return REST_MEDIA_OTHER;
}

/* q=0, q=1, q=0.5, q=0.125 as thousandths; false when malformed */
static bool
parse_q(const char *s, size_t b, size_t e, int *q)
{
	int			v,
				scale = 100;

	if (b >= e || (s[b] != '0' && s[b] != '1'))
		return false;
	v = (s[b] - '0') * 1000;
	b++;
	if (b < e)
	{
		if (s[b] != '.')
			return false;
		for (b++; b < e && scale > 0; b++, scale /= 10)
		{
			if (s[b] < '0' || s[b] > '9')
				return false;
			v += (s[b] - '0') * scale;
		}
		if (b < e)
			return false;
	}
	if (v > 1000)
		return false;
	*q = v;
	return true;
}

/* Parameters after ';': q and nulls=stripped; false when q is malformed */
static bool
accept_params(const char *h, size_t b, size_t e, RestMediaType *mt, int *q)
{
	while (b < e)
	{
		size_t		pe = b,
					pb,
					eq;

		while (pe < e && h[pe] != ';')
			pe++;
		pb = b;
		b = pe + 1;
		strip(h, &pb, &pe);
		for (eq = pb; eq < pe && h[eq] != '='; eq++)
			;
		if (eq - pb == 1 && (h[pb] == 'q' || h[pb] == 'Q'))
		{
			if (!parse_q(h, eq + 1, pe, q))
				return false;
		}
		else if (eq - pb == 5 && strncasecmp(h + pb, "nulls", 5) == 0 &&
				 pe - eq - 1 == 8 && strncasecmp(h + eq + 1, "stripped", 8) == 0)
			mt->nulls_stripped = true;
	}
	return true;
}

/*
 * Accept: entries by q descending, equal q in the order given.  q=0 and a
 * malformed q make an entry unacceptable (left out).
 */
RestCode
RestParseAccept(const char *h, const RestAlloc *a, int *n, RestMediaType **types, RestError *err)
{
	size_t		len,
				b = 0,
				i;
	int			cap = 0,
				j,
			   *qs = NULL,
				qcap = 0,
				nqs = 0,
				nq = 0;

	*n = 0;
	*types = NULL;
	len = h ? RestBoundedLen(h) : 0;
	if (len > REST_MAX_INPUT)
		return RestFail(err, REST_ETOOMANY, REST_MAX_INPUT, "header longer than %d bytes", REST_MAX_INPUT);
	for (i = 0; i <= len; i++)
	{
		size_t		eb,
					ee,
					semi,
					k;
		RestMediaType mt;
		int			q = 1000;
		char	   *raw;

		if (i < len && h[i] != ',')
			continue;
		eb = b;
		ee = i;
		b = i + 1;
		strip(h, &eb, &ee);
		if (eb == ee)
			continue;
		for (semi = eb; semi < ee && h[semi] != ';'; semi++)
			;
		memset(&mt, 0, sizeof(mt));
		if (!accept_params(h, semi + 1 < ee ? semi + 1 : ee, ee, &mt, &q) || q == 0)
		{
			nq++;				/* seen, not acceptable */
			continue;
		}
		k = semi;
		strip(h, &eb, &k);
		if ((raw = RestStrndup(a, h + eb, k - eb)) == NULL)
			return RestFail(err, REST_ENOMEM, eb, "out of memory");
		for (k = 0; raw[k] != '\0'; k++)
			if (raw[k] >= 'A' && raw[k] <= 'Z')
				raw[k] = (char) (raw[k] - 'A' + 'a');
		mt.raw = raw;
		mt.media = media_of(raw);
		if (*n >= REST_MAX_ITEMS)
			return RestFail(err, REST_ETOOMANY, eb, "more than %d media types", REST_MAX_ITEMS);
		if (RestPush(a, (void **) types, n, &cap, sizeof(RestMediaType)) == NULL ||
			RestPush(a, (void **) &qs, &nqs, &qcap, sizeof(int)) == NULL)
			return RestFail(err, REST_ENOMEM, eb, "out of memory");
		(*types)[*n - 1] = mt;
		qs[*n - 1] = q;
	}
	if (*n == 0 && nq == 0)
	{
		/* absent or empty: JSON */
		if ((*types = RestZalloc(a, sizeof(RestMediaType))) == NULL)
			return RestFail(err, REST_ENOMEM, 0, "out of memory");
		(*types)[0].media = REST_MEDIA_JSON;
		(*types)[0].raw = "application/json";
		*n = 1;
	}
	/* stable insertion sort by q; at most REST_MAX_ITEMS entries */
	for (j = 1; j < *n; j++)
	{
		RestMediaType t = (*types)[j];
		int			tq = qs[j],
					k = j - 1;

		while (k >= 0 && qs[k] < tq)
		{
			(*types)[k + 1] = (*types)[k];
			qs[k + 1] = qs[k];
			k--;
		}
		(*types)[k + 1] = t;
		qs[k + 1] = tq;
	}
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	return REST_OK;
}
