// Per-slot validation shared by the port types' txsync: a slot the user
// hands us must name a real buffer and fit in it.  Anything else makes the
// sync fail and the ring be reinitialised (netmap's behaviour).
#pragma once

#include <net/netmap.h>

#include "core/region.h"

namespace unetmap {

inline bool slot_ok(const Region& r, const netmap_slot& s) {
    return r.valid_buf(s.buf_idx) && s.len <= r.buf_size();
}

}  // namespace unetmap
