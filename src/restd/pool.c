/*
 * Connection pools: a mutex and a condition variable around a fixed set of
 * PGconn.  Connections are opened lazily when a slot is taken, so a pool
 * heals by itself after the database comes back; while a connect has just
 * failed the pool fails fast (503) for a backoff that doubles up to 1 s,
 * which keeps a failover under the 5 s goal without hammering a dead host.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "restd.h"

#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 1.0

static const char *http_request_sql =
"SELECT status, headers::pg_catalog.text, body FROM erp.http_request($1, $2, $3, $4::pg_catalog.jsonb, $5)";

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

/*
 * The parameters every connection is opened with.  A read connection is
 * made read-only by a SET after connecting, not by "options": libpq would
 * then see a read-only session and refuse it under
 * target_session_attrs=read-write, the default db-read-uri being db-uri.
 */
static PGconn *
pool_connect(const char *uri, bool read_only)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout",
	"keepalives_idle", "keepalives_interval", "keepalives_count", NULL};
	const char *values[] = {uri, "pgerp-rest", "3", "10", "2", "3", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);

	if (read_only && PQstatus(conn) == CONNECTION_OK)
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

/* Open (or reopen) the connection of a slot we hold; false when it fails */
static bool
pool_open_slot(Pool *pool, PoolSlot *s, char *err, size_t errlen)
{
	char	   *uri;
	unsigned	gen;
	PGconn	   *conn;
	PGresult   *res;

	pthread_mutex_lock(&pool->lock);
	uri = strdup(pool->uri);
	gen = pool->generation;
	pthread_mutex_unlock(&pool->lock);

	conn = pool_connect(uri, pool->read_only);
	free(uri);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return false;
	}
	res = PQprepare(conn, "http_request", http_request_sql, 5, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return false;
	}
	PQclear(res);
	s->conn = conn;
	s->prepared = true;
	s->generation = gen;
	return true;
}

/*
 * Can an idle pooled connection still be used?  libpq learns that the
 * server is gone only at the next call, so a slot left idle across a crash
 * or a failover would answer its next request 503 (even long after the new
 * primary is up).  A server that died or ended the session has closed its
 * end: the end of file (or the FATAL message before it) is already waiting
 * on the socket.  An idle session is sent nothing else (no LISTEN here), so
 * anything readable means: drop it and connect again.  One poll(), no wait.
 */
static bool
pool_conn_usable(PGconn *conn)
{
	struct pollfd pfd;

	if (PQstatus(conn) != CONNECTION_OK || PQsocket(conn) < 0)
		return false;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 0;
}

/* A caller waiting for a slot: queued in arrival order, handed a slot directly */
struct PoolWaiter
{
	pthread_cond_t cond;
	int			slot;			/* -1 until PoolRelease hands one over */
	Request    *req;
	bool		taken;			/* PoolTakeWaiters took req over: no timeout now */
	bool		served;			/* ... and its answer is in req */
	struct PoolWaiter *next;
};

/* A free slot's index, or -1; the caller holds the lock */
static int
pool_free_slot(Pool *pool)
{
	if (pool->in_use >= pool->size)
		return -1;
	for (int i = 0; i < pool->size; i++)
		if (!pool->slots[i].busy)
			return i;
	Assert(false);
	return -1;
}

/* Unlink a waiter that gave up; the caller holds the lock */
static void
pool_unqueue(Pool *pool, PoolWaiter *w)
{
	PoolWaiter **pp = &pool->wait_head;
	PoolWaiter *prev = NULL;

	while (*pp && *pp != w)
	{
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = w->next;
	if (pool->wait_tail == w)
		pool->wait_tail = prev;
}

#define POOL_SLOT_SERVED (-2)

/*
 * Wait, first come first served, up to the deadline for a slot; -1 on
 * timeout.  PoolRelease hands a freed slot to the oldest waiter directly,
 * so a newcomer can never overtake the queue (an unfair condition variable
 * gave a p99 of hundreds of ms at 64 clients on a pool of 10).  The caller
 * holds the lock.
 */
static int
pool_wait_slot(Pool *pool, double deadline, Request *req)
{
	PoolWaiter	w;
	pthread_condattr_t attr;
	int			i = pool->wait_head ? -1 : pool_free_slot(pool);

	if (i >= 0)
		return i;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &attr);
	pthread_condattr_destroy(&attr);
	w.slot = -1;
	w.req = req;
	w.taken = false;
	w.served = false;
	w.next = NULL;
	if (pool->wait_tail)
		pool->wait_tail->next = &w;
	else
		pool->wait_head = &w;
	pool->wait_tail = &w;
	pool->waiting++;
	while (w.slot < 0 && !w.served)
	{
		struct timespec ts;
		double		left = deadline - NowSeconds();

		if (w.taken)
		{
			pthread_cond_wait(&w.cond, &pool->lock);
			continue;
		}
		if (left <= 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t) left;
		ts.tv_nsec += (long) ((left - (time_t) left) * 1e9);
		if (ts.tv_nsec >= 1000000000L)
		{
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w.cond, &pool->lock, &ts);
	}
	if (w.slot < 0 && !w.served)
		pool_unqueue(pool, &w);
	pool->waiting--;
	pthread_cond_destroy(&w.cond);
	return w.served ? POOL_SLOT_SERVED : w.slot;
}

/*
 * Take a slot, waiting up to timeout seconds for one to free up, and make
 * sure it has a working connection.  POOL_DOWN leaves the reason in err;
 * POOL_SERVED: while req waited, the holder of a slot ran it (PoolTakeWaiters).
 */
PoolResult
PoolAcquire(Pool *pool, double timeout, Request *req, int *slot, char *err, size_t errlen)
{
	double		deadline = NowSeconds() + timeout;
	int			i;
	PoolSlot   *s;

	pthread_mutex_lock(&pool->lock);
	if (NowSeconds() < pool->down_until)
	{
		pthread_mutex_unlock(&pool->lock);
		snprintf(err, errlen, "the database was unreachable a moment ago");
		return POOL_DOWN;
	}
	i = pool_wait_slot(pool, deadline, req);
	if (i < 0)
	{
		pthread_mutex_unlock(&pool->lock);
		return i == POOL_SLOT_SERVED ? POOL_SERVED : POOL_TIMEOUT;
	}
	s = &pool->slots[i];
	if (!s->busy)				/* a handed-over slot is busy and counted already */
	{
		s->busy = true;
		pool->in_use++;
	}
	if (s->conn && s->generation != pool->generation)
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
	pthread_mutex_unlock(&pool->lock);

	if (s->conn && !pool_conn_usable(s->conn))
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
	if (s->conn == NULL && !pool_open_slot(pool, s, err, errlen))
	{
		pthread_mutex_lock(&pool->lock);
		pool->down_until = NowSeconds() + pool->backoff;
		pool->backoff = pool->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : pool->backoff * 2;
		pthread_mutex_unlock(&pool->lock);
		PoolRelease(pool, i, true);
		return POOL_DOWN;
	}
	pthread_mutex_lock(&pool->lock);
	pool->backoff = BACKOFF_MIN;
	pthread_mutex_unlock(&pool->lock);
	*slot = i;
	return POOL_OK;
}

/*
 * Give a slot back; a broken connection is closed and reopened next time.
 * With someone waiting the slot goes straight to the oldest waiter and
 * stays busy.
 */
void
PoolRelease(Pool *pool, int slot, bool broken)
{
	PoolSlot   *s = &pool->slots[slot];
	PoolWaiter *w;

	if (broken && s->conn)
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
	pthread_mutex_lock(&pool->lock);
	Assert(s->busy);
	w = pool->wait_head;
	if (w)
	{
		pool->wait_head = w->next;
		if (pool->wait_head == NULL)
			pool->wait_tail = NULL;
		w->next = NULL;
		w->slot = slot;
		pthread_cond_signal(&w->cond);
	}
	else
	{
		s->busy = false;
		pool->in_use--;
	}
	pthread_mutex_unlock(&pool->lock);
}

/*
 * The holder of a slot takes over up to max waiting requests that can share
 * its pipeline (PoolBatchable), their parameters under max_bytes in all, so
 * that they are sent in one write: their threads then sleep once, until
 * PoolServed, instead of waking for a slot and again for the result.
 */
int
PoolTakeWaiters(Pool *pool, Request **reqs, int max, size_t max_bytes)
{
	int			n = 0;
	size_t		bytes = 0;
	PoolWaiter **pp;

	pthread_mutex_lock(&pool->lock);
	pp = &pool->wait_head;
	while (*pp && n < max)
	{
		PoolWaiter *w = *pp;
		size_t		size = PoolBatchable(w->req);

		if (size == 0 || bytes + size > max_bytes)
		{
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (pool->wait_tail == w)
			pool->wait_tail = (pp == &pool->wait_head) ? NULL :
				(PoolWaiter *) ((char *) pp - offsetof(PoolWaiter, next));
		w->taken = true;
		w->next = NULL;
		w->req->waiter = w;
		bytes += size;
		reqs[n++] = w->req;
	}
	pthread_mutex_unlock(&pool->lock);
	return n;
}

/* The answer of a request taken over by PoolTakeWaiters is ready: wake it */
void
PoolServed(Pool *pool, Request *req)
{
	PoolWaiter *w = req->waiter;

	Assert(w && w->taken);
	pthread_mutex_lock(&pool->lock);
	w->served = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&pool->lock);
}

/* The Retry-After of a 503: the backoff rounded up, at least 1 s */
double
PoolRetryAfter(Pool *pool)
{
	double		b;

	pthread_mutex_lock(&pool->lock);
	b = pool->backoff;
	pthread_mutex_unlock(&pool->lock);
	return b < 1 ? 1 : b;
}

/* /ready: can a new connection of this pool be opened and run a query? */
bool
PoolPing(Pool *pool)
{
	char	   *uri;
	PGconn	   *conn;
	PGresult   *res;
	bool		ok;

	pthread_mutex_lock(&pool->lock);
	uri = strdup(pool->uri);
	pthread_mutex_unlock(&pool->lock);
	conn = pool_connect(uri, pool->read_only);
	free(uri);
	res = PQexec(conn, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	PQfinish(conn);
	return ok;
}

/* Do two pools connect to the same URI (db-read-uri unset or equal)? */
bool
PoolSameUri(Pool *a, Pool *b)
{
	bool		same;

	pthread_mutex_lock(&a->lock);
	pthread_mutex_lock(&b->lock);
	same = strcmp(a->uri, b->uri) == 0;
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_unlock(&a->lock);
	return same;
}

void
PoolCloseAll(Pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	for (int i = 0; i < pool->size; i++)
		if (!pool->slots[i].busy && pool->slots[i].conn)
		{
			PQfinish(pool->slots[i].conn);
			pool->slots[i].conn = NULL;
		}
	pthread_mutex_unlock(&pool->lock);
}
