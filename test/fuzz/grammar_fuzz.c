/*
 * libFuzzer target for the pure-C URL/header grammar (src/rest/).  The first
 * byte chooses the parser (byte % 12; 11 runs them all), the rest is the
 * input.  Every tree is walked through test/unit/dump.h so that a bad
 * pointer or length anywhere in it is found by the sanitizers; every
 * allocation is freed after each input, so a leak is a parser bug.
 */
#include "dump.h"

#include <stdlib.h>

typedef struct Chunk
{
	struct Chunk *next;
	size_t		pad;			/* keeps the payload 16-byte aligned */
} Chunk;
static Chunk *chunks;

static void *
fuzz_alloc(void *ctx, size_t size)
{
	Chunk	   *c;

	(void) ctx;
	if (size > 64 * 1024 * 1024)
		return NULL;			/* the parsers must turn this into REST_ENOMEM */
	c = malloc(sizeof(Chunk) + size);
	if (c == NULL)
		return NULL;
	c->next = chunks;
	chunks = c;
	return c + 1;
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

static Buf	b;

static void
run_one(int sel, const char *s, size_t len)
{
	const RestAlloc a = {fuzz_alloc, NULL};
	RestError	e;
	int			n;

	b.n = 0;
	switch (sel)
	{
		case 0:
			{
				RestQuery	q;

				if (RestParseQuery(s, len, &a, &q, &e) == REST_OK)
					dump_query(&b, &q);
				break;
			}
		case 1:
			{
				RestSelectItem *it;

				if (RestParseSelect(s, &a, &n, &it, &e) == REST_OK)
					dump_select(&b, n, it);
				break;
			}
		case 2:
			{
				RestOrderTerm *t;

				if (RestParseOrder(s, &a, &n, &t, &e) == REST_OK)
					dump_order(&b, n, t);
				break;
			}
		case 3:
			{
				RestFilter	f;

				memset(&f, 0, sizeof(f));
				f.field.name = "x";
				if (RestParseFilterValue(s, &a, &f, &e) == REST_OK)
					dump_filter(&b, &f, true);
				break;
			}
		case 4:
		case 5:
			{
				RestLogic	l;

				if (RestParseLogic(s, sel == 4 ? REST_LOGIC_OR : REST_LOGIC_AND, sel == 5, &a, &l, &e) == REST_OK)
					dump_logic(&b, &l);
				break;
			}
		case 6:
			{
				RestField	f;

				if (RestParseField(s, &a, &f, &e) == REST_OK)
					dump_field(&b, &f);
				break;
			}
		case 7:
			{
				RestPrefer	p;
				char		out[64];

				if (RestParsePrefer(s, &a, &p, &e) == REST_OK)
				{
					RestFormatPreferApplied(&p, 0xff, out, sizeof(out));
					RestFormatPreferApplied(&p, (unsigned) len, out, 1 + len % sizeof(out));
					if (p.first_invalid)
						put(&b, p.first_invalid);
					if (p.timezone)
						put(&b, p.timezone);
				}
				break;
			}
		case 8:
			{
				int64_t		f,
							l;

				(void) RestParseRange(s, &f, &l, &e);
				break;
			}
		case 9:
			{
				RestMediaType *t;
				int			i;

				if (RestParseAccept(s, &a, &n, &t, &e) == REST_OK)
					for (i = 0; i < n; i++)
						put(&b, t[i].raw);
				break;
			}
		case 10:
			{
				RestCsv		c;
				char	   *d;

				if (RestParseCsv(s, len, &a, &c, &e) == REST_OK)
					dump_csv(&b, &c);
				if (RestPercentDecode(s, len, &a, &d, &e) == REST_OK)
					put(&b, d);
				break;
			}
		default:
			break;
	}
	free_all();
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: a selector byte, then bytes that become a NUL-terminated string */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s;
	int			sel,
				k;

	if (size == 0)
		return 0;
	sel = data[0] % 12;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (sel == 11)
		for (k = 0; k < 11; k++)
			run_one(k, s, size - 1);
	else
		run_one(sel, s, size - 1);
	free(s);
	return 0;
}
