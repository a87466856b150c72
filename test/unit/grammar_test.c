/*
 * Unit tests of the pure-C URL and header grammar (src/rest/): exact trees
 * rendered by dump.h, error codes with their positions and messages.
 * Prints "ok N - ..." / "not ok N - ..." and "unit: P passed, F failed".
 */
#include "dump.h"

#include <stdlib.h>

static int	npass,
			nfail;

/* A list of mallocs freed after each case, as the fuzzer does */
typedef struct Chunk
{
	struct Chunk *next;
} Chunk;
static Chunk *chunks;

static void *
test_alloc(void *ctx, size_t size)
{
	Chunk	   *c = malloc(sizeof(Chunk) + size + 16);

	(void) ctx;
	if (c == NULL)
		return NULL;
	c->next = chunks;
	chunks = c;
	return (char *) c + sizeof(Chunk) + 16 - (sizeof(Chunk) % 16);
}

static void
free_all(void)
{
	while (chunks)
	{
		Chunk	   *n = chunks->next;

		free(chunks);
		chunks = n;
	}
}

static const RestAlloc A = {test_alloc, NULL};

static void
report(bool ok, const char *what, const char *raw, const char *got, const char *want)
{
	char		in[120];
	size_t		i,
				k = 0;

	/* one line per result: control bytes escaped, long inputs cut */
	for (i = 0; raw[i] != '\0' && k + 5 < sizeof(in); i++)
	{
		unsigned char c = (unsigned char) raw[i];

		if (c < 0x20 || c == 0x7f)
			k += (size_t) snprintf(in + k, sizeof(in) - k, "\\x%02x", c);
		else
			in[k++] = (char) c;
	}
	in[k] = '\0';
	if (ok)
		printf("ok %d - %s %s\n", npass + nfail + 1, what, in);
	else
		printf("not ok %d - %s %s\n#   got:  %s\n#   want: %s\n", npass + nfail + 1, what, in, got, want);
	if (ok)
		npass++;
	else
		nfail++;
	free_all();
}

/* Errors are rendered "E<code>@<pos>: <msg>" and compared by prefix of msg */
static void
check_err(const char *what, const char *in, RestCode rc, const RestError *e,
		  RestCode wcode, long wpos, const char *wmsg)
{
	char		got[300],
				want[300];
	bool		ok;

	snprintf(got, sizeof(got), "E%d@%zu: %s", (int) rc, rc ? e->pos : 0, rc ? e->msg : "");
	snprintf(want, sizeof(want), "E%d@%ld: %s", (int) wcode, wpos, wmsg);
	ok = rc == wcode && rc != REST_OK && (wpos < 0 || (size_t) wpos == e->pos) &&
		strstr(e->msg, wmsg) != NULL;
	report(ok, what, in, got, want);
}

static void
check_str(const char *what, const char *in, RestCode rc, const RestError *e, const char *got, const char *want)
{
	char		g[70000];

	if (rc != REST_OK)
		snprintf(g, sizeof(g), "E%d@%zu: %s", (int) rc, e->pos, e->msg);
	else
		snprintf(g, sizeof(g), "%s", got);
	report(rc == REST_OK && strcmp(g, want) == 0, what, in, g, want);
}

static void
SEL(const char *in, const char *want)
{
	int			n;
	RestSelectItem *it;
	RestError	e;
	Buf			b = {{0}, 0};
	RestCode	rc = RestParseSelect(in, &A, &n, &it, &e);

	if (rc == REST_OK)
		dump_select(&b, n, it);
	check_str("select", in, rc, &e, b.s, want);
}

static void
SELERR(const char *in, RestCode code, long pos, const char *msg)
{
	int			n;
	RestSelectItem *it;
	RestError	e;
	RestCode	rc = RestParseSelect(in, &A, &n, &it, &e);

	check_err("select error", in, rc, &e, code, pos, msg);
}

static void
ORD(const char *in, const char *want)
{
	int			n;
	RestOrderTerm *t;
	RestError	e;
	Buf			b = {{0}, 0};
	RestCode	rc = RestParseOrder(in, &A, &n, &t, &e);

	if (rc == REST_OK)
		dump_order(&b, n, t);
	check_str("order", in, rc, &e, b.s, want);
}

static void
ORDERR(const char *in, RestCode code, long pos, const char *msg)
{
	int			n;
	RestOrderTerm *t;
	RestError	e;
	RestCode	rc = RestParseOrder(in, &A, &n, &t, &e);

	check_err("order error", in, rc, &e, code, pos, msg);
}

static void
FLT(const char *in, const char *want)
{
	RestFilter	f;
	RestError	e;
	Buf			b = {{0}, 0};
	RestCode	rc;

	memset(&f, 0, sizeof(f));
	rc = RestParseFilterValue(in, &A, &f, &e);
	if (rc == REST_OK)
		dump_filter(&b, &f, false);
	check_str("filter", in, rc, &e, b.s, want);
}

static void
FLTERR(const char *in, RestCode code, long pos, const char *msg)
{
	RestFilter	f;
	RestError	e;
	RestCode	rc;

	memset(&f, 0, sizeof(f));
	rc = RestParseFilterValue(in, &A, &f, &e);
	check_err("filter error", in, rc, &e, code, pos, msg);
}

static void
LOG(const char *in, RestLogicKind k, bool neg, const char *want)
{
	RestLogic	l;
	RestError	e;
	Buf			b = {{0}, 0};
	RestCode	rc = RestParseLogic(in, k, neg, &A, &l, &e);

	if (rc == REST_OK)
		dump_logic(&b, &l);
	check_str("logic", in, rc, &e, b.s, want);
}

static void
LOGERR(const char *in, RestCode code, long pos, const char *msg)
{
	RestLogic	l;
	RestError	e;
	RestCode	rc = RestParseLogic(in, REST_LOGIC_OR, false, &A, &l, &e);

	check_err("logic error", in, rc, &e, code, pos, msg);
}

static void
FLD(const char *in, const char *want)
{
	RestField	f;
	RestError	e;
	Buf			b = {{0}, 0};
	RestCode	rc = RestParseField(in, &A, &f, &e);

	if (rc == REST_OK)
		dump_field(&b, &f);
	check_str("field", in, rc, &e, b.s, want);
}

static void
Q(const char *in, const char *want)
{
	RestQuery	q;
	RestError	e;
	Buf			b = {{0}, 0};
	RestCode	rc = RestParseQuery(in, strlen(in), &A, &q, &e);

	if (rc == REST_OK)
		dump_query(&b, &q);
	check_str("query", in, rc, &e, b.s, want);
}

static void
QERR(const char *in, RestCode code, long pos, const char *msg)
{
	RestQuery	q;
	RestError	e;
	RestCode	rc = RestParseQuery(in, strlen(in), &A, &q, &e);

	check_err("query error", in, rc, &e, code, pos, msg);
}

/* A filter param's own error (the query itself succeeds) */
static void
QFERR(const char *in, bool bad_key, long pos, const char *msg)
{
	RestQuery	q;
	RestError	e;
	RestCode	rc = RestParseQuery(in, strlen(in), &A, &q, &e);

	if (rc != REST_OK || q.nparams != 1 || q.params[0].logic != NULL ||
		q.params[0].bad_key != bad_key)
	{
		report(false, "query filter error", in, "not a failed filter", msg);
		return;
	}
	check_err("query filter error", in, q.params[0].error.code, &q.params[0].error,
			  REST_ESYNTAX, pos, msg);
}

static void
PREF(const char *in, unsigned flags, const char *want_applied, int ninvalid)
{
	RestPrefer	p;
	RestError	e;
	char		buf[512],
				got[700],
				want[700];
	RestCode	rc = RestParsePrefer(in, &A, &p, &e);

	RestFormatPreferApplied(&p, flags, buf, sizeof(buf));
	snprintf(got, sizeof(got), "%s [%d invalid%s%s]", buf, p.ninvalid,
			 p.first_invalid ? ", first " : "", p.first_invalid ? p.first_invalid : "");
	if (strchr(want_applied, '[') != NULL)
		snprintf(want, sizeof(want), "%s", want_applied);
	else
		snprintf(want, sizeof(want), "%s [%d invalid", want_applied, ninvalid);
	report(rc == REST_OK && strncmp(got, want, strlen(want)) == 0, "prefer", in, got, want);
}

static void
RANGE(const char *in, RestCode code, long long first, long long last)
{
	int64_t		f,
				l;
	RestError	e;
	RestCode	rc = RestParseRange(in, &f, &l, &e);
	char		got[100],
				want[100];

	snprintf(got, sizeof(got), "E%d %lld %lld", (int) rc, rc ? 0 : (long long) f, rc ? 0 : (long long) l);
	snprintf(want, sizeof(want), "E%d %lld %lld", (int) code, first, last);
	report(strcmp(got, want) == 0, "range", in, got, want);
}

static void
ACC(const char *in, const char *want)
{
	int			n,
				i;
	RestMediaType *t;
	RestError	e;
	Buf			b = {{0}, 0};
	char		m[16];
	RestCode	rc = RestParseAccept(in, &A, &n, &t, &e);

	for (i = 0; rc == REST_OK && i < n; i++)
	{
		snprintf(m, sizeof(m), "%s%d:", i ? " " : "", (int) t[i].media);
		put(&b, m);
		put(&b, t[i].raw);
		if (t[i].nulls_stripped)
			put(&b, ";stripped");
	}
	check_str("accept", in ? in : "(null)", rc, &e, b.s, want);
}

static void
CSV(const char *in, const char *want)
{
	RestCsv		c;
	RestError	e;
	Buf			b = {{0}, 0};
	RestCode	rc = RestParseCsv(in, strlen(in), &A, &c, &e);

	if (rc == REST_OK)
		dump_csv(&b, &c);
	check_str("csv", in, rc, &e, b.s, want);
}

static void
CSVERR(const char *in, RestCode code, long pos, const char *msg)
{
	RestCsv		c;
	RestError	e;
	RestCode	rc = RestParseCsv(in, strlen(in), &A, &c, &e);

	check_err("csv error", in, rc, &e, code, pos, msg);
}

static void
DEC(const char *in, const char *want)
{
	char	   *out;
	RestError	e;
	RestCode	rc = RestPercentDecode(in, strlen(in), &A, &out, &e);

	check_str("decode", in, rc, &e, rc == REST_OK ? out : "", want);
}

static void
DECERR(const char *in, long pos)
{
	char	   *out;
	RestError	e;
	RestCode	rc = RestPercentDecode(in, strlen(in), &A, &out, &e);

	check_err("decode error", in, rc, &e, REST_ESYNTAX, pos, "percent");
}

/* A string of n copies of unit, between prefix and suffix (malloc'd) */
static char *
repeat(const char *prefix, const char *unit, int n, const char *suffix)
{
	size_t		u = strlen(unit),
				p = strlen(prefix),
				k = 0;
	char	   *s = malloc(p + u * (size_t) n + strlen(suffix) + 64);	/* room for strcat */
	int			i;

	memcpy(s, prefix, p);
	k = p;
	for (i = 0; i < n; i++, k += u)
		memcpy(s + k, unit, u);
	strcpy(s + k, suffix);
	return s;
}

#include "cases.h"

int
main(void)
{
	run_cases();
	printf("unit: %d passed, %d failed\n", npass, nfail);
	return nfail == 0 ? 0 : 1;
}
