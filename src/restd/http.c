/*
 * The API server: microhttpd callbacks.  It answers the transport-level
 * cases itself (413, 429, CORS preflight; microhttpd does 400 and 431) and
 * hands every other complete request to a worker (work.c), suspended so
 * the polling thread goes on serving other connections.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "restd.h"

#define CLIENT_ADDRESS_HEADER "x-pgerp-client-address"

Pool		WritePool;
Pool		ReadPool;
atomic_int	InFlight;
RateLimiter *Limiter;

/* Keep the URL as sent: the handler decodes path and query itself */
static size_t
no_unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
	(void) cls;
	(void) conn;
	return strlen(uri);
}

/* Called with the raw request URI before anything is parsed: our request */
static void *
request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
	Request    *req = calloc(1, sizeof(Request));

	(void) cls;
	req->conn = conn;
	req->raw_uri = strdup(uri ? uri : "/");
	req->start = NowSeconds();
	return req;
}

/* Everything a request owns, on completion */
static void
request_free(Request *req)
{
	free(req->raw_uri);
	free(req->body);
	free(req->headers_json);
	free(req->origin);
	free(req->resp_headers);
	free(req->resp_body);
	free(req);
}

/* microhttpd is done with the request (answered or aborted): free it */
static void
request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
				  enum MHD_RequestTerminationCode toe)
{
	Request    *req = *con_cls;

	(void) cls;
	(void) conn;
	(void) toe;
	if (req == NULL)
		return;
	if (req->state >= REQ_QUEUED)
		atomic_fetch_sub(&InFlight, 1);
	request_free(req);
	*con_cls = NULL;
}

/* One request header into the p_headers object, lower-cased, repeats joined */
static enum MHD_Result
add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	json_object *obj = cls;
	char		name[256];
	size_t		n = strlen(key);
	json_object *prev;

	(void) kind;
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	for (size_t i = 0; i < n; i++)
		name[i] = tolower((unsigned char) key[i]);
	name[n] = '\0';
	if (strcmp(name, CLIENT_ADDRESS_HEADER) == 0)
		return MHD_YES;
	if (json_object_object_get_ex(obj, name, &prev))
	{
		const char *old = json_object_get_string(prev);
		size_t		len = strlen(old) + strlen(value ? value : "") + 3;
		char	   *joined = malloc(len);

		snprintf(joined, len, "%s, %s", old, value ? value : "");
		json_object_object_add(obj, name, json_object_new_string(joined));
		free(joined);
	}
	else
		json_object_object_add(obj, name, json_object_new_string(value ? value : ""));
	return MHD_YES;
}

/* The peer address as text: x-pgerp-client-address and the rate-limit key */
static void
client_address(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, size, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, buf, size);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, buf, size);
}

/* p_headers: the request headers plus the gateway's client address */
static char *
headers_json(struct MHD_Connection *conn, const char *addr)
{
	json_object *obj = json_object_new_object();
	char	   *text;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, obj);
	json_object_object_add(obj, CLIENT_ADDRESS_HEADER, json_object_new_string(addr));
	text = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return text;
}

/* The CORS headers of an allowed origin (only when CORS is configured) */
static void
add_cors(struct MHD_Response *resp, const char *origin)
{
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
	MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
	MHD_add_response_header(resp, "Access-Control-Expose-Headers",
							"Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, Transfer-Encoding, Range-Unit, Preference-Applied");
	MHD_add_response_header(resp, "Vary", "Origin");
}

/* Copy the handler's headers; the gateway owns framing and, if configured, CORS */
static void
copy_headers(struct MHD_Response *resp, const char *text, bool cors_owned)
{
	json_object *obj = text ? json_tokener_parse(text) : NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
	{
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
		json_object_put(obj);
		return;
	}
	json_object_object_foreach(obj, key, val)
	{
		if (strcasecmp(key, "content-length") == 0 || strcasecmp(key, "transfer-encoding") == 0 ||
			strcasecmp(key, "connection") == 0 ||
			(cors_owned && strncasecmp(key, "access-control-", 15) == 0))
			continue;
		MHD_add_response_header(resp, key, json_object_get_string(val));
	}
	json_object_put(obj);
}

/* Send the answer in req (ours or the handler's), log and count it */
static enum MHD_Result
send_answer(Request *req)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	const RestConfig *cfg = ConfigAcquire();
	double		secs = NowSeconds() - req->start;

	resp = MHD_create_response_from_buffer(req->resp_len, req->resp_body ? req->resp_body : "",
										   MHD_RESPMEM_MUST_COPY);
	copy_headers(resp, req->resp_headers, cfg->cors_origins != NULL);
	if (req->origin)
		add_cors(resp, req->origin);
	if (req->retry_after > 0)
	{
		char		n[16];

		snprintf(n, sizeof(n), "%d", req->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, n);
	}
	ConfigRelease(cfg);
	rc = MHD_queue_response(req->conn, req->status, resp);
	MHD_destroy_response(resp);
	AccessLog(req->method, req->raw_uri, req->status, secs * 1000);
	MetricsRecord(req->status, secs);
	return rc;
}

/* An answer of the gateway itself, with a PostgREST-style error body */
static enum MHD_Result
send_error(Request *req, int status, const char *code, const char *message, const char *details)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "code", code ? json_object_new_string(code) : NULL);
	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "details", details ? json_object_new_string(details) : NULL);
	json_object_object_add(o, "hint", NULL);
	req->status = status;
	free(req->resp_body);
	req->resp_body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	req->resp_len = strlen(req->resp_body);
	json_object_put(o);
	return send_answer(req);
}

/* Valid UTF-8 without NUL (a text parameter cannot hold either) */
static bool
valid_utf8(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
		uint32_t	cp;

		if (c == 0 || n < 0 || i + n >= len)
			return false;
		cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
		for (int k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
			(cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

/* Token buckets per address and per Authorization value; 0 or Retry-After */
static int
rate_limited(const RestConfig *cfg, struct MHD_Connection *conn, const char *addr)
{
	double		now = NowSeconds();
	int			wait = 0;

	if (Limiter == NULL)
		return 0;
	if (cfg->rl_address_rate > 0)
		wait = RateLimiterTake(Limiter, "a", addr, strlen(addr), cfg->rl_address_rate, cfg->rl_burst, now);
	if (wait == 0 && cfg->rl_user_rate > 0)
	{
		const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

		if (auth && *auth)
			wait = RateLimiterTake(Limiter, "u", auth, strlen(auth), cfg->rl_user_rate, cfg->rl_burst, now);
	}
	return wait;
}

/* A preflight from an allowed origin is answered here, without the database */
static enum MHD_Result
send_preflight(Request *req)
{
	const char *want = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Access-Control-Request-Headers");
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	add_cors(resp, req->origin);
	MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD");
	MHD_add_response_header(resp, "Access-Control-Allow-Headers",
							want ? want : "Authorization, Content-Type, Accept, Prefer, Range, Accept-Profile, Content-Profile");
	MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
	req->status = 200;
	rc = MHD_queue_response(req->conn, 200, resp);
	MHD_destroy_response(resp);
	AccessLog(req->method, req->raw_uri, 200, (NowSeconds() - req->start) * 1000);
	MetricsRecord(200, NowSeconds() - req->start);
	return rc;
}

/* The request is complete: answer it here or hand it to a worker */
static enum MHD_Result
request_ready(Request *req)
{
	const RestConfig *cfg = ConfigAcquire();
	char		addr[INET6_ADDRSTRLEN + 1];
	const char *origin = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Origin");
	int			wait;

	client_address(req->conn, addr, sizeof(addr));
	if (origin && CorsOriginAllowed(cfg, origin))
		req->origin = strdup(origin);
	wait = rate_limited(cfg, req->conn, addr);
	ConfigRelease(cfg);
	if (req->too_big)
		return send_error(req, 413, "PGERP413", "Request body too large.", NULL);
	if (wait > 0)
	{
		req->retry_after = wait;
		return send_error(req, 429, "PGERP429", "Too many requests.", NULL);
	}
	if (req->has_body && !valid_utf8((const unsigned char *) req->body, req->body_len))
		return send_error(req, 400, "PGRST102", "Empty or invalid json", "The body is not valid UTF-8.");
	if (req->origin && strcmp(req->method, "OPTIONS") == 0 &&
		MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Access-Control-Request-Method"))
		return send_preflight(req);

	req->headers_json = headers_json(req->conn, addr);
	req->state = REQ_QUEUED;
	atomic_fetch_add(&InFlight, 1);
	MHD_suspend_connection(req->conn);
	WorkSubmit(req);
	return MHD_YES;
}

/* Append a piece of the body, or note that it is too large and drop it */
static void
take_body(Request *req, const char *data, size_t len, size_t max)
{
	req->has_body = true;
	if (req->too_big || req->body_len + len > max)
	{
		req->too_big = true;
		return;
	}
	if (req->body_len + len + 1 > req->body_cap)
	{
		size_t		cap = req->body_cap ? req->body_cap : 4096;

		while (cap < req->body_len + len + 1)
			cap *= 2;
		req->body = realloc(req->body, cap);
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
}

/*
 * microhttpd calls this once with the headers, once per piece of body, once
 * when the body is complete, and once more after a worker resumed us.
 */
static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	Request    *req = *con_cls;

	(void) cls;
	(void) url;
	(void) version;
	if (req == NULL)
		return MHD_NO;
	if (req->state == REQ_NEW)
	{
		const RestConfig *cfg = ConfigAcquire();
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		size_t		max = cfg->max_body_bytes;

		ConfigRelease(cfg);
		snprintf(req->method, sizeof(req->method), "%s", method);
		req->read_only = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
		req->state = REQ_READING;
		if (cl && strtoull(cl, NULL, 10) > max)
		{
			req->too_big = true;
			return request_ready(req);	/* answer before the body is sent */
		}
		if (cl && strtoull(cl, NULL, 10) > 0)
			req->has_body = true;
		return MHD_YES;
	}
	if (req->state == REQ_READING && *upload_data_size > 0)
	{
		const RestConfig *cfg = ConfigAcquire();

		take_body(req, upload_data, *upload_data_size, cfg->max_body_bytes);
		ConfigRelease(cfg);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->state == REQ_READING)
		return request_ready(req);
	if (req->state == REQ_DONE)
		return send_answer(req);
	return MHD_YES;				/* resumed spuriously: still queued */
}

/* Start the API server on server-host:server-port */
struct MHD_Daemon *
HttpStart(const RestConfig *cfg)
{
	struct sockaddr_in addr;
	unsigned int threads = cfg->server_threads;

	if (threads == 0)
	{
		long		n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned int) n : 1;
	}
	if (cfg->rl_address_rate > 0 || cfg->rl_user_rate > 0 || Limiter == NULL)
		Limiter = Limiter ? Limiter : RateLimiterCreate(cfg->rl_table_size);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(cfg->server_port);
	if (inet_pton(AF_INET, cfg->server_host, &addr.sin_addr) != 1)
	{
		LogMessage("server-host must be an IPv4 address: %s", cfg->server_host);
		return NULL;
	}
	return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
							cfg->server_port, NULL, NULL, access_handler, NULL,
							MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							MHD_OPTION_THREAD_POOL_SIZE, threads,
							MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 16384,
							MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_bytes,
							MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) cfg->server_timeout,
							MHD_OPTION_URI_LOG_CALLBACK, request_begin, NULL,
							MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
							MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
							MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
							MHD_OPTION_END);
}
