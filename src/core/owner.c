/*
 * Catalogue work done on behalf of the caller: the ACL tables and the token
 * secret are readable only by the extension owner, so the C code that reads
 * them switches to that owner for the duration of the read, with a search_path
 * the caller cannot plant objects in.  Transaction and subtransaction abort
 * restore both the user and the settings, so no PG_TRY is needed.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "pgerp/core.h"

Oid
ErpRelid(const char *relname, bool missing_ok)
{
	Oid			nsp = get_namespace_oid("erp", missing_ok);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(rel) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation erp.%s does not exist", relname),
				 errhint("Run CREATE EXTENSION pgerp in this database.")));
	return rel;
}

/* The owner of erp.app_user is the owner of the whole pack. */
Oid
ErpOwner(void)
{
	Oid			rel = ErpRelid("app_user", false);
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", rel);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

void
OwnerContextBegin(OwnerContext *ctx)
{
	Oid			owner = ErpOwner();

	GetUserIdAndSecContext(&ctx->saved_user, &ctx->saved_sec);
	SetUserIdAndSecContext(owner, ctx->saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	ctx->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
OwnerContextEnd(OwnerContext *ctx)
{
	AtEOXact_GUC(true, ctx->guc_level);
	SetUserIdAndSecContext(ctx->saved_user, ctx->saved_sec);
}
