/*
 * The ACL cache: per user, their grants (company, include_children, role,
 * permission patterns), their active flag and token generation, and the
 * verdicts already decided for them, company by company.
 *
 * Why this shape (docs/architecture.md, "Identity switches"):
 *   - Row security policies call erp.company_allowed(company_id, '<code>')
 *     per row, and nothing identity-specific is folded into plans: a plan
 *     kept by one user is valid for the next, so switching identity costs a
 *     hash lookup, not a re-plan of every statement of the backend.
 *   - A grant on a subtree is held as that one grant.  Whether a company is
 *     below it is decided when a check first meets that company (by walking
 *     up the company tree, tree.c) and the verdict is kept per user and per
 *     permission: cost grows with what a user touches, never with the number
 *     of companies in the database.
 *   - Users are kept in an LRU of pgerp.acl_cache_users entries, each in its
 *     own memory context; least recently used users are also dropped while
 *     the verdict bitmaps of all exceed pgerp.acl_cache_memory.
 *
 * Invalidation.  Statement triggers on erp.user_role, erp.role and
 * erp.app_user send a relcache invalidation of their table; every backend
 * reads it at its next command (AclCommand(), also inside an open
 * transaction where no new lock is taken) and then reloads a cached user at
 * that user's next use.  A reload that finds the same grants keeps the
 * user's verdicts: in effect, only a change of that user's grants, roles or
 * companies drops them.  erp.company's trigger fires on a change of parent
 * or active and on delete (not on insert: a new company is in no cache), and
 * empties the tree and every verdict.
 *
 * Consistency: a user's entry is checked at most once per command, so one
 * statement decides every row with one version of the rights; every user
 * switch and every reload that changes content bumps acl_epoch, which the
 * per-row callers compare before they use what they cached.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/ilist.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pgerp/core.h"
#include "pgerp/rbac.h"

/* verdicts of one matcher for one user: company -> allowed */
typedef struct VerdictEntry
{
	int64		company;
	bool		allowed;
	char		status;
} VerdictEntry;

#define SH_PREFIX verdict
#define SH_ELEMENT_TYPE VerdictEntry
#define SH_KEY_TYPE int64
#define SH_KEY company
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * Verdicts of company ids below DENSE_LIMIT live in two bitmaps indexed by
 * id (identity columns hand out dense ids): a full scan then tests each row
 * against a few kilobytes that stay in the CPU cache, where a hash table of
 * 100,000 entries missed it on every row.  Other ids go to the hash table.
 */
#define DENSE_LIMIT ((int64) 1 << 26)

typedef struct VerdictMap
{
	char	   *key;			/* "c:<code>", "r:<role>,<role>", "a:" */
	AclMatcher	matcher;
	uint64	   *known;			/* bit per id: decided */
	uint64	   *allowed;		/* bit per id: allowed */
	int64		nwords;
	verdict_hash *hash;
	/* the companies enumerated for this matcher, valid for one command */
	int64	   *list;
	int			nlist;
	TimestampTz list_stmt;
	CommandId	list_cid;
	struct VerdictMap *next;
} VerdictMap;

typedef struct UserAcl
{
	int64		user_id;		/* hash key */
	bool		loaded;
	MemoryContext cxt;			/* grants and verdicts */
	bool		active;
	int64		generation;
	AclGrant   *grants;
	int			ngrants;
	uint32		content;		/* hash of active and grants */
	uint64		loaded_epoch;	/* tables_epoch when loaded */
	TimestampTz checked_stmt;
	CommandId	checked_cid;
	VerdictMap *maps;
	Size		bitmap_bytes;	/* of its verdict bitmaps, for the memory bound */
	dlist_node	lru;
} UserAcl;

int			pgerp_acl_cache_users = 1000;
int			pgerp_acl_cache_memory = 65536;	/* kB of verdict bitmaps per backend */
static Size acl_bitmap_bytes = 0;

static uint64 acl_epoch = 1;		/* bumped when cached pointers may be stale */
static uint64 tables_epoch = 1; /* bumped by invalidations of the ACL tables */
static bool tree_stale = false; /* erp.company changed: flush at next command */

static HTAB *users = NULL;
static dlist_head lru = DLIST_STATIC_INIT(lru);
static MemoryContext acl_top = NULL;
static UserAcl nobody;			/* user 0: no grants */

static TimestampTz cmd_stmt = 0;
static CommandId cmd_cid = InvalidCommandId;

#define ACL_NRELS 4
static const char *const acl_relnames[ACL_NRELS] = {"user_role", "role", "app_user", "company"};
static Oid	acl_relids[ACL_NRELS];

static SPIPlanPtr load_plan = NULL;
static SPIPlanPtr descend_plan = NULL;

static const char load_sql[] =
"SELECT u.active, u.token_generation, ur.company_id, ur.include_children, r.code, r.permissions"
"  FROM erp.app_user u"
"  LEFT JOIN erp.user_role ur ON ur.user_id OPERATOR(pg_catalog.=) u.id"
"  LEFT JOIN erp.role r ON r.id OPERATOR(pg_catalog.=) ur.role_id"
" WHERE u.id OPERATOR(pg_catalog.=) $1"
" ORDER BY ur.company_id, r.code";

/* the active companies of the given subtrees */
static const char descend_sql[] =
"WITH RECURSIVE d(id) AS ("
"  SELECT pg_catalog.unnest($1::pg_catalog.int8[])"
"  UNION"
"  SELECT c.id FROM erp.company c JOIN d ON c.parent_id OPERATOR(pg_catalog.=) d.id"
") SELECT d.id FROM d JOIN erp.company c ON c.id OPERATOR(pg_catalog.=) d.id AND c.active";

static void
acl_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid))
	{
		tables_epoch++;
		tree_stale = true;
		return;
	}
	for (int i = 0; i < ACL_NRELS; i++)
		if (acl_relids[i] == relid)
		{
			if (i == ACL_NRELS - 1)
				tree_stale = true;
			else
				tables_epoch++;
			return;
		}
}

/* The acting identity changed: per-row callers must look their user up again. */
static void
acl_session_changed(void)
{
	acl_epoch++;
}

void
AclInit(void)
{
	DefineCustomIntVariable("pgerp.acl_cache_users",
							"Users whose rights each backend keeps in memory (least recently used dropped first).",
							NULL, &pgerp_acl_cache_users, 1000, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.acl_cache_memory",
							"Memory each backend may spend on cached verdicts before it drops least recently used users.",
							NULL, &pgerp_acl_cache_memory, 65536, 1024, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("pgerp.company_cache_size",
							"Companies of the tree each backend keeps in memory before it starts over.",
							NULL, &pgerp_company_cache_size, 1000000, 1000, INT_MAX / 4,
							PGC_SUSET, 0, NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(acl_relcache_callback, (Datum) 0);
	SessionRegisterChangeCallback(acl_session_changed);
	nobody.loaded = true;
	nobody.active = false;
}

/* Drop every user's verdicts (the tree changed); grants stay. */
static void
drop_all_verdicts(void)
{
	HASH_SEQ_STATUS st;
	UserAcl    *u;

	TreeFlush();
	if (users == NULL)
		return;
	hash_seq_init(&st, users);
	while ((u = hash_seq_search(&st)) != NULL)
		for (VerdictMap *m = u->maps; m != NULL; m = m->next)
		{
			verdict_reset(m->hash);
			if (m->nwords > 0)
				memset(m->known, 0, sizeof(uint64) * m->nwords);
			m->nlist = 0;
			m->list_stmt = 0;
		}
	acl_epoch++;
}

/*
 * AclCommand(), once per command: read pending invalidations even when no new lock is
 * taken, so that a change committed elsewhere counts from the next statement
 * on, and apply a tree change.
 */
void
AclCommand(void)
{
	TimestampTz stmt = GetCurrentStatementStartTimestamp();
	CommandId	cid = GetCurrentCommandId(false);

	if (stmt == cmd_stmt && cid == cmd_cid)
		return;
	cmd_stmt = stmt;
	cmd_cid = cid;
	if (!OidIsValid(acl_relids[0]))
		for (int i = 0; i < ACL_NRELS; i++)
			acl_relids[i] = ErpRelid(acl_relnames[i], false);
	AcceptInvalidationMessages();
	if (tree_stale)
	{
		tree_stale = false;
		drop_all_verdicts();
	}
}

static char **
text_array_strings(Datum array_datum, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int			k;
	char	  **out;

	deconstruct_array(DatumGetArrayTypeP(array_datum), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &k);
	out = palloc(sizeof(char *) * Max(k, 1));
	*n = 0;
	for (int i = 0; i < k; i++)
		if (!nulls[i])
			out[(*n)++] = TextDatumGetCString(elems[i]);
	return out;
}

static uint32
grants_hash(bool active, const AclGrant *g, int n)
{
	uint32		h = active ? 0x9e3779b9 : 0;

	for (int i = 0; i < n; i++)
	{
		h = hash_combine(h, hash_bytes((const unsigned char *) &g[i].company_id, sizeof(int64)));
		h = hash_combine(h, g[i].subtree ? 1 : 2);
		h = hash_combine(h, hash_bytes((const unsigned char *) g[i].role, strlen(g[i].role)));
		for (int j = 0; j < g[i].npatterns; j++)
			h = hash_combine(h, hash_bytes((const unsigned char *) g[i].patterns[j], strlen(g[i].patterns[j])));
	}
	return h;
}

/* Run the load query as the owner with a fresh snapshot; rows are in SPI_tuptable. */
static void
load_rows(int64 user)
{
	Datum		arg = Int64GetDatum(user);
	Oid			t = INT8OID;
	Snapshot	snap;
	int			ret;

	(void) PgerpKeptPlan(&load_plan, load_sql, 1, &t);
	/* a grant committed a moment ago must count, even in REPEATABLE READ */
	snap = IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot();
	ret = SPI_execute_snapshot(load_plan, &arg, NULL, snap, InvalidSnapshot, true, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "ACL query failed: %s", SPI_result_code_string(ret));
}

/*
 * Read a user's state and grants.  Built in a context under the transaction
 * until complete, so an error mid-load leaks nothing and keeps the old state.
 */
static void
acl_load(UserAcl *u)
{
	MemoryContext newcxt;
	MemoryContext old;
	OwnerContext oc;
	uint64		epoch = tables_epoch;
	AclGrant   *grants;
	int			n = 0;
	bool		exists;
	bool		active = false;
	int64		generation = 0;
	uint32		content;

	newcxt = AllocSetContextCreate(CurTransactionContext, "pgerp user ACL", ALLOCSET_SMALL_SIZES);
	OwnerContextBegin(&oc);
	SPI_connect();
	load_rows(u->user_id);
	old = MemoryContextSwitchTo(newcxt);
	exists = SPI_processed > 0;
	grants = palloc0(sizeof(AclGrant) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		AclGrant   *g;
		Datum		perms;

		active = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		generation = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		g = &grants[n];
		g->company_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		if (isnull)
			continue;			/* a user without grants */
		g->subtree = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		g->role = TextDatumGetCString(SPI_getbinval(tup, desc, 5, &isnull));
		perms = SPI_getbinval(tup, desc, 6, &isnull);
		g->patterns = isnull ? NULL : text_array_strings(perms, &g->npatterns);
		n++;
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
	OwnerContextEnd(&oc);

	if (!exists || !active)
		n = 0;					/* a disabled user holds nothing */
	content = grants_hash(active, grants, n);
	u->active = exists && active;
	u->generation = generation;
	if (u->loaded && u->content == content)
		MemoryContextDelete(newcxt);	/* same rights: keep the verdicts */
	else
	{
		MemoryContextSetParent(newcxt, acl_top);
		if (u->cxt != NULL)
			MemoryContextDelete(u->cxt);
		u->cxt = newcxt;
		u->grants = grants;
		u->ngrants = n;
		u->maps = NULL;
		acl_bitmap_bytes -= u->bitmap_bytes;
		u->bitmap_bytes = 0;
		u->content = content;
		acl_epoch++;
	}
	u->loaded = true;
	/* an invalidation that arrived while we read makes the next use reload */
	u->loaded_epoch = epoch;
}

/* Drop least recently used users beyond the bounds, never `keep`. */
static void
acl_evict(UserAcl *keep)
{
	while (hash_get_num_entries(users) > pgerp_acl_cache_users ||
		   acl_bitmap_bytes > (Size) pgerp_acl_cache_memory * 1024)
	{
		UserAcl    *victim = dlist_container(UserAcl, lru, dlist_tail_node(&lru));

		if (victim == keep)
			break;
		dlist_delete(&victim->lru);
		acl_bitmap_bytes -= victim->bitmap_bytes;
		if (victim->cxt != NULL)
			MemoryContextDelete(victim->cxt);
		hash_search(users, &victim->user_id, HASH_REMOVE, NULL);
		acl_epoch++;
	}
}

/* The rights of `user`, checked against invalidations once per command. */
static UserAcl *
acl_for(int64 user)
{
	UserAcl    *u;
	bool		found;

	AclCommand();
	if (user == 0)
		return &nobody;
	if (users == NULL)
	{
		HASHCTL		ctl;

		acl_top = AllocSetContextCreate(TopMemoryContext, "pgerp ACL", ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(UserAcl);
		ctl.hcxt = acl_top;
		users = hash_create("pgerp ACL users", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	u = hash_search(users, &user, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) u) + sizeof(int64), 0, sizeof(UserAcl) - sizeof(int64));
		dlist_push_head(&lru, &u->lru);
	}
	else if (dlist_head_node(&lru) != &u->lru)
	{
		dlist_delete(&u->lru);
		dlist_push_head(&lru, &u->lru);
	}
	if (u->checked_stmt == cmd_stmt && u->checked_cid == cmd_cid && u->loaded)
		return u;
	if (!u->loaded || u->loaded_epoch != tables_epoch)
		acl_load(u);
	u->checked_stmt = cmd_stmt;
	u->checked_cid = cmd_cid;
	acl_evict(u);
	return u;
}

static void
matcher_key(StringInfo buf, const AclMatcher *m)
{
	switch (m->kind)
	{
		case ACL_MATCH_ANY:
			appendStringInfoString(buf, "a:");
			break;
		case ACL_MATCH_CODE:
			appendStringInfo(buf, "c:%s", m->code);
			break;
		case ACL_MATCH_ROLES:
			appendStringInfoString(buf, "r:");
			for (int i = 0; i < m->nroles; i++)
				appendStringInfo(buf, "%s,", m->roles[i]);
			break;
	}
}

/* The verdict map of a matcher for a user, created on first use. */
static VerdictMap *
map_for(UserAcl *u, const AclMatcher *m)
{
	StringInfoData key;
	VerdictMap *map;
	MemoryContext old;

	/* a code is found without building its key (the common case) */
	for (map = u->maps; m->kind != ACL_MATCH_ROLES && map != NULL; map = map->next)
		if (map->matcher.kind == m->kind &&
			(m->kind == ACL_MATCH_ANY || strcmp(map->matcher.code, m->code) == 0))
			return map;
	initStringInfo(&key);
	matcher_key(&key, m);
	for (map = u->maps; map != NULL; map = map->next)
		if (strcmp(map->key, key.data) == 0)
		{
			pfree(key.data);
			return map;
		}
	if (u->cxt == NULL)
		u->cxt = AllocSetContextCreate(acl_top, "pgerp user ACL", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(u->cxt);
	map = palloc0(sizeof(VerdictMap));
	map->key = pstrdup(key.data);
	map->matcher.kind = m->kind;
	map->matcher.code = m->code ? pstrdup(m->code) : NULL;
	map->matcher.nroles = m->nroles;
	map->matcher.roles = palloc(sizeof(char *) * Max(m->nroles, 1));
	for (int i = 0; i < m->nroles; i++)
		map->matcher.roles[i] = pstrdup(m->roles[i]);
	map->hash = verdict_create(u->cxt, 64, NULL);
	map->next = u->maps;
	u->maps = map;
	MemoryContextSwitchTo(old);
	pfree(key.data);
	return map;
}

/* Grow the bitmaps to cover `company` (below DENSE_LIMIT), zero-filled. */
static void
dense_grow(UserAcl *u, VerdictMap *map, int64 company)
{
	int64		need = company / 64 + 1;
	int64		words = Max(need, Max(map->nwords * 2, 64));
	MemoryContext cxt = GetMemoryChunkContext(map);

	words = Min(words, DENSE_LIMIT / 64);
	if (map->nwords == 0)
	{
		map->known = MemoryContextAllocZero(cxt, sizeof(uint64) * words);
		map->allowed = MemoryContextAllocZero(cxt, sizeof(uint64) * words);
	}
	else
	{
		map->known = repalloc(map->known, sizeof(uint64) * words);
		map->allowed = repalloc(map->allowed, sizeof(uint64) * words);
		memset(map->known + map->nwords, 0, sizeof(uint64) * (words - map->nwords));
		memset(map->allowed + map->nwords, 0, sizeof(uint64) * (words - map->nwords));
	}
	u->bitmap_bytes += 2 * sizeof(uint64) * (words - map->nwords);
	acl_bitmap_bytes += 2 * sizeof(uint64) * (words - map->nwords);
	map->nwords = words;
}

/* Decide (or recall) the verdict of one company. */
static bool
map_decide(UserAcl *u, VerdictMap *map, int64 company)
{
	bool		dense = company >= 0 && company < DENSE_LIMIT;
	uint64		bit = UINT64CONST(1) << (company & 63);
	VerdictEntry *e;
	AclVerdict	v;
	bool		found;
	bool		allowed;

	if (dense && company / 64 < map->nwords && (map->known[company / 64] & bit))
		return (map->allowed[company / 64] & bit) != 0;
	if (!dense && (e = verdict_lookup(map->hash, company)) != NULL)
		return e->allowed;
	v = AclDecide(u->grants, u->ngrants, &map->matcher, company, TreeLookup, NULL);
	if (v == ACL_UNKNOWN_COMPANY)
		return false;			/* not cached: it may exist at the next statement */
	/* ACL_TOO_DEEP (a cycle the tree trigger refuses) denies: no error, the test is leakproof */
	allowed = (v == ACL_ALLOWED);
	if (dense)
	{
		if (company / 64 >= map->nwords)
			dense_grow(u, map, company);
		map->known[company / 64] |= bit;
		if (allowed)
			map->allowed[company / 64] |= bit;
		else
			map->allowed[company / 64] &= ~bit;
	}
	else
	{
		e = verdict_insert(map->hash, company, &found);
		e->allowed = allowed;
	}
	return allowed;
}

/*
 * The map of the last code asked for (by C callers and by per-row call sites
 * when they bind): valid while no identity switch, reload or eviction
 * happened (acl_epoch) and the user's entry was loaded after the last
 * invalidation of the ACL tables (read once per command by AclCommand()),
 * so a kept plan executed again and again by one user binds with no lookup.
 */
static struct
{
	uint64		epoch;
	int64		user;
	AclMatchKind kind;
	char		code[NAMEDATALEN * 2];
	UserAcl    *acl;
	VerdictMap *map;
} last_map;

/*
 * The acting user's map for a matcher, NULL when the user holds nothing;
 * *acl_out is the user's entry.
 */
static VerdictMap *
map_cached(const AclMatcher *m, UserAcl **acl_out)
{
	int64		user = SessionUserId();
	bool		cacheable = m->kind == ACL_MATCH_ANY ||
		(m->kind == ACL_MATCH_CODE && strlen(m->code) < sizeof(last_map.code));

	AclCommand();
	if (!(cacheable && last_map.epoch == acl_epoch && last_map.user == user &&
		  last_map.acl->loaded_epoch == tables_epoch && last_map.kind == m->kind &&
		  (m->kind == ACL_MATCH_ANY || strcmp(last_map.code, m->code) == 0)))
	{
		UserAcl    *u = acl_for(user);

		if (u->ngrants == 0)
		{
			*acl_out = u;
			return NULL;
		}
		last_map.map = map_for(u, m);
		last_map.acl = u;
		last_map.epoch = acl_epoch;
		last_map.user = user;
		last_map.kind = m->kind;
		if (cacheable && m->kind == ACL_MATCH_CODE)
			strcpy(last_map.code, m->code);
		else if (!cacheable)
			last_map.epoch = 0;
	}
	*acl_out = last_map.acl;
	return last_map.map;
}

static bool
acl_allows(int64 company, const AclMatcher *m)
{
	UserAcl    *u;
	VerdictMap *map = map_cached(m, &u);

	return map != NULL && map_decide(u, map, company);
}

bool
AclCompanyAllowed(int64 company_id)
{
	AclMatcher	m = {ACL_MATCH_ANY, NULL, 0, NULL};

	return acl_allows(company_id, &m);
}

bool
AclHasPermission(int64 company_id, const char *code)
{
	AclMatcher	m = {ACL_MATCH_CODE, code, 0, NULL};

	return acl_allows(company_id, &m);
}

/* Is the user active, and which token generation do they accept? */
bool
AclUserState(int64 user_id, int64 *token_generation)
{
	UserAcl    *u = acl_for(user_id);

	*token_generation = u->generation;
	return u->active;
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

static int
unique_sorted(int64 *ids, int n)
{
	int			k = 0;

	for (int i = 0; i < n; i++)
		if (k == 0 || ids[k - 1] != ids[i])
			ids[k++] = ids[i];
	return k;
}

/*
 * The companies (ascending) a matcher allows: the grants' companies, and
 * the subtrees of include_children grants.  Grows with what the user holds;
 * kept for the rest of the command.
 */
static int64 *
acl_enumerate(const AclMatcher *m, int *n)
{
	UserAcl    *u = acl_for(SessionUserId());
	VerdictMap *map;
	Datum	   *roots;
	int			nroots = 0;
	int64	   *ids;
	int			k = 0;

	if (u->ngrants == 0)
	{
		*n = 0;
		return palloc(sizeof(int64));
	}
	map = map_for(u, m);
	if (map->list_stmt == cmd_stmt && map->list_cid == cmd_cid && map->list != NULL)
	{
		*n = map->nlist;
		return map->list;
	}
	roots = palloc(sizeof(Datum) * u->ngrants);
	for (int i = 0; i < u->ngrants; i++)
		if (u->grants[i].subtree && AclGrantMatches(&u->grants[i], &map->matcher))
			roots[nroots++] = Int64GetDatum(u->grants[i].company_id);
	ids = MemoryContextAlloc(u->cxt, sizeof(int64) * (u->ngrants + 1));
	for (int i = 0; i < u->ngrants; i++)
		if (!u->grants[i].subtree && map_decide(u, map, u->grants[i].company_id))
			ids[k++] = u->grants[i].company_id;
	if (nroots > 0)
	{
		OwnerContext oc;
		Oid			t = INT8ARRAYOID;
		Datum		arg = PointerGetDatum(construct_array(roots, nroots, INT8OID, sizeof(int64),
														  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

		OwnerContextBegin(&oc);
		SPI_connect();
		(void) PgerpKeptPlan(&descend_plan, descend_sql, 1, &t);
		if (SPI_execute_snapshot(descend_plan, &arg, NULL, GetLatestSnapshot(), InvalidSnapshot,
								 true, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "company subtree query failed");
		ids = repalloc(ids, sizeof(int64) * (k + SPI_processed + 1));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;

			ids[k++] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		}
		SPI_finish();
		OwnerContextEnd(&oc);
	}
	qsort(ids, k, sizeof(int64), int64_cmp);
	k = unique_sorted(ids, k);
	if (map->list != NULL)
		pfree(map->list);
	map->list = ids;
	map->nlist = k;
	map->list_stmt = cmd_stmt;
	map->list_cid = cmd_cid;
	*n = k;
	return ids;
}

/*
 * The company a sign-in starts in: the smallest active company granted
 * directly, else the smallest one the user reaches.
 */
int64
AclDefaultCompany(void)
{
	UserAcl    *u = acl_for(SessionUserId());
	AclMatcher	m = {ACL_MATCH_ANY, NULL, 0, NULL};
	int			n;
	int64	   *ids;

	for (int i = 0; i < u->ngrants; i++)
		if (AclCompanyAllowed(u->grants[i].company_id))
			return u->grants[i].company_id;
	ids = acl_enumerate(&m, &n);
	return n > 0 ? ids[0] : 0;
}

/* ------------------------------------------------------------ per-row test */

/*
 * What a call site of erp.company_allowed() keeps between rows: the verdict
 * map of its user and code, valid while acl_epoch stays (a change of acting
 * user bumps it too).
 */
typedef struct AllowedCache
{
	uint64		epoch;
	bool		key_stable;		/* the code argument cannot change between calls */
	bool		nothing;		/* the user holds no grant: every answer is false */
	UserAcl    *acl;
	VerdictMap *map;
	char	   *key_text;		/* the code or roles argument, as given */
	int			key_len;
} AllowedCache;

/* The call site's cache, re-keyed if its (non-constant) code argument changed. */
static AllowedCache *
allowed_cache(FunctionCallInfo fcinfo, text *key)
{
	AllowedCache *c = (AllowedCache *) fcinfo->flinfo->fn_extra;
	int			len = VARSIZE_ANY_EXHDR(key);

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AllowedCache));
		c->key_stable = get_fn_expr_arg_stable(fcinfo->flinfo, 1);
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->key_text == NULL || c->key_len != len || memcmp(c->key_text, VARDATA_ANY(key), len) != 0)
	{
		if (c->key_text != NULL)
			pfree(c->key_text);
		c->key_text = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len + 1);
		memcpy(c->key_text, VARDATA_ANY(key), len);
		c->key_text[len] = '\0';
		c->key_len = len;
		c->epoch = 0;			/* rebind */
	}
	return c;
}

/* Bind the call site to its user's verdict map for this matcher. */
static void
allowed_bind(AllowedCache *c, const AclMatcher *m)
{
	c->map = map_cached(m, &c->acl);
	c->nothing = c->map == NULL;
	c->epoch = acl_epoch;
}

/*
 * The per-row fast path: a bound call site with a constant code, a company
 * already decided.  -1 when the slow path must run.
 */
static inline int
allowed_fast(FunctionCallInfo fcinfo)
{
	AllowedCache *c = (AllowedCache *) fcinfo->flinfo->fn_extra;
	int64		company;
	VerdictMap *m;

	if (unlikely(c == NULL || c->epoch != acl_epoch || !c->key_stable ||
				 fcinfo->args[0].isnull || fcinfo->args[1].isnull))
		return -1;
	if (c->nothing)
		return 0;
	company = DatumGetInt64(fcinfo->args[0].value);
	m = c->map;
	if (likely(company >= 0 && company / 64 < m->nwords &&
			   (m->known[company / 64] & (UINT64CONST(1) << (company & 63)))))
		return (m->allowed[company / 64] >> (company & 63)) & 1;
	return -1;
}

static bool
allowed_test(AllowedCache *c, int64 company)
{
	return !c->nothing && map_decide(c->acl, c->map, company);
}

static char *
check_code(const char *code)
{
	if (!PermissionIsValid(code))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid permission code \"%s\"", PgerpEcho(code)),
				 errdetail("A permission code is <schema>.<table>:<action>, for example stock.move:read.")));
	return (char *) code;
}

/* A role list argument as a matcher (roles sorted, so one key per set). */
static AclMatcher
roles_matcher(ArrayType *arr)
{
	AclMatcher	m = {ACL_MATCH_ROLES, NULL, 0, NULL};

	m.roles = text_array_strings(PointerGetDatum(arr), &m.nroles);
	qsort(m.roles, m.nroles, sizeof(char *), pg_qsort_strcmp);
	return m;
}

/*
 * The per-row tests: the fast path, else bind the call site to the user's
 * map for its code (or role list) and decide.
 */
static Datum
allowed_call(FunctionCallInfo fcinfo, AclMatchKind kind)
{
	AllowedCache *c;
	int			fast = allowed_fast(fcinfo);

	if (likely(fast >= 0))
		PG_RETURN_BOOL(fast == 1);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg(kind == ACL_MATCH_ROLES ? "role codes must not be null" : "permission code must not be null")));
	c = allowed_cache(fcinfo, (text *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1)));
	if (c->epoch != acl_epoch)
	{
		AclMatcher	m = {ACL_MATCH_CODE, NULL, 0, NULL};

		if (kind == ACL_MATCH_ROLES)
			m = roles_matcher(PG_GETARG_ARRAYTYPE_P(1));
		else
			m.code = check_code(c->key_text);
		allowed_bind(c, &m);
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(allowed_test(c, PG_GETARG_INT64(0)));
}

/*
 * erp.company_allowed(company_id, '<code>'): what every company policy
 * calls per row.  The hot path is a few comparisons and a bit test.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_company_allowed);
Datum
pgerp_rbac_company_allowed(PG_FUNCTION_ARGS)
{
	return allowed_call(fcinfo, ACL_MATCH_CODE);
}

/*
 * erp.role_allowed(company_id, '{<role>,...}'): does the acting user hold
 * one of these roles on the row's company?  What role record rules call per
 * row.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_role_allowed);
Datum
pgerp_rbac_role_allowed(PG_FUNCTION_ARGS)
{
	return allowed_call(fcinfo, ACL_MATCH_ROLES);
}

/* ------------------------------------------------------------ SQL readers */

static void
no_user_error(const char *code)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: no user is signed in"),
			 errdetail("Permission \"%s\" is required.", PgerpEcho(code)),
			 errhint("Call erp.sign_in() or erp.use_token() first.")));
}

/*
 * Raise 42501 unless the acting user holds `code` on `company_id` (0: the
 * current company).  A superuser with nobody signed in passes: that is how a
 * DBA bootstraps the first companies and users.
 */
void
AclRequire(const char *code, int64 company_id)
{
	if (SessionUserId() == 0)
	{
		if (CallerIsSuperuser())
			return;
		no_user_error(code);
	}
	if (company_id == 0)
		company_id = SessionCompanyId();
	if (company_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: no company is selected"),
				 errdetail("Permission \"%s\" is required.", PgerpEcho(code)),
				 errhint("Call erp.switch_company() first.")));
	if (!AclHasPermission(company_id, code))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for \"%s\"", PgerpEcho(code)),
				 errdetail("Permission \"%s\" is required on company %lld.", PgerpEcho(code), (long long) company_id)));
}

static char *
code_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("permission code must not be null")));
	return check_code(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

static ArrayType *
int8_array(int64 *vals, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(vals[i]);
	return construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

static ArrayType *
enumerated(const AclMatcher *m)
{
	int			n;
	int64	   *ids = acl_enumerate(m, &n);

	return int8_array(ids, n);
}

PG_FUNCTION_INFO_V1(pgerp_rbac_allowed_company_ids);
Datum
pgerp_rbac_allowed_company_ids(PG_FUNCTION_ARGS)
{
	AclMatcher	m = {ACL_MATCH_ANY, NULL, 0, NULL};

	PG_RETURN_ARRAYTYPE_P(enumerated(&m));
}

PG_FUNCTION_INFO_V1(pgerp_rbac_has_permission);
Datum
pgerp_rbac_has_permission(PG_FUNCTION_ARGS)
{
	char	   *code = code_arg(fcinfo, 0);
	int64		company = SessionCompanyId();

	if (SessionUserId() == 0 || company == 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(AclHasPermission(company, code));
}

PG_FUNCTION_INFO_V1(pgerp_rbac_permitted_companies);
Datum
pgerp_rbac_permitted_companies(PG_FUNCTION_ARGS)
{
	AclMatcher	m = {ACL_MATCH_CODE, code_arg(fcinfo, 0), 0, NULL};

	PG_RETURN_ARRAYTYPE_P(enumerated(&m));
}

PG_FUNCTION_INFO_V1(pgerp_rbac_role_companies);
Datum
pgerp_rbac_role_companies(PG_FUNCTION_ARGS)
{
	AclMatcher	m;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role codes must not be null")));
	m = roles_matcher(PG_GETARG_ARRAYTYPE_P(0));
	PG_RETURN_ARRAYTYPE_P(enumerated(&m));
}

PG_FUNCTION_INFO_V1(pgerp_rbac_require);
Datum
pgerp_rbac_require(PG_FUNCTION_ARGS)
{
	char	   *code = code_arg(fcinfo, 0);

	AclRequire(code, PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1));
	PG_RETURN_VOID();
}

/*
 * erp.permission_covers(p_company, p_patterns): does the acting user hold, on
 * that company, everything the given role patterns grant?  A grant may not
 * hand out more than the granter has.  A pattern is covered when one of the
 * granter's patterns matches its text, '*' included.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_covers);
Datum
pgerp_rbac_covers(PG_FUNCTION_ARGS)
{
	int64		company = PG_GETARG_INT64(0);
	Datum	   *elems;
	bool	   *nulls;
	int			k;

	if (SessionUserId() == 0)
		PG_RETURN_BOOL(CallerIsSuperuser());
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &k);
	for (int j = 0; j < k; j++)
		if (!nulls[j] && !AclHasPermission(company, TextDatumGetCString(elems[j])))
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/*
 * 0.1.0's plan-time folding support functions.  Nothing is folded any more
 * (a plan must stay valid for every identity); the symbols remain because
 * 0.1.0's install script names them, and they decline every request.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_permitted_companies_support);
Datum
pgerp_rbac_permitted_companies_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(NULL);
}

PG_FUNCTION_INFO_V1(pgerp_rbac_company_allowed_support);
Datum
pgerp_rbac_company_allowed_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(NULL);
}

PG_FUNCTION_INFO_V1(pgerp_rbac_role_companies_support);
Datum
pgerp_rbac_role_companies_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(NULL);
}

/*
 * Statement trigger on the ACL tables (and erp.crypto_key, erp.secret):
 * tell every backend, through a relcache invalidation of the table, that its
 * caches of that table are stale.
 */
PG_FUNCTION_INFO_V1(pgerp_rbac_acl_changed);
Datum
pgerp_rbac_acl_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("erp._acl_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
