/*
 * The settings of access tokens: their lifetime and an optional configured
 * signing secret (else the one generated at CREATE EXTENSION).
 */
#include "postgres.h"

#include "utils/guc.h"

#include "pgerp/auth.h"

int			pgerp_token_ttl = 3600;
char	   *pgerp_jwt_secret = NULL;

/* A configured signing secret must be long enough for HS256 to mean anything. */
static bool
check_jwt_secret(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && (*newval)[0] != '\0' && strlen(*newval) < 32)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("pgerp.jwt_secret must be at least 32 bytes long");
		return false;
	}
	return true;
}

void
AuthTokenGucs(void)
{
	DefineCustomIntVariable("pgerp.token_ttl",
							"Lifetime of access tokens issued by erp.sign_in().",
							NULL,
							&pgerp_token_ttl,
							3600, 60, 31 * 24 * 3600,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("pgerp.jwt_secret",
							   "Secret that signs access tokens; when empty, the secret generated at CREATE EXTENSION is used.",
							   NULL,
							   &pgerp_jwt_secret,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_jwt_secret, NULL, NULL);
}
