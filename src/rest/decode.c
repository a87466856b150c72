/*
 * Percent-decoding and the small helpers every src/rest/ parser shares.
 * Plain C, no PostgreSQL call (see pgerp/rest.h).
 */
#include "parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Errors carry a code, a byte offset and a lower-case fragment for the handler */
RestCode
RestFail(RestError *err, RestCode code, size_t pos, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return code;
	err->code = code;
	err->pos = pos;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* Zeroed memory from the caller's allocator, so trees start with NULL/0 fields */
void *
RestZalloc(const RestAlloc *a, size_t size)
{
	void	   *p;

	if (size == 0)
		size = 1;
	p = a->alloc(a->ctx, size);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

/* Trees hold NUL-terminated copies, never pointers into the input */
char *
RestStrndup(const RestAlloc *a, const char *s, size_t len)
{
	char	   *p = RestZalloc(a, len + 1);

	if (p == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Lists of unknown length grow geometrically: linear total cost, no free */
void *
RestPush(const RestAlloc *a, void **arr, int *n, int *cap, size_t elsize)
{
	char	   *slot;

	if (*n >= *cap)
	{
		int			ncap;
		void	   *na;

		if (*cap > INT_MAX / 2)
			return NULL;
		ncap = *cap > 0 ? *cap * 2 : 4;
		if ((size_t) ncap > ((size_t) -1) / elsize)
			return NULL;
		na = RestZalloc(a, (size_t) ncap * elsize);
		if (na == NULL)
			return NULL;
		if (*n > 0)
			memcpy(na, *arr, (size_t) *n * elsize);
		*arr = na;
		*cap = ncap;
	}
	slot = (char *) *arr + (size_t) *n * elsize;
	memset(slot, 0, elsize);
	(*n)++;
	return slot;
}

/* The length of s, or REST_MAX_INPUT + 1 when longer: callers refuse that */
size_t
RestBoundedLen(const char *s)
{
	size_t		i;

	for (i = 0; i <= REST_MAX_INPUT; i++)
		if (s[i] == '\0')
			return i;
	return REST_MAX_INPUT + 1;
}

/* Messages quote the offending byte the way PostgREST's parser does */
void
RestDescribe(const char *s, size_t i, size_t len, char *buf, size_t size)
{
	unsigned char c;

	if (i >= len)
	{
		snprintf(buf, size, "end of input");
		return;
	}
	c = (unsigned char) s[i];
	if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
		snprintf(buf, size, "\"%c\"", c);
	else
		snprintf(buf, size, "byte 0x%02x", c);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * One decoder for query strings and path segments: malformed escapes are
 * refused rather than kept literally (as http-types does), so that what the
 * client meant is never guessed.
 */
RestCode
RestDecode(const char *s, size_t len, bool plus_space, size_t base,
			const RestAlloc *a, char **out, RestError *err)
{
	char	   *d;
	size_t		i,
				j = 0;

	if (len > REST_MAX_INPUT)
		return RestFail(err, REST_ETOOMANY, base, "input longer than %d bytes", REST_MAX_INPUT);
	d = RestZalloc(a, len + 1);
	if (d == NULL)
		return RestFail(err, REST_ENOMEM, base, "out of memory");
	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '%')
		{
			int			hi = i + 1 < len ? hexval(s[i + 1]) : -1;
			int			lo = i + 2 < len ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return RestFail(err, REST_ESYNTAX, base + i,
								 "malformed percent-encoding, expecting two hexadecimal digits after \"%%\"");
			if (hi == 0 && lo == 0)
				return RestFail(err, REST_ESYNTAX, base + i, "percent-encoded nul byte");
			d[j++] = (char) (hi * 16 + lo);
			i += 2;
		}
		else if (c == '\0')
			return RestFail(err, REST_ESYNTAX, base + i, "nul byte");
		else if (c == '+' && plus_space)
			d[j++] = ' ';
		else
			d[j++] = c;
	}
	d[j] = '\0';
	*out = d;
	return REST_OK;
}

/* Path segments: '+' is a plus sign there (RFC 3986), unlike in query strings */
RestCode
RestPercentDecode(const char *s, size_t len, const RestAlloc *a, char **out, RestError *err)
{
	return RestDecode(s, len, false, 0, a, out, err);
}
