/*
 * Shared helpers of the compat tests: programs written against the netmap
 * user API (libnetmap's nmport_* and the legacy nm_open), linked with
 * -lnetmap and run as a netmap user would run them.  Each test exits 0 on
 * success and prints the first failed check otherwise.
 */
#ifndef UNETMAP_COMPAT_H
#define UNETMAP_COMPAT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n", \
			    __FILE__, __LINE__, #cond, errno, strerror(errno)); \
			exit(1);                                           \
		}                                                          \
	} while (0)

/* Deterministic payload of frame `seq`, `len` bytes long. */
static inline void
fill_frame(unsigned char *buf, unsigned seq, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		buf[i] = (unsigned char)(seq * 31 + i * 7);
}

#endif
