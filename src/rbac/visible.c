/*
 * Record rules for definer code and for company-scoped rules (issue 11.3,
 * 11.1).
 *
 * RowVisible(): SECURITY DEFINER functions run as the pack's owner, which
 * row security does not restrict, so their lookups by id would see rows that
 * the caller's company policies or record rules hide. RowVisible runs
 * "SELECT 1 FROM <table> WHERE id = $1" as the calling role (the client's
 * role, or in a job the role that enqueued it) with row security on, so that
 * exactly the policies that decide the caller's own SELECT decide here. Its
 * plan is kept per table; PostgreSQL's plan cache re-plans it when policies
 * change and when the role differs. A role that bypasses row security
 * (superuser, BYPASSRLS) sees every row by SELECT, and so here too. A role
 * without SELECT on the table sees nothing.
 *
 * erp.company_within(): through the company tree cache (tree.c).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "pgerp/core.h"
#include "pgerp/jobs.h"
#include "pgerp/rbac.h"

typedef struct VisiblePlan
{
	Oid			relid;			/* hash key */
	SPIPlanPtr	plan;
} VisiblePlan;

static HTAB *visible_plans = NULL;

/* The role whose row security applies to the caller of definer code. */
static Oid
calling_role(void)
{
	return CallerRole();
}

static SPIPlanPtr
visible_plan(Oid relid)
{
	VisiblePlan *vp;
	bool		found;

	if (visible_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(VisiblePlan);
		visible_plans = hash_create("pgerp row visibility plans", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	vp = hash_search(visible_plans, &relid, HASH_FIND, &found);
	if (!found)
	{
		char	   *nsp = get_namespace_name(get_rel_namespace(relid));
		char	   *rel = get_rel_name(relid);
		Oid			t = INT8OID;
		SPIPlanPtr	p;

		if (nsp == NULL || rel == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", relid)));
		p = NULL;
		(void) PgerpKeptPlan(&p, psprintf("SELECT 1 FROM %s WHERE id OPERATOR(pg_catalog.=) $1",
										  quote_qualified_identifier(nsp, rel)), 1, &t);
		vp = hash_search(visible_plans, &relid, HASH_ENTER, &found);
		vp->plan = p;
	}
	return vp->plan;
}

/*
 * Does the calling role see the row with this id through its own row
 * security? Errors abort the transaction, which restores the user and the
 * settings, so no PG_TRY is needed.
 */
bool
RowVisible(Oid relid, int64 id)
{
	Oid			role = calling_role();
	Oid			saved_user;
	int			saved_sec;
	int			guc_level;
	Datum		arg = Int64GetDatum(id);
	int			ret;
	bool		visible;

	if (superuser_arg(role) || has_bypassrls_privilege(role))
		return true;
	if (pg_class_aclcheck(relid, role, ACL_SELECT) != ACLCHECK_OK)
		return false;

	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(role, (saved_sec | SECURITY_LOCAL_USERID_CHANGE) & ~SECURITY_NOFORCE_RLS);
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("row_security", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	ret = SPI_execute_plan(visible_plan(relid), &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "row visibility query failed: %s", SPI_result_code_string(ret));
	visible = SPI_processed > 0;
	SPI_finish();
	AtEOXact_GUC(true, guc_level);
	SetUserIdAndSecContext(saved_user, saved_sec);
	return visible;
}

/* erp._row_visible(p_table regclass, p_id bigint): RowVisible, false on NULL. */
PG_FUNCTION_INFO_V1(pgerp_rbac_row_visible);
Datum
pgerp_rbac_row_visible(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(RowVisible(PG_GETARG_OID(0), PG_GETARG_INT64(1)));
}

/*
 * erp.company_within(p_company, p_root): is the company the root or below
 * it? What company-scoped record rules test per row. For a caller who is no
 * superuser and holds no role on p_company the answer is true: the rule then
 * applies (the row is hidden by company security anyway), and the tree of
 * other companies is not revealed.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_company_within);
Datum
pgerp_rbac_company_within(PG_FUNCTION_ARGS)
{
	int64		company = PG_GETARG_INT64(0);
	int64		root = PG_GETARG_INT64(1);

	if (company == root)
		PG_RETURN_BOOL(true);
	if (!CallerIsSuperuser() && !AclCompanyAllowed(company))
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(TreeWithin(company, root));
}
