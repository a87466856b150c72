/*
 * The company tree, cached per backend one company at a time.
 *
 * A retail group has 200,000 stores: loading the whole tree would make the
 * first check of every backend cost as much as the tree is large.  Instead a
 * company is read when a check first meets it, by one primary-key probe of
 * erp.company (no SPI, no row security: this is the pack's own bookkeeping),
 * and kept.  A store created a moment ago is simply not cached yet, so a
 * subtree grant covers it at the next statement with nothing to invalidate;
 * a change of parent or of active, or a delete, sends a relcache
 * invalidation of erp.company (statement trigger), and acl.c then calls
 * TreeFlush() at the next command.
 *
 * The cache is bounded by pgerp.company_cache_size entries: past it, it is
 * emptied and refilled by use.  A backend that has probed more than
 * TREE_BULK_AFTER companies reads the rest in one scan instead.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "storage/bufmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

typedef struct TreeEntry
{
	int64		id;
	int64		parent;			/* 0: a root */
	bool		active;
	char		status;			/* simplehash's */
} TreeEntry;

#define SH_PREFIX tree
#define SH_ELEMENT_TYPE TreeEntry
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

int			pgerp_company_cache_size = 1000000;

static MemoryContext tree_cxt = NULL;
static tree_hash *tree = NULL;
static int	tree_misses = 0;		/* probes since the last flush */
static bool tree_complete = false;	/* every company was read in one scan */

/*
 * Past this many single probes a backend is evidently walking a large part
 * of the tree (a user on a whole subsidiary scanning a table of all its
 * stores): one sequential scan of erp.company then replaces the probes that
 * would follow, about 1 us a company instead of a few.
 */
#define TREE_BULK_AFTER 1024

/* erp.company's attribute numbers, found by name once */
static AttrNumber att_id = InvalidAttrNumber;
static AttrNumber att_parent = InvalidAttrNumber;
static AttrNumber att_active = InvalidAttrNumber;

void
TreeFlush(void)
{
	if (tree_cxt != NULL)
		MemoryContextReset(tree_cxt);
	tree = NULL;
	tree_misses = 0;
	tree_complete = false;
}

static void
tree_put(int64 company, int64 parent, bool active)
{
	bool		found;
	TreeEntry  *e = tree_insert(tree, company, &found);

	e->parent = parent;
	e->active = active;
}

static void
tree_attnums(Oid relid)
{
	if (att_id == InvalidAttrNumber)
	{
		att_id = get_attnum(relid, "id");
		att_parent = get_attnum(relid, "parent_id");
		att_active = get_attnum(relid, "active");
	}
}

/* Read every company in one scan (the latest snapshot), if the bound allows. */
static void
tree_read_all(void)
{
	Oid			relid = ErpRelid("company", false);
	Relation	rel = table_open(relid, AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tup;

	tree_attnums(relid);
	if ((double) RelationGetNumberOfBlocks(rel) * 100 > (double) pgerp_company_cache_size)
	{
		table_close(rel, AccessShareLock);	/* too large to keep whole: keep probing */
		tree_complete = true;
		return;
	}
	scan = systable_beginscan(rel, InvalidOid, false, GetLatestSnapshot(), 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		int64		id = DatumGetInt64(heap_getattr(tup, att_id, RelationGetDescr(rel), &isnull));
		Datum		p = heap_getattr(tup, att_parent, RelationGetDescr(rel), &isnull);
		int64		parent = isnull ? 0 : DatumGetInt64(p);
		bool		active = DatumGetBool(heap_getattr(tup, att_active, RelationGetDescr(rel), &isnull));

		if (tree->members >= (uint32) pgerp_company_cache_size)
			break;
		tree_put(id, parent, active);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	tree_complete = true;
}

/* Read one company by primary key with the latest snapshot; false if absent. */
static bool
tree_read(int64 company, int64 *parent, bool *active)
{
	Oid			relid = ErpRelid("company", false);
	Relation	rel = table_open(relid, AccessShareLock);
	Oid			pkey = RelationGetPrimaryKeyIndex(rel);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	tree_attnums(relid);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(company));
	scan = systable_beginscan(rel, pkey, OidIsValid(pkey), GetLatestSnapshot(), 1, &key);
	if (!OidIsValid(pkey))
		elog(ERROR, "erp.company has no primary key");
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		p = heap_getattr(tup, att_parent, RelationGetDescr(rel), &isnull);

		*parent = isnull ? 0 : DatumGetInt64(p);
		*active = DatumGetBool(heap_getattr(tup, att_active, RelationGetDescr(rel), &isnull));
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* AclParentLookup over the cache. */
bool
TreeLookup(void *arg, int64 company, int64 *parent, bool *active)
{
	TreeEntry  *e;

	if (tree_cxt == NULL)
		tree_cxt = AllocSetContextCreate(TopMemoryContext, "pgerp company tree", ALLOCSET_DEFAULT_SIZES);
	if (tree == NULL)
		tree = tree_create(tree_cxt, 1024, NULL);
	e = tree_lookup(tree, company);
	if (e != NULL)
	{
		*parent = e->parent;
		*active = e->active;
		return true;
	}
	if (!tree_complete && ++tree_misses > TREE_BULK_AFTER)
	{
		tree_read_all();
		if ((e = tree_lookup(tree, company)) != NULL)
		{
			*parent = e->parent;
			*active = e->active;
			return true;
		}
	}
	if (!tree_read(company, parent, active))
		return false;			/* not cached: it may be created later */
	if (tree->members >= (uint32) pgerp_company_cache_size)
	{
		TreeFlush();
		tree = tree_create(tree_cxt, 1024, NULL);
	}
	tree_put(company, *parent, *active);
	return true;
}

/*
 * Is company the root or below it?  Unknown companies are within nothing.
 * Callable without any ACL check before it (a superuser's company_within),
 * so it applies pending invalidations of the tree itself.
 */
bool
TreeWithin(int64 company, int64 root)
{
	AclCommand();
	for (int depth = 0; depth < ACL_MAX_TREE_DEPTH; depth++)
	{
		int64		parent;
		bool		active;

		if (company == root)
			return true;
		if (company == 0 || !TreeLookup(NULL, company, &parent, &active))
			return false;
		company = parent;
	}
	return false;
}
