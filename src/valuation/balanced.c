/*
 * stock._journal_balanced(): the deferred constraint trigger journal_balanced
 * on stock.journal_line (sql/stock/valuation.sql). An entry must balance, in
 * finite amounts, when constraints are checked (at commit, or at SET
 * CONSTRAINTS ... IMMEDIATE).
 *
 * The trigger fires once per line written; a bulk write of corrections
 * (src/valuation/backdate.c) queues thousands of them, two or more per entry.
 * An entry is summed once: a balanced entry is remembered together with the
 * command id it was summed under, and a later event of the same entry under
 * the same command id (nothing written by this transaction since: each event
 * first advances the command counter, which moves only if something was
 * written) is skipped. A rolled-back subtransaction forgets everything. Same errors as the
 * PL/pgSQL trigger had: 23514, the same messages and details.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "pgerp/core.h"

typedef struct CheckedKey
{
	int64		company_id;
	int64		entry_id;
} CheckedKey;

typedef struct Checked
{
	CheckedKey	key;
	CommandId	cid;
} Checked;

static HTAB *checked = NULL;
static bool callbacks_registered = false;
static SPIPlanPtr sum_plan = NULL;

static void
forget_all(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		checked = NULL;			/* in TopTransactionContext: freed with it */
}

static void
forget_on_rollback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && checked != NULL)
	{
		hash_destroy(checked);
		checked = NULL;
	}
}

/* Sum the entry's lines; raise 23514 when it does not balance in finite amounts. */
static void
check_entry(int64 company_id, int64 entry_id)
{
	Oid			t[2] = {INT8OID, INT8OID};
	Datum		v[2] = {Int64GetDatum(company_id), Int64GetDatum(entry_id)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	bool		finite,
				balanced;
	char	   *debit,
			   *credit;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) PgerpKeptPlan(&sum_plan,
						 "SELECT s.d::pg_catalog.text, s.c::pg_catalog.text,"
						 " s.d OPERATOR(pg_catalog.>) '-Infinity' AND s.d OPERATOR(pg_catalog.<) 'Infinity'"
						 " AND s.c OPERATOR(pg_catalog.>) '-Infinity' AND s.c OPERATOR(pg_catalog.<) 'Infinity',"
						 " s.d OPERATOR(pg_catalog.=) s.c"
						 " FROM (SELECT COALESCE(pg_catalog.sum(l.debit), 0) AS d, COALESCE(pg_catalog.sum(l.credit), 0) AS c"
						 " FROM stock.journal_line l"
						 " WHERE l.company_id OPERATOR(pg_catalog.=) $1 AND l.entry_id OPERATOR(pg_catalog.=) $2) s",
						 2, t);
	if (SPI_execute_plan(sum_plan, v, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "journal entry check failed");
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	debit = SPI_getvalue(row, desc, 1);
	credit = SPI_getvalue(row, desc, 2);
	finite = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
	balanced = DatumGetBool(SPI_getbinval(row, desc, 4, &isnull));
	if (!finite)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("journal entry " INT64_FORMAT " has an amount that is not a finite number", entry_id),
				 errdetail("Debits total %s and credits %s.", debit, credit)));
	if (!balanced)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("journal entry " INT64_FORMAT " is not balanced", entry_id),
				 errdetail("Debits total %s and credits %s.", debit, credit)));
	SPI_finish();
}

PG_FUNCTION_INFO_V1(pgerp_valuation_journal_balanced);
Datum
pgerp_valuation_journal_balanced(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	CheckedKey	key;
	Checked    *c;
	bool		found;
	bool		isnull;
	CommandId	cid;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "stock._journal_balanced must fire AFTER, FOR EACH ROW");
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	key.company_id = DatumGetInt64(heap_getattr(tup, SPI_fnumber(desc, "company_id"), desc, &isnull));
	key.entry_id = DatumGetInt64(heap_getattr(tup, SPI_fnumber(desc, "entry_id"), desc, &isnull));

	if (!callbacks_registered)
	{
		RegisterXactCallback(forget_all, NULL);
		RegisterSubXactCallback(forget_on_rollback, NULL);
		callbacks_registered = true;
	}
	if (checked == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(CheckedKey);
		ctl.entrysize = sizeof(Checked);
		ctl.hcxt = TopTransactionContext;
		checked = hash_create("pgerp checked journal entries", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	/* a write since the last event moves the command id on (a no-op otherwise) */
	CommandCounterIncrement();
	cid = GetCurrentCommandId(false);
	c = hash_search(checked, &key, HASH_FIND, &found);
	if (found && c->cid == cid)
		return PointerGetDatum(NULL);	/* summed already, nothing written since */
	check_entry(key.company_id, key.entry_id);
	c = hash_search(checked, &key, HASH_ENTER, &found);
	c->cid = GetCurrentCommandId(false);
	return PointerGetDatum(NULL);
}
