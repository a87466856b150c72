/*
 * Token buckets per client address and per user (a hash of the
 * Authorization header, never the token itself), in a fixed-size table:
 * memory stays bounded whatever the number of clients.  A full probe
 * window evicts its least recently used bucket, which can only make a
 * limit more lenient, never refuse a request wrongly for long.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "restd.h"

#define PROBES 8

typedef struct Bucket
{
	uint64_t	key;			/* 0: empty */
	double		tokens;
	double		last;
} Bucket;

struct RateLimiter
{
	pthread_mutex_t lock;
	Bucket	   *buckets;
	int			size;
};

/* FNV-1a, 64 bits: keys only need to spread, not to resist an attacker */
uint64_t
HashBytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t	h = 1469598103934665603ULL ^ seed;

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

/* The table is allocated once: its size is the memory bound */
RateLimiter *
RateLimiterCreate(int size)
{
	RateLimiter *rl = calloc(1, sizeof(RateLimiter));

	pthread_mutex_init(&rl->lock, NULL);
	rl->size = size;
	rl->buckets = calloc(size, sizeof(Bucket));
	return rl;
}

/* Free the table (tests and tools; the gateway keeps it for life) */
void
RateLimiterDestroy(RateLimiter *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->buckets);
	free(rl);
}

/* Take one token from the bucket of (kind, key); 0 or the Retry-After */
int
RateLimiterTake(RateLimiter *rl, const char *kind, const char *key, size_t keylen,
				double rate, double burst, double now)
{
	uint64_t	h = HashBytes(key, keylen, HashBytes(kind, strlen(kind), 0));
	Bucket	   *b = NULL;
	Bucket	   *oldest = NULL;
	int			wait = 0;

	assert(rate > 0 && burst >= 1);
	pthread_mutex_lock(&rl->lock);
	for (int i = 0; i < PROBES; i++)
	{
		Bucket	   *c = &rl->buckets[(h + i) % rl->size];

		if (c->key == h)
		{
			b = c;
			break;
		}
		if (oldest == NULL || c->key == 0 || (oldest->key != 0 && c->last < oldest->last))
			oldest = c;
	}
	if (b == NULL)
	{
		b = oldest;
		b->key = h;
		b->tokens = burst;
		b->last = now;
	}
	b->tokens += (now - b->last) * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last = now;
	if (b->tokens >= 1)
		b->tokens -= 1;
	else
		wait = (int) ceil((1 - b->tokens) / rate);
	pthread_mutex_unlock(&rl->lock);
	return wait < 0 ? 0 : wait;
}
