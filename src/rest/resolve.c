/*
 * Names of a request resolved through the backend's catalog caches: the
 * served schema (profile), relations, columns and the relationships that
 * embedding follows.  Nothing is loaded at start or reloaded on NOTIFY: a
 * view created a moment ago is served at the next request.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/genam.h"
#include "utils/relcache.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "pgerp/core.h"
#include "handler.h"

char	   *pgerp_http_schemas = NULL;

void
RestResolveGucs(void)
{
	DefineCustomStringVariable("pgerp.http_schemas",
							   "Schemas served by erp.http_request, the first being the default profile.",
							   "Accept-Profile (GET, HEAD) and Content-Profile (other methods) pick another one of the list.",
							   &pgerp_http_schemas,
							   "api",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
}

static List *
served_schemas(void)
{
	char	   *raw = pstrdup(pgerp_http_schemas ? pgerp_http_schemas : "api");
	List	   *names = NIL;

	if (!SplitIdentifierString(raw, ',', &names) || names == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid pgerp.http_schemas setting"),
				 errdetail("The setting must be a comma-separated list of schema names.")));
	return names;
}

/* The profile: the first served schema, or the one the profile header names */
void
RestChooseSchema(RestRequest *req)
{
	List	   *names = served_schemas();
	bool		reading = (req->verb == VERB_GET || req->verb == VERB_HEAD);
	char	   *wanted = RestHeaderValue(req, reading ? "accept-profile" : "content-profile");
	ListCell   *lc;

	req->schema = linitial(names);
	if (wanted != NULL)
	{
		bool		found = false;

		foreach(lc, names)
			if (strcmp(lfirst(lc), wanted) == 0)
				found = true;
		if (!found)
		{
			StringInfoData list;

			initStringInfo(&list);
			foreach(lc, names)
				appendStringInfo(&list, "%s%s", foreach_current_index(lc) ? ", " : "", (char *) lfirst(lc));
			RestRaise(406, "PGRST106", psprintf("The schema must be one of the following: %s", list.data),
					  NULL, NULL);
		}
		req->schema = wanted;
	}
	req->schema_oid = get_namespace_oid(req->schema, true);
}

/* A view, table or materialized view of the profile; names starting with _ are never served */
RestRel *
RestResolveRel(RestRequest *req, const char *name, bool missing_ok)
{
	Oid			relid = InvalidOid;
	char		kind = 0;
	RestRel    *rel;

	if (name[0] != '_' && OidIsValid(req->schema_oid))
		relid = get_relname_relid(name, req->schema_oid);
	if (OidIsValid(relid))
	{
		kind = get_rel_relkind(relid);
		if (kind != RELKIND_VIEW && kind != RELKIND_RELATION && kind != RELKIND_MATVIEW &&
			kind != RELKIND_PARTITIONED_TABLE && kind != RELKIND_FOREIGN_TABLE)
			relid = InvalidOid;
	}
	if (!OidIsValid(relid))
	{
		if (missing_ok)
			return NULL;
		RestRaise(404, "PGRST205",
				  psprintf("Could not find the table '%s.%s' in the schema cache", req->schema, PgerpEcho(name)),
				  NULL, NULL);
	}
	rel = palloc0(sizeof(RestRel));
	rel->relid = relid;
	rel->schema = req->schema;
	rel->name = pstrdup(name);
	rel->relkind = kind;
	return rel;
}

/* A column of rel, with its type; 42703 like PostgreSQL when there is none */
AttrNumber
RestResolveColumn(RestRel *rel, const char *name, Oid *type, bool missing_ok)
{
	AttrNumber	att;

	if (!OidIsValid(rel->relid))
	{
		for (int i = 0; i < rel->ncols; i++)
			if (strcmp(rel->colnames[i], name) == 0)
			{
				if (type)
					*type = rel->coltypes[i];
				return i + 1;
			}
		if (missing_ok)
			return InvalidAttrNumber;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column %s.%s does not exist", rel->name, PgerpEcho(name))));
	}
	att = get_attnum(rel->relid, name);

	if (att == InvalidAttrNumber || att < 0)
	{
		if (missing_ok)
			return InvalidAttrNumber;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column %s.%s does not exist", rel->name, PgerpEcho(name))));
	}
	if (type)
		*type = get_atttype(rel->relid, att);
	return att;
}

List *
RestRelColumns(RestRel *rel)
{
	Relation	r = relation_open(rel->relid, AccessShareLock);
	TupleDesc	d = RelationGetDescr(r);
	List	   *cols = NIL;

	for (int i = 0; i < d->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(d, i);

		if (!a->attisdropped)
			cols = lappend(cols, pstrdup(NameStr(a->attname)));
	}
	relation_close(r, AccessShareLock);
	return cols;
}

/*
 * Where each column of a resource comes from: for a table, itself; for a
 * view, the base-table column its query takes as a plain reference (views
 * of views are followed).  base_att[i] is 0 for a computed column.
 */
typedef struct Lineage
{
	Oid			base;			/* InvalidOid: no single base table */
	int			natts;
	AttrNumber *base_att;		/* indexed by the resource's attnum - 1 */
	char	  **names;
} Lineage;

static Lineage *
lineage(Oid relid, int depth)
{
	Relation	r;
	TupleDesc	d;
	Lineage    *l = palloc0(sizeof(Lineage));

	if (!OidIsValid(relid))
		return l;
	r = relation_open(relid, AccessShareLock);
	d = RelationGetDescr(r);

	l->natts = d->natts;
	l->base_att = palloc0(sizeof(AttrNumber) * Max(d->natts, 1));
	l->names = palloc0(sizeof(char *) * Max(d->natts, 1));
	for (int i = 0; i < d->natts; i++)
		l->names[i] = TupleDescAttr(d, i)->attisdropped ? NULL : pstrdup(NameStr(TupleDescAttr(d, i)->attname));
	if (r->rd_rel->relkind == RELKIND_COMPOSITE_TYPE)
		l->base = InvalidOid;
	else if (r->rd_rel->relkind != RELKIND_VIEW)
	{
		l->base = relid;
		for (int i = 0; i < d->natts; i++)
			l->base_att[i] = TupleDescAttr(d, i)->attisdropped ? 0 : i + 1;
	}
	else if (depth < 8)
	{
		Query	   *q = get_view_query(r);
		ListCell   *lc;
		Oid			base = InvalidOid;
		Lineage    *inner = NULL;
		int			varno = 0;

		foreach(lc, q->targetList)
		{
			TargetEntry *te = lfirst(lc);
			Var		   *v = (Var *) te->expr;
			RangeTblEntry *rte;

			if (te->resjunk || te->resno > d->natts || !IsA(v, Var) || v->varlevelsup != 0 || v->varattno <= 0)
				continue;
			rte = rt_fetch(v->varno, q->rtable);
			if (rte->rtekind != RTE_RELATION)
				continue;
			if (inner == NULL)
			{
				inner = lineage(rte->relid, depth + 1);
				base = inner->base;
				varno = v->varno;
			}
			if ((int) v->varno != varno || !OidIsValid(base) || v->varattno > inner->natts)
				continue;
			l->base_att[te->resno - 1] = inner->base_att[v->varattno - 1];
		}
		l->base = base;
	}
	relation_close(r, AccessShareLock);
	return l;
}

/* The resource column whose lineage is base column att, or NULL */
static char *
column_for(Lineage *l, AttrNumber att)
{
	for (int i = 0; i < l->natts; i++)
		if (l->names[i] && l->base_att[i] == att)
			return l->names[i];
	return NULL;
}

/*
 * Foreign keys of from_base pointing at to_base, mapped onto the columns of
 * the two resources: each one both resources expose makes a relationship.
 */
static List *
fk_relationships(Lineage *from, Lineage *to, RestRel *target, bool to_many, List *out)
{
	Relation	con = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(from->base));
	scan = systable_beginscan(con, ConstraintRelidTypidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint c = (Form_pg_constraint) GETSTRUCT(tup);
		Datum		d;
		bool		isnull;
		ArrayType  *ka,
				   *fa;
		int16	   *k,
				   *f;
		int			n;
		RestRelationship *rr;
		bool		ok = true;

		if (c->contype != CONSTRAINT_FOREIGN || c->confrelid != to->base)
			continue;
		d = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conkey, &isnull);
		ka = DatumGetArrayTypeP(d);
		d = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_confkey, &isnull);
		fa = DatumGetArrayTypeP(d);
		{
			Datum	   *kd,
					   *fd;
			int			nf;

			deconstruct_array(ka, INT2OID, 2, true, TYPALIGN_SHORT, &kd, NULL, &n);
			deconstruct_array(fa, INT2OID, 2, true, TYPALIGN_SHORT, &fd, NULL, &nf);
			k = palloc(sizeof(int16) * Max(n, 1));
			f = palloc(sizeof(int16) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				k[i] = DatumGetInt16(kd[i]);
				f[i] = i < nf ? DatumGetInt16(fd[i]) : 0;
			}
		}
		rr = palloc0(sizeof(RestRelationship));
		rr->target = target;
		rr->to_many = to_many;
		rr->constraint_name = pstrdup(NameStr(c->conname));
		rr->ncols = n;
		rr->source_cols = palloc(sizeof(char *) * n);
		rr->target_cols = palloc(sizeof(char *) * n);
		for (int i = 0; i < n && ok; i++)
		{
			char	   *fc = column_for(from, k[i]);
			char	   *tc = column_for(to, f[i]);

			ok = (fc != NULL && tc != NULL);
			/* source is the resource embedding; for to-many, "from" is the target */
			rr->source_cols[i] = to_many ? tc : fc;
			rr->target_cols[i] = to_many ? fc : tc;
		}
		if (ok)
			out = lappend(out, rr);
	}
	systable_endscan(scan);
	table_close(con, AccessShareLock);
	return out;
}

static bool
matches_hint(RestRelationship *r, const char *hint)
{
	if (strcmp(r->constraint_name, hint) == 0)
		return true;
	for (int i = 0; i < r->ncols; i++)
		if (strcmp(r->source_cols[i], hint) == 0 || strcmp(r->target_cols[i], hint) == 0)
			return true;
	return false;
}

/* PGRST201's details: each candidate as PostgREST lists them */
static char *
ambiguity_details(RestRel *source, List *cands)
{
	StringInfoData b;
	ListCell   *lc;

	initStringInfo(&b);
	appendStringInfoChar(&b, '[');
	foreach(lc, cands)
	{
		RestRelationship *r = lfirst(lc);

		appendStringInfo(&b, "%s{\"cardinality\":\"%s\",\"embedding\":\"%s with %s\",\"relationship\":\"%s using %s(",
						 foreach_current_index(lc) ? "," : "",
						 r->to_many ? "one-to-many" : "many-to-one",
						 source->name, r->target->name, r->constraint_name,
						 r->to_many ? r->target->name : source->name);
		for (int i = 0; i < r->ncols; i++)
			appendStringInfo(&b, "%s%s", i ? ", " : "", r->to_many ? r->target_cols[i] : r->source_cols[i]);
		appendStringInfo(&b, ") and %s(", r->to_many ? source->name : r->target->name);
		for (int i = 0; i < r->ncols; i++)
			appendStringInfo(&b, "%s%s", i ? ", " : "", r->to_many ? r->source_cols[i] : r->target_cols[i]);
		appendStringInfoString(&b, ")\"}");
	}
	appendStringInfoChar(&b, ']');
	return b.data;
}

/* PGRST201's hint: each candidate as target!constraint */
static char *
hint_list(RestRel *target, List *cands)
{
	StringInfoData h;
	ListCell   *lc;

	initStringInfo(&h);
	foreach(lc, cands)
		appendStringInfo(&h, "%s'%s!%s'", foreach_current_index(lc) ? ", " : "",
						 target->name, ((RestRelationship *) lfirst(lc))->constraint_name);
	return h.data;
}

/*
 * The one relationship between source and the resource target_name (both
 * ways, through the base tables' foreign keys), narrowed by hint: PGRST200
 * when there is none, 300 PGRST201 when several remain.
 */
RestRelationship *
RestFindRelationship(RestRequest *req, RestRel *source, const char *target_name, const char *hint)
{
	RestRel    *target = RestResolveRel(req, target_name, true);
	Lineage    *ls,
			   *lt;
	List	   *cands = NIL;
	List	   *kept = NIL;
	ListCell   *lc;

	if (target == NULL)
		RestRaise(400, "PGRST200",
				  psprintf("Could not find a relationship between '%s' and '%s' in the schema cache",
						   source->name, PgerpEcho(target_name)),
				  psprintf("Searched for a foreign key relationship between '%s' and '%s' in the schema '%s', but no matches were found.",
						   source->name, PgerpEcho(target_name), req->schema),
				  NULL);
	ls = lineage(source->relid, 0);
	lt = lineage(target->relid, 0);
	if (OidIsValid(ls->base) && OidIsValid(lt->base))
	{
		cands = fk_relationships(ls, lt, target, false, cands);
		/* a self-reference is found once as to-one, once as to-many */
		cands = fk_relationships(lt, ls, target, true, cands);
	}
	if (hint)
	{
		foreach(lc, cands)
			if (matches_hint(lfirst(lc), hint))
				kept = lappend(kept, lfirst(lc));
		cands = kept;
	}
	if (cands == NIL)
		RestRaise(400, "PGRST200",
				  psprintf("Could not find a relationship between '%s' and '%s' in the schema cache",
						   source->name, PgerpEcho(target_name)),
				  psprintf("Searched for a foreign key relationship between '%s' and '%s'%s in the schema '%s', but no matches were found.",
						   source->name, PgerpEcho(target_name),
						   hint ? psprintf(" using the hint '%s'", PgerpEcho(hint)) : "", req->schema),
				  NULL);
	if (list_length(cands) > 1)
		RestRaise(300, "PGRST201",
				  psprintf("Could not embed because more than one relationship was found for '%s' and '%s'",
						   source->name, target->name),
				  ambiguity_details(source, cands),
				  psprintf("Try changing '%s' to one of the following: %s. Find the desired relationship in the 'details' key.",
						   target->name,
						   hint_list(target, cands)));
	return linitial(cands);
}

/*
 * The key of a resource, named by its own columns: the primary key of its
 * base table, when the resource exposes every column of it (Location, PUT,
 * upserts).  NIL otherwise.
 */
List *
RestPrimaryKeyColumns(RestRel *rel)
{
	Lineage    *l = lineage(rel->relid, 0);
	Relation	base;
	Oid			pkidx;
	List	   *cols = NIL;

	if (!OidIsValid(l->base))
		return NIL;
	base = relation_open(l->base, AccessShareLock);
	pkidx = RelationGetPrimaryKeyIndex(base);
	if (OidIsValid(pkidx))
	{
		Relation	idx = index_open(pkidx, AccessShareLock);

		for (int i = 0; i < idx->rd_index->indnkeyatts; i++)
		{
			char	   *c = column_for(l, idx->rd_index->indkey.values[i]);

			if (c == NULL)
			{
				cols = NIL;
				break;
			}
			cols = lappend(cols, c);
		}
		index_close(idx, AccessShareLock);
	}
	relation_close(base, AccessShareLock);
	return cols;
}
