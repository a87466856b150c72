/*
 * HS256 JSON Web Tokens (RFC 7519), pure functions returning codes.
 *
 * Only HS256 is accepted: the algorithm is pinned, never taken from the
 * token, so "alg": "none" or an RS256/HS256 confusion cannot pass.  The
 * signature is checked (constant time) before the claims are trusted.
 */
#include "postgres.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/base64.h"

#include "pgerp/core.h"
#include "pgerp/auth.h"

#define JWT_MAX_LEN 4096

/* base64url without padding, as JOSE requires */
static char *
b64url_encode(const unsigned char *src, int len)
{
	int			cap = pg_b64_enc_len(len) + 1;
	char	   *out = palloc(cap);
	int			n = pg_b64_encode((const char *) src, len, out, cap);

	if (n < 0)
		return NULL;
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (int i = 0; i < n; i++)
	{
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return out;
}

/* returns decoded length or -1; rejects standard-alphabet and padded input */
static int
b64url_decode(const char *src, int len, unsigned char **dst)
{
	char	   *tmp;
	int			padded = len + (4 - len % 4) % 4;
	int			cap;
	int			n;

	if (len == 0 || len % 4 == 1)
		return -1;
	tmp = palloc(padded + 1);
	for (int i = 0; i < len; i++)
	{
		char		c = src[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return -1;
		tmp[i] = c;
	}
	for (int i = len; i < padded; i++)
		tmp[i] = '=';
	tmp[padded] = '\0';
	cap = pg_b64_dec_len(padded) + 1;
	*dst = palloc(cap);
	n = pg_b64_decode(tmp, padded, (char *) *dst, cap);
	if (n < 0)
		return -1;
	(*dst)[n] = '\0';

	/*
	 * Canonical form only: unused low bits of the last character must be
	 * zero, so that one token has exactly one spelling (tokens may serve as
	 * cache or revocation keys).  Two trailing characters carry 8 bits of
	 * their 12, three carry 16 of 18; every character was checked above.
	 */
	{
		char		last = tmp[len - 1];
		int			v = (last >= 'A' && last <= 'Z') ? last - 'A' :
			(last >= 'a' && last <= 'z') ? last - 'a' + 26 :
			(last >= '0' && last <= '9') ? last - '0' + 52 :
			(last == '+') ? 62 : 63;

		pfree(tmp);
		if ((len % 4 == 2 && (v & 0x0F) != 0) || (len % 4 == 3 && (v & 0x03) != 0))
			return -1;
	}
	return n;
}

/*
 * HMAC-SHA256 under a kept, keyed context: fetching the algorithm and
 * setting the key cost more than the MAC of a token (OpenSSL 3's EVP_Q_mac
 * does both on every call), and every HTTP request verifies one.  The
 * context is re-keyed when the key changes; each call works on a copy.
 */
static EVP_MAC *hmac_alg = NULL;
static EVP_MAC_CTX *hmac_keyed = NULL;
static unsigned char hmac_key[128];
static size_t hmac_keylen = 0;

static bool
hmac_rekey(const unsigned char *key, size_t keylen)
{
	OSSL_PARAM	params[2];

	if (hmac_keyed != NULL && keylen == hmac_keylen && CRYPTO_memcmp(key, hmac_key, keylen) == 0)
		return true;
	if (hmac_keyed != NULL)
		EVP_MAC_CTX_free(hmac_keyed);
	hmac_keyed = NULL;
	OPENSSL_cleanse(hmac_key, sizeof(hmac_key));
	hmac_keylen = 0;
	if (keylen > sizeof(hmac_key))
		return false;			/* not kept: the caller computes it the long way */
	if (hmac_alg == NULL && (hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((hmac_keyed = EVP_MAC_CTX_new(hmac_alg)) == NULL)
		return false;
	if (!EVP_MAC_init(hmac_keyed, key, keylen, params))
	{
		EVP_MAC_CTX_free(hmac_keyed);
		hmac_keyed = NULL;
		return false;
	}
	memcpy(hmac_key, key, keylen);
	hmac_keylen = keylen;
	return true;
}

static bool
hmac_sha256(const unsigned char *key, size_t keylen, const char *data, size_t len,
			unsigned char *mac)
{
	size_t		maclen = 0;
	EVP_MAC_CTX *ctx;
	bool		ok;

	if (!hmac_rekey(key, keylen))
		return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen,
						 (const unsigned char *) data, len, mac, 32, &maclen) != NULL
			&& maclen == 32;
	if ((ctx = EVP_MAC_CTX_dup(hmac_keyed)) == NULL)
		return false;
	ok = EVP_MAC_update(ctx, (const unsigned char *) data, len) &&
		EVP_MAC_final(ctx, mac, &maclen, 32) && maclen == 32;
	EVP_MAC_CTX_free(ctx);
	return ok;
}

JwtResult
JwtSign(const JwtClaims *claims, const unsigned char *key, size_t keylen, char **out)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char		payload[256];
	char	   *h64,
			   *p64,
			   *s64,
			   *signing;
	unsigned char mac[32];

	if (claims->company != 0)
		snprintf(payload, sizeof(payload),
				 "{\"sub\":\"%lld\",\"company\":%lld,\"gen\":%lld,\"iat\":%lld,\"exp\":%lld}",
				 (long long) claims->sub, (long long) claims->company, (long long) claims->gen,
				 (long long) claims->iat, (long long) claims->exp);
	else
		snprintf(payload, sizeof(payload),
				 "{\"sub\":\"%lld\",\"company\":null,\"gen\":%lld,\"iat\":%lld,\"exp\":%lld}",
				 (long long) claims->sub, (long long) claims->gen,
				 (long long) claims->iat, (long long) claims->exp);
	h64 = b64url_encode((const unsigned char *) header, strlen(header));
	p64 = b64url_encode((const unsigned char *) payload, strlen(payload));
	if (h64 == NULL || p64 == NULL)
		return JWT_INTERNAL;
	signing = psprintf("%s.%s", h64, p64);
	if (!hmac_sha256(key, keylen, signing, strlen(signing), mac))
		return JWT_INTERNAL;
	s64 = b64url_encode(mac, sizeof(mac));
	if (s64 == NULL)
		return JWT_INTERNAL;
	*out = psprintf("%s.%s", signing, s64);
	return JWT_OK;
}

/* An integer claim: absent -> false with *present = false; wrong type -> false. */
static bool
int_claim(json_object *obj, const char *name, bool required, int64 *val, bool allow_string)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) || v == NULL)
		return !required ? (*val = 0, true) : false;
	if (json_object_is_type(v, json_type_int))
	{
		errno = 0;
		*val = json_object_get_int64(v);
		return errno == 0;
	}
	if (allow_string && json_object_is_type(v, json_type_string))
	{
		const char *s = json_object_get_string(v);
		char	   *end;

		errno = 0;
		*val = strtoll(s, &end, 10);
		return errno == 0 && end != s && *end == '\0' && *val > 0;
	}
	return false;
}

/* base64url of JwtSign's header {"alg":"HS256","typ":"JWT"} */
static const char our_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

JwtResult
JwtVerify(const char *token, const unsigned char *key, size_t keylen, int64 now,
		  JwtClaims *claims)
{
	const char *dot1,
			   *dot2;
	size_t		len = strlen(token);
	unsigned char *header,
			   *payload,
			   *sig;
	unsigned char mac[32];
	int			n;
	json_object *h,
			   *p,
			   *alg,
			   *company;
	JwtResult	result;
	int64		nbf;

	if (len == 0 || len > JWT_MAX_LEN)
		return JWT_MALFORMED;
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		return JWT_MALFORMED;

	/*
	 * header: the algorithm is pinned to HS256.  The header JwtSign writes
	 * is recognised by its text, so the usual token skips a decode and a
	 * JSON parse; any other header is parsed and checked.
	 */
	if ((size_t) (dot1 - token) == strlen(our_header_b64) &&
		memcmp(token, our_header_b64, dot1 - token) == 0)
		goto header_ok;
	if (b64url_decode(token, dot1 - token, &header) < 0)
		return JWT_MALFORMED;
	h = json_tokener_parse((const char *) header);
	if (h == NULL || !json_object_is_type(h, json_type_object))
	{
		if (h)
			json_object_put(h);
		return JWT_MALFORMED;
	}
	if (!json_object_object_get_ex(h, "alg", &alg) ||
		!json_object_is_type(alg, json_type_string) ||
		strcmp(json_object_get_string(alg), "HS256") != 0)
	{
		json_object_put(h);
		return JWT_BAD_ALGORITHM;
	}
	json_object_put(h);

header_ok:
	/* signature before any claim is believed; HS256 is 32 bytes = 43 characters */
	if (strlen(dot2 + 1) != 43)
		return JWT_BAD_SIGNATURE;
	n = b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig);
	if (n < 0)
		return JWT_MALFORMED;
	if (!hmac_sha256(key, keylen, token, dot2 - token, mac))
		return JWT_INTERNAL;
	if (n != (int) sizeof(mac) || CRYPTO_memcmp(mac, sig, sizeof(mac)) != 0)
		return JWT_BAD_SIGNATURE;

	if (b64url_decode(dot1 + 1, dot2 - dot1 - 1, &payload) < 0)
		return JWT_MALFORMED;
	p = json_tokener_parse((const char *) payload);
	if (p == NULL || !json_object_is_type(p, json_type_object))
	{
		if (p)
			json_object_put(p);
		return JWT_MALFORMED;
	}
	memset(claims, 0, sizeof(*claims));
	result = JWT_OK;
	if (!int_claim(p, "sub", true, &claims->sub, true) || claims->sub <= 0 ||
		!int_claim(p, "exp", true, &claims->exp, false) ||
		!int_claim(p, "iat", false, &claims->iat, false) ||
		!int_claim(p, "nbf", false, &nbf, false) ||
		!int_claim(p, "gen", false, &claims->gen, false) || claims->gen < 0)
		result = JWT_BAD_CLAIMS;
	else if (json_object_object_get_ex(p, "company", &company) && company != NULL)
	{
		if (!json_object_is_type(company, json_type_int) ||
			(claims->company = json_object_get_int64(company)) <= 0)
			result = JWT_BAD_CLAIMS;
	}
	json_object_put(p);
	if (result != JWT_OK)
		return result;
	if (now > claims->exp + JWT_LEEWAY_SECONDS)
		return JWT_EXPIRED;
	if (nbf != 0 && nbf > now + JWT_LEEWAY_SECONDS)
		return JWT_NOT_YET_VALID;
	return JWT_OK;
}

const char *
JwtResultDetail(JwtResult r)
{
	switch (r)
	{
		case JWT_OK:
			return "The token is valid.";
		case JWT_MALFORMED:
			return "The token is malformed.";
		case JWT_BAD_ALGORITHM:
			return "The token is not signed with HS256, the only accepted algorithm.";
		case JWT_BAD_SIGNATURE:
			return "The token has a bad signature.";
		case JWT_EXPIRED:
			return "The token has expired.";
		case JWT_NOT_YET_VALID:
			return "The token is not valid yet.";
		case JWT_BAD_CLAIMS:
			return "The token's claims are missing or malformed.";
		case JWT_INTERNAL:
			return "The token could not be checked.";
	}
	return "The token is invalid.";
}
