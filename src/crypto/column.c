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

/* Does the value look like one of our formats (rather than plaintext)? */
static bool
looks_encrypted(bytea *v)
{
	size_t		len = VARSIZE_ANY_EXHDR(v);
	size_t		overhead = len > 0 ? CryptoOverheadOf(((unsigned char *) VARDATA_ANY(v))[0]) : 0;

	return overhead > 0 && len >= overhead;
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
 * The company a row's values are bound to: its company_id column (the
 * convention of row security and of the api.* views), 0 for a table without
 * one or a row where it is NULL.
 */
static int64
row_company(Relation rel, HeapTuple tup)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attnum = SPI_fnumber(desc, "company_id");
	bool		isnull;
	Datum		d;
	int64		company;

	if (attnum <= 0)
		return 0;
	d = heap_getattr(tup, attnum, desc, &isnull);
	if (isnull)
		return 0;
	switch (TupleDescAttr(desc, attnum - 1)->atttypid)
	{
		case INT8OID:
			company = DatumGetInt64(d);
			break;
		case INT4OID:
			company = DatumGetInt32(d);
			break;
		case INT2OID:
			company = DatumGetInt16(d);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"company_id\" of \"%s\" is not an integer column",
							RelationGetRelationName(rel)),
					 errdetail("Encrypted values are bound to the company their row's company_id names.")));
	}
	if (company < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("company id must not be negative")));
	return company;
}

/* Is the caller a superuser with no pgerp user signed in (a DBA, a restore)? */
static bool
dba(void)
{
	return SessionUserId() == 0 && CallerIsSuperuser();
}

/*
 * A ciphertext written to the column: kept if it is of this context and of
 * the row's company (its plaintext is returned, for the blind index); a value
 * of format 1 is converted to the row's company for a DBA (a restore of a
 * 0.1.0 dump) and refused to anyone else. *cipher gets what to store.
 */
static text *
accept_cipher(bytea *v, const char *context, int64 company, const char *column, bytea **cipher)
{
	CryptoHeader h;
	text	   *plain;

	CryptoReadHeader(v, &h);
	if (h.format == CRYPTO_FORMAT_V1 && !dba())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not decrypt value"),
				 errdetail("A value of format 1 names no company; only a superuser may write one, and it is then bound to the row's company."),
				 errhint("Write the plaintext instead.")));
	plain = CryptoDecryptBytes(v, context, NULL);
	if (h.format == CRYPTO_FORMAT_V1)
	{
		*cipher = CryptoEncryptBytes(VARDATA(plain), VARSIZE(plain) - VARHDRSZ, context, company, true);
		return plain;
	}
	if (h.company_id != company)
	{
		OPENSSL_cleanse(VARDATA(plain), VARSIZE(plain) - VARHDRSZ);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not decrypt value"),
				 errdetail("The value of column \"%s\" was encrypted for another company than its row's.", column),
				 errhint("Write the plaintext instead.")));
	}
	*cipher = v;
	return plain;
}

/*
 * An unchanged value of a row whose company changed (the row moved): the
 * same plaintext bound to the new company; NULL when nothing is to change.
 */
static bytea *
rebind(Datum val, const char *context, int64 company)
{
	bytea	   *v = DatumGetByteaPP(val);
	CryptoHeader h;
	text	   *plain;
	bytea	   *out;

	if (!looks_encrypted(v))
		return NULL;
	CryptoReadHeader(v, &h);
	if (h.format != CRYPTO_FORMAT_V2 || h.company_id == company)
		return NULL;
	plain = CryptoDecryptBytes(v, context, NULL);
	out = CryptoEncryptBytes(VARDATA(plain), VARSIZE(plain) - VARHDRSZ, context, company, true);
	OPENSSL_cleanse(VARDATA(plain), VARSIZE(plain) - VARHDRSZ);
	return out;
}

/*
 * erp._encrypt_trigger(column, context, blind index column or ''):
 * plaintext written to the bytea column is replaced by its ciphertext, bound
 * to the row's company, and the blind index is computed from it. A value
 * already encrypted for this context and this company (a restore, a copy
 * between rows of one company, erp.reencrypt) is kept once it
 * authenticates; one for another context or company, or altered, is refused.
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
	int64		company;
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
	company = row_company(td->tg_relation, newtup);

	val = heap_getattr(newtup, attnum, desc, &isnull);
	if (oldtup != NULL)
	{
		bool		oldnull;
		Datum		oldval = heap_getattr(oldtup, attnum, desc, &oldnull);

		if (isnull == oldnull && (isnull || same_bytes(val, oldval)))
		{
			/* unchanged value: its blind index cannot change either */
			if (!isnull && (cipher = rebind(val, context, company)) != NULL)
			{
				cols[ncols] = attnum;
				repl[ncols] = PointerGetDatum(cipher);
				repl_null[ncols++] = false;
			}
			if (bidxnum > 0)
			{
				cols[ncols] = bidxnum;
				repl[ncols] = heap_getattr(oldtup, bidxnum, desc, &repl_null[ncols]);
				ncols++;
			}
			if (ncols == 0)
				return PointerGetDatum(newtup);
			return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, ncols, cols, repl, repl_null));
		}
	}
	if (!isnull)
	{
		bytea	   *v = DatumGetByteaPP(val);
		text	   *plain;

		if (looks_encrypted(v))
			plain = accept_cipher(v, context, company, tg->tgargs[0], &cipher);
		else
		{
			plain = (text *) v;
			if (!pg_verifymbstr(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), true))
				ereport(ERROR,
						(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
						 errmsg("value for encrypted column \"%s\" is not valid text", tg->tgargs[0]),
						 errdetail("Plaintext written to an encrypted column must be valid in the database encoding."),
						 errhint("Write text with erp.plain(text), or a string literal.")));
			cipher = CryptoEncryptBytes(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), context, company, true);
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
	CryptoHeader h;

	if (CryptoParseHeader((unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &h) != CRYPTO_OK)
		PG_RETURN_NULL();
	PG_RETURN_INT64(h.key_id);
}

/*
 * erp._cipher_company(bytea): the company a value is bound to (0: none),
 * NULL for a value of format 1 or not encrypted. The header is not secret.
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_cipher_company);
Datum
pgerp_crypto_cipher_company(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	CryptoHeader h;

	if (CryptoParseHeader((unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &h) != CRYPTO_OK ||
		h.format != CRYPTO_FORMAT_V2)
		PG_RETURN_NULL();
	PG_RETURN_INT64(h.company_id);
}

static Oid	mask_fn = InvalidOid;

/*
 * erp.reveal(cipher, context, company, mask kind): the clear value for a
 * holder of <context>:decrypt in the company bound in the value, the masked
 * value (or '****' without a kind) for other users of that company, and
 * '****' to everyone outside it. The company passed (the row's, from the
 * api.* views) is never trusted: one that differs from the bound company
 * gets '****'. A value of format 1 (no company) is '****' but to a superuser
 * with nobody signed in. Used by the api.* views.
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_reveal);
Datum
pgerp_crypto_reveal(PG_FUNCTION_ARGS)
{
	char	   *context;
	char	   *code;
	bytea	   *in;
	CryptoHeader h;
	bool		allowed;
	bool		visible;
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
	in = PG_GETARG_BYTEA_PP(0);
	CryptoReadHeader(in, &h);
	if (SessionUserId() == 0)
	{
		allowed = CallerIsSuperuser();
		visible = allowed || (h.format == CRYPTO_FORMAT_V2 && h.company_id == 0);
	}
	else if (h.format == CRYPTO_FORMAT_V1)
		allowed = visible = false;
	else if (h.company_id == 0)
	{
		/* a table without companies: the permission in the current company */
		allowed = AclHasPermission(SessionCompanyId(), code);
		visible = true;
	}
	else if (!PG_ARGISNULL(2) && PG_GETARG_INT64(2) != h.company_id)
		allowed = visible = false;
	else
	{
		visible = AclCompanyAllowed(h.company_id);
		allowed = visible && AclHasPermission(h.company_id, code);
	}
	if (!visible)
		PG_RETURN_TEXT_P(cstring_to_text("****"));
	plain = CryptoDecryptBytes(in, context, NULL);
	if (allowed || VARSIZE(plain) == VARHDRSZ)
		PG_RETURN_TEXT_P(plain);	/* an empty value shows as empty to its company */
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
	current_id = CryptoCurrentKey(context, false)->id;
	relname = MemoryContextStrdup(keep, quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
																   get_rel_name(relid)));
	/*
	 * One pass over the table in ctid order, batch rows at a time: values
	 * under an older key, and values of format 1, which are bound to their
	 * row's company on the way.
	 */
	sql = MemoryContextStrdup(keep, psprintf(
		"WITH todo AS (SELECT ctid FROM %s WHERE %s IS NOT NULL"
		" AND (erp._cipher_key_id(%s) IS DISTINCT FROM $1"
		" OR pg_catalog.substr(%s, 1, 1) OPERATOR(pg_catalog.<>) '\\x%02x'::pg_catalog.bytea) LIMIT $2)"
		" UPDATE %s t SET %s = erp._rewrap(t.%s, %s, %s) FROM todo WHERE t.ctid OPERATOR(pg_catalog.=) todo.ctid",
		relname, quote_identifier(column), quote_identifier(column), quote_identifier(column),
		CRYPTO_FORMAT_V2, relname, quote_identifier(column), quote_identifier(column),
		quote_literal_cstr(context),
		get_attnum(relid, "company_id") != InvalidAttrNumber
		? "COALESCE(t.company_id::pg_catalog.int8, 0)" : "0"));
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

/*
 * The same plaintext under the current key, bound to the company of the
 * value, or to company for a value of format 1 (none bound yet).
 */
static bytea *
rewrap(bytea *in, const char *context, int64 company)
{
	CryptoHeader h;
	text	   *plain;
	bytea	   *out;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function erp._rewrap")));
	plain = CryptoDecryptBytes(in, context, &h);
	if (h.format == CRYPTO_FORMAT_V2)
		company = h.company_id;
	out = CryptoEncryptBytes(VARDATA(plain), VARSIZE(plain) - VARHDRSZ, context, company, false);
	OPENSSL_cleanse(VARDATA(plain), VARSIZE(plain) - VARHDRSZ);
	return out;
}

/* 0.1.0's erp._rewrap(cipher, context): a value of format 1 is bound to no company. */
PG_FUNCTION_INFO_V1(pgerp_crypto_rewrap);
Datum
pgerp_crypto_rewrap(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(rewrap(PG_GETARG_BYTEA_PP(0), text_to_cstring(PG_GETARG_TEXT_PP(1)), 0));
}

/* erp._rewrap(cipher, context, company): for erp.reencrypt, company is the row's. */
PG_FUNCTION_INFO_V1(pgerp_crypto_rewrap_0_2);
Datum
pgerp_crypto_rewrap_0_2(PG_FUNCTION_ARGS)
{
	int64		company = PG_GETARG_INT64(2);

	if (company < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("company id must not be negative")));
	PG_RETURN_BYTEA_P(rewrap(PG_GETARG_BYTEA_PP(0), text_to_cstring(PG_GETARG_TEXT_PP(1)), company));
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
	PG_RETURN_TEXT_P(CryptoDecryptBytes(PG_GETARG_BYTEA_PP(0), text_to_cstring(PG_GETARG_TEXT_PP(1)), NULL));
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
