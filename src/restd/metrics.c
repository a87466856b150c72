/*
 * Counters for /metrics (Prometheus text format) and the admin server
 * (/live, /ready, /metrics) on its own port, so that probes never queue
 * behind API requests.  Counters are lock-free atomics.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "restd.h"

/* erp.health() is asked at most once a second: probes and scrapes share it */
#define HEALTH_CACHE_SECONDS 1.0

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

static atomic_ullong status_counts[600];
static atomic_ullong latency_buckets[NBOUNDS];
static atomic_ullong latency_count;
static atomic_ullong latency_micros;
static atomic_ullong db_errors;

/* One answered request: its status and its latency */
void
MetricsRecord(int status, double seconds)
{
	if (status >= 100 && status < 600)
		atomic_fetch_add(&status_counts[status], 1);
	for (size_t i = 0; i < NBOUNDS; i++)
		if (seconds <= latency_bounds[i])
		{
			atomic_fetch_add(&latency_buckets[i], 1);
			break;
		}
	atomic_fetch_add(&latency_count, 1);
	atomic_fetch_add(&latency_micros, (unsigned long long) (seconds * 1e6));
}

void
MetricsDbError(void)
{
	atomic_fetch_add(&db_errors, 1);
}

/* In use, waiting and size of one pool (atomics kept by the loop's thread) */
static void
pool_gauges(char *buf, size_t size, size_t *len, Pool *pool)
{
	int			in_use = atomic_load(&pool->in_use);
	int			waiting = atomic_load(&pool->waiting);

	*len += snprintf(buf + *len, size - *len,
					 "pgerp_rest_pool_in_use{pool=\"%s\"} %d\n"
					 "pgerp_rest_pool_waiting{pool=\"%s\"} %d\n"
					 "pgerp_rest_pool_size{pool=\"%s\"} %d\n",
					 pool->name, in_use, pool->name, waiting, pool->name, pool->size);
}

static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static double health_at = -1e9;
static char *health_text;			/* erp.health() as text, NULL when the call failed */
static char health_error[512];

/*
 * One call of erp.health() on a connection of its own to db-uri (the
 * pools belong to the event loop's thread); the answer or NULL.  Cached
 * for HEALTH_CACHE_SECONDS, so probes open at most one connection a second.
 */
static char *
health_call(char *err, size_t errlen)
{
	PGconn	   *conn = PoolConnectBlocking(&WritePool);
	PGresult   *res = PQexec(conn, "SELECT erp.health()::pg_catalog.text");
	char	   *text = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		text = strdup(PQgetvalue(res, 0, 0));
	else
	{
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);

		snprintf(err, errlen, "%.*s", (int) strcspn(msg, "\n"), msg);
	}
	PQclear(res);
	PQfinish(conn);
	return text;
}

/* erp.health() at most HEALTH_CACHE_SECONDS old: a copy, or NULL with the reason in err */
static char *
health_get(char *err, size_t errlen)
{
	char	   *copy;

	pthread_mutex_lock(&health_lock);
	if (NowSeconds() - health_at >= HEALTH_CACHE_SECONDS)
	{
		free(health_text);
		health_error[0] = '\0';
		health_text = health_call(health_error, sizeof(health_error));
		health_at = NowSeconds();
	}
	copy = health_text ? strdup(health_text) : NULL;
	snprintf(err, errlen, "%s", health_error);
	pthread_mutex_unlock(&health_lock);
	return copy;
}

/* A label value with backslash, quote and newline escaped (Prometheus text format) */
static void
put_label(char *buf, size_t size, size_t *len, const char *s)
{
	for (; *s && *len + 3 < size; s++)
	{
		if (*s == '\\' || *s == '"')
			buf[(*len)++] = '\\';
		if (*s == '\n')
		{
			buf[(*len)++] = '\\';
			buf[(*len)++] = 'n';
			continue;
		}
		buf[(*len)++] = *s;
	}
	buf[*len] = '\0';
}

/* A number of a JSON object by path (a.b), or -1 when absent or null */
static double
json_number(json_object *o, const char *key, const char *sub)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -1;
	if (sub && (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, sub, &v)))
		return -1;
	if (json_object_is_type(v, json_type_null))
		return -1;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? 1 : 0;
	return json_object_get_double(v);
}

/* One gauge with its HELP and TYPE lines (skipped when the value is absent) */
static void
put_gauge(char *buf, size_t size, size_t *len, const char *name, const char *help, double v)
{
	if (v < 0)
		return;
	*len += snprintf(buf + *len, size - *len, "# HELP %s %s\n# TYPE %s gauge\n%s %.15g\n", name, help, name, name, v);
}

/* The gauges of erp.health() (docs/gateway.md, "Admin server") */
static void
health_gauges(char *buf, size_t size, size_t *len)
{
	char		err[512];
	char	   *text = health_get(err, sizeof(err));
	json_object *h = text ? json_tokener_parse(text) : NULL;
	json_object *list;
	const char *role;

	*len += snprintf(buf + *len, size - *len,
					 "# HELP pgerp_db_up Whether erp.health() answered through the write pool.\n"
					 "# TYPE pgerp_db_up gauge\npgerp_db_up %d\n", h ? 1 : 0);
	if (h == NULL)
	{
		free(text);
		return;
	}
	role = json_object_object_get_ex(h, "role", &list) ? json_object_get_string(list) : "";
	put_gauge(buf, size, len, "pgerp_db_primary", "1 when the database of db-uri is a primary, 0 on a standby.",
			  strcmp(role, "primary") == 0 ? 1 : 0);
	put_gauge(buf, size, len, "pgerp_db_ready", "erp.health()'s ready.", json_number(h, "ready", NULL));
	put_gauge(buf, size, len, "pgerp_db_timeline", "Timeline of the database.", json_number(h, "timeline", NULL));
	*len += snprintf(buf + *len, size - *len,
					 "# HELP pgerp_replication_lag_bytes WAL a standby has still to replay, by application_name.\n"
					 "# TYPE pgerp_replication_lag_bytes gauge\n"
					 "# HELP pgerp_replication_lag_seconds Replay lag of a standby, by application_name.\n"
					 "# TYPE pgerp_replication_lag_seconds gauge\n");
	if (json_object_object_get_ex(h, "standbys", &list) && json_object_is_type(list, json_type_array))
		for (size_t i = 0; i < json_object_array_length(list); i++)
		{
			json_object *sb = json_object_array_get_idx(list, i);
			json_object *name;
			double		bytes = json_number(sb, "lag_bytes", NULL);
			double		secs = json_number(sb, "replay_lag_seconds", NULL);
			const char *n = json_object_object_get_ex(sb, "application_name", &name) ? json_object_get_string(name) : "";

			if (bytes >= 0)
			{
				*len += snprintf(buf + *len, size - *len, "pgerp_replication_lag_bytes{standby=\"");
				put_label(buf, size, len, n ? n : "");
				*len += snprintf(buf + *len, size - *len, "\"} %.15g\n", bytes);
			}
			if (secs >= 0)
			{
				*len += snprintf(buf + *len, size - *len, "pgerp_replication_lag_seconds{standby=\"");
				put_label(buf, size, len, n ? n : "");
				*len += snprintf(buf + *len, size - *len, "\"} %.15g\n", secs);
			}
		}
	put_gauge(buf, size, len, "pgerp_replica_lag_bytes", "On a standby: WAL received but not replayed yet.",
			  json_number(h, "replica", "lag_bytes"));
	put_gauge(buf, size, len, "pgerp_replica_lag_seconds", "On a standby: age of the last replayed commit while behind.",
			  json_number(h, "replica", "lag_seconds"));
	put_gauge(buf, size, len, "pgerp_job_workers", "Job workers running for the database.",
			  json_number(h, "workers", "running"));
	put_gauge(buf, size, len, "pgerp_job_workers_expected", "Job workers the database should have.",
			  json_number(h, "workers", "expected"));
	put_gauge(buf, size, len, "pgerp_jobs_stalled", "Running jobs past their kind's timeout.",
			  json_number(h, "jobs_stalled", NULL));
	put_gauge(buf, size, len, "pgerp_audit_seal_age_seconds", "Age of the oldest audit entry not sealed yet (0: none).",
			  json_number(h, "audit", "seal_age_seconds"));
	put_gauge(buf, size, len, "pgerp_audit_seal_late", "1 when an audit entry waits more than 5 minutes for its seal.",
			  json_number(h, "audit", "seal_late"));
	put_gauge(buf, size, len, "pgerp_syncrep_waits", "Commits waiting for synchronous standbys.",
			  json_number(h, "sync_waits", NULL));
	put_gauge(buf, size, len, "pgerp_key_file_present", "1 when the master key file is readable and well-formed.",
			  json_number(h, "key_file", "present"));
	json_object_put(h);
	free(text);
}

/* The whole exposition, in a malloc'd buffer */
static char *
metrics_text(size_t *outlen)
{
	size_t		size = 64 * 1024;
	char	   *buf = malloc(size);
	size_t		len = 0;
	unsigned long long cum = 0;

	len += snprintf(buf + len, size - len,
					"# HELP pgerp_rest_requests_total HTTP requests answered, by status.\n"
					"# TYPE pgerp_rest_requests_total counter\n");
	for (int s = 100; s < 600; s++)
	{
		unsigned long long n = atomic_load(&status_counts[s]);

		if (n)
			len += snprintf(buf + len, size - len, "pgerp_rest_requests_total{status=\"%d\"} %llu\n", s, n);
	}
	len += snprintf(buf + len, size - len,
					"# HELP pgerp_rest_request_duration_seconds Time from the request line to the response.\n"
					"# TYPE pgerp_rest_request_duration_seconds histogram\n");
	for (size_t i = 0; i < NBOUNDS; i++)
	{
		cum += atomic_load(&latency_buckets[i]);
		len += snprintf(buf + len, size - len,
						"pgerp_rest_request_duration_seconds_bucket{le=\"%g\"} %llu\n", latency_bounds[i], cum);
	}
	len += snprintf(buf + len, size - len,
					"pgerp_rest_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
					"pgerp_rest_request_duration_seconds_sum %.6f\n"
					"pgerp_rest_request_duration_seconds_count %llu\n",
					atomic_load(&latency_count), atomic_load(&latency_micros) / 1e6,
					atomic_load(&latency_count));
	len += snprintf(buf + len, size - len,
					"# HELP pgerp_rest_pool_in_use Connections of the pool serving a request.\n"
					"# TYPE pgerp_rest_pool_in_use gauge\n"
					"# HELP pgerp_rest_pool_waiting Requests waiting for a connection of the pool.\n"
					"# TYPE pgerp_rest_pool_waiting gauge\n"
					"# HELP pgerp_rest_pool_size Connections the pool may open.\n"
					"# TYPE pgerp_rest_pool_size gauge\n");
	pool_gauges(buf, size, &len, &WritePool);
	pool_gauges(buf, size, &len, &ReadPool);
	len += snprintf(buf + len, size - len,
					"# HELP pgerp_rest_db_errors_total Failed connects and calls of erp.http_request.\n"
					"# TYPE pgerp_rest_db_errors_total counter\n"
					"pgerp_rest_db_errors_total %llu\n"
					"# HELP pgerp_rest_in_flight Requests being answered.\n"
					"# TYPE pgerp_rest_in_flight gauge\n"
					"pgerp_rest_in_flight %d\n",
					atomic_load(&db_errors), atomic_load(&InFlight));
	health_gauges(buf, size, &len);
	*outlen = len < size ? len : size - 1;
	return buf;
}

/* Queue a small answer of the admin server */
static enum MHD_Result
admin_answer(struct MHD_Connection *conn, int status, const char *type, char *body, size_t len,
			 enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result rc;

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/*
 * /ready: erp.health() through the write pool says ready (200 with its
 * answer, 503 with it otherwise), and a db-read-uri of its own connects.
 */
static enum MHD_Result
ready_answer(struct MHD_Connection *conn)
{
	static const char *json = "application/json";
	char		err[512];
	char	   *text = health_get(err, sizeof(err));
	json_object *h = text ? json_tokener_parse(text) : NULL;
	json_object *ready;
	bool		ok = h && json_object_object_get_ex(h, "ready", &ready) && json_object_get_boolean(ready);

	json_object_put(h);
	if (text == NULL)
	{
		json_object *o = json_object_new_object();

		json_object_object_add(o, "status", json_object_new_string("unavailable"));
		json_object_object_add(o, "details", json_object_new_string(err));
		text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	else if (ok && !PoolSameUri(&WritePool, &ReadPool) && !PoolPing(&ReadPool))
	{
		free(text);
		text = strdup("{\"status\":\"unavailable\",\"details\":\"db-read-uri cannot be reached\"}");
		ok = false;
	}
	return admin_answer(conn, ok ? 200 : 503, json, text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

/* /live: the process answers; /ready (ready_answer); /metrics */
static enum MHD_Result
admin_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static const char *json = "application/json";

	(void) cls;
	(void) version;
	(void) upload_data;
	if (*con_cls == NULL)
	{
		*con_cls = conn;
		return MHD_YES;
	}
	*upload_data_size = 0;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return admin_answer(conn, 405, json, "{}", 2, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/live") == 0)
		return admin_answer(conn, 200, json, "{\"status\":\"live\"}", 17, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/ready") == 0)
		return ready_answer(conn);
	if (strcmp(url, "/metrics") == 0)
	{
		size_t		len;
		char	   *text = metrics_text(&len);

		return admin_answer(conn, 200, "text/plain; version=0.0.4", text, len, MHD_RESPMEM_MUST_FREE);
	}
	return admin_answer(conn, 404, json, "{}", 2, MHD_RESPMEM_PERSISTENT);
}

/* The admin server: one polling thread is plenty for probes and scrapes */
struct MHD_Daemon *
AdminStart(const RestConfig *cfg)
{
	struct sockaddr_in addr;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(cfg->admin_port);
	if (inet_pton(AF_INET, cfg->server_host, &addr.sin_addr) != 1)
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
							cfg->admin_port, NULL, NULL, admin_handler, NULL,
							MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 10,
							MHD_OPTION_END);
}
