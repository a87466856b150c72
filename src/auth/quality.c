/*
 * The quality of a new password (docs/security.md).  Checked where a
 * password is set (erp.create_user, erp.set_password), never at sign-in:
 * hashes stored before stay valid.
 *
 *  - at least pgerp.password_min_length characters, for everyone;
 *  - not the login, nor containing it (logins of 3 characters or more);
 *  - libpwquality's checks: the cracklib dictionary, palindromes, rotations
 *    and the like, with its reason in the error's detail.
 *
 * The bootstrap caller (a superuser with nobody signed in: set-up scripts,
 * demo data) skips all but the length.  The pure checks return codes; the
 * SQL glue, erp._password_check(password, login), raises.
 */
#include "postgres.h"

#include <pwquality.h>

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/formatting.h"

#include "pgerp/core.h"
#include "pgerp/auth.h"

static pwquality_settings_t *pwq = NULL;

/* Case-insensitive (ASCII, as logins are) search of needle in hay. */
static bool
contains_ci(const char *hay, size_t haylen, const char *needle, size_t nlen)
{
	if (nlen == 0 || nlen > haylen)
		return false;
	for (size_t i = 0; i + nlen <= haylen; i++)
		if (pg_strncasecmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

/* Length in characters, the login: the checks that need no dictionary. */
QualityResult
QualityCheckBasic(const char *pw, size_t pwlen, const char *login, int min_chars)
{
	size_t		llen = login ? strlen(login) : 0;

	if (pg_mbstrlen_with_len(pw, pwlen) < min_chars)
		return QUALITY_TOO_SHORT;
	if (llen > 0 && llen == pwlen && pg_strncasecmp(pw, login, llen) == 0)
		return QUALITY_IS_LOGIN;
	if (llen >= QUALITY_LOGIN_MIN_CONTAINED && contains_ci(pw, pwlen, login, llen))
		return QUALITY_CONTAINS_LOGIN;
	return QUALITY_OK;
}

/*
 * libpwquality's verdict: its (negative) error code, 0 for a good password;
 * *reason is its message.  Its own settings, not /etc/security/pwquality.conf:
 * the rules are the database's, whatever host it runs on.
 */
static int
pwquality_verdict(const char *pw, const char *login, char *reason, size_t reasonlen)
{
	void	   *aux = NULL;
	const char *msg;
	int			r;

	if (pwq == NULL)
	{
		pwq = pwquality_default_settings();
		if (pwq == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not set up the password quality check")));
	}
	(void) pwquality_set_int_value(pwq, PWQ_SETTING_MIN_LENGTH, Max(6, pgerp_password_min_length));
	r = pwquality_check(pwq, pw, NULL, login, &aux);
	if (r >= 0)
		return 0;
	/* the message may be a constant rather than written into the buffer */
	msg = pwquality_strerror(reason, reasonlen, r, aux);
	if (msg != reason)
		strlcpy(reason, msg, reasonlen);
	return r;
}

PG_FUNCTION_INFO_V1(pgerp_auth_password_check);
Datum
pgerp_auth_password_check(PG_FUNCTION_ARGS)
{
	text	   *pw;
	char	   *pwstr;
	char	   *login;
	char		reason[PWQ_MAX_ERROR_MESSAGE_LEN];
	QualityResult q;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("password must not be null")));
	pw = PG_GETARG_TEXT_PP(0);
	login = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	/* a password beyond the hash's limit is refused there, with its own message */
	if (VARSIZE_ANY_EXHDR(pw) > PASSWORD_MAX_LEN)
		PG_RETURN_VOID();
	q = QualityCheckBasic(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), login, pgerp_password_min_length);
	if (q == QUALITY_TOO_SHORT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("password is too short"),
				 errdetail("A password must be at least %d characters long.", pgerp_password_min_length)));
	if (SessionUserId() == 0 && CallerIsSuperuser())
		PG_RETURN_VOID();		/* bootstrap: set-up scripts and demo data */
	if (q == QUALITY_IS_LOGIN || q == QUALITY_CONTAINS_LOGIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("password is too weak"),
				 errdetail("The password contains the user name in some form.")));
	pwstr = text_to_cstring(pw);
	if (pwquality_verdict(pwstr, login, reason, sizeof(reason)) != 0)
	{
		memset(pwstr, 0, strlen(pwstr));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("password is too weak"),
				 errdetail("%s.", reason)));
	}
	memset(pwstr, 0, strlen(pwstr));
	PG_RETURN_VOID();
}
