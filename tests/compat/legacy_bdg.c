/*
 * The legacy VALE control commands, as old vale-ctl and older hypervisor
 * backends issue them: NIOCREGIF with nr_cmd = NETMAP_BDG_NEWIF, _ATTACH,
 * _DETACH, _DELIF, _POLLING_ON, NETMAP_POOLS_INFO_GET, and NIOCGINFO with
 * nr_cmd = NETMAP_BDG_LIST (enumeration by nr_arg1/nr_arg2 with the names
 * filled in, and lookup by name).  A persistent port created and attached
 * that way carries frames; every refusal has its errno (REGOPS and unknown
 * commands EINVAL, ptnetmap EOPNOTSUPP, polling on a port that is no
 * interface EOPNOTSUPP).  Raw API only: also run under LD_PRELOAD.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <net/netmap_user.h>

#include "compat.h"

static void
init_req(struct nmreq *req, const char *name, uint16_t cmd)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->nr_name, sizeof(req->nr_name), "%s", name);
	req->nr_version = NETMAP_API;
	req->nr_cmd = cmd;
}

static int
cmd(int fd, const char *name, uint16_t c)
{
	struct nmreq req;
	init_req(&req, name, c);
	return ioctl(fd, NIOCREGIF, &req);
}

struct port {
	int fd;
	void *mem;
	uint32_t memsize;
	struct netmap_if *nifp;
};

static void
open_port(const char *name, struct port *p)
{
	struct nmreq req;
	init_req(&req, name, 0);
	req.nr_flags = NR_REG_ALL_NIC;
	p->fd = open("/dev/netmap", O_RDWR);
	CHECK(p->fd >= 0);
	CHECK(ioctl(p->fd, NIOCREGIF, &req) == 0);
	p->memsize = req.nr_memsize;
	p->mem = mmap(NULL, p->memsize, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	CHECK(p->mem != MAP_FAILED);
	p->nifp = NETMAP_IF(p->mem, req.nr_offset);
}

static void
close_port(struct port *p)
{
	munmap(p->mem, p->memsize);
	close(p->fd);
}

int
main(void)
{
	int fd = open("/dev/netmap", O_RDWR);
	CHECK(fd >= 0);
	struct nmreq req;

	/* A persistent port with 2 RX rings of 256 slots. */
	init_req(&req, "lb0", NETMAP_BDG_NEWIF);
	req.nr_rx_rings = 2;
	req.nr_rx_slots = 256;
	CHECK(ioctl(fd, NIOCREGIF, &req) == 0);
	CHECK(req.nr_rx_rings == 2 && req.nr_rx_slots == 256 && req.nr_arg2 >= 2);
	CHECK(cmd(fd, "lb0", NETMAP_BDG_NEWIF) == -1 && errno == EEXIST);
	CHECK(cmd(fd, "valeb:lb0", NETMAP_BDG_ATTACH) == 0);

	struct port e1, lb;
	open_port("valeb:e1", &e1);

	/* Enumerate: names come back in nr_name. */
	char names[4][IFNAMSIZ];
	unsigned sw[4], idx[4], n = 0;
	init_req(&req, "", NETMAP_BDG_LIST);
	while (ioctl(fd, NIOCGINFO, &req) == 0) {
		CHECK(n < 4 && req.nr_name[0] != '\0');
		memcpy(names[n], req.nr_name, IFNAMSIZ);
		sw[n] = req.nr_arg1, idx[n] = req.nr_arg2;
		n++;
		req.nr_name[0] = '\0';
		req.nr_arg2++;
	}
	CHECK(errno == ENOENT);
	CHECK(n == 2 && sw[0] == sw[1] && idx[0] != idx[1]);
	unsigned at_e1 = strcmp(names[0], "valeb:e1") == 0 ? 0 : 1;
	CHECK(strcmp(names[at_e1], "valeb:e1") == 0 && strcmp(names[1 - at_e1], "valeb:lb0") == 0);
	/* Look one up by name. */
	init_req(&req, "valeb:e1", NETMAP_BDG_LIST);
	CHECK(ioctl(fd, NIOCGINFO, &req) == 0);
	CHECK(req.nr_arg1 == sw[at_e1] && req.nr_arg2 == idx[at_e1]);
	init_req(&req, "valez:e1", NETMAP_BDG_LIST);
	CHECK(ioctl(fd, NIOCGINFO, &req) == -1 && errno == ENOENT);

	/* POOLS_INFO_GET: a pointer in nr_arg1..nr_arg3. */
	struct netmap_pools_info pi;
	memset(&pi, 0, sizeof(pi));
	init_req(&req, "valeb:e1", NETMAP_POOLS_INFO_GET);
	uint64_t where = (uint64_t)(uintptr_t)&pi;
	memcpy(&req.nr_arg1, &where, sizeof(where));
	CHECK(ioctl(fd, NIOCREGIF, &req) == 0);
	CHECK(pi.memsize == e1.memsize && pi.buf_pool_objtotal > 0 && pi.buf_pool_objsize == 2048);
	/* No name: the global region's pools (fuzz_legacy_nmreq found UB on
	 * this path, a memcpy from the empty name's null pointer). */
	memset(&pi, 0, sizeof(pi));
	init_req(&req, "", NETMAP_POOLS_INFO_GET);
	memcpy(&req.nr_arg1, &where, sizeof(where));
	CHECK(ioctl(fd, NIOCREGIF, &req) == 0);
	CHECK(pi.memid == 1 && pi.memsize > 0 && pi.buf_pool_objtotal > 0);

	/* Frames from e1 reach the attached persistent port. */
	open_port("valeb:lb0", &lb);
	struct netmap_ring *tx = NETMAP_TXRING(e1.nifp, 0);
	for (unsigned i = 0; i < 100; i++) {
		struct netmap_slot *s = &tx->slot[tx->head];
		unsigned char *b = (unsigned char *)NETMAP_BUF(tx, s->buf_idx);
		fill_frame(b, i, 64);
		memset(b, 0xff, 6); /* broadcast */
		s->len = 64;
		tx->head = tx->cur = nm_ring_next(tx, tx->head);
	}
	CHECK(ioctl(e1.fd, NIOCTXSYNC, NULL) == 0);
	struct netmap_ring *rx = NETMAP_RXRING(lb.nifp, 0);
	CHECK(ioctl(lb.fd, NIOCRXSYNC, NULL) == 0);
	CHECK(nm_ring_space(rx) == 100);
	for (unsigned i = 0; i < 100; i++) {
		struct netmap_slot *s = &rx->slot[rx->cur];
		unsigned char want[64];
		fill_frame(want, i, 64);
		memset(want, 0xff, 6);
		CHECK(s->len == 64 && memcmp(NETMAP_BUF(rx, s->buf_idx), want, 64) == 0);
		rx->head = rx->cur = nm_ring_next(rx, rx->cur);
	}

	/* Refusals. */
	CHECK(cmd(fd, "valeb:lb0", NETMAP_BDG_POLLING_ON) == -1 && errno == EOPNOTSUPP);
	CHECK(cmd(fd, "valeb:nosuch", NETMAP_BDG_POLLING_ON) == -1 && errno == ENXIO);
	CHECK(cmd(fd, "nosuch0", NETMAP_BDG_POLLING_ON) == -1 && errno == EINVAL);
	CHECK(cmd(fd, "valeb:lb0", NETMAP_BDG_REGOPS) == -1 && errno == EINVAL);
	CHECK(cmd(fd, "valeb:lb0", 99) == -1 && errno == EINVAL);
	CHECK(cmd(fd, "valeb:lb0", NETMAP_PT_HOST_CREATE) == -1 && errno == EOPNOTSUPP);
	CHECK(cmd(fd, "lb0", NETMAP_BDG_DELIF) == -1 && errno == EBUSY); /* attached */

	/* Undo: detach, delete. */
	close_port(&lb);
	CHECK(cmd(fd, "valeb:lb0", NETMAP_BDG_DETACH) == 0);
	CHECK(cmd(fd, "valeb:lb0", NETMAP_BDG_DETACH) == -1 && errno != 0);
	CHECK(cmd(fd, "lb0", NETMAP_BDG_DELIF) == 0);
	CHECK(cmd(fd, "lb0", NETMAP_BDG_DELIF) == -1 && errno == ENXIO);
	init_req(&req, "", NETMAP_BDG_LIST);
	CHECK(ioctl(fd, NIOCGINFO, &req) == 0 && strcmp(req.nr_name, "valeb:e1") == 0);
	close_port(&e1);
	init_req(&req, "", NETMAP_BDG_LIST);
	CHECK(ioctl(fd, NIOCGINFO, &req) == -1 && errno == ENOENT);
	close(fd);
	printf("legacy_bdg: ok\n");
	return 0;
}
