/*
 * /rpc/name: a function of the profile called with named arguments (the
 * POST body's keys, or GET's query parameters), chosen among its overloads
 * by those names.  SETOF and composite results are read like a resource
 * (filters, order, limit apply); a scalar comes back bare; void is 204.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "pgerp/core.h"
#include "handler.h"

typedef struct RpcFunc
{
	Oid			oid;
	char		volatility;
	bool		retset;
	Oid			rettype;
	int			nin;			/* input arguments */
	char	  **names;			/* their names (NULL when unnamed) */
	Oid		   *types;
	int			ndefaults;
	bool		whole_body;		/* one unnamed json/jsonb argument takes the body */
} RpcFunc;

/* The input arguments of a function */
static RpcFunc *
describe(HeapTuple tup)
{
	Form_pg_proc p = (Form_pg_proc) GETSTRUCT(tup);
	RpcFunc    *f = palloc0(sizeof(RpcFunc));
	Oid		   *types;
	char	  **names;
	char	   *modes;
	int			n = get_func_arg_info(tup, &types, &names, &modes);

	f->oid = p->oid;
	f->volatility = p->provolatile;
	f->retset = p->proretset;
	f->rettype = p->prorettype;
	f->ndefaults = p->pronargdefaults;
	f->names = palloc0(sizeof(char *) * Max(n, 1));
	f->types = palloc0(sizeof(Oid) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		char		m = modes ? modes[i] : PROARGMODE_IN;

		if (m != PROARGMODE_IN && m != PROARGMODE_INOUT && m != PROARGMODE_VARIADIC)
			continue;
		f->names[f->nin] = (names && names[i] && names[i][0]) ? names[i] : NULL;
		f->types[f->nin] = types[i];
		f->nin++;
	}
	f->whole_body = (f->nin == 1 && f->names[0] == NULL &&
					 (f->types[0] == JSONOID || f->types[0] == JSONBOID));
	return f;
}

static int
arg_index(RpcFunc *f, const char *name)
{
	for (int i = 0; i < f->nin; i++)
		if (f->names[i] && strcmp(f->names[i], name) == 0)
			return i;
	return -1;
}

/* Does f take exactly these names: all given ones, and every one without default */
static bool
fits(RpcFunc *f, List *given, bool get)
{
	ListCell   *lc;
	int			required = f->nin - f->ndefaults;

	if (f->whole_body)
		return true;
	/* GET: the parameters that name no argument are filters on the result */
	foreach(lc, given)
		if (!get && arg_index(f, lfirst(lc)) < 0)
			return false;
	for (int i = 0; i < required; i++)
	{
		bool		found = false;

		if (f->names[i] == NULL)
			return false;
		foreach(lc, given)
			if (strcmp(lfirst(lc), f->names[i]) == 0)
				found = true;
		if (!found)
			return false;
	}
	return true;
}

/* The overload of the target that fits the names; none: 404, or NULL if missing_ok */
static RpcFunc *
find_function(RestRequest *req, List *given, bool get, bool missing_ok)
{
	CatCList   *list;
	RpcFunc    *best = NULL;
	int			best_matched = -1;

	if (req->target[0] != '_' && OidIsValid(req->schema_oid))
	{
		list = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(req->target));
		for (int i = 0; i < list->n_members; i++)
		{
			HeapTuple	tup = &list->members[i]->tuple;
			Form_pg_proc p = (Form_pg_proc) GETSTRUCT(tup);
			RpcFunc    *f;
			int			matched = 0;
			ListCell   *lc;

			if (p->pronamespace != req->schema_oid || p->prokind != PROKIND_FUNCTION)
				continue;

			f = describe(tup);
			if (!fits(f, given, get))
				continue;
			foreach(lc, given)
				if (arg_index(f, lfirst(lc)) >= 0)
					matched++;
			/*
			 * The overload taking most of the given names wins, then the one
			 * with fewer arguments; the whole-body one comes last.
			 */
			if (best == NULL || (best->whole_body && !f->whole_body) ||
				(!f->whole_body && (matched > best_matched ||
									(matched == best_matched && f->nin < best->nin))))
			{
				best = f;
				best_matched = matched;
			}
		}
		ReleaseSysCacheList(list);
	}
	if (best == NULL && !missing_ok)
	{
		StringInfoData args;
		ListCell   *lc;

		initStringInfo(&args);
		foreach(lc, given)
			appendStringInfo(&args, "%s%s", foreach_current_index(lc) ? ", " : "", (char *) lfirst(lc));
		RestRaise(404, "PGRST202",
				  psprintf("Could not find the function %s.%s(%s) in the schema cache",
						   req->schema, PgerpEcho(req->target), args.data),
				  psprintf("Searched for the function %s.%s with parameters %s or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
						   req->schema, PgerpEcho(req->target), given ? args.data : "(none)"),
				  NULL);
	}
	return best;
}

/*
 * POST with an Idempotency-Key header (#14.6): the key becomes the argument
 * idempotency_key of a function that has one, unless the body gives that
 * argument itself (the body wins).  A function without that argument cannot
 * honour the key, and a retry would post twice: 400 rather than ignore it.
 */
static RpcFunc *
apply_idempotency_key(RestRequest *req, Jsonb **body, char **body_json, List **given)
{
	char	   *key = RestHeaderValue(req, "idempotency-key");
	List	   *with;
	RpcFunc    *f;
	StringInfoData obj;
	Jsonb	   *add;
	ListCell   *lc;

	if (key == NULL)
		return find_function(req, *given, false, false);
	foreach(lc, *given)
		if (strcmp(lfirst(lc), "idempotency_key") == 0)
			return find_function(req, *given, false, false);
	with = lappend(list_copy(*given), "idempotency_key");
	f = JB_ROOT_IS_OBJECT(*body) ? find_function(req, with, false, true) : NULL;
	if (f == NULL || f->whole_body)
	{
		/* 404 when nothing of that name takes the body's arguments at all */
		(void) find_function(req, *given, false, false);
		RestRaise(400, "PGRST100", "Idempotency-Key header not accepted by this function",
				  psprintf("%s.%s has no argument idempotency_key.", req->schema, PgerpEcho(req->target)),
				  "Send the header only to functions that post (docs/api.md).");
	}
	initStringInfo(&obj);
	appendStringInfoString(&obj, "{\"idempotency_key\": ");
	escape_json(&obj, key);
	appendStringInfoChar(&obj, '}');
	add = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(obj.data)));
	*body = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(*body), JsonbPGetDatum(add)));
	*body_json = JsonbToCString(NULL, &(*body)->root, VARSIZE(*body));
	*given = with;
	return f;
}

/* The argument names of the request: the body's keys, or GET's parameters */
static List *
given_names(RestRequest *req, Jsonb *body)
{
	List	   *names = NIL;

	if (body != NULL)
		return JB_ROOT_IS_OBJECT(body) ? RestObjectKeys(&body->root) : NIL;
	for (int i = 0; i < req->query.nparams; i++)
	{
		RestParam  *p = &req->query.params[i];

		if (p->kind == REST_PARAM_FILTER && p->bad_key)
			RestGrammarError(psprintf("filter %s", PgerpEcho(p->key)), &p->error);
		if (p->kind == REST_PARAM_FILTER && p->nembed == 0)
			names = lappend(names, (char *) p->key);
	}
	return names;
}

/* GET: the parameters named like an argument become arguments */
static void
consume_get_args(RestRequest *req, RpcFunc *f)
{
	req->consumed = palloc0(sizeof(bool) * Max(req->query.nparams, 1));
	for (int i = 0; i < req->query.nparams; i++)
	{
		RestParam  *p = &req->query.params[i];

		if (p->kind == REST_PARAM_FILTER && p->nembed == 0 && arg_index(f, p->key) >= 0)
			req->consumed[i] = true;
	}
}

/* "schema"."fn"(a => ..., b => ...) */
static char *
call_sql(RestRequest *req, RestSql *q, RpcFunc *f, List *given, const char *body_json)
{
	StringInfoData c;
	ListCell   *lc;
	StringInfoData saved = q->sql;

	initStringInfo(&c);
	q->sql = c;
	appendStringInfo(&q->sql, "%s.%s(", RestQuoteIdent(req->schema), RestQuoteIdent(req->target));
	if (f->whole_body)
		RestSqlParamCast(q, body_json ? body_json : "{}", f->types[0]);
	else if (body_json != NULL)
	{
		foreach(lc, given)
		{
			int			a = arg_index(f, lfirst(lc));

			appendStringInfo(&q->sql, "%s%s => (SELECT pgrst_a.%s FROM pg_catalog.jsonb_to_record(",
							 foreach_current_index(lc) ? ", " : "",
							 RestQuoteIdent(lfirst(lc)), RestQuoteIdent(lfirst(lc)));
			RestSqlParamCast(q, body_json, JSONBOID);
			appendStringInfo(&q->sql, ") AS pgrst_a(%s %s))", RestQuoteIdent(lfirst(lc)),
							 format_type_be_qualified(f->types[a]));
		}
	}
	else
	{
		bool		first = true;

		for (int i = 0; i < req->query.nparams; i++)
		{
			RestParam  *p = &req->query.params[i];
			int			a;

			if (!req->consumed[i])
				continue;
			a = arg_index(f, p->key);
			appendStringInfo(&q->sql, "%s%s => ", first ? "" : ", ", RestQuoteIdent(p->key));
			RestSqlParamCast(q, p->value, f->types[a]);
			first = false;
		}
	}
	appendStringInfoChar(&q->sql, ')');
	c = q->sql;
	q->sql = saved;
	return c.data;
}

/* The result columns of a composite or RETURNS TABLE function, as a RestRel */
static RestRel *
result_rel(RestRequest *req, RpcFunc *f)
{
	RestRel    *rel = palloc0(sizeof(RestRel));
	Oid			relid = get_typ_typrelid(f->rettype);

	rel->schema = req->schema;
	rel->name = req->target;
	if (OidIsValid(relid))
	{
		rel->relid = relid;
		rel->relkind = get_rel_relkind(relid);
		return rel;
	}
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(f->oid));
		Oid		   *types;
		char	  **names;
		char	   *modes;
		int			n = get_func_arg_info(tup, &types, &names, &modes);

		rel->colnames = palloc0(sizeof(char *) * Max(n, 1));
		rel->coltypes = palloc0(sizeof(Oid) * Max(n, 1));
		for (int i = 0; i < n; i++)
			if (modes && (modes[i] == PROARGMODE_OUT || modes[i] == PROARGMODE_TABLE ||
						  modes[i] == PROARGMODE_INOUT))
			{
				rel->colnames[rel->ncols] = names ? names[i] : psprintf("column%d", i + 1);
				rel->coltypes[rel->ncols] = types[i];
				rel->ncols++;
			}
		ReleaseSysCache(tup);
	}
	return rel;
}

static bool
returns_rows(RpcFunc *f)
{
	return f->retset || get_typtype(f->rettype) == TYPTYPE_COMPOSITE ||
		f->rettype == RECORDOID;
}

void
RestHandleRpc(RestRequest *req, RestResponse *resp)
{
	Jsonb	   *body = NULL;
	char	   *body_json = NULL;
	List	   *given;
	RpcFunc    *f;
	RestSql		q;
	char	   *call;
	SPITupleTable *tt;
	uint64		n;
	bool		get = (req->verb == VERB_GET || req->verb == VERB_HEAD);

	if (req->verb == VERB_OPTIONS)
	{
		RestHandleOptions(req, NULL, resp);
		return;
	}
	if (!get && req->verb != VERB_POST)
		RestRaise(405, "PGRST101", "Only GET and POST verbs are allowed", NULL, NULL);
	if (!get)
	{
		body_json = (req->body && req->body_len > 0) ? req->body : "{}";
		RestPendingError(400, "PGRST102");
		body = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(body_json)));
		RestResetPendingError();
	}
	given = given_names(req, body);
	f = get ? find_function(req, given, true, false) : apply_idempotency_key(req, &body, &body_json, &given);
	if (get)
	{
		if (f->volatility == PROVOLATILE_VOLATILE)
			RestRaise(405, "PGRST101", "Cannot use the GET method on a volatile function",
					  psprintf("%s.%s is VOLATILE: call it with POST.", req->schema, req->target), NULL);
		consume_get_args(req, f);
	}
	else
		req->consumed = palloc0(sizeof(bool) * Max(req->query.nparams, 1));

	RestSqlInit(&q);
	call = call_sql(req, &q, f, given, f->whole_body ? body_json : (get ? NULL : body_json));
	if (f->rettype == VOIDOID && !f->retset)
	{
		appendStringInfo(&q.sql, "SELECT %s", call);
		(void) RestExecute(&q, get, &n);
		resp->status = 204;
		resp->body = NULL;
		return;
	}
	if (returns_rows(f))
	{
		RestReadSpec spec = {result_rel(req, f), NULL, true, true};
		bool		exact = req->prefer.count == REST_COUNT_EXACT;
		bool		single = !f->retset;

		spec.from_sql = call;
		if (single && req->media == REST_MEDIA_JSON)
			req->media = REST_MEDIA_OBJECT;
		if (req->prefer.count != REST_COUNT_NONE)
			req->applied |= REST_APPLIED_COUNT;
		RestBuildBody(req, &q, &spec, exact && !single);
		tt = RestExecute(&q, get, &n);
		if (single)
		{
			/* one composite value: the object, or null when the function returned null */
			char	   *b;
			int64		page = RestBodyResult(req, tt, n, &b, NULL);

			if (req->media != REST_MEDIA_OBJECT || page != 1)
			{
				RestFinishRead(req, resp, tt, false, -1);
				return;
			}
			resp->body = RestNewBody(resp);
			appendStringInfoString(resp->body, b ? b : "null");
			RestAddHeader(resp, "Content-Type", "application/json; charset=utf-8");
			resp->status = 200;
			return;
		}
		RestFinishRead(req, resp, tt, exact, -1);
		return;
	}
	/* a scalar: the bare JSON value */
	appendStringInfo(&q.sql, "SELECT pg_catalog.to_json(%s)::pg_catalog.text", call);
	tt = RestExecute(&q, get, &n);
	resp->body = RestNewBody(resp);
	{
		char	   *v = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);

		appendStringInfoString(resp->body, v ? v : "null");
	}
	RestAddHeader(resp, "Content-Type", "application/json; charset=utf-8");
	resp->status = 200;
}
