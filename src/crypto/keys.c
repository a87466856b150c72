/*
 * Data keys: one random 256-bit key per context (schema.table.column) and
 * version, shared by every company (values carry their company in the
 * authenticated header instead), stored only wrapped by the master key in
 * erp.crypto_key, read as the extension owner. Version 1 of a key is made
 * only for a column erp.encrypt_column() registered, by its conversion or by
 * the column's first write; never by erp.encrypt() or erp.blind_index(). Unwrapped keys are cached by id in backend memory (an
 * id's key never changes) and wiped when the master key changes.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "pgerp/core.h"
#include "pgerp/crypto.h"

typedef struct KeyEntry
{
	int64		id;				/* hash key */
	char		context[NAMEDATALEN * 3];
	DataKey		key;
} KeyEntry;

static HTAB *key_cache = NULL;

/* context -> id of its current key; dropped when erp.crypto_key changes */
typedef struct CurrentEntry
{
	char		context[NAMEDATALEN * 3];	/* hash key */
	int64		id;
} CurrentEntry;

static HTAB *current_cache = NULL;
static Oid	crypto_key_relid = InvalidOid;

static void wipe_key_cache(void);

/* Changes of erp.crypto_key (a retirement) must reach every cached key: watch it. */
static void
watch_keys(void)
{
	if (!OidIsValid(crypto_key_relid))
		crypto_key_relid = ErpRelid("crypto_key", false);
}

/* Keys changed (rotated, retired, re-wrapped): read them again. */
static void
crypto_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == crypto_key_relid)
	{
		if (current_cache != NULL)
		{
			hash_destroy(current_cache);
			current_cache = NULL;
		}
		wipe_key_cache();
	}
}

void
CryptoKeysInit(void)
{
	CacheRegisterRelcacheCallback(crypto_relcache_callback, (Datum) 0);
}

static void
remember_current(const char *context, int64 id)
{
	CurrentEntry *e;

	if (strlen(context) >= NAMEDATALEN * 3)
		return;
	if (current_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = NAMEDATALEN * 3;
		ctl.entrysize = sizeof(CurrentEntry);
		current_cache = hash_create("pgerp current data keys", 16, &ctl, HASH_ELEM | HASH_STRINGS);
	}
	e = hash_search(current_cache, context, HASH_ENTER, NULL);
	e->id = id;
}
static SPIPlanPtr current_plan = NULL;
static SPIPlanPtr by_id_plan = NULL;
static SPIPlanPtr first_plan = NULL;
static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr registered_plan = NULL;

static void
no_key_error(const char *context)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("context \"%s\" has no data key", context),
			 errdetail("Data keys are made by erp.encrypt_column() and by the first write to the column it encrypted, not by erp.encrypt() or erp.blind_index()."),
			 errhint("Encrypt the column with erp.encrypt_column(), or write a value to it.")));
}

void
CryptoForgetKeys(void)
{
	if (current_cache != NULL)
	{
		hash_destroy(current_cache);
		current_cache = NULL;
	}
	wipe_key_cache();
}

static void
wipe_key_cache(void)
{
	HASH_SEQ_STATUS status;
	KeyEntry   *e;

	if (key_cache == NULL)
		return;
	hash_seq_init(&status, key_cache);
	while ((e = hash_seq_search(&status)) != NULL)
		OPENSSL_cleanse(e->key.key, CRYPTO_KEY_LEN);
	hash_destroy(key_cache);
	key_cache = NULL;
}

static char *
wrap_aad(const char *context, int32 version)
{
	return psprintf("pgerp data key|%s|%d", context, version);
}

/* Unwrap the row in SPI_tuptable->vals[0] (id, context, version, wrapped) into the cache. */
static const DataKey *
cache_row(void)
{
	bool		isnull;
	int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	char	   *context = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	int32		version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	bytea	   *wrapped = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	KeyEntry   *e;
	bool		found;
	char	   *aad = wrap_aad(context, version);
	CryptoResult r;

	if (key_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(KeyEntry);
		key_cache = hash_create("pgerp data keys", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	e = hash_search(key_cache, &id, HASH_ENTER, &found);
	if (found)
		return &e->key;
	r = CryptoUnwrapKey(CryptoMasterKey(), (unsigned char *) aad, strlen(aad),
						(unsigned char *) VARDATA_ANY(wrapped), VARSIZE_ANY_EXHDR(wrapped), e->key.key);
	if (r != CRYPTO_OK)
	{
		hash_search(key_cache, &id, HASH_REMOVE, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not unwrap data key %lld", (long long) id),
				 errdetail("The master key is not the one that wrapped it, or the stored key was altered.")));
	}
	e->key.id = id;
	e->key.version = version;
	e->key.retired = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	strlcpy(e->context, context, sizeof(e->context));
	return &e->key;
}

/* Wrap a fresh random key for (context, version) and insert it; false if it exists. */
static bool
insert_new_key(const char *context, int32 version)
{
	unsigned char key[CRYPTO_KEY_LEN];
	unsigned char wrapped[CRYPTO_WRAPPED_LEN];
	char	   *aad = wrap_aad(context, version);
	bytea	   *w = palloc(VARHDRSZ + CRYPTO_WRAPPED_LEN);
	Datum		a[3];

	if (RAND_bytes(key, sizeof(key)) != 1 ||
		CryptoWrapKey(CryptoMasterKey(), (unsigned char *) aad, strlen(aad), key, wrapped) != CRYPTO_OK)
	{
		OPENSSL_cleanse(key, sizeof(key));
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not create a data key")));
	}
	OPENSSL_cleanse(key, sizeof(key));
	SET_VARSIZE(w, VARHDRSZ + CRYPTO_WRAPPED_LEN);
	memcpy(VARDATA(w), wrapped, CRYPTO_WRAPPED_LEN);
	a[0] = CStringGetTextDatum(context);
	a[1] = Int32GetDatum(version);
	a[2] = PointerGetDatum(w);
	if (SPI_execute_plan(insert_plan, a, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "data key insert failed");
	CommandCounterIncrement();
	return SPI_processed == 1;
}

static void
prepare_current(void)
{
	if (current_plan == NULL)
	{
		Oid			t[1] = {TEXTOID};
		Oid			ti[3] = {TEXTOID, INT4OID, BYTEAOID};

		(void) PgerpKeptPlan(&current_plan, "SELECT id, context, version, wrapped_key, retired_at IS NOT NULL FROM erp.crypto_key"
							" WHERE context OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL"
							" ORDER BY version DESC LIMIT 1", 1, t);
		(void) PgerpKeptPlan(&insert_plan, "INSERT INTO erp.crypto_key (context, version, wrapped_key) VALUES ($1, $2, $3)"
						   " ON CONFLICT (context, version) DO NOTHING", 3, ti);
	}
}

/* A new version of the context's key for new writes; returns the version. */
int32
CryptoNewVersion(const char *context)
{
	OwnerContext oc;
	Datum		arg = CStringGetTextDatum(context);
	int32		version = 1;
	bool		isnull;

	(void) CryptoMasterKey();
	OwnerContextBegin(&oc);
	SPI_connect();
	prepare_current();
	{
		Oid			t[1] = {TEXTOID};

		if (SPI_execute_with_args("SELECT coalesce(max(version), 0) + 1 FROM erp.crypto_key"
								  " WHERE context OPERATOR(pg_catalog.=) $1", 1, t, &arg, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "data key lookup failed");
		version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (version == 1)
	{
		SPI_finish();
		OwnerContextEnd(&oc);
		no_key_error(context);
	}
	if (!insert_new_key(context, version))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("another session rotated the key of \"%s\" at the same time", context),
				 errhint("Retry.")));
	SPI_finish();
	OwnerContextEnd(&oc);
	return version;
}

/* Is the context a column registered by erp.encrypt_column()? (in SPI, as the owner) */
static bool
registered(Datum context)
{
	if (registered_plan == NULL)
	{
		Oid			t[1] = {TEXTOID};

		(void) PgerpKeptPlan(&registered_plan, "SELECT 1 FROM erp.encrypted_column WHERE context OPERATOR(pg_catalog.=) $1", 1, t);
	}
	if (SPI_execute_plan(registered_plan, &context, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "encrypted column lookup failed");
	return SPI_processed == 1;
}

/*
 * The newest key of the context. With create, version 1 is made when there
 * is none, for a registered column only (its conversion or first write).
 */
const DataKey *
CryptoCurrentKey(const char *context, bool create)
{
	OwnerContext oc;
	Datum		arg = CStringGetTextDatum(context);
	const DataKey *k;

	(void) CryptoMasterKey();	/* fail early, with the hint, without a key */
	if (current_cache != NULL && key_cache != NULL)
	{
		CurrentEntry *c = hash_search(current_cache, context, HASH_FIND, NULL);
		KeyEntry   *e = c ? hash_search(key_cache, &c->id, HASH_FIND, NULL) : NULL;

		if (e != NULL)
			return &e->key;
	}
	watch_keys();
	OwnerContextBegin(&oc);
	SPI_connect();
	prepare_current();
	if (SPI_execute_plan(current_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "data key lookup failed");
	if (SPI_processed == 0)
	{
		if (!create || !registered(arg))
		{
			SPI_finish();
			OwnerContextEnd(&oc);
			no_key_error(context);
		}
		(void) insert_new_key(context, 1);	/* a concurrent first use may win: fine */
		if (SPI_execute_plan(current_plan, &arg, NULL, false, 1) != SPI_OK_SELECT || SPI_processed == 0)
			elog(ERROR, "data key creation failed");
	}
	k = cache_row();
	SPI_finish();
	OwnerContextEnd(&oc);
	remember_current(context, k->id);
	return k;
}

/* The key a value names, checked against the context it is read in. */
const DataKey *
CryptoKeyById(int64 id, const char *context)
{
	KeyEntry   *e;
	OwnerContext oc;
	Datum		arg = Int64GetDatum(id);
	const DataKey *k = NULL;
	bool		found;

	if (key_cache != NULL && (e = hash_search(key_cache, &id, HASH_FIND, NULL)) != NULL)
	{
		if (strcmp(e->context, context) != 0)
			goto wrong_context;
		k = &e->key;
		goto check_retired;
	}
	(void) CryptoMasterKey();
	watch_keys();
	OwnerContextBegin(&oc);
	SPI_connect();
	if (by_id_plan == NULL)
	{
		Oid			t[1] = {INT8OID};

		(void) PgerpKeptPlan(&by_id_plan, "SELECT id, context, version, wrapped_key, retired_at IS NOT NULL FROM erp.crypto_key"
						  " WHERE id OPERATOR(pg_catalog.=) $1", 1, t);
	}
	if (SPI_execute_plan(by_id_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "data key lookup failed");
	found = SPI_processed == 1;
	if (found)
		k = cache_row();
	SPI_finish();
	OwnerContextEnd(&oc);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not decrypt value"),
				 errdetail("The value names a data key that does not exist.")));
	e = hash_search(key_cache, &id, HASH_FIND, NULL);
	if (strcmp(e->context, context) != 0)
		goto wrong_context;
check_retired:
	if (k->retired)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not decrypt value"),
				 errdetail("Version %d of the data key of \"%s\" was retired.", k->version, context)));
	return k;

wrong_context:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("could not decrypt value"),
			 errdetail("The value was not encrypted for context \"%s\".", context)));
	return NULL;				/* keep compiler quiet */
}

/* The first key of a context: blind indexes stay stable across rotations. */
const DataKey *
CryptoFirstKey(const char *context)
{
	OwnerContext oc;
	Datum		arg = CStringGetTextDatum(context);
	const DataKey *k;
	bool		found;

	(void) CryptoMasterKey();
	watch_keys();
	OwnerContextBegin(&oc);
	SPI_connect();
	if (first_plan == NULL)
	{
		Oid			t[1] = {TEXTOID};

		(void) PgerpKeptPlan(&first_plan, "SELECT id, context, version, wrapped_key, retired_at IS NOT NULL FROM erp.crypto_key"
						  " WHERE context OPERATOR(pg_catalog.=) $1 ORDER BY version LIMIT 1", 1, t);
	}
	if (SPI_execute_plan(first_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "data key lookup failed");
	found = SPI_processed == 1;
	k = found ? cache_row() : NULL;
	SPI_finish();
	OwnerContextEnd(&oc);
	if (!found)
		no_key_error(context);
	return k;
}

/*
 * Re-wrap every data key under a new master key, in the caller's
 * transaction: all keys or none. Each is unwrapped with the current master
 * key first, so a wrong current key changes nothing.
 */
int64
CryptoRewrapAll(const unsigned char *new_master)
{
	OwnerContext oc;
	SPIPlanPtr	upd;
	Oid			t[2] = {INT8OID, BYTEAOID};
	const unsigned char *master = CryptoMasterKey();
	uint64		n;

	OwnerContextBegin(&oc);
	SPI_connect();
	if (SPI_execute("SELECT id, context, version, wrapped_key FROM erp.crypto_key ORDER BY id FOR UPDATE",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "data key scan failed");
	n = SPI_processed;
	{
		SPITupleTable *tt = SPI_tuptable;

		upd = SPI_prepare("UPDATE erp.crypto_key SET wrapped_key = $2 WHERE id OPERATOR(pg_catalog.=) $1", 2, t);
		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
			char	   *context = TextDatumGetCString(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
			int32		version = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
			bytea	   *wrapped = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull));
			char	   *aad = wrap_aad(context, version);
			unsigned char key[CRYPTO_KEY_LEN];
			bytea	   *w = palloc(VARHDRSZ + CRYPTO_WRAPPED_LEN);
			Datum		a[2];

			if (CryptoUnwrapKey(master, (unsigned char *) aad, strlen(aad),
								(unsigned char *) VARDATA_ANY(wrapped), VARSIZE_ANY_EXHDR(wrapped), key) != CRYPTO_OK)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("could not unwrap data key %lld", (long long) id),
						 errdetail("The current master key is not the one that wrapped it; nothing was changed.")));
			SET_VARSIZE(w, VARHDRSZ + CRYPTO_WRAPPED_LEN);
			if (CryptoWrapKey(new_master, (unsigned char *) aad, strlen(aad), key,
							  (unsigned char *) VARDATA(w)) != CRYPTO_OK)
			{
				OPENSSL_cleanse(key, sizeof(key));
				ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not wrap data key %lld", (long long) id)));
			}
			OPENSSL_cleanse(key, sizeof(key));
			a[0] = Int64GetDatum(id);
			a[1] = PointerGetDatum(w);
			if (SPI_execute_plan(upd, a, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
				elog(ERROR, "data key update failed");
		}
	}
	SPI_finish();
	OwnerContextEnd(&oc);
	return (int64) n;
}
