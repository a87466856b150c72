/*
 * The access log: one line per request on stderr, the lines of one turn
 * of the event loop written with a single write(2) so that they never
 * interleave with other writers' lines.  Only the
 * method, the path (no query string, where tokens and passwords could be)
 * and the status are logged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <limits.h>
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

/*
 * The access log's lines of one turn of the event loop, written together
 * by AccessLogFlush: one write(2) per turn instead of one per request
 * (under PIPE_BUF, so still atomic).  Only the loop's thread logs requests.
 */
static char access_buf[PIPE_BUF];
static size_t access_len;
static time_t stamp_second = -1;
static char stamp_text[32];
static size_t stamp_len;

/* Write the lines of this turn, if any */
void
AccessLogFlush(void)
{
	if (access_len > 0)
		log_write(access_buf, access_len);
	access_len = 0;
}

/* Append n bytes to line (bounded by end) */
static char *
put(char *line, const char *end, const char *s, size_t n)
{
	if (n > (size_t) (end - line))
		n = end - line;
	memcpy(line, s, n);
	return line + n;
}

/* A non-negative number in decimal */
static char *
put_number(char *line, const char *end, unsigned long v)
{
	char		digits[24];
	int			n = 0;

	do
		digits[sizeof(digits) - 1 - n++] = (char) ('0' + v % 10);
	while ((v /= 10) > 0 && n < (int) sizeof(digits));
	return put(line, end, digits + sizeof(digits) - n, n);
}

/*
 * The access-log line of one request: "<UTC time> <method> <path> <status>
 * <ms>ms", the path without its query string and without control
 * characters (so a path cannot forge lines).  Formatted by hand, the
 * timestamp once a second: this runs once per request.
 */
void
AccessLog(const char *method, const char *path, int status, double ms)
{
	char		line[600];
	char	   *end = line + sizeof(line) - 1;
	char	   *o = line;
	struct timespec ts;
	unsigned long tenths = ms > 0 ? (unsigned long) (ms * 10 + 0.5) : 0;
	int			n = 0;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != stamp_second)
	{
		struct tm	tm;

		gmtime_r(&ts.tv_sec, &tm);
		stamp_len = strftime(stamp_text, sizeof(stamp_text), "%Y-%m-%dT%H:%M:%SZ", &tm);
		stamp_second = ts.tv_sec;
	}
	o = put(o, end, stamp_text, stamp_len);
	o = put(o, end, " ", 1);
	method = method ? method : "-";
	o = put(o, end, method, strnlen(method, 16));
	o = put(o, end, " ", 1);
	for (const char *p = path ? path : "-"; *p && *p != '?' && n < 255 && o < end; p++, n++)
		*o++ = (*p < 0x21 || *p == 0x7f) ? '_' : *p;
	o = put(o, end, " ", 1);
	o = put_number(o, end, status > 0 ? (unsigned long) status : 0);
	o = put(o, end, " ", 1);
	o = put_number(o, end, tenths / 10);
	o = put(o, end, ".", 1);
	o = put_number(o, end, tenths % 10);
	o = put(o, end, "ms\n", 3);
	if (access_len + (o - line) > sizeof(access_buf))
		AccessLogFlush();
	memcpy(access_buf + access_len, line, o - line);
	access_len += o - line;
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
