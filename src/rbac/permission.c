/*
 * Permission codes and the patterns roles hold.
 *
 *   code     <schema>.<object>[.<column>]:<action>   stock.move:read, erp.partner.email:decrypt
 *   pattern  *  |  <obj>:<act>  where <obj> is *, <schema>.*, <schema>.<object> or
 *                  <schema>.<object>.<column|*>, and <act> is * or an action
 *
 * A pattern's '*' matches any run of characters, so "*:read" grants every
 * read and "stock.*:*" everything in schema stock.
 */
#include "postgres.h"

#include "fmgr.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

bool
PermissionMatches(const char *pattern, const char *code)
{
	const char *star = NULL;
	const char *resume = NULL;

	while (*code)
	{
		if (*pattern == '*')
		{
			star = pattern++;
			resume = code;
		}
		else if (*pattern == *code)
		{
			pattern++;
			code++;
		}
		else if (star)
		{
			pattern = star + 1;
			code = ++resume;
		}
		else
			return false;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

/* [a-z_][a-z0-9_]* of at most 63 bytes; returns the length or -1 */
static int
ident_len(const char *s)
{
	int			n = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return -1;
	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_')
		n++;
	return n <= 63 ? n : -1;
}

bool
PermissionIsValid(const char *code)
{
	int			n;

	if ((n = ident_len(code)) < 0 || code[n] != '.')
		return false;
	code += n + 1;
	if ((n = ident_len(code)) < 0 || (code[n] != ':' && code[n] != '.'))
		return false;
	if (code[n] == '.')
	{
		/* a column: <schema>.<table>.<column>:<action> (e.g. erp.partner.email:decrypt) */
		code += n + 1;
		if ((n = ident_len(code)) < 0 || code[n] != ':')
			return false;
	}
	code += n + 1;
	if ((n = ident_len(code)) < 0 || code[n] != '\0')
		return false;
	return true;
}

bool
PermissionIsValidPattern(const char *p)
{
	int			n;

	if (strcmp(p, "*") == 0)
		return true;
	if (p[0] == '*')
		p++;
	else
	{
		if ((n = ident_len(p)) < 0 || p[n] != '.')
			return false;
		p += n + 1;
		if (p[0] == '*')
			p++;
		else
		{
			if ((n = ident_len(p)) < 0)
				return false;
			p += n;
			if (p[0] == '.')
			{
				/* a column, or * for every column of the table */
				p++;
				if (p[0] == '*')
					p++;
				else if ((n = ident_len(p)) < 0)
					return false;
				else
					p += n;
			}
		}
	}
	if (*p++ != ':')
		return false;
	if (strcmp(p, "*") == 0)
		return true;
	return (n = ident_len(p)) >= 0 && p[n] == '\0';
}

/* erp._check_permission_patterns(text[]): refuses the first invalid pattern */
PG_FUNCTION_INFO_V1(pgerp_rbac_check_patterns);
Datum
pgerp_rbac_check_patterns(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("permissions must not be null")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("permissions must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *p;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("permissions must not contain null")));
		p = TextDatumGetCString(elems[i]);
		if (!PermissionIsValidPattern(p))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid permission \"%s\"", PgerpEcho(p)),
					 errdetail("A permission is <schema>.<table>:<action> (for example stock.move:read), and * may stand for the table, the action or everything."),
					 errhint("Use lower-case names: letters, digits and underscores.")));
	}
	PG_RETURN_VOID();
}
