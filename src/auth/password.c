/*
 * Password hashing with OpenSSL 3's scrypt (memory-hard), a random 16-byte
 * salt and the cost parameters stored with the hash:
 *
 *     $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>
 *
 * The pure functions return codes; erp._password_hash() is the SQL glue.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/base64.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "pgerp/core.h"
#include "pgerp/auth.h"

#define SCRYPT_LN 15			/* N = 32768: 32 MiB with r = 8 */
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SCRYPT_SALT_LEN 16
#define SCRYPT_KEY_LEN 32
#define SCRYPT_MAXMEM ((uint64) 256 * 1024 * 1024)

static bool
derive(const char *pw, size_t pwlen, const unsigned char *salt, size_t saltlen,
	   int ln, int r, int p, unsigned char *key, size_t keylen)
{
	return EVP_PBE_scrypt(pw, pwlen, salt, saltlen, (uint64) 1 << ln, r, p,
						  SCRYPT_MAXMEM, key, keylen) == 1;
}

PasswordResult
PasswordHash(const char *pw, size_t pwlen, char *out, size_t outlen)
{
	unsigned char salt[SCRYPT_SALT_LEN];
	unsigned char key[SCRYPT_KEY_LEN];
	char		salt64[32];
	char		key64[64];
	int			n1,
				n2;

	if (pwlen < PASSWORD_MIN_LEN)
		return PASSWORD_TOO_SHORT;
	if (pwlen > PASSWORD_MAX_LEN)
		return PASSWORD_TOO_LONG;
	if (!pg_strong_random(salt, sizeof(salt)))
		return PASSWORD_INTERNAL;
	if (!derive(pw, pwlen, salt, sizeof(salt), SCRYPT_LN, SCRYPT_R, SCRYPT_P, key, sizeof(key)))
		return PASSWORD_INTERNAL;
	n1 = pg_b64_encode((const char *) salt, sizeof(salt), salt64, sizeof(salt64) - 1);
	n2 = pg_b64_encode((const char *) key, sizeof(key), key64, sizeof(key64) - 1);
	OPENSSL_cleanse(key, sizeof(key));
	if (n1 < 0 || n2 < 0)
		return PASSWORD_INTERNAL;
	salt64[n1] = '\0';
	key64[n2] = '\0';
	if (snprintf(out, outlen, "$scrypt$ln=%d,r=%d,p=%d$%s$%s",
				 SCRYPT_LN, SCRYPT_R, SCRYPT_P, salt64, key64) >= (int) outlen)
		return PASSWORD_INTERNAL;
	return PASSWORD_OK;
}

PasswordResult
PasswordVerify(const char *pw, size_t pwlen, const char *stored)
{
	int			ln,
				r,
				p,
				consumed = 0;
	const char *salt64,
			   *key64;
	char		saltbuf[64];
	unsigned char salt[48];
	unsigned char want[64];
	unsigned char got[64];
	int			saltlen,
				keylen;
	bool		ok;

	if (stored == NULL ||
		sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%n", &ln, &r, &p, &consumed) != 3 ||
		consumed == 0)
		return PASSWORD_MALFORMED;
	/* bounds keep a tampered row from asking for gigabytes */
	if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 4)
		return PASSWORD_MALFORMED;
	salt64 = stored + consumed;
	key64 = strchr(salt64, '$');
	if (key64 == NULL || key64 - salt64 >= (ptrdiff_t) sizeof(saltbuf))
		return PASSWORD_MALFORMED;
	memcpy(saltbuf, salt64, key64 - salt64);
	saltbuf[key64 - salt64] = '\0';
	key64++;
	if (strlen(key64) > 88)
		return PASSWORD_MALFORMED;
	saltlen = pg_b64_decode(saltbuf, strlen(saltbuf), (char *) salt, sizeof(salt));
	keylen = pg_b64_decode(key64, strlen(key64), (char *) want, sizeof(want));
	if (saltlen <= 0 || keylen < 16)
		return PASSWORD_MALFORMED;
	if (pwlen > PASSWORD_MAX_LEN)
		return PASSWORD_MISMATCH;
	if (!derive(pw, pwlen, salt, saltlen, ln, r, p, got, keylen))
		return PASSWORD_INTERNAL;
	ok = CRYPTO_memcmp(got, want, keylen) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok ? PASSWORD_OK : PASSWORD_MISMATCH;
}

/*
 * erp._password_hash(text): used by erp.create_user and erp.set_password.
 * Errors never show the password.
 */
PG_FUNCTION_INFO_V1(pgerp_core_password_hash);
Datum
pgerp_core_password_hash(PG_FUNCTION_ARGS)
{
	text	   *pw;
	char		out[PASSWORD_HASH_BUFLEN];
	PasswordResult r;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("password must not be null")));
	pw = PG_GETARG_TEXT_PP(0);
	r = PasswordHash(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), out, sizeof(out));
	switch (r)
	{
		case PASSWORD_OK:
			break;
		case PASSWORD_TOO_SHORT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("password is too short"),
					 errdetail("A password must be at least %d bytes long.", PASSWORD_MIN_LEN)));
			break;
		case PASSWORD_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("password is too long"),
					 errdetail("A password must be at most %d bytes long.", PASSWORD_MAX_LEN)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not hash password")));
	}
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
