/*
 * pgerp auth: passwords, access tokens, sign-in.  Sits above rbac: it asks
 * rbac for the user's state and companies, and core for the session.
 */
#ifndef PGERP_AUTH_H
#define PGERP_AUTH_H

#include "postgres.h"

/* signin.c: revocation of every token a user holds (erp.app_user.token_generation) */
extern void RevokeUserTokens(int64 user_id);

/* password.c: pure scrypt password hashing */
typedef enum PasswordResult
{
	PASSWORD_OK = 0,
	PASSWORD_TOO_SHORT,
	PASSWORD_TOO_LONG,
	PASSWORD_MALFORMED,			/* stored hash cannot be parsed */
	PASSWORD_MISMATCH,
	PASSWORD_INTERNAL			/* OpenSSL or randomness failure */
} PasswordResult;

#define PASSWORD_MIN_LEN 8
#define PASSWORD_MAX_LEN 1024
#define PASSWORD_HASH_BUFLEN 160

extern PasswordResult PasswordHash(const char *pw, size_t pwlen, char *out, size_t outlen);
extern PasswordResult PasswordVerify(const char *pw, size_t pwlen, const char *stored);

/* jwt.c: pure HS256 JSON Web Tokens */
typedef enum JwtResult
{
	JWT_OK = 0,
	JWT_MALFORMED,
	JWT_BAD_ALGORITHM,
	JWT_BAD_SIGNATURE,
	JWT_EXPIRED,
	JWT_NOT_YET_VALID,
	JWT_BAD_CLAIMS,
	JWT_INTERNAL
} JwtResult;

typedef struct JwtClaims
{
	int64		sub;
	int64		company;		/* 0 when absent or null */
	int64		iat;
	int64		exp;
	int64		gen;			/* the user's token generation; 0 when absent */
} JwtClaims;

#define JWT_LEEWAY_SECONDS 30

extern JwtResult JwtSign(const JwtClaims *claims, const unsigned char *key, size_t keylen, char **out);
extern JwtResult JwtVerify(const char *token, const unsigned char *key, size_t keylen,
						   int64 now, JwtClaims *claims);
extern const char *JwtResultDetail(JwtResult r);

#endif
