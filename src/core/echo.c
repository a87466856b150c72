/*
 * Values echoed into error messages are cut, so that a caller cannot make
 * the server write megabytes into its log, or read them back, by passing a
 * huge argument (docs/security.md, "Error messages").
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "pgerp/core.h"

/*
 * The value as it appears in a message: at most PGERP_ECHO_MAX characters,
 * cut on a character boundary and marked with "...". Never NULL.
 */
char *
PgerpEcho(const char *value)
{
	int			len;
	int			cut;

	if (value == NULL)
		return pstrdup("NULL");
	len = strlen(value);
	if (pg_mbstrlen_with_len(value, len) <= PGERP_ECHO_MAX)
		return pstrdup(value);
	cut = pg_mbcharcliplen(value, len, PGERP_ECHO_MAX - 3);
	return psprintf("%.*s...", cut, value);
}
