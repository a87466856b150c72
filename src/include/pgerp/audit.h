/*
 * pgerp audit trail: the row trigger that appends to erp.audit_log. The hash
 * chain over the log is built by erp.audit_seal() (sql/audit/log.sql).
 */
#ifndef PGERP_AUDIT_H
#define PGERP_AUDIT_H

#include "postgres.h"

#include "utils/jsonb.h"

/* what the log shows for a bytea column (encrypted values, keys) */
#define AUDIT_REDACTED "[redacted]"

extern void AuditWrite(int64 company_id, const char *rel, const char *op, Jsonb *pk, Jsonb *changes);

#endif
