/*
 * The HTTP request handler's parts (private to src/rest/).  One request is
 * parsed (grammar, pure C), resolved through the catalog caches, turned into
 * one parameterized statement and run under SPI in a subtransaction; every
 * outcome, errors included, becomes a RestResponse.
 */
#ifndef PGERP_REST_HANDLER_H
#define PGERP_REST_HANDLER_H

#include "postgres.h"

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "pgerp/rest.h"

typedef enum RestVerb
{
	VERB_GET, VERB_HEAD, VERB_POST, VERB_PATCH, VERB_PUT, VERB_DELETE, VERB_OPTIONS
} RestVerb;

typedef struct RestHeader
{
	char	   *name;
	char	   *value;
} RestHeader;

typedef struct RestResponse
{
	MemoryContext cxt;			/* outlives the SPI connection and the subtransaction */
	int			status;
	List	   *headers;		/* RestHeader *, in order */
	StringInfo	body;			/* NULL: no body */
} RestResponse;

/* One resolved relation (a view or table of a served schema) */
typedef struct RestRel
{
	Oid			relid;
	char	   *schema;
	char	   *name;
	char		relkind;
	/* a function's RETURNS TABLE / OUT columns when there is no relid */
	int			ncols;
	char	  **colnames;
	Oid		   *coltypes;
} RestRel;

typedef struct RestRequest
{
	RestVerb	verb;
	const char *method;
	char	   *path;
	char	   *query_string;
	Jsonb	   *headers;
	char	   *body;			/* NULL when none */
	size_t		body_len;

	/* derived */
	char	   *schema;			/* the profile */
	Oid			schema_oid;
	bool		is_root;		/* GET / */
	bool		is_rpc;
	char	   *target;			/* relation or function name */
	RestQuery	query;
	RestPrefer	prefer;
	int			naccept;
	RestMediaType *accept;
	RestMedia	media;			/* chosen response media */
	bool		nulls_stripped;
	bool		has_range;
	int64		range_first;
	int64		range_last;		/* -1: open */
	char	   *content_type;	/* lower-cased media type of the body, no parameters */
	bool		anonymous;		/* no bearer token */
	char	   *claims_json;	/* request.jwt.claims */
	unsigned	applied;		/* REST_APPLIED_* honoured */
	bool	   *consumed;		/* query params taken as RPC arguments, not filters */
	bool		rows_mode;		/* the read statement returns one JSON row per row (read.c) */
} RestRequest;

/* http.c */
extern const RestAlloc *RestPallocAllocator(void);
extern char *RestHeaderValue(RestRequest *req, const char *name);	/* lower-case name; NULL */
extern void RestAddHeader(RestResponse *resp, const char *name, const char *value);
extern StringInfo RestNewBody(RestResponse *resp);	/* an empty body in resp->cxt */

/* errors.c: raise a PostgREST error from inside a request (never returns) */
extern void RestRaise(int status, const char *code, const char *message,
					  const char *details, const char *hint) pg_attribute_noreturn();
extern void RestGrammarError(const char *what, const RestError *err) pg_attribute_noreturn();
/* turn the error being handled into a response (status from PostgREST's table) */
extern void RestErrorResponse(RestRequest *req, ErrorData *edata, RestResponse *resp);
extern void RestResetPendingError(void);
extern void RestPendingError(int status, const char *code);
extern void RestJsonError(StringInfo buf, const char *code, const char *message,
						  const char *details, const char *hint);

/* resolve.c */
extern char *pgerp_http_schemas;
extern void RestResolveGucs(void);
extern void RestChooseSchema(RestRequest *req);
extern RestRel *RestResolveRel(RestRequest *req, const char *name, bool missing_ok);
extern AttrNumber RestResolveColumn(RestRel *rel, const char *name, Oid *type, bool missing_ok);
extern List *RestRelColumns(RestRel *rel);
extern List *RestPrimaryKeyColumns(RestRel *rel);	/* char * names; NIL when none */	/* char * names, in order, dropped ones left out */

typedef struct RestRelationship
{
	RestRel    *target;
	bool		to_many;		/* the target holds the foreign key */
	char	   *constraint_name;
	int			ncols;
	char	  **source_cols;	/* columns of the source resource */
	char	  **target_cols;	/* matching columns of the target */
} RestRelationship;

extern RestRelationship *RestFindRelationship(RestRequest *req, RestRel *source,
											  const char *target_name, const char *hint);

/* sqlbuild.c: the statement and its parameters */
typedef struct RestSql
{
	StringInfoData sql;
	List	   *params;			/* char * values (text); NULL items are SQL nulls */
	int			alias_seq;		/* t0, t1, ... */
} RestSql;

extern void RestSqlInit(RestSql *q);
extern int	RestSqlParam(RestSql *q, const char *value);	/* returns $n */
extern void RestSqlParamCast(RestSql *q, const char *value, Oid type);	/* appends $n::type */
extern const char *RestQuoteIdent(const char *name);

/* read.c: SELECT over a resource, also the representation of writes */
typedef struct RestReadSpec
{
	RestRel    *rel;
	const char *from_sql;		/* NULL: the relation itself; else a CTE name or function call */
	bool		filters;		/* apply the query's filters at the top level */
	bool		paging;			/* apply order/limit/offset and Range */
} RestReadSpec;

extern void RestBuildWhere(RestRequest *req, RestSql *q, RestRel *rel, const char *alias,
						   int nembed, const char **embed, bool *any);
extern void RestBuildBody(RestRequest *req, RestSql *q, RestReadSpec *spec, bool with_total);
extern void RestHandleRead(RestRequest *req, RestRel *rel, RestResponse *resp);
extern void RestFinishRead(RestRequest *req, RestResponse *resp, SPITupleTable *tt,
						   bool with_total, int64 total_override);
extern bool RestHasTopFilters(RestRequest *req);
extern int64 RestBodyResult(RestRequest *req, SPITupleTable *tt, uint64 nrows,
							char **body, int64 *total);

/* exec.c: plans kept per request shape (the statement text) */
extern void RestPlanCacheGucs(void);
extern SPITupleTable *RestExecute(RestSql *q, bool read_only, uint64 *processed);
extern int64 RestPlannedRows(RestSql *q);

/* write.c, rpc.c, openapi.c */
extern List *RestObjectKeys(JsonbContainer *obj);
extern void RestHandleWrite(RestRequest *req, RestRel *rel, RestResponse *resp);
extern void RestHandleRpc(RestRequest *req, RestResponse *resp);
extern void RestHandleOpenApi(RestRequest *req, RestResponse *resp);
extern void RestHandleOptions(RestRequest *req, RestRel *rel, RestResponse *resp);

#endif							/* PGERP_REST_HANDLER_H */
