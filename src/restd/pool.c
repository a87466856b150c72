/*
 * Connection pools, driven by the event loop (loop.c) in its one thread:
 * each slot is a non-blocking libpq connection in pipeline mode, and a
 * request waits in its pool's FIFO until a slot is free.  A freed slot
 * takes the oldest waiter and, when that one is a read without a body,
 * up to PIPELINE_MAX - 1 more waiting reads in the same pipeline, so that
 * the server reads them in one go and the loop wakes once for all of
 * them.  Connections are opened (asynchronously) when a waiter needs one,
 * so a pool heals by itself after the database comes back; while a
 * connect has just failed the pool fails fast (503) for a backoff that
 * doubles up to 1 s, which keeps a failover under the 5 s goal without
 * hammering a dead host.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "restd.h"

#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 1.0
#define CONNECT_SECONDS 5.0		/* every host of the URI, one after the other */

/* The phases of one pipeline item: its result, the NULL ending it, its sync */
#define PHASE_RESULT 0
#define PHASE_END 1
#define PHASE_SYNC 2

static const char *http_request_sql =
"SELECT status, headers::pg_catalog.text, body FROM erp.http_request($1, $2, $3, $4::pg_catalog.jsonb, $5)";

static const char *const connect_keys[] = {"dbname", "application_name", "connect_timeout",
"keepalives_idle", "keepalives_interval", "keepalives_count", NULL};

static void pool_kick(Pool *pool);

double
NowSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
PoolInit(Pool *pool, const char *name, bool read_only, int size, const char *uri)
{
	memset(pool, 0, sizeof(*pool));
	pool->name = name;
	pool->read_only = read_only;
	pthread_mutex_init(&pool->lock, NULL);
	pool->size = size;
	pool->slots = calloc(size, sizeof(PoolSlot));
	for (int i = 0; i < size; i++)
	{
		pool->slots[i].watch.kind = WATCH_SLOT;
		pool->slots[i].pool = pool;
		pool->slots[i].fd = -1;
	}
	pool->uri = strdup(uri);
	pool->backoff = BACKOFF_MIN;
}

/* A new URI (SIGHUP): connections of the old one are closed as they come back */
void
PoolConfigure(Pool *pool, const char *uri)
{
	pthread_mutex_lock(&pool->lock);
	if (strcmp(pool->uri, uri) != 0)
	{
		free(pool->uri);
		pool->uri = strdup(uri);
		pool->generation++;
		pool->down_until = 0;
	}
	pthread_mutex_unlock(&pool->lock);
}

/* The current URI (a copy) and its generation */
static char *
pool_uri(Pool *pool, unsigned *generation)
{
	char	   *uri;

	pthread_mutex_lock(&pool->lock);
	uri = strdup(pool->uri);
	if (generation)
		*generation = pool->generation;
	pthread_mutex_unlock(&pool->lock);
	return uri;
}

/* The URI's generation: a slot of an older one is closed when it comes back */
static unsigned
pool_generation(Pool *pool)
{
	unsigned	gen;

	pthread_mutex_lock(&pool->lock);
	gen = pool->generation;
	pthread_mutex_unlock(&pool->lock);
	return gen;
}

/*
 * A blocking connection for the admin server's probes (never for API
 * requests).  A read connection is made read-only by a SET after
 * connecting, not by "options": libpq would then see a read-only session
 * and refuse it under target_session_attrs=read-write, the default
 * db-read-uri being db-uri.
 */
PGconn *
PoolConnectBlocking(Pool *pool)
{
	char	   *uri = pool_uri(pool, NULL);
	const char *values[] = {uri, "pgerp-rest", "3", "10", "2", "3", NULL};
	PGconn	   *conn = PQconnectdbParams(connect_keys, values, 1);

	free(uri);
	if (pool->read_only && PQstatus(conn) == CONNECTION_OK)
	{
		PGresult   *res = PQexec(conn, "SET default_transaction_read_only = on");

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			PQfinish(conn);
			conn = NULL;		/* PQstatus(NULL) is CONNECTION_BAD */
		}
		PQclear(res);
	}
	return conn;
}

/* Watch the slot's socket for what its state needs (nothing when empty) */
static void
slot_watch(PoolSlot *s)
{
	uint32_t	ev = 0;
	int			fd = s->conn ? PQsocket(s->conn) : -1;

	if (s->state == SLOT_CONNECTING)
		ev = s->want_write ? EPOLLOUT : EPOLLIN;
	else if (s->state != SLOT_EMPTY)
		ev = EPOLLIN | (s->want_write ? EPOLLOUT : 0);
	if (s->state == SLOT_CONNECTING)	/* libpq may have reopened the same number */
		LoopWatch(&s->watch, -1, 0, &s->fd, &s->events);
	LoopWatch(&s->watch, ev ? fd : -1, ev, &s->fd, &s->events);
}

/* Is any slot of the pool connected or about to be? */
static bool
pool_has_live(Pool *pool)
{
	for (int i = 0; i < pool->size; i++)
		if (pool->slots[i].state != SLOT_EMPTY)
			return true;
	return false;
}

/* Take a waiter off the FIFO; prev is the one before it, or NULL */
static void
pool_unlink(Pool *pool, Request *prev, Request *req)
{
	if (prev)
		prev->next = req->next;
	else
		pool->wait_head = req->next;
	if (pool->wait_tail == req)
		pool->wait_tail = prev;
	req->next = NULL;
	atomic_fetch_sub(&pool->waiting, 1);
}

/* Every waiter answered 503: no connection of the pool can be opened */
static void
pool_fail_waiters(Pool *pool)
{
	while (pool->wait_head)
	{
		Request    *req = pool->wait_head;

		pool_unlink(pool, NULL, req);
		RequestPoolDown(req, pool, pool->down_error);
		RequestAnswered(req);
	}
}

/* Close a slot's connection; the calls still in flight are answered 503 */
static void
slot_close(PoolSlot *s)
{
	for (int i = s->done; i < s->ncalls; i++)
	{
		RequestFailed(s->calls[i], s->pool, s->conn, NULL);
		RequestAnswered(s->calls[i]);
	}
	if (s->state == SLOT_BUSY || s->state == SLOT_CONNECTING || s->state == SLOT_SETUP)
		atomic_fetch_sub(&s->pool->in_use, 1);
	s->ncalls = s->done = 0;
	s->state = SLOT_EMPTY;
	s->want_write = false;
	slot_watch(s);				/* before PQfinish closes the descriptor */
	PQfinish(s->conn);
	s->conn = NULL;
}

/* A connect failed: fail fast for a while, and answer the waiters if nothing is left */
static void
slot_connect_failed(PoolSlot *s, const char *why)
{
	Pool	   *pool = s->pool;

	snprintf(pool->down_error, sizeof(pool->down_error), "%s", why && *why ? why : "could not connect");
	slot_close(s);
	pool->down_until = NowSeconds() + pool->backoff;
	pool->backoff = pool->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : pool->backoff * 2;
	if (!pool_has_live(pool))
		pool_fail_waiters(pool);
}

/* Send what libpq has buffered; watch for writability while some is left */
static bool
slot_flush(PoolSlot *s)
{
	int			rc = PQflush(s->conn);

	if (rc < 0)
		return false;
	if (s->want_write != (rc == 1))
	{
		s->want_write = rc == 1;
		slot_watch(s);
	}
	return true;
}

/* Connected: non-blocking pipeline mode, then the read-only SET and the PREPARE */
static void
slot_setup(PoolSlot *s)
{
	PGconn	   *conn = s->conn;
	bool		ok = PQsetnonblocking(conn, 1) == 0 && PQenterPipelineMode(conn);

	s->setup_left = 0;
	if (ok && s->pool->read_only)
	{
		ok = PQsendQueryParams(conn, "SET default_transaction_read_only = on", 0, NULL, NULL, NULL, NULL, 0) &&
			PQpipelineSync(conn);
		s->setup_left++;
	}
	if (ok)
	{
		ok = PQsendPrepare(conn, "http_request", http_request_sql, 5, NULL) && PQpipelineSync(conn);
		s->setup_left++;
	}
	s->state = SLOT_SETUP;
	s->phase = PHASE_RESULT;
	s->want_write = false;
	if (!ok || !slot_flush(s))
	{
		char		why[512];

		snprintf(why, sizeof(why), "%s", PQerrorMessage(conn));
		slot_connect_failed(s, why);
		return;
	}
	slot_watch(s);
}

/* Open a slot's connection without blocking (PQconnectPoll runs in slot_event) */
static void
slot_connect(PoolSlot *s)
{
	Pool	   *pool = s->pool;
	char	   *uri = pool_uri(pool, &s->generation);
	const char *values[] = {uri, "pgerp-rest", "3", "10", "2", "3", NULL};

	Assert(s->state == SLOT_EMPTY && s->conn == NULL);
	s->conn = PQconnectStartParams(connect_keys, values, 1);
	free(uri);
	s->state = SLOT_CONNECTING;
	atomic_fetch_add(&pool->in_use, 1);
	s->deadline = NowSeconds() + CONNECT_SECONDS;
	s->want_write = true;		/* PQconnectPoll's first wait is for writing */
	if (s->conn == NULL || PQstatus(s->conn) == CONNECTION_BAD)
	{
		char		why[512];

		snprintf(why, sizeof(why), "%s", s->conn ? PQerrorMessage(s->conn) : "out of memory");
		slot_connect_failed(s, why);
		return;
	}
	slot_watch(s);
}

/* One step of the connection's handshake */
static void
slot_connect_poll(PoolSlot *s)
{
	PostgresPollingStatusType st = PQconnectPoll(s->conn);

	if (st == PGRES_POLLING_FAILED)
	{
		char		why[512];

		snprintf(why, sizeof(why), "%s", PQerrorMessage(s->conn));
		slot_connect_failed(s, why);
	}
	else if (st == PGRES_POLLING_OK)
		slot_setup(s);
	else
	{
		s->want_write = st == PGRES_POLLING_WRITING;
		slot_watch(s);			/* the socket may be another one (next host) */
	}
}

/*
 * Can an idle connection still be used?  A server that died or ended the
 * session has closed its end: the end of file (or the FATAL message before
 * it) is already waiting on the socket.  An idle session is sent nothing
 * else (no LISTEN here), so anything readable means: drop it and connect
 * again (#14, test/tap/022_gateway_failover.pl).  One poll(), no wait;
 * none for a slot that went idle in this turn of the loop, whose input
 * PQconsumeInput has just read (an end of file would have shown there).
 */
static bool
slot_usable(PoolSlot *s)
{
	struct pollfd pfd;

	if (PQstatus(s->conn) != CONNECTION_OK || PQsocket(s->conn) < 0)
		return false;
	if (s->idle_turn == LoopTurn)
		return true;			/* its input was read to the end in this very turn */
	pfd.fd = PQsocket(s->conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 0;
}

/*
 * Give an idle slot the oldest waiter, and when it can share a pipeline
 * the waiting reads that can too, up to PIPELINE_MAX calls and about
 * PIPELINE_BYTES of parameters (well under a socket buffer).  Waiters
 * that a connection being opened will take are left to it: a pipeline
 * runs its calls one after the other, so a free connection is better.
 */
static void
slot_take(PoolSlot *s)
{
	Pool	   *pool = s->pool;
	Request    *req = pool->wait_head;
	size_t		bytes = RequestBatchable(req);
	int			max = atomic_load(&pool->waiting);
	bool		ok = true;

	Assert(s->state == SLOT_IDLE && req != NULL);
	for (int i = 0; i < pool->size; i++)
		if (pool->slots[i].state == SLOT_CONNECTING || pool->slots[i].state == SLOT_SETUP)
			max--;
	max = max < 1 ? 1 : max > PIPELINE_MAX ? PIPELINE_MAX : max;
	pool_unlink(pool, NULL, req);
	s->calls[0] = req;
	s->ncalls = 1;
	s->done = 0;
	if (bytes > 0)
	{
		Request    *prev = NULL;
		Request    *r = pool->wait_head;

		while (r && s->ncalls < max)
		{
			Request    *next = r->next;
			size_t		size = RequestBatchable(r);

			if (size > 0 && bytes + size <= PIPELINE_BYTES)
			{
				pool_unlink(pool, prev, r);
				s->calls[s->ncalls++] = r;
				bytes += size;
			}
			else
				prev = r;
			r = next;
		}
	}
	s->state = SLOT_BUSY;
	s->phase = PHASE_RESULT;
	atomic_fetch_add(&pool->in_use, 1);
	for (int i = 0; i < s->ncalls && ok; i++)
		RequestSend(s->calls[i], s->conn, &ok);
	if (!ok || !slot_flush(s))
		slot_close(s);
}

/* The slot has answered everything: back to idle, or closed if its URI is old */
static void
slot_idle(PoolSlot *s)
{
	if (s->state == SLOT_BUSY)
		atomic_fetch_sub(&s->pool->in_use, 1);
	else if (s->state == SLOT_SETUP)
	{
		atomic_fetch_sub(&s->pool->in_use, 1);
		s->pool->backoff = BACKOFF_MIN;
	}
	s->state = SLOT_IDLE;
	s->ncalls = s->done = 0;
	s->idle_turn = LoopTurn;
	if (pool_generation(s->pool) != s->generation)
		slot_close(s);
	else
		slot_watch(s);
}

/* One result of the item answering now; false when the connection is unusable */
static bool
slot_item(PoolSlot *s, PGresult *res)
{
	if (s->setup_left > 0)
	{
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			return true;
		slot_connect_failed(s, PQresultErrorMessage(res));
		return false;
	}
	Assert(s->done < s->ncalls);
	if (RequestResult(s->calls[s->done], s->pool, s->conn, res))
	{
		RequestAnswered(s->calls[s->done++]);
		slot_close(s);
		return false;
	}
	return true;
}

/* The item answered is complete (its sync came): the next one, or idle */
static void
slot_item_done(PoolSlot *s)
{
	if (s->setup_left > 0)
		s->setup_left--;
	else
		RequestAnswered(s->calls[s->done++]);
	s->phase = PHASE_RESULT;
	if (s->setup_left == 0 && s->done == s->ncalls)
		slot_idle(s);
}

/* Read every complete result that has arrived, in pipeline order */
static void
slot_read(PoolSlot *s)
{
	if (!PQconsumeInput(s->conn))
	{
		slot_close(s);
		return;
	}
	while ((s->state == SLOT_BUSY || s->state == SLOT_SETUP) && !PQisBusy(s->conn))
	{
		PGresult   *res = PQgetResult(s->conn);
		bool		ok = true;

		if (s->phase == PHASE_RESULT)
		{
			ok = res != NULL && slot_item(s, res);
			if (res == NULL && s->state != SLOT_EMPTY)
				slot_close(s);
			s->phase = PHASE_END;
		}
		else if (s->phase == PHASE_END)
		{
			if (res != NULL)
			{
				ok = false;
				slot_close(s);
			}
			s->phase = PHASE_SYNC;
		}
		else if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		{
			ok = false;
			slot_close(s);
		}
		else
			slot_item_done(s);
		PQclear(res);
		if (!ok)
			return;
	}
	if (s->state == SLOT_BUSY || s->state == SLOT_SETUP)
		return;
	if (s->state == SLOT_IDLE)
		pool_kick(s->pool);
}

/* The loop saw events on a slot's socket */
void
PoolSlotEvent(PoolSlot *s, uint32_t events)
{
	Pool	   *pool = s->pool;

	switch (s->state)
	{
		case SLOT_CONNECTING:
			slot_connect_poll(s);
			break;
		case SLOT_SETUP:
		case SLOT_BUSY:
			if ((events & EPOLLOUT) && !slot_flush(s))
			{
				slot_close(s);
				break;
			}
			if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				slot_read(s);
			break;
		case SLOT_IDLE:
			slot_close(s);		/* an idle session is sent nothing: it ended */
			break;
		case SLOT_EMPTY:
			break;
	}
	pool_kick(pool);
}

/*
 * Give waiters to idle slots, and open connections for those left while
 * the pool may connect: one connect in progress per waiter at most.
 */
static void
pool_kick(Pool *pool)
{
	while (pool->wait_head)
	{
		PoolSlot   *idle = NULL;
		PoolSlot   *empty = NULL;
		int			connecting = 0;
		int			waiting = atomic_load(&pool->waiting);

		for (int i = 0; i < pool->size && idle == NULL; i++)
		{
			PoolSlot   *s = &pool->slots[i];

			if (s->state == SLOT_IDLE)
				idle = s;
			else if (s->state == SLOT_EMPTY && empty == NULL)
				empty = s;
			else if (s->state == SLOT_CONNECTING || s->state == SLOT_SETUP)
				connecting++;
		}
		if (idle)
		{
			if (slot_usable(idle))
				slot_take(idle);
			else
				slot_close(idle);
			continue;
		}
		if (empty == NULL || connecting >= waiting)
			return;
		if (NowSeconds() < pool->down_until)
		{
			if (!pool_has_live(pool))
				pool_fail_waiters(pool);
			return;
		}
		slot_connect(empty);
	}
}

/* A complete request joins the FIFO of its pool */
void
PoolSubmit(Pool *pool, Request *req)
{
	req->next = NULL;
	if (pool->wait_tail)
		pool->wait_tail->next = req;
	else
		pool->wait_head = req;
	pool->wait_tail = req;
	atomic_fetch_add(&pool->waiting, 1);
	pool_kick(pool);
}

/*
 * Timers: waiters past their deadline get 504, connects past theirs fail.
 * Returns the next deadline (or a large value when there is none).
 */
double
PoolTick(Pool *pool, double now)
{
	double		next = now + 3600;
	Request    *prev = NULL;
	Request    *req = pool->wait_head;

	while (req)
	{
		Request    *after = req->next;

		if (req->deadline <= now)
		{
			pool_unlink(pool, prev, req);
			RequestTimedOut(req);
			RequestAnswered(req);
		}
		else
		{
			if (req->deadline < next)
				next = req->deadline;
			prev = req;
		}
		req = after;
	}
	for (int i = 0; i < pool->size; i++)
	{
		PoolSlot   *s = &pool->slots[i];

		if (s->state == SLOT_CONNECTING && s->deadline <= now)
			slot_connect_failed(s, "timeout expired");
		else if (s->state == SLOT_CONNECTING && s->deadline < next)
			next = s->deadline;
	}
	if (pool->wait_head)
	{
		pool_kick(pool);
		if (pool->wait_head && pool->down_until > now && pool->down_until < next)
			next = pool->down_until;
	}
	return next;
}

/* The Retry-After of a 503: the backoff rounded up, at least 1 s */
double
PoolRetryAfter(Pool *pool)
{
	return pool->backoff < 1 ? 1 : pool->backoff;
}

/* /ready: can a new connection of this pool be opened and run a query? */
bool
PoolPing(Pool *pool)
{
	PGconn	   *conn = PoolConnectBlocking(pool);
	PGresult   *res = PQexec(conn, "SELECT 1");
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	PQfinish(conn);
	return ok;
}

/* Do two pools connect to the same URI (db-read-uri unset or equal)? */
bool
PoolSameUri(Pool *a, Pool *b)
{
	char	   *ua = pool_uri(a, NULL);
	char	   *ub = pool_uri(b, NULL);
	bool		same = strcmp(ua, ub) == 0;

	free(ua);
	free(ub);
	return same;
}

/* At shutdown, in the loop's thread: every connection closed */
void
PoolCloseAll(Pool *pool)
{
	for (int i = 0; i < pool->size; i++)
		if (pool->slots[i].state != SLOT_EMPTY)
			slot_close(&pool->slots[i]);
}
