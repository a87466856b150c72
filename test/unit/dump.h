/*
 * Canonical text renderings of the trees of pgerp/rest.h, shared by the unit
 * tests (exact comparisons) and the fuzzer (walks every node the parser made).
 */
#ifndef PGERP_TEST_DUMP_H
#define PGERP_TEST_DUMP_H

#include "pgerp/rest.h"

#include <stdio.h>
#include <string.h>

typedef struct Buf
{
	char		s[65536];
	size_t		n;
} Buf;

static void
put(Buf *b, const char *t)
{
	size_t		k = strlen(t);

	if (b->n + k >= sizeof(b->s))
		k = sizeof(b->s) - 1 - b->n;
	memcpy(b->s + b->n, t, k);
	b->n += k;
	b->s[b->n] = '\0';
}

static void
dump_field(Buf *b, const RestField *f)
{
	int			i;

	put(b, f->name);
	for (i = 0; i < f->npath; i++)
	{
		put(b, f->path[i].as_text ? "->>" : "->");
		if (f->path[i].is_index)
			put(b, "#");
		put(b, f->path[i].key);
	}
}

static void
dump_select(Buf *b, int n, const RestSelectItem *it)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (i > 0)
			put(b, " | ");
		if (it[i].kind == REST_SEL_STAR)
		{
			put(b, "*");
			continue;
		}
		if (it[i].alias)
		{
			put(b, it[i].alias);
			put(b, ":");
		}
		if (it[i].spread)
			put(b, "...");
		dump_field(b, &it[i].field);
		if (it[i].cast)
		{
			put(b, "::");
			put(b, it[i].cast);
		}
		if (it[i].aggregate)
		{
			put(b, ".");
			put(b, it[i].aggregate);
			put(b, "()");
		}
		if (it[i].aggregate_cast)
		{
			put(b, "::");
			put(b, it[i].aggregate_cast);
		}
		if (it[i].kind == REST_SEL_EMBED)
		{
			if (it[i].hint)
			{
				put(b, "!");
				put(b, it[i].hint);
			}
			if (it[i].inner)
				put(b, "!inner");
			if (it[i].left)
				put(b, "!left");
			put(b, "(");
			dump_select(b, it[i].nchildren, it[i].children);
			put(b, ")");
		}
	}
}

static const char *const op_text[] = {
	"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch",
	"in", "is", "isdistinct", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj",
	"fts", "plfts", "phfts", "wfts"
};
static const char *const is_text[] = {"null", "not_null", "true", "false", "unknown"};

static void
dump_filter(Buf *b, const RestFilter *f, bool with_field)
{
	int			i;

	if (with_field)
	{
		dump_field(b, &f->field);
		put(b, " ");
	}
	if (f->negate)
		put(b, "not.");
	put(b, op_text[f->op]);
	if (f->quant == REST_QUANT_ANY)
		put(b, "(any)");
	if (f->quant == REST_QUANT_ALL)
		put(b, "(all)");
	if (f->lang)
	{
		put(b, "(");
		put(b, f->lang);
		put(b, ")");
	}
	if (f->op == REST_OP_IN)
	{
		put(b, "[");
		for (i = 0; i < f->nlist; i++)
		{
			if (i > 0)
				put(b, ";");
			put(b, f->list[i]);
		}
		put(b, "]");
	}
	else if (f->op == REST_OP_IS)
	{
		put(b, "=");
		put(b, is_text[f->isval]);
	}
	else
	{
		put(b, "=");
		put(b, f->value);
	}
}

static void
dump_logic(Buf *b, const RestLogic *l)
{
	int			i;

	if (l->kind == REST_LOGIC_FILTER)
	{
		dump_filter(b, &l->filter, true);
		return;
	}
	if (l->negate)
		put(b, "not.");
	put(b, l->kind == REST_LOGIC_AND ? "and{" : "or{");
	for (i = 0; i < l->nchildren; i++)
	{
		if (i > 0)
			put(b, ", ");
		dump_logic(b, &l->children[i]);
	}
	put(b, "}");
}

static void
dump_order(Buf *b, int n, const RestOrderTerm *t)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (i > 0)
			put(b, " | ");
		if (t[i].relation)
		{
			put(b, t[i].relation);
			put(b, "/");
		}
		dump_field(b, &t[i].field);
		if (t[i].desc)
			put(b, " desc");
		if (t[i].nulls == REST_NULLS_FIRST)
			put(b, " nullsfirst");
		if (t[i].nulls == REST_NULLS_LAST)
			put(b, " nullslast");
	}
}

static void
dump_query(Buf *b, const RestQuery *q)
{
	static const char *const kinds[] = {"select", "order", "limit", "offset", "columns",
	"on_conflict", "logic", "filter"};
	int			i,
				j;
	char		num[32];

	for (i = 0; i < q->nparams; i++)
	{
		const RestParam *p = &q->params[i];

		if (i > 0)
			put(b, " & ");
		put(b, kinds[p->kind]);
		for (j = 0; j < p->nembed; j++)
		{
			put(b, "@");
			put(b, p->embed[j]);
		}
		put(b, " ");
		switch (p->kind)
		{
			case REST_PARAM_SELECT:
				dump_select(b, p->nselect, p->select);
				break;
			case REST_PARAM_ORDER:
				dump_order(b, p->norder, p->order);
				break;
			case REST_PARAM_LIMIT:
			case REST_PARAM_OFFSET:
				snprintf(num, sizeof(num), "%lld", (long long) p->number);
				put(b, num);
				break;
			case REST_PARAM_COLUMNS:
			case REST_PARAM_ON_CONFLICT:
				for (j = 0; j < p->nnames; j++)
				{
					if (j > 0)
						put(b, ";");
					put(b, p->names[j]);
				}
				break;
			default:
				if (p->logic)
					dump_logic(b, p->logic);
				else
				{
					put(b, p->bad_key ? "BADKEY(" : "BAD(");
					put(b, p->key);
					put(b, "=");
					put(b, p->value);
					put(b, ")");
				}
				break;
		}
	}
}

static void
dump_csv(Buf *b, const RestCsv *c)
{
	int64_t		r;
	int			k;

	for (k = 0; k < c->ncolumns; k++)
	{
		put(b, k ? "," : "");
		put(b, c->columns[k]);
	}
	for (r = 0; r < c->nrows; r++)
	{
		put(b, " /");
		for (k = 0; k < c->ncolumns; k++)
		{
			put(b, k ? "," : "");
			put(b, c->nulls[r][k] ? "<null>" : c->cells[r][k]);
		}
	}
}

#endif							/* PGERP_TEST_DUMP_H */
