/*
 * pgerp RBAC: permission codes, the per-backend ACL cache of the acting user
 * and its invalidation.
 */
#ifndef PGERP_RBAC_H
#define PGERP_RBAC_H

#include "postgres.h"

/* permission.c: pure functions */
extern bool PermissionMatches(const char *pattern, const char *code);
extern bool PermissionIsValid(const char *code);
extern bool PermissionIsValidPattern(const char *pattern);

/* verdict.c: pure decision of a right on a company from a user's grants */
typedef struct AclGrant
{
	int64		company_id;
	bool		subtree;		/* include_children */
	const char *role;
	int			npatterns;
	char	  **patterns;
} AclGrant;

typedef enum AclMatchKind
{
	ACL_MATCH_ANY,				/* any role at all */
	ACL_MATCH_CODE,				/* a permission code */
	ACL_MATCH_ROLES				/* any of these role codes */
} AclMatchKind;

typedef struct AclMatcher
{
	AclMatchKind kind;
	const char *code;
	int			nroles;
	char	  **roles;
} AclMatcher;

typedef enum AclVerdict
{
	ACL_ALLOWED,
	ACL_DENIED,
	ACL_UNKNOWN_COMPANY,		/* no such company (not cached) */
	ACL_TOO_DEEP				/* more than ACL_MAX_TREE_DEPTH levels */
} AclVerdict;

#define ACL_MAX_TREE_DEPTH 1000

/* parent 0 for a root; false when the company does not exist */
typedef bool (*AclParentLookup) (void *arg, int64 company, int64 *parent, bool *active);
extern bool AclGrantMatches(const AclGrant *g, const AclMatcher *m);
extern AclVerdict AclDecide(const AclGrant *grants, int n, const AclMatcher *m, int64 company,
							AclParentLookup lookup, void *arg);

/* tree.c: the company tree, cached per backend one company at a time */
extern int	pgerp_company_cache_size;
extern bool TreeLookup(void *arg, int64 company, int64 *parent, bool *active);
extern void TreeFlush(void);
extern bool TreeWithin(int64 company, int64 root);

/* acl.c */
extern void AclInit(void);
extern void AclCommand(void);	/* read invalidations once per command (tree and ACL caches) */
extern bool AclCompanyAllowed(int64 company_id);
extern bool AclUserState(int64 user_id, int64 *token_generation);	/* false: unknown or disabled */
extern bool AclHasPermission(int64 company_id, const char *code);
extern int64 AclDefaultCompany(void);
extern void AclRequire(const char *code, int64 company_id);

/* rule.c: what a record-rule expression may call (pure decision) */
typedef enum RuleVerdict
{
	RULE_OK = 0,
	RULE_INVALID,				/* does not parse or analyse */
	RULE_NOT_BUILTIN,			/* user-defined function, operator or type */
	RULE_NOT_IMMUTABLE,
	RULE_SET_RETURNING,
	RULE_NOT_LISTED,			/* built-in, but not on the allow-list */
	RULE_NOT_COLUMN,			/* system column, whole row or outer reference */
	RULE_SUBQUERY,
	RULE_FORBIDDEN_NODE			/* parameter, COLLATE, anything else */
} RuleVerdict;

typedef struct RuleFuncFacts
{
	bool		builtin;		/* initdb's, in pg_catalog */
	bool		internal;		/* LANGUAGE internal */
	char		volatility;		/* provolatile */
	bool		retset;
	const char *name;
} RuleFuncFacts;

extern bool RuleFunctionNameAllowed(const char *name);
extern RuleVerdict RuleFunctionVerdict(const RuleFuncFacts *f, bool by_name);

/* visible.c: row security of the calling role, for definer code */
extern bool RowVisible(Oid relid, int64 id);

#endif
