/*
 * Reads: the select list, filters, order and paging of a request turned
 * into one SELECT whose single row carries the body (JSON built by the
 * database), the page's row count and, when asked, the total.  Embeds are
 * correlated subqueries over the relationship's columns, so each embedded
 * resource keeps its own row security.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pgerp/core.h"
#include "handler.h"

/* One resource of the select tree: the root or an embed */
typedef struct SelNode
{
	RestRel    *rel;
	RestRelationship *rs;		/* from the parent; NULL for the root */
	const char *name;			/* the alias, or the relation name */
	const char *relname;
	int			npath;			/* the embed path from the root, names as above */
	const char **path;
	int			nitems;
	RestSelectItem *items;		/* NULL: "*" */
	char	   *alias;			/* t0, t1, ... */
	bool		inner;
	List	   *children;		/* SelNode * */
} SelNode;

static void projection(RestRequest *req, RestSql *q, SelNode *node);

static bool
path_matches(RestParam *p, SelNode *node)
{
	if (p->nembed != node->npath)
		return false;
	for (int i = 0; i < p->nembed; i++)
		if (strcmp(p->embed[i], node->path[i]) != 0)
			return false;
	return true;
}

/* A JSON-path step appended to a column expression */
static Oid
append_field(StringInfo out, RestRel *rel, const char *alias, RestField *f)
{
	Oid			type;
	Oid			coltype;

	(void) RestResolveColumn(rel, f->name, &coltype, false);
	if (f->npath == 0)
	{
		appendStringInfo(out, "%s.%s", alias, RestQuoteIdent(f->name));
		return coltype;
	}
	appendStringInfoString(out, "(");
	appendStringInfo(out, "%s.%s", alias, RestQuoteIdent(f->name));
	type = coltype;
	for (int i = 0; i < f->npath; i++)
	{
		RestJsonStep *s = &f->path[i];

		appendStringInfo(out, " OPERATOR(pg_catalog.%s) ", s->as_text ? "->>" : "->");
		if (s->is_index)
			appendStringInfo(out, "%d", atoi(s->key));
		else
			appendStringInfoString(out, quote_literal_cstr(s->key));
		type = s->as_text ? TEXTOID : coltype;
	}
	appendStringInfoString(out, ")");
	if (type == JSONOID)
	{
		appendStringInfoString(out, "::pg_catalog.jsonb");
		type = JSONBOID;
	}
	return type;
}

/* The default output name of a field: the column, or the last JSON key */
static const char *
field_name(RestField *f)
{
	return f->npath > 0 ? f->path[f->npath - 1].key : f->name;
}

/* '*' of like patterns is '%' (PostgREST) */
static char *
like_pattern(const char *v)
{
	char	   *s = pstrdup(v);

	for (char *c = s; *c; c++)
		if (*c == '*')
			*c = '%';
	return s;
}

/* {"a","b"}: an array literal of the in-list, every item quoted */
static char *
array_literal(int n, const char **items)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	for (int i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoChar(&b, ',');
		appendStringInfoChar(&b, '"');
		for (const char *c = items[i]; *c; c++)
		{
			if (*c == '"' || *c == '\\')
				appendStringInfoChar(&b, '\\');
			appendStringInfoChar(&b, *c);
		}
		appendStringInfoChar(&b, '"');
	}
	appendStringInfoChar(&b, '}');
	return b.data;
}

static const char *
op_symbol(RestOp op)
{
	switch (op)
	{
		case REST_OP_EQ:
			return "=";
		case REST_OP_NEQ:
			return "<>";
		case REST_OP_GT:
			return ">";
		case REST_OP_GTE:
			return ">=";
		case REST_OP_LT:
			return "<";
		case REST_OP_LTE:
			return "<=";
		case REST_OP_LIKE:
			return "~~";
		case REST_OP_ILIKE:
			return "~~*";
		case REST_OP_MATCH:
			return "~";
		case REST_OP_IMATCH:
			return "~*";
		case REST_OP_CS:
			return "@>";
		case REST_OP_CD:
			return "<@";
		case REST_OP_OV:
			return "&&";
		case REST_OP_SL:
			return "<<";
		case REST_OP_SR:
			return ">>";
		case REST_OP_NXR:
			return "&<";
		case REST_OP_NXL:
			return "&>";
		case REST_OP_ADJ:
			return "-|-";
		default:
			return NULL;
	}
}

static void
fts_sql(RestSql *q, RestFilter *f, StringInfoData *expr, Oid type)
{
	const char *fn = f->op == REST_OP_FTS ? "to_tsquery" :
		f->op == REST_OP_PLFTS ? "plainto_tsquery" :
		f->op == REST_OP_PHFTS ? "phraseto_tsquery" : "websearch_to_tsquery";

	if (type == TSVECTOROID)
		appendStringInfoString(&q->sql, expr->data);
	else if (f->lang)
	{
		appendStringInfoString(&q->sql, "pg_catalog.to_tsvector(");
		RestSqlParamCast(q, f->lang, REGCONFIGOID);
		appendStringInfo(&q->sql, ", %s)", expr->data);
	}
	else
		appendStringInfo(&q->sql, "pg_catalog.to_tsvector(%s)", expr->data);
	appendStringInfo(&q->sql, " OPERATOR(pg_catalog.@@) pg_catalog.%s(", fn);
	if (f->lang)
	{
		RestSqlParamCast(q, f->lang, REGCONFIGOID);
		appendStringInfoString(&q->sql, ", ");
	}
	RestSqlParamCast(q, f->value ? f->value : "", TEXTOID);
	appendStringInfoChar(&q->sql, ')');
}

/* One filter: the operand is always a parameter of the column's type */
static void
filter_sql(RestSql *q, RestRel *rel, const char *alias, RestFilter *f)
{
	StringInfoData expr;
	Oid			type;
	Oid			operand;

	initStringInfo(&expr);
	type = append_field(&expr, rel, alias, &f->field);
	operand = (f->op == REST_OP_LIKE || f->op == REST_OP_ILIKE ||
			   f->op == REST_OP_MATCH || f->op == REST_OP_IMATCH) ? TEXTOID : type;
	if (f->negate)
		appendStringInfoString(&q->sql, "NOT ");
	appendStringInfoChar(&q->sql, '(');
	switch (f->op)
	{
		case REST_OP_IS:
			appendStringInfo(&q->sql, "%s IS %s", expr.data,
							 f->isval == REST_IS_NULL ? "NULL" :
							 f->isval == REST_IS_NOT_NULL ? "NOT NULL" :
							 f->isval == REST_IS_TRUE ? "TRUE" :
							 f->isval == REST_IS_FALSE ? "FALSE" : "UNKNOWN");
			break;
		case REST_OP_ISDISTINCT:
			appendStringInfo(&q->sql, "%s IS DISTINCT FROM ", expr.data);
			RestSqlParamCast(q, f->value, type);
			break;
		case REST_OP_IN:
			{
				Oid			arr = get_array_type(type);

				if (OidIsValid(arr))
				{
					appendStringInfo(&q->sql, "%s OPERATOR(pg_catalog.=) ANY (", expr.data);
					RestSqlParamCast(q, array_literal(f->nlist, f->list), arr);
				}
				else
				{
					appendStringInfo(&q->sql, "%s::pg_catalog.text OPERATOR(pg_catalog.=) ANY (", expr.data);
					RestSqlParamCast(q, array_literal(f->nlist, f->list), TEXTARRAYOID);
				}
				appendStringInfoChar(&q->sql, ')');
			}
			break;
		case REST_OP_FTS:
		case REST_OP_PLFTS:
		case REST_OP_PHFTS:
		case REST_OP_WFTS:
			fts_sql(q, f, &expr, type);
			break;
		default:
			{
				const char *sym = op_symbol(f->op);
				const char *value = f->value ? f->value : "";

				Assert(sym != NULL);
				if (f->op == REST_OP_LIKE || f->op == REST_OP_ILIKE)
					value = like_pattern(value);
				if (f->quant != REST_QUANT_NONE)
				{
					Oid			arr = get_array_type(operand);

					appendStringInfo(&q->sql, "%s OPERATOR(pg_catalog.%s) %s (", expr.data, sym,
									 f->quant == REST_QUANT_ANY ? "ANY" : "ALL");
					/* the operand is an array literal, {a,b}; like patterns take * for % */
					RestSqlParamCast(q, value[0] ? value : "{}", OidIsValid(arr) ? arr : TEXTARRAYOID);
					appendStringInfoChar(&q->sql, ')');
				}
				else
				{
					appendStringInfo(&q->sql, "%s OPERATOR(pg_catalog.%s) ", expr.data, sym);
					RestSqlParamCast(q, value, operand);
				}
			}
			break;
	}
	appendStringInfoChar(&q->sql, ')');
}

static void
logic_sql(RestSql *q, RestRel *rel, const char *alias, RestLogic *l)
{
	if (l->kind == REST_LOGIC_FILTER)
	{
		filter_sql(q, rel, alias, &l->filter);
		return;
	}
	appendStringInfoString(&q->sql, l->negate ? "NOT (" : "(");
	for (int i = 0; i < l->nchildren; i++)
	{
		if (i)
			appendStringInfoString(&q->sql, l->kind == REST_LOGIC_AND ? " AND " : " OR ");
		logic_sql(q, rel, alias, &l->children[i]);
	}
	if (l->nchildren == 0)
		appendStringInfoString(&q->sql, l->kind == REST_LOGIC_AND ? "TRUE" : "FALSE");
	appendStringInfoChar(&q->sql, ')');
}

/* The join of an embed to its parent */
static void
join_sql(RestSql *q, SelNode *child, const char *parent_alias)
{
	for (int i = 0; i < child->rs->ncols; i++)
		appendStringInfo(&q->sql, "%s%s.%s OPERATOR(pg_catalog.=) %s.%s",
						 i ? " AND " : "",
						 child->alias, RestQuoteIdent(child->rs->target_cols[i]),
						 parent_alias, RestQuoteIdent(child->rs->source_cols[i]));
}

static SelNode *
child_named(SelNode *node, const char *name)
{
	ListCell   *lc;

	foreach(lc, node->children)
	{
		SelNode	   *c = lfirst(lc);

		if (strcmp(c->name, name) == 0 || strcmp(c->relname, name) == 0)
			return c;
	}
	return NULL;
}

static void inner_exists(RestRequest *req, RestSql *q, SelNode *child, const char *parent_alias);

/*
 * The conditions of one resource: its filters and logic trees, the
 * embed-is-null filters, and EXISTS for each !inner embed below it.
 * Appends " AND cond" for each; *any tells whether there was one.
 */
static void
node_where(RestRequest *req, RestSql *q, SelNode *node, bool *any)
{
	ListCell   *lc;

	for (int i = 0; i < req->query.nparams; i++)
	{
		RestParam  *p = &req->query.params[i];

		if ((p->kind != REST_PARAM_FILTER && p->kind != REST_PARAM_LOGIC) || !path_matches(p, node) ||
			(req->consumed && req->consumed[i]))
			continue;
		if (p->kind == REST_PARAM_FILTER && p->logic == NULL)
			RestGrammarError(psprintf("filter %s", PgerpEcho(p->key)), &p->error);
		if (p->kind == REST_PARAM_FILTER && p->logic->kind == REST_LOGIC_FILTER &&
			p->logic->filter.field.npath == 0 &&
			child_named(node, p->logic->filter.field.name) != NULL &&
			RestResolveColumn(node->rel, p->logic->filter.field.name, NULL, true) == InvalidAttrNumber)
		{
			/* embed=is.null / embed=not.is.null: whether the embed has rows */
			RestFilter *f = &p->logic->filter;
			SelNode	   *c = child_named(node, f->field.name);
			bool		exists;

			if (f->op != REST_OP_IS || (f->isval != REST_IS_NULL && f->isval != REST_IS_NOT_NULL))
				RestRaise(400, "PGRST120", "Bad operator on the embedded resource",
						  "Only is null or not is null filters are allowed on embedded resources", NULL);
			exists = (f->isval == REST_IS_NULL) == f->negate;
			appendStringInfoString(&q->sql, " AND ");
			if (!exists)
				appendStringInfoString(&q->sql, "NOT ");
			inner_exists(req, q, c, node->alias);
			continue;
		}
		appendStringInfoString(&q->sql, " AND ");
		logic_sql(q, node->rel, node->alias, p->logic);
		*any = true;
	}
	foreach(lc, node->children)
	{
		SelNode	   *c = lfirst(lc);

		if (c->inner)
		{
			appendStringInfoString(&q->sql, " AND ");
			inner_exists(req, q, c, node->alias);
		}
	}
}

static void
inner_exists(RestRequest *req, RestSql *q, SelNode *child, const char *parent_alias)
{
	bool		any = false;

	appendStringInfo(&q->sql, "EXISTS (SELECT 1 FROM %s.%s %s WHERE ",
					 RestQuoteIdent(child->rel->schema), RestQuoteIdent(child->rel->name), child->alias);
	join_sql(q, child, parent_alias);
	node_where(req, q, child, &any);
	appendStringInfoChar(&q->sql, ')');
}

/* Does the root carry any filter (a write without one is refused) */
bool
RestHasTopFilters(RestRequest *req)
{
	for (int i = 0; i < req->query.nparams; i++)
	{
		RestParam  *p = &req->query.params[i];

		if ((p->kind == REST_PARAM_FILTER || p->kind == REST_PARAM_LOGIC) && p->nembed == 0 &&
			!(req->consumed && req->consumed[i]))
			return true;
	}
	return false;
}

void
RestBuildWhere(RestRequest *req, RestSql *q, RestRel *rel, const char *alias,
			   int nembed, const char **embed, bool *any)
{
	SelNode		root = {0};

	root.rel = rel;
	root.alias = (char *) alias;
	root.name = root.relname = rel->name;
	root.npath = nembed;
	root.path = embed;
	node_where(req, q, &root, any);
}

static void
order_sql(RestRequest *req, RestSql *q, SelNode *node)
{
	bool		first = true;

	for (int i = 0; i < req->query.nparams; i++)
	{
		RestParam  *p = &req->query.params[i];

		if (p->kind != REST_PARAM_ORDER || !path_matches(p, node))
			continue;
		for (int t = 0; t < p->norder; t++)
		{
			RestOrderTerm *o = &p->order[t];

			appendStringInfoString(&q->sql, first ? " ORDER BY " : ", ");
			first = false;
			if (o->relation)
			{
				SelNode	   *c = child_named(node, o->relation);

				if (c == NULL || c->rs->to_many)
					RestRaise(400, "PGRST118",
							  psprintf("A related order on '%s' is not possible", PgerpEcho(o->relation)),
							  psprintf("'%s' and '%s' do not form a many-to-one or one-to-one relationship",
									   node->relname, PgerpEcho(o->relation)), NULL);
				appendStringInfo(&q->sql, "(SELECT ");
				(void) append_field(&q->sql, c->rel, c->alias, &o->field);
				appendStringInfo(&q->sql, " FROM %s.%s %s WHERE ",
								 RestQuoteIdent(c->rel->schema), RestQuoteIdent(c->rel->name), c->alias);
				join_sql(q, c, node->alias);
				appendStringInfoString(&q->sql, " LIMIT 1)");
			}
			else
				(void) append_field(&q->sql, node->rel, node->alias, &o->field);
			appendStringInfoString(&q->sql, o->desc ? " DESC" : " ASC");
			if (o->nulls == REST_NULLS_FIRST)
				appendStringInfoString(&q->sql, " NULLS FIRST");
			else if (o->nulls == REST_NULLS_LAST)
				appendStringInfoString(&q->sql, " NULLS LAST");
		}
	}
}

/* limit/offset params of a node; -1 when absent */
static void
node_paging(RestRequest *req, SelNode *node, int64 *limit, int64 *offset)
{
	*limit = -1;
	*offset = -1;
	for (int i = 0; i < req->query.nparams; i++)
	{
		RestParam  *p = &req->query.params[i];

		if (!path_matches(p, node))
			continue;
		if (p->kind == REST_PARAM_LIMIT)
			*limit = p->number;
		else if (p->kind == REST_PARAM_OFFSET)
			*offset = p->number;
	}
}

static void
paging_sql(RestSql *q, int64 limit, int64 offset)
{
	if (limit >= 0)
	{
		appendStringInfoString(&q->sql, " LIMIT ");
		RestSqlParamCast(q, psprintf(INT64_FORMAT, limit), INT8OID);
	}
	if (offset > 0)
	{
		appendStringInfoString(&q->sql, " OFFSET ");
		RestSqlParamCast(q, psprintf(INT64_FORMAT, offset), INT8OID);
	}
}

/* The embed's correlated subquery: an object (to-one) or an array (to-many) */
static void
embed_sql(RestRequest *req, RestSql *q, SelNode *parent, SelNode *c)
{
	bool		any = false;
	int64		limit,
				offset;

	if (c->rs->to_many)
		appendStringInfoString(&q->sql, "(SELECT COALESCE(pg_catalog.json_agg(_e), '[]') FROM (SELECT ");
	else
		appendStringInfoString(&q->sql, "(SELECT pg_catalog.row_to_json(_e) FROM (SELECT ");
	projection(req, q, c);
	appendStringInfo(&q->sql, " FROM %s.%s %s WHERE ",
					 RestQuoteIdent(c->rel->schema), RestQuoteIdent(c->rel->name), c->alias);
	join_sql(q, c, parent->alias);
	node_where(req, q, c, &any);
	if (c->rs->to_many)
	{
		order_sql(req, q, c);
		node_paging(req, c, &limit, &offset);
		paging_sql(q, limit, offset);
	}
	else
		appendStringInfoString(&q->sql, " LIMIT 1");
	appendStringInfo(&q->sql, ") _e) AS %s", RestQuoteIdent(c->name));
}

/* Resolve the select tree below node: relationships and aliases */
static void
build_tree(RestRequest *req, RestSql *q, SelNode *node, int depth)
{
	node->alias = psprintf("t%d", q->alias_seq++);
	for (int i = 0; i < node->nitems; i++)
	{
		RestSelectItem *it = &node->items[i];
		SelNode	   *c;

		if (it->kind != REST_SEL_EMBED)
			continue;
		c = palloc0(sizeof(SelNode));
		c->rs = RestFindRelationship(req, node->rel, it->field.name, it->hint);
		c->rel = c->rs->target;
		c->relname = c->rel->name;
		c->name = it->alias ? it->alias : it->field.name;
		c->npath = node->npath + 1;
		c->path = palloc(sizeof(char *) * c->npath);
		for (int k = 0; k < node->npath; k++)
			c->path[k] = node->path[k];
		c->path[node->npath] = c->name;
		c->nitems = it->nchildren;
		c->items = it->nchildren > 0 ? it->children : NULL;
		c->inner = it->inner;
		node->children = lappend(node->children, c);
		build_tree(req, q, c, depth + 1);
	}
}

/* The select list of a node; embeds as subqueries */
static void
projection(RestRequest *req, RestSql *q, SelNode *node)
{
	ListCell   *lc = list_head(node->children);
	bool		first = true;

	if (node->items == NULL)
	{
		appendStringInfo(&q->sql, "%s.*", node->alias);
		return;
	}
	for (int i = 0; i < node->nitems; i++)
	{
		RestSelectItem *it = &node->items[i];

		if (it->aggregate != NULL)
			RestRaise(400, "PGRST123", "Use of aggregate functions is not allowed", NULL, NULL);
		if (it->kind == REST_SEL_EMBED && it->spread)
			RestRaise(400, "PGRST127", "Feature not implemented",
					  "Spread embeds (...relation) are not supported.", NULL);
		if (!first)
			appendStringInfoString(&q->sql, ", ");
		first = false;
		switch (it->kind)
		{
			case REST_SEL_STAR:
				appendStringInfo(&q->sql, "%s.*", node->alias);
				break;
			case REST_SEL_FIELD:
				(void) append_field(&q->sql, node->rel, node->alias, &it->field);
				if (it->cast)
				{
					Oid			t;
					int32		typmod;

					parseTypeString(it->cast, &t, &typmod, false);
					appendStringInfo(&q->sql, "::%s", format_type_be_qualified(t));
				}
				appendStringInfo(&q->sql, " AS %s",
								 RestQuoteIdent(it->alias ? it->alias : field_name(&it->field)));
				break;
			case REST_SEL_EMBED:
				Assert(lc != NULL);
				embed_sql(req, q, node, lfirst(lc));
				lc = lnext(node->children, lc);
				break;
		}
	}
}

static RestParam *
select_param(RestRequest *req)
{
	RestParam  *found = NULL;

	for (int i = 0; i < req->query.nparams; i++)
		if (req->query.params[i].kind == REST_PARAM_SELECT)
			found = &req->query.params[i];
	return found;
}

/* Every embedded filter, order and limit must name an embed of the select (PGRST108) */
static void
check_embedded_params(RestRequest *req, SelNode *root)
{
	for (int i = 0; i < req->query.nparams; i++)
	{
		RestParam  *p = &req->query.params[i];
		SelNode	   *n = root;

		if (p->nembed == 0 || p->kind == REST_PARAM_SELECT)
			continue;
		for (int k = 0; k < p->nembed && n; k++)
			n = child_named(n, p->embed[k]);
		if (n == NULL)
			RestRaise(400, "PGRST108",
					  psprintf("'%s' is not an embedded resource in this request", PgerpEcho(p->embed[p->nembed - 1])),
					  NULL,
					  psprintf("Verify that '%s' is included in the 'select' query parameter.", PgerpEcho(p->embed[p->nembed - 1])));
	}
}

/* The requested window: limit/offset params intersected with the Range header */
static void
root_window(RestRequest *req, SelNode *root, int64 *limit, int64 *offset)
{
	node_paging(req, root, limit, offset);
	if (*offset < 0)
		*offset = 0;
	if (req->has_range)
	{
		int64		first = Max(*offset, req->range_first);
		int64		last = req->range_last;

		if (*limit >= 0)
		{
			int64		plast = *offset + *limit - 1;

			last = (last < 0) ? plast : Min(last, plast);
		}
		*offset = first;
		*limit = (last < 0) ? -1 : Max(last - first + 1, 0);
	}
}

/*
 * The whole read statement.  Columns: page (rows in the body), body (text;
 * for CSV the rows themselves), total (when asked).
 */
void
RestBuildBody(RestRequest *req, RestSql *q, RestReadSpec *spec, bool with_total)
{
	SelNode	   *root = palloc0(sizeof(SelNode));
	RestParam  *sel = select_param(req);
	int64		limit = -1,
				offset = 0;
	bool		any = false;
	const char *from;
	StringInfoData inner;

	root->rel = spec->rel;
	root->name = root->relname = spec->rel->name;
	if (sel && sel->nselect > 0)
	{
		root->nitems = sel->nselect;
		root->items = sel->select;
	}
	build_tree(req, q, root, 0);
	check_embedded_params(req, root);
	from = spec->from_sql ? spec->from_sql :
		psprintf("%s.%s", RestQuoteIdent(spec->rel->schema), RestQuoteIdent(spec->rel->name));

	/* the page, as a subquery _r */
	initStringInfo(&inner);
	{
		StringInfoData outer = q->sql;

		q->sql = inner;
		appendStringInfoString(&q->sql, "SELECT ");
		projection(req, q, root);
		appendStringInfo(&q->sql, " FROM %s %s WHERE TRUE", from, root->alias);
		if (spec->filters)
			node_where(req, q, root, &any);
		if (spec->paging)
		{
			order_sql(req, q, root);
			root_window(req, root, &limit, &offset);
			paging_sql(q, limit, offset);
		}
		inner = q->sql;
		q->sql = outer;
	}
	/*
	 * Without a total, one JSON text per row, joined here: a plain projection
	 * initializes and runs cheaper than json_agg and count(*) over it.
	 */
	req->rows_mode = (!with_total && req->media != REST_MEDIA_CSV);
	if (req->media == REST_MEDIA_CSV)
		appendStringInfoString(&q->sql, "SELECT _r.*");
	else if (req->rows_mode)
		appendStringInfoString(&q->sql, req->nulls_stripped ?
							   "SELECT pg_catalog.json_strip_nulls(pg_catalog.row_to_json(_r))::pg_catalog.text" :
							   "SELECT pg_catalog.row_to_json(_r)::pg_catalog.text");
	else
	{
		appendStringInfoString(&q->sql, "SELECT pg_catalog.count(*) AS page, ");
		if (req->media == REST_MEDIA_OBJECT)
			appendStringInfoString(&q->sql, req->nulls_stripped ?
								   "pg_catalog.json_strip_nulls(pg_catalog.json_agg(_r) OPERATOR(pg_catalog.->) 0)::pg_catalog.text" :
								   "(pg_catalog.json_agg(_r) OPERATOR(pg_catalog.->) 0)::pg_catalog.text");
		else
			appendStringInfoString(&q->sql, req->nulls_stripped ?
								   "pg_catalog.json_strip_nulls(COALESCE(pg_catalog.json_agg(_r), '[]'))::pg_catalog.text" :
								   "COALESCE(pg_catalog.json_agg(_r), '[]')::pg_catalog.text");
		appendStringInfoString(&q->sql, " AS body");
	}
	if (with_total)
	{
		bool		any2 = false;

		appendStringInfo(&q->sql, ", (SELECT pg_catalog.count(*) FROM %s %s WHERE TRUE", from, root->alias);
		if (spec->filters)
			node_where(req, q, root, &any2);
		appendStringInfoString(&q->sql, ") AS pgrst_total");
	}
	appendStringInfo(&q->sql, " FROM (%s) _r", inner.data);
	req->range_first = offset;	/* the window actually applied, for Content-Range */
}

static void
csv_field(StringInfo b, const char *v)
{
	bool		quote = (v[0] == '\0') ? false : (strpbrk(v, ",\"\r\n") != NULL);

	if (!quote)
	{
		appendStringInfoString(b, v);
		return;
	}
	appendStringInfoChar(b, '"');
	for (const char *c = v; *c; c++)
	{
		if (*c == '"')
			appendStringInfoChar(b, '"');
		appendStringInfoChar(b, *c);
	}
	appendStringInfoChar(b, '"');
}

/* text/csv: a header line, then one line per row (the total column left out) */
static int64
csv_body(StringInfo b, SPITupleTable *tt, uint64 n, bool with_total, int64 *total)
{
	TupleDesc	d = tt->tupdesc;
	int			ncols = d->natts - (with_total ? 1 : 0);

	for (int c = 0; c < ncols; c++)
	{
		if (c)
			appendStringInfoChar(b, ',');
		csv_field(b, NameStr(TupleDescAttr(d, c)->attname));
	}
	for (uint64 r = 0; r < n; r++)
	{
		appendStringInfoChar(b, '\n');
		for (int c = 0; c < ncols; c++)
		{
			char	   *v = SPI_getvalue(tt->vals[r], d, c + 1);

			if (c)
				appendStringInfoChar(b, ',');
			if (v)
				csv_field(b, v);
		}
		if (with_total && r == 0)
		{
			bool		isnull;

			*total = DatumGetInt64(SPI_getbinval(tt->vals[r], d, d->natts, &isnull));
		}
	}
	return (int64) n;
}

/*
 * The rows in the body, the body as JSON text and (when asked) the total
 * of a JSON read statement, in either shape: rows mode (one JSON text per
 * row, joined here; an object is its one row) or the aggregate row (page,
 * body, total).
 */
int64
RestBodyResult(RestRequest *req, SPITupleTable *tt, uint64 nrows, char **body, int64 *total)
{
	bool		isnull;
	StringInfoData b;

	if (!req->rows_mode)
	{
		Assert(nrows == 1);
		if (total)
			*total = DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &isnull));
		*body = SPI_getvalue(tt->vals[0], tt->tupdesc, 2);
		return DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
	}
	if (req->media == REST_MEDIA_OBJECT)
	{
		*body = nrows == 1 ? SPI_getvalue(tt->vals[0], tt->tupdesc, 1) : NULL;
		return (int64) nrows;
	}
	initStringInfo(&b);
	appendStringInfoChar(&b, '[');
	for (uint64 r = 0; r < nrows; r++)
	{
		char	   *v = SPI_getvalue(tt->vals[r], tt->tupdesc, 1);

		if (r)
			appendStringInfoChar(&b, ',');
		appendStringInfoString(&b, v ? v : "null");
	}
	appendStringInfoChar(&b, ']');
	*body = b.data;
	return (int64) nrows;
}

/*
 * Status, Content-Range and body of a read (also of representations):
 * 206 when a known total exceeds the page, 416 past the end, 406 PGRST116
 * when an object was asked for and the rows are not one.
 */
void
RestFinishRead(RestRequest *req, RestResponse *resp, SPITupleTable *tt,
			   bool with_total, int64 total_override)
{
	int64		page = 0;
	int64		total = total_override;
	char	   *body = NULL;
	int64		offset = req->range_first;
	uint64		nrows = SPI_processed;

	resp->body = RestNewBody(resp);
	if (req->media == REST_MEDIA_CSV)
	{
		if (with_total && nrows == 0)
			total = 0;
		page = csv_body(resp->body, tt, nrows, with_total, &total);
		RestAddHeader(resp, "Content-Type", "text/csv; charset=utf-8");
	}
	else
	{
		page = RestBodyResult(req, tt, nrows, &body, with_total ? &total : NULL);
		if (req->media == REST_MEDIA_OBJECT)
		{
			if (page != 1)
				RestRaise(406, "PGRST116", "Cannot coerce the result to a single JSON object",
						  psprintf("The result contains " INT64_FORMAT " rows", page), NULL);
			RestAddHeader(resp, "Content-Type", "application/vnd.pgrst.object+json; charset=utf-8");
		}
		else
			RestAddHeader(resp, "Content-Type", "application/json; charset=utf-8");
		appendStringInfoString(resp->body, body ? body : "[]");
	}
	if (total >= 0 && offset > 0 && offset >= total)
		RestRaise(416, "PGRST103", "Requested range not satisfiable",
				  psprintf("An offset of " INT64_FORMAT " was requested, but there are only " INT64_FORMAT " rows.",
						   offset, total), NULL);
	if (page > 0)
		RestAddHeader(resp, "Content-Range",
					  total >= 0 ? psprintf(INT64_FORMAT "-" INT64_FORMAT "/" INT64_FORMAT, offset, offset + page - 1, total)
					  : psprintf(INT64_FORMAT "-" INT64_FORMAT "/*", offset, offset + page - 1));
	else
		RestAddHeader(resp, "Content-Range", total >= 0 ? psprintf("*/" INT64_FORMAT, total) : "*/*");
	resp->status = (total >= 0 && page < total && req->verb == VERB_GET) ? 206 : 200;
	if (total >= 0 && page < total && req->verb == VERB_HEAD)
		resp->status = 206;
}

/* count=planned: the planner's estimate of the filtered rows */
static int64
planned_total(RestRequest *req, RestRel *rel)
{
	RestSql		c;
	bool		any = false;

	RestSqlInit(&c);
	appendStringInfo(&c.sql, "SELECT 1 FROM %s.%s t0 WHERE TRUE",
					 RestQuoteIdent(rel->schema), RestQuoteIdent(rel->name));
	RestBuildWhere(req, &c, rel, "t0", 0, NULL, &any);
	return RestPlannedRows(&c);
}

/* GET and HEAD of a resource */
void
RestHandleRead(RestRequest *req, RestRel *rel, RestResponse *resp)
{
	RestSql		q;
	RestReadSpec spec = {rel, NULL, true, true};
	bool		exact = req->prefer.count == REST_COUNT_EXACT;
	int64		total = -1;
	SPITupleTable *tt;
	uint64		n;

	if (req->prefer.count == REST_COUNT_PLANNED || req->prefer.count == REST_COUNT_ESTIMATED)
	{
		total = planned_total(req, rel);
		/* estimated: exact below the threshold where counting stays cheap */
		if (req->prefer.count == REST_COUNT_ESTIMATED && total < 100000)
		{
			exact = true;
			total = -1;
		}
	}
	if (req->prefer.count != REST_COUNT_NONE)
		req->applied |= REST_APPLIED_COUNT;
	RestSqlInit(&q);
	RestBuildBody(req, &q, &spec, exact);
	tt = RestExecute(&q, true, &n);
	RestFinishRead(req, resp, tt, exact, total);
}
