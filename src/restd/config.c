/*
 * Settings: a "key = value" file (PostgREST's names, docs/gateway.md) and
 * PGERP_REST_<KEY> environment variables, which override the file.  SIGHUP
 * builds a new RestConfig and swaps it in; readers hold a reference so the
 * old one is freed only when the last request using it is done.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "restd.h"

typedef struct ConfigRef
{
	RestConfig	cfg;
	int			refs;
} ConfigRef;

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static ConfigRef *current_config;

/* The built-in defaults, so a bare "pgerp-rest" with PGERP_REST_DB_URI runs */
static void
config_defaults(RestConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->db_uri = strdup("postgresql:///pgerp");
	cfg->db_pool = 10;
	cfg->db_pool_timeout = 10;
	cfg->server_host = strdup("127.0.0.1");
	cfg->server_port = 5481;
	cfg->server_timeout = 60;
	cfg->max_body_bytes = 10 * 1024 * 1024;
	cfg->max_header_bytes = 32 * 1024;
	cfg->rl_burst = 0;
	cfg->rl_table_size = 65536;
}

/* Strip blanks and one pair of quotes, in place */
static char *
trim(char *s)
{
	char	   *e;

	while (isspace((unsigned char) *s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	if (e - s >= 2 && ((s[0] == '"' && e[-1] == '"') || (s[0] == '\'' && e[-1] == '\'')))
	{
		e[-1] = '\0';
		s++;
	}
	return s;
}

/* A whole number or decimal within [min, max], else -1 */
static int
parse_number(const char *value, double min, double max, double *out)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(value, &end);
	if (errno || end == value || *trim(end) != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* One setting by name; -1 for an unknown name or a bad value */
static int
config_set(RestConfig *cfg, const char *key, const char *value)
{
	double		v;

#define STR(name, field) \
	if (strcmp(key, name) == 0) { free(cfg->field); cfg->field = *value ? strdup(value) : NULL; return 0; }
#define NUM(name, field, lo, hi, type) \
	if (strcmp(key, name) == 0) { if (parse_number(value, lo, hi, &v)) return -1; cfg->field = (type) v; return 0; }
	STR("db-uri", db_uri);
	STR("db-read-uri", db_read_uri);
	NUM("db-pool", db_pool, 1, 1000, int);
	NUM("db-pool-acquisition-timeout", db_pool_timeout, 0.01, 3600, double);
	STR("server-host", server_host);
	NUM("server-port", server_port, 0, 65535, int);
	NUM("port", server_port, 0, 65535, int);	/* PGERP_REST_PORT */
	NUM("admin-server-port", admin_port, 0, 65535, int);
	NUM("server-threads", server_threads, 0, 256, int);
	NUM("server-timeout", server_timeout, 1, 3600, int);
	NUM("max-body-bytes", max_body_bytes, 0, 1e12, size_t);
	NUM("max-header-bytes", max_header_bytes, 4096, 1 << 24, size_t);
	STR("server-cors-allowed-origins", cors_origins);
	NUM("rate-limit-per-address", rl_address_rate, 0, 1e9, double);
	NUM("rate-limit-per-user", rl_user_rate, 0, 1e9, double);
	NUM("rate-limit-burst", rl_burst, 0, 1e9, double);
	NUM("rate-limit-table-size", rl_table_size, 16, 1 << 24, int);
#undef STR
#undef NUM
	return -1;
}

/* The key = value file; the first bad line fails the whole load */
static int
config_read_file(const char *path, RestConfig *cfg, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char		line[8192];
	int			lineno = 0;

	if (f == NULL)
	{
		snprintf(err, errlen, "could not open %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *s = trim(line);
		char	   *eq;

		lineno++;
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL)
		{
			snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		if (config_set(cfg, trim(s), trim(eq + 1)) != 0)
		{
			snprintf(err, errlen, "%s:%d: unknown setting or bad value for \"%s\"", path, lineno, trim(s));
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* PGERP_REST_DB_URI -> db-uri, and so on */
static int
config_read_env(RestConfig *cfg, char *err, size_t errlen)
{
	extern char **environ;

	for (char **e = environ; *e; e++)
	{
		char		key[128];
		const char *eq;
		size_t		n;

		if (strncmp(*e, "PGERP_REST_", 11) != 0 || (eq = strchr(*e, '=')) == NULL)
			continue;
		n = eq - (*e + 11);
		if (n == 0 || n >= sizeof(key))
			continue;
		for (size_t i = 0; i < n; i++)
			key[i] = (*e)[11 + i] == '_' ? '-' : tolower((unsigned char) (*e)[11 + i]);
		key[n] = '\0';
		{
			char	   *value = strdup(eq + 1);
			int			rc = config_set(cfg, key, trim(value));

			free(value);
			if (rc != 0)
			{
				snprintf(err, errlen, "environment %.*s: unknown setting or bad value", (int) (eq - *e), *e);
				return -1;
			}
		}
	}
	return 0;
}

/* Defaults, then the file (if any), then the environment */
int
ConfigLoad(const char *path, RestConfig *cfg, char *err, size_t errlen)
{
	config_defaults(cfg);
	if (path && config_read_file(path, cfg, err, errlen) != 0)
		return -1;
	if (config_read_env(cfg, err, errlen) != 0)
		return -1;
	if (cfg->db_uri == NULL)
	{
		snprintf(err, errlen, "db-uri is not set");
		return -1;
	}
	if (cfg->rl_burst < 1)
		cfg->rl_burst = cfg->rl_address_rate > cfg->rl_user_rate ? cfg->rl_address_rate : cfg->rl_user_rate;
	if (cfg->rl_burst < 1)
		cfg->rl_burst = 1;
	return 0;
}

/* Free the strings of a RestConfig */
void
ConfigFree(RestConfig *cfg)
{
	free(cfg->db_uri);
	free(cfg->db_read_uri);
	free(cfg->server_host);
	free(cfg->cors_origins);
	memset(cfg, 0, sizeof(*cfg));
}

/* Take a reference to the current settings (released by ConfigRelease) */
const RestConfig *
ConfigAcquire(void)
{
	ConfigRef  *ref;

	pthread_mutex_lock(&config_lock);
	ref = current_config;
	ref->refs++;
	pthread_mutex_unlock(&config_lock);
	return &ref->cfg;
}

/* Drop a reference; the last one of a replaced RestConfig frees it */
void
ConfigRelease(const RestConfig *cfg)
{
	ConfigRef  *ref = (ConfigRef *) cfg;
	bool		last;

	pthread_mutex_lock(&config_lock);
	last = --ref->refs == 0;
	pthread_mutex_unlock(&config_lock);
	if (last)
	{
		ConfigFree(&ref->cfg);
		free(ref);
	}
}

/* Make cfg (moved in) the current settings */
void
ConfigInstall(RestConfig *cfg)
{
	ConfigRef  *ref = calloc(1, sizeof(ConfigRef));
	ConfigRef  *old;

	ref->cfg = *cfg;
	ref->refs = 1;
	pthread_mutex_lock(&config_lock);
	old = current_config;
	current_config = ref;
	pthread_mutex_unlock(&config_lock);
	if (old)
		ConfigRelease(&old->cfg);
}

/* Is origin in the comma-separated list of server-cors-allowed-origins? */
bool
CorsOriginAllowed(const RestConfig *cfg, const char *origin)
{
	const char *p = cfg->cors_origins;
	size_t		olen = strlen(origin);

	if (p == NULL)
		return false;
	while (*p)
	{
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *s = p;

		while (s < end && isspace((unsigned char) *s))
			s++;
		while (end > s && isspace((unsigned char) end[-1]))
			end--;
		if ((end - s == 1 && *s == '*') ||
			((size_t) (end - s) == olen && strncmp(s, origin, olen) == 0))
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}
