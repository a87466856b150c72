/*
 * The statement a request becomes: its text, where every value is a bind
 * parameter and every identifier has been resolved and is quoted, and its
 * parameters as text.  The text is the request's shape, the key of its
 * kept plan (exec.c).
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "handler.h"

void
RestSqlInit(RestSql *q)
{
	initStringInfo(&q->sql);
	q->params = NIL;
	q->alias_seq = 0;
}

int
RestSqlParam(RestSql *q, const char *value)
{
	q->params = lappend(q->params, value ? pstrdup(value) : NULL);
	return list_length(q->params);
}

/* $n::type, the value converted by the type's input function at execution */
void
RestSqlParamCast(RestSql *q, const char *value, Oid type)
{
	int			n = RestSqlParam(q, value);

	appendStringInfo(&q->sql, "$%d::%s", n, format_type_be_qualified(type));
}

const char *
RestQuoteIdent(const char *name)
{
	return quote_identifier(name);
}
