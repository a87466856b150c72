/*
 * pgerp-rest [--config FILE]: start the pools, the API and
 * admin servers, then wait for signals in the main thread (every other
 * thread blocks them): SIGHUP reloads the settings, SIGTERM/SIGINT drain
 * the requests in flight for up to 10 s and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "restd.h"

#define DRAIN_SECONDS 10

static const char *config_path;

/* Wrong arguments: say what is expected, exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: pgerp-rest [--config FILE]\n"
			"Settings come from FILE (key = value) and PGERP_REST_* variables; see docs/gateway.md.\n");
	exit(2);
}

/* 1,000+ keep-alive connections need file descriptors: take the hard limit */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
	{
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* SIGHUP: new settings for everything but the listening addresses and pool sizes */
static void
reload(void)
{
	RestConfig	cfg;
	char		err[512];

	if (ConfigLoad(config_path, &cfg, err, sizeof(err)) != 0)
	{
		LogMessage("reload failed, keeping the old settings: %s", err);
		ConfigFree(&cfg);
		return;
	}
	PoolConfigure(&WritePool, cfg.db_uri);
	PoolConfigure(&ReadPool, cfg.db_read_uri ? cfg.db_read_uri : cfg.db_uri);
	ConfigInstall(&cfg);
	LogMessage("settings reloaded");
}

/* Stop accepting, let the requests in flight finish (up to 10 s), stop */
static void
drain(struct MHD_Daemon *api, struct MHD_Daemon *admin)
{
	double		deadline = NowSeconds() + DRAIN_SECONDS;

	MHD_quiesce_daemon(api);
	while (atomic_load(&InFlight) > 0 && NowSeconds() < deadline)
		usleep(20 * 1000);
	if (atomic_load(&InFlight) > 0)
		LogMessage("%d requests still in flight after %d s: exiting anyway", atomic_load(&InFlight), DRAIN_SECONDS);
	else
	{
		MHD_stop_daemon(api);
		if (admin)
			MHD_stop_daemon(admin);
		PoolCloseAll(&WritePool);
		PoolCloseAll(&ReadPool);
	}
	LogMessage("stopped");
}

/* Settings, then the pools, workers and servers; then the signal loop */
int
main(int argc, char **argv)
{
	RestConfig	cfg;
	char		err[512];
	const RestConfig *cur;
	struct MHD_Daemon *api;
	struct MHD_Daemon *admin = NULL;
	sigset_t	sigs;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config_path = argv[i] + 9;
		else
			usage();
	}
	if (ConfigLoad(config_path, &cfg, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "pgerp-rest: %s\n", err);
		return 2;
	}
	raise_fd_limit();
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	PoolInit(&WritePool, "write", false, cfg.db_pool, cfg.db_uri);
	PoolInit(&ReadPool, "read", true, cfg.db_pool, cfg.db_read_uri ? cfg.db_read_uri : cfg.db_uri);
	ConfigInstall(&cfg);
	cur = ConfigAcquire();
	api = HttpStart(cur);
	if (api == NULL)
	{
		LogMessage("could not listen on %s:%d", cur->server_host, cur->server_port);
		return 1;
	}
	if (cur->admin_port > 0 && (admin = AdminStart(cur)) == NULL)
	{
		LogMessage("could not listen on %s:%d (admin-server-port)", cur->server_host, cur->admin_port);
		return 1;
	}
	LogMessage("listening on %s:%d%s", cur->server_host, cur->server_port, admin ? ", admin server up" : "");
	ConfigRelease(cur);

	for (;;)
	{
		int			sig;

		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			reload();
		else
			break;
	}
	LogMessage("shutting down: draining requests in flight");
	drain(api, admin);
	return 0;
}
