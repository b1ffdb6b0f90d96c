// A misbehaving client cannot hurt anyone else (issue 9).
//
// Three ports on one VALE switch, each driven by its own thread: g1 sends
// numbered frames to g2, g2 receives them (and sends some frames to h),
// and h, the hostile client, spends the whole transfer writing garbage
// into its rings and calling every sync and wait path on them: head or cur
// beyond tail or out of range, buffer indices out of range or taken from
// its own RX ring, lengths 0 and 65535, NS_MOREFRAG chains that never end,
// RX slots scribbled while the switch owns them, released slots with bad
// swapped-in buffers; TX and RX ioctls, poll, select and epoll_wait.
//
// What is checked:
//  - g2 receives g1's frames intact and in order, and every frame g1 sent
//    is either received or counted in g2's drops (nothing h sends can
//    reach g2: all of it is addressed to h's own MAC);
//  - g1's syncs never fail;
//  - each request of h that netmap refuses gets EINVAL from the ioctl and
//    leaves h's ring reset (head == cur, tail in range); the others are
//    accepted or refused, never a crash (a VALE RX slot, for one, keeps a
//    bad buffer it is released with: the switch skips it);
//  - once everyone has closed, nothing is left in the state directory.
// Under ASan/UBSan any report fails it.  It is not in the TSan preset: h
// writes, on purpose, into slots and buffers the switch is using at that
// moment (the RX slots it owns, an RX buffer sent from TX), and TSan
// rightly reports those races, which are h's.
//
// Ports on one switch have regions of their own (VALE's default), so h
// can name only its own buffers.  Ports that share a region trust each
// other, as in netmap: a port can read and write any buffer of its region.
#include <sys/epoll.h>
#include <sys/select.h>

#include <array>
#include <atomic>
#include <random>

#include <unetmap/stats.h>

#include "test_support.h"

namespace {

using nmtest::Port;

using Mac = std::array<uint8_t, 6>;
// g2's frames to h come from kChat, an address nobody sends to: h may send
// back anything it received without taking over g2's address.
constexpr Mac kG1{0x02, 0, 0, 0, 0x71, 0x01}, kG2{0x02, 0, 0, 0, 0x71, 0x02}, kH{0x02, 0, 0, 0, 0x71, 0x0b},
    kChat{0x02, 0, 0, 0, 0x71, 0x0c};
constexpr uint32_t kFrames = 30000;
constexpr double kBoundS = 30;  // on every loop below

uint32_t len_of(uint32_t seq) { return 64 + (seq * 53) % 1400; }

// Ethernet header, the sequence number, then bytes derived from it.
void write_frame(char* b, const Mac& dst, const Mac& src, uint32_t seq, uint32_t len) {
    std::memcpy(b, dst.data(), 6);
    std::memcpy(b + 6, src.data(), 6);
    b[12] = 0x88, b[13] = static_cast<char>(0xb5);  // local experimental ethertype
    std::memcpy(b + 14, &seq, 4);
    for (uint32_t i = 18; i < len; i++) b[i] = static_cast<char>(seq * 13 + i);
}

bool frame_intact(const char* b, uint32_t len, uint32_t seq) {
    if (len != len_of(seq) || std::memcmp(b, kG2.data(), 6) != 0) return false;
    for (uint32_t i = 18; i < len; i++)
        if (b[i] != static_cast<char>(seq * 13 + i)) return false;
    return true;
}

// Queue one frame on `tx` if there is room; false if the ring is full.
bool put(netmap_ring* tx, const Mac& dst, const Mac& src, uint32_t seq) {
    if (nmtest::ring_space(tx) == 0) return false;
    netmap_slot& s = tx->slot[tx->cur];
    write_frame(Port::buf(tx, s.buf_idx), dst, src, seq, len_of(seq));
    s.len = static_cast<uint16_t>(len_of(seq));
    s.flags = 0;
    tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
    return true;
}

struct SenderResult {
    uint32_t sent = 0, sync_errors = 0;
};

// Paced by what g2 has received (at most 5 ms of waiting per batch, so a
// frame the switch dropped stalls nothing): the good pair mostly delivers,
// and g2's ring is nearly always being filled while h does its worst.
void good_sender(Port& g1, const std::atomic<uint32_t>& received, SenderResult& out) {
    netmap_ring* tx = g1.tx();
    const double end = nmtest::now_s() + kBoundS;
    while (out.sent < kFrames && nmtest::now_s() < end) {
        const double wait_end = nmtest::now_s() + 0.005;
        while (out.sent > received.load(std::memory_order_relaxed) + 768 && nmtest::now_s() < wait_end)
            std::this_thread::yield();
        uint32_t queued = 0;
        while (out.sent < kFrames && queued < 64 && put(tx, kG2, kG1, out.sent)) out.sent++, queued++;
        if (g1.txsync()) out.sync_errors++;
        if (nmtest::ring_space(tx) == 0) g1.poll(POLLOUT, 10);
    }
    // Until the switch has taken everything (VALE: at once, in txsync).
    for (int i = 0; i < 100 && nmtest::ring_space(tx) != tx->num_slots - 1; i++)
        if (g1.txsync()) out.sync_errors++;
}

struct ReceiverResult {
    uint32_t got = 0, bad = 0, out_of_order = 0, sync_errors = 0;
    std::string first_bad;
};

void good_receiver(Port& g2, const std::atomic<bool>& sender_done, std::atomic<uint32_t>& received,
                   ReceiverResult& out) {
    netmap_ring* rx = g2.rx();
    netmap_ring* tx = g2.tx();
    int64_t last = -1;
    uint32_t chatter = 0;
    double idle_since = nmtest::now_s();
    const double end = nmtest::now_s() + kBoundS;
    while (nmtest::now_s() < end) {
        nmtest::netmap_poll(std::array<pollfd, 1>{pollfd{g2.fd, POLLIN, 0}}.data(), 1, 20);
        if (g2.rxsync()) out.sync_errors++;
        bool any = false;
        for (; rx->cur != rx->tail; rx->head = rx->cur = nmtest::ring_next(rx, rx->cur)) {
            any = true;
            const netmap_slot& s = rx->slot[rx->cur];
            const char* b = Port::buf(rx, s.buf_idx);
            uint32_t seq = 0;
            if (s.len >= 18) std::memcpy(&seq, b + 14, 4);
            if (s.len < 18 || std::memcmp(b + 6, kG1.data(), 6) != 0 || !frame_intact(b, s.len, seq)) {
                if (out.bad++ == 0) out.first_bad = "slot " + std::to_string(rx->cur) + " len " + std::to_string(s.len);
                continue;
            }
            if (static_cast<int64_t>(seq) <= last) out.out_of_order++;
            last = seq;
            out.got++;
            received.store(out.got, std::memory_order_relaxed);
            // Now and then something for h to receive.
            if (out.got % 64 == 0 && put(tx, kH, kChat, chatter)) chatter++;
        }
        if (g2.rxsync()) out.sync_errors++;  // release
        if (g2.txsync()) out.sync_errors++;
        if (any) idle_since = nmtest::now_s();
        if (sender_done.load() && nmtest::now_s() - idle_since > 0.3) break;
    }
}

// ---------------------------------------------------------------------------
// The hostile client
// ---------------------------------------------------------------------------

struct HostileResult {
    uint64_t actions = 0, refused_as_expected = 0;
    std::vector<std::string> problems;  // refusals that did not come, rings not reset
};

class Hostile {
public:
    explicit Hostile(Port& h) : h_(h), tx_(h.tx()), rx_(h.rx()), rng_(20261125) {
        // h's frames are addressed to h itself: the switch never sends a
        // frame back where it came from, so whatever h sends reaches nobody
        // (and its source address is its own: it takes over no other's).
        for (uint32_t j = 0; j < tx_->num_slots; j++) {
            tx_bufs_.push_back(tx_->slot[j].buf_idx);
            write_frame(Port::buf(tx_, tx_->slot[j].buf_idx), kH, kH, j, 64);
        }
        for (uint32_t j = 0; j < rx_->num_slots; j++) {  // some are sent back from TX
            rx_bufs_.push_back(rx_->slot[j].buf_idx);
            write_frame(Port::buf(rx_, rx_->slot[j].buf_idx), kH, kH, j, 64);
        }
        ep_ = ::epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.fd = h.fd;
        ::epoll_ctl(ep_, EPOLL_CTL_ADD, h.fd, &ev);
    }
    ~Hostile() { ::close(ep_); }

    void run(const std::atomic<bool>& stop, HostileResult& out) {
        const double end = nmtest::now_s() + kBoundS;
        for (uint32_t i = 0; !stop.load() && nmtest::now_s() < end; i++) {
            act(i % kActions, out);
            out.actions++;
        }
    }

private:
    static constexpr uint32_t kActions = 13;

    uint32_t n() const { return tx_->num_slots; }
    uint32_t rand_below(uint32_t k) { return static_cast<uint32_t>(rng_() % k); }

    // Give h's rings back the buffers they were created with (a reset
    // points bad slots at buffer 0, which h could not send from again).
    void restore() {
        for (uint32_t j = 0; j < tx_->num_slots; j++) tx_->slot[j].buf_idx = tx_bufs_[j], tx_->slot[j].flags = 0;
        for (uint32_t j = 0; j < rx_->num_slots; j++) rx_->slot[j].buf_idx = rx_bufs_[j], rx_->slot[j].flags = 0;
    }

    // A sync netmap must refuse: EINVAL, and the ring reset.
    void expect_refused(int err, netmap_ring* r, const char* what, HostileResult& out) {
        if (err != EINVAL) {
            out.problems.push_back(std::string(what) + ": got " + std::to_string(err) + ", not EINVAL");
        } else if (r->head != r->cur || r->head >= r->num_slots || r->tail >= r->num_slots) {
            out.problems.push_back(std::string(what) + ": ring not reset (head " + std::to_string(r->head) + " cur " +
                                   std::to_string(r->cur) + " tail " + std::to_string(r->tail) + ")");
        } else {
            out.refused_as_expected++;
        }
        restore();
    }

    // One of the wait or sync paths, on whatever state the rings are in.
    void any_path() {
        switch (rand_below(5)) {
        case 0: (void)h_.txsync(); break;
        case 1: (void)h_.rxsync(); break;
        case 2: {
            pollfd p{h_.fd, POLLIN | POLLOUT, 0};
            (void)nmtest::netmap_poll(&p, 1, 0);
            break;
        }
        case 3: {
            fd_set r, w;
            FD_ZERO(&r);
            FD_ZERO(&w);
            FD_SET(h_.fd, &r);
            FD_SET(h_.fd, &w);
            timeval tv{0, 0};
            (void)::select(h_.fd + 1, &r, &w, nullptr, &tv);
            break;
        }
        default: {
            epoll_event ev[2];
            (void)::epoll_wait(ep_, ev, 2, 0);
        }
        }
    }

    void act(uint32_t a, HostileResult& out) {
        const uint32_t N = n();
        switch (a) {
        // On a VALE TX ring every in-range head and cur is legal (the switch
        // takes everything at once: the user owns all but one slot).
        case 0:  // TX head out of range
            tx_->head = tx_->cur = N + rand_below(1000);
            expect_refused(h_.txsync(), tx_, "TX head beyond the ring", out);
            break;
        case 1:  // TX cur out of range, head where it was
            tx_->cur = N;
            expect_refused(h_.txsync(), tx_, "TX cur beyond the ring", out);
            break;
        case 2:
            tx_->head = 0xffffffffu;
            expect_refused(h_.txsync(), tx_, "TX head 0xffffffff", out);
            break;
        case 3: {  // a buffer index beyond the region, handed over
            (void)h_.txsync();
            if (nmtest::ring_space(tx_) == 0) return;
            netmap_slot& s = tx_->slot[tx_->cur];
            s.buf_idx = 0xfffffff0u - rand_below(1000);
            s.len = 60;
            tx_->head = tx_->cur = nmtest::ring_next(tx_, tx_->cur);
            expect_refused(h_.txsync(), tx_, "TX bad buffer index", out);
            break;
        }
        case 4: {  // length beyond the buffer
            (void)h_.txsync();
            if (nmtest::ring_space(tx_) == 0) return;
            netmap_slot& s = tx_->slot[tx_->cur];
            s.len = 65535;
            tx_->head = tx_->cur = nmtest::ring_next(tx_, tx_->cur);
            expect_refused(h_.txsync(), tx_, "TX length 65535", out);
            break;
        }
        case 5: {  // a buffer of h's own RX ring sent from TX, length 0, a bad NS_INDIRECT pointer
            (void)h_.txsync();
            for (uint32_t k = 0; k < 9 && nmtest::ring_space(tx_) > 0; k++) {
                netmap_slot& s = tx_->slot[tx_->cur];
                s.buf_idx = tx_bufs_[tx_->cur];
                s.flags = 0;
                s.len = 64;
                if (k % 3 == 0) {
                    // Whatever it holds: the switch may be writing into it.
                    s.buf_idx = rx_->slot[rand_below(rx_->num_slots)].buf_idx;
                } else if (k % 3 == 1) {
                    s.len = 0;
                } else {
                    s.flags = NS_INDIRECT;
                    s.ptr = 0x10 + rand_below(4096);  // unmapped
                }
                tx_->head = tx_->cur = nmtest::ring_next(tx_, tx_->cur);
            }
            any_path();
            restore_after_sync();
            break;
        }
        case 6: {  // a chain that never ends, over every free slot, several times
            for (int round = 0; round < 3; round++) {
                (void)h_.txsync();
                while (nmtest::ring_space(tx_) > 0) {
                    netmap_slot& s = tx_->slot[tx_->cur];
                    s.len = 60;
                    s.flags = NS_MOREFRAG;
                    tx_->head = tx_->cur = nmtest::ring_next(tx_, tx_->cur);
                }
                any_path();
            }
            // The switch dropped the chain once it filled the ring, and
            // drops what follows up to its last fragment: end it.
            restore_after_sync();
            if (nmtest::ring_space(tx_) > 0) {
                netmap_slot& s = tx_->slot[tx_->cur];
                s.len = 60;
                s.flags = 0;
                tx_->head = tx_->cur = nmtest::ring_next(tx_, tx_->cur);
                (void)h_.txsync();
            }
            break;
        }
        case 7: {  // RX slots the switch owns, scribbled while it may be filling them
            (void)h_.rxsync();
            for (uint32_t j = rx_->tail; j != rx_->head; j = nmtest::ring_next(rx_, j)) {
                netmap_slot& s = rx_->slot[j];
                switch (rand_below(4)) {
                case 0: s.buf_idx = 0xfffffff0u; break;
                case 1: s.buf_idx = 0; break;
                case 2: s.len = 65535; break;
                default: s.flags = NS_BUF_CHANGED | NS_MOREFRAG;
                }
            }
            for (int k = 0; k < 4; k++) any_path();
            rx_->head = rx_->cur = rx_->tail;  // release what arrived
            (void)h_.rxsync();
            restore_after_sync();
            break;
        }
        case 8:  // RX head beyond tail
        case 11: {  // RX cur beyond tail, head where it was
            (void)h_.rxsync();
            if (nmtest::ring_space(rx_) == N - 1) break;  // full: tail + 1 is head, legal
            const uint32_t beyond = nmtest::ring_next(rx_, rx_->tail);
            if (a == 8) rx_->head = beyond;
            rx_->cur = beyond;
            expect_refused(h_.rxsync(), rx_, a == 8 ? "RX head beyond tail" : "RX cur beyond tail", out);
            break;
        }
        case 9: {  // released RX slots with bad swapped-in buffers
            // A VALE RX slot keeps whatever buffer it is released with, as
            // netmap's does; the switch checks the index before it copies
            // into the slot, and drops the frame if it is bad.
            (void)h_.rxsync();
            for (uint32_t k = 0; k < 4 && rx_->cur != rx_->tail; k++) {
                netmap_slot& s = rx_->slot[rx_->cur];
                s.buf_idx = k % 2 ? 0xffffff00u : 1;  // beyond the region; a reserved buffer
                s.flags |= NS_BUF_CHANGED;
                rx_->head = rx_->cur = nmtest::ring_next(rx_, rx_->cur);
            }
            for (int k = 0; k < 4; k++) any_path();
            restore_after_sync();
            break;
        }
        case 10:  // tail written by the application (netmap restores it)
            tx_->tail = rand_below(2) ? 0xffffffffu : (tx_->tail + N / 2) % N;
            rx_->tail = rand_below(N);
            any_path();
            restore_after_sync();
            break;
        default:  // 12: wait paths on whatever state is left, with a short sleep
            for (int k = 0; k < 3; k++) any_path();
            {
                pollfd p{h_.fd, POLLIN, 0};
                (void)nmtest::netmap_poll(&p, 1, 1);
            }
        }
    }

    // After an action the library may have accepted: sync once more, and
    // if the rings were reset, give them their buffers back.
    void restore_after_sync() {
        (void)h_.txsync();
        (void)h_.rxsync();
        restore();
        (void)h_.txsync();
    }

    Port& h_;
    netmap_ring* tx_;
    netmap_ring* rx_;
    std::mt19937 rng_;
    std::vector<uint32_t> tx_bufs_, rx_bufs_;
    int ep_ = -1;
};

}  // namespace

TEST(Hostile, GarbageInOnePortsRingsLeavesTheOthersTrafficIntact) {
    {
        Port g1, g2, h;
        ASSERT_EQ(g1.open("vale20:g1"), 0);
        ASSERT_EQ(g2.open("vale20:g2"), 0);
        ASSERT_EQ(h.open("vale20:h"), 0);
        ASSERT_NE(g1.reg.nr_mem_id, h.reg.nr_mem_id);  // regions of their own
        ASSERT_NE(g2.reg.nr_mem_id, h.reg.nr_mem_id);
        // The switch learns where everyone is: g1 and h each send a frame
        // to themselves (learnt, forwarded nowhere), then g2 one to g1, so
        // h never holds a frame from g2's address.
        ASSERT_TRUE(put(g1.tx(), kG1, kG1, 0));
        ASSERT_EQ(g1.txsync(), 0);
        ASSERT_TRUE(put(h.tx(), kH, kH, 0));
        ASSERT_EQ(h.txsync(), 0);
        ASSERT_TRUE(put(g2.tx(), kG1, kG2, 0));
        ASSERT_EQ(g2.txsync(), 0);
        for (Port* p : {&g1, &g2, &h}) {  // drop what the learning frames left
            ASSERT_EQ(p->rxsync(), 0);
            p->rx()->head = p->rx()->cur = p->rx()->tail;
            ASSERT_EQ(p->rxsync(), 0);
        }
        struct unetmap_port_stats st0 {};
        ASSERT_EQ(unetmap_port_stats("vale20:g2", &st0), 0);

        std::atomic<bool> sender_done{false}, receiver_done{false};
        std::atomic<uint32_t> received{0};
        SenderResult sent;
        ReceiverResult got;
        HostileResult hostile;
        std::thread rx_thread([&] {
            good_receiver(g2, sender_done, received, got);
            receiver_done = true;
        });
        Hostile bad(h);  // before the traffic: it writes into h's RX buffers
        std::thread h_thread([&] { bad.run(receiver_done, hostile); });
        good_sender(g1, received, sent);
        sender_done = true;
        rx_thread.join();
        h_thread.join();

        struct unetmap_port_stats st {};
        ASSERT_EQ(unetmap_port_stats("vale20:g2", &st), 0);
        const uint64_t drops = st.rx_drops - st0.rx_drops;
        std::printf("g1 sent %u; g2 received %u, dropped %llu; h: %llu actions, %llu refused as netmap does\n",
                    sent.sent, got.got, static_cast<unsigned long long>(drops),
                    static_cast<unsigned long long>(hostile.actions),
                    static_cast<unsigned long long>(hostile.refused_as_expected));
        EXPECT_EQ(sent.sent, kFrames);
        EXPECT_EQ(sent.sync_errors, 0u);
        EXPECT_EQ(got.sync_errors, 0u);
        EXPECT_EQ(got.bad, 0u) << got.first_bad;
        EXPECT_EQ(got.out_of_order, 0u);
        EXPECT_EQ(got.got + drops, uint64_t{kFrames}) << got.got << " received, " << drops << " dropped";
        EXPECT_GT(got.got, 0u);
        // h kept at it the whole time, and every request netmap refuses
        // was refused, with the ring reset.
        EXPECT_GT(hostile.actions, 100u);
        EXPECT_GT(hostile.refused_as_expected, 50u);
        for (const auto& p : hostile.problems) ADD_FAILURE() << p;

        // And the switch still works for h once it behaves.
        ASSERT_EQ(h.txsync(), 0);
        ASSERT_EQ(h.rxsync(), 0);
    }
    EXPECT_TRUE(nmtest::state_entries().empty());
}
