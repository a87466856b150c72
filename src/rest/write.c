/*
 * Writes: POST (insert, upsert), PATCH, PUT and DELETE as one statement,
 * the modifying one a CTE whose rows the read builder turns into the
 * representation (read.c).  The affected count is always computed, so
 * max-affected is checked before anything is kept, and a PATCH or DELETE
 * without a filter is refused rather than run over the whole resource.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "rewrite/rewriteHandler.h"
#include "utils/numeric.h"
#include "utils/ruleutils.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "pgerp/core.h"
#include "handler.h"

/* The JSON body as jsonb: an object or an array of objects (PGRST102) */
static Jsonb *
json_body(RestRequest *req)
{
	Jsonb	   *jb;

	if (req->body == NULL || req->body_len == 0)
		RestRaise(400, "PGRST102", "Empty or invalid json", NULL, NULL);
	/* a body that does not parse answers 400 PGRST102 with the parser's message */
	RestPendingError(400, "PGRST102");
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(req->body)));
	RestResetPendingError();
	return jb;
}

/* text/csv: the rows as a JSON array of objects of strings and nulls */
static char *
csv_as_json(RestRequest *req)
{
	RestCsv		csv;
	RestError	err;
	StringInfoData b;

	if (RestParseCsv(req->body ? req->body : "", req->body_len, RestPallocAllocator(), &csv, &err) != REST_OK)
		RestRaise(400, "PGRST102", "Invalid CSV body", psprintf("%s (at character %zu)", err.msg, err.pos + 1), NULL);
	initStringInfo(&b);
	appendStringInfoChar(&b, '[');
	for (int64 r = 0; r < csv.nrows; r++)
	{
		appendStringInfoString(&b, r ? ",{" : "{");
		for (int c = 0; c < csv.ncolumns; c++)
		{
			if (c)
				appendStringInfoChar(&b, ',');
			escape_json(&b, csv.columns[c]);
			appendStringInfoChar(&b, ':');
			if (csv.nulls[r][c])
				appendStringInfoString(&b, "null");
			else
				escape_json(&b, csv.cells[r][c]);
		}
		appendStringInfoChar(&b, '}');
	}
	appendStringInfoChar(&b, ']');
	return b.data;
}

/* The keys of one object, in order (write columns, RPC argument names) */
List *
RestObjectKeys(JsonbContainer *obj)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *keys = NIL;
	int			depth = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT)
			depth++;
		else if (tok == WJB_END_OBJECT)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
			keys = lappend(keys, pnstrdup(v.val.string.val, v.val.string.len));
	}
	return keys;
}

static bool
same_keys(List *a, List *b)
{
	ListCell   *lc;

	if (list_length(a) != list_length(b))
		return false;
	foreach(lc, a)
	{
		ListCell   *lc2;
		bool		found = false;

		foreach(lc2, b)
			if (strcmp(lfirst(lc), lfirst(lc2)) == 0)
				found = true;
		if (!found)
			return false;
	}
	return true;
}

/*
 * The columns a write sets: columns= when given, else the keys of the
 * (first) object, every object having the same keys (PGRST102).  Each must
 * be a column of the resource (PGRST204).
 */
static List *
write_columns(RestRequest *req, RestRel *rel, Jsonb *jb)
{
	List	   *cols = NIL;
	ListCell   *lc;

	for (int i = 0; i < req->query.nparams; i++)
		if (req->query.params[i].kind == REST_PARAM_COLUMNS)
		{
			RestParam  *p = &req->query.params[i];

			cols = NIL;
			for (int k = 0; k < p->nnames; k++)
				cols = lappend(cols, pstrdup(p->names[k]));
		}
	if (cols == NIL)
	{
		if (JB_ROOT_IS_SCALAR(jb))
			RestRaise(400, "PGRST102", "Empty or invalid json", NULL, NULL);
		if (JB_ROOT_IS_OBJECT(jb))
			cols = RestObjectKeys(&jb->root);
		else
		{
			JsonbIterator *it = JsonbIteratorInit(&jb->root);
			JsonbValue	v;
			JsonbIteratorToken tok;
			bool		first = true;

			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				List	   *keys;

				if (tok != WJB_ELEM)
					continue;
				if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
					RestRaise(400, "PGRST102", "All object keys must match", NULL, NULL);
				keys = RestObjectKeys(v.val.binary.data);
				if (first)
					cols = keys;
				else if (!same_keys(cols, keys))
					RestRaise(400, "PGRST102", "All object keys must match", NULL, NULL);
				first = false;
			}
		}
	}
	foreach(lc, cols)
		if (RestResolveColumn(rel, lfirst(lc), NULL, true) == InvalidAttrNumber)
			RestRaise(400, "PGRST204",
					  psprintf("Could not find the '%s' column of '%s' in the schema cache",
							   PgerpEcho(lfirst(lc)), rel->name), NULL, NULL);
	return cols;
}

/* The column default of a view or table column, as SQL, or NULL */
static char *
column_default(RestRel *rel, const char *col)
{
	AttrNumber	att = RestResolveColumn(rel, col, NULL, false);
	Relation	r = relation_open(rel->relid, AccessShareLock);
	Node	   *expr = build_column_default(r, att);

	relation_close(r, AccessShareLock);
	if (expr == NULL)
		return NULL;
	return deparse_expression(expr, NIL, false, false);
}

static void
set_resolution(const char *value)
{
	(void) set_config_option("request.resolution", value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/* INSERT ... SELECT over the body's rows, with ON CONFLICT for tables */
static void
insert_sql(RestRequest *req, RestSql *q, RestRel *rel, List *cols, const char *body_json)
{
	ListCell   *lc;
	const char *target = psprintf("%s.%s", RestQuoteIdent(rel->schema), RestQuoteIdent(rel->name));
	RestParam  *on_conflict = NULL;

	appendStringInfo(&q->sql, "INSERT INTO %s AS t0 (", target);
	foreach(lc, cols)
		appendStringInfo(&q->sql, "%s%s", foreach_current_index(lc) ? ", " : "", RestQuoteIdent(lfirst(lc)));
	appendStringInfoString(&q->sql, ") SELECT ");
	foreach(lc, cols)
	{
		const char *c = RestQuoteIdent(lfirst(lc));
		char	   *def = req->prefer.missing == REST_MISSING_DEFAULT ? column_default(rel, lfirst(lc)) : NULL;

		if (foreach_current_index(lc))
			appendStringInfoString(&q->sql, ", ");
		if (def)
			appendStringInfo(&q->sql, "CASE WHEN pgrst_e.j OPERATOR(pg_catalog.?) %s THEN pgrst_r.%s ELSE %s END",
							 quote_literal_cstr(lfirst(lc)), c, def);
		else
			appendStringInfo(&q->sql, "pgrst_r.%s", c);
	}
	appendStringInfoString(&q->sql, " FROM pg_catalog.jsonb_array_elements(");
	RestSqlParamCast(q, body_json, JSONBOID);
	appendStringInfo(&q->sql, ") AS pgrst_e(j), pg_catalog.jsonb_populate_record(NULL::%s, pgrst_e.j) AS pgrst_r", target);
	if (req->prefer.missing == REST_MISSING_DEFAULT)
		req->applied |= REST_APPLIED_MISSING;

	for (int i = 0; i < req->query.nparams; i++)
		if (req->query.params[i].kind == REST_PARAM_ON_CONFLICT)
			on_conflict = &req->query.params[i];
	if (req->prefer.resolution == REST_RESOLUTION_NONE)
		return;
	req->applied |= REST_APPLIED_RESOLUTION;
	if (rel->relkind == RELKIND_VIEW)
	{
		/* views take no ON CONFLICT: their INSTEAD OF trigger resolves (docs/api.md, Upserts) */
		set_resolution(req->prefer.resolution == REST_RESOLUTION_MERGE ? "merge" : "ignore");
		return;
	}
	if (on_conflict == NULL || on_conflict->nnames == 0)
	{
		List	   *pk = RestPrimaryKeyColumns(rel);

		if (pk == NIL)
			RestRaise(400, "PGRST100", "\"failed to parse on_conflict\"",
					  "An upsert needs on_conflict or a primary key.", NULL);
		appendStringInfoString(&q->sql, " ON CONFLICT (");
		foreach(lc, pk)
			appendStringInfo(&q->sql, "%s%s", foreach_current_index(lc) ? ", " : "", RestQuoteIdent(lfirst(lc)));
	}
	else
	{
		appendStringInfoString(&q->sql, " ON CONFLICT (");
		for (int k = 0; k < on_conflict->nnames; k++)
		{
			(void) RestResolveColumn(rel, on_conflict->names[k], NULL, false);
			appendStringInfo(&q->sql, "%s%s", k ? ", " : "", RestQuoteIdent(on_conflict->names[k]));
		}
	}
	appendStringInfoChar(&q->sql, ')');
	if (req->prefer.resolution == REST_RESOLUTION_IGNORE)
		appendStringInfoString(&q->sql, " DO NOTHING");
	else
	{
		appendStringInfoString(&q->sql, " DO UPDATE SET ");
		foreach(lc, cols)
			appendStringInfo(&q->sql, "%s%s = EXCLUDED.%s", foreach_current_index(lc) ? ", " : "",
							 RestQuoteIdent(lfirst(lc)), RestQuoteIdent(lfirst(lc)));
	}
}

/* UPDATE ... SET col = body.col ... WHERE filters */
static void
update_sql(RestRequest *req, RestSql *q, RestRel *rel, List *cols, const char *body_json)
{
	ListCell   *lc;
	bool		any = false;
	const char *target = psprintf("%s.%s", RestQuoteIdent(rel->schema), RestQuoteIdent(rel->name));

	appendStringInfo(&q->sql, "UPDATE %s AS t0 SET ", target);
	foreach(lc, cols)
		appendStringInfo(&q->sql, "%s%s = pgrst_r.%s", foreach_current_index(lc) ? ", " : "",
						 RestQuoteIdent(lfirst(lc)), RestQuoteIdent(lfirst(lc)));
	appendStringInfo(&q->sql, " FROM pg_catalog.jsonb_populate_record(NULL::%s, ", target);
	RestSqlParamCast(q, body_json, JSONBOID);
	appendStringInfoString(&q->sql, ") AS pgrst_r WHERE TRUE");
	RestBuildWhere(req, q, rel, "t0", 0, NULL, &any);
}

static void
delete_sql(RestRequest *req, RestSql *q, RestRel *rel)
{
	bool		any = false;

	appendStringInfo(&q->sql, "DELETE FROM %s.%s AS t0 WHERE TRUE",
					 RestQuoteIdent(rel->schema), RestQuoteIdent(rel->name));
	RestBuildWhere(req, q, rel, "t0", 0, NULL, &any);
}

/* Location of a created row: /rel?pk=eq.value for each key column */
static void
add_location(RestRequest *req, RestRel *rel, RestResponse *resp, SPITupleTable *tt, uint64 n)
{
	List	   *pk = RestPrimaryKeyColumns(rel);
	StringInfoData b;
	ListCell   *lc;
	char	   *body;
	Jsonb	   *jb;

	if (pk == NIL || n != 1 || tt == NULL || req->media == REST_MEDIA_CSV)
		return;
	(void) RestBodyResult(req, tt, n, &body, NULL);
	if (body == NULL)
		return;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(body)));
	initStringInfo(&b);
	appendStringInfo(&b, "/%s", rel->name);
	foreach(lc, pk)
	{
		JsonbValue	key,
				   *v = NULL;
		JsonbValue	elem;

		key.type = jbvString;
		key.val.string.val = lfirst(lc);
		key.val.string.len = strlen(lfirst(lc));
		if (JB_ROOT_IS_ARRAY(jb))
		{
			JsonbValue *e = getIthJsonbValueFromContainer(&jb->root, 0);

			if (e && e->type == jbvBinary)
				v = findJsonbValueFromContainer(e->val.binary.data, JB_FOBJECT, &key);
		}
		else
			v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
		if (v == NULL)
			return;
		elem = *v;
		appendStringInfo(&b, "%c%s=eq.", foreach_current_index(lc) ? '&' : '?', (char *) lfirst(lc));
		if (elem.type == jbvString)
			appendBinaryStringInfo(&b, elem.val.string.val, elem.val.string.len);
		else if (elem.type == jbvNumeric)
			appendStringInfoString(&b, DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(elem.val.numeric))));
		else
			return;
	}
	RestAddHeader(resp, "Location", b.data);
}

static void
check_write_request(RestRequest *req)
{
	if (req->anonymous)
		RestRaise(401, "42501", "permission denied: no user is signed in",
				  "The request carries no bearer token.",
				  "Sign in with POST /rpc/sign_in and send the token as Authorization: Bearer <token>.");
	for (int i = 0; i < req->query.nparams; i++)
		if ((req->query.params[i].kind == REST_PARAM_LIMIT || req->query.params[i].kind == REST_PARAM_OFFSET) &&
			req->query.params[i].nembed == 0)
			RestRaise(400, "PGRST127", "Feature not implemented",
					  "limit and offset are not supported on writes.", NULL);
	if ((req->verb == VERB_PATCH || req->verb == VERB_DELETE) && !RestHasTopFilters(req))
		RestRaise(400, "21000",
				  psprintf("%s requires a WHERE clause", req->verb == VERB_PATCH ? "UPDATE" : "DELETE"),
				  "A PATCH or DELETE without a filter would change every row the caller can see.",
				  "Add a filter, for example ?id=eq.1.");
}

/* The body of a write as jsonb text, and the columns it sets */
static char *
write_body(RestRequest *req, RestRel *rel, List **cols)
{
	Jsonb	   *jb;
	char	   *json;

	if (strcmp(req->content_type, "text/csv") == 0)
		json = csv_as_json(req);
	else if (strcmp(req->content_type, "application/json") == 0 || req->content_type[0] == '\0')
		json = req->body;
	else
		RestRaise(415, "PGRST107",
				  psprintf("Content-Type not acceptable: %s", PgerpEcho(req->content_type)), NULL, NULL);
	req->body = json;
	req->body_len = json ? strlen(json) : 0;
	jb = json_body(req);
	if ((req->verb == VERB_PATCH || req->verb == VERB_PUT) && !JB_ROOT_IS_OBJECT(jb))
		RestRaise(400, "PGRST102", "Empty or invalid json",
				  req->verb == VERB_PUT ? "PUT takes a single object." : "PATCH takes a single object.", NULL);
	*cols = write_columns(req, rel, jb);
	if (JB_ROOT_IS_OBJECT(jb) && req->verb == VERB_POST)
		return psprintf("[%s]", json);
	return json;
}

/* PUT: the filters must be eq on the key, and the body must agree (PGRST115) */
static void
check_put(RestRequest *req, RestRel *rel)
{
	List	   *pk = RestPrimaryKeyColumns(rel);
	ListCell   *lc;

	if (pk == NIL)
		RestRaise(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators", NULL, NULL);
	foreach(lc, pk)
	{
		bool		found = false;

		for (int i = 0; i < req->query.nparams; i++)
		{
			RestParam  *p = &req->query.params[i];

			if (p->kind == REST_PARAM_FILTER && p->nembed == 0 && p->logic &&
				p->logic->kind == REST_LOGIC_FILTER && p->logic->filter.op == REST_OP_EQ &&
				!p->logic->filter.negate && strcmp(p->logic->filter.field.name, lfirst(lc)) == 0)
				found = true;
		}
		if (!found)
			RestRaise(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators", NULL, NULL);
	}
}

/* The rows a write touched: one result row each, or the aggregate's page count */
static int64
write_count(RestRequest *req, SPITupleTable *tt, uint64 n)
{
	bool		isnull;

	if (req->media == REST_MEDIA_CSV || req->rows_mode)
		return (int64) n;
	return DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
}

/*
 * Content-Range of a write, as PostgREST: "star/N" with a count, else
 * "star/star", for an insert; "0-(n-1)/star" (or "/N") for an update or
 * delete that touched rows.
 */
static void
set_write_range(RestRequest *req, RestResponse *resp, int64 affected)
{
	ListCell   *lc;
	bool		counted = req->prefer.count != REST_COUNT_NONE;
	char	   *total = counted ? psprintf(INT64_FORMAT, affected) : "*";

	foreach(lc, resp->headers)
		if (pg_strcasecmp(((RestHeader *) lfirst(lc))->name, "Content-Range") == 0)
			resp->headers = foreach_delete_current(resp->headers, lc);
	if (counted)
		req->applied |= REST_APPLIED_COUNT;
	if (req->verb == VERB_POST || affected == 0)
		RestAddHeader(resp, "Content-Range", psprintf("*/%s", total));
	else
		RestAddHeader(resp, "Content-Range", psprintf("0-" INT64_FORMAT "/%s", affected - 1, total));
}

void
RestHandleWrite(RestRequest *req, RestRel *rel, RestResponse *resp)
{
	RestSql		q;
	List	   *cols = NIL;
	char	   *json = NULL;
	RestReadSpec spec = {rel, "pgrst_source", false, false};
	SPITupleTable *tt;
	uint64		n;
	int64		affected;
	bool		put_update = false;

	check_write_request(req);
	if (req->verb != VERB_DELETE)
		json = write_body(req, rel, &cols);
	if (req->verb == VERB_PUT)
		check_put(req, rel);

	RestSqlInit(&q);
	appendStringInfoString(&q.sql, "WITH pgrst_source AS (");
	if (req->verb == VERB_POST)
		insert_sql(req, &q, rel, cols, json);
	else if (req->verb == VERB_PATCH || req->verb == VERB_PUT)
	{
		update_sql(req, &q, rel, cols, json);
		put_update = (req->verb == VERB_PUT);
	}
	else
		delete_sql(req, &q, rel);
	appendStringInfoString(&q.sql, " RETURNING t0.*) ");
	if (req->media == REST_MEDIA_CSV && req->prefer.ret != REST_RETURN_REPRESENTATION)
		req->media = REST_MEDIA_JSON;
	RestBuildBody(req, &q, &spec, false);
	tt = RestExecute(&q, false, &n);
	affected = write_count(req, tt, n);

	if (put_update && affected == 0)
	{
		/* PUT of a row that is not there: insert it */
		RestSql		ins;
		RestVerb	verb = req->verb;

		RestSqlInit(&ins);
		appendStringInfoString(&ins.sql, "WITH pgrst_source AS (");
		req->verb = VERB_POST;
		insert_sql(req, &ins, rel, cols, psprintf("[%s]", json));
		req->verb = verb;
		appendStringInfoString(&ins.sql, " RETURNING t0.*) ");
		RestBuildBody(req, &ins, &spec, false);
		tt = RestExecute(&ins, false, &n);
		affected = write_count(req, tt, n);
	}

	if (req->prefer.has_max_affected && req->prefer.handling == REST_HANDLING_STRICT &&
		req->verb != VERB_POST)
	{
		req->applied |= REST_APPLIED_MAX_AFFECTED;
		if (affected > req->prefer.max_affected)
			RestRaise(400, "PGRST124", "Query result exceeds max-affected preference constraint",
					  psprintf("The query affects " INT64_FORMAT " rows", affected), NULL);
	}
	if (req->prefer.ret == REST_RETURN_REPRESENTATION)
	{
		RestFinishRead(req, resp, tt, false, -1);
		resp->status = req->verb == VERB_POST ? 201 : 200;
	}
	else
	{
		resp->body = NULL;
		resp->status = req->verb == VERB_POST ? 201 : 204;
		if (req->verb == VERB_POST && req->prefer.ret == REST_RETURN_HEADERS_ONLY)
			add_location(req, rel, resp, tt, n);
	}
	set_write_range(req, resp, affected);
	if (req->prefer.ret != REST_RETURN_DEFAULT)
		req->applied |= REST_APPLIED_RETURN;
}
