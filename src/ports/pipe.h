// What other port code needs to know about pipes (src/ports/pipe.cpp).
#pragma once

#include <cstdint>

#include "core/port_type.h"

namespace unetmap {

struct KRing;

/// A buffer was moved into slot `slot` of TX ring `k` of pipe end
/// `cx.port`, a slot its txsync has reclaimed (a zero-copy monitor took the
/// old one).  The peer's RX ring names the same buffer at the same index
/// until the next send overwrites it; keep it so, so that the buffer the
/// slot gave away is not found in the pipe's slots when the pipe is freed.
/// Called in the sender's sync (its TX ring busy): the peer's slot is in
/// its free zone, which only that sync writes.
void pipe_tx_buffer_moved(SyncContext& cx, const KRing& k, uint32_t slot, uint32_t buf);

}  // namespace unetmap
