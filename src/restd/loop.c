/*
 * The event loop: one thread waits on one epoll set for microhttpd's own
 * epoll descriptor (the HTTP connections), every pooled libpq socket and
 * an eventfd that the main thread writes to stop it.  A request never
 * hops between threads: microhttpd hands it over complete, the pool sends
 * it (pipelined with the other reads waiting), the connection is
 * suspended, and the result resumes it in the same thread.  Each side
 * wakes once per batch of ready events, not once per request
 * (docs/gateway.md, "Threads").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "restd.h"

#define MAX_EVENTS 64
#define DRAIN_SECONDS 10

static int	loop_fd = -1;
static int	wake_fd = -1;
static atomic_bool stop_requested;
static Watch wake_watch = {WATCH_WAKE};
static Watch http_watch = {WATCH_HTTP};

/* Turns of the loop so far: a slot read in this turn needs no probe (pool.c) */
unsigned long LoopTurn;

/*
 * Watch fd for events (fd -1 or no events: stop watching what was
 * registered).  The registration is remembered by the caller; a
 * descriptor closed behind our back is dropped from epoll by the kernel,
 * hence the retries with ADD and MOD.
 */
void
LoopWatch(Watch *w, int fd, uint32_t events, int *registered_fd, uint32_t *registered)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (fd < 0 || events == 0)
	{
		if (*registered_fd >= 0)
			epoll_ctl(loop_fd, EPOLL_CTL_DEL, *registered_fd, NULL);
		*registered_fd = -1;
		*registered = 0;
		return;
	}
	if (*registered_fd == fd)
	{
		if (*registered != events && epoll_ctl(loop_fd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
			epoll_ctl(loop_fd, EPOLL_CTL_ADD, fd, &ev);
	}
	else
	{
		if (*registered_fd >= 0)
			epoll_ctl(loop_fd, EPOLL_CTL_DEL, *registered_fd, NULL);
		if (epoll_ctl(loop_fd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
			epoll_ctl(loop_fd, EPOLL_CTL_MOD, fd, &ev);
	}
	*registered_fd = fd;
	*registered = events;
}

/* From the main thread (SIGTERM): drain, then return from LoopRun */
void
LoopStop(void)
{
	uint64_t	one = 1;

	atomic_store(&stop_requested, true);
	if (write(wake_fd, &one, sizeof(one)) < 0)
		LogMessage("could not wake the event loop: %s", strerror(errno));
}

/* Milliseconds to wait: microhttpd's timeout and the pools' timers, at most 1 s */
static int
loop_timeout(struct MHD_Daemon *api, double now)
{
	MHD_UNSIGNED_LONG_LONG mhd_ms;
	double		next = now + 1.0;
	double		t;
	int			ms;

	if ((t = PoolTick(&ReadPool, now)) < next)
		next = t;
	if ((t = PoolTick(&WritePool, now)) < next)
		next = t;
	ms = (int) ((next - now) * 1000) + 1;
	if (MHD_get_timeout(api, &mhd_ms) == MHD_YES && mhd_ms < (MHD_UNSIGNED_LONG_LONG) ms)
		ms = (int) mhd_ms;
	return ms < 0 ? 0 : ms;
}

/* The events of one wait */
static void
loop_dispatch(struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++)
	{
		Watch	   *w = evs[i].data.ptr;

		if (w->kind == WATCH_WAKE)
		{
			uint64_t	v;

			if (read(wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				LogMessage("could not read the wake-up descriptor: %s", strerror(errno));
		}
		else if (w->kind == WATCH_SLOT)
			PoolSlotEvent((PoolSlot *) w, evs[i].events);
	}
}

/*
 * Run the API server until LoopStop, then drain: stop accepting, answer
 * the requests in flight for up to DRAIN_SECONDS, close everything.
 * Returns 0, or 1 when requests were still in flight.
 */
int
LoopRun(struct MHD_Daemon *api)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(api, MHD_DAEMON_INFO_EPOLL_FD);
	int			http_fd = -1;
	uint32_t	http_events = 0;
	double		drain_until = 0;
	struct epoll_event evs[MAX_EVENTS];

	LoopWatch(&http_watch, info->epoll_fd, EPOLLIN, &http_fd, &http_events);
	for (;;)
	{
		double		now = NowSeconds();
		int			n;

		if (atomic_load(&stop_requested) && drain_until == 0)
		{
			int			listen_fd = MHD_quiesce_daemon(api);

			if (listen_fd >= 0)
				close(listen_fd);
			drain_until = now + DRAIN_SECONDS;
		}
		if (drain_until > 0 && (atomic_load(&InFlight) == 0 || now >= drain_until))
			break;
		n = epoll_wait(loop_fd, evs, MAX_EVENTS, loop_timeout(api, now));
		if (n < 0 && errno != EINTR)
		{
			LogMessage("epoll_wait failed: %s", strerror(errno));
			break;
		}
		if (n > 0)
			loop_dispatch(evs, n);
		MHD_run(api);			/* new requests, and the connections resumed above */
		AccessLogFlush();		/* the lines of this turn, in one write */
		LoopTurn++;
	}
	AccessLogFlush();
	if (atomic_load(&InFlight) > 0)
	{
		LogMessage("%d requests still in flight after %d s: exiting anyway", atomic_load(&InFlight), DRAIN_SECONDS);
		return 1;
	}
	MHD_stop_daemon(api);
	PoolCloseAll(&WritePool);
	PoolCloseAll(&ReadPool);
	return 0;
}

/* The epoll set and the wake-up descriptor, before any pool is used */
int
LoopInit(void)
{
	int			fd = -1;
	uint32_t	ev = 0;

	loop_fd = epoll_create1(EPOLL_CLOEXEC);
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop_fd < 0 || wake_fd < 0)
		return -1;
	LoopWatch(&wake_watch, wake_fd, EPOLLIN, &fd, &ev);
	return 0;
}
