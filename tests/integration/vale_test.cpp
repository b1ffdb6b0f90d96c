// VALE switch tests, through the plain netmap API (open /dev/netmap,
// NIOCCTRL, mmap, NIOCTXSYNC/NIOCRXSYNC, poll) as libnetmap.so interposes
// it, plus the valectl binary and <unetmap/stats.h>.
//
// The program runs in a state directory of its own (a fresh
// /dev/shm/unetmap-vale.XXXXXX exported as UNETMAP_DIR, removed at exit);
// every test checks the directory is empty once it closed everything.
// Loops are bounded in iterations and in time; child processes report
// through their exit status and never run gtest assertions.
#include <gtest/gtest.h>

#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <net/netmap.h>
#include <net/netmap_user.h>
#include <unetmap/stats.h>

// Layout of the control file, for the test that locks a ring's lease from
// outside the library (header-only use).
#include "core/registry.h"

#ifndef VALECTL_PATH
#define VALECTL_PATH "valectl"
#endif

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// State directory
// ---------------------------------------------------------------------------

std::string state_dir() {
    const char* d = std::getenv("UNETMAP_DIR");
    return d ? d : "";
}

std::vector<std::string> state_entries() {
    std::vector<std::string> out;
    DIR* d = ::opendir(state_dir().c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

::testing::AssertionResult StateDirEmpty() {
    const auto e = state_entries();
    if (e.empty()) return ::testing::AssertionSuccess();
    std::string s;
    for (const auto& x : e) s += " " + x;
    return ::testing::AssertionFailure() << "state directory still holds:" << s;
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

using nmtest::make_header;

// NIOCCTRL on a fresh descriptor; returns 0 or errno.
int ctl(nmreq_header& h) {
    const int fd = ::open("/dev/netmap", O_RDWR);
    if (fd < 0) return errno;
    const int r = ::ioctl(fd, NIOCCTRL, &h) == 0 ? 0 : errno;
    ::close(fd);
    return r;
}

int newif(const char* name, uint32_t slots = 0, uint16_t rings = 0, uint16_t mem_id = 0,
          nmreq_vale_newif* out = nullptr) {
    nmreq_vale_newif b{};
    b.nr_tx_slots = b.nr_rx_slots = slots;
    b.nr_tx_rings = b.nr_rx_rings = rings;
    b.nr_mem_id = mem_id;
    nmreq_header h = make_header(name, NETMAP_REQ_VALE_NEWIF, &b);
    const int e = ctl(h);
    if (out) *out = b;
    return e;
}

// DELIF has no body: nr_body is NULL, as in netmap.
int delif(const char* name) {
    nmreq_header h = make_header(name, NETMAP_REQ_VALE_DELIF, nullptr);
    return ctl(h);
}

int attach(const char* name, uint32_t* index = nullptr, uint32_t mode = NR_REG_ALL_NIC) {
    nmreq_vale_attach b{};
    b.reg.nr_mode = mode;
    nmreq_header h = make_header(name, NETMAP_REQ_VALE_ATTACH, &b);
    const int e = ctl(h);
    if (index) *index = b.port_index;
    return e;
}

int detach(const char* name, uint32_t* index = nullptr) {
    nmreq_vale_detach b{};
    nmreq_header h = make_header(name, NETMAP_REQ_VALE_DETACH, &b);
    const int e = ctl(h);
    if (index) *index = b.port_index;
    return e;
}

struct ListEntry {
    std::string name;  // as returned in the header
    uint16_t bridge;
    uint32_t port;
};

// NETMAP_REQ_VALE_LIST iteration (ENOENT ends it).
std::vector<ListEntry> list_all(int* err = nullptr) {
    std::vector<ListEntry> out;
    nmreq_vale_list b{};
    for (int i = 0; i < 100000; i++) {
        nmreq_header h = make_header(nullptr, NETMAP_REQ_VALE_LIST, &b);
        const int e = ctl(h);
        if (e) {
            if (err) *err = e;
            return out;
        }
        out.push_back({h.nr_name, b.nr_bridge_idx, b.nr_port_idx});
        b.nr_port_idx++;
    }
    if (err) *err = E2BIG;
    return out;
}

struct unetmap_port_stats stats(const char* name) {
    struct unetmap_port_stats s;
    std::memset(&s, 0, sizeof s);
    EXPECT_EQ(unetmap_port_stats(name, &s), 0) << name << ": " << std::strerror(errno);
    return s;
}

// ---------------------------------------------------------------------------
// A registered port
// ---------------------------------------------------------------------------

using nmtest::Port;  // open + register + mmap, tx(i)/rx(i), txsync/rxsync

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

constexpr uint64_t kBcast = 0xffffffffffffULL;

uint64_t mac(unsigned n) { return 0x0000000000a2ULL | (static_cast<uint64_t>(n) << 40); }  // unicast, local

void put_mac(uint8_t* p, uint64_t m) {
    for (int i = 0; i < 6; i++) p[i] = static_cast<uint8_t>(m >> (8 * i));
}

uint8_t pattern(uint32_t seq, size_t off) { return static_cast<uint8_t>(seq * 131 + off * 7 + (off >> 8)); }

std::vector<uint8_t> make_frame(uint64_t dst, uint64_t src, uint32_t seq, size_t len) {
    std::vector<uint8_t> f(len);
    put_mac(f.data(), dst);
    put_mac(f.data() + 6, src);
    f[12] = 0x88;
    f[13] = 0xb5;
    std::memcpy(f.data() + 14, &seq, sizeof seq);
    for (size_t i = 18; i < len; i++) f[i] = pattern(seq, i);
    return f;
}

uint32_t frame_seq(const std::vector<uint8_t>& f) {
    uint32_t s = 0;
    if (f.size() >= 18) std::memcpy(&s, f.data() + 14, sizeof s);
    return s;
}

uint32_t slots_for(size_t len, uint32_t bsz) {
    return len == 0 ? 1 : static_cast<uint32_t>((len + bsz - 1) / bsz);
}

// Queue one frame (split into buffer-sized NS_MOREFRAG slots) on a TX ring;
// false if it does not fit now.
bool put_frame(netmap_ring* r, const uint8_t* data, size_t len, uint16_t first_flags = 0) {
    const uint32_t bsz = r->nr_buf_size, n = slots_for(len, bsz);
    if (nm_ring_space(r) < n) return false;
    uint32_t h = r->head;
    for (uint32_t k = 0; k < n; k++) {
        netmap_slot& s = r->slot[h];
        const size_t off = static_cast<size_t>(k) * bsz, chunk = std::min<size_t>(bsz, len - off);
        std::memcpy(NETMAP_BUF(r, s.buf_idx), data + off, chunk);
        s.len = static_cast<uint16_t>(chunk);
        s.flags = static_cast<uint16_t>((k + 1 < n ? NS_MOREFRAG : 0) | (k == 0 ? first_flags : 0));
        h = nm_ring_next(r, h);
    }
    r->head = r->cur = h;
    return true;
}

bool put_frame(netmap_ring* r, const std::vector<uint8_t>& f, uint16_t first_flags = 0) {
    return put_frame(r, f.data(), f.size(), first_flags);
}

// Take one frame from an RX ring; false if empty.  Checks the fragment
// flags the switch writes (NS_RFRAGS on every slot, NS_MOREFRAG but last).
bool get_frame(netmap_ring* r, std::vector<uint8_t>& out, uint32_t* frags = nullptr,
               bool* flags_ok = nullptr) {
    if (nm_ring_empty(r)) return false;
    out.clear();
    uint32_t h = r->head, n = 0;
    bool ok = true;
    uint32_t expect = NS_RFRAGS(&r->slot[h]);
    for (;;) {
        netmap_slot& s = r->slot[h];
        const char* b = NETMAP_BUF(r, s.buf_idx);
        out.insert(out.end(), b, b + s.len);
        n++;
        ok = ok && NS_RFRAGS(&s) == expect;
        h = nm_ring_next(r, h);
        if (!(s.flags & NS_MOREFRAG)) break;
        if (h == r->tail) {  // a chain is published whole: cannot happen
            ok = false;
            break;
        }
    }
    ok = ok && n == expect;
    r->head = r->cur = h;
    if (frags) *frags = n;
    if (flags_ok) *flags_ok = ok;
    return true;
}

// All frames currently in rx ring `ring` of `p` (after an rxsync).
std::vector<std::vector<uint8_t>> drain(Port& p, unsigned ring = 0) {
    std::vector<std::vector<uint8_t>> v;
    EXPECT_EQ(p.rxsync(), 0);
    std::vector<uint8_t> f;
    while (get_frame(p.rx(ring), f)) v.push_back(f);
    EXPECT_EQ(p.rxsync(), 0);  // release
    return v;
}

void send(Port& p, const std::vector<uint8_t>& f, unsigned ring = 0, uint16_t flags = 0) {
    ASSERT_TRUE(put_frame(p.tx(ring), f, flags));
    ASSERT_EQ(p.txsync(), 0);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

class Vale : public ::testing::Test {
protected:
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

TEST_F(Vale, PortsAndSwitchAppearAndGo) {
    {
        Port a, b;
        ASSERT_EQ(a.open("vale0:a"), 0);
        ASSERT_EQ(b.open("vale0:b"), 0);
        EXPECT_EQ(a.reg.nr_tx_rings, 1);
        EXPECT_EQ(a.reg.nr_rx_rings, 1);
        EXPECT_EQ(a.reg.nr_tx_slots, 1024u);
        EXPECT_EQ(a.reg.nr_rx_slots, 1024u);
        EXPECT_EQ(a.reg.nr_host_tx_rings, 0);
        // Private regions, told apart by mem_id >= 2.
        EXPECT_GE(a.reg.nr_mem_id, 2);
        EXPECT_GE(b.reg.nr_mem_id, 2);
        EXPECT_NE(a.reg.nr_mem_id, b.reg.nr_mem_id);
        EXPECT_TRUE(a.nifp->ni_flags & NI_PRIV_MEM);
        EXPECT_STREQ(a.nifp->ni_name, "vale0:a");
        int err = 0;
        auto l = list_all(&err);
        EXPECT_EQ(err, ENOENT);
        ASSERT_EQ(l.size(), 2u);
        EXPECT_EQ(l[0].bridge, l[1].bridge);
        EXPECT_NE(l[0].port, l[1].port);
        // A second descriptor on the same port shares it.
        Port a2;
        ASSERT_EQ(a2.open("vale0:a"), 0);
        EXPECT_EQ(a2.reg.nr_mem_id, a.reg.nr_mem_id);
        EXPECT_EQ(list_all().size(), 2u);
    }
    EXPECT_TRUE(list_all().empty());
}

TEST_F(Vale, BadNames) {
    Port p;
    EXPECT_EQ(p.open("vale0"), EINVAL);       // no port part
    EXPECT_EQ(p.open("vale0:"), EINVAL);
    EXPECT_EQ(p.open("vale-x:a"), EINVAL);    // switch name: [A-Za-z0-9_]
    EXPECT_EQ(p.open("vale0:lo"), EINVAL);    // an existing interface needs VALE_ATTACH
    EXPECT_EQ(p.open("vale0:a", [](nmreq_register& r) { r.nr_tx_rings = 17; }), EINVAL);
}

TEST_F(Vale, RingShapesAndSharedMemory) {
    Port a, b, c;
    ASSERT_EQ(a.open("vale1:a", [](nmreq_register& r) {
        r.nr_tx_rings = 4;
        r.nr_rx_rings = 2;
        r.nr_tx_slots = 512;
        r.nr_rx_slots = 4096;
    }), 0);
    EXPECT_EQ(a.reg.nr_tx_rings, 4);
    EXPECT_EQ(a.reg.nr_rx_rings, 2);
    EXPECT_EQ(a.reg.nr_tx_slots, 512u);
    EXPECT_EQ(a.reg.nr_rx_slots, 4096u);
    EXPECT_EQ(a.tx(3)->num_slots, 512u);
    EXPECT_EQ(a.rx(1)->num_slots, 4096u);
    // Ports of a switch may share a region by asking for its mem_id.
    ASSERT_EQ(b.open("vale1:b", [&](nmreq_register& r) { r.nr_mem_id = a.reg.nr_mem_id; }), 0);
    EXPECT_EQ(b.reg.nr_mem_id, a.reg.nr_mem_id);
    ASSERT_EQ(c.open("vale1:c"), 0);
    EXPECT_NE(c.reg.nr_mem_id, a.reg.nr_mem_id);
    // Too many slots are clamped as netmap does.
    Port d;
    ASSERT_EQ(d.open("vale1:d", [](nmreq_register& r) { r.nr_tx_slots = 100000; }), 0);
    EXPECT_EQ(d.reg.nr_tx_slots, 4096u);
}

// A private region sized for rings longer than the configured ring size
// (here 2289 + 8k slots: sizeof(netmap_ring) + 16 bytes a slot is a
// multiple of 64 but not of 128) must still keep every ring aligned to
// NM_CACHE_ALIGN, as struct netmap_ring is declared.  (Found by
// fuzz_legacy_nmreq: UBSan "misaligned address for type 'netmap_ring'".)
TEST_F(Vale, LongRingsStayCacheAligned) {
    for (uint32_t slots : {2289u, 2292u, 3668u, 4089u}) {
        SCOPED_TRACE(slots);
        Port a;
        ASSERT_EQ(a.open("vale2:long", [&](nmreq_register& r) {
            r.nr_tx_rings = r.nr_rx_rings = 3;
            r.nr_tx_slots = r.nr_rx_slots = slots;
        }), 0);
        EXPECT_EQ(a.reg.nr_tx_slots, slots);
        for (unsigned i = 0; i < 3; i++) {
            EXPECT_EQ(reinterpret_cast<uintptr_t>(a.tx(i)) % NM_CACHE_ALIGN, 0u) << "tx " << i;
            EXPECT_EQ(reinterpret_cast<uintptr_t>(a.rx(i)) % NM_CACHE_ALIGN, 0u) << "rx " << i;
        }
    }
}

TEST_F(Vale, PortInfoLeavesNothing) {
    nmreq_port_info_get info{};
    nmreq_header h = make_header("vale7:x", NETMAP_REQ_PORT_INFO_GET, &info);
    ASSERT_EQ(ctl(h), 0);
    EXPECT_EQ(info.nr_tx_slots, 1024u);
    EXPECT_TRUE(list_all().empty());
}

// Three ports: broadcast reaches both others; after learning, unicast only
// its destination; unknown unicast floods; nothing returns to its sender.
TEST_F(Vale, LearningBridge) {
    Port a, b, c;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    ASSERT_EQ(c.open("vale0:c"), 0);

    send(a, make_frame(kBcast, mac(1), 1, 60));
    auto rb = drain(b), rc = drain(c), ra = drain(a);
    ASSERT_EQ(rb.size(), 1u);
    ASSERT_EQ(rc.size(), 1u);
    EXPECT_TRUE(ra.empty());
    EXPECT_EQ(rb[0], make_frame(kBcast, mac(1), 1, 60));

    // a was learnt: b -> a is unicast, c sees nothing.
    send(b, make_frame(mac(1), mac(2), 2, 60));
    ra = drain(a), rb = drain(b), rc = drain(c);
    ASSERT_EQ(ra.size(), 1u);
    EXPECT_EQ(frame_seq(ra[0]), 2u);
    EXPECT_TRUE(rb.empty());
    EXPECT_TRUE(rc.empty());

    // c is unknown: a -> c floods (b and c); then c answers and is learnt.
    send(a, make_frame(mac(3), mac(1), 3, 60));
    EXPECT_EQ(drain(b).size(), 1u);
    EXPECT_EQ(drain(c).size(), 1u);
    send(c, make_frame(mac(1), mac(3), 4, 60));
    EXPECT_EQ(drain(a).size(), 1u);
    EXPECT_TRUE(drain(b).empty());
    send(a, make_frame(mac(3), mac(1), 5, 60));
    EXPECT_EQ(drain(c).size(), 1u);
    EXPECT_TRUE(drain(b).empty());

    // A frame for the sender's own address is not sent back (nor elsewhere).
    send(a, make_frame(mac(1), mac(1), 6, 60));
    EXPECT_TRUE(drain(a).empty());
    EXPECT_TRUE(drain(b).empty());
    EXPECT_TRUE(drain(c).empty());

    // Multicast floods.
    send(b, make_frame(0x0000005e0001ULL, mac(2), 7, 60));
    EXPECT_EQ(drain(a).size(), 1u);
    EXPECT_EQ(drain(c).size(), 1u);
    EXPECT_TRUE(drain(b).empty());

    // Runts (shorter than an Ethernet header) are dropped at the sender.
    send(a, make_frame(kBcast, mac(1), 8, 60));
    {
        std::vector<uint8_t> runt(10, 0xff);
        send(a, runt);
    }
    EXPECT_EQ(drain(b).size(), 1u);
    EXPECT_EQ(drain(c).size(), 1u);
    EXPECT_EQ(stats("vale0:a").tx_drops, 2u);  // the runt and the frame to itself

    // A port that moved: a's address now seen on c.
    send(c, make_frame(kBcast, mac(1), 9, 60));
    drain(a), drain(b);
    send(b, make_frame(mac(1), mac(2), 10, 60));
    EXPECT_TRUE(drain(a).empty());
    EXPECT_EQ(drain(c).size(), 1u);
}

TEST_F(Vale, NoLearnFlag) {
    Port a, b, c;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    ASSERT_EQ(c.open("vale0:c"), 0);
    send(a, make_frame(kBcast, mac(1), 1, 60), 0, NS_NO_LEARN);
    EXPECT_EQ(drain(b).size(), 1u);
    EXPECT_EQ(drain(c).size(), 1u);
    // a was not learnt: b -> a floods to c too.
    send(b, make_frame(mac(1), mac(2), 2, 60));
    EXPECT_EQ(drain(a).size(), 1u);
    EXPECT_EQ(drain(c).size(), 1u);
    // Now learn it.
    send(a, make_frame(kBcast, mac(1), 3, 60));
    drain(b), drain(c);
    send(b, make_frame(mac(1), mac(2), 4, 60));
    EXPECT_EQ(drain(a).size(), 1u);
    EXPECT_TRUE(drain(c).empty());
}

TEST_F(Vale, SwitchesAreSeparate) {
    Port a, b, c;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    ASSERT_EQ(c.open("vale1:c"), 0);
    send(a, make_frame(kBcast, mac(1), 1, 60));
    EXPECT_EQ(drain(b).size(), 1u);
    EXPECT_TRUE(drain(c).empty());
    auto l = list_all();
    ASSERT_EQ(l.size(), 3u);
    EXPECT_NE(l[0].bridge, l[2].bridge);
}

// Unicast lands on RX ring (sender's TX ring mod receiver's RX rings),
// broadcast on ring 0.
TEST_F(Vale, DestinationRings) {
    Port a, b;
    ASSERT_EQ(a.open("vale0:a", [](nmreq_register& r) { r.nr_tx_rings = r.nr_rx_rings = 4; }), 0);
    ASSERT_EQ(b.open("vale0:b", [](nmreq_register& r) {
        r.nr_tx_rings = 1;
        r.nr_rx_rings = 3;
        r.nr_rx_slots = 256;
    }), 0);
    send(b, make_frame(kBcast, mac(2), 0, 60));  // b learnt
    EXPECT_EQ(drain(a, 0).size(), 1u);
    send(a, make_frame(mac(2), mac(1), 1, 60), 2);
    send(a, make_frame(mac(2), mac(1), 2, 60), 3);
    send(a, make_frame(kBcast, mac(1), 3, 60), 2);
    ASSERT_EQ(b.rxsync(), 0);
    std::vector<uint8_t> f;
    ASSERT_TRUE(get_frame(b.rx(2), f));
    EXPECT_EQ(frame_seq(f), 1u);
    EXPECT_FALSE(get_frame(b.rx(2), f));
    ASSERT_TRUE(get_frame(b.rx(0), f));
    EXPECT_EQ(frame_seq(f), 2u);  // ring 3 % 3
    ASSERT_TRUE(get_frame(b.rx(0), f));
    EXPECT_EQ(frame_seq(f), 3u);  // broadcast
    EXPECT_FALSE(get_frame(b.rx(1), f));
    EXPECT_EQ(b.rx(1)->num_slots, 256u);
}

// A receiver that does not read loses what does not fit, counted; the
// sender is never held up.
TEST_F(Vale, FullReceiverDrops) {
    Port a, b;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    const uint32_t total = 5000;
    const auto t0 = Clock::now();
    uint32_t sent = 0;
    while (sent < total && seconds_since(t0) < 10) {
        while (sent < total && put_frame(a.tx(), make_frame(kBcast, mac(1), sent, 60))) sent++;
        ASSERT_EQ(a.txsync(), 0);
    }
    ASSERT_EQ(sent, total);
    EXPECT_LT(seconds_since(t0), 5.0);
    const auto sa = stats("vale0:a"), sb = stats("vale0:b");
    EXPECT_EQ(sa.tx_packets, total);
    EXPECT_EQ(sa.tx_drops, 0u);
    EXPECT_EQ(sb.rx_packets, 1023u);  // one slot always stays empty
    EXPECT_EQ(sb.rx_drops, total - 1023u);
    EXPECT_EQ(sb.rx_bytes, 1023u * 60);
    auto got = drain(b);
    ASSERT_EQ(got.size(), 1023u);
    for (uint32_t i = 0; i < got.size(); i++) ASSERT_EQ(frame_seq(got[i]), i);
    // Room again: the next frame arrives.
    send(a, make_frame(kBcast, mac(1), 99999, 60));
    got = drain(b);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(frame_seq(got[0]), 99999u);
}

// Chains of NS_MOREFRAG slots: up to 64 forwarded whole, longer dropped
// whole; an incomplete chain waits for its end.
TEST_F(Vale, FragmentChains) {
    Port a, b;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    netmap_ring* t = a.tx();
    const uint32_t bsz = t->nr_buf_size;
    // 64 slots of bsz bytes: forwarded.
    auto big = make_frame(kBcast, mac(1), 1, 64 * bsz);
    send(a, big);
    ASSERT_EQ(b.rxsync(), 0);
    std::vector<uint8_t> f;
    uint32_t frags = 0;
    bool ok = false;
    ASSERT_TRUE(get_frame(b.rx(), f, &frags, &ok));
    EXPECT_EQ(frags, 64u);
    EXPECT_TRUE(ok);
    EXPECT_EQ(f, big);
    ASSERT_EQ(b.rxsync(), 0);
    // 65 slots: dropped whole; the next frame is fine.
    send(a, make_frame(kBcast, mac(1), 2, 65 * bsz));
    send(a, make_frame(kBcast, mac(1), 3, 100));
    auto got = drain(b);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(frame_seq(got[0]), 3u);
    EXPECT_EQ(stats("vale0:a").tx_drops, 1u);
    // 65+ slots spread over several syncs: still dropped whole.
    {
        auto huge = make_frame(kBcast, mac(1), 4, 70 * bsz);
        uint32_t h = t->head;
        for (uint32_t k = 0; k < 70; k++) {
            netmap_slot& s = t->slot[h];
            std::memcpy(NETMAP_BUF(t, s.buf_idx), huge.data() + k * bsz, bsz);
            s.len = static_cast<uint16_t>(bsz);
            s.flags = k + 1 < 70 ? NS_MOREFRAG : 0;
            h = nm_ring_next(t, h);
            if (k == 29 || k == 66 || k == 69) {  // sync in the middle of the chain
                t->head = t->cur = h;
                ASSERT_EQ(a.txsync(), 0);
            }
        }
        send(a, make_frame(kBcast, mac(1), 5, 100));
        got = drain(b);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(frame_seq(got[0]), 5u);
        EXPECT_EQ(stats("vale0:a").tx_drops, 2u);
    }
    // An incomplete chain is held until its last slot is queued.
    {
        auto fr = make_frame(kBcast, mac(1), 6, 3 * bsz);
        uint32_t h = t->head;
        for (uint32_t k = 0; k < 3; k++) {
            netmap_slot& s = t->slot[h];
            std::memcpy(NETMAP_BUF(t, s.buf_idx), fr.data() + k * bsz, bsz);
            s.len = static_cast<uint16_t>(bsz);
            s.flags = k < 2 ? NS_MOREFRAG : 0;
            h = nm_ring_next(t, h);
            if (k == 1) {
                t->head = t->cur = h;
                ASSERT_EQ(a.txsync(), 0);
                EXPECT_TRUE(drain(b).empty());
            }
        }
        t->head = t->cur = h;
        ASSERT_EQ(a.txsync(), 0);
        got = drain(b);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], fr);
    }
}

// NS_INDIRECT: the data is at a user address in the sender (slot->ptr);
// a bad address delivers an empty frame rather than failing.
TEST_F(Vale, IndirectSlots) {
    Port a, b;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    const auto f = make_frame(kBcast, mac(1), 1, 300);
    netmap_ring* t = a.tx();
    netmap_slot& s = t->slot[t->head];
    s.ptr = reinterpret_cast<uintptr_t>(f.data());
    s.len = static_cast<uint16_t>(f.size());
    s.flags = NS_INDIRECT;
    t->head = t->cur = nm_ring_next(t, t->head);
    ASSERT_EQ(a.txsync(), 0);
    auto got = drain(b);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    // A header that cannot be read: dropped at the sender.
    netmap_slot& s2 = t->slot[t->head];
    s2.ptr = 8;
    s2.len = 60;
    s2.flags = NS_INDIRECT;
    t->head = t->cur = nm_ring_next(t, t->head);
    ASSERT_EQ(a.txsync(), 0);
    EXPECT_TRUE(drain(b).empty());
    EXPECT_EQ(stats("vale0:a").tx_drops, 1u);
}

// A fragment longer than the receiver's buffers is truncated to them.
TEST_F(Vale, TruncatedToSmallerBuffers) {
    Port a, b;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ::setenv("UNETMAP_BUF_SIZE", "1024", 1);  // b's private region gets 1 KiB buffers
    const int e = b.open("vale0:b");
    ::unsetenv("UNETMAP_BUF_SIZE");
    ASSERT_EQ(e, 0);
    ASSERT_EQ(b.rx()->nr_buf_size, 1024u);
    auto f = make_frame(kBcast, mac(1), 1, 1500);
    send(a, f);
    auto got = drain(b);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].size(), 1024u);
    EXPECT_TRUE(std::equal(got[0].begin(), got[0].end(), f.begin()));
}

// Slots naming no valid buffer make the sync fail (and the ring be
// reinitialised); what came before them was forwarded.
TEST_F(Vale, BadSlotFailsSync) {
    Port a, b;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    netmap_ring* t = a.tx();
    ASSERT_TRUE(put_frame(t, make_frame(kBcast, mac(1), 1, 60)));
    const uint32_t bad = t->head;
    const uint32_t good_buf = t->slot[bad].buf_idx;
    ASSERT_TRUE(put_frame(t, make_frame(kBcast, mac(1), 2, 60)));
    t->slot[bad].buf_idx = 0xfffffff0u;
    EXPECT_EQ(a.txsync(), EINVAL);
    EXPECT_EQ(t->head, bad);  // reset to the first slot not consumed
    EXPECT_EQ(t->slot[bad].buf_idx, 0u);  // repaired as netmap does: buffer 0
    auto got = drain(b);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(frame_seq(got[0]), 1u);
    // The application puts a buffer back; a length beyond it is refused too.
    t->slot[bad].buf_idx = good_buf;
    ASSERT_TRUE(put_frame(t, make_frame(kBcast, mac(1), 3, 60)));
    t->slot[bad].len = static_cast<uint16_t>(t->nr_buf_size + 1);
    EXPECT_EQ(a.txsync(), EINVAL);
    EXPECT_EQ(t->head, bad);
    EXPECT_TRUE(drain(b).empty());
    // The ring works again afterwards.
    send(a, make_frame(kBcast, mac(1), 4, 60));
    got = drain(b);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(frame_seq(got[0]), 4u);
}

// The receiver owns its RX slots' buffer indices; a bad one costs the
// frame delivered there (an empty slot, counted as a drop), not the switch.
TEST_F(Vale, ReceiverCorruptSlotIsSkipped) {
    Port a, b;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    b.rx()->slot[0].buf_idx = 1;  // reserved buffer
    send(a, make_frame(kBcast, mac(1), 1, 60));
    send(a, make_frame(kBcast, mac(1), 2, 60));
    ASSERT_EQ(b.rxsync(), 0);
    std::vector<uint8_t> f;
    ASSERT_TRUE(get_frame(b.rx(), f));
    EXPECT_TRUE(f.empty());
    ASSERT_TRUE(get_frame(b.rx(), f));
    EXPECT_EQ(frame_seq(f), 2u);
    EXPECT_EQ(stats("vale0:b").rx_drops, 1u);
}

// ---------------------------------------------------------------------------
// Two processes, variable lengths, byte for byte and in order
// ---------------------------------------------------------------------------

size_t length_of(uint32_t seq) { return 60 + (static_cast<size_t>(seq) * 7919u) % (9000 - 60 + 1); }

struct Shared {
    std::atomic<uint64_t> consumed_slots;  // receiver: slots released so far
    std::atomic<int> ready;
};

// Child: send `count` frames on vale0:tx, never more in flight than the
// receiver has free slots (a VALE sender is never held back: without this
// the receiver would lose frames).  Exit status: 0 ok, else a step number.
[[noreturn]] void sender_child(Shared* sh, uint32_t count, uint32_t rx_slots) {
    Port p;
    if (p.open("vale0:tx") != 0) _exit(10);
    const auto t0 = Clock::now();
    while (!sh->ready.load() && seconds_since(t0) < 10) usleep(100);
    uint64_t sent_slots = 0;
    netmap_ring* t = p.tx();
    const uint32_t bsz = t->nr_buf_size;
    uint32_t seq = 0;
    while (seq < count) {
        if (seconds_since(t0) > 120) _exit(11);
        bool queued = false;
        while (seq < count) {
            const size_t len = length_of(seq);
            const uint32_t need = slots_for(len, bsz);
            if (sent_slots + need - sh->consumed_slots.load(std::memory_order_acquire) > rx_slots - 1) break;
            auto f = make_frame(mac(9), mac(8), seq, len);
            if (!put_frame(t, f)) break;
            sent_slots += need;
            seq++;
            queued = true;
        }
        if (p.txsync() != 0) _exit(12);
        if (!queued) sched_yield();
    }
    _exit(0);
}

void transfer(uint32_t count) {
    auto* sh = static_cast<Shared*>(
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(sh, MAP_FAILED);
    new (sh) Shared{};
    Port rx;
    ASSERT_EQ(rx.open("vale0:rx"), 0);
    const uint32_t rx_slots = rx.reg.nr_rx_slots;
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        rx.fd = -1;  // the child leaves the parent's binding alone
        rx.mem = nullptr;
        sender_child(sh, count, rx_slots);
    }
    sh->ready.store(1);
    const auto t0 = Clock::now();
    uint32_t seq = 0, bad = 0, bad_flags = 0;
    std::vector<uint8_t> f;
    netmap_ring* r = rx.rx();
    while (seq < count && seconds_since(t0) < 120) {
        pollfd pfd{rx.fd, POLLIN, 0};
        ASSERT_GE(nmtest::netmap_poll(&pfd, 1, 100), 0);
        uint64_t slots = 0;
        uint32_t frags = 0;
        bool ok = true;
        while (get_frame(r, f, &frags, &ok)) {
            slots += frags;
            if (!ok) bad_flags++;
            if (f.size() != length_of(seq) || f != make_frame(mac(9), mac(8), seq, length_of(seq))) {
                if (bad++ < 5) ADD_FAILURE() << "frame " << seq << " differs (len " << f.size() << ")";
            }
            seq++;
        }
        if (slots) {
            ASSERT_EQ(rx.rxsync(), 0);  // release, then tell the sender
            sh->consumed_slots.fetch_add(slots, std::memory_order_release);
        }
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "sender status " << status;
    EXPECT_EQ(seq, count);
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(bad_flags, 0u);
    const auto st = stats("vale0:rx");
    EXPECT_EQ(st.rx_packets, count);
    EXPECT_EQ(st.rx_drops, 0u);
    ::munmap(sh, sizeof(Shared));
}

class ValeTransfer : public Vale, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(ValeTransfer, TwoProcessesByteForByte) { transfer(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Counts, ValeTransfer, ::testing::Values(1u, 1000u, 100000u));

// A receiver asleep in poll() is woken by a sender in another process.
TEST_F(Vale, PollWakesReceiver) {
    Port r;
    ASSERT_EQ(r.open("vale0:r"), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        r.fd = -1;
        r.mem = nullptr;
        Port s;
        if (s.open("vale0:s") != 0) _exit(1);
        usleep(200 * 1000);
        if (!put_frame(s.tx(), make_frame(kBcast, mac(4), 77, 60)) || s.txsync() != 0) _exit(2);
        usleep(200 * 1000);  // keep the port until the frame was surely read
        _exit(0);
    }
    const auto t0 = Clock::now();
    pollfd pfd{r.fd, POLLIN, 0};
    ASSERT_EQ(nmtest::netmap_poll(&pfd, 1, 5000), 1);
    EXPECT_TRUE(pfd.revents & POLLIN);
    EXPECT_LT(seconds_since(t0), 2.0);
    std::vector<uint8_t> f;
    ASSERT_TRUE(get_frame(r.rx(), f));
    EXPECT_EQ(frame_seq(f), 77u);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    // POLLOUT is always there: a VALE sender never waits.
    pfd = pollfd{r.fd, POLLOUT, 0};
    EXPECT_EQ(nmtest::netmap_poll(&pfd, 1, 0), 1);
}

// ---------------------------------------------------------------------------
// Persistent ports
// ---------------------------------------------------------------------------

TEST_F(Vale, PersistentPortsViaIoctl) {
    nmreq_vale_newif ni{};
    ASSERT_EQ(newif("v0", 512, 2, 0, &ni), 0);
    EXPECT_EQ(ni.nr_tx_slots, 512u);
    EXPECT_EQ(ni.nr_tx_rings, 2);
    EXPECT_GE(ni.nr_mem_id, 2);
    EXPECT_EQ(newif("v0"), EEXIST);
    EXPECT_EQ(newif("vale0"), EINVAL);     // no VALE prefix
    EXPECT_EQ(newif("a-b"), EINVAL);       // [A-Za-z0-9_]
    EXPECT_EQ(newif("null"), EINVAL);      // another port type's name
    EXPECT_EQ(newif("lo"), EEXIST);        // an interface of the system
    EXPECT_EQ(newif("0123456789abcdef"), EINVAL);  // longer than IFNAMSIZ - 1
    EXPECT_TRUE(list_all().empty());       // not on a switch yet
    EXPECT_FALSE(state_entries().empty());  // but it exists without descriptors
    EXPECT_EQ(stats("v0").flags, static_cast<uint32_t>(UNETMAP_PORT_PERSISTENT));

    uint32_t idx = 99;
    ASSERT_EQ(attach("vale0:v0", &idx), 0);
    EXPECT_EQ(idx, 0u);
    EXPECT_EQ(attach("vale0:v0"), EBUSY);
    EXPECT_EQ(attach("vale1:v0"), EBUSY);   // one switch at a time
    EXPECT_EQ(attach("vale0:nosuch"), ENXIO);
    // Interfaces: tests/tools/vale_nic_test.sh, on veths in namespaces of its own.
    EXPECT_EQ(attach("vale1:v0", nullptr, NR_REG_ONE_NIC), EINVAL);  // ALL_NIC or NIC_SW only

    {
        nmreq_vale_list l{};
        nmreq_header h = make_header("vale0:v0", NETMAP_REQ_VALE_LIST, &l);
        ASSERT_EQ(ctl(h), 0);
        EXPECT_EQ(l.nr_bridge_idx, 0);
        EXPECT_EQ(l.nr_port_idx, 0u);
        h = make_header("vale0:zz", NETMAP_REQ_VALE_LIST, &l);
        ASSERT_EQ(ctl(h), 0);
        EXPECT_EQ(l.nr_port_idx, 255u);  // NM_BDG_NOPORT
        h = make_header("vale9:zz", NETMAP_REQ_VALE_LIST, &l);
        EXPECT_EQ(ctl(h), ENOENT);
        h = make_header("foo", NETMAP_REQ_VALE_LIST, &l);
        EXPECT_EQ(ctl(h), EINVAL);
    }
    {
        Port e, v, byname;
        ASSERT_EQ(e.open("vale0:e"), 0);
        ASSERT_EQ(v.open("vale0:v0"), 0);  // the attached port, under its switch name
        EXPECT_EQ(v.reg.nr_tx_rings, 2);
        EXPECT_EQ(v.reg.nr_tx_slots, 512u);
        EXPECT_EQ(v.reg.nr_mem_id, ni.nr_mem_id);
        ASSERT_EQ(byname.open("v0"), 0);   // ... and under its own name
        EXPECT_EQ(byname.reg.nr_mem_id, ni.nr_mem_id);
        auto l = list_all();
        ASSERT_EQ(l.size(), 2u);
        send(e, make_frame(kBcast, mac(5), 1, 60));
        EXPECT_EQ(drain(v).size(), 1u);
        send(v, make_frame(mac(5), mac(6), 2, 60));
        EXPECT_EQ(drain(e).size(), 1u);
        EXPECT_EQ(delif("v0"), EBUSY);  // attached and open
        EXPECT_EQ(detach("vale0:e"), EINVAL);  // ephemeral: close it instead
        const auto st = stats("vale0:v0");
        EXPECT_EQ(st.flags, static_cast<uint32_t>(UNETMAP_PORT_PERSISTENT | UNETMAP_PORT_ATTACHED));
        EXPECT_EQ(st.rx_packets, 1u);
        EXPECT_EQ(st.tx_packets, 1u);
        ASSERT_EQ(detach("vale0:v0", &idx), 0);
        EXPECT_EQ(idx, 0u);
        // Detached: its frames go nowhere, it receives nothing.
        send(v, make_frame(kBcast, mac(6), 3, 60));
        send(e, make_frame(kBcast, mac(5), 4, 60));
        EXPECT_TRUE(drain(e).empty());
        EXPECT_TRUE(drain(v).empty());
        EXPECT_EQ(delif("v0"), EBUSY);  // still open
    }
    EXPECT_EQ(detach("vale0:v0"), ENXIO);
    EXPECT_EQ(delif("nosuch"), ENXIO);
    EXPECT_FALSE(state_entries().empty());
    ASSERT_EQ(delif("v0"), 0);
    EXPECT_EQ(delif("v0"), ENXIO);
}

TEST_F(Vale, NullPortAttachedIsASink) {
    Port a, n;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(n.open("null:sink"), 0);
    ASSERT_EQ(attach("vale0:null:sink"), 0);
    n.close();  // the switch keeps it
    send(a, make_frame(kBcast, mac(1), 1, 60));
    send(a, make_frame(kBcast, mac(1), 2, 100));
    const auto st = stats("vale0:null:sink");
    EXPECT_EQ(st.rx_packets, 2u);
    EXPECT_EQ(st.rx_bytes, 160u);
    EXPECT_EQ(list_all().size(), 2u);
    ASSERT_EQ(detach("vale0:null:sink"), 0);
    EXPECT_EQ(list_all().size(), 1u);
}

// Which switches and ports exist, as netmap's LIST reports them.
TEST_F(Vale, ListIteration) {
    Port p[5];
    ASSERT_EQ(p[0].open("vale0:a"), 0);
    ASSERT_EQ(p[1].open("vale0:b"), 0);
    ASSERT_EQ(p[2].open("vale1:c"), 0);
    ASSERT_EQ(p[3].open("vale2:d"), 0);
    ASSERT_EQ(p[4].open("vale0:e"), 0);
    p[1].close();
    int err = 0;
    auto l = list_all(&err);
    EXPECT_EQ(err, ENOENT);
    ASSERT_EQ(l.size(), 4u);
    std::vector<std::string> names;
    for (const auto& x : l) {
        struct unetmap_port_stats st;
        ASSERT_EQ(unetmap_vale_port_stats(x.bridge, x.port, &st), 0);
        names.push_back(st.name);
        EXPECT_EQ(st.bridge_idx, x.bridge);
        EXPECT_EQ(st.port_idx, x.port);
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"vale0:a", "vale0:e", "vale1:c", "vale2:d"}));
    struct unetmap_port_stats st;
    EXPECT_EQ(unetmap_vale_port_stats(60, 3, &st), -1);
    EXPECT_EQ(errno, ENOENT);
    EXPECT_EQ(unetmap_port_stats("vale5:nope", &st), -1);
    EXPECT_EQ(errno, ENOENT);
}

// netmap writes the listed port's name into the request header.  Needs the
// control plane to copy a handler's header name back (see the VALE report).
TEST_F(Vale, ListWritesNameBack) {
    Port a;
    ASSERT_EQ(a.open("vale0:a"), 0);
    auto l = list_all();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].name, "vale0:a");
}

// netmap's DELIF has no body (nr_body must be NULL).
TEST_F(Vale, DelifWithoutBody) {
    ASSERT_EQ(newif("v9"), 0);
    nmreq_header h = make_header("v9", NETMAP_REQ_VALE_DELIF, nullptr);
    EXPECT_EQ(ctl(h), 0);
    if (!state_entries().empty()) delif("v9");
}

std::string run_valectl(const std::string& args, int* status = nullptr) {
    const std::string cmd = std::string(VALECTL_PATH) + " " + args + " 2>&1";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return "";
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) out += buf;
    const int st = ::pclose(f);
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

TEST_F(Vale, PersistentPortsViaValectl) {
    int st = -1;
    EXPECT_EQ(run_valectl("-n v1 -C 256,512,2,3", &st), "");
    EXPECT_EQ(st, 0);
    std::string out = run_valectl("-n v2 -m v1 -v", &st);  // share v1's region
    EXPECT_EQ(st, 0);
    EXPECT_NE(out.find("tx_slots:   1024"), std::string::npos) << out;
    EXPECT_EQ(stats("v2").mem_id, stats("v1").mem_id);
    run_valectl("-n v1", &st);
    EXPECT_EQ(st, 1);
    EXPECT_EQ(run_valectl("-a vale3:v1", &st), "");
    EXPECT_EQ(st, 0);
    out = run_valectl("-h vale3:v2 -v", &st);
    EXPECT_EQ(st, 0);
    EXPECT_EQ(out, "port_index: 1\n");
    out = run_valectl("", &st);
    EXPECT_EQ(st, 0);
    EXPECT_EQ(out, "vale3:v1 bridge_idx 0 port_idx 0\nvale3:v2 bridge_idx 0 port_idx 1\n");
    out = run_valectl("-l vale3:v2", &st);
    EXPECT_EQ(out, "bridge_idx: 0\nport_idx:   1\n");
    out = run_valectl("-g v1", &st);
    EXPECT_NE(out.find("tx_slots:   256\nrx_slots:   512\ntx_rings:   2\nrx_rings:   3\n"), std::string::npos)
        << out;
    {
        Port a, b;
        ASSERT_EQ(a.open("vale3:v1"), 0);
        ASSERT_EQ(b.open("vale3:v2"), 0);
        send(a, make_frame(kBcast, mac(1), 1, 70));
        EXPECT_EQ(drain(b).size(), 1u);
        out = run_valectl("-v", &st);
        EXPECT_NE(out.find("vale3:v1 bridge_idx 0 port_idx 0\n"
                           "    tx 1 packets 70 bytes 0 drops  rx 0 packets 0 bytes 0 drops\n"),
                  std::string::npos)
            << out;
        EXPECT_NE(out.find("vale3:v2 bridge_idx 0 port_idx 1\n"
                           "    tx 0 packets 0 bytes 0 drops  rx 1 packets 70 bytes 0 drops\n"),
                  std::string::npos)
            << out;
        out = run_valectl("-r v1", &st);
        EXPECT_EQ(st, 1);
        EXPECT_NE(out.find("Device or resource busy"), std::string::npos) << out;
    }
    EXPECT_EQ(run_valectl("-d vale3:v1", &st), "");
    EXPECT_EQ(st, 0);
    EXPECT_EQ(run_valectl("-d vale3:v2", &st), "");
    EXPECT_EQ(run_valectl("", &st), "");
    EXPECT_EQ(run_valectl("-r v1", &st), "");
    EXPECT_EQ(st, 0);
    EXPECT_EQ(run_valectl("-r v2", &st), "");
    EXPECT_EQ(st, 0);
    run_valectl("-r v2", &st);
    EXPECT_EQ(st, 1);
}

// A persistent port that nobody has open receives nothing, and what was
// sent to it is counted as its drops: everything sent is delivered or
// counted (issue 9's accounting).
TEST_F(Vale, PersistentPortWithoutUserCountsDrops) {
    int st = -1;
    EXPECT_EQ(run_valectl("-n w1", &st), "");
    EXPECT_EQ(run_valectl("-a vale4:w1", &st), "");
    EXPECT_EQ(st, 0);
    {
        Port a, b;
        ASSERT_EQ(a.open("vale4:a"), 0);
        ASSERT_EQ(b.open("vale4:b"), 0);
        for (uint32_t i = 0; i < 5; i++) send(a, make_frame(kBcast, mac(1), i, 80));
        EXPECT_EQ(drain(b).size(), 5u);  // flooded to b, which is open...
    }
    const auto w = stats("w1");          // ...and to w1, which is not
    EXPECT_EQ(w.rx_packets, 0u);
    EXPECT_EQ(w.rx_drops, 5u);
    EXPECT_EQ(run_valectl("-d vale4:w1", &st), "");
    EXPECT_EQ(run_valectl("-r w1", &st), "");
    EXPECT_EQ(st, 0);
}

// ---------------------------------------------------------------------------
// Processes that die
// ---------------------------------------------------------------------------

// A child floods vale0:k -> vale0:r in a tight loop and is SIGKILLed at a
// random moment (possibly inside a sync, holding r's lease); the name can be
// opened again and the switch still forwards.
TEST_F(Vale, OwnerKilledWhileSending) {
    Port r;
    ASSERT_EQ(r.open("vale0:r"), 0);
    const auto t0 = Clock::now();
    std::srand(12345);
    for (int round = 0; round < 20 && seconds_since(t0) < 60; round++) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            r.fd = -1;
            r.mem = nullptr;
            Port k;
            if (k.open("vale0:k") != 0) _exit(1);
            const auto f = make_frame(kBcast, mac(7), 0, 60);
            for (uint64_t i = 0; i < 2000000000ULL; i++) {
                while (put_frame(k.tx(), f)) {
                }
                k.txsync();
            }
            _exit(0);
        }
        // Let it run (and fill r), draining now and then.
        const auto start = Clock::now();
        const double run_for = 0.001 * (1 + std::rand() % 20);
        while (seconds_since(start) < run_for) {
            r.rxsync();
            std::vector<uint8_t> f;
            while (get_frame(r.rx(), f)) {
            }
        }
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        int status;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status)) << status;
        // Reopen the dead process's port name here and talk to r.
        drain(r);
        Port k;
        ASSERT_EQ(k.open("vale0:k"), 0) << "round " << round;
        send(k, make_frame(mac(2), mac(7), 42, 60));
        send(k, make_frame(kBcast, mac(7), 43, 60));
        bool seen = false;
        for (int i = 0; i < 100 && !seen; i++)
            for (const auto& f : drain(r)) seen = seen || frame_seq(f) == 43;
        ASSERT_TRUE(seen) << "round " << round;
    }
    // The dead children's ports were reclaimed: only r is left.
    EXPECT_EQ(list_all().size(), 1u);
}

// Deterministic version: a process takes r's RX lease itself (the lock a
// sender holds while copying into r) and dies holding it.
TEST_F(Vale, KilledHoldingTheLease) {
    Port r, s;
    ASSERT_EQ(r.open("vale0:r"), 0);
    ASSERT_EQ(s.open("vale0:s"), 0);
    int pfd[2];
    ASSERT_EQ(::pipe(pfd), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        const std::string path = state_dir() + "/ctl";
        const int fd = ::open(path.c_str(), O_RDWR);
        if (fd < 0) _exit(1);
        void* m = ::mmap(nullptr, sizeof(unetmap::CtlHeader), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) _exit(2);
        auto* h = static_cast<unetmap::CtlHeader*>(m);
        for (auto& p : h->ports) {
            if (p.in_use && std::strcmp(p.name, "vale0:r") == 0) {
                auto* mu = reinterpret_cast<pthread_mutex_t*>(&p.kring[unetmap::kRx][0].lease);
                if (pthread_mutex_lock(mu) != 0) _exit(3);
                const char c = 1;
                if (::write(pfd[1], &c, 1) != 1) _exit(4);
                ::pause();
            }
        }
        _exit(5);
    }
    ::close(pfd[1]);
    char c = 0;
    ASSERT_EQ(::read(pfd[0], &c, 1), 1);
    ::close(pfd[0]);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    // The next sender recovers the lease (EOWNERDEAD) and delivers.
    send(s, make_frame(kBcast, mac(3), 1, 60));
    send(s, make_frame(kBcast, mac(3), 2, 60));
    auto got = drain(r);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(frame_seq(got[1]), 2u);
}

// An ephemeral port whose owner was killed (not sending) is reclaimed and
// can be recreated, with a fresh region.
TEST_F(Vale, PortReopenedAfterOwnerKilled) {
    int pfd[2];
    ASSERT_EQ(::pipe(pfd), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        Port p;
        if (p.open("vale0:x", [](nmreq_register& r) { r.nr_tx_rings = 2; }) != 0) _exit(1);
        const char c = 1;
        if (::write(pfd[1], &c, 1) != 1) _exit(2);
        ::pause();
        _exit(0);
    }
    ::close(pfd[1]);
    char c = 0;
    ASSERT_EQ(::read(pfd[0], &c, 1), 1);
    ::close(pfd[0]);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    Port x, y;
    ASSERT_EQ(x.open("vale0:x"), 0);  // gc reclaimed the dead one: a new port, default shape
    EXPECT_EQ(x.reg.nr_tx_rings, 1);
    ASSERT_EQ(y.open("vale0:y"), 0);
    send(x, make_frame(kBcast, mac(1), 1, 60));
    EXPECT_EQ(drain(y).size(), 1u);
    EXPECT_EQ(list_all().size(), 2u);
}

// 254 ports per switch (sharing one region, so the registry's region table
// is no limit); the 255th is refused.
TEST_F(Vale, TwoHundredFiftyFourPorts) {
    constexpr int kPorts = 254;
    std::vector<std::unique_ptr<Port>> ports;
    ::setenv("UNETMAP_RING_NUM", "640", 1);  // the first port's region holds all rings
    ::setenv("UNETMAP_IF_NUM", "320", 1);    // and a netmap_if per descriptor
    uint16_t mem_id = 0;
    for (int i = 0; i < kPorts; i++) {
        auto p = std::make_unique<Port>();
        const std::string name = "vale0:p" + std::to_string(i);
        const int e = p->open(name.c_str(), [&](nmreq_register& r) {
            r.nr_tx_slots = r.nr_rx_slots = 32;
            r.nr_mem_id = mem_id;
        });
        ASSERT_EQ(e, 0) << name;
        mem_id = p->reg.nr_mem_id;
        ports.push_back(std::move(p));
    }
    ::unsetenv("UNETMAP_RING_NUM");
    ::unsetenv("UNETMAP_IF_NUM");
    Port extra;
    EXPECT_EQ(extra.open("vale0:extra", [&](nmreq_register& r) { r.nr_mem_id = mem_id; }), ENOMEM);
    EXPECT_EQ(list_all().size(), static_cast<size_t>(kPorts));
    send(*ports[0], make_frame(kBcast, mac(1), 1, 60));
    for (int i = 1; i < kPorts; i++)
        ASSERT_EQ(stats(("vale0:p" + std::to_string(i)).c_str()).rx_packets, 1u) << i;
    EXPECT_EQ(stats("vale0:p0").rx_packets, 0u);
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    char tmpl[] = "/dev/shm/unetmap-vale.XXXXXX";
    const bool listing = ::testing::GTEST_FLAG(list_tests);
    if (!listing) {
        if (!::mkdtemp(tmpl)) {
            std::perror("mkdtemp /dev/shm");
            return 2;
        }
        ::setenv("UNETMAP_DIR", tmpl, 1);
        // Never the machine's own interfaces (an attach of an interface
        // starts an agent that opens it): NIC ports only in namespaces of
        // /run/netns, as in every other test program.
        ::setenv("UNETMAP_NIC_NETNS_ONLY", "1", 1);
    }
    const int rc = RUN_ALL_TESTS();
    if (!listing) {
        for (const auto& n : state_entries()) ::unlink((std::string(tmpl) + "/" + n).c_str());
        ::rmdir(tmpl);
    }
    return rc;
}
