/*
 * Refresh tokens, rotated as OAuth 2.0's security best practice describes
 * (docs/security.md).  erp.sign_in_session() signs in and returns an access
 * token with a refresh token; erp.refresh() trades a refresh token for a new
 * pair.  A refresh token is "<id>.<secret>": 32 random bytes, base64url, of
 * which the table keeps only the SHA-256.  It is single-use: presenting a
 * used one again means two parties hold it, so its whole family (every
 * token descended from the same sign-in) is revoked.  A token belongs to a
 * user's token generation: a password change, erp.revoke_sessions,
 * erp.sign_out or a deactivation advance it and so refuse the token too.
 *
 * The revocation of a reused token's family cannot be written by erp.refresh
 * itself: it raises, which rolls the write back.  It is queued with the
 * sign-in events (events.c), refused from then on by every backend, and
 * written by the next flush.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pgerp/core.h"
#include "pgerp/auth.h"

#define REFRESH_SECRET_LEN 32
#define REFRESH_B64_LEN 43		/* 32 bytes, base64url without padding */

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr lookup_plan = NULL;
static SPIPlanPtr use_plan = NULL;
static SPIPlanPtr revoke_plan = NULL;
static SPIPlanPtr cleanup_plan = NULL;

typedef struct RefreshRow
{
	int64		family;
	int64		user_id;
	int64		company_id;
	bytea	   *hash;
	int64		generation;
	bool		expired;
	bool		used;
	bool		revoked;
	bool		active;
	int64		user_generation;
	char	   *login;
} RefreshRow;

/* ---- the pure part: the token text ---- */

/* base64url of the secret, without padding; out holds REFRESH_B64_LEN + 1. */
static bool
encode_secret(const unsigned char *secret, char *out)
{
	char		buf[64];
	int			n = pg_b64_encode((const char *) secret, REFRESH_SECRET_LEN, buf, sizeof(buf) - 1);

	if (n < REFRESH_B64_LEN)
		return false;
	for (int i = 0; i < REFRESH_B64_LEN; i++)
		out[i] = buf[i] == '+' ? '-' : buf[i] == '/' ? '_' : buf[i];
	out[REFRESH_B64_LEN] = '\0';
	return true;
}

/* "<id>.<secret>" into its parts; false when it is not of that form. */
static bool
parse_token(const char *token, int64 *id, unsigned char *secret)
{
	const char *dot = strchr(token, '.');
	char		b64[REFRESH_B64_LEN + 2];
	unsigned char buf[48];
	int64		v = 0;

	if (dot == NULL || dot == token || dot - token > 18 || strlen(dot + 1) != REFRESH_B64_LEN)
		return false;
	for (const char *p = token; p < dot; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	for (int i = 0; i < REFRESH_B64_LEN; i++)
	{
		char		c = dot[1 + i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	b64[REFRESH_B64_LEN] = '=';
	b64[REFRESH_B64_LEN + 1] = '\0';
	if (pg_b64_decode(b64, REFRESH_B64_LEN + 1, (char *) buf, sizeof(buf)) != REFRESH_SECRET_LEN)
		return false;
	memcpy(secret, buf, REFRESH_SECRET_LEN);
	OPENSSL_cleanse(buf, sizeof(buf));
	*id = v;
	return true;
}

static bytea *
secret_hash(const unsigned char *secret)
{
	bytea	   *h = palloc(VARHDRSZ + SHA256_DIGEST_LENGTH);

	SET_VARSIZE(h, VARHDRSZ + SHA256_DIGEST_LENGTH);
	SHA256(secret, REFRESH_SECRET_LEN, (unsigned char *) VARDATA(h));
	return h;
}

/* ---- the table, as the owner of the pack ---- */

/* A new token of the family (0: a new family); returns its text. */
static char *
store_token(int64 family, int64 user_id, int64 company_id, int64 generation, int64 *family_out)
{
	unsigned char secret[REFRESH_SECRET_LEN];
	char		b64[REFRESH_B64_LEN + 1];
	Datum		v[6];
	char		n[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Oid			t[6] = {INT8OID, INT8OID, INT8OID, BYTEAOID, INT8OID, FLOAT8OID};
	bool		isnull;
	int64		id;

	if (!pg_strong_random(secret, sizeof(secret)) || !encode_secret(secret, b64))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a refresh token")));
	v[0] = Int64GetDatum(family);
	n[0] = family == 0 ? 'n' : ' ';
	v[1] = Int64GetDatum(user_id);
	v[2] = Int64GetDatum(company_id);
	n[2] = company_id == 0 ? 'n' : ' ';
	v[3] = PointerGetDatum(secret_hash(secret));
	v[4] = Int64GetDatum(generation);
	v[5] = Float8GetDatum((double) pgerp_refresh_ttl);
	OPENSSL_cleanse(secret, sizeof(secret));
	(void) PgerpKeptPlan(&insert_plan,
						 "INSERT INTO erp.refresh_token (id, family, user_id, company_claim, token_hash, generation, expires_at)"
						 " SELECT n.id, COALESCE($1, n.id), $2, $3, $4, $5,"
						 " pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $6)"
						 " FROM (SELECT pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('erp.refresh_token', 'id')) AS id) n"
						 " RETURNING id, family", 6, t);
	if (SPI_execute_plan(insert_plan, v, n, false, 0) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not store the refresh token");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*family_out = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return psprintf("%lld.%s", (long long) id, b64);
}

/* Expired tokens go, a hundred at a time: no job needed. */
static void
cleanup_expired(void)
{
	(void) PgerpKeptPlan(&cleanup_plan,
						 "DELETE FROM erp.refresh_token WHERE id IN (SELECT r.id FROM erp.refresh_token r"
						 " WHERE r.expires_at OPERATOR(pg_catalog.<) pg_catalog.now() ORDER BY r.expires_at LIMIT 100)",
						 0, NULL);
	if (SPI_execute_plan(cleanup_plan, NULL, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete expired refresh tokens");
}

/* The row of a token id, locked; false when there is none. */
static bool
lookup_token(int64 id, RefreshRow *row)
{
	Datum		arg = Int64GetDatum(id);
	Oid			t = INT8OID;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	(void) PgerpKeptPlan(&lookup_plan,
						 "SELECT r.family, r.user_id, r.company_claim, r.token_hash, r.generation,"
						 " r.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now(), r.used_at IS NOT NULL,"
						 " r.revoked_at IS NOT NULL, u.active, u.token_generation, u.login"
						 " FROM erp.refresh_token r JOIN erp.app_user u ON u.id OPERATOR(pg_catalog.=) r.user_id"
						 " WHERE r.id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF r", 1, &t);
	if (SPI_execute_plan(lookup_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the refresh token");
	if (SPI_processed != 1)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	row->family = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	row->user_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	row->company_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	if (isnull)
		row->company_id = 0;
	row->hash = DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull));
	row->generation = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	row->expired = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
	row->used = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
	row->revoked = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
	row->active = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	row->user_generation = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
	row->login = SPI_getvalue(tup, desc, 11);
	return true;
}

static void
mark_used(int64 id)
{
	Datum		arg = Int64GetDatum(id);
	Oid			t = INT8OID;

	(void) PgerpKeptPlan(&use_plan,
						 "UPDATE erp.refresh_token SET used_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) $1",
						 1, &t);
	if (SPI_execute_plan(use_plan, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not mark the refresh token used");
}

/* Revoke every token of a family (the flush of a reuse event). */
void
RefreshRevokeFamily(int64 family)
{
	OwnerContext oc;
	Datum		arg = Int64GetDatum(family);
	Oid			t = INT8OID;

	OwnerContextBegin(&oc);
	SPI_connect();
	(void) PgerpKeptPlan(&revoke_plan,
						 "UPDATE erp.refresh_token SET revoked_at = pg_catalog.now()"
						 " WHERE family OPERATOR(pg_catalog.=) $1 AND revoked_at IS NULL", 1, &t);
	if (SPI_execute_plan(revoke_plan, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not revoke refresh token family %lld", (long long) family);
	SPI_finish();
	OwnerContextEnd(&oc);
}

/* A copy that outlives SPI_finish (in the caller's memory). */
static char *
outer_strdup(const char *s)
{
	char	   *r = SPI_palloc(strlen(s) + 1);

	strcpy(r, s);
	return r;
}

/* ---- SQL ---- */

static void
bad_refresh(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s", msg),
			 errdetail("%s", detail),
			 errhint("Sign in again.")));
}

/* One row (access_token, refresh_token, expires_at) as the function's result. */
static Datum
return_pair(FunctionCallInfo fcinfo, const char *access, const char *refresh, int64 exp)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		v[3];
	bool		n[3] = {false, false, false};

	InitMaterializedSRF(fcinfo, 0);
	v[0] = CStringGetTextDatum(access);
	v[1] = CStringGetTextDatum(refresh);
	v[2] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) exp));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	return (Datum) 0;
}

/* erp.sign_in_session(login, password, company): erp.sign_in with a refresh token. */
PG_FUNCTION_INFO_V1(pgerp_auth_sign_in_session);
Datum
pgerp_auth_sign_in_session(PG_FUNCTION_ARGS)
{
	text	   *login;
	int64		user_id;
	int64		generation = 0;
	int64		company;
	int64		exp;
	int64		family;
	char	   *access;
	char	   *refresh;
	OwnerContext oc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("login and password must not be null")));
	login = PG_GETARG_TEXT_PP(0);
	user_id = AuthSignIn(login, PG_GETARG_TEXT_PP(1), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2), &generation);
	company = SessionCompanyId();
	access = AuthIssueAccessToken(user_id, company, generation, &exp);
	OwnerContextBegin(&oc);
	SPI_connect();
	refresh = outer_strdup(store_token(0, user_id, company, generation, &family));
	cleanup_expired();
	SPI_finish();
	OwnerContextEnd(&oc);
	AuthAuditSignIn(SIGNIN_EVENT_SUCCESS, login, user_id, company, family);
	return return_pair(fcinfo, access, refresh, exp);
}

/* A used token presented again: log, queue the family's revocation, refuse. */
static void
refuse_reuse(const RefreshRow *row)
{
	SignInEvent ev;

	ereport(LOG,
			(errmsg("pgerp: refresh token of family %lld used again (user %lld): the family is revoked",
					(long long) row->family, (long long) row->user_id),
			 errhidestmt(true)));
	memset(&ev, 0, sizeof(ev));
	ev.kind = SIGNIN_EVENT_REFRESH_REUSE;
	ev.user_id = row->user_id;
	ev.family = row->family;
	strlcpy(ev.login, row->login ? row->login : "", sizeof(ev.login));
	strlcpy(ev.address, AuthClientAddress(), sizeof(ev.address));
	SignInEventQueue(&ev);
	bad_refresh("refresh token was already used",
				"A refresh token is single-use; every token of its sign-in is now revoked.");
}

/* Check a row against the token's secret; raises on any refusal. */
static void
check_token(const RefreshRow *row, const unsigned char *secret)
{
	bytea	   *want = secret_hash(secret);

	if (VARSIZE_ANY_EXHDR(row->hash) != SHA256_DIGEST_LENGTH ||
		CRYPTO_memcmp(VARDATA_ANY(row->hash), VARDATA(want), SHA256_DIGEST_LENGTH) != 0)
		bad_refresh("invalid refresh token", "The token is malformed or unknown.");
	if (row->revoked || SignInFamilyRevokePending(row->family))
		bad_refresh("refresh token has been revoked",
					"A token of its sign-in was used twice, so all of them were revoked.");
	if (row->used)
		refuse_reuse(row);
	if (row->expired)
		bad_refresh("refresh token has expired", "A refresh token lives pgerp.refresh_ttl.");
	if (!row->active || row->generation != row->user_generation)
		bad_refresh("refresh token has been revoked",
					"The token was issued before its user's password was changed, the user's sessions were revoked, the user signed out or was disabled.");
}

/* erp.refresh(token): a new pair for a valid, unused refresh token. */
PG_FUNCTION_INFO_V1(pgerp_auth_refresh);
Datum
pgerp_auth_refresh(PG_FUNCTION_ARGS)
{
	char	   *token;
	int64		id;
	unsigned char secret[REFRESH_SECRET_LEN];
	RefreshRow	row;
	OwnerContext oc;
	char	   *refresh;
	char	   *access;
	int64		family;
	int64		exp;
	bool		found;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("refresh token must not be null")));
	token = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!parse_token(token, &id, secret))
		bad_refresh("invalid refresh token", "The token is malformed or unknown.");
	OwnerContextBegin(&oc);
	SPI_connect();
	found = lookup_token(id, &row);
	if (!found)
		bad_refresh("invalid refresh token", "The token is malformed or unknown.");
	check_token(&row, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	mark_used(id);
	refresh = outer_strdup(store_token(row.family, row.user_id, row.company_id, row.generation, &family));
	cleanup_expired();
	row.login = outer_strdup(row.login ? row.login : "");
	SPI_finish();
	OwnerContextEnd(&oc);
	access = AuthIssueAccessToken(row.user_id, row.company_id, row.generation, &exp);
	AuthAuditSignIn(SIGNIN_EVENT_REFRESH, cstring_to_text(row.login), row.user_id, row.company_id, family);
	return return_pair(fcinfo, access, refresh, exp);
}
