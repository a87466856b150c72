/*
 * Who the caller is.  Every layer asks here (rbac's bootstrap rule, row
 * visibility for definer code, the audit trail's db_role, the job queue's
 * run_as), so the answers cannot disagree after SET ROLE or inside a job.
 *
 * The caller is the role outside any SECURITY DEFINER function: the session
 * user, or the role set by SET ROLE (GetOuterUserId()), exactly the role
 * PostgreSQL checks privileges for outside definer code.  A higher layer may
 * register a hook that names another role: the job worker names the role
 * that enqueued the running job, so a job acts for its enqueuer.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "pgerp/core.h"

static CallerRoleHook role_hook = NULL;

void
CallerRegisterRoleHook(CallerRoleHook hook)
{
	Assert(role_hook == NULL || role_hook == hook);
	role_hook = hook;
}

Oid
CallerRole(void)
{
	Oid			role = role_hook ? role_hook() : InvalidOid;

	return OidIsValid(role) ? role : GetOuterUserId();
}

/*
 * Bootstrap rule: a superuser caller with no pgerp user signed in may
 * administer the pack (the owner of a SECURITY DEFINER function does not
 * count: only the caller does).
 */
bool
CallerIsSuperuser(void)
{
	return superuser_arg(CallerRole());
}
