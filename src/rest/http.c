/*
 * erp.http_request(method, path, query, headers, body): one HTTP request
 * answered inside the database with PostgREST's semantics.  The request
 * runs in a subtransaction under the identity of its bearer token, which
 * ends with the request; every outcome, errors included, is a response.
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "pgerp/auth.h"
#include "pgerp/core.h"
#include "handler.h"

static void *
palloc_alloc(void *ctx, size_t size)
{
	return palloc(size);
}

static const RestAlloc palloc_allocator = {palloc_alloc, NULL};

const RestAlloc *
RestPallocAllocator(void)
{
	return &palloc_allocator;
}

/* A request header by its lower-case name, from the headers object */
char *
RestHeaderValue(RestRequest *req, const char *name)
{
	JsonbValue	key;
	JsonbValue *v;

	if (req->headers == NULL || !JB_ROOT_IS_OBJECT(req->headers))
		return NULL;
	key.type = jbvString;
	key.val.string.val = (char *) name;
	key.val.string.len = strlen(name);
	v = findJsonbValueFromContainer(&req->headers->root, JB_FOBJECT, &key);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Response parts live in the call's context: the handlers run with SPI's
 * procedure context current, which SPI_finish frees.
 */
void
RestAddHeader(RestResponse *resp, const char *name, const char *value)
{
	MemoryContext old = MemoryContextSwitchTo(resp->cxt);
	RestHeader *h = palloc(sizeof(RestHeader));

	h->name = pstrdup(name);
	h->value = pstrdup(value);
	resp->headers = lappend(resp->headers, h);
	MemoryContextSwitchTo(old);
}

StringInfo
RestNewBody(RestResponse *resp)
{
	MemoryContext old = MemoryContextSwitchTo(resp->cxt);
	StringInfo	b = makeStringInfo();

	MemoryContextSwitchTo(old);
	return b;
}

static RestVerb
parse_verb(const char *m)
{
	static const struct
	{
		const char *name;
		RestVerb	verb;
	}			verbs[] = {
		{"GET", VERB_GET}, {"HEAD", VERB_HEAD}, {"POST", VERB_POST},
		{"PATCH", VERB_PATCH}, {"PUT", VERB_PUT}, {"DELETE", VERB_DELETE},
		{"OPTIONS", VERB_OPTIONS}
	};

	for (size_t i = 0; i < lengthof(verbs); i++)
		if (strcmp(m, verbs[i].name) == 0)
			return verbs[i].verb;
	RestRaise(405, "PGRST117", psprintf("Unsupported HTTP method: %s", PgerpEcho(m)), NULL, NULL);
}

/* "/", "/name" or "/rpc/name"; anything else is PGRST125 */
static void
parse_path(RestRequest *req)
{
	const char *p = req->path;
	char	   *seg[3];
	int			n = 0;
	RestError	err;

	if (p[0] != '/')
		RestRaise(404, "PGRST125", "Invalid path specified in request URL", NULL, NULL);
	p++;
	while (*p && n < 3)
	{
		const char *slash = strchr(p, '/');
		size_t		len = slash ? (size_t) (slash - p) : strlen(p);

		if (RestPercentDecode(p, len, RestPallocAllocator(), &seg[n], &err) != REST_OK)
			RestRaise(404, "PGRST125", "Invalid path specified in request URL", NULL, NULL);
		n++;
		p += len;
		if (*p == '/')
			p++;
		if (*p == '\0')
			break;
	}
	if (*p != '\0')
		RestRaise(404, "PGRST125", "Invalid path specified in request URL", NULL, NULL);
	if (n == 0 || (n == 1 && seg[0][0] == '\0'))
		req->is_root = true;
	else if (n == 1)
		req->target = seg[0];
	else if (n == 2 && strcmp(seg[0], "rpc") == 0 && seg[1][0] != '\0')
	{
		req->is_rpc = true;
		req->target = seg[1];
	}
	else
		RestRaise(404, "PGRST125", "Invalid path specified in request URL", NULL, NULL);
}

/* GUCs a function can read: request.method, request.path, ... */
static void
set_local(const char *name, const char *value)
{
	(void) set_config_option(name, value ? value : "", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

static void
set_request_gucs(RestRequest *req)
{
	char	   *headers = JsonbToCString(NULL, &req->headers->root, VARSIZE(req->headers));

	set_local("request.method", req->method);
	set_local("request.path", req->path);
	set_local("request.headers", headers);
	set_local("request.jwt.claims", req->claims_json ? req->claims_json : "{}");
}

/*
 * The bearer token's identity, local to the transaction (and restored by
 * the caller when the request ends), or no pgerp identity at all.
 */
static void
take_identity(RestRequest *req)
{
	char	   *auth = RestHeaderValue(req, "authorization");
	char	   *addr = RestHeaderValue(req, "x-pgerp-client-address");
	JwtClaims	claims;

	if (addr != NULL)
		AuthSetClientAddress(addr);
	if (auth == NULL || auth[0] == '\0')
	{
		req->anonymous = true;
		SessionSet(0, 0, true);
		return;
	}
	if (pg_strncasecmp(auth, "bearer ", 7) != 0)
		RestRaise(401, "PGRST301", "invalid access token",
				  "The Authorization header is not a bearer token.", NULL);
	auth += 7;
	while (*auth == ' ')
		auth++;
	/* a refusal of the token is a 401 whatever raised it (errors.c) */
	RestPendingError(401, "PGRST301");
	AuthUseToken(auth, true, &claims);
	RestResetPendingError();
	req->claims_json = psprintf("{\"sub\":" INT64_FORMAT ",\"company\":" INT64_FORMAT
								",\"iat\":" INT64_FORMAT ",\"exp\":" INT64_FORMAT "}",
								claims.sub, claims.company, claims.iat, claims.exp);
}

/* Prefer, Range, Accept and Content-Type */
static void
parse_headers(RestRequest *req)
{
	RestError	err;
	char	   *h;

	h = RestHeaderValue(req, "prefer");
	if (h && RestParsePrefer(h, RestPallocAllocator(), &req->prefer, &err) != REST_OK)
		RestGrammarError("Prefer header", &err);
	if (req->prefer.handling == REST_HANDLING_STRICT && req->prefer.ninvalid > 0)
		RestRaise(400, "PGRST122", "Invalid preferences given with handling=strict",
				  psprintf("Invalid preferences: %s", req->prefer.first_invalid), NULL);
	if (req->prefer.handling == REST_HANDLING_STRICT || req->prefer.handling == REST_HANDLING_LENIENT)
		req->applied |= REST_APPLIED_HANDLING;

	h = RestHeaderValue(req, "range");
	if (h && (req->verb == VERB_GET || req->verb == VERB_HEAD))
	{
		const char *unit = RestHeaderValue(req, "range-unit");

		if (unit == NULL || pg_strcasecmp(unit, "items") == 0)
		{
			if (strncmp(h, "items=", 6) == 0)
				h += 6;
			if (RestParseRange(h, &req->range_first, &req->range_last, &err) == REST_OK)
				req->has_range = true;
			if (req->has_range && req->range_last >= 0 && req->range_last < req->range_first)
				RestRaise(416, "PGRST103", "Requested range not satisfiable",
						  "The lower boundary must be lower than or equal to the upper boundary in the Range header.", NULL);
		}
	}

	h = RestHeaderValue(req, "accept");
	if (RestParseAccept(h ? h : "", RestPallocAllocator(), &req->naccept, &req->accept, &err) != REST_OK)
		RestGrammarError("Accept header", &err);

	h = RestHeaderValue(req, "content-type");
	if (h)
	{
		char	   *semi = strchr(h, ';');

		if (semi)
			*semi = '\0';
		for (char *c = h; *c; c++)
			*c = pg_tolower((unsigned char) *c);
		while (*h == ' ')
			h++;
		for (char *e = h + strlen(h); e > h && e[-1] == ' '; e--)
			e[-1] = '\0';
	}
	req->content_type = h ? h : "application/json";
}

/* The first acceptable media type for what the request produces */
static void
choose_media(RestRequest *req)
{
	StringInfoData names;

	for (int i = 0; i < req->naccept; i++)
	{
		RestMedia	m = req->accept[i].media;

		if (req->is_root && (m == REST_MEDIA_JSON || m == REST_MEDIA_OPENAPI))
		{
			req->media = REST_MEDIA_OPENAPI;
			return;
		}
		if (!req->is_root && (m == REST_MEDIA_JSON || m == REST_MEDIA_OBJECT || m == REST_MEDIA_CSV))
		{
			req->media = m;
			req->nulls_stripped = req->accept[i].nulls_stripped;
			return;
		}
	}
	initStringInfo(&names);
	for (int i = 0; i < req->naccept; i++)
		appendStringInfo(&names, "%s%s", i ? ", " : "", req->accept[i].raw);
	RestRaise(406, "PGRST107", psprintf("None of these media types are available: %s", names.data),
			  NULL, NULL);
}

static void
dispatch(RestRequest *req, RestResponse *resp)
{
	RestError	err;
	RestRel    *rel;

	req->verb = parse_verb(req->method);
	parse_path(req);
	take_identity(req);
	set_request_gucs(req);
	parse_headers(req);
	RestChooseSchema(req);
	if (RestParseQuery(req->query_string, strlen(req->query_string), RestPallocAllocator(),
					   &req->query, &err) != REST_OK)
	{
		if (err.code == REST_ERANGE)
			RestRaise(416, "PGRST103", "Requested range not satisfiable",
					  "Limit should be greater than or equal to zero.", NULL);
		RestGrammarError("query string", &err);
	}
	if (req->verb != VERB_OPTIONS)
		choose_media(req);

	if (req->is_root)
	{
		if (req->verb == VERB_GET || req->verb == VERB_HEAD)
			RestHandleOpenApi(req, resp);
		else if (req->verb == VERB_OPTIONS)
			RestHandleOptions(req, NULL, resp);
		else
			RestRaise(405, "PGRST117", psprintf("Unsupported HTTP method: %s", req->method), NULL, NULL);
		return;
	}
	if (req->is_rpc)
	{
		RestHandleRpc(req, resp);
		return;
	}
	rel = RestResolveRel(req, req->target, false);
	switch (req->verb)
	{
		case VERB_GET:
		case VERB_HEAD:
			RestHandleRead(req, rel, resp);
			break;
		case VERB_OPTIONS:
			RestHandleOptions(req, rel, resp);
			break;
		default:
			RestHandleWrite(req, rel, resp);
			break;
	}
}

/* response.status and response.headers set by a function (PGRST111/112) */
static void
apply_response_gucs(RestResponse *resp)
{
	const char *st = GetConfigOption("response.status", true, false);
	const char *hd = GetConfigOption("response.headers", true, false);

	if (st && st[0])
	{
		char	   *end;
		long		v = strtol(st, &end, 10);

		if (*end != '\0' || v < 100 || v > 599)
			RestRaise(500, "PGRST112", "Invalid response.status", psprintf("\"%s\" is not a valid HTTP status code.", PgerpEcho(st)), NULL);
		resp->status = (int) v;
	}
	if (hd && hd[0])
	{
		Jsonb	   *jb;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *name = NULL;
		int			depth = 0;

		RestPendingError(500, "PGRST111");
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(hd)));
		RestResetPendingError();
		if (jb == NULL || !JB_ROOT_IS_ARRAY(jb))
			RestRaise(500, "PGRST111", "response.headers guc must be a JSON array composed of objects with a single key and a string value", NULL, NULL);
		it = JsonbIteratorInit(&jb->root);
		while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		{
			if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
				depth++;
			else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
				depth--;
			else if (tok == WJB_KEY && depth == 2)
				name = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE && depth == 2 && v.type == jbvString && name)
			{
				ListCell   *lc;
				char	   *value = pnstrdup(v.val.string.val, v.val.string.len);

				foreach(lc, resp->headers)
				{
					RestHeader *h = lfirst(lc);

					if (pg_strcasecmp(h->name, name) == 0)
					{
						resp->headers = foreach_delete_current(resp->headers, lc);
					}
				}
				RestAddHeader(resp, name, value);
			}
			else if (tok == WJB_VALUE || tok == WJB_ELEM)
				RestRaise(500, "PGRST111", "response.headers guc must be a JSON array composed of objects with a single key and a string value", NULL, NULL);
		}
	}
}

static Jsonb *
headers_jsonb(List *headers)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, headers)
	{
		RestHeader *h = lfirst(lc);

		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		escape_json(&buf, h->name);
		appendStringInfoChar(&buf, ':');
		escape_json(&buf, h->value);
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* Preference-Applied: what of Prefer was honoured */
static void
add_preference_applied(RestRequest *req, RestResponse *resp)
{
	char		buf[256];

	if (req->prefer.tx != REST_TX_NONE)
		req->applied |= REST_APPLIED_TX;
	if (req->prefer.timezone != NULL)
		req->applied |= REST_APPLIED_TIMEZONE;
	RestFormatPreferApplied(&req->prefer, req->applied, buf, sizeof(buf));
	if (buf[0])
		RestAddHeader(resp, "Preference-Applied", buf);
}

/* Run one request in a subtransaction; fill resp whatever happens */
static void
run_request(RestRequest *req, RestResponse *resp)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		/* every setting the request makes (request.*, response.*, a function's) ends with it */
		int			guc_level = NewGUCNestLevel();

		RestResetPendingError();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		dispatch(req, resp);
		add_preference_applied(req, resp);
		apply_response_gucs(resp);
		AtEOXact_GUC(false, guc_level);
		SPI_finish();
		if (req->prefer.tx == REST_TX_ROLLBACK)
			RollbackAndReleaseCurrentSubTransaction();
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		RestErrorResponse(req, ed, resp);
	}
	PG_END_TRY();
}

void
RestInit(void)
{
	RestResolveGucs();
	RestPlanCacheGucs();
}

PG_FUNCTION_INFO_V1(pgerp_http_request);
Datum
pgerp_http_request(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RestRequest *req = palloc0(sizeof(RestRequest));
	RestResponse resp = {0};
	SessionSnapshot snap;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method and path must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	req->method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (char *c = (char *) req->method; *c; c++)
		*c = pg_toupper((unsigned char) *c);
	req->path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	req->query_string = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	req->headers = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	if (req->headers == NULL)
		req->headers = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (!PG_ARGISNULL(4))
	{
		req->body = text_to_cstring(PG_GETARG_TEXT_PP(4));
		req->body_len = strlen(req->body);
	}
	resp.status = 200;
	resp.cxt = CurrentMemoryContext;

	SessionSnapshotTake(&snap);
	run_request(req, &resp);
	SessionSnapshotRestore(&snap);

	if (resp.status == 0)
		resp.status = 200;
	resp.cxt = CurrentMemoryContext;
	values[0] = Int32GetDatum(resp.status);
	values[1] = JsonbPGetDatum(headers_jsonb(resp.headers));
	if (resp.body && strcmp(req->method, "HEAD") != 0)
		values[2] = CStringGetTextDatum(resp.body->data);
	else
		nulls[2] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
