/*
 * The database call of a request, made in the thread of its HTTP
 * connection (microhttpd runs one thread per connection, docs/gateway.md):
 * take a pooled connection, run the one prepared call, store the answer.
 * A slow call blocks only the connection that made it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "restd.h"

/* At most this many calls, and about this many bytes of parameters, per pipeline */
#define PIPELINE_MAX 16
#define PIPELINE_BYTES (64 * 1024)

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
static bool
call_result(Request *req, Pool *pool, PGconn *conn, PGresult *res)
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

/* The call itself on a held connection */
static bool
call_handler(Request *req, Pool *pool, PGconn *conn)
{
	const char *values[5];
	char	   *path;
	PGresult   *res;
	bool		broken;

	call_params(req, values, &path);
	res = PQexecPrepared(conn, "http_request", 5, values, NULL, NULL, 0);
	free(path);
	broken = call_result(req, pool, conn, res);
	PQclear(res);
	return broken;
}

/* Bytes a request adds to a pipeline, 0 when it must run alone (it has a body) */
size_t
PoolBatchable(const Request *req)
{
	if (!req->read_only || req->has_body)
		return 0;
	return strlen(req->raw_uri) + strlen(req->headers_json) + 64;
}

/*
 * Several read calls in one pipeline (libpq pipeline mode), a sync after
 * each so that each is its own transaction as with PQexecPrepared, and an
 * error in one does not touch the others.  PoolTakeWaiters keeps the
 * parameters well under a socket buffer, so sending all before reading
 * cannot deadlock.  A broken connection answers the rest 503.
 */
static bool
call_batch(Request **reqs, int n, Pool *pool, PGconn *conn)
{
	int			sent = 0;
	int			done = 0;
	bool		broken = false;

	if (!PQenterPipelineMode(conn))
	{
		for (int i = 0; i < n; i++)
			broken = broken || call_handler(reqs[i], pool, conn);
		return broken;
	}
	for (; sent < n; sent++)
	{
		const char *values[5];
		char	   *path;
		int			ok;

		call_params(reqs[sent], values, &path);
		ok = PQsendQueryPrepared(conn, "http_request", 5, values, NULL, NULL, 0) && PQpipelineSync(conn);
		free(path);
		if (!ok)
			break;
	}
	if (sent == n && PQflush(conn) != 0)
		sent = 0;
	while (done < sent && !broken)
	{
		PGresult   *res = PQgetResult(conn);
		PGresult   *end;

		broken = call_result(reqs[done++], pool, conn, res) || res == NULL;
		PQclear(res);
		if (broken)
			break;
		end = PQgetResult(conn);	/* NULL: the end of this query's results */
		broken = end != NULL;
		PQclear(end);
		if (broken)
			break;
		end = PQgetResult(conn);
		broken = PQresultStatus(end) != PGRES_PIPELINE_SYNC;
		PQclear(end);
	}
	for (int i = done; i < n; i++)
		call_failed(reqs[i], pool, conn, NULL);
	if (sent < n || !PQexitPipelineMode(conn))
		broken = true;
	return broken;
}

/*
 * On a held slot: the call alone, or with the read calls waiting for a
 * slot of the pool in one pipeline (when req can share one); then the slot
 * goes back, to the oldest waiter left.
 */
static void
execute_held(Request *req, Pool *pool, int slot)
{
	PGconn	   *conn = pool->slots[slot].conn;
	Request    *batch[PIPELINE_MAX];
	int			n = 0;
	bool		broken;

	if (PoolBatchable(req) > 0 && PoolBatchable(req) < PIPELINE_BYTES)
		n = PoolTakeWaiters(pool, batch + 1, PIPELINE_MAX - 1, PIPELINE_BYTES - PoolBatchable(req));
	if (n == 0)
		broken = call_handler(req, pool, conn);
	else
	{
		batch[0] = req;
		broken = call_batch(batch, n + 1, pool, conn);
		for (int i = 1; i <= n; i++)
			PoolServed(pool, batch[i]);
	}
	PoolRelease(pool, slot, broken);
}

/* Answer one request: a connection, the call, or 503/504 */
void
RequestExecute(Request *req)
{
	Pool	   *pool = req->read_only ? &ReadPool : &WritePool;
	double		timeout = req->cfg->db_pool_timeout - (NowSeconds() - req->queued);
	char		err[512];
	int			slot;
	PoolResult	pr;

	pr = timeout > 0 ? PoolAcquire(pool, timeout, req, &slot, err, sizeof(err)) : POOL_TIMEOUT;
	if (pr == POOL_SERVED)
		return;					/* another thread ran the call with its own */
	if (pr == POOL_TIMEOUT)
		set_error(req, 504, "PGRST003", "Timed out acquiring connection from connection pool.", NULL);
	else if (pr == POOL_DOWN)
	{
		char		line[512];

		MetricsDbError();
		set_error(req, 503, "PGRST000",
				  "Could not connect with the database due to an incorrect db-uri or due to the PostgreSQL service not running.",
				  first_line(err, line, sizeof(line)));
		req->retry_after = (int) PoolRetryAfter(pool);
	}
	else
		execute_held(req, pool, slot);
}
