/*
 * pgerp auth: passwords, access tokens, sign-in.  Sits above rbac: it asks
 * rbac for the user's state and companies, and core for the session.
 */
#ifndef PGERP_AUTH_H
#define PGERP_AUTH_H

#include "postgres.h"

/* tokens_settings.c */
extern int	pgerp_token_ttl;
extern char *pgerp_jwt_secret;
extern void AuthTokenGucs(void);

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

/* signin.c: erp.use_token(token, local) from C, with the verified claims */
extern void AuthUseToken(const char *token, bool local, JwtClaims *claims);

/*
 * init.c: the auth settings and shared memory (AuthInit from _PG_init).
 */
extern int	pgerp_signin_max_failures;
extern int	pgerp_signin_address_max_failures;
extern int	pgerp_signin_clock_offset;
extern int	pgerp_password_min_length;
extern int	pgerp_refresh_ttl;
extern void AuthInit(void);

/*
 * address.c: where a sign-in comes from.  The connection's address
 * ("local" for a Unix socket or a background process), or the one a
 * gateway in this backend set for the current transaction.
 */
#define AUTH_ADDRESS_LEN 64
extern void AuthSetClientAddress(const char *addr);
extern const char *AuthClientAddress(void);

/*
 * lockout.c: failed sign-ins counted per login and per address in shared
 * memory.  The pure part: a counter and the backoff it earns.
 */
#define LOCKOUT_WINDOW_SECONDS (15 * 60)
#define LOCKOUT_FIRST_BACKOFF 30
#define LOCKOUT_MAX_BACKOFF (15 * 60)
#define LOCKOUT_SLOTS 4096
#define LOCKOUT_KEY_LEN 128

typedef struct LockoutCounter
{
	int32		failures;		/* within the window */
	int32		lockouts;		/* backoffs earned in a row: the next one doubles */
	int64		last_event;		/* seconds: last failure or end of the last backoff */
	int64		locked_until;	/* seconds; 0 when not locked */
} LockoutCounter;

extern bool LockoutIsLocked(const LockoutCounter *c, int64 now);
extern int64 LockoutBackoff(int32 lockouts);
extern int64 LockoutAddFailure(LockoutCounter *c, int64 now, int max_failures);

typedef enum LockoutVerdict
{
	LOCKOUT_OPEN = 0,
	LOCKOUT_LOGIN_LOCKED,
	LOCKOUT_ADDRESS_LOCKED
} LockoutVerdict;

extern char *LockoutLoginKey(const char *login, size_t len);
extern LockoutVerdict LockoutCheck(const char *login_key, const char *address, int64 *retry_after);
extern void LockoutRecordFailure(const char *login_key, const char *address,
								 int32 *login_failures, int64 *login_locked, int64 *address_locked);
extern void LockoutRecordSuccess(const char *login_key);
extern int64 LockoutNow(void);
extern Size LockoutShmemSize(void);
extern void LockoutShmemInit(void);

/*
 * events.c: sign-in events queued in shared memory and written to the
 * audit trail by a later transaction that commits (a failed sign-in's own
 * transaction rolls back).  A reused refresh token's family revocation
 * travels the same way.
 */
typedef enum SignInEventKind
{
	SIGNIN_EVENT_SUCCESS = 1,
	SIGNIN_EVENT_FAILURE,		/* wrong password or unknown login */
	SIGNIN_EVENT_REFUSED,		/* refused during a backoff */
	SIGNIN_EVENT_LOCKOUT,		/* a backoff starts */
	SIGNIN_EVENT_REFRESH,
	SIGNIN_EVENT_REFRESH_REUSE	/* a used refresh token again: its family is revoked */
} SignInEventKind;

typedef struct SignInEvent
{
	SignInEventKind kind;
	int64		user_id;		/* 0 when unknown */
	int64		company_id;		/* 0 when none */
	int64		family;			/* refresh token family; 0 when none */
	int32		failures;
	int32		locked_seconds;
	char		login[LOCKOUT_KEY_LEN + 1];
	char		address[AUTH_ADDRESS_LEN];
} SignInEvent;

#define SIGNIN_EVENT_SLOTS 1024

extern void SignInEventQueue(const SignInEvent *ev);
extern int	SignInEventFlush(void);
extern bool SignInFamilyRevokePending(int64 family);
extern Size SignInEventShmemSize(void);
extern void SignInEventShmemInit(void);
extern void SignInEventXactInit(void);

/* signin.c: the pieces of erp.sign_in that erp.sign_in_session shares */
extern int64 AuthSignIn(text *login, text *password, int64 company, int64 *generation);
extern char *AuthIssueAccessToken(int64 user_id, int64 company_id, int64 generation, int64 *expires);
extern void AuthAuditSignIn(SignInEventKind kind, text *login, int64 user_id, int64 company_id, int64 family);

/* refresh.c: rotation of refresh tokens */
extern void RefreshRevokeFamily(int64 family);

/* quality.c: the pure checks of a new password */
typedef enum QualityResult
{
	QUALITY_OK = 0,
	QUALITY_TOO_SHORT,
	QUALITY_IS_LOGIN,
	QUALITY_CONTAINS_LOGIN
} QualityResult;

#define QUALITY_LOGIN_MIN_CONTAINED 3

extern QualityResult QualityCheckBasic(const char *pw, size_t pwlen, const char *login, int min_chars);

#endif
