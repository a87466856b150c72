/*
 * erp.sign_in() and erp.use_token(): the only two ways an identity is set.
 * Both run as SECURITY DEFINER functions so they can read erp.app_user and
 * erp.secret, which the application role cannot.
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/timestamp.h"

#include "pgerp/core.h"
#include "pgerp/auth.h"
#include "pgerp/rbac.h"

/* Spent on unknown logins so that they take as long as wrong passwords. */
static const char dummy_hash[] =
"$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

static SPIPlanPtr user_by_login_plan = NULL;
static SPIPlanPtr secret_plan = NULL;
static SPIPlanPtr login_gen_plan = NULL;	/* 0.2: with token_generation */
static SPIPlanPtr revoke_plan = NULL;

/*
 * The generated signing key, read once per backend as the owner and kept;
 * erp.secret's statement trigger sends a relcache invalidation that drops
 * it (wiped) in every backend.
 */
static unsigned char *cached_key = NULL;
static size_t cached_keylen = 0;
static Oid	secret_relid = InvalidOid;

static void
secret_relcache_callback(Datum arg, Oid relid)
{
	if ((!OidIsValid(relid) || relid == secret_relid) && cached_key != NULL)
	{
		OPENSSL_cleanse(cached_key, cached_keylen);
		pfree(cached_key);
		cached_key = NULL;
	}
}

static void
load_generated_key(void)
{
	static bool callback_registered = false;
	OwnerContext oc;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(secret_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	secret_relid = ErpRelid("secret", false);
	OwnerContextBegin(&oc);
	SPI_connect();
	(void) PgerpKeptPlan(&secret_plan, "SELECT value FROM erp.secret WHERE name OPERATOR(pg_catalog.=) 'jwt'", 0, NULL);
	if (SPI_execute_plan(secret_plan, NULL, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			bytea	   *b = DatumGetByteaPP(d);

			cached_keylen = VARSIZE_ANY_EXHDR(b);
			cached_key = MemoryContextAlloc(TopMemoryContext, Max(cached_keylen, 1));
			memcpy(cached_key, VARDATA_ANY(b), cached_keylen);
		}
	}
	SPI_finish();
	OwnerContextEnd(&oc);
}

/* The signing key: pgerp.jwt_secret when set, else the generated one (kept). */
static unsigned char *
signing_key(size_t *len)
{
	if (pgerp_jwt_secret != NULL && pgerp_jwt_secret[0] != '\0')
	{
		*len = strlen(pgerp_jwt_secret);
		return (unsigned char *) pgerp_jwt_secret;
	}
	AcceptInvalidationMessages();
	if (cached_key == NULL)
		load_generated_key();
	if (cached_key == NULL || cached_keylen < 32)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no token signing secret is configured"),
				 errhint("Set pgerp.jwt_secret to at least 32 bytes, or restore the row 'jwt' of erp.secret.")));
	*len = cached_keylen;
	return cached_key;
}

/*
 * The one answer to every refused sign-in.  errhidestmt: the statement that
 * failed carries the password, and log_min_error_statement would log it.
 */
static void
invalid_credentials(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PASSWORD),
			 errmsg("invalid login or password"),
			 errhidestmt(true)));
}

static int64
now_seconds(void)
{
	return (int64) time(NULL);
}

static char *
issue_token(int64 user_id, int64 company_id, int64 generation, int64 *expires)
{
	JwtClaims	claims;
	size_t		keylen;
	unsigned char *key = signing_key(&keylen);
	char	   *token = NULL;
	JwtResult	r;

	claims.sub = user_id;
	claims.company = company_id;
	claims.gen = generation;
	claims.iat = now_seconds();
	claims.exp = claims.iat + pgerp_token_ttl;
	if (expires != NULL)
		*expires = claims.exp;
	r = JwtSign(&claims, key, keylen, &token);
	if (r != JWT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign access token")));
	return token;
}

static void
choose_company(int64 wanted)
{
	if (wanted != 0)
	{
		if (!AclCompanyAllowed(wanted))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("company %lld is not allowed for this user", (long long) wanted),
					 errdetail("The user holds no role on that company or on a parent that reaches it.")));
		SessionSetCompany(wanted);
	}
	else
		SessionSetCompany(AclDefaultCompany());
}

/*
 * Find an active user by login: id, stored hash and, from 0.2 on, the token
 * generation (one indexed query).  *user_id stays 0 when there is none.
 */
static void
lookup_login(text *login, bool with_generation, int64 *user_id, char **stored,
			 int64 *generation)
{
	OwnerContext oc;
	Datum		arg = PointerGetDatum(login);
	SPIPlanPtr *plan = with_generation ? &login_gen_plan : &user_by_login_plan;

	OwnerContextBegin(&oc);
	SPI_connect();
	if (*plan == NULL)
	{
		Oid			t = TEXTOID;

		(void) PgerpKeptPlan(plan, with_generation ?
							 "SELECT id, password_hash, token_generation FROM erp.app_user"
							 " WHERE pg_catalog.lower(login) OPERATOR(pg_catalog.=) pg_catalog.lower(pg_catalog.btrim($1))"
							 " AND active" :
							 "SELECT id, password_hash FROM erp.app_user"
							 " WHERE pg_catalog.lower(login) OPERATOR(pg_catalog.=) pg_catalog.lower(pg_catalog.btrim($1))"
							 " AND active", 1, &t);
	}
	if (SPI_execute_plan(*plan, &arg, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		bool		isnull;
		char	   *v;

		*user_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		if (v != NULL)
		{
			*stored = SPI_palloc(strlen(v) + 1);
			strcpy(*stored, v);
		}
		if (with_generation)
			*generation = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	}
	SPI_finish();
	OwnerContextEnd(&oc);
}

/*
 * A refused sign-in: counted per login and address, logged without the
 * password (errhidestmt: the statement text carries it), queued for the
 * audit trail (0.2 databases), then the one answer for every refusal.
 */
static void
refuse_sign_in(const char *key, int64 user_id, bool audit)
{
	const char *addr = AuthClientAddress();
	SignInEvent ev;
	int32		failures;
	int64		login_locked;
	int64		address_locked;

	LockoutRecordFailure(key, addr, &failures, &login_locked, &address_locked);
	ereport(LOG,
			(errmsg("pgerp: failed sign-in of login \"%s\" from %s (%d in a row)",
					PgerpEcho(key), addr, failures),
			 errhidestmt(true)));
	if (login_locked > 0 || address_locked > 0)
		ereport(LOG,
				(errmsg("pgerp: sign-ins of %s %s refused for %lld s after repeated failures",
						login_locked > 0 ? "login" : "address",
						login_locked > 0 ? PgerpEcho(key) : addr,
						(long long) Max(login_locked, address_locked)),
				 errhidestmt(true)));
	if (audit)
	{
		memset(&ev, 0, sizeof(ev));
		ev.kind = SIGNIN_EVENT_FAILURE;
		ev.user_id = user_id;
		ev.failures = failures;
		strlcpy(ev.login, key, sizeof(ev.login));
		strlcpy(ev.address, addr, sizeof(ev.address));
		SignInEventQueue(&ev);
		if (login_locked > 0 || address_locked > 0)
		{
			ev.kind = SIGNIN_EVENT_LOCKOUT;
			ev.locked_seconds = (int32) Max(login_locked, address_locked);
			SignInEventQueue(&ev);
		}
	}
	invalid_credentials();
}

/* Refused during a backoff: not checked, not counted, the same answer. */
static void
refuse_locked(const char *key, LockoutVerdict v, int64 retry, bool audit)
{
	const char *addr = AuthClientAddress();
	SignInEvent ev;

	ereport(LOG,
			(errmsg("pgerp: sign-in of login \"%s\" from %s refused: the %s is locked for %lld s more",
					PgerpEcho(key), addr, v == LOCKOUT_LOGIN_LOCKED ? "login" : "address",
					(long long) retry),
			 errhidestmt(true)));
	if (audit)
	{
		memset(&ev, 0, sizeof(ev));
		ev.kind = SIGNIN_EVENT_REFUSED;
		ev.locked_seconds = (int32) retry;
		strlcpy(ev.login, key, sizeof(ev.login));
		strlcpy(ev.address, addr, sizeof(ev.address));
		SignInEventQueue(&ev);
	}
	invalid_credentials();
}

/*
 * Check a login and password, throttled: the user's id (and generation);
 * raises 28P01 for every refusal (wrong password, unknown login, backoff).
 */
static int64
authenticate(text *login, text *password, bool with_generation, int64 *generation)
{
	int64		user_id = 0;
	char	   *stored = NULL;
	char	   *key = LockoutLoginKey(VARDATA_ANY(login), VARSIZE_ANY_EXHDR(login));
	int64		retry;
	LockoutVerdict v;
	PasswordResult r;

	v = LockoutCheck(key, AuthClientAddress(), &retry);
	if (v != LOCKOUT_OPEN)
		refuse_locked(key, v, retry, with_generation);
	lookup_login(login, with_generation, &user_id, &stored, generation);
	r = PasswordVerify(VARDATA_ANY(password), VARSIZE_ANY_EXHDR(password),
					   stored ? stored : dummy_hash);
	if (r == PASSWORD_INTERNAL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not verify password")));
	if (user_id == 0 || r != PASSWORD_OK)
		refuse_sign_in(key, user_id, with_generation);
	LockoutRecordSuccess(key);
	return user_id;
}

/*
 * Sign in (0.2): authenticate, act as the user in the wanted (0: default)
 * company.  Shared by erp.sign_in and erp.sign_in_session.
 */
int64
AuthSignIn(text *login, text *password, int64 company, int64 *generation)
{
	int64		user_id = authenticate(login, password, true, generation);

	SessionSet(user_id, 0, false);
	choose_company(company);
	return user_id;
}

/* An access token of the user; *expires: its exp claim (seconds). */
char *
AuthIssueAccessToken(int64 user_id, int64 company_id, int64 generation, int64 *expires)
{
	return issue_token(user_id, company_id, generation, expires);
}

/* The audit entry of a sign-in (or refresh), and the flush of the queue. */
void
AuthAuditSignIn(SignInEventKind kind, text *login, int64 user_id, int64 company_id, int64 family)
{
	SignInEvent ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.user_id = user_id;
	ev.company_id = company_id;
	ev.family = family;
	if (login != NULL)
		strlcpy(ev.login, LockoutLoginKey(VARDATA_ANY(login), VARSIZE_ANY_EXHDR(login)), sizeof(ev.login));
	strlcpy(ev.address, AuthClientAddress(), sizeof(ev.address));
	SignInEventQueue(&ev);
	(void) SignInEventFlush();
}

/* erp.sign_in() of both versions; 0.2's tokens carry the user's generation. */
static Datum
sign_in(FunctionCallInfo fcinfo, bool with_generation)
{
	text	   *login;
	text	   *password;
	int64		user_id;
	int64		generation = 0;
	char	   *token;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("login and password must not be null")));
	login = PG_GETARG_TEXT_PP(0);
	password = PG_GETARG_TEXT_PP(1);

	user_id = authenticate(login, password, with_generation, &generation);
	SessionSet(user_id, 0, false);
	choose_company(PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2));
	token = issue_token(user_id, SessionCompanyId(), generation, NULL);
	if (with_generation)
		AuthAuditSignIn(SIGNIN_EVENT_SUCCESS, login, user_id, SessionCompanyId(), 0);
	PG_RETURN_TEXT_P(cstring_to_text(token));
}

/* 0.1.0's SQL definition: tokens without revocation. */
PG_FUNCTION_INFO_V1(pgerp_core_sign_in);
Datum
pgerp_core_sign_in(PG_FUNCTION_ARGS)
{
	return sign_in(fcinfo, false);
}

PG_FUNCTION_INFO_V1(pgerp_core_sign_in_0_2);
Datum
pgerp_core_sign_in_0_2(PG_FUNCTION_ARGS)
{
	return sign_in(fcinfo, true);
}

static void
bad_token(JwtResult r)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("invalid access token"),
			 errdetail("%s", JwtResultDetail(r))));
}

/*
 * Is the user active, and which token generation do they accept: from the
 * ACL cache (rbac), which a change of the user's row invalidates, so a warm
 * switch reads nothing.  False for an unknown or disabled user.
 */
static bool
user_is_active(int64 user_id, bool with_generation, int64 *generation)
{
	int64		g;
	bool		active = AclUserState(user_id, &g);

	if (with_generation)
		*generation = g;
	return active;
}

/*
 * Verify a token and take its identity: erp.use_token() of both versions
 * (0.2 refuses tokens of an older generation) and the HTTP handler, which
 * also wants the claims for request.jwt.claims.
 */
static void
take_token(const char *token, bool local, bool with_generation, JwtClaims *claims)
{
	size_t		keylen;
	unsigned char *key;
	JwtResult	r;
	int64		generation = 0;

	key = signing_key(&keylen);
	r = JwtVerify(token, key, keylen, now_seconds(), claims);
	if (r != JWT_OK)
		bad_token(r);
	if (!user_is_active(claims->sub, with_generation, &generation))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("invalid access token"),
				 errdetail("The token's user does not exist or is disabled.")));
	if (with_generation && claims->gen != generation)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("access token has been revoked"),
				 errdetail("The token was issued before its user's password was changed, the user's sessions were revoked or the user signed out."),
				 errhint("Sign in again.")));
	SessionSet(claims->sub, 0, local);
	choose_company(claims->company);
}

void
AuthUseToken(const char *token, bool local, JwtClaims *claims)
{
	take_token(token, local, true, claims);
}

static Datum
use_token(FunctionCallInfo fcinfo, bool with_generation)
{
	JwtClaims	claims;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token must not be null")));
	take_token(text_to_cstring(PG_GETARG_TEXT_PP(0)),
			   PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1),
			   with_generation, &claims);
	PG_RETURN_VOID();
}

/* 0.1.0's SQL definition: no revocation check. */
PG_FUNCTION_INFO_V1(pgerp_core_use_token);
Datum
pgerp_core_use_token(PG_FUNCTION_ARGS)
{
	return use_token(fcinfo, false);
}

PG_FUNCTION_INFO_V1(pgerp_core_use_token_0_2);
Datum
pgerp_core_use_token_0_2(PG_FUNCTION_ARGS)
{
	return use_token(fcinfo, true);
}

/* Advance a user's token generation: every token issued so far is refused. */
void
RevokeUserTokens(int64 user_id)
{
	OwnerContext oc;
	Datum		arg = Int64GetDatum(user_id);

	OwnerContextBegin(&oc);
	SPI_connect();
	if (revoke_plan == NULL)
	{
		Oid			t = INT8OID;

		(void) PgerpKeptPlan(&revoke_plan,
			"UPDATE erp.app_user SET token_generation = token_generation OPERATOR(pg_catalog.+) 1"
			" WHERE id OPERATOR(pg_catalog.=) $1", 1, &t);
	}
	if (SPI_execute_plan(revoke_plan, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not revoke the tokens of user %lld", (long long) user_id);
	SPI_finish();
	OwnerContextEnd(&oc);
}

/*
 * Close the cursors of the session, WITH HOLD ones included: a cursor runs
 * the plan folded for the identity that opened it, so after sign_out it would
 * go on showing that identity's rows.  The portal running this call and the
 * ones pinned by a caller (a PL/pgSQL FOR loop) are left alone.
 */
static void
close_cursors(void)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *names = NIL;
	ListCell   *lc;

	SPI_connect();
	if (SPI_execute("SELECT name FROM pg_catalog.pg_cursors", true, 0) == SPI_OK_SELECT)
	{
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			MemoryContext spi = MemoryContextSwitchTo(caller);

			if (name != NULL)
				names = lappend(names, pstrdup(name));
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	foreach(lc, names)
	{
		Portal		portal = GetPortalByName((const char *) lfirst(lc));

		if (PortalIsValid(portal) && portal->status != PORTAL_ACTIVE && !portal->portalPinned)
			PortalDrop(portal, false);
	}
}

/*
 * erp.sign_out() from 0.2 on: the identity is cleared first and for good
 * (no rollback brings it back), the session's cursors are closed, then every
 * token of the signed-out users issued so far is revoked; that revocation is
 * transactional.
 */
PG_FUNCTION_INFO_V1(pgerp_core_sign_out_0_2);
Datum
pgerp_core_sign_out_0_2(PG_FUNCTION_ARGS)
{
	int64		session_user_id;
	int64		local_user_id;

	SessionUsers(&session_user_id, &local_user_id);
	SessionClearNow();
	close_cursors();
	if (session_user_id != 0)
		RevokeUserTokens(session_user_id);
	if (local_user_id != 0 && local_user_id != session_user_id)
		RevokeUserTokens(local_user_id);
	PG_RETURN_VOID();
}

/* erp._random_bytes(int): fills erp.secret at CREATE EXTENSION time. */
PG_FUNCTION_INFO_V1(pgerp_core_random_bytes);
Datum
pgerp_core_random_bytes(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	bytea	   *out;

	if (n < 1 || n > 1024)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("byte count must be between 1 and 1024")));
	out = palloc(VARHDRSZ + n);
	SET_VARSIZE(out, VARHDRSZ + n);
	if (!pg_strong_random(VARDATA(out), n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes")));
	PG_RETURN_BYTEA_P(out);
}
