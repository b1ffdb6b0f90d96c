// Copy monitors ("PORT/r", "/t", "/rt") on VALE ports and pipe ends,
// through the plain netmap API: what a monitor sees (which direction,
// which rings, byte for byte, in order, fragment chains whole), several
// monitors at once, a monitor that never reads (it drops, the port it
// watches does not slow down), errors, and cleanup when a monitor or the
// watched port goes away, a monitor's process dying included.
#include <poll.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <net/netmap.h>
#include <unetmap/stats.h>

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
    // Zero-copy monitors are not implemented.
    EXPECT_EQ(open_monitor(m, "z{7", NR_ZCOPY_MON), EOPNOTSUPP);
    EXPECT_EQ(open_monitor(m, "z{7", NR_ZCOPY_MON | NR_MONITOR_RX), EOPNOTSUPP);
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
