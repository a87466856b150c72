/*
 * Worker threads: microhttpd's threads only do I/O, so a slow database
 * call never stalls the other connections of a polling thread.  A complete
 * request is suspended and queued here; a worker takes a pooled connection,
 * runs the one prepared call, stores the answer and resumes the connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "restd.h"

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static Request *queue_head;
static Request *queue_tail;
static bool queue_stop;
static pthread_t *workers;
static int nworkers;

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

/* Split the raw URI into path and query; the call itself on a held connection */
static bool
call_handler(Request *req, Pool *pool, PGconn *conn)
{
	const char *q = strchr(req->raw_uri, '?');
	char	   *path = q ? strndup(req->raw_uri, q - req->raw_uri) : strdup(req->raw_uri);
	const char *values[5] = {req->method, path, q ? q + 1 : "", req->headers_json,
	req->has_body ? (req->body ? req->body : "") : NULL};
	PGresult   *res = PQexecPrepared(conn, "http_request", 5, values, NULL, NULL, 0);
	bool		broken = false;

	free(path);
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
	}
	else if (PQresultStatus(res) == PGRES_TUPLES_OK)
		set_error(req, 500, "PGERP500", "erp.http_request did not answer one row.", NULL);
	else
		broken = call_failed(req, pool, conn, res);
	PQclear(res);
	return broken;
}

/* Answer one request: a connection, the call, or 503/504 */
void
RequestExecute(Request *req)
{
	const RestConfig *cfg = ConfigAcquire();
	Pool	   *pool = req->read_only ? &ReadPool : &WritePool;
	double		timeout = cfg->db_pool_timeout - (NowSeconds() - req->queued);
	char		err[512];
	int			slot;
	PoolResult	pr;

	ConfigRelease(cfg);
	pr = timeout > 0 ? PoolAcquire(pool, timeout, &slot, err, sizeof(err)) : POOL_TIMEOUT;
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
		PoolRelease(pool, slot, call_handler(req, pool, pool->slots[slot].conn));
}

/* A worker: take the oldest queued request, answer it, resume its connection */
static void *
worker_main(void *arg)
{
	(void) arg;
	for (;;)
	{
		Request    *req;

		pthread_mutex_lock(&queue_lock);
		while (queue_head == NULL && !queue_stop)
			pthread_cond_wait(&queue_cond, &queue_lock);
		if (queue_head == NULL)
		{
			pthread_mutex_unlock(&queue_lock);
			return NULL;
		}
		req = queue_head;
		queue_head = req->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		pthread_mutex_unlock(&queue_lock);

		RequestExecute(req);
		req->state = REQ_DONE;
		MHD_resume_connection(req->conn);
	}
}

/* The workers, started before the server accepts anything */
void
WorkStart(int n)
{
	nworkers = n;
	workers = calloc(n, sizeof(pthread_t));
	for (int i = 0; i < n; i++)
		pthread_create(&workers[i], NULL, worker_main, NULL);
}

/* Queue a suspended request (the caller suspended its connection already) */
void
WorkSubmit(Request *req)
{
	req->queued = NowSeconds();
	req->next = NULL;
	pthread_mutex_lock(&queue_lock);
	if (queue_tail)
		queue_tail->next = req;
	else
		queue_head = req;
	queue_tail = req;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
}

/* Let the workers finish what is queued, then end them */
void
WorkStop(void)
{
	pthread_mutex_lock(&queue_lock);
	queue_stop = true;
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
}
