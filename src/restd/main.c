/*
 * pgerp-rest [--config FILE]: start the pools, the API server's event
 * loop (its own thread) and the admin server, then wait for signals in the
 * main thread (every other thread blocks them): SIGHUP reloads the
 * settings, SIGTERM/SIGINT drain the requests in flight for up to 10 s
 * (loop.c) and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "restd.h"

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

/* The event loop's thread: the API server until LoopStop */
static void *
loop_main(void *arg)
{
	return (void *) (intptr_t) LoopRun((struct MHD_Daemon *) arg);
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
	pthread_t	loop;
	void	   *loop_rc;

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
	api = LoopInit() == 0 ? HttpStart(cur) : NULL;
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
	if (pthread_create(&loop, NULL, loop_main, api) != 0)
	{
		LogMessage("could not start the event loop");
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
	LoopStop();
	pthread_join(loop, &loop_rc);
	if (loop_rc == NULL && admin)
		MHD_stop_daemon(admin);
	LogMessage("stopped");
	return 0;
}
