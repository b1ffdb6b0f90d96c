// Copy monitors (netmap's "PORT/r", "/t", "/rt"; see monitor.h).
//
// Shape.  A monitor of port P is a port of its own, named "P/<r><t>#<k>"
// (never found by name: names with '/' are refused), with netmap's
// geometry: one TX ring, unused (a sync with anything queued fails), and
// max(P's TX rings, P's RX rings) RX rings, as many slots as P's rings
// unless nr_tx_slots/nr_rx_slots ask otherwise (at most 4096).  Its memory
// is a private region, or the region nr_mem_id names.  The registration's
// mode and ring id select rings as for P: monitor RX ring i, if bound,
// watches P's TX ring i (with /t) and P's RX ring i (with /r), so with /rt
// both directions of ring i arrive in one ring, each packet where its
// sync put it.  P is found by its own name or, for a persistent VALE port
// attached to a switch, as "valeS:P".  P must exist (ENXIO otherwise) and
// be bound by a descriptor (EINVAL otherwise, netmap's "not in netmap
// mode"); monitors never create ports.  A monitor
// holds a reference on P: P stays, rings and all, until its last monitor
// is gone, and a new open of P finds it again.
//
// Shared state.  P's PortEntry lists its monitors (`monitors[]`, each
// (generation << 32) | port slot, at most 8) and counts them in
// `nmonitors`; the monitor's PortEntry names P (`mon_parent`) and the rings
// of P it watches (`mon_watch`).  All written under the control lock.
//
// Data path.  Descriptor::sync_ring loads P's `nmonitors` (relaxed) on every
// sync; when it is nonzero it calls the two hooks below, with P's ring held
// (busy) by the syncing thread:
//   TX, before the port's txsync: the packets in [hwcur, head), those the
//      application hands over, are copied as netmap does it (a copy monitor
//      sees a transmitted frame before it is passed on).  Copying after
//      the sync would race with a pipe peer that may already have received
//      and reused a zero-copy buffer.
//   RX, after rxsync and sync_finalize: the packets in [old tail, new tail),
//      those the sync made available to the application.
// Only complete packets are copied (NS_MOREFRAG chains, delivered whole or
// dropped whole, so /rt never interleaves fragments of two directions).  A
// trailing incomplete chain waits for its end: TX remembers in the kring
// how many slots after hwcur were already copied (a port may leave a chain
// unconsumed, as VALE does), RX how many slots before tail wait.  If the
// port or the application moves past the start of such a chain before it
// is complete (a pipe sender syncing in the middle of a chain, a receiver
// releasing half a chain), it is lost: one drop is counted and its other
// fragments are skipped.
//
// Each monitor RX ring may be fed by two syncs at once (P's TX and RX ring
// of the same index, possibly in two processes), so a feeder takes the
// ring's lease (KRing::lease, a robust mutex) as VALE senders do, checks
// that the monitor is still in P's list, copies the packets that fit
// (one slot per fragment, truncated to the monitor's buffer size), counts
// the rest as drops, publishes hwtail (release), unlocks and wakes the
// monitor's sleepers (Registry::notify; one load when nobody sleeps).  The
// monitor's rxsync only returns released slots (hwcur, release).  A
// monitor that never reads fills up and then only counts drops.
//
// Removal (monitor closed, its process dead: Registry::release_binding ->
// put_port -> monitor_destroy): clear the list entry, then take and release
// every RX lease of the monitor, so no feeder still writes its rings when
// they are freed; then drop the reference on P.
//
// The hook state in each of P's krings (mon_held, mon_skip) is reset when a
// monitor is added to a port that had none (a fresh `mon_epoch`).
//
// Zero-copy monitors ("P/z", NR_ZCOPY_MON) exchange buffers instead of
// copying: see monitor_zcopy.cpp.
// NS_INDIRECT slots are copied from their pointer on TX (the sender's own
// process), from their buffer on RX.
#include "ports/copy_fed_rx.h"
#include "ports/monitor.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <net/netmap.h>

#include "core/diag.h"
#include "core/kring.h"
#include "core/region.h"
#include "core/registry.h"
#include "ctl/copyio.h"
#include "ports/monitor_zcopy.h"
#include "ports/slot_check.h"
#include "ports/vale.h"

namespace unetmap {

namespace {

constexpr uint32_t kMonitorMaxSlots = 4096;  // netmap: NM_MONITOR_MAXSLOTS

uint64_t ident_of(const PortEntry& m, uint32_t slot) { return (static_cast<uint64_t>(m.gen) << 32) | slot; }

uint32_t bounded(uint32_t v, uint32_t dflt, uint32_t lo, uint32_t hi) {
    if (v == 0 || v < lo) return std::clamp(dflt, lo, hi);
    return std::min(v, hi);
}

// The packets of one sync, as read (once) from the watched ring.
struct Batch {
    std::vector<netmap_slot> frag;
    std::vector<uint32_t> end;  // per packet: index in frag after its last fragment
};

Batch& batch() {
    thread_local Batch b;
    return b;
}

// Gather the complete packets of [j, end) into b; returns the slot after
// the last one.  Stops at a slot the port's own sync would refuse.
uint32_t gather(const Region& src, const netmap_ring* ring, uint32_t n, uint32_t j, uint32_t end, Batch& b) {
    b.frag.clear();
    b.end.clear();
    uint32_t done = j;
    for (; j != end; j = ring_next(j, n)) {
        const netmap_slot s = read_slot(ring->slot[j]);
        if (s.len > src.buf_size() || (!(s.flags & NS_INDIRECT) && !src.valid_buf(s.buf_idx))) break;
        b.frag.push_back(s);
        if (s.flags & NS_MOREFRAG) continue;
        b.end.push_back(static_cast<uint32_t>(b.frag.size()));
        done = ring_next(j, n);
    }
    b.frag.resize(b.end.empty() ? 0 : b.end.back());
    return done;
}

// Copy a batch into one monitor RX ring; the ring's lease is held.
void copy_batch(const Region& src, bool sender_side, Region& dst, KRing& mk, const Batch& b) {
    auto* mring = dst.at<netmap_ring>(mk.ring_ofs);
    const uint32_t n = mk.num_slots;
    uint32_t t = mk.hwtail.load(std::memory_order_relaxed);
    const uint32_t c = mk.hwcur.load(std::memory_order_acquire);  // slots the monitor gave back
    if (t >= n || c >= n) return;
    uint32_t room = n - 1 - ring_dist(c, t, n);
    uint64_t pkts = 0, bytes = 0, drops = 0;
    uint32_t f = 0;
    for (const uint32_t fend : b.end) {
        const uint32_t nf = fend - f;
        if (nf > room) {  // does not fit: dropped for this monitor only
            drops++;
            f = fend;
            continue;
        }
        bool damaged = false;
        for (; f < fend; f++) {
            const netmap_slot& s = b.frag[f];
            netmap_slot& ds = mring->slot[t];
            const uint32_t dbuf = __atomic_load_n(&ds.buf_idx, __ATOMIC_RELAXED);
            uint32_t len = 0;
            if (dst.valid_buf(dbuf)) {  // the monitor's application may have swapped in anything
                len = std::min<uint32_t>(s.len, dst.buf_size());
                std::byte* to = dst.buf(dbuf);
                if ((s.flags & NS_INDIRECT) && sender_side) {
                    if (copy_in(to, s.ptr, len)) len = 0, damaged = true;
                } else if (src.valid_buf(s.buf_idx)) {
                    std::memcpy(to, src.buf(s.buf_idx), len);
                } else {
                    len = 0, damaged = true;
                }
            } else {
                damaged = true;
            }
            ds.len = static_cast<uint16_t>(len);
            ds.flags = s.flags & NS_MOREFRAG;
            ds.ptr = 0;
            bytes += len;
            t = ring_next(t, n);
        }
        room -= nf;
        pkts++;
        drops += damaged;
    }
    mk.hwtail.store(t, std::memory_order_release);
    if (pkts) mk.packets.fetch_add(pkts, std::memory_order_relaxed);
    if (bytes) mk.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (drops) mk.drops.fetch_add(drops, std::memory_order_relaxed);
}

// Offer a batch from ring `ring_id` of direction `dir` of the watched port
// to every monitor watching that ring.  lost > 0: only count that many drops.
void deliver(SyncContext& cx, uint32_t dir, uint32_t ring_id, const Batch* b, uint64_t lost) {
    const uint32_t bit = 1u << ring_id;
    for (auto& entry : cx.port.monitors) {
        const uint64_t ident = entry.load(std::memory_order_acquire);
        const uint32_t slot = static_cast<uint32_t>(ident);
        if (ident == 0 || slot >= kMaxPorts) continue;
        PortEntry& m = cx.reg.port(slot);
        if (is_zmon(m) || !(m.mon_watch[dir].load(std::memory_order_relaxed) & bit)) continue;
        if (ring_id >= std::min(m.total_rings(kRx), kMaxRingsAll)) continue;  // host ring included
        KRing& mk = m.kring[kRx][ring_id];
        if (!b) {
            mk.drops.fetch_add(lost, std::memory_order_relaxed);
            continue;
        }
        bool sent = false;
        {
            RobustLock lk(mk.lease);  // a dead holder left nothing half-published
            // Still listed under the lease: the monitor is not being freed
            // (monitor_destroy clears the entry, then takes every lease).
            if (entry.load(std::memory_order_relaxed) != ident) continue;
            if (Region* dst = cx.reg.thread_region(m.region)) {
                copy_batch(cx.region, dir == kTx, *dst, mk, *b);
                sent = true;
            }
        }
        if (sent) {
            std::atomic_thread_fence(std::memory_order_seq_cst);  // publish before checking sleepers
            cx.reg.notify(m, kRx, ring_id);
        }
    }
}

// If the start of a chain was lost, drop fragments of [j, end) up to its
// end; returns where copying may resume.
uint32_t skip_lost(KRing& k, const netmap_ring* ring, uint32_t j, uint32_t end) {
    while (k.mon_skip && j != end) {
        const uint16_t f = __atomic_load_n(&ring->slot[j].flags, __ATOMIC_RELAXED);
        j = ring_next(j, k.num_slots);
        if (!(f & NS_MOREFRAG)) k.mon_skip = 0;
    }
    return j;
}

// Does a monitor watch ring `ring_id` of direction `dir` of the port?
bool watched(const PortEntry& p, Registry& reg, uint32_t dir, uint32_t ring_id) {
    for (const auto& entry : p.monitors) {
        const uint64_t ident = entry.load(std::memory_order_acquire);
        const uint32_t slot = static_cast<uint32_t>(ident);
        if (ident != 0 && slot < kMaxPorts && !is_zmon(reg.port(slot)) &&
            (reg.port(slot).mon_watch[dir].load(std::memory_order_relaxed) & (1u << ring_id)))
            return true;
    }
    return false;
}

// Is the RX ring of every copy monitor watching this ring full?  Read
// without the leases: a monitor that makes room meanwhile only misses
// what it would have got a moment later.
bool all_full(const PortEntry& p, Registry& reg, uint32_t dir, uint32_t ring_id) {
    for (const auto& entry : p.monitors) {
        const uint64_t ident = entry.load(std::memory_order_acquire);
        const uint32_t slot = static_cast<uint32_t>(ident);
        if (ident == 0 || slot >= kMaxPorts) continue;
        const PortEntry& m = reg.port(slot);
        if (is_zmon(m) || !(m.mon_watch[dir].load(std::memory_order_relaxed) & (1u << ring_id))) continue;
        if (ring_id >= std::min(m.total_rings(kRx), kMaxRingsAll)) continue;
        const KRing& mk = m.kring[kRx][ring_id];
        const uint32_t n = mk.num_slots, t = mk.hwtail.load(std::memory_order_relaxed);
        const uint32_t c = mk.hwcur.load(std::memory_order_relaxed);
        if (t < n && c < n && ring_dist(c, t, n) + 1 < n) return false;
    }
    return true;
}

// The complete packets of [j, end) as gather() would take them, counted
// only; returns the slot after the last one.
uint32_t count_complete(const Region& src, const netmap_ring* ring, uint32_t n, uint32_t j, uint32_t end,
                        uint64_t& pkts) {
    uint32_t done = j;
    pkts = 0;
    for (; j != end; j = ring_next(j, n)) {
        const netmap_slot s = read_slot(ring->slot[j]);
        if (s.len > src.buf_size() || (!(s.flags & NS_INDIRECT) && !src.valid_buf(s.buf_idx))) break;
        if (s.flags & NS_MOREFRAG) continue;
        pkts++;
        done = ring_next(j, n);
    }
    return done;
}

// Copy the complete packets of [start, end); returns the slot after them.
uint32_t feed(SyncContext& cx, KRing& k, const netmap_ring* ring, uint32_t start, uint32_t end) {
    start = skip_lost(k, ring, start, end);
    if (start == end || !watched(cx.port, cx.reg, k.dir, k.ring_id)) return end;
    if (all_full(cx.port, cx.reg, k.dir, k.ring_id)) {  // nothing fits: count, copy nothing
        uint64_t pkts = 0;
        const uint32_t done = count_complete(cx.region, ring, k.num_slots, start, end, pkts);
        if (pkts) deliver(cx, k.dir, k.ring_id, nullptr, pkts);
        return done;
    }
    Batch& b = batch();
    const uint32_t done = gather(cx.region, ring, k.num_slots, start, end, b);
    if (!b.end.empty()) deliver(cx, k.dir, k.ring_id, &b, 0);
    return done;
}

void lose_chain(SyncContext& cx, KRing& k) {
    k.mon_skip = 1;
    deliver(cx, k.dir, k.ring_id, nullptr, 1);
}

// ---------------------------------------------------------------------------
// The monitor port's own callbacks
// ---------------------------------------------------------------------------

bool monitor_match(std::string_view) { return false; }  // never opened by name

int monitor_create_by_name(Registry&, std::string_view, const PortShape&, uint32_t&) { return ENXIO; }

void monitor_destroy(Registry& reg, uint32_t port) {
    PortEntry& m = reg.port(port);
    const uint32_t parent = m.mon_parent;
    if (parent < kMaxPorts && reg.port(parent).in_use) {
        PortEntry& pp = reg.port(parent);
        const uint64_t ident = ident_of(m, port);
        for (auto& entry : pp.monitors) {
            uint64_t expected = ident;
            if (entry.compare_exchange_strong(expected, 0, std::memory_order_seq_cst))
                pp.nmonitors.fetch_sub(1, std::memory_order_relaxed);
        }
        // Wait out feeders that found the entry before it was cleared; one
        // that died there left a zero-copy batch to complete.
        for (uint32_t r = 0; r < std::min(m.total_rings(kRx), kMaxRingsAll); r++) {
            RobustLock lk(m.kring[kRx][r].lease);
            if (lk.recovered() && is_zmon(m))
                if (auto region = reg.region(m.region)) zmon_lease_recovered(reg, *region, m, r);
        }
    }
    if (is_zmon(m)) zmon_shadow_release(reg, m);
    monitor_port_init(m);
    const uint32_t one[1] = {port};
    reg.free_ports(one);
    if (parent < kMaxPorts) reg.put_port(parent);
}

// Nothing can be sent through a monitor (netmap fails such a sync too).
int monitor_txsync(SyncContext&, KRing& k) {
    return k.rhead == k.hwcur.load(std::memory_order_relaxed) ? 0 : EINVAL;
}

int monitor_rxsync(SyncContext& cx, KRing& k) {
    PortEntry& m = cx.port;
    if (!is_zmon(m)) {
        release_copy_fed_rx(cx.region, k);  // the watched port's syncs fill the ring
        return 0;
    }
    return zmon_rxsync(cx, k);
}

}  // namespace

extern const PortType monitor_port_type = {
    "monitor", monitor_match, monitor_create_by_name, monitor_destroy, monitor_txsync, monitor_rxsync,
};

// ---------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------

namespace {

// The port a name designates: its own name, or "valeS:P" for a port
// attached to switch S under another name (a persistent VALE port "P").
uint32_t find_watched(Registry& reg, std::string_view name) {
    const uint32_t p = reg.find_port(name);
    if (p != kNone) return p;
    std::string_view sw_name, port_name;
    if (vale::split_name(name, sw_name, port_name)) return kNone;
    const uint32_t sw = vale::find_switch(reg, sw_name);
    const uint32_t m = sw == kNone ? kNone : vale::find_member(reg, sw, name);
    if (m == kNone) return kNone;
    const vale::Member& mb = vale::area(reg).sw[sw].members[m];
    const uint64_t ident = mb.ident.load(std::memory_order_relaxed);
    const uint32_t port = static_cast<uint32_t>(ident);
    if (mb.kind != vale::kMemberVale || port >= kMaxPorts || !reg.port(port).in_use ||
        reg.port(port).gen != static_cast<uint32_t>(ident >> 32))
        return kNone;
    return port;
}

}  // namespace

void monitor_port_init(PortEntry& p) {
    p.nmonitors.store(0, std::memory_order_relaxed);
    for (auto& e : p.monitors) e.store(0, std::memory_order_relaxed);
    p.mon_parent = kNone;
    p.mon_watch[kTx].store(0, std::memory_order_relaxed);
    p.mon_watch[kRx].store(0, std::memory_order_relaxed);
    p.mon_zslot = kNone;
    p.mon_seq = 0;
}

int monitor_create(Registry& reg, std::string_view name, uint64_t flags, const PortShape& shape,
                   uint32_t& out) {
    const bool zcopy = flags & NR_ZCOPY_MON;
    if (zcopy) flags |= NR_MONITOR_TX | NR_MONITOR_RX;  // as netmap: both directions
    const uint32_t parent = find_watched(reg, name);
    if (parent == kNone) return ENXIO;
    PortEntry& pp = reg.port(parent);
    if (pp.kind == PortKind::Monitor) return EINVAL;
    if (pp.nlisteners == 0) return EINVAL;  // nobody has it open: netmap's "not in netmap mode"
    uint32_t free_entry = kNone;
    for (uint32_t i = 0; i < PortEntry::kMaxMonitors && free_entry == kNone; i++)
        if (pp.monitors[i].load(std::memory_order_relaxed) == 0) free_entry = i;
    if (free_entry == kNone)
        return UNETMAP_REFUSE(ENOMEM, "monitor of '%.*s': the port has %u monitors already", static_cast<int>(name.size()),
                              name.data(), PortEntry::kMaxMonitors);
    const uint32_t zslot = zcopy ? zmon_free_shadow(reg, name) : kNone;
    if (zcopy && zslot == kNone) return ENOMEM;

    const uint32_t nrings[2] = {1, std::max(pp.nrings[kTx], pp.nrings[kRx])};
    // A copy monitor mirrors the watched port's host ring too (NIC ports:
    // "netmap:eth0^/rt"), at the same index; zero-copy monitors watch the
    // NIC rings only (their shadow table has kMaxRings rows).
    const uint32_t nhost[2] = {0, zcopy ? 0u : std::max(pp.nhost[kTx], pp.nhost[kRx])};
    const uint32_t nslots[2] = {bounded(shape.tx_slots, pp.nslots[kTx], 2, kMonitorMaxSlots),
                                bounded(shape.rx_slots, pp.nslots[kRx], 2, kMonitorMaxSlots)};
    // Zero-copy: P's own region (nr_mem_id cannot choose another: REGISTER
    // refuses one that differs).  Copy: a private one, or nr_mem_id's.
    uint32_t region = pp.region;
    if (!zcopy)
        if (int e = shape.mem_id ? reg.get_region(shape.mem_id, region)
                                 : vale::private_region(reg, nrings, nslots, region))
            return e;

    std::string suffix("/");
    if (zcopy) suffix.push_back('z');
    if (flags & NR_MONITOR_RX) suffix.push_back('r');
    if (flags & NR_MONITOR_TX) suffix.push_back('t');
    suffix.append("#").append(std::to_string(free_entry));
    std::string mname(name.substr(0, kNameMax - 1 - suffix.size()));
    mname.append(suffix);

    // A zero-copy monitor's TX ring has no buffers: nothing is sent through
    // it, and nothing in it may be freed at teardown.
    const bool fill[2] = {!zcopy, true};
    int e = reg.new_port(mname, PortKind::Monitor, region, nrings, nslots, fill, out, nhost);
    if (!zcopy) reg.put_region(region);  // new_port took its own reference
    if (e) return e;
    PortEntry& m = reg.port(out);
    m.mon_parent = parent;
    if (zcopy)
        if (int ze = zmon_shadow_claim(reg, out, zslot)) {  // cannot happen: the rings fit
            const uint32_t one[1] = {out};
            reg.free_ports(one);
            return ze;
        }
    pp.refs++;  // the monitor keeps what it watches
    m.refs++;   // the caller's
    return 0;
}

void monitor_activate(Registry& reg, uint32_t port, uint64_t flags, uint32_t first_rx, uint32_t last_rx) {
    PortEntry& m = reg.port(port);
    if (m.kind != PortKind::Monitor || m.mon_parent >= kMaxPorts) return;
    PortEntry& pp = reg.port(m.mon_parent);
    if (flags & NR_ZCOPY_MON) flags |= NR_MONITOR_TX | NR_MONITOR_RX;
    if (is_zmon(m)) m.mon_seq = reg.next_gen();  // after every zero-copy monitor already there
    uint32_t watch[2] = {0, 0};
    const uint32_t limit = is_zmon(m) ? kMaxRings : kMaxRingsAll;  // copy monitors: host ring too
    for (uint32_t i = first_rx; i < last_rx && i < limit; i++) {
        if ((flags & NR_MONITOR_TX) && i < pp.total_rings(kTx)) watch[kTx] |= 1u << i;
        if ((flags & NR_MONITOR_RX) && i < pp.total_rings(kRx)) watch[kRx] |= 1u << i;
    }
    m.mon_watch[kTx].store(watch[kTx], std::memory_order_relaxed);
    m.mon_watch[kRx].store(watch[kRx], std::memory_order_relaxed);
    for (auto& entry : pp.monitors) {
        if (entry.load(std::memory_order_relaxed) != 0) continue;
        entry.store(ident_of(m, port), std::memory_order_release);
        // A fresh epoch when the hook starts running again: the state it
        // left in the krings last time is stale.
        if (pp.nmonitors.load(std::memory_order_relaxed) == 0)
            pp.mon_epoch.store(reg.next_gen(), std::memory_order_relaxed);
        pp.nmonitors.fetch_add(1, std::memory_order_release);
        return;
    }
}

void monitor_repair(Registry& reg, uint32_t* port_refs) {
    zmon_repair(reg);
    for (uint32_t i = 0; i < kMaxPorts; i++) {
        PortEntry& p = reg.port(i);
        if (!p.in_use) continue;
        p.nmonitors.store(0, std::memory_order_relaxed);
        for (auto& e : p.monitors) e.store(0, std::memory_order_relaxed);
    }
    for (uint32_t i = 0; i < kMaxPorts; i++) {
        PortEntry& m = reg.port(i);
        if (!m.in_use || m.kind != PortKind::Monitor) continue;
        const uint32_t parent = m.mon_parent;
        if (parent >= kMaxPorts || !reg.port(parent).in_use) {
            m.mon_parent = kNone;  // watches nothing any more
            m.mon_watch[kTx].store(0, std::memory_order_relaxed);
            m.mon_watch[kRx].store(0, std::memory_order_relaxed);
            continue;
        }
        port_refs[parent]++;
        PortEntry& pp = reg.port(parent);
        const bool active = m.mon_watch[kTx].load(std::memory_order_relaxed) |
                            m.mon_watch[kRx].load(std::memory_order_relaxed);
        if (!active) continue;
        for (auto& entry : pp.monitors) {
            if (entry.load(std::memory_order_relaxed) != 0) continue;
            entry.store(ident_of(m, i), std::memory_order_release);
            if (pp.nmonitors.load(std::memory_order_relaxed) == 0)
                pp.mon_epoch.store(reg.next_gen(), std::memory_order_relaxed);
            pp.nmonitors.fetch_add(1, std::memory_order_release);
            break;
        }
    }
}

// ---------------------------------------------------------------------------
// Data path
// ---------------------------------------------------------------------------

void monitor_before_sync(SyncContext& cx, KRing& k, uint32_t head, MonitorTap& tap) {
    // Pairs with monitor_activate's release of nmonitors: the epoch read
    // below is the one published with it (or newer).
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint32_t epoch = cx.port.mon_epoch.load(std::memory_order_relaxed);
    if (k.mon_epoch != epoch) {
        k.mon_epoch = epoch;
        k.mon_held = 0;
        k.mon_skip = 0;
    }
    const uint32_t n = k.num_slots;
    tap.old_hwcur = k.hwcur.load(std::memory_order_relaxed);
    tap.old_rtail = k.rtail;
    tap.old_hwtail = k.hwtail.load(std::memory_order_relaxed);
    if (head >= n) return;
    if (k.dir == kRx) {
        // Zero-copy: the slots the application releases now, before the
        // port's rxsync takes them back (with the buffers swapped in).
        zmon_feed(cx, k, tap.old_hwcur, head);
        return;
    }
    const uint32_t end = k.rhead;
    if (k.mon_held > ring_dist(tap.old_hwcur, end, n)) k.mon_held = 0;  // cannot happen; be safe
    uint32_t start = tap.old_hwcur + k.mon_held;
    if (start >= n) start -= n;
    const auto* ring = cx.region.at<netmap_ring>(k.ring_ofs);
    tap.copied_to = feed(cx, k, ring, start, end);
    tap.copied = true;
}

void monitor_after_sync(SyncContext& cx, KRing& k, const MonitorTap& tap, bool ok) {
    const uint32_t n = k.num_slots;
    if (k.dir == kTx) {
        // Zero-copy: what the sync reclaimed, [old hwtail + 1, hwtail + 1)
        // (TX keeps one slot empty before hwcur), even if it then failed.
        const uint32_t t1 = tap.old_hwtail, t2 = k.hwtail.load(std::memory_order_relaxed);
        if (t1 != t2 && t1 < n && t2 < n) zmon_feed(cx, k, ring_next(t1, n), ring_next(t2, n));
        if (!ok || !tap.copied) {  // reinitialised: the application hands the slots over again
            k.mon_held = 0;
            return;
        }
        const uint32_t h1 = tap.old_hwcur, h2 = k.hwcur.load(std::memory_order_relaxed);
        const uint32_t p = tap.copied_to;
        if (ring_dist(h1, p, n) >= ring_dist(h1, h2, n)) {
            k.mon_held = ring_dist(h2, p, n);  // copied, not consumed yet
        } else {
            // The port consumed the start of a chain we were waiting to see whole.
            k.mon_held = 0;
            lose_chain(cx, k);
        }
        return;
    }
    if (!ok) return;
    const uint32_t t_old = tap.old_rtail, t_new = k.rtail;
    const uint32_t h2 = k.hwcur.load(std::memory_order_relaxed);
    uint32_t held = k.mon_held;
    if (held > ring_dist(h2, t_old, n)) {  // the application released part of a waiting chain
        held = 0;
        lose_chain(cx, k);
    }
    uint32_t start = t_old + n - held;
    if (start >= n) start -= n;
    const auto* ring = cx.region.at<netmap_ring>(k.ring_ofs);
    const uint32_t done = feed(cx, k, ring, start, t_new);
    k.mon_held = ring_dist(done, t_new, n);
}

}  // namespace unetmap
