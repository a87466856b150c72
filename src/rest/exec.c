/*
 * Running a request's statement: plans are prepared once per request shape
 * (the statement text: values are parameters, so every GET by key of one
 * resource shares a plan) and kept, at most pgerp.http_plan_cache_size of
 * them, the least recently used evicted.  A kept plan is revalidated by
 * PostgreSQL's plan cache when the catalog changes.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "handler.h"

typedef struct PlanEntry
{
	uint64		key;			/* hash of the statement text */
	char	   *sql;			/* the text, to tell collisions apart */
	int			nargs;
	SPIPlanPtr	plan;
	uint64		used;
} PlanEntry;

static HTAB *plans = NULL;
static uint64 use_clock = 0;
static int	plan_cache_size = 1000;

void
RestPlanCacheGucs(void)
{
	DefineCustomIntVariable("pgerp.http_plan_cache_size",
							"Plans erp.http_request keeps per backend, one per request shape.",
							NULL,
							&plan_cache_size,
							1000, 0, 100000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

static void
evict_oldest(void)
{
	HASH_SEQ_STATUS st;
	PlanEntry  *e,
			   *oldest = NULL;

	hash_seq_init(&st, plans);
	while ((e = hash_seq_search(&st)) != NULL)
		if (oldest == NULL || e->used < oldest->used)
			oldest = e;
	if (oldest == NULL)
		return;
	SPI_freeplan(oldest->plan);
	pfree(oldest->sql);
	hash_search(plans, &oldest->key, HASH_REMOVE, NULL);
}

/* The kept plan of this statement text, prepared on first use */
static SPIPlanPtr
plan_for(const char *sql, int nargs, Oid *types)
{
	uint64		key = hash_bytes_extended((const unsigned char *) sql, strlen(sql), 0);
	PlanEntry  *e;
	bool		found;
	SPIPlanPtr	p;

	if (plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(PlanEntry);
		ctl.hcxt = TopMemoryContext;
		plans = hash_create("pgerp http plans", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(plans, &key, HASH_FIND, NULL);
	if (e != NULL && e->nargs == nargs && strcmp(e->sql, sql) == 0)
	{
		e->used = ++use_clock;
		return e->plan;
	}
	p = SPI_prepare(sql, nargs, types);
	if (p == NULL)
		elog(ERROR, "SPI_prepare failed for an HTTP request: %s", SPI_result_code_string(SPI_result));
	if (plan_cache_size == 0)
		return p;
	if (e == NULL && hash_get_num_entries(plans) >= plan_cache_size)
		evict_oldest();
	SPI_keepplan(p);
	e = hash_search(plans, &key, HASH_ENTER, &found);
	if (found)
	{
		SPI_freeplan(e->plan);
		pfree(e->sql);
	}
	e->sql = MemoryContextStrdup(TopMemoryContext, sql);
	e->nargs = nargs;
	e->plan = p;
	e->used = ++use_clock;
	return p;
}

static void
param_arrays(RestSql *q, Oid **types, Datum **values, char **nulls)
{
	int			n = list_length(q->params);
	ListCell   *lc;

	*types = palloc(sizeof(Oid) * Max(n, 1));
	*values = palloc(sizeof(Datum) * Max(n, 1));
	*nulls = palloc(Max(n, 1) + 1);
	foreach(lc, q->params)
	{
		int			i = foreach_current_index(lc);
		char	   *v = lfirst(lc);

		(*types)[i] = TEXTOID;
		(*values)[i] = v ? CStringGetTextDatum(v) : (Datum) 0;
		(*nulls)[i] = v ? ' ' : 'n';
	}
	(*nulls)[n] = '\0';
}

/* Run the statement under the caller's privileges and row security */
SPITupleTable *
RestExecute(RestSql *q, bool read_only, uint64 *processed)
{
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	SPIPlanPtr	p;
	int			rc;

	param_arrays(q, &types, &values, &nulls);
	p = plan_for(q->sql.data, list_length(q->params), types);
	rc = SPI_execute_plan(p, values, nulls, read_only, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for an HTTP request: %s", SPI_result_code_string(rc));
	*processed = SPI_processed;
	return SPI_tuptable;
}

/* count=planned: the row estimate of the top plan node */
int64
RestPlannedRows(RestSql *q)
{
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	char	   *sql = psprintf("EXPLAIN (FORMAT JSON) %s", q->sql.data);
	char	   *out;
	char	   *at;

	param_arrays(q, &types, &values, &nulls);
	if (SPI_execute_with_args(sql, list_length(q->params), types, values, nulls, false, 0) < 0 ||
		SPI_processed != 1)
		elog(ERROR, "could not estimate the rows of an HTTP request");
	out = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	at = out ? strstr(out, "\"Plan Rows\": ") : NULL;
	if (at == NULL)
		return 0;
	return (int64) strtod(at + strlen("\"Plan Rows\": "), NULL);
}
