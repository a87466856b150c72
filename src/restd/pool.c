/*
 * Connection pools: a mutex and a condition variable around a fixed set of
 * PGconn.  Connections are opened lazily when a slot is taken, so a pool
 * heals by itself after the database comes back; while a connect has just
 * failed the pool fails fast (503) for a backoff that doubles up to 1 s,
 * which keeps a failover under the 5 s goal without hammering a dead host.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "restd.h"

#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 1.0

static const char *http_request_sql =
"SELECT status, headers::pg_catalog.text, body FROM erp.http_request($1, $2, $3, $4::pg_catalog.jsonb, $5)";

/* Monotonic time: deadlines and latencies must not jump with the clock */
double
NowSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An empty pool: connections are opened when first needed */
void
PoolInit(Pool *pool, const char *name, bool read_only, int size, const char *uri)
{
	pthread_condattr_t attr;

	memset(pool, 0, sizeof(*pool));
	pool->name = name;
	pool->read_only = read_only;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->freed, &attr);
	pthread_condattr_destroy(&attr);
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
 * Take a slot, waiting up to timeout seconds for one to free up, and make
 * sure it has a working connection.  POOL_DOWN leaves the reason in err.
 */
PoolResult
PoolAcquire(Pool *pool, double timeout, int *slot, char *err, size_t errlen)
{
	double		deadline = NowSeconds() + timeout;
	int			i = -1;
	PoolSlot   *s;

	pthread_mutex_lock(&pool->lock);
	if (NowSeconds() < pool->down_until)
	{
		pthread_mutex_unlock(&pool->lock);
		snprintf(err, errlen, "the database was unreachable a moment ago");
		return POOL_DOWN;
	}
	pool->waiting++;
	for (;;)
	{
		struct timespec ts;
		double		now;

		if (pool->in_use < pool->size)
		{
			for (i = 0; i < pool->size; i++)
				if (!pool->slots[i].busy)
					break;
			break;
		}
		now = NowSeconds();
		if (now >= deadline)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t) (deadline - now);
		ts.tv_nsec += (long) (((deadline - now) - (time_t) (deadline - now)) * 1e9);
		if (ts.tv_nsec >= 1000000000L)
		{
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&pool->freed, &pool->lock, &ts);
	}
	pool->waiting--;
	if (i < 0 || i >= pool->size)
	{
		pthread_mutex_unlock(&pool->lock);
		return POOL_TIMEOUT;
	}
	s = &pool->slots[i];
	assert(!s->busy && pool->in_use < pool->size);
	s->busy = true;
	pool->in_use++;
	if (s->conn && s->generation != pool->generation)
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
	pthread_mutex_unlock(&pool->lock);

	if (s->conn && PQstatus(s->conn) != CONNECTION_OK)
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

/* Give a slot back; a broken connection is closed and reopened next time */
void
PoolRelease(Pool *pool, int slot, bool broken)
{
	PoolSlot   *s = &pool->slots[slot];

	assert(slot >= 0 && slot < pool->size && s->busy);
	if (broken && s->conn)
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
	pthread_mutex_lock(&pool->lock);
	s->busy = false;
	pool->in_use--;
	pthread_cond_signal(&pool->freed);
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

/* At exit: close the idle connections so the server sees a clean goodbye */
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
