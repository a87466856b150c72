/*
 * The database call of a request and its answer: the parameters of the
 * one prepared call, and how a result (or a failure) becomes the answer.
 * The calls themselves are sent and read by pool.c in the event loop's
 * thread (docs/gateway.md, "Threads"): a slow call holds one pooled
 * connection, never a thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "restd.h"

/* A PostgREST-style error body: {"code","message","details","hint"} */
static void
set_error(Request *req, int status, const char *code, const char *message, const char *details)
{
	json_object *o = json_object_new_object();
	const char *text;

	json_object_object_add(o, "code", code ? json_object_new_string(code) : NULL);
	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "details", details ? json_object_new_string(details) : NULL);
	json_object_object_add(o, "hint", NULL);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	req->status = status;
	req->resp_body = strdup(text);
	req->resp_len = strlen(text);
	req->resp_headers = strdup("{\"Content-Type\":\"application/json; charset=utf-8\"}");
	json_object_put(o);
}

/* First line of a libpq message, without the trailing newline */
static char *
first_line(const char *msg, char *buf, size_t size)
{
	size_t		n = strcspn(msg ? msg : "", "\n");

	snprintf(buf, size, "%.*s", (int) n, msg ? msg : "");
	return buf;
}

/*
 * The call failed as a whole (the handler answers its own errors as rows,
 * so this is the transport or the server failing): 503 when the connection
 * is lost or the server is a standby now, else 400/500.  Returns whether
 * the connection must be dropped.
 */
static bool
call_failed(Request *req, Pool *pool, PGconn *conn, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char		msg[512];

	MetricsDbError();
	first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), msg, sizeof(msg));
	if (PQstatus(conn) != CONNECTION_OK || state == NULL ||
		strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
		(strcmp(state, "25006") == 0 && !pool->read_only) || strcmp(state, "26000") == 0 || strcmp(state, "53300") == 0)
	{
		set_error(req, 503, "PGRST001", "Database client error. Retrying the connection.", msg);
		req->retry_after = (int) PoolRetryAfter(pool);
		return true;
	}
	if (strncmp(state, "22", 2) == 0)
		set_error(req, 400, state, msg, NULL);
	else
		set_error(req, 500, state, msg, NULL);
	return false;
}

/* The answer of one call from its result; whether the connection must be dropped */
bool
RequestResult(Request *req, Pool *pool, PGconn *conn, PGresult *res)
{
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
	{
		req->status = atoi(PQgetvalue(res, 0, 0));
		if (req->status < 100 || req->status > 599)
			set_error(req, 500, "PGERP500", "erp.http_request answered an invalid status.", NULL);
		else
		{
			req->resp_headers = PQgetisnull(res, 0, 1) ? NULL : strdup(PQgetvalue(res, 0, 1));
			req->resp_len = PQgetisnull(res, 0, 2) ? 0 : (size_t) PQgetlength(res, 0, 2);
			req->resp_body = malloc(req->resp_len + 1);
			memcpy(req->resp_body, PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2), req->resp_len + 1);
		}
		return false;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		set_error(req, 500, "PGERP500", "erp.http_request did not answer one row.", NULL);
		return false;
	}
	return call_failed(req, pool, conn, res);
}

/* The call was lost with its connection (or never sent): 503 */
void
RequestFailed(Request *req, Pool *pool, PGconn *conn, PGresult *res)
{
	call_failed(req, pool, conn, res);
}

/* The five parameters of the call; *path is allocated (the URI up to '?') */
static void
call_params(Request *req, const char **values, char **path)
{
	const char *q = strchr(req->raw_uri, '?');

	*path = q ? strndup(req->raw_uri, q - req->raw_uri) : strdup(req->raw_uri);
	values[0] = req->method;
	values[1] = *path;
	values[2] = q ? q + 1 : "";
	values[3] = req->headers_json;
	values[4] = req->has_body ? (req->body ? req->body : "") : NULL;
}

/* Send the call (in pipeline mode, with its own sync); *ok false when it fails */
void
RequestSend(Request *req, PGconn *conn, bool *ok)
{
	const char *values[5];
	char	   *path;

	call_params(req, values, &path);
	*ok = PQsendQueryPrepared(conn, "http_request", 5, values, NULL, NULL, 0) && PQpipelineSync(conn);
	free(path);
}

/* Bytes a request adds to a pipeline, 0 when it must run alone (it has a body) */
size_t
RequestBatchable(const Request *req)
{
	if (!req->read_only || req->has_body)
		return 0;
	return strlen(req->raw_uri) + strlen(req->headers_json) + 64;
}

/* No connection of the pool could be opened: 503 with the reason */
void
RequestPoolDown(Request *req, Pool *pool, const char *why)
{
	char		line[512];

	MetricsDbError();
	set_error(req, 503, "PGRST000",
			  "Could not connect with the database due to an incorrect db-uri or due to the PostgreSQL service not running.",
			  first_line(why, line, sizeof(line)));
	req->retry_after = (int) PoolRetryAfter(pool);
}

/* No connection freed up within db-pool-acquisition-timeout: 504 */
void
RequestTimedOut(Request *req)
{
	set_error(req, 504, "PGRST003", "Timed out acquiring connection from connection pool.", NULL);
}

/*
 * A complete request goes to its pool: read-only ones (GET, HEAD) to the
 * read pool, whose connections are read-only; answered later through
 * RequestAnswered, or at once when the pool is down.
 */
void
RequestDispatch(Request *req)
{
	Pool	   *pool = req->read_only ? &ReadPool : &WritePool;

	req->deadline = req->queued + req->cfg->db_pool_timeout;
	if (NowSeconds() < pool->down_until)
	{
		RequestPoolDown(req, pool, pool->down_error[0] ? pool->down_error : "the database was unreachable a moment ago");
		RequestAnswered(req);
		return;
	}
	PoolSubmit(pool, req);
}
