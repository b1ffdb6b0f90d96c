/*
 * Expected ABI of the netmap headers on Linux/x86_64 (LP64), as literal
 * numbers. Shared by the C11 check (abi_layout.c) and the GoogleTest
 * (abi_layout_test.cpp).
 *
 * Every number below was worked out by hand from upstream netmap's
 * API-14 definitions (sys/net/netmap.h, sys/net/netmap_legacy.h,
 * sys/net/netmap_user.h as shipped in the FreeBSD tree and in
 * luigirizzo/netmap), applying the x86_64 SysV rules: uint16 align 2,
 * uint32/int align 4, uint64/pointer/size_t/ssize_t align 8,
 * struct timeval = 16 bytes align 8, IFNAMSIZ = 16. None of them is
 * computed from unetmap's own headers.
 *
 * The lists are X-macros:
 *   ABI_SIZES(X)    X(struct tag, sizeof)
 *   ABI_ALIGNS(X)   X(struct tag, alignment)
 *   ABI_OFFSETS(X)  X(struct tag, member designator, offsetof)
 *   ABI_MSIZES(X)   X(struct tag, member, sizeof member)
 *   ABI_CONSTS(X)   X(macro or enumerator, value)
 * The *_LIBS variants need NETMAP_WITH_LIBS (struct nm_desc & co).
 */
#ifndef UNETMAP_TESTS_ABI_EXPECTED_H
#define UNETMAP_TESTS_ABI_EXPECTED_H

/* ---------------------------------------------------------------- sizes */
#define ABI_SIZES(X)							\
	/* netmap.h: u32 + u16 + u16 + u64 */				\
	X(netmap_slot, 16)						\
	/* netmap.h: header fields end at 72 (buf_align), sem[128] is	\
	 * aligned to NM_CACHE_ALIGN=128 -> 128..256, slot[] adds 0 */	\
	X(netmap_ring, 256)						\
	/* netmap.h: name[16] + 10 x u32 = 56, ring_ofs[] adds 0 */	\
	X(netmap_if, 56)						\
	/* netmap.h: u64 + u32 + u32 + u64 */				\
	X(nmreq_option, 24)						\
	/* netmap.h: u16 u16 u32 name[64] u64 u64 */			\
	X(nmreq_header, 88)						\
	/* netmap.h: 2 x u64, 2 x u32, 6 x u16, 2 x u32, pad4, u64 */	\
	X(nmreq_register, 56)						\
	/* netmap.h: u64, 2 x u32, 5 x u16 + pad[3] */			\
	X(nmreq_port_info_get, 32)					\
	/* netmap.h: nmreq_register(56) + 2 x u32 */			\
	X(nmreq_vale_attach, 64)					\
	X(nmreq_vale_detach, 8)						\
	X(nmreq_vale_list, 8)						\
	X(nmreq_port_hdr, 8)						\
	/* netmap.h: 2 x u32 + 4 x u16 */				\
	X(nmreq_vale_newif, 16)						\
	X(nmreq_vale_polling, 16)					\
	/* netmap.h: u64, u16+pad[3], then 3 x (u64 + 2 x u32) */	\
	X(nmreq_pools_info, 64)						\
	X(nmreq_sync_kloop_start, 8)					\
	/* netmap.h: 4 + 12 u32 pad = 16 x u32 (one 64-byte line) */	\
	X(nm_csb_atok, 64)						\
	/* netmap.h: 3 + 13 u32 pad */					\
	X(nm_csb_ktoa, 64)						\
	/* netmap.h: nmreq_option(24) + eventfds[] (adds 0) */		\
	X(nmreq_opt_sync_kloop_eventfds, 24)				\
	/* netmap.h: nmreq_option(24) + u32 mode, padded to 8 */	\
	X(nmreq_opt_sync_kloop_mode, 32)				\
	/* netmap.h: nmreq_option(24) + u64 + nmreq_pools_info(64) */	\
	X(nmreq_opt_extmem, 96)						\
	/* netmap.h: nmreq_option(24) + 2 x u64 */			\
	X(nmreq_opt_csb, 40)						\
	/* netmap.h: nmreq_option(24) + 2 x u64 + 2 x u32 + u64 */	\
	X(nmreq_opt_offsets, 56)					\
	/* netmap_legacy.h: name[16] + 5 x u32 + 6 x u16 + 3 x u32	\
	 * (nr_arg3, nr_flags, spare2[1]) */				\
	X(nmreq, 60)							\
	/* netmap_legacy.h: u64 + 10 x u32 */				\
	X(netmap_pools_info, 48)					\
	/* netmap_legacy.h: IFNAMSIZ + NM_IFRDATA_LEN(256) */		\
	X(nm_ifreq, 272)

#define ABI_SIZES_LIBS(X)						\
	/* netmap_user.h: timeval(16) + 2 x u32 + u64 + 3 pointers */	\
	X(nm_pkthdr, 56)						\
	/* netmap_user.h: 3 x u_int */					\
	X(nm_stat, 12)							\
	/* netmap_user.h: see the ABI_OFFSETS_LIBS walk; msg[512]	\
	 * ends at 760, already a multiple of 8 */			\
	X(nm_desc, 760)

/* ----------------------------------------------------------- alignment */
#define ABI_ALIGNS(X)							\
	X(netmap_slot, 8)						\
	/* sem[] carries __aligned__(NM_CACHE_ALIGN) */			\
	X(netmap_ring, 128)						\
	/* ring_ofs[] is ssize_t */					\
	X(netmap_if, 8)							\
	X(nmreq_header, 8)						\
	X(nmreq_option, 8)						\
	X(nmreq_register, 8)						\
	X(nmreq, 4)							\
	X(nm_csb_atok, 4)						\
	X(nm_csb_ktoa, 4)

#define ABI_ALIGNS_LIBS(X)						\
	X(nm_pkthdr, 8)							\
	X(nm_stat, 4)							\
	X(nm_desc, 8)

/* ------------------------------------------------------------- offsets */
#define ABI_OFFSETS(X)							\
	/* struct netmap_slot (netmap.h) */				\
	X(netmap_slot, buf_idx, 0)					\
	X(netmap_slot, len, 4)						\
	X(netmap_slot, flags, 6)					\
	X(netmap_slot, ptr, 8)						\
	/* struct netmap_ring (netmap.h, API 14 adds offset_mask and	\
	 * buf_align after ts); 4 bytes of padding after flags@32 */	\
	X(netmap_ring, buf_ofs, 0)					\
	X(netmap_ring, num_slots, 8)					\
	X(netmap_ring, nr_buf_size, 12)					\
	X(netmap_ring, ringid, 16)					\
	X(netmap_ring, dir, 18)						\
	X(netmap_ring, head, 20)					\
	X(netmap_ring, cur, 24)						\
	X(netmap_ring, tail, 28)					\
	X(netmap_ring, flags, 32)					\
	X(netmap_ring, ts, 40)						\
	X(netmap_ring, offset_mask, 56)					\
	X(netmap_ring, buf_align, 64)					\
	X(netmap_ring, sem, 128)					\
	X(netmap_ring, slot, 256)					\
	/* struct netmap_if (netmap.h, API 14: host ring counts take	\
	 * two of the former five spares) */				\
	X(netmap_if, ni_name, 0)					\
	X(netmap_if, ni_version, 16)					\
	X(netmap_if, ni_flags, 20)					\
	X(netmap_if, ni_tx_rings, 24)					\
	X(netmap_if, ni_rx_rings, 28)					\
	X(netmap_if, ni_bufs_head, 32)					\
	X(netmap_if, ni_host_tx_rings, 36)				\
	X(netmap_if, ni_host_rx_rings, 40)				\
	X(netmap_if, ni_spare1, 44)					\
	X(netmap_if, ring_ofs, 56)					\
	/* struct nmreq_option (netmap.h) */				\
	X(nmreq_option, nro_next, 0)					\
	X(nmreq_option, nro_reqtype, 8)					\
	X(nmreq_option, nro_status, 12)					\
	X(nmreq_option, nro_size, 16)					\
	/* struct nmreq_header (netmap.h) */				\
	X(nmreq_header, nr_version, 0)					\
	X(nmreq_header, nr_reqtype, 2)					\
	X(nmreq_header, nr_reserved, 4)					\
	X(nmreq_header, nr_name, 8)					\
	X(nmreq_header, nr_options, 72)					\
	X(nmreq_header, nr_body, 80)					\
	/* struct nmreq_register (netmap.h); pad 44..48 */		\
	X(nmreq_register, nr_offset, 0)					\
	X(nmreq_register, nr_memsize, 8)				\
	X(nmreq_register, nr_tx_slots, 16)				\
	X(nmreq_register, nr_rx_slots, 20)				\
	X(nmreq_register, nr_tx_rings, 24)				\
	X(nmreq_register, nr_rx_rings, 26)				\
	X(nmreq_register, nr_host_tx_rings, 28)				\
	X(nmreq_register, nr_host_rx_rings, 30)				\
	X(nmreq_register, nr_mem_id, 32)				\
	X(nmreq_register, nr_ringid, 34)				\
	X(nmreq_register, nr_mode, 36)					\
	X(nmreq_register, nr_extra_bufs, 40)				\
	X(nmreq_register, nr_flags, 48)					\
	/* struct nmreq_port_info_get (netmap.h) */			\
	X(nmreq_port_info_get, nr_memsize, 0)				\
	X(nmreq_port_info_get, nr_tx_slots, 8)				\
	X(nmreq_port_info_get, nr_rx_slots, 12)				\
	X(nmreq_port_info_get, nr_tx_rings, 16)				\
	X(nmreq_port_info_get, nr_rx_rings, 18)				\
	X(nmreq_port_info_get, nr_host_tx_rings, 20)			\
	X(nmreq_port_info_get, nr_host_rx_rings, 22)			\
	X(nmreq_port_info_get, nr_mem_id, 24)				\
	X(nmreq_port_info_get, pad, 26)					\
	/* struct nmreq_vale_attach (netmap.h) */			\
	X(nmreq_vale_attach, reg, 0)					\
	X(nmreq_vale_attach, reg.nr_flags, 48)				\
	X(nmreq_vale_attach, port_index, 56)				\
	X(nmreq_vale_attach, pad1, 60)					\
	/* struct nmreq_vale_detach (netmap.h) */			\
	X(nmreq_vale_detach, port_index, 0)				\
	X(nmreq_vale_detach, pad1, 4)					\
	/* struct nmreq_vale_list (netmap.h) */				\
	X(nmreq_vale_list, nr_bridge_idx, 0)				\
	X(nmreq_vale_list, pad1, 2)					\
	X(nmreq_vale_list, nr_port_idx, 4)				\
	/* struct nmreq_port_hdr (netmap.h) */				\
	X(nmreq_port_hdr, nr_hdr_len, 0)				\
	X(nmreq_port_hdr, pad1, 4)					\
	/* struct nmreq_vale_newif (netmap.h) */			\
	X(nmreq_vale_newif, nr_tx_slots, 0)				\
	X(nmreq_vale_newif, nr_rx_slots, 4)				\
	X(nmreq_vale_newif, nr_tx_rings, 8)				\
	X(nmreq_vale_newif, nr_rx_rings, 10)				\
	X(nmreq_vale_newif, nr_mem_id, 12)				\
	X(nmreq_vale_newif, pad1, 14)					\
	/* struct nmreq_vale_polling (netmap.h) */			\
	X(nmreq_vale_polling, nr_mode, 0)				\
	X(nmreq_vale_polling, nr_first_cpu_id, 4)			\
	X(nmreq_vale_polling, nr_num_polling_cpus, 8)			\
	X(nmreq_vale_polling, pad1, 12)					\
	/* struct nmreq_pools_info (netmap.h) */			\
	X(nmreq_pools_info, nr_memsize, 0)				\
	X(nmreq_pools_info, nr_mem_id, 8)				\
	X(nmreq_pools_info, pad1, 10)					\
	X(nmreq_pools_info, nr_if_pool_offset, 16)			\
	X(nmreq_pools_info, nr_if_pool_objtotal, 24)			\
	X(nmreq_pools_info, nr_if_pool_objsize, 28)			\
	X(nmreq_pools_info, nr_ring_pool_offset, 32)			\
	X(nmreq_pools_info, nr_ring_pool_objtotal, 40)			\
	X(nmreq_pools_info, nr_ring_pool_objsize, 44)			\
	X(nmreq_pools_info, nr_buf_pool_offset, 48)			\
	X(nmreq_pools_info, nr_buf_pool_objtotal, 56)			\
	X(nmreq_pools_info, nr_buf_pool_objsize, 60)			\
	/* struct nmreq_sync_kloop_start (netmap.h) */			\
	X(nmreq_sync_kloop_start, sleep_us, 0)				\
	X(nmreq_sync_kloop_start, pad1, 4)				\
	/* struct nm_csb_atok / nm_csb_ktoa (netmap.h) */		\
	X(nm_csb_atok, head, 0)						\
	X(nm_csb_atok, cur, 4)						\
	X(nm_csb_atok, appl_need_kick, 8)				\
	X(nm_csb_atok, sync_flags, 12)					\
	X(nm_csb_atok, pad, 16)						\
	X(nm_csb_ktoa, hwcur, 0)					\
	X(nm_csb_ktoa, hwtail, 4)					\
	X(nm_csb_ktoa, kern_need_kick, 8)				\
	X(nm_csb_ktoa, pad, 12)						\
	/* option bodies (netmap.h): all start with nmreq_option(24) */	\
	X(nmreq_opt_sync_kloop_eventfds, nro_opt, 0)			\
	X(nmreq_opt_sync_kloop_eventfds, eventfds, 24)			\
	X(nmreq_opt_sync_kloop_eventfds, eventfds[0].ioeventfd, 24)	\
	X(nmreq_opt_sync_kloop_eventfds, eventfds[0].irqfd, 28)		\
	X(nmreq_opt_sync_kloop_eventfds, eventfds[1].ioeventfd, 32)	\
	X(nmreq_opt_sync_kloop_mode, nro_opt, 0)			\
	X(nmreq_opt_sync_kloop_mode, mode, 24)				\
	X(nmreq_opt_extmem, nro_opt, 0)					\
	X(nmreq_opt_extmem, nro_usrptr, 24)				\
	X(nmreq_opt_extmem, nro_info, 32)				\
	X(nmreq_opt_extmem, nro_info.nr_buf_pool_objsize, 92)		\
	X(nmreq_opt_csb, nro_opt, 0)					\
	X(nmreq_opt_csb, csb_atok, 24)					\
	X(nmreq_opt_csb, csb_ktoa, 32)					\
	X(nmreq_opt_offsets, nro_opt, 0)				\
	X(nmreq_opt_offsets, nro_max_offset, 24)			\
	X(nmreq_opt_offsets, nro_initial_offset, 32)			\
	X(nmreq_opt_offsets, nro_offset_bits, 40)			\
	X(nmreq_opt_offsets, nro_tx_align, 44)				\
	X(nmreq_opt_offsets, nro_min_gap, 48)				\
	/* struct nmreq (netmap_legacy.h) */				\
	X(nmreq, nr_name, 0)						\
	X(nmreq, nr_version, 16)					\
	X(nmreq, nr_offset, 20)						\
	X(nmreq, nr_memsize, 24)					\
	X(nmreq, nr_tx_slots, 28)					\
	X(nmreq, nr_rx_slots, 32)					\
	X(nmreq, nr_tx_rings, 36)					\
	X(nmreq, nr_rx_rings, 38)					\
	X(nmreq, nr_ringid, 40)						\
	X(nmreq, nr_cmd, 42)						\
	X(nmreq, nr_arg1, 44)						\
	X(nmreq, nr_arg2, 46)						\
	X(nmreq, nr_arg3, 48)						\
	X(nmreq, nr_flags, 52)						\
	X(nmreq, spare2, 56)						\
	/* struct netmap_pools_info (netmap_legacy.h) */		\
	X(netmap_pools_info, memsize, 0)				\
	X(netmap_pools_info, memid, 8)					\
	X(netmap_pools_info, if_pool_offset, 12)			\
	X(netmap_pools_info, if_pool_objtotal, 16)			\
	X(netmap_pools_info, if_pool_objsize, 20)			\
	X(netmap_pools_info, ring_pool_offset, 24)			\
	X(netmap_pools_info, ring_pool_objtotal, 28)			\
	X(netmap_pools_info, ring_pool_objsize, 32)			\
	X(netmap_pools_info, buf_pool_offset, 36)			\
	X(netmap_pools_info, buf_pool_objtotal, 40)			\
	X(netmap_pools_info, buf_pool_objsize, 44)			\
	/* struct nm_ifreq (netmap_legacy.h) */				\
	X(nm_ifreq, nifr_name, 0)					\
	X(nm_ifreq, data, 16)

#define ABI_OFFSETS_LIBS(X)						\
	/* struct nm_pkthdr (netmap_user.h) */				\
	X(nm_pkthdr, ts, 0)						\
	X(nm_pkthdr, caplen, 16)					\
	X(nm_pkthdr, len, 20)						\
	X(nm_pkthdr, flags, 24)						\
	X(nm_pkthdr, d, 32)						\
	X(nm_pkthdr, slot, 40)						\
	X(nm_pkthdr, buf, 48)						\
	/* struct nm_stat (netmap_user.h, non-Windows) */		\
	X(nm_stat, ps_recv, 0)						\
	X(nm_stat, ps_drop, 4)						\
	X(nm_stat, ps_ifdrop, 8)					\
	/* struct nm_desc (netmap_user.h): pad 12..16 after fd,	\
	 * 36..40 after done_mmap; six u16 ring numbers 48..60;	\
	 * nmreq (60 bytes, align 4) 60..120; nm_pkthdr (56, align 8)	\
	 * 120..176; pad 212..216 after to_ms; nm_stat 236..248 */	\
	X(nm_desc, self, 0)						\
	X(nm_desc, fd, 8)						\
	X(nm_desc, mem, 16)						\
	X(nm_desc, memsize, 24)						\
	X(nm_desc, done_mmap, 32)					\
	X(nm_desc, nifp, 40)						\
	X(nm_desc, first_tx_ring, 48)					\
	X(nm_desc, last_tx_ring, 50)					\
	X(nm_desc, cur_tx_ring, 52)					\
	X(nm_desc, first_rx_ring, 54)					\
	X(nm_desc, last_rx_ring, 56)					\
	X(nm_desc, cur_rx_ring, 58)					\
	X(nm_desc, req, 60)						\
	X(nm_desc, hdr, 120)						\
	X(nm_desc, some_ring, 176)					\
	X(nm_desc, buf_start, 184)					\
	X(nm_desc, buf_end, 192)					\
	X(nm_desc, snaplen, 200)					\
	X(nm_desc, promisc, 204)					\
	X(nm_desc, to_ms, 208)						\
	X(nm_desc, errbuf, 216)						\
	X(nm_desc, if_flags, 224)					\
	X(nm_desc, if_reqcap, 228)					\
	X(nm_desc, if_curcap, 232)					\
	X(nm_desc, st, 236)						\
	X(nm_desc, msg, 248)

/* -------------------------------------------------------- member sizes */
#define ABI_MSIZES(X)							\
	X(netmap_ring, ts, 16)						\
	X(netmap_ring, sem, 128)					\
	X(netmap_ring, slot[0], 16)					\
	X(netmap_if, ni_name, 16)					\
	X(netmap_if, ni_spare1, 12)					\
	X(netmap_if, ring_ofs[0], 8)					\
	X(nmreq_header, nr_name, 64)					\
	X(nmreq_port_info_get, pad, 6)					\
	X(nmreq_pools_info, pad1, 6)					\
	X(nm_csb_atok, pad, 48)						\
	X(nm_csb_ktoa, pad, 52)						\
	X(nmreq_opt_sync_kloop_eventfds, eventfds[0], 8)		\
	X(nmreq, nr_name, 16)						\
	X(nmreq, spare2, 4)						\
	X(nm_ifreq, data, 256)

#define ABI_MSIZES_LIBS(X)						\
	X(nm_desc, memsize, 8)						\
	X(nm_desc, req, 60)						\
	X(nm_desc, hdr, 56)						\
	X(nm_desc, st, 12)						\
	X(nm_desc, msg, 512)

/* ----------------------------------------------------------- constants */
/*
 * Linux encodes ioctl numbers as dir<<30 | size<<16 | type<<8 | nr,
 * with dir 3 for _IOWR and 0 for _IO, and type 'i' = 0x69:
 *   NIOCCTRL   _IOWR('i', 151, nmreq_header = 88)  -> 0xC0586997
 *   NIOCTXSYNC _IO('i', 148)                       -> 0x00006994
 *   NIOCRXSYNC _IO('i', 149)                       -> 0x00006995
 *   NIOCGINFO  _IOWR('i', 145, nmreq = 60)         -> 0xC03C6991
 *   NIOCREGIF  _IOWR('i', 146, nmreq = 60)         -> 0xC03C6992
 *   NIOCCONFIG _IOWR('i', 150, nm_ifreq = 272)     -> 0xC1106996
 * Other values are copied from the upstream definitions (netmap.h,
 * netmap_legacy.h, netmap_user.h of API 14); enumerators count up from
 * the first explicit value.
 */
#define ABI_CONSTS(X)							\
	X(NETMAP_API, 14)						\
	X(NETMAP_MIN_API, 14)						\
	X(NETMAP_MAX_API, 15)						\
	X(NM_CACHE_ALIGN, 128)						\
	X(IFNAMSIZ, 16)							\
	X(NIOCCTRL, 0xC0586997u)					\
	X(NIOCTXSYNC, 0x6994u)						\
	X(NIOCRXSYNC, 0x6995u)						\
	X(NIOCGINFO, 0xC03C6991u)					\
	X(NIOCREGIF, 0xC03C6992u)					\
	X(NIOCCONFIG, 0xC1106996u)					\
	/* slot flags */						\
	X(NS_BUF_CHANGED, 0x0001)					\
	X(NS_REPORT, 0x0002)						\
	X(NS_FORWARD, 0x0004)						\
	X(NS_NO_LEARN, 0x0008)						\
	X(NS_INDIRECT, 0x0010)						\
	X(NS_MOREFRAG, 0x0020)						\
	X(NS_TXMON, 0x0040)						\
	X(NS_PORT_SHIFT, 8)						\
	X(NS_PORT_MASK, 0xff00)						\
	X(NETMAP_MAX_FRAGS, 64)						\
	/* ring / if flags */						\
	X(NR_TIMESTAMP, 0x0002)						\
	X(NR_FORWARD, 0x0004)						\
	X(NI_PRIV_MEM, 0x1)						\
	/* request header */						\
	X(NETMAP_REQ_MAXSIZE, 4096)					\
	X(NETMAP_REQ_IFNAMSIZ, 64)					\
	X(NETMAP_REQ_REGISTER, 1)					\
	X(NETMAP_REQ_PORT_INFO_GET, 2)					\
	X(NETMAP_REQ_VALE_ATTACH, 3)					\
	X(NETMAP_REQ_VALE_DETACH, 4)					\
	X(NETMAP_REQ_VALE_LIST, 5)					\
	X(NETMAP_REQ_PORT_HDR_SET, 6)					\
	X(NETMAP_REQ_PORT_HDR_GET, 7)					\
	X(NETMAP_REQ_VALE_NEWIF, 8)					\
	X(NETMAP_REQ_VALE_DELIF, 9)					\
	X(NETMAP_REQ_VALE_POLLING_ENABLE, 10)				\
	X(NETMAP_REQ_VALE_POLLING_DISABLE, 11)				\
	X(NETMAP_REQ_POOLS_INFO_GET, 12)				\
	X(NETMAP_REQ_SYNC_KLOOP_START, 13)				\
	X(NETMAP_REQ_SYNC_KLOOP_STOP, 14)				\
	X(NETMAP_REQ_CSB_ENABLE, 15)					\
	X(NETMAP_REQ_OPT_EXTMEM, 1)					\
	X(NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS, 2)			\
	X(NETMAP_REQ_OPT_CSB, 3)					\
	X(NETMAP_REQ_OPT_SYNC_KLOOP_MODE, 4)				\
	X(NETMAP_REQ_OPT_OFFSETS, 5)					\
	X(NETMAP_REQ_OPT_MAX, 6)					\
	/* nmreq_register.nr_flags */					\
	X(NR_MONITOR_TX, 0x100)						\
	X(NR_MONITOR_RX, 0x200)						\
	X(NR_ZCOPY_MON, 0x400)						\
	X(NR_EXCLUSIVE, 0x800)						\
	X(NR_RX_RINGS_ONLY, 0x2000)					\
	X(NR_TX_RINGS_ONLY, 0x4000)					\
	X(NR_ACCEPT_VNET_HDR, 0x8000)					\
	X(NR_DO_RX_POLL, 0x10000)					\
	X(NR_NO_TX_POLL, 0x20000)					\
	/* nmreq_register.nr_mode */					\
	X(NR_REG_DEFAULT, 0)						\
	X(NR_REG_ALL_NIC, 1)						\
	X(NR_REG_SW, 2)							\
	X(NR_REG_NIC_SW, 3)						\
	X(NR_REG_ONE_NIC, 4)						\
	X(NR_REG_PIPE_MASTER, 5)					\
	X(NR_REG_PIPE_SLAVE, 6)						\
	X(NR_REG_NULL, 7)						\
	X(NR_REG_ONE_SW, 8)						\
	X(NETMAP_POLLING_MODE_SINGLE_CPU, 1)				\
	X(NETMAP_POLLING_MODE_MULTI_CPU, 2)				\
	X(NM_OPT_SYNC_KLOOP_DIRECT_TX, 1)				\
	X(NM_OPT_SYNC_KLOOP_DIRECT_RX, 2)				\
	/* netmap_legacy.h */						\
	X(NETMAP_HW_RING, 0x4000)					\
	X(NETMAP_SW_RING, 0x2000)					\
	X(NETMAP_RING_MASK, 0x0fff)					\
	X(NETMAP_NO_TX_POLL, 0x1000)					\
	X(NETMAP_DO_RX_POLL, 0x8000)					\
	X(NETMAP_BDG_ATTACH, 1)						\
	X(NETMAP_BDG_DETACH, 2)						\
	X(NETMAP_BDG_REGOPS, 3)						\
	X(NETMAP_BDG_LIST, 4)						\
	X(NETMAP_BDG_VNET_HDR, 5)					\
	X(NETMAP_BDG_NEWIF, 6)						\
	X(NETMAP_BDG_DELIF, 7)						\
	X(NETMAP_PT_HOST_CREATE, 8)					\
	X(NETMAP_PT_HOST_DELETE, 9)					\
	X(NETMAP_BDG_POLLING_ON, 10)					\
	X(NETMAP_BDG_POLLING_OFF, 11)					\
	X(NETMAP_VNET_HDR_GET, 12)					\
	X(NETMAP_POOLS_INFO_GET, 13)					\
	X(NETMAP_BDG_HOST, 1)						\
	X(NR_REG_MASK, 0xf)						\
	X(NM_IFRDATA_LEN, 256)

#define ABI_CONSTS_LIBS(X)						\
	X(NM_MORE_PKTS, 1)						\
	X(NM_ERRBUF_SIZE, 512)						\
	X(NM_OPEN_NO_MMAP, 0x040000)					\
	X(NM_OPEN_IFNAME, 0x080000)					\
	X(NM_OPEN_ARG1, 0x100000)					\
	X(NM_OPEN_ARG2, 0x200000)					\
	X(NM_OPEN_ARG3, 0x400000)					\
	X(NM_OPEN_RING_CFG, 0x800000)					\
	X(MAXERRMSG, 80)

#endif /* UNETMAP_TESTS_ABI_EXPECTED_H */
