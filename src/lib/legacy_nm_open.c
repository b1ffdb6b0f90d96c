/*
 * Legacy pcap-like open API: nm_open(), nm_close(), nm_mmap().
 *
 * Upstream defines these as static functions inside net/netmap_user.h; in
 * unetmap that header only declares them and they live here, with
 * upstream's signatures and behaviour.  As upstream's current nm_open()
 * does, this registers with the legacy NIOCREGIF ioctl and a struct nmreq
 * (not NIOCCTRL), so pipes are requested the legacy way: "x{N" / "x}N"
 * become nr_flags NR_REG_PIPE_MASTER / NR_REG_PIPE_SLAVE with N in
 * nr_ringid, and netmap turns that back into the pipe name "x{N".
 *
 * Written in C: struct nm_desc has const-qualified pointer members that are
 * filled in after allocation, which C allows for allocated storage.
 */
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define NM_LEGACY_ERRLEN 128

static void
legacy_err(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, NM_LEGACY_ERRLEN, fmt, ap);
	va_end(ap);
}

static int
legacy_is_ident(const char *b, const char *e)
{
	for (; b != e; b++)
		if (!isalnum((unsigned char)*b) && *b != '_')
			return 0;
	return 1;
}

enum legacy_state { L_START, L_SUFFIX_OK, L_NUM, L_FLAGS, L_FLAGS_OK, L_MEMID };

/*
 * Decodes "netmap:ifname[mode]" or "valeX:port[mode]" into d->req: nr_name,
 * and OR-ed into what the caller's nmreq had: the NR_REG_* mode and flags
 * (nr_flags) and the ring number (nr_ringid); nr_arg2 is set to the memory
 * id ("@N"), 0 if none.  The legacy grammar: ^ * -N {N }N, /xztrRT, @N.
 */
static int
legacy_parse(const char *ifname, struct nm_desc *d, char *err)
{
	const char *name, *scan;
	size_t namelen;
	uint32_t nr_flags = NR_REG_ALL_NIC, nr_ringid = 0;
	uint16_t memid = 0;
	enum legacy_state st = L_START;

	if (ifname[0] == 'v') {		/* valeX:port, kept whole */
		const char *colon = strchr(ifname, ':');

		if (colon == NULL) {
			legacy_err(err, "missing ':' in vale name");
			return -1;
		}
		if (!legacy_is_ident(ifname + strlen(NM_BDG_NAME), colon)) {
			legacy_err(err, "invalid bridge name");
			return -1;
		}
		name = ifname;
		scan = colon + 1;
		while (*scan && !strchr("-*^{}/@", *scan))
			scan++;
		if (!legacy_is_ident(colon + 1, scan)) {
			legacy_err(err, "invalid bridge port name");
			return -1;
		}
	} else {			/* netmap:ifname, "netmap:" dropped */
		name = ifname + strlen("netmap:");
		scan = name;
		while (*scan && !strchr("-*^{}/@", *scan))
			scan++;
	}
	namelen = (size_t)(scan - name);
	if (namelen == 0) {
		legacy_err(err, "empty port name");
		return -1;
	}
	if (namelen >= sizeof(d->req.nr_name)) {
		legacy_err(err, "name too long");
		return -1;
	}

	while (*scan) {
		long num;
		char *end;

		switch (st) {
		case L_START:
			switch (*scan) {
			case '^': nr_flags = NR_REG_SW; st = L_SUFFIX_OK; break;
			case '*': nr_flags = NR_REG_NIC_SW; st = L_SUFFIX_OK; break;
			case '-': nr_flags = NR_REG_ONE_NIC; st = L_NUM; break;
			case '{': nr_flags = NR_REG_PIPE_MASTER; st = L_NUM; break;
			case '}': nr_flags = NR_REG_PIPE_SLAVE; st = L_NUM; break;
			case '/': st = L_FLAGS; break;
			case '@': st = L_MEMID; break;
			default:
				legacy_err(err, "unknown modifier: '%c'", *scan);
				return -1;
			}
			scan++;
			break;
		case L_SUFFIX_OK:
			switch (*scan) {
			case '/': st = L_FLAGS; break;
			case '@': st = L_MEMID; break;
			default:
				legacy_err(err, "unexpected character: '%c'", *scan);
				return -1;
			}
			scan++;
			break;
		case L_NUM:
			if (!isdigit((unsigned char)*scan)) {
				legacy_err(err, "got '%s' while expecting a number", scan);
				return -1;
			}
			errno = 0;
			num = strtol(scan, &end, 10);
			if (errno != 0 || num < 0 || num >= NETMAP_RING_MASK) {
				legacy_err(err, "'%s' out of range [0, %d)", scan,
				    NETMAP_RING_MASK);
				errno = 0;
				return -1;
			}
			scan = end;
			nr_ringid = (uint32_t)num;
			st = L_SUFFIX_OK;
			break;
		case L_FLAGS:
		case L_FLAGS_OK:
			switch (*scan) {
			case '@': st = L_MEMID; scan++; continue;
			case 'x': nr_flags |= NR_EXCLUSIVE; break;
			case 'z': nr_flags |= NR_ZCOPY_MON; break;
			case 't': nr_flags |= NR_MONITOR_TX; break;
			case 'r': nr_flags |= NR_MONITOR_RX; break;
			case 'R': nr_flags |= NR_RX_RINGS_ONLY; break;
			case 'T': nr_flags |= NR_TX_RINGS_ONLY; break;
			default:
				legacy_err(err, "unrecognized flag: '%c'", *scan);
				return -1;
			}
			scan++;
			st = L_FLAGS_OK;
			break;
		case L_MEMID:
			if (memid != 0) {
				legacy_err(err, "double setting of memid");
				return -1;
			}
			errno = 0;
			num = isdigit((unsigned char)*scan) ?
			    strtol(scan, &end, 10) : 0;
			if (errno != 0 || num <= 0 || num > UINT16_MAX) {
				legacy_err(err, "invalid memid '%s', must be >0", scan);
				errno = 0;
				return -1;
			}
			scan = end;
			memid = (uint16_t)num;
			st = L_SUFFIX_OK;
			break;
		}
	}
	if (st != L_START && st != L_SUFFIX_OK && st != L_FLAGS_OK) {
		legacy_err(err, "unexpected end of port name");
		return -1;
	}

	memcpy(d->req.nr_name, name, namelen);
	d->req.nr_name[namelen] = '\0';
	d->req.nr_flags |= nr_flags;
	d->req.nr_ringid |= nr_ringid;
	d->req.nr_arg2 = memid;
	return 0;
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
		errno = 0;
		if (legacy_parse(ifname, d, err) < 0)
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
