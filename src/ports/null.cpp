// The null port ("null" or "null:NAME"): netmap's null adapter.  It has
// rings and buffers in a region (nr_mem_id, default the global one) but no
// wire: everything transmitted is consumed at once, nothing is ever
// received.  Useful to get memory and rings without I/O, to measure the
// cost of the sync path itself, and as a sink.
#include <string_view>

#include "core/port_type.h"
#include "core/registry.h"
#include "ports/slot_check.h"

namespace unetmap {

namespace {

bool null_match(std::string_view name) {
    return name == "null" || name.starts_with("null:");
}

int null_create(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out) {
    uint32_t region;
    if (int e = reg.get_region(shape.mem_id, region)) return e;
    const uint32_t nrings[2] = {shape.tx_rings ? shape.tx_rings : 1u, shape.rx_rings ? shape.rx_rings : 1u};
    const uint32_t nslots[2] = {shape.tx_slots ? shape.tx_slots : kDefaultSlots,
                                shape.rx_slots ? shape.rx_slots : kDefaultSlots};
    const bool fill[2] = {true, true};
    int e = (nrings[0] > kMaxRings || nrings[1] > kMaxRings)
                ? EINVAL
                : reg.new_port(name, PortKind::Null, region, nrings, nslots, fill, out);
    reg.put_region(region);  // new_port took its own reference
    return e;
}

void null_destroy(Registry& reg, uint32_t port) {
    const uint32_t p[1] = {port};
    reg.free_ports(p);
}

int null_txsync(SyncContext& cx, KRing& k) {
    auto* ring = cx.region.at<netmap_ring>(k.ring_ofs);
    const uint32_t n = k.num_slots, head = k.rhead;
    uint64_t bytes = 0, pkts = 0;
    for (uint32_t j = k.hwcur.load(std::memory_order_relaxed); j != head; j = ring_next(j, n)) {
        const netmap_slot& s = ring->slot[j];
        if (!slot_ok(cx.region, s)) return EINVAL;
        bytes += s.len;
        pkts++;
    }
    k.packets.fetch_add(pkts, std::memory_order_relaxed);
    k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    k.hwcur.store(head, std::memory_order_relaxed);
    k.hwtail.store(head == 0 ? n - 1 : head - 1, std::memory_order_relaxed);  // all sent at once
    return 0;
}

int null_rxsync(SyncContext&, KRing& k) {
    k.hwcur.store(k.rhead, std::memory_order_relaxed);  // released slots: nothing to refill
    return 0;
}

}  // namespace

extern const PortType null_port_type = {
    "null", null_match, null_create, null_destroy, null_txsync, null_rxsync,
};

}  // namespace unetmap
