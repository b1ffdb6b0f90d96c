/*
 * nic_open_probe - open one netmap port and report the outcome, for
 * nic_caps_test.sh.
 *
 *   nic_open_probe PORTSPEC [HOLD_MS]
 *       nmport_open(PORTSPEC); on success prints "opened" and keeps the
 *       port open for HOLD_MS milliseconds (default 0), exit 0; on failure
 *       prints "failed ERRNO" (the number) and exits 1.  The library's own
 *       diagnostics go to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libnetmap.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PORTSPEC [HOLD_MS]\n", argv[0]);
		return 2;
	}
	errno = 0;
	struct nmport_d *d = nmport_open(argv[1]);
	if (d == NULL) {
		printf("failed %d\n", errno);
		return 1;
	}
	printf("opened\n");
	fflush(stdout);
	long ms = argc > 2 ? atol(argv[2]) : 0;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	nmport_close(d);
	return 0;
}
