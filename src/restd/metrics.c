/*
 * Counters for /metrics (Prometheus text format) and the admin server
 * (/live, /ready, /metrics) on its own port, so that probes never queue
 * behind API requests.  Counters are lock-free atomics.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restd.h"

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

/* In use, waiting and size of one pool, read under its lock */
static void
pool_gauges(char *buf, size_t size, size_t *len, Pool *pool)
{
	int			in_use,
				waiting;

	pthread_mutex_lock(&pool->lock);
	in_use = pool->in_use;
	waiting = pool->waiting;
	pthread_mutex_unlock(&pool->lock);
	*len += snprintf(buf + *len, size - *len,
					 "pgerp_rest_pool_in_use{pool=\"%s\"} %d\n"
					 "pgerp_rest_pool_waiting{pool=\"%s\"} %d\n"
					 "pgerp_rest_pool_size{pool=\"%s\"} %d\n",
					 pool->name, in_use, pool->name, waiting, pool->name, pool->size);
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

/* /live: the process answers; /ready: a database connection works */
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
	{
		if (PoolPing(&WritePool) && PoolPing(&ReadPool))
			return admin_answer(conn, 200, json, "{\"status\":\"ready\"}", 18, MHD_RESPMEM_PERSISTENT);
		return admin_answer(conn, 503, json, "{\"status\":\"unavailable\"}", 24, MHD_RESPMEM_PERSISTENT);
	}
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
