/*
 * nmport_* on a netmap pipe: both ends opened by name ("x{id" / "x}id"),
 * frames of varying sizes sent with nmport_inject() and received with
 * poll() and the rx ring, including frames spread over several slots
 * (NS_MOREFRAG), in one memory region shared by the two descriptors.
 */
#define _DEFAULT_SOURCE
#include <libnetmap.h>

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat.h"

#define FRAMES 2000

static unsigned
frame_len(unsigned seq)
{
	/* mostly small frames; every 50th spans several buffers */
	return seq % 50 == 49 ? 4000 + seq % 1000 : 60 + (seq * 37) % 1400;
}

/* Receives one whole frame (possibly several slots) into buf; returns its
 * length, or 0 if nothing is ready. */
static unsigned
receive(struct nmport_d *d, unsigned char *buf, size_t cap)
{
	struct netmap_ring *ring = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	unsigned len = 0;
	uint32_t i;

	if (nm_ring_empty(ring))
		return 0;
	for (i = ring->head;; i = nm_ring_next(ring, i)) {
		struct netmap_slot *sl = &ring->slot[i];

		CHECK(i != ring->tail);	/* a frame is never cut at tail */
		CHECK(len + sl->len <= cap);
		memcpy(buf + len, NETMAP_BUF(ring, sl->buf_idx), sl->len);
		len += sl->len;
		if (!(sl->flags & NS_MOREFRAG))
			break;
	}
	ring->head = ring->cur = nm_ring_next(ring, i);
	return len;
}

int
main(void)
{
	char master[64], slave[64];
	struct nmport_d *m, *s;
	unsigned char out[8192], in[8192];
	unsigned sent = 0, got = 0, multi = 0;
	int pid = (int)getpid();

	snprintf(master, sizeof(master), "netmap:cp%d{1", pid);
	snprintf(slave, sizeof(slave), "netmap:cp%d}1/R", pid);
	m = nmport_open(master);
	CHECK(m != NULL);
	s = nmport_open(slave);
	CHECK(s != NULL);
	CHECK(m->mem == s->mem && m->mem->refcount == 2);
	CHECK(m->first_tx_ring <= m->last_tx_ring);
	CHECK(s->first_rx_ring <= s->last_rx_ring);
	CHECK(s->first_tx_ring > s->last_tx_ring);	/* /R: rx rings only */

	while (got < FRAMES) {
		struct pollfd pfd[2] = {
			{ .fd = m->fd, .events = sent < FRAMES ? POLLOUT : 0 },
			{ .fd = s->fd, .events = POLLIN },
		};

		/* queue as many frames as fit, then push them */
		while (sent < FRAMES) {
			unsigned len = frame_len(sent);

			fill_frame(out, sent, len);
			if (nmport_inject(m, out, len) != (int)len)
				break;
			sent++;
		}
		CHECK(ioctl(m->fd, NIOCTXSYNC, NULL) == 0);
		CHECK(poll(pfd, 2, 2000) > 0);
		for (;;) {
			unsigned len = receive(s, in, sizeof(in));

			if (len == 0)
				break;
			CHECK(got < sent);
			CHECK(len == frame_len(got));
			fill_frame(out, got, len);
			CHECK(memcmp(in, out, len) == 0);
			multi += len > NETMAP_RXRING(s->nifp, s->first_rx_ring)->nr_buf_size;
			got++;
		}
		CHECK(ioctl(s->fd, NIOCRXSYNC, NULL) == 0);
	}
	CHECK(multi == FRAMES / 50);
	nmport_close(s);
	nmport_close(m);
	printf("nmport_pipe: ok (%u frames, %u over several slots)\n", got, multi);
	return 0;
}
