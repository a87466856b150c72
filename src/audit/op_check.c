/*
 * erp._audit_op(text): the CHECK of erp.audit_log.op (sql/audit/log.sql),
 * true for the operations the pack writes: the audit trigger's insert,
 * update, delete and truncate, erp.purge_audit and erp.unaudit, and the
 * sign-in events of src/auth/events.c. A call rather than op IN (...)
 * because every flush's INSERT parses the table's CHECK constraints again:
 * the eleven constants were about 2,300 characters of node text, 5 % of a
 * receipt and delivery (docs/benchmarks.md, "Row checks as calls").
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

static const char *const audit_ops[] = {
	"insert", "update", "delete", "truncate", "purge", "unaudit",
	"sign_in", "sign_in_failure", "lockout", "refresh", "refresh_reuse"
};

PG_FUNCTION_INFO_V1(pgerp_audit_op);
Datum
pgerp_audit_op(PG_FUNCTION_ARGS)
{
	text	   *op = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(op);
	size_t		len = VARSIZE_ANY_EXHDR(op);

	for (size_t i = 0; i < lengthof(audit_ops); i++)
		if (strlen(audit_ops[i]) == len && memcmp(audit_ops[i], s, len) == 0)
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}
