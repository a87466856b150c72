/*
 * SQL glue of field encryption: erp.encrypt, erp.decrypt, erp.blind_index,
 * erp.rotate_key. Codes from the pure functions become errors here; no
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

PG_FUNCTION_INFO_V1(pgerp_crypto_encrypt);
Datum
pgerp_crypto_encrypt(PG_FUNCTION_ARGS)
{
	char	   *context = context_arg(fcinfo, 1);
	text	   *plain;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	plain = PG_GETARG_TEXT_PP(0);
	PG_RETURN_BYTEA_P(CryptoEncryptBytes(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain), context));
}

/* Seal plaintext bytes under the context's current key. */
bytea *
CryptoEncryptBytes(const char *plain, size_t len, const char *context)
{
	const DataKey *k = CryptoCurrentKey(context);
	bytea	   *out = palloc(VARHDRSZ + len + CRYPTO_OVERHEAD);

	SET_VARSIZE(out, VARHDRSZ + len + CRYPTO_OVERHEAD);
	if (CryptoSeal(k->key, k->id, (unsigned char *) context, strlen(context),
				   (unsigned char *) plain, len, (unsigned char *) VARDATA(out)) != CRYPTO_OK)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not encrypt value")));
	return out;
}

PG_FUNCTION_INFO_V1(pgerp_crypto_decrypt);
Datum
pgerp_crypto_decrypt(PG_FUNCTION_ARGS)
{
	char	   *context = context_arg(fcinfo, 1);

	AclRequire(psprintf("%s:decrypt", context), 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(CryptoDecryptBytes(PG_GETARG_BYTEA_PP(0), context));
}

/*
 * Open a value of the context, with no permission check (callers check);
 * every failure is an error, never garbage.
 */
text *
CryptoDecryptBytes(bytea *in, const char *context)
{
	size_t		len = VARSIZE_ANY_EXHDR(in);
	int64		key_id;
	const DataKey *k;
	text	   *out;
	CryptoResult r;

	if (CryptoParseKeyId((unsigned char *) VARDATA_ANY(in), len, &key_id) != CRYPTO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not decrypt value"),
				 errdetail("The value is not an encrypted value of a known format, or it is truncated.")));
	k = CryptoKeyById(key_id, context);
	out = palloc(VARHDRSZ + len - CRYPTO_OVERHEAD + 1);
	r = CryptoOpen(k->key, (unsigned char *) context, strlen(context),
				   (unsigned char *) VARDATA_ANY(in), len, (unsigned char *) VARDATA(out));
	if (r != CRYPTO_OK)
	{
		OPENSSL_cleanse(VARDATA(out), len - CRYPTO_OVERHEAD);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not decrypt value"),
				 errdetail(r == CRYPTO_AUTH_FAILED
						   ? "The value was altered, truncated, or encrypted for another context."
						   : "The value could not be read.")));
	}
	SET_VARSIZE(out, VARHDRSZ + len - CRYPTO_OVERHEAD);
	/* the plaintext must be valid in the database encoding */
	pg_verifymbstr(VARDATA(out), len - CRYPTO_OVERHEAD, false);
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

/* erp.rotate_key(p_context): a new key version for new writes. */
PG_FUNCTION_INFO_V1(pgerp_crypto_rotate_key);
Datum
pgerp_crypto_rotate_key(PG_FUNCTION_ARGS)
{
	char	   *context = context_arg(fcinfo, 0);

	if (!(SessionUserId() == 0 && CallerIsSuperuser()))
		AclRequire("erp.crypto_key:create", 0);
	PG_RETURN_INT32(CryptoNewVersion(context));
}
