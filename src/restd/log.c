/*
 * The access log: one line per request on stderr, written with a single
 * write(2) so lines of concurrent requests never interleave.  Only the
 * method, the path (no query string, where tokens and passwords could be)
 * and the status are logged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "restd.h"

/* One write(2) per line: atomic for lines under PIPE_BUF */
static void
log_write(const char *line, size_t len)
{
	ssize_t		rc = write(STDERR_FILENO, line, len);

	(void) rc;
}

/* UTC timestamp at the start of every line */
static size_t
log_stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	return strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The access-log line of one request */
void
AccessLog(const char *method, const char *path, int status, double ms)
{
	char		line[600];
	char		safe[256];
	size_t		n = 0;
	size_t		len;

	/* bounded and without control characters, so a path cannot forge lines */
	for (const char *p = path ? path : "-"; *p && *p != '?' && n < sizeof(safe) - 1; p++)
		safe[n++] = (*p < 0x21 || *p == 0x7f) ? '_' : *p;
	safe[n] = '\0';
	len = log_stamp(line, sizeof(line));
	len += snprintf(line + len, sizeof(line) - len, " %.16s %s %d %.1fms\n",
					method ? method : "-", safe, status, ms);
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	log_write(line, len);
}

/* A gateway event (start, reload, stop) on stderr */
void
LogMessage(const char *fmt,...)
{
	char		line[1024];
	size_t		len = log_stamp(line, sizeof(line));
	va_list		ap;

	line[len++] = ' ';
	va_start(ap, fmt);
	len += vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	while (len > 0 && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	log_write(line, len);
}
