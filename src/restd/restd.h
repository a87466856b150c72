/*
 * pgerp-rest: the thin HTTP gateway in front of erp.http_request
 * (docs/gateway.md).  Each file owns one concern: config.c the settings,
 * pool.c the libpq connection pools, http.c the request path, work.c the
 * answers of the database call, loop.c the event loop that runs it all
 * in one thread, ratelimit.c the token buckets,
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
/*
 * Every pool and connection belongs to the event loop's thread (loop.c);
 * only the URI (SIGHUP) and the gauges are read by other threads.
 */
#define PIPELINE_MAX 16			/* calls sent in one pipeline */
#define PIPELINE_BYTES (64 * 1024)	/* ... about this many bytes of parameters */

typedef enum WatchKind
{
	WATCH_WAKE,					/* the loop's eventfd */
	WATCH_HTTP,					/* microhttpd's epoll descriptor */
	WATCH_SLOT					/* a pooled connection's socket */
} WatchKind;

/* What an epoll event points to: the first member of what is watched */
typedef struct Watch
{
	WatchKind	kind;
} Watch;

typedef enum SlotState
{
	SLOT_EMPTY,					/* no connection */
	SLOT_CONNECTING,			/* PQconnectStart / PQconnectPoll */
	SLOT_SETUP,					/* read-only SET and the PREPARE, in flight */
	SLOT_IDLE,					/* ready for calls */
	SLOT_BUSY					/* calls in flight */
} SlotState;

struct Request;
struct Pool;

typedef struct PoolSlot
{
	Watch		watch;			/* first: epoll events point here */
	struct Pool *pool;
	PGconn	   *conn;
	SlotState	state;
	unsigned	generation;
	int			fd;				/* as registered with the loop's epoll, or -1 */
	uint32_t	events;
	bool		want_write;		/* PQflush has more to send */
	double		deadline;		/* connecting: give up then */
	int			setup_left;		/* SETUP: statements still to answer */
	int			phase;			/* of the item answering: result, end, sync */
	struct Request *calls[PIPELINE_MAX];
	int			ncalls;
	int			done;
	unsigned long idle_turn;	/* LoopTurn when it last went idle */
} PoolSlot;

typedef struct Pool
{
	const char *name;			/* "write" or "read" */
	bool		read_only;
	pthread_mutex_t lock;		/* uri and generation only */
	char	   *uri;
	unsigned	generation;		/* bumped when the URI changes (SIGHUP) */
	PoolSlot   *slots;
	int			size;
	struct Request *wait_head;	/* FIFO of requests waiting for a connection */
	struct Request *wait_tail;
	atomic_int	in_use;			/* gauges for /metrics */
	atomic_int	waiting;
	double		down_until;		/* monotonic seconds: fail fast until then */
	double		backoff;		/* seconds */
	char		down_error[512];
} Pool;

extern void PoolInit(Pool *pool, const char *name, bool read_only, int size, const char *uri);
extern void PoolConfigure(Pool *pool, const char *uri);
extern void PoolSubmit(Pool *pool, struct Request *req);
extern void PoolSlotEvent(PoolSlot *s, uint32_t events);
extern double PoolTick(Pool *pool, double now);
extern void PoolCloseAll(Pool *pool);
extern double PoolRetryAfter(Pool *pool);
extern PGconn *PoolConnectBlocking(Pool *pool);
extern bool PoolPing(Pool *pool);
extern bool PoolSameUri(Pool *a, Pool *b);
extern double NowSeconds(void);

/* ---- loop.c ---- */
extern void LoopWatch(Watch *w, int fd, uint32_t events, int *registered_fd, uint32_t *registered);
extern int	LoopInit(void);
extern int	LoopRun(struct MHD_Daemon *api);
extern unsigned long LoopTurn;
extern void LoopStop(void);

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
extern void AccessLogFlush(void);
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
	REQ_ANSWERED,				/* the answer is in the request, not yet sent */
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
	/* at the database (pool.c) */
	bool		suspended;		/* its connection waits for RequestAnswered */
	double		deadline;		/* waiting for a connection: 504 then */
	struct Request *next;		/* in its pool's FIFO */
} Request;

extern struct MHD_Daemon *HttpStart(const RestConfig *cfg);
extern void RequestAnswered(Request *req);
extern void RequestDispatch(Request *req);
extern size_t RequestBatchable(const Request *req);
extern void RequestSend(Request *req, PGconn *conn, bool *ok);
extern bool RequestResult(Request *req, Pool *pool, PGconn *conn, PGresult *res);
extern void RequestFailed(Request *req, Pool *pool, PGconn *conn, PGresult *res);
extern void RequestPoolDown(Request *req, Pool *pool, const char *why);
extern void RequestTimedOut(Request *req);

#endif
