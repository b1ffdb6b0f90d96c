// Limits: every table and pool of unetmap, walked to its end with small
// configured pools.  At each limit the refused registration gets the
// documented errno and a line on stderr naming what is full
// (docs/ARCHITECTURE.md, "Limits"), leaves the state directory as it was,
// and leaves the ports that exist working (a pipe pair, "live", passes a
// frame after every refusal); freeing one object makes the same request
// succeed.  Last, a flood into a receiver that never reads: the switch
// drops and counts, and neither the sender's memory nor the state
// directory grows.
#include <sys/resource.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <net/netmap.h>
#include <unetmap/stats.h>

#include "core/region.h"
#include "core/registry.h"
#define UNETMAP_TEST_HAVE_REGION_META 1
#include "test_support.h"

using nmtest::Port;
using nmtest::StateDirEmpty;

namespace {

constexpr uint32_t kLiveSlots = 16;  // the live pipe takes 2 x 16 buffers

using Tweak = std::function<void(nmreq_register&)>;

Tweak slots(uint32_t n) {
    return [n](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = n; };
}

// The pipe pair whose traffic must survive every refusal.
struct Live {
    Port m, s;
    uint32_t seq = 0;

    void open() {
        ASSERT_EQ(m.open("live{0", slots(kLiveSlots)), 0);
        ASSERT_EQ(s.open("live}0"), 0);
    }
    ::testing::AssertionResult passes() {
        netmap_ring* tx = m.tx();
        if (m.txsync() != 0 || nmtest::ring_space(tx) == 0)
            return ::testing::AssertionFailure() << "live{0: no room to send";
        const uint32_t len = 60 + seq % 100;
        nmtest::put_frame(tx, len, ++seq);
        if (int e = m.txsync()) return ::testing::AssertionFailure() << "live{0 txsync: " << std::strerror(e);
        if (int e = s.rxsync()) return ::testing::AssertionFailure() << "live}0 rxsync: " << std::strerror(e);
        netmap_ring* rx = s.rx();
        if (rx->head == rx->tail) return ::testing::AssertionFailure() << "live}0 received nothing";
        const bool ok = nmtest::frame_ok(rx, rx->slot[rx->head], len, seq);
        rx->head = rx->cur = nmtest::ring_next(rx, rx->head);
        s.rxsync();
        if (!ok) return ::testing::AssertionFailure() << "live}0 received a damaged frame";
        return ::testing::AssertionSuccess();
    }
};

// Register `name` expecting errno `want`; the library must say on stderr
// what is full (a line containing `why`), and the state directory must be
// exactly as before.
::testing::AssertionResult Refused(const char* name, int want, const std::string& why, const Tweak& tweak = {}) {
    const auto before = nmtest::state_entries();
    Port p;
    ::testing::internal::CaptureStderr();
    const int e = p.open(name, tweak);
    const std::string err = ::testing::internal::GetCapturedStderr();
    if (e != want)
        return ::testing::AssertionFailure() << name << ": got " << (e ? std::strerror(e) : "success") << ", want "
                                             << std::strerror(want);
    if (err.find("unetmap: ") == std::string::npos || err.find(why) == std::string::npos)
        return ::testing::AssertionFailure() << name << ": stderr does not say '" << why << "': '" << err << "'";
    if (nmtest::state_entries() != before)
        return ::testing::AssertionFailure() << name << ": the refusal changed the state directory: "
                                             << nmtest::join(nmtest::state_entries());
    return ::testing::AssertionSuccess();
}

using Ports = std::vector<std::unique_ptr<Port>>;

int open_into(Ports& v, const std::string& name, const Tweak& tweak = {}) {
    auto p = std::make_unique<Port>();
    const int e = p->open(name.c_str(), tweak);
    if (e == 0) v.push_back(std::move(p));
    return e;
}

uint64_t rss_bytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    return 0;
}

// Bytes the state directory's files really occupy (they are sparse).
uint64_t state_dir_bytes() {
    uint64_t n = 0;
    for (const auto& e : nmtest::state_entries()) {
        struct stat st {};
        if (::stat((nmtest::state_dir() + "/" + e).c_str(), &st) == 0) n += static_cast<uint64_t>(st.st_blocks) * 512;
    }
    return n;
}

class Limits : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(StateDirEmpty()); }
    void TearDown() override {
        for (const char* v : {"UNETMAP_BUF_NUM", "UNETMAP_RING_NUM", "UNETMAP_IF_NUM"}) ::unsetenv(v);
        EXPECT_TRUE(StateDirEmpty());
    }
    // Pool sizes of the regions created from now on (the global one first).
    static void pools(uint32_t bufs, uint32_t rings, uint32_t ifs) {
        ::setenv("UNETMAP_BUF_NUM", std::to_string(bufs).c_str(), 1);
        ::setenv("UNETMAP_RING_NUM", std::to_string(rings).c_str(), 1);
        ::setenv("UNETMAP_IF_NUM", std::to_string(ifs).c_str(), 1);
    }
};

}  // namespace

// 256 ports (kMaxPorts), all kinds together: ENOMEM.  A pipe needs two
// entries: with one free it is refused and gives that one back.
TEST_F(Limits, PortTable) {
    pools(4096, 600, 300);
    Live live;
    live.open();
    Ports ports;
    int e = 0;
    for (int i = 0; e == 0 && i < 1000; i++) e = open_into(ports, "null:p" + std::to_string(i), slots(2));
    EXPECT_EQ(e, ENOMEM);
    ASSERT_EQ(ports.size(), unetmap::kMaxPorts - 2) << "the live pipe holds two entries";
    EXPECT_TRUE(Refused("null:more", ENOMEM, "no free port entry (all 256 in use)"));
    EXPECT_TRUE(live.passes());
    ports.pop_back();  // one entry free
    EXPECT_TRUE(Refused("x{1", ENOMEM, "port 'x}1': no free port entry"));
    EXPECT_TRUE(live.passes());
    EXPECT_EQ(open_into(ports, "null:again", slots(2)), 0) << "the refused pipe gave its first end back";
    EXPECT_TRUE(Refused("null:more", ENOMEM, "no free port entry"));
    ports.resize(10);
    EXPECT_EQ(open_into(ports, "x{1"), 0);
    EXPECT_EQ(open_into(ports, "x}1"), 0);
    EXPECT_TRUE(live.passes());
}

// 32 descriptors per port (kMaxListeners): EBUSY.  1024 registered
// descriptors in all (kMaxBindings): ENOMEM.
TEST_F(Limits, DescriptorsPerPortAndInAll) {
    pools(1024, 100, 1100);
    rlimit rl{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 1100 && rl.rlim_max >= 1100) {
        rl.rlim_cur = 1100;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 1100) GTEST_SKIP() << "needs 1100 descriptors (RLIMIT_NOFILE)";
    Live live;
    live.open();
    Ports ports;
    for (uint32_t i = 0; i < unetmap::kMaxListeners; i++) ASSERT_EQ(open_into(ports, "null:l0", slots(2)), 0) << i;
    EXPECT_TRUE(Refused("null:l0", EBUSY, "port 'null:l0': already registered by 32 descriptors"));
    EXPECT_TRUE(live.passes());
    int e = 0;
    uint32_t total = 2 + unetmap::kMaxListeners;
    for (uint32_t k = 1; e == 0 && k < 100; k++)
        for (uint32_t i = 0; e == 0 && i < unetmap::kMaxListeners; i++)
            if ((e = open_into(ports, "null:l" + std::to_string(k), slots(2))) == 0) total++;
    EXPECT_EQ(e, ENOMEM);
    EXPECT_EQ(total, unetmap::kMaxBindings);
    EXPECT_TRUE(Refused("null:l99", ENOMEM, "no free binding entry (1024 registered descriptors", slots(2)));
    EXPECT_TRUE(live.passes());
    ports.erase(ports.begin() + 40);  // one descriptor of null:l1 closed
    EXPECT_EQ(open_into(ports, "null:l99", slots(2)), 0);
    EXPECT_TRUE(Refused("null:l1", ENOMEM, "no free binding entry", slots(2)));
    ports.clear();
    EXPECT_TRUE(live.passes());
}

// The ring pool: ENOMEM for a new port, while existing ports still take
// descriptors; more than 16 rings per direction on one port: EINVAL.
TEST_F(Limits, RingPool) {
    pools(1024, 8, 64);
    Live live;
    live.open();  // four rings
    Ports ports;
    ASSERT_EQ(open_into(ports, "null:a", [](nmreq_register& r) { r.nr_tx_rings = r.nr_rx_rings = 2, r.nr_tx_slots = r.nr_rx_slots = 4; }), 0);
    EXPECT_TRUE(Refused("null:b", ENOMEM, "port 'null:b': ring pool of memory region 1 exhausted (0 free of 8, the port needs 2)",
                        slots(4)));
    EXPECT_TRUE(Refused("y{1", ENOMEM, "ring pool of memory region 1 exhausted", slots(4)));
    EXPECT_TRUE(live.passes());
    EXPECT_EQ(open_into(ports, "null:a"), 0) << "an existing port needs no new rings";
    Port big;
    EXPECT_EQ(big.open("null:c", [](nmreq_register& r) { r.nr_tx_rings = unetmap::kMaxRings + 1; }), EINVAL);
    ports.clear();  // four rings back
    EXPECT_EQ(open_into(ports, "y{1", slots(4)), 0);
    EXPECT_TRUE(Refused("null:b", ENOMEM, "ring pool of memory region 1 exhausted (0 free of 8", slots(4)));
    ports.clear();
    EXPECT_EQ(open_into(ports, "null:b", slots(4)), 0);
    EXPECT_TRUE(live.passes());
}

// The buffer pool: a port's ring buffers, then extra buffers (as many as
// are left, as netmap gives), each ENOMEM when short and back when freed.
TEST_F(Limits, BufferPool) {
    constexpr uint32_t kBufs = 2300;
    pools(kBufs, 64, 64);
    Live live;
    live.open();  // 2 x 16 buffers (the slave end shares them)
    const uint32_t mem_id = live.m.reg.nr_mem_id;
    const uint64_t memsize = live.m.reg.nr_memsize;
    const int64_t free0 = nmtest::region_free_counts(mem_id, memsize).bufs();
    EXPECT_EQ(free0, kBufs - 2 - 2 * kLiveSlots);
    Ports ports;
    ASSERT_EQ(open_into(ports, "null:big", slots(1024)), 0);
    const int64_t left = free0 - 2048;
    EXPECT_TRUE(Refused("null:c", ENOMEM,
                        "port 'null:c': buffer pool of memory region 1 exhausted (" + std::to_string(left) +
                            " free of 2300, the port needs 256)",
                        slots(128)));
    EXPECT_TRUE(live.passes());
    Port extra;
    ASSERT_EQ(extra.open("live{0", [](nmreq_register& r) { r.nr_extra_bufs = 100000; }), 0);
    EXPECT_EQ(extra.reg.nr_extra_bufs, static_cast<uint32_t>(left)) << "extra buffers: all that are left";
    EXPECT_EQ(nmtest::region_free_counts(mem_id, memsize).bufs(), 0);
    EXPECT_TRUE(Refused("null:tiny", ENOMEM, "buffer pool of memory region 1 exhausted (0 free", slots(2)));
    EXPECT_TRUE(live.passes());
    extra.close();
    EXPECT_EQ(nmtest::region_free_counts(mem_id, memsize).bufs(), left) << "extra buffers come back at close";
    EXPECT_EQ(open_into(ports, "null:tiny", slots(2)), 0);
    ports.erase(ports.begin());  // null:big
    EXPECT_EQ(open_into(ports, "null:c", slots(128)), 0);
    ports.clear();
    EXPECT_EQ(nmtest::region_free_counts(mem_id, memsize).bufs(), free0) << "every buffer back";
    EXPECT_TRUE(live.passes());
}

// The if pool (one netmap_if per registered descriptor).
TEST_F(Limits, IfPool) {
    pools(1024, 64, 4);
    Live live;
    live.open();  // two
    Ports ports;
    ASSERT_EQ(open_into(ports, "null:i", slots(2)), 0);
    ASSERT_EQ(open_into(ports, "null:i", slots(2)), 0);
    EXPECT_TRUE(Refused("null:i", ENOMEM, "port 'null:i': if pool of memory region 1 exhausted (all 4 netmap_if in use)"));
    EXPECT_TRUE(Refused("null:j", ENOMEM, "if pool of memory region 1 exhausted", slots(2)));
    EXPECT_TRUE(live.passes());
    ports.pop_back();
    EXPECT_EQ(open_into(ports, "null:j", slots(2)), 0);
    EXPECT_TRUE(live.passes());
}

// 64 VALE switches (each with a port and its private region); a switch
// that exists still takes ports; a switch goes away with its last port.
TEST_F(Limits, Switches) {
    pools(64, 8, 8);
    Live live;
    live.open();
    Ports ports;
    for (int i = 0; i < 64; i++) ASSERT_EQ(open_into(ports, "vale" + std::to_string(i) + ":a", slots(64)), 0) << i;
    EXPECT_TRUE(Refused("vale64:a", ENOMEM, "vale64:a: no free switch (all 64 in use)", slots(64)));
    EXPECT_TRUE(live.passes());
    EXPECT_EQ(open_into(ports, "vale3:b", slots(64)), 0);
    ports.erase(ports.begin() + 7);  // vale7 loses its only port
    EXPECT_EQ(open_into(ports, "vale64:a", slots(64)), 0);
    EXPECT_TRUE(Refused("vale65:a", ENOMEM, "no free switch", slots(64)));
    EXPECT_TRUE(live.passes());
}

// 254 ports per switch: ENOMEM naming the switch; a member's place is
// reused once it leaves.
TEST_F(Limits, PortsPerSwitch) {
    pools(20000, 640, 320);  // the first VALE port's region holds every ring and buffer
    Live live;
    live.open();
    Ports ports;
    uint16_t mem_id = 0;
    for (int i = 0; i < 254; i++) {
        ASSERT_EQ(open_into(ports, "vale0:p" + std::to_string(i), [&](nmreq_register& r) {
            r.nr_tx_slots = r.nr_rx_slots = 32;
            r.nr_mem_id = mem_id;
        }), 0) << i;
        mem_id = ports.back()->reg.nr_mem_id;
    }
    const auto shared = [&](nmreq_register& r) { r.nr_mem_id = mem_id; };
    EXPECT_TRUE(Refused("vale0:extra", ENOMEM, "vale0:extra: switch 'vale0' is full (254 ports)", shared));
    EXPECT_TRUE(Refused("vale1:a", ENOMEM, "no free port entry", shared)) << "and the port table is full too";
    EXPECT_TRUE(live.passes());
    ports.erase(ports.begin() + 100);
    EXPECT_EQ(open_into(ports, "vale0:extra", shared), 0);
    // The newcomer is a full member: a broadcast of p0 reaches it.
    Port& p0 = *ports[0];
    nmtest::put_frame(p0.tx(), 60, 1);
    std::memset(Port::buf(p0.tx(), p0.tx()->slot[0].buf_idx), 0xff, 6);
    ASSERT_EQ(p0.txsync(), 0);
    Port& extra = *ports.back();
    ASSERT_EQ(extra.rxsync(), 0);
    EXPECT_NE(extra.rx()->head, extra.rx()->tail) << "vale0:extra received the broadcast";
    EXPECT_TRUE(live.passes());
}

// 8 monitors per port, zero-copy or not; 16 zero-copy monitors in all.
TEST_F(Limits, Monitors) {
    Live live;
    live.open();
    Ports mons;
    const auto mon = [](uint64_t flags) { return [flags](nmreq_register& r) { r.nr_flags = flags; }; };
    for (int i = 0; i < 8; i++) ASSERT_EQ(open_into(mons, "live{0", mon(NR_ZCOPY_MON)), 0) << i;
    EXPECT_TRUE(Refused("live{0", ENOMEM, "monitor of 'live{0': the port has 8 monitors already", mon(NR_MONITOR_TX)));
    EXPECT_TRUE(live.passes());
    for (int i = 0; i < 8; i++) ASSERT_EQ(open_into(mons, "live}0", mon(NR_ZCOPY_MON)), 0) << i;
    Ports ports;
    ASSERT_EQ(open_into(ports, "null:z", slots(64)), 0);
    EXPECT_TRUE(Refused("null:z", ENOMEM, "zero-copy monitor of 'null:z': 16 zero-copy monitors exist already",
                        mon(NR_ZCOPY_MON)));
    EXPECT_EQ(open_into(mons, "null:z", mon(NR_MONITOR_RX | NR_MONITOR_TX)), 0) << "copy monitors are not counted";
    EXPECT_TRUE(live.passes());
    mons.erase(mons.begin() + 3);  // one of live{0's
    EXPECT_EQ(open_into(mons, "null:z", mon(NR_ZCOPY_MON)), 0);
    EXPECT_TRUE(Refused("live{0", ENOMEM, "16 zero-copy monitors exist already", mon(NR_ZCOPY_MON)));
    EXPECT_EQ(open_into(mons, "live{0", mon(NR_MONITOR_TX)), 0) << "its eighth place is free";
    EXPECT_TRUE(live.passes());
    mons.clear();
    EXPECT_TRUE(live.passes());
}

// A receiver that never reads: the switch drops and counts what does not
// fit; the sender never waits; no memory grows, in the process or in the
// state directory.
TEST_F(Limits, FloodIntoFullReceiverDropsAndCounts) {
    Live live;
    live.open();
    Port src, dst;
    ASSERT_EQ(src.open("vale0:src", slots(1024)), 0);
    ASSERT_EQ(dst.open("vale0:dst", slots(1024)), 0);
    netmap_ring* tx = src.tx();
    uint64_t sent = 0;
    const auto flood = [&](uint64_t n) {
        for (uint64_t end = sent + n; sent < end;) {
            while (nmtest::ring_space(tx) > 0 && sent < end) {
                netmap_slot& s = tx->slot[tx->cur];
                char* b = Port::buf(tx, s.buf_idx);
                std::memset(b, 0xff, 6);  // broadcast
                std::memcpy(b + 6, "\x02\0\0\0\0\x01", 6);
                std::memcpy(b + 12, &sent, sizeof sent);
                s.len = 60;
                s.flags = 0;
                tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
                sent++;
            }
            ASSERT_EQ(src.txsync(), 0);
        }
    };
    flood(100000);  // every page either side will ever touch is touched
    const uint64_t rss0 = rss_bytes(), dir0 = state_dir_bytes();
    const double t0 = nmtest::now_s();
    while (nmtest::now_s() - t0 < 2.0 && sent < 20000000) flood(100000);
    const uint64_t rss1 = rss_bytes(), dir1 = state_dir_bytes();
    EXPECT_GE(sent, 1000000u);
    struct unetmap_port_stats st {};
    ASSERT_EQ(unetmap_port_stats("vale0:dst", &st), 0);
    EXPECT_EQ(st.rx_packets, dst.reg.nr_rx_slots - 1u) << "the ring filled once; never released";
    EXPECT_EQ(st.rx_packets + st.rx_drops, sent) << "every frame delivered or counted as a drop";
    EXPECT_LE(rss1, rss0 + (1u << 20)) << "RSS grew from " << rss0 << " to " << rss1 << " over " << sent << " frames";
    EXPECT_EQ(dir1, dir0) << "the state directory grew";
    // The receiver still gets, in order, the frames that fitted.
    ASSERT_EQ(dst.rxsync(), 0);
    netmap_ring* rx = dst.rx();
    uint64_t want = 0, got = 0;
    for (; rx->head != rx->tail; rx->head = rx->cur = nmtest::ring_next(rx, rx->head), got++) {
        uint64_t seq;
        std::memcpy(&seq, Port::buf(rx, rx->slot[rx->head].buf_idx) + 12, sizeof seq);
        EXPECT_EQ(seq, want++);
    }
    EXPECT_EQ(got, st.rx_packets);
    ASSERT_EQ(dst.rxsync(), 0);
    flood(10);
    ASSERT_EQ(dst.rxsync(), 0);
    EXPECT_EQ(nmtest::ring_space(rx), 10u) << "delivery resumes once the receiver reads";
    EXPECT_TRUE(live.passes());
}
