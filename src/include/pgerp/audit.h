/*
 * pgerp audit trail: the row trigger that appends to erp.audit_log. The hash
 * chain over the log is built by erp.audit_seal() (sql/audit/log.sql).
 */
#ifndef PGERP_AUDIT_H
#define PGERP_AUDIT_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* what the log shows for a bytea column (encrypted values, keys) */
#define AUDIT_REDACTED "[redacted]"

/* buffer.c: queue an entry of the current statement; write the queue; both */
extern void AuditAppend(int64 company_id, const char *rel, const char *op, Jsonb *pk, Jsonb *changes);
extern void AuditFlush(void);
extern void AuditWrite(int64 company_id, const char *rel, const char *op, Jsonb *pk, Jsonb *changes);

/* event.c: an entry written after the fact, with its own user, role and time */
extern void AuditWriteEvent(int64 company_id, int64 user_id, const char *db_role, TimestampTz at,
							const char *rel, const char *op, Jsonb *pk, Jsonb *changes);

#endif
