// What other port code needs to know about pipes (src/ports/pipe.cpp).
#pragma once

#include <cstdint>

#include "core/port_type.h"

namespace unetmap {

class Registry;
struct KRing;
struct PortEntry;

/// Ring `k` of `port`: if it is a pipe end's TX ring, the region offset
/// of the peer's RX ring coupled with it (slot j of both names the same
/// buffer), else 0.  A zero-copy monitor that moves a buffer into a
/// reclaimed TX slot writes it into the coupled slot too (the slot is in
/// the peer's free zone, which only the sender's sync writes), so that the
/// buffer given away is not found in the pipe's slots when it is freed.
uint64_t pipe_coupled_rx_ring(Registry& reg, const PortEntry& port, const KRing& k);

}  // namespace unetmap
