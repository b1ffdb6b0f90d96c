// Zero-copy monitors ("PORT/z"): the buffer exchange and the records that
// keep it honest (src/ports/monitor_zcopy.cpp).  Used by monitor.cpp, which
// owns the monitor port type and the copy monitors; see the top of
// monitor_zcopy.cpp for how the exchange works.
#pragma once

#include <cstdint>

#include "core/port_type.h"
#include "core/registry.h"

namespace unetmap {

class Region;

inline bool is_zmon(const PortEntry& m) { return m.mon_zslot < kMaxZmons; }

// ---- control plane (control lock held) ---------------------------------------

/// A free shadow entry, or kNone (with the refusal printed).
uint32_t zmon_free_shadow(Registry& reg, std::string_view watched);
/// Make shadow entry `zslot` the record of new monitor port `port`'s RX
/// rings (the buffers they were created with).  ENOMEM if the rings do not
/// fit a shadow (cannot happen: monitor_create bounds them).
int zmon_shadow_claim(Registry& reg, uint32_t port, uint32_t zslot);
/// Monitor `m` is being freed, its feeders waited out: its RX slots get
/// the buffers the shadow says it holds (what goes back to the pool), its
/// TX slots none, and the entry is free.
void zmon_shadow_release(Registry& reg, PortEntry& m);
/// Registry::repair: drop shadows whose monitor is gone and monitors whose
/// shadow is gone (a process killed half-way through creating or freeing).
void zmon_repair(Registry& reg);
/// Registry::gc, before dead bindings are released: batches whose feeder
/// died holding the lease are completed and published (a monitor or port
/// freed first would give back a buffer still named elsewhere).
void zmon_collect_dead_feeders(Registry& reg);
/// A lease of monitor `m`'s RX ring `r` was found held by a dead process
/// (RobustLock::recovered): complete and publish what it was writing.
/// `region` is the monitor's (the watched port's) region.
void zmon_lease_recovered(Registry& reg, Region& region, PortEntry& m, uint32_t r);

// ---- data path (the source ring's busy word held) -----------------------------

/// Slots [beg, end) of ring k of the watched port are done with (TX:
/// reclaimed by its txsync; RX: released by its application): the first
/// zero-copy monitor of that ring takes them.
void zmon_feed(SyncContext& cx, KRing& k, uint32_t beg, uint32_t end);
/// The zero-copy monitor's own rxsync: released slots get their true
/// buffers back and go on to the next monitor of the chain.
int zmon_rxsync(SyncContext& cx, KRing& k);

}  // namespace unetmap
