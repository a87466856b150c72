/*
 * pgerp core: module set-up, the verified session identity, passwords,
 * access tokens and the helpers that run catalogue work as the extension
 * owner.
 */
#ifndef PGERP_CORE_H
#define PGERP_CORE_H

#include "postgres.h"

/* init.c */
extern int	pgerp_token_ttl;
extern char *pgerp_jwt_secret;

/* session.c: the acting user and company, set only by verified C code */
extern void SessionInit(void);
extern int64 SessionUserId(void);		/* 0 when nobody is signed in */
extern int64 SessionCompanyId(void);	/* 0 when no company is chosen */
extern void SessionSet(int64 user_id, int64 company_id, bool local);
extern void SessionClear(void);
extern void SessionSetCompany(int64 company_id);
extern bool SessionLocalActive(void);
extern void SessionEndLocal(void);
extern void SessionClearNow(void);	/* sign out; no rollback undoes it */
extern void SessionUsers(int64 *session_user_id, int64 *local_user_id);

/* signin.c: revocation of every token a user holds (erp.app_user.token_generation) */
extern void RevokeUserTokens(int64 user_id);

/* echo.c: a value cut to PGERP_ECHO_MAX characters for error messages */
#define PGERP_ECHO_MAX 64
extern char *PgerpEcho(const char *value);

/* owner.c: run catalogue reads as the extension owner with a safe search_path */
typedef struct OwnerContext
{
	Oid			saved_user;
	int			saved_sec;
	int			guc_level;
} OwnerContext;
extern Oid	ErpRelid(const char *relname, bool missing_ok);
extern Oid	ErpOwner(void);
extern void OwnerContextBegin(OwnerContext *ctx);
extern void OwnerContextEnd(OwnerContext *ctx);
extern bool CallerIsSuperuser(void);

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
