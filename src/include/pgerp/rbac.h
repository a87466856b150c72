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

#endif
