/*
 * Record-rule expressions become row-security policies built by a SECURITY
 * DEFINER function, so the text must be one SQL expression and nothing else.
 * Two checks, both needed:
 *   - scanned token by token, its parentheses never close more than they
 *     opened and end balanced, and it has no ';' (so that wrapped as "(X)" it
 *     cannot close the wrapper early, e.g. "true) OR (true");
 *   - "SELECT (X)" parses to one SELECT with one target and no other clause.
 * Any failure, a syntax error included, is reported as 22023.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "parser/gramparse.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

static void
refuse(const char *expr, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("rule expression must be a single SQL expression"),
			 errdetail("The text \"%s\" is not one boolean expression: %s.", expr, why)));
}

/* Returns NULL when the parentheses are sound, else why not. */
static const char *
check_tokens(const char *expr)
{
	core_yy_extra_type extra;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	int			depth = 0;
	const char *why = NULL;

	scanner = scanner_init(expr, &extra, &ScanKeywords, ScanKeywordTokens);
	for (;;)
	{
		int			tok = core_yylex(&yylval, &yylloc, scanner);

		if (tok == 0)
			break;
		if (tok == '(')
			depth++;
		else if (tok == ')' && --depth < 0)
		{
			why = "it closes a parenthesis it did not open";
			break;
		}
		else if (tok == ';')
		{
			why = "it contains a semicolon";
			break;
		}
	}
	scanner_finish(scanner);
	if (why == NULL && depth != 0)
		why = "its parentheses are not balanced";
	return why;
}

static bool
is_single_expression(List *stmts)
{
	SelectStmt *sel;

	if (list_length(stmts) != 1 || !IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
		return false;
	sel = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
	return sel->op == SETOP_NONE && list_length(sel->targetList) == 1 &&
		sel->fromClause == NIL && sel->whereClause == NULL && sel->groupClause == NIL &&
		sel->havingClause == NULL && sel->windowClause == NIL && sel->valuesLists == NIL &&
		sel->sortClause == NIL && sel->limitOffset == NULL && sel->limitCount == NULL &&
		sel->lockingClause == NIL && sel->withClause == NULL && sel->intoClause == NULL &&
		sel->distinctClause == NIL;
}

PG_FUNCTION_INFO_V1(pgerp_rbac_check_rule_expression);
Datum
pgerp_rbac_check_rule_expression(PG_FUNCTION_ARGS)
{
	char	   *expr;
	const char *volatile why = NULL;
	List	   *volatile stmts = NIL;
	MemoryContext cxt = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rule expression must not be null")));
	expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (expr[strspn(expr, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule expression must not be empty")));

	/*
	 * The scanner and the raw parser only allocate memory, so catching their
	 * syntax errors without a subtransaction is safe.
	 */
	PG_TRY();
	{
		why = check_tokens(expr);
		if (why == NULL)
			stmts = raw_parser(psprintf("SELECT (%s\n)", expr), RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		why = edata->message;
	}
	PG_END_TRY();

	if (why != NULL)
		refuse(expr, why);
	if (!is_single_expression(stmts))
		refuse(expr, "it is not a single expression");
	PG_RETURN_VOID();
}
