/*
 * The API server: microhttpd callbacks, all in the event loop's thread
 * (loop.c).  It answers the transport-level cases itself (413, 429, CORS
 * preflight; microhttpd does 400 and 431) and hands every other complete
 * request to its pool (pool.c), suspending the connection until the
 * answer is in (docs/gateway.md, "Threads").
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
	req->cfg = ConfigAcquire();	/* one reference for the whole request */
	req->raw_uri = strdup(uri ? uri : "/");
	req->start = NowSeconds();
	return req;
}

static void
request_free(Request *req)
{
	free(req->raw_uri);
	free(req->body);
	free(req->headers_json);
	free(req->origin);
	free(req->resp_headers);
	free(req->resp_body);
	ConfigRelease(req->cfg);
	free(req);
}

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

/* A growing text buffer for p_headers (freed with the request) */
typedef struct TextBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} TextBuf;

static void
buf_reserve(TextBuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->cap < b->len + more + 1)
		b->cap = b->cap ? b->cap * 2 : 1024;
	b->data = realloc(b->data, b->cap);
}

static void
buf_put(TextBuf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/*
 * Text escaped for the inside of a JSON string, lower-cased (ASCII) if
 * asked.  Quote, backslash and control characters are escaped; other bytes
 * pass as they are (header bytes as sent: text that is not UTF-8 is
 * refused by the database's jsonb input, as it was when json-c built this
 * object).  Room for the worst case is made once: this runs on every
 * header of every request.
 */
static void
buf_put_escaped(TextBuf *b, const char *s, bool lower)
{
	static const char hex[] = "0123456789abcdef";
	char	   *o;

	size_t		len = strlen(s);

	buf_reserve(b, len * 6);
	o = b->data + b->len;
	if (!lower)
	{
		/* the bytes up to the first one to escape, copied as they are */
		static const bool special[256] = {[0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f] = true};
		size_t		plain = 0;

		while (plain < len && !special[(unsigned char) s[plain]])
			plain++;
		memcpy(o, s, plain);
		o += plain;
		s += plain;
	}
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		unsigned char c = (lower && *p >= 'A' && *p <= 'Z') ? *p + ('a' - 'A') : *p;

		if (c == '"' || c == '\\')
		{
			*o++ = '\\';
			*o++ = (char) c;
		}
		else if (c < 0x20 || c == 0x7f)
		{
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
		}
		else
			*o++ = (char) c;
	}
	b->len = o - b->data;
	*o = '\0';
}

/* A JSON string literal */
static void
buf_put_string(TextBuf *b, const char *s, bool lower)
{
	buf_put(b, "\"", 1);
	buf_put_escaped(b, s, lower);
	buf_put(b, "\"", 1);
}

/* One request header as microhttpd holds it, and its rank as sent */
typedef struct HeaderItem
{
	const char *key;
	const char *value;
	int			rank;
} HeaderItem;

typedef struct HeaderList
{
	HeaderItem *items;
	int			n;
	int			cap;
} HeaderList;

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	HeaderList *l = cls;

	(void) kind;
	if (l->n == l->cap || strcasecmp(key, CLIENT_ADDRESS_HEADER) == 0)
		return MHD_YES;
	l->items[l->n].key = key;
	l->items[l->n].value = value ? value : "";
	l->items[l->n].rank = l->n;
	l->n++;
	return MHD_YES;
}

/* By name (case-insensitive), then as sent */
static int
header_cmp(const void *a, const void *b)
{
	const HeaderItem *x = a;
	const HeaderItem *y = b;
	int			c = strcasecmp(x->key, y->key);

	return c != 0 ? c : x->rank - y->rank;
}

/*
 * Every request header into the p_headers object: names lower-cased, the
 * values of a repeated name joined with ", " in the order sent.  Sorted
 * by name, so repeated names meet in O(h log h) however many headers a
 * client sends (jsonb orders the keys itself).
 */
static void
put_headers(struct MHD_Connection *conn, TextBuf *b)
{
	HeaderItem	local[32];
	HeaderList	l = {local, 0, 32};
	int			count = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);

	if (count > l.cap)
	{
		HeaderItem *more = malloc(count * sizeof(HeaderItem));

		if (more != NULL)		/* else the first 32 only: better than no answer */
		{
			l.items = more;
			l.cap = count;
		}
	}
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &l);
	qsort(l.items, l.n, sizeof(HeaderItem), header_cmp);
	for (int i = 0; i < l.n; i++)
	{
		bool		same = i > 0 && strcasecmp(l.items[i - 1].key, l.items[i].key) == 0;

		if (same)
			buf_put(b, ", ", 2);
		else
		{
			if (i > 0)
				buf_put(b, "\",", 2);
			buf_put(b, "\"", 1);
			buf_put_escaped(b, l.items[i].key, true);
			buf_put(b, "\":\"", 3);
		}
		buf_put_escaped(b, l.items[i].value, false);
	}
	if (l.n > 0)
		buf_put(b, "\"", 1);
	if (l.items != local)
		free(l.items);
}

/* The client's address as text, for p_headers and the rate limiter */
static void
client_address(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	strncpy(buf, "unknown", size - 1);
	buf[size - 1] = '\0';
	if (sa && sa->sa_family == AF_INET && size >= INET_ADDRSTRLEN)
	{
		/* by hand: inet_ntop formats through sprintf, once per request */
		const unsigned char *q = (const unsigned char *) &((const struct sockaddr_in *) sa)->sin_addr;
		char	   *o = buf;

		for (int i = 0; i < 4; i++)
		{
			if (i > 0)
				*o++ = '.';
			if (q[i] >= 100)
				*o++ = (char) ('0' + q[i] / 100);
			if (q[i] >= 10)
				*o++ = (char) ('0' + q[i] / 10 % 10);
			*o++ = (char) ('0' + q[i] % 10);
		}
		*o = '\0';
	}
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, buf, size);
}

/* p_headers: every request header (names lower-cased) and the client address */
static char *
headers_json(struct MHD_Connection *conn, const char *addr)
{
	TextBuf		b = {NULL, 0, 0};

	buf_put(&b, "{", 1);
	put_headers(conn, &b);
	if (b.len > 1)
		buf_put(&b, ",", 1);
	buf_put_string(&b, CLIENT_ADDRESS_HEADER, false);
	buf_put(&b, ":", 1);
	buf_put_string(&b, addr, false);
	buf_put(&b, "}", 1);
	return b.data;
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

/*
 * The handler's response headers, parsed: the last text seen and its
 * pairs, kept for the next response (most responses of one shape carry
 * the same headers), in the loop's thread only.
 */
typedef struct HeaderCache
{
	char	   *text;
	int			n;
	char	  **names;
	char	  **values;
} HeaderCache;

static HeaderCache resp_cache;

static void
cache_clear(HeaderCache *c)
{
	for (int i = 0; i < c->n; i++)
	{
		free(c->names[i]);
		free(c->values[i]);
	}
	free(c->names);
	free(c->values);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

/* Parse text (a JSON object) into the cache; false when it is not one */
static bool
cache_fill(HeaderCache *c, const char *text)
{
	json_object *obj = json_tokener_parse(text);
	int			i = 0;

	cache_clear(c);
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
	{
		json_object_put(obj);
		return false;
	}
	c->names = calloc(json_object_object_length(obj) + 1, sizeof(char *));
	c->values = calloc(json_object_object_length(obj) + 1, sizeof(char *));
	json_object_object_foreach(obj, key, val)
	{
		c->names[i] = strdup(key);
		c->values[i] = strdup(json_object_get_string(val));
		i++;
	}
	c->n = i;
	c->text = strdup(text);
	json_object_put(obj);
	return true;
}

/* Copy the handler's headers; the gateway owns framing and, if configured, CORS */
static void
copy_headers(struct MHD_Response *resp, const char *text, bool cors_owned)
{
	HeaderCache *c = &resp_cache;

	if (text == NULL ||
		((c->text == NULL || strcmp(c->text, text) != 0) && !cache_fill(c, text)))
	{
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
		return;
	}
	for (int i = 0; i < c->n; i++)
	{
		const char *key = c->names[i];

		if (strcasecmp(key, "content-length") == 0 || strcasecmp(key, "transfer-encoding") == 0 ||
			strcasecmp(key, "connection") == 0 ||
			(cors_owned && strncasecmp(key, "access-control-", 15) == 0))
			continue;
		MHD_add_response_header(resp, key, c->values[i]);
	}
}

/* Send the answer in req (ours or the handler's), log and count it */
static enum MHD_Result
send_answer(Request *req)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	const RestConfig *cfg = req->cfg;
	double		secs = NowSeconds() - req->start;

	if (req->resp_body)
	{
		/* the response takes the body over: no copy */
		resp = MHD_create_response_from_buffer(req->resp_len, req->resp_body, MHD_RESPMEM_MUST_FREE);
		req->resp_body = NULL;
	}
	else
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	copy_headers(resp, req->resp_headers, cfg->cors_origins != NULL);
	if (req->origin)
		add_cors(resp, req->origin);
	if (req->retry_after > 0)
	{
		char		n[16];

		snprintf(n, sizeof(n), "%d", req->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, n);
	}
	rc = MHD_queue_response(req->conn, req->status, resp);
	MHD_destroy_response(resp);
	AccessLog(req->method, req->raw_uri, req->status, secs * 1000);
	MetricsRecord(req->status, secs);
	return rc;
}

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
	const RestConfig *cfg = req->cfg;
	char		addr[INET6_ADDRSTRLEN + 1];
	const char *origin = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Origin");
	int			wait;

	client_address(req->conn, addr, sizeof(addr));
	if (origin && CorsOriginAllowed(cfg, origin))
		req->origin = strdup(origin);
	wait = rate_limited(cfg, req->conn, addr);
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
	req->queued = NowSeconds();
	atomic_fetch_add(&InFlight, 1);
	RequestDispatch(req);
	if (req->state == REQ_ANSWERED)	/* the pool is down: answered at once */
	{
		req->state = REQ_DONE;
		return send_answer(req);
	}
	req->suspended = true;
	MHD_suspend_connection(req->conn);
	return MHD_YES;
}

/*
 * The answer of a request at the database is in: resume its connection,
 * whose next turn through access_handler sends it.
 */
void
RequestAnswered(Request *req)
{
	Assert(req->state == REQ_QUEUED);
	req->state = REQ_ANSWERED;
	if (req->suspended)
	{
		req->suspended = false;
		MHD_resume_connection(req->conn);
	}
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
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		size_t		max = req->cfg->max_body_bytes;

		size_t		mlen = strnlen(method, sizeof(req->method) - 1);

		memcpy(req->method, method, mlen);
		req->method[mlen] = '\0';
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
		take_body(req, upload_data, *upload_data_size, req->cfg->max_body_bytes);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->state == REQ_READING)
		return request_ready(req);
	if (req->state == REQ_ANSWERED)
	{
		req->state = REQ_DONE;
		return send_answer(req);
	}
	return MHD_YES;				/* answered already */
}

/*
 * Start the API server on server-host:server-port, driven by the event
 * loop (loop.c) through microhttpd's epoll descriptor: no thread of its
 * own, connections suspended while their call is at the database.
 */
struct MHD_Daemon *
HttpStart(const RestConfig *cfg)
{
	struct sockaddr_in addr;

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
	return MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
							cfg->server_port, NULL, NULL, access_handler, NULL,
							MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 16384,
							MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_bytes,
							MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) cfg->server_timeout,
							MHD_OPTION_URI_LOG_CALLBACK, request_begin, NULL,
							MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
							MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
							MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
							MHD_OPTION_END);
}
