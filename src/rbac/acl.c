/*
 * The ACL cache: for the acting user, every company they may act in (their
 * grants, spread to descendants when the grant says so) with the roles and
 * permission patterns they hold there.
 *
 * Loaded once, answered from backend memory, dropped when the acting user
 * changes and when any ACL table changes: statement triggers on those tables
 * send a relcache invalidation for their table, which every backend processes
 * at its next transaction or lock, or at its next statement through
 * acl_ensure(); our relcache callback then marks the cache stale.
 *
 * Row-security policies are folded at plan time: a support function replaces
 * erp.permitted_companies('<code>') with the constant array of companies, so
 * the planner estimates with the real list, uses indexes on company_id and
 * hashes long lists, and the executor evaluates nothing but the array test.
 * To keep that exact:
 *   - a plan with folded lists depends on the ACL tables (their OIDs go into
 *     its relationOids), so PostgreSQL's plan cache drops it when they change,
 *     and a change of acting user resets this backend's plan cache;
 *   - the ACL is pinned for one command, so all folds of one plan agree;
 *   - at executor start, a plan with folded lists reads pending
 *     invalidations; if the acting user's rights changed since it was planned
 *     (a prepared statement run in a transaction that had locked everything
 *     before another session's revoke), it fails with 40001 rather than use
 *     stale rights.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "nodes/pathnodes.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "common/hashfn.h"
#include "catalog/pg_operator.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/lsyscache.h"
#include "parser/parse_oper.h"
#include "nodes/supportnodes.h"
#include "utils/inval.h"
#include "utils/plancache.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

typedef struct AclEntry
{
	int64		company_id;
	bool		direct;			/* granted on this company itself */
	int			nroles;
	char	  **roles;
	int			npatterns;
	char	  **patterns;
} AclEntry;

static MemoryContext acl_cxt = NULL;
static AclEntry *acl = NULL;
static int	acl_n = 0;
static bool acl_valid = false;
static int64 acl_user = 0;
static uint64 acl_generation = 0;	/* bumped by every invalidation */
static uint32 acl_hash = 0;			/* of the loaded content */
static int64 acl_version = 1;		/* bumped when the content changes */
static TimestampTz acl_stmt = 0;	/* the command the cache was last checked in */
static CommandId acl_cid = InvalidCommandId;

#define ACL_NRELS 4
static const char *const acl_relnames[ACL_NRELS] = {"user_role", "role", "company", "app_user"};
static Oid	acl_relids[ACL_NRELS];

static SPIPlanPtr acl_plan = NULL;

static const char acl_sql[] =
"WITH RECURSIVE t(company_id, direct, code, permissions, include_children) AS ("
"  SELECT ur.company_id, true, r.code, r.permissions, ur.include_children"
"    FROM erp.user_role ur"
"    JOIN erp.role r ON r.id OPERATOR(pg_catalog.=) ur.role_id"
"    JOIN erp.app_user u ON u.id OPERATOR(pg_catalog.=) ur.user_id AND u.active"
"   WHERE ur.user_id OPERATOR(pg_catalog.=) $1"
"  UNION ALL"
"  SELECT c.id, false, t.code, t.permissions, true"
"    FROM t JOIN erp.company c ON c.parent_id OPERATOR(pg_catalog.=) t.company_id"
"   WHERE t.include_children"
") "
"SELECT t.company_id, t.direct, t.code, t.permissions"
"  FROM t JOIN erp.company c ON c.id OPERATOR(pg_catalog.=) t.company_id AND c.active"
" ORDER BY t.company_id";

static void
acl_stale(void)
{
	acl_valid = false;
	acl_generation++;
}

/* The acting user changed: plans may hold another user's folded lists. */
void
AclInvalidate(void)
{
	acl_stale();
	ResetPlanCache();
}

static void
acl_relcache_callback(Datum arg, Oid relid)
{
	/* plans that folded lists depend on these tables: the plan cache drops them */
	if (!OidIsValid(relid))
	{
		acl_stale();
		return;
	}
	for (int i = 0; i < ACL_NRELS; i++)
		if (acl_relids[i] == relid)
		{
			acl_stale();
			return;
		}
}

static ExecutorStart_hook_type prev_executor_start = NULL;

static void acl_load(int64 user);

static bool
plan_folded_acl(PlannedStmt *stmt)
{
	return OidIsValid(acl_relids[0]) && list_member_oid(stmt->relationOids, acl_relids[0]);
}

/*
 * A cached plan whose folded lists predate a change of rights that this
 * backend had not processed yet (no new lock was taken since) must not run.
 */
static void
acl_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (plan_folded_acl(queryDesc->plannedstmt) && acl_valid)
	{
		uint64		generation = acl_generation;
		int64		version = acl_version;

		AcceptInvalidationMessages();
		if (generation != acl_generation)
		{
			acl_load(SessionUserId());
			if (acl_version != version)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to a concurrent change of access rights"),
						 errdetail("This statement was planned before the acting user's grants changed."),
						 errhint("Retry the statement; it will be planned with the current rights.")));
		}
	}
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

void
AclInit(void)
{
	CacheRegisterRelcacheCallback(acl_relcache_callback, (Datum) 0);
	SessionRegisterChangeCallback(AclInvalidate);
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = acl_executor_start;
}

static char **
append_strings(char **arr, int *n, Datum array_datum)
{
	Datum	   *elems;
	bool	   *nulls;
	int			k;

	deconstruct_array(DatumGetArrayTypeP(array_datum), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &k);
	arr = arr ? repalloc(arr, sizeof(char *) * (*n + k)) : palloc(sizeof(char *) * Max(k, 1));
	for (int i = 0; i < k; i++)
		if (!nulls[i])
			arr[(*n)++] = TextDatumGetCString(elems[i]);
	return arr;
}

/* Read the grants of `user` with a fresh snapshot into a new memory context. */
static void
acl_load(int64 user)
{
	MemoryContext newcxt;
	MemoryContext old;
	AclEntry   *entries = NULL;
	int			n = 0;
	uint64		generation = acl_generation;
	OwnerContext oc;

	/* under the transaction until complete, so an error mid-load leaks nothing */
	newcxt = AllocSetContextCreate(CurTransactionContext, "pgerp ACL", ALLOCSET_SMALL_SIZES);
	for (int i = 0; i < ACL_NRELS; i++)
		acl_relids[i] = ErpRelid(acl_relnames[i], false);
	if (user != 0)
	{
		Datum		arg = Int64GetDatum(user);
		Snapshot	snap;
		int			ret;

		OwnerContextBegin(&oc);
		SPI_connect();
		{
			Oid			t = INT8OID;

			(void) PgerpKeptPlan(&acl_plan, acl_sql, 1, &t);
		}
		/* a grant committed a moment ago must count, even in REPEATABLE READ */
		snap = IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot();
		ret = SPI_execute_snapshot(acl_plan, &arg, NULL, snap, InvalidSnapshot, true, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "ACL query failed: %s", SPI_result_code_string(ret));

		old = MemoryContextSwitchTo(newcxt);
		entries = palloc0(sizeof(AclEntry) * Max(SPI_processed, 1));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			int64		company = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			bool		direct = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
			Datum		code = SPI_getbinval(tup, desc, 3, &isnull);
			Datum		perms = SPI_getbinval(tup, desc, 4, &isnull);
			AclEntry   *e;

			if (n == 0 || entries[n - 1].company_id != company)
			{
				e = &entries[n++];
				e->company_id = company;
			}
			e = &entries[n - 1];
			e->direct |= direct;
			e->roles = e->roles ? repalloc(e->roles, sizeof(char *) * (e->nroles + 1)) : palloc(sizeof(char *));
			e->roles[e->nroles++] = TextDatumGetCString(code);
			if (!isnull)
				e->patterns = append_strings(e->patterns, &e->npatterns, perms);
		}
		MemoryContextSwitchTo(old);
		SPI_finish();
		OwnerContextEnd(&oc);
	}
	MemoryContextSetParent(newcxt, TopMemoryContext);
	if (acl_cxt != NULL)
		MemoryContextDelete(acl_cxt);
	acl_cxt = newcxt;
	acl = entries;
	acl_n = n;
	{
		uint32		h = hash_bytes_uint32((uint32) user) ^ hash_bytes_uint32((uint32) (user >> 32));

		for (int i = 0; i < n; i++)
		{
			h = hash_combine(h, hash_bytes((const unsigned char *) &entries[i].company_id, sizeof(int64)));
			for (int j = 0; j < entries[i].nroles; j++)
				h = hash_combine(h, hash_bytes((const unsigned char *) entries[i].roles[j], strlen(entries[i].roles[j])));
			for (int j = 0; j < entries[i].npatterns; j++)
				h = hash_combine(h, hash_bytes((const unsigned char *) entries[i].patterns[j], strlen(entries[i].patterns[j])));
		}
		if (h != acl_hash || user != acl_user)
		{
			acl_hash = h;
			acl_version++;
		}
	}
	acl_user = user;
	/* an invalidation that arrived while we read leaves the cache stale */
	acl_valid = (generation == acl_generation);
}

/*
 * Once per command, read pending invalidations even when no new lock is taken
 * (inside an open transaction every table may be locked already), so that a
 * grant or revoke committed elsewhere counts from the next statement on; and
 * reload at most once per command, so that one plan sees one ACL.  The check
 * is a cheap unlocked flag test when nothing is pending.  Our own changes
 * advance the command counter and so count at once.
 */
static void
acl_ensure(void)
{
	TimestampTz stmt = GetCurrentStatementStartTimestamp();
	CommandId	cid = GetCurrentCommandId(false);
	int64		user = SessionUserId();

	if (stmt == acl_stmt && cid == acl_cid && acl_user == user)
		return;
	acl_stmt = stmt;
	acl_cid = cid;
	AcceptInvalidationMessages();
	if (!acl_valid || acl_user != user)
		acl_load(user);
}

static AclEntry *
acl_find(int64 company)
{
	int			lo = 0,
				hi = acl_n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (acl[mid].company_id == company)
			return &acl[mid];
		if (acl[mid].company_id < company)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static bool
entry_has(const AclEntry *e, const char *code)
{
	for (int i = 0; i < e->npatterns; i++)
		if (PermissionMatches(e->patterns[i], code))
			return true;
	return false;
}

bool
AclCompanyAllowed(int64 company_id)
{
	acl_ensure();
	return acl_find(company_id) != NULL;
}

bool
AclHasPermission(int64 company_id, const char *code)
{
	AclEntry   *e;

	acl_ensure();
	e = acl_find(company_id);
	return e != NULL && entry_has(e, code);
}

int64
AclDefaultCompany(void)
{
	acl_ensure();
	for (int i = 0; i < acl_n; i++)
		if (acl[i].direct)
			return acl[i].company_id;
	return acl_n > 0 ? acl[0].company_id : 0;
}

static void
no_user_error(const char *code)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: no user is signed in"),
			 errdetail("Permission \"%s\" is required.", PgerpEcho(code)),
			 errhint("Call erp.sign_in() or erp.use_token() first.")));
}

/*
 * Raise 42501 unless the acting user holds `code` on `company_id` (0: the
 * current company).  A superuser with nobody signed in passes: that is how a
 * DBA bootstraps the first companies and users.
 */
void
AclRequire(const char *code, int64 company_id)
{
	if (SessionUserId() == 0)
	{
		if (CallerIsSuperuser())
			return;
		no_user_error(code);
	}
	if (company_id == 0)
		company_id = SessionCompanyId();
	if (company_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: no company is selected"),
				 errdetail("Permission \"%s\" is required.", PgerpEcho(code)),
				 errhint("Call erp.switch_company() first.")));
	if (!AclHasPermission(company_id, code))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for \"%s\"", PgerpEcho(code)),
				 errdetail("Permission \"%s\" is required on company %lld.", PgerpEcho(code), (long long) company_id)));
}

static char *
code_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *code;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("permission code must not be null")));
	code = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (!PermissionIsValid(code))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid permission code \"%s\"", PgerpEcho(code)),
				 errdetail("A permission code is <schema>.<table>:<action>, for example stock.move:read.")));
	return code;
}

static ArrayType *
int8_array(int64 *vals, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(vals[i]);
	return construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

PG_FUNCTION_INFO_V1(pgerp_rbac_allowed_company_ids);
Datum
pgerp_rbac_allowed_company_ids(PG_FUNCTION_ARGS)
{
	int64	   *ids;

	acl_ensure();
	ids = palloc(sizeof(int64) * Max(acl_n, 1));
	for (int i = 0; i < acl_n; i++)
		ids[i] = acl[i].company_id;
	PG_RETURN_ARRAYTYPE_P(int8_array(ids, acl_n));
}

PG_FUNCTION_INFO_V1(pgerp_rbac_has_permission);
Datum
pgerp_rbac_has_permission(PG_FUNCTION_ARGS)
{
	char	   *code = code_arg(fcinfo, 0);
	int64		company = SessionCompanyId();

	if (SessionUserId() == 0 || company == 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(AclHasPermission(company, code));
}

static ArrayType *permitted_array(const char *code);
static ArrayType *role_array(ArrayType *roles);

PG_FUNCTION_INFO_V1(pgerp_rbac_permitted_companies);
Datum
pgerp_rbac_permitted_companies(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(permitted_array(code_arg(fcinfo, 0)));
}

PG_FUNCTION_INFO_V1(pgerp_rbac_role_companies);
Datum
pgerp_rbac_role_companies(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role codes must not be null")));
	PG_RETURN_ARRAYTYPE_P(role_array(PG_GETARG_ARRAYTYPE_P(0)));
}

PG_FUNCTION_INFO_V1(pgerp_rbac_require);
Datum
pgerp_rbac_require(PG_FUNCTION_ARGS)
{
	char	   *code = code_arg(fcinfo, 0);

	AclRequire(code, PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1));
	PG_RETURN_VOID();
}

/*
 * erp.permission_covers(p_company, p_patterns): does the acting user hold, on
 * that company, everything the given role patterns grant?  A grant may not
 * hand out more than the granter has.  A pattern is covered when one of the
 * granter's patterns matches its text, '*' included.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_covers);
Datum
pgerp_rbac_covers(PG_FUNCTION_ARGS)
{
	int64		company = PG_GETARG_INT64(0);
	Datum	   *elems;
	bool	   *nulls;
	int			k;
	AclEntry   *e;

	if (SessionUserId() == 0)
		PG_RETURN_BOOL(CallerIsSuperuser());
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &k);
	acl_ensure();
	e = acl_find(company);
	for (int j = 0; j < k; j++)
		if (!nulls[j] && (e == NULL || !entry_has(e, TextDatumGetCString(elems[j]))))
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/* Companies (ascending) where the acting user holds `code`. */
static int64 *
permitted_ids(const char *code, int *n)
{
	int64	   *ids;

	acl_ensure();
	ids = palloc(sizeof(int64) * Max(acl_n, 1));
	*n = 0;
	for (int i = 0; i < acl_n; i++)
		if (entry_has(&acl[i], code))
			ids[(*n)++] = acl[i].company_id;
	return ids;
}

static ArrayType *
permitted_array(const char *code)
{
	int			n;
	int64	   *ids = permitted_ids(code, &n);

	return int8_array(ids, n);
}

/* A plan that folds the acting user's rights depends on the ACL tables. */
static void
record_acl_dependency(PlannerInfo *root)
{
	for (int i = 0; i < ACL_NRELS; i++)
		if (OidIsValid(acl_relids[i]))
			root->glob->relationOids = list_append_unique_oid(root->glob->relationOids, acl_relids[i]);
}

static Const *
array_const(ArrayType *arr)
{
	return makeConst(INT8ARRAYOID, -1, InvalidOid, -1, PointerGetDatum(arr), false, false);
}

/*
 * The request if it is a SupportRequestSimplify, made by the planner, of a
 * call whose argument `argno` is a non-null constant; else NULL.
 */
static SupportRequestSimplify *
foldable(Node *rawreq, int argno, Const **arg)
{
	SupportRequestSimplify *req;
	Node	   *a;

	if (!IsA(rawreq, SupportRequestSimplify))
		return NULL;
	req = (SupportRequestSimplify *) rawreq;
	a = list_nth(req->fcall->args, argno);
	if (req->root == NULL || !IsA(a, Const) || ((Const *) a)->constisnull)
		return NULL;
	*arg = (Const *) a;
	return req;
}

/* The constant permission code of a foldable call, or NULL (left to run time). */
static SupportRequestSimplify *
foldable_code(Node *rawreq, int argno, char **code)
{
	Const	   *arg;
	SupportRequestSimplify *req = foldable(rawreq, argno, &arg);

	if (req == NULL)
		return NULL;
	*code = TextDatumGetCString(arg->constvalue);
	/* an invalid code is left for the run-time call to refuse */
	return PermissionIsValid(*code) ? req : NULL;
}

/* Plan-time folding of erp.permitted_companies('<constant code>'). */
PG_FUNCTION_INFO_V1(pgerp_rbac_permitted_companies_support);
Datum
pgerp_rbac_permitted_companies_support(PG_FUNCTION_ARGS)
{
	char	   *code;
	SupportRequestSimplify *req = foldable_code((Node *) PG_GETARG_POINTER(0), 0, &code);

	if (req == NULL)
		PG_RETURN_POINTER(NULL);
	record_acl_dependency(req->root);
	PG_RETURN_POINTER(array_const(permitted_array(code)));
}

/* int8 operator by name, from pg_catalog */
static Oid
int8_operator(const char *name)
{
	return LookupOperName(NULL, list_make2(makeString("pg_catalog"), makeString(pstrdup(name))),
						  INT8OID, INT8OID, false, -1);
}

static Expr *
int8_opclause(const char *name, Expr *left, int64 value)
{
	OpExpr	   *op = (OpExpr *) make_opclause(int8_operator(name), BOOLOID, false, left,
											  (Expr *) makeConst(INT8OID, -1, InvalidOid, sizeof(int64),
																 Int64GetDatum(value), false, FLOAT8PASSBYVAL),
											  InvalidOid, InvalidOid);

	set_opfuncid(op);
	return (Expr *) op;
}

/*
 * erp.company_allowed(company_id, '<code>') folded for the planner into the
 * cheapest exact test: false for no company, "= c" for one, a range for ids
 * that are consecutive but for at most MAX_RANGE_GAPS holes (a group
 * administrator's usual case; each hole adds one "<>"), else
 * "= ANY (constant array)", which PostgreSQL hashes from 9 elements on.
 */
#define MAX_RANGE_GAPS 3

static Node *
company_test(Expr *company, const char *code)
{
	int			n;
	int64	   *ids = permitted_ids(code, &n);
	ScalarArrayOpExpr *saop;

	if (n == 0)
		return makeBoolConst(false, false);
	if (n == 1)
		return (Node *) int8_opclause("=", company, ids[0]);
	if (ids[n - 1] - ids[0] - (n - 1) <= MAX_RANGE_GAPS)
	{
		/* lo <= c <= hi, minus the few ids in between that are not allowed */
		List	   *tests = list_make2(int8_opclause(">=", company, ids[0]),
									   int8_opclause("<=", copyObject(company), ids[n - 1]));

		for (int i = 1; i < n; i++)
			for (int64 gap = ids[i - 1] + 1; gap < ids[i]; gap++)
				tests = lappend(tests, int8_opclause("<>", copyObject(company), gap));
		return (Node *) make_andclause(tests);
	}
	saop = makeNode(ScalarArrayOpExpr);
	saop->opno = int8_operator("=");
	saop->useOr = true;
	saop->inputcollid = InvalidOid;
	saop->args = list_make2(company, array_const(int8_array(ids, n)));
	set_sa_opfuncid(saop);
	saop->location = -1;
	return (Node *) saop;
}

PG_FUNCTION_INFO_V1(pgerp_rbac_company_allowed_support);
Datum
pgerp_rbac_company_allowed_support(PG_FUNCTION_ARGS)
{
	char	   *code;
	SupportRequestSimplify *req = foldable_code((Node *) PG_GETARG_POINTER(0), 1, &code);

	if (req == NULL)
		PG_RETURN_POINTER(NULL);
	record_acl_dependency(req->root);
	PG_RETURN_POINTER(company_test(copyObject(linitial(req->fcall->args)), code));
}

/* Run-time form, used only where the planner did not fold the call. */
PG_FUNCTION_INFO_V1(pgerp_rbac_company_allowed);
Datum
pgerp_rbac_company_allowed(PG_FUNCTION_ARGS)
{
	char	   *code = code_arg(fcinfo, 1);

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	acl_ensure();
	PG_RETURN_BOOL(AclHasPermission(PG_GETARG_INT64(0), code));
}

static ArrayType *
role_array(ArrayType *roles)
{
	Datum	   *elems;
	bool	   *nulls;
	int			k;
	int64	   *ids;
	int			n = 0;

	deconstruct_array(roles, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &k);
	acl_ensure();
	ids = palloc(sizeof(int64) * Max(acl_n, 1));
	for (int i = 0; i < acl_n; i++)
	{
		bool		held = false;

		for (int r = 0; r < acl[i].nroles && !held; r++)
			for (int j = 0; j < k && !held; j++)
				if (!nulls[j])
				{
					text	   *t = DatumGetTextPP(elems[j]);

					held = strlen(acl[i].roles[r]) == VARSIZE_ANY_EXHDR(t) &&
						memcmp(acl[i].roles[r], VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) == 0;
				}
		if (held)
			ids[n++] = acl[i].company_id;
	}
	return int8_array(ids, n);
}

/* Plan-time folding of erp.role_companies('<constant roles>'). */
PG_FUNCTION_INFO_V1(pgerp_rbac_role_companies_support);
Datum
pgerp_rbac_role_companies_support(PG_FUNCTION_ARGS)
{
	Const	   *arg;
	SupportRequestSimplify *req = foldable((Node *) PG_GETARG_POINTER(0), 0, &arg);

	if (req == NULL)
		PG_RETURN_POINTER(NULL);
	record_acl_dependency(req->root);
	PG_RETURN_POINTER(array_const(role_array(DatumGetArrayTypeP(arg->constvalue))));
}

/*
 * Statement trigger on the ACL tables (and erp.crypto_key): tell every
 * backend, through a relcache invalidation of the table, that its caches of
 * that table are stale.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_acl_changed);
Datum
pgerp_rbac_acl_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("erp._acl_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
