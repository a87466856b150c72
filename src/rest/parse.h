/*
 * Helpers shared by the pure-C parsers of src/rest/ (grammar.c, prefer.c,
 * csv.c, decode.c).  No PostgreSQL header: these files are also compiled on
 * their own for the unit tests and the fuzzer.
 */
#ifndef PGERP_REST_PARSE_H
#define PGERP_REST_PARSE_H

#include "pgerp/rest.h"

#include <stdarg.h>

/* Record an error once (the first one wins, it is the most precise) */
extern RestCode RestFail(RestError *err, RestCode code, size_t pos, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

/* Allocate size bytes (zeroed); NULL means REST_ENOMEM */
extern void *RestZalloc(const RestAlloc *a, size_t size);

/* A NUL-terminated copy of s[0..len) */
extern char *RestStrndup(const RestAlloc *a, const char *s, size_t len);

/*
 * Append one element of elsize bytes to *arr (*n used, *cap allocated),
 * doubling the array when full: the parser never frees, so doubling keeps
 * the total allocated below twice the final size.
 */
extern void *RestPush(const RestAlloc *a, void **arr, int *n, int *cap, size_t elsize);

/* strlen bounded by REST_MAX_INPUT + 1, so a hostile string is not scanned twice */
extern size_t RestBoundedLen(const char *s);

/*
 * Percent-decode s[0..len) into a new NUL-terminated string; plus_space
 * turns '+' into ' ' (query strings).  Refuses "%" not followed by two hex
 * digits and "%00" (every string of a tree is NUL-terminated).  err->pos is
 * base + the offset of the bad '%'.
 */
extern RestCode RestDecode(const char *s, size_t len, bool plus_space, size_t base,
							const RestAlloc *a, char **out, RestError *err);

/* Printable form of the byte at s[i] for messages: "x", "end of input" */
extern void RestDescribe(const char *s, size_t i, size_t len, char *buf, size_t size);

#endif							/* PGERP_REST_PARSE_H */
