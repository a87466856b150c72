/*
 * Errors as PostgREST answers them: the body {code, details, hint, message},
 * the HTTP status from its SQLSTATE table, and the PGRST codes of the
 * handler's own refusals.  The handler raises its refusals as ordinary
 * errors (so the subtransaction rolls back whatever ran) and remembers the
 * status and code here; one catch turns every error into a response.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/json.h"

#include "handler.h"

/* the PGRST refusal being raised, if any (reset at each request) */
static int	pending_status = 0;
static char pending_code[16];

void
RestResetPendingError(void)
{
	pending_status = 0;
	pending_code[0] = '\0';
}

/* Errors raised from here on answer status and code (the token check) */
void
RestPendingError(int status, const char *code)
{
	pending_status = status;
	strlcpy(pending_code, code, sizeof(pending_code));
}

/*
 * Raise a PostgREST error.  Its SQLSTATE (22023) is never what the
 * response shows: the remembered status and code are.
 */
void
RestRaise(int status, const char *code, const char *message,
		  const char *details, const char *hint)
{
	pending_status = status;
	strlcpy(pending_code, code, sizeof(pending_code));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg_internal("%s", message),
			 details ? errdetail_internal("%s", details) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/* PGRST100: a query parameter or header that does not parse */
void
RestGrammarError(const char *what, const RestError *err)
{
	char	   *msg = psprintf("\"failed to parse %s\"", what);
	char	   *details = psprintf("%s (at character %zu)", err->msg, err->pos + 1);

	if (err->code == REST_EDEPTH || err->code == REST_ETOOMANY)
		details = psprintf("%s", err->msg);
	RestRaise(400, "PGRST100", msg, details, NULL);
}

/* PostgREST's SQLSTATE -> HTTP table (docs/references/errors.rst) */
static int
status_for_sqlstate(const char *s, bool anonymous)
{
	if (strcmp(s, "42501") == 0)
		return anonymous ? 401 : 403;
	if (strcmp(s, "23503") == 0 || strcmp(s, "23505") == 0)
		return 409;
	if (strcmp(s, "25006") == 0)
		return 405;
	if (strcmp(s, "53400") == 0)
		return 500;
	if (strcmp(s, "42883") == 0 || strcmp(s, "42P01") == 0)
		return 404;
	if (strcmp(s, "42P17") == 0)
		return 500;
	if (strcmp(s, "P0001") == 0)
		return 400;
	if (s[0] == 'P' && s[1] == 'T')
	{
		int			st = atoi(s + 2);

		return (st >= 100 && st <= 599) ? st : 500;
	}
	if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0)
		return 503;
	if (strncmp(s, "0L", 2) == 0 || strncmp(s, "0P", 2) == 0)
		return 403;
	/*
	 * 28*: 403 as PostgREST, but a request without a token that meets
	 * "nobody is signed in" (28000) is 401: it has not authenticated.
	 */
	if (strcmp(s, "28000") == 0)
		return anonymous ? 401 : 403;
	if (strncmp(s, "28", 2) == 0)
		return 403;
	if (strncmp(s, "09", 2) == 0 || strncmp(s, "25", 2) == 0 ||
		strncmp(s, "2D", 2) == 0 || strncmp(s, "38", 2) == 0 ||
		strncmp(s, "39", 2) == 0 || strncmp(s, "3B", 2) == 0 ||
		strncmp(s, "40", 2) == 0 || strncmp(s, "54", 2) == 0 ||
		strncmp(s, "55", 2) == 0 || strncmp(s, "57", 2) == 0 ||
		strncmp(s, "58", 2) == 0 || strncmp(s, "F0", 2) == 0 ||
		strncmp(s, "HV", 2) == 0 || strncmp(s, "P0", 2) == 0 ||
		strncmp(s, "XX", 2) == 0)
		return 500;
	return 400;
}

static void
json_field(StringInfo buf, const char *name, const char *value, bool comma)
{
	if (comma)
		appendStringInfoChar(buf, ',');
	escape_json(buf, name);
	appendStringInfoChar(buf, ':');
	if (value)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}

/* The error body, keys in PostgREST's order */
void
RestJsonError(StringInfo buf, const char *code, const char *message,
			  const char *details, const char *hint)
{
	appendStringInfoChar(buf, '{');
	json_field(buf, "code", code, false);
	json_field(buf, "details", details, true);
	json_field(buf, "hint", hint, true);
	json_field(buf, "message", message, true);
	appendStringInfoChar(buf, '}');
}

/*
 * The response for an error: a remembered PGRST refusal, a token refusal
 * (401 with WWW-Authenticate), or a database error by its SQLSTATE.
 */
void
RestErrorResponse(RestRequest *req, ErrorData *edata, RestResponse *resp)
{
	const char *code;
	int			status;
	const char *message = edata->message ? edata->message : "internal error";

	resp->headers = NIL;
	resp->body = RestNewBody(resp);
	if (pending_status != 0)
	{
		status = pending_status;
		code = pstrdup(pending_code);
		if (strcmp(code, "PGRST301") == 0 && edata->detail && strstr(edata->detail, "expired"))
			code = "PGRST303";
	}
	else
	{
		code = unpack_sql_state(edata->sqlerrcode);
		status = status_for_sqlstate(code, req == NULL || req->anonymous);
	}
	if (strcmp(code, "PGRST301") == 0 || strcmp(code, "PGRST303") == 0)
	{
		char	   *www = psprintf("Bearer error=\"invalid_token\", error_description=\"%s\"",
								   edata->detail ? edata->detail : message);

		RestAddHeader(resp, "WWW-Authenticate", www);
	}
	else if (status == 401)
		RestAddHeader(resp, "WWW-Authenticate", "Bearer");
	RestAddHeader(resp, "Content-Type", "application/json; charset=utf-8");
	RestAddHeader(resp, "Proxy-Status", psprintf("pgerp; error=%s", code));
	resp->status = status;
	RestJsonError(resp->body, code, message, edata->detail, edata->hint);
	RestResetPendingError();
}
