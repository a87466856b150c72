/*
 * pgerp rest: PostgREST's URL grammar and request headers, parsed by plain
 * C that makes no PostgreSQL call (src/rest/grammar.c and friends), so it
 * can be unit-tested and fuzzed outside the server.  The request handler
 * (src/rest/handler.h, private to src/rest/) resolves what these trees name
 * through the catalog and builds one parameterized statement.
 *
 * Every string in a tree is NUL-terminated, already percent-decoded and
 * unquoted, and allocated from the caller's RestAlloc: the trees are freed
 * with it (a memory context in the server, a list of mallocs in the fuzzer).
 * Nothing is ever freed by the parser itself.
 */
#ifndef PGERP_REST_H
#define PGERP_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds that keep a hostile URL from costing more than a normal one */
#define REST_MAX_DEPTH		16		/* nested embeds or and/or groups */
#define REST_MAX_ITEMS		1000	/* items of one list (select, in, order...) */
#define REST_MAX_INPUT		(1024 * 1024)	/* bytes of one query string or header */

typedef struct RestAlloc
{
	void	   *(*alloc) (void *ctx, size_t size);	/* never returns NULL, or the parser returns REST_ENOMEM */
	void	   *ctx;
} RestAlloc;

typedef enum RestCode
{
	REST_OK = 0,
	REST_ESYNTAX,				/* malformed: RestError.pos and .msg say where and why */
	REST_EDEPTH,				/* nesting beyond REST_MAX_DEPTH */
	REST_ETOOMANY,				/* a list beyond REST_MAX_ITEMS or input beyond REST_MAX_INPUT */
	REST_ENOMEM,
	REST_ERANGE					/* added by the grammar: limit=-N; PostgREST answers 416
								 * (PGRST103, "Limit should be greater than or equal to zero.") */
} RestCode;

typedef struct RestError
{
	RestCode	code;
	size_t		pos;			/* byte offset in the parsed string */
	char		msg[200];		/* lower-case sentence fragment, e.g. "expecting \")\"" */
} RestError;

/* ---- fields: a column and an optional JSON path: data->a->>b, data->0 ---- */
typedef struct RestJsonStep
{
	const char *key;			/* a key, or digits (optionally '-' first) for an array index */
	bool		is_index;		/* key is an integer */
	bool		as_text;		/* ->> rather than -> */
} RestJsonStep;

typedef struct RestField
{
	const char *name;			/* column (or relation, for an embed or order by a to-one embed) */
	int			npath;
	RestJsonStep *path;
} RestField;

/* ---- select=alias:col->>k::cast, alias:rel!hint!inner(...), * ---- */
typedef enum RestSelectKind
{
	REST_SEL_STAR,				/* "*" */
	REST_SEL_FIELD,				/* a column, maybe with a JSON path */
	REST_SEL_EMBED				/* a related resource with its own select list */
} RestSelectKind;

typedef struct RestSelectItem
{
	RestSelectKind kind;
	const char *alias;			/* NULL when none */
	RestField	field;			/* FIELD: the column; EMBED: field.name is the relation */
	const char *cast;			/* "::type", without the colons; NULL when none */
	/* EMBED only */
	const char *hint;			/* "!fk_or_column" other than inner/left; NULL when none */
	bool		inner;			/* !inner */
	bool		left;			/* !left */
	int			nchildren;
	struct RestSelectItem *children;
	/* added by the grammar: "...rel(cols)" spreads an embed's columns */
	bool		spread;
	/* added by the grammar: col.sum(), col.avg(), col.max(), col.min(),
	 * col.count() and count() (field.name "*"); NULL when none.  The cast
	 * after the parentheses, "col.sum()::int", is aggregate_cast. */
	const char *aggregate;
	const char *aggregate_cast;
} RestSelectItem;

/* ---- filters: col=not.op(modifier).value ---- */
typedef enum RestOp
{
	REST_OP_EQ, REST_OP_NEQ, REST_OP_GT, REST_OP_GTE, REST_OP_LT, REST_OP_LTE,
	REST_OP_LIKE, REST_OP_ILIKE, REST_OP_MATCH, REST_OP_IMATCH,
	REST_OP_IN, REST_OP_IS, REST_OP_ISDISTINCT,
	REST_OP_CS, REST_OP_CD, REST_OP_OV,
	REST_OP_SL, REST_OP_SR, REST_OP_NXR, REST_OP_NXL, REST_OP_ADJ,
	REST_OP_FTS, REST_OP_PLFTS, REST_OP_PHFTS, REST_OP_WFTS
} RestOp;

typedef enum RestIsValue
{
	REST_IS_NULL, REST_IS_NOT_NULL, REST_IS_TRUE, REST_IS_FALSE, REST_IS_UNKNOWN
} RestIsValue;

typedef enum RestQuantifier
{
	REST_QUANT_NONE, REST_QUANT_ANY, REST_QUANT_ALL	/* eq(any).{a,b} */
} RestQuantifier;

typedef struct RestFilter
{
	RestField	field;
	RestOp		op;
	bool		negate;			/* not. */
	RestQuantifier quant;
	const char *lang;			/* fts(english): the text search configuration; NULL when none */
	const char *value;			/* the operand as given (like/ilike: '*' left as is); NULL for in and is */
	int			nlist;			/* in.(a,b,"c,d"): the unquoted items */
	const char **list;
	RestIsValue isval;			/* is. only */
} RestFilter;

typedef enum RestLogicKind
{
	REST_LOGIC_FILTER, REST_LOGIC_AND, REST_LOGIC_OR
} RestLogicKind;

/* A boolean tree: a leaf filter, or and/or of children, each maybe negated */
typedef struct RestLogic
{
	RestLogicKind kind;
	bool		negate;			/* not.and(...), not.or(...) */
	RestFilter	filter;			/* FILTER only */
	int			nchildren;
	struct RestLogic *children;
} RestLogic;

/* ---- order=col.desc.nullslast,rel(col).asc ---- */
typedef enum RestNulls
{
	REST_NULLS_DEFAULT, REST_NULLS_FIRST, REST_NULLS_LAST
} RestNulls;

typedef struct RestOrderTerm
{
	const char *relation;		/* order by a to-one embed's column: rel(col); NULL otherwise */
	RestField	field;
	bool		desc;
	RestNulls	nulls;
} RestOrderTerm;

/* ---- the query string, one RestParam per key=value pair, in order ---- */
typedef enum RestParamKind
{
	REST_PARAM_SELECT,			/* select= (top level only: "a.select" is a FILTER) */
	REST_PARAM_ORDER,			/* [embed.]order= */
	REST_PARAM_LIMIT,			/* [embed.]limit= */
	REST_PARAM_OFFSET,			/* [embed.]offset= */
	REST_PARAM_COLUMNS,			/* columns= */
	REST_PARAM_ON_CONFLICT,		/* on_conflict= */
	REST_PARAM_LOGIC,			/* [embed.]and= [embed.]or= [embed.]not.and= [embed.]not.or= */
	REST_PARAM_FILTER			/* [embed.]field=op.value, or an RPC argument */
} RestParamKind;

typedef struct RestParam
{
	RestParamKind kind;
	const char *key;			/* decoded */
	const char *value;			/* decoded */
	int			nembed;			/* the embed path before the last segment: a.b.col=... */
	const char **embed;
	/* SELECT */
	int			nselect;
	RestSelectItem *select;
	/* ORDER */
	int			norder;
	RestOrderTerm *order;
	/*
	 * LIMIT, OFFSET: a non-negative integer.  As in PostgREST, a negative
	 * offset counts as 0 and a negative limit fails with REST_ERANGE.
	 */
	int64_t		number;
	/* COLUMNS, ON_CONFLICT: comma-separated names */
	int			nnames;
	const char **names;
	/*
	 * LOGIC and FILTER: the tree.  A FILTER whose value does not parse as
	 * op.value keeps logic NULL and its error in error: the handler decides
	 * whether it is an RPC argument or a bad filter (PGRST100).
	 */
	RestLogic  *logic;
	RestError	error;
	/*
	 * added by the grammar: FILTER only, the key itself (not the value) did
	 * not parse as [embed.]field[->json]; PostgREST refuses such a key even
	 * for an RPC argument (PGRST100).
	 */
	bool		bad_key;
} RestParam;

typedef struct RestQuery
{
	int			nparams;
	RestParam  *params;
} RestQuery;

/*
 * Parse a raw query string (without the '?'): split at '&', split each pair
 * at the first '=', percent-decode both ('+' is a space), then parse each by
 * its key.  Fails (with the key's name in the message) only for SELECT, ORDER,
 * LIMIT, OFFSET, COLUMNS, ON_CONFLICT and LOGIC values that do not parse.
 * Pairs without '=' and empty pairs (a&&b) are skipped, as PostgREST does;
 * ';' is not a separator (it is in http-types).  Error positions: a bad
 * percent-escape is an offset in qs; a value that does not parse, an offset
 * in that decoded value (and RestParam.error.pos likewise for filters).
 */
extern RestCode RestParseQuery(const char *qs, size_t len, const RestAlloc *a,
							   RestQuery *out, RestError *err);

/* The pieces, for values that come from elsewhere (and for the fuzzer). */
extern RestCode RestParseSelect(const char *s, const RestAlloc *a,
								int *n, RestSelectItem **items, RestError *err);
extern RestCode RestParseOrder(const char *s, const RestAlloc *a,
							   int *n, RestOrderTerm **terms, RestError *err);
/* "op.value" of a filter on field (already split off the key) */
extern RestCode RestParseFilterValue(const char *s, const RestAlloc *a,
									 RestFilter *out, RestError *err);
/* "(a.eq.1,or(b.gt.2,c.is.null))" of an and/or key */
extern RestCode RestParseLogic(const char *s, RestLogicKind kind, bool negate,
							   const RestAlloc *a, RestLogic *out, RestError *err);
/* "col" or "col->a->>b" */
extern RestCode RestParseField(const char *s, const RestAlloc *a, RestField *out, RestError *err);

/* ---- Prefer (several headers joined with ", ") ---- */
typedef enum RestReturn
{
	REST_RETURN_DEFAULT, REST_RETURN_MINIMAL, REST_RETURN_REPRESENTATION, REST_RETURN_HEADERS_ONLY
} RestReturn;
typedef enum RestCount
{
	REST_COUNT_NONE, REST_COUNT_EXACT, REST_COUNT_PLANNED, REST_COUNT_ESTIMATED
} RestCount;
typedef enum RestResolution
{
	REST_RESOLUTION_NONE, REST_RESOLUTION_MERGE, REST_RESOLUTION_IGNORE
} RestResolution;
typedef enum RestMissing
{
	REST_MISSING_NONE, REST_MISSING_DEFAULT, REST_MISSING_NULL
} RestMissing;
typedef enum RestHandling
{
	REST_HANDLING_NONE, REST_HANDLING_LENIENT, REST_HANDLING_STRICT
} RestHandling;
typedef enum RestTx
{
	REST_TX_NONE, REST_TX_COMMIT, REST_TX_ROLLBACK
} RestTx;

typedef struct RestPrefer
{
	RestReturn	ret;
	RestCount	count;
	RestResolution resolution;
	RestMissing missing;
	RestHandling handling;
	RestTx		tx;
	bool		has_max_affected;
	int64_t		max_affected;	/* max-affected=N, N >= 0 */
	const char *timezone;		/* timezone=Europe/Paris; NULL when none */
	int			ninvalid;		/* entries not understood (handling=strict refuses them) */
	const char *first_invalid;	/* the first of them, as given */
} RestPrefer;

/* Never fails on unknown entries (they are counted); fails on input beyond bounds */
extern RestCode RestParsePrefer(const char *h, const RestAlloc *a, RestPrefer *out, RestError *err);

/*
 * The Prefer-Applied value for what the handler honoured: the entries of p
 * whose honoured flag is set, in PostgREST's order, written to buf (NUL
 * terminated, truncated at size).  Flags: REST_APPLIED_*.
 */
#define REST_APPLIED_RETURN		0x01
#define REST_APPLIED_COUNT		0x02
#define REST_APPLIED_RESOLUTION	0x04
#define REST_APPLIED_MISSING	0x08
#define REST_APPLIED_HANDLING	0x10
#define REST_APPLIED_TX			0x20
#define REST_APPLIED_MAX_AFFECTED 0x40
#define REST_APPLIED_TIMEZONE	0x80
extern void RestFormatPreferApplied(const RestPrefer *p, unsigned flags, char *buf, size_t size);

/* ---- Range: "0-9", "10-" (items); first >= 0, last = -1 when open ---- */
extern RestCode RestParseRange(const char *h, int64_t *first, int64_t *last, RestError *err);

/* ---- Accept: media types in preference order (q descending, then as given) ---- */
typedef enum RestMedia
{
	REST_MEDIA_JSON,			/* application/json, application/(any), (any)/(any) */
	REST_MEDIA_OBJECT,			/* application/vnd.pgrst.object+json, application/vnd.pgrst.object */
	REST_MEDIA_CSV,				/* text/csv */
	REST_MEDIA_OPENAPI,			/* application/openapi+json */
	REST_MEDIA_TEXT,			/* text/plain */
	REST_MEDIA_OCTET,			/* application/octet-stream */
	REST_MEDIA_OTHER			/* anything else */
} RestMedia;

typedef struct RestMediaType
{
	RestMedia	media;
	const char *raw;			/* "type/subtype" as given, lower-cased, without parameters */
	bool		nulls_stripped;	/* ;nulls=stripped */
} RestMediaType;

/* An empty or absent header yields one REST_MEDIA_JSON entry */
extern RestCode RestParseAccept(const char *h, const RestAlloc *a,
								int *n, RestMediaType **types, RestError *err);

/*
 * ---- text/csv request bodies (RFC 4180): the first record names the
 * columns.  Fields are unquoted; an unquoted NULL is SQL null (null[i][j]).
 */
typedef struct RestCsv
{
	int			ncolumns;
	const char **columns;
	int64_t		nrows;
	const char ***cells;		/* cells[row][column] */
	bool	  **nulls;			/* nulls[row][column] */
} RestCsv;

extern RestCode RestParseCsv(const char *body, size_t len, const RestAlloc *a,
							 RestCsv *out, RestError *err);

/* Percent-decoding, exposed for the handler's path segments; '+' stays '+' */
extern RestCode RestPercentDecode(const char *s, size_t len, const RestAlloc *a,
								  char **out, RestError *err);

/* src/rest/http.c: the handler's settings, from _PG_init (server only) */
extern void RestInit(void);

#endif							/* PGERP_REST_H */
