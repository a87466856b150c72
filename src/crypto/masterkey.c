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

#include "utils/guc.h"

#include "pgerp/crypto.h"

static char *master_key_file = NULL;
static unsigned char master_key[CRYPTO_KEY_LEN];
static bool master_loaded = false;

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

void
CryptoInit(void)
{
	CryptoKeysInit();
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

const unsigned char *
CryptoMasterKey(void)
{
	struct stat st;
	FILE	   *f;
	unsigned char buf[80];
	size_t		n;

	if (master_loaded)
		return master_key;
	if (master_key_file == NULL || master_key_file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no master key is configured"),
				 errhint("Set pgerp.master_key_file in postgresql.conf and reload.")));
	if (stat(master_key_file, &st) != 0)
		bad_key_file("The file does not exist or cannot be reached.");
	if (!S_ISREG(st.st_mode))
		bad_key_file("It is not a regular file.");
	if (st.st_uid != geteuid())
		bad_key_file("It is not owned by the user the server runs as.");
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		bad_key_file("Its group or others may access it.");
	f = fopen(master_key_file, "rb");
	if (f == NULL)
		bad_key_file("It cannot be opened.");
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
				OPENSSL_cleanse(master_key, sizeof(master_key));
				bad_key_file("It holds something other than 64 hexadecimal digits.");
			}
			master_key[i] = (unsigned char) (hi << 4 | lo);
		}
	}
	else if (n == CRYPTO_KEY_LEN)
		memcpy(master_key, buf, CRYPTO_KEY_LEN);
	else
	{
		OPENSSL_cleanse(buf, sizeof(buf));
		bad_key_file("It holds neither 64 hexadecimal digits nor 32 bytes.");
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	master_loaded = true;
	return master_key;
}
