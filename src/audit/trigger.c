/*
 * The audit trigger (erp.audit(table)): one erp.audit_log entry per row
 * inserted, updated or deleted, and per TRUNCATE. It records who (pgerp user
 * and database role), when, which transaction, the company, the primary key
 * and the changed columns. bytea columns, which is where encrypted values and
 * keys live, are recorded as changed, never with their content.
 *
 * Entries are queued per row and written by the extension owner, many at a
 * time, through a kept SPI plan (buffer.c: at the end of each statement, by
 * the statement trigger audit_flush), so application roles need (and have)
 * no INSERT privilege on the log. Entries
 * carry no hash here: chaining them at write time would make every writer of
 * the database wait for the previous one. erp.audit_seal() chains settled
 * entries later, in (transaction, id) order (docs/security.md).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "pgerp/audit.h"
#include "pgerp/core.h"
#include "pgerp/jobs.h"

/* the firing trigger: its arguments name columns shown as [redacted] */
static Trigger *firing = NULL;

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &v);
}

static void
push_scalar(JsonbParseState **st, JsonbIteratorToken tok, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	pushJsonbValue(st, tok, &v);
}

/* bytea, a domain over it, or an array of either: where secrets are kept */
static bool
is_secret_type(Oid type)
{
	Oid			base = getBaseType(type);
	Oid			elem = get_element_type(base);

	return base == BYTEAOID || (OidIsValid(elem) && getBaseType(elem) == BYTEAOID);
}

/* Is the column named in the trigger's arguments (erp.app_user's password_hash)? */
static bool
is_redacted_column(Form_pg_attribute att)
{
	for (int i = 0; firing != NULL && i < firing->tgnargs; i++)
		if (strcmp(firing->tgargs[i], NameStr(att->attname)) == 0)
			return true;
	return false;
}

/*
 * What the trigger looks up once per statement rather than once per row
 * (bulk writes, #16): kept in the trigger's fn_extra, which lives as long as
 * the statement's trigger state, so that a later ALTER TABLE is seen.
 */
typedef struct ColInfo
{
	bool		secret;			/* shown as [redacted] */
	FmgrInfo	out;
} ColInfo;

typedef struct RelInfo
{
	Oid			relid;
	int			natts;
	char	   *relname;
	Bitmapset  *pk;
	int			company_attno;	/* 0: no bigint company_id */
	ColInfo		col[FLEXIBLE_ARRAY_MEMBER];
} RelInfo;

static RelInfo *cur = NULL;

static RelInfo *
rel_info(FmgrInfo *flinfo, Relation rel)
{
	RelInfo    *ri = (RelInfo *) flinfo->fn_extra;
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old;
	int			attno;

	if (ri != NULL && ri->relid == RelationGetRelid(rel) && ri->natts == desc->natts)
		return ri;
	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	ri = palloc0(offsetof(RelInfo, col) + sizeof(ColInfo) * desc->natts);
	ri->relid = RelationGetRelid(rel);
	ri->natts = desc->natts;
	ri->relname = psprintf("%s.%s", get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel));
	ri->pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	attno = SPI_fnumber(desc, "company_id");
	ri->company_attno = (attno > 0 && TupleDescAttr(desc, attno - 1)->atttypid == INT8OID) ? attno : 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			out;
		bool		varlena;

		if (att->attisdropped)
			continue;
		ri->col[i].secret = is_secret_type(att->atttypid) || is_redacted_column(att);
		getTypeOutputInfo(att->atttypid, &out, &varlena);
		fmgr_info_cxt(out, &ri->col[i].out, flinfo->fn_mcxt);
	}
	MemoryContextSwitchTo(old);
	flinfo->fn_extra = ri;
	return ri;
}

/*
 * The text of a column value; bytea (encrypted values, keys) and the
 * columns the trigger names (password hashes) are never shown.
 */
static const char *
value_text(Form_pg_attribute att, Datum d, bool isnull)
{
	if (isnull)
		return NULL;
	if (cur->col[att->attnum - 1].secret)
		return AUDIT_REDACTED;
	return OutputFunctionCall(&cur->col[att->attnum - 1].out, d);
}

static bool
same_value(Form_pg_attribute att, Datum a, bool anull, Datum b, bool bnull)
{
	if (anull || bnull)
		return anull == bnull;
	/* compares the values, not the TOAST pointers of out-of-line ones */
	return datum_image_eq(a, b, att->attbyval, att->attlen);
}

/* {"col": value, ...} of a whole row (INSERT, DELETE) */
static Jsonb *
row_json(TupleDesc desc, HeapTuple tup)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		d;

		if (att->attisdropped || att->attgenerated)
			continue;
		d = heap_getattr(tup, i + 1, desc, &isnull);
		if (isnull)
			continue;
		push_key(&st, NameStr(att->attname));
		push_scalar(&st, WJB_VALUE, value_text(att, d, false));
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* {"col": [old, new], ...} of the columns an UPDATE changed; NULL if none */
static Jsonb *
diff_json(TupleDesc desc, HeapTuple oldtup, HeapTuple newtup)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	int			changed = 0;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		onull,
					nnull;
		Datum		o,
					n;

		if (att->attisdropped || att->attgenerated)
			continue;
		o = heap_getattr(oldtup, i + 1, desc, &onull);
		n = heap_getattr(newtup, i + 1, desc, &nnull);
		if (same_value(att, o, onull, n, nnull))
			continue;
		changed++;
		push_key(&st, NameStr(att->attname));
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		push_scalar(&st, WJB_ELEM, value_text(att, o, onull));
		push_scalar(&st, WJB_ELEM, value_text(att, n, nnull));
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return changed > 0 ? JsonbValueToJsonb(res) : NULL;
}

/* {"pkcol": value, ...}; NULL when the table has no primary key */
static Jsonb *
pk_json(Relation rel, HeapTuple tup)
{
	Bitmapset  *pk = cur->pk;
	TupleDesc	desc = RelationGetDescr(rel);
	JsonbParseState *st = NULL;
	JsonbValue *res;
	int			x = -1;

	if (pk == NULL)
		return NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	while ((x = bms_next_member(pk, x)) >= 0)
	{
		AttrNumber	attno = x + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute att;
		bool		isnull;
		Datum		d;

		if (attno <= 0)
			continue;
		att = TupleDescAttr(desc, attno - 1);
		d = heap_getattr(tup, attno, desc, &isnull);
		push_key(&st, NameStr(att->attname));
		push_scalar(&st, WJB_VALUE, value_text(att, d, isnull));
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* The row's company_id, or 0 (NULL in the log) when the table has none. */
static int64
row_company(TupleDesc desc, HeapTuple tup)
{
	int			attno = cur->company_attno;
	bool		isnull;
	Datum		d;

	if (attno == 0)
		return 0;
	d = heap_getattr(tup, attno, desc, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

PG_FUNCTION_INFO_V1(pgerp_audit_trigger);
Datum
pgerp_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	char	   *relname;
	HeapTuple	tup;
	Jsonb	   *changes;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "erp._audit_trigger must fire AFTER");
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	firing = td->tg_trigger;

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		JsonbParseState *st = NULL;

		relname = psprintf("%s.%s", get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel));
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		AuditWrite(0, relname, "truncate", NULL, JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		/* audit_flush: the end of a statement writes its rows' entries (buffer.c) */
		AuditFlush();
		return PointerGetDatum(NULL);
	}
	cur = rel_info(fcinfo->flinfo, rel);
	relname = cur->relname;
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		tup = td->tg_trigtuple;
		op = "insert";
		changes = row_json(desc, tup);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		tup = td->tg_newtuple;
		op = "update";
		changes = diff_json(desc, td->tg_trigtuple, td->tg_newtuple);
		if (changes == NULL)
			return PointerGetDatum(NULL);	/* nothing changed: nothing to record */
	}
	else
	{
		tup = td->tg_trigtuple;
		op = "delete";
		changes = row_json(desc, tup);
	}
	AuditAppend(row_company(desc, tup), relname, op, pk_json(rel, tup), changes);
	return PointerGetDatum(NULL);
}

/* erp._audit_note(rel, op, changes): an entry written by pgerp itself (purge, unaudit). */
PG_FUNCTION_INFO_V1(pgerp_audit_note);
Datum
pgerp_audit_note(PG_FUNCTION_ARGS)
{
	AuditWrite(0, text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)),
			   NULL, PG_GETARG_JSONB_P(2));
	PG_RETURN_VOID();
}
