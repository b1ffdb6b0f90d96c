// Per-slot validation shared by the port types' txsync: a slot the user
// hands us must name a real buffer and fit in it.  Anything else makes the
// sync fail and the ring be reinitialised (netmap's behaviour).
#pragma once

#include <atomic>
#include <cstring>

#include <net/netmap.h>

#include "core/region.h"

namespace unetmap {

// Read a slot the user may be writing concurrently, once: the compiler may
// not read its fields again after they were checked.
inline netmap_slot read_slot(const netmap_slot& s) {
    netmap_slot v;
    std::memcpy(&v, &s, sizeof v);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return v;
}

inline bool slot_ok(const Region& r, const netmap_slot& s) {
    return r.valid_buf(s.buf_idx) && s.len <= r.buf_size();
}

}  // namespace unetmap
