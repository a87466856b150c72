/*
 * Declarative encrypted columns (erp.encrypt_column): the BEFORE trigger that
 * encrypts plaintext before the row reaches a heap page or the WAL, the view
 * helper erp.reveal, re-encryption after a key rotation and master key
 * rotation.
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"

#include "pgerp/core.h"
#include "pgerp/crypto.h"
#include "pgerp/rbac.h"

/* Does the value look like our format (rather than plaintext)? */
static bool
looks_encrypted(bytea *v)
{
	return VARSIZE_ANY_EXHDR(v) >= CRYPTO_OVERHEAD &&
		((unsigned char *) VARDATA_ANY(v))[0] == CRYPTO_FORMAT_V1;
}

static bool
same_bytes(Datum a, Datum b)
{
	bytea	   *x = DatumGetByteaPP(a);
	bytea	   *y = DatumGetByteaPP(b);

	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

/*
 * erp._encrypt_trigger(column, context, blind index column or ''):
 * plaintext written to the bytea column is replaced by its ciphertext, and
 * the blind index is computed from it. A value already encrypted for this
 * context (a restore, a copy between rows, erp.reencrypt) is kept once it
 * authenticates; one for another context, or altered, is refused.
 */
PG_FUNCTION_INFO_V1(pgerp_encrypt_trigger);
Datum
pgerp_encrypt_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Trigger    *tg;
	TupleDesc	desc;
	HeapTuple	newtup,
				oldtup = NULL;
	int			attnum,
				bidxnum = 0;
	const char *context;
	Datum		val;
	bool		isnull;
	Datum		repl[2];
	bool		repl_null[2] = {false, false};
	int			cols[2];
	int			ncols = 0;
	bytea	   *cipher = NULL,
			   *bidx = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_DELETE(td->tg_event))
		elog(ERROR, "erp._encrypt_trigger must fire BEFORE INSERT OR UPDATE FOR EACH ROW");
	tg = td->tg_trigger;
	if (tg->tgnargs != 3)
		elog(ERROR, "erp._encrypt_trigger takes a column, a context and a blind index column");
	desc = RelationGetDescr(td->tg_relation);
	attnum = SPI_fnumber(desc, tg->tgargs[0]);
	if (attnum <= 0 || TupleDescAttr(desc, attnum - 1)->atttypid != BYTEAOID)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("encrypted column \"%s\" of \"%s\" is not a bytea column", tg->tgargs[0],
						RelationGetRelationName(td->tg_relation))));
	if (tg->tgargs[2][0] != '\0')
	{
		bidxnum = SPI_fnumber(desc, tg->tgargs[2]);
		if (bidxnum <= 0)
			elog(ERROR, "blind index column \"%s\" does not exist", tg->tgargs[2]);
	}
	context = tg->tgargs[1];
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		newtup = td->tg_newtuple;
		oldtup = td->tg_trigtuple;
	}
	else
		newtup = td->tg_trigtuple;

	val = heap_getattr(newtup, attnum, desc, &isnull);
	if (oldtup != NULL)
	{
		bool		oldnull;
		Datum		oldval = heap_getattr(oldtup, attnum, desc, &oldnull);

		if (isnull == oldnull && (isnull || same_bytes(val, oldval)))
		{
			/* unchanged value: its blind index cannot change either */
			if (bidxnum == 0)
				return PointerGetDatum(newtup);
			repl[0] = heap_getattr(oldtup, bidxnum, desc, &repl_null[0]);
			cols[0] = bidxnum;
			return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 1, cols, repl, repl_null));
		}
	}
	if (!isnull)
	{
		bytea	   *v = DatumGetByteaPP(val);
		text	   *plain;

		if (looks_encrypted(v))
		{
			plain = CryptoDecryptBytes(v, context);
			cipher = v;
		}
		else
		{
			plain = (text *) v;
			if (!pg_verifymbstr(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), true))
				ereport(ERROR,
						(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
						 errmsg("value for encrypted column \"%s\" is not valid text", tg->tgargs[0]),
						 errdetail("Plaintext written to an encrypted column must be valid in the database encoding."),
						 errhint("Write text with erp.plain(text), or a string literal.")));
			cipher = CryptoEncryptBytes(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), context);
		}
		if (bidxnum > 0)
			bidx = CryptoBlindIndexOf(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain), context);
		if ((Pointer) plain != (Pointer) v)
			OPENSSL_cleanse(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain));
	}
	if (cipher != NULL && (Pointer) cipher != DatumGetPointer(val))
	{
		cols[ncols] = attnum;
		repl[ncols] = PointerGetDatum(cipher);
		repl_null[ncols++] = false;
	}
	if (bidxnum > 0)
	{
		cols[ncols] = bidxnum;
		repl[ncols] = PointerGetDatum(bidx);
		repl_null[ncols++] = (bidx == NULL);
	}
	if (ncols == 0)
		return PointerGetDatum(newtup);
	return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, ncols, cols, repl, repl_null));
}

/* erp.plain(text) -> bytea: the text's bytes, to write to an encrypted column. */
PG_FUNCTION_INFO_V1(pgerp_crypto_plain);
Datum
pgerp_crypto_plain(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(PG_GETARG_BYTEA_P_COPY(0));
}

/* erp._cipher_key_id(bytea): the data key id a value names, NULL if none. */
PG_FUNCTION_INFO_V1(pgerp_crypto_cipher_key_id);
Datum
pgerp_crypto_cipher_key_id(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	int64		id;

	if (!looks_encrypted(v) ||
		CryptoParseKeyId((unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &id) != CRYPTO_OK)
		PG_RETURN_NULL();
	PG_RETURN_INT64(id);
}

static Oid	mask_fn = InvalidOid;

/*
 * erp.reveal(cipher, context, company, mask kind): the clear value for a
 * holder of <context>:decrypt in the row's company, the masked value (or
 * '****' without a kind) for everyone else. Used by the api.* views.
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_reveal);
Datum
pgerp_crypto_reveal(PG_FUNCTION_ARGS)
{
	char	   *context;
	char	   *code;
	bool		allowed;
	text	   *plain;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("context must not be null")));
	context = text_to_cstring(PG_GETARG_TEXT_PP(1));
	code = psprintf("%s:decrypt", context);
	if (!PermissionIsValid(code))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid encryption context \"%s\"", context)));
	if (SessionUserId() == 0)
		allowed = CallerIsSuperuser();
	else
		allowed = !PG_ARGISNULL(2) && AclHasPermission(PG_GETARG_INT64(2), code);
	plain = CryptoDecryptBytes(PG_GETARG_BYTEA_PP(0), context);
	if (allowed || VARSIZE(plain) == VARHDRSZ)
		PG_RETURN_TEXT_P(plain);	/* an empty value shows as empty to all */
	if (PG_ARGISNULL(3))
	{
		OPENSSL_cleanse(VARDATA(plain), VARSIZE(plain) - VARHDRSZ);
		PG_RETURN_TEXT_P(cstring_to_text("****"));
	}
	if (!OidIsValid(mask_fn))
		mask_fn = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
													   CStringGetDatum("erp.mask(text,text)")));
	{
		Datum		masked = OidFunctionCall2Coll(mask_fn, DEFAULT_COLLATION_OID,
												  PointerGetDatum(plain), PG_GETARG_DATUM(3));

		OPENSSL_cleanse(VARDATA(plain), VARSIZE(plain) - VARHDRSZ);
		PG_RETURN_DATUM(masked);
	}
}

/*
 * CALL erp.reencrypt(table, column, batch): rewrite the values of the column
 * not under the current key, p_batch rows per statement. Called outside a
 * transaction block it commits after each batch, so an interrupted run keeps
 * its progress and the next call resumes (rows already current are skipped).
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_reencrypt);
Datum
pgerp_crypto_reencrypt(PG_FUNCTION_ARGS)
{
	CallContext *cc = (fcinfo->context && IsA(fcinfo->context, CallContext))
		? (CallContext *) fcinfo->context : NULL;
	bool		atomic = cc == NULL || cc->atomic;
	Oid			relid;
	char	   *column;
	int32		batch;
	char	   *relname;
	char	   *context;
	char	   *sql;
	int64		total = 0;
	int64		current_id;
	Oid			types[2] = {INT8OID, INT4OID};
	bool		isnull;
	MemoryContext keep = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("table and column must not be null")));
	relid = PG_GETARG_OID(0);
	column = pstrdup(NameStr(*PG_GETARG_NAME(1)));
	batch = PG_ARGISNULL(2) ? 1000 : PG_GETARG_INT32(2);
	if (batch <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch size must be positive")));
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to re-encrypt a column"),
				 errdetail("Only a superuser may call erp.reencrypt(): it must see every row.")));
	if (SPI_connect_ext(atomic ? 0 : SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		Oid			t[2] = {OIDOID, NAMEOID};
		Datum		a[2] = {ObjectIdGetDatum(relid), PG_GETARG_DATUM(1)};

		if (SPI_execute_with_args("SELECT context FROM erp.encrypted_column"
								  " WHERE table_name OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
								  " AND column_name OPERATOR(pg_catalog.=) $2",
								  2, t, a, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "encrypted column lookup failed");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" of %s is not an encrypted column", column, get_rel_name(relid)),
					 errhint("Encrypt it with erp.encrypt_column() first.")));
		context = MemoryContextStrdup(keep, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
	}
	current_id = CryptoCurrentKey(context)->id;
	relname = MemoryContextStrdup(keep, quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
																   get_rel_name(relid)));
	/* one pass over the table in ctid order, batch rows at a time */
	sql = MemoryContextStrdup(keep, psprintf(
		"WITH todo AS (SELECT ctid FROM %s WHERE %s IS NOT NULL"
		" AND erp._cipher_key_id(%s) IS DISTINCT FROM $1 LIMIT $2)"
		" UPDATE %s t SET %s = erp._rewrap(t.%s, %s) FROM todo WHERE t.ctid OPERATOR(pg_catalog.=) todo.ctid",
		relname, quote_identifier(column), quote_identifier(column), relname,
		quote_identifier(column), quote_identifier(column), quote_literal_cstr(context)));
	for (;;)
	{
		Datum		a[2] = {Int64GetDatum(current_id), Int32GetDatum(batch)};
		uint64		done;

		if (SPI_execute_with_args(sql, 2, types, a, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "re-encryption batch failed");
		done = SPI_processed;
		total += done;
		if (done == 0)
			break;
		if (!atomic)
			SPI_commit();
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	ereport(NOTICE,
			(errmsg("re-encrypted %lld values of %s.%s", (long long) total, relname, quote_identifier(column))));
	PG_RETURN_VOID();
}

/* erp._rewrap(cipher, context): the same plaintext under the current key. */
PG_FUNCTION_INFO_V1(pgerp_crypto_rewrap);
Datum
pgerp_crypto_rewrap(PG_FUNCTION_ARGS)
{
	char	   *context = text_to_cstring(PG_GETARG_TEXT_PP(1));
	text	   *plain;
	bytea	   *out;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function erp._rewrap")));
	plain = CryptoDecryptBytes(PG_GETARG_BYTEA_PP(0), context);
	out = CryptoEncryptBytes(VARDATA(plain), VARSIZE(plain) - VARHDRSZ, context);

	OPENSSL_cleanse(VARDATA(plain), VARSIZE(plain) - VARHDRSZ);
	PG_RETURN_BYTEA_P(out);
}

/* erp._open(cipher, context): plaintext with no permission check; superusers only. */
PG_FUNCTION_INFO_V1(pgerp_crypto_open);
Datum
pgerp_crypto_open(PG_FUNCTION_ARGS)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function erp._open")));
	PG_RETURN_TEXT_P(CryptoDecryptBytes(PG_GETARG_BYTEA_PP(0), text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

/*
 * erp.rotate_master_key(new key file): re-wrap every data key under the key
 * in the file, all in the caller's transaction. The setting must then point
 * at the new file (docs/security.md has the runbook).
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_rotate_master_key);
Datum
pgerp_crypto_rotate_master_key(PG_FUNCTION_ARGS)
{
	unsigned char key[CRYPTO_KEY_LEN];
	char	   *path;
	int64		n;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to rotate the master key"),
				 errdetail("Only a superuser may call erp.rotate_master_key().")));
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("key file must not be null")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CryptoReadKeyFile(path, key);
	if (CRYPTO_memcmp(key, CryptoMasterKey(), CRYPTO_KEY_LEN) == 0)
	{
		OPENSSL_cleanse(key, sizeof(key));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the new master key is the current one"),
				 errhint("Generate a new key file, e.g. with openssl rand -hex 32.")));
	}
	n = CryptoRewrapAll(key);
	CryptoUseMasterKey(key);
	OPENSSL_cleanse(key, sizeof(key));
	PG_RETURN_INT64(n);
}
