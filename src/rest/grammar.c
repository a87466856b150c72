/*
 * PostgREST's URL grammar (select, filters, and/or trees, order, fields,
 * embedded keys) as a recursive-descent parser in plain C: no PostgreSQL
 * call, so the unit tests and the fuzzer run it outside the server.
 *
 * The grammar follows PostgREST's documented behaviour and its spec tests
 * (docs/api-grammar.md lists where we are stricter).  Every scan moves
 * forward; the two places that look ahead (an alias "a:" and an and/or
 * child that is not a filter) fail within a few bytes, and nesting and list
 * lengths are bounded by REST_MAX_DEPTH and REST_MAX_ITEMS, so the cost is
 * linear in the input.
 */
#include "parse.h"

#include <stdio.h>
#include <string.h>

typedef struct Parser
{
	const char *s;
	size_t		len;
	size_t		i;
	const RestAlloc *a;
	RestError  *err;
} Parser;

/* ---------------------------------------------------------------- lexing */

static bool
at(const Parser *p, char c)
{
	return p->i < p->len && p->s[p->i] == c;
}

static bool
at_str(const Parser *p, const char *lit)
{
	size_t		n = strlen(lit);

	return p->len - p->i >= n && memcmp(p->s + p->i, lit, n) == 0;
}

/* PostgREST's lexeme: blanks and tabs around items are ignored */
static void
skip_ws(Parser *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
		p->i++;
}

/* "unexpected X, expecting Y": the same shape as PostgREST's details */
static RestCode
expected(Parser *p, const char *what)
{
	char		got[32];

	RestDescribe(p->s, p->i, p->len, got, sizeof(got));
	return RestFail(p->err, REST_ESYNTAX, p->i, "unexpected %s, expecting %s", got, what);
}

static RestCode
nomem(Parser *p)
{
	return RestFail(p->err, REST_ENOMEM, p->i, "out of memory");
}

static void
init_parser(Parser *p, const char *s, size_t len, const RestAlloc *a, RestError *err)
{
	p->s = s;
	p->len = len;
	p->i = 0;
	p->a = a;
	p->err = err;
}

/* Public entry points leave a clean error on success: callers may keep it */
static RestCode
finish(RestCode rc, RestError *err)
{
	if (rc == REST_OK && err != NULL)
		memset(err, 0, sizeof(*err));
	return rc;
}

/* Inputs longer than REST_MAX_INPUT are refused before any work */
static RestCode
check_len(const char *s, size_t *len, RestError *err)
{
	*len = RestBoundedLen(s);
	if (*len > REST_MAX_INPUT)
		return RestFail(err, REST_ETOOMANY, REST_MAX_INPUT, "input longer than %d bytes", REST_MAX_INPUT);
	return REST_OK;
}

/* Identifier characters: letters (any non-ASCII byte counts), digits, "_ $" */
static bool
is_ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == ' ' || c == '$' || c >= 0x80;
}

/* JSON keys may hold anything but the reserved ( - : . , > ) */
static bool
is_key_char(unsigned char c)
{
	return c != '\0' && strchr("(-:.,>)", c) == NULL;
}

/*
 * A double-quoted name or value: backslash escapes the next byte.  The end
 * is found first so that exactly the needed bytes are allocated.
 */
static RestCode
parse_quoted(Parser *p, char **out)
{
	size_t		start = p->i,
				j = p->i + 1,
				k = 0;
	char	   *d;

	while (j < p->len && p->s[j] != '"')
		j += (p->s[j] == '\\') ? 2 : 1;
	if (j >= p->len)
		return RestFail(p->err, REST_ESYNTAX, start, "unterminated quoted value, expecting \"\\\"\"");
	d = RestZalloc(p->a, j - start);
	if (d == NULL)
		return nomem(p);
	for (p->i = start + 1; p->i < j; p->i++)
	{
		if (p->s[p->i] == '\\')
			p->i++;
		d[k++] = p->s[p->i];
	}
	d[k] = '\0';
	p->i = j + 1;
	*out = d;
	return REST_OK;
}

/*
 * Pieces of accepted characters joined by '-' (a '-' not starting "->"),
 * each piece stripped of blanks: PostgREST's field names and JSON keys.
 */
static RestCode
parse_dash_run(Parser *p, bool (*ok) (unsigned char), char **out, bool *found)
{
	size_t		start = p->i,
				end,
				k = 0,
				q;
	char	   *d;

	*found = false;
	for (;;)
	{
		size_t		piece = p->i;

		while (p->i < p->len && ok((unsigned char) p->s[p->i]))
			p->i++;
		if (p->i == piece)
			break;
		*found = true;
		if (p->i + 1 < p->len && p->s[p->i] == '-' && p->s[p->i + 1] != '>' &&
			ok((unsigned char) p->s[p->i + 1]))
			p->i++;
		else
			break;
	}
	if (!*found)
		return REST_OK;
	end = p->i;
	d = RestZalloc(p->a, end - start + 1);
	if (d == NULL)
		return nomem(p);
	for (q = start; q < end;)
	{
		size_t		e = q,
					a,
					b;

		while (e < end && p->s[e] != '-')
			e++;
		for (a = q; a < e && (p->s[a] == ' ' || p->s[a] == '\t'); a++)
			;
		for (b = e; b > a && (p->s[b - 1] == ' ' || p->s[b - 1] == '\t'); b--)
			;
		memcpy(d + k, p->s + a, b - a);
		k += b - a;
		if (e < end)
			d[k++] = '-';
		q = e + 1;
	}
	d[k] = '\0';
	*out = d;
	return REST_OK;
}

/* A column, relation or alias name: "quoted" or identifier pieces */
static RestCode
parse_name(Parser *p, char **out)
{
	bool		found;
	RestCode	rc;

	if (at(p, '"'))
		return parse_quoted(p, out);
	rc = parse_dash_run(p, is_ident_char, out, &found);
	if (rc == REST_OK && !found)
		return expected(p, "field name (* or [a..z0..9_$])");
	return rc;
}

/* An array index is digits (maybe '-' first) followed by what ends an operand */
static bool
json_index_here(const Parser *p, size_t *end)
{
	Parser		q = *p;
	size_t		d;

	if (at(&q, '-'))
		q.i++;
	d = q.i;
	while (q.i < q.len && q.s[q.i] >= '0' && q.s[q.i] <= '9')
		q.i++;
	if (q.i == d)
		return false;
	if (q.i < q.len && strchr(".,) \t", q.s[q.i]) == NULL &&
		!at_str(&q, "->") && !at_str(&q, "::"))
		return false;
	*end = q.i;
	return true;
}

/* The ->key / ->>key / ->0 steps after a name */
static RestCode
parse_json_path(Parser *p, RestField *f)
{
	int			cap = 0;

	while (at_str(p, "->"))
	{
		RestJsonStep *st;
		bool		as_text = at_str(p, "->>");
		size_t		end;
		RestCode	rc;

		if (f->npath >= REST_MAX_ITEMS)
			return RestFail(p->err, REST_ETOOMANY, p->i, "more than %d json path steps", REST_MAX_ITEMS);
		p->i += as_text ? 3 : 2;
		st = RestPush(p->a, (void **) &f->path, &f->npath, &cap, sizeof(RestJsonStep));
		if (st == NULL)
			return nomem(p);
		st->as_text = as_text;
		if (json_index_here(p, &end))
		{
			st->is_index = true;
			st->key = RestStrndup(p->a, p->s + p->i, end - p->i);
			if (st->key == NULL)
				return nomem(p);
			p->i = end;
		}
		else if (at(p, '"'))
		{
			if ((rc = parse_quoted(p, (char **) &st->key)) != REST_OK)
				return rc;
		}
		else
		{
			bool		found;

			if ((rc = parse_dash_run(p, is_key_char, (char **) &st->key, &found)) != REST_OK)
				return rc;
			if (!found)
				return expected(p, "json key or array index");
		}
	}
	return REST_OK;
}

/* name[->path], blanks around it ignored */
static RestCode
parse_field(Parser *p, RestField *f)
{
	RestCode	rc;

	memset(f, 0, sizeof(*f));
	skip_ws(p);
	if ((rc = parse_name(p, (char **) &f->name)) != REST_OK)
		return rc;
	if ((rc = parse_json_path(p, f)) != REST_OK)
		return rc;
	skip_ws(p);
	return REST_OK;
}

/* The identifier after "::" or inside fts(...) */
static RestCode
parse_ident(Parser *p, const char **out, const char *what)
{
	size_t		start = p->i,
				a,
				b;

	while (p->i < p->len && is_ident_char((unsigned char) p->s[p->i]))
		p->i++;
	for (a = start; a < p->i && p->s[a] == ' '; a++)
		;
	for (b = p->i; b > a && p->s[b - 1] == ' '; b--)
		;
	if (a == b)
	{
		p->i = start;
		return expected(p, what);
	}
	*out = RestStrndup(p->a, p->s + a, b - a);
	return *out ? REST_OK : nomem(p);
}

/* ---------------------------------------------------------------- select */

static RestCode parse_select_list(Parser *p, int depth, int *n, RestSelectItem **items);

/* "!hint", "!inner", "!left": at most two, the first of each kind wins */
static RestCode
parse_embed_params(Parser *p, RestSelectItem *it)
{
	int			k;

	for (k = 0; k < 2 && at(p, '!'); k++)
	{
		char	   *w;
		RestCode	rc;

		p->i++;
		if ((rc = parse_name(p, &w)) != REST_OK)
			return rc;
		if (strcmp(w, "inner") == 0 || strcmp(w, "left") == 0)
		{
			if (!it->inner && !it->left)
			{
				it->inner = (w[0] == 'i');
				it->left = (w[0] == 'l');
			}
		}
		else if (it->hint == NULL)
			it->hint = w;
	}
	return REST_OK;
}

/* rel!hint(...) or ...rel(...): the children, one level deeper */
static RestCode
parse_embed(Parser *p, int depth, RestSelectItem *it)
{
	RestCode	rc;

	it->kind = REST_SEL_EMBED;
	if ((rc = parse_embed_params(p, it)) != REST_OK)
		return rc;
	if (!at(p, '('))
		return expected(p, "\"(\"");
	if (strcmp(it->field.name, "count") == 0)
		return RestFail(p->err, REST_ESYNTAX, p->i, "\"count\" cannot be embedded, expecting \"count()\"");
	if (depth + 1 > REST_MAX_DEPTH)
		return RestFail(p->err, REST_EDEPTH, p->i, "embedding nested deeper than %d", REST_MAX_DEPTH);
	p->i++;
	if ((rc = parse_select_list(p, depth + 1, &it->nchildren, &it->children)) != REST_OK)
		return rc;
	if (!at(p, ')'))
		return expected(p, "\",\" or \")\"");
	p->i++;
	return REST_OK;
}

/* ".sum()" and friends after a column, then an optional "::cast" */
static RestCode
parse_aggregate(Parser *p, RestSelectItem *it)
{
	static const char *const aggs[] = {"sum", "avg", "count", "max", "min"};
	size_t		k;

	if (!at(p, '.'))
		return REST_OK;
	for (k = 0; k < sizeof(aggs) / sizeof(aggs[0]); k++)
	{
		size_t		n = strlen(aggs[k]);

		if (p->len - p->i >= n + 3 && memcmp(p->s + p->i + 1, aggs[k], n) == 0 &&
			memcmp(p->s + p->i + 1 + n, "()", 2) == 0)
		{
			it->aggregate = aggs[k];
			p->i += n + 3;
			if (at_str(p, "::"))
			{
				p->i += 2;
				return parse_ident(p, &it->aggregate_cast, "cast type");
			}
			return REST_OK;
		}
	}
	return REST_OK;
}

/* One select item: *, count(), [alias:]col[->path][::cast][.agg()], embeds */
static RestCode
parse_select_item(Parser *p, int depth, RestSelectItem *it)
{
	RestCode	rc;
	size_t		save;
	char	   *name;

	skip_ws(p);
	if (at(p, '*'))
	{
		it->kind = REST_SEL_STAR;
		it->field.name = "*";
		p->i++;
		return REST_OK;
	}
	if (at_str(p, "..."))
	{
		p->i += 3;
		it->spread = true;
		if ((rc = parse_name(p, (char **) &it->field.name)) != REST_OK)
			return rc;
		return parse_embed(p, depth, it);
	}
	/* alias: a name followed by one ':' (two are a cast) */
	save = p->i;
	rc = parse_name(p, &name);
	if (rc == REST_ENOMEM)
		return rc;
	if (rc == REST_OK && at(p, ':') && !at_str(p, "::"))
	{
		it->alias = name;
		p->i++;
		skip_ws(p);
	}
	else
		p->i = save;
	if (at_str(p, "count()"))
	{
		it->kind = REST_SEL_FIELD;
		it->field.name = "*";
		it->aggregate = "count";
		p->i += 7;
		if (at_str(p, "::"))
		{
			p->i += 2;
			return parse_ident(p, &it->aggregate_cast, "cast type");
		}
		return REST_OK;
	}
	if ((rc = parse_name(p, (char **) &it->field.name)) != REST_OK)
		return rc;
	if (at(p, '!') || at(p, '('))
		return parse_embed(p, depth, it);
	it->kind = REST_SEL_FIELD;
	if ((rc = parse_json_path(p, &it->field)) != REST_OK)
		return rc;
	if (at_str(p, "::"))
	{
		p->i += 2;
		if ((rc = parse_ident(p, &it->cast, "cast type")) != REST_OK)
			return rc;
	}
	return parse_aggregate(p, it);
}

/* Items separated by ',', possibly none ("select=" and "rel()") */
static RestCode
parse_select_list(Parser *p, int depth, int *n, RestSelectItem **items)
{
	int			cap = 0;

	*n = 0;
	*items = NULL;
	skip_ws(p);
	if (p->i >= p->len || at(p, ')'))
		return REST_OK;
	for (;;)
	{
		RestSelectItem *it;
		RestCode	rc;

		if (*n >= REST_MAX_ITEMS)
			return RestFail(p->err, REST_ETOOMANY, p->i, "more than %d items in a select list", REST_MAX_ITEMS);
		it = RestPush(p->a, (void **) items, n, &cap, sizeof(RestSelectItem));
		if (it == NULL)
			return nomem(p);
		if ((rc = parse_select_item(p, depth, it)) != REST_OK)
			return rc;
		skip_ws(p);
		if (!at(p, ','))
			return REST_OK;
		p->i++;
	}
}

/* select=... : the whole value must be one list */
RestCode
RestParseSelect(const char *s, const RestAlloc *a, int *n, RestSelectItem **items, RestError *err)
{
	Parser		p;
	size_t		len;
	RestCode	rc;

	*n = 0;
	*items = NULL;
	if ((rc = check_len(s, &len, err)) != REST_OK)
		return rc;
	init_parser(&p, s, len, a, err);
	rc = parse_select_list(&p, 1, n, items);
	if (rc == REST_OK && p.i < p.len)
		rc = expected(&p, "\",\" or end of input");
	/* an empty root select is "*" in PostgREST ("rel()" stays empty) */
	if (rc == REST_OK && *n == 0)
	{
		if ((*items = RestZalloc(a, sizeof(RestSelectItem))) == NULL)
			return nomem(&p);
		(*items)->kind = REST_SEL_STAR;
		(*items)->field.name = "*";
		*n = 1;
	}
	return finish(rc, err);
}

/* ---------------------------------------------------------------- fields */

/* "col" or "col->a->>b", as in a filter's key */
RestCode
RestParseField(const char *s, const RestAlloc *a, RestField *out, RestError *err)
{
	Parser		p;
	size_t		len;
	RestCode	rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_len(s, &len, err)) != REST_OK)
		return rc;
	init_parser(&p, s, len, a, err);
	rc = parse_field(&p, out);
	if (rc == REST_OK && p.i < p.len)
		rc = expected(&p, "\"->\", \"->>\" or end of input");
	return finish(rc, err);
}

/* ---------------------------------------------------------------- filters */

typedef struct OpName
{
	const char *name;
	RestOp		op;
	int			family;			/* 0 simple, 1 quantifiable, 2 fts */
} OpName;

static const OpName op_names[] = {
	{"eq", REST_OP_EQ, 1}, {"neq", REST_OP_NEQ, 0}, {"gt", REST_OP_GT, 1},
	{"gte", REST_OP_GTE, 1}, {"lt", REST_OP_LT, 1}, {"lte", REST_OP_LTE, 1},
	{"like", REST_OP_LIKE, 1}, {"ilike", REST_OP_ILIKE, 1}, {"match", REST_OP_MATCH, 1},
	{"imatch", REST_OP_IMATCH, 1}, {"isdistinct", REST_OP_ISDISTINCT, 0},
	{"cs", REST_OP_CS, 0}, {"cd", REST_OP_CD, 0}, {"ov", REST_OP_OV, 0},
	{"sl", REST_OP_SL, 0}, {"sr", REST_OP_SR, 0}, {"nxr", REST_OP_NXR, 0},
	{"nxl", REST_OP_NXL, 0}, {"adj", REST_OP_ADJ, 0},
	{"fts", REST_OP_FTS, 2}, {"plfts", REST_OP_PLFTS, 2}, {"phfts", REST_OP_PHFTS, 2},
	{"wfts", REST_OP_WFTS, 2},
};

/*
 * A filter's operand.  At the top level it is the rest of the value, any
 * bytes.  Inside and/or it ends at ',' or ')' unless double-quoted (then
 * unquoted, if the quote is followed by ',' ')' or the end) or a {...}
 * array literal (kept with its braces), as PostgREST reads it.
 */
static RestCode
parse_operand(Parser *p, bool in_logic, const char **out)
{
	size_t		start = p->i;

	if (!in_logic)
	{
		p->i = p->len;
		*out = RestStrndup(p->a, p->s + start, p->len - start);
		return *out ? REST_OK : nomem(p);
	}
	if (at(p, '"'))
	{
		char	   *q;
		RestCode	rc = parse_quoted(p, &q);

		if (rc == REST_ENOMEM)
			return rc;
		if (rc == REST_OK && (p->i >= p->len || at(p, ',') || at(p, ')')))
		{
			*out = q;
			return REST_OK;
		}
		p->i = start;
	}
	if (at(p, '{'))
	{
		size_t		j = p->i + 1;

		while (j < p->len && p->s[j] != '{' && p->s[j] != '}')
			j++;
		if (j < p->len && p->s[j] == '}')
		{
			p->i = j + 1;
			*out = RestStrndup(p->a, p->s + start, p->i - start);
			return *out ? REST_OK : nomem(p);
		}
	}
	while (p->i < p->len && p->s[p->i] != ',' && p->s[p->i] != ')')
		p->i++;
	*out = RestStrndup(p->a, p->s + start, p->i - start);
	return *out ? REST_OK : nomem(p);
}

/* One in-list item: quoted if the quote is followed by ',' or ')', else raw */
static RestCode
parse_list_item(Parser *p, const char **out)
{
	size_t		start = p->i;

	if (at(p, '"'))
	{
		char	   *q;
		RestCode	rc = parse_quoted(p, &q);

		if (rc == REST_ENOMEM)
			return rc;
		if (rc == REST_OK && (at(p, ',') || at(p, ')')))
		{
			*out = q;
			return REST_OK;
		}
		p->i = start;
	}
	while (p->i < p->len && p->s[p->i] != ',' && p->s[p->i] != ')')
		p->i++;
	*out = RestStrndup(p->a, p->s + start, p->i - start);
	return *out ? REST_OK : nomem(p);
}

/*
 * in.(a,"b,c",d): items end at ',' or ')'; a quoted item followed by ','
 * or ')' is unquoted.  "()" is an empty list (PostgREST matches no row).
 */
static RestCode
parse_in_list(Parser *p, RestFilter *f)
{
	int			cap = 0;

	skip_ws(p);
	if (!at(p, '('))
		return expected(p, "\"(\"");
	p->i++;
	skip_ws(p);
	if (at(p, ')'))
	{
		p->i++;
		skip_ws(p);
		return REST_OK;
	}
	for (;;)
	{
		const char **item;
		RestCode	rc;

		if (f->nlist >= REST_MAX_ITEMS)
			return RestFail(p->err, REST_ETOOMANY, p->i, "more than %d items in an in list", REST_MAX_ITEMS);
		item = RestPush(p->a, (void **) &f->list, &f->nlist, &cap, sizeof(char *));
		if (item == NULL)
			return nomem(p);
		if ((rc = parse_list_item(p, item)) != REST_OK)
			return rc;
		if (at(p, ')'))
			break;
		if (!at(p, ','))
			return expected(p, "\",\" or \")\"");
		p->i++;
	}
	p->i++;
	skip_ws(p);
	return REST_OK;
}

/* is.null|not_null|true|false|unknown, in any case */
static RestCode
parse_is_value(Parser *p, bool in_logic, RestFilter *f)
{
	static const char *const words[] = {"null", "not_null", "true", "false", "unknown"};
	static const RestIsValue vals[] = {REST_IS_NULL, REST_IS_NOT_NULL, REST_IS_TRUE,
	REST_IS_FALSE, REST_IS_UNKNOWN};
	size_t		start = p->i,
				n,
				k,
				c;

	while (p->i < p->len && (!in_logic || (p->s[p->i] != ',' && p->s[p->i] != ')')))
		p->i++;
	n = p->i - start;
	for (k = 0; k < 5; k++)
	{
		if (strlen(words[k]) != n)
			continue;
		for (c = 0; c < n; c++)
		{
			char		ch = p->s[start + c];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char) (ch - 'A' + 'a');
			if (ch != words[k][c])
				break;
		}
		if (c == n)
		{
			f->isval = vals[k];
			return REST_OK;
		}
	}
	return RestFail(p->err, REST_ESYNTAX, start,
					 "unknown is value, expecting null, not_null, true, false or unknown");
}

/* "(any)" / "(all)" after a quantifiable operator */
static RestCode
parse_quantifier(Parser *p, RestFilter *f)
{
	if (at_str(p, "(any)"))
		f->quant = REST_QUANT_ANY;
	else if (at_str(p, "(all)"))
		f->quant = REST_QUANT_ALL;
	else
		return expected(p, "\"(any)\" or \"(all)\"");
	p->i += 5;
	return REST_OK;
}

/* [not.]op[(modifier)].operand: one filter's right-hand side */
static RestCode
parse_op_expr(Parser *p, bool in_logic, RestFilter *f)
{
	size_t		start,
				n,
				k;
	const OpName *op = NULL;
	RestCode	rc;

	if (at_str(p, "not."))
	{
		f->negate = true;
		p->i += 4;
	}
	start = p->i;
	while (p->i < p->len && p->s[p->i] >= 'a' && p->s[p->i] <= 'z')
		p->i++;
	n = p->i - start;
	if (n == 2 && memcmp(p->s + start, "in", 2) == 0)
	{
		f->op = REST_OP_IN;
		if (!at(p, '.'))
			return expected(p, "delimiter (.)");
		p->i++;
		return parse_in_list(p, f);
	}
	if (n == 2 && memcmp(p->s + start, "is", 2) == 0)
	{
		f->op = REST_OP_IS;
		if (!at(p, '.'))
			return expected(p, "delimiter (.)");
		p->i++;
		return parse_is_value(p, in_logic, f);
	}
	for (k = 0; k < sizeof(op_names) / sizeof(op_names[0]); k++)
		if (strlen(op_names[k].name) == n && memcmp(op_names[k].name, p->s + start, n) == 0)
			op = &op_names[k];
	if (op == NULL)
	{
		p->i = start;
		return RestFail(p->err, REST_ESYNTAX, start, "unknown operator, expecting operator (eq, gt, ...)");
	}
	f->op = op->op;
	if (op->family == 1 && at(p, '(') && (rc = parse_quantifier(p, f)) != REST_OK)
		return rc;
	if (op->family == 2 && at(p, '('))
	{
		p->i++;
		if ((rc = parse_ident(p, &f->lang, "text search configuration")) != REST_OK)
			return rc;
		if (!at(p, ')'))
			return expected(p, "\")\"");
		p->i++;
	}
	if (!at(p, '.'))
		return expected(p, "delimiter (.)");
	p->i++;
	return parse_operand(p, in_logic, &f->value);
}

/* The value of col=...: "op.value", "not.op.value", "in.(...)", "is.null" */
RestCode
RestParseFilterValue(const char *s, const RestAlloc *a, RestFilter *out, RestError *err)
{
	Parser		p;
	size_t		len;
	RestCode	rc;
	RestField	keep = out->field;

	memset(out, 0, sizeof(*out));
	out->field = keep;
	if ((rc = check_len(s, &len, err)) != REST_OK)
		return rc;
	init_parser(&p, s, len, a, err);
	rc = parse_op_expr(&p, false, out);
	if (rc == REST_OK && p.i < p.len)
		rc = expected(&p, "end of input");
	return finish(rc, err);
}

/* ---------------------------------------------------------------- logic */

static RestCode parse_group(Parser *p, int depth, RestLogic *out);

/*
 * One child of and(...)/or(...): a filter "field.op.value" first (a column
 * may be called "and"), else a nested [not.]and(...) / [not.]or(...).
 */
static RestCode
parse_logic_child(Parser *p, int depth, RestLogic *c)
{
	size_t		save = p->i;
	RestError	ferr;
	RestError  *outer = p->err;
	RestCode	rc;

	p->err = &ferr;
	memset(c, 0, sizeof(*c));
	c->kind = REST_LOGIC_FILTER;
	rc = parse_field(p, &c->filter.field);
	if (rc == REST_OK && !at(p, '.'))
		rc = expected(p, "delimiter (.)");
	if (rc == REST_OK)
	{
		p->i++;
		rc = parse_op_expr(p, true, &c->filter);
	}
	if (rc == REST_OK)
	{
		skip_ws(p);
		if (!at(p, ',') && !at(p, ')'))
			rc = expected(p, "\",\" or \")\"");
	}
	p->err = outer;
	if (rc == REST_OK)
		return REST_OK;
	if (rc != REST_ESYNTAX)
		return RestFail(outer, rc, ferr.pos, "%s", ferr.msg);
	/* not a filter: a group, or the filter's error if it is not one either */
	p->i = save;
	skip_ws(p);
	memset(c, 0, sizeof(*c));
	if (at_str(p, "not."))
	{
		c->negate = true;
		p->i += 4;
	}
	if (at_str(p, "and"))
	{
		c->kind = REST_LOGIC_AND;
		p->i += 3;
	}
	else if (at_str(p, "or"))
	{
		c->kind = REST_LOGIC_OR;
		p->i += 2;
	}
	else
		return RestFail(outer, REST_ESYNTAX, ferr.pos, "%s", ferr.msg);
	skip_ws(p);
	if (!at(p, '('))
		return RestFail(outer, REST_ESYNTAX, ferr.pos, "%s", ferr.msg);
	if (depth + 1 > REST_MAX_DEPTH)
		return RestFail(outer, REST_EDEPTH, p->i, "and/or nested deeper than %d", REST_MAX_DEPTH);
	return parse_group(p, depth + 1, c);
}

/* "(child,child,...)": at least one child */
static RestCode
parse_group(Parser *p, int depth, RestLogic *out)
{
	int			cap = 0;

	skip_ws(p);
	if (!at(p, '('))
		return expected(p, "\"(\"");
	p->i++;
	for (;;)
	{
		RestLogic  *c;
		RestCode	rc;

		if (out->nchildren >= REST_MAX_ITEMS)
			return RestFail(p->err, REST_ETOOMANY, p->i, "more than %d conditions in a group", REST_MAX_ITEMS);
		c = RestPush(p->a, (void **) &out->children, &out->nchildren, &cap, sizeof(RestLogic));
		if (c == NULL)
			return nomem(p);
		if ((rc = parse_logic_child(p, depth, c)) != REST_OK)
			return rc;
		skip_ws(p);
		if (at(p, ')'))
			break;
		if (!at(p, ','))
			return expected(p, "\",\" or \")\"");
		p->i++;
	}
	p->i++;
	skip_ws(p);
	return REST_OK;
}

/* The value of and=/or=/not.and=/not.or=, the key giving kind and negate */
RestCode
RestParseLogic(const char *s, RestLogicKind kind, bool negate,
			   const RestAlloc *a, RestLogic *out, RestError *err)
{
	Parser		p;
	size_t		len;
	RestCode	rc;

	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->negate = negate;
	if (kind == REST_LOGIC_FILTER)
		return RestFail(err, REST_ESYNTAX, 0, "a logic key is and or or");
	if ((rc = check_len(s, &len, err)) != REST_OK)
		return rc;
	init_parser(&p, s, len, a, err);
	rc = parse_group(&p, 1, out);
	if (rc == REST_OK && p.i < p.len)
		rc = expected(&p, "end of input");
	return finish(rc, err);
}

/* ---------------------------------------------------------------- order */

/* ".asc"/".desc" then ".nullsfirst"/".nullslast", each optional */
static RestCode
parse_order_modifiers(Parser *p, RestOrderTerm *t)
{
	if (at_str(p, ".asc") || at_str(p, ".desc"))
	{
		t->desc = at_str(p, ".desc");
		p->i += t->desc ? 5 : 4;
	}
	if (at_str(p, ".nullsfirst"))
	{
		t->nulls = REST_NULLS_FIRST;
		p->i += 11;
	}
	else if (at_str(p, ".nullslast"))
	{
		t->nulls = REST_NULLS_LAST;
		p->i += 10;
	}
	skip_ws(p);
	if (p->i < p->len && !at(p, ','))
		return expected(p, "\".asc\", \".desc\", \".nullsfirst\", \".nullslast\", \",\" or end of input");
	return REST_OK;
}

/* col[->path][.dir][.nulls] or rel(col)[.dir][.nulls] */
static RestCode
parse_order_term(Parser *p, RestOrderTerm *t)
{
	size_t		save;
	char	   *rel;
	RestCode	rc;

	skip_ws(p);
	save = p->i;
	rc = parse_name(p, &rel);
	if (rc == REST_ENOMEM)
		return rc;
	if (rc == REST_OK && at(p, '('))
	{
		t->relation = rel;
		p->i++;
		if ((rc = parse_field(p, &t->field)) != REST_OK)
			return rc;
		if (!at(p, ')'))
			return expected(p, "\")\"");
		p->i++;
	}
	else
	{
		p->i = save;
		if ((rc = parse_field(p, &t->field)) != REST_OK)
			return rc;
	}
	return parse_order_modifiers(p, t);
}

/* order=a.desc,b,rel(c).asc.nullslast: at least one term */
RestCode
RestParseOrder(const char *s, const RestAlloc *a, int *n, RestOrderTerm **terms, RestError *err)
{
	Parser		p;
	size_t		len;
	RestCode	rc;
	int			cap = 0;

	*n = 0;
	*terms = NULL;
	if ((rc = check_len(s, &len, err)) != REST_OK)
		return rc;
	init_parser(&p, s, len, a, err);
	for (;;)
	{
		RestOrderTerm *t;

		if (*n >= REST_MAX_ITEMS)
			return RestFail(err, REST_ETOOMANY, p.i, "more than %d order terms", REST_MAX_ITEMS);
		t = RestPush(a, (void **) terms, n, &cap, sizeof(RestOrderTerm));
		if (t == NULL)
			return nomem(&p);
		if ((rc = parse_order_term(&p, t)) != REST_OK)
			return rc;
		if (!at(&p, ','))
			break;
		p.i++;
	}
	return finish(REST_OK, err);
}

/* ---------------------------------------------------------------- query */

/* columns= and on_conflict=: names separated by ',' */
static RestCode
parse_names(Parser *p, RestParam *prm)
{
	int			cap = 0;

	for (;;)
	{
		const char **nm;
		RestCode	rc;

		if (prm->nnames >= REST_MAX_ITEMS)
			return RestFail(p->err, REST_ETOOMANY, p->i, "more than %d names", REST_MAX_ITEMS);
		nm = RestPush(p->a, (void **) &prm->names, &prm->nnames, &cap, sizeof(char *));
		if (nm == NULL)
			return nomem(p);
		skip_ws(p);
		if ((rc = parse_name(p, (char **) nm)) != REST_OK)
			return rc;
		skip_ws(p);
		if (p->i >= p->len)
			return REST_OK;
		if (!at(p, ','))
			return expected(p, "\",\" or end of input");
		p->i++;
	}
}

/*
 * limit= and offset=: an optional '-' and digits, within int64.  PostgREST
 * reads a negative offset as 0 and refuses a negative limit with 416.
 */
static RestCode
parse_count(Parser *p, bool is_limit, int64_t *out)
{
	int64_t		v = 0;
	bool		neg = at(p, '-');

	if (neg)
		p->i++;
	if (p->i >= p->len)
		return expected(p, "a non-negative integer");
	for (; p->i < p->len; p->i++)
	{
		char		c = p->s[p->i];

		if (c < '0' || c > '9')
			return expected(p, "a non-negative integer");
		if (v > (INT64_MAX - (c - '0')) / 10)
			return RestFail(p->err, REST_ESYNTAX, p->i, "integer out of range");
		v = v * 10 + (c - '0');
	}
	if (neg && v > 0 && is_limit)
		return RestFail(p->err, REST_ERANGE, 0, "limit should be greater than or equal to zero");
	*out = neg ? 0 : v;
	return REST_OK;
}

/*
 * A key split at '.' into names ("quoted" names may hold dots); with_path
 * allows a JSON path on the last one (filters).  The last name is returned
 * in last, the others in prm->embed.
 */
static RestCode
parse_key_path(Parser *p, bool with_path, RestParam *prm, RestField *last)
{
	int			cap = 0;
	RestCode	rc;

	memset(last, 0, sizeof(*last));
	for (;;)
	{
		char	   *nm;

		if ((rc = parse_name(p, &nm)) != REST_OK)
			return rc;
		if (!at(p, '.'))
		{
			last->name = nm;
			break;
		}
		if (prm->nembed >= REST_MAX_DEPTH)
			return RestFail(p->err, REST_EDEPTH, p->i, "embed path deeper than %d", REST_MAX_DEPTH);
		p->i++;
		if (RestPush(p->a, (void **) &prm->embed, &prm->nembed, &cap, sizeof(char *)) == NULL)
			return nomem(p);
		prm->embed[prm->nembed - 1] = nm;
	}
	if (with_path && (rc = parse_json_path(p, last)) != REST_OK)
		return rc;
	if (p->i < p->len)
		return expected(p, with_path ? "\".\", \"->\", \"->>\" or end of input" : "\".\" or end of input");
	return REST_OK;
}

/* The last '.'-separated word of a key, as PostgREST classifies keys */
static const char *
last_word(const char *key)
{
	const char *dot = strrchr(key, '.');

	return dot ? dot + 1 : key;
}

/* and/or keys: [embed.][not.]or, every "not" segment negating */
static RestCode
parse_logic_key(Parser *p, RestParam *prm, RestLogicKind *kind, bool *negate)
{
	RestField	last;
	RestCode	rc;
	int			i,
				k = 0;

	if ((rc = parse_key_path(p, false, prm, &last)) != REST_OK)
		return rc;
	*kind = strcmp(last.name, "and") == 0 ? REST_LOGIC_AND : REST_LOGIC_OR;
	*negate = false;
	for (i = 0; i < prm->nembed; i++)
	{
		if (strcmp(prm->embed[i], "not") == 0)
			*negate = true;
		else
			prm->embed[k++] = prm->embed[i];
	}
	prm->nembed = k;
	return REST_OK;
}

/* A filter: errors stay in the param (the handler decides: RPC or PGRST100) */
static RestCode
parse_filter_param(Parser *kp, RestParam *prm)
{
	RestField	field;
	RestCode	rc;
	RestLogic  *l;

	kp->err = &prm->error;
	rc = parse_key_path(kp, true, prm, &field);
	if (rc == REST_ENOMEM)
		return rc;
	if (rc != REST_OK)
	{
		prm->bad_key = true;
		return REST_OK;
	}
	l = RestZalloc(kp->a, sizeof(RestLogic));
	if (l == NULL)
		return nomem(kp);
	l->kind = REST_LOGIC_FILTER;
	l->filter.field = field;
	rc = RestParseFilterValue(prm->value, kp->a, &l->filter, &prm->error);
	if (rc == REST_ENOMEM)
		return rc;
	if (rc == REST_OK)
		prm->logic = l;
	return REST_OK;
}

/* Classify one decoded pair by its key and parse its value */
static RestCode
parse_param(RestParam *prm, const RestAlloc *a, RestError *err)
{
	Parser		kp,
				vp;
	const char *w = last_word(prm->key);
	RestField	dummy;
	RestCode	rc;

	init_parser(&kp, prm->key, strlen(prm->key), a, err);
	init_parser(&vp, prm->value, strlen(prm->value), a, err);
	if (strcmp(prm->key, "select") == 0)
	{
		prm->kind = REST_PARAM_SELECT;
		return RestParseSelect(prm->value, a, &prm->nselect, &prm->select, err);
	}
	if (strcmp(prm->key, "columns") == 0 || strcmp(prm->key, "on_conflict") == 0)
	{
		prm->kind = prm->key[0] == 'c' ? REST_PARAM_COLUMNS : REST_PARAM_ON_CONFLICT;
		return parse_names(&vp, prm);
	}
	if (strcmp(w, "and") == 0 || strcmp(w, "or") == 0)
	{
		RestLogicKind kind;
		bool		negate;

		prm->kind = REST_PARAM_LOGIC;
		if ((rc = parse_logic_key(&kp, prm, &kind, &negate)) != REST_OK)
			return rc;
		if ((prm->logic = RestZalloc(a, sizeof(RestLogic))) == NULL)
			return nomem(&vp);
		return RestParseLogic(prm->value, kind, negate, a, prm->logic, err);
	}
	if (strcmp(w, "order") == 0 || strcmp(w, "limit") == 0 || strcmp(w, "offset") == 0)
	{
		if ((rc = parse_key_path(&kp, false, prm, &dummy)) != REST_OK)
			return rc;
		if (w[0] == 'o' && w[1] == 'r')
		{
			prm->kind = REST_PARAM_ORDER;
			return RestParseOrder(prm->value, a, &prm->norder, &prm->order, err);
		}
		prm->kind = w[0] == 'l' ? REST_PARAM_LIMIT : REST_PARAM_OFFSET;
		return parse_count(&vp, prm->kind == REST_PARAM_LIMIT, &prm->number);
	}
	prm->kind = REST_PARAM_FILTER;
	return parse_filter_param(&kp, prm);
}

/* One key=value piece of the query string: decode both, parse, record */
static RestCode
add_pair(const char *qs, size_t start, size_t end, const RestAlloc *a,
		 RestQuery *out, int *cap, RestError *err)
{
	const char *eq = memchr(qs + start, '=', end - start);
	RestParam  *prm;
	RestCode	rc;
	size_t		klen;

	if (eq == NULL)
		return REST_OK;			/* "?flag": no value, ignored as by PostgREST */
	if (out->nparams >= REST_MAX_ITEMS)
		return RestFail(err, REST_ETOOMANY, start, "more than %d query parameters", REST_MAX_ITEMS);
	prm = RestPush(a, (void **) &out->params, &out->nparams, cap, sizeof(RestParam));
	if (prm == NULL)
		return RestFail(err, REST_ENOMEM, start, "out of memory");
	klen = (size_t) (eq - (qs + start));
	if ((rc = RestDecode(qs + start, klen, true, start, a, (char **) &prm->key, err)) != REST_OK)
		return rc;
	if ((rc = RestDecode(eq + 1, end - start - klen - 1, true, start + klen + 1, a,
						  (char **) &prm->value, err)) != REST_OK)
		return rc;
	rc = parse_param(prm, a, err);
	if (rc != REST_OK && rc != REST_ENOMEM && err != NULL)
	{
		char		inner[sizeof(err->msg)];

		memcpy(inner, err->msg, sizeof(inner));
		snprintf(err->msg, sizeof(err->msg), "%.60s: %.130s", prm->key, inner);
	}
	return rc;
}

/* The whole query string, pair by pair, in order */
RestCode
RestParseQuery(const char *qs, size_t len, const RestAlloc *a, RestQuery *out, RestError *err)
{
	size_t		start = 0,
				i;
	int			cap = 0;
	RestCode	rc;

	out->nparams = 0;
	out->params = NULL;
	if (len > REST_MAX_INPUT)
		return RestFail(err, REST_ETOOMANY, REST_MAX_INPUT, "query string longer than %d bytes", REST_MAX_INPUT);
	for (i = 0; i <= len; i++)
	{
		if (i < len && qs[i] != '&')
			continue;
		if (i > start && (rc = add_pair(qs, start, i, a, out, &cap, err)) != REST_OK)
			return rc;
		start = i + 1;
	}
	return finish(REST_OK, err);
}
