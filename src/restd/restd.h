/*
 * pgerp-rest: the thin HTTP gateway in front of erp.http_request
 * (docs/gateway.md).  Each file owns one concern: config.c the settings,
 * pool.c the libpq connection pools, http.c the request path, work.c the
 * database call of a request, ratelimit.c the token buckets,
 * metrics.c the counters and the admin server, log.c the access log.
 */
#ifndef PGERP_RESTD_H
#define PGERP_RESTD_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <microhttpd.h>

/* Invariants, as in the extension (PostgreSQL's Assert is backend-only) */
#define Assert(c) assert(c)

/* ---- config.c ---- */
typedef struct RestConfig
{
	char	   *db_uri;
	char	   *db_read_uri;		/* NULL: same as db_uri */
	int			db_pool;
	double		db_pool_timeout;	/* seconds */
	char	   *server_host;
	int			server_port;
	int			admin_port;			/* 0: no admin server */
	int			server_threads;		/* 0: number of cores */
	int			server_timeout;		/* idle connection timeout, seconds */
	size_t		max_body_bytes;
	size_t		max_header_bytes;
	char	   *cors_origins;		/* comma-separated, "*" for any; NULL: off */
	double		rl_address_rate;	/* requests per second, 0: off */
	double		rl_user_rate;
	double		rl_burst;
	int			rl_table_size;
} RestConfig;

extern int	ConfigLoad(const char *path, RestConfig *cfg, char *err, size_t errlen);
extern void ConfigFree(RestConfig *cfg);

/* The current settings; replaced as a whole on SIGHUP (config.c) */
extern const RestConfig *ConfigAcquire(void);
extern void ConfigRelease(const RestConfig *cfg);
extern void ConfigInstall(RestConfig *cfg);
extern bool CorsOriginAllowed(const RestConfig *cfg, const char *origin);

/* ---- pool.c ---- */
typedef struct PoolSlot
{
	PGconn	   *conn;
	bool		busy;
	bool		prepared;
	unsigned	generation;
} PoolSlot;

typedef struct Pool
{
	const char *name;			/* "write" or "read" */
	bool		read_only;
	pthread_mutex_t lock;
	struct PoolWaiter *wait_head;	/* FIFO of callers waiting (pool.c) */
	struct PoolWaiter *wait_tail;
	PoolSlot   *slots;
	int			size;
	int			in_use;
	int			waiting;
	unsigned	generation;		/* bumped when the URI changes (SIGHUP) */
	char	   *uri;
	double		down_until;		/* monotonic seconds: fail fast until then */
	double		backoff;		/* seconds */
} Pool;

typedef enum PoolResult
{
	POOL_OK,
	POOL_TIMEOUT,				/* no slot freed in time: 504 PGRST003 */
	POOL_DOWN,					/* cannot connect: 503 */
	POOL_SERVED					/* another request's call ran this one too */
} PoolResult;

typedef struct PoolWaiter PoolWaiter;
struct Request;

extern void PoolInit(Pool *pool, const char *name, bool read_only, int size, const char *uri);
extern void PoolConfigure(Pool *pool, const char *uri);
extern PoolResult PoolAcquire(Pool *pool, double timeout, struct Request *req, int *slot,
							  char *err, size_t errlen);
extern int	PoolTakeWaiters(Pool *pool, struct Request **reqs, int max, size_t max_bytes);
extern void PoolServed(Pool *pool, struct Request *req);
extern size_t PoolBatchable(const struct Request *req);
extern void PoolRelease(Pool *pool, int slot, bool broken);
extern void PoolCloseAll(Pool *pool);
extern double PoolRetryAfter(Pool *pool);
extern bool PoolPing(Pool *pool);
extern bool PoolSameUri(Pool *a, Pool *b);
extern double NowSeconds(void);

/* ---- ratelimit.c ---- */
typedef struct RateLimiter RateLimiter;
extern RateLimiter *RateLimiterCreate(int size);
extern void RateLimiterDestroy(RateLimiter *rl);
/* 0 when allowed, else the seconds to wait */
extern int	RateLimiterTake(RateLimiter *rl, const char *kind, const char *key, size_t keylen,
							double rate, double burst, double now);
extern uint64_t HashBytes(const void *data, size_t len, uint64_t seed);

/* ---- metrics.c ---- */
extern void MetricsRecord(int status, double seconds);
extern void MetricsDbError(void);
extern struct MHD_Daemon *AdminStart(const RestConfig *cfg);

/* ---- log.c ---- */
extern void AccessLog(const char *method, const char *path, int status, double ms);
extern void LogMessage(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* ---- http.c / work.c ---- */
extern Pool WritePool;
extern Pool ReadPool;
extern atomic_int InFlight;

typedef enum RequestState
{
	REQ_NEW,					/* request line and headers seen */
	REQ_READING,				/* taking the body */
	REQ_QUEUED,					/* at the database (counted in InFlight) */
	REQ_DONE					/* answered */
} RequestState;

typedef struct Request
{
	struct MHD_Connection *conn;
	const RestConfig *cfg;		/* the settings at its start (ConfigAcquire) */
	char	   *raw_uri;		/* as sent: still percent-encoded */
	char		method[16];
	double		start;
	double		queued;
	RequestState state;
	bool		read_only;		/* GET or HEAD: the read pool */
	bool		has_body;
	bool		too_big;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	char	   *headers_json;	/* p_headers */
	char	   *origin;			/* allowed CORS origin, or NULL */
	/* the answer */
	int			status;
	char	   *resp_headers;	/* JSON object text, or NULL */
	char	   *resp_body;
	size_t		resp_len;
	int			retry_after;	/* 0: none */
	PoolWaiter *waiter;			/* set when another thread runs its call */
} Request;

extern struct MHD_Daemon *HttpStart(const RestConfig *cfg);
extern void RequestExecute(Request *req);

#endif
