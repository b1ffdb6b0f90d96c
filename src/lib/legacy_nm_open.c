/*
 * Legacy pcap-like open API: nm_open(), nm_close(), nm_mmap().
 *
 * Upstream defines these as static functions inside net/netmap_user.h; in
 * unetmap that header only declares them and they live here, with
 * upstream's signatures and behaviour.  As upstream's current nm_open()
 * does, this registers with the legacy NIOCREGIF ioctl and a struct nmreq
 * (not NIOCCTRL).  The name is decoded by nm_parse() from the header, so
 * pipes are requested the legacy way: "x{N" / "x}N" become nr_flags
 * NR_REG_PIPE_MASTER / NR_REG_PIPE_SLAVE with N in nr_ringid, and netmap
 * turns that back into the pipe name "x{N".
 *
 * Written in C: struct nm_desc has const-qualified pointer members that are
 * filled in after allocation, which C allows for allocated storage.
 */
#define NETMAP_WITH_LIBS
/* GCC's -Wstringop-truncation misfires on nm_parse()'s deliberate
 * truncating strncpy() of the error message once inlined here. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#endif
#include <net/netmap_user.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* error text; nm_parse() writes at most MAXERRMSG bytes into it */
#define NM_LEGACY_ERRLEN (MAXERRMSG > 128 ? MAXERRMSG : 128)

static void
legacy_err(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, NM_LEGACY_ERRLEN, fmt, ap);
	va_end(ap);
}

/* store into a const-qualified member of an allocated nm_desc */
#define SET_CONST_FIELD(d, field, value)				\
	do {								\
		__typeof__((d)->field) v_ = (value);			\
		memcpy((void *)&(d)->field, &v_, sizeof(v_));		\
	} while (0)

int
nm_mmap(struct nm_desc *d, const struct nm_desc *parent)
{
	struct netmap_if *nifp;
	struct netmap_ring *r;

	if (d->done_mmap)
		return 0;

	if (IS_NETMAP_DESC(parent) && parent->mem &&
	    parent->req.nr_arg2 == d->req.nr_arg2) {
		/* same memory region as the parent: use its mapping */
		d->memsize = parent->memsize;
		d->mem = parent->mem;
	} else {
		d->memsize = d->req.nr_memsize;
		d->mem = mmap(NULL, d->req.nr_memsize, PROT_READ | PROT_WRITE,
		    MAP_SHARED, d->fd, 0);
		if (d->mem == MAP_FAILED) {
			d->mem = NULL;
			return EINVAL;	/* upstream returns EINVAL, not -1 */
		}
		d->done_mmap = 1;
	}

	nifp = NETMAP_IF(d->mem, d->req.nr_offset);
	r = NETMAP_RXRING(nifp, d->first_rx_ring);
	if ((void *)r == (void *)nifp)	/* no rx ring bound: tx only */
		r = NETMAP_TXRING(nifp, d->first_tx_ring);
	SET_CONST_FIELD(d, nifp, nifp);
	SET_CONST_FIELD(d, some_ring, r);
	SET_CONST_FIELD(d, buf_start, (void *)NETMAP_BUF(r, 0));
	SET_CONST_FIELD(d, buf_end, (void *)((char *)d->mem + d->memsize));
	return 0;
}

int
nm_close(struct nm_desc *d)
{
	if (d == NULL || d->self != d)
		return EINVAL;
	if (d->done_mmap && d->mem)
		munmap(d->mem, d->memsize);
	if (d->fd != -1)
		close(d->fd);
	memset(d, 0, sizeof(*d));
	free(d);
	return 0;
}

struct nm_desc *
nm_open(const char *ifname, const struct nmreq *req, uint64_t new_flags,
    const struct nm_desc *arg)
{
	const struct nm_desc *parent = arg;
	struct nm_desc *d;
	char err[NM_LEGACY_ERRLEN] = "";
	uint32_t nr_reg;

	if (strncmp(ifname, "netmap:", 7) != 0 &&
	    strncmp(ifname, NM_BDG_NAME, strlen(NM_BDG_NAME)) != 0) {
		errno = 0;	/* not a netmap name: not an error (libpcap) */
		return NULL;
	}

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	d->self = d;		/* from here on nm_close(d) works */
	d->fd = open("/dev/netmap", O_RDWR);
	if (d->fd < 0) {
		legacy_err(err, "cannot open /dev/netmap: %s", strerror(errno));
		goto fail;
	}

	if (req != NULL)
		d->req = *req;

	if (!(new_flags & NM_OPEN_IFNAME)) {
		/* nm_parse() (inline in net/netmap_user.h, as upstream) */
		if (nm_parse(ifname, d, err) < 0)
			goto fail;
	}

	d->req.nr_version = NETMAP_API;
	d->req.nr_ringid &= NETMAP_RING_MASK;

	if (IS_NETMAP_DESC(parent) && new_flags) {
		/* take some of the request from the parent descriptor */
		d->req.nr_arg1 = (new_flags & NM_OPEN_ARG1) ?
		    parent->req.nr_arg1 : 4;
		if (new_flags & NM_OPEN_ARG2)
			d->req.nr_arg2 = parent->req.nr_arg2;
		d->req.nr_arg3 = (new_flags & NM_OPEN_ARG3) ?
		    parent->req.nr_arg3 : 0;
		if (new_flags & NM_OPEN_RING_CFG) {
			d->req.nr_tx_slots = parent->req.nr_tx_slots;
			d->req.nr_rx_slots = parent->req.nr_rx_slots;
			d->req.nr_tx_rings = parent->req.nr_tx_rings;
			d->req.nr_rx_rings = parent->req.nr_rx_rings;
		}
		if (new_flags & NM_OPEN_IFNAME) {
			memcpy(d->req.nr_name, parent->req.nr_name,
			    sizeof(d->req.nr_name));
			d->req.nr_ringid = parent->req.nr_ringid;
			d->req.nr_flags = parent->req.nr_flags;
		}
	}
	/* NETMAP_NO_TX_POLL / NETMAP_DO_RX_POLL may come with the flags */
	d->req.nr_ringid |= new_flags & (NETMAP_NO_TX_POLL | NETMAP_DO_RX_POLL);

	if (ioctl(d->fd, NIOCREGIF, &d->req) != 0) {
		legacy_err(err, "NIOCREGIF failed: %s", strerror(errno));
		goto fail;
	}

	nr_reg = d->req.nr_flags & NR_REG_MASK;
	switch (nr_reg) {
	case NR_REG_SW:		/* the host ring pair follows the NIC rings */
		d->first_tx_ring = d->last_tx_ring = d->req.nr_tx_rings;
		d->first_rx_ring = d->last_rx_ring = d->req.nr_rx_rings;
		break;
	case NR_REG_ALL_NIC:
		d->first_tx_ring = d->first_rx_ring = 0;
		d->last_tx_ring = d->req.nr_tx_rings - 1;
		d->last_rx_ring = d->req.nr_rx_rings - 1;
		break;
	case NR_REG_NIC_SW:
		d->first_tx_ring = d->first_rx_ring = 0;
		d->last_tx_ring = d->req.nr_tx_rings;
		d->last_rx_ring = d->req.nr_rx_rings;
		break;
	case NR_REG_ONE_NIC:
		d->first_tx_ring = d->last_tx_ring =
		    d->first_rx_ring = d->last_rx_ring =
		    d->req.nr_ringid & NETMAP_RING_MASK;
		break;
	default:		/* pipes: one ring pair */
		d->first_tx_ring = d->last_tx_ring = 0;
		d->first_rx_ring = d->last_rx_ring = 0;
		break;
	}

	/* a parent means "map (or share) now", even with NM_OPEN_NO_MMAP */
	if ((!(new_flags & NM_OPEN_NO_MMAP) || parent) && nm_mmap(d, parent)) {
		legacy_err(err, "mmap failed: %s", strerror(errno));
		goto fail;
	}

	d->cur_tx_ring = d->first_tx_ring;
	d->cur_rx_ring = d->first_rx_ring;
	return d;

fail:
	{
		int e = errno;

		nm_close(d);
		if (err[0] != '\0')
			fprintf(stderr, "nm_open: %s (%s)\n", err, ifname);
		errno = e != 0 ? e : EINVAL;
	}
	return NULL;
}
