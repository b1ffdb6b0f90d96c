/*
 * tool_util.h - helpers shared by the unetmap tools (bridge, lb, nmstat,
 * pkt-gen).  Header only: every function is static inline, so a tool that
 * does not use one gets no copy of it and no unused-function warning.
 *
 * Define PROG (the program name, a string literal) before including it:
 * die() prefixes its messages with it.  The libnetmap error callback is
 * only provided when <libnetmap.h> was included first.
 *
 *   LOG(fmt, ...)        netmap's D() format on stderr:
 *                        "sss.uuuuuu function [line] message"
 *   die(fmt, ...)        "PROG: message" on stderr, exit status 1
 *   vwarn_prog(fmt, ap)  the same message, without exiting
 *   num_arg(what, s, lo, hi)  strict decimal integer in [lo, hi], or die
 *                        "WHAT S: expected an integer in [LO, HI]"
 *   do_abort, catch_stop_signals()  flag set by SIGINT/SIGTERM
 *   wait_secs(secs)      sleep, in 0.1 s steps, until do_abort is set
 *   now_ns(), now_s()    CLOCK_MONOTONIC in nanoseconds / seconds
 *   lib_err, lib_error_cb  last message reported by libnetmap
 */
#ifndef UNETMAP_TOOLS_TOOL_UTIL_H
#define UNETMAP_TOOLS_TOOL_UTIL_H

#ifndef PROG
#error "define PROG before including tool_util.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* netmap's D() format: "sss.uuuuuu function [line] message" on stderr */
#define LOG(...) logmsg(__func__, __LINE__, __VA_ARGS__)
static inline void logmsg(const char *fn, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void logmsg(const char *fn, int line, const char *fmt, ...)
{
	struct timeval tv;
	char msg[1024];
	va_list ap;

	gettimeofday(&tv, NULL);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%03d.%06d %s [%d] %s\n", (int)(tv.tv_sec % 1000),
		(int)tv.tv_usec, fn, line, msg);
}

/* "PROG: message\n" on stderr */
static inline void vwarn_prog(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));
static inline void vwarn_prog(const char *fmt, va_list ap)
{
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static inline void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_prog(fmt, ap);
	va_end(ap);
	exit(1);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

/* strict decimal integer in [lo, hi]; what names it in the error ("-b") */
static inline long num_arg(const char *what, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		die("%s %s: expected an integer in [%ld, %ld]", what, s, lo, hi);
	return v;
}

/* ------------------------------------------------------------------ */
/* Signals and time                                                    */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t do_abort;

static inline void on_signal(int sig)
{
	(void)sig;
	do_abort = 1;
}

/* SIGINT and SIGTERM set do_abort (no SA_RESTART: blocking calls return EINTR) */
static inline void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* sleep secs seconds, in 0.1 s steps, or until do_abort is set */
static inline void wait_secs(long secs)
{
	for (long i = 0; i < secs * 10 && !do_abort; i++)
		usleep(100000);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* libnetmap                                                           */
/* ------------------------------------------------------------------ */

#ifdef LIBNETMAP_H_
/* last error reported by libnetmap, to build one-line messages;
 * install with nmctx_get()->error = lib_error_cb */
static char lib_err[512];
static inline void lib_error_cb(struct nmctx *ctx, const char *msg)
{
	(void)ctx;
	snprintf(lib_err, sizeof lib_err, "%s", msg);
}
#endif

#endif /* UNETMAP_TOOLS_TOOL_UTIL_H */
