// The interface every port type implements (netmap's nm_register /
// nm_txsync / nm_rxsync / nm_krings_create / nm_dtor callbacks).  One file
// per type in src/ports/ fills one of these; the core knows no type by name.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <net/netmap.h>

namespace unetmap {

class Registry;
class Region;
struct PortEntry;
struct KRing;

/// What one descriptor of this process holds of a port whose rings are
/// served by kernel objects of the process itself (a NIC port's AF_XDP or
/// AF_PACKET sockets).  Shared memory cannot hold a socket: each process
/// that binds such a port opens its own, and the descriptor keeps them
/// alive through this object.
class LocalBinding {
public:
    virtual ~LocalBinding() = default;
    /// What poll/select/epoll sleep on for this descriptor instead of its
    /// socket: readable when the kernel has something for a bound ring or
    /// a peer sent a wakeup.
    [[nodiscard]] virtual int wait_fd() const = 0;
    /// The descriptor is about to sleep on wait_fd(), for input or only
    /// for output (arm), or is done sleeping (disarm).  Calls pair up.
    virtual void arm(bool /*for_input*/) {}
    virtual void disarm() {}
};

/// What a sync needs besides the ring: where the buffers are and how to
/// reach other ports (pipe peers, switch ports) and wake their sleepers.
struct SyncContext {
    Registry& reg;
    Region& region;
    PortEntry& port;
    LocalBinding* local = nullptr;  // the descriptor's, for types that have one
};

/// The rings one registration binds: [first[d], last[d]) per direction.
struct RingSpan {
    uint32_t first[2] = {0, 0}, last[2] = {0, 0};
};

/// Sizes asked for at creation (nmreq_register fields; 0 = default).
struct PortShape {
    uint32_t tx_rings = 0, rx_rings = 0, tx_slots = 0, rx_slots = 0;
    uint32_t host_tx_rings = 0, host_rx_rings = 0;
    uint32_t mem_id = 0;
};

struct PortType {
    const char* name;
    /// Does this type own the port name (as received in nmreq_header.nr_name)?
    bool (*match)(std::string_view name);
    /// Create port(s) named `name` under the control lock; returns the port
    /// slot in `out` and 0, or a positive errno.  Types that create ports on
    /// demand (pipes, VALE) do it here; others return ENXIO.
    int (*create)(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out);
    /// Release everything of a port whose last reference went away (control lock held).
    void (*destroy)(Registry& reg, uint32_t port);
    /// Data path.  Called after the prologue validated head/cur (k.rhead,
    /// k.rcur); must set k.hwcur/k.hwtail.  Return 0 or a positive errno
    /// (the ring is then reinitialised).
    int (*txsync)(SyncContext& cx, KRing& k);
    int (*rxsync)(SyncContext& cx, KRing& k);
    /// Optional (nullptr for types living entirely in shared memory).  Open
    /// this process's kernel objects for `rings` of `port`, for descriptor
    /// socket `fd`, under the control lock; on success `out` holds them.
    /// Called at REGISTER (an error fails the registration, nothing kept)
    /// and when a descriptor is adopted or duplicated.  Returns 0 or errno.
    int (*open_local)(Registry& reg, uint32_t port, const RingSpan& rings, int fd,
                      std::shared_ptr<LocalBinding>& out) = nullptr;
};

/// All port types, in matching order (the last one is the fallback).
std::span<const PortType* const> port_types();
const PortType* port_type_for(std::string_view name);
const PortType& port_type_of(const PortEntry& p);

}  // namespace unetmap
