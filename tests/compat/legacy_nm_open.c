/*
 * The legacy pcap-like API (NETMAP_WITH_LIBS): nm_open() on pipe ends and
 * null ports, nm_inject()/nm_dispatch()/nm_nextpkt(), sharing the parent's
 * mapping (NM_OPEN_NO_MMAP + arg), deferred nm_mmap(), NM_OPEN_IFNAME, and
 * the errno conventions (0 for names that are not netmap's).
 */
#define _DEFAULT_SOURCE
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat.h"

#define FRAMES 40

static unsigned dispatched;

static void
on_packet(unsigned char *arg, const struct nm_pkthdr *h, const unsigned char *buf)
{
	unsigned char expect[2048];
	unsigned seq = dispatched++;

	(void)arg;
	CHECK(h->len == 60 + seq && h->caplen == h->len);
	fill_frame(expect, seq, h->len);
	CHECK(memcmp(buf, expect, h->len) == 0);
}

int
main(void)
{
	char name[64], peer[64];
	struct nm_desc *d, *e, *f, *g, *n, *h;
	struct nm_pkthdr hdr;
	unsigned char pkt[2048], *buf;
	int pid = (int)getpid();
	unsigned i;

	/* not netmap names: NULL with errno 0, so that callers can fall back */
	errno = EIO;
	CHECK(nm_open("eth0", NULL, 0, NULL) == NULL && errno == 0);
	errno = EIO;
	CHECK(nm_open("pcap:x", NULL, 0, NULL) == NULL && errno == 0);
	/* netmap names that do not parse: EINVAL */
	CHECK(nm_open("netmap:x/q", NULL, 0, NULL) == NULL && errno == EINVAL);
	CHECK(nm_close(NULL) == EINVAL);

	/* a pipe, both ends mapped by nm_open */
	snprintf(name, sizeof(name), "netmap:cl%d{3", pid);
	snprintf(peer, sizeof(peer), "netmap:cl%d}3", pid);
	d = nm_open(name, NULL, 0, NULL);
	CHECK(d != NULL && d->self == d && IS_NETMAP_DESC(d));
	CHECK(d->fd >= 0 && d->mem != NULL && d->done_mmap && d->nifp != NULL);
	CHECK(d->memsize == d->req.nr_memsize);
	CHECK((void *)d->nifp == (char *)d->mem + d->req.nr_offset);
	CHECK(d->first_tx_ring == 0 && d->last_tx_ring == 0);
	CHECK(d->cur_tx_ring == d->first_tx_ring && d->cur_rx_ring == d->first_rx_ring);
	CHECK(d->some_ring != NULL && (char *)d->buf_start > (char *)d->mem);
	CHECK((char *)d->buf_end == (char *)d->mem + d->memsize);
	e = nm_open(peer, NULL, 0, NULL);
	CHECK(e != NULL && e->done_mmap && e->req.nr_arg2 == d->req.nr_arg2);

	/* nm_inject, then nm_dispatch on the other end */
	for (i = 0; i < FRAMES; i++) {
		fill_frame(pkt, i, 60 + i);
		CHECK(nm_inject(d, pkt, 60 + i) == (int)(60 + i));
	}
	CHECK(ioctl(NETMAP_FD(d), NIOCTXSYNC, NULL) == 0);
	{
		struct pollfd pfd = { .fd = NETMAP_FD(e), .events = POLLIN };

		CHECK(poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLIN));
	}
	CHECK(nm_dispatch(e, FRAMES / 2, on_packet, NULL) == FRAMES / 2);
	CHECK(nm_dispatch(e, -1, on_packet, NULL) == FRAMES / 2);
	CHECK(dispatched == FRAMES);

	/* nm_nextpkt */
	fill_frame(pkt, 7, 100);
	CHECK(nm_inject(d, pkt, 100) == 100);
	CHECK(ioctl(NETMAP_FD(d), NIOCTXSYNC, NULL) == 0);
	CHECK(ioctl(NETMAP_FD(e), NIOCRXSYNC, NULL) == 0);
	buf = nm_nextpkt(e, &hdr);
	CHECK(buf != NULL && hdr.len == 100 && memcmp(buf, pkt, 100) == 0);
	CHECK(nm_nextpkt(e, &hdr) == NULL);

	/* a child descriptor sharing the parent's mapping */
	snprintf(name, sizeof(name), "netmap:cl%d{4", pid);
	f = nm_open(name, NULL, NM_OPEN_NO_MMAP, d);
	CHECK(f != NULL && f->mem == d->mem && !f->done_mmap);
	CHECK(f->nifp == NETMAP_IF(d->mem, f->req.nr_offset));

	/* no mapping at all until nm_mmap() */
	snprintf(name, sizeof(name), "netmap:cl%d{5", pid);
	g = nm_open(name, NULL, NM_OPEN_NO_MMAP | NETMAP_NO_TX_POLL, NULL);
	CHECK(g != NULL && g->mem == NULL && g->nifp == NULL && !g->done_mmap);
	CHECK(g->req.nr_ringid & NETMAP_NO_TX_POLL);
	CHECK(nm_mmap(g, NULL) == 0 && g->mem != NULL && g->done_mmap);
	CHECK(nm_mmap(g, NULL) == 0);	/* already done: nothing to do */

	/* NM_OPEN_IFNAME: the name (and mode) come from the parent */
	n = nm_open("netmap:null", NULL, 0, NULL);
	CHECK(n != NULL);
	h = nm_open("netmap:ignored", NULL, NM_OPEN_IFNAME | NM_OPEN_NO_MMAP, n);
	CHECK(h != NULL && strcmp(h->req.nr_name, "null") == 0);
	CHECK(h->mem == n->mem);

	CHECK(nm_close(h) == 0);
	CHECK(nm_close(n) == 0);
	CHECK(nm_close(g) == 0);
	CHECK(nm_close(f) == 0);
	CHECK(nm_close(e) == 0);
	CHECK(nm_close(d) == 0);
	printf("legacy_nm_open: ok\n");
	return 0;
}
