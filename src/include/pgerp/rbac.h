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

/* acl.c */
extern void AclInit(void);
extern void AclInvalidate(void);
extern bool AclCompanyAllowed(int64 company_id);
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
typedef struct CompanyNode CompanyNode;
extern bool CompanyWithin(const CompanyNode *nodes, int n, int64 company, int64 root);

#endif
