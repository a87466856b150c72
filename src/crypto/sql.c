/*
 * SQL glue of field encryption: erp.encrypt, erp.decrypt, erp.blind_index,
 * erp.rotate_key, and the superuser-only erp._seal and erp._encrypt_v1.
 * Codes from the pure functions become errors here; no
 * message carries key material or plaintext.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"

#include "pgerp/core.h"
#include "pgerp/crypto.h"
#include "pgerp/rbac.h"

/* A context is schema.table.column of an existing column. */
static char *
context_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *context;
	char	   *copy;
	char	   *schema,
			   *table,
			   *column;
	Oid			nsp,
				rel;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("context must not be null")));
	context = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	copy = pstrdup(context);
	schema = copy;
	table = strchr(schema, '.');
	column = table ? strchr(table + 1, '.') : NULL;
	if (table == NULL || column == NULL || strchr(column + 1, '.') != NULL)
		goto bad;
	*table++ = '\0';
	*column++ = '\0';
	/* system catalogs hold no business data and are nobody's to key */
	if (strncmp(schema, "pg_", 3) == 0 || strcmp(schema, "information_schema") == 0)
		goto bad;
	nsp = get_namespace_oid(schema, true);
	rel = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;
	if (!OidIsValid(rel) || get_attnum(rel, column) == InvalidAttrNumber ||
		!PermissionIsValid(psprintf("%s:decrypt", context)))
		goto bad;
	return context;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid encryption context \"%s\"", context),
			 errdetail("A context names an existing column as schema.table.column in lower case, outside the system schemas.")));
	return NULL;
}

/*
 * erp.encrypt(plain, context): a value bound to the caller's current company
 * (none when nobody is signed in), under the context's current key. It never
 * makes a key: a context without one is refused.
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_encrypt);
Datum
pgerp_crypto_encrypt(PG_FUNCTION_ARGS)
{
	char	   *context = context_arg(fcinfo, 1);
	text	   *plain;
	int64		company = SessionUserId() == 0 ? 0 : SessionCompanyId();

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	plain = PG_GETARG_TEXT_PP(0);
	PG_RETURN_BYTEA_P(CryptoEncryptBytes(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain), context,
										 company, false));
}

static void
superuser_only(const char *fn)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", fn)));
}

/*
 * erp._seal(plain, context, company): a value bound to the given company
 * (0: none), making version 1 of a registered column's key when it has none.
 * Superusers only: erp.encrypt_column's conversion of existing values.
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_seal);
Datum
pgerp_crypto_seal(PG_FUNCTION_ARGS)
{
	text	   *plain = PG_GETARG_TEXT_PP(0);
	char	   *context = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int64		company = PG_GETARG_INT64(2);

	superuser_only("erp._seal");
	if (company < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("company id must not be negative")));
	PG_RETURN_BYTEA_P(CryptoEncryptBytes(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain), context,
										 company, true));
}

/*
 * erp._encrypt_v1(plain, context): a value in the 0.1.0 format (no company),
 * under the context's current key. Superusers only, for tests of the paths
 * that still read that format.
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_encrypt_v1);
Datum
pgerp_crypto_encrypt_v1(PG_FUNCTION_ARGS)
{
	text	   *plain = PG_GETARG_TEXT_PP(0);
	char	   *context = text_to_cstring(PG_GETARG_TEXT_PP(1));
	size_t		len = VARSIZE_ANY_EXHDR(plain);
	const DataKey *k;
	bytea	   *out;

	superuser_only("erp._encrypt_v1");
	k = CryptoCurrentKey(context, false);
	out = palloc(VARHDRSZ + len + CRYPTO_OVERHEAD_V1);
	SET_VARSIZE(out, VARHDRSZ + len + CRYPTO_OVERHEAD_V1);
	if (CryptoSealV1(k->key, k->id, (unsigned char *) context, strlen(context),
					 (unsigned char *) VARDATA_ANY(plain), len, (unsigned char *) VARDATA(out)) != CRYPTO_OK)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encrypt value")));
	PG_RETURN_BYTEA_P(out);
}

/* Seal plaintext bytes, bound to company_id (0: none), under the context's current key. */
bytea *
CryptoEncryptBytes(const char *plain, size_t len, const char *context, int64 company_id, bool create_key)
{
	const DataKey *k = CryptoCurrentKey(context, create_key);
	bytea	   *out = palloc(VARHDRSZ + len + CRYPTO_OVERHEAD);

	SET_VARSIZE(out, VARHDRSZ + len + CRYPTO_OVERHEAD);
	if (CryptoSeal(k->key, k->id, company_id, (unsigned char *) context, strlen(context),
				   (unsigned char *) plain, len, (unsigned char *) VARDATA(out)) != CRYPTO_OK)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encrypt value")));
	return out;
}

/*
 * The permission to read a value in clear: <context>:decrypt on the company
 * bound in it (on the current company for a value bound to none). A value of
 * format 1 names no company, so only a superuser with nobody signed in reads
 * it; CALL erp.reencrypt() binds it to its row's company.
 */
static void
require_decrypt(const char *code, const CryptoHeader *h)
{
	if (h->format == CRYPTO_FORMAT_V1 && !(SessionUserId() == 0 && CallerIsSuperuser()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for \"%s\"", code),
				 errdetail("The value predates company binding (format 1): only a superuser may decrypt it."),
				 errhint("A superuser re-encrypts the column with CALL erp.reencrypt(), which binds each value to its row's company.")));
	AclRequire(code, h->company_id);
}

/*
 * erp.decrypt(cipher, context): the plaintext for a holder of
 * <context>:decrypt on the company bound in the value. A company outside the
 * caller's gets the same 42501 as one without the permission.
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_decrypt);
Datum
pgerp_crypto_decrypt(PG_FUNCTION_ARGS)
{
	char	   *context = context_arg(fcinfo, 1);
	char	   *code = psprintf("%s:decrypt", context);
	bytea	   *in;
	CryptoHeader h;

	if (PG_ARGISNULL(0))
	{
		AclRequire(code, 0);
		PG_RETURN_NULL();
	}
	in = PG_GETARG_BYTEA_PP(0);
	CryptoReadHeader(in, &h);
	require_decrypt(code, &h);
	PG_RETURN_TEXT_P(CryptoDecryptBytes(in, context, NULL));
}

/* The header of a value; a value of no known format is an error. */
void
CryptoReadHeader(bytea *in, CryptoHeader *h)
{
	if (CryptoParseHeader((unsigned char *) VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in), h) != CRYPTO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not decrypt value"),
				 errdetail("The value is not an encrypted value of a known format, or it is truncated.")));
}

/*
 * Open a value of the context, with no permission check (callers check);
 * every failure is an error, never garbage. h, if not NULL, gets its header.
 */
text *
CryptoDecryptBytes(bytea *in, const char *context, CryptoHeader *h)
{
	size_t		len = VARSIZE_ANY_EXHDR(in);
	CryptoHeader hdr;
	const DataKey *k;
	text	   *out;
	CryptoResult r;

	CryptoReadHeader(in, &hdr);
	k = CryptoKeyById(hdr.key_id, context);
	out = palloc(VARHDRSZ + hdr.plain_len + 1);
	r = CryptoOpen(k->key, (unsigned char *) context, strlen(context),
				   (unsigned char *) VARDATA_ANY(in), len, (unsigned char *) VARDATA(out));
	if (r != CRYPTO_OK)
	{
		OPENSSL_cleanse(VARDATA(out), hdr.plain_len);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not decrypt value"),
				 errdetail(r == CRYPTO_AUTH_FAILED
						   ? "The value was altered, truncated, or encrypted for another context."
						   : "The value could not be read.")));
	}
	SET_VARSIZE(out, VARHDRSZ + hdr.plain_len);
	/* the plaintext must be valid in the database encoding */
	pg_verifymbstr(VARDATA(out), hdr.plain_len, false);
	if (h != NULL)
		*h = hdr;
	return out;
}

PG_FUNCTION_INFO_V1(pgerp_crypto_blind_index);
Datum
pgerp_crypto_blind_index(PG_FUNCTION_ARGS)
{
	char	   *context = context_arg(fcinfo, 1);
	text	   *plain;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	plain = PG_GETARG_TEXT_PP(0);
	PG_RETURN_BYTEA_P(CryptoBlindIndexOf(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain), context));
}

/*
 * Normalised input: trimmed of spaces; e-mail addresses (anything with an
 * '@') lower-cased, as they compare regardless of case.
 */
bytea *
CryptoBlindIndexOf(const char *input, size_t inlen, const char *context)
{
	char	   *plain = pnstrdup(input, inlen);
	const char *start;
	size_t		len;
	const DataKey *k;
	bytea	   *out;

	start = plain + strspn(plain, " \t\r\n");
	len = strlen(start);
	while (len > 0 && strchr(" \t\r\n", start[len - 1]) != NULL)
		len--;
	plain = pnstrdup(start, len);
	if (strchr(plain, '@') != NULL)
		plain = str_tolower(plain, len, DEFAULT_COLLATION_OID);
	k = CryptoFirstKey(context);
	out = palloc(VARHDRSZ + BLIND_INDEX_LEN);
	SET_VARSIZE(out, VARHDRSZ + BLIND_INDEX_LEN);
	if (CryptoBlindIndex(k->key, (unsigned char *) plain, strlen(plain), (unsigned char *) VARDATA(out)) != CRYPTO_OK)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not compute blind index")));
	return out;
}

/*
 * erp.rotate_key(p_context): a new key version for new writes. A data key is
 * shared by every company, so no company's permission suffices: superusers
 * only, like erp.reencrypt() and erp.retire_key().
 */
PG_FUNCTION_INFO_V1(pgerp_crypto_rotate_key);
Datum
pgerp_crypto_rotate_key(PG_FUNCTION_ARGS)
{
	char	   *context = context_arg(fcinfo, 0);

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to rotate a data key"),
				 errdetail("The data key of \"%s\" is shared by every company: only a superuser may rotate it.", context)));
	PG_RETURN_INT32(CryptoNewVersion(context));
}
