// Netmap pipes: "NAME{ID" (master end) and "NAME}ID" (slave end).
//
// The first open of either end creates both; they live until neither has a
// user.  Each end's TX ring i is coupled with the other end's RX ring i and
// the two share buffers slot by slot, as in netmap: slot j of the TX ring
// and slot j of the peer's RX ring name the same buffer.  txsync copies the
// slot descriptors [hwcur, head) into the peer's RX ring (16 bytes each, no
// payload copy) and publishes the peer's hwtail; the receiver's rxsync
// hands back, for released slots, any buffer it swapped in (NS_BUF_CHANGED)
// and publishes its hwcur, which bounds the sender's tail.  One producer
// and one consumer per coupled pair, so no lock: each side writes only its
// own indices (see kring.h), with release stores paired with the other
// side's acquire loads:
//
//   sender  : write slots; hwtail(peer RX) <- head   [release, P1]
//   receiver: hwtail(own RX)                          [acquire, pairs P1]
//   receiver: hwcur(own RX) <- head                   [release, P2]
//   sender  : hwcur(peer RX) to compute its tail      [acquire, pairs P2]
//
// The parent ("NAME") need not exist; if it is a port, the pipe uses its
// memory region, otherwise the global one (nr_mem_id may choose another).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <string_view>

#include "core/port_type.h"
#include "core/registry.h"
#include "ports/pipe.h"
#include "ports/slot_check.h"

namespace unetmap {

namespace {

struct PipeName {
    std::string master, slave, parent;
};

bool split_pipe_name(std::string_view name, PipeName& out) {
    const size_t pos = name.find_last_of("{}");
    if (pos == std::string_view::npos || pos == 0 || pos + 1 >= name.size()) return false;
    const std::string_view parent = name.substr(0, pos), id = name.substr(pos + 1);
    for (char c : id)
        if (c == '{' || c == '}') return false;
    if (parent.find_first_of("{}") != std::string_view::npos) return false;
    out.parent = std::string(parent);
    out.master = out.parent + "{" + std::string(id);
    out.slave = out.parent + "}" + std::string(id);
    return true;
}

bool pipe_match(std::string_view name) {
    PipeName pn;
    return split_pipe_name(name, pn);
}

int pipe_create(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out) {
    PipeName pn;
    if (!split_pipe_name(name, pn)) return EINVAL;
    uint32_t region;
    const uint32_t parent = reg.find_port(pn.parent);
    const uint32_t mem_id = shape.mem_id ? shape.mem_id
                            : parent != kNone ? reg.hdr().regions[reg.port(parent).region].mem_id
                                              : 0;
    if (int e = reg.get_region(mem_id, region)) return e;

    // Sizes follow the opener's request, seen from the master's side.
    const bool opener_is_master = name == pn.master;
    uint32_t tx = shape.tx_rings ? shape.tx_rings : 1, rx = shape.rx_rings ? shape.rx_rings : tx;
    uint32_t txs = shape.tx_slots ? shape.tx_slots : kDefaultSlots;
    uint32_t rxs = shape.rx_slots ? shape.rx_slots : txs;
    if (!opener_is_master) {
        std::swap(tx, rx);
        std::swap(txs, rxs);
    }
    int e = 0;
    uint32_t m = kNone, s = kNone;
    if (tx > kMaxRings || rx > kMaxRings) e = EINVAL;
    if (!e) {
        const uint32_t mr[2] = {tx, rx}, ms[2] = {txs, rxs};
        const bool fill[2] = {true, true};
        e = reg.new_port(pn.master, PortKind::PipeMaster, region, mr, ms, fill, m);
    }
    if (!e) {
        const uint32_t sr[2] = {rx, tx}, ss[2] = {rxs, txs};
        const bool nofill[2] = {false, false};
        e = reg.new_port(pn.slave, PortKind::PipeSlave, region, sr, ss, nofill, s);
        if (e) {
            const uint32_t only[1] = {m};
            reg.free_ports(only);
        }
    }
    reg.put_region(region);
    if (e) return e;

    PortEntry& pm = reg.port(m);
    PortEntry& ps = reg.port(s);
    pm.peer = s;
    ps.peer = m;
    // Couple the rings: the slave's RX ring i shares the master's TX ring i
    // buffers, and the slave's TX ring i the master's RX ring i buffers.
    auto r = reg.region(pm.region);
    for (uint32_t d = 0; d < 2; d++)
        for (uint32_t i = 0; i < pm.nrings[d]; i++) {
            auto* from = r->at<netmap_ring>(pm.kring[d][i].ring_ofs);
            auto* to = r->at<netmap_ring>(ps.kring[1 - d][i].ring_ofs);
            for (uint32_t j = 0; j < from->num_slots; j++) to->slot[j] = from->slot[j];
        }
    out = opener_is_master ? m : s;
    return 0;
}

void pipe_destroy(Registry& reg, uint32_t port) {
    // An end without users stays as long as its peer has some: the pipe
    // goes away with its last user, in either order.
    const uint32_t peer = reg.port(port).peer;
    if (peer != kNone && reg.port(peer).in_use && reg.port(peer).refs > 0) return;
    if (peer != kNone && reg.port(peer).in_use) {
        const uint32_t both[2] = {port, peer};
        reg.free_ports(both);
    } else {
        const uint32_t one[1] = {port};
        reg.free_ports(one);
    }
}

int pipe_txsync(SyncContext& cx, KRing& k) {
    PortEntry& peer = cx.reg.port(cx.port.peer);
    KRing& rk = peer.kring[kRx][k.ring_id];
    auto* txring = cx.region.at<netmap_ring>(k.ring_ofs);
    auto* rxring = cx.region.at<netmap_ring>(rk.ring_ofs);
    const uint32_t n = k.num_slots, head = k.rhead;
    uint32_t j = k.hwcur.load(std::memory_order_relaxed);
    if (j != head) {
        uint64_t bytes = 0, pkts = 0;
        for (; j != head; j = ring_next(j, n)) {
            netmap_slot& ts = txring->slot[j];
            const netmap_slot s = ts;  // one read of the user's slot
            if (!slot_ok(cx.region, s)) return EINVAL;
            rxring->slot[j] = s;
            if (s.flags & NS_BUF_CHANGED) ts.flags = s.flags & ~NS_BUF_CHANGED;
            bytes += s.len;
            pkts += !(s.flags & NS_MOREFRAG);
        }
        k.packets.fetch_add(pkts, std::memory_order_relaxed);
        k.bytes.fetch_add(bytes, std::memory_order_relaxed);
        // The receiving end counts them too (its statistics line is written
        // only here: the receiver never touches it).
        rk.packets.fetch_add(pkts, std::memory_order_relaxed);
        rk.bytes.fetch_add(bytes, std::memory_order_relaxed);
        rk.hwtail.store(head, std::memory_order_release);  // P1
        k.hwcur.store(head, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);  // publish before checking sleepers
        cx.reg.notify(peer, kRx, k.ring_id);
    }
    const uint32_t peer_hwcur = rk.hwcur.load(std::memory_order_acquire);  // pairs P2
    k.hwtail.store(peer_hwcur == 0 ? n - 1 : peer_hwcur - 1, std::memory_order_relaxed);
    return 0;
}

int pipe_rxsync(SyncContext& cx, KRing& k) {
    PortEntry& peer = cx.reg.port(cx.port.peer);
    KRing& tk = peer.kring[kTx][k.ring_id];
    auto* rxring = cx.region.at<netmap_ring>(k.ring_ofs);
    auto* txring = cx.region.at<netmap_ring>(tk.ring_ofs);
    const uint32_t n = k.num_slots, head = k.rhead;
    uint32_t j = k.hwcur.load(std::memory_order_relaxed);
    if (j != head) {
        for (; j != head; j = ring_next(j, n)) {
            netmap_slot& rs = rxring->slot[j];
            const netmap_slot s = rs;
            if (s.flags & NS_BUF_CHANGED) {
                // The receiver swapped a buffer in: give it to the sender's slot.
                if (!cx.region.valid_buf(s.buf_idx)) return EINVAL;
                txring->slot[j] = s;
                rs.flags = s.flags & ~NS_BUF_CHANGED;
            }
        }
        k.hwcur.store(head, std::memory_order_release);  // P2
        std::atomic_thread_fence(std::memory_order_seq_cst);
        cx.reg.notify(peer, kTx, k.ring_id);
    }
    // hwtail is advanced by the sender (P1); sync_finalize reads it.
    return 0;
}

}  // namespace

uint64_t pipe_coupled_rx_ring(Registry& reg, const PortEntry& port, const KRing& k) {
    const bool pipe = port.kind == PortKind::PipeMaster || port.kind == PortKind::PipeSlave;
    if (!pipe || k.dir != kTx || port.peer >= kMaxPorts || k.ring_id >= kMaxRings) return 0;
    const KRing& rk = reg.port(port.peer).kring[kRx][k.ring_id];
    return rk.num_slots == k.num_slots ? rk.ring_ofs : 0;
}

extern const PortType pipe_port_type = {
    "pipe", pipe_match, pipe_create, pipe_destroy, pipe_txsync, pipe_rxsync,
};

}  // namespace unetmap
