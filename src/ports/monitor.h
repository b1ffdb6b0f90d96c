// Monitor ports: netmap's copy monitors ("PORT/r", "PORT/t", "PORT/rt")
// and zero-copy monitors ("PORT/z": see the top of monitor_zcopy.cpp).
//
// REGISTER with NR_MONITOR_RX and/or NR_MONITOR_TX on an existing, bound
// port creates a port of kind Monitor for that one binding.  Its RX ring i
// receives a copy of what goes through ring i of the watched port: with
// NR_MONITOR_TX what that port's TX ring i is handed to send, with
// NR_MONITOR_RX what its RX ring i delivers to the application.  The copy
// runs inside the watched port's syncs (the hook in Descriptor::sync_ring);
// a monitor that does not keep up loses packets (counted as drops on its
// RX ring) and never slows the port it watches.  Details and limits are at
// the top of monitor.cpp.
//
// The control-plane functions run under the control lock; the two sync
// hooks run in the watched port's sync, holding that ring's busy word.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/port_type.h"

namespace unetmap {

class Registry;
struct PortEntry;
struct KRing;

/// What monitor_before_sync remembers for monitor_after_sync.
struct MonitorTap {
    uint32_t old_hwcur = 0;   // the ring's hwcur before the port's sync
    uint32_t old_rtail = 0;   // and its rtail (RX: where the new slots start)
    uint32_t old_hwtail = 0;  // TX: hwtail before the sync (zero-copy: what the sync reclaims)
    uint32_t copied_to = 0;   // TX: end of what was copied before the sync
    bool copied = false;      // TX: the copy ran (the prologue accepted head)
};

// ---- control plane (control lock held) ---------------------------------------

/// Reset the monitor fields of a port slot being (re)used (Registry::new_port).
void monitor_port_init(PortEntry& p);
/// Create the monitor port for a REGISTER of `name` with monitor flags, with
/// one reference for the caller.  NR_ZCOPY_MON makes a zero-copy monitor
/// (both directions, as in netmap).  ENXIO: no such port; EINVAL: the port
/// is not bound by any descriptor (netmap: not in netmap mode) or is itself
/// a monitor; ENOMEM: no room (8 monitors per port, kMaxZmons zero-copy
/// monitors in all, or no buffers left in the port's region).
int monitor_create(Registry& reg, std::string_view name, uint64_t flags, const PortShape& shape,
                   uint32_t& out);
/// Start feeding monitor port `port` once its binding is committed: its RX
/// rings [first_rx, last_rx) watch the same rings of the monitored port.
void monitor_activate(Registry& reg, uint32_t port, uint64_t flags, uint32_t first_rx, uint32_t last_rx);
/// Registry::repair: add the references monitors hold on the ports they
/// watch to `port_refs` and rebuild the ports' monitor lists.
void monitor_repair(Registry& reg, uint32_t* port_refs);
/// Registry::gc, before it releases dead bindings: zero-copy exchanges a
/// dead process left half-written are completed (monitor_zcopy.cpp).
void monitor_collect_dead_feeders(Registry& reg);

// ---- data path (the watched ring's busy word held) ------------------------------

/// Before the port type's sync; `head` is what the prologue returned
/// (>= num_slots: rejected).  TX: copies the packets handed over.  RX:
/// hands the slots the application released to a zero-copy monitor.
void monitor_before_sync(SyncContext& cx, KRing& k, uint32_t head, MonitorTap& tap);
/// After the sync (and after ring_reinit if it failed).  RX: copies the
/// packets the sync made available.  TX: hands the slots the sync
/// reclaimed to a zero-copy monitor.
void monitor_after_sync(SyncContext& cx, KRing& k, const MonitorTap& tap, bool ok);

}  // namespace unetmap
