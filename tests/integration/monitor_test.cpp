// Copy monitors ("PORT/r", "/t", "/rt") on VALE ports and pipe ends,
// through the plain netmap API: what a monitor sees (which direction,
// which rings, byte for byte, in order, fragment chains whole), several
// monitors at once, a monitor that never reads (it drops, the port it
// watches does not slow down), errors, and cleanup when a monitor or the
// watched port goes away, a monitor's process dying included.  Then
// zero-copy monitors ("PORT/z"): packets passed on by buffer exchange once
// the port is done with them, chains of them (each passes on what it
// releases), slow, lying and killed monitors, and an audit of every buffer
// of the region after each (no buffer lost, none owned twice).
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
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

constexpr int kPollMs = 5000;

class Monitor : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(StateDirEmpty()); }
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

// One slot as seen on a ring.
struct Rec {
    std::vector<char> data;
    uint16_t flags = 0;
    bool operator==(const Rec& o) const { return data == o.data && flags == o.flags; }
};

// An Ethernet broadcast frame from `src` carrying `seq` (VALE floods it).
Rec frame(uint32_t src, uint32_t seq, uint32_t len, uint16_t flags = 0) {
    Rec r;
    r.data.resize(len);
    std::memset(r.data.data(), 0xff, 6);
    const unsigned char mac[6] = {2, 0, 0, 0, 0, static_cast<unsigned char>(src)};
    std::memcpy(r.data.data() + 6, mac, 6);
    r.data[12] = static_cast<char>(0x88), r.data[13] = static_cast<char>(0xb5);
    std::memcpy(r.data.data() + 14, &seq, 4);
    for (uint32_t i = 18; i < len; i++) r.data[i] = static_cast<char>(seq * 7 + src * 3 + i);
    r.flags = flags;
    return r;
}

uint32_t len_of(uint32_t seq) { return 60 + (seq * 37) % 1400; }

// Register a monitor of `name`; returns 0 or errno.
int open_monitor(Port& m, const char* name, uint64_t flags, uint32_t mode = NR_REG_ALL_NIC,
                 uint32_t ringid = 0, uint32_t rx_slots = 0) {
    return m.open(name, [&](nmreq_register& r) {
        r.nr_flags = flags;
        r.nr_mode = mode;
        r.nr_ringid = ringid;
        r.nr_rx_slots = rx_slots;
    });
}

bool wait_tx(const Port& p) {
    const int r = p.poll(POLLOUT, kPollMs);
    return r > 0 && (r & POLLOUT) && !(r & POLLERR);
}

// Queue `recs` on TX ring `ring` (waiting for room), one txsync per batch
// of `batch` slots, never in the middle of a chain.  0 or an error code.
int send(Port& p, const std::vector<Rec>& recs, uint32_t ring = 0, uint32_t batch = 32) {
    netmap_ring* tx = p.tx(ring);
    uint32_t queued = 0;
    for (size_t i = 0; i < recs.size();) {
        size_t e = i;  // the chain starting at i
        while (e < recs.size() && (recs[e].flags & NS_MOREFRAG)) e++;
        const uint32_t need = static_cast<uint32_t>(e - i + 1);
        while (nmtest::ring_space(tx) < need) {
            if (p.txsync()) return 1;
            if (nmtest::ring_space(tx) < need && !wait_tx(p)) return 2;
        }
        for (; i <= e && i < recs.size(); i++) {
            netmap_slot& s = tx->slot[tx->cur];
            std::memcpy(Port::buf(tx, s.buf_idx), recs[i].data.data(), recs[i].data.size());
            s.len = static_cast<uint16_t>(recs[i].data.size());
            s.flags = recs[i].flags;
            tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
            queued++;
        }
        if (queued >= batch) {
            if (p.txsync()) return 3;
            queued = 0;
        }
    }
    return p.txsync() ? 4 : 0;
}

// rxsync, then take every slot available on RX ring `ring`.
std::vector<Rec> drain(Port& p, uint32_t ring = 0) {
    std::vector<Rec> out;
    if (p.rxsync()) return out;
    netmap_ring* rx = p.rx(ring);
    for (; rx->cur != rx->tail; rx->head = rx->cur = nmtest::ring_next(rx, rx->cur)) {
        const netmap_slot& s = rx->slot[rx->cur];
        Rec r;
        const char* b = Port::buf(rx, s.buf_idx);
        r.data.assign(b, b + s.len);
        r.flags = s.flags & NS_MOREFRAG;
        out.push_back(std::move(r));
    }
    p.rxsync();
    return out;
}

// Receive exactly `n` slots (polling, bounded).
std::vector<Rec> recv_n(Port& p, size_t n, uint32_t ring = 0) {
    std::vector<Rec> out;
    const double end = nmtest::now_s() + kPollMs / 1000.0;
    while (out.size() < n && nmtest::now_s() < end) {
        auto got = drain(p, ring);
        out.insert(out.end(), got.begin(), got.end());
        if (out.size() < n) p.poll(POLLIN, 50);
    }
    return out;
}

std::vector<Rec> frames(uint32_t src, uint32_t first, uint32_t n) {
    std::vector<Rec> v;
    for (uint32_t s = first; s < first + n; s++) v.push_back(frame(src, s, len_of(s)));
    return v;
}

std::vector<Rec> cat(std::vector<Rec> a, const std::vector<Rec>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Counters of the monitor ports of `watched` ("watched/<flags>#k"), by name.
std::vector<struct unetmap_port_stats> monitor_stats(const std::string& watched) {
    std::vector<struct unetmap_port_stats> all(256), out;
    const int n = unetmap_port_list(all.data(), static_cast<int>(all.size()));
    for (int i = 0; i < n; i++)
        if (std::string(all[i].name).rfind(watched + "/", 0) == 0) out.push_back(all[i]);
    return out;
}

bool port_exists(const char* name) {
    struct unetmap_port_stats st;
    return unetmap_port_stats(name, &st) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_F(Monitor, RtOnValePortSeesBothDirectionsInOrder) {
    Port a, b, m;
    ASSERT_EQ(a.open("vale0:a"), 0);
    ASSERT_EQ(b.open("vale0:b"), 0);
    ASSERT_EQ(open_monitor(m, "vale0:a", NR_MONITOR_RX | NR_MONITOR_TX), 0);
    EXPECT_EQ(m.nifp->ni_tx_rings, 1u);
    EXPECT_EQ(m.nifp->ni_rx_rings, 1u);

    // a sends 150, b receives them; b sends 120, a receives them; then a
    // sends 30 more.  The monitor gets all 300 in that order.
    const auto a1 = frames(1, 0, 150), b1 = frames(2, 1000, 120), a2 = frames(1, 150, 30);
    ASSERT_EQ(send(a, a1), 0);
    EXPECT_EQ(recv_n(b, a1.size()), a1);
    ASSERT_EQ(send(b, b1), 0);
    EXPECT_EQ(recv_n(a, b1.size()), b1);
    ASSERT_EQ(send(a, a2), 0);
    EXPECT_EQ(recv_n(b, a2.size()), a2);

    const auto seen = recv_n(m, 300);
    ASSERT_EQ(seen.size(), 300u);
    EXPECT_TRUE(seen == cat(cat(a1, b1), a2));
    EXPECT_TRUE(drain(m).empty());  // nothing more, nothing twice

    const auto st = monitor_stats("vale0:a");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_STREQ(st[0].name, "vale0:a/rt#0");
    EXPECT_EQ(st[0].rx_packets, 300u);
    EXPECT_EQ(st[0].rx_drops, 0u);
    // b's traffic to a counts once, a's own rings are unaffected.
    struct unetmap_port_stats sa;
    ASSERT_EQ(unetmap_port_stats("vale0:a", &sa), 0);
    EXPECT_EQ(sa.tx_packets, 180u);
    EXPECT_EQ(sa.rx_packets, 120u);
}

TEST_F(Monitor, TxMonitorOnPipeEndSeesWhatItSendsChainsWhole) {
    Port master, slave, m;
    ASSERT_EQ(master.open("x{1"), 0);
    ASSERT_EQ(slave.open("x}1"), 0);
    ASSERT_EQ(open_monitor(m, "x{1", NR_MONITOR_TX), 0);

    // Packets of 1..4 fragments (NS_MOREFRAG on all but the last).
    std::vector<Rec> sent;
    for (uint32_t pkt = 0; pkt < 200; pkt++) {
        const uint32_t nf = 1 + pkt % 4;
        for (uint32_t j = 0; j < nf; j++)
            sent.push_back(frame(1, pkt * 8 + j, 40 + (pkt * 5 + j * 11) % 300, j + 1 < nf ? NS_MOREFRAG : 0));
    }
    ASSERT_EQ(send(master, sent, 0, 48), 0);
    EXPECT_TRUE(recv_n(slave, sent.size()) == sent);
    const auto seen = recv_n(m, sent.size());
    EXPECT_EQ(seen.size(), sent.size());
    EXPECT_TRUE(seen == sent);

    // What the master receives is not transmit traffic: not seen.
    ASSERT_EQ(send(slave, frames(2, 0, 50)), 0);
    EXPECT_EQ(recv_n(master, 50).size(), 50u);
    EXPECT_TRUE(drain(m).empty());

    const auto st = monitor_stats("x{1");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, 200u);  // packets, not slots
}

TEST_F(Monitor, TwoMonitorsAtOnceEachSeesItsDirection) {
    Port master, slave, mr, mt, mrt;
    ASSERT_EQ(master.open("p{3"), 0);
    ASSERT_EQ(slave.open("p}3"), 0);
    ASSERT_EQ(open_monitor(mr, "p}3", NR_MONITOR_RX), 0);
    ASSERT_EQ(open_monitor(mt, "p}3", NR_MONITOR_TX), 0);
    ASSERT_EQ(open_monitor(mrt, "p}3", NR_MONITOR_RX | NR_MONITOR_TX), 0);
    const auto to_slave = frames(1, 0, 100), from_slave = frames(2, 500, 70);
    ASSERT_EQ(send(master, to_slave), 0);
    EXPECT_EQ(recv_n(slave, 100), to_slave);
    ASSERT_EQ(send(slave, from_slave), 0);
    EXPECT_EQ(recv_n(master, 70), from_slave);
    EXPECT_EQ(recv_n(mr, 100), to_slave);
    EXPECT_EQ(recv_n(mt, 70), from_slave);
    EXPECT_EQ(recv_n(mrt, 170), cat(to_slave, from_slave));
    EXPECT_TRUE(drain(mr).empty());
    EXPECT_TRUE(drain(mt).empty());
    EXPECT_EQ(monitor_stats("p}3").size(), 3u);

    // One goes away; the others keep working.
    mt.close();
    EXPECT_EQ(monitor_stats("p}3").size(), 2u);
    ASSERT_EQ(send(master, frames(1, 100, 10)), 0);
    EXPECT_EQ(recv_n(slave, 10).size(), 10u);
    EXPECT_EQ(recv_n(mr, 10), frames(1, 100, 10));
    EXPECT_EQ(recv_n(mrt, 10), frames(1, 100, 10));
}

TEST_F(Monitor, RingSelectionWatchesOnlyThatRing) {
    Port master, slave, m;
    ASSERT_EQ(master.open("q{1", [](nmreq_register& r) { r.nr_tx_rings = r.nr_rx_rings = 2; }), 0);
    ASSERT_EQ(slave.open("q}1"), 0);
    ASSERT_EQ(open_monitor(m, "q{1", NR_MONITOR_TX, NR_REG_ONE_NIC, 1), 0);
    EXPECT_EQ(m.nifp->ni_rx_rings, 2u);
    EXPECT_EQ(m.nifp->ring_ofs[1 + 0], 0);  // monitor RX ring 0: not bound
    ASSERT_EQ(send(master, frames(1, 0, 20), 0), 0);
    ASSERT_EQ(send(master, frames(1, 100, 25), 1), 0);
    EXPECT_EQ(recv_n(slave, 20, 0).size(), 20u);
    EXPECT_EQ(recv_n(slave, 25, 1).size(), 25u);
    EXPECT_EQ(recv_n(m, 25, 1), frames(1, 100, 25));
    EXPECT_TRUE(drain(m, 1).empty());
    // Ring ids beyond the watched port's rings are refused, as for the port.
    Port bad;
    EXPECT_EQ(open_monitor(bad, "q{1", NR_MONITOR_TX, NR_REG_ONE_NIC, 2), EINVAL);
}

// A monitor that never reads: the watched traffic flows in full, the
// monitor keeps the first ring-full and counts every other packet as a drop.
TEST_F(Monitor, SlowMonitorDropsAndNeverBlocksPipe) {
    Port master, slave, m;
    ASSERT_EQ(master.open("s{1", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 256; }), 0);
    ASSERT_EQ(slave.open("s}1"), 0);
    ASSERT_EQ(open_monitor(m, "s{1", NR_MONITOR_TX, NR_REG_ALL_NIC, 0, 64), 0);
    EXPECT_EQ(m.rx()->num_slots, 64u);
    constexpr uint32_t kN = 5000;
    std::thread rx([&] {
        size_t got = 0;
        const double end = nmtest::now_s() + 20;
        while (got < kN && nmtest::now_s() < end) {
            got += drain(slave).size();
            if (got < kN) slave.poll(POLLIN, 10);
        }
        EXPECT_EQ(got, kN);
    });
    EXPECT_EQ(send(master, frames(1, 0, kN), 0, 100), 0);
    rx.join();
    const auto st = monitor_stats("s{1");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, 63u);
    EXPECT_EQ(st[0].rx_drops, kN - 63u);
    // What it kept is the first 63, intact.
    EXPECT_EQ(drain(m), frames(1, 0, 63));
}

TEST_F(Monitor, SlowMonitorDropsAndNeverBlocksVale) {
    Port a, b, m;
    ASSERT_EQ(a.open("vale1:a"), 0);
    ASSERT_EQ(b.open("vale1:b"), 0);
    ASSERT_EQ(open_monitor(m, "vale1:b", NR_MONITOR_RX | NR_MONITOR_TX, NR_REG_ALL_NIC, 0, 32), 0);
    constexpr uint32_t kN = 3000;
    size_t got = 0;
    for (uint32_t first = 0; first < kN; first += 100) {
        ASSERT_EQ(send(a, frames(1, first, 100), 0, 100), 0);
        got += recv_n(b, 100).size();
    }
    EXPECT_EQ(got, kN);
    struct unetmap_port_stats sb;
    ASSERT_EQ(unetmap_port_stats("vale1:b", &sb), 0);
    EXPECT_EQ(sb.rx_packets, kN);
    EXPECT_EQ(sb.rx_drops, 0u);
    const auto st = monitor_stats("vale1:b");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, 31u);
    EXPECT_EQ(st[0].rx_drops, kN - 31u);
    // Once it reads again it gets new traffic.
    EXPECT_EQ(drain(m).size(), 31u);
    ASSERT_EQ(send(a, frames(1, kN, 5)), 0);
    EXPECT_EQ(recv_n(b, 5).size(), 5u);
    EXPECT_EQ(recv_n(m, 5), frames(1, kN, 5));
}

TEST_F(Monitor, Errors) {
    Port m;
    // No such port (and nothing is created).
    EXPECT_EQ(open_monitor(m, "vale0:nobody", NR_MONITOR_RX), ENXIO);
    EXPECT_EQ(open_monitor(m, "z{7", NR_MONITOR_TX), ENXIO);
    EXPECT_EQ(open_monitor(m, "null:none", NR_MONITOR_RX | NR_MONITOR_TX), ENXIO);
    EXPECT_FALSE(port_exists("z{7"));
    EXPECT_FALSE(port_exists("z}7"));

    Port master;
    ASSERT_EQ(master.open("z{7"), 0);
    // The other end exists but nobody registered it (netmap: not in netmap mode).
    EXPECT_EQ(open_monitor(m, "z}7", NR_MONITOR_RX), EINVAL);
    // A monitor cannot be monitored: its name is not a port name.
    Port m1, m2;
    ASSERT_EQ(open_monitor(m1, "z{7", NR_MONITOR_TX), 0);
    const auto st = monitor_stats("z{7");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_STREQ(st[0].name, "z{7/t#0");
    EXPECT_EQ(open_monitor(m2, st[0].name, NR_MONITOR_RX), EINVAL);
    EXPECT_EQ(m2.open(st[0].name), EINVAL);
    // Nothing can be sent through a monitor.
    netmap_ring* tx = m1.tx();
    tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
    EXPECT_EQ(m1.txsync(), EINVAL);
}

// The watched port closes first: the monitor keeps it (nothing dangles),
// the port is found again by a new open and the monitor sees its traffic.
TEST_F(Monitor, WatchedPortClosedFirst) {
    Port a, b, m;
    ASSERT_EQ(a.open("vale2:a"), 0);
    ASSERT_EQ(open_monitor(m, "vale2:a", NR_MONITOR_TX), 0);
    a.close();
    EXPECT_TRUE(port_exists("vale2:a"));
    EXPECT_TRUE(drain(m).empty());
    ASSERT_EQ(a.open("vale2:a"), 0);
    ASSERT_EQ(b.open("vale2:b"), 0);
    ASSERT_EQ(send(a, frames(3, 0, 40)), 0);
    EXPECT_EQ(recv_n(b, 40).size(), 40u);
    EXPECT_EQ(recv_n(m, 40), frames(3, 0, 40));
    a.close();
    b.close();
    m.close();
    EXPECT_FALSE(port_exists("vale2:a"));
}

// A monitor in another process, asleep in poll(), is woken by the watched
// port's syncs; when that process dies its monitor goes away.
NMTEST_ROLE(monitor_reader) {
    Port m;
    if (open_monitor(m, args[0].c_str(), NR_MONITOR_RX | NR_MONITOR_TX)) return 2;
    nmtest::chan_send(std::stoi(args[1]), 1);
    const uint32_t want = nmtest::arg_u32(args, 2);
    uint32_t got = 0;
    const double end = nmtest::now_s() + 15;
    while (got < want && nmtest::now_s() < end) {
        if (m.poll(POLLIN, 5000) <= 0) continue;
        for (const Rec& r : drain(m)) {
            uint32_t seq;
            std::memcpy(&seq, r.data.data() + 14, 4);
            if (r.data != frame(1, seq, len_of(seq)).data || seq != got) return 3;
            got++;
        }
    }
    if (got != want) return 4;
    nmtest::chan_send(std::stoi(args[1]), 2);
    ::pause();  // until killed, monitor still open
    return 5;
}

TEST_F(Monitor, MonitorInAnotherProcessWokenThenKilled) {
    Port master, slave;
    ASSERT_EQ(master.open("k{1"), 0);
    ASSERT_EQ(slave.open("k}1"), 0);
    nmtest::Chan ready;
    const pid_t child = nmtest::spawn_role("monitor_reader", {"k{1", ready.ws(), "400"});
    uint32_t v = 0;
    ASSERT_TRUE(ready.recv(v));
    ASSERT_EQ(v, 1u);
    EXPECT_EQ(monitor_stats("k{1").size(), 1u);
    for (uint32_t first = 0; first < 400; first += 50) {
        ASSERT_EQ(send(master, frames(1, first, 50)), 0);
        EXPECT_EQ(recv_n(slave, 50).size(), 50u);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let it fall asleep
    }
    ASSERT_TRUE(ready.recv(v));
    EXPECT_EQ(v, 2u);
    nmtest::kill_child(child);
    // The next registration collects the dead process's binding.
    Port other;
    ASSERT_EQ(other.open("null"), 0);
    EXPECT_TRUE(monitor_stats("k{1").empty());
    // Traffic goes on, without the hook.
    ASSERT_EQ(send(master, frames(1, 0, 30)), 0);
    EXPECT_EQ(recv_n(slave, 30).size(), 30u);
}

// A forked child that exits without closing its monitor.
TEST_F(Monitor, MonitorOwnerExitsCleansUp) {
    Port a;
    ASSERT_EQ(a.open("vale3:a"), 0);
    const pid_t child = nmtest::spawn([] {
        auto* m = new Port;  // never closed: _exit with the monitor open
        if (open_monitor(*m, "vale3:a", NR_MONITOR_TX)) ::_exit(2);
        ::_exit(monitor_stats("vale3:a").size() == 1 ? 0 : 3);
        return 4;
    });
    EXPECT_EQ(nmtest::wait_child(child), 0);
    Port other;
    ASSERT_EQ(other.open("vale3:b"), 0);  // runs gc
    EXPECT_TRUE(monitor_stats("vale3:a").empty());
    ASSERT_EQ(send(a, frames(1, 0, 10)), 0);
    EXPECT_EQ(recv_n(other, 10).size(), 10u);
}

// RX: the monitor gets what each sync makes newly available, once, even
// when the application keeps its slots across syncs; a chain split over
// two of the sender's syncs arrives whole once complete.
TEST_F(Monitor, RxCopiesNewSlotsOnceAndChainsWhole) {
    Port master, slave, m;
    ASSERT_EQ(master.open("r{1"), 0);
    ASSERT_EQ(slave.open("r}1"), 0);
    ASSERT_EQ(open_monitor(m, "r}1", NR_MONITOR_RX), 0);
    ASSERT_EQ(send(master, frames(1, 0, 10)), 0);
    ASSERT_EQ(slave.rxsync(), 0);  // 10 available, none released
    ASSERT_EQ(send(master, frames(1, 10, 5)), 0);
    ASSERT_EQ(slave.rxsync(), 0);  // 5 more, still holding all 15
    EXPECT_EQ(nmtest::ring_space(slave.rx()), 15u);
    EXPECT_EQ(drain(m), frames(1, 0, 15));

    // A 3-slot chain: two fragments in one sync, the last in the next.
    std::vector<Rec> chain = {frame(1, 100, 200, NS_MOREFRAG), frame(1, 101, 300, NS_MOREFRAG),
                              frame(1, 102, 100)};
    netmap_ring* tx = master.tx();
    for (int i = 0; i < 3; i++) {
        netmap_slot& s = tx->slot[tx->cur];
        std::memcpy(Port::buf(tx, s.buf_idx), chain[i].data.data(), chain[i].data.size());
        s.len = static_cast<uint16_t>(chain[i].data.size());
        s.flags = chain[i].flags;
        tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
        if (i == 1) {
            ASSERT_EQ(master.txsync(), 0);
            ASSERT_EQ(slave.rxsync(), 0);  // the slave sees 2 fragments
            EXPECT_TRUE(drain(m).empty());  // the monitor waits for the end
        }
    }
    ASSERT_EQ(master.txsync(), 0);
    EXPECT_EQ(recv_n(slave, 15 + 3).size(), 18u);
    EXPECT_EQ(drain(m), chain);
    EXPECT_EQ(monitor_stats("r}1")[0].rx_drops, 0u);
}

// TX: a pipe consumes an incomplete chain at once.  The monitor, which
// only copies whole packets, loses that one (one drop) and goes on.
TEST_F(Monitor, TxChainConsumedBeforeItsEndIsOneDrop) {
    Port master, slave, m;
    ASSERT_EQ(master.open("t{1"), 0);
    ASSERT_EQ(slave.open("t}1"), 0);
    ASSERT_EQ(open_monitor(m, "t{1", NR_MONITOR_TX), 0);
    netmap_ring* tx = master.tx();
    for (int i = 0; i < 4; i++) {
        netmap_slot& s = tx->slot[tx->cur];
        const Rec r = frame(1, 200 + i, 100, i < 3 ? NS_MOREFRAG : 0);
        std::memcpy(Port::buf(tx, s.buf_idx), r.data.data(), r.data.size());
        s.len = 100;
        s.flags = r.flags;
        tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
        if (i == 1) {
            ASSERT_EQ(master.txsync(), 0);
        }
    }
    ASSERT_EQ(send(master, frames(1, 0, 7)), 0);
    EXPECT_EQ(recv_n(slave, 4 + 7).size(), 11u);
    EXPECT_EQ(drain(m), frames(1, 0, 7));
    const auto st = monitor_stats("t{1");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, 7u);
    EXPECT_EQ(st[0].rx_drops, 1u);
}

// A persistent VALE port attached to a switch is monitored under its
// switch name too ("vale4:v0").
TEST_F(Monitor, PersistentValePortBySwitchName) {
    auto ctl = [](const char* name, uint16_t type, void* body) {
        nmreq_header h = nmtest::make_header(name, type, body);
        const int fd = ::open("/dev/netmap", O_RDWR);
        const int e = nmtest::xioctl(fd, NIOCCTRL, &h);
        ::close(fd);
        return e;
    };
    nmreq_vale_newif nb{};
    ASSERT_EQ(ctl("v0", NETMAP_REQ_VALE_NEWIF, &nb), 0);
    nmreq_vale_attach ab{};
    ab.reg.nr_mode = NR_REG_ALL_NIC;
    ASSERT_EQ(ctl("vale4:v0", NETMAP_REQ_VALE_ATTACH, &ab), 0);
    {
        Port a, b, m;
        ASSERT_EQ(a.open("vale4:v0"), 0);
        ASSERT_EQ(b.open("vale4:b"), 0);
        ASSERT_EQ(open_monitor(m, "vale4:v0", NR_MONITOR_TX), 0);
        ASSERT_EQ(send(a, frames(4, 0, 12)), 0);
        EXPECT_EQ(recv_n(b, 12).size(), 12u);
        EXPECT_EQ(recv_n(m, 12), frames(4, 0, 12));
        EXPECT_EQ(monitor_stats("vale4:v0").size(), 1u);  // named as it was asked for
    }
    nmreq_vale_detach db{};
    EXPECT_EQ(ctl("vale4:v0", NETMAP_REQ_VALE_DETACH, &db), 0);
    EXPECT_EQ(ctl("v0", NETMAP_REQ_VALE_DELIF, nullptr), 0);
}

// ---------------------------------------------------------------------------
// Zero-copy monitors ("PORT/z")
// ---------------------------------------------------------------------------

namespace {

// What RX ring `ring` holds for the application, read without releasing it.
std::vector<Rec> peek(Port& p, uint32_t ring = 0) {
    std::vector<Rec> out;
    if (p.rxsync()) return out;
    netmap_ring* rx = p.rx(ring);
    for (uint32_t j = rx->head; j != rx->tail; j = nmtest::ring_next(rx, j)) {
        const netmap_slot& s = rx->slot[j];
        Rec r;
        const char* b = Port::buf(rx, s.buf_idx);
        r.data.assign(b, b + s.len);
        r.flags = s.flags & NS_MOREFRAG;
        out.push_back(std::move(r));
    }
    return out;
}

// Release everything RX ring `ring` holds; 0 or the sync's error.
int release(Port& p, uint32_t ring = 0) {
    netmap_ring* rx = p.rx(ring);
    rx->head = rx->cur = rx->tail;
    return p.rxsync();
}

std::vector<uint32_t> bufs_of(const netmap_ring* r) {
    std::vector<uint32_t> v;
    for (uint32_t j = 0; j < r->num_slots; j++) v.push_back(r->slot[j].buf_idx);
    return v;
}

std::vector<uint32_t> cat(std::vector<uint32_t> a, const std::vector<uint32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// The buffers a zero-copy monitor truly holds: the library's record, read
// from the control file (its ring says whatever its application wrote).
std::vector<uint32_t> zmon_held(const std::string& monitor_name) {
    std::vector<uint32_t> v;
    const int fd = ::open((nmtest::state_dir() + "/ctl").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return v;
    void* p = ::mmap(nullptr, sizeof(unetmap::CtlHeader), PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return v;
    const auto* h = static_cast<const unetmap::CtlHeader*>(p);
    for (const auto& z : h->zmon) {
        if (!z.in_use || z.port >= unetmap::kMaxPorts) continue;
        const unetmap::PortEntry& m = h->ports[z.port];
        if (monitor_name != m.name) continue;
        for (uint32_t r = 0; r < m.nrings[unetmap::kRx]; r++)
            for (uint32_t j = 0; j < m.kring[unetmap::kRx][r].num_slots; j++) v.push_back(z.buf[r][j]);
    }
    ::munmap(p, sizeof(unetmap::CtlHeader));
    return v;
}

// Every buffer of the region (id `mem_id`, pools ending at `memsize`) is
// either free or named once in `held`: none named twice, none both named
// and free, none lost (free + named = all but the two reserved ones).
::testing::AssertionResult BuffersAccountedFor(uint32_t mem_id, uint64_t memsize, std::vector<uint32_t> held) {
    const std::string prefix = "mem." + std::to_string(mem_id) + ".";
    for (const auto& n : nmtest::state_entries()) {
        if (n.rfind(prefix, 0) != 0) continue;
        const int fd = ::open((nmtest::state_dir() + "/" + n).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        ::fstat(fd, &st);
        void* p = ::mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) continue;
        const auto* base = static_cast<const char*>(p);
        const auto* m = reinterpret_cast<const unetmap::RegionMeta*>(base + memsize);
        const uint32_t total = m->pool[2].objtotal, nfree = m->free_count[2];
        const auto* bitmap = reinterpret_cast<const uint64_t*>(base + m->bitmap_ofs[2]);
        std::sort(held.begin(), held.end());
        std::string err;
        for (size_t i = 0; i < held.size() && err.empty(); i++) {
            const uint32_t b = held[i];
            if (b < 2 || b >= total) err = "buffer index " + std::to_string(b) + " in a slot";
            else if (i > 0 && held[i - 1] == b) err = "buffer " + std::to_string(b) + " named twice";
            else if ((bitmap[b / 64] >> (b % 64)) & 1) err = "buffer " + std::to_string(b) + " is free but in a slot";
        }
        if (err.empty() && nfree + held.size() != total - 2)
            err = std::to_string(nfree) + " free + " + std::to_string(held.size()) + " held != " +
                  std::to_string(total - 2) + " buffers";
        ::munmap(p, st.st_size);
        if (!err.empty()) return ::testing::AssertionFailure() << err;
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "no region " << mem_id;
}

}  // namespace

// A zero-copy monitor of a VALE port sees what the port sent once its
// txsync reclaimed the slots (VALE: at once) and what it received once
// its application released the slots; the buffers themselves, exchanged.
TEST_F(Monitor, ZcopyOnValePortSeesWhatThePortIsDoneWith) {
    Port a, b, z;
    ASSERT_EQ(a.open("vale5:a"), 0);
    ASSERT_EQ(b.open("vale5:b"), 0);
    ASSERT_EQ(open_monitor(z, "vale5:a", NR_ZCOPY_MON), 0);
    EXPECT_EQ(z.reg.nr_mem_id, a.reg.nr_mem_id);  // the port's own memory
    EXPECT_EQ(z.nifp->ni_rx_rings, 1u);
    const auto st0 = monitor_stats("vale5:a");
    ASSERT_EQ(st0.size(), 1u);
    EXPECT_STREQ(st0[0].name, "vale5:a/zrt#0");

    const auto a1 = frames(1, 0, 150), b1 = frames(2, 1000, 120);
    ASSERT_EQ(send(a, a1), 0);
    EXPECT_EQ(recv_n(b, a1.size()), a1);
    EXPECT_EQ(peek(z), a1);  // sent, and the slots reclaimed
    ASSERT_EQ(release(z), 0);
    ASSERT_EQ(send(b, b1), 0);
    ASSERT_EQ(a.rxsync(), 0);
    EXPECT_EQ(nmtest::ring_space(a.rx()), 120u);
    EXPECT_TRUE(peek(z).empty());  // a holds them: not released yet
    EXPECT_EQ(recv_n(a, b1.size()), b1);
    EXPECT_EQ(peek(z), b1);
    // a's released slots came back with the monitor's buffers.
    uint32_t changed = 0;
    for (uint32_t j = 0; j < a.rx()->num_slots; j++) changed += (a.rx()->slot[j].flags & NS_BUF_CHANGED) != 0;
    EXPECT_EQ(changed, 0u);  // VALE's rxsync took them back and cleared the flag
    EXPECT_TRUE(BuffersAccountedFor(a.reg.nr_mem_id, a.reg.nr_memsize,
                                    cat(cat(bufs_of(a.tx()), bufs_of(a.rx())), zmon_held("vale5:a/zrt#0"))));
    const auto st = monitor_stats("vale5:a");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, 270u);
    EXPECT_EQ(st[0].rx_drops, 0u);

    // Gone: the port keeps a full set of buffers and goes on.
    z.close();
    EXPECT_TRUE(monitor_stats("vale5:a").empty());
    EXPECT_TRUE(BuffersAccountedFor(a.reg.nr_mem_id, a.reg.nr_memsize, cat(bufs_of(a.tx()), bufs_of(a.rx()))));
    ASSERT_EQ(send(a, frames(1, 500, 40)), 0);
    EXPECT_EQ(recv_n(b, 40), frames(1, 500, 40));
}

// Two zero-copy monitors of a pipe end form a chain: the second sees a
// packet only once the first has released it.  A copy monitor of the same
// end sees the packets at once, when they are sent.
TEST_F(Monitor, ZcopyChainOnPipePassesOnWhatThePreviousReleased) {
    Port master, slave, z1, z2, c;
    ASSERT_EQ(master.open("c{1"), 0);
    ASSERT_EQ(slave.open("c}1"), 0);
    ASSERT_EQ(open_monitor(z1, "c{1", NR_ZCOPY_MON), 0);
    ASSERT_EQ(open_monitor(z2, "c{1", NR_ZCOPY_MON | NR_MONITOR_TX), 0);  // /zt is /z
    ASSERT_EQ(open_monitor(c, "c{1", NR_MONITOR_TX), 0);
    const auto names = monitor_stats("c{1");
    ASSERT_EQ(names.size(), 3u);
    EXPECT_STREQ(names[0].name, "c{1/zrt#0");
    EXPECT_STREQ(names[1].name, "c{1/zrt#1");

    const auto f = frames(1, 0, 40);
    ASSERT_EQ(send(master, f), 0);
    EXPECT_EQ(drain(c), f);        // the copy monitor: at once
    EXPECT_TRUE(peek(z1).empty());  // the slave has not released them
    EXPECT_EQ(recv_n(slave, f.size()), f);
    ASSERT_EQ(master.txsync(), 0);  // reclaims what the slave released
    EXPECT_EQ(peek(z1), f);
    EXPECT_TRUE(peek(z2).empty());  // z1 holds them
    EXPECT_TRUE(peek(z2).empty());
    ASSERT_EQ(release(z1), 0);      // z1 passes them on
    EXPECT_TRUE(peek(z1).empty());
    EXPECT_EQ(peek(z2), f);
    ASSERT_EQ(release(z2), 0);

    // The other direction: what the master receives, once it releases it.
    const auto g = frames(2, 500, 25);
    ASSERT_EQ(send(slave, g), 0);
    EXPECT_EQ(recv_n(master, g.size()), g);
    EXPECT_EQ(drain(z1), g);
    EXPECT_EQ(drain(z2), g);
    EXPECT_TRUE(drain(c).empty());  // /t only

    // Coupled rings still name the same buffers, and every buffer of the
    // region is accounted for.
    for (uint32_t j = 0; j < master.tx()->num_slots; j++) {
        ASSERT_EQ(master.tx()->slot[j].buf_idx, slave.rx()->slot[j].buf_idx) << "slot " << j;
        ASSERT_EQ(master.rx()->slot[j].buf_idx, slave.tx()->slot[j].buf_idx) << "slot " << j;
    }
    EXPECT_TRUE(BuffersAccountedFor(
        master.reg.nr_mem_id, master.reg.nr_memsize,
        cat(cat(cat(bufs_of(master.tx()), bufs_of(master.rx())), zmon_held("c{1/zrt#0")), zmon_held("c{1/zrt#1"))));

    // The first goes away: the second is now first.
    z1.close();
    ASSERT_EQ(send(master, frames(1, 100, 10)), 0);
    EXPECT_EQ(recv_n(slave, 10).size(), 10u);
    ASSERT_EQ(master.txsync(), 0);
    EXPECT_EQ(drain(z2), frames(1, 100, 10));
    EXPECT_TRUE(BuffersAccountedFor(master.reg.nr_mem_id, master.reg.nr_memsize,
                                    cat(cat(bufs_of(master.tx()), bufs_of(master.rx())), zmon_held("c{1/zrt#1"))));
}

// A zero-copy monitor that never releases: the port never waits; the
// monitor keeps the newest ring-full of the first batch offered and
// counts the rest as drops.
TEST_F(Monitor, ZcopySlowMonitorDropsOldestNeverBlocks) {
    Port a, b, z;
    ASSERT_EQ(a.open("vale6:a"), 0);
    ASSERT_EQ(b.open("vale6:b"), 0);
    ASSERT_EQ(open_monitor(z, "vale6:a", NR_ZCOPY_MON, NR_REG_ALL_NIC, 0, 64), 0);
    EXPECT_EQ(z.rx()->num_slots, 64u);
    constexpr uint32_t kN = 3000;
    size_t got = 0;
    for (uint32_t first = 0; first < kN; first += 100) {
        ASSERT_EQ(send(a, frames(1, first, 100), 0, 100), 0);
        got += recv_n(b, 100).size();
    }
    EXPECT_EQ(got, kN);
    const auto st = monitor_stats("vale6:a");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, 63u);
    EXPECT_EQ(st[0].rx_drops, kN - 63u);
    EXPECT_EQ(drain(z), frames(1, 37, 63));
    ASSERT_EQ(send(a, frames(1, kN, 5)), 0);
    EXPECT_EQ(recv_n(b, 5).size(), 5u);
    EXPECT_EQ(drain(z), frames(1, kN, 5));
    EXPECT_TRUE(BuffersAccountedFor(a.reg.nr_mem_id, a.reg.nr_memsize,
                                    cat(cat(bufs_of(a.tx()), bufs_of(a.rx())), zmon_held("vale6:a/zrt#0"))));
}

// What a zero-copy monitor writes into its ring decides nothing: buffer
// indices it puts in its slots (bad ones, or buffers of the port it
// watches), with or without NS_BUF_CHANGED, never reach the port.
TEST_F(Monitor, ZcopyMonitorCannotHandOutBuffers) {
    Port a, b, z;
    ASSERT_EQ(a.open("vale7:a"), 0);
    ASSERT_EQ(b.open("vale7:b"), 0);
    ASSERT_EQ(open_monitor(z, "vale7:a", NR_ZCOPY_MON), 0);
    ASSERT_EQ(send(a, frames(1, 0, 20)), 0);
    EXPECT_EQ(recv_n(b, 20).size(), 20u);
    ASSERT_EQ(z.rxsync(), 0);
    netmap_ring* zr = z.rx();
    ASSERT_EQ(nmtest::ring_space(zr), 20u);
    for (uint32_t j = 0; j < zr->num_slots; j++) {  // held and free slots alike
        netmap_slot& s = zr->slot[j];
        s.buf_idx = j % 3 == 0 ? 0 : j % 3 == 1 ? 0xfffffff0u : a.tx()->slot[(j * 7) % a.tx()->num_slots].buf_idx;
        s.flags |= NS_BUF_CHANGED;
    }
    EXPECT_EQ(release(z), 0);
    // The port's next reclaimed slots get the monitor's true buffers.
    const auto more = frames(1, 20, 300);
    ASSERT_EQ(send(a, more), 0);
    EXPECT_EQ(recv_n(b, more.size()), more);
    EXPECT_EQ(drain(z), more);
    EXPECT_TRUE(BuffersAccountedFor(a.reg.nr_mem_id, a.reg.nr_memsize,
                                    cat(cat(bufs_of(a.tx()), bufs_of(a.rx())), zmon_held("vale7:a/zrt#0"))));
    z.close();
    EXPECT_TRUE(BuffersAccountedFor(a.reg.nr_mem_id, a.reg.nr_memsize, cat(bufs_of(a.tx()), bufs_of(a.rx()))));
}

// A zero-copy monitor in another process takes packets and holds them;
// killed, it frees what it held, the chain closes over it, and the port
// and the next monitor go on.
NMTEST_ROLE(zmon_holder) {
    Port z;
    if (open_monitor(z, args[0].c_str(), NR_ZCOPY_MON)) return 2;
    nmtest::chan_send(std::stoi(args[1]), 1);
    const uint32_t want = nmtest::arg_u32(args, 2);
    const double end = nmtest::now_s() + 15;
    std::vector<Rec> got;
    while (got.size() < want && nmtest::now_s() < end) {
        z.poll(POLLIN, 100);
        got = peek(z);  // never released
    }
    if (got.size() != want) return 4;
    for (uint32_t i = 0; i < want; i++)
        if (got[i] != frame(1, i, len_of(i))) return 5;
    nmtest::chan_send(std::stoi(args[1]), 2);
    ::pause();  // until killed, holding them
    return 6;
}

TEST_F(Monitor, ZcopyMonitorKilledWhileHoldingPackets) {
    Port a, b, z2;
    ASSERT_EQ(a.open("vale8:a"), 0);
    ASSERT_EQ(b.open("vale8:b"), 0);
    nmtest::Chan ready;
    const pid_t child = nmtest::spawn_role("zmon_holder", {"vale8:a", ready.ws(), "50"});
    uint32_t v = 0;
    ASSERT_TRUE(ready.recv(v));
    ASSERT_EQ(v, 1u);
    ASSERT_EQ(open_monitor(z2, "vale8:a", NR_ZCOPY_MON), 0);  // second in the chain
    ASSERT_EQ(send(a, frames(1, 0, 50)), 0);
    EXPECT_EQ(recv_n(b, 50).size(), 50u);
    ASSERT_TRUE(ready.recv(v));
    EXPECT_EQ(v, 2u);
    EXPECT_TRUE(peek(z2).empty());  // the first holds them
    EXPECT_EQ(monitor_stats("vale8:a").size(), 2u);
    nmtest::kill_child(child);
    Port other;
    ASSERT_EQ(other.open("vale8:c"), 0);  // collects the dead binding
    const auto st = monitor_stats("vale8:a");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_STREQ(st[0].name, "vale8:a/zrt#1");
    EXPECT_TRUE(BuffersAccountedFor(a.reg.nr_mem_id, a.reg.nr_memsize,
                                    cat(cat(bufs_of(a.tx()), bufs_of(a.rx())), zmon_held("vale8:a/zrt#1"))));
    // What it held is lost; new traffic reaches the next monitor directly.
    ASSERT_EQ(send(a, frames(1, 50, 30)), 0);
    EXPECT_EQ(recv_n(b, 30).size(), 30u);
    EXPECT_TRUE(peek(z2) == frames(1, 50, 30));
}

TEST_F(Monitor, ZcopyErrors) {
    Port master, m;
    ASSERT_EQ(master.open("e{7"), 0);
    EXPECT_EQ(open_monitor(m, "e{8", NR_ZCOPY_MON), ENXIO);
    EXPECT_FALSE(port_exists("e{8"));
    EXPECT_EQ(open_monitor(m, "e}7", NR_ZCOPY_MON), EINVAL);  // not bound by anyone
    // It uses the port's memory: another region is refused.
    EXPECT_EQ(m.open("e{7", [](nmreq_register& r) {
        r.nr_flags = NR_ZCOPY_MON;
        r.nr_mem_id = 5;
    }), EINVAL);
    // A ring the port does not have.
    EXPECT_EQ(open_monitor(m, "e{7", NR_ZCOPY_MON, NR_REG_ONE_NIC, 1), EINVAL);
    EXPECT_TRUE(monitor_stats("e{7").empty());
    EXPECT_TRUE(BuffersAccountedFor(master.reg.nr_mem_id, master.reg.nr_memsize,
                                    cat(bufs_of(master.tx()), bufs_of(master.rx()))));

    Port z;
    ASSERT_EQ(open_monitor(z, "e{7", NR_ZCOPY_MON | NR_MONITOR_RX), 0);  // /zr is /z
    EXPECT_EQ(monitor_stats("e{7")[0].name, std::string("e{7/zrt#0"));
    // Monitors of monitors: refused, zero-copy or not.
    Port mm;
    EXPECT_EQ(open_monitor(mm, "e{7/zrt#0", NR_ZCOPY_MON), EINVAL);
    EXPECT_EQ(open_monitor(mm, "e{7/zrt#0", NR_MONITOR_RX), EINVAL);
    // Nothing can be sent through it (its TX ring has no buffers at all).
    netmap_ring* tx = z.tx();
    EXPECT_EQ(tx->slot[0].buf_idx, 0u);
    tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
    EXPECT_EQ(z.txsync(), EINVAL);
    // Eight monitors per port, zero-copy ones included.
    std::vector<Port> more(7);
    for (auto& p : more) ASSERT_EQ(open_monitor(p, "e{7", NR_ZCOPY_MON), 0);
    EXPECT_EQ(open_monitor(m, "e{7", NR_ZCOPY_MON), ENOMEM);
    EXPECT_EQ(open_monitor(m, "e{7", NR_MONITOR_TX), ENOMEM);
    more.clear();
    z.close();
    EXPECT_TRUE(BuffersAccountedFor(master.reg.nr_mem_id, master.reg.nr_memsize,
                                    cat(bufs_of(master.tx()), bufs_of(master.rx()))));
}

// ---------------------------------------------------------------------------
// A process killed in the middle of a zero-copy exchange
// ---------------------------------------------------------------------------
//
// UNETMAP_CRASH_AT=zmon_exchange:K (src/core/crash_point.h) kills the child
// at its K-th exchange, after the monitor's shadow took the packet and
// before the source slot got the monitor's free buffer: the packet's
// buffer is named twice, the free one nowhere, and the batch unpublished.

namespace {

constexpr uint32_t kKilledAt = 30;

pid_t spawn_killed_at_exchange(const std::string& role, const std::vector<std::string>& args) {
    const std::string spec = "zmon_exchange:" + std::to_string(kKilledAt);
    ::setenv("UNETMAP_CRASH_AT", spec.c_str(), 1);  // read when the child's library loads
    const pid_t child = nmtest::spawn_role(role, args);
    ::unsetenv("UNETMAP_CRASH_AT");
    return child;
}

// True once `child` has died of SIGKILL (waits up to 10 s; kills it otherwise).
bool died_of_sigkill(pid_t child) {
    const double end = nmtest::now_s() + 10;
    int st = 0;
    while (::waitpid(child, &st, WNOHANG) == 0) {
        if (nmtest::now_s() > end) {
            nmtest::kill_child(child);
            return false;
        }
        ::usleep(1000);
    }
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

}  // namespace

// Binds the master end too and sends, then says so; its next txsyncs
// reclaim what the parent's slave end released, feeding the parent's
// zero-copy monitor.
NMTEST_ROLE(zmon_fed_by_killed_sender) {
    Port master;
    if (master.open(args[0].c_str())) return 2;
    if (send(master, frames(1, 0, nmtest::arg_u32(args, 1)), 0, 1024)) return 3;
    nmtest::chan_send(std::stoi(args[2]), 1);
    const double end = nmtest::now_s() + 10;
    while (nmtest::now_s() < end) {  // until the crash point kills it
        if (master.txsync()) return 4;
        ::usleep(1000);
    }
    return 5;
}

// The pipe case: the source slot is a pipe's TX slot, whose peer RX slot
// names the same buffer.  Completed by the next feeder that takes the
// monitor ring's lease (here: the parent's own txsync on the same ring).
TEST_F(Monitor, ZcopyExchangeOfAKilledSenderIsCompleted) {
    Port master, slave, z;
    ASSERT_EQ(master.open("zk{1"), 0);
    ASSERT_EQ(slave.open("zk}1"), 0);
    ASSERT_EQ(open_monitor(z, "zk{1", NR_ZCOPY_MON), 0);
    nmtest::Chan sent;
    const pid_t child = spawn_killed_at_exchange("zmon_fed_by_killed_sender", {"zk{1", "64", sent.ws()});
    // All 64 sent before any is released (one txsync): none is reclaimed
    // while the child is still sending.
    uint32_t v = 0;
    ASSERT_TRUE(sent.recv(v, 20000));
    EXPECT_EQ(recv_n(slave, 64), frames(1, 0, 64));  // released: the child's next txsync reclaims them
    ASSERT_TRUE(died_of_sigkill(child));

    // The first kKilledAt exchanges reach the monitor, the last one
    // completed for the dead sender, once a feeder takes the lease.
    ASSERT_EQ(send(master, frames(1, 100, 10)), 0);
    EXPECT_EQ(recv_n(slave, 10), frames(1, 100, 10));
    ASSERT_EQ(master.txsync(), 0);
    auto want = frames(1, 0, kKilledAt);
    const auto more = frames(1, 100, 10);
    want.insert(want.end(), more.begin(), more.end());
    EXPECT_EQ(peek(z), want);
    const auto st = monitor_stats("zk{1");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, kKilledAt + 10);
    for (uint32_t j = 0; j < master.tx()->num_slots; j++)
        ASSERT_EQ(master.tx()->slot[j].buf_idx, slave.rx()->slot[j].buf_idx) << "slot " << j;
    EXPECT_TRUE(BuffersAccountedFor(master.reg.nr_mem_id, master.reg.nr_memsize,
                                    cat(cat(bufs_of(master.tx()), bufs_of(master.rx())), zmon_held("zk{1/zrt#0"))));
    z.close();
    EXPECT_TRUE(BuffersAccountedFor(master.reg.nr_mem_id, master.reg.nr_memsize,
                                    cat(bufs_of(master.tx()), bufs_of(master.rx()))));
}

// The first monitor of a chain, in a process killed while its rxsync
// passes what it released on to the second.
NMTEST_ROLE(zmon_killed_passing_on) {
    Port z1;
    if (open_monitor(z1, args[0].c_str(), NR_ZCOPY_MON)) return 2;
    nmtest::chan_send(std::stoi(args[1]), 1);
    const uint32_t want = nmtest::arg_u32(args, 2);
    const double end = nmtest::now_s() + 10;
    while (peek(z1).size() < want && nmtest::now_s() < end) z1.poll(POLLIN, 100);
    if (release(z1)) return 3;  // killed in here
    return 4;
}

// The chained case: the source is the previous monitor's shadow.  Here
// the next control operation (its garbage collection) completes the
// exchange, before it frees the dead monitor and what its shadow names.
TEST_F(Monitor, ZcopyExchangeOfAKilledMonitorIsCompletedBeforeItIsFreed) {
    Port a, b, z2;
    ASSERT_EQ(a.open("vale12:a"), 0);
    ASSERT_EQ(b.open("vale12:b"), 0);
    nmtest::Chan ready;
    const pid_t child = spawn_killed_at_exchange("zmon_killed_passing_on", {"vale12:a", ready.ws(), "50"});
    uint32_t v = 0;
    ASSERT_TRUE(ready.recv(v));
    ASSERT_EQ(open_monitor(z2, "vale12:a", NR_ZCOPY_MON), 0);  // second in the chain
    ASSERT_EQ(send(a, frames(1, 0, 50)), 0);
    EXPECT_EQ(recv_n(b, 50).size(), 50u);
    ASSERT_TRUE(died_of_sigkill(child));
    EXPECT_EQ(monitor_stats("vale12:a").size(), 2u);  // not collected yet
    Port other;
    ASSERT_EQ(other.open("vale12:c"), 0);  // collects: completes the exchange, then frees z1
    const auto st = monitor_stats("vale12:a");
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].rx_packets, kKilledAt);
    EXPECT_EQ(peek(z2), frames(1, 0, kKilledAt));
    EXPECT_TRUE(BuffersAccountedFor(a.reg.nr_mem_id, a.reg.nr_memsize,
                                    cat(cat(bufs_of(a.tx()), bufs_of(a.rx())), zmon_held("vale12:a/zrt#1"))));
    // The chain goes on from z2.
    ASSERT_EQ(release(z2), 0);
    ASSERT_EQ(send(a, frames(1, 50, 20)), 0);
    EXPECT_EQ(recv_n(b, 20).size(), 20u);
    EXPECT_EQ(peek(z2), frames(1, 50, 20));
}
