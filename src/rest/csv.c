/*
 * text/csv request bodies (RFC 4180), as PostgREST accepts them for POST
 * and PATCH: the first record names the columns, every record has as many
 * fields, an unquoted NULL is SQL null.  Plain C, no PostgreSQL call.
 */
#include "parse.h"

#include <stdio.h>
#include <string.h>

typedef struct CsvParser
{
	const char *s;
	size_t		len;
	size_t		i;
	const RestAlloc *a;
	RestError  *err;
} CsvParser;

/* A record ends at LF, at CRLF, or at the end of the body */
static bool
at_eol(const CsvParser *c, size_t j)
{
	return j >= c->len || c->s[j] == '\n' ||
		(c->s[j] == '\r' && j + 1 < c->len && c->s[j + 1] == '\n');
}

/* "..." with "" for a quote; the end is found first, then copied exactly */
static RestCode
csv_quoted(CsvParser *c, char **out)
{
	size_t		start = c->i,
				j = c->i + 1,
				k = 0;
	char	   *d;
	char		got[32];

	for (;;)
	{
		if (j >= c->len)
			return RestFail(c->err, REST_ESYNTAX, start, "unterminated quoted field");
		if (c->s[j] == '"')
		{
			if (j + 1 < c->len && c->s[j + 1] == '"')
				j += 2;
			else
				break;
		}
		else
			j++;
	}
	if (j + 1 < c->len && c->s[j + 1] != ',' && !at_eol(c, j + 1))
	{
		RestDescribe(c->s, j + 1, c->len, got, sizeof(got));
		return RestFail(c->err, REST_ESYNTAX, j + 1,
						 "unexpected %s after a closing quote, expecting \",\" or end of line", got);
	}
	if ((d = RestZalloc(c->a, j - start)) == NULL)
		return RestFail(c->err, REST_ENOMEM, start, "out of memory");
	for (c->i = start + 1; c->i < j; c->i++)
	{
		d[k++] = c->s[c->i];
		if (c->s[c->i] == '"')
			c->i++;				/* the second of "" */
	}
	d[k] = '\0';
	c->i = j + 1;
	*out = d;
	return REST_OK;
}

/* One field, quoted or not; *null when it is the bare word NULL */
static RestCode
csv_field(CsvParser *c, char **out, bool *null)
{
	size_t		start = c->i;

	*null = false;
	if (c->i < c->len && c->s[c->i] == '"')
		return csv_quoted(c, out);
	while (c->i < c->len && c->s[c->i] != ',' && !at_eol(c, c->i))
	{
		if (c->s[c->i] == '"')
			return RestFail(c->err, REST_ESYNTAX, c->i, "quote in an unquoted field");
		if (c->s[c->i] == '\0')
			return RestFail(c->err, REST_ESYNTAX, c->i, "nul byte");
		c->i++;
	}
	*null = (c->i - start == 4 && memcmp(c->s + start, "NULL", 4) == 0);
	if ((*out = RestStrndup(c->a, c->s + start, c->i - start)) == NULL)
		return RestFail(c->err, REST_ENOMEM, start, "out of memory");
	return REST_OK;
}

/* Past the field separator; true when the record went on (a ',') */
static bool
csv_next(CsvParser *c)
{
	if (c->i < c->len && c->s[c->i] == ',')
	{
		c->i++;
		return true;
	}
	if (c->i < c->len)
		c->i += (c->s[c->i] == '\r') ? 2 : 1;
	return false;
}

/* The header: column names, none empty, at most REST_MAX_ITEMS */
static RestCode
csv_header(CsvParser *c, RestCsv *out)
{
	int			cap = 0;

	for (;;)
	{
		const char **col;
		size_t		start = c->i;
		bool		null;
		RestCode	rc;

		if (out->ncolumns >= REST_MAX_ITEMS)
			return RestFail(c->err, REST_ETOOMANY, c->i, "more than %d columns", REST_MAX_ITEMS);
		col = RestPush(c->a, (void **) &out->columns, &out->ncolumns, &cap, sizeof(char *));
		if (col == NULL)
			return RestFail(c->err, REST_ENOMEM, c->i, "out of memory");
		if ((rc = csv_field(c, (char **) col, &null)) != REST_OK)
			return rc;
		if ((*col)[0] == '\0')
			return RestFail(c->err, REST_ESYNTAX, start, "empty column name in the csv header");
		if (!csv_next(c))
			return REST_OK;
	}
}

/* One data record into freshly allocated cells/nulls rows */
static RestCode
csv_record(CsvParser *c, RestCsv *out, const char **cells, bool *nulls)
{
	int			k = 0;

	for (;;)
	{
		char	   *v;
		bool		more;
		RestCode	rc;

		if (k >= out->ncolumns)
			return RestFail(c->err, REST_ESYNTAX, c->i, "all lines must have same number of fields");
		if ((rc = csv_field(c, &v, &nulls[k])) != REST_OK)
			return rc;
		cells[k++] = v;
		more = csv_next(c);
		if (!more)
			break;
	}
	if (k != out->ncolumns)
		return RestFail(c->err, REST_ESYNTAX, c->i, "all lines must have same number of fields");
	return REST_OK;
}

/* The body: a header, then records until the end (a final newline ends the last) */
RestCode
RestParseCsv(const char *body, size_t len, const RestAlloc *a, RestCsv *out, RestError *err)
{
	CsvParser	c;
	int			nrows = 0,
				ccap = 0,
				ncap = 0,
				nn = 0;
	RestCode	rc;

	memset(out, 0, sizeof(*out));
	c.s = body;
	c.len = len;
	c.i = 0;
	c.a = a;
	c.err = err;
	if (len == 0)
		return RestFail(err, REST_ESYNTAX, 0, "empty csv body, expecting a header line");
	if ((rc = csv_header(&c, out)) != REST_OK)
		return rc;
	while (c.i < c.len)
	{
		const char **cells;
		bool	   *nulls;

		if (RestPush(a, (void **) &out->cells, &nrows, &ccap, sizeof(char **)) == NULL ||
			RestPush(a, (void **) &out->nulls, &nn, &ncap, sizeof(bool *)) == NULL ||
			(cells = RestZalloc(a, sizeof(char *) * (size_t) out->ncolumns)) == NULL ||
			(nulls = RestZalloc(a, sizeof(bool) * (size_t) out->ncolumns)) == NULL)
			return RestFail(err, REST_ENOMEM, c.i, "out of memory");
		out->cells[nrows - 1] = cells;
		out->nulls[nrows - 1] = nulls;
		out->nrows = nrows;
		if ((rc = csv_record(&c, out, cells, nulls)) != REST_OK)
			return rc;
	}
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	return REST_OK;
}
