/*
 * Bulk writes of the MRP run's results (issue #16): rows are formatted as
 * COPY text into a buffer and handed to PostgreSQL's own COPY FROM machinery
 * (BeginCopyFrom with a data-source callback, CopyFrom) every
 * pgerp.mrp_batch_rows rows. CopyFrom inserts with table_multi_insert
 * (heap_multi_insert), updates the indexes through ExecInsertIndexTuples,
 * fills the defaults and identity columns, checks the NOT NULL and CHECK
 * constraints and fires the triggers, foreign keys included, at the end of
 * each batch: the output tables' constraints and triggers are honoured as an
 * INSERT honours them, and the memory of a batch (text, trigger queue,
 * executor state) is freed after it.
 *
 * Row security: COPY FROM does not apply policies, so a batch is refused
 * (42501) when row security applies to the current user on the table. It
 * never does in the pack: mrp.run is SECURITY DEFINER and the extension's
 * objects belong to a superuser (pgerp_mrp.control: superuser = true), whom
 * policies never apply to, for an INSERT as for COPY.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "commands/copy.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "pgerp/mrp.h"

int			mrp_batch_rows = 10000;

/*
 * The batch being copied. CopyFrom's data-source callback takes no argument,
 * so the one batch in flight is reached through this pointer (set and
 * cleared around CopyFrom; nothing else reads it).
 */
static MrpCopy *feeding = NULL;

/* Registered from _PG_init (src/module/init.c). */
void
MrpInitGucs(void)
{
	DefineCustomIntVariable("pgerp.mrp_batch_rows",
							"Rows of an MRP run's results written per COPY batch.",
							"Larger batches mean fewer COPY setups and more memory per batch.",
							&mrp_batch_rows,
							10000, 1, 1000000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* A writer of table nsp.rel, columns cols[0..ncols-1] in that order. */
void
MrpCopyInit(MrpCopy *c, const char *nsp, const char *rel, const char *const *cols, int ncols)
{
	memset(c, 0, sizeof(*c));
	c->nsp = nsp;
	c->rel = rel;
	for (int i = 0; i < ncols; i++)
		c->cols = lappend(c->cols, makeString(pstrdup(cols[i])));
	initStringInfo(&c->buf);
	c->cxt = AllocSetContextCreate(CurrentMemoryContext, "pgerp mrp copy batch", ALLOCSET_DEFAULT_SIZES);
}

/* CopyFrom's source: the batch's text, then end of data. */
static int
feed_batch(void *outbuf, int minread, int maxread)
{
	int			n;

	Assert(feeding != NULL);
	n = Min(maxread, feeding->buf.len - feeding->pos);
	memcpy(outbuf, feeding->buf.data + feeding->pos, n);
	feeding->pos += n;
	return n;
}

/*
 * Copy the pending rows into the table, as COPY ... FROM would (with the
 * INSERT privilege of the columns checked), and empty the buffer.
 */
void
MrpCopyFlush(MrpCopy *c)
{
	MemoryContext old;
	Relation	rel;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	RangeTblEntry *rte;
	CopyFromState cstate;
	ListCell   *lc;
	List	   *options;

	if (c->rows == 0)
		return;
	old = MemoryContextSwitchTo(c->cxt);
	rel = table_openrv(makeRangeVar((char *) c->nsp, (char *) c->rel, -1), RowExclusiveLock);
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("row security applies to the MRP results in %s.%s", c->nsp, c->rel),
				 errdetail("The run writes its results in bulk, which row security policies cannot check."),
				 errhint("Install pgerp_mrp as a superuser, who owns mrp.run.")));
	pstate = make_parsestate(NULL);
	nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	rte = nsitem->p_rte;
	rte->requiredPerms = ACL_INSERT;
	foreach(lc, c->cols)
	{
		AttrNumber	att = get_attnum(RelationGetRelid(rel), strVal(lfirst(lc)));

		if (att == InvalidAttrNumber)
			elog(ERROR, "column %s of %s.%s does not exist", strVal(lfirst(lc)), c->nsp, c->rel);
		rte->insertedCols = bms_add_member(rte->insertedCols, att - FirstLowInvalidHeapAttributeNumber);
	}
	ExecCheckRTPerms(pstate->p_rtable, true);
	/* the text is in the server's encoding, whatever the client's */
	options = list_make1(makeDefElem("encoding", (Node *) makeString((char *) GetDatabaseEncodingName()), -1));
	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, feed_batch, c->cols, options);
	c->pos = 0;
	feeding = c;
	PG_TRY();
	{
		c->written += CopyFrom(cstate);
	}
	PG_FINALLY();
	{
		feeding = NULL;
	}
	PG_END_TRY();
	EndCopyFrom(cstate);
	table_close(rel, NoLock);
	MemoryContextSwitchTo(old);
	c->peak = Max(c->peak, MemoryContextMemAllocated(TopMemoryContext, true));
	MemoryContextReset(c->cxt);
	resetStringInfo(&c->buf);
	c->rows = 0;
}

/* The end of a row: counted, and the batch copied when full. */
void
MrpCopyEndRow(MrpCopy *c)
{
	c->buf.data[c->buf.len - 1] = '\n'; /* the last field's tab */
	c->rows++;
	if (c->rows >= mrp_batch_rows)
		MrpCopyFlush(c);
}

void
MrpCopyInt8(MrpCopy *c, int64 v)
{
	char		s[MAXINT8LEN + 1];

	pg_lltoa(v, s);
	appendStringInfoString(&c->buf, s);
	appendStringInfoChar(&c->buf, '\t');
}

void
MrpCopyNull(MrpCopy *c)
{
	appendBinaryStringInfo(&c->buf, "\\N\t", 3);
}

void
MrpCopyBool(MrpCopy *c, bool v)
{
	appendBinaryStringInfo(&c->buf, v ? "t\t" : "f\t", 2);
}

/*
 * A quantity in millionths as the shortest exact decimal: what
 * trim_scale(q::numeric / 1000000) gives (same value, same scale).
 */
void
MrpCopyQty(MrpCopy *c, MrpQty q)
{
	uint64		a = q < 0 ? -(uint64) q : (uint64) q;
	uint64		frac = a % (uint64) MRP_SCALE;
	char		digits[8];
	int			nd = 6;

	appendStringInfo(&c->buf, "%s" UINT64_FORMAT, q < 0 ? "-" : "", a / (uint64) MRP_SCALE);
	if (frac != 0)
	{
		snprintf(digits, sizeof(digits), "%06d", (int) frac);
		while (digits[nd - 1] == '0')
			nd--;
		appendStringInfoChar(&c->buf, '.');
		appendBinaryStringInfo(&c->buf, digits, nd);
	}
	appendStringInfoChar(&c->buf, '\t');
}

/* A date as ISO YYYY-MM-DD, which date_in reads whatever the DateStyle. */
void
MrpCopyDate(MrpCopy *c, DateADT d)
{
	int			y,
				m,
				dd;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
	if (y >= 1 && y <= 9999)
		appendStringInfo(&c->buf, "%04d-%02d-%02d\t", y, m, dd);
	else
	{
		appendStringInfoString(&c->buf, DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(d))));
		appendStringInfoChar(&c->buf, '\t');
	}
}

/* Text with COPY's escapes for backslash, tab, newline and carriage return. */
void
MrpCopyText(MrpCopy *c, const char *s)
{
	if (s == NULL)
	{
		MrpCopyNull(c);
		return;
	}
	for (; *s; s++)
	{
		switch (*s)
		{
			case '\\':
				appendBinaryStringInfo(&c->buf, "\\\\", 2);
				break;
			case '\t':
				appendBinaryStringInfo(&c->buf, "\\t", 2);
				break;
			case '\n':
				appendBinaryStringInfo(&c->buf, "\\n", 2);
				break;
			case '\r':
				appendBinaryStringInfo(&c->buf, "\\r", 2);
				break;
			default:
				appendStringInfoChar(&c->buf, *s);
		}
	}
	appendStringInfoChar(&c->buf, '\t');
}
