/*
 * A zero-copy forwarder in the style of Snort's netmap DAQ and VPP: two
 * ports in one memory region, mapped once, and packets moved from one
 * port's RX ring to the other's TX ring by swapping buffer indices
 * (NS_BUF_CHANGED), never copying; waiting with select().
 *
 *   producer -> pipe "zin{1" / "zin}1" -> forwarder -> pipe "zout{1" /
 *   "zout}1" -> consumer
 *
 * Every frame carries its sequence number and the buffer index the
 * producer wrote it in; the consumer must see all N frames, in order, with
 * their contents, in that very buffer (no copy anywhere).  The forwarder
 * uses the region through the first descriptor's mapping only.  Raw API
 * (NIOCCTRL REGISTER, mmap, select, NIOC*SYNC): also run under LD_PRELOAD.
 *
 * usage: zcopy_select [count]   (exit 0 on success)
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <unistd.h>

#include <net/netmap_user.h>

#include "compat.h"

struct port {
	int fd;
	struct netmap_if *nifp;
	struct netmap_ring *tx, *rx;
};

static void *region;
static uint64_t region_size;
static uint16_t region_id;

static void
open_port(const char *name, struct port *p)
{
	struct nmreq_header hdr;
	struct nmreq_register reg;
	memset(&hdr, 0, sizeof(hdr));
	memset(&reg, 0, sizeof(reg));
	hdr.nr_version = NETMAP_API;
	hdr.nr_reqtype = NETMAP_REQ_REGISTER;
	snprintf(hdr.nr_name, sizeof(hdr.nr_name), "%s", name);
	hdr.nr_body = (uintptr_t)&reg;
	reg.nr_mode = NR_REG_ALL_NIC;
	p->fd = open("/dev/netmap", O_RDWR);
	CHECK(p->fd >= 0);
	CHECK(ioctl(p->fd, NIOCCTRL, &hdr) == 0);
	if (region == NULL) { /* map the region once */
		region = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
		CHECK(region != MAP_FAILED);
		region_size = reg.nr_memsize;
		region_id = reg.nr_mem_id;
	}
	CHECK(reg.nr_mem_id == region_id && reg.nr_memsize == region_size);
	p->nifp = NETMAP_IF(region, reg.nr_offset);
	p->tx = NETMAP_TXRING(p->nifp, 0);
	p->rx = NETMAP_RXRING(p->nifp, 0);
}

struct frame_tag {
	uint32_t seq;
	uint32_t buf_idx;
};

int
main(int argc, char **argv)
{
	const unsigned count = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	struct port in_m, in_s, out_m, out_s;
	open_port("zin{1", &in_m);   /* producer's end */
	open_port("zin}1", &in_s);   /* forwarder reads here */
	open_port("zout{1", &out_m); /* forwarder writes here */
	open_port("zout}1", &out_s); /* consumer's end */

	unsigned sent = 0, fwd = 0, got = 0, swaps = 0;
	while (got < count) {
		/* producer: as many frames as fit */
		struct netmap_ring *t = in_m.tx;
		while (sent < count && !nm_ring_empty(t)) {
			struct netmap_slot *s = &t->slot[t->cur];
			unsigned char *b = (unsigned char *)NETMAP_BUF(t, s->buf_idx);
			unsigned len = 60 + sent % 200;
			fill_frame(b, sent, len);
			struct frame_tag tag = { sent, s->buf_idx };
			memcpy(b, &tag, sizeof(tag));
			s->len = (uint16_t)len;
			t->head = t->cur = nm_ring_next(t, t->cur);
			sent++;
		}
		CHECK(ioctl(in_m.fd, NIOCTXSYNC, NULL) == 0);

		/* forwarder: wait for input and output room, then swap */
		fd_set rd, wr;
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_SET(in_s.fd, &rd);
		FD_SET(out_m.fd, &wr);
		int maxfd = in_s.fd > out_m.fd ? in_s.fd : out_m.fd;
		struct timeval tv = { 2, 0 };
		int n = select(maxfd + 1, &rd, &wr, NULL, &tv);
		CHECK(n > 0);
		if (FD_ISSET(in_s.fd, &rd) && FD_ISSET(out_m.fd, &wr)) {
			struct netmap_ring *r = in_s.rx, *o = out_m.tx;
			unsigned k = nm_ring_space(r) < nm_ring_space(o) ? nm_ring_space(r) : nm_ring_space(o);
			for (; k > 0; k--) {
				struct netmap_slot *rs = &r->slot[r->cur], *ts = &o->slot[o->cur];
				uint32_t idx = ts->buf_idx;
				ts->buf_idx = rs->buf_idx;
				ts->len = rs->len;
				ts->flags |= NS_BUF_CHANGED;
				rs->buf_idx = idx;
				rs->flags |= NS_BUF_CHANGED;
				r->head = r->cur = nm_ring_next(r, r->cur);
				o->head = o->cur = nm_ring_next(o, o->cur);
				fwd++;
				swaps++;
			}
			CHECK(ioctl(out_m.fd, NIOCTXSYNC, NULL) == 0);
			CHECK(ioctl(in_s.fd, NIOCRXSYNC, NULL) == 0); /* return the swapped-in buffers */
		}

		/* consumer */
		CHECK(ioctl(out_s.fd, NIOCRXSYNC, NULL) == 0);
		struct netmap_ring *c = out_s.rx;
		while (!nm_ring_empty(c)) {
			struct netmap_slot *s = &c->slot[c->cur];
			unsigned char *b = (unsigned char *)NETMAP_BUF(c, s->buf_idx);
			unsigned len = 60 + got % 200;
			struct frame_tag tag;
			memcpy(&tag, b, sizeof(tag));
			CHECK(tag.seq == got);
			CHECK(tag.buf_idx == s->buf_idx); /* the producer's buffer itself */
			CHECK(s->len == len);
			unsigned char want[260];
			fill_frame(want, got, len);
			CHECK(memcmp(b + sizeof(tag), want + sizeof(tag), len - sizeof(tag)) == 0);
			c->head = c->cur = nm_ring_next(c, c->cur);
			got++;
		}
		CHECK(ioctl(out_s.fd, NIOCRXSYNC, NULL) == 0); /* release them */
	}
	CHECK(sent == count && fwd == count && got == count && swaps == count);
	close(out_s.fd);
	close(out_m.fd);
	close(in_s.fd);
	close(in_m.fd);
	munmap(region, region_size);
	printf("zcopy_select: %u frames forwarded by buffer swap\n", got);
	return 0;
}
