/*
 * unetmap - userspace reimplementation of the netmap API.
 *
 * net/netmap_user.h: helpers for netmap applications.
 *
 *  - address arithmetic on the shared region: NETMAP_IF, NETMAP_TXRING,
 *    NETMAP_RXRING, NETMAP_BUF, NETMAP_BUF_IDX and the API-14 buffer
 *    offset accessors NETMAP_ROFFSET / NETMAP_WOFFSET / NETMAP_BUF_OFFSET;
 *  - ring index helpers: nm_ring_next, nm_ring_space, nm_tx_pending
 *    (nm_ring_empty lives in net/netmap.h);
 *  - nm_pkt_copy and the ND/D/RD logging macros;
 *  - with NETMAP_WITH_LIBS defined before inclusion, the pcap-like
 *    helpers: struct nm_desc, nm_open/nm_close/nm_mmap (implemented in
 *    libnetmap of unetmap) and nm_inject/nm_dispatch/nm_nextpkt/nm_parse
 *    (inline here).
 *
 * Names, signatures and struct layouts match upstream netmap's API-14
 * <net/netmap_user.h> (Linux/x86_64), checked by tests/abi.
 *
 * Plain C (C99 or later); also usable from C++.
 */
#ifndef _NET_NETMAP_USER_H_
#define _NET_NETMAP_USER_H_

/* Path of the netmap control device. */
#define NETMAP_DEVICE_NAME "/dev/netmap"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>		/* struct timeval, gettimeofday */
#ifndef IFNAMSIZ
#include <net/if.h>		/* IFNAMSIZ */
#endif
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>		/* fprintf (D, RD) */
#include <string.h>		/* memcpy */

/* Branch prediction hints, also used by the inline helpers below. */
#ifndef likely
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif

#include "netmap.h"

/* Pointer 'ptr' moved by 'offset' bytes, as type 'type'. */
#define _NETMAP_OFFSET(type, ptr, offset) \
	((type)(void *)((char *)(ptr) + (offset)))

/* The netmap_if at offset _ofs (nr_offset) of the region at _base. */
#define NETMAP_IF(_base, _ofs)	_NETMAP_OFFSET(struct netmap_if *, _base, _ofs)

/*
 * Ring number 'index' among the tx rings (NIC rings first, then host
 * rings) and among the rx rings, which follow all the tx rings in
 * ring_ofs[].
 */
#define NETMAP_TXRING(nifp, index)					\
	_NETMAP_OFFSET(struct netmap_ring *, nifp, (nifp)->ring_ofs[index])

#define NETMAP_RXRING(nifp, index)					\
	_NETMAP_OFFSET(struct netmap_ring *, nifp,			\
	    (nifp)->ring_ofs[(index) + (nifp)->ni_tx_rings +		\
		(nifp)->ni_host_tx_rings])

/* Address of buffer 'index' of the region 'ring' belongs to. */
#define NETMAP_BUF(ring, index)						\
	((char *)(ring) + (ring)->buf_ofs +				\
	    ((size_t)(index) * (ring)->nr_buf_size))

/* Inverse of NETMAP_BUF: index of the buffer starting at 'buf'. */
#define NETMAP_BUF_IDX(ring, buf)					\
	(((char *)(buf) - ((char *)(ring) + (ring)->buf_ofs)) /		\
	    (ring)->nr_buf_size)

/* Buffer offset stored in the low bits of slot->ptr (API 14 offsets). */
#define NETMAP_ROFFSET(ring, slot)	((slot)->ptr & (ring)->offset_mask)

/* Store 'offset' in slot->ptr, keeping the bits outside offset_mask. */
#define NETMAP_WOFFSET(ring, slot, offset)				\
	do {								\
		(slot)->ptr = ((slot)->ptr & ~(ring)->offset_mask) |	\
		    ((offset) & (ring)->offset_mask);			\
	} while (0)

/* Start of the packet data of 'slot': its buffer plus its offset. */
#define NETMAP_BUF_OFFSET(ring, slot)					\
	(NETMAP_BUF(ring, (slot)->buf_idx) + NETMAP_ROFFSET(ring, slot))

/* Slot index after i, wrapping at num_slots. */
static inline uint32_t
nm_ring_next(struct netmap_ring *r, uint32_t i)
{
	return unlikely(i + 1 == r->num_slots) ? 0 : i + 1;
}

/*
 * Non-zero while a tx ring still has packets the kernel side has not
 * completed; when all are done, head == tail + 1 (mod num_slots).
 */
static inline int
nm_tx_pending(struct netmap_ring *r)
{
	return nm_ring_next(r, r->tail) != r->head;
}

/* Number of slots the application owns: from head up to tail. */
static inline uint32_t
nm_ring_space(struct netmap_ring *ring)
{
	int space = (int)ring->tail - (int)ring->head;

	if (space < 0)
		space += (int)ring->num_slots;
	return (uint32_t)space;
}

/*
 * Logging: ND() compiles to nothing, D() prints a timestamped line with
 * function and line to stderr, RD(lps, ...) is D() limited to 'lps'
 * lines per second at each call site.
 */
#ifndef ND
#define ND(_fmt, ...)	do {} while (0)
#define D(_fmt, ...)							\
	do {								\
		struct timeval _nm_d_now;				\
		gettimeofday(&_nm_d_now, NULL);				\
		fprintf(stderr, "%03d.%06d %s [%d] " _fmt "\n",		\
		    (int)(_nm_d_now.tv_sec % 1000),			\
		    (int)_nm_d_now.tv_usec, __func__, __LINE__,		\
		    ##__VA_ARGS__);					\
	} while (0)
#define RD(lps, _fmt, ...)						\
	do {								\
		static int _nm_rd_sec, _nm_rd_cnt;			\
		struct timeval _nm_rd_now;				\
		gettimeofday(&_nm_rd_now, NULL);			\
		if (_nm_rd_sec != _nm_rd_now.tv_sec) {			\
			_nm_rd_sec = (int)_nm_rd_now.tv_sec;		\
			_nm_rd_cnt = 0;					\
		}							\
		if (_nm_rd_cnt++ < (lps))				\
			D(_fmt, ##__VA_ARGS__);				\
	} while (0)
#endif /* ND */

/*
 * Copy l bytes from _src to _dst. Lengths that are a multiple of 64 and
 * below 1024 are copied in 64-byte blocks of 8-byte words, anything else
 * through memcpy. Both buffers must be 8-byte aligned for the block path
 * (netmap buffers are).
 */
static inline void
nm_pkt_copy(const void *_src, void *_dst, int l)
{
	const uint64_t *src = (const uint64_t *)_src;
	uint64_t *dst = (uint64_t *)_dst;
	int k;

	if (unlikely(l >= 1024 || l % 64 != 0)) {
		if (l > 0)
			memcpy(dst, src, (size_t)l);
		return;
	}
	for (; likely(l > 0); l -= 64) {
		for (k = 0; k < 8; k++)
			*dst++ = *src++;
	}
}

#ifdef NETMAP_WITH_LIBS
#ifndef HAVE_NETMAP_WITH_LIBS
#define HAVE_NETMAP_WITH_LIBS

/*
 * pcap-like convenience layer. Headers that upstream makes available
 * here are included too, since programs rely on them.
 */
#include <errno.h>
#include <fcntl.h>		/* O_RDWR */
#include <signal.h>
#include <stdlib.h>		/* strtol */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* struct nmreq is needed even when NETMAP_NO_LEGACY was defined. */
#include "netmap_legacy.h"

struct nm_desc;

/* Per-packet metadata handed to callbacks; starts like pcap_pkthdr. */
struct nm_pkthdr {
	struct timeval	ts;		/* ring timestamp */
	uint32_t	caplen;		/* bytes contiguous at buf */
	uint32_t	len;		/* total packet length */

	uint64_t	flags;		/* NM_MORE_PKTS */
#define NM_MORE_PKTS	1		/* more packets follow in this batch */
	struct nm_desc	*d;		/* descriptor the packet came from */
	struct netmap_slot *slot;	/* first slot of the packet */
	uint8_t		*buf;		/* packet data */
};

/* Counters, as in pcap_stat. */
struct nm_stat {
	unsigned int	ps_recv;
	unsigned int	ps_drop;
	unsigned int	ps_ifdrop;
};

#define NM_ERRBUF_SIZE	512

/* An open netmap port, as returned by nm_open(). */
struct nm_desc {
	struct nm_desc	*self;		/* == itself while valid */
	int		fd;		/* the netmap file descriptor */
	void		*mem;		/* start of the mapped region */
	size_t		memsize;	/* its size */
	int		done_mmap;	/* mem was mmap()ed by this descriptor */
	struct netmap_if * const nifp;	/* the port's netmap_if */
	uint16_t	first_tx_ring, last_tx_ring, cur_tx_ring;
	uint16_t	first_rx_ring, last_rx_ring, cur_rx_ring;
	struct nmreq	req;		/* registration request/reply */
	struct nm_pkthdr hdr;		/* scratch header for nm_dispatch */

	/*
	 * Any ring of the port (to turn buffer indexes into addresses) and
	 * the bounds of the buffer area, to tell buffers from metadata.
	 */
	struct netmap_ring * const some_ring;
	void * const	buf_start;
	void * const	buf_end;

	/* pcap_open_live() style parameters */
	int		snaplen;
	int		promisc;
	int		to_ms;
	char		*errbuf;

	/* interface state saved at open, restored at close */
	uint32_t	if_flags;
	uint32_t	if_reqcap;
	uint32_t	if_curcap;

	struct nm_stat	st;
	char		msg[NM_ERRBUF_SIZE];
};

/* Descriptor checks and accessors (d->self == d once opened). */
#define P2NMD(p)		((const struct nm_desc *)(p))
#define IS_NETMAP_DESC(d)	((d) && P2NMD(d)->self == P2NMD(d))
#define NETMAP_FD(d)		(P2NMD(d)->fd)

/* Per-packet callback of nm_dispatch(), shaped like pcap_handler. */
typedef void (*nm_cb_t)(unsigned char *, const struct nm_pkthdr *,
    const unsigned char *d);

/*
 * nm_open() flags (the low 16 bits are reserved for nmreq bits such as
 * NETMAP_NO_TX_POLL / NETMAP_DO_RX_POLL). The NM_OPEN_* bits select what
 * is copied from the 'arg' (parent) descriptor.
 */
enum {
	NM_OPEN_NO_MMAP		= 0x040000,	/* share the parent's mapping */
	NM_OPEN_IFNAME		= 0x080000,	/* nr_name, nr_ringid, nr_flags */
	NM_OPEN_ARG1		= 0x100000,
	NM_OPEN_ARG2		= 0x200000,
	NM_OPEN_ARG3		= 0x400000,
	NM_OPEN_RING_CFG	= 0x800000	/* ring and slot counts */
};

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Open port 'ifname' ("netmap:IF[suffix]" or "valeX:Y[suffix]"), bind
 * it and map its memory. 'req' gives initial nmreq values, 'flags' the
 * NM_OPEN_* / poll bits, 'arg' an optional parent descriptor. Returns
 * NULL on failure (errno 0 if the name is not a netmap name).
 */
struct nm_desc *nm_open(const char *ifname, const struct nmreq *req,
    uint64_t flags, const struct nm_desc *arg);

/* Unmap (if mapped here), close and free a descriptor. */
int nm_close(struct nm_desc *d);

/* Map the port's memory, or reuse the parent's if it is the same region. */
int nm_mmap(struct nm_desc *d, const struct nm_desc *parent);

#ifdef __cplusplus
}
#endif

/* Non-zero if [s, e) holds only letters, digits and '_'. */
static inline int
nm_is_identifier(const char *s, const char *e)
{
	for (; s != e; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	}
	return 1;
}

#ifndef MAXERRMSG
#define MAXERRMSG	80
#endif

/*
 * Parse a port name into d->req (nr_name, nr_ringid, nr_flags, nr_arg2)
 * and set d->self. Accepted forms:
 *   netmap:IF  or  valeBRIDGE:PORT   (bridge/port: letters, digits, '_')
 * followed by an optional ring selector
 *   ^     host rings          *   NIC and host rings
 *   -N    NIC ring pair N     {N / }N   pipe N, master / slave end
 * then optional "/" flags (x exclusive, z zero-copy monitor, t/r monitor
 * tx/rx, R/T rx/tx rings only) and "@N" memory region id (N > 0).
 * On error returns -1 with errno set and, if err != NULL, a message of at
 * most MAXERRMSG bytes in err.
 */
static inline int
nm_parse(const char *ifname, struct nm_desc *d, char *err)
{
	enum { S_NAME_DONE, S_AFTER_RINGS, S_NUMBER, S_FLAGS, S_FLAGS_OK,
	    S_MEMID } state = S_NAME_DONE;
	const char *name = ifname;
	const char *p;
	char *endp;
	char msg[MAXERRMSG];
	uint32_t mode = NR_REG_ALL_NIC;	/* no selector: all NIC rings */
	uint32_t ringid = 0;
	uint16_t memid = 0;
	size_t namelen;
	long num;

	msg[0] = '\0';
	errno = 0;

	if (strncmp(ifname, NM_BDG_NAME, strlen(NM_BDG_NAME)) == 0) {
		const char *colon = strchr(ifname, ':');
		const char *portname;

		if (colon == NULL) {
			snprintf(msg, sizeof(msg), "missing ':' in vale name");
			goto fail;
		}
		if (!nm_is_identifier(ifname + strlen(NM_BDG_NAME), colon)) {
			snprintf(msg, sizeof(msg), "invalid bridge name");
			goto fail;
		}
		portname = colon + 1;
		for (p = portname; *p && !strchr("-*^{}/@", *p); p++)
			;
		if (!nm_is_identifier(portname, p)) {
			snprintf(msg, sizeof(msg), "invalid bridge port name");
			goto fail;
		}
	} else if (strncmp(ifname, "netmap:", 7) == 0) {
		name = ifname + 7;
		for (p = name; *p && !strchr("-*^{}/@", *p); p++)
			;
	} else {
		snprintf(msg, sizeof(msg), "not a netmap or vale port name");
		goto fail;
	}

	/* The kernel name: "valeX:Y" as given, or IF without "netmap:". */
	namelen = (size_t)(p - name);
	if (namelen >= sizeof(d->req.nr_name)) {
		snprintf(msg, sizeof(msg), "name too long");
		goto fail;
	}
	memcpy(d->req.nr_name, name, namelen);
	d->req.nr_name[namelen] = '\0';

	while (*p != '\0') {
		switch (state) {
		case S_NAME_DONE:
			switch (*p) {
			case '^':
				mode = NR_REG_SW;
				state = S_AFTER_RINGS;
				break;
			case '*':
				mode = NR_REG_NIC_SW;
				state = S_AFTER_RINGS;
				break;
			case '-':
				mode = NR_REG_ONE_NIC;
				state = S_NUMBER;
				break;
			case '{':
				mode = NR_REG_PIPE_MASTER;
				state = S_NUMBER;
				break;
			case '}':
				mode = NR_REG_PIPE_SLAVE;
				state = S_NUMBER;
				break;
			case '/':
				state = S_FLAGS;
				break;
			case '@':
				state = S_MEMID;
				break;
			default:
				snprintf(msg, sizeof(msg),
				    "unknown modifier: '%c'", *p);
				goto fail;
			}
			p++;
			break;
		case S_AFTER_RINGS:
			if (*p == '/') {
				state = S_FLAGS;
			} else if (*p == '@') {
				state = S_MEMID;
			} else {
				snprintf(msg, sizeof(msg),
				    "unexpected character: '%c'", *p);
				goto fail;
			}
			p++;
			break;
		case S_NUMBER:
			num = strtol(p, &endp, 10);
			if (num < 0 || num >= NETMAP_RING_MASK) {
				snprintf(msg, sizeof(msg),
				    "'%ld' out of range [0, %d)", num,
				    NETMAP_RING_MASK);
				goto fail;
			}
			p = endp;
			ringid = (uint32_t)num & NETMAP_RING_MASK;
			state = S_AFTER_RINGS;
			break;
		case S_FLAGS:
		case S_FLAGS_OK:
			switch (*p) {
			case '@':
				state = S_MEMID;
				p++;
				continue;
			case 'x':
				mode |= NR_EXCLUSIVE;
				break;
			case 'z':
				mode |= NR_ZCOPY_MON;
				break;
			case 't':
				mode |= NR_MONITOR_TX;
				break;
			case 'r':
				mode |= NR_MONITOR_RX;
				break;
			case 'R':
				mode |= NR_RX_RINGS_ONLY;
				break;
			case 'T':
				mode |= NR_TX_RINGS_ONLY;
				break;
			default:
				snprintf(msg, sizeof(msg),
				    "unrecognized flag: '%c'", *p);
				goto fail;
			}
			p++;
			state = S_FLAGS_OK;
			break;
		case S_MEMID:
			if (memid != 0) {
				snprintf(msg, sizeof(msg),
				    "double setting of memid");
				goto fail;
			}
			num = strtol(p, &endp, 10);
			if (num <= 0 || num > UINT16_MAX) {
				snprintf(msg, sizeof(msg),
				    "invalid memid %ld, must be >0", num);
				goto fail;
			}
			p = endp;
			memid = (uint16_t)num;
			state = S_AFTER_RINGS;
			break;
		}
	}
	if (state != S_NAME_DONE && state != S_AFTER_RINGS &&
	    state != S_FLAGS_OK) {
		snprintf(msg, sizeof(msg), "unexpected end of port name");
		goto fail;
	}

	d->req.nr_flags |= mode;
	d->req.nr_ringid = (uint16_t)(d->req.nr_ringid | ringid);
	d->req.nr_arg2 = memid;
	d->self = d;
	return 0;

fail:
	if (errno == 0)
		errno = EINVAL;
	if (err != NULL)	/* msg always fits: snprintf bounded it */
		memcpy(err, msg, strlen(msg) + 1);
	return -1;
}

/*
 * Queue one packet for transmission, like pcap_inject(). Starting from
 * d->cur_tx_ring, use the first tx ring with room for the whole packet
 * (several slots chained with NS_MOREFRAG when it exceeds nr_buf_size),
 * copy it at ring->cur and advance head and cur past it. Nothing is sent
 * until the next NIOCTXSYNC/poll(). Returns size, or 0 if no ring had
 * room.
 */
static inline int
nm_inject(struct nm_desc *d, const void *buf, size_t size)
{
	int n = d->last_tx_ring - d->first_tx_ring + 1;
	int ri = d->cur_tx_ring;
	int c;

	for (c = 0; c < n; c++, ri++) {
		struct netmap_ring *ring;
		const char *src = (const char *)buf;
		size_t rem = size;
		uint32_t i, last;

		if (ri > d->last_tx_ring)
			ri = d->first_tx_ring;
		ring = NETMAP_TXRING(d->nifp, ri);

		/* find the slot that will take the last fragment */
		last = ring->cur;
		while (rem > ring->nr_buf_size && last != ring->tail) {
			rem -= ring->nr_buf_size;
			last = nm_ring_next(ring, last);
		}
		if (last == ring->tail)
			continue;	/* not enough room here */

		for (i = ring->cur; i != last; i = nm_ring_next(ring, i)) {
			struct netmap_slot *slot = &ring->slot[i];

			slot->len = (uint16_t)ring->nr_buf_size;
			slot->flags = NS_MOREFRAG;
			nm_pkt_copy(src, NETMAP_BUF(ring, slot->buf_idx),
			    (int)ring->nr_buf_size);
			src += ring->nr_buf_size;
		}
		ring->slot[last].len = (uint16_t)rem;
		ring->slot[last].flags = 0;
		nm_pkt_copy(src, NETMAP_BUF(ring, ring->slot[last].buf_idx),
		    (int)rem);
		ring->head = ring->cur = nm_ring_next(ring, last);
		d->cur_tx_ring = (uint16_t)ri;
		return (int)size;
	}
	return 0;
}

/*
 * Deliver up to cnt received packets (cnt <= 0: all available) to cb,
 * like pcap_dispatch(). Rings are scanned from d->cur_rx_ring; each
 * packet (all its NS_MOREFRAG slots) is released by moving head and cur
 * past it. In the header passed to cb, len is the total length, caplen
 * the part contiguous at buf, and flags has NM_MORE_PKTS set on all but
 * the last packet of the call. Only packets already in the rings are
 * seen: refilling them is up to poll() or NIOCRXSYNC. Returns the number
 * of packets delivered.
 */
static inline int
nm_dispatch(struct nm_desc *d, int cnt, nm_cb_t cb, unsigned char *arg)
{
	int n = d->last_rx_ring - d->first_rx_ring + 1;
	int ri = d->cur_rx_ring;
	int c, got = 0;

	/* Each packet is reported once the next one is known, so that the
	 * last of the batch can go out without NM_MORE_PKTS. */
	d->hdr.buf = NULL;
	d->hdr.flags = NM_MORE_PKTS;
	d->hdr.d = d;

	if (cnt <= 0)
		cnt = -1;
	for (c = 0; c < n && got != cnt; c++, ri++) {
		struct netmap_ring *ring;

		if (ri > d->last_rx_ring)
			ri = d->first_rx_ring;
		ring = NETMAP_RXRING(d->nifp, (uint32_t)ri);
		for (; !nm_ring_empty(ring) && got != cnt; got++) {
			uint32_t i = ring->cur;
			struct netmap_slot *slot = &ring->slot[i];
			unsigned char *prev;

			if (d->hdr.buf != NULL)
				cb(arg, &d->hdr, d->hdr.buf);

			d->cur_rx_ring = (uint16_t)ri;
			d->hdr.slot = slot;
			d->hdr.buf = (uint8_t *)NETMAP_BUF(ring, slot->buf_idx);
			d->hdr.len = d->hdr.caplen = slot->len;
			prev = d->hdr.buf;
			/* gather the remaining fragments of the packet */
			while ((slot->flags & NS_MOREFRAG) &&
			    nm_ring_next(ring, i) != ring->tail) {
				unsigned char *next;
				uint32_t prevlen = slot->len;

				i = nm_ring_next(ring, i);
				slot = &ring->slot[i];
				d->hdr.len += slot->len;
				next = (unsigned char *)NETMAP_BUF(ring,
				    slot->buf_idx);
				/* caplen grows while the data stays
				 * contiguous: full previous buffer, next
				 * buffer right after it */
				if (prev != NULL &&
				    prevlen == ring->nr_buf_size &&
				    (size_t)(next - prev) == ring->nr_buf_size) {
					d->hdr.caplen += slot->len;
					prev = next;
				} else {
					prev = NULL;
				}
			}
			d->hdr.ts = ring->ts;
			ring->head = ring->cur = nm_ring_next(ring, i);
		}
	}
	if (d->hdr.buf != NULL) {
		d->hdr.flags = 0;
		cb(arg, &d->hdr, d->hdr.buf);
	}
	return got;
}

/*
 * Return the next received packet, like pcap_next(), or NULL if every
 * bound rx ring is empty. Rings are scanned from d->cur_rx_ring; the
 * slot is released (head and cur advanced) before returning, so the
 * data stays valid only until the next sync. Fills ts, len and caplen
 * (one slot, fragments are not joined), plus d, slot and buf.
 */
static inline unsigned char *
nm_nextpkt(struct nm_desc *d, struct nm_pkthdr *hdr)
{
	int ri = d->cur_rx_ring;

	do {
		struct netmap_ring *ring = NETMAP_RXRING(d->nifp, (uint32_t)ri);

		if (!nm_ring_empty(ring)) {
			uint32_t i = ring->cur;
			struct netmap_slot *slot = &ring->slot[i];
			unsigned char *buf =
			    (unsigned char *)NETMAP_BUF(ring, slot->buf_idx);

			hdr->ts = ring->ts;
			hdr->len = hdr->caplen = slot->len;
			hdr->flags = 0;
			hdr->d = d;
			hdr->slot = slot;
			hdr->buf = buf;
			ring->cur = nm_ring_next(ring, i);
			ring->head = ring->cur;
			d->cur_rx_ring = (uint16_t)ri;
			return buf;
		}
		ri++;
		if (ri > d->last_rx_ring)
			ri = d->first_rx_ring;
	} while (ri != d->cur_rx_ring);
	return NULL;
}

#endif /* !HAVE_NETMAP_WITH_LIBS */
#endif /* NETMAP_WITH_LIBS */

#endif /* _NET_NETMAP_USER_H_ */
