// Zero-copy monitors ("P/z", NR_ZCOPY_MON; netmap_monitor.c's zmon).
//
// As in netmap, /z always watches both directions (/zr, /zt are the same
// thing), is named "P/zrt#<k>", and sees a packet only once P is done with
// it: on TX when P's txsync reclaims the slot (sent: a pipe's receiver
// released it, VALE copied it out, a NIC completed it), on RX when P's
// application releases the slot.  The packet is not copied: the slot's
// buffer is exchanged with the buffer of a free slot of the monitor's RX
// ring i, and P's slot gets NS_BUF_CHANGED.  So the monitor lives in P's
// region (it has no choice of nr_mem_id) and its RX rings take their
// buffers from P's pool; its TX ring has none.
//
// Chains.  Several zero-copy monitors of P form a chain per ring, in the
// order they were registered (`mon_seq`): the first takes what P releases;
// each next one takes, by the same exchange, what the previous one's
// application releases from its RX ring i (the monitor's rxsync does it).
// A monitor whose application does not release holds the packets back
// from the rest of the chain; P itself never waits.  A monitor whose ring
// is full misses the oldest of the packets offered (from a packet's first
// slot on), which stay where they were; counted as drops on its ring.
//
// Trust.  The monitor's rings are in P's region and its application may
// write anything into them, so the buffer each of its RX slots holds is
// kept in the control file (ZmonShadow, one entry per zero-copy monitor):
// the exchange gives P the shadow's buffer, never what the slot says;
// released slots get their shadow's buffer back (a zero-copy monitor
// cannot swap buffers of its own; NS_BUF_CHANGED on its ring is ignored);
// and at teardown the shadow says what goes back to the pool.  Buffers P's
// side hands over are range-checked (a bad one is not exchanged: a drop).
// When a monitor dies or closes, P keeps a full set of buffers in its
// slots (each exchange is one for one), the packets in the monitor's ring
// are lost, and the chain closes over the gap.
//
// Pipe ends.  A pipe's TX slot j and its peer's RX slot j name the same
// buffer; an exchange on a reclaimed TX slot updates the peer's slot too,
// and one on a released RX slot reaches the sender's TX slot through the
// pipe's own NS_BUF_CHANGED handling.
//
// A feeder killed half-way.  One exchange is several stores (the monitor's
// slot and shadow, the source slot, the previous monitor's shadow or the
// pipe peer's slot), and a batch of them is published by one store of the
// ring's hwtail, all under the monitor ring's lease.  A process killed in
// between would leave one buffer named twice (by the source slot and the
// shadow) and another named nowhere.  So the feeder first writes what it
// is about to do into the control file (ZmonBatch: the exchange, and
// where the batch began and has reached), and every store of an exchange
// writes the value it is meant to end with, so doing it again is harmless.
// Whoever next finds the lease's holder dead (a feeder locking it,
// monitor teardown, or Registry::gc, which tries the leases of unfinished
// batches before it releases dead bindings) completes the exchange under
// way and publishes the batch: its packets are delivered, none is lost
// or named twice.  The order of the stores is kept by compiler fences:
// the stores a killed process made are all in memory, in program order,
// for the next holder of the (robust) lease.
//
// NS_INDIRECT slots are not special here: a zero-copy monitor gets the
// slot's buffer.
#include "ports/monitor_zcopy.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string_view>

#include <net/netmap.h>

#include "core/crash_point.h"
#include "core/diag.h"
#include "core/kring.h"
#include "core/region.h"
#include "core/registry.h"
#include "ports/monitor.h"
#include "ports/pipe.h"
#include "ports/slot_check.h"

namespace unetmap {

namespace {

uint64_t slot_offset(uint64_t ring_ofs, uint32_t j) {
    return ring_ofs + offsetof(netmap_ring, slot) + static_cast<uint64_t>(j) * sizeof(netmap_slot);
}

bool slot_offset_ok(const Region& region, uint64_t ofs) {
    return ofs >= offsetof(netmap_ring, slot) && ofs % alignof(netmap_slot) == 0 &&
           ofs + sizeof(netmap_slot) <= region.memsize();
}

// Keeps the compiler from moving stores across it: what a process killed
// after this point wrote before it is in memory for the next lease holder.
inline void store_order() { std::atomic_signal_fence(std::memory_order_seq_cst); }

// The next zero-copy monitor of port `pp` in the chain of ring `ring`:
// the one registered first after `after_seq` whose ring `ring` watches
// direction `dir` (kNone: either).  nullptr if none.
PortEntry* next_zmon(Registry& reg, PortEntry& pp, uint32_t dir, uint32_t ring, uint32_t after_seq,
                     std::atomic<uint64_t>*& entry_out, uint64_t& ident_out) {
    PortEntry* best = nullptr;
    const uint32_t bit = 1u << ring;
    for (auto& entry : pp.monitors) {
        const uint64_t ident = entry.load(std::memory_order_acquire);
        const uint32_t slot = static_cast<uint32_t>(ident);
        if (ident == 0 || slot >= kMaxPorts) continue;
        PortEntry& m = reg.port(slot);
        if (!is_zmon(m) || m.mon_seq <= after_seq || (best && m.mon_seq >= best->mon_seq)) continue;
        const uint32_t w = dir == kNone ? m.mon_watch[kTx].load(std::memory_order_relaxed) |
                                              m.mon_watch[kRx].load(std::memory_order_relaxed)
                                        : m.mon_watch[dir].load(std::memory_order_relaxed);
        if (!(w & bit) || ring >= std::min(m.nrings[kRx], kMaxRings)) continue;
        best = &m;
        entry_out = &entry;
        ident_out = ident;
    }
    return best;
}

// Where the slots handed to a zero-copy monitor come from.
struct ZSource {
    netmap_ring* ring;
    uint64_t ring_ofs;       // its offset in the region
    uint32_t n;              // its number of slots
    uint32_t shadow_zslot;   // the previous monitor of a chain: its shadow entry, else kNone
    uint64_t peer_ring_ofs;  // a pipe end's TX ring: the peer's RX ring, kept in step; else 0
};

// The stores of exchange `b` into ring `r` of the monitor whose shadow is
// `zs`.  Each writes its final value: a second run (by whoever completes
// the exchange of a dead feeder) changes nothing the first one did.
void write_exchange(Registry& reg, Region& region, const KRing& mk, ZmonShadow& zs, uint32_t r, const ZmonBatch& b) {
    netmap_slot& ms = region.at<netmap_ring>(mk.ring_ofs)->slot[b.mon_slot];
    ms.buf_idx = b.pkt;
    ms.len = b.len;
    ms.flags = b.flags;
    ms.ptr = 0;
    zs.buf[r][b.mon_slot] = b.pkt;
    store_order();
    crash_point(CrashPoint::kZmonExchange);  // the packet named twice, the free buffer nowhere
    netmap_slot& ss = *region.at<netmap_slot>(b.src_slot_ofs);
    __atomic_store_n(&ss.buf_idx, b.give, __ATOMIC_RELAXED);
    const uint16_t f = __atomic_load_n(&ss.flags, __ATOMIC_RELAXED);
    __atomic_store_n(&ss.flags, static_cast<uint16_t>(f | NS_BUF_CHANGED), __ATOMIC_RELAXED);
    if (b.src_zslot < kMaxZmons) reg.hdr().zmon[b.src_zslot].buf[r][b.src_index] = b.give;
    if (b.peer_slot_ofs) __atomic_store_n(&region.at<netmap_slot>(b.peer_slot_ofs)->buf_idx, b.give, __ATOMIC_RELAXED);
}

// Exchange the buffers of slots [beg, end) of `src` with those of the free
// slots of monitor `m`'s RX ring `r` (all in `region`, P's), in order: the
// monitor's slots get the packets, the source's slots the monitor's free
// buffers (NS_BUF_CHANGED).  The caller holds the source ring (its sync).
void zmon_take(Registry& reg, Region& region, std::atomic<uint64_t>& entry, uint64_t ident, PortEntry& m,
               uint32_t r, const ZSource& src, uint32_t beg, uint32_t end) {
    KRing& mk = m.kring[kRx][r];
    if (m.mon_zslot >= kMaxZmons) return;
    ZmonShadow& zs = reg.hdr().zmon[m.mon_zslot];
    uint32_t* shadow = zs.buf[r];
    const uint32_t* src_shadow = src.shadow_zslot < kMaxZmons ? reg.hdr().zmon[src.shadow_zslot].buf[r] : nullptr;
    uint64_t pkts = 0, bytes = 0, drops = 0;
    bool sent = false;
    {
        RobustLock lk(mk.lease);
        if (lk.recovered()) zmon_lease_recovered(reg, region, m, r);
        // Still listed under the lease: not being freed (see monitor_destroy).
        if (entry.load(std::memory_order_relaxed) != ident) return;
        const uint32_t mn = mk.num_slots;
        uint32_t t = mk.hwtail.load(std::memory_order_relaxed);
        const uint32_t c = mk.hwcur.load(std::memory_order_acquire);  // slots the monitor released
        if (mn > kZmonMaxSlots || t >= mn || c >= mn) return;
        ZmonBatch& b = zs.batch[r];
        b.t_first = b.t_next = t;
        b.counted = 0;
        const uint32_t room = mn - 1 - ring_dist(c, t, mn);
        uint32_t count = ring_dist(beg, end, src.n);
        if (count > room) {
            // The oldest do not fit: skip them, up to the start of a packet.
            uint32_t skip = count - room;
            bool in_chain = false;
            while (count > 0 && (skip > 0 || in_chain)) {
                const uint16_t f = __atomic_load_n(&src.ring->slot[beg].flags, __ATOMIC_RELAXED);
                in_chain = f & NS_MOREFRAG;
                drops += !in_chain;
                beg = ring_next(beg, src.n);
                count--;
                if (skip) skip--;
            }
        }
        const uint32_t bsz = region.buf_size();
        for (; beg != end; beg = ring_next(beg, src.n)) {
            const netmap_slot s = read_slot(src.ring->slot[beg]);
            const uint32_t pkt = src_shadow ? src_shadow[beg] : s.buf_idx;
            const uint32_t give = shadow[t];
            if (!region.valid_buf(pkt) || !region.valid_buf(give)) {  // not a buffer: not exchanged
                drops += !(s.flags & NS_MOREFRAG);
                continue;
            }
            b.mon_slot = t;
            b.pkt = pkt;
            b.give = give;
            b.len = static_cast<uint16_t>(std::min<uint32_t>(s.len, bsz));
            b.flags = s.flags & NS_MOREFRAG;
            b.src_zslot = src.shadow_zslot;
            b.src_index = beg;
            b.src_slot_ofs = slot_offset(src.ring_ofs, beg);
            b.peer_slot_ofs = src.peer_ring_ofs ? slot_offset(src.peer_ring_ofs, beg) : 0;
            store_order();
            b.armed = 1;
            store_order();
            write_exchange(reg, region, mk, zs, r, b);
            t = ring_next(t, mn);
            b.t_next = t;
            store_order();
            b.armed = 0;
            bytes += b.len;
            pkts += !(s.flags & NS_MOREFRAG);
            sent = true;
        }
        // Counted, then published: a feeder dying in between is recounted
        // from the slots only if `counted` did not make it.
        if (pkts) mk.packets.fetch_add(pkts, std::memory_order_relaxed);
        if (bytes) mk.bytes.fetch_add(bytes, std::memory_order_relaxed);
        if (drops) mk.drops.fetch_add(drops, std::memory_order_relaxed);
        store_order();
        b.counted = 1;
        store_order();
        mk.hwtail.store(t, std::memory_order_release);
        b.t_first = t;
    }
    if (sent) {
        std::atomic_thread_fence(std::memory_order_seq_cst);  // publish before checking sleepers
        reg.notify(m, kRx, r);
    }
}

}  // namespace

// ---------------------------------------------------------------------------
// Data path
// ---------------------------------------------------------------------------

void zmon_feed(SyncContext& cx, KRing& k, uint32_t beg, uint32_t end) {
    if (beg == end || k.ring_id >= kMaxRings) return;
    std::atomic<uint64_t>* entry = nullptr;
    uint64_t ident = 0;
    PortEntry* m = next_zmon(cx.reg, cx.port, k.dir, k.ring_id, 0, entry, ident);
    if (!m) return;
    const ZSource src{cx.region.at<netmap_ring>(k.ring_ofs), k.ring_ofs, k.num_slots, kNone,
                      pipe_coupled_rx_ring(cx.reg, cx.port, k)};
    zmon_take(cx.reg, cx.region, *entry, ident, *m, k.ring_id, src, beg, end);
}

int zmon_rxsync(SyncContext& cx, KRing& k) {
    PortEntry& m = cx.port;
    // Released slots show the buffers they truly hold again (whatever the
    // application wrote there), then go to the next monitor of the chain,
    // if any, by exchange.
    const uint32_t n = k.num_slots, head = k.rhead, r = k.ring_id;
    if (r >= kMaxRings || n > kZmonMaxSlots || m.mon_zslot >= kMaxZmons) return EINVAL;
    uint32_t* shadow = cx.reg.hdr().zmon[m.mon_zslot].buf[r];
    auto* ring = cx.region.at<netmap_ring>(k.ring_ofs);
    const uint32_t hwcur = k.hwcur.load(std::memory_order_relaxed);
    for (uint32_t j = hwcur; j != head; j = ring_next(j, n)) {
        netmap_slot& s = ring->slot[j];
        __atomic_store_n(&s.buf_idx, shadow[j], __ATOMIC_RELAXED);
        const uint16_t f = __atomic_load_n(&s.flags, __ATOMIC_RELAXED);
        if (f & NS_BUF_CHANGED) __atomic_store_n(&s.flags, static_cast<uint16_t>(f & ~NS_BUF_CHANGED), __ATOMIC_RELAXED);
    }
    if (hwcur != head && m.mon_parent < kMaxPorts) {
        std::atomic<uint64_t>* entry = nullptr;
        uint64_t ident = 0;
        if (PortEntry* next = next_zmon(cx.reg, cx.reg.port(m.mon_parent), kNone, r, m.mon_seq, entry, ident))
            zmon_take(cx.reg, cx.region, *entry, ident, *next, r, ZSource{ring, k.ring_ofs, n, m.mon_zslot, 0}, hwcur,
                      head);
    }
    k.hwcur.store(head, std::memory_order_release);  // the feeders' free space
    (void)k.hwtail.load(std::memory_order_acquire);
    return 0;
}

// ---------------------------------------------------------------------------
// A feeder that died holding the lease
// ---------------------------------------------------------------------------

void zmon_lease_recovered(Registry& reg, Region& region, PortEntry& m, uint32_t r) {
    if (!is_zmon(m) || r >= std::min(m.nrings[kRx], kMaxRings)) return;
    ZmonShadow& zs = reg.hdr().zmon[m.mon_zslot];
    ZmonBatch& b = zs.batch[r];
    KRing& mk = m.kring[kRx][r];
    const uint32_t n = mk.num_slots;
    if (n > kZmonMaxSlots) return;
    if (b.armed) {
        // The record is ours (the control file), but check it as if it
        // were not: a bad one is dropped, never written through.
        const bool ok = b.mon_slot < n && region.valid_buf(b.pkt) && region.valid_buf(b.give) &&
                        slot_offset_ok(region, b.src_slot_ofs) &&
                        (b.peer_slot_ofs == 0 || slot_offset_ok(region, b.peer_slot_ofs)) &&
                        (b.src_zslot == kNone || (b.src_zslot < kMaxZmons && b.src_index < kZmonMaxSlots));
        if (ok) {
            write_exchange(reg, region, mk, zs, r, b);
            b.t_next = ring_next(b.mon_slot, n);
        }
        b.armed = 0;
    }
    // Publish what the batch exchanged, unless its feeder already did.
    const uint32_t hw = mk.hwtail.load(std::memory_order_relaxed);
    if (hw == b.t_first && b.t_next != b.t_first && b.t_next < n) {
        if (!b.counted) {
            // From the monitor's own slots (written by the exchanges): a
            // monitor that scribbled on its free slots miscounts only itself.
            const auto* ring = region.at<netmap_ring>(mk.ring_ofs);
            uint64_t pkts = 0, bytes = 0;
            for (uint32_t j = b.t_first; j != b.t_next; j = ring_next(j, n)) {
                bytes += __atomic_load_n(&ring->slot[j].len, __ATOMIC_RELAXED);
                pkts += !(__atomic_load_n(&ring->slot[j].flags, __ATOMIC_RELAXED) & NS_MOREFRAG);
            }
            mk.packets.fetch_add(pkts, std::memory_order_relaxed);
            mk.bytes.fetch_add(bytes, std::memory_order_relaxed);
        }
        mk.hwtail.store(b.t_next, std::memory_order_release);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        reg.notify(m, kRx, r);
    }
    b.t_first = b.t_next = mk.hwtail.load(std::memory_order_relaxed);
    b.counted = 1;
}

void monitor_collect_dead_feeders(Registry& reg) {
    for (uint32_t z = 0; z < kMaxZmons; z++) {
        ZmonShadow& zs = reg.hdr().zmon[z];
        if (!zs.in_use || zs.port >= kMaxPorts) continue;
        PortEntry& m = reg.port(zs.port);
        if (!m.in_use || m.mon_zslot != z) continue;
        std::shared_ptr<Region> region;
        for (uint32_t r = 0; r < std::min(m.nrings[kRx], kMaxRings); r++) {
            const ZmonBatch& b = zs.batch[r];
            if (!b.armed && b.t_next == b.t_first) continue;  // no batch under way
            RobustMutex& lease = m.kring[kRx][r].lease;
            const RobustMutex::Try got = lease.try_lock();
            if (got == RobustMutex::Try::kBusy) continue;  // its feeder is alive and at it
            if (got == RobustMutex::Try::kRecovered) {
                if (!region) region = reg.region(m.region);
                if (region) zmon_lease_recovered(reg, *region, m, r);
            }
            lease.unlock();
        }
    }
}

// ---------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------

uint32_t zmon_free_shadow(Registry& reg, std::string_view watched) {
    for (uint32_t i = 0; i < kMaxZmons; i++)
        if (!reg.hdr().zmon[i].in_use) return i;
    (void)UNETMAP_REFUSE(ENOMEM, "zero-copy monitor of '%.*s': %u zero-copy monitors exist already (all ports together)",
                         static_cast<int>(watched.size()), watched.data(), kMaxZmons);
    return kNone;
}

int zmon_shadow_claim(Registry& reg, uint32_t port, uint32_t zslot) {
    PortEntry& m = reg.port(port);
    ZmonShadow& zs = reg.hdr().zmon[zslot];
    auto region = reg.region(m.region);
    if (!region || m.nrings[kRx] > kMaxRings) return ENOMEM;
    for (uint32_t i = 0; i < m.nrings[kRx]; i++) {
        const KRing& k = m.kring[kRx][i];
        if (k.num_slots > kZmonMaxSlots) return ENOMEM;
        const auto* ring = region->at<netmap_ring>(k.ring_ofs);
        for (uint32_t j = 0; j < k.num_slots; j++) zs.buf[i][j] = ring->slot[j].buf_idx;
        zs.batch[i] = ZmonBatch{};
        zs.batch[i].t_first = zs.batch[i].t_next = k.hwtail.load(std::memory_order_relaxed);
        zs.batch[i].counted = 1;
        zs.batch[i].src_zslot = kNone;
    }
    zs.port = port;
    zs.in_use = 1;
    m.mon_zslot = zslot;
    return 0;
}

void zmon_shadow_release(Registry& reg, PortEntry& m) {
    // Free what the shadow says the monitor holds, not what its rings say.
    ZmonShadow& zs = reg.hdr().zmon[m.mon_zslot];
    if (auto region = reg.region(m.region)) {
        for (uint32_t r = 0; r < std::min(m.nrings[kRx], kMaxRings); r++) {
            const KRing& k = m.kring[kRx][r];
            auto* ring = region->at<netmap_ring>(k.ring_ofs);
            for (uint32_t j = 0; j < std::min(k.num_slots, kZmonMaxSlots); j++) ring->slot[j].buf_idx = zs.buf[r][j];
        }
        for (uint32_t r = 0; r < std::min(m.nrings[kTx], kMaxRingsAll); r++) {
            const KRing& k = m.kring[kTx][r];
            auto* ring = region->at<netmap_ring>(k.ring_ofs);
            for (uint32_t j = 0; j < k.num_slots; j++) ring->slot[j].buf_idx = 0;  // it has none
        }
    }
    zs.in_use = 0;
}

void zmon_repair(Registry& reg) {
    for (uint32_t z = 0; z < kMaxZmons; z++) {
        ZmonShadow& zs = reg.hdr().zmon[z];
        if (!zs.in_use) continue;
        if (zs.port >= kMaxPorts || !reg.port(zs.port).in_use || reg.port(zs.port).kind != PortKind::Monitor ||
            reg.port(zs.port).mon_zslot != z)
            zs.in_use = 0;
    }
    for (uint32_t i = 0; i < kMaxPorts; i++) {
        PortEntry& m = reg.port(i);
        if (m.in_use && m.kind == PortKind::Monitor && is_zmon(m) && !reg.hdr().zmon[m.mon_zslot].in_use)
            m.mon_zslot = kNone;
    }
}

}  // namespace unetmap
