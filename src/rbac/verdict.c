/*
 * Does a user's grant list give a right on a company?  Pure: the company
 * tree is reached through a lookup callback, so this is unit-testable and
 * the caller decides how parents are cached.
 *
 * A grant on company S gives its role's patterns on S, and with
 * include_children on every company below S.  Only the company itself must
 * be active: an inactive parent still passes rights down (as 0.1.0 did).
 */
#include "postgres.h"

#include "pgerp/rbac.h"

/* First grant index with company_id >= company (grants are sorted). */
static int
lower_bound(const AclGrant *grants, int n, int64 company)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (grants[mid].company_id < company)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does one grant satisfy the matcher? */
bool
AclGrantMatches(const AclGrant *g, const AclMatcher *m)
{
	switch (m->kind)
	{
		case ACL_MATCH_ANY:
			return true;
		case ACL_MATCH_CODE:
			for (int i = 0; i < g->npatterns; i++)
				if (PermissionMatches(g->patterns[i], m->code))
					return true;
			return false;
		case ACL_MATCH_ROLES:
			for (int i = 0; i < m->nroles; i++)
				if (strcmp(g->role, m->roles[i]) == 0)
					return true;
			return false;
	}
	return false;
}

/* Is there a grant on `node` that applies at distance `self` (node is the company) or below? */
static bool
node_grants(const AclGrant *grants, int n, int64 node, bool self, const AclMatcher *m)
{
	for (int i = lower_bound(grants, n, node); i < n && grants[i].company_id == node; i++)
		if ((self || grants[i].subtree) && AclGrantMatches(&grants[i], m))
			return true;
	return false;
}

AclVerdict
AclDecide(const AclGrant *grants, int n, const AclMatcher *m, int64 company,
		  AclParentLookup lookup, void *arg)
{
	int64		node = company;
	int64		parent;
	bool		active;

	if (n == 0)
		return ACL_DENIED;
	if (!lookup(arg, company, &parent, &active))
		return ACL_UNKNOWN_COMPANY;
	if (!active)
		return ACL_DENIED;
	for (int depth = 0; depth < ACL_MAX_TREE_DEPTH; depth++)
	{
		if (node_grants(grants, n, node, depth == 0, m))
			return ACL_ALLOWED;
		if (parent == 0)
			return ACL_DENIED;
		node = parent;
		if (!lookup(arg, node, &parent, &active))
			return ACL_DENIED;	/* a parent deleted a moment ago */
	}
	return ACL_TOO_DEEP;
}
