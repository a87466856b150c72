/*
 * AES-256-GCM framing and key wrapping, pure functions returning codes.
 *
 * A value (format 2): format byte 0x02 | key id (int64, big-endian) |
 * company id (int64, big-endian, 0 for none) | nonce (12) | ciphertext |
 * tag (16). The associated data is the whole header and the context
 * (schema.table.column), so a value copied to another column, or with its
 * header edited (another key or another company), does not decrypt.
 *
 * Format 1 (0.1.0) has no company: 0x01 | key id | nonce | ciphertext | tag.
 * It is still opened; CryptoSealV1 writes it only for tests of that path.
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "pgerp/crypto.h"

/* fetched once per backend: an implicit fetch on every call costs more than the cipher */
static EVP_CIPHER *
aes_256_gcm(void)
{
	static EVP_CIPHER *cipher = NULL;

	if (cipher == NULL)
		cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	return cipher;
}

static CryptoResult
gcm(bool encrypt, const unsigned char *key, const unsigned char *nonce,
	const unsigned char *aad1, size_t aad1len, const unsigned char *aad2, size_t aad2len,
	const unsigned char *in, size_t inlen, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			len;
	CryptoResult r = CRYPTO_INTERNAL;

	if (ctx == NULL || aes_256_gcm() == NULL)
	{
		EVP_CIPHER_CTX_free(ctx);
		return CRYPTO_INTERNAL;
	}
	if (EVP_CipherInit_ex(ctx, aes_256_gcm(), NULL, NULL, NULL, encrypt ? 1 : 0) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_NONCE_LEN, NULL) != 1 ||
		EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt ? 1 : 0) != 1)
		goto done;
	if (aad1len > 0 && EVP_CipherUpdate(ctx, NULL, &len, aad1, (int) aad1len) != 1)
		goto done;
	if (aad2len > 0 && EVP_CipherUpdate(ctx, NULL, &len, aad2, (int) aad2len) != 1)
		goto done;
	if (inlen > 0 && EVP_CipherUpdate(ctx, out, &len, in, (int) inlen) != 1)
		goto done;
	if (encrypt)
	{
		if (EVP_CipherFinal_ex(ctx, out + inlen, &len) != 1 ||
			EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
			goto done;
		r = CRYPTO_OK;
	}
	else
	{
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, tag) != 1)
			goto done;
		r = EVP_CipherFinal_ex(ctx, out + inlen, &len) == 1 ? CRYPTO_OK : CRYPTO_AUTH_FAILED;
	}
done:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static void
put_int64(unsigned char *out, int64 v)
{
	uint64		u = (uint64) v;

	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char) (u >> (56 - 8 * i));
}

static int64
get_int64(const unsigned char *in)
{
	uint64		u = 0;

	for (int i = 0; i < 8; i++)
		u = (u << 8) | in[i];
	return (int64) u;
}

/* header length of a format, 0 for an unknown one */
static size_t
header_len(unsigned char format)
{
	return format == CRYPTO_FORMAT_V2 ? CRYPTO_HEADER_V2 :
		format == CRYPTO_FORMAT_V1 ? CRYPTO_HEADER_V1 : 0;
}

/* Bytes a value of this format adds to its plaintext, 0 for an unknown format. */
size_t
CryptoOverheadOf(unsigned char format)
{
	size_t		h = header_len(format);

	return h == 0 ? 0 : h + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN;
}

/* out must hold plainlen + CRYPTO_OVERHEAD bytes; the value is bound to company_id */
CryptoResult
CryptoSeal(const unsigned char *key, int64 key_id, int64 company_id,
		   const unsigned char *aad, size_t aadlen,
		   const unsigned char *plain, size_t plainlen, unsigned char *out)
{
	unsigned char *nonce = out + CRYPTO_HEADER_V2;

	Assert(company_id >= 0);
	out[0] = CRYPTO_FORMAT_V2;
	put_int64(out + 1, key_id);
	put_int64(out + 9, company_id);
	if (RAND_bytes(nonce, CRYPTO_NONCE_LEN) != 1)
		return CRYPTO_INTERNAL;
	return gcm(true, key, nonce, out, CRYPTO_HEADER_V2, aad, aadlen, plain, plainlen,
			   nonce + CRYPTO_NONCE_LEN, nonce + CRYPTO_NONCE_LEN + plainlen);
}

/* The 0.1.0 format (no company); out must hold plainlen + CRYPTO_OVERHEAD_V1 bytes. */
CryptoResult
CryptoSealV1(const unsigned char *key, int64 key_id, const unsigned char *aad, size_t aadlen,
			 const unsigned char *plain, size_t plainlen, unsigned char *out)
{
	unsigned char *nonce = out + CRYPTO_HEADER_V1;

	out[0] = CRYPTO_FORMAT_V1;
	put_int64(out + 1, key_id);
	if (RAND_bytes(nonce, CRYPTO_NONCE_LEN) != 1)
		return CRYPTO_INTERNAL;
	return gcm(true, key, nonce, out, CRYPTO_HEADER_V1, aad, aadlen, plain, plainlen,
			   nonce + CRYPTO_NONCE_LEN, nonce + CRYPTO_NONCE_LEN + plainlen);
}

/* Format, key id and company (0 in format 1) of a value, without opening it. */
CryptoResult
CryptoParseHeader(const unsigned char *in, size_t inlen, CryptoHeader *h)
{
	size_t		overhead = inlen > 0 ? CryptoOverheadOf(in[0]) : 0;

	if (overhead == 0 || inlen < overhead)
		return CRYPTO_MALFORMED;
	h->format = in[0];
	h->key_id = get_int64(in + 1);
	h->company_id = in[0] == CRYPTO_FORMAT_V2 ? get_int64(in + 9) : 0;
	h->plain_len = inlen - overhead;
	if (h->company_id < 0)
		return CRYPTO_MALFORMED;
	return CRYPTO_OK;
}

/* plain must hold the plain_len bytes CryptoParseHeader reports; either format */
CryptoResult
CryptoOpen(const unsigned char *key, const unsigned char *aad, size_t aadlen,
		   const unsigned char *in, size_t inlen, unsigned char *plain)
{
	CryptoHeader h;
	size_t		hlen;
	unsigned char tag[CRYPTO_TAG_LEN];

	if (CryptoParseHeader(in, inlen, &h) != CRYPTO_OK)
		return CRYPTO_MALFORMED;
	hlen = header_len(in[0]);
	memcpy(tag, in + hlen + CRYPTO_NONCE_LEN + h.plain_len, CRYPTO_TAG_LEN);
	return gcm(false, key, in + hlen, in, hlen, aad, aadlen, in + hlen + CRYPTO_NONCE_LEN,
			   h.plain_len, plain, tag);
}

/* wrapped = nonce | encrypted key | tag, under the master key */
CryptoResult
CryptoWrapKey(const unsigned char *master, const unsigned char *aad, size_t aadlen,
			  const unsigned char *key, unsigned char *wrapped)
{
	if (RAND_bytes(wrapped, CRYPTO_NONCE_LEN) != 1)
		return CRYPTO_INTERNAL;
	return gcm(true, master, wrapped, aad, aadlen, NULL, 0, key, CRYPTO_KEY_LEN,
			   wrapped + CRYPTO_NONCE_LEN, wrapped + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN);
}

CryptoResult
CryptoUnwrapKey(const unsigned char *master, const unsigned char *aad, size_t aadlen,
				const unsigned char *wrapped, size_t wrappedlen, unsigned char *key)
{
	unsigned char tag[CRYPTO_TAG_LEN];

	if (wrappedlen != CRYPTO_WRAPPED_LEN)
		return CRYPTO_MALFORMED;
	memcpy(tag, wrapped + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN, CRYPTO_TAG_LEN);
	return gcm(false, master, wrapped, aad, aadlen, NULL, 0, wrapped + CRYPTO_NONCE_LEN,
			   CRYPTO_KEY_LEN, key, tag);
}

/*
 * HMAC-SHA256 of the input under a key derived from the data key with HKDF
 * (info "pgerp blind index"), truncated to 16 bytes: equality search without
 * decrypting, and a blind-index key that is not the encryption key.
 */
CryptoResult
CryptoBlindIndex(const unsigned char *key, const unsigned char *input, size_t len, unsigned char *out)
{
	static const char info[] = "pgerp blind index";
	unsigned char derived[32];
	unsigned char mac[32];
	size_t		maclen = 0;
	EVP_KDF    *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM	params[4];
	CryptoResult r = CRYPTO_INTERNAL;

	if (kctx == NULL)
		goto done;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, CRYPTO_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, sizeof(info) - 1);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, derived, sizeof(derived), params) != 1)
		goto done;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, derived, sizeof(derived), input, len,
				  mac, sizeof(mac), &maclen) == NULL || maclen != sizeof(mac))
		goto done;
	memcpy(out, mac, BLIND_INDEX_LEN);
	r = CRYPTO_OK;
done:
	OPENSSL_cleanse(derived, sizeof(derived));
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}
