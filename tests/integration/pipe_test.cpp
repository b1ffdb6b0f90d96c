// Netmap pipes between processes, through the plain netmap API: ends
// opened in either order, NS_MOREFRAG chains, zero-copy buffer swaps
// (NS_BUF_CHANGED) on both sides, and poll() wakeups across processes for a
// receiver waiting for data and a sender waiting for room.
//
// Other processes are this binary re-executed in a role (test_support.h):
// they share nothing with the test but inherited descriptors.  Every wait
// is bounded in time.
#include <poll.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <net/netmap.h>

#include "core/region.h"
#define UNETMAP_TEST_HAVE_REGION_META 1
#include "test_support.h"

using nmtest::Port;
using nmtest::StateDirEmpty;

namespace {

constexpr int kPollMs = 5000;

class Pipe : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(StateDirEmpty()); }
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

uint32_t frame_len(uint32_t seq) { return 60 + (seq * 13) % 1455; }

// Wait until `p` can transmit (bounded); false on timeout or error.
bool wait_tx(const Port& p) {
    const int r = p.poll(POLLOUT, kPollMs);
    return r > 0 && (r & POLLOUT) && !(r & POLLERR);
}
bool wait_rx(const Port& p) {
    const int r = p.poll(POLLIN, kPollMs);
    return r > 0 && (r & POLLIN) && !(r & POLLERR);
}

// Send `count` frames (seq from `first`) with poll(); 0 or an error code.
int send_frames(Port& p, uint32_t first, uint32_t count) {
    netmap_ring* tx = p.tx(0);
    for (uint32_t seq = first; seq < first + count;) {
        if (nmtest::ring_space(tx) == 0 && !wait_tx(p)) return 1;
        while (seq < first + count && nmtest::ring_space(tx) > 0) {
            nmtest::put_frame(tx, frame_len(seq), seq);
            seq++;
        }
        if (p.txsync()) return 2;
    }
    return 0;
}

// Receive and check `count` frames (seq from `first`); 0 or an error code.
int recv_frames(Port& p, uint32_t first, uint32_t count) {
    netmap_ring* rx = p.rx(0);
    for (uint32_t seq = first; seq < first + count;) {
        if (rx->cur == rx->tail && !wait_rx(p)) return 10;
        while (seq < first + count && rx->cur != rx->tail) {
            const netmap_slot& s = rx->slot[rx->cur];
            if (!nmtest::frame_ok(rx, s, frame_len(seq), seq)) {
                std::fprintf(stderr, "frame %u bad (len %u)\n", seq, s.len);
                return 11;
            }
            seq++;
            rx->head = rx->cur = nmtest::ring_next(rx, rx->cur);
        }
    }
    return p.rxsync() ? 12 : 0;
}

// Wait until everything this port transmitted was released by the peer.
bool wait_drained(Port& p, int timeout_ms = kPollMs) {
    netmap_ring* tx = p.tx(0);
    const double end = nmtest::now_s() + timeout_ms / 1000.0;
    while (nmtest::now_s() < end) {
        if (p.txsync()) return false;
        if (nmtest::ring_space(tx) == tx->num_slots - 1) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

void sleep_ms(uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

// ---------------------------------------------------------------------------
// Roles (other processes)
// ---------------------------------------------------------------------------

// args: name ready_fd count slots.  Opens `name`, reports, receives `count`
// frames, echoes them back (seq + 1000000), waits for them to be consumed.
NMTEST_ROLE(pipe_echo) {
    Port p;
    const uint32_t count = nmtest::arg_u32(args, 2), slots = nmtest::arg_u32(args, 3);
    if (p.open(args[0].c_str(), [&](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = slots; })) return 2;
    nmtest::chan_send(std::stoi(args[1]), 1);
    for (uint32_t done = 0; done < count;) {
        const uint32_t batch = std::min<uint32_t>(count - done, 100);
        if (int e = recv_frames(p, done, batch)) return 10 + e;
        if (int e = send_frames(p, 1000000 + done, batch)) return 30 + e;
        done += batch;
    }
    if (!wait_drained(p)) return 40;
    p.close();
    return 0;
}

// args: name ready_fd npackets.  Sends packets of 1..5 fragments chained
// with NS_MOREFRAG, then waits until all were consumed.
uint32_t nfrags(uint32_t pkt) { return 1 + pkt % 5; }
uint32_t frag_len(uint32_t pkt, uint32_t j) { return 50 + (pkt * 7 + j * 13) % 200; }
uint32_t frag_seed(uint32_t pkt, uint32_t j) { return pkt * 8 + j; }

NMTEST_ROLE(frag_sender) {
    Port p;
    if (p.open(args[0].c_str(), [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 64; })) return 2;
    nmtest::chan_send(std::stoi(args[1]), 1);
    const uint32_t npkts = nmtest::arg_u32(args, 2);
    netmap_ring* tx = p.tx(0);
    for (uint32_t pkt = 0; pkt < npkts; pkt++) {
        for (uint32_t j = 0; j < nfrags(pkt); j++) {
            if (nmtest::ring_space(tx) == 0) {
                if (p.txsync()) return 3;
                if (nmtest::ring_space(tx) == 0 && !wait_tx(p)) return 4;
            }
            const bool last = j + 1 == nfrags(pkt);
            nmtest::put_frame(tx, frag_len(pkt, j), frag_seed(pkt, j), last ? 0 : NS_MOREFRAG);
        }
        if (pkt % 3 == 0 && p.txsync()) return 5;  // sometimes mid-stream, sometimes not
    }
    if (p.txsync()) return 6;
    if (!wait_drained(p)) return 7;
    p.close();
    return 0;
}

// args: name go_fd delay_ms count.  Opens `name`, waits for "go", sleeps,
// sends `count` frames, waits for a second "go" (the receiver is done).
NMTEST_ROLE(delayed_sender) {
    Port p;
    if (p.open(args[0].c_str())) return 2;
    const int go = std::stoi(args[1]);
    uint32_t v;
    if (!nmtest::chan_recv(go, v)) return 3;
    sleep_ms(nmtest::arg_u32(args, 2));
    if (int e = send_frames(p, 0, nmtest::arg_u32(args, 3))) return 10 + e;
    if (!nmtest::chan_recv(go, v)) return 4;
    p.close();
    return 0;
}

// args: name go_fd delay_ms count.  Opens `name`, waits for "go", sleeps,
// receives and releases `count` frames, waits for a second "go".
NMTEST_ROLE(delayed_drainer) {
    Port p;
    if (p.open(args[0].c_str(), [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 64; })) return 2;
    const int go = std::stoi(args[1]);
    uint32_t v;
    if (!nmtest::chan_recv(go, v)) return 3;
    sleep_ms(nmtest::arg_u32(args, 2));
    if (int e = recv_frames(p, 0, nmtest::arg_u32(args, 3))) return 10 + e;
    if (!nmtest::chan_recv(go, v)) return 4;
    p.close();
    return 0;
}

// ---------------------------------------------------------------------------
// Ends opened in either order, in different processes
// ---------------------------------------------------------------------------

class PipeOrder : public Pipe, public ::testing::WithParamInterface<bool> {};

TEST_P(PipeOrder, EchoAcrossProcesses) {
    const bool master_first = GetParam();
    const uint32_t kCount = 3000;
    Port m;
    nmtest::Chan ready;
    pid_t pid;
    auto open_master = [&] {
        return m.open("po{7", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 256; });
    };
    if (master_first) {
        ASSERT_EQ(open_master(), 0);
        pid = nmtest::spawn_role("pipe_echo", {"po}7", ready.ws(), std::to_string(kCount), "256"});
        uint32_t v;
        ASSERT_TRUE(ready.recv(v));
    } else {
        pid = nmtest::spawn_role("pipe_echo", {"po}7", ready.ws(), std::to_string(kCount), "256"});
        uint32_t v;
        ASSERT_TRUE(ready.recv(v));  // the slave end exists: the master is opened second
        ASSERT_EQ(open_master(), 0);
    }
    EXPECT_EQ(m.reg.nr_tx_slots, 256u);
    // Send in batches the echo can keep up with, check what comes back.
    for (uint32_t done = 0; done < kCount;) {
        const uint32_t batch = std::min<uint32_t>(kCount - done, 100);
        ASSERT_EQ(send_frames(m, done, batch), 0);
        ASSERT_EQ(recv_frames(m, 1000000 + done, batch), 0) << "at " << done;
        done += batch;
    }
    EXPECT_EQ(nmtest::wait_child(pid), 0);
    m.close();
}

INSTANTIATE_TEST_SUITE_P(Order, PipeOrder, ::testing::Values(true, false),
                         [](const auto& info) { return std::string(info.param ? "MasterFirst" : "SlaveFirst"); });

// ---------------------------------------------------------------------------
// NS_MOREFRAG
// ---------------------------------------------------------------------------

TEST_F(Pipe, MorefragChainsCrossIntact) {
    const uint32_t kPackets = 500;
    Port s;
    ASSERT_EQ(s.open("mf}1", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 64; }), 0);
    nmtest::Chan ready;
    const pid_t pid = nmtest::spawn_role("frag_sender", {"mf{1", ready.ws(), std::to_string(kPackets)});
    uint32_t v;
    ASSERT_TRUE(ready.recv(v));
    netmap_ring* rx = s.rx(0);
    uint32_t pkt = 0, frag = 0;
    while (pkt < kPackets) {
        if (rx->cur == rx->tail) {
            ASSERT_TRUE(wait_rx(s)) << "packet " << pkt;
        }
        while (pkt < kPackets && rx->cur != rx->tail) {
            const netmap_slot& sl = rx->slot[rx->cur];
            const bool last = frag + 1 == nfrags(pkt);
            ASSERT_EQ((sl.flags & NS_MOREFRAG) != 0, !last) << "packet " << pkt << " fragment " << frag;
            ASSERT_TRUE(nmtest::frame_ok(rx, sl, frag_len(pkt, frag), frag_seed(pkt, frag)))
                << "packet " << pkt << " fragment " << frag;
            rx->head = rx->cur = nmtest::ring_next(rx, rx->cur);
            if (last) {
                pkt++;
                frag = 0;
            } else {
                frag++;
            }
        }
        ASSERT_EQ(s.rxsync(), 0);
    }
    EXPECT_EQ(nmtest::wait_child(pid), 0);
}

// ---------------------------------------------------------------------------
// Zero-copy buffer swaps
// ---------------------------------------------------------------------------

namespace {

uint32_t pop_extra(Port& p) {
    const uint32_t b = p.nifp->ni_bufs_head;
    if (b) std::memcpy(&p.nifp->ni_bufs_head, Port::buf(p.tx(0), b), sizeof(uint32_t));
    return b;
}

void push_extra(Port& p, uint32_t b) {
    std::memcpy(Port::buf(p.tx(0), b), &p.nifp->ni_bufs_head, sizeof(uint32_t));
    p.nifp->ni_bufs_head = b;
}

void fill(char* b, uint32_t len, uint32_t seed) {
    for (uint32_t i = 0; i < len; i++) b[i] = static_cast<char>(seed * 31 + i);
}

}  // namespace

TEST_F(Pipe, ZeroCopySwapOnTx) {
    Port keeper;
    ASSERT_EQ(keeper.open("null:keep", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 8; }), 0);
    const int64_t f0 = nmtest::region_free_counts(1, keeper.reg.nr_memsize).bufs();
    ASSERT_GT(f0, 0);
    {
        Port m, s;
        ASSERT_EQ(m.open("zt{1",
                         [](nmreq_register& r) {
                             r.nr_tx_slots = r.nr_rx_slots = 16;
                             r.nr_extra_bufs = 4;
                         }),
                  0);
        ASSERT_EQ(s.open("zt}1"), 0);
        ASSERT_EQ(m.reg.nr_extra_bufs, 4u);
        netmap_ring* tx = m.tx(0);
        netmap_ring* rx = s.rx(0);
        std::vector<uint32_t> swapped;
        for (uint32_t i = 0; i < 3; i++) {
            netmap_slot& sl = tx->slot[tx->cur];
            const uint32_t mine = sl.buf_idx;
            const uint32_t e = pop_extra(m);
            ASSERT_GE(e, 2u);
            fill(Port::buf(tx, e), 100 + i, 40 + i);
            sl.buf_idx = e;
            sl.len = static_cast<uint16_t>(100 + i);
            sl.flags = NS_BUF_CHANGED;
            push_extra(m, mine);  // the displaced buffer is ours now
            swapped.push_back(e);
            tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
        }
        ASSERT_EQ(m.txsync(), 0);
        for (uint32_t i = 0; i < 3; i++)
            EXPECT_EQ(tx->slot[i].flags & NS_BUF_CHANGED, 0) << "the flag is consumed by txsync";
        ASSERT_EQ(s.rxsync(), 0);
        ASSERT_EQ(rx->tail, 3u);
        for (uint32_t i = 0; i < 3; i++) {
            EXPECT_EQ(rx->slot[i].buf_idx, swapped[i]) << "the receiver sees the swapped-in buffer";
            EXPECT_TRUE(nmtest::frame_ok(rx, rx->slot[i], 100 + i, 40 + i));
        }
        rx->head = rx->cur = 3;
        ASSERT_EQ(s.rxsync(), 0);
        ASSERT_EQ(m.txsync(), 0);
        EXPECT_EQ(tx->tail, 2u);
        EXPECT_EQ(nmtest::region_free_counts(1, keeper.reg.nr_memsize).bufs(), f0 - 16 * 2 - 4);
    }
    EXPECT_EQ(nmtest::region_free_counts(1, keeper.reg.nr_memsize).bufs(), f0)
        << "ring, extra and swapped buffers all went back to the pool";
}

TEST_F(Pipe, ZeroCopySwapOnRxReturnsTheBufferToTheSender) {
    Port keeper;
    ASSERT_EQ(keeper.open("null:keep", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 8; }), 0);
    const int64_t f0 = nmtest::region_free_counts(1, keeper.reg.nr_memsize).bufs();
    {
        Port m, s;
        ASSERT_EQ(m.open("zr{1", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 8; }), 0);
        ASSERT_EQ(s.open("zr}1", [](nmreq_register& r) { r.nr_extra_bufs = 2; }), 0);
        ASSERT_EQ(s.reg.nr_extra_bufs, 2u);
        netmap_ring* tx = m.tx(0);
        netmap_ring* rx = s.rx(0);
        const uint32_t n = tx->num_slots;
        for (uint32_t i = 0; i < n - 1; i++) nmtest::put_frame(tx, 60 + i, i);
        ASSERT_EQ(m.txsync(), 0);
        ASSERT_EQ(s.rxsync(), 0);
        ASSERT_EQ(rx->tail, n - 1);
        // The receiver keeps slot 0's buffer and gives a spare in exchange.
        const uint32_t kept = rx->slot[0].buf_idx;
        EXPECT_TRUE(nmtest::frame_ok(rx, rx->slot[0], 60, 0));
        const uint32_t spare = pop_extra(s);
        ASSERT_GE(spare, 2u);
        rx->slot[0].buf_idx = spare;
        rx->slot[0].flags |= NS_BUF_CHANGED;
        push_extra(s, kept);
        EXPECT_TRUE(nmtest::frame_ok(rx, rx->slot[1], 61, 1));
        rx->head = rx->cur = rx->tail;  // release everything
        ASSERT_EQ(s.rxsync(), 0);
        EXPECT_EQ(rx->slot[0].flags & NS_BUF_CHANGED, 0) << "the flag is consumed by rxsync";
        ASSERT_EQ(m.txsync(), 0);
        ASSERT_EQ(tx->tail, n - 2);
        // Slot 0 is the sender's again after the wrap, with the spare buffer.
        EXPECT_EQ(tx->slot[0].buf_idx, spare) << "the sender's slot got the receiver's buffer";
        // Send through it: the receiver sees the spare again, content intact.
        nmtest::put_frame(tx, 70, 100);  // slot n-1
        nmtest::put_frame(tx, 71, 101);  // slot 0
        ASSERT_EQ(m.txsync(), 0);
        ASSERT_EQ(s.rxsync(), 0);
        ASSERT_EQ(rx->tail, 1u);
        EXPECT_EQ(rx->slot[0].buf_idx, spare);
        EXPECT_TRUE(nmtest::frame_ok(rx, rx->slot[0], 71, 101));
        EXPECT_TRUE(nmtest::frame_ok(rx, rx->slot[n - 1], 70, 100));
        // The buffer the receiver kept was not reused by anyone (its first
        // 4 bytes now link it into the receiver's ni_bufs_head list).
        const char* kb = Port::buf(rx, kept);
        for (uint32_t i = 4; i < 60; i++) ASSERT_EQ(kb[i], static_cast<char>(0 * 31 + i)) << i;
    }
    EXPECT_EQ(nmtest::region_free_counts(1, keeper.reg.nr_memsize).bufs(), f0)
        << "no buffer lost or freed twice by the swap";
}

// ---------------------------------------------------------------------------
// poll() wakeups across processes
// ---------------------------------------------------------------------------

TEST_F(Pipe, ReceiverBlockedInPollWakesWhenThePeerTransmits) {
    constexpr uint32_t kDelayMs = 300;
    Port s;
    ASSERT_EQ(s.open("wk}1"), 0);
    nmtest::Chan go;
    const pid_t pid = nmtest::spawn_role("delayed_sender", {"wk{1", go.rs(), std::to_string(kDelayMs), "5"});
    ASSERT_GT(pid, 0);
    EXPECT_EQ(s.poll(POLLIN, 0), 0) << "nothing to read yet";
    const double t0 = nmtest::now_s();  // before "go": the peer waits kDelayMs after it
    go.send(1);
    const int rev = s.poll(POLLIN, 10000);
    const double waited = nmtest::now_s() - t0;
    EXPECT_EQ(rev, POLLIN);
    EXPECT_GE(waited, kDelayMs / 1000.0 * 0.95) << "poll returned before anything was sent";
    EXPECT_LT(waited, kDelayMs / 1000.0 + 3.0) << "woken by the timeout, not by the sender";
    EXPECT_EQ(recv_frames(s, 0, 5), 0);
    go.send(2);
    EXPECT_EQ(nmtest::wait_child(pid), 0);
}

TEST_F(Pipe, SenderBlockedOnAFullRingWakesWhenTheReceiverReleases) {
    constexpr uint32_t kDelayMs = 300;
    Port m;
    ASSERT_EQ(m.open("wf{1", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 64; }), 0);
    nmtest::Chan go;
    const pid_t pid = nmtest::spawn_role("delayed_drainer", {"wf}1", go.rs(), std::to_string(kDelayMs), "63"});
    ASSERT_GT(pid, 0);
    netmap_ring* tx = m.tx(0);
    ASSERT_EQ(send_frames(m, 0, 63), 0);  // fills the ring: 63 of 64 slots
    ASSERT_EQ(m.txsync(), 0);
    EXPECT_EQ(nmtest::ring_space(tx), 0u);
    EXPECT_EQ(m.poll(POLLOUT, 0), 0) << "no room";
    const double t0 = nmtest::now_s();
    go.send(1);
    const int rev = m.poll(POLLOUT, 10000);
    const double waited = nmtest::now_s() - t0;
    EXPECT_EQ(rev, POLLOUT);
    EXPECT_GE(waited, kDelayMs / 1000.0 * 0.95) << "poll returned before anything was released";
    EXPECT_LT(waited, kDelayMs / 1000.0 + 3.0) << "woken by the timeout, not by the receiver";
    EXPECT_GT(nmtest::ring_space(tx), 0u);
    go.send(2);
    EXPECT_EQ(nmtest::wait_child(pid), 0);
}

TEST_F(Pipe, PollWithOtherDescriptorsAndTimeout) {
    // A netmap descriptor and a plain pipe in one poll(): the plain one
    // becomes readable first; then a timeout with nothing ready.
    Port s;
    ASSERT_EQ(s.open("mx}1"), 0);
    nmtest::Chan plain;
    plain.send(7);
    pollfd fds[2] = {{s.fd, POLLIN, 0}, {plain.r, POLLIN, 0}};
    ASSERT_EQ(nmtest::netmap_poll(fds, 2, 2000), 1);
    EXPECT_EQ(fds[0].revents, 0);
    EXPECT_EQ(fds[1].revents, POLLIN);
    uint32_t v;
    ASSERT_TRUE(plain.recv(v));
    const double t0 = nmtest::now_s();
    EXPECT_EQ(nmtest::netmap_poll(fds, 2, 200), 0);
    const double waited = nmtest::now_s() - t0;
    EXPECT_GE(waited, 0.15);
    EXPECT_LT(waited, 2.0);
}

TEST_F(Pipe, StreamAcrossProcesses) {
    // A longer run in both directions, with small rings to force many
    // sleeps and wakeups on both sides.
    const uint32_t kCount = 20000;
    Port m;
    ASSERT_EQ(m.open("st{3", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 32; }), 0);
    nmtest::Chan ready;
    const pid_t pid = nmtest::spawn_role("pipe_echo", {"st}3", ready.ws(), std::to_string(kCount), "32"});
    uint32_t v;
    ASSERT_TRUE(ready.recv(v));
    const double t0 = nmtest::now_s();
    for (uint32_t done = 0; done < kCount;) {
        const uint32_t batch = std::min<uint32_t>(kCount - done, 100);
        ASSERT_EQ(send_frames(m, done, batch), 0) << "at " << done;
        ASSERT_EQ(recv_frames(m, 1000000 + done, batch), 0) << "at " << done;
        done += batch;
        ASSERT_LT(nmtest::now_s() - t0, 60.0) << "too slow: stuck?";
    }
    EXPECT_EQ(nmtest::wait_child(pid), 0);
}
