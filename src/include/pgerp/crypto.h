/*
 * pgerp crypto: the master key, wrapped data keys, AES-256-GCM values and
 * blind indexes. No function returns key material; buffers holding keys are
 * wiped with OPENSSL_cleanse when dropped.
 */
#ifndef PGERP_CRYPTO_H
#define PGERP_CRYPTO_H

#include "postgres.h"

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_FORMAT_V1 0x01		/* 0.1.0: no company bound */
#define CRYPTO_FORMAT_V2 0x02		/* the row's company bound in the header */
/* format byte + key id (8, big-endian) [+ company id (8, big-endian)] */
#define CRYPTO_HEADER_V1 (1 + 8)
#define CRYPTO_HEADER_V2 (1 + 8 + 8)
/* header + nonce + tag, around the ciphertext */
#define CRYPTO_OVERHEAD_V1 (CRYPTO_HEADER_V1 + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_OVERHEAD (CRYPTO_HEADER_V2 + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_WRAPPED_LEN (CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN + CRYPTO_TAG_LEN)
#define BLIND_INDEX_LEN 16

typedef enum CryptoResult
{
	CRYPTO_OK = 0,
	CRYPTO_MALFORMED,			/* too short, unknown format */
	CRYPTO_AUTH_FAILED,			/* tag mismatch: tampered, wrong key or wrong context */
	CRYPTO_INTERNAL				/* OpenSSL failure */
} CryptoResult;

/* what the header of a value says */
typedef struct CryptoHeader
{
	unsigned char format;		/* CRYPTO_FORMAT_V1 or _V2 */
	int64		key_id;
	int64		company_id;		/* 0: none bound (format 1, or no company column) */
	size_t		plain_len;
} CryptoHeader;

/* aead.c: pure functions */
extern size_t CryptoOverheadOf(unsigned char format);
extern CryptoResult CryptoSeal(const unsigned char *key, int64 key_id, int64 company_id,
							   const unsigned char *aad, size_t aadlen,
							   const unsigned char *plain, size_t plainlen, unsigned char *out);
extern CryptoResult CryptoSealV1(const unsigned char *key, int64 key_id,
								 const unsigned char *aad, size_t aadlen,
								 const unsigned char *plain, size_t plainlen, unsigned char *out);
extern CryptoResult CryptoParseHeader(const unsigned char *in, size_t inlen, CryptoHeader *h);
extern CryptoResult CryptoOpen(const unsigned char *key, const unsigned char *aad, size_t aadlen,
							   const unsigned char *in, size_t inlen, unsigned char *plain);
extern CryptoResult CryptoWrapKey(const unsigned char *master, const unsigned char *aad, size_t aadlen,
								  const unsigned char *key, unsigned char *wrapped);
extern CryptoResult CryptoUnwrapKey(const unsigned char *master, const unsigned char *aad, size_t aadlen,
									const unsigned char *wrapped, size_t wrappedlen, unsigned char *key);
extern CryptoResult CryptoBlindIndex(const unsigned char *key, const unsigned char *input, size_t len,
									 unsigned char *out);

/* masterkey.c */
extern void CryptoInit(void);
extern const unsigned char *CryptoMasterKey(void);
extern bool CryptoMasterKeyConfigured(void);
extern void CryptoReadKeyFile(const char *path, unsigned char *key);
extern void CryptoUseMasterKey(const unsigned char *key);

/* keys.c */
typedef struct DataKey
{
	int64		id;
	int32		version;
	bool		retired;
	unsigned char key[CRYPTO_KEY_LEN];
} DataKey;

extern const DataKey *CryptoCurrentKey(const char *context, bool create);
extern const DataKey *CryptoKeyById(int64 id, const char *context);
extern const DataKey *CryptoFirstKey(const char *context);
extern void CryptoForgetKeys(void);
extern void CryptoKeysInit(void);
extern int32 CryptoNewVersion(const char *context);
extern int64 CryptoRewrapAll(const unsigned char *new_master);

/* sql.c: the SQL-level operations, for C callers; errors are raised here */
extern bytea *CryptoEncryptBytes(const char *plain, size_t len, const char *context,
								 int64 company_id, bool create_key);
extern void CryptoReadHeader(bytea *in, CryptoHeader *h);
extern text *CryptoDecryptBytes(bytea *in, const char *context, CryptoHeader *h);
extern bytea *CryptoBlindIndexOf(const char *plain, size_t len, const char *context);

#endif
