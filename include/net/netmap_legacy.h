/*
 * unetmap - userspace reimplementation of the netmap API.
 *
 * net/netmap_legacy.h: the pre-NIOCCTRL control interface (netmap API
 * 11/12): struct nmreq, the NIOCGINFO/NIOCREGIF/NIOCCONFIG ioctls and
 * the nr_cmd / nr_ringid constants. It is pulled in by <net/netmap.h>;
 * programs should not need to include it themselves. Names, values and
 * layout match upstream netmap (Linux/x86_64), checked by tests/abi.
 *
 * Plain C (C99 or later); also usable from C++.
 */
#ifndef _NET_NETMAP_LEGACY_H_
#define _NET_NETMAP_LEGACY_H_

#include <stdint.h>
#include <sys/ioctl.h>		/* _IOWR */
#ifndef IFNAMSIZ
#include <net/if.h>		/* IFNAMSIZ */
#endif
#ifndef IFNAMSIZ
/* glibc hides IFNAMSIZ in strict ISO modes; it is 16 on Linux. */
#define IFNAMSIZ 16
#endif

/*
 * Argument of NIOCGINFO and NIOCREGIF. The name comes first so that the
 * struct can stand in for a struct ifreq as far as the name goes.
 *
 * With nr_cmd == 0, NIOCREGIF binds the port nr_name. Which rings are
 * bound is given by the NR_REG_* mode in the low bits of nr_flags, with
 * the ring number (for the single-ring modes) in the low bits of
 * nr_ringid. If nr_flags carries no mode, the deprecated encoding in
 * nr_ringid applies: 0 = all NIC rings, NETMAP_HW_RING|n = NIC ring n,
 * NETMAP_SW_RING = host rings.
 *
 * nr_arg1: extra rings to reserve (or NETMAP_BDG_HOST for BDG_ATTACH).
 * nr_arg2: (in/out) memory region id, 0 = let the system choose.
 * nr_arg3: (in/out) extra buffers wanted / obtained.
 * A non-zero nr_cmd selects one of the NETMAP_BDG_* / other commands.
 */
struct nmreq {
	char		nr_name[IFNAMSIZ];	/* port name */
	uint32_t	nr_version;	/* (in/out) NETMAP_API */
	uint32_t	nr_offset;	/* (out) netmap_if offset in the region */
	uint32_t	nr_memsize;	/* (out) size of the region */
	uint32_t	nr_tx_slots;	/* (in/out) slots per tx ring */
	uint32_t	nr_rx_slots;	/* (in/out) slots per rx ring */
	uint16_t	nr_tx_rings;	/* (in/out) NIC tx rings */
	uint16_t	nr_rx_rings;	/* (in/out) NIC rx rings */

	uint16_t	nr_ringid;	/* ring number and the bits below */
#define NETMAP_HW_RING		0x4000	/* bind one NIC ring pair */
#define NETMAP_SW_RING		0x2000	/* bind the host ring pair only */
#define NETMAP_RING_MASK	0x0fff	/* ring number bits */
#define NETMAP_NO_TX_POLL	0x1000	/* poll() does not push tx rings */
#define NETMAP_DO_RX_POLL	0x8000	/* poll() always syncs rx rings */

	uint16_t	nr_cmd;		/* 0 = register, else a command below */
#define NETMAP_BDG_ATTACH	1	/* attach a port to a VALE switch */
#define NETMAP_BDG_DETACH	2	/* detach it again */
#define NETMAP_BDG_REGOPS	3	/* install switch callbacks (kernel) */
#define NETMAP_BDG_LIST		4	/* enumerate switches and ports */
#define NETMAP_BDG_VNET_HDR	5	/* set a port's virtio-net header len */
#define NETMAP_BDG_NEWIF	6	/* create a persistent VALE port */
#define NETMAP_BDG_DELIF	7	/* destroy a persistent VALE port */
#define NETMAP_PT_HOST_CREATE	8	/* start ptnetmap threads */
#define NETMAP_PT_HOST_DELETE	9	/* stop ptnetmap threads */
#define NETMAP_BDG_POLLING_ON	10	/* start polling threads on a port */
#define NETMAP_BDG_POLLING_OFF	11	/* stop them */
#define NETMAP_VNET_HDR_GET	12	/* get a port's virtio-net header len */
#define NETMAP_POOLS_INFO_GET	13	/* fill a struct netmap_pools_info */
	uint16_t	nr_arg1;	/* command argument / extra rings */
#define NETMAP_BDG_HOST		1	/* BDG_ATTACH: attach host rings too */

	uint16_t	nr_arg2;	/* memory region id */
	uint32_t	nr_arg3;	/* extra buffers */
	uint32_t	nr_flags;	/* NR_REG_* mode | NR_* flags */
#define NR_REG_MASK		0xf	/* mode bits of nr_flags */
	uint32_t	spare2[1];
};

/*
 * Filled in by NETMAP_POOLS_INFO_GET (legacy; the NIOCCTRL equivalent
 * is struct nmreq_pools_info).
 */
struct netmap_pools_info {
	uint64_t	memsize;	/* as nr_memsize */
	uint32_t	memid;		/* as nr_arg2 */
	uint32_t	if_pool_offset;
	uint32_t	if_pool_objtotal;
	uint32_t	if_pool_objsize;
	uint32_t	ring_pool_offset;
	uint32_t	ring_pool_objtotal;
	uint32_t	ring_pool_objsize;
	uint32_t	buf_pool_offset;
	uint32_t	buf_pool_objtotal;
	uint32_t	buf_pool_objsize;
};

/* Opaque payload for NIOCCONFIG, handed to an external switch module. */
#define NM_IFRDATA_LEN	256
struct nm_ifreq {
	char	nifr_name[IFNAMSIZ];
	char	data[NM_IFRDATA_LEN];
};

/* The size encoded in these numbers is that of the argument struct. */
#define NIOCGINFO	_IOWR('i', 145, struct nmreq)	/* port info */
#define NIOCREGIF	_IOWR('i', 146, struct nmreq)	/* bind / command */
#define NIOCCONFIG	_IOWR('i', 150, struct nm_ifreq)	/* module config */

#endif /* _NET_NETMAP_LEGACY_H_ */
