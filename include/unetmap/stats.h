/*
 * unetmap/stats.h - per-port counters of unetmap ports (VALE and others).
 *
 * Not part of the netmap API: netmap has no request for port statistics.
 * These functions read the counters unetmap keeps for every ring in its
 * control file (packets and bytes moved, packets dropped) and add them up
 * per direction.  They take the control lock briefly, never touch a ring,
 * and so do not disturb the data path.  Counters only grow, from the
 * port's creation; they are 64-bit and are read without stopping traffic,
 * so two fields of one snapshot may be a few packets apart.
 *
 * Meaning of the counters for a VALE port:
 *   tx_packets/tx_bytes  packets (and bytes) taken from the port's TX rings
 *   tx_drops             packets the switch dropped on the way in: shorter
 *                        than an Ethernet header, addressed to the sender
 *                        itself, sent while the port is on no switch (these
 *                        are also in tx_packets), or chains of more than
 *                        NETMAP_MAX_FRAGS slots (counted here only)
 *   rx_packets/rx_bytes  packets (and bytes) delivered into its RX rings
 *   rx_drops             packets for this port dropped because its RX ring
 *                        was full (the switch never waits for a receiver)
 * For other ports the same fields count what their syncs moved.
 */
#ifndef UNETMAP_STATS_H
#define UNETMAP_STATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UNETMAP_PORT_PERSISTENT	0x1	/* created by NETMAP_REQ_VALE_NEWIF */
#define UNETMAP_PORT_ATTACHED	0x2	/* is a member of a VALE switch */
#define UNETMAP_PORT_NIC	0x4	/* the member of an attached interface (valectl -a/-h) */

struct unetmap_port_stats {
	char		name[64];	/* the name as found (e.g. "vale0:p") */
	uint32_t	flags;		/* UNETMAP_PORT_* */
	uint16_t	bridge_idx;	/* switch index (as NETMAP_REQ_VALE_LIST), if attached */
	uint16_t	mem_id;		/* memory region */
	uint32_t	port_idx;	/* port index in the switch, if attached */
	uint32_t	tx_rings, rx_rings;
	uint32_t	tx_slots, rx_slots;
	uint32_t	agent_pid;	/* UNETMAP_PORT_NIC: pid of the process forwarding
					   between the interface and the switch (0: none) */
	uint64_t	tx_packets, tx_bytes, tx_drops;
	uint64_t	rx_packets, rx_bytes, rx_drops;
};

/*
 * Counters of the port called `name`: any existing port name ("vale0:p",
 * "v0", "null", "x{1"), or "valeS:P" for a port attached to switch valeS.
 * Returns 0, or -1 with errno set (ENOENT: no such port).
 */
int unetmap_port_stats(const char *name, struct unetmap_port_stats *out);

/*
 * Counters of the port at (bridge_idx, port_idx), the indices
 * NETMAP_REQ_VALE_LIST reports.  Returns 0, or -1 with errno ENOENT when
 * that position is empty.
 */
int unetmap_vale_port_stats(unsigned bridge_idx, unsigned port_idx,
			    struct unetmap_port_stats *out);

/*
 * Counters of every port that exists (VALE, persistent, null, pipe ends),
 * at most `max` of them, in `out[0..]`, in the order of the control file.
 * Attached ports are named as NETMAP_REQ_VALE_LIST lists them ("valeS:P").
 * Returns the number filled (0 when there is no port, or no control file
 * yet), or -1 with errno set (EINVAL: bad arguments).  kMaxPorts (256)
 * entries always suffice.
 */
int unetmap_port_list(struct unetmap_port_stats *out, int max);

#ifdef __cplusplus
}
#endif

#endif /* UNETMAP_STATS_H */
