// VALE: software Ethernet switches, "valeS:P" (netmap's VALE).
//
// Opening "valeS:P" (NETMAP_REQ_REGISTER) creates switch S if needed and
// an ephemeral port P on it; the port goes away with its last descriptor
// (or its owner's death: gc releases the binding, put_port calls
// vale_destroy), and the switch with its last port.  Persistent ports are
// created by NETMAP_REQ_VALE_NEWIF under a plain name ("v0") and live
// without a descriptor until NETMAP_REQ_VALE_DELIF; VALE_ATTACH puts one
// (or an existing null port, as a sink) on a switch as "valeS:v0".  The
// requests themselves are in src/ctl/vale_ctl.cpp; the shared state layout
// in vale.h.
//
// Memory.  Each port gets a region of its own (netmap gives VALE ports
// private allocators), sized for its rings, with a fresh mem_id >= 2,
// unless nr_mem_id names a region to share.
//
// Forwarding (netmap's nm_bdg_preflush + nm_bdg_flush) runs in the
// sender's txsync, in batches of up to 1024 slots:
//   1. gather: read each slot of [hwcur, head) once, validate it (buffer
//      index and length against the sender's region), and group slots into
//      packets (NS_MOREFRAG chains, at most NETMAP_MAX_FRAGS slots; a longer
//      chain is dropped whole; an incomplete chain at head waits for the
//      next sync);
//   2. look up every packet of the batch: learn the source address (unless
//      NS_NO_LEARN or multicast source) in the switch's MAC table; a known
//      unicast destination selects one member, anything else floods; a
//      packet is never sent back to its own port;
//   3. per destination: take the destination RX ring's lease (a robust
//      process-shared mutex: a sender killed while holding it leaves
//      EOWNERDEAD to the next locker, nothing to repair since hwtail is
//      published in one store), check the member is still the port we
//      looked up, copy each fragment into the next free RX slot (one RX slot
//      per TX slot; a fragment longer than the destination's buffers is
//      truncated to the buffer size: netmap cuts such a copy short too,
//      though to 64 bytes), a packet whose RX slots name no valid buffer
//      is delivered as empty slots and counted as a drop,
//      publish hwtail (release), unlock, then fence and notify sleepers.
//      A packet that does not fit is dropped and counted in the destination
//      kring's `drops`: a sender never waits for a receiver.
// Unicast goes to RX ring (sender's TX ring index mod destination's RX
// rings), broadcast to ring 0, as netmap does.  The receiver's rxsync only
// publishes hwcur: RX slots keep their own buffers (the switch copies).
// Nothing is delivered to an RX ring no descriptor binds.
//
// Leaving a switch (control lock held): clear the member's ident, then take
// and release every RX lease of the port.  A sender checks ident after
// taking the lease, so once this returns nobody writes into the port's
// rings and it can be freed.  Frames a sender looked up before the removal
// may still reach whatever port reuses the member index (netmap has the
// same window); learnt addresses of the member are forgotten.
//
// Limits: 64 switches (netmap: 8 by default), 254 ports per switch; the
// registry's tables (ports, regions: each private VALE port uses one
// region) bound the total.
//
// Trust model.  Everything the switch reads from shared memory is checked
// before use: TX slots (buffer index and length, in the sender's region),
// RX slots it writes into (buffer index, in the destination's region), MAC
// table entries (member index bounds), member entries (port slot bounds and
// generation, rechecked under the lease).  A corrupt entry misroutes or
// drops frames; it cannot make the switch write outside a buffer.  But the
// switch is not a security boundary between its users: a sender's process
// maps every destination region it delivers to (it copies the frames
// itself), all of them can read and write the control file, and region
// files sit in the same directory.  Processes attached to one switch can
// therefore read (and corrupt) each other's buffers and rings.  Who may
// attach at all is decided by the permissions of the state directory
// ($UNETMAP_DIR) and its files, as for every other unetmap port.
#include "ports/copy_fed_rx.h"
#include "ports/gso_split.h"
#include "ports/partial_csum.h"
#include "ports/vale.h"
#include "ports/slot_check.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>
#include <net/if.h>
#include <unetmap/stats.h>
#include <string>
#include <string_view>

#include <net/netmap.h>

#include "core/diag.h"
#include "core/region.h"
#include "core/registry.h"
#include "ctl/copyio.h"

namespace unetmap {

extern const PortType vale_port_type;

namespace vale {

namespace {

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

bool is_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool all_id_chars(std::string_view s) { return std::all_of(s.begin(), s.end(), is_id_char); }

bool host_interface_exists(std::string_view name) {
    if (name.empty() || name.size() >= IF_NAMESIZE) return false;
    const std::string n(name);
    return ::if_nametoindex(n.c_str()) != 0;
}

template <size_t N>
void set_name(char (&dst)[N], std::string_view src) {
    std::memset(dst, 0, sizeof dst);
    src.copy(dst, N - 1);  // not memcpy: an empty view's data() may be null
}

template <size_t N>
std::string_view name_of(const char (&n)[N]) { return {n, strnlen(n, N)}; }

// ---------------------------------------------------------------------------
// Regions
// ---------------------------------------------------------------------------

uint32_t bound(uint32_t v, uint32_t dflt, uint32_t lo, uint32_t hi) {  // netmap's nm_bound_var
    if (v == 0 || v < lo) return dflt;
    return v > hi ? hi : v;
}

struct Shape {
    uint32_t nrings[2], nslots[2];
};

Shape shape_of(const PortShape& s) {
    Shape r;
    r.nrings[kTx] = bound(s.tx_rings, 1, 1, kMaxRings);
    r.nrings[kRx] = bound(s.rx_rings, 1, 1, kMaxRings);
    r.nslots[kTx] = bound(s.tx_slots, kRingSize, 2, kMaxSlots);
    r.nslots[kRx] = bound(s.rx_slots, kRingSize, 2, kMaxSlots);
    return r;
}

// A private region: the configured pools, grown where this port needs more
// (rings of up to kMaxSlots slots, a buffer per slot plus room for extra
// buffers and pipes of this port).
int new_private_region(Registry& reg, const Shape& sh, uint32_t& slot) {
    CtlHeader& h = reg.hdr();
    uint32_t free_slot = kNone;
    for (uint32_t i = 0; i < kMaxRegions && free_slot == kNone; i++)
        if (!h.regions[i].in_use) free_slot = i;
    if (free_slot == kNone)
        return UNETMAP_REFUSE(ENOMEM, "no free region entry for a private memory region (all %u in use)", kMaxRegions);

    RegionConfig cfg = RegionConfig::from_env();
    const uint32_t maxslots = std::max(sh.nslots[kTx], sh.nslots[kRx]);
    // Rounded to the ring's alignment (NM_CACHE_ALIGN, 128), so that every
    // ring object of the pool is aligned (RegionConfig::validate insists).
    constexpr uint64_t kAlign = alignof(netmap_ring);
    const uint32_t ring_bytes = static_cast<uint32_t>(
        (sizeof(netmap_ring) + static_cast<uint64_t>(maxslots) * sizeof(netmap_slot) + kAlign - 1) / kAlign * kAlign);
    cfg.ring_size = std::max(cfg.ring_size, ring_bytes);
    cfg.ring_num = std::max(cfg.ring_num, sh.nrings[kTx] + sh.nrings[kRx] + 16);
    const uint32_t need = sh.nrings[kTx] * sh.nslots[kTx] + sh.nrings[kRx] * sh.nslots[kRx];
    cfg.buf_num = std::max(cfg.buf_num, need + need / 2 + 4096);

    // A mem_id nobody uses, >= 2 (1 is the global region), searched from
    // where the last search stopped so ids are not reused at once.
    Area& a = area(reg);
    uint32_t id = a.next_mem_id < 2 || a.next_mem_id > 0xffff ? 2 : a.next_mem_id;
    bool found = false;
    for (uint32_t tries = 0; tries < 0xfffe && !found; tries++) {
        found = true;
        for (const RegionEntry& e : h.regions)
            if (e.in_use && e.mem_id == id) found = false;
        if (!found) id = id == 0xffff ? 2 : id + 1;
    }
    if (!found) return ENOMEM;
    a.next_mem_id = id == 0xffff ? 2 : id + 1;

    RegionEntry& e = h.regions[free_slot];
    e.mem_id = id;
    e.gen = reg.next_gen();
    const std::string path = reg.region_file(free_slot);
    shm_remove(path);  // a stale file of a crashed creator
    Region r;
    if (int err = Region::create(path, id, cfg, r)) return err;
    e.memsize = r.memsize();
    e.refs = 1;
    e.in_use = 1;
    slot = free_slot;
    return 0;
}

// Create a VALE port (on no switch yet) with its region.
int make_port(Registry& reg, std::string_view name, const PortShape& ps, uint32_t& out) {
    const Shape sh = shape_of(ps);
    uint32_t region;
    int e = ps.mem_id ? reg.get_region(ps.mem_id, region) : new_private_region(reg, sh, region);
    if (e) return e;
    const bool fill[2] = {true, true};
    e = reg.new_port(name, PortKind::Vale, region, sh.nrings, sh.nslots, fill, out);
    reg.put_region(region);  // new_port took its own reference
    if (e) return e;
    VPort& v = area(reg).vports[out];
    v.flags = 0;
    v.where.store(0, std::memory_order_relaxed);
    v.tx_skip.store(0, std::memory_order_relaxed);
    v.hdr_len.store(0, std::memory_order_relaxed);
    v.gen = reg.port(out).gen;
    return 0;
}

// ---------------------------------------------------------------------------
// Switches and members (control lock held)
// ---------------------------------------------------------------------------

uint32_t new_switch(Registry& reg, std::string_view sw_name) {
    Area& a = area(reg);
    for (uint32_t i = 0; i < kMaxSwitches; i++) {
        Switch& s = a.sw[i];
        if (s.in_use) continue;
        s.nmembers = 0;
        set_name(s.name, sw_name);
        for (auto& w : s.active) w.store(0, std::memory_order_relaxed);
        for (auto& m : s.members) m.ident.store(0, std::memory_order_relaxed);
        for (auto& e : s.ht) e.store(0, std::memory_order_relaxed);
        s.in_use = 1;
        return i;
    }
    return kNone;
}

uint32_t free_member(const Switch& s) {
    for (uint32_t m = 0; m < kMaxMembers; m++)
        if (s.members[m].ident.load(std::memory_order_relaxed) == 0) return m;
    return kNone;
}

void add_member(Registry& reg, uint32_t sw, uint32_t m, std::string_view full_name, uint32_t port,
                uint32_t kind) {
    Switch& s = area(reg).sw[sw];
    Member& mb = s.members[m];
    PortEntry& p = reg.port(port);
    mb.kind = kind;
    set_name(mb.name, full_name);
    mb.ident.store((static_cast<uint64_t>(p.gen) << 32) | port, std::memory_order_release);
    s.active[m / 64].fetch_or(1ULL << (m % 64), std::memory_order_release);
    s.nmembers++;
    area(reg).vports[port].where.store((sw + 1) | (m << 16), std::memory_order_release);
}

// Take member m off switch sw, wait until no sender is still copying into
// its rings, forget its addresses, and free the switch if it was the last.
void remove_member(Registry& reg, uint32_t sw, uint32_t m) {
    if (sw >= kMaxSwitches || m >= kMaxMembers) return;
    Switch& s = area(reg).sw[sw];
    Member& mb = s.members[m];
    const uint64_t ident = mb.ident.exchange(0, std::memory_order_seq_cst);
    if (ident == 0) return;
    s.active[m / 64].fetch_and(~(1ULL << (m % 64)), std::memory_order_seq_cst);
    const uint32_t port = static_cast<uint32_t>(ident);
    if (port < kMaxPorts) {
        PortEntry& p = reg.port(port);
        // A sender takes the lease, then checks the member's ident: once we
        // held each lease after clearing ident, nobody writes these rings.
        if (mb.kind == kMemberVale && p.in_use)
            for (uint32_t r = 0; r < std::min(p.nrings[kRx], kMaxRingsAll); r++) {
                RobustLock lk(p.kring[kRx][r].lease);
            }
        area(reg).vports[port].where.store(0, std::memory_order_release);
    }
    for (auto& e : s.ht) {
        const uint64_t v = e.load(std::memory_order_relaxed);
        if ((v & kMacValid) && ((v >> 48) & 0xff) == m) e.store(0, std::memory_order_relaxed);
    }
    if (s.nmembers) s.nmembers--;
    if (s.nmembers == 0) s.in_use = 0;
}

}  // namespace

int private_region(Registry& reg, const uint32_t nrings[2], const uint32_t nslots[2], uint32_t& slot) {
    const Shape sh{{nrings[kTx], nrings[kRx]}, {nslots[kTx], nslots[kRx]}};
    return new_private_region(reg, sh, slot);
}

// Drop members whose port is gone or is no longer the one attached (a
// process that died holding the control lock in the middle of a VALE
// operation, or Registry::repair destroying a port), and port records that
// point at no member.  Cheap; run before every VALE control operation.
void sweep(Registry& reg) {
    Area& a = area(reg);
    for (uint32_t i = 0; i < kMaxSwitches; i++) {
        Switch& s = a.sw[i];
        if (!s.in_use) continue;
        uint32_t live = 0;
        for (uint32_t m = 0; m < kMaxMembers; m++) {
            const uint64_t ident = s.members[m].ident.load(std::memory_order_relaxed);
            if (ident == 0) continue;
            const uint32_t port = static_cast<uint32_t>(ident);
            VPort* v = vport_of(reg, port);
            const bool ok = v && reg.port(port).gen == static_cast<uint32_t>(ident >> 32) &&
                            v->where.load(std::memory_order_relaxed) == ((i + 1) | (m << 16));
            if (ok) {
                live++;
                continue;
            }
            s.members[m].ident.store(0, std::memory_order_seq_cst);
            s.active[m / 64].fetch_and(~(1ULL << (m % 64)), std::memory_order_seq_cst);
            if (port < kMaxPorts && reg.port(port).in_use && s.members[m].kind == kMemberVale)
                for (uint32_t r = 0; r < std::min(reg.port(port).nrings[kRx], kMaxRingsAll); r++) {
                    RobustLock lk(reg.port(port).kring[kRx][r].lease);
                }
        }
        s.nmembers = live;
        if (live == 0) s.in_use = 0;
    }
    for (uint32_t port = 0; port < kMaxPorts; port++) {
        VPort* v = vport_of(reg, port);
        if (!v) continue;
        const uint32_t w = v->where.load(std::memory_order_relaxed);
        if (!w) continue;
        const uint32_t sw = where_switch(w), m = where_member(w);
        const bool ok =
            sw < kMaxSwitches && m < kMaxMembers && a.sw[sw].in_use &&
            static_cast<uint32_t>(a.sw[sw].members[m].ident.load(std::memory_order_relaxed)) == port;
        if (!ok) v->where.store(0, std::memory_order_release);
    }
}

namespace {

// ---------------------------------------------------------------------------
// The port type
// ---------------------------------------------------------------------------

bool vale_match(std::string_view name) {
    if (name.starts_with(NM_BDG_NAME)) return true;
    // A persistent VALE port opened by its own name ("v0").  port_type_for
    // runs under the control lock (get_port), so the table is mapped.
    Registry& reg = Registry::get();
    const uint32_t p = reg.find_port(name);
    return p != kNone && reg.port(p).kind == PortKind::Vale;
}

int vale_create(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out) {
    std::string_view sw_name, port_name;
    if (int e = split_name(name, sw_name, port_name)) return e;
    sweep(reg);
    const uint32_t sw = find_switch(reg, sw_name);
    if (sw != kNone) {
        // An attached persistent port is found under its switch name.
        const uint32_t m = find_member(reg, sw, name);
        if (m != kNone) {
            const uint64_t ident = area(reg).sw[sw].members[m].ident.load(std::memory_order_relaxed);
            const uint32_t port = static_cast<uint32_t>(ident);
            if (port >= kMaxPorts || !reg.port(port).in_use) return ENXIO;
            if (area(reg).sw[sw].members[m].kind != kMemberVale) return EINVAL;  // a sink: not openable
            out = port;
            return 0;
        }
        if (area(reg).sw[sw].nmembers >= kMaxMembers)
            return UNETMAP_REFUSE(ENOMEM, "%.*s: switch '%.*s' is full (%u ports)", static_cast<int>(name.size()),
                                  name.data(), static_cast<int>(sw_name.size()), sw_name.data(), kMaxMembers);
    }
    // "valeS:P" where P is an existing port or interface that is not on S:
    // only VALE_ATTACH may connect it (netmap answers EINVAL too).
    if (reg.find_port(port_name) != kNone || host_interface_exists(port_name)) return EINVAL;
    if (sw == kNone) {
        bool room = false;
        for (const Switch& s : area(reg).sw) room = room || !s.in_use;
        if (!room)
            return UNETMAP_REFUSE(ENOMEM, "%.*s: no free switch (all %u in use)", static_cast<int>(name.size()),
                                  name.data(), kMaxSwitches);
    }
    uint32_t port;
    if (int e = make_port(reg, name, shape, port)) return e;
    uint32_t s = sw != kNone ? sw : new_switch(reg, sw_name);
    const uint32_t m = free_member(area(reg).sw[s]);
    add_member(reg, s, m, name, port, kMemberVale);
    out = port;
    return 0;
}

void vale_destroy(Registry& reg, uint32_t port) {
    if (VPort* v = vport_of(reg, port)) {
        const uint32_t w = v->where.load(std::memory_order_relaxed);
        if (w) remove_member(reg, where_switch(w), where_member(w));
        v->gen = 0;
        v->flags = 0;
    }
    reg.port(port).flags &= ~PortEntry::kPersistent;
    const uint32_t one[1] = {port};
    reg.free_ports(one);
}

// ---------------------------------------------------------------------------
// Data path
// ---------------------------------------------------------------------------

constexpr uint32_t kBatch = 1024;  // netmap: NM_BDG_BATCH
constexpr uint32_t kMaxFrags = NETMAP_MAX_FRAGS;
constexpr uint32_t kScratch = kBatch + kMaxFrags;
constexpr uint32_t kNil = 0xffffffffu;
constexpr uint32_t kBroadcast = kMaxMembers;  // queue of flooded packets
constexpr uint32_t kEtherHdr = 14;

struct Frag {
    uint64_t ptr;  // NS_INDIRECT: the sender's address of the data
    uint32_t buf;
    uint16_t len;
    uint16_t flags;
};

struct Pkt {
    uint32_t first;   // index in Scratch::frag
    uint32_t nfrags;
    uint32_t bytes;
    uint32_t next;    // next packet of the same destination queue
};

struct Queue {
    uint32_t head = kNil, tail = kNil;
};

struct Scratch {
    Frag frag[kScratch];
    Pkt pkt[kScratch];
    Queue q[kMaxMembers + 1];  // per member, plus kBroadcast
    uint16_t dsts[kMaxMembers];
    uint32_t nfrag = 0, npkt = 0, ndst = 0;
};

Scratch& scratch() {
    thread_local std::unique_ptr<Scratch> s = std::make_unique<Scratch>();
    return *s;
}

inline uint64_t load_mac(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 5; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

inline uint32_t mac_hash(uint64_t mac) {  // top 10 bits of a multiplicative hash
    static_assert(kHashSize == 1024);
    return static_cast<uint32_t>((mac * 0x9E3779B97F4A7C15ULL) >> 54);
}

// The virtio-net header (struct virtio_net_hdr, little-endian as on the
// hosts we run on); a 12-byte header adds num_buffers, which we zero.
struct VnetHdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10);
constexpr uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kGsoNone = 0, kGsoTcp4 = 1, kGsoUdp = 3, kGsoTcp6 = 4, kGsoUdpL4 = 5, kGsoEcn = 0x80;
constexpr uint32_t kMaxVnetHdr = 12;
constexpr uint32_t kHeadroom = 16;  // >= kMaxVnetHdr: room to prepend a destination header in place

// Scratch of the header-conversion path: the packet made linear, one GSO
// segment, and the destination buffers of the slots being filled.
struct ConvScratch {
    std::vector<uint8_t> lin;
    std::vector<uint8_t> seg;
    uint32_t dbuf[kMaxSlots];
};

ConvScratch& conv_scratch() {
    thread_local std::unique_ptr<ConvScratch> s = std::make_unique<ConvScratch>();
    return *s;
}

// One sender ring's forwarding state for the duration of a txsync.
struct Forwarder {
    Registry& reg;
    Switch* sw;        // nullptr: the port is on no switch (everything is dropped)
    uint32_t me;       // the sender's member index
    uint32_t ring_id;  // the sender's TX ring
    Region& src;
    Scratch& sc;
    uint32_t src_hl;   // the sender's virtio-net header length
    uint64_t ingress_drops = 0;

    uint32_t lookup(const Pkt& p);
    void flush();
    void deliver_member(uint32_t m, uint32_t uhead, uint32_t bhead);
    void deliver_ring(const Member& mb, uint64_t ident, PortEntry& dp, uint32_t r, uint32_t l1,
                      uint32_t l2);
    bool copy_frag(const Frag& f, std::byte* dst, uint32_t len);
    uint32_t deliver_converted(const Pkt& p, Region& dr, netmap_ring* ring, uint32_t n, uint32_t dst_hl,
                               uint32_t& j, uint32_t space, uint64_t& bytes);
};

// netmap_bdg_learning: learn the source, pick the destination.  The
// Ethernet header follows the sender's virtio-net header, in the first
// fragment or, when that is the header alone, in the second.
uint32_t Forwarder::lookup(const Pkt& p) {
    const Frag* f = &sc.frag[p.first];
    uint32_t off = src_hl;
    if (off && f->len == off && p.nfrags > 1) {
        f++;
        off = 0;
    }
    if (f->len < off + kEtherHdr) return kNoPort;
    unsigned char hdr[12];
    const unsigned char* b;
    if (f->flags & NS_INDIRECT) {
        if (copy_in(hdr, f->ptr + off, sizeof hdr)) return kNoPort;
        b = hdr;
    } else {
        b = reinterpret_cast<const unsigned char*>(src.buf(f->buf)) + off;
    }
    const uint64_t dmac = load_mac(b), smac = load_mac(b + 6);
    if (!(f->flags & NS_NO_LEARN) && !(b[6] & 1)) {
        const uint64_t want = kMacValid | (static_cast<uint64_t>(me) << 48) | smac;
        auto& e = sw->ht[mac_hash(smac)];
        if (e.load(std::memory_order_relaxed) != want) e.store(want, std::memory_order_relaxed);
    }
    if (b[0] & 1) return kBroadcast;  // broadcast or multicast
    const uint64_t e = sw->ht[mac_hash(dmac)].load(std::memory_order_relaxed);
    if (!(e & kMacValid) || (e & kMacMask) != dmac) return kBroadcast;  // unknown: flood
    const uint32_t m = static_cast<uint32_t>((e >> 48) & 0xff);
    if (m >= kMaxMembers) return kBroadcast;  // corrupt entry
    return m == me ? kNoPort : m;             // never back to the sender
}

void Forwarder::flush() {
    if (sc.npkt == 0) return;
    // Pass 1: a destination queue for every packet of the batch.
    for (uint32_t i = 0; i < sc.npkt; i++) {
        Pkt& p = sc.pkt[i];
        const uint32_t d = sw ? lookup(p) : kNoPort;
        if (d == kNoPort) {
            ingress_drops++;
            continue;
        }
        Queue& q = sc.q[d];
        p.next = kNil;
        if (q.head == kNil) {
            q.head = i;
            if (d != kBroadcast) sc.dsts[sc.ndst++] = static_cast<uint16_t>(d);
        } else {
            sc.pkt[q.tail].next = i;
        }
        q.tail = i;
    }
    // Pass 2: per destination.
    const uint32_t bhead = sc.q[kBroadcast].head;
    if (bhead != kNil) {
        for (uint32_t w = 0; w < 4; w++) {
            uint64_t bits = sw->active[w].load(std::memory_order_acquire);
            while (bits) {
                const uint32_t m = w * 64 + static_cast<uint32_t>(std::countr_zero(bits));
                bits &= bits - 1;
                if (m != me && m < kMaxMembers) deliver_member(m, sc.q[m].head, bhead);
            }
        }
    } else {
        for (uint32_t i = 0; i < sc.ndst; i++) deliver_member(sc.dsts[i], sc.q[sc.dsts[i]].head, kNil);
    }
    for (uint32_t i = 0; i < sc.ndst; i++) sc.q[sc.dsts[i]] = Queue{};
    sc.q[kBroadcast] = Queue{};
    sc.ndst = sc.npkt = sc.nfrag = 0;
}

void Forwarder::deliver_member(uint32_t m, uint32_t uhead, uint32_t bhead) {
    if (uhead == kNil && bhead == kNil) return;
    const Member& mb = sw->members[m];
    const uint64_t ident = mb.ident.load(std::memory_order_acquire);
    const uint32_t port = static_cast<uint32_t>(ident);
    if (ident == 0 || port >= kMaxPorts) return;
    PortEntry& dp = reg.port(port);
    const uint32_t nrx = __atomic_load_n(&dp.nrings[kRx], __ATOMIC_RELAXED);
    if (nrx == 0 || nrx > kMaxRings) return;
    if (mb.kind == kMemberSink) {  // an attached null port: consume, count
        if (!__atomic_load_n(&dp.in_use, __ATOMIC_RELAXED) || dp.gen != (ident >> 32)) return;
        uint64_t pk = 0, by = 0;
        for (uint32_t l : {uhead, bhead})
            for (uint32_t i = l; i != kNil; i = sc.pkt[i].next) pk++, by += sc.pkt[i].bytes;
        dp.kring[kRx][0].packets.fetch_add(pk, std::memory_order_relaxed);
        dp.kring[kRx][0].bytes.fetch_add(by, std::memory_order_relaxed);
        return;
    }
    const uint32_t ru = ring_id % nrx;
    if (ru == 0) {
        deliver_ring(mb, ident, dp, 0, uhead, bhead);
    } else {
        if (uhead != kNil) deliver_ring(mb, ident, dp, ru, uhead, kNil);
        if (bhead != kNil) deliver_ring(mb, ident, dp, 0, kNil, bhead);
    }
}

bool Forwarder::copy_frag(const Frag& f, std::byte* dst, uint32_t len) {
    if (len == 0) return true;
    if (f.flags & NS_INDIRECT) return copy_in(dst, f.ptr, len) == 0;
    std::memcpy(dst, src.buf(f.buf), len);
    return true;
}

// Copy the packets of lists l1 and l2 (merged in batch order) into RX ring
// r of port dp, under that ring's lease.
void Forwarder::deliver_ring(const Member& mb, uint64_t ident, PortEntry& dp, uint32_t r,
                             uint32_t l1, uint32_t l2) {
    KRing& dk = dp.kring[kRx][r];
    if (__atomic_load_n(&dk.users, __ATOMIC_RELAXED) == 0) {
        // Nobody has this ring open (a persistent port between users): the
        // frames go nowhere, and are counted as the port's drops so that
        // everything sent is delivered or counted.
        uint64_t lost = 0;
        for (uint32_t l : {l1, l2})
            for (uint32_t i = l; i != kNil; i = sc.pkt[i].next) lost++;
        dk.drops.fetch_add(lost, std::memory_order_relaxed);
        return;
    }
    bool published = false;
    {
        RobustLock lk(dk.lease);
        // Still the port we looked up?  (remove_member clears ident, then
        // takes every lease: after it, this check fails.)
        if (mb.ident.load(std::memory_order_acquire) != ident || !dp.in_use ||
            dp.gen != static_cast<uint32_t>(ident >> 32))
            return;
        Region* dr = reg.thread_region(dp.region);
        if (!dr) return;
        const uint32_t n = dk.num_slots;
        const uint32_t hwcur = dk.hwcur.load(std::memory_order_acquire);
        uint32_t j = dk.hwtail.load(std::memory_order_relaxed);
        if (n < 2 || j >= n || hwcur >= n) return;
        auto* ring = dr->at<netmap_ring>(dk.ring_ofs);
        const uint32_t dsize = dr->buf_size();
        uint32_t space = (hwcur + n - j - 1) % n;
        uint64_t pk = 0, by = 0, drops = 0;
        // Virtio-net headers of different lengths on the two sides (the
        // common case, equal lengths, is a plain copy): one compare here.
        const uint32_t dst_hl = std::min(
            area(reg).vports[static_cast<uint32_t>(ident)].hdr_len.load(std::memory_order_relaxed), kMaxVnetHdr);
        const bool convert = dst_hl != src_hl;
        while (l1 != kNil || l2 != kNil) {
            uint32_t i;
            if (l2 == kNil || (l1 != kNil && l1 < l2)) {
                i = l1;
                l1 = sc.pkt[i].next;
            } else {
                i = l2;
                l2 = sc.pkt[i].next;
            }
            const Pkt& p = sc.pkt[i];
            if (convert) {
                const uint32_t used = deliver_converted(p, *dr, ring, n, dst_hl, j, space, by);
                if (used) {
                    space -= used;
                    pk++;
                } else {
                    drops++;
                }
                continue;
            }
            if (p.nfrags > space) {  // full: drop, never wait
                drops++;
                continue;
            }
            // The receiver owns its slots' buffer indices: read each once
            // and check it before writing anything.
            uint32_t dbuf[kMaxFrags];
            bool ok = true;
            for (uint32_t f = 0, jj = j; f < p.nfrags; f++, jj = ring_next(jj, n)) {
                dbuf[f] = __atomic_load_n(&ring->slot[jj].buf_idx, __ATOMIC_RELAXED);
                ok = ok && dr->valid_buf(dbuf[f]);
            }
            uint32_t copied = 0;
            for (uint32_t f = 0; f < p.nfrags; f++) {
                const Frag& fr = sc.frag[p.first + f];
                uint32_t len = std::min<uint32_t>(fr.len, dsize);  // truncate to the buffer
                if (ok && !copy_frag(fr, dr->buf(dbuf[f]), len)) len = 0;
                if (!ok) len = 0;  // an unusable slot: deliver it empty
                netmap_slot& ds = ring->slot[j];
                ds.len = static_cast<uint16_t>(len);
                ds.flags = static_cast<uint16_t>((p.nfrags << NS_PORT_SHIFT) |
                                                 (f + 1 < p.nfrags ? NS_MOREFRAG : 0));
                copied += len;
                j = ring_next(j, n);
            }
            space -= p.nfrags;
            if (ok) {
                pk++;
                by += copied;
            } else {
                drops++;
            }
        }
        if (pk || drops) {
            dk.packets.fetch_add(pk, std::memory_order_relaxed);
            dk.bytes.fetch_add(by, std::memory_order_relaxed);
            dk.drops.fetch_add(drops, std::memory_order_relaxed);
        }
        if (j != dk.hwtail.load(std::memory_order_relaxed)) {
            dk.hwtail.store(j, std::memory_order_release);
            published = true;
        }
    }
    if (published) {
        std::atomic_thread_fence(std::memory_order_seq_cst);  // publish before checking sleepers
        reg.notify(dp, kRx, r);
    }
}

// netmap's bdg_mismatch_datapath: deliver packet p to a destination whose
// virtio-net header length (dst_hl) differs from the sender's.  The
// destination's header is built from the sender's (its first 10 bytes,
// num_buffers zeroed) or zeroed when the sender has none; a sender's header
// is stripped when the destination has none, and then the offloads it asks
// for are done here, as a device would: a GSO frame is cut into segments of
// gso_size payload bytes (at most what a destination buffer holds), each
// a frame of its own with complete checksums (gso_split.h), or a
// NEEDS_CSUM checksum is completed.  netmap cuts to the destination's
// maximum frame size instead of gso_size, and like netmap, UDP GSO (UFO)
// is cut into datagrams, not IP fragments.  A frame that does not fit one
// buffer becomes an NS_MOREFRAG chain.  Called under the destination
// ring's lease with `space` free slots from j; returns the slots used (j
// advanced past them, bytes added), 0 if the packet was dropped (nothing
// written).
uint32_t Forwarder::deliver_converted(const Pkt& p, Region& dr, netmap_ring* ring, uint32_t n, uint32_t dst_hl,
                                      uint32_t& j, uint32_t space, uint64_t& bytes) {
    ConvScratch& cs = conv_scratch();
    const uint32_t dsize = dr.buf_size();
    if (cs.lin.size() < kHeadroom + p.bytes) cs.lin.resize(kHeadroom + p.bytes);
    uint8_t* const lin = cs.lin.data() + kHeadroom;
    size_t total = 0;
    for (uint32_t f = 0; f < p.nfrags; f++) {
        const Frag& fr = sc.frag[p.first + f];
        if (!copy_frag(fr, reinterpret_cast<std::byte*>(lin + total), fr.len)) return 0;
        total += fr.len;
    }
    if (total < src_hl) return 0;
    VnetHdr vh{};
    if (src_hl) std::memcpy(&vh, lin, sizeof vh);
    uint8_t* frame = lin + src_hl;
    const size_t flen = total - src_hl;
    // The destination slots, read once and checked before anything is written.
    auto take_slots = [&](uint32_t want) {
        if (want == 0 || want > space || want > kMaxSlots) return false;
        for (uint32_t k = 0, jj = j; k < want; k++, jj = ring_next(jj, n)) {
            cs.dbuf[k] = __atomic_load_n(&ring->slot[jj].buf_idx, __ATOMIC_RELAXED);
            if (!dr.valid_buf(cs.dbuf[k])) return false;
        }
        return true;
    };
    const bool offload = src_hl && !dst_hl;
    const uint8_t gso = static_cast<uint8_t>(vh.gso_type & ~kGsoEcn);
    if (offload && gso != kGsoNone) {
        nic::GsoLayout l;
        if (!nic::gso_layout(frame, flen, l) || l.hdr >= dsize) return 0;
        const bool want_tcp = gso == kGsoTcp4 || gso == kGsoTcp6;
        if (want_tcp != l.tcp || (!want_tcp && gso != kGsoUdp && gso != kGsoUdpL4)) return 0;
        const uint32_t room = dsize - static_cast<uint32_t>(l.hdr);
        const uint32_t mss = vh.gso_size ? std::min<uint32_t>(vh.gso_size, room) : room;
        const uint32_t count = nic::gso_count(frame, flen, mss);
        if (!take_slots(count)) return 0;
        if (cs.seg.size() < dsize) cs.seg.resize(dsize);
        uint32_t k = 0;
        nic::gso_split(frame, flen, mss, cs.seg.data(), [&](const uint8_t* d, size_t len) {
            std::memcpy(dr.buf(cs.dbuf[k]), d, len);
            netmap_slot& ds = ring->slot[j];
            ds.len = static_cast<uint16_t>(len);
            ds.flags = static_cast<uint16_t>(1u << NS_PORT_SHIFT);
            bytes += len;
            j = ring_next(j, n);
            k++;
        });
        return count;
    }
    if (offload && (vh.flags & kVnetNeedsCsum))
        nic::complete_checksum_at(frame, flen, vh.csum_start, vh.csum_offset);  // out of range: as is
    // The destination's header goes just before the frame (kHeadroom
    // leaves room for it when the sender's header is shorter).
    uint8_t* out = frame - dst_hl;
    if (dst_hl) {
        std::memset(out, 0, dst_hl);
        if (src_hl) std::memcpy(out, &vh, sizeof vh);
    }
    const size_t out_len = dst_hl + flen;
    const uint32_t nslots = out_len == 0 ? 1 : static_cast<uint32_t>((out_len + dsize - 1) / dsize);
    if (nslots > kMaxFrags || !take_slots(nslots)) return 0;
    for (uint32_t k = 0; k < nslots; k++) {
        const size_t at = static_cast<size_t>(k) * dsize;
        const uint32_t len = static_cast<uint32_t>(std::min<size_t>(dsize, out_len - at));
        std::memcpy(dr.buf(cs.dbuf[k]), out + at, len);
        netmap_slot& ds = ring->slot[j];
        ds.len = static_cast<uint16_t>(len);
        ds.flags = static_cast<uint16_t>((nslots << NS_PORT_SHIFT) | (k + 1 < nslots ? NS_MOREFRAG : 0));
        j = ring_next(j, n);
    }
    bytes += out_len;
    return nslots;
}

int vale_txsync(SyncContext& cx, KRing& k) {
    Registry& reg = cx.reg;
    Area& a = area(reg);
    const uint32_t n = k.num_slots, head = k.rhead;
    if (k.port >= kMaxPorts || k.ring_id >= kMaxRings) return EINVAL;
    VPort& vp = a.vports[k.port];
    Switch* sw = nullptr;
    uint32_t me = kNone;
    if (vp.gen == cx.port.gen) {
        const uint32_t w = vp.where.load(std::memory_order_acquire);
        if (w && where_switch(w) < kMaxSwitches && where_member(w) < kMaxMembers) {
            sw = &a.sw[where_switch(w)];
            me = where_member(w);
        }
    }
    Scratch& sc = scratch();
    const uint32_t src_hl =
        vp.gen == cx.port.gen ? std::min(vp.hdr_len.load(std::memory_order_relaxed), kMaxVnetHdr) : 0;
    Forwarder fw{reg, sw, me, k.ring_id, cx.region, sc, src_hl};
    auto* ring = cx.region.at<netmap_ring>(k.ring_ofs);
    const uint32_t bsize = cx.region.buf_size();
    const uint32_t skip_bit = 1u << k.ring_id;
    bool skipping = vp.tx_skip.load(std::memory_order_relaxed) & skip_bit;
    uint32_t done = k.hwcur.load(std::memory_order_relaxed);  // slots before it are consumed
    uint32_t chain = 0;  // fragments of the packet being gathered
    uint64_t pkts = 0, bytes = 0, chain_bytes = 0;
    int err = 0;
    for (uint32_t j = done; j != head; j = ring_next(j, n)) {
        netmap_slot& us = ring->slot[j];
        const netmap_slot s = read_slot(us);
        if (s.flags & NS_BUF_CHANGED) us.flags = s.flags & ~NS_BUF_CHANGED;  // not used, but reset
        const bool more = s.flags & NS_MOREFRAG;
        if (skipping) {  // the rest of an over-long chain
            skipping = more;
            done = ring_next(j, n);
            continue;
        }
        const bool indirect = s.flags & NS_INDIRECT;
        if ((!indirect && !cx.region.valid_buf(s.buf_idx)) || s.len > bsize) {
            err = EINVAL;  // the ring is reinitialised from `done`
            break;
        }
        Frag& f = sc.frag[sc.nfrag++];
        f = Frag{s.ptr, s.buf_idx, s.len, s.flags};
        chain++;
        chain_bytes += s.len;
        if (more) {
            if (chain == kMaxFrags) {  // a 65th fragment follows: drop the whole packet
                sc.nfrag -= chain;
                chain = 0;
                chain_bytes = 0;
                fw.ingress_drops++;
                skipping = true;
                done = ring_next(j, n);
            }
            continue;
        }
        sc.pkt[sc.npkt++] = Pkt{sc.nfrag - chain, chain, static_cast<uint32_t>(chain_bytes), kNil};
        pkts++;
        bytes += chain_bytes;
        chain = 0;
        chain_bytes = 0;
        done = ring_next(j, n);
        if (sc.nfrag >= kBatch) fw.flush();
    }
    if (chain) {
        // An incomplete chain: it waits for its last fragment, unless it
        // already fills the ring (the user could never complete it).
        sc.nfrag -= chain;
        if (!err && chain >= n - 1) {
            fw.ingress_drops++;
            skipping = true;
            done = head;
        }
    }
    fw.flush();
    if (skipping != static_cast<bool>(vp.tx_skip.load(std::memory_order_relaxed) & skip_bit)) {
        if (skipping)
            vp.tx_skip.fetch_or(skip_bit, std::memory_order_relaxed);
        else
            vp.tx_skip.fetch_and(~skip_bit, std::memory_order_relaxed);
    }
    if (pkts) {
        k.packets.fetch_add(pkts, std::memory_order_relaxed);
        k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    }
    if (fw.ingress_drops) k.drops.fetch_add(fw.ingress_drops, std::memory_order_relaxed);
    // Everything consumed went out (or was dropped): the whole ring but one
    // slot is the user's again.
    k.hwcur.store(done, std::memory_order_relaxed);
    k.hwtail.store(done == 0 ? n - 1 : done - 1, std::memory_order_relaxed);
    return err;
}

int vale_rxsync(SyncContext& cx, KRing& k) {
    release_copy_fed_rx(cx.region, k);  // senders filled the ring in their txsync
    return 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Control helpers (vale.h)
// ---------------------------------------------------------------------------

VPort* vport_of(Registry& reg, uint32_t port) {
    if (port >= kMaxPorts) return nullptr;
    PortEntry& p = reg.port(port);
    VPort& v = area(reg).vports[port];
    return p.in_use && v.gen != 0 && v.gen == p.gen ? &v : nullptr;
}

uint32_t find_vale_port(Registry& reg, std::string_view name) {
    const uint32_t port = reg.find_port(name);
    if (port != kNone) return vport_of(reg, port) ? port : kNone;
    std::string_view sw_name, port_name;
    if (split_name(name, sw_name, port_name)) return kNone;
    sweep(reg);
    const uint32_t sw = find_switch(reg, sw_name);
    const uint32_t m = find_member(reg, sw, name);
    if (m == kNone || area(reg).sw[sw].members[m].kind != kMemberVale) return kNone;
    const uint32_t p = static_cast<uint32_t>(area(reg).sw[sw].members[m].ident.load(std::memory_order_relaxed));
    return vport_of(reg, p) ? p : kNone;
}

uint32_t port_hdr_len(Registry& reg, uint32_t port) {
    const VPort* v = vport_of(reg, port);
    return v ? v->hdr_len.load(std::memory_order_relaxed) : 0;
}

uint32_t find_switch(Registry& reg, std::string_view sw_name) {
    Area& a = area(reg);
    for (uint32_t i = 0; i < kMaxSwitches; i++)
        if (a.sw[i].in_use && name_of(a.sw[i].name) == sw_name) return i;
    return kNone;
}

uint32_t find_member(Registry& reg, uint32_t sw, std::string_view full_name) {
    if (sw >= kMaxSwitches) return kNone;
    const Switch& s = area(reg).sw[sw];
    for (uint32_t m = 0; m < kMaxMembers; m++)
        if (s.members[m].ident.load(std::memory_order_relaxed) != 0 &&
            name_of(s.members[m].name) == full_name)
            return m;
    return kNone;
}

int split_name(std::string_view name, std::string_view& sw, std::string_view& port) {
    if (!name.starts_with(NM_BDG_NAME)) return EINVAL;
    const size_t colon = name.find(':');
    if (colon == std::string_view::npos || colon + 1 >= name.size() || colon >= kNameMax) return EINVAL;
    sw = name.substr(0, colon);
    port = name.substr(colon + 1);
    if (!all_id_chars(sw)) return EINVAL;
    // The port part may name an attached port ("null:x" for a null port);
    // an ephemeral port's name is made of identifier characters, as netmap's.
    for (char c : port)
        if (c == '{' || c == '}') return EINVAL;
    return 0;
}

bool persistent_name_ok(std::string_view name) {
    return !name.empty() && name.size() < kIfNameMax && all_id_chars(name) && !name.starts_with(NM_BDG_NAME);
}

int create_persistent(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out) {
    if (!persistent_name_ok(name)) return EINVAL;
    sweep(reg);
    const uint32_t existing = reg.find_port(name);
    if (existing != kNone) {
        out = existing;
        return EEXIST;
    }
    const PortType* t = port_type_for(name);
    // "null": another type's name.  Plain names are also interface names
    // (the NIC type's); an interface that exists is refused just below.
    if (t && t != &vale_port_type && std::string_view(t->name) != "nic") return EINVAL;
    if (host_interface_exists(name)) return EEXIST;
    uint32_t port;
    if (int e = make_port(reg, name, shape, port)) return e;
    PortEntry& p = reg.port(port);
    p.flags |= PortEntry::kPersistent;
    p.refs = 1;  // the persistent reference, dropped by delete_persistent
    area(reg).vports[port].flags = VPort::kPersistent;
    out = port;
    return 0;
}

int delete_persistent(Registry& reg, std::string_view name) {
    sweep(reg);
    const uint32_t port = reg.find_port(name);
    if (port == kNone) return ENXIO;
    VPort* v = vport_of(reg, port);
    if (!v || !(v->flags & VPort::kPersistent)) return EINVAL;
    if (v->flags & (VPort::kNic | VPort::kNicHost)) return EINVAL;  // an interface's member: valectl -d
    PortEntry& p = reg.port(port);
    if (v->where.load(std::memory_order_relaxed) != 0 || p.refs > 1) return EBUSY;
    reg.put_port(port);  // the last reference: vale_destroy frees it
    return 0;
}

int attach(Registry& reg, std::string_view full_name, uint32_t mode, uint32_t& member) {
    std::string_view sw_name, port_name;
    if (int e = split_name(full_name, sw_name, port_name)) return e;
    if (mode != NR_REG_DEFAULT && mode != NR_REG_ALL_NIC && mode != NR_REG_NIC_SW) return EINVAL;
    sweep(reg);
    uint32_t sw = find_switch(reg, sw_name);
    if (sw != kNone && find_member(reg, sw, full_name) != kNone) return EBUSY;
    const uint32_t port = reg.find_port(port_name);
    if (port == kNone) return host_interface_exists(port_name) ? EOPNOTSUPP : ENXIO;  // NICs: not yet
    PortEntry& p = reg.port(port);
    uint32_t kind;
    if (p.kind == PortKind::Vale) {
        VPort* v = vport_of(reg, port);
        if (!v || !(v->flags & VPort::kPersistent)) return EINVAL;
        if (v->where.load(std::memory_order_relaxed) != 0) return EBUSY;  // on a switch already
        kind = kMemberVale;
    } else if (p.kind == PortKind::Null) {
        if (VPort* v = vport_of(reg, port); v && v->where.load(std::memory_order_relaxed) != 0) return EBUSY;
        kind = kMemberSink;
    } else {
        return EINVAL;
    }
    if (sw != kNone && area(reg).sw[sw].nmembers >= kMaxMembers)
        return UNETMAP_REFUSE(ENOMEM, "%.*s: switch '%.*s' is full (%u ports)", static_cast<int>(full_name.size()),
                              full_name.data(), static_cast<int>(sw_name.size()), sw_name.data(), kMaxMembers);
    if (sw == kNone && (sw = new_switch(reg, sw_name)) == kNone)
        return UNETMAP_REFUSE(ENOMEM, "%.*s: no free switch (all %u in use)", static_cast<int>(full_name.size()),
                              full_name.data(), kMaxSwitches);
    if (kind == kMemberSink) {  // a null port gets its VALE record now
        VPort& v = area(reg).vports[port];
        v.flags = 0;
        v.tx_skip.store(0, std::memory_order_relaxed);
        v.gen = p.gen;
    }
    member = free_member(area(reg).sw[sw]);
    add_member(reg, sw, member, full_name, port, kind);
    if (kind == kMemberSink) {
        // The switch keeps the null port alive: it counts as persistent
        // (one reference, which Registry::repair also accounts for) until
        // detach.  A persistent VALE port has that reference already.
        p.flags |= PortEntry::kPersistent;
        p.refs++;
    }
    return 0;
}

int detach(Registry& reg, std::string_view full_name, uint32_t& member) {
    std::string_view sw_name, port_name;
    if (int e = split_name(full_name, sw_name, port_name)) return e;
    sweep(reg);
    const uint32_t sw = find_switch(reg, sw_name);
    if (sw == kNone) return ENXIO;
    const uint32_t m = find_member(reg, sw, full_name);
    if (m == kNone) return ENXIO;
    const Member& mb = area(reg).sw[sw].members[m];
    const uint32_t port = static_cast<uint32_t>(mb.ident.load(std::memory_order_relaxed));
    VPort* v = vport_of(reg, port);
    if (!v) return ENXIO;
    // An ephemeral port leaves its switch when it is closed, not by request.
    if (mb.kind == kMemberVale && !(v->flags & VPort::kPersistent)) return EINVAL;
    // An interface's members go with their agent (src/ctl/vale_nic.cpp);
    // the host rings' member only with the interface's.
    if (v->flags & (VPort::kNic | VPort::kNicHost)) return EINVAL;
    const uint32_t kind = mb.kind;
    remove_member(reg, sw, m);
    member = m;
    if (kind == kMemberSink) {
        v->gen = 0;
        reg.port(port).flags &= ~PortEntry::kPersistent;
        reg.put_port(port);  // may destroy the null port
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Attached interfaces
// ---------------------------------------------------------------------------

bool names_interface(Registry& reg, std::string_view full_name) {
    std::string_view sw_name, port_name;
    if (split_name(full_name, sw_name, port_name)) return false;
    // A NIC port of that name is open (by an agent, or any program): still
    // an interface, which nic_member_create finds busy.
    const uint32_t p = reg.find_port(port_name);
    return p == kNone ? host_interface_exists(port_name) : reg.port(p).kind == PortKind::Nic;
}

namespace {

// A persistent member port for an interface: one reference (dropped by
// nic_member_remove), flags kPersistent plus `role`.
int make_nic_port(Registry& reg, std::string_view name, const PortShape& shape, uint32_t role, uint32_t& out) {
    if (int e = make_port(reg, name, shape, out)) return e;
    PortEntry& p = reg.port(out);
    p.flags |= PortEntry::kPersistent;
    p.refs = 1;
    VPort& v = area(reg).vports[out];
    v.flags = VPort::kPersistent | role;
    v.nic = NicAgent{};
    v.nic.host_port = kNone;
    return 0;
}

// Drop one interface member port: off the switch, no longer persistent,
// its reference gone (destroyed now, or when the agent's descriptor closes).
void drop_nic_port(Registry& reg, uint32_t port) {
    VPort* v = vport_of(reg, port);
    if (!v) return;
    if (const uint32_t w = v->where.load(std::memory_order_relaxed))
        remove_member(reg, where_switch(w), where_member(w));
    const bool persistent = v->flags & VPort::kPersistent;
    v->flags = 0;
    v->nic = NicAgent{};
    PortEntry& p = reg.port(port);
    p.flags &= ~PortEntry::kPersistent;
    if (persistent) reg.put_port(port);
}

}  // namespace

int nic_member_create(Registry& reg, std::string_view full_name, bool host, const PortShape& shape,
                      const ProcRef& owner, uint32_t& member, uint32_t& port) {
    std::string_view sw_name, ifname;
    if (int e = split_name(full_name, sw_name, ifname)) return e;
    if (ifname.size() >= kIfNameMax) return EINVAL;
    const std::string host_name = std::string(full_name) + "^";
    if (host && host_name.size() >= kNameMax) return EINVAL;
    sweep(reg);
    uint32_t sw = find_switch(reg, sw_name);
    if (sw != kNone && (find_member(reg, sw, full_name) != kNone || find_member(reg, sw, host_name) != kNone))
        return EBUSY;
    // Open as a NIC port by some process, or attached (here or to another
    // switch): one agent per interface.  A member port that is still there
    // detached (its agent is closing it) holds the name too.
    if (const uint32_t p = reg.find_port(ifname); p != kNone && reg.port(p).kind == PortKind::Nic) return EBUSY;
    bool attached = false;
    for_each_nic_member(reg, [&](uint32_t, VPort& v) {
        attached = attached || name_of(v.nic.ifname) == ifname;
    });
    if (attached || reg.find_port(full_name) != kNone || (host && reg.find_port(host_name) != kNone))
        return EBUSY;
    const uint32_t need = host ? 2 : 1;
    if (sw != kNone && area(reg).sw[sw].nmembers + need > kMaxMembers)
        return UNETMAP_REFUSE(ENOMEM, "%.*s: switch '%.*s' is full (%u ports)", static_cast<int>(full_name.size()),
                              full_name.data(), static_cast<int>(sw_name.size()), sw_name.data(), kMaxMembers);
    if (sw == kNone) {
        bool room = false;
        for (const Switch& s : area(reg).sw) room = room || !s.in_use;
        if (!room)
            return UNETMAP_REFUSE(ENOMEM, "%.*s: no free switch (all %u in use)", static_cast<int>(full_name.size()),
                                  full_name.data(), kMaxSwitches);
    }

    uint32_t main_port, host_port = kNone;
    if (int e = make_nic_port(reg, full_name, shape, VPort::kNic, main_port)) return e;
    if (host) {
        // The host rings' member shares the main member's region, so that
        // the agent moves frames among the three ports by swapping buffers.
        PortShape hs = shape;
        hs.mem_id = reg.hdr().regions[reg.port(main_port).region].mem_id;
        if (int e = make_nic_port(reg, host_name, hs, VPort::kNicHost, host_port)) {
            drop_nic_port(reg, main_port);
            return e;
        }
    }
    VPort& v = area(reg).vports[main_port];
    v.nic.state = NicAgent::kStarting;
    v.nic.proc = owner;
    set_name(v.nic.ifname, ifname);
    if (host_port != kNone) {
        v.nic.host_port = host_port;
        v.nic.host_gen = reg.port(host_port).gen;
    }
    if (sw == kNone) sw = new_switch(reg, sw_name);  // room checked above
    member = free_member(area(reg).sw[sw]);
    add_member(reg, sw, member, full_name, main_port, kMemberVale);
    if (host_port != kNone) add_member(reg, sw, free_member(area(reg).sw[sw]), host_name, host_port, kMemberVale);
    port = main_port;
    return 0;
}

NicAgent* nic_agent(Registry& reg, uint32_t port, uint32_t gen) {
    VPort* v = vport_of(reg, port);
    if (!v || !(v->flags & VPort::kNic) || reg.port(port).gen != gen) return nullptr;
    return &v->nic;
}

uint32_t nic_member_port(Registry& reg, std::string_view full_name) {
    std::string_view sw_name, port_name;
    if (split_name(full_name, sw_name, port_name)) return kNone;
    const uint32_t sw = find_switch(reg, sw_name);
    const uint32_t m = find_member(reg, sw, full_name);
    if (m == kNone) return kNone;
    const uint32_t port = static_cast<uint32_t>(area(reg).sw[sw].members[m].ident.load(std::memory_order_relaxed));
    const VPort* v = vport_of(reg, port);
    return v && (v->flags & VPort::kNic) ? port : kNone;
}

void nic_member_remove(Registry& reg, uint32_t port) {
    VPort* v = vport_of(reg, port);
    if (!v || !(v->flags & VPort::kNic)) return;
    const uint32_t host = v->nic.host_port, host_gen = v->nic.host_gen;
    drop_nic_port(reg, port);
    if (host < kMaxPorts && reg.port(host).gen == host_gen)
        if (VPort* h = vport_of(reg, host); h && (h->flags & VPort::kNicHost)) drop_nic_port(reg, host);
}

void fill_shape_and_counters(Registry& reg, const PortEntry& p, struct ::unetmap_port_stats& out) {
    out.mem_id = static_cast<uint16_t>(reg.hdr().regions[p.region].mem_id);
    out.tx_rings = p.nrings[kTx];
    out.rx_rings = p.nrings[kRx];
    out.tx_slots = p.nslots[kTx];
    out.rx_slots = p.nslots[kRx];
    out.tx_packets = out.tx_bytes = out.tx_drops = 0;
    out.rx_packets = out.rx_bytes = out.rx_drops = 0;
    for (uint32_t i = 0; i < std::min(p.total_rings(kTx), kMaxRingsAll); i++) {
        const KRing& k = p.kring[kTx][i];
        out.tx_packets += k.packets.load(std::memory_order_relaxed);
        out.tx_bytes += k.bytes.load(std::memory_order_relaxed);
        out.tx_drops += k.drops.load(std::memory_order_relaxed);
    }
    for (uint32_t i = 0; i < std::min(p.total_rings(kRx), kMaxRingsAll); i++) {
        const KRing& k = p.kring[kRx][i];
        out.rx_packets += k.packets.load(std::memory_order_relaxed);
        out.rx_bytes += k.bytes.load(std::memory_order_relaxed);
        out.rx_drops += k.drops.load(std::memory_order_relaxed);
    }
}

}  // namespace vale

extern const PortType vale_port_type = {
    "vale", vale::vale_match, vale::vale_create, vale::vale_destroy, vale::vale_txsync, vale::vale_rxsync,
};

}  // namespace unetmap
