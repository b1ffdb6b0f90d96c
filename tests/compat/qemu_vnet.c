/*
 * A hypervisor's netmap backend, as QEMU's and bhyve's use it: the guest's
 * port is a VALE port registered with the legacy NIOCREGIF (nr_arg2 the
 * memory region id), then given 12-byte virtio-net headers with a second
 * NIOCREGIF carrying nr_cmd = NETMAP_BDG_VNET_HDR on the same descriptor.
 * A host-side port on the same switch, registered in the guest's memory
 * region (nr_arg2), has no header.  Checked, with exact counts and bytes:
 *  - VNET_HDR_GET reads the length back; bad lengths, unknown and
 *    non-VALE ports are refused (EINVAL, ENXIO);
 *  - a second registration of the guest port needs NR_ACCEPT_VNET_HDR (EIO);
 *  - guest -> host: a plain frame loses its header; a frame asking for a
 *    UDP checksum (NEEDS_CSUM) arrives with it completed; a TCP GSO frame
 *    (3500 bytes of payload over two slots, gso_size 1000) arrives as four
 *    segments with their sequence numbers, lengths and checksums;
 *  - host -> guest: the frame gets a zeroed 12-byte header.
 * Raw API only, so it is also run as a plain binary under LD_PRELOAD.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <net/netmap_user.h>

#include "compat.h"

#define SW "valeq"
#define HDR 12

struct port {
	int fd;
	void *mem;
	uint32_t memsize;
	uint16_t mem_id;
	struct netmap_if *nifp;
};

static int
legacy_regif(const char *name, uint16_t mem_id, uint32_t flags, struct port *p)
{
	struct nmreq req;
	memset(&req, 0, sizeof(req));
	snprintf(req.nr_name, sizeof(req.nr_name), "%s", name);
	req.nr_version = NETMAP_API;
	req.nr_flags = NR_REG_ALL_NIC | flags;
	req.nr_arg2 = mem_id;
	p->fd = open("/dev/netmap", O_RDWR);
	CHECK(p->fd >= 0);
	if (ioctl(p->fd, NIOCREGIF, &req) != 0) {
		int e = errno;
		close(p->fd);
		errno = e;
		return -1;
	}
	p->memsize = req.nr_memsize;
	p->mem_id = req.nr_arg2;
	p->mem = mmap(NULL, p->memsize, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	CHECK(p->mem != MAP_FAILED);
	p->nifp = NETMAP_IF(p->mem, req.nr_offset);
	return 0;
}

/* NIOCREGIF with nr_cmd set, on descriptor fd; returns nr_arg1 or -1. */
static int
legacy_cmd(int fd, const char *name, uint16_t cmd, uint16_t arg1)
{
	struct nmreq req;
	memset(&req, 0, sizeof(req));
	snprintf(req.nr_name, sizeof(req.nr_name), "%s", name);
	req.nr_version = NETMAP_API;
	req.nr_cmd = cmd;
	req.nr_arg1 = arg1;
	if (ioctl(fd, NIOCREGIF, &req) != 0)
		return -1;
	return req.nr_arg1;
}

/* Queue one frame (several slots if needed) on TX ring 0 and sync. */
static void
send_frame(struct port *p, const uint8_t *f, unsigned len)
{
	struct netmap_ring *r = NETMAP_TXRING(p->nifp, 0);
	unsigned done = 0;
	do {
		unsigned n = len - done < r->nr_buf_size ? len - done : r->nr_buf_size;
		struct netmap_slot *s = &r->slot[r->head];
		CHECK(nm_ring_space(r) > 0);
		memcpy(NETMAP_BUF(r, s->buf_idx), f + done, n);
		s->len = (uint16_t)n;
		done += n;
		s->flags = done < len ? NS_MOREFRAG : 0;
		r->head = r->cur = nm_ring_next(r, r->head);
	} while (done < len);
	CHECK(ioctl(p->fd, NIOCTXSYNC, NULL) == 0);
}

/* Receive the next whole frame (NS_MOREFRAG chains joined) into buf. */
static unsigned
recv_frame(struct port *p, uint8_t *buf, unsigned cap)
{
	struct netmap_ring *r = NETMAP_RXRING(p->nifp, 0);
	unsigned len = 0;
	for (;;) {
		while (nm_ring_empty(r)) {
			struct pollfd pf = { p->fd, POLLIN, 0 };
			CHECK(poll(&pf, 1, 2000) == 1);
		}
		struct netmap_slot *s = &r->slot[r->cur];
		CHECK(len + s->len <= cap);
		memcpy(buf + len, NETMAP_BUF(r, s->buf_idx), s->len);
		len += s->len;
		int more = s->flags & NS_MOREFRAG;
		r->head = r->cur = nm_ring_next(r, r->cur);
		if (!more)
			return len;
	}
}

static int
nothing_pending(struct port *p)
{
	struct pollfd pf = { p->fd, POLLIN, 0 };
	return poll(&pf, 1, 100) == 0;
}

static uint32_t
sum16(const uint8_t *d, unsigned n, uint32_t s)
{
	for (; n > 1; n -= 2, d += 2)
		s += (uint32_t)d[0] << 8 | d[1];
	if (n)
		s += (uint32_t)d[0] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static unsigned
be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static const uint8_t guest_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t host_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* Ethernet + IPv4 (checksummed) header for an L4 segment of l4len bytes. */
static void
eth_ip(uint8_t *f, uint8_t proto, unsigned l4len)
{
	memcpy(f, host_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 20 + l4len);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	ip[12] = 10, ip[15] = 1;
	ip[16] = 10, ip[19] = 2;
	put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
}

static uint32_t
pseudo(const uint8_t *ip, uint8_t proto, unsigned l4len)
{
	return sum16(ip + 12, 8, proto + l4len);
}

/* A received IPv4 frame's IP and L4 checksums are right. */
static int
checksums_ok(const uint8_t *f, unsigned len)
{
	const uint8_t *ip = f + 14;
	if (fold(sum16(ip, 20, 0)) != 0xffff)
		return 0;
	unsigned l4len = be16(ip + 2) - 20;
	if (14 + 20 + l4len != len)
		return 0;
	return fold(sum16(ip + 20, l4len, pseudo(ip, ip[9], l4len))) == 0xffff;
}

int
main(void)
{
	struct port g, h, g2;
	static uint8_t f[HDR + 4096], in[8192];

	CHECK(legacy_regif(SW ":vm", 0, 0, &g) == 0);
	CHECK(g.mem_id >= 2); /* VALE ports get a private region */

	/* Headers: set on the bound descriptor, read back, bad input refused. */
	CHECK(legacy_cmd(g.fd, SW ":vm", NETMAP_VNET_HDR_GET, 0) == 0);
	CHECK(legacy_cmd(g.fd, SW ":vm", NETMAP_BDG_VNET_HDR, HDR) == HDR);
	CHECK(legacy_cmd(g.fd, SW ":vm", NETMAP_VNET_HDR_GET, 0) == HDR);
	CHECK(legacy_cmd(g.fd, SW ":vm", NETMAP_BDG_VNET_HDR, 7) == -1 && errno == EINVAL);
	CHECK(legacy_cmd(g.fd, SW ":vm", NETMAP_VNET_HDR_GET, 0) == HDR);
	CHECK(legacy_cmd(g.fd, SW ":nosuch", NETMAP_BDG_VNET_HDR, 10) == -1 && errno == ENXIO);
	CHECK(legacy_cmd(g.fd, "nosuch0", NETMAP_BDG_VNET_HDR, 10) == -1 && errno == ENXIO);

	/* The host side, in the guest's memory region (QEMU's nr_arg2). */
	CHECK(legacy_regif(SW ":host", g.mem_id, 0, &h) == 0);
	CHECK(h.mem_id == g.mem_id && h.memsize == g.memsize);
	CHECK(legacy_cmd(h.fd, SW ":host", NETMAP_VNET_HDR_GET, 0) == 0);

	/* Another opener of the guest port must accept the headers. */
	CHECK(legacy_regif(SW ":vm", 0, 0, &g2) == -1 && errno == EIO);
	CHECK(legacy_regif(SW ":vm", 0, NR_ACCEPT_VNET_HDR, &g2) == 0);
	munmap(g2.mem, g2.memsize);
	close(g2.fd);

	/* 1. A plain frame: the header goes. */
	memset(f, 0, HDR);
	eth_ip(f + HDR, 17, 8 + 100);
	for (unsigned i = 0; i < 108; i++)
		f[HDR + 34 + i] = (uint8_t)(i * 3);
	put16(f + HDR + 34 + 4, 108); /* UDP length; checksum 0: none */
	put16(f + HDR + 34 + 6, 0);
	send_frame(&g, f, HDR + 142);
	CHECK(recv_frame(&h, in, sizeof(in)) == 142);
	CHECK(memcmp(in, f + HDR, 142) == 0);

	/* 2. NEEDS_CSUM: the UDP checksum field holds the pseudo-header sum. */
	memset(f, 0, HDR);
	f[0] = 1;                /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
	f[6] = 34, f[7] = 0;     /* csum_start (little-endian) */
	f[8] = 6, f[9] = 0;      /* csum_offset */
	put16(f + HDR + 34 + 6, fold(pseudo(f + HDR + 14, 17, 108)));
	send_frame(&g, f, HDR + 142);
	CHECK(recv_frame(&h, in, sizeof(in)) == 142);
	CHECK(checksums_ok(in, 142));
	CHECK(memcmp(in + 42, f + HDR + 42, 100) == 0);

	/* 3. TCP GSO: 3500 payload bytes, gso_size 1000, over two slots. */
	const unsigned pay = 3500, mss = 1000, hl = 14 + 20 + 20;
	memset(f, 0, HDR);
	f[0] = 1;
	f[1] = 1;                                  /* VIRTIO_NET_HDR_GSO_TCPV4 */
	f[2] = (uint8_t)hl, f[3] = 0;              /* hdr_len */
	f[4] = (uint8_t)(mss & 0xff), f[5] = (uint8_t)(mss >> 8);
	f[6] = 34, f[8] = 16;                      /* csum_start, csum_offset */
	uint8_t *e = f + HDR;
	eth_ip(e, 6, 20 + pay);
	uint8_t *tcp = e + 34;
	memset(tcp, 0, 20);
	put16(tcp, 5555), put16(tcp + 2, 80);
	put16(tcp + 4, 0x0001), put16(tcp + 6, 0x0000); /* seq 0x00010000 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;                            /* PSH, ACK */
	put16(tcp + 14, 65535);
	for (unsigned i = 0; i < pay; i++)
		e[hl + i] = (uint8_t)(i * 7 + 1);
	put16(tcp + 16, fold(pseudo(e + 14, 6, 20 + pay)));
	send_frame(&g, f, HDR + hl + pay);
	for (unsigned k = 0; k < 4; k++) {
		unsigned seg = k < 3 ? mss : pay - 3 * mss;
		unsigned len = recv_frame(&h, in, sizeof(in));
		CHECK(len == hl + seg);
		CHECK(checksums_ok(in, len));
		uint32_t seq = (uint32_t)be16(in + 38) << 16 | be16(in + 40);
		CHECK(seq == 0x00010000u + k * mss);
		CHECK(((in[47] & 0x08) != 0) == (k == 3)); /* PSH on the last only */
		CHECK(memcmp(in + hl, e + hl + k * mss, seg) == 0);
	}
	CHECK(nothing_pending(&h));

	/* 4. Host -> guest: a zeroed header is added. */
	uint8_t back[60];
	memcpy(back, guest_mac, 6);
	memcpy(back + 6, host_mac, 6);
	put16(back + 12, 0x88b5);
	for (unsigned i = 14; i < sizeof(back); i++)
		back[i] = (uint8_t)i;
	send_frame(&h, back, sizeof(back));
	CHECK(recv_frame(&g, in, sizeof(in)) == HDR + sizeof(back));
	for (unsigned i = 0; i < HDR; i++)
		CHECK(in[i] == 0);
	CHECK(memcmp(in + HDR, back, sizeof(back)) == 0);
	CHECK(nothing_pending(&g));

	/* Back to no header: frames pass unchanged again. */
	CHECK(legacy_cmd(g.fd, SW ":vm", NETMAP_BDG_VNET_HDR, 0) == 0);
	send_frame(&h, back, sizeof(back));
	CHECK(recv_frame(&g, in, sizeof(in)) == sizeof(back));
	CHECK(memcmp(in, back, sizeof(back)) == 0);

	munmap(h.mem, h.memsize);
	close(h.fd);
	munmap(g.mem, g.memsize);
	close(g.fd);
	printf("qemu_vnet: ok\n");
	return 0;
}
