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

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/gramparse.h"
#include "parser/parse_clause.h"
#include "parser/parse_collate.h"
#include "parser/parse_func.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

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

/* ------------------------------------------------------------------------
 * 0.2.0: the expression is analysed against its table (issue 11.1).
 *
 * The text is parsed and analysed as a policy over the target relation, then
 * the analysed tree is walked: only the relation's own columns, constants,
 * boolean logic, CASE/COALESCE/NULLIF/IS NULL, built-in operators and casts
 * whose implementation is a built-in immutable internal function, the named
 * functions of rule_function_names (immutable variants only) and the three
 * erp identity functions are allowed. Anything else is refused with 22023.
 * The decision per function is pure (RuleFunctionVerdict); every refusal is
 * reported by refuse_rule(), the one place that raises.
 * ------------------------------------------------------------------------ */

/* Built-in functions a rule may call by name (docs/security.md). */
static const char *const rule_function_names[] = {
	"abs", "array_length", "array_lower", "array_position", "array_upper",
	"btrim", "cardinality", "ceil", "ceiling", "char_length",
	"character_length", "date_part", "date_trunc", "div", "floor", "initcap",
	"left", "length", "lower", "ltrim", "mod", "num_nonnulls", "num_nulls",
	"octet_length", "replace", "right", "round", "rtrim", "sign",
	"split_part", "starts_with", "strpos", "substr", "substring", "trunc",
	"upper",
};

/* Is a function name on the allow-list? */
bool
RuleFunctionNameAllowed(const char *name)
{
	for (size_t i = 0; i < lengthof(rule_function_names); i++)
		if (strcmp(rule_function_names[i], name) == 0)
			return true;
	return false;
}

/*
 * The decision for one function from its catalogue facts: built into
 * pg_catalog, written in C inside the server (no SQL body to inline or
 * re-resolve), immutable, not a set, and for a call by name on the list.
 */
RuleVerdict
RuleFunctionVerdict(const RuleFuncFacts *f, bool by_name)
{
	if (!f->builtin || !f->internal)
		return RULE_NOT_BUILTIN;
	if (f->volatility != PROVOLATILE_IMMUTABLE)
		return RULE_NOT_IMMUTABLE;
	if (f->retset)
		return RULE_SET_RETURNING;
	if (by_name && !RuleFunctionNameAllowed(f->name))
		return RULE_NOT_LISTED;
	return RULE_OK;
}

typedef struct RuleWalk
{
	Oid			erp_functions[3];
	RuleVerdict verdict;
	Oid			culprit;		/* function, operator or type */
	const char *what;			/* the kind of node refused */
} RuleWalk;

static RuleVerdict
function_verdict(RuleWalk *w, Oid fn, bool by_name)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	RuleFuncFacts f;
	RuleVerdict v;

	for (size_t i = 0; i < lengthof(w->erp_functions); i++)
		if (OidIsValid(w->erp_functions[i]) && w->erp_functions[i] == fn)
			return RULE_OK;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		return RULE_NOT_BUILTIN;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	f.builtin = fn < FirstNormalObjectId && proc->pronamespace == PG_CATALOG_NAMESPACE;
	f.internal = proc->prolang == INTERNALlanguageId;
	f.volatility = proc->provolatile;
	f.retset = proc->proretset;
	f.name = NameStr(proc->proname);
	v = RuleFunctionVerdict(&f, by_name);
	ReleaseSysCache(tup);
	return v;
}

static bool
refuse_node(RuleWalk *w, RuleVerdict v, Oid culprit, const char *what)
{
	w->verdict = v;
	w->culprit = culprit;
	w->what = what;
	return true;				/* stops the walk */
}

static bool
operator_refused(RuleWalk *w, Oid opno, Oid opfuncid)
{
	RuleVerdict v = opno < FirstNormalObjectId ? function_verdict(w, opfuncid, false) : RULE_NOT_BUILTIN;

	return v != RULE_OK && refuse_node(w, v, opno, "operator");
}

/* A cast through text: both types' I/O functions must be allowed. */
static bool
io_cast_refused(RuleWalk *w, CoerceViaIO *c)
{
	Oid			src = exprType((Node *) c->arg);
	Oid			out;
	Oid			in;
	Oid			ioparam;
	bool		varlena;
	RuleVerdict v;

	if (src >= FirstNormalObjectId || c->resulttype >= FirstNormalObjectId)
		return refuse_node(w, RULE_NOT_BUILTIN, c->resulttype, "cast");
	getTypeOutputInfo(src, &out, &varlena);
	getTypeInputInfo(c->resulttype, &in, &ioparam);
	v = function_verdict(w, out, false);
	if (v == RULE_OK)
		v = function_verdict(w, in, false);
	return v != RULE_OK && refuse_node(w, v, c->resulttype, "cast");
}

static bool
type_is_temporary(Oid type)
{
	HeapTuple	tup;
	bool		temp;

	if (type < FirstNormalObjectId)
		return false;
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tup))
		return true;
	temp = isAnyTempNamespace(((Form_pg_type) GETSTRUCT(tup))->typnamespace);
	ReleaseSysCache(tup);
	return temp;
}

static bool
rule_walker(Node *node, RuleWalk *w)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Var:
			{
				Var		   *var = (Var *) node;

				if (var->varno != 1 || var->varlevelsup != 0 || var->varattno <= 0)
					return refuse_node(w, RULE_NOT_COLUMN, InvalidOid, "column reference");
				break;
			}
		case T_Const:
			/* a temporary type would break every later rebuild of the table's policies */
			if (type_is_temporary(((Const *) node)->consttype))
				return refuse_node(w, RULE_NOT_BUILTIN, ((Const *) node)->consttype, "constant of type");
			return false;
		case T_CaseTestExpr:
			return false;
		case T_FuncExpr:
			{
				FuncExpr   *f = (FuncExpr *) node;
				RuleVerdict v = function_verdict(w, f->funcid, f->funcformat == COERCE_EXPLICIT_CALL);

				if (v != RULE_OK)
					return refuse_node(w, v, f->funcid, "function");
				break;
			}
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			set_opfuncid((OpExpr *) node);
			if (operator_refused(w, ((OpExpr *) node)->opno, ((OpExpr *) node)->opfuncid))
				return true;
			break;
		case T_ScalarArrayOpExpr:
			set_sa_opfuncid((ScalarArrayOpExpr *) node);
			if (operator_refused(w, ((ScalarArrayOpExpr *) node)->opno, ((ScalarArrayOpExpr *) node)->opfuncid))
				return true;
			break;
		case T_CoerceViaIO:
			if (io_cast_refused(w, (CoerceViaIO *) node))
				return true;
			break;
		case T_MinMaxExpr:
			if (((MinMaxExpr *) node)->minmaxtype >= FirstNormalObjectId)
				return refuse_node(w, RULE_NOT_BUILTIN, ((MinMaxExpr *) node)->minmaxtype, "GREATEST/LEAST");
			break;
		case T_ArrayCoerceExpr:
			if (((ArrayCoerceExpr *) node)->resulttype >= FirstNormalObjectId)
				return refuse_node(w, RULE_NOT_BUILTIN, ((ArrayCoerceExpr *) node)->resulttype, "cast");
			break;
		case T_RelabelType:
			if (((RelabelType *) node)->resulttype >= FirstNormalObjectId)
				return refuse_node(w, RULE_NOT_BUILTIN, ((RelabelType *) node)->resulttype, "cast");
			break;
		case T_BoolExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_CaseExpr:
		case T_CaseWhen:
		case T_CoalesceExpr:
		case T_ArrayExpr:
		case T_List:
			break;
		case T_SubLink:
			return refuse_node(w, RULE_SUBQUERY, InvalidOid, "subquery");
		case T_Param:
			return refuse_node(w, RULE_FORBIDDEN_NODE, InvalidOid, "parameter");
		case T_CollateExpr:
			return refuse_node(w, RULE_FORBIDDEN_NODE, InvalidOid, "COLLATE clause");
		case T_CoerceToDomain:
			return refuse_node(w, RULE_FORBIDDEN_NODE, InvalidOid, "cast to a domain");
		case T_SQLValueFunction:
			return refuse_node(w, RULE_NOT_IMMUTABLE, InvalidOid, "CURRENT_DATE, CURRENT_USER or similar value");
		default:
			return refuse_node(w, RULE_FORBIDDEN_NODE, InvalidOid, "construct");
	}
	return expression_tree_walker(node, rule_walker, (void *) w);
}

static Oid
erp_function(const char *name)
{
	return LookupFuncName(list_make2(makeString("erp"), makeString(pstrdup(name))), 0, NULL, true);
}

/* Walk an analysed expression; RULE_OK or the first refusal in *w. */
static void
walk_rule(Node *expr, RuleWalk *w)
{
	memset(w, 0, sizeof(*w));
	w->erp_functions[0] = erp_function("current_user_id");
	w->erp_functions[1] = erp_function("current_company_id");
	w->erp_functions[2] = erp_function("allowed_company_ids");
	w->verdict = RULE_OK;
	(void) rule_walker(expr, w);
}

/* The one place that turns a refusal into an error. */
static void
refuse_rule(const char *expr, RuleVerdict v, const RuleWalk *w, const char *message)
{
	const char *why;
	char	   *culprit = NULL;

	if (w != NULL && OidIsValid(w->culprit))
	{
		if (strcmp(w->what, "function") == 0)
			culprit = format_procedure(w->culprit);
		else if (strcmp(w->what, "operator") == 0)
			culprit = format_operator(w->culprit);
		else
			culprit = format_type_be(w->culprit);
	}
	switch (v)
	{
		case RULE_NOT_BUILTIN:
			why = "it is not built into PostgreSQL";
			break;
		case RULE_NOT_IMMUTABLE:
			why = "it is not immutable";
			break;
		case RULE_SET_RETURNING:
			why = "it returns a set";
			break;
		case RULE_NOT_LISTED:
			why = "it is not on the allow-list of record-rule functions";
			break;
		case RULE_NOT_COLUMN:
			why = "only columns of the rule's own table may be used";
			break;
		case RULE_SUBQUERY:
			why = "subqueries are not allowed";
			break;
		case RULE_FORBIDDEN_NODE:
			why = "it is not allowed in a record rule";
			break;
		case RULE_INVALID:
		default:
			why = message;
			break;
	}
	if (v == RULE_INVALID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid record rule expression %s", PgerpEcho(expr)),
				 errdetail("%s", PgerpEcho(why)),
				 errhint("A rule is one boolean expression over the columns of its table.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("record rule expression %s is not allowed", PgerpEcho(expr)),
			 culprit ? errdetail("The %s %s is refused: %s.", w->what, PgerpEcho(culprit), why)
			 : errdetail("A %s is refused: %s.", w ? w->what : "construct", why),
			 errhint("Use the table's columns, constants, operators, the functions listed in docs/security.md, "
					 "erp.current_user_id(), erp.current_company_id() and erp.allowed_company_ids().")));
}

/* Parse and analyse the raw expression as a policy over the relation. */
static Node *
analyze_rule(Oid relid, Node *raw, const char *source)
{
	ParseState *pstate = make_parsestate(NULL);
	Relation	rel = table_open(relid, AccessShareLock);
	ParseNamespaceItem *nsitem;
	Node	   *expr;

	pstate->p_sourcetext = source;
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, NULL, false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	expr = transformWhereClause(pstate, raw, EXPR_KIND_POLICY, "POLICY");
	assign_expr_collations(pstate, expr);
	/* constant parts are folded when a query is planned: their errors show now */
	(void) eval_const_expressions(NULL, copyObject(expr));
	table_close(rel, NoLock);
	free_parsestate(pstate);
	return expr;
}

/*
 * Analysis may fail anywhere (unknown column or function, wrong type); it
 * runs in a subtransaction so that its locks and resources are released, and
 * its error becomes the 22023 refusal. Cancels and resource errors pass.
 */
static Node *
analyze_or_refuse(Oid relid, Node *raw, const char *source, const char *expr)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Node	   *volatile result = NULL;
	char	   *volatile message = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		result = analyze_rule(relid, raw, source);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			klass;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		klass = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (klass != ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION &&
			klass != ERRCODE_DATA_EXCEPTION && klass != ERRCODE_FEATURE_NOT_SUPPORTED)
			ReThrowError(edata);
		message = edata->message;
	}
	PG_END_TRY();
	if (message != NULL)
		refuse_rule(expr, RULE_INVALID, NULL, message);
	return result;
}

PG_FUNCTION_INFO_V1(pgerp_rbac_check_rule_expression_0_2);
Datum
pgerp_rbac_check_rule_expression_0_2(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *expr;
	char	   *source;
	const char *volatile why = NULL;
	List	   *volatile stmts = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	Node	   *raw;
	Node	   *analysed;
	RuleWalk	w;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rule expression must not be null")));
	relid = PG_GETARG_OID(0);
	expr = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (expr[strspn(expr, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule expression must not be empty")));
	source = psprintf("SELECT (%s\n)", expr);

	/* the scanner and the raw parser only allocate memory (see above) */
	PG_TRY();
	{
		why = check_tokens(expr);
		if (why == NULL)
			stmts = raw_parser(source, RAW_PARSE_DEFAULT);
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
		refuse_rule(expr, RULE_INVALID, NULL, why);
	if (!is_single_expression(stmts))
		refuse_rule(expr, RULE_INVALID, NULL, "it is not a single expression");

	raw = linitial_node(ResTarget, ((SelectStmt *) linitial_node(RawStmt, stmts)->stmt)->targetList)->val;
	analysed = analyze_or_refuse(relid, raw, source, expr);
	walk_rule(analysed, &w);
	if (w.verdict != RULE_OK)
		refuse_rule(expr, w.verdict, &w, NULL);
	PG_RETURN_VOID();
}

/* erp._caller_is_superuser(): the client role (not a definer) is a superuser. */
PG_FUNCTION_INFO_V1(pgerp_rbac_caller_is_superuser);
Datum
pgerp_rbac_caller_is_superuser(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CallerIsSuperuser());
}
