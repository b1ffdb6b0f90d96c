// Releasing slots on an RX ring fed by copies: VALE ports (the switch
// copies into them), monitors (the watched port's syncs copy), emulated
// NICs (rxsync copies from the AF_PACKET ring).  The feeder writes into
// whatever buffer a free slot holds, after checking its index, so a slot
// keeps its buffer when released, even one the user swapped in: handing
// slots back is clearing NS_BUF_CHANGED and moving hwcur.
#pragma once

#include <net/netmap.h>

#include "core/kring.h"
#include "core/region.h"

namespace unetmap {

inline void release_copy_fed_rx(Region& region, KRing& k) {
    auto* ring = region.at<netmap_ring>(k.ring_ofs);
    const uint32_t n = k.num_slots, head = k.rhead;
    for (uint32_t j = k.hwcur.load(std::memory_order_relaxed); j != head; j = ring_next(j, n)) {
        const uint16_t f = __atomic_load_n(&ring->slot[j].flags, __ATOMIC_RELAXED);
        if (f & NS_BUF_CHANGED) ring->slot[j].flags = f & ~NS_BUF_CHANGED;
    }
    k.hwcur.store(head, std::memory_order_release);  // the feeders' free space
    // Make the slots feeders published visible before sync_finalize copies
    // hwtail into ring->tail.
    (void)k.hwtail.load(std::memory_order_acquire);
}

}  // namespace unetmap
