/*
 * unetmap - userspace reimplementation of the netmap API.
 *
 * net/netmap.h: the shared data structures (netmap_if, netmap_ring,
 * netmap_slot), the control requests (struct nmreq_header and the
 * request/option bodies) and the ioctl numbers of netmap API version 14.
 *
 * Every name, value and field order here matches upstream netmap's API-14
 * <net/netmap.h> so that an unmodified netmap program compiles against it
 * and exchanges byte-identical structures with unetmap. The layout targets
 * Linux/x86_64 and is checked by tests/abi.
 *
 * Plain C (C99 or later); also usable from C++.
 */
#ifndef _NET_NETMAP_H_
#define _NET_NETMAP_H_

#include <stdint.h>
#include <sys/types.h>		/* ssize_t */
#include <sys/time.h>		/* struct timeval */
#include <sys/ioctl.h>		/* _IO, _IOWR */
#ifndef IFNAMSIZ
#include <net/if.h>		/* IFNAMSIZ */
#endif
#ifndef IFNAMSIZ
/* glibc hides IFNAMSIZ in strict ISO modes; it is 16 on Linux. */
#define IFNAMSIZ 16
#endif

/* Version of the control API implemented by these headers. */
#define NETMAP_API	14
/* Range of nr_version values a netmap implementation accepts. */
#define NETMAP_MIN_API	14
#define NETMAP_MAX_API	15

/* Alignment (bytes) used to keep hot shared fields on their own lines. */
#define NM_CACHE_ALIGN	128

/*
 * Trailing variable-length arrays. C gets a standard flexible array
 * member; C++ has none, so with GNU compilers the member is marked
 * __extension__ to keep -Wpedantic quiet. Layout is the same either way
 * (zero bytes, aligned as the element type).
 */
#if defined(__cplusplus) && defined(__GNUC__)
#define _NM_FLEXARRAY	__extension__
#else
#define _NM_FLEXARRAY
#endif
#if defined(__cplusplus) && defined(__clang__)
/* clang++ does not honour __extension__ here: silence it locally. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc99-extensions"
#endif

/*
 * ------------------------------------------------------------------
 * Shared memory objects
 *
 * A port bound to a file descriptor exposes, inside the mmap()ed region,
 * one struct netmap_if whose ring_ofs[] gives the offset (from the
 * netmap_if itself) of every struct netmap_ring, in the order:
 *   NIC tx rings, host tx rings, NIC rx rings, host rx rings.
 * Each ring is followed by its slot array; each slot names a packet
 * buffer by index. A buffer's address is
 *   (char *)ring + ring->buf_ofs + buf_idx * ring->nr_buf_size
 * ------------------------------------------------------------------
 */

/* One packet descriptor in a ring (16 bytes). */
struct netmap_slot {
	uint32_t buf_idx;	/* index of the packet buffer */
	uint16_t len;		/* bytes of data in this slot */
	uint16_t flags;		/* NS_* below */
	uint64_t ptr;		/* user pointer (NS_INDIRECT) or buffer offset */
};

/* slot->flags */
#define NS_BUF_CHANGED	0x0001	/* buf_idx was replaced: remap the buffer */
#define NS_REPORT	0x0002	/* request a completion report for this slot */
#define NS_FORWARD	0x0004	/* pass to the peer ring (host <-> NIC), needs
				 * NR_FORWARD on the ring */
#define NS_NO_LEARN	0x0008	/* VALE: do not learn the source address */
#define NS_INDIRECT	0x0010	/* VALE tx: data is at user address slot->ptr */
#define NS_MOREFRAG	0x0020	/* not the last fragment of a packet */
#define NS_TXMON	0x0040	/* monitor ports: copy came from a tx ring */

/* The top byte of flags carries a VALE destination port on tx... */
#define NS_PORT_SHIFT	8
#define NS_PORT_MASK	(0xff << NS_PORT_SHIFT)
/* ...and the fragment count on VALE rx rings. */
#define NS_RFRAGS(_slot)	(((_slot)->flags >> 8) & 0xff)

/* Upper bound on the fragments making up one packet. */
#define NETMAP_MAX_FRAGS	64

/*
 * A tx or rx ring: a circular array of num_slots slots.
 *
 *  head  first slot owned by the application (tx: next to fill,
 *        rx: next to read). The application advances it to hand
 *        slots back to the kernel side.
 *  cur   wake-up point: poll()/select() block until tail passes cur.
 *  tail  first slot owned by the kernel side (read-only for users).
 *
 * Slots [head, tail) belong to the application, the rest to netmap.
 */
struct netmap_ring {
	const int64_t	buf_ofs;	/* buffer area, relative to this ring */
	const uint32_t	num_slots;	/* slots in the ring */
	const uint32_t	nr_buf_size;	/* size of each buffer */
	const uint16_t	ringid;		/* index of this ring */
	const uint16_t	dir;		/* 0 = tx, 1 = rx */

	uint32_t	head;		/* (user) first user-owned slot */
	uint32_t	cur;		/* (user) wake-up point */
	uint32_t	tail;		/* (kernel) first kernel-owned slot */

	uint32_t	flags;		/* NR_TIMESTAMP, NR_FORWARD */

	struct timeval	ts;		/* (kernel) time of the last sync */

	/* Bits of slot->ptr holding a per-slot buffer offset; zero unless
	 * the port was registered with NETMAP_REQ_OPT_OFFSETS. */
	const uint64_t	offset_mask;
	/* Required alignment of packet starts inside tx buffers. */
	const uint64_t	buf_align;

	/* Opaque space (e.g. for a lock), on its own cache lines. */
	uint8_t __attribute__((__aligned__(NM_CACHE_ALIGN))) sem[128];

	/* num_slots descriptors follow. */
	_NM_FLEXARRAY struct netmap_slot slot[];
};

/* ring->flags */
#define NR_TIMESTAMP	0x0002	/* update ring->ts on every sync */
#define NR_FORWARD	0x0004	/* honour NS_FORWARD in this ring */

/* True when the application owns no slot of the ring. */
static inline int
nm_ring_empty(struct netmap_ring *ring)
{
	return ring->head == ring->tail;
}

/*
 * Per-descriptor view of a bound port; read-only for the application
 * (apart from ni_bufs_head, which lists extra buffers to give back).
 */
struct netmap_if {
	char		ni_name[IFNAMSIZ];	/* port name */
	const uint32_t	ni_version;		/* API version (informative) */
	const uint32_t	ni_flags;		/* NI_PRIV_MEM */
#define NI_PRIV_MEM	0x1			/* port has a private region */

	const uint32_t	ni_tx_rings;		/* hardware/NIC tx rings */
	const uint32_t	ni_rx_rings;		/* hardware/NIC rx rings */

	uint32_t	ni_bufs_head;		/* first of the extra buffers */
	const uint32_t	ni_host_tx_rings;	/* host (sw) tx rings */
	const uint32_t	ni_host_rx_rings;	/* host (sw) rx rings */
	uint32_t	ni_spare1[3];

	/* Ring offsets from this struct: NIC tx, host tx, NIC rx, host rx. */
	_NM_FLEXARRAY const ssize_t ring_ofs[];
};

/*
 * The legacy (API 11/12) request struct nmreq, NIOCREGIF and NIOCGINFO.
 * Upstream always pulls these in; define NETMAP_NO_LEGACY to leave them
 * out (netmap_user.h with NETMAP_WITH_LIBS includes them regardless).
 */
#ifndef NETMAP_NO_LEGACY
#include "netmap_legacy.h"
#endif

/*
 * ------------------------------------------------------------------
 * Control API: ioctl(fd, NIOCCTRL, &hdr)
 *
 * hdr.nr_reqtype selects the command (NETMAP_REQ_*), hdr.nr_body points
 * to the matching struct nmreq_* and hdr.nr_options to a linked list of
 * struct nmreq_option headers. Pointers travel as uint64_t.
 * ------------------------------------------------------------------
 */

/* Largest request accepted, body and options included. */
#define NETMAP_REQ_MAXSIZE	4096

/* Common head of every option; options form a list through nro_next. */
struct nmreq_option {
	uint64_t	nro_next;	/* next option (pointer), 0 ends */
	uint32_t	nro_reqtype;	/* NETMAP_REQ_OPT_* */
	uint32_t	nro_status;	/* (out) 0 if accepted, else an errno */
	uint64_t	nro_size;	/* size of variable-size options, else 0 */
};

/* Head of every NIOCCTRL request. Field order is part of the ABI. */
struct nmreq_header {
	uint16_t	nr_version;	/* NETMAP_API */
	uint16_t	nr_reqtype;	/* NETMAP_REQ_* */
	uint32_t	nr_reserved;	/* must be zero */
#define NETMAP_REQ_IFNAMSIZ	64
	char		nr_name[NETMAP_REQ_IFNAMSIZ];	/* port name */
	uint64_t	nr_options;	/* first struct nmreq_option (pointer) */
	uint64_t	nr_body;	/* struct nmreq_* (pointer) */
};

/* nmreq_header.nr_reqtype */
enum {
	NETMAP_REQ_REGISTER = 1,	/* bind a port: nmreq_register */
	NETMAP_REQ_PORT_INFO_GET,	/* query a port: nmreq_port_info_get */
	NETMAP_REQ_VALE_ATTACH,		/* nmreq_vale_attach */
	NETMAP_REQ_VALE_DETACH,		/* nmreq_vale_detach */
	NETMAP_REQ_VALE_LIST,		/* nmreq_vale_list */
	NETMAP_REQ_PORT_HDR_SET,	/* nmreq_port_hdr */
	NETMAP_REQ_PORT_HDR_GET,	/* nmreq_port_hdr */
	NETMAP_REQ_VALE_NEWIF,		/* nmreq_vale_newif */
	NETMAP_REQ_VALE_DELIF,		/* no body */
	NETMAP_REQ_VALE_POLLING_ENABLE,	/* nmreq_vale_polling */
	NETMAP_REQ_VALE_POLLING_DISABLE,	/* nmreq_vale_polling */
	NETMAP_REQ_POOLS_INFO_GET,	/* nmreq_pools_info */
	NETMAP_REQ_SYNC_KLOOP_START,	/* nmreq_sync_kloop_start */
	NETMAP_REQ_SYNC_KLOOP_STOP,	/* no body */
	NETMAP_REQ_CSB_ENABLE		/* options only (NETMAP_REQ_OPT_CSB) */
};

/* nmreq_option.nro_reqtype */
enum {
	NETMAP_REQ_OPT_EXTMEM = 1,		/* nmreq_opt_extmem */
	NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS,	/* nmreq_opt_sync_kloop_eventfds */
	NETMAP_REQ_OPT_CSB,			/* nmreq_opt_csb */
	NETMAP_REQ_OPT_SYNC_KLOOP_MODE,		/* nmreq_opt_sync_kloop_mode */
	NETMAP_REQ_OPT_OFFSETS,			/* nmreq_opt_offsets */
	NETMAP_REQ_OPT_MAX			/* number of option types + 1 */
};

/* NETMAP_REQ_REGISTER: bind the port named in the header. */
struct nmreq_register {
	uint64_t	nr_offset;	/* (out) netmap_if offset in the region */
	uint64_t	nr_memsize;	/* (out) size of the region */
	uint32_t	nr_tx_slots;	/* (in/out) slots per tx ring */
	uint32_t	nr_rx_slots;	/* (in/out) slots per rx ring */
	uint16_t	nr_tx_rings;	/* (in/out) NIC tx rings */
	uint16_t	nr_rx_rings;	/* (in/out) NIC rx rings */
	uint16_t	nr_host_tx_rings;	/* (in/out) host tx rings */
	uint16_t	nr_host_rx_rings;	/* (in/out) host rx rings */

	uint16_t	nr_mem_id;	/* (in/out) memory region id, 0 = any */
	uint16_t	nr_ringid;	/* ring index for the ONE_* modes */
	uint32_t	nr_mode;	/* NR_REG_* */
	uint32_t	nr_extra_bufs;	/* (in/out) extra buffers wanted/got */

	uint64_t	nr_flags;	/* NR_* flags below */
#define NR_MONITOR_TX		0x100	/* monitor the tx side of the rings */
#define NR_MONITOR_RX		0x200	/* monitor the rx side of the rings */
#define NR_ZCOPY_MON		0x400	/* zero-copy monitor */
#define NR_EXCLUSIVE		0x800	/* no other binding of these rings */
	/* 0x1000 is not used */
#define NR_RX_RINGS_ONLY	0x2000	/* bind rx rings only */
#define NR_TX_RINGS_ONLY	0x4000	/* bind tx rings only */
#define NR_ACCEPT_VNET_HDR	0x8000	/* caller handles virtio-net headers */
#define NR_DO_RX_POLL		0x10000	/* like NETMAP_DO_RX_POLL */
#define NR_NO_TX_POLL		0x20000	/* like NETMAP_NO_TX_POLL */
};

/* nmreq_register.nr_mode */
enum {
	NR_REG_DEFAULT = 0,	/* legacy: use nr_ringid bits */
	NR_REG_ALL_NIC = 1,	/* every NIC ring */
	NR_REG_SW = 2,		/* the host rings */
	NR_REG_NIC_SW = 3,	/* NIC and host rings */
	NR_REG_ONE_NIC = 4,	/* NIC ring pair nr_ringid */
	NR_REG_PIPE_MASTER = 5,	/* deprecated: use the "x{y" name form */
	NR_REG_PIPE_SLAVE = 6,	/* deprecated: use the "x}y" name form */
	NR_REG_NULL = 7,	/* no rings, memory only */
	NR_REG_ONE_SW = 8	/* host ring pair nr_ringid */
};

/* The one ioctl of the control API; the header's nr_reqtype demuxes. */
#define NIOCCTRL	_IOWR('i', 151, struct nmreq_header)

/* Ring synchronisation; no argument. */
#define NIOCTXSYNC	_IO('i', 148)
#define NIOCRXSYNC	_IO('i', 149)

/* NETMAP_REQ_PORT_INFO_GET: port geometry without binding it. */
struct nmreq_port_info_get {
	uint64_t	nr_memsize;	/* size of the region */
	uint32_t	nr_tx_slots;
	uint32_t	nr_rx_slots;
	uint16_t	nr_tx_rings;
	uint16_t	nr_rx_rings;
	uint16_t	nr_host_tx_rings;
	uint16_t	nr_host_rx_rings;
	uint16_t	nr_mem_id;	/* (in/out) */
	uint16_t	pad[3];
};

/* Port names starting with this prefix refer to VALE switches. */
#define NM_BDG_NAME	"vale"

/* NETMAP_REQ_VALE_ATTACH: header name is "valeX:port". */
struct nmreq_vale_attach {
	struct nmreq_register reg;	/* how to bind the attached port */
	uint32_t	port_index;	/* (out) switch port used */
	uint32_t	pad1;
};

/* NETMAP_REQ_VALE_DETACH */
struct nmreq_vale_detach {
	uint32_t	port_index;	/* (out) switch port freed */
	uint32_t	pad1;
};

/* NETMAP_REQ_VALE_LIST: iterate over switches and their ports. */
struct nmreq_vale_list {
	uint16_t	nr_bridge_idx;	/* (in/out) switch index */
	uint16_t	pad1;
	uint32_t	nr_port_idx;	/* (in/out) port index */
};

/* NETMAP_REQ_PORT_HDR_SET / NETMAP_REQ_PORT_HDR_GET */
struct nmreq_port_hdr {
	uint32_t	nr_hdr_len;	/* virtio-net style header length */
	uint32_t	pad1;
};

/* NETMAP_REQ_VALE_NEWIF: create a persistent VALE port. */
struct nmreq_vale_newif {
	uint32_t	nr_tx_slots;
	uint32_t	nr_rx_slots;
	uint16_t	nr_tx_rings;
	uint16_t	nr_rx_rings;
	uint16_t	nr_mem_id;
	uint16_t	pad1;
};

/* NETMAP_REQ_VALE_POLLING_ENABLE / _DISABLE */
struct nmreq_vale_polling {
	uint32_t	nr_mode;	/* NETMAP_POLLING_MODE_* */
#define NETMAP_POLLING_MODE_SINGLE_CPU	1
#define NETMAP_POLLING_MODE_MULTI_CPU	2
	uint32_t	nr_first_cpu_id;
	uint32_t	nr_num_polling_cpus;
	uint32_t	pad1;
};

/* NETMAP_REQ_POOLS_INFO_GET: geometry of a memory region's pools. */
struct nmreq_pools_info {
	uint64_t	nr_memsize;
	uint16_t	nr_mem_id;	/* (in/out) */
	uint16_t	pad1[3];
	uint64_t	nr_if_pool_offset;
	uint32_t	nr_if_pool_objtotal;
	uint32_t	nr_if_pool_objsize;
	uint64_t	nr_ring_pool_offset;
	uint32_t	nr_ring_pool_objtotal;
	uint32_t	nr_ring_pool_objsize;
	uint64_t	nr_buf_pool_offset;
	uint32_t	nr_buf_pool_objtotal;
	uint32_t	nr_buf_pool_objsize;
};

/* NETMAP_REQ_SYNC_KLOOP_START: runs until NETMAP_REQ_SYNC_KLOOP_STOP. */
struct nmreq_sync_kloop_start {
	uint32_t	sleep_us;	/* idle sleep between iterations */
	uint32_t	pad1;
};

/* Control/status block, application -> kernel direction (one per ring). */
struct nm_csb_atok {
	uint32_t	head;		/* application's ring head */
	uint32_t	cur;		/* application's ring cur */
	uint32_t	appl_need_kick;	/* application wants notifications */
	uint32_t	sync_flags;	/* flags of the application's sync */
	uint32_t	pad[12];	/* fill a 64-byte line */
};

/* Control/status block, kernel -> application direction (one per ring). */
struct nm_csb_ktoa {
	uint32_t	hwcur;		/* kernel ring's hwcur */
	uint32_t	hwtail;		/* kernel ring's hwtail */
	uint32_t	kern_need_kick;	/* kernel wants notifications */
	uint32_t	pad[13];
};

/* Barriers for the CSB protocol (userspace, GNU-compatible compilers). */
static inline void
nm_stst_barrier(void)
{
	/* release fence: earlier stores stay before later stores */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void
nm_ldld_barrier(void)
{
	/* acquire fence: earlier loads stay before later loads */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/*
 * Publish new cur/head values in a CSB entry. cur is stored before head,
 * with a barrier in between, so a reader that sees the new head also
 * sees a cur at least as recent.
 */
static inline void
nm_sync_kloop_appl_write(struct nm_csb_atok *atok, uint32_t cur,
    uint32_t head)
{
	nm_stst_barrier();	/* ring contents before the indices */
	atok->cur = cur;
	nm_stst_barrier();
	atok->head = head;
}

/*
 * Fetch hwtail/hwcur from a CSB entry: hwtail first, then hwcur, and
 * both before any later read of the ring contents.
 */
static inline void
nm_sync_kloop_appl_read(struct nm_csb_ktoa *ktoa, uint32_t *hwtail,
    uint32_t *hwcur)
{
	*hwtail = ktoa->hwtail;
	nm_ldld_barrier();
	*hwcur = ktoa->hwcur;
	nm_ldld_barrier();
}

/*
 * Option bodies (each starts with struct nmreq_option).
 */

/* NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS: one eventfd pair per CSB entry. */
struct nmreq_opt_sync_kloop_eventfds {
	struct nmreq_option nro_opt;
	_NM_FLEXARRAY struct {
		int32_t	ioeventfd;	/* application -> kloop kick */
		int32_t	irqfd;		/* kloop -> application kick */
	} eventfds[];
};

/* NETMAP_REQ_OPT_SYNC_KLOOP_MODE */
struct nmreq_opt_sync_kloop_mode {
	struct nmreq_option nro_opt;
#define NM_OPT_SYNC_KLOOP_DIRECT_TX	(1 << 0)
#define NM_OPT_SYNC_KLOOP_DIRECT_RX	(1 << 1)
	uint32_t	mode;
};

/* NETMAP_REQ_OPT_EXTMEM: back the port with user-supplied memory. */
struct nmreq_opt_extmem {
	struct nmreq_option nro_opt;
	uint64_t	nro_usrptr;		/* (in) user memory address */
	struct nmreq_pools_info nro_info;	/* (in/out) pool geometry */
};

/* NETMAP_REQ_OPT_CSB: user arrays of nm_csb_atok / nm_csb_ktoa. */
struct nmreq_opt_csb {
	struct nmreq_option nro_opt;
	uint64_t	csb_atok;	/* struct nm_csb_atok[] (pointer) */
	uint64_t	csb_ktoa;	/* struct nm_csb_ktoa[] (pointer) */
};

/* NETMAP_REQ_OPT_OFFSETS: per-slot buffer offsets kept in slot->ptr. */
struct nmreq_opt_offsets {
	struct nmreq_option nro_opt;
	uint64_t	nro_max_offset;		/* (in/out) largest offset used */
	uint64_t	nro_initial_offset;	/* initial offset of every slot */
	uint32_t	nro_offset_bits;	/* (in/out) low ptr bits, 0 = all */
	uint32_t	nro_tx_align;		/* packet start alignment on tx */
	uint64_t	nro_min_gap;		/* reserved, must be zero */
};

#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* _NET_NETMAP_H_ */
