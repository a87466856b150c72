/*
 * The master key: 32 bytes read from the file pgerp.master_key_file names
 * (64 hexadecimal digits, or 32 raw bytes). The file must belong to the
 * server's user and be closed to others. The key stays in backend memory,
 * wiped and read again when the setting changes.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "pgerp/crypto.h"

static char *master_key_file = NULL;
static unsigned char master_key[CRYPTO_KEY_LEN];
static bool master_loaded = false;
static bool master_overridden = false;	/* by erp.rotate_master_key() in this transaction */

static void
forget_master(void)
{
	OPENSSL_cleanse(master_key, sizeof(master_key));
	master_loaded = false;
	CryptoForgetKeys();
}

static void
assign_master_key_file(const char *newval, void *extra)
{
	forget_master();
}

/* A rotation that rolls back leaves the old key in use. */
static void
master_xact_callback(XactEvent event, void *arg)
{
	if (!master_overridden)
		return;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		forget_master();
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE)
		master_overridden = false;
}

void
CryptoInit(void)
{
	CryptoKeysInit();
	RegisterXactCallback(master_xact_callback, NULL);
	DefineCustomStringVariable("pgerp.master_key_file",
							   "File holding the 32-byte master key that wraps pgerp's data keys.",
							   "64 hexadecimal digits or 32 raw bytes; owned by the server's user, mode 0600 or 0400.",
							   &master_key_file,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   NULL, assign_master_key_file, NULL);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
bad_key_file(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("cannot use the master key file"),
			 errdetail("%s", why),
			 errhint("Point pgerp.master_key_file at a file of 64 hexadecimal digits owned by the server's user with mode 0600.")));
}

/*
 * Read a key file with the checks the master key file gets: NULL when the
 * key is in key, else why not (a sentence naming the problem, never the
 * content). Shared by CryptoReadKeyFile and erp.health()'s key check.
 */
static const char *
key_file_read(const char *path, unsigned char *key)
{
	struct stat st;
	FILE	   *f;
	unsigned char buf[80];
	size_t		n;

	if (stat(path, &st) != 0)
		return "The file does not exist or cannot be reached.";
	if (!S_ISREG(st.st_mode))
		return "It is not a regular file.";
	if (st.st_uid != geteuid())
		return "It is not owned by the user the server runs as.";
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return "Its group or others may access it.";
	f = fopen(path, "rb");
	if (f == NULL)
		return "It cannot be opened.";
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 2 * CRYPTO_KEY_LEN)
	{
		for (int i = 0; i < CRYPTO_KEY_LEN; i++)
		{
			int			hi = hexval(buf[2 * i]),
						lo = hexval(buf[2 * i + 1]);

			if (hi < 0 || lo < 0)
			{
				OPENSSL_cleanse(buf, sizeof(buf));
				OPENSSL_cleanse(key, CRYPTO_KEY_LEN);
				return "It holds something other than 64 hexadecimal digits.";
			}
			key[i] = (unsigned char) (hi << 4 | lo);
		}
	}
	else if (n == CRYPTO_KEY_LEN)
		memcpy(key, buf, CRYPTO_KEY_LEN);
	else
	{
		OPENSSL_cleanse(buf, sizeof(buf));
		return "It holds neither 64 hexadecimal digits nor 32 bytes.";
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return NULL;
}

/* Read a key file; an error names the problem, never the content */
void
CryptoReadKeyFile(const char *path, unsigned char *key)
{
	const char *why = key_file_read(path, key);

	if (why)
		bad_key_file(why);
}

/*
 * erp._master_key_file_problem(): NULL when the file pgerp.master_key_file
 * names holds a usable key, else why not; no error either way, and the key
 * read is wiped at once (erp.health(), sql/ha/health.sql).
 */
PG_FUNCTION_INFO_V1(pgerp_master_key_file_problem);
Datum
pgerp_master_key_file_problem(PG_FUNCTION_ARGS)
{
	unsigned char key[CRYPTO_KEY_LEN];
	const char *why;

	if (master_key_file == NULL || master_key_file[0] == '\0')
		PG_RETURN_TEXT_P(cstring_to_text("No master key file is configured (pgerp.master_key_file)."));
	why = key_file_read(master_key_file, key);
	OPENSSL_cleanse(key, sizeof(key));
	if (why == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(why));
}

const unsigned char *
CryptoMasterKey(void)
{
	if (master_loaded)
		return master_key;
	if (master_key_file == NULL || master_key_file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no master key is configured"),
				 errhint("Set pgerp.master_key_file in postgresql.conf and reload.")));
	CryptoReadKeyFile(master_key_file, master_key);
	master_loaded = true;
	return master_key;
}

/*
 * After erp.rotate_master_key() this backend uses the new key until the
 * setting is changed and reloaded (which reads the file again).
 */
void
CryptoUseMasterKey(const unsigned char *key)
{
	forget_master();
	memcpy(master_key, key, CRYPTO_KEY_LEN);
	master_loaded = true;
	master_overridden = true;
}

/* Is a master key file set (it may still be unusable)? No error either way. */
bool
CryptoMasterKeyConfigured(void)
{
	return master_loaded || (master_key_file != NULL && master_key_file[0] != '\0');
}
