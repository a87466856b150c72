/*
 * The audit trigger's write buffer (docs/security.md, "Audit trail", and
 * docs/benchmarks.md, "Bulk writes").
 *
 * The row trigger (trigger.c) computes each entry as it always did, at the
 * row, and appends it here instead of inserting it. The buffer is written
 * to erp.audit_log with one multi-row INSERT (a kept plan over arrays):
 *   - at the end of every statement, by the statement-level trigger
 *     audit_flush that erp.audit() puts next to the row trigger;
 *   - when it holds AUDIT_BATCH entries (memory stays bounded);
 *   - before any other entry is written directly (AuditWrite, events);
 *   - at commit or prepare, for a statement with no audit_flush trigger
 *     (a partition attached after erp.audit(), a table audited by 0.1.0
 *     before the update): no entry is ever lost, only written later.
 * The ids are taken in the order the rows fired, so the log reads as it did
 * with one INSERT per row. Entries belong to the subtransaction that made
 * them: a flush writes only the current subtransaction's (which are the
 * tail of the buffer), a rolled-back subtransaction drops its own, and a
 * released one hands them to its parent.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "pgerp/audit.h"
#include "pgerp/core.h"

#define AUDIT_BATCH 1000

typedef struct AuditEntry
{
	int64		company_id;		/* 0: NULL */
	int64		user_id;		/* 0: NULL */
	char	   *db_role;
	TimestampTz at;
	char	   *rel;
	char	   *op;
	Jsonb	   *pk;				/* NULL: NULL */
	Jsonb	   *changes;
	SubTransactionId subid;
} AuditEntry;

static MemoryContext buf_cxt = NULL;
static AuditEntry *buf = NULL;
static int	buf_n = 0;
static int	buf_cap = 0;
static bool callbacks_registered = false;
static SPIPlanPtr batch_plan = NULL;

static void audit_xact_callback(XactEvent event, void *arg);
static void audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg);

static Jsonb *
copy_jsonb(Jsonb *j)
{
	Jsonb	   *c;

	if (j == NULL)
		return NULL;
	c = palloc(VARSIZE(j));
	memcpy(c, j, VARSIZE(j));
	return c;
}

/* Queue one entry of the current statement, with who and when as of now. */
void
AuditAppend(int64 company_id, const char *rel, const char *op, Jsonb *pk, Jsonb *changes)
{
	MemoryContext old;
	AuditEntry *e;
	char	   *role = GetUserNameFromId(CallerRole(), false);
	int64		user_id = SessionUserId();

	if (!callbacks_registered)
	{
		RegisterXactCallback(audit_xact_callback, NULL);
		RegisterSubXactCallback(audit_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (buf_cxt == NULL)
	{
		buf_cxt = AllocSetContextCreate(TopTransactionContext, "pgerp audit buffer", ALLOCSET_DEFAULT_SIZES);
		buf = MemoryContextAlloc(buf_cxt, sizeof(AuditEntry) * AUDIT_BATCH);
		buf_cap = AUDIT_BATCH;
		buf_n = 0;
	}
	if (buf_n >= buf_cap)
	{
		/* what is left after a flush belongs to outer subtransactions */
		buf_cap += AUDIT_BATCH;
		buf = repalloc(buf, sizeof(AuditEntry) * buf_cap);
	}
	old = MemoryContextSwitchTo(buf_cxt);
	e = &buf[buf_n];
	e->company_id = company_id;
	e->user_id = user_id;
	e->db_role = pstrdup(role);
	/* the statement's time, as the row's own INSERT had */
	e->at = GetCurrentStatementStartTimestamp();
	e->rel = pstrdup(rel);
	e->op = pstrdup(op);
	e->pk = copy_jsonb(pk);
	e->changes = copy_jsonb(changes);
	e->subid = GetCurrentSubTransactionId();
	MemoryContextSwitchTo(old);
	buf_n++;
	if (buf_n % AUDIT_BATCH == 0)
		AuditFlush();
}

/* Append one entry now (notes, TRUNCATE), after those queued before it. */
void
AuditWrite(int64 company_id, const char *rel, const char *op, Jsonb *pk, Jsonb *changes)
{
	AuditAppend(company_id, rel, op, pk, changes);
	AuditFlush();
}

static Datum
array_of(Datum *d, bool *nulls, int n, Oid elem)
{
	int16		len;
	bool		byval;
	char		align;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(elem, &len, &byval, &align);
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, elem, len, byval, align));
}

/* erp.audit_log (looked up per flush: DROP EXTENSION changes it) */
static Oid
log_relid(void)
{
	Oid			log = get_relname_relid("audit_log", get_namespace_oid("erp", false));

	if (!OidIsValid(log))
		elog(ERROR, "erp.audit_log does not exist");
	return log;
}

/*
 * Is either id taken in erp.audit_log?  Two probes of its primary key,
 * not a planned subquery: a plan made while the log looked small (no
 * statistics yet, or a long transaction whose own entries no ANALYZE can
 * see) was a sequential scan of the whole log at every flush, which made
 * a transaction of n postings cost O(n^2) (docs/benchmarks.md, "The audit
 * flush's id probe").  Under the transaction snapshot, as the subquery
 * was; an id taken meanwhile by another transaction is still caught by
 * ON CONFLICT.
 */
static bool
log_ids_taken(Oid log, int64 first, int64 last)
{
	Relation	rel = table_open(log, RowExclusiveLock);
	Oid			pk = RelationGetPrimaryKeyIndex(rel);
	Relation	idx;
	Snapshot	snap;
	TupleTableSlot *slot;
	bool		taken = false;

	if (!OidIsValid(pk))
		elog(ERROR, "erp.audit_log has no primary key");
	idx = index_open(pk, AccessShareLock);
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	slot = table_slot_create(rel, NULL);
	for (int k = 0; k < 2 && !taken; k++)
	{
		ScanKeyData key;
		IndexScanDesc scan;

		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(k == 0 ? first : last));
		scan = index_beginscan(rel, idx, snap, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		taken = index_getnext_slot(scan, ForwardScanDirection, slot);
		index_endscan(scan);
	}
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(idx, AccessShareLock);
	table_close(rel, NoLock);
	return taken;
}

/* The identity sequence of erp.audit_log.id */
static Oid
log_sequence(Oid log)
{
	return getIdentitySequence(log, 1, false);
}

/*
 * INSERT entries ix[0..n) with the ids given: none of them if the first or
 * the last id is taken (a lagging sequence: the retry takes new ids, in the
 * same order), and ON CONFLICT DO NOTHING for an id taken in between (a gap
 * in restored ids, or one taken meanwhile: those are retried after the
 * others). Returns how many went in and marks them in done[].
 */
static int
insert_batch(Oid log, AuditEntry *es, int *ix, int64 *ids, int n, bool *done)
{
	Oid			t[12] = {INT8ARRAYOID, XID8OID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, JSONBARRAYOID};
	Datum		v[10];
	Datum	   *d[9];
	bool	   *nl[9];
	int			got;

	if (log_ids_taken(log, ids[0], ids[n - 1]))
		return 0;
	for (int c = 0; c < 9; c++)
	{
		d[c] = palloc(sizeof(Datum) * n);
		nl[c] = palloc0(sizeof(bool) * n);
	}
	for (int i = 0; i < n; i++)
	{
		AuditEntry *e = &es[ix[i]];

		d[0][i] = Int64GetDatum(ids[i]);
		d[1][i] = Int64GetDatum(e->company_id);
		nl[1][i] = e->company_id == 0;
		d[2][i] = Int64GetDatum(e->user_id);
		nl[2][i] = e->user_id == 0;
		d[3][i] = CStringGetTextDatum(e->db_role);
		d[4][i] = TimestampTzGetDatum(e->at);
		d[5][i] = CStringGetTextDatum(e->rel);
		d[6][i] = CStringGetTextDatum(e->op);
		d[7][i] = e->pk ? JsonbPGetDatum(e->pk) : (Datum) 0;
		nl[7][i] = e->pk == NULL;
		d[8][i] = JsonbPGetDatum(e->changes);
	}
	v[0] = array_of(d[0], nl[0], n, INT8OID);
	v[1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	v[2] = array_of(d[1], nl[1], n, INT8OID);
	v[3] = array_of(d[2], nl[2], n, INT8OID);
	v[4] = array_of(d[3], nl[3], n, TEXTOID);
	v[5] = array_of(d[4], nl[4], n, TIMESTAMPTZOID);
	v[6] = array_of(d[5], nl[5], n, TEXTOID);
	v[7] = array_of(d[6], nl[6], n, TEXTOID);
	v[8] = array_of(d[7], nl[7], n, JSONBOID);
	v[9] = array_of(d[8], nl[8], n, JSONBOID);

	(void) PgerpKeptPlan(&batch_plan,
						 "INSERT INTO erp.audit_log (id, company_id, user_id, db_role, tx, at, rel, op, pk, changes)"
						 " OVERRIDING SYSTEM VALUE"
						 " SELECT u.id, u.company_id, u.user_id, u.db_role, $2, u.at, u.rel, u.op, u.pk, u.changes"
						 " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3), pg_catalog.unnest($4),"
						 " pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8),"
						 " pg_catalog.unnest($9), pg_catalog.unnest($10))"
						 " AS u(id, company_id, user_id, db_role, at, rel, op, pk, changes)"
						 " ON CONFLICT (id) DO NOTHING RETURNING id", 10, t);
	if (SPI_execute_plan(batch_plan, v, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "audit insert failed");
	got = (int) SPI_processed;
	if (got == n)
	{
		for (int i = 0; i < n; i++)
			done[i] = true;
		return got;
	}
	/* which ids went in: the returned ones (few collisions: a lagging sequence) */
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

		for (int i = 0; i < n; i++)
			if (ids[i] == id)
				done[i] = true;
	}
	return got;
}

/* Write es[0..n) to the log, as the owner of the pack, ids in their order. */
static void
write_entries(AuditEntry *es, int n)
{
	Oid			saved_user;
	int			saved_sec;
	Oid			log;
	Oid			seq;
	int		   *ix;
	int64	   *ids;
	bool	   *done;
	int			todo = n;

	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(ErpOwner(), saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	log = log_relid();
	seq = log_sequence(log);
	ix = palloc(sizeof(int) * n);
	ids = palloc(sizeof(int64) * n);
	done = palloc(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
		ix[i] = i;

	/*
	 * An id taken means the sequence lags the table: a plain pg_dump restore
	 * copies the log before the rows of audited tables (whose triggers fire)
	 * and sets the sequence only at the end. Catch up and retry the entries
	 * that did not go in, with new ids.
	 */
	for (int attempt = 0;; attempt++)
	{
		int			kept = 0;

		for (int i = 0; i < todo; i++)
		{
			ids[i] = nextval_internal(seq, false);
			done[i] = false;
		}
		if (insert_batch(log, es, ix, ids, todo, done) == todo)
			break;
		if (attempt == 3)
			elog(ERROR, "audit insert failed: the id sequence of erp.audit_log keeps colliding");
		for (int i = 0; i < todo; i++)
			if (!done[i])
				ix[kept++] = ix[i];
		todo = kept;
		if (SPI_execute("SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('erp.audit_log', 'id'),"
						" (SELECT pg_catalog.max(id) FROM erp.audit_log))", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "audit sequence catch-up failed");
	}
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
}

/* Write the current subtransaction's queued entries (the tail of the buffer). */
void
AuditFlush(void)
{
	SubTransactionId me = GetCurrentSubTransactionId();
	int			start = buf_n;

	while (start > 0 && buf[start - 1].subid == me)
		start--;
	if (start == buf_n)
		return;
	write_entries(buf + start, buf_n - start);
	for (int i = start; i < buf_n; i++)
	{
		pfree(buf[i].db_role);
		pfree(buf[i].rel);
		pfree(buf[i].op);
		if (buf[i].pk)
			pfree(buf[i].pk);
		pfree(buf[i].changes);
	}
	buf_n = start;
}

/* Entries still queued at commit are written then; at the end, the buffer goes. */
static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (buf_n > 0)
			{
				/* no statement runs at commit: SPI needs a snapshot of its own */
				bool		pushed = !ActiveSnapshotSet();

				if (pushed)
					PushActiveSnapshot(GetTransactionSnapshot());
				AuditFlush();
				if (pushed)
					PopActiveSnapshot();
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			buf_cxt = NULL;		/* a child of TopTransactionContext: freed with it */
			buf = NULL;
			buf_n = 0;
			buf_cap = 0;
			break;
		default:
			break;
	}
}

/* A released subtransaction's entries are its parent's; a rolled-back one's are gone. */
static void
audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = buf_n - 1; i >= 0 && buf[i].subid == mySubid; i--)
			buf[i].subid = parentSubid;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (buf_n > 0 && buf[buf_n - 1].subid == mySubid)
			buf_n--;			/* their memory goes with the transaction */
	}
}
