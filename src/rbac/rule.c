/*
 * Record-rule expressions become row-security policies built by a SECURITY
 * DEFINER function, so the text must be one SQL expression and nothing else:
 * no second statement, no clause that would close the USING (...) early.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pgerp_rbac_check_rule_expression);
Datum
pgerp_rbac_check_rule_expression(PG_FUNCTION_ARGS)
{
	char	   *expr;
	List	   *stmts;
	SelectStmt *sel = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rule expression must not be null")));
	expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (expr[strspn(expr, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule expression must not be empty")));

	stmts = raw_parser(psprintf("SELECT (%s\n)", expr), RAW_PARSE_DEFAULT);
	if (list_length(stmts) == 1 && IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
		sel = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
	if (sel == NULL || sel->op != SETOP_NONE || list_length(sel->targetList) != 1 ||
		sel->fromClause != NIL || sel->whereClause != NULL || sel->groupClause != NIL ||
		sel->havingClause != NULL || sel->windowClause != NIL || sel->valuesLists != NIL ||
		sel->sortClause != NIL || sel->limitOffset != NULL || sel->limitCount != NULL ||
		sel->lockingClause != NIL || sel->withClause != NULL || sel->intoClause != NULL ||
		sel->distinctClause != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule expression must be a single SQL expression"),
				 errdetail("The text \"%s\" is not one boolean expression.", expr)));
	PG_RETURN_VOID();
}
