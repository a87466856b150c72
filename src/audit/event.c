/*
 * Audit entries of events that are not row changes and that are written
 * after the fact: sign-ins queued in shared memory (src/auth/events.c) are
 * written by a later transaction, with the user, database role and time of
 * the sign-in rather than those of the writer.  The entries go into
 * erp.audit_log like the trigger's, so erp.audit_seal() chains them.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "pgerp/audit.h"
#include "pgerp/core.h"

static SPIPlanPtr event_plan = NULL;

/* Append one entry as the owner of the pack; user_id and company_id 0 are NULL. */
void
AuditWriteEvent(int64 company_id, int64 user_id, const char *db_role, TimestampTz at,
				const char *rel, const char *op, Jsonb *pk, Jsonb *changes)
{
	Datum		v[9];
	char		n[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			t[9] = {INT8OID, INT8OID, TEXTOID, XID8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID};
	Oid			saved_user;
	int			saved_sec;

	v[0] = Int64GetDatum(company_id);
	n[0] = company_id == 0 ? 'n' : ' ';
	v[1] = Int64GetDatum(user_id);
	n[1] = user_id == 0 ? 'n' : ' ';
	v[2] = CStringGetTextDatum(db_role);
	v[3] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	v[4] = TimestampTzGetDatum(at);
	v[5] = CStringGetTextDatum(rel);
	v[6] = CStringGetTextDatum(op);
	v[7] = pk ? JsonbPGetDatum(pk) : (Datum) 0;
	n[7] = pk ? ' ' : 'n';
	v[8] = JsonbPGetDatum(changes);

	AuditFlush();				/* after the rows' entries queued before it */
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(ErpOwner(), saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) PgerpKeptPlan(&event_plan,
						 "INSERT INTO erp.audit_log (company_id, user_id, db_role, tx, at, rel, op, pk, changes)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9, t);
	if (SPI_execute_plan(event_plan, v, n, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "audit insert failed");
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
}
