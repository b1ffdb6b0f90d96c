/*
 * pipe_dropper IN OUT TOTAL EVERY
 *
 * Test helper for the rxseq loss test: receives exactly TOTAL frames on
 * port IN and copies them to port OUT, except frame number i (counting from
 * 0) whenever i % EVERY == EVERY / 2, which is dropped.  So the loss is
 * known in advance: TOTAL / EVERY frames (plus one if TOTAL % EVERY is
 * above EVERY / 2), never the last frame when TOTAL is a multiple of EVERY.
 * Prints "dropped N forwarded M" and exits 0.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <libnetmap.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pipe_dropper IN OUT TOTAL EVERY\n");
		return 2;
	}
	unsigned long long total = strtoull(argv[3], NULL, 10), every = strtoull(argv[4], NULL, 10);
	unsigned long long seen = 0, dropped = 0, fwd = 0;
	struct nmport_d *in = nmport_open(argv[1]);
	struct nmport_d *out = in ? nmport_open(argv[2]) : NULL;
	if (in == NULL || out == NULL || every == 0) {
		fprintf(stderr, "pipe_dropper: cannot open ports\n");
		nmport_close(in);
		return 2;
	}
	struct netmap_ring *rx = NETMAP_RXRING(in->nifp, in->first_rx_ring);
	struct netmap_ring *tx = NETMAP_TXRING(out->nifp, out->first_tx_ring);
	while (seen < total) {
		if (nm_ring_empty(rx)) {
			struct pollfd p = { .fd = in->fd, .events = POLLIN };
			if (poll(&p, 1, 5000) <= 0) {
				fprintf(stderr, "pipe_dropper: no input for 5 s after %llu frames\n", seen);
				break;
			}
			continue;
		}
		while (!nm_ring_empty(rx) && seen < total) {
			struct netmap_slot *rs = &rx->slot[rx->head];
			if (seen % every == every / 2) {
				dropped++;
			} else {
				while (nm_ring_space(tx) == 0) {
					struct pollfd p = { .fd = out->fd, .events = POLLOUT };
					poll(&p, 1, 100);
				}
				struct netmap_slot *ts = &tx->slot[tx->head];
				memcpy(NETMAP_BUF(tx, ts->buf_idx), NETMAP_BUF(rx, rs->buf_idx), rs->len);
				ts->len = rs->len;
				tx->head = tx->cur = nm_ring_next(tx, tx->head);
				fwd++;
			}
			seen++;
			rx->head = rx->cur = nm_ring_next(rx, rx->head);
		}
		ioctl(out->fd, NIOCTXSYNC, NULL);
		ioctl(in->fd, NIOCRXSYNC, NULL);
	}
	for (int i = 0; i < 100000 && nm_tx_pending(tx); i++) {
		struct pollfd p = { .fd = out->fd, .events = POLLOUT };
		ioctl(out->fd, NIOCTXSYNC, NULL);
		poll(&p, 1, 1);
	}
	printf("dropped %llu forwarded %llu\n", dropped, fwd);
	nmport_close(out);
	nmport_close(in);
	return seen == total ? 0 : 1;
}
