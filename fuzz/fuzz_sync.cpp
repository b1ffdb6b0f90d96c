// fuzz_sync: the data-path validation (txsync/rxsync prologues, ring
// reinit, the pipe and VALE per-slot checks, poll).
//
// A "keeper" null port holds the global region, mapped once, across
// inputs.  Per input: register the endpoints the input asks for (a null port, a
// pipe pair, two ports of one VALE switch, all in the global region, with
// 2, 4, 16 or 64 slots), then run a program of operations read from the input
// (scribble over head/cur/tail and slots of a TX or RX ring, NIOCTXSYNC,
// NIOCRXSYNC, poll with timeout 0 on both ends, well-formed sends and
// receives, payload bytes), then sync and poll everything once more, and
// close.  Registering per input keeps the inputs nearly independent (the
// allocator's scan position carries over; UNETMAP_FUZZ_SYNC_FRESH=1 gives
// each input a new region, at half the speed, to rule that out).
//
// Invariants checked after each sync:
//   * the ioctl returns 0, or -1 with EINVAL;
//   * head, cur and tail of each ring it synced are < num_slots;
//   * every slot of every ring names buffer 0 or one in [2, total), unless
//     it holds exactly what this program itself last wrote there;
//   * on an RX ring after NIOCRXSYNC, the slots the application may read,
//     [head, tail), also have len <= buf_size (same exception, field by
//     field: VALE sets len 0 in a slot whose bad index we wrote).
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <net/netmap.h>

#include "core/region.h"
#include "fuzz_common.h"

namespace {

struct Global {
    int keeper = -1;
    unetmap::Region region;  // the global region's file, for its free counts
    unsigned char* mem = nullptr;
    uint64_t memsize = 0;
    uint16_t mem_id = 0;
    uint32_t buf_total = 0, buf_size = 0;
    uint64_t buf_ofs = 0;
} G;

struct Endpoint {
    const char* name;
    int fd = -1;
    int peer = -1;  // index in the endpoint list
    netmap_ring* ring[2] = {nullptr, nullptr};  // TX, RX
    std::vector<netmap_slot> dirty[2];          // last slot contents we wrote
    std::vector<bool> has_dirty[2];
};

int do_register(int fd, const char* name, uint32_t slots, nmreq_register& r) {
    nmreq_header h{};
    h.nr_version = NETMAP_API;
    h.nr_reqtype = NETMAP_REQ_REGISTER;
    std::strncpy(h.nr_name, name, sizeof h.nr_name - 1);
    std::memset(&r, 0, sizeof r);
    r.nr_mode = NR_REG_ALL_NIC;
    r.nr_tx_rings = r.nr_rx_rings = 1;
    r.nr_tx_slots = r.nr_rx_slots = slots;
    r.nr_mem_id = G.mem_id;
    h.nr_body = reinterpret_cast<uint64_t>(&r);
    return ::ioctl(fd, NIOCCTRL, &h);
}

bool valid_idx(uint32_t idx) { return idx >= 2 && idx < G.buf_total; }

// Reads the input.
struct Reader {
    const uint8_t* p;
    size_t n;
    bool empty() const { return n == 0; }
    uint8_t u8() {
        if (!n) return 0;
        n--;
        return *p++;
    }
    uint32_t u32() {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++) v |= uint32_t(u8()) << (8 * i);
        return v;
    }
    // A ring index: mostly in [0, n+1] (n and n+1 are out of range), sometimes raw.
    uint32_t index(uint32_t slots) {
        const uint8_t b = u8();
        return b < 0xf0 ? b % (slots + 2) : u32();
    }
    uint32_t buf_idx() {
        const uint8_t b = u8();
        if (b < 0x80) return 2 + b % 200 < G.buf_total ? 2 + b % 200 : 2;  // valid
        if (b < 0xa0) return b & 1;                                         // reserved 0, 1
        if (b < 0xc0) return G.buf_total + (b & 3) - 1;                     // last, just past
        return u32();
    }
    uint16_t len() {
        const uint8_t b = u8();
        if (b < 0xc0) return b * 8;  // <= 1528
        return uint16_t(G.buf_size + (b & 7) - 3);
    }
};

std::vector<Endpoint> E;
uint32_t g_swaps = 0;  // slot writes of this input that changed a buf_idx

netmap_ring* ring_of(const nmreq_register& r, unsigned char* base, int dir) {
    auto* nifp = reinterpret_cast<netmap_if*>(base + r.nr_offset);
    const uint32_t ntx = nifp->ni_tx_rings + nifp->ni_host_tx_rings;
    const ssize_t ofs = nifp->ring_ofs[dir == 0 ? 0 : ntx];
    FUZZ_CHECK(ofs != 0, "ring not bound");
    return reinterpret_cast<netmap_ring*>(reinterpret_cast<unsigned char*>(nifp) + ofs);
}

void remember(Endpoint& e, int dir, uint32_t j) {
    e.dirty[dir][j] = e.ring[dir]->slot[j];
    e.has_dirty[dir][j] = true;
    if (fuzz::verbose())
        std::fprintf(stderr, "%s %s slot %u <- buf %u len %u flags %#x\n", e.name, dir ? "RX" : "TX", j,
                     e.dirty[dir][j].buf_idx, e.dirty[dir][j].len, e.dirty[dir][j].flags);
}

// Did we ourselves put this buffer index in the slot?  (The library may
// still have changed the other fields: VALE delivers an empty packet into
// a slot with a bad index.)
bool slot_is_ours(const Endpoint& e, int dir, uint32_t j) {
    return e.has_dirty[dir][j] && e.dirty[dir][j].buf_idx == e.ring[dir]->slot[j].buf_idx;
}

void check_slots(const Endpoint& e) {
    for (int d = 0; d < 2; d++) {
        const netmap_ring* r = e.ring[d];
        for (uint32_t j = 0; j < r->num_slots; j++) {
            const uint32_t idx = r->slot[j].buf_idx;
            FUZZ_CHECK(idx == 0 || valid_idx(idx) || slot_is_ours(e, d, j),
                       "%s %s slot %u names buffer %u (total %u) and we did not put it there", e.name,
                       d ? "RX" : "TX", j, idx, G.buf_total);
        }
    }
}

void check_after_sync(const Endpoint& e, int dir, int rc, int err) {
    FUZZ_CHECK(rc == 0 || (rc == -1 && err == EINVAL), "%s %sSYNC: rc %d errno %d", e.name, dir ? "RX" : "TX",
               rc, err);
    const netmap_ring* r = e.ring[dir];
    const uint32_t n = r->num_slots, head = r->head, cur = r->cur, tail = r->tail;
    FUZZ_CHECK(head < n && cur < n && tail < n, "%s %s ring after sync: head %u cur %u tail %u n %u", e.name,
               dir ? "RX" : "TX", head, cur, tail, n);
    check_slots(e);
    if (dir == 1)
        for (uint32_t j = head; j != tail; j = j + 1 == n ? 0 : j + 1) {
            const netmap_slot& s = r->slot[j];
            // Each field on its own: valid, or what we wrote there (VALE
            // delivers an empty packet, len 0, into a free slot we had
            // scribbled a bad index over, and publishes it so).
            const bool idx_ok = s.buf_idx == 0 || valid_idx(s.buf_idx) || slot_is_ours(e, 1, j);
            const bool len_ok = s.len <= G.buf_size || (e.has_dirty[1][j] && e.dirty[1][j].len == s.len);
            FUZZ_CHECK(idx_ok && len_ok, "%s RX slot %u visible to the application: buf %u len %u", e.name, j,
                       s.buf_idx, s.len);
        }
}

void sync(Endpoint& e, int dir) {
    const int rc = ::ioctl(e.fd, dir ? NIOCRXSYNC : NIOCTXSYNC, nullptr);
    if (fuzz::verbose())
        std::fprintf(stderr, "%s %sSYNC -> %d (%s) head %u cur %u tail %u\n", e.name, dir ? "RX" : "TX", rc,
                     rc ? std::strerror(errno) : "ok", e.ring[dir]->head, e.ring[dir]->cur, e.ring[dir]->tail);
    check_after_sync(e, dir, rc, rc ? errno : 0);
}

void poll_pair(Endpoint& e, short events) {
    pollfd p[2] = {{e.fd, events, 0}, {e.peer >= 0 ? E[e.peer].fd : -1, events, 0}};
    const int rc = ::poll(p, e.peer >= 0 ? 2 : 1, 0);
    FUZZ_CHECK(rc >= 0, "poll: %s", std::strerror(errno));
}

// The keeper: a null port that holds the global region (and its mapping)
// across inputs.  Dropped after an input that changed the region's free
// counts (see the end of LLVMFuzzerTestOneInput); the next input then
// starts on a new region.
void start_keeper() {
    G.keeper = ::open("/dev/netmap", O_RDWR);
    FUZZ_CHECK(G.keeper >= 0, "open");
    nmreq_register r;
    FUZZ_CHECK(do_register(G.keeper, "null:keep", 2, r) == 0, "register keeper: %s", std::strerror(errno));
    G.memsize = r.nr_memsize;
    G.mem_id = r.nr_mem_id;
    void* m = ::mmap(nullptr, G.memsize, PROT_READ | PROT_WRITE, MAP_SHARED, G.keeper, 0);
    FUZZ_CHECK(m != MAP_FAILED, "mmap: %s", std::strerror(errno));
    G.mem = static_cast<unsigned char*>(m);
    nmreq_header h{};
    h.nr_version = NETMAP_API;
    h.nr_reqtype = NETMAP_REQ_POOLS_INFO_GET;
    nmreq_pools_info pi{};
    h.nr_body = reinterpret_cast<uint64_t>(&pi);
    FUZZ_CHECK(::ioctl(G.keeper, NIOCCTRL, &h) == 0, "pools info: %s", std::strerror(errno));
    G.buf_total = pi.nr_buf_pool_objtotal;
    G.buf_size = pi.nr_buf_pool_objsize;
    G.buf_ofs = pi.nr_buf_pool_offset;
    // The region's own file, mapped whole, for the allocator's free counts
    // (the meta tail past memsize is not reachable through the descriptor).
    std::string path;
    if (DIR* dir = ::opendir(fuzz::state_dir().c_str())) {
        while (dirent* e = ::readdir(dir))
            if (!std::strncmp(e->d_name, "mem.", 4)) path = fuzz::state_dir() + "/" + e->d_name;
        ::closedir(dir);
    }
    FUZZ_CHECK(unetmap::Region::open(path, G.memsize, G.region) == 0, "open region file %s", path.c_str());
    FUZZ_CHECK(G.region.mem_id() == G.mem_id, "region file %s has mem_id %u", path.c_str(), G.region.mem_id());
}

void stop_keeper() {
    G.region = unetmap::Region();
    ::munmap(G.mem, G.memsize);
    G.mem = nullptr;
    ::close(G.keeper);
    G.keeper = -1;
    // Nothing is left: the region and the control file went with the keeper.
    fuzz::check_state_bounded(0);
}

// UNETMAP_FUZZ_SYNC_FRESH=1: a new region for every input.
bool fresh_region_per_input() {
    static const bool f = std::getenv("UNETMAP_FUZZ_SYNC_FRESH") != nullptr;
    return f;
}

struct FreeCounts {
    uint32_t n[unetmap::kNumPools];
    static FreeCounts now() {
        FreeCounts f;
        for (int p = 0; p < unetmap::kNumPools; p++) f.n[p] = G.region.free_count(static_cast<unetmap::Pool>(p));
        return f;
    }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::setup_state_dir("sync");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader in{data, size};
    const uint8_t which = in.u8();
    static const uint32_t kSlots[] = {4, 16, 64, 2};
    const uint32_t slots = kSlots[in.u8() % 4];
    E.clear();
    E.reserve(5);
    g_swaps = 0;
    if (G.keeper < 0) start_keeper();
    const FreeCounts before = FreeCounts::now();
    auto add = [&](const char* name) {
        Endpoint e;
        e.name = name;
        e.fd = ::open("/dev/netmap", O_RDWR);
        FUZZ_CHECK(e.fd >= 0, "open");
        nmreq_register r;
        FUZZ_CHECK(do_register(e.fd, name, slots, r) == 0, "register %s: %s", name, std::strerror(errno));
        FUZZ_CHECK(r.nr_mem_id == G.mem_id, "%s not in the global region", name);
        for (int d = 0; d < 2; d++) {
            e.ring[d] = ring_of(r, G.mem, d);
            FUZZ_CHECK(e.ring[d]->num_slots == slots, "%s: %u slots", name, e.ring[d]->num_slots);
            e.dirty[d].assign(slots, netmap_slot{});
            e.has_dirty[d].assign(slots, false);
        }
        E.push_back(std::move(e));
        return int(E.size() - 1);
    };
    if (which & 1) add("null:fz");
    if ((which & 2) || !(which & 7)) {
        const int a = add("fz{1"), b = add("fz}1");
        E[a].peer = b, E[b].peer = a;
    }
    if (which & 4) {
        const int a = add("vale0:fa"), b = add("vale0:fb");
        E[a].peer = b, E[b].peer = a;
    }

    for (int ops = 0; ops < 256 && !in.empty(); ops++) {
        const uint8_t op = in.u8();
        Endpoint& e = E[in.u8() % E.size()];
        netmap_ring* tx = e.ring[0];
        netmap_ring* rx = e.ring[1];
        const uint32_t n = slots;
        switch (op % 9) {
            case 0: {  // scribble over the TX ring
                tx->head = in.index(n);
                tx->cur = in.index(n);
                if (in.u8() & 1) tx->tail = in.index(n);
                for (unsigned k = in.u8() % (n + 1); k; k--) {
                    const uint32_t j = in.u8() % n;
                    netmap_slot& s = tx->slot[j];
                    const uint32_t nb = in.buf_idx();
                    g_swaps += nb != s.buf_idx;
                    s.buf_idx = nb;
                    s.len = in.len();
                    s.flags = in.u8();
                    remember(e, 0, j);
                }
                break;
            }
            case 1: {  // scribble over the RX ring; swap buffers into released slots
                const uint32_t old_head = rx->head, new_head = in.index(n);
                rx->head = new_head;
                rx->cur = in.index(n);
                if (in.u8() & 1) rx->tail = in.index(n);
                if (old_head < n && new_head < n)
                    for (uint32_t j = old_head; j != new_head; j = j + 1 == n ? 0 : j + 1) {
                        const uint8_t b = in.u8();
                        if (!(b & 1)) continue;
                        netmap_slot& s = rx->slot[j];
                        const uint32_t nb = in.buf_idx();
                        g_swaps += nb != s.buf_idx;
                        s.buf_idx = nb;
                        s.flags = uint16_t(s.flags | NS_BUF_CHANGED);
                        if (b & 2) s.len = in.len();
                        remember(e, 1, j);
                    }
                break;
            }
            case 2: sync(e, 0); break;
            case 3: sync(e, 1); break;
            case 4: {
                const uint8_t b = in.u8();
                poll_pair(e, short(((b & 1) ? POLLIN : 0) | ((b & 2) ? POLLOUT : 0)));
                break;
            }
            case 5: {  // a well-formed send of up to k slots
                uint32_t h = tx->head;
                if (h >= n || tx->tail >= n) break;
                for (unsigned k = in.u8() % n; k && h != tx->tail; k--) {
                    netmap_slot& s = tx->slot[h];
                    s.len = uint16_t(60 + in.u8() * 4);
                    s.flags = (in.u8() & 7) == 0 ? NS_MOREFRAG : 0;
                    remember(e, 0, h);
                    h = h + 1 == n ? 0 : h + 1;
                }
                tx->head = tx->cur = h;
                break;
            }
            case 6:  // a well-formed receive: release everything
                if (rx->tail < n) rx->head = rx->cur = rx->tail;
                break;
            case 7: {  // payload: an Ethernet header into the buffer of the TX slot at head
                if (tx->head >= n) break;
                const uint32_t idx = tx->slot[tx->head].buf_idx;
                if (!valid_idx(idx)) break;
                unsigned char* buf = G.mem + G.buf_ofs + uint64_t(idx) * G.buf_size;
                for (int i = 0; i < 14; i++) buf[i] = in.u8();
                break;
            }
            case 8:  // both directions through poll on this end only
                poll_pair(e, POLLIN | POLLOUT);
                break;
        }
    }
    // Sync and poll everything once more, then check.
    for (Endpoint& e : E) {
        sync(e, 0);
        sync(e, 1);
    }
    for (Endpoint& e : E) poll_pair(e, POLLIN | POLLOUT);
    for (Endpoint& e : E) check_slots(e);
    for (Endpoint& e : E) ::close(e.fd);
    E.clear();
    // Buffer accounting.  Interfaces and rings always go back to their
    // pools.  Buffers too, unless the program swapped buffers into slots:
    // the buffer a swap displaced is then the application's, and netmap
    // (like us) frees only what the slots name when the port goes, so it
    // leaks until the region goes with its last user (and a buffer swapped
    // in from elsewhere is freed though still named elsewhere).  Each such
    // write displaces at most one buffer, hence the bound.
    const FreeCounts after = FreeCounts::now();
    if (fuzz::verbose())
        std::fprintf(stderr, "free if %u -> %u, rings %u -> %u, bufs %u -> %u, %u swaps\n", before.n[0], after.n[0],
                     before.n[1], after.n[1], before.n[2], after.n[2], g_swaps);
    FUZZ_CHECK(after.n[0] == before.n[0], "interfaces not returned: %u free before, %u after", before.n[0], after.n[0]);
    FUZZ_CHECK(after.n[1] == before.n[1], "rings not returned: %u free before, %u after", before.n[1], after.n[1]);
    FUZZ_CHECK(g_swaps > 0 || after.n[2] == before.n[2],
               "buffers not returned without any swap: %u free before, %u after", before.n[2], after.n[2]);
    FUZZ_CHECK(after.n[2] + g_swaps >= before.n[2], "%u buffers lost but only %u swaps: %u free before, %u after",
               before.n[2] - after.n[2], g_swaps, before.n[2], after.n[2]);
    // Start the next input on a new region if this one changed the pool
    // (so the leaks do not pile up into ENOMEM, and each input runs alone
    // as it ran here).
    if (fresh_region_per_input() || std::memcmp(&after, &before, sizeof after) != 0) stop_keeper();
    // ctl, the global region, the keeper's socket.
    fuzz::check_state_bounded(3);
    return 0;
}
