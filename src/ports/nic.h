// NIC ports ("netmap:eth0", "netmap:eth0-2"): what nic.cpp (the port type)
// shares with its two back ends, nic_xdp.cpp (native: AF_XDP) and
// nic_packet.cpp (emulated: AF_PACKET).
//
// The port entry (rings, slots, buffers) lives in shared memory like any
// other; the sockets that move frames between the interface and the rings
// cannot, so each process that binds rings of a NIC port opens one socket
// per bound queue (ring pair i is queue i) and keeps it in a `NicQueue`.
// Descriptors of one process that bind the same queue share it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include <net/netmap.h>

#include "core/kring.h"
#include "core/region.h"

namespace unetmap::nic {

/// How a NIC port is served; chosen when the port is created (admode).
enum class Mode : uint32_t { Native = 1, Emulated = 2 };
[[nodiscard]] const char* mode_name(Mode m);

/// What the kernel says of an interface, read in the caller's network
/// namespace (ioctls on a datagram socket, no sysfs: /sys may belong to
/// another namespace).
struct Facts {
    unsigned ifindex = 0;
    uint32_t queues = 1;  // max of rx and tx channels; 1 if the driver does not say
    uint32_t mtu = 0;
    bool up = false;       // IFF_UP
    bool carrier = false;  // operational state: not down for want of a link
};
/// Asks the kernel over netlink (nic_netlink.cpp).  0, or ENXIO (no such
/// interface), EINVAL (name too long), or the socket's errno.
int read_facts(std::string_view ifname, Facts& out);

/// XDP_PACKET_HEADROOM: AF_XDP puts a received frame this far into its
/// chunk (see nic_xdp.cpp for how buffers are posted around it).
inline constexpr uint32_t kXdpHeadroom = 256;

/// Largest frame one buffer carries in each mode.
uint32_t max_frame(Mode m, uint32_t buf_size);

/// One queue's socket in this process, for one ring pair of the port.
class NicQueue {
public:
    virtual ~NicQueue() = default;
    /// Readable when frames wait to be received.
    [[nodiscard]] virtual int fd() const = 0;
    /// The port type's txsync/rxsync for this queue's rings (prologue
    /// done: k.rhead/k.rcur valid).  0 or a positive errno.
    virtual int txsync(Region& region, KRing& k, netmap_ring* ring) = 0;
    virtual int rxsync(Region& region, KRing& k, netmap_ring* ring) = 0;
    /// Human-readable binding ("AF_XDP zero-copy", "AF_XDP copy", "AF_PACKET").
    [[nodiscard]] virtual const char* how() const = 0;
};

/// Everything a back end needs to open queue `queue` of an interface.
struct QueueSpec {
    std::string ifname;
    unsigned ifindex;
    uint32_t queue;
    uint32_t nqueues;        // the port's ring pairs (XDP map size)
    uint32_t region_slot, region_gen;
    std::shared_ptr<Region> region;
    KRing* rx;               // this queue's RX kring (its free slots go to the kernel); host
    netmap_ring* rx_ring;    // rings: nullptr for a host TX ring without an RX ring
    uint32_t tx_slots;       // TX kring size (rings of the socket are sized from it)
    // Host rings only: which pair (0 ..), how many host RX rings the port
    // has, and the port's identity (slot, gen) that this process's host
    // queues of one port share their programs under.
    uint32_t host_index = 0, host_rx_rings = 0;
    uint32_t port = 0, port_gen = 0;
};

/// Open an AF_XDP socket on spec.queue, with the region's buffer pool as
/// its UMEM.  0, or an errno: EOPNOTSUPP (AF_XDP unavailable here), EBUSY
/// (queue or interface held by another program), EPERM (privileges).
int open_xdp_queue(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);
/// Open an AF_PACKET socket on the interface (emulated mode, one queue).
int open_packet_queue(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);
/// Open this process's host ring pair spec.host_index of the interface
/// (nic_host.cpp): spec.rx is its host RX kring, spec.queue unused.  The
/// first one a process opens for a port puts the programs on the interface
/// (EBUSY if another process has them); the others share them.
int open_host_queue(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);

// --- for the back ends that copy (emulated queues, host rings) ---------------

/// Longest NS_MOREFRAG chain we send or build: 64 KiB frames in 2 KiB buffers.
inline constexpr uint32_t kMaxChainSlots = 64;

/// Slots a frame of `len` bytes takes in buffers of `buf_size`.
inline uint32_t slots_for(uint32_t len, uint32_t buf_size) { return len <= buf_size ? 1 : (len + buf_size - 1) / buf_size; }

/// A piece of a frame to copy (the emulated RX path puts a VLAN tag back
/// between two pieces).
struct Piece {
    const unsigned char* data;
    uint32_t len;
};

/// Copy a frame into the RX slots from `tail` on (the caller checked there
/// are slots_for(len) free), chained with NS_MOREFRAG beyond one buffer;
/// `tail` moves past them.  EINVAL if a free slot names a bad buffer.
int copy_frame_to_rx(Region& region, netmap_ring* ring, uint32_t num_slots, uint32_t& tail,
                     std::initializer_list<Piece> pieces);

/// txsync by sendmmsg() on a packet socket: every frame (NS_MOREFRAG chains
/// gathered into one) from hwcur to head, slots free again at once.  A
/// chain not finished at head waits for the next sync.
int sendmmsg_txsync(int fd, Region& region, KRing& k, netmap_ring* ring);

/// Hand the buffers of the RX ring's free zone [hwtail, hwcur - 1) to a
/// back end, in ring order (used when a queue is opened).  `post` gets
/// each buffer index; returns how many were valid and posted.
template <class Post>
uint32_t for_each_free_rx_buffer(const Region& region, const KRing& k, const netmap_ring* ring, Post post) {
    const uint32_t n = k.num_slots;
    const uint32_t stop = k.hwcur.load(std::memory_order_relaxed) == 0
                              ? n - 1
                              : k.hwcur.load(std::memory_order_relaxed) - 1;
    uint32_t posted = 0;
    for (uint32_t j = k.hwtail.load(std::memory_order_relaxed); j != stop; j = ring_next(j, n)) {
        const uint32_t idx = ring->slot[j].buf_idx;
        if (!region.valid_buf(idx)) continue;
        post(idx);
        posted++;
    }
    return posted;
}

}  // namespace unetmap::nic
